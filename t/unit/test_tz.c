/* test_tz.c - unit tests of the TZif reader (src/tz.c): UTC without files,
 * Europe/Amsterdam from the system, and small TZif files we write here to
 * cover version 1, slim version 2 files and the POSIX footer rule. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "tap.h"
#include "tz.h"

/* Instants used below, in seconds since the epoch (UTC). */
#define UTC_2024_03_31_0100 1711846800LL    /* CET -> CEST */
#define UTC_2024_10_27_0100 1729990800LL    /* CEST -> CET */
#define UTC_2024_01_15_1200 1705320000LL
#define UTC_2024_07_15_1200 1721044800LL
#define UTC_2050_03_27_0100 2531955600LL    /* CET -> CEST, past 2037 */
#define UTC_2050_10_30_0100 2550704400LL    /* CEST -> CET */

static void put32(unsigned char *p, long value)
{
    unsigned long v = (unsigned long)value;

    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put64(unsigned char *p, long long value)
{
    put32(p, (long)(value >> 32));
    put32(p + 4, (long)(value & 0xFFFFFFFFLL));
}

static apr_size_t put_header(unsigned char *p, char version, long times,
                             long types, long chars)
{
    memset(p, 0, 44);
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)version;
    put32(p + 32, times);
    put32(p + 36, types);
    put32(p + 40, chars);
    return 44;
}

static const char *write_zone(apr_pool_t *pool, const char *dir,
                              const char *name, const unsigned char *data,
                              apr_size_t size)
{
    const char *path = apr_pstrcat(pool, dir, "/", name, NULL);
    FILE *file = fopen(path, "wb");

    if (!file) {
        return NULL;
    }
    fwrite(data, 1, size, file);
    fclose(file);
    return path;
}

/* A slim version 2 file: no transitions at all, only one type and the
 * footer rule, as zic -b slim writes for zones with simple rules. */
static apr_size_t make_slim(unsigned char *buffer, const char *footer)
{
    apr_size_t at = 0;

    at += put_header(buffer + at, '2', 0, 1, 1);
    memset(buffer + at, 0, 7);                  /* minimal v1 type + char */
    at += 7;
    at += put_header(buffer + at, '2', 0, 1, 4);
    put32(buffer + at, 3600);
    buffer[at + 4] = 0;
    buffer[at + 5] = 0;
    at += 6;
    memcpy(buffer + at, "CET", 4);
    at += 4;
    buffer[at++] = '\n';
    memcpy(buffer + at, footer, strlen(footer));
    at += strlen(footer);
    buffer[at++] = '\n';
    return at;
}

/* A version 1 file with the two 2024 changes of Central Europe. */
static apr_size_t make_v1(unsigned char *buffer)
{
    apr_size_t at = put_header(buffer, '\0', 2, 2, 10);

    put32(buffer + at, (long)UTC_2024_03_31_0100);
    put32(buffer + at + 4, (long)UTC_2024_10_27_0100);
    at += 8;
    buffer[at++] = 1;
    buffer[at++] = 0;
    put32(buffer + at, 3600);
    buffer[at + 4] = 0;
    buffer[at + 5] = 0;
    at += 6;
    put32(buffer + at, 7200);
    buffer[at + 4] = 1;
    buffer[at + 5] = 4;
    at += 6;
    memcpy(buffer + at, "CET\0CEST\0", 10);
    return at + 10;
}

/* A version 2 file with one transition in 64-bit form. */
static apr_size_t make_v2_one_transition(unsigned char *buffer)
{
    apr_size_t at = put_header(buffer, '2', 0, 1, 1);

    memset(buffer + at, 0, 7);
    at += 7;
    at += put_header(buffer + at, '2', 1, 2, 8);
    put64(buffer + at, UTC_2024_01_15_1200);
    at += 8;
    buffer[at++] = 1;
    put32(buffer + at, 0);
    buffer[at + 4] = 0;
    buffer[at + 5] = 0;
    put32(buffer + at + 6, 5 * 3600);
    buffer[at + 10] = 0;
    buffer[at + 11] = 4;
    at += 12;
    memcpy(buffer + at, "UTC\0+05\0", 8);
    at += 8;
    buffer[at++] = '\n';
    memcpy(buffer + at, "<+05>-5\n", 8);
    return at + 8;
}

static void test_utc_needs_no_files(apr_pool_t *pool)
{
    const char *error = NULL;
    sz_tz_t *utc = sz_tz_load("UTC", "/nonexistent", pool, &error);

    if (!tap_ok(utc != NULL, "UTC loads without a zoneinfo directory")) {
        return;
    }
    tap_is(sz_tz_name(utc), "UTC", "UTC zone keeps its name");
    tap_is_int(sz_tz_offset_at(utc, UTC_2024_07_15_1200), 0,
               "UTC offset is zero in summer");
    tap_is_int(sz_tz_local_to_utc(utc, 1970, 1, 1, 0, 0, 0), 0,
               "UTC 1970-01-01 00:00 is the epoch");
    tap_is_int(sz_tz_local_to_utc(utc, 2024, 2, 29, 12, 0, 0), 1709208000,
               "UTC 2024-02-29 12:00 counts the leap day");
    tap_is_int(sz_tz_local_to_utc(utc, 1900, 3, 1, 0, 0, 0), -2203891200LL,
               "UTC before the epoch (1900 is no leap year)");
    tap_is_int(sz_tz_local_to_utc(NULL, 2024, 7, 15, 12, 0, 0),
               UTC_2024_07_15_1200, "a NULL zone reads times as UTC");
}

static void test_load_failures(apr_pool_t *pool, const char *dir)
{
    const char *error = NULL;
    unsigned char junk[64];

    tap_ok(sz_tz_load("No/Such_Zone", dir, pool, &error) == NULL
           && error != NULL, "missing zone file gives an error");
    error = NULL;
    tap_ok(sz_tz_load("../etc/passwd", dir, pool, &error) == NULL
           && error != NULL, "zone name with .. is refused");
    error = NULL;
    tap_ok(sz_tz_load("/etc/passwd", NULL, pool, &error) == NULL
           && error != NULL, "absolute zone name is refused");

    memset(junk, 'x', sizeof(junk));
    write_zone(pool, dir, "Junk", junk, sizeof(junk));
    error = NULL;
    tap_ok(sz_tz_load("Junk", dir, pool, &error) == NULL && error != NULL,
           "a file that is not TZif is refused");

    memcpy(junk, "TZif2", 5);
    memset(junk + 5, 0, sizeof(junk) - 5);
    junk[43] = 200;     /* 200 abbreviation bytes that are not there */
    write_zone(pool, dir, "Truncated", junk, sizeof(junk));
    error = NULL;
    tap_ok(sz_tz_load("Truncated", dir, pool, &error) == NULL
           && error != NULL, "a truncated TZif file is refused");
}

/* The checks every Central European zone must pass, whether it comes
 * from transitions or from the footer rule. */
static void check_central_europe(const sz_tz_t *zone, const char *label)
{
    tap_is_int(sz_tz_offset_at(zone, UTC_2024_01_15_1200), 3600,
               "%s: winter offset is +1", label);
    tap_is_int(sz_tz_offset_at(zone, UTC_2024_07_15_1200), 7200,
               "%s: summer offset is +2", label);
    tap_is_int(sz_tz_offset_at(zone, UTC_2024_03_31_0100 - 1), 3600,
               "%s: one second before spring change still +1", label);
    tap_is_int(sz_tz_offset_at(zone, UTC_2024_03_31_0100), 7200,
               "%s: spring change at 01:00 UTC", label);
    tap_is_int(sz_tz_offset_at(zone, UTC_2024_10_27_0100 - 1), 7200,
               "%s: one second before autumn change still +2", label);
    tap_is_int(sz_tz_offset_at(zone, UTC_2024_10_27_0100), 3600,
               "%s: autumn change at 01:00 UTC", label);
    tap_is_int(sz_tz_local_to_utc(zone, 2024, 1, 15, 13, 0, 0),
               UTC_2024_01_15_1200, "%s: winter local 13:00 is 12:00 UTC",
               label);
    tap_is_int(sz_tz_local_to_utc(zone, 2024, 7, 15, 14, 0, 0),
               UTC_2024_07_15_1200, "%s: summer local 14:00 is 12:00 UTC",
               label);
    tap_is_int(sz_tz_local_to_utc(zone, 2024, 3, 31, 2, 30, 0),
               UTC_2024_03_31_0100 + 1800,
               "%s: 02:30 in the spring gap is read with +1", label);
    tap_is_int(sz_tz_local_to_utc(zone, 2024, 3, 31, 3, 0, 0),
               UTC_2024_03_31_0100,
               "%s: 03:00 right after the gap is read with +2", label);
    tap_is_int(sz_tz_local_to_utc(zone, 2024, 10, 27, 2, 30, 0),
               UTC_2024_10_27_0100 - 1800,
               "%s: ambiguous 02:30 in autumn is the earlier instant",
               label);
    tap_is_int(sz_tz_local_to_utc(zone, 2024, 10, 27, 3, 0, 0),
               UTC_2024_10_27_0100 + 3600,
               "%s: 03:00 after the overlap is read with +1", label);
}

static void check_far_future(const sz_tz_t *zone, const char *label)
{
    tap_is_int(sz_tz_offset_at(zone, UTC_2050_03_27_0100 - 1), 3600,
               "%s: 2050 before spring change +1", label);
    tap_is_int(sz_tz_offset_at(zone, UTC_2050_03_27_0100), 7200,
               "%s: 2050 spring change follows the rule", label);
    tap_is_int(sz_tz_offset_at(zone, UTC_2050_10_30_0100 - 1), 7200,
               "%s: 2050 before autumn change +2", label);
    tap_is_int(sz_tz_offset_at(zone, UTC_2050_10_30_0100), 3600,
               "%s: 2050 autumn change follows the rule", label);
}

static void test_system_amsterdam(apr_pool_t *pool)
{
    const char *error = NULL;
    sz_tz_t *zone;

    if (access("/usr/share/zoneinfo/Europe/Amsterdam", R_OK) != 0) {
        tap_ok(1, "# SKIP no system Europe/Amsterdam");
        return;
    }
    zone = sz_tz_load("Europe/Amsterdam", NULL, pool, &error);
    if (!tap_ok(zone != NULL, "system Europe/Amsterdam loads")) {
        tap_diag("error: %s", error ? error : "(none)");
        return;
    }
    tap_is(sz_tz_name(zone), "Europe/Amsterdam", "zone keeps its name");
    check_central_europe(zone, "system Amsterdam");
    check_far_future(zone, "system Amsterdam");
}

static void test_slim_footer(apr_pool_t *pool, const char *dir)
{
    unsigned char buffer[256];
    const char *error = NULL;
    sz_tz_t *zone;

    write_zone(pool, dir, "Slim", buffer,
               make_slim(buffer, "CET-1CEST,M3.5.0,M10.5.0/3"));
    zone = sz_tz_load("Slim", dir, pool, &error);
    if (!tap_ok(zone != NULL, "slim v2 file with only a footer loads")) {
        tap_diag("error: %s", error ? error : "(none)");
        return;
    }
    check_central_europe(zone, "slim footer");
    check_far_future(zone, "slim footer");

    /* Southern hemisphere: summer time spans the new year. */
    write_zone(pool, dir, "South", buffer,
               make_slim(buffer, "AEST-10AEDT,M10.1.0,M4.1.0/3"));
    zone = sz_tz_load("South", dir, pool, &error);
    if (tap_ok(zone != NULL, "southern slim file loads")) {
        tap_is_int(sz_tz_offset_at(zone, UTC_2024_01_15_1200), 11 * 3600,
                   "southern rule: January is summer time");
        tap_is_int(sz_tz_offset_at(zone, UTC_2024_07_15_1200), 10 * 3600,
                   "southern rule: July is standard time");
    }

    write_zone(pool, dir, "Julian", buffer,
               make_slim(buffer, "XST-1XDT,J60/0,J300/0"));
    zone = sz_tz_load("Julian", dir, pool, &error);
    if (tap_ok(zone != NULL, "Jn rule loads")) {
        /* J60 is March 1 even in a leap year: local 01:00 is +2. */
        tap_is_int(sz_tz_local_to_utc(zone, 2024, 3, 1, 1, 0, 0),
                   1709247600LL, "J60 starts summer time on March 1");
        tap_is_int(sz_tz_local_to_utc(zone, 2024, 2, 29, 12, 0, 0),
                   1709204400LL, "February 29 is still standard time");
    }

    write_zone(pool, dir, "BadRule", buffer,
               make_slim(buffer, "CET-1CEST,M13.5.0,M10.5.0/3"));
    error = NULL;
    tap_ok(sz_tz_load("BadRule", dir, pool, &error) == NULL
           && error != NULL, "footer with month 13 is refused");
}

static void test_version1(apr_pool_t *pool, const char *dir)
{
    unsigned char buffer[256];
    const char *error = NULL;
    sz_tz_t *zone;

    write_zone(pool, dir, "Version1", buffer, make_v1(buffer));
    zone = sz_tz_load("Version1", dir, pool, &error);
    if (!tap_ok(zone != NULL, "version 1 file loads")) {
        tap_diag("error: %s", error ? error : "(none)");
        return;
    }
    check_central_europe(zone, "version 1");
    tap_is_int(sz_tz_offset_at(zone, UTC_2050_03_27_0100 + 86400 * 90),
               3600, "version 1 without footer keeps the last type");
}

static void test_version2_transition_then_footer(apr_pool_t *pool,
                                                 const char *dir)
{
    unsigned char buffer[256];
    const char *error = NULL;
    sz_tz_t *zone;

    write_zone(pool, dir, "Version2", buffer,
               make_v2_one_transition(buffer));
    zone = sz_tz_load("Version2", dir, pool, &error);
    if (!tap_ok(zone != NULL, "version 2 file with a transition loads")) {
        tap_diag("error: %s", error ? error : "(none)");
        return;
    }
    tap_is_int(sz_tz_offset_at(zone, UTC_2024_01_15_1200 - 1), 0,
               "before the first transition type 0 applies");
    tap_is_int(sz_tz_offset_at(zone, UTC_2024_07_15_1200), 5 * 3600,
               "after the last transition the footer applies");
}

static void remove_zones(apr_pool_t *pool, const char *dir)
{
    static const char *const names[] = {
        "Junk", "Truncated", "Slim", "South", "Julian", "BadRule",
        "Version1", "Version2"
    };
    apr_size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        apr_file_remove(apr_pstrcat(pool, dir, "/", names[i], NULL), pool);
    }
    apr_dir_remove(dir, pool);
}

int main(void)
{
    apr_pool_t *pool = tap_start();
    const char *temp;
    const char *dir;

    apr_temp_dir_get(&temp, pool);
    dir = apr_psprintf(pool, "%s/test_tz.%ld", temp, (long)getpid());
    if (apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT, pool)
        != APR_SUCCESS) {
        tap_skip_all("cannot make a temporary directory");
    }

    test_utc_needs_no_files(pool);
    test_load_failures(pool, dir);
    test_system_amsterdam(pool);
    test_slim_footer(pool, dir);
    test_version1(pool, dir);
    test_version2_transition_then_footer(pool, dir);

    remove_zones(pool, dir);
    return tap_done();
}

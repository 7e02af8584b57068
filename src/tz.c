/* tz.c - local civil time to UTC for one zone, read from a TZif file
 * (RFC 8536, versions 1 to 3). Times after the last transition follow the
 * POSIX TZ rule in the file's footer, which slim files rely on entirely. */
#include "tz.h"

#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_MAX_FILE (1024 * 1024)
#define TZ_MAX_COUNT 100000
#define TZ_DAY 86400

typedef struct {
    long offset;    /* seconds east of UTC */
    int is_dst;
} tz_type_t;

/* One date of a POSIX TZ rule: Jn (1..365, February 29 never counted),
 * n (0..365, counted) or Mm.w.d, plus the local time of the change. */
typedef struct {
    char kind;      /* 'J', 'D' or 'M' */
    int day;
    int month;
    int week;
    int weekday;
    long time;      /* seconds after local midnight; may be < 0 or > 24 h */
} tz_rule_date_t;

typedef struct {
    int present;
    long std_offset;    /* seconds east of UTC */
    int has_dst;
    long dst_offset;
    tz_rule_date_t start;
    tz_rule_date_t end;
} tz_rule_t;

struct sz_tz {
    const char *name;
    int transition_count;
    apr_int64_t *transitions;
    unsigned char *transition_types;
    int type_count;
    tz_type_t *types;
    tz_rule_t rule;
};

/* Days since 1970-01-01 of a proleptic Gregorian date; exact for any
 * year, so no table or libc call is needed. */
static apr_int64_t days_from_civil(apr_int64_t year, int month, int day)
{
    apr_int64_t era;
    apr_int64_t year_of_era;
    apr_int64_t day_of_year;
    apr_int64_t day_of_era;

    year -= month <= 2;
    era = (year >= 0 ? year : year - 399) / 400;
    year_of_era = year - era * 400;
    day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100
                 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* The year of a day number (inverse of days_from_civil, year only). */
static apr_int64_t year_from_days(apr_int64_t days)
{
    apr_int64_t era;
    apr_int64_t day_of_era;
    apr_int64_t year_of_era;
    apr_int64_t day_of_year;
    apr_int64_t month_index;

    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    day_of_era = days - era * 146097;
    year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524
                   - day_of_era / 146096) / 365;
    day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4
                                - year_of_era / 100);
    month_index = (5 * day_of_year + 2) / 153;
    return year_of_era + era * 400 + (month_index >= 10);
}

static apr_int64_t floor_div(apr_int64_t a, apr_int64_t b)
{
    apr_int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_leap(apr_int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int month_length(apr_int64_t year, int month)
{
    static const int lengths[12] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};

    return month == 2 && is_leap(year) ? 29 : lengths[month - 1];
}

/* The day number on which a rule date falls in year. */
static apr_int64_t rule_day(const tz_rule_date_t *date, apr_int64_t year)
{
    apr_int64_t first;
    int weekday;
    int day;

    if (date->kind == 'J') {
        first = days_from_civil(year, 1, 1);
        return first + date->day - 1 + (is_leap(year) && date->day >= 60);
    }
    if (date->kind == 'D') {
        return days_from_civil(year, 1, 1) + date->day;
    }

    /* Mm.w.d: the w-th weekday d of month m, week 5 meaning the last. */
    first = days_from_civil(year, date->month, 1);
    weekday = (int)((first % 7 + 7 + 4) % 7);   /* 1970-01-01: Thursday */
    day = 1 + (date->weekday - weekday + 7) % 7 + 7 * (date->week - 1);
    while (day > month_length(year, date->month)) {
        day -= 7;
    }
    return first + day - 1;
}

static long rule_offset_at(const tz_rule_t *rule, apr_int64_t utc)
{
    apr_int64_t year;
    apr_int64_t start;
    apr_int64_t end;
    int dst;

    if (!rule->has_dst) {
        return rule->std_offset;
    }

    /* The start is given in standard time, the end in summer time. */
    year = year_from_days(floor_div(utc + rule->std_offset, TZ_DAY));
    start = rule_day(&rule->start, year) * TZ_DAY + rule->start.time
            - rule->std_offset;
    end = rule_day(&rule->end, year) * TZ_DAY + rule->end.time
          - rule->dst_offset;
    if (start < end) {
        dst = utc >= start && utc < end;
    }
    else {
        dst = !(utc >= end && utc < start);     /* southern hemisphere */
    }
    return dst ? rule->dst_offset : rule->std_offset;
}

/* Parses [+-]hh[:mm[:ss]] into seconds; hours up to 167 as TZif v3
 * allows for rule times. Returns the position after it, or NULL. */
static const char *parse_hms(const char *p, long *seconds)
{
    long sign = 1;
    long parts[3] = {0, 0, 0};
    int i;

    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    for (i = 0; i < 3; i++) {
        int digits = 0;

        if (i > 0) {
            if (*p != ':') {
                break;
            }
            p++;
        }
        while (*p >= '0' && *p <= '9' && digits < 3) {
            parts[i] = parts[i] * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0) {
            return NULL;
        }
    }
    if (parts[0] > 167 || parts[1] > 59 || parts[2] > 59) {
        return NULL;
    }
    *seconds = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return p;
}

static const char *parse_zone_name(const char *p)
{
    const char *begin = p;

    if (*p == '<') {
        while (*p && *p != '>') {
            p++;
        }
        return *p == '>' && p - begin >= 4 ? p + 1 : NULL;
    }
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
        p++;
    }
    return p - begin >= 3 ? p : NULL;
}

static const char *parse_number(const char *p, int *value)
{
    int digits = 0;

    *value = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) {
        *value = *value * 10 + (*p - '0');
        p++;
        digits++;
    }
    return digits ? p : NULL;
}

static const char *parse_rule_date(const char *p, tz_rule_date_t *date)
{
    date->time = 2 * 3600;
    if (*p == 'M') {
        date->kind = 'M';
        p = parse_number(p + 1, &date->month);
        if (!p || *p != '.' || date->month < 1 || date->month > 12) {
            return NULL;
        }
        p = parse_number(p + 1, &date->week);
        if (!p || *p != '.' || date->week < 1 || date->week > 5) {
            return NULL;
        }
        p = parse_number(p + 1, &date->weekday);
        if (!p || date->weekday > 6) {
            return NULL;
        }
    }
    else if (*p == 'J') {
        date->kind = 'J';
        p = parse_number(p + 1, &date->day);
        if (!p || date->day < 1 || date->day > 365) {
            return NULL;
        }
    }
    else {
        date->kind = 'D';
        p = parse_number(p, &date->day);
        if (!p || date->day > 365) {
            return NULL;
        }
    }
    if (*p == '/') {
        p = parse_hms(p + 1, &date->time);
    }
    return p;
}

/* Parses a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". POSIX
 * offsets count west of UTC; we store them east, as TZif types do. */
static int parse_posix_rule(const char *p, tz_rule_t *rule)
{
    long offset;

    memset(rule, 0, sizeof(*rule));
    p = parse_zone_name(p);
    if (!p || !(p = parse_hms(p, &offset))) {
        return -1;
    }
    rule->std_offset = -offset;
    rule->present = 1;
    if (*p == '\0') {
        return 0;
    }

    p = parse_zone_name(p);
    if (!p) {
        return -1;
    }
    rule->has_dst = 1;
    rule->dst_offset = rule->std_offset + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, &offset))) {
            return -1;
        }
        rule->dst_offset = -offset;
    }

    /* Without dates POSIX implies the United States rule. */
    if (*p == '\0') {
        p = "M3.2.0,M11.1.0";
    }
    else if (*p == ',') {
        p++;
    }
    else {
        return -1;
    }
    p = parse_rule_date(p, &rule->start);
    if (!p || *p != ',') {
        return -1;
    }
    p = parse_rule_date(p + 1, &rule->end);
    return p && *p == '\0' ? 0 : -1;
}

static apr_int64_t read_be(const unsigned char *p, int size)
{
    apr_uint64_t value = 0;
    int i;

    for (i = 0; i < size; i++) {
        value = value << 8 | p[i];
    }
    if (size == 4) {
        return (apr_int32_t)(apr_uint32_t)value;
    }
    return (apr_int64_t)value;
}

typedef struct {
    apr_size_t utc_indicators;
    apr_size_t std_indicators;
    apr_size_t leaps;
    apr_size_t transitions;
    apr_size_t types;
    apr_size_t chars;
} tz_counts_t;

static int read_header(const unsigned char *data, apr_size_t size,
                       apr_size_t at, tz_counts_t *counts)
{
    apr_size_t *fields[6];
    int i;

    fields[0] = &counts->utc_indicators;
    fields[1] = &counts->std_indicators;
    fields[2] = &counts->leaps;
    fields[3] = &counts->transitions;
    fields[4] = &counts->types;
    fields[5] = &counts->chars;
    if (size < 44 || at > size - 44 || memcmp(data + at, "TZif", 4) != 0) {
        return -1;
    }
    for (i = 0; i < 6; i++) {
        apr_int64_t value = read_be(data + at + 20 + 4 * i, 4);

        if (value < 0 || value > TZ_MAX_COUNT) {
            return -1;
        }
        *fields[i] = (apr_size_t)value;
    }
    return 0;
}

static apr_size_t block_size(const tz_counts_t *counts, int time_size)
{
    return counts->transitions * (time_size + 1) + counts->types * 6
           + counts->chars + counts->leaps * (time_size + 4)
           + counts->std_indicators + counts->utc_indicators;
}

static const char *parse_tzif(sz_tz_t *zone, const unsigned char *data,
                              apr_size_t size, apr_pool_t *pool)
{
    tz_counts_t counts;
    apr_size_t at = 0;
    int time_size = 4;
    const unsigned char *p;
    apr_size_t i;

    if (read_header(data, size, 0, &counts) != 0) {
        return "not a TZif file";
    }

    /* Version 2 and later repeat everything with 64-bit times; we read
     * only that second part, which also covers dates past 2038. */
    if (data[4] != '\0') {
        at = 44 + block_size(&counts, 4);
        if (read_header(data, size, at, &counts) != 0) {
            return "damaged TZif file (second header)";
        }
        time_size = 8;
    }
    if (counts.types == 0
        || block_size(&counts, time_size) > size - at - 44) {
        return "damaged TZif file (truncated)";
    }

    zone->transition_count = (int)counts.transitions;
    zone->type_count = (int)counts.types;
    zone->transitions = apr_pcalloc(pool, (counts.transitions + 1)
                                          * sizeof(apr_int64_t));
    zone->transition_types = apr_pcalloc(pool, counts.transitions + 1);
    zone->types = apr_pcalloc(pool, counts.types * sizeof(tz_type_t));
    p = data + at + 44;
    for (i = 0; i < counts.transitions; i++) {
        zone->transitions[i] = read_be(p, time_size);
        p += time_size;
    }
    for (i = 0; i < counts.transitions; i++) {
        if (*p >= counts.types) {
            return "damaged TZif file (type index)";
        }
        zone->transition_types[i] = *p++;
    }
    for (i = 0; i < counts.types; i++) {
        zone->types[i].offset = (long)read_be(p, 4);
        zone->types[i].is_dst = p[4] != 0;
        p += 6;
    }

    /* The footer: "\n" POSIX-TZ-string "\n", after the version 2 data. */
    if (time_size == 8) {
        const unsigned char *footer = data + at + 44
                                      + block_size(&counts, 8);
        const unsigned char *last = data + size;
        const unsigned char *newline;
        char *rule;

        if (footer >= last || *footer != '\n') {
            return "damaged TZif file (footer)";
        }
        newline = memchr(footer + 1, '\n', last - footer - 1);
        if (!newline) {
            return "damaged TZif file (footer)";
        }
        if (newline > footer + 1) {
            rule = apr_pstrmemdup(pool, (const char *)footer + 1,
                                  newline - footer - 1);
            if (parse_posix_rule(rule, &zone->rule) != 0) {
                return "unsupported TZ rule in TZif footer";
            }
        }
    }
    return NULL;
}

static const char *read_file(const char *path, apr_pool_t *pool,
                             unsigned char **data, apr_size_t *size)
{
    apr_file_t *file;
    apr_finfo_t info;
    apr_status_t rv;

    rv = apr_file_open(&file, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_FPROT_OS_DEFAULT, pool);
    if (rv != APR_SUCCESS) {
        return "cannot open zone file";
    }
    rv = apr_file_info_get(&info, APR_FINFO_SIZE, file);
    if (rv != APR_SUCCESS || info.size <= 0 || info.size > TZ_MAX_FILE) {
        apr_file_close(file);
        return "zone file has an unexpected size";
    }
    *size = (apr_size_t)info.size;
    *data = apr_palloc(pool, *size);
    rv = apr_file_read_full(file, *data, *size, NULL);
    apr_file_close(file);
    return rv == APR_SUCCESS ? NULL : "cannot read zone file";
}

sz_tz_t *sz_tz_load(const char *name, const char *dir, apr_pool_t *pool,
                    const char **error)
{
    sz_tz_t *zone;
    const char *path;
    unsigned char *data;
    apr_size_t size;
    const char *problem;

    if (!name || !*name) {
        *error = "no time zone name";
        return NULL;
    }
    zone = apr_pcalloc(pool, sizeof(*zone));
    zone->name = apr_pstrdup(pool, name);
    if (strcmp(name, "UTC") == 0) {
        zone->rule.present = 1;
        return zone;
    }

    /* A zone name is a relative path below the zoneinfo directory. */
    if (name[0] == '/' || strstr(name, "..") != NULL) {
        *error = "invalid time zone name";
        return NULL;
    }
    path = apr_pstrcat(pool, dir ? dir : TZ_DEFAULT_DIR, "/", name, NULL);
    problem = read_file(path, pool, &data, &size);
    if (!problem) {
        problem = parse_tzif(zone, data, size, pool);
    }
    if (problem) {
        *error = apr_pstrcat(pool, problem, ": ", path, NULL);
        return NULL;
    }
    return zone;
}

const char *sz_tz_name(const sz_tz_t *zone)
{
    return zone ? zone->name : "UTC";
}

long sz_tz_offset_at(const sz_tz_t *zone, apr_int64_t utc_seconds)
{
    int low;
    int high;

    /* A NULL zone is UTC, so callers need no zone for the default. */
    if (!zone) {
        return 0;
    }
    if (zone->transition_count == 0) {
        return zone->rule.present ? rule_offset_at(&zone->rule, utc_seconds)
                                  : zone->types[0].offset;
    }
    if (utc_seconds < zone->transitions[0]) {
        return zone->types[0].offset;
    }
    if (utc_seconds >= zone->transitions[zone->transition_count - 1]
        && zone->rule.present) {
        return rule_offset_at(&zone->rule, utc_seconds);
    }

    /* The last transition at or before the instant. */
    low = 0;
    high = zone->transition_count - 1;
    while (low < high) {
        int middle = low + (high - low + 1) / 2;

        if (zone->transitions[middle] <= utc_seconds) {
            low = middle;
        }
        else {
            high = middle - 1;
        }
    }
    return zone->types[zone->transition_types[low]].offset;
}

apr_int64_t sz_tz_local_to_utc(const sz_tz_t *zone, int year, int month,
                               int day, int hour, int minute, int second)
{
    apr_int64_t local;
    long candidates[3];
    long largest;
    apr_int64_t best = 0;
    int found = 0;
    int i;

    local = days_from_civil(year, month, day) * TZ_DAY + hour * 3600L
            + minute * 60L + second;

    /* Offsets in force within a day of the wall-clock time are the only
     * ones it can have been read with; keep those that round-trip. */
    candidates[0] = sz_tz_offset_at(zone, local - TZ_DAY);
    candidates[1] = sz_tz_offset_at(zone, local);
    candidates[2] = sz_tz_offset_at(zone, local + TZ_DAY);
    largest = candidates[0];
    for (i = 0; i < 3; i++) {
        apr_int64_t utc = local - candidates[i];

        if (candidates[i] > largest) {
            largest = candidates[i];
        }
        if (sz_tz_offset_at(zone, utc) == candidates[i]
            && (!found || utc < best)) {
            best = utc;
            found = 1;
        }
    }
    if (found) {
        return best;
    }

    /* In a gap: local - largest lies before the change, so the offset
     * there is the one from before the gap. */
    return local - sz_tz_offset_at(zone, local - largest);
}

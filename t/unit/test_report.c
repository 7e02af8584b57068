/* test_report.c - failures are collected, ordered by StUF table order,
 * and cut to the standard's limits in characters, not bytes. */
#include <string.h>

#include <apr_strings.h>

#include "report.h"
#include "tap.h"

static void test_utf8_length_counts_characters(void)
{
    tap_is_int(sz_utf8_length("abc"), 3, "ASCII counts one per byte");
    tap_is_int(sz_utf8_length("\xc3\xa9\xc3\xa9"), 2,
               "two-byte characters count once");
    tap_is_int(sz_utf8_length("\xe2\x82\xac"), 1, "euro sign is one");
    tap_is_int(sz_utf8_length("\xf0\x9f\x98\x80"), 1, "emoji is one");
    tap_is_int(sz_utf8_length("\xc3"), -1, "truncated sequence is invalid");
    tap_is_int(sz_utf8_length("\xc0\xaf"), -1, "overlong form is invalid");
    tap_is_int(sz_utf8_length("\xff"), -1, "0xFF is invalid");
}

static void test_prefix_cuts_at_character_boundary(apr_pool_t *pool)
{
    tap_is(sz_utf8_prefix("\xc3\xa9\xc3\xa9\xc3\xa9", 2, pool),
           "\xc3\xa9\xc3\xa9", "prefix keeps whole characters");
    tap_is(sz_utf8_prefix("ab", 5, pool), "ab", "short text unchanged");
}

static void test_leading_code_follows_table_order(apr_pool_t *pool)
{
    sz_report_t *report = sz_report_make(pool);

    tap_ok(sz_report_leading_code(report) == NULL, "empty report: no code");
    sz_report_add(report, "StUF058", "object.omschrijving", "ontbreekt");
    sz_report_add(report, "StUF055", NULL, "schema");
    tap_is(sz_report_leading_code(report), "StUF055",
           "StUF055 leads StUF058");
    sz_report_add(report, "StUF052", "object.identificatie", "gemeente");
    tap_is(sz_report_leading_code(report), "StUF052",
           "StUF052 leads StUF055");
    tap_is_int(sz_report_count(report), 3, "three failures kept");
    tap_ok(sz_report_has(report, "StUF058"), "has StUF058");
    tap_ok(!sz_report_has(report, "StUF013"), "has no StUF013");
}

static void test_details_list_every_failure_within_limit(apr_pool_t *pool)
{
    sz_report_t *report = sz_report_make(pool);
    const char *details;
    int i;

    sz_report_add(report, "StUF058", "object.omschrijving", "ontbreekt");
    sz_report_add(report, "StUF058", "object.startdatum", "geen datum");
    details = sz_report_details(report, 1000, pool);
    tap_ok(strstr(details, "object.omschrijving: ontbreekt") != NULL,
           "first failure listed");
    tap_ok(strstr(details, "object.startdatum: geen datum") != NULL,
           "second failure listed");

    for (i = 0; i < 200; i++) {
        sz_report_add(report, "StUF058", "object.toelichting",
                      "\xc3\xa9\xc3\xa9\xc3\xa9 te lang");
    }
    details = sz_report_details(report, 1000, pool);
    tap_is_int(sz_utf8_length(details), 1000,
               "long details cut to exactly 1000 characters");
    tap_ok(strcmp(details + strlen(details) - 3, "...") == 0,
           "cut details end in ...");
}

int main(void)
{
    apr_pool_t *pool = tap_start();

    test_utf8_length_counts_characters();
    test_prefix_cuts_at_character_boundary(pool);
    test_leading_code_follows_table_order(pool);
    test_details_list_every_failure_within_limit(pool);
    return tap_done();
}

/* test_lz.c - unit tests of the LZ domain (src/lz.c): the building
 * blocks, reading a zakLk01 tree, the LZ rules of DESIGN.md section 4 and
 * that no failure text carries a BSN or other payload. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <libxml/parser.h>

#include "lz.h"
#include "tap.h"

/* Fixed instants (seconds since the epoch, UTC). */
#define UTC_2024_07_15_1200 1721044800LL
#define UTC_2024_01_15_1200 1705320000LL
#define UTC_2024_03_31_0130 1711848600LL
#define UTC_2024_10_27_0030 1729989000LL

#define NS_DECLS \
    "xmlns:ZKN='http://www.egem.nl/StUF/sector/zkn/0310' " \
    "xmlns:StUF='http://www.egem.nl/StUF/StUF0301' " \
    "xmlns:BG='http://www.egem.nl/StUF/sector/bg/0310' " \
    "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'"

#define ALL_OPTIONAL_BITS \
    (LZ_FIELD_OMSCHRIJVING | LZ_FIELD_TOELICHTING | LZ_FIELD_STARTDATUM \
     | LZ_FIELD_EINDDATUM_GEPLAND | LZ_FIELD_STATUSTYPE \
     | LZ_FIELD_STATUS_TOELICHTING | LZ_FIELD_VERWIJZING)

static apr_time_t at_seconds(long long seconds)
{
    return apr_time_from_sec(seconds);
}

static const char *repeat(apr_pool_t *pool, const char *unit, int times)
{
    char *text = apr_palloc(pool, strlen(unit) * times + 1);
    int i;

    text[0] = '\0';
    for (i = 0; i < times; i++) {
        strcat(text, unit);
    }
    return text;
}

/* A kennisgeving that passes every rule at UTC_2024_07_15_1200. */
static lz_kennisgeving_t valid_kennisgeving(void)
{
    lz_kennisgeving_t k;

    memset(&k, 0, sizeof(k));
    k.mutatiesoort = "T";
    k.object_count = 1;
    k.verwerkingssoort = "T";
    k.identificatie = "0363Z2024000123";
    k.omschrijving = "Aanvraag parkeervergunning";
    k.toelichting = "Wordt beoordeeld";
    k.startdatum = "20240314";
    k.einddatum_gepland = "20240425";
    k.status_count = 1;
    k.datum_status_gezet = "202403151015";
    k.status_omschrijving = "In behandeling";
    k.status_toelichting = "Een medewerker kijkt ernaar";
    k.verwijzing = "https://www.example.nl/zaak/1";
    k.initiator_count = 1;
    k.bsn = "111111110";
    return k;
}

static lz_options_t options_in(const sz_tz_t *zone, unsigned optional)
{
    lz_options_t options;

    options.optional = optional;
    options.zone = zone;
    options.skew = apr_time_from_sec(300);
    return options;
}

/* True when the report holds a StUF058 for field whose text contains
 * fragment (NULL: any text). */
static int has_failure(const sz_report_t *report, const char *field,
                       const char *fragment)
{
    const sz_failure_t *failures = (const sz_failure_t *)
                                   report->failures->elts;
    int i;

    for (i = 0; i < report->failures->nelts; i++) {
        if (strcmp(failures[i].code, "StUF058") == 0
            && failures[i].field && strcmp(failures[i].field, field) == 0
            && (!fragment || strstr(failures[i].text, fragment))) {
            return 1;
        }
    }
    return 0;
}

static void show_failures(const sz_report_t *report)
{
    const sz_failure_t *failures = (const sz_failure_t *)
                                   report->failures->elts;
    int i;

    for (i = 0; i < report->failures->nelts; i++) {
        tap_diag("%s %s: %s", failures[i].code,
                 failures[i].field ? failures[i].field : "-",
                 failures[i].text);
    }
}

static int count_failures(const lz_kennisgeving_t *k,
                          const lz_options_t *options, apr_time_t now,
                          apr_pool_t *pool, sz_report_t **out)
{
    sz_report_t *report = sz_report_make(pool);
    int count = lz_check(k, options, now, report);

    if (out) {
        *out = report;
    }
    return count;
}

/* The zakLk01 element of a document that is either a bare zakLk01 or a
 * SOAP envelope around one. */
static const xmlNode *find_zaklk01(const xmlNode *node)
{
    for (; node; node = node->next) {
        const xmlNode *found;

        if (node->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (strcmp((const char *)node->name, "zakLk01") == 0 && node->ns
            && strcmp((const char *)node->ns->href, LZ_NS_ZKN) == 0) {
            return node;
        }
        found = find_zaklk01(node->children);
        if (found) {
            return found;
        }
    }
    return NULL;
}

static xmlDoc *parse_string(const char *xml)
{
    return xmlReadMemory(xml, (int)strlen(xml), "inline.xml", NULL,
                         XML_PARSE_NONET);
}

/* An inline zakLk01 with the given parameters and object content. */
static xmlDoc *parse_message(apr_pool_t *pool, const char *mutatiesoort,
                             const char *objects)
{
    const char *xml = apr_psprintf(pool,
        "<ZKN:zakLk01 " NS_DECLS ">"
        "<ZKN:parameters><StUF:mutatiesoort>%s</StUF:mutatiesoort>"
        "<StUF:indicatorOvername>V</StUF:indicatorOvername>"
        "</ZKN:parameters>%s</ZKN:zakLk01>", mutatiesoort, objects);

    return parse_string(xml);
}

static const char *object_xml(apr_pool_t *pool, const char *bsn,
                              const char *heeft_extra)
{
    return apr_psprintf(pool,
        "<ZKN:object StUF:entiteittype='ZAK' StUF:verwerkingssoort='T'>"
        "<ZKN:identificatie>1900ABC</ZKN:identificatie>"
        "<ZKN:omschrijving>Omgevingsvergunning</ZKN:omschrijving>"
        "<ZKN:toelichting>Regulier</ZKN:toelichting>"
        "<ZKN:startdatum>20240101</ZKN:startdatum>"
        "<ZKN:einddatumGepland>20240301</ZKN:einddatumGepland>"
        "<ZKN:heeftAlsInitiator StUF:entiteittype='ZAKBTRINI' "
        "StUF:verwerkingssoort='T'><ZKN:gerelateerde>"
        "<ZKN:natuurlijkPersoon StUF:entiteittype='NPS' "
        "StUF:verwerkingssoort='I'><BG:inp.bsn>%s</BG:inp.bsn>"
        "</ZKN:natuurlijkPersoon></ZKN:gerelateerde></ZKN:heeftAlsInitiator>"
        "<ZKN:heeft StUF:entiteittype='ZAKSTT' StUF:verwerkingssoort='T'>"
        "<ZKN:gerelateerde StUF:entiteittype='STT' "
        "StUF:verwerkingssoort='I'>"
        "<ZKN:omschrijving>Ontvangen</ZKN:omschrijving></ZKN:gerelateerde>"
        "<ZKN:toelichting>Wij hebben uw aanvraag</ZKN:toelichting>"
        "<ZKN:datumStatusGezet>20240102093000</ZKN:datumStatusGezet>"
        "%s</ZKN:heeft></ZKN:object>", bsn, heeft_extra);
}

static void test_bsn_11_proef(void)
{
    static const char *const valid[] = {
        "111111110", "123456782", "999999047", "012345672", "900198424"
    };
    static const char *const invalid[] = {
        "111111111", "123456789", "000000000", "12345678", "1234567820",
        "12345678a", "abcdefghi", "", " 11111111"
    };
    size_t i;

    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        tap_ok(lz_bsn_valid(valid[i]), "BSN %s passes the 11-proef",
               valid[i]);
    }
    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        tap_ok(!lz_bsn_valid(invalid[i]), "BSN '%s' is refused",
               invalid[i]);
    }
    tap_ok(!lz_bsn_valid(NULL), "absent BSN is not valid");
}

static void test_calendar_dates(void)
{
    static const char *const valid[] = {
        "20240229", "20000229", "20241231", "20240101", "19991130"
    };
    static const char *const invalid[] = {
        "20230229", "19000229", "20241399", "+2024031", "2024031",
        "202403141", "20240431", "20240001", "20240100", "00000101",
        "2024-3-1", " 2024031", ""
    };
    size_t i;

    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        tap_ok(lz_date_valid(valid[i]), "date %s is a real date", valid[i]);
    }
    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        tap_ok(!lz_date_valid(invalid[i]), "date '%s' is refused",
               invalid[i]);
    }
}

static void test_timestamps(void)
{
    static const char *const valid[] = {
        "202403151015", "2024031510153", "20240315101530",
        "202403151015301", "2024031510153012", "20240315101530123",
        "202402292359", "20241231235959999"
    };
    static const char *const invalid[] = {
        "20240315", "202403151", "2024031510", "20240315101",
        "202403151015301234", "202403152400", "202403151060",
        "20240315101560", "2024031510156", "202302291015", "20240315 1015",
        "2024031510aa"
    };
    size_t i;

    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        tap_ok(lz_timestamp_valid(valid[i]), "timestamp %s is valid",
               valid[i]);
    }
    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        tap_ok(!lz_timestamp_valid(invalid[i]), "timestamp '%s' is refused",
               invalid[i]);
    }
}

static void test_timestamp_to_time(void)
{
    apr_time_t when = 0;

    tap_ok(lz_timestamp_to_time("20240715120000123", NULL, &when) == 0
           && when == at_seconds(UTC_2024_07_15_1200) + 123000,
           "17-digit timestamp in UTC keeps its milliseconds");
    tap_ok(lz_timestamp_to_time("20240715", NULL, &when) == 0
           && when == at_seconds(UTC_2024_07_15_1200 - 12 * 3600),
           "8-digit timestamp converts as midnight");
    tap_ok(lz_timestamp_to_time("2024071512", NULL, &when) == 0
           && when == at_seconds(UTC_2024_07_15_1200),
           "10-digit timestamp converts (the status key allows 8..17)");
    tap_ok(lz_timestamp_to_time("202407151260", NULL, &when) != 0,
           "minute 60 does not convert");
    tap_ok(lz_timestamp_to_time("2024071", NULL, &when) != 0,
           "7 digits do not convert");
}

/* datumStatusGezet may not lie after now + skew, read in the zone. */
static int in_future(const char *stamp, const sz_tz_t *zone,
                     long long now_seconds, apr_pool_t *pool)
{
    lz_kennisgeving_t k = valid_kennisgeving();
    lz_options_t options = options_in(zone, 0);
    sz_report_t *report;

    k.datum_status_gezet = stamp;
    count_failures(&k, &options, at_seconds(now_seconds), pool, &report);
    return has_failure(report, "object.heeft.datumStatusGezet",
                       "ligt in de toekomst");
}

static void test_not_in_future_utc(apr_pool_t *pool)
{
    tap_ok(!in_future("202407151200", NULL, UTC_2024_07_15_1200 - 300, pool),
           "UTC: 300 s ahead is inside the skew");
    tap_ok(in_future("202407151200", NULL, UTC_2024_07_15_1200 - 301, pool),
           "UTC: 301 s ahead is outside the skew");
    tap_ok(in_future("20240715120000001", NULL, UTC_2024_07_15_1200 - 300,
                     pool), "UTC: 300.001 s ahead is outside the skew");
    tap_ok(!in_future("202001011200", NULL, UTC_2024_07_15_1200, pool),
           "UTC: a time in the past is fine");
}

static void test_not_in_future_amsterdam(apr_pool_t *pool)
{
    const char *error = NULL;
    const sz_tz_t *zone = sz_tz_load("Europe/Amsterdam", NULL, pool, &error);

    if (!zone) {
        tap_ok(1, "# SKIP no Europe/Amsterdam zone file");
        return;
    }

    tap_ok(!in_future("202407151400", zone, UTC_2024_07_15_1200 - 300, pool),
           "Amsterdam summer: 14:00 local is 12:00 UTC, 300 s inside");
    tap_ok(in_future("202407151400", zone, UTC_2024_07_15_1200 - 301, pool),
           "Amsterdam summer: 301 s is outside the skew");
    tap_ok(!in_future("202407151200", zone, UTC_2024_07_15_1200 - 7200,
                      pool), "Amsterdam summer: offset is two hours");
    tap_ok(!in_future("202401151300", zone, UTC_2024_01_15_1200 - 300, pool),
           "Amsterdam winter: 13:00 local is 12:00 UTC, 300 s inside");
    tap_ok(in_future("202401151300", zone, UTC_2024_01_15_1200 - 301, pool),
           "Amsterdam winter: 301 s is outside the skew");
    tap_ok(!in_future("202403310230", zone, UTC_2024_03_31_0130 - 300, pool),
           "Amsterdam gap: 02:30 on 31 March read as 01:30 UTC, inside");
    tap_ok(in_future("202403310230", zone, UTC_2024_03_31_0130 - 301, pool),
           "Amsterdam gap: 301 s before 01:30 UTC is outside");
    tap_ok(!in_future("202410270230", zone, UTC_2024_10_27_0030 - 300, pool),
           "Amsterdam overlap: 02:30 on 27 October is the earlier 00:30 UTC");
    tap_ok(in_future("202410270230", zone, UTC_2024_10_27_0030 - 301, pool),
           "Amsterdam overlap: 301 s before 00:30 UTC is outside");
    tap_ok(in_future("202407151200", zone, UTC_2024_07_15_1200 - 7200 - 301,
                     pool), "zone matters: same digits, other instant");
}

static void test_identificatie(apr_pool_t *pool)
{
    tap_ok(lz_identificatie_valid("1900ABC"), "identificatie 1900ABC is ok");
    tap_ok(lz_identificatie_valid("19001"), "5 characters are enough");
    tap_ok(lz_identificatie_valid(apr_pstrcat(pool, "0363",
                                              repeat(pool, "a", 36), NULL)),
           "40 characters are allowed");
    tap_ok(!lz_identificatie_valid(apr_pstrcat(pool, "0363",
                                               repeat(pool, "a", 37), NULL)),
           "41 characters are refused");
    tap_ok(!lz_identificatie_valid("1900"), "4 characters are refused");
    tap_ok(!lz_identificatie_valid("1900Za\xc3\xa9"),
           "diacritics (1900Za\xc3\xa9) are refused");
    tap_ok(!lz_identificatie_valid("ABCD123"),
           "identificatie without gemeentecode is refused");
    tap_ok(!lz_identificatie_valid("190A123"),
           "three digits are no gemeentecode");
    tap_ok(!lz_identificatie_valid("1900 AB"), "a space is refused");
    tap_ok(!lz_identificatie_valid("0363Z2024-1"), "a hyphen is refused");
    tap_ok(!lz_identificatie_valid(NULL), "absent identificatie is invalid");
}

static void test_lengths_in_characters(apr_pool_t *pool)
{
    lz_kennisgeving_t k = valid_kennisgeving();
    sz_report_t *report;
    const char *e_acute = "\xc3\xa9";

    k.omschrijving = repeat(pool, e_acute, 80);
    k.status_omschrijving = repeat(pool, e_acute, 80);
    k.toelichting = repeat(pool, e_acute, 1000);
    k.status_toelichting = repeat(pool, e_acute, 1000);
    tap_is_int(count_failures(&k, NULL, at_seconds(UTC_2024_07_15_1200),
                              pool, &report), 0,
               "80 and 1000 two-byte characters fit AN80 and AN1000");

    k.omschrijving = repeat(pool, e_acute, 81);
    k.status_omschrijving = repeat(pool, e_acute, 81);
    k.toelichting = repeat(pool, e_acute, 1001);
    k.status_toelichting = repeat(pool, e_acute, 1001);
    tap_is_int(count_failures(&k, NULL, at_seconds(UTC_2024_07_15_1200),
                              pool, &report), 4,
               "one character more is refused in all four fields");
    tap_ok(has_failure(report, "object.omschrijving", "meer dan 80 tekens"),
           "omschrijving over 80 characters is named");
    tap_ok(has_failure(report, "object.heeft.gerelateerde.omschrijving",
                       "meer dan 80 tekens"),
           "statustype over 80 characters is named");
    tap_ok(has_failure(report, "object.toelichting", "meer dan 1000 tekens"),
           "toelichting over 1000 characters is named");
    tap_ok(has_failure(report, "object.heeft.toelichting",
                       "meer dan 1000 tekens"),
           "status toelichting over 1000 characters is named");

    k = valid_kennisgeving();
    k.omschrijving = "caf\xc3";
    count_failures(&k, NULL, at_seconds(UTC_2024_07_15_1200), pool, &report);
    tap_ok(has_failure(report, "object.omschrijving", "UTF-8"),
           "broken UTF-8 is refused");
}

static void test_rules_on_struct(apr_pool_t *pool)
{
    lz_kennisgeving_t k = valid_kennisgeving();
    lz_options_t options = options_in(NULL, 0);
    apr_time_t now = at_seconds(UTC_2024_07_15_1200);
    sz_report_t *report;

    tap_is_int(count_failures(&k, &options, now, pool, &report), 0,
               "a complete kennisgeving passes");
    tap_is_int(count_failures(&k, NULL, now, pool, &report), 0,
               "NULL options mean UTC, 300 s and nothing optional");

    k.mutatiesoort = "W";
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "parameters.mutatiesoort", "mutatiesoort W"),
           "mutatiesoort W is refused and named");
    tap_is(sz_report_leading_code(report), "StUF058",
           "mutatiesoort failure is StUF058");
    k.mutatiesoort = "Xyz";
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "parameters.mutatiesoort", NULL)
           && !strstr(sz_report_details(report, 1000, pool), "Xyz"),
           "an unknown mutatiesoort is refused without echoing it");

    k = valid_kennisgeving();
    k.verwerkingssoort = "V";
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object", "verwerkingssoort"),
           "object verwerkingssoort other than T is refused");

    k = valid_kennisgeving();
    k.object_count = 2;
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object", "precies 1 object"),
           "two objects are refused");

    k = valid_kennisgeving();
    k.status_count = 2;
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object.heeft", "precies 1 status"),
           "two statuses in one kennisgeving are refused");
    k.status_count = 0;
    tap_is_int(count_failures(&k, &options, now, pool, &report), 1,
               "no status gives one failure, not one per status field");

    k = valid_kennisgeving();
    k.initiator_count = 0;
    k.bsn = NULL;
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object.heeftAlsInitiator", NULL),
           "a missing initiator is refused");
    k.initiator_count = 1;
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object.heeftAlsInitiator.gerelateerde."
                       "natuurlijkPersoon.inp.bsn", "ontbreekt"),
           "an initiator without BSN is refused");

    k = valid_kennisgeving();
    k.startdatum = "20230229";
    k.einddatum_gepland = "2024031";
    k.einddatum = "20241399";
    tap_is_int(count_failures(&k, &options, now, pool, &report), 3,
               "three bad dates give three failures");
    tap_ok(has_failure(report, "object.startdatum", "geen geldige datum")
           && has_failure(report, "object.einddatumGepland",
                          "geen geldige datum")
           && has_failure(report, "object.einddatum", "geen geldige datum"),
           "each bad date is named");

    k = valid_kennisgeving();
    k.datum_status_gezet = "20240315";
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object.heeft.datumStatusGezet", "12 tot 17"),
           "datumStatusGezet of 8 digits is refused");
    k.datum_status_gezet = "202403152400";
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object.heeft.datumStatusGezet",
                       "geen geldige"), "hour 24 is refused");
    k.datum_status_gezet = "20240315101530";
    tap_is_int(count_failures(&k, &options, now, pool, &report), 0,
               "14-digit datumStatusGezet (real senders) is fine");

    k = valid_kennisgeving();
    k.verwijzing = "ftp://example.nl/x";
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object.heeft.extraElementen.verwijzing",
                       "URL"), "a verwijzing that is no http(s) URL fails");

    k = valid_kennisgeving();
    k.identificatie = "ABCD123";
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object.identificatie", "gemeentecode"),
           "identificatie without gemeentecode is named");
}

static void test_optional_fields(apr_pool_t *pool)
{
    lz_kennisgeving_t k = valid_kennisgeving();
    lz_options_t options = options_in(NULL, 0);
    apr_time_t now = at_seconds(UTC_2024_07_15_1200);
    sz_report_t *report;

    k.omschrijving = NULL;
    k.toelichting = NULL;
    k.startdatum = NULL;
    k.einddatum_gepland = NULL;
    k.status_omschrijving = NULL;
    k.status_toelichting = "   ";
    k.verwijzing = NULL;
    tap_is_int(count_failures(&k, &options, now, pool, &report), 7,
               "seven missing or empty mandatory fields, seven failures");
    tap_ok(has_failure(report, "object.heeft.toelichting", "is leeg"),
           "a blank field is reported as empty");
    tap_ok(has_failure(report, "object.einddatumGepland", "ontbreekt"),
           "an absent field is reported as missing");

    options.optional = ALL_OPTIONAL_BITS;
    tap_is_int(count_failures(&k, &options, now, pool, &report), 0,
               "the same fields pass when declared optional");

    k.identificatie = NULL;
    k.datum_status_gezet = NULL;
    k.bsn = NULL;
    options.optional = ~0u;
    tap_is_int(count_failures(&k, &options, now, pool, &report), 3,
               "identificatie, datumStatusGezet and BSN are never optional");
    tap_ok(has_failure(report, "object.identificatie", "ontbreekt")
           && has_failure(report, "object.heeft.datumStatusGezet",
                          "ontbreekt"),
           "the key fields are named as missing");

    k = valid_kennisgeving();
    k.startdatum = "2024";
    options.optional = ALL_OPTIONAL_BITS;
    count_failures(&k, &options, now, pool, &report);
    tap_ok(has_failure(report, "object.startdatum", "geen geldige datum"),
           "an optional field that is present must still be valid");
}

static void test_field_names(void)
{
    tap_is_int(lz_field_from_name("heeft.toelichting"),
               LZ_FIELD_STATUS_TOELICHTING, "heeft.toelichting maps");
    tap_is_int(lz_field_from_name("object.heeft.toelichting"),
               LZ_FIELD_STATUS_TOELICHTING, "object.heeft.toelichting maps");
    tap_is_int(lz_field_from_name("object . heeft . gerelateerde . "
                                  "omschrijving"), LZ_FIELD_STATUSTYPE,
               "the spec's spaced notation maps");
    tap_is_int(lz_field_from_name("object/heeft/extraElementen/verwijzing"),
               LZ_FIELD_VERWIJZING, "the XML path notation maps");
    tap_is_int(lz_field_from_name("einddatumGepland"),
               LZ_FIELD_EINDDATUM_GEPLAND, "einddatumGepland maps");
    tap_is_int(lz_field_from_name("identificatie"), 0,
               "identificatie can never be optional");
    tap_is_int(lz_field_from_name("object.heeft.datumStatusGezet"), 0,
               "datumStatusGezet can never be optional");
    tap_is_int(lz_field_from_name("inp.bsn"), 0, "BSN can never be optional");
    tap_is_int(lz_field_from_name("zaaktype"), 0, "unknown names map to 0");
    tap_is_int(lz_field_from_name(NULL), 0, "NULL maps to 0");
    tap_is(lz_field_name(LZ_FIELD_STATUSTYPE),
           "object.heeft.gerelateerde.omschrijving", "statustype name");
    tap_is(lz_field_name(LZ_FIELD_OMSCHRIJVING), "object.omschrijving",
           "omschrijving name");
    tap_ok(lz_field_name(0) == NULL, "no name for 0");
    tap_is_int(lz_field_from_name(lz_field_name(LZ_FIELD_VERWIJZING)),
               LZ_FIELD_VERWIJZING, "name and bit round-trip");
}

static void test_keys_and_urls(apr_pool_t *pool)
{
    tap_is(lz_status_key("202403151015", pool), "20240315101500000",
           "12-digit status key is padded to 17");
    tap_is(lz_status_key("20240315101530123", pool), "20240315101530123",
           "17-digit status key is kept");
    tap_is(lz_status_key("20240315", pool), "20240315000000000",
           "8-digit status key is padded");
    tap_ok(lz_status_key("2024031", pool) == NULL, "7 digits: no key");
    tap_ok(lz_status_key("202403151015301234", pool) == NULL,
           "18 digits: no key");
    tap_ok(lz_status_key("2024031510x5", pool) == NULL, "letters: no key");
    tap_is(lz_gemeentecode("0363Z2024", pool), "0363", "gemeentecode 0363");
    tap_ok(lz_gemeentecode("ABCD1", pool) == NULL, "no gemeentecode");
    tap_ok(lz_gemeentecode(NULL, pool) == NULL, "no identificatie");
    tap_ok(lz_url_valid("https://www.example.nl/zaak?id=1"), "https URL");
    tap_ok(lz_url_valid("http://example"), "http URL");
    tap_ok(!lz_url_valid("ftp://example.nl/"), "ftp refused");
    tap_ok(!lz_url_valid("https://"), "URL without host refused");
    tap_ok(!lz_url_valid("https://a.nl/b c"), "URL with space refused");
    tap_ok(!lz_url_valid("javascript:alert(1)"), "javascript refused");
    tap_ok(!lz_url_valid("https://a.nl/\x01"), "control character refused");
}

static void test_extract_inline(apr_pool_t *pool)
{
    lz_kennisgeving_t k;
    sz_report_t *report = sz_report_make(pool);
    xmlDoc *doc;
    const char *extra = "<StUF:extraElementen>"
                        "<StUF:extraElement naam='iban'>x</StUF:extraElement>"
                        "<StUF:extraElement naam='verwijzing'>"
                        "https://a.nl/z</StUF:extraElement>"
                        "</StUF:extraElementen>";

    doc = parse_message(pool, "T", object_xml(pool, "111111110", extra));
    if (!tap_ok(doc != NULL, "inline message parses")) {
        return;
    }
    tap_is_int(lz_extract(xmlDocGetRootElement(doc), pool, &k, report), 0,
               "lz_extract accepts a zakLk01");
    tap_is(k.mutatiesoort, "T", "mutatiesoort read");
    tap_is_int(k.object_count, 1, "one object counted");
    tap_is(k.verwerkingssoort, "T", "verwerkingssoort read");
    tap_is(k.identificatie, "1900ABC", "identificatie read");
    tap_is(k.startdatum, "20240101", "startdatum read");
    tap_ok(k.einddatum == NULL, "absent einddatum is NULL");
    tap_is_int(k.status_count, 1, "one status counted");
    tap_is(k.datum_status_gezet, "20240102093000", "datumStatusGezet read");
    tap_is(k.status_omschrijving, "Ontvangen", "statustype read");
    tap_is(k.status_toelichting, "Wij hebben uw aanvraag",
           "status toelichting read");
    tap_is(k.verwijzing, "https://a.nl/z", "verwijzing read from heeft");
    tap_is_int(k.initiator_count, 1, "one initiator counted");
    tap_is(k.bsn, "111111110", "BSN read");
    tap_is_int(lz_check(&k, NULL, at_seconds(UTC_2024_07_15_1200), report),
               0, "inline message passes the rules");
    xmlFreeDoc(doc);
}

static void test_extract_prefixes_and_nil(apr_pool_t *pool)
{
    lz_kennisgeving_t k;
    sz_report_t *report = sz_report_make(pool);
    xmlDoc *doc;

    /* Other prefixes, a default namespace and an element that only looks
     * right by prefix: lz_extract must go by namespace URI. */
    doc = parse_string(
        "<zakLk01 xmlns='http://www.egem.nl/StUF/sector/zkn/0310' "
        "xmlns:s='http://www.egem.nl/StUF/StUF0301' "
        "xmlns:ZKN='urn:not-zkn' "
        "xmlns:b='http://www.egem.nl/StUF/sector/bg/0310' "
        "xmlns:i='http://www.w3.org/2001/XMLSchema-instance'>"
        "<parameters><s:mutatiesoort>T</s:mutatiesoort></parameters>"
        "<object s:verwerkingssoort='T'>"
        "<ZKN:identificatie>0000FAKE</ZKN:identificatie>"
        "<identificatie>0363ABC</identificatie>"
        "<omschrijving i:nil='true' s:noValue='geenWaarde'/>"
        "<toelichting s:noValue='waardeOnbekend'></toelichting>"
        "<startdatum i:nil='1'/>"
        "<s:extraElementen><s:extraElement naam='verwijzing'>"
        "http://z.nl/</s:extraElement></s:extraElementen>"
        "<heeftAlsInitiator><gerelateerde><natuurlijkPersoon>"
        "<b:inp.bsn>123456782</b:inp.bsn></natuurlijkPersoon></gerelateerde>"
        "</heeftAlsInitiator>"
        "<heeftAlsInitiator i:nil='true' s:noValue='geenWaarde'/>"
        "<heeft i:nil='true' s:noValue='geenWaarde'/>"
        "<heeft><gerelateerde/><datumStatusGezet>202401010000"
        "</datumStatusGezet></heeft>"
        "<heeft><datumStatusGezet>202401020000</datumStatusGezet></heeft>"
        "</object></zakLk01>");
    if (!tap_ok(doc != NULL, "prefix test message parses")) {
        return;
    }
    tap_is_int(lz_extract(xmlDocGetRootElement(doc), pool, &k, report), 0,
               "zakLk01 in the default namespace is accepted");
    tap_is(k.identificatie, "0363ABC",
           "identificatie found by namespace, not by prefix");
    tap_ok(k.omschrijving == NULL, "xsi:nil field is NULL");
    tap_ok(k.toelichting == NULL, "StUF:noValue field is NULL");
    tap_ok(k.startdatum == NULL, "xsi:nil='1' field is NULL");
    tap_is(k.verwijzing, "http://z.nl/", "verwijzing on the object found");
    tap_is_int(k.initiator_count, 1, "a nil initiator is not counted");
    tap_is(k.bsn, "123456782", "BSN read with another prefix");
    tap_is_int(k.status_count, 2, "two statuses counted, nil one skipped");
    tap_is(k.datum_status_gezet, "202401010000", "first status read");
    tap_ok(k.status_omschrijving == NULL, "empty gerelateerde: no statustype");
    xmlFreeDoc(doc);

    doc = parse_string("<ZKN:zakLk01 xmlns:ZKN='urn:other'/>");
    tap_is_int(lz_extract(xmlDocGetRootElement(doc), pool, &k, report), -1,
               "zakLk01 in another namespace is refused");
    xmlFreeDoc(doc);
    doc = parse_string("<ZKN:zakLk02 " NS_DECLS "/>");
    tap_is_int(lz_extract(xmlDocGetRootElement(doc), pool, &k, report), -1,
               "another root element is refused");
    xmlFreeDoc(doc);

    doc = parse_message(pool, "T", apr_pstrcat(pool,
        object_xml(pool, "111111110", ""),
        object_xml(pool, "111111110", ""), NULL));
    lz_extract(xmlDocGetRootElement(doc), pool, &k, report);
    tap_is_int(k.object_count, 2, "two objects counted");
    xmlFreeDoc(doc);
}

static void test_no_bsn_in_failures(apr_pool_t *pool)
{
    lz_kennisgeving_t k;
    sz_report_t *report = sz_report_make(pool);
    const sz_failure_t *failures;
    xmlDoc *doc;
    int leaked = 0;
    int i;

    doc = parse_message(pool, "T", object_xml(pool, "123456789",
        "<StUF:extraElementen><StUF:extraElement naam='verwijzing'>"
        "ftp://123456789/</StUF:extraElement></StUF:extraElementen>"));
    if (!tap_ok(doc != NULL, "bad-BSN message parses")) {
        return;
    }
    lz_extract(xmlDocGetRootElement(doc), pool, &k, report);
    lz_check(&k, NULL, at_seconds(UTC_2024_07_15_1200), report);
    tap_ok(has_failure(report, "object.heeftAlsInitiator.gerelateerde."
                       "natuurlijkPersoon.inp.bsn", "11-proef faalt"),
           "BSN 123456789 fails the 11-proef");
    failures = (const sz_failure_t *)report->failures->elts;
    for (i = 0; i < report->failures->nelts; i++) {
        if (strstr(failures[i].text, "123456789")
            || (failures[i].field && strstr(failures[i].field, "123456789"))) {
            leaked = 1;
        }
    }
    tap_ok(!leaked, "no failure text or field contains the BSN");
    tap_ok(!strstr(sz_report_details(report, 1000, pool), "123456789"),
           "the fout details do not contain the BSN");
    xmlFreeDoc(doc);
}

static const char *const real_examples[] = {
    "36DEC8EC-4831-45AC-A464-2DDBA146001F",
    "3B0762A3-2431-4A2A-9625-D222E6BAFEA7",
    "5617A6DF-5713-46E8-B028-F9A9D4661AEB",
    "56D2E512-47E6-49FD-A137-7088659AD1D9",
    "5908AFFB-C31B-48DA-9DA1-10C0930DC862",
    "9ED3C70D-0E50-46FB-B602-BD20F7CCECA2",
    "C975456C-2C0B-4F06-A15F-0A7B98372BB5",
    "E5EAFD38-FA9E-495E-A61C-527178B325D9",
};

static void test_real_examples(apr_pool_t *pool)
{
    lz_options_t options = options_in(NULL, LZ_FIELD_EINDDATUM_GEPLAND
                                      | LZ_FIELD_STATUS_TOELICHTING
                                      | LZ_FIELD_VERWIJZING);
    size_t i;

    for (i = 0; i < sizeof(real_examples) / sizeof(real_examples[0]); i++) {
        const char *name = real_examples[i];
        const char *path = tap_shared(pool, apr_pstrcat(pool,
            "data/examples/lz/MijnZaakNotificaties-results-", name, ".xml",
            NULL));
        int without_statustype = name[0] == 'C' || name[0] == 'E';
        sz_report_t *report = sz_report_make(pool);
        lz_kennisgeving_t k;
        xmlDoc *doc;
        int failures;

        if (!path) {
            tap_ok(1, "# SKIP real example %.8s absent", name);
            continue;
        }
        doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
        if (!tap_ok(doc && lz_extract(find_zaklk01(xmlDocGetRootElement(doc)),
                                      pool, &k, report) == 0,
                    "real example %.8s is read", name)) {
            xmlFreeDoc(doc);
            continue;
        }
        tap_ok(strcmp(k.identificatie, "190010457") == 0
               && strcmp(k.datum_status_gezet, "20210104055652") == 0
               && strcmp(k.einddatum, "20210106") == 0
               && strcmp(k.bsn, "900198424") == 0
               && k.object_count == 1 && k.status_count == 1
               && k.initiator_count == 1 && k.verwijzing == NULL,
               "real example %.8s: fields read", name);
        failures = lz_check(&k, &options, apr_time_now(), report);
        if (without_statustype) {
            tap_ok(failures == 1
                   && has_failure(report,
                                  "object.heeft.gerelateerde.omschrijving",
                                  "ontbreekt"),
                   "real example %.8s lacks the statustype", name);
        }
        else {
            tap_is(k.status_omschrijving, "Verleend(Geregistreerd)",
                   "real example %.8s: statustype read", name);
            tap_is_int(failures, 0, "real example %.8s passes", name);
        }
        if (sz_report_count(report) != (without_statustype ? 1 : 0)) {
            show_failures(report);
        }
        xmlFreeDoc(doc);
    }
}

/* The constructed SOAP example of the reference: the zakLk01 inside the
 * SOAP body is read the same way. Its identificatie holds a hyphen, which
 * the spec ("alfanumerieke tekens") does not allow. */
static void test_constructed_example(apr_pool_t *pool)
{
    const char *path = tap_shared(pool, "data/examples/stuf/constructed/"
                                  "lz-zakLk01-T-statusupdate.soap.xml");
    sz_report_t *report = sz_report_make(pool);
    lz_kennisgeving_t k;
    xmlDoc *doc;

    if (!path) {
        tap_ok(1, "# SKIP constructed SOAP example absent");
        return;
    }
    doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    if (!tap_ok(doc && lz_extract(find_zaklk01(xmlDocGetRootElement(doc)),
                                  pool, &k, report) == 0,
                "constructed SOAP example is read")) {
        xmlFreeDoc(doc);
        return;
    }
    tap_is(k.datum_status_gezet, "202403151015",
           "constructed example: 12-digit datumStatusGezet read");
    tap_ok(k.verwijzing && strncmp(k.verwijzing, "https://", 8) == 0,
           "constructed example: verwijzing read from heeft");
    tap_is(k.bsn, "111111110", "constructed example: BSN read");
    tap_is_int(lz_check(&k, NULL, apr_time_now(), report), 1,
               "constructed example: only the identificatie fails");
    tap_ok(has_failure(report, "object.identificatie", "letters en cijfers"),
           "constructed example: the hyphen is named");
    xmlFreeDoc(doc);
}

static void test_project_fixture(apr_pool_t *pool)
{
    const char *path = tap_project(pool, "t/data/zakLk01-voorbeeld.xml");
    sz_report_t *report = sz_report_make(pool);
    lz_kennisgeving_t k;
    xmlDoc *doc;

    if (access(path, R_OK) != 0) {
        tap_ok(1, "# SKIP t/data/zakLk01-voorbeeld.xml not written yet");
        return;
    }
    doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    if (!tap_ok(doc && lz_extract(find_zaklk01(xmlDocGetRootElement(doc)),
                                  pool, &k, report) == 0,
                "our fixture zakLk01-voorbeeld.xml is read")) {
        xmlFreeDoc(doc);
        return;
    }
    tap_is_int(lz_check(&k, NULL, apr_time_now(), report), 0,
               "our fixture passes every LZ rule");
    show_failures(report);
    xmlFreeDoc(doc);
}

int main(void)
{
    apr_pool_t *pool = tap_start();

    xmlInitParser();
    test_bsn_11_proef();
    test_calendar_dates();
    test_timestamps();
    test_timestamp_to_time();
    test_not_in_future_utc(pool);
    test_not_in_future_amsterdam(pool);
    test_identificatie(pool);
    test_lengths_in_characters(pool);
    test_rules_on_struct(pool);
    test_optional_fields(pool);
    test_field_names();
    test_keys_and_urls(pool);
    test_extract_inline(pool);
    test_extract_prefixes_and_nil(pool);
    test_no_bsn_in_failures(pool);
    test_real_examples(pool);
    test_constructed_example(pool);
    test_project_fixture(pool);
    xmlCleanupParser();
    return tap_done();
}

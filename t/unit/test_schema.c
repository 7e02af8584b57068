/* test_schema.c - the LZ-profile schema and the schema unit: real
 * messages pass, broken ones fail with StUF055 without quoting payload,
 * and one compiled schema serves several threads at once. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_strings.h>
#include <libxml/parser.h>

#include "report.h"
#include "schema.h"
#include "tap.h"

#define NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"

#define THREADS 4
#define ROUNDS 50

/* Our own minimal LZ kennisgeving; the placeholders are replaced to build
 * the broken variants. */
static const char *const message_template =
    "<ZKN:zakLk01 xmlns:ZKN=\"http://www.egem.nl/StUF/sector/zkn/0310\""
    " xmlns:StUF=\"http://www.egem.nl/StUF/StUF0301\""
    " xmlns:BG=\"http://www.egem.nl/StUF/sector/bg/0310\""
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
    "<ZKN:stuurgegevens>"
    "<StUF:berichtcode>Lk01</StUF:berichtcode>"
    "<StUF:zender><StUF:organisatie>00000001234567890000</StUF:organisatie>"
    "<StUF:applicatie>Zaaksysteem</StUF:applicatie></StUF:zender>"
    "<StUF:ontvanger><StUF:organisatie>00000004003214345001"
    "</StUF:organisatie><StUF:applicatie>MijnOverheid</StUF:applicatie>"
    "<StUF:administratie>Lopende zaken</StUF:administratie></StUF:ontvanger>"
    "<StUF:referentienummer>@REF@</StUF:referentienummer>"
    "<StUF:tijdstipBericht>20240601120000000</StUF:tijdstipBericht>"
    "<StUF:entiteittype>ZAK</StUF:entiteittype>"
    "</ZKN:stuurgegevens>"
    "<ZKN:parameters><StUF:mutatiesoort>T</StUF:mutatiesoort>"
    "<StUF:indicatorOvername>V</StUF:indicatorOvername></ZKN:parameters>"
    "<ZKN:object StUF:entiteittype=\"ZAK\" StUF:verwerkingssoort=\"@VS@\">"
    "<ZKN:identificatie>0599Z2024-77</ZKN:identificatie>"
    "@BEFORE@"
    "<ZKN:omschrijving>@OMSCHRIJVING@</ZKN:omschrijving>"
    "<ZKN:toelichting xsi:nil=\"true\" StUF:noValue=\"geenWaarde\"/>"
    "@AFTER@"
    "<ZKN:startdatum>@START@</ZKN:startdatum>"
    "<ZKN:einddatumGepland>20240901</ZKN:einddatumGepland>"
    "@EXTRA@"
    "<ZKN:heeftAlsInitiator StUF:entiteittype=\"ZAKBTRINI\""
    " StUF:verwerkingssoort=\"T\"><ZKN:gerelateerde>"
    "<ZKN:natuurlijkPersoon StUF:entiteittype=\"NPS\""
    " StUF:verwerkingssoort=\"I\"><BG:inp.bsn>@BSN@</BG:inp.bsn>"
    "</ZKN:natuurlijkPersoon></ZKN:gerelateerde></ZKN:heeftAlsInitiator>"
    "<ZKN:heeft StUF:entiteittype=\"ZAKSTT\" StUF:verwerkingssoort=\"T\">"
    "<ZKN:gerelateerde StUF:entiteittype=\"STT\" StUF:verwerkingssoort=\"I\">"
    "<ZKN:omschrijving>Besluit genomen</ZKN:omschrijving></ZKN:gerelateerde>"
    "<ZKN:datumStatusGezet>202406011130</ZKN:datumStatusGezet>"
    "</ZKN:heeft>"
    "</ZKN:object></ZKN:zakLk01>";

typedef struct {
    const char *reference;
    const char *verwerkingssoort;
    const char *before;
    const char *omschrijving;
    const char *after;
    const char *startdatum;
    const char *extra;
    const char *bsn;
} variant_t;

static const variant_t valid_variant = {
    "ref-0001", "T", "", "Aanvraag bouwvergunning", "", "20240601", "",
    "999990019"
};

static const char *replace(apr_pool_t *pool, const char *text,
                           const char *placeholder, const char *value)
{
    const char *at = strstr(text, placeholder);

    if (at == NULL) {
        return text;
    }
    return apr_pstrcat(pool, apr_pstrmemdup(pool, text, at - text), value,
                       at + strlen(placeholder), NULL);
}

static const char *build_message(apr_pool_t *pool, const variant_t *v)
{
    const char *text = message_template;

    text = replace(pool, text, "@REF@", v->reference);
    text = replace(pool, text, "@VS@", v->verwerkingssoort);
    text = replace(pool, text, "@BEFORE@", v->before);
    text = replace(pool, text, "@OMSCHRIJVING@", v->omschrijving);
    text = replace(pool, text, "@AFTER@", v->after);
    text = replace(pool, text, "@START@", v->startdatum);
    text = replace(pool, text, "@EXTRA@", v->extra);
    return replace(pool, text, "@BSN@", v->bsn);
}

static xmlDoc *parse_text(const char *text)
{
    return xmlReadMemory(text, (int)strlen(text), "inline.xml", NULL,
                         XML_PARSE_NONET);
}

static xmlNode *first_element(xmlNode *node)
{
    for (; node != NULL; node = node->next) {
        if (node->type == XML_ELEMENT_NODE) {
            return node;
        }
    }
    return NULL;
}

/* The payload of a SOAP message (the first child of Body), or the root of
 * a bare message. */
static xmlNode *payload(xmlDoc *doc)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *child;

    if (root == NULL || root->ns == NULL
        || strcmp((const char *)root->ns->href, NS_SOAP) != 0) {
        return root;
    }
    for (child = first_element(root->children); child != NULL;
         child = first_element(child->next)) {
        if (strcmp((const char *)child->name, "Body") == 0) {
            return first_element(child->children);
        }
    }
    return NULL;
}

/* Validates a text and returns the report (NULL when it does not parse). */
static sz_report_t *check_text(const sz_schema_t *schema, const char *text,
                               apr_pool_t *pool, int *result)
{
    sz_report_t *report = sz_report_make(pool);
    xmlDoc *doc = parse_text(text);

    if (doc == NULL) {
        return NULL;
    }
    *result = sz_schema_validate(schema, payload(doc), "StUF055", report);
    xmlFreeDoc(doc);
    return report;
}

static int check_file(const sz_schema_t *schema, const char *path,
                      apr_pool_t *pool, sz_report_t **report)
{
    xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    int result;

    *report = sz_report_make(pool);
    if (doc == NULL) {
        return -1;
    }
    result = sz_schema_validate(schema, payload(doc), "StUF055", *report);
    xmlFreeDoc(doc);
    return result;
}

static void test_our_schema_compiles(const sz_schema_t *schema,
                                     const char *error, apr_pool_t *pool)
{
    tap_ok(schema != NULL, "our LZ schema compiles");
    tap_is(error, NULL, "compiling our schema reports no error");
    if (schema != NULL) {
        tap_is(sz_schema_path(schema),
               tap_project(pool, "xsd/lz-zakLk01.xsd"),
               "the schema remembers its path");
    }
}

/* Every .xml file in a shared directory must validate (in place, inside
 * its SOAP envelope where it has one). */
static void test_shared_examples_validate(const sz_schema_t *schema,
                                          const char *directory,
                                          const char *prefix,
                                          apr_pool_t *pool)
{
    const char *path = tap_shared(pool, directory);
    apr_dir_t *dir;
    apr_finfo_t info;
    int seen = 0;

    if (path == NULL) {
        tap_ok(1, "examples in %s validate # SKIP ../shared absent",
               directory);
        return;
    }
    if (apr_dir_open(&dir, path, pool) != APR_SUCCESS) {
        tap_ok(0, "directory %s opens", directory);
        return;
    }
    while (apr_dir_read(&info, APR_FINFO_NAME | APR_FINFO_TYPE, dir)
           == APR_SUCCESS) {
        const char *file;
        sz_report_t *report;
        int result;

        if (info.filetype != APR_REG
            || strncmp(info.name, prefix, strlen(prefix)) != 0
            || strstr(info.name, ".xml") == NULL) {
            continue;
        }
        file = apr_pstrcat(pool, path, "/", info.name, NULL);
        result = check_file(schema, file, pool, &report);
        seen++;
        if (!tap_is_int(result, 0, "%s/%s validates", directory,
                        info.name)) {
            tap_diag("%s", sz_report_details(report, 1000, pool));
        }
    }
    apr_dir_close(dir);
    tap_ok(seen > 0, "%s holds examples (%d)", directory, seen);
}

static void test_soap_example_validates_in_envelope(
    const sz_schema_t *schema, apr_pool_t *pool)
{
    const char *path = tap_shared(pool, "data/examples/stuf/constructed/"
                                        "lz-zakLk01-T-statusupdate.soap.xml");
    xmlDoc *doc;
    xmlNode *body_child;
    sz_report_t *report = sz_report_make(pool);
    int result;

    if (path == NULL) {
        tap_ok(1, "constructed SOAP example validates # SKIP ../shared "
                  "absent");
        return;
    }
    doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    body_child = payload(doc);
    tap_ok(body_child != NULL && body_child->parent != NULL
               && strcmp((const char *)body_child->parent->name, "Body") == 0,
           "the zakLk01 sits inside the SOAP Body");
    result = sz_schema_validate(schema, body_child, "StUF055", report);
    if (!tap_is_int(result, 0, "constructed SOAP example validates in "
                               "place")) {
        tap_diag("%s", sz_report_details(report, 1000, pool));
    }
    xmlFreeDoc(doc);
}

static void test_own_valid_message_passes(const sz_schema_t *schema,
                                          apr_pool_t *pool)
{
    sz_report_t *report;
    int result = -1;

    report = check_text(schema, build_message(pool, &valid_variant), pool,
                        &result);
    tap_ok(report != NULL, "the inline message parses");
    if (!tap_is_int(result, 0, "the inline message validates")) {
        tap_diag("%s", sz_report_details(report, 1000, pool));
    }
}

/* Validates a broken variant: it must fail with StUF055, optionally on
 * the given field, and the report must not hold the secret value. */
static void expect_refusal(const sz_schema_t *schema, const variant_t *v,
                           const char *what, const char *field,
                           const char *secret, apr_pool_t *pool)
{
    sz_report_t *report;
    const char *details;
    int result = 0;

    report = check_text(schema, build_message(pool, v), pool, &result);
    if (!tap_ok(report != NULL, "%s: message parses", what)) {
        return;
    }
    details = sz_report_details(report, 100000, pool);
    tap_ok(result > 0, "%s is refused", what);
    tap_ok(sz_report_has(report, "StUF055"), "%s: reported as StUF055",
           what);
    tap_is_int(result, sz_report_count(report),
               "%s: the result counts the problems", what);
    if (field != NULL) {
        const sz_failure_t *first =
            (const sz_failure_t *)report->failures->elts;

        tap_is(report->failures->nelts ? first->field : NULL, field,
               "%s: the field names the element", what);
    }
    if (secret != NULL && !tap_ok(strstr(details, secret) == NULL,
                                  "%s: the report does not quote the value",
                                  what)) {
        tap_diag("%s", details);
    }
}

static void test_broken_messages_are_refused(const sz_schema_t *schema,
                                             apr_pool_t *pool)
{
    variant_t v;
    char long_text[82];
    const char *many_extra = "<StUF:extraElementen>";
    int i;

    memset(long_text, 'q', 81);
    long_text[81] = '\0';

    v = valid_variant;
    v.omschrijving = long_text;
    expect_refusal(schema, &v, "omschrijving of 81 characters",
                   "object/omschrijving", long_text, pool);

    v = valid_variant;
    v.bsn = "12345678";
    expect_refusal(schema, &v, "BSN of 8 digits",
                   "object/heeftAlsInitiator/gerelateerde/"
                   "natuurlijkPersoon/inp.bsn",
                   "12345678", pool);

    v = valid_variant;
    v.bsn = "1234567890";
    expect_refusal(schema, &v, "BSN of 10 digits", NULL, "1234567890",
                   pool);

    v = valid_variant;
    v.omschrijving = "";
    v.before = "<ZKN:toelichting>Eerst de toelichting</ZKN:toelichting>";
    v.after = "";
    expect_refusal(schema, &v, "toelichting before omschrijving", NULL,
                   "Eerst de toelichting", pool);

    v = valid_variant;
    v.after = "<ZKN:geheim>vertrouwelijk</ZKN:geheim>";
    expect_refusal(schema, &v, "an unknown element in object",
                   "object/geheim", "vertrouwelijk", pool);

    v = valid_variant;
    v.reference = "r2345678901234567890123456789012345678901";
    expect_refusal(schema, &v, "referentienummer of 41 characters",
                   "stuurgegevens/referentienummer", NULL, pool);

    v = valid_variant;
    v.verwerkingssoort = "Q999999999";
    expect_refusal(schema, &v, "an unknown verwerkingssoort",
                   "object/@verwerkingssoort", "Q999999999", pool);

    /* A value holding quotes and libxml2's own words must still vanish
     * whole from the message. */
    v = valid_variant;
    v.startdatum = "2024' is 111222333' has x";
    expect_refusal(schema, &v, "a startdatum with quotes",
                   "object/startdatum", "111222333", pool);

    /* More than 20 problems: only 20 are kept. */
    for (i = 0; i < 25; i++) {
        many_extra = apr_pstrcat(pool, many_extra,
                                 "<StUF:extraElement>x</StUF:extraElement>",
                                 NULL);
    }
    v = valid_variant;
    v.extra = apr_pstrcat(pool, many_extra, "</StUF:extraElementen>", NULL);
    {
        sz_report_t *report;
        int result = 0;

        report = check_text(schema, build_message(pool, &v), pool, &result);
        tap_is_int(result, 20, "25 problems give the result 20");
        tap_is_int(report ? sz_report_count(report) : -1, 20,
                   "25 problems keep 20 in the report");
    }
}

static void test_missing_stuurgegevens_is_refused(const sz_schema_t *schema,
                                                  apr_pool_t *pool)
{
    const char *text = build_message(pool, &valid_variant);
    const char *start = strstr(text, "<ZKN:stuurgegevens>");
    const char *end = strstr(text, "</ZKN:stuurgegevens>");
    sz_report_t *report;
    int result = 0;

    text = apr_pstrcat(pool, apr_pstrmemdup(pool, text, start - text),
                       end + strlen("</ZKN:stuurgegevens>"), NULL);
    report = check_text(schema, text, pool, &result);
    tap_ok(result > 0, "a message without stuurgegevens is refused");
    tap_ok(report && sz_report_has(report, "StUF055"),
           "missing stuurgegevens is StUF055");
    if (report && report->failures->nelts > 0) {
        const sz_failure_t *first =
            (const sz_failure_t *)report->failures->elts;

        tap_ok(strstr(first->text, "stuurgegevens") != NULL,
               "the failure names the expected stuurgegevens");
    }
}

static void test_official_driver_validates(apr_pool_t *pool)
{
    const char *driver = tap_shared(pool, "data/stuf-xsd/libxml2/"
                                          "zkn0310_mutatie_driver.xsd");
    const char *example = tap_shared(pool, "data/examples/lz/"
                                           "MijnZaakNotificaties-results-"
                                           "36DEC8EC-4831-45AC-A464-"
                                           "2DDBA146001F.xml");
    const char *error = NULL;
    sz_schema_t *official;
    sz_report_t *report;

    if (driver == NULL || example == NULL) {
        tap_ok(1, "the official driver validates # SKIP ../shared absent");
        return;
    }
    official = sz_schema_load(driver, pool, &error);
    if (!tap_ok(official != NULL, "the official StUF-ZKN driver compiles")) {
        tap_diag("%s", error ? error : "(no error)");
        return;
    }
    tap_is_int(check_file(official, example, pool, &report), 0,
               "the official driver validates a real LZ example");
}

static void test_missing_file_is_named(apr_pool_t *pool)
{
    const char *error = NULL;
    sz_schema_t *schema;

    schema = sz_schema_load("xsd/does-not-exist.xsd", pool, &error);
    tap_ok(schema == NULL, "a nonexistent schema does not load");
    tap_ok(error != NULL && strstr(error, "xsd/does-not-exist.xsd") != NULL,
           "the error names the missing file");
    tap_diag("%s", error ? error : "(no error)");
}

static void test_broken_schema_is_explained(apr_pool_t *pool)
{
    const char *path = "/tmp/stuflz-test-broken.xsd";
    const char *error = NULL;
    FILE *file = fopen(path, "w");

    if (!tap_ok(file != NULL, "a broken schema can be written")) {
        return;
    }
    fputs("<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">"
          "<xs:element name=\"a\" type=\"xs:nonsense\"/></xs:schema>",
          file);
    fclose(file);
    tap_ok(sz_schema_load(path, pool, &error) == NULL,
           "a schema with an unknown type does not load");
    tap_ok(error != NULL && strstr(error, path) != NULL
               && strstr(error, "nonsense") != NULL,
           "the error names the file and the problem");
    remove(path);
}

/* 192.0.2.1 is a documentation address: a fetch would hang, not pass. */
static void test_network_import_is_refused(apr_pool_t *pool)
{
    const char *path = "/tmp/stuflz-test-network.xsd";
    const char *error = NULL;
    FILE *file = fopen(path, "w");

    if (!tap_ok(file != NULL, "a schema with a network import can be "
                              "written")) {
        return;
    }
    fputs("<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">"
          "<xs:import namespace=\"urn:elsewhere\""
          " schemaLocation=\"http://192.0.2.1/elsewhere.xsd\"/>"
          "<xs:element name=\"a\" type=\"xs:string\"/></xs:schema>",
          file);
    fclose(file);
    tap_ok(sz_schema_load(path, pool, &error) == NULL,
           "a schema importing over http is refused");
    tap_ok(error != NULL && strstr(error, "network") != NULL,
           "the error says a network load was attempted");
    remove(path);
}

typedef struct {
    const sz_schema_t *schema;
    xmlDoc *doc;
    int valid;
    int mismatches;
} worker_t;

static void *validate_repeatedly(void *data)
{
    worker_t *worker = data;
    apr_pool_t *pool;
    int round;

    apr_pool_create(&pool, NULL);
    for (round = 0; round < ROUNDS; round++) {
        sz_report_t *report = sz_report_make(pool);
        int result = sz_schema_validate(worker->schema,
                                        xmlDocGetRootElement(worker->doc),
                                        "StUF055", report);

        if (worker->valid ? result != 0
                          : result == 0 || !sz_report_has(report, "StUF055")) {
            worker->mismatches++;
        }
        apr_pool_clear(pool);
    }
    apr_pool_destroy(pool);
    return NULL;
}

static void test_threads_share_one_schema(const sz_schema_t *schema,
                                          apr_pool_t *pool)
{
    pthread_t threads[THREADS];
    worker_t workers[THREADS];
    variant_t variants[THREADS];
    char long_text[82];
    int i;
    int started = 0;
    int mismatches = 0;

    memset(long_text, 'q', 81);
    long_text[81] = '\0';
    for (i = 0; i < THREADS; i++) {
        variants[i] = valid_variant;
    }
    variants[1].omschrijving = long_text;
    variants[2].bsn = "12345678";
    variants[3].reference = "ref-thread-3";

    for (i = 0; i < THREADS; i++) {
        workers[i].schema = schema;
        workers[i].doc = parse_text(build_message(pool, &variants[i]));
        workers[i].valid = i == 0 || i == 3;
        workers[i].mismatches = 0;
    }
    for (i = 0; i < THREADS; i++) {
        if (pthread_create(&threads[i], NULL, validate_repeatedly,
                           &workers[i]) == 0) {
            started++;
        }
    }
    for (i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
    }
    for (i = 0; i < THREADS; i++) {
        mismatches += workers[i].mismatches;
        xmlFreeDoc(workers[i].doc);
    }
    tap_is_int(started, THREADS, "%d threads start", THREADS);
    tap_is_int(mismatches, 0, "%d threads x %d validations on one schema "
                              "give the right results", THREADS, ROUNDS);
}

int main(void)
{
    apr_pool_t *pool = tap_start();
    apr_pool_t *schema_pool;
    const char *error = NULL;
    sz_schema_t *schema;

    xmlInitParser();
    apr_pool_create(&schema_pool, pool);
    schema = sz_schema_load(tap_project(pool, "xsd/lz-zakLk01.xsd"),
                            schema_pool, &error);
    test_our_schema_compiles(schema, error, pool);
    if (schema == NULL) {
        tap_diag("%s", error ? error : "(no error)");
        return tap_done();
    }

    test_own_valid_message_passes(schema, pool);
    test_shared_examples_validate(schema, "data/examples/lz",
                                  "MijnZaakNotificaties", pool);
    test_shared_examples_validate(schema, "data/examples/stuf/zakLk01",
                                  "ozb-swf-", pool);
    test_soap_example_validates_in_envelope(schema, pool);
    test_broken_messages_are_refused(schema, pool);
    test_missing_stuurgegevens_is_refused(schema, pool);
    test_official_driver_validates(pool);
    test_missing_file_is_named(pool);
    test_broken_schema_is_explained(pool);
    test_network_import_is_refused(pool);
    test_threads_share_one_schema(schema, pool);

    /* The compiled schema goes with its pool. */
    apr_pool_destroy(schema_pool);
    apr_pool_destroy(pool);
    return tap_done();
}

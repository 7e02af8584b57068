/* fuzz_zaklk01.c - libFuzzer target for the zakLk01 extractor with the
 * LZ rules: the stuurgegevens, lz_extract and lz_check on a parsed
 * message (SOAP envelope or bare), then the Fo01 or Bv01 LZ would send,
 * which must be well-formed and may never carry the initiator's BSN in
 * its details. */
#include <string.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "lz.h"
#include "report.h"
#include "stuf.h"
#include "xml.h"

/* 2025-01-01T00:00:00Z; StUF times after it are in the future. */
static const apr_time_t fuzz_now = APR_INT64_C(1735689600) * APR_USEC_PER_SEC;

static lz_options_t options;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *error = NULL;

    fuzz_setup();
    options.zone = sz_tz_load("Europe/Amsterdam", NULL, fuzz_root, &error);
    if (options.zone == NULL) {
        fprintf(stderr, "fuzz: no Europe/Amsterdam zone: %s\n", error);
        exit(1);
    }
    options.skew = apr_time_from_sec(300);
    return 0;
}

static void check_well_formed(const char *element_xml, apr_pool_t *pool,
                              const char *what)
{
    const char *envelope = stuf_soap_envelope(element_xml, pool);
    const char *error = NULL;

    FUZZ_CHECK(sz_xml_parse(envelope, strlen(envelope), pool, &error) != NULL,
               what);
}

static int nine_digits(const char *s)
{
    int i;

    for (i = 0; i < 9; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return s[9] == '\0';
}

/* The answer process.c builds: Bv01, or Fo01 with the report's details. */
static void check_answer(const stuf_stuurgegevens_t *sg,
                         const lz_kennisgeving_t *k, sz_report_t *report,
                         apr_pool_t *pool)
{
    static const stuf_systeem_t lz = {
        "00000004003214345001", "MijnOverheid", "Lopende zaken", NULL
    };
    stuf_answer_head_t head;
    stuf_fout_t fout;

    stuf_answer_head(sg, &lz, fuzz_now, options.zone, pool, &head);
    if (sz_report_count(report) == 0) {
        check_well_formed(stuf_build_bevestiging("Bv01", &head, pool), pool,
                          "Bv01 not well-formed");
        return;
    }

    fout.code = sz_report_leading_code(report);
    fout.omschrijving = NULL;
    fout.details = sz_report_details(report, STUF_DETAILS_MAX, pool);
    FUZZ_CHECK(fout.code != NULL, "failures without a leading code");
    FUZZ_CHECK(sz_utf8_length(fout.details) >= 0 &&
                   sz_utf8_length(fout.details) <= STUF_DETAILS_MAX,
               "details not UTF-8 or too long");
    FUZZ_CHECK(k->bsn == NULL || !nine_digits(k->bsn) ||
                   strstr(fout.details, k->bsn) == NULL,
               "a BSN in the fout details");
    check_well_formed(stuf_build_fout("Fo01", &head, &fout, pool), pool,
                      "Fo01 not well-formed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stuf_stuurgegevens_t sg;
    lz_kennisgeving_t k;
    const char *error = NULL;
    sz_report_t *report;
    xmlNode *message;
    apr_pool_t *pool;
    xmlDoc *doc;
    int failures;

    apr_pool_create(&pool, fuzz_root);

    /* 1. The message element: the SOAP Body's child, or a bare root. */
    doc = sz_xml_parse((const char *)data, size, pool, &error);
    if (doc == NULL) {
        apr_pool_destroy(pool);
        return 0;
    }
    message = sz_xml_soap_body_child(doc, &error);
    if (message == NULL) {
        message = xmlDocGetRootElement(doc);
    }
    if (message == NULL) {
        apr_pool_destroy(pool);
        return 0;
    }

    /* 2. Stuurgegevens, fields, rules, in process.c's order. */
    memset(&sg, 0, sizeof(sg));
    if (stuf_read_stuurgegevens(message, pool, &sg) == 0) {
        stuf_berichtcode_known(sg.berichtcode);
        stuf_entiteittype_known(sg.entiteittype);
        stuf_systeem_key(&sg.zender, pool);
    }
    report = sz_report_make(pool);
    memset(&k, 0, sizeof(k));
    if (lz_extract(message, pool, &k, report) != 0) {
        apr_pool_destroy(pool);
        return 0;
    }
    failures = sz_report_count(report);
    FUZZ_CHECK(lz_check(&k, &options, fuzz_now, report) ==
                   sz_report_count(report) - failures,
               "lz_check miscounts its failures");
    lz_status_key(k.datum_status_gezet, pool);
    lz_gemeentecode(k.identificatie, pool);

    /* 3. The answer. */
    check_answer(&sg, &k, report, pool);

    apr_pool_destroy(pool);
    return 0;
}

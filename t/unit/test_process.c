/* test_process.c - the SOAP pipeline without a store: which answer each
 * kind of message gets (Bv01, Fo01 with its code, Fo03 in a Fault), and
 * that no answer carries the BSN. Messages are our example with one
 * thing changed. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <libxml/parser.h>

#include "process.h"
#include "tap.h"

static const char *example;
static sz_process_config_t config;

static const char *replace(apr_pool_t *pool, const char *text,
                           const char *from, const char *to)
{
    const char *at = strstr(text, from);

    if (at == NULL) {
        tap_diag("fixture lacks '%s'", from);
        return text;
    }
    return apr_pstrcat(pool, apr_pstrndup(pool, text, at - text), to,
                       at + strlen(from), NULL);
}

static void run(apr_pool_t *pool, const char *body, sz_process_result_t *out)
{
    sz_process_soap(&config, NULL, NULL, body, strlen(body), apr_time_now(),
                    pool, out);
}

static int load_example(apr_pool_t *pool)
{
    const char *path = tap_project(pool, "t/data/zakLk01-voorbeeld.xml");
    FILE *file = fopen(path, "rb");
    char *data = apr_palloc(pool, 65536);
    size_t n;

    if (file == NULL) {
        return -1;
    }
    n = fread(data, 1, 65535, file);
    fclose(file);
    data[n] = '\0';
    example = data;
    return 0;
}

static void setup(apr_pool_t *pool)
{
    sz_partner_t *partner = apr_pcalloc(pool, sizeof(*partner));
    const char *error = NULL;

    memset(&config, 0, sizeof(config));
    config.receiver.organisatie = "00000004003214345001";
    config.receiver.applicatie = "MijnOverheid";
    config.receiver.administratie = "Lopende zaken";
    config.partners = apr_hash_make(pool);
    partner->oin = "00000001234567890363";
    partner->gemeentecodes = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(partner->gemeentecodes, const char *) = "0363";
    apr_hash_set(config.partners, partner->oin, APR_HASH_KEY_STRING,
                 partner);
    config.lz.zone = sz_tz_load("Europe/Amsterdam", NULL, pool, &error);
    config.lz.skew = apr_time_from_sec(300);
    config.schema = sz_schema_load(tap_project(pool, "xsd/lz-zakLk01.xsd"),
                                   pool, &error);
    if (config.schema == NULL) {
        tap_diag("schema: %s", error);
    }
}

static void test_example_is_accepted(apr_pool_t *pool)
{
    sz_process_result_t r;

    run(pool, example, &r);
    tap_is_int(r.answer, SZ_ANSWER_BV01, "example gets a Bv01");
    tap_is_int(r.http_status, 200, "with HTTP 200");
    tap_ok(strstr(r.body, "Bv03Bericht") != NULL, "the answer now is Bv03");
    tap_ok(strstr(r.functional_xml, "Bv01Bericht") != NULL,
           "the functional answer is Bv01");
    tap_ok(strstr(r.functional_xml, "<StUF:crossRefnummer>vb-2024-0001-"
                  "status-2</StUF:crossRefnummer>") != NULL,
           "Bv01 refers to the kennisgeving");
    tap_is(r.zaakidentificatie, "0363VB20240001", "zaak named for logs");
}

static void expect_fo01(apr_pool_t *pool, const char *body, const char *code,
                        const char *needle, const char *name)
{
    sz_process_result_t r;

    run(pool, body, &r);
    tap_is_int(r.answer, SZ_ANSWER_FO01, "%s: Fo01", name);
    tap_is_int(r.http_status, 200, "%s: still HTTP 200 with Bv03", name);
    tap_is(r.fout_code, code, "%s: code %s", name, code);
    if (needle) {
        tap_ok(r.functional_xml && strstr(r.functional_xml, needle),
               "%s: details mention %s", name, needle);
    }
    tap_ok(r.functional_xml && !strstr(r.functional_xml, "99999365"),
           "%s: no BSN in the answer", name);
}

static void test_content_errors_get_fo01(apr_pool_t *pool)
{
    const char *long_omschrijving = apr_pstrcat(pool,
        "<ZKN:omschrijving>", apr_psprintf(pool, "%081d", 0),
        "</ZKN:omschrijving>", NULL);
    const char *two;

    expect_fo01(pool, replace(pool, example, "999993653", "999993654"),
                "StUF058", "inp.bsn", "BSN failing the 11-proef");
    expect_fo01(pool, replace(pool, example, "<StUF:mutatiesoort>T<",
                              "<StUF:mutatiesoort>W<"),
                "StUF058", "W", "mutatiesoort W");
    expect_fo01(pool, replace(pool, example,
                              "<ZKN:identificatie>0363",
                              "<ZKN:identificatie>0599"),
                "StUF052", "0599", "zaak of another gemeente");
    expect_fo01(pool, replace(pool, example,
                              "<ZKN:omschrijving>Aanvraag omgevingsvergunning"
                              " dakkapel</ZKN:omschrijving>",
                              long_omschrijving),
                "StUF055", "omschrijving", "omschrijving of 81 characters");
    expect_fo01(pool, replace(pool, example,
                              "<ZKN:datumStatusGezet>202411051030",
                              "<ZKN:datumStatusGezet>209911051030"),
                "StUF058", "datumStatusGezet", "status in the future");
    two = replace(pool, example, "999993653", "999993654");
    two = replace(pool, two, "<ZKN:startdatum>20241101",
                  "<ZKN:startdatum>20230229");
    {
        sz_process_result_t r;

        run(pool, two, &r);
        tap_is_int(sz_report_count(r.report), 2,
                   "two failures in one message are both reported");
    }
}

static void expect_fo03(apr_pool_t *pool, const char *body, const char *code,
                        const char *name)
{
    sz_process_result_t r;

    run(pool, body, &r);
    tap_is_int(r.answer, SZ_ANSWER_FO03, "%s: Fo03", name);
    tap_is_int(r.http_status, 500, "%s: HTTP 500", name);
    tap_is(r.fout_code, code, "%s: code %s", name, code);
    tap_ok(strstr(r.body, "<faultcode>") && strstr(r.body, "Fo03Bericht"),
           "%s: SOAP Fault with Fo03", name);
}

static void test_receipt_errors_get_fo03(apr_pool_t *pool)
{
    expect_fo03(pool, replace(pool, example, "<StUF:organisatie>"
                              "00000004003214345001",
                              "<StUF:organisatie>00000004003214345999"),
                "StUF010", "other ontvanger");
    expect_fo03(pool, replace(pool, example, "00000001234567890363",
                              "00000001234567890599"),
                "StUF013", "unknown zender");
    expect_fo03(pool, replace(pool, example, ">Lk01<", ">Lv01<"),
                "StUF025", "known berichtcode Lv01");
    expect_fo03(pool, replace(pool, example, ">Lk01<", ">Xx99<"),
                "StUF022", "unknown berichtcode");
    expect_fo03(pool, replace(pool, example,
                              "<StUF:entiteittype>ZAK<",
                              "<StUF:entiteittype>EDC<"),
                "StUF031", "entiteittype EDC");
    expect_fo03(pool, replace(pool, example,
                              "<StUF:entiteittype>ZAK<",
                              "<StUF:entiteittype>XYZ<"),
                "StUF028", "unknown entiteittype");
}

static void test_not_soap_gets_plain_fault(apr_pool_t *pool)
{
    sz_process_result_t r;

    run(pool, "<a><b></a>", &r);
    tap_is_int(r.answer, SZ_ANSWER_FAULT, "malformed XML: plain Fault");
    tap_ok(strstr(r.body, "soap:Client") != NULL, "faultcode Client");
    run(pool, "<zakLk01/>", &r);
    tap_is_int(r.answer, SZ_ANSWER_FAULT, "not SOAP: plain Fault");
    tap_ok(strstr(r.body, "Envelope") != NULL, "faultstring says why");
}

int main(void)
{
    apr_pool_t *pool = tap_start();

    xmlInitParser();
    if (load_example(pool) != 0) {
        tap_skip_all("t/data/zakLk01-voorbeeld.xml not found");
    }
    setup(pool);
    test_example_is_accepted(pool);
    test_content_errors_get_fo01(pool);
    test_receipt_errors_get_fo03(pool);
    test_not_soap_gets_plain_fault(pool);
    apr_pool_destroy(pool);
    return tap_done();
}

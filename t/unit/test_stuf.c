/* test_stuf.c - the answers LZ builds (Bv01, Bv03, Fo01, Fo03 and the
 * SOAP Fault) have swapped zender/ontvanger, a crossRefnummer, StUF's
 * limits, and are valid against the official StUF schema when present. */
#include <string.h>

#include <apr_strings.h>
#include <libxml/parser.h>

#include "schema.h"
#include "stuf.h"
#include "tap.h"
#include "xml.h"

static stuf_stuurgegevens_t kennisgeving(void)
{
    stuf_stuurgegevens_t sg;

    memset(&sg, 0, sizeof(sg));
    sg.berichtcode = "Lk01";
    sg.has_zender = 1;
    sg.zender.organisatie = "00000001234567890363";
    sg.zender.applicatie = "Zaaksysteem";
    sg.zender.administratie = "Burgerzaken & Co";
    sg.has_ontvanger = 1;
    sg.referentienummer = "ref-1";
    sg.entiteittype = "ZAK";
    return sg;
}

static const stuf_systeem_t lz = {
    "00000004003214345001", "MijnOverheid", "Lopende zaken", NULL
};

static xmlNode *root_of(apr_pool_t *pool, const char *xml)
{
    const char *error = NULL;
    xmlDoc *doc = sz_xml_parse(xml, strlen(xml), pool, &error);

    if (doc == NULL) {
        tap_diag("parse: %s", error);
        return NULL;
    }
    return xmlDocGetRootElement(doc);
}

static void test_answer_head_swaps_and_refers(apr_pool_t *pool)
{
    stuf_stuurgegevens_t sg = kennisgeving();
    stuf_answer_head_t head;
    apr_time_t summer = apr_time_from_sec(1719835200);  /* 2024-07-01 12:00Z */
    const char *error = NULL;
    sz_tz_t *zone = sz_tz_load("Europe/Amsterdam", NULL, pool, &error);

    stuf_answer_head(&sg, &lz, summer, zone, pool, &head);
    tap_is(head.zender.organisatie, lz.organisatie, "LZ is the zender");
    tap_is(head.ontvanger.organisatie, sg.zender.organisatie,
           "sender is the ontvanger");
    tap_is(head.cross_refnummer, "ref-1", "crossRefnummer is theirs");
    tap_ok(strncmp(head.referentienummer, "lz-", 3) == 0 &&
           strlen(head.referentienummer) == 35, "own referentienummer");
    tap_ok(strcmp(head.referentienummer,
                  stuf_new_referentienummer(pool)) != 0,
           "referentienummers differ");
    if (zone) {
        tap_is(head.tijdstip_bericht, "20240701140000000",
               "tijdstipBericht in Amsterdam summer time");
    }
    else {
        tap_ok(0, "Europe/Amsterdam loads: %s", error);
    }
}

static void test_fout_limits(apr_pool_t *pool)
{
    stuf_stuurgegevens_t sg = kennisgeving();
    stuf_answer_head_t head;
    stuf_fout_t fout;
    char long_text[3000];
    const char *xml;
    xmlNode *root;
    xmlNode *body;

    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    stuf_answer_head(&sg, &lz, apr_time_now(), NULL, pool, &head);
    fout.code = "StUF058";
    fout.omschrijving = long_text;
    fout.details = long_text;
    xml = stuf_build_fout("Fo01", &head, &fout, pool);
    root = root_of(pool, xml);
    body = sz_xml_child(root, STUF_NS, "body");
    tap_is_int(strlen(sz_xml_text(sz_xml_child(body, STUF_NS,
                                               "omschrijving"), pool)),
               200, "omschrijving cut to 200");
    tap_is_int(strlen(sz_xml_text(sz_xml_child(body, STUF_NS, "details"),
                                  pool)), 1000, "details cut to 1000");
    tap_is(sz_xml_text(sz_xml_child(body, STUF_NS, "plek"), pool), "server",
           "StUF058 has plek server");
    tap_is(stuf_fout_plek("StUF013"), "client", "StUF013 has plek client");
}

static void test_fault_carries_fo03(apr_pool_t *pool)
{
    stuf_stuurgegevens_t sg = kennisgeving();
    stuf_answer_head_t head;
    stuf_fout_t fout = { "StUF010", NULL, NULL };
    const char *fault;
    xmlNode *root;
    xmlNode *fault_node;

    stuf_answer_head(&sg, &lz, apr_time_now(), NULL, pool, &head);
    fault = stuf_soap_fault("client", stuf_fout_omschrijving("StUF010"),
                            stuf_build_fout("Fo03", &head, &fout, pool),
                            pool);
    root = root_of(pool, fault);
    fault_node = sz_xml_child(sz_xml_child(root, SZ_NS_SOAP11, "Body"),
                              SZ_NS_SOAP11, "Fault");
    tap_is(sz_xml_text(sz_xml_child(fault_node, NULL, "faultcode"), pool),
           "soap:Client", "faultcode Client for plek client");
    tap_ok(sz_xml_child(sz_xml_child(fault_node, NULL, "detail"), STUF_NS,
                        "Fo03Bericht") != NULL, "detail holds the Fo03");
}

static void test_answers_valid_against_official_schema(apr_pool_t *pool)
{
    const char *driver = tap_shared(pool,
        "data/stuf-xsd/libxml2/zkn0310_mutatie_driver.xsd");
    static const char *const kinds[] = { "Bv01", "Bv03", "Fo01", "Fo03" };
    stuf_stuurgegevens_t sg = kennisgeving();
    stuf_answer_head_t head;
    const char *error = NULL;
    sz_schema_t *schema;
    int i;

    if (driver == NULL) {
        tap_ok(1, "# SKIP official StUF schema not present");
        return;
    }
    schema = sz_schema_load(driver, pool, &error);
    if (!tap_ok(schema != NULL, "official driver compiles")) {
        tap_diag("%s", error);
        return;
    }
    sg.referentienummer = "een-referentienummer-dat-langer-is-dan-veertig";
    stuf_answer_head(&sg, &lz, apr_time_now(), NULL, pool, &head);
    for (i = 0; i < 4; i++) {
        stuf_fout_t fout = { "StUF058", NULL, "details & <meer>" };
        const char *xml = kinds[i][0] == 'B'
            ? stuf_build_bevestiging(kinds[i], &head, pool)
            : stuf_build_fout(kinds[i], &head, &fout, pool);
        sz_report_t *report = sz_report_make(pool);
        xmlNode *root = root_of(pool, xml);

        tap_ok(root && sz_schema_validate(schema, root, "StUF055",
                                          report) == 0,
               "%s valid against stuf0301.xsd", kinds[i]);
        if (sz_report_count(report)) {
            tap_diag("%s", sz_report_details(report, 1000, pool));
        }
    }
}

int main(void)
{
    apr_pool_t *pool = tap_start();

    xmlInitParser();
    test_answer_head_swaps_and_refers(pool);
    test_fout_limits(pool);
    test_fault_carries_fo03(pool);
    test_answers_valid_against_official_schema(pool);
    apr_pool_destroy(pool);
    return tap_done();
}

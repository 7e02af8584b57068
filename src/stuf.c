/* stuf.c - stuurgegevens, fout codes and the StUF answers LZ sends
 * (see stuf.h). Answers are written as text with every value escaped;
 * their shape follows stuf0301.xsd (Bv01Bericht, Bv03Bericht,
 * Fo01Bericht, Fo03Bericht) and a test validates them against it. */
#include "stuf.h"

#include <string.h>

#include <apr_strings.h>
#include <openssl/rand.h>

#include "report.h"
#include "xml.h"

/* A zender or ontvanger element; returns whether it was there. */
static int read_systeem(const xmlNode *node, apr_pool_t *pool,
                        stuf_systeem_t *out)
{
    if (node == NULL) {
        return 0;
    }
    out->organisatie = sz_xml_text(sz_xml_child(node, STUF_NS,
                                                "organisatie"), pool);
    out->applicatie = sz_xml_text(sz_xml_child(node, STUF_NS, "applicatie"),
                                  pool);
    out->administratie = sz_xml_text(sz_xml_child(node, STUF_NS,
                                                  "administratie"), pool);
    out->gebruiker = sz_xml_text(sz_xml_child(node, STUF_NS, "gebruiker"),
                                 pool);
    return 1;
}

int stuf_read_stuurgegevens(const xmlNode *message, apr_pool_t *pool,
                            stuf_stuurgegevens_t *out)
{
    const xmlNode *sg = sz_xml_child(message, NULL, "stuurgegevens");
    const xmlNode *node;

    memset(out, 0, sizeof(*out));
    if (sg == NULL) {
        return -1;
    }

    out->berichtcode = sz_xml_text(sz_xml_child(sg, STUF_NS, "berichtcode"),
                                   pool);
    node = sz_xml_child(sg, STUF_NS, "zender");
    out->has_zender = read_systeem(node, pool, &out->zender);
    node = sz_xml_child(sg, STUF_NS, "ontvanger");
    out->has_ontvanger = read_systeem(node, pool, &out->ontvanger);
    out->referentienummer =
        sz_xml_text(sz_xml_child(sg, STUF_NS, "referentienummer"), pool);
    out->tijdstip_bericht =
        sz_xml_text(sz_xml_child(sg, STUF_NS, "tijdstipBericht"), pool);
    out->entiteittype =
        sz_xml_text(sz_xml_child(sg, STUF_NS, "entiteittype"), pool);
    out->cross_refnummer =
        sz_xml_text(sz_xml_child(sg, STUF_NS, "crossRefnummer"), pool);
    out->functie = sz_xml_text(sz_xml_child(sg, STUF_NS, "functie"), pool);
    return 0;
}

const char *stuf_systeem_key(const stuf_systeem_t *systeem,
                             apr_pool_t *pool)
{
    return apr_pstrcat(pool,
                       systeem->organisatie ? systeem->organisatie : "",
                       "\x1f", systeem->applicatie ? systeem->applicatie : "",
                       "\x1f",
                       systeem->administratie ? systeem->administratie : "",
                       NULL);
}

static int same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int stuf_systeem_equal(const stuf_systeem_t *a, const stuf_systeem_t *b)
{
    return same_text(a->organisatie, b->organisatie) &&
           same_text(a->applicatie, b->applicatie) &&
           same_text(a->administratie, b->administratie);
}

static int in_list(const char *word, const char *const *list)
{
    int i;

    if (word == NULL) {
        return 0;
    }
    for (i = 0; list[i]; i++) {
        if (strcmp(word, list[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int stuf_berichtcode_known(const char *berichtcode)
{
    static const char *const codes[] = {
        "Lk01", "Lk02", "Lk03", "Lk04", "Lk05", "Lk06", "Lv01", "Lv02",
        "Lv03", "Lv04", "Lv05", "Lv06", "Lv07", "Lv08", "La01", "La02",
        "La03", "La04", "La05", "La06", "La07", "La08", "La09", "La10",
        "Sh01", "Sh02", "Sh03", "Sh04", "Sa01", "Sa02", "Sa03", "Sa04",
        "Di01", "Di02", "Du01", "Du02", "Bv01", "Bv02", "Bv03", "Bv04",
        "Fo01", "Fo02", "Fo03", "Tr01", NULL
    };

    return in_list(berichtcode, codes);
}

int stuf_entiteittype_known(const char *entiteittype)
{
    /* The objecttypes of StUF-ZKN 3.10 (zkn0310_msg_mutatie.xsd). */
    static const char *const types[] = {
        "ZAK", "EDC", "BSL", "STT", "ZKT", "RST", "DCT", "BST", "ZTG",
        "AFW", "KDC", "KCT", "MDW", "OEH", "NPS", "NNP", "VES", "SUB",
        "ADR", "CTP", "RLT", "ROL", "STA", "BTR", NULL
    };

    return in_list(entiteittype, types);
}

typedef struct {
    const char *code;
    const char *plek;
    const char *omschrijving;
} fout_code_t;

/* StUF 03.01 Tabel 4.1 and 5.8, the codes LZ can give. */
static const fout_code_t fout_codes[] = {
    {"StUF010", "client", "Combinatie van ontvangende organisatie, "
     "applicatie en administratie onbekend"},
    {"StUF013", "client", "Combinatie van zendende organisatie, applicatie "
     "en administratie onbekend"},
    {"StUF016", "client", "Combinatie zender en referentienummer niet "
     "uniek"},
    {"StUF022", "client", "Berichtcode onbekend"},
    {"StUF025", "server", "Berichtcode niet ondersteund"},
    {"StUF028", "client", "Entiteittype onbekend binnen sectormodel"},
    {"StUF031", "server", "Entiteittype niet ondersteund"},
    {"StUF040", "server", "Combinatie van berichtcode, entiteittype en "
     "functie niet ondersteund"},
    {"StUF046", "server", "Opslaan bericht niet mogelijk"},
    {"StUF052", "client", "Het zendende systeem is niet geautoriseerd voor "
     "de gevraagde combinatie van berichtcode, entiteittype en functie"},
    {"StUF055", "client", "Berichtbody is niet conform schema in "
     "sectormodel"},
    {"StUF058", "server", "Proces voor afhandelen bericht geeft fout"},
    {NULL, NULL, NULL}
};

static const fout_code_t *find_fout(const char *code)
{
    int i;

    for (i = 0; fout_codes[i].code; i++) {
        if (strcmp(fout_codes[i].code, code) == 0) {
            return &fout_codes[i];
        }
    }
    return NULL;
}

const char *stuf_fout_omschrijving(const char *code)
{
    const fout_code_t *fout = find_fout(code);

    return fout ? fout->omschrijving : "Fout bij verwerken bericht";
}

const char *stuf_fout_plek(const char *code)
{
    const fout_code_t *fout = find_fout(code);

    return fout ? fout->plek : "server";
}

const char *stuf_new_referentienummer(apr_pool_t *pool)
{
    unsigned char random[16];
    char *text = apr_palloc(pool, 3 + 32 + 1);
    int i;

    if (RAND_bytes(random, sizeof(random)) != 1) {
        /* OpenSSL's generator failing is rare; time still keeps the
         * number unique for one process. */
        apr_time_t now = apr_time_now();

        memset(random, 0, sizeof(random));
        memcpy(random, &now, sizeof(now));
    }
    memcpy(text, "lz-", 3);
    for (i = 0; i < 16; i++) {
        static const char hex[] = "0123456789abcdef";

        text[3 + 2 * i] = hex[random[i] >> 4];
        text[4 + 2 * i] = hex[random[i] & 15];
    }
    text[35] = '\0';
    return text;
}

const char *stuf_tijdstip(apr_time_t now, const sz_tz_t *zone,
                          apr_pool_t *pool)
{
    apr_time_exp_t t;
    long offset = 0;

    if (zone) {
        offset = sz_tz_offset_at(zone, apr_time_sec(now));
    }
    apr_time_exp_tz(&t, now, (apr_int32_t)offset);
    return apr_psprintf(pool, "%04d%02d%02d%02d%02d%02d%03d",
                        t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                        t.tm_hour, t.tm_min, t.tm_sec, t.tm_usec / 1000);
}

void stuf_answer_head(const stuf_stuurgegevens_t *message,
                      const stuf_systeem_t *own_identity,
                      apr_time_t now, const sz_tz_t *zone,
                      apr_pool_t *pool, stuf_answer_head_t *out)
{
    memset(out, 0, sizeof(*out));
    out->zender = *own_identity;
    out->ontvanger = message->zender;
    out->referentienummer = stuf_new_referentienummer(pool);
    out->tijdstip_bericht = stuf_tijdstip(now, zone, pool);
    out->cross_refnummer = message->referentienummer;
}

static const char *systeem_xml(const char *element,
                               const stuf_systeem_t *systeem,
                               apr_pool_t *pool)
{
    const char *xml = apr_pstrcat(pool, "<StUF:", element, ">", NULL);

    if (systeem->organisatie && *systeem->organisatie) {
        xml = apr_pstrcat(pool, xml, "<StUF:organisatie>",
                          sz_xml_escape(systeem->organisatie, pool),
                          "</StUF:organisatie>", NULL);
    }
    xml = apr_pstrcat(pool, xml, "<StUF:applicatie>",
                      sz_xml_escape(systeem->applicatie, pool),
                      "</StUF:applicatie>", NULL);
    if (systeem->administratie && *systeem->administratie) {
        xml = apr_pstrcat(pool, xml, "<StUF:administratie>",
                          sz_xml_escape(systeem->administratie, pool),
                          "</StUF:administratie>", NULL);
    }
    if (systeem->gebruiker && *systeem->gebruiker) {
        xml = apr_pstrcat(pool, xml, "<StUF:gebruiker>",
                          sz_xml_escape(systeem->gebruiker, pool),
                          "</StUF:gebruiker>", NULL);
    }
    return apr_pstrcat(pool, xml, "</StUF:", element, ">", NULL);
}

/* The StUF schema requires a crossRefnummer (Refnummer, at most 40
 * characters); a message without a usable one is answered with "0". */
static const char *cross_ref(const char *refnummer, apr_pool_t *pool)
{
    long length;

    if (refnummer == NULL || *refnummer == '\0') {
        return "0";
    }
    length = sz_utf8_length(refnummer);
    if (length < 0) {
        return "0";
    }
    if (length > 40) {
        return sz_utf8_prefix(refnummer, 40, pool);
    }
    return refnummer;
}

static const char *stuurgegevens_xml(const char *berichtcode,
                                     const stuf_answer_head_t *head,
                                     apr_pool_t *pool)
{
    return apr_pstrcat(pool,
        "<StUF:stuurgegevens>"
        "<StUF:berichtcode>", berichtcode, "</StUF:berichtcode>",
        systeem_xml("zender", &head->zender, pool),
        systeem_xml("ontvanger", &head->ontvanger, pool),
        "<StUF:referentienummer>", sz_xml_escape(head->referentienummer,
                                                 pool),
        "</StUF:referentienummer>"
        "<StUF:tijdstipBericht>", head->tijdstip_bericht,
        "</StUF:tijdstipBericht>"
        "<StUF:crossRefnummer>",
        sz_xml_escape(cross_ref(head->cross_refnummer, pool), pool),
        "</StUF:crossRefnummer>"
        "</StUF:stuurgegevens>", NULL);
}

const char *stuf_build_bevestiging(const char *berichtcode,
                                   const stuf_answer_head_t *head,
                                   apr_pool_t *pool)
{
    return apr_pstrcat(pool, "<StUF:", berichtcode, "Bericht xmlns:StUF=\"",
                       STUF_NS, "\">",
                       stuurgegevens_xml(berichtcode, head, pool),
                       "</StUF:", berichtcode, "Bericht>", NULL);
}

const char *stuf_build_fout(const char *berichtcode,
                            const stuf_answer_head_t *head,
                            const stuf_fout_t *fout, apr_pool_t *pool)
{
    const char *omschrijving = fout->omschrijving
                                   ? fout->omschrijving
                                   : stuf_fout_omschrijving(fout->code);
    const char *details = "";

    omschrijving = sz_utf8_prefix(omschrijving, STUF_OMSCHRIJVING_MAX, pool);
    if (fout->details && *fout->details) {
        details = apr_pstrcat(pool, "<StUF:details>",
            sz_xml_escape(sz_utf8_prefix(fout->details, STUF_DETAILS_MAX,
                                         pool), pool),
            "</StUF:details>", NULL);
    }
    return apr_pstrcat(pool, "<StUF:", berichtcode, "Bericht xmlns:StUF=\"",
                       STUF_NS, "\">",
                       stuurgegevens_xml(berichtcode, head, pool),
                       "<StUF:body>"
                       "<StUF:code>", fout->code, "</StUF:code>"
                       "<StUF:plek>", stuf_fout_plek(fout->code),
                       "</StUF:plek>"
                       "<StUF:omschrijving>",
                       sz_xml_escape(omschrijving, pool),
                       "</StUF:omschrijving>", details,
                       "</StUF:body>"
                       "</StUF:", berichtcode, "Bericht>", NULL);
}

const char *stuf_soap_envelope(const char *element_xml, apr_pool_t *pool)
{
    return apr_pstrcat(pool,
                       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<soap:Envelope xmlns:soap=\"", SZ_NS_SOAP11, "\">"
                       "<soap:Body>", element_xml, "</soap:Body>"
                       "</soap:Envelope>\n", NULL);
}

const char *stuf_soap_fault(const char *plek, const char *faultstring,
                            const char *detail_xml, apr_pool_t *pool)
{
    const char *code = strcmp(plek, "client") == 0 ? "soap:Client"
                       : strcmp(plek, "mustunderstand") == 0
                           ? "soap:MustUnderstand" : "soap:Server";

    return stuf_soap_envelope(
        apr_pstrcat(pool, "<soap:Fault><faultcode>", code, "</faultcode>"
                    "<faultstring>", sz_xml_escape(faultstring, pool),
                    "</faultstring>",
                    detail_xml ? "<detail>" : "",
                    detail_xml ? detail_xml : "",
                    detail_xml ? "</detail>" : "",
                    "</soap:Fault>", NULL),
        pool);
}

/* process.c - one zakLk01 from request body to answer (see process.h).
 * Order matters: receipt checks first (they decide between a Fault and a
 * Bv03), then every content check so all failures are reported at once,
 * then the single store transaction, and only then the answer. */
#include "process.h"

#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "xml.h"

#define LZ_NS_ZKN_ROOT "zakLk01"

static void set_body(sz_process_result_t *out, const char *body)
{
    out->body = body;
    out->body_len = strlen(body);
}

void sz_process_fault(const char *plek, const char *faultstring,
                      apr_pool_t *pool, sz_process_result_t *out)
{
    out->answer = SZ_ANSWER_FAULT;
    out->http_status = 500;
    out->log_text = faultstring;
    set_body(out, stuf_soap_fault(plek, faultstring, NULL, pool));
}

/* A receipt error on the SOAP binding: HTTP 500 with a Fault carrying
 * the exam's Fo03. */
static void receipt_fault(const sz_stuf_exam_t *exam, apr_pool_t *pool,
                          sz_process_result_t *out)
{
    out->answer = SZ_ANSWER_FO03;
    out->http_status = 500;
    out->fout_code = exam->fout_code;
    out->functional_xml = exam->functional_xml;
    out->log_text = exam->details ? exam->details
                                  : stuf_fout_omschrijving(exam->fout_code);
    set_body(out, stuf_soap_fault(stuf_fout_plek(exam->fout_code),
                                  stuf_fout_omschrijving(exam->fout_code),
                                  exam->functional_xml, pool));
}

/* The receipt checks of the stuurgegevens (StUF 03.01 Tabel 4.1).
 * Returns the fout code, or NULL when the message may be received. */
static const char *check_receipt(const sz_process_config_t *config,
                                 const xmlNode *message,
                                 const stuf_stuurgegevens_t *sg,
                                 const char **details, apr_pool_t *pool)
{
    *details = NULL;
    if (sg->berichtcode == NULL || strcmp(sg->berichtcode, "Lk01") != 0) {
        *details = apr_psprintf(pool, "LZ ontvangt alleen Lk01 (zakLk01)");
        return stuf_berichtcode_known(sg->berichtcode) ? "StUF025"
                                                       : "StUF022";
    }
    if (sg->entiteittype == NULL || strcmp(sg->entiteittype, "ZAK") != 0) {
        *details = "LZ ontvangt alleen kennisgevingen over entiteittype ZAK";
        return stuf_entiteittype_known(sg->entiteittype) ? "StUF031"
                                                         : "StUF028";
    }
    if (!sz_xml_is(message, LZ_NS_ZKN, LZ_NS_ZKN_ROOT)) {
        *details = "berichtelement is geen ZKN:zakLk01 (StUF-ZKN 0310)";
        return "StUF040";
    }
    if (!sg->has_ontvanger ||
        !stuf_systeem_equal(&sg->ontvanger, &config->receiver)) {
        *details = apr_psprintf(pool, "ontvanger moet organisatie %s, "
                                "applicatie %s, administratie %s zijn",
                                config->receiver.organisatie,
                                config->receiver.applicatie,
                                config->receiver.administratie
                                    ? config->receiver.administratie : "");
        return "StUF010";
    }
    if (!sg->has_zender || sg->zender.organisatie == NULL ||
        *sg->zender.organisatie == '\0') {
        *details = "zender zonder organisatie (OIN)";
        return "StUF013";
    }
    if (config->partners &&
        apr_hash_get(config->partners, sg->zender.organisatie,
                     APR_HASH_KEY_STRING) == NULL) {
        *details = "zendende organisatie is niet aangemeld bij LZ";
        return "StUF013";
    }
    if (sg->referentienummer == NULL || *sg->referentienummer == '\0') {
        *details = "referentienummer ontbreekt";
        return "StUF013";
    }
    return NULL;
}

/* StUF052: a sender may only report zaken of its own gemeentecodes. */
static void check_authorisation(const sz_process_config_t *config,
                                const stuf_stuurgegevens_t *sg,
                                const lz_kennisgeving_t *k,
                                sz_report_t *report, apr_pool_t *pool)
{
    const sz_partner_t *partner;
    const char *code;
    int i;

    if (config->partners == NULL || k->identificatie == NULL) {
        return;
    }
    code = lz_gemeentecode(k->identificatie, pool);
    if (code == NULL) {
        return;     /* the LZ rules already report the identificatie */
    }
    partner = apr_hash_get(config->partners, sg->zender.organisatie,
                           APR_HASH_KEY_STRING);
    if (partner == NULL) {
        return;
    }
    for (i = 0; i < partner->gemeentecodes->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(partner->gemeentecodes, i, const char *),
                   code) == 0) {
            return;
        }
    }
    sz_report_add(report, "StUF052", "object.identificatie",
                  "gemeentecode %s hoort niet bij de zender", code);
}

static void digest_of(const xmlNode *message, apr_pool_t *pool,
                      unsigned char digest[STORE_DIGEST_LEN])
{
    apr_size_t len;
    const char *bytes = sz_xml_dump(message, pool, &len);
    unsigned int out_len = 0;

    EVP_Digest(bytes, len, digest, &out_len, EVP_sha256(), NULL);
}

static const char *leading_omschrijving(const char *code)
{
    if (strcmp(code, "StUF058") == 0) {
        return "Kennisgeving voldoet niet aan de regels van Lopende Zaken";
    }
    return NULL;
}

void sz_stuf_exam_fo03(const sz_process_config_t *config,
                       sz_stuf_exam_t *exam, const char *code,
                       const char *details, apr_time_t now,
                       apr_pool_t *pool)
{
    stuf_fout_t fout = { code, NULL, details };

    stuf_answer_head(&exam->sg, &config->receiver, now, config->lz.zone,
                     pool, &exam->head);
    exam->answer = SZ_ANSWER_FO03;
    exam->fout_code = code;
    exam->details = details;
    exam->functional_xml = stuf_build_fout("Fo03", &exam->head, &fout,
                                           pool);
}

int sz_stuf_examine(const sz_process_config_t *config, xmlNode *message,
                    apr_time_t now, apr_pool_t *pool, sz_stuf_exam_t *exam)
{
    const char *details;
    const char *code;

    memset(exam, 0, sizeof(*exam));
    exam->report = sz_report_make(pool);
    if (stuf_read_stuurgegevens(message, pool, &exam->sg) != 0) {
        return -1;
    }
    digest_of(message, pool, exam->digest);

    /* 1. Receipt checks on the stuurgegevens: Fo03. */
    code = check_receipt(config, message, &exam->sg, &details, pool);
    if (code) {
        sz_stuf_exam_fo03(config, exam, code, details, now, pool);
        return 0;
    }
    if (config->partners) {
        exam->partner = apr_hash_get(config->partners,
                                     exam->sg.zender.organisatie,
                                     APR_HASH_KEY_STRING);
    }

    /* 2. Content checks, all of them: schema, LZ rules, authorisation. */
    if (config->schema) {
        sz_schema_validate(config->schema, message, "StUF055",
                           exam->report);
    }
    lz_extract(message, pool, &exam->k, exam->report);
    lz_check(&exam->k, &config->lz, now, exam->report);
    check_authorisation(config, &exam->sg, &exam->k, exam->report, pool);

    /* 3. The functional answer: Bv01, or Fo01 naming every failure. */
    stuf_answer_head(&exam->sg, &config->receiver, now, config->lz.zone,
                     pool, &exam->head);
    if (sz_report_count(exam->report) == 0) {
        exam->answer = SZ_ANSWER_BV01;
        exam->functional_xml = stuf_build_bevestiging("Bv01", &exam->head,
                                                      pool);
    }
    else {
        stuf_fout_t fout;

        fout.code = sz_report_leading_code(exam->report);
        fout.omschrijving = leading_omschrijving(fout.code);
        fout.details = sz_report_details(exam->report, STUF_DETAILS_MAX,
                                         pool);
        exam->answer = SZ_ANSWER_FO01;
        exam->fout_code = fout.code;
        exam->details = fout.details;
        exam->functional_xml = stuf_build_fout("Fo01", &exam->head, &fout,
                                               pool);
    }
    return 0;
}

/* Digikoppeling: the OIN of the client certificate must be the zender
 * organisatie. Returns the problem, or NULL. */
static const char *check_client(const sz_client_t *client,
                                const stuf_stuurgegevens_t *sg)
{
    if (client == NULL || (!client->required && !client->present)) {
        return NULL;
    }
    if (client->oin == NULL) {
        return client->problem ? client->problem : "geen clientcertificaat";
    }
    if (sg->zender.organisatie == NULL ||
        strcmp(client->oin, sg->zender.organisatie) != 0) {
        return "het OIN van het clientcertificaat is niet de zender "
               "organisatie";
    }
    return NULL;
}

void sz_process_soap(const sz_process_config_t *config, store_t *store,
                     const sz_client_t *client, const char *body,
                     apr_size_t len, apr_time_t now, apr_pool_t *pool,
                     sz_process_result_t *out)
{
    const char *identity_problem;
    sz_stuf_exam_t exam;
    stuf_answer_head_t receipt_head;
    store_message_t message;
    store_outbox_entry_t outbox;
    const char *error = NULL;
    const char *bv03;
    xmlNode *root;
    xmlDoc *doc;

    memset(out, 0, sizeof(*out));
    out->report = sz_report_make(pool);

    /* 1. Well-formed SOAP with one StUF message in the Body. */
    doc = sz_xml_parse(body, len, pool, &error);
    if (doc == NULL) {
        sz_process_fault("client", error, pool, out);
        return;
    }
    root = xmlDocGetRootElement(doc);
    if (!(config->allow_bare && sz_xml_is(root, LZ_NS_ZKN, "zakLk01"))) {
        root = sz_xml_soap_body_child(doc, &error);
        if (root == NULL) {
            sz_process_fault("client", error, pool, out);
            return;
        }
        /* The StUF binding defines no header blocks: one that must be
         * understood cannot be (SOAP 1.1 section 4.2.3). */
        if (sz_xml_soap_must_understand(doc)) {
            sz_process_fault("mustunderstand", "een SOAP Header-blok met "
                             "mustUnderstand wordt niet ondersteund", pool,
                             out);
            return;
        }
    }

    /* 2. The StUF checks; a receipt error is a Fault with Fo03 now. */
    if (sz_stuf_examine(config, root, now, pool, &exam) != 0) {
        sz_process_fault("client", "StUF-bericht zonder stuurgegevens",
                         pool, out);
        return;
    }
    out->referentienummer = exam.sg.referentienummer;
    out->report = exam.report;
    identity_problem = check_client(client, &exam.sg);
    if (identity_problem && exam.answer != SZ_ANSWER_FO03) {
        sz_stuf_exam_fo03(config, &exam, "StUF013", identity_problem, now,
                          pool);
    }
    if (exam.answer == SZ_ANSWER_FO03) {
        receipt_fault(&exam, pool, out);
        return;
    }
    out->zaakidentificatie = exam.k.identificatie;
    out->answer = exam.answer;
    out->fout_code = exam.fout_code;
    out->log_text = exam.details;
    out->functional_xml = exam.functional_xml;

    /* 3. Bv03 now, Bv01 or Fo01 later. */
    stuf_answer_head(&exam.sg, &config->receiver, now, config->lz.zone,
                     pool, &receipt_head);
    bv03 = stuf_soap_envelope(stuf_build_bevestiging("Bv03", &receipt_head,
                                                     pool), pool);
    out->http_status = 200;
    set_body(out, bv03);
    if (store == NULL) {
        return;
    }

    /* 4. One durable transaction; only then does the Bv03 leave. */
    memset(&message, 0, sizeof(message));
    memset(&outbox, 0, sizeof(outbox));
    message.zender_key = stuf_systeem_key(&exam.sg.zender, pool);
    message.referentienummer = exam.sg.referentienummer;
    memcpy(message.digest, exam.digest, STORE_DIGEST_LEN);
    message.zender_oin = exam.sg.zender.organisatie;
    message.received = now;
    message.kennisgeving = exam.answer == SZ_ANSWER_BV01 ? &exam.k : NULL;
    message.receipt_answer = out->body;
    message.receipt_answer_len = out->body_len;
    outbox.destination = apr_pstrcat(pool, "stuf-soap:",
                                     exam.partner && exam.partner->reply_url
                                         ? exam.partner->reply_url : "",
                                     NULL);
    outbox.kind = exam.answer == SZ_ANSWER_BV01 ? "Bv01" : "Fo01";
    outbox.partner = exam.sg.zender.organisatie;
    outbox.reference = exam.head.referentienummer;
    outbox.payload = stuf_soap_envelope(exam.functional_xml, pool);
    outbox.payload_len = strlen(outbox.payload);
    outbox.content_type = "text/xml; charset=utf-8";
    message.outbox = &outbox;
    message.outbox_count = 1;
    message.ebms_requeue = -1;

    store_apply(store, &message, pool, &out->store);
    switch (out->store.outcome) {
    case STORE_APPLIED:
        return;
    case STORE_REPLAY:
        out->replayed = 1;
        out->body = out->store.receipt_answer;
        out->body_len = out->store.receipt_answer_len;
        return;
    case STORE_CONFLICT:
        sz_stuf_exam_fo03(config, &exam, "StUF016",
                          "referentienummer al gebruikt voor een ander "
                          "bericht van deze zender", now, pool);
        receipt_fault(&exam, pool, out);
        return;
    default:
        sz_stuf_exam_fo03(config, &exam, "StUF046", out->store.error, now,
                          pool);
        receipt_fault(&exam, pool, out);
        return;
    }
}

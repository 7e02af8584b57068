/* process_ebms.c - one request on the Digikoppeling ebMS 2.0 binding:
 * MIME, the ebMS header against its CPA, duplicate elimination, the StUF
 * checks of the payload, and the answers: the signal now (or queued) and
 * the functional StUF answer as a separate ebMS user message, all
 * committed in one store transaction before the HTTP answer. */
#include "process.h"

#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "ebms.h"
#include "xml.h"

/* Digikoppeling's default when a CPA names no persistence or retries. */
#define DEFAULT_KEEP apr_time_from_sec(5 * 86400)

static void answer_xml(sz_ebms_result_t *out, int status, const char *xml)
{
    out->http_status = status;
    out->body = xml;
    out->body_len = xml ? strlen(xml) : 0;
}

/* Requests we cannot attribute to a CPA get a SOAP Fault (HTTP 500). */
static void fault(sz_ebms_result_t *out, const char *text, apr_pool_t *pool)
{
    out->log_text = text;
    answer_xml(out, 500, stuf_soap_fault("client", text, NULL, pool));
}

static int soap_action_ok(const char *header)
{
    return header && (strcmp(header, "\"ebXML\"") == 0 ||
                      strcmp(header, "ebXML") == 0);
}

/* The SOAP part and the MIME parts of the request. */
static int unpack(const sz_process_config_t *config,
                  const char *content_type, const char *body,
                  apr_size_t len, apr_pool_t *pool,
                  const sz_mime_part_t **soap,
                  apr_array_header_t **parts, const char **error)
{
    const char *media_type = NULL;
    apr_table_t *params = NULL;
    sz_mime_part_t *whole;

    if (content_type == NULL ||
        sz_mime_content_type(content_type, pool, &media_type,
                             &params) != 0) {
        *error = "Content-Type ontbreekt of is onleesbaar";
        return -1;
    }
    if (strcmp(media_type, "text/xml") == 0) {
        *parts = apr_array_make(pool, 1, sizeof(sz_mime_part_t));
        whole = apr_array_push(*parts);
        memset(whole, 0, sizeof(*whole));
        whole->content_type = content_type;
        whole->data = body;
        whole->len = len;
        *soap = whole;
        return 0;
    }
    if (strcmp(media_type, "multipart/related") != 0) {
        *error = apr_psprintf(pool, "Content-Type %s wordt niet ondersteund "
                              "(multipart/related of text/xml)", media_type);
        return -1;
    }
    if (apr_table_get(params, "boundary") == NULL) {
        *error = "multipart/related zonder boundary";
        return -1;
    }
    if (sz_mime_split(body, len, apr_table_get(params, "boundary"),
                      &config->mime_limits, pool, parts, error) != 0) {
        return -1;
    }
    *soap = sz_mime_start(*parts, apr_table_get(params, "start"));
    if (*soap == NULL) {
        *error = "het start-deel van het multipart-bericht ontbreekt";
        return -1;
    }
    return 0;
}

static int has_part(void *context, const char *cid)
{
    return sz_mime_find(context, cid) != NULL;
}

/* The party of the CPA that sent the message, or NULL. */
static const cpa_party_t *sender(const cpa_t *cpa, const ebms_message_t *m)
{
    int i;

    for (i = 0; i < m->from_ids->nelts; i++) {
        const cpa_party_id_t *id = &APR_ARRAY_IDX(m->from_ids, i,
                                                  cpa_party_id_t);
        const cpa_party_t *party = cpa_find_party(cpa, id->type, id->value);

        if (party) {
            return party;
        }
    }
    return NULL;
}

static apr_interval_time_t keep_time(const cpa_channel_t *channel)
{
    apr_interval_time_t retrying = 0;
    apr_interval_time_t keep;

    if (channel == NULL) {
        return DEFAULT_KEEP;
    }
    if (channel->retries >= 0) {
        retrying = (channel->retries + 1) * channel->retry_interval;
    }
    keep = channel->persist_duration > retrying ? channel->persist_duration
                                                : retrying;
    return keep > 0 ? keep : DEFAULT_KEEP;
}

static int is_sync(const cpa_channel_t *channel)
{
    return channel == NULL || channel->sync_reply_mode == NULL ||
           strcmp(channel->sync_reply_mode, "none") != 0;
}

/* Where signals to the sender go: its default MSH channel's endpoint. */
static const char *signal_destination(const cpa_t *cpa,
                                      const cpa_party_t *party,
                                      apr_pool_t *pool)
{
    const cpa_channel_t *channel = cpa_default_channel(cpa, party);

    return apr_pstrcat(pool, "ebms:",
                       channel && channel->endpoint ? channel->endpoint : "",
                       NULL);
}

static void digest_of(const ebms_message_t *m, const sz_mime_part_t *payload,
                      unsigned char digest[STORE_DIGEST_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    const char *fields[] = { m->cpaid, m->conversation_id, m->service,
                             m->action, m->ref_to_message_id };
    size_t i;

    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *f = fields[i] ? fields[i] : "";

        EVP_DigestUpdate(ctx, f, strlen(f) + 1);
    }
    if (payload) {
        EVP_DigestUpdate(ctx, payload->data, payload->len);
    }
    EVP_DigestFinal_ex(ctx, digest, &len);
    EVP_MD_CTX_free(ctx);
}

/* An outbox entry for a signal to the sender of m. */
static void signal_entry(const cpa_t *cpa, const ebms_message_t *m,
                         const char *kind, const char *xml,
                         const cpa_channel_t *channel, apr_time_t now,
                         apr_pool_t *pool, store_outbox_entry_t *entry)
{
    memset(entry, 0, sizeof(*entry));
    entry->destination = signal_destination(cpa, sender(cpa, m), pool);
    entry->kind = kind;
    entry->partner = m->cpaid;
    entry->reference = m->message_id;
    entry->payload = xml;
    entry->payload_len = strlen(xml);
    entry->content_type = "text/xml; charset=utf-8";
    entry->expires = now + keep_time(channel);
}

/* Queues only an outbox entry (an asynchronous MessageError). */
static int queue_only(store_t *store, const store_outbox_entry_t *entry,
                      apr_time_t now, apr_pool_t *pool,
                      store_result_t *result)
{
    store_message_t message;

    memset(&message, 0, sizeof(message));
    message.stufref_none = 1;
    message.received = now;
    message.outbox = entry;
    message.outbox_count = 1;
    message.ebms_requeue = -1;
    store_apply(store, &message, pool, result);
    return result->outcome == STORE_APPLIED ? 0 : -1;
}

static void message_error(const sz_process_config_t *config, store_t *store,
                          const ebms_message_t *m, const cpa_t *cpa,
                          const ebms_error_t *error, apr_time_t now,
                          apr_pool_t *pool, sz_ebms_result_t *out)
{
    const cpa_party_t *from = sender(cpa, m);
    const cpa_channel_t *channel = from ? cpa_default_channel(cpa, from)
                                        : NULL;
    const char *message_id = NULL;
    const char *xml = ebms_build_message_error(m, error, 1, now, pool,
                                               &message_id);
    store_outbox_entry_t entry;

    out->signal = "MessageError";
    out->error_code = error->code;
    out->error_location = error->location;
    out->log_text = error->description;
    if (is_sync(channel) || store == NULL) {
        answer_xml(out, 200, xml);
        return;
    }

    signal_entry(cpa, m, "MessageError", xml, channel, now, pool, &entry);
    if (queue_only(store, &entry, now, pool, &out->store) != 0) {
        answer_xml(out, 503, NULL);
        out->log_text = "MessageError could not be queued";
        return;
    }
    out->signal_queued = 1;
    answer_xml(out, 204, NULL);
}

/* The CanSend action of LZ's party for a StUF answer ("Bv01Bericht" or
 * "Bv01"), with the role and service it belongs to. */
static const cpa_action_t *answer_action(const cpa_party_t *party,
                                         const char *kind,
                                         const cpa_role_t **role,
                                         apr_pool_t *pool)
{
    const char *names[2];
    int i;
    int n;

    names[0] = apr_pstrcat(pool, kind, "Bericht", NULL);
    names[1] = kind;
    for (n = 0; n < 2; n++) {
        for (i = 0; i < party->roles->nelts; i++) {
            const cpa_role_t *r = &APR_ARRAY_IDX(party->roles, i,
                                                 cpa_role_t);
            const cpa_action_t *a = cpa_find_action(r, names[n], 1);

            if (a) {
                *role = r;
                return a;
            }
        }
    }
    return NULL;
}

/* The functional answer as an ebMS user message from LZ to the sender:
 * From/To swapped, Role, Service and Action from the CPA, MessageId by
 * the StUF rule, RefToMessageId and ConversationId tying it to the
 * kennisgeving. Returns -1 when the CPA names no action for it. */
static int functional_entry(const cpa_t *cpa, const ebms_message_t *m,
                            const sz_stuf_exam_t *exam, apr_time_t now,
                            apr_pool_t *pool, store_outbox_entry_t *entry)
{
    const char *kind = exam->answer == SZ_ANSWER_BV01 ? "Bv01"
                       : exam->answer == SZ_ANSWER_FO01 ? "Fo01" : "Fo03";
    const cpa_party_t *from = sender(cpa, m);
    const cpa_party_t *lz = from ? cpa_other_party(cpa, from) : NULL;
    const cpa_role_t *lz_role = NULL;
    const cpa_role_t *partner_role = NULL;
    const cpa_action_t *action;
    const cpa_action_t *receive;
    const cpa_channel_t *lz_channel;
    const cpa_channel_t *partner_channel = NULL;
    ebms_user_message_t um;
    const cpa_party_id_t *lz_id;
    const cpa_party_id_t *partner_id;
    const char *content_type;
    apr_size_t len;
    int i;

    if (lz == NULL) {
        return -1;
    }
    action = answer_action(lz, kind, &lz_role, pool);
    if (action == NULL) {
        return -1;
    }
    for (i = 0; i < from->roles->nelts; i++) {
        const cpa_role_t *r = &APR_ARRAY_IDX(from->roles, i, cpa_role_t);

        receive = cpa_find_action(r, action->action, 0);
        if (receive) {
            partner_role = r;
            partner_channel = cpa_channel(cpa, receive->channel_id);
            break;
        }
    }
    if (partner_channel == NULL || partner_channel->endpoint == NULL) {
        partner_channel = cpa_default_channel(cpa, from);
    }
    lz_channel = cpa_channel(cpa, action->channel_id);
    lz_id = &APR_ARRAY_IDX(lz->party_ids, 0, cpa_party_id_t);
    partner_id = &APR_ARRAY_IDX(from->party_ids, 0, cpa_party_id_t);

    memset(&um, 0, sizeof(um));
    um.cpaid = cpa->cpaid;
    um.from = lz_id;
    um.from_role = lz_role->role;
    um.to = partner_id;
    um.to_role = partner_role ? partner_role->role : m->from_role;
    um.service = lz_role->service;
    um.service_type = lz_role->service_type;
    um.action = action->action;
    um.message_id = ebms_stuf_message_id(exam->head.referentienummer,
                                         exam->head.zender.organisatie,
                                         exam->head.zender.applicatie,
                                         exam->head.zender.administratie,
                                         pool);
    /* The kennisgeving's own MessageId and ConversationId: they equal the
     * StUF rule's crossRefnummer@domain when the sender follows it, and
     * they are what the sender's MSH knows when it does not. */
    um.ref_to_message_id = m->message_id;
    um.conversation_id = m->conversation_id;
    um.timestamp = now;
    um.time_to_live = now + keep_time(lz_channel);
    um.ack_requested = lz_channel && lz_channel->ack_requested &&
                       strcmp(lz_channel->ack_requested, "always") == 0;
    um.duplicate_elimination = lz_channel &&
        lz_channel->duplicate_elimination &&
        strcmp(lz_channel->duplicate_elimination, "always") == 0;
    um.sync_reply = lz_channel && lz_channel->sync_reply_mode &&
                    strcmp(lz_channel->sync_reply_mode, "none") != 0;
    um.payload = exam->functional_xml;
    um.payload_len = strlen(exam->functional_xml);
    um.payload_id = apr_pstrcat(pool, exam->head.referentienummer,
                                "@stuflz", NULL);

    memset(entry, 0, sizeof(*entry));
    entry->payload = ebms_build_user_message(&um, pool, &content_type, &len);
    if (entry->payload == NULL) {
        return -1;
    }
    entry->payload_len = len;
    entry->content_type = content_type;
    entry->destination = apr_pstrcat(pool, "ebms:",
        partner_channel && partner_channel->endpoint
            ? partner_channel->endpoint : "", NULL);
    entry->kind = kind;
    entry->partner = partner_id->value;
    entry->reference = um.message_id;
    entry->expires = um.time_to_live;
    entry->ebms_cpaid = cpa->cpaid;
    entry->ebms_message_id = um.message_id;

    /* The delivery retries as the CPA agrees (reliable channels only). */
    if (lz_channel && lz_channel->retries >= 0) {
        entry->max_attempts = (unsigned)lz_channel->retries + 1;
        entry->retry_interval = lz_channel->retry_interval;
    }
    return 0;
}

/* Fo03 StUF013 when the StUF zender is not the party that sent the ebMS
 * message (its From PartyId, without an OTAP suffix). */
static int zender_is_sender(const ebms_message_t *m,
                            const sz_stuf_exam_t *exam, apr_pool_t *pool)
{
    const char *organisatie = exam->sg.zender.organisatie;
    int i;

    if (organisatie == NULL) {
        return 0;
    }
    for (i = 0; i < m->from_ids->nelts; i++) {
        const cpa_party_id_t *id = &APR_ARRAY_IDX(m->from_ids, i,
                                                  cpa_party_id_t);
        const char *suffix = NULL;

        if (strcmp(ebms_party_oin(id->value, pool, &suffix),
                   organisatie) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A user message without a Manifest is a correct ebMS message (the
 * matrix acknowledges it) that gives LZ nothing to process: acknowledge
 * it and remember its MessageId, and tell the operator. */
static void no_payload(store_t *store, const cpa_t *cpa,
                       const ebms_message_t *m,
                       const cpa_channel_t *channel, apr_time_t now,
                       apr_pool_t *pool, sz_ebms_result_t *out)
{
    const char *ack = m->ack_requested
                          ? ebms_build_acknowledgment(m, now, pool, NULL)
                          : NULL;
    int sync = is_sync(channel);
    store_outbox_entry_t entry;
    store_message_t message;

    out->log_text = "user message without payload: nothing for LZ";
    if (store) {
        memset(&message, 0, sizeof(message));
        message.stufref_none = 1;
        message.received = now;
        message.ebms_requeue = -1;
        message.ebms_cpaid = m->cpaid;
        message.ebms_message_id = m->message_id;
        digest_of(m, NULL, message.ebms_digest);
        message.ebms_keep_until = now + keep_time(channel);
        if (ack && sync) {
            message.ebms_response = ack;
            message.ebms_response_len = strlen(ack);
        }
        else if (ack) {
            signal_entry(cpa, m, "Acknowledgment", ack, channel, now, pool,
                         &entry);
            message.outbox = &entry;
            message.outbox_count = 1;
            message.ebms_requeue = 0;
            out->signal_queued = 1;
        }
        store_apply(store, &message, pool, &out->store);
        if (out->store.outcome == STORE_EBMS_DUPLICATE) {
            out->duplicate = 1;
            ack = out->store.receipt_answer;
        }
        else if (out->store.outcome != STORE_APPLIED) {
            answer_xml(out, 503, NULL);
            return;
        }
    }
    out->signal = ack ? "Acknowledgment" : NULL;
    answer_xml(out, ack && sync ? 200 : 204, ack && sync ? ack : NULL);
}

/* A user message carrying (we expect) a StUF kennisgeving. */
static void user_message(const sz_process_config_t *config, store_t *store,
                         const ebms_message_t *m, const cpa_t *cpa,
                         const cpa_channel_t *channel,
                         const apr_array_header_t *parts, apr_time_t now,
                         apr_pool_t *pool, sz_ebms_result_t *out)
{
    const ebms_error_t *error;
    const sz_mime_part_t *payload = NULL;
    const char *parse_error = NULL;
    const char *ack = NULL;
    const char *ack_id = NULL;
    sz_stuf_exam_t *exam = apr_pcalloc(pool, sizeof(*exam));
    store_outbox_entry_t entries[2];
    store_message_t message;
    int sync = is_sync(channel);
    int count = 0;
    int retried = 0;
    xmlDoc *doc;
    xmlNode *root;

    /* 1. The payload the Manifest points at. */
    error = ebms_check_manifest(m, has_part, (void *)parts, pool);
    if (error) {
        message_error(config, store, m, cpa, error, now, pool, out);
        return;
    }
    if (m->references && m->references->nelts > 0) {
        payload = sz_mime_find(parts, APR_ARRAY_IDX(m->references, 0,
                                                    const char *));
    }
    if (payload == NULL) {
        no_payload(store, cpa, m, channel, now, pool, out);
        return;
    }
    doc = sz_xml_parse(payload->data, payload->len, pool, &parse_error);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (root && sz_xml_is(root, SZ_NS_SOAP11, "Envelope")) {
        root = sz_xml_soap_body_child(doc, &parse_error);
    }
    if (root == NULL || sz_stuf_examine(config, root, now, pool, exam) != 0) {
        ebms_error_t bad = { "OtherXml",
            apr_psprintf(pool, "cid:%s", payload->content_id
                                             ? payload->content_id : ""),
            "The payload is not a StUF message." };

        out->log_text = parse_error;
        message_error(config, store, m, cpa, &bad, now, pool, out);
        return;
    }
    out->exam = exam;
    out->kind = exam->sg.berichtcode;

    /* 2. StUF over ebMS: the zender must be the sending party. */
    if (exam->answer != SZ_ANSWER_FO03 && !zender_is_sender(m, exam, pool)) {
        sz_stuf_exam_fo03(config, exam, "StUF013",
                          "zender organisatie is niet de ebMS From PartyId",
                          now, pool);
    }

    /* 3. A referentienummer reused with other content: Fo03 StUF016. */
retry:
    if (exam->answer != SZ_ANSWER_FO03 && store &&
        store_check_stufref(store, stuf_systeem_key(&exam->sg.zender, pool),
                            exam->sg.referentienummer, exam->digest) == 2) {
        sz_stuf_exam_fo03(config, exam, "StUF016",
                          "referentienummer al gebruikt voor een ander "
                          "bericht van deze zender", now, pool);
    }

    /* 4. What goes back: the Acknowledgment, and the functional answer. */
    if (m->ack_requested) {
        ack = ebms_build_acknowledgment(m, now, pool, &ack_id);
    }
    memset(entries, 0, sizeof(entries));
    memset(&message, 0, sizeof(message));
    message.ebms_requeue = -1;
    count = 0;
    if (ack && !sync) {
        signal_entry(cpa, m, "Acknowledgment", ack, channel, now, pool,
                     &entries[count]);
        message.ebms_requeue = count;
        count++;
    }
    if (functional_entry(cpa, m, exam, now, pool, &entries[count]) == 0) {
        count++;
    }
    else {
        out->log_text = "the CPA names no action for the StUF answer";
    }
    if (store == NULL) {
        answer_xml(out, ack && sync ? 200 : 204, ack && sync ? ack : NULL);
        return;
    }

    /* 5. Everything of this message in one durable transaction. */
    message.received = now;
    message.zender_oin = exam->sg.zender.organisatie;
    message.zender_key = stuf_systeem_key(&exam->sg.zender, pool);
    message.referentienummer = exam->sg.referentienummer;
    memcpy(message.digest, exam->digest, STORE_DIGEST_LEN);
    message.stufref_none = exam->answer == SZ_ANSWER_FO03;
    message.kennisgeving = exam->answer == SZ_ANSWER_BV01 ? &exam->k : NULL;
    message.outbox = entries;
    message.outbox_count = count;
    message.ebms_cpaid = m->cpaid;
    message.ebms_message_id = m->message_id;
    digest_of(m, payload, message.ebms_digest);
    message.ebms_keep_until = now + keep_time(channel);
    if (ack && sync) {
        message.ebms_response = ack;
        message.ebms_response_len = strlen(ack);
    }
    store_apply(store, &message, pool, &out->store);

    switch (out->store.outcome) {
    case STORE_APPLIED:
        out->signal = ack ? "Acknowledgment" : NULL;
        out->signal_queued = ack && !sync;
        answer_xml(out, ack && sync ? 200 : 204, ack && sync ? ack : NULL);
        return;
    case STORE_EBMS_DUPLICATE:
        out->duplicate = 1;
        out->signal = out->store.receipt_answer ? "Acknowledgment" : NULL;
        out->signal_queued = out->store.receipt_answer == NULL;
        if (out->store.receipt_answer) {
            out->http_status = 200;
            out->body = out->store.receipt_answer;
            out->body_len = out->store.receipt_answer_len;
        }
        else {
            answer_xml(out, 204, NULL);
        }
        return;
    case STORE_EBMS_CONFLICT: {
        ebms_error_t conflict = { "Inconsistent",
            "//Header/MessageHeader/MessageData/MessageId",
            "MessageId already used for a message with other content." };

        out->duplicate = 1;
        out->signal = "MessageError";
        out->error_code = conflict.code;
        out->error_location = conflict.location;
        out->log_text = conflict.description;
        answer_xml(out, 200, ebms_build_message_error(m, &conflict, 1, now,
                                                      pool, NULL));
        return;
    }
    case STORE_CONFLICT:
        /* Another request stored this referentienummer in between. */
        if (!retried) {
            retried = 1;
            goto retry;
        }
        /* fall through */
    default: {
        ebms_error_t failure = { "DeliveryFailure", "//Body",
                                 "The message could not be stored; "
                                 "send it again later." };

        out->signal = "MessageError";
        out->error_code = failure.code;
        out->log_text = out->store.error;
        answer_xml(out, 503, ebms_build_message_error(m, &failure, 1, now,
                                                      pool, NULL));
        return;
    }
    }
}

static void status_request(store_t *store, const ebms_message_t *m,
                           apr_time_t now, apr_pool_t *pool,
                           sz_ebms_result_t *out)
{
    store_ebms_t record;
    const char *status = "NotRecognized";
    apr_time_t when = 0;

    if (store && m->signal_ref_to_message_id &&
        store_get_ebms(store, m->cpaid, m->signal_ref_to_message_id, pool,
                       &record) == 0 &&
        strcmp(record.state, "received") == 0) {
        /* Processing is synchronous: stored means processed. */
        status = "Processed";
        when = record.recorded;
    }
    out->signal = "StatusResponse";
    answer_xml(out, 200, ebms_build_status_response(m, status, when, now,
                                                    pool));
}

/* Digikoppeling: the OIN of the client certificate must be the OIN of
 * the From PartyId (and so of the CPA party). */
static const ebms_error_t *check_client(const sz_client_t *client,
                                        const ebms_message_t *m,
                                        apr_pool_t *pool)
{
    static const ebms_error_t missing = {
        "SecurityFailure", "//Header/MessageHeader/From/PartyId",
        "No valid client certificate."
    };
    static const ebms_error_t mismatch = {
        "SecurityFailure", "//Header/MessageHeader/From/PartyId",
        "The client certificate does not match the From PartyId."
    };
    int i;

    if (client == NULL || (!client->required && !client->present)) {
        return NULL;
    }
    if (client->oin == NULL) {
        return &missing;
    }
    for (i = 0; i < m->from_ids->nelts; i++) {
        const cpa_party_id_t *id = &APR_ARRAY_IDX(m->from_ids, i,
                                                  cpa_party_id_t);
        const char *suffix = NULL;

        if (strcmp(ebms_party_oin(id->value, pool, &suffix),
                   client->oin) == 0) {
            return NULL;
        }
    }
    return &mismatch;
}

void sz_process_ebms(const sz_process_config_t *config, store_t *store,
                     const sz_client_t *client,
                     const char *soap_action, const char *content_type,
                     const char *body, apr_size_t len, apr_time_t now,
                     apr_pool_t *pool, sz_ebms_result_t *out)
{
    const sz_mime_part_t *soap = NULL;
    apr_array_header_t *parts = NULL;
    const cpa_channel_t *channel = NULL;
    const ebms_error_t *error;
    const char *problem = NULL;
    static const ebms_error_t unknown_ref = {
        "ValueNotRecognized", "//Header/MessageHeader/MessageData/"
        "RefToMessageId", "Value not found."
    };
    store_ebms_t known;
    ebms_message_t m;
    const cpa_t *cpa;
    xmlDoc *doc;

    memset(out, 0, sizeof(*out));

    /* 1. Transport: SOAPAction, MIME, a well-formed SOAP part. */
    if (!soap_action_ok(soap_action)) {
        fault(out, apr_psprintf(pool, "Unable to process message! "
                                "SOAPAction=%s (\"ebXML\" expected)",
                                soap_action ? soap_action : ""), pool);
        return;
    }
    if (unpack(config, content_type, body, len, pool, &soap, &parts,
               &problem) != 0) {
        fault(out, problem, pool);
        return;
    }
    doc = sz_xml_parse(soap->data, soap->len, pool, &problem);
    if (doc == NULL) {
        fault(out, problem, pool);
        return;
    }

    /* 2. The ebMS header and its CPA. */
    if (ebms_read(doc, pool, &m, &problem) != 0) {
        fault(out, problem, pool);
        return;
    }
    out->cpaid = m.cpaid;
    out->message_id = m.message_id;
    cpa = config->cpas ? cpa_lookup(config->cpas, m.cpaid) : NULL;
    if (cpa == NULL) {
        fault(out, apr_psprintf(pool, "CPA %s not found!", m.cpaid), pool);
        return;
    }
    error = ebms_check(&m, cpa, now, pool, &channel);
    if (error == NULL) {
        error = check_client(client, &m, pool);
        if (error && client && client->problem) {
            out->log_text = client->problem;
        }
    }
    if (error == NULL && m.ref_to_message_id && store &&
        store_get_ebms(store, m.cpaid, m.ref_to_message_id, pool,
                       &known) != 0) {
        error = &unknown_ref;
    }
    if (error) {
        out->kind = m.action;
        message_error(config, store, &m, cpa, error, now, pool, out);
        return;
    }

    /* 3. By kind: signals are answered by the MSH, user messages by LZ. */
    switch (m.kind) {
    case EBMS_PING:
        out->kind = "Ping";
        out->signal = "Pong";
        answer_xml(out, 200, ebms_build_pong(&m, now, pool));
        return;
    case EBMS_STATUS_REQUEST:
        out->kind = "StatusRequest";
        status_request(store, &m, now, pool, out);
        return;
    case EBMS_ACKNOWLEDGMENT:
    case EBMS_MESSAGE_ERROR:
    case EBMS_PONG:
    case EBMS_STATUS_RESPONSE:
        /* Signals about messages LZ sent; the outbox worker reads them. */
        out->kind = m.action;
        answer_xml(out, 204, NULL);
        return;
    case EBMS_USER_MESSAGE:
    default:
        out->kind = m.action;
        user_message(config, store, &m, cpa, channel, parts, now, pool,
                     out);
        return;
    }
}

/* stuflz.c - the command-line tool: "validate" runs the checks of the
 * SOAP binding on files without a store and prints the functional answer;
 * "show" prints what a store holds, as JSON. It uses the same core as the
 * httpd module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "cpa.h"
#include "ebms.h"
#include "lz.h"
#include "process.h"
#include "xml.h"
#include "schema.h"
#include "store.h"
#include "tz.h"

#ifndef STUFLZ_SCHEMA_DEFAULT
#define STUFLZ_SCHEMA_DEFAULT "/usr/share/stuflz/xsd/lz-zakLk01.xsd"
#endif

static void usage(void)
{
    fprintf(stderr,
        "usage: stuflz validate [--schema PATH] [--optional FIELD]...\n"
        "                       [--partner OIN CODE[,CODE]]... FILE...\n"
        "       stuflz show --store lmdb:DIR (--zaak ID | --bsn BSN |\n"
        "                   --outbox | --stats)\n"
        "       stuflz send --cpa CPA [--async] [--cert PEM --key PEM]\n"
        "                   [--cacert PEM] URL FILE\n"
        "\n"
        "validate prints the functional answer (Bv01, Fo01 or Fo03) of\n"
        "each file and exits 0 when all would get a Bv01, 1 otherwise.\n"
        "Without --partner, the sender and gemeentecode checks are off.\n"
        "send wraps the zakLk01 in FILE in an ebMS message per the CPA,\n"
        "as a municipal application's MSH would, POSTs it to URL and\n"
        "prints the signal it gets back (exit 0: Acknowledgment, or 204\n"
        "with --async / an asynchronous channel; 1: anything else).\n");
}

/* The schema next to the binary when run from a checkout, else the
 * installed one. */
static const char *default_schema(const char *argv0, apr_pool_t *pool)
{
    const char *slash = strrchr(argv0, '/');
    const char *path;
    apr_finfo_t info;

    if (slash) {
        path = apr_pstrcat(pool, apr_pstrndup(pool, argv0, slash - argv0),
                           "/../xsd/lz-zakLk01.xsd", NULL);
        if (apr_stat(&info, path, APR_FINFO_TYPE, pool) == APR_SUCCESS) {
            return path;
        }
    }
    return STUFLZ_SCHEMA_DEFAULT;
}

static int read_file(const char *path, apr_pool_t *pool, char **data,
                     apr_size_t *len)
{
    apr_file_t *file;
    apr_finfo_t info;
    apr_size_t got;

    if (apr_file_open(&file, path, APR_FOPEN_READ, 0, pool) != APR_SUCCESS
        || apr_file_info_get(&info, APR_FINFO_SIZE, file) != APR_SUCCESS) {
        return -1;
    }
    *data = apr_palloc(pool, (apr_size_t)info.size + 1);
    got = (apr_size_t)info.size;
    if (apr_file_read_full(file, *data, got, &got) != APR_SUCCESS &&
        got != (apr_size_t)info.size) {
        apr_file_close(file);
        return -1;
    }
    (*data)[got] = '\0';
    *len = got;
    apr_file_close(file);
    return 0;
}

static int command_validate(int argc, char **argv, apr_pool_t *pool)
{
    sz_process_config_t config;
    const char *schema_path = default_schema(argv[0], pool);
    const char *error = NULL;
    int all_accepted = 1;
    int files = 0;
    int i;

    memset(&config, 0, sizeof(config));
    config.receiver.organisatie = "00000004003214345001";
    config.receiver.applicatie = "MijnOverheid";
    config.receiver.administratie = "Lopende zaken";
    config.lz.skew = apr_time_from_sec(300);
    config.allow_bare = 1;
    config.lz.zone = sz_tz_load("Europe/Amsterdam", NULL, pool, &error);
    if (config.lz.zone == NULL) {
        fprintf(stderr, "stuflz: time zone: %s\n", error);
        return 2;
    }

    for (i = 2; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--schema") == 0 && i + 1 < argc) {
            schema_path = argv[++i];
        }
        else if (strcmp(argv[i], "--optional") == 0 && i + 1 < argc) {
            unsigned field = lz_field_from_name(argv[++i]);

            if (field == 0) {
                fprintf(stderr, "stuflz: %s cannot be optional\n", argv[i]);
                return 2;
            }
            config.lz.optional |= field;
        }
        else if (strcmp(argv[i], "--partner") == 0 && i + 2 < argc) {
            sz_partner_t *partner = apr_pcalloc(pool, sizeof(*partner));
            char *codes = apr_pstrdup(pool, argv[i + 2]);
            char *state;
            char *code;

            partner->oin = argv[i + 1];
            partner->gemeentecodes = apr_array_make(pool, 2,
                                                    sizeof(const char *));
            for (code = apr_strtok(codes, ",", &state); code;
                 code = apr_strtok(NULL, ",", &state)) {
                APR_ARRAY_PUSH(partner->gemeentecodes, const char *) = code;
            }
            if (config.partners == NULL) {
                config.partners = apr_hash_make(pool);
            }
            apr_hash_set(config.partners, partner->oin, APR_HASH_KEY_STRING,
                         partner);
            i += 2;
        }
        else {
            usage();
            return 2;
        }
    }
    if (i >= argc) {
        usage();
        return 2;
    }

    xmlInitParser();
    config.schema = sz_schema_load(schema_path, pool, &error);
    if (config.schema == NULL) {
        fprintf(stderr, "stuflz: schema: %s\n", error);
        return 2;
    }

    for (; i < argc; i++) {
        sz_process_result_t result;
        apr_pool_t *file_pool;
        char *data;
        apr_size_t len;

        apr_pool_create(&file_pool, pool);
        if (read_file(argv[i], file_pool, &data, &len) != 0) {
            fprintf(stderr, "stuflz: cannot read %s\n", argv[i]);
            return 2;
        }
        sz_process_soap(&config, NULL, NULL, data, len, apr_time_now(),
                        file_pool, &result);
        files++;
        if (result.answer != SZ_ANSWER_BV01) {
            all_accepted = 0;
        }
        printf("<!-- %s -->\n%s\n", argv[i],
               result.functional_xml ? result.functional_xml : result.body);
        apr_pool_destroy(file_pool);
    }
    return files && all_accepted ? 0 : 1;
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *time_json(apr_time_t t, apr_pool_t *pool)
{
    char text[APR_RFC822_DATE_LEN];

    if (t == 0) {
        return json_null();
    }
    apr_rfc822_date(text, t);
    return json_string(text);
}

static json_t *zaak_json(store_t *store, const char *id, apr_pool_t *pool)
{
    store_zaak_t zaak;
    apr_array_header_t *statuses = NULL;
    json_t *object;
    json_t *list;
    int rv;
    int i;

    rv = store_get_zaak(store, id, pool, &zaak, &statuses);
    if (rv != 0) {
        return NULL;
    }
    object = json_object();
    json_object_set_new(object, "identificatie",
                        json_string(zaak.identificatie));
    json_object_set_new(object, "omschrijving",
                        text_or_null(zaak.omschrijving));
    json_object_set_new(object, "toelichting", text_or_null(zaak.toelichting));
    json_object_set_new(object, "startdatum", text_or_null(zaak.startdatum));
    json_object_set_new(object, "einddatumGepland",
                        text_or_null(zaak.einddatum_gepland));
    json_object_set_new(object, "einddatum", text_or_null(zaak.einddatum));
    json_object_set_new(object, "zender", text_or_null(zaak.zender_oin));
    json_object_set_new(object, "bsn", text_or_null(zaak.bsn));
    json_object_set_new(object, "status", text_or_null(zaak.statustype));
    json_object_set_new(object, "statusKey", text_or_null(zaak.status_key));
    json_object_set_new(object, "closed", json_boolean(zaak.closed));
    json_object_set_new(object, "created", time_json(zaak.created, pool));
    json_object_set_new(object, "updated", time_json(zaak.updated, pool));
    list = json_array();
    for (i = 0; statuses && i < statuses->nelts; i++) {
        const store_status_t *s = &APR_ARRAY_IDX(statuses, i, store_status_t);
        json_t *status = json_object();

        json_object_set_new(status, "datumStatusGezet",
                            text_or_null(s->datum_status_gezet));
        json_object_set_new(status, "statustype", text_or_null(s->statustype));
        json_object_set_new(status, "toelichting",
                            text_or_null(s->toelichting));
        json_object_set_new(status, "verwijzing", text_or_null(s->verwijzing));
        json_object_set_new(status, "referentienummer",
                            text_or_null(s->referentienummer));
        json_object_set_new(status, "eindstatus", json_boolean(s->eindstatus));
        json_object_set_new(status, "received", time_json(s->received, pool));
        json_array_append_new(list, status);
    }
    json_object_set_new(object, "statuses", list);
    return object;
}

static json_t *outbox_json(store_t *store, apr_pool_t *pool)
{
    apr_array_header_t *entries = NULL;
    json_t *list = json_array();
    int i;

    if (store_list_outbox(store, pool, &entries) < 0) {
        json_decref(list);
        return NULL;
    }
    for (i = 0; entries && i < entries->nelts; i++) {
        const store_outbox_t *e = &APR_ARRAY_IDX(entries, i, store_outbox_t);
        json_t *entry = json_object();

        json_object_set_new(entry, "sequence", json_integer(
                                (json_int_t)e->sequence));
        json_object_set_new(entry, "destination", text_or_null(e->destination));
        json_object_set_new(entry, "kind", text_or_null(e->kind));
        json_object_set_new(entry, "partner", text_or_null(e->partner));
        json_object_set_new(entry, "reference", text_or_null(e->reference));
        json_object_set_new(entry, "state", text_or_null(e->state));
        json_object_set_new(entry, "attempts", json_integer(e->attempts));
        json_object_set_new(entry, "created", time_json(e->created, pool));
        json_object_set_new(entry, "nextTry", time_json(e->next_try, pool));
        json_object_set_new(entry, "expires", time_json(e->expires, pool));
        json_object_set_new(entry, "lastError", text_or_null(e->last_error));
        json_object_set_new(entry, "payloadBytes",
                            json_integer((json_int_t)e->payload_len));
        json_array_append_new(list, entry);
    }
    return list;
}

static json_t *stats_json(store_t *store)
{
    store_stats_t stats;
    json_t *object;

    if (store_get_stats(store, &stats) != 0) {
        return NULL;
    }
    object = json_object();
    json_object_set_new(object, "zaken", json_integer(stats.zaken));
    json_object_set_new(object, "statuses", json_integer(stats.statuses));
    json_object_set_new(object, "postbusEntries",
                        json_integer(stats.postbus_entries));
    json_object_set_new(object, "stufrefs", json_integer(stats.stufrefs));
    json_object_set_new(object, "outboxEntries",
                        json_integer(stats.outbox_entries));
    json_object_set_new(object, "messagesApplied",
                        json_integer((json_int_t)stats.messages_applied));
    json_object_set_new(object, "messagesReplayed",
                        json_integer((json_int_t)stats.messages_replayed));
    json_object_set_new(object, "messagesConflicting",
                        json_integer((json_int_t)stats.messages_conflicting));
    json_object_set_new(object, "outboxQueued",
                        json_integer((json_int_t)stats.outbox_queued));
    json_object_set_new(object, "outboxDelivered",
                        json_integer((json_int_t)stats.outbox_delivered));
    json_object_set_new(object, "outboxRetrying",
                        json_integer((json_int_t)stats.outbox_retrying));
    json_object_set_new(object, "outboxExpired",
                        json_integer((json_int_t)stats.outbox_expired));
    json_object_set_new(object, "outboxFailed",
                        json_integer((json_int_t)stats.outbox_failed));
    json_object_set_new(object, "outboxPending",
                        json_integer((json_int_t)stats.outbox_pending));
    json_object_set_new(object, "mapSize", json_integer(
                            (json_int_t)stats.map_size));
    json_object_set_new(object, "mapUsed", json_integer(
                            (json_int_t)stats.map_used));
    return object;
}

static int command_show(int argc, char **argv, apr_pool_t *pool)
{
    store_options_t options;
    const char *spec = NULL;
    const char *what = NULL;
    const char *value = NULL;
    const char *error = NULL;
    store_t *store;
    json_t *output = NULL;
    int i;

    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            spec = argv[++i];
        }
        else if ((strcmp(argv[i], "--zaak") == 0 ||
                  strcmp(argv[i], "--bsn") == 0) && i + 1 < argc && !what) {
            what = argv[i];
            value = argv[++i];
        }
        else if ((strcmp(argv[i], "--outbox") == 0 ||
                  strcmp(argv[i], "--stats") == 0) && !what) {
            what = argv[i];
        }
        else {
            usage();
            return 2;
        }
    }
    if (spec == NULL || what == NULL) {
        usage();
        return 2;
    }

    memset(&options, 0, sizeof(options));
    options.read_only = 1;
    store = store_open(spec, &options, pool, &error);
    if (store == NULL) {
        fprintf(stderr, "stuflz: %s: %s\n", spec, error);
        return 1;
    }

    if (strcmp(what, "--zaak") == 0) {
        output = zaak_json(store, value, pool);
    }
    else if (strcmp(what, "--bsn") == 0) {
        apr_array_header_t *ids = NULL;

        if (store_list_postbus(store, value, pool, &ids) >= 0) {
            output = json_object();
            json_t *zaken = json_array();

            for (i = 0; ids && i < ids->nelts; i++) {
                json_t *zaak = zaak_json(store, APR_ARRAY_IDX(ids, i,
                                                              const char *),
                                         pool);
                if (zaak) {
                    json_array_append_new(zaken, zaak);
                }
            }
            json_object_set_new(output, "zaken", zaken);
        }
    }
    else if (strcmp(what, "--outbox") == 0) {
        output = outbox_json(store, pool);
    }
    else {
        output = stats_json(store);
    }
    store_close(store);

    if (output == NULL) {
        fprintf(stderr, "stuflz: not found\n");
        return 1;
    }
    json_dumpf(output, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("\n");
    json_decref(output);
    return 0;
}

/* The StUF message of a file: a bare element or a SOAP envelope's body
 * element, as a document of its own (namespaces reconciled). */
static const char *payload_of(const char *data, apr_size_t len,
                              apr_pool_t *pool, xmlNode **element,
                              const char **error)
{
    xmlDoc *doc = sz_xml_parse(data, len, pool, error);
    xmlDoc *copy;
    xmlNode *root;
    xmlChar *text = NULL;
    int size = 0;
    const char *result;

    if (doc == NULL) {
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (sz_xml_is(root, SZ_NS_SOAP11, "Envelope")) {
        root = sz_xml_soap_body_child(doc, error);
        if (root == NULL) {
            return NULL;
        }
    }
    copy = xmlNewDoc((const xmlChar *)"1.0");
    xmlDocSetRootElement(copy, xmlDocCopyNode(root, copy, 1));
    xmlReconciliateNs(copy, xmlDocGetRootElement(copy));
    xmlDocDumpMemoryEnc(copy, &text, &size, "UTF-8");
    result = apr_pstrmemdup(pool, (const char *)text, (apr_size_t)size);
    xmlFree(text);
    xmlFreeDoc(copy);
    *element = root;
    return result;
}

/* The party, role and action of the CPA that sends this message. */
static int sending_side(const cpa_t *cpa, const char *action,
                        const cpa_party_t **party, const cpa_role_t **role,
                        const cpa_action_t **binding)
{
    int p;
    int i;

    for (p = 0; p < 2; p++) {
        for (i = 0; i < cpa->party[p].roles->nelts; i++) {
            const cpa_role_t *r = &APR_ARRAY_IDX(cpa->party[p].roles, i,
                                                 cpa_role_t);
            const cpa_action_t *a = cpa_find_action(r, action, 1);

            if (a) {
                *party = &cpa->party[p];
                *role = r;
                *binding = a;
                return 0;
            }
        }
    }
    return -1;
}

static size_t collect(char *data, size_t size, size_t count, void *context)
{
    apr_array_header_t *buffer = context;
    size_t n = size * count;
    size_t i;

    for (i = 0; i < n; i++) {
        *(char *)apr_array_push(buffer) = data[i];
    }
    return n;
}

static int command_send(int argc, char **argv, apr_pool_t *pool)
{
    const char *cpa_path = NULL;
    const char *cert = NULL;
    const char *key = NULL;
    const char *cacert = NULL;
    const char *error = NULL;
    const char *url;
    const char *file;
    int force_async = 0;
    cpa_registry_t *cpas;
    const cpa_t *cpa;
    const cpa_party_t *party;
    const cpa_party_t *other;
    const cpa_role_t *role;
    const cpa_role_t *other_role = NULL;
    const cpa_action_t *binding;
    const cpa_channel_t *channel;
    stuf_stuurgegevens_t sg;
    ebms_user_message_t um;
    xmlNode *element;
    const char *payload;
    const char *content_type;
    const char *body;
    apr_size_t body_len;
    char *data;
    apr_size_t len;
    apr_array_header_t *response;
    struct curl_slist *headers = NULL;
    CURL *curl;
    CURLcode rc;
    long status = 0;
    int i;

    for (i = 2; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--cpa") == 0 && i + 1 < argc) {
            cpa_path = argv[++i];
        }
        else if (strcmp(argv[i], "--async") == 0) {
            force_async = 1;
        }
        else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc) {
            cert = argv[++i];
        }
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        }
        else if (strcmp(argv[i], "--cacert") == 0 && i + 1 < argc) {
            cacert = argv[++i];
        }
        else {
            usage();
            return 2;
        }
    }
    if (cpa_path == NULL || i + 2 != argc) {
        usage();
        return 2;
    }
    url = argv[i];
    file = argv[i + 1];

    /* 1. The CPA and the zakLk01. */
    xmlInitParser();
    cpas = cpa_registry_make(pool);
    if (cpa_registry_load(cpas, cpa_path, pool, &error) != 0 ||
        cpa_registry_count(cpas) != 1) {
        fprintf(stderr, "stuflz: %s: %s\n", cpa_path,
                error ? error : "one CPA expected");
        return 2;
    }
    cpa = APR_ARRAY_IDX(cpa_all(cpas), 0, const cpa_t *);
    if (read_file(file, pool, &data, &len) != 0) {
        fprintf(stderr, "stuflz: cannot read %s\n", file);
        return 2;
    }
    payload = payload_of(data, len, pool, &element, &error);
    if (payload == NULL) {
        fprintf(stderr, "stuflz: %s: %s\n", file, error);
        return 2;
    }

    /* 2. The ebMS header as the CPA prescribes it for this action. */
    if (sending_side(cpa, (const char *)element->name, &party, &role,
                     &binding) != 0) {
        fprintf(stderr, "stuflz: the CPA has no party that can send %s\n",
                element->name);
        return 2;
    }
    other = cpa_other_party(cpa, party);
    for (i = 0; i < other->roles->nelts; i++) {
        const cpa_role_t *r = &APR_ARRAY_IDX(other->roles, i, cpa_role_t);

        if (cpa_find_action(r, binding->action, 0)) {
            other_role = r;
            break;
        }
    }
    channel = cpa_channel(cpa, binding->channel_id);
    memset(&um, 0, sizeof(um));
    um.cpaid = cpa->cpaid;
    um.from = &APR_ARRAY_IDX(party->party_ids, 0, cpa_party_id_t);
    um.from_role = role->role;
    um.to = &APR_ARRAY_IDX(other->party_ids, 0, cpa_party_id_t);
    um.to_role = other_role ? other_role->role : NULL;
    um.service = role->service;
    um.service_type = role->service_type;
    um.action = binding->action;
    if (stuf_read_stuurgegevens(element, pool, &sg) == 0 &&
        sg.referentienummer) {
        um.message_id = ebms_stuf_message_id(sg.referentienummer,
                                             sg.zender.organisatie,
                                             sg.zender.applicatie,
                                             sg.zender.administratie, pool);
    }
    else {
        um.message_id = ebms_new_message_id("stuflz.send", pool);
    }
    um.conversation_id = um.message_id;
    um.timestamp = apr_time_now();
    if (channel && channel->retries >= 0 && channel->retry_interval > 0) {
        um.time_to_live = um.timestamp + (channel->retries + 1) *
                                             channel->retry_interval;
    }
    um.ack_requested = channel && channel->ack_requested &&
                       strcmp(channel->ack_requested, "always") == 0;
    um.duplicate_elimination = channel && channel->duplicate_elimination &&
        strcmp(channel->duplicate_elimination, "always") == 0;
    um.sync_reply = !force_async && channel && channel->sync_reply_mode &&
                    strcmp(channel->sync_reply_mode, "none") != 0;
    um.payload = payload;
    um.payload_len = strlen(payload);
    um.payload_id = apr_pstrcat(pool, "payload-", um.message_id, NULL);
    body = ebms_build_user_message(&um, pool, &content_type, &body_len);

    /* 3. POST it and show what comes back. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    response = apr_array_make(pool, 4096, 1);
    headers = curl_slist_append(headers, apr_pstrcat(pool, "Content-Type: ",
                                                     content_type, NULL));
    headers = curl_slist_append(headers, "SOAPAction: \"ebXML\"");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    if (cert) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
    }
    if (key) {
        curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
    }
    if (cacert) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, cacert);
    }
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    if (rc != CURLE_OK) {
        fprintf(stderr, "stuflz: %s: %s\n", url, curl_easy_strerror(rc));
        return 1;
    }

    *(char *)apr_array_push(response) = '\0';
    printf("MessageId: %s\nHTTP %ld\n%s\n", um.message_id, status,
           response->elts);
    if (status == 204) {
        return um.sync_reply ? 1 : 0;
    }
    return status == 200 && strstr(response->elts, "Acknowledgment") &&
           !strstr(response->elts, "ErrorList") ? 0 : 1;
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    int rv;

    if (argc < 2) {
        usage();
        return 2;
    }
    apr_initialize();
    apr_pool_create(&pool, NULL);
    if (strcmp(argv[1], "validate") == 0) {
        rv = command_validate(argc, argv, pool);
    }
    else if (strcmp(argv[1], "show") == 0) {
        rv = command_show(argc, argv, pool);
    }
    else if (strcmp(argv[1], "send") == 0) {
        rv = command_send(argc, argv, pool);
    }
    else {
        usage();
        rv = 2;
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return rv;
}

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
#include <jansson.h>
#include <libxml/parser.h>

#include "lz.h"
#include "process.h"
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
        "\n"
        "validate prints the functional answer (Bv01, Fo01 or Fo03) of\n"
        "each file and exits 0 when all would get a Bv01, 1 otherwise.\n"
        "Without --partner, the sender and gemeentecode checks are off.\n");
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
        sz_process_soap(&config, NULL, data, len, apr_time_now(), file_pool,
                        &result);
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
    else {
        usage();
        rv = 2;
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return rv;
}

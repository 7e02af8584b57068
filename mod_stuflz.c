/* mod_stuflz.c - the httpd glue of mod_stuflz: directives, hooks and the
 * stuflz-soap handler. Everything that decides about a message lives in
 * the core (src/, include/); this file only translates between httpd and
 * the core, and logs. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "http_ssl.h"
#include "mpm_common.h"
#include "unixd.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <libxml/parser.h>

#include "cpa.h"
#include "lz.h"
#include "process.h"
#include "schema.h"
#include "store.h"
#include "tls.h"
#include "tz.h"

#include "mod_stuflz_outbox.h"

/* Our own message tags; httpd's AH numbers are for httpd itself. */
#define SZ_LOGNO(n) "SZ" #n ": "

#ifndef STUFLZ_SCHEMA_DEFAULT
#define STUFLZ_SCHEMA_DEFAULT "/usr/share/stuflz/xsd/lz-zakLk01.xsd"
#endif

#define SOAPACTION_ZAKLK01 "http://www.egem.nl/StUF/sector/zkn/0310/zakLk01"

/* The module record is the only exported symbol. */
extern module AP_MODULE_DECLARE_DATA stuflz_module
    __attribute__((visibility("default")));

typedef struct {
    const char *store_spec;         /* StufLZStore */
    apr_size_t map_size;            /* StufLZMapSize */
    unsigned max_readers;           /* StufLZMaxReaders, 0 = derived */
    stuf_systeem_t receiver;        /* StufLZReceiver */
    int receiver_set;
    apr_hash_t *partners;           /* StufLZPartner */
    const char *schema_path;        /* StufLZSchema */
    unsigned optional;              /* StufLZOptional */
    int optional_set;
    apr_off_t max_message_size;     /* StufLZMaxMessageSize */
    const char *time_zone;          /* StufLZTimeZone */
    apr_interval_time_t skew;       /* StufLZClockSkew */
    int skew_set;
    apr_array_header_t *cpa_patterns;   /* StufLZCPA */
    int require_certificate;        /* StufLZRequireClientCertificate:
                                       -1 unset (On on TLS), 0, 1 */
    const char *certificate_header; /* StufLZClientCertificateHeader */
    apr_array_header_t *trusted_proxies;  /* StufLZTrustedProxy */

    /* Set up in post_config. */
    sz_process_config_t process;
} stuflz_server_t;

/* Per process: the store of this child. */
static store_t *child_store;
static const char *child_store_error;

static void *create_server(apr_pool_t *pool, server_rec *s)
{
    stuflz_server_t *conf = apr_pcalloc(pool, sizeof(*conf));

    conf->partners = apr_hash_make(pool);
    conf->max_message_size = -1;
    conf->cpa_patterns = apr_array_make(pool, 2, sizeof(const char *));
    conf->require_certificate = -1;
    conf->trusted_proxies = apr_array_make(pool, 2,
                                           sizeof(apr_ipsubnet_t *));
    return conf;
}

static void *merge_server(apr_pool_t *pool, void *base_v, void *add_v)
{
    stuflz_server_t *base = base_v;
    stuflz_server_t *add = add_v;
    stuflz_server_t *conf = apr_pcalloc(pool, sizeof(*conf));

    conf->store_spec = base->store_spec;
    conf->map_size = base->map_size;
    conf->max_readers = base->max_readers;
    conf->receiver = add->receiver_set ? add->receiver : base->receiver;
    conf->receiver_set = add->receiver_set || base->receiver_set;
    conf->partners = apr_hash_overlay(pool, add->partners, base->partners);
    conf->schema_path = add->schema_path ? add->schema_path
                                         : base->schema_path;
    conf->optional = add->optional_set ? add->optional : base->optional;
    conf->optional_set = add->optional_set || base->optional_set;
    conf->max_message_size = add->max_message_size >= 0
                                 ? add->max_message_size
                                 : base->max_message_size;
    conf->time_zone = add->time_zone ? add->time_zone : base->time_zone;
    conf->skew = add->skew_set ? add->skew : base->skew;
    conf->skew_set = add->skew_set || base->skew_set;
    conf->cpa_patterns = apr_array_append(pool, base->cpa_patterns,
                                          add->cpa_patterns);
    conf->require_certificate = add->require_certificate >= 0
                                    ? add->require_certificate
                                    : base->require_certificate;
    conf->certificate_header = add->certificate_header
                                   ? add->certificate_header
                                   : base->certificate_header;
    conf->trusted_proxies = add->trusted_proxies->nelts
                                ? add->trusted_proxies
                                : base->trusted_proxies;
    return conf;
}

static stuflz_server_t *server_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &stuflz_module);
}

/* "1M", "512K", "8G" or plain bytes. */
static const char *parse_size(const char *arg, apr_off_t *out)
{
    char *end;
    apr_off_t value;

    if (apr_strtoff(&value, arg, &end, 10) != APR_SUCCESS || value <= 0) {
        return "a size such as 1M, 512K or 8G is expected";
    }
    switch (*end) {
    case 'k': case 'K': value *= 1024; end++; break;
    case 'm': case 'M': value *= 1024 * 1024; end++; break;
    case 'g': case 'G': value *= (apr_off_t)1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end != '\0') {
        return "a size such as 1M, 512K or 8G is expected";
    }
    *out = value;
    return NULL;
}

static const char *set_store(cmd_parms *cmd, void *dir, const char *arg)
{
    stuflz_server_t *conf = server_conf(cmd->server);

    if (cmd->server->is_virtual) {
        return "StufLZStore belongs in the main server configuration: "
               "one store serves every virtual host";
    }
    if (strncmp(arg, "lmdb:", 5) != 0 || arg[5] == '\0') {
        return "StufLZStore expects lmdb:DIRECTORY";
    }
    conf->store_spec = apr_pstrcat(cmd->pool, "lmdb:",
                                   ap_server_root_relative(cmd->pool,
                                                           arg + 5), NULL);
    return NULL;
}

static const char *set_map_size(cmd_parms *cmd, void *dir, const char *arg)
{
    apr_off_t size;
    const char *error = parse_size(arg, &size);

    if (error) {
        return apr_pstrcat(cmd->pool, "StufLZMapSize: ", error, NULL);
    }
    server_conf(cmd->server)->map_size = (apr_size_t)size;
    return NULL;
}

static const char *set_max_readers(cmd_parms *cmd, void *dir,
                                   const char *arg)
{
    int value = atoi(arg);

    if (value < 1) {
        return "StufLZMaxReaders expects a positive number";
    }
    server_conf(cmd->server)->max_readers = (unsigned)value;
    return NULL;
}

static const char *set_receiver(cmd_parms *cmd, void *dir, int argc,
                                char *const argv[])
{
    stuflz_server_t *conf = server_conf(cmd->server);

    if (argc < 2 || argc > 3) {
        return "StufLZReceiver expects OIN APPLICATIE [ADMINISTRATIE]";
    }
    conf->receiver.organisatie = argv[0];
    conf->receiver.applicatie = argv[1];
    conf->receiver.administratie = argc == 3 ? argv[2] : NULL;
    conf->receiver_set = 1;
    return NULL;
}

static int valid_oin(const char *oin)
{
    apr_size_t i;

    if (strlen(oin) != 20) {
        return 0;
    }
    for (i = 0; i < 20; i++) {
        if (!apr_isdigit(oin[i])) {
            return 0;
        }
    }
    return 1;
}

static const char *set_partner(cmd_parms *cmd, void *dir, int argc,
                               char *const argv[])
{
    stuflz_server_t *conf = server_conf(cmd->server);
    sz_partner_t *partner;
    char *codes;
    char *code;
    char *state;
    int i;

    if (argc < 2) {
        return "StufLZPartner expects OIN GEMEENTECODE[,...] [reply=URL]";
    }
    if (!valid_oin(argv[0])) {
        return apr_psprintf(cmd->pool, "StufLZPartner: '%s' is not an OIN "
                            "(20 digits)", argv[0]);
    }
    partner = apr_pcalloc(cmd->pool, sizeof(*partner));
    partner->oin = argv[0];
    partner->gemeentecodes = apr_array_make(cmd->pool, 2,
                                            sizeof(const char *));
    codes = apr_pstrdup(cmd->pool, argv[1]);
    for (code = apr_strtok(codes, ",", &state); code;
         code = apr_strtok(NULL, ",", &state)) {
        if (strlen(code) != 4 || !apr_isdigit(code[0]) ||
            !apr_isdigit(code[1]) || !apr_isdigit(code[2]) ||
            !apr_isdigit(code[3])) {
            return apr_psprintf(cmd->pool, "StufLZPartner: gemeentecode "
                                "'%s' is not four digits", code);
        }
        APR_ARRAY_PUSH(partner->gemeentecodes, const char *) = code;
    }
    for (i = 2; i < argc; i++) {
        if (strncmp(argv[i], "reply=", 6) == 0 &&
            (strncmp(argv[i] + 6, "http://", 7) == 0 ||
             strncmp(argv[i] + 6, "https://", 8) == 0)) {
            partner->reply_url = argv[i] + 6;
        }
        else {
            return apr_psprintf(cmd->pool, "StufLZPartner: unknown option "
                                "'%s' (reply=http(s)://... expected)",
                                argv[i]);
        }
    }
    apr_hash_set(conf->partners, partner->oin, APR_HASH_KEY_STRING,
                 partner);
    return NULL;
}

static const char *set_schema(cmd_parms *cmd, void *dir, const char *arg)
{
    server_conf(cmd->server)->schema_path =
        ap_server_root_relative(cmd->pool, arg);
    return NULL;
}

static const char *set_optional(cmd_parms *cmd, void *dir, const char *arg)
{
    stuflz_server_t *conf = server_conf(cmd->server);
    unsigned field;

    if (strcasecmp(arg, "none") == 0) {
        conf->optional = 0;
        conf->optional_set = 1;
        return NULL;
    }
    field = lz_field_from_name(arg);
    if (field == 0) {
        return apr_psprintf(cmd->pool, "StufLZOptional: '%s' is not a spec "
                            "field that may be absent (identificatie, "
                            "datumStatusGezet and the BSN never may)", arg);
    }
    conf->optional |= field;
    conf->optional_set = 1;
    return NULL;
}

static const char *set_max_message_size(cmd_parms *cmd, void *dir,
                                        const char *arg)
{
    apr_off_t size;
    const char *error = parse_size(arg, &size);

    if (error) {
        return apr_pstrcat(cmd->pool, "StufLZMaxMessageSize: ", error, NULL);
    }
    server_conf(cmd->server)->max_message_size = size;
    return NULL;
}

static const char *set_time_zone(cmd_parms *cmd, void *dir, const char *arg)
{
    server_conf(cmd->server)->time_zone = arg;
    return NULL;
}

static const char *set_clock_skew(cmd_parms *cmd, void *dir,
                                  const char *arg)
{
    stuflz_server_t *conf = server_conf(cmd->server);
    char *end;
    long seconds = strtol(arg, &end, 10);

    if (*end != '\0' || seconds < 0 || seconds > 86400) {
        return "StufLZClockSkew expects seconds (0..86400)";
    }
    conf->skew = apr_time_from_sec(seconds);
    conf->skew_set = 1;
    return NULL;
}

static const char *add_cpa(cmd_parms *cmd, void *dir, const char *arg)
{
    stuflz_server_t *conf = server_conf(cmd->server);

    APR_ARRAY_PUSH(conf->cpa_patterns, const char *) =
        ap_server_root_relative(cmd->pool, arg);
    return NULL;
}

static const char *set_require_certificate(cmd_parms *cmd, void *dir,
                                           int on)
{
    server_conf(cmd->server)->require_certificate = on;
    return NULL;
}

static const char *set_certificate_header(cmd_parms *cmd, void *dir,
                                          const char *arg)
{
    server_conf(cmd->server)->certificate_header = arg;
    return NULL;
}

static const char *add_trusted_proxy(cmd_parms *cmd, void *dir,
                                     const char *arg)
{
    stuflz_server_t *conf = server_conf(cmd->server);
    char *address = apr_pstrdup(cmd->pool, arg);
    char *mask = strchr(address, '/');
    apr_ipsubnet_t *subnet;

    if (mask) {
        *mask++ = '\0';
    }
    if (apr_ipsubnet_create(&subnet, address, mask, cmd->pool)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "StufLZTrustedProxy: '%s' is not an "
                            "IP address or network", arg);
    }
    APR_ARRAY_PUSH(conf->trusted_proxies, apr_ipsubnet_t *) = subnet;
    return NULL;
}

static const command_rec stuflz_commands[] = {
    AP_INIT_TAKE1("StufLZStore", set_store, NULL, RSRC_CONF,
                  "where LZ keeps its state: lmdb:DIRECTORY"),
    AP_INIT_TAKE1("StufLZMapSize", set_map_size, NULL, RSRC_CONF,
                  "LMDB map size, e.g. 8G (default 1G)"),
    AP_INIT_TAKE1("StufLZMaxReaders", set_max_readers, NULL, RSRC_CONF,
                  "LMDB reader slots (default: from the MPM limits)"),
    AP_INIT_TAKE_ARGV("StufLZReceiver", set_receiver, NULL, RSRC_CONF,
                      "LZ's own StUF identity: OIN APPLICATIE "
                      "[ADMINISTRATIE]"),
    AP_INIT_TAKE_ARGV("StufLZPartner", set_partner, NULL, RSRC_CONF,
                      "a sender: OIN GEMEENTECODE[,...] [reply=URL]"),
    AP_INIT_TAKE1("StufLZSchema", set_schema, NULL, RSRC_CONF,
                  "schema (driver) the zakLk01 is validated against"),
    AP_INIT_ITERATE("StufLZOptional", set_optional, NULL, RSRC_CONF,
                    "spec fields that may be absent, or none"),
    AP_INIT_TAKE1("StufLZMaxMessageSize", set_max_message_size, NULL,
                  RSRC_CONF, "largest request body accepted (default 1M)"),
    AP_INIT_TAKE1("StufLZTimeZone", set_time_zone, NULL, RSRC_CONF,
                  "zone of StUF times (default Europe/Amsterdam)"),
    AP_INIT_TAKE1("StufLZClockSkew", set_clock_skew, NULL, RSRC_CONF,
                  "seconds a datumStatusGezet may lie ahead (default 300)"),
    AP_INIT_ITERATE("StufLZCPA", add_cpa, NULL, RSRC_CONF,
                    "CPA files (or glob patterns) for the ebMS binding"),
    AP_INIT_FLAG("StufLZRequireClientCertificate", set_require_certificate,
                 NULL, RSRC_CONF, "require a client certificate whose OIN "
                 "is the sender's (default On for TLS connections)"),
    AP_INIT_TAKE1("StufLZClientCertificateHeader", set_certificate_header,
                  NULL, RSRC_CONF, "request header in which a TLS "
                  "offloader passes the client certificate (PEM)"),
    AP_INIT_ITERATE("StufLZTrustedProxy", add_trusted_proxy, NULL,
                    RSRC_CONF, "addresses whose certificate header is "
                    "believed"),
    STUFLZ_OUTBOX_COMMANDS,
    {NULL}
};

/* The number of LMDB reader slots httpd can need: every thread of every
 * process, twice over for the overlap of a graceful restart. */
static unsigned derived_max_readers(void)
{
    int daemons = 0;
    int threads = 0;

    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads);
    if (daemons < 1) {
        daemons = 1;
    }
    if (threads < 1) {
        threads = 1;
    }
    return (unsigned)(daemons * threads * 2 + 32);
}

static store_options_t store_options(const stuflz_server_t *conf)
{
    store_options_t options;

    memset(&options, 0, sizeof(options));
    options.map_size = conf->map_size;
    options.max_readers = conf->max_readers ? conf->max_readers
                                            : derived_max_readers();
    return options;
}

/* Prepares one server's processing configuration: zone, schema, limits.
 * Errors here stop httpd from starting. */
/* What virtual hosts usually share with the main server: the compiled
 * schema and the loaded CPAs, built once per configuration. */
typedef struct {
    const sz_schema_t *schema;
    const char *schema_path;
    const cpa_registry_t *cpas;
    const apr_array_header_t *cpa_patterns;
} shared_setup_t;

static int same_patterns(const apr_array_header_t *a,
                         const apr_array_header_t *b)
{
    int i;

    if (a == NULL || b == NULL || a->nelts != b->nelts) {
        return 0;
    }
    for (i = 0; i < a->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a, i, const char *),
                   APR_ARRAY_IDX(b, i, const char *)) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Loads every StufLZCPA pattern; a bad CPA stops httpd with the file and
 * the problem. */
static const cpa_registry_t *load_cpas(apr_pool_t *pconf, server_rec *s,
                                       const apr_array_header_t *patterns)
{
    cpa_registry_t *cpas = cpa_registry_make(pconf);
    const char *error = NULL;
    int i;

    for (i = 0; i < patterns->nelts; i++) {
        const char *pattern = APR_ARRAY_IDX(patterns, i, const char *);

        if (cpa_registry_load(cpas, pattern, pconf, &error) != 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SZ_LOGNO(00012)
                         "StufLZCPA %s: %s", pattern, error);
            return NULL;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, SZ_LOGNO(00013)
                 "%d CPA(s) loaded for the ebMS binding",
                 cpa_registry_count(cpas));
    return cpas;
}

static int setup_server(apr_pool_t *pconf, server_rec *s,
                        stuflz_server_t *conf, shared_setup_t *shared)
{
    const char *error = NULL;
    const char *zone_name = conf->time_zone ? conf->time_zone
                                            : "Europe/Amsterdam";
    const char *schema_path = conf->schema_path ? conf->schema_path
                                                : STUFLZ_SCHEMA_DEFAULT;
    sz_tz_t *zone;

    if (!conf->receiver_set) {
        conf->receiver.organisatie = "00000004003214345001";
        conf->receiver.applicatie = "MijnOverheid";
        conf->receiver.administratie = "Lopende zaken";
    }
    if (conf->max_message_size < 0) {
        conf->max_message_size = 1024 * 1024;
    }
    if (!conf->skew_set) {
        conf->skew = apr_time_from_sec(300);
    }

    zone = sz_tz_load(zone_name, NULL, pconf, &error);
    if (zone == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SZ_LOGNO(00010)
                     "StufLZTimeZone %s: %s", zone_name, error);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    /* Virtual hosts mostly share the main server's schema. */
    if (shared->schema && strcmp(shared->schema_path, schema_path) == 0) {
        conf->process.schema = shared->schema;
    }
    else {
        conf->process.schema = sz_schema_load(schema_path, pconf, &error);
        if (conf->process.schema == NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SZ_LOGNO(00011)
                         "StufLZSchema %s: %s", schema_path, error);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        shared->schema = conf->process.schema;
        shared->schema_path = schema_path;
    }

    conf->process.receiver = conf->receiver;
    conf->process.partners = conf->partners;
    conf->process.lz.optional = conf->optional;
    conf->process.lz.zone = zone;
    conf->process.lz.skew = conf->skew;
    conf->process.allow_bare = 0;

    /* The CPAs, loaded once for every server that names the same. */
    conf->process.cpas = NULL;
    if (conf->cpa_patterns->nelts > 0) {
        if (!same_patterns(shared->cpa_patterns, conf->cpa_patterns)) {
            shared->cpas = load_cpas(pconf, s, conf->cpa_patterns);
            shared->cpa_patterns = conf->cpa_patterns;
            if (shared->cpas == NULL) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        conf->process.cpas = shared->cpas;
    }
    return OK;
}

/* The parent creates the store, clears stale readers and hands the files
 * to the User httpd runs as; then it closes the store again, because an
 * LMDB environment must not cross a fork. */
static int prepare_store(apr_pool_t *ptemp, server_rec *s,
                         stuflz_server_t *conf)
{
    store_options_t options = store_options(conf);
    const char *error = NULL;
    const char **files;
    store_t *store;
    int cleared;

    store = store_open(conf->store_spec, &options, ptemp, &error);
    if (store == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SZ_LOGNO(00020)
                     "StufLZStore %s: %s", conf->store_spec, error);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    cleared = store_check_readers(store);
    files = store_files(store, ptemp);
    if (geteuid() == 0) {
        for (; files && *files; files++) {
            if (chown(*files, ap_unixd_config.user_id,
                      ap_unixd_config.group_id) != 0) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                             SZ_LOGNO(00021) "cannot hand %s to the httpd "
                             "User", *files);
                store_close(store);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    store_close(store);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, SZ_LOGNO(00022)
                 "store %s ready (%u reader slots, %d stale cleared)",
                 conf->store_spec, options.max_readers, cleared);
    return OK;
}

static int stuflz_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    stuflz_server_t *main_conf = server_conf(s);
    shared_setup_t shared = { NULL, NULL, NULL, NULL };
    server_rec *each;
    int rv;

    /* libxml2's global setup must happen before fork and threads. */
    xmlInitParser();

    for (each = s; each; each = each->next) {
        rv = setup_server(pconf, each, server_conf(each), &shared);
        if (rv != OK) {
            return rv;
        }
    }

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (main_conf->store_spec == NULL) {
        main_conf->store_spec = apr_pstrcat(pconf, "lmdb:",
            ap_runtime_dir_relative(pconf, "stuflz"), NULL);
    }
    for (each = s->next; each; each = each->next) {
        server_conf(each)->store_spec = main_conf->store_spec;
    }
    rv = prepare_store(ptemp, s, main_conf);
    if (rv != OK) {
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, SZ_LOGNO(00001)
                 "mod_stuflz ready: store %s, schema %s, libxml2 %s",
                 main_conf->store_spec,
                 sz_schema_path(main_conf->process.schema),
                 xmlParserVersion);
    return OK;
}

static apr_status_t close_child_store(void *data)
{
    if (child_store) {
        store_close(child_store);
        child_store = NULL;
    }
    return APR_SUCCESS;
}

/* Each child opens its own environment, after fork and before threads. */
static void stuflz_child_init(apr_pool_t *pchild, server_rec *s)
{
    stuflz_server_t *conf = server_conf(s);
    store_options_t options = store_options(conf);
    const char *error = NULL;

    if (conf->store_spec == NULL) {
        child_store_error = "no store configured";
        return;
    }
    child_store = store_open(conf->store_spec, &options, pchild, &error);
    if (child_store == NULL) {
        child_store_error = error;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SZ_LOGNO(00030)
                     "store %s cannot be opened in this child: %s; "
                     "messages are refused with 503", conf->store_spec,
                     error);
        return;
    }
    store_check_readers(child_store);
    apr_pool_cleanup_register(pchild, NULL, close_child_store,
                              apr_pool_cleanup_null);
}

/* Who connected: the client certificate from mod_ssl, or from the
 * configured header when a trusted proxy (TLS offloader) sent it. */
static void client_identity(request_rec *r, const stuflz_server_t *conf,
                            sz_client_t *client)
{
    conn_rec *c = r->connection;
    const char *pem = NULL;
    int i;

    memset(client, 0, sizeof(*client));
    if (conf->certificate_header) {
        int trusted = 0;

        for (i = 0; i < conf->trusted_proxies->nelts; i++) {
            if (apr_ipsubnet_test(APR_ARRAY_IDX(conf->trusted_proxies, i,
                                                apr_ipsubnet_t *),
                                  c->client_addr)) {
                trusted = 1;
                break;
            }
        }
        if (trusted) {
            pem = apr_table_get(r->headers_in, conf->certificate_header);
        }
        else if (apr_table_get(r->headers_in, conf->certificate_header)) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, SZ_LOGNO(00120)
                          "%s header from %s ignored: not a "
                          "StufLZTrustedProxy", conf->certificate_header,
                          c->client_ip);
        }
        client->required = conf->require_certificate != 0;
    }
    else {
        int tls = ap_ssl_conn_is_ssl(c);

        if (tls) {
            pem = ap_ssl_var_lookup(r->pool, r->server, c, r,
                                    "SSL_CLIENT_CERT");
        }
        client->required = conf->require_certificate == 1 ||
                           (conf->require_certificate < 0 && tls);
    }
    if (pem && *pem) {
        client->present = 1;
        sz_tls_certificate_oin(pem, r->pool, &client->oin,
                               &client->problem);
    }
    else {
        client->problem = "geen clientcertificaat";
    }
}

static int write_answer(request_rec *r, int status, const char *body,
                        apr_size_t len)
{
    r->status = status;
    ap_set_content_type(r, "text/xml; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)len);
    ap_rwrite(body, (int)len, r);
    return OK;
}

static int fault(request_rec *r, int status, const char *plek,
                 const char *text)
{
    sz_process_result_t result;

    sz_process_fault(plek, text, r->pool, &result);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, SZ_LOGNO(00110)
                  "refused before parsing: %s", text);
    return write_answer(r, status, result.body, result.body_len);
}

/* Reads the whole body under the size limit, chunked or not. Returns OK,
 * or an HTTP status to answer with. */
static int read_body(request_rec *r, apr_off_t limit, char **data,
                     apr_size_t *len)
{
    apr_bucket_brigade *bb;
    const char *length_header;
    apr_size_t capacity = 16384;
    int seen_eos = 0;
    char *buffer;
    apr_size_t used = 0;

    length_header = apr_table_get(r->headers_in, "Content-Length");
    if (length_header) {
        apr_off_t declared;

        if (apr_strtoff(&declared, length_header, NULL, 10) != APR_SUCCESS
            || declared < 0) {
            return HTTP_BAD_REQUEST;
        }
        if (declared > limit) {
            r->connection->keepalive = AP_CONN_CLOSE;
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
        if (declared + 1 > (apr_off_t)capacity) {
            capacity = (apr_size_t)declared + 1;
        }
    }
    buffer = apr_palloc(r->pool, capacity);

    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!seen_eos) {
        apr_bucket *bucket;
        apr_status_t rv;

        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            r->connection->keepalive = AP_CONN_CLOSE;
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        for (bucket = APR_BRIGADE_FIRST(bb); bucket != APR_BRIGADE_SENTINEL(bb);
             bucket = APR_BUCKET_NEXT(bucket)) {
            const char *chunk;
            apr_size_t chunk_len;

            if (APR_BUCKET_IS_EOS(bucket)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(bucket)) {
                continue;
            }
            rv = apr_bucket_read(bucket, &chunk, &chunk_len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                r->connection->keepalive = AP_CONN_CLOSE;
                return HTTP_BAD_REQUEST;
            }
            if ((apr_off_t)(used + chunk_len) > limit) {
                r->connection->keepalive = AP_CONN_CLOSE;
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
            if (used + chunk_len + 1 > capacity) {
                char *grown;

                while (used + chunk_len + 1 > capacity) {
                    capacity *= 2;
                }
                grown = apr_palloc(r->pool, capacity);
                memcpy(grown, buffer, used);
                buffer = grown;
            }
            memcpy(buffer + used, chunk, chunk_len);
            used += chunk_len;
        }
        apr_brigade_cleanup(bb);
    }
    buffer[used] = '\0';
    *data = buffer;
    *len = used;
    return OK;
}

static int not_post(request_rec *r)
{
    apr_table_setn(r->headers_out, "Allow", "POST");
    return fault(r, HTTP_METHOD_NOT_ALLOWED, "client",
                 "alleen POST is toegestaan");
}

/* The body of a message, once we know it can be stored: OK, or the
 * status already answered (413, 400, 503). */
static int receive(request_rec *r, const stuflz_server_t *conf,
                   char **body, apr_size_t *len)
{
    int rv = read_body(r, conf->max_message_size, body, len);

    if (rv == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, SZ_LOGNO(00101)
                      "message larger than StufLZMaxMessageSize (%"
                      APR_OFF_T_FMT " bytes) refused",
                      conf->max_message_size);
        return rv;
    }
    if (rv != OK) {
        return rv;
    }
    if (child_store == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SZ_LOGNO(00102)
                      "store unavailable (%s): message refused",
                      child_store_error ? child_store_error : "not open");
        return fault(r, HTTP_SERVICE_UNAVAILABLE, "server",
                     "LZ kan het bericht nu niet opslaan; probeer het "
                     "later opnieuw");
    }
    return OK;
}

/* "text/xml" with any parameters. */
static int is_text_xml(const char *content_type)
{
    apr_size_t n = strlen("text/xml");

    return content_type && strncasecmp(content_type, "text/xml", n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' ||
            content_type[n] == ' ');
}

/* The SOAPAction header without its optional quotes. */
static int soapaction_ok(const char *header)
{
    apr_size_t n;

    if (header == NULL) {
        return 0;
    }
    n = strlen(header);
    if (n >= 2 && header[0] == '"' && header[n - 1] == '"') {
        return n - 2 == strlen(SOAPACTION_ZAKLK01) &&
               strncmp(header + 1, SOAPACTION_ZAKLK01, n - 2) == 0;
    }
    return strcmp(header, SOAPACTION_ZAKLK01) == 0;
}

static void log_result(request_rec *r, const sz_process_result_t *result)
{
    const char *ref = result->referentienummer ? result->referentienummer
                                               : "-";
    const char *zaak = result->zaakidentificatie ? result->zaakidentificatie
                                                 : "-";

    switch (result->answer) {
    case SZ_ANSWER_BV01:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, SZ_LOGNO(00200)
                      "zakLk01 referentienummer=%s zaak=%s: accepted%s%s%s",
                      ref, zaak,
                      result->replayed ? ", identical resend" : "",
                      result->store.zaak_created ? ", new zaak" : "",
                      result->store.status_created ? ", new status"
                                                   : ", status known");
        break;
    case SZ_ANSWER_FO01:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, SZ_LOGNO(00201)
                      "zakLk01 referentienummer=%s zaak=%s: Fo01 %s: %s%s",
                      ref, zaak, result->fout_code, result->log_text,
                      result->replayed ? " (identical resend)" : "");
        break;
    case SZ_ANSWER_FO03:
        ap_log_rerror(APLOG_MARK,
                      strcmp(result->fout_code, "StUF046") == 0
                          ? APLOG_ERR : APLOG_WARNING, 0, r,
                      SZ_LOGNO(00202)
                      "zakLk01 referentienummer=%s: Fo03 %s: %s", ref,
                      result->fout_code, result->log_text);
        break;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, SZ_LOGNO(00203)
                      "message refused: %s", result->log_text);
        break;
    }
}

static int stuflz_soap_handler(request_rec *r)
{
    stuflz_server_t *conf;
    sz_process_result_t result;
    sz_client_t client;
    char *body = NULL;
    apr_size_t len = 0;
    int rv;

    if (r->handler == NULL || strcmp(r->handler, "stuflz-soap") != 0) {
        return DECLINED;
    }
    conf = server_conf(r->server);

    if (r->method_number != M_POST) {
        return not_post(r);
    }
    if (!is_text_xml(apr_table_get(r->headers_in, "Content-Type"))) {
        return fault(r, HTTP_UNSUPPORTED_MEDIA_TYPE, "client",
                     "SOAP 1.1 verwacht Content-Type text/xml");
    }
    if (!soapaction_ok(apr_table_get(r->headers_in, "SOAPAction"))) {
        return fault(r, HTTP_INTERNAL_SERVER_ERROR, "client",
                     "SOAPAction niet ondersteund: verwacht "
                     SOAPACTION_ZAKLK01);
    }
    rv = receive(r, conf, &body, &len);
    if (rv != OK) {
        return rv;
    }

    client_identity(r, conf, &client);
    sz_process_soap(&conf->process, child_store, &client, body, len,
                    r->request_time, r->pool, &result);
    log_result(r, &result);
    return write_answer(r, result.http_status, result.body,
                        result.body_len);
}

static void log_ebms_result(request_rec *r, const sz_ebms_result_t *result)
{
    const char *cpaid = result->cpaid ? result->cpaid : "-";
    const char *id = result->message_id ? result->message_id : "-";
    const sz_stuf_exam_t *exam = result->exam;

    if (result->http_status == 500) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, SZ_LOGNO(00300)
                      "ebMS message refused (SOAP Fault): %s",
                      result->log_text ? result->log_text : "-");
        return;
    }
    if (result->error_code) {
        ap_log_rerror(APLOG_MARK, result->http_status == 503 ? APLOG_ERR
                                                             : APLOG_WARNING,
                      0, r, SZ_LOGNO(00301) "ebMS cpaid=%s MessageId=%s: "
                      "MessageError %s at %s%s: %s", cpaid, id,
                      result->error_code,
                      result->error_location ? result->error_location : "-",
                      result->signal_queued ? " (queued)" : "",
                      result->log_text ? result->log_text : "-");
        return;
    }
    if (exam) {
        ap_log_rerror(APLOG_MARK,
                      exam->answer == SZ_ANSWER_BV01 ? APLOG_DEBUG
                                                     : APLOG_WARNING,
                      0, r, SZ_LOGNO(00302) "ebMS cpaid=%s MessageId=%s "
                      "referentienummer=%s zaak=%s: %s%s%s%s%s", cpaid, id,
                      exam->sg.referentienummer ? exam->sg.referentienummer
                                                : "-",
                      exam->k.identificatie ? exam->k.identificatie : "-",
                      exam->answer == SZ_ANSWER_BV01 ? "Bv01"
                      : exam->answer == SZ_ANSWER_FO01 ? "Fo01 " : "Fo03 ",
                      exam->fout_code ? exam->fout_code : "",
                      exam->details ? ": " : "",
                      exam->details ? exam->details : "",
                      result->duplicate ? " (duplicate MessageId)" : "");
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, SZ_LOGNO(00303)
                  "ebMS cpaid=%s MessageId=%s %s: %s%s", cpaid, id,
                  result->kind ? result->kind : "-",
                  result->signal ? result->signal : "no answer",
                  result->duplicate ? " (duplicate)" : "");
}

static int stuflz_ebms_handler(request_rec *r)
{
    stuflz_server_t *conf;
    sz_ebms_result_t result;
    sz_client_t client;
    char *body = NULL;
    apr_size_t len = 0;
    int rv;

    if (r->handler == NULL || strcmp(r->handler, "stuflz-ebms") != 0) {
        return DECLINED;
    }
    conf = server_conf(r->server);

    if (r->method_number != M_POST) {
        return not_post(r);
    }
    if (conf->process.cpas == NULL) {
        return fault(r, HTTP_SERVICE_UNAVAILABLE, "server",
                     "de ebMS-koppeling heeft geen CPA (StufLZCPA)");
    }
    rv = receive(r, conf, &body, &len);
    if (rv != OK) {
        return rv;
    }

    client_identity(r, conf, &client);
    sz_process_ebms(&conf->process, child_store, &client,
                    apr_table_get(r->headers_in, "SOAPAction"),
                    apr_table_get(r->headers_in, "Content-Type"), body, len,
                    r->request_time, r->pool, &result);
    log_ebms_result(r, &result);
    if (result.body == NULL) {
        r->status = result.http_status;
        ap_set_content_length(r, 0);
        return OK;
    }
    if (result.http_status == 200) {
        apr_table_setn(r->headers_out, "SOAPAction", "\"ebXML\"");
    }
    return write_answer(r, result.http_status, result.body,
                        result.body_len);
}

static void stuflz_register_hooks(apr_pool_t *pool)
{
    ap_hook_post_config(stuflz_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(stuflz_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(stuflz_soap_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(stuflz_ebms_handler, NULL, NULL, APR_HOOK_MIDDLE);
    stuflz_outbox_register_hooks(pool, &child_store);
}

AP_DECLARE_MODULE(stuflz) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    create_server,
    merge_server,
    stuflz_commands,
    stuflz_register_hooks,
    0
};

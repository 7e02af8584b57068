/* mod_stuflz_outbox.c - the httpd glue of the outbox delivery: its
 * directives, a callback on a singleton mod_watchdog instance (one child
 * at a time delivers), and one log line per attempt outcome. The work
 * itself is outbox_run() in the core (src/outbox.c). */
#include <string.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "mod_watchdog.h"

#include <apr_strings.h>
#include <curl/curl.h>

#include "mod_stuflz_outbox.h"
#include "outbox.h"

APLOG_USE_MODULE(stuflz);

#define SZ_LOGNO(n) "SZ" #n ": "

/* Our own watchdog instance (singleton: one child at a time), so a long
 * round does not hold up other modules' callbacks. */
#define WATCHDOG_NAME "_stuflz_outbox_"

/* Main-server settings; set again from the defaults on every (re)read of
 * the configuration. */
static struct {
    outbox_config_t outbox;
    apr_interval_time_t interval;       /* StufLZDeliveryInterval */
} settings;

static store_t **delivery_store;

/* Per child, on the watchdog thread only. */
static apr_pool_t *delivery_pool;
static outbox_t *delivery;

static void settings_reset(void)
{
    memset(&settings, 0, sizeof(settings));
    settings.outbox.retries = OUTBOX_DEFAULT_RETRIES;
    settings.outbox.retry_interval = OUTBOX_DEFAULT_RETRY_INTERVAL;
    settings.outbox.timeout = OUTBOX_DEFAULT_TIMEOUT;
    settings.interval = apr_time_from_sec(1);
}

const char *stuflz_outbox_set_path(cmd_parms *cmd, void *dir,
                                   const char *arg)
{
    const char *which = cmd->info;
    const char *error = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path;

    if (error) {
        return error;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || access(path, R_OK) != 0) {
        return apr_psprintf(cmd->pool, "%s: cannot read %s",
                            cmd->directive->directive, arg);
    }
    if (strcmp(which, "certificate") == 0) {
        settings.outbox.client_certificate = path;
    }
    else if (strcmp(which, "key") == 0) {
        settings.outbox.client_key = path;
    }
    else {
        settings.outbox.ca_certificate = path;
    }
    return NULL;
}

/* Seconds, or milliseconds with "ms". */
static const char *parse_interval(const char *arg, apr_interval_time_t *out)
{
    char *end;
    apr_int64_t value = apr_strtoi64(arg, &end, 10);

    if (end == arg || value < 0 || value > 86400 * 1000) {
        return "expects a number of seconds, or NNNms";
    }
    if (strcmp(end, "ms") == 0) {
        *out = apr_time_from_msec(value);
        return NULL;
    }
    if (*end != '\0' && strcmp(end, "s") != 0) {
        return "expects a number of seconds, or NNNms";
    }
    *out = apr_time_from_sec(value);
    return NULL;
}

const char *stuflz_outbox_set_number(cmd_parms *cmd, void *dir,
                                     const char *arg)
{
    const char *which = cmd->info;
    const char *error = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t interval = 0;
    char *end;
    apr_int64_t retries;

    if (error) {
        return error;
    }
    if (strcmp(which, "retries") == 0) {
        retries = apr_strtoi64(arg, &end, 10);
        if (end == arg || *end != '\0' || retries < 0 || retries > 1000) {
            return "StufLZRetries expects a number from 0 to 1000";
        }
        settings.outbox.retries = (unsigned)retries;
        return NULL;
    }

    error = parse_interval(arg, &interval);
    if (error == NULL && interval <= 0) {
        error = "must be more than 0";
    }
    if (error) {
        return apr_pstrcat(cmd->pool, cmd->directive->directive, " ", error,
                           NULL);
    }
    if (strcmp(which, "interval") == 0) {
        settings.outbox.retry_interval = interval;
    }
    else if (strcmp(which, "delivery") == 0) {
        settings.interval = interval;
    }
    else {
        settings.outbox.timeout = interval;
    }
    return NULL;
}

static int outbox_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp)
{
    settings_reset();
    return OK;
}

/* One line per attempt outcome: kind, reference, destination, outcome,
 * HTTP status. Never the payload (which holds the BSN). */
static void log_report(void *baton, const outbox_report_t *r)
{
    server_rec *s = baton;
    const store_outbox_t *e = r->entry;
    int delivered = strcmp(r->outcome, "delivered") == 0;
    char next[APR_RFC822_DATE_LEN] = "";

    if (strcmp(r->outcome, "retry") == 0) {
        apr_rfc822_date(next, r->next_try);
    }
    ap_log_error(APLOG_MARK, delivered ? APLOG_DEBUG : APLOG_WARNING, 0, s,
                 SZ_LOGNO(00070) "outbox %s %s=%s (#%" APR_UINT64_T_FMT
                 ") to %s: %s, HTTP %ld, attempt %u%s%s%s%s",
                 e->kind ? e->kind : "-",
                 e->destination && strncmp(e->destination, "ebms:", 5) == 0
                     ? "MessageId" : "referentienummer",
                 e->reference ? e->reference : "-",
                 e->sequence, e->destination ? e->destination : "-",
                 r->outcome, r->http_status,
                 e->attempts + (strcmp(r->outcome, "expired") != 0),
                 r->error ? "; " : "", r->error ? r->error : "",
                 next[0] ? "; next try " : "", next);
}

/* Whether this child is on its way out (graceful stop or restart). */
static int stopping(void)
{
    int state = AP_MPMQ_STOPPING;

    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) != APR_SUCCESS) {
        return 1;
    }
    return state == AP_MPMQ_STOPPING;
}

static apr_status_t delivery_callback(int state, void *data,
                                      apr_pool_t *pool)
{
    server_rec *s = data;
    const char *error = NULL;
    apr_pool_t *round_pool;
    outbox_round_t round;

    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        if (apr_pool_create(&delivery_pool, NULL) != APR_SUCCESS) {
            return APR_SUCCESS;
        }
        delivery = outbox_create(&settings.outbox, delivery_pool, &error);
        if (delivery == NULL) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SZ_LOGNO(00071)
                         "outbox delivery cannot start: %s", error);
        }
        return APR_SUCCESS;

    case AP_WATCHDOG_STATE_RUNNING:
        if (delivery == NULL || delivery_store == NULL
            || *delivery_store == NULL) {
            return APR_SUCCESS;
        }
        if (apr_pool_create(&round_pool, pool) != APR_SUCCESS) {
            return APR_SUCCESS;
        }
        /* A round that ran out of budget with due work left is followed
         * at once by the next (a pause per round would idle a sixth of
         * the time while a long queue drains); between rounds, a child
         * that is stopping lets go, as mod_watchdog itself does. */
        do {
            apr_pool_clear(round_pool);
            if (outbox_run(delivery, *delivery_store, log_report, s,
                           round_pool, &round) != 0) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SZ_LOGNO(00072)
                             "outbox delivery: the store failed; what was "
                             "not recorded is sent again later");
            }
            if (round.claimed || round.expired) {
                ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, s,
                             SZ_LOGNO(00073) "outbox round: %d claimed, "
                             "%d delivered, %d retry, %d failed, "
                             "%d expired, %d released%s",
                             round.claimed, round.delivered, round.retried,
                             round.failed, round.expired, round.released,
                             round.more ? ", more due" : "");
            }
        } while (round.more && !stopping());
        apr_pool_destroy(round_pool);
        return APR_SUCCESS;

    case AP_WATCHDOG_STATE_STOPPING:
        if (delivery_pool) {
            apr_pool_destroy(delivery_pool);
            delivery_pool = NULL;
            delivery = NULL;
        }
        return APR_SUCCESS;
    }
    return APR_SUCCESS;
}

static int outbox_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_callback;
    static int curl_ready;
    ap_watchdog_t *watchdog;
    apr_status_t rv;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }

    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (get_instance == NULL || register_callback == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SZ_LOGNO(00074)
                     "mod_stuflz delivers its outbox with mod_watchdog, "
                     "which is not loaded: add \"LoadModule "
                     "watchdog_module modules/mod_watchdog.so\" before "
                     "mod_stuflz");
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    /* libcurl's global setup is not thread-safe: once, in the parent. */
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SZ_LOGNO(00075)
                         "cannot initialise libcurl");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        curl_ready = 1;
    }

    rv = get_instance(&watchdog, WATCHDOG_NAME, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_callback(watchdog, settings.interval, s,
                               delivery_callback);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, SZ_LOGNO(00076)
                     "cannot register the outbox delivery with "
                     "mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, SZ_LOGNO(00077)
                 "outbox delivery every %" APR_TIME_T_FMT " ms, StUF SOAP "
                 "retries %u from %" APR_TIME_T_FMT " s, timeout %"
                 APR_TIME_T_FMT " s, client certificate %s",
                 apr_time_as_msec(settings.interval), settings.outbox.retries,
                 apr_time_sec(settings.outbox.retry_interval),
                 apr_time_sec(settings.outbox.timeout),
                 settings.outbox.client_certificate
                     ? settings.outbox.client_certificate : "none");
    return OK;
}

void stuflz_outbox_register_hooks(apr_pool_t *pool, store_t **child_store)
{
    delivery_store = child_store;
    settings_reset();
    ap_hook_pre_config(outbox_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before mod_watchdog's own post_config (APR_HOOK_LAST), which starts
     * the instances asked for until then. */
    ap_hook_post_config(outbox_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}

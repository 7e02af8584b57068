/* outbox.c - the delivery of outbox entries (see outbox.h): one round
 * claims due entries, sends them over libcurl's multi interface in lanes
 * (one lane per partner and destination, sent in queue order, lanes in
 * parallel), and records each answer's verdict in the store. */
#include "outbox.h"

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <curl/curl.h>

#define STUF_ACTION_BASE "http://www.egem.nl/StUF/StUF0301/"

/* Enough of an answer to find an ErrorList or show a fault. */
#define MAX_ANSWER (64 * 1024)

/* Entries claimed at once, and per destination (so one destination with
 * a long queue leaves room for the others). A claim walks the pending
 * entries, and a lane of ordered answers cannot claim its next entries
 * before its claimed ones are recorded: a lane runs dry once per claim,
 * so the more it takes, the fewer such stops. */
#define CLAIM_BATCH 1024
#define CLAIM_PER_DESTINATION 256

/* While lanes still have work, claim at most this often. */
#define CLAIM_EVERY apr_time_from_msec(500)

/* Outcomes are written together, at most this long after the first:
 * each write is a synced commit that inbound messages queue behind, and
 * an outcome not written yet only costs a duplicate after a crash. */
#define FLUSH_AFTER apr_time_from_msec(250)
#define FLUSH_COUNT 256

struct outbox {
    outbox_config_t config;
    CURLM *multi;
};

/* One transfer in flight. */
typedef struct lane lane_t;
typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    char error[CURL_ERROR_SIZE];
    char *answer;
    apr_size_t answer_len;
    lane_t *lane;
} transfer_t;

/* The claimed entries of one partner and destination, sent one by one. */
struct lane {
    const char *destination;
    apr_array_header_t *entries;    /* of store_outbox_t */
    int next;                       /* the first entry not yet sent */
    transfer_t *busy;               /* in flight, or NULL */
    char *answer;                   /* MAX_ANSWER bytes for busy's answer */
};

typedef struct {
    outbox_t *outbox;
    store_t *store;
    outbox_report_fn *report;
    void *baton;
    apr_pool_t *pool;
    outbox_round_t *round;
    apr_hash_t *lanes;              /* partner \n destination -> lane_t */
    apr_array_header_t *lane_list;  /* of lane_t *, in creation order */
    apr_hash_t *down;               /* destination -> apr_time_t until */
    apr_array_header_t *results;    /* of store_outbox_result_t */
    apr_time_t first_result;
    int in_flight;
    int failed;                     /* the store failed */
    int left_due;                   /* due entries were put back unsent */
} run_t;

static apr_status_t outbox_cleanup(void *data)
{
    outbox_t *outbox = data;

    if (outbox->multi) {
        curl_multi_cleanup(outbox->multi);
        outbox->multi = NULL;
    }
    return APR_SUCCESS;
}

outbox_t *outbox_create(const outbox_config_t *config, apr_pool_t *pool,
                        const char **error)
{
    outbox_t *outbox = apr_pcalloc(pool, sizeof(*outbox));

    outbox->config = *config;
    if (outbox->config.timeout <= 0) {
        outbox->config.timeout = OUTBOX_DEFAULT_TIMEOUT;
    }
    if (outbox->config.retry_interval <= 0) {
        outbox->config.retry_interval = OUTBOX_DEFAULT_RETRY_INTERVAL;
    }
    if (outbox->config.budget <= 0) {
        outbox->config.budget = apr_time_from_sec(5);
    }
    if (outbox->config.max_transfers <= 0) {
        outbox->config.max_transfers = 16;
    }

    outbox->multi = curl_multi_init();
    if (outbox->multi == NULL) {
        *error = "cannot set up libcurl";
        return NULL;
    }
    curl_multi_setopt(outbox->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)outbox->config.max_transfers);
    apr_pool_cleanup_register(pool, outbox, outbox_cleanup,
                              apr_pool_cleanup_null);
    return outbox;
}

/* ---- the parts ---------------------------------------------------------- */

const char *outbox_url(const char *destination)
{
    static const char *const schemes[] = { "ebms:", "stuf-soap:" };
    size_t i, len;

    if (destination == NULL) {
        return NULL;
    }
    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        len = strlen(schemes[i]);
        if (strncmp(destination, schemes[i], len) == 0
            && destination[len] != '\0') {
            return destination + len;
        }
    }
    return NULL;
}

const char *outbox_soap_action(const store_outbox_t *entry,
                               apr_pool_t *pool)
{
    if (entry->destination == NULL) {
        return NULL;
    }
    if (strncmp(entry->destination, "ebms:", 5) == 0) {
        return "\"ebXML\"";
    }
    if (entry->kind && (strcmp(entry->kind, "Bv01") == 0
                        || strcmp(entry->kind, "Fo01") == 0
                        || strcmp(entry->kind, "Fo03") == 0)) {
        return apr_pstrcat(pool, "\"" STUF_ACTION_BASE, entry->kind, "\"",
                           NULL);
    }
    return NULL;
}

/* A transport problem that may go away: the receiver is down, slow or
 * its TLS is not right yet. A URL we cannot use will not get better. */
static int curl_code_is_permanent(int code)
{
    return code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT
           || code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CACERT_BADFILE
           || code == CURLE_TOO_MANY_REDIRECTS;
}

/* An ebMS ErrorList whose highestSeverity is not Warning (a warning
 * means the message was processed). */
static int has_error_list(const char *body, apr_size_t len)
{
    const char *p = body, *end = body + len, *tag_end;

    while (p && p < end) {
        p = memmem(p, (size_t)(end - p), "ErrorList", 9);
        if (p == NULL) {
            return 0;
        }
        /* Only an element name: preceded by '<' or a prefix's ':'. */
        if (p > body && (p[-1] == '<' || p[-1] == ':')) {
            tag_end = memchr(p, '>', (size_t)(end - p));
            if (tag_end == NULL
                || memmem(p, (size_t)(tag_end - p), "Warning", 7) == NULL) {
                return 1;
            }
        }
        p += 9;
    }
    return 0;
}

outbox_verdict_t outbox_classify(int curl_code, long status,
                                 const char *body, apr_size_t body_len,
                                 apr_pool_t *pool, const char **reason)
{
    *reason = NULL;
    if (curl_code != CURLE_OK) {
        *reason = apr_psprintf(pool, "transport: %s",
                               curl_easy_strerror((CURLcode)curl_code));
        return curl_code_is_permanent(curl_code) ? OUTBOX_FAILED
                                                 : OUTBOX_RETRY;
    }
    if (status >= 200 && status < 300) {
        if (body && has_error_list(body, body_len)) {
            *reason = apr_psprintf(pool, "HTTP %ld with an ebMS ErrorList",
                                   status);
            return OUTBOX_FAILED;
        }
        return OUTBOX_DELIVERED;
    }
    *reason = apr_psprintf(pool, "HTTP %ld", status);

    /* Busy, timed out, throttled: the receiver asks to come back. 502
     * and 504 are a proxy in front of it that cannot reach it, the same
     * as a refused connection. */
    if (status == 503 || status == 408 || status == 429 || status == 502
        || status == 504) {
        return OUTBOX_RETRY;
    }
    return OUTBOX_FAILED;
}

apr_interval_time_t outbox_retry_delay(unsigned attempts,
                                       apr_interval_time_t interval,
                                       int agreed)
{
    unsigned doublings;

    if (interval <= 0) {
        interval = apr_time_from_sec(1);
    }
    if (agreed || attempts <= 1) {
        return interval;
    }
    doublings = attempts - 1 > 4 ? 4 : attempts - 1;
    return interval << doublings;
}

/* ---- one round ---------------------------------------------------------- */

static size_t collect_answer(char *data, size_t size, size_t count,
                             void *baton)
{
    transfer_t *t = baton;
    size_t len = size * count;
    size_t room = MAX_ANSWER - t->answer_len;
    size_t keep = len < room ? len : room;

    memcpy(t->answer + t->answer_len, data, keep);
    t->answer_len += keep;
    return len;
}

static int destination_is_down(void *baton, const char *destination)
{
    run_t *run = baton;
    apr_time_t *until = apr_hash_get(run->down, destination,
                                     APR_HASH_KEY_STRING);

    return until && *until > apr_time_now();
}

static void add_result(run_t *run, const store_outbox_t *entry,
                       store_outbox_outcome_t outcome, apr_time_t next_try,
                       const char *error)
{
    store_outbox_result_t *r = apr_array_push(run->results);

    if (run->results->nelts == 1) {
        run->first_result = apr_time_now();
    }
    r->sequence = entry->sequence;
    r->lease = entry->next_try;
    r->outcome = outcome;
    r->next_try = next_try;
    r->error = error;
}

static void flush(run_t *run, int now_anyway)
{
    int n = run->results->nelts;

    if (n == 0) {
        return;
    }
    if (!now_anyway && n < FLUSH_COUNT
        && apr_time_now() - run->first_result < FLUSH_AFTER) {
        return;
    }
    if (store_outbox_finish(run->store,
                            (store_outbox_result_t *)run->results->elts, n,
                            apr_time_now()) < 0) {
        run->failed = 1;
    }
    apr_array_clear(run->results);
}

/* The entries of a lane not sent yet go back, to be claimed again at
 * next_try; nothing was attempted for them. */
static void release_rest(run_t *run, lane_t *lane, apr_time_t next_try)
{
    for (; lane->next < lane->entries->nelts; lane->next++) {
        add_result(run, &APR_ARRAY_IDX(lane->entries, lane->next,
                                       store_outbox_t),
                   STORE_OUTBOX_RELEASE, next_try, NULL);
        run->round->released++;
    }
}

static void report(run_t *run, const store_outbox_t *entry,
                   const char *outcome, long status, const char *error,
                   apr_time_t next_try)
{
    outbox_report_t r;

    if (run->report == NULL) {
        return;
    }
    r.entry = entry;
    r.outcome = outcome;
    r.http_status = status;
    r.error = error;
    r.next_try = next_try;
    run->report(run->baton, &r);
}

/* Turns a verdict into the entry's next state. */
static void conclude(run_t *run, lane_t *lane, const store_outbox_t *entry,
                     outbox_verdict_t verdict, long status,
                     const char *reason)
{
    const outbox_config_t *config = &run->outbox->config;
    unsigned attempts = entry->attempts + 1;
    unsigned max = entry->max_attempts ? entry->max_attempts
                                       : config->retries + 1;
    int agreed = entry->retry_interval > 0;
    apr_interval_time_t interval = agreed ? entry->retry_interval
                                          : config->retry_interval;
    apr_time_t next_try, *until;

    if (verdict == OUTBOX_DELIVERED) {
        add_result(run, entry, STORE_OUTBOX_DELIVERED, 0, NULL);
        report(run, entry, "delivered", status, NULL, 0);
        run->round->delivered++;
        return;
    }
    /* Out of attempts: an entry with a lifetime (an ebMS TimeToLive)
     * rests until it expires, which is its end; one without fails. */
    if (verdict == OUTBOX_RETRY && attempts >= max && entry->expires) {
        add_result(run, entry, STORE_OUTBOX_RETRY, entry->expires, reason);
        report(run, entry, "retry", status, reason, entry->expires);
        run->round->retried++;
        release_rest(run, lane, entry->expires);
        return;
    }
    if (verdict == OUTBOX_RETRY && attempts >= max) {
        verdict = OUTBOX_FAILED;
        reason = apr_psprintf(run->pool, "gave up after %u attempt(s): %s",
                              attempts, reason);
    }
    if (verdict == OUTBOX_FAILED) {
        add_result(run, entry, STORE_OUTBOX_FAILED, 0, reason);
        report(run, entry, "failed", status, reason, 0);
        run->round->failed++;
        return;
    }

    next_try = apr_time_now() + outbox_retry_delay(attempts, interval,
                                                   agreed);
    add_result(run, entry, STORE_OUTBOX_RETRY, next_try, reason);
    report(run, entry, "retry", status, reason, next_try);
    run->round->retried++;

    /* Later entries of this lane must not overtake this one, and the
     * receiver gets a rest: nothing more for it until next_try. */
    release_rest(run, lane, next_try);
    until = apr_palloc(run->pool, sizeof(*until));
    *until = next_try;
    apr_hash_set(run->down, lane->destination, APR_HASH_KEY_STRING, until);
}

static void start(run_t *run, lane_t *lane)
{
    const outbox_config_t *config = &run->outbox->config;
    const store_outbox_t *entry = &APR_ARRAY_IDX(lane->entries, lane->next,
                                                 store_outbox_t);
    const char *url = outbox_url(entry->destination);
    const char *action = outbox_soap_action(entry, run->pool);
    transfer_t *t;

    if (url == NULL) {
        lane->next++;
        conclude(run, lane, entry, OUTBOX_FAILED, 0,
                 "destination has no usable URL");
        return;
    }

    t = apr_pcalloc(run->pool, sizeof(*t));
    t->lane = lane;
    /* One buffer per lane (a lane has one request at a time): a round
     * can send thousands. */
    if (lane->answer == NULL) {
        lane->answer = apr_palloc(run->pool, MAX_ANSWER);
    }
    t->answer = lane->answer;
    t->easy = curl_easy_init();
    if (t->easy == NULL) {
        release_rest(run, lane, apr_time_now());
        return;
    }
    t->headers = curl_slist_append(NULL, apr_pstrcat(run->pool,
        "Content-Type: ", entry->content_type ? entry->content_type
                                              : "text/xml; charset=utf-8",
        NULL));
    if (action) {
        t->headers = curl_slist_append(t->headers, apr_pstrcat(run->pool,
                                       "SOAPAction: ", action, NULL));
    }
    t->headers = curl_slist_append(t->headers, "Expect:");

    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, entry->payload);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)entry->payload_len);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS,
                     (long)apr_time_as_msec(config->timeout));
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, collect_answer);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (config->client_certificate) {
        curl_easy_setopt(t->easy, CURLOPT_SSLCERT,
                         config->client_certificate);
    }
    if (config->client_key) {
        curl_easy_setopt(t->easy, CURLOPT_SSLKEY, config->client_key);
    }
    if (config->ca_certificate) {
        curl_easy_setopt(t->easy, CURLOPT_CAINFO, config->ca_certificate);
    }

    if (curl_multi_add_handle(run->outbox->multi, t->easy) != CURLM_OK) {
        curl_slist_free_all(t->headers);
        curl_easy_cleanup(t->easy);
        release_rest(run, lane, apr_time_now());
        return;
    }
    lane->busy = t;
    run->in_flight++;
}

static void finished(run_t *run, CURL *easy, CURLcode code)
{
    transfer_t *t = NULL;
    lane_t *lane;
    const store_outbox_t *entry;
    const char *reason;
    outbox_verdict_t verdict;
    long status = 0;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(run->outbox->multi, easy);
    lane = t->lane;
    entry = &APR_ARRAY_IDX(lane->entries, lane->next, store_outbox_t);
    lane->next++;
    lane->busy = NULL;
    run->in_flight--;

    verdict = outbox_classify(code, status, t->answer, t->answer_len,
                              run->pool, &reason);
    if (code != CURLE_OK && t->error[0]) {
        reason = apr_psprintf(run->pool, "transport: %s", t->error);
    }
    conclude(run, lane, entry, verdict, code == CURLE_OK ? status : 0,
             reason);
    curl_slist_free_all(t->headers);
    curl_easy_cleanup(easy);
}

/* Concludes the transfers that ended. */
static void collect(run_t *run)
{
    CURLMsg *message;
    int left;

    while ((message = curl_multi_info_read(run->outbox->multi, &left))) {
        if (message->msg == CURLMSG_DONE) {
            finished(run, message->easy_handle, message->data.result);
        }
    }
}

/* Takes more due entries into lanes; returns how many. */
static int claim(run_t *run, int room, apr_time_t lease)
{
    store_outbox_claim_t c;
    apr_array_header_t *claimed;
    int i, n;

    memset(&c, 0, sizeof(c));
    c.now = apr_time_now();
    c.lease = lease;
    c.max = room < CLAIM_BATCH ? room : CLAIM_BATCH;
    c.max_per_destination = CLAIM_PER_DESTINATION;
    c.skip = destination_is_down;
    c.skip_baton = run;
    n = store_outbox_claim(run->store, &c, run->pool, &claimed);
    if (n < 0) {
        run->failed = 1;
        return 0;
    }

    for (i = 0; i < claimed->nelts; i++) {
        store_outbox_t *entry = &APR_ARRAY_IDX(claimed, i, store_outbox_t);
        const char *key = apr_pstrcat(run->pool, entry->partner
                                      ? entry->partner : "", "\n",
                                      entry->destination, NULL);
        lane_t *lane = apr_hash_get(run->lanes, key, APR_HASH_KEY_STRING);

        if (lane == NULL) {
            lane = apr_pcalloc(run->pool, sizeof(*lane));
            lane->destination = entry->destination;
            lane->entries = apr_array_make(run->pool, 8,
                                           sizeof(store_outbox_t));
            apr_hash_set(run->lanes, key, APR_HASH_KEY_STRING, lane);
            APR_ARRAY_PUSH(run->lane_list, lane_t *) = lane;
        }
        APR_ARRAY_PUSH(lane->entries, store_outbox_t) = *entry;
    }
    run->round->claimed += n;
    return n;
}

/* Starts what may start; returns the number of entries still waiting. */
static int start_lanes(run_t *run, int may_start)
{
    int i, waiting = 0;

    for (i = 0; i < run->lane_list->nelts; i++) {
        lane_t *lane = APR_ARRAY_IDX(run->lane_list, i, lane_t *);

        if (lane->busy || lane->next >= lane->entries->nelts) {
            continue;
        }
        if (!may_start) {
            release_rest(run, lane, apr_time_now());
            run->left_due = 1;
            continue;
        }
        if (destination_is_down(run, lane->destination)) {
            release_rest(run, lane, *(apr_time_t *)apr_hash_get(
                run->down, lane->destination, APR_HASH_KEY_STRING));
            continue;
        }
        if (run->in_flight < run->outbox->config.max_transfers) {
            start(run, lane);
        }
        waiting += lane->entries->nelts - lane->next;
    }
    return waiting;
}

static void expire(run_t *run)
{
    apr_array_header_t *expired;
    int i, n;

    n = store_outbox_expire(run->store, apr_time_now(), run->pool,
                            &expired);
    if (n < 0) {
        run->failed = 1;
        return;
    }
    for (i = 0; i < expired->nelts; i++) {
        const store_outbox_t *entry = &APR_ARRAY_IDX(expired, i,
                                                     store_outbox_t);

        report(run, entry, "expired", 0, entry->last_error, 0);
    }
    run->round->expired += n;
}

int outbox_run(outbox_t *outbox, store_t *store, outbox_report_fn *report_fn,
               void *baton, apr_pool_t *pool, outbox_round_t *round)
{
    const outbox_config_t *config = &outbox->config;
    apr_time_t deadline = apr_time_now() + config->budget;
    /* Long enough for everything claimed to be sent or released: the
     * budget, one request after it, and room to record. */
    apr_interval_time_t lease = config->budget + config->timeout
                                + apr_time_from_sec(10);
    apr_time_t last_claim = 0;
    int more = 1, waiting = 0, running, last_claimed = 0;
    run_t run;

    memset(round, 0, sizeof(*round));
    memset(&run, 0, sizeof(run));
    run.outbox = outbox;
    run.store = store;
    run.report = report_fn;
    run.baton = baton;
    run.pool = pool;
    run.round = round;
    run.lanes = apr_hash_make(pool);
    run.lane_list = apr_array_make(pool, 8, sizeof(lane_t *));
    run.down = apr_hash_make(pool);
    run.results = apr_array_make(pool, FLUSH_COUNT,
                                 sizeof(store_outbox_result_t));

    expire(&run);

    while (!run.failed) {
        int open = apr_time_now() < deadline;

        /* New claims once earlier outcomes are recorded (an entry whose
         * predecessor was just delivered becomes claimable then), and
         * when the lanes ran dry or a while passed: a claim walks every
         * pending entry, too much to do between two sends. */
        if (open && more && run.results->nelts == 0
            && run.in_flight < config->max_transfers
            && (waiting == 0
                || apr_time_now() - last_claim >= CLAIM_EVERY)) {
            last_claimed = claim(&run, CLAIM_BATCH, lease);
            more = last_claimed > 0;
            last_claim = apr_time_now();
        }
        waiting = start_lanes(&run, open);
        if (run.in_flight == 0 && waiting == 0) {
            flush(&run, 1);
            if (!open || !more) {
                /* Out of time rather than out of work (it was still
                 * claiming, or put due entries back unsent): the caller
                 * starts the next round without its pause. */
                round->more = !open && !run.failed
                              && (last_claimed > 0 || run.left_due);
                break;
            }
            continue;
        }

        /* The requests just started go out first, and outcomes are
         * written while the receivers work on them: a lane sends one
         * entry at a time, so a commit between an answer and the next
         * request would stall it. */
        curl_multi_perform(outbox->multi, &running);
        collect(&run);
        flush(&run, 0);
        if (run.results->nelts == 0) {
            more = 1;
        }
        if (run.in_flight > 0) {
            curl_multi_poll(outbox->multi, NULL, 0, 100, NULL);
            curl_multi_perform(outbox->multi, &running);
            collect(&run);
        }
    }
    flush(&run, 1);
    return run.failed ? -1 : 0;
}

/* test_outbox.c - the outbox delivery: the store's claim, finish and
 * expire (queue order, per-partner order, leases, held entries, counters)
 * and the delivery's verdicts, retry delays, URLs and SOAPActions. */
#include "outbox.h"
#include "store.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <curl/curl.h>

#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)
#define SEC(n) apr_time_from_sec(n)

static store_t *open_store(apr_pool_t *pool)
{
    char template[] = "/tmp/test_outbox.XXXXXX";
    const char *dir = mkdtemp(template);
    const char *error = NULL;
    store_t *store;

    if (dir == NULL) {
        tap_skip_all("cannot create a temporary directory");
    }
    store = store_open(apr_pstrcat(pool, "lmdb:", dir, NULL), NULL, pool,
                       &error);
    if (store == NULL) {
        tap_diag("store_open: %s", error);
    }
    return store;
}

/* Queues one entry the way an inbound message does. */
static void queue(store_t *store, apr_pool_t *pool, const char *kind,
                  const char *partner, const char *destination,
                  const char *reference, apr_time_t expires)
{
    store_outbox_entry_t entry;
    store_message_t message;
    store_result_t result;

    memset(&entry, 0, sizeof(entry));
    entry.destination = destination;
    entry.kind = kind;
    entry.partner = partner;
    entry.reference = reference;
    entry.payload = "<Bv01/>";
    entry.payload_len = 7;
    entry.content_type = "text/xml";
    entry.expires = expires;
    memset(&message, 0, sizeof(message));
    message.stufref_none = 1;
    message.received = T0;
    message.outbox = &entry;
    message.outbox_count = 1;
    message.ebms_requeue = -1;
    store_apply(store, &message, pool, &result);
    tap_is_int(result.outcome, STORE_APPLIED, "%s queued", reference);
}

static apr_array_header_t *claim(store_t *store, apr_pool_t *pool,
                                 apr_time_t now, int max)
{
    store_outbox_claim_t c;
    apr_array_header_t *claimed;

    memset(&c, 0, sizeof(c));
    c.now = now;
    c.lease = SEC(60);
    c.max = max;
    if (store_outbox_claim(store, &c, pool, &claimed) < 0) {
        tap_diag("claim failed");
    }
    return claimed;
}

static const store_outbox_t *at(apr_array_header_t *a, int i)
{
    return &APR_ARRAY_IDX(a, i, store_outbox_t);
}

static const char *state_of(store_t *store, apr_pool_t *pool,
                            apr_uint64_t sequence)
{
    apr_array_header_t *all;
    int i;

    store_list_outbox(store, pool, &all);
    for (i = 0; i < all->nelts; i++) {
        if (at(all, i)->sequence == sequence) {
            return at(all, i)->state;
        }
    }
    return "absent";
}

static int finish(store_t *store, const store_outbox_t *entry,
                  store_outbox_outcome_t outcome, apr_time_t next_try,
                  apr_time_t now)
{
    store_outbox_result_t r;

    memset(&r, 0, sizeof(r));
    r.sequence = entry->sequence;
    r.lease = entry->next_try;
    r.outcome = outcome;
    r.next_try = next_try;
    r.error = outcome == STORE_OUTBOX_DELIVERED ? NULL : "HTTP 503";
    return store_outbox_finish(store, &r, 1, now);
}

static void test_store_outbox(store_t *store, apr_pool_t *pool)
{
    const char *a = "stuf-soap:http://a.example/stuf";
    const char *b = "stuf-soap:http://b.example/stuf";
    apr_array_header_t *got, *expired;
    store_outbox_t first;
    store_stats_t stats;

    queue(store, pool, "Bv01", "P1", a, "a-1", 0);
    queue(store, pool, "Bv01", "P1", a, "a-2", 0);
    queue(store, pool, "Bv01", "P2", b, "b-1", 0);
    queue(store, pool, "Bv01", "P3", "stuf-soap:", "held-1", 0);
    queue(store, pool, "Acknowledgment", "CPA", "ebms:http://c.example/",
          "ack-1", T0 + SEC(10));

    got = claim(store, pool, T0, 1);
    tap_is_int(got->nelts, 1, "claim honours max");
    tap_is(at(got, 0)->reference, "a-1", "the first in queue order");
    tap_is(at(got, 0)->state, "sending", "claimed entries are sending");
    tap_ok(at(got, 0)->payload && at(got, 0)->payload_len == 7,
           "a claim carries the payload");
    first = *at(got, 0);

    got = claim(store, pool, T0, 10);
    tap_is_int(got->nelts, 2, "a-2 waits behind a-1 (same partner and "
               "destination); b-1 and the signal do not");
    tap_is(at(got, 0)->reference, "b-1", "b-1 claimed");
    tap_is(at(got, 1)->reference, "ack-1", "the signal claimed");
    tap_is(state_of(store, pool, 4), "held", "an entry without an address "
           "is held, never claimed");

    tap_is_int(finish(store, &first, STORE_OUTBOX_RETRY, T0 + SEC(5), T0),
               1, "retry recorded");
    tap_is(state_of(store, pool, first.sequence), "retrying", "retrying");
    tap_is_int(claim(store, pool, T0 + SEC(1), 10)->nelts, 0,
               "nothing due before next_try; a-2 still waits behind a-1");
    tap_is_int(finish(store, &first, STORE_OUTBOX_DELIVERED, 0, T0), 0,
               "a stale lease is not recorded");

    got = claim(store, pool, T0 + SEC(5), 10);
    tap_is_int(got->nelts, 2, "at next_try a-1 comes with a-2 behind it");
    tap_is(at(got, 0)->reference, "a-1", "a-1 first");
    tap_is_int(at(got, 0)->attempts, 1, "one attempt counted");
    finish(store, at(got, 0), STORE_OUTBOX_DELIVERED, 0, T0 + SEC(5));
    finish(store, at(got, 1), STORE_OUTBOX_FAILED, 0, T0 + SEC(5));
    tap_is(state_of(store, pool, 1), "delivered", "a-1 delivered");
    tap_is(state_of(store, pool, 2), "failed", "a-2 failed");

    /* b-1's lease (60 s) ends: a crashed sender's entry is claimed again;
     * the signal has expired by then. */
    got = claim(store, pool, T0 + SEC(61), 10);
    tap_is_int(got->nelts, 1, "an ended lease makes the entry claimable");
    tap_is(got->nelts ? at(got, 0)->reference : "", "b-1", "b-1 again");
    tap_is_int(store_outbox_expire(store, T0 + SEC(61), pool, &expired), 1,
               "the signal expires");
    tap_is(expired->nelts ? at(expired, 0)->reference : "", "ack-1",
           "the expired one is named");
    tap_is(state_of(store, pool, 5), "expired", "state expired");

    store_get_stats(store, &stats);
    tap_is_int((long long)stats.outbox_queued, 5, "queued counter");
    tap_is_int((long long)stats.outbox_delivered, 1, "delivered counter");
    tap_is_int((long long)stats.outbox_retrying, 1, "retrying counter");
    tap_is_int((long long)stats.outbox_failed, 1, "failed counter");
    tap_is_int((long long)stats.outbox_expired, 1, "expired counter");
    tap_is_int((long long)stats.outbox_pending, 2,
               "pending: b-1 (sending) and the held entry");
}

static void test_classify(apr_pool_t *pool)
{
    const char *why;
    const char *error_list = "<SOAP:Header><eb:ErrorList eb:version=\"2.0\" "
                             "eb:highestSeverity=\"Error\">";
    const char *warning = "<eb:ErrorList eb:highestSeverity=\"Warning\">";

    tap_is_int(outbox_classify(0, 200, "", 0, pool, &why), OUTBOX_DELIVERED,
               "200 delivered");
    tap_is_int(outbox_classify(0, 204, NULL, 0, pool, &why),
               OUTBOX_DELIVERED, "204 delivered");
    tap_is_int(outbox_classify(0, 200, error_list, strlen(error_list), pool,
                               &why), OUTBOX_FAILED, "ErrorList in 200 fails");
    tap_is_int(outbox_classify(0, 200, warning, strlen(warning), pool,
                               &why), OUTBOX_DELIVERED,
               "a Warning ErrorList is delivered");
    tap_is_int(outbox_classify(0, 503, "", 0, pool, &why), OUTBOX_RETRY,
               "503 retried");
    tap_is_int(outbox_classify(0, 408, "", 0, pool, &why), OUTBOX_RETRY,
               "408 retried");
    tap_is_int(outbox_classify(0, 429, "", 0, pool, &why), OUTBOX_RETRY,
               "429 retried");
    tap_is_int(outbox_classify(0, 400, "", 0, pool, &why), OUTBOX_FAILED,
               "400 fails");
    tap_is(why, "HTTP 400", "the reason names the status");
    tap_is_int(outbox_classify(0, 500, "", 0, pool, &why), OUTBOX_FAILED,
               "500 fails");
    tap_is_int(outbox_classify(CURLE_COULDNT_CONNECT, 0, NULL, 0, pool,
                               &why), OUTBOX_RETRY, "refused: retried");
    tap_is_int(outbox_classify(CURLE_SSL_CONNECT_ERROR, 0, NULL, 0, pool,
                               &why), OUTBOX_RETRY, "TLS error: retried");
    tap_is_int(outbox_classify(CURLE_OPERATION_TIMEDOUT, 0, NULL, 0, pool,
                               &why), OUTBOX_RETRY, "timeout: retried");
    tap_is_int(outbox_classify(CURLE_URL_MALFORMAT, 0, NULL, 0, pool, &why),
               OUTBOX_FAILED, "a bad URL fails");
}

static void test_delay_and_headers(apr_pool_t *pool)
{
    store_outbox_t e;

    tap_is_int(outbox_retry_delay(1, SEC(300), 0), SEC(300),
               "first retry after the interval");
    tap_is_int(outbox_retry_delay(2, SEC(300), 0), SEC(600), "then doubled");
    tap_is_int(outbox_retry_delay(9, SEC(300), 0), SEC(4800),
               "capped at 16 times");
    tap_is_int(outbox_retry_delay(5, SEC(7200), 1), SEC(7200),
               "a CPA interval is kept as agreed");

    tap_is(outbox_url("ebms:https://x/ebms"), "https://x/ebms", "ebms URL");
    tap_is(outbox_url("stuf-soap:http://y/"), "http://y/", "stuf-soap URL");
    tap_ok(outbox_url("stuf-soap:") == NULL, "no URL: NULL");

    memset(&e, 0, sizeof(e));
    e.destination = "ebms:https://x/ebms";
    e.kind = "Bv01";
    tap_is(outbox_soap_action(&e, pool), "\"ebXML\"", "ebMS: \"ebXML\"");
    e.destination = "stuf-soap:http://y/";
    e.kind = "Fo03";
    tap_is(outbox_soap_action(&e, pool),
           "\"http://www.egem.nl/StUF/StUF0301/Fo03\"", "StUF: Fo03 action");
}

/* A whole round without a network: curl refuses the ftp URL at once (a
 * permanent failure), so each entry is attempted and recorded failed,
 * and a round that ran out of work (not out of time) asks for no
 * immediate successor. */
static void test_run(apr_pool_t *pool)
{
    const char *dest = "stuf-soap:ftp://127.0.0.1:9/stuf";
    store_t *store = open_store(pool);
    outbox_config_t config;
    outbox_round_t round;
    outbox_t *outbox;
    const char *error = NULL;

    if (store == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        tap_ok(0, "store and libcurl for a round");
        return;
    }
    queue(store, pool, "Bv01", "P1", dest, "run-1", 0);
    queue(store, pool, "Bv01", "P1", dest, "run-2", 0);
    queue(store, pool, "Acknowledgment", "CPA", dest, "run-3", 0);
    memset(&config, 0, sizeof(config));
    outbox = outbox_create(&config, pool, &error);
    tap_ok(outbox != NULL, "outbox_create");
    if (outbox == NULL) {
        return;
    }
    tap_is_int(outbox_run(outbox, store, NULL, NULL, pool, &round), 0,
               "a round runs");
    tap_is_int(round.claimed, 3, "all three claimed");
    tap_is_int(round.failed, 3, "an unusable URL fails each");
    tap_is_int(round.more, 0, "out of work, not of time: no more");
    tap_is(state_of(store, pool, 3), "failed", "recorded failed");
    tap_is_int(outbox_run(outbox, store, NULL, NULL, pool, &round), 0,
               "an empty round runs");
    tap_is_int(round.claimed + round.more, 0, "nothing claimed, no more");
}

int main(void)
{
    apr_pool_t *pool = tap_start();
    store_t *store = open_store(pool);

    if (store) {
        test_store_outbox(store, pool);
    }
    else {
        tap_ok(0, "store opens");
    }
    test_classify(pool);
    test_delay_and_headers(pool);
    test_run(pool);
    return tap_done();
}

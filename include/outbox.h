/* outbox.h - delivering what the outbox holds: claims due entries from the
 * store, sends them with libcurl (several destinations at once, one after
 * the other per partner and destination), classifies the answers and
 * records the outcomes. No httpd in here: the module's watchdog calls
 * outbox_run(), and so can a test or a tool.
 *
 * Safety: an entry is recorded delivered only after the receiver's answer
 * said so; sending happens between store transactions, never inside one;
 * a crash while sending leaves the entry "sending" until its lease ends,
 * after which it is sent again (a duplicate the receiver eliminates on
 * MessageId or referentienummer). */
#ifndef STUFLZ_OUTBOX_H
#define STUFLZ_OUTBOX_H

#include <apr_pools.h>
#include <apr_time.h>

#include "store.h"

/* StufLZRetries and StufLZRetryInterval defaults. */
#define OUTBOX_DEFAULT_RETRIES 8
#define OUTBOX_DEFAULT_RETRY_INTERVAL apr_time_from_sec(300)
#define OUTBOX_DEFAULT_TIMEOUT apr_time_from_sec(30)

typedef struct {
    const char *client_certificate;     /* PEM; NULL = none */
    const char *client_key;             /* PEM; NULL = in the certificate */
    const char *ca_certificate;         /* PEM bundle; NULL = system CAs */
    /* For entries that carry no schedule of their own (StUF SOAP answers,
     * signals on channels without ReliableMessaging). */
    unsigned retries;                   /* attempts = retries + 1 */
    apr_interval_time_t retry_interval;
    apr_interval_time_t timeout;        /* one request, connect included */
    apr_interval_time_t budget;         /* outbox_run starts no new send
                                           after this long */
    int max_transfers;                  /* requests in flight at once */
} outbox_config_t;

typedef enum {
    OUTBOX_DELIVERED,
    OUTBOX_RETRY,
    OUTBOX_FAILED
} outbox_verdict_t;

/* One attempt's outcome (or an expiry), for the log: no payload, no BSN. */
typedef struct {
    const store_outbox_t *entry;
    const char *outcome;        /* "delivered", "retry", "failed",
                                   "expired" */
    long http_status;           /* 0 when there was no HTTP answer */
    const char *error;          /* why, when not delivered */
    apr_time_t next_try;        /* "retry": when */
} outbox_report_t;

typedef void outbox_report_fn(void *baton, const outbox_report_t *report);

/* What one outbox_run did. more: the round ended on its budget with
 * work left that was due, so the caller may start the next one at once
 * instead of waiting for its interval. */
typedef struct {
    int expired, claimed, delivered, retried, failed, released;
    int more;
} outbox_round_t;

typedef struct outbox outbox_t;

/* Sets up libcurl's multi handle (the caller has run
 * curl_global_init once, before threads). Lives until pool is cleared;
 * connections to receivers are kept open between runs. */
outbox_t *outbox_create(const outbox_config_t *config, apr_pool_t *pool,
                        const char **error);

/* One delivery round: expires what is past its time, then claims and
 * sends due entries until none is due or the budget is spent, recording
 * outcomes in short transactions as answers arrive. Returns 0, or -1 when
 * the store failed (what was sent and not recorded is sent again later).
 * report (may be NULL) is called once per attempt outcome and expiry. */
int outbox_run(outbox_t *outbox, store_t *store, outbox_report_fn *report,
               void *baton, apr_pool_t *pool, outbox_round_t *round);

/* The parts, exposed for the tests. */

/* curl_code is a CURLcode (0 = an HTTP answer came), status the HTTP
 * status, body what came back. *reason says why when not delivered. */
outbox_verdict_t outbox_classify(int curl_code, long status,
                                 const char *body, apr_size_t body_len,
                                 apr_pool_t *pool, const char **reason);

/* How long to wait after the attempts-th failed attempt (1 = the first).
 * An interval agreed in a CPA is kept as agreed (the receiver remembers
 * MessageIds for (Retries + 1) x RetryInterval, so stretching it could
 * turn a retry into a new message); our own interval doubles per attempt
 * up to 16 times itself. */
apr_interval_time_t outbox_retry_delay(unsigned attempts,
                                       apr_interval_time_t interval,
                                       int agreed);

/* The URL of a destination ("ebms:URL", "stuf-soap:URL"), or NULL. */
const char *outbox_url(const char *destination);

/* The SOAPAction header value for an entry (quotes included), or NULL. */
const char *outbox_soap_action(const store_outbox_t *entry,
                               apr_pool_t *pool);

#endif

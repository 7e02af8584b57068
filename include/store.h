/* store.h - where LZ keeps zaken, statuses, postbussen, the answers it
 * gave and the outbox. One interface, several backends (LMDB now,
 * PostgreSQL through mod_dbd later), chosen by "StufLZStore kind:where".
 *
 * Contract: store_apply() handles one received message in ONE durable
 * transaction: everything it changes is committed (and fsync'd) before it
 * returns STORE_APPLIED, or nothing is changed at all. */
#ifndef STUFLZ_STORE_H
#define STUFLZ_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "lz.h"

#define STORE_DIGEST_LEN 32          /* SHA-256 */
#define STORE_STATUS_KEY_LEN 17      /* datumStatusGezet padded to 17 */

typedef struct store store_t;

typedef struct {
    apr_size_t map_size;        /* LMDB map size in bytes; 0 = default 1 GiB */
    unsigned max_readers;       /* 0 = LMDB default (126) */
    int read_only;              /* open for the CLI's show */
} store_options_t;

/* One outbox entry to queue: a message LZ must still deliver. */
typedef struct {
    const char *destination;    /* "stuf-soap:URL", "stuf-soap:" (no URL
                                   known yet) or "ebms:CPAID" */
    const char *kind;           /* "Bv01", "Fo01", "Fo03", "Acknowledgment" */
    const char *partner;        /* OIN of the receiver of this entry */
    const char *reference;      /* our referentienummer / MessageId */
    const char *payload;        /* what to send, as bytes */
    apr_size_t payload_len;
    apr_time_t expires;         /* 0 = never */
    /* An ebMS message we send: recorded as "sent" under (cpaid,
     * message_id) so a later RefToMessageId or StatusRequest naming it is
     * recognised. NULL for other entries. */
    const char *ebms_cpaid;
    const char *ebms_message_id;
    const char *content_type;   /* HTTP Content-Type of payload, or NULL */
    /* The retry schedule agreed for this entry (an ebMS channel's
     * Retries + 1 and RetryInterval); 0 = the delivery's defaults
     * (StufLZRetries, StufLZRetryInterval). */
    unsigned max_attempts;
    apr_interval_time_t retry_interval;
} store_outbox_entry_t;

/* What one received message asks of the store. */
typedef struct {
    /* identity of the message: (zender, referentienummer) */
    /* organisatie 0x1f applicatie 0x1f administratie */
    const char *zender_key;
    const char *referentienummer;
    unsigned char digest[STORE_DIGEST_LEN];   /* digest of the content */

    const char *zender_oin;     /* zender organisatie */
    apr_time_t received;        /* when the message arrived */

    /* the zaak content; NULL when the message failed its content checks
     * and only the answers are to be kept */
    const lz_kennisgeving_t *kennisgeving;

    /* the receipt answer (Bv03) given now, kept for an identical resend */
    const char *receipt_answer;
    apr_size_t receipt_answer_len;

    /* what is queued for later delivery: the functional answer
     * (Bv01/Fo01/Fo03) and, on an asynchronous ebMS channel, the signal */
    const store_outbox_entry_t *outbox;       /* array; may be NULL */
    int outbox_count;

    /* Neither look up nor record (zender, referentienummer): an ebMS
     * message whose StUF part is answered with a Fo03. */
    int stufref_none;

    /* ebMS binding only (NULL ebms_message_id on the SOAP binding):
     * duplicate elimination on (CPAId, MessageId). */
    const char *ebms_cpaid;
    const char *ebms_message_id;
    unsigned char ebms_digest[STORE_DIGEST_LEN];  /* of the whole message */
    apr_time_t ebms_keep_until;     /* remember the MessageId until then */
    /* the signal answered synchronously (Acknowledgment or MessageError
     * envelope), kept so a duplicate gets it again; may be NULL */
    const char *ebms_response;
    apr_size_t ebms_response_len;
    /* index into outbox of the asynchronous signal, queued again for
     * every duplicate; -1 when the signal goes synchronously */
    int ebms_requeue;
} store_message_t;

typedef enum {
    STORE_APPLIED = 0,      /* new message, committed durably */
    STORE_REPLAY,           /* same zender+referentienummer, same digest:
                               nothing changed, stored answer returned */
    STORE_CONFLICT,         /* same zender+referentienummer, other
                               content: nothing changed (StUF016) */
    STORE_FULL,             /* the store is full (MDB_MAP_FULL): nothing
                               changed (StUF046) */
    STORE_FAILED,           /* any other failure: nothing changed */
    STORE_EBMS_DUPLICATE,   /* same (CPAId, MessageId), same digest:
                               nothing applied; the stored signal is in
                               receipt_answer, and an asynchronous one has
                               been queued again (committed) */
    STORE_EBMS_CONFLICT     /* same (CPAId, MessageId), other content:
                               nothing changed */
} store_outcome_t;

typedef struct {
    store_outcome_t outcome;
    int zaak_created;           /* the zaak was unknown */
    int zaak_updated;           /* zaak fields were overwritten */
    int status_created;         /* the status was new */
    int postbus_moved;          /* the initiator changed */
    int stuf_replayed;          /* ebMS: (zender, referentienummer) was
                                   known with the same content; the zaak
                                   was not touched, the rest was stored */
    const char *receipt_answer; /* STORE_REPLAY: the stored receipt answer */
    apr_size_t receipt_answer_len;
    const char *error;          /* STORE_FULL / STORE_FAILED: why (no BSN) */
} store_result_t;

/* Decoded records, for show and the tests. */
typedef struct {
    const char *identificatie;
    const char *omschrijving;
    const char *toelichting;
    const char *startdatum;
    const char *einddatum_gepland;
    const char *einddatum;          /* set when closed */
    const char *zender_oin;
    const char *bsn;                /* current initiator */
    const char *status_key;         /* newest datumStatusGezet, 17 digits */
    const char *statustype;         /* omschrijving of the newest status */
    int closed;
    apr_time_t created;
    apr_time_t updated;
} store_zaak_t;

typedef struct {
    const char *status_key;         /* 17 digits */
    const char *datum_status_gezet; /* as sent */
    const char *statustype;
    const char *toelichting;
    const char *verwijzing;
    const char *referentienummer;   /* message that brought it */
    int eindstatus;
    apr_time_t received;
} store_status_t;

typedef struct {
    apr_uint64_t sequence;
    const char *destination;
    const char *kind;
    const char *partner;
    const char *reference;
    const char *state;              /* "queued", "delivered", "failed", ... */
    unsigned attempts;
    apr_time_t created;
    apr_time_t next_try;
    apr_time_t expires;
    const char *last_error;
    apr_size_t payload_len;
    const char *payload;
    const char *content_type;       /* NULL when not given (and for entries
                                       queued before it was stored) */
    unsigned max_attempts;          /* 0 = the delivery's default */
    apr_interval_time_t retry_interval;     /* 0 = the delivery's default */
} store_outbox_t;

typedef struct {
    apr_size_t zaken, statuses, postbus_entries, stufrefs, outbox_entries;
    apr_uint64_t messages_applied, messages_replayed, messages_conflicting;
    apr_size_t map_size, map_used;  /* bytes */
    apr_size_t ebms_messages;       /* MessageIds remembered, both ways */
    apr_uint64_t ebms_duplicates;   /* ebMS duplicates answered again */
    /* Outbox counters since the store was created (events, not current
     * states): entries queued, delivered, attempts that will be retried,
     * entries expired, entries failed for good; and how many entries are
     * not final now (queued, retrying, sending or held). */
    apr_uint64_t outbox_queued, outbox_delivered, outbox_retrying;
    apr_uint64_t outbox_expired, outbox_failed;
    apr_size_t outbox_pending;
} store_stats_t;

/* Opens the store named by spec ("lmdb:/var/lib/stuflz"). The directory is
 * created when missing (not in read_only). On failure returns NULL and sets
 * *error. The store lives until pool is cleared. */
store_t *store_open(const char *spec, const store_options_t *options,
                    apr_pool_t *pool, const char **error);

void store_close(store_t *store);

/* The backend name, "lmdb". */
const char *store_kind(const store_t *store);

/* Files a process must be able to write (for chown by the httpd parent);
 * NULL-terminated, may be empty. */
const char **store_files(const store_t *store, apr_pool_t *pool);

/* Clears reader slots of dead processes; returns how many were cleared. */
int store_check_readers(store_t *store);

/* Handles one message; see the contract at the top. pool is for the
 * result's strings. */
void store_apply(store_t *store, const store_message_t *message,
                 apr_pool_t *pool, store_result_t *result);

/* Read side (short read transactions). Return 0 found, 1 not found,
 * -1 error. */
int store_get_zaak(store_t *store, const char *identificatie,
                   apr_pool_t *pool, store_zaak_t *zaak,
                   apr_array_header_t **statuses /* of store_status_t */);
int store_list_postbus(store_t *store, const char *bsn, apr_pool_t *pool,
                       apr_array_header_t **identificaties /* of char* */);
int store_list_outbox(store_t *store, apr_pool_t *pool,
                      apr_array_header_t **entries /* of store_outbox_t */);
int store_get_stats(store_t *store, store_stats_t *stats);

/* What the store remembers of an ebMS MessageId. */
typedef struct {
    const char *state;          /* "received" or "sent" */
    apr_time_t recorded;
    apr_time_t keep_until;
} store_ebms_t;

/* Looks up (cpaid, message_id): 0 found, 1 not found, -1 error. */
int store_get_ebms(store_t *store, const char *cpaid,
                   const char *message_id, apr_pool_t *pool,
                   store_ebms_t *record);

/* Looks up (zender, referentienummer) outside a write transaction, so an
 * ebMS message can be answered with Fo03 StUF016 before it is stored:
 * 0 unknown, 1 known with this digest, 2 known with another digest,
 * -1 error. */
int store_check_stufref(store_t *store, const char *zender_key,
                        const char *referentienummer,
                        const unsigned char digest[STORE_DIGEST_LEN]);

/* ---- outbox delivery ------------------------------------------------
 *
 * The life of an outbox entry:
 *
 *   queued --claim--> sending --delivered--> delivered (final)
 *   retrying <--retry--'  |  `--failed------> failed (final)
 *                         `--release--> queued/retrying (no attempt)
 *   any non-final state --expire (entry->expires passed)--> expired (final)
 *   held: the destination names no address ("stuf-soap:" for a partner
 *   without reply=URL); such an entry waits, is never claimed and counts
 *   no attempts, until it expires.
 *
 * "sending" is a lease: next_try then holds the moment the lease ends; a
 * claim after that (the claiming process died) takes the entry again, so
 * an entry can be sent twice but is never lost. Each call below is one
 * short write transaction; the caller sends between them, never inside
 * one. */

typedef enum {
    STORE_OUTBOX_DELIVERED = 0,     /* final; attempts + 1 */
    STORE_OUTBOX_RETRY,             /* attempts + 1, retrying at next_try */
    STORE_OUTBOX_FAILED,            /* final; attempts + 1 */
    STORE_OUTBOX_RELEASE            /* not sent after all: back to queued
                                       or retrying at next_try, attempts
                                       unchanged */
} store_outbox_outcome_t;

typedef struct {
    apr_uint64_t sequence;
    apr_time_t lease;               /* next_try of the claimed entry */
    store_outbox_outcome_t outcome;
    apr_time_t next_try;            /* RETRY and RELEASE */
    const char *error;              /* last_error (RETRY, FAILED); no BSN */
} store_outbox_result_t;

/* Tells a claim to leave entries for a destination alone (one that is
 * known to be down right now): nonzero = skip. */
typedef int store_outbox_skip_fn(void *baton, const char *destination);

typedef struct {
    apr_time_t now;
    apr_interval_time_t lease;      /* how long a claim holds an entry */
    int max;                        /* at most this many entries */
    int max_per_destination;        /* 0 = no limit */
    store_outbox_skip_fn *skip;     /* may be NULL */
    void *skip_baton;
} store_outbox_claim_t;

/* Claims due entries in queue order: state queued or retrying with
 * next_try <= now, or sending with an ended lease; not expired; not held.
 * For the functional answers (Bv01, Fo01, Fo03) the order per partner and
 * destination is kept: an entry is not claimed while an earlier non-final
 * entry of the same partner and destination is not claimed with it (the
 * claimed ones of one partner and destination are in queue order, and the
 * caller sends them one after the other). Claimed entries become
 * "sending" with next_try = now + lease. *claimed: store_outbox_t, with
 * payload. Returns the number claimed, or -1 on error. */
int store_outbox_claim(store_t *store, const store_outbox_claim_t *claim,
                       apr_pool_t *pool, apr_array_header_t **claimed);

/* Records the outcome of claimed entries, all in one transaction. A result
 * whose entry is no longer "sending" with that lease (it was claimed
 * again after the lease ended) is skipped. Returns how many were
 * recorded, or -1 on error (nothing recorded). */
int store_outbox_finish(store_t *store, const store_outbox_result_t *results,
                        int count, apr_time_t now);

/* Marks every non-final entry whose expires has passed (and that is not
 * being sent under a live lease) as expired, in one transaction.
 * *expired: store_outbox_t without payload, for the log. Returns the number
 * expired, or -1 on error. */
int store_outbox_expire(store_t *store, apr_time_t now, apr_pool_t *pool,
                        apr_array_header_t **expired);

#endif

/* store_lmdb.c - the LMDB backend of the store: one environment per
 * process, shared by all httpd processes through LMDB's lock file, one
 * durable write transaction per received message (StUF and ebMS alike). */
#include "record.h"
#include "store.h"
#include "store_backend.h"

#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <lmdb.h>

/* Layout of the environment (every value is a record.h record; the record
 * type byte is given in brackets, fields in order):
 *
 * zaak     key  zaakidentificatie
 *          [Z]  identificatie, omschrijving, toelichting, startdatum,
 *               einddatumGepland, einddatum, zender OIN, BSN, status key of
 *               the newest status (17 digits), statustype of that status,
 *               closed (u64 0/1), created (u64 apr_time_t), updated (u64)
 * status   key  zaakidentificatie 0x00 status key (17 digits), so the
 *               statuses of one zaak are adjacent and in time order
 *          [S]  datumStatusGezet as sent, statustype, toelichting,
 *               verwijzing, referentienummer of the message that brought
 *               it, eindstatus (u64 0/1), received (u64)
 * postbus  key  BSN; MDB_DUPSORT, one value per zaak of that citizen
 *          val  zaakidentificatie (plain bytes, no record: dupsort values
 *               are compared as bytes and must stay small)
 * stufref  key  zender key (organisatie 0x1f applicatie 0x1f
 *               administratie) 0x00 referentienummer
 *          [R]  digest (32 bytes), receipt answer (bytes or NULL),
 *               received (u64)
 * outbox   key  sequence, u64 big-endian, so a cursor walks in queue order
 *          [O]  destination, kind, partner, reference, state, attempts
 *               (u64), created, next_try, expires (u64 apr_time_t each),
 *               last_error, payload (bytes), content_type, max_attempts
 *               (u64), retry_interval (u64 microseconds); the fields
 *               from content_type on came later and are absent from older
 *               records (read as NULL and 0). state is one of queued,
 *               held, sending (next_try is then the end of the lease),
 *               retrying, delivered, failed, expired (store.h)
 * pending  key  sequence as in outbox, for every entry that is not final
 *               (queued, held, sending, retrying), so a delivery round
 *               walks only what may still go out
 *          val  empty
 * ebms     key  CPAId 0x00 MessageId (bytes as received; both directions:
 *               MessageIds the partner sent us and ones we send)
 *          [E]  state ("received" or "sent"), digest of the received
 *               message (32 bytes; NULL for "sent"), the signal answered
 *               synchronously (bytes or NULL), the asynchronous signal to
 *               queue again for a duplicate (a nested [Q] record as bytes,
 *               or NULL), recorded (u64), keep_until (u64)
 *          [Q]  destination, kind, partner, reference, content_type,
 *               payload (bytes), lifetime (u64 microseconds from queueing
 *               to expiry; 0 = never), so a re-queued signal gets a fresh
 *               expiry instead of one that may have passed
 * meta     key  "format", "applied", "replayed", "conflicting",
 *               "ebms_duplicates", "next_outbox", "outbox_queued",
 *               "outbox_delivered", "outbox_retrying", "outbox_expired",
 *               "outbox_failed"
 *          [M]  one u64
 *
 * The ebms db was added without a format change: a writable open creates
 * it in an older store, a read-only open reads its absence as empty, and
 * older code ignores it. The pending db likewise: a writable open that
 * does not find it builds it from the outbox. An older binary writing to
 * the store afterwards would queue entries the pending db does not know,
 * so do not go back to one once delivery ran.
 *
 * Limitation: every process must open the environment with the same map
 * size (StufLZMapSize), because a process that finds the map grown by
 * another (MDB_MAP_RESIZED) could only adopt it with no transaction active
 * in any of its threads; such a transaction fails with STORE_FAILED. */

#define RECORD_ZAAK    'Z'
#define RECORD_STATUS  'S'
#define RECORD_STUFREF 'R'
#define RECORD_OUTBOX  'O'
#define RECORD_EBMS    'E'
#define RECORD_REQUEUE 'Q'
#define RECORD_META    'M'

#define STORE_FORMAT 1
#define DEFAULT_MAP_SIZE ((apr_size_t)1 << 30)

/* Room for the dbs below plus later ones without a format bump. */
#define MAX_DBS 16

/* Not an LMDB code: a stored record that does not decode. */
#define BAD_RECORD (MDB_LAST_ERRCODE + 1000)

/* How long a MessageId is remembered when the caller names no time: the
 * ebMS default of 5 days for retries, with room to spare. */
#define EBMS_DEFAULT_KEEP apr_time_from_sec(30 * 86400)

/* An ebms record, decoded or to encode (layout above). */
typedef struct {
    const char *state;
    const unsigned char *digest;        /* STORE_DIGEST_LEN bytes or NULL */
    const char *response;
    apr_size_t response_len;
    store_outbox_entry_t *requeue;      /* expires holds the lifetime */
    apr_time_t recorded;
    apr_time_t keep_until;
} ebms_record_t;

enum {
    DB_ZAAK,
    DB_STATUS,
    DB_POSTBUS,
    DB_STUFREF,
    DB_OUTBOX,
    DB_META,
    DB_EBMS,
    DB_PENDING,
    DB_COUNT
};

static const struct {
    const char *name;
    unsigned flags;
} db_specs[DB_COUNT] = {
    [DB_ZAAK] = { "zaak", 0 },
    [DB_STATUS] = { "status", 0 },
    [DB_POSTBUS] = { "postbus", MDB_DUPSORT },
    [DB_STUFREF] = { "stufref", 0 },
    [DB_OUTBOX] = { "outbox", 0 },
    [DB_META] = { "meta", 0 },
    [DB_EBMS] = { "ebms", 0 },
    [DB_PENDING] = { "pending", 0 },
};

typedef struct {
    MDB_env *env;
    const char *dir;
    int read_only;
    MDB_dbi dbi[DB_COUNT];
    int present[DB_COUNT];      /* read-only stores may lack a db */
    apr_size_t max_key;         /* also the limit of a dupsort value */
} lmdb_store_t;

/* One store_apply in progress: the step names the failing operation in the
 * error text (never a value from the message). */
typedef struct {
    lmdb_store_t *store;
    MDB_txn *txn;
    apr_pool_t *pool;
    const char *step;
} apply_t;

static const char *lmdb_error(int rc)
{
    return rc == BAD_RECORD ? "stored record is unreadable"
                            : mdb_strerror(rc);
}

/* Begins a transaction; a full reader table is often only dead
 * processes' slots, so clear those and try once more. */
static int begin_txn(lmdb_store_t *s, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, flags, txn);
    int dead;

    if (rc == MDB_READERS_FULL) {
        mdb_reader_check(s->env, &dead);
        rc = mdb_txn_begin(s->env, NULL, flags, txn);
    }
    return rc;
}

static MDB_val bytes_val(const void *data, apr_size_t len)
{
    MDB_val val;

    val.mv_data = (void *)data;
    val.mv_size = len;
    return val;
}

static MDB_val string_val(const char *s)
{
    return bytes_val(s, strlen(s));
}

/* a 0x00 b: the separator sorts before every character of a, so all keys
 * that start with one a are adjacent. */
static apr_size_t pair_len(const char *a, const char *b)
{
    return strlen(a) + 1 + strlen(b);
}

/* Builds the pair key in key, which holds pair_len(a, b) bytes. */
static MDB_val pair_key_in(char *key, const char *a, const char *b)
{
    apr_size_t a_len = strlen(a), b_len = strlen(b);

    memcpy(key, a, a_len);
    key[a_len] = '\0';
    memcpy(key + a_len + 1, b, b_len);
    return bytes_val(key, a_len + 1 + b_len);
}

static MDB_val pair_key(const char *a, const char *b, apr_pool_t *pool)
{
    return pair_key_in(apr_palloc(pool, pair_len(a, b)), a, b);
}

static MDB_val sequence_key(apr_uint64_t sequence, unsigned char *buf)
{
    int i;

    for (i = 7; i >= 0; i--) {
        buf[i] = (unsigned char)sequence;
        sequence >>= 8;
    }
    return bytes_val(buf, 8);
}

static apr_uint64_t sequence_from_key(const MDB_val *key)
{
    const unsigned char *p = key->mv_data;
    apr_uint64_t v = 0;
    apr_size_t i;

    for (i = 0; i < key->mv_size && i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* ---- records ---------------------------------------------------------- */

static MDB_val encode_zaak(const store_zaak_t *z, apr_pool_t *pool)
{
    record_writer_t w;

    record_writer_init(&w, pool, RECORD_ZAAK);
    record_put_string(&w, z->identificatie);
    record_put_string(&w, z->omschrijving);
    record_put_string(&w, z->toelichting);
    record_put_string(&w, z->startdatum);
    record_put_string(&w, z->einddatum_gepland);
    record_put_string(&w, z->einddatum);
    record_put_string(&w, z->zender_oin);
    record_put_string(&w, z->bsn);
    record_put_string(&w, z->status_key);
    record_put_string(&w, z->statustype);
    record_put_u64(&w, z->closed ? 1 : 0);
    record_put_u64(&w, (apr_uint64_t)z->created);
    record_put_u64(&w, (apr_uint64_t)z->updated);
    return bytes_val(w.data, w.len);
}

static int decode_zaak(const MDB_val *val, apr_pool_t *pool, store_zaak_t *z)
{
    record_reader_t r;

    memset(z, 0, sizeof(*z));
    if (record_reader_init(&r, val->mv_data, val->mv_size, RECORD_ZAAK)) {
        return BAD_RECORD;
    }
    z->identificatie = record_get_string(&r, pool);
    z->omschrijving = record_get_string(&r, pool);
    z->toelichting = record_get_string(&r, pool);
    z->startdatum = record_get_string(&r, pool);
    z->einddatum_gepland = record_get_string(&r, pool);
    z->einddatum = record_get_string(&r, pool);
    z->zender_oin = record_get_string(&r, pool);
    z->bsn = record_get_string(&r, pool);
    z->status_key = record_get_string(&r, pool);
    z->statustype = record_get_string(&r, pool);
    z->closed = record_get_u64(&r) != 0;
    z->created = (apr_time_t)record_get_u64(&r);
    z->updated = (apr_time_t)record_get_u64(&r);
    return r.failed ? BAD_RECORD : 0;
}

static MDB_val encode_status(const store_status_t *st, apr_pool_t *pool)
{
    record_writer_t w;

    record_writer_init(&w, pool, RECORD_STATUS);
    record_put_string(&w, st->datum_status_gezet);
    record_put_string(&w, st->statustype);
    record_put_string(&w, st->toelichting);
    record_put_string(&w, st->verwijzing);
    record_put_string(&w, st->referentienummer);
    record_put_u64(&w, st->eindstatus ? 1 : 0);
    record_put_u64(&w, (apr_uint64_t)st->received);
    return bytes_val(w.data, w.len);
}

static int decode_status(const MDB_val *key, const MDB_val *val,
                         apr_pool_t *pool, store_status_t *st)
{
    record_reader_t r;

    memset(st, 0, sizeof(*st));
    if (key->mv_size < STORE_STATUS_KEY_LEN
        || record_reader_init(&r, val->mv_data, val->mv_size,
                              RECORD_STATUS)) {
        return BAD_RECORD;
    }
    st->status_key = apr_pstrmemdup(pool,
                                    (const char *)key->mv_data + key->mv_size
                                        - STORE_STATUS_KEY_LEN,
                                    STORE_STATUS_KEY_LEN);
    st->datum_status_gezet = record_get_string(&r, pool);
    st->statustype = record_get_string(&r, pool);
    st->toelichting = record_get_string(&r, pool);
    st->verwijzing = record_get_string(&r, pool);
    st->referentienummer = record_get_string(&r, pool);
    st->eindstatus = record_get_u64(&r) != 0;
    st->received = (apr_time_t)record_get_u64(&r);
    return r.failed ? BAD_RECORD : 0;
}

static MDB_val encode_stufref(const store_message_t *m, apr_pool_t *pool)
{
    record_writer_t w;

    record_writer_init(&w, pool, RECORD_STUFREF);
    record_put_bytes(&w, m->digest, STORE_DIGEST_LEN);
    record_put_bytes(&w, m->receipt_answer, m->receipt_answer_len);
    record_put_u64(&w, (apr_uint64_t)m->received);
    return bytes_val(w.data, w.len);
}

static MDB_val encode_outbox_record(const store_outbox_t *o,
                                    apr_pool_t *pool)
{
    record_writer_t w;

    record_writer_init(&w, pool, RECORD_OUTBOX);
    record_put_string(&w, o->destination);
    record_put_string(&w, o->kind);
    record_put_string(&w, o->partner);
    record_put_string(&w, o->reference);
    record_put_string(&w, o->state);
    record_put_u64(&w, o->attempts);
    record_put_u64(&w, (apr_uint64_t)o->created);
    record_put_u64(&w, (apr_uint64_t)o->next_try);
    record_put_u64(&w, (apr_uint64_t)o->expires);
    record_put_string(&w, o->last_error);
    record_put_bytes(&w, o->payload ? o->payload : "", o->payload_len);
    record_put_string(&w, o->content_type);
    record_put_u64(&w, o->max_attempts);
    record_put_u64(&w, (apr_uint64_t)o->retry_interval);
    return bytes_val(w.data, w.len);
}

/* A destination without an address after the scheme ("stuf-soap:") has
 * nowhere to go: the entry is held instead of queued. */
static int destination_is_empty(const char *destination)
{
    const char *colon = destination ? strchr(destination, ':') : NULL;

    return colon == NULL || colon[1] == '\0';
}

static MDB_val encode_outbox(const store_outbox_entry_t *e,
                             apr_time_t created, apr_pool_t *pool)
{
    store_outbox_t o;

    memset(&o, 0, sizeof(o));
    o.destination = e->destination;
    o.kind = e->kind;
    o.partner = e->partner;
    o.reference = e->reference;
    o.state = destination_is_empty(e->destination) ? "held" : "queued";
    o.created = created;
    o.next_try = created;
    o.expires = e->expires;
    o.payload = e->payload;
    o.payload_len = e->payload_len;
    o.content_type = e->content_type;
    o.max_attempts = e->max_attempts;
    o.retry_interval = e->retry_interval;
    return encode_outbox_record(&o, pool);
}

/* with_payload 0 leaves payload NULL (a claim looking at entries it may
 * not take need not copy them). */
static int decode_outbox_ex(const MDB_val *key, const MDB_val *val,
                            apr_pool_t *pool, int with_payload,
                            store_outbox_t *o)
{
    record_reader_t r;
    const void *payload;

    memset(o, 0, sizeof(*o));
    if (key->mv_size != 8
        || record_reader_init(&r, val->mv_data, val->mv_size,
                              RECORD_OUTBOX)) {
        return BAD_RECORD;
    }
    o->sequence = sequence_from_key(key);
    o->destination = record_get_string(&r, pool);
    o->kind = record_get_string(&r, pool);
    o->partner = record_get_string(&r, pool);
    o->reference = record_get_string(&r, pool);
    o->state = record_get_string(&r, pool);
    o->attempts = (unsigned)record_get_u64(&r);
    o->created = (apr_time_t)record_get_u64(&r);
    o->next_try = (apr_time_t)record_get_u64(&r);
    o->expires = (apr_time_t)record_get_u64(&r);
    o->last_error = record_get_string(&r, pool);

    /* Copied: the map may move once the read transaction ends. */
    payload = record_get_bytes(&r, &o->payload_len);
    if (payload && with_payload) {
        o->payload = apr_pstrmemdup(pool, payload, o->payload_len);
    }

    /* A record queued before content_type was stored ends here. */
    if (!r.failed && r.pos < r.len) {
        o->content_type = record_get_string(&r, pool);
    }

    /* And one queued before the retry schedule was stored here. */
    if (!r.failed && r.pos < r.len) {
        o->max_attempts = (unsigned)record_get_u64(&r);
        o->retry_interval = (apr_interval_time_t)record_get_u64(&r);
    }
    return r.failed || o->state == NULL ? BAD_RECORD : 0;
}

static int decode_outbox(const MDB_val *key, const MDB_val *val,
                         apr_pool_t *pool, store_outbox_t *o)
{
    return decode_outbox_ex(key, val, pool, 1, o);
}

static MDB_val encode_ebms(const ebms_record_t *e, apr_pool_t *pool)
{
    const store_outbox_entry_t *q = e->requeue;
    record_writer_t w, nested;

    record_writer_init(&w, pool, RECORD_EBMS);
    record_put_string(&w, e->state);
    record_put_bytes(&w, e->digest, STORE_DIGEST_LEN);
    record_put_bytes(&w, e->response, e->response_len);
    if (q) {
        record_writer_init(&nested, pool, RECORD_REQUEUE);
        record_put_string(&nested, q->destination);
        record_put_string(&nested, q->kind);
        record_put_string(&nested, q->partner);
        record_put_string(&nested, q->reference);
        record_put_string(&nested, q->content_type);
        record_put_bytes(&nested, q->payload ? q->payload : "",
                         q->payload_len);
        record_put_u64(&nested, (apr_uint64_t)q->expires);
        record_put_bytes(&w, nested.data, nested.len);
    }
    else {
        record_put_bytes(&w, NULL, 0);
    }
    record_put_u64(&w, (apr_uint64_t)e->recorded);
    record_put_u64(&w, (apr_uint64_t)e->keep_until);
    return bytes_val(w.data, w.len);
}

/* Everything is copied into pool: the map may move once the transaction
 * ends, and a duplicate's answer outlives it. */
static int decode_ebms(const MDB_val *val, apr_pool_t *pool,
                       ebms_record_t *e)
{
    store_outbox_entry_t *q;
    record_reader_t r, nested;
    const void *bytes;
    apr_size_t len;

    memset(e, 0, sizeof(*e));
    if (record_reader_init(&r, val->mv_data, val->mv_size, RECORD_EBMS)) {
        return BAD_RECORD;
    }
    e->state = record_get_string(&r, pool);
    bytes = record_get_bytes(&r, &len);
    if (bytes && len == STORE_DIGEST_LEN) {
        e->digest = apr_pmemdup(pool, bytes, len);
    }
    bytes = record_get_bytes(&r, &len);
    if (bytes) {
        e->response = apr_pstrmemdup(pool, bytes, len);
        e->response_len = len;
    }
    bytes = record_get_bytes(&r, &len);
    e->recorded = (apr_time_t)record_get_u64(&r);
    e->keep_until = (apr_time_t)record_get_u64(&r);
    if (r.failed || e->state == NULL) {
        return BAD_RECORD;
    }
    if (bytes == NULL) {
        return 0;
    }

    if (record_reader_init(&nested, bytes, len, RECORD_REQUEUE)) {
        return BAD_RECORD;
    }
    q = apr_pcalloc(pool, sizeof(*q));
    q->destination = record_get_string(&nested, pool);
    q->kind = record_get_string(&nested, pool);
    q->partner = record_get_string(&nested, pool);
    q->reference = record_get_string(&nested, pool);
    q->content_type = record_get_string(&nested, pool);
    bytes = record_get_bytes(&nested, &q->payload_len);
    if (bytes) {
        q->payload = apr_pstrmemdup(pool, bytes, q->payload_len);
    }
    q->expires = (apr_time_t)record_get_u64(&nested);
    e->requeue = q;
    return nested.failed ? BAD_RECORD : 0;
}

/* The stored digest of a stufref record compared with digest: *same is
 * 1 when equal; *answer (may be NULL) points into the map. */
static int decode_stufref(const MDB_val *val, const unsigned char *digest,
                          int *same, const void **answer,
                          apr_size_t *answer_len)
{
    record_reader_t r;
    const void *stored;
    apr_size_t stored_len;

    *same = 0;
    if (record_reader_init(&r, val->mv_data, val->mv_size,
                           RECORD_STUFREF)) {
        return BAD_RECORD;
    }
    stored = record_get_bytes(&r, &stored_len);
    *answer = record_get_bytes(&r, answer_len);
    if (r.failed) {
        return BAD_RECORD;
    }
    *same = stored && stored_len == STORE_DIGEST_LEN
            && memcmp(stored, digest, STORE_DIGEST_LEN) == 0;
    return 0;
}

/* ---- meta counters ---------------------------------------------------- */

static int meta_get(lmdb_store_t *s, MDB_txn *txn, const char *name,
                    apr_uint64_t *value)
{
    MDB_val key = string_val(name), val;
    record_reader_t r;
    int rc;

    *value = 0;
    if (!s->present[DB_META]) {
        return 0;
    }
    rc = mdb_get(txn, s->dbi[DB_META], &key, &val);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc) {
        return rc;
    }
    if (record_reader_init(&r, val.mv_data, val.mv_size, RECORD_META)) {
        return BAD_RECORD;
    }
    *value = record_get_u64(&r);
    return r.failed ? BAD_RECORD : 0;
}

static int meta_put(lmdb_store_t *s, MDB_txn *txn, const char *name,
                    apr_uint64_t value, apr_pool_t *pool)
{
    MDB_val key = string_val(name), val;
    record_writer_t w;

    record_writer_init(&w, pool, RECORD_META);
    record_put_u64(&w, value);
    val = bytes_val(w.data, w.len);
    return mdb_put(txn, s->dbi[DB_META], &key, &val, 0);
}

static int meta_bump(lmdb_store_t *s, MDB_txn *txn, const char *name,
                     apr_pool_t *pool)
{
    apr_uint64_t value;
    int rc = meta_get(s, txn, name, &value);

    return rc ? rc : meta_put(s, txn, name, value + 1, pool);
}

/* ---- outbox states ---------------------------------------------------- */

static int state_is_final(const char *state)
{
    return strcmp(state, "delivered") == 0 || strcmp(state, "failed") == 0
           || strcmp(state, "expired") == 0;
}

/* The functional answers keep their order per partner and destination;
 * signals (Acknowledgment, MessageError) need none. */
static int kind_is_ordered(const char *kind)
{
    return kind && (strcmp(kind, "Bv01") == 0 || strcmp(kind, "Fo01") == 0
                    || strcmp(kind, "Fo03") == 0);
}

/* Fills the pending db from the outbox (a store from before it). */
static int pending_rebuild(lmdb_store_t *s, MDB_txn *txn, apr_pool_t *pool)
{
    MDB_val key, val, empty = bytes_val("", 0);
    MDB_cursor *cursor;
    MDB_cursor_op op;
    store_outbox_t o;
    int rc;

    rc = mdb_cursor_open(txn, s->dbi[DB_OUTBOX], &cursor);
    if (rc) {
        return rc;
    }
    for (op = MDB_FIRST; (rc = mdb_cursor_get(cursor, &key, &val, op)) == 0;
         op = MDB_NEXT) {
        rc = decode_outbox_ex(&key, &val, pool, 0, &o);
        if (rc == 0 && !state_is_final(o.state)) {
            rc = mdb_put(txn, s->dbi[DB_PENDING], &key, &empty, 0);
        }
        if (rc) {
            break;
        }
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- open and close --------------------------------------------------- */

/* Opens every db once, so request threads never open one (a dbi opened
 * in a transaction is private to it until commit). A read-only store
 * opens what exists and reads a missing db as empty. */
static int open_dbs(lmdb_store_t *s, apr_pool_t *pool, const char **error)
{
    MDB_txn *txn;
    apr_uint64_t format;
    int build_pending = 0;
    int i, rc;

    rc = begin_txn(s, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc) {
        *error = apr_psprintf(pool, "cannot begin LMDB transaction: %s",
                              mdb_strerror(rc));
        return -1;
    }

    for (i = 0; i < DB_COUNT; i++) {
        unsigned flags = db_specs[i].flags;

        rc = mdb_dbi_open(txn, db_specs[i].name, flags, &s->dbi[i]);
        if (rc == MDB_NOTFOUND && s->read_only) {
            continue;
        }
        if (rc == MDB_NOTFOUND) {
            rc = mdb_dbi_open(txn, db_specs[i].name, flags | MDB_CREATE,
                              &s->dbi[i]);
            build_pending = build_pending || i == DB_PENDING;
        }
        if (rc) {
            *error = apr_psprintf(pool, "cannot open LMDB db %s: %s",
                                  db_specs[i].name, mdb_strerror(rc));
            mdb_txn_abort(txn);
            return -1;
        }
        s->present[i] = 1;
    }

    /* A store from before the pending db: index what is not final. */
    if (build_pending) {
        rc = pending_rebuild(s, txn, pool);
        if (rc) {
            *error = apr_psprintf(pool, "cannot index the outbox: %s",
                                  lmdb_error(rc));
            mdb_txn_abort(txn);
            return -1;
        }
    }

    /* A store written by a later format must not be misread. */
    rc = meta_get(s, txn, "format", &format);
    if (rc == 0 && format == 0 && !s->read_only) {
        format = STORE_FORMAT;
        rc = meta_put(s, txn, "format", format, pool);
    }
    if (rc) {
        *error = apr_psprintf(pool, "cannot read store format: %s",
                              lmdb_error(rc));
        mdb_txn_abort(txn);
        return -1;
    }
    if (format != 0 && format != STORE_FORMAT) {
        *error = apr_psprintf(pool, "store format %" APR_UINT64_T_FMT
                              " is not supported (want %d)", format,
                              STORE_FORMAT);
        mdb_txn_abort(txn);
        return -1;
    }

    rc = mdb_txn_commit(txn);
    if (rc) {
        *error = apr_psprintf(pool, "cannot commit LMDB dbs: %s",
                              mdb_strerror(rc));
        return -1;
    }
    return 0;
}

static void *lmdb_open(const char *where, const store_options_t *options,
                       apr_pool_t *pool, const char **error)
{
    lmdb_store_t *s = apr_pcalloc(pool, sizeof(*s));
    apr_status_t rv;
    unsigned flags;
    int rc, dead;

    s->dir = apr_pstrdup(pool, where);
    s->read_only = options->read_only;

    if (!s->read_only) {
        rv = apr_dir_make_recursive(s->dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                    | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                    | APR_FPROT_GWRITE | APR_FPROT_GEXECUTE,
                                    pool);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            char buf[120];

            *error = apr_psprintf(pool, "cannot create %s: %s", s->dir,
                                  apr_strerror(rv, buf, sizeof(buf)));
            return NULL;
        }
    }

    rc = mdb_env_create(&s->env);
    if (rc) {
        *error = apr_psprintf(pool, "cannot create LMDB environment: %s",
                              mdb_strerror(rc));
        return NULL;
    }
    rc = mdb_env_set_maxdbs(s->env, MAX_DBS);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(s->env, options->map_size
                                 ? options->map_size : DEFAULT_MAP_SIZE);
    }
    if (rc == 0 && options->max_readers) {
        rc = mdb_env_set_maxreaders(s->env, options->max_readers);
    }
    if (rc) {
        *error = apr_psprintf(pool, "cannot configure LMDB: %s",
                              mdb_strerror(rc));
        mdb_env_close(s->env);
        return NULL;
    }

    /* MDB_NOTLS: httpd threads each run their own short read transaction
     * and a reader slot must not be tied to a thread. Durable sync stays
     * on: an answer is sent only after the commit reached the disk. */
    flags = MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0);
    rc = mdb_env_open(s->env, s->dir, flags, 0660);
    if (rc) {
        *error = apr_psprintf(pool, "cannot open LMDB environment %s: %s",
                              s->dir, mdb_strerror(rc));
        mdb_env_close(s->env);
        return NULL;
    }

    /* Slots of processes that died (a killed httpd child) would pin old
     * pages and fill the reader table. */
    mdb_reader_check(s->env, &dead);
    s->max_key = (apr_size_t)mdb_env_get_maxkeysize(s->env);

    if (open_dbs(s, pool, error)) {
        mdb_env_close(s->env);
        return NULL;
    }
    return s;
}

static void lmdb_close(void *backend)
{
    lmdb_store_t *s = backend;

    mdb_env_close(s->env);
    s->env = NULL;
}

static const char **lmdb_files(void *backend, apr_pool_t *pool)
{
    lmdb_store_t *s = backend;
    const char **files = apr_pcalloc(pool, 4 * sizeof(*files));

    files[0] = s->dir;
    files[1] = apr_pstrcat(pool, s->dir, "/data.mdb", NULL);
    files[2] = apr_pstrcat(pool, s->dir, "/lock.mdb", NULL);
    return files;
}

static int lmdb_check_readers(void *backend)
{
    lmdb_store_t *s = backend;
    int dead = 0;

    if (mdb_reader_check(s->env, &dead)) {
        return 0;
    }
    return dead;
}

/* ---- apply ------------------------------------------------------------ */

static int postbus_add(apply_t *a, const char *bsn, const char *zaak)
{
    MDB_val key = string_val(bsn), val = string_val(zaak);
    int rc;

    a->step = "postbus put";
    rc = mdb_put(a->txn, a->store->dbi[DB_POSTBUS], &key, &val,
                 MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

static int postbus_remove(apply_t *a, const char *bsn, const char *zaak)
{
    MDB_val key = string_val(bsn), val = string_val(zaak);
    int rc;

    a->step = "postbus delete";
    rc = mdb_del(a->txn, a->store->dbi[DB_POSTBUS], &key, &val);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Keeps a stored value when the newer message leaves the field out:
 * senders omit optional fields on later statuses, which does not mean
 * the value was withdrawn. */
static const char *newer_value(const char *sent, const char *stored)
{
    return sent ? sent : stored;
}

/* Step 3 of lmdb_apply: the zaak, its status and the postbus. */
static int apply_zaak(apply_t *a, const store_message_t *m,
                      const char *status_key, store_result_t *result)
{
    const lz_kennisgeving_t *k = m->kennisgeving;
    lmdb_store_t *s = a->store;
    MDB_val zaak_key = string_val(k->identificatie);
    MDB_val status_db_key, val;
    store_zaak_t zaak;
    store_status_t status;
    int rc;

    a->step = "status lookup";
    status_db_key = pair_key(k->identificatie, status_key, a->pool);
    rc = mdb_get(a->txn, s->dbi[DB_STATUS], &status_db_key, &val);
    if (rc == MDB_NOTFOUND) {
        memset(&status, 0, sizeof(status));
        status.datum_status_gezet = k->datum_status_gezet;
        status.statustype = k->status_omschrijving;
        status.toelichting = k->status_toelichting;
        status.verwijzing = k->verwijzing;
        status.referentienummer = m->referentienummer;
        status.eindstatus = k->einddatum != NULL;
        status.received = m->received;
        val = encode_status(&status, a->pool);
        a->step = "status put";
        rc = mdb_put(a->txn, s->dbi[DB_STATUS], &status_db_key, &val,
                     MDB_NOOVERWRITE);
        if (rc) {
            return rc;
        }
        result->status_created = 1;
    }
    else if (rc) {
        return rc;
    }

    a->step = "zaak lookup";
    rc = mdb_get(a->txn, s->dbi[DB_ZAAK], &zaak_key, &val);
    if (rc == MDB_NOTFOUND) {
        memset(&zaak, 0, sizeof(zaak));
        zaak.identificatie = k->identificatie;
        zaak.omschrijving = k->omschrijving;
        zaak.toelichting = k->toelichting;
        zaak.startdatum = k->startdatum;
        zaak.einddatum_gepland = k->einddatum_gepland;
        zaak.einddatum = k->einddatum;
        zaak.zender_oin = m->zender_oin;
        zaak.bsn = k->bsn;
        zaak.status_key = status_key;
        zaak.statustype = k->status_omschrijving;
        zaak.closed = k->einddatum != NULL;
        zaak.created = m->received;
        zaak.updated = m->received;
        val = encode_zaak(&zaak, a->pool);
        a->step = "zaak put";
        rc = mdb_put(a->txn, s->dbi[DB_ZAAK], &zaak_key, &val, 0);
        if (rc == 0 && k->bsn) {
            rc = postbus_add(a, k->bsn, k->identificatie);
        }
        result->zaak_created = rc == 0;
        return rc;
    }
    if (rc) {
        return rc;
    }
    rc = decode_zaak(&val, a->pool, &zaak);
    if (rc) {
        return rc;
    }

    /* An older status arriving late is kept in the history, but the zaak
     * shows what the newest status said. */
    if (zaak.status_key && strcmp(status_key, zaak.status_key) < 0) {
        return 0;
    }

    if (k->bsn && (zaak.bsn == NULL || strcmp(k->bsn, zaak.bsn) != 0)) {
        rc = zaak.bsn ? postbus_remove(a, zaak.bsn, k->identificatie) : 0;
        if (rc == 0) {
            rc = postbus_add(a, k->bsn, k->identificatie);
        }
        if (rc) {
            return rc;
        }
        result->postbus_moved = zaak.bsn != NULL;
        zaak.bsn = k->bsn;
    }

    zaak.omschrijving = newer_value(k->omschrijving, zaak.omschrijving);
    zaak.toelichting = newer_value(k->toelichting, zaak.toelichting);
    zaak.startdatum = newer_value(k->startdatum, zaak.startdatum);
    zaak.einddatum_gepland = newer_value(k->einddatum_gepland,
                                         zaak.einddatum_gepland);
    zaak.zender_oin = newer_value(m->zender_oin, zaak.zender_oin);

    /* The statustype belongs to the status: a new newest status without
     * one leaves the zaak without a statustype. */
    if (k->status_omschrijving || strcmp(status_key, zaak.status_key
                                         ? zaak.status_key : "") != 0) {
        zaak.statustype = k->status_omschrijving;
    }
    zaak.status_key = status_key;

    /* Whether the zaak is finished is what the newest status says. */
    zaak.einddatum = k->einddatum;
    zaak.closed = k->einddatum != NULL;
    zaak.updated = m->received;

    val = encode_zaak(&zaak, a->pool);
    a->step = "zaak put";
    rc = mdb_put(a->txn, s->dbi[DB_ZAAK], &zaak_key, &val, 0);
    result->zaak_updated = rc == 0;
    return rc;
}

/* Queues one entry under the next sequence (step 6 of lmdb_apply, and
 * the re-queued signal of an ebMS duplicate). */
static int apply_outbox(apply_t *a, const store_outbox_entry_t *entry,
                        apr_time_t created)
{
    lmdb_store_t *s = a->store;
    unsigned char buf[8];
    apr_uint64_t next;
    MDB_val key, val;
    int rc;

    a->step = "outbox sequence";
    rc = meta_get(s, a->txn, "next_outbox", &next);
    if (rc) {
        return rc;
    }
    if (next == 0) {
        next = 1;
    }

    key = sequence_key(next, buf);
    val = encode_outbox(entry, created, a->pool);
    a->step = "outbox put";
    rc = mdb_put(a->txn, s->dbi[DB_OUTBOX], &key, &val, MDB_NOOVERWRITE);
    if (rc) {
        return rc;
    }
    val = bytes_val("", 0);
    a->step = "pending put";
    rc = mdb_put(a->txn, s->dbi[DB_PENDING], &key, &val, 0);
    if (rc) {
        return rc;
    }

    a->step = "outbox sequence";
    rc = meta_put(s, a->txn, "next_outbox", next + 1, a->pool);
    if (rc) {
        return rc;
    }
    return meta_bump(s, a->txn, "outbox_queued", a->pool);
}

/* Remembers a MessageId. NOOVERWRITE: the lookup before found none, and a
 * MessageId we generate twice must fail loudly rather than replace the
 * record of the first. */
static int put_ebms(apply_t *a, const char *cpaid, const char *message_id,
                    const ebms_record_t *record)
{
    MDB_val key = pair_key(cpaid, message_id, a->pool);
    MDB_val val = encode_ebms(record, a->pool);

    return mdb_put(a->txn, a->store->dbi[DB_EBMS], &key, &val,
                   MDB_NOOVERWRITE);
}

/* Step 5: the received MessageId, with what a duplicate gets again. */
static int put_ebms_received(apply_t *a, const store_message_t *m)
{
    store_outbox_entry_t requeue;
    ebms_record_t record;

    memset(&record, 0, sizeof(record));
    record.state = "received";
    record.digest = m->ebms_digest;
    record.response = m->ebms_response;
    record.response_len = m->ebms_response_len;
    record.recorded = m->received;
    record.keep_until = m->ebms_keep_until ? m->ebms_keep_until
                                           : m->received + EBMS_DEFAULT_KEEP;

    /* The entry's expiry is kept as a lifetime: a duplicate arriving days
     * later must queue a signal that has not expired already. */
    if (m->ebms_requeue >= 0 && m->ebms_requeue < m->outbox_count) {
        requeue = m->outbox[m->ebms_requeue];
        if (requeue.expires) {
            requeue.expires = requeue.expires > m->received
                                  ? requeue.expires - m->received
                                  : 1;
        }
        record.requeue = &requeue;
    }

    a->step = "ebms put";
    return put_ebms(a, m->ebms_cpaid, m->ebms_message_id, &record);
}

/* Step 6: every outbox entry, and the MessageId of each ebMS message we
 * send, so a reply naming it in RefToMessageId is recognised. */
static int apply_outbox_entries(apply_t *a, const store_message_t *m)
{
    const store_outbox_entry_t *entry;
    ebms_record_t sent;
    int i, rc;

    for (i = 0; i < m->outbox_count; i++) {
        entry = &m->outbox[i];
        rc = apply_outbox(a, entry, m->received);
        if (rc) {
            return rc;
        }
        if (entry->ebms_message_id == NULL) {
            continue;
        }

        memset(&sent, 0, sizeof(sent));
        sent.state = "sent";
        sent.recorded = m->received;
        sent.keep_until = entry->expires ? entry->expires
                                         : m->received + EBMS_DEFAULT_KEEP;
        a->step = "ebms sent put";
        rc = put_ebms(a, entry->ebms_cpaid, entry->ebms_message_id, &sent);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* Keys longer than LMDB's limit would fail deep inside a transaction;
 * refuse them up front with a clear reason. */
static const char *check_sizes(const lmdb_store_t *s,
                               const store_message_t *m)
{
    const lz_kennisgeving_t *k = m->kennisgeving;
    const store_outbox_entry_t *entry;
    apr_size_t limit = s->max_key;
    int i;

    if (!m->stufref_none
        && pair_len(m->zender_key, m->referentienummer) > limit) {
        return "zender and referentienummer are too long for a key";
    }
    if (k && strlen(k->identificatie) + 1 + STORE_STATUS_KEY_LEN > limit) {
        return "zaakidentificatie is too long for a key";
    }
    if (k && k->bsn && (strlen(k->bsn) == 0 || strlen(k->bsn) > limit)) {
        return "initiator has an unusable key length";
    }
    if (m->ebms_message_id
        && pair_len(m->ebms_cpaid, m->ebms_message_id) > limit) {
        return "CPAId and MessageId are too long for a key";
    }
    if (m->receipt_answer_len > 0xFFFFFFFEu
        || m->ebms_response_len > 0xFFFFFFFEu) {
        return "value is too large for a record";
    }

    for (i = 0; i < m->outbox_count; i++) {
        entry = &m->outbox[i];
        if (entry->payload_len > 0xFFFFFFFEu) {
            return "value is too large for a record";
        }
        if (entry->ebms_message_id
            && pair_len(entry->ebms_cpaid, entry->ebms_message_id)
                   > limit) {
            return "CPAId and MessageId of an outbox entry are too long "
                   "for a key";
        }
    }
    return NULL;
}

/* Ends an apply that failed: nothing is kept and result says why. */
static void apply_failed(apply_t *a, int rc, int txn_open,
                         store_result_t *result)
{
    if (txn_open) {
        mdb_txn_abort(a->txn);
    }
    memset(result, 0, sizeof(*result));
    result->outcome = rc == MDB_MAP_FULL ? STORE_FULL : STORE_FAILED;
    result->error = apr_psprintf(a->pool, "%s: %s", a->step, lmdb_error(rc));
}

/* A StUF replay or conflict: the message is not applied, only counted. */
static void answer_known(apply_t *a, int same, const void *answer,
                         apr_size_t answer_len, store_result_t *result)
{
    const char *counter;

    if (same) {
        result->outcome = STORE_REPLAY;
        if (answer) {
            result->receipt_answer = apr_pstrmemdup(a->pool, answer,
                                                    answer_len);
            result->receipt_answer_len = answer_len;
        }
        counter = "replayed";
    }
    else {
        result->outcome = STORE_CONFLICT;
        counter = "conflicting";
    }

    /* The counter is the only change and is best effort: a full map or a
     * failed commit does not change the answer. */
    if (meta_bump(a->store, a->txn, counter, a->pool) != 0) {
        mdb_txn_abort(a->txn);
        return;
    }
    /* mdb_txn_commit frees the transaction even when it fails. */
    mdb_txn_commit(a->txn);
}

/* Step 1 found the MessageId: a resend gets the first answer again, an
 * asynchronous one by queueing the stored signal once more. */
static void answer_ebms_known(apply_t *a, const store_message_t *m,
                              const MDB_val *stored, store_result_t *result)
{
    ebms_record_t known;
    store_outbox_entry_t requeue;
    int rc;

    rc = decode_ebms(stored, a->pool, &known);
    if (rc) {
        apply_failed(a, rc, 1, result);
        return;
    }

    /* Other content under a MessageId we have, or the partner reusing
     * one of the MessageIds we sent: not a resend, so nothing is kept. */
    if (strcmp(known.state, "received") != 0 || known.digest == NULL
        || memcmp(known.digest, m->ebms_digest, STORE_DIGEST_LEN) != 0) {
        mdb_txn_abort(a->txn);
        result->outcome = STORE_EBMS_CONFLICT;
        return;
    }

    result->outcome = STORE_EBMS_DUPLICATE;
    result->receipt_answer = known.response;
    result->receipt_answer_len = known.response_len;

    /* Only the counter changes: best effort, like a StUF replay. */
    if (known.requeue == NULL) {
        if (meta_bump(a->store, a->txn, "ebms_duplicates", a->pool) != 0) {
            mdb_txn_abort(a->txn);
            return;
        }
        mdb_txn_commit(a->txn);
        return;
    }

    /* The re-queued signal is the answer, so it must be durable. */
    requeue = *known.requeue;
    requeue.expires = requeue.expires ? m->received + requeue.expires : 0;
    rc = apply_outbox(a, &requeue, m->received);
    if (rc == 0) {
        a->step = "counters";
        rc = meta_bump(a->store, a->txn, "ebms_duplicates", a->pool);
    }
    if (rc) {
        apply_failed(a, rc, 1, result);
        return;
    }

    a->step = "commit";
    rc = mdb_txn_commit(a->txn);
    if (rc) {
        apply_failed(a, rc, 0, result);
    }
}

/* The steps are numbered as in the contract: (1) ebMS duplicate check,
 * (2) StUF replay check, (3) zaak, (4) stufref, (5) ebMS record,
 * (6) outbox, (7) counters and commit. */
static void lmdb_apply(void *backend, const store_message_t *m,
                       const char *status_key, apr_pool_t *pool,
                       store_result_t *result)
{
    lmdb_store_t *s = backend;
    apply_t a = { s, NULL, pool, "begin" };
    MDB_val key, val;
    const void *answer;
    apr_size_t answer_len;
    const char *refused;
    int rc, same;

    if (s->read_only) {
        result->outcome = STORE_FAILED;
        result->error = "store is open read-only";
        return;
    }
    refused = check_sizes(s, m);
    if (refused) {
        result->outcome = STORE_FAILED;
        result->error = refused;
        return;
    }

    rc = begin_txn(s, 0, &a.txn);
    if (rc) {
        apply_failed(&a, rc, 0, result);
        return;
    }

    if (m->ebms_message_id) {
        a.step = "ebms lookup";
        key = pair_key(m->ebms_cpaid, m->ebms_message_id, pool);
        rc = mdb_get(a.txn, s->dbi[DB_EBMS], &key, &val);
        if (rc == 0) {
            answer_ebms_known(&a, m, &val, result);
            return;
        }
        if (rc != MDB_NOTFOUND) {
            goto abort;
        }
    }

    /* On ebMS a known StUF message under a new MessageId is a resend by a
     * new ebMS message: the zaak is not touched again, but the new
     * MessageId and its answers are kept like any other. */
    if (!m->stufref_none) {
        a.step = "stufref lookup";
        key = pair_key(m->zender_key, m->referentienummer, pool);
        rc = mdb_get(a.txn, s->dbi[DB_STUFREF], &key, &val);
        if (rc == 0) {
            rc = decode_stufref(&val, m->digest, &same, &answer,
                                &answer_len);
            if (rc) {
                goto abort;
            }
            if (!same || m->ebms_message_id == NULL) {
                answer_known(&a, same, answer, answer_len, result);
                return;
            }
            result->stuf_replayed = 1;
        }
        else if (rc != MDB_NOTFOUND) {
            goto abort;
        }
    }

    if (m->kennisgeving && !result->stuf_replayed) {
        rc = apply_zaak(&a, m, status_key, result);
        if (rc) {
            goto abort;
        }
    }

    if (!m->stufref_none && !result->stuf_replayed) {
        a.step = "stufref put";
        val = encode_stufref(m, pool);
        rc = mdb_put(a.txn, s->dbi[DB_STUFREF], &key, &val,
                     MDB_NOOVERWRITE);
        if (rc) {
            goto abort;
        }
    }

    if (m->ebms_message_id) {
        rc = put_ebms_received(&a, m);
        if (rc) {
            goto abort;
        }
    }

    rc = apply_outbox_entries(&a, m);
    if (rc) {
        goto abort;
    }

    a.step = "counters";
    rc = meta_bump(s, a.txn, "applied", pool);
    if (rc == 0 && result->stuf_replayed) {
        rc = meta_bump(s, a.txn, "replayed", pool);
    }
    if (rc) {
        goto abort;
    }

    /* A failed commit leaves nothing behind, like an abort. */
    a.step = "commit";
    rc = mdb_txn_commit(a.txn);
    if (rc) {
        apply_failed(&a, rc, 0, result);
        return;
    }
    result->outcome = STORE_APPLIED;
    return;

abort:
    apply_failed(&a, rc, 1, result);
}

/* ---- read side -------------------------------------------------------- */

static int lmdb_get_zaak(void *backend, const char *identificatie,
                         apr_pool_t *pool, store_zaak_t *zaak,
                         apr_array_header_t **statuses)
{
    lmdb_store_t *s = backend;
    MDB_val key = string_val(identificatie), prefix, val;
    MDB_cursor *cursor;
    MDB_txn *txn;
    MDB_cursor_op op;
    int rc;

    memset(zaak, 0, sizeof(*zaak));
    if (statuses) {
        *statuses = apr_array_make(pool, 4, sizeof(store_status_t));
    }
    if (!s->present[DB_ZAAK] || key.mv_size == 0
        || key.mv_size > s->max_key) {
        return 1;
    }
    if (begin_txn(s, MDB_RDONLY, &txn)) {
        return -1;
    }

    rc = mdb_get(txn, s->dbi[DB_ZAAK], &key, &val);
    if (rc == 0) {
        rc = decode_zaak(&val, pool, zaak);
    }
    if (rc || statuses == NULL || !s->present[DB_STATUS]) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? 1 : rc ? -1 : 0;
    }

    rc = mdb_cursor_open(txn, s->dbi[DB_STATUS], &cursor);
    if (rc) {
        mdb_txn_abort(txn);
        return -1;
    }
    prefix = pair_key(identificatie, "", pool);
    key = prefix;
    for (op = MDB_SET_RANGE; (rc = mdb_cursor_get(cursor, &key, &val, op))
                             == 0; op = MDB_NEXT) {
        store_status_t *status;

        if (key.mv_size != prefix.mv_size + STORE_STATUS_KEY_LEN
            || memcmp(key.mv_data, prefix.mv_data, prefix.mv_size) != 0) {
            break;
        }
        status = apr_array_push(*statuses);
        rc = decode_status(&key, &val, pool, status);
        if (rc) {
            break;
        }
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

static int lmdb_list_postbus(void *backend, const char *bsn,
                             apr_pool_t *pool,
                             apr_array_header_t **identificaties)
{
    lmdb_store_t *s = backend;
    MDB_val key = string_val(bsn), val;
    MDB_cursor *cursor;
    MDB_txn *txn;
    MDB_cursor_op op;
    int rc;

    *identificaties = apr_array_make(pool, 4, sizeof(char *));
    if (!s->present[DB_POSTBUS] || key.mv_size == 0
        || key.mv_size > s->max_key) {
        return 1;
    }
    if (begin_txn(s, MDB_RDONLY, &txn)) {
        return -1;
    }
    rc = mdb_cursor_open(txn, s->dbi[DB_POSTBUS], &cursor);
    if (rc) {
        mdb_txn_abort(txn);
        return -1;
    }

    for (op = MDB_SET_KEY; (rc = mdb_cursor_get(cursor, &key, &val, op))
                           == 0; op = MDB_NEXT_DUP) {
        APR_ARRAY_PUSH(*identificaties, char *) =
            apr_pstrmemdup(pool, val.mv_data, val.mv_size);
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND) {
        return -1;
    }
    return (*identificaties)->nelts ? 0 : 1;
}

static int lmdb_list_outbox(void *backend, apr_pool_t *pool,
                            apr_array_header_t **entries)
{
    lmdb_store_t *s = backend;
    MDB_val key, val;
    MDB_cursor *cursor;
    MDB_txn *txn;
    MDB_cursor_op op;
    int rc;

    *entries = apr_array_make(pool, 8, sizeof(store_outbox_t));
    if (!s->present[DB_OUTBOX]) {
        return 1;
    }
    if (begin_txn(s, MDB_RDONLY, &txn)) {
        return -1;
    }
    rc = mdb_cursor_open(txn, s->dbi[DB_OUTBOX], &cursor);
    if (rc) {
        mdb_txn_abort(txn);
        return -1;
    }

    for (op = MDB_FIRST; (rc = mdb_cursor_get(cursor, &key, &val, op)) == 0;
         op = MDB_NEXT) {
        rc = decode_outbox(&key, &val, pool, apr_array_push(*entries));
        if (rc) {
            break;
        }
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND) {
        return -1;
    }
    return (*entries)->nelts ? 0 : 1;
}

static int lmdb_get_stats(void *backend, store_stats_t *stats)
{
    lmdb_store_t *s = backend;
    apr_size_t *counts[DB_COUNT] = {
        [DB_ZAAK] = &stats->zaken,
        [DB_STATUS] = &stats->statuses,
        [DB_POSTBUS] = &stats->postbus_entries,
        [DB_STUFREF] = &stats->stufrefs,
        [DB_OUTBOX] = &stats->outbox_entries,
        [DB_EBMS] = &stats->ebms_messages,
        [DB_PENDING] = &stats->outbox_pending,
    };
    static const char *const outbox_counters[] = {
        "outbox_queued", "outbox_delivered", "outbox_retrying",
        "outbox_expired", "outbox_failed",
    };
    apr_uint64_t *outbox_values[] = {
        &stats->outbox_queued, &stats->outbox_delivered,
        &stats->outbox_retrying, &stats->outbox_expired,
        &stats->outbox_failed,
    };
    MDB_envinfo info;
    MDB_stat stat;
    MDB_txn *txn;
    int i, rc = 0;

    if (begin_txn(s, MDB_RDONLY, &txn)) {
        return -1;
    }
    for (i = 0; i < DB_COUNT && rc == 0; i++) {
        if (counts[i] && s->present[i]) {
            rc = mdb_stat(txn, s->dbi[i], &stat);
            *counts[i] = rc == 0 ? stat.ms_entries : 0;
        }
    }
    if (rc == 0) {
        rc = meta_get(s, txn, "applied", &stats->messages_applied);
    }
    if (rc == 0) {
        rc = meta_get(s, txn, "replayed", &stats->messages_replayed);
    }
    if (rc == 0) {
        rc = meta_get(s, txn, "conflicting", &stats->messages_conflicting);
    }
    if (rc == 0) {
        rc = meta_get(s, txn, "ebms_duplicates", &stats->ebms_duplicates);
    }
    for (i = 0; i < 5 && rc == 0; i++) {
        rc = meta_get(s, txn, outbox_counters[i], outbox_values[i]);
    }
    mdb_txn_abort(txn);

    if (rc == 0) {
        rc = mdb_env_info(s->env, &info);
    }
    if (rc == 0) {
        rc = mdb_env_stat(s->env, &stat);
    }
    if (rc) {
        return -1;
    }
    stats->map_size = info.me_mapsize;
    stats->map_used = (info.me_last_pgno + 1) * (apr_size_t)stat.ms_psize;
    return 0;
}

static int lmdb_get_ebms(void *backend, const char *cpaid,
                         const char *message_id, apr_pool_t *pool,
                         store_ebms_t *record)
{
    lmdb_store_t *s = backend;
    ebms_record_t known;
    MDB_val key, val;
    MDB_txn *txn;
    int rc;

    /* A key LMDB cannot hold was never stored. */
    if (!s->present[DB_EBMS] || pair_len(cpaid, message_id) > s->max_key) {
        return 1;
    }
    if (begin_txn(s, MDB_RDONLY, &txn)) {
        return -1;
    }
    key = pair_key(cpaid, message_id, pool);
    rc = mdb_get(txn, s->dbi[DB_EBMS], &key, &val);
    if (rc == 0) {
        rc = decode_ebms(&val, pool, &known);
    }
    mdb_txn_abort(txn);
    if (rc) {
        return rc == MDB_NOTFOUND ? 1 : -1;
    }

    record->state = known.state;
    record->recorded = known.recorded;
    record->keep_until = known.keep_until;
    return 0;
}

static int lmdb_check_stufref(void *backend, const char *zender_key,
                              const char *referentienummer,
                              const unsigned char *digest)
{
    lmdb_store_t *s = backend;
    apr_size_t key_len = pair_len(zender_key, referentienummer);
    const void *answer;
    apr_size_t answer_len;
    MDB_val key, val;
    MDB_txn *txn;
    char *buf;
    int rc, same;

    if (!s->present[DB_STUFREF] || key_len > s->max_key) {
        return 0;
    }

    /* The caller gives no pool; the key is small and freed here. */
    buf = malloc(key_len);
    if (buf == NULL) {
        return -1;
    }
    key = pair_key_in(buf, zender_key, referentienummer);

    rc = begin_txn(s, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_get(txn, s->dbi[DB_STUFREF], &key, &val);
        if (rc == 0) {
            rc = decode_stufref(&val, digest, &same, &answer, &answer_len);
        }
        mdb_txn_abort(txn);
    }
    free(buf);
    if (rc) {
        return rc == MDB_NOTFOUND ? 0 : -1;
    }
    return same ? 1 : 2;
}

/* ---- outbox delivery -------------------------------------------------- */

/* One outbox write in progress (claim, finish, expire). */
typedef struct {
    lmdb_store_t *store;
    MDB_txn *txn;
    apr_pool_t *pool;
} outbox_txn_t;

static int outbox_begin(lmdb_store_t *s, apr_pool_t *pool, outbox_txn_t *t)
{
    t->store = s;
    t->pool = pool;
    t->txn = NULL;
    if (s->read_only || !s->present[DB_OUTBOX] || !s->present[DB_PENDING]) {
        return -1;
    }
    return begin_txn(s, 0, &t->txn) ? -1 : 0;
}

static int outbox_put(outbox_txn_t *t, const store_outbox_t *o)
{
    unsigned char buf[8];
    MDB_val key = sequence_key(o->sequence, buf);
    MDB_val val = encode_outbox_record(o, t->pool);

    return mdb_put(t->txn, t->store->dbi[DB_OUTBOX], &key, &val, 0);
}

/* Ends the transaction: committed when something changed, else aborted
 * (no write, no fsync). Returns count, or -1 when the commit failed. */
static int outbox_end(outbox_txn_t *t, int rc, int changed, int count)
{
    if (rc || !changed) {
        mdb_txn_abort(t->txn);
        return rc ? -1 : count;
    }
    return mdb_txn_commit(t->txn) ? -1 : count;
}

/* Whether a claim may take entry o now (orders aside). */
static int claimable(const store_outbox_t *o, const store_outbox_claim_t *c)
{
    if (strcmp(o->state, "queued") != 0 && strcmp(o->state, "retrying") != 0
        && strcmp(o->state, "sending") != 0) {
        return 0;
    }
    if (o->next_try > c->now) {
        return 0;
    }
    if (o->expires && o->expires <= c->now) {
        return 0;
    }
    return c->skip == NULL || !c->skip(c->skip_baton, o->destination);
}

static int lmdb_outbox_claim(void *backend, const store_outbox_claim_t *c,
                             apr_pool_t *pool, apr_array_header_t **claimed)
{
    apr_pool_t *scratch;
    apr_pool_t *entry_scratch;
    apr_hash_t *blocked, *per_destination;
    MDB_val key, val, data;
    MDB_cursor *cursor;
    MDB_cursor_op op;
    outbox_txn_t t;
    store_outbox_t o;
    int rc, count = 0;

    /* What is only looked at goes in a scratch pool cleared per entry
     * (what must last the walk, in its parent): a claim may walk
     * thousands of entries it does not take. */
    if (apr_pool_create(&scratch, pool) != APR_SUCCESS) {
        return -1;
    }
    if (apr_pool_create(&entry_scratch, scratch) != APR_SUCCESS) {
        apr_pool_destroy(scratch);
        return -1;
    }
    blocked = apr_hash_make(scratch);
    per_destination = apr_hash_make(scratch);
    if (outbox_begin(backend, pool, &t)) {
        apr_pool_destroy(scratch);
        return -1;
    }
    rc = mdb_cursor_open(t.txn, t.store->dbi[DB_PENDING], &cursor);
    if (rc) {
        apr_pool_destroy(scratch);
        return outbox_end(&t, rc, 0, 0);
    }

    for (op = MDB_FIRST; count < c->max
                         && (rc = mdb_cursor_get(cursor, &key, &val, op))
                                == 0;
         op = MDB_NEXT) {
        const char *order = NULL;
        int *taken;

        apr_pool_clear(entry_scratch);
        rc = mdb_get(t.txn, t.store->dbi[DB_OUTBOX], &key, &data);
        if (rc == 0) {
            rc = decode_outbox_ex(&key, &data, entry_scratch, 0, &o);
        }
        if (rc) {
            break;
        }
        if (kind_is_ordered(o.kind)) {
            order = apr_pstrcat(entry_scratch, o.partner ? o.partner : "",
                                "\n", o.destination ? o.destination : "",
                                NULL);
            if (apr_hash_get(blocked, order, APR_HASH_KEY_STRING)) {
                continue;
            }
        }
        taken = apr_hash_get(per_destination, o.destination,
                             APR_HASH_KEY_STRING);
        if (!claimable(&o, c)
            || (c->max_per_destination && taken
                && *taken >= c->max_per_destination)) {
            /* Everything later of this partner and destination waits. */
            if (order) {
                apr_hash_set(blocked, apr_pstrdup(scratch, order),
                             APR_HASH_KEY_STRING, "");
            }
            continue;
        }

        rc = decode_outbox_ex(&key, &data, pool, 1, &o);
        if (rc) {
            break;
        }
        o.state = "sending";
        o.next_try = c->now + c->lease;
        rc = outbox_put(&t, &o);
        if (rc) {
            break;
        }
        if (taken == NULL) {
            taken = apr_pcalloc(scratch, sizeof(*taken));
            apr_hash_set(per_destination,
                         apr_pstrdup(scratch, o.destination ? o.destination
                                                            : ""),
                         APR_HASH_KEY_STRING, taken);
        }
        (*taken)++;
        APR_ARRAY_PUSH(*claimed, store_outbox_t) = o;
        count++;
    }
    mdb_cursor_close(cursor);
    apr_pool_destroy(scratch);
    if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    if (rc) {
        apr_array_clear(*claimed);
    }
    count = outbox_end(&t, rc, count > 0, count);
    if (count < 0) {
        apr_array_clear(*claimed);
    }
    return count;
}

static int pending_delete(outbox_txn_t *t, apr_uint64_t sequence)
{
    unsigned char buf[8];
    MDB_val key = sequence_key(sequence, buf);
    int rc = mdb_del(t->txn, t->store->dbi[DB_PENDING], &key, NULL);

    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One result applied to its entry; *done is 1 when it was recorded. */
static int finish_one(outbox_txn_t *t, const store_outbox_result_t *r,
                      apr_time_t now, int *done)
{
    static const char *const counters[] = {
        [STORE_OUTBOX_DELIVERED] = "outbox_delivered",
        [STORE_OUTBOX_RETRY] = "outbox_retrying",
        [STORE_OUTBOX_FAILED] = "outbox_failed",
        [STORE_OUTBOX_RELEASE] = NULL,
    };
    unsigned char buf[8];
    MDB_val key = sequence_key(r->sequence, buf), val;
    store_outbox_t o;
    int rc;

    *done = 0;
    rc = mdb_get(t->txn, t->store->dbi[DB_OUTBOX], &key, &val);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc == 0) {
        rc = decode_outbox_ex(&key, &val, t->pool, 1, &o);
    }
    if (rc) {
        return rc;
    }
    if (strcmp(o.state, "sending") != 0 || o.next_try != r->lease) {
        return 0;
    }

    switch (r->outcome) {
    case STORE_OUTBOX_DELIVERED:
        o.state = "delivered";
        o.attempts++;
        o.next_try = now;
        break;
    case STORE_OUTBOX_RETRY:
        o.state = "retrying";
        o.attempts++;
        o.next_try = r->next_try;
        o.last_error = r->error;
        break;
    case STORE_OUTBOX_FAILED:
        o.state = "failed";
        o.attempts++;
        o.next_try = now;
        o.last_error = r->error;
        break;
    case STORE_OUTBOX_RELEASE:
        o.state = o.attempts ? "retrying" : "queued";
        o.next_try = r->next_try;
        break;
    default:
        return 0;
    }
    rc = outbox_put(t, &o);
    if (rc == 0 && state_is_final(o.state)) {
        rc = pending_delete(t, o.sequence);
    }
    if (rc == 0 && counters[r->outcome]) {
        rc = meta_bump(t->store, t->txn, counters[r->outcome], t->pool);
    }
    *done = rc == 0;
    return rc;
}

static int lmdb_outbox_finish(void *backend,
                              const store_outbox_result_t *results,
                              int count, apr_time_t now)
{
    apr_pool_t *pool;
    outbox_txn_t t;
    int i, rc = 0, done, recorded = 0;

    /* The caller gives no pool: records are encoded in a scratch one. */
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    if (outbox_begin(backend, pool, &t)) {
        apr_pool_destroy(pool);
        return -1;
    }
    for (i = 0; i < count && rc == 0; i++) {
        rc = finish_one(&t, &results[i], now, &done);
        recorded += done;
    }
    recorded = outbox_end(&t, rc, recorded > 0, recorded);
    apr_pool_destroy(pool);
    return recorded;
}

static int lmdb_outbox_expire(void *backend, apr_time_t now,
                              apr_pool_t *pool, apr_array_header_t **expired)
{
    apr_pool_t *scratch;
    MDB_val key, val, data;
    MDB_cursor *cursor;
    MDB_cursor_op op;
    outbox_txn_t t;
    store_outbox_t o;
    int i, rc, count = 0;

    /* The walk looks at every pending entry: each is read into a scratch
     * pool cleared per entry, without its payload, so memory stays small
     * however long the queue; only an entry that expires is read whole. */
    if (apr_pool_create(&scratch, pool) != APR_SUCCESS) {
        return -1;
    }
    if (outbox_begin(backend, pool, &t)) {
        apr_pool_destroy(scratch);
        return -1;
    }
    rc = mdb_cursor_open(t.txn, t.store->dbi[DB_PENDING], &cursor);
    if (rc) {
        apr_pool_destroy(scratch);
        return outbox_end(&t, rc, 0, 0);
    }

    for (op = MDB_FIRST; (rc = mdb_cursor_get(cursor, &key, &val, op)) == 0;
         op = MDB_NEXT) {
        apr_pool_clear(scratch);
        rc = mdb_get(t.txn, t.store->dbi[DB_OUTBOX], &key, &data);
        if (rc == 0) {
            rc = decode_outbox_ex(&key, &data, scratch, 0, &o);
        }
        if (rc) {
            break;
        }
        if (o.expires == 0 || o.expires > now || state_is_final(o.state)
            || (strcmp(o.state, "sending") == 0 && o.next_try > now)) {
            continue;
        }
        rc = decode_outbox_ex(&key, &data, pool, 1, &o);
        if (rc) {
            break;
        }
        o.state = "expired";
        o.last_error = apr_psprintf(pool, "expired after %u attempt(s)%s%s",
                                    o.attempts, o.last_error ? ": " : "",
                                    o.last_error ? o.last_error : "");
        o.next_try = now;
        rc = outbox_put(&t, &o);
        if (rc == 0) {
            rc = meta_bump(t.store, t.txn, "outbox_expired", pool);
        }
        if (rc) {
            break;
        }
        o.payload = NULL;
        APR_ARRAY_PUSH(*expired, store_outbox_t) = o;
        count++;
    }
    mdb_cursor_close(cursor);
    apr_pool_destroy(scratch);
    if (rc == MDB_NOTFOUND) {
        rc = 0;
    }

    /* Out of the pending db only after the walk: a delete under a cursor
     * that then moves on is easy to get wrong. */
    for (i = 0; rc == 0 && i < count; i++) {
        rc = pending_delete(&t, APR_ARRAY_IDX(*expired, i,
                                              store_outbox_t).sequence);
    }
    count = outbox_end(&t, rc, count > 0, count);
    if (count < 0) {
        apr_array_clear(*expired);
    }
    return count;
}

const store_backend_t store_lmdb_backend = {
    "lmdb",
    lmdb_open,
    lmdb_close,
    lmdb_files,
    lmdb_check_readers,
    lmdb_apply,
    lmdb_get_zaak,
    lmdb_list_postbus,
    lmdb_list_outbox,
    lmdb_get_stats,
    lmdb_get_ebms,
    lmdb_check_stufref,
    lmdb_outbox_claim,
    lmdb_outbox_finish,
    lmdb_outbox_expire,
};

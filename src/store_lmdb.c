/* store_lmdb.c - the LMDB backend of the store: one environment per
 * process, shared by all httpd processes through LMDB's lock file, one
 * durable write transaction per received message. */
#include "record.h"
#include "store.h"
#include "store_backend.h"

#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
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
 *               last_error, payload (bytes)
 * meta     key  "format", "applied", "replayed", "conflicting",
 *               "next_outbox"
 *          [M]  one u64
 *
 * Limitation: every process must open the environment with the same map
 * size (StufLZMapSize), because a process that finds the map grown by
 * another (MDB_MAP_RESIZED) could only adopt it with no transaction active
 * in any of its threads; such a transaction fails with STORE_FAILED. */

#define RECORD_ZAAK    'Z'
#define RECORD_STATUS  'S'
#define RECORD_STUFREF 'R'
#define RECORD_OUTBOX  'O'
#define RECORD_META    'M'

#define STORE_FORMAT 1
#define DEFAULT_MAP_SIZE ((apr_size_t)1 << 30)

/* Room for the dbs below plus later ones (ebms) without a format bump. */
#define MAX_DBS 16

/* Not an LMDB code: a stored record that does not decode. */
#define BAD_RECORD (MDB_LAST_ERRCODE + 1000)

enum {
    DB_ZAAK,
    DB_STATUS,
    DB_POSTBUS,
    DB_STUFREF,
    DB_OUTBOX,
    DB_META,
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
static MDB_val pair_key(const char *a, const char *b, apr_pool_t *pool)
{
    apr_size_t a_len = strlen(a), b_len = strlen(b);
    char *key = apr_palloc(pool, a_len + 1 + b_len);

    memcpy(key, a, a_len);
    key[a_len] = '\0';
    memcpy(key + a_len + 1, b, b_len);
    return bytes_val(key, a_len + 1 + b_len);
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

static MDB_val encode_outbox(const store_outbox_entry_t *e,
                             apr_time_t created, apr_pool_t *pool)
{
    record_writer_t w;

    record_writer_init(&w, pool, RECORD_OUTBOX);
    record_put_string(&w, e->destination);
    record_put_string(&w, e->kind);
    record_put_string(&w, e->partner);
    record_put_string(&w, e->reference);
    record_put_string(&w, "queued");
    record_put_u64(&w, 0);
    record_put_u64(&w, (apr_uint64_t)created);
    record_put_u64(&w, (apr_uint64_t)created);
    record_put_u64(&w, (apr_uint64_t)e->expires);
    record_put_string(&w, NULL);
    record_put_bytes(&w, e->payload ? e->payload : "", e->payload_len);
    return bytes_val(w.data, w.len);
}

static int decode_outbox(const MDB_val *key, const MDB_val *val,
                         apr_pool_t *pool, store_outbox_t *o)
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
    if (payload) {
        o->payload = apr_pstrmemdup(pool, payload, o->payload_len);
    }
    return r.failed ? BAD_RECORD : 0;
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

/* ---- open and close --------------------------------------------------- */

/* Opens every db once, so request threads never open one (a dbi opened
 * in a transaction is private to it until commit). A read-only store
 * opens what exists and reads a missing db as empty. */
static int open_dbs(lmdb_store_t *s, apr_pool_t *pool, const char **error)
{
    MDB_txn *txn;
    apr_uint64_t format;
    int i, rc;

    rc = begin_txn(s, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc) {
        *error = apr_psprintf(pool, "cannot begin LMDB transaction: %s",
                              mdb_strerror(rc));
        return -1;
    }

    for (i = 0; i < DB_COUNT; i++) {
        unsigned flags = db_specs[i].flags;

        rc = mdb_dbi_open(txn, db_specs[i].name,
                          s->read_only ? flags : flags | MDB_CREATE,
                          &s->dbi[i]);
        if (rc == MDB_NOTFOUND && s->read_only) {
            continue;
        }
        if (rc) {
            *error = apr_psprintf(pool, "cannot open LMDB db %s: %s",
                                  db_specs[i].name, mdb_strerror(rc));
            mdb_txn_abort(txn);
            return -1;
        }
        s->present[i] = 1;
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

/* Step 2 of store_apply: the zaak, its status and the postbus. */
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

/* Step 4 of store_apply: queue the answer under the next sequence. */
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

    a->step = "outbox sequence";
    return meta_put(s, a->txn, "next_outbox", next + 1, a->pool);
}

/* Keys longer than LMDB's limit would fail deep inside a transaction;
 * refuse them up front with a clear reason. */
static const char *check_sizes(const lmdb_store_t *s,
                               const store_message_t *m)
{
    const lz_kennisgeving_t *k = m->kennisgeving;
    apr_size_t limit = s->max_key;

    if (strlen(m->zender_key) + 1 + strlen(m->referentienummer) > limit) {
        return "zender and referentienummer are too long for a key";
    }
    if (k && strlen(k->identificatie) + 1 + STORE_STATUS_KEY_LEN > limit) {
        return "zaakidentificatie is too long for a key";
    }
    if (k && k->bsn && (strlen(k->bsn) == 0 || strlen(k->bsn) > limit)) {
        return "initiator has an unusable key length";
    }
    if (m->receipt_answer_len > 0xFFFFFFFEu
        || (m->outbox && m->outbox->payload_len > 0xFFFFFFFEu)) {
        return "value is too large for a record";
    }
    return NULL;
}

/* Replay or conflict: the message is not applied, only counted. */
static void answer_known(apply_t *a, const store_message_t *m,
                         const MDB_val *stored, store_result_t *result)
{
    lmdb_store_t *s = a->store;
    record_reader_t r;
    const void *digest = NULL, *answer = NULL;
    apr_size_t digest_len = 0, answer_len = 0;
    const char *counter;

    if (record_reader_init(&r, stored->mv_data, stored->mv_size,
                           RECORD_STUFREF) == 0) {
        digest = record_get_bytes(&r, &digest_len);
        answer = record_get_bytes(&r, &answer_len);
    }
    if (r.failed) {
        mdb_txn_abort(a->txn);
        result->outcome = STORE_FAILED;
        result->error = "stufref lookup: stored record is unreadable";
        return;
    }

    if (digest && digest_len == STORE_DIGEST_LEN
        && memcmp(digest, m->digest, STORE_DIGEST_LEN) == 0) {
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
    if (meta_bump(s, a->txn, counter, a->pool) != 0) {
        mdb_txn_abort(a->txn);
        return;
    }
    /* mdb_txn_commit frees the transaction even when it fails. */
    mdb_txn_commit(a->txn);
}

static void lmdb_apply(void *backend, const store_message_t *m,
                       const char *status_key, apr_pool_t *pool,
                       store_result_t *result)
{
    lmdb_store_t *s = backend;
    apply_t a = { s, NULL, pool, "begin" };
    MDB_val key, val;
    const char *refused;
    int rc;

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
        goto failed;
    }

    a.step = "stufref lookup";
    key = pair_key(m->zender_key, m->referentienummer, pool);
    rc = mdb_get(a.txn, s->dbi[DB_STUFREF], &key, &val);
    if (rc == 0) {
        answer_known(&a, m, &val, result);
        return;
    }
    if (rc != MDB_NOTFOUND) {
        goto abort;
    }

    if (m->kennisgeving) {
        rc = apply_zaak(&a, m, status_key, result);
        if (rc) {
            goto abort;
        }
    }

    a.step = "stufref put";
    val = encode_stufref(m, pool);
    rc = mdb_put(a.txn, s->dbi[DB_STUFREF], &key, &val, MDB_NOOVERWRITE);
    if (rc) {
        goto abort;
    }

    if (m->outbox) {
        rc = apply_outbox(&a, m->outbox, m->received);
        if (rc) {
            goto abort;
        }
    }

    a.step = "counters";
    rc = meta_bump(s, a.txn, "applied", pool);
    if (rc) {
        goto abort;
    }

    /* A failed commit leaves nothing behind, like an abort. */
    a.step = "commit";
    rc = mdb_txn_commit(a.txn);
    if (rc) {
        goto failed;
    }
    result->outcome = STORE_APPLIED;
    return;

abort:
    mdb_txn_abort(a.txn);
failed:
    memset(result, 0, sizeof(*result));
    result->outcome = rc == MDB_MAP_FULL ? STORE_FULL : STORE_FAILED;
    result->error = apr_psprintf(pool, "%s: %s", a.step, lmdb_error(rc));
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
};

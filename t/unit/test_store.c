/* test_store.c - the store contract on the LMDB backend: one transaction
 * per message, idempotency (StUF refs and ebMS MessageIds), out-of-order
 * statuses, the postbus, a full map, durability across reopen, stores of
 * the previous version and several processes writing at once. */
#include "record.h"
#include "store.h"
#include "tap.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <lmdb.h>

#define BSN_A "111222333"
#define BSN_B "123456782"
#define BSN_C "999993653"
#define ZENDER "00000001234567890000\x1fZKS\x1f" "1"
#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)

static const char *tmp_root;

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    return remove(path);
}

static const char *store_spec(apr_pool_t *pool, const char *name)
{
    return apr_pstrcat(pool, "lmdb:", tmp_root, "/", name, NULL);
}

static store_t *open_store(apr_pool_t *pool, const char *name,
                           apr_size_t map_size, int read_only)
{
    store_options_t options = { map_size, 0, read_only };
    const char *error = NULL;
    store_t *store;

    store = store_open(store_spec(pool, name), &options, pool, &error);
    if (store == NULL) {
        tap_diag("store_open %s: %s", name, error ? error : "(no error)");
    }
    return store;
}

typedef struct {
    const char *ref;
    const char *zaak;
    const char *datum;          /* datumStatusGezet */
    const char *bsn;
    const char *einddatum;
    const char *omschrijving;
    const char *statustype;
    unsigned char digest_seed;
    int rejected;               /* content failed its checks */
    apr_size_t payload_len;
} spec_t;

/* A store_message_t as the handler would build it for spec. */
static store_message_t *make_message(apr_pool_t *pool, const spec_t *spec)
{
    store_message_t *m = apr_pcalloc(pool, sizeof(*m));
    lz_kennisgeving_t *k = apr_pcalloc(pool, sizeof(*k));
    store_outbox_entry_t *o = apr_pcalloc(pool, sizeof(*o));
    apr_size_t payload_len = spec->payload_len ? spec->payload_len : 40;
    char *payload = apr_palloc(pool, payload_len);
    apr_size_t i;

    k->mutatiesoort = "T";
    k->object_count = 1;
    k->verwerkingssoort = "T";
    k->identificatie = spec->zaak;
    k->omschrijving = spec->omschrijving ? spec->omschrijving : "Vergunning";
    k->toelichting = "";
    k->startdatum = "20240101";
    k->einddatum_gepland = NULL;
    k->einddatum = spec->einddatum;
    k->status_count = 1;
    k->datum_status_gezet = spec->datum;
    k->status_omschrijving = spec->statustype ? spec->statustype
                                              : "Ontvangen";
    k->status_toelichting = NULL;
    k->verwijzing = "https://example.org/zaak";
    k->initiator_count = 1;
    k->bsn = spec->bsn;

    for (i = 0; i < payload_len; i++) {
        payload[i] = (char)('a' + i % 26);
    }
    o->destination = "stuf-soap:https://zks.example.org/lz";
    o->kind = spec->rejected ? "Fo01" : "Bv01";
    o->partner = "00000001234567890000";
    o->reference = apr_pstrcat(pool, "LZ-", spec->ref, NULL);
    o->payload = payload;
    o->payload_len = payload_len;
    o->expires = T0 + apr_time_from_sec(86400);

    m->zender_key = ZENDER;
    m->referentienummer = spec->ref;
    memset(m->digest, spec->digest_seed, sizeof(m->digest));
    m->zender_oin = "00000001234567890000";
    m->received = T0;
    m->kennisgeving = spec->rejected ? NULL : k;
    m->receipt_answer = apr_pstrcat(pool, "<Bv03 ref=\"", spec->ref,
                                    "\"/>", NULL);
    m->receipt_answer_len = strlen(m->receipt_answer);
    m->outbox = o;
    m->outbox_count = 1;
    m->ebms_requeue = -1;
    return m;
}

static store_result_t apply(store_t *store, apr_pool_t *pool,
                            const spec_t *spec)
{
    store_result_t result;

    store_apply(store, make_message(pool, spec), pool, &result);
    return result;
}

static store_stats_t stats_of(store_t *store)
{
    store_stats_t stats;

    if (store_get_stats(store, &stats)) {
        tap_diag("store_get_stats failed");
    }
    return stats;
}

static int postbus_has(store_t *store, apr_pool_t *pool, const char *bsn,
                       const char *zaak)
{
    apr_array_header_t *list;
    int i;

    if (store_list_postbus(store, bsn, pool, &list) != 0) {
        return 0;
    }
    for (i = 0; i < list->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(list, i, const char *), zaak) == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_open(apr_pool_t *pool)
{
    const char *error = NULL;
    store_options_t read_only = { 0, 0, 1 };
    store_t *store;
    const char **files;

    store = store_open("nope:/tmp/x", NULL, pool, &error);
    tap_ok(store == NULL && error && strstr(error, "nope"),
           "unknown store kind is refused by name");
    error = NULL;
    store = store_open("lmdb", NULL, pool, &error);
    tap_ok(store == NULL && error, "spec without ':' is refused");
    error = NULL;
    store = store_open(store_spec(pool, "absent"), &read_only, pool, &error);
    tap_ok(store == NULL && error,
           "read-only open of a missing store fails instead of creating");

    store = open_store(pool, "new/deeper", 0, 0);
    tap_ok(store != NULL, "open creates the missing directory");
    if (store == NULL) {
        return;
    }
    tap_is(store_kind(store), "lmdb", "kind is lmdb");
    files = store_files(store, pool);
    tap_ok(files[0] && files[1] && files[2] && files[3] == NULL
           && strstr(files[1], "data.mdb") && strstr(files[2], "lock.mdb"),
           "store_files names the directory, data.mdb and lock.mdb");
    tap_is_int(stats_of(store).map_size, 1 << 30, "default map is 1 GiB");
    tap_is_int(store_check_readers(store), 0, "no stale readers at start");
    store_close(store);
}

static void test_first_message(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ref-1", "0363A", "202401011000", BSN_A, NULL, NULL,
                    NULL, 1, 0, 0 };
    store_result_t r = apply(store, pool, &spec);
    apr_array_header_t *statuses, *outbox;
    store_status_t *status;
    store_outbox_t *entry;
    store_zaak_t zaak;

    tap_is_int(r.outcome, STORE_APPLIED, "new message is applied");
    tap_ok(r.zaak_created && r.status_created && !r.zaak_updated
           && !r.postbus_moved, "new zaak: created with its status");

    tap_is_int(store_get_zaak(store, "0363A", pool, &zaak, &statuses), 0,
               "zaak is found");
    tap_is(zaak.omschrijving, "Vergunning", "zaak omschrijving stored");
    tap_is(zaak.toelichting, "", "empty toelichting stays empty");
    tap_ok(zaak.einddatum_gepland == NULL, "absent field stays NULL");
    tap_is(zaak.status_key, "20240101100000000", "status key padded to 17");
    tap_is(zaak.statustype, "Ontvangen", "statustype stored");
    tap_is(zaak.bsn, BSN_A, "initiator stored");
    tap_is(zaak.zender_oin, "00000001234567890000", "zender OIN stored");
    tap_ok(!zaak.closed && zaak.created == T0 && zaak.updated == T0,
           "zaak open, created and updated at receipt");
    tap_is_int(statuses->nelts, 1, "one status");
    status = &APR_ARRAY_IDX(statuses, 0, store_status_t);
    tap_is(status->datum_status_gezet, "202401011000",
           "datumStatusGezet kept as sent");
    tap_is(status->referentienummer, "ref-1", "status names its message");
    tap_ok(status->toelichting == NULL && !status->eindstatus,
           "status toelichting NULL, not an eindstatus");
    tap_is(status->verwijzing, "https://example.org/zaak", "verwijzing");
    tap_ok(postbus_has(store, pool, BSN_A, "0363A"), "zaak in the postbus");

    tap_is_int(store_list_outbox(store, pool, &outbox), 0, "outbox listed");
    tap_is_int(outbox->nelts, 1, "one outbox entry");
    entry = &APR_ARRAY_IDX(outbox, 0, store_outbox_t);
    tap_ok(entry->sequence == 1 && strcmp(entry->state, "queued") == 0
           && entry->attempts == 0 && entry->created == T0
           && entry->next_try == T0 && entry->last_error == NULL
           && entry->expires == T0 + apr_time_from_sec(86400),
           "outbox entry queued, 0 attempts, next try at creation");
    tap_ok(entry->payload_len == 40
           && memcmp(entry->payload, "abcdefghij", 10) == 0,
           "outbox payload stored");
    tap_is(entry->kind, "Bv01", "outbox kind");
    tap_is(entry->reference, "LZ-ref-1", "outbox reference");
}

static void test_idempotency(store_t *store, apr_pool_t *pool)
{
    spec_t same = { "ref-1", "0363A", "202401011000", BSN_A, NULL, NULL,
                    NULL, 1, 0, 0 };
    spec_t other = { "ref-1", "0363A", "202401021000", BSN_B, NULL,
                     "Iets anders", NULL, 2, 0, 0 };
    store_stats_t before = stats_of(store), after;
    apr_array_header_t *statuses;
    store_result_t r;
    store_zaak_t zaak;

    r = apply(store, pool, &same);
    tap_is_int(r.outcome, STORE_REPLAY, "same message again is a replay");
    tap_ok(r.receipt_answer
           && r.receipt_answer_len == strlen("<Bv03 ref=\"ref-1\"/>")
           && memcmp(r.receipt_answer, "<Bv03 ref=\"ref-1\"/>",
                     r.receipt_answer_len) == 0,
           "replay returns the stored receipt answer");

    r = apply(store, pool, &other);
    tap_is_int(r.outcome, STORE_CONFLICT,
               "same referentienummer, other content is a conflict");

    after = stats_of(store);
    tap_ok(after.zaken == before.zaken && after.statuses == before.statuses
           && after.stufrefs == before.stufrefs
           && after.outbox_entries == before.outbox_entries
           && after.postbus_entries == before.postbus_entries,
           "replay and conflict change no zaak, status, ref or outbox");
    tap_ok(after.messages_applied == before.messages_applied
           && after.messages_replayed == before.messages_replayed + 1
           && after.messages_conflicting
              == before.messages_conflicting + 1,
           "replay and conflict are counted");
    store_get_zaak(store, "0363A", pool, &zaak, &statuses);
    tap_ok(strcmp(zaak.omschrijving, "Vergunning") == 0
           && strcmp(zaak.bsn, BSN_A) == 0 && statuses->nelts == 1,
           "conflicting content did not reach the zaak");
    tap_ok(!postbus_has(store, pool, BSN_B, "0363A"),
           "conflicting content did not reach the postbus");
}

static void test_same_status_two_refs(store_t *store, apr_pool_t *pool)
{
    spec_t first = { "ref-s1", "0363S", "20240301090000", BSN_A, NULL, NULL,
                     NULL, 3, 0, 0 };
    spec_t second = { "ref-s2", "0363S", "20240301090000", BSN_A, NULL,
                      NULL, NULL, 4, 0, 0 };
    apr_array_header_t *statuses;
    store_result_t r;
    store_zaak_t zaak;

    apply(store, pool, &first);
    r = apply(store, pool, &second);
    tap_is_int(r.outcome, STORE_APPLIED,
               "known status under a new referentienummer is applied");
    tap_ok(!r.zaak_created && !r.status_created,
           "known status: no new zaak, no new status");
    store_get_zaak(store, "0363S", pool, &zaak, &statuses);
    tap_is_int(statuses->nelts, 1, "two refs with one status: 1 status");
    tap_is(APR_ARRAY_IDX(statuses, 0, store_status_t).referentienummer,
           "ref-s1", "the status keeps the message that brought it first");
}

static void test_out_of_order(store_t *store, apr_pool_t *pool)
{
    spec_t newer = { "ref-o2", "0363O", "202401051200", BSN_A, NULL,
                     "Nieuwste", "In behandeling", 5, 0, 0 };
    spec_t older = { "ref-o1", "0363O", "202401021200", BSN_A, NULL,
                     "Oudste", "Ontvangen", 6, 0, 0 };
    apr_array_header_t *statuses;
    store_result_t r;
    store_zaak_t zaak;

    apply(store, pool, &newer);
    r = apply(store, pool, &older);
    tap_is_int(r.outcome, STORE_APPLIED, "older status is applied");
    tap_ok(r.status_created && !r.zaak_updated,
           "older status stored without updating the zaak");
    store_get_zaak(store, "0363O", pool, &zaak, &statuses);
    tap_is(zaak.status_key, "20240105120000000",
           "current status stays the newer one");
    tap_is(zaak.statustype, "In behandeling", "statustype of the newer");
    tap_is(zaak.omschrijving, "Nieuwste", "fields of the newer message");
    tap_is_int(statuses->nelts, 2, "both statuses are stored");
    tap_ok(statuses->nelts == 2
           && strcmp(APR_ARRAY_IDX(statuses, 0, store_status_t).status_key,
                     "20240102120000000") == 0
           && strcmp(APR_ARRAY_IDX(statuses, 1, store_status_t).statustype,
                     "In behandeling") == 0,
           "statuses come in time order");
}

static void test_eindstatus(store_t *store, apr_pool_t *pool)
{
    spec_t open = { "ref-e1", "0363E", "202402011000", BSN_A, NULL, NULL,
                    NULL, 7, 0, 0 };
    spec_t end = { "ref-e2", "0363E", "202402151000", BSN_A, "20240215",
                   NULL, "Afgehandeld", 8, 0, 0 };
    apr_array_header_t *statuses;
    store_result_t r;
    store_zaak_t zaak;

    apply(store, pool, &open);
    r = apply(store, pool, &end);
    tap_ok(r.outcome == STORE_APPLIED && r.zaak_updated,
           "status with einddatum updates the zaak");
    store_get_zaak(store, "0363E", pool, &zaak, &statuses);
    tap_ok(zaak.closed, "einddatum closes the zaak");
    tap_is(zaak.einddatum, "20240215", "einddatum stored on the zaak");
    tap_ok(statuses->nelts == 2
           && !APR_ARRAY_IDX(statuses, 0, store_status_t).eindstatus
           && APR_ARRAY_IDX(statuses, 1, store_status_t).eindstatus,
           "only the last status is the eindstatus");
}

static void test_postbus_moves(store_t *store, apr_pool_t *pool)
{
    spec_t first = { "ref-p1", "0363P", "202403011000", BSN_A, NULL, NULL,
                     NULL, 9, 0, 0 };
    spec_t newer = { "ref-p2", "0363P", "202403021000", BSN_B, NULL, NULL,
                     NULL, 10, 0, 0 };
    spec_t older = { "ref-p0", "0363P", "202402281000", BSN_C, NULL, NULL,
                     NULL, 11, 0, 0 };
    store_result_t r;
    store_zaak_t zaak;

    apply(store, pool, &first);
    r = apply(store, pool, &newer);
    tap_ok(r.outcome == STORE_APPLIED && r.postbus_moved,
           "newer message with another BSN moves the postbus");
    tap_ok(!postbus_has(store, pool, BSN_A, "0363P"),
           "old postbus entry is gone");
    tap_ok(postbus_has(store, pool, BSN_B, "0363P"),
           "new postbus entry is present");
    tap_ok(postbus_has(store, pool, BSN_A, "0363A"),
           "other zaken of the old BSN stay");

    r = apply(store, pool, &older);
    tap_ok(r.outcome == STORE_APPLIED && !r.postbus_moved,
           "older message with another BSN does not move the postbus");
    tap_ok(!postbus_has(store, pool, BSN_C, "0363P")
           && postbus_has(store, pool, BSN_B, "0363P"),
           "postbus unchanged by the older message");
    store_get_zaak(store, "0363P", pool, &zaak, NULL);
    tap_is(zaak.bsn, BSN_B, "zaak keeps the newer initiator");
}

static void test_rejected_content(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ref-r1", "0363R", "202401011000", BSN_C, NULL, NULL,
                    NULL, 12, 1, 0 };
    store_stats_t before = stats_of(store), after;
    apr_array_header_t *outbox;
    store_result_t r;
    store_zaak_t zaak;

    r = apply(store, pool, &spec);
    after = stats_of(store);
    tap_ok(r.outcome == STORE_APPLIED && !r.zaak_created
           && !r.status_created, "rejected content: answers are applied");
    tap_ok(after.zaken == before.zaken && after.statuses == before.statuses
           && after.postbus_entries == before.postbus_entries,
           "rejected content stores no zaak, status or postbus");
    tap_ok(after.stufrefs == before.stufrefs + 1
           && after.outbox_entries == before.outbox_entries + 1,
           "rejected content stores its ref and its Fo01");
    tap_is_int(store_get_zaak(store, "0363R", pool, &zaak, NULL), 1,
               "the rejected zaak is unknown");
    store_list_outbox(store, pool, &outbox);
    tap_is(APR_ARRAY_IDX(outbox, outbox->nelts - 1, store_outbox_t).kind,
           "Fo01", "the last outbox entry is the Fo01");
    r = apply(store, pool, &spec);
    tap_is_int(r.outcome, STORE_REPLAY, "rejected message resent: replay");
}

static void test_bad_input(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ref-b1", "0363B", "2024", BSN_A, NULL, NULL, NULL, 13,
                    0, 0 };
    store_message_t *m = make_message(pool, &spec);
    store_result_t r;

    store_apply(store, m, pool, &r);
    tap_ok(r.outcome == STORE_FAILED && r.error
           && strstr(r.error, BSN_A) == NULL,
           "unusable datumStatusGezet fails without naming the BSN");
    m->referentienummer = NULL;
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_FAILED, "message without ref fails");
}

/* A record written by someone else that does not decode must fail the
 * read and the write, not crash or be overwritten. */
static void test_corrupt_record(apr_pool_t *pool)
{
    const char *dir = apr_pstrcat(pool, tmp_root, "/corrupt", NULL);
    spec_t spec = { "ref-c1", "0363C", "202401011000", BSN_A, NULL, NULL,
                    NULL, 14, 0, 0 };
    MDB_val key = { 5, "0363C" }, val = { 7, "\x01Zgarb" };
    store_zaak_t zaak;
    store_result_t r;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    store_t *store;

    store = open_store(pool, "corrupt", 0, 0);
    store_close(store);
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 16);
    mdb_env_open(env, dir, 0, 0660);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, "zaak", 0, &dbi);
    mdb_put(txn, dbi, &key, &val, 0);
    tap_is_int(mdb_txn_commit(txn), 0, "corrupt zaak record planted");
    mdb_env_close(env);

    store = open_store(pool, "corrupt", 0, 0);
    tap_is_int(store_get_zaak(store, "0363C", pool, &zaak, NULL), -1,
               "corrupt zaak record reads as an error");
    r = apply(store, pool, &spec);
    tap_ok(r.outcome == STORE_FAILED && r.error
           && strstr(r.error, "unreadable"),
           "message for a corrupt zaak fails");
    tap_is_int(stats_of(store).stufrefs, 0,
               "failed message left no ref behind");
    store_close(store);
}

static void test_map_full(apr_pool_t *pool)
{
    spec_t small = { "ref-f1", "0363F", "202401011000", BSN_A, NULL, NULL,
                     NULL, 15, 0, 0 };
    spec_t big = { "ref-f2", "0363G", "202401011000", BSN_B, NULL, NULL,
                   NULL, 16, 0, 1024 * 1024 };
    apr_array_header_t *statuses;
    store_result_t r;
    store_stats_t stats;
    store_zaak_t zaak;
    store_t *store;

    store = open_store(pool, "full", 256 * 1024, 0);
    if (!tap_ok(store != NULL, "store with a 256 KiB map opens")) {
        return;
    }
    r = apply(store, pool, &small);
    tap_is_int(r.outcome, STORE_APPLIED, "small message fits");

    r = apply(store, pool, &big);
    tap_is_int(r.outcome, STORE_FULL, "message too big for the map: FULL");
    tap_ok(r.error && strstr(r.error, BSN_B) == NULL
           && !r.zaak_created && !r.status_created,
           "FULL has a reason without the BSN and reports no change");

    stats = stats_of(store);
    tap_ok(stats.zaken == 1 && stats.statuses == 1 && stats.stufrefs == 1
           && stats.outbox_entries == 1 && stats.postbus_entries == 1
           && stats.messages_applied == 1,
           "nothing of the refused message is stored");
    tap_is_int(store_get_zaak(store, "0363G", pool, &zaak, NULL), 1,
               "the refused message's zaak is unknown");
    tap_ok(!postbus_has(store, pool, BSN_B, "0363G"),
           "the refused message's postbus entry is absent");
    tap_is_int(store_get_zaak(store, "0363F", pool, &zaak, &statuses), 0,
               "earlier zaak still readable after FULL");
    store_close(store);

    store = open_store(pool, "full", 256 * 1024, 0);
    big.payload_len = 0;
    r = apply(store, pool, &big);
    tap_is_int(r.outcome, STORE_APPLIED,
               "after reopen the refused ref is new and a small one fits");
    store_close(store);
}

static void test_reopen(store_t **store, apr_pool_t *pool)
{
    store_stats_t before = stats_of(*store), after;
    apr_array_header_t *statuses, *outbox;
    store_options_t read_only = { 0, 0, 1 };
    const char *error;
    store_t *ro;
    store_zaak_t zaak;
    store_result_t r;
    spec_t spec = { "ref-ro", "0363A", "202501011000", BSN_A, NULL, NULL,
                    NULL, 17, 0, 0 };

    store_close(*store);
    *store = open_store(pool, "main", 0, 0);
    if (!tap_ok(*store != NULL, "store reopens")) {
        return;
    }
    after = stats_of(*store);
    tap_ok(memcmp(&before, &after, sizeof(before)) == 0,
           "reopened store has every entry and counter");
    tap_ok(store_get_zaak(*store, "0363O", pool, &zaak, &statuses) == 0
           && statuses->nelts == 2
           && strcmp(zaak.status_key, "20240105120000000") == 0,
           "reopened store has the zaak with its statuses");
    r = apply(*store, pool, &(spec_t){ "ref-1", "0363A", "202401011000",
                                       BSN_A, NULL, NULL, NULL, 1, 0, 0 });
    tap_is_int(r.outcome, STORE_REPLAY, "reopened store still knows refs");

    ro = store_open(store_spec(pool, "main"), &read_only, pool, &error);
    if (!tap_ok(ro != NULL, "read-only open of an existing store")) {
        return;
    }
    tap_ok(store_get_zaak(ro, "0363E", pool, &zaak, NULL) == 0
           && zaak.closed, "read-only store reads zaken");
    tap_ok(store_list_outbox(ro, pool, &outbox) == 0
           && (apr_size_t)outbox->nelts == after.outbox_entries,
           "read-only store lists the outbox");
    r = apply(ro, pool, &spec);
    tap_is_int(r.outcome, STORE_FAILED, "read-only store refuses writes");
    store_close(ro);
}

/* ---- the ebMS binding ------------------------------------------------- */

#define CPA "cpa-lz-0001"
#define ACK_PAYLOAD "<eb:Acknowledgment/>"
#define ACK_TYPE "text/xml; charset=UTF-8"
#define BV01_TYPE "multipart/related; type=\"text/xml\""
#define HOUR apr_time_from_sec(3600)

/* A StUF kennisgeving as the ebMS handler would store it under
 * message_id: the Bv01 goes out as an ebMS message of our own; with
 * async the Acknowledgment is queued first and re-queued for duplicates,
 * otherwise it is the synchronous response kept for them. */
static store_message_t *make_ebms(apr_pool_t *pool, const spec_t *spec,
                                  const char *message_id,
                                  unsigned char ebms_seed, int async)
{
    store_message_t *m = make_message(pool, spec);
    store_outbox_entry_t *entries = apr_pcalloc(pool, 2 * sizeof(*entries));

    entries[0].destination = "ebms:" CPA;
    entries[0].kind = "Acknowledgment";
    entries[0].partner = "00000001234567890000";
    entries[0].reference = apr_pstrcat(pool, "ack-", message_id, NULL);
    entries[0].payload = ACK_PAYLOAD;
    entries[0].payload_len = strlen(ACK_PAYLOAD);
    entries[0].expires = m->received + HOUR;
    entries[0].ebms_cpaid = CPA;
    entries[0].ebms_message_id = entries[0].reference;
    entries[0].content_type = ACK_TYPE;

    entries[1] = m->outbox[0];
    entries[1].destination = "ebms:" CPA;
    entries[1].expires = 0;
    entries[1].ebms_cpaid = CPA;
    entries[1].ebms_message_id = apr_pstrcat(pool, "bv01-", message_id,
                                             NULL);
    entries[1].content_type = BV01_TYPE;

    m->receipt_answer = NULL;
    m->receipt_answer_len = 0;
    m->ebms_cpaid = CPA;
    m->ebms_message_id = message_id;
    memset(m->ebms_digest, ebms_seed, sizeof(m->ebms_digest));
    m->ebms_keep_until = m->received + apr_time_from_sec(5 * 86400);
    if (async) {
        m->outbox = entries;
        m->outbox_count = 2;
        m->ebms_requeue = 0;
    }
    else {
        m->outbox = entries + 1;
        m->outbox_count = 1;
        m->ebms_requeue = -1;
        m->ebms_response = apr_pstrcat(pool, "<eb:Acknowledgment ref=\"",
                                       message_id, "\"/>", NULL);
        m->ebms_response_len = strlen(m->ebms_response);
    }
    return m;
}

/* Every entry count and every counter but ebms_duplicates is equal. */
static int same_contents(const store_stats_t *a, const store_stats_t *b)
{
    return a->zaken == b->zaken && a->statuses == b->statuses
           && a->postbus_entries == b->postbus_entries
           && a->stufrefs == b->stufrefs
           && a->outbox_entries == b->outbox_entries
           && a->ebms_messages == b->ebms_messages
           && a->messages_applied == b->messages_applied
           && a->messages_replayed == b->messages_replayed
           && a->messages_conflicting == b->messages_conflicting;
}

static int bytes_are(const char *got, apr_size_t got_len,
                     const char *expected)
{
    return got && got_len == strlen(expected)
           && memcmp(got, expected, got_len) == 0;
}

static store_outbox_t last_outbox(store_t *store, apr_pool_t *pool)
{
    apr_array_header_t *outbox;
    store_outbox_t none = { 0 };

    if (store_list_outbox(store, pool, &outbox) != 0 || outbox->nelts == 0) {
        return none;
    }
    return APR_ARRAY_IDX(outbox, outbox->nelts - 1, store_outbox_t);
}

static void test_ebms_sync_duplicate(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ebms-ref-1", "0363EB1", "202404011000", BSN_A, NULL,
                    NULL, NULL, 40, 0, 0 };
    store_message_t *m = make_ebms(pool, &spec, "msg-1@zks", 1, 0);
    store_stats_t before, after;
    store_result_t r;
    store_zaak_t zaak;

    before = stats_of(store);
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_APPLIED, "new ebMS message is applied");
    tap_ok(r.zaak_created && !r.stuf_replayed,
           "new ebMS message creates its zaak");
    after = stats_of(store);
    tap_ok(after.stufrefs == before.stufrefs + 1
           && after.outbox_entries == before.outbox_entries + 1
           && after.ebms_messages == before.ebms_messages + 2,
           "ebMS message stores its ref, its Bv01, its MessageId and the "
           "Bv01's");

    m->received = T0 + HOUR;
    before = after;
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_EBMS_DUPLICATE,
               "same MessageId, same content: duplicate");
    tap_ok(bytes_are(r.receipt_answer, r.receipt_answer_len,
                     "<eb:Acknowledgment ref=\"msg-1@zks\"/>"),
           "duplicate gets the stored synchronous Acknowledgment");
    tap_ok(!r.zaak_created && !r.zaak_updated && !r.status_created,
           "duplicate reports no change");
    after = stats_of(store);
    tap_ok(same_contents(&before, &after),
           "duplicate changes no entry and no other counter");
    tap_is_int(after.ebms_duplicates, before.ebms_duplicates + 1,
               "duplicate is counted");
    store_get_zaak(store, "0363EB1", pool, &zaak, NULL);
    tap_ok(zaak.updated == T0, "duplicate does not touch the zaak");

    /* A MessageError answered without a stored body still counts as a
     * duplicate, with no answer to give. */
    m = make_ebms(pool, &(spec_t){ "ebms-ref-2", "0363EB2", "202404011000",
                                   BSN_A, NULL, NULL, NULL, 41, 0, 0 },
                  "msg-2@zks", 2, 0);
    m->ebms_response = NULL;
    m->ebms_response_len = 0;
    store_apply(store, m, pool, &r);
    store_apply(store, m, pool, &r);
    tap_ok(r.outcome == STORE_EBMS_DUPLICATE && r.receipt_answer == NULL
           && r.receipt_answer_len == 0,
           "duplicate of a message without a stored response: no answer");
}

static void test_ebms_async_duplicate(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ebms-ref-3", "0363EB3", "202404011000", BSN_A, NULL,
                    NULL, NULL, 42, 0, 0 };
    store_message_t *m = make_ebms(pool, &spec, "msg-3@zks", 3, 1);
    store_stats_t before, after;
    apr_array_header_t *outbox;
    store_outbox_t first_ack, again;
    store_result_t r;
    int count;

    before = stats_of(store);
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_APPLIED, "asynchronous ebMS message applied");
    store_list_outbox(store, pool, &outbox);
    count = outbox->nelts;
    tap_ok(count >= 2
           && strcmp(APR_ARRAY_IDX(outbox, count - 2, store_outbox_t).kind,
                     "Acknowledgment") == 0
           && strcmp(APR_ARRAY_IDX(outbox, count - 1, store_outbox_t).kind,
                     "Bv01") == 0,
           "outbox entries are queued in the order given");
    first_ack = APR_ARRAY_IDX(outbox, count - 2, store_outbox_t);
    tap_is(first_ack.content_type, ACK_TYPE, "outbox keeps content_type");

    m->received = T0 + 2 * HOUR;
    before = stats_of(store);
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_EBMS_DUPLICATE,
               "asynchronous duplicate is a duplicate");
    tap_ok(r.receipt_answer == NULL, "no synchronous answer to give");
    after = stats_of(store);
    tap_is_int(after.outbox_entries, before.outbox_entries + 1,
               "duplicate queues exactly one entry");
    tap_ok(after.zaken == before.zaken && after.stufrefs == before.stufrefs
           && after.ebms_messages == before.ebms_messages
           && after.messages_applied == before.messages_applied,
           "duplicate stores nothing else");
    again = last_outbox(store, pool);
    tap_ok(again.destination && strcmp(again.destination, "ebms:" CPA) == 0
           && strcmp(again.kind, "Acknowledgment") == 0
           && strcmp(again.partner, first_ack.partner) == 0
           && strcmp(again.reference, "ack-msg-3@zks") == 0
           && strcmp(again.content_type, ACK_TYPE) == 0
           && bytes_are(again.payload, again.payload_len, ACK_PAYLOAD),
           "the re-queued entry is the Acknowledgment queued first");
    tap_ok(again.sequence > first_ack.sequence
           && strcmp(again.state, "queued") == 0 && again.attempts == 0
           && again.created == T0 + 2 * HOUR
           && again.expires == T0 + 3 * HOUR,
           "re-queued entry is new, with a fresh expiry of the same length");
}

static void test_ebms_conflict(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ebms-ref-4", "0363EB4", "202404011000", BSN_A, NULL,
                    NULL, NULL, 43, 0, 0 };
    spec_t other = { "ebms-ref-5", "0363EB5", "202404011000", BSN_B, NULL,
                     NULL, NULL, 44, 0, 0 };
    store_message_t *m = make_ebms(pool, &spec, "msg-4@zks", 4, 0);
    store_outbox_entry_t entry;
    store_stats_t before, after;
    store_result_t r;
    store_zaak_t zaak;

    store_apply(store, m, pool, &r);
    before = stats_of(store);

    m = make_ebms(pool, &other, "msg-4@zks", 5, 1);
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_EBMS_CONFLICT,
               "same MessageId, other content: ebMS conflict");
    after = stats_of(store);
    tap_ok(same_contents(&before, &after)
           && after.ebms_duplicates == before.ebms_duplicates,
           "ebMS conflict changes nothing");
    tap_is_int(store_get_zaak(store, "0363EB5", pool, &zaak, NULL), 1,
               "the conflicting message's zaak is unknown");

    /* The partner sending under a MessageId we used for our Bv01. */
    m = make_ebms(pool, &other, "bv01-msg-4@zks", 4, 0);
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_EBMS_CONFLICT,
               "a MessageId we sent, received from the partner: conflict");
    after = stats_of(store);
    tap_ok(same_contents(&before, &after), "and nothing changed");

    /* Our Bv01 reusing a MessageId we sent before: a bug of ours, which
     * must not overwrite the first record. */
    m = make_ebms(pool, &other, "msg-4@zks", 4, 0);
    m->ebms_cpaid = "cpa-other";
    store_apply(store, m, pool, &r);
    tap_ok(r.outcome == STORE_FAILED && r.error
           && strstr(r.error, "ebms sent put"),
           "an outgoing MessageId already recorded fails the message");
    after = stats_of(store);
    tap_ok(same_contents(&before, &after), "and nothing changed");

    entry = m->outbox[0];
    entry.ebms_cpaid = "cpa-other";
    m->outbox = &entry;
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_APPLIED,
               "the same MessageId under another CPA is another message");
}

static void test_ebms_stuf_replayed(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ebms-ref-6", "0363EB6", "202404011000", BSN_A, NULL,
                    NULL, NULL, 46, 0, 0 };
    store_message_t *m = make_ebms(pool, &spec, "msg-6@zks", 6, 1);
    store_stats_t before, after;
    apr_array_header_t *statuses;
    store_ebms_t record;
    store_result_t r;
    store_zaak_t zaak;

    store_apply(store, m, pool, &r);
    before = stats_of(store);

    /* The zender resends the StUF message in a new ebMS message. */
    m = make_ebms(pool, &spec, "msg-6b@zks", 7, 1);
    m->received = T0 + HOUR;
    ((lz_kennisgeving_t *)m->kennisgeving)->omschrijving = "Niet gezien";
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_APPLIED,
               "known StUF message under a new MessageId is applied");
    tap_ok(r.stuf_replayed && !r.zaak_created && !r.zaak_updated
           && !r.status_created, "and reported as a StUF replay");
    store_get_zaak(store, "0363EB6", pool, &zaak, &statuses);
    tap_ok(zaak.updated == T0 && strcmp(zaak.omschrijving, "Vergunning") == 0
           && statuses->nelts == 1, "the zaak is not touched");
    tap_ok(store_get_ebms(store, CPA, "msg-6b@zks", pool, &record) == 0
           && strcmp(record.state, "received") == 0,
           "the new MessageId is recorded");
    tap_ok(store_get_ebms(store, CPA, "bv01-msg-6b@zks", pool, &record) == 0
           && strcmp(record.state, "sent") == 0,
           "the new MessageId's Bv01 is recorded as sent");
    after = stats_of(store);
    tap_ok(after.outbox_entries == before.outbox_entries + 2
           && after.ebms_messages == before.ebms_messages + 3
           && after.stufrefs == before.stufrefs,
           "its outbox entries are queued; no second ref");
    tap_ok(after.messages_applied == before.messages_applied + 1
           && after.messages_replayed == before.messages_replayed + 1,
           "counted as applied and as a StUF replay");

    m = make_ebms(pool, &spec, "msg-6c@zks", 8, 1);
    memset(m->digest, 99, sizeof(m->digest));
    before = after;
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_CONFLICT,
               "known referentienummer, other StUF content: StUF conflict");
    after = stats_of(store);
    tap_ok(after.outbox_entries == before.outbox_entries
           && after.ebms_messages == before.ebms_messages
           && store_get_ebms(store, CPA, "msg-6c@zks", pool, &record) == 1,
           "StUF conflict keeps neither the MessageId nor the outbox");

    /* Without ebMS the same resend is a plain replay, as before. */
    m = make_message(pool, &spec);
    memset(m->digest, 46, sizeof(m->digest));
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_REPLAY,
               "the SOAP binding still answers a resend with REPLAY");
}

static void test_ebms_stufref_none(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ebms-ref-7", "0363EB7", "202404011000", BSN_A, NULL,
                    NULL, NULL, 47, 1, 0 };
    store_message_t *m = make_ebms(pool, &spec, "msg-7@zks", 9, 0);
    store_stats_t before = stats_of(store), after;
    store_result_t r;

    m->stufref_none = 1;
    m->zender_key = NULL;
    m->referentienummer = NULL;
    m->outbox = apr_pmemdup(pool, m->outbox, sizeof(*m->outbox));
    ((store_outbox_entry_t *)m->outbox)->kind = "Fo03";
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_APPLIED,
               "ebMS message without StUF identity is applied");
    after = stats_of(store);
    tap_ok(after.stufrefs == before.stufrefs
           && after.outbox_entries == before.outbox_entries + 1
           && after.ebms_messages == before.ebms_messages + 2,
           "stufref_none stores no ref but its Fo03 and MessageIds");
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_EBMS_DUPLICATE,
               "its resend is an ebMS duplicate");

    m = make_ebms(pool, &spec, "msg-7b@zks", 10, 0);
    m->zender_key = NULL;
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_FAILED,
               "without stufref_none a zender is still required");
}

static void test_ebms_records(store_t *store, apr_pool_t *pool)
{
    store_ebms_t record;

    tap_ok(store_get_ebms(store, CPA, "msg-3@zks", pool, &record) == 0
           && strcmp(record.state, "received") == 0
           && record.recorded == T0
           && record.keep_until == T0 + apr_time_from_sec(5 * 86400),
           "received MessageId: state, recorded and keep_until");
    tap_ok(store_get_ebms(store, CPA, "ack-msg-3@zks", pool, &record) == 0
           && strcmp(record.state, "sent") == 0
           && record.keep_until == T0 + HOUR,
           "sent Acknowledgment is kept until the entry expires");
    tap_ok(store_get_ebms(store, CPA, "bv01-msg-3@zks", pool, &record) == 0
           && strcmp(record.state, "sent") == 0
           && record.keep_until == T0 + apr_time_from_sec(30 * 86400),
           "sent entry without expiry is kept for 30 days");
    tap_is_int(store_get_ebms(store, CPA, "never@zks", pool, &record), 1,
               "unknown MessageId is not found");
    tap_is_int(store_get_ebms(store, "cpa-other", "ack-msg-3@zks", pool,
                              &record), 1,
               "a MessageId is found only under its own CPA");
    tap_is_int(store_get_ebms(store, CPA, NULL, pool, &record), -1,
               "no MessageId is an error");
}

static void test_check_stufref(store_t *store, apr_pool_t *pool)
{
    unsigned char digest[STORE_DIGEST_LEN];

    memset(digest, 40, sizeof(digest));
    tap_is_int(store_check_stufref(store, ZENDER, "ebms-ref-1", digest), 1,
               "check_stufref: known with this digest");
    digest[0] = 0;
    tap_is_int(store_check_stufref(store, ZENDER, "ebms-ref-1", digest), 2,
               "check_stufref: known with another digest");
    tap_is_int(store_check_stufref(store, ZENDER, "nope", digest), 0,
               "check_stufref: unknown");
    tap_is_int(store_check_stufref(store, "other\x1fZKS\x1f" "1",
                                   "ebms-ref-1", digest), 0,
               "check_stufref: another zender's ref is unknown");
    tap_is_int(store_check_stufref(store, ZENDER, NULL, digest), -1,
               "check_stufref: no referentienummer is an error");
}

static void test_ebms_refused(store_t *store, apr_pool_t *pool)
{
    spec_t spec = { "ebms-ref-8", "0363EB8", "202404011000", BSN_A, NULL,
                    NULL, NULL, 48, 0, 0 };
    store_message_t *m = make_ebms(pool, &spec, "msg-8@zks", 11, 1);
    store_stats_t before = stats_of(store), after;
    char *long_id = apr_palloc(pool, 2001);
    store_outbox_entry_t *entries;
    store_result_t r;

    memset(long_id, 'x', 2000);
    long_id[2000] = '\0';
    m->ebms_message_id = long_id;
    store_apply(store, m, pool, &r);
    tap_ok(r.outcome == STORE_FAILED && r.error
           && strstr(r.error, "MessageId"),
           "MessageId over LMDB's key size is refused");

    m = make_ebms(pool, &spec, "msg-8@zks", 11, 1);
    entries = apr_pmemdup(pool, m->outbox, 2 * sizeof(*entries));
    entries[1].ebms_message_id = long_id;
    m->outbox = entries;
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_FAILED,
               "outbox MessageId over LMDB's key size is refused");

    m = make_ebms(pool, &spec, "msg-8@zks", 11, 1);
    m->ebms_cpaid = NULL;
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_FAILED, "MessageId without CPAId fails");

    m = make_ebms(pool, &spec, "msg-8@zks", 11, 1);
    m->outbox = NULL;
    store_apply(store, m, pool, &r);
    tap_is_int(r.outcome, STORE_FAILED, "outbox count without outbox fails");

    after = stats_of(store);
    tap_ok(same_contents(&before, &after), "refused messages leave nothing");
}

/* A store written before the ebms db existed: the dbs of that version
 * with one old-style outbox record (no content_type) and one ref. */
static int create_old_store(apr_pool_t *pool, const char *name)
{
    static const char *const dbs[] = { "zaak", "status", "postbus",
                                       "stufref", "outbox", "meta" };
    const char *dir = apr_pstrcat(pool, tmp_root, "/", name, NULL);
    unsigned char digest[STORE_DIGEST_LEN], sequence[8] = { 0 };
    MDB_dbi dbi[6];
    MDB_env *env;
    MDB_txn *txn;
    MDB_val key, val;
    record_writer_t w;
    char *ref_key;
    int i, rc = 0;

    if (mkdir(dir, 0770) || mdb_env_create(&env)) {
        return -1;
    }
    mdb_env_set_maxdbs(env, 16);
    rc = mdb_env_open(env, dir, 0, 0660);
    if (rc == 0) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    }
    for (i = 0; i < 6 && rc == 0; i++) {
        rc = mdb_dbi_open(txn, dbs[i], MDB_CREATE | (i == 2 ? MDB_DUPSORT
                                                            : 0), &dbi[i]);
    }
    if (rc) {
        mdb_env_close(env);
        return -1;
    }

    record_writer_init(&w, pool, 'M');
    record_put_u64(&w, 1);
    key = (MDB_val){ 6, "format" };
    val = (MDB_val){ w.len, w.data };
    rc |= mdb_put(txn, dbi[5], &key, &val, 0);
    record_writer_init(&w, pool, 'M');
    record_put_u64(&w, 2);
    key = (MDB_val){ 11, "next_outbox" };
    val = (MDB_val){ w.len, w.data };
    rc |= mdb_put(txn, dbi[5], &key, &val, 0);

    record_writer_init(&w, pool, 'O');
    record_put_string(&w, "stuf-soap:");
    record_put_string(&w, "Bv01");
    record_put_string(&w, "00000001234567890000");
    record_put_string(&w, "LZ-old-1");
    record_put_string(&w, "queued");
    record_put_u64(&w, 0);
    record_put_u64(&w, (apr_uint64_t)T0);
    record_put_u64(&w, (apr_uint64_t)T0);
    record_put_u64(&w, 0);
    record_put_string(&w, NULL);
    record_put_bytes(&w, "<old/>", 6);
    sequence[7] = 1;
    key = (MDB_val){ 8, sequence };
    val = (MDB_val){ w.len, w.data };
    rc |= mdb_put(txn, dbi[4], &key, &val, 0);

    memset(digest, 0x55, sizeof(digest));
    record_writer_init(&w, pool, 'R');
    record_put_bytes(&w, digest, sizeof(digest));
    record_put_bytes(&w, "<Bv03/>", 7);
    record_put_u64(&w, (apr_uint64_t)T0);
    /* zender 0x00 referentienummer; the literal's NUL is the separator */
    ref_key = apr_palloc(pool, sizeof(ZENDER) + 5);
    memcpy(ref_key, ZENDER, sizeof(ZENDER));
    memcpy(ref_key + sizeof(ZENDER), "old-1", 5);
    key = (MDB_val){ sizeof(ZENDER) + 5, ref_key };
    val = (MDB_val){ w.len, w.data };
    rc |= mdb_put(txn, dbi[3], &key, &val, 0);

    rc |= mdb_txn_commit(txn);
    mdb_env_close(env);
    return rc ? -1 : 0;
}

static void test_old_store(apr_pool_t *pool)
{
    spec_t spec = { "ebms-ref-9", "0363EB9", "202404011000", BSN_A, NULL,
                    NULL, NULL, 49, 0, 0 };
    unsigned char digest[STORE_DIGEST_LEN];
    apr_array_header_t *outbox;
    store_ebms_t record;
    store_result_t r;
    store_t *store;

    if (!tap_ok(create_old_store(pool, "old") == 0,
                "a store of the previous version is made")) {
        return;
    }

    store = open_store(pool, "old", 0, 1);
    if (!tap_ok(store != NULL, "read-only open of a store without ebms")) {
        return;
    }
    tap_is_int(store_get_ebms(store, CPA, "msg-1", pool, &record), 1,
               "read-only: the missing ebms db reads as empty");
    tap_is_int(stats_of(store).ebms_messages, 0,
               "read-only: no ebMS entries counted");
    tap_ok(store_list_outbox(store, pool, &outbox) == 0 && outbox->nelts == 1
           && APR_ARRAY_IDX(outbox, 0, store_outbox_t).content_type == NULL
           && bytes_are(APR_ARRAY_IDX(outbox, 0, store_outbox_t).payload, 6,
                        "<old/>"),
           "old outbox record decodes, content_type NULL");
    store_close(store);

    store = open_store(pool, "old", 0, 0);
    if (!tap_ok(store != NULL, "writable open of a store without ebms")) {
        return;
    }
    memset(digest, 0x55, sizeof(digest));
    tap_is_int(store_check_stufref(store, ZENDER, "old-1", digest), 1,
               "the old store's ref is still known");
    store_apply(store, make_ebms(pool, &spec, "msg-9@zks", 12, 1), pool,
                &r);
    tap_is_int(r.outcome, STORE_APPLIED,
               "ebMS message applied to the old store");
    tap_ok(store_get_ebms(store, CPA, "msg-9@zks", pool, &record) == 0,
           "its MessageId is recorded in the new ebms db");
    tap_ok(store_list_outbox(store, pool, &outbox) == 0 && outbox->nelts == 3
           && APR_ARRAY_IDX(outbox, 0, store_outbox_t).content_type == NULL
           && APR_ARRAY_IDX(outbox, 1, store_outbox_t).sequence == 2
           && strcmp(APR_ARRAY_IDX(outbox, 1, store_outbox_t).content_type,
                     ACK_TYPE) == 0,
           "old and new outbox records are listed together in order");
    store_close(store);

    store = open_store(pool, "old", 0, 1);
    tap_ok(store && store_get_ebms(store, CPA, "msg-9@zks", pool, &record)
                        == 0,
           "read-only open after the upgrade sees the ebms db");
    store_close(store);
}

static void test_ebms_map_full(apr_pool_t *pool)
{
    spec_t small = { "ebms-f1", "0363EF1", "202401011000", BSN_A, NULL, NULL,
                     NULL, 50, 0, 0 };
    spec_t big = { "ebms-f2", "0363EF2", "202401011000", BSN_B, NULL, NULL,
                   NULL, 51, 0, 1024 * 1024 };
    unsigned char digest[STORE_DIGEST_LEN];
    store_stats_t before, after;
    store_ebms_t record;
    store_result_t r;
    store_t *store;

    store = open_store(pool, "ebms-full", 256 * 1024, 0);
    if (!tap_ok(store != NULL, "ebMS store with a 256 KiB map opens")) {
        return;
    }
    store_apply(store, make_ebms(pool, &small, "f1@zks", 1, 1), pool, &r);
    tap_is_int(r.outcome, STORE_APPLIED, "small ebMS message fits");
    before = stats_of(store);

    store_apply(store, make_ebms(pool, &big, "f2@zks", 2, 1), pool, &r);
    tap_is_int(r.outcome, STORE_FULL, "ebMS message too big: FULL");
    after = stats_of(store);
    tap_ok(same_contents(&before, &after),
           "nothing of the refused ebMS message is stored");
    tap_ok(store_get_ebms(store, CPA, "f2@zks", pool, &record) == 1
           && store_get_ebms(store, CPA, "bv01-f2@zks", pool, &record) == 1,
           "neither its MessageId nor its Bv01's is recorded");
    memset(digest, 51, sizeof(digest));
    tap_is_int(store_check_stufref(store, ZENDER, "ebms-f2", digest), 0,
               "nor its ref");
    store_close(store);
}

/* ---- several processes, one MessageId --------------------------------- */

#define EBMS_SENDERS 4
#define EBMS_MESSAGES 50

/* Every sender sends the same EBMS_MESSAGES messages once the parent
 * closes the pipe; exits with how many it applied (255 on another
 * outcome). */
static void ebms_sender(int start_fd)
{
    apr_pool_t *pool;
    store_t *store;
    char byte;
    int i, applied = 0, other = 0;

    apr_pool_create(&pool, NULL);
    store = open_store(pool, "ebms-shared", 0, 0);
    if (store == NULL || read(start_fd, &byte, 1) != 0) {
        _exit(255);
    }
    for (i = 0; i < EBMS_MESSAGES; i++) {
        apr_pool_t *scratch;
        spec_t spec = { 0 };
        store_result_t r;

        apr_pool_create(&scratch, pool);
        spec.ref = apr_psprintf(scratch, "d-%d", i);
        spec.zaak = apr_psprintf(scratch, "0363D%03d", i);
        spec.datum = "202401011000";
        spec.bsn = BSN_A;
        spec.digest_seed = (unsigned char)i;
        store_apply(store, make_ebms(scratch, &spec,
                                     apr_psprintf(scratch, "d-%d@zks", i),
                                     (unsigned char)i, 0),
                    scratch, &r);
        applied += r.outcome == STORE_APPLIED;
        other += r.outcome != STORE_APPLIED
                 && r.outcome != STORE_EBMS_DUPLICATE;
        apr_pool_destroy(scratch);
    }
    store_close(store);
    _exit(other ? 255 : applied);
}

static void test_ebms_several_processes(apr_pool_t *pool)
{
    pid_t pids[EBMS_SENDERS];
    int fds[2], w, status, applied = 0, exited_ok = 0;
    store_stats_t stats;
    store_t *store;

    /* Created first, so the senders race on messages, not on setup. */
    store = open_store(pool, "ebms-shared", 0, 0);
    store_close(store);
    if (!tap_ok(store != NULL && pipe(fds) == 0,
                "shared ebMS store and start pipe")) {
        return;
    }
    for (w = 0; w < EBMS_SENDERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            close(fds[1]);
            ebms_sender(fds[0]);
        }
    }
    close(fds[0]);
    close(fds[1]);
    for (w = 0; w < EBMS_SENDERS; w++) {
        if (pids[w] > 0 && waitpid(pids[w], &status, 0) == pids[w]
            && WIFEXITED(status) && WEXITSTATUS(status) != 255) {
            exited_ok++;
            applied += WEXITSTATUS(status);
        }
    }
    tap_is_int(exited_ok, EBMS_SENDERS,
               "every sender got only APPLIED or EBMS_DUPLICATE");
    tap_is_int(applied, EBMS_MESSAGES,
               "each MessageId sent by %d processes is applied once",
               EBMS_SENDERS);

    store = open_store(pool, "ebms-shared", 0, 0);
    if (store == NULL) {
        return;
    }
    stats = stats_of(store);
    tap_is_int(stats.ebms_duplicates, (EBMS_SENDERS - 1) * EBMS_MESSAGES,
               "the others were duplicates");
    tap_ok(stats.zaken == EBMS_MESSAGES && stats.stufrefs == EBMS_MESSAGES
           && stats.outbox_entries == EBMS_MESSAGES
           && stats.ebms_messages == 2 * EBMS_MESSAGES
           && stats.messages_applied == EBMS_MESSAGES,
           "one zaak, ref, Bv01 and two MessageIds per message");
    store_close(store);
}

/* ---- several processes ------------------------------------------------ */

#define WRITERS 4
#define PER_WRITER 200
#define SHARED_ZAKEN 50

/* Message i of writer w: zaak i % 50 for all writers; every tenth
 * message of every writer carries the same status, the others a status
 * of their own. */
static spec_t writer_spec(apr_pool_t *pool, int w, int i)
{
    spec_t spec = { 0 };

    spec.ref = apr_psprintf(pool, "w%d-%d", w, i);
    spec.zaak = apr_psprintf(pool, "0363W%03d", i % SHARED_ZAKEN);
    spec.datum = i % 10 == 0
                     ? "20230101000000"
                     : apr_psprintf(pool, "20240101%02d%02d%02d", w, i / 60,
                                    i % 60);
    spec.bsn = BSN_A;
    spec.digest_seed = (unsigned char)i;
    return spec;
}

static void writer(int w)
{
    apr_pool_t *pool;
    store_t *store;
    int i, failures = 0;

    /* A fresh pool and environment: the parent's must not be touched
     * after fork. */
    apr_pool_create(&pool, NULL);
    store = open_store(pool, "shared", 0, 0);
    if (store == NULL) {
        _exit(2);
    }
    for (i = 0; i < PER_WRITER; i++) {
        apr_pool_t *scratch;
        spec_t spec;
        store_result_t r;

        apr_pool_create(&scratch, pool);
        spec = writer_spec(scratch, w, i);
        r = apply(store, scratch, &spec);
        if (r.outcome != STORE_APPLIED) {
            fprintf(stderr, "writer %d message %d: %d %s\n", w, i,
                    r.outcome, r.error ? r.error : "");
            failures++;
        }
        apr_pool_destroy(scratch);
    }
    store_close(store);
    _exit(failures ? 1 : 0);
}

static void test_several_processes(apr_pool_t *pool)
{
    pid_t pids[WRITERS];
    apr_array_header_t *outbox, *statuses;
    store_stats_t stats;
    store_zaak_t zaak;
    store_t *store;
    int w, i, status, exited_ok = 0, sequences_ok = 1, current_ok = 1;

    for (w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            writer(w);
        }
    }
    for (w = 0; w < WRITERS; w++) {
        if (pids[w] > 0 && waitpid(pids[w], &status, 0) == pids[w]
            && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            exited_ok++;
        }
    }
    tap_is_int(exited_ok, WRITERS, "%d writers applied every message",
               WRITERS);

    store = open_store(pool, "shared", 0, 0);
    if (!tap_ok(store != NULL, "shared store opens after the writers")) {
        return;
    }
    stats = stats_of(store);
    tap_is_int(stats.messages_applied, WRITERS * PER_WRITER,
               "applied counter counts every message of every process");
    tap_is_int(stats.stufrefs, WRITERS * PER_WRITER, "one ref per message");
    tap_is_int(stats.zaken, SHARED_ZAKEN, "shared zaken stored once");
    tap_is_int(stats.postbus_entries, SHARED_ZAKEN, "one postbus entry each");
    /* 720 own statuses, and the shared one on the 5 zaken i % 10 == 0. */
    tap_is_int(stats.statuses, WRITERS * PER_WRITER * 9 / 10 + 5,
               "statuses: own ones plus each shared one once");
    tap_is_int(stats.outbox_entries, WRITERS * PER_WRITER,
               "one outbox entry per message");

    store_list_outbox(store, pool, &outbox);
    for (i = 0; i < outbox->nelts; i++) {
        if (APR_ARRAY_IDX(outbox, i, store_outbox_t).sequence
            != (apr_uint64_t)i + 1) {
            sequences_ok = 0;
        }
    }
    tap_ok(sequences_ok && outbox->nelts == WRITERS * PER_WRITER,
           "outbox sequences are 1..%d without gaps or doubles",
           WRITERS * PER_WRITER);

    for (i = 0; i < SHARED_ZAKEN; i++) {
        const char *id = apr_psprintf(pool, "0363W%03d", i);

        if (store_get_zaak(store, id, pool, &zaak, &statuses) != 0
            || statuses->nelts == 0
            || strcmp(zaak.status_key,
                      APR_ARRAY_IDX(statuses, statuses->nelts - 1,
                                    store_status_t).status_key) != 0) {
            current_ok = 0;
        }
    }
    tap_ok(current_ok, "every zaak's current status is its newest status");
    store_close(store);
}

/* ---- several threads of one process (worker and event MPMs) ---------- */

#define THREADS 4
#define PER_THREAD 50

typedef struct {
    store_t *store;
    int number;
    int failures;
} thread_job_t;

static void *APR_THREAD_FUNC thread_writer(apr_thread_t *thread, void *data)
{
    thread_job_t *job = data;
    apr_pool_t *pool;
    int i;

    /* A pool per thread: APR pools are not shared between threads. */
    apr_pool_create_unmanaged(&pool);
    for (i = 0; i < PER_THREAD; i++) {
        spec_t spec = writer_spec(pool, 10 + job->number, i);
        store_result_t r = apply(job->store, pool, &spec);
        store_zaak_t zaak;

        if (r.outcome != STORE_APPLIED
            || store_get_zaak(job->store, spec.zaak, pool, &zaak, NULL)) {
            job->failures++;
        }
    }
    apr_pool_destroy(pool);

    /* Returning instead of apr_thread_exit(): ASan of this gcc reports
     * pthread_exit's unwinding as a stack misuse. */
    return NULL;
}

static void test_several_threads(apr_pool_t *pool)
{
    apr_thread_t *threads[THREADS];
    thread_job_t jobs[THREADS];
    apr_status_t rv;
    store_stats_t stats;
    store_t *store;
    int t, failures = 0;

    store = open_store(pool, "threads", 0, 0);
    if (!tap_ok(store != NULL, "store for threads opens")) {
        return;
    }
    for (t = 0; t < THREADS; t++) {
        jobs[t] = (thread_job_t){ store, t, 0 };
        apr_thread_create(&threads[t], NULL, thread_writer, &jobs[t], pool);
    }
    for (t = 0; t < THREADS; t++) {
        apr_thread_join(&rv, threads[t]);
        failures += jobs[t].failures;
    }
    tap_is_int(failures, 0, "%d threads sharing one store applied and "
               "read every message", THREADS);
    stats = stats_of(store);
    tap_is_int(stats.messages_applied, THREADS * PER_THREAD,
               "applied counter counts every thread's messages");
    tap_is_int(stats.statuses, THREADS * PER_THREAD * 9 / 10 + 5,
               "statuses of all threads stored exactly once");
    store_close(store);
}

int main(void)
{
    apr_pool_t *pool = tap_start();
    char template[] = "/tmp/test_store.XXXXXX";
    store_t *store;

    tmp_root = mkdtemp(template);
    if (tmp_root == NULL) {
        tap_skip_all("cannot create a temporary directory");
    }

    test_open(pool);
    store = open_store(pool, "main", 0, 0);
    if (store) {
        test_first_message(store, pool);
        test_idempotency(store, pool);
        test_same_status_two_refs(store, pool);
        test_out_of_order(store, pool);
        test_eindstatus(store, pool);
        test_postbus_moves(store, pool);
        test_rejected_content(store, pool);
        test_bad_input(store, pool);
        test_reopen(&store, pool);
        store_close(store);
    }
    else {
        tap_ok(0, "main store opens");
    }
    store = open_store(pool, "ebms", 0, 0);
    if (store) {
        test_ebms_sync_duplicate(store, pool);
        test_ebms_async_duplicate(store, pool);
        test_ebms_conflict(store, pool);
        test_ebms_stuf_replayed(store, pool);
        test_ebms_stufref_none(store, pool);
        test_ebms_records(store, pool);
        test_check_stufref(store, pool);
        test_ebms_refused(store, pool);
        store_close(store);
    }
    else {
        tap_ok(0, "ebms store opens");
    }
    test_old_store(pool);
    test_corrupt_record(pool);
    test_map_full(pool);
    test_ebms_map_full(pool);
    test_several_processes(pool);
    test_ebms_several_processes(pool);
    test_several_threads(pool);

    nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}

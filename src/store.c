/* store.c - the backend-independent side of the store (see store.h):
 * picks the backend named in "kind:where", checks a message once for all
 * backends, and ties the backend's life to the caller's pool. */
#include "store.h"
#include "store_backend.h"

#include <string.h>

#include <apr_strings.h>

static const store_backend_t *const backends[] = {
    &store_lmdb_backend,
};

struct store {
    const store_backend_t *backend;
    void *handle;       /* the backend's own state; NULL once closed */
};

static apr_status_t store_cleanup(void *data)
{
    store_t *store = data;

    if (store->handle) {
        store->backend->close(store->handle);
        store->handle = NULL;
    }
    return APR_SUCCESS;
}

static const store_backend_t *find_backend(const char *kind,
                                           apr_size_t kind_len)
{
    apr_size_t i;

    for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strlen(backends[i]->kind) == kind_len
            && strncmp(backends[i]->kind, kind, kind_len) == 0) {
            return backends[i];
        }
    }
    return NULL;
}

store_t *store_open(const char *spec, const store_options_t *options,
                    apr_pool_t *pool, const char **error)
{
    static const store_options_t defaults;
    const store_backend_t *backend;
    const char *colon;
    store_t *store;
    void *handle;

    colon = spec ? strchr(spec, ':') : NULL;
    if (colon == NULL || colon[1] == '\0') {
        *error = "store spec must be kind:where, e.g. lmdb:/var/lib/stuflz";
        return NULL;
    }

    backend = find_backend(spec, (apr_size_t)(colon - spec));
    if (backend == NULL) {
        *error = apr_psprintf(pool, "unknown store kind '%.*s'",
                              (int)(colon - spec), spec);
        return NULL;
    }

    handle = backend->open(colon + 1, options ? options : &defaults, pool,
                           error);
    if (handle == NULL) {
        return NULL;
    }

    store = apr_pcalloc(pool, sizeof(*store));
    store->backend = backend;
    store->handle = handle;
    apr_pool_cleanup_register(pool, store, store_cleanup,
                              apr_pool_cleanup_null);
    return store;
}

void store_close(store_t *store)
{
    if (store) {
        store_cleanup(store);
    }
}

const char *store_kind(const store_t *store)
{
    return store->backend->kind;
}

const char **store_files(const store_t *store, apr_pool_t *pool)
{
    static const char *none[] = { NULL };

    if (store->handle == NULL) {
        return none;
    }
    return store->backend->files(store->handle, pool);
}

int store_check_readers(store_t *store)
{
    if (store->handle == NULL) {
        return 0;
    }
    return store->backend->check_readers(store->handle);
}

static void fail(store_result_t *result, const char *error)
{
    result->outcome = STORE_FAILED;
    result->error = error;
}

/* The (CPAId, MessageId) key is built from both, so neither may be
 * missing once a MessageId is given. */
static const char *check_ebms(const store_message_t *message)
{
    if (message->ebms_message_id == NULL) {
        return NULL;
    }
    if (message->ebms_cpaid == NULL || message->ebms_message_id[0] == '\0') {
        return "ebMS message has no CPAId or an empty MessageId";
    }
    if (message->ebms_response == NULL && message->ebms_response_len) {
        return "ebMS response has a length but no bytes";
    }
    return NULL;
}

static const char *check_outbox(const store_message_t *message)
{
    const store_outbox_entry_t *entry;
    int i;

    if (message->outbox_count < 0
        || (message->outbox_count > 0 && message->outbox == NULL)) {
        return "outbox count does not match the outbox";
    }
    for (i = 0; i < message->outbox_count; i++) {
        entry = &message->outbox[i];
        if (entry->payload == NULL && entry->payload_len) {
            return "outbox entry has a length but no payload";
        }
        if (entry->ebms_message_id
            && (entry->ebms_cpaid == NULL
                || entry->ebms_message_id[0] == '\0')) {
            return "outbox entry has no CPAId or an empty MessageId";
        }
    }
    return NULL;
}

void store_apply(store_t *store, const store_message_t *message,
                 apr_pool_t *pool, store_result_t *result)
{
    const lz_kennisgeving_t *kennisgeving;
    const char *status_key = NULL;
    const char *error;

    memset(result, 0, sizeof(*result));
    if (store->handle == NULL) {
        fail(result, "store is closed");
        return;
    }

    if (message == NULL) {
        fail(result, "no message");
        return;
    }

    /* Every backend keys a StUF message on (zender, referentienummer),
     * so one without them can only be stored when that key is not
     * wanted. */
    if (!message->stufref_none
        && (message->zender_key == NULL
            || message->referentienummer == NULL
            || message->referentienummer[0] == '\0')) {
        fail(result, "message has no zender or referentienummer");
        return;
    }

    error = check_ebms(message);
    if (error == NULL) {
        error = check_outbox(message);
    }
    if (error) {
        fail(result, error);
        return;
    }

    /* The content was checked before, but the store must not build keys
     * from values that would break its ordering, whatever the caller. */
    kennisgeving = message->kennisgeving;
    if (kennisgeving) {
        if (kennisgeving->identificatie == NULL
            || kennisgeving->identificatie[0] == '\0') {
            fail(result, "kennisgeving has no zaakidentificatie");
            return;
        }
        status_key = lz_status_key(kennisgeving->datum_status_gezet, pool);
        if (status_key == NULL
            || strlen(status_key) != STORE_STATUS_KEY_LEN) {
            fail(result, "kennisgeving has no usable datumStatusGezet");
            return;
        }
    }

    store->backend->apply(store->handle, message, status_key, pool, result);
}

int store_get_zaak(store_t *store, const char *identificatie,
                   apr_pool_t *pool, store_zaak_t *zaak,
                   apr_array_header_t **statuses)
{
    if (store->handle == NULL || identificatie == NULL) {
        return -1;
    }
    return store->backend->get_zaak(store->handle, identificatie, pool, zaak,
                                    statuses);
}

int store_list_postbus(store_t *store, const char *bsn, apr_pool_t *pool,
                       apr_array_header_t **identificaties)
{
    if (store->handle == NULL || bsn == NULL) {
        return -1;
    }
    return store->backend->list_postbus(store->handle, bsn, pool,
                                        identificaties);
}

int store_list_outbox(store_t *store, apr_pool_t *pool,
                      apr_array_header_t **entries)
{
    if (store->handle == NULL) {
        return -1;
    }
    return store->backend->list_outbox(store->handle, pool, entries);
}

int store_get_stats(store_t *store, store_stats_t *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (store->handle == NULL) {
        return -1;
    }
    return store->backend->get_stats(store->handle, stats);
}

int store_get_ebms(store_t *store, const char *cpaid,
                   const char *message_id, apr_pool_t *pool,
                   store_ebms_t *record)
{
    memset(record, 0, sizeof(*record));
    if (store->handle == NULL || cpaid == NULL || message_id == NULL) {
        return -1;
    }
    return store->backend->get_ebms(store->handle, cpaid, message_id, pool,
                                    record);
}

int store_check_stufref(store_t *store, const char *zender_key,
                        const char *referentienummer,
                        const unsigned char digest[STORE_DIGEST_LEN])
{
    if (store->handle == NULL || zender_key == NULL
        || referentienummer == NULL || digest == NULL) {
        return -1;
    }
    return store->backend->check_stufref(store->handle, zender_key,
                                         referentienummer, digest);
}

int store_outbox_claim(store_t *store, const store_outbox_claim_t *claim,
                       apr_pool_t *pool, apr_array_header_t **claimed)
{
    *claimed = apr_array_make(pool, 1, sizeof(store_outbox_t));
    if (store->handle == NULL || claim == NULL || claim->max < 0
        || claim->lease <= 0) {
        return -1;
    }
    if (claim->max == 0) {
        return 0;
    }
    return store->backend->outbox_claim(store->handle, claim, pool, claimed);
}

int store_outbox_finish(store_t *store, const store_outbox_result_t *results,
                        int count, apr_time_t now)
{
    if (store->handle == NULL || count < 0
        || (count > 0 && results == NULL)) {
        return -1;
    }
    if (count == 0) {
        return 0;
    }
    return store->backend->outbox_finish(store->handle, results, count, now);
}

int store_outbox_expire(store_t *store, apr_time_t now, apr_pool_t *pool,
                        apr_array_header_t **expired)
{
    *expired = apr_array_make(pool, 1, sizeof(store_outbox_t));
    if (store->handle == NULL) {
        return -1;
    }
    return store->backend->outbox_expire(store->handle, now, pool, expired);
}

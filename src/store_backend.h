/* store_backend.h - what a store backend provides (private to src/).
 * store.c parses the spec, checks the message and calls through this
 * table; store_lmdb.c is the first backend, a PostgreSQL one can follow. */
#ifndef STUFLZ_STORE_BACKEND_H
#define STUFLZ_STORE_BACKEND_H

#include "store.h"

typedef struct {
    const char *kind;   /* the word before ':' in the spec */

    /* Opens the backend at where (the text after "kind:"); returns its
     * handle or NULL with *error set. pool outlives the handle. */
    void *(*open)(const char *where, const store_options_t *options,
                  apr_pool_t *pool, const char **error);
    void (*close)(void *backend);
    const char **(*files)(void *backend, apr_pool_t *pool);
    int (*check_readers)(void *backend);

    /* message is checked by store.c (zender_key and referentienummer
     * are set unless stufref_none; every outbox entry with an
     * ebms_message_id has an ebms_cpaid); status_key is the 17-digit key
     * of message->kennisgeving, NULL when that is NULL. result arrives
     * zeroed. */
    void (*apply)(void *backend, const store_message_t *message,
                  const char *status_key, apr_pool_t *pool,
                  store_result_t *result);

    int (*get_zaak)(void *backend, const char *identificatie,
                    apr_pool_t *pool, store_zaak_t *zaak,
                    apr_array_header_t **statuses);
    int (*list_postbus)(void *backend, const char *bsn, apr_pool_t *pool,
                        apr_array_header_t **identificaties);
    int (*list_outbox)(void *backend, apr_pool_t *pool,
                       apr_array_header_t **entries);
    int (*get_stats)(void *backend, store_stats_t *stats);
    int (*get_ebms)(void *backend, const char *cpaid,
                    const char *message_id, apr_pool_t *pool,
                    store_ebms_t *record);
    int (*check_stufref)(void *backend, const char *zender_key,
                         const char *referentienummer,
                         const unsigned char *digest);

    /* The outbox delivery calls (store.h); arguments are checked by
     * store.c. */
    int (*outbox_claim)(void *backend, const store_outbox_claim_t *claim,
                        apr_pool_t *pool, apr_array_header_t **claimed);
    int (*outbox_finish)(void *backend, const store_outbox_result_t *results,
                         int count, apr_time_t now);
    int (*outbox_expire)(void *backend, apr_time_t now, apr_pool_t *pool,
                         apr_array_header_t **expired);
} store_backend_t;

extern const store_backend_t store_lmdb_backend;

#endif

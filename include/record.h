/* record.h - the byte format of values in the store (versioned, so a
 * later version can still read old records). A record is:
 *   u8 format version (1), u8 record type, then fields in a fixed order,
 *   each a u32 big-endian length (0xFFFFFFFF = NULL) and that many bytes;
 *   integers are 8 bytes big-endian.
 * Decoding checks every length against the buffer: a corrupt or hostile
 * record gives an error, never a read outside it. */
#ifndef STUFLZ_RECORD_H
#define STUFLZ_RECORD_H

#include <apr_pools.h>

#define RECORD_VERSION 1

typedef struct {
    apr_pool_t *pool;
    char *data;
    apr_size_t len, cap;
} record_writer_t;

typedef struct {
    const unsigned char *data;
    apr_size_t len, pos;
    int failed;
} record_reader_t;

void record_writer_init(record_writer_t *w, apr_pool_t *pool,
                        unsigned char type);
void record_put_string(record_writer_t *w, const char *s);   /* NULL ok */
void record_put_bytes(record_writer_t *w, const void *b, apr_size_t len);
void record_put_u64(record_writer_t *w, apr_uint64_t v);

/* Starts reading; returns -1 when version or type do not match. */
int record_reader_init(record_reader_t *r, const void *data, apr_size_t len,
                       unsigned char type);
/* Returns the string (NUL-terminated copy in pool) or NULL; sets failed
 * on a malformed record. */
const char *record_get_string(record_reader_t *r, apr_pool_t *pool);
const void *record_get_bytes(record_reader_t *r, apr_size_t *len);
apr_uint64_t record_get_u64(record_reader_t *r);

#endif

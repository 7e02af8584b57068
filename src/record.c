/* record.c - the versioned byte format of store values (see record.h).
 * Writing grows a buffer in a pool; reading checks every length against
 * the buffer, so a corrupt record fails instead of reading past its end. */
#include "record.h"

#include <string.h>

#include <apr_strings.h>

/* A length field of all ones marks a NULL field. */
#define RECORD_NULL_LENGTH 0xFFFFFFFFu

/* The longest field the u32 length can carry next to the NULL marker. */
#define RECORD_FIELD_MAX ((apr_size_t)0xFFFFFFFEu)

static void writer_reserve(record_writer_t *w, apr_size_t more)
{
    apr_size_t cap = w->cap ? w->cap : 64;
    char *data;

    if (w->len + more <= w->cap) {
        return;
    }
    while (cap < w->len + more) {
        cap *= 2;
    }

    /* The old buffer stays in the pool until it is cleared; records are
     * small and short-lived, so doubling keeps that waste bounded. */
    data = apr_palloc(w->pool, cap);
    if (w->len) {
        memcpy(data, w->data, w->len);
    }
    w->data = data;
    w->cap = cap;
}

static void writer_put_u32(record_writer_t *w, apr_uint32_t v)
{
    unsigned char *p;

    writer_reserve(w, 4);
    p = (unsigned char *)w->data + w->len;
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    w->len += 4;
}

void record_writer_init(record_writer_t *w, apr_pool_t *pool,
                        unsigned char type)
{
    w->pool = pool;
    w->data = NULL;
    w->len = 0;
    w->cap = 0;
    writer_reserve(w, 2);
    w->data[0] = (char)RECORD_VERSION;
    w->data[1] = (char)type;
    w->len = 2;
}

void record_put_bytes(record_writer_t *w, const void *b, apr_size_t len)
{
    /* Limitation: a field longer than 4 GiB - 2 is written as NULL,
     * because the u32 length cannot carry it; the store refuses such
     * values before it gets here. */
    if (b == NULL || len > RECORD_FIELD_MAX) {
        writer_put_u32(w, RECORD_NULL_LENGTH);
        return;
    }

    writer_put_u32(w, (apr_uint32_t)len);
    if (len) {
        writer_reserve(w, len);
        memcpy(w->data + w->len, b, len);
        w->len += len;
    }
}

void record_put_string(record_writer_t *w, const char *s)
{
    record_put_bytes(w, s, s ? strlen(s) : 0);
}

void record_put_u64(record_writer_t *w, apr_uint64_t v)
{
    unsigned char *p;
    int i;

    writer_reserve(w, 8);
    p = (unsigned char *)w->data + w->len;
    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
    w->len += 8;
}

int record_reader_init(record_reader_t *r, const void *data, apr_size_t len,
                       unsigned char type)
{
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->failed = 0;

    if (data == NULL || len < 2 || r->data[0] != RECORD_VERSION
        || r->data[1] != type) {
        r->failed = 1;
        return -1;
    }
    r->pos = 2;
    return 0;
}

/* The bytes left after pos; pos never exceeds len, so this cannot wrap. */
static apr_size_t reader_left(const record_reader_t *r)
{
    return r->len - r->pos;
}

const void *record_get_bytes(record_reader_t *r, apr_size_t *len)
{
    const unsigned char *p;
    apr_uint32_t field_len;

    *len = 0;
    if (r->failed || reader_left(r) < 4) {
        r->failed = 1;
        return NULL;
    }

    p = r->data + r->pos;
    field_len = ((apr_uint32_t)p[0] << 24) | ((apr_uint32_t)p[1] << 16)
                | ((apr_uint32_t)p[2] << 8) | (apr_uint32_t)p[3];
    r->pos += 4;
    if (field_len == RECORD_NULL_LENGTH) {
        return NULL;
    }

    if (field_len > reader_left(r)) {
        r->failed = 1;
        return NULL;
    }
    p = r->data + r->pos;
    r->pos += field_len;
    *len = field_len;
    return p;
}

const char *record_get_string(record_reader_t *r, apr_pool_t *pool)
{
    const void *bytes;
    apr_size_t len;

    bytes = record_get_bytes(r, &len);
    if (bytes == NULL) {
        return NULL;
    }
    return apr_pstrmemdup(pool, bytes, len);
}

apr_uint64_t record_get_u64(record_reader_t *r)
{
    apr_uint64_t v = 0;
    int i;

    if (r->failed || reader_left(r) < 8) {
        r->failed = 1;
        return 0;
    }
    for (i = 0; i < 8; i++) {
        v = (v << 8) | r->data[r->pos + i];
    }
    r->pos += 8;
    return v;
}

/* test_record.c - the record codec of the store: every field kind round
 * trips, and a truncated or corrupted record is refused without a read
 * outside its buffer (run under ASan: each input gets its own buffer). */
#include "record.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

/* A field of a test layout: 's' string, 'b' bytes, 'u' u64. */
typedef struct {
    char kind;
    const char *data;   /* NULL = a NULL field */
    apr_size_t len;
    apr_uint64_t number;
} field_t;

typedef struct {
    const char *name;
    unsigned char type;
    const field_t *fields;
    int count;
} layout_t;

static const char binary[] = { 'a', '\0', (char)0xFF, '\n', (char)0x80, 'z' };

/* Shapes of the store's records (zaak, status, stufref, outbox, ebms,
 * requeue, meta), with NULL, empty and binary values in them. */
static const field_t zaak_fields[] = {
    { 's', "0363ZAAK1", 9, 0 }, { 's', "Omgevingsvergunning", 19, 0 },
    { 's', NULL, 0, 0 }, { 's', "", 0, 0 }, { 's', "20240101", 8, 0 },
    { 's', NULL, 0, 0 }, { 's', "00000001234567890000", 20, 0 },
    { 's', "999993653", 9, 0 }, { 's', "20240101120000000", 17, 0 },
    { 's', "Ontvangen \xc3\xa9\xc3\xa9n", 15, 0 }, { 'u', NULL, 0, 1 },
    { 'u', NULL, 0, 0 }, { 'u', NULL, 0, ~(apr_uint64_t)0 },
};
static const field_t status_fields[] = {
    { 's', "202401011200", 12, 0 }, { 's', "", 0, 0 }, { 's', NULL, 0, 0 },
    { 's', "https://example.org/z?a=1&b=2", 29, 0 }, { 's', "ref-1", 5, 0 },
    { 'u', NULL, 0, 0 }, { 'u', NULL, 0, (apr_uint64_t)1 << 63 },
};
static const field_t stufref_fields[] = {
    { 'b', "0123456789abcdef0123456789ABCDEF", 32, 0 },
    { 'b', binary, sizeof(binary), 0 }, { 'u', NULL, 0, 1700000000000000 },
};
static const field_t outbox_fields[] = {
    { 's', "stuf-soap:", 10, 0 }, { 's', "Bv01", 4, 0 },
    { 's', "00000001234567890000", 20, 0 }, { 's', "LZ-1", 4, 0 },
    { 's', "queued", 6, 0 }, { 'u', NULL, 0, 0 }, { 'u', NULL, 0, 5 },
    { 'u', NULL, 0, 5 }, { 'u', NULL, 0, 0 }, { 's', NULL, 0, 0 },
    { 'b', "", 0, 0 },
};
/* The outbox record since content_type was appended. */
static const field_t outbox_typed_fields[] = {
    { 's', "ebms:cpa-1", 10, 0 }, { 's', "Acknowledgment", 14, 0 },
    { 's', "00000001234567890000", 20, 0 }, { 's', "ack-1", 5, 0 },
    { 's', "queued", 6, 0 }, { 'u', NULL, 0, 0 }, { 'u', NULL, 0, 5 },
    { 'u', NULL, 0, 5 }, { 'u', NULL, 0, 9 }, { 's', NULL, 0, 0 },
    { 'b', binary, sizeof(binary), 0 },
    { 's', "text/xml; charset=UTF-8", 23, 0 },
};
/* A requeue record: destination, kind, partner, reference, content_type,
 * payload, lifetime. */
static const char requeue_record[] =
    "\x01Q"
    "\x00\x00\x00\x0a" "ebms:cpa-1"
    "\x00\x00\x00\x0e" "Acknowledgment"
    "\xff\xff\xff\xff"
    "\x00\x00\x00\x05" "ack-1"
    "\xff\xff\xff\xff"
    "\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x0e\x10";
static const field_t ebms_received_fields[] = {
    { 's', "received", 8, 0 },
    { 'b', "0123456789abcdef0123456789ABCDEF", 32, 0 },
    { 'b', NULL, 0, 0 },
    { 'b', requeue_record, sizeof(requeue_record) - 1, 0 },
    { 'u', NULL, 0, 1700000000000000 }, { 'u', NULL, 0, 1700432000000000 },
};
static const field_t ebms_sent_fields[] = {
    { 's', "sent", 4, 0 }, { 'b', NULL, 0, 0 },
    { 'b', binary, sizeof(binary), 0 }, { 'b', NULL, 0, 0 },
    { 'u', NULL, 0, 1700000000000000 }, { 'u', NULL, 0, 0 },
};
static const field_t requeue_fields[] = {
    { 's', "ebms:cpa-1", 10, 0 }, { 's', "Acknowledgment", 14, 0 },
    { 's', NULL, 0, 0 }, { 's', "ack-1", 5, 0 }, { 's', NULL, 0, 0 },
    { 'b', "", 0, 0 }, { 'u', NULL, 0, 3600 },
};
static const field_t meta_fields[] = {
    { 'u', NULL, 0, 42 },
};

#define LAYOUT(name, type, fields) \
    { name, type, fields, (int)(sizeof(fields) / sizeof(fields[0])) }

static const layout_t layouts[] = {
    LAYOUT("zaak", 'Z', zaak_fields),
    LAYOUT("status", 'S', status_fields),
    LAYOUT("stufref", 'R', stufref_fields),
    LAYOUT("outbox", 'O', outbox_fields),
    LAYOUT("outbox with content_type", 'O', outbox_typed_fields),
    LAYOUT("ebms received", 'E', ebms_received_fields),
    LAYOUT("ebms sent", 'E', ebms_sent_fields),
    LAYOUT("requeue", 'Q', requeue_fields),
    LAYOUT("meta", 'M', meta_fields),
};

static void encode(const layout_t *layout, apr_pool_t *pool,
                   record_writer_t *w)
{
    int i;

    record_writer_init(w, pool, layout->type);
    for (i = 0; i < layout->count; i++) {
        const field_t *f = &layout->fields[i];

        if (f->kind == 's') {
            record_put_string(w, f->data);
        }
        else if (f->kind == 'b') {
            record_put_bytes(w, f->data, f->len);
        }
        else {
            record_put_u64(w, f->number);
        }
    }
}

/* Decodes data as layout; returns 1 when every field came back equal,
 * 0 when they differ, -1 when the reader refused the record. */
static int decode(const layout_t *layout, const void *data, apr_size_t len,
                  apr_pool_t *pool)
{
    record_reader_t r;
    int i, same = 1;

    if (record_reader_init(&r, data, len, layout->type)) {
        return -1;
    }
    for (i = 0; i < layout->count; i++) {
        const field_t *f = &layout->fields[i];
        const char *s;
        const void *b;
        apr_size_t b_len;

        if (f->kind == 's') {
            s = record_get_string(&r, pool);
            if (f->data == NULL ? s != NULL
                : s == NULL || strlen(s) != f->len
                  || memcmp(s, f->data, f->len) != 0) {
                same = 0;
            }
        }
        else if (f->kind == 'b') {
            b = record_get_bytes(&r, &b_len);
            if (f->data == NULL ? b != NULL
                : b == NULL || b_len != f->len
                  || memcmp(b, f->data, f->len) != 0) {
                same = 0;
            }
        }
        else if (record_get_u64(&r) != f->number) {
            same = 0;
        }
    }
    return r.failed ? -1 : same;
}

static void test_round_trips(apr_pool_t *pool)
{
    apr_size_t i;
    record_writer_t w;

    for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        encode(&layouts[i], pool, &w);
        tap_is_int(decode(&layouts[i], w.data, w.len, pool), 1,
                   "%s record round trips (NULL, empty, binary, u64)",
                   layouts[i].name);
    }
}

static void test_null_and_empty_differ(apr_pool_t *pool)
{
    record_writer_t w;
    record_reader_t r;
    const char *s;
    const void *b;
    apr_size_t len = 99;

    record_writer_init(&w, pool, 'X');
    record_put_string(&w, NULL);
    record_put_string(&w, "");
    record_put_bytes(&w, NULL, 5);
    record_put_bytes(&w, "", 0);
    record_reader_init(&r, w.data, w.len, 'X');

    tap_ok(record_get_string(&r, pool) == NULL, "NULL string reads as NULL");
    s = record_get_string(&r, pool);
    tap_ok(s != NULL && s[0] == '\0', "empty string reads as \"\"");
    b = record_get_bytes(&r, &len);
    tap_ok(b == NULL && len == 0, "NULL bytes read as NULL with length 0");
    b = record_get_bytes(&r, &len);
    tap_ok(b != NULL && len == 0, "empty bytes read as non-NULL, length 0");
    tap_ok(!r.failed && r.pos == r.len, "reader consumed the whole record");
}

/* Reads the first count fields of layout, whatever their kind. */
static void read_fields(const layout_t *layout, int count,
                        record_reader_t *r, apr_pool_t *pool)
{
    apr_size_t len;
    int i;

    for (i = 0; i < count; i++) {
        if (layout->fields[i].kind == 'u') {
            record_get_u64(r);
        }
        else {
            record_get_bytes(r, &len);
        }
    }
}

/* The store reads a field appended later (outbox content_type) only when
 * bytes are left after the last old field: that must be exactly the
 * case for a record written with it, and never for one written without. */
static void test_appended_field_detectable(apr_pool_t *pool)
{
    const layout_t *old = &layouts[3], *typed = &layouts[4];
    record_writer_t w;
    record_reader_t r;

    encode(old, pool, &w);
    record_reader_init(&r, w.data, w.len, 'O');
    read_fields(old, old->count - 1, &r, pool);
    tap_ok(r.pos < r.len, "old outbox record: payload still to read");
    read_fields(old, old->count, &r, pool);
    tap_ok(r.failed, "reading past the old record's end fails");
    record_reader_init(&r, w.data, w.len, 'O');
    read_fields(old, old->count, &r, pool);
    tap_ok(!r.failed && r.pos == r.len,
           "old outbox record ends right after its payload");

    encode(typed, pool, &w);
    record_reader_init(&r, w.data, w.len, 'O');
    read_fields(typed, old->count, &r, pool);
    tap_ok(!r.failed && r.pos < r.len,
           "new outbox record has bytes left after its payload");
    tap_is(record_get_string(&r, pool), "text/xml; charset=UTF-8",
           "and they are the content_type");
}

/* The requeue entry travels as a nested record inside the ebms one. */
static void test_nested_record(apr_pool_t *pool)
{
    const layout_t *requeue = &layouts[7];
    record_writer_t w;

    encode(requeue, pool, &w);
    tap_ok(w.len == sizeof(requeue_record) - 1
           && memcmp(w.data, requeue_record, w.len) == 0,
           "requeue record encodes to the bytes nested in the ebms one");
    tap_is_int(decode(requeue, requeue_record, sizeof(requeue_record) - 1,
                      pool), 1, "nested requeue record decodes");
}

static void test_large_field(apr_pool_t *pool)
{
    apr_size_t len = 300000, i, got_len;
    char *big = apr_palloc(pool, len);
    record_writer_t w;
    record_reader_t r;
    const void *got;

    for (i = 0; i < len; i++) {
        big[i] = (char)(i * 7);
    }
    record_writer_init(&w, pool, 'O');
    record_put_string(&w, "before");
    record_put_bytes(&w, big, len);
    record_put_u64(&w, 7);
    record_reader_init(&r, w.data, w.len, 'O');
    tap_is(record_get_string(&r, pool), "before",
           "field before a large one survives the buffer growing");
    got = record_get_bytes(&r, &got_len);
    tap_ok(got && got_len == len && memcmp(got, big, len) == 0,
           "300000-byte field round trips");
    tap_is_int((long long)record_get_u64(&r), 7, "u64 after it round trips");
}

static void test_header_checked(apr_pool_t *pool)
{
    record_writer_t w;
    record_reader_t r;
    char *copy;

    record_writer_init(&w, pool, 'Z');
    record_put_string(&w, "x");

    tap_is_int(record_reader_init(&r, w.data, w.len, 'S'), -1,
               "record of another type is refused");
    copy = apr_pmemdup(pool, w.data, w.len);
    copy[0] = RECORD_VERSION + 1;
    tap_is_int(record_reader_init(&r, copy, w.len, 'Z'), -1,
               "record of another format version is refused");
    tap_is_int(record_reader_init(&r, w.data, 1, 'Z'), -1,
               "one-byte record is refused");
    tap_is_int(record_reader_init(&r, NULL, 0, 'Z'), -1,
               "empty record is refused");
    tap_ok(record_get_string(&r, pool) == NULL && r.failed,
           "reading a refused record gives NULL and stays failed");
}

static void test_huge_length_refused(apr_pool_t *pool)
{
    /* Version, type, then a length far past the end. */
    unsigned char *data = malloc(8);
    record_reader_t r;
    apr_size_t len = 1;

    memcpy(data, "\x01Z\x7f\xff\xff\xf0" "ab", 8);
    record_reader_init(&r, data, 8, 'Z');
    tap_ok(record_get_bytes(&r, &len) == NULL && r.failed && len == 0,
           "length beyond the buffer is refused");
    tap_is_int((long long)record_get_u64(&r), 0,
               "u64 after a failure reads 0");
    free(data);
}

/* Every prefix of every record, in a buffer of exactly that size, so ASan
 * reports any read past it. A prefix lacks a field, so all are refused. */
static void test_truncations_refused(apr_pool_t *pool)
{
    apr_size_t i, cut;
    int refused;
    record_writer_t w;

    for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        encode(&layouts[i], pool, &w);
        refused = 0;
        for (cut = 0; cut < w.len; cut++) {
            unsigned char *copy = malloc(cut ? cut : 1);

            memcpy(copy, w.data, cut);
            refused += decode(&layouts[i], copy, cut, pool) == -1;
            free(copy);
        }
        tap_is_int(refused, (long long)w.len,
                   "%s record: all %lu truncations refused",
                   layouts[i].name, (unsigned long)w.len);
    }
}

/* Each byte replaced by values that break lengths: decoding may succeed
 * with other values or fail, but must stay inside the buffer. */
static void test_corruptions_stay_inside(apr_pool_t *pool)
{
    static const unsigned char values[] = { 0x00, 0x01, 0x7f, 0x80, 0xfe,
                                            0xff };
    apr_size_t i, pos, v;
    int tried, refused;
    record_writer_t w;

    for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        encode(&layouts[i], pool, &w);
        tried = refused = 0;
        for (pos = 0; pos < w.len; pos++) {
            for (v = 0; v < sizeof(values); v++) {
                unsigned char *copy = malloc(w.len);

                memcpy(copy, w.data, w.len);
                if (copy[pos] == values[v]) {
                    free(copy);
                    continue;
                }
                copy[pos] = values[v];
                tried++;
                refused += decode(&layouts[i], copy, w.len, pool) != 1;
                free(copy);
            }
        }
        tap_is_int(refused, tried,
                   "%s record: %d corruptions decoded inside the buffer "
                   "and none read back as the original", layouts[i].name,
                   tried);
    }
}

int main(void)
{
    apr_pool_t *pool = tap_start();

    test_round_trips(pool);
    test_null_and_empty_differ(pool);
    test_appended_field_detectable(pool);
    test_nested_record(pool);
    test_large_field(pool);
    test_header_checked(pool);
    test_huge_length_refused(pool);
    test_truncations_refused(pool);
    test_corruptions_stay_inside(pool);
    return tap_done();
}

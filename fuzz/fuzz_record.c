/* fuzz_record.c - libFuzzer target for the store record decoder. The
 * decode_* functions of store_lmdb.c are static, so this reads arbitrary
 * bytes with the public record_ API in the same field sequences they use
 * (chosen by the record's type byte, as the store's tables do), and
 * checks that what was read, written again, gives the same bytes. */
#include <string.h>

#include "fuzz.h"
#include "record.h"

/* The field sequences of store_lmdb.c's record types: s a string,
 * b bytes, u a u64, n a nested requeue record in bytes, and ? marks
 * where an older record may end (outbox without content_type). */
static const struct {
    unsigned char type;
    const char *fields;
} layouts[] = {
    { 'Z', "ssssssssssuuu" },    /* zaak */
    { 'S', "sssssuu" },          /* status */
    { 'R', "bbu" },              /* stufref */
    { 'O', "sssssuuuusb?s" },    /* outbox */
    { 'E', "sbbnuu" },           /* ebms */
    { 'Q', "sssssbu" },          /* requeue, nested in ebms */
    { 'M', "u" },                /* meta counter */
};

/* Reads one record of this layout and writes what it read into w; the
 * reader must stay inside the buffer and every string must be a
 * terminated copy of its bytes. Returns the reader's failed flag. */
static int read_layout(const unsigned char *data, apr_size_t len,
                       unsigned char type, const char *fields,
                       record_writer_t *w, apr_pool_t *pool, int depth)
{
    record_reader_t r;
    const char *f;

    if (record_reader_init(&r, data, len, type) != 0) {
        FUZZ_CHECK(r.failed, "init refused without failing");
        return 1;
    }
    record_writer_init(w, pool, type);
    for (f = fields; *f && !r.failed; f++) {
        apr_size_t before = r.pos;
        const void *bytes;
        apr_size_t n = 0;

        switch (*f) {
        case 'u':
            record_put_u64(w, record_get_u64(&r));
            break;
        case 's':
            /* A NULL string and a NULL bytes field are both the
             * all-ones length, so the copy is written as bytes, which
             * keeps any NUL inside. */
            bytes = record_get_string(&r, pool);
            n = r.pos - before >= 4 ? r.pos - before - 4 : 0;
            if (bytes) {
                FUZZ_CHECK(((const char *)bytes)[n] == '\0',
                           "string copy not terminated");
            }
            record_put_bytes(w, bytes, n);
            break;
        case 'b':
        case 'n':
            bytes = record_get_bytes(&r, &n);
            if (bytes) {
                FUZZ_CHECK((const unsigned char *)bytes >= data &&
                               (const unsigned char *)bytes + n <= data + len,
                           "bytes outside the record");
            }
            if (*f == 'n' && bytes && depth == 0) {
                record_writer_t nested;

                read_layout(bytes, n, 'Q', layouts[5].fields, &nested,
                            pool, 1);
            }
            record_put_bytes(w, bytes, n);
            break;
        case '?':
            if (r.pos == r.len) {
                return 0;
            }
            break;
        }
        FUZZ_CHECK(r.pos <= r.len, "reader beyond the record");
    }
    return r.failed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    record_writer_t w;
    record_reader_t r;
    unsigned char *copy;
    apr_pool_t *pool;
    size_t i;

    if (size < 2) {
        record_reader_init(&r, size ? data : NULL, size, 'Z');
        FUZZ_CHECK(r.failed, "a record shorter than its head passed");
        return 0;
    }

    /* Stored values live in the LMDB map, not in a pool; a malloc'd copy
     * of exactly their size lets ASan see a read past the end. */
    copy = malloc(size);
    FUZZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, data, size);
    apr_pool_create(&pool, fuzz_root);

    for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        if (read_layout(copy, size, layouts[i].type, layouts[i].fields, &w,
                        pool, 0) == 0) {
            /* The fields read, written again, are the bytes they came
             * from (a record may carry trailing bytes nobody reads). */
            FUZZ_CHECK(w.len <= size && memcmp(w.data, copy, w.len) == 0,
                       "a decoded record does not encode to its bytes");
        }
    }

    apr_pool_destroy(pool);
    free(copy);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_setup();
    return 0;
}

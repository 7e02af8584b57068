/* fuzz_mime.c - libFuzzer target for the MIME splitter of the ebMS
 * binding. The input is a Content-Type value, a line feed, and the body,
 * read as process_ebms.c reads a request; what the splitter returns must
 * survive being written with sz_mime_write and split again unchanged. */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "fuzz.h"
#include "mime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_setup();
    return 0;
}

/* A Content-ID a lookup must find again by itself: not empty, no
 * whitespace or angle brackets left at its ends, no "cid:" in front (a
 * "cid:x" id is found as "x", which this check does not model). */
static int plain_id(const char *id)
{
    apr_size_t n = strlen(id);

    return n > 0 && !apr_isspace(id[0]) && !apr_isspace(id[n - 1]) &&
           id[0] != '<' && id[n - 1] != '>' && strncasecmp(id, "cid:", 4);
}

/* A Content-ID without a "cid:" in front, as lookups compare it. */
static const char *bare_id(const char *id)
{
    return strncasecmp(id, "cid:", 4) == 0 ? id + 4 : id;
}

/* How many parts carry this Content-ID, as lookups compare them. */
static int id_count(const apr_array_header_t *parts, const char *id)
{
    int count = 0;
    int i;

    for (i = 0; i < parts->nelts; i++) {
        const char *other = APR_ARRAY_IDX(parts, i, sz_mime_part_t).content_id;

        count += other != NULL && strcmp(bare_id(other), bare_id(id)) == 0;
    }
    return count;
}

/* Every part's data is NUL-terminated at its length, and a lookup by a
 * part's own Content-ID finds that part, or nothing when two parts share
 * the id (ambiguous, so refused). */
static void check_parts(const apr_array_header_t *parts)
{
    int i;

    FUZZ_CHECK(parts != NULL && parts->nelts > 0, "split gave no parts");
    for (i = 0; i < parts->nelts; i++) {
        const sz_mime_part_t *part =
            &APR_ARRAY_IDX(parts, i, sz_mime_part_t);

        FUZZ_CHECK(part->data != NULL, "part without data");
        FUZZ_CHECK(part->data[part->len] == '\0', "data not terminated");
        if (part->content_id != NULL && plain_id(part->content_id)) {
            const sz_mime_part_t *found = sz_mime_find(parts,
                                                       part->content_id);

            /* Its own part, or nothing when another part's Content-ID
             * reads the same to a lookup: never a wrong part. */
            FUZZ_CHECK(found == NULL || found == part,
                       "a part's own Content-ID finds another part");
            if (id_count(parts, part->content_id) > 1) {
                FUZZ_CHECK(found == NULL, "an ambiguous Content-ID found");
            }
        }
    }
    FUZZ_CHECK(sz_mime_start(parts, NULL) ==
                   &APR_ARRAY_IDX(parts, 0, sz_mime_part_t),
               "start without a parameter is not the first part");
}

/* Written again and split again, the parts keep their data. The second
 * split gets room for longer header lines: the writer puts a space after
 * "Content-Type:" that the sender may have left out. */
static void check_round_trip(const apr_array_header_t *parts,
                             const sz_mime_limits_t *limits,
                             apr_pool_t *pool)
{
    sz_mime_limits_t wide = *limits;
    const sz_mime_part_t *first;
    apr_array_header_t *again = NULL;
    const char *content_type = NULL;
    const char *media_type = NULL;
    const char *error = NULL;
    apr_table_t *params = NULL;
    const char *body;
    apr_size_t len = 0;
    int i;

    body = sz_mime_write(parts, pool, &content_type, &len);
    if (body == NULL) {
        return;     /* a header with a line break: refused by design */
    }
    FUZZ_CHECK(sz_mime_content_type(content_type, pool, &media_type,
                                    &params) == 0,
               "written Content-Type does not parse");
    FUZZ_CHECK(strcmp(media_type, "multipart/related") == 0,
               "written media type");

    wide.max_header_len = 1 << 20;
    wide.max_headers = 1 << 10;
    FUZZ_CHECK(sz_mime_split(body, len, apr_table_get(params, "boundary"),
                             &wide, pool, &again, &error) == 0,
               "written body does not split");
    FUZZ_CHECK(again->nelts == parts->nelts, "part count changed");
    for (i = 0; i < parts->nelts; i++) {
        const sz_mime_part_t *a = &APR_ARRAY_IDX(parts, i, sz_mime_part_t);
        const sz_mime_part_t *b = &APR_ARRAY_IDX(again, i, sz_mime_part_t);

        FUZZ_CHECK(a->len == b->len && memcmp(a->data, b->data, a->len) == 0,
                   "part data changed");
    }
    /* A first part without a usable Content-ID gets no start parameter
     * (the first part is the start then); only a plain id is checked. */
    first = &APR_ARRAY_IDX(parts, 0, sz_mime_part_t);
    if (first->content_id == NULL ||
        (plain_id(first->content_id) &&
         id_count(parts, first->content_id) == 1)) {
        const sz_mime_part_t *start =
            sz_mime_start(again, apr_table_get(params, "start"));

        /* The start names the first part, or nothing when another part's
         * Content-ID reads the same to a lookup (ambiguous): never a
         * wrong part. */
        FUZZ_CHECK(start == NULL ||
                       start == &APR_ARRAY_IDX(again, 0, sz_mime_part_t),
                   "written start names another part");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sz_mime_limits_t limits = { 0, 0, 0 };
    const char *newline = memchr(data, '\n', size);
    apr_array_header_t *parts = NULL;
    const char *media_type = NULL;
    const char *error = NULL;
    apr_table_t *params = NULL;
    const char *header;
    char *body;
    apr_size_t body_len;
    apr_pool_t *pool;

    if (newline == NULL) {
        return 0;
    }
    apr_pool_create(&pool, fuzz_root);

    /* 1. The header as httpd hands it over: a C string. */
    header = apr_pstrmemdup(pool, (const char *)data,
                            (const char *)newline - (const char *)data);
    if (sz_mime_content_type(header, pool, &media_type, &params) != 0) {
        apr_pool_destroy(pool);
        return 0;
    }
    FUZZ_CHECK(media_type != NULL && params != NULL, "parsed without result");

    /* 2. The body in a malloc'd block of exactly its size, not in the
     * pool, so ASan sees a read past its end (a request body has no
     * terminating NUL either). */
    body_len = size - (apr_size_t)(newline + 1 - (const char *)data);
    body = malloc(body_len ? body_len : 1);
    FUZZ_CHECK(body != NULL, "out of memory");
    memcpy(body, newline + 1, body_len);
    if (sz_mime_split(body, body_len, apr_table_get(params, "boundary"),
                      &limits, pool, &parts, &error) != 0) {
        FUZZ_CHECK(error != NULL, "split failed without a reason");
    }
    else {
        check_parts(parts);
        sz_mime_start(parts, apr_table_get(params, "start"));
        check_round_trip(parts, &limits, pool);
    }

    free(body);
    apr_pool_destroy(pool);
    return 0;
}

/* test_mime.c - unit tests of the multipart/related reader and writer
 * (src/mime.c): message shapes real ebMS senders produce (written here),
 * broken, truncated and mutated bodies, limits, and the saved examples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "mime.h"
#include "tap.h"

/* Splits a copy of body in a buffer of exactly its length, so that
 * AddressSanitizer sees any read past the end. */
static apr_array_header_t *split_limited(apr_pool_t *pool, const char *body,
                                         apr_size_t len, const char *boundary,
                                         const sz_mime_limits_t *limits,
                                         const char **error)
{
    apr_array_header_t *parts = NULL;
    char *copy = malloc(len ? len : 1);

    memcpy(copy, body, len);
    if (sz_mime_split(copy, len, boundary, limits, pool, &parts, error) != 0) {
        parts = NULL;
    }
    free(copy);
    return parts;
}

static apr_array_header_t *split(apr_pool_t *pool, const char *body,
                                 const char *boundary, const char **error)
{
    return split_limited(pool, body, strlen(body), boundary, NULL, error);
}

static const sz_mime_part_t *part_at(const apr_array_header_t *parts, int i)
{
    if (parts == NULL || i >= parts->nelts) {
        return NULL;
    }
    return &APR_ARRAY_IDX(parts, i, sz_mime_part_t);
}

static const char *data_of(const apr_array_header_t *parts, int i)
{
    const sz_mime_part_t *part = part_at(parts, i);

    return part ? part->data : NULL;
}

static int count_of(const apr_array_header_t *parts)
{
    return parts ? parts->nelts : -1;
}

/* Whether error is set and mentions word. */
static int error_says(const char *error, const char *word)
{
    return error != NULL && strstr(error, word) != NULL;
}

/* The key of a parameter exactly as stored (apr_table_get ignores case,
 * so it cannot show whether names were lower-cased). */
static int has_key_exactly(const apr_table_t *params, const char *key)
{
    const apr_array_header_t *elts = apr_table_elts(params);
    int i;

    for (i = 0; i < elts->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(elts, i, apr_table_entry_t).key, key) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- Content-Type ---------------------------------------------------- */

static void test_content_type_lower_cases_type_and_names(apr_pool_t *pool)
{
    const char *type;
    apr_table_t *params;
    int rc;

    rc = sz_mime_content_type("Multipart/Related; Type=\"text/xml\"; "
                              "BOUNDARY=\"AbC\"",
                              pool, &type, &params);
    tap_is_int(rc, 0, "content type with upper case parses");
    tap_is(type, "multipart/related", "media type is lower-cased");
    tap_ok(has_key_exactly(params, "boundary") &&
               has_key_exactly(params, "type"),
           "parameter names are lower-cased");
    tap_is(apr_table_get(params, "boundary"), "AbC",
           "parameter values keep their case");
}

static void test_content_type_unquotes_with_escapes(apr_pool_t *pool)
{
    const char *type;
    apr_table_t *params;

    sz_mime_content_type("multipart/related; boundary=\"a\\\"b\\\\c;d\"", pool,
                         &type, &params);
    tap_is(params ? apr_table_get(params, "boundary") : NULL, "a\"b\\c;d",
           "quoted value loses its quotes and backslash escapes");
}

static void test_content_type_tolerates_whitespace(apr_pool_t *pool)
{
    const char *type;
    apr_table_t *params;
    int rc;

    rc = sz_mime_content_type("  multipart/related ;\r\n\ttype = text/xml ;"
                              "boundary=abc;;start=\"<soap@x>\" ; ",
                              pool, &type, &params);
    tap_is_int(rc, 0, "spaces, a folded line and stray ';' are accepted");
    tap_is(params ? apr_table_get(params, "type") : NULL, "text/xml",
           "unquoted value around '=' with spaces");
    tap_is(params ? apr_table_get(params, "boundary") : NULL, "abc",
           "unquoted token value");

    rc = sz_mime_content_type("multipart/related;boundary=\"----=_P_1\";"
                              "start=\"<a@b>\";type=\"text/xml\"",
                              pool, &type, &params);
    tap_ok(rc == 0 &&
               strcmp(apr_table_get(params, "boundary"), "----=_P_1") == 0,
           "parameters without any spaces (NAV shape)");
}

static void test_content_type_start_forms(apr_pool_t *pool)
{
    const char *type;
    apr_table_t *params;

    sz_mime_content_type("multipart/related; start=\"<soap@x>\"", pool, &type,
                         &params);
    tap_is(apr_table_get(params, "start"), "<soap@x>",
           "start with angle brackets is kept as sent");
    sz_mime_content_type("multipart/related; start=\"soap@x\"", pool, &type,
                         &params);
    tap_is(apr_table_get(params, "start"), "soap@x",
           "start without angle brackets (PHINMS shape)");
    sz_mime_content_type("multipart/related; type=\"text/xml\"", pool, &type,
                         &params);
    tap_ok(apr_table_get(params, "start") == NULL,
           "absent start is absent (Hermes shape)");
}

static void test_content_type_rejects_malformed(apr_pool_t *pool)
{
    static const char *const bad[] = {
        "",
        "   ",
        "multipart",
        "multipart/",
        "/related",
        "multipart/related; boundary",
        "multipart/related; boundary=",
        "multipart/related; boundary=\"abc",
        "multipart/related; =abc",
        "multipart/related boundary=abc",
        "multipart/related; boundary=a; Boundary=b",
        "multipart/related; boundary=a b",
    };
    const char *type;
    apr_table_t *params;
    apr_size_t i;
    int all = 1;

    tap_is_int(sz_mime_content_type(NULL, pool, &type, &params), -1,
               "NULL header is refused");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sz_mime_content_type(bad[i], pool, &type, &params) != -1 ||
            type != NULL) {
            tap_diag("accepted: %s", bad[i]);
            all = 0;
        }
    }
    tap_ok(all, "malformed values and a repeated parameter are refused");
}

/* ---- splitting --------------------------------------------------------- */

static void test_split_crlf_two_parts(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;
    const sz_mime_part_t *p;

    parts = split(pool,
                  "--b1\r\n"
                  "Content-Type: text/xml\r\n"
                  "Content-ID: <soap@x>\r\n"
                  "\r\n"
                  "<Envelope/>\r\n"
                  "--b1\r\n"
                  "Content-Type: application/xml\r\n"
                  "Content-ID: <payload@x>\r\n"
                  "\r\n"
                  "<zakLk01/>\r\n"
                  "--b1--\r\n",
                  "b1", &error);
    tap_is_int(count_of(parts), 2, "CRLF body gives two parts");
    p = part_at(parts, 0);
    tap_ok(p && strcmp(p->content_type, "text/xml") == 0 &&
               strcmp(p->content_id, "soap@x") == 0 &&
               p->transfer_encoding == NULL,
           "first part headers: type, id without brackets, no encoding");
    tap_ok(p && p->len == 11 && strcmp(p->data, "<Envelope/>") == 0,
           "first part data ends before the CRLF of the delimiter");
    p = part_at(parts, 1);
    tap_ok(p && strcmp(p->content_id, "payload@x") == 0 &&
               strcmp(p->data, "<zakLk01/>") == 0,
           "second part id and data");
}

static void test_split_lf_only(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "--b1\n"
                  "Content-ID: <a>\n"
                  "\n"
                  "one\n"
                  "two\n"
                  "--b1\n"
                  "Content-ID: <b>\n"
                  "\n"
                  "three\n"
                  "--b1--\n",
                  "b1", &error);
    tap_is_int(count_of(parts), 2, "LF-only body gives two parts");
    tap_is(data_of(parts, 0), "one\ntwo", "LF-only data keeps inner LF");
    tap_is(data_of(parts, 1), "three", "LF-only second part");
}

static void test_split_mixed_line_ends(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "--b1\n"
                  "Content-ID: <a>\r\n"
                  "\n"
                  "one\r\n"
                  "--b1\r\n"
                  "Content-ID: <b>\n"
                  "\r\n"
                  "two\n"
                  "--b1--",
                  "b1", &error);
    tap_is_int(count_of(parts), 2, "mixed CRLF and LF body splits");
    tap_is(data_of(parts, 0), "one", "mixed: CRLF before delimiter cut");
    tap_is(data_of(parts, 1), "two", "mixed: LF before delimiter cut");
}

static void test_split_transport_padding(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "--b1 \t \r\n"
                  "\r\n"
                  "one\r\n"
                  "--b1\t\r\n"
                  "\r\n"
                  "two\r\n"
                  "--b1--  \r\n",
                  "b1", &error);
    tap_is_int(count_of(parts), 2,
               "spaces and tabs after delimiters are transport padding");
    tap_is(data_of(parts, 1), "two", "padding is not part of the data");
}

static void test_split_ignores_preamble_and_epilogue(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "This is a preamble mentioning --b1 in its text.\r\n"
                  "\r\n"
                  "--b1\r\n"
                  "\r\n"
                  "only\r\n"
                  "--b1--\r\n"
                  "epilogue\r\n"
                  "--b1\r\n"
                  "not a part\r\n",
                  "b1", &error);
    tap_is_int(count_of(parts), 1, "preamble and epilogue are no parts");
    tap_is(data_of(parts, 0), "only", "the one part between them");
}

static void test_split_requires_close_delimiter(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool, "--b1\r\n\r\none\r\n--b1\r\n\r\ntwo\r\n", "b1", &error);
    tap_ok(parts == NULL && error_says(error, "truncated"),
           "a body without close delimiter is truncated (%s)", error);

    parts = split(pool, "--b1\r\n\r\none\r\n--b1-", "b1", &error);
    tap_ok(parts == NULL && error_says(error, "truncated"),
           "half a close delimiter is truncated");
}

static void test_split_without_boundary_in_body(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool, "<Envelope/>\r\n", "b1", &error);
    tap_ok(parts == NULL && error_says(error, "not found"),
           "a body without the boundary is refused (%s)", error);
    parts = split(pool, "--b1\r\n\r\nx\r\n--b1--", "", &error);
    tap_ok(parts == NULL && error != NULL, "an empty boundary is refused");
    parts = split(pool, "--b1\r\n\r\nx\r\n--b1--", NULL, &error);
    tap_ok(parts == NULL && error != NULL, "a NULL boundary is refused");
    parts = split(pool, "--b1--\r\n", "b1", &error);
    tap_ok(parts == NULL && error_says(error, "no parts"),
           "a close delimiter alone is refused");
}

static void test_split_boundary_not_at_line_start(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "--b1\r\n"
                  "\r\n"
                  "text --b1 and x--b1--\r\n"
                  " --b1\r\n"
                  "--b1x\r\n"
                  "--b1--x\r\n"
                  "--b1\r\n"
                  "\r\n"
                  "two\r\n"
                  "--b1--",
                  "b1", &error);
    tap_is_int(count_of(parts), 2,
               "boundary inside a line or as a prefix does not split");
    tap_is(data_of(parts, 0),
           "text --b1 and x--b1--\r\n --b1\r\n--b1x\r\n--b1--x",
           "those lines stay content");
}

static void test_split_headers_case_insensitive(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;
    const sz_mime_part_t *a;
    const sz_mime_part_t *b;

    parts = split(pool,
                  "--b1\r\n"
                  "CONTENT-TYPE: text/xml\r\n"
                  "content-id: <a@x>\r\n"
                  "Content-transfer-encoding: BINARY\r\n"
                  "\r\n"
                  "a\r\n"
                  "--b1\r\n"
                  "Content-Type : text/plain\r\n"
                  "Content-Id:<b@x>\r\n"
                  "X-Other: ignored\r\n"
                  "\r\n"
                  "b\r\n"
                  "--b1--",
                  "b1", &error);
    a = part_at(parts, 0);
    b = part_at(parts, 1);
    tap_ok(a && a->content_type && strcmp(a->content_type, "text/xml") == 0 &&
               a->content_id && strcmp(a->content_id, "a@x") == 0,
           "upper and lower case header names are read");
    tap_is(a ? a->transfer_encoding : NULL, "binary",
           "transfer encoding is lower-cased");
    tap_ok(b && b->content_type && strcmp(b->content_type, "text/plain") == 0 &&
               b->content_id && strcmp(b->content_id, "b@x") == 0,
           "Content-Id spelling, space before colon, none after it");
}

static void test_split_unfolds_headers(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;
    const sz_mime_part_t *a;

    parts = split(pool,
                  "--b1\r\n"
                  "Content-Type: text/xml;\r\n"
                  "\tcharset=UTF-8\r\n"
                  "Content-ID:\r\n"
                  " <folded@x>\r\n"
                  "\r\n"
                  "a\r\n"
                  "--b1--",
                  "b1", &error);
    a = part_at(parts, 0);
    tap_is(a ? a->content_type : NULL, "text/xml;\tcharset=UTF-8",
           "a folded Content-Type is joined");
    tap_is(a ? a->content_id : NULL, "folded@x",
           "a folded Content-ID is joined and loses its brackets");
}

static void test_split_content_id_forms(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "--b1\r\nContent-ID: bare@x\r\n\r\na\r\n"
                  "--b1\r\nContent-ID:  < spaced@x >  \r\n\r\nb\r\n"
                  "--b1\r\n\r\nc\r\n"
                  "--b1--",
                  "b1", &error);
    tap_is(part_at(parts, 0) ? part_at(parts, 0)->content_id : NULL, "bare@x",
           "Content-ID without brackets is kept");
    tap_is(part_at(parts, 1) ? part_at(parts, 1)->content_id : NULL,
           " spaced@x ", "only whitespace outside the brackets goes");
    tap_ok(part_at(parts, 2) && part_at(parts, 2)->content_id == NULL &&
               part_at(parts, 2)->content_type == NULL,
           "a part without headers has NULL id and type");
}

static void test_split_decodes_base64(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;
    const sz_mime_part_t *p;

    /* "<Envelope/>" and the bytes 00 ff 00 01 */
    parts = split(pool,
                  "--b1\r\n"
                  "Content-Transfer-Encoding: base64\r\n"
                  "\r\n"
                  "PEVudmVs\r\n"
                  "b3BlLz4=\r\n"
                  "--b1\r\n"
                  "Content-Transfer-Encoding: Base64\r\n"
                  "\r\n"
                  "AP8A\tAQ\n"
                  "--b1\r\n"
                  "Content-Transfer-Encoding: base64\r\n"
                  "\r\n"
                  "AP8AAQ\r\n"
                  "--b1--",
                  "b1", &error);
    tap_is(data_of(parts, 0), "<Envelope/>", "base64 across lines is decoded");
    p = part_at(parts, 1);
    tap_ok(p && p->len == 4 && memcmp(p->data, "\0\377\0\1", 4) == 0 &&
               p->data[4] == '\0',
           "base64 with NUL bytes, tabs and no padding decodes to 4 bytes");
    p = part_at(parts, 2);
    tap_ok(p && p->len == 4, "base64 without padding is accepted");
}

static void test_split_refuses_bad_base64(apr_pool_t *pool)
{
    static const char *const bad[] = {
        "PEVu*mVs",     "PEVudmVsb", "PE==VudmVs",
        "PEVudmVs====", "====",      "PEVudmVs=",
    };
    const char *error = NULL;
    apr_size_t i;
    int all = 1;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *body = apr_pstrcat(pool,
                                       "--b1\r\n"
                                       "Content-Transfer-Encoding: base64\r\n"
                                       "\r\n",
                                       bad[i], "\r\n--b1--", NULL);

        if (split(pool, body, "b1", &error) != NULL ||
            !error_says(error, "base64")) {
            tap_diag("accepted base64: %s", bad[i]);
            all = 0;
        }
    }
    tap_ok(all, "invalid characters and impossible lengths in base64");
}

static void test_split_decodes_quoted_printable(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "--b1\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n"
                  "\r\n"
                  "a=3Db=3d c   \r\n"
                  "soft=\r\n"
                  "break=  \n"
                  "end =ZZ=\r\n"
                  "--b1--",
                  "b1", &error);
    tap_is(data_of(parts, 0), "a=b= c\r\nsoftbreakend =ZZ",
           "quoted-printable: hex, soft breaks, trailing space, bad '='");
}

static void test_split_keeps_7bit_8bit_binary(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "--b1\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
                  "PEVu=3D\r\n"
                  "--b1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                  "caf\303\251\r\n"
                  "--b1\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                  "PEVu\r\n"
                  "--b1--",
                  "b1", &error);
    tap_is(data_of(parts, 0), "PEVu=3D", "7bit data is kept as is");
    tap_is(data_of(parts, 1), "caf\303\251", "8bit data is kept as is");
    tap_is(data_of(parts, 2), "PEVu", "binary data is kept as is");
}

static void test_split_names_unknown_encoding(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool,
                  "--b1\r\nContent-Transfer-Encoding: X-UUEncode\r\n\r\n"
                  "begin\r\n--b1--",
                  "b1", &error);
    tap_ok(parts == NULL && error_says(error, "x-uuencode"),
           "an unknown transfer encoding is refused by name (%s)", error);
}

static void test_split_binary_with_nul_bytes(apr_pool_t *pool)
{
    static const char body[] = "--b1\r\n"
                               "Content-Type: application/octet-stream\r\n"
                               "\r\n"
                               "\0a\0\r\n--b2\0\n\r\n"
                               "--b1--";
    const char *error = NULL;
    apr_array_header_t *parts;
    const sz_mime_part_t *p;

    parts = split_limited(pool, body, sizeof(body) - 1, "b1", NULL, &error);
    p = part_at(parts, 0);
    tap_ok(p && p->len == 11 && memcmp(p->data, "\0a\0\r\n--b2\0\n", 11) == 0 &&
               p->data[11] == '\0',
           "NUL bytes inside a part are data; len counts them");
}

static void test_split_cuts_only_the_last_line_end(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts =
        split(pool, "--b1\r\n\r\nabc\r\n\r\n--b1\r\n\r\n\r\n--b1\n\n\n\n--b1--",
              "b1", &error);
    tap_is(data_of(parts, 0), "abc\r\n",
           "one CRLF before the delimiter goes, the one before it stays");
    tap_is(data_of(parts, 1), "", "a blank line then the delimiter: empty");
    tap_is(data_of(parts, 2), "\n", "LF variant keeps one LF of two");
}

static void test_split_empty_parts(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;
    const sz_mime_part_t *p;

    parts = split(pool,
                  "--b1\r\nContent-ID: <a>\r\n\r\n--b1\r\n"
                  "Content-ID: <b>\r\n--b1\r\n--b1--",
                  "b1", &error);
    tap_is_int(count_of(parts), 3, "parts with no content are parts");
    p = part_at(parts, 1);
    tap_ok(p && p->len == 0 && strcmp(p->content_id, "b") == 0,
           "headers without an empty line: no content, headers read");
    p = part_at(parts, 2);
    tap_ok(p && p->len == 0 && p->content_id == NULL,
           "a delimiter right after a delimiter: an empty part");
}

static void test_split_refuses_bad_headers(apr_pool_t *pool)
{
    const char *error = NULL;
    apr_array_header_t *parts;

    parts = split(pool, "--b1\r\n<Envelope/>\r\n--b1--", "b1", &error);
    tap_ok(parts == NULL && error_says(error, "colon"),
           "content without header block is refused (%s)", error);
    parts = split(pool,
                  "--b1\r\nContent-ID: <a>\r\nContent-Id: <b>\r\n\r\n"
                  "x\r\n--b1--",
                  "b1", &error);
    tap_ok(parts == NULL && error_says(error, "duplicate"),
           "two Content-IDs in one part are refused (%s)", error);
}

/* A body of n empty parts. */
static const char *body_of_parts(apr_pool_t *pool, int n)
{
    const char *body = "";
    int i;

    for (i = 0; i < n; i++) {
        body = apr_pstrcat(pool, body, "--b1\r\n\r\nx\r\n", NULL);
    }
    return apr_pstrcat(pool, body, "--b1--\r\n", NULL);
}

/* A body of one part with n headers, the first value value_len long. */
static const char *body_of_headers(apr_pool_t *pool, int n,
                                   apr_size_t value_len)
{
    char *value = apr_palloc(pool, value_len + 1);
    const char *body;
    int i;

    memset(value, 'v', value_len);
    value[value_len] = '\0';
    body = apr_pstrcat(pool, "--b1\r\nX-Long: ", value, "\r\n", NULL);
    for (i = 1; i < n; i++) {
        body = apr_pstrcat(pool, body, "X-Header: ", apr_itoa(pool, i), "\r\n",
                           NULL);
    }
    return apr_pstrcat(pool, body, "\r\nx\r\n--b1--", NULL);
}

static void test_split_default_limits(apr_pool_t *pool)
{
    const char *error = NULL;

    tap_is_int(count_of(split(pool, body_of_parts(pool, 16), "b1", &error)), 16,
               "16 parts are allowed by default");
    tap_ok(split(pool, body_of_parts(pool, 17), "b1", &error) == NULL &&
               error_says(error, "more than 16 parts"),
           "17 parts are refused by default (%s)", error);

    /* "X-Long: " is 8 bytes of the line. */
    tap_is_int(
        count_of(split(pool, body_of_headers(pool, 1, 4096 - 8), "b1", &error)),
        1, "a header line of 4096 bytes is allowed");
    tap_ok(split(pool, body_of_headers(pool, 1, 4097 - 8), "b1", &error) ==
                   NULL &&
               error_says(error, "longer than 4096"),
           "a header line of 4097 bytes is refused (%s)", error);

    tap_is_int(
        count_of(split(pool, body_of_headers(pool, 32, 1), "b1", &error)), 1,
        "32 headers are allowed");
    tap_ok(split(pool, body_of_headers(pool, 33, 1), "b1", &error) == NULL &&
               error_says(error, "more than 32 headers"),
           "33 headers are refused (%s)", error);
}

static void test_split_given_limits(apr_pool_t *pool)
{
    sz_mime_limits_t limits = {2, 20, 3};
    const char *error = NULL;
    const char *body;

    body = body_of_parts(pool, 3);
    tap_ok(split_limited(pool, body, strlen(body), "b1", &limits, &error) ==
                   NULL &&
               error_says(error, "more than 2 parts"),
           "max_parts 2 refuses three parts");

    body = body_of_headers(pool, 1, 12);
    tap_ok(split_limited(pool, body, strlen(body), "b1", &limits, &error) !=
               NULL,
           "max_header_len 20 allows a 20 byte line");
    body = body_of_headers(pool, 1, 13);
    tap_ok(split_limited(pool, body, strlen(body), "b1", &limits, &error) ==
                   NULL &&
               error_says(error, "longer than 20"),
           "max_header_len 20 refuses a 21 byte line");
    body = "--b1\r\nX-A: 0123456789\r\n 0123456789\r\n\r\nx\r\n--b1--";
    tap_ok(split_limited(pool, body, strlen(body), "b1", &limits, &error) ==
                   NULL &&
               error_says(error, "folded header longer"),
           "max_header_len counts the unfolded header (%s)", error);

    body = body_of_headers(pool, 4, 1);
    tap_ok(split_limited(pool, body, strlen(body), "b1", &limits, &error) ==
                   NULL &&
               error_says(error, "more than 3 headers"),
           "max_headers 3 refuses four headers");
}

/* ---- broken input ------------------------------------------------------ */

static const char small_message[] =
    "--b1\r\n"
    "Content-Type: text/xml\r\n"
    "Content-ID: <a>\r\n"
    "\r\n"
    "<x/>\r\n"
    "--b1\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID:\r\n"
    " <b>\r\n"
    "\r\n"
    "PHkvPg==\r\n"
    "--b1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "z=3D1=\r\n"
    "--b1--";

static void test_split_every_truncation_fails(apr_pool_t *pool)
{
    apr_size_t len = sizeof(small_message) - 1;
    apr_size_t cut;
    int failed = 0;
    int explained = 0;

    tap_is_int(
        count_of(split_limited(pool, small_message, len, "b1", NULL, NULL)), 3,
        "the small message itself splits into three parts");
    for (cut = 0; cut < len; cut++) {
        const char *error = NULL;

        if (split_limited(pool, small_message, cut, "b1", NULL, &error) ==
            NULL) {
            failed++;
            explained += error_says(error, "truncated") ||
                         error_says(error, "not found");
        }
    }
    tap_is_int(failed, (long long)len, "every shorter prefix is refused");
    tap_is_int(explained, (long long)len,
               "each as truncated or without boundary");
}

/* A small deterministic generator, so a failing run can be repeated. */
static apr_uint32_t fuzz_state = 2463534242u;

static apr_uint32_t fuzz_next(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 17;
    fuzz_state ^= fuzz_state << 5;
    return fuzz_state;
}

/* Mutates buffer in place (it needs room for len + 32) and returns the new
 * length; the bytes chosen favour what the parser reacts to. */
static apr_size_t mutate(char *buffer, apr_size_t len)
{
    static const char alphabet[] = "-\r\n \t:=<>b1%AZaz/+\0\377";
    int rounds = 1 + (int)(fuzz_next() % 4);

    while (rounds-- > 0) {
        apr_size_t at = len ? fuzz_next() % len : 0;
        apr_size_t span = 1 + fuzz_next() % 8;

        switch (fuzz_next() % 5) {
        case 0:
            if (len) {
                buffer[at] = alphabet[fuzz_next() % (sizeof(alphabet) - 1)];
            }
            break;
        case 1:
            if (len) {
                buffer[at] = (char)fuzz_next();
            }
            break;
        case 2:
            span = span > len - at ? len - at : span;
            memmove(buffer + at, buffer + at + span, len - at - span);
            len -= span;
            break;
        case 3:
            span = span > len - at ? len - at : span;
            memmove(buffer + at + span, buffer + at, len - at);
            len += span;
            break;
        default:
            len = at;
            break;
        }
    }
    return len;
}

static void test_split_survives_mutations(apr_pool_t *pool)
{
    apr_size_t base = sizeof(small_message) - 1;
    sz_mime_limits_t limits = {4, 64, 4};
    char *buffer = malloc(2 * base + 64);
    int ok = 0;
    int refused = 0;
    int sound = 1;
    int i;

    for (i = 0; i < 20000; i++) {
        apr_pool_t *scratch;
        apr_array_header_t *parts;
        const char *error = NULL;
        apr_size_t len = base;
        int j;

        memcpy(buffer, small_message, base);
        len = mutate(buffer, len);
        if (len > 2 * base) {
            len = 2 * base;
        }
        apr_pool_create(&scratch, pool);
        parts = split_limited(scratch, buffer, len, "b1",
                              i % 2 ? &limits : NULL, &error);
        if (parts == NULL) {
            refused++;
            sound &= error != NULL;
        }
        else {
            ok++;
            sound &= parts->nelts >= 1 && parts->nelts <= 16;
            for (j = 0; j < parts->nelts; j++) {
                const sz_mime_part_t *p = part_at(parts, j);

                sound &=
                    p->data != NULL && p->len <= len && p->data[p->len] == '\0';
            }
        }
        apr_pool_destroy(scratch);
    }
    free(buffer);
    tap_ok(sound,
           "20000 mutated bodies: parts or an error, never both "
           "(%d split, %d refused)",
           ok, refused);
    tap_ok(ok > 0 && refused > 0, "the mutations reach both outcomes");
}

static void test_content_type_survives_noise(apr_pool_t *pool)
{
    static const char alphabet[] = "mt/; =\"\\\tab-Xx\r\n";
    char header[40];
    int sound = 1;
    int i;

    for (i = 0; i < 20000; i++) {
        apr_size_t len = fuzz_next() % (sizeof(header) - 1);
        apr_size_t j;
        const char *type;
        apr_table_t *params;

        for (j = 0; j < len; j++) {
            header[j] = alphabet[fuzz_next() % (sizeof(alphabet) - 1)];
        }
        header[len] = '\0';
        if (sz_mime_content_type(header, pool, &type, &params) == 0) {
            sound &=
                type != NULL && strchr(type, '/') != NULL && params != NULL;
        }
        else {
            sound &= type == NULL && params == NULL;
        }
    }
    tap_ok(sound, "20000 noisy Content-Type values parse or are refused");
}

/* ---- finding parts ----------------------------------------------------- */

static apr_array_header_t *three_parts(apr_pool_t *pool)
{
    return split(pool,
                 "--b1\r\nContent-ID: <soap@gemeente.example>\r\n\r\n"
                 "s\r\n"
                 "--b1\r\nContent-ID: payload@gemeente.example\r\n\r\n"
                 "p\r\n"
                 "--b1\r\nContent-ID: <a b%c@x>\r\n\r\n"
                 "q\r\n"
                 "--b1--",
                 "b1", NULL);
}

static void test_find_compares_without_brackets_and_cid(apr_pool_t *pool)
{
    apr_array_header_t *parts = three_parts(pool);
    const sz_mime_part_t *p;

    p = sz_mime_find(parts, "soap@gemeente.example");
    tap_is(p ? p->data : NULL, "s", "find by bare id");
    p = sz_mime_find(parts, "<payload@gemeente.example>");
    tap_is(p ? p->data : NULL, "p", "find with brackets, part without");
    p = sz_mime_find(parts, "cid:payload@gemeente.example");
    tap_is(p ? p->data : NULL, "p", "find by cid: reference");
    p = sz_mime_find(parts, "CID:<soap@gemeente.example>");
    tap_is(p ? p->data : NULL, "s", "find by CID: with brackets");
    p = sz_mime_find(parts, "cid:a%20b%25c@x");
    tap_is(p ? p->data : NULL, "q", "cid: URL escapes are undone");
    tap_ok(sz_mime_find(parts, "cid:other@x") == NULL &&
               sz_mime_find(parts, "soap@gemeente") == NULL &&
               sz_mime_find(parts, "soap@gemeente.example.nl") == NULL &&
               sz_mime_find(parts, "SOAP@gemeente.example") == NULL &&
               sz_mime_find(parts, "") == NULL &&
               sz_mime_find(parts, NULL) == NULL &&
               sz_mime_find(NULL, "soap@gemeente.example") == NULL,
           "no match for other, shorter, longer or empty ids");
}

static void test_find_ignores_empty_ids(apr_pool_t *pool)
{
    apr_array_header_t *parts;

    parts =
        split(pool, "--b1\r\nContent-ID: <>\r\n\r\nx\r\n--b1--", "b1", NULL);
    tap_ok(parts && sz_mime_find(parts, "cid:") == NULL &&
               sz_mime_find(parts, "<>") == NULL,
           "an empty reference does not find a part with an empty id");
}

static void test_start_picks_named_or_first(apr_pool_t *pool)
{
    apr_array_header_t *parts = three_parts(pool);
    apr_array_header_t *none = apr_array_make(pool, 1, sizeof(sz_mime_part_t));
    const sz_mime_part_t *p;

    p = sz_mime_start(parts, NULL);
    tap_is(p ? p->data : NULL, "s", "no start: the first part");
    p = sz_mime_start(parts, "<payload@gemeente.example>");
    tap_is(p ? p->data : NULL, "p", "start with brackets names a part");
    p = sz_mime_start(parts, "payload@gemeente.example");
    tap_is(p ? p->data : NULL, "p", "start without brackets names a part");
    tap_ok(sz_mime_start(parts, "<missing@x>") == NULL,
           "a start naming no part gives NULL, not the first part");
    tap_ok(sz_mime_start(none, NULL) == NULL, "no parts: no start part");
}

/* ---- writing ----------------------------------------------------------- */

static void add_part(apr_array_header_t *parts, const char *type,
                     const char *id, const char *data, apr_size_t len)
{
    sz_mime_part_t *part = apr_array_push(parts);

    memset(part, 0, sizeof(*part));
    part->content_type = type;
    part->content_id = id;
    part->data = data;
    part->len = len;
}

static void test_write_then_split_round_trip(apr_pool_t *pool)
{
    apr_array_header_t *out = apr_array_make(pool, 3, sizeof(sz_mime_part_t));
    const char *content_type;
    const char *media_type;
    const char *boundary;
    apr_table_t *params;
    apr_array_header_t *back;
    const sz_mime_part_t *start;
    const char *body;
    const char *error = NULL;
    apr_size_t len;
    int same = 1;
    int i;

    add_part(out, "text/xml; charset=UTF-8", "soap@x", "<Envelope/>", 11);
    add_part(out, "application/xml", "<payload@x>", "--\r\n\r\n<a/>\r\n", 13);
    add_part(out, "application/octet-stream", "bin@x", "\0\r\n\0", 4);

    body = sz_mime_write(out, pool, &content_type, &len);
    tap_ok(body != NULL && len > 4 && body[len] == '\0' &&
               memcmp(body + len - 4, "--\r\n", 4) == 0,
           "write gives a body ending in the close delimiter at len");
    tap_ok(sz_mime_content_type(content_type, pool, &media_type, &params) ==
                   0 &&
               strcmp(media_type, "multipart/related") == 0,
           "write gives a multipart/related content type");
    tap_is(apr_table_get(params, "type"), "text/xml",
           "type parameter is text/xml");
    tap_is(apr_table_get(params, "start"), "<soap@x>",
           "start parameter names the first part in brackets");
    boundary = apr_table_get(params, "boundary");
    tap_ok(boundary && strlen(boundary) == 32 &&
               strspn(boundary, "0123456789abcdef") == 32,
           "boundary is 32 random hex digits (%s)", boundary);
    tap_ok(strstr(body, "Content-ID: <payload@x>\r\n") != NULL &&
               strstr(body, "<<") == NULL &&
               strstr(body, "Content-Transfer-Encoding") == NULL,
           "Content-ID in one pair of brackets, no transfer encoding");

    back = split_limited(pool, body, len, boundary, NULL, &error);
    tap_is_int(count_of(back), 3, "the written body splits into 3 parts");
    for (i = 0; back && i < 3; i++) {
        const sz_mime_part_t *a = part_at(out, i);
        const sz_mime_part_t *b = part_at(back, i);

        same &= a->len == b->len && memcmp(a->data, b->data, a->len) == 0 &&
                strcmp(a->content_type, b->content_type) == 0;
    }
    tap_ok(same, "round trip keeps types and data byte for byte");
    tap_is(part_at(back, 1) ? part_at(back, 1)->content_id : NULL, "payload@x",
           "round trip keeps the Content-ID");
    start = sz_mime_start(back, apr_table_get(params, "start"));
    tap_is(start ? start->data : NULL, "<Envelope/>",
           "the start parameter finds the SOAP part");
}

static void test_write_uses_fresh_boundaries(apr_pool_t *pool)
{
    apr_array_header_t *out = apr_array_make(pool, 1, sizeof(sz_mime_part_t));
    const char *first;
    const char *second;
    apr_size_t len;

    add_part(out, "text/xml", "soap@x", "<a/>", 4);
    sz_mime_write(out, pool, &first, &len);
    sz_mime_write(out, pool, &second, &len);
    tap_ok(first && second && strcmp(first, second) != 0,
           "two writes use two boundaries");
}

static void test_write_refuses_header_injection(apr_pool_t *pool)
{
    apr_array_header_t *out = apr_array_make(pool, 1, sizeof(sz_mime_part_t));
    const char *content_type;
    apr_size_t len = 99;

    add_part(out, "text/xml\r\nX-Evil: 1", "soap@x", "<a/>", 4);
    tap_ok(sz_mime_write(out, pool, &content_type, &len) == NULL && len == 0 &&
               content_type == NULL,
           "a line break in a part header value is refused");
}

/* ---- message shapes of real senders (our own text) ------------------- */

static void test_hermes_shape_without_start(apr_pool_t *pool)
{
    const char *type;
    apr_table_t *params;
    apr_array_header_t *parts;
    const sz_mime_part_t *start;

    sz_mime_content_type("multipart/related; type=\"text/xml\"; "
                         "boundary=\"----=_Part_7_1234.5678\"",
                         pool, &type, &params);
    parts = split(pool,
                  "------=_Part_7_1234.5678\n"
                  "Content-Type: text/xml; charset=UTF-8\n"
                  "Content-Id: <soappart>\n"
                  "\n"
                  "<?xml version=\"1.0\"?><Envelope/>\n"
                  "------=_Part_7_1234.5678\n"
                  "Content-Type: application/octet-stream\n"
                  "Content-Id: <Payload-0>\n"
                  "\n"
                  "A line with ------=_Part_7_1234.5678 in it.\n"
                  "------=_Part_7_1234.5678--\n",
                  apr_table_get(params, "boundary"), NULL);
    start = sz_mime_start(parts, apr_table_get(params, "start"));
    tap_is_int(count_of(parts), 2, "Hermes shape: two parts, LF only");
    tap_is(start ? start->content_id : NULL, "soappart",
           "Hermes shape: no start, the first part is the SOAP part");
    tap_ok(sz_mime_find(parts, "cid:Payload-0") != NULL,
           "Hermes shape: payload found by cid");
}

static void test_phineas_shape_start_without_brackets(apr_pool_t *pool)
{
    const char *type;
    apr_table_t *params;
    apr_array_header_t *parts;
    const sz_mime_part_t *start;
    const sz_mime_part_t *payload;

    sz_mime_content_type("multipart/related; type=\"text/xml\"; "
                         "boundary=\"4711\"; start=\"envelope@host.example\"",
                         pool, &type, &params);
    parts = split(pool,
                  "--4711\n"
                  "Content-ID: <payload@host.example>\n"
                  "Content-Type: Application/Octet-Stream\n"
                  "Content-Transfer-Encoding: base64\n"
                  "Content-Disposition: attachment; name=\"x\"\n"
                  "\n"
                  "aGFsbG8NCg==\n"
                  "--4711\n"
                  "Content-ID: <envelope@host.example>\n"
                  "Content-Type: text/xml\n"
                  "\n"
                  "<Envelope/>\n"
                  "--4711--",
                  apr_table_get(params, "boundary"), NULL);
    start = sz_mime_start(parts, apr_table_get(params, "start"));
    payload = sz_mime_find(parts, "cid:payload@host.example");
    tap_is(start ? start->data : NULL, "<Envelope/>",
           "PHINMS shape: start without brackets finds a later part");
    tap_is(payload ? payload->data : NULL, "hallo\r\n",
           "PHINMS shape: base64 attachment decoded");
}

static void test_nav_shape_base64_soap_part(apr_pool_t *pool)
{
    const char *type;
    apr_table_t *params;
    apr_array_header_t *parts;
    const sz_mime_part_t *start;

    /* "<SOAP:Envelope/>" in base64, broken over lines of 12. */
    sz_mime_content_type("multipart/related;boundary=\"----=_Part_1_-2.3\";"
                         "start=\"<soappart-1@nav.example>\";"
                         "type=\"text/xml\"",
                         pool, &type, &params);
    parts = split(pool,
                  "------=_Part_1_-2.3\r\n"
                  "Content-Type: text/xml\r\n"
                  "Content-ID: <soappart-1@nav.example>\r\n"
                  "Content-Transfer-Encoding: base64\r\n"
                  "\r\n"
                  "PFNPQVA6RW52\r\n"
                  "ZWxvcGUvPg==\r\n"
                  "------=_Part_1_-2.3--",
                  apr_table_get(params, "boundary"), NULL);
    start = sz_mime_start(parts, apr_table_get(params, "start"));
    tap_is(start ? start->data : NULL, "<SOAP:Envelope/>",
           "NAV shape: base64 SOAP part found by start and decoded");
}

/* ---- saved example messages ---------------------------------------- */

typedef struct {
    const char *path;
    int parts;
} example_t;

/* Reads a whole file into the pool, NUL-terminated. */
static char *read_all(apr_pool_t *pool, const char *path, apr_size_t *len)
{
    FILE *file = fopen(path, "rb");
    char *data;
    long size;

    if (file == NULL) {
        return NULL;
    }
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    data = apr_palloc(pool, (apr_size_t)size + 1);
    *len = fread(data, 1, (apr_size_t)size, file);
    data[*len] = '\0';
    fclose(file);
    return data;
}

/* Separates the transport headers from the multipart body of a saved
 * message: headers end at an empty line or, as in one NAV capture, at the
 * first delimiter line; a file that starts with "--" has no headers and
 * names its boundary on the first line. */
static const char *body_of_message(apr_pool_t *pool, const char *text,
                                   apr_size_t *len, const char **boundary,
                                   const char **start)
{
    const char *content_type = NULL;
    int in_content_type = 0;
    const char *line = text;
    const char *media_type;
    apr_table_t *params;

    *boundary = NULL;
    *start = NULL;
    if (strncmp(text, "--", 2) == 0) {
        apr_size_t n = strcspn(text + 2, " \t\r\n");

        *boundary = apr_pstrmemdup(pool, text + 2, n);
        return text;
    }

    while (*line && *line != '\r' && *line != '\n' &&
           strncmp(line, "--", 2) != 0) {
        const char *end = strchr(line, '\n');
        apr_size_t n = end ? (apr_size_t)(end - line) : strlen(line);

        if (strncasecmp(line, "Content-Type:", 13) == 0) {
            content_type = apr_pstrmemdup(pool, line + 13, n - 13);
            in_content_type = 1;
        }
        else if ((*line == ' ' || *line == '\t') && in_content_type) {
            content_type = apr_pstrcat(pool, content_type,
                                       apr_pstrmemdup(pool, line, n), NULL);
        }
        else {
            in_content_type = 0;
        }
        line = end ? end + 1 : line + n;
    }
    if (*line == '\r') {
        line++;
    }
    if (*line == '\n') {
        line++;
    }

    if (content_type == NULL ||
        sz_mime_content_type(content_type, pool, &media_type, &params) != 0) {
        return NULL;
    }
    *boundary = apr_table_get(params, "boundary");
    *start = apr_table_get(params, "start");
    *len -= (apr_size_t)(line - text);
    return line;
}

static int has_text(const sz_mime_part_t *part, const char *text)
{
    apr_size_t n = strlen(text);
    apr_size_t i;

    for (i = 0; part && i + n <= part->len; i++) {
        if (memcmp(part->data + i, text, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_saved_examples_split(apr_pool_t *pool)
{
    static const example_t examples[] = {
        {"constructed/lz-zakLk01-osb-rm.http", 2},
        {"hermes/http/InboundMessageProcessorTest-test1.msg", 2},
        {"hermes/http/InboundMessageProcessorTest-test2.msg", 2},
        {"hermes/http/InboundMessageProcessorTest-test3.msg", 2},
        {"hermes/http/InboundMessageProcessorTest-test4.msg", 2},
        {"phineas-c/ping.txt", 1},
        {"phineas-c/request.txt", 2},
        {"phineas-c/response.txt", 2},
        {"phineas-c/responsef.txt", 2},
        {"navikt-ebxml-processor/harBorgerEgenandelFritakRequest", 2},
        {"navikt-ebxml-processor/harBorgerEgenanderlFritakResponse", 2},
        {"navikt-ebxml-processor/"
         "oppgjorsmelding-2023_08_29T12_56_58_328.msg",
         2},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        const char *relative =
            apr_pstrcat(pool, "data/examples/ebms/", examples[i].path, NULL);
        const char *path = tap_shared(pool, relative);
        const char *error = NULL;
        const char *boundary = NULL;
        const char *start = NULL;
        const char *text;
        const char *body;
        apr_array_header_t *parts;
        apr_size_t len = 0;

        if (path == NULL) {
            tap_ok(1, "%s # SKIP not in ../shared", examples[i].path);
            continue;
        }
        text = read_all(pool, path, &len);
        body =
            text ? body_of_message(pool, text, &len, &boundary, &start) : NULL;
        if (!tap_ok(body != NULL && boundary != NULL, "%s: boundary found",
                    examples[i].path)) {
            continue;
        }
        parts = split_limited(pool, body, len, boundary, NULL, &error);
        if (!tap_is_int(count_of(parts), examples[i].parts, "%s: %d parts",
                        examples[i].path, examples[i].parts)) {
            tap_diag("error: %s", error ? error : "(none)");
            continue;
        }
        tap_ok(has_text(sz_mime_start(parts, start), "Envelope"),
               "%s: the start part holds the SOAP Envelope", examples[i].path);
    }
}

int main(int argc, char **argv)
{
    apr_pool_t *pool = tap_start();

    test_content_type_lower_cases_type_and_names(pool);
    test_content_type_unquotes_with_escapes(pool);
    test_content_type_tolerates_whitespace(pool);
    test_content_type_start_forms(pool);
    test_content_type_rejects_malformed(pool);
    test_content_type_survives_noise(pool);

    test_split_crlf_two_parts(pool);
    test_split_lf_only(pool);
    test_split_mixed_line_ends(pool);
    test_split_transport_padding(pool);
    test_split_ignores_preamble_and_epilogue(pool);
    test_split_requires_close_delimiter(pool);
    test_split_without_boundary_in_body(pool);
    test_split_boundary_not_at_line_start(pool);
    test_split_headers_case_insensitive(pool);
    test_split_unfolds_headers(pool);
    test_split_content_id_forms(pool);
    test_split_decodes_base64(pool);
    test_split_refuses_bad_base64(pool);
    test_split_decodes_quoted_printable(pool);
    test_split_keeps_7bit_8bit_binary(pool);
    test_split_names_unknown_encoding(pool);
    test_split_binary_with_nul_bytes(pool);
    test_split_cuts_only_the_last_line_end(pool);
    test_split_empty_parts(pool);
    test_split_refuses_bad_headers(pool);
    test_split_default_limits(pool);
    test_split_given_limits(pool);
    test_split_every_truncation_fails(pool);
    test_split_survives_mutations(pool);

    test_find_compares_without_brackets_and_cid(pool);
    test_find_ignores_empty_ids(pool);
    test_start_picks_named_or_first(pool);

    test_write_then_split_round_trip(pool);
    test_write_uses_fresh_boundaries(pool);
    test_write_refuses_header_injection(pool);

    test_hermes_shape_without_start(pool);
    test_phineas_shape_start_without_brackets(pool);
    test_nav_shape_base64_soap_part(pool);
    test_saved_examples_split(pool);
    return tap_done();
}

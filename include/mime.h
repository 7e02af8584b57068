/* mime.h - MIME multipart/related as ebMS 2.0 uses it (SOAP with
 * Attachments): reading the Content-Type header, splitting a body into
 * parts under limits, finding the start part and parts by Content-ID,
 * and writing such a body. Senders differ: start with or without angle
 * brackets or absent, Content-ID with or without brackets, 8bit, binary
 * or base64 parts, CRLF or bare LF line ends. */
#ifndef STUFLZ_MIME_H
#define STUFLZ_MIME_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    const char *content_type;       /* header value as sent, or NULL */
    const char *content_id;         /* without angle brackets, or NULL */
    const char *transfer_encoding;  /* lower-case, or NULL */
    const char *data;               /* decoded body, NUL-terminated */
    apr_size_t len;
} sz_mime_part_t;

typedef struct {
    int max_parts;                  /* 0: 16 */
    apr_size_t max_header_len;      /* one header line; 0: 4096 */
    int max_headers;                /* per part; 0: 32 */
} sz_mime_limits_t;

/* Parses a Content-Type value into its media type (lower-case) and its
 * parameters (names lower-case, quotes removed). Returns 0 or -1. */
int sz_mime_content_type(const char *header, apr_pool_t *pool,
                         const char **media_type, apr_table_t **params);

/* Splits a multipart body. Returns 0 with *parts (of sz_mime_part_t), or
 * -1 with *error: no boundary found, missing close delimiter (truncated),
 * too many parts, a header line too long, an undecodable base64 part, an
 * unknown transfer encoding. */
int sz_mime_split(const char *body, apr_size_t len, const char *boundary,
                  const sz_mime_limits_t *limits, apr_pool_t *pool,
                  apr_array_header_t **parts, const char **error);

/* The part whose Content-ID equals id; id and the part's Content-ID are
 * compared without angle brackets and without a "cid:" prefix. NULL when
 * none, or when two parts carry that Content-ID (ambiguous). */
const sz_mime_part_t *sz_mime_find(const apr_array_header_t *parts,
                                   const char *id);

/* The start part: the one named by the start parameter (with or without
 * brackets), or the first part when start is NULL. NULL when start names
 * no part. */
const sz_mime_part_t *sz_mime_start(const apr_array_header_t *parts,
                                    const char *start);

/* Writes a multipart/related body of parts (content_type, content_id and
 * data are used; 8bit, CRLF) with a fresh boundary; *content_type gets
 * the matching header value (type="text/xml", start = the first part).
 * Returns the body; *len its length. */
const char *sz_mime_write(const apr_array_header_t *parts, apr_pool_t *pool,
                          const char **content_type, apr_size_t *len);

#endif

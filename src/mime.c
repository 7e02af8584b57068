/* mime.c - multipart/related for ebMS 2.0 (see mime.h): reading the
 * Content-Type header, splitting a body under limits and writing one.
 * A body is scanned by its length, never up to a NUL byte. */
#include "mime.h"

#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/rand.h>

#define MIME_DEFAULT_MAX_PARTS 16
#define MIME_DEFAULT_MAX_HEADER_LEN 4096
#define MIME_DEFAULT_MAX_HEADERS 32

/* Random bytes in a boundary we write: 128 bits cannot collide by
 * chance, and we still check the parts for it. */
#define MIME_BOUNDARY_RANDOM 16
#define MIME_BOUNDARY_TRIES 4

/* Where one delimiter line sits in the body. */
typedef struct {
    apr_size_t line; /* offset of its first '-' */
    apr_size_t next; /* offset just after its line end */
    int close;       /* "--boundary--" */
} mime_delimiter_t;

/* The limits in force for one split. */
typedef struct {
    int max_parts;
    apr_size_t max_header_len;
    int max_headers;
} mime_bounds_t;

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *lower(char *text)
{
    char *p;

    for (p = text; *p; p++) {
        *p = (char)apr_tolower((unsigned char)*p);
    }
    return text;
}

/* ---- Content-Type ---------------------------------------------------- */

/* A token ends at whitespace, a separator of RFC 2045 or the end. */
static int is_token_char(char c)
{
    return c > ' ' && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static const char *skip_space(const char *p)
{
    while (is_space(*p)) {
        p++;
    }
    return p;
}

static const char *parse_token(const char *p, apr_pool_t *pool, char **token)
{
    const char *start = p;

    while (is_token_char(*p)) {
        p++;
    }
    *token = p > start ? apr_pstrmemdup(pool, start, p - start) : NULL;
    return p;
}

/* An unquoted value. RFC 2045 wants a token, but senders write
 * type=text/xml bare, so anything up to whitespace or ';' is taken. */
static const char *parse_bare_value(const char *p, apr_pool_t *pool,
                                    char **value)
{
    const char *start = p;

    while (*p > ' ' && *p != ';' && *p != '"' && *p != 0x7f) {
        p++;
    }
    *value = p > start ? apr_pstrmemdup(pool, start, p - start) : NULL;
    return p;
}

/* A quoted string after its opening quote: a backslash takes the next
 * character literally. NULL when the closing quote is missing. */
static const char *parse_quoted(const char *p, apr_pool_t *pool, char **value)
{
    char *out = apr_palloc(pool, strlen(p) + 1);
    apr_size_t n = 0;

    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) {
            p++;
        }
        out[n++] = *p++;
    }
    if (*p != '"') {
        return NULL;
    }
    out[n] = '\0';
    *value = out;
    return p + 1;
}

/* Limitation: RFC 2231 parameter continuations and RFC 822 comments are
 * not understood, because no ebMS sender we know of writes them. */
int sz_mime_content_type(const char *header, apr_pool_t *pool,
                         const char **media_type, apr_table_t **params)
{
    const char *p;
    char *type;
    char *subtype;
    apr_table_t *table;

    *media_type = NULL;
    *params = NULL;
    if (header == NULL) {
        return -1;
    }

    p = parse_token(skip_space(header), pool, &type);
    if (type == NULL || *p != '/') {
        return -1;
    }
    p = parse_token(p + 1, pool, &subtype);
    if (subtype == NULL) {
        return -1;
    }

    /* Parameters: ; name = value, where value is a token or a quoted
     * string; a stray or trailing ';' is tolerated. */
    table = apr_table_make(pool, 4);
    for (;;) {
        char *name;
        char *value;

        p = skip_space(p);
        if (*p == '\0') {
            break;
        }
        if (*p != ';') {
            return -1;
        }
        p = skip_space(p + 1);
        if (*p == '\0' || *p == ';') {
            continue;
        }
        p = parse_token(p, pool, &name);
        if (name == NULL) {
            return -1;
        }
        p = skip_space(p);
        if (*p != '=') {
            return -1;
        }
        p = skip_space(p + 1);
        if (*p == '"') {
            p = parse_quoted(p + 1, pool, &value);
            if (p == NULL) {
                return -1;
            }
        }
        else {
            p = parse_bare_value(p, pool, &value);
            if (value == NULL) {
                return -1;
            }
        }

        /* RFC 2045 forbids a repeated parameter; refusing it means a
         * boundary or start can never be read two ways. */
        lower(name);
        if (apr_table_get(table, name) != NULL) {
            return -1;
        }
        apr_table_setn(table, name, value);
    }

    *media_type = lower(apr_pstrcat(pool, type, "/", subtype, NULL));
    *params = table;
    return 0;
}

/* ---- finding delimiters ---------------------------------------------- */

/* Whether the line at offset at is a delimiter: "--" boundary, then
 * "--" for the close delimiter, transport padding and a line end (or the
 * end of the body). A line that merely starts with it is content. */
static int delimiter_at(const char *body, apr_size_t len, apr_size_t at,
                        const char *dash, apr_size_t dash_len,
                        mime_delimiter_t *found)
{
    apr_size_t p = at + dash_len;
    int close = 0;

    if (len - at < dash_len || memcmp(body + at, dash, dash_len) != 0) {
        return 0;
    }
    if (len - p >= 2 && body[p] == '-' && body[p + 1] == '-') {
        close = 1;
        p += 2;
    }
    while (p < len && is_blank(body[p])) {
        p++;
    }
    if (p < len && body[p] == '\r' && p + 1 < len && body[p + 1] == '\n') {
        p += 2;
    }
    else if (p < len && body[p] == '\n') {
        p += 1;
    }
    else if (p < len) {
        return 0;
    }

    found->line = at;
    found->next = p;
    found->close = close;
    return 1;
}

/* The next delimiter on a line starting at or after from; from itself
 * must be a line start. */
static int next_delimiter(const char *body, apr_size_t len, apr_size_t from,
                          const char *dash, apr_size_t dash_len,
                          mime_delimiter_t *found)
{
    apr_size_t at = from;

    while (at < len) {
        const char *eol;

        if (delimiter_at(body, len, at, dash, dash_len, found)) {
            return 1;
        }
        eol = memchr(body + at, '\n', len - at);
        if (eol == NULL) {
            return 0;
        }
        at = (apr_size_t)(eol - body) + 1;
    }
    return 0;
}

/* ---- part headers ---------------------------------------------------- */

/* Content-ID without surrounding whitespace and angle brackets. */
static const char *strip_id(const char *id, apr_size_t len, apr_pool_t *pool)
{
    while (len > 0 && is_space(*id)) {
        id++;
        len--;
    }
    while (len > 0 && is_space(id[len - 1])) {
        len--;
    }
    if (len > 0 && *id == '<') {
        id++;
        len--;
    }
    if (len > 0 && id[len - 1] == '>') {
        len--;
    }
    return apr_pstrmemdup(pool, id, len);
}

/* Records one unfolded header in the part; other headers are ignored. */
static int take_header(const char *line, apr_size_t len, int number,
                       sz_mime_part_t *part, apr_pool_t *pool,
                       const char **error)
{
    const char *colon = memchr(line, ':', len);
    apr_size_t name_len;
    const char *value;
    apr_size_t value_len;
    const char **slot;

    if (colon == NULL) {
        *error = apr_psprintf(pool, "MIME part %d: header line without a colon",
                              number);
        return -1;
    }
    name_len = (apr_size_t)(colon - line);
    while (name_len > 0 && is_blank(line[name_len - 1])) {
        name_len--;
    }
    value = colon + 1;
    value_len = len - (apr_size_t)(colon - line) - 1;
    while (value_len > 0 && is_space(*value)) {
        value++;
        value_len--;
    }
    while (value_len > 0 && is_space(value[value_len - 1])) {
        value_len--;
    }

    if (name_len == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
        slot = &part->content_type;
    }
    else if (name_len == 10 && strncasecmp(line, "Content-ID", 10) == 0) {
        slot = &part->content_id;
    }
    else if (name_len == 25 &&
             strncasecmp(line, "Content-Transfer-Encoding", 25) == 0) {
        slot = &part->transfer_encoding;
    }
    else {
        return 0;
    }

    /* Two values for one of these would let two readers of the same
     * message disagree on what it contains. */
    if (*slot != NULL) {
        *error = apr_psprintf(pool, "MIME part %d: duplicate %.*s header",
                              number, (int)name_len, line);
        return -1;
    }
    if (slot == &part->content_id) {
        *slot = strip_id(value, value_len, pool);
    }
    else if (slot == &part->transfer_encoding) {
        *slot =
            value_len ? lower(apr_pstrmemdup(pool, value, value_len)) : NULL;
    }
    else {
        *slot = apr_pstrmemdup(pool, value, value_len);
    }
    return 0;
}

/* Reads the headers of a part in [at, end) and returns, in *content, the
 * offset of its content: after the empty line, or end when there is
 * none. Continuation lines (starting with a space or tab) are joined to
 * the header before them, keeping their whitespace as RFC 5322 says. */
static int read_headers(const char *body, apr_size_t at, apr_size_t end,
                        int number, const mime_bounds_t *bounds,
                        sz_mime_part_t *part, apr_pool_t *pool,
                        apr_size_t *content, const char **error)
{
    apr_size_t room =
        bounds->max_header_len < end - at ? bounds->max_header_len : end - at;
    char *header = apr_palloc(pool, room + 1);
    apr_size_t header_len = 0;
    int have_header = 0;
    int count = 0;

    while (at < end) {
        const char *eol = memchr(body + at, '\n', end - at);
        apr_size_t stop = eol ? (apr_size_t)(eol - body) : end;
        apr_size_t next = eol ? stop + 1 : end;
        apr_size_t line_len = stop - at;

        if (line_len > 0 && body[stop - 1] == '\r') {
            line_len--;
        }
        if (line_len == 0) {
            at = next;
            break;
        }
        if (line_len > bounds->max_header_len) {
            *error = apr_psprintf(pool,
                                  "MIME part %d: header line longer than "
                                  "%" APR_SIZE_T_FMT " bytes",
                                  number, bounds->max_header_len);
            return -1;
        }

        if (is_blank(body[at]) && have_header) {
            if (header_len + line_len > bounds->max_header_len) {
                *error = apr_psprintf(pool,
                                      "MIME part %d: folded header longer "
                                      "than %" APR_SIZE_T_FMT " bytes",
                                      number, bounds->max_header_len);
                return -1;
            }
            memcpy(header + header_len, body + at, line_len);
            header_len += line_len;
            at = next;
            continue;
        }

        if (have_header &&
            take_header(header, header_len, number, part, pool, error) != 0) {
            return -1;
        }
        if (++count > bounds->max_headers) {
            *error = apr_psprintf(pool, "MIME part %d: more than %d headers",
                                  number, bounds->max_headers);
            return -1;
        }
        memcpy(header, body + at, line_len);
        header_len = line_len;
        have_header = 1;
        at = next;
    }

    if (have_header &&
        take_header(header, header_len, number, part, pool, error) != 0) {
        return -1;
    }
    *content = at;
    return 0;
}

/* ---- transfer encodings ---------------------------------------------- */

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* Decodes base64 skipping whitespace and line breaks; padding may be
 * left out, but once it starts only padding and whitespace may follow. */
static int decode_base64(const char *in, apr_size_t len, char *out,
                         apr_size_t *out_len)
{
    apr_size_t n = 0;
    apr_size_t quantum = 0;
    apr_size_t padding = 0;
    unsigned long bits = 0;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        int value;

        if (is_space(in[i])) {
            continue;
        }
        if (in[i] == '=') {
            padding++;
            continue;
        }
        value = base64_value(in[i]);
        if (value < 0 || padding > 0) {
            return -1;
        }
        bits = (bits << 6) | (unsigned long)value;
        if (++quantum == 4) {
            out[n++] = (char)(bits >> 16);
            out[n++] = (char)(bits >> 8);
            out[n++] = (char)bits;
            bits = 0;
            quantum = 0;
        }
    }

    /* A last group of one character carries no whole byte. */
    if (quantum == 1 || padding > 2 || (quantum == 0 && padding > 0)) {
        return -1;
    }
    if (quantum == 2) {
        out[n++] = (char)(bits >> 4);
    }
    else if (quantum == 3) {
        out[n++] = (char)(bits >> 10);
        out[n++] = (char)(bits >> 2);
    }
    *out_len = n;
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)apr_tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Decodes quoted-printable: "=XX" is a byte, "=" at a line end a soft
 * break, whitespace before a line end was added in transport. A "="
 * followed by anything else is kept, as RFC 2045 advises readers. */
static apr_size_t decode_quoted_printable(const char *in, apr_size_t len,
                                          char *out)
{
    apr_size_t n = 0;
    apr_size_t i = 0;

    while (i < len) {
        char c = in[i];

        if (c == '=') {
            apr_size_t j = i + 1;

            if (j + 1 < len && hex_value(in[j]) >= 0 &&
                hex_value(in[j + 1]) >= 0) {
                out[n++] = (char)(hex_value(in[j]) * 16 + hex_value(in[j + 1]));
                i = j + 2;
                continue;
            }
            while (j < len && is_blank(in[j])) {
                j++;
            }
            if (j == len || in[j] == '\n' ||
                (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')) {
                i = j == len ? j : j + (in[j] == '\r' ? 2 : 1);
                continue;
            }
        }
        else if (is_blank(c)) {
            apr_size_t j = i;

            while (j < len && is_blank(in[j])) {
                j++;
            }
            if (j == len || in[j] == '\n' ||
                (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')) {
                i = j;
                continue;
            }
        }
        out[n++] = c;
        i++;
    }
    return n;
}

/* Sets the part's data from its encoded content in [at, end). */
static int decode_part(const char *body, apr_size_t at, apr_size_t end,
                       int number, sz_mime_part_t *part, apr_pool_t *pool,
                       const char **error)
{
    const char *encoding = part->transfer_encoding;
    apr_size_t len = end - at;
    char *data = apr_palloc(pool, len + 1);

    if (encoding == NULL || strcmp(encoding, "7bit") == 0 ||
        strcmp(encoding, "8bit") == 0 || strcmp(encoding, "binary") == 0) {
        memcpy(data, body + at, len);
    }
    else if (strcmp(encoding, "base64") == 0) {
        if (decode_base64(body + at, len, data, &len) != 0) {
            *error = apr_psprintf(pool, "MIME part %d: invalid base64", number);
            return -1;
        }
    }
    else if (strcmp(encoding, "quoted-printable") == 0) {
        len = decode_quoted_printable(body + at, len, data);
    }
    else {
        *error = apr_psprintf(pool,
                              "MIME part %d: unknown Content-Transfer-"
                              "Encoding '%.64s'",
                              number, encoding);
        return -1;
    }

    data[len] = '\0';
    part->data = data;
    part->len = len;
    return 0;
}

/* ---- splitting --------------------------------------------------------- */

static void bounds_from(const sz_mime_limits_t *limits, mime_bounds_t *bounds)
{
    bounds->max_parts = MIME_DEFAULT_MAX_PARTS;
    bounds->max_header_len = MIME_DEFAULT_MAX_HEADER_LEN;
    bounds->max_headers = MIME_DEFAULT_MAX_HEADERS;
    if (limits == NULL) {
        return;
    }
    if (limits->max_parts > 0) {
        bounds->max_parts = limits->max_parts;
    }
    if (limits->max_header_len > 0) {
        bounds->max_header_len = limits->max_header_len;
    }
    if (limits->max_headers > 0) {
        bounds->max_headers = limits->max_headers;
    }
}

int sz_mime_split(const char *body, apr_size_t len, const char *boundary,
                  const sz_mime_limits_t *limits, apr_pool_t *pool,
                  apr_array_header_t **parts, const char **error)
{
    const char *ignored;
    mime_bounds_t bounds;
    mime_delimiter_t at;
    mime_delimiter_t next;
    apr_array_header_t *list;
    const char *dash;
    apr_size_t dash_len;

    if (error == NULL) {
        error = &ignored;
    }
    *error = NULL;
    *parts = NULL;
    bounds_from(limits, &bounds);
    if (boundary == NULL || *boundary == '\0') {
        *error = "multipart body without a boundary parameter";
        return -1;
    }
    if (body == NULL) {
        len = 0;
    }

    dash = apr_pstrcat(pool, "--", boundary, NULL);
    dash_len = strlen(dash);
    if (!next_delimiter(body, len, 0, dash, dash_len, &at)) {
        *error = "MIME boundary not found in the body";
        return -1;
    }
    if (at.close) {
        *error = "multipart body has no parts";
        return -1;
    }

    /* Each part runs from after its delimiter line to the line end that
     * belongs to the next delimiter. */
    list = apr_array_make(pool, 2, sizeof(sz_mime_part_t));
    for (;;) {
        sz_mime_part_t *part;
        apr_size_t end;
        apr_size_t content;
        int number = list->nelts + 1;

        if (!next_delimiter(body, len, at.next, dash, dash_len, &next)) {
            *error = "multipart body truncated: no close delimiter";
            return -1;
        }
        if (number > bounds.max_parts) {
            *error = apr_psprintf(pool, "multipart body has more than %d parts",
                                  bounds.max_parts);
            return -1;
        }

        end = next.line;
        if (end > at.next && body[end - 1] == '\n') {
            end--;
            if (end > at.next && body[end - 1] == '\r') {
                end--;
            }
        }

        part = apr_array_push(list);
        memset(part, 0, sizeof(*part));
        if (read_headers(body, at.next, end, number, &bounds, part, pool,
                         &content, error) != 0 ||
            decode_part(body, content, end, number, part, pool, error) != 0) {
            return -1;
        }

        if (next.close) {
            break;
        }
        at = next;
    }

    *parts = list;
    return 0;
}

/* ---- finding parts ----------------------------------------------------- */

/* The id as a Content-ID compares: no whitespace around it, no "cid:"
 * (whose %XX escapes RFC 2392 asks us to undo), no angle brackets. */
static void id_bounds(const char *id, const char **start, apr_size_t *len,
                      int *cid)
{
    apr_size_t n;

    while (is_space(*id)) {
        id++;
    }
    *cid = strncasecmp(id, "cid:", 4) == 0;
    if (*cid) {
        id += 4;
    }
    n = strlen(id);
    while (n > 0 && is_space(id[n - 1])) {
        n--;
    }
    if (n > 0 && *id == '<') {
        id++;
        n--;
    }
    if (n > 0 && id[n - 1] == '>') {
        n--;
    }
    *start = id;
    *len = n;
}

static int same_id(const char *content_id, const char *id)
{
    const char *want;
    apr_size_t want_len;
    apr_size_t i = 0;
    int cid;

    if (content_id == NULL) {
        return 0;
    }
    /* Some senders write the Content-ID itself as "<cid:x>". */
    if (strncasecmp(content_id, "cid:", 4) == 0) {
        content_id += 4;
    }

    /* An empty reference names nothing, not a part with "<>". */
    id_bounds(id, &want, &want_len, &cid);
    if (want_len == 0) {
        return 0;
    }
    while (i < want_len) {
        char c = want[i];

        if (cid && c == '%' && i + 2 < want_len &&
            hex_value(want[i + 1]) >= 0 && hex_value(want[i + 2]) >= 0) {
            c = (char)(hex_value(want[i + 1]) * 16 + hex_value(want[i + 2]));
            i += 3;
        }
        else {
            i++;
        }
        if (*content_id == '\0' || *content_id != c) {
            return 0;
        }
        content_id++;
    }
    return *content_id == '\0';
}

const sz_mime_part_t *sz_mime_find(const apr_array_header_t *parts,
                                   const char *id)
{
    const sz_mime_part_t *found = NULL;
    int i;

    if (parts == NULL || id == NULL) {
        return NULL;
    }
    /* Two parts with one Content-ID are ambiguous: which one the sender
     * meant cannot be known, so neither is found. */
    for (i = 0; i < parts->nelts; i++) {
        const sz_mime_part_t *part = &APR_ARRAY_IDX(parts, i, sz_mime_part_t);

        if (same_id(part->content_id, id)) {
            if (found) {
                return NULL;
            }
            found = part;
        }
    }
    return found;
}

/* An empty start parameter is read as absent: it names nothing. */
const sz_mime_part_t *sz_mime_start(const apr_array_header_t *parts,
                                    const char *start)
{
    if (parts == NULL || parts->nelts == 0) {
        return NULL;
    }
    if (start == NULL || *skip_space(start) == '\0') {
        return &APR_ARRAY_IDX(parts, 0, sz_mime_part_t);
    }
    return sz_mime_find(parts, start);
}

/* ---- writing ----------------------------------------------------------- */

static int has_line_break(const char *text)
{
    return text != NULL && strpbrk(text, "\r\n") != NULL;
}

/* A parameter value inside double quotes, with '"' and '\\' escaped. */
static const char *quoted(const char *text, apr_size_t len, apr_pool_t *pool)
{
    char *out = apr_palloc(pool, 2 * len + 3);
    apr_size_t n = 0;
    apr_size_t i;

    out[n++] = '"';
    for (i = 0; i < len; i++) {
        if (text[i] == '"' || text[i] == '\\') {
            out[n++] = '\\';
        }
        out[n++] = text[i];
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

/* Whether "--boundary" occurs anywhere in the parts' data. */
static int boundary_in_data(const apr_array_header_t *parts, const char *dash,
                            apr_size_t dash_len)
{
    int i;

    for (i = 0; i < parts->nelts; i++) {
        const sz_mime_part_t *part = &APR_ARRAY_IDX(parts, i, sz_mime_part_t);
        apr_size_t at;

        for (at = 0; part->data && at + dash_len <= part->len; at++) {
            if (memcmp(part->data + at, dash, dash_len) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static const char *fresh_boundary(const apr_array_header_t *parts,
                                  apr_pool_t *pool)
{
    unsigned char bytes[MIME_BOUNDARY_RANDOM];
    char hex[2 * MIME_BOUNDARY_RANDOM + 1];
    int attempt;
    int i;

    for (attempt = 0; attempt < MIME_BOUNDARY_TRIES; attempt++) {
        const char *boundary;
        const char *dash;

        if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
            return NULL;
        }
        for (i = 0; i < MIME_BOUNDARY_RANDOM; i++) {
            hex[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
            hex[2 * i + 1] = "0123456789abcdef"[bytes[i] & 0x0f];
        }
        hex[2 * MIME_BOUNDARY_RANDOM] = '\0';

        boundary = apr_pstrdup(pool, hex);
        dash = apr_pstrcat(pool, "--", boundary, NULL);
        if (!boundary_in_data(parts, dash, strlen(dash))) {
            return boundary;
        }
    }
    return NULL;
}

/* The header block of one part, from its delimiter to the empty line.
 * No Content-Transfer-Encoding: Digikoppeling asks senders to leave it
 * out, and 8bit is what a part without it means over HTTP. */
static const char *part_head(const sz_mime_part_t *part, const char *boundary,
                             apr_pool_t *pool)
{
    const char *head = apr_pstrcat(pool, "--", boundary, "\r\n", NULL);

    if (part->content_id != NULL) {
        const char *id;
        apr_size_t id_len;
        int cid;

        id_bounds(part->content_id, &id, &id_len, &cid);
        head = apr_pstrcat(pool, head, "Content-ID: <",
                           apr_pstrmemdup(pool, id, id_len), ">\r\n", NULL);
    }
    if (part->content_type != NULL) {
        head = apr_pstrcat(pool, head, "Content-Type: ", part->content_type,
                           "\r\n", NULL);
    }
    return apr_pstrcat(pool, head, "\r\n", NULL);
}

/* Returns NULL (and *len 0) when a Content-ID or Content-Type holds a
 * line break, which would forge headers, or no random bytes are had. */
const char *sz_mime_write(const apr_array_header_t *parts, apr_pool_t *pool,
                          const char **content_type, apr_size_t *len)
{
    const sz_mime_part_t *first;
    const char **heads;
    const char *boundary;
    const char *close;
    apr_size_t total;
    char *body;
    char *p;
    int i;

    *content_type = NULL;
    *len = 0;
    if (parts == NULL || parts->nelts == 0) {
        return NULL;
    }
    for (i = 0; i < parts->nelts; i++) {
        const sz_mime_part_t *part = &APR_ARRAY_IDX(parts, i, sz_mime_part_t);

        if (has_line_break(part->content_id) ||
            has_line_break(part->content_type)) {
            return NULL;
        }
    }

    boundary = fresh_boundary(parts, pool);
    if (boundary == NULL) {
        return NULL;
    }

    /* Measure first, then copy once: data may hold NUL bytes, so it is
     * never passed through string functions. */
    heads = apr_palloc(pool, parts->nelts * sizeof(*heads));
    close = apr_pstrcat(pool, "--", boundary, "--\r\n", NULL);
    total = strlen(close);
    for (i = 0; i < parts->nelts; i++) {
        const sz_mime_part_t *part = &APR_ARRAY_IDX(parts, i, sz_mime_part_t);

        heads[i] = part_head(part, boundary, pool);
        total += strlen(heads[i]) + (part->data ? part->len : 0) + 2;
    }

    body = apr_palloc(pool, total + 1);
    p = body;
    for (i = 0; i < parts->nelts; i++) {
        const sz_mime_part_t *part = &APR_ARRAY_IDX(parts, i, sz_mime_part_t);
        apr_size_t head_len = strlen(heads[i]);

        memcpy(p, heads[i], head_len);
        p += head_len;
        if (part->data != NULL && part->len > 0) {
            memcpy(p, part->data, part->len);
            p += part->len;
        }
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    memcpy(p, close, strlen(close) + 1);

    first = &APR_ARRAY_IDX(parts, 0, sz_mime_part_t);
    *content_type = apr_pstrcat(pool, "multipart/related; type=\"text/xml\"; "
                                "boundary=\"", boundary, "\"", NULL);
    if (first->content_id != NULL) {
        const char *id;
        apr_size_t id_len;
        int cid;

        const char *start;

        id_bounds(first->content_id, &id, &id_len, &cid);
        if (id_len > 0) {
            start = apr_pstrcat(pool, "<", apr_pstrmemdup(pool, id, id_len),
                                ">", NULL);
            *content_type = apr_pstrcat(pool, *content_type, "; start=",
                                        quoted(start, id_len + 2, pool),
                                        NULL);
        }
    }
    *len = total;
    return body;
}

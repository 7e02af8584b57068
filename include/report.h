/* report.h - the list of failures found while checking one message.
 * Every checking unit adds to a report instead of logging, so the handler,
 * the CLI and the tests see the same findings. A failure text never holds
 * a BSN or other payload text: only field names, codes and limits. */
#ifndef STUFLZ_REPORT_H
#define STUFLZ_REPORT_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    const char *code;   /* StUF fout code: "StUF052", "StUF055", "StUF058" */
    const char *field;  /* spec field ("object.identificatie") or NULL */
    const char *text;   /* Dutch or English explanation, no payload values */
} sz_failure_t;

typedef struct {
    apr_pool_t *pool;
    apr_array_header_t *failures;   /* of sz_failure_t */
} sz_report_t;

sz_report_t *sz_report_make(apr_pool_t *pool);

/* Adds a failure; text is a printf format. */
void sz_report_add(sz_report_t *report, const char *code, const char *field,
                   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int sz_report_count(const sz_report_t *report);

/* True when the report holds a failure with this code. */
int sz_report_has(const sz_report_t *report, const char *code);

/* The code to put in a Fo01: the first of the failures' codes in the order
 * of StUF 03.01 Tabel 4.1 (StUF052 before StUF055 before StUF058).
 * NULL for an empty report. */
const char *sz_report_leading_code(const sz_report_t *report);

/* All failures as one text of at most max_chars characters (UTF-8 aware),
 * "field: text; field: text", cut with "..." when too long. */
const char *sz_report_details(const sz_report_t *report, apr_size_t max_chars,
                              apr_pool_t *pool);

/* Number of characters (not bytes) in a UTF-8 string; -1 when the string
 * is not valid UTF-8. */
long sz_utf8_length(const char *s);

/* Longest prefix of s with at most max_chars characters, cut at a
 * character boundary. */
const char *sz_utf8_prefix(const char *s, apr_size_t max_chars,
                           apr_pool_t *pool);

#endif

/* report.c - collecting the failures of one message (see report.h), and
 * the UTF-8 helpers that keep texts within StUF's character limits. */
#include "report.h"

#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>

sz_report_t *sz_report_make(apr_pool_t *pool)
{
    sz_report_t *report = apr_pcalloc(pool, sizeof(*report));

    report->pool = pool;
    report->failures = apr_array_make(pool, 4, sizeof(sz_failure_t));
    return report;
}

void sz_report_add(sz_report_t *report, const char *code, const char *field,
                   const char *fmt, ...)
{
    sz_failure_t *failure = apr_array_push(report->failures);
    va_list ap;

    va_start(ap, fmt);
    failure->code = code;
    failure->field = field;
    failure->text = apr_pvsprintf(report->pool, fmt, ap);
    va_end(ap);
}

int sz_report_count(const sz_report_t *report)
{
    return report->failures->nelts;
}

int sz_report_has(const sz_report_t *report, const char *code)
{
    const sz_failure_t *failures = (const sz_failure_t *)report->failures->elts;
    int i;

    for (i = 0; i < report->failures->nelts; i++) {
        if (strcmp(failures[i].code, code) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *sz_report_leading_code(const sz_report_t *report)
{
    const sz_failure_t *failures = (const sz_failure_t *)report->failures->elts;
    const char *best = NULL;
    int i;

    /* StUF codes sort in the order of Tabel 4.1, so the smallest wins. */
    for (i = 0; i < report->failures->nelts; i++) {
        if (best == NULL || strcmp(failures[i].code, best) < 0) {
            best = failures[i].code;
        }
    }
    return best;
}

long sz_utf8_length(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;

    while (*p) {
        int extra;

        if (*p < 0x80) {
            extra = 0;
        }
        else if (*p >= 0xC2 && *p <= 0xDF) {
            extra = 1;
        }
        else if (*p >= 0xE0 && *p <= 0xEF) {
            extra = 2;
        }
        else if (*p >= 0xF0 && *p <= 0xF4) {
            extra = 3;
        }
        else {
            return -1;
        }
        p++;
        while (extra--) {
            if ((*p & 0xC0) != 0x80) {
                return -1;
            }
            p++;
        }
        count++;
    }
    return count;
}

const char *sz_utf8_prefix(const char *s, apr_size_t max_chars,
                           apr_pool_t *pool)
{
    const unsigned char *p = (const unsigned char *)s;
    apr_size_t chars = 0;

    while (*p && chars < max_chars) {
        p++;
        while ((*p & 0xC0) == 0x80) {
            p++;
        }
        chars++;
    }
    return apr_pstrmemdup(pool, s, (const char *)p - s);
}

const char *sz_report_details(const sz_report_t *report, apr_size_t max_chars,
                              apr_pool_t *pool)
{
    const sz_failure_t *failures = (const sz_failure_t *)report->failures->elts;
    const char *text = "";
    int i;

    for (i = 0; i < report->failures->nelts; i++) {
        const sz_failure_t *f = &failures[i];

        text = apr_pstrcat(pool, text, i ? "; " : "", f->code, " ",
                           f->field ? f->field : "", f->field ? ": " : "",
                           f->text, NULL);
    }
    if ((apr_size_t)sz_utf8_length(text) > max_chars) {
        text = apr_pstrcat(pool, sz_utf8_prefix(text, max_chars - 3, pool),
                           "...", NULL);
    }
    return text;
}

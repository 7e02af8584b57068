/* tap.c - the TAP producer used by every unit test (see tap.h). */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

static int tests_run;
static int tests_failed;

apr_pool_t *tap_start(void)
{
    apr_pool_t *pool;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return pool;
}

static int tap_report(int condition, const char *fmt, va_list ap)
{
    tests_run++;
    if (!condition) {
        tests_failed++;
    }
    printf("%sok %d - ", condition ? "" : "not ", tests_run);
    vprintf(fmt, ap);
    printf("\n");
    return condition;
}

int tap_ok(int condition, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_report(condition, fmt, ap);
    va_end(ap);
    return condition;
}

int tap_is(const char *got, const char *expected, const char *fmt, ...)
{
    va_list ap;
    int same;

    if (got == NULL || expected == NULL) {
        same = got == expected;
    }
    else {
        same = strcmp(got, expected) == 0;
    }
    va_start(ap, fmt);
    tap_report(same, fmt, ap);
    va_end(ap);
    if (!same) {
        printf("#      got: %s\n# expected: %s\n", got ? got : "(null)",
               expected ? expected : "(null)");
    }
    return same;
}

int tap_is_int(long long got, long long expected, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_report(got == expected, fmt, ap);
    va_end(ap);
    if (got != expected) {
        printf("#      got: %lld\n# expected: %lld\n", got, expected);
    }
    return got == expected;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

void tap_skip_all(const char *reason)
{
    printf("1..0 # SKIP %s\n", reason);
    exit(0);
}

int tap_done(void)
{
    printf("1..%d\n", tests_run);
    if (tests_failed) {
        printf("# failed %d of %d\n", tests_failed, tests_run);
    }
    return tests_failed ? 1 : 0;
}

/* The project root: STUFLZ_ROOT, else the current directory (make and
 * prove run from the root). */
static const char *project_root(void)
{
    const char *root = getenv("STUFLZ_ROOT");

    return root ? root : ".";
}

const char *tap_project(apr_pool_t *pool, const char *relative)
{
    return apr_pstrcat(pool, project_root(), "/", relative, NULL);
}

const char *tap_shared(apr_pool_t *pool, const char *relative)
{
    const char *path;

    path = apr_pstrcat(pool, project_root(), "/../shared/", relative, NULL);
    return access(path, R_OK) == 0 ? path : NULL;
}

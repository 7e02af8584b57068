/* tap.h - a minimal Test Anything Protocol producer for the C unit tests,
 * so prove can run them next to the live tests. */
#ifndef STUFLZ_TAP_H
#define STUFLZ_TAP_H

#include <apr_pools.h>

/* Initialises APR and returns a pool for the test. */
apr_pool_t *tap_start(void);

/* Records one test; prints "ok N - name" or "not ok N - name". Returns
 * the condition, so a test can stop on failure. */
int tap_ok(int condition, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Compares two strings (either may be NULL) and prints both on failure. */
int tap_is(const char *got, const char *expected, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Compares two integers and prints both on failure. */
int tap_is_int(long long got, long long expected, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Skips the rest of the test file with a reason (prints 1..0 when no test
 * ran yet). */
void tap_skip_all(const char *reason);

/* Prints the plan and returns the exit code (0 if all passed). */
int tap_done(void);

/* Path of a file in ../shared relative to the project root, or NULL when
 * it does not exist (the caller then skips). */
const char *tap_shared(apr_pool_t *pool, const char *relative);

/* Path of a file under the project root (t/data/...). */
const char *tap_project(apr_pool_t *pool, const char *relative);

#endif

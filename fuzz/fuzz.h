/* fuzz.h - what every libFuzzer target of mod_stuflz shares: APR and
 * libxml2 set up once, a fresh pool per input, and a check that aborts
 * with a message, so a broken invariant is a crash libFuzzer keeps. */
#ifndef STUFLZ_FUZZ_H
#define STUFLZ_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <libxml/parser.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test; failing it is a finding. */
#define FUZZ_CHECK(condition, what)                                     \
    do {                                                                \
        if (!(condition)) {                                             \
            fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__, __LINE__,   \
                    (what));                                            \
            abort();                                                    \
        }                                                               \
    } while (0)

/* The pool inputs get their child pools from; lives for the process. */
static apr_pool_t *fuzz_root;

static void fuzz_setup(void)
{
    if (apr_initialize() != APR_SUCCESS ||
        apr_pool_create(&fuzz_root, NULL) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: APR does not start\n");
        exit(1);
    }
    xmlInitParser();
}

#endif

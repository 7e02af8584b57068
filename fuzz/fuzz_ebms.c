/* fuzz_ebms.c - libFuzzer target for the ebMS header reader: a SOAP
 * envelope is parsed, read with ebms_read and checked with ebms_check
 * against the example CPAs (loaded once), as process_ebms.c does; every
 * signal LZ could answer with must then be well-formed XML. */
#include <string.h>

#include <apr_strings.h>

#include "ebms.h"
#include "fuzz.h"
#include "xml.h"

#ifndef STUFLZ_FUZZ_ROOT
#define STUFLZ_FUZZ_ROOT "."
#endif

static cpa_registry_t *cpas;

/* 2025-01-01T00:00:00Z, inside the example CPAs' validity. */
static const apr_time_t fuzz_now = APR_INT64_C(1735689600) * APR_USEC_PER_SEC;

static void load_cpa(const char *root, const char *name)
{
    const char *error = NULL;
    const char *path = apr_pstrcat(fuzz_root, root, "/conf/", name, NULL);

    if (cpa_registry_load(cpas, path, fuzz_root, &error) != 0) {
        fprintf(stderr, "fuzz: %s: %s\n", path, error);
        exit(1);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *root = getenv("STUFLZ_ROOT");

    fuzz_setup();
    if (root == NULL) {
        root = STUFLZ_FUZZ_ROOT;
    }
    cpas = cpa_registry_make(fuzz_root);
    load_cpa(root, "lz-example-cpa.xml");
    load_cpa(root, "lz-example-cpa-async.xml");
    return 0;
}

/* The manifest may name one part: the payload of the Perl builder. */
static int has_part(void *context, const char *cid)
{
    return strcmp(cid, "payload-1") == 0;
}

/* Half of the MessageIds are "known", so both answers are taken. */
static int exists(void *context, const char *message_id)
{
    return strlen(message_id) % 2 == 0;
}

static void check_well_formed(const char *xml, apr_pool_t *pool,
                              const char *what)
{
    const char *error = NULL;

    FUZZ_CHECK(xml != NULL, what);
    FUZZ_CHECK(sz_xml_parse(xml, strlen(xml), pool, &error) != NULL, what);
}

/* Every answer echoes header values of the request into XML. */
static void check_answers(const ebms_message_t *m, const ebms_error_t *error,
                          apr_pool_t *pool)
{
    static const ebms_error_t fallback = {
        "Inconsistent", "//Header/MessageHeader", "Invalid value."
    };
    const char *message_id = NULL;

    check_well_formed(ebms_build_acknowledgment(m, fuzz_now, pool,
                                                &message_id),
                      pool, "Acknowledgment not well-formed");
    check_well_formed(ebms_build_message_error(m, error ? error : &fallback,
                                               1, fuzz_now, pool,
                                               &message_id),
                      pool, "MessageError not well-formed");
    check_well_formed(ebms_build_pong(m, fuzz_now, pool), pool,
                      "Pong not well-formed");
    check_well_formed(ebms_build_status_response(m, "Processed", fuzz_now,
                                                 fuzz_now, pool),
                      pool, "StatusResponse not well-formed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const cpa_channel_t *channel = NULL;
    const ebms_error_t *error;
    const char *problem = NULL;
    const char *suffix = NULL;
    const cpa_t *cpa;
    ebms_message_t m;
    apr_pool_t *pool;
    xmlDoc *doc;
    int i;

    apr_pool_create(&pool, fuzz_root);

    /* 1. Parse and read the header, as process_ebms.c does. */
    doc = sz_xml_parse((const char *)data, size, pool, &problem);
    if (doc == NULL) {
        FUZZ_CHECK(problem != NULL, "parse failed without a reason");
        apr_pool_destroy(pool);
        return 0;
    }
    memset(&m, 0, sizeof(m));
    if (ebms_read(doc, pool, &m, &problem) != 0) {
        FUZZ_CHECK(problem != NULL, "ebms_read failed without a reason");
        apr_pool_destroy(pool);
        return 0;
    }
    FUZZ_CHECK(m.cpaid != NULL && m.message_id != NULL,
               "ebms_read passed without CPAId or MessageId");
    ebms_kind_name(m.kind);
    for (i = 0; m.from_ids && i < m.from_ids->nelts; i++) {
        ebms_party_oin(APR_ARRAY_IDX(m.from_ids, i, cpa_party_id_t).value,
                       pool, &suffix);
    }

    /* 2. The checks against the CPA, then those that need the store and
     * the MIME parts. */
    cpa = cpa_lookup(cpas, m.cpaid);
    error = NULL;
    if (cpa != NULL) {
        error = ebms_check(&m, cpa, fuzz_now, pool, &channel);
        if (error != NULL) {
            /* The description may be NULL: the matrix gives none for
             * TimeToLiveExpired. */
            FUZZ_CHECK(error->code && error->location,
                       "an ebMS error without code or location");
        }
    }
    ebms_check_ref_to_message_id(&m, exists, NULL, pool);
    ebms_check_manifest(&m, has_part, NULL, pool);

    /* 3. The signals built from what was read. */
    check_answers(&m, error, pool);

    apr_pool_destroy(pool);
    return 0;
}

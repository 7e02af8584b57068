/* schema.h - structure checks against an XSD, compiled once (in
 * post_config, before fork and threads) and shared read-only; each
 * validation gets its own context, so threads may validate at once. */
#ifndef STUFLZ_SCHEMA_H
#define STUFLZ_SCHEMA_H

#include <apr_pools.h>
#include <libxml/tree.h>

#include "report.h"

typedef struct sz_schema sz_schema_t;

/* Compiles the schema at path (imports resolved locally, no network).
 * The compiled schema is freed when pool is cleared. On failure returns
 * NULL and sets *error to a text naming the file and the problem. */
sz_schema_t *sz_schema_load(const char *path, apr_pool_t *pool,
                            const char **error);

const char *sz_schema_path(const sz_schema_t *schema);

/* Validates element (in place, in its own document) and adds each problem
 * to report as code (StUF055), naming the element and the rule but never
 * the element's content. Returns 0 when valid, else the number of
 * problems added (at most 20 are kept). */
int sz_schema_validate(const sz_schema_t *schema, xmlNode *element,
                       const char *code, sz_report_t *report);

#endif

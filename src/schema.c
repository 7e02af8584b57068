/* schema.c - compiles an XSD once and validates elements in place against
 * it (see schema.h). libxml2's messages are rewritten so that a report
 * names the element and the rule, never the value that broke it. */
#include "schema.h"

#include <string.h>

#include <apr_strings.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

/* A Fo01 details field holds 1000 characters; more problems than this
 * would not fit and would not help the sender either. */
#define SCHEMA_MAX_PROBLEMS 20

/* Parser problems kept for the load error text. */
#define SCHEMA_MAX_LOAD_ERRORS 3

struct sz_schema {
    const char *path;
    xmlSchemaPtr compiled;
};

typedef struct {
    apr_pool_t *pool;
    const char *text;
    int count;
} load_errors_t;

typedef struct {
    sz_report_t *report;
    const char *code;
    xmlNode *root;
    int count;
} validation_t;

/* Namespace URIs that libxml2 writes as {uri}name, with the prefixes
 * senders and the StUF documents use. */
static const struct {
    const char *uri;
    const char *prefix;
} known_namespaces[] = {
    { "http://www.egem.nl/StUF/sector/zkn/0310", "ZKN:" },
    { "http://www.egem.nl/StUF/StUF0301", "StUF:" },
    { "http://www.egem.nl/StUF/sector/bg/0310", "BG:" },
    { "http://www.w3.org/2001/XMLSchema-instance", "xsi:" },
};

/* libxml2 closes a quoted value with one of these phrases; what follows is
 * its own wording and the schema's limits. */
static const char *const value_ends[] = {
    "' is ", "' has ", "' does ", "' of ",
};

static apr_status_t schema_cleanup(void *data)
{
    sz_schema_t *schema = data;

    if (schema->compiled != NULL) {
        xmlSchemaFree(schema->compiled);
        schema->compiled = NULL;
    }
    return APR_SUCCESS;
}

static const char *trim_message(apr_pool_t *pool, const char *message)
{
    char *text = apr_pstrdup(pool, message ? message : "unknown problem");
    apr_size_t length = strlen(text);

    while (length > 0 && (text[length - 1] == '\n'
                          || text[length - 1] == ' ')) {
        text[--length] = '\0';
    }
    return text;
}

static void load_error(void *data, xmlErrorPtr error)
{
    load_errors_t *errors = data;
    const char *where;

    if (error->level < XML_ERR_ERROR) {
        return;
    }
    errors->count++;
    if (errors->count > SCHEMA_MAX_LOAD_ERRORS) {
        return;
    }

    where = error->file ? apr_psprintf(errors->pool, "%s:%d: ", error->file,
                                       error->line)
                        : "";
    errors->text = apr_pstrcat(errors->pool,
                               errors->text ? errors->text : "",
                               errors->text ? "; " : "", where,
                               trim_message(errors->pool, error->message),
                               NULL);
}

sz_schema_t *sz_schema_load(const char *path, apr_pool_t *pool,
                            const char **error)
{
    load_errors_t errors = { pool, NULL, 0 };
    xmlSchemaParserCtxtPtr parser;
    xmlExternalEntityLoader previous_loader;
    xmlStructuredErrorFunc previous_handler;
    void *previous_context;
    sz_schema_t *schema;

    *error = NULL;
    xmlInitParser();

    parser = xmlSchemaNewParserCtxt(path);
    if (parser == NULL) {
        *error = apr_psprintf(pool, "schema %s: cannot create a parser",
                              path);
        return NULL;
    }
    xmlSchemaSetParserStructuredErrors(parser, load_error, &errors);

    /* The schema parser reads imports with its own fixed options, so the
     * only way to keep it off the network is the entity loader. That is
     * process-wide, which is acceptable here: schemas are compiled at
     * startup, before any thread validates. */
    previous_loader = xmlGetExternalEntityLoader();
    xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);

    /* Reading a file fails through libxml2's thread-wide handler, not the
     * parser's; route it into errors too instead of stderr. */
    previous_handler = xmlStructuredError;
    previous_context = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(&errors, load_error);

    schema = apr_pcalloc(pool, sizeof(*schema));
    schema->path = apr_pstrdup(pool, path);
    schema->compiled = xmlSchemaParse(parser);

    xmlSetStructuredErrorFunc(previous_context, previous_handler);
    xmlSetExternalEntityLoader(previous_loader);
    xmlSchemaFreeParserCtxt(parser);

    if (schema->compiled == NULL || errors.count > 0) {
        if (schema->compiled != NULL) {
            xmlSchemaFree(schema->compiled);
        }
        *error = apr_psprintf(pool, "schema %s does not compile: %s%s", path,
                              errors.text ? errors.text : "unknown problem",
                              errors.count > SCHEMA_MAX_LOAD_ERRORS
                                  ? apr_psprintf(pool, " (%d problems)",
                                                 errors.count)
                                  : "");
        return NULL;
    }

    apr_pool_cleanup_register(pool, schema, schema_cleanup,
                              apr_pool_cleanup_null);
    return schema;
}

const char *sz_schema_path(const sz_schema_t *schema)
{
    return schema->path;
}

/* The closing brace of a "{uri}" at p, or NULL when the braces hold
 * something else, like a pattern's "{9}" or an enumeration set. */
static const char *namespace_end(const char *p)
{
    apr_size_t length = strcspn(p + 1, "}' \t\n");

    if (p[1 + length] != '}' || memchr(p + 1, ':', length) == NULL) {
        return NULL;
    }
    return p + 1 + length;
}

/* Rewrites {uri}name as prefix:name (or plain name for other
 * namespaces), which keeps the text short and readable. */
static char *shorten_names(apr_pool_t *pool, const char *message)
{
    apr_size_t size = strlen(message) + 1;
    char *out = apr_palloc(pool, size);
    char *o = out;
    const char *p = message;

    while (*p) {
        const char *close;
        apr_size_t i;

        if (*p != '{' || (close = namespace_end(p)) == NULL) {
            *o++ = *p++;
            continue;
        }
        for (i = 0; i < sizeof(known_namespaces) / sizeof(*known_namespaces);
             i++) {
            const char *uri = known_namespaces[i].uri;

            if ((apr_size_t)(close - p - 1) == strlen(uri)
                && strncmp(p + 1, uri, close - p - 1) == 0) {
                /* "{uri}" is always longer than the prefix replacing it. */
                strcpy(o, known_namespaces[i].prefix);
                o += strlen(o);
                break;
            }
        }
        p = close + 1;
    }
    *o = '\0';
    return out;
}

/* The position where a quoted value opened at start ends: the last
 * closing phrase of libxml2 after it, so a value holding quotes or such
 * phrases itself is still removed whole. NULL when none is found. */
static const char *value_end(const char *start)
{
    const char *end = NULL;
    apr_size_t i;

    for (i = 0; i < sizeof(value_ends) / sizeof(*value_ends); i++) {
        const char *hit = start;
        const char *found;

        while ((found = strstr(hit, value_ends[i])) != NULL) {
            if (end == NULL || found > end) {
                end = found;
            }
            hit = found + 1;
        }
    }
    return end;
}

/* Removes values quoted by libxml2: after "value '" ("The value 'x' is
 * not accepted ...") and right after a colon ("...: 'x' is not a valid
 * value ..."). Names, facets and limits come from the schema and stay. */
static char *remove_values(apr_pool_t *pool, char *text)
{
    char *p = text;

    while ((p = strchr(p, '\'')) != NULL) {
        int after_value = p - text >= 6 && strncmp(p - 6, "value ", 6) == 0;
        int after_colon = p - text >= 2 && strncmp(p - 2, ": ", 2) == 0;
        const char *end;

        if (!after_value && !after_colon) {
            /* Skip the whole quoted name or limit. */
            char *close = strchr(p + 1, '\'');

            if (close == NULL) {
                break;
            }
            p = close + 1;
            continue;
        }

        end = value_end(p + 1);
        if (after_value) {
            /* "The value 'x' is ..." becomes "The value is ...". */
            const char *rest = end ? end + 1 : "";
            apr_size_t offset = (p - 1) - text;

            text = apr_pstrcat(pool, apr_pstrmemdup(pool, text, offset),
                               rest, NULL);
            p = text + offset;
        }
        else {
            /* "...: 'x' is not a valid value" becomes "...: the value is
             * not a valid value". */
            const char *rest = end ? end + 1 : "";
            apr_size_t offset = p - text;

            text = apr_pstrcat(pool, apr_pstrmemdup(pool, text, offset),
                               "the value", rest, NULL);
            p = text + offset + strlen("the value");
        }
    }
    return text;
}

/* Drops libxml2's "Element 'name'[, attribute 'name']: " opening: the
 * field already names the element and the attribute. */
static const char *drop_element_prefix(const char *text)
{
    const char *close;

    if (strncmp(text, "Element '", 9) != 0) {
        return text;
    }
    close = strchr(text + 9, '\'');
    if (close == NULL) {
        return text;
    }
    if (strncmp(close, "': ", 3) == 0) {
        return close + 3;
    }
    if (strncmp(close, "', attribute '", 14) == 0) {
        close = strchr(close + 14, '\'');
        if (close != NULL && strncmp(close, "': ", 3) == 0) {
            return close + 3;
        }
    }
    return text;
}

/* Whether text still holds a value of node: its text or an attribute.
 * Short values are ignored, as they also occur in libxml2's own words;
 * the values that must never leak (BSN, names, texts) are longer. */
static int holds_node_value(const char *text, xmlNode *node)
{
    xmlNode *child;
    xmlAttr *attribute;

    if (node == NULL || node->type != XML_ELEMENT_NODE) {
        return 0;
    }
    for (child = node->children; child != NULL; child = child->next) {
        const char *content = (const char *)child->content;

        if ((child->type == XML_TEXT_NODE
             || child->type == XML_CDATA_SECTION_NODE)
            && content != NULL) {
            while (*content == ' ' || *content == '\t' || *content == '\n'
                   || *content == '\r') {
                content++;
            }
            if (strlen(content) >= 4 && strstr(text, content) != NULL) {
                return 1;
            }
        }
    }
    for (attribute = node->properties; attribute != NULL;
         attribute = attribute->next) {
        xmlNode *value = attribute->children;

        if (value != NULL && value->content != NULL
            && strlen((const char *)value->content) >= 4
            && strstr(text, (const char *)value->content) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* The path of node below the validated root: "object/heeft/toelichting",
 * as the LZ specification names fields. The root itself is its name. */
static const char *node_path(apr_pool_t *pool, xmlNode *node, xmlNode *root)
{
    const char *path = NULL;

    if (node == NULL) {
        return NULL;
    }
    if (node->type == XML_ATTRIBUTE_NODE) {
        path = apr_pstrcat(pool, "@", (const char *)node->name, NULL);
        node = node->parent;
    }
    for (; node != NULL && node->type == XML_ELEMENT_NODE;
         node = node->parent) {
        if (node == root && path != NULL) {
            break;
        }
        path = path ? apr_pstrcat(pool, (const char *)node->name, "/", path,
                                  NULL)
                    : (const char *)node->name;
        if (node == root) {
            break;
        }
    }
    return path ? apr_pstrdup(pool, path) : NULL;
}

/* The field of a problem. libxml2 reports attribute problems on the
 * element and names the attribute only in the text ("Element 'x',
 * attribute 'StUF:y': ..."), so the attribute is taken from there. */
static const char *field_of(apr_pool_t *pool, xmlNode *node, xmlNode *root,
                            const char *message)
{
    const char *path = node_path(pool, node, root);
    const char *name = strstr(message, "', attribute '");
    const char *end;

    if (path == NULL || name == NULL || strncmp(message, "Element '", 9)) {
        return path;
    }
    name += strlen("', attribute '");
    end = strchr(name, '\'');
    if (end == NULL) {
        return path;
    }
    if (memchr(name, ':', end - name) != NULL) {
        name = (const char *)memchr(name, ':', end - name) + 1;
    }
    return apr_pstrcat(pool, path, "/@", apr_pstrmemdup(pool, name,
                                                        end - name), NULL);
}

static void validation_error(void *data, xmlErrorPtr error)
{
    validation_t *validation = data;
    apr_pool_t *pool = validation->report->pool;
    xmlNode *node = error->node;
    char *cleaned;
    const char *text;

    if (error->level < XML_ERR_ERROR) {
        return;
    }
    validation->count++;
    if (validation->count > SCHEMA_MAX_PROBLEMS) {
        return;
    }

    cleaned = shorten_names(pool, trim_message(pool, error->message));
    cleaned = remove_values(pool, cleaned);
    text = drop_element_prefix(cleaned);

    /* A last guard for privacy: if the rewriting missed a value (a message
     * form we do not know), say less rather than leak a BSN. */
    if (holds_node_value(text, node)) {
        text = apr_psprintf(pool, "the content does not match the schema "
                            "(libxml2 error %d)", error->code);
    }

    sz_report_add(validation->report, validation->code,
                  field_of(pool, node, validation->root, cleaned), "%s",
                  text);
}

int sz_schema_validate(const sz_schema_t *schema, xmlNode *element,
                       const char *code, sz_report_t *report)
{
    validation_t validation = { report, code, element, 0 };
    xmlSchemaValidCtxtPtr context;
    int result;

    context = xmlSchemaNewValidCtxt(schema->compiled);
    if (context == NULL) {
        sz_report_add(report, code, NULL, "schema validation could not start");
        return 1;
    }
    xmlSchemaSetValidStructuredErrors(context, validation_error,
                                      &validation);

    result = xmlSchemaValidateOneElement(context, element);
    xmlSchemaFreeValidCtxt(context);

    if (result == 0) {
        return 0;
    }
    if (validation.count == 0) {
        /* libxml2 failed without saying why (an internal error). */
        sz_report_add(report, code, NULL,
                      "schema validation failed (libxml2 result %d)", result);
        return 1;
    }
    return validation.count > SCHEMA_MAX_PROBLEMS ? SCHEMA_MAX_PROBLEMS
                                                  : validation.count;
}

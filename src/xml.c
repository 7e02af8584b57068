/* xml.c - safe parsing of messages and small tree helpers (see xml.h).
 * The parser runs with a private SAX table that stops at a DOCTYPE, so no
 * DTD of a sender's is ever read. */
#include "xml.h"

#include <string.h>

#include <apr_strings.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

static apr_status_t free_doc(void *doc)
{
    xmlFreeDoc(doc);
    return APR_SUCCESS;
}

/* Called for <!DOCTYPE ...>: refuse the whole message right there. */
static void refuse_doctype(void *context, const xmlChar *name,
                           const xmlChar *external_id,
                           const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = context;

    ctxt->_private = (void *)"doctype";
    xmlStopParser(ctxt);
}

static void silent(void *context, const char *format, ...)
{
}

/* libxml2 stops at a NUL byte as if the input ended there; whatever
 * follows would silently be ignored. True when bytes other than
 * whitespace remain after what the parser consumed. */
static int trailing_content(xmlParserCtxtPtr ctxt, const char *data,
                            apr_size_t len)
{
    long consumed = xmlByteConsumed(ctxt);
    apr_size_t i;

    if (consumed < 0 || (apr_size_t)consumed >= len) {
        return 0;
    }
    for (i = (apr_size_t)consumed; i < len; i++) {
        if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' &&
            data[i] != '\n') {
            return 1;
        }
    }
    return 0;
}

xmlDoc *sz_xml_parse(const char *data, apr_size_t len, apr_pool_t *pool,
                     const char **error)
{
    xmlGenericErrorFunc saved_handler;
    void *saved_context;
    xmlParserCtxtPtr ctxt;
    xmlDoc *doc;
    int well_formed;
    int doctype;

    if (len == 0) {
        *error = "leeg bericht: geen XML ontvangen";
        return NULL;
    }
    if (len > 0x7fffffff) {
        *error = "bericht te groot";
        return NULL;
    }

    /* Encoding errors bypass XML_PARSE_NOERROR and go to libxml2's
     * generic handler, which writes to stderr (httpd's error log) with
     * bytes of the message in it. Silence it for this parse only; the
     * handlers are per thread and other modules may use their own. */
    saved_context = xmlGenericErrorContext;
    saved_handler = xmlGenericError;
    xmlSetGenericErrorFunc(NULL, silent);

    ctxt = xmlCreateMemoryParserCtxt(data, (int)len);
    if (ctxt == NULL) {
        xmlSetGenericErrorFunc(saved_context, saved_handler);
        *error = "XML-parser kon niet starten";
        return NULL;
    }
    ctxt->sax->internalSubset = refuse_doctype;
    ctxt->sax->externalSubset = refuse_doctype;
    ctxt->sax->warning = NULL;
    ctxt->sax->error = NULL;
    ctxt->sax->serror = NULL;
    ctxt->vctxt.error = NULL;
    ctxt->vctxt.warning = NULL;
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOWARNING |
                                XML_PARSE_NOERROR);
    ctxt->replaceEntities = 0;

    xmlParseDocument(ctxt);

    doc = ctxt->myDoc;
    well_formed = ctxt->wellFormed && ctxt->nsWellFormed;
    doctype = ctxt->_private != NULL || (doc && doc->intSubset);
    if (doctype) {
        *error = "DOCTYPE is niet toegestaan in een SOAP-bericht";
    }
    else if (well_formed && doc && trailing_content(ctxt, data, len)) {
        well_formed = 0;
        *error = "inhoud na het einde van het XML-document (bijvoorbeeld "
                 "een NUL-byte)";
    }
    else if (!well_formed || doc == NULL) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);

        *error = apr_psprintf(pool, "XML niet well-formed: regel %d, "
                              "kolom %d (libxml2 fout %d)",
                              e ? e->line : 0, e ? e->int2 : 0,
                              e ? e->code : 0);
    }
    ctxt->myDoc = NULL;
    xmlFreeParserCtxt(ctxt);
    xmlSetGenericErrorFunc(saved_context, saved_handler);

    if (doctype || !well_formed || doc == NULL) {
        if (doc) {
            xmlFreeDoc(doc);
        }
        return NULL;
    }
    apr_pool_cleanup_register(pool, doc, free_doc, apr_pool_cleanup_null);
    return doc;
}

int sz_xml_is(const xmlNode *node, const char *ns, const char *name)
{
    if (node == NULL || node->type != XML_ELEMENT_NODE) {
        return 0;
    }
    if (strcmp((const char *)node->name, name) != 0) {
        return 0;
    }
    if (ns == NULL) {
        return 1;
    }
    return node->ns && node->ns->href &&
           strcmp((const char *)node->ns->href, ns) == 0;
}

xmlNode *sz_xml_child(const xmlNode *parent, const char *ns,
                      const char *name)
{
    xmlNode *child;

    if (parent == NULL) {
        return NULL;
    }
    for (child = parent->children; child; child = child->next) {
        if (sz_xml_is(child, ns, name)) {
            return child;
        }
    }
    return NULL;
}

int sz_xml_count(const xmlNode *parent, const char *ns, const char *name)
{
    xmlNode *child;
    int count = 0;

    if (parent == NULL) {
        return 0;
    }
    for (child = parent->children; child; child = child->next) {
        count += sz_xml_is(child, ns, name);
    }
    return count;
}

const char *sz_xml_text(const xmlNode *node, apr_pool_t *pool)
{
    xmlChar *content;
    const char *text;

    if (node == NULL) {
        return NULL;
    }
    content = xmlNodeGetContent(node);
    text = apr_pstrdup(pool, content ? (const char *)content : "");
    xmlFree(content);
    return text;
}

xmlNode *sz_xml_soap_body_child(xmlDoc *doc, const char **error)
{
    xmlNode *envelope = xmlDocGetRootElement(doc);
    xmlNode *body;
    xmlNode *child;
    xmlNode *found = NULL;

    if (!sz_xml_is(envelope, NULL, "Envelope")) {
        *error = "geen SOAP-bericht: het root-element is geen Envelope";
        return NULL;
    }
    if (!sz_xml_is(envelope, SZ_NS_SOAP11, "Envelope")) {
        *error = "alleen SOAP 1.1 wordt ondersteund (namespace "
                 SZ_NS_SOAP11 ")";
        return NULL;
    }
    body = sz_xml_child(envelope, SZ_NS_SOAP11, "Body");
    if (body == NULL) {
        *error = "SOAP Envelope zonder Body";
        return NULL;
    }
    for (child = body->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (found) {
            *error = "SOAP Body bevat meer dan een element";
            return NULL;
        }
        found = child;
    }
    if (found == NULL) {
        *error = "SOAP Body is leeg";
    }
    return found;
}

const xmlNode *sz_xml_soap_must_understand(xmlDoc *doc)
{
    xmlNode *header = sz_xml_child(xmlDocGetRootElement(doc), SZ_NS_SOAP11,
                                   "Header");
    xmlNode *block;

    for (block = header ? header->children : NULL; block;
         block = block->next) {
        xmlChar *value;
        int demanded;

        if (block->type != XML_ELEMENT_NODE) {
            continue;
        }
        value = xmlGetNsProp(block, (const xmlChar *)"mustUnderstand",
                             (const xmlChar *)SZ_NS_SOAP11);
        demanded = value && (strcmp((const char *)value, "1") == 0 ||
                             strcmp((const char *)value, "true") == 0);
        xmlFree(value);
        if (demanded) {
            return block;
        }
    }
    return NULL;
}

const char *sz_xml_dump(const xmlNode *node, apr_pool_t *pool,
                        apr_size_t *len)
{
    xmlBufferPtr buffer = xmlBufferCreate();
    const char *bytes;

    xmlNodeDump(buffer, node->doc, (xmlNode *)node, 0, 0);
    *len = (apr_size_t)xmlBufferLength(buffer);
    bytes = apr_pstrmemdup(pool, (const char *)xmlBufferContent(buffer),
                           *len);
    xmlBufferFree(buffer);
    return bytes;
}

const char *sz_xml_escape(const char *s, apr_pool_t *pool)
{
    apr_size_t extra = 0;
    const char *p;
    char *out;
    char *q;

    if (s == NULL) {
        return "";
    }
    for (p = s; *p; p++) {
        extra += (*p == '&' || *p == '<' || *p == '>' || *p == '"' ||
                  *p == '\'') ? 5 : 0;
    }
    if (extra == 0) {
        return s;
    }
    out = apr_palloc(pool, strlen(s) + extra + 1);
    for (p = s, q = out; *p; p++) {
        switch (*p) {
        case '&': memcpy(q, "&amp;", 5); q += 5; break;
        case '<': memcpy(q, "&lt;", 4); q += 4; break;
        case '>': memcpy(q, "&gt;", 4); q += 4; break;
        case '"': memcpy(q, "&quot;", 6); q += 6; break;
        case '\'': memcpy(q, "&apos;", 6); q += 6; break;
        default: *q++ = *p;
        }
    }
    *q = '\0';
    return out;
}

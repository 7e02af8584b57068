/* xml.h - safe XML parsing for messages from outside, and the few tree
 * helpers every unit needs. A message may not carry a DOCTYPE (SOAP
 * forbids it), so entity definitions, external entities and entity
 * expansion never happen; the network is never used. */
#ifndef STUFLZ_XML_H
#define STUFLZ_XML_H

#include <apr_pools.h>
#include <libxml/tree.h>

#define SZ_NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"

/* Parses len bytes. On success returns the document, freed when pool is
 * cleared. On failure returns NULL and sets *error to a text fit for a
 * faultstring (position and reason, no message content). */
xmlDoc *sz_xml_parse(const char *data, apr_size_t len, apr_pool_t *pool,
                     const char **error);

/* The single element inside soap:Envelope/soap:Body (SOAP 1.1), or NULL
 * with *error set. */
xmlNode *sz_xml_soap_body_child(xmlDoc *doc, const char **error);

/* The first SOAP 1.1 header block that demands to be understood
 * (soap:mustUnderstand "1" or "true"), or NULL. */
const xmlNode *sz_xml_soap_must_understand(xmlDoc *doc);

/* First element child of parent with this namespace URI (NULL = any) and
 * local name, or NULL. */
xmlNode *sz_xml_child(const xmlNode *parent, const char *ns,
                      const char *name);

/* Number of element children with this namespace URI and local name. */
int sz_xml_count(const xmlNode *parent, const char *ns, const char *name);

/* Text content of an element (copied into pool), or NULL for NULL. */
const char *sz_xml_text(const xmlNode *node, apr_pool_t *pool);

/* True when the element is namespaced as ns with this local name. */
int sz_xml_is(const xmlNode *node, const char *ns, const char *name);

/* The element serialised as bytes (for digests). */
const char *sz_xml_dump(const xmlNode *node, apr_pool_t *pool,
                        apr_size_t *len);

/* s with &, <, >, " and ' escaped for element or attribute content. */
const char *sz_xml_escape(const char *s, apr_pool_t *pool);

#endif

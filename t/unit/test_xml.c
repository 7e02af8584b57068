/* test_xml.c - the safe parser refuses DOCTYPEs (and with them XXE and
 * entity expansion), reports malformed XML without echoing it, and finds
 * the one element in a SOAP Body. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "tap.h"
#include "xml.h"

static xmlDoc *parse(apr_pool_t *pool, const char *text, const char **error)
{
    *error = NULL;
    return sz_xml_parse(text, strlen(text), pool, error);
}

static void test_doctype_and_entities_refused(apr_pool_t *pool)
{
    const char *error;
    const char *laughs =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
        "<lolz>&lol2;</lolz>";
    const char *xxe =
        "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM "
        "\"file:///etc/passwd\">]><a>&x;</a>";
    const char *external =
        "<!DOCTYPE a SYSTEM \"http://127.0.0.1:9/evil.dtd\"><a/>";

    tap_ok(parse(pool, laughs, &error) == NULL, "billion laughs refused");
    tap_ok(error && strstr(error, "DOCTYPE"), "error names the DOCTYPE");
    tap_ok(parse(pool, xxe, &error) == NULL, "external entity refused");
    tap_ok(error && strstr(error, "passwd") == NULL,
           "error does not echo the entity");
    tap_ok(parse(pool, external, &error) == NULL, "external DTD refused");
}

static void test_malformed_refused(apr_pool_t *pool)
{
    const char *error;

    tap_ok(parse(pool, "<a><b></a>", &error) == NULL, "mismatched tags");
    tap_ok(error && strstr(error, "well-formed"), "says not well-formed");
    tap_ok(sz_xml_parse("", 0, pool, &error) == NULL, "empty body refused");
    tap_ok(parse(pool, "<a>\xff\xfe</a>", &error) == NULL,
           "invalid UTF-8 refused");
    tap_ok(sz_xml_parse("<a>\0</a>", 8, pool, &error) == NULL,
           "NUL byte refused");
}

/* libxml2 reports encoding errors through its generic handler, which
 * writes to stderr (httpd's error log) with bytes of the message. */
static void test_encoding_errors_stay_silent(apr_pool_t *pool)
{
    const char body[] = "<?xml version=\"1.0\" encoding=\"UCS-4\"?>"
                        "<a>\xff\xff\xff\xff</a>";
    const char *error = NULL;
    FILE *capture = tmpfile();
    int saved = dup(2);
    long written;

    fflush(stderr);
    dup2(fileno(capture), 2);
    tap_ok(sz_xml_parse(body, sizeof(body) - 1, pool, &error) == NULL,
           "undecodable bytes refused");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fseek(capture, 0, SEEK_END);
    written = ftell(capture);
    fclose(capture);
    tap_is_int(written, 0, "and nothing written to stderr (the error log)");
}

static void test_namespace_errors_and_trailing_bytes(apr_pool_t *pool)
{
    const char *error = NULL;

    tap_ok(parse(pool, "<a><b:c/></a>", &error) == NULL,
           "undeclared prefix refused");
    tap_ok(sz_xml_parse("<a>x</a>\0<b/>", 13, pool, &error) == NULL,
           "bytes after a NUL following the root refused");
    tap_ok(error && strstr(error, "NUL"), "says why");
    tap_ok(sz_xml_parse("<a>x</a>\n ", 10, pool, &error) != NULL,
           "trailing whitespace is fine");
}

static void test_soap_body_child(apr_pool_t *pool)
{
    const char *error = NULL;
    xmlDoc *doc;
    xmlNode *child;

    doc = parse(pool, "<s:Envelope xmlns:s=\"" SZ_NS_SOAP11 "\"><s:Header/>"
                "<s:Body> <m:x xmlns:m=\"urn:m\"/> </s:Body></s:Envelope>",
                &error);
    tap_ok(doc != NULL, "SOAP envelope parses");
    child = doc ? sz_xml_soap_body_child(doc, &error) : NULL;
    tap_ok(sz_xml_is(child, "urn:m", "x"), "body child found by namespace");

    doc = parse(pool, "<s:Envelope xmlns:s=\"urn:other\"><s:Body/>"
                "</s:Envelope>", &error);
    tap_ok(doc && sz_xml_soap_body_child(doc, &error) == NULL,
           "wrong envelope namespace refused");
    doc = parse(pool, "<s:Envelope xmlns:s=\"" SZ_NS_SOAP11 "\"><s:Body>"
                "<a/><b/></s:Body></s:Envelope>", &error);
    tap_ok(doc && sz_xml_soap_body_child(doc, &error) == NULL,
           "two body elements refused");
    tap_ok(error && strstr(error, "meer dan"), "says more than one");
    doc = parse(pool, "<zakLk01/>", &error);
    tap_ok(doc && sz_xml_soap_body_child(doc, &error) == NULL,
           "bare message is not SOAP");
}

static void test_escape(apr_pool_t *pool)
{
    tap_is(sz_xml_escape("a<b>&\"'", pool), "a&lt;b&gt;&amp;&quot;&apos;",
           "markup characters escaped");
    tap_is(sz_xml_escape("plain", pool), "plain", "plain text unchanged");
}

int main(void)
{
    apr_pool_t *pool = tap_start();

    xmlInitParser();
    test_doctype_and_entities_refused(pool);
    test_malformed_refused(pool);
    test_encoding_errors_stay_silent(pool);
    test_namespace_errors_and_trailing_bytes(pool);
    test_soap_body_child(pool);
    test_escape(pool);
    apr_pool_destroy(pool);
    return tap_done();
}

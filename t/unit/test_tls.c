/* test_tls.c - the OIN is read from the client certificate's subject
 * serialNumber, whatever way the PEM travelled (mod_ssl, or a proxy
 * header URL-encoded or with spaces), and unusable certificates are
 * refused with a reason. Certificates are made here with OpenSSL. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tap.h"
#include "tls.h"

/* A self-signed certificate with this serialNumber (NULL: none), valid
 * from now + from_days to now + to_days, as PEM. */
static const char *make_certificate(apr_pool_t *pool, const char *serial,
                                    long from_days, long to_days)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    const char *pem;

    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), to_days * 86400);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"test", -1, -1, 0);
    if (serial) {
        X509_NAME_add_entry_by_NID(name, NID_serialNumber, MBSTRING_ASC,
                                   (const unsigned char *)serial, -1, -1, 0);
    }
    X509_set_subject_name(cert, name);
    X509_set_issuer_name(cert, name);
    X509_set_pubkey(cert, key);
    X509_sign(cert, key, EVP_sha256());
    PEM_write_bio_X509(bio, cert);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(pool, data, (apr_size_t)len);
    BIO_free(bio);
    X509_NAME_free(name);
    X509_free(cert);
    EVP_PKEY_free(key);
    return pem;
}

static void test_oin_read_from_serial_number(apr_pool_t *pool)
{
    const char *pem = make_certificate(pool, "00000001234567890363", -1, 30);
    const char *oin = NULL;
    const char *problem = NULL;

    tap_is_int(sz_tls_certificate_oin(pem, pool, &oin, &problem), 0,
               "a PKIoverheid-like certificate is read");
    tap_is(oin, "00000001234567890363", "its OIN is the serialNumber");
}

static void test_header_transports_are_undone(apr_pool_t *pool)
{
    const char *pem = make_certificate(pool, "00000001234567890363", -1, 30);
    char *spaced = apr_pstrdup(pool, pem);
    char *encoded = apr_palloc(pool, strlen(pem) * 3 + 1);
    const char *oin = NULL;
    const char *problem = NULL;
    char *p;
    char *q = encoded;

    for (p = spaced; *p; p++) {
        if (*p == '\n') {
            *p = ' ';
        }
    }
    for (p = (char *)pem; *p; p++) {
        if (*p == '\n' || *p == '+' || *p == '/' || *p == '=' || *p == ' ') {
            q += sprintf(q, "%%%02X", (unsigned char)*p);
        }
        else {
            *q++ = *p;
        }
    }
    *q = '\0';

    tap_is_int(sz_tls_certificate_oin(spaced, pool, &oin, &problem), 0,
               "a PEM whose line breaks became spaces is read");
    tap_is(oin, "00000001234567890363", "with its OIN");
    oin = NULL;
    tap_is_int(sz_tls_certificate_oin(encoded, pool, &oin, &problem), 0,
               "a URL-encoded PEM is read");
    tap_is(oin, "00000001234567890363", "with its OIN");
}

static void expect_refused(apr_pool_t *pool, const char *pem,
                           const char *reason, const char *name)
{
    const char *oin = "untouched";
    const char *problem = NULL;

    tap_is_int(sz_tls_certificate_oin(pem, pool, &oin, &problem), -1,
               "%s: refused", name);
    tap_ok(oin == NULL, "%s: no OIN", name);
    tap_ok(problem && strstr(problem, reason), "%s: says '%s'", name,
           reason);
}

static void test_unusable_certificates_refused(apr_pool_t *pool)
{
    expect_refused(pool, make_certificate(pool, "00000001234567890363", -60,
                                          -1), "verlopen", "expired");
    expect_refused(pool, make_certificate(pool, "00000001234567890363", 2,
                                          30), "nog niet geldig",
                   "not yet valid");
    expect_refused(pool, make_certificate(pool, NULL, -1, 30),
                   "serialNumber", "no serialNumber");
    expect_refused(pool, make_certificate(pool, "0000000123456789036", -1,
                                          30), "20 cijfers",
                   "a 19-digit serialNumber");
    expect_refused(pool, make_certificate(pool, "0000000123456789036X", -1,
                                          30), "20 cijfers",
                   "a serialNumber with a letter");
    expect_refused(pool, "-----BEGIN CERTIFICATE-----\nAAAA\n"
                   "-----END CERTIFICATE-----\n", "PEM", "garbage");
    expect_refused(pool, "", "geen", "empty");
    expect_refused(pool, NULL, "geen", "absent");
}

int main(void)
{
    apr_pool_t *pool = tap_start();

    test_oin_read_from_serial_number(pool);
    test_header_transports_are_undone(pool);
    test_unusable_certificates_refused(pool);
    apr_pool_destroy(pool);
    return tap_done();
}

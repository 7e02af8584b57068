/* tls.c - the OIN of a client certificate (see tls.h). OpenSSL does the
 * parsing; mod_ssl (or the proxy) has already verified the chain, so
 * here only the validity period is checked again. */
#include "tls.h"

#include <string.h>

#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Undoes the header transports of a PEM: %XX escapes, and line breaks
 * that became spaces (the base64 body never contains a space, the BEGIN
 * and END lines do). */
static char *normalise_pem(const char *in, apr_pool_t *pool)
{
    apr_size_t len = strlen(in);
    char *out = apr_palloc(pool, len + 1);
    const char *begin_end[] = { "-----BEGIN CERTIFICATE-----",
                                "-----END CERTIFICATE-----" };
    apr_size_t i;
    apr_size_t o = 0;
    char *p;
    int k;

    for (i = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len && hex_value(in[i + 1]) >= 0 &&
            hex_value(in[i + 2]) >= 0) {
            out[o++] = (char)(hex_value(in[i + 1]) * 16 +
                              hex_value(in[i + 2]));
            i += 2;
        }
        else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';

    /* Spaces outside the BEGIN/END lines were line breaks. */
    for (p = out; *p; p++) {
        int inside_marker = 0;

        for (k = 0; k < 2; k++) {
            char *m = strstr(out, begin_end[k]);

            if (m && p >= m && p < m + strlen(begin_end[k])) {
                inside_marker = 1;
            }
        }
        if (*p == ' ' && !inside_marker) {
            *p = '\n';
        }
    }
    return out;
}

static int twenty_digits(const char *s)
{
    int i;

    for (i = 0; i < 20; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return s[20] == '\0';
}

int sz_tls_certificate_oin(const char *pem, apr_pool_t *pool,
                           const char **oin, const char **problem)
{
    const char *text;
    BIO *bio;
    X509 *cert;
    X509_NAME *subject;
    int index;
    const ASN1_STRING *data;
    const char *value;

    *oin = NULL;
    if (pem == NULL || *pem == '\0') {
        *problem = "geen clientcertificaat";
        return -1;
    }
    text = normalise_pem(pem, pool);
    bio = BIO_new_mem_buf(text, -1);
    cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (cert == NULL) {
        *problem = "clientcertificaat is geen leesbaar PEM-certificaat";
        return -1;
    }

    if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        *problem = "clientcertificaat is verlopen";
        X509_free(cert);
        return -1;
    }
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
        *problem = "clientcertificaat is nog niet geldig";
        X509_free(cert);
        return -1;
    }

    subject = X509_get_subject_name(cert);
    index = X509_NAME_get_index_by_NID(subject, NID_serialNumber, -1);
    if (index < 0) {
        *problem = "clientcertificaat zonder serialNumber (OIN) in subject";
        X509_free(cert);
        return -1;
    }
    data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    value = apr_pstrmemdup(pool, (const char *)ASN1_STRING_get0_data(data),
                           (apr_size_t)ASN1_STRING_length(data));
    X509_free(cert);
    if (!twenty_digits(value)) {
        *problem = "serialNumber in het clientcertificaat is geen OIN "
                   "(20 cijfers)";
        return -1;
    }
    *oin = value;
    return 0;
}

/* tls.h - who is connecting: the OIN in a client certificate (PKIoverheid
 * puts the 20-digit OIN in the subject's serialNumber). The certificate
 * comes from mod_ssl or, behind a TLS offloader, from a request header
 * set by a trusted proxy. */
#ifndef STUFLZ_TLS_H
#define STUFLZ_TLS_H

#include <apr_pools.h>

/* The identity of the client of one request, as the httpd glue found
 * it. The pipelines refuse a message whose sender does not match. */
typedef struct {
    int required;           /* a certificate must be present */
    int present;            /* a certificate was presented */
    const char *oin;        /* its OIN, or NULL */
    const char *problem;    /* why there is no OIN (no secrets, no BSN) */
} sz_client_t;

/* Reads a PEM certificate (as mod_ssl's SSL_CLIENT_CERT gives it, or as
 * a proxy header carries it: URL-encoded, or with its line breaks turned
 * into spaces) and returns the OIN of its subject's serialNumber. Returns
 * 0, or -1 with *problem: not a certificate, expired or not yet valid,
 * no serialNumber, a serialNumber that is not 20 digits. */
int sz_tls_certificate_oin(const char *pem, apr_pool_t *pool,
                           const char **oin, const char **problem);

#endif

/* process.h - the pipeline for one zakLk01 over the StUF SOAP binding:
 * parse, receipt checks (Fo03), content checks (Fo01), one store
 * transaction, and the answer. The httpd handler and the CLI's validate
 * both run it; the CLI passes no store. */
#ifndef STUFLZ_PROCESS_H
#define STUFLZ_PROCESS_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "cpa.h"
#include "lz.h"
#include "mime.h"
#include "report.h"
#include "schema.h"
#include "store.h"
#include "stuf.h"
#include "tls.h"

/* A registered sender (StufLZPartner). */
typedef struct {
    const char *oin;
    apr_array_header_t *gemeentecodes;  /* of const char *, 4 digits */
    const char *reply_url;              /* where Bv01/Fo01 go; may be NULL */
} sz_partner_t;

typedef struct {
    stuf_systeem_t receiver;        /* LZ's own StUF identity */
    apr_hash_t *partners;           /* OIN -> sz_partner_t *; NULL: any
                                       sender, no gemeentecode check (CLI) */
    const sz_schema_t *schema;      /* NULL: no schema check */
    lz_options_t lz;
    int allow_bare;                 /* accept a bare zakLk01 (CLI files) */
    const cpa_registry_t *cpas;     /* StufLZCPA; NULL: no ebMS binding */
    sz_mime_limits_t mime_limits;   /* ebMS multipart limits */
} sz_process_config_t;

typedef enum {
    SZ_ANSWER_BV01 = 0,     /* accepted: Bv03 now, Bv01 later */
    SZ_ANSWER_FO01,         /* content error: Bv03 now, Fo01 later */
    SZ_ANSWER_FO03,         /* receipt error: Fault with Fo03 now */
    SZ_ANSWER_FAULT         /* not SOAP / not XML: plain Fault */
} sz_answer_t;

typedef struct {
    sz_answer_t answer;
    int http_status;                /* 200 or 500 */
    const char *body;               /* the SOAP answer to send now */
    apr_size_t body_len;
    const char *fout_code;          /* Fo01/Fo03 code, else NULL */
    const char *functional_xml;     /* Bv01/Fo01/Fo03 element (for the CLI) */
    const char *referentienummer;   /* of the kennisgeving, for logs */
    const char *zaakidentificatie;  /* for logs; never a BSN */
    const char *log_text;           /* what went wrong, no payload */
    sz_report_t *report;            /* content failures */
    store_result_t store;           /* when a store was used */
    int replayed;                   /* identical resend answered again */
} sz_process_result_t;

/* What the StUF checks found in one StUF message (both bindings). */
typedef struct {
    stuf_stuurgegevens_t sg;
    lz_kennisgeving_t k;
    sz_report_t *report;            /* content failures */
    const sz_partner_t *partner;    /* the registered zender, or NULL */
    sz_answer_t answer;             /* BV01, FO01 or FO03 */
    const char *fout_code;          /* Fo01/Fo03 code, else NULL */
    const char *details;            /* Fo01/Fo03 details, no payload */
    stuf_answer_head_t head;        /* stuurgegevens of the answer */
    const char *functional_xml;     /* the Bv01/Fo01/Fo03 element */
    unsigned char digest[STORE_DIGEST_LEN];     /* of the message */
} sz_stuf_exam_t;

/* Runs the receipt checks and, when they pass, every content check on a
 * StUF message element, and builds the functional answer. Returns 0, or
 * -1 when the element has no stuurgegevens (not a StUF message). */
int sz_stuf_examine(const sz_process_config_t *config, xmlNode *message,
                    apr_time_t now, apr_pool_t *pool, sz_stuf_exam_t *exam);

/* Turns the answer of exam into a Fo03 with this code (a receipt error
 * found later, such as StUF016 or StUF046). */
void sz_stuf_exam_fo03(const sz_process_config_t *config,
                       sz_stuf_exam_t *exam, const char *code,
                       const char *details, apr_time_t now,
                       apr_pool_t *pool);

/* Handles one SOAP request body. store may be NULL (no storing, as in
 * the CLI). client is who connected (NULL: not checked); a required
 * certificate that is missing, or whose OIN is not the StUF zender
 * organisatie, gives Fo03 StUF013. now is the arrival time. */
void sz_process_soap(const sz_process_config_t *config, store_t *store,
                     const sz_client_t *client, const char *body,
                     apr_size_t len, apr_time_t now, apr_pool_t *pool,
                     sz_process_result_t *out);

/* A plain SOAP Fault answer (for problems found before parsing, such as
 * a wrong SOAPAction). */
void sz_process_fault(const char *plek, const char *faultstring,
                      apr_pool_t *pool, sz_process_result_t *out);

/* The outcome of one request on the ebMS binding. */
typedef struct {
    int http_status;                /* 200, 204, 500 or 503 */
    const char *body;               /* SOAP envelope, NULL for 204 */
    apr_size_t body_len;
    const char *cpaid;              /* for logs, when known */
    const char *message_id;
    const char *kind;               /* what arrived: "zakLk01", "Ping", ... */
    const char *signal;             /* what went back or was queued:
                                       "Acknowledgment", "MessageError",
                                       "Pong", "StatusResponse", NULL */
    int signal_queued;              /* the signal waits in the outbox */
    const char *error_code;         /* MessageError errorCode */
    const char *error_location;
    const char *log_text;           /* what went wrong, no payload */
    int duplicate;                  /* a MessageId seen before */
    sz_stuf_exam_t *exam;           /* the StUF payload's checks, or NULL */
    store_result_t store;
} sz_ebms_result_t;

/* Handles one request on the ebMS binding: soap_action and content_type
 * are the request's headers (either may be NULL). client is who
 * connected (NULL: not checked); a required certificate that is missing,
 * or whose OIN is not the From PartyId's, gives a MessageError
 * SecurityFailure. */
void sz_process_ebms(const sz_process_config_t *config, store_t *store,
                     const sz_client_t *client,
                     const char *soap_action, const char *content_type,
                     const char *body, apr_size_t len, apr_time_t now,
                     apr_pool_t *pool, sz_ebms_result_t *out);

#endif

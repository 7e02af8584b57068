/* lz.h - the Lopende Zaken domain: the fields of a zakLk01 kennisgeving
 * that LZ uses, how they are read from the XML, and the LZ rules of the
 * specification (DESIGN.md section 4) that the schema cannot express. */
#ifndef STUFLZ_LZ_H
#define STUFLZ_LZ_H

#include <apr_pools.h>
#include <apr_time.h>
#include <libxml/tree.h>

#include "report.h"
#include "tz.h"

#define LZ_NS_ZKN  "http://www.egem.nl/StUF/sector/zkn/0310"
#define LZ_NS_STUF "http://www.egem.nl/StUF/StUF0301"
#define LZ_NS_BG   "http://www.egem.nl/StUF/sector/bg/0310"
#define LZ_NS_XSI  "http://www.w3.org/2001/XMLSchema-instance"

/* Spec fields that an operator may declare optional (StufLZOptional).
 * identificatie, datumStatusGezet and the initiator BSN are the key of the
 * zaak, the status and the postbus and can never be optional. */
enum {
    LZ_FIELD_OMSCHRIJVING        = 1 << 0,  /* omschrijving */
    LZ_FIELD_TOELICHTING         = 1 << 1,  /* toelichting */
    LZ_FIELD_STARTDATUM          = 1 << 2,  /* startdatum */
    LZ_FIELD_EINDDATUM_GEPLAND   = 1 << 3,  /* einddatumGepland */
    /* heeft.gerelateerde.omschrijving */
    LZ_FIELD_STATUSTYPE          = 1 << 4,
    LZ_FIELD_STATUS_TOELICHTING  = 1 << 5,  /* heeft.toelichting */
    /* heeft.extraElementen.verwijzing */
    LZ_FIELD_VERWIJZING          = 1 << 6
};

/* Maps an operator's field name to its LZ_FIELD_ bit; accepts the spec
 * path with or without "object." ("heeft.toelichting",
 * "object.heeft.toelichting"). Returns 0 for an unknown name or a field
 * that cannot be optional. */
unsigned lz_field_from_name(const char *name);

/* The spec name of one LZ_FIELD_ bit, e.g. "object.heeft.toelichting". */
const char *lz_field_name(unsigned field);

typedef struct {
    unsigned optional;          /* LZ_FIELD_ bits that may be absent */
    const sz_tz_t *zone;        /* zone of StUF times; NULL = UTC */
    apr_interval_time_t skew;   /* allowed future skew (default 300 s) */
} lz_options_t;

/* One kennisgeving as LZ sees it. A field is NULL when the element is
 * absent, xsi:nil or carries StUF:noValue; strings are the element text
 * as sent (UTF-8), whitespace untouched. */
typedef struct {
    const char *mutatiesoort;          /* parameters/mutatiesoort */
    int object_count;                  /* number of ZKN:object elements */
    const char *verwerkingssoort;      /* object/@StUF:verwerkingssoort */
    const char *identificatie;
    const char *omschrijving;
    const char *toelichting;
    const char *startdatum;
    const char *einddatum_gepland;
    const char *einddatum;             /* present: this is the eindstatus */
    int status_count;                  /* number of object/heeft elements */
    const char *datum_status_gezet;    /* as sent, 8..17 digits */
    const char *status_omschrijving;   /* heeft/gerelateerde/omschrijving */
    const char *status_toelichting;    /* heeft/toelichting */
    const char *verwijzing;            /* extraElement naam="verwijzing" */
    int initiator_count;               /* number of heeftAlsInitiator */
    const char *bsn;                   /* initiator natuurlijkPersoon inp.bsn */
} lz_kennisgeving_t;

/* Reads the LZ fields from a ZKN:zakLk01 element. Structural problems
 * that make a field unreadable (two objects, two statuses, ...) are added
 * to the report as StUF058. Returns 0, or -1 when root is not a zakLk01. */
int lz_extract(const xmlNode *zaklk01, apr_pool_t *pool,
               lz_kennisgeving_t *out, sz_report_t *report);

/* Applies the LZ rules (DESIGN.md section 4) and adds every failure to the
 * report (StUF058; mutatiesoort other than T is StUF058 naming it). now is
 * the current time. Returns the number of failures added. */
int lz_check(const lz_kennisgeving_t *k, const lz_options_t *options,
             apr_time_t now, sz_report_t *report);

/* The datumStatusGezet padded with zeros to 17 digits (the status key),
 * or NULL if it is not 8..17 digits. */
const char *lz_status_key(const char *datum_status_gezet, apr_pool_t *pool);

/* The four-digit gemeentecode that starts a zaakidentificatie, or NULL. */
const char *lz_gemeentecode(const char *identificatie, apr_pool_t *pool);

/* Building blocks, exposed for the unit tests. */
/* 9 digits, 11-proef, not all zeros. */
int lz_bsn_valid(const char *bsn);
/* Exactly 8 digits, a real calendar date. */
int lz_date_valid(const char *yyyymmdd);
/* 12..17 digits (JJJJMMDDUUMM[SS[mmm]]), a real date and time; 8..11
 * digits are refused because the spec asks at least JJJJMMDDUUMM. */
int lz_timestamp_valid(const char *digits);
/* Converts a StUF timestamp (8..17 digits) read in zone to apr_time_t. */
int lz_timestamp_to_time(const char *digits, const sz_tz_t *zone,
                         apr_time_t *out);
/* 5..40 characters, first four digits, rest ASCII letters and digits. */
int lz_identificatie_valid(const char *identificatie);
/* http:// or https:// URL with a host and no spaces or control chars. */
int lz_url_valid(const char *url);

#endif

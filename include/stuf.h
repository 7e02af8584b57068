/* stuf.h - StUF 03.01 envelope matters: reading the stuurgegevens of a
 * message, the fout codes, and building the answers LZ gives (Bv01,
 * Bv03, Fo01, Fo03) and the SOAP 1.1 envelope or Fault around them. */
#ifndef STUFLZ_STUF_H
#define STUFLZ_STUF_H

#include <apr_pools.h>
#include <apr_time.h>
#include <libxml/tree.h>

#include "tz.h"

#define STUF_NS "http://www.egem.nl/StUF/StUF0301"

#define STUF_OMSCHRIJVING_MAX 200
#define STUF_DETAILS_MAX 1000

typedef struct {
    const char *organisatie;
    const char *applicatie;
    const char *administratie;
    const char *gebruiker;
} stuf_systeem_t;

typedef struct {
    const char *berichtcode;
    int has_zender;
    stuf_systeem_t zender;
    int has_ontvanger;
    stuf_systeem_t ontvanger;
    const char *referentienummer;
    const char *tijdstip_bericht;
    const char *entiteittype;
    const char *cross_refnummer;
    const char *functie;
} stuf_stuurgegevens_t;

/* Reads the stuurgegevens child of a StUF message element (in any
 * namespace: a sector message has ZKN:stuurgegevens). Returns 0, or -1
 * when there is none. Missing children are NULL. */
int stuf_read_stuurgegevens(const xmlNode *message, apr_pool_t *pool,
                            stuf_stuurgegevens_t *out);

/* The zender as one key: organisatie 0x1f applicatie 0x1f administratie. */
const char *stuf_systeem_key(const stuf_systeem_t *systeem,
                             apr_pool_t *pool);

/* True when both name the same organisatie, applicatie and administratie
 * (absent equals empty). */
int stuf_systeem_equal(const stuf_systeem_t *a, const stuf_systeem_t *b);

/* Berichtcodes StUF 03.01 defines, and entiteittypes of StUF-ZKN 3.10. */
int stuf_berichtcode_known(const char *berichtcode);
int stuf_entiteittype_known(const char *entiteittype);

/* The standard's omschrijving of a fout code, and its plek ("client" or
 * "server"). Unknown codes give a generic text and "server". */
const char *stuf_fout_omschrijving(const char *code);
const char *stuf_fout_plek(const char *code);

typedef struct {
    const char *code;           /* StUF0xx */
    const char *omschrijving;   /* NULL: the standard's text */
    const char *details;        /* NULL or <= 1000 characters */
} stuf_fout_t;

/* The stuurgegevens of an answer to message: zender and ontvanger
 * swapped (own_identity becomes zender), a new referentienummer,
 * tijdstipBericht now in zone, crossRefnummer = the message's. */
typedef struct {
    stuf_systeem_t zender;
    stuf_systeem_t ontvanger;
    const char *referentienummer;
    const char *tijdstip_bericht;
    const char *cross_refnummer;
} stuf_answer_head_t;

void stuf_answer_head(const stuf_stuurgegevens_t *message,
                      const stuf_systeem_t *own_identity,
                      apr_time_t now, const sz_tz_t *zone,
                      apr_pool_t *pool, stuf_answer_head_t *out);

/* A new referentienummer: "lz-" and 32 random hex digits (35 chars). */
const char *stuf_new_referentienummer(apr_pool_t *pool);

/* tijdstipBericht for now in zone: 17 digits JJJJMMDDUUMMSSmmm. */
const char *stuf_tijdstip(apr_time_t now, const sz_tz_t *zone,
                          apr_pool_t *pool);

/* The StUF:Bv01Bericht / StUF:Bv03Bericht element as XML text. */
const char *stuf_build_bevestiging(const char *berichtcode,
                                   const stuf_answer_head_t *head,
                                   apr_pool_t *pool);

/* The StUF:Fo01Bericht / StUF:Fo03Bericht element as XML text; the
 * omschrijving and details are cut to the standard's limits. */
const char *stuf_build_fout(const char *berichtcode,
                            const stuf_answer_head_t *head,
                            const stuf_fout_t *fout, apr_pool_t *pool);

/* A SOAP 1.1 envelope with element_xml as the Body's content. */
const char *stuf_soap_envelope(const char *element_xml, apr_pool_t *pool);

/* A SOAP 1.1 Fault: faultcode soap:Client or soap:Server (plek "client"
 * or "server"; "mustunderstand" gives soap:MustUnderstand), faultstring,
 * and detail_xml (may be NULL) inside detail. */
const char *stuf_soap_fault(const char *plek, const char *faultstring,
                            const char *detail_xml, apr_pool_t *pool);

#endif

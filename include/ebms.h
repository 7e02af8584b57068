/* ebms.h - ebMS 2.0 as Digikoppeling profiles it: reading the SOAP
 * header blocks of a received message, checking them against the CPA
 * (the conformance matrix of reference/ebms.md section 1.6), and
 * building the messages LZ sends: Acknowledgment, MessageError, Pong,
 * StatusResponse and user messages carrying a StUF answer. */
#ifndef STUFLZ_EBMS_H
#define STUFLZ_EBMS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <libxml/tree.h>

#include "cpa.h"

#define EBMS_NS "http://www.oasis-open.org/committees/ebxml-msg/schema/" \
                "msg-header-2_0.xsd"
#define EBMS_NS_XLINK "http://www.w3.org/1999/xlink"
#define EBMS_SERVICE "urn:oasis:names:tc:ebxml-msg:service"
#define EBMS_ACTOR_TO_PARTY "urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH"
#define EBMS_ACTOR_NEXT_MSH "urn:oasis:names:tc:ebxml-msg:actor:nextMSH"
#define EBMS_ACTOR_NEXT "http://schemas.xmlsoap.org/soap/actor/next"

/* What kind of message arrived. */
typedef enum {
    EBMS_USER_MESSAGE = 0,
    EBMS_ACKNOWLEDGMENT,
    EBMS_MESSAGE_ERROR,
    EBMS_PING,
    EBMS_PONG,
    EBMS_STATUS_REQUEST,
    EBMS_STATUS_RESPONSE
} ebms_kind_t;

typedef struct {
    const char *code;           /* errorCode: Inconsistent, NotSupported,
                                   ValueNotRecognized, OtherXml,
                                   TimeToLiveExpired, MimeProblem,
                                   SecurityFailure, DeliveryFailure,
                                   Unknown */
    const char *location;       /* e.g. "//Header/MessageHeader/@version" */
    const char *description;    /* e.g. "Invalid value." */
} ebms_error_t;

/* A received message's header blocks. Strings are NULL when absent. */
typedef struct {
    ebms_kind_t kind;
    const char *version;                /* MessageHeader/@eb:version */
    apr_array_header_t *from_ids;       /* of cpa_party_id_t */
    const char *from_role;
    apr_array_header_t *to_ids;         /* of cpa_party_id_t */
    const char *to_role;
    const char *cpaid;
    const char *conversation_id;
    const char *service;
    const char *service_type;
    const char *action;
    const char *message_id;
    const char *timestamp;              /* as sent */
    const char *ref_to_message_id;
    const char *time_to_live;           /* as sent */
    int duplicate_elimination;          /* element present */

    int ack_requested;                  /* AckRequested present */
    const char *ack_requested_version;
    const char *ack_requested_actor;
    const char *ack_requested_signed;   /* "true", "false" or NULL */

    int sync_reply;                     /* SyncReply present */
    const char *sync_reply_version;
    const char *sync_reply_actor;

    int message_order;                  /* MessageOrder present */
    int signature;                      /* ds:Signature present */

    int manifest;                       /* Body/Manifest present */
    const char *manifest_version;
    apr_array_header_t *references;     /* of const char * (xlink:href) */

    /* Signals: Acknowledgment/ErrorList RefToMessageId, StatusRequest's
     * RefToMessageId. */
    const char *signal_ref_to_message_id;
} ebms_message_t;

/* Reads the ebMS header of a parsed SOAP envelope. Returns 0, or -1 with
 * *error when it is no ebMS message (no SOAP envelope, no
 * eb:MessageHeader, a required element missing such as CPAId, MessageId
 * or From/PartyId: the cases ebms-core refuses with an XSD failure). */
int ebms_read(xmlDoc *doc, apr_pool_t *pool, ebms_message_t *out,
              const char **error);

/* Checks a message against its CPA as the receiving MSH (the party that
 * is not the sender), in the order and with the errorCode, location and
 * description of the conformance matrix. now is the arrival time.
 * Returns NULL when the message passes; then *channel is the sender's
 * DeliveryChannel for this action (for user messages) or the sender's
 * default MSH channel (for signals). On an error *channel is still set
 * when the check that failed came after the channel was known (NULL
 * before that: unknown CPA, party or action). channel may be NULL. */
const ebms_error_t *ebms_check(const ebms_message_t *message,
                               const cpa_t *cpa, apr_time_t now,
                               apr_pool_t *pool,
                               const cpa_channel_t **channel);

/* The RefToMessageId check of the matrix, left out of ebms_check because
 * it needs the store: NULL when the message has no RefToMessageId or
 * exists returns true for it, else ValueNotRecognized
 * //Header/MessageHeader/MessageData/RefToMessageId "Value not found.". */
const ebms_error_t *ebms_check_ref_to_message_id(
    const ebms_message_t *message,
    int (*exists)(void *context, const char *message_id), void *context,
    apr_pool_t *pool);

/* The Manifest's references: each must be "cid:" and name a part id for
 * which has_part returns true. Returns NULL or a MimeProblem error. */
const ebms_error_t *ebms_check_manifest(const ebms_message_t *message,
                                        int (*has_part)(void *context,
                                                        const char *cid),
                                        void *context, apr_pool_t *pool);

/* The kind as its Action is named ("UserMessage" for a user message),
 * for log lines. */
const char *ebms_kind_name(ebms_kind_t kind);

/* A new MessageId: "UUID@domain". */
const char *ebms_new_message_id(const char *domain, apr_pool_t *pool);

/* xsd:dateTime in UTC with milliseconds: "2024-03-15T10:15:30.123Z". */
const char *ebms_timestamp(apr_time_t t, apr_pool_t *pool);

/* The signals LZ answers with, as complete SOAP envelopes (text/xml).
 * The header goes from the receiver (the request's To) back to the
 * sender, same CPAId and ConversationId, a new MessageId, RefToMessageId
 * = the request's MessageId; no Role, no DuplicateElimination. */
const char *ebms_build_acknowledgment(const ebms_message_t *request,
                                      apr_time_t now, apr_pool_t *pool,
                                      const char **message_id);
const char *ebms_build_message_error(const ebms_message_t *request,
                                     const ebms_error_t *errors, int count,
                                     apr_time_t now, apr_pool_t *pool,
                                     const char **message_id);
const char *ebms_build_pong(const ebms_message_t *request, apr_time_t now,
                            apr_pool_t *pool);
/* status: Received, Processed, NotRecognized, UnAuthorized, Forwarded;
 * timestamp only for Received and Processed. */
const char *ebms_build_status_response(const ebms_message_t *request,
                                       const char *status,
                                       apr_time_t timestamp, apr_time_t now,
                                       apr_pool_t *pool);

/* A user message LZ sends (a StUF answer), or a municipal supplier's
 * system sends (stuflz send). */
typedef struct {
    const char *cpaid;
    const cpa_party_id_t *from;     /* one PartyId */
    const char *from_role;
    const cpa_party_id_t *to;
    const char *to_role;
    const char *service;
    const char *service_type;
    const char *action;
    const char *conversation_id;
    const char *message_id;
    const char *ref_to_message_id;  /* may be NULL */
    apr_time_t timestamp;
    apr_time_t time_to_live;        /* 0: none */
    int ack_requested;
    int duplicate_elimination;
    int sync_reply;
    const char *payload;            /* the StUF message, XML */
    apr_size_t payload_len;
    const char *payload_id;         /* Content-ID of the payload part */
    int ack_requested_signed;       /* AckRequested eb:signed="true" (the
                                       channel's ackSignatureRequested is
                                       "always") */
} ebms_user_message_t;

/* The user message as a multipart/related body (SOAP part first, then
 * the payload, referenced from eb:Manifest by cid:). */
const char *ebms_build_user_message(const ebms_user_message_t *message,
                                    apr_pool_t *pool,
                                    const char **content_type,
                                    apr_size_t *len);

/* StUF Protocolbindingen 03.02 section 5.2: MessageId of a StUF message =
 * referentienummer "@" [organisatie "."] applicatie "."
 * [administratie "."] "dkintern.nl" (empty parts left out). */
const char *ebms_stuf_message_id(const char *referentienummer,
                                 const char *organisatie,
                                 const char *applicatie,
                                 const char *administratie,
                                 apr_pool_t *pool);

/* The OIN in a PartyId value, without an OTAP suffix such as "_O",
 * "_T", "_A" or "_OTA"; *suffix gets the suffix (or NULL). */
const char *ebms_party_oin(const char *party_id, apr_pool_t *pool,
                           const char **suffix);

#endif

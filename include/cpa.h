/* cpa.h - collaboration protocol agreements (OASIS cpp-cpa-2_0): loading
 * them at startup and the lookups the ebMS binding needs. A CPA is read
 * once in post_config and shared read-only by every thread afterwards. */
#ifndef STUFLZ_CPA_H
#define STUFLZ_CPA_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define CPA_NS "http://www.oasis-open.org/committees/ebxml-cppa/schema/" \
               "cpp-cpa-2_0.xsd"

typedef struct {
    const char *type;           /* PartyId/@type, may be NULL */
    const char *value;
} cpa_party_id_t;

/* DeliveryChannel with what it refers to (DocExchange, Transport). */
typedef struct {
    const char *channel_id;
    /* MessagingCharacteristics; absent attributes get the schema
     * defaults: syncReplyMode "none", ackRequested "perMessage",
     * ackSignatureRequested "perMessage", duplicateElimination
     * "perMessage", actor NULL */
    const char *sync_reply_mode;
    const char *ack_requested;
    const char *ack_signature_requested;
    const char *duplicate_elimination;
    const char *actor;
    /* DocExchange/ebXMLSenderBinding/ReliableMessaging; retries -1 and
     * retry_interval 0 when the channel is not reliable */
    int retries;
    apr_interval_time_t retry_interval;
    /* DocExchange/ebXMLReceiverBinding/PersistDuration; 0 when absent */
    apr_interval_time_t persist_duration;
    /* Transport/TransportReceiver/Endpoint/@uri (first), may be NULL */
    const char *endpoint;
    /* BusinessTransactionCharacteristics/@isNonRepudiationRequired of the
     * bindings that use this channel, and a SenderNonRepudiation present:
     * messages on it must be signed */
    int signed_required;
} cpa_channel_t;

/* One ThisPartyActionBinding under CanSend or CanReceive. */
typedef struct {
    const char *action;
    const char *channel_id;     /* first ChannelId */
} cpa_action_t;

/* One CollaborationRole: a role with its service and actions. */
typedef struct {
    const char *role;           /* Role/@name, e.g. "SR", "SP" */
    const char *service;        /* ServiceBinding/Service */
    const char *service_type;   /* Service/@type, may be NULL */
    apr_array_header_t *can_send;       /* of cpa_action_t */
    apr_array_header_t *can_receive;    /* of cpa_action_t */
} cpa_role_t;

typedef struct {
    const char *party_name;
    apr_array_header_t *party_ids;      /* of cpa_party_id_t */
    apr_array_header_t *roles;          /* of cpa_role_t */
    apr_array_header_t *channels;       /* of cpa_channel_t */
    const char *default_msh_channel_id; /* PartyInfo/@defaultMshChannelId */
} cpa_party_t;

typedef struct {
    const char *path;           /* file it was read from */
    const char *cpaid;
    const char *status;         /* Status/@value: agreed, signed, proposed */
    apr_time_t start;
    apr_time_t end;
    cpa_party_t party[2];       /* the two PartyInfo elements, in order */
} cpa_t;

typedef struct cpa_registry cpa_registry_t;

cpa_registry_t *cpa_registry_make(apr_pool_t *pool);

/* Loads one file, or every file a glob pattern matches (dir/NAME*.xml).
 * Returns 0, or -1 with *error naming the file and the problem (not
 * well-formed, not a CPA, missing cpaid, bad Start/End, duplicate cpaid,
 * a ChannelId that names no DeliveryChannel, no file matched, ...). */
int cpa_registry_load(cpa_registry_t *registry, const char *pattern,
                      apr_pool_t *pool, const char **error);

/* Number of CPAs loaded. */
int cpa_registry_count(const cpa_registry_t *registry);

/* The CPA with this cpaid, or NULL. */
const cpa_t *cpa_lookup(const cpa_registry_t *registry, const char *cpaid);

/* Every CPA, for iteration (array of const cpa_t *). */
const apr_array_header_t *cpa_all(const cpa_registry_t *registry);

/* True when the CPA may be used at time t: status not "proposed" and
 * start <= t < end. */
int cpa_valid_at(const cpa_t *cpa, apr_time_t t);

/* The party of the CPA that has a PartyId with this value and type
 * (type NULL matches a PartyId without type), or NULL. */
const cpa_party_t *cpa_find_party(const cpa_t *cpa, const char *type,
                                  const char *value);

/* The other party of the CPA. */
const cpa_party_t *cpa_other_party(const cpa_t *cpa,
                                   const cpa_party_t *party);

/* The role of party with this role name, service and service type
 * (type NULL matches a Service without type), or NULL. */
const cpa_role_t *cpa_find_role(const cpa_party_t *party, const char *role,
                                const char *service,
                                const char *service_type);

/* The CanSend (can_send true) or CanReceive binding of role for action,
 * or NULL. */
const cpa_action_t *cpa_find_action(const cpa_role_t *role,
                                    const char *action, int can_send);

/* The DeliveryChannel with this id, searched in both parties, or NULL. */
const cpa_channel_t *cpa_channel(const cpa_t *cpa, const char *channel_id);

/* The channel for MSH signals of party: its defaultMshChannelId. */
const cpa_channel_t *cpa_default_channel(const cpa_t *cpa,
                                         const cpa_party_t *party);

/* xsd:duration ("PT5M", "P1D", "P1DT2H") and xsd:dateTime
 * ("2024-01-01T00:00:00Z", offsets, fractions; no zone means UTC) parsing,
 * exposed for the ebMS header (TimeToLive, Timestamp) and the tests.
 * Return 0 or -1. */
int cpa_parse_duration(const char *text, apr_interval_time_t *out);
int cpa_parse_datetime(const char *text, apr_time_t *out);

#endif

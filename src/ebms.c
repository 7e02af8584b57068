/* ebms.c - ebMS 2.0 on Digikoppeling (see ebms.h): reading a received
 * envelope by namespace URI, the receiving MSH's checks against the CPA in
 * ebms-core's order, and the envelopes LZ sends, written as text with
 * every value escaped and their shape following msg-header-2_0.xsd. */
#include "ebms.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/rand.h>

#include "mime.h"
#include "xml.h"

#define EBMS_VERSION "2.0"
#define NS_DSIG "http://www.w3.org/2000/09/xmldsig#"
#define ERROR_CONTEXT "urn:oasis:names:tc:ebxml-msg:service:errors"
#define STUF_DOMAIN "dkintern.nl"

static const char *const kind_names[] = {
    "UserMessage", "Acknowledgment", "MessageError", "Ping", "Pong",
    "StatusRequest", "StatusResponse",
};

/* The Actions of the ebMS service, in the order of ebms_kind_t after the
 * user message. */
static const char *const signal_actions[] = {
    NULL, "Acknowledgment", "MessageError", "Ping", "Pong",
    "StatusRequest", "StatusResponse",
};

const char *ebms_kind_name(ebms_kind_t kind)
{
    if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0])) {
        return "Unknown";
    }
    return kind_names[kind];
}

/* ---- reading ---------------------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Element text without surrounding white space, which pretty-printing
 * senders add and which never belongs to an identifier. */
static const char *text_of(const xmlNode *node, apr_pool_t *pool)
{
    const char *text = sz_xml_text(node, pool);
    const char *end;

    if (text == NULL) {
        return NULL;
    }
    while (is_space(*text)) {
        text++;
    }
    end = text + strlen(text);
    while (end > text && is_space(end[-1])) {
        end--;
    }
    return apr_pstrmemdup(pool, text, end - text);
}

static const char *attribute(const xmlNode *node, const char *ns,
                             const char *name, apr_pool_t *pool)
{
    xmlChar *value;
    const char *copy;

    if (node == NULL) {
        return NULL;
    }
    value = xmlGetNsProp((xmlNode *)node, (const xmlChar *)name,
                         (const xmlChar *)ns);
    if (value == NULL) {
        return NULL;
    }
    copy = apr_pstrdup(pool, (const char *)value);
    xmlFree(value);
    return copy;
}

/* An element the schema declares as a non-empty string: absent or empty
 * is the XSD failure ebms-core answers with HTTP 500. */
static int required_text(const xmlNode *parent, const char *name,
                         const char *where, apr_pool_t *pool,
                         const char **out, const char **error)
{
    *out = text_of(sz_xml_child(parent, EBMS_NS, name), pool);
    if (*out == NULL || **out == '\0') {
        *error = apr_psprintf(pool, "%s has no eb:%s", where, name);
        return -1;
    }
    return 0;
}

/* An optional element: when present it must not be empty either. */
static int optional_text(const xmlNode *parent, const char *name,
                         const char *where, apr_pool_t *pool,
                         const char **out, const char **error)
{
    *out = text_of(sz_xml_child(parent, EBMS_NS, name), pool);
    if (*out != NULL && **out == '\0') {
        *error = apr_psprintf(pool, "%s has an empty eb:%s", where, name);
        return -1;
    }
    return 0;
}

static int read_party(const xmlNode *header, const char *name,
                      apr_pool_t *pool, apr_array_header_t **ids,
                      const char **role, const char **error)
{
    const xmlNode *party = sz_xml_child(header, EBMS_NS, name);
    const char *where = apr_pstrcat(pool, "eb:", name, NULL);
    xmlNode *child;

    *ids = apr_array_make(pool, 2, sizeof(cpa_party_id_t));
    *role = NULL;
    if (party == NULL) {
        *error = apr_psprintf(pool, "eb:MessageHeader has no %s", where);
        return -1;
    }

    for (child = party->children; child; child = child->next) {
        cpa_party_id_t *id;

        if (!sz_xml_is(child, EBMS_NS, "PartyId")) {
            continue;
        }
        id = apr_array_push(*ids);
        id->type = attribute(child, EBMS_NS, "type", pool);
        id->value = text_of(child, pool);
        if (*id->value == '\0') {
            *error = apr_psprintf(pool, "%s has an empty eb:PartyId", where);
            return -1;
        }
    }
    if ((*ids)->nelts == 0) {
        *error = apr_psprintf(pool, "%s has no eb:PartyId", where);
        return -1;
    }

    return optional_text(party, "Role", where, pool, role, error);
}

static int read_message_data(const xmlNode *header, apr_pool_t *pool,
                             ebms_message_t *out, const char **error)
{
    const xmlNode *data = sz_xml_child(header, EBMS_NS, "MessageData");
    const char *where = "eb:MessageData";
    apr_time_t parsed;

    if (data == NULL) {
        *error = "eb:MessageHeader has no eb:MessageData";
        return -1;
    }
    if (required_text(data, "MessageId", where, pool, &out->message_id,
                      error) != 0 ||
        required_text(data, "Timestamp", where, pool, &out->timestamp,
                      error) != 0 ||
        optional_text(data, "RefToMessageId", where, pool,
                      &out->ref_to_message_id, error) != 0 ||
        optional_text(data, "TimeToLive", where, pool, &out->time_to_live,
                      error) != 0) {
        return -1;
    }

    /* Both are xsd:dateTime; a value that does not parse fails the
     * schema just like a missing element. */
    if (cpa_parse_datetime(out->timestamp, &parsed) != 0) {
        *error = "eb:Timestamp is no xsd:dateTime";
        return -1;
    }
    if (out->time_to_live &&
        cpa_parse_datetime(out->time_to_live, &parsed) != 0) {
        *error = "eb:TimeToLive is no xsd:dateTime";
        return -1;
    }
    return 0;
}

static int read_manifest(const xmlNode *body, apr_pool_t *pool,
                         ebms_message_t *out, const char **error)
{
    const xmlNode *manifest = sz_xml_child(body, EBMS_NS, "Manifest");
    xmlNode *child;

    out->references = apr_array_make(pool, 2, sizeof(const char *));
    if (manifest == NULL) {
        return 0;
    }
    out->manifest = 1;
    out->manifest_version = attribute(manifest, EBMS_NS, "version", pool);

    for (child = manifest->children; child; child = child->next) {
        const char *href;

        if (!sz_xml_is(child, EBMS_NS, "Reference")) {
            continue;
        }
        href = attribute(child, EBMS_NS_XLINK, "href", pool);
        if (href == NULL) {
            *error = "eb:Reference has no xlink:href";
            return -1;
        }
        *(const char **)apr_array_push(out->references) = href;
    }
    if (out->references->nelts == 0) {
        *error = "eb:Manifest has no eb:Reference";
        return -1;
    }
    return 0;
}

static ebms_kind_t kind_of(const ebms_message_t *message,
                           const xmlNode *soap_header)
{
    int i;

    if (strcmp(message->service, EBMS_SERVICE) == 0) {
        for (i = 1; i <= EBMS_STATUS_RESPONSE; i++) {
            if (strcmp(message->action, signal_actions[i]) == 0) {
                return (ebms_kind_t)i;
            }
        }
    }
    if (sz_xml_child(soap_header, EBMS_NS, "Acknowledgment")) {
        return EBMS_ACKNOWLEDGMENT;
    }
    if (sz_xml_child(soap_header, EBMS_NS, "ErrorList")) {
        return EBMS_MESSAGE_ERROR;
    }
    return EBMS_USER_MESSAGE;
}

/* The message a signal is about: the Acknowledgment's or the status
 * body's RefToMessageId, else the header's. */
static int read_signal_reference(const xmlNode *soap_header,
                                 const xmlNode *body, apr_pool_t *pool,
                                 ebms_message_t *out, const char **error)
{
    const xmlNode *block;

    block = sz_xml_child(soap_header, EBMS_NS, "Acknowledgment");
    if (block == NULL) {
        block = sz_xml_child(body, EBMS_NS, "StatusRequest");
    }
    if (block == NULL) {
        block = sz_xml_child(body, EBMS_NS, "StatusResponse");
    }
    if (block != NULL) {
        const char *where = apr_pstrcat(pool, "eb:", block->name, NULL);

        return required_text(block, "RefToMessageId", where, pool,
                             &out->signal_ref_to_message_id, error);
    }
    if (out->kind == EBMS_STATUS_REQUEST) {
        *error = "StatusRequest without eb:StatusRequest in the SOAP Body";
        return -1;
    }
    if (out->kind == EBMS_MESSAGE_ERROR || out->kind == EBMS_PONG) {
        out->signal_ref_to_message_id = out->ref_to_message_id;
    }
    return 0;
}

static void read_blocks(const xmlNode *soap_header, apr_pool_t *pool,
                        ebms_message_t *out)
{
    const xmlNode *block;

    block = sz_xml_child(soap_header, EBMS_NS, "AckRequested");
    if (block) {
        out->ack_requested = 1;
        out->ack_requested_version =
            attribute(block, EBMS_NS, "version", pool);
        out->ack_requested_actor =
            attribute(block, SZ_NS_SOAP11, "actor", pool);
        out->ack_requested_signed = attribute(block, EBMS_NS, "signed", pool);
    }

    block = sz_xml_child(soap_header, EBMS_NS, "SyncReply");
    if (block) {
        out->sync_reply = 1;
        out->sync_reply_version = attribute(block, EBMS_NS, "version", pool);
        out->sync_reply_actor = attribute(block, SZ_NS_SOAP11, "actor", pool);
    }

    out->message_order =
        sz_xml_child(soap_header, EBMS_NS, "MessageOrder") != NULL;
    out->signature = sz_xml_child(soap_header, NS_DSIG, "Signature") != NULL;
}

int ebms_read(xmlDoc *doc, apr_pool_t *pool, ebms_message_t *out,
              const char **error)
{
    const xmlNode *envelope;
    const xmlNode *soap_header;
    const xmlNode *body;
    const xmlNode *header;
    const char *where = "eb:MessageHeader";

    memset(out, 0, sizeof(*out));
    *error = NULL;

    envelope = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!sz_xml_is(envelope, SZ_NS_SOAP11, "Envelope")) {
        *error = "no SOAP 1.1 Envelope";
        return -1;
    }
    soap_header = sz_xml_child(envelope, SZ_NS_SOAP11, "Header");
    body = sz_xml_child(envelope, SZ_NS_SOAP11, "Body");
    header = sz_xml_child(soap_header, EBMS_NS, "MessageHeader");
    if (header == NULL) {
        *error = "no eb:MessageHeader in the SOAP Header";
        return -1;
    }

    out->version = attribute(header, EBMS_NS, "version", pool);
    if (read_party(header, "From", pool, &out->from_ids, &out->from_role,
                   error) != 0 ||
        read_party(header, "To", pool, &out->to_ids, &out->to_role,
                   error) != 0 ||
        required_text(header, "CPAId", where, pool, &out->cpaid,
                      error) != 0 ||
        required_text(header, "ConversationId", where, pool,
                      &out->conversation_id, error) != 0 ||
        required_text(header, "Service", where, pool, &out->service,
                      error) != 0 ||
        required_text(header, "Action", where, pool, &out->action,
                      error) != 0 ||
        read_message_data(header, pool, out, error) != 0) {
        return -1;
    }
    out->service_type = attribute(sz_xml_child(header, EBMS_NS, "Service"),
                                  EBMS_NS, "type", pool);
    out->duplicate_elimination =
        sz_xml_child(header, EBMS_NS, "DuplicateElimination") != NULL;

    read_blocks(soap_header, pool, out);
    if (read_manifest(body, pool, out, error) != 0) {
        return -1;
    }

    out->kind = kind_of(out, soap_header);
    return read_signal_reference(soap_header, body, pool, out, error);
}

/* ---- checking --------------------------------------------------------- */

static const ebms_error_t *make_error(apr_pool_t *pool, const char *code,
                                      const char *location,
                                      const char *description)
{
    ebms_error_t *error = apr_pcalloc(pool, sizeof(*error));

    error->code = code;
    error->location = location;
    error->description = description;
    return error;
}

static int same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Both texts absent, or both present and equal. */
static int same_optional(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || same(a, b);
}

/* The CPA party that owns every PartyId given. Requiring all of them
 * keeps a sender from mixing its own id with another party's. */
static const cpa_party_t *find_party(const cpa_t *cpa,
                                     const apr_array_header_t *ids)
{
    const cpa_party_t *found = NULL;
    int i;

    for (i = 0; ids && i < ids->nelts; i++) {
        const cpa_party_id_t *id = &APR_ARRAY_IDX(ids, i, cpa_party_id_t);
        const cpa_party_t *party = cpa_find_party(cpa, id->type, id->value);

        if (party == NULL || (found != NULL && party != found)) {
            return NULL;
        }
        found = party;
    }
    return found;
}

/* True when party may receive action of this service in role (any of its
 * roles when the sender named no To/Role: the schema makes it
 * optional). */
static int can_receive(const cpa_party_t *party, const char *role,
                       const ebms_message_t *message)
{
    int i;

    if (role != NULL) {
        const cpa_role_t *found = cpa_find_role(party, role, message->service,
                                                message->service_type);

        return found && cpa_find_action(found, message->action, 0);
    }
    for (i = 0; party->roles && i < party->roles->nelts; i++) {
        const cpa_role_t *r = &APR_ARRAY_IDX(party->roles, i, cpa_role_t);

        if (same(r->service, message->service) &&
            same_optional(r->service_type, message->service_type) &&
            cpa_find_action(r, message->action, 0)) {
            return 1;
        }
    }
    return 0;
}

/* The From party's CanSend binding for the message, when the To party
 * may receive it; NULL when the CPA does not allow the exchange. */
static const cpa_action_t *allowed_action(const ebms_message_t *message,
                                          const cpa_party_t *from,
                                          const cpa_party_t *to)
{
    const cpa_role_t *role;
    const cpa_action_t *send;

    role = cpa_find_role(from, message->from_role, message->service,
                         message->service_type);
    if (role == NULL) {
        return NULL;
    }
    send = cpa_find_action(role, message->action, 1);
    if (send == NULL || !can_receive(to, message->to_role, message)) {
        return NULL;
    }
    return send;
}

/* "always" requires the element, "never" forbids it, "perMessage" (and
 * anything else) leaves it to the sender. */
static int agrees(const char *agreement, int present)
{
    if (same(agreement, "always")) {
        return present;
    }
    if (same(agreement, "never")) {
        return !present;
    }
    return 1;
}

/* xsd:boolean as eb:signed carries it. */
static int is_true(const char *value)
{
    return same(value, "true") || same(value, "1");
}

static const ebms_error_t *check_ack_requested(const ebms_message_t *m,
                                               const cpa_channel_t *channel,
                                               apr_pool_t *pool)
{
    const char *actor = m->ack_requested_actor;

    if (!agrees(channel->ack_requested, m->ack_requested)) {
        return make_error(pool, "Inconsistent", "//Header/AckRequested",
                          "Wrong value.");
    }
    if (!m->ack_requested) {
        return NULL;
    }
    if (!same(m->ack_requested_version, EBMS_VERSION)) {
        return make_error(pool, "Inconsistent",
                          "//Header/AckRequested/@version",
                          "Invalid value.");
    }
    /* An absent actor targets the ultimate receiver, which for an ebMS
     * header block is the To party's MSH. */
    if (same(actor, EBMS_ACTOR_NEXT_MSH)) {
        return make_error(pool, "NotSupported",
                          "//Header/AckRequested/@actor",
                          "NextMSH not supported.");
    }
    if (actor != NULL && !same(actor, EBMS_ACTOR_TO_PARTY)) {
        return make_error(pool, "Inconsistent",
                          "//Header/AckRequested/@actor", "Invalid value.");
    }
    if (!agrees(channel->ack_signature_requested,
                is_true(m->ack_requested_signed))) {
        return make_error(pool, "Inconsistent",
                          "//Header/AckRequested/@signed", "Wrong value.");
    }
    return NULL;
}

static const ebms_error_t *check_sync_reply(const ebms_message_t *m,
                                            const cpa_channel_t *channel,
                                            apr_pool_t *pool)
{
    int wanted = channel->sync_reply_mode != NULL &&
                 strcmp(channel->sync_reply_mode, "none") != 0;

    if (wanted != (m->sync_reply != 0)) {
        return make_error(pool, "Inconsistent", "//Header/SyncReply",
                          "Wrong value.");
    }
    if (!m->sync_reply) {
        return NULL;
    }
    if (!same(m->sync_reply_version, EBMS_VERSION)) {
        return make_error(pool, "Inconsistent",
                          "//Header/SyncReply/@version", "Invalid value.");
    }
    if (!same(m->sync_reply_actor, EBMS_ACTOR_NEXT)) {
        return make_error(pool, "Inconsistent", "//Header/SyncReply/@actor",
                          "Wrong value.");
    }
    return NULL;
}

/* The checks that depend on the sender's channel, in ebms-core's order.
 * Only user messages are held to DuplicateElimination and AckRequested:
 * signals never carry them (strict peers reject signals that do), and an
 * Acknowledgment or MessageError arrives without SyncReply whatever the
 * channel says, because nobody waits for an answer to it. */
static const ebms_error_t *check_channel(const ebms_message_t *m,
                                         const cpa_channel_t *channel,
                                         apr_pool_t *pool)
{
    const ebms_error_t *error;
    int user = m->kind == EBMS_USER_MESSAGE;

    if (user && !agrees(channel->duplicate_elimination,
                        m->duplicate_elimination)) {
        return make_error(pool, "Inconsistent",
                          "//Header/MessageHeader/DuplicateElimination",
                          "Wrong value.");
    }
    if (user && (error = check_ack_requested(m, channel, pool)) != NULL) {
        return error;
    }
    if (user || m->kind == EBMS_PING || m->kind == EBMS_STATUS_REQUEST) {
        return check_sync_reply(m, channel, pool);
    }
    return NULL;
}

const ebms_error_t *ebms_check(const ebms_message_t *message,
                               const cpa_t *cpa, apr_time_t now,
                               apr_pool_t *pool,
                               const cpa_channel_t **channel)
{
    const cpa_party_t *from;
    const cpa_party_t *to;
    const cpa_channel_t *found = NULL;
    const ebms_error_t *error;
    apr_time_t timestamp;
    apr_time_t time_to_live;
    int user = message->kind == EBMS_USER_MESSAGE;

    if (channel) {
        *channel = NULL;
    }

    if (cpa == NULL || !same(cpa->cpaid, message->cpaid) ||
        cpa_parse_datetime(message->timestamp, &timestamp) != 0 ||
        !cpa_valid_at(cpa, timestamp)) {
        return make_error(pool, "Inconsistent",
                          "//Header/MessageHeader/@cpaid", "Invalid CPA.");
    }
    if (!same(message->version, EBMS_VERSION)) {
        return make_error(pool, "Inconsistent",
                          "//Header/MessageHeader/@version",
                          "Invalid value.");
    }

    from = find_party(cpa, message->from_ids);
    if (from == NULL) {
        return make_error(pool, "Inconsistent",
                          "//Header/MessageHeader/From/PartyId",
                          "Value not found.");
    }
    to = find_party(cpa, message->to_ids);
    if (to == NULL || to == from) {
        return make_error(pool, "Inconsistent",
                          "//Header/MessageHeader/To/PartyId",
                          "Value not found.");
    }

    if (user) {
        const cpa_action_t *action;

        if (message->from_role == NULL) {
            return make_error(pool, "Inconsistent",
                              "//Header/MessageHeader/From/Role",
                              "Invalid value.");
        }
        action = allowed_action(message, from, to);
        if (action == NULL) {
            return make_error(pool, "ValueNotRecognized",
                              "//Header/MessageHeader/Action",
                              "Value not found.");
        }
        found = cpa_channel(cpa, action->channel_id);
    }
    else {
        found = cpa_default_channel(cpa, from);
    }
    if (channel) {
        *channel = found;
    }

    if (message->time_to_live &&
        (cpa_parse_datetime(message->time_to_live, &time_to_live) != 0 ||
         time_to_live < now)) {
        return make_error(pool, "TimeToLiveExpired",
                          "//Header/MessageHeader/MessageData/TimeToLive",
                          NULL);
    }
    if (found && (error = check_channel(message, found, pool)) != NULL) {
        return error;
    }
    if (message->message_order) {
        return make_error(pool, "NotSupported", "//Header/MessageOrder",
                          "MessageOrder not supported.");
    }

    /* Limitation: a signature is only required to be there, not verified,
     * because XMLDSig verification (xmlsec) is not built in yet; so a
     * signature on an unsigned channel is accepted as it is. */
    if (user && found && found->signed_required && !message->signature) {
        return make_error(pool, "SecurityFailure", "//Header/Signature",
                          "Signature not found.");
    }
    if (message->manifest && !same(message->manifest_version, EBMS_VERSION)) {
        return make_error(pool, "Inconsistent", "//Body/Manifest/@version",
                          "Invalid value.");
    }
    return NULL;
}

const ebms_error_t *ebms_check_ref_to_message_id(
    const ebms_message_t *message,
    int (*exists)(void *context, const char *message_id), void *context,
    apr_pool_t *pool)
{
    if (message->ref_to_message_id == NULL ||
        exists(context, message->ref_to_message_id)) {
        return NULL;
    }
    return make_error(pool, "ValueNotRecognized",
                      "//Header/MessageHeader/MessageData/RefToMessageId",
                      "Value not found.");
}

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

/* RFC 2392 writes a cid URL %-encoded; the Content-ID it names is not. */
static const char *percent_decode(const char *text, apr_pool_t *pool)
{
    char *out = apr_palloc(pool, strlen(text) + 1);
    char *q = out;
    const char *p;

    for (p = text; *p; p++) {
        if (*p == '%' && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
            *q++ = (char)(hex_value(p[1]) * 16 + hex_value(p[2]));
            p += 2;
        }
        else {
            *q++ = *p;
        }
    }
    *q = '\0';
    return out;
}

const ebms_error_t *ebms_check_manifest(const ebms_message_t *message,
                                        int (*has_part)(void *context,
                                                        const char *cid),
                                        void *context, apr_pool_t *pool)
{
    int i;

    for (i = 0; message->references && i < message->references->nelts;
         i++) {
        const char *href = APR_ARRAY_IDX(message->references, i,
                                         const char *);
        const char *id;

        /* Digikoppeling allows only parts of the message itself. */
        if (strncasecmp(href, "cid:", 4) != 0) {
            return make_error(pool, "MimeProblem",
                              apr_pstrcat(pool,
                                          "//Body/Manifest/Reference[@href='",
                                          href, "']", NULL),
                              "URI cannot be resolved.");
        }
        id = href + 4;
        if (!has_part(context, id)) {
            const char *decoded = percent_decode(id, pool);

            if (strcmp(decoded, id) == 0 || !has_part(context, decoded)) {
                return make_error(pool, "MimeProblem", href,
                                  "MIME part not found.");
            }
        }
    }
    return NULL;
}

/* ---- identifiers and time --------------------------------------------- */

const char *ebms_new_message_id(const char *domain, apr_pool_t *pool)
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof(b)) != 1 &&
        apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        return NULL;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);     /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);     /* RFC 4122 variant */

    return apr_psprintf(pool,
                        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                        "%02x%02x%02x%02x%02x%02x@%s",
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                        b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15],
                        domain && *domain ? domain : "localhost");
}

const char *ebms_timestamp(apr_time_t t, apr_pool_t *pool)
{
    apr_time_exp_t exp;

    apr_time_exp_gmt(&exp, t);
    return apr_psprintf(pool, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        exp.tm_year + 1900, exp.tm_mon + 1, exp.tm_mday,
                        exp.tm_hour, exp.tm_min, exp.tm_sec,
                        exp.tm_usec / 1000);
}

const char *ebms_stuf_message_id(const char *referentienummer,
                                 const char *organisatie,
                                 const char *applicatie,
                                 const char *administratie,
                                 apr_pool_t *pool)
{
    const char *parts[] = { organisatie, applicatie, administratie };
    const char *domain = STUF_DOMAIN;
    int i;

    if (referentienummer == NULL || *referentienummer == '\0') {
        return NULL;
    }
    for (i = 2; i >= 0; i--) {
        if (parts[i] != NULL && *parts[i] != '\0') {
            domain = apr_pstrcat(pool, parts[i], ".", domain, NULL);
        }
    }
    return apr_pstrcat(pool, referentienummer, "@", domain, NULL);
}

const char *ebms_party_oin(const char *party_id, apr_pool_t *pool,
                           const char **suffix)
{
    const char *underscore;
    apr_size_t letters;

    *suffix = NULL;
    if (party_id == NULL) {
        return NULL;
    }
    underscore = strrchr(party_id, '_');
    if (underscore == NULL || underscore == party_id) {
        return party_id;
    }

    /* OTAP suffixes are combinations of O, T, A and P such as "_OTA". */
    letters = strlen(underscore + 1);
    if (letters == 0 || letters > 4 ||
        strspn(underscore + 1, "OTAP") != letters) {
        return party_id;
    }
    *suffix = apr_pstrdup(pool, underscore);
    return apr_pstrmemdup(pool, party_id, underscore - party_id);
}

/* ---- writing ---------------------------------------------------------- */

typedef struct {
    apr_pool_t *pool;
    apr_array_header_t *pieces;     /* of const char * */
} writer_t;

static writer_t *writer_make(apr_pool_t *pool)
{
    writer_t *w = apr_palloc(pool, sizeof(*w));

    w->pool = pool;
    w->pieces = apr_array_make(pool, 64, sizeof(const char *));
    return w;
}

/* Appends texts up to a NULL; every value from outside must already be
 * escaped. */
static void __attribute__((sentinel)) put(writer_t *w, ...)
{
    va_list ap;
    const char *text;

    va_start(ap, w);
    while ((text = va_arg(ap, const char *)) != NULL) {
        *(const char **)apr_array_push(w->pieces) = text;
    }
    va_end(ap);
}

static const char *esc(writer_t *w, const char *text)
{
    return sz_xml_escape(text, w->pool);
}

static void put_element(writer_t *w, const char *name, const char *value)
{
    put(w, "<", name, ">", esc(w, value), "</", name, ">", NULL);
}

static const char *written(writer_t *w)
{
    return apr_array_pstrcat(w->pool, w->pieces, 0);
}

/* The MessageHeader's content, one struct for signals and user
 * messages. */
typedef struct {
    const cpa_party_id_t *from;
    int from_count;
    const char *from_role;
    const cpa_party_id_t *to;
    int to_count;
    const char *to_role;
    const char *cpaid;
    const char *conversation_id;
    const char *service;
    const char *service_type;
    const char *action;
    const char *message_id;
    const char *timestamp;
    const char *ref_to_message_id;
    const char *time_to_live;
    int duplicate_elimination;
} header_t;

static void put_party(writer_t *w, const char *element,
                      const cpa_party_id_t *ids, int count, const char *role)
{
    int i;

    put(w, "<eb:", element, ">", NULL);
    for (i = 0; i < count; i++) {
        put(w, "<eb:PartyId", NULL);
        if (ids[i].type != NULL) {
            put(w, " eb:type=\"", esc(w, ids[i].type), "\"", NULL);
        }
        put(w, ">", esc(w, ids[i].value), "</eb:PartyId>", NULL);
    }
    if (role != NULL) {
        put_element(w, "eb:Role", role);
    }
    put(w, "</eb:", element, ">", NULL);
}

static void put_envelope_start(writer_t *w, int xlink)
{
    put(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<SOAP:Envelope xmlns:SOAP=\"" SZ_NS_SOAP11 "\""
           " xmlns:eb=\"" EBMS_NS "\"",
        xlink ? " xmlns:xlink=\"" EBMS_NS_XLINK "\"" : "",
        "><SOAP:Header>", NULL);
}

static void put_message_header(writer_t *w, const header_t *h)
{
    put(w, "<eb:MessageHeader eb:version=\"" EBMS_VERSION "\""
           " SOAP:mustUnderstand=\"1\">", NULL);
    put_party(w, "From", h->from, h->from_count, h->from_role);
    put_party(w, "To", h->to, h->to_count, h->to_role);
    put_element(w, "eb:CPAId", h->cpaid);
    put_element(w, "eb:ConversationId", h->conversation_id);
    put(w, "<eb:Service", NULL);
    if (h->service_type != NULL) {
        put(w, " eb:type=\"", esc(w, h->service_type), "\"", NULL);
    }
    put(w, ">", esc(w, h->service), "</eb:Service>", NULL);
    put_element(w, "eb:Action", h->action);

    put(w, "<eb:MessageData>", NULL);
    put_element(w, "eb:MessageId", h->message_id);
    put_element(w, "eb:Timestamp", h->timestamp);
    if (h->ref_to_message_id != NULL) {
        put_element(w, "eb:RefToMessageId", h->ref_to_message_id);
    }
    if (h->time_to_live != NULL) {
        put_element(w, "eb:TimeToLive", h->time_to_live);
    }
    put(w, "</eb:MessageData>", NULL);
    if (h->duplicate_elimination) {
        put(w, "<eb:DuplicateElimination/>", NULL);
    }
    put(w, "</eb:MessageHeader>", NULL);
}

static const cpa_party_id_t *party_ids(const apr_array_header_t *ids,
                                       int *count)
{
    *count = ids ? ids->nelts : 0;
    return ids ? (const cpa_party_id_t *)ids->elts : NULL;
}

/* A signal's header: from the request's To back to its From, no Role and
 * no DuplicateElimination (strict peers reject signals carrying it). The
 * new MessageId's domain is our own first PartyId, as nothing else in the
 * request is ours. */
static void signal_header(const ebms_message_t *request, const char *action,
                          apr_time_t now, apr_pool_t *pool, header_t *h)
{
    memset(h, 0, sizeof(*h));
    h->from = party_ids(request->to_ids, &h->from_count);
    h->to = party_ids(request->from_ids, &h->to_count);
    h->cpaid = request->cpaid;
    h->conversation_id = request->conversation_id;
    h->service = EBMS_SERVICE;
    h->action = action;
    h->message_id = ebms_new_message_id(h->from_count ? h->from[0].value
                                                      : NULL, pool);
    h->timestamp = ebms_timestamp(now, pool);
    h->ref_to_message_id = request->message_id;
}

const char *ebms_build_acknowledgment(const ebms_message_t *request,
                                      apr_time_t now, apr_pool_t *pool,
                                      const char **message_id)
{
    writer_t *w = writer_make(pool);
    header_t h;

    signal_header(request, "Acknowledgment", now, pool, &h);
    if (message_id) {
        *message_id = h.message_id;
    }

    put_envelope_start(w, 0);
    put_message_header(w, &h);

    /* Limitation: no ds:Reference elements are copied into the
     * Acknowledgment, because LZ does not sign (signed acks of osb-rm-s
     * need XMLDSig first). */
    put(w, "<eb:Acknowledgment eb:version=\"" EBMS_VERSION "\""
           " SOAP:mustUnderstand=\"1\""
           " SOAP:actor=\"" EBMS_ACTOR_TO_PARTY "\">", NULL);
    put_element(w, "eb:Timestamp", h.timestamp);
    put_element(w, "eb:RefToMessageId", request->message_id);
    put_party(w, "From", h.from, h.from_count, NULL);
    put(w, "</eb:Acknowledgment>", NULL);

    put(w, "</SOAP:Header><SOAP:Body/></SOAP:Envelope>", NULL);
    return written(w);
}

static void put_error(writer_t *w, const ebms_error_t *error)
{
    const char *code = error->code && *error->code ? error->code
                                                   : "Unknown";

    put(w, "<eb:Error eb:codeContext=\"" ERROR_CONTEXT "\""
           " eb:errorCode=\"", esc(w, code), "\" eb:severity=\"Error\"",
        NULL);
    if (error->location != NULL && *error->location != '\0') {
        put(w, " eb:location=\"", esc(w, error->location), "\"", NULL);
    }
    if (error->description == NULL || *error->description == '\0') {
        put(w, "/>", NULL);
        return;
    }
    put(w, "><eb:Description xml:lang=\"en-US\">",
        esc(w, error->description), "</eb:Description></eb:Error>", NULL);
}

const char *ebms_build_message_error(const ebms_message_t *request,
                                     const ebms_error_t *errors, int count,
                                     apr_time_t now, apr_pool_t *pool,
                                     const char **message_id)
{
    /* The schema wants at least one Error; ebms-core sends this one. */
    static const ebms_error_t unknown = {
        "Unknown", NULL, "An unknown error occurred!"
    };
    writer_t *w = writer_make(pool);
    header_t h;
    int i;

    signal_header(request, "MessageError", now, pool, &h);
    if (message_id) {
        *message_id = h.message_id;
    }

    put_envelope_start(w, 0);
    put_message_header(w, &h);
    put(w, "<eb:ErrorList eb:version=\"" EBMS_VERSION "\""
           " SOAP:mustUnderstand=\"1\" eb:highestSeverity=\"Error\">", NULL);
    if (errors == NULL || count <= 0) {
        put_error(w, &unknown);
    }
    for (i = 0; errors && i < count; i++) {
        put_error(w, &errors[i]);
    }
    put(w, "</eb:ErrorList>", NULL);

    put(w, "</SOAP:Header><SOAP:Body/></SOAP:Envelope>", NULL);
    return written(w);
}

const char *ebms_build_pong(const ebms_message_t *request, apr_time_t now,
                            apr_pool_t *pool)
{
    writer_t *w = writer_make(pool);
    header_t h;

    signal_header(request, "Pong", now, pool, &h);
    put_envelope_start(w, 0);
    put_message_header(w, &h);
    put(w, "</SOAP:Header><SOAP:Body/></SOAP:Envelope>", NULL);
    return written(w);
}

const char *ebms_build_status_response(const ebms_message_t *request,
                                       const char *status,
                                       apr_time_t timestamp, apr_time_t now,
                                       apr_pool_t *pool)
{
    writer_t *w = writer_make(pool);
    const char *asked = request->signal_ref_to_message_id
                            ? request->signal_ref_to_message_id
                            : request->ref_to_message_id;
    header_t h;

    signal_header(request, "StatusResponse", now, pool, &h);
    put_envelope_start(w, 0);
    put_message_header(w, &h);
    put(w, "</SOAP:Header><SOAP:Body>", NULL);

    put(w, "<eb:StatusResponse eb:version=\"" EBMS_VERSION "\""
           " eb:messageStatus=\"", esc(w, status), "\">", NULL);
    put_element(w, "eb:RefToMessageId", asked);
    if (same(status, "Received") || same(status, "Processed")) {
        put_element(w, "eb:Timestamp", ebms_timestamp(timestamp, pool));
    }
    put(w, "</eb:StatusResponse>", NULL);

    put(w, "</SOAP:Body></SOAP:Envelope>", NULL);
    return written(w);
}

/* The SOAP part of a user message; payload_id names the payload part. */
static const char *user_envelope(const ebms_user_message_t *m,
                                 const char *message_id,
                                 const char *payload_id, apr_pool_t *pool)
{
    writer_t *w = writer_make(pool);
    header_t h;

    memset(&h, 0, sizeof(h));
    h.from = m->from;
    h.from_count = m->from ? 1 : 0;
    h.from_role = m->from_role;
    h.to = m->to;
    h.to_count = m->to ? 1 : 0;
    h.to_role = m->to_role;
    h.cpaid = m->cpaid;
    h.conversation_id = m->conversation_id ? m->conversation_id
                                           : message_id;
    h.service = m->service;
    h.service_type = m->service_type;
    h.action = m->action;
    h.message_id = message_id;
    h.timestamp = ebms_timestamp(m->timestamp ? m->timestamp
                                              : apr_time_now(), pool);
    h.ref_to_message_id = m->ref_to_message_id;
    h.time_to_live = m->time_to_live ? ebms_timestamp(m->time_to_live, pool)
                                     : NULL;
    h.duplicate_elimination = m->duplicate_elimination;

    put_envelope_start(w, payload_id != NULL);
    put_message_header(w, &h);
    if (m->sync_reply) {
        put(w, "<eb:SyncReply eb:version=\"" EBMS_VERSION "\""
               " SOAP:mustUnderstand=\"1\""
               " SOAP:actor=\"" EBMS_ACTOR_NEXT "\"/>", NULL);
    }
    if (m->ack_requested) {
        put(w, "<eb:AckRequested eb:version=\"" EBMS_VERSION "\""
               " SOAP:mustUnderstand=\"1\""
               " SOAP:actor=\"" EBMS_ACTOR_TO_PARTY "\" eb:signed=\"",
            m->ack_requested_signed ? "true" : "false", "\"/>", NULL);
    }
    put(w, "</SOAP:Header>", NULL);

    if (payload_id == NULL) {
        put(w, "<SOAP:Body/></SOAP:Envelope>", NULL);
        return written(w);
    }
    put(w, "<SOAP:Body><eb:Manifest eb:version=\"" EBMS_VERSION "\">"
           "<eb:Reference xlink:href=\"cid:", esc(w, payload_id),
        "\" xlink:type=\"simple\"/></eb:Manifest></SOAP:Body>"
        "</SOAP:Envelope>", NULL);
    return written(w);
}

const char *ebms_build_user_message(const ebms_user_message_t *message,
                                    apr_pool_t *pool,
                                    const char **content_type,
                                    apr_size_t *len)
{
    apr_array_header_t *parts = apr_array_make(pool, 2,
                                               sizeof(sz_mime_part_t));
    const char *message_id = message->message_id;
    const char *payload_id = NULL;
    sz_mime_part_t *part;

    if (message_id == NULL) {
        message_id = ebms_new_message_id(message->from ? message->from->value
                                                       : NULL, pool);
    }
    if (message->payload != NULL) {
        payload_id = message->payload_id ? message->payload_id : "payload";
    }

    part = apr_array_push(parts);
    memset(part, 0, sizeof(*part));
    part->content_type = "text/xml; charset=UTF-8";
    part->content_id = "soap-part";
    part->data = user_envelope(message, message_id, payload_id, pool);
    part->len = strlen(part->data);

    if (payload_id != NULL) {
        part = apr_array_push(parts);
        memset(part, 0, sizeof(*part));
        part->content_type = "application/xml; charset=UTF-8";
        part->content_id = payload_id;
        part->data = message->payload;
        part->len = message->payload_len ? message->payload_len
                                         : strlen(message->payload);
    }
    return sz_mime_write(parts, pool, content_type, len);
}

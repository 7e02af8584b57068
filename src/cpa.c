/* cpa.c - reading CPA files (OASIS cpp-cpa-2_0) into the read-only model
 * of cpa.h, and the lookups the ebMS binding makes on it. Every problem
 * found while loading is reported with the file it was found in. */
#include "cpa.h"

#include <ctype.h>
#include <glob.h>
#include <stdarg.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

/* A CPA is a few hundred kilobytes at most; anything far larger is a
 * wrong path, not an agreement. */
#define CPA_MAX_FILE (16 * 1024 * 1024)

#define DAY_SECONDS 86400LL

struct cpa_registry {
    apr_pool_t *pool;
    apr_array_header_t *all;    /* of const cpa_t * */
    apr_hash_t *by_cpaid;
};

/* State of loading one file: where the model goes, where the error text
 * goes, and the file to name in it. */
typedef struct {
    const char *path;
    apr_pool_t *pool;
    apr_pool_t *scratch;
    const char *error;
} cpa_load_t;

/* The channels of one PartyInfo while its bindings are read: whether each
 * channel's DocExchange has a SenderNonRepudiation, by index. */
typedef struct {
    cpa_party_t *party;
    xmlNode *info;
    int *sender_non_repudiation;
} party_load_t;

static int fail(cpa_load_t *load, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(cpa_load_t *load, const char *fmt, ...)
{
    va_list ap;
    const char *problem;

    va_start(ap, fmt);
    problem = apr_pvsprintf(load->scratch, fmt, ap);
    va_end(ap);
    load->error = apr_pstrcat(load->scratch, load->path, ": ", problem,
                              NULL);
    return -1;
}

/* ---- tree helpers: every CPA element is matched by namespace URI ---- */

static int is_cpa(const xmlNode *node, const char *name)
{
    if (node == NULL || node->type != XML_ELEMENT_NODE) {
        return 0;
    }
    if (node->ns == NULL || node->ns->href == NULL) {
        return 0;
    }
    return strcmp((const char *)node->name, name) == 0 &&
           strcmp((const char *)node->ns->href, CPA_NS) == 0;
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
    xmlNode *node;

    if (parent == NULL) {
        return NULL;
    }
    for (node = parent->children; node; node = node->next) {
        if (is_cpa(node, name)) {
            return node;
        }
    }
    return NULL;
}

static int is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A copy without the leading and trailing whitespace that the schema
 * types we read (token, dateTime, duration, integer) collapse away. */
static const char *trimmed(const char *s, apr_pool_t *pool)
{
    const char *end;

    while (is_xml_space(*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && is_xml_space(end[-1])) {
        end--;
    }
    return apr_pstrmemdup(pool, s, (apr_size_t)(end - s));
}

/* The schema qualifies every attribute (attributeFormDefault="qualified"),
 * as the real CPAs do with tns:; an unqualified attribute is accepted too,
 * because some tools write them so and nothing else could be meant. */
static const char *attr(const xmlNode *node, const char *name,
                        apr_pool_t *pool)
{
    xmlChar *value;
    const char *copy;

    if (node == NULL) {
        return NULL;
    }
    value = xmlGetNsProp(node, (const xmlChar *)name,
                         (const xmlChar *)CPA_NS);
    if (value == NULL) {
        value = xmlGetNoNsProp(node, (const xmlChar *)name);
    }
    if (value == NULL) {
        return NULL;
    }
    copy = trimmed((const char *)value, pool);
    xmlFree(value);
    return copy;
}

static const char *text(const xmlNode *node, apr_pool_t *pool)
{
    xmlChar *content;
    const char *copy;

    if (node == NULL) {
        return NULL;
    }
    content = xmlNodeGetContent(node);
    copy = trimmed(content ? (const char *)content : "", pool);
    xmlFree(content);
    return copy;
}

static int same(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

/* The child element name whose id attribute is id, e.g. the DocExchange
 * with this docExchangeId. */
static xmlNode *child_with_id(const xmlNode *parent, const char *name,
                              const char *id_attribute, const char *id,
                              apr_pool_t *pool)
{
    xmlNode *node;

    for (node = parent->children; node; node = node->next) {
        if (is_cpa(node, name) &&
            same(attr(node, id_attribute, pool), id)) {
            return node;
        }
    }
    return NULL;
}

/* ---- xsd:duration and xsd:dateTime ---- */

/* Multiplies and adds with a check against overflow of the 64-bit
 * microsecond count, so "P999999999999Y" is an error, not a wrap. */
static int add_scaled(apr_int64_t *total, apr_int64_t value,
                      apr_int64_t unit)
{
    if (value != 0 && unit > APR_INT64_MAX / value) {
        return -1;
    }
    if (*total > APR_INT64_MAX - value * unit) {
        return -1;
    }
    *total += value * unit;
    return 0;
}

/* Reads digits into *value; returns the number read (0 = none), or -1
 * when there are more than 18 (beyond any sensible duration). */
static int read_number(const char **p, apr_int64_t *value)
{
    int digits = 0;

    *value = 0;
    while (isdigit((unsigned char)**p)) {
        if (++digits > 18) {
            return -1;
        }
        *value = *value * 10 + (**p - '0');
        (*p)++;
    }
    return digits;
}

/* Fraction digits after a '.', as microseconds; digits past the sixth are
 * read and dropped (truncated, not rounded). */
static int read_fraction(const char **p, apr_int64_t *micros)
{
    int digits = 0;

    *micros = 0;
    while (isdigit((unsigned char)**p)) {
        if (digits < 6) {
            *micros = *micros * 10 + (**p - '0');
        }
        digits++;
        (*p)++;
    }
    for (int i = digits; i < 6; i++) {
        *micros *= 10;
    }
    return digits;
}

/* Years count as 365 days and months as 30: a duration is added to no
 * particular date here, and CPA durations are given in days, hours or
 * minutes in practice. A negative duration is refused; no CPA or ebMS
 * value may be one. */
int cpa_parse_duration(const char *text, apr_interval_time_t *out)
{
    static const char designators[] = "YMDHMS";
    static const apr_int64_t seconds[] = {
        365 * DAY_SECONDS, 30 * DAY_SECONDS, DAY_SECONDS, 3600, 60, 1
    };
    const char *p = text;
    apr_int64_t total = 0;
    int last = -1;
    int in_time = 0;
    int components = 0;
    int time_components = 0;

    if (p == NULL) {
        return -1;
    }
    while (is_xml_space(*p)) {
        p++;
    }
    if (*p++ != 'P') {
        return -1;
    }

    while (*p && !is_xml_space(*p)) {
        apr_int64_t value;
        apr_int64_t micros = 0;
        int fraction = 0;
        int index;

        if (*p == 'T') {
            if (in_time) {
                return -1;
            }
            in_time = 1;
            last = 2;
            p++;
            continue;
        }
        if (read_number(&p, &value) <= 0) {
            return -1;
        }
        if (*p == '.') {
            p++;
            if (read_fraction(&p, &micros) == 0) {
                return -1;
            }
            fraction = 1;
        }

        /* M is months before the T and minutes after it. */
        index = -1;
        for (int i = in_time ? 3 : 0; i < (in_time ? 6 : 3); i++) {
            if (*p == designators[i]) {
                index = i;
                break;
            }
        }
        if (index <= last || (fraction && index != 5)) {
            return -1;
        }
        p++;
        last = index;
        components++;
        time_components += in_time;

        if (add_scaled(&total, value, seconds[index] * APR_USEC_PER_SEC) ||
            add_scaled(&total, micros, 1)) {
            return -1;
        }
    }

    while (is_xml_space(*p)) {
        p++;
    }
    if (*p != '\0' || components == 0 || (in_time && !time_components)) {
        return -1;
    }
    *out = total;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, counted in eras of
 * 400 years (146097 days) so leap years need no table. */
static apr_int64_t days_from_civil(apr_int64_t year, int month, int day)
{
    apr_int64_t era;
    apr_int64_t year_of_era;
    apr_int64_t day_of_year;
    apr_int64_t day_of_era;

    year -= month <= 2;
    era = (year >= 0 ? year : year - 399) / 400;
    year_of_era = year - era * 400;
    day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 +
                 day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static int days_in_month(apr_int64_t year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30,
                               31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* Exactly count digits, as a number. */
static int fixed_digits(const char **p, int count, int *value)
{
    *value = 0;
    for (int i = 0; i < count; i++) {
        if (!isdigit((unsigned char)**p)) {
            return -1;
        }
        *value = *value * 10 + (**p - '0');
        (*p)++;
    }
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c) {
        return -1;
    }
    (*p)++;
    return 0;
}

/* Limitation: years have exactly four digits (0001-9999) and are not
 * negative, because CPA validity and ebMS timestamps never leave that
 * range. Fraction digits past microseconds are truncated. 24:00:00 is
 * read as midnight of the next day, as the schema defines it. */
int cpa_parse_datetime(const char *text, apr_time_t *out)
{
    const char *p = text;
    int year, month, day, hour, minute, second;
    apr_int64_t micros = 0;
    apr_int64_t offset = 0;
    apr_int64_t total;

    if (p == NULL) {
        return -1;
    }
    while (is_xml_space(*p)) {
        p++;
    }

    if (fixed_digits(&p, 4, &year) || expect(&p, '-') ||
        fixed_digits(&p, 2, &month) || expect(&p, '-') ||
        fixed_digits(&p, 2, &day) || expect(&p, 'T') ||
        fixed_digits(&p, 2, &hour) || expect(&p, ':') ||
        fixed_digits(&p, 2, &minute) || expect(&p, ':') ||
        fixed_digits(&p, 2, &second)) {
        return -1;
    }
    if (*p == '.') {
        p++;
        if (read_fraction(&p, &micros) == 0) {
            return -1;
        }
    }

    if (year < 1 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || minute > 59 || second > 59) {
        return -1;
    }
    if (hour > 24 || (hour == 24 && (minute || second || micros))) {
        return -1;
    }

    if (*p == 'Z') {
        p++;
    }
    else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int offset_hours, offset_minutes;

        if (fixed_digits(&p, 2, &offset_hours) || expect(&p, ':') ||
            fixed_digits(&p, 2, &offset_minutes)) {
            return -1;
        }
        if (offset_minutes > 59 || offset_hours > 14 ||
            (offset_hours == 14 && offset_minutes)) {
            return -1;
        }
        offset = sign * (offset_hours * 3600LL + offset_minutes * 60LL);
    }
    while (is_xml_space(*p)) {
        p++;
    }
    if (*p != '\0') {
        return -1;
    }

    total = days_from_civil(year, month, day) * DAY_SECONDS +
            hour * 3600LL + minute * 60LL + second - offset;
    *out = total * APR_USEC_PER_SEC + micros;
    return 0;
}

/* ---- reading one CPA ---- */

static int is_true(const char *value)
{
    return value && (strcmp(value, "true") == 0 || strcmp(value, "1") == 0);
}

static int channel_index(const cpa_party_t *party, const char *channel_id)
{
    for (int i = 0; i < party->channels->nelts; i++) {
        const cpa_channel_t *channel =
            &APR_ARRAY_IDX(party->channels, i, cpa_channel_t);

        if (strcmp(channel->channel_id, channel_id) == 0) {
            return i;
        }
    }
    return -1;
}

static int read_duration(cpa_load_t *load, const xmlNode *node,
                         const char *channel_id, apr_interval_time_t *out)
{
    const char *value = text(node, load->scratch);

    *out = 0;
    if (value == NULL) {
        return 0;
    }
    if (cpa_parse_duration(value, out) != 0) {
        return fail(load, "DeliveryChannel %s: %s \"%s\" is not an "
                    "xsd:duration", channel_id, (const char *)node->name,
                    value);
    }
    return 0;
}

/* The DocExchange half of a channel: reliability, persistence and
 * whether the sender signs. */
static int read_doc_exchange(cpa_load_t *load, const xmlNode *doc_exchange,
                             cpa_channel_t *channel, int *non_repudiation)
{
    xmlNode *sender = child(doc_exchange, "ebXMLSenderBinding");
    xmlNode *receiver = child(doc_exchange, "ebXMLReceiverBinding");
    xmlNode *reliable = child(sender, "ReliableMessaging");
    const char *retries;

    channel->retries = -1;
    channel->retry_interval = 0;
    if (reliable) {
        retries = text(child(reliable, "Retries"), load->scratch);
        channel->retries = 0;
        if (retries) {
            char *end;
            long value = strtol(retries, &end, 10);

            if (*retries == '\0' || *end != '\0' || value < 0 ||
                value > 1000000) {
                return fail(load, "DeliveryChannel %s: Retries \"%s\" is "
                            "not a count", channel->channel_id, retries);
            }
            channel->retries = (int)value;
        }
        if (read_duration(load, child(reliable, "RetryInterval"),
                          channel->channel_id, &channel->retry_interval)) {
            return -1;
        }
    }

    if (read_duration(load, child(receiver, "PersistDuration"),
                      channel->channel_id, &channel->persist_duration)) {
        return -1;
    }

    *non_repudiation = child(sender, "SenderNonRepudiation") != NULL;
    return 0;
}

static int read_channel(cpa_load_t *load, party_load_t *party_load,
                        const xmlNode *node, cpa_channel_t *channel,
                        int *non_repudiation)
{
    apr_pool_t *pool = load->pool;
    xmlNode *characteristics = child(node, "MessagingCharacteristics");
    const char *doc_exchange_id;
    const char *transport_id;
    xmlNode *doc_exchange;
    xmlNode *transport;
    xmlNode *endpoint;
    const char *value;

    memset(channel, 0, sizeof(*channel));
    channel->channel_id = attr(node, "channelId", pool);
    if (channel->channel_id == NULL || *channel->channel_id == '\0') {
        return fail(load, "PartyInfo %s: DeliveryChannel without channelId",
                    party_load->party->party_name);
    }

    value = attr(characteristics, "syncReplyMode", pool);
    channel->sync_reply_mode = value ? value : "none";
    value = attr(characteristics, "ackRequested", pool);
    channel->ack_requested = value ? value : "perMessage";
    value = attr(characteristics, "ackSignatureRequested", pool);
    channel->ack_signature_requested = value ? value : "perMessage";
    value = attr(characteristics, "duplicateElimination", pool);
    channel->duplicate_elimination = value ? value : "perMessage";
    channel->actor = attr(characteristics, "actor", pool);

    doc_exchange_id = attr(node, "docExchangeId", load->scratch);
    doc_exchange = child_with_id(party_load->info, "DocExchange",
                                 "docExchangeId", doc_exchange_id,
                                 load->scratch);
    if (doc_exchange == NULL) {
        return fail(load, "DeliveryChannel %s: docExchangeId \"%s\" names "
                    "no DocExchange of its PartyInfo", channel->channel_id,
                    doc_exchange_id ? doc_exchange_id : "");
    }
    if (read_doc_exchange(load, doc_exchange, channel, non_repudiation)) {
        return -1;
    }

    transport_id = attr(node, "transportId", load->scratch);
    transport = child_with_id(party_load->info, "Transport", "transportId",
                              transport_id, load->scratch);
    if (transport == NULL) {
        return fail(load, "DeliveryChannel %s: transportId \"%s\" names no "
                    "Transport of its PartyInfo", channel->channel_id,
                    transport_id ? transport_id : "");
    }
    endpoint = child(child(transport, "TransportReceiver"), "Endpoint");
    channel->endpoint = attr(endpoint, "uri", pool);
    return 0;
}

/* One ThisPartyActionBinding: its action, and every ChannelId must name
 * a DeliveryChannel of the same party. A binding that requires
 * non-repudiation makes its channels signed when their DocExchange has a
 * SenderNonRepudiation (what ebms-core checks too). */
static int read_binding(cpa_load_t *load, party_load_t *party_load,
                        const xmlNode *node, cpa_action_t *action)
{
    cpa_party_t *party = party_load->party;
    const char *id = attr(node, "id", load->scratch);
    xmlNode *characteristics;
    xmlNode *channel_node;
    int non_repudiation;

    action->action = attr(node, "action", load->pool);
    action->channel_id = NULL;
    if (action->action == NULL || *action->action == '\0') {
        return fail(load, "PartyInfo %s: ThisPartyActionBinding %s without "
                    "action", party->party_name, id ? id : "");
    }

    characteristics = child(node, "BusinessTransactionCharacteristics");
    non_repudiation = is_true(attr(characteristics,
                                   "isNonRepudiationRequired",
                                   load->scratch));

    for (channel_node = node->children; channel_node;
         channel_node = channel_node->next) {
        const char *channel_id;
        int index;

        if (!is_cpa(channel_node, "ChannelId")) {
            continue;
        }
        channel_id = text(channel_node, load->pool);
        index = channel_index(party, channel_id);
        if (index < 0) {
            return fail(load, "PartyInfo %s: action %s: ChannelId \"%s\" "
                        "names no DeliveryChannel of its PartyInfo",
                        party->party_name, action->action, channel_id);
        }
        if (action->channel_id == NULL) {
            action->channel_id = channel_id;
        }
        if (non_repudiation &&
            party_load->sender_non_repudiation[index]) {
            APR_ARRAY_IDX(party->channels, index, cpa_channel_t)
                .signed_required = 1;
        }
    }
    if (action->channel_id == NULL) {
        return fail(load, "PartyInfo %s: action %s has no ChannelId",
                    party->party_name, action->action);
    }
    return 0;
}

/* CanSend or CanReceive. The schema lets either nest the other (a reply
 * bound to the request); nested bindings are listed with the role's
 * other bindings, since the party may send or receive them all the
 * same. */
static int read_can(cpa_load_t *load, party_load_t *party_load,
                    const xmlNode *node, cpa_role_t *role, int can_send)
{
    xmlNode *binding = child(node, "ThisPartyActionBinding");
    cpa_action_t *action;
    xmlNode *nested;

    if (binding == NULL) {
        return fail(load, "PartyInfo %s: %s without ThisPartyActionBinding",
                    party_load->party->party_name,
                    can_send ? "CanSend" : "CanReceive");
    }
    action = apr_array_push(can_send ? role->can_send : role->can_receive);
    if (read_binding(load, party_load, binding, action)) {
        return -1;
    }

    for (nested = node->children; nested; nested = nested->next) {
        if (is_cpa(nested, "CanSend") &&
            read_can(load, party_load, nested, role, 1)) {
            return -1;
        }
        if (is_cpa(nested, "CanReceive") &&
            read_can(load, party_load, nested, role, 0)) {
            return -1;
        }
    }
    return 0;
}

static int read_role(cpa_load_t *load, party_load_t *party_load,
                     const xmlNode *node, cpa_role_t *role)
{
    apr_pool_t *pool = load->pool;
    const char *party_name = party_load->party->party_name;
    xmlNode *binding = child(node, "ServiceBinding");
    xmlNode *service = child(binding, "Service");
    xmlNode *can;

    role->role = attr(child(node, "Role"), "name", pool);
    if (role->role == NULL || *role->role == '\0') {
        return fail(load, "PartyInfo %s: CollaborationRole without Role "
                    "name", party_name);
    }
    role->service = text(service, pool);
    if (role->service == NULL || *role->service == '\0') {
        return fail(load, "PartyInfo %s: role %s has no ServiceBinding/"
                    "Service", party_name, role->role);
    }
    role->service_type = attr(service, "type", pool);
    role->can_send = apr_array_make(pool, 4, sizeof(cpa_action_t));
    role->can_receive = apr_array_make(pool, 4, sizeof(cpa_action_t));

    for (can = binding->children; can; can = can->next) {
        if (is_cpa(can, "CanSend") &&
            read_can(load, party_load, can, role, 1)) {
            return -1;
        }
        if (is_cpa(can, "CanReceive") &&
            read_can(load, party_load, can, role, 0)) {
            return -1;
        }
    }
    return 0;
}

static int read_party_ids(cpa_load_t *load, const xmlNode *info,
                          cpa_party_t *party)
{
    xmlNode *node;

    party->party_ids = apr_array_make(load->pool, 2,
                                      sizeof(cpa_party_id_t));
    for (node = info->children; node; node = node->next) {
        cpa_party_id_t *id;

        if (!is_cpa(node, "PartyId")) {
            continue;
        }
        id = apr_array_push(party->party_ids);
        id->type = attr(node, "type", load->pool);
        id->value = text(node, load->pool);
    }
    if (party->party_ids->nelts == 0) {
        return fail(load, "PartyInfo %s has no PartyId", party->party_name);
    }
    return 0;
}

/* Channels are read before the roles because the roles' bindings refer
 * to them, though they come after the roles in the file. */
static int read_party(cpa_load_t *load, xmlNode *info, cpa_party_t *party,
                      int number)
{
    party_load_t party_load;
    xmlNode *node;
    int channels = 0;
    const char *channel_id;

    party->party_name = attr(info, "partyName", load->pool);
    if (party->party_name == NULL) {
        party->party_name = apr_psprintf(load->pool, "#%d", number);
    }
    if (read_party_ids(load, info, party)) {
        return -1;
    }

    for (node = info->children; node; node = node->next) {
        channels += is_cpa(node, "DeliveryChannel");
    }
    party->channels = apr_array_make(load->pool, channels ? channels : 1,
                                     sizeof(cpa_channel_t));
    party_load.party = party;
    party_load.info = info;
    party_load.sender_non_repudiation =
        apr_pcalloc(load->scratch, sizeof(int) * (channels + 1));
    for (node = info->children; node; node = node->next) {
        int index = party->channels->nelts;

        if (is_cpa(node, "DeliveryChannel") &&
            read_channel(load, &party_load, node,
                         apr_array_push(party->channels),
                         &party_load.sender_non_repudiation[index])) {
            return -1;
        }
    }

    party->default_msh_channel_id =
        attr(info, "defaultMshChannelId", load->pool);
    if (party->default_msh_channel_id == NULL) {
        return fail(load, "PartyInfo %s has no defaultMshChannelId",
                    party->party_name);
    }
    if (channel_index(party, party->default_msh_channel_id) < 0) {
        return fail(load, "PartyInfo %s: defaultMshChannelId \"%s\" names "
                    "no DeliveryChannel of its PartyInfo", party->party_name,
                    party->default_msh_channel_id);
    }

    party->roles = apr_array_make(load->pool, 2, sizeof(cpa_role_t));
    for (node = info->children; node; node = node->next) {
        if (is_cpa(node, "CollaborationRole") &&
            read_role(load, &party_load, node,
                      apr_array_push(party->roles))) {
            return -1;
        }
    }

    /* Signals for these actions go over another channel; it must exist
     * just as a binding's would. */
    for (node = info->children; node; node = node->next) {
        if (!is_cpa(node, "OverrideMshActionBinding")) {
            continue;
        }
        channel_id = attr(node, "channelId", load->scratch);
        if (channel_id == NULL || channel_index(party, channel_id) < 0) {
            return fail(load, "PartyInfo %s: OverrideMshActionBinding "
                        "channelId \"%s\" names no DeliveryChannel of its "
                        "PartyInfo", party->party_name,
                        channel_id ? channel_id : "");
        }
    }
    return 0;
}

static int read_time(cpa_load_t *load, const xmlNode *root,
                     const char *name, apr_time_t *out)
{
    xmlNode *node = child(root, name);
    const char *value;

    if (node == NULL) {
        return fail(load, "CPA has no %s", name);
    }
    value = text(node, load->scratch);
    if (cpa_parse_datetime(value, out) != 0) {
        return fail(load, "%s \"%s\" is not an xsd:dateTime", name, value);
    }
    return 0;
}

static int read_cpa(cpa_load_t *load, xmlDoc *doc, cpa_t *cpa)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *node;
    int parties = 0;

    if (!is_cpa(root, "CollaborationProtocolAgreement")) {
        return fail(load, "not a CPA: the root element is {%s}%s, not "
                    "CollaborationProtocolAgreement in namespace %s",
                    root && root->ns ? (const char *)root->ns->href : "",
                    root ? (const char *)root->name : "", CPA_NS);
    }

    cpa->cpaid = attr(root, "cpaid", load->pool);
    if (cpa->cpaid == NULL || *cpa->cpaid == '\0') {
        return fail(load, "CPA has no cpaid");
    }

    cpa->status = attr(child(root, "Status"), "value", load->pool);
    if (cpa->status == NULL) {
        return fail(load, "CPA %s has no Status value", cpa->cpaid);
    }
    if (strcmp(cpa->status, "agreed") != 0 &&
        strcmp(cpa->status, "signed") != 0 &&
        strcmp(cpa->status, "proposed") != 0) {
        return fail(load, "CPA %s: Status \"%s\" is not agreed, signed or "
                    "proposed", cpa->cpaid, cpa->status);
    }

    if (read_time(load, root, "Start", &cpa->start) ||
        read_time(load, root, "End", &cpa->end)) {
        return -1;
    }
    if (cpa->end <= cpa->start) {
        return fail(load, "CPA %s: End is not after Start", cpa->cpaid);
    }

    for (node = root->children; node; node = node->next) {
        if (!is_cpa(node, "PartyInfo")) {
            continue;
        }
        if (parties < 2 &&
            read_party(load, node, &cpa->party[parties], parties + 1)) {
            return -1;
        }
        parties++;
    }
    if (parties != 2) {
        return fail(load, "CPA %s has %d PartyInfo elements, not exactly "
                    "two", cpa->cpaid, parties);
    }
    return 0;
}

/* What the parser found that makes the file unusable: a DOCTYPE, or the
 * first error (the last one is often only a consequence of it). */
typedef struct {
    int doctype;
    int line;
    const char *message;
    apr_pool_t *pool;
} parse_state_t;

/* Called by the parser for <!DOCTYPE ...>: a CPA needs no DTD, and
 * refusing it here means no entity of one is ever defined or expanded. */
static void refuse_doctype(void *context, const xmlChar *name,
                           const xmlChar *external_id,
                           const xmlChar *system_id)
{
    xmlParserCtxtPtr parser = context;
    parse_state_t *state = parser->_private;

    state->doctype = 1;
    xmlStopParser(parser);
}

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
static void keep_first_error(void *context, const xmlError *error)
#else
static void keep_first_error(void *context, xmlErrorPtr error)
#endif
{
    xmlParserCtxtPtr parser = context;
    parse_state_t *state = parser->_private;

    if (state->message || error->level < XML_ERR_ERROR) {
        return;
    }
    state->line = error->line;
    state->message = trimmed(error->message ? error->message : "unknown",
                             state->pool);
}

static xmlDoc *parse_xml(cpa_load_t *load, const char *data,
                         apr_size_t len)
{
    parse_state_t state = {0, 0, NULL, load->scratch};
    xmlParserCtxtPtr parser;
    xmlDoc *doc;
    int well_formed;

    parser = xmlCreateMemoryParserCtxt(data, (int)len);
    if (parser == NULL) {
        fail(load, "the XML parser could not start");
        return NULL;
    }
    parser->_private = &state;
    parser->sax->internalSubset = refuse_doctype;
    parser->sax->externalSubset = refuse_doctype;
    parser->sax->warning = NULL;
    parser->sax->error = NULL;
    parser->sax->serror = keep_first_error;
    xmlCtxtUseOptions(parser, XML_PARSE_NONET | XML_PARSE_NOWARNING |
                                  XML_PARSE_NOERROR);
    parser->replaceEntities = 0;

    xmlParseDocument(parser);

    doc = parser->myDoc;
    parser->myDoc = NULL;
    well_formed = parser->wellFormed;
    xmlFreeParserCtxt(parser);

    if (state.doctype || (doc && doc->intSubset)) {
        fail(load, "a DOCTYPE is not allowed in a CPA");
    }
    else if (!well_formed || doc == NULL) {
        fail(load, "not well-formed XML: line %d: %s", state.line,
             state.message ? state.message : "unknown error");
    }
    if (load->error) {
        if (doc) {
            xmlFreeDoc(doc);
        }
        return NULL;
    }
    return doc;
}

static int read_file(cpa_load_t *load, char **data, apr_size_t *len)
{
    apr_file_t *file;
    apr_finfo_t info;
    apr_status_t status;
    char message[120];

    status = apr_file_open(&file, load->path, APR_FOPEN_READ |
                           APR_FOPEN_BINARY, APR_OS_DEFAULT, load->scratch);
    if (status != APR_SUCCESS) {
        return fail(load, "cannot open: %s",
                    apr_strerror(status, message, sizeof(message)));
    }

    status = apr_file_info_get(&info, APR_FINFO_SIZE | APR_FINFO_TYPE,
                               file);
    if (status != APR_SUCCESS || info.filetype != APR_REG) {
        apr_file_close(file);
        return fail(load, "not a regular file");
    }
    if (info.size == 0 || info.size > CPA_MAX_FILE) {
        apr_file_close(file);
        return fail(load, "%s bytes long; not a CPA",
                    apr_off_t_toa(load->scratch, info.size));
    }

    *len = (apr_size_t)info.size;
    *data = apr_palloc(load->scratch, *len + 1);
    status = apr_file_read_full(file, *data, *len, len);
    apr_file_close(file);
    if (status != APR_SUCCESS) {
        return fail(load, "cannot read: %s",
                    apr_strerror(status, message, sizeof(message)));
    }
    return 0;
}

static const cpa_t *load_file(const char *path, apr_pool_t *pool,
                              apr_pool_t *scratch, const char **error)
{
    cpa_load_t load = {path, pool, scratch, NULL};
    char *data = NULL;
    apr_size_t len = 0;
    xmlDoc *doc;
    cpa_t *cpa;
    int result;

    if (read_file(&load, &data, &len)) {
        *error = load.error;
        return NULL;
    }

    doc = parse_xml(&load, data, len);
    if (doc == NULL) {
        *error = load.error;
        return NULL;
    }

    cpa = apr_pcalloc(pool, sizeof(*cpa));
    cpa->path = apr_pstrdup(pool, path);
    result = read_cpa(&load, doc, cpa);
    xmlFreeDoc(doc);
    if (result) {
        *error = load.error;
        return NULL;
    }
    return cpa;
}

/* ---- the registry ---- */

cpa_registry_t *cpa_registry_make(apr_pool_t *pool)
{
    cpa_registry_t *registry = apr_pcalloc(pool, sizeof(*registry));

    registry->pool = pool;
    registry->all = apr_array_make(pool, 4, sizeof(const cpa_t *));
    registry->by_cpaid = apr_hash_make(pool);
    return registry;
}

/* The files a pattern names, sorted. A pattern without wildcards is one
 * file, so a missing file is reported as unreadable rather than as a
 * pattern that matched nothing. */
static apr_array_header_t *expand(const char *pattern, apr_pool_t *pool,
                                  const char **error)
{
    apr_array_header_t *paths = apr_array_make(pool, 4, sizeof(char *));
    glob_t found;
    int result;

    if (strpbrk(pattern, "*?[") == NULL) {
        APR_ARRAY_PUSH(paths, const char *) = pattern;
        return paths;
    }

    result = glob(pattern, 0, NULL, &found);
    if (result == GLOB_NOMATCH) {
        *error = apr_psprintf(pool, "%s: no file matched", pattern);
        return NULL;
    }
    if (result != 0) {
        *error = apr_psprintf(pool, "%s: cannot list the files it names",
                              pattern);
        return NULL;
    }
    for (size_t i = 0; i < found.gl_pathc; i++) {
        APR_ARRAY_PUSH(paths, const char *) =
            apr_pstrdup(pool, found.gl_pathv[i]);
    }
    globfree(&found);
    return paths;
}

/* All files of the pattern load, or none: the model is built in a child
 * pool of the registry's that is dropped again on the first error, so a
 * failed load leaves the registry as it was. */
int cpa_registry_load(cpa_registry_t *registry, const char *pattern,
                      apr_pool_t *pool, const char **error)
{
    apr_array_header_t *paths;
    apr_array_header_t *loaded;
    apr_hash_t *batch;
    apr_pool_t *model;

    paths = expand(pattern, pool, error);
    if (paths == NULL) {
        return -1;
    }

    apr_pool_create(&model, registry->pool);
    loaded = apr_array_make(pool, paths->nelts, sizeof(const cpa_t *));
    batch = apr_hash_make(pool);
    for (int i = 0; i < paths->nelts; i++) {
        const char *path = APR_ARRAY_IDX(paths, i, const char *);
        const cpa_t *cpa = load_file(path, model, pool, error);
        const cpa_t *earlier;

        if (cpa == NULL) {
            apr_pool_destroy(model);
            return -1;
        }
        earlier = apr_hash_get(registry->by_cpaid, cpa->cpaid,
                               APR_HASH_KEY_STRING);
        if (earlier == NULL) {
            earlier = apr_hash_get(batch, cpa->cpaid, APR_HASH_KEY_STRING);
        }
        if (earlier) {
            *error = apr_psprintf(pool, "%s: duplicate cpaid %s, already "
                                  "loaded from %s", path, cpa->cpaid,
                                  earlier->path);
            apr_pool_destroy(model);
            return -1;
        }
        apr_hash_set(batch, cpa->cpaid, APR_HASH_KEY_STRING, cpa);
        APR_ARRAY_PUSH(loaded, const cpa_t *) = cpa;
    }

    for (int i = 0; i < loaded->nelts; i++) {
        const cpa_t *cpa = APR_ARRAY_IDX(loaded, i, const cpa_t *);

        APR_ARRAY_PUSH(registry->all, const cpa_t *) = cpa;
        apr_hash_set(registry->by_cpaid, cpa->cpaid, APR_HASH_KEY_STRING,
                     cpa);
    }
    return 0;
}

int cpa_registry_count(const cpa_registry_t *registry)
{
    return registry->all->nelts;
}

const cpa_t *cpa_lookup(const cpa_registry_t *registry, const char *cpaid)
{
    if (cpaid == NULL) {
        return NULL;
    }
    return apr_hash_get(registry->by_cpaid, cpaid, APR_HASH_KEY_STRING);
}

const apr_array_header_t *cpa_all(const cpa_registry_t *registry)
{
    return registry->all;
}

/* ---- lookups ---- */

int cpa_valid_at(const cpa_t *cpa, apr_time_t t)
{
    if (strcmp(cpa->status, "proposed") == 0) {
        return 0;
    }
    return cpa->start <= t && t < cpa->end;
}

const cpa_party_t *cpa_find_party(const cpa_t *cpa, const char *type,
                                  const char *value)
{
    if (value == NULL) {
        return NULL;
    }
    for (int p = 0; p < 2; p++) {
        const apr_array_header_t *ids = cpa->party[p].party_ids;

        for (int i = 0; i < ids->nelts; i++) {
            const cpa_party_id_t *id =
                &APR_ARRAY_IDX(ids, i, cpa_party_id_t);

            if (strcmp(id->value, value) == 0 && same(id->type, type)) {
                return &cpa->party[p];
            }
        }
    }
    return NULL;
}

const cpa_party_t *cpa_other_party(const cpa_t *cpa,
                                   const cpa_party_t *party)
{
    if (party == &cpa->party[0]) {
        return &cpa->party[1];
    }
    if (party == &cpa->party[1]) {
        return &cpa->party[0];
    }
    return NULL;
}

/* A NULL role or service never matches: every CollaborationRole has
 * both. */
const cpa_role_t *cpa_find_role(const cpa_party_t *party, const char *role,
                                const char *service,
                                const char *service_type)
{
    if (party == NULL || role == NULL || service == NULL) {
        return NULL;
    }
    for (int i = 0; i < party->roles->nelts; i++) {
        const cpa_role_t *candidate =
            &APR_ARRAY_IDX(party->roles, i, cpa_role_t);

        if (strcmp(candidate->role, role) == 0 &&
            strcmp(candidate->service, service) == 0 &&
            same(candidate->service_type, service_type)) {
            return candidate;
        }
    }
    return NULL;
}

const cpa_action_t *cpa_find_action(const cpa_role_t *role,
                                    const char *action, int can_send)
{
    const apr_array_header_t *actions;

    if (role == NULL || action == NULL) {
        return NULL;
    }
    actions = can_send ? role->can_send : role->can_receive;
    for (int i = 0; i < actions->nelts; i++) {
        const cpa_action_t *candidate =
            &APR_ARRAY_IDX(actions, i, cpa_action_t);

        if (strcmp(candidate->action, action) == 0) {
            return candidate;
        }
    }
    return NULL;
}

const cpa_channel_t *cpa_channel(const cpa_t *cpa, const char *channel_id)
{
    if (channel_id == NULL) {
        return NULL;
    }
    for (int p = 0; p < 2; p++) {
        int index = channel_index(&cpa->party[p], channel_id);

        if (index >= 0) {
            return &APR_ARRAY_IDX(cpa->party[p].channels, index,
                                  cpa_channel_t);
        }
    }
    return NULL;
}

const cpa_channel_t *cpa_default_channel(const cpa_t *cpa,
                                         const cpa_party_t *party)
{
    int index;

    if (party == NULL) {
        return NULL;
    }
    index = channel_index(party, party->default_msh_channel_id);
    if (index < 0) {
        return cpa_channel(cpa, party->default_msh_channel_id);
    }
    return &APR_ARRAY_IDX(party->channels, index, cpa_channel_t);
}

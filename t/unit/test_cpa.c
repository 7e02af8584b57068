/* test_cpa.c - unit tests of the CPA loader (src/cpa.c): our example CPAs
 * in conf/, small CPAs written here for every refusal, the duration and
 * dateTime parsers, and the real ebms-core CPAs from ../shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "cpa.h"
#include "tap.h"

#define LZ_CPAID "LZ_00000001234567890363_00000004003214345001_1"
#define LZ_SERVICE "LZ:StUF:zkn:0310"
#define OIN_TYPE "urn:osb:oin"
#define OIN_GEMEENTE "00000001234567890363"
#define OIN_LZ "00000004003214345001"
#define SERVICES_TYPE "urn:osb:services"

#define SECOND APR_USEC_PER_SEC
#define HOUR (3600 * SECOND)
#define DAY (24 * HOUR)

/* Seconds since the epoch of instants used below. */
#define UTC_2024_01_01 1704067200LL
#define UTC_2034_01_01 2019686400LL
#define UTC_2011_01_01 1293840000LL

/* A small CPA with what each refusal test takes away or breaks. Party A
 * writes attributes qualified as the schema says; party B writes them
 * unqualified, has a PartyId without type, a nested CanReceive, and the
 * only signed channel. */
static const char minimal_cpa[] =
    "<?xml version=\"1.0\"?>\n"
    "<c:CollaborationProtocolAgreement xmlns:c=\"" CPA_NS "\"\n"
    "    c:cpaid=\"test-1\" c:version=\"1\">\n"
    " <c:Status c:value=\"agreed\"/>\n"
    " <c:Start>2024-01-01T00:00:00Z</c:Start>\n"
    " <c:End>2025-01-01T00:00:00Z</c:End>\n"
    " <c:PartyInfo c:partyName=\"A\" c:defaultMshChannelId=\"A_ch\"\n"
    "     c:defaultMshPackageId=\"pkg\">\n"
    "  <c:PartyId c:type=\"urn:osb:oin\">111</c:PartyId>\n"
    "  <c:CollaborationRole>\n"
    "   <c:Role c:name=\"SR\"/>\n"
    "   <c:ServiceBinding>\n"
    "    <c:Service c:type=\"urn:osb:services\">svc</c:Service>\n"
    "    <c:CanSend>\n"
    "     <c:ThisPartyActionBinding c:id=\"A_S\" c:action=\"vraag\">\n"
    "      <c:BusinessTransactionCharacteristics\n"
    "          c:isNonRepudiationRequired=\"true\"/>\n"
    "      <c:ChannelId>A_ch</c:ChannelId>\n"
    "     </c:ThisPartyActionBinding>\n"
    "    </c:CanSend>\n"
    "   </c:ServiceBinding>\n"
    "  </c:CollaborationRole>\n"
    "  <c:DeliveryChannel c:channelId=\"A_ch\" c:transportId=\"A_tr\"\n"
    "      c:docExchangeId=\"A_dx\">\n"
    "   <c:MessagingCharacteristics/>\n"
    "  </c:DeliveryChannel>\n"
    "  <c:Transport c:transportId=\"A_tr\">\n"
    "   <c:TransportReceiver>\n"
    "    <c:Endpoint c:uri=\"http://a.example/ebms\"/>\n"
    "   </c:TransportReceiver>\n"
    "  </c:Transport>\n"
    "  <c:DocExchange c:docExchangeId=\"A_dx\">\n"
    "   <c:ebXMLSenderBinding c:version=\"2.0\"/>\n"
    "  </c:DocExchange>\n"
    " </c:PartyInfo>\n"
    " <c:PartyInfo partyName=\"B\" defaultMshChannelId=\"B_plain\"\n"
    "     defaultMshPackageId=\"pkg\">\n"
    "  <c:PartyId> 222 </c:PartyId>\n"
    "  <c:CollaborationRole>\n"
    "   <c:Role name=\"SP\"/>\n"
    "   <c:ServiceBinding>\n"
    "    <c:Service>svc</c:Service>\n"
    "    <c:CanReceive>\n"
    "     <c:ThisPartyActionBinding id=\"B_R\" action=\"vraag\">\n"
    "      <c:BusinessTransactionCharacteristics\n"
    "          isNonRepudiationRequired=\"true\"/>\n"
    "      <c:ChannelId>B_signed</c:ChannelId>\n"
    "     </c:ThisPartyActionBinding>\n"
    "     <c:CanSend>\n"
    "      <c:ThisPartyActionBinding id=\"B_S\" action=\"antwoord\">\n"
    "       <c:BusinessTransactionCharacteristics/>\n"
    "       <c:ChannelId>B_plain</c:ChannelId>\n"
    "      </c:ThisPartyActionBinding>\n"
    "     </c:CanSend>\n"
    "    </c:CanReceive>\n"
    "   </c:ServiceBinding>\n"
    "  </c:CollaborationRole>\n"
    "  <c:DeliveryChannel channelId=\"B_signed\" transportId=\"B_tr\"\n"
    "      docExchangeId=\"B_dx_signed\">\n"
    "   <c:MessagingCharacteristics syncReplyMode=\"mshSignalsOnly\"\n"
    "       ackRequested=\"always\" duplicateElimination=\"always\"/>\n"
    "  </c:DeliveryChannel>\n"
    "  <c:DeliveryChannel channelId=\"B_plain\" transportId=\"B_tr\"\n"
    "      docExchangeId=\"B_dx_signed\">\n"
    "   <c:MessagingCharacteristics/>\n"
    "  </c:DeliveryChannel>\n"
    "  <c:Transport transportId=\"B_tr\"/>\n"
    "  <c:DocExchange docExchangeId=\"B_dx_signed\">\n"
    "   <c:ebXMLSenderBinding version=\"2.0\">\n"
    "    <c:ReliableMessaging>\n"
    "     <c:Retries> 3 </c:Retries>\n"
    "     <c:RetryInterval>PT1M</c:RetryInterval>\n"
    "    </c:ReliableMessaging>\n"
    "    <c:SenderNonRepudiation/>\n"
    "   </c:ebXMLSenderBinding>\n"
    "   <c:ebXMLReceiverBinding version=\"2.0\">\n"
    "    <c:PersistDuration>PT10M</c:PersistDuration>\n"
    "   </c:ebXMLReceiverBinding>\n"
    "  </c:DocExchange>\n"
    " </c:PartyInfo>\n"
    "</c:CollaborationProtocolAgreement>\n";

static const char *temp_dir;

/* s with the first occurrence of from replaced; fails the test run
 * loudly when from is missing, so a stale edit cannot pass silently. */
static const char *replace(apr_pool_t *pool, const char *s,
                           const char *from, const char *to)
{
    const char *at = strstr(s, from);

    if (at == NULL) {
        tap_diag("replace: \"%s\" not found", from);
        abort();
    }
    return apr_pstrcat(pool, apr_pstrmemdup(pool, s, (apr_size_t)(at - s)),
                       to, at + strlen(from), NULL);
}

static const char *write_file(apr_pool_t *pool, const char *name,
                              const char *content)
{
    const char *path = apr_pstrcat(pool, temp_dir, "/", name, NULL);
    FILE *file = fopen(path, "w");

    if (file == NULL) {
        tap_diag("cannot write %s", path);
        abort();
    }
    fputs(content, file);
    fclose(file);
    return path;
}

static const char *read_text(apr_pool_t *pool, const char *path)
{
    apr_file_t *file;
    apr_finfo_t info;
    char *content;
    apr_size_t len = 0;

    if (apr_file_open(&file, path, APR_FOPEN_READ, APR_OS_DEFAULT,
                      pool) != APR_SUCCESS) {
        return NULL;
    }
    apr_file_info_get(&info, APR_FINFO_SIZE, file);
    content = apr_palloc(pool, (apr_size_t)info.size + 1);
    apr_file_read_full(file, content, (apr_size_t)info.size, &len);
    apr_file_close(file);
    content[len] = '\0';
    return content;
}

static void remove_temp_dir(apr_pool_t *pool)
{
    apr_dir_t *dir;
    apr_finfo_t entry;

    if (apr_dir_open(&dir, temp_dir, pool) != APR_SUCCESS) {
        return;
    }
    while (apr_dir_read(&entry, APR_FINFO_NAME, dir) == APR_SUCCESS) {
        if (strcmp(entry.name, ".") && strcmp(entry.name, "..")) {
            apr_file_remove(apr_pstrcat(pool, temp_dir, "/", entry.name,
                                        NULL), pool);
        }
    }
    apr_dir_close(dir);
    apr_dir_remove(temp_dir, pool);
}

/* Loads one text written as name into a fresh registry. */
static int load_text(apr_pool_t *pool, const char *name, const char *xml,
                     cpa_registry_t **registry, const char **error)
{
    *registry = cpa_registry_make(pool);
    *error = NULL;
    return cpa_registry_load(*registry, write_file(pool, name, xml), pool,
                             error);
}

/* The load must fail, name the file, and say what is wrong. */
static void expect_refused(apr_pool_t *pool, const char *name,
                           const char *xml, const char *problem)
{
    cpa_registry_t *registry;
    const char *error;
    int result = load_text(pool, name, xml, &registry, &error);

    tap_is_int(result, -1, "%s: refused", name);
    tap_ok(error && strstr(error, name) && strstr(error, problem),
           "%s: error names the file and \"%s\"", name, problem);
    if (error && !(strstr(error, name) && strstr(error, problem))) {
        tap_diag("error: %s", error);
    }
    tap_is_int(cpa_registry_count(registry), 0,
               "%s: nothing registered", name);
}

static apr_time_t at(const char *text)
{
    apr_time_t t = 0;

    if (cpa_parse_datetime(text, &t) != 0) {
        tap_diag("at: %s does not parse", text);
    }
    return t;
}

static void test_example_cpa(apr_pool_t *pool)
{
    cpa_registry_t *registry = cpa_registry_make(pool);
    const char *error = NULL;
    const cpa_t *cpa;
    const cpa_party_t *gemeente;
    const cpa_party_t *lz;
    const cpa_role_t *sr;
    const cpa_role_t *sp;
    const cpa_action_t *action;
    const cpa_channel_t *channel;
    const char *answers[] = {"Bv01Bericht", "Fo01Bericht", "Fo03Bericht"};

    tap_is_int(cpa_registry_load(registry,
                                 tap_project(pool, "conf/lz-example-cpa.xml"),
                                 pool, &error),
               0, "conf/lz-example-cpa.xml loads");
    if (error) {
        tap_diag("%s", error);
    }
    tap_is_int(cpa_registry_count(registry), 1, "one CPA registered");
    cpa = cpa_lookup(registry, LZ_CPAID);
    if (!tap_ok(cpa != NULL, "the example CPA is found by its cpaid")) {
        return;
    }
    tap_ok(cpa_lookup(registry, LZ_CPAID "_async") == NULL,
           "an unloaded cpaid is not found");
    tap_ok(cpa_lookup(registry, NULL) == NULL, "a NULL cpaid is not found");
    tap_is(cpa->status, "agreed", "status agreed");
    tap_is_int(cpa->start, UTC_2024_01_01 * SECOND, "Start 2024-01-01");
    tap_is_int(cpa->end, UTC_2034_01_01 * SECOND, "End 2034-01-01");
    tap_ok(strstr(cpa->path, "conf/lz-example-cpa.xml") != NULL,
           "the CPA remembers its file");

    gemeente = cpa_find_party(cpa, OIN_TYPE, OIN_GEMEENTE);
    lz = cpa_find_party(cpa, OIN_TYPE, OIN_LZ);
    tap_ok(gemeente == &cpa->party[0], "the gemeente is party A");
    tap_ok(lz == &cpa->party[1], "LZ is party B");
    tap_ok(cpa_find_party(cpa, "urn:osb:hrn", OIN_LZ) == NULL,
           "a PartyId of another type does not match");
    tap_ok(cpa_find_party(cpa, NULL, OIN_LZ) == NULL,
           "a typeless PartyId does not match a typed one");
    tap_ok(cpa_find_party(cpa, OIN_TYPE, "00000001823288444000") == NULL,
           "an unknown OIN is no party");
    tap_ok(cpa_other_party(cpa, gemeente) == lz, "LZ is the gemeente's "
           "other party");
    tap_ok(cpa_other_party(cpa, lz) == gemeente, "and the other way round");
    if (gemeente == NULL || lz == NULL) {
        return;
    }

    sr = cpa_find_role(gemeente, "SR", LZ_SERVICE, SERVICES_TYPE);
    sp = cpa_find_role(lz, "SP", LZ_SERVICE, SERVICES_TYPE);
    tap_ok(sr != NULL, "the gemeente has role SR for " LZ_SERVICE);
    tap_ok(sp != NULL, "LZ has role SP for " LZ_SERVICE);
    tap_ok(cpa_find_role(gemeente, "SP", LZ_SERVICE, SERVICES_TYPE) == NULL,
           "the gemeente is no SP");
    tap_ok(cpa_find_role(lz, "SP", LZ_SERVICE, NULL) == NULL,
           "a Service without type does not match a typed one");
    tap_ok(cpa_find_role(lz, "SP", "LZ:StUF:zkn:0300", SERVICES_TYPE) ==
               NULL, "another service does not match");
    if (sr == NULL || sp == NULL) {
        return;
    }

    action = cpa_find_action(sr, "zakLk01", 1);
    tap_ok(action != NULL, "the gemeente CanSend zakLk01");
    tap_is(action ? action->channel_id : NULL, "Gemeente_RM_Channel",
           "zakLk01 is sent over the gemeente's channel");
    tap_ok(cpa_find_action(sr, "zakLk01", 0) == NULL,
           "the gemeente cannot receive zakLk01");
    action = cpa_find_action(sp, "zakLk01", 0);
    tap_ok(action != NULL, "LZ CanReceive zakLk01");
    tap_is(action ? action->channel_id : NULL, "LZ_RM_Channel",
           "zakLk01 is received over LZ's channel");
    tap_ok(cpa_find_action(sp, "zakLk01", 1) == NULL,
           "LZ cannot send zakLk01");
    for (int i = 0; i < 3; i++) {
        tap_ok(cpa_find_action(sp, answers[i], 1) != NULL,
               "LZ CanSend %s", answers[i]);
        tap_ok(cpa_find_action(sr, answers[i], 0) != NULL,
               "the gemeente CanReceive %s", answers[i]);
        tap_ok(cpa_find_action(sp, answers[i], 0) == NULL,
               "LZ cannot receive %s", answers[i]);
    }
    tap_is_int(sp->can_send->nelts, 3, "LZ sends three actions");
    tap_is_int(sp->can_receive->nelts, 1, "LZ receives one action");
    tap_ok(cpa_find_action(sp, "Bv03Bericht", 1) == NULL,
           "no Bv03 over ebMS");

    channel = cpa_channel(cpa, "LZ_RM_Channel");
    if (!tap_ok(channel != NULL, "LZ's channel is found")) {
        return;
    }
    tap_is(channel->sync_reply_mode, "mshSignalsOnly",
           "acknowledgments on the same connection");
    tap_is(channel->ack_requested, "always", "ackRequested always");
    tap_is(channel->ack_signature_requested, "never",
           "ackSignatureRequested never");
    tap_is(channel->duplicate_elimination, "always",
           "duplicateElimination always");
    tap_is(channel->actor, "urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH",
           "actor toPartyMSH");
    tap_is_int(channel->retries, 8, "8 retries");
    tap_is_int(channel->retry_interval, 2 * HOUR, "2 hours apart");
    tap_is_int(channel->persist_duration, DAY, "MessageIds kept a day");
    tap_ok((1 + channel->retries) * channel->retry_interval <=
               channel->persist_duration,
           "the last retry comes before the receiver forgets the "
           "MessageId");
    tap_is(channel->endpoint, "https://lz.example/lz/ebms", "LZ endpoint");
    tap_is_int(channel->signed_required, 0, "osb-rm is unsigned");
    tap_ok(cpa_default_channel(cpa, lz) == channel,
           "LZ's signals use its one channel");

    channel = cpa_default_channel(cpa, gemeente);
    tap_is(channel ? channel->channel_id : NULL, "Gemeente_RM_Channel",
           "the gemeente's default MSH channel");
    tap_is(channel ? channel->endpoint : NULL,
           "https://zaaksysteem.example/ebms", "the gemeente's endpoint");
    tap_ok(cpa_channel(cpa, "Nope_Channel") == NULL,
           "an unknown channel is not found");

    tap_ok(cpa_valid_at(cpa, cpa->start), "valid from Start on");
    tap_ok(!cpa_valid_at(cpa, cpa->start - 1), "not valid before Start");
    tap_ok(cpa_valid_at(cpa, cpa->end - 1), "valid until just before End");
    tap_ok(!cpa_valid_at(cpa, cpa->end), "not valid at End");
}

static void test_example_cpas_together(apr_pool_t *pool)
{
    cpa_registry_t *registry = cpa_registry_make(pool);
    const char *error = NULL;
    const cpa_t *async;
    const apr_array_header_t *all;

    tap_is_int(cpa_registry_load(registry,
                                 tap_project(pool, "conf/lz-example-cpa*.xml"),
                                 pool, &error),
               0, "conf/lz-example-cpa*.xml loads as a glob");
    if (error) {
        tap_diag("%s", error);
    }
    tap_is_int(cpa_registry_count(registry), 2, "both example CPAs");
    all = cpa_all(registry);
    tap_is_int(all->nelts, 2, "cpa_all lists both");
    async = cpa_lookup(registry, LZ_CPAID "_async");
    if (!tap_ok(async != NULL, "the async CPA has its own cpaid")) {
        return;
    }
    tap_ok(strstr(async->path, "lz-example-cpa-async.xml") != NULL,
           "read from lz-example-cpa-async.xml");
    tap_is(cpa_channel(async, "LZ_RM_Channel")->sync_reply_mode, "none",
           "the async CPA has asynchronous acknowledgments");
    tap_is(cpa_channel(async, "Gemeente_RM_Channel")->sync_reply_mode,
           "none", "on both sides");
    tap_is_int(cpa_channel(async, "LZ_RM_Channel")->retries, 8,
               "with the same reliability");
}

static void test_proposed_status(apr_pool_t *pool)
{
    const char *example =
        read_text(pool, tap_project(pool, "conf/lz-example-cpa.xml"));
    cpa_registry_t *registry;
    const char *error;
    const cpa_t *cpa;

    if (!tap_ok(example != NULL, "the example CPA can be read")) {
        return;
    }
    load_text(pool, "proposed.xml",
              replace(pool, example, "cppa:value=\"agreed\"",
                      "cppa:value=\"proposed\""),
              &registry, &error);
    cpa = cpa_lookup(registry, LZ_CPAID);
    if (!tap_ok(cpa != NULL, "a proposed CPA loads")) {
        return;
    }
    tap_is(cpa->status, "proposed", "its status is proposed");
    tap_ok(!cpa_valid_at(cpa, at("2025-06-01T12:00:00Z")),
           "a proposed CPA is not valid inside its window");

    load_text(pool, "signed.xml",
              replace(pool, example, "cppa:value=\"agreed\"",
                      "cppa:value=\"signed\""),
              &registry, &error);
    cpa = cpa_lookup(registry, LZ_CPAID);
    tap_ok(cpa && cpa_valid_at(cpa, at("2025-06-01T12:00:00Z")),
           "a signed CPA is valid inside its window");
}

static void test_minimal_cpa(apr_pool_t *pool)
{
    cpa_registry_t *registry;
    const char *error;
    const cpa_t *cpa;
    const cpa_party_t *b;
    const cpa_role_t *sp;
    const cpa_channel_t *channel;

    tap_is_int(load_text(pool, "minimal.xml", minimal_cpa, &registry,
                         &error), 0, "the minimal CPA loads");
    if (error) {
        tap_diag("%s", error);
    }
    cpa = cpa_lookup(registry, "test-1");
    if (!tap_ok(cpa != NULL, "found as test-1")) {
        return;
    }
    tap_is(cpa->party[0].party_name, "A", "partyName of A");
    tap_is(cpa->party[1].party_name, "B",
           "an unqualified partyName is read too");

    channel = cpa_channel(cpa, "A_ch");
    tap_is(channel->sync_reply_mode, "none", "syncReplyMode defaults to "
           "none");
    tap_is(channel->ack_requested, "perMessage",
           "ackRequested defaults to perMessage");
    tap_is(channel->ack_signature_requested, "perMessage",
           "ackSignatureRequested defaults to perMessage");
    tap_is(channel->duplicate_elimination, "perMessage",
           "duplicateElimination defaults to perMessage");
    tap_ok(channel->actor == NULL, "no actor when absent");
    tap_is_int(channel->retries, -1, "no ReliableMessaging: retries -1");
    tap_is_int(channel->retry_interval, 0, "no ReliableMessaging: "
               "interval 0");
    tap_is_int(channel->persist_duration, 0, "no PersistDuration: 0");
    tap_is(channel->endpoint, "http://a.example/ebms", "A's endpoint");
    tap_is_int(channel->signed_required, 0,
               "non-repudiation without SenderNonRepudiation is unsigned");

    b = cpa_find_party(cpa, NULL, "222");
    tap_ok(b == &cpa->party[1], "a typeless PartyId matches type NULL, "
           "its value trimmed");
    tap_ok(cpa_find_party(cpa, "urn:osb:oin", "222") == NULL,
           "and not a typed lookup");
    sp = cpa_find_role(b, "SP", "svc", NULL);
    if (!tap_ok(sp != NULL, "a Service without type matches type NULL")) {
        return;
    }
    tap_ok(cpa_find_action(sp, "vraag", 0) != NULL, "B CanReceive vraag");
    tap_ok(cpa_find_action(sp, "antwoord", 1) != NULL,
           "a CanSend nested in CanReceive is one of B's CanSend");

    channel = cpa_channel(cpa, "B_signed");
    tap_is_int(channel->signed_required, 1, "non-repudiation required and "
               "SenderNonRepudiation present: signed");
    tap_is_int(channel->retries, 3, "Retries read with whitespace");
    tap_is_int(channel->retry_interval, 60 * SECOND, "RetryInterval PT1M");
    tap_is_int(channel->persist_duration, 10 * 60 * SECOND,
               "PersistDuration PT10M");
    tap_is(channel->sync_reply_mode, "mshSignalsOnly",
           "unqualified syncReplyMode");
    tap_ok(channel->endpoint == NULL, "a Transport without receiver has "
           "no endpoint");

    channel = cpa_default_channel(cpa, b);
    tap_is(channel ? channel->channel_id : NULL, "B_plain",
           "B's default MSH channel");
    tap_is_int(channel ? channel->signed_required : -1, 0,
               "SenderNonRepudiation without a binding requiring it: "
               "unsigned");
}

static void test_refusals(apr_pool_t *pool)
{
    const char *cpa = minimal_cpa;
    const char *other_ns = "urn:example:not-a-cpa";

    expect_refused(pool, "truncated.xml",
                   apr_pstrndup(pool, cpa, strlen(cpa) / 2),
                   "not well-formed");
    expect_refused(pool, "doctype.xml",
                   replace(pool, cpa, "<c:Coll",
                           "<!DOCTYPE x [<!ENTITY e \"boom\">]>\n<c:Coll"),
                   "DOCTYPE");
    expect_refused(pool, "namespace.xml",
                   replace(pool, cpa, "xmlns:c=\"" CPA_NS "\"",
                           apr_psprintf(pool, "xmlns:c=\"%s\"", other_ns)),
                   "not a CPA");
    expect_refused(pool, "profile.xml",
                   "<c:CollaborationProtocolProfile xmlns:c=\"" CPA_NS
                   "\"/>",
                   "CollaborationProtocolAgreement");
    expect_refused(pool, "no-cpaid.xml",
                   replace(pool, cpa, "c:cpaid=\"test-1\"", ""),
                   "no cpaid");
    expect_refused(pool, "no-status.xml",
                   replace(pool, cpa, "<c:Status c:value=\"agreed\"/>", ""),
                   "no Status");
    expect_refused(pool, "bad-status.xml",
                   replace(pool, cpa, "\"agreed\"", "\"accepted\""),
                   "not agreed, signed or proposed");
    expect_refused(pool, "no-start.xml",
                   replace(pool, cpa,
                           "<c:Start>2024-01-01T00:00:00Z</c:Start>", ""),
                   "has no Start");
    expect_refused(pool, "no-end.xml",
                   replace(pool, cpa,
                           "<c:End>2025-01-01T00:00:00Z</c:End>", ""),
                   "has no End");
    expect_refused(pool, "bad-start.xml",
                   replace(pool, cpa, "2024-01-01T00:00:00Z",
                           "2024-01-01"),
                   "Start \"2024-01-01\" is not an xsd:dateTime");
    expect_refused(pool, "end-is-start.xml",
                   replace(pool, cpa, "2025-01-01T00:00:00Z",
                           "2024-01-01T01:00:00+01:00"),
                   "End is not after Start");
    expect_refused(pool, "end-before-start.xml",
                   replace(pool, cpa, "2025-01-01T00:00:00Z",
                           "2023-12-31T00:00:00Z"),
                   "End is not after Start");
    expect_refused(pool, "one-party.xml",
                   apr_pstrcat(pool,
                               apr_pstrndup(pool, cpa,
                                            (apr_size_t)(strstr(cpa,
                                            " <c:PartyInfo partyName=\"B\"")
                                            - cpa)),
                               "</c:CollaborationProtocolAgreement>\n",
                               NULL),
                   "has 1 PartyInfo elements, not exactly two");
    expect_refused(pool, "three-parties.xml",
                   replace(pool, cpa, "</c:CollaborationProtocolAgreement>",
                           apr_pstrcat(pool, strstr(cpa,
                                       " <c:PartyInfo partyName=\"B\""),
                                       NULL)),
                   "has 3 PartyInfo elements, not exactly two");
    expect_refused(pool, "channel-id.xml",
                   replace(pool, cpa, "<c:ChannelId>A_ch</c:ChannelId>",
                           "<c:ChannelId>A_gone</c:ChannelId>"),
                   "ChannelId \"A_gone\" names no DeliveryChannel");
    expect_refused(pool, "second-channel-id.xml",
                   replace(pool, cpa, "<c:ChannelId>A_ch</c:ChannelId>",
                           "<c:ChannelId>A_ch</c:ChannelId>"
                           "<c:ChannelId>B_plain</c:ChannelId>"),
                   "ChannelId \"B_plain\" names no DeliveryChannel");
    expect_refused(pool, "doc-exchange-id.xml",
                   replace(pool, cpa, "c:docExchangeId=\"A_dx\">\n   <c:M",
                           "c:docExchangeId=\"A_gone\">\n   <c:M"),
                   "docExchangeId \"A_gone\" names no DocExchange");
    expect_refused(pool, "transport-id.xml",
                   replace(pool, cpa, "c:transportId=\"A_tr\"\n",
                           "c:transportId=\"A_gone\"\n"),
                   "transportId \"A_gone\" names no Transport");
    expect_refused(pool, "default-channel.xml",
                   replace(pool, cpa, "c:defaultMshChannelId=\"A_ch\"",
                           "c:defaultMshChannelId=\"A_gone\""),
                   "defaultMshChannelId \"A_gone\" names no "
                   "DeliveryChannel");
    expect_refused(pool, "bad-interval.xml",
                   replace(pool, cpa, "PT1M", "1 minute"),
                   "RetryInterval \"1 minute\" is not an xsd:duration");
    expect_refused(pool, "bad-retries.xml",
                   replace(pool, cpa, " 3 </c:Retries>", "-1</c:Retries>"),
                   "Retries \"-1\" is not a count");
    expect_refused(pool, "empty.xml", "", "not a CPA");
}

static void test_files_and_globs(apr_pool_t *pool)
{
    cpa_registry_t *registry = cpa_registry_make(pool);
    const char *error = NULL;
    const char *first;
    const char *second;
    const char *pattern;

    first = write_file(pool, "glob-a.xml", minimal_cpa);
    second = write_file(pool, "glob-b.xml",
                        replace(pool, minimal_cpa, "test-1", "test-2"));
    pattern = apr_pstrcat(pool, temp_dir, "/glob-*.xml", NULL);
    tap_is_int(cpa_registry_load(registry, pattern, pool, &error), 0,
               "a glob loads every file it matches");
    tap_is_int(cpa_registry_count(registry), 2, "two CPAs from the glob");
    tap_ok(cpa_lookup(registry, "test-1") && cpa_lookup(registry, "test-2"),
           "both cpaids are found");
    tap_is(cpa_lookup(registry, "test-2") ?
               cpa_lookup(registry, "test-2")->path : NULL,
           second, "each CPA remembers its own file");

    error = NULL;
    tap_is_int(cpa_registry_load(registry, first, pool, &error), -1,
               "loading a cpaid again is refused");
    tap_ok(error && strstr(error, "duplicate cpaid test-1") &&
               strstr(error, first),
           "the error names the cpaid and the file");
    tap_is_int(cpa_registry_count(registry), 2, "the registry is unchanged");

    registry = cpa_registry_make(pool);
    write_file(pool, "twice-a.xml", minimal_cpa);
    write_file(pool, "twice-b.xml", minimal_cpa);
    error = NULL;
    tap_is_int(cpa_registry_load(registry,
                                 apr_pstrcat(pool, temp_dir, "/twice-*.xml",
                                             NULL),
                                 pool, &error),
               -1, "two files with one cpaid are refused");
    tap_ok(error && strstr(error, "twice-b.xml: duplicate cpaid test-1") &&
               strstr(error, "already loaded from") &&
               strstr(error, "twice-a.xml"),
           "the error names both files");
    tap_is_int(cpa_registry_count(registry), 0,
               "a refused glob registers none of its files");

    error = NULL;
    pattern = apr_pstrcat(pool, temp_dir, "/nothing-*.xml", NULL);
    tap_is_int(cpa_registry_load(registry, pattern, pool, &error), -1,
               "a glob that matches nothing is refused");
    tap_ok(error && strstr(error, pattern) &&
               strstr(error, "no file matched"),
           "the error names the pattern");

    error = NULL;
    pattern = apr_pstrcat(pool, temp_dir, "/missing.xml", NULL);
    tap_is_int(cpa_registry_load(registry, pattern, pool, &error), -1,
               "a missing file is refused");
    tap_ok(error && strstr(error, pattern) && strstr(error, "cannot open"),
           "the error names the file");

    error = NULL;
    tap_is_int(cpa_registry_load(registry, temp_dir, pool, &error), -1,
               "a directory is refused");
    tap_ok(error && strstr(error, "not a regular file"),
           "as not a regular file");
}

static void expect_duration(const char *text, long long micros)
{
    apr_interval_time_t value = -1;

    tap_is_int(cpa_parse_duration(text, &value), 0, "duration %s parses",
               text);
    tap_is_int(value, micros, "duration %s", text);
}

static void expect_bad_duration(const char *text)
{
    apr_interval_time_t value = 0;

    tap_is_int(cpa_parse_duration(text, &value), -1,
               "duration \"%s\" is refused", text ? text : "(null)");
}

static void test_durations(void)
{
    apr_interval_time_t value = 0;

    tap_ok(cpa_parse_duration("\n\tPT5M\r\n", &value) == 0 &&
               value == 5 * 60 * SECOND,
           "a duration inside XML whitespace (newlines, tabs) parses");
    expect_duration("PT5M", 5 * 60 * SECOND);
    expect_duration("PT30M", 30 * 60 * SECOND);
    expect_duration("PT3H", 3 * HOUR);
    expect_duration("P1D", DAY);
    expect_duration("P1DT2H", DAY + 2 * HOUR);
    expect_duration("PT36H", 36 * HOUR);
    expect_duration("P1M", 30 * DAY);
    expect_duration("PT1M", 60 * SECOND);
    expect_duration("P1Y", 365 * DAY);
    expect_duration("P1Y2M3DT4H5M6.5S",
                    (365 + 60 + 3) * DAY + 4 * HOUR + 5 * 60 * SECOND +
                        6500000);
    expect_duration("PT0S", 0);
    expect_duration("PT0.000001S", 1);
    expect_duration("PT1.0000009S", SECOND);
    expect_duration(" PT5M ", 5 * 60 * SECOND);

    expect_bad_duration(NULL);
    expect_bad_duration("");
    expect_bad_duration("P");
    expect_bad_duration("PT");
    expect_bad_duration("P1DT");
    expect_bad_duration("5M");
    expect_bad_duration("-P1D");
    expect_bad_duration("P1H");
    expect_bad_duration("PT1D");
    expect_bad_duration("P1D1Y");
    expect_bad_duration("PT1M1M");
    expect_bad_duration("P1.5D");
    expect_bad_duration("PT1.S");
    expect_bad_duration("PT.5S");
    expect_bad_duration("PT5M x");
    expect_bad_duration("pt5m");
    expect_bad_duration("P999999999999999999Y");
    expect_bad_duration("P300000Y");
}

static void expect_datetime(const char *text, long long seconds,
                            long long micros)
{
    apr_time_t value = -1;

    tap_is_int(cpa_parse_datetime(text, &value), 0, "dateTime %s parses",
               text);
    tap_is_int(value, seconds * SECOND + micros, "dateTime %s", text);
}

static void expect_bad_datetime(const char *text)
{
    apr_time_t value = 0;

    tap_is_int(cpa_parse_datetime(text, &value), -1,
               "dateTime \"%s\" is refused", text ? text : "(null)");
}

static void test_datetimes(void)
{
    expect_datetime("1970-01-01T00:00:00Z", 0, 0);
    expect_datetime("2024-01-01T00:00:00Z", UTC_2024_01_01, 0);
    expect_datetime("2011-01-01T00:00:00Z", UTC_2011_01_01, 0);
    expect_datetime("2024-01-01T00:00:00", UTC_2024_01_01, 0);
    expect_datetime("2024-01-01T01:00:00+01:00", UTC_2024_01_01, 0);
    expect_datetime("2023-12-31T18:30:00-05:30", UTC_2024_01_01, 0);
    expect_datetime("2024-01-01T00:00:00+00:00", UTC_2024_01_01, 0);
    expect_datetime("2024-01-01T14:00:00+14:00", UTC_2024_01_01, 0);
    expect_datetime("2024-01-01T00:00:00.123Z", UTC_2024_01_01, 123000);
    expect_datetime("2024-01-01T00:00:00.1234567Z", UTC_2024_01_01,
                    123456);
    expect_datetime("2023-12-31T24:00:00Z", UTC_2024_01_01, 0);
    expect_datetime("2024-02-29T00:00:00Z", UTC_2024_01_01 + 59 * 86400LL,
                    0);
    expect_datetime("2000-02-29T12:00:00Z", 951825600LL, 0);
    expect_datetime("2034-01-01T00:00:00Z", UTC_2034_01_01, 0);
    expect_datetime(" 2024-01-01T00:00:00Z ", UTC_2024_01_01, 0);
    expect_datetime("1969-12-31T23:59:59Z", -1, 0);

    expect_bad_datetime(NULL);
    expect_bad_datetime("");
    expect_bad_datetime("2024-01-01");
    expect_bad_datetime("2024-01-01T00:00Z");
    expect_bad_datetime("2024-1-01T00:00:00Z");
    expect_bad_datetime("2024-13-01T00:00:00Z");
    expect_bad_datetime("2024-00-01T00:00:00Z");
    expect_bad_datetime("2023-02-29T00:00:00Z");
    expect_bad_datetime("1900-02-29T00:00:00Z");
    expect_bad_datetime("2024-04-31T00:00:00Z");
    expect_bad_datetime("2024-01-01T24:00:01Z");
    expect_bad_datetime("2024-01-01T23:60:00Z");
    expect_bad_datetime("2024-01-01T23:59:60Z");
    expect_bad_datetime("2024-01-01T00:00:00+15:00");
    expect_bad_datetime("2024-01-01T00:00:00+14:30");
    expect_bad_datetime("2024-01-01T00:00:00+0100");
    expect_bad_datetime("2024-01-01T00:00:00z");
    expect_bad_datetime("2024-01-01T00:00:00.Z");
    expect_bad_datetime("2024-01-01T00:00:00Z trailing");
    expect_bad_datetime("0000-01-01T00:00:00Z");
    expect_bad_datetime("-2024-01-01T00:00:00Z");
    expect_bad_datetime("2024-01-01 00:00:00Z");
}

/* The ebms-core CPAs: every one loads on its own, and what the binding
 * reads from them is what the files say. */
static void test_real_cpas(apr_pool_t *pool)
{
    static const char *files[] = {
        "cpa-cv-http.xml",
        "cpa-cv-https.xml",
        "cpaStubEBF.be.http.signed.xml",
        "cpaStubEBF.be.http.unsigned.sync.xml",
        "cpaStubEBF.be.http.unsigned.xml",
        "cpaStubEBF.be.https.signed.sync.xml",
        "cpaStubEBF.be.https.signed.xml",
        "cpaStubEBF.rm.http.signed-sha256.xml",
        "cpaStubEBF.rm.http.signed.xml",
        "cpaStubEBF.rm.http.unsigned.sync.xml",
        "cpaStubEBF.rm.http.unsigned.xml",
        "cpaStubEBF.rm.https.signed-sha256.xml",
        "cpaStubEBF.rm.https.signed.ackSigned.xml",
        "cpaStubEBF.rm.https.signed.encrypted.xml",
        "cpaStubEBF.rm.https.signed.sync.xml",
        "cpaStubEBF.rm.https.signed.xml",
    };
    const char *dir = tap_shared(pool, "data/examples/ebms/ebms-core/cpas");
    cpa_registry_t *registry;
    const char *error;
    const cpa_t *cpa;
    const cpa_party_t *party;
    const cpa_role_t *role;
    const cpa_action_t *action;
    const cpa_channel_t *channel;

    if (dir == NULL) {
        tap_diag("skipped: ../shared ebms-core CPAs are not present");
        return;
    }

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        registry = cpa_registry_make(pool);
        error = NULL;
        tap_is_int(cpa_registry_load(registry,
                                     apr_pstrcat(pool, dir, "/", files[i],
                                                 NULL),
                                     pool, &error),
                   0, "ebms-core %s loads", files[i]);
        if (error) {
            tap_diag("%s", error);
        }
    }

    registry = cpa_registry_make(pool);
    error = NULL;
    tap_is_int(cpa_registry_load(registry,
                                 apr_pstrcat(pool, dir, "/*.xml", NULL),
                                 pool, &error),
               -1, "the whole directory is refused: the CV CPAs share "
               "a cpaid");
    tap_ok(error && strstr(error, "duplicate cpaid CPAID_EchoService-1-0"),
           "named in the error");
    tap_is_int(cpa_registry_count(registry), 0, "and nothing registered");

    registry = cpa_registry_make(pool);
    cpa_registry_load(registry,
                      apr_pstrcat(pool, dir, "/cpaStubEBF.rm.*.xml", NULL),
                      pool, &error);
    tap_is_int(cpa_registry_count(registry), 9,
               "the nine rm stubs load as one glob");

    cpa = cpa_lookup(registry, "cpaStubEBF.rm.http.unsigned.sync");
    if (!tap_ok(cpa != NULL, "rm.http.unsigned.sync is found")) {
        return;
    }
    tap_is_int(cpa->start, UTC_2011_01_01 * SECOND, "its Start");
    party = cpa_find_party(cpa, OIN_TYPE, "00000000000000000001");
    tap_is(party ? party->party_name : NULL, "Overheid", "party Overheid");
    role = cpa_find_role(party, "OVERHEID", "osb:afleveren:1.1$1.0",
                         SERVICES_TYPE);
    action = cpa_find_action(role, "afleveren", 0);
    tap_ok(action != NULL, "Overheid CanReceive afleveren");
    channel = action ? cpa_channel(cpa, action->channel_id) : NULL;
    tap_is(channel ? channel->channel_id : NULL,
           "OVERHEID_defaultDeliveryChannel_ProfileReliableMessaging",
           "over its reliable channel");
    if (channel) {
        tap_is(channel->sync_reply_mode, "signalsAndResponse",
               "syncReplyMode as in the file");
        tap_is_int(channel->retries, 5, "Retries 5");
        tap_is_int(channel->retry_interval, 5 * 60 * SECOND,
                   "RetryInterval PT5M");
        tap_is_int(channel->persist_duration, 30 * 60 * SECOND,
                   "PersistDuration PT30M");
        tap_is(channel->endpoint, "http://localhost:8088/ebms",
               "Overheid's endpoint");
    }
    channel = cpa_default_channel(cpa, party);
    tap_is_int(channel ? channel->retries : 0, -1,
               "its default MSH channel is best effort");

    cpa = cpa_lookup(registry, "cpaStubEBF.rm.https.signed");
    if (!tap_ok(cpa != NULL, "rm.https.signed is found")) {
        return;
    }
    channel = cpa_channel(cpa,
                          "DIGIPOORT_defaultDeliveryChannel_"
                          "ProfileReliableMessagingSigned");
    tap_is_int(channel ? channel->signed_required : -1, 1,
               "its reliable channel must be signed");
    channel = cpa_default_channel(cpa, &cpa->party[0]);
    tap_is_int(channel ? channel->signed_required : -1, 0,
               "its signal channel, used by no action, is not");

    registry = cpa_registry_make(pool);
    cpa_registry_load(registry,
                      apr_pstrcat(pool, dir, "/cpa-cv-https.xml", NULL),
                      pool, &error);
    cpa = cpa_lookup(registry, "CPAID_EchoService-1-0");
    if (!tap_ok(cpa != NULL, "cpa-cv-https is found")) {
        return;
    }
    party = cpa_find_party(cpa, "urn:cv:oin", "00000000000000000000");
    role = cpa_find_role(party, "ComplianceVoorziening", "EchoService$1.0",
                         "urn:cv:be:signed:services");
    action = cpa_find_action(role, "EchoResponse", 1);
    tap_is(action ? action->channel_id : NULL,
           "ComplianceVoorziening_BE_Signed_Channel",
           "the service type picks the role among equal names");
    channel = action ? cpa_channel(cpa, action->channel_id) : NULL;
    tap_is_int(channel ? channel->signed_required : -1, 1,
               "the signed echo channel must be signed");
    role = cpa_find_role(party, "ComplianceVoorziening", "EchoService$1.0",
                         "urn:cv:be:services");
    action = cpa_find_action(role, "EchoResponse", 1);
    channel = action ? cpa_channel(cpa, action->channel_id) : NULL;
    tap_is_int(channel ? channel->signed_required : -1, 0,
               "the plain echo channel is not");
}

int main(void)
{
    apr_pool_t *pool = tap_start();
    const char *tmp = NULL;

    apr_temp_dir_get(&tmp, pool);
    temp_dir = apr_psprintf(pool, "%s/test_cpa.%ld", tmp ? tmp : "/tmp",
                            (long)getpid());
    if (apr_dir_make(temp_dir, APR_FPROT_OS_DEFAULT, pool) != APR_SUCCESS) {
        tap_skip_all("cannot make a temporary directory");
    }

    test_example_cpa(pool);
    test_example_cpas_together(pool);
    test_proposed_status(pool);
    test_minimal_cpa(pool);
    test_refusals(pool);
    test_files_and_globs(pool);
    test_durations();
    test_datetimes();
    test_real_cpas(pool);

    remove_temp_dir(pool);
    return tap_done();
}

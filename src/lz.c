/* lz.c - reads the fields LZ needs from a ZKN:zakLk01 and applies the LZ
 * rules of the specification (DESIGN.md section 4) that the StUF schema
 * cannot express. Failure texts say what is wrong, never the value. */
#include "lz.h"

#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <libxml/xmlstring.h>

#define FIELD_MUTATIESOORT    "parameters.mutatiesoort"
#define FIELD_OBJECT          "object"
#define FIELD_IDENTIFICATIE   "object.identificatie"
#define FIELD_OMSCHRIJVING    "object.omschrijving"
#define FIELD_TOELICHTING     "object.toelichting"
#define FIELD_STARTDATUM      "object.startdatum"
#define FIELD_EINDDATUM_GEPLAND "object.einddatumGepland"
#define FIELD_EINDDATUM       "object.einddatum"
#define FIELD_HEEFT           "object.heeft"
#define FIELD_DATUM_STATUS    "object.heeft.datumStatusGezet"
#define FIELD_STATUSTYPE      "object.heeft.gerelateerde.omschrijving"
#define FIELD_STATUS_TOELICHTING "object.heeft.toelichting"
#define FIELD_VERWIJZING      "object.heeft.extraElementen.verwijzing"
#define FIELD_INITIATOR       "object.heeftAlsInitiator"
#define FIELD_BSN \
    "object.heeftAlsInitiator.gerelateerde.natuurlijkPersoon.inp.bsn"

#define LZ_CODE "StUF058"
#define LZ_DEFAULT_SKEW apr_time_from_sec(300)

static const struct {
    unsigned bit;
    const char *name;
} optional_fields[] = {
    {LZ_FIELD_OMSCHRIJVING, FIELD_OMSCHRIJVING},
    {LZ_FIELD_TOELICHTING, FIELD_TOELICHTING},
    {LZ_FIELD_STARTDATUM, FIELD_STARTDATUM},
    {LZ_FIELD_EINDDATUM_GEPLAND, FIELD_EINDDATUM_GEPLAND},
    {LZ_FIELD_STATUSTYPE, FIELD_STATUSTYPE},
    {LZ_FIELD_STATUS_TOELICHTING, FIELD_STATUS_TOELICHTING},
    {LZ_FIELD_VERWIJZING, FIELD_VERWIJZING},
};

#define OPTIONAL_FIELD_COUNT \
    (sizeof(optional_fields) / sizeof(optional_fields[0]))

unsigned lz_field_from_name(const char *name)
{
    char normal[128];
    apr_size_t length = 0;
    const char *p;
    apr_size_t i;

    if (!name) {
        return 0;
    }

    /* Operators copy the spec ("object . heeft . toelichting") or the XML
     * path ("object/heeft/toelichting"): drop spaces, read "/" as ".". */
    for (p = name; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            continue;
        }
        if (length + 1 >= sizeof(normal)) {
            return 0;
        }
        normal[length++] = *p == '/' ? '.' : *p;
    }
    normal[length] = '\0';
    for (i = 0; i < OPTIONAL_FIELD_COUNT; i++) {
        const char *full = optional_fields[i].name;

        if (strcasecmp(normal, full) == 0
            || strcasecmp(normal, full + strlen("object.")) == 0) {
            return optional_fields[i].bit;
        }
    }
    return 0;
}

const char *lz_field_name(unsigned field)
{
    apr_size_t i;

    for (i = 0; i < OPTIONAL_FIELD_COUNT; i++) {
        if (optional_fields[i].bit == field) {
            return optional_fields[i].name;
        }
    }
    return NULL;
}

/* ---- reading the tree ---- */

static int is_element(const xmlNode *node, const char *ns, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && node->ns
           && node->ns->href
           && strcmp((const char *)node->ns->href, ns) == 0
           && strcmp((const char *)node->name, name) == 0;
}

static const xmlNode *first_child(const xmlNode *parent, const char *ns,
                                  const char *name)
{
    const xmlNode *child;

    for (child = parent ? parent->children : NULL; child;
         child = child->next) {
        if (is_element(child, ns, name)) {
            return child;
        }
    }
    return NULL;
}

/* StUF says "no value" with xsi:nil="true" or a StUF:noValue attribute;
 * either way LZ has nothing to read. */
static int has_no_value(const xmlNode *node)
{
    xmlNode *writable = (xmlNode *)node;
    xmlChar *nil;
    int result;

    if (xmlHasNsProp(writable, BAD_CAST "noValue", BAD_CAST LZ_NS_STUF)) {
        return 1;
    }
    nil = xmlGetNsProp(writable, BAD_CAST "nil", BAD_CAST LZ_NS_XSI);
    result = nil && (xmlStrEqual(nil, BAD_CAST "true")
                     || xmlStrEqual(nil, BAD_CAST "1"));
    xmlFree(nil);
    return result;
}

static const char *element_text(const xmlNode *node, apr_pool_t *pool)
{
    xmlChar *content;
    const char *text;

    if (!node || has_no_value(node)) {
        return NULL;
    }
    content = xmlNodeGetContent((xmlNode *)node);
    text = apr_pstrdup(pool, content ? (const char *)content : "");
    xmlFree(content);
    return text;
}

static const char *child_text(const xmlNode *parent, const char *ns,
                              const char *name, apr_pool_t *pool)
{
    return element_text(first_child(parent, ns, name), pool);
}

static const char *attribute(const xmlNode *node, const char *ns,
                             const char *name, apr_pool_t *pool)
{
    xmlChar *value;
    const char *text;

    value = xmlGetNsProp((xmlNode *)node, BAD_CAST name, BAD_CAST ns);
    if (!value) {
        return NULL;
    }
    text = apr_pstrdup(pool, (const char *)value);
    xmlFree(value);
    return text;
}

/* Relations: a nil relation (xsi:nil, StUF:noValue) says there is none,
 * so it is not counted and not read. */
static int count_relations(const xmlNode *parent, const char *name,
                           const xmlNode **first)
{
    const xmlNode *child;
    int count = 0;

    *first = NULL;
    for (child = parent->children; child; child = child->next) {
        if (is_element(child, LZ_NS_ZKN, name) && !has_no_value(child)) {
            if (count++ == 0) {
                *first = child;
            }
        }
    }
    return count;
}

/* The first StUF:extraElement naam="verwijzing" with a value. */
static const char *find_verwijzing(const xmlNode *parent, apr_pool_t *pool)
{
    const xmlNode *extra = first_child(parent, LZ_NS_STUF, "extraElementen");
    const xmlNode *child;

    for (child = extra ? extra->children : NULL; child; child = child->next) {
        xmlChar *naam;
        int match;

        if (!is_element(child, LZ_NS_STUF, "extraElement")) {
            continue;
        }
        naam = xmlGetNoNsProp((xmlNode *)child, BAD_CAST "naam");
        match = naam && xmlStrEqual(naam, BAD_CAST "verwijzing");
        xmlFree(naam);
        if (match && !has_no_value(child)) {
            return element_text(child, pool);
        }
    }
    return NULL;
}

int lz_extract(const xmlNode *zaklk01, apr_pool_t *pool,
               lz_kennisgeving_t *out, sz_report_t *report)
{
    const xmlNode *object = NULL;
    const xmlNode *heeft;
    const xmlNode *initiator;
    const xmlNode *child;
    const char *on_status;
    const char *on_object;

    memset(out, 0, sizeof(*out));
    if (!is_element(zaklk01, LZ_NS_ZKN, "zakLk01")) {
        return -1;
    }

    out->mutatiesoort = child_text(first_child(zaklk01, LZ_NS_ZKN,
                                               "parameters"),
                                   LZ_NS_STUF, "mutatiesoort", pool);
    for (child = zaklk01->children; child; child = child->next) {
        if (is_element(child, LZ_NS_ZKN, "object")) {
            if (out->object_count++ == 0) {
                object = child;
            }
        }
    }
    if (!object) {
        return 0;
    }

    /* With more than one object lz_check refuses the message; we still
     * read the first so that all other failures can be reported too. */
    out->verwerkingssoort = attribute(object, LZ_NS_STUF, "verwerkingssoort",
                                      pool);
    out->identificatie = child_text(object, LZ_NS_ZKN, "identificatie", pool);
    out->omschrijving = child_text(object, LZ_NS_ZKN, "omschrijving", pool);
    out->toelichting = child_text(object, LZ_NS_ZKN, "toelichting", pool);
    out->startdatum = child_text(object, LZ_NS_ZKN, "startdatum", pool);
    out->einddatum_gepland = child_text(object, LZ_NS_ZKN, "einddatumGepland",
                                        pool);
    out->einddatum = child_text(object, LZ_NS_ZKN, "einddatum", pool);

    out->status_count = count_relations(object, "heeft", &heeft);
    if (heeft) {
        out->datum_status_gezet = child_text(heeft, LZ_NS_ZKN,
                                             "datumStatusGezet", pool);
        out->status_omschrijving = child_text(
            first_child(heeft, LZ_NS_ZKN, "gerelateerde"), LZ_NS_ZKN,
            "omschrijving", pool);
        out->status_toelichting = child_text(heeft, LZ_NS_ZKN, "toelichting",
                                             pool);
    }

    /* Senders put the verwijzing on the status (as the spec says) or on
     * the zaak; accept both, but not two that disagree. */
    on_status = heeft ? find_verwijzing(heeft, pool) : NULL;
    on_object = find_verwijzing(object, pool);
    out->verwijzing = on_status ? on_status : on_object;
    if (on_status && on_object && strcmp(on_status, on_object) != 0) {
        sz_report_add(report, LZ_CODE, FIELD_VERWIJZING,
                      "twee verschillende verwijzingen (op object en op "
                      "heeft)");
    }

    out->initiator_count = count_relations(object, "heeftAlsInitiator",
                                           &initiator);
    if (initiator) {
        const xmlNode *persoon = first_child(
            first_child(initiator, LZ_NS_ZKN, "gerelateerde"), LZ_NS_ZKN,
            "natuurlijkPersoon");

        out->bsn = child_text(persoon, LZ_NS_BG, "inp.bsn", pool);
    }
    return 0;
}

/* ---- building blocks ---- */

static int all_digits(const char *s, apr_size_t length)
{
    apr_size_t i;

    for (i = 0; i < length; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static int digits_value(const char *s, int count)
{
    int value = 0;
    int i;

    for (i = 0; i < count; i++) {
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

static const char *bsn_problem(const char *bsn)
{
    int sum = 0;
    int i;

    if (strlen(bsn) != 9 || !all_digits(bsn, 9)) {
        return "geen 9 cijfers";
    }
    if (strcmp(bsn, "000000000") == 0) {
        return "alleen nullen";
    }

    /* 11-proef: weights 9..2 and -1 for the last digit. */
    for (i = 0; i < 8; i++) {
        sum += (9 - i) * (bsn[i] - '0');
    }
    sum -= bsn[8] - '0';
    return sum % 11 == 0 ? NULL : "11-proef faalt";
}

int lz_bsn_valid(const char *bsn)
{
    return bsn && bsn_problem(bsn) == NULL;
}

static int days_in_month(int year, int month)
{
    static const int lengths[12] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : lengths[month - 1];
}

static int real_date(int year, int month, int day)
{
    return year >= 1 && month >= 1 && month <= 12 && day >= 1
           && day <= days_in_month(year, month);
}

int lz_date_valid(const char *yyyymmdd)
{
    if (!yyyymmdd || strlen(yyyymmdd) != 8 || !all_digits(yyyymmdd, 8)) {
        return 0;
    }
    return real_date(digits_value(yyyymmdd, 4),
                     digits_value(yyyymmdd + 4, 2),
                     digits_value(yyyymmdd + 6, 2));
}

typedef struct {
    int year, month, day, hour, minute, second, millisecond;
} stamp_t;

/* Reads a StUF Tijdstip of min_digits..17 digits. StUF lets a sender
 * leave off trailing digits it does not know, so we pad with zeros. */
static int read_stamp(const char *digits, apr_size_t min_digits,
                      stamp_t *stamp)
{
    char padded[18];
    apr_size_t length;

    if (!digits) {
        return -1;
    }
    length = strlen(digits);
    if (length < min_digits || length > 17 || !all_digits(digits, length)) {
        return -1;
    }
    memset(padded, '0', 17);
    memcpy(padded, digits, length);
    padded[17] = '\0';
    stamp->year = digits_value(padded, 4);
    stamp->month = digits_value(padded + 4, 2);
    stamp->day = digits_value(padded + 6, 2);
    stamp->hour = digits_value(padded + 8, 2);
    stamp->minute = digits_value(padded + 10, 2);
    stamp->second = digits_value(padded + 12, 2);
    stamp->millisecond = digits_value(padded + 14, 3);
    if (!real_date(stamp->year, stamp->month, stamp->day)
        || stamp->hour > 23 || stamp->minute > 59 || stamp->second > 59) {
        return -1;
    }
    return 0;
}

int lz_timestamp_valid(const char *digits)
{
    stamp_t stamp;

    return read_stamp(digits, 12, &stamp) == 0;
}

int lz_timestamp_to_time(const char *digits, const sz_tz_t *zone,
                         apr_time_t *out)
{
    stamp_t stamp;
    apr_int64_t seconds;

    if (read_stamp(digits, 8, &stamp) != 0) {
        return -1;
    }
    seconds = sz_tz_local_to_utc(zone, stamp.year, stamp.month, stamp.day,
                                 stamp.hour, stamp.minute, stamp.second);
    *out = apr_time_from_sec(seconds)
           + (apr_time_t)stamp.millisecond * 1000;
    return 0;
}

static int is_ascii_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
           || (c >= 'a' && c <= 'z');
}

static const char *identificatie_problem(const char *identificatie)
{
    long characters = sz_utf8_length(identificatie);
    const char *p;

    if (characters < 0) {
        return "geen geldige UTF-8";
    }
    if (characters < 5 || characters > 40) {
        return "moet 5 tot 40 tekens lang zijn";
    }
    if (!all_digits(identificatie, 4)) {
        return "eerste 4 tekens zijn geen gemeentecode (4 cijfers)";
    }

    /* The spec allows "alfanumerieke tekens m.u.v. diacrieten": a byte
     * above 0x7F is always part of a non-ASCII character. */
    for (p = identificatie + 4; *p; p++) {
        if (!is_ascii_alnum(*p)) {
            return "na de gemeentecode alleen letters en cijfers zonder "
                   "diacrieten";
        }
    }
    return NULL;
}

int lz_identificatie_valid(const char *identificatie)
{
    return identificatie && identificatie_problem(identificatie) == NULL;
}

int lz_url_valid(const char *url)
{
    const char *host;
    const char *p;

    if (!url) {
        return 0;
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        host = url + 8;
    }
    else if (strncasecmp(url, "http://", 7) == 0) {
        host = url + 7;
    }
    else {
        return 0;
    }
    for (p = url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7F) {
            return 0;
        }
    }
    return *host != '\0' && *host != '/' && *host != '?' && *host != '#'
           && *host != ':' && *host != '@';
}

const char *lz_status_key(const char *datum_status_gezet, apr_pool_t *pool)
{
    apr_size_t length;
    char *key;

    if (!datum_status_gezet) {
        return NULL;
    }
    length = strlen(datum_status_gezet);
    if (length < 8 || length > 17 || !all_digits(datum_status_gezet, length)) {
        return NULL;
    }
    key = apr_palloc(pool, 18);
    memset(key, '0', 17);
    memcpy(key, datum_status_gezet, length);
    key[17] = '\0';
    return key;
}

const char *lz_gemeentecode(const char *identificatie, apr_pool_t *pool)
{
    if (!identificatie || strlen(identificatie) < 4
        || !all_digits(identificatie, 4)) {
        return NULL;
    }
    return apr_pstrndup(pool, identificatie, 4);
}

/* ---- the rules ---- */

static int is_blank(const char *s)
{
    for (; *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') {
            return 0;
        }
    }
    return 1;
}

/* Reports a missing or empty field when it is mandatory. Returns true
 * when the field has content to check further. */
static int check_present(const char *value, int mandatory, const char *field,
                         sz_report_t *report)
{
    if (value && !is_blank(value)) {
        return 1;
    }
    if (mandatory) {
        sz_report_add(report, LZ_CODE, field, value ? "is leeg"
                                                    : "ontbreekt");
    }
    return 0;
}

static int is_mandatory(const lz_options_t *options, unsigned field)
{
    return (options->optional & field) == 0;
}

static void check_text(const char *value, long max_chars, int mandatory,
                       const char *field, sz_report_t *report)
{
    long characters;

    if (!check_present(value, mandatory, field, report)) {
        return;
    }
    characters = sz_utf8_length(value);
    if (characters < 0) {
        sz_report_add(report, LZ_CODE, field, "geen geldige UTF-8");
    }
    else if (characters > max_chars) {
        sz_report_add(report, LZ_CODE, field, "meer dan %ld tekens",
                      max_chars);
    }
}

static void check_date(const char *value, int mandatory, const char *field,
                       sz_report_t *report)
{
    if (check_present(value, mandatory, field, report)
        && !lz_date_valid(value)) {
        sz_report_add(report, LZ_CODE, field,
                      "geen geldige datum (JJJJMMDD)");
    }
}

/* Only a known one-letter code is named in a failure: anything else
 * could be payload. */
static int is_code_letter(const char *value, const char *allowed)
{
    return value && strlen(value) == 1 && strchr(allowed, value[0]) != NULL;
}

static void check_mutatie(const lz_kennisgeving_t *k, sz_report_t *report)
{
    if (!check_present(k->mutatiesoort, 1, FIELD_MUTATIESOORT, report)) {
        return;
    }
    if (strcmp(k->mutatiesoort, "T") == 0) {
        return;
    }
    if (is_code_letter(k->mutatiesoort, "WVCF")) {
        sz_report_add(report, LZ_CODE, FIELD_MUTATIESOORT,
                      "mutatiesoort %s wordt niet ondersteund, alleen T",
                      k->mutatiesoort);
    }
    else {
        sz_report_add(report, LZ_CODE, FIELD_MUTATIESOORT,
                      "ongeldige mutatiesoort, alleen T wordt ondersteund");
    }
}

static void check_object(const lz_kennisgeving_t *k, sz_report_t *report)
{
    if (k->object_count != 1) {
        sz_report_add(report, LZ_CODE, FIELD_OBJECT,
                      "precies 1 object verwacht, %d ontvangen",
                      k->object_count);
    }
    if (k->object_count == 0) {
        return;
    }

    /* StUF 03.01 Tabel 5.3: mutatiesoort T asks verwerkingssoort T. */
    if (!k->verwerkingssoort) {
        sz_report_add(report, LZ_CODE, FIELD_OBJECT,
                      "StUF:verwerkingssoort ontbreekt");
    }
    else if (strcmp(k->verwerkingssoort, "T") != 0) {
        if (is_code_letter(k->verwerkingssoort, "VWEIRSO")) {
            sz_report_add(report, LZ_CODE, FIELD_OBJECT,
                          "StUF:verwerkingssoort %s, verwacht T",
                          k->verwerkingssoort);
        }
        else {
            sz_report_add(report, LZ_CODE, FIELD_OBJECT,
                          "ongeldige StUF:verwerkingssoort, verwacht T");
        }
    }
}

static void check_datum_status_gezet(const lz_kennisgeving_t *k,
                                     const lz_options_t *options,
                                     apr_time_t now, sz_report_t *report)
{
    const char *value = k->datum_status_gezet;
    apr_size_t length;
    apr_time_t when;

    if (!check_present(value, 1, FIELD_DATUM_STATUS, report)) {
        return;
    }
    length = strlen(value);
    if (length < 12 || length > 17 || !all_digits(value, length)) {
        sz_report_add(report, LZ_CODE, FIELD_DATUM_STATUS,
                      "moet 12 tot 17 cijfers zijn "
                      "(JJJJMMDDUUMM[SS[mmm]])");
        return;
    }
    if (!lz_timestamp_valid(value)
        || lz_timestamp_to_time(value, options->zone, &when) != 0) {
        sz_report_add(report, LZ_CODE, FIELD_DATUM_STATUS,
                      "geen geldige datum en tijd");
        return;
    }
    if (when > now + options->skew) {
        sz_report_add(report, LZ_CODE, FIELD_DATUM_STATUS,
                      "ligt in de toekomst (tijdzone %s)",
                      sz_tz_name(options->zone));
    }
}

static void check_status(const lz_kennisgeving_t *k,
                         const lz_options_t *options, apr_time_t now,
                         sz_report_t *report)
{
    if (k->status_count != 1) {
        sz_report_add(report, LZ_CODE, FIELD_HEEFT,
                      "precies 1 status per kennisgeving verwacht, "
                      "%d ontvangen", k->status_count);
    }

    /* Without a status there is nothing more to say about its fields. */
    if (k->status_count > 0) {
        check_datum_status_gezet(k, options, now, report);
        check_text(k->status_omschrijving, 80,
                   is_mandatory(options, LZ_FIELD_STATUSTYPE),
                   FIELD_STATUSTYPE, report);
        check_text(k->status_toelichting, 1000,
                   is_mandatory(options, LZ_FIELD_STATUS_TOELICHTING),
                   FIELD_STATUS_TOELICHTING, report);
    }

    if (check_present(k->verwijzing,
                      k->status_count > 0
                          && is_mandatory(options, LZ_FIELD_VERWIJZING),
                      FIELD_VERWIJZING, report)
        && !lz_url_valid(k->verwijzing)) {
        sz_report_add(report, LZ_CODE, FIELD_VERWIJZING,
                      "geen geldige http(s)-URL");
    }
}

static void check_initiator(const lz_kennisgeving_t *k, sz_report_t *report)
{
    const char *problem;

    if (k->initiator_count != 1) {
        sz_report_add(report, LZ_CODE, FIELD_INITIATOR,
                      "precies 1 initiator verwacht, %d ontvangen",
                      k->initiator_count);
        return;
    }
    if (!k->bsn) {
        sz_report_add(report, LZ_CODE, FIELD_BSN,
                      "ontbreekt (initiator moet een natuurlijk persoon "
                      "met BSN zijn)");
        return;
    }
    problem = bsn_problem(k->bsn);
    if (problem) {
        sz_report_add(report, LZ_CODE, FIELD_BSN, "%s", problem);
    }
}

int lz_check(const lz_kennisgeving_t *k, const lz_options_t *options,
             apr_time_t now, sz_report_t *report)
{
    lz_options_t defaults = {0, NULL, LZ_DEFAULT_SKEW};
    int before = sz_report_count(report);
    const char *problem;

    if (!options) {
        options = &defaults;
    }

    check_mutatie(k, report);
    check_object(k, report);
    if (k->object_count == 0) {
        return sz_report_count(report) - before;
    }

    if (check_present(k->identificatie, 1, FIELD_IDENTIFICATIE, report)
        && (problem = identificatie_problem(k->identificatie)) != NULL) {
        sz_report_add(report, LZ_CODE, FIELD_IDENTIFICATIE, "%s", problem);
    }
    check_text(k->omschrijving, 80,
               is_mandatory(options, LZ_FIELD_OMSCHRIJVING),
               FIELD_OMSCHRIJVING, report);
    check_text(k->toelichting, 1000,
               is_mandatory(options, LZ_FIELD_TOELICHTING),
               FIELD_TOELICHTING, report);
    check_date(k->startdatum, is_mandatory(options, LZ_FIELD_STARTDATUM),
               FIELD_STARTDATUM, report);
    check_date(k->einddatum_gepland,
               is_mandatory(options, LZ_FIELD_EINDDATUM_GEPLAND),
               FIELD_EINDDATUM_GEPLAND, report);
    check_date(k->einddatum, 0, FIELD_EINDDATUM, report);

    check_status(k, options, now, report);
    check_initiator(k, report);
    return sz_report_count(report) - before;
}

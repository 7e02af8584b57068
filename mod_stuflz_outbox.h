/* mod_stuflz_outbox.h - what mod_stuflz.c needs of the delivery glue in
 * mod_stuflz_outbox.c: its directives (one macro for the command table)
 * and one call that registers its hooks. */
#ifndef MOD_STUFLZ_OUTBOX_H
#define MOD_STUFLZ_OUTBOX_H

#include "httpd.h"
#include "http_config.h"

#include "store.h"

const char *stuflz_outbox_set_path(cmd_parms *cmd, void *dir,
                                   const char *arg);
const char *stuflz_outbox_set_number(cmd_parms *cmd, void *dir,
                                     const char *arg);

#define STUFLZ_OUTBOX_COMMANDS \
    AP_INIT_TAKE1("StufLZClientCertificate", stuflz_outbox_set_path, \
                  "certificate", RSRC_CONF, \
                  "PEM file with LZ's client certificate for delivery"), \
    AP_INIT_TAKE1("StufLZClientKey", stuflz_outbox_set_path, "key", \
                  RSRC_CONF, "PEM file with the key of that certificate"), \
    AP_INIT_TAKE1("StufLZCACertificate", stuflz_outbox_set_path, "ca", \
                  RSRC_CONF, "PEM file with the CAs receivers are " \
                  "verified against"), \
    AP_INIT_TAKE1("StufLZRetries", stuflz_outbox_set_number, "retries", \
                  RSRC_CONF, "retries of a StUF SOAP answer (default 8)"), \
    AP_INIT_TAKE1("StufLZRetryInterval", stuflz_outbox_set_number, \
                  "interval", RSRC_CONF, "seconds before the first retry " \
                  "of a StUF SOAP answer, doubling (default 300)"), \
    AP_INIT_TAKE1("StufLZDeliveryInterval", stuflz_outbox_set_number, \
                  "delivery", RSRC_CONF, "seconds between delivery " \
                  "rounds, or NNNms (default 1)"), \
    AP_INIT_TAKE1("StufLZDeliveryTimeout", stuflz_outbox_set_number, \
                  "timeout", RSRC_CONF, "seconds one delivery request " \
                  "may take (default 30)")

/* Registers the delivery's hooks; *child_store is the store the calling
 * module opens in each child (read when delivery runs). */
void stuflz_outbox_register_hooks(apr_pool_t *pool, store_t **child_store);

#endif

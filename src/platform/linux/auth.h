/*
 * auth — the Linux side of password_file / acl_file: reads the files the
 * configuration names, builds src/auth's password tables and ACLs, installs
 * the broker hooks, and reloads the files on request.
 *
 * Owns: every mq_passwd_t / mq_acl_t it built and the hooks' context (which
 * the broker borrows: free this only after mq_broker_free()).
 * Never: anything per packet (the hooks themselves live in src/auth).
 */
#ifndef MQ_PLATFORM_LINUX_AUTH_H
#define MQ_PLATFORM_LINUX_AUTH_H

#include "log.h"
#include "musqratt/broker.h"
#include "musqratt/config.h"

typedef struct mq_linux_auth mq_linux_auth_t;

/*
 * Reads every password_file and acl_file cfg names (per listener with
 * per_listener_settings) and, when there is anything to enforce, sets
 * cfg->broker.auth/auth_ctx (and acl/acl_ctx when an ACL file is set).
 * Call after the listeners are final and before mq_broker_new(). With no
 * file and no per_listener_settings, installs nothing and *out is NULL
 * (the core's allow_anonymous rule applies). Returns MQ_OK, or MQ_ECONFIG /
 * MQ_EIO / MQ_ENOMEM after logging every problem with file:line.
 */
int mq_linux_auth_new(mq_config_t *cfg, const mq_linux_log_t *log, mq_linux_auth_t **out);

/*
 * Reads every file again (for SIGHUP). Each file that reads and parses
 * cleanly replaces the old one at once (between two broker calls: the core
 * is single-threaded); one that does not is logged with file:line and the
 * old one stays in force. After an ACL change, the subscriptions of
 * connected clients are checked again (mq_broker_recheck_subscriptions()).
 * auth may be NULL (nothing configured: returns MQ_OK). Returns MQ_OK, or
 * MQ_ECONFIG when at least one file was kept.
 */
int mq_linux_auth_reload(mq_linux_auth_t *auth, mq_broker_t *b);

void mq_linux_auth_free(mq_linux_auth_t *auth);

#endif

/*
 * tls — OpenSSL 3 server contexts, one per TLS listener.
 *
 * Owns: the listener's SSL_CTX (certificate, key, CA, CRL, versions,
 * ciphers) and a copy of the listener's configuration, so that
 * mq_linux_tls_reload() can read the same files again.
 * Never: touches a connection's socket or the broker; per-connection TLS
 * (SSL objects, reads and writes) lives in xport.c.
 * Hot paths: none (startup, reload, and one SSL_new per accepted connection).
 *
 * Why OpenSSL: Debian's libssl3 is what Mosquitto links too, so certificates,
 * key formats, cipher strings and CRLs mean exactly what a Mosquitto user's
 * configuration expects. Only the platform binary links it, never the core.
 */
#ifndef MQ_PLATFORM_LINUX_TLS_H
#define MQ_PLATFORM_LINUX_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "musqratt/config.h"

typedef struct mq_linux_tls mq_linux_tls_t;

/* True when the listener has TLS (certfile, keyfile, cafile or capath set). */
bool mq_linux_tls_wanted(const mq_listener_config_t *lc);

/* Loads the listener's certificate, key, CA and CRL. Returns NULL after
 * logging which file (or setting) is wrong. lc is copied; log is borrowed. */
mq_linux_tls_t *mq_linux_tls_new(const mq_listener_config_t *lc, const mq_linux_log_t *log);

/*
 * Loads the files again into a new context used by connections accepted
 * from now on; existing connections keep the context they started with
 * (OpenSSL reference-counts it). On failure the old context stays in use
 * and the error is logged. Returns MQ_OK or MQ_ECONFIG.
 * Call it (e.g. on SIGHUP) for every TLS listener: mq_linux_loop_tls_reload()
 * in loop.h does exactly that.
 */
int mq_linux_tls_reload(mq_linux_tls_t *tls);

void mq_linux_tls_free(mq_linux_tls_t *tls);

/* A server SSL for an accepted socket, from the current context; NULL when
 * out of memory. The caller frees it (SSL_free). */
SSL *mq_linux_tls_ssl_new(mq_linux_tls_t *tls, int fd);

/*
 * After the handshake: the username the listener derives from the client
 * certificate (use_identity_as_username: its CN; use_subject_as_username:
 * its subject as an RFC 2253 string) into out[cap]. Returns 1 when a name was
 * written, 0 when the listener derives none, or a negative MQ_E* code when it
 * should but cannot (no certificate, no CN, name too long): the connection
 * must be refused then.
 */
int mq_linux_tls_identity(const mq_linux_tls_t *tls, SSL *ssl, char *out, size_t cap);

/* The last OpenSSL error of this thread as text (clears the queue). */
const char *mq_linux_tls_error(char *buf, size_t cap);

#endif

/*
 * musqratt — configuration in mosquitto.conf syntax.
 *
 * The parser is portable (no system calls): it takes the text of a file that
 * the platform has read. One table of directives (src/config/config.c) says
 * for each directive how it is parsed; directives Mosquitto knows but musqratt
 * does not implement yet are reported as warnings naming them; unknown ones are
 * errors. Every diagnostic carries file:line.
 *
 * Ownership: mq_config_t is plain data owned by the caller; no heap memory.
 */
#ifndef MUSQRATT_CONFIG_H
#define MUSQRATT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQ_CONFIG_MAX_LISTENERS 16
#define MQ_CONFIG_ADDR_MAX 128

/* ---- listener transports (TLS, WebSockets) --------------------------------
 * Read by the platform (src/platform/linux/xport.c, tls.c); the core never
 * looks at them. A zeroed listener is plain MQTT over TCP. */
#define MQ_CONFIG_PATH_MAX 256
#define MQ_CONFIG_CIPHERS_MAX 512

enum mq_listener_protocol {
    MQ_LISTENER_MQTT = 0,      /* protocol mqtt (default) */
    MQ_LISTENER_WEBSOCKETS = 1 /* protocol websockets: MQTT in WebSocket binary frames */
};

enum mq_tls_version {
    MQ_TLS_DEFAULT = 0,        /* TLS 1.2 or later */
    MQ_TLS_V1_1 = 1,           /* tls_version tlsv1.1 (minimum) */
    MQ_TLS_V1_2 = 2,           /* tls_version tlsv1.2 */
    MQ_TLS_V1_3 = 3            /* tls_version tlsv1.3 */
};
/* ---- end of listener transports ---- */

typedef struct mq_listener_config {
    char address[MQ_CONFIG_ADDR_MAX]; /* "" = all addresses (Mosquitto's rule) */
    uint16_t port;
    /* ---- transport (TLS, WebSockets): Mosquitto's per-listener directives;
     * TLS is on when certfile, keyfile, cafile or capath is set. "" = unset. */
    uint8_t protocol;                 /* enum mq_listener_protocol */
    uint8_t tls_version;              /* enum mq_tls_version: the minimum accepted */
    bool require_certificate;         /* clients must present a certificate the CA signed */
    bool use_identity_as_username;    /* username = CN of the client certificate */
    bool use_subject_as_username;     /* username = its subject, RFC 2253 string */
    char cafile[MQ_CONFIG_PATH_MAX];
    char capath[MQ_CONFIG_PATH_MAX];
    char certfile[MQ_CONFIG_PATH_MAX];
    char keyfile[MQ_CONFIG_PATH_MAX];
    char crlfile[MQ_CONFIG_PATH_MAX];
    char ciphers[MQ_CONFIG_CIPHERS_MAX];       /* TLS <= 1.2 cipher list */
    char ciphers_tls13[MQ_CONFIG_CIPHERS_MAX]; /* TLS 1.3 cipher suites */
    char websockets_path[MQ_CONFIG_PATH_MAX];  /* musqratt's: "" = any path (Mosquitto) */
    /* ---- end of transport ---- */
} mq_listener_config_t;

typedef struct mq_config {
    mq_broker_config_t broker;
    mq_listener_config_t listeners[MQ_CONFIG_MAX_LISTENERS];
    size_t n_listeners;
    bool verbose;            /* log_type all / -v */
    /* response_information TEXT (MQTT 5); broker.response_information
     * points here once set, so keep this struct alive with the broker. */
    char response_information[256];
} mq_config_t;

/* Called once per problem found. is_error false means a warning. */
typedef void (*mq_config_diag_fn)(void *ctx, const char *file, unsigned line, bool is_error,
                                  const char *msg);

/* Defaults: mq_broker_config_defaults() and no listener. */
void mq_config_init(mq_config_t *cfg);

/*
 * Parses text[0..len) (the contents of `filename`, used only in diagnostics)
 * into *cfg, on top of what it already holds. Reports every problem through
 * diag (may be NULL) and goes on parsing after an error.
 * Returns MQ_OK, or MQ_ECONFIG if at least one error was reported.
 */
int mq_config_parse(mq_config_t *cfg, const char *text, size_t len, const char *filename,
                    mq_config_diag_fn diag, void *diag_ctx);

/* Adds a listener (used by -p PORT). Returns MQ_ELIMIT when full. */
int mq_config_add_listener(mq_config_t *cfg, const char *address, uint16_t port);

#ifdef __cplusplus
}
#endif
#endif

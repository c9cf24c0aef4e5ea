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

/* ---- authentication and access control ------------------------------------
 * password_file, acl_file and allow_anonymous, global or, with
 * per_listener_settings true, per listener (Mosquitto's rules). The files are
 * read by the platform (src/platform/linux/auth.c) into src/auth's hooks. */
#define MQ_CONFIG_PATH_MAX 512

typedef struct mq_security_config {
    char password_file[MQ_CONFIG_PATH_MAX]; /* "" = none */
    char acl_file[MQ_CONFIG_PATH_MAX];      /* "" = none */
    bool allow_anonymous_set;               /* false: Mosquitto's default applies */
    bool allow_anonymous;
} mq_security_config_t;

typedef struct mq_listener_config {
    char address[MQ_CONFIG_ADDR_MAX]; /* "" = all addresses (Mosquitto's rule) */
    uint16_t port;
    /* Authentication (per_listener_settings true): what followed this
     * listener's `listener` line. is_default: made by `port`/`bind_address`
     * or by the command line; it uses mq_config_t.security_default. */
    mq_security_config_t security;
    bool is_default;
} mq_listener_config_t;

typedef struct mq_config {
    mq_broker_config_t broker;
    mq_listener_config_t listeners[MQ_CONFIG_MAX_LISTENERS];
    size_t n_listeners;
    bool verbose;            /* log_type all / -v */
    /* response_information TEXT (MQTT 5); broker.response_information
     * points here once set, so keep this struct alive with the broker. */
    char response_information[256];
    /* Authentication and access control (see mq_config_security()). */
    bool per_listener_settings;
    bool listeners_in_file;                 /* a `listener` or `port` line was parsed */
    mq_security_config_t security;          /* the broker-wide settings */
    mq_security_config_t security_default;  /* those before any `listener` line */
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

/*
 * The authentication settings for listener i (Mosquitto 2.0's rules):
 * per_listener_settings false: the same for all (wherever the directives
 * are); true: what followed the listener's own `listener` line, or for
 * the default listener (`port`, command line) what came before any
 * `listener` line. allow_anonymous not given: false when the configuration
 * file defined a listener, else true (Mosquitto 2.0's local-only mode).
 * The result has allow_anonymous_set true.
 */
void mq_config_security(const mq_config_t *cfg, size_t i, mq_security_config_t *out);

/* Adds a listener (used by -p PORT). Returns MQ_ELIMIT when full. */
int mq_config_add_listener(mq_config_t *cfg, const char *address, uint16_t port);

#ifdef __cplusplus
}
#endif
#endif

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

typedef struct mq_listener_config {
    char address[MQ_CONFIG_ADDR_MAX]; /* "" = all addresses (Mosquitto's rule) */
    uint16_t port;
    /* ---- overload protection: max_connection_rate after this listener ---- */
    bool connection_rate_set;         /* false: mq_config_t.max_connection_rate applies */
    uint32_t max_connection_rate;     /* connections accepted per second; 0 = unlimited */
} mq_listener_config_t;

typedef struct mq_config {
    mq_broker_config_t broker;
    mq_listener_config_t listeners[MQ_CONFIG_MAX_LISTENERS];
    size_t n_listeners;
    bool verbose;            /* log_type all / -v */
    /* response_information TEXT (MQTT 5); broker.response_information
     * points here once set, so keep this struct alive with the broker. */
    char response_information[256];
    /* ---- observability and overload protection ---- */
    /* max_connection_rate N before any listener: each listener's own limit
     * (a token bucket per listener, N per second, bursts of N); 0 = none.
     * Given after a `listener` line it sets that listener's only. */
    uint32_t max_connection_rate;
    /* metrics_listener PORT [ADDRESS]: the Prometheus endpoint (GET /metrics
     * over HTTP/1.x), off unless configured; ADDRESS defaults to 127.0.0.1. */
    bool metrics_enabled;
    uint16_t metrics_port;
    char metrics_address[MQ_CONFIG_ADDR_MAX];
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

/*
 * metrics — the Prometheus endpoint: GET /metrics over HTTP/1.x on its own
 * listening socket (metrics_listener PORT [ADDRESS]), served from the MQTT
 * event loop.
 *
 * Owns: its listening socket, its client sockets (at most
 * MQ_LINUX_METRICS_CLIENTS at once), their buffers and a timerfd that ends
 * slow clients. Borrows the loop, the broker and the log.
 * Never: blocks, keeps a connection after its response (Connection: close),
 * reads more than MQ_LINUX_METRICS_REQ_MAX bytes of request, or touches the
 * MQTT connections. It costs the MQTT path nothing between scrapes: its
 * descriptors are quiet and the timer runs only while a client is open.
 * Hot paths: none (one response per scrape).
 */
#ifndef MQ_PLATFORM_LINUX_METRICS_H
#define MQ_PLATFORM_LINUX_METRICS_H

#include <stdint.h>

#include "log.h"
#include "loop.h"
#include "musqratt/broker.h"

#define MQ_LINUX_METRICS_CLIENTS 8
#define MQ_LINUX_METRICS_REQ_MAX 4096    /* request line + headers */
#define MQ_LINUX_METRICS_TIMEOUT_MS 5000 /* whole exchange, from accept */

typedef struct mq_linux_metrics mq_linux_metrics_t;

/*
 * Binds address:port (port 0 = ephemeral), prints
 * "musqratt: metrics on http://ADDR:PORT/metrics" on stderr, and serves it
 * from loop. start_time (mq_linux_now() at startup) gives the uptime.
 * Turns on the loop's latency measurement. NULL after logging why.
 */
mq_linux_metrics_t *mq_linux_metrics_new(mq_linux_loop_t *loop, mq_broker_t *b,
                                         const char *address, uint16_t port,
                                         mq_time_t start_time, const mq_linux_log_t *log);

/* Closes every socket; call before mq_linux_loop_free(). NULL is fine. */
void mq_linux_metrics_free(mq_linux_metrics_t *m);

/*
 * The response body for the current counters (Prometheus text format
 * 0.0.4) into a new malloc'd buffer; *len gets its length. NULL when memory
 * is short. Exposed for the tests' benefit and for reuse.
 */
char *mq_linux_metrics_render(mq_broker_t *b, const mq_linux_stats_t *ps, mq_time_t uptime_ms,
                              size_t *len);

#endif

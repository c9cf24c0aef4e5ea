/*
 * loop — the epoll event loop: listeners, connections, signals, timers.
 *
 * Owns: the epoll instance, the signalfd, the listening sockets handed to it,
 * every accepted socket and its mq_linux_conn record, and the one read buffer
 * shared by all connections. It borrows the broker.
 * Never: parses MQTT or decides anything about a client; it moves bytes
 * between sockets and the core and tells the core about time and closes.
 * Hot path: mq_linux_loop_run(): epoll_wait -> read -> mq_broker_conn_input
 * -> mq_broker_tick -> mq_broker_pending -> writev. Per wake-up: one
 * epoll_wait, one clock read, reads and one writev per connection with output.
 */
#ifndef MQ_PLATFORM_LINUX_LOOP_H
#define MQ_PLATFORM_LINUX_LOOP_H

#include <stdint.h>

#include "log.h"
#include "musqratt/broker.h"
#include "xport.h"
#include "stats.h"

typedef struct mq_linux_loop mq_linux_loop_t;

/* Blocks SIGINT/SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 (once, for the signalfd) and
 * ignores SIGPIPE.
 * Returns NULL after logging why. b and log are borrowed. */
mq_linux_loop_t *mq_linux_loop_new(mq_broker_t *b, const mq_linux_log_t *log);

/* Takes ownership of a listening, non-blocking socket of configured listener
 * `index` (given to its connections: mq_conn_listener()). xl is its
 * transport (TLS/WebSockets; NULL = plain MQTT over TCP), borrowed: it must
 * outlive the loop. MQ_OK or MQ_EIO/MQ_ELIMIT. */
int mq_linux_loop_add_listener(mq_linux_loop_t *loop, int fd, uint16_t index,
                               mq_linux_xport_listener_t *xl);

/* Per-listener max_connections for the listening socket fd (0 = unlimited);
 * may change while it runs. MQ_EINVAL if fd is not a listener. */
int mq_linux_loop_listener_limit(mq_linux_loop_t *loop, int fd, uint32_t max_conns);

/* Closes the listening socket fd; the connections it accepted stay open.
 * MQ_EINVAL if fd is not a listener. */
int mq_linux_loop_remove_listener(mq_linux_loop_t *loop, int fd);

/* SIGHUP, SIGUSR1 and SIGUSR2 are handed to fn(ctx, signo) after the event
 * batch they arrived in (so fn may add and remove listeners). Without a
 * hook they are ignored. */
typedef void (*mq_linux_signal_fn)(void *ctx, int signo);
void mq_linux_loop_on_signal(mq_linux_loop_t *loop, mq_linux_signal_fn fn, void *ctx);

/* Reloads the certificates and keys of every TLS listener for the
 * connections accepted from now on (existing ones keep theirs); a listener
 * whose files fail keeps its old ones. For SIGHUP. MQ_OK or MQ_ECONFIG. */
int mq_linux_loop_tls_reload(mq_linux_loop_t *loop);

/* Runs until SIGINT or SIGTERM. Returns MQ_OK, or MQ_EIO if epoll failed. */
int mq_linux_loop_run(mq_linux_loop_t *loop);

/* ---- observability and overload protection --------------------------------- */

/* Limits a listener (by its fd, as given to mq_linux_loop_add_listener) to
 * per_second accepted connections, bursts of per_second (a token bucket);
 * connections beyond it are closed at accept, with a log line at most once
 * a second. 0 = no limit. MQ_OK or MQ_EINVAL (no such listener). */
int mq_linux_loop_set_connection_rate(mq_linux_loop_t *loop, int fd, uint32_t per_second);

/* The platform's own counters (rate refusals, latency histogram). Set
 * ->measure to have the loop measure publish latency. Owned by the loop. */
mq_linux_stats_t *mq_linux_loop_stats(mq_linux_loop_t *loop);

/* Any other descriptor in the loop (the metrics endpoint's sockets): cb runs
 * with the epoll events when fd is ready. The caller keeps owning fd. */
typedef struct mq_linux_watch mq_linux_watch_t;
typedef void (*mq_linux_watch_fn)(void *ctx, uint32_t events, mq_time_t now);
/* NULL after logging why. */
mq_linux_watch_t *mq_linux_loop_add_fd(mq_linux_loop_t *loop, int fd, uint32_t events,
                                       mq_linux_watch_fn cb, void *ctx);
/* Changes the epoll events watched. MQ_OK or MQ_EIO. */
int mq_linux_loop_mod_fd(mq_linux_loop_t *loop, mq_linux_watch_t *w, uint32_t events);
/* Stops watching (call it before closing the fd). Safe from any callback:
 * the record is freed after the current batch of events. */
void mq_linux_loop_del_fd(mq_linux_loop_t *loop, mq_linux_watch_t *w);

/* Closes every connection (each through mq_broker_conn_lost(), so the core
 * frees it), every listener, and the loop. The broker itself is not freed. */
void mq_linux_loop_free(mq_linux_loop_t *loop);

#endif

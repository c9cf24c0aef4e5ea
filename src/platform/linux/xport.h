/*
 * xport — the transports between a socket and the core, for listeners that
 * are not plain MQTT over TCP: TLS, WebSockets, or WebSockets over TLS.
 *
 *   read:  socket -> [TLS decrypt (SSL_read)] -> [WebSocket deframe, unmask in
 *          place] -> mq_broker_conn_input
 *   write: core iovecs -> [WebSocket frame header iovec in front of them]
 *          -> [TLS: copy into one bounded per-connection buffer, SSL_write]
 *          -> socket (writev without TLS)
 *
 * Owns: per listener, a mq_linux_xport_listener_t (its TLS context and its
 * WebSocket settings); per connection, a mq_linux_xport_t (the SSL object,
 * the WebSocket state, the TLS output buffer, the upgrade-request buffer
 * until the handshake is over). Borrows the broker, the connection and the
 * socket (loop.c closes it).
 * Never: used for plain MQTT/TCP connections: loop.c keeps its own direct
 * read/writev path for them (lc->x == NULL), so the latency path pays nothing.
 * Per-connection memory is bounded: MQ_LINUX_TLS_OUT bytes of TLS output
 * (only while output is pending), MQ_LINUX_WS_REQUEST bytes of upgrade
 * request (only when the request arrives in pieces, freed once answered),
 * OpenSSL's record buffers (released while idle), and the fixed mq_ws_t.
 * Handshakes (TLS, WebSocket upgrade) count against the core's
 * connect_timeout, which runs from accept.
 */
#ifndef MQ_PLATFORM_LINUX_XPORT_H
#define MQ_PLATFORM_LINUX_XPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "musqratt/broker.h"
#include "musqratt/config.h"
#include "tls.h"

/* One TLS record's worth of plaintext per SSL_write. */
#define MQ_LINUX_TLS_OUT (16 * 1024)
/* The largest WebSocket upgrade request accepted (431 beyond). */
#define MQ_LINUX_WS_REQUEST (8 * 1024)

typedef struct mq_linux_xport_listener mq_linux_xport_listener_t;
typedef struct mq_linux_xport mq_linux_xport_t;

/*
 * The transport of listener lc: *out = NULL for plain MQTT over TCP, else a
 * new listener transport (TLS context loaded now). max_packet_size bounds
 * WebSocket frames (0 = the protocol's maximum). Returns MQ_OK, or MQ_ECONFIG /
 * MQ_ENOMEM after logging (naming the bad file).
 */
int mq_linux_xport_listener_new(const mq_listener_config_t *lc, uint32_t max_packet_size,
                                const mq_linux_log_t *log, mq_linux_xport_listener_t **out);
void mq_linux_xport_listener_free(mq_linux_xport_listener_t *xl);
/* The listener's TLS context, NULL without TLS (for mq_linux_tls_reload). */
mq_linux_tls_t *mq_linux_xport_listener_tls(mq_linux_xport_listener_t *xl);

/* A transport for an accepted socket; NULL when out of memory. */
mq_linux_xport_t *mq_linux_xport_new(mq_linux_xport_listener_t *xl, int fd);
/* Frees it; graceful sends a TLS close_notify first when the session is
 * healthy (best effort, never blocks). The socket is not closed. */
void mq_linux_xport_free(mq_linux_xport_t *x, bool graceful);

enum mq_linux_xport_read_result {
    MQ_LINUX_XR_OK = 0,   /* nothing more to read now */
    MQ_LINUX_XR_EOF,      /* the peer closed the connection */
    MQ_LINUX_XR_ERROR,    /* TLS or socket error: close now */
    MQ_LINUX_XR_DONE      /* input is over (protocol error, close frame, core
                             closing): send what is pending, then close */
};

/* Reads (at most a few times), decrypts, deframes and feeds the core.
 * *why gets a static text for the log on non-OK results. */
int mq_linux_xport_read(mq_linux_xport_t *x, mq_broker_t *b, mq_conn_t *c, uint8_t *buf,
                        size_t cap, mq_time_t now, const char **why);

enum mq_linux_xport_flush_result {
    MQ_LINUX_XF_DONE = 0, /* everything the core and the transport had is out */
    MQ_LINUX_XF_BLOCKED,  /* the socket is full: wait for EPOLLOUT */
    MQ_LINUX_XF_WAIT,     /* the TLS handshake waits for input */
    MQ_LINUX_XF_ERROR     /* close now */
};

/* Sends the transport's own output (handshake answers, control frames,
 * buffered TLS records) and the core's. closing: the connection ends once
 * this is out (a WebSocket close frame is added; an unfinished TLS
 * handshake is abandoned). */
int mq_linux_xport_flush(mq_linux_xport_t *x, mq_broker_t *b, mq_conn_t *c, bool closing,
                         const char **why);

/* True when the transport has output of its own to flush (the loop then
 * schedules a flush even though the core reported nothing). */
bool mq_linux_xport_has_output(const mq_linux_xport_t *x);
/* True when the last TLS read stopped because it must write first: an
 * EPOLLOUT event must then run the read path again. */
bool mq_linux_xport_read_wants_write(const mq_linux_xport_t *x);

#endif

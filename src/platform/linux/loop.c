/*
 * loop — see loop.h.
 *
 * Level-triggered epoll, on purpose:
 *   - A short read (fewer bytes than the buffer) means the socket is almost
 *     surely drained, and level triggering guarantees a new event if it is
 *     not; so we skip the extra read() that would only return EAGAIN. Edge
 *     triggering would force that read on every wake-up, one wasted system
 *     call per received packet in the common one-packet case.
 *   - The fairness cap (MQ_LINUX_READS_PER_EVENT) needs no bookkeeping:
 *     unread data simply reports the socket again on the next epoll_wait.
 *   - EPOLLOUT is registered only while a connection has output the kernel
 *     did not take (rare: a slow reader), so the epoll_ctl cost is paid only
 *     then, never per packet.
 *
 * Lifetime rule: mq_broker_conn_lost() frees the core's mq_conn_t, so
 * mq_linux_conn_close() unlinks and frees our record and closes the socket
 * first, and nothing touches either afterwards. A record is only closed while
 * handling its own event, during the flush phase (after all events of the
 * batch) or at shutdown, so no later event of the same epoll_wait batch can
 * point to a freed record (epoll reports each descriptor once per batch).
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "musqratt/error.h"
#include "sys.h"
#include "xport.h"

/* One read buffer for the whole loop: the core copies what it keeps. */
#define MQ_LINUX_READ_BUF (64 * 1024)
/* Reads per readable event before other sockets get their turn. */
#define MQ_LINUX_READS_PER_EVENT 4
#define MQ_LINUX_MAX_EVENTS 256
#define MQ_LINUX_MAX_LISTENERS 64
/* Memory handback: when the core's memory fell by at least this much (and by
 * a quarter) from its high mark, and stayed down for MQ_LINUX_TRIM_DELAY_MS,
 * its caches and the C library's free pages go back to the system. */
#define MQ_LINUX_TRIM_MIN_DROP (1024u * 1024u)
#define MQ_LINUX_TRIM_DELAY_MS 2000
/* Batches of at most this many events flush after each event. */
#define MQ_LINUX_EAGER_EVENTS 4
/* iovecs per writev (well below IOV_MAX = 1024). */
#define MQ_LINUX_IOV 256
/* How long a listener rests after running out of descriptors. */
#define MQ_LINUX_PAUSE_MS 1000
/* Lingering close: how long a half-closed connection may keep sending before
 * it is closed, and how many may linger at once. */
#define MQ_LINUX_LINGER_MS 2000
#define MQ_LINUX_LINGER_MAX 1024

/* The core fills mq_iov_t arrays that writev reads as struct iovec. */
_Static_assert(sizeof(mq_iov_t) == sizeof(struct iovec), "mq_iov_t must match struct iovec");
_Static_assert(offsetof(mq_iov_t, base) == offsetof(struct iovec, iov_base),
               "mq_iov_t.base must match iov_base");
_Static_assert(offsetof(mq_iov_t, len) == offsetof(struct iovec, iov_len),
               "mq_iov_t.len must match iov_len");

enum mq_linux_kind { MQ_LINUX_LISTENER, MQ_LINUX_CONN, MQ_LINUX_SIGNAL, MQ_LINUX_WATCH };

/* First member of everything registered in epoll (epoll data.ptr). */
typedef struct mq_linux_handle {
    int kind;
    int fd;
} mq_linux_handle_t;

typedef struct mq_linux_listener {
    mq_linux_handle_t h;  /* fd -1: a free slot (once n_conns is 0) */
    bool paused;
    uint32_t max_conns;   /* per-listener max_connections; 0 = unlimited */
    uint32_t n_conns;     /* connections accepted here and still open */
    uint16_t index;     /* the configured listener it belongs to (mq_conn_listener) */
    mq_linux_xport_listener_t *xl; /* TLS/WebSockets; NULL: plain MQTT over TCP */
    /* max_connection_rate: a token bucket, refilled rate tokens a second. */
    uint32_t rate;      /* 0 = no limit */
    double tokens;
    mq_time_t refilled;
} mq_linux_listener_t;

/* A descriptor of another module (mq_linux_loop_add_fd). */
struct mq_linux_watch {
    mq_linux_handle_t h;
    mq_linux_watch_fn cb;   /* NULL once deleted */
    void *ctx;
    struct mq_linux_watch *next_dead;
};

typedef struct mq_linux_conn {
    mq_linux_handle_t h;
    mq_conn_t *c;
    mq_linux_xport_t *x; /* TLS/WebSockets (xport.c); NULL: plain TCP, the direct path */
    uint32_t events;    /* interest currently registered */
    bool input_done;    /* input error or closing: read no more, close once flushed */
    bool deferred;      /* in the loop's deferred list */
    struct mq_linux_conn *defer_next;
    struct mq_linux_conn *prev, *next; /* in conns, or in the linger list once c is NULL */
    mq_time_t linger_until;
    mq_linux_listener_t *listener; /* counts this connection until it closes */
} mq_linux_conn_t;

struct mq_linux_loop {
    mq_broker_t *b;
    const mq_linux_log_t *log;
    int epfd;
    int reserve_fd;     /* spare descriptor, given up to shed a connection on EMFILE */
    mq_linux_handle_t sig;
    bool stop;
    mq_linux_listener_t listeners[MQ_LINUX_MAX_LISTENERS];
    size_t n_listeners;
    size_t n_paused;
    mq_time_t resume_at;
    mq_time_t last_shed_log;
    uint64_t n_closed;  /* connections closed so far */
    mq_linux_conn_t *conns;
    /* SIGHUP/SIGUSR1/SIGUSR2 seen in this batch, handed to on_signal after
     * it (so a reload never frees a listener a later event points to). */
    uint32_t pending_signals;
    mq_linux_signal_fn on_signal;
    void *on_signal_ctx;
    /* Connections an early flush could not finish without closing them:
     * the service phase flushes (and may close) them. */
    mq_linux_conn_t *deferred;
    /* Half-closed connections the broker is done with (c == NULL), oldest
     * first: they share one deadline length, so the head expires first. */
    mq_linux_conn_t *linger_head, *linger_tail;
    size_t n_lingering;
    uint8_t *buf;
    uint64_t trim_hi;   /* core memory high mark since the last handback */
    mq_time_t trim_at;  /* when to hand memory back, 0 = not planned */
    /* Observability and overload protection. */
    mq_linux_stats_t stats;
    mq_time_t last_rate_log;
    mq_linux_watch_t *dead_watches;  /* deleted, freed after the batch */
};

static int mq_linux_ctl(mq_linux_loop_t *loop, int op, mq_linux_handle_t *h, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = h;
    return epoll_ctl(loop->epfd, op, h->fd, &ev);
}

/* ---- connections ------------------------------------------------------- */

/* Takes lc out of the deferred list (short: filled by one epoll batch). */
static void mq_linux_undefer(mq_linux_loop_t *loop, mq_linux_conn_t *lc)
{
    mq_linux_conn_t **p = &loop->deferred;

    if (!lc->deferred)
        return;
    while (*p != lc)
        p = &(*p)->defer_next;
    *p = lc->defer_next;
    lc->deferred = false;
}

static void mq_linux_conn_close(mq_linux_loop_t *loop, mq_linux_conn_t *lc, mq_time_t now)
{
    mq_conn_t *c = lc->c;

    mq_linux_undefer(loop, lc);
    if (lc->listener)
        lc->listener->n_conns--;

    if (loop->conns == lc)
        loop->conns = lc->next;
    else
        lc->prev->next = lc->next;
    if (lc->next)
        lc->next->prev = lc->prev;
    if (lc->x)
        mq_linux_xport_free(lc->x, true);
    /* close() also removes the descriptor from epoll (it is never dup'ed). */
    close(lc->h.fd);
    free(lc);
    loop->n_closed++;
    if (loop->n_paused)
        loop->resume_at = now; /* a descriptor is free again */
    mq_broker_conn_lost(loop->b, c, now);
}

/* Closes a lingering record for good. */
static void mq_linux_linger_end(mq_linux_loop_t *loop, mq_linux_conn_t *lc)
{
    if (loop->linger_head == lc)
        loop->linger_head = lc->next;
    else
        lc->prev->next = lc->next;
    if (loop->linger_tail == lc)
        loop->linger_tail = lc->prev;
    else
        lc->next->prev = lc->prev;
    loop->n_lingering--;
    close(lc->h.fd);
    free(lc);
}

/*
 * The graceful end of a connection the broker closes (after a DISCONNECT,
 * a refused CONNACK, a protocol error): the peer may still be sending (e.g.
 * PUBRELs already in flight), and a close() with unread input makes the
 * kernel answer with a reset that can destroy the DISCONNECT just written.
 * So the broker forgets the connection now, the socket is half-closed
 * (FIN after our last byte), and what still arrives is read and dropped
 * until the peer closes or MQ_LINUX_LINGER_MS pass.
 */
static void mq_linux_conn_linger(mq_linux_loop_t *loop, mq_linux_conn_t *lc, mq_time_t now)
{
    if (lc->x) {
        /* TLS close_notify goes out before our FIN; the rest is raw bytes. */
        mq_linux_xport_free(lc->x, true);
        lc->x = NULL;
    }
    if (loop->n_lingering >= MQ_LINUX_LINGER_MAX ||
        mq_linux_ctl(loop, EPOLL_CTL_MOD, &lc->h, EPOLLIN) < 0 ||
        shutdown(lc->h.fd, SHUT_WR) < 0) {
        mq_linux_conn_close(loop, lc, now);
        return;
    }
    mq_conn_t *c = lc->c;

    mq_linux_undefer(loop, lc);
    if (lc->listener)
        lc->listener->n_conns--;
    lc->listener = NULL;
    if (loop->conns == lc)
        loop->conns = lc->next;
    else
        lc->prev->next = lc->next;
    if (lc->next)
        lc->next->prev = lc->prev;
    lc->c = NULL;
    lc->events = EPOLLIN;
    lc->linger_until = now + MQ_LINUX_LINGER_MS;
    lc->next = NULL;
    lc->prev = loop->linger_tail;
    if (loop->linger_tail)
        loop->linger_tail->next = lc;
    else
        loop->linger_head = lc;
    loop->linger_tail = lc;
    loop->n_lingering++;
    loop->n_closed++;
    if (loop->n_paused)
        loop->resume_at = now;
    mq_broker_conn_lost(loop->b, c, now);
}

/* Input on a lingering socket: dropped; EOF or an error ends it. */
static void mq_linux_linger_event(mq_linux_loop_t *loop, mq_linux_conn_t *lc)
{
    for (int i = 0; i < MQ_LINUX_READS_PER_EVENT; i++) {
        ssize_t n = read(lc->h.fd, loop->buf, MQ_LINUX_READ_BUF);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EINTR))
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        mq_linux_linger_end(loop, lc);
        return;
    }
}

static void mq_linux_conn_interest(mq_linux_loop_t *loop, mq_linux_conn_t *lc, bool want_out)
{
    uint32_t events = (lc->input_done ? 0u : (uint32_t)EPOLLIN) |
                      (want_out ? (uint32_t)EPOLLOUT : 0u);

    if (events == lc->events)
        return;
    if (mq_linux_ctl(loop, EPOLL_CTL_MOD, &lc->h, events) < 0) {
        mq_linux_logf(loop->log, MQ_LOG_ERR, "epoll_ctl(fd %d): %s", lc->h.fd, strerror(errno));
        return;
    }
    lc->events = events;
}

/* ---- transports (TLS, WebSockets: xport.c) -----------------------------
 * Connections of a TLS or WebSocket listener (lc->x != NULL) go through
 * these two functions; plain TCP ones never do. */

static void mq_linux_conn_defer(mq_linux_loop_t *loop, mq_linux_conn_t *lc);

/* mq_linux_conn_flush() for a transport connection. */
static bool mq_linux_conn_flush_x(mq_linux_loop_t *loop, mq_linux_conn_t *lc, mq_time_t now)
{
    mq_conn_t *c = lc->c;
    bool closing = lc->input_done || mq_conn_closing(c);
    const char *why = NULL;

    switch (mq_linux_xport_flush(lc->x, loop->b, c, closing, &why)) {
    case MQ_LINUX_XF_ERROR:
        mq_linux_logf(loop->log, MQ_LOG_DEBUG, "closing '%s': %s", mq_conn_client_id(c),
                      why ? why : "transport error");
        mq_linux_conn_close(loop, lc, now);
        return false;
    case MQ_LINUX_XF_BLOCKED:
        mq_linux_conn_interest(loop, lc, true);
        return true;
    case MQ_LINUX_XF_WAIT:
        mq_linux_conn_interest(loop, lc, false);
        return true;
    default:
        break;
    }
    if (mq_conn_out_size(c) == 0 && closing) {
        mq_linux_conn_linger(loop, lc, now);
        return false;
    }
    mq_linux_conn_interest(loop, lc, false);
    return true;
}

/* mq_linux_conn_read() for a transport connection. */
static bool mq_linux_conn_read_x(mq_linux_loop_t *loop, mq_linux_conn_t *lc, mq_time_t now)
{
    const char *why = NULL;

    switch (mq_linux_xport_read(lc->x, loop->b, lc->c, loop->buf, MQ_LINUX_READ_BUF, now,
                                &why)) {
    case MQ_LINUX_XR_EOF:
    case MQ_LINUX_XR_ERROR:
        mq_linux_logf(loop->log, MQ_LOG_DEBUG, "closing '%s': %s", mq_conn_client_id(lc->c),
                      why ? why : "transport error");
        mq_linux_conn_close(loop, lc, now);
        return false;
    case MQ_LINUX_XR_DONE:
        /* As for plain TCP: no more input; what is queued (a CONNACK with
         * an error code, an HTTP answer, a close frame) still goes out. */
        mq_linux_logf(loop->log, MQ_LOG_DEBUG, "closing '%s': %s", mq_conn_client_id(lc->c),
                      why ? why : "input over");
        lc->input_done = true;
        mq_linux_conn_interest(loop, lc, (lc->events & EPOLLOUT) != 0);
        mq_linux_conn_defer(loop, lc);
        return true;
    default:
        /* The transport's own output (handshake, pong) is not in the
         * core's pending list: the service phase flushes it. */
        if (mq_linux_xport_has_output(lc->x))
            mq_linux_conn_defer(loop, lc);
        return true;
    }
}

/* ---- end of transports ---- */

/*
 * Writes the pending output: one writev, another only if the kernel took all
 * of it and more is left. Closes the connection once drained if it must
 * close. Returns false when lc was closed (and freed).
 */
static bool mq_linux_conn_flush(mq_linux_loop_t *loop, mq_linux_conn_t *lc, mq_time_t now)
{
    mq_conn_t *c = lc->c;
    struct iovec iov[MQ_LINUX_IOV];

    if (lc->x)
        return mq_linux_conn_flush_x(loop, lc, now);
    while (mq_conn_out_size(c) > 0) {
        size_t cnt = mq_conn_out_iov(c, (mq_iov_t *)iov, MQ_LINUX_IOV);
        size_t want = 0;
        ssize_t n;

        if (cnt == 0)
            break; /* nothing the core can hand out now */
        for (size_t i = 0; i < cnt; i++)
            want += iov[i].iov_len;
        n = writev(lc->h.fd, iov, (int)cnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                mq_linux_conn_interest(loop, lc, true);
                return true;
            }
            mq_linux_logf(loop->log, MQ_LOG_DEBUG, "write to '%s' failed: %s",
                          mq_conn_client_id(c), strerror(errno));
            mq_linux_conn_close(loop, lc, now);
            return false;
        }
        mq_conn_out_consume(loop->b, c, (size_t)n);
        if ((size_t)n < want) {
            /* The socket buffer is full: trying again now would only get
             * EAGAIN, so wait for EPOLLOUT. */
            mq_linux_conn_interest(loop, lc, true);
            return true;
        }
    }
    if (mq_conn_out_size(c) == 0 && (lc->input_done || mq_conn_closing(c))) {
        mq_linux_conn_linger(loop, lc, now);
        return false;
    }
    mq_linux_conn_interest(loop, lc, false);
    return true;
}

/* Leaves lc for the service phase, where closing it is safe. */
static void mq_linux_conn_defer(mq_linux_loop_t *loop, mq_linux_conn_t *lc)
{
    if (lc->deferred)
        return;
    lc->deferred = true;
    lc->defer_next = loop->deferred;
    loop->deferred = lc;
}

/*
 * The early flush, between two events of one epoll batch: writes what the
 * core has pending without closing anything (a later event of the batch may
 * point to any record), so a connection that would close, or whose write
 * fails, is deferred to the service phase. It exists for latency: a
 * delivery leaves at once instead of waiting for the reads of the rest of
 * the batch (a subscriber's PUBACK read before the next delivery is written
 * costs about 3 us per message on a 2-vCPU VM).
 */
static void mq_linux_flush_early(mq_linux_loop_t *loop)
{
    mq_conn_t *c;

    while ((c = mq_broker_pending(loop->b)) != NULL) {
        mq_linux_conn_t *lc = mq_conn_user(c);
        struct iovec iov[MQ_LINUX_IOV];
        size_t cnt, want = 0;
        ssize_t n;

        if (lc->deferred || ((lc->events & EPOLLOUT) && mq_conn_out_size(c) > 0))
            continue; /* the service phase or EPOLLOUT will flush it */
        if (lc->input_done || mq_conn_closing(c) || mq_conn_out_size(c) == 0) {
            mq_linux_conn_defer(loop, lc);
            continue;
        }
        if (lc->x) {
            /* TLS/WebSockets: write now too, but leave anything unusual
             * (blocked, error, transport output left) to the usual flush. */
            const char *why = NULL;

            if (mq_linux_xport_flush(lc->x, loop->b, c, false, &why) != MQ_LINUX_XF_DONE ||
                mq_conn_out_size(c) > 0 || mq_linux_xport_has_output(lc->x))
                mq_linux_conn_defer(loop, lc);
            continue;
        }
        cnt = mq_conn_out_iov(c, (mq_iov_t *)iov, MQ_LINUX_IOV);
        for (size_t i = 0; i < cnt; i++)
            want += iov[i].iov_len;
        if (cnt == 0)
            continue;
        n = writev(lc->h.fd, iov, (int)cnt);
        if (n > 0)
            mq_conn_out_consume(loop->b, c, (size_t)n);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            mq_linux_conn_defer(loop, lc); /* fails again there, and closes */
            continue;
        }
        if (n < 0 || (size_t)n < want || mq_conn_out_size(c) > 0)
            mq_linux_conn_defer(loop, lc); /* the usual flush decides */
    }
}

/* Returns false when lc was closed (and freed). */
static bool mq_linux_conn_read(mq_linux_loop_t *loop, mq_linux_conn_t *lc, mq_time_t now)
{
    if (lc->x)
        return mq_linux_conn_read_x(loop, lc, now);
    for (int i = 0; i < MQ_LINUX_READS_PER_EVENT; i++) {
        ssize_t n = read(lc->h.fd, loop->buf, MQ_LINUX_READ_BUF);

        if (n > 0) {
            int rc = mq_broker_conn_input(loop->b, lc->c, loop->buf, (size_t)n, now);

            if (rc < 0 || mq_conn_closing(lc->c)) {
                /* MQTT-3.14.4-2 and the error cases: no more input is
                 * processed; what the core queued (e.g. a CONNACK with an
                 * error code) is still sent before the close. */
                if (rc < 0)
                    mq_linux_logf(loop->log, MQ_LOG_DEBUG, "closing '%s': %s",
                                  mq_conn_client_id(lc->c), mq_strerror(rc));
                lc->input_done = true;
                if (mq_conn_out_size(lc->c) == 0) {
                    mq_linux_conn_linger(loop, lc, now);
                    return false;
                }
                mq_linux_conn_interest(loop, lc, (lc->events & EPOLLOUT) != 0);
                return true;
            }
            if ((size_t)n < MQ_LINUX_READ_BUF)
                return true; /* drained; level triggering reports more */
            continue;
        }
        if (n == 0) {
            mq_linux_logf(loop->log, MQ_LOG_DEBUG, "'%s' closed the connection",
                          mq_conn_client_id(lc->c));
            mq_linux_conn_close(loop, lc, now);
            return false;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return true;
        mq_linux_logf(loop->log, MQ_LOG_DEBUG, "read from '%s' failed: %s",
                      mq_conn_client_id(lc->c), strerror(errno));
        mq_linux_conn_close(loop, lc, now);
        return false;
    }
    return true;
}

static void mq_linux_conn_event(mq_linux_loop_t *loop, mq_linux_conn_t *lc, uint32_t ev,
                                mq_time_t now)
{
    if (!lc->c) {
        mq_linux_linger_event(loop, lc);
        return;
    }
    if (!lc->input_done && ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
                            (lc->x && (ev & EPOLLOUT) &&
                             mq_linux_xport_read_wants_write(lc->x)))) {
        if (!mq_linux_conn_read(loop, lc, now))
            return;
    }
    /* With reading over, a hang-up or error shows up as a failed writev (or
     * as nothing left to send), which closes the connection. */
    if ((ev & EPOLLOUT) || (lc->input_done && (ev & (EPOLLHUP | EPOLLERR))))
        mq_linux_conn_flush(loop, lc, now);
}

/* ---- listeners --------------------------------------------------------- */

static void mq_linux_listener_pause(mq_linux_loop_t *loop, mq_linux_listener_t *l,
                                    mq_time_t now)
{
    if (l->paused)
        return;
    if (mq_linux_ctl(loop, EPOLL_CTL_MOD, &l->h, 0) < 0)
        return;
    l->paused = true;
    loop->n_paused++;
    loop->resume_at = now + MQ_LINUX_PAUSE_MS;
}

static void mq_linux_listeners_resume(mq_linux_loop_t *loop)
{
    for (size_t i = 0; i < loop->n_listeners; i++) {
        mq_linux_listener_t *l = &loop->listeners[i];

        if (l->paused && l->h.fd >= 0 && mq_linux_ctl(loop, EPOLL_CTL_MOD, &l->h, EPOLLIN) == 0) {
            l->paused = false;
            loop->n_paused--;
        }
    }
}

/*
 * Out of descriptors: the pending connection would keep the listener
 * readable forever (level triggering), so give up the spare descriptor,
 * accept the newest connection and close it at once (the client sees an
 * orderly close), then take the spare back. Returns true if accepting may go
 * on; otherwise the listener rests for MQ_LINUX_PAUSE_MS or until a
 * connection closes.
 */
static bool mq_linux_shed(mq_linux_loop_t *loop, mq_linux_listener_t *l, mq_time_t now)
{
    int fd, err;

    if (now - loop->last_shed_log >= 1000 || loop->last_shed_log == 0) {
        mq_linux_logf(loop->log, MQ_LOG_WARNING,
                      "out of file descriptors: refusing new connections");
        loop->last_shed_log = now ? now : 1;
    }
    if (loop->reserve_fd < 0) {
        mq_linux_listener_pause(loop, l, now);
        return false;
    }
    close(loop->reserve_fd);
    fd = accept4(l->h.fd, NULL, NULL, SOCK_CLOEXEC);
    err = errno;
    if (fd >= 0)
        close(fd);
    loop->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (loop->reserve_fd < 0 || (fd < 0 && err != EAGAIN && err != EWOULDBLOCK)) {
        mq_linux_listener_pause(loop, l, now);
        return false;
    }
    return fd >= 0;
}

/* max_connection_rate: takes a token, or counts and (once a second) logs a
 * refusal. */
static bool mq_linux_rate_take(mq_linux_loop_t *loop, mq_linux_listener_t *l, mq_time_t now)
{
    if (now > l->refilled) {
        l->tokens += (double)(now - l->refilled) * l->rate / 1000.0;
        if (l->tokens > l->rate)
            l->tokens = l->rate;
        l->refilled = now;
    }
    if (l->tokens >= 1.0) {
        l->tokens -= 1.0;
        return true;
    }
    loop->stats.rate_refused++;
    if (loop->last_rate_log == 0 || now - loop->last_rate_log >= 1000) {
        mq_linux_logf(loop->log, MQ_LOG_WARNING,
                      "max_connection_rate (%u/s) exceeded on a listener: connection closed "
                      "(%llu refused so far)",
                      l->rate, (unsigned long long)loop->stats.rate_refused);
        loop->last_rate_log = now ? now : 1;
    }
    return false;
}

static void mq_linux_accept(mq_linux_loop_t *loop, mq_linux_listener_t *l, mq_time_t now)
{
    for (;;) {
        int fd = accept4(l->h.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int one = 1;
        mq_linux_conn_t *lc;

        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
#if EWOULDBLOCK != EAGAIN
            case EWOULDBLOCK:
#endif
                return;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
            case EPERM: /* refused by a firewall rule */
                continue;
            case EMFILE:
            case ENFILE:
                if (!mq_linux_shed(loop, l, now))
                    return;
                continue;
            default: /* ENOBUFS, ENOMEM, ...: let the system recover */
                mq_linux_logf(loop->log, MQ_LOG_WARNING, "accept: %s", strerror(errno));
                mq_linux_listener_pause(loop, l, now);
                return;
            }
        }
        if (l->max_conns && l->n_conns >= l->max_conns) {
            /* Per-listener max_connections (Mosquitto 2): refuse at once. */
            mq_linux_logf(loop->log, MQ_LOG_DEBUG, "connection refused: listener limit %u",
                          (unsigned)l->max_conns);
            close(fd);
            continue;
        }
        if (l->rate && !mq_linux_rate_take(loop, l, now)) {
            close(fd);
            continue;
        }
        /* Latency first: never let Nagle hold back a small PUBLISH. Failure
         * only costs latency (and fails on unix sockets), so it is not fatal. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

        lc = calloc(1, sizeof *lc);
        if (!lc) {
            close(fd);
            continue;
        }
        lc->h.kind = MQ_LINUX_CONN;
        lc->h.fd = fd;
        if (l->xl && !(lc->x = mq_linux_xport_new(l->xl, fd))) {
            close(fd);
            free(lc);
            continue;
        }
        lc->c = mq_broker_conn_open(loop->b, lc, now);
        if (!lc->c) {
            /* max_connections or memory: refuse at once. */
            mq_linux_logf(loop->log, MQ_LOG_DEBUG, "connection refused (limit reached)");
            mq_linux_xport_free(lc->x, false);
            close(fd);
            free(lc);
            continue;
        }
        mq_conn_set_listener(lc->c, l->index); /* per-listener authentication */
        lc->events = EPOLLIN;
        if (mq_linux_ctl(loop, EPOLL_CTL_ADD, &lc->h, EPOLLIN) < 0) {
            mq_linux_logf(loop->log, MQ_LOG_ERR, "epoll_ctl(add): %s", strerror(errno));
            mq_linux_xport_free(lc->x, false);
            close(fd);
            mq_broker_conn_lost(loop->b, lc->c, now);
            free(lc);
            continue;
        }
        lc->next = loop->conns;
        if (loop->conns)
            loop->conns->prev = lc;
        loop->conns = lc;
        lc->listener = l;
        l->n_conns++;
    }
}

/* ---- signals ----------------------------------------------------------- */

static void mq_linux_signal(mq_linux_loop_t *loop)
{
    struct signalfd_siginfo si;

    while (read(loop->sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP || si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) {
            loop->pending_signals |= 1u << si.ssi_signo;
            continue;
        }
        mq_linux_logf(loop->log, MQ_LOG_NOTICE, "%s received, shutting down",
                      si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        loop->stop = true;
    }
}

/* SIGHUP, then SIGUSR1, then SIGUSR2, to the hook (main's reload etc.). */
static void mq_linux_signals_deliver(mq_linux_loop_t *loop)
{
    static const int order[] = {SIGHUP, SIGUSR1, SIGUSR2};
    uint32_t pending = loop->pending_signals;

    loop->pending_signals = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if ((pending & (1u << order[i])) && loop->on_signal)
            loop->on_signal(loop->on_signal_ctx, order[i]);
}

void mq_linux_loop_on_signal(mq_linux_loop_t *loop, mq_linux_signal_fn fn, void *ctx)
{
    loop->on_signal = fn;
    loop->on_signal_ctx = ctx;
}

/* ---- the loop ---------------------------------------------------------- */

/*
 * After a crowd of clients left, RSS would otherwise stay at its peak:
 * the core keeps freed objects cached and malloc keeps freed pages. Checked
 * once per iteration (one load and compare). Returns the deadline, moved
 * earlier when a handback is planned.
 */
static mq_time_t mq_linux_trim(mq_linux_loop_t *loop, mq_time_t now, mq_time_t deadline)
{
    uint64_t used = mq_broker_memory(loop->b);
    uint64_t drop;

    if (used > loop->trim_hi)
        loop->trim_hi = used;
    drop = loop->trim_hi - used;
    if (drop < MQ_LINUX_TRIM_MIN_DROP || drop < loop->trim_hi / 4) {
        loop->trim_at = 0;
        return deadline;
    }
    if (loop->trim_at == 0)
        loop->trim_at = now + MQ_LINUX_TRIM_DELAY_MS;
    if (now >= loop->trim_at) {
        mq_broker_trim(loop->b);
#if defined(__GLIBC__)
        malloc_trim(0);
#endif
        mq_linux_logf(loop->log, MQ_LOG_DEBUG, "memory handed back: %llu kB in use, was %llu kB",
                      (unsigned long long)(used / 1024),
                      (unsigned long long)(loop->trim_hi / 1024));
        loop->trim_hi = used;
        loop->trim_at = 0;
        return deadline;
    }
    return loop->trim_at < deadline ? loop->trim_at : deadline;
}

/*
 * Runs the core's timers, then sends what every connection has pending.
 * Closing a connection can give the core new work (a will to deliver, a
 * session timer), so it goes round again until a pass closes nothing.
 * Returns the next deadline.
 */
static mq_time_t mq_linux_service(mq_linux_loop_t *loop, mq_time_t now)
{
    mq_time_t deadline;
    uint64_t closed;

    while (loop->deferred) {
        mq_linux_conn_t *lc = loop->deferred;

        loop->deferred = lc->defer_next;
        lc->deferred = false;
        mq_linux_conn_flush(loop, lc, now);
    }
    do {
        mq_conn_t *c;

        closed = loop->n_closed;
        deadline = mq_broker_tick(loop->b, now);
        while ((c = mq_broker_pending(loop->b)) != NULL) {
            mq_linux_conn_t *lc = mq_conn_user(c);

            /* Socket full: its EPOLLOUT event will flush it. But if the core
             * dropped the output (close_timeout), close it now: a peer that
             * never reads would never make the socket writable. */
            if ((lc->events & EPOLLOUT) && mq_conn_out_size(c) > 0)
                continue;
            /* The same for TLS/WebSockets: the core has nothing left, the
             * socket is still full with the transport's last bytes, and the
             * core reports the connection again (close_timeout): give up. */
            if (lc->x && (lc->events & EPOLLOUT) && mq_conn_closing(c)) {
                mq_linux_conn_linger(loop, lc, now);
                continue;
            }
            mq_linux_conn_flush(loop, lc, now);
        }
    } while (closed != loop->n_closed);
    while (loop->linger_head && loop->linger_head->linger_until <= now)
        mq_linux_linger_end(loop, loop->linger_head);
    if (loop->linger_head && loop->linger_head->linger_until < deadline)
        deadline = loop->linger_head->linger_until;
    return mq_linux_trim(loop, now, deadline);
}

static int mq_linux_timeout(const mq_linux_loop_t *loop, mq_time_t deadline, mq_time_t now)
{
    mq_time_t next = deadline;

    if (loop->n_paused && loop->resume_at < next)
        next = loop->resume_at;
    if (next == MQ_TIME_NEVER)
        return -1;
    if (next <= now)
        return 0;
    /* now was truncated to the millisecond, so waiting next-now from the
     * real time never wakes before the deadline. */
    return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

static void mq_linux_watches_reap(mq_linux_loop_t *loop)
{
    while (loop->dead_watches) {
        mq_linux_watch_t *w = loop->dead_watches;

        loop->dead_watches = w->next_dead;
        free(w);
    }
}

int mq_linux_loop_run(mq_linux_loop_t *loop)
{
    struct epoll_event ev[MQ_LINUX_MAX_EVENTS];
    mq_time_t now = mq_linux_now();
    mq_time_t deadline = mq_linux_service(loop, now);

    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, ev, MQ_LINUX_MAX_EVENTS,
                           mq_linux_timeout(loop, deadline, now));
        uint64_t now_us = 0, pubs = 0;

        if (n < 0) {
            if (errno != EINTR) {
                mq_linux_logf(loop->log, MQ_LOG_ERR, "epoll_wait: %s", strerror(errno));
                return MQ_EIO;
            }
            n = 0;
        }
        if (loop->stats.measure) {
            /* Publish latency: this clock read is the iteration's `now`;
             * one more after the writes, only if a PUBLISH came in. */
            now_us = mq_linux_now_us();
            now = now_us / 1000u;
            pubs = mq_broker_publishes_received(loop->b);
        } else {
            now = mq_linux_now();
        }
        if (loop->n_paused && now >= loop->resume_at)
            mq_linux_listeners_resume(loop);
        for (int i = 0; i < n; i++) {
            mq_linux_handle_t *h = ev[i].data.ptr;

            switch (h->kind) {
            case MQ_LINUX_CONN:
                mq_linux_conn_event(loop, (mq_linux_conn_t *)h, ev[i].events, now);
                break;
            case MQ_LINUX_LISTENER:
                mq_linux_accept(loop, (mq_linux_listener_t *)h, now);
                break;
            case MQ_LINUX_WATCH: {
                mq_linux_watch_t *w = (mq_linux_watch_t *)h;

                if (w->cb)
                    w->cb(w->ctx, ev[i].events, now);
                break;
            }
            default:
                mq_linux_signal(loop);
                break;
            }
            /* Few ready sockets: send now rather than after the other
             * reads. Many: coalesce, one writev per connection per batch. */
            if (n <= MQ_LINUX_EAGER_EVENTS && i + 1 < n)
                mq_linux_flush_early(loop);
        }
        if (loop->pending_signals)
            mq_linux_signals_deliver(loop);
        deadline = mq_linux_service(loop, now);
        if (loop->stats.measure) {
            uint64_t got = mq_broker_publishes_received(loop->b) - pubs;

            if (got)
                mq_linux_latency_observe(&loop->stats, mq_linux_now_us() - now_us, got);
        }
        mq_linux_watches_reap(loop);
    }
    return MQ_OK;
}

/* ---- setup and teardown ------------------------------------------------ */

mq_linux_loop_t *mq_linux_loop_new(mq_broker_t *b, const mq_linux_log_t *log)
{
    mq_linux_loop_t *loop = calloc(1, sizeof *loop);
    struct sigaction sa;
    sigset_t set;

    if (!loop) {
        mq_linux_logf(log, MQ_LOG_ERR, "out of memory");
        return NULL;
    }
    loop->b = b;
    loop->log = log;
    loop->epfd = -1;
    loop->sig.fd = -1;
    loop->sig.kind = MQ_LINUX_SIGNAL;
    loop->reserve_fd = -1;
    loop->buf = malloc(MQ_LINUX_READ_BUF);
    if (!loop->buf) {
        mq_linux_logf(log, MQ_LOG_ERR, "out of memory");
        goto fail;
    }

    /* A peer that resets while we write must give EPIPE, not kill us. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);

    /* A shell starting us in the background may have set SIGINT to
     * SIG_IGN, and an ignored signal never reaches a signalfd. */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    /* Blocked once, here, and read through the signalfd: the loop never
     * touches the signal mask again. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);  /* reload (on_signal) */
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "sigprocmask: %s", strerror(errno));
        goto fail;
    }
    loop->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (loop->sig.fd < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "signalfd: %s", strerror(errno));
        goto fail;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    if (mq_linux_ctl(loop, EPOLL_CTL_ADD, &loop->sig, EPOLLIN) < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "epoll_ctl(signalfd): %s", strerror(errno));
        goto fail;
    }
    /* Without a spare, EMFILE pauses listeners instead of shedding. */
    loop->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return loop;
fail:
    mq_linux_loop_free(loop);
    return NULL;
}

int mq_linux_loop_add_listener(mq_linux_loop_t *loop, int fd, uint16_t index,
                               mq_linux_xport_listener_t *xl)
{
    mq_linux_listener_t *l = NULL;

    /* A removed listener's slot is reused once its last connection closed
     * (the connections point to it). */
    for (size_t i = 0; i < loop->n_listeners && !l; i++)
        if (loop->listeners[i].h.fd < 0 && loop->listeners[i].n_conns == 0)
            l = &loop->listeners[i];
    if (!l && loop->n_listeners >= MQ_LINUX_MAX_LISTENERS) {
        close(fd);
        return MQ_ELIMIT;
    }
    if (!l)
        l = &loop->listeners[loop->n_listeners];
    memset(l, 0, sizeof *l);
    l->h.kind = MQ_LINUX_LISTENER;
    l->h.fd = fd;
    l->index = index;
    l->xl = xl;
    if (mq_linux_ctl(loop, EPOLL_CTL_ADD, &l->h, EPOLLIN) < 0) {
        mq_linux_logf(loop->log, MQ_LOG_ERR, "epoll_ctl(listener): %s", strerror(errno));
        close(fd);
        l->h.fd = -1;
        return MQ_EIO;
    }
    if (l == &loop->listeners[loop->n_listeners])
        loop->n_listeners++;
    return MQ_OK;
}

static mq_linux_listener_t *mq_linux_listener_by_fd(mq_linux_loop_t *loop, int fd)
{
    for (size_t i = 0; i < loop->n_listeners; i++)
        if (fd >= 0 && loop->listeners[i].h.fd == fd)
            return &loop->listeners[i];
    return NULL;
}

int mq_linux_loop_listener_limit(mq_linux_loop_t *loop, int fd, uint32_t max_conns)
{
    mq_linux_listener_t *l = mq_linux_listener_by_fd(loop, fd);

    if (!l)
        return MQ_EINVAL;
    l->max_conns = max_conns;
    return MQ_OK;
}

int mq_linux_loop_remove_listener(mq_linux_loop_t *loop, int fd)
{
    mq_linux_listener_t *l = mq_linux_listener_by_fd(loop, fd);

    if (!l)
        return MQ_EINVAL;
    if (l->paused)
        loop->n_paused--;
    l->paused = false;
    close(l->h.fd); /* also leaves epoll; its connections stay open */
    l->h.fd = -1;
    return MQ_OK;
}

int mq_linux_loop_tls_reload(mq_linux_loop_t *loop)
{
    int rc = MQ_OK;

    for (size_t i = 0; i < loop->n_listeners; i++) {
        mq_linux_tls_t *tls = mq_linux_xport_listener_tls(loop->listeners[i].xl);
        bool seen = false;

        /* A listener bound to several addresses shares one context. */
        for (size_t j = 0; j < i && !seen; j++)
            seen = loop->listeners[j].xl == loop->listeners[i].xl;
        if (tls && !seen && mq_linux_tls_reload(tls) != MQ_OK)
            rc = MQ_ECONFIG;
    }
    return rc;
}

void mq_linux_loop_free(mq_linux_loop_t *loop)
{
    mq_time_t now;

    if (!loop)
        return;
    now = mq_linux_now();
    while (loop->conns)
        mq_linux_conn_close(loop, loop->conns, now);
    while (loop->linger_head)
        mq_linux_linger_end(loop, loop->linger_head);
    mq_linux_watches_reap(loop);
    for (size_t i = 0; i < loop->n_listeners; i++)
        if (loop->listeners[i].h.fd >= 0)
            close(loop->listeners[i].h.fd);
    if (loop->sig.fd >= 0)
        close(loop->sig.fd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    if (loop->reserve_fd >= 0)
        close(loop->reserve_fd);
    free(loop->buf);
    free(loop);
}

/* ---- observability and overload protection ------------------------------ */

int mq_linux_loop_set_connection_rate(mq_linux_loop_t *loop, int fd, uint32_t per_second)
{
    for (size_t i = 0; i < loop->n_listeners; i++) {
        mq_linux_listener_t *l = &loop->listeners[i];

        if (l->h.fd == fd) {
            l->rate = per_second;
            l->tokens = per_second; /* a full bucket: a first burst is fine */
            l->refilled = mq_linux_now();
            return MQ_OK;
        }
    }
    return MQ_EINVAL;
}

mq_linux_stats_t *mq_linux_loop_stats(mq_linux_loop_t *loop)
{
    return &loop->stats;
}

mq_linux_watch_t *mq_linux_loop_add_fd(mq_linux_loop_t *loop, int fd, uint32_t events,
                                       mq_linux_watch_fn cb, void *ctx)
{
    mq_linux_watch_t *w = calloc(1, sizeof *w);

    if (!w) {
        mq_linux_logf(loop->log, MQ_LOG_ERR, "out of memory");
        return NULL;
    }
    w->h.kind = MQ_LINUX_WATCH;
    w->h.fd = fd;
    w->cb = cb;
    w->ctx = ctx;
    if (mq_linux_ctl(loop, EPOLL_CTL_ADD, &w->h, events) < 0) {
        mq_linux_logf(loop->log, MQ_LOG_ERR, "epoll_ctl(add fd %d): %s", fd, strerror(errno));
        free(w);
        return NULL;
    }
    return w;
}

int mq_linux_loop_mod_fd(mq_linux_loop_t *loop, mq_linux_watch_t *w, uint32_t events)
{
    if (mq_linux_ctl(loop, EPOLL_CTL_MOD, &w->h, events) < 0) {
        mq_linux_logf(loop->log, MQ_LOG_ERR, "epoll_ctl(mod fd %d): %s", w->h.fd,
                      strerror(errno));
        return MQ_EIO;
    }
    return MQ_OK;
}

void mq_linux_loop_del_fd(mq_linux_loop_t *loop, mq_linux_watch_t *w)
{
    if (!w)
        return;
    (void)mq_linux_ctl(loop, EPOLL_CTL_DEL, &w->h, 0);
    /* A later event of this batch may still point here: free it after. */
    w->cb = NULL;
    w->next_dead = loop->dead_watches;
    loop->dead_watches = w;
}

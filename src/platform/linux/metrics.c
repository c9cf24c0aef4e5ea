/*
 * metrics — see metrics.h.
 *
 * The HTTP it speaks is the smallest that Prometheus, curl and a browser
 * need: one request per connection, read until the blank line that ends
 * the headers (at most MQ_LINUX_METRICS_REQ_MAX bytes, else 431), request
 * line "METHOD SP TARGET SP HTTP/1.x"; GET /metrics (a query string is
 * ignored) gets 200 with the text format, another GET target 404, another
 * method 405 with "Allow: GET", anything unparsable 400. Every response
 * says Connection: close and the socket closes once it is written. A
 * client that has not got its response within MQ_LINUX_METRICS_TIMEOUT_MS
 * of its accept is closed.
 */
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "musqratt/error.h"
#include "sys.h"

#ifndef MQ_VERSION
#define MQ_VERSION "unknown"
#endif

typedef struct mq_linux_metrics_client {
    mq_linux_metrics_t *m;
    int fd;                 /* -1: slot free */
    mq_linux_watch_t *w;
    mq_time_t deadline;
    size_t in_len;
    char in[MQ_LINUX_METRICS_REQ_MAX];
    char *out;              /* the response, malloc'd */
    size_t out_len, out_off;
    bool draining;          /* response sent, write side shut: reading to EOF */
} mq_linux_metrics_client_t;

struct mq_linux_metrics {
    mq_linux_loop_t *loop;
    mq_broker_t *b;
    const mq_linux_log_t *log;
    mq_time_t start_time;
    int lfd;
    mq_linux_watch_t *lw;
    int tfd;                /* timerfd: ticks once a second while clients are open */
    mq_linux_watch_t *tw;
    bool timer_on;
    size_t n_open;
    mq_linux_metrics_client_t clients[MQ_LINUX_METRICS_CLIENTS];
};

/* ---- the body ------------------------------------------------------------ */

typedef struct mq_linux_text {
    char *p;
    size_t len, cap;
    bool failed;
} mq_linux_text_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void mq_linux_text_add(mq_linux_text_t *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *np = realloc(t->p, cap);

        if (!np) {
            t->failed = true;
            return;
        }
        t->p = np;
        t->cap = cap;
    }
}

static void mq_linux_metric(mq_linux_text_t *t, const char *name, const char *type,
                            const char *help, uint64_t v)
{
    mq_linux_text_add(t, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                      (unsigned long long)v);
}

char *mq_linux_metrics_render(mq_broker_t *b, const mq_linux_stats_t *ps, mq_time_t uptime_ms,
                              size_t *len)
{
    mq_linux_text_t t = {malloc(8192), 0, 8192, false};
    mq_broker_stats_t st;
    uint64_t cum = 0;

    if (!t.p)
        return NULL;
    mq_broker_stats(b, &st);
    mq_linux_text_add(&t,
                      "# HELP musqratt_build_info The musqratt version.\n"
                      "# TYPE musqratt_build_info gauge\n"
                      "musqratt_build_info{version=\"%s\"} 1\n",
                      MQ_VERSION);
    mq_linux_metric(&t, "musqratt_uptime_seconds", "gauge", "Seconds since the broker started.",
                    uptime_ms / 1000u);
    mq_linux_metric(&t, "musqratt_clients_connected", "gauge",
                    "Clients connected (past CONNECT, not closing).", st.clients_connected);
    mq_linux_metric(&t, "musqratt_clients_disconnected", "gauge",
                    "Persistent sessions whose client is not connected.",
                    st.sessions > st.clients_connected ? st.sessions - st.clients_connected : 0);
    mq_linux_metric(&t, "musqratt_clients_maximum", "gauge",
                    "The most clients connected at once.", st.clients_maximum);
    mq_linux_metric(&t, "musqratt_clients_expired_total", "counter",
                    "Offline sessions ended by their expiry.", st.clients_expired);
    mq_linux_metric(&t, "musqratt_sessions", "gauge", "Sessions, connected or not.", st.sessions);
    mq_linux_metric(&t, "musqratt_connections_open", "gauge",
                    "Open MQTT connections, before and after CONNECT.", st.connections);
    mq_linux_metric(&t, "musqratt_connections_accepted_total", "counter",
                    "Connections accepted by the listeners.", st.sockets);
    mq_linux_metric(&t, "musqratt_connections_refused_total", "counter",
                    "Connections refused by max_connections or for memory.", st.conns_refused);
    mq_linux_metric(&t, "musqratt_connections_rate_limited_total", "counter",
                    "Connections closed at accept by max_connection_rate.", ps->rate_refused);
    mq_linux_metric(&t, "musqratt_subscriptions", "gauge", "Subscriptions.", st.subscriptions);
    mq_linux_metric(&t, "musqratt_shared_subscriptions", "gauge",
                    "Members of shared subscription groups.", st.shared_subscriptions);
    mq_linux_metric(&t, "musqratt_retained_messages", "gauge", "Retained messages.",
                    st.retained);
    mq_linux_metric(&t, "musqratt_messages_received_total", "counter", "PUBLISH packets received.",
                    st.msgs_received);
    mq_linux_metric(&t, "musqratt_messages_sent_total", "counter", "PUBLISH packets sent.",
                    st.msgs_sent);
    mq_linux_metric(&t, "musqratt_messages_dropped_total", "counter",
                    "Deliveries dropped by queue, size and memory limits.", st.msgs_dropped);
    mq_linux_metric(&t, "musqratt_messages_quota_dropped_total", "counter",
                    "Deliveries refused by max_queued_memory.", st.quota_dropped);
    mq_linux_metric(&t, "musqratt_publish_denied_total", "counter",
                    "PUBLISH packets and wills refused because their topic is in $SYS.",
                    st.sys_denied);
    mq_linux_metric(&t, "musqratt_packets_received_total", "counter",
                    "MQTT packets of every type received.", st.packets_received);
    mq_linux_metric(&t, "musqratt_packets_sent_total", "counter",
                    "MQTT packets of every type sent.", st.packets_sent);
    mq_linux_metric(&t, "musqratt_bytes_received_total", "counter", "Bytes read from clients.",
                    st.bytes_received);
    mq_linux_metric(&t, "musqratt_bytes_sent_total", "counter", "Bytes written to clients.",
                    st.bytes_sent);
    mq_linux_metric(&t, "musqratt_publish_bytes_received_total", "counter",
                    "PUBLISH payload bytes received.", st.pub_bytes_received);
    mq_linux_metric(&t, "musqratt_publish_bytes_sent_total", "counter",
                    "PUBLISH payload bytes sent.", st.pub_bytes_sent);
    mq_linux_metric(&t, "musqratt_store_messages", "gauge",
                    "Messages held: retained, queued, in flight, being written.", st.stored_msgs);
    mq_linux_metric(&t, "musqratt_store_bytes", "gauge", "Payload bytes of the messages held.",
                    st.stored_bytes);
    mq_linux_metric(&t, "musqratt_queued_memory_bytes", "gauge",
                    "Bytes held by queued and inflight deliveries (max_queued_memory).",
                    st.queued_memory);
    mq_linux_metric(&t, "musqratt_memory_bytes", "gauge", "Bytes the broker core holds.",
                    st.memory_used);
    mq_linux_metric(&t, "musqratt_memory_peak_bytes", "gauge",
                    "The most bytes the broker core held.", st.memory_peak);
    mq_linux_text_add(&t,
                      "# HELP musqratt_publish_latency_seconds From reading a PUBLISH to "
                      "writing its deliveries (upper bound: the loop iteration).\n"
                      "# TYPE musqratt_publish_latency_seconds histogram\n");
    for (unsigned i = 0; i < MQ_LINUX_LAT_BUCKETS; i++) {
        cum += ps->lat_count[i];
        mq_linux_text_add(&t, "musqratt_publish_latency_seconds_bucket{le=\"%g\"} %llu\n",
                          mq_linux_lat_bounds_us[i] / 1e6, (unsigned long long)cum);
    }
    cum += ps->lat_count[MQ_LINUX_LAT_BUCKETS];
    mq_linux_text_add(&t, "musqratt_publish_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                      (unsigned long long)cum);
    mq_linux_text_add(&t, "musqratt_publish_latency_seconds_sum %.6f\n",
                      (double)ps->lat_sum_us / 1e6);
    mq_linux_text_add(&t, "musqratt_publish_latency_seconds_count %llu\n",
                      (unsigned long long)ps->lat_total);
    if (t.failed) {
        free(t.p);
        return NULL;
    }
    *len = t.len;
    return t.p;
}

/* ---- clients ------------------------------------------------------------- */

static void mq_linux_metrics_timer(mq_linux_metrics_t *m, bool on)
{
    struct itimerspec its;

    if (m->timer_on == on)
        return;
    memset(&its, 0, sizeof its);
    if (on) {
        its.it_value.tv_sec = 1;
        its.it_interval.tv_sec = 1;
    }
    if (timerfd_settime(m->tfd, 0, &its, NULL) == 0)
        m->timer_on = on;
}

static void mq_linux_metrics_close(mq_linux_metrics_client_t *cl)
{
    mq_linux_metrics_t *m = cl->m;

    mq_linux_loop_del_fd(m->loop, cl->w);
    close(cl->fd);
    free(cl->out);
    cl->fd = -1;
    cl->w = NULL;
    cl->out = NULL;
    m->n_open--;
    if (m->n_open == 0)
        mq_linux_metrics_timer(m, false);
}

/* Writes what the socket takes; closes once all is out or on error. */
static void mq_linux_metrics_write(mq_linux_metrics_client_t *cl)
{
    while (cl->out_off < cl->out_len) {
        ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (mq_linux_loop_mod_fd(cl->m->loop, cl->w, EPOLLOUT) != MQ_OK)
                    break;
                return;
            }
            break;
        }
        cl->out_off += (size_t)n;
    }
    if (cl->out_off == cl->out_len && shutdown(cl->fd, SHUT_WR) == 0 &&
        mq_linux_loop_mod_fd(cl->m->loop, cl->w, EPOLLIN) == MQ_OK) {
        /* Closing with unread input (an oversized request) would send a
         * reset that can destroy the response: read to EOF first, within
         * the client's deadline. */
        cl->draining = true;
        return;
    }
    mq_linux_metrics_close(cl);
}

static void mq_linux_metrics_respond(mq_linux_metrics_client_t *cl, const char *status,
                                     const char *extra, const char *type, const char *body,
                                     size_t body_len)
{
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                      "Connection: close\r\n\r\n",
                      status, type, body_len, extra);

    cl->out = malloc((size_t)hn + body_len);
    if (!cl->out) {
        mq_linux_metrics_close(cl);
        return;
    }
    memcpy(cl->out, head, (size_t)hn);
    memcpy(cl->out + hn, body, body_len);
    cl->out_len = (size_t)hn + body_len;
    cl->out_off = 0;
    mq_linux_metrics_write(cl);
}

static void mq_linux_metrics_error(mq_linux_metrics_client_t *cl, const char *status,
                                   const char *extra)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%s\n", status);

    mq_linux_metrics_respond(cl, status, extra, "text/plain; charset=utf-8", body, (size_t)n);
}

/* The request is complete (headers end at in[0..end)): answers it. */
static void mq_linux_metrics_request(mq_linux_metrics_client_t *cl, size_t end)
{
    const char *line = cl->in;
    const char *eol = memchr(line, '\r', end);
    const char *sp1, *sp2;
    size_t mlen, tlen;

    if (!eol)
        eol = line + end;
    sp1 = memchr(line, ' ', (size_t)(eol - line));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || (size_t)(eol - sp2 - 1) != 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        mq_linux_metrics_error(cl, "400 Bad Request", "");
        return;
    }
    mlen = (size_t)(sp1 - line);
    tlen = (size_t)(sp2 - sp1 - 1);
    if (mlen != 3 || memcmp(line, "GET", 3) != 0) {
        mq_linux_metrics_error(cl, "405 Method Not Allowed", "Allow: GET\r\n");
        return;
    }
    /* "/metrics" or "/metrics?anything" */
    if (tlen < 8 || memcmp(sp1 + 1, "/metrics", 8) != 0 || (tlen > 8 && sp1[9] != '?')) {
        mq_linux_metrics_error(cl, "404 Not Found", "");
        return;
    }
    size_t blen;
    mq_time_t now = mq_linux_now();
    char *body = mq_linux_metrics_render(cl->m->b, mq_linux_loop_stats(cl->m->loop),
                                         now > cl->m->start_time ? now - cl->m->start_time : 0,
                                         &blen);

    if (!body) {
        mq_linux_metrics_error(cl, "500 Internal Server Error", "");
        return;
    }
    mq_linux_metrics_respond(cl, "200 OK", "", "text/plain; version=0.0.4; charset=utf-8", body,
                             blen);
    free(body);
}

static void mq_linux_metrics_client_event(void *ctx, uint32_t events, mq_time_t now)
{
    mq_linux_metrics_client_t *cl = ctx;

    (void)now;
    if (cl->draining) {
        char sink[1024];
        ssize_t n;

        while ((n = recv(cl->fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            mq_linux_metrics_close(cl);
        return;
    }
    if (cl->out) { /* writing the response */
        mq_linux_metrics_write(cl);
        return;
    }
    for (;;) {
        ssize_t n = recv(cl->fd, cl->in + cl->in_len, sizeof cl->in - cl->in_len, MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) { /* EOF or error before a whole request */
            mq_linux_metrics_close(cl);
            return;
        }
        size_t from = cl->in_len > 3 ? cl->in_len - 3 : 0;
        cl->in_len += (size_t)n;
        const char *end = memmem(cl->in + from, cl->in_len - from, "\r\n\r\n", 4);

        if (end) {
            mq_linux_metrics_request(cl, (size_t)(end - cl->in));
            return;
        }
        if (cl->in_len == sizeof cl->in) {
            mq_linux_metrics_error(cl, "431 Request Header Fields Too Large", "");
            return;
        }
    }
    (void)events;
}

static void mq_linux_metrics_accept(void *ctx, uint32_t events, mq_time_t now)
{
    mq_linux_metrics_t *m = ctx;

    (void)events;
    for (;;) {
        int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        mq_linux_metrics_client_t *cl = NULL;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or out of descriptors: the MQTT side matters more */
        }
        for (size_t i = 0; i < MQ_LINUX_METRICS_CLIENTS; i++)
            if (m->clients[i].fd < 0) {
                cl = &m->clients[i];
                break;
            }
        if (!cl) { /* busy: a scraper retries */
            close(fd);
            continue;
        }
        cl->fd = fd;
        cl->in_len = 0;
        cl->out = NULL;
        cl->draining = false;
        cl->deadline = now + MQ_LINUX_METRICS_TIMEOUT_MS;
        cl->w = mq_linux_loop_add_fd(m->loop, fd, EPOLLIN, mq_linux_metrics_client_event, cl);
        if (!cl->w) {
            close(fd);
            cl->fd = -1;
            continue;
        }
        m->n_open++;
        mq_linux_metrics_timer(m, true);
    }
}

static void mq_linux_metrics_tick(void *ctx, uint32_t events, mq_time_t now)
{
    mq_linux_metrics_t *m = ctx;
    uint64_t expirations;

    (void)events;
    while (read(m->tfd, &expirations, sizeof expirations) > 0) {
    }
    for (size_t i = 0; i < MQ_LINUX_METRICS_CLIENTS; i++) {
        mq_linux_metrics_client_t *cl = &m->clients[i];

        if (cl->fd >= 0 && now >= cl->deadline)
            mq_linux_metrics_close(cl);
    }
}

/* ---- setup ----------------------------------------------------------------- */

static int mq_linux_metrics_bind(const char *address, uint16_t port, const mq_linux_log_t *log)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    char port_str[8], host[INET6_ADDRSTRLEN] = "?";
    int one = 1, fd = -1, rc;

    memset(&hints, 0, sizeof hints);
    memset(&ss, 0, sizeof ss);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port_str, sizeof port_str, "%u", (unsigned)port);
    rc = getaddrinfo(address, port_str, &hints, &res);
    if (rc != 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "metrics_listener: cannot resolve '%s': %s", address,
                      gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                res->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "metrics_listener: cannot listen on %s port %u: %s",
                      address, (unsigned)port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (void *)&ss;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        fprintf(stderr, "musqratt: metrics on http://%s:%u/metrics\n", host,
                ntohs(in->sin_port));
    } else {
        struct sockaddr_in6 *in6 = (void *)&ss;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        fprintf(stderr, "musqratt: metrics on http://[%s]:%u/metrics\n", host,
                ntohs(in6->sin6_port));
    }
    return fd;
}

mq_linux_metrics_t *mq_linux_metrics_new(mq_linux_loop_t *loop, mq_broker_t *b,
                                         const char *address, uint16_t port,
                                         mq_time_t start_time, const mq_linux_log_t *log)
{
    mq_linux_metrics_t *m = calloc(1, sizeof *m);

    if (!m) {
        mq_linux_logf(log, MQ_LOG_ERR, "out of memory");
        return NULL;
    }
    m->loop = loop;
    m->b = b;
    m->log = log;
    m->start_time = start_time;
    m->tfd = -1;
    for (size_t i = 0; i < MQ_LINUX_METRICS_CLIENTS; i++) {
        m->clients[i].fd = -1;
        m->clients[i].m = m;
    }
    m->lfd = mq_linux_metrics_bind(address, port, log);
    if (m->lfd < 0)
        goto fail;
    m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (m->tfd < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "timerfd_create: %s", strerror(errno));
        goto fail;
    }
    m->lw = mq_linux_loop_add_fd(loop, m->lfd, EPOLLIN, mq_linux_metrics_accept, m);
    m->tw = mq_linux_loop_add_fd(loop, m->tfd, EPOLLIN, mq_linux_metrics_tick, m);
    if (!m->lw || !m->tw)
        goto fail;
    mq_linux_loop_stats(loop)->measure = true;
    return m;
fail:
    mq_linux_metrics_free(m);
    return NULL;
}

void mq_linux_metrics_free(mq_linux_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < MQ_LINUX_METRICS_CLIENTS; i++)
        if (m->clients[i].fd >= 0)
            mq_linux_metrics_close(&m->clients[i]);
    mq_linux_loop_del_fd(m->loop, m->lw);
    mq_linux_loop_del_fd(m->loop, m->tw);
    if (m->lfd >= 0)
        close(m->lfd);
    if (m->tfd >= 0)
        close(m->tfd);
    free(m);
}

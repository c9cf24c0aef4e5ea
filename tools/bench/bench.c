/*
 * musqratt-bench — publish-to-deliver latency, throughput and footprint of any
 * MQTT broker on loopback, and of the floor (tools/bench/relay.c, or a direct
 * socket pair with no middle process).
 *
 * Owns: its client sockets, one epoll instance, the per-run tracking state.
 * Never: more than one thread (the broker gets the other core), a send to a
 * non-loopback address, a result without its correctness check: every
 * delivery is matched against (publisher, sequence) and lost, duplicated and
 * out-of-order deliveries make the run INVALID (exit status 1).
 *
 * Hot paths: run_loop -> conn_read -> handle_packet (every delivery, one
 * clock_gettime per read() not per message) and publish_one (every send).
 *
 * How a run goes: connect and handshake every client (blocking, in order),
 * then one level-triggered epoll loop drives all publishers and subscribers.
 * Paced: one message in flight in the whole system; the next PUBLISH leaves
 * only when every subscriber got the previous one and every QoS 1/2 flow of it
 * (both sides) is complete. Unpaced: each publisher keeps up to --window
 * messages outstanding (a message is outstanding until every subscriber got it
 * and the publisher's own QoS flow ended), for --duration seconds.
 *
 * Raw modes (--relay, --direct): no MQTT handshakes; the PUBLISH bytes a
 * publisher writes arrive as-is at its paired subscriber, whose acks travel
 * back to the publisher, so QoS 1 and 2 flows complete end to end through one
 * copying hop (relay) or none (direct).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "wire.h"

#define MQB_PUB 0
#define MQB_SUB 1
#define MQB_RBUF_SUB (256u * 1024u)
#define MQB_RBUF_PUB (64u * 1024u)
#define MQB_MAX_CLIENTS 1024u
#define MQB_SETUP_TIMEOUT_MS 5000

enum mqb_scenario { SC_1TO1, SC_FANIN, SC_FANOUT, SC_PAIRS, SC_WILDCARD, SC_IDLE, SC_RETAINED };
static const char *const mqb_scenario_names[] = {"1to1",     "fanin", "fanout",  "pairs",
                                                 "wildcard", "idle",  "retained"};
enum mqb_target { TG_BROKER, TG_RELAY, TG_DIRECT };

typedef struct mqb_opts {
    const char *host;
    uint16_t port;
    enum mqb_target target;
    enum mqb_scenario scenario;
    bool paced;
    uint8_t qos;
    uint8_t level; /* 4 = MQTT 3.1.1, 5 = MQTT 5 */
    unsigned clients;
    uint64_t count;
    uint64_t warmup;
    double duration;
    double warmup_time;
    unsigned window;
    size_t payload;
    long broker_pid;
    const char *json;
    const char *hist;
    const char *label;
    unsigned stall_ms;
    bool quiet;
} mqb_opts_t;

/* Per (subscriber, publisher) pair: which sequence numbers arrived. */
typedef struct mqb_track {
    uint8_t *bits;
    uint64_t cap_bits;
    uint64_t next; /* one past the highest sequence seen */
    uint64_t unique, dup, reorder;
} mqb_track_t;

typedef struct mqb_conn {
    int fd;
    int role;
    unsigned idx;
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *wbuf;
    size_t wlen, woff, wcap;
    bool pollout;
    /* publisher */
    char topic[128];
    size_t topic_len;
    uint64_t sent, done_upto;
    uint32_t *remaining; /* ring of window slots: deliveries + own ack still due */
    uint8_t *acked;
    uint32_t nexp; /* subscribers that match this publisher's topic */
    /* subscriber */
    uint32_t qos2_open;
    uint64_t delivered;
} mqb_conn_t;

typedef struct mqb_run {
    mqb_opts_t o;
    mqb_conn_t *pubs;
    mqb_conn_t *subs;
    unsigned npub, nsub;
    bool *match; /* [sub * npub + pub] */
    mqb_track_t *track;
    int ep;
    mq_bench_hist_t hist;
    uint8_t *filler;
    unsigned window; /* per publisher */
    uint64_t rec_start_ns, rec_end_ns;
    uint64_t deliveries, bad, proto_errors;
    uint64_t last_rx_ns;
    bool stalled;
    char prefix[64];
} mqb_run_t;

typedef struct mqb_result {
    uint64_t sent, expected, received, lost, dup, reorder, bad;
    double elapsed_s, rate;
    double cpu_us_per_msg;
    long rss_kb, rss_after_kb, rss_closed_kb;
    double bytes_per_conn;
    unsigned conns;
    bool valid;
    const char *why;
} mqb_result_t;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "musqratt-bench: error: %s%s%s\n", what, errno ? ": " : "",
            errno ? strerror(errno) : "");
    exit(2);
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);

    if (!p)
        die("out of memory");
    return p;
}

/* ---- broker accounting from /proc ---- */

/* Sum of on-CPU time of every thread, in ns (schedstat is ns-precise; stat's
 * ticks are the fallback). Returns -1 when unknown. */
static int64_t broker_cpu_ns(long pid)
{
    char path[64], buf[256];
    DIR *d;
    struct dirent *e;
    int64_t sum = 0;
    bool any = false;
    FILE *f;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%ld/task", pid);
    d = opendir(path);
    if (d) {
        while ((e = readdir(d))) {
            char p2[300];
            unsigned long long run;

            if (e->d_name[0] == '.')
                continue;
            snprintf(p2, sizeof(p2), "/proc/%ld/task/%s/schedstat", pid, e->d_name);
            f = fopen(p2, "r");
            if (!f)
                continue;
            /* NOLINTNEXTLINE(cert-err34-c): a kernel-written /proc field */
            if (fscanf(f, "%llu", &run) == 1) {
                sum += (int64_t)run;
                any = true;
            }
            fclose(f);
        }
        closedir(d);
    }
    if (any)
        return sum;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(buf, sizeof(buf), f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    {
        /* Fields 14 and 15 (utime, stime) follow the ")" closing the name. */
        const char *p = strrchr(buf, ')');
        unsigned long long ut, st;
        long tck = sysconf(_SC_CLK_TCK);

        /* NOLINTNEXTLINE(cert-err34-c): a kernel-written /proc line */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                         &st) != 2 || tck <= 0)
            return -1;
        return (int64_t)((ut + st) * (1000000000ull / (unsigned long long)tck));
    }
}

static long broker_rss_kb(long pid)
{
    char path[64], line[256];
    FILE *f;
    long kb = -1;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* ---- sockets ---- */

static void set_nodelay(int fd)
{
    int one = 1;

    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        die("setsockopt TCP_NODELAY");
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl O_NONBLOCK");
}

static int tcp_connect(const char *host, uint16_t port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("--host must be an IPv4 address");
    /* The network is loopback only: refuse anything else. */
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        errno = 0;
        die("--host must be a loopback address (127.0.0.0/8)");
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    set_nodelay(fd);
    return fd;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};

            poll(&pf, 1, MQB_SETUP_TIMEOUT_MS);
            continue;
        }
        if (w <= 0)
            die("write");
        p += w;
        n -= (size_t)w;
    }
}

/* ---- connection buffers ---- */

static void conn_init(mqb_conn_t *c, int fd, int role, unsigned idx, size_t rcap)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->role = role;
    c->idx = idx;
    c->rcap = rcap;
    c->rbuf = xcalloc(1, rcap);
}

static uint8_t *conn_reserve(mqb_conn_t *c, size_t n)
{
    if (c->wcap - c->wlen < n) {
        size_t cap = c->wcap ? c->wcap : 4096;

        while (cap - c->wlen < n)
            cap *= 2;
        c->wbuf = realloc(c->wbuf, cap);
        if (!c->wbuf)
            die("out of memory");
        c->wcap = cap;
    }
    return c->wbuf + c->wlen;
}

static void conn_out(mqb_conn_t *c, const uint8_t *p, size_t n)
{
    memcpy(conn_reserve(c, n), p, n);
    c->wlen += n;
}

/* Queues a PUBACK (4), PUBREC (5), PUBREL (6) or PUBCOMP (7). */
static void conn_ack(mqb_conn_t *c, uint8_t type, uint16_t pid)
{
    uint8_t ack[4];
    size_t n = mq_bench_ack(ack, type, pid);

    conn_out(c, ack, n);
}

static void ep_mod(mqb_run_t *r, mqb_conn_t *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u), .data.ptr = c};

    if (c->pollout == out)
        return;
    if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
    c->pollout = out;
}

static void conn_flush(mqb_run_t *r, mqb_conn_t *c)
{
    while (c->woff < c->wlen) {
        ssize_t w = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            ep_mod(r, c, true);
            return;
        }
        if (w < 0)
            die("write to the broker");
        c->woff += (size_t)w;
    }
    c->woff = c->wlen = 0;
    ep_mod(r, c, false);
}

/* Blocking wait (setup only) until the buffer starts with a whole packet. */
static void wait_packet(mqb_conn_t *c, size_t *hdr, uint32_t *rl, const char *what)
{
    for (;;) {
        int f = mq_bench_frame(c->rbuf, c->rlen, hdr, rl);
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        ssize_t n;

        if (f < 0) {
            errno = 0;
            die("malformed remaining length from the broker");
        }
        if (f > 0) {
            if (*hdr + *rl > c->rcap) {
                errno = 0;
                die("packet larger than the read buffer");
            }
            return;
        }
        if (c->rlen == c->rcap) {
            errno = 0;
            die("packet larger than the read buffer");
        }
        if (poll(&pf, 1, MQB_SETUP_TIMEOUT_MS) <= 0) {
            fprintf(stderr, "musqratt-bench: error: timed out waiting for %s\n", what);
            exit(2);
        }
        n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            fprintf(stderr, "musqratt-bench: error: connection closed waiting for %s\n", what);
            exit(2);
        }
        c->rlen += (size_t)n;
    }
}

static void consume(mqb_conn_t *c, size_t n)
{
    memmove(c->rbuf, c->rbuf + n, c->rlen - n);
    c->rlen -= n;
}

/* CONNECT, CONNACK; returns the server's Receive Maximum (65535 if none). */
static unsigned mqtt_connect(mqb_conn_t *c, uint8_t level, const char *cid)
{
    uint8_t buf[512];
    size_t hdr, len = mq_bench_connect(buf, level, cid, 60);
    uint32_t rl;
    unsigned recv_max = 65535;
    const uint8_t *b;

    write_all(c->fd, buf, len);
    wait_packet(c, &hdr, &rl, "CONNACK");
    b = c->rbuf + hdr;
    if (c->rbuf[0] != 0x20 || rl < 2 || b[1] != 0) {
        fprintf(stderr, "musqratt-bench: error: connection refused (CONNACK 0x%02x rc %u)\n",
                c->rbuf[0], rl >= 2 ? b[1] : 255u);
        exit(2);
    }
    if (level == 5 && rl > 2) {
        /* Properties: only Receive Maximum (0x21) matters to the window. Walk
         * them by type so that unknown-length ones are skipped correctly. */
        size_t off = 2, used = 0;
        uint32_t plen = 0, shift = 0;

        while (off < rl && used < 4) {
            plen |= (uint32_t)(b[off] & 0x7f) << shift;
            shift += 7;
            used++;
            if (!(b[off++] & 0x80))
                break;
        }
        {
            size_t end = off + plen;

            while (off < end && end <= rl) {
                uint8_t id = b[off++];

                if (id == 0x21 && off + 2 <= end) {
                    recv_max = (unsigned)((b[off] << 8) | b[off + 1]);
                    off += 2;
                } else if (id == 0x24 || id == 0x25 || id == 0x28 || id == 0x29 ||
                           id == 0x2a || id == 0x01 || id == 0x17 || id == 0x19) {
                    off += 1;
                } else if (id == 0x13 || id == 0x22 || id == 0x23 || id == 0x21) {
                    off += 2;
                } else if (id == 0x11 || id == 0x27 || id == 0x02 || id == 0x18) {
                    off += 4;
                } else if (id == 0x12 || id == 0x1a || id == 0x1c || id == 0x1f ||
                           id == 0x15 || id == 0x16 || id == 0x03 || id == 0x08 ||
                           id == 0x09) {
                    if (off + 2 > end)
                        break;
                    off += 2u + (size_t)((b[off] << 8) | b[off + 1]);
                } else if (id == 0x26) {
                    size_t k;

                    for (k = 0; k < 2 && off + 2 <= end; k++)
                        off += 2u + (size_t)((b[off] << 8) | b[off + 1]);
                } else {
                    break; /* unknown: stop; Receive Maximum usually comes first anyway */
                }
            }
        }
    }
    consume(c, hdr + rl);
    return recv_max ? recv_max : 65535;
}

static void mqtt_subscribe(mqb_conn_t *c, uint8_t level, const char *filter, uint8_t qos)
{
    uint8_t buf[512];
    size_t hdr, len = mq_bench_subscribe(buf, level, 1, filter, qos);
    uint32_t rl;
    uint8_t code;

    write_all(c->fd, buf, len);
    wait_packet(c, &hdr, &rl, "SUBACK");
    if (c->rbuf[0] != 0x90 || rl < 3) {
        fprintf(stderr, "musqratt-bench: error: expected SUBACK, got 0x%02x\n", c->rbuf[0]);
        exit(2);
    }
    code = c->rbuf[hdr + rl - 1];
    if (code >= 0x80) {
        fprintf(stderr, "musqratt-bench: error: subscription to %s refused (0x%02x)\n", filter,
                code);
        exit(2);
    }
    consume(c, hdr + rl);
}

/* ---- tracking ---- */

/* Records an arrival of seq; returns true when it is the first one. */
static bool track_seen(mqb_track_t *t, uint64_t seq)
{
    if (seq >= t->cap_bits) {
        uint64_t cap = t->cap_bits ? t->cap_bits : 65536;

        while (cap <= seq)
            cap *= 2;
        t->bits = realloc(t->bits, cap / 8);
        if (!t->bits)
            die("out of memory");
        memset(t->bits + t->cap_bits / 8, 0, (cap - t->cap_bits) / 8);
        t->cap_bits = cap;
    }
    if (t->bits[seq / 8] & (1u << (seq % 8))) {
        t->dup++;
        return false;
    }
    t->bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
    t->unique++;
    if (seq + 1 < t->next)
        t->reorder++; /* MQTT-4.6.0-5/6: one publisher's messages keep their order */
    else
        t->next = seq + 1;
    return true;
}

static void pub_complete_one(mqb_conn_t *p, uint64_t seq, unsigned window)
{
    uint32_t *rem = &p->remaining[seq % window];

    if (*rem)
        (*rem)--;
    if (seq == p->done_upto)
        while (p->done_upto < p->sent && !p->remaining[p->done_upto % window])
            p->done_upto++;
}

/* ---- the loop ---- */

static void publish_one(mqb_run_t *r, mqb_conn_t *p, uint64_t ts)
{
    uint64_t seq = p->sent;
    uint16_t pid = (uint16_t)(seq % 65535u + 1u);
    uint8_t *w = conn_reserve(p, 16 + p->topic_len + r->o.payload);
    size_t h = mq_bench_publish_head(w, r->o.level, p->topic, p->topic_len, r->o.qos, false, pid,
                                     r->o.payload);
    mq_bench_stamp_t st = {.magic = MQ_BENCH_MAGIC, .pub = p->idx, .seq = seq, .sent_ns = ts};

    memcpy(w + h, &st, sizeof(st));
    memcpy(w + h + sizeof(st), r->filler, r->o.payload - sizeof(st));
    p->wlen += h + r->o.payload;
    p->remaining[seq % r->window] = p->nexp + (r->o.qos ? 1u : 0u);
    p->acked[seq % r->window] = 0;
    p->sent++;
    if (!p->remaining[seq % r->window])
        pub_complete_one(p, seq, r->window);
}

static void on_delivery(mqb_run_t *r, mqb_conn_t *s, const mq_bench_publish_t *pb, uint64_t rx)
{
    mq_bench_stamp_t st;
    mqb_conn_t *p;

    if (pb->payload_len != r->o.payload) {
        r->bad++;
        return;
    }
    memcpy(&st, pb->payload, sizeof(st));
    if (st.magic != MQ_BENCH_MAGIC || st.pub >= r->npub || !r->match[s->idx * r->npub + st.pub]) {
        r->bad++;
        return;
    }
    p = &r->pubs[st.pub];
    if (st.seq >= p->sent) {
        r->bad++;
        return;
    }
    s->delivered++;
    r->deliveries++;
    if (st.sent_ns >= r->rec_start_ns && st.sent_ns < r->rec_end_ns && rx >= st.sent_ns)
        mq_bench_hist_record(&r->hist, rx - st.sent_ns);
    if (track_seen(&r->track[s->idx * r->npub + st.pub], st.seq) && st.seq >= p->done_upto)
        pub_complete_one(p, st.seq, r->window);
}

static void on_pub_ack(mqb_run_t *r, mqb_conn_t *p, uint16_t pid)
{
    /* The in-flight sequence numbers span less than 65535, so the packet id
     * names exactly one of them. */
    uint64_t base = p->done_upto;
    uint64_t off = ((uint64_t)pid - 1u + 65535u - base % 65535u) % 65535u;
    uint64_t seq = base + off;

    if (seq >= p->sent || p->acked[seq % r->window]) {
        r->proto_errors++;
        return;
    }
    p->acked[seq % r->window] = 1;
    pub_complete_one(p, seq, r->window);
}

static void handle_packet(mqb_run_t *r, mqb_conn_t *c, const uint8_t *pkt, size_t hdr,
                          uint32_t rl, uint64_t rx)
{
    uint8_t type = pkt[0] >> 4;
    const uint8_t *b = pkt + hdr;
    uint16_t pid = rl >= 2 ? (uint16_t)((b[0] << 8) | b[1]) : 0;

    /* MQTT 5 acks may carry a reason code; >= 0x80 is a failure. */
    if (type >= 4 && type <= 7 && (rl < 2 || (rl > 2 && b[2] >= 0x80))) {
        r->proto_errors++;
        return;
    }
    if (c->role == MQB_SUB) {
        if (type == 3) {
            mq_bench_publish_t pb;

            if (mq_bench_parse_publish(pkt[0] & 0x0f, b, rl, r->o.level, &pb) < 0) {
                r->proto_errors++;
                return;
            }
            on_delivery(r, c, &pb, rx);
            if (pb.qos == 1) {
                conn_ack(c, 4, pb.pid);
            } else if (pb.qos == 2) {
                conn_ack(c, 5, pb.pid);
                c->qos2_open++;
            }
        } else if (type == 6) {
            conn_ack(c, 7, pid);
            if (c->qos2_open)
                c->qos2_open--;
        } else if (type != 13) {
            r->proto_errors++;
        }
        return;
    }
    if ((type == 4 && r->o.qos == 1) || (type == 7 && r->o.qos == 2)) {
        on_pub_ack(r, c, pid);
    } else if (type == 5 && r->o.qos == 2) {
        conn_ack(c, 6, pid);
    } else if (type != 13) {
        r->proto_errors++;
    }
}

static void conn_read(mqb_run_t *r, mqb_conn_t *c)
{
    ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    size_t off = 0;
    uint64_t rx;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        fprintf(stderr, "musqratt-bench: error: %s %u: connection %s\n",
                c->role == MQB_PUB ? "publisher" : "subscriber", c->idx,
                n == 0 ? "closed by the broker" : strerror(errno));
        exit(2);
    }
    rx = now_ns();
    r->last_rx_ns = rx;
    c->rlen += (size_t)n;
    for (;;) {
        size_t hdr;
        uint32_t rl;
        int f = mq_bench_frame(c->rbuf + off, c->rlen - off, &hdr, &rl);

        if (f < 0) {
            errno = 0;
            die("malformed packet from the broker");
        }
        if (!f)
            break;
        handle_packet(r, c, c->rbuf + off, hdr, rl, rx);
        off += hdr + rl;
    }
    if (off == 0 && c->rlen == c->rcap) {
        errno = 0;
        die("packet larger than the read buffer");
    }
    consume(c, off);
}

static bool quiescent(const mqb_run_t *r)
{
    unsigned i;

    for (i = 0; i < r->npub; i++)
        if (r->pubs[i].done_upto != r->pubs[i].sent)
            return false;
    for (i = 0; i < r->nsub; i++)
        if (r->subs[i].qos2_open)
            return false;
    return true;
}

static void flush_all(mqb_run_t *r)
{
    unsigned i;

    for (i = 0; i < r->npub; i++)
        if (r->pubs[i].wlen > r->pubs[i].woff && !r->pubs[i].pollout)
            conn_flush(r, &r->pubs[i]);
    for (i = 0; i < r->nsub; i++)
        if (r->subs[i].wlen > r->subs[i].woff && !r->subs[i].pollout)
            conn_flush(r, &r->subs[i]);
}

static int poll_once(mqb_run_t *r, int timeout_ms)
{
    struct epoll_event evs[64];
    int n = epoll_wait(r->ep, evs, 64, timeout_ms), i;

    if (n < 0 && errno != EINTR)
        die("epoll_wait");
    for (i = 0; i < n; i++) {
        mqb_conn_t *c = evs[i].data.ptr;

        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            conn_read(r, c);
        if (evs[i].events & EPOLLOUT)
            conn_flush(r, c);
    }
    flush_all(r);
    return n;
}

/* Runs the measurement; fills the timing fields of res. */
static void run_loop(mqb_run_t *r, mqb_result_t *res)
{
    uint64_t t0 = now_ns(), t_end = 0, deliv_at_start = 0, deliv_at_end = 0;
    int64_t cpu0 = -1, cpu1 = -1;
    uint64_t target = r->o.warmup + r->o.count, total_sent = 0;
    uint64_t stall_ns = (uint64_t)r->o.stall_ms * 1000000u;
    unsigned rr = 0;
    bool generating = true, recording = false;

    r->last_rx_ns = t0;
    if (r->o.paced) {
        r->rec_start_ns = UINT64_MAX;
        r->rec_end_ns = UINT64_MAX;
    } else {
        r->rec_start_ns = t0 + (uint64_t)(r->o.warmup_time * 1e9);
        r->rec_end_ns = r->rec_start_ns + (uint64_t)(r->o.duration * 1e9);
    }
    for (;;) {
        uint64_t now = now_ns();
        int timeout;

        if (r->o.paced) {
            if (quiescent(r)) {
                if (!recording && total_sent == r->o.warmup) {
                    recording = true;
                    r->rec_start_ns = now;
                    cpu0 = broker_cpu_ns(r->o.broker_pid);
                    deliv_at_start = r->deliveries;
                }
                if (total_sent == target) {
                    t_end = now;
                    cpu1 = broker_cpu_ns(r->o.broker_pid);
                    deliv_at_end = r->deliveries;
                    break;
                }
                publish_one(r, &r->pubs[rr], now_ns());
                rr = (rr + 1) % r->npub;
                total_sent++;
                flush_all(r);
                r->last_rx_ns = now;
            }
            timeout = (int)r->o.stall_ms;
        } else {
            if (!recording && now >= r->rec_start_ns) {
                recording = true;
                cpu0 = broker_cpu_ns(r->o.broker_pid);
                deliv_at_start = r->deliveries;
            }
            if (generating && now >= r->rec_end_ns) {
                generating = false;
                t_end = now;
                cpu1 = broker_cpu_ns(r->o.broker_pid);
                deliv_at_end = r->deliveries;
            }
            if (generating) {
                unsigned i;
                bool any = false;

                for (i = 0; i < r->npub; i++) {
                    mqb_conn_t *p = &r->pubs[i];

                    if (p->pollout)
                        continue; /* the socket is full: let the broker catch up */
                    while (p->sent - p->done_upto < r->window) {
                        publish_one(r, p, now);
                        any = true;
                    }
                }
                if (any)
                    flush_all(r);
                timeout = (int)((r->rec_end_ns - now) / 1000000u) + 1;
            } else {
                if (quiescent(r))
                    break;
                timeout = (int)r->o.stall_ms;
            }
        }
        if (poll_once(r, timeout) == 0 || now_ns() - r->last_rx_ns > stall_ns) {
            if (!quiescent(r) && now_ns() - r->last_rx_ns >= stall_ns) {
                r->stalled = true;
                if (!t_end) {
                    t_end = now_ns();
                    cpu1 = broker_cpu_ns(r->o.broker_pid);
                    deliv_at_end = r->deliveries;
                }
                break;
            }
        }
    }
    if (!recording) {
        r->rec_start_ns = t_end;
        deliv_at_start = deliv_at_end;
    }
    res->elapsed_s = (double)(t_end - r->rec_start_ns) / 1e9;
    res->rate = res->elapsed_s > 0 ? (double)(deliv_at_end - deliv_at_start) / res->elapsed_s : 0;
    res->cpu_us_per_msg = -1;
    if (cpu0 >= 0 && cpu1 >= cpu0 && deliv_at_end > deliv_at_start)
        res->cpu_us_per_msg = (double)(cpu1 - cpu0) / 1e3 / (double)(deliv_at_end - deliv_at_start);
}

/* ---- setup of the measured clients ---- */

static void run_add_epoll(mqb_run_t *r, mqb_conn_t *c)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

    set_nonblock(c->fd);
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

static void direct_pair(int *a, int *b)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (l < 0)
        die("socket");
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0 ||
        getsockname(l, (struct sockaddr *)&sa, &sl) < 0)
        die("direct: listen");
    *a = tcp_connect("127.0.0.1", ntohs(sa.sin_port));
    *b = accept(l, NULL, NULL);
    if (*b < 0)
        die("direct: accept");
    set_nodelay(*b);
    close(l);
}

static void setup_clients(mqb_run_t *r)
{
    mqb_opts_t *o = &r->o;
    unsigned i, j, recv_max = 65535;
    char cid[96];

    switch (o->scenario) {
    case SC_1TO1: r->npub = r->nsub = 1; break;
    case SC_FANIN: r->npub = o->clients; r->nsub = 1; break;
    case SC_FANOUT:
    case SC_WILDCARD: r->npub = 1; r->nsub = o->clients; break;
    case SC_PAIRS: r->npub = r->nsub = o->clients; break;
    default: break;
    }
    r->pubs = xcalloc(r->npub, sizeof(*r->pubs));
    r->subs = xcalloc(r->nsub, sizeof(*r->subs));
    r->match = xcalloc((size_t)r->npub * r->nsub, sizeof(bool));
    r->track = xcalloc((size_t)r->npub * r->nsub, sizeof(*r->track));
    for (i = 0; i < r->nsub; i++)
        for (j = 0; j < r->npub; j++)
            r->match[i * r->npub + j] = o->scenario != SC_PAIRS || i == j;

    if (o->target != TG_BROKER) {
        /* Publisher i and subscriber i are the two ends of one byte stream. */
        for (i = 0; i < r->npub; i++) {
            int a, b;

            if (o->target == TG_DIRECT) {
                direct_pair(&a, &b);
            } else {
                a = tcp_connect(o->host, o->port);
                b = tcp_connect(o->host, o->port);
            }
            conn_init(&r->pubs[i], a, MQB_PUB, i, MQB_RBUF_PUB);
            conn_init(&r->subs[i], b, MQB_SUB, i, MQB_RBUF_SUB);
            snprintf(r->pubs[i].topic, sizeof(r->pubs[i].topic), "%s/t/%u", r->prefix, i);
        }
    } else {
        for (i = 0; i < r->nsub; i++) {
            char filter[160];

            conn_init(&r->subs[i], tcp_connect(o->host, o->port), MQB_SUB, i, MQB_RBUF_SUB);
            snprintf(cid, sizeof(cid), "mqb-%ld-%s-s%u", (long)getpid(), r->prefix + 4, i);
            mqtt_connect(&r->subs[i], o->level, cid);
            if (o->scenario == SC_PAIRS) {
                snprintf(filter, sizeof(filter), "%s/t/%u", r->prefix, i);
            } else if (o->scenario == SC_WILDCARD) {
                static const char *const pats[] = {"%s/t/+", "%s/#", "%s/+/0", "%s/+/#"};

                snprintf(filter, sizeof(filter), pats[i % 4], r->prefix);
            } else {
                snprintf(filter, sizeof(filter), "%s/t/0", r->prefix);
            }
            mqtt_subscribe(&r->subs[i], o->level, filter, o->qos);
        }
        for (i = 0; i < r->npub; i++) {
            unsigned rm;

            conn_init(&r->pubs[i], tcp_connect(o->host, o->port), MQB_PUB, i, MQB_RBUF_PUB);
            snprintf(cid, sizeof(cid), "mqb-%ld-%s-p%u", (long)getpid(), r->prefix + 4, i);
            rm = mqtt_connect(&r->pubs[i], o->level, cid);
            if (rm < recv_max)
                recv_max = rm;
            snprintf(r->pubs[i].topic, sizeof(r->pubs[i].topic), "%s/t/%u", r->prefix,
                     o->scenario == SC_PAIRS ? i : 0);
        }
    }
    r->window = o->paced ? 1 : o->window;
    /* MQTT-3.3.4-9 (v5): never more unacknowledged QoS 1/2 PUBLISH than the
     * server's Receive Maximum. */
    if (o->qos && r->window > recv_max)
        r->window = recv_max;
    for (i = 0; i < r->npub; i++) {
        mqb_conn_t *p = &r->pubs[i];

        p->topic_len = strlen(p->topic);
        p->remaining = xcalloc(r->window, sizeof(uint32_t));
        p->acked = xcalloc(r->window, 1);
        for (j = 0; j < r->nsub; j++)
            p->nexp += r->match[j * r->npub + i];
        run_add_epoll(r, p);
    }
    for (i = 0; i < r->nsub; i++)
        run_add_epoll(r, &r->subs[i]);
}

static void close_clients(mqb_run_t *r)
{
    static const uint8_t disc[2] = {0xe0, 0x00};
    unsigned i;

    for (i = 0; i < r->npub + r->nsub; i++) {
        mqb_conn_t *c = i < r->npub ? &r->pubs[i] : &r->subs[i - r->npub];

        if (r->o.target == TG_BROKER && write(c->fd, disc, 2) < 0) {
            /* The broker may already be gone; nothing left to tell it. */
        }
        close(c->fd);
        free(c->rbuf);
        free(c->wbuf);
        free(c->remaining);
        free(c->acked);
    }
}

static void tally(mqb_run_t *r, mqb_result_t *res)
{
    unsigned i, j;

    for (i = 0; i < r->npub; i++)
        res->sent += r->pubs[i].sent;
    for (i = 0; i < r->nsub; i++)
        for (j = 0; j < r->npub; j++) {
            mqb_track_t *t = &r->track[i * r->npub + j];

            if (!r->match[i * r->npub + j])
                continue;
            res->expected += r->pubs[j].sent;
            res->received += t->unique + t->dup;
            res->lost += r->pubs[j].sent - t->unique;
            res->dup += t->dup;
            res->reorder += t->reorder;
            free(t->bits);
        }
    res->bad = r->bad + r->proto_errors;
}

/* ---- idle connections: footprint per connection with one subscription ---- */

static void run_idle(mqb_run_t *r, mqb_result_t *res)
{
    mqb_opts_t *o = &r->o;
    unsigned n = o->clients, i;
    mqb_conn_t *cs = xcalloc(n, sizeof(*cs));
    static const uint8_t disc[2] = {0xe0, 0x00};
    char cid[96], filter[160];
    long before;
    uint64_t t0;

    usleep(200000); /* let the broker settle after any previous run */
    before = broker_rss_kb(o->broker_pid);
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        conn_init(&cs[i], tcp_connect(o->host, o->port), MQB_SUB, i, 512);
        snprintf(cid, sizeof(cid), "mqb-%ld-%s-i%u", (long)getpid(), r->prefix + 4, i);
        mqtt_connect(&cs[i], o->level, cid);
        snprintf(filter, sizeof(filter), "%s/idle/%u", r->prefix, i);
        mqtt_subscribe(&cs[i], o->level, filter, o->qos);
        free(cs[i].rbuf);
    }
    res->elapsed_s = (double)(now_ns() - t0) / 1e9;
    res->rate = res->elapsed_s > 0 ? n / res->elapsed_s : 0;
    usleep(300000);
    res->rss_kb = before;
    res->rss_after_kb = broker_rss_kb(o->broker_pid);
    res->conns = n;
    res->bytes_per_conn = before >= 0 && n ? (double)(res->rss_after_kb - before) * 1024.0 / n : -1;
    for (i = 0; i < n; i++) {
        if (write(cs[i].fd, disc, 2) < 0) {
            /* closing anyway */
        }
        close(cs[i].fd);
    }
    usleep(500000);
    res->rss_closed_kb = broker_rss_kb(o->broker_pid);
    free(cs);
}

/* ---- retained messages delivered on subscribe ---- */

static void run_retained(mqb_run_t *r, mqb_result_t *res)
{
    mqb_opts_t *o = &r->o;
    unsigned m = (unsigned)o->count, i;
    mqb_conn_t pub, sub;
    uint8_t buf[512];
    char cid[96], topic[160];
    mqb_track_t t = {0};
    uint64_t t0, last = 0;
    unsigned got = 0, acks = 0, not_retained = 0;
    static const uint8_t ping[2] = {0xc0, 0x00};
    static const uint8_t disc[2] = {0xe0, 0x00};

    conn_init(&pub, tcp_connect(o->host, o->port), MQB_PUB, 0, MQB_RBUF_PUB);
    conn_init(&sub, tcp_connect(o->host, o->port), MQB_SUB, 0, MQB_RBUF_SUB);
    snprintf(cid, sizeof(cid), "mqb-%ld-%s-rp", (long)getpid(), r->prefix + 4);
    mqtt_connect(&pub, o->level, cid);
    snprintf(cid, sizeof(cid), "mqb-%ld-%s-rs", (long)getpid(), r->prefix + 4);
    mqtt_connect(&sub, o->level, cid);

    /* Store m retained messages, then a PINGREQ: its PINGRESP proves the broker
     * processed every PUBLISH before it (one connection is handled in order). */
    for (i = 0; i < m; i++) {
        int tl = snprintf(topic, sizeof(topic), "%s/r/%u", r->prefix, i);
        size_t h = mq_bench_publish_head(buf, o->level, topic, (size_t)tl, o->qos, true,
                                         (uint16_t)(i % 65535u + 1u), o->payload);
        mq_bench_stamp_t st = {.magic = MQ_BENCH_MAGIC, .pub = 0, .seq = i, .sent_ns = now_ns()};

        memcpy(buf + h, &st, sizeof(st));
        memcpy(buf + h + sizeof(st), r->filler, o->payload - sizeof(st));
        conn_out(&pub, buf, h + o->payload);
        if (pub.wlen > 65536 || i + 1 == m) {
            write_all(pub.fd, pub.wbuf, pub.wlen);
            pub.wlen = 0;
        }
    }
    write_all(pub.fd, ping, 2);
    for (;;) {
        size_t hdr;
        uint32_t rl;
        uint8_t type;

        wait_packet(&pub, &hdr, &rl, "acks of the retained messages");
        type = pub.rbuf[0] >> 4;
        if (type == 5) {
            uint8_t ack[4];

            write_all(pub.fd, ack, mq_bench_ack(ack, 6, (uint16_t)((pub.rbuf[hdr] << 8) |
                                                                  pub.rbuf[hdr + 1])));
        } else if (type == 4 || type == 7) {
            acks++;
        }
        consume(&pub, hdr + rl);
        if (type == 13 && (o->qos == 0 || acks == m))
            break;
        if (type == 13)
            write_all(pub.fd, ping, 2); /* QoS 2 flows still open: ask again */
    }

    snprintf(topic, sizeof(topic), "%s/r/#", r->prefix);
    t0 = now_ns();
    r->rec_start_ns = t0;
    {
        size_t len = mq_bench_subscribe(buf, o->level, 1, topic, o->qos);

        write_all(sub.fd, buf, len);
    }
    set_nonblock(sub.fd);
    while (got < m) {
        struct pollfd pf = {.fd = sub.fd, .events = POLLIN};
        ssize_t n;
        size_t off = 0;
        uint64_t rx;

        if (poll(&pf, 1, (int)o->stall_ms) <= 0) {
            r->stalled = true;
            break;
        }
        n = read(sub.fd, sub.rbuf + sub.rlen, sub.rcap - sub.rlen);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            die("subscriber: connection closed");
        rx = now_ns();
        sub.rlen += (size_t)n;
        for (;;) {
            size_t hdr;
            uint32_t rl;
            int f = mq_bench_frame(sub.rbuf + off, sub.rlen - off, &hdr, &rl);
            const uint8_t *pk = sub.rbuf + off;

            if (f < 0)
                die("malformed packet");
            if (!f)
                break;
            if ((pk[0] >> 4) == 3) {
                mq_bench_publish_t pb;
                mq_bench_stamp_t st;

                if (mq_bench_parse_publish(pk[0] & 0x0f, pk + hdr, rl, o->level, &pb) < 0 ||
                    pb.payload_len != o->payload) {
                    r->bad++;
                } else {
                    memcpy(&st, pb.payload, sizeof(st));
                    if (st.magic != MQ_BENCH_MAGIC || st.seq >= m) {
                        r->bad++;
                    } else {
                        /* Order among different topics is not promised: only
                         * loss and duplication count here. */
                        if (track_seen(&t, st.seq))
                            got++;
                        /* MQTT-3.3.1-8: a retained message sent because of a
                         * new subscription has RETAIN set. */
                        if (!pb.retain)
                            not_retained++;
                        mq_bench_hist_record(&r->hist, rx - t0);
                        last = rx;
                    }
                    if (pb.qos == 1 || pb.qos == 2)
                        conn_ack(&sub, pb.qos == 1 ? 4 : 5, pb.pid);
                }
            } else if ((pk[0] >> 4) == 6) {

                conn_ack(&sub, 7, (uint16_t)((pk[hdr] << 8) | pk[hdr + 1]));
            } else if ((pk[0] >> 4) == 9) {
                if (rl < 3 || pk[hdr + rl - 1] >= 0x80)
                    die("retained: subscription refused");
            }
            off += hdr + rl;
        }
        consume(&sub, off);
        if (sub.wlen) {
            write_all(sub.fd, sub.wbuf, sub.wlen);
            sub.wlen = 0;
        }
    }
    /* Clear what this run stored: an empty retained PUBLISH deletes (MQTT-3.3.1-6). */
    for (i = 0; i < m; i++) {
        int tl = snprintf(topic, sizeof(topic), "%s/r/%u", r->prefix, i);
        size_t h = mq_bench_publish_head(buf, o->level, topic, (size_t)tl, 0, true, 0, 0);

        conn_out(&pub, buf, h);
        if (pub.wlen > 65536 || i + 1 == m) {
            write_all(pub.fd, pub.wbuf, pub.wlen);
            pub.wlen = 0;
        }
    }
    write_all(pub.fd, disc, 2);
    write_all(sub.fd, disc, 2);
    close(pub.fd);
    close(sub.fd);
    res->sent = m;
    res->expected = m;
    res->received = t.unique + t.dup;
    res->lost = m - t.unique;
    res->dup = t.dup;
    res->reorder = 0;
    res->bad = r->bad + not_retained;
    res->elapsed_s = last > t0 ? (double)(last - t0) / 1e9 : 0;
    res->rate = res->elapsed_s > 0 ? got / res->elapsed_s : 0;
    res->cpu_us_per_msg = -1;
    free(t.bits);
    free(pub.rbuf);
    free(pub.wbuf);
    free(sub.rbuf);
    free(sub.wbuf);
}

/* ---- output ---- */

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void report(const mqb_run_t *r, const mqb_result_t *res)
{
    const mqb_opts_t *o = &r->o;
    const mq_bench_hist_t *h = &r->hist;
    const char *tg = o->target == TG_DIRECT ? "direct" : o->target == TG_RELAY ? "relay" : "broker";
    const char *mode = o->scenario == SC_IDLE       ? "idle"
                       : o->scenario == SC_RETAINED ? "retained"
                       : o->paced                   ? "paced"
                                                    : "unpaced";

    if (!o->quiet) {
        printf("musqratt-bench %s: %s %s QoS %u MQTT %s, %u pub / %u sub, payload %zu, "
               "window %u, %s %s:%u\n",
               o->label ? o->label : "", mqb_scenario_names[o->scenario], mode, o->qos,
               o->level == 5 ? "5" : "3.1.1", r->npub, r->nsub, o->payload, r->window, tg,
               o->host, o->port);
        if (o->scenario == SC_IDLE) {
            printf("  connections %u (with one subscription each) in %.2f s\n", res->conns,
                   res->elapsed_s);
            if (res->rss_kb >= 0)
                printf("  broker RSS %ld kB before, %ld kB with them (%.0f bytes per "
                       "connection), %ld kB after they closed\n",
                       res->rss_kb, res->rss_after_kb, res->bytes_per_conn, res->rss_closed_kb);
        } else {
            printf("  sent %" PRIu64 ", expected deliveries %" PRIu64 ", received %" PRIu64
                   ": lost %" PRIu64 ", duplicated %" PRIu64 ", out of order %" PRIu64
                   ", malformed/unexpected %" PRIu64 "%s\n",
                   res->sent, res->expected, res->received, res->lost, res->dup, res->reorder,
                   res->bad, r->stalled ? " (stalled)" : "");
            if (h->count)
                printf("  latency us (%" PRIu64 " samples): p50 %.1f  p90 %.1f  p99 %.1f  "
                       "p99.9 %.1f  max %.1f  mean %.1f\n",
                       h->count, us(mq_bench_hist_quantile(h, 0.5)),
                       us(mq_bench_hist_quantile(h, 0.9)), us(mq_bench_hist_quantile(h, 0.99)),
                       us(mq_bench_hist_quantile(h, 0.999)), us(h->max_ns),
                       us(h->sum_ns / h->count));
            printf("  %.0f deliveries/s over %.3f s", res->rate, res->elapsed_s);
            if (res->cpu_us_per_msg >= 0)
                printf("; broker CPU %.3f us per delivery", res->cpu_us_per_msg);
            if (res->rss_kb >= 0)
                printf("; broker RSS %ld kB", res->rss_kb);
            printf("\n");
        }
        printf("  => %s%s%s\n", res->valid ? "VALID" : "INVALID", res->why ? ": " : "",
               res->why ? res->why : "");
    }
    if (o->json) {
        FILE *f = fopen(o->json, "a");

        if (!f)
            die("cannot open the --json file");
        fprintf(f,
                "{\"label\":\"%s\",\"target\":\"%s\",\"scenario\":\"%s\",\"mode\":\"%s\","
                "\"qos\":%u,\"mqtt\":\"%s\",\"pubs\":%u,\"subs\":%u,\"clients\":%u,"
                "\"payload\":%zu,\"window\":%u,\"sent\":%" PRIu64 ",\"expected\":%" PRIu64
                ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"dup\":%" PRIu64
                ",\"reorder\":%" PRIu64 ",\"bad\":%" PRIu64 ",\"stalled\":%s,\"valid\":%s,"
                "\"elapsed_s\":%.6f,\"rate\":%.1f,\"samples\":%" PRIu64 ",\"p50_us\":%.3f,"
                "\"p90_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f,"
                "\"mean_us\":%.3f,\"cpu_us_per_msg\":%.4f,\"rss_kb\":%ld,\"rss_after_kb\":%ld,"
                "\"rss_closed_kb\":%ld,\"bytes_per_conn\":%.1f}\n",
                o->label ? o->label : "", tg, mqb_scenario_names[o->scenario], mode, o->qos,
                o->level == 5 ? "5" : "3.1.1", r->npub, r->nsub, o->clients, o->payload,
                r->window, res->sent, res->expected, res->received, res->lost, res->dup,
                res->reorder, res->bad, r->stalled ? "true" : "false",
                res->valid ? "true" : "false", res->elapsed_s, res->rate, h->count,
                us(mq_bench_hist_quantile(h, 0.5)), us(mq_bench_hist_quantile(h, 0.9)),
                us(mq_bench_hist_quantile(h, 0.99)), us(mq_bench_hist_quantile(h, 0.999)),
                us(h->count ? h->max_ns : 0), us(h->count ? h->sum_ns / h->count : 0),
                res->cpu_us_per_msg, res->rss_kb, res->rss_after_kb, res->rss_closed_kb,
                res->bytes_per_conn);
        fclose(f);
    }
    if (o->hist) {
        FILE *f = fopen(o->hist, "w");

        if (!f || mq_bench_hist_write(h, f) < 0)
            die("cannot write the --hist file");
        fclose(f);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: musqratt-bench [options]\n"
            "  --host ADDR        loopback IPv4 address of the broker (127.0.0.1)\n"
            "  --port N           broker port (1883)\n"
            "  --relay            the target is tools/bench/relay: no MQTT handshakes; each\n"
            "                     publisher/subscriber pair is one relayed byte stream\n"
            "  --direct           no middle process: each pair is a loopback TCP connection\n"
            "                     made by the tool itself (the floor of the floor)\n"
            "  --scenario S       1to1 | fanin | fanout | pairs | wildcard | idle | retained\n"
            "  --paced            one message in flight in the whole system (default)\n"
            "  --unpaced          up to --window messages in flight per publisher\n"
            "  --qos 0|1|2        QoS of publish and subscription (0)\n"
            "  --mqtt 3|5         MQTT 3.1.1 or 5 (3)\n"
            "  --clients N        publishers (fanin), subscribers (fanout, wildcard), pairs\n"
            "                     (pairs), connections (idle) (4; idle 1000)\n"
            "  --count N          measured messages when paced; retained messages (10000)\n"
            "  --warmup N         unmeasured messages before a paced run (1000)\n"
            "  --duration S       measured seconds of an unpaced run (2)\n"
            "  --warmup-time S    unmeasured seconds before an unpaced run (0.3)\n"
            "  --window N         in-flight messages per publisher, unpaced (256)\n"
            "  --payload BYTES    payload size, >= 24 (64)\n"
            "  --broker-pid PID   read broker CPU time and RSS from /proc/PID\n"
            "  --json FILE        append one JSON line with the results\n"
            "  --hist FILE        write the latency histogram (\"ns count\" lines)\n"
            "  --label NAME       a name for the target in the output\n"
            "  --stall-ms N       give up when nothing arrives for N ms (2000)\n"
            "  --quiet            no human-readable output\n"
            "Exit status: 0 valid run, 1 INVALID run (loss, duplicates, reordering,\n"
            "malformed or unexpected packets), 2 error.\n");
}

static unsigned long long num(const char *s, const char *opt, unsigned long long lo,
                              unsigned long long hi)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "musqratt-bench: error: bad value for %s: %s\n", opt, s);
        exit(2);
    }
    return v;
}

static double fnum(const char *s, const char *opt)
{
    char *end;
    double v = strtod(s, &end);

    if (*end || end == s || v < 0 || v > 3600) {
        fprintf(stderr, "musqratt-bench: error: bad value for %s: %s\n", opt, s);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv, mqb_opts_t *o)
{
    enum { O_HOST = 256, O_PORT, O_RELAY, O_DIRECT, O_SCEN, O_PACED, O_UNPACED, O_QOS, O_MQTT,
           O_CLIENTS, O_COUNT, O_WARMUP, O_DURATION, O_WTIME, O_WINDOW, O_PAYLOAD, O_PID,
           O_JSON, O_HIST, O_LABEL, O_STALL, O_QUIET, O_HELP };
    static const struct option lo[] = {
        {"host", 1, 0, O_HOST},         {"port", 1, 0, O_PORT},
        {"relay", 0, 0, O_RELAY},       {"direct", 0, 0, O_DIRECT},
        {"scenario", 1, 0, O_SCEN},     {"paced", 0, 0, O_PACED},
        {"unpaced", 0, 0, O_UNPACED},   {"qos", 1, 0, O_QOS},
        {"mqtt", 1, 0, O_MQTT},         {"clients", 1, 0, O_CLIENTS},
        {"count", 1, 0, O_COUNT},       {"warmup", 1, 0, O_WARMUP},
        {"duration", 1, 0, O_DURATION}, {"warmup-time", 1, 0, O_WTIME},
        {"window", 1, 0, O_WINDOW},     {"payload", 1, 0, O_PAYLOAD},
        {"broker-pid", 1, 0, O_PID},    {"json", 1, 0, O_JSON},
        {"hist", 1, 0, O_HIST},         {"label", 1, 0, O_LABEL},
        {"stall-ms", 1, 0, O_STALL},    {"quiet", 0, 0, O_QUIET},
        {"help", 0, 0, O_HELP},         {0, 0, 0, 0}};
    bool clients_set = false;
    int c;
    unsigned k;

    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 1883;
    o->paced = true;
    o->level = 4;
    o->clients = 4;
    o->count = 10000;
    o->warmup = 1000;
    o->duration = 2;
    o->warmup_time = 0.3;
    o->window = 256;
    o->payload = 64;
    o->stall_ms = 2000;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_HOST: o->host = optarg; break;
        case O_PORT: o->port = (uint16_t)num(optarg, "--port", 1, 65535); break;
        case O_RELAY: o->target = TG_RELAY; break;
        case O_DIRECT: o->target = TG_DIRECT; break;
        case O_SCEN:
            for (k = 0; k <= SC_RETAINED; k++)
                if (!strcmp(optarg, mqb_scenario_names[k]))
                    break;
            if (k > SC_RETAINED) {
                fprintf(stderr, "musqratt-bench: error: unknown scenario %s\n", optarg);
                exit(2);
            }
            o->scenario = (enum mqb_scenario)k;
            break;
        case O_PACED: o->paced = true; break;
        case O_UNPACED: o->paced = false; break;
        case O_QOS: o->qos = (uint8_t)num(optarg, "--qos", 0, 2); break;
        case O_MQTT: o->level = num(optarg, "--mqtt", 3, 5) == 5 ? 5 : 4; break;
        case O_CLIENTS:
            o->clients = (unsigned)num(optarg, "--clients", 1, 100000);
            clients_set = true;
            break;
        case O_COUNT: o->count = num(optarg, "--count", 1, 1000000000ull); break;
        case O_WARMUP: o->warmup = num(optarg, "--warmup", 0, 1000000000ull); break;
        case O_DURATION: o->duration = fnum(optarg, "--duration"); break;
        case O_WTIME: o->warmup_time = fnum(optarg, "--warmup-time"); break;
        case O_WINDOW: o->window = (unsigned)num(optarg, "--window", 1, 65535); break;
        case O_PAYLOAD:
            o->payload = (size_t)num(optarg, "--payload", MQ_BENCH_PAYLOAD_MIN, 65536);
            break;
        case O_PID: o->broker_pid = (long)num(optarg, "--broker-pid", 1, 1u << 30); break;
        case O_JSON: o->json = optarg; break;
        case O_HIST: o->hist = optarg; break;
        case O_LABEL: o->label = optarg; break;
        case O_STALL: o->stall_ms = (unsigned)num(optarg, "--stall-ms", 10, 600000); break;
        case O_QUIET: o->quiet = true; break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) {
        usage(stderr);
        exit(2);
    }
    if (o->scenario == SC_IDLE && !clients_set)
        o->clients = 1000;
    if (o->scenario == SC_1TO1)
        o->clients = 1;
    if (o->scenario != SC_IDLE && o->clients > MQB_MAX_CLIENTS) {
        fprintf(stderr, "musqratt-bench: error: at most %u clients in this scenario\n",
                MQB_MAX_CLIENTS);
        exit(2);
    }
    if (o->target != TG_BROKER && o->scenario != SC_1TO1 && o->scenario != SC_PAIRS) {
        fprintf(stderr, "musqratt-bench: error: --relay and --direct carry only the 1to1 and "
                        "pairs scenarios (a byte relay has no subscriptions)\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    mqb_run_t *r = xcalloc(1, sizeof(*r));
    mqb_result_t res;
    struct rlimit rl;
    size_t i;

    parse_args(argc, argv, &r->o);
    signal(SIGPIPE, SIG_IGN);
    /* Many idle connections need many descriptors: take what the hard limit allows. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    {
        /* A topic prefix of its own per run: rounds and parallel runs never meet. */
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(r->prefix, sizeof(r->prefix), "mqb/%ld%06lx", (long)getpid() % 100000,
                 (unsigned long)((unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20)) &
                     0xffffffu);
    }
    mq_bench_hist_init(&r->hist);
    r->filler = xcalloc(1, r->o.payload);
    for (i = 0; i < r->o.payload; i++)
        r->filler[i] = (uint8_t)('a' + i % 26);
    memset(&res, 0, sizeof(res));
    res.rss_kb = res.rss_after_kb = res.rss_closed_kb = -1;
    res.bytes_per_conn = -1;

    if (r->o.scenario == SC_IDLE) {
        run_idle(r, &res);
        res.valid = true;
    } else {
        if (r->o.scenario == SC_RETAINED) {
            run_retained(r, &res);
            r->npub = r->nsub = 1;
            r->window = 0;
        } else {
            r->ep = epoll_create1(EPOLL_CLOEXEC);
            if (r->ep < 0)
                die("epoll_create1");
            setup_clients(r);
            run_loop(r, &res);
            tally(r, &res);
            close_clients(r);
        }
        res.rss_kb = broker_rss_kb(r->o.broker_pid);
        res.valid = !res.lost && !res.dup && !res.reorder && !res.bad && !r->stalled;
        if (res.lost)
            res.why = "messages lost";
        else if (res.dup)
            res.why = "duplicated deliveries";
        else if (res.reorder)
            res.why = "deliveries out of order";
        else if (res.bad)
            res.why = "malformed or unexpected packets";
        else if (r->stalled)
            res.why = "stalled";
    }
    report(r, &res);
    {
        int rc = res.valid ? 0 : 1;

        if (r->ep > 0)
            close(r->ep);
        free(r->pubs);
        free(r->subs);
        free(r->match);
        free(r->track);
        free(r->filler);
        free(r);
        return rc;
    }
}

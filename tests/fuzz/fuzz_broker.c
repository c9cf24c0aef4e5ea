/*
 * Fuzz target: the whole sans-I/O broker, driven by a byte stream that
 * interleaves several connections, well-formed and raw packets, partial
 * writes, time steps and disconnects. Connections 0-2 speak MQTT 3.1.1,
 * 3-5 MQTT 5 (session expiry, receive maximum 2, topic aliases both ways,
 * message expiry, subscription identifiers, shared subscriptions).
 *
 * Invariants checked after every step (abort on violation):
 *  - every byte the broker writes decodes as a valid packet of the
 *    connection's protocol version, and every topic alias it uses is known;
 *  - no PUBLISH reaches a client whose client id never had a subscription
 *    matching its topic (reference matcher below, a superset model);
 *  - no client has more unacknowledged QoS 1/2 deliveries than max_inflight
 *    (or, for MQTT 5, its Receive Maximum);
 *  - after every connection is lost and the broker freed, every byte
 *    allocated through the platform allocator is returned.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/broker.h"
#include "musqratt/codec.h"
#include "musqratt/error.h"

#define NCONN 6
#define NIDS 4
#define INFLIGHT 3
#define V5_RECEIVE_MAX 2
#define V5_ALIAS_MAX 5
#define IS_V5(k) ((k) >= 3)
#define ACC_MAX (1u << 16)

static const char *const filters[] = {"a",      "a/b", "a/+",    "#",      "+/b",
                                      "a/#",    "$SYS/x", "+", "$SYS/#", "$share/g/a/#"};
static const char *const topics[] = {"a", "a/b", "a/c", "b/b", "$SYS/x", "a/b/c"};
#define NFILTERS (sizeof(filters) / sizeof(filters[0]))
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))

static size_t g_live;
static void *f_alloc(void *ctx, size_t n)
{
    (void)ctx;
    g_live += n;
    return malloc(n);
}
static void f_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (p)
        g_live -= n;
    free(p);
}
static void f_random(void *ctx, uint8_t *buf, size_t len)
{
    static uint32_t x = 1;
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        buf[i] = (uint8_t)(x >> 24);
    }
}

typedef struct {
    mq_conn_t *c;
    int id;            /* index into ids once CONNECT was sent, -1 before */
    uint8_t *acc;      /* output received but not yet parsed */
    size_t acc_len;
    uint16_t last_pid; /* last delivered QoS>0 packet id (for acks) */
    int unacked;       /* QoS 1/2 deliveries not yet acknowledged by us */
    uint16_t pids[64];
    bool raw;          /* raw bytes were sent: its output is not modelled */
    bool v5;
    char aliases[V5_ALIAS_MAX + 1][128]; /* topic aliases the broker assigned ($SYS names are long) */
    /* Ids acknowledged before their PUBLISH was read (a short write left it
     * in the broker): that delivery is already released when it arrives. */
    uint16_t early[16];
    int n_early;
    bool window_unmodelled; /* early list overflowed: window not checked */
} fconn_t;

/* Raw bytes may subscribe any session to anything: from then on the
 * subscription model is unknown and only the other invariants hold. */
static bool g_unmodelled;

/* Superset model: filters ever subscribed by each client id (bitmask). */
static uint32_t g_subs[NIDS];

/* Reference matcher, written from the standard's rules (section 4.7). */
static bool ref_match(const char *f, const char *t, size_t tlen)
{
    const char *te = t + tlen;
    if (strncmp(f, "$share/", 7) == 0)
        f = strchr(f + 7, '/') + 1; /* the group's filter */
    if ((f[0] == '+' || f[0] == '#') && tlen && t[0] == '$')
        return false; /* MQTT-4.7.2-1 */
    for (;;) {
        if (f[0] == '#')
            return true;
        const char *fe = strchr(f, '/');
        size_t fl = fe ? (size_t)(fe - f) : strlen(f);
        const char *tl_end = memchr(t, '/', (size_t)(te - t));
        size_t tl = tl_end ? (size_t)(tl_end - t) : (size_t)(te - t);
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
            return false;
        if (!fe && !tl_end)
            return true;
        if (!fe)
            return false;
        if (!tl_end)
            return strcmp(fe + 1, "#") == 0; /* "a/#" matches "a" */
        f = fe + 1;
        t = tl_end + 1;
    }
}

static void check_output(fconn_t *fc)
{
    size_t off = 0;
    if (fc->raw) {
        fc->acc_len = 0;
        return;
    }
    while (off < fc->acc_len) {
        mq_fixed_header_t fh;
        int rc = mq_codec_fixed_header(fc->acc + off, fc->acc_len - off, 0, &fh);
        if (rc == MQ_EAGAIN)
            break;
        if (rc != MQ_OK)
            abort();
        if (fh.header_len + (size_t)fh.remaining > fc->acc_len - off)
            break;
        mq_packet_t p;
        if (mq_codec_decode(&fh, fc->acc + off + fh.header_len,
                            fc->v5 ? MQ_PROTO_V5 : MQ_PROTO_V311, &p) != MQ_OK)
            abort(); /* the broker wrote an invalid packet */
        if (fh.type == MQ_PKT_PUBLISH && fc->v5 && mq_props_has(&p.props, MQ_PROP_TOPIC_ALIAS)) {
            uint16_t a = p.props.topic_alias;
            if (a == 0 || a > V5_ALIAS_MAX)
                abort(); /* above the Topic Alias Maximum we announced */
            if (p.u.publish.topic.len) {
                if (p.u.publish.topic.len >= sizeof(fc->aliases[a]))
                    abort();
                memcpy(fc->aliases[a], p.u.publish.topic.ptr, p.u.publish.topic.len);
                fc->aliases[a][p.u.publish.topic.len] = '\0';
            } else {
                if (!fc->aliases[a][0])
                    abort(); /* an alias the broker never set */
                p.u.publish.topic.ptr = (const uint8_t *)fc->aliases[a];
                p.u.publish.topic.len = (uint32_t)strlen(fc->aliases[a]);
            }
        }
        if (fh.type == MQ_PKT_PUBLISH) {
            if (fc->id < 0)
                abort(); /* delivery before CONNECT */
            bool ok = g_unmodelled;
            for (size_t i = 0; i < NFILTERS; i++) {
                if ((g_subs[fc->id] >> i) & 1 &&
                    ref_match(filters[i], (const char *)p.u.publish.topic.ptr, p.u.publish.topic.len))
                    ok = true;
            }
            if (!ok)
                abort(); /* delivered without a matching subscription */
            if (p.u.publish.qos > 0) {
                bool released = false;
                for (int k = 0; k < fc->n_early; k++) {
                    if (fc->early[k] == p.u.publish.packet_id) {
                        fc->early[k] = fc->early[--fc->n_early];
                        released = true;
                        break;
                    }
                }
                if (!p.u.publish.dup && !released) {
                    if (fc->unacked < 64)
                        fc->pids[fc->unacked] = p.u.publish.packet_id;
                    fc->unacked++;
                    if (!fc->window_unmodelled &&
                        fc->unacked > (fc->v5 ? V5_RECEIVE_MAX : INFLIGHT))
                        abort(); /* more in flight than the window */
                }
                fc->last_pid = p.u.publish.packet_id;
            }
        }
        off += fh.header_len + fh.remaining;
    }
    memmove(fc->acc, fc->acc + off, fc->acc_len - off);
    fc->acc_len -= off;
}

static void flush(mq_broker_t *b, fconn_t *conns, uint8_t partial)
{
    mq_conn_t *c;
    while ((c = mq_broker_pending(b))) {
        fconn_t *fc = mq_conn_user(c);
        mq_iov_t iov[16];
        size_t n = mq_conn_out_iov(c, iov, 16);
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            size_t take = iov[i].len;
            if (partial && i == n - 1 && take > 1)
                take = take / 2; /* a short write */
            if (fc->acc_len + take <= ACC_MAX) {
                memcpy(fc->acc + fc->acc_len, iov[i].base, take);
                fc->acc_len += take;
            } else {
                fc->acc_len = 0; /* too much to model: stop checking this stream */
            }
            total += take;
            if (take < iov[i].len)
                break;
        }
        mq_conn_out_consume(b, c, total);
        check_output(fc);
    }
    (void)conns;
}

static void lose(mq_broker_t *b, fconn_t *fc, mq_time_t now)
{
    mq_broker_conn_lost(b, fc->c, now);
    fc->c = NULL;
    fc->id = -1;
    fc->acc_len = 0;
    fc->unacked = 0;
    fc->n_early = 0;
    fc->window_unmodelled = false;
    fc->raw = false;
    memset(fc->aliases, 0, sizeof(fc->aliases));
}

static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    memcpy(p + 2, s, n);
    return n + 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mq_platform_t plat = {.allocator = {f_alloc, f_free, NULL}, .random = f_random};
    mq_broker_config_t cfg;
    mq_broker_config_defaults(&cfg);
    cfg.max_inflight = INFLIGHT;
    cfg.max_queued_messages = 8;
    cfg.max_packet_size = 4096;
    cfg.queue_qos0_messages = true;
    cfg.persistent_client_expiration = 60;
    g_live = 0;
    g_unmodelled = false;
    memset(g_subs, 0, sizeof(g_subs));
    mq_broker_t *b = mq_broker_new(&plat, &cfg);
    if (!b)
        abort();
    fconn_t conns[NCONN];
    memset(conns, 0, sizeof(conns));
    for (int i = 0; i < NCONN; i++) {
        conns[i].id = -1;
        conns[i].acc = malloc(ACC_MAX);
    }
    mq_time_t now = 0;
    size_t i = 0;
    uint8_t pkt[600];
    while (i + 2 <= size) {
        uint8_t op = data[i] & 7;
        fconn_t *fc = &conns[(data[i] >> 3) % NCONN];
        uint8_t arg = data[i + 1];
        i += 2;
        if (op == 0 || !fc->c) {
            if (!fc->c) {
                fc->c = mq_broker_conn_open(b, fc, now);
                fc->id = -1;
            }
            if (op == 0)
                goto step;
        }
        size_t n = 0;
        switch (op) {
        case 1: { /* CONNECT */
            int id = arg % NIDS;
            char cid[8] = "cX";
            cid[1] = (char)('0' + id);
            bool clean = arg & 0x10;
            bool will = arg & 0x20;
            bool v5 = IS_V5(fc - conns);
            n = 2;
            n += put_str(pkt + n, "MQTT");
            pkt[n++] = v5 ? 5 : 4;
            pkt[n++] = (uint8_t)((clean ? 2 : 0) | (will ? 0x04 | ((arg >> 6) & 3) << 3 : 0));
            if (((arg >> 6) & 3) == 3 && will)
                pkt[n - 1] &= (uint8_t)~0x18; /* keep the will QoS valid */
            pkt[n++] = 0;
            pkt[n++] = (uint8_t)(arg & 0x8 ? 2 : 0); /* keepalive 0 or 2 s */
            if (v5) {
                /* Session Expiry (60 s unless clean), Receive Maximum 2,
                 * Topic Alias Maximum 5. */
                static const uint8_t props[] = {11,   0x11, 0, 0, 0, 60, 0x21, 0,
                                                V5_RECEIVE_MAX, 0x22, 0, V5_ALIAS_MAX};
                memcpy(pkt + n, props, sizeof(props));
                if (clean)
                    pkt[n + 5] = 0;
                n += sizeof(props);
            }
            n += put_str(pkt + n, cid);
            if (will) {
                if (v5) {
                    /* Will Delay 1 s, Message Expiry 2 s */
                    static const uint8_t wprops[] = {10, 0x18, 0, 0, 0, 1, 0x02, 0, 0, 0, 2};
                    memcpy(pkt + n, wprops, sizeof(wprops));
                    n += sizeof(wprops);
                }
                n += put_str(pkt + n, topics[arg % NTOPICS]);
                n += put_str(pkt + n, "will");
            }
            pkt[0] = 0x10;
            pkt[1] = (uint8_t)(n - 2);
            /* A second CONNECT closes the connection: keep the first id. The
             * model never forgets a filter (a superset is enough). */
            if (fc->id < 0) {
                fc->id = id;
                fc->v5 = v5;
            }
            break;
        }
        case 2: { /* SUBSCRIBE or UNSUBSCRIBE */
            const char *f = filters[arg % NFILTERS];
            bool unsub = arg & 0x80;
            n = 2;
            pkt[n++] = 0;
            pkt[n++] = (uint8_t)(1 + (arg & 0x0f));
            if (fc->v5) {
                if (unsub) {
                    pkt[n++] = 0;
                } else { /* a Subscription Identifier */
                    pkt[n++] = 2;
                    pkt[n++] = 0x0B;
                    pkt[n++] = (uint8_t)(1 + (arg & 0x0f));
                }
            }
            n += put_str(pkt + n, f);
            if (!unsub)
                pkt[n++] = (uint8_t)((arg >> 4) % 3);
            pkt[0] = unsub ? 0xA2 : 0x82;
            pkt[1] = (uint8_t)(n - 2);
            if (!unsub && fc->id >= 0)
                g_subs[fc->id] |= 1u << (arg % NFILTERS);
            break;
        }
        case 3: { /* PUBLISH */
            uint8_t qos = (arg >> 4) % 3;
            n = 2;
            n += put_str(pkt + n, topics[arg % NTOPICS]);
            if (qos) {
                pkt[n++] = 0;
                pkt[n++] = (uint8_t)(1 + ((arg >> 6) & 1));
            }
            if (fc->v5) {
                /* Topic Alias (1 + topic index) and a Message Expiry of 1 s. */
                pkt[n++] = 8;
                pkt[n++] = 0x23;
                pkt[n++] = 0;
                pkt[n++] = (uint8_t)(1 + arg % NTOPICS);
                pkt[n++] = 0x02;
                pkt[n++] = 0;
                pkt[n++] = 0;
                pkt[n++] = 0;
                pkt[n++] = 1;
            }
            size_t plen = (arg & 0x80) ? 0 : (size_t)(arg & 0x3f);
            memset(pkt + n, 'p', plen);
            n += plen;
            pkt[0] = (uint8_t)(0x30 | (qos << 1) | ((arg >> 3) & 1));
            pkt[1] = (uint8_t)(n - 2);
            break;
        }
        case 4: { /* an ack for the last delivery, or any id */
            static const uint8_t types[4] = {0x40, 0x50, 0x62, 0x70};
            uint16_t pid = (arg & 0x80) ? fc->last_pid : (uint16_t)(arg & 0x7);
            if ((arg & 3) == 0 || (arg & 3) == 3) {
                /* PUBACK/PUBCOMP release one of our counted deliveries */
                bool found = false;
                for (int k = 0; k < fc->unacked && k < 64; k++) {
                    if (fc->pids[k] == pid) {
                        fc->pids[k] = fc->pids[--fc->unacked];
                        found = true;
                        break;
                    }
                }
                /* An ack for a delivery the model has not seen yet (its
                 * bytes may still sit in a partial write): remember it once.
                 * When the list is full the model can no longer count this
                 * connection's window exactly, so it stops checking it. */
                for (int k = 0; !found && k < fc->n_early; k++)
                    found = fc->early[k] == pid;
                if (!found && fc->n_early < 16)
                    fc->early[fc->n_early++] = pid;
                else if (!found)
                    fc->window_unmodelled = true;
            }
            pkt[0] = types[arg & 3];
            pkt[1] = 2;
            pkt[2] = (uint8_t)(pid >> 8);
            pkt[3] = (uint8_t)pid;
            n = 4;
            break;
        }
        case 5: { /* raw bytes, delivered in two chunks */
            size_t len = arg % 64;
            if (len > size - i)
                len = size - i;
            size_t half = len / 2;
            if (mq_broker_conn_input(b, fc->c, data + i, half, now) >= 0)
                mq_broker_conn_input(b, fc->c, data + i + half, len - half, now);
            i += len;
            fc->raw = true;
            g_unmodelled = true;
            goto step;
        }
        case 6:
            lose(b, fc, now);
            goto step;
        case 7:
            now += (mq_time_t)arg * 50;
            mq_broker_tick(b, now);
            goto step;
        }
        if (n) {
            /* A packet sometimes split in two reads. */
            size_t cut = (arg & 1) ? n / 2 : n;
            if (mq_broker_conn_input(b, fc->c, pkt, cut, now) >= 0 && cut < n)
                mq_broker_conn_input(b, fc->c, pkt + cut, n - cut, now);
        }
    step:
        flush(b, conns, arg & 0x40);
        for (int k = 0; k < NCONN; k++) {
            /* The platform closes connections the broker marked, once drained. */
            if (conns[k].c && mq_conn_closing(conns[k].c) && mq_conn_out_size(conns[k].c) == 0)
                lose(b, &conns[k], now);
        }
    }
    for (int k = 0; k < NCONN; k++) {
        if (conns[k].c)
            lose(b, &conns[k], now);
        free(conns[k].acc);
    }
    mq_broker_tick(b, now + 3600 * 1000);
    mq_broker_free(b);
    if (g_live != 0)
        abort(); /* memory accounting back to zero */
    return 0;
}

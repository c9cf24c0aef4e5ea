/*
 * test_sys — the $SYS/broker tree (src/broker/sys.c), the counters behind it
 * and the max_queued_memory ceiling, driven with hand-set time: bytes in,
 * time as an argument, bytes out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "musqratt/broker.h"
#include "musqratt/codec.h"
#include "musqratt/error.h"

/* ---- platform ------------------------------------------------------------ */

static size_t g_live;
static char g_log[8][512];
static size_t g_nlog;

static void *t_alloc(void *ctx, size_t n)
{
    (void)ctx;
    g_live += n;
    return malloc(n);
}

static void t_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (p)
        g_live -= n;
    free(p);
}

static void t_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    memset(buf, 7, len);
}

static void t_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    if (strstr(msg, "max_queued_memory") && g_nlog < 8)
        snprintf(g_log[g_nlog++], sizeof(g_log[0]), "%s", msg);
}

static mq_broker_t *new_broker(uint32_t sys_interval, mq_time_t start, uint64_t max_queued_memory)
{
    mq_broker_config_t cfg;
    mq_platform_t p;
    g_live = 0;
    g_nlog = 0;
    mq_broker_config_defaults(&cfg);
    cfg.sys_interval = sys_interval;
    cfg.start_time = start;
    cfg.version = "musqratt version test";
    cfg.max_queued_memory = max_queued_memory;
    memset(&p, 0, sizeof(p));
    p.allocator.alloc = t_alloc;
    p.allocator.free = t_free;
    p.random = t_random;
    p.log = t_log;
    mq_broker_t *b = mq_broker_new(&p, &cfg);
    assert_non_null(b);
    return b;
}

static void teardown_broker(mq_broker_t *b)
{
    mq_broker_free(b);
    assert_int_equal(g_live, 0);
}

/* ---- packets ------------------------------------------------------------- */

typedef struct {
    uint8_t b[65536];
    size_t n;
} buf_t;

static void put8(buf_t *x, uint8_t v) { x->b[x->n++] = v; }
static void put16(buf_t *x, uint16_t v)
{
    put8(x, (uint8_t)(v >> 8));
    put8(x, (uint8_t)v);
}
static void putmem(buf_t *x, const void *p, size_t n)
{
    memcpy(x->b + x->n, p, n);
    x->n += n;
}
static void putstr(buf_t *x, const char *s)
{
    put16(x, (uint16_t)strlen(s));
    putmem(x, s, strlen(s));
}

static buf_t *packet(uint8_t first, const buf_t *body)
{
    static buf_t out;
    out.n = 0;
    put8(&out, first);
    uint32_t rem = (uint32_t)body->n;
    do {
        uint8_t d = rem % 128;
        rem /= 128;
        put8(&out, rem ? (uint8_t)(d | 128) : d);
    } while (rem);
    putmem(&out, body->b, body->n);
    return &out;
}

/* CONNECT, MQTT 3.1.1 (proto 4) or 5 (no properties but the session expiry). */
static buf_t *connect_pkt(const char *id, uint8_t proto, bool clean, const char *will_topic)
{
    static buf_t body;
    body.n = 0;
    putstr(&body, "MQTT");
    put8(&body, proto);
    put8(&body, (uint8_t)((clean ? 0x02 : 0) | (will_topic ? 0x04 : 0)));
    put16(&body, 0);
    if (proto == 5) {
        put8(&body, 5);
        put8(&body, 0x11); /* Session Expiry Interval: never */
        put16(&body, 0xffff);
        put16(&body, 0xffff);
    }
    putstr(&body, id);
    if (will_topic) {
        if (proto == 5)
            put8(&body, 0);
        putstr(&body, will_topic);
        putstr(&body, "bye");
    }
    return packet(0x10, &body);
}

static buf_t *publish_pkt(uint8_t proto, const char *topic, const void *payload, size_t len,
                          uint8_t qos, bool retain, uint16_t pid)
{
    static buf_t body;
    body.n = 0;
    putstr(&body, topic);
    if (qos)
        put16(&body, pid);
    if (proto == 5)
        put8(&body, 0);
    putmem(&body, payload, len);
    return packet((uint8_t)(0x30 | (qos << 1) | (retain ? 1 : 0)), &body);
}

static buf_t *subscribe_pkt(uint8_t proto, const char *filter, uint8_t qos)
{
    static buf_t body;
    body.n = 0;
    put16(&body, 1);
    if (proto == 5)
        put8(&body, 0);
    putstr(&body, filter);
    put8(&body, qos);
    return packet(0x82, &body);
}

/* ---- driving ------------------------------------------------------------- */

static int feed(mq_broker_t *b, mq_conn_t *c, const buf_t *p, mq_time_t now)
{
    return mq_broker_conn_input(b, c, p->b, p->n, now);
}

static buf_t *drain(mq_broker_t *b, mq_conn_t *c)
{
    static buf_t out;
    out.n = 0;
    mq_iov_t iov[64];
    size_t n;
    while ((n = mq_conn_out_iov(c, iov, 64)) > 0) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(out.n + iov[i].len <= sizeof(out.b));
            memcpy(out.b + out.n, iov[i].base, iov[i].len);
            out.n += iov[i].len;
            total += iov[i].len;
        }
        mq_conn_out_consume(b, c, total);
    }
    return &out;
}

#define MAXPK 256
static mq_packet_t g_pk[MAXPK];

/* Decodes what c has to send into g_pk; returns the count. */
static size_t take(mq_broker_t *b, mq_conn_t *c, uint8_t proto)
{
    const buf_t *bytes = drain(b, c);
    size_t off = 0, n = 0;
    while (off < bytes->n) {
        mq_fixed_header_t fh;
        assert_int_equal(mq_codec_fixed_header(bytes->b + off, bytes->n - off, 0, &fh), MQ_OK);
        assert_true(n < MAXPK);
        assert_int_equal(mq_codec_decode(&fh, bytes->b + off + fh.header_len, proto, &g_pk[n]),
                         MQ_OK);
        n++;
        off += fh.header_len + fh.remaining;
    }
    return n;
}

static mq_conn_t *client(mq_broker_t *b, const char *id, uint8_t proto, bool clean, mq_time_t now)
{
    mq_conn_t *c = mq_broker_conn_open(b, NULL, now);
    assert_non_null(c);
    assert_int_equal(feed(b, c, connect_pkt(id, proto, clean, NULL), now), MQ_OK);
    assert_true(take(b, c, proto) >= 1);
    assert_int_equal(g_pk[0].fh.type, MQ_PKT_CONNACK);
    assert_int_equal(g_pk[0].u.connack.rc, 0);
    return c;
}

static void subscribe(mq_broker_t *b, mq_conn_t *c, uint8_t proto, const char *filter,
                      uint8_t qos, mq_time_t now)
{
    assert_int_equal(feed(b, c, subscribe_pkt(proto, filter, qos), now), MQ_OK);
}

/* The payload of the PUBLISH to topic among g_pk[0..n) (NUL-terminated
 * copy), or NULL. */
static const char *find(size_t n, const char *topic)
{
    static char v[256];
    for (size_t i = 0; i < n; i++) {
        const mq_publish_t *p = &g_pk[i].u.publish;
        if (g_pk[i].fh.type != MQ_PKT_PUBLISH || p->topic.len != strlen(topic) ||
            memcmp(p->topic.ptr, topic, p->topic.len) != 0)
            continue;
        size_t l = p->payload.len < sizeof(v) - 1 ? p->payload.len : sizeof(v) - 1;
        memcpy(v, p->payload.ptr, l);
        v[l] = '\0';
        return v;
    }
    return NULL;
}

static size_t count_publishes(size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += g_pk[i].fh.type == MQ_PKT_PUBLISH;
    return k;
}

/* ---- $SYS ---------------------------------------------------------------- */

static void test_sys_published_at_start_then_every_interval(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(10, 5000, 0);
    mq_conn_t *s = client(b, "s", 4, true, 1000);
    subscribe(b, s, 4, "$SYS/broker/#", 0, 1000);
    take(b, s, 4); /* SUBACK */
    /* Before the start time nothing; the first update is due then. */
    assert_int_equal(mq_broker_tick(b, 1000), 5000);
    assert_int_equal(take(b, s, 4), 0);
    assert_int_equal(mq_broker_tick(b, 5000), 15000);
    size_t n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/version"), "musqratt version test");
    assert_string_equal(find(n, "$SYS/broker/uptime"), "0 seconds");
    assert_string_equal(find(n, "$SYS/broker/clients/connected"), "1");
    assert_string_equal(find(n, "$SYS/broker/clients/active"), "1");
    assert_string_equal(find(n, "$SYS/broker/clients/total"), "1");
    assert_string_equal(find(n, "$SYS/broker/clients/disconnected"), "0");
    assert_string_equal(find(n, "$SYS/broker/clients/maximum"), "1");
    assert_string_equal(find(n, "$SYS/broker/clients/expired"), "0");
    assert_string_equal(find(n, "$SYS/broker/subscriptions/count"), "1");
    assert_string_equal(find(n, "$SYS/broker/messages/received"), "2"); /* CONNECT, SUBSCRIBE */
    assert_string_equal(find(n, "$SYS/broker/messages/sent"), "2");     /* CONNACK, SUBACK */
    assert_string_equal(find(n, "$SYS/broker/publish/messages/received"), "0");
    assert_string_equal(find(n, "$SYS/broker/load/connections/1min"), "0.00");
    assert_non_null(find(n, "$SYS/broker/heap/current"));
    assert_non_null(find(n, "$SYS/broker/heap/maximum"));
    assert_non_null(find(n, "$SYS/broker/store/messages/count"));
    assert_non_null(find(n, "$SYS/broker/store/messages/bytes"));
    assert_non_null(find(n, "$SYS/broker/retained messages/count"));
    assert_non_null(find(n, "$SYS/broker/bytes/received"));
    assert_non_null(find(n, "$SYS/broker/load/bytes/sent/15min"));
    assert_non_null(find(n, "$SYS/broker/publish/bytes/sent"));
    assert_non_null(find(n, "$SYS/broker/publish/messages/dropped"));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g_pk[i].u.publish.qos, 0);
        assert_false(g_pk[i].u.publish.retain); /* forwarded live: MQTT-3.3.1-9 */
    }
    /* Nothing between updates. */
    assert_int_equal(mq_broker_tick(b, 14999), 15000);
    assert_int_equal(take(b, s, 4), 0);
    /* Next update: uptime, and only what changed; version is static. */
    assert_int_equal(mq_broker_tick(b, 15000), 25000);
    n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/uptime"), "10 seconds");
    assert_null(find(n, "$SYS/broker/version"));
    assert_null(find(n, "$SYS/broker/clients/connected"));
    assert_null(find(n, "$SYS/broker/subscriptions/count"));
    assert_non_null(find(n, "$SYS/broker/messages/sent")); /* the $SYS messages themselves */
    /* A late tick does not drift the schedule beyond one interval. */
    assert_int_equal(mq_broker_tick(b, 26000), 35000);
    n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/uptime"), "21 seconds");
    mq_broker_conn_lost(b, s, 26000);
    teardown_broker(b);
}

static void test_sys_values_are_retained_and_hidden_from_wildcards(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(10, 0, 0);
    mq_conn_t *all = client(b, "all", 4, true, 0);
    subscribe(b, all, 4, "#", 0, 0);
    subscribe(b, all, 4, "+/broker/uptime", 0, 0);
    take(b, all, 4);
    mq_broker_tick(b, 0);
    /* MQTT-4.7.2-1: wildcards at the first level do not match $ topics. */
    assert_int_equal(take(b, all, 4), 0);
    /* A later subscriber gets the retained values, retain flag set. */
    mq_conn_t *late = client(b, "late", 4, true, 100);
    subscribe(b, late, 4, "$SYS/broker/version", 1, 100);
    size_t n = take(b, late, 4);
    assert_int_equal(n, 2);
    assert_int_equal(g_pk[1].fh.type, MQ_PKT_PUBLISH);
    assert_true(g_pk[1].u.publish.retain);
    assert_string_equal(find(n, "$SYS/broker/version"), "musqratt version test");
    subscribe(b, late, 4, "$SYS/broker/clients/+", 0, 100);
    n = take(b, late, 4);
    assert_string_equal(find(n, "$SYS/broker/clients/connected"), "1");
    assert_string_equal(find(n, "$SYS/broker/clients/total"), "1");
    mq_broker_conn_lost(b, all, 100);
    mq_broker_conn_lost(b, late, 100);
    teardown_broker(b);
}

static void test_sys_interval_zero_publishes_nothing(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(0, 0, 0);
    mq_conn_t *s = client(b, "s", 4, true, 0);
    subscribe(b, s, 4, "$SYS/#", 0, 0);
    take(b, s, 4);
    assert_true(mq_broker_tick(b, 0) == MQ_TIME_NEVER);
    assert_true(mq_broker_tick(b, 100000) == MQ_TIME_NEVER);
    assert_int_equal(take(b, s, 4), 0);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.retained, 0);
    mq_broker_conn_lost(b, s, 100000);
    teardown_broker(b);
}

/* load = r + exp(-dt/T) (load - r), r in events per minute: after one
 * minute at 60 PUBLISH a minute from 0, 60 (1 - e^-1) = 37.93 over 1 min,
 * 60 (1 - e^-0.2) = 10.88 over 5, 60 (1 - e^-1/15) = 3.87 over 15. */
static void test_sys_load_averages(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(60, 0, 0);
    mq_conn_t *p = client(b, "p", 4, true, 0);
    mq_conn_t *s = client(b, "s", 4, true, 0);
    subscribe(b, s, 4, "$SYS/broker/load/publish/#", 0, 0);
    take(b, s, 4);
    mq_broker_tick(b, 0);
    size_t n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/load/publish/received/1min"), "0.00");
    for (int i = 0; i < 60; i++)
        assert_int_equal(feed(b, p, publish_pkt(4, "x", "m", 1, 0, false, 0), (mq_time_t)i * 1000),
                         MQ_OK);
    mq_broker_tick(b, 60000);
    n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/load/publish/received/1min"), "37.93");
    assert_string_equal(find(n, "$SYS/broker/load/publish/received/5min"), "10.88");
    assert_string_equal(find(n, "$SYS/broker/load/publish/received/15min"), "3.87");
    /* Nothing in the next minute: each decays by its factor. 37.93 e^-1. */
    mq_broker_tick(b, 120000);
    n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/load/publish/received/1min"), "13.95");
    /* Unchanged values are not re-sent: nothing was dropped. */
    assert_null(find(n, "$SYS/broker/load/publish/dropped/1min"));
    mq_broker_conn_lost(b, p, 120000);
    mq_broker_conn_lost(b, s, 120000);
    teardown_broker(b);
}

static void test_sys_counts_sessions_and_expiry(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(10, 0, 0);
    mq_broker_config_t cfg;
    (void)cfg;
    mq_conn_t *s = client(b, "watch", 4, true, 0);
    subscribe(b, s, 4, "$SYS/broker/clients/#", 0, 0);
    take(b, s, 4);
    /* A v5 session with a 1 s expiry goes offline, then expires. */
    mq_conn_t *e = mq_broker_conn_open(b, NULL, 0);
    buf_t *c = connect_pkt("e", 5, true, NULL);
    c->b[c->n - 7] = 0; /* expiry 0x0000ffff -> 0x00000001 */
    c->b[c->n - 6] = 0;
    c->b[c->n - 5] = 0;
    c->b[c->n - 4] = 1;
    assert_int_equal(feed(b, e, c, 0), MQ_OK);
    drain(b, e);
    mq_conn_t *d = client(b, "durable", 4, false, 0);
    mq_broker_conn_lost(b, d, 0);
    mq_broker_conn_lost(b, e, 0);
    mq_broker_tick(b, 0);
    size_t n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/clients/connected"), "1");
    assert_string_equal(find(n, "$SYS/broker/clients/disconnected"), "2");
    assert_string_equal(find(n, "$SYS/broker/clients/total"), "3");
    assert_string_equal(find(n, "$SYS/broker/clients/maximum"), "3");
    assert_string_equal(find(n, "$SYS/broker/clients/expired"), "0");
    mq_broker_tick(b, 1000); /* e expires */
    mq_broker_tick(b, 10000);
    n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/clients/expired"), "1");
    assert_string_equal(find(n, "$SYS/broker/clients/total"), "2");
    assert_string_equal(find(n, "$SYS/broker/clients/disconnected"), "1");
    assert_null(find(n, "$SYS/broker/clients/maximum"));
    mq_broker_conn_lost(b, s, 10000);
    teardown_broker(b);
}

static void test_clients_may_not_publish_into_sys(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(10, 0, 0);
    mq_broker_tick(b, 0);
    mq_conn_t *s = client(b, "s", 4, true, 0);
    subscribe(b, s, 4, "$SYS/#", 1, 0);
    take(b, s, 4); /* SUBACK + retained values */
    mq_conn_t *p = client(b, "p", 4, true, 0);
    /* 3.1.1: acknowledged and dropped; the retained value is untouched. */
    assert_int_equal(feed(b, p, publish_pkt(4, "$SYS/broker/version", "evil", 4, 1, true, 7), 0),
                     MQ_OK);
    assert_int_equal(take(b, p, 4), 1);
    assert_int_equal(g_pk[0].fh.type, MQ_PKT_PUBACK);
    assert_int_equal(take(b, s, 4), 0);
    /* MQTT 5: PUBACK 0x87 Not authorized; QoS 2: PUBREC 0x87. */
    mq_conn_t *p5 = client(b, "p5", 5, true, 0);
    assert_int_equal(feed(b, p5, publish_pkt(5, "$SYS/x", "evil", 4, 1, false, 8), 0), MQ_OK);
    assert_int_equal(take(b, p5, 5), 1);
    assert_int_equal(g_pk[0].fh.type, MQ_PKT_PUBACK);
    assert_int_equal(g_pk[0].u.ack.reason, MQ_RC_NOT_AUTHORIZED);
    assert_int_equal(feed(b, p5, publish_pkt(5, "$SYS", "evil", 4, 2, false, 9), 0), MQ_OK);
    assert_int_equal(take(b, p5, 5), 1);
    assert_int_equal(g_pk[0].fh.type, MQ_PKT_PUBREC);
    assert_int_equal(g_pk[0].u.ack.reason, MQ_RC_NOT_AUTHORIZED);
    assert_int_equal(take(b, s, 4), 0);
    /* "$SYSTEM" is not $SYS. */
    subscribe(b, s, 4, "$SYSTEM/x", 0, 0);
    take(b, s, 4);
    assert_int_equal(feed(b, p, publish_pkt(4, "$SYSTEM/x", "ok", 2, 0, false, 0), 0), MQ_OK);
    assert_int_equal(count_publishes(take(b, s, 4)), 1);
    /* A will in $SYS: the CONNECT is accepted (as Mosquitto does), the will
     * is never published. */
    mq_conn_t *w = mq_broker_conn_open(b, NULL, 0);
    assert_int_equal(feed(b, w, connect_pkt("w", 4, true, "$SYS/broker/uptime"), 0), MQ_OK);
    assert_int_equal(take(b, w, 4), 1);
    assert_int_equal(g_pk[0].u.connack.rc, 0);
    mq_broker_conn_lost(b, w, 0); /* no DISCONNECT: the will would go now */
    assert_int_equal(take(b, s, 4), 0);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.sys_denied, 4);
    /* The retained version is still the broker's. */
    subscribe(b, s, 4, "$SYS/broker/version", 0, 0);
    size_t n = take(b, s, 4);
    assert_string_equal(find(n, "$SYS/broker/version"), "musqratt version test");
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    mq_broker_conn_lost(b, p5, 0);
    teardown_broker(b);
}

static void test_sys_shared_subscriptions_count(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(10, 0, 0);
    mq_conn_t *w = client(b, "w", 4, true, 0);
    subscribe(b, w, 4, "$SYS/broker/shared_subscriptions/count", 0, 0);
    take(b, w, 4);
    /* Clean sessions: a member leaves its group with its connection. */
    mq_conn_t *m1 = client(b, "m1", 4, true, 0);
    mq_conn_t *m2 = client(b, "m2", 4, true, 0);
    subscribe(b, m1, 4, "$share/g/t/#", 1, 0);
    subscribe(b, m2, 4, "$share/g/t/#", 1, 0);
    take(b, m1, 4);
    take(b, m2, 4);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.shared_subscriptions, 2);
    mq_broker_tick(b, 0);
    size_t n = take(b, w, 4);
    assert_string_equal(find(n, "$SYS/broker/shared_subscriptions/count"), "2");
    mq_broker_conn_lost(b, m1, 0);
    mq_broker_tick(b, 10000);
    n = take(b, w, 4);
    assert_string_equal(find(n, "$SYS/broker/shared_subscriptions/count"), "1");
    mq_broker_conn_lost(b, m2, 10000);
    mq_broker_conn_lost(b, w, 10000);
    teardown_broker(b);
}

/* ---- counters ------------------------------------------------------------ */

static void test_stats_counters_move_with_traffic(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(0, 0, 0);
    mq_conn_t *p = client(b, "p", 4, true, 0);
    mq_conn_t *s = client(b, "s", 4, true, 0);
    subscribe(b, s, 4, "t/#", 1, 0);
    take(b, s, 4);
    assert_int_equal(feed(b, p, publish_pkt(4, "t/1", "12345", 5, 1, false, 1), 0), MQ_OK);
    assert_int_equal(feed(b, p, publish_pkt(4, "t/2", "123", 3, 0, false, 0), 0), MQ_OK);
    take(b, p, 4);
    take(b, s, 4);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.msgs_received, 2);
    assert_int_equal(mq_broker_publishes_received(b), 2);
    assert_int_equal(st.pub_bytes_received, 8);
    assert_int_equal(st.msgs_sent, 2);
    assert_int_equal(st.pub_bytes_sent, 8);
    assert_int_equal(st.packets_received, 5);  /* 2 CONNECT, SUBSCRIBE, 2 PUBLISH */
    assert_int_equal(st.packets_sent, 6);      /* 2 CONNACK, SUBACK, PUBACK, 2 PUBLISH */
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.sockets, 2);
    assert_int_equal(st.clients_connected, 2);
    assert_int_equal(st.clients_maximum, 2);
    assert_int_equal(st.stored_msgs, 1);       /* the QoS 1 one, in flight */
    assert_int_equal(st.stored_bytes, 5);
    assert_true(st.queued_memory > 5);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_stats(b, &st);
    assert_int_equal(st.clients_connected, 1);
    assert_int_equal(st.clients_maximum, 2);
    assert_int_equal(st.stored_msgs, 0);
    assert_int_equal(st.queued_memory, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

/* ---- max_queued_memory ----------------------------------------------------- */

static void test_queued_memory_ceiling(void **state)
{
    (void)state;
    uint8_t payload[1000];
    memset(payload, 'x', sizeof(payload));
    mq_broker_t *b = new_broker(0, 0, 4000);
    /* An offline persistent subscriber collects a queue. */
    mq_conn_t *s = client(b, "s", 4, false, 0);
    subscribe(b, s, 4, "q/#", 1, 0);
    take(b, s, 4);
    mq_broker_conn_lost(b, s, 0);
    mq_conn_t *p5 = client(b, "p5", 5, true, 0);
    mq_conn_t *p3 = client(b, "p3", 4, true, 0);
    int ok = 0, refused = 0;
    for (uint16_t i = 1; i <= 8; i++) {
        assert_int_equal(feed(b, p5, publish_pkt(5, "q/a", payload, sizeof(payload), 1, false, i), 0),
                         MQ_OK);
        assert_int_equal(take(b, p5, 5), 1);
        assert_int_equal(g_pk[0].fh.type, MQ_PKT_PUBACK);
        if (g_pk[0].u.ack.reason == MQ_RC_QUOTA_EXCEEDED) {
            refused++;
        } else {
            assert_int_equal(refused, 0); /* refusals only once full */
            ok++;
        }
    }
    assert_int_equal(ok, 3); /* 3 x (1000 + overhead) <= 4000 < 4 x */
    assert_int_equal(refused, 5);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_true(st.queued_memory <= 4000);
    assert_true(st.queued_memory > 3000);
    assert_int_equal(st.quota_dropped, 5);
    assert_int_equal(st.msgs_dropped, 5);
    /* QoS 2 from v5: PUBREC 0x97 ends the exchange; the id is free again. */
    assert_int_equal(feed(b, p5, publish_pkt(5, "q/b", payload, sizeof(payload), 2, false, 100), 0),
                     MQ_OK);
    assert_int_equal(take(b, p5, 5), 1);
    assert_int_equal(g_pk[0].fh.type, MQ_PKT_PUBREC);
    assert_int_equal(g_pk[0].u.ack.reason, MQ_RC_QUOTA_EXCEEDED);
    /* MQTT 3.1.1 publishers cannot be told: a plain PUBACK, the message is
     * dropped for the subscriber and counted. */
    assert_int_equal(feed(b, p3, publish_pkt(4, "q/c", payload, sizeof(payload), 1, false, 5), 0),
                     MQ_OK);
    assert_int_equal(take(b, p3, 4), 1);
    assert_int_equal(g_pk[0].fh.type, MQ_PKT_PUBACK);
    mq_broker_stats(b, &st);
    assert_int_equal(st.quota_dropped, 7);
    /* Logged once (rate-limited), naming the limit. */
    assert_int_equal(g_nlog, 1);
    assert_non_null(strstr(g_log[0], "max_queued_memory (4000 bytes) reached"));
    /* A message nobody queues is not refused (no subscriber: 0x10). */
    assert_int_equal(feed(b, p5, publish_pkt(5, "other", payload, 10, 1, false, 9), 0), MQ_OK);
    assert_int_equal(take(b, p5, 5), 1);
    assert_int_equal(g_pk[0].u.ack.reason, MQ_RC_NO_MATCHING_SUBSCRIBERS);
    /* The subscriber comes back: the 3 queued messages, then room again. */
    s = client(b, "s", 4, false, 0);
    size_t n = take(b, s, 4);
    (void)n;
    mq_broker_stats(b, &st);
    uint64_t held = st.queued_memory;
    assert_true(held > 0);
    for (uint16_t i = 1; i <= 3; i++)
        assert_int_equal(feed(b, s, &(buf_t){.b = {0x40, 2, 0, (uint8_t)i}, .n = 4}, 0), MQ_OK);
    mq_broker_stats(b, &st);
    assert_int_equal(st.queued_memory, 0);
    assert_int_equal(feed(b, p5, publish_pkt(5, "q/a", payload, sizeof(payload), 1, false, 20), 0),
                     MQ_OK);
    assert_int_equal(take(b, p5, 5), 1);
    assert_int_equal(g_pk[0].u.ack.reason, MQ_RC_SUCCESS);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p5, 0);
    mq_broker_conn_lost(b, p3, 0);
    teardown_broker(b);
}

/* Several subscribers: only those that cannot take it lose it, and the
 * publisher hears 0x97 only when none could. */
static void test_queued_memory_partial_delivery_is_success(void **state)
{
    (void)state;
    uint8_t payload[3000];
    memset(payload, 'y', sizeof(payload));
    mq_broker_t *b = new_broker(0, 0, 3500);
    mq_conn_t *q0 = client(b, "q0", 4, true, 0);
    subscribe(b, q0, 4, "m", 0, 0); /* QoS 0, online: not queued memory */
    take(b, q0, 4);
    mq_conn_t *off = client(b, "off", 4, false, 0);
    subscribe(b, off, 4, "m", 1, 0);
    take(b, off, 4);
    mq_broker_conn_lost(b, off, 0);
    mq_conn_t *p5 = client(b, "p5", 5, true, 0);
    assert_int_equal(feed(b, p5, publish_pkt(5, "m", payload, sizeof(payload), 1, false, 1), 0),
                     MQ_OK);
    assert_int_equal(take(b, p5, 5), 1);
    assert_int_equal(g_pk[0].u.ack.reason, MQ_RC_SUCCESS); /* both took it */
    assert_int_equal(feed(b, p5, publish_pkt(5, "m", payload, sizeof(payload), 1, false, 2), 0),
                     MQ_OK);
    assert_int_equal(take(b, p5, 5), 1);
    assert_int_equal(g_pk[0].u.ack.reason, MQ_RC_SUCCESS); /* q0 took it, "off" did not */
    assert_int_equal(count_publishes(take(b, q0, 4)), 2);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.quota_dropped, 1);
    mq_broker_conn_lost(b, q0, 0);
    mq_broker_conn_lost(b, p5, 0);
    teardown_broker(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sys_published_at_start_then_every_interval),
        cmocka_unit_test(test_sys_values_are_retained_and_hidden_from_wildcards),
        cmocka_unit_test(test_sys_interval_zero_publishes_nothing),
        cmocka_unit_test(test_sys_load_averages),
        cmocka_unit_test(test_sys_counts_sessions_and_expiry),
        cmocka_unit_test(test_clients_may_not_publish_into_sys),
        cmocka_unit_test(test_sys_shared_subscriptions_count),
        cmocka_unit_test(test_stats_counters_move_with_traffic),
        cmocka_unit_test(test_queued_memory_ceiling),
        cmocka_unit_test(test_queued_memory_partial_delivery_is_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the sans-I/O broker core, driven deterministically: bytes in,
 * time as an argument, bytes out. No sockets. Packets are built here byte by
 * byte from the MQTT 3.1.1 standard; replies are read with the codec.
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

/* ---- a counting allocator and a deterministic platform ------------------ */

static size_t g_live;

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
    static uint32_t x = 12345;
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

static mq_platform_t platform(void)
{
    mq_platform_t p;
    memset(&p, 0, sizeof(p));
    p.allocator.alloc = t_alloc;
    p.allocator.free = t_free;
    p.random = t_random;
    return p;
}

static mq_broker_t *new_broker(void (*tweak)(mq_broker_config_t *))
{
    mq_broker_config_t cfg;
    g_live = 0; /* a failed test before may have leaked */
    mq_broker_config_defaults(&cfg);
    if (tweak)
        tweak(&cfg);
    mq_platform_t p = platform();
    mq_broker_t *b = mq_broker_new(&p, &cfg);
    assert_non_null(b);
    return b;
}

/* ---- packet builders ---------------------------------------------------- */

typedef struct {
    uint8_t b[70000];
    size_t n;
} buf_t;

static void put8(buf_t *x, uint8_t v) { x->b[x->n++] = v; }
static void put16(buf_t *x, uint16_t v)
{
    put8(x, (uint8_t)(v >> 8));
    put8(x, (uint8_t)v);
}
static void putstr(buf_t *x, const char *s)
{
    put16(x, (uint16_t)strlen(s));
    memcpy(x->b + x->n, s, strlen(s));
    x->n += strlen(s);
}

/* Wraps body as a packet with first byte `first`. */
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
    memcpy(out.b + out.n, body->b, body->n);
    out.n += body->n;
    return &out;
}

static buf_t *connect_pkt(const char *id, bool clean, uint16_t ka, const char *will_topic,
                          const char *will_msg, uint8_t will_qos, bool will_retain)
{
    static buf_t body;
    body.n = 0;
    putstr(&body, "MQTT");
    put8(&body, 4);
    uint8_t flags = clean ? 0x02 : 0;
    if (will_topic)
        flags |= (uint8_t)(0x04 | (will_qos << 3) | (will_retain ? 0x20 : 0));
    put8(&body, flags);
    put16(&body, ka);
    putstr(&body, id);
    if (will_topic) {
        putstr(&body, will_topic);
        putstr(&body, will_msg);
    }
    return packet(0x10, &body);
}

static buf_t *publish_pkt(const char *topic, const char *payload, uint8_t qos, bool retain,
                          bool dup, uint16_t pid)
{
    static buf_t body;
    body.n = 0;
    putstr(&body, topic);
    if (qos)
        put16(&body, pid);
    memcpy(body.b + body.n, payload, strlen(payload));
    body.n += strlen(payload);
    return packet((uint8_t)(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0)), &body);
}

static buf_t *subscribe_pkt(uint16_t pid, const char *filter, uint8_t qos)
{
    static buf_t body;
    body.n = 0;
    put16(&body, pid);
    putstr(&body, filter);
    put8(&body, qos);
    return packet(0x82, &body);
}

static buf_t *ack_pkt(uint8_t type, uint16_t pid)
{
    static buf_t body;
    body.n = 0;
    put16(&body, pid);
    return packet((uint8_t)((type << 4) | (type == MQ_PKT_PUBREL ? 2 : 0)), &body);
}

/* ---- driving ------------------------------------------------------------- */

static int feed(mq_broker_t *b, mq_conn_t *c, const buf_t *p, mq_time_t now)
{
    return mq_broker_conn_input(b, c, p->b, p->n, now);
}

/* Everything c has to send, concatenated. */
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

/* Decodes the packets in bytes; returns how many, fills pkts. */
static size_t parse(const buf_t *bytes, mq_packet_t *pkts, size_t max)
{
    size_t off = 0, n = 0;
    while (off < bytes->n) {
        mq_fixed_header_t fh;
        assert_int_equal(mq_codec_fixed_header(bytes->b + off, bytes->n - off, 0, &fh), MQ_OK);
        assert_true(n < max);
        assert_int_equal(mq_codec_decode(&fh, bytes->b + off + fh.header_len, 4, &pkts[n]), MQ_OK);
        n++;
        off += fh.header_len + fh.remaining;
    }
    return n;
}

static buf_t g_rest;

static mq_conn_t *client(mq_broker_t *b, const char *id, bool clean, bool *sp)
{
    mq_conn_t *c = mq_broker_conn_open(b, NULL, 0);
    assert_non_null(c);
    assert_int_equal(feed(b, c, connect_pkt(id, clean, 0, NULL, NULL, 0, false), 0), MQ_OK);
    buf_t *out = drain(b, c);
    mq_packet_t p[16];
    assert_true(parse(out, p, 16) >= 1);
    assert_int_equal(p[0].fh.type, MQ_PKT_CONNACK);
    assert_int_equal(p[0].u.connack.rc, 0);
    if (sp)
        *sp = p[0].u.connack.session_present;
    /* What followed the CONNACK (a resumed session's messages). */
    g_rest.n = out->n - 4;
    memcpy(g_rest.b, out->b + 4, g_rest.n);
    return c;
}

static void subscribe(mq_broker_t *b, mq_conn_t *c, const char *filter, uint8_t qos)
{
    assert_int_equal(feed(b, c, subscribe_pkt(1, filter, qos), 0), MQ_OK);
    mq_packet_t p[8];
    size_t n = parse(drain(b, c), p, 8);
    assert_true(n >= 1);
    assert_int_equal(p[0].fh.type, MQ_PKT_SUBACK);
}

static void teardown_broker(mq_broker_t *b)
{
    mq_broker_free(b);
    assert_int_equal(g_live, 0); /* every byte returned */
}


/* ---- MQTT 5 builders --------------------------------------------------- */

static void put32(buf_t *x, uint32_t v)
{
    put16(x, (uint16_t)(v >> 16));
    put16(x, (uint16_t)v);
}

/* CONNECT v5: session expiry, receive maximum (0 = absent), a will with a
 * delay (will_topic NULL = none). */
static buf_t *connect5_pkt(const char *id, bool clean, uint32_t expiry, uint16_t recv_max,
                           const char *will_topic, uint32_t will_delay)
{
    static buf_t body;
    body.n = 0;
    putstr(&body, "MQTT");
    put8(&body, 5);
    put8(&body, (uint8_t)((clean ? 0x02 : 0) | (will_topic ? 0x04 : 0)));
    put16(&body, 0);
    put8(&body, (uint8_t)(5 + (recv_max ? 3 : 0)));
    put8(&body, 0x11);
    put32(&body, expiry);
    if (recv_max) {
        put8(&body, 0x21);
        put16(&body, recv_max);
    }
    putstr(&body, id);
    if (will_topic) {
        put8(&body, 5);
        put8(&body, 0x18);
        put32(&body, will_delay);
        putstr(&body, will_topic);
        putstr(&body, "bye");
    }
    return packet(0x10, &body);
}

/* PUBLISH v5 with an optional Message Expiry Interval (0 = none). */
static buf_t *publish5_pkt(const char *topic, const char *payload, uint8_t qos, uint16_t pid,
                           uint32_t expiry)
{
    static buf_t body;
    body.n = 0;
    putstr(&body, topic);
    if (qos)
        put16(&body, pid);
    if (expiry) {
        put8(&body, 5);
        put8(&body, 0x02);
        put32(&body, expiry);
    } else {
        put8(&body, 0);
    }
    memcpy(body.b + body.n, payload, strlen(payload));
    body.n += strlen(payload);
    return packet((uint8_t)(0x30 | (qos << 1)), &body);
}

static buf_t *subscribe5_pkt(uint16_t pid, const char *filter, uint8_t options)
{
    static buf_t body;
    body.n = 0;
    put16(&body, pid);
    put8(&body, 0); /* no properties */
    putstr(&body, filter);
    put8(&body, options);
    return packet(0x82, &body);
}

/* Decodes the packets in bytes at MQTT 5. */
static size_t parse5(const buf_t *bytes, mq_packet_t *pkts, size_t max)
{
    size_t off = 0, n = 0;
    while (off < bytes->n) {
        mq_fixed_header_t fh;
        assert_int_equal(mq_codec_fixed_header(bytes->b + off, bytes->n - off, 0, &fh), MQ_OK);
        assert_true(n < max);
        assert_int_equal(mq_codec_decode(&fh, bytes->b + off + fh.header_len, 5, &pkts[n]), MQ_OK);
        n++;
        off += fh.header_len + fh.remaining;
    }
    return n;
}

static mq_conn_t *client5(mq_broker_t *b, buf_t *connect, mq_time_t now, bool *sp)
{
    mq_conn_t *c = mq_broker_conn_open(b, NULL, now);
    assert_non_null(c);
    assert_int_equal(mq_broker_conn_input(b, c, connect->b, connect->n, now), MQ_OK);
    mq_packet_t p[16];
    buf_t *out = drain(b, c);
    assert_true(parse5(out, p, 16) >= 1);
    assert_int_equal(p[0].fh.type, MQ_PKT_CONNACK);
    assert_int_equal(p[0].u.connack.rc, 0);
    if (sp)
        *sp = p[0].u.connack.session_present;
    size_t first = p[0].fh.header_len + p[0].fh.remaining;
    g_rest.n = out->n - first;
    memcpy(g_rest.b, out->b + first, g_rest.n);
    return c;
}

/* ---- tests ------------------------------------------------------------- */

static void test_connect_connack(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    bool sp = true;
    mq_conn_t *c = client(b, "c1", true, &sp);
    assert_false(sp); /* MQTT-3.2.2-1 */
    assert_string_equal(mq_conn_client_id(c), "c1");
    mq_broker_conn_lost(b, c, 1);
    teardown_broker(b);
}

static void test_first_packet_must_be_connect(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *c = mq_broker_conn_open(b, NULL, 0);
    assert_true(feed(b, c, subscribe_pkt(1, "a", 0), 0) < 0); /* MQTT-3.1.0-1 */
    assert_true(mq_conn_closing(c));
    assert_int_equal(drain(b, c)->n, 0);
    mq_broker_conn_lost(b, c, 0);
    teardown_broker(b);
}

static void test_bad_protocol_level_gets_connack_1(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *c = mq_broker_conn_open(b, NULL, 0);
    buf_t *p = connect_pkt("x", true, 0, NULL, NULL, 0, false);
    p->b[8] = 9; /* protocol level byte */
    assert_true(feed(b, c, p, 0) < 0);
    buf_t *out = drain(b, c);
    assert_int_equal(out->n, 4);
    assert_int_equal(out->b[3], MQ_CONNACK_BAD_PROTOCOL_VERSION); /* MQTT-3.1.2-2 */
    assert_true(mq_conn_closing(c));
    mq_broker_conn_lost(b, c, 0);
    teardown_broker(b);
}

static void test_empty_id_rules(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *c = mq_broker_conn_open(b, NULL, 0);
    feed(b, c, connect_pkt("", false, 0, NULL, NULL, 0, false), 0);
    buf_t *out = drain(b, c);
    assert_int_equal(out->b[3], MQ_CONNACK_IDENTIFIER_REJECTED); /* MQTT-3.1.3-8 */
    mq_broker_conn_lost(b, c, 0);
    c = mq_broker_conn_open(b, NULL, 0);
    assert_int_equal(feed(b, c, connect_pkt("", true, 0, NULL, NULL, 0, false), 0), MQ_OK);
    out = drain(b, c);
    assert_int_equal(out->b[3], 0); /* MQTT-3.1.3-6 */
    assert_true(strncmp(mq_conn_client_id(c), "auto-", 5) == 0);
    mq_broker_conn_lost(b, c, 0);
    teardown_broker(b);
}

/* Accepts only connections on listener 1 that carry the identity "alice". */
static int g_auth_calls;
static int auth_identity(void *ctx, const mq_conn_t *c, const mq_connect_t *co)
{
    (void)ctx;
    (void)co;
    g_auth_calls++;
    if (mq_conn_listener(c) != 1 || !mq_conn_identity(c) ||
        strcmp(mq_conn_identity(c), "alice") != 0)
        return MQ_CONNACK_NOT_AUTHORIZED;
    return MQ_CONNACK_ACCEPTED;
}
static void with_auth(mq_broker_config_t *cfg) { cfg->auth = auth_identity; }

static void test_auth_hook_sees_listener_and_identity(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(with_auth);
    g_auth_calls = 0;
    /* No identity: refused with return code 5. */
    mq_conn_t *c = mq_broker_conn_open(b, NULL, 0);
    mq_conn_set_listener(c, 1);
    assert_true(feed(b, c, connect_pkt("x", true, 0, NULL, NULL, 0, false), 0) < 0);
    assert_int_equal(drain(b, c)->b[3], MQ_CONNACK_NOT_AUTHORIZED);
    assert_null(mq_conn_username(c));
    mq_broker_conn_lost(b, c, 0);
    /* Identity set by the transport: accepted, and it is the username. */
    c = mq_broker_conn_open(b, NULL, 0);
    mq_conn_set_listener(c, 1);
    assert_int_equal(mq_conn_set_identity(b, c, "alice"), MQ_OK);
    assert_int_equal(feed(b, c, connect_pkt("x", true, 0, NULL, NULL, 0, false), 0), MQ_OK);
    assert_int_equal(drain(b, c)->b[3], 0);
    assert_string_equal(mq_conn_username(c), "alice");
    assert_int_equal(mq_conn_listener(c), 1);
    mq_broker_conn_lost(b, c, 0);
    assert_int_equal(g_auth_calls, 2);
    teardown_broker(b); /* the copies were freed */
}

static void test_trim_hands_cached_memory_back(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *c[50];
    char id[16];
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "t%d", i);
        c[i] = client(b, id, true, NULL);
        subscribe(b, c[i], id, 1);
    }
    uint64_t peak = mq_broker_memory(b);
    for (int i = 0; i < 50; i++)
        mq_broker_conn_lost(b, c[i], 1);
    uint64_t used = mq_broker_memory(b);
    assert_true(used < peak);
    size_t live_before = g_live;
    mq_broker_trim(b);
    assert_true(g_live < live_before);          /* the caches went back */
    assert_int_equal(mq_broker_memory(b), used); /* live objects untouched */
    /* The broker still works after a trim. */
    mq_conn_t *x = client(b, "after", true, NULL);
    subscribe(b, x, "a", 0);
    mq_broker_conn_lost(b, x, 2);
    teardown_broker(b);
}

static void test_publish_fanout_shares_one_copy(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    enum { N = 20 };
    mq_conn_t *subs[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "s%d", i);
        subs[i] = client(b, id, true, NULL);
        subscribe(b, subs[i], "fan/+", 0);
    }
    mq_conn_t *pub = client(b, "pub", true, NULL);
    static char big[60001];
    memset(big, 'x', sizeof(big) - 1);
    mq_broker_stats_t before, after;
    mq_broker_stats(b, &before);
    assert_int_equal(feed(b, pub, publish_pkt("fan/1", big, 0, false, false, 0), 0), MQ_OK);
    mq_broker_stats(b, &after);
    /* One copy of the payload, not N: the queues share it by reference. */
    assert_true(after.memory_used - before.memory_used < 2 * sizeof(big));
    for (int i = 0; i < N; i++) {
        mq_packet_t p[2];
        assert_int_equal(parse(drain(b, subs[i]), p, 2), 1);
        assert_int_equal(p[0].fh.type, MQ_PKT_PUBLISH);
        assert_int_equal(p[0].u.publish.payload.len, sizeof(big) - 1);
        assert_false(p[0].u.publish.retain); /* MQTT-3.3.1-9 */
    }
    for (int i = 0; i < N; i++)
        mq_broker_conn_lost(b, subs[i], 0);
    mq_broker_conn_lost(b, pub, 0);
    teardown_broker(b);
}

static void test_overlapping_subscriptions_one_copy_max_qos(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "a/+", 0);
    subscribe(b, s, "a/#", 1);
    subscribe(b, s, "a/b", 0);
    mq_conn_t *p = client(b, "p", true, NULL);
    feed(b, p, publish_pkt("a/b", "m", 2, false, false, 7), 0);
    mq_packet_t pk[4];
    assert_int_equal(parse(drain(b, s), pk, 4), 1);
    assert_int_equal(pk[0].u.publish.qos, 1);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

static void inflight2(mq_broker_config_t *cfg) { cfg->max_inflight = 2; }

static void test_qos1_inflight_window_and_order(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(inflight2);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "q", 1);
    mq_conn_t *p = client(b, "p", true, NULL);
    for (int i = 0; i < 5; i++) {
        char m[4];
        snprintf(m, sizeof(m), "%d", i);
        feed(b, p, publish_pkt("q", m, 1, false, false, (uint16_t)(i + 1)), 0);
    }
    mq_packet_t pk[8];
    assert_int_equal(parse(drain(b, p), pk, 8), 5); /* five PUBACKs */
    int seen = 0;
    while (seen < 5) {
        size_t n = parse(drain(b, s), pk, 8);
        assert_true(n >= 1 && n <= 2); /* never more than max_inflight */
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(pk[i].u.publish.payload.ptr[0], '0' + seen); /* MQTT-4.6.0-2 */
            seen++;
            feed(b, s, ack_pkt(MQ_PKT_PUBACK, pk[i].u.publish.packet_id), 0);
        }
    }
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

static void test_qos2_exactly_once(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "x", 2);
    mq_conn_t *p = client(b, "p", true, NULL);
    feed(b, p, publish_pkt("x", "once", 2, false, false, 9), 0);
    feed(b, p, publish_pkt("x", "once", 2, false, true, 9), 0); /* resent with DUP */
    mq_packet_t pk[4];
    assert_int_equal(parse(drain(b, p), pk, 4), 2);
    assert_int_equal(pk[0].fh.type, MQ_PKT_PUBREC);
    assert_int_equal(pk[1].fh.type, MQ_PKT_PUBREC);
    assert_int_equal(parse(drain(b, s), pk, 4), 1); /* MQTT-4.3.3-2 */
    uint16_t pid = pk[0].u.publish.packet_id;
    feed(b, p, ack_pkt(MQ_PKT_PUBREL, 9), 0);
    assert_int_equal(parse(drain(b, p), pk, 4), 1);
    assert_int_equal(pk[0].fh.type, MQ_PKT_PUBCOMP);
    /* The subscriber side of QoS 2. */
    feed(b, s, ack_pkt(MQ_PKT_PUBREC, pid), 0);
    assert_int_equal(parse(drain(b, s), pk, 4), 1);
    assert_int_equal(pk[0].fh.type, MQ_PKT_PUBREL);
    feed(b, s, ack_pkt(MQ_PKT_PUBCOMP, pid), 0);
    assert_int_equal(drain(b, s)->n, 0);
    /* After PUBREL the id is free again: the same id is a new message. */
    feed(b, p, publish_pkt("x", "again", 2, false, false, 9), 0);
    assert_int_equal(parse(drain(b, s), pk, 4), 1);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

static void test_persistent_session_queue_and_redelivery(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    bool sp;
    mq_conn_t *s = client(b, "ps", false, &sp);
    assert_false(sp);
    subscribe(b, s, "t/#", 1);
    mq_conn_t *p = client(b, "p", true, NULL);
    feed(b, p, publish_pkt("t/1", "first", 1, false, false, 1), 0);
    drain(b, s); /* sent, never acknowledged */
    mq_broker_conn_lost(b, s, 0);
    feed(b, p, publish_pkt("t/2", "offline", 1, false, false, 2), 0);
    feed(b, p, publish_pkt("t/3", "qos0 dropped offline", 0, false, false, 0), 0);
    s = client(b, "ps", false, &sp);
    assert_true(sp); /* MQTT-3.2.2-2 */
    mq_packet_t pk[4];
    assert_int_equal(parse(&g_rest, pk, 4), 2);
    assert_true(pk[0].u.publish.dup); /* MQTT-4.4.0-1 */
    assert_memory_equal(pk[0].u.publish.payload.ptr, "first", 5);
    assert_false(pk[1].u.publish.dup);
    assert_memory_equal(pk[1].u.publish.payload.ptr, "offline", 7);
    mq_broker_conn_lost(b, s, 0);
    /* Clean session discards it (MQTT-3.1.2-6). */
    s = client(b, "ps", true, &sp);
    assert_false(sp);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

static void test_retained_delivery_and_clear(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *p = client(b, "p", true, NULL);
    feed(b, p, publish_pkt("r/a", "keep", 1, true, false, 1), 0);
    drain(b, p);
    mq_conn_t *s = client(b, "s", true, NULL);
    assert_int_equal(feed(b, s, subscribe_pkt(1, "r/+", 0), 0), MQ_OK);
    mq_packet_t pk[4];
    assert_int_equal(parse(drain(b, s), pk, 4), 2);
    assert_int_equal(pk[0].fh.type, MQ_PKT_SUBACK);
    assert_true(pk[1].u.publish.retain); /* MQTT-3.3.1-8 */
    assert_int_equal(pk[1].u.publish.qos, 0);
    feed(b, p, publish_pkt("r/a", "", 0, true, false, 0), 0); /* MQTT-3.3.1-10 */
    drain(b, s);
    mq_conn_t *s2 = client(b, "s2", true, NULL);
    assert_int_equal(feed(b, s2, subscribe_pkt(1, "r/#", 0), 0), MQ_OK);
    assert_int_equal(parse(drain(b, s2), pk, 4), 1); /* only the SUBACK */
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.retained, 0);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, s2, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

static void test_will_on_keepalive_timeout_not_on_disconnect(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "will/#", 0);
    mq_conn_t *w = mq_broker_conn_open(b, NULL, 0);
    feed(b, w, connect_pkt("w", true, 10, "will/w", "gone", 0, false), 0);
    drain(b, w);
    /* 1.5 x 10 s after the last packet (MQTT-3.1.2-24). */
    mq_time_t next = mq_broker_tick(b, 14000);
    assert_false(mq_conn_closing(w));
    assert_true(next <= 15000);
    mq_broker_tick(b, 15000);
    assert_true(mq_conn_closing(w));
    mq_broker_conn_lost(b, w, 15000);
    mq_packet_t pk[4];
    assert_int_equal(parse(drain(b, s), pk, 4), 1);
    assert_memory_equal(pk[0].u.publish.payload.ptr, "gone", 4);
    /* After DISCONNECT, no will (MQTT-3.14.4-3). */
    w = mq_broker_conn_open(b, NULL, 0);
    feed(b, w, connect_pkt("w", true, 10, "will/w", "gone", 0, false), 0);
    buf_t d = {.n = 2};
    d.b[0] = 0xE0;
    d.b[1] = 0;
    assert_true(feed(b, w, &d, 0) < 0);
    mq_broker_conn_lost(b, w, 0);
    assert_int_equal(drain(b, s)->n, 0);
    mq_broker_conn_lost(b, s, 0);
    teardown_broker(b);
}

static void test_takeover_closes_old_connection(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *a = client(b, "same", true, NULL);
    mq_conn_t *c = client(b, "same", true, NULL);
    assert_true(mq_conn_closing(a)); /* MQTT-3.1.4-2 */
    assert_false(mq_conn_closing(c));
    mq_broker_conn_lost(b, a, 0);
    assert_string_equal(mq_conn_client_id(c), "same");
    mq_broker_conn_lost(b, c, 0);
    teardown_broker(b);
}

static void test_split_input_byte_by_byte(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "split", 0);
    mq_conn_t *p = client(b, "p", true, NULL);
    static char payload[1000];
    memset(payload, 'z', sizeof(payload) - 1);
    buf_t *pk = publish_pkt("split", payload, 0, false, false, 0);
    buf_t copy = *pk;
    for (size_t i = 0; i < copy.n; i++)
        assert_int_equal(mq_broker_conn_input(b, p, copy.b + i, 1, 0), MQ_OK);
    mq_packet_t out[2];
    assert_int_equal(parse(drain(b, s), out, 2), 1);
    assert_int_equal(out[0].u.publish.payload.len, sizeof(payload) - 1);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

static void small_queue(mq_broker_config_t *cfg)
{
    cfg->max_inflight = 1;
    cfg->max_queued_messages = 3;
}

static void test_queue_limit_drops_and_counts(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(small_queue);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "f", 1);
    mq_conn_t *p = client(b, "p", true, NULL);
    for (int i = 0; i < 10; i++)
        feed(b, p, publish_pkt("f", "m", 1, false, false, (uint16_t)(i + 1)), 0);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.msgs_dropped, 10 - 1 - 3); /* 1 inflight + 3 queued kept */
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

static void test_connect_timeout(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *c = mq_broker_conn_open(b, NULL, 0);
    assert_int_equal(mq_broker_tick(b, 0), 10000);
    mq_broker_tick(b, 10000);
    assert_true(mq_conn_closing(c));
    mq_broker_conn_lost(b, c, 10000);
    teardown_broker(b);
}

static void test_announced_size_is_not_reserved(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *c = client(b, "c", true, NULL);
    buf_t x = {.n = 5};
    memcpy(x.b, "\x30\xff\xff\xff\x7f", 5); /* 256 MB announced, nothing sent */
    mq_broker_stats_t st;
    assert_int_equal(feed(b, c, &x, 0), MQ_OK);
    mq_broker_stats(b, &st);
    assert_true(st.memory_used < 1024 * 1024); /* no allocation of the announced size */
    mq_broker_conn_lost(b, c, 0);
    teardown_broker(b);
}

static void mem_limit(mq_broker_config_t *cfg) { cfg->max_memory = 256 * 1024; }

static void test_memory_limit_never_exceeded(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(mem_limit);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "m", 0);
    mq_conn_t *p = client(b, "p", true, NULL);
    static char payload[20000];
    memset(payload, 'y', sizeof(payload) - 1);
    for (int i = 0; i < 100; i++)
        mq_broker_conn_input(b, p, publish_pkt("m", payload, 0, false, false, 0)->b,
                             publish_pkt("m", payload, 0, false, false, 0)->n, 0);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_true(st.memory_peak <= 256 * 1024);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}


static void test_v5_will_delay_published_after_delay(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "w/#", 0);
    mq_conn_t *w = client5(b, connect5_pkt("w5", false, 100, 0, "w/x", 10), 0, NULL);
    mq_broker_conn_lost(b, w, 1000);                 /* abnormal close */
    assert_int_equal(drain(b, s)->n, 0);             /* not yet: the delay runs */
    mq_broker_tick(b, 10999);
    assert_int_equal(drain(b, s)->n, 0);
    mq_broker_tick(b, 11000);                        /* MQTT 5 3.1.3.2.2 */
    mq_packet_t pk[2];
    assert_int_equal(parse(drain(b, s), pk, 2), 1);
    assert_memory_equal(pk[0].u.publish.payload.ptr, "bye", 3);
    mq_broker_conn_lost(b, s, 11000);
    teardown_broker(b);
}

static void test_v5_will_delay_cancelled_by_reconnect(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "w/#", 0);
    mq_conn_t *w = client5(b, connect5_pkt("w5", false, 100, 0, "w/x", 10), 0, NULL);
    mq_broker_conn_lost(b, w, 1000);
    bool sp = false;
    w = client5(b, connect5_pkt("w5", false, 100, 0, NULL, 0), 5000, &sp);
    assert_true(sp);
    mq_broker_tick(b, 20000);                        /* MQTT-3.1.3-9: no will */
    assert_int_equal(drain(b, s)->n, 0);
    mq_broker_conn_lost(b, w, 20000);
    mq_broker_conn_lost(b, s, 20000);
    teardown_broker(b);
}

static void test_v5_will_at_session_end_before_delay(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client(b, "s", true, NULL);
    subscribe(b, s, "w/#", 0);
    /* Session expires after 2 s, will delay 60 s: the will goes at 2 s. */
    mq_conn_t *w = client5(b, connect5_pkt("w5", false, 2, 0, "w/x", 60), 0, NULL);
    mq_broker_conn_lost(b, w, 0);
    mq_broker_tick(b, 1999);
    assert_int_equal(drain(b, s)->n, 0);
    mq_broker_tick(b, 2000);
    mq_packet_t pk[2];
    assert_int_equal(parse(drain(b, s), pk, 2), 1);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.sessions, 1); /* only s is left */
    mq_broker_conn_lost(b, s, 2000);
    teardown_broker(b);
}

static void test_v5_message_expiry_while_queued(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client5(b, connect5_pkt("q5", false, 100, 0, NULL, 0), 0, NULL);
    assert_int_equal(mq_broker_conn_input(b, s, subscribe5_pkt(1, "e/#", 1)->b,
                                          subscribe5_pkt(1, "e/#", 1)->n, 0),
                     MQ_OK);
    drain(b, s);
    mq_broker_conn_lost(b, s, 0);
    mq_conn_t *p = client5(b, connect5_pkt("p5", true, 0, 0, NULL, 0), 0, NULL);
    buf_t m1 = *publish5_pkt("e/short", "gone", 1, 1, 2);
    buf_t m2 = *publish5_pkt("e/long", "kept", 1, 2, 60);
    assert_int_equal(mq_broker_conn_input(b, p, m1.b, m1.n, 0), MQ_OK);
    assert_int_equal(mq_broker_conn_input(b, p, m2.b, m2.n, 0), MQ_OK);
    bool sp = false;
    s = client5(b, connect5_pkt("q5", false, 100, 0, NULL, 0), 3000, &sp);
    assert_true(sp);
    /* MQTT-3.3.2-5: the expired one is not delivered; the other carries
     * what is left of its interval (MQTT-3.3.2-6). */
    mq_packet_t pk[4];
    assert_int_equal(parse5(&g_rest, pk, 4), 1);
    assert_memory_equal(pk[0].u.publish.payload.ptr, "kept", 4);
    assert_true(mq_props_has(&pk[0].props, MQ_PROP_MESSAGE_EXPIRY));
    assert_int_equal(pk[0].props.message_expiry, 57);
    mq_broker_conn_lost(b, s, 3000);
    mq_broker_conn_lost(b, p, 3000);
    teardown_broker(b);
}

static void test_v5_receive_maximum_of_the_client(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *s = client5(b, connect5_pkt("r5", true, 0, 2, NULL, 0), 0, NULL);
    assert_int_equal(mq_broker_conn_input(b, s, subscribe5_pkt(1, "r/#", 1)->b,
                                          subscribe5_pkt(1, "r/#", 1)->n, 0),
                     MQ_OK);
    drain(b, s);
    mq_conn_t *p = client(b, "p", true, NULL);
    for (int i = 0; i < 5; i++)
        feed(b, p, publish_pkt("r/x", "m", 1, false, false, (uint16_t)(i + 1)), 0);
    mq_packet_t pk[8];
    /* MQTT-3.3.4-9: no more unacknowledged than the client's Receive Maximum. */
    assert_int_equal(parse5(drain(b, s), pk, 8), 2);
    mq_broker_conn_lost(b, s, 0);
    mq_broker_conn_lost(b, p, 0);
    teardown_broker(b);
}

static buf_t *unsubscribe_pkt(uint16_t pid, const char *filter)
{
    static buf_t body;
    body.n = 0;
    put16(&body, pid);
    putstr(&body, filter);
    return packet(0xA2, &body);
}

static void test_many_subscriptions_subscribe_and_unsubscribe(void **state)
{
    (void)state;
    mq_broker_t *b = new_broker(NULL);
    mq_conn_t *c = client(b, "many", true, NULL);
    mq_broker_stats_t before, st;
    mq_broker_stats(b, &before);
    enum { N = 5000 };
    char f[32];
    for (int i = 0; i < N; i++) {
        snprintf(f, sizeof(f), "many/%d/x", i);
        assert_int_equal(feed(b, c, subscribe_pkt((uint16_t)(i + 1), f, i % 3), 0), MQ_OK);
    }
    /* Subscribing again replaces (MQTT-3.8.4-3): still N. */
    assert_int_equal(feed(b, c, subscribe_pkt(1, "many/7/x", 2), 0), MQ_OK);
    drain(b, c);
    mq_broker_stats(b, &st);
    assert_int_equal(st.subscriptions, N);
    for (int i = 0; i < N; i++) {
        snprintf(f, sizeof(f), "many/%d/x", i);
        assert_int_equal(feed(b, c, unsubscribe_pkt((uint16_t)(i + 1), f), 0), MQ_OK);
    }
    drain(b, c);
    mq_broker_stats(b, &st);
    assert_int_equal(st.subscriptions, 0);
    /* Nothing per subscription is left (5000 would be about 1 MB); what
     * remains is the output chunks' pool cache. */
    assert_true(st.memory_used < before.memory_used + 64 * 1024);
    mq_broker_conn_lost(b, c, 0);
    teardown_broker(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_connack),
        cmocka_unit_test(test_first_packet_must_be_connect),
        cmocka_unit_test(test_bad_protocol_level_gets_connack_1),
        cmocka_unit_test(test_empty_id_rules),
        cmocka_unit_test(test_auth_hook_sees_listener_and_identity),
        cmocka_unit_test(test_trim_hands_cached_memory_back),
        cmocka_unit_test(test_publish_fanout_shares_one_copy),
        cmocka_unit_test(test_overlapping_subscriptions_one_copy_max_qos),
        cmocka_unit_test(test_qos1_inflight_window_and_order),
        cmocka_unit_test(test_qos2_exactly_once),
        cmocka_unit_test(test_persistent_session_queue_and_redelivery),
        cmocka_unit_test(test_retained_delivery_and_clear),
        cmocka_unit_test(test_will_on_keepalive_timeout_not_on_disconnect),
        cmocka_unit_test(test_takeover_closes_old_connection),
        cmocka_unit_test(test_split_input_byte_by_byte),
        cmocka_unit_test(test_queue_limit_drops_and_counts),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_announced_size_is_not_reserved),
        cmocka_unit_test(test_memory_limit_never_exceeded),
        cmocka_unit_test(test_many_subscriptions_subscribe_and_unsubscribe),
        cmocka_unit_test(test_v5_will_delay_published_after_delay),
        cmocka_unit_test(test_v5_will_delay_cancelled_by_reconnect),
        cmocka_unit_test(test_v5_will_at_session_end_before_delay),
        cmocka_unit_test(test_v5_message_expiry_while_queued),
        cmocka_unit_test(test_v5_receive_maximum_of_the_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Helpers shared by test_passwd.c and test_acl.c: a counting allocator, a
 * broker driven byte by byte, and MQTT 3.1.1 / 5 packets with usernames and
 * passwords, built here from the standard. Header-only (static functions):
 * each test file includes it once.
 */
#ifndef MQ_TEST_AUTH_HELPERS_H
#define MQ_TEST_AUTH_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "musqratt/auth.h"
#include "musqratt/broker.h"
#include "musqratt/codec.h"
#include "musqratt/error.h"

static size_t g_live;

static inline void *t_alloc(void *ctx, size_t n)
{
    (void)ctx;
    g_live += n;
    return malloc(n ? n : 1);
}

static inline void t_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (p)
        g_live -= n;
    free(p);
}

static const mq_allocator_t g_alloc = {t_alloc, t_free, NULL};

static inline void t_random(void *ctx, uint8_t *buf, size_t len)
{
    static uint32_t x = 777;
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

/* Diagnostics collected from a parse: the lines and the messages. */
typedef struct diags {
    unsigned n, errors;
    unsigned line[32];
    char msg[32][256];
} diags_t;

static inline void collect(void *ctx, const char *file, unsigned line, bool is_error, const char *msg)
{
    diags_t *d = ctx;
    (void)file;
    if (d->n < 32) {
        d->line[d->n] = line;
        snprintf(d->msg[d->n], sizeof d->msg[0], "%s", msg);
    }
    d->n++;
    d->errors += is_error;
}

/* ---- a broker with hooks ------------------------------------------------------ */

static inline mq_broker_t *hooked_broker(mq_auth_fn auth, mq_acl_fn acl, void *ctx)
{
    mq_broker_config_t cfg;
    mq_broker_config_defaults(&cfg);
    cfg.auth = auth;
    cfg.auth_ctx = ctx;
    cfg.acl = acl;
    cfg.acl_ctx = ctx;
    mq_platform_t p;
    memset(&p, 0, sizeof p);
    p.allocator = g_alloc;
    p.random = t_random;
    mq_broker_t *b = mq_broker_new(&p, &cfg);
    assert_non_null(b);
    return b;
}

typedef struct buf {
    uint8_t b[4096];
    size_t n;
} buf_t;

static inline void put8(buf_t *x, uint8_t v) { x->b[x->n++] = v; }
static inline void put16(buf_t *x, uint16_t v)
{
    put8(x, (uint8_t)(v >> 8));
    put8(x, (uint8_t)v);
}
static inline void putstr(buf_t *x, const char *s)
{
    put16(x, (uint16_t)strlen(s));
    memcpy(x->b + x->n, s, strlen(s));
    x->n += strlen(s);
}

static inline void wrap(buf_t *out, uint8_t first, const buf_t *body)
{
    out->n = 0;
    put8(out, first);
    uint32_t rem = (uint32_t)body->n;
    do {
        uint8_t d = rem % 128;
        rem /= 128;
        put8(out, rem ? (uint8_t)(d | 128) : d);
    } while (rem);
    memcpy(out->b + out->n, body->b, body->n);
    out->n += body->n;
}

/* CONNECT at level 4 or 5 with optional username, password and will. */
static inline void connect_pkt(buf_t *out, uint8_t level, const char *id, const char *user,
                        const char *pass, const char *will_topic)
{
    buf_t body = {.n = 0};
    putstr(&body, "MQTT");
    put8(&body, level);
    put8(&body, (uint8_t)(0x02 | (will_topic ? 0x04 : 0) | (user ? 0x80 : 0) | (pass ? 0x40 : 0)));
    put16(&body, 0);
    if (level == 5)
        put8(&body, 0);
    putstr(&body, id);
    if (will_topic) {
        if (level == 5)
            put8(&body, 0);
        putstr(&body, will_topic);
        putstr(&body, "bye");
    }
    if (user)
        putstr(&body, user);
    if (pass)
        putstr(&body, pass);
    wrap(out, 0x10, &body);
}

static inline void publish_pkt(buf_t *out, uint8_t level, const char *topic, uint8_t qos, uint16_t pid,
                        bool retain)
{
    buf_t body = {.n = 0};
    putstr(&body, topic);
    if (qos)
        put16(&body, pid);
    if (level == 5)
        put8(&body, 0);
    memcpy(body.b + body.n, "data", 4);
    body.n += 4;
    wrap(out, (uint8_t)(0x30 | (qos << 1) | (retain ? 1 : 0)), &body);
}

static inline void subscribe_pkt(buf_t *out, uint8_t level, uint16_t pid, const char *filter, uint8_t qos)
{
    buf_t body = {.n = 0};
    put16(&body, pid);
    if (level == 5)
        put8(&body, 0);
    putstr(&body, filter);
    put8(&body, qos);
    wrap(out, 0x82, &body);
}

static inline void pubrel_pkt(buf_t *out, uint16_t pid)
{
    buf_t body = {.n = 0};
    put16(&body, pid);
    wrap(out, 0x62, &body);
}

static inline int feed(mq_broker_t *b, mq_conn_t *c, const buf_t *p)
{
    return mq_broker_conn_input(b, c, p->b, p->n, 0);
}

/* Everything c has to send, concatenated into out. */
static inline void drain(mq_broker_t *b, mq_conn_t *c, buf_t *out)
{
    out->n = 0;
    mq_iov_t iov[64];
    size_t n;
    while ((n = mq_conn_out_iov(c, iov, 64)) > 0) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(out->n + iov[i].len <= sizeof(out->b));
            memcpy(out->b + out->n, iov[i].base, iov[i].len);
            out->n += iov[i].len;
            total += iov[i].len;
        }
        mq_conn_out_consume(b, c, total);
    }
}

/* Decodes the packets in bytes; returns how many. */
static inline size_t parse(const buf_t *bytes, uint8_t level, mq_packet_t *pkts, size_t max)
{
    size_t off = 0, n = 0;
    while (off < bytes->n) {
        mq_fixed_header_t fh;
        assert_int_equal(mq_codec_fixed_header(bytes->b + off, bytes->n - off, 0, &fh), MQ_OK);
        assert_true(n < max);
        assert_int_equal(mq_codec_decode(&fh, bytes->b + off + fh.header_len, level, &pkts[n]),
                         MQ_OK);
        n++;
        off += fh.header_len + fh.remaining;
    }
    return n;
}

/* Opens a connection on `listener`, sends CONNECT, returns the CONNACK code;
 * *out is the connection when it was accepted (else it is closed and lost). */
static inline int try_connect(mq_broker_t *b, uint16_t listener, uint8_t level, const char *id,
                       const char *user, const char *pass, const char *will, mq_conn_t **out)
{
    buf_t p, o;
    mq_packet_t pk[8];
    mq_conn_t *c = mq_broker_conn_open(b, NULL, 0);
    assert_non_null(c);
    mq_conn_set_listener(c, listener);
    connect_pkt(&p, level, id, user, pass, will);
    feed(b, c, &p);
    drain(b, c, &o);
    assert_true(parse(&o, level, pk, 8) >= 1);
    assert_int_equal(pk[0].fh.type, MQ_PKT_CONNACK);
    int rc = pk[0].u.connack.rc;
    if (rc != 0 || !out) {
        mq_broker_conn_lost(b, c, 0);
        c = NULL;
    }
    if (out)
        *out = c;
    return rc;
}

/* PUBLISH packets that came right after the last SUBACK (retained ones). */
static size_t g_sub_publishes;
static char g_sub_first[128];

/* SUBSCRIBE one filter; returns the SUBACK code. */
static inline int sub(mq_broker_t *b, mq_conn_t *c, uint8_t level, const char *filter, uint8_t qos)
{
    buf_t p, o;
    mq_packet_t pk[16];
    subscribe_pkt(&p, level, 7, filter, qos);
    assert_int_equal(feed(b, c, &p), MQ_OK);
    drain(b, c, &o);
    size_t n = parse(&o, level, pk, 16);
    assert_true(n >= 1);
    assert_int_equal(pk[0].fh.type, MQ_PKT_SUBACK);
    g_sub_publishes = 0;
    g_sub_first[0] = '\0';
    for (size_t i = 1; i < n; i++) {
        if (pk[i].fh.type != MQ_PKT_PUBLISH)
            continue;
        if (g_sub_publishes++ == 0)
            snprintf(g_sub_first, sizeof g_sub_first, "%.*s", (int)pk[i].u.publish.topic.len,
                     (const char *)pk[i].u.publish.topic.ptr);
    }
    return pk[0].u.sub.list[0];
}

/* Publishes; returns the PUBACK/PUBREC reason (0 for 3.x and QoS 0), or
 * -1 if no acknowledgement came. */
static inline int pub(mq_broker_t *b, mq_conn_t *c, uint8_t level, const char *topic, uint8_t qos,
               bool retain)
{
    buf_t p, o;
    mq_packet_t pk[16];
    publish_pkt(&p, level, topic, qos, 9, retain);
    assert_int_equal(feed(b, c, &p), MQ_OK);
    drain(b, c, &o);
    size_t n = parse(&o, level, pk, 16);
    if (qos == 0) {
        assert_int_equal(n, 0);
        return 0;
    }
    if (n < 1)
        return -1;
    assert_int_equal(pk[0].fh.type, qos == 1 ? MQ_PKT_PUBACK : MQ_PKT_PUBREC);
    assert_int_equal(pk[0].u.ack.packet_id, 9);
    int reason = pk[0].u.ack.reason;
    if (qos == 2 && reason < 0x80) {
        pubrel_pkt(&p, 9);
        assert_int_equal(feed(b, c, &p), MQ_OK);
        drain(b, c, &o);
        n = parse(&o, level, pk, 16);
        assert_int_equal(n, 1);
        assert_int_equal(pk[0].fh.type, MQ_PKT_PUBCOMP);
    }
    return reason;
}

/* How many PUBLISH packets c has waiting (drained; QoS 0 expected). */
static inline size_t received(mq_broker_t *b, mq_conn_t *c, uint8_t level, char *first_topic, size_t cap)
{
    buf_t o;
    mq_packet_t pk[64];
    drain(b, c, &o);
    size_t n = parse(&o, level, pk, 64), got = 0;
    for (size_t i = 0; i < n; i++) {
        if (pk[i].fh.type != MQ_PKT_PUBLISH)
            continue;
        if (got == 0 && first_topic)
            snprintf(first_topic, cap, "%.*s", (int)pk[i].u.publish.topic.len,
                     (const char *)pk[i].u.publish.topic.ptr);
        got++;
    }
    return got;
}

#endif

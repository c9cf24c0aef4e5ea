/*
 * Cases: MQTT 3.1.1 connection handling — UTF-8 strings in CONNECT, fixed
 * header flags and lengths, CONNECT, CONNACK, sessions, keepalive, wills,
 * PINGREQ and DISCONNECT (OASIS MQTT 3.1.1 sections 1.5.3, 2.2, 3.1, 3.2,
 * 3.12-3.14, 4.1, 4.4, 4.8).
 *
 * Owns: nothing beyond one case's clients; every persistent session and
 * retained message a case creates is removed before it returns.
 * Never: uses the codec's encoders (bytes are built by hand), sleeps long
 * (keepalive cases use 1 s), or touches another case's names.
 *
 * Where the standard fixes reply bytes (CONNACK is exactly 20 02 SP RC,
 * PINGRESP exactly D0 00, PUBREL 62 02 id) the raw bytes are compared.
 * A malformed CONNECT must be answered by a close without a CONNACK
 * (MQTT-3.1.4-1); a CONNACK may precede the close only where the standard
 * allows a return code (wrong protocol name: MQTT-3.1.2-1 lets the server
 * "continue in line with another specification", which may refuse it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- helpers ----------------------------------------------------------- */

static void hexs(char *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 8 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", p[i]);
}

/* The variable header of a 3.x CONNECT: protocol name, level, flags, keepalive. */
static void head(ck_buf_t *b, const char *name, uint8_t level, uint8_t flags, uint16_t ka)
{
    ck_b_str(b, name);
    ck_b_u8(b, level);
    ck_b_u8(b, flags);
    ck_b_u16(b, ka);
}

/* Opens a connection and sends body wrapped in a fixed header `first`. */
static ck_client_t *send_packet_new(ck_ctx_t *x, uint8_t first, const ck_buf_t *body)
{
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return NULL;
    if (!ck_send_packet(c, first, body)) {
        ck_fail(x, "could not send the packet");
        return NULL;
    }
    return c;
}

/* Opens a connection and sends raw bytes. */
static ck_client_t *send_raw_new(ck_ctx_t *x, const void *bytes, size_t n)
{
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return NULL;
    if (!ck_send(c, bytes, n)) {
        ck_fail(x, "could not send the bytes");
        return NULL;
    }
    return c;
}

/* MQTT-3.1.4-1: a CONNECT that does not conform is answered by a close,
 * never by a CONNACK. */
static ck_status_t connect_rejected(ck_ctx_t *x, uint8_t first, const ck_buf_t *body)
{
    ck_client_t *c = send_packet_new(x, first, body);
    if (!c)
        return CK_FAIL;
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/* The connection closes; a CONNACK before the close is tolerated only when
 * it refuses the connection (return code != 0). */
static bool closed_not_accepted(ck_ctx_t *x, ck_client_t *c)
{
    int64_t deadline = ck_now_ms() + CK_WAIT;
    for (;;) {
        ck_packet_t p;
        int left = (int)(deadline - ck_now_ms());
        int r = ck_recv(x, c, left < 0 ? 0 : left, &p);
        if (r == -1)
            return true;
        if (r == -2)
            return false;
        if (r == 0) {
            ck_fail(x, "expected the broker to close the connection within %d ms", CK_WAIT);
            return false;
        }
        if (p.type == MQ_PKT_CONNACK && p.p.u.connack.rc != 0)
            continue;
        ck_fail_bytes(x, "a close (or a refusing CONNACK)", NULL, 0, p.raw, p.len);
        return false;
    }
}

/* Expects a CONNACK whose bytes are exactly 20 02 sp rc. */
static bool connack_exact(ck_ctx_t *x, ck_client_t *c, uint8_t sp, uint8_t rc)
{
    const uint8_t want[4] = {0x20, 0x02, sp, rc};
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &p))
        return false;
    if (p.len != 4 || memcmp(p.raw, want, 4) != 0) {
        ck_fail_bytes(x, "CONNACK", want, 4, p.raw, p.len);
        return false;
    }
    return true;
}

/* CONNACK exactly 20 02 00 rc, then the close (MQTT-3.2.2-4/5). */
static bool refused_with(ck_ctx_t *x, ck_client_t *c, uint8_t rc)
{
    return connack_exact(x, c, 0, rc) && ck_expect_closed(x, c, CK_WAIT, false);
}

/* A clean-session client subscribed to filter with QoS qos. */
static ck_client_t *subscriber(ck_ctx_t *x, const char *suffix, const char *filter, uint8_t qos)
{
    ck_client_t *c = ck_connected(x, suffix, true);
    if (!c || !ck_subscribed(x, c, filter, qos, qos))
        return NULL;
    return c;
}

/* Completes the receiver's side of a QoS 1 / 2 delivery of pid. */
static bool ack_delivery(ck_ctx_t *x, ck_client_t *c, uint8_t qos, uint16_t pid)
{
    ck_buf_t b;
    if (qos == 1) {
        ck_build_ack(&b, MQ_PKT_PUBACK, pid);
        return ck_send_buf(c, &b);
    }
    if (qos == 2) {
        ck_packet_t p;
        ck_build_ack(&b, MQ_PKT_PUBREC, pid);
        if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBREL, CK_WAIT, &p))
            return false;
        ck_build_ack(&b, MQ_PKT_PUBCOMP, pid);
        return ck_send_buf(c, &b);
    }
    return true;
}

/*
 * Expects a PUBLISH with exactly this topic, payload, QoS and RETAIN flag
 * (the DUP flag too when dup >= 0). Acknowledges it when ack. *out (may be
 * NULL) receives the packet.
 */
static bool expect_pub(ck_ctx_t *x, ck_client_t *c, const void *topic, size_t tlen,
                       const void *payload, size_t plen, uint8_t qos, bool retain, int dup,
                       bool ack, ck_packet_t *out)
{
    ck_packet_t p;
    if (!out)
        out = &p;
    if (!ck_expect(x, c, MQ_PKT_PUBLISH, CK_WAIT, out))
        return false;
    const mq_publish_t *m = &out->p.u.publish;
    if (m->topic.len != tlen || memcmp(m->topic.ptr, topic, tlen) != 0 ||
        m->payload.len != plen || (plen && memcmp(m->payload.ptr, payload, plen) != 0) ||
        m->qos != qos || m->retain != retain || (dup >= 0 && m->dup != (dup != 0))) {
        char t[200], pl[200], raw[400];
        hexs(t, sizeof(t), topic, tlen);
        hexs(pl, sizeof(pl), payload, plen);
        hexs(raw, sizeof(raw), out->raw, out->len);
        ck_fail(x, "expected PUBLISH topic %s payload %s qos %u retain %d dup %d, seen %s", t,
                pl, qos, retain, dup, raw);
        return false;
    }
    return !ack || ack_delivery(x, c, qos, m->packet_id);
}

static bool expect_pub_s(ck_ctx_t *x, ck_client_t *c, const char *topic, const char *payload,
                         uint8_t qos, bool retain)
{
    return expect_pub(x, c, topic, strlen(topic), payload, strlen(payload), qos, retain, -1,
                      true, NULL);
}

/* A connected client with a will on topic wt. */
static ck_client_t *with_will(ck_ctx_t *x, const char *id, const char *wt, const char *payload,
                              uint8_t qos, bool retain, bool clean, uint16_t ka)
{
    ck_connect_opts_t o = {.client_id = id,
                           .clean = clean,
                           .keepalive = ka,
                           .will_topic = wt,
                           .will_payload = payload,
                           .will_payload_len = (uint16_t)strlen(payload),
                           .will_qos = qos,
                           .will_retain = retain};
    return ck_connected_with(x, &o, NULL);
}

/* ---- 1.5.3 UTF-8 strings in CONNECT ------------------------------------ */

/* A CONNECT whose client identifier is a unique id followed by bad bytes. */
static ck_status_t bad_client_id(ck_ctx_t *x, const char *bad, size_t n)
{
    const char *id = ck_client_id(x, "u");
    ck_buf_t idb = CK_BUF, b = CK_BUF;
    ck_b_raw(&idb, id, strlen(id));
    ck_b_raw(&idb, bad, n);
    head(&b, "MQTT", 4, 0x02, 0);
    ck_b_bin(&b, idb.b, (uint16_t)idb.n);
    return connect_rejected(x, 0x10, &b);
}

/* A CONNECT with a will whose topic is a unique topic followed by bad bytes. */
static ck_status_t bad_will_topic(ck_ctx_t *x, const char *bad, size_t n)
{
    const char *t = ck_topic(x, "w");
    ck_buf_t tb = CK_BUF, b = CK_BUF;
    ck_b_raw(&tb, t, strlen(t));
    ck_b_raw(&tb, bad, n);
    head(&b, "MQTT", 4, 0x06, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_bin(&b, tb.b, (uint16_t)tb.n);
    ck_b_bin(&b, "w", 1);
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t bad_username(ck_ctx_t *x, const char *bad, size_t n)
{
    ck_buf_t ub = CK_BUF, b = CK_BUF;
    ck_b_raw(&ub, "user", 4);
    ck_b_raw(&ub, bad, n);
    head(&b, "MQTT", 4, 0x82, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_bin(&b, ub.b, (uint16_t)ub.n);
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t id_overlong2(ck_ctx_t *x) { return bad_client_id(x, "\xC0\xAF", 2); }
static ck_status_t id_overlong3(ck_ctx_t *x) { return bad_client_id(x, "\xE0\x80\xAF", 3); }
static ck_status_t id_surrogate(ck_ctx_t *x) { return bad_client_id(x, "\xED\xA0\x80", 3); }
static ck_status_t id_lone_cont(ck_ctx_t *x) { return bad_client_id(x, "\x80", 1); }
static ck_status_t id_truncated(ck_ctx_t *x) { return bad_client_id(x, "\xE2\x82", 2); }
static ck_status_t id_above_max(ck_ctx_t *x) { return bad_client_id(x, "\xF4\x90\x80\x80", 4); }
static ck_status_t id_byte_ff(ck_ctx_t *x) { return bad_client_id(x, "\xFF", 1); }
static ck_status_t id_nul(ck_ctx_t *x) { return bad_client_id(x, "a\0b", 3); }
static ck_status_t id_overlong_nul(ck_ctx_t *x) { return bad_client_id(x, "\xC0\x80", 2); }
static ck_status_t wt_nul(ck_ctx_t *x) { return bad_will_topic(x, "\0", 1); }
static ck_status_t wt_surrogate(ck_ctx_t *x) { return bad_will_topic(x, "\xED\xBF\xBF", 3); }
static ck_status_t wt_overlong4(ck_ctx_t *x) { return bad_will_topic(x, "\xF0\x80\x80\xAF", 4); }
static ck_status_t user_nul(ck_ctx_t *x) { return bad_username(x, "\0", 1); }
static ck_status_t user_surrogate(ck_ctx_t *x) { return bad_username(x, "\xED\xB0\x80", 3); }
static ck_status_t user_truncated4(ck_ctx_t *x) { return bad_username(x, "\xF0\x9F\x98", 3); }

/* A will whose topic has the given suffix is published with exactly its bytes. */
static ck_status_t will_topic_bytes(ck_ctx_t *x, const char *suffix)
{
    char wt[200];
    snprintf(wt, sizeof(wt), "%s%s", ck_topic(x, "w"), suffix);
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "gone", 0, false, true, 0);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    return expect_pub_s(x, s, wt, "gone", 0, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-1.5.3-3: U+FEFF is a character like any other, never stripped. */
static ck_status_t wt_bom(ck_ctx_t *x) { return will_topic_bytes(x, "/\xEF\xBB\xBF" "bom"); }
/* MQTT-3.1.3-10: 2-, 3- and 4-byte sequences are valid UTF-8. */
static ck_status_t wt_multibyte(ck_ctx_t *x)
{
    return will_topic_bytes(x, "/\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

/* MQTT-3.1.3-11: a user name with a 4-byte character is valid UTF-8. */
static ck_status_t user_valid4(ck_ctx_t *x)
{
    ck_connect_opts_t o = {.clean = true, .username = "user\xF0\x9F\x98\x80"};
    return ck_connected_with(x, &o, NULL) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.3-4: a well-formed client id outside the 23-character set may be
 * refused (0x02, then a close: MQTT-3.1.3-9) but is not malformed. */
static ck_status_t id_valid_multibyte(ck_ctx_t *x)
{
    char id[160];
    snprintf(id, sizeof(id), "%s\xC3\xA9\xF0\x9F\x98\x80", ck_client_id(x, "m"));
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = true};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    ck_packet_t p;
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.connack.rc == 0)
        return ck_ping(x, c) ? CK_PASS : CK_FAIL;
    const uint8_t want[4] = {0x20, 0x02, 0x00, 0x02};
    if (p.len != 4 || memcmp(p.raw, want, 4) != 0)
        return ck_fail_bytes(x, "CONNACK 0x00 or 0x02", want, 4, p.raw, p.len);
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/* ---- 2.2 fixed header ---------------------------------------------------- */

static ck_status_t connect_flags(ck_ctx_t *x, uint8_t flags)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x02, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    return connect_rejected(x, (uint8_t)(0x10 | flags), &b);
}

static ck_status_t connect_flags1(ck_ctx_t *x) { return connect_flags(x, 0x1); }
static ck_status_t connect_flags2(ck_ctx_t *x) { return connect_flags(x, 0x2); }
static ck_status_t connect_flags4(ck_ctx_t *x) { return connect_flags(x, 0x4); }
static ck_status_t connect_flags8(ck_ctx_t *x) { return connect_flags(x, 0x8); }

/* Sends raw bytes on a connected client and expects the close (no reply). */
static ck_status_t after_connect_closed(ck_ctx_t *x, const void *bytes, size_t n)
{
    ck_client_t *c = ck_connected(x, "a", true);
    if (!c)
        return CK_FAIL;
    ck_send(c, bytes, n);
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

static ck_status_t ping_flags1(ck_ctx_t *x) { return after_connect_closed(x, "\xC1\x00", 2); }
static ck_status_t ping_flags2(ck_ctx_t *x) { return after_connect_closed(x, "\xC2\x00", 2); }
static ck_status_t ping_flags8(ck_ctx_t *x) { return after_connect_closed(x, "\xC8\x00", 2); }
static ck_status_t disc_flags1(ck_ctx_t *x) { return after_connect_closed(x, "\xE1\x00", 2); }
static ck_status_t disc_flags2(ck_ctx_t *x) { return after_connect_closed(x, "\xE2\x00", 2); }
static ck_status_t ping_len1(ck_ctx_t *x) { return after_connect_closed(x, "\xC0\x01\x00", 3); }
static ck_status_t ping_varint5(ck_ctx_t *x)
{
    return after_connect_closed(x, "\xC0\x80\x80\x80\x80\x01", 6);
}
static ck_status_t type0(ck_ctx_t *x) { return after_connect_closed(x, "\x00\x00", 2); }
static ck_status_t type15(ck_ctx_t *x) { return after_connect_closed(x, "\xF0\x00", 2); }
static ck_status_t client_connack(ck_ctx_t *x)
{
    return after_connect_closed(x, "\x20\x02\x00\x00", 4);
}
static ck_status_t client_suback(ck_ctx_t *x)
{
    return after_connect_closed(x, "\x90\x03\x00\x01\x00", 5);
}
static ck_status_t client_unsuback(ck_ctx_t *x)
{
    return after_connect_closed(x, "\xB0\x02\x00\x01", 4);
}
static ck_status_t client_pingresp(ck_ctx_t *x) { return after_connect_closed(x, "\xD0\x00", 2); }

/* Remaining length with a fifth byte: no packet can follow. */
static ck_status_t connect_varint5(ck_ctx_t *x)
{
    ck_client_t *c = send_raw_new(x, "\x10\xFF\xFF\xFF\xFF\x7F", 6);
    if (!c)
        return CK_FAIL;
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/*
 * A will client breaks the protocol with `bytes`; the broker closes the
 * connection for the protocol error, which is not a DISCONNECT, so the will
 * is published (MQTT-3.1.2-8).
 */
static ck_status_t violation_publishes_will(ck_ctx_t *x, const void *bytes, size_t n)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "gone", 0, false, true, 0);
    if (!w)
        return CK_FAIL;
    ck_send(w, bytes, n);
    if (!ck_expect_closed(x, w, CK_WAIT, false))
        return CK_FAIL;
    return expect_pub_s(x, s, wt, "gone", 0, false) ? CK_PASS : CK_FAIL;
}

static ck_status_t disc_flags8_will(ck_ctx_t *x)
{
    return violation_publishes_will(x, "\xE8\x00", 2);
}
static ck_status_t disc_len1_will(ck_ctx_t *x)
{
    return violation_publishes_will(x, "\xE0\x01\x00", 3);
}
static ck_status_t type15_will(ck_ctx_t *x) { return violation_publishes_will(x, "\xF0\x00", 2); }

/* ---- 3.1 CONNECT ----------------------------------------------------------- */

/* MQTT-3.1.0-1: a PUBLISH before CONNECT is not processed. */
static ck_status_t first_publish(ck_ctx_t *x)
{
    const char *t = ck_topic(x, "t");
    ck_client_t *s = subscriber(x, "s", t, 0);
    if (!s)
        return CK_FAIL;
    ck_buf_t b;
    ck_build_publish(&b, 4, t, "x", 1, 0, false, false, 0, NULL);
    ck_client_t *c = send_raw_new(x, b.b, b.n);
    if (!c || !ck_expect_closed(x, c, CK_WAIT, false))
        return CK_FAIL;
    return ck_expect_quiet(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

static ck_status_t first_subscribe(ck_ctx_t *x)
{
    ck_buf_t b;
    ck_build_subscribe(&b, 4, 1, ck_topic(x, "t"), 0, NULL);
    ck_client_t *c = send_raw_new(x, b.b, b.n);
    if (!c)
        return CK_FAIL;
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.0-1: the first packet from the client MUST be CONNECT. */
static ck_status_t first_packet_not_connect(ck_ctx_t *x)
{
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return CK_FAIL;
    static const uint8_t ping_req[2] = {0xC0, 0x00};
    ck_send(c, ping_req, sizeof(ping_req));
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.0-2: a second CONNECT is a protocol violation: disconnect. */
static ck_status_t second_connect(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "a", true);
    if (!c)
        return CK_FAIL;
    ck_buf_t b;
    ck_connect_opts_t o = {.client_id = ck_client_id(x, "a"), .clean = true};
    ck_build_connect(x, &b, &o);
    ck_send_buf(c, &b);
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

static ck_status_t second_connect_will(ck_ctx_t *x)
{
    ck_buf_t b;
    ck_connect_opts_t o = {.client_id = ck_client_id(x, "z"), .clean = true};
    ck_build_connect(x, &b, &o);
    return violation_publishes_will(x, b.b, b.n);
}

/* MQTT-3.1.2-1: a wrong protocol name is never accepted as MQTT 3.1.1. */
static ck_status_t proto_name(ck_ctx_t *x, const char *name, uint8_t level)
{
    ck_buf_t b = CK_BUF;
    head(&b, name, level, 0x02, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_client_t *c = send_packet_new(x, 0x10, &b);
    if (!c)
        return CK_FAIL;
    return closed_not_accepted(x, c) ? CK_PASS : CK_FAIL;
}

static ck_status_t name_mqtx(ck_ctx_t *x) { return proto_name(x, "MQTX", 4); }
static ck_status_t name_lower(ck_ctx_t *x) { return proto_name(x, "mqtt", 4); }
static ck_status_t name_mqisdp4(ck_ctx_t *x) { return proto_name(x, "MQIsdp", 4); }
static ck_status_t name_long(ck_ctx_t *x) { return proto_name(x, "MQTTT", 4); }

/* MQTT-3.1.2-2: an unsupported level: CONNACK 0x01, then the close. */
static ck_status_t level(ck_ctx_t *x, uint8_t lvl)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", lvl, 0x02, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_client_t *c = send_packet_new(x, 0x10, &b);
    if (!c)
        return CK_FAIL;
    return refused_with(x, c, 0x01) ? CK_PASS : CK_FAIL;
}

static ck_status_t level2(ck_ctx_t *x) { return level(x, 2); }
static ck_status_t level6(ck_ctx_t *x) { return level(x, 6); }
static ck_status_t level0(ck_ctx_t *x) { return level(x, 0); }
static ck_status_t level255(ck_ctx_t *x) { return level(x, 255); }

/* MQTT-3.1.2-3: reserved connect flag set. */
static ck_status_t reserved_flag(ck_ctx_t *x, uint8_t flags)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, flags, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t reserved_clean(ck_ctx_t *x) { return reserved_flag(x, 0x03); }
static ck_status_t reserved_only(ck_ctx_t *x) { return reserved_flag(x, 0x01); }

/* A refused CONNECT stores no will (MQTT-3.1.2-8: "if the Connect request
 * is accepted"). */
static ck_status_t reserved_will(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x07, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, wt);
    ck_b_bin(&b, "gone", 4);
    ck_client_t *c = send_packet_new(x, 0x10, &b);
    if (!c || !ck_expect_closed(x, c, CK_WAIT, false))
        return CK_FAIL;
    return ck_expect_quiet(x, s, 2 * CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* A connection with clean session 0 and a QoS sub on t; left with DISCONNECT
 * (or an abrupt close when !polite). */
static bool make_session(ck_ctx_t *x, const char *id, const char *t, uint8_t qos, bool polite)
{
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *c = ck_connected_with(x, &o, NULL);
    if (!c || !ck_subscribed(x, c, t, qos, qos))
        return false;
    if (polite) {
        ck_disconnect(c);
    } else {
        if (!ck_ping(x, c))
            return false;
        ck_close(c);
    }
    return true;
}

/* Reconnects id with clean session 0; *sp receives Session Present. */
static ck_client_t *resume(ck_ctx_t *x, const char *id, bool clean, int *sp)
{
    ck_connect_opts_t o = {.client_id = id, .clean = clean};
    ck_packet_t p;
    ck_client_t *c = ck_connected_with(x, &o, &p);
    if (c && sp)
        *sp = p.p.u.connack.session_present;
    return c;
}

static ck_status_t session_kept(ck_ctx_t *x, bool polite)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    if (!make_session(x, id, t, 1, polite))
        goto out;
    ck_client_t *c = resume(x, id, false, NULL);
    if (c && ck_publish_via(x, t, "kept", 1, false, NULL) &&
        expect_pub_s(x, c, t, "kept", 1, false))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

static ck_status_t session_kept_disconnect(ck_ctx_t *x) { return session_kept(x, true); }
static ck_status_t session_kept_abrupt(ck_ctx_t *x) { return session_kept(x, false); }

/* MQTT-3.1.2-5: QoS 1/2 messages arriving while the session is offline. */
static ck_status_t offline_stored(ck_ctx_t *x, uint8_t qos, int count)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    char pl[8][16];
    if (!make_session(x, id, t, qos, true))
        goto out;
    for (int i = 0; i < count; i++) {
        snprintf(pl[i], sizeof(pl[i]), "m%d", i);
        if (!ck_publish_via(x, t, pl[i], qos, false, NULL))
            goto out;
    }
    ck_client_t *c = resume(x, id, false, NULL);
    if (!c)
        goto out;
    for (int i = 0; i < count; i++)
        if (!expect_pub_s(x, c, t, pl[i], qos, false))
            goto out;
    st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

static ck_status_t offline_qos1(ck_ctx_t *x) { return offline_stored(x, 1, 1); }
static ck_status_t offline_qos2(ck_ctx_t *x) { return offline_stored(x, 2, 1); }
static ck_status_t offline_three(ck_ctx_t *x) { return offline_stored(x, 1, 3); }

/* MQTT-3.1.2-6: clean session 1 discards the stored session. */
static ck_status_t clean_discards_subs(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    if (!make_session(x, id, t, 1, true))
        goto out;
    ck_client_t *c = resume(x, id, true, NULL);
    if (c && ck_publish_via(x, t, "old", 1, false, NULL) && ck_expect_quiet(x, c, CK_QUIET))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

static ck_status_t clean_discards_queue(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    if (!make_session(x, id, t, 1, true) || !ck_publish_via(x, t, "queued", 1, false, NULL))
        goto out;
    ck_client_t *c = resume(x, id, true, NULL);
    if (c && ck_expect_quiet(x, c, CK_QUIET))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* The state of a clean-session connection is not reused later. */
static ck_status_t clean_not_reused(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = true};
    ck_client_t *a = ck_connected_with(x, &o, NULL);
    if (!a || !ck_subscribed(x, a, t, 1, 1))
        goto out;
    ck_disconnect(a);
    int sp = -1;
    ck_client_t *c = resume(x, id, false, &sp);
    if (!c)
        goto out;
    if (sp != 0) {
        ck_fail(x, "Session Present %d after a clean-session connection, expected 0", sp);
        goto out;
    }
    if (ck_publish_via(x, t, "x", 1, false, NULL) && ck_expect_quiet(x, c, CK_QUIET))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-3.1.2.7 (so numbered in the standard): retained messages are not
 * session state; the end of the publisher's session leaves them in place. */
static ck_status_t retained_outlives(ck_ctx_t *x, bool persistent)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "r");
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = !persistent};
    ck_client_t *c = ck_connected_with(x, &o, NULL);
    if (!c)
        goto out;
    ck_buf_t b;
    ck_build_publish(&b, 4, t, "kept", 4, 1, true, false, 1, NULL);
    ck_packet_t p;
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBACK, CK_WAIT, &p))
        goto out;
    ck_disconnect(c);
    if (persistent) {
        /* End the persistent session: clean session 1, then leave. */
        ck_client_t *e = resume(x, id, true, NULL);
        if (!e)
            goto out;
        ck_disconnect(e);
    }
    ck_client_t *s = subscriber(x, "s", t, 0);
    if (s && expect_pub_s(x, s, t, "kept", 0, true))
        st = CK_PASS;
out:
    ck_clear_retained(x, t);
    if (persistent)
        ck_clear_session(x, id, 4);
    return st;
}

static ck_status_t retained_clean(ck_ctx_t *x) { return retained_outlives(x, false); }
static ck_status_t retained_persistent(ck_ctx_t *x) { return retained_outlives(x, true); }

/* MQTT-3.1.2-8: will published when the network connection closes. */
static ck_status_t will_on_close(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "gone", 0, false, true, 0);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    return expect_pub_s(x, s, wt, "gone", 0, false) ? CK_PASS : CK_FAIL;
}

static ck_status_t will_empty_payload(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "", 0, false, true, 0);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    return expect_pub_s(x, s, wt, "", 0, false) ? CK_PASS : CK_FAIL;
}

/* The will message is binary data: every byte value is carried. */
static ck_status_t will_binary_payload(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    static const uint8_t pl[6] = {0x00, 0xFF, 0xC0, 0x80, 0xED, 0xA0};
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_connect_opts_t o = {.clean = true,
                           .will_topic = wt,
                           .will_payload = pl,
                           .will_payload_len = sizeof(pl)};
    ck_client_t *w = ck_connected_with(x, &o, NULL);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    return expect_pub(x, s, wt, strlen(wt), pl, sizeof(pl), 0, false, -1, true, NULL)
               ? CK_PASS
               : CK_FAIL;
}

/* A CONNECT refused with a return code stores no will either. */
static ck_status_t refused_no_will(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x04, 0); /* clean session 0 with an empty id */
    ck_b_str(&b, "");
    ck_b_str(&b, wt);
    ck_b_bin(&b, "gone", 4);
    ck_client_t *c = send_packet_new(x, 0x10, &b);
    if (!c || !refused_with(x, c, 0x02))
        return CK_FAIL;
    return ck_expect_quiet(x, s, 2 * CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* Session takeover closes the old connection without a DISCONNECT from it:
 * its will is published. */
static ck_status_t takeover_will(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    const char *id = ck_client_id(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *a = with_will(x, id, wt, "gone", 0, false, true, 0);
    if (!a)
        return CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = true};
    ck_client_t *b = ck_connected_with(x, &o, NULL);
    if (!b || !ck_expect_closed(x, a, CK_WAIT, false))
        return CK_FAIL;
    return expect_pub_s(x, s, wt, "gone", 0, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-9: will flag 1 needs Will Topic and Will Message. */
static ck_status_t will_fields_missing(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x06, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t will_message_missing(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x06, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, ck_topic(x, "w"));
    return connect_rejected(x, 0x10, &b);
}

/* The Will QoS is the QoS the will is published with. */
static ck_status_t will_qos(ck_ctx_t *x, uint8_t qos)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 2);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "gone", qos, false, true, 0);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    return expect_pub_s(x, s, wt, "gone", qos, false) ? CK_PASS : CK_FAIL;
}

static ck_status_t will_qos1(ck_ctx_t *x) { return will_qos(x, 1); }
static ck_status_t will_qos2(ck_ctx_t *x) { return will_qos(x, 2); }

/* MQTT-3.1.2-10: a published will is gone: a later connection of the same
 * persistent session (without a will) does not publish it again. */
static ck_status_t will_once(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    const char *id = ck_client_id(x, "w");
    ck_status_t st = CK_FAIL;
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        goto out;
    ck_client_t *w = with_will(x, id, wt, "gone", 0, false, false, 0);
    if (!w)
        goto out;
    ck_close(w);
    if (!expect_pub_s(x, s, wt, "gone", 0, false))
        goto out;
    ck_client_t *again = resume(x, id, false, NULL);
    if (!again || !ck_ping(x, again))
        goto out;
    ck_close(again);
    if (ck_expect_quiet(x, s, 2 * CK_QUIET))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-3.1.2-10: DISCONNECT removes the will from the session. */
static ck_status_t will_removed_by_disconnect(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    const char *id = ck_client_id(x, "w");
    ck_status_t st = CK_FAIL;
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        goto out;
    ck_client_t *w = with_will(x, id, wt, "gone", 0, false, false, 0);
    if (!w)
        goto out;
    ck_disconnect(w);
    ck_client_t *again = resume(x, id, false, NULL);
    if (!again || !ck_ping(x, again))
        goto out;
    ck_close(again);
    if (ck_expect_quiet(x, s, 2 * CK_QUIET))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-3.1.2-11/13/15: will flag 0 with will QoS / retain / fields. */
static ck_status_t no_will_flags(ck_ctx_t *x, uint8_t flags)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, flags, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t nowill_qos1(ck_ctx_t *x) { return no_will_flags(x, 0x02 | 0x08); }
static ck_status_t nowill_qos2(ck_ctx_t *x) { return no_will_flags(x, 0x02 | 0x10); }
static ck_status_t nowill_retain(ck_ctx_t *x) { return no_will_flags(x, 0x02 | 0x20); }

static ck_status_t nowill_fields(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x02, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, ck_topic(x, "w"));
    ck_b_bin(&b, "gone", 4);
    return connect_rejected(x, 0x10, &b);
}

/* MQTT-3.1.2-12: no will flag, no will, even where an earlier connection of
 * the same session had one. */
static ck_status_t nowill_nothing(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    const char *id = ck_client_id(x, "w");
    ck_status_t st = CK_FAIL;
    ck_client_t *s = subscriber(x, "s", ck_topic(x, "#"), 0);
    if (!s)
        goto out;
    ck_client_t *w = with_will(x, id, wt, "gone", 0, false, false, 0);
    if (!w)
        goto out;
    ck_disconnect(w);
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *c = ck_connected_with(x, &o, NULL);
    if (!c || !ck_ping(x, c))
        goto out;
    ck_close(c);
    if (ck_expect_quiet(x, s, 2 * CK_QUIET))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-3.1.2-14: will QoS 3. */
static ck_status_t will_qos3(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x02 | 0x04 | 0x18, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, ck_topic(x, "w"));
    ck_b_bin(&b, "gone", 4);
    return connect_rejected(x, 0x10, &b);
}

/* MQTT-3.1.2-16: will retain 0: published non-retained, nothing kept. */
static ck_status_t will_not_retained(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "gone", 0, false, true, 0);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    if (!expect_pub_s(x, s, wt, "gone", 0, false))
        return CK_FAIL;
    ck_client_t *late = subscriber(x, "late", wt, 0);
    if (!late)
        return CK_FAIL;
    if (!ck_expect_quiet(x, late, CK_QUIET)) {
        ck_clear_retained(x, wt);
        return CK_FAIL;
    }
    return CK_PASS;
}

/* MQTT-3.1.2-17: will retain 1: a later subscriber gets it as retained. */
static ck_status_t will_retained(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "gone", 0, true, true, 0);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    ck_status_t st = CK_FAIL;
    /* The live subscriber's copy is checked by the publish cases
     * (MQTT-3.3.1-9); here only that it was published. */
    ck_packet_t p;
    if (!ck_expect(x, s, MQ_PKT_PUBLISH, CK_WAIT, &p))
        goto out;
    ck_client_t *late = subscriber(x, "late", wt, 0);
    if (late && expect_pub_s(x, late, wt, "gone", 0, true))
        st = CK_PASS;
out:
    ck_clear_retained(x, wt);
    return st;
}

/* MQTT-3.1.2-18 .. -22: user name and password flags. */
static ck_status_t user_flag0_present(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x02, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, "user");
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t user_flag1_missing(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x82, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t pass_flag0_present(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x82, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, "user");
    ck_b_bin(&b, "secret", 6);
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t pass_flag1_missing(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0xC2, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, "user");
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t pass_without_user(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x42, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_bin(&b, "secret", 6);
    return connect_rejected(x, 0x10, &b);
}

/* MQTT-3.1.2-24: keepalive. */
static ck_status_t keepalive_timeout(ck_ctx_t *x)
{
    ck_connect_opts_t o = {.clean = true, .keepalive = 1};
    ck_client_t *c = ck_connected_with(x, &o, NULL);
    if (!c)
        return CK_FAIL;
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/* Packets sent every `every` ms (PINGREQ, or QoS 0 PUBLISH) keep a
 * keepalive-1 connection open for 2.4 s. */
static ck_status_t keepalive_kept(ck_ctx_t *x, int every, bool with_publish)
{
    ck_connect_opts_t o = {.clean = true, .keepalive = 1};
    ck_client_t *c = ck_connected_with(x, &o, NULL);
    if (!c)
        return CK_FAIL;
    ck_buf_t b;
    ck_build_publish(&b, 4, ck_topic(x, "t"), "k", 1, 0, false, false, 0, NULL);
    for (int elapsed = 0; elapsed < 2400; elapsed += every) {
        ck_sleep_ms(every);
        if (with_publish) {
            if (!ck_send_buf(c, &b))
                return ck_fail(x, "the connection closed after %d ms", elapsed + every);
            if (!ck_expect_quiet(x, c, 0))
                return CK_FAIL;
        } else if (!ck_ping(x, c)) {
            return CK_FAIL;
        }
    }
    return ck_ping(x, c) ? CK_PASS : CK_FAIL;
}

static ck_status_t keepalive_ping(ck_ctx_t *x) { return keepalive_kept(x, 800, false); }
static ck_status_t keepalive_publish(ck_ctx_t *x) { return keepalive_kept(x, 500, true); }

/* Keep Alive 0 turns the mechanism off. */
static ck_status_t keepalive_zero(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "a", true);
    if (!c || !ck_expect_quiet(x, c, 2000))
        return CK_FAIL;
    return ck_ping(x, c) ? CK_PASS : CK_FAIL;
}

static ck_status_t keepalive_will(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "gone", 0, false, true, 1);
    if (!w || !ck_expect_closed(x, w, CK_WAIT, false))
        return CK_FAIL;
    return expect_pub_s(x, s, wt, "gone", 0, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.3-1: client id, will topic, will message, user name, password. */
static ck_status_t payload_order(ck_ctx_t *x)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_connect_opts_t o = {.clean = true,
                           .will_topic = wt,
                           .will_payload = "gone",
                           .will_payload_len = 4,
                           .username = "user",
                           .password = "secret"};
    ck_client_t *w = ck_connected_with(x, &o, NULL);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    return expect_pub_s(x, s, wt, "gone", 0, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.3-2: the session belongs to the client id. */
static ck_status_t session_per_id(ck_ctx_t *x)
{
    const char *a = ck_client_id(x, "a");
    const char *b = ck_client_id(x, "b");
    ck_status_t st = CK_FAIL;
    int sp = -1;
    ck_client_t *c = resume(x, a, false, NULL);
    if (!c)
        goto out;
    ck_disconnect(c);
    c = resume(x, b, false, &sp);
    if (!c)
        goto out;
    if (sp != 0) {
        ck_fail(x, "Session Present %d for a new client id, expected 0", sp);
        goto out;
    }
    ck_disconnect(c);
    c = resume(x, a, false, &sp);
    if (!c)
        goto out;
    if (sp != 1) {
        ck_fail(x, "Session Present %d for the first client id, expected 1", sp);
        goto out;
    }
    st = CK_PASS;
out:
    ck_clear_session(x, a, 4);
    ck_clear_session(x, b, 4);
    return st;
}

/* MQTT-3.1.3-3: no client identifier at all. */
static ck_status_t id_absent(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x02, 0);
    return connect_rejected(x, 0x10, &b);
}

/* MQTT-3.1.3-5: 23 characters of [0-9a-zA-Z] are always allowed. */
static ck_status_t id_23(ck_ctx_t *x)
{
    static const char alnum[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const char *u = ck_client_id(x, "Z");
    char id[24];
    size_t n = 0;
    for (const char *p = u; *p && n < 23; p++)
        if (strchr(alnum, *p) && *p)
            id[n++] = *p;
    for (size_t i = 0; n < 23; i++)
        id[n++] = alnum[61 - i];
    id[23] = '\0';
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = true};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    if (!ck_send_buf(c, &b) || !connack_exact(x, c, 0, 0))
        return CK_FAIL;
    return ck_ping(x, c) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.3-6: an empty client id gets a unique one; SKIP when refused. */
static ck_client_t *empty_id(ck_ctx_t *x, bool *refused)
{
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return NULL;
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x02, 0);
    ck_b_str(&b, "");
    ck_packet_t p;
    if (!ck_send_packet(c, 0x10, &b) || !ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &p))
        return NULL;
    if (p.p.u.connack.rc == 0x02) {
        *refused = true;
        return NULL;
    }
    const uint8_t want[4] = {0x20, 0x02, 0x00, 0x00};
    if (p.len != 4 || memcmp(p.raw, want, 4) != 0) {
        ck_fail_bytes(x, "CONNACK", want, 4, p.raw, p.len);
        return NULL;
    }
    return c;
}

static ck_status_t empty_id_works(ck_ctx_t *x)
{
    bool refused = false;
    ck_client_t *c = empty_id(x, &refused);
    if (refused)
        return ck_skip(x, "the broker refuses zero-length client ids (0x02)");
    if (!c)
        return CK_FAIL;
    const char *t = ck_topic(x, "t");
    if (!ck_subscribed(x, c, t, 1, 1) || !ck_publish_via(x, t, "me", 1, false, NULL))
        return CK_FAIL;
    return expect_pub_s(x, c, t, "me", 1, false) ? CK_PASS : CK_FAIL;
}

static ck_status_t empty_id_unique(ck_ctx_t *x)
{
    bool refused = false;
    ck_client_t *a = empty_id(x, &refused);
    if (refused)
        return ck_skip(x, "the broker refuses zero-length client ids (0x02)");
    if (!a)
        return CK_FAIL;
    ck_client_t *b = empty_id(x, &refused);
    if (!b)
        return refused ? ck_fail(x, "second zero-length id refused, first accepted") : CK_FAIL;
    return ck_ping(x, a) && ck_ping(x, b) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.3-8: empty id with clean session 0. */
static ck_status_t empty_id_persistent(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x00, 0);
    ck_b_str(&b, "");
    ck_client_t *c = send_packet_new(x, 0x10, &b);
    if (!c)
        return CK_FAIL;
    return refused_with(x, c, 0x02) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.3-9: a 65535-byte client id: accepted, or refused with 0x02. */
static ck_status_t id_65535(ck_ctx_t *x)
{
    size_t n = 65535, total = 2 + 4 + 4 + 2 + n + 4;
    uint8_t *buf = malloc(total + 8);
    if (!buf)
        return ck_fail(x, "out of memory");
    const char *u = ck_client_id(x, "L");
    size_t body = 10 + 2 + n, o = 0;
    buf[o++] = 0x10;
    for (size_t v = body;;) { /* remaining length */
        uint8_t d = v % 128;
        v /= 128;
        buf[o++] = (uint8_t)(d | (v ? 128 : 0));
        if (!v)
            break;
    }
    static const uint8_t vh[10] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0};
    memcpy(buf + o, vh, 10);
    o += 10;
    buf[o++] = 0xFF;
    buf[o++] = 0xFF;
    memset(buf + o, 'a', n);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): wire bytes, no NUL */
    memcpy(buf + o, u, strlen(u));
    o += n;
    ck_client_t *c = send_raw_new(x, buf, o);
    free(buf);
    if (!c)
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.connack.rc == 0)
        return ck_ping(x, c) ? CK_PASS : CK_FAIL;
    const uint8_t want[4] = {0x20, 0x02, 0x00, 0x02};
    if (p.len != 4 || memcmp(p.raw, want, 4) != 0)
        return ck_fail_bytes(x, "CONNACK 0x00 or exactly", want, 4, p.raw, p.len);
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.4-1: malformed CONNECTs. */
static ck_status_t connect_trailing(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x02, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_raw(&b, "\x00", 1);
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t connect_id_overrun(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 4, 0x02, 0);
    ck_b_u16(&b, 100);
    ck_b_raw(&b, "abcde", 5);
    return connect_rejected(x, 0x10, &b);
}

static ck_status_t connect_empty(ck_ctx_t *x)
{
    ck_client_t *c = send_raw_new(x, "\x10\x00", 2);
    if (!c)
        return CK_FAIL;
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.2.2-6: nothing to answer for a CONNECT cut after the level. */
static ck_status_t connect_cut(ck_ctx_t *x)
{
    ck_client_t *c = send_raw_new(x, "\x10\x07\x00\x04MQTT\x04", 9);
    if (!c)
        return CK_FAIL;
    return ck_expect_closed(x, c, CK_WAIT, false) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.4-2: takeover. */
static ck_status_t takeover(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "t");
    ck_connect_opts_t o = {.client_id = id, .clean = true};
    ck_client_t *a = ck_connected_with(x, &o, NULL);
    ck_client_t *b = a ? ck_connected_with(x, &o, NULL) : NULL;
    if (!b || !ck_expect_closed(x, a, CK_WAIT, false))
        return CK_FAIL;
    return ck_ping(x, b) ? CK_PASS : CK_FAIL;
}

static ck_status_t takeover_session(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "t");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *a = ck_connected_with(x, &o, NULL);
    if (!a || !ck_subscribed(x, a, t, 1, 1))
        goto out;
    int sp = -1;
    ck_client_t *b = resume(x, id, false, &sp);
    if (!b || !ck_expect_closed(x, a, CK_WAIT, false))
        goto out;
    if (sp != 1) {
        ck_fail(x, "Session Present %d after takeover of a live session, expected 1", sp);
        goto out;
    }
    if (ck_publish_via(x, t, "still", 1, false, NULL) && expect_pub_s(x, b, t, "still", 1, false))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-3.1.4-4: acceptance. */
static ck_status_t connack_bytes(ck_ctx_t *x)
{
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return CK_FAIL;
    ck_connect_opts_t o = {.clean = true};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    if (!ck_send_buf(c, &b) || !connack_exact(x, c, 0, 0))
        return CK_FAIL;
    return ck_expect_quiet(x, c, CK_QUIET) ? CK_PASS : CK_FAIL;
}

static ck_status_t connect_bytewise(ck_ctx_t *x)
{
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return CK_FAIL;
    ck_connect_opts_t o = {.clean = true, .username = "u", .password = "p"};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    for (size_t i = 0; i < b.n; i++) {
        if (!ck_send(c, b.b + i, 1))
            return ck_fail(x, "connection closed after %zu of %zu bytes", i, b.n);
        ck_sleep_ms(5);
    }
    return connack_exact(x, c, 0, 0) ? CK_PASS : CK_FAIL;
}

static ck_status_t connect_long_length(ck_ctx_t *x)
{
    char user[301];
    memset(user, 'u', 300);
    user[300] = '\0';
    ck_client_t *c = ck_open(x, 0);
    if (!c)
        return CK_FAIL;
    ck_connect_opts_t o = {.clean = true, .username = user};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    if (b.b[1] < 0x80)
        return ck_fail(x, "test error: the remaining length fits one byte");
    if (!ck_send_buf(c, &b) || !connack_exact(x, c, 0, 0))
        return CK_FAIL;
    return ck_ping(x, c) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.4-5: nothing after a refused CONNECT is processed. */
static ck_status_t after_refused(ck_ctx_t *x, uint8_t level_byte, uint8_t flags, bool empty,
                                 int rc)
{
    const char *t = ck_topic(x, "t");
    ck_client_t *s = subscriber(x, "s", t, 0);
    if (!s)
        return CK_FAIL;
    ck_buf_t body = CK_BUF, all = CK_BUF, pub;
    head(&body, "MQTT", level_byte, flags, 0);
    ck_b_str(&body, empty ? "" : ck_client_id(x, "c"));
    ck_build_packet(&all, 0x10, &body);
    ck_build_publish(&pub, 4, t, "leak", 4, 0, false, false, 0, NULL);
    ck_b_raw(&all, pub.b, pub.n);
    ck_client_t *c = send_raw_new(x, all.b, all.n);
    if (!c)
        return CK_FAIL;
    bool ok = rc < 0 ? ck_expect_closed(x, c, CK_WAIT, false) : refused_with(x, c, (uint8_t)rc);
    if (!ok)
        return CK_FAIL;
    return ck_expect_quiet(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

static ck_status_t refused_level_pub(ck_ctx_t *x) { return after_refused(x, 6, 0x02, false, 1); }
static ck_status_t refused_id_pub(ck_ctx_t *x) { return after_refused(x, 4, 0x00, true, 2); }
static ck_status_t refused_flag_pub(ck_ctx_t *x) { return after_refused(x, 4, 0x03, false, -1); }

/* MQTT-3.2.0-1: CONNACK comes first. */
static ck_status_t connack_before_pingresp(ck_ctx_t *x)
{
    ck_connect_opts_t o = {.clean = true};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    ck_b_raw(&b, "\xC0\x00", 2);
    ck_client_t *c = send_raw_new(x, b.b, b.n);
    if (!c || !connack_exact(x, c, 0, 0))
        return CK_FAIL;
    ck_packet_t p;
    return ck_expect(x, c, MQ_PKT_PINGRESP, CK_WAIT, &p) ? CK_PASS : CK_FAIL;
}

static ck_status_t connack_before_queued(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    if (!make_session(x, id, t, 1, true) || !ck_publish_via(x, t, "q", 1, false, NULL))
        goto out;
    ck_client_t *c = ck_open(x, 0);
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    if (c && ck_send_buf(c, &b) && connack_exact(x, c, 1, 0) &&
        expect_pub_s(x, c, t, "q", 1, false))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-3.2.2-1 .. -3: Session Present. */
static ck_status_t sp_case(ck_ctx_t *x, bool existing, bool clean, uint8_t want)
{
    const char *id = ck_client_id(x, "p");
    ck_status_t st = CK_FAIL;
    if (existing && !make_session(x, id, ck_topic(x, "t"), 1, true))
        goto out;
    ck_client_t *c = ck_open(x, 0);
    ck_connect_opts_t o = {.client_id = id, .clean = clean};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    if (c && ck_send_buf(c, &b) && connack_exact(x, c, want, 0))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

static ck_status_t sp_clean_existing(ck_ctx_t *x) { return sp_case(x, true, true, 0); }
static ck_status_t sp_resume(ck_ctx_t *x) { return sp_case(x, true, false, 1); }
static ck_status_t sp_new(ck_ctx_t *x) { return sp_case(x, false, false, 0); }

/* MQTT-3.2.2-4: a refusing CONNACK has Session Present 0 even when a
 * session for the id exists. */
static ck_status_t sp_refused(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "p");
    ck_status_t st = CK_FAIL;
    if (!make_session(x, id, ck_topic(x, "t"), 1, true))
        goto out;
    ck_buf_t b = CK_BUF;
    head(&b, "MQTT", 6, 0x00, 0);
    ck_b_str(&b, id);
    ck_client_t *c = send_packet_new(x, 0x10, &b);
    if (c && refused_with(x, c, 0x01))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-3.12.4-1: PINGRESP. */
static ck_status_t pingresp_bytes(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "a", true);
    if (!c || !ck_send(c, "\xC0\x00", 2))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_PINGRESP, CK_WAIT, &p))
        return CK_FAIL;
    if (p.len != 2 || memcmp(p.raw, "\xD0\x00", 2) != 0)
        return ck_fail_bytes(x, "PINGRESP", (const uint8_t *)"\xD0\x00", 2, p.raw, p.len);
    return CK_PASS;
}

static ck_status_t pingresp_three(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "a", true);
    if (!c || !ck_send(c, "\xC0\x00\xC0\x00\xC0\x00", 6))
        return CK_FAIL;
    ck_packet_t p;
    for (int i = 0; i < 3; i++)
        if (!ck_expect(x, c, MQ_PKT_PINGRESP, CK_WAIT, &p))
            return CK_FAIL;
    return ck_expect_quiet(x, c, CK_QUIET) ? CK_PASS : CK_FAIL;
}

static ck_status_t pingresp_split(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "a", true);
    if (!c || !ck_send(c, "\xC0", 1))
        return CK_FAIL;
    if (!ck_expect_quiet(x, c, 100))
        return CK_FAIL;
    ck_send(c, "\x00", 1);
    ck_packet_t p;
    return ck_expect(x, c, MQ_PKT_PINGRESP, CK_WAIT, &p) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.14.4-3: no will after DISCONNECT. */
static ck_status_t disconnect_no_will(ck_ctx_t *x, bool keep_open)
{
    const char *wt = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, "s", wt, 0);
    if (!s)
        return CK_FAIL;
    ck_client_t *w = with_will(x, ck_client_id(x, "w"), wt, "gone", 0, false, true, 0);
    if (!w)
        return CK_FAIL;
    if (keep_open) {
        ck_send(w, "\xE0\x00", 2);
        /* The broker may close now; either way the will is gone. */
        ck_packet_t p;
        if (ck_recv(x, w, CK_QUIET, &p) == 1)
            return ck_fail_bytes(x, "nothing after DISCONNECT", NULL, 0, p.raw, p.len);
        ck_close(w);
    } else {
        ck_disconnect(w);
    }
    return ck_expect_quiet(x, s, 2 * CK_QUIET) ? CK_PASS : CK_FAIL;
}

static ck_status_t disc_no_will(ck_ctx_t *x) { return disconnect_no_will(x, false); }
static ck_status_t disc_no_will_open(ck_ctx_t *x) { return disconnect_no_will(x, true); }

/* MQTT-4.1.0-1: subscriptions last over several connections. */
static ck_status_t session_many(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    if (!make_session(x, id, t, 1, true))
        goto out;
    for (int i = 0; i < 3; i++) {
        int sp = -1;
        ck_client_t *c = resume(x, id, false, &sp);
        if (!c)
            goto out;
        if (sp != 1) {
            ck_fail(x, "Session Present %d on reconnection %d, expected 1", sp, i + 1);
            goto out;
        }
        ck_disconnect(c);
    }
    ck_client_t *c = resume(x, id, false, NULL);
    if (c && ck_publish_via(x, t, "x", 1, false, NULL) && expect_pub_s(x, c, t, "x", 1, false))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-4.1.0-1: a QoS 2 message received from the client and not completely
 * acknowledged stays in the session: PUBREL after reconnecting completes it,
 * and subscribers get it exactly once. */
static ck_status_t inbound_qos2_resume(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    ck_client_t *s = subscriber(x, "s", t, 0);
    if (!s)
        goto out;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *c = ck_connected_with(x, &o, NULL);
    if (!c)
        goto out;
    ck_buf_t b;
    ck_build_publish(&b, 4, t, "once", 4, 2, false, false, 7, NULL);
    ck_packet_t p;
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBREC, CK_WAIT, &p))
        goto out;
    ck_close(c);
    c = resume(x, id, false, NULL);
    if (!c)
        goto out;
    ck_build_ack(&b, MQ_PKT_PUBREL, 7);
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBCOMP, CK_WAIT, &p))
        goto out;
    if (p.p.u.ack.packet_id != 7) {
        ck_fail(x, "PUBCOMP for packet id %u, expected 7", p.p.u.ack.packet_id);
        goto out;
    }
    if (expect_pub_s(x, s, t, "once", 0, false) && ck_expect_quiet(x, s, CK_QUIET))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* MQTT-4.1.0-2: a clean session's state lasts as long as its connection. */
static ck_status_t session_lasts_connection(ck_ctx_t *x)
{
    const char *t = ck_topic(x, "t");
    ck_client_t *c = subscriber(x, "a", t, 1);
    if (!c || !ck_expect_quiet(x, c, 1000))
        return CK_FAIL;
    if (!ck_publish_via(x, t, "one", 1, false, NULL) || !expect_pub_s(x, c, t, "one", 1, false))
        return CK_FAIL;
    return ck_publish_via(x, t, "two", 1, false, NULL) && expect_pub_s(x, c, t, "two", 1, false)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.4.0-1: unacknowledged deliveries are re-sent on resumption. */
static ck_status_t resend(ck_ctx_t *x, uint8_t qos, bool send_pubrec)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *c = ck_connected_with(x, &o, NULL);
    if (!c || !ck_subscribed(x, c, t, qos, qos) || !ck_publish_via(x, t, "again", qos, false, NULL))
        goto out;
    ck_packet_t p;
    if (!expect_pub(x, c, t, strlen(t), "again", 5, qos, false, 0, false, &p))
        goto out;
    uint16_t pid = p.p.u.publish.packet_id;
    if (send_pubrec) {
        ck_buf_t b;
        ck_build_ack(&b, MQ_PKT_PUBREC, pid);
        if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBREL, CK_WAIT, &p))
            goto out;
    }
    ck_close(c);
    int sp = -1;
    c = resume(x, id, false, &sp);
    if (!c)
        goto out;
    if (send_pubrec) {
        const uint8_t want[4] = {0x62, 0x02, (uint8_t)(pid >> 8), (uint8_t)pid};
        if (!ck_expect(x, c, MQ_PKT_PUBREL, CK_WAIT, &p))
            goto out;
        if (p.len != 4 || memcmp(p.raw, want, 4) != 0) {
            ck_fail_bytes(x, "PUBREL re-sent", want, 4, p.raw, p.len);
            goto out;
        }
        ck_buf_t b;
        ck_build_ack(&b, MQ_PKT_PUBCOMP, pid);
        ck_send_buf(c, &b);
        st = CK_PASS;
        goto out;
    }
    if (!expect_pub(x, c, t, strlen(t), "again", 5, qos, false, 1, false, &p))
        goto out;
    if (p.p.u.publish.packet_id != pid) {
        ck_fail(x, "re-sent with packet id %u, originally %u", p.p.u.publish.packet_id, pid);
        goto out;
    }
    if (ack_delivery(x, c, qos, pid))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

static ck_status_t resend_qos1(ck_ctx_t *x) { return resend(x, 1, false); }
static ck_status_t resend_qos2(ck_ctx_t *x) { return resend(x, 2, false); }
static ck_status_t resend_pubrel(ck_ctx_t *x) { return resend(x, 2, true); }

/* Acknowledged deliveries are not re-sent. */
static ck_status_t no_resend_acked(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "p");
    const char *t = ck_topic(x, "t");
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *c = ck_connected_with(x, &o, NULL);
    if (!c || !ck_subscribed(x, c, t, 1, 1) || !ck_publish_via(x, t, "done", 1, false, NULL) ||
        !expect_pub_s(x, c, t, "done", 1, false) || !ck_ping(x, c))
        goto out;
    ck_close(c);
    c = resume(x, id, false, NULL);
    if (c && ck_expect_quiet(x, c, CK_QUIET))
        st = CK_PASS;
out:
    ck_clear_session(x, id, 4);
    return st;
}

/* ---- MQTT 3.1 ------------------------------------------------------------ */

static ck_status_t v31_connect(ck_ctx_t *x, const char *id, uint8_t *rc)
{
    ck_client_t *c = ck_open(x, 3);
    if (!c)
        return CK_FAIL;
    ck_buf_t b = CK_BUF;
    head(&b, "MQIsdp", 3, 0x02, 0);
    ck_b_str(&b, id);
    ck_packet_t p;
    if (!ck_send_packet(c, 0x10, &b) || !ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &p))
        return CK_FAIL;
    *rc = p.p.u.connack.rc;
    if (p.len != 4 || p.raw[2] != 0)
        return ck_fail_bytes(x, "CONNACK 20 02 00 rc", NULL, 0, p.raw, p.len);
    if (*rc != 0 && !ck_expect_closed(x, c, CK_WAIT, false))
        return CK_FAIL;
    if (*rc == 0 && !ck_ping(x, c))
        return CK_FAIL;
    return CK_PASS;
}

static ck_status_t v31_accepted(ck_ctx_t *x)
{
    uint8_t rc = 0xff;
    ck_status_t st = v31_connect(x, ck_client_id(x, "c"), &rc);
    if (st != CK_PASS)
        return st;
    if (rc == 0x01)
        return ck_skip(x, "the broker does not support MQTT 3.1 (0x01)");
    return rc == 0 ? CK_PASS : ck_fail(x, "CONNACK return code 0x%02x, expected 0 or 1", rc);
}

/* MQTT 3.1 section 3.1: client ids are 1-23 characters; longer: 0x02. */
static ck_status_t v31_long_id(ck_ctx_t *x)
{
    char id[64];
    snprintf(id, sizeof(id), "%s-long-identifier", ck_client_id(x, "c"));
    uint8_t rc = 0xff;
    ck_status_t st = v31_connect(x, ck_client_id(x, "probe"), &rc);
    if (st != CK_PASS)
        return st;
    if (rc == 0x01)
        return ck_skip(x, "the broker does not support MQTT 3.1 (0x01)");
    st = v31_connect(x, id, &rc);
    if (st != CK_PASS)
        return st;
    return rc == 0x02 ? CK_PASS
                      : ck_fail(x, "CONNACK 0x%02x for a %zu-character MQTT 3.1 client id, "
                                   "expected 0x02",
                                rc, strlen(id));
}

static const ck_case_t cases[] = {
    /* 1.5.3 UTF-8 strings */
    {"MQTT-1.5.3-1", 4, "client id with overlong 2-byte UTF-8 (C0 AF): closed", id_overlong2},
    {"MQTT-1.5.3-1", 4, "client id with overlong 3-byte UTF-8 (E0 80 AF): closed",
     id_overlong3},
    {"MQTT-1.5.3-1", 4, "client id with a surrogate (ED A0 80): closed", id_surrogate},
    {"MQTT-1.5.3-1", 4, "client id with a lone continuation byte (80): closed", id_lone_cont},
    {"MQTT-1.5.3-1", 4, "client id ending in a cut sequence (E2 82): closed", id_truncated},
    {"MQTT-1.5.3-1", 4, "client id with a code point above U+10FFFF: closed", id_above_max},
    {"MQTT-1.5.3-1", 4, "client id with byte FF: closed", id_byte_ff},
    {"MQTT-1.5.3-2", 4, "client id containing U+0000: closed", id_nul},
    {"MQTT-1.5.3-2", 4, "client id with overlong U+0000 (C0 80): closed", id_overlong_nul},
    {"MQTT-1.5.3-2", 4, "will topic containing U+0000: closed", wt_nul},
    {"MQTT-1.5.3-2", 4, "user name containing U+0000: closed", user_nul},
    {"MQTT-1.5.3-3", 4, "will topic with U+FEFF: published with the BOM intact", wt_bom},
    {"MQTT-3.1.3-4", 4, "client id with valid 2/4-byte UTF-8: CONNACK 0, or 0x02 and close",
     id_valid_multibyte},
    {"MQTT-3.1.3-10", 4, "will topic with a surrogate (ED BF BF): closed", wt_surrogate},
    {"MQTT-3.1.3-10", 4, "will topic with overlong 4-byte UTF-8: closed", wt_overlong4},
    {"MQTT-3.1.3-10", 4, "will topic with 2/3/4-byte characters: published byte for byte",
     wt_multibyte},
    {"MQTT-3.1.3-11", 4, "user name with a surrogate (ED B0 80): closed", user_surrogate},
    {"MQTT-3.1.3-11", 4, "user name ending in a cut 4-byte sequence: closed", user_truncated4},
    {"MQTT-3.1.3-11", 4, "user name with a 4-byte character: accepted", user_valid4},
    /* 2.2 fixed header */
    {"MQTT-2.2.2-1", 4, "CONNECT with fixed header flags 0x1: closed", connect_flags1},
    {"MQTT-2.2.2-1", 4, "CONNECT with fixed header flags 0x2: closed", connect_flags2},
    {"MQTT-2.2.2-2", 4, "CONNECT with fixed header flags 0x4: closed", connect_flags4},
    {"MQTT-2.2.2-2", 4, "CONNECT with fixed header flags 0x8: closed", connect_flags8},
    {"MQTT-2.2.2-1", 4, "PINGREQ with flags 0x2: closed, no PINGRESP", ping_flags2},
    {"MQTT-2.2.2-2", 4, "PINGREQ with flags 0x1: closed, no PINGRESP", ping_flags1},
    {"MQTT-2.2.2-2", 4, "PINGREQ with flags 0x8: closed, no PINGRESP", ping_flags8},
    {"MQTT-3.14.1-1", 4, "DISCONNECT with flags 0x1: closed", disc_flags1},
    {"MQTT-3.14.1-1", 4, "DISCONNECT with flags 0x2: closed", disc_flags2},
    {"MQTT-3.14.1-1", 4, "DISCONNECT with flags 0x8 is no DISCONNECT: will published",
     disc_flags8_will},
    {"MQTT-3.1.4-1", 4, "CONNECT with a 5-byte remaining length: closed without CONNACK",
     connect_varint5},
    {"MQTT-4.8.0-1", 4, "PINGREQ with a 5-byte remaining length: closed", ping_varint5},
    {"MQTT-4.8.0-1", 4, "PINGREQ with remaining length 1: closed, no PINGRESP", ping_len1},
    {"MQTT-4.8.0-1", 4, "DISCONNECT with remaining length 1 is no DISCONNECT: will published",
     disc_len1_will},
    /* 3.1 CONNECT */
    {"MQTT-3.1.0-1", 4, "first packet not CONNECT: connection closed", first_packet_not_connect},
    {"MQTT-3.1.0-1", 4, "PUBLISH before CONNECT: closed, not delivered", first_publish},
    {"MQTT-3.1.0-1", 4, "SUBSCRIBE before CONNECT: closed, no SUBACK", first_subscribe},
    {"MQTT-3.1.0-2", 4, "second CONNECT: connection closed", second_connect},
    {"MQTT-3.1.0-2", 4, "second CONNECT: connection closed and will published",
     second_connect_will},
    {"MQTT-3.1.2-1", 4, "protocol name \"MQTX\": not accepted, closed", name_mqtx},
    {"MQTT-3.1.2-1", 4, "protocol name \"mqtt\" (lower case): not accepted, closed", name_lower},
    {"MQTT-3.1.2-1", 4, "protocol name \"MQIsdp\" with level 4: not accepted, closed",
     name_mqisdp4},
    {"MQTT-3.1.2-1", 4, "protocol name \"MQTTT\": not accepted, closed", name_long},
    {"MQTT-3.1.2-2", 4, "protocol level 2: CONNACK 20 02 00 01, then closed", level2},
    {"MQTT-3.1.2-2", 4, "protocol level 6: CONNACK 20 02 00 01, then closed", level6},
    {"MQTT-3.2.2-5", 4, "protocol level 0: CONNACK 20 02 00 01, then closed", level0},
    {"MQTT-3.2.2-5", 4, "protocol level 255: CONNACK 20 02 00 01, then closed", level255},
    {"MQTT-3.1.2-3", 4, "reserved connect flag with clean session: closed, no CONNACK",
     reserved_clean},
    {"MQTT-3.1.2-3", 4, "reserved connect flag alone: closed, no CONNACK", reserved_only},
    {"MQTT-3.1.2-3", 4, "reserved connect flag with a will: closed, will not published",
     reserved_will},
    {"MQTT-3.1.2-4", 4, "clean session 0: subscription kept after DISCONNECT",
     session_kept_disconnect},
    {"MQTT-3.1.2-4", 4, "clean session 0: subscription kept after an abrupt close",
     session_kept_abrupt},
    {"MQTT-3.1.2-5", 4, "offline session stores QoS 1 messages", offline_qos1},
    {"MQTT-3.1.2-5", 4, "offline session stores QoS 2 messages", offline_qos2},
    {"MQTT-3.1.2-5", 4, "offline session stores 3 QoS 1 messages, delivered in order",
     offline_three},
    {"MQTT-3.1.2-6", 4, "clean session 1 discards the stored subscriptions",
     clean_discards_subs},
    {"MQTT-3.1.2-6", 4, "clean session 1 discards messages queued offline",
     clean_discards_queue},
    {"MQTT-3.1.2-6", 4, "clean-session state is not reused by a later session",
     clean_not_reused},
    {"MQTT-3.1.2-7", 4, "retained message outlives the publisher's clean session",
     retained_clean},
    {"MQTT-3.1.2-7", 4, "retained message outlives a discarded persistent session",
     retained_persistent},
    {"MQTT-3.1.2-8", 4, "will published on a close without DISCONNECT", will_on_close},
    {"MQTT-3.1.2-8", 4, "will with an empty message published", will_empty_payload},
    {"MQTT-3.1.2-8", 4, "will message with arbitrary bytes published unchanged",
     will_binary_payload},
    {"MQTT-3.1.2-8", 4, "reserved packet type 15: closed, will published", type15_will},
    {"MQTT-3.1.2-8", 4, "CONNECT refused with 0x02: will not published", refused_no_will},
    {"MQTT-3.1.2-8", 4, "session takeover closes the old connection: its will published",
     takeover_will},
    {"MQTT-3.1.2-9", 4, "will flag 1 without will topic and message: closed",
     will_fields_missing},
    {"MQTT-3.1.2-9", 4, "will flag 1 without will message: closed", will_message_missing},
    {"MQTT-3.1.2-9", 4, "will QoS 1 published with QoS 1", will_qos1},
    {"MQTT-3.1.2-9", 4, "will QoS 2 published with QoS 2", will_qos2},
    {"MQTT-3.1.2-10", 4, "a published will is not published again by the session",
     will_once},
    {"MQTT-3.1.2-10", 4, "DISCONNECT removes the will from the session",
     will_removed_by_disconnect},
    {"MQTT-3.1.2-11", 4, "will flag 0 with will topic and message present: closed",
     nowill_fields},
    {"MQTT-3.1.2-12", 4, "will flag 0: nothing published when the connection ends",
     nowill_nothing},
    {"MQTT-3.1.2-13", 4, "will flag 0 with will QoS 1: closed", nowill_qos1},
    {"MQTT-3.1.2-13", 4, "will flag 0 with will QoS 2: closed", nowill_qos2},
    {"MQTT-3.1.2-14", 4, "will QoS 3: closed", will_qos3},
    {"MQTT-3.1.2-15", 4, "will flag 0 with will retain: closed", nowill_retain},
    {"MQTT-3.1.2-16", 4, "will retain 0: published non-retained, not stored",
     will_not_retained},
    {"MQTT-3.1.2-17", 4, "will retain 1: published as a retained message", will_retained},
    {"MQTT-3.1.2-18", 4, "user name flag 0 but a user name present: closed",
     user_flag0_present},
    {"MQTT-3.1.2-19", 4, "user name flag 1 but no user name: closed", user_flag1_missing},
    {"MQTT-3.1.2-20", 4, "password flag 0 but a password present: closed",
     pass_flag0_present},
    {"MQTT-3.1.2-21", 4, "password flag 1 but no password: closed", pass_flag1_missing},
    {"MQTT-3.1.2-22", 4, "password flag without user name flag: closed", pass_without_user},
    {"MQTT-3.1.2-24", 4, "keepalive 1 s, silent client: closed within 3 s", keepalive_timeout},
    {"MQTT-3.1.2-24", 4, "keepalive 1 s: PINGREQ every 0.8 s keeps the connection",
     keepalive_ping},
    {"MQTT-3.1.2-24", 4, "keepalive 1 s: any packet (PUBLISH) resets the timer",
     keepalive_publish},
    {"MQTT-3.1.2-24", 4, "keepalive 0: no timeout", keepalive_zero},
    {"MQTT-3.1.2-24", 4, "keepalive timeout: will published", keepalive_will},
    {"MQTT-3.1.3-1", 4, "all payload fields in order: accepted, will topic/message read right",
     payload_order},
    {"MQTT-3.1.3-2", 4, "the session belongs to its client id", session_per_id},
    {"MQTT-3.1.3-3", 4, "no client id in the payload: closed", id_absent},
    {"MQTT-3.1.3-5", 4, "23-character [0-9a-zA-Z] client id: CONNACK 20 02 00 00", id_23},
    {"MQTT-3.1.3-6", 4, "zero-length client id: accepted and usable", empty_id_works},
    {"MQTT-3.1.3-6", 4, "two zero-length client ids get distinct identities",
     empty_id_unique},
    {"MQTT-3.1.3-8", 4, "zero-length client id with clean session 0: 20 02 00 02, closed",
     empty_id_persistent},
    {"MQTT-3.1.3-9", 4, "65535-byte client id: CONNACK 0, or 20 02 00 02 and close", id_65535},
    {"MQTT-3.1.4-1", 4, "CONNECT with a trailing byte: closed without CONNACK",
     connect_trailing},
    {"MQTT-3.1.4-1", 4, "client id length beyond the packet: closed without CONNACK",
     connect_id_overrun},
    {"MQTT-3.1.4-1", 4, "CONNECT with remaining length 0: closed without CONNACK",
     connect_empty},
    {"MQTT-3.2.2-6", 4, "CONNECT cut after the protocol level: closed without CONNACK",
     connect_cut},
    {"MQTT-3.1.4-2", 4, "same client id connects: old connection closed", takeover},
    {"MQTT-3.1.4-2", 4, "takeover with clean session 0 keeps the session", takeover_session},
    {"MQTT-3.1.4-4", 4, "valid CONNECT: CONNACK exactly 20 02 00 00, nothing else",
     connack_bytes},
    {"MQTT-3.1.4-4", 4, "CONNECT sent one byte at a time: accepted", connect_bytewise},
    {"MQTT-3.1.4-4", 4, "CONNECT with a 2-byte remaining length: accepted",
     connect_long_length},
    {"MQTT-3.1.4-5", 4, "PUBLISH after a CONNECT refused with 0x01: not processed",
     refused_level_pub},
    {"MQTT-3.1.4-5", 4, "PUBLISH after a CONNECT refused with 0x02: not processed",
     refused_id_pub},
    {"MQTT-3.1.4-5", 4, "PUBLISH after a malformed CONNECT: not processed", refused_flag_pub},
    /* 3.2 CONNACK */
    {"MQTT-3.2.0-1", 4, "CONNECT + PINGREQ in one write: CONNACK first", connack_before_pingresp},
    {"MQTT-3.2.0-1", 4, "resumed session with a queued message: CONNACK first",
     connack_before_queued},
    {"MQTT-3.2.2-1", 4, "clean session 1 with a stored session: 20 02 00 00",
     sp_clean_existing},
    {"MQTT-3.2.2-2", 4, "clean session 0 with a stored session: 20 02 01 00", sp_resume},
    {"MQTT-3.2.2-3", 4, "clean session 0 without a stored session: 20 02 00 00", sp_new},
    {"MQTT-3.2.2-4", 4, "refusing CONNACK for an id with a session: 20 02 00 01", sp_refused},
    /* 3.12 / 3.14 */
    {"MQTT-3.12.4-1", 4, "PINGREQ: PINGRESP exactly D0 00", pingresp_bytes},
    {"MQTT-3.12.4-1", 4, "three PINGREQs in one write: three PINGRESPs", pingresp_three},
    {"MQTT-3.12.4-1", 4, "PINGREQ split over two writes: PINGRESP", pingresp_split},
    {"MQTT-3.14.4-3", 4, "DISCONNECT then close: will not published", disc_no_will},
    {"MQTT-3.14.4-3", 4, "DISCONNECT, connection left open: will not published",
     disc_no_will_open},
    /* 4.1 / 4.4 sessions */
    {"MQTT-4.1.0-1", 4, "session kept over three reconnections", session_many},
    {"MQTT-4.1.0-1", 4, "inbound QoS 2 state kept: PUBREL after reconnect, delivered once",
     inbound_qos2_resume},
    {"MQTT-4.1.0-2", 4, "clean session state lasts while the connection is open",
     session_lasts_connection},
    {"MQTT-4.4.0-1", 4, "unacknowledged QoS 1 PUBLISH re-sent with DUP and same id",
     resend_qos1},
    {"MQTT-4.4.0-1", 4, "unacknowledged QoS 2 PUBLISH re-sent with DUP and same id",
     resend_qos2},
    {"MQTT-4.4.0-1", 4, "PUBREL without PUBCOMP re-sent on reconnection", resend_pubrel},
    {"MQTT-4.4.0-1", 4, "acknowledged QoS 1 PUBLISH not re-sent", no_resend_acked},
    /* 4.8 protocol violations */
    {"MQTT-4.8.0-1", 4, "reserved packet type 0: closed", type0},
    {"MQTT-4.8.0-1", 4, "reserved packet type 15: closed", type15},
    {"MQTT-4.8.0-1", 4, "CONNACK sent by the client: closed", client_connack},
    {"MQTT-4.8.0-1", 4, "SUBACK sent by the client: closed", client_suback},
    {"MQTT-4.8.0-1", 4, "UNSUBACK sent by the client: closed", client_unsuback},
    {"MQTT-4.8.0-1", 4, "PINGRESP sent by the client: closed", client_pingresp},
    /* MQTT 3.1 */
    {"MQTT-3.1.2-2", 3, "MQTT 3.1 (MQIsdp, level 3): CONNACK 20 02 00 00", v31_accepted},
    {"MQTT-3.1.3-9", 3, "MQTT 3.1 client id over 23 characters: 0x02, then closed",
     v31_long_id},
};

const ck_area_t ck_area_v3_connect = {"3.1.1 connection", cases, sizeof(cases) / sizeof(cases[0])};

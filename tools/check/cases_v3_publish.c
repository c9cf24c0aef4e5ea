/*
 * Cases: MQTT 3.1.1 publish/subscribe — packet identifiers, PUBLISH and its
 * acknowledgements, SUBSCRIBE / SUBACK, UNSUBSCRIBE / UNSUBACK, the QoS
 * flows, message ordering, topic names and filters (OASIS MQTT 3.1.1
 * sections 2.3, 3.3-3.11, 4.3, 4.5-4.7).
 *
 * Owns: nothing beyond each case's clients (freed by the runner).
 * Never: encodes with the codec (every packet sent is built byte by byte),
 * leaves a retained message or a persistent session behind, sleeps.
 * Shared subscriptions are not part of 3.1.1 and are left out.
 *
 * Conventions: a publisher and a subscriber are separate connections, so a
 * publisher never sees its own messages; a publish is complete (PUBACK, or
 * PUBCOMP, or a PINGRESP after a QoS 0 publish) before a later step
 * depends on the broker having processed it.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"

#define V 4 /* every case here is MQTT 3.1.1 */

/* ck_topic / ck_client_id rotate through a small pool: keep a copy. */
#define NAME(var, expr)                                                                        \
    char var[160];                                                                             \
    snprintf(var, sizeof(var), "%s", (expr))

/* ---- helpers ---------------------------------------------------------------- */

static const char *pkt_name(uint8_t t)
{
    static const char *const n[16] = {"reserved", "CONNECT",     "CONNACK",  "PUBLISH",
                                      "PUBACK",   "PUBREC",      "PUBREL",   "PUBCOMP",
                                      "SUBSCRIBE", "SUBACK",     "UNSUBSCRIBE", "UNSUBACK",
                                      "PINGREQ",  "PINGRESP",    "DISCONNECT", "AUTH"};
    return n[t & 15];
}

static bool send_pub(ck_client_t *c, const char *topic, const char *payload, uint8_t qos,
                     bool retain, bool dup, uint16_t pid)
{
    ck_buf_t b;
    ck_build_publish(&b, V, topic, payload, strlen(payload), qos, retain, dup, pid, NULL);
    return ck_send_buf(c, &b);
}

/* Sends a packet whose body is `body` (n bytes) under first byte `first`. */
static bool send_raw(ck_client_t *c, uint8_t first, const void *body, size_t n)
{
    ck_buf_t b = CK_BUF;
    ck_b_raw(&b, body, n);
    return ck_send_packet(c, first, &b);
}

/* The acks have fixed bytes: type<<4 | flags, 02, id (PUBREL's flags are 2). */
static bool expect_ack(ck_ctx_t *x, ck_client_t *c, uint8_t type, uint16_t pid)
{
    ck_packet_t p;
    if (!ck_expect(x, c, type, CK_WAIT, &p))
        return false;
    const uint8_t want[4] = {(uint8_t)((type << 4) | (type == MQ_PKT_PUBREL ? 2 : 0)), 2,
                             (uint8_t)(pid >> 8), (uint8_t)pid};
    if (p.len != 4 || memcmp(p.raw, want, 4) != 0) {
        ck_fail_bytes(x, pkt_name(type), want, 4, p.raw, p.len);
        return false;
    }
    return true;
}

/* Publishes and completes the publisher's side of the flow (MQTT-3.3.4-1). */
static bool publish(ck_ctx_t *x, ck_client_t *c, const char *topic, const char *payload,
                    uint8_t qos, bool retain, uint16_t pid)
{
    if (!send_pub(c, topic, payload, qos, retain, false, pid)) {
        ck_fail(x, "cannot send PUBLISH");
        return false;
    }
    if (qos == 0)
        return ck_ping(x, c);
    if (qos == 1)
        return expect_ack(x, c, MQ_PKT_PUBACK, pid);
    return expect_ack(x, c, MQ_PKT_PUBREC, pid) && ck_send_ack(c, MQ_PKT_PUBREL, pid) &&
           expect_ack(x, c, MQ_PKT_PUBCOMP, pid);
}

/* SUBSCRIBE with n filters; checks SUBACK = 90 len id codes... (MQTT-3.8.4-1/2/5,
 * MQTT-3.9.3-2) and stores the codes. */
static bool subscribe_n(ck_ctx_t *x, ck_client_t *c, uint16_t pid, const char *const *filters,
                        const uint8_t *qos, size_t n, uint8_t *codes)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, pid);
    for (size_t i = 0; i < n; i++) {
        ck_b_str(&b, filters[i]);
        ck_b_u8(&b, qos[i]);
    }
    ck_packet_t p;
    if (!ck_send_packet(c, 0x82, &b) || !ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p))
        return false;
    if (p.len != 4 + n || p.raw[0] != 0x90 || p.raw[1] != 2 + n || p.raw[2] != (uint8_t)(pid >> 8) ||
        p.raw[3] != (uint8_t)pid) {
        uint8_t want[4] = {0x90, (uint8_t)(2 + n), (uint8_t)(pid >> 8), (uint8_t)pid};
        ck_fail_bytes(x, "SUBACK header (then one code per filter)", want, 4, p.raw, p.len);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        codes[i] = p.raw[4 + i];
        if (codes[i] > 2 && codes[i] != 0x80) {
            ck_fail(x, "SUBACK code 0x%02x for %s: only 0x00-0x02 and 0x80 exist", codes[i],
                    filters[i]);
            return false;
        }
    }
    return true;
}

/* One filter; returns its SUBACK code, or -1 (failure recorded). */
static int subscribe_code(ck_ctx_t *x, ck_client_t *c, uint16_t pid, const char *filter,
                          uint8_t qos)
{
    uint8_t code;
    return subscribe_n(x, c, pid, &filter, &qos, 1, &code) ? code : -1;
}

/* One filter that must be granted exactly the QoS asked for. */
static bool subscribe(ck_ctx_t *x, ck_client_t *c, const char *filter, uint8_t qos)
{
    int code = subscribe_code(x, c, 1, filter, qos);
    if (code < 0)
        return false;
    if (code != qos) {
        ck_fail(x, "SUBACK code 0x%02x for %s, requested QoS %u", code, filter, qos);
        return false;
    }
    return true;
}

/* UNSUBSCRIBE with n filters; UNSUBACK must be b0 02 id (MQTT-3.10.4-4). */
static bool unsubscribe_n(ck_ctx_t *x, ck_client_t *c, uint16_t pid, const char *const *filters,
                          size_t n)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, pid);
    for (size_t i = 0; i < n; i++)
        ck_b_str(&b, filters[i]);
    return ck_send_packet(c, 0xA2, &b) && expect_ack(x, c, MQ_PKT_UNSUBACK, pid);
}

static bool unsubscribe(ck_ctx_t *x, ck_client_t *c, uint16_t pid, const char *filter)
{
    return unsubscribe_n(x, c, pid, &filter, 1);
}

/* What a delivered PUBLISH must look like; -1: not checked. */
typedef struct want {
    const char *topic;
    const char *payload;
    int qos;
    int retain;
    int dup;
} want_t;

static bool check_pub(ck_ctx_t *x, const ck_packet_t *p, const want_t *w)
{
    const mq_publish_t *m = &p->p.u.publish;
    if (w->topic && !ck_str_is(m->topic, w->topic)) {
        ck_fail(x, "PUBLISH on topic '%.*s', expected '%s'", (int)m->topic.len,
                (const char *)m->topic.ptr, w->topic);
        return false;
    }
    if (w->payload && !ck_str_is(m->payload, w->payload)) {
        ck_fail(x, "PUBLISH on %s with payload '%.*s', expected '%s'", w->topic ? w->topic : "?",
                (int)m->payload.len, (const char *)m->payload.ptr, w->payload);
        return false;
    }
    if (w->qos >= 0 && m->qos != w->qos) {
        ck_fail(x, "PUBLISH '%s' delivered at QoS %u, expected QoS %d",
                w->payload ? w->payload : "?", m->qos, w->qos);
        return false;
    }
    if (w->retain >= 0 && m->retain != (w->retain != 0)) {
        ck_fail(x, "PUBLISH '%s' with RETAIN=%d, expected RETAIN=%d", w->payload ? w->payload : "?",
                m->retain, w->retain);
        return false;
    }
    if (w->dup >= 0 && m->dup != (w->dup != 0)) {
        ck_fail(x, "PUBLISH '%s' with DUP=%d, expected DUP=%d", w->payload ? w->payload : "?",
                m->dup, w->dup);
        return false;
    }
    /* MQTT-2.3.1-1 / -4: a server's PUBLISH with QoS > 0 has a non-zero id. */
    if (m->qos && m->packet_id == 0) {
        ck_fail(x, "PUBLISH QoS %u with packet identifier 0", m->qos);
        return false;
    }
    return true;
}

/* Waits for a PUBLISH (no acknowledgement sent) and checks it. */
static bool expect_msg(ck_ctx_t *x, ck_client_t *c, const want_t *w, ck_packet_t *out)
{
    return ck_expect(x, c, MQ_PKT_PUBLISH, CK_WAIT, out) && check_pub(x, out, w);
}

/*
 * Waits up to ms for the next PUBLISH, acknowledging as a well-behaved
 * client does: PUBACK for QoS 1, PUBREC for QoS 2, PUBCOMP for every PUBREL
 * (which is consumed). Returns like ck_recv; other packets fail the case.
 */
static int next_pub(ck_ctx_t *x, ck_client_t *c, int ms, ck_packet_t *out)
{
    for (;;) {
        int r = ck_recv(x, c, ms, out);
        if (r != 1)
            return r;
        if (out->type == MQ_PKT_PUBREL) {
            ck_send_ack(c, MQ_PKT_PUBCOMP, out->p.u.ack.packet_id);
            continue;
        }
        if (out->type != MQ_PKT_PUBLISH) {
            ck_fail_bytes(x, "PUBLISH", NULL, 0, out->raw, out->len);
            return -2;
        }
        const mq_publish_t *m = &out->p.u.publish;
        if (m->qos == 1)
            ck_send_ack(c, MQ_PKT_PUBACK, m->packet_id);
        else if (m->qos == 2)
            ck_send_ack(c, MQ_PKT_PUBREC, m->packet_id);
        return 1;
    }
}

/* A delivery that must come now, acknowledged. */
static bool got(ck_ctx_t *x, ck_client_t *c, const char *topic, const char *payload, int qos,
                int retain)
{
    want_t w = {topic, payload, qos, retain, 0};
    ck_packet_t p;
    int r = next_pub(x, c, CK_WAIT, &p);
    if (r == 0)
        ck_fail(x, "expected PUBLISH '%s' on %s, got nothing within %d ms", payload, topic,
                CK_WAIT);
    else if (r == -1)
        ck_fail(x, "expected PUBLISH '%s' on %s, the connection closed", payload, topic);
    return r == 1 && check_pub(x, &p, &w);
}

/* Nothing but PUBRELs of earlier deliveries (answered) for CK_QUIET ms. */
static bool nothing(ck_ctx_t *x, ck_client_t *c, const char *why)
{
    ck_packet_t p;
    int r = next_pub(x, c, CK_QUIET, &p);
    if (r == 0)
        return true;
    if (r == 1)
        ck_fail(x, "%s: got PUBLISH '%.*s' on '%.*s' (QoS %u, RETAIN %d)", why,
                (int)p.p.u.publish.payload.len, (const char *)p.p.u.publish.payload.ptr,
                (int)p.p.u.publish.topic.len, (const char *)p.p.u.publish.topic.ptr,
                p.p.u.publish.qos, p.p.u.publish.retain);
    else if (r == -1)
        ck_fail(x, "%s: the connection closed", why);
    return false;
}

static bool closed(ck_ctx_t *x, ck_client_t *c)
{
    return ck_expect_closed(x, c, CK_WAIT, false);
}

/* Connects a new client and sends one packet that must close the connection. */
static ck_status_t closes_on(ck_ctx_t *x, uint8_t first, const ck_buf_t *body)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    ck_send_packet(c, first, body);
    return closed(x, c) ? CK_PASS : CK_FAIL;
}

/* A PUBLISH whose topic is given as raw bytes. */
static void raw_topic_publish(ck_buf_t *b, const void *topic, uint16_t tlen, uint8_t qos)
{
    ck_b_u16(b, tlen);
    ck_b_raw(b, topic, tlen);
    if (qos)
        ck_b_u16(b, 1);
    ck_b_raw(b, "x", 1);
}

/*
 * An invalid filter: the broker closes the connection (a protocol violation,
 * MQTT-4.8.0-1) or refuses it with SUBACK 0x80; granting it is the failure.
 */
static ck_status_t filter_refused(ck_ctx_t *x, const void *filter, uint16_t flen)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 9);
    ck_b_u16(&b, flen);
    ck_b_raw(&b, filter, flen);
    ck_b_u8(&b, 0);
    ck_send_packet(c, 0x82, &b);
    ck_packet_t p;
    int r = ck_recv(x, c, CK_WAIT, &p);
    if (r == -1)
        return CK_PASS;
    if (r == 0)
        return ck_fail(x, "invalid filter: expected a close or SUBACK 0x80, got nothing");
    if (r == 1 && p.type == MQ_PKT_SUBACK) {
        static const uint8_t refused[5] = {0x90, 3, 0, 9, 0x80};
        if (p.len == 5 && memcmp(p.raw, refused, 5) == 0)
            return CK_PASS;
        return ck_fail_bytes(x, "invalid filter: close or SUBACK 0x80", refused, 5, p.raw, p.len);
    }
    if (r == 1)
        return ck_fail_bytes(x, "invalid filter: close or SUBACK 0x80", NULL, 0, p.raw, p.len);
    return CK_FAIL;
}

static bool contains(mq_str_t s, const char *z)
{
    size_t n = strlen(z);
    for (size_t i = 0; n <= s.len && i + n <= s.len; i++)
        if (memcmp(s.ptr + i, z, n) == 0)
            return true;
    return false;
}

/*
 * Subscribes `filter` at QoS 0 and publishes every topic (QoS 1, payload its
 * index); exactly those with match[i] must be delivered. When own is set,
 * deliveries on topics not containing it (other traffic on a '#' filter)
 * are ignored.
 */
#define MAX_TOPICS 12
static ck_status_t matching(ck_ctx_t *x, const char *filter, const char *const *topics,
                            const bool *match, size_t n, const char *own)
{
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, filter, 0))
        return CK_FAIL;
    size_t want = 0;
    bool seen[MAX_TOPICS] = {false};
    for (size_t i = 0; i < n && i < MAX_TOPICS; i++) {
        char pl[8];
        snprintf(pl, sizeof(pl), "%zu", i);
        if (!publish(x, p, topics[i], pl, 1, false, (uint16_t)(i + 1)))
            return CK_FAIL;
        want += match[i];
    }
    size_t have = 0;
    for (;;) {
        ck_packet_t pk;
        int r = next_pub(x, s, have < want ? CK_WAIT : CK_QUIET, &pk);
        if (r == 0 && have == want)
            return CK_PASS;
        if (r == 0) {
            for (size_t i = 0; i < n; i++)
                if (match[i] && !seen[i])
                    return ck_fail(x, "filter '%s' must match '%s': nothing delivered", filter,
                                   topics[i]);
        }
        if (r == -1)
            return ck_fail(x, "filter '%s': the connection closed", filter);
        if (r != 1)
            return CK_FAIL;
        const mq_publish_t *m = &pk.p.u.publish;
        size_t i;
        for (i = 0; i < n; i++)
            if (ck_str_is(m->topic, topics[i]))
                break;
        if (i == n) {
            if (own && !contains(m->topic, own))
                continue;
            return ck_fail(x, "filter '%s' delivered unknown topic '%.*s'", filter,
                           (int)m->topic.len, (const char *)m->topic.ptr);
        }
        if (!match[i])
            return ck_fail(x, "filter '%s' must not match '%s', but it was delivered", filter,
                           topics[i]);
        if (seen[i])
            return ck_fail(x, "filter '%s': '%s' delivered twice", filter, topics[i]);
        seen[i] = true;
        have++;
    }
}

/* "<base>/<suffix>" into out. */
static const char *join(char *out, size_t cap, const char *base, const char *suffix)
{
    snprintf(out, cap, "%s%s", base, suffix);
    return out;
}

/* ---- 2.3 packet identifiers ------------------------------------------------ */

/* MQTT-2.3.1-1: SUBSCRIBE needs a non-zero id: id 0 is a protocol violation. */
static ck_status_t pid_zero_subscribe(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 0);
    ck_b_str(&b, ck_topic(x, "t"));
    ck_b_u8(&b, 0);
    return closes_on(x, 0x82, &b);
}

static ck_status_t pid_zero_unsubscribe(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 0);
    ck_b_str(&b, ck_topic(x, "t"));
    return closes_on(x, 0xA2, &b);
}

static ck_status_t pid_zero_publish_q1(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, ck_topic(x, "t"));
    ck_b_u16(&b, 0);
    ck_b_raw(&b, "x", 1);
    return closes_on(x, 0x32, &b);
}

static ck_status_t pid_zero_publish_q2(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, ck_topic(x, "t"));
    ck_b_u16(&b, 0);
    ck_b_raw(&b, "x", 1);
    return closes_on(x, 0x34, &b);
}

/* MQTT-2.3.1-4 (the rule of -2 for the server): unacknowledged deliveries
 * to one client each get an unused id. */
static ck_status_t pid_inflight_distinct(ck_ctx_t *x, uint8_t qos)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, qos))
        return CK_FAIL;
    enum { N = 6 };
    uint16_t ids[N];
    for (int i = 0; i < N; i++) {
        char pl[8];
        snprintf(pl, sizeof(pl), "%d", i);
        if (!publish(x, p, t, pl, qos, false, (uint16_t)(i + 1)))
            return CK_FAIL;
    }
    for (int i = 0; i < N; i++) {
        char pl[8];
        snprintf(pl, sizeof(pl), "%d", i);
        want_t w = {t, pl, qos, 0, 0};
        ck_packet_t pk;
        if (!expect_msg(x, s, &w, &pk))
            return CK_FAIL;
        ids[i] = pk.p.u.publish.packet_id;
        for (int j = 0; j < i; j++)
            if (ids[j] == ids[i])
                return ck_fail(x, "unacknowledged deliveries %d and %d share packet id %u", j, i,
                               ids[i]);
    }
    return CK_PASS;
}

static ck_status_t pid_inflight_distinct_q1(ck_ctx_t *x) { return pid_inflight_distinct(x, 1); }
static ck_status_t pid_inflight_distinct_q2(ck_ctx_t *x) { return pid_inflight_distinct(x, 2); }

/*
 * A persistent subscriber gets a QoS qos message, does not acknowledge it,
 * drops the connection and comes back: the broker re-sends it. Returns the
 * first and re-sent packet ids through *first and *again.
 */
static bool redeliver(ck_ctx_t *x, uint8_t qos, const char *t, const char *id, want_t *first_w,
                      uint16_t *first, ck_client_t **again_c)
{
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *s = ck_connected_with(x, &o, NULL);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, qos) || !publish(x, p, t, "m", qos, false, 5))
        return false;
    ck_packet_t pk;
    if (!expect_msg(x, s, first_w, &pk))
        return false;
    *first = pk.p.u.publish.packet_id;
    ck_close(s);
    ck_packet_t ca;
    *again_c = ck_connected_with(x, &o, &ca);
    if (!*again_c)
        return false;
    if (!ca.p.u.connack.session_present) {
        ck_fail(x, "CONNACK session present 0 after reconnecting with CleanSession 0");
        return false;
    }
    return true;
}

/* MQTT-2.3.1-4 (the rule of -3 for the server): a re-send keeps its id. */
static ck_status_t pid_resend_same(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    NAME(id, ck_client_id(x, "s"));
    want_t w = {t, "m", 1, 0, 0};
    uint16_t pid;
    ck_client_t *s;
    ck_status_t st = CK_FAIL;
    if (redeliver(x, 1, t, id, &w, &pid, &s)) {
        want_t w2 = {t, "m", 1, 0, 1};
        ck_packet_t pk;
        if (expect_msg(x, s, &w2, &pk)) {
            if (pk.p.u.publish.packet_id == pid)
                st = CK_PASS;
            else
                ck_fail(x, "re-sent PUBLISH has id %u, first sent with %u",
                        pk.p.u.publish.packet_id, pid);
            ck_send_ack(s, MQ_PKT_PUBACK, pk.p.u.publish.packet_id);
        }
    }
    ck_clear_session(x, id, V);
    return st;
}

/* MQTT-2.3.1-5: a QoS 0 PUBLISH has no packet id: 30 len topic payload. */
static ck_status_t pid_none_qos0(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 0) || !publish(x, p, t, "abc", 0, false, 0))
        return CK_FAIL;
    ck_buf_t want = CK_BUF;
    ck_b_str(&want, t);
    ck_b_raw(&want, "abc", 3);
    ck_buf_t full;
    ck_build_packet(&full, 0x30, &want);
    ck_packet_t pk;
    if (!ck_expect(x, s, MQ_PKT_PUBLISH, CK_WAIT, &pk))
        return CK_FAIL;
    if (pk.len != full.n || memcmp(pk.raw, full.b, full.n) != 0)
        return ck_fail_bytes(x, "QoS 0 PUBLISH without packet id", full.b, full.n, pk.raw, pk.len);
    return CK_PASS;
}

/* MQTT-2.3.1-6: PUBACK / PUBREC carry the PUBLISH's id. */
static ck_status_t pid_puback(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    return send_pub(c, ck_topic(x, "t"), "x", 1, false, false, 0xABCD) &&
                   expect_ack(x, c, MQ_PKT_PUBACK, 0xABCD) &&
                   send_pub(c, ck_topic(x, "t"), "x", 1, false, false, 0x0001) &&
                   expect_ack(x, c, MQ_PKT_PUBACK, 0x0001)
               ? CK_PASS
               : CK_FAIL;
}

static ck_status_t pid_pubrec(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    return send_pub(c, ck_topic(x, "t"), "x", 2, false, false, 0xFFFF) &&
                   expect_ack(x, c, MQ_PKT_PUBREC, 0xFFFF) &&
                   ck_send_ack(c, MQ_PKT_PUBREL, 0xFFFF) &&
                   expect_ack(x, c, MQ_PKT_PUBCOMP, 0xFFFF)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-2.3.1-6: the server's PUBREL carries the id of its own PUBLISH. */
static ck_status_t pid_server_pubrel(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 2) || !publish(x, p, t, "m", 2, false, 3))
        return CK_FAIL;
    want_t w = {t, "m", 2, 0, 0};
    ck_packet_t pk;
    if (!expect_msg(x, s, &w, &pk))
        return CK_FAIL;
    uint16_t id = pk.p.u.publish.packet_id;
    return ck_send_ack(s, MQ_PKT_PUBREC, id) && expect_ack(x, s, MQ_PKT_PUBREL, id) &&
                   ck_send_ack(s, MQ_PKT_PUBCOMP, id) && nothing(x, s, "after PUBCOMP")
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-2.3.1-7: SUBACK / UNSUBACK carry the id of their request. */
static ck_status_t pid_suback(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    return subscribe_code(x, c, 0x8001, ck_topic(x, "t"), 0) >= 0 &&
                   subscribe_code(x, c, 0x00FE, ck_topic(x, "u"), 1) >= 0
               ? CK_PASS
               : CK_FAIL;
}

static ck_status_t pid_unsuback(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    NAME(t, ck_topic(x, "t"));
    return subscribe(x, c, t, 0) && unsubscribe(x, c, 0x7FFE, t) &&
                   unsubscribe(x, c, 0x0100, t)
               ? CK_PASS
               : CK_FAIL;
}

/* ---- 3.3.1 DUP, QoS, RETAIN --------------------------------------------------- */

/* MQTT-3.3.1-1: a re-delivery (after reconnecting) has DUP=1. */
static ck_status_t dup_on_redelivery(ck_ctx_t *x, uint8_t qos)
{
    NAME(t, ck_topic(x, "t"));
    NAME(id, ck_client_id(x, "s"));
    want_t w = {t, "m", qos, 0, 0};
    uint16_t pid;
    ck_client_t *s;
    ck_status_t st = CK_FAIL;
    if (redeliver(x, qos, t, id, &w, &pid, &s)) {
        want_t w2 = {t, "m", qos, 0, 1};
        ck_packet_t pk;
        if (expect_msg(x, s, &w2, &pk)) {
            uint16_t id2 = pk.p.u.publish.packet_id;
            if (qos == 1)
                st = ck_send_ack(s, MQ_PKT_PUBACK, id2) ? CK_PASS : CK_FAIL;
            else
                st = ck_send_ack(s, MQ_PKT_PUBREC, id2) && expect_ack(x, s, MQ_PKT_PUBREL, id2) &&
                             ck_send_ack(s, MQ_PKT_PUBCOMP, id2)
                         ? CK_PASS
                         : CK_FAIL;
        }
    }
    ck_clear_session(x, id, V);
    return st;
}

static ck_status_t dup_redelivery_q1(ck_ctx_t *x) { return dup_on_redelivery(x, 1); }
static ck_status_t dup_redelivery_q2(ck_ctx_t *x) { return dup_on_redelivery(x, 2); }

/*
 * MQTT-3.3.1-2 binds the sender only: 3.1.1 names no reaction of a receiver
 * to DUP=1 on a QoS 0 PUBLISH (reading it as "invalid flags", MQTT-2.2.2-2,
 * or as a protocol violation, MQTT-4.8.0-1, is an interpretation). So both
 * a close and acceptance pass; what the statement does require of a broker
 * that accepts is that its own QoS 0 copy carries DUP=0.
 */
static ck_status_t dup_qos0(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 0))
        return CK_FAIL;
    /* the PINGREQ behind the PUBLISH tells acceptance from a close quickly */
    ck_buf_t b;
    ck_build_publish(&b, V, t, "x", 1, 0, false, true, 0, NULL);
    ck_b_raw(&b, "\xC0\x00", 2);
    if (!ck_send_buf(p, &b))
        return ck_fail(x, "cannot send PUBLISH");
    ck_packet_t pk;
    int r = ck_recv(x, p, CK_WAIT, &pk);
    if (r == -2)
        return CK_FAIL;
    if (r == 0)
        return ck_fail(x, "neither a close nor a PINGRESP within %d ms", CK_WAIT);
    if (r == 1 && pk.type != MQ_PKT_PINGRESP)
        return ck_fail_bytes(x, "PINGRESP or a close", NULL, 0, pk.raw, pk.len);
    /* closed: a copy, if one was delivered all the same, must have DUP=0 */
    bool closed_p = r == -1;
    r = next_pub(x, s, closed_p ? CK_QUIET : CK_WAIT, &pk);
    if (r == 0 && closed_p)
        return CK_PASS;
    if (r == 0)
        return ck_fail(x, "PUBLISH accepted (PINGRESP, no close) but not delivered within %d ms "
                          "(MQTT-4.5.0-1)",
                       CK_WAIT);
    if (r != 1)
        return CK_FAIL;
    if (pk.raw[0] != 0x30) {
        uint8_t want = 0x30;
        return ck_fail_bytes(x, "the QoS 0 copy with DUP=0", &want, 1, pk.raw, 1);
    }
    return CK_PASS;
}

/* MQTT-3.3.1-2: a QoS 0 delivery of a message published with DUP=1 at
 * QoS 1 (downgraded by the subscription) has DUP=0. */
static ck_status_t dup_zero_on_downgrade(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 0))
        return CK_FAIL;
    if (!send_pub(p, t, "m", 1, false, true, 4) || !expect_ack(x, p, MQ_PKT_PUBACK, 4))
        return CK_FAIL;
    ck_packet_t pk;
    if (!ck_expect(x, s, MQ_PKT_PUBLISH, CK_WAIT, &pk))
        return CK_FAIL;
    if (pk.raw[0] != 0x30) {
        uint8_t want = 0x30;
        return ck_fail_bytes(x, "QoS 0 delivery first byte (DUP 0)", &want, 1, pk.raw, 1);
    }
    return CK_PASS;
}

/* MQTT-3.3.1-3: the incoming DUP flag is not propagated. */
static ck_status_t dup_not_propagated(ck_ctx_t *x, uint8_t qos)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, qos))
        return CK_FAIL;
    if (!send_pub(p, t, "m", qos, false, true, 6))
        return CK_FAIL;
    if (qos == 1 ? !expect_ack(x, p, MQ_PKT_PUBACK, 6)
                 : !(expect_ack(x, p, MQ_PKT_PUBREC, 6) && ck_send_ack(p, MQ_PKT_PUBREL, 6) &&
                     expect_ack(x, p, MQ_PKT_PUBCOMP, 6)))
        return CK_FAIL;
    return got(x, s, t, "m", qos, 0) ? CK_PASS : CK_FAIL;
}

static ck_status_t dup_not_propagated_q1(ck_ctx_t *x) { return dup_not_propagated(x, 1); }
static ck_status_t dup_not_propagated_q2(ck_ctx_t *x) { return dup_not_propagated(x, 2); }

/* MQTT-3.3.1-4: QoS 3 closes the connection and is not delivered. */
static ck_status_t qos3_closes(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 2))
        return CK_FAIL;
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, t);
    ck_b_u16(&b, 1);
    ck_b_raw(&b, "x", 1);
    ck_send_packet(p, 0x36, &b);
    return closed(x, p) && nothing(x, s, "a QoS 3 PUBLISH must not be delivered") ? CK_PASS
                                                                                 : CK_FAIL;
}

static ck_status_t qos3_retain_closes(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!p)
        return CK_FAIL;
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, t);
    ck_b_u16(&b, 1);
    ck_b_raw(&b, "x", 1);
    ck_send_packet(p, 0x37, &b);
    ck_status_t st = closed(x, p) ? CK_PASS : CK_FAIL;
    if (st == CK_PASS) {
        ck_client_t *s = ck_connected(x, "sub", true);
        if (!s || !subscribe(x, s, t, 2) ||
            !nothing(x, s, "a QoS 3 retained PUBLISH must not be stored"))
            st = CK_FAIL;
    }
    ck_clear_retained(x, t);
    return st;
}

/* Publishes a retained message with qos, then a new subscriber (QoS sq)
 * must receive it with RETAIN=1 at min(qos, sq). */
static ck_status_t retained_delivered(ck_ctx_t *x, uint8_t qos, uint8_t sq)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *p = ck_connected(x, "pub", true);
    if (p && publish(x, p, t, "kept", qos, true, 1)) {
        ck_client_t *s = ck_connected(x, "sub", true);
        if (s && subscribe(x, s, t, sq) && got(x, s, t, "kept", qos < sq ? qos : sq, 1) &&
            nothing(x, s, "one retained message"))
            st = CK_PASS;
    }
    ck_clear_retained(x, t);
    return st;
}

/* MQTT-3.3.1-5: stored with its QoS. */
static ck_status_t retained_q1(ck_ctx_t *x) { return retained_delivered(x, 1, 1); }
static ck_status_t retained_q2(ck_ctx_t *x) { return retained_delivered(x, 2, 2); }
static ck_status_t retained_q2_sub1(ck_ctx_t *x) { return retained_delivered(x, 2, 1); }
static ck_status_t retained_q1_sub2(ck_ctx_t *x) { return retained_delivered(x, 1, 2); }

/* MQTT-3.3.1-6: every matching topic's retained message, the last one only. */
static ck_status_t retained_each_topic(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "r"));
    char t[3][200], f[200], other[200];
    for (int i = 0; i < 3; i++)
        snprintf(t[i], sizeof(t[i]), "%s/%d", base, i);
    join(f, sizeof(f), base, "/+");
    join(other, sizeof(other), base, "/x/y");
    ck_status_t st = CK_FAIL;
    ck_client_t *p = ck_connected(x, "pub", true);
    if (p && publish(x, p, t[0], "0", 1, true, 1) && publish(x, p, t[1], "1", 1, true, 2) &&
        publish(x, p, t[2], "2", 1, true, 3) && publish(x, p, other, "o", 1, true, 4)) {
        ck_client_t *s = ck_connected(x, "sub", true);
        if (s && subscribe(x, s, f, 1)) {
            bool seen[3] = {false};
            int i;
            for (i = 0; i < 3; i++) {
                ck_packet_t pk;
                want_t w = {NULL, NULL, 1, 1, 0};
                if (next_pub(x, s, CK_WAIT, &pk) != 1 || !check_pub(x, &pk, &w))
                    break;
                int k = -1;
                for (int j = 0; j < 3; j++)
                    if (ck_str_is(pk.p.u.publish.topic, t[j]))
                        k = j;
                if (k < 0 || seen[k]) {
                    ck_fail(x, "unexpected retained message on '%.*s'",
                            (int)pk.p.u.publish.topic.len, (const char *)pk.p.u.publish.topic.ptr);
                    break;
                }
                seen[k] = true;
            }
            if (i == 3 && nothing(x, s, "three retained messages match"))
                st = CK_PASS;
            else if (i < 3)
                ck_fail(x, "expected 3 retained messages for %s, got %d", f, i);
        }
    }
    for (int i = 0; i < 3; i++)
        ck_clear_retained(x, t[i]);
    ck_clear_retained(x, other);
    return st;
}

static ck_status_t retained_last_only(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *p = ck_connected(x, "pub", true);
    if (p && publish(x, p, t, "first", 1, true, 1) && publish(x, p, t, "second", 1, true, 2)) {
        ck_client_t *s = ck_connected(x, "sub", true);
        if (s && subscribe(x, s, t, 1) && got(x, s, t, "second", 1, 1) &&
            nothing(x, s, "only the last retained message"))
            st = CK_PASS;
    }
    ck_clear_retained(x, t);
    return st;
}

/* MQTT-3.3.1-7: a QoS 0 retained message discards the previous one (it may
 * itself be stored or discarded). */
static ck_status_t retained_qos0_replaces(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *p = ck_connected(x, "pub", true);
    if (p && publish(x, p, t, "old", 1, true, 1) && publish(x, p, t, "new", 0, true, 0)) {
        ck_client_t *s = ck_connected(x, "sub", true);
        ck_packet_t pk;
        if (s && subscribe(x, s, t, 1)) {
            int r = next_pub(x, s, CK_QUIET, &pk);
            want_t w = {t, "new", 0, 1, 0};
            if (r == 0 || (r == 1 && check_pub(x, &pk, &w) && nothing(x, s, "one message")))
                st = CK_PASS;
        }
    }
    ck_clear_retained(x, t);
    return st;
}

/* MQTT-3.3.1-8: sent because of a new subscription: RETAIN=1 (QoS 0 sub). */
static ck_status_t retained_flag_on_subscribe(ck_ctx_t *x) { return retained_delivered(x, 1, 0); }

/* MQTT-3.3.1-9: to an established subscription: RETAIN=0. */
static ck_status_t retain_cleared_on_forward(ck_ctx_t *x, uint8_t qos)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (s && p && subscribe(x, s, t, qos) && publish(x, p, t, "live", qos, true, 1) &&
        got(x, s, t, "live", qos, 0)) {
        /* ... while a new subscription gets the same message with RETAIN=1. */
        ck_client_t *s2 = ck_connected(x, "sub2", true);
        if (s2 && subscribe(x, s2, t, qos) && got(x, s2, t, "live", qos, 1))
            st = CK_PASS;
    }
    ck_clear_retained(x, t);
    return st;
}

static ck_status_t retain_forward_q0(ck_ctx_t *x) { return retain_cleared_on_forward(x, 0); }
static ck_status_t retain_forward_q2(ck_ctx_t *x) { return retain_cleared_on_forward(x, 2); }

/* MQTT-3.3.1-10: a zero-byte retained PUBLISH is delivered as normal ... */
static ck_status_t retained_empty_forwarded(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (s && p && subscribe(x, s, t, 1) && publish(x, p, t, "v", 1, true, 1) &&
        got(x, s, t, "v", 1, 0) && publish(x, p, t, "", 1, true, 2) && got(x, s, t, "", 1, 0))
        st = CK_PASS;
    ck_clear_retained(x, t);
    return st;
}

/* ... and removes the retained message. */
static ck_status_t retained_empty_clears(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *p = ck_connected(x, "pub", true);
    if (p && publish(x, p, t, "v", 1, true, 1) && publish(x, p, t, "", 1, true, 2)) {
        ck_client_t *s = ck_connected(x, "sub", true);
        if (s && subscribe(x, s, t, 1) &&
            nothing(x, s, "a zero-byte retained PUBLISH removes the retained message"))
            st = CK_PASS;
    }
    ck_clear_retained(x, t);
    return st;
}

/* MQTT-3.3.1-11: a zero-byte retained message is not stored (QoS 0 too). */
static ck_status_t retained_empty_not_stored(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *p = ck_connected(x, "pub", true);
    if (p && publish(x, p, t, "", 0, true, 0) && publish(x, p, t, "", 2, true, 3)) {
        ck_client_t *s = ck_connected(x, "sub", true);
        if (s && subscribe(x, s, t, 2) &&
            nothing(x, s, "a zero-byte retained message must not be stored"))
            st = CK_PASS;
    }
    ck_clear_retained(x, t);
    return st;
}

/* MQTT-3.3.1-12: RETAIN=0 neither stores nor removes/replaces. */
static ck_status_t retain0_not_stored(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "r"));
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!p || !publish(x, p, t, "v", 1, false, 1))
        return CK_FAIL;
    ck_client_t *s = ck_connected(x, "sub", true);
    return s && subscribe(x, s, t, 1) && nothing(x, s, "a RETAIN=0 message must not be stored")
               ? CK_PASS
               : CK_FAIL;
}

static ck_status_t retain0_keeps_retained(ck_ctx_t *x, const char *payload)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *p = ck_connected(x, "pub", true);
    if (p && publish(x, p, t, "kept", 1, true, 1) && publish(x, p, t, payload, 1, false, 2)) {
        ck_client_t *s = ck_connected(x, "sub", true);
        if (s && subscribe(x, s, t, 1) && got(x, s, t, "kept", 1, 1) &&
            nothing(x, s, "one retained message"))
            st = CK_PASS;
    }
    ck_clear_retained(x, t);
    return st;
}

static ck_status_t retain0_no_replace(ck_ctx_t *x) { return retain0_keeps_retained(x, "other"); }
static ck_status_t retain0_no_remove(ck_ctx_t *x) { return retain0_keeps_retained(x, ""); }

/* ---- 3.3.2 topic name ----------------------------------------------------------- */

/* MQTT-3.3.2-1: the topic is a UTF-8 string: ill-formed UTF-8 closes. */
static ck_status_t topic_bad_utf8(ck_ctx_t *x)
{
    static const uint8_t bad[] = {'a', '/', 0xC0, 0xAF};
    ck_buf_t b = CK_BUF;
    raw_topic_publish(&b, bad, sizeof(bad), 0);
    return closes_on(x, 0x30, &b);
}

static ck_status_t topic_surrogate(ck_ctx_t *x)
{
    static const uint8_t bad[] = {'a', '/', 0xED, 0xA0, 0x80};
    ck_buf_t b = CK_BUF;
    raw_topic_publish(&b, bad, sizeof(bad), 1);
    return closes_on(x, 0x32, &b);
}

/* MQTT-3.3.2-1: the topic must be present: a length past the packet closes. */
static ck_status_t topic_missing(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 40);
    ck_b_raw(&b, "a/b", 3);
    return closes_on(x, 0x30, &b);
}

/* MQTT-3.3.2-2: no wildcards in a topic name; nothing is delivered. */
static ck_status_t topic_wildcard(ck_ctx_t *x, const char *suffix)
{
    NAME(base, ck_topic(x, "w"));
    char t[200], f[200];
    join(t, sizeof(t), base, suffix);
    join(f, sizeof(f), base, "/#");
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, f, 0))
        return CK_FAIL;
    /* The filter matches the name whether the broker takes the wildcard
     * characters literally or as wildcards. */
    send_pub(p, t, "x", 0, false, false, 0);
    return closed(x, p) && nothing(x, s, "a topic name with a wildcard") ? CK_PASS : CK_FAIL;
}

static ck_status_t topic_plus(ck_ctx_t *x) { return topic_wildcard(x, "/+"); }
static ck_status_t topic_hash(ck_ctx_t *x) { return topic_wildcard(x, "/#"); }
static ck_status_t topic_plus_inside(ck_ctx_t *x) { return topic_wildcard(x, "/a+b/c"); }
static ck_status_t topic_hash_inside(ck_ctx_t *x) { return topic_wildcard(x, "/a#"); }

/* MQTT-3.3.2-3: the delivered topic name is the published one, not the filter. */
static ck_status_t topic_name_delivered(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "n"));
    char f[200], t[200];
    join(f, sizeof(f), base, "/+/#");
    join(t, sizeof(t), base, "/a/b/c");
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    return s && p && subscribe(x, s, f, 1) && publish(x, p, t, "m", 1, false, 1) &&
                   got(x, s, t, "m", 1, 0)
               ? CK_PASS
               : CK_FAIL;
}

/* ---- 3.3.4 / 3.3.5 responses, overlapping subscriptions ------------------------ */

/* MQTT-3.3.4-1: QoS 0 gets no response: the next packet is the PINGRESP. */
static ck_status_t response_qos0(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    return send_pub(c, ck_topic(x, "t"), "x", 0, false, false, 0) && ck_ping(x, c) ? CK_PASS
                                                                                      : CK_FAIL;
}

static ck_status_t response_qos1(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    return send_pub(c, ck_topic(x, "t"), "x", 1, false, false, 0x0203) &&
                   expect_ack(x, c, MQ_PKT_PUBACK, 0x0203) && nothing(x, c, "one PUBACK")
               ? CK_PASS
               : CK_FAIL;
}

static ck_status_t response_qos2(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    return send_pub(c, ck_topic(x, "t"), "x", 2, false, false, 0x0304) &&
                   expect_ack(x, c, MQ_PKT_PUBREC, 0x0304) &&
                   nothing(x, c, "PUBREC only, until PUBREL")
               ? CK_PASS
               : CK_FAIL;
}

/*
 * MQTT-3.3.5-1: overlapping subscriptions (QoS 0 and QoS 2): the message is
 * delivered respecting the maximum QoS: at least one copy at min(pub, 2);
 * copies are collected before acknowledging, so that PUBRELs cannot
 * interleave.
 */
static ck_status_t overlap(ck_ctx_t *x, uint8_t pq)
{
    NAME(base, ck_topic(x, "o"));
    char f1[200], f2[200], t[200];
    join(f1, sizeof(f1), base, "/+");
    join(f2, sizeof(f2), base, "/#");
    join(t, sizeof(t), base, "/a");
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, f1, 0) || !subscribe(x, s, f2, 2) ||
        !publish(x, p, t, "m", pq, false, 1))
        return CK_FAIL;
    int best = -1, n = 0;
    uint16_t ids[4];
    uint8_t qs[4];
    for (;;) {
        ck_packet_t pk;
        int r = ck_recv(x, s, n ? CK_QUIET : CK_WAIT, &pk);
        if (r == 0)
            break;
        if (r != 1 || pk.type != MQ_PKT_PUBLISH)
            return r == 1 ? ck_fail_bytes(x, "PUBLISH", NULL, 0, pk.raw, pk.len)
                          : ck_fail(x, "expected the message, got %s",
                                    r == -1 ? "a close" : "a bad packet");
        want_t w = {t, "m", -1, 0, 0};
        if (!check_pub(x, &pk, &w))
            return CK_FAIL;
        if (n == 4)
            return ck_fail(x, "more than one copy per matching subscription");
        qs[n] = pk.p.u.publish.qos;
        ids[n++] = pk.p.u.publish.packet_id;
        if (pk.p.u.publish.qos > best)
            best = pk.p.u.publish.qos;
        if (pk.p.u.publish.qos > pq)
            return ck_fail(x, "a copy at QoS %u, above the published QoS %u", pk.p.u.publish.qos,
                           pq);
    }
    if (n == 0)
        return ck_fail(x, "nothing delivered for two overlapping subscriptions");
    if (best != pq)
        return ck_fail(x, "best copy at QoS %d, expected QoS %u (maximum of the subscriptions)",
                       best, pq);
    for (int i = 0; i < n; i++) {
        if (qs[i] == 1)
            ck_send_ack(s, MQ_PKT_PUBACK, ids[i]);
        else if (qs[i] == 2 && !(ck_send_ack(s, MQ_PKT_PUBREC, ids[i]) &&
                                 expect_ack(x, s, MQ_PKT_PUBREL, ids[i]) &&
                                 ck_send_ack(s, MQ_PKT_PUBCOMP, ids[i])))
            return CK_FAIL;
    }
    return CK_PASS;
}

static ck_status_t overlap_q2(ck_ctx_t *x) { return overlap(x, 2); }
static ck_status_t overlap_q1(ck_ctx_t *x) { return overlap(x, 1); }

/* ---- 3.6 PUBREL flags -------------------------------------------------------------- */

/* MQTT-3.6.1-1: PUBREL flags other than 0x2 are malformed: close. */
static ck_status_t pubrel_flags(ck_ctx_t *x, uint8_t first)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c || !send_pub(c, ck_topic(x, "t"), "x", 2, false, false, 3) ||
        !expect_ack(x, c, MQ_PKT_PUBREC, 3))
        return CK_FAIL;
    static const uint8_t id[2] = {0, 3};
    send_raw(c, first, id, 2);
    return closed(x, c) ? CK_PASS : CK_FAIL;
}

static ck_status_t pubrel_flags0(ck_ctx_t *x) { return pubrel_flags(x, 0x60); }
static ck_status_t pubrel_flags3(ck_ctx_t *x) { return pubrel_flags(x, 0x63); }

/* ---- 3.8 SUBSCRIBE ------------------------------------------------------------------- */

/* MQTT-3.8.1-1: SUBSCRIBE flags other than 0x2 are malformed: close. */
static ck_status_t subscribe_flags(ck_ctx_t *x, uint8_t first)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_str(&b, ck_topic(x, "t"));
    ck_b_u8(&b, 0);
    return closes_on(x, first, &b);
}

static ck_status_t subscribe_flags0(ck_ctx_t *x) { return subscribe_flags(x, 0x80); }
static ck_status_t subscribe_flags6(ck_ctx_t *x) { return subscribe_flags(x, 0x86); }

/* MQTT-3.8.3-1: filters are UTF-8: ill-formed ones close. */
static ck_status_t subscribe_bad_utf8(ck_ctx_t *x, const uint8_t *f, size_t n)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_u16(&b, (uint16_t)n);
    ck_b_raw(&b, f, n);
    ck_b_u8(&b, 0);
    return closes_on(x, 0x82, &b);
}

static ck_status_t subscribe_utf8_overlong(ck_ctx_t *x)
{
    static const uint8_t f[] = {'a', '/', 0xC0, 0xAF};
    return subscribe_bad_utf8(x, f, sizeof(f));
}

static ck_status_t subscribe_utf8_surrogate(ck_ctx_t *x)
{
    static const uint8_t f[] = {'a', '/', 0xED, 0xBF, 0xBF};
    return subscribe_bad_utf8(x, f, sizeof(f));
}

/* MQTT-3.8.3-3: at least one filter. */
static ck_status_t subscribe_empty(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    return closes_on(x, 0x82, &b);
}

/* MQTT-3.8.3-4: reserved bits of the requested QoS byte, or QoS 3. */
static ck_status_t subscribe_options(ck_ctx_t *x, uint8_t opt)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_str(&b, ck_topic(x, "t"));
    ck_b_u8(&b, opt);
    return closes_on(x, 0x82, &b);
}

static ck_status_t subscribe_qos3(ck_ctx_t *x) { return subscribe_options(x, 0x03); }
static ck_status_t subscribe_reserved4(ck_ctx_t *x) { return subscribe_options(x, 0x04); }
static ck_status_t subscribe_reserved80(ck_ctx_t *x) { return subscribe_options(x, 0x81); }

/* MQTT-3.8.4-1: every SUBSCRIBE gets its SUBACK, also when pipelined. */
static ck_status_t suback_each(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    ck_buf_t all = CK_BUF;
    for (uint16_t i = 1; i <= 3; i++) {
        ck_buf_t b;
        char s[8];
        snprintf(s, sizeof(s), "%u", i);
        ck_build_subscribe(&b, V, (uint16_t)(0x100 + i), ck_topic(x, s), (uint8_t)(i - 1), NULL);
        ck_b_raw(&all, b.b, b.n);
    }
    if (!ck_send_buf(c, &all))
        return CK_FAIL;
    for (uint16_t i = 1; i <= 3; i++) {
        ck_packet_t p;
        if (!ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p))
            return CK_FAIL;
        const uint8_t want[5] = {0x90, 3, 1, (uint8_t)i, (uint8_t)(i - 1)};
        if (p.len != 5 || memcmp(p.raw, want, 5) != 0)
            return ck_fail_bytes(x, "SUBACK", want, 5, p.raw, p.len);
    }
    return CK_PASS;
}

/* MQTT-3.8.4-2: SUBACK = 90 03 id code. */
static ck_status_t suback_bytes(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    ck_buf_t b;
    ck_build_subscribe(&b, V, 0x0102, ck_topic(x, "t"), 2, NULL);
    ck_packet_t p;
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p))
        return CK_FAIL;
    static const uint8_t want[5] = {0x90, 3, 1, 2, 2};
    if (p.len != 5 || memcmp(p.raw, want, 5) != 0)
        return ck_fail_bytes(x, "SUBACK", want, 5, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.8.4-3: the same filter again replaces the subscription (one copy,
 * the new QoS). */
static ck_status_t resubscribe_qos(ck_ctx_t *x, uint8_t q1, uint8_t q2)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    return s && p && subscribe(x, s, t, q1) && subscribe(x, s, t, q2) &&
                   publish(x, p, t, "m", 2, false, 1) && got(x, s, t, "m", q2, 0) &&
                   nothing(x, s, "the subscription is replaced, not added")
               ? CK_PASS
               : CK_FAIL;
}

static ck_status_t resubscribe_down(ck_ctx_t *x) { return resubscribe_qos(x, 2, 0); }
static ck_status_t resubscribe_up(ck_ctx_t *x) { return resubscribe_qos(x, 0, 2); }

static ck_status_t resubscribe_retained(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "r"));
    ck_status_t st = CK_FAIL;
    ck_client_t *p = ck_connected(x, "pub", true);
    ck_client_t *s = ck_connected(x, "sub", true);
    if (p && s && publish(x, p, t, "kept", 1, true, 1) && subscribe(x, s, t, 1) &&
        got(x, s, t, "kept", 1, 1) && subscribe(x, s, t, 1) && got(x, s, t, "kept", 1, 1) &&
        nothing(x, s, "one re-sent retained message"))
        st = CK_PASS;
    ck_clear_retained(x, t);
    return st;
}

/* MQTT-3.8.4-3: ... and the flow of publications is not interrupted. */
static ck_status_t resubscribe_flow(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 1))
        return CK_FAIL;
    /* A message in flight (unacknowledged) while the filter is replaced. */
    if (!publish(x, p, t, "a", 1, false, 1))
        return CK_FAIL;
    want_t w = {t, "a", 1, 0, 0};
    ck_packet_t pk;
    if (!expect_msg(x, s, &w, &pk))
        return CK_FAIL;
    uint16_t id = pk.p.u.publish.packet_id;
    if (!subscribe(x, s, t, 1) || !ck_send_ack(s, MQ_PKT_PUBACK, id) ||
        !publish(x, p, t, "b", 1, false, 2))
        return CK_FAIL;
    return got(x, s, t, "b", 1, 0) && nothing(x, s, "one delivery") ? CK_PASS : CK_FAIL;
}

/* MQTT-3.8.4-4: several filters: handled one by one, one SUBACK. */
static ck_status_t subscribe_many(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "m"));
    char f[3][200];
    const char *fs[3];
    for (int i = 0; i < 3; i++) {
        snprintf(f[i], sizeof(f[i]), "%s/%d", base, i);
        fs[i] = f[i];
    }
    static const uint8_t q[3] = {1, 1, 1};
    uint8_t codes[3];
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe_n(x, s, 0x0A0B, fs, q, 3, codes))
        return CK_FAIL;
    for (int i = 0; i < 3; i++) {
        if (codes[i] != 1)
            return ck_fail(x, "SUBACK code %d is 0x%02x, expected 0x01", i, codes[i]);
        char pl[4];
        snprintf(pl, sizeof(pl), "%d", i);
        if (!publish(x, p, f[i], pl, 1, false, (uint16_t)(i + 1)) || !got(x, s, f[i], pl, 1, 0))
            return CK_FAIL;
    }
    return nothing(x, s, "one SUBACK") ? CK_PASS : CK_FAIL;
}

/* MQTT-3.8.4-4: the same filter twice in one SUBSCRIBE: as two SUBSCRIBEs,
 * the second replaces the first. */
static ck_status_t subscribe_same_twice(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    const char *fs[2] = {t, t};
    static const uint8_t q[2] = {0, 2};
    uint8_t codes[2];
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe_n(x, s, 3, fs, q, 2, codes))
        return CK_FAIL;
    if (codes[0] != 0 || codes[1] != 2)
        return ck_fail(x, "SUBACK codes 0x%02x 0x%02x, expected 0x00 0x02", codes[0], codes[1]);
    return publish(x, p, t, "m", 2, false, 1) && got(x, s, t, "m", 2, 0) &&
                   nothing(x, s, "one subscription")
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-3.8.4-5: each code is the granted QoS (not above the request) or 0x80. */
static ck_status_t suback_granted(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "g"));
    char f[3][200];
    const char *fs[3];
    for (int i = 0; i < 3; i++) {
        snprintf(f[i], sizeof(f[i]), "%s/%d/#", base, i);
        fs[i] = f[i];
    }
    static const uint8_t q[3] = {0, 1, 2};
    uint8_t codes[3];
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c || !subscribe_n(x, c, 7, fs, q, 3, codes))
        return CK_FAIL;
    for (int i = 0; i < 3; i++)
        if (codes[i] != 0x80 && codes[i] > q[i])
            return ck_fail(x, "SUBACK grants QoS %u for a request of QoS %u", codes[i], q[i]);
    return CK_PASS;
}

/* MQTT-3.8.4-6: delivered at min(published QoS, granted QoS). */
static ck_status_t min_qos(ck_ctx_t *x, uint8_t pq, uint8_t sq)
{
    NAME(t, ck_topic(x, "q"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    uint8_t want = pq < sq ? pq : sq;
    return s && p && subscribe(x, s, t, sq) && publish(x, p, t, "m", pq, false, 1) &&
                   got(x, s, t, "m", want, 0) && nothing(x, s, "one delivery")
               ? CK_PASS
               : CK_FAIL;
}

static ck_status_t min_q2_s0(ck_ctx_t *x) { return min_qos(x, 2, 0); }
static ck_status_t min_q2_s1(ck_ctx_t *x) { return min_qos(x, 2, 1); }
static ck_status_t min_q1_s0(ck_ctx_t *x) { return min_qos(x, 1, 0); }
static ck_status_t min_q1_s2(ck_ctx_t *x) { return min_qos(x, 1, 2); }
static ck_status_t min_q0_s2(ck_ctx_t *x) { return min_qos(x, 0, 2); }
static ck_status_t min_q2_s2(ck_ctx_t *x) { return min_qos(x, 2, 2); }

/* ---- 3.9 SUBACK ------------------------------------------------------------------------ */

/* MQTT-3.9.3-1: codes in the order of the filters; each one is the QoS of
 * what is then delivered on that filter. */
static ck_status_t suback_order(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "o"));
    char f[3][200];
    const char *fs[3];
    for (int i = 0; i < 3; i++) {
        snprintf(f[i], sizeof(f[i]), "%s/%d", base, i);
        fs[i] = f[i];
    }
    static const uint8_t q[3] = {2, 0, 1};
    uint8_t codes[3];
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe_n(x, s, 0x3344, fs, q, 3, codes))
        return CK_FAIL;
    if (memcmp(codes, q, 3) != 0)
        return ck_fail_bytes(x, "SUBACK codes in filter order", q, 3, codes, 3);
    for (int i = 0; i < 3; i++)
        if (!publish(x, p, f[i], "m", 2, false, (uint16_t)(i + 1)) || !got(x, s, f[i], "m", q[i], 0))
            return CK_FAIL;
    return CK_PASS;
}

/* MQTT-3.9.3-2: only 0x00, 0x01, 0x02, 0x80 — also for unusual filters. */
static ck_status_t suback_codes(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "c"));
    char f[5][200];
    const char *fs[5];
    static const char *const sfx[5] = {"/#", "/+/+", "/ sp ace", "//", "/\xc3\xa9"};
    for (int i = 0; i < 5; i++) {
        join(f[i], sizeof(f[i]), base, sfx[i]);
        fs[i] = f[i];
    }
    static const uint8_t q[5] = {2, 1, 0, 2, 1};
    uint8_t codes[5];
    ck_client_t *c = ck_connected(x, "c", true);
    return c && subscribe_n(x, c, 5, fs, q, 5, codes) ? CK_PASS : CK_FAIL;
}

/* ---- 3.10 UNSUBSCRIBE ---------------------------------------------------------------- */

/* MQTT-3.10.1-1: flags other than 0x2 close. */
static ck_status_t unsubscribe_flags(ck_ctx_t *x, uint8_t first)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_str(&b, ck_topic(x, "t"));
    return closes_on(x, first, &b);
}

static ck_status_t unsubscribe_flags0(ck_ctx_t *x) { return unsubscribe_flags(x, 0xA0); }
static ck_status_t unsubscribe_flags3(ck_ctx_t *x) { return unsubscribe_flags(x, 0xA3); }

/* MQTT-3.10.3-1: filters are UTF-8. */
static ck_status_t unsubscribe_bad_utf8(ck_ctx_t *x)
{
    static const uint8_t f[] = {'a', '/', 0xFF};
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_u16(&b, sizeof(f));
    ck_b_raw(&b, f, sizeof(f));
    return closes_on(x, 0xA2, &b);
}

/* MQTT-3.10.3-2: at least one filter. */
static ck_status_t unsubscribe_empty(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    return closes_on(x, 0xA2, &b);
}

/* MQTT-3.10.4-1: compared character by character, not matched. */
static ck_status_t unsub_exact(ck_ctx_t *x, bool remove_wild)
{
    NAME(base, ck_topic(x, "u"));
    char wild[200], exact[200], other[200];
    join(wild, sizeof(wild), base, "/+");
    join(exact, sizeof(exact), base, "/a");
    join(other, sizeof(other), base, "/b");
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, wild, 1) || !subscribe(x, s, exact, 1) ||
        !unsubscribe(x, s, 2, remove_wild ? wild : exact))
        return CK_FAIL;
    /* Still subscribed: exactly one of the two filters. */
    if (!publish(x, p, exact, "a", 1, false, 1) || !got(x, s, exact, "a", 1, 0) ||
        !publish(x, p, other, "b", 1, false, 2))
        return CK_FAIL;
    if (remove_wild)
        return nothing(x, s, "'+' was unsubscribed; only the exact filter remains") ? CK_PASS
                                                                                    : CK_FAIL;
    return got(x, s, other, "b", 1, 0) && nothing(x, s, "one subscription left") ? CK_PASS
                                                                                 : CK_FAIL;
}

static ck_status_t unsub_wild_keeps_exact(ck_ctx_t *x) { return unsub_exact(x, true); }
static ck_status_t unsub_exact_keeps_wild(ck_ctx_t *x) { return unsub_exact(x, false); }

/* MQTT-3.10.4-2: no new messages after the UNSUBACK. */
static ck_status_t unsub_stops(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    return s && p && subscribe(x, s, t, 1) && publish(x, p, t, "a", 1, false, 1) &&
                   got(x, s, t, "a", 1, 0) && unsubscribe(x, s, 2, t) &&
                   publish(x, p, t, "b", 1, false, 2) && publish(x, p, t, "c", 0, false, 0) &&
                   nothing(x, s, "unsubscribed")
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-3.10.4-3: a QoS 2 delivery started before UNSUBSCRIBE completes. */
static ck_status_t unsub_completes_q2(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 2) || !publish(x, p, t, "m", 2, false, 1))
        return CK_FAIL;
    want_t w = {t, "m", 2, 0, 0};
    ck_packet_t pk;
    if (!expect_msg(x, s, &w, &pk))
        return CK_FAIL;
    uint16_t id = pk.p.u.publish.packet_id;
    return unsubscribe(x, s, 2, t) && ck_send_ack(s, MQ_PKT_PUBREC, id) &&
                   expect_ack(x, s, MQ_PKT_PUBREL, id) && ck_send_ack(s, MQ_PKT_PUBCOMP, id)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-3.10.4-3: a QoS 1 delivery started before UNSUBSCRIBE is still
 * owed: re-sent after a reconnect when it was never acknowledged. */
static ck_status_t unsub_completes_q1(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    NAME(id, ck_client_id(x, "s"));
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *s = ck_connected_with(x, &o, NULL);
    ck_client_t *p = ck_connected(x, "pub", true);
    want_t w = {t, "m", 1, 0, 0};
    ck_packet_t pk;
    if (s && p && subscribe(x, s, t, 1) && publish(x, p, t, "m", 1, false, 1) &&
        expect_msg(x, s, &w, &pk)) {
        uint16_t pid = pk.p.u.publish.packet_id;
        if (unsubscribe(x, s, 2, t)) {
            ck_close(s);
            s = ck_connected_with(x, &o, NULL);
            want_t w2 = {t, "m", 1, 0, 1};
            if (s && expect_msg(x, s, &w2, &pk)) {
                if (pk.p.u.publish.packet_id != pid)
                    ck_fail(x, "re-sent with id %u, first sent with %u", pk.p.u.publish.packet_id,
                            pid);
                else if (ck_send_ack(s, MQ_PKT_PUBACK, pid) && nothing(x, s, "unsubscribed"))
                    st = CK_PASS;
            }
        }
    }
    ck_clear_session(x, id, V);
    return st;
}

/* MQTT-3.10.4-4: UNSUBACK = b0 02 id. */
static ck_status_t unsuback_bytes(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *c = ck_connected(x, "c", true);
    return c && subscribe(x, c, t, 1) && unsubscribe(x, c, 0x1357, t) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.10.4-5: UNSUBACK even when nothing was subscribed. */
static ck_status_t unsuback_no_match(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "t"));
    char f[200];
    join(f, sizeof(f), base, "/+/#");
    ck_client_t *c = ck_connected(x, "c", true);
    return c && unsubscribe(x, c, 0x2468, base) && unsubscribe(x, c, 0x2469, f) ? CK_PASS
                                                                                : CK_FAIL;
}

/* MQTT-3.10.4-6: several filters: each removed, one UNSUBACK. */
static ck_status_t unsubscribe_many(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "m"));
    char f[3][200];
    const char *fs[3];
    for (int i = 0; i < 3; i++) {
        snprintf(f[i], sizeof(f[i]), "%s/%d", base, i);
        fs[i] = f[i];
    }
    static const uint8_t q[3] = {1, 1, 1};
    uint8_t codes[3];
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    /* Unsubscribes 0 and 2 (and a filter never subscribed) in one packet. */
    const char *un[3] = {f[0], f[2], base};
    if (!s || !p || !subscribe_n(x, s, 1, fs, q, 3, codes) || !unsubscribe_n(x, s, 0x0C0D, un, 3) ||
        !nothing(x, s, "one UNSUBACK"))
        return CK_FAIL;
    for (int i = 0; i < 3; i++)
        if (!publish(x, p, f[i], "m", 1, false, (uint16_t)(i + 1)))
            return CK_FAIL;
    return got(x, s, f[1], "m", 1, 0) && nothing(x, s, "two filters unsubscribed") ? CK_PASS
                                                                                   : CK_FAIL;
}

/* ---- 4.3 QoS flows ---------------------------------------------------------------- */

/* MQTT-4.3.1-1: QoS 0 delivery: first byte 0x30 (QoS 0, DUP 0). */
static ck_status_t flow_q0(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 0) || !publish(x, p, t, "m", 0, false, 0))
        return CK_FAIL;
    want_t w = {t, "m", 0, 0, 0};
    ck_packet_t pk;
    return expect_msg(x, s, &w, &pk) && nothing(x, s, "QoS 0: one delivery") ? CK_PASS : CK_FAIL;
}

/* MQTT-4.3.2-1: QoS 1 delivery: DUP 0, an id; unacknowledged until PUBACK
 * (re-sent after reconnecting), not re-sent once acknowledged. */
static ck_status_t flow_q1_sender(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    NAME(id, ck_client_id(x, "s"));
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *s = ck_connected_with(x, &o, NULL);
    ck_client_t *p = ck_connected(x, "pub", true);
    ck_packet_t pk;
    want_t wa = {t, "acked", 1, 0, 0}, wb = {t, "open", 1, 0, 0};
    if (s && p && subscribe(x, s, t, 1) && publish(x, p, t, "acked", 1, false, 1) &&
        expect_msg(x, s, &wa, &pk) && ck_send_ack(s, MQ_PKT_PUBACK, pk.p.u.publish.packet_id) &&
        publish(x, p, t, "open", 1, false, 2) && expect_msg(x, s, &wb, &pk)) {
        uint16_t pid = pk.p.u.publish.packet_id;
        if (ck_ping(x, s)) {
            ck_close(s);
            s = ck_connected_with(x, &o, NULL);
            want_t w2 = {t, "open", 1, 0, 1};
            if (s && expect_msg(x, s, &w2, &pk)) {
                if (pk.p.u.publish.packet_id != pid)
                    ck_fail(x, "re-sent with id %u, first sent with %u",
                            pk.p.u.publish.packet_id, pid);
                else if (ck_send_ack(s, MQ_PKT_PUBACK, pid) &&
                         nothing(x, s, "the acknowledged message is not re-sent"))
                    st = CK_PASS;
            }
        }
    }
    ck_clear_session(x, id, V);
    return st;
}

/* MQTT-4.3.2-2: after PUBACK, the same id is a new publication, DUP or not. */
static ck_status_t flow_q1_reuse(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 1) || !publish(x, p, t, "one", 1, false, 7))
        return CK_FAIL;
    return send_pub(p, t, "two", 1, false, true, 7) && expect_ack(x, p, MQ_PKT_PUBACK, 7) &&
                   got(x, s, t, "one", 1, 0) && got(x, s, t, "two", 1, 0)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.3.3-1: QoS 2 delivery: DUP 0, PUBREL with the same id after PUBREC. */
static ck_status_t flow_q2_sender(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 2) || !publish(x, p, t, "m", 2, false, 1))
        return CK_FAIL;
    want_t w = {t, "m", 2, 0, 0};
    ck_packet_t pk;
    if (!expect_msg(x, s, &w, &pk))
        return CK_FAIL;
    uint16_t id = pk.p.u.publish.packet_id;
    /* Unacknowledged: no PUBREL before the PUBREC. */
    return nothing(x, s, "no PUBREL before PUBREC") && ck_send_ack(s, MQ_PKT_PUBREC, id) &&
                   expect_ack(x, s, MQ_PKT_PUBREL, id) && ck_send_ack(s, MQ_PKT_PUBCOMP, id) &&
                   nothing(x, s, "flow complete")
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.3.3-1: once PUBREL is sent, the PUBLISH is never re-sent: after a
 * reconnect, the PUBREL is. */
static ck_status_t flow_q2_no_publish_after_pubrel(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    NAME(id, ck_client_id(x, "s"));
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *s = ck_connected_with(x, &o, NULL);
    ck_client_t *p = ck_connected(x, "pub", true);
    want_t w = {t, "m", 2, 0, 0};
    ck_packet_t pk;
    if (s && p && subscribe(x, s, t, 2) && publish(x, p, t, "m", 2, false, 1) &&
        expect_msg(x, s, &w, &pk)) {
        uint16_t pid = pk.p.u.publish.packet_id;
        if (ck_send_ack(s, MQ_PKT_PUBREC, pid) && expect_ack(x, s, MQ_PKT_PUBREL, pid)) {
            ck_close(s);
            s = ck_connected_with(x, &o, NULL);
            if (s && expect_ack(x, s, MQ_PKT_PUBREL, pid) && ck_send_ack(s, MQ_PKT_PUBCOMP, pid) &&
                nothing(x, s, "flow complete"))
                st = CK_PASS;
        }
    }
    ck_clear_session(x, id, V);
    return st;
}

/* MQTT-4.3.3-2: a PUBLISH re-sent before PUBREL: PUBREC again, one delivery. */
static ck_status_t flow_q2_dup_before_pubrel(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 2))
        return CK_FAIL;
    return send_pub(p, t, "m", 2, false, false, 9) && expect_ack(x, p, MQ_PKT_PUBREC, 9) &&
                   send_pub(p, t, "m", 2, false, true, 9) && expect_ack(x, p, MQ_PKT_PUBREC, 9) &&
                   ck_send_ack(p, MQ_PKT_PUBREL, 9) && expect_ack(x, p, MQ_PKT_PUBCOMP, 9) &&
                   got(x, s, t, "m", 2, 0) && nothing(x, s, "exactly once")
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.3.3-2: PUBREL answered by PUBCOMP with the same id ... */
static ck_status_t flow_q2_pubcomp(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    return send_pub(c, ck_topic(x, "t"), "x", 2, false, false, 0x4321) &&
                   expect_ack(x, c, MQ_PKT_PUBREC, 0x4321) &&
                   ck_send_ack(c, MQ_PKT_PUBREL, 0x4321) && expect_ack(x, c, MQ_PKT_PUBCOMP, 0x4321)
               ? CK_PASS
               : CK_FAIL;
}

/* ... also a PUBREL whose PUBLISH the receiver no longer knows (a repeat). */
static ck_status_t flow_q2_pubrel_repeat(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    return send_pub(c, ck_topic(x, "t"), "x", 2, false, false, 0x55) &&
                   expect_ack(x, c, MQ_PKT_PUBREC, 0x55) && ck_send_ack(c, MQ_PKT_PUBREL, 0x55) &&
                   expect_ack(x, c, MQ_PKT_PUBCOMP, 0x55) && ck_send_ack(c, MQ_PKT_PUBREL, 0x55) &&
                   expect_ack(x, c, MQ_PKT_PUBCOMP, 0x55)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.3.3-2: after PUBCOMP, the same id is a new publication. */
static ck_status_t flow_q2_reuse(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    return s && p && subscribe(x, s, t, 2) && publish(x, p, t, "one", 2, false, 11) &&
                   publish(x, p, t, "two", 2, false, 11) && got(x, s, t, "one", 2, 0) &&
                   got(x, s, t, "two", 2, 0) && nothing(x, s, "two messages")
               ? CK_PASS
               : CK_FAIL;
}

/* ---- 4.5 --------------------------------------------------------------------------- */

/* MQTT-4.5.0-1: every client with a matching subscription gets the message. */
static ck_status_t every_subscriber(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, "e"));
    char t[200], f1[200], f2[200], no[200];
    join(t, sizeof(t), base, "/a/b");
    join(f1, sizeof(f1), base, "/+/b");
    join(f2, sizeof(f2), base, "/#");
    join(no, sizeof(no), base, "/b/+");
    ck_client_t *s1 = ck_connected(x, "s1", true);
    ck_client_t *s2 = ck_connected(x, "s2", true);
    ck_client_t *s3 = ck_connected(x, "s3", true);
    ck_client_t *s4 = ck_connected(x, "s4", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    return s1 && s2 && s3 && s4 && p && subscribe(x, s1, t, 1) && subscribe(x, s2, f1, 2) &&
                   subscribe(x, s3, f2, 0) && subscribe(x, s4, no, 1) &&
                   publish(x, p, t, "m", 1, false, 1) && got(x, s1, t, "m", 1, 0) &&
                   got(x, s2, t, "m", 1, 0) && got(x, s3, t, "m", 0, 0) &&
                   nothing(x, s4, "a filter that does not match")
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.5.0-1: ... including a disconnected persistent session. */
static ck_status_t offline_session(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    NAME(id, ck_client_id(x, "s"));
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *s = ck_connected_with(x, &o, NULL);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (s && p && subscribe(x, s, t, 1)) {
        ck_disconnect(s);
        /* The broker must have seen the DISCONNECT before the publish. */
        ck_client_t *probe = ck_connected(x, "probe", true);
        if (probe && ck_ping(x, probe) && publish(x, p, t, "queued", 1, false, 1)) {
            /* DUP may be 1 if the broker had sent it before it saw the
             * DISCONNECT: the message is then still owed. */
            s = ck_connected_with(x, &o, NULL);
            want_t w = {t, "queued", 1, 0, -1};
            ck_packet_t pk;
            if (s && expect_msg(x, s, &w, &pk) &&
                ck_send_ack(s, MQ_PKT_PUBACK, pk.p.u.publish.packet_id))
                st = CK_PASS;
        }
    }
    ck_clear_session(x, id, V);
    return st;
}

/* ---- 4.6 ordering -------------------------------------------------------------------- */

/* MQTT-4.6.0-1: re-sent PUBLISHes come in their original order. */
static ck_status_t order_resend(ck_ctx_t *x)
{
    NAME(t, ck_topic(x, "t"));
    NAME(id, ck_client_id(x, "s"));
    enum { N = 5 };
    ck_status_t st = CK_FAIL;
    ck_connect_opts_t o = {.client_id = id, .clean = false};
    ck_client_t *s = ck_connected_with(x, &o, NULL);
    ck_client_t *p = ck_connected(x, "pub", true);
    uint16_t ids[N];
    if (!s || !p || !subscribe(x, s, t, 1))
        goto out;
    for (int i = 0; i < N; i++) {
        char pl[4];
        snprintf(pl, sizeof(pl), "%d", i);
        if (!publish(x, p, t, pl, 1, false, (uint16_t)(i + 1)))
            goto out;
    }
    for (int i = 0; i < N; i++) {
        char pl[4];
        snprintf(pl, sizeof(pl), "%d", i);
        want_t w = {t, pl, 1, 0, 0};
        ck_packet_t pk;
        if (!expect_msg(x, s, &w, &pk))
            goto out;
        ids[i] = pk.p.u.publish.packet_id;
    }
    ck_close(s);
    s = ck_connected_with(x, &o, NULL);
    if (!s)
        goto out;
    for (int i = 0; i < N; i++) {
        char pl[4];
        snprintf(pl, sizeof(pl), "%d", i);
        want_t w = {t, pl, 1, 0, 1};
        ck_packet_t pk;
        if (!expect_msg(x, s, &w, &pk))
            goto out;
        if (pk.p.u.publish.packet_id != ids[i]) {
            ck_fail(x, "re-sent message %d has id %u, first sent with %u", i,
                    pk.p.u.publish.packet_id, ids[i]);
            goto out;
        }
        ck_send_ack(s, MQ_PKT_PUBACK, ids[i]);
    }
    st = nothing(x, s, "all re-sent") ? CK_PASS : CK_FAIL;
out:
    ck_clear_session(x, id, V);
    return st;
}

/* MQTT-4.6.0-2 / -3: PUBACKs / PUBRECs in the order of the PUBLISHes. */
static ck_status_t order_acks(ck_ctx_t *x, uint8_t qos)
{
    enum { N = 20 };
    NAME(t, ck_topic(x, "t"));
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    ck_buf_t all = CK_BUF;
    for (int i = 0; i < N; i++) {
        ck_buf_t b;
        /* Ids not in numeric order, so that sorting by id cannot pass. */
        uint16_t pid = (uint16_t)(1000 - i * 37);
        ck_build_publish(&b, V, t, "x", 1, qos, false, false, pid, NULL);
        ck_b_raw(&all, b.b, b.n);
    }
    if (!ck_send_buf(c, &all))
        return CK_FAIL;
    for (int i = 0; i < N; i++) {
        uint16_t pid = (uint16_t)(1000 - i * 37);
        if (!expect_ack(x, c, qos == 1 ? MQ_PKT_PUBACK : MQ_PKT_PUBREC, pid))
            return CK_FAIL;
    }
    if (qos == 2)
        for (int i = 0; i < N; i++) {
            uint16_t pid = (uint16_t)(1000 - i * 37);
            if (!ck_send_ack(c, MQ_PKT_PUBREL, pid) || !expect_ack(x, c, MQ_PKT_PUBCOMP, pid))
                return CK_FAIL;
        }
    return CK_PASS;
}

static ck_status_t order_pubacks(ck_ctx_t *x) { return order_acks(x, 1); }
static ck_status_t order_pubrecs(ck_ctx_t *x) { return order_acks(x, 2); }

/* MQTT-4.6.0-4: the server's PUBRELs follow the order of the PUBRECs. */
static ck_status_t order_pubrels(ck_ctx_t *x)
{
    enum { N = 4 };
    NAME(t, ck_topic(x, "t"));
    ck_client_t *s = ck_connected(x, "sub", true);
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!s || !p || !subscribe(x, s, t, 2))
        return CK_FAIL;
    uint16_t ids[N];
    for (int i = 0; i < N; i++) {
        char pl[4];
        snprintf(pl, sizeof(pl), "%d", i);
        want_t w = {t, pl, 2, 0, 0};
        ck_packet_t pk;
        if (!publish(x, p, t, pl, 2, false, (uint16_t)(i + 1)) || !expect_msg(x, s, &w, &pk))
            return CK_FAIL;
        ids[i] = pk.p.u.publish.packet_id;
    }
    /* PUBRECs in the order 3 1 0 2. */
    static const int ord[N] = {3, 1, 0, 2};
    ck_buf_t all = CK_BUF;
    for (int i = 0; i < N; i++) {
        ck_buf_t b;
        ck_build_ack(&b, MQ_PKT_PUBREC, ids[ord[i]]);
        ck_b_raw(&all, b.b, b.n);
    }
    if (!ck_send_buf(s, &all))
        return CK_FAIL;
    for (int i = 0; i < N; i++)
        if (!expect_ack(x, s, MQ_PKT_PUBREL, ids[ord[i]]))
            return CK_FAIL;
    for (int i = 0; i < N; i++)
        ck_send_ack(s, MQ_PKT_PUBCOMP, ids[ord[i]]);
    return nothing(x, s, "flows complete") ? CK_PASS : CK_FAIL;
}

/*
 * MQTT-4.6.0-5 / -6: messages from one client on one topic at one QoS reach
 * each subscriber in the order they were sent. The publisher pipelines
 * them, then completes the flows.
 */
static ck_status_t order_delivery(ck_ctx_t *x, uint8_t qos, int nsubs, bool wildcard, int n)
{
    enum { N_MAX = 30 };
    const int N = n < N_MAX ? n : N_MAX;
    NAME(t, ck_topic(x, "t"));
    char f[200];
    join(f, sizeof(f), t, "");
    if (wildcard) {
        char *slash = strrchr(f, '/');
        if (slash)
            snprintf(slash, sizeof(f) - (size_t)(slash - f), "/+");
    }
    ck_client_t *s[3] = {NULL, NULL, NULL};
    for (int k = 0; k < nsubs; k++) {
        char sfx[16];
        snprintf(sfx, sizeof(sfx), "s%d", k);
        s[k] = ck_connected(x, sfx, true);
        if (!s[k] || !subscribe(x, s[k], f, qos))
            return CK_FAIL;
    }
    ck_client_t *p = ck_connected(x, "pub", true);
    if (!p)
        return CK_FAIL;
    ck_buf_t all = CK_BUF;
    for (int i = 0; i < N; i++) {
        char pl[8];
        snprintf(pl, sizeof(pl), "%d", i);
        ck_buf_t b;
        ck_build_publish(&b, V, t, pl, strlen(pl), qos, false, false, (uint16_t)(i + 1), NULL);
        ck_b_raw(&all, b.b, b.n);
    }
    if (!ck_send_buf(p, &all))
        return CK_FAIL;
    if (qos == 0) {
        if (!ck_ping(x, p))
            return CK_FAIL;
    } else {
        for (int i = 0; i < N; i++) {
            if (qos == 1 ? !expect_ack(x, p, MQ_PKT_PUBACK, (uint16_t)(i + 1))
                         : !expect_ack(x, p, MQ_PKT_PUBREC, (uint16_t)(i + 1)))
                return CK_FAIL;
        }
        for (int i = 0; qos == 2 && i < N; i++)
            if (!ck_send_ack(p, MQ_PKT_PUBREL, (uint16_t)(i + 1)) ||
                !expect_ack(x, p, MQ_PKT_PUBCOMP, (uint16_t)(i + 1)))
                return CK_FAIL;
    }
    for (int k = 0; k < nsubs; k++)
        for (int i = 0; i < N; i++) {
            char pl[8];
            snprintf(pl, sizeof(pl), "%d", i);
            if (!got(x, s[k], t, pl, qos, 0))
                return CK_FAIL;
        }
    return CK_PASS;
}

/* 16 messages: fewer than common in-flight windows, so that these cases
 * test ordering only. */
static ck_status_t order_q0(ck_ctx_t *x) { return order_delivery(x, 0, 1, false, 16); }
static ck_status_t order_q1(ck_ctx_t *x) { return order_delivery(x, 1, 1, false, 16); }
static ck_status_t order_q2(ck_ctx_t *x) { return order_delivery(x, 2, 1, false, 16); }
static ck_status_t order_many_subs(ck_ctx_t *x) { return order_delivery(x, 1, 3, false, 16); }
static ck_status_t order_wildcard(ck_ctx_t *x) { return order_delivery(x, 1, 1, true, 16); }

/* MQTT-4.3.3-2: a PUBREC means the receiver accepted ownership: 30
 * pipelined QoS 2 messages (3.1.1 has no Receive Maximum) are all
 * delivered, none dropped. */
static ck_status_t flow_q2_pipelined(ck_ctx_t *x) { return order_delivery(x, 2, 1, false, 30); }

/* ---- 4.7 topic names and filters ------------------------------------------------------ */

/* MQTT-4.7.1-1: a wildcard in a PUBLISH topic name closes the connection. */
static ck_status_t name_with_wildcard(ck_ctx_t *x) { return topic_wildcard(x, "/+/x"); }

/* MQTT-4.7.1-2: '#' matches the parent and any number of levels. */
static ck_status_t hash_matches(ck_ctx_t *x)
{
    NAME(b, ck_topic(x, "h"));
    char f[200], t[6][200];
    join(f, sizeof(f), b, "/#");
    join(t[0], 200, b, "");
    join(t[1], 200, b, "/a");
    join(t[2], 200, b, "/a/b/c");
    join(t[3], 200, b, "/");
    join(t[4], 200, b, "x");
    join(t[5], 200, b, "x/a");
    const char *ts[6] = {t[0], t[1], t[2], t[3], t[4], t[5]};
    static const bool m[6] = {true, true, true, true, false, false};
    return matching(x, f, ts, m, 6, NULL);
}

/* MQTT-4.7.1-2: '#' alone matches every topic (of this case; other
 * traffic is ignored). */
static ck_status_t hash_alone(ck_ctx_t *x)
{
    NAME(b, ck_topic(x, "h"));
    char t[3][200];
    join(t[0], 200, b, "");
    join(t[1], 200, b, "/a/b");
    join(t[2], 200, "/", b);
    const char *ts[3] = {t[0], t[1], t[2]};
    static const bool m[3] = {true, true, true};
    return matching(x, "#", ts, m, 3, b);
}

static ck_status_t bad_filter(ck_ctx_t *x, const char *suffix)
{
    char f[200];
    join(f, sizeof(f), ck_topic(x, "f"), suffix);
    return filter_refused(x, f, (uint16_t)strlen(f));
}

static ck_status_t bad_hash_middle(ck_ctx_t *x) { return bad_filter(x, "/#/b"); }
static ck_status_t bad_hash_suffix(ck_ctx_t *x) { return bad_filter(x, "/a#"); }
static ck_status_t bad_hash_prefix(ck_ctx_t *x)
{
    char f[200];
    join(f, sizeof(f), "#", ck_topic(x, "f"));
    return filter_refused(x, f, (uint16_t)strlen(f));
}
static ck_status_t bad_plus_suffix(ck_ctx_t *x) { return bad_filter(x, "/a+"); }
static ck_status_t bad_plus_prefix(ck_ctx_t *x) { return bad_filter(x, "/+a/b"); }
static ck_status_t bad_plus_hash(ck_ctx_t *x) { return bad_filter(x, "/+#"); }

/* MQTT-4.7.1-3: '+' matches exactly one level, an empty one too. */
static ck_status_t plus_matches(ck_ctx_t *x)
{
    NAME(b, ck_topic(x, "p"));
    char f[200], t[6][200];
    join(f, sizeof(f), b, "/+");
    join(t[0], 200, b, "/a");
    join(t[1], 200, b, "/");
    join(t[2], 200, b, "");
    join(t[3], 200, b, "/a/b");
    join(t[4], 200, b, "//");
    join(t[5], 200, b, "x/a");
    const char *ts[6] = {t[0], t[1], t[2], t[3], t[4], t[5]};
    static const bool m[6] = {true, true, false, false, false, false};
    return matching(x, f, ts, m, 6, NULL);
}

/* MQTT-4.7.1-3: '+' at the first and the last level, and in the middle. */
static ck_status_t plus_first_last(ck_ctx_t *x)
{
    NAME(b, ck_topic(x, "p"));
    /* b = P/N/p: the filter +/N/+ */
    const char *slash = strchr(b, '/');
    char f[240], mid[200], t[4][240];
    if (!slash)
        return ck_fail(x, "topic '%s' has no level separator", b);
    snprintf(mid, sizeof(mid), "%.*s", (int)(strrchr(b, '/') - slash), slash);
    snprintf(f, sizeof(f), "+%s/+", mid);
    join(t[0], sizeof(t[0]), b, "");
    snprintf(t[1], sizeof(t[1]), "other%s/x", mid);
    snprintf(t[2], sizeof(t[2]), "other%s/x/y", mid);
    snprintf(t[3], sizeof(t[3]), "%s", mid); /* "/N": an empty first level, one level short */
    const char *ts[4] = {t[0], t[1], t[2], t[3]};
    static const bool m[4] = {true, true, false, false};
    return matching(x, f, ts, m, 4, NULL);
}

static ck_status_t plus_then_hash(ck_ctx_t *x)
{
    NAME(b, ck_topic(x, "p"));
    char f[200], t[4][200];
    join(f, sizeof(f), b, "/+/#");
    join(t[0], 200, b, "/a");
    join(t[1], 200, b, "/a/b/c");
    join(t[2], 200, b, "");
    join(t[3], 200, b, "/");
    const char *ts[4] = {t[0], t[1], t[2], t[3]};
    static const bool m[4] = {true, true, false, true};
    return matching(x, f, ts, m, 4, NULL);
}

/* MQTT-4.7.2-1: filters starting with a wildcard never match '$' topics. */
static ck_status_t dollar_not_matched(ck_ctx_t *x, bool hash)
{
    NAME(b, ck_topic(x, "d"));
    char dollar[200], plain[200], f[200];
    snprintf(dollar, sizeof(dollar), "$ck/%s", b);
    snprintf(plain, sizeof(plain), "ck/%s", b);
    snprintf(f, sizeof(f), "+/%s", b);
    const char *ts[2] = {dollar, plain};
    static const bool m[2] = {false, true};
    return matching(x, hash ? "#" : f, ts, m, 2, b);
}

static ck_status_t dollar_hash(ck_ctx_t *x) { return dollar_not_matched(x, true); }
static ck_status_t dollar_plus(ck_ctx_t *x) { return dollar_not_matched(x, false); }

/* MQTT-4.7.2-1 does not stop a filter that starts with '$' itself. */
static ck_status_t dollar_explicit(ck_ctx_t *x)
{
    NAME(b, ck_topic(x, "d"));
    char dollar[200], f[200];
    snprintf(dollar, sizeof(dollar), "$ck/%s", b);
    snprintf(f, sizeof(f), "$ck/%s", b);
    char *last = strrchr(f, '/');
    if (last)
        snprintf(last, sizeof(f) - (size_t)(last - f), "/+");
    const char *ts[1] = {dollar};
    static const bool m[1] = {true};
    return matching(x, f, ts, m, 1, NULL);
}

/* MQTT-4.7.3-1: empty topic names and filters are invalid. */
static ck_status_t empty_topic_name(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    raw_topic_publish(&b, "", 0, 1);
    return closes_on(x, 0x32, &b);
}

static ck_status_t empty_filter(ck_ctx_t *x) { return filter_refused(x, "", 0); }

static ck_status_t empty_unsub_filter(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_u16(&b, 0);
    return closes_on(x, 0xA2, &b);
}

/* MQTT-4.7.3-1: "/" alone is a valid (two empty levels) topic. */
static ck_status_t slash_only(ck_ctx_t *x)
{
    static const char *const ts[1] = {"/"};
    static const bool m[1] = {true};
    return matching(x, "/", ts, m, 1, NULL);
}

/* MQTT-4.7.3-2: U+0000 in a topic name or filter. */
static ck_status_t nul_topic_name(ck_ctx_t *x)
{
    char t[200];
    join(t, sizeof(t), ck_topic(x, "n"), "/a");
    size_t n = strlen(t);
    t[n - 2] = '\0';
    ck_buf_t b = CK_BUF;
    raw_topic_publish(&b, t, (uint16_t)n, 0);
    return closes_on(x, 0x30, &b);
}

static ck_status_t nul_filter(ck_ctx_t *x)
{
    char f[200];
    join(f, sizeof(f), ck_topic(x, "n"), "/a");
    size_t n = strlen(f);
    f[n - 2] = '\0';
    return filter_refused(x, f, (uint16_t)n);
}

/* MQTT-4.7.3-4: no normalization: each pair is two different topics. */
static ck_status_t distinct(ck_ctx_t *x, const char *sa, const char *sb)
{
    NAME(b, ck_topic(x, "z"));
    char ta[200], tb[200];
    join(ta, sizeof(ta), b, sa);
    join(tb, sizeof(tb), b, sb);
    const char *ts[2] = {ta, tb};
    static const bool m[2] = {true, false};
    return matching(x, ta, ts, m, 2, NULL);
}

static ck_status_t case_sensitive(ck_ctx_t *x) { return distinct(x, "/ACCOUNTS", "/Accounts"); }
static ck_status_t spaces(ck_ctx_t *x) { return distinct(x, "/Accounts payable", "/Accountspayable"); }
static ck_status_t trailing_slash(ck_ctx_t *x) { return distinct(x, "/finance/", "/finance"); }
static ck_status_t double_slash(ck_ctx_t *x) { return distinct(x, "/a//b", "/a/b"); }
static ck_status_t unicode_nfc(ck_ctx_t *x) { return distinct(x, "/caf\xc3\xa9", "/cafe\xcc\x81"); }

static ck_status_t leading_slash(ck_ctx_t *x)
{
    NAME(b, ck_topic(x, "z"));
    char ta[200];
    join(ta, sizeof(ta), "/", b);
    const char *ts[2] = {ta, b};
    static const bool m[2] = {true, false};
    return matching(x, ta, ts, m, 2, NULL);
}

/* ---- the table ----------------------------------------------------------------------- */

static const ck_case_t cases[] = {
    {"MQTT-2.3.1-1", 4, "SUBSCRIBE with packet id 0: connection closed", pid_zero_subscribe},
    {"MQTT-2.3.1-1", 4, "UNSUBSCRIBE with packet id 0: connection closed", pid_zero_unsubscribe},
    {"MQTT-2.3.1-1", 4, "QoS 1 PUBLISH with packet id 0: connection closed", pid_zero_publish_q1},
    {"MQTT-2.3.1-1", 4, "QoS 2 PUBLISH with packet id 0: connection closed", pid_zero_publish_q2},
    {"MQTT-2.3.1-4", 4, "unacknowledged QoS 1 deliveries have distinct non-zero ids",
     pid_inflight_distinct_q1},
    {"MQTT-2.3.1-4", 4, "unacknowledged QoS 2 deliveries have distinct non-zero ids",
     pid_inflight_distinct_q2},
    {"MQTT-2.3.1-4", 4, "a re-sent PUBLISH keeps its packet id", pid_resend_same},
    {"MQTT-2.3.1-5", 4, "QoS 0 delivery has no packet id (exact bytes)", pid_none_qos0},
    {"MQTT-2.3.1-6", 4, "PUBACK = 40 02 id of the PUBLISH", pid_puback},
    {"MQTT-2.3.1-6", 4, "PUBREC = 50 02 id of the PUBLISH", pid_pubrec},
    {"MQTT-2.3.1-6", 4, "server's PUBREL = 62 02 id of its PUBLISH", pid_server_pubrel},
    {"MQTT-2.3.1-7", 4, "SUBACK carries the SUBSCRIBE's id", pid_suback},
    {"MQTT-2.3.1-7", 4, "UNSUBACK carries the UNSUBSCRIBE's id", pid_unsuback},
    {"MQTT-3.3.1-1", 4, "QoS 1 re-delivery after reconnect has DUP=1", dup_redelivery_q1},
    {"MQTT-3.3.1-1", 4, "QoS 2 re-delivery after reconnect has DUP=1", dup_redelivery_q2},
    {"MQTT-3.3.1-2", 4, "PUBLISH with DUP=1 and QoS 0: closed, or forwarded with DUP=0", dup_qos0},
    {"MQTT-3.3.1-2", 4, "QoS 0 delivery of a DUP=1 QoS 1 message has DUP=0", dup_zero_on_downgrade},
    {"MQTT-3.3.1-3", 4, "incoming DUP of a QoS 1 PUBLISH not propagated", dup_not_propagated_q1},
    {"MQTT-3.3.1-3", 4, "incoming DUP of a QoS 2 PUBLISH not propagated", dup_not_propagated_q2},
    {"MQTT-3.3.1-4", 4, "PUBLISH with QoS 3: closed, not delivered", qos3_closes},
    {"MQTT-3.3.1-4", 4, "retained PUBLISH with QoS 3: closed, not stored", qos3_retain_closes},
    {"MQTT-3.3.1-5", 4, "retained QoS 1 message delivered to a later subscriber", retained_q1},
    {"MQTT-3.3.1-5", 4, "retained QoS 2 message delivered at QoS 2", retained_q2},
    {"MQTT-3.3.1-5", 4, "retained QoS 2 message to a QoS 1 subscription: QoS 1", retained_q2_sub1},
    {"MQTT-3.3.1-5", 4, "retained QoS 1 message to a QoS 2 subscription: QoS 1", retained_q1_sub2},
    {"MQTT-3.3.1-6", 4, "new subscription gets the retained message of each matching topic",
     retained_each_topic},
    {"MQTT-3.3.1-6", 4, "only the last retained message of a topic is sent", retained_last_only},
    {"MQTT-3.3.1-7", 4, "QoS 0 retained message discards the previous one", retained_qos0_replaces},
    {"MQTT-3.3.1-8", 4, "message sent for a new subscription has RETAIN=1",
     retained_flag_on_subscribe},
    {"MQTT-3.3.1-9", 4, "retained QoS 0 publish forwarded to a subscriber with RETAIN=0",
     retain_forward_q0},
    {"MQTT-3.3.1-9", 4, "retained QoS 2 publish forwarded to a subscriber with RETAIN=0",
     retain_forward_q2},
    {"MQTT-3.3.1-10", 4, "zero-byte retained publish delivered to current subscribers",
     retained_empty_forwarded},
    {"MQTT-3.3.1-10", 4, "zero-byte retained publish removes the retained message",
     retained_empty_clears},
    {"MQTT-3.3.1-11", 4, "zero-byte retained message is not stored", retained_empty_not_stored},
    {"MQTT-3.3.1-12", 4, "RETAIN=0 message is not stored", retain0_not_stored},
    {"MQTT-3.3.1-12", 4, "RETAIN=0 message does not replace the retained one", retain0_no_replace},
    {"MQTT-3.3.1-12", 4, "RETAIN=0 zero-byte message does not remove the retained one",
     retain0_no_remove},
    {"MQTT-3.3.2-1", 4, "topic name with ill-formed UTF-8: closed", topic_bad_utf8},
    {"MQTT-3.3.2-1", 4, "topic name with a UTF-16 surrogate: closed", topic_surrogate},
    {"MQTT-3.3.2-1", 4, "topic name longer than the packet: closed", topic_missing},
    {"MQTT-3.3.2-2", 4, "topic name ending in '+': closed, not delivered", topic_plus},
    {"MQTT-3.3.2-2", 4, "topic name ending in '#': closed, not delivered", topic_hash},
    {"MQTT-3.3.2-2", 4, "topic name with '+' inside a level: closed", topic_plus_inside},
    {"MQTT-3.3.2-2", 4, "topic name with '#' inside a level: closed", topic_hash_inside},
    {"MQTT-3.3.2-3", 4, "delivered topic name is the published name, not the filter",
     topic_name_delivered},
    {"MQTT-3.3.4-1", 4, "QoS 0 PUBLISH gets no response", response_qos0},
    {"MQTT-3.3.4-1", 4, "QoS 1 PUBLISH gets one PUBACK", response_qos1},
    {"MQTT-3.3.4-1", 4, "QoS 2 PUBLISH gets PUBREC (and nothing else before PUBREL)",
     response_qos2},
    {"MQTT-3.3.5-1", 4, "overlapping QoS 0 and QoS 2 subscriptions: QoS 2 message at QoS 2",
     overlap_q2},
    {"MQTT-3.3.5-1", 4, "overlapping QoS 0 and QoS 2 subscriptions: QoS 1 message at QoS 1",
     overlap_q1},
    {"MQTT-3.6.1-1", 4, "PUBREL with flags 0x0: connection closed", pubrel_flags0},
    {"MQTT-3.6.1-1", 4, "PUBREL with flags 0x3: connection closed", pubrel_flags3},
    {"MQTT-3.8.1-1", 4, "SUBSCRIBE with flags 0x0: connection closed", subscribe_flags0},
    {"MQTT-3.8.1-1", 4, "SUBSCRIBE with flags 0x6: connection closed", subscribe_flags6},
    {"MQTT-3.8.3-1", 4, "SUBSCRIBE filter with overlong UTF-8: closed", subscribe_utf8_overlong},
    {"MQTT-3.8.3-1", 4, "SUBSCRIBE filter with a UTF-16 surrogate: closed",
     subscribe_utf8_surrogate},
    {"MQTT-3.8.3-3", 4, "SUBSCRIBE without a filter: connection closed", subscribe_empty},
    {"MQTT-3.8.3-4", 4, "SUBSCRIBE requesting QoS 3: connection closed", subscribe_qos3},
    {"MQTT-3.8.3-4", 4, "SUBSCRIBE options with reserved bit 2 set: closed", subscribe_reserved4},
    {"MQTT-3.8.3-4", 4, "SUBSCRIBE options with reserved bit 7 set: closed", subscribe_reserved80},
    {"MQTT-3.8.4-1", 4, "three pipelined SUBSCRIBEs get three SUBACKs", suback_each},
    {"MQTT-3.8.4-2", 4, "SUBACK = 90 03 id granted-QoS", suback_bytes},
    {"MQTT-3.8.4-3", 4, "same filter again at QoS 0 replaces the QoS 2 subscription",
     resubscribe_down},
    {"MQTT-3.8.4-3", 4, "same filter again at QoS 2 replaces the QoS 0 subscription",
     resubscribe_up},
    {"MQTT-3.8.4-3", 4, "same filter again re-sends the retained message", resubscribe_retained},
    {"MQTT-3.8.4-3", 4, "same filter again does not interrupt the flow", resubscribe_flow},
    {"MQTT-3.8.4-4", 4, "three filters: one SUBACK, three subscriptions", subscribe_many},
    {"MQTT-3.8.4-4", 4, "one filter twice in a SUBSCRIBE: the second replaces the first",
     subscribe_same_twice},
    {"MQTT-3.8.4-5", 4, "SUBACK codes are granted QoS no higher than requested, or 0x80",
     suback_granted},
    {"MQTT-3.8.4-6", 4, "QoS 2 message, QoS 0 subscription: delivered at QoS 0", min_q2_s0},
    {"MQTT-3.8.4-6", 4, "QoS 2 message, QoS 1 subscription: delivered at QoS 1", min_q2_s1},
    {"MQTT-3.8.4-6", 4, "QoS 1 message, QoS 0 subscription: delivered at QoS 0", min_q1_s0},
    {"MQTT-3.8.4-6", 4, "QoS 1 message, QoS 2 subscription: delivered at QoS 1", min_q1_s2},
    {"MQTT-3.8.4-6", 4, "QoS 0 message, QoS 2 subscription: delivered at QoS 0", min_q0_s2},
    {"MQTT-3.8.4-6", 4, "QoS 2 message, QoS 2 subscription: delivered at QoS 2", min_q2_s2},
    {"MQTT-3.9.3-1", 4, "SUBACK codes in the order of the filters", suback_order},
    {"MQTT-3.9.3-2", 4, "SUBACK codes only 0x00, 0x01, 0x02 or 0x80", suback_codes},
    {"MQTT-3.10.1-1", 4, "UNSUBSCRIBE with flags 0x0: connection closed", unsubscribe_flags0},
    {"MQTT-3.10.1-1", 4, "UNSUBSCRIBE with flags 0x3: connection closed", unsubscribe_flags3},
    {"MQTT-3.10.3-1", 4, "UNSUBSCRIBE filter with ill-formed UTF-8: closed", unsubscribe_bad_utf8},
    {"MQTT-3.10.3-2", 4, "UNSUBSCRIBE without a filter: connection closed", unsubscribe_empty},
    {"MQTT-3.10.4-1", 4, "unsubscribing 'a/+' leaves 'a/a' (no matching)", unsub_wild_keeps_exact},
    {"MQTT-3.10.4-1", 4, "unsubscribing 'a/a' leaves 'a/+' (no matching)", unsub_exact_keeps_wild},
    {"MQTT-3.10.4-2", 4, "no new messages after UNSUBACK", unsub_stops},
    {"MQTT-3.10.4-3", 4, "QoS 2 delivery in flight completes after UNSUBSCRIBE",
     unsub_completes_q2},
    {"MQTT-3.10.4-3", 4, "QoS 1 delivery in flight still re-sent after UNSUBSCRIBE",
     unsub_completes_q1},
    {"MQTT-3.10.4-4", 4, "UNSUBACK = b0 02 id", unsuback_bytes},
    {"MQTT-3.10.4-5", 4, "UNSUBACK also when no subscription matched", unsuback_no_match},
    {"MQTT-3.10.4-6", 4, "several filters: each removed, one UNSUBACK", unsubscribe_many},
    {"MQTT-4.3.1-1", 4, "QoS 0 delivery: QoS 0, DUP 0, once", flow_q0},
    {"MQTT-4.3.2-1", 4, "QoS 1 delivery: DUP 0, unacknowledged until PUBACK", flow_q1_sender},
    {"MQTT-4.3.2-2", 4, "after PUBACK the same id is a new publication", flow_q1_reuse},
    {"MQTT-4.3.3-1", 4, "QoS 2 delivery: DUP 0, PUBREL only after PUBREC", flow_q2_sender},
    {"MQTT-4.3.3-1", 4, "after PUBREL only the PUBREL is re-sent, never the PUBLISH",
     flow_q2_no_publish_after_pubrel},
    {"MQTT-4.3.3-2", 4, "QoS 2 PUBLISH re-sent before PUBREL: PUBREC again, delivered once",
     flow_q2_dup_before_pubrel},
    {"MQTT-4.3.3-2", 4, "PUBREL answered by PUBCOMP = 70 02 id", flow_q2_pubcomp},
    {"MQTT-4.3.3-2", 4, "repeated PUBREL answered by PUBCOMP again", flow_q2_pubrel_repeat},
    {"MQTT-4.3.3-2", 4, "after PUBCOMP the same id is a new publication", flow_q2_reuse},
    {"MQTT-4.3.3-2", 4, "30 pipelined QoS 2 PUBLISHes: each PUBREC'd one is delivered",
     flow_q2_pipelined},
    {"MQTT-4.5.0-1", 4, "message delivered to every matching subscriber, no other",
     every_subscriber},
    {"MQTT-4.5.0-1", 4, "message kept for a disconnected persistent session", offline_session},
    {"MQTT-4.6.0-1", 4, "re-sent PUBLISHes in their original order", order_resend},
    {"MQTT-4.6.0-2", 4, "PUBACKs in the order of the PUBLISHes", order_pubacks},
    {"MQTT-4.6.0-3", 4, "PUBRECs in the order of the PUBLISHes", order_pubrecs},
    {"MQTT-4.6.0-4", 4, "server's PUBRELs in the order of the PUBRECs", order_pubrels},
    {"MQTT-4.6.0-5", 4, "ordered topic: QoS 1 messages through a wildcard in order",
     order_wildcard},
    {"MQTT-4.6.0-6", 4, "QoS 0 messages from one client delivered in order", order_q0},
    {"MQTT-4.6.0-6", 4, "QoS 1 messages from one client delivered in order", order_q1},
    {"MQTT-4.6.0-6", 4, "QoS 2 messages from one client delivered in order", order_q2},
    {"MQTT-4.6.0-6", 4, "each of three subscribers gets the messages in order", order_many_subs},
    {"MQTT-4.7.1-1", 4, "wildcard in a topic name: closed, not delivered", name_with_wildcard},
    {"MQTT-4.7.1-2", 4, "'a/#' matches a, a/, a/x, a/x/y/z; not ax", hash_matches},
    {"MQTT-4.7.1-2", 4, "'#' alone matches every topic", hash_alone},
    {"MQTT-4.7.1-2", 4, "filter 'a/#/b' refused", bad_hash_middle},
    {"MQTT-4.7.1-2", 4, "filter 'a/b#' refused", bad_hash_suffix},
    {"MQTT-4.7.1-2", 4, "filter '#a/...' refused", bad_hash_prefix},
    {"MQTT-4.7.1-3", 4, "'a/+' matches a/x and a/ only", plus_matches},
    {"MQTT-4.7.1-3", 4, "'+' at the first and the last level", plus_first_last},
    {"MQTT-4.7.1-3", 4, "'a/+/#' matches a/x, a/x/y/z, a/; not a", plus_then_hash},
    {"MQTT-4.7.1-3", 4, "filter 'a/b+' refused", bad_plus_suffix},
    {"MQTT-4.7.1-3", 4, "filter 'a/+b/c' refused", bad_plus_prefix},
    {"MQTT-4.7.1-3", 4, "filter 'a/+#' refused", bad_plus_hash},
    {"MQTT-4.7.2-1", 4, "'#' does not match a topic starting with '$'", dollar_hash},
    {"MQTT-4.7.2-1", 4, "'+/...' does not match a topic starting with '$'", dollar_plus},
    {"MQTT-4.7.2-1", 4, "a filter starting with '$' matches '$' topics", dollar_explicit},
    {"MQTT-4.7.3-1", 4, "PUBLISH with an empty topic name: connection closed", empty_topic_name},
    {"MQTT-4.7.3-1", 4, "SUBSCRIBE with an empty filter refused", empty_filter},
    {"MQTT-4.7.3-1", 4, "UNSUBSCRIBE with an empty filter: connection closed", empty_unsub_filter},
    {"MQTT-4.7.3-1", 4, "'/' alone is a valid topic name and filter", slash_only},
    {"MQTT-4.7.3-2", 4, "topic name with U+0000: connection closed", nul_topic_name},
    {"MQTT-4.7.3-2", 4, "topic filter with U+0000 refused", nul_filter},
    {"MQTT-4.7.3-4", 4, "topics are case sensitive", case_sensitive},
    {"MQTT-4.7.3-4", 4, "spaces in topics are significant", spaces},
    {"MQTT-4.7.3-4", 4, "a leading '/' makes a different topic", leading_slash},
    {"MQTT-4.7.3-4", 4, "a trailing '/' makes a different topic", trailing_slash},
    {"MQTT-4.7.3-4", 4, "an empty level makes a different topic", double_slash},
    {"MQTT-4.7.3-4", 4, "no Unicode normalization (NFC vs NFD)", unicode_nfc},
};

const ck_area_t ck_area_v3_publish = {"3.1.1 publish/subscribe", cases,
                                      sizeof(cases) / sizeof(cases[0])};

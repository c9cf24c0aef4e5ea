/*
 * Cases: MQTT 5.0 publish/subscribe — packet identifiers, PUBLISH (flags,
 * retained messages, Retain Handling / Retain As Published, topic names and
 * Topic Aliases, the forwarded properties, Message Expiry), delivery rules
 * (overlapping subscriptions, Subscription Identifiers, No Local, Maximum
 * Packet Size, Receive Maximum), the acknowledgements and their reason codes,
 * SUBSCRIBE / SUBACK, UNSUBSCRIBE / UNSUBACK, the QoS flows, ordering,
 * topics, shared subscriptions and flow control (OASIS MQTT 5.0 sections
 * 2.2.1, 3.3-3.11, 4.3, 4.4, 4.6-4.9).
 *
 * Owns: nothing beyond each case's clients (freed by the runner).
 * Never: encodes with the codec (every packet sent is built byte by byte),
 * leaves a retained message or a persistent session behind, sleeps longer
 * than an expiry under test.
 *
 * Where the standard leaves a choice (one copy or several for overlapping
 * subscriptions, a DISCONNECT before closing, server-side Topic Aliases) a
 * case accepts every allowed outcome. Optional features the CONNACK declares
 * unavailable (Retain Available, Maximum QoS, Subscription Identifiers,
 * Shared Subscriptions, Topic Alias Maximum) turn the dependent cases into
 * SKIPs.
 *
 * Conventions: publishers and subscribers are separate connections unless
 * the case is about the same connection (No Local); a publish is complete
 * (PUBACK, PUBCOMP, or a PINGRESP after QoS 0) before a later step depends
 * on the broker having processed it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "check.h"

#define V 5 /* every case here is MQTT 5.0 */

/* ck_topic / ck_client_id rotate through a small pool: keep a copy. */
#define NAME(var, expr)                                                                        \
    char var[160];                                                                             \
    snprintf(var, sizeof(var), "%s", (expr))

/* ---- small utilities ------------------------------------------------------ */

/* A short decimal field as a number; -1 when it is not one. */
static int atoi_n(mq_str_t s)
{
    int v = 0;
    for (uint32_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return -1;
        v = v * 10 + (s.ptr[i] - '0');
    }
    return v;
}

/* What the CONNACK said about the optional features (absent = available). */
typedef struct caps {
    uint8_t max_qos;
    bool retain;
    bool wildcard;
    bool sub_ids;
    bool shared;
    uint16_t topic_alias_max;
    uint16_t receive_max;
} caps_t;

static void caps_of(const ck_packet_t *ack, caps_t *c)
{
    const mq_props_t *p = &ack->p.props;
    c->max_qos = mq_props_has(p, MQ_PROP_MAXIMUM_QOS) ? p->maximum_qos : 2;
    c->retain = !mq_props_has(p, MQ_PROP_RETAIN_AVAILABLE) || p->retain_available;
    c->wildcard = !mq_props_has(p, MQ_PROP_WILDCARD_SUB_AVAILABLE) || p->wildcard_sub_available;
    c->sub_ids = !mq_props_has(p, MQ_PROP_SUB_ID_AVAILABLE) || p->sub_id_available;
    c->shared = !mq_props_has(p, MQ_PROP_SHARED_SUB_AVAILABLE) || p->shared_sub_available;
    c->topic_alias_max =
        mq_props_has(p, MQ_PROP_TOPIC_ALIAS_MAXIMUM) ? p->topic_alias_maximum : 0;
    c->receive_max = mq_props_has(p, MQ_PROP_RECEIVE_MAXIMUM) ? p->receive_maximum : 65535;
}

/* ---- connections ---------------------------------------------------------- */

/* A clean connection with a unique id ending in sfx, CONNECT properties
 * props (may be NULL); the CONNACK's capabilities go to *caps (may be NULL). */
static ck_client_t *conn(ck_ctx_t *x, const char *sfx, const ck_buf_t *props, caps_t *caps)
{
    ck_connect_opts_t o = {.client_id = ck_client_id(x, sfx), .clean = true, .props = props};
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, &o, &ack);
    if (c && caps)
        caps_of(&ack, caps);
    return c;
}

/* A connection for a session that outlives it: Session Expiry `expiry`
 * (0 = absent) and extra CONNECT properties. *present gets Session Present. */
static ck_client_t *conn_sess(ck_ctx_t *x, const char *id, bool clean, uint32_t expiry,
                              const ck_buf_t *extra, bool *present)
{
    ck_buf_t pr = CK_BUF;
    if (expiry)
        ck_p_u32(&pr, MQ_PROP_SESSION_EXPIRY, expiry);
    if (extra)
        ck_b_raw(&pr, extra->b, extra->n);
    ck_connect_opts_t o = {.client_id = id, .clean = clean, .props = &pr};
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, &o, &ack);
    if (c && present)
        *present = ack.p.u.connack.session_present;
    return c;
}

/* ---- sending ---------------------------------------------------------------- */

static bool send_pub(ck_client_t *c, const char *topic, const void *payload, size_t len,
                     uint8_t qos, bool retain, bool dup, uint16_t pid, const ck_buf_t *props)
{
    ck_buf_t b;
    ck_build_publish(&b, V, topic, payload, len, qos, retain, dup, pid, props);
    return ck_send_buf(c, &b);
}

/* An acknowledgement with a reason code and an empty property block. */
static bool send_ack_rc(ck_client_t *c, uint8_t type, uint16_t pid, uint8_t rc)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, pid);
    ck_b_u8(&b, rc);
    ck_b_u8(&b, 0);
    return ck_send_packet(c, (uint8_t)((type << 4) | (type == MQ_PKT_PUBREL ? 2 : 0)), &b);
}

/* SUBSCRIBE one filter; returns the reason code, or -1 (failure recorded). */
static int subscribe(ck_ctx_t *x, ck_client_t *c, uint16_t pid, const char *filter,
                     uint8_t options, const ck_buf_t *props)
{
    ck_buf_t b;
    ck_build_subscribe(&b, V, pid, filter, options, props);
    ck_packet_t p;
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p))
        return -1;
    if (p.p.u.sub.packet_id != pid) {
        ck_fail(x, "SUBACK packet id %u, expected %u", p.p.u.sub.packet_id, pid);
        return -1;
    }
    mq_sublist_iter_t it;
    mq_codec_filters_begin(&p.p.u.sub, false, &it);
    int code = mq_codec_reasons_next(&it);
    if (code < 0 || mq_codec_reasons_next(&it) >= 0) {
        ck_fail_bytes(x, "a SUBACK with one reason code", NULL, 0, p.raw, p.len);
        return -1;
    }
    return code;
}

/* SUBSCRIBE that must succeed (granted QoS = want unless want is 0xff). */
static bool subscribed(ck_ctx_t *x, ck_client_t *c, const char *filter, uint8_t options,
                       const ck_buf_t *props, uint8_t want)
{
    int code = subscribe(x, c, 1, filter, options, props);
    if (code < 0)
        return false;
    if (code >= 0x80) {
        ck_fail(x, "SUBACK refused %s (0x%02x)", filter, code);
        return false;
    }
    if (want != 0xff && code != want) {
        ck_fail(x, "SUBACK code 0x%02x for %s, expected 0x%02x", code, filter, want);
        return false;
    }
    return true;
}

/* A clean subscriber (client id ending in sfx: distinct per connection
 * kept open) on filter with options (QoS in the low bits). */
static ck_client_t *subscriber_as(ck_ctx_t *x, const char *sfx, const char *filter,
                                  uint8_t options)
{
    ck_client_t *s = conn(x, sfx, NULL, NULL);
    if (!s || !subscribed(x, s, filter, options, NULL, 0xff))
        return NULL;
    return s;
}

static ck_client_t *subscriber(ck_ctx_t *x, const char *filter, uint8_t options)
{
    return subscriber_as(x, "sub", filter, options);
}

/* ---- receiving --------------------------------------------------------------- */

/* No PUBLISH within ms (PUBRELs of earlier flows are answered). */
static bool no_pub(ck_ctx_t *x, ck_client_t *c, int ms)
{
    ck_packet_t p;
    for (;;) {
        int r = ck_recv(x, c, ms, &p);
        if (r == 0)
            return true;
        if (r == 1 && p.type == MQ_PKT_PUBREL) {
            ck_send_ack(c, MQ_PKT_PUBCOMP, p.p.u.ack.packet_id);
            continue;
        }
        if (r == 1)
            ck_fail_bytes(x, "no PUBLISH", NULL, 0, p.raw, p.len);
        else if (r == -1)
            ck_fail(x, "expected no PUBLISH, the connection closed");
        return false;
    }
}

/* A SUBSCRIBE the broker must refuse: either SUBACK with a code >= 0x80
 * (allowed where the standard names a SUBACK reason code) or a close. */
static ck_status_t sub_refused(ck_ctx_t *x, ck_client_t *c, uint16_t pid, bool suback_ok)
{
    ck_packet_t p;
    int r = ck_recv(x, c, CK_WAIT, &p);
    if (r == -1)
        return CK_PASS;
    if (r == -2)
        return CK_FAIL;
    if (r == 0)
        return ck_fail(x, "expected a refusal, got nothing within %d ms", CK_WAIT);
    if (p.type == MQ_PKT_DISCONNECT) {
        if (p.p.u.disconnect.reason < 0x80)
            return ck_fail_bytes(x, "DISCONNECT >= 0x80", NULL, 0, p.raw, p.len);
        r = ck_recv(x, c, CK_WAIT, &p);
        if (r == -1)
            return CK_PASS;
        if (r == 1)
            return ck_fail_bytes(x, "the close after DISCONNECT", NULL, 0, p.raw, p.len);
        return r == 0 ? ck_fail(x, "DISCONNECT sent but the connection stays open") : CK_FAIL;
    }
    if (p.type == MQ_PKT_SUBACK && suback_ok) {
        mq_sublist_iter_t it;
        mq_codec_filters_begin(&p.p.u.sub, false, &it);
        int code = mq_codec_reasons_next(&it);
        if (p.p.u.sub.packet_id == pid && code >= 0x80)
            return CK_PASS;
        return ck_fail_bytes(x, "SUBACK with a code >= 0x80 or a close", NULL, 0, p.raw, p.len);
    }
    return ck_fail_bytes(x, suback_ok ? "SUBACK >= 0x80, DISCONNECT or a close"
                                      : "DISCONNECT or a close",
                         NULL, 0, p.raw, p.len);
}

/* The values of every property `id` in p, in order; returns how many. */
static size_t prop_nums(const ck_packet_t *p, uint8_t id, uint32_t *out, size_t cap)
{
    mq_props_iter_t it;
    mq_props_begin(&p->p.props, &it);
    uint8_t pid;
    uint32_t num;
    size_t n = 0;
    while (mq_props_next(&it, &pid, &num, NULL, NULL)) {
        if (pid == id && n < cap)
            out[n++] = num;
    }
    return n;
}

/* ==== 2.2.1 Packet Identifier =============================================== */

/* MQTT-2.2.1-2: a QoS 0 PUBLISH has no Packet Identifier: the bytes after
 * the topic are the property length, then exactly the payload. */
static ck_status_t qos0_no_packet_id(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "q0"));
    ck_client_t *s = subscriber(x, topic, 0);
    if (!s || !ck_publish_via(x, topic, "abc", 0, false, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "abc", &p, false))
        return CK_FAIL;
    size_t tl = strlen(topic);
    size_t hl = p.p.fh.header_len;
    /* header, topic length + topic, property length 0, payload */
    if (p.len != hl + 2 + tl + 1 + 3 || p.raw[hl + 2 + tl] != 0 ||
        memcmp(p.raw + hl + 2 + tl + 1, "abc", 3) != 0)
        return ck_fail_bytes(x, "QoS 0 PUBLISH: topic, property length 0, payload", NULL, 0,
                             p.raw, p.len);
    return CK_PASS;
}

/* MQTT-2.2.1-4: unacknowledged QoS 1 deliveries carry distinct non-zero ids. */
static ck_status_t server_ids_unique(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "ids"));
    ck_client_t *s = subscriber(x, topic, 1);
    ck_client_t *pb = conn(x, "pub", NULL, NULL);
    if (!s || !pb)
        return CK_FAIL;
    for (uint16_t i = 1; i <= 5; i++) {
        char pl[8];
        snprintf(pl, sizeof(pl), "m%u", i);
        if (!ck_publish(x, pb, topic, pl, 1, false, i, NULL))
            return CK_FAIL;
    }
    uint16_t ids[5];
    for (int i = 0; i < 5; i++) {
        ck_packet_t p;
        if (!ck_next_pub(x, s, CK_WAIT, &p, false))
            return CK_FAIL;
        ids[i] = p.p.u.publish.packet_id;
        if (ids[i] == 0)
            return ck_fail_bytes(x, "a non-zero Packet Identifier", NULL, 0, p.raw, p.len);
        for (int j = 0; j < i; j++)
            if (ids[j] == ids[i])
                return ck_fail(x, "Packet Identifier %u reused while still unacknowledged",
                               ids[i]);
    }
    return CK_PASS;
}

/* MQTT-2.2.1-5: PUBACK carries the PUBLISH's Packet Identifier. */
static ck_status_t puback_same_id(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c || !send_pub(c, ck_topic(x, "t"), "x", 1, 1, false, false, 0x1234, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_PUBACK, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.packet_id != 0x1234)
        return ck_fail(x, "PUBACK packet id 0x%04x, expected 0x1234", p.p.u.ack.packet_id);
    return CK_PASS;
}

/* MQTT-2.2.1-5: PUBREC and PUBCOMP carry the flow's Packet Identifier. */
static ck_status_t qos2_acks_same_id(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "c", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < 2)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    if (!send_pub(c, ck_topic(x, "t"), "x", 1, 2, false, false, 0xBEEF, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_PUBREC, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.packet_id != 0xBEEF)
        return ck_fail(x, "PUBREC packet id 0x%04x, expected 0xbeef", p.p.u.ack.packet_id);
    if (!ck_send_ack(c, MQ_PKT_PUBREL, 0xBEEF) || !ck_expect(x, c, MQ_PKT_PUBCOMP, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.packet_id != 0xBEEF)
        return ck_fail(x, "PUBCOMP packet id 0x%04x, expected 0xbeef", p.p.u.ack.packet_id);
    return CK_PASS;
}

/* MQTT-2.2.1-6: SUBACK and UNSUBACK carry the request's Packet Identifier. */
static ck_status_t suback_unsuback_same_id(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    NAME(topic, ck_topic(x, "t"));
    if (!c || subscribe(x, c, 0xA55A, topic, 0, NULL) < 0)
        return CK_FAIL;
    ck_buf_t b;
    ck_build_unsubscribe(&b, V, 0x5AA5, topic);
    ck_packet_t p;
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_UNSUBACK, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.sub.packet_id != 0x5AA5)
        return ck_fail(x, "UNSUBACK packet id 0x%04x, expected 0x5aa5", p.p.u.sub.packet_id);
    return CK_PASS;
}

/* ==== 3.3.1 PUBLISH fixed header ============================================ */

/* MQTT-3.3.1-1 / MQTT-4.4.0-1: an unacknowledged QoS 1 message is re-sent
 * with DUP 1 when the session resumes. */
static ck_status_t dup_on_redelivery(ck_ctx_t *x)
{
    NAME(id, ck_client_id(x, "s"));
    NAME(topic, ck_topic(x, "dup"));
    ck_client_t *s = conn_sess(x, id, true, 60, NULL, NULL);
    if (!s || !subscribed(x, s, topic, 1, NULL, 0xff) ||
        !ck_publish_via(x, topic, "again", 1, false, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "again", &p, false))
        return CK_FAIL;
    uint16_t pid = p.p.u.publish.packet_id;
    if (p.p.u.publish.dup)
        return ck_fail_bytes(x, "DUP 0 on the first delivery", NULL, 0, p.raw, p.len);
    ck_close(s); /* no PUBACK */
    ck_status_t st = CK_FAIL;
    s = conn_sess(x, id, false, 60, NULL, NULL);
    if (s && ck_expect_pub(x, s, topic, "again", &p, true)) {
        if (!p.p.u.publish.dup || p.p.u.publish.packet_id != pid)
            ck_fail_bytes(x, "the re-sent PUBLISH with DUP 1 and the same Packet Identifier",
                          NULL, 0, p.raw, p.len);
        else
            st = CK_PASS;
    }
    ck_clear_session(x, id, V);
    return st;
}

/* MQTT-3.3.1-2: a QoS 0 delivery has DUP 0, even from a DUP 1 QoS 1 publish. */
static ck_status_t dup0_for_qos0(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "d0"));
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!s || !c || !send_pub(c, topic, "d", 1, 1, false, true, 3, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "d", &p, true))
        return CK_FAIL;
    if (p.p.u.publish.dup || p.p.u.publish.qos != 0)
        return ck_fail_bytes(x, "a QoS 0 PUBLISH with DUP 0", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.1-3: the incoming DUP flag is not propagated. */
static ck_status_t dup_not_propagated(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "d1"));
    ck_client_t *s = subscriber(x, topic, 1);
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!s || !c || !send_pub(c, topic, "d", 1, 1, false, true, 3, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "d", &p, true))
        return CK_FAIL;
    if (p.p.u.publish.dup)
        return ck_fail_bytes(x, "DUP 0 on a first delivery", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.1-4: QoS 3 is malformed: closed (DISCONNECT 0x81). */
static ck_status_t qos3_closed(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, ck_topic(x, "t"));
    ck_b_u16(&b, 1);
    ck_b_u8(&b, 0);
    ck_b_raw(&b, "x", 1);
    return ck_dropped_on(x, 0x36, &b, MQ_RC_MALFORMED, 0);
}

/* Retained-message cases need Retain Available. */
static ck_client_t *retain_conn(ck_ctx_t *x, ck_status_t *st)
{
    caps_t k;
    ck_client_t *c = conn(x, "rp", NULL, &k);
    *st = CK_FAIL;
    if (c && !k.retain) {
        *st = ck_skip(x, "Retain Available 0");
        return NULL;
    }
    return c;
}

/* MQTT-3.3.1-5: a retained message replaces the previous one; it is sent
 * to a new subscriber with RETAIN 1. */
static ck_status_t retain_replaces(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "r"));
    st = CK_FAIL;
    if (ck_publish(x, c, topic, "first", 1, true, 1, NULL) &&
        ck_publish(x, c, topic, "second", 1, true, 2, NULL)) {
        ck_client_t *s = subscriber(x, topic, 1);
        ck_packet_t p;
        if (s && ck_expect_pub(x, s, topic, "second", &p, true)) {
            if (!p.p.u.publish.retain)
                ck_fail_bytes(x, "RETAIN 1 on a message sent for a new subscription", NULL, 0,
                              p.raw, p.len);
            else if (no_pub(x, s, CK_QUIET))
                st = CK_PASS;
        }
    }
    ck_clear_retained(x, topic);
    return st;
}

/* MQTT-3.3.1-6: a zero-byte retained message removes the retained one. */
static ck_status_t retain_empty_removes(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "r"));
    st = CK_FAIL;
    if (ck_publish(x, c, topic, "kept?", 1, true, 1, NULL) &&
        ck_publish(x, c, topic, "", 1, true, 2, NULL)) {
        ck_client_t *s = subscriber(x, topic, 1);
        if (s && no_pub(x, s, CK_QUIET))
            st = CK_PASS;
    }
    ck_clear_retained(x, topic);
    return st;
}

/* MQTT-3.3.1-6: the zero-byte retained message itself is delivered as
 * normal to current subscribers. */
static ck_status_t retain_empty_forwarded(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "r"));
    ck_client_t *s = subscriber(x, topic, 1);
    st = CK_FAIL;
    if (s && ck_publish(x, c, topic, "", 1, true, 1, NULL) &&
        ck_expect_pub(x, s, topic, "", NULL, true))
        st = CK_PASS;
    ck_clear_retained(x, topic);
    return st;
}

/* MQTT-3.3.1-7: a zero-byte retained message is not stored. */
static ck_status_t retain_empty_not_stored(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "r"));
    if (!ck_publish(x, c, topic, "", 0, true, 0, NULL))
        return CK_FAIL;
    ck_client_t *s = subscriber(x, topic, 0);
    return s && no_pub(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.3.1-8: RETAIN 0 neither stores nor replaces a retained message. */
static ck_status_t retain0_keeps(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "r"));
    st = CK_FAIL;
    if (ck_publish(x, c, topic, "retained", 1, true, 1, NULL) &&
        ck_publish(x, c, topic, "plain", 1, false, 2, NULL)) {
        ck_client_t *s = subscriber(x, topic, 1);
        if (s && ck_expect_pub(x, s, topic, "retained", NULL, true) && no_pub(x, s, CK_QUIET))
            st = CK_PASS;
    }
    ck_clear_retained(x, topic);
    return st;
}

/* Subscribes with Retain Handling rh to a topic holding a retained message
 * and reports whether it arrived (1), did not (0) or the case failed (-1).
 * twice: subscribe once before (with the same options) and count the
 * second subscription only. */
static int retained_on_subscribe(ck_ctx_t *x, const char *topic, uint8_t rh, bool twice)
{
    ck_client_t *s = conn(x, "sub", NULL, NULL);
    if (!s)
        return -1;
    uint8_t opts = (uint8_t)(1 | (rh << 4));
    if (twice) {
        if (!subscribed(x, s, topic, opts, NULL, 0xff))
            return -1;
        ck_packet_t p;
        int r;
        /* drain what the first subscription brought */
        while ((r = ck_recv(x, s, CK_QUIET, &p)) == 1)
            if (p.type == MQ_PKT_PUBLISH && p.p.u.publish.qos)
                ck_send_ack(s, MQ_PKT_PUBACK, p.p.u.publish.packet_id);
        if (r != 0)
            return -1;
    }
    if (!subscribed(x, s, topic, opts, NULL, 0xff))
        return -1;
    ck_packet_t p;
    int r = ck_recv(x, s, CK_QUIET * 2, &p);
    if (r == 0)
        return 0;
    if (r == 1 && p.type == MQ_PKT_PUBLISH && ck_str_is(p.p.u.publish.payload, "kept")) {
        if (!p.p.u.publish.retain) {
            ck_fail_bytes(x, "RETAIN 1 on a retained message sent on subscribe", NULL, 0, p.raw,
                          p.len);
            return -1;
        }
        return 1;
    }
    if (r == 1)
        ck_fail_bytes(x, "the retained PUBLISH or nothing", NULL, 0, p.raw, p.len);
    return -1;
}

static ck_status_t retain_handling(ck_ctx_t *x, uint8_t rh, bool twice, int want)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "rh"));
    st = CK_FAIL;
    if (ck_publish(x, c, topic, "kept", 1, true, 1, NULL)) {
        int got = retained_on_subscribe(x, topic, rh, twice);
        if (got == want)
            st = CK_PASS;
        else if (got >= 0)
            ck_fail(x, "Retain Handling %u%s: the retained message was %s", rh,
                    twice ? " on an existing subscription" : "",
                    got ? "sent" : "not sent within the wait");
    }
    ck_clear_retained(x, topic);
    return st;
}

/* MQTT-3.3.1-9: Retain Handling 0 sends the retained message. */
static ck_status_t rh0_sends(ck_ctx_t *x) { return retain_handling(x, 0, false, 1); }
/* MQTT-3.8.4-4: Retain Handling 0 re-sends it when the subscription is replaced. */
static ck_status_t rh0_resends(ck_ctx_t *x) { return retain_handling(x, 0, true, 1); }
/* MQTT-3.3.1-10: Retain Handling 1 sends it for a new subscription ... */
static ck_status_t rh1_new_sends(ck_ctx_t *x) { return retain_handling(x, 1, false, 1); }
/* ... and not for one that already existed. */
static ck_status_t rh1_existing_not(ck_ctx_t *x) { return retain_handling(x, 1, true, 0); }
/* MQTT-3.3.1-11: Retain Handling 2 never sends it. */
static ck_status_t rh2_not(ck_ctx_t *x) { return retain_handling(x, 2, false, 0); }

/* Live forwarding of a (retained or not) publish to a subscription with
 * Retain As Published rap; want_retain is the RETAIN flag expected. */
static ck_status_t rap_case(ck_ctx_t *x, bool rap, bool retain, bool want_retain)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "rap"));
    ck_client_t *s = conn(x, "sub", NULL, NULL);
    st = CK_FAIL;
    ck_packet_t p;
    if (s && subscribed(x, s, topic, (uint8_t)(1 | (rap ? 0x08 : 0)), NULL, 0xff) &&
        ck_publish(x, c, topic, "live", 1, retain, 1, NULL) &&
        ck_expect_pub(x, s, topic, "live", &p, true)) {
        if (p.p.u.publish.retain != want_retain)
            ck_fail_bytes(x, want_retain ? "RETAIN 1 (Retain As Published)" : "RETAIN 0", NULL,
                          0, p.raw, p.len);
        else
            st = CK_PASS;
    }
    if (retain)
        ck_clear_retained(x, topic);
    return st;
}

/* MQTT-3.3.1-12: Retain As Published 0: forwarded with RETAIN 0. */
static ck_status_t rap0(ck_ctx_t *x) { return rap_case(x, false, true, false); }
/* MQTT-3.3.1-13: Retain As Published 1: RETAIN as received (1 ...). */
static ck_status_t rap1_retained(ck_ctx_t *x) { return rap_case(x, true, true, true); }
/* ... and 0 for a message published without RETAIN. */
static ck_status_t rap1_plain(ck_ctx_t *x) { return rap_case(x, true, false, false); }

/* ==== 3.3.2 Topic Name, Topic Alias, properties ============================= */

/* A PUBLISH (QoS 0) whose topic field is n raw bytes. */
static bool send_raw_topic(ck_client_t *c, const void *t, uint16_t n, const ck_buf_t *props)
{
    ck_buf_t b = CK_BUF;
    ck_b_bin(&b, t, n);
    ck_b_props(&b, props);
    ck_b_raw(&b, "x", 1);
    return ck_send_packet(c, 0x30, &b);
}

/* MQTT-3.3.2-1: a Topic Name that is not valid UTF-8: closed (0x81). */
static ck_status_t topic_bad_utf8(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    static const uint8_t t[] = {'a', '/', 0xC3, 0x28};
    if (!c || !send_raw_topic(c, t, sizeof(t), NULL))
        return CK_FAIL;
    return ck_expect_dropped(x, c, MQ_RC_MALFORMED, 0);
}

static ck_status_t topic_wild(ck_ctx_t *x, const char *sfx)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c || !send_pub(c, ck_topic(x, sfx), "x", 1, 0, false, false, 0, NULL))
        return CK_FAIL;
    return ck_expect_dropped(x, c, 0, 0);
}

/* MQTT-3.3.2-2: wildcards in a Topic Name: closed. */
static ck_status_t topic_plus(ck_ctx_t *x) { return topic_wild(x, "a/+"); }
static ck_status_t topic_hash(ck_ctx_t *x) { return topic_wild(x, "a/#"); }

/* MQTT-4.7.3-1: a zero-length Topic Name without a Topic Alias: closed
 * (protocol error 0x82). */
static ck_status_t topic_empty(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c || !send_raw_topic(c, "", 0, NULL))
        return CK_FAIL;
    return ck_expect_dropped(x, c, MQ_RC_PROTOCOL_ERROR, 0);
}

/* MQTT-3.3.2-3: the Topic Name sent matches the filter: it is the
 * published name, not the filter. */
static ck_status_t topic_is_published_name(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *s = conn(x, "sub", NULL, &k);
    if (!s)
        return CK_FAIL;
    if (!k.wildcard)
        return ck_skip(x, "Wildcard Subscription Available 0");
    NAME(filter, ck_topic(x, "+/b/#"));
    NAME(topic, ck_topic(x, "a/b/c/d"));
    if (!subscribed(x, s, filter, 0, NULL, 0xff) || !ck_publish_via(x, topic, "w", 0, false, NULL))
        return CK_FAIL;
    return ck_expect_pub(x, s, topic, "w", NULL, true) ? CK_PASS : CK_FAIL;
}

/* Connects with Topic Alias Maximum taken from the CONNACK; skips when the
 * broker accepts no aliases. */
static ck_client_t *alias_conn(ck_ctx_t *x, uint16_t *tam, ck_status_t *st)
{
    caps_t k;
    ck_client_t *c = conn(x, "pa", NULL, &k);
    *st = CK_FAIL;
    if (!c)
        return NULL;
    *tam = k.topic_alias_max;
    if (!k.topic_alias_max) {
        *st = ck_skip(x, "Topic Alias Maximum 0: the broker accepts no aliases");
        return NULL;
    }
    return c;
}

static void alias_prop(ck_buf_t *pr, uint16_t alias)
{
    pr->n = 0;
    ck_p_u16(pr, MQ_PROP_TOPIC_ALIAS, alias);
}

/* MQTT-3.3.2-8: Topic Alias 0: closed (DISCONNECT 0x94). */
static ck_status_t alias_zero(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    ck_buf_t pr = CK_BUF;
    alias_prop(&pr, 0);
    if (!c || !send_pub(c, ck_topic(x, "t"), "x", 1, 0, false, false, 0, &pr))
        return CK_FAIL;
    return ck_expect_dropped(x, c, MQ_RC_TOPIC_ALIAS_INVALID, 0);
}

/* MQTT-3.3.2-9: a Topic Alias above the broker's Topic Alias Maximum
 * (also when that is 0): closed (DISCONNECT 0x94). */
static ck_status_t alias_above_max(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "c", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.topic_alias_max == 65535)
        return ck_skip(x, "Topic Alias Maximum 65535: no alias is above it");
    ck_buf_t pr = CK_BUF;
    alias_prop(&pr, (uint16_t)(k.topic_alias_max + 1));
    if (!send_pub(c, ck_topic(x, "t"), "x", 1, 0, false, false, 0, &pr))
        return CK_FAIL;
    return ck_expect_dropped(x, c, MQ_RC_TOPIC_ALIAS_INVALID, 0);
}

/* MQTT-3.3.2-12: alias 1 set with a topic, then used with an empty topic. */
static ck_status_t alias_set_reused(ck_ctx_t *x)
{
    uint16_t tam;
    ck_status_t st;
    ck_client_t *c = alias_conn(x, &tam, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "al"));
    ck_client_t *s = subscriber(x, topic, 1);
    ck_buf_t pr = CK_BUF;
    alias_prop(&pr, 1);
    if (!s || !ck_publish(x, c, topic, "set", 1, false, 1, &pr) ||
        !ck_publish(x, c, "", "used", 1, false, 2, &pr) ||
        !ck_publish(x, c, "", "again", 0, false, 0, &pr))
        return CK_FAIL;
    return ck_expect_pub(x, s, topic, "set", NULL, true) &&
                   ck_expect_pub(x, s, topic, "used", NULL, true) &&
                   ck_expect_pub(x, s, topic, "again", NULL, true)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-3.3.2-12: a PUBLISH with a topic and a known alias re-maps the alias. */
static ck_status_t alias_remapped(ck_ctx_t *x)
{
    uint16_t tam;
    ck_status_t st;
    ck_client_t *c = alias_conn(x, &tam, &st);
    if (!c)
        return st;
    NAME(t1, ck_topic(x, "one"));
    NAME(t2, ck_topic(x, "two"));
    ck_client_t *s1 = subscriber_as(x, "s1", t1, 0);
    ck_client_t *s2 = subscriber_as(x, "s2", t2, 0);
    ck_buf_t pr = CK_BUF;
    alias_prop(&pr, 1);
    if (!s1 || !s2 || !ck_publish(x, c, t1, "a", 0, false, 0, &pr) ||
        !ck_publish(x, c, t2, "b", 0, false, 0, &pr) ||
        !ck_publish(x, c, "", "c", 0, false, 0, &pr))
        return CK_FAIL;
    if (!ck_expect_pub(x, s1, t1, "a", NULL, true) || !ck_expect_pub(x, s2, t2, "b", NULL, true) ||
        !ck_expect_pub(x, s2, t2, "c", NULL, true) || !no_pub(x, s1, CK_QUIET))
        return CK_FAIL;
    return CK_PASS;
}

/* 3.3.2.3.4: an alias with no mapping and an empty topic is a protocol error
 * (DISCONNECT 0x82); tied to MQTT-3.3.2-12, the alias rules it belongs to. */
static ck_status_t alias_unknown(ck_ctx_t *x)
{
    uint16_t tam;
    ck_status_t st;
    ck_client_t *c = alias_conn(x, &tam, &st);
    if (!c)
        return st;
    ck_buf_t pr = CK_BUF;
    alias_prop(&pr, 1);
    if (!send_raw_topic(c, "", 0, &pr))
        return CK_FAIL;
    return ck_expect_dropped(x, c, MQ_RC_PROTOCOL_ERROR, 0);
}

/* MQTT-3.3.2-7: alias mappings do not outlive the connection: the same
 * client reconnects and uses the alias without a topic: protocol error. */
static ck_status_t alias_not_carried(ck_ctx_t *x)
{
    NAME(id, ck_client_id(x, "c"));
    bool present;
    caps_t k;
    ck_connect_opts_t o = {.client_id = id, .clean = true};
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, &o, &ack);
    if (!c)
        return CK_FAIL;
    caps_of(&ack, &k);
    if (!k.topic_alias_max)
        return ck_skip(x, "Topic Alias Maximum 0: the broker accepts no aliases");
    ck_buf_t pr = CK_BUF;
    alias_prop(&pr, 1);
    if (!ck_publish(x, c, ck_topic(x, "al"), "set", 0, false, 0, &pr))
        return CK_FAIL;
    ck_disconnect(c);
    c = conn_sess(x, id, true, 0, NULL, &present);
    if (!c || !send_raw_topic(c, "", 0, &pr))
        return CK_FAIL;
    return ck_expect_dropped(x, c, MQ_RC_PROTOCOL_ERROR, 0);
}

/* MQTT-3.3.2-11: with Topic Alias Maximum 1 from the client, the broker
 * uses no alias other than 1, and an empty topic only after it mapped it. */
static ck_status_t server_alias_consistent(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_u16(&pr, MQ_PROP_TOPIC_ALIAS_MAXIMUM, 1);
    caps_t k;
    ck_client_t *s = conn(x, "sub", &pr, &k);
    if (!s)
        return CK_FAIL;
    if (!k.wildcard)
        return ck_skip(x, "Wildcard Subscription Available 0");
    NAME(filter, ck_topic(x, "#"));
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!c || !subscribed(x, s, filter, 0, NULL, 0xff))
        return CK_FAIL;
    char topics[3][160];
    for (int i = 0; i < 3; i++) {
        char sfx[8];
        snprintf(sfx, sizeof(sfx), "t%d", i);
        snprintf(topics[i], sizeof(topics[i]), "%s", ck_topic(x, sfx));
    }
    static const int order[9] = {0, 0, 1, 1, 0, 2, 2, 2, 1};
    for (int i = 0; i < 9; i++)
        if (!send_pub(c, topics[order[i]], "x", 1, 0, false, false, 0, NULL))
            return CK_FAIL;
    char mapped[160] = "";
    for (int i = 0; i < 9; i++) {
        ck_packet_t p;
        if (!ck_next_pub(x, s, CK_WAIT, &p, true))
            return CK_FAIL;
        const mq_publish_t *pb = &p.p.u.publish;
        bool has = mq_props_has(&p.p.props, MQ_PROP_TOPIC_ALIAS);
        if (has && p.p.props.topic_alias != 1)
            return ck_fail_bytes(x, "Topic Alias 1 or none (the client's maximum is 1)", NULL, 0,
                                 p.raw, p.len);
        char got[160];
        if (pb->topic.len) {
            snprintf(got, sizeof(got), "%.*s", (int)pb->topic.len, (const char *)pb->topic.ptr);
            if (has)
                snprintf(mapped, sizeof(mapped), "%s", got);
        } else {
            if (!has || !mapped[0])
                return ck_fail_bytes(x, "an empty Topic Name only with an alias mapped earlier",
                                     NULL, 0, p.raw, p.len);
            snprintf(got, sizeof(got), "%s", mapped);
        }
        if (strcmp(got, topics[order[i]]) != 0)
            return ck_fail(x, "message %d resolves to topic %s, expected %s", i, got,
                           topics[order[i]]);
    }
    return CK_PASS;
}

/* Publishes with props and returns the forwarded PUBLISH in *p. */
static bool forwarded(ck_ctx_t *x, const ck_buf_t *props, ck_packet_t *p)
{
    NAME(topic, ck_topic(x, "props"));
    ck_client_t *s = subscriber(x, topic, 1);
    if (!s || !ck_publish_via(x, topic, "body", 1, false, props))
        return false;
    return ck_expect_pub(x, s, topic, "body", p, true);
}

/* MQTT-3.3.2-4: Payload Format Indicator 1 forwarded unaltered. */
static ck_status_t fwd_payload_format(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_byte(&pr, MQ_PROP_PAYLOAD_FORMAT, 1);
    ck_packet_t p;
    if (!forwarded(x, &pr, &p))
        return CK_FAIL;
    if (!mq_props_has(&p.p.props, MQ_PROP_PAYLOAD_FORMAT) || p.p.props.payload_format != 1)
        return ck_fail_bytes(x, "Payload Format Indicator 1", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.2-20: Content Type forwarded unaltered. */
static ck_status_t fwd_content_type(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_str(&pr, MQ_PROP_CONTENT_TYPE, "application/x-Ck; v=\xc3\xa9");
    ck_packet_t p;
    if (!forwarded(x, &pr, &p))
        return CK_FAIL;
    if (!ck_str_is(p.p.props.content_type, "application/x-Ck; v=\xc3\xa9"))
        return ck_fail_bytes(x, "the Content Type unaltered", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.2-15: Response Topic forwarded unaltered. */
static ck_status_t fwd_response_topic(ck_ctx_t *x)
{
    NAME(rt, ck_topic(x, "reply/here"));
    ck_buf_t pr = CK_BUF;
    ck_p_str(&pr, MQ_PROP_RESPONSE_TOPIC, rt);
    ck_packet_t p;
    if (!forwarded(x, &pr, &p))
        return CK_FAIL;
    if (!ck_str_is(p.p.props.response_topic, rt))
        return ck_fail_bytes(x, "the Response Topic unaltered", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.2-16: Correlation Data (binary, with NUL and 0xFF) forwarded. */
static ck_status_t fwd_correlation(ck_ctx_t *x)
{
    static const uint8_t cd[6] = {0x00, 0xFF, 0x10, 0x00, 'c', 0x80};
    ck_buf_t pr = CK_BUF;
    ck_p_bin(&pr, MQ_PROP_CORRELATION_DATA, cd, sizeof(cd));
    ck_packet_t p;
    if (!forwarded(x, &pr, &p))
        return CK_FAIL;
    if (!ck_str_eq(p.p.props.correlation_data, cd, sizeof(cd)))
        return ck_fail_bytes(x, "the Correlation Data unaltered", cd, sizeof(cd), p.raw, p.len);
    return CK_PASS;
}

/* The user properties of p in order, as "k=v;" into out. */
static void user_props(const ck_packet_t *p, char *out, size_t cap)
{
    mq_props_iter_t it;
    mq_props_begin(&p->p.props, &it);
    uint8_t id;
    mq_str_t a, b;
    size_t o = 0;
    out[0] = '\0';
    while (mq_props_next(&it, &id, NULL, &a, &b)) {
        if (id != MQ_PROP_USER_PROPERTY || o >= cap)
            continue;
        int n = snprintf(out + o, cap - o, "%.*s=%.*s;", (int)a.len, (const char *)a.ptr,
                         (int)b.len, (const char *)b.ptr);
        if (n > 0)
            o += (size_t)n;
    }
}

/* MQTT-3.3.2-17: every User Property forwarded, repeated names included. */
static ck_status_t fwd_user_props(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_pair(&pr, "k", "1");
    ck_p_pair(&pr, "k", "1");
    ck_p_pair(&pr, "empty", "");
    ck_p_pair(&pr, "", "no name");
    ck_packet_t p;
    if (!forwarded(x, &pr, &p))
        return CK_FAIL;
    char got[512];
    user_props(&p, got, sizeof(got));
    const char *want = "k=1;k=1;empty=;=no name;";
    if (strcmp(got, want) != 0)
        return ck_fail(x, "User Properties forwarded as '%s', expected '%s'", got, want);
    return CK_PASS;
}

/* MQTT-3.3.2-18: User Properties keep their order (names not sorted). */
static ck_status_t fwd_user_props_order(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_pair(&pr, "z", "1");
    ck_p_pair(&pr, "a", "2");
    ck_p_pair(&pr, "m", "3");
    ck_p_pair(&pr, "a", "4");
    ck_p_pair(&pr, "z", "5");
    ck_packet_t p;
    if (!forwarded(x, &pr, &p))
        return CK_FAIL;
    char got[512];
    user_props(&p, got, sizeof(got));
    const char *want = "z=1;a=2;m=3;a=4;z=5;";
    if (strcmp(got, want) != 0)
        return ck_fail(x, "User Properties forwarded as '%s', expected '%s'", got, want);
    return CK_PASS;
}

/* A PUBLISH whose properties break a rule: the connection is closed. */
static ck_status_t bad_publish_props(ck_ctx_t *x, const ck_buf_t *pr, uint8_t want, uint8_t alt)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c || !send_pub(c, ck_topic(x, "t"), "x", 1, 1, false, false, 1, pr))
        return CK_FAIL;
    return ck_expect_dropped(x, c, want, alt);
}

/* MQTT-3.3.2-13: Response Topic with bad UTF-8: closed (0x81). */
static ck_status_t response_topic_utf8(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_b_u8(&pr, MQ_PROP_RESPONSE_TOPIC);
    ck_b_bin(&pr, "r/\xed\xa0\x80", 5); /* a UTF-16 surrogate */
    return bad_publish_props(x, &pr, MQ_RC_MALFORMED, 0);
}

/* MQTT-3.3.2-14: Response Topic with a wildcard: closed (0x82). */
static ck_status_t response_topic_wild(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_str(&pr, MQ_PROP_RESPONSE_TOPIC, "reply/+");
    return bad_publish_props(x, &pr, MQ_RC_PROTOCOL_ERROR, 0);
}

/* MQTT-3.3.2-19: Content Type with bad UTF-8: closed (0x81). */
static ck_status_t content_type_utf8(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_b_u8(&pr, MQ_PROP_CONTENT_TYPE);
    ck_b_bin(&pr, "text/\xc0\xaf", 7); /* an overlong encoding */
    return bad_publish_props(x, &pr, MQ_RC_MALFORMED, 0);
}

/* MQTT-3.3.4-6: a client's PUBLISH with a Subscription Identifier:
 * protocol error (DISCONNECT 0x82). */
static ck_status_t client_sub_id(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_subid(&pr, 5);
    return bad_publish_props(x, &pr, MQ_RC_PROTOCOL_ERROR, 0);
}

/* ---- Message Expiry ---- */

/* MQTT-3.3.2-6: the forwarded Message Expiry Interval is the received value
 * less the time waited (here almost none: 59 or 60 of 60). */
static ck_status_t expiry_forwarded(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_MESSAGE_EXPIRY, 60);
    ck_packet_t p;
    if (!forwarded(x, &pr, &p))
        return CK_FAIL;
    if (!mq_props_has(&p.p.props, MQ_PROP_MESSAGE_EXPIRY))
        return ck_fail_bytes(x, "a Message Expiry Interval", NULL, 0, p.raw, p.len);
    uint32_t e = p.p.props.message_expiry;
    if (e > 60 || e < 59)
        return ck_fail(x, "Message Expiry Interval %u forwarded, expected 59 or 60", e);
    return CK_PASS;
}

/* MQTT-3.3.2-6: a message queued for an offline session for ~1.3 s is
 * sent with its interval reduced (1..9 of 10). */
static ck_status_t expiry_reduced_when_queued(ck_ctx_t *x)
{
    NAME(id, ck_client_id(x, "s"));
    NAME(topic, ck_topic(x, "exp"));
    ck_client_t *s = conn_sess(x, id, true, 60, NULL, NULL);
    if (!s || !subscribed(x, s, topic, 1, NULL, 0xff))
        return CK_FAIL;
    ck_disconnect(s);
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_MESSAGE_EXPIRY, 10);
    ck_status_t st = CK_FAIL;
    if (ck_publish_via(x, topic, "queued", 1, false, &pr)) {
        ck_sleep_ms(1300);
        ck_packet_t p;
        s = conn_sess(x, id, false, 60, NULL, NULL);
        if (s && ck_expect_pub(x, s, topic, "queued", &p, true)) {
            uint32_t e = p.p.props.message_expiry;
            if (!mq_props_has(&p.p.props, MQ_PROP_MESSAGE_EXPIRY) || e == 0 || e > 9)
                ck_fail_bytes(x, "Message Expiry Interval 1..9 after 1.3 s of 10", NULL, 0,
                              p.raw, p.len);
            else
                st = CK_PASS;
        }
    }
    ck_clear_session(x, id, V);
    return st;
}

/* MQTT-3.3.2-5: a message that expires while its subscriber is offline is
 * not delivered; one without expiry queued with it is. */
static ck_status_t expired_not_delivered(ck_ctx_t *x)
{
    NAME(id, ck_client_id(x, "s"));
    NAME(topic, ck_topic(x, "exp"));
    ck_client_t *s = conn_sess(x, id, true, 60, NULL, NULL);
    if (!s || !subscribed(x, s, topic, 1, NULL, 0xff))
        return CK_FAIL;
    ck_disconnect(s);
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_MESSAGE_EXPIRY, 1);
    ck_status_t st = CK_FAIL;
    if (ck_publish_via(x, topic, "gone", 1, false, &pr) &&
        ck_publish_via(x, topic, "kept", 1, false, NULL)) {
        ck_sleep_ms(2200);
        s = conn_sess(x, id, false, 60, NULL, NULL);
        if (s && ck_expect_pub(x, s, topic, "kept", NULL, true) && no_pub(x, s, CK_QUIET))
            st = CK_PASS;
    }
    ck_clear_session(x, id, V);
    return st;
}

/* MQTT-3.3.2-5: an expired retained message is not sent to a new subscriber. */
static ck_status_t expired_retained(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "exp"));
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_MESSAGE_EXPIRY, 1);
    st = CK_FAIL;
    if (ck_publish(x, c, topic, "old", 1, true, 1, &pr)) {
        ck_sleep_ms(2200);
        ck_client_t *s = subscriber(x, topic, 1);
        if (s && no_pub(x, s, CK_QUIET))
            st = CK_PASS;
    }
    ck_clear_retained(x, topic);
    return st;
}

/* MQTT-3.3.2-6: a retained message's interval is reduced by its time in
 * the store. */
static ck_status_t retained_expiry_reduced(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = retain_conn(x, &st);
    if (!c)
        return st;
    NAME(topic, ck_topic(x, "exp"));
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_MESSAGE_EXPIRY, 10);
    st = CK_FAIL;
    if (ck_publish(x, c, topic, "old", 1, true, 1, &pr)) {
        ck_sleep_ms(1300);
        ck_client_t *s = subscriber(x, topic, 1);
        ck_packet_t p;
        if (s && ck_expect_pub(x, s, topic, "old", &p, true)) {
            uint32_t e = p.p.props.message_expiry;
            if (!mq_props_has(&p.p.props, MQ_PROP_MESSAGE_EXPIRY) || e == 0 || e > 9)
                ck_fail_bytes(x, "Message Expiry Interval 1..9 after 1.3 s of 10", NULL, 0,
                              p.raw, p.len);
            else
                st = CK_PASS;
        }
    }
    ck_clear_retained(x, topic);
    return st;
}

/* ==== 3.3.4 delivery rules ================================================== */

/* Collects the copies of payload arriving on s within the quiet window. */
static int copies(ck_ctx_t *x, ck_client_t *s, const char *payload, ck_packet_t *first,
                  uint32_t *ids, size_t *nids, size_t cap, uint8_t *maxq)
{
    int n = 0;
    *nids = 0;
    *maxq = 0;
    for (;;) {
        ck_packet_t p;
        int r = ck_recv(x, s, n ? CK_QUIET : CK_WAIT, &p);
        if (r == 0)
            break;
        if (r == 1 && p.type == MQ_PKT_PUBREL) {
            ck_send_ack(s, MQ_PKT_PUBCOMP, p.p.u.ack.packet_id);
            continue;
        }
        if (r != 1 || p.type != MQ_PKT_PUBLISH || !ck_str_is(p.p.u.publish.payload, payload)) {
            if (r == 1)
                ck_fail_bytes(x, "a copy of the PUBLISH", NULL, 0, p.raw, p.len);
            else if (r == -1)
                ck_fail(x, "the connection closed");
            return -1;
        }
        const mq_publish_t *pb = &p.p.u.publish;
        if (pb->qos)
            ck_send_ack(s, pb->qos == 1 ? MQ_PKT_PUBACK : MQ_PKT_PUBREC, pb->packet_id);
        if (pb->qos > *maxq)
            *maxq = pb->qos;
        uint32_t v[8];
        size_t k = prop_nums(&p, MQ_PROP_SUBSCRIPTION_ID, v, 8);
        if (n == 0 && first)
            *first = p;
        for (size_t i = 0; i < k && *nids < cap; i++)
            ids[(*nids)++] = v[i];
        n++;
    }
    if (n == 0)
        ck_fail(x, "expected the message, got nothing within %d ms", CK_WAIT);
    return n;
}

/* Sets up two overlapping subscriptions on one connection: filter A with
 * QoS qa (and Subscription Identifier ida, 0 = none) and exact topic with
 * QoS qb (idb); returns the subscriber. */
static ck_client_t *overlap(ck_ctx_t *x, const char *topic, uint8_t qa, uint32_t ida,
                            uint8_t qb, uint32_t idb, ck_status_t *st)
{
    caps_t k;
    *st = CK_FAIL;
    ck_client_t *s = conn(x, "sub", NULL, &k);
    if (!s)
        return NULL;
    if (!k.wildcard) {
        *st = ck_skip(x, "Wildcard Subscription Available 0");
        return NULL;
    }
    if ((ida || idb) && !k.sub_ids) {
        *st = ck_skip(x, "Subscription Identifier Available 0");
        return NULL;
    }
    if (k.max_qos < 1) {
        *st = ck_skip(x, "Maximum QoS 0");
        return NULL;
    }
    char filter[200];
    snprintf(filter, sizeof(filter), "%.*s/#", (int)(strrchr(topic, '/') - topic), topic);
    ck_buf_t pa = CK_BUF, pb = CK_BUF;
    if (ida)
        ck_p_subid(&pa, ida);
    if (idb)
        ck_p_subid(&pb, idb);
    if (!subscribed(x, s, filter, qa, &pa, 0xff) || !subscribed(x, s, topic, qb, &pb, 0xff))
        return NULL;
    return s;
}

/* MQTT-3.3.4-2: overlapping subscriptions QoS 0 and QoS 1: the message
 * (QoS 1) is delivered at least once at QoS 1. */
static ck_status_t overlap_max_qos(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "ov/x"));
    ck_status_t st;
    ck_client_t *s = overlap(x, topic, 0, 0, 1, 0, &st);
    if (!s)
        return st;
    if (!ck_publish_via(x, topic, "ov", 1, false, NULL))
        return CK_FAIL;
    uint32_t ids[8];
    size_t nids;
    uint8_t maxq;
    int n = copies(x, s, "ov", NULL, ids, &nids, 8, &maxq);
    if (n < 0)
        return CK_FAIL;
    if (maxq != 1)
        return ck_fail(x, "%d cop%s, the highest at QoS %u: expected one at QoS 1", n,
                       n == 1 ? "y" : "ies", maxq);
    if (n > 2)
        return ck_fail(x, "%d copies for 2 matching subscriptions", n);
    return CK_PASS;
}

/* MQTT-3.3.4-3: a subscription's identifier comes with its messages. */
static ck_status_t sub_id_delivered(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *s = conn(x, "sub", NULL, &k);
    if (!s)
        return CK_FAIL;
    if (!k.sub_ids)
        return ck_skip(x, "Subscription Identifier Available 0");
    NAME(topic, ck_topic(x, "sid"));
    ck_buf_t pr = CK_BUF;
    ck_p_subid(&pr, 268435455);
    ck_packet_t p;
    if (!subscribed(x, s, topic, 0, &pr, 0xff) || !ck_publish_via(x, topic, "i", 0, false, NULL) ||
        !ck_expect_pub(x, s, topic, "i", &p, true))
        return CK_FAIL;
    uint32_t v[4];
    size_t n = prop_nums(&p, MQ_PROP_SUBSCRIPTION_ID, v, 4);
    if (n != 1 || v[0] != 268435455)
        return ck_fail_bytes(x, "Subscription Identifier 268435455", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.4-4 / MQTT-3.3.4-5: overlapping subscriptions with identifiers
 * 3 and 4: one copy carries both, or each copy carries its own one. */
static ck_status_t sub_ids_overlap(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "ov/x"));
    ck_status_t st;
    ck_client_t *s = overlap(x, topic, 1, 3, 1, 4, &st);
    if (!s)
        return st;
    if (!ck_publish_via(x, topic, "ids", 1, false, NULL))
        return CK_FAIL;
    uint32_t ids[8];
    size_t nids;
    uint8_t maxq;
    int n = copies(x, s, "ids", NULL, ids, &nids, 8, &maxq);
    if (n < 0)
        return CK_FAIL;
    bool has3 = false, has4 = false;
    for (size_t i = 0; i < nids; i++) {
        has3 |= ids[i] == 3;
        has4 |= ids[i] == 4;
        if (ids[i] != 3 && ids[i] != 4)
            return ck_fail(x, "Subscription Identifier %u, expected 3 and 4 only", ids[i]);
    }
    if (n == 1 && !(nids == 2 && has3 && has4))
        return ck_fail(x, "one copy with %zu identifier(s): expected both 3 and 4 "
                          "(MQTT-3.3.4-4)", nids);
    if (n == 2 && !(nids == 2 && has3 && has4))
        return ck_fail(x, "two copies with identifiers %s%s: expected 3 in one, 4 in the other "
                          "(MQTT-3.3.4-5)", has3 ? "3 " : "", has4 ? "4" : "");
    if (n > 2)
        return ck_fail(x, "%d copies for 2 matching subscriptions", n);
    return CK_PASS;
}

/* MQTT-3.3.4-3: only the subscriptions that have an identifier contribute:
 * a message matching just the one without adds none. */
static ck_status_t sub_id_only_own(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *s = conn(x, "sub", NULL, &k);
    if (!s)
        return CK_FAIL;
    if (!k.sub_ids)
        return ck_skip(x, "Subscription Identifier Available 0");
    NAME(t1, ck_topic(x, "with"));
    NAME(t2, ck_topic(x, "without"));
    ck_buf_t pr = CK_BUF;
    ck_p_subid(&pr, 77);
    ck_packet_t p;
    if (!subscribed(x, s, t1, 0, &pr, 0xff) || !subscribed(x, s, t2, 0, NULL, 0xff) ||
        !ck_publish_via(x, t2, "n", 0, false, NULL) || !ck_expect_pub(x, s, t2, "n", &p, true))
        return CK_FAIL;
    if (mq_props_has(&p.p.props, MQ_PROP_SUBSCRIPTION_ID))
        return ck_fail_bytes(x, "no Subscription Identifier (the matching subscription has none)",
                             NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.8.3-3: No Local: the connection's own messages are not sent back;
 * another client's are. */
static ck_status_t no_local(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "nl"));
    ck_client_t *c = conn(x, "self", NULL, NULL);
    if (!c || !subscribed(x, c, topic, 0x04 | 1, NULL, 0xff) ||
        !send_pub(c, topic, "mine", 4, 0, false, false, 0, NULL) || !no_pub(x, c, CK_QUIET) ||
        !ck_publish_via(x, topic, "theirs", 1, false, NULL) ||
        !ck_expect_pub(x, c, topic, "theirs", NULL, true))
        return CK_FAIL;
    return CK_PASS;
}

/* MQTT-3.1.2-24: a message whose User Properties make it larger than the
 * client's Maximum Packet Size is not sent (the properties may not be
 * dropped, MQTT-3.3.2-17); a smaller one after it is. */
static ck_status_t max_packet_by_props(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "mps"));
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_MAXIMUM_PACKET_SIZE, 200);
    ck_client_t *s = conn(x, "sub", &pr, NULL);
    if (!s || !subscribed(x, s, topic, 1, NULL, 0xff))
        return CK_FAIL;
    char big[201];
    memset(big, 'v', 200);
    big[200] = '\0';
    ck_buf_t up = CK_BUF;
    ck_p_pair(&up, "big", big);
    if (!ck_publish_via(x, topic, "p1", 1, false, &up) ||
        !ck_publish_via(x, topic, "p2", 1, false, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "p2", &p, true))
        return CK_FAIL;
    if (p.len > 200)
        return ck_fail(x, "a %zu-byte packet sent to a client with Maximum Packet Size 200",
                       p.len);
    return CK_PASS;
}

/* A subscriber announcing Receive Maximum rm, subscribed to topic at qos. */
static ck_client_t *rm_subscriber(ck_ctx_t *x, const char *topic, uint16_t rm, uint8_t qos,
                                  ck_status_t *st)
{
    ck_buf_t pr = CK_BUF;
    ck_p_u16(&pr, MQ_PROP_RECEIVE_MAXIMUM, rm);
    caps_t k;
    *st = CK_FAIL;
    ck_client_t *s = conn(x, "sub", &pr, &k);
    if (!s)
        return NULL;
    if (k.max_qos < qos) {
        *st = ck_skip(x, "Maximum QoS %u", k.max_qos);
        return NULL;
    }
    if (!subscribed(x, s, topic, qos, NULL, qos))
        return NULL;
    return s;
}

/* MQTT-3.3.4-9: Receive Maximum 2: with two QoS 1 messages unacknowledged
 * the broker sends no third; a PUBACK releases the next one. */
static ck_status_t receive_max_qos1(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "rm"));
    ck_status_t st;
    ck_client_t *s = rm_subscriber(x, topic, 2, 1, &st);
    if (!s)
        return st;
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!c)
        return CK_FAIL;
    for (uint16_t i = 1; i <= 4; i++) {
        char pl[8];
        snprintf(pl, sizeof(pl), "m%u", i);
        if (!ck_publish(x, c, topic, pl, 1, false, i, NULL))
            return CK_FAIL;
    }
    ck_packet_t p1, p2, p3;
    if (!ck_expect_pub(x, s, topic, "m1", &p1, false))
        return CK_FAIL;
    uint16_t id1 = p1.p.u.publish.packet_id;
    if (!ck_expect_pub(x, s, topic, "m2", &p2, false) || !no_pub(x, s, CK_QUIET))
        return CK_FAIL;
    if (!ck_send_ack(s, MQ_PKT_PUBACK, id1) || !ck_expect_pub(x, s, topic, "m3", &p3, false) ||
        !no_pub(x, s, CK_QUIET))
        return CK_FAIL;
    return CK_PASS;
}

/* MQTT-3.3.4-9: Receive Maximum 1 and QoS 2: PUBREC does not release the
 * quota, PUBCOMP does. */
static ck_status_t receive_max_qos2(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "rm"));
    ck_status_t st;
    ck_client_t *s = rm_subscriber(x, topic, 1, 2, &st);
    if (!s)
        return st;
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!c || !ck_publish(x, c, topic, "m1", 2, false, 1, NULL) ||
        !ck_publish(x, c, topic, "m2", 2, false, 2, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "m1", &p, false))
        return CK_FAIL;
    uint16_t id = p.p.u.publish.packet_id;
    if (!ck_send_ack(s, MQ_PKT_PUBREC, id) || !ck_expect(x, s, MQ_PKT_PUBREL, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.packet_id != id)
        return ck_fail(x, "PUBREL packet id %u, expected %u", p.p.u.ack.packet_id, id);
    if (!ck_expect_quiet(x, s, CK_QUIET))
        return CK_FAIL;
    if (!ck_send_ack(s, MQ_PKT_PUBCOMP, id) || !ck_expect_pub(x, s, topic, "m2", NULL, true))
        return CK_FAIL;
    return CK_PASS;
}

/* MQTT-3.3.4-10 / MQTT-4.9.0-3: with the send quota at 0 the broker still
 * answers PINGREQ and SUBSCRIBE. */
static ck_status_t quota_zero_other_packets(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "rm"));
    ck_status_t st;
    ck_client_t *s = rm_subscriber(x, topic, 1, 1, &st);
    if (!s)
        return st;
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!c || !ck_publish(x, c, topic, "m1", 1, false, 1, NULL) ||
        !ck_publish(x, c, topic, "m2", 1, false, 2, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "m1", &p, false))
        return CK_FAIL;
    /* quota 0 now: m2 is held back, replies are not */
    ck_buf_t b;
    ck_build_subscribe(&b, V, 77, ck_topic(x, "other"), 0, NULL);
    static const uint8_t ping[2] = {0xC0, 0x00};
    if (!ck_send_buf(s, &b) || !ck_send(s, ping, 2))
        return CK_FAIL;
    bool suback = false, pong = false;
    while (!(suback && pong)) {
        if (ck_recv(x, s, CK_WAIT, &p) != 1)
            return ck_fail(x, "SUBACK%s and PINGRESP%s expected while the quota is 0",
                           suback ? " (came)" : "", pong ? " (came)" : "");
        if (p.type == MQ_PKT_SUBACK && p.p.u.sub.packet_id == 77)
            suback = true;
        else if (p.type == MQ_PKT_PINGRESP)
            pong = true;
        else
            return ck_fail_bytes(x, "SUBACK or PINGRESP (quota 0)", NULL, 0, p.raw, p.len);
    }
    return ck_send_ack(s, MQ_PKT_PUBACK, p.p.u.publish.packet_id) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.3.4-7: more unacknowledged QoS 2 PUBLISHes than the broker's
 * Receive Maximum: closed (DISCONNECT 0x93). */
static ck_status_t receive_max_exceeded(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "c", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < 2)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    if (k.receive_max > 1000)
        return ck_skip(x, "Receive Maximum %u: too many to exceed in bounded time",
                       k.receive_max);
    NAME(topic, ck_topic(x, "rmx"));
    for (uint32_t i = 1; i <= (uint32_t)k.receive_max + 1; i++)
        if (!send_pub(c, topic, "q", 1, 2, false, false, (uint16_t)i, NULL))
            break;
    /* PUBRECs for the first receive_max, then the refusal */
    for (;;) {
        ck_packet_t p;
        int r = ck_recv(x, c, CK_WAIT, &p);
        if (r == -1)
            return ck_fail(x, "closed without DISCONNECT 0x93");
        if (r == 0)
            return ck_fail(x, "%u unacknowledged QoS 2 PUBLISHes with Receive Maximum %u: "
                              "still connected", k.receive_max + 1, k.receive_max);
        if (r < 0)
            return CK_FAIL;
        if (p.type == MQ_PKT_PUBREC && p.p.u.ack.packet_id <= k.receive_max)
            continue;
        if (p.type == MQ_PKT_DISCONNECT) {
            if (p.p.u.disconnect.reason != MQ_RC_RECEIVE_MAXIMUM_EXCEEDED)
                return ck_fail(x, "DISCONNECT 0x%02x, expected 0x93", p.p.u.disconnect.reason);
            return ck_recv(x, c, CK_WAIT, &p) == -1 ? CK_PASS
                                                     : ck_fail(x, "not closed after DISCONNECT");
        }
        return ck_fail_bytes(x, "PUBREC for the first Receive Maximum, then DISCONNECT 0x93",
                             NULL, 0, p.raw, p.len);
    }
}

/* ==== 3.4-3.7 acknowledgements ================================================ */

/* MQTT-3.4.2-1: PUBACK to a publish nobody receives: 0x00 or 0x10. */
static ck_status_t puback_no_subscribers(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c || !send_pub(c, ck_topic(x, "nobody"), "x", 1, 1, false, false, 4, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_PUBACK, CK_WAIT, &p))
        return CK_FAIL;
    uint8_t rc = p.p.u.ack.reason;
    if (p.p.u.ack.packet_id != 4 || (rc != 0x00 && rc != MQ_RC_NO_MATCHING_SUBSCRIBERS))
        return ck_fail_bytes(x, "PUBACK id 4, reason 0x00 or 0x10", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.4.2-1: PUBACK to a publish with a subscriber: 0x00. */
static ck_status_t puback_success(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "ok"));
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!s || !c || !send_pub(c, topic, "x", 1, 1, false, false, 4, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_PUBACK, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.reason != 0)
        return ck_fail_bytes(x, "PUBACK reason 0x00 (a subscriber matched)", NULL, 0, p.raw,
                             p.len);
    return CK_PASS;
}

/* MQTT-3.5.2-1: PUBREC reason code: 0x00 or 0x10, and the flow completes
 * with PUBCOMP 0x00 (MQTT-3.7.2-1). */
static ck_status_t pubrec_pubcomp_codes(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "c", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < 2)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    if (!send_pub(c, ck_topic(x, "nobody"), "x", 1, 2, false, false, 6, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_PUBREC, CK_WAIT, &p))
        return CK_FAIL;
    uint8_t rc = p.p.u.ack.reason;
    if (rc != 0x00 && rc != MQ_RC_NO_MATCHING_SUBSCRIBERS)
        return ck_fail_bytes(x, "PUBREC reason 0x00 or 0x10", NULL, 0, p.raw, p.len);
    if (!ck_send_ack(c, MQ_PKT_PUBREL, 6) || !ck_expect(x, c, MQ_PKT_PUBCOMP, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.reason != 0 || p.p.u.ack.packet_id != 6)
        return ck_fail_bytes(x, "PUBCOMP id 6 reason 0x00", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* PUBREL for an unknown id: a PUBCOMP with that id; with strict, its
 * reason must be one of table 3-7. The standard does not say which of the
 * two fits an unknown id: 0x92 Packet Identifier not found ("not an error
 * during recovery") and 0x00 (the identifier is released) are both PUBCOMP
 * codes, so both pass. */
static ck_status_t pubrel_unknown_case(ck_ctx_t *x, bool strict)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c || !ck_send_ack(c, MQ_PKT_PUBREL, 0x4242))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect(x, c, MQ_PKT_PUBCOMP, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.packet_id != 0x4242)
        return ck_fail_bytes(x, "PUBCOMP with id 0x4242", NULL, 0, p.raw, p.len);
    if (strict && p.p.u.ack.reason != MQ_RC_PACKET_ID_NOT_FOUND && p.p.u.ack.reason != 0x00)
        return ck_fail_bytes(x, "PUBCOMP reason 0x00 or 0x92 (table 3-7)", NULL, 0, p.raw,
                             p.len);
    return CK_PASS;
}

/* MQTT-4.3.3-11: PUBREL is answered by PUBCOMP with the same id. */
static ck_status_t pubrel_unknown(ck_ctx_t *x) { return pubrel_unknown_case(x, false); }
/* MQTT-3.7.2-1: the PUBCOMP for an unknown id uses a table 3-7 code. */
static ck_status_t pubrel_unknown_code(ck_ctx_t *x) { return pubrel_unknown_case(x, true); }

/* MQTT-3.6.1-1: PUBREL with flags 0000: closed (0x81). */
static ck_status_t pubrel_bad_flags(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    return ck_dropped_on(x, 0x60, &b, MQ_RC_MALFORMED, 0);
}

/* MQTT-4.3.3-4: a PUBREC >= 0x80 from the client ends the QoS 2 flow: no
 * PUBREL follows (MQTT-4.4.0-2: nor a re-send). */
static ck_status_t pubrec_error_ends_flow(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "rec"));
    ck_status_t st;
    ck_client_t *s = rm_subscriber(x, topic, 1, 2, &st);
    if (!s)
        return st;
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!c || !ck_publish(x, c, topic, "m1", 2, false, 1, NULL) ||
        !ck_publish(x, c, topic, "m2", 2, false, 2, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "m1", &p, false))
        return CK_FAIL;
    /* Receive Maximum 1: the 0x80 PUBREC must also free the quota for m2 */
    if (!send_ack_rc(s, MQ_PKT_PUBREC, p.p.u.publish.packet_id, 0x80) ||
        !ck_expect_pub(x, s, topic, "m2", &p, false))
        return CK_FAIL;
    if (!ck_send_ack(s, MQ_PKT_PUBREC, p.p.u.publish.packet_id) ||
        !ck_expect(x, s, MQ_PKT_PUBREL, CK_WAIT, &p) ||
        !ck_send_ack(s, MQ_PKT_PUBCOMP, p.p.u.ack.packet_id) || !ck_expect_quiet(x, s, CK_QUIET))
        return CK_FAIL;
    return CK_PASS;
}

/* MQTT-4.4.0-2: a PUBACK >= 0x80 from the client counts as acknowledged:
 * the message is not re-sent when the session resumes. */
static ck_status_t puback_error_not_resent(ck_ctx_t *x)
{
    NAME(id, ck_client_id(x, "s"));
    NAME(topic, ck_topic(x, "pa"));
    ck_client_t *s = conn_sess(x, id, true, 60, NULL, NULL);
    if (!s || !subscribed(x, s, topic, 1, NULL, 0xff) ||
        !ck_publish_via(x, topic, "refused", 1, false, NULL))
        return CK_FAIL;
    ck_packet_t p;
    ck_status_t st = CK_FAIL;
    if (ck_expect_pub(x, s, topic, "refused", &p, false) &&
        send_ack_rc(s, MQ_PKT_PUBACK, p.p.u.publish.packet_id, 0x83) && ck_ping(x, s)) {
        ck_disconnect(s);
        s = conn_sess(x, id, false, 60, NULL, NULL);
        if (s && no_pub(x, s, CK_QUIET))
            st = CK_PASS;
    }
    ck_clear_session(x, id, V);
    return st;
}

/* ==== 4.3 QoS flows ============================================================ */

/* MQTT-4.3.2-5: after PUBACK, the same Packet Identifier starts a new
 * message, even with DUP 1. */
static ck_status_t qos1_id_reuse(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "q1"));
    ck_client_t *s = subscriber(x, topic, 1);
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!s || !c || !ck_publish(x, c, topic, "first", 1, false, 5, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!send_pub(c, topic, "second", 6, 1, false, true, 5, NULL) ||
        !ck_expect(x, c, MQ_PKT_PUBACK, CK_WAIT, &p))
        return CK_FAIL;
    return ck_expect_pub(x, s, topic, "first", NULL, true) &&
                   ck_expect_pub(x, s, topic, "second", NULL, true)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.3.3-10: a QoS 2 PUBLISH re-sent before PUBREL is acknowledged with
 * PUBREC again and not delivered twice. */
static ck_status_t qos2_no_duplicate(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "pub", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < 2)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    NAME(topic, ck_topic(x, "q2"));
    ck_client_t *s = subscriber(x, topic, 2);
    ck_packet_t p;
    if (!s || !send_pub(c, topic, "once", 4, 2, false, false, 8, NULL) ||
        !ck_expect(x, c, MQ_PKT_PUBREC, CK_WAIT, &p) ||
        !send_pub(c, topic, "once", 4, 2, false, true, 8, NULL) ||
        !ck_expect(x, c, MQ_PKT_PUBREC, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.packet_id != 8)
        return ck_fail_bytes(x, "PUBREC id 8 for the re-sent PUBLISH", NULL, 0, p.raw, p.len);
    if (!ck_send_ack(c, MQ_PKT_PUBREL, 8) || !ck_expect(x, c, MQ_PKT_PUBCOMP, CK_WAIT, &p))
        return CK_FAIL;
    return ck_expect_pub(x, s, topic, "once", NULL, true) && no_pub(x, s, CK_QUIET) ? CK_PASS
                                                                               : CK_FAIL;
}

/* MQTT-4.3.3-12: after PUBCOMP the same id starts a new QoS 2 message. */
static ck_status_t qos2_id_reuse(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "pub", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < 2)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    NAME(topic, ck_topic(x, "q2"));
    ck_client_t *s = subscriber(x, topic, 2);
    if (!s || !ck_publish(x, c, topic, "one", 2, false, 9, NULL) ||
        !ck_publish(x, c, topic, "two", 2, false, 9, NULL))
        return CK_FAIL;
    return ck_expect_pub(x, s, topic, "one", NULL, true) &&
                   ck_expect_pub(x, s, topic, "two", NULL, true)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.3.3-4 (server as sender): QoS 2 delivery: PUBLISH with DUP 0,
 * PUBREL with its id after PUBREC, then nothing after PUBCOMP. */
static ck_status_t qos2_server_flow(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "pub", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < 2)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    NAME(topic, ck_topic(x, "q2"));
    ck_client_t *s = subscriber(x, topic, 2);
    ck_packet_t p;
    if (!s || !ck_publish(x, c, topic, "flow", 2, false, 1, NULL) ||
        !ck_expect_pub(x, s, topic, "flow", &p, false))
        return CK_FAIL;
    uint16_t id = p.p.u.publish.packet_id;
    if (p.p.u.publish.qos != 2 || p.p.u.publish.dup)
        return ck_fail_bytes(x, "QoS 2 PUBLISH with DUP 0 (MQTT-4.3.3-2)", NULL, 0, p.raw, p.len);
    if (!ck_send_ack(s, MQ_PKT_PUBREC, id) || !ck_expect(x, s, MQ_PKT_PUBREL, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.ack.packet_id != id || p.p.fh.flags != 2)
        return ck_fail_bytes(x, "PUBREL (flags 0010) with the PUBLISH's id", NULL, 0, p.raw,
                             p.len);
    return ck_send_ack(s, MQ_PKT_PUBCOMP, id) &&
                   ck_expect_quiet(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-4.3.2-2: a QoS 1 delivery has DUP 0 and a Packet Identifier, and is
 * not re-sent on the same connection once acknowledged. */
static ck_status_t qos1_server_flow(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "q1"));
    ck_client_t *s = subscriber(x, topic, 1);
    ck_packet_t p;
    if (!s || !ck_publish_via(x, topic, "flow", 1, false, NULL) ||
        !ck_expect_pub(x, s, topic, "flow", &p, true))
        return CK_FAIL;
    if (p.p.u.publish.qos != 1 || p.p.u.publish.dup || !p.p.u.publish.packet_id)
        return ck_fail_bytes(x, "QoS 1 PUBLISH with DUP 0 and an id", NULL, 0, p.raw, p.len);
    return ck_expect_quiet(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-4.4.0-1: a PUBREL not yet completed is re-sent (as PUBREL, not as
 * PUBLISH) when the session resumes. */
static ck_status_t pubrel_resent(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "pub", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < 2)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    NAME(id, ck_client_id(x, "s"));
    NAME(topic, ck_topic(x, "rel"));
    ck_client_t *s = conn_sess(x, id, true, 60, NULL, NULL);
    ck_packet_t p;
    if (!s || !subscribed(x, s, topic, 2, NULL, 2) ||
        !ck_publish(x, c, topic, "m", 2, false, 1, NULL))
        return CK_FAIL;
    ck_status_t st = CK_FAIL;
    if (ck_expect_pub(x, s, topic, "m", &p, false)) {
        uint16_t pid = p.p.u.publish.packet_id;
        if (ck_send_ack(s, MQ_PKT_PUBREC, pid) && ck_expect(x, s, MQ_PKT_PUBREL, CK_WAIT, &p)) {
            ck_close(s); /* no PUBCOMP */
            s = conn_sess(x, id, false, 60, NULL, NULL);
            if (s && ck_expect(x, s, MQ_PKT_PUBREL, CK_WAIT, &p)) {
                if (p.p.u.ack.packet_id != pid)
                    ck_fail(x, "re-sent PUBREL id %u, expected %u", p.p.u.ack.packet_id, pid);
                else if (ck_send_ack(s, MQ_PKT_PUBCOMP, pid) && ck_expect_quiet(x, s, CK_QUIET))
                    st = CK_PASS;
            }
        }
    }
    ck_clear_session(x, id, V);
    return st;
}

/* ==== 3.8 / 3.9 SUBSCRIBE and SUBACK ============================================ */

/* A SUBSCRIBE body: packet id, property block, then filter + options. */
static void sub_body(ck_buf_t *b, uint16_t pid, const ck_buf_t *props, const char *filter,
                     uint8_t opts)
{
    ck_b_u16(b, pid);
    ck_b_props(b, props);
    ck_b_str(b, filter);
    ck_b_u8(b, opts);
}

/* MQTT-3.8.1-1: SUBSCRIBE with flags 0000: closed (0x81). */
static ck_status_t subscribe_flags(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    sub_body(&b, 1, NULL, ck_topic(x, "t"), 0);
    return ck_dropped_on(x, 0x80, &b, MQ_RC_MALFORMED, 0);
}

/* MQTT-3.8.3-1: a filter with ill-formed UTF-8: closed (0x81). */
static ck_status_t subscribe_bad_utf8(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_u8(&b, 0);
    ck_b_bin(&b, "a/\xff", 3);
    ck_b_u8(&b, 0);
    return ck_dropped_on(x, 0x82, &b, MQ_RC_MALFORMED, 0);
}

/* MQTT-3.8.3-2: a SUBSCRIBE without any filter: closed. */
static ck_status_t subscribe_empty(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_u8(&b, 0);
    return ck_dropped_on(x, 0x82, &b, MQ_RC_MALFORMED, MQ_RC_PROTOCOL_ERROR);
}

/* A SUBSCRIBE with options opts / properties props that must close. */
static ck_status_t subscribe_closes(ck_ctx_t *x, const char *filter, uint8_t opts,
                                    const ck_buf_t *props, uint8_t want, uint8_t alt)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c)
        return CK_FAIL;
    ck_buf_t b = CK_BUF;
    sub_body(&b, 1, props, filter, opts);
    ck_send_packet(c, 0x82, &b);
    return ck_expect_dropped(x, c, want, alt);
}

/* MQTT-3.8.3-5: reserved option bits 6-7 set: closed (0x81). */
static ck_status_t subscribe_reserved_bits(ck_ctx_t *x)
{
    return subscribe_closes(x, ck_topic(x, "t"), 0xC1, NULL, MQ_RC_MALFORMED, 0);
}

/* 3.8.3.1: Maximum QoS 3 is a protocol error: closed (MQTT-4.13.1-1). */
static ck_status_t subscribe_qos3(ck_ctx_t *x)
{
    return subscribe_closes(x, ck_topic(x, "t"), 0x03, NULL, MQ_RC_PROTOCOL_ERROR,
                            MQ_RC_MALFORMED);
}

/* 3.8.3.1: Retain Handling 3 is a protocol error: closed (MQTT-4.13.1-1). */
static ck_status_t subscribe_rh3(ck_ctx_t *x)
{
    return subscribe_closes(x, ck_topic(x, "t"), 0x30, NULL, MQ_RC_PROTOCOL_ERROR,
                            MQ_RC_MALFORMED);
}

/* 3.8.2.1.2: Subscription Identifier 0 is a protocol error (MQTT-4.13.1-1). */
static ck_status_t subscribe_sub_id_zero(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_subid(&pr, 0);
    return subscribe_closes(x, ck_topic(x, "t"), 0, &pr, MQ_RC_PROTOCOL_ERROR, MQ_RC_MALFORMED);
}

/* Shared-subscription cases need Shared Subscription Available. */
static ck_client_t *shared_conn(ck_ctx_t *x, const char *sfx, ck_status_t *st)
{
    caps_t k;
    ck_client_t *c = conn(x, sfx, NULL, &k);
    *st = CK_FAIL;
    if (c && !k.shared) {
        *st = ck_skip(x, "Shared Subscription Available 0");
        return NULL;
    }
    return c;
}

/* MQTT-3.8.3-4: No Local on a shared subscription: closed (0x82). */
static ck_status_t no_local_shared(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = shared_conn(x, "c", &st);
    if (!c)
        return st;
    char f[200];
    snprintf(f, sizeof(f), "$share/g/%s", ck_topic(x, "t"));
    ck_buf_t b = CK_BUF;
    sub_body(&b, 1, NULL, f, 0x04);
    ck_send_packet(c, 0x82, &b);
    return ck_expect_dropped(x, c, MQ_RC_PROTOCOL_ERROR, 0);
}

/* MQTT-3.8.4-3: subscribing again to the same filter replaces the
 * subscription (QoS 0 -> 1): one copy, at the new QoS. */
static ck_status_t subscribe_replaces(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "rep"));
    ck_client_t *s = subscriber(x, topic, 0);
    if (!s || !subscribed(x, s, topic, 1, NULL, 0xff) ||
        !ck_publish_via(x, topic, "r", 1, false, NULL))
        return CK_FAIL;
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "r", &p, true))
        return CK_FAIL;
    if (p.p.u.publish.qos != 1)
        return ck_fail_bytes(x, "QoS 1 (the replacing subscription's)", NULL, 0, p.raw, p.len);
    return no_pub(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.8.4-3: a replacing subscription takes the new options: No Local
 * set on the second SUBSCRIBE applies. */
static ck_status_t subscribe_replaces_options(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "rep"));
    ck_client_t *c = conn(x, "self", NULL, NULL);
    if (!c || !subscribed(x, c, topic, 0, NULL, 0xff) ||
        !subscribed(x, c, topic, 0x04, NULL, 0xff) ||
        !send_pub(c, topic, "m", 1, 0, false, false, 0, NULL))
        return CK_FAIL;
    return no_pub(x, c, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* SUBACK codes allowed by table 3-9. */
static bool suback_code_ok(int rc)
{
    static const uint8_t ok[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F,
                                 0x91, 0x97, 0x9E, 0xA1, 0xA2};
    return rc >= 0 && rc <= 255 && memchr(ok, rc, sizeof(ok)) != NULL;
}

/* MQTT-3.8.4-5 / -6 / MQTT-3.9.3-1: three filters (QoS 2, 0, 1): one SUBACK
 * with three codes in order, none above the QoS asked for. */
static ck_status_t subscribe_multi(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c)
        return CK_FAIL;
    static const uint8_t q[3] = {2, 0, 1};
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 33);
    ck_b_u8(&b, 0);
    for (int i = 0; i < 3; i++) {
        char sfx[8];
        snprintf(sfx, sizeof(sfx), "m%d", i);
        ck_b_str(&b, ck_topic(x, sfx));
        ck_b_u8(&b, q[i]);
    }
    ck_packet_t p;
    if (!ck_send_packet(c, 0x82, &b) || !ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p))
        return CK_FAIL;
    mq_sublist_iter_t it;
    mq_codec_filters_begin(&p.p.u.sub, false, &it);
    int codes[4], n = 0, rc;
    while ((rc = mq_codec_reasons_next(&it)) >= 0 && n < 4)
        codes[n++] = rc;
    if (n != 3 || p.p.u.sub.packet_id != 33)
        return ck_fail_bytes(x, "one SUBACK, id 33, with 3 reason codes", NULL, 0, p.raw, p.len);
    for (int i = 0; i < 3; i++)
        if (!suback_code_ok(codes[i]) || (codes[i] < 0x80 && codes[i] > q[i]))
            return ck_fail(x, "SUBACK codes %02x %02x %02x for QoS 2 0 1: code %d out of order "
                              "or not in table 3-9",
                           codes[0], codes[1], codes[2], i);
    return ck_expect_quiet(x, c, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.8.4-8: delivered QoS = min(published, granted): 2 -> sub 1 gives
 * 1; 1 -> sub 2 gives 1; 2 -> sub 0 gives 0. */
static ck_status_t delivered_qos_min(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *c = conn(x, "pub", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < 2)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    static const uint8_t sq[3] = {1, 2, 0}, pq[3] = {2, 1, 2}, want[3] = {1, 1, 0};
    for (int i = 0; i < 3; i++) {
        char sfx[8];
        snprintf(sfx, sizeof(sfx), "q%d", i);
        NAME(topic, ck_topic(x, sfx));
        snprintf(sfx, sizeof(sfx), "s%d", i);
        ck_client_t *s = subscriber_as(x, sfx, topic, sq[i]);
        ck_packet_t p;
        if (!s || !ck_publish(x, c, topic, "m", pq[i], false, (uint16_t)(i + 1), NULL) ||
            !ck_expect_pub(x, s, topic, "m", &p, true))
            return CK_FAIL;
        if (p.p.u.publish.qos != want[i])
            return ck_fail(x, "published QoS %u to a QoS %u subscription: delivered at QoS %u, "
                              "expected %u",
                           pq[i], sq[i], p.p.u.publish.qos, want[i]);
    }
    return CK_PASS;
}

/* MQTT-3.9.3-2: a SUBACK code comes from table 3-9 and grants no more
 * than asked. */
static ck_status_t suback_codes(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c)
        return CK_FAIL;
    for (uint8_t q = 0; q <= 2; q++) {
        char sfx[8];
        snprintf(sfx, sizeof(sfx), "c%u", q);
        int rc = subscribe(x, c, (uint16_t)(q + 1), ck_topic(x, sfx), q, NULL);
        if (rc < 0)
            return CK_FAIL;
        if (!suback_code_ok(rc) || (rc < 0x80 && rc > q))
            return ck_fail(x, "SUBACK code 0x%02x for QoS %u", rc, q);
    }
    return CK_PASS;
}

/* ==== 3.10 / 3.11 UNSUBSCRIBE and UNSUBACK ======================================== */

/* Sends UNSUBSCRIBE for n filters; the UNSUBACK codes go to codes[]. */
static int unsubscribe(ck_ctx_t *x, ck_client_t *c, uint16_t pid, const char *const *f, int n,
                       int *codes)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, pid);
    ck_b_u8(&b, 0);
    for (int i = 0; i < n; i++)
        ck_b_str(&b, f[i]);
    ck_packet_t p;
    if (!ck_send_packet(c, 0xA2, &b) || !ck_expect(x, c, MQ_PKT_UNSUBACK, CK_WAIT, &p))
        return -1;
    if (p.p.u.sub.packet_id != pid) {
        ck_fail(x, "UNSUBACK id %u, expected %u", p.p.u.sub.packet_id, pid);
        return -1;
    }
    mq_sublist_iter_t it;
    mq_codec_filters_begin(&p.p.u.sub, false, &it);
    int k = 0, rc;
    while ((rc = mq_codec_reasons_next(&it)) >= 0) {
        if (k < n)
            codes[k] = rc;
        k++;
    }
    if (k != n) {
        ck_fail_bytes(x, "one UNSUBACK reason code per filter", NULL, 0, p.raw, p.len);
        return -1;
    }
    return k;
}

/* MQTT-3.10.1-1: UNSUBSCRIBE with flags 0000: closed (0x81). */
static ck_status_t unsubscribe_flags(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_u8(&b, 0);
    ck_b_str(&b, ck_topic(x, "t"));
    return ck_dropped_on(x, 0xA0, &b, MQ_RC_MALFORMED, 0);
}

/* MQTT-3.10.3-2: UNSUBSCRIBE without a filter: closed. */
static ck_status_t unsubscribe_empty(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_u8(&b, 0);
    return ck_dropped_on(x, 0xA2, &b, MQ_RC_MALFORMED, MQ_RC_PROTOCOL_ERROR);
}

/* MQTT-3.10.3-1: UNSUBSCRIBE filter with ill-formed UTF-8: closed (0x81). */
static ck_status_t unsubscribe_bad_utf8(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, 1);
    ck_b_u8(&b, 0);
    ck_b_bin(&b, "u/\xc3", 3);
    return ck_dropped_on(x, 0xA2, &b, MQ_RC_MALFORMED, 0);
}

/* MQTT-3.10.4-1 / -2: UNSUBSCRIBE stops delivery; filters compare
 * character by character ("+" does not remove an exact subscription). */
static ck_status_t unsubscribe_stops(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *s = conn(x, "sub", NULL, &k);
    if (!s)
        return CK_FAIL;
    NAME(topic, ck_topic(x, "u/a"));
    NAME(wild, ck_topic(x, "u/+"));
    if (!subscribed(x, s, topic, 0, NULL, 0xff))
        return CK_FAIL;
    int codes[1];
    const char *w[1] = {wild};
    if (k.wildcard && unsubscribe(x, s, 2, w, 1, codes) < 0)
        return CK_FAIL;
    if (!ck_publish_via(x, topic, "still", 0, false, NULL) ||
        !ck_expect_pub(x, s, topic, "still", NULL, true))
        return CK_FAIL;
    const char *f[1] = {topic};
    if (unsubscribe(x, s, 3, f, 1, codes) < 0 || !ck_publish_via(x, topic, "gone", 0, false, NULL))
        return CK_FAIL;
    return no_pub(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.10.4-5 / MQTT-3.11.3-2: UNSUBACK for a filter never subscribed:
 * same id, reason 0x11 No subscription existed. */
static ck_status_t unsuback_none(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    NAME(topic, ck_topic(x, "none"));
    const char *f[1] = {topic};
    int codes[1];
    if (!c || unsubscribe(x, c, 0x1111, f, 1, codes) < 0)
        return CK_FAIL;
    if (codes[0] != MQ_RC_NO_SUBSCRIPTION_EXISTED)
        return ck_fail(x, "UNSUBACK code 0x%02x, expected 0x11", codes[0]);
    return CK_PASS;
}

/* MQTT-3.10.4-6 / MQTT-3.11.3-1: three filters (existing, not, existing):
 * one UNSUBACK with 0x00 0x11 0x00 in order. */
static ck_status_t unsuback_multi(ck_ctx_t *x)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    NAME(t1, ck_topic(x, "u1"));
    NAME(t2, ck_topic(x, "u2"));
    NAME(t3, ck_topic(x, "u3"));
    if (!c || !subscribed(x, c, t1, 0, NULL, 0xff) || !subscribed(x, c, t3, 0, NULL, 0xff))
        return CK_FAIL;
    const char *f[3] = {t1, t2, t3};
    int codes[3];
    if (unsubscribe(x, c, 9, f, 3, codes) < 0)
        return CK_FAIL;
    if (codes[0] != 0 || codes[1] != MQ_RC_NO_SUBSCRIPTION_EXISTED || codes[2] != 0)
        return ck_fail(x, "UNSUBACK codes %02x %02x %02x, expected 00 11 00", codes[0], codes[1],
                       codes[2]);
    return ck_expect_quiet(x, c, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.10.4-3: a QoS 1 delivery under way completes after UNSUBSCRIBE:
 * the unacknowledged message is re-sent on session resume. */
static ck_status_t unsubscribe_completes_inflight(ck_ctx_t *x)
{
    NAME(id, ck_client_id(x, "s"));
    NAME(topic, ck_topic(x, "fl"));
    ck_client_t *s = conn_sess(x, id, true, 60, NULL, NULL);
    if (!s || !subscribed(x, s, topic, 1, NULL, 0xff) ||
        !ck_publish_via(x, topic, "inflight", 1, false, NULL))
        return CK_FAIL;
    ck_packet_t p;
    ck_status_t st = CK_FAIL;
    const char *f[1] = {topic};
    int codes[1];
    if (ck_expect_pub(x, s, topic, "inflight", &p, false) &&
        unsubscribe(x, s, 2, f, 1, codes) == 1) {
        ck_close(s);
        s = conn_sess(x, id, false, 60, NULL, NULL);
        if (s && ck_expect_pub(x, s, topic, "inflight", &p, true))
            st = CK_PASS;
    }
    ck_clear_session(x, id, V);
    return st;
}

/* ==== 4.5 / 4.6 delivery and ordering ============================================== */

/* MQTT-4.5.0-1: every session with a matching subscription gets the message. */
static ck_status_t all_subscribers(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "all"));
    ck_client_t *a = subscriber_as(x, "a", topic, 1);
    ck_client_t *b = subscriber_as(x, "b", topic, 0);
    if (!a || !b || !ck_publish_via(x, topic, "both", 1, false, NULL))
        return CK_FAIL;
    return ck_expect_pub(x, a, topic, "both", NULL, true) &&
                   ck_expect_pub(x, b, topic, "both", NULL, true)
               ? CK_PASS
               : CK_FAIL;
}

/* MQTT-4.6.0-5 / -6: messages of one publisher on one topic and QoS arrive
 * in the order sent (QoS qos, 20 messages without waiting for acks). */
static ck_status_t ordered(ck_ctx_t *x, uint8_t qos)
{
    caps_t k;
    ck_client_t *c = conn(x, "pub", NULL, &k);
    if (!c)
        return CK_FAIL;
    if (k.max_qos < qos)
        return ck_skip(x, "Maximum QoS %u", k.max_qos);
    NAME(topic, ck_topic(x, "ord"));
    ck_client_t *s = subscriber(x, topic, qos);
    if (!s)
        return CK_FAIL;
    uint16_t n = qos && k.receive_max < 20 ? k.receive_max : 20;
    for (uint16_t i = 1; i <= n; i++) {
        char pl[8];
        snprintf(pl, sizeof(pl), "%u", i);
        if (!send_pub(c, topic, pl, strlen(pl), qos, false, false, i, NULL))
            return CK_FAIL;
    }
    /* the broker may hold a QoS 2 message until PUBREL: complete the flows */
    for (uint16_t done = 0; qos && done < n;) {
        ck_packet_t p;
        if (ck_recv(x, c, CK_WAIT, &p) != 1)
            return ck_fail(x, "the publisher's flows did not complete (%u of %u)", done, n);
        if (p.type == MQ_PKT_PUBREC)
            ck_send_ack(c, MQ_PKT_PUBREL, p.p.u.ack.packet_id);
        else if (p.type == MQ_PKT_PUBACK || p.type == MQ_PKT_PUBCOMP)
            done++;
        else
            return ck_fail_bytes(x, "an acknowledgement", NULL, 0, p.raw, p.len);
    }
    for (uint16_t i = 1; i <= n; i++) {
        char pl[8];
        snprintf(pl, sizeof(pl), "%u", i);
        ck_packet_t p;
        if (!ck_next_pub(x, s, CK_WAIT, &p, true))
            return CK_FAIL;
        if (!ck_str_is(p.p.u.publish.payload, pl))
            return ck_fail(x, "message '%.*s' arrived where '%s' was expected",
                           (int)p.p.u.publish.payload.len,
                           (const char *)p.p.u.publish.payload.ptr, pl);
    }
    return CK_PASS;
}

static ck_status_t ordered_qos0(ck_ctx_t *x) { return ordered(x, 0); }
static ck_status_t ordered_qos1(ck_ctx_t *x) { return ordered(x, 1); }
static ck_status_t ordered_qos2(ck_ctx_t *x) { return ordered(x, 2); }

/* ==== 4.7 topics ================================================================= */

/* MQTT-4.7.2-1: filters starting with a wildcard do not match topics
 * starting with '$'; an exact filter does. */
static ck_status_t dollar_topics(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *s = conn(x, "sub", NULL, &k);
    if (!s)
        return CK_FAIL;
    if (!k.wildcard)
        return ck_skip(x, "Wildcard Subscription Available 0");
    char base[170], topic[180], f1[180], f2[180];
    snprintf(base, sizeof(base), "%s", ck_topic(x, "d"));
    snprintf(topic, sizeof(topic), "$ck/%s", base);
    snprintf(f1, sizeof(f1), "+/%s", base);
    snprintf(f2, sizeof(f2), "+/%.*s/#", (int)(strrchr(base, '/') - base), base);
    ck_client_t *e = subscriber_as(x, "exact", topic, 0);
    if (!e || !subscribed(x, s, f1, 0, NULL, 0xff) || !subscribed(x, s, f2, 0, NULL, 0xff) ||
        !ck_publish_via(x, topic, "$", 0, false, NULL))
        return CK_FAIL;
    return ck_expect_pub(x, e, topic, "$", NULL, true) &&
                   no_pub(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-4.7.3-4: no normalisation: "ä" precomposed and decomposed are
 * different topics; so are different cases. */
static ck_status_t no_normalisation(ck_ctx_t *x)
{
    NAME(base, ck_topic(x, ""));
    char nfc[200], nfd[200], upper[200];
    snprintf(nfc, sizeof(nfc), "%s\xc3\xa4", base);
    snprintf(nfd, sizeof(nfd), "%sa\xcc\x88", base);
    snprintf(upper, sizeof(upper), "%s\xc3\x84", base);
    ck_client_t *s = subscriber(x, nfc, 0);
    if (!s || !ck_publish_via(x, nfd, "nfd", 0, false, NULL) ||
        !ck_publish_via(x, upper, "upper", 0, false, NULL) ||
        !ck_publish_via(x, nfc, "nfc", 0, false, NULL))
        return CK_FAIL;
    return ck_expect_pub(x, s, nfc, "nfc", NULL, true) &&
                   no_pub(x, s, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* An invalid filter: SUBACK 0x8F (or another code >= 0x80) or a close. */
static ck_status_t bad_filter(ck_ctx_t *x, const char *filter)
{
    ck_client_t *c = conn(x, "c", NULL, NULL);
    if (!c)
        return CK_FAIL;
    ck_buf_t b = CK_BUF;
    sub_body(&b, 3, NULL, filter, 0);
    ck_send_packet(c, 0x82, &b);
    return sub_refused(x, c, 3, true);
}

/* MQTT-4.7.1-1: '#' not last: refused. */
static ck_status_t filter_hash_not_last(ck_ctx_t *x)
{
    NAME(f, ck_topic(x, "#/x"));
    return bad_filter(x, f);
}

/* MQTT-4.7.1-2: '+' not a whole level: refused. */
static ck_status_t filter_plus_partial(ck_ctx_t *x)
{
    NAME(f, ck_topic(x, "a+"));
    return bad_filter(x, f);
}

/* MQTT-4.7.3-1: an empty filter: refused. */
static ck_status_t filter_empty(ck_ctx_t *x) { return bad_filter(x, ""); }

/* ==== 4.8.2 shared subscriptions ================================================= */

/* MQTT-4.8.2-1: "$share//t" (empty ShareName): refused. */
static ck_status_t share_empty_name(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *c = shared_conn(x, "c", &st);
    if (!c)
        return st;
    char f[200];
    snprintf(f, sizeof(f), "$share//%s", ck_topic(x, "t"));
    ck_buf_t b = CK_BUF;
    sub_body(&b, 3, NULL, f, 0);
    ck_send_packet(c, 0x82, &b);
    return sub_refused(x, c, 3, true);
}

/* MQTT-4.8.2-2: ShareName with '+' or without a filter after it: refused. */
static ck_status_t share_bad(ck_ctx_t *x, const char *fmt)
{
    ck_status_t st;
    ck_client_t *c = shared_conn(x, "c", &st);
    if (!c)
        return st;
    char f[200];
    snprintf(f, sizeof(f), fmt, ck_client_id(x, "g"));
    ck_buf_t b = CK_BUF;
    sub_body(&b, 3, NULL, f, 0);
    ck_send_packet(c, 0x82, &b);
    return sub_refused(x, c, 3, true);
}

static ck_status_t share_name_plus(ck_ctx_t *x) { return share_bad(x, "$share/%s+/t"); }
static ck_status_t share_no_filter(ck_ctx_t *x) { return share_bad(x, "$share/%s"); }

/* Two members of one share group on topic; returns false on failure. */
static bool share_pair(ck_ctx_t *x, const char *topic, uint8_t qos, ck_client_t **a,
                       ck_client_t **b, ck_status_t *st)
{
    *st = CK_FAIL;
    *a = shared_conn(x, "m1", st);
    if (!*a)
        return false;
    *b = conn(x, "m2", NULL, NULL);
    char f[220];
    snprintf(f, sizeof(f), "$share/%s/%s", ck_client_id(x, "grp"), topic);
    return *b && subscribed(x, *a, f, qos, NULL, 0xff) && subscribed(x, *b, f, qos, NULL, 0xff);
}

/* Counts the messages "0".."n-1" arriving on c into seen[]. */
static int share_drain(ck_ctx_t *x, ck_client_t *c, int *seen, int n)
{
    int got = 0;
    for (;;) {
        ck_packet_t p;
        int r = ck_recv(x, c, CK_QUIET, &p);
        if (r == 0)
            return got;
        if (r != 1)
            return -1;
        if (p.type == MQ_PKT_PUBREL) {
            ck_send_ack(c, MQ_PKT_PUBCOMP, p.p.u.ack.packet_id);
            continue;
        }
        if (p.type != MQ_PKT_PUBLISH) {
            ck_fail_bytes(x, "PUBLISH", NULL, 0, p.raw, p.len);
            return -1;
        }
        const mq_publish_t *pb = &p.p.u.publish;
        if (pb->qos)
            ck_send_ack(c, pb->qos == 1 ? MQ_PKT_PUBACK : MQ_PKT_PUBREC, pb->packet_id);
        int i = pb->payload.len && pb->payload.len < 4 ? atoi_n(pb->payload) : -1;
        if (i < 0 || i >= n) {
            ck_fail_bytes(x, "one of the group's messages", NULL, 0, p.raw, p.len);
            return -1;
        }
        seen[i]++;
        got++;
    }
}

/* MQTT-4.8.2-1 (a "$share/" filter makes a Shared Subscription): each
 * message goes to one member of the share group only (4.8.2). */
static ck_status_t share_one_member(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "sh"));
    ck_client_t *a, *b;
    ck_status_t st;
    if (!share_pair(x, topic, 1, &a, &b, &st))
        return st;
    ck_client_t *c = conn(x, "pub", NULL, NULL);
    if (!c)
        return CK_FAIL;
    enum { N = 10 };
    for (int i = 0; i < N; i++) {
        char pl[4];
        snprintf(pl, sizeof(pl), "%d", i);
        if (!ck_publish(x, c, topic, pl, 1, false, (uint16_t)(i + 1), NULL))
            return CK_FAIL;
    }
    int seen[N] = {0};
    int na = share_drain(x, a, seen, N), nb = share_drain(x, b, seen, N);
    if (na < 0 || nb < 0)
        return CK_FAIL;
    for (int i = 0; i < N; i++)
        if (seen[i] != 1)
            return ck_fail(x, "message %d delivered %d times to the group (member counts %d/%d)",
                           i, seen[i], na, nb);
    return CK_PASS;
}

/* MQTT-4.8.2-3: the member's granted QoS is respected (QoS 0 member gets a
 * QoS 1 message at QoS 0). */
static ck_status_t share_granted_qos(ck_ctx_t *x)
{
    ck_status_t st;
    ck_client_t *s = shared_conn(x, "m", &st);
    if (!s)
        return st;
    NAME(topic, ck_topic(x, "sh"));
    char f[220];
    snprintf(f, sizeof(f), "$share/%s/%s", ck_client_id(x, "grp"), topic);
    ck_packet_t p;
    if (!subscribed(x, s, f, 0, NULL, 0) || !ck_publish_via(x, topic, "q", 1, false, NULL) ||
        !ck_expect_pub(x, s, topic, "q", &p, true))
        return CK_FAIL;
    if (p.p.u.publish.qos != 0)
        return ck_fail_bytes(x, "QoS 0 (the member's granted QoS)", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.1-9 (whose rules cover new Non-shared Subscriptions only): no
 * retained message on a shared subscribe; live messages do come. */
static ck_status_t share_no_retained(ck_ctx_t *x)
{
    caps_t k;
    ck_client_t *s = conn(x, "m", NULL, &k);
    if (!s)
        return CK_FAIL;
    if (!k.shared)
        return ck_skip(x, "Shared Subscription Available 0");
    if (!k.retain)
        return ck_skip(x, "Retain Available 0");
    NAME(topic, ck_topic(x, "shr"));
    ck_status_t st = CK_FAIL;
    if (ck_publish_via(x, topic, "old", 1, true, NULL)) {
        char f[220];
        snprintf(f, sizeof(f), "$share/%s/%s", ck_client_id(x, "grp"), topic);
        if (subscribed(x, s, f, 1, NULL, 0xff) && no_pub(x, s, CK_QUIET) &&
            ck_publish_via(x, topic, "new", 1, false, NULL) &&
            ck_expect_pub(x, s, topic, "new", NULL, true))
            st = CK_PASS;
    }
    ck_clear_retained(x, topic);
    return st;
}

/* MQTT-4.8.2-6: a member's PUBACK >= 0x80 discards the message: it is not
 * sent to the other member. */
static ck_status_t share_refused_discarded(ck_ctx_t *x)
{
    NAME(topic, ck_topic(x, "sh"));
    ck_client_t *a, *b;
    ck_status_t st;
    if (!share_pair(x, topic, 1, &a, &b, &st))
        return st;
    if (!ck_publish_via(x, topic, "7", 1, false, NULL))
        return CK_FAIL;
    /* whichever member gets it refuses it; the other must not get it */
    ck_packet_t p;
    ck_client_t *got = NULL, *other = NULL;
    if (ck_recv(x, a, CK_WAIT / 2, &p) == 1 && p.type == MQ_PKT_PUBLISH) {
        got = a;
        other = b;
    } else if (ck_recv(x, b, CK_WAIT, &p) == 1 && p.type == MQ_PKT_PUBLISH) {
        got = b;
        other = a;
    } else {
        return ck_fail(x, "no member received the message");
    }
    if (!send_ack_rc(got, MQ_PKT_PUBACK, p.p.u.publish.packet_id, 0x80))
        return CK_FAIL;
    return no_pub(x, other, CK_QUIET * 2) && no_pub(x, got, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* ---- the cases ---------------------------------------------------------------- */

static const ck_case_t cases[] = {
    /* 2.2.1 Packet Identifier */
    {"MQTT-2.2.1-2", V, "QoS 0 delivery has no Packet Identifier", qos0_no_packet_id},
    {"MQTT-2.2.1-4", V, "unacknowledged deliveries use distinct non-zero ids", server_ids_unique},
    {"MQTT-2.2.1-5", V, "PUBACK carries the PUBLISH's Packet Identifier", puback_same_id},
    {"MQTT-2.2.1-5", V, "PUBREC and PUBCOMP carry the flow's Packet Identifier", qos2_acks_same_id},
    {"MQTT-2.2.1-6", V, "SUBACK and UNSUBACK carry the request's Packet Identifier", suback_unsuback_same_id},
    /* 3.3.1 PUBLISH fixed header, retained messages */
    {"MQTT-3.3.1-1", V, "unacknowledged QoS 1 re-sent with DUP 1 on session resume", dup_on_redelivery},
    {"MQTT-3.3.1-2", V, "QoS 0 delivery has DUP 0 (publish had DUP 1)", dup0_for_qos0},
    {"MQTT-3.3.1-3", V, "incoming DUP 1 not propagated to subscribers", dup_not_propagated},
    {"MQTT-3.3.1-4", V, "PUBLISH with QoS 3: closed (DISCONNECT 0x81)", qos3_closed},
    {"MQTT-3.3.1-5", V, "retained message replaced, sent with RETAIN 1", retain_replaces},
    {"MQTT-3.3.1-6", V, "zero-byte retained message removes the retained one", retain_empty_removes},
    {"MQTT-3.3.1-6", V, "zero-byte retained message forwarded to subscribers", retain_empty_forwarded},
    {"MQTT-3.3.1-7", V, "zero-byte retained message not stored", retain_empty_not_stored},
    {"MQTT-3.3.1-8", V, "RETAIN 0 neither stores nor replaces", retain0_keeps},
    {"MQTT-3.3.1-9", V, "Retain Handling 0: retained message sent on subscribe", rh0_sends},
    {"MQTT-3.8.4-4", V, "Retain Handling 0: re-sent when the subscription is replaced", rh0_resends},
    {"MQTT-3.3.1-10", V, "Retain Handling 1: sent for a new subscription", rh1_new_sends},
    {"MQTT-3.3.1-10", V, "Retain Handling 1: not sent for an existing subscription", rh1_existing_not},
    {"MQTT-3.3.1-11", V, "Retain Handling 2: retained message not sent", rh2_not},
    {"MQTT-3.3.1-12", V, "Retain As Published 0: forwarded with RETAIN 0", rap0},
    {"MQTT-3.3.1-13", V, "Retain As Published 1: retained publish forwarded with RETAIN 1", rap1_retained},
    {"MQTT-3.3.1-13", V, "Retain As Published 1: plain publish forwarded with RETAIN 0", rap1_plain},
    /* 3.3.2 Topic Name and Topic Alias */
    {"MQTT-3.3.2-1", V, "Topic Name with ill-formed UTF-8: closed (0x81)", topic_bad_utf8},
    {"MQTT-3.3.2-2", V, "Topic Name with '+': closed", topic_plus},
    {"MQTT-3.3.2-2", V, "Topic Name with '#': closed", topic_hash},
    {"MQTT-4.7.3-1", V, "empty Topic Name without Topic Alias: closed (0x82)", topic_empty},
    {"MQTT-3.3.2-3", V, "delivery carries the published Topic Name, not the filter", topic_is_published_name},
    {"MQTT-3.3.2-8", V, "Topic Alias 0: closed (DISCONNECT 0x94)", alias_zero},
    {"MQTT-3.3.2-9", V, "Topic Alias above the broker's maximum: closed (0x94)", alias_above_max},
    {"MQTT-3.3.2-12", V, "Topic Alias set with a topic, then used without", alias_set_reused},
    {"MQTT-3.3.2-12", V, "Topic Alias re-mapped by a PUBLISH with a new topic", alias_remapped},
    {"MQTT-3.3.2-12", V, "unmapped Topic Alias with empty topic: closed (0x82)", alias_unknown},
    {"MQTT-3.3.2-7", V, "Topic Alias mapping not carried to a new connection", alias_not_carried},
    {"MQTT-3.3.2-11", V, "server aliases within the client's maximum 1, mapped before use", server_alias_consistent},
    /* 3.3.2 properties */
    {"MQTT-3.3.2-4", V, "Payload Format Indicator forwarded", fwd_payload_format},
    {"MQTT-3.3.2-20", V, "Content Type forwarded unaltered", fwd_content_type},
    {"MQTT-3.3.2-15", V, "Response Topic forwarded unaltered", fwd_response_topic},
    {"MQTT-3.3.2-16", V, "binary Correlation Data forwarded unaltered", fwd_correlation},
    {"MQTT-3.3.2-17", V, "all User Properties forwarded (repeats, empty strings)", fwd_user_props},
    {"MQTT-3.3.2-18", V, "User Properties forwarded in their order", fwd_user_props_order},
    {"MQTT-3.3.2-13", V, "Response Topic with a surrogate: closed (0x81)", response_topic_utf8},
    {"MQTT-3.3.2-14", V, "Response Topic with a wildcard: closed (0x82)", response_topic_wild},
    {"MQTT-3.3.2-19", V, "Content Type with overlong UTF-8: closed (0x81)", content_type_utf8},
    {"MQTT-3.3.4-6", V, "client PUBLISH with Subscription Identifier: closed (0x82)", client_sub_id},
    {"MQTT-3.3.2-6", V, "Message Expiry Interval forwarded (59 or 60 of 60)", expiry_forwarded},
    {"MQTT-3.3.2-6", V, "interval reduced by the time queued for an offline session", expiry_reduced_when_queued},
    {"MQTT-3.3.2-6", V, "retained message's interval reduced by its time stored", retained_expiry_reduced},
    {"MQTT-3.3.2-5", V, "message expired while the subscriber was offline: not sent", expired_not_delivered},
    {"MQTT-3.3.2-5", V, "expired retained message not sent to a new subscriber", expired_retained},
    /* 3.3.4 delivery */
    {"MQTT-3.3.4-2", V, "overlapping QoS 0 and 1 subscriptions: delivered at QoS 1", overlap_max_qos},
    {"MQTT-3.3.4-3", V, "Subscription Identifier sent with the subscription's messages", sub_id_delivered},
    {"MQTT-3.3.4-3", V, "no Subscription Identifier from a subscription without one", sub_id_only_own},
    {"MQTT-3.3.4-4", V, "overlapping subscriptions: identifiers 3 and 4 both delivered", sub_ids_overlap},
    {"MQTT-3.8.3-3", V, "No Local: own messages not sent back, others' are", no_local},
    {"MQTT-3.1.2-24", V, "message too large by its User Properties not sent", max_packet_by_props},
    {"MQTT-3.3.4-9", V, "Receive Maximum 2: no third unacknowledged QoS 1 PUBLISH", receive_max_qos1},
    {"MQTT-3.3.4-9", V, "Receive Maximum 1: QoS 2 quota freed by PUBCOMP, not PUBREC", receive_max_qos2},
    {"MQTT-3.3.4-10", V, "send quota 0: PINGRESP and SUBACK still sent", quota_zero_other_packets},
    {"MQTT-3.3.4-7", V, "exceeding the broker's Receive Maximum: DISCONNECT 0x93", receive_max_exceeded},
    /* 3.4-3.7 acknowledgements */
    {"MQTT-3.4.2-1", V, "PUBACK with no subscribers: 0x00 or 0x10", puback_no_subscribers},
    {"MQTT-3.4.2-1", V, "PUBACK with a subscriber: 0x00", puback_success},
    {"MQTT-3.5.2-1", V, "PUBREC 0x00/0x10, then PUBCOMP 0x00", pubrec_pubcomp_codes},
    {"MQTT-4.3.3-11", V, "PUBREL for an unknown id: PUBCOMP with that id", pubrel_unknown},
    {"MQTT-3.7.2-1", V, "PUBCOMP for an unknown id: reason 0x00 or 0x92 (table 3-7)",
     pubrel_unknown_code},
    {"MQTT-3.6.1-1", V, "PUBREL with flags 0000: closed (0x81)", pubrel_bad_flags},
    {"MQTT-4.3.3-4", V, "client PUBREC 0x80 ends the flow and frees the quota", pubrec_error_ends_flow},
    {"MQTT-4.4.0-2", V, "client PUBACK 0x83: message not re-sent on resume", puback_error_not_resent},
    /* 4.3 QoS flows */
    {"MQTT-4.3.2-5", V, "QoS 1 id reused after PUBACK: a new message", qos1_id_reuse},
    {"MQTT-4.3.3-10", V, "QoS 2 re-sent before PUBREL: PUBREC again, delivered once", qos2_no_duplicate},
    {"MQTT-4.3.3-12", V, "QoS 2 id reused after PUBCOMP: a new message", qos2_id_reuse},
    {"MQTT-4.3.3-4", V, "server QoS 2 flow: PUBLISH DUP 0, PUBREL with its id", qos2_server_flow},
    {"MQTT-4.3.2-2", V, "server QoS 1 delivery: DUP 0, id, not re-sent once acked", qos1_server_flow},
    {"MQTT-4.4.0-1", V, "PUBREL not completed: re-sent on session resume", pubrel_resent},
    /* 3.8 / 3.9 SUBSCRIBE and SUBACK */
    {"MQTT-3.8.1-1", V, "SUBSCRIBE with flags 0000: closed (0x81)", subscribe_flags},
    {"MQTT-3.8.3-1", V, "SUBSCRIBE filter with ill-formed UTF-8: closed (0x81)", subscribe_bad_utf8},
    {"MQTT-3.8.3-2", V, "SUBSCRIBE without a filter: closed", subscribe_empty},
    {"MQTT-3.8.3-5", V, "subscription options reserved bits set: closed (0x81)", subscribe_reserved_bits},
    {"MQTT-4.13.1-1", V, "subscription Maximum QoS 3: closed", subscribe_qos3},
    {"MQTT-4.13.1-1", V, "Retain Handling 3: closed", subscribe_rh3},
    {"MQTT-4.13.1-1", V, "Subscription Identifier 0: closed", subscribe_sub_id_zero},
    {"MQTT-3.8.3-4", V, "No Local on a shared subscription: closed (0x82)", no_local_shared},
    {"MQTT-3.8.4-3", V, "same filter again replaces the subscription (one copy, new QoS)", subscribe_replaces},
    {"MQTT-3.8.4-3", V, "replacing subscription takes the new options (No Local)", subscribe_replaces_options},
    {"MQTT-3.8.4-5", V, "three filters: one SUBACK, codes in order", subscribe_multi},
    {"MQTT-3.8.4-8", V, "delivered QoS is min(published, granted)", delivered_qos_min},
    {"MQTT-3.9.3-2", V, "SUBACK codes from table 3-9, never above the QoS asked", suback_codes},
    /* 3.10 / 3.11 UNSUBSCRIBE and UNSUBACK */
    {"MQTT-3.10.1-1", V, "UNSUBSCRIBE with flags 0000: closed (0x81)", unsubscribe_flags},
    {"MQTT-3.10.3-1", V, "UNSUBSCRIBE filter with ill-formed UTF-8: closed (0x81)", unsubscribe_bad_utf8},
    {"MQTT-3.10.3-2", V, "UNSUBSCRIBE without a filter: closed", unsubscribe_empty},
    {"MQTT-3.10.4-1", V, "UNSUBSCRIBE stops delivery, filters compared exactly", unsubscribe_stops},
    {"MQTT-3.10.4-3", V, "QoS 1 delivery under way completes after UNSUBSCRIBE", unsubscribe_completes_inflight},
    {"MQTT-3.11.3-2", V, "UNSUBACK for no subscription: 0x11", unsuback_none},
    {"MQTT-3.11.3-1", V, "three filters: UNSUBACK 0x00 0x11 0x00 in order", unsuback_multi},
    /* 4.5 / 4.6 delivery and ordering */
    {"MQTT-4.5.0-1", V, "every matching session gets the message", all_subscribers},
    {"MQTT-4.6.0-6", V, "20 QoS 0 messages arrive in order", ordered_qos0},
    {"MQTT-4.6.0-6", V, "20 QoS 1 messages arrive in order", ordered_qos1},
    {"MQTT-4.6.0-6", V, "20 QoS 2 messages arrive in order", ordered_qos2},
    /* 4.7 topics */
    {"MQTT-4.7.2-1", V, "wildcard-first filters do not match $-topics", dollar_topics},
    {"MQTT-4.7.3-4", V, "no normalisation of topic names (NFC/NFD, case)", no_normalisation},
    {"MQTT-4.7.1-1", V, "filter with '#' not last: refused", filter_hash_not_last},
    {"MQTT-4.7.1-2", V, "filter with '+' inside a level: refused", filter_plus_partial},
    {"MQTT-4.7.3-1", V, "empty topic filter: refused", filter_empty},
    /* 4.8.2 shared subscriptions */
    {"MQTT-4.8.2-1", V, "$share with empty ShareName: refused", share_empty_name},
    {"MQTT-4.8.2-2", V, "$share ShareName with '+': refused", share_name_plus},
    {"MQTT-4.8.2-2", V, "$share/name without a filter: refused", share_no_filter},
    {"MQTT-4.8.2-3", V, "shared member's granted QoS respected", share_granted_qos},
    {"MQTT-4.8.2-1", V, "a $share filter shares: each message to exactly one member", share_one_member},
    {"MQTT-3.3.1-9", V, "no retained message on a shared subscribe", share_no_retained},
    {"MQTT-4.8.2-6", V, "member's PUBACK 0x80: not sent to another member", share_refused_discarded},
};

const ck_area_t ck_area_v5_publish = {"5.0 publish/subscribe", cases,
                                      sizeof(cases) / sizeof(cases[0])};

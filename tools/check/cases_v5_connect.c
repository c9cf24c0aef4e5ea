/*
 * Cases: MQTT 5.0 connection handling — data representation in CONNECT,
 * fixed header flags and properties, CONNECT / CONNACK (incl. the CONNACK
 * properties a client relies on), PINGREQ, DISCONNECT both ways, AUTH,
 * session state and expiry, wills and Will Delay, keepalive, error handling
 * (OASIS MQTT 5.0 sections 1.5, 2.1-2.2, 3.1, 3.2, 3.12-3.15, 4.1, 4.12, 4.13).
 *
 * Where the standard leaves a choice (a CONNACK or DISCONNECT before the
 * close is a MAY or SHOULD), a plain close passes; when the broker does send
 * the packet, its reason code must be the one the standard names.
 * Never: sleeps longer than a keepalive / delay under test (all waits are
 * bounded), leaves retained messages or sessions behind.
 *
 * check_int.h is included only for the case's number (x->seq), which makes
 * a client identifier of exactly 23 characters unique.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "check_int.h"

/* ---- helpers ---------------------------------------------------------------- */

/* CONNECT variable header of level 5 with the given flags, written by hand. */
static void conn_head(ck_buf_t *b, uint8_t flags, uint16_t ka, const ck_buf_t *props)
{
    ck_b_str(b, "MQTT");
    ck_b_u8(b, 5);
    ck_b_u8(b, flags);
    ck_b_u16(b, ka);
    ck_b_props(b, props);
}

/* A new connection that sends one packet (body wrapped in a fixed header). */
static ck_client_t *send_body(ck_ctx_t *x, uint8_t first, const ck_buf_t *body)
{
    ck_client_t *c = ck_open(x, 5);
    if (c && !ck_send_packet(c, first, body)) {
        ck_fail(x, "could not send");
        return NULL;
    }
    return c;
}

static ck_client_t *send_connect(ck_ctx_t *x, const ck_connect_opts_t *o)
{
    ck_client_t *c = ck_open(x, o->version);
    if (!c)
        return NULL;
    ck_buf_t b;
    ck_build_connect(x, &b, o);
    if (!ck_send_buf(c, &b)) {
        ck_fail(x, "could not send CONNECT");
        return NULL;
    }
    return c;
}

/* Table 3-1, Connect Reason Codes (MQTT-3.2.2-8). */
static bool connack_code_ok(uint8_t rc)
{
    static const uint8_t ok[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
    return memchr(ok, rc, sizeof(ok)) != NULL;
}

/* Waits for the close; any packet first fails the case. */
static ck_status_t then_closed(ck_ctx_t *x, ck_client_t *c, const char *after)
{
    ck_packet_t p;
    int r = ck_recv(x, c, CK_WAIT, &p);
    if (r == -1)
        return CK_PASS;
    if (r == 0)
        return ck_fail(x, "expected the connection closed after %s, still open after %d ms",
                       after, CK_WAIT);
    if (r == 1) {
        char what[96];
        snprintf(what, sizeof(what), "a close after %s", after);
        ck_fail_bytes(x, what, NULL, 0, p.raw, p.len);
    }
    return CK_FAIL;
}

/*
 * A refused CONNECT: an optional CONNACK with reason code want (or alt; want
 * 0 = any code >= 0x80 of table 3-1), Session Present 0 (MQTT-3.2.2-6), then
 * the close (MQTT-3.2.2-7). A DISCONNECT before any CONNACK breaks
 * MQTT-3.14.0-1.
 */
static ck_status_t expect_refused(ck_ctx_t *x, ck_client_t *c, uint8_t want, uint8_t alt)
{
    if (!c)
        return CK_FAIL;
    ck_packet_t p;
    int r = ck_recv(x, c, CK_WAIT, &p);
    if (r == -1)
        return CK_PASS;
    if (r == -2)
        return CK_FAIL;
    if (r == 0)
        return ck_fail(x, "expected a CONNACK >= 0x80 or a close, got nothing within %d ms",
                       CK_WAIT);
    if (p.type == MQ_PKT_DISCONNECT)
        return ck_fail_bytes(x, "CONNACK or close, not a DISCONNECT before CONNACK (MQTT-3.14.0-1)",
                             NULL, 0, p.raw, p.len);
    if (p.type != MQ_PKT_CONNACK)
        return ck_fail_bytes(x, "CONNACK or close", NULL, 0, p.raw, p.len);
    uint8_t rc = p.p.u.connack.rc;
    if (rc < 0x80)
        return ck_fail(x, "CONNACK reason code 0x%02x: the CONNECT was accepted, expected %s%02x "
                          "or a close",
                       rc, want ? "0x" : ">= 0x", want ? want : 0x80);
    if (!connack_code_ok(rc))
        return ck_fail(x, "CONNACK reason code 0x%02x is not in table 3-1 (MQTT-3.2.2-8)", rc);
    if (want && rc != want && (!alt || rc != alt)) {
        if (alt)
            return ck_fail(x, "CONNACK reason code 0x%02x, expected 0x%02x or 0x%02x", rc, want,
                           alt);
        return ck_fail(x, "CONNACK reason code 0x%02x, expected 0x%02x", rc, want);
    }
    if (p.p.u.connack.session_present)
        return ck_fail(x, "CONNACK 0x%02x with Session Present 1 (MQTT-3.2.2-6)", rc);
    return then_closed(x, c, "a CONNACK >= 0x80");
}

/* CONNECT with o, CONNACK 0 kept in *ack (may be NULL). */
static ck_client_t *conn5(ck_ctx_t *x, const ck_connect_opts_t *o, ck_packet_t *ack)
{
    return ck_connected_with(x, o, ack);
}

/* A clean connection with a unique id and Session Expiry `expiry`
 * (0 = property absent). */
static ck_client_t *conn_exp(ck_ctx_t *x, const char *id, bool clean, uint32_t expiry,
                             ck_packet_t *ack)
{
    ck_buf_t pr = CK_BUF;
    if (expiry)
        ck_p_u32(&pr, MQ_PROP_SESSION_EXPIRY, expiry);
    ck_connect_opts_t o = {.client_id = id, .clean = clean, .props = &pr};
    return conn5(x, &o, ack);
}

/* A subscriber on topic (QoS qos) for the will cases. */
static ck_client_t *subscriber(ck_ctx_t *x, const char *topic, uint8_t qos)
{
    ck_client_t *s = ck_connected(x, "sub", true);
    if (!s || !ck_subscribed(x, s, topic, qos, 0xff))
        return NULL;
    return s;
}

static void send_disconnect(ck_client_t *c, uint8_t reason, const ck_buf_t *props)
{
    ck_buf_t b = CK_BUF;
    ck_b_u8(&b, reason);
    ck_b_props(&b, props);
    ck_send_packet(c, 0xE0, &b);
}

/*
 * MQTT-3.1.2-1/-2: nothing, or a CONNACK saying "unsupported protocol
 * version" (0x84 in the v5 layout; the server cannot know the client's layout
 * when it does not speak its protocol, so the 3.1.1 code 0x01 is accepted),
 * then the close.
 */
static ck_status_t expect_version_refused(ck_ctx_t *x, ck_client_t *c)
{
    if (!c)
        return CK_FAIL;
    uint8_t buf[64];
    bool closed;
    size_t n = ck_raw_drain(c, buf, sizeof(buf), CK_WAIT, &closed);
    if (!closed)
        return ck_fail(x, "expected the connection closed within %d ms (got %zu bytes)", CK_WAIT,
                       n);
    if (n == 0)
        return CK_PASS;
    static const uint8_t v5[] = {0x20, 0x03, 0x00, 0x84, 0x00};
    static const uint8_t v3[] = {0x20, 0x02, 0x00, 0x01};
    if (n >= 4 && buf[0] == 0x20 && buf[1] >= 3 && buf[2] == 0 && buf[3] == 0x84 &&
        n == (size_t)buf[1] + 2)
        return CK_PASS;
    if (n == sizeof(v3) && !memcmp(buf, v3, n))
        return CK_PASS;
    return ck_fail_bytes(x, "nothing or CONNACK 0x84 before the close", v5, sizeof(v5), buf, n);
}

/* ---- 1.5 data representation in CONNECT ------------------------------------ */

/* CONNECT whose Client Identifier is the raw bytes id[0..n). */
static ck_status_t refused_client_id(ck_ctx_t *x, const void *id, uint16_t n)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x02, 0, NULL);
    ck_b_bin(&b, id, n);
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-1.5.4-1: ill-formed UTF-8 (a cut two-byte sequence) is malformed. */
static ck_status_t utf8_cut_client_id(ck_ctx_t *x)
{
    return refused_client_id(x, "abc\xC3", 4);
}

/* MQTT-1.5.4-1: an encoded surrogate (U+D800) is malformed. */
static ck_status_t utf8_surrogate_client_id(ck_ctx_t *x)
{
    return refused_client_id(x, "ab\xED\xA0\x80", 5);
}

/* MQTT-1.5.4-2: U+0000 in a UTF-8 string is malformed. */
static ck_status_t utf8_nul_client_id(ck_ctx_t *x)
{
    return refused_client_id(x, "ab\0cd", 5);
}

/* CONNECT with a will whose topic is the raw bytes t[0..n). */
static ck_status_t refused_will_topic(ck_ctx_t *x, const void *t, uint16_t n, uint8_t want,
                                      uint8_t alt)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x06, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_props(&b, NULL);
    ck_b_bin(&b, t, n);
    ck_b_bin(&b, "w", 1);
    return expect_refused(x, send_body(x, 0x10, &b), want, alt);
}

/* MQTT-1.5.4-1: an overlong encoding ('/' as C0 AF) in the Will Topic. */
static ck_status_t utf8_overlong_will_topic(ck_ctx_t *x)
{
    return refused_will_topic(x, "a\xC0\xAF" "b", 4, 0x81, 0);
}

/* MQTT-1.5.4-2: U+0000 in the Will Topic. */
static ck_status_t utf8_nul_will_topic(ck_ctx_t *x)
{
    return refused_will_topic(x, "a\0b", 3, 0x81, 0);
}

/* CONNECT with a User Name of raw bytes. */
static ck_status_t refused_user(ck_ctx_t *x, const void *u, uint16_t n)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x82, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_bin(&b, u, n);
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-1.5.4-1 / MQTT-3.1.3-12: the User Name is a UTF-8 string. */
static ck_status_t utf8_bad_user(ck_ctx_t *x)
{
    return refused_user(x, "us\xFF" "er", 5);
}

/* MQTT-1.5.4-2: U+0000 in the User Name. */
static ck_status_t utf8_nul_user(ck_ctx_t *x)
{
    return refused_user(x, "us\0er", 5);
}

/* CONNECT with properties p (and will properties wp when non-NULL). */
static ck_status_t refused_props(ck_ctx_t *x, const ck_buf_t *p, const ck_buf_t *wp,
                                 uint8_t want, uint8_t alt)
{
    ck_connect_opts_t o = {.clean = true, .props = p};
    if (wp) {
        o.will_topic = ck_topic(x, "will");
        o.will_payload = "w";
        o.will_payload_len = 1;
        o.will_props = wp;
    }
    return expect_refused(x, send_connect(x, &o), want, alt);
}

/* MQTT-1.5.4-1: a string property (the will's Content Type) is UTF-8 too. */
static ck_status_t utf8_bad_will_content_type(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_bin(&wp, MQ_PROP_CONTENT_TYPE, "text\xFE", 5);
    return refused_props(x, NULL, &wp, 0x81, 0);
}

/* MQTT-1.5.7-1: both strings of a pair are UTF-8: a bad name. */
static ck_status_t pair_bad_name(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_b_u8(&p, MQ_PROP_USER_PROPERTY);
    ck_b_bin(&p, "k\xC3", 2);
    ck_b_str(&p, "v");
    return refused_props(x, &p, NULL, 0x81, 0);
}

/* MQTT-1.5.7-1: a bad value (U+0000). */
static ck_status_t pair_nul_value(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_b_u8(&p, MQ_PROP_USER_PROPERTY);
    ck_b_str(&p, "k");
    ck_b_bin(&p, "v\0v", 3);
    return refused_props(x, &p, NULL, 0x81, 0);
}

/* MQTT-1.5.4-3: a BOM inside the Will Topic is neither skipped nor stripped:
 * the will arrives on exactly that topic. */
static ck_status_t bom_in_will_topic(ck_ctx_t *x)
{
    char topic[200];
    snprintf(topic, sizeof(topic), "%s/\xEF\xBB\xBFz", ck_topic(x, "bom"));
    ck_client_t *s = subscriber(x, topic, 0);
    if (!s)
        return CK_FAIL;
    ck_connect_opts_t o = {.clean = true, .will_topic = topic, .will_payload = "bye",
                           .will_payload_len = 3};
    ck_client_t *w = conn5(x, &o, NULL);
    if (!w)
        return CK_FAIL;
    send_disconnect(w, 0x04, NULL);
    return ck_expect_pub(x, s, topic, "bye", NULL, true) ? CK_PASS : CK_FAIL;
}

/* MQTT-1.5.4-3: a Client Identifier starting with a BOM is another id than
 * the one without: connecting the second does not take over the first. */
static ck_status_t bom_in_client_id(ck_ctx_t *x)
{
    const char *plain = ck_client_id(x, "b");
    char bom[200];
    snprintf(bom, sizeof(bom), "\xEF\xBB\xBF%s", plain);
    ck_connect_opts_t o1 = {.client_id = bom, .clean = true};
    ck_client_t *a = conn5(x, &o1, NULL);
    if (!a)
        return CK_FAIL;
    ck_connect_opts_t o2 = {.client_id = plain, .clean = true};
    ck_client_t *b = conn5(x, &o2, NULL);
    if (!b)
        return CK_FAIL;
    if (!ck_ping(x, a))
        return ck_fail(x, "the connection with the BOM-prefixed id was dropped when the id "
                          "without BOM connected: the BOM was stripped");
    return CK_PASS;
}

static size_t varint_min_len(uint32_t v)
{
    return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

/* MQTT-1.5.5-1: the server's Variable Byte Integers (remaining length,
 * property length of CONNACK) use the fewest bytes. */
static ck_status_t connack_varints_minimal(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_byte(&pr, MQ_PROP_REQUEST_RESPONSE_INFO, 1);
    ck_connect_opts_t o = {.client_id = "", .clean = true, .props = &pr};
    ck_client_t *c = send_connect(x, &o);
    ck_packet_t p;
    if (!c || !ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &p))
        return CK_FAIL;
    uint32_t rl, pl;
    size_t a = ck_varint_at(p.raw + 1, p.len - 1, &rl);
    if (!a || a != varint_min_len(rl))
        return ck_fail_bytes(x, "a minimal remaining length", NULL, 0, p.raw, p.len);
    size_t b = ck_varint_at(p.raw + 1 + a + 2, p.len - 1 - a - 2, &pl);
    if (!b || b != varint_min_len(pl))
        return ck_fail_bytes(x, "a minimal property length", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* ---- 2.1 / 2.2 fixed header and properties ----------------------------------- */

/* MQTT-2.1.3-1: CONNECT's flags nibble is reserved 0. */
static ck_status_t connect_flags_nibble(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x02, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_refused(x, send_body(x, 0x12, &b), 0x81, 0);
}

/* MQTT-2.1.3-1: PINGREQ's flags nibble is reserved 0. */
static ck_status_t pingreq_flags(ck_ctx_t *x)
{
    static const uint8_t bad[2] = {0xC2, 0x00};
    return ck_dropped_on_bytes(x, bad, 2, 0x81, 0);
}

/* MQTT-2.2.2-1: with no properties the CONNACK still has a property length. */
static ck_status_t connack_has_prop_length(ck_ctx_t *x)
{
    ck_client_t *c = ck_open(x, 5);
    ck_connect_opts_t o = {.clean = true};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    ck_packet_t p;
    if (!c || !ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &p))
        return CK_FAIL;
    uint32_t rl = 0;
    size_t a = ck_varint_at(p.raw + 1, p.len - 1, &rl);
    if (rl < 3)
        return ck_fail_bytes(x, "a CONNACK with a property length (remaining length >= 3)", NULL,
                             0, p.raw, p.len);
    uint32_t pl = 0;
    size_t k = ck_varint_at(p.raw + 1 + a + 2, p.len - 1 - a - 2, &pl);
    if (!k || 2 + k + pl != rl)
        return ck_fail_bytes(x, "property length matching the remaining length", NULL, 0, p.raw,
                             p.len);
    return CK_PASS;
}

/* MQTT-3.1.4-1: a CONNECT of level 5 without its property length does not
 * conform (its Client Identifier length is then read from the wrong bytes). */
static ck_status_t connect_without_prop_length(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, "MQTT");
    ck_b_u8(&b, 5);
    ck_b_u8(&b, 0x02);
    ck_b_u16(&b, 0);
    ck_b_str(&b, "abcdefghijklmnopqrst");
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.4-1 (2.2.2.2): an unknown property identifier is malformed. */
static ck_status_t prop_unknown_id(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_byte(&p, 0x7F, 1);
    return refused_props(x, &p, NULL, 0x81, 0);
}

/* MQTT-3.1.4-1 (2.2.2.2): an identifier not valid for CONNECT is malformed:
 * Topic Alias belongs to PUBLISH. */
static ck_status_t prop_publish_only(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u16(&p, MQ_PROP_TOPIC_ALIAS, 1);
    return refused_props(x, &p, NULL, 0x81, 0);
}

/* ... Server Keep Alive belongs to CONNACK. */
static ck_status_t prop_connack_only(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u16(&p, MQ_PROP_SERVER_KEEP_ALIVE, 10);
    return refused_props(x, &p, NULL, 0x81, 0);
}

/* ... Will Delay Interval belongs to the will properties. */
static ck_status_t prop_will_only_in_connect(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u32(&p, MQ_PROP_WILL_DELAY, 1);
    return refused_props(x, &p, NULL, 0x81, 0);
}

/* ... Session Expiry Interval is not a will property. */
static ck_status_t prop_connect_only_in_will(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_u32(&wp, MQ_PROP_SESSION_EXPIRY, 10);
    return refused_props(x, NULL, &wp, 0x81, 0);
}

/* MQTT-3.1.4-1: a single-valued property twice is a Protocol Error. */
static ck_status_t prop_dup_session_expiry(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u32(&p, MQ_PROP_SESSION_EXPIRY, 10);
    ck_p_u32(&p, MQ_PROP_SESSION_EXPIRY, 10);
    return refused_props(x, &p, NULL, 0x82, 0);
}

static ck_status_t prop_dup_receive_max(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u16(&p, MQ_PROP_RECEIVE_MAXIMUM, 10);
    ck_p_u16(&p, MQ_PROP_RECEIVE_MAXIMUM, 20);
    return refused_props(x, &p, NULL, 0x82, 0);
}

static ck_status_t prop_dup_max_packet(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u32(&p, MQ_PROP_MAXIMUM_PACKET_SIZE, 1000);
    ck_p_u32(&p, MQ_PROP_MAXIMUM_PACKET_SIZE, 1000);
    return refused_props(x, &p, NULL, 0x82, 0);
}

static ck_status_t prop_dup_will_delay(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_u32(&wp, MQ_PROP_WILL_DELAY, 1);
    ck_p_u32(&wp, MQ_PROP_WILL_DELAY, 2);
    return refused_props(x, NULL, &wp, 0x82, 0);
}

static ck_status_t prop_dup_content_type(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_str(&wp, MQ_PROP_CONTENT_TYPE, "a");
    ck_p_str(&wp, MQ_PROP_CONTENT_TYPE, "b");
    return refused_props(x, NULL, &wp, 0x82, 0);
}

/* MQTT-3.1.4-1: a property length past the end of the packet. */
static ck_status_t prop_length_too_long(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, "MQTT");
    ck_b_u8(&b, 5);
    ck_b_u8(&b, 0x02);
    ck_b_u16(&b, 0);
    ck_b_varint(&b, 200);
    ck_p_u32(&b, MQ_PROP_SESSION_EXPIRY, 0);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.4-1: a property value cut by the end of the property block. */
static ck_status_t prop_value_cut(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_b_u8(&p, MQ_PROP_SESSION_EXPIRY);
    ck_b_u16(&p, 0);
    return refused_props(x, &p, NULL, 0x81, 0);
}

/* MQTT-3.1.4-1 (3.1.2.11.3): Receive Maximum 0 is a Protocol Error. */
static ck_status_t receive_max_zero(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u16(&p, MQ_PROP_RECEIVE_MAXIMUM, 0);
    return refused_props(x, &p, NULL, 0x82, 0);
}

/* MQTT-3.1.4-1 (3.1.2.11.4): Maximum Packet Size 0 is a Protocol Error. */
static ck_status_t max_packet_zero(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u32(&p, MQ_PROP_MAXIMUM_PACKET_SIZE, 0);
    return refused_props(x, &p, NULL, 0x82, 0);
}

/* MQTT-3.1.4-1 (3.1.2.11.7): Request Problem Information other than 0/1. */
static ck_status_t problem_info_two(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_byte(&p, MQ_PROP_REQUEST_PROBLEM_INFO, 2);
    return refused_props(x, &p, NULL, 0x82, 0);
}

/* MQTT-3.1.4-1 (3.1.2.11.6): Request Response Information other than 0/1. */
static ck_status_t response_info_two(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_byte(&p, MQ_PROP_REQUEST_RESPONSE_INFO, 2);
    return refused_props(x, &p, NULL, 0x82, 0);
}

/* MQTT-3.1.4-1 (3.1.2.11.10): Authentication Data without a Method. */
static ck_status_t auth_data_without_method(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_bin(&p, MQ_PROP_AUTH_DATA, "xyz", 3);
    return refused_props(x, &p, NULL, 0x82, 0);
}

/* MQTT-3.3.2-14: the will's Response Topic must not contain wildcards. */
static ck_status_t will_response_topic_wildcard(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_str(&wp, MQ_PROP_RESPONSE_TOPIC, "reply/#");
    return refused_props(x, NULL, &wp, 0x82, 0x90);
}

/* MQTT-4.7.0-1: the Will Topic is a Topic Name: no wildcards. */
static ck_status_t will_topic_wildcard(ck_ctx_t *x)
{
    char t[200];
    snprintf(t, sizeof(t), "%s/+", ck_topic(x, "w"));
    return refused_will_topic(x, t, (uint16_t)strlen(t), 0, 0);
}

/* MQTT-3.1.4-5: every property a client may send, User Property repeated
 * with the same name: accepted with CONNACK 0x00. */
static ck_status_t all_client_props_accepted(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u32(&p, MQ_PROP_SESSION_EXPIRY, 0);
    ck_p_u16(&p, MQ_PROP_RECEIVE_MAXIMUM, 100);
    ck_p_u32(&p, MQ_PROP_MAXIMUM_PACKET_SIZE, 65536);
    ck_p_u16(&p, MQ_PROP_TOPIC_ALIAS_MAXIMUM, 5);
    ck_p_byte(&p, MQ_PROP_REQUEST_RESPONSE_INFO, 1);
    ck_p_byte(&p, MQ_PROP_REQUEST_PROBLEM_INFO, 1);
    ck_p_pair(&p, "k", "v1");
    ck_p_pair(&p, "k", "v2");
    ck_buf_t wp = CK_BUF;
    ck_p_u32(&wp, MQ_PROP_WILL_DELAY, 0);
    ck_p_byte(&wp, MQ_PROP_PAYLOAD_FORMAT, 1);
    ck_p_u32(&wp, MQ_PROP_MESSAGE_EXPIRY, 30);
    ck_p_str(&wp, MQ_PROP_CONTENT_TYPE, "text/plain");
    ck_p_str(&wp, MQ_PROP_RESPONSE_TOPIC, "reply/to");
    ck_p_bin(&wp, MQ_PROP_CORRELATION_DATA, "\x01\x02", 2);
    ck_p_pair(&wp, "a", "b");
    ck_connect_opts_t o = {.clean = true, .props = &p, .will_topic = ck_topic(x, "w"),
                           .will_payload = "x", .will_payload_len = 1, .will_props = &wp,
                           .username = "user", .password = "pass"};
    ck_client_t *c = conn5(x, &o, NULL);
    if (!c)
        return CK_FAIL;
    ck_disconnect(c);
    return CK_PASS;
}

/* ---- 3.1 CONNECT -------------------------------------------------------------- */

/* MQTT-3.1.0-1: a PINGREQ first is closed, with no CONNACK and no DISCONNECT. */
static ck_status_t first_not_connect(ck_ctx_t *x)
{
    ck_client_t *c = ck_open(x, 5);
    if (!c)
        return CK_FAIL;
    static const uint8_t ping[2] = {0xC0, 0x00};
    ck_send(c, ping, 2);
    return expect_refused(x, c, 0, 0);
}

/* MQTT-3.1.0-1: an AUTH first is closed as well. */
static ck_status_t first_auth(ck_ctx_t *x)
{
    ck_client_t *c = ck_open(x, 5);
    if (!c)
        return CK_FAIL;
    static const uint8_t auth[4] = {0xF0, 0x02, 0x19, 0x00};
    ck_send(c, auth, 4);
    uint8_t buf[64];
    bool closed;
    size_t n = ck_raw_drain(c, buf, sizeof(buf), CK_WAIT, &closed);
    if (!closed)
        return ck_fail(x, "expected the connection closed within %d ms", CK_WAIT);
    if (n && buf[0] != 0x20)
        return ck_fail_bytes(x, "a close (or a CONNACK >= 0x80)", NULL, 0, buf, n);
    return CK_PASS;
}

/* MQTT-3.1.0-2: a second CONNECT is a Protocol Error. */
static ck_status_t second_connect(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    ck_buf_t b;
    ck_connect_opts_t o = {.client_id = ck_client_id(x, "c"), .clean = true};
    ck_build_connect(x, &b, &o);
    ck_send_buf(c, &b);
    return ck_expect_dropped(x, c, 0x82, 0);
}

/* MQTT-3.1.2-1: a protocol name other than "MQTT". */
static ck_status_t bad_protocol_name(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, "MQTX");
    ck_b_u8(&b, 5);
    ck_b_u8(&b, 0x02);
    ck_b_u16(&b, 0);
    ck_b_props(&b, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_version_refused(x, send_body(x, 0x10, &b));
}

/* MQTT-3.1.2-2: a protocol version the server does not support (6). */
static ck_status_t bad_protocol_version(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, "MQTT");
    ck_b_u8(&b, 6);
    ck_b_u8(&b, 0x02);
    ck_b_u16(&b, 0);
    ck_b_props(&b, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_version_refused(x, send_body(x, 0x10, &b));
}

/* MQTT-3.1.2-3: the reserved connect flag must be 0: malformed. */
static ck_status_t reserved_connect_flag(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x03, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.14.0-1: a refused CONNECT never gets a DISCONNECT (only a CONNACK). */
static ck_status_t no_disconnect_before_connack(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u16(&p, MQ_PROP_RECEIVE_MAXIMUM, 0);
    ck_connect_opts_t o = {.clean = true, .props = &p};
    ck_client_t *c = send_connect(x, &o);
    if (!c)
        return CK_FAIL;
    uint8_t buf[256];
    bool closed;
    size_t n = ck_raw_drain(c, buf, sizeof(buf), CK_WAIT, &closed);
    if (!closed)
        return ck_fail(x, "expected the connection closed within %d ms", CK_WAIT);
    if (n && buf[0] == 0xE0)
        return ck_fail_bytes(x, "no DISCONNECT before a CONNACK", NULL, 0, buf, n);
    if (n && buf[0] != 0x20)
        return ck_fail_bytes(x, "a CONNACK or nothing", NULL, 0, buf, n);
    return CK_PASS;
}

/* A persistent session with a QoS 1 subscription on topic, left by DISCONNECT. */
static bool make_session(ck_ctx_t *x, const char *id, const char *topic, uint32_t expiry)
{
    ck_client_t *c = conn_exp(x, id, true, expiry, NULL);
    if (!c || !ck_subscribed(x, c, topic, 1, 0xff))
        return false;
    ck_disconnect(c);
    return true;
}

/* MQTT-3.1.2-4: Clean Start 1 discards the session: its subscription is gone. */
static ck_status_t clean_start_discards(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    const char *topic = ck_topic(x, "t");
    if (!make_session(x, id, topic, 60))
        return CK_FAIL;
    ck_client_t *c = conn_exp(x, id, true, 60, NULL);
    if (!c)
        return CK_FAIL;
    ck_status_t st = CK_PASS;
    if (!ck_publish_via(x, topic, "old-sub", 1, false, NULL) ||
        !ck_expect_quiet(x, c, CK_QUIET * 2))
        st = ck_fail(x, "a message reached the subscription of the discarded session");
    ck_disconnect(c);
    ck_clear_session(x, id, 5);
    return st;
}

/* MQTT-3.2.2-2: Clean Start 1 gets Session Present 0 even with a session. */
static ck_status_t clean_start_present0(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    if (!make_session(x, id, ck_topic(x, "t"), 60))
        return CK_FAIL;
    ck_packet_t ack;
    ck_client_t *c = conn_exp(x, id, true, 0, &ack);
    if (!c)
        return CK_FAIL;
    ck_disconnect(c);
    if (ack.p.u.connack.session_present)
        return ck_fail(x, "Session Present 1 for Clean Start 1");
    return CK_PASS;
}

/* MQTT-3.1.2-5: Clean Start 0 resumes: the subscription kept the QoS 1
 * message published while the client was away. */
static ck_status_t resume_session(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    const char *topic = ck_topic(x, "t");
    if (!make_session(x, id, topic, 60) || !ck_publish_via(x, topic, "queued", 1, false, NULL))
        return CK_FAIL;
    ck_client_t *c = conn_exp(x, id, false, 60, NULL);
    bool ok = c && ck_expect_pub(x, c, topic, "queued", NULL, true);
    ck_clear_session(x, id, 5);
    return ok ? CK_PASS : CK_FAIL;
}

/* MQTT-3.2.2-3: Clean Start 0 with a session: Session Present 1. */
static ck_status_t present1(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    if (!make_session(x, id, ck_topic(x, "t"), 60))
        return CK_FAIL;
    ck_packet_t ack;
    ck_client_t *c = conn_exp(x, id, false, 60, &ack);
    ck_clear_session(x, id, 5);
    if (!c)
        return CK_FAIL;
    if (!ack.p.u.connack.session_present)
        return ck_fail(x, "Session Present 0, expected 1 (the session had expiry 60)");
    return CK_PASS;
}

/* MQTT-3.2.2-3: Clean Start 0 without a session: Session Present 0. */
static ck_status_t present0_no_session(ck_ctx_t *x)
{
    ck_packet_t ack;
    const char *id = ck_client_id(x, "s");
    ck_client_t *c = conn_exp(x, id, false, 0, &ack);
    if (!c)
        return CK_FAIL;
    ck_disconnect(c);
    if (ack.p.u.connack.session_present)
        return ck_fail(x, "Session Present 1 for a client id never seen");
    return CK_PASS;
}

/* MQTT-3.1.2-6: Clean Start 0 without a session creates one that persists. */
static ck_status_t clean0_creates(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    const char *topic = ck_topic(x, "t");
    ck_client_t *c = conn_exp(x, id, false, 60, NULL);
    if (!c || !ck_subscribed(x, c, topic, 1, 0xff))
        return CK_FAIL;
    ck_disconnect(c);
    ck_packet_t ack;
    c = conn_exp(x, id, false, 60, &ack);
    ck_status_t st = CK_PASS;
    if (!c)
        st = CK_FAIL;
    else if (!ack.p.u.connack.session_present)
        st = ck_fail(x, "the session created by Clean Start 0 was not kept (Session Present 0)");
    ck_clear_session(x, id, 5);
    return st;
}

/* MQTT-3.1.2-23: Session Expiry > 0: the state survives an abrupt close. */
static ck_status_t expiry_keeps_state(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    const char *topic = ck_topic(x, "t");
    ck_client_t *c = conn_exp(x, id, true, 30, NULL);
    if (!c || !ck_subscribed(x, c, topic, 1, 0xff))
        return CK_FAIL;
    ck_close(c); /* no DISCONNECT */
    if (!ck_publish_via(x, topic, "kept", 1, false, NULL))
        return CK_FAIL;
    ck_packet_t ack;
    c = conn_exp(x, id, false, 30, &ack);
    bool ok = c && (ack.p.u.connack.session_present ||
                    ck_fail(x, "Session Present 0 after an abrupt close with expiry 30"));
    ok = ok && ck_expect_pub(x, c, topic, "kept", NULL, true);
    ck_clear_session(x, id, 5);
    return ok ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-23: 0xFFFFFFFF: the session does not expire. */
static ck_status_t expiry_never(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    if (!make_session(x, id, ck_topic(x, "t"), 0xFFFFFFFFu))
        return CK_FAIL;
    ck_packet_t ack;
    ck_client_t *c = conn_exp(x, id, false, 0xFFFFFFFFu, &ack);
    ck_clear_session(x, id, 5);
    if (!c)
        return CK_FAIL;
    if (!ack.p.u.connack.session_present)
        return ck_fail(x, "Session Present 0 for a session with expiry 0xFFFFFFFF");
    return CK_PASS;
}

/* MQTT-4.1.0-2: Session Expiry absent (0): the session ends with the
 * connection. */
static ck_status_t expiry_zero_discards(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    const char *topic = ck_topic(x, "t");
    if (!make_session(x, id, topic, 0))
        return CK_FAIL;
    ck_packet_t ack;
    ck_client_t *c = conn_exp(x, id, false, 0, &ack);
    if (!c)
        return CK_FAIL;
    if (ack.p.u.connack.session_present)
        return ck_fail(x, "Session Present 1 although the session had expiry 0");
    if (!ck_publish_via(x, topic, "gone", 1, false, NULL) || !ck_expect_quiet(x, c, CK_QUIET * 2))
        return ck_fail(x, "the subscription of an expired session still delivers");
    return CK_PASS;
}

/* MQTT-4.1.0-2: Session Expiry 1 s: discarded once the interval passed. */
static ck_status_t expiry_one_second(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    if (!make_session(x, id, ck_topic(x, "t"), 1))
        return CK_FAIL;
    ck_sleep_ms(2300);
    ck_packet_t ack;
    ck_client_t *c = conn_exp(x, id, false, 0, &ack);
    if (!c)
        return CK_FAIL;
    if (ack.p.u.connack.session_present)
        return ck_fail(x, "Session Present 1 2.3 s after a close with Session Expiry 1");
    return CK_PASS;
}

/* MQTT-4.1.0-2: a Session Expiry of 0 on DISCONNECT ends the session then. */
static ck_status_t disconnect_sets_expiry_zero(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    ck_client_t *c = conn_exp(x, id, true, 60, NULL);
    if (!c || !ck_subscribed(x, c, ck_topic(x, "t"), 1, 0xff))
        return CK_FAIL;
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_SESSION_EXPIRY, 0);
    send_disconnect(c, 0x00, &pr);
    ck_close(c);
    ck_packet_t ack;
    c = conn_exp(x, id, false, 0, &ack);
    if (!c)
        return CK_FAIL;
    if (ack.p.u.connack.session_present)
        return ck_fail(x, "Session Present 1 after DISCONNECT with Session Expiry 0");
    return CK_PASS;
}

/* MQTT-3.1.2-23: a Session Expiry raised on DISCONNECT keeps the session. */
static ck_status_t disconnect_raises_expiry(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    ck_client_t *c = conn_exp(x, id, true, 1, NULL);
    if (!c || !ck_subscribed(x, c, ck_topic(x, "t"), 1, 0xff))
        return CK_FAIL;
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_SESSION_EXPIRY, 60);
    send_disconnect(c, 0x00, &pr);
    ck_close(c);
    ck_sleep_ms(1600);
    ck_packet_t ack;
    c = conn_exp(x, id, false, 60, &ack);
    ck_clear_session(x, id, 5);
    if (!c)
        return CK_FAIL;
    if (!ack.p.u.connack.session_present)
        return ck_fail(x, "Session Present 0: the expiry 60 sent on DISCONNECT was not used");
    return CK_PASS;
}

/* MQTT-4.13.1-1 (3.14.2.2.2): expiry 0 at CONNECT, non-zero on DISCONNECT is
 * a Protocol Error. */
static ck_status_t disconnect_expiry_from_zero(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_SESSION_EXPIRY, 60);
    send_disconnect(c, 0x00, &pr);
    ck_status_t st = ck_expect_dropped(x, c, 0x82, 0);
    ck_clear_session(x, ck_client_id(x, "c"), 5);
    return st;
}

/* MQTT-4.1.0-1: the session is not discarded while the connection is open,
 * even for longer than its expiry. */
static ck_status_t session_kept_while_open(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "t");
    ck_client_t *c = conn_exp(x, ck_client_id(x, "s"), true, 1, NULL);
    if (!c || !ck_subscribed(x, c, topic, 0, 0xff))
        return CK_FAIL;
    ck_sleep_ms(1500);
    if (!ck_publish_via(x, topic, "still", 0, false, NULL))
        return CK_FAIL;
    bool ok = ck_expect_pub(x, c, topic, "still", NULL, true);
    ck_disconnect(c);
    return ok ? CK_PASS : CK_FAIL;
}

/* ---- wills ----------------------------------------------------------------------- */

/* A will client for topic with will properties wp, session expiry `expiry`. */
static ck_client_t *will_client(ck_ctx_t *x, const char *id, const char *topic,
                                const ck_buf_t *wp, uint8_t qos, bool retain, uint32_t expiry)
{
    ck_buf_t pr = CK_BUF;
    if (expiry)
        ck_p_u32(&pr, MQ_PROP_SESSION_EXPIRY, expiry);
    ck_connect_opts_t o = {.client_id = id, .clean = true, .props = &pr, .will_topic = topic,
                           .will_payload = "will", .will_payload_len = 4, .will_qos = qos,
                           .will_retain = retain, .will_props = wp};
    return conn5(x, &o, NULL);
}

/* MQTT-3.1.2-7: the will is stored and published when the connection closes
 * without DISCONNECT. */
static ck_status_t will_on_close(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, NULL, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    ck_close(w);
    return ck_expect_pub(x, s, topic, "will", NULL, true) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-8: the will is published when the server closes the connection
 * for a protocol error. */
static ck_status_t will_on_protocol_error(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, NULL, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    static const uint8_t bad[5] = {0x36, 0x03, 0x00, 0x01, 'a'}; /* PUBLISH QoS 3 */
    ck_send(w, bad, sizeof(bad));
    return ck_expect_pub(x, s, topic, "will", NULL, true) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-8: DISCONNECT 0x04 (Disconnect with Will Message) publishes it. */
static ck_status_t will_on_disconnect_04(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, NULL, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    send_disconnect(w, 0x04, NULL);
    return ck_expect_pub(x, s, topic, "will", NULL, true) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-8: a DISCONNECT with an error code (0x80) publishes the will. */
static ck_status_t will_on_disconnect_80(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, NULL, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    send_disconnect(w, 0x80, NULL);
    return ck_expect_pub(x, s, topic, "will", NULL, true) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.14.4-3: DISCONNECT 0x00 discards the will. */
static ck_status_t will_discarded_00(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, NULL, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    send_disconnect(w, 0x00, NULL);
    ck_close(w);
    return ck_expect_quiet(x, s, CK_QUIET * 2) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.14.4-3: a DISCONNECT without reason code means 0x00: no will. */
static ck_status_t will_discarded_short(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, NULL, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    ck_disconnect(w);
    return ck_expect_quiet(x, s, CK_QUIET * 2) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-10: once published, the will is removed from the session: a
 * later reconnection without will and another abrupt close send nothing. */
static ck_status_t will_removed_after_publish(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    const char *id = ck_client_id(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, id, topic, NULL, 0, false, 60) : NULL;
    if (!w)
        return CK_FAIL;
    ck_close(w);
    if (!ck_expect_pub(x, s, topic, "will", NULL, true))
        return CK_FAIL;
    w = conn_exp(x, id, false, 60, NULL);
    if (!w)
        return CK_FAIL;
    ck_close(w);
    bool ok = ck_expect_quiet(x, s, CK_QUIET * 2);
    ck_clear_session(x, id, 5);
    return ok ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-9: Will Flag 1 but no Will Properties/Topic/Payload: refused. */
static ck_status_t will_fields_missing(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x06, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.2-11: Will Flag 0 with Will QoS 1: malformed. */
static ck_status_t will_qos_without_will(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x0A, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.2-12: Will QoS 3: malformed. */
static ck_status_t will_qos3(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x1E, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_props(&b, NULL);
    ck_b_str(&b, ck_topic(x, "w"));
    ck_b_bin(&b, "w", 1);
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.2-13: Will Flag 0 with Will Retain 1: malformed. */
static ck_status_t will_retain_without_will(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x22, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.2-14: Will Retain 0: published non-retained; nothing is kept. */
static ck_status_t will_not_retained(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, NULL, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    ck_close(w);
    ck_packet_t p;
    if (!ck_expect_pub(x, s, topic, "will", &p, true))
        return CK_FAIL;
    if (p.p.u.publish.retain)
        return ck_fail(x, "the will with Will Retain 0 arrived with RETAIN 1");
    ck_client_t *s2 = subscriber(x, topic, 0);
    if (!s2)
        return CK_FAIL;
    return ck_expect_quiet(x, s2, CK_QUIET) ? CK_PASS
                                             : ck_fail(x, "a will with Will Retain 0 was retained");
}

/* MQTT-3.1.2-15: Will Retain 1: published as a retained message. */
static ck_status_t will_retained(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_buf_t pr = CK_BUF;
    ck_connect_opts_t o = {.client_id = ck_client_id(x, "w"), .clean = true, .props = &pr,
                           .will_topic = topic, .will_payload = "will", .will_payload_len = 4,
                           .will_retain = true};
    ck_client_t *w = send_connect(x, &o);
    ck_packet_t ack;
    if (!w || !ck_expect(x, w, MQ_PKT_CONNACK, CK_WAIT, &ack))
        return CK_FAIL;
    if (ack.p.u.connack.rc == 0x9A)
        return ck_skip(x, "the server refused Will Retain with 0x9A (retain not supported)");
    if (ack.p.u.connack.rc != 0)
        return ck_fail(x, "CONNACK 0x%02x for a will with Will Retain 1", ack.p.u.connack.rc);
    if (mq_props_has(&ack.p.props, MQ_PROP_RETAIN_AVAILABLE) && !ack.p.props.retain_available)
        return ck_fail(x, "Retain Available 0 but a Will Retain 1 CONNECT was accepted "
                          "(MQTT-3.2.2-13)");
    ck_close(w);
    ck_sleep_ms(CK_QUIET);
    ck_client_t *s = subscriber(x, topic, 0);
    ck_packet_t p;
    bool ok = s && ck_expect_pub(x, s, topic, "will", &p, true);
    if (ok && !p.p.u.publish.retain)
        ok = ck_fail(x, "the retained will arrived with RETAIN 0") == CK_PASS;
    ck_clear_retained(x, topic);
    return ok ? CK_PASS : CK_FAIL;
}

/* MQTT-3.2.2-13: with Retain Available 0 a Will Retain 1 is refused (0x9A);
 * otherwise it is accepted. */
static ck_status_t will_retain_vs_available(ck_ctx_t *x)
{
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, NULL, &ack);
    if (!c)
        return CK_FAIL;
    bool avail = !mq_props_has(&ack.p.props, MQ_PROP_RETAIN_AVAILABLE) ||
                 ack.p.props.retain_available;
    const char *topic = ck_topic(x, "w");
    ck_connect_opts_t o = {.client_id = ck_client_id(x, "w"), .clean = true, .will_topic = topic,
                           .will_payload = "", .will_payload_len = 0, .will_retain = true};
    ck_client_t *w = send_connect(x, &o);
    if (!avail)
        return expect_refused(x, w, 0x9A, 0);
    if (!w || !ck_expect(x, w, MQ_PKT_CONNACK, CK_WAIT, &ack))
        return CK_FAIL;
    ck_disconnect(w);
    if (ack.p.u.connack.rc != 0)
        return ck_fail(x, "Retain Available but Will Retain 1 refused with 0x%02x",
                       ack.p.u.connack.rc);
    return CK_PASS;
}

/* MQTT-3.2.2-12: a Will QoS above the announced Maximum QoS is refused;
 * without Maximum QoS a Will QoS 2 is accepted. */
static ck_status_t will_qos_vs_maximum(ck_ctx_t *x)
{
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, NULL, &ack);
    if (!c)
        return CK_FAIL;
    uint8_t maxq = mq_props_has(&ack.p.props, MQ_PROP_MAXIMUM_QOS) ? ack.p.props.maximum_qos : 2;
    ck_connect_opts_t o = {.client_id = ck_client_id(x, "w"), .clean = true,
                           .will_topic = ck_topic(x, "w"), .will_payload = "w",
                           .will_payload_len = 1, .will_qos = 2};
    ck_client_t *w = send_connect(x, &o);
    if (maxq < 2)
        return expect_refused(x, w, 0x9B, 0);
    if (!w || !ck_expect(x, w, MQ_PKT_CONNACK, CK_WAIT, &ack))
        return CK_FAIL;
    ck_disconnect(w);
    if (ack.p.u.connack.rc != 0)
        return ck_fail(x, "no Maximum QoS announced but Will QoS 2 refused with 0x%02x",
                       ack.p.u.connack.rc);
    return CK_PASS;
}

/* MQTT-3.1.2-8: with a Will Delay Interval the will waits for it. */
static ck_status_t will_delay_elapses(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    const char *id = ck_client_id(x, "w");
    ck_buf_t wp = CK_BUF;
    ck_p_u32(&wp, MQ_PROP_WILL_DELAY, 1);
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, id, topic, &wp, 0, false, 60) : NULL;
    if (!w)
        return CK_FAIL;
    int64_t t0 = ck_now_ms();
    ck_close(w);
    ck_packet_t p;
    bool ok = ck_expect_pub(x, s, topic, "will", &p, true);
    int64_t dt = ck_now_ms() - t0;
    ck_clear_session(x, id, 5);
    if (!ok)
        return CK_FAIL;
    if (dt < 800)
        return ck_fail(x, "the will with Will Delay 1 s came after %lld ms", (long long)dt);
    return CK_PASS;
}

/* MQTT-3.1.3-9: reconnecting within the Will Delay: no will. */
static ck_status_t will_delay_reconnect(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    const char *id = ck_client_id(x, "w");
    ck_buf_t wp = CK_BUF;
    ck_p_u32(&wp, MQ_PROP_WILL_DELAY, 2);
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, id, topic, &wp, 0, false, 60) : NULL;
    if (!w)
        return CK_FAIL;
    ck_close(w);
    ck_sleep_ms(200);
    ck_client_t *w2 = conn_exp(x, id, false, 60, NULL);
    if (!w2)
        return CK_FAIL;
    bool ok = ck_expect_quiet(x, s, 2600);
    ck_disconnect(w2);
    ck_clear_session(x, id, 5);
    return ok ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-8: the session ends (expiry 0) before the Will Delay: the will
 * is published when the session ends. */
static ck_status_t will_at_session_end(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_buf_t wp = CK_BUF;
    ck_p_u32(&wp, MQ_PROP_WILL_DELAY, 60);
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, &wp, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    ck_close(w);
    return ck_expect_pub(x, s, topic, "will", NULL, true) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-8: session expiry 1 s, Will Delay 60 s: published at ~1 s. */
static ck_status_t will_at_session_expiry(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    const char *id = ck_client_id(x, "w");
    ck_buf_t wp = CK_BUF;
    ck_p_u32(&wp, MQ_PROP_WILL_DELAY, 60);
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, id, topic, &wp, 0, false, 1) : NULL;
    if (!w)
        return CK_FAIL;
    ck_close(w);
    bool ok = ck_expect_pub_within(x, s, CK_WAIT + 1000, topic, "will", NULL, true);
    ck_clear_session(x, id, 5);
    return ok ? CK_PASS : CK_FAIL;
}

/* A will with properties wp, triggered by 0x04; the forwarded PUBLISH in *p. */
static bool will_forwarded(ck_ctx_t *x, const ck_buf_t *wp, ck_packet_t *p)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, wp, 0, false, 0) : NULL;
    if (!w)
        return false;
    send_disconnect(w, 0x04, NULL);
    return ck_expect_pub(x, s, topic, "will", p, true);
}

/* MQTT-3.3.2-4: the will's Payload Format Indicator is forwarded unaltered. */
static ck_status_t will_payload_format(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_byte(&wp, MQ_PROP_PAYLOAD_FORMAT, 1);
    ck_packet_t p;
    if (!will_forwarded(x, &wp, &p))
        return CK_FAIL;
    if (!mq_props_has(&p.p.props, MQ_PROP_PAYLOAD_FORMAT) || p.p.props.payload_format != 1)
        return ck_fail_bytes(x, "the will with Payload Format Indicator 1", NULL, 0, p.raw,
                             p.len);
    return CK_PASS;
}

/* MQTT-3.3.2-20: the will's Content Type is forwarded unaltered. */
static ck_status_t will_content_type(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_str(&wp, MQ_PROP_CONTENT_TYPE, "application/x-ck");
    ck_packet_t p;
    if (!will_forwarded(x, &wp, &p))
        return CK_FAIL;
    if (!ck_str_eq(p.p.props.content_type, "application/x-ck", 16))
        return ck_fail_bytes(x, "the will with Content Type application/x-ck", NULL, 0, p.raw,
                             p.len);
    return CK_PASS;
}

/* MQTT-3.3.2-15: the will's Response Topic is forwarded unaltered. */
static ck_status_t will_response_topic(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_str(&wp, MQ_PROP_RESPONSE_TOPIC, "reply/here");
    ck_packet_t p;
    if (!will_forwarded(x, &wp, &p))
        return CK_FAIL;
    if (!ck_str_eq(p.p.props.response_topic, "reply/here", 10))
        return ck_fail_bytes(x, "the will with Response Topic reply/here", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.2-16: the will's Correlation Data is forwarded unaltered. */
static ck_status_t will_correlation_data(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_bin(&wp, MQ_PROP_CORRELATION_DATA, "\x00\xFF\x10", 3);
    ck_packet_t p;
    if (!will_forwarded(x, &wp, &p))
        return CK_FAIL;
    if (!ck_str_eq(p.p.props.correlation_data, "\x00\xFF\x10", 3))
        return ck_fail_bytes(x, "the will with Correlation Data 00ff10", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.1.3-10: the will's User Properties are forwarded in order. */
static ck_status_t will_user_props_order(ck_ctx_t *x)
{
    static const char *const kv[][2] = {{"z", "1"}, {"a", "2"}, {"z", "3"}, {"m", "\xC3\xA9"}};
    ck_buf_t wp = CK_BUF;
    for (size_t i = 0; i < 4; i++)
        ck_p_pair(&wp, kv[i][0], kv[i][1]);
    ck_packet_t p;
    if (!will_forwarded(x, &wp, &p))
        return CK_FAIL;
    mq_props_iter_t it;
    mq_props_begin(&p.p.props, &it);
    uint8_t id;
    mq_str_t k, v;
    size_t i = 0;
    while (mq_props_next(&it, &id, NULL, &k, &v)) {
        if (id != MQ_PROP_USER_PROPERTY)
            continue;
        if (i >= 4 || !ck_str_eq(k, kv[i][0], strlen(kv[i][0])) ||
            !ck_str_eq(v, kv[i][1], strlen(kv[i][1])))
            return ck_fail_bytes(x, "user properties z=1 a=2 z=3 m=\xC3\xA9 in this order", NULL,
                                 0, p.raw, p.len);
        i++;
    }
    if (i != 4)
        return ck_fail_bytes(x, "4 user properties", NULL, 0, p.raw, p.len);
    return CK_PASS;
}

/* MQTT-3.3.2-6: the will's Message Expiry Interval is forwarded, reduced by
 * the time it waited (so at most the value sent). */
static ck_status_t will_message_expiry(ck_ctx_t *x)
{
    ck_buf_t wp = CK_BUF;
    ck_p_u32(&wp, MQ_PROP_MESSAGE_EXPIRY, 60);
    ck_packet_t p;
    if (!will_forwarded(x, &wp, &p))
        return CK_FAIL;
    if (!mq_props_has(&p.p.props, MQ_PROP_MESSAGE_EXPIRY) || p.p.props.message_expiry > 60 ||
        p.p.props.message_expiry < 55)
        return ck_fail_bytes(x, "the will with a Message Expiry Interval of 55..60", NULL, 0,
                             p.raw, p.len);
    return CK_PASS;
}

/* ---- user name / password flags -------------------------------------------------- */

/* MQTT-3.1.2-16: User Name Flag 0 but a User Name in the payload. */
static ck_status_t user_present_without_flag(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x02, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, "user");
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.2-17: User Name Flag 1 but no User Name. */
static ck_status_t user_flag_without_user(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x82, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.2-18: Password Flag 0 but a Password in the payload. */
static ck_status_t password_present_without_flag(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0x82, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, "user");
    ck_b_str(&b, "secret");
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* MQTT-3.1.2-19: Password Flag 1 but no Password. */
static ck_status_t password_flag_without_password(ck_ctx_t *x)
{
    ck_buf_t b = CK_BUF;
    conn_head(&b, 0xC2, 0, NULL);
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_b_str(&b, "user");
    return expect_refused(x, send_body(x, 0x10, &b), 0x81, 0);
}

/* ---- keepalive ------------------------------------------------------------------- */

/* MQTT-3.1.2-22: keepalive 1 s and silence: closed within 1.5 x the keepalive
 * (the one the server announced, if any); a DISCONNECT, if any, is 0x8D. */
static ck_status_t keepalive_enforced(ck_ctx_t *x)
{
    ck_connect_opts_t o = {.clean = true, .keepalive = 1};
    ck_packet_t ack;
    ck_client_t *c = conn5(x, &o, &ack);
    if (!c)
        return CK_FAIL;
    int64_t t0 = ck_now_ms();
    unsigned ka = 1;
    if (mq_props_has(&ack.p.props, MQ_PROP_SERVER_KEEP_ALIVE))
        ka = ack.p.props.server_keep_alive;
    if (ka == 0 || ka > 4)
        return ck_skip(x, "the server set Server Keep Alive %u instead of 1", ka);
    ck_packet_t p;
    int r = ck_recv(x, c, (int)ka * 1500 + 1500, &p);
    if (r == 1 && p.type == MQ_PKT_DISCONNECT) {
        if (p.p.u.disconnect.reason != 0x8D)
            return ck_fail(x, "keepalive DISCONNECT with 0x%02x, expected 0x8D",
                           p.p.u.disconnect.reason);
        r = ck_recv(x, c, 1000, &p);
    }
    int64_t dt = ck_now_ms() - t0;
    if (r == 1)
        return ck_fail_bytes(x, "a close on keepalive expiry", NULL, 0, p.raw, p.len);
    if (r == 0)
        return ck_fail(x, "not closed %lld ms after the last packet with keepalive %u s",
                       (long long)dt, ka);
    if (r < 0 && dt < (int64_t)ka * 1000 - 100)
        return r == -2 ? CK_FAIL
                       : ck_fail(x, "closed after %lld ms, before the keepalive of %u s",
                                 (long long)dt, ka);
    return CK_PASS;
}

/* MQTT-3.2.2-22: no Server Keep Alive: the client's keepalive (2 s) is used:
 * open after 2.2 s of silence, closed by 1.5 x 2 s. */
static ck_status_t keepalive_client_value_used(ck_ctx_t *x)
{
    ck_connect_opts_t o = {.clean = true, .keepalive = 2};
    ck_packet_t ack;
    ck_client_t *c = conn5(x, &o, &ack);
    if (!c)
        return CK_FAIL;
    if (mq_props_has(&ack.p.props, MQ_PROP_SERVER_KEEP_ALIVE))
        return ck_skip(x, "the server sent Server Keep Alive %u",
                       ack.p.props.server_keep_alive);
    int64_t t0 = ck_now_ms();
    if (!ck_expect_quiet(x, c, 2200))
        return ck_fail(x, "closed before 2.2 s with keepalive 2 s");
    ck_packet_t p;
    int r = ck_recv(x, c, (int)(4500 - (ck_now_ms() - t0)), &p);
    if (r == 1 && p.type == MQ_PKT_DISCONNECT && p.p.u.disconnect.reason == 0x8D)
        r = ck_recv(x, c, 500, &p);
    if (r == -1)
        return CK_PASS;
    if (r == 1)
        return ck_fail_bytes(x, "a close (DISCONNECT 0x8D allowed)", NULL, 0, p.raw, p.len);
    return r == 0 ? ck_fail(x, "keepalive 2 s: still open %lld ms after the last packet "
                               "(1.5 x = 3000 ms, 1500 ms slack)",
                            (long long)(ck_now_ms() - t0))
                  : CK_FAIL;
}

/* MQTT-3.12.4-1: every PINGREQ gets a PINGRESP, and they keep a keepalive-1
 * connection open past 1.5 s. */
static ck_status_t pingresp(ck_ctx_t *x)
{
    ck_connect_opts_t o = {.clean = true, .keepalive = 1};
    ck_client_t *c = conn5(x, &o, NULL);
    if (!c)
        return CK_FAIL;
    for (int i = 0; i < 4; i++) {
        ck_sleep_ms(600);
        if (!ck_ping(x, c))
            return CK_FAIL;
    }
    return CK_PASS;
}

/* MQTT-3.2.2-21/22: a Server Keep Alive, when sent, is what the server
 * enforces: silence for longer than 1.5 x it closes (checked up to 4 s). */
static ck_status_t server_keepalive_enforced(ck_ctx_t *x)
{
    ck_connect_opts_t o = {.clean = true, .keepalive = 0};
    ck_packet_t ack;
    ck_client_t *c = conn5(x, &o, &ack);
    if (!c)
        return CK_FAIL;
    if (!mq_props_has(&ack.p.props, MQ_PROP_SERVER_KEEP_ALIVE) ||
        ack.p.props.server_keep_alive == 0) {
        /* No Server Keep Alive: keepalive 0 stays 0: no close for idleness. */
        return ck_expect_quiet(x, c, 2000) ? CK_PASS : CK_FAIL;
    }
    unsigned ka = ack.p.props.server_keep_alive;
    if (ka > 4)
        return ck_skip(x, "Server Keep Alive %u s is too long to wait for", ka);
    ck_packet_t p;
    int r = ck_recv(x, c, (int)ka * 1500 + 1500, &p);
    if (r == 1 && p.type == MQ_PKT_DISCONNECT && p.p.u.disconnect.reason == 0x8D)
        r = ck_recv(x, c, 1000, &p);
    if (r == -1)
        return CK_PASS;
    if (r == 1)
        return ck_fail_bytes(x, "a close (DISCONNECT 0x8D allowed)", NULL, 0, p.raw, p.len);
    return r == 0 ? ck_fail(x, "Server Keep Alive %u s not enforced", ka) : CK_FAIL;
}

/* ---- CONNACK ----------------------------------------------------------------------- */

/* MQTT-3.2.0-1: CONNACK comes before anything else, even when the client
 * pipelines a SUBSCRIBE behind its CONNECT. */
static ck_status_t connack_first(ck_ctx_t *x)
{
    ck_client_t *c = ck_open(x, 5);
    ck_connect_opts_t o = {.clean = true};
    ck_buf_t b, s;
    ck_build_connect(x, &b, &o);
    ck_build_subscribe(&s, 5, 3, ck_topic(x, "t"), 0, NULL);
    ck_b_raw(&b, s.b, s.n);
    ck_packet_t p;
    if (!c || !ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &p))
        return CK_FAIL;
    if (p.p.u.connack.rc != 0)
        return ck_fail(x, "CONNACK 0x%02x", p.p.u.connack.rc);
    return ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.2.0-2: one CONNACK only: a PINGREQ afterwards gets a PINGRESP and
 * nothing else follows. */
static ck_status_t one_connack(ck_ctx_t *x)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c || !ck_ping(x, c))
        return CK_FAIL;
    return ck_expect_quiet(x, c, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.2.2-1: CONNACK flag bits 7-1 are 0. */
static ck_status_t connack_flags_reserved(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    if (!make_session(x, id, ck_topic(x, "t"), 60))
        return CK_FAIL;
    ck_packet_t ack;
    ck_client_t *c = conn_exp(x, id, false, 60, &ack);
    uint8_t flags = c ? ack.raw[2] : 0;
    ck_clear_session(x, id, 5);
    if (!c)
        return CK_FAIL;
    if (flags & 0xFE)
        return ck_fail_bytes(x, "CONNACK flags 0x00 or 0x01", NULL, 0, ack.raw, ack.len);
    return CK_PASS;
}

/* MQTT-3.2.2-6: a refusal (0x8C for an unknown method) has Session Present 0
 * even when the client id has a session. */
static ck_status_t refused_present0(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "s");
    if (!make_session(x, id, ck_topic(x, "t"), 60))
        return CK_FAIL;
    ck_buf_t p = CK_BUF;
    ck_p_u32(&p, MQ_PROP_SESSION_EXPIRY, 60);
    ck_p_str(&p, MQ_PROP_AUTH_METHOD, "CK-NO-SUCH-METHOD");
    ck_connect_opts_t o = {.client_id = id, .clean = false, .props = &p};
    ck_status_t st = expect_refused(x, send_connect(x, &o), 0, 0);
    ck_clear_session(x, id, 5);
    return st;
}

/* MQTT-4.12.0-1: an unsupported Authentication Method: CONNACK 0x8C or 0x87
 * (or none) and the close. */
static ck_status_t bad_auth_method(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_str(&p, MQ_PROP_AUTH_METHOD, "CK-NO-SUCH-METHOD");
    return refused_props(x, &p, NULL, 0x8C, 0x87);
}

/* MQTT-3.2.2-19: no CONNACK larger than the client's Maximum Packet Size,
 * even a refusal that could carry a Reason String. */
static ck_status_t connack_within_max_packet(ck_ctx_t *x)
{
    ck_buf_t p = CK_BUF;
    ck_p_u32(&p, MQ_PROP_MAXIMUM_PACKET_SIZE, 16);
    ck_p_str(&p, MQ_PROP_AUTH_METHOD, "CK-NO-SUCH-METHOD-WITH-A-LONG-NAME");
    ck_connect_opts_t o = {.clean = true, .props = &p};
    ck_client_t *c = send_connect(x, &o);
    if (!c)
        return CK_FAIL;
    uint8_t buf[512];
    bool closed;
    size_t n = ck_raw_drain(c, buf, sizeof(buf), CK_WAIT, &closed);
    if (n > 16)
        return ck_fail_bytes(x, "a CONNACK of at most 16 bytes", NULL, 0, buf, n);
    return CK_PASS;
}

/* MQTT-3.2.2-9: the CONNACK's capability properties are well-formed and
 * consistent: Maximum QoS 0/1 only, Receive Maximum and Maximum Packet Size
 * non-zero, *_Available 0/1 (the codec checks the value rules). */
static ck_status_t connack_props_consistent(ck_ctx_t *x)
{
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, NULL, &ack);
    if (!c)
        return CK_FAIL;
    const mq_props_t *pr = &ack.p.props;
    if (mq_props_has(pr, MQ_PROP_MAXIMUM_QOS) && pr->maximum_qos > 1)
        return ck_fail(x, "Maximum QoS %u sent (only 0 or 1 may be sent)", pr->maximum_qos);
    if (mq_props_has(pr, MQ_PROP_ASSIGNED_CLIENT_ID))
        return ck_fail(x, "Assigned Client Identifier for a client that sent one");
    if (mq_props_has(pr, MQ_PROP_AUTH_METHOD))
        return ck_fail(x, "Authentication Method in the CONNACK, none in the CONNECT "
                          "(MQTT-4.12.0-6)");
    return CK_PASS;
}

/* MQTT-3.2.2-10: SUBSCRIBE with QoS 0, 1 and 2 is accepted whatever the
 * Maximum QoS; the granted QoS does not exceed it. */
static ck_status_t subscribe_any_qos(ck_ctx_t *x)
{
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, NULL, &ack);
    if (!c)
        return CK_FAIL;
    uint8_t maxq = mq_props_has(&ack.p.props, MQ_PROP_MAXIMUM_QOS) ? ack.p.props.maximum_qos : 2;
    for (uint8_t q = 0; q <= 2; q++) {
        char s[16];
        snprintf(s, sizeof(s), "q%u", q);
        ck_buf_t b;
        ck_build_subscribe(&b, 5, (uint16_t)(10 + q), ck_topic(x, s), q, NULL);
        ck_packet_t p;
        if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p))
            return CK_FAIL;
        mq_sublist_iter_t it;
        mq_codec_filters_begin(&p.p.u.sub, false, &it);
        int code = mq_codec_reasons_next(&it);
        if (code < 0 || code > q || code > maxq)
            return ck_fail(x, "SUBACK 0x%02x for requested QoS %u (Maximum QoS %u)", code, q,
                           maxq);
    }
    return CK_PASS;
}

/* MQTT-3.3.2-12: the Topic Alias Maximum announced is honoured: an alias
 * equal to it is accepted and resolves. */
static ck_status_t server_topic_alias_max(ck_ctx_t *x)
{
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, NULL, &ack);
    if (!c)
        return CK_FAIL;
    uint16_t tam = mq_props_has(&ack.p.props, MQ_PROP_TOPIC_ALIAS_MAXIMUM)
                       ? ack.p.props.topic_alias_maximum
                       : 0;
    if (!tam)
        return ck_skip(x, "Topic Alias Maximum 0: the server accepts no topic aliases");
    const char *topic = ck_topic(x, "ta");
    ck_client_t *s = subscriber(x, topic, 0);
    if (!s)
        return CK_FAIL;
    ck_buf_t pr = CK_BUF, b;
    ck_p_u16(&pr, MQ_PROP_TOPIC_ALIAS, tam);
    ck_build_publish(&b, 5, topic, "one", 3, 0, false, false, 0, &pr);
    ck_send_buf(c, &b);
    ck_build_publish(&b, 5, "", "two", 3, 0, false, false, 0, &pr);
    ck_send_buf(c, &b);
    if (!ck_expect_pub(x, s, topic, "one", NULL, true) ||
        !ck_expect_pub(x, s, topic, "two", NULL, true))
        return CK_FAIL;
    return ck_ping(x, c) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-24: no packet larger than the client's Maximum Packet Size:
 * a too-large message is skipped, the next one arrives. */
static ck_status_t max_packet_size_honoured(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "big");
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_MAXIMUM_PACKET_SIZE, 128);
    ck_connect_opts_t o = {.clean = true, .props = &pr};
    ck_client_t *s = conn5(x, &o, NULL);
    if (!s || !ck_subscribed(x, s, topic, 0, 0xff))
        return CK_FAIL;
    char big[301];
    memset(big, 'b', 300);
    big[300] = '\0';
    if (!ck_publish_via(x, topic, big, 0, false, NULL) ||
        !ck_publish_via(x, topic, "small", 0, false, NULL))
        return CK_FAIL;
    return ck_expect_pub(x, s, topic, "small", NULL, true) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.2-25: the too-large QoS 1 message counts as sent: with Receive
 * Maximum 1 the next QoS 1 message is not held back behind it. */
static ck_status_t too_large_counts_as_sent(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "big");
    ck_buf_t pr = CK_BUF;
    ck_p_u32(&pr, MQ_PROP_MAXIMUM_PACKET_SIZE, 128);
    ck_p_u16(&pr, MQ_PROP_RECEIVE_MAXIMUM, 1);
    ck_connect_opts_t o = {.clean = true, .props = &pr};
    ck_packet_t ack;
    ck_client_t *s = conn5(x, &o, &ack);
    if (!s)
        return CK_FAIL;
    if (mq_props_has(&ack.p.props, MQ_PROP_MAXIMUM_QOS) && ack.p.props.maximum_qos < 1)
        return ck_skip(x, "Maximum QoS 0");
    if (!ck_subscribed(x, s, topic, 1, 0xff))
        return CK_FAIL;
    char big[301];
    memset(big, 'b', 300);
    big[300] = '\0';
    if (!ck_publish_via(x, topic, big, 1, false, NULL) ||
        !ck_publish_via(x, topic, "small", 1, false, NULL))
        return CK_FAIL;
    return ck_expect_pub(x, s, topic, "small", NULL, true) ? CK_PASS : CK_FAIL;
}

/* Receives n PUBLISHes on s and fails on a Topic Alias above max. */
static ck_status_t aliases_within(ck_ctx_t *x, ck_client_t *s, int n, uint16_t max)
{
    for (int i = 0; i < n; i++) {
        ck_packet_t p;
        if (!ck_expect(x, s, MQ_PKT_PUBLISH, CK_WAIT, &p))
            return CK_FAIL;
        if (mq_props_has(&p.p.props, MQ_PROP_TOPIC_ALIAS) &&
            (max == 0 || p.p.props.topic_alias > max || p.p.props.topic_alias == 0))
            return ck_fail_bytes(x, max ? "a Topic Alias <= the client's maximum"
                                        : "no Topic Alias (the client allowed none)",
                                 NULL, 0, p.raw, p.len);
    }
    return CK_PASS;
}

/* MQTT-3.1.2-27: Topic Alias Maximum absent: the server sends no alias. */
static ck_status_t no_alias_to_client(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "a");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *p = ck_connected(x, "p", true);
    if (!s || !p)
        return CK_FAIL;
    for (int i = 0; i < 4; i++) {
        ck_buf_t b;
        ck_build_publish(&b, 5, topic, "x", 1, 0, false, false, 0, NULL);
        ck_send_buf(p, &b);
    }
    return aliases_within(x, s, 4, 0);
}

/* MQTT-3.1.2-26: Topic Alias Maximum 2: no alias above 2. */
static ck_status_t alias_within_client_max(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_u16(&pr, MQ_PROP_TOPIC_ALIAS_MAXIMUM, 2);
    ck_connect_opts_t o = {.clean = true, .props = &pr};
    ck_client_t *s = conn5(x, &o, NULL);
    const char *filter = ck_topic(x, "#");
    if (!s || !ck_subscribed(x, s, filter, 0, 0xff))
        return CK_FAIL;
    ck_client_t *p = ck_connected(x, "p", true);
    if (!p)
        return CK_FAIL;
    for (int i = 0; i < 8; i++) {
        char sfx[8];
        snprintf(sfx, sizeof(sfx), "t%d", i % 4);
        ck_buf_t b;
        ck_build_publish(&b, 5, ck_topic(x, sfx), "x", 1, 0, false, false, 0, NULL);
        ck_send_buf(p, &b);
    }
    return aliases_within(x, s, 8, 2);
}

/* MQTT-3.1.2-28: Request Response Information 0: no Response Information. */
static ck_status_t no_response_info(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_byte(&pr, MQ_PROP_REQUEST_RESPONSE_INFO, 0);
    ck_connect_opts_t o = {.clean = true, .props = &pr};
    ck_packet_t ack;
    ck_client_t *c = conn5(x, &o, &ack);
    if (!c)
        return CK_FAIL;
    if (mq_props_has(&ack.p.props, MQ_PROP_RESPONSE_INFO))
        return ck_fail_bytes(x, "a CONNACK without Response Information", NULL, 0, ack.raw,
                             ack.len);
    return CK_PASS;
}

/* Fails when packet p carries a Reason String or a User Property. */
static bool no_problem_info(ck_ctx_t *x, const ck_packet_t *p, const char *what)
{
    if (mq_props_has(&p->p.props, MQ_PROP_REASON_STRING) || p->p.props.n_user_props) {
        ck_fail_bytes(x, what, NULL, 0, p->raw, p->len);
        return false;
    }
    return true;
}

/* MQTT-3.1.2-29: Request Problem Information 0: no Reason String or User
 * Property on PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK (even for the
 * "no subscribers", "no subscription" and "packet id not found" codes). */
static ck_status_t no_problem_info_on_acks(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_byte(&pr, MQ_PROP_REQUEST_PROBLEM_INFO, 0);
    ck_connect_opts_t o = {.clean = true, .props = &pr};
    ck_packet_t ack, p;
    ck_client_t *c = conn5(x, &o, &ack);
    if (!c)
        return CK_FAIL;
    uint8_t maxq = mq_props_has(&ack.p.props, MQ_PROP_MAXIMUM_QOS) ? ack.p.props.maximum_qos : 2;
    ck_buf_t b;
    ck_build_subscribe(&b, 5, 1, ck_topic(x, "s"), 1, NULL);
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p) ||
        !no_problem_info(x, &p, "SUBACK without Reason String / User Property"))
        return CK_FAIL;
    ck_build_unsubscribe(&b, 5, 2, ck_topic(x, "never"));
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_UNSUBACK, CK_WAIT, &p) ||
        !no_problem_info(x, &p, "UNSUBACK without Reason String / User Property"))
        return CK_FAIL;
    if (maxq >= 1) {
        ck_build_publish(&b, 5, ck_topic(x, "nobody"), "x", 1, 1, false, false, 3, NULL);
        if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBACK, CK_WAIT, &p) ||
            !no_problem_info(x, &p, "PUBACK without Reason String / User Property"))
            return CK_FAIL;
    }
    if (maxq >= 2) {
        ck_build_publish(&b, 5, ck_topic(x, "nobody"), "x", 1, 2, false, false, 4, NULL);
        if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBREC, CK_WAIT, &p) ||
            !no_problem_info(x, &p, "PUBREC without Reason String / User Property"))
            return CK_FAIL;
        ck_build_ack(&b, MQ_PKT_PUBREL, 4);
        if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBCOMP, CK_WAIT, &p) ||
            !no_problem_info(x, &p, "PUBCOMP without Reason String / User Property"))
            return CK_FAIL;
        ck_build_ack(&b, MQ_PKT_PUBREL, 99); /* unknown id: PUBCOMP 0x92 */
        if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_PUBCOMP, CK_WAIT, &p) ||
            !no_problem_info(x, &p, "PUBCOMP 0x92 without Reason String / User Property"))
            return CK_FAIL;
    }
    return CK_PASS;
}

/* ---- client identifiers ------------------------------------------------------ */

/* MQTT-3.1.3-5: 23 characters of [0-9a-zA-Z] are accepted. */
static ck_status_t client_id_23(ck_ctx_t *x)
{
    char id[24];
    snprintf(id, sizeof(id), "Ck%08x%013u", (unsigned)ck_now_ms(), x->seq);
    ck_connect_opts_t o = {.client_id = id, .clean = true};
    ck_client_t *c = conn5(x, &o, NULL);
    if (!c)
        return CK_FAIL;
    ck_disconnect(c);
    return CK_PASS;
}

/* CONNECT with an empty client id: CONNACK 0 with an Assigned Client
 * Identifier (kept in out), or a skip when the server refuses with 0x85. */
static ck_status_t connect_empty_id(ck_ctx_t *x, bool clean, uint32_t expiry, char *out,
                                    size_t cap, ck_client_t **cp)
{
    ck_buf_t pr = CK_BUF;
    if (expiry)
        ck_p_u32(&pr, MQ_PROP_SESSION_EXPIRY, expiry);
    ck_connect_opts_t o = {.client_id = "", .clean = clean, .props = &pr};
    ck_client_t *c = send_connect(x, &o);
    ck_packet_t ack;
    if (!c || !ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, &ack))
        return CK_FAIL;
    if (ack.p.u.connack.rc == 0x85)
        return ck_skip(x, "the server does not allow a zero-length Client Identifier (0x85)");
    if (ack.p.u.connack.rc != 0)
        return ck_fail(x, "CONNACK 0x%02x for an empty Client Identifier", ack.p.u.connack.rc);
    mq_str_t a = ack.p.props.assigned_client_id;
    if (!mq_props_has(&ack.p.props, MQ_PROP_ASSIGNED_CLIENT_ID) || a.len == 0)
        return ck_fail_bytes(x, "a CONNACK with an Assigned Client Identifier", NULL, 0, ack.raw,
                             ack.len);
    if (a.len >= cap)
        return ck_fail(x, "Assigned Client Identifier of %u bytes", a.len);
    memcpy(out, a.ptr, a.len);
    out[a.len] = '\0';
    *cp = c;
    return CK_PASS;
}

/* MQTT-3.1.3-6 / MQTT-3.2.2-16: an empty Client Identifier gets a new
 * Assigned Client Identifier, different for two connections. */
static ck_status_t assigned_ids_unique(ck_ctx_t *x)
{
    char a[128], b[128];
    ck_client_t *c1 = NULL, *c2 = NULL;
    ck_status_t st = connect_empty_id(x, true, 0, a, sizeof(a), &c1);
    if (st != CK_PASS)
        return st;
    st = connect_empty_id(x, true, 0, b, sizeof(b), &c2);
    if (st != CK_PASS)
        return st;
    if (!strcmp(a, b))
        return ck_fail(x, "the same Assigned Client Identifier '%s' twice", a);
    if (!ck_ping(x, c1))
        return ck_fail(x, "the first connection was dropped by the second empty-id CONNECT");
    return CK_PASS;
}

/* MQTT-3.1.3-7: the CONNECT is processed as if the assigned id had been
 * sent: a session made with it can be resumed with that id. */
static ck_status_t assigned_id_is_the_session(ck_ctx_t *x)
{
    char id[128];
    ck_client_t *c = NULL;
    ck_status_t st = connect_empty_id(x, true, 60, id, sizeof(id), &c);
    if (st != CK_PASS)
        return st;
    if (!ck_subscribed(x, c, ck_topic(x, "t"), 1, 0xff))
        return CK_FAIL;
    ck_disconnect(c);
    ck_packet_t ack;
    c = conn_exp(x, id, false, 60, &ack);
    ck_clear_session(x, id, 5);
    if (!c)
        return CK_FAIL;
    if (!ack.p.u.connack.session_present)
        return ck_fail(x, "no session for the Assigned Client Identifier '%s'", id);
    return CK_PASS;
}

/* MQTT-3.1.3-7: the Assigned Client Identifier is valid UTF-8 without
 * U+0000 (the codec checks the string) and not an id in use. */
static ck_status_t assigned_id_not_in_use(ck_ctx_t *x)
{
    ck_client_t *named = ck_connected(x, "n", true);
    if (!named)
        return CK_FAIL;
    char id[128];
    ck_client_t *c;
    ck_status_t st = connect_empty_id(x, true, 0, id, sizeof(id), &c);
    if (st != CK_PASS)
        return st;
    if (!strcmp(id, ck_client_id(x, "n")))
        return ck_fail(x, "assigned the id of a connected client");
    return ck_ping(x, named) ? CK_PASS : CK_FAIL;
}

/* ---- takeover ---------------------------------------------------------------------- */

/* MQTT-3.1.4-3: a second connection with the same id closes the first; its
 * DISCONNECT, when sent ("as described in section 4.13", where it is
 * optional), says 0x8E (Session taken over). The new one stays up. */
static ck_status_t takeover_disconnects_old(ck_ctx_t *x)
{
    ck_client_t *a = ck_connected(x, "t", true);
    ck_client_t *b = a ? ck_connected(x, "t", true) : NULL;
    if (!b || ck_expect_dropped(x, a, 0x8E, 0) != CK_PASS)
        return CK_FAIL;
    return ck_ping(x, b) ? CK_PASS : CK_FAIL;
}

/* MQTT-3.14.2-2: the server's DISCONNECT has no Session Expiry Interval
 * (a taken-over session with expiry 60). */
static ck_status_t server_disconnect_no_expiry(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "t");
    ck_client_t *a = conn_exp(x, id, true, 60, NULL);
    ck_client_t *b = a ? conn_exp(x, id, false, 60, NULL) : NULL;
    ck_status_t st = b ? ck_expect_dropped(x, a, 0x8E, 0) : CK_FAIL;
    ck_clear_session(x, id, 5);
    return st;
}

/* MQTT-3.1.4-4: a takeover with Clean Start 0 keeps the session. */
static ck_status_t takeover_keeps_session(ck_ctx_t *x)
{
    const char *id = ck_client_id(x, "t");
    const char *topic = ck_topic(x, "t");
    ck_client_t *a = conn_exp(x, id, true, 60, NULL);
    if (!a || !ck_subscribed(x, a, topic, 0, 0xff))
        return CK_FAIL;
    ck_packet_t ack;
    ck_client_t *b = conn_exp(x, id, false, 60, &ack);
    bool ok = b && (ack.p.u.connack.session_present ||
                    ck_fail(x, "Session Present 0 on takeover with Clean Start 0") == CK_PASS);
    ok = ok && ck_publish_via(x, topic, "after", 0, false, NULL) &&
         ck_expect_pub(x, b, topic, "after", NULL, true);
    ck_clear_session(x, id, 5);
    return ok ? CK_PASS : CK_FAIL;
}

/* MQTT-3.1.4-6: after a refused CONNECT nothing the client sent is
 * processed: a retained PUBLISH pipelined behind it is not stored. */
static ck_status_t refused_data_ignored(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "r");
    ck_buf_t b = CK_BUF, pub;
    conn_head(&b, 0x03, 0, NULL); /* reserved flag set: refused */
    ck_b_str(&b, ck_client_id(x, "c"));
    ck_buf_t pkt;
    ck_build_packet(&pkt, 0x10, &b);
    ck_build_publish(&pub, 5, topic, "ghost", 5, 0, true, false, 0, NULL);
    ck_b_raw(&pkt, pub.b, pub.n);
    ck_client_t *c = ck_open(x, 5);
    if (!c || !ck_send_buf(c, &pkt))
        return CK_FAIL;
    if (expect_refused(x, c, 0, 0) != CK_PASS)
        return CK_FAIL;
    ck_client_t *s = subscriber(x, topic, 0);
    bool ok = s && ck_expect_quiet(x, s, CK_QUIET);
    ck_clear_retained(x, topic);
    return ok ? CK_PASS : CK_FAIL;
}

/* ---- DISCONNECT / AUTH / errors ------------------------------------------------------- */

/* MQTT-3.14.1-1: DISCONNECT with reserved flags: malformed (0x81). */
static ck_status_t disconnect_flags(ck_ctx_t *x)
{
    static const uint8_t bad[2] = {0xE2, 0x00};
    return ck_dropped_on_bytes(x, bad, 2, 0x81, 0);
}

/* MQTT-3.14.2-1: the server's DISCONNECT codes come from table 3-10 (here
 * after a protocol error: a second CONNECT, expecting 0x82). */
static ck_status_t server_disconnect_code(ck_ctx_t *x)
{
    static const uint8_t conn_again[] = {0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
                                         0x02, 0x00, 0x00, 0x00, 0x00, 0x00};
    return ck_dropped_on_bytes(x, conn_again, sizeof(conn_again), 0x82, 0);
}

/* MQTT-3.14.4-1: after its DISCONNECT the server sends nothing more. */
static ck_status_t nothing_after_disconnect(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "t");
    ck_client_t *a = ck_connected(x, "t", true);
    if (!a || !ck_subscribed(x, a, topic, 0, 0xff))
        return CK_FAIL;
    ck_client_t *b = ck_connected(x, "t", true);
    if (!b)
        return CK_FAIL;
    ck_publish_via(x, topic, "late", 0, false, NULL);
    return ck_expect_dropped(x, a, 0x8E, 0);
}

/* MQTT-4.12.0-7: AUTH without an Authentication Method in CONNECT is a
 * Protocol Error. */
static ck_status_t auth_without_method(ck_ctx_t *x)
{
    static const uint8_t auth[4] = {0xF0, 0x02, 0x19, 0x00};
    return ck_dropped_on_bytes(x, auth, 4, 0x82, 0);
}

/* MQTT-4.12.0-6: no Authentication Method in CONNECT: none in CONNACK and
 * no AUTH from the server. */
static ck_status_t no_auth_from_server(ck_ctx_t *x)
{
    ck_packet_t ack;
    ck_client_t *c = ck_connected_with(x, NULL, &ack);
    if (!c)
        return CK_FAIL;
    if (mq_props_has(&ack.p.props, MQ_PROP_AUTH_METHOD) ||
        mq_props_has(&ack.p.props, MQ_PROP_AUTH_DATA))
        return ck_fail_bytes(x, "a CONNACK without authentication properties", NULL, 0, ack.raw,
                             ack.len);
    return ck_expect_quiet(x, c, CK_QUIET) ? CK_PASS : CK_FAIL;
}

/* MQTT-4.12.0-5: an accepted Authentication Method is echoed in the CONNACK
 * (skipped when the server refuses every method). */
static ck_status_t auth_method_echoed(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_str(&pr, MQ_PROP_AUTH_METHOD, "SCRAM-SHA-1");
    ck_connect_opts_t o = {.clean = true, .props = &pr};
    ck_client_t *c = send_connect(x, &o);
    ck_packet_t p;
    if (!c)
        return CK_FAIL;
    int r = ck_recv(x, c, CK_WAIT, &p);
    if (r == -1)
        return ck_skip(x, "the server closed on SCRAM-SHA-1 (method unsupported, MQTT-4.12.0-1)");
    if (r != 1)
        return r == 0 ? ck_fail(x, "no answer to a CONNECT with an Authentication Method")
                      : CK_FAIL;
    if (p.type == MQ_PKT_AUTH) {
        if (!ck_str_eq(p.p.props.auth_method, "SCRAM-SHA-1", 11))
            return ck_fail_bytes(x, "AUTH with Authentication Method SCRAM-SHA-1", NULL, 0,
                                 p.raw, p.len);
        return CK_PASS;
    }
    if (p.type != MQ_PKT_CONNACK)
        return ck_fail_bytes(x, "CONNACK or AUTH", NULL, 0, p.raw, p.len);
    if (p.p.u.connack.rc >= 0x80)
        return ck_skip(x, "the server does not support SCRAM-SHA-1 (CONNACK 0x%02x)",
                       p.p.u.connack.rc);
    if (!ck_str_eq(p.p.props.auth_method, "SCRAM-SHA-1", 11))
        return ck_fail_bytes(x, "CONNACK with Authentication Method SCRAM-SHA-1", NULL, 0, p.raw,
                             p.len);
    return CK_PASS;
}

/* MQTT-4.12.1-1: re-authentication must use the original method: an AUTH
 * 0x19 with another method is refused (skipped without any method). */
static ck_status_t reauth_other_method(ck_ctx_t *x)
{
    ck_buf_t pr = CK_BUF;
    ck_p_str(&pr, MQ_PROP_AUTH_METHOD, "SCRAM-SHA-1");
    ck_connect_opts_t o = {.clean = true, .props = &pr};
    ck_client_t *c = send_connect(x, &o);
    ck_packet_t p;
    if (!c || ck_recv(x, c, CK_WAIT, &p) != 1)
        return ck_fail(x, "no answer to a CONNECT with an Authentication Method");
    if (p.type != MQ_PKT_CONNACK || p.p.u.connack.rc >= 0x80)
        return ck_skip(x, "the server does not complete SCRAM-SHA-1 in one step");
    ck_buf_t ap = CK_BUF, b = CK_BUF;
    ck_p_str(&ap, MQ_PROP_AUTH_METHOD, "CK-OTHER-METHOD");
    ck_b_u8(&b, 0x19);
    ck_b_props(&b, &ap);
    ck_send_packet(c, 0xF0, &b);
    return ck_expect_dropped(x, c, 0x82, 0);
}

/* MQTT-4.13.1-1: a malformed packet after CONNECT (PINGREQ with a body) is
 * closed; a DISCONNECT, if any, says 0x81. */
static ck_status_t malformed_closes(ck_ctx_t *x)
{
    static const uint8_t bad[3] = {0xC0, 0x01, 0x00};
    return ck_dropped_on_bytes(x, bad, 3, 0x81, 0);
}

/* MQTT-4.13.1-1: a remaining length of five bytes is malformed. */
static ck_status_t five_byte_varint(ck_ctx_t *x)
{
    static const uint8_t bad[7] = {0x30, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00};
    return ck_dropped_on_bytes(x, bad, 7, 0x81, 0);
}

/* MQTT-4.13.1-1: a DISCONNECT with a reason code outside table 3-10 (0x05)
 * is a Protocol Error; the will is published then. */
static ck_status_t disconnect_bad_reason(ck_ctx_t *x)
{
    const char *topic = ck_topic(x, "w");
    ck_client_t *s = subscriber(x, topic, 0);
    ck_client_t *w = s ? will_client(x, ck_client_id(x, "w"), topic, NULL, 0, false, 0) : NULL;
    if (!w)
        return CK_FAIL;
    send_disconnect(w, 0x05, NULL);
    if (ck_expect_dropped(x, w, 0x82, 0x81) != CK_PASS)
        return CK_FAIL;
    return ck_expect_pub(x, s, topic, "will", NULL, true) ? CK_PASS : CK_FAIL;
}

/* MQTT-4.13.2-1: after a DISCONNECT >= 0x80 the connection is closed (the
 * server's 0x8E on takeover). */
static ck_status_t closed_after_error_disconnect(ck_ctx_t *x)
{
    ck_client_t *a = ck_connected(x, "t", true);
    ck_client_t *b = a ? ck_connected(x, "t", true) : NULL;
    if (!b)
        return CK_FAIL;
    uint8_t buf[256];
    bool closed;
    ck_raw_drain(a, buf, sizeof(buf), CK_WAIT, &closed);
    return closed ? CK_PASS : ck_fail(x, "the taken-over connection is still open after %d ms",
                                      CK_WAIT);
}

/* ---- the area ------------------------------------------------------------------------- */

static const ck_case_t cases[] = {
    /* 1.5 data representation */
    {"MQTT-1.5.4-1", 5, "cut UTF-8 sequence in Client Identifier: refused (0x81)", utf8_cut_client_id},
    {"MQTT-1.5.4-1", 5, "UTF-16 surrogate in Client Identifier: refused (0x81)", utf8_surrogate_client_id},
    {"MQTT-1.5.4-1", 5, "overlong UTF-8 in Will Topic: refused (0x81)", utf8_overlong_will_topic},
    {"MQTT-1.5.4-1", 5, "ill-formed UTF-8 in User Name: refused (0x81)", utf8_bad_user},
    {"MQTT-1.5.4-1", 5, "ill-formed UTF-8 in will Content Type: refused (0x81)", utf8_bad_will_content_type},
    {"MQTT-1.5.4-2", 5, "U+0000 in Client Identifier: refused (0x81)", utf8_nul_client_id},
    {"MQTT-1.5.4-2", 5, "U+0000 in Will Topic: refused (0x81)", utf8_nul_will_topic},
    {"MQTT-1.5.4-2", 5, "U+0000 in User Name: refused (0x81)", utf8_nul_user},
    {"MQTT-1.5.4-3", 5, "BOM inside the Will Topic is kept", bom_in_will_topic},
    {"MQTT-1.5.4-3", 5, "BOM-prefixed Client Identifier is a different id", bom_in_client_id},
    {"MQTT-1.5.5-1", 5, "CONNACK variable byte integers are minimal", connack_varints_minimal},
    {"MQTT-1.5.7-1", 5, "User Property name with bad UTF-8: refused (0x81)", pair_bad_name},
    {"MQTT-1.5.7-1", 5, "User Property value with U+0000: refused (0x81)", pair_nul_value},
    /* 2.1 / 2.2 */
    {"MQTT-2.1.3-1", 5, "CONNECT with flags 0x2: refused (0x81)", connect_flags_nibble},
    {"MQTT-2.1.3-1", 5, "PINGREQ with flags: closed (DISCONNECT 0x81)", pingreq_flags},
    {"MQTT-2.2.2-1", 5, "CONNACK without properties has property length 0", connack_has_prop_length},
    {"MQTT-3.1.4-1", 5, "CONNECT without property length: refused (0x81)", connect_without_prop_length},
    {"MQTT-3.1.4-1", 5, "unknown property id in CONNECT: refused (0x81)", prop_unknown_id},
    {"MQTT-3.1.4-1", 5, "Topic Alias (PUBLISH only) in CONNECT: refused (0x81)", prop_publish_only},
    {"MQTT-3.1.4-1", 5, "Server Keep Alive (CONNACK only) in CONNECT: refused (0x81)", prop_connack_only},
    {"MQTT-3.1.4-1", 5, "Will Delay Interval in CONNECT properties: refused (0x81)", prop_will_only_in_connect},
    {"MQTT-3.1.4-1", 5, "Session Expiry in Will Properties: refused (0x81)", prop_connect_only_in_will},
    {"MQTT-3.1.4-1", 5, "Session Expiry Interval twice: refused (0x82)", prop_dup_session_expiry},
    {"MQTT-3.1.4-1", 5, "Receive Maximum twice: refused (0x82)", prop_dup_receive_max},
    {"MQTT-3.1.4-1", 5, "Maximum Packet Size twice: refused (0x82)", prop_dup_max_packet},
    {"MQTT-3.1.4-1", 5, "Will Delay Interval twice: refused (0x82)", prop_dup_will_delay},
    {"MQTT-3.1.4-1", 5, "will Content Type twice: refused (0x82)", prop_dup_content_type},
    {"MQTT-3.1.4-1", 5, "property length past the packet end: refused (0x81)", prop_length_too_long},
    {"MQTT-3.1.4-1", 5, "property value cut short: refused (0x81)", prop_value_cut},
    {"MQTT-3.1.4-1", 5, "Receive Maximum 0: refused (0x82)", receive_max_zero},
    {"MQTT-3.1.4-1", 5, "Maximum Packet Size 0: refused (0x82)", max_packet_zero},
    {"MQTT-3.1.4-1", 5, "Request Problem Information 2: refused (0x82)", problem_info_two},
    {"MQTT-3.1.4-1", 5, "Request Response Information 2: refused (0x82)", response_info_two},
    {"MQTT-3.1.4-1", 5, "Authentication Data without Method: refused (0x82)", auth_data_without_method},
    {"MQTT-3.3.2-14", 5, "will Response Topic with wildcard: refused", will_response_topic_wildcard},
    {"MQTT-4.7.0-1", 5, "Will Topic with wildcard: refused", will_topic_wildcard},
    {"MQTT-3.1.4-5", 5, "all client properties, repeated User Property: CONNACK 0", all_client_props_accepted},
    /* 3.1 CONNECT */
    {"MQTT-3.1.0-1", 5, "PINGREQ before CONNECT: closed", first_not_connect},
    {"MQTT-3.1.0-1", 5, "AUTH before CONNECT: closed", first_auth},
    {"MQTT-3.1.0-2", 5, "second CONNECT: closed (DISCONNECT 0x82)", second_connect},
    {"MQTT-3.1.2-1", 5, "protocol name MQTX: CONNACK 0x84 or close", bad_protocol_name},
    {"MQTT-3.1.2-2", 5, "protocol version 6: CONNACK 0x84 or close", bad_protocol_version},
    {"MQTT-3.1.2-3", 5, "reserved connect flag 1: refused (0x81)", reserved_connect_flag},
    {"MQTT-3.14.0-1", 5, "refused CONNECT gets no DISCONNECT", no_disconnect_before_connack},
    {"MQTT-3.1.2-4", 5, "Clean Start 1 discards the session's subscription", clean_start_discards},
    {"MQTT-3.2.2-2", 5, "Clean Start 1: Session Present 0 despite a session", clean_start_present0},
    {"MQTT-3.1.2-5", 5, "Clean Start 0 resumes: queued QoS 1 message delivered", resume_session},
    {"MQTT-3.2.2-3", 5, "Clean Start 0 with a session: Session Present 1", present1},
    {"MQTT-3.2.2-3", 5, "Clean Start 0 without a session: Session Present 0", present0_no_session},
    {"MQTT-3.1.2-6", 5, "Clean Start 0 without a session creates one", clean0_creates},
    {"MQTT-3.1.2-23", 5, "Session Expiry 30: state kept after abrupt close", expiry_keeps_state},
    {"MQTT-3.1.2-23", 5, "Session Expiry 0xFFFFFFFF: session kept", expiry_never},
    {"MQTT-3.1.2-23", 5, "Session Expiry raised on DISCONNECT is used", disconnect_raises_expiry},
    {"MQTT-4.1.0-2", 5, "Session Expiry absent: session ends with the connection", expiry_zero_discards},
    {"MQTT-4.1.0-2", 5, "Session Expiry 1: session gone after 2.3 s", expiry_one_second},
    {"MQTT-4.1.0-2", 5, "Session Expiry 0 on DISCONNECT ends the session", disconnect_sets_expiry_zero},
    {"MQTT-4.1.0-1", 5, "session kept while connected longer than its expiry", session_kept_while_open},
    {"MQTT-4.13.1-1", 5, "expiry 0 at CONNECT, non-zero on DISCONNECT: 0x82", disconnect_expiry_from_zero},
    /* wills */
    {"MQTT-3.1.2-7", 5, "will published on close without DISCONNECT", will_on_close},
    {"MQTT-3.1.2-8", 5, "will published when the server closes on an error", will_on_protocol_error},
    {"MQTT-3.1.2-8", 5, "DISCONNECT 0x04 publishes the will", will_on_disconnect_04},
    {"MQTT-3.1.2-8", 5, "DISCONNECT 0x80 publishes the will", will_on_disconnect_80},
    {"MQTT-3.1.2-8", 5, "Will Delay 1 s: will published after the delay", will_delay_elapses},
    {"MQTT-3.1.2-8", 5, "session ends (expiry 0) before Will Delay: will published", will_at_session_end},
    {"MQTT-3.1.2-8", 5, "session expires (1 s) before Will Delay (60 s): will published", will_at_session_expiry},
    {"MQTT-3.1.3-9", 5, "reconnect within the Will Delay: no will", will_delay_reconnect},
    {"MQTT-3.14.4-3", 5, "DISCONNECT 0x00 discards the will", will_discarded_00},
    {"MQTT-3.14.4-3", 5, "DISCONNECT without reason code discards the will", will_discarded_short},
    {"MQTT-3.1.2-10", 5, "will removed from the session once published", will_removed_after_publish},
    {"MQTT-3.1.2-9", 5, "Will Flag 1 without will fields: refused (0x81)", will_fields_missing},
    {"MQTT-3.1.2-11", 5, "Will QoS 1 without Will Flag: refused (0x81)", will_qos_without_will},
    {"MQTT-3.1.2-12", 5, "Will QoS 3: refused (0x81)", will_qos3},
    {"MQTT-3.1.2-13", 5, "Will Retain without Will Flag: refused (0x81)", will_retain_without_will},
    {"MQTT-3.1.2-14", 5, "Will Retain 0: will published non-retained", will_not_retained},
    {"MQTT-3.1.2-15", 5, "Will Retain 1: will published retained", will_retained},
    {"MQTT-3.2.2-13", 5, "Will Retain vs Retain Available", will_retain_vs_available},
    {"MQTT-3.2.2-12", 5, "Will QoS vs Maximum QoS", will_qos_vs_maximum},
    {"MQTT-3.3.2-4", 5, "will Payload Format Indicator forwarded", will_payload_format},
    {"MQTT-3.3.2-20", 5, "will Content Type forwarded", will_content_type},
    {"MQTT-3.3.2-15", 5, "will Response Topic forwarded", will_response_topic},
    {"MQTT-3.3.2-16", 5, "will Correlation Data forwarded", will_correlation_data},
    {"MQTT-3.1.3-10", 5, "will User Properties forwarded in order", will_user_props_order},
    {"MQTT-3.3.2-6", 5, "will Message Expiry Interval forwarded", will_message_expiry},
    /* user name / password */
    {"MQTT-3.1.2-16", 5, "User Name without its flag: refused", user_present_without_flag},
    {"MQTT-3.1.2-17", 5, "User Name Flag without User Name: refused", user_flag_without_user},
    {"MQTT-3.1.2-18", 5, "Password without its flag: refused", password_present_without_flag},
    {"MQTT-3.1.2-19", 5, "Password Flag without Password: refused", password_flag_without_password},
    /* keepalive, ping */
    {"MQTT-3.1.2-22", 5, "keepalive 1 s: silent client closed by 1.5 s", keepalive_enforced},
    {"MQTT-3.2.2-22", 5, "no Server Keep Alive: client's keepalive 2 s is used", keepalive_client_value_used},
    {"MQTT-3.2.2-21", 5, "Server Keep Alive, if sent, is enforced", server_keepalive_enforced},
    {"MQTT-3.12.4-1", 5, "PINGREQ answered by PINGRESP, keeps keepalive 1 s open", pingresp},
    /* CONNACK */
    {"MQTT-3.2.0-1", 5, "CONNACK before the SUBACK of a pipelined SUBSCRIBE", connack_first},
    {"MQTT-3.2.0-2", 5, "only one CONNACK", one_connack},
    {"MQTT-3.2.2-1", 5, "CONNACK flag bits 7-1 are 0", connack_flags_reserved},
    {"MQTT-3.2.2-6", 5, "refused CONNACK has Session Present 0 despite a session", refused_present0},
    {"MQTT-3.2.2-19", 5, "CONNACK within the client's Maximum Packet Size", connack_within_max_packet},
    {"MQTT-3.2.2-9", 5, "CONNACK capability properties consistent", connack_props_consistent},
    {"MQTT-3.2.2-10", 5, "SUBSCRIBE QoS 0/1/2 accepted, granted <= Maximum QoS", subscribe_any_qos},
    {"MQTT-3.3.2-12", 5, "alias = announced Topic Alias Maximum accepted", server_topic_alias_max},
    {"MQTT-3.1.2-24", 5, "no packet above the client's Maximum Packet Size", max_packet_size_honoured},
    {"MQTT-3.1.2-25", 5, "too-large QoS 1 message counts as sent (Receive Max 1)", too_large_counts_as_sent},
    {"MQTT-3.1.2-26", 5, "Topic Alias Maximum 2: no alias above 2", alias_within_client_max},
    {"MQTT-3.1.2-27", 5, "no Topic Alias Maximum: no aliases sent", no_alias_to_client},
    {"MQTT-3.1.2-28", 5, "Request Response Information 0: no Response Information", no_response_info},
    {"MQTT-3.1.2-29", 5, "Request Problem Information 0: no Reason String on acks", no_problem_info_on_acks},
    /* client identifiers */
    {"MQTT-3.1.3-5", 5, "23-character alphanumeric Client Identifier accepted", client_id_23},
    {"MQTT-3.2.2-16", 5, "empty Client Identifier: unique Assigned Client Identifier", assigned_ids_unique},
    {"MQTT-3.1.3-7", 5, "Assigned Client Identifier names the session", assigned_id_is_the_session},
    {"MQTT-3.1.3-6", 5, "Assigned Client Identifier not one in use", assigned_id_not_in_use},
    /* takeover */
    {"MQTT-3.1.4-3", 5, "takeover: old connection closed (DISCONNECT 0x8E if any)", takeover_disconnects_old},
    {"MQTT-3.14.2-2", 5, "server DISCONNECT without Session Expiry Interval", server_disconnect_no_expiry},
    {"MQTT-3.1.4-4", 5, "takeover with Clean Start 0 keeps the session", takeover_keeps_session},
    {"MQTT-3.1.4-6", 5, "data after a refused CONNECT not processed", refused_data_ignored},
    /* DISCONNECT, AUTH, errors */
    {"MQTT-3.14.1-1", 5, "DISCONNECT with reserved flags: closed (0x81)", disconnect_flags},
    {"MQTT-3.14.2-1", 5, "server DISCONNECT uses a table 3-10 code (0x82)", server_disconnect_code},
    {"MQTT-3.14.4-1", 5, "nothing sent after the server's DISCONNECT", nothing_after_disconnect},
    {"MQTT-4.12.0-7", 5, "AUTH without Authentication Method: closed (0x82)", auth_without_method},
    {"MQTT-4.12.0-6", 5, "no Authentication Method: none in CONNACK, no AUTH", no_auth_from_server},
    {"MQTT-4.12.0-1", 5, "unsupported Authentication Method: 0x8C/0x87 and close", bad_auth_method},
    {"MQTT-4.12.0-5", 5, "accepted Authentication Method echoed in CONNACK", auth_method_echoed},
    {"MQTT-4.12.1-1", 5, "re-authentication with another method refused", reauth_other_method},
    {"MQTT-4.13.1-1", 5, "malformed PINGREQ after CONNECT: closed (0x81)", malformed_closes},
    {"MQTT-4.13.1-1", 5, "five-byte remaining length: closed (0x81)", five_byte_varint},
    {"MQTT-4.13.1-1", 5, "DISCONNECT reason 0x05: protocol error, will published", disconnect_bad_reason},
    {"MQTT-4.13.2-1", 5, "closed after the server's DISCONNECT 0x8E", closed_after_error_disconnect},
};

const ck_area_t ck_area_v5_connect = {"5.0 connection", cases, sizeof(cases) / sizeof(cases[0])};

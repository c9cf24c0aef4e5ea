/*
 * test_codec — unit tests of the MQTT packet codec (src/codec).
 *
 * Byte vectors are derived from the text and figures of OASIS MQTT 3.1.1
 * (and MQTT 5.0 for the v5 layouts); negative tests are named after the
 * statement they prove. Every decoded body is copied into an exact-size heap
 * buffer so that AddressSanitizer catches any read past the packet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "musqratt/codec.h"
#include "musqratt/error.h"

/* ---- helpers ----------------------------------------------------------- */

static uint8_t *g_buf; /* the last decoded packet; pkt fields point into it */

static void free_last(void)
{
    free(g_buf);
    g_buf = NULL;
}

/* Parses the fixed header and decodes one complete packet from a private,
 * exact-size copy of buf. */
static int dec(uint8_t level, const uint8_t *buf, size_t len, mq_packet_t *pkt)
{
    free_last();
    g_buf = malloc(len ? len : 1);
    assert_non_null(g_buf);
    memcpy(g_buf, buf, len);
    mq_fixed_header_t fh;
    int rc = mq_codec_fixed_header(g_buf, len, 0, &fh);
    if (rc != MQ_OK)
        return rc;
    /* Every vector below is one whole packet. */
    assert_int_equal((size_t)fh.header_len + fh.remaining, len);
    /* Copy the body alone so the buffer ends exactly at the packet's end. */
    uint8_t *body = malloc(fh.remaining ? fh.remaining : 1);
    assert_non_null(body);
    memcpy(body, g_buf + fh.header_len, fh.remaining);
    free(g_buf);
    g_buf = body;
    memset(pkt, 0xa5, sizeof(*pkt)); /* no field may be left stale */
    return mq_codec_decode(&fh, fh.remaining ? body : NULL, level, pkt);
}

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})
#define NBYTES(...) sizeof((const uint8_t[]){__VA_ARGS__})
#define DEC(level, pkt, ...) dec((level), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__), (pkt))
#define DEC_RC(level, ...) dec_rc((level), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__))

static int dec_rc(uint8_t level, const uint8_t *buf, size_t len)
{
    mq_packet_t p;
    return dec(level, buf, len, &p);
}

static void assert_str(mq_str_t s, const char *want)
{
    assert_non_null(s.ptr);
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static mq_str_t S(const char *s)
{
    mq_str_t r = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return r;
}

static void assert_encoded(const uint8_t *got, int n, const uint8_t *want, size_t wlen)
{
    assert_int_equal(n, (int)wlen);
    assert_memory_equal(got, want, wlen);
}
#define U(s) (const uint8_t *)(s), sizeof(s) - 1
#define ASSERT_ENC(got, n, ...) assert_encoded((got), (n), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__))

static int teardown(void **state)
{
    (void)state;
    free_last();
    return 0;
}

/* ---- variable byte integer (MQTT 3.1.1 section 2.2.3, table 2.4) -------- */

static void test_varint_boundaries(void **state)
{
    static const struct {
        uint32_t v;
        uint8_t n;
        uint8_t bytes[4];
    } t[] = {
        {0, 1, {0x00}},
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {2097151, 3, {0xff, 0xff, 0x7f}},
        {2097152, 4, {0x80, 0x80, 0x80, 0x01}},
        {268435455, 4, {0xff, 0xff, 0xff, 0x7f}},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t out[4] = {0};
        assert_int_equal(mq_codec_varint_size(t[i].v), t[i].n);
        assert_int_equal(mq_codec_varint_write(out, t[i].v), t[i].n);
        assert_memory_equal(out, t[i].bytes, t[i].n);

        uint8_t hdr[5] = {0x30};
        memcpy(hdr + 1, t[i].bytes, t[i].n);
        mq_fixed_header_t fh;
        assert_int_equal(mq_codec_fixed_header(hdr, 1u + t[i].n, 0, &fh), MQ_OK);
        assert_int_equal(fh.type, MQ_PKT_PUBLISH);
        assert_int_equal(fh.remaining, t[i].v);
        assert_int_equal(fh.header_len, 1 + t[i].n);
        /* Every shorter prefix asks for more bytes. */
        for (size_t k = 0; k < 1u + t[i].n; k++)
            assert_int_equal(mq_codec_fixed_header(hdr, k, 0, &fh), MQ_EAGAIN);
    }
    assert_int_equal(mq_codec_varint_size(268435456u), 0);
    assert_int_equal(mq_codec_varint_size(UINT32_MAX), 0);
}

static void test_varint_five_bytes_malformed(void **state)
{
    mq_fixed_header_t fh;
    const uint8_t b[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(mq_codec_fixed_header(b, sizeof(b), 0, &fh), MQ_EMALFORMED);
    /* Even with only the 4 continuation bytes present, it is already wrong. */
    assert_int_equal(mq_codec_fixed_header(b, 5, 0, &fh), MQ_EMALFORMED);
    const uint8_t c[] = {0x30, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(mq_codec_fixed_header(c, sizeof(c), 0, &fh), MQ_EMALFORMED);
}

static void test_varint_non_minimal_accepted(void **state)
{
    mq_packet_t p;
    /* PINGREQ with remaining length 0 written in two bytes. */
    assert_int_equal(DEC(4, &p, 0xc0, 0x80, 0x00), MQ_OK);
    assert_int_equal(p.fh.header_len, 3);
    assert_int_equal(p.fh.remaining, 0);
    /* 1 written as 0x81 0x80 0x80 0x00. */
    mq_fixed_header_t fh;
    const uint8_t b[] = {0x30, 0x81, 0x80, 0x80, 0x00};
    assert_int_equal(mq_codec_fixed_header(b, sizeof(b), 0, &fh), MQ_OK);
    assert_int_equal(fh.remaining, 1);
    assert_int_equal(fh.header_len, 5);
}

static void test_fixed_header_type0_and_limits(void **state)
{
    mq_fixed_header_t fh;
    assert_int_equal(mq_codec_fixed_header(BYTES(0x00, 0x00), 2, 0, &fh), MQ_EMALFORMED);
    assert_int_equal(mq_codec_fixed_header(BYTES(0x00), 1, 0, &fh), MQ_EMALFORMED);
    assert_int_equal(mq_codec_fixed_header(NULL, 0, 0, &fh), MQ_EAGAIN);
    /* max_packet counts the whole packet: 2 + 127 = 129. */
    const uint8_t b[] = {0x30, 0x7f};
    assert_int_equal(mq_codec_fixed_header(b, 2, 129, &fh), MQ_OK);
    assert_int_equal(mq_codec_fixed_header(b, 2, 128, &fh), MQ_ETOOBIG);
    const uint8_t big[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(mq_codec_fixed_header(big, 5, 0, &fh), MQ_OK);
    assert_int_equal(mq_codec_fixed_header(big, 5, UINT32_MAX, &fh), MQ_OK);
    assert_int_equal(mq_codec_fixed_header(big, 5, 268435459u, &fh), MQ_ETOOBIG);
    assert_int_equal(mq_codec_fixed_header(big, 5, 268435460u, &fh), MQ_OK);
    /* The flags nibble is reported, not judged, here. */
    assert_int_equal(mq_codec_fixed_header(BYTES(0xcf, 0x00), 2, 0, &fh), MQ_OK);
    assert_int_equal(fh.flags, 0x0f);
}

/* ---- CONNECT ------------------------------------------------------------ */

/* MQTT 3.1.1 figure 3.6 variable header (flags 0xCE, keep alive 10) with a
 * payload in the order of MQTT-3.1.3-1. */
#define CONNECT_311                                                               \
    0x10, 0x1e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xce, 0x00, 0x0a, 0x00, 0x02, \
        'c', '1', 0x00, 0x03, 'w', '/', 't', 0x00, 0x03, 'b', 'y', 'e', 0x00, 0x01, \
        'u', 0x00, 0x01, 'p'

static void test_connect_311_vector(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(0, &p, CONNECT_311), MQ_OK);
    const mq_connect_t *c = &p.u.connect;
    assert_int_equal(p.fh.type, MQ_PKT_CONNECT);
    assert_str(c->protocol_name, "MQTT");
    assert_int_equal(c->protocol_level, 4);
    assert_true(c->clean);
    assert_true(c->will);
    assert_int_equal(c->will_qos, 1);
    assert_false(c->will_retain);
    assert_true(c->has_username);
    assert_true(c->has_password);
    assert_int_equal(c->keepalive, 10);
    assert_int_equal(c->props.len, 0);
    assert_null(c->props.ptr);
    assert_str(c->client_id, "c1");
    assert_str(c->will_topic, "w/t");
    assert_str(c->will_payload, "bye");
    assert_str(c->username, "u");
    assert_str(c->password, "p");

    uint8_t out[64];
    int n = mq_codec_encode_connect(out, sizeof(out), c);
    ASSERT_ENC(out, n, CONNECT_311);
}

static void test_connect_311_encode_from_fields(void **state)
{
    mq_connect_t c;
    memset(&c, 0, sizeof(c));
    c.protocol_level = 4; /* name derived from the level */
    c.clean = true;
    c.will = true;
    c.will_qos = 1;
    c.has_username = c.has_password = true;
    c.keepalive = 10;
    c.client_id = S("c1");
    c.will_topic = S("w/t");
    c.will_payload = S("bye");
    c.username = S("u");
    c.password = S("p");
    uint8_t out[64];
    ASSERT_ENC(out, mq_codec_encode_connect(out, sizeof(out), &c), CONNECT_311);
    /* Too small: only the size comes back. */
    uint8_t small[8];
    memset(small, 0x77, sizeof(small));
    assert_int_equal(mq_codec_encode_connect(small, sizeof(small), &c), 32);
    for (size_t i = 0; i < sizeof(small); i++)
        assert_int_equal(small[i], 0x77);
}

static void test_connect_31_vector(void **state)
{
    mq_packet_t p;
    /* MQTT 3.1: "MQIsdp", level 3, clean session, keep alive 60, id "c1". */
    assert_int_equal(DEC(0, &p, 0x10, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03,
                         0x02, 0x00, 0x3c, 0x00, 0x02, 'c', '1'),
                     MQ_OK);
    assert_str(p.u.connect.protocol_name, "MQIsdp");
    assert_int_equal(p.u.connect.protocol_level, 3);
    assert_true(p.u.connect.clean);
    assert_false(p.u.connect.will);
    assert_int_equal(p.u.connect.keepalive, 60);
    assert_str(p.u.connect.client_id, "c1");
    assert_null(p.u.connect.username.ptr);
    assert_null(p.u.connect.password.ptr);

    mq_connect_t c;
    memset(&c, 0, sizeof(c));
    c.protocol_level = 3;
    c.clean = true;
    c.keepalive = 60;
    c.client_id = S("c1");
    uint8_t out[64];
    ASSERT_ENC(out, mq_codec_encode_connect(out, sizeof(out), &c), 0x10, 0x10, 0x00, 0x06,
               'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02, 0x00, 0x3c, 0x00, 0x02, 'c', '1');
}

#define CONNECT_5                                                                      \
    0x10, 0x23, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0xee, 0x00, 0x3c,                \
        0x05, 0x11, 0x00, 0x00, 0x00, 0x0a, /* session expiry interval 10 */            \
        0x00, 0x01, 'c', 0x02, 0x01, 0x01,  /* will props: payload format 1 */          \
        0x00, 0x01, 't', 0x00, 0x01, 'x', 0x00, 0x01, 'u', 0x00, 0x02, 'p', 'w'

static void test_connect_5_vector(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(0, &p, CONNECT_5), MQ_OK);
    const mq_connect_t *c = &p.u.connect;
    assert_int_equal(c->protocol_level, 5);
    assert_true(c->clean);
    assert_true(c->will);
    assert_int_equal(c->will_qos, 1);
    assert_true(c->will_retain);
    assert_true(c->has_username);
    assert_true(c->has_password);
    assert_int_equal(c->props.len, 5);
    assert_memory_equal(c->props.ptr, BYTES(0x11, 0, 0, 0, 0x0a), 5);
    assert_int_equal(c->will_props.len, 2);
    assert_memory_equal(c->will_props.ptr, BYTES(0x01, 0x01), 2);
    assert_str(c->client_id, "c");
    assert_str(c->will_topic, "t");
    assert_str(c->will_payload, "x");
    assert_str(c->username, "u");
    assert_str(c->password, "pw");
    uint8_t out[64];
    ASSERT_ENC(out, mq_codec_encode_connect(out, sizeof(out), c), CONNECT_5);
}

static void test_connect_5_minimal_and_props_bounds(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(0, &p, 0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00,
                         0x3c, 0x00, 0x00, 0x01, 'c'),
                     MQ_OK);
    assert_int_equal(p.u.connect.props.len, 0);
    assert_str(p.u.connect.client_id, "c");
    /* Property length runs past the packet. */
    assert_int_equal(DEC_RC(0, 0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00,
                            0x3c, 0x09, 0x00, 0x01, 'c'),
                     MQ_EMALFORMED);
    /* Property length missing altogether (a 3.1.1 body with level 5). */
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EMALFORMED);
    /* Will properties run past the packet. */
    assert_int_equal(DEC_RC(0, 0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00,
                            0x3c, 0x00, 0x00, 0x01, 'c', 0x7f, 0x00),
                     MQ_EMALFORMED);
    /* MQTT 5 lifts MQTT-3.1.2-22: a password without a user name is fine. */
    assert_int_equal(DEC(0, &p, 0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x42, 0x00,
                         0x3c, 0x00, 0x00, 0x01, 'c', 0x00, 0x01, 'p'),
                     MQ_OK);
    assert_false(p.u.connect.has_username);
    assert_str(p.u.connect.password, "p");
}

static void test_connect_empty_client_id(void **state)
{
    mq_packet_t p;
    /* Allowed by the codec; whether to accept it is the broker's call. */
    assert_int_equal(DEC(0, &p, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
                         0x3c, 0x00, 0x00),
                     MQ_OK);
    assert_non_null(p.u.connect.client_id.ptr);
    assert_int_equal(p.u.connect.client_id.len, 0);
}

static void test_MQTT_3_1_2_1_connect_wrong_protocol_name(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'X', 0x04, 0x02, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EPROTONAME);
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'm', 'q', 't', 't', 0x04, 0x02, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EPROTONAME);
    assert_int_equal(DEC_RC(0, 0x10, 0x0b, 0x00, 0x03, 'M', 'Q', 'T', 0x04, 0x02, 0x00, 0x3c,
                            0x00, 0x00),
                     MQ_EPROTONAME);
    /* The name decides first, even when nothing follows it. */
    assert_int_equal(DEC_RC(0, 0x10, 0x06, 0x00, 0x04, 'H', 'T', 'T', 'P'), MQ_EPROTONAME);
}

static void test_MQTT_3_1_2_2_connect_unsupported_level(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(0, &p, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x03, 0x02, 0x00,
                         0x3c, 0x00, 0x00),
                     MQ_EPROTOVERSION);
    assert_int_equal(p.u.connect.protocol_level, 3); /* reported for the CONNACK */
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x06, 0x02, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EPROTOVERSION);
    assert_int_equal(DEC_RC(0, 0x10, 0x0e, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x04,
                            0x02, 0x00, 0x3c, 0x00, 0x00),
                     MQ_EPROTOVERSION);
}

static void test_MQTT_3_1_2_3_connect_reserved_flag(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x03, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EMALFORMED);
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x01, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EMALFORMED);
}

static void test_MQTT_3_1_2_11_connect_will_qos_without_will(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x0a, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EMALFORMED);
}

static void test_MQTT_3_1_2_13_connect_will_qos2_without_will(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x12, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EMALFORMED);
}

static void test_MQTT_3_1_2_14_connect_will_qos3(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x1e, 0x00,
                            0x3c, 0x00, 0x00, 0x00, 0x01, 't', 0x00, 0x01, 'x'),
                     MQ_EMALFORMED);
}

static void test_MQTT_3_1_2_15_connect_will_retain_without_will(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x22, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EMALFORMED);
}

static void test_MQTT_3_1_2_22_connect_password_without_username(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x0f, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x42, 0x00,
                            0x3c, 0x00, 0x00, 0x00, 0x01, 'p'),
                     MQ_EMALFORMED);
}

static void test_MQTT_1_5_3_1_connect_client_id_bad_utf8(void **state)
{
    /* U+D800 encoded as ED A0 80. */
    assert_int_equal(DEC_RC(0, 0x10, 0x0f, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
                            0x3c, 0x00, 0x03, 0xed, 0xa0, 0x80),
                     MQ_EUTF8);
}

static void test_MQTT_1_5_3_2_connect_username_nul(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x82, 0x00,
                            0x3c, 0x00, 0x01, 'c', 0x00, 0x02, 'a', 0x00),
                     MQ_EUTF8);
}

static void test_MQTT_3_1_3_10_connect_will_topic_invalid(void **state)
{
    /* wildcard in the will topic (it will be published: MQTT-3.3.2-2) */
    assert_int_equal(DEC_RC(0, 0x10, 0x13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06, 0x00,
                            0x3c, 0x00, 0x01, 'c', 0x00, 0x02, 'a', '#', 0x00, 0x00),
                     MQ_ETOPIC);
    /* empty will topic (MQTT-4.7.3-1) */
    assert_int_equal(DEC_RC(0, 0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06, 0x00,
                            0x3c, 0x00, 0x01, 'c', 0x00, 0x00, 0x00, 0x00),
                     MQ_ETOPIC);
    /* overlong '/' (C0 AF) */
    assert_int_equal(DEC_RC(0, 0x10, 0x13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06, 0x00,
                            0x3c, 0x00, 0x01, 'c', 0x00, 0x02, 0xc0, 0xaf, 0x00, 0x00),
                     MQ_EUTF8);
}

static void test_MQTT_2_2_2_2_connect_fixed_header_flags(void **state)
{
    assert_int_equal(DEC_RC(0, 0x11, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
                            0x3c, 0x00, 0x00),
                     MQ_EMALFORMED);
}

static void test_connect_trailing_bytes(void **state)
{
    assert_int_equal(DEC_RC(0, 0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
                            0x3c, 0x00, 0x00, 0x00),
                     MQ_EMALFORMED);
}

static void test_connect_every_truncation_fails(void **state)
{
    static const uint8_t full[][40] = {{CONNECT_311}, {CONNECT_5}};
    for (size_t v = 0; v < 2; v++) {
        uint32_t rem = full[v][1];
        for (uint32_t k = 0; k < rem; k++) {
            uint8_t *body = malloc(k ? k : 1);
            assert_non_null(body);
            memcpy(body, full[v] + 2, k);
            mq_fixed_header_t fh = {MQ_PKT_CONNECT, 0, 2, k};
            mq_packet_t p;
            int rc = mq_codec_decode(&fh, k ? body : NULL, 0, &p);
            free(body);
            /* A cut inside the protocol name reads as another name. */
            if (k < 6)
                assert_true(rc == MQ_EMALFORMED || rc == MQ_EPROTONAME);
            else
                assert_int_equal(rc, MQ_EMALFORMED);
        }
    }
}

static void test_connect_encode_invalid_args(void **state)
{
    mq_connect_t c;
    uint8_t out[64];
    memset(&c, 0, sizeof(c));
    c.protocol_level = 7; /* no name known for it */
    assert_int_equal(mq_codec_encode_connect(out, sizeof(out), &c), MQ_EINVAL);
    c.protocol_level = 4;
    c.will_qos = 3;
    assert_int_equal(mq_codec_encode_connect(out, sizeof(out), &c), MQ_EINVAL);
    c.will_qos = 0;
    c.has_username = true;
    c.username.ptr = (const uint8_t *)"x";
    c.username.len = 65536;
    assert_int_equal(mq_codec_encode_connect(out, sizeof(out), &c), MQ_EINVAL);
    /* An explicit name lets a test send any level. */
    memset(&c, 0, sizeof(c));
    c.protocol_name = S("MQTT");
    c.protocol_level = 9;
    int n = mq_codec_encode_connect(out, sizeof(out), &c);
    ASSERT_ENC(out, n, 0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x09, 0x00, 0x00, 0x00, 0x00,
               0x00);
}

/* ---- CONNACK ------------------------------------------------------------ */

static void test_connack_vectors(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(4, &p, 0x20, 0x02, 0x01, 0x00), MQ_OK);
    assert_true(p.u.connack.session_present);
    assert_int_equal(p.u.connack.rc, 0);
    assert_null(p.u.connack.props.ptr);
    assert_int_equal(DEC(3, &p, 0x20, 0x02, 0x00, 0x05), MQ_OK);
    assert_false(p.u.connack.session_present);
    assert_int_equal(p.u.connack.rc, MQ_CONNACK_NOT_AUTHORIZED);
    assert_int_equal(DEC(5, &p, 0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x01), MQ_OK);
    assert_int_equal(p.u.connack.props.len, 2);
    assert_memory_equal(p.u.connack.props.ptr, BYTES(0x24, 0x01), 2);

    uint8_t out[8];
    ASSERT_ENC(out, mq_codec_encode_connack(out, sizeof(out), 4, true, 0), 0x20, 0x02, 0x01,
               0x00);
    ASSERT_ENC(out, mq_codec_encode_connack(out, sizeof(out), 4, false, 1), 0x20, 0x02, 0x00,
               0x01);
    /* MQTT-3.2.2-4: a refusal never carries session present. */
    ASSERT_ENC(out, mq_codec_encode_connack(out, sizeof(out), 3, true, 5), 0x20, 0x02, 0x00,
               0x05);
    ASSERT_ENC(out, mq_codec_encode_connack(out, sizeof(out), 5, true, 0), 0x20, 0x03, 0x01,
               0x00, 0x00);
    assert_int_equal(mq_codec_encode_connack(out, 3, 4, true, 0), 4);
}

static void test_MQTT_3_2_2_1_connack_reserved_flags(void **state)
{
    assert_int_equal(DEC_RC(4, 0x20, 0x02, 0x02, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x20, 0x03, 0x80, 0x00, 0x00), MQ_EMALFORMED);
}

static void test_MQTT_3_2_2_4_connack_session_present_with_error(void **state)
{
    assert_int_equal(DEC_RC(4, 0x20, 0x02, 0x01, 0x02), MQ_EPROTO);
}

static void test_connack_lengths(void **state)
{
    assert_int_equal(DEC_RC(4, 0x20, 0x03, 0x00, 0x00, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x20, 0x01, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x20, 0x02, 0x00, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x20, 0x04, 0x00, 0x00, 0x00, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x20, 0x04, 0x00, 0x00, 0x02, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x21, 0x02, 0x00, 0x00), MQ_EMALFORMED); /* MQTT-2.2.2-2 */
}

/* ---- PUBLISH ------------------------------------------------------------ */

/* MQTT 3.1.1 figure 3.11: topic "a/b", packet id 10; payload "hi". */
#define PUBLISH_Q1 0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 'h', 'i'

static void test_publish_vector(void **state)
{
    mq_packet_t p;
    for (uint8_t level = 3; level <= 4; level++) {
        assert_int_equal(DEC(level, &p, PUBLISH_Q1), MQ_OK);
        assert_int_equal(p.fh.type, MQ_PKT_PUBLISH);
        assert_int_equal(p.u.publish.qos, 1);
        assert_false(p.u.publish.dup);
        assert_false(p.u.publish.retain);
        assert_int_equal(p.u.publish.packet_id, 10);
        assert_str(p.u.publish.topic, "a/b");
        assert_str(p.u.publish.payload, "hi");
        assert_null(p.u.publish.props.ptr);
        uint8_t out[32];
        ASSERT_ENC(out, mq_codec_encode_publish(out, sizeof(out), level, &p.u.publish),
                   PUBLISH_Q1);
    }
}

static void test_publish_qos0_empty_payload_retain(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(4, &p, 0x31, 0x05, 0x00, 0x03, 'a', '/', 'b'), MQ_OK);
    assert_int_equal(p.u.publish.qos, 0);
    assert_true(p.u.publish.retain);
    assert_int_equal(p.u.publish.packet_id, 0);
    assert_int_equal(p.u.publish.payload.len, 0);
    uint8_t out[16];
    ASSERT_ENC(out, mq_codec_encode_publish(out, sizeof(out), 4, &p.u.publish), 0x31, 0x05,
               0x00, 0x03, 'a', '/', 'b');
}

static void test_publish_qos2_dup(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(4, &p, 0x3c, 0x07, 0x00, 0x01, 'x', 0xff, 0xff, 0x00, 0x01), MQ_OK);
    assert_int_equal(p.u.publish.qos, 2);
    assert_true(p.u.publish.dup);
    assert_int_equal(p.u.publish.packet_id, 0xffff);
    assert_int_equal(p.u.publish.payload.len, 2);
    assert_memory_equal(p.u.publish.payload.ptr, BYTES(0x00, 0x01), 2);
}

static void test_publish_5_props(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(5, &p, 0x32, 0x0c, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 0x02, 0x01,
                         0x01, 'h', 'i'),
                     MQ_OK);
    assert_int_equal(p.u.publish.props.len, 2);
    assert_memory_equal(p.u.publish.props.ptr, BYTES(0x01, 0x01), 2);
    assert_str(p.u.publish.payload, "hi");
    uint8_t out[32];
    ASSERT_ENC(out, mq_codec_encode_publish(out, sizeof(out), 5, &p.u.publish), 0x32, 0x0c,
               0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 0x02, 0x01, 0x01, 'h', 'i');
    /* Empty topic allowed in 5 (topic alias); its property is the broker's check. */
    assert_int_equal(DEC(5, &p, 0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01), MQ_OK);
    assert_int_equal(p.u.publish.topic.len, 0);
    assert_int_equal(p.u.publish.payload.len, 0);
    /* Property length past the end / 5-byte property length. */
    assert_int_equal(DEC_RC(5, 0x30, 0x05, 0x00, 0x01, 'a', 0x03, 0x23), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x30, 0x08, 0x00, 0x01, 'a', 0x80, 0x80, 0x80, 0x80, 0x00),
                     MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x30, 0x03, 0x00, 0x01, 'a'), MQ_EMALFORMED);
    /* The v5 encoder writes an empty property block when none is given. */
    uint8_t out4[32];
    mq_publish_t pub = {0};
    pub.topic = S("a");
    int n = mq_codec_encode_publish(out4, sizeof(out4), 5, &pub);
    ASSERT_ENC(out4, n, 0x30, 0x04, 0x00, 0x01, 'a', 0x00);
}

static void test_MQTT_3_3_1_4_publish_qos3(void **state)
{
    assert_int_equal(DEC_RC(4, 0x36, 0x07, 0x00, 0x01, 'a', 0x00, 0x01, 'h', 'i'), MQ_EMALFORMED);
}

static void test_MQTT_3_3_1_2_publish_dup_qos0(void **state)
{
    assert_int_equal(DEC_RC(4, 0x38, 0x03, 0x00, 0x01, 'a'), MQ_EMALFORMED);
}

static void test_MQTT_3_3_2_2_publish_topic_wildcards(void **state)
{
    assert_int_equal(DEC_RC(4, 0x30, 0x05, 0x00, 0x03, 'a', '/', '+'), MQ_ETOPIC);
    assert_int_equal(DEC_RC(4, 0x30, 0x03, 0x00, 0x01, '#'), MQ_ETOPIC);
    assert_int_equal(DEC_RC(5, 0x30, 0x06, 0x00, 0x03, 'a', '#', 'b', 0x00), MQ_ETOPIC);
}

static void test_MQTT_4_7_3_1_publish_empty_topic(void **state)
{
    assert_int_equal(DEC_RC(4, 0x30, 0x04, 0x00, 0x00, 'h', 'i'), MQ_ETOPIC);
    assert_int_equal(DEC_RC(3, 0x30, 0x02, 0x00, 0x00), MQ_ETOPIC);
}

static void test_MQTT_1_5_3_1_publish_topic_bad_utf8(void **state)
{
    assert_int_equal(DEC_RC(4, 0x30, 0x04, 0x00, 0x02, 0xc0, 0x80), MQ_EUTF8);
    assert_int_equal(DEC_RC(4, 0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'), MQ_EUTF8);
}

static void test_MQTT_2_3_1_1_publish_packet_id_zero(void **state)
{
    assert_int_equal(DEC_RC(4, 0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00), MQ_EPROTO);
    assert_int_equal(DEC_RC(4, 0x34, 0x05, 0x00, 0x01, 'a', 0x00, 0x00), MQ_EPROTO);
}

static void test_publish_lengths(void **state)
{
    assert_int_equal(DEC_RC(4, 0x30, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x30, 0x01, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x30, 0x03, 0x00, 0x02, 'a'), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x32, 0x04, 0x00, 0x01, 'a', 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x32, 0x03, 0x00, 0x01, 'a'), MQ_EMALFORMED);
}

static void test_publish_encode_args_and_sizes(void **state)
{
    mq_publish_t pub = {0};
    uint8_t out[300];
    pub.topic = S("t");
    pub.qos = 3;
    assert_int_equal(mq_codec_encode_publish(out, sizeof(out), 4, &pub), MQ_EINVAL);
    pub.qos = 1;
    pub.packet_id = 0;
    assert_int_equal(mq_codec_encode_publish(out, sizeof(out), 4, &pub), MQ_EINVAL);
    /* MQTT-3.3.1-2: dup dropped for QoS 0. */
    pub.qos = 0;
    pub.dup = true;
    ASSERT_ENC(out, mq_codec_encode_publish(out, sizeof(out), 4, &pub), 0x30, 0x03, 0x00, 0x01,
               't');
    /* Remaining length 128 takes two bytes: 3 + 125 payload bytes. */
    static uint8_t payload[125];
    pub.payload.ptr = payload;
    pub.payload.len = sizeof(payload);
    int n = mq_codec_encode_publish(out, sizeof(out), 4, &pub);
    assert_int_equal(n, 1 + 2 + 128);
    assert_memory_equal(out, BYTES(0x30, 0x80, 0x01, 0x00, 0x01, 't'), 6);
    /* Too small: returns the size, leaves the buffer alone. */
    memset(out, 0x55, sizeof(out));
    assert_int_equal(mq_codec_encode_publish(out, 130, 4, &pub), 131);
    assert_int_equal(out[0], 0x55);
    /* A topic longer than a UTF-8 string can be. */
    pub.topic.len = 65536;
    assert_int_equal(mq_codec_encode_publish(out, sizeof(out), 4, &pub), MQ_EINVAL);
    /* A payload that overflows the remaining length. */
    pub.topic = S("t");
    pub.payload.len = MQ_MAX_REMAINING_LENGTH;
    assert_int_equal(mq_codec_encode_publish(out, sizeof(out), 4, &pub), MQ_ETOOBIG);
}

/* ---- PUBACK PUBREC PUBREL PUBCOMP UNSUBACK -------------------------------- */

static void test_acks_vectors(void **state)
{
    static const uint8_t types[] = {MQ_PKT_PUBACK, MQ_PKT_PUBREC, MQ_PKT_PUBREL,
                                    MQ_PKT_PUBCOMP, MQ_PKT_UNSUBACK};
    for (size_t i = 0; i < sizeof(types); i++) {
        uint8_t first = (uint8_t)(types[i] << 4 | (types[i] == MQ_PKT_PUBREL ? 2 : 0));
        uint8_t b[4] = {first, 0x02, 0x12, 0x34};
        mq_packet_t p;
        assert_int_equal(dec(4, b, 4, &p), MQ_OK);
        assert_int_equal(p.fh.type, types[i]);
        assert_int_equal(p.u.ack.packet_id, 0x1234);
        assert_int_equal(p.u.ack.reason, 0);
        assert_null(p.u.ack.props.ptr);
        uint8_t out[8];
        assert_encoded(out, mq_codec_encode_ack(out, sizeof(out), types[i], 0x1234), b, 4);
        /* Exact length in 3.x. */
        uint8_t l3[5] = {first, 0x03, 0x12, 0x34, 0x00};
        assert_int_equal(dec(4, l3, 5, &p), MQ_EMALFORMED);
        uint8_t l1[3] = {first, 0x01, 0x12};
        assert_int_equal(dec(3, l1, 3, &p), MQ_EMALFORMED);
        /* MQTT-2.3.1-1 */
        uint8_t z[4] = {first, 0x02, 0x00, 0x00};
        assert_int_equal(dec(4, z, 4, &p), MQ_EPROTO);
        assert_int_equal(mq_codec_encode_ack(out, sizeof(out), types[i], 0), MQ_EINVAL);
        assert_int_equal(mq_codec_encode_ack(out, 3, types[i], 1), 4);
    }
    uint8_t out[8];
    assert_int_equal(mq_codec_encode_ack(out, sizeof(out), MQ_PKT_PUBLISH, 1), MQ_EINVAL);
    assert_int_equal(mq_codec_encode_ack(out, sizeof(out), MQ_PKT_SUBACK, 1), MQ_EINVAL);
}

static void test_MQTT_3_6_1_1_pubrel_flags(void **state)
{
    assert_int_equal(DEC_RC(4, 0x60, 0x02, 0x00, 0x01), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x63, 0x02, 0x00, 0x01), MQ_EMALFORMED);
}

static void test_MQTT_2_2_2_2_ack_flags(void **state)
{
    assert_int_equal(DEC_RC(4, 0x42, 0x02, 0x00, 0x01), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x51, 0x02, 0x00, 0x01), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x78, 0x02, 0x00, 0x01), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0xb2, 0x02, 0x00, 0x01), MQ_EMALFORMED);
}

static void test_acks_5_layouts(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(5, &p, 0x40, 0x02, 0x00, 0x0a), MQ_OK);
    assert_int_equal(p.u.ack.reason, 0);
    assert_int_equal(DEC(5, &p, 0x50, 0x03, 0x00, 0x0a, 0x10), MQ_OK);
    assert_int_equal(p.u.ack.reason, 0x10);
    assert_null(p.u.ack.props.ptr);
    assert_int_equal(DEC(5, &p, 0x62, 0x04, 0x00, 0x0a, 0x92, 0x00), MQ_OK);
    assert_int_equal(p.u.ack.reason, 0x92);
    assert_int_equal(p.u.ack.props.len, 0);
    assert_int_equal(DEC(5, &p, 0x70, 0x07, 0x00, 0x0a, 0x00, 0x03, 0x1f, 0x00, 0x00), MQ_OK);
    assert_int_equal(p.u.ack.props.len, 3);
    assert_memory_equal(p.u.ack.props.ptr, BYTES(0x1f, 0x00, 0x00), 3);
    assert_int_equal(DEC_RC(5, 0x40, 0x04, 0x00, 0x0a, 0x00, 0x01), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x40, 0x05, 0x00, 0x0a, 0x00, 0x00, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x40, 0x01, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x40, 0x03, 0x00, 0x00, 0x00), MQ_EPROTO);
}

/* ---- SUBSCRIBE ---------------------------------------------------------- */

/* MQTT 3.1.1 figures 3.21/3.22: packet id 10, "a/b" QoS 1, "c/d" QoS 2. */
#define SUBSCRIBE_EX                                                                   \
    0x82, 0x0e, 0x00, 0x0a, 0x00, 0x03, 'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '/', 'd', \
        0x02

static void test_subscribe_vector(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(4, &p, SUBSCRIBE_EX), MQ_OK);
    assert_int_equal(p.u.sub.packet_id, 10);
    assert_int_equal(p.u.sub.count, 2);
    assert_int_equal(p.u.sub.list_len, 12);
    mq_sublist_iter_t it;
    mq_str_t f[2];
    uint8_t o[2];
    mq_codec_filters_begin(&p.u.sub, true, &it);
    assert_true(mq_codec_filters_next(&it, &f[0], &o[0]));
    assert_str(f[0], "a/b");
    assert_int_equal(o[0], 1);
    assert_true(mq_codec_filters_next(&it, &f[1], &o[1]));
    assert_str(f[1], "c/d");
    assert_int_equal(o[1], 2);
    mq_str_t x;
    uint8_t xo;
    assert_false(mq_codec_filters_next(&it, &x, &xo));
    uint8_t out[32];
    ASSERT_ENC(out, mq_codec_encode_subscribe(out, sizeof(out), 4, 10, f, o, 2), SUBSCRIBE_EX);
}

static void test_subscribe_wildcards_ok(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(4, &p, 0x82, 0x10, 0x00, 0x01, 0x00, 0x01, '#', 0x00, 0x00, 0x01, '+',
                         0x01, 0x00, 0x03, '+', '/', '#', 0x02),
                     MQ_OK);
    assert_int_equal(p.u.sub.count, 3);
}

static void test_subscribe_5(void **state)
{
    mq_packet_t p;
    /* options 0x2D: QoS 1, no local, retain as published, retain handling 2;
     * properties: subscription identifier 5. */
    assert_int_equal(DEC(5, &p, 0x82, 0x09, 0x00, 0x0a, 0x02, 0x0b, 0x05, 0x00, 0x01, 'a', 0x2d),
                     MQ_OK);
    assert_int_equal(p.u.sub.props.len, 2);
    assert_int_equal(p.u.sub.count, 1);
    mq_sublist_iter_t it;
    mq_str_t f;
    uint8_t o;
    mq_codec_filters_begin(&p.u.sub, true, &it);
    assert_true(mq_codec_filters_next(&it, &f, &o));
    assert_int_equal(o, 0x2d);
    assert_false(mq_codec_filters_next(&it, &f, &o));
    assert_int_equal(p.props.subscription_id, 5);
    /* MQTT-3.8.3-5: bits 6-7 reserved (malformed); MQTT 5 3.8.3.1: retain
     * handling 3 and QoS 3 are protocol errors. */
    assert_int_equal(DEC_RC(5, 0x82, 0x07, 0x00, 0x0a, 0x00, 0x00, 0x01, 'a', 0x40), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x82, 0x07, 0x00, 0x0a, 0x00, 0x00, 0x01, 'a', 0x80), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x82, 0x07, 0x00, 0x0a, 0x00, 0x00, 0x01, 'a', 0x30), MQ_EPROTO);
    assert_int_equal(DEC_RC(5, 0x82, 0x07, 0x00, 0x0a, 0x00, 0x00, 0x01, 'a', 0x03), MQ_EPROTO);
    /* A subscription identifier twice, or 0 (MQTT 5 3.8.2.1.2). */
    assert_int_equal(DEC_RC(5, 0x82, 0x0b, 0x00, 0x0a, 0x04, 0x0b, 0x05, 0x0b, 0x06, 0x00, 0x01,
                            'a', 0x00),
                     MQ_EPROTO);
    assert_int_equal(DEC_RC(5, 0x82, 0x09, 0x00, 0x0a, 0x02, 0x0b, 0x00, 0x00, 0x01, 'a', 0x00),
                     MQ_EPROTO);
    /* The v5 bits are reserved in 3.1.1 (MQTT-3.8.3-4). */
    assert_int_equal(DEC_RC(4, 0x82, 0x06, 0x00, 0x0a, 0x00, 0x01, 'a', 0x2d), MQ_EMALFORMED);
    /* Property block overruns. */
    assert_int_equal(DEC_RC(5, 0x82, 0x07, 0x00, 0x0a, 0x09, 0x00, 0x01, 'a', 0x00), MQ_EMALFORMED);
    /* No filter after the properties (MQTT-3.8.3-3 in 5 too). */
    assert_int_equal(DEC_RC(5, 0x82, 0x03, 0x00, 0x0a, 0x00), MQ_EMALFORMED);
    mq_str_t fa = S("a");
    uint8_t oa = 0x2d;
    uint8_t out[32];
    ASSERT_ENC(out, mq_codec_encode_subscribe(out, sizeof(out), 5, 10, &fa, &oa, 1), 0x82, 0x07,
               0x00, 0x0a, 0x00, 0x00, 0x01, 'a', 0x2d);
}

static void test_MQTT_3_8_1_1_subscribe_flags(void **state)
{
    assert_int_equal(DEC_RC(4, 0x80, 0x06, 0x00, 0x0a, 0x00, 0x01, 'a', 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x83, 0x06, 0x00, 0x0a, 0x00, 0x01, 'a', 0x00), MQ_EMALFORMED);
}

static void test_MQTT_3_8_3_3_subscribe_no_filters(void **state)
{
    assert_int_equal(DEC_RC(4, 0x82, 0x02, 0x00, 0x0a), MQ_EMALFORMED);
}

static void test_MQTT_3_8_3_4_subscribe_reserved_option_bits(void **state)
{
    assert_int_equal(DEC_RC(4, 0x82, 0x06, 0x00, 0x0a, 0x00, 0x01, 'a', 0x04), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(3, 0x82, 0x06, 0x00, 0x0a, 0x00, 0x01, 'a', 0x80), MQ_EMALFORMED);
    /* QoS 3 */
    assert_int_equal(DEC_RC(4, 0x82, 0x06, 0x00, 0x0a, 0x00, 0x01, 'a', 0x03), MQ_EMALFORMED);
}

static void test_MQTT_4_7_1_2_subscribe_hash_misplaced(void **state)
{
    assert_int_equal(DEC_RC(4, 0x82, 0x08, 0x00, 0x0a, 0x00, 0x03, 'a', '#', 'b', 0x00), MQ_ETOPIC);
    assert_int_equal(DEC_RC(4, 0x82, 0x07, 0x00, 0x0a, 0x00, 0x02, 'a', '#', 0x00), MQ_ETOPIC);
    assert_int_equal(DEC_RC(4, 0x82, 0x08, 0x00, 0x0a, 0x00, 0x03, '#', '/', 'a', 0x00), MQ_ETOPIC);
}

static void test_MQTT_4_7_1_3_subscribe_plus_misplaced(void **state)
{
    assert_int_equal(DEC_RC(4, 0x82, 0x07, 0x00, 0x0a, 0x00, 0x02, 'a', '+', 0x00), MQ_ETOPIC);
    assert_int_equal(DEC_RC(4, 0x82, 0x08, 0x00, 0x0a, 0x00, 0x03, '+', '+', '/', 0x00), MQ_ETOPIC);
}

static void test_MQTT_4_7_3_1_subscribe_empty_filter(void **state)
{
    assert_int_equal(DEC_RC(4, 0x82, 0x05, 0x00, 0x0a, 0x00, 0x00, 0x00), MQ_ETOPIC);
}

static void test_MQTT_1_5_3_1_subscribe_filter_bad_utf8(void **state)
{
    assert_int_equal(DEC_RC(4, 0x82, 0x07, 0x00, 0x0a, 0x00, 0x02, 0xed, 0xbf, 0x00), MQ_EUTF8);
}

static void test_MQTT_2_3_1_1_subscribe_packet_id_zero(void **state)
{
    assert_int_equal(DEC_RC(4, 0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00), MQ_EPROTO);
    assert_int_equal(DEC_RC(4, 0xa2, 0x05, 0x00, 0x00, 0x00, 0x01, 'a'), MQ_EPROTO);
    assert_int_equal(DEC_RC(4, 0x90, 0x03, 0x00, 0x00, 0x00), MQ_EPROTO);
}

static void test_subscribe_truncated(void **state)
{
    /* options byte missing */
    assert_int_equal(DEC_RC(4, 0x82, 0x05, 0x00, 0x0a, 0x00, 0x01, 'a'), MQ_EMALFORMED);
    /* filter length past the end */
    assert_int_equal(DEC_RC(4, 0x82, 0x06, 0x00, 0x0a, 0x00, 0x05, 'a', 0x00), MQ_EMALFORMED);
    /* one stray byte after a complete entry */
    assert_int_equal(DEC_RC(4, 0x82, 0x07, 0x00, 0x0a, 0x00, 0x01, 'a', 0x00, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x82, 0x01, 0x00), MQ_EMALFORMED);
}

static void test_subscribe_encode_args(void **state)
{
    uint8_t out[16];
    mq_str_t f = S("a");
    uint8_t o = 0;
    assert_int_equal(mq_codec_encode_subscribe(out, sizeof(out), 4, 1, &f, &o, 0), MQ_EINVAL);
    assert_int_equal(mq_codec_encode_subscribe(out, sizeof(out), 4, 0, &f, &o, 1), MQ_EINVAL);
    assert_int_equal(mq_codec_encode_subscribe(out, 5, 4, 1, &f, &o, 1), 8);
    assert_int_equal(mq_codec_encode_unsubscribe(out, sizeof(out), 4, 1, &f, 0), MQ_EINVAL);
    f.len = 70000;
    assert_int_equal(mq_codec_encode_unsubscribe(out, sizeof(out), 4, 1, &f, 1), MQ_EINVAL);
}

/* ---- UNSUBSCRIBE -------------------------------------------------------- */

/* MQTT 3.1.1 figure 3.30: packet id 10, "a/b", "c/d". */
#define UNSUBSCRIBE_EX                                                               \
    0xa2, 0x0c, 0x00, 0x0a, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x03, 'c', '/', 'd'

static void test_unsubscribe_vector(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(4, &p, UNSUBSCRIBE_EX), MQ_OK);
    assert_int_equal(p.u.sub.packet_id, 10);
    assert_int_equal(p.u.sub.count, 2);
    mq_sublist_iter_t it;
    mq_str_t f[2];
    uint8_t o = 0x55;
    mq_codec_filters_begin(&p.u.sub, false, &it);
    assert_true(mq_codec_filters_next(&it, &f[0], &o));
    assert_int_equal(o, 0);
    assert_str(f[0], "a/b");
    assert_true(mq_codec_filters_next(&it, &f[1], &o));
    assert_str(f[1], "c/d");
    assert_false(mq_codec_filters_next(&it, &f[1], &o));
    uint8_t out[32];
    ASSERT_ENC(out, mq_codec_encode_unsubscribe(out, sizeof(out), 4, 10, f, 2), UNSUBSCRIBE_EX);
    ASSERT_ENC(out, mq_codec_encode_unsubscribe(out, sizeof(out), 5, 10, f, 1), 0xa2, 0x08,
               0x00, 0x0a, 0x00, 0x00, 0x03, 'a', '/', 'b');
    assert_int_equal(DEC(5, &p, 0xa2, 0x08, 0x00, 0x0a, 0x00, 0x00, 0x03, 'a', '/', 'b'), MQ_OK);
    assert_int_equal(p.u.sub.count, 1);
}

static void test_MQTT_3_10_1_1_unsubscribe_flags(void **state)
{
    assert_int_equal(DEC_RC(4, 0xa0, 0x05, 0x00, 0x0a, 0x00, 0x01, 'a'), MQ_EMALFORMED);
}

static void test_MQTT_3_10_3_2_unsubscribe_no_filters(void **state)
{
    assert_int_equal(DEC_RC(4, 0xa2, 0x02, 0x00, 0x0a), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0xa2, 0x03, 0x00, 0x0a, 0x00), MQ_EMALFORMED);
}

static void test_MQTT_4_7_1_2_unsubscribe_bad_filter(void **state)
{
    assert_int_equal(DEC_RC(4, 0xa2, 0x06, 0x00, 0x0a, 0x00, 0x02, '#', '#'), MQ_ETOPIC);
    assert_int_equal(DEC_RC(4, 0xa2, 0x04, 0x00, 0x0a, 0x00, 0x00), MQ_ETOPIC);
}

/* ---- SUBACK / UNSUBACK (5) ---------------------------------------------- */

static void test_suback_vector(void **state)
{
    mq_packet_t p;
    /* MQTT 3.1.1 figure 3.26: success QoS 0, 1, 2 and failure. */
    assert_int_equal(DEC(4, &p, 0x90, 0x06, 0x00, 0x0a, 0x00, 0x01, 0x02, 0x80), MQ_OK);
    assert_int_equal(p.u.sub.packet_id, 10);
    assert_int_equal(p.u.sub.count, 4);
    mq_sublist_iter_t it;
    mq_codec_filters_begin(&p.u.sub, false, &it);
    assert_int_equal(mq_codec_reasons_next(&it), 0x00);
    assert_int_equal(mq_codec_reasons_next(&it), 0x01);
    assert_int_equal(mq_codec_reasons_next(&it), 0x02);
    assert_int_equal(mq_codec_reasons_next(&it), 0x80);
    assert_int_equal(mq_codec_reasons_next(&it), -1);
    uint8_t out[16];
    ASSERT_ENC(out, mq_codec_encode_suback(out, sizeof(out), 4, 10, BYTES(0, 1, 2, 0x80), 4),
               0x90, 0x06, 0x00, 0x0a, 0x00, 0x01, 0x02, 0x80);
    ASSERT_ENC(out, mq_codec_encode_suback(out, sizeof(out), 5, 10, BYTES(0x01, 0x87), 2), 0x90,
               0x05, 0x00, 0x0a, 0x00, 0x01, 0x87);
    assert_int_equal(DEC(5, &p, 0x90, 0x05, 0x00, 0x0a, 0x00, 0x01, 0x87), MQ_OK);
    assert_int_equal(p.u.sub.count, 2);
    assert_int_equal(mq_codec_encode_suback(out, sizeof(out), 4, 10, BYTES(0), 0), MQ_EINVAL);
    assert_int_equal(mq_codec_encode_suback(out, 2, 4, 10, BYTES(0), 1), 5);
}

static void test_MQTT_3_9_3_2_suback_reserved_codes(void **state)
{
    assert_int_equal(DEC_RC(4, 0x90, 0x03, 0x00, 0x0a, 0x03), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x90, 0x03, 0x00, 0x0a, 0x87), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x90, 0x04, 0x00, 0x0a, 0x00, 0x05), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x90, 0x02, 0x00, 0x0a), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(4, 0x92, 0x03, 0x00, 0x0a, 0x00), MQ_EMALFORMED);
}

static void test_unsuback_5(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(5, &p, 0xb0, 0x05, 0x00, 0x0a, 0x00, 0x00, 0x11), MQ_OK);
    assert_int_equal(p.u.sub.packet_id, 10);
    assert_int_equal(p.u.sub.count, 2);
    mq_sublist_iter_t it;
    mq_codec_filters_begin(&p.u.sub, false, &it);
    assert_int_equal(mq_codec_reasons_next(&it), 0x00);
    assert_int_equal(mq_codec_reasons_next(&it), 0x11);
    assert_int_equal(mq_codec_reasons_next(&it), -1);
    assert_int_equal(DEC_RC(5, 0xb0, 0x04, 0x00, 0x0a, 0x00, 0x02), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0xb0, 0x03, 0x00, 0x0a, 0x00), MQ_EMALFORMED);
}

/* ---- PINGREQ PINGRESP DISCONNECT AUTH ----------------------------------- */

static void test_empty_packets(void **state)
{
    static const uint8_t types[] = {MQ_PKT_PINGREQ, MQ_PKT_PINGRESP, MQ_PKT_DISCONNECT};
    for (size_t i = 0; i < sizeof(types); i++) {
        uint8_t b[2] = {(uint8_t)(types[i] << 4), 0x00};
        mq_packet_t p;
        for (uint8_t level = 3; level <= 5; level++) {
            assert_int_equal(dec(level, b, 2, &p), MQ_OK);
            assert_int_equal(p.fh.type, types[i]);
        }
        uint8_t out[2];
        assert_encoded(out, mq_codec_encode_empty(out, sizeof(out), types[i]), b, 2);
        assert_int_equal(mq_codec_encode_empty(out, 1, types[i]), 2);
        /* MQTT-2.2.2-2: flags must be 0. */
        uint8_t f[2] = {(uint8_t)(types[i] << 4 | 1), 0x00};
        assert_int_equal(dec(4, f, 2, &p), MQ_EMALFORMED);
        /* Exact length 0 in 3.x. */
        uint8_t l[3] = {(uint8_t)(types[i] << 4), 0x01, 0x00};
        assert_int_equal(dec(4, l, 3, &p), MQ_EMALFORMED);
    }
    uint8_t out[2];
    assert_int_equal(mq_codec_encode_empty(out, sizeof(out), MQ_PKT_PUBACK), MQ_EINVAL);
    /* PINGREQ stays 0 bytes in 5 as well. */
    assert_int_equal(DEC_RC(5, 0xc0, 0x01, 0x00), MQ_EMALFORMED);
}

static void test_disconnect_auth_5(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(5, &p, 0xe0, 0x01, 0x04), MQ_OK);
    assert_int_equal(p.u.disconnect.reason, 0x04);
    assert_null(p.u.disconnect.props.ptr);
    assert_int_equal(DEC(5, &p, 0xe0, 0x05, 0x8e, 0x05, 0x11, 0x00, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC(5, &p, 0xe0, 0x07, 0x8e, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00), MQ_OK);
    assert_int_equal(p.u.disconnect.reason, 0x8e);
    assert_int_equal(p.u.disconnect.props.len, 5);
    assert_int_equal(DEC_RC(5, 0xe0, 0x03, 0x00, 0x00, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC(5, &p, 0xf0, 0x00), MQ_OK);
    assert_int_equal(p.fh.type, MQ_PKT_AUTH);
    assert_int_equal(p.u.disconnect.reason, 0);
    assert_int_equal(DEC(5, &p, 0xf0, 0x02, 0x18, 0x00), MQ_OK);
    assert_int_equal(p.u.disconnect.reason, 0x18);
    assert_int_equal(DEC_RC(5, 0xf1, 0x00), MQ_EMALFORMED);
    /* AUTH is reserved before 5. */
    assert_int_equal(DEC_RC(4, 0xf0, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(3, 0xf0, 0x02, 0x18, 0x00), MQ_EMALFORMED);
}

static void test_decode_type0(void **state)
{
    mq_fixed_header_t fh = {0, 0, 2, 0};
    mq_packet_t p;
    assert_int_equal(mq_codec_decode(&fh, NULL, 4, &p), MQ_EMALFORMED);
}

/* ---- MQTT 5 properties through the decoder, and the v5 encoders ---------- */

static void assert_props_zero(const mq_props_t *p)
{
    mq_props_t z;
    memset(&z, 0, sizeof(z));
    assert_memory_equal(p, &z, sizeof(z));
}

/* CONNECT (MQTT 5 3.1) with every CONNECT property but the response ones,
 * and a will carrying every will property. */
#define CONNECT_5_PROPS                                                                \
    0x10, 0x73, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0xc6, 0x00, 0x1e,                 \
        0x27,                                     /* properties: 39 bytes */          \
        0x11, 0x00, 0x00, 0x0e, 0x10,             /* session expiry 3600 */           \
        0x21, 0x00, 0x14,                         /* receive maximum 20 */            \
        0x27, 0x00, 0x00, 0x10, 0x00,             /* maximum packet size 4096 */      \
        0x22, 0x00, 0x05,                         /* topic alias maximum 5 */         \
        0x17, 0x00,                               /* request problem info 0 */        \
        0x19, 0x01,                               /* request response info 1 */       \
        0x15, 0x00, 0x04, 'S', 'C', 'R', 'M',     /* authentication method */         \
        0x16, 0x00, 0x02, 0x01, 0x02,             /* authentication data */           \
        0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',   /* user property */                 \
        0x00, 0x02, 'c', 'x',                     /* client id */                     \
        0x2b,                                     /* will properties: 43 bytes */     \
        0x18, 0x00, 0x00, 0x00, 0x0a,             /* will delay 10 */                 \
        0x01, 0x01,                               /* payload format 1 */              \
        0x02, 0x00, 0x00, 0x00, 0x3c,             /* message expiry 60 */             \
        0x03, 0x00, 0x0a, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n',             \
        0x08, 0x00, 0x03, 'r', '/', '1',          /* response topic */                \
        0x09, 0x00, 0x02, 0xbe, 0xef,             /* correlation data */              \
        0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b',   /* user property */                 \
        0x00, 0x03, 'w', '/', 't', 0x00, 0x03, 'b', 'y', 'e', 0x00, 0x01, 'u', 0x00,  \
        0x02, 'p', 'w'

static void test_connect_5_properties_vector(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(0, &p, CONNECT_5_PROPS), MQ_OK);
    const mq_props_t *cp = &p.props;
    assert_int_equal(p.u.connect.props.len, 39);
    assert_ptr_equal(cp->raw.ptr, p.u.connect.props.ptr);
    assert_int_equal(cp->session_expiry, 3600);
    assert_int_equal(cp->receive_maximum, 20);
    assert_int_equal(cp->maximum_packet_size, 4096);
    assert_int_equal(cp->topic_alias_maximum, 5);
    assert_true(mq_props_has(cp, MQ_PROP_REQUEST_PROBLEM_INFO));
    assert_int_equal(cp->request_problem_info, 0);
    assert_int_equal(cp->request_response_info, 1);
    assert_str(cp->auth_method, "SCRM");
    assert_int_equal(cp->auth_data.len, 2);
    assert_int_equal(cp->n_user_props, 1);
    const mq_props_t *wp = &p.will_props;
    assert_int_equal(p.u.connect.will_props.len, 43);
    assert_ptr_equal(wp->raw.ptr, p.u.connect.will_props.ptr);
    assert_int_equal(wp->will_delay, 10);
    assert_int_equal(wp->payload_format, 1);
    assert_int_equal(wp->message_expiry, 60);
    assert_str(wp->content_type, "text/plain");
    assert_str(wp->response_topic, "r/1");
    assert_memory_equal(wp->correlation_data.ptr, BYTES(0xbe, 0xef), 2);
    assert_int_equal(wp->n_user_props, 1);
    assert_str(p.u.connect.will_topic, "w/t");
    assert_str(p.u.connect.password, "pw");
    uint8_t out[160];
    ASSERT_ENC(out, mq_codec_encode_connect(out, sizeof(out), &p.u.connect), CONNECT_5_PROPS);
}

/* CONNECT with a will and two property blocks given as hex (keep alive 0,
 * clean start, client id "c", will topic "t", payload "x"). */
static int connect5_rc(const uint8_t *props, uint8_t plen, const uint8_t *wprops, uint8_t wlen)
{
    uint8_t b[128];
    size_t n = 0;
    const uint8_t head[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00, 0x00};
    b[n++] = 0x10;
    b[n++] = (uint8_t)(sizeof(head) + 1 + plen + 3 + 1 + wlen + 6);
    memcpy(b + n, head, sizeof(head));
    n += sizeof(head);
    b[n++] = plen;
    memcpy(b + n, props, plen);
    n += plen;
    memcpy(b + n, "\x00\x01" "c", 3);
    n += 3;
    b[n++] = wlen;
    memcpy(b + n, wprops, wlen);
    n += wlen;
    memcpy(b + n, "\x00\x01t\x00\x01x", 6);
    n += 6;
    return dec_rc(0, b, n);
}
#define CONNECT5_RC(props, wprops) \
    connect5_rc(props, (uint8_t)sizeof(props), wprops, (uint8_t)sizeof(wprops))

static void test_connect_5_property_errors(void **state)
{
    static const uint8_t none[1] = {0};
    static const uint8_t ok[] = {0x11, 0, 0, 0, 1};
    static const uint8_t ok_will[] = {0x18, 0, 0, 0, 1};
    assert_int_equal(connect5_rc(ok, sizeof(ok), ok_will, sizeof(ok_will)), MQ_OK);
    assert_int_equal(connect5_rc(none, 0, none, 0), MQ_OK);
    /* Will delay belongs to the will, session expiry to CONNECT: a property
     * not valid for its packet is a Malformed Packet (MQTT 5 2.2.2.2). */
    assert_int_equal(CONNECT5_RC(ok_will, ok_will), MQ_EMALFORMED);
    assert_int_equal(connect5_rc(ok, sizeof(ok), ok, sizeof(ok)), MQ_EMALFORMED);
    /* Topic alias, subscription id: not in CONNECT nor in a will. */
    static const uint8_t alias[] = {0x23, 0x00, 0x01};
    static const uint8_t subid[] = {0x0b, 0x01};
    assert_int_equal(connect5_rc(alias, sizeof(alias), none, 0), MQ_EMALFORMED);
    assert_int_equal(connect5_rc(none, 0, subid, sizeof(subid)), MQ_EMALFORMED);
    /* Duplicates, zero receive maximum. */
    static const uint8_t dup[] = {0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1};
    static const uint8_t rmax0[] = {0x21, 0x00, 0x00};
    assert_int_equal(connect5_rc(dup, sizeof(dup), none, 0), MQ_EPROTO);
    assert_int_equal(connect5_rc(rmax0, sizeof(rmax0), none, 0), MQ_EPROTO);
    /* Bad UTF-8 in a user property (MQTT-1.5.4-1), unknown identifier. */
    static const uint8_t badu[] = {0x26, 0x00, 0x01, 0xc0, 0x00, 0x00};
    static const uint8_t unknown[] = {0x04, 0x00};
    assert_int_equal(connect5_rc(badu, sizeof(badu), none, 0), MQ_EUTF8);
    assert_int_equal(connect5_rc(none, 0, badu, sizeof(badu)), MQ_EUTF8);
    assert_int_equal(connect5_rc(unknown, sizeof(unknown), none, 0), MQ_EMALFORMED);
    assert_int_equal(connect5_rc(none, 0, unknown, sizeof(unknown)), MQ_EMALFORMED);
}

static void test_connect_5_auth_data_without_method(void **state)
{
    static const uint8_t none[1] = {0};
    /* MQTT 5 3.1.2.11.10 */
    static const uint8_t data[] = {0x16, 0x00, 0x01, 0x07};
    static const uint8_t both[] = {0x16, 0x00, 0x01, 0x07, 0x15, 0x00, 0x01, 'm'};
    static const uint8_t method[] = {0x15, 0x00, 0x01, 'm'};
    assert_int_equal(connect5_rc(data, sizeof(data), none, 0), MQ_EPROTO);
    assert_int_equal(connect5_rc(both, sizeof(both), none, 0), MQ_OK);
    assert_int_equal(connect5_rc(method, sizeof(method), none, 0), MQ_OK);
}

static void test_props_zero_before_v5(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(0, &p, CONNECT_311), MQ_OK);
    assert_props_zero(&p.props);
    assert_props_zero(&p.will_props);
    assert_int_equal(DEC(4, &p, 0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 'h', 'i'),
                     MQ_OK);
    assert_props_zero(&p.props);
    assert_props_zero(&p.will_props);
    assert_int_equal(DEC(3, &p, SUBSCRIBE_EX), MQ_OK);
    assert_props_zero(&p.props);
    /* MQTT 5 packets without a property block, and PINGREQ. */
    assert_int_equal(DEC(5, &p, 0x40, 0x02, 0x00, 0x0a), MQ_OK);
    assert_props_zero(&p.props);
    assert_int_equal(DEC(5, &p, 0xc0, 0x00), MQ_OK);
    assert_props_zero(&p.props);
    assert_props_zero(&p.will_props);
    /* A v5 CONNECT without a will leaves the will properties zero. */
    assert_int_equal(DEC(0, &p, 0x10, 0x13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00,
                         0x3c, 0x05, 0x11, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01, 'c'),
                     MQ_OK);
    assert_int_equal(p.props.session_expiry, 5);
    assert_props_zero(&p.will_props);
}

static void test_connack_5_encode_and_decode(void **state)
{
    uint8_t props[32];
    mq_props_writer_t w = {props, sizeof(props), 0};
    mq_props_put_u16(&w, MQ_PROP_TOPIC_ALIAS_MAXIMUM, 10);
    mq_props_put_str(&w, MQ_PROP_ASSIGNED_CLIENT_ID, "cid", 3);
    mq_props_put_byte(&w, MQ_PROP_MAXIMUM_QOS, 1);
    assert_int_equal(w.len, 11);
    uint8_t out[32];
    int n = mq_codec_encode_connack5(out, sizeof(out), true, 0, props, w.len);
    ASSERT_ENC(out, n, 0x20, 0x0e, 0x01, 0x00, 0x0b, 0x22, 0x00, 0x0a, 0x12, 0x00, 0x03, 'c',
               'i', 'd', 0x24, 0x01);
    mq_packet_t p;
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_true(p.u.connack.session_present);
    assert_int_equal(p.props.topic_alias_maximum, 10);
    assert_str(p.props.assigned_client_id, "cid");
    assert_int_equal(p.props.maximum_qos, 1);
    /* MQTT-3.2.2-6: a refusal has session present 0; empty property block. */
    n = mq_codec_encode_connack5(out, sizeof(out), true, MQ_RC_NOT_AUTHORIZED, NULL, 0);
    ASSERT_ENC(out, n, 0x20, 0x03, 0x00, 0x87, 0x00);
    assert_int_equal(mq_codec_encode_connack5(out, 4, false, 0, NULL, 0), 5);
    assert_int_equal(mq_codec_encode_connack5(out, sizeof(out), false, 0, NULL, 3), MQ_EINVAL);
    /* CONNACK-only properties are refused elsewhere, and vice versa. */
    assert_int_equal(DEC_RC(5, 0x20, 0x05, 0x00, 0x00, 0x02, 0x17, 0x01), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02), MQ_EPROTO);
    assert_int_equal(DEC_RC(5, 0x40, 0x06, 0x00, 0x0a, 0x00, 0x02, 0x24, 0x01), MQ_EMALFORMED);
}

#define PUBLISH_5_PROPS                                                                 \
    0x32, 0x19, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 0x0f, 0x23, 0x00, 0x01, 0x0b, 0x05, \
        0x0b, 0x80, 0x01, 0x26, 0x00, 0x01, 'x', 0x00, 0x01, 'y', 'h', 'i'

static void test_publish_5_properties_vector(void **state)
{
    mq_packet_t p;
    assert_int_equal(DEC(5, &p, PUBLISH_5_PROPS), MQ_OK);
    assert_int_equal(p.props.topic_alias, 1);
    assert_int_equal(p.props.n_subscription_ids, 2);
    assert_int_equal(p.props.subscription_id, 5);
    assert_int_equal(p.props.n_user_props, 1);
    assert_str(p.u.publish.payload, "hi");
    uint8_t out[64];
    ASSERT_ENC(out, mq_codec_encode_publish(out, sizeof(out), 5, &p.u.publish), PUBLISH_5_PROPS);
    /* Built with the writer: the same bytes. */
    uint8_t props[32];
    mq_props_writer_t w = {props, sizeof(props), 0};
    mq_props_put_u16(&w, MQ_PROP_TOPIC_ALIAS, 1);
    mq_props_put_varint(&w, MQ_PROP_SUBSCRIPTION_ID, 5);
    mq_props_put_varint(&w, MQ_PROP_SUBSCRIPTION_ID, 128);
    mq_props_put_pair(&w, "x", 1, "y", 1);
    mq_publish_t pub = {0};
    pub.qos = 1;
    pub.packet_id = 10;
    pub.topic = S("a/b");
    pub.props.ptr = props;
    pub.props.len = (uint32_t)w.len;
    pub.payload = S("hi");
    ASSERT_ENC(out, mq_codec_encode_publish(out, sizeof(out), 5, &pub), PUBLISH_5_PROPS);
}

static void test_publish_5_property_errors(void **state)
{
    /* MQTT 5 3.3.2.1: empty topic name without a Topic Alias. */
    assert_int_equal(DEC_RC(5, 0x30, 0x03, 0x00, 0x00, 0x00), MQ_EPROTO);
    assert_int_equal(DEC_RC(5, 0x30, 0x05, 0x00, 0x00, 0x02, 0x01, 0x01), MQ_EPROTO);
    /* Topic alias 0 decodes (the broker answers it with 0x94, 3.3.2.3.4);
     * an alias twice and a CONNECT property are protocol errors. */
    assert_int_equal(DEC_RC(5, 0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x23, 0x00, 0x00), MQ_OK);
    assert_int_equal(DEC_RC(5, 0x30, 0x0a, 0x00, 0x01, 'a', 0x06, 0x23, 0x00, 0x01, 0x23, 0x00,
                            0x01),
                     MQ_EPROTO);
    assert_int_equal(DEC_RC(5, 0x30, 0x09, 0x00, 0x01, 'a', 0x05, 0x11, 0x00, 0x00, 0x00, 0x00),
                     MQ_EMALFORMED);
    /* Payload format 2; content type not UTF-8; cut property. */
    assert_int_equal(DEC_RC(5, 0x30, 0x06, 0x00, 0x01, 'a', 0x02, 0x01, 0x02), MQ_EPROTO);
    assert_int_equal(DEC_RC(5, 0x30, 0x08, 0x00, 0x01, 'a', 0x04, 0x03, 0x00, 0x01, 0xff),
                     MQ_EUTF8);
    assert_int_equal(DEC_RC(5, 0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x02, 0x00, 0x00),
                     MQ_EMALFORMED);
}

static void test_acks_5_encode_long_and_short(void **state)
{
    uint8_t out[32];
    mq_packet_t p;
    /* MQTT 5 3.4.2.1: short form when reason 0 and no properties. */
    int n = mq_codec_encode_ack5(out, sizeof(out), MQ_PKT_PUBACK, 10, 0, NULL, 0);
    ASSERT_ENC(out, n, 0x40, 0x02, 0x00, 0x0a);
    n = mq_codec_encode_ack5(out, sizeof(out), MQ_PKT_PUBREC, 10, MQ_RC_NO_MATCHING_SUBSCRIBERS,
                             NULL, 0);
    ASSERT_ENC(out, n, 0x50, 0x03, 0x00, 0x0a, 0x10);
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_int_equal(p.u.ack.reason, 0x10);
    static const uint8_t rs[] = {0x1f, 0x00, 0x02, 'n', 'f'};
    n = mq_codec_encode_ack5(out, sizeof(out), MQ_PKT_PUBREL, 10, MQ_RC_PACKET_ID_NOT_FOUND, rs,
                             sizeof(rs));
    ASSERT_ENC(out, n, 0x62, 0x09, 0x00, 0x0a, 0x92, 0x05, 0x1f, 0x00, 0x02, 'n', 'f');
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_int_equal(p.u.ack.reason, 0x92);
    assert_str(p.props.reason_string, "nf");
    static const uint8_t up[] = {0x26, 0x00, 0x01, 'k', 0x00, 0x00};
    n = mq_codec_encode_ack5(out, sizeof(out), MQ_PKT_PUBCOMP, 0xffff, 0, up, sizeof(up));
    ASSERT_ENC(out, n, 0x70, 0x0a, 0xff, 0xff, 0x00, 0x06, 0x26, 0x00, 0x01, 'k', 0x00, 0x00);
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_int_equal(p.props.n_user_props, 1);
    /* Sizes, bad arguments. */
    assert_int_equal(mq_codec_encode_ack5(out, 3, MQ_PKT_PUBACK, 1, 0, up, sizeof(up)), 12);
    assert_int_equal(mq_codec_encode_ack5(out, sizeof(out), MQ_PKT_PUBACK, 0, 0, NULL, 0),
                     MQ_EINVAL);
    assert_int_equal(mq_codec_encode_ack5(out, sizeof(out), MQ_PKT_SUBACK, 1, 0, NULL, 0),
                     MQ_EINVAL);
    assert_int_equal(mq_codec_encode_ack5(out, sizeof(out), MQ_PKT_PUBACK, 1, 0, NULL, 2),
                     MQ_EINVAL);
    /* Properties an ack may not carry. */
    assert_int_equal(DEC_RC(5, 0x40, 0x07, 0x00, 0x0a, 0x00, 0x03, 0x23, 0x00, 0x01), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0x62, 0x09, 0x00, 0x0a, 0x00, 0x05, 0x1f, 0x00, 0x01, 'a', 0x00),
                     MQ_EMALFORMED); /* trailing byte after the block */
    assert_int_equal(DEC_RC(5, 0x50, 0x0a, 0x00, 0x0a, 0x00, 0x06, 0x1f, 0x00, 0x01, 'a', 0x1f,
                            0x00),
                     MQ_EMALFORMED); /* second reason string cut */
    assert_int_equal(DEC_RC(5, 0x50, 0x0c, 0x00, 0x0a, 0x00, 0x08, 0x1f, 0x00, 0x01, 'a', 0x1f,
                            0x00, 0x01, 'b'),
                     MQ_EPROTO); /* reason string twice */
}

static void test_suback_unsuback_5_encode(void **state)
{
    uint8_t out[32];
    mq_packet_t p;
    static const uint8_t rs[] = {0x1f, 0x00, 0x01, 'x'};
    static const uint8_t codes[] = {0x00, 0x01, 0x02, 0x80, 0x8f, 0x9e};
    int n = mq_codec_encode_reasons5(out, sizeof(out), MQ_PKT_SUBACK, 10, rs, sizeof(rs), codes,
                                     sizeof(codes));
    ASSERT_ENC(out, n, 0x90, 0x0d, 0x00, 0x0a, 0x04, 0x1f, 0x00, 0x01, 'x', 0x00, 0x01, 0x02,
               0x80, 0x8f, 0x9e);
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_int_equal(p.u.sub.count, 6);
    assert_str(p.props.reason_string, "x");
    static const uint8_t ucodes[] = {0x00, 0x11};
    n = mq_codec_encode_reasons5(out, sizeof(out), MQ_PKT_UNSUBACK, 10, NULL, 0, ucodes, 2);
    ASSERT_ENC(out, n, 0xb0, 0x05, 0x00, 0x0a, 0x00, 0x00, 0x11);
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_int_equal(p.u.sub.count, 2);
    assert_int_equal(mq_codec_encode_reasons5(out, 4, MQ_PKT_UNSUBACK, 10, NULL, 0, ucodes, 2),
                     7);
    assert_int_equal(mq_codec_encode_reasons5(out, sizeof(out), MQ_PKT_PUBACK, 10, NULL, 0,
                                              ucodes, 2),
                     MQ_EINVAL);
    assert_int_equal(mq_codec_encode_reasons5(out, sizeof(out), MQ_PKT_SUBACK, 10, NULL, 0,
                                              ucodes, 0),
                     MQ_EINVAL);
    assert_int_equal(mq_codec_encode_reasons5(out, sizeof(out), MQ_PKT_SUBACK, 0, NULL, 0,
                                              ucodes, 1),
                     MQ_EINVAL);
    /* A subscription identifier belongs to SUBSCRIBE, not SUBACK. */
    assert_int_equal(DEC_RC(5, 0x90, 0x06, 0x00, 0x0a, 0x02, 0x0b, 0x01, 0x00), MQ_EMALFORMED);
    /* UNSUBSCRIBE carries user properties only (MQTT 5 3.10.2.1). */
    assert_int_equal(DEC_RC(5, 0xa2, 0x0a, 0x00, 0x0a, 0x04, 0x1f, 0x00, 0x01, 'r', 0x00, 0x01,
                            'a'),
                     MQ_EMALFORMED);
    assert_int_equal(DEC(5, &p, 0xa2, 0x0c, 0x00, 0x0a, 0x06, 0x26, 0x00, 0x00, 0x00, 0x01, 'v',
                         0x00, 0x01, 'a'),
                     MQ_OK);
    assert_int_equal(p.props.n_user_props, 1);
}

static void test_disconnect_auth_5_encode(void **state)
{
    uint8_t out[32];
    mq_packet_t p;
    /* MQTT 5 3.14.2.1: remaining length 0 for a normal disconnection. */
    int n = mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_DISCONNECT, 0, NULL, 0);
    ASSERT_ENC(out, n, 0xe0, 0x00);
    n = mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_DISCONNECT,
                                    MQ_RC_SESSION_TAKEN_OVER, NULL, 0);
    ASSERT_ENC(out, n, 0xe0, 0x01, 0x8e);
    static const uint8_t se[] = {0x11, 0x00, 0x00, 0x00, 0x00};
    n = mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_DISCONNECT,
                                    MQ_RC_DISCONNECT_WITH_WILL, se, sizeof(se));
    ASSERT_ENC(out, n, 0xe0, 0x07, 0x04, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00);
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_true(mq_props_has(&p.props, MQ_PROP_SESSION_EXPIRY));
    static const uint8_t sr[] = {0x1c, 0x00, 0x01, 'h'};
    n = mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_DISCONNECT,
                                    MQ_RC_USE_ANOTHER_SERVER, sr, sizeof(sr));
    ASSERT_ENC(out, n, 0xe0, 0x06, 0x9c, 0x04, 0x1c, 0x00, 0x01, 'h');
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_str(p.props.server_reference, "h");
    /* AUTH (3.15.2.1): both fields or neither. */
    n = mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_AUTH, 0, NULL, 0);
    ASSERT_ENC(out, n, 0xf0, 0x00);
    n = mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_AUTH, MQ_RC_CONTINUE_AUTH, NULL, 0);
    ASSERT_ENC(out, n, 0xf0, 0x02, 0x18, 0x00);
    static const uint8_t am[] = {0x15, 0x00, 0x01, 'm', 0x16, 0x00, 0x01, 0x07};
    n = mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_AUTH, MQ_RC_CONTINUE_AUTH, am,
                                    sizeof(am));
    ASSERT_ENC(out, n, 0xf0, 0x0a, 0x18, 0x08, 0x15, 0x00, 0x01, 'm', 0x16, 0x00, 0x01, 0x07);
    assert_int_equal(dec(5, out, (size_t)n, &p), MQ_OK);
    assert_str(p.props.auth_method, "m");
    assert_int_equal(p.u.disconnect.reason, 0x18);
    n = mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_AUTH, 0, am, sizeof(am));
    ASSERT_ENC(out, n, 0xf0, 0x0a, 0x00, 0x08, 0x15, 0x00, 0x01, 'm', 0x16, 0x00, 0x01, 0x07);
    assert_int_equal(mq_codec_encode_disconnect5(out, 2, MQ_PKT_AUTH, 0, am, sizeof(am)), 12);
    assert_int_equal(mq_codec_encode_disconnect5(out, sizeof(out), MQ_PKT_PUBACK, 0, NULL, 0),
                     MQ_EINVAL);
    /* AUTH with a reason code but no property length is malformed. */
    assert_int_equal(DEC_RC(5, 0xf0, 0x01, 0x18), MQ_EMALFORMED);
    /* Properties out of place. */
    assert_int_equal(DEC_RC(5, 0xf0, 0x07, 0x18, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(5, 0xe0, 0x06, 0x00, 0x04, 0x15, 0x00, 0x01, 'm'), MQ_EMALFORMED);
}

/* ---- shared subscriptions (MQTT 5 section 4.8.2) -------------------------- */

/* SUBSCRIBE with one filter at the given level. */
static int sub1_rc(uint8_t level, const char *filter, uint8_t options)
{
    uint8_t b[300];
    size_t fl = strlen(filter), n = 0;
    b[n++] = 0x82;
    b[n++] = (uint8_t)(2 + (level == 5) + 2 + fl + 1);
    b[n++] = 0x00;
    b[n++] = 0x0a;
    if (level == 5)
        b[n++] = 0x00;
    b[n++] = 0x00;
    b[n++] = (uint8_t)fl;
    memcpy(b + n, filter, fl);
    n += fl;
    b[n++] = options;
    return dec_rc(level, b, n);
}

static int unsub1_rc(uint8_t level, const char *filter)
{
    uint8_t b[300];
    size_t fl = strlen(filter), n = 0;
    b[n++] = 0xa2;
    b[n++] = (uint8_t)(2 + (level == 5) + 2 + fl);
    b[n++] = 0x00;
    b[n++] = 0x0a;
    if (level == 5)
        b[n++] = 0x00;
    b[n++] = 0x00;
    b[n++] = (uint8_t)fl;
    memcpy(b + n, filter, fl);
    n += fl;
    return dec_rc(level, b, n);
}

static void test_MQTT_4_8_2_1_shared_filter_share_name(void **state)
{
    for (uint8_t level = 4; level <= 5; level++) {
        assert_int_equal(sub1_rc(level, "$share/g/a/b", 1), MQ_OK);
        assert_int_equal(sub1_rc(level, "$share/g/#", 1), MQ_OK);
        assert_int_equal(sub1_rc(level, "$share/group-1/+/x", 0), MQ_OK);
        assert_int_equal(sub1_rc(level, "$share/g/$SYS/x", 0), MQ_OK);
        assert_int_equal(sub1_rc(level, "$share//a", 1), MQ_ETOPIC);
        assert_int_equal(sub1_rc(level, "$share/", 1), MQ_ETOPIC);
        assert_int_equal(unsub1_rc(level, "$share//a"), MQ_ETOPIC);
        assert_int_equal(unsub1_rc(level, "$share/g/a"), MQ_OK);
        /* Not shared subscriptions at all. */
        assert_int_equal(sub1_rc(level, "$share", 1), MQ_OK);
        assert_int_equal(sub1_rc(level, "$shared/g/a", 1), MQ_OK);
        assert_int_equal(sub1_rc(level, "$SHARE/g", 1), MQ_OK);
    }
    assert_int_equal(sub1_rc(3, "$share/g/a", 1), MQ_OK);
    assert_int_equal(sub1_rc(3, "$share//a", 1), MQ_ETOPIC);
}

static void test_MQTT_4_8_2_2_shared_filter_structure(void **state)
{
    for (uint8_t level = 3; level <= 5; level++) {
        assert_int_equal(sub1_rc(level, "$share/+/a", 0), MQ_ETOPIC);
        assert_int_equal(sub1_rc(level, "$share/#", 0), MQ_ETOPIC);
        assert_int_equal(sub1_rc(level, "$share/g+/a", 0), MQ_ETOPIC);
        assert_int_equal(sub1_rc(level, "$share/g", 0), MQ_ETOPIC);  /* no filter */
        assert_int_equal(sub1_rc(level, "$share/g/", 0), MQ_ETOPIC); /* empty filter */
        assert_int_equal(sub1_rc(level, "$share/g/a#", 0), MQ_ETOPIC);
        assert_int_equal(unsub1_rc(level, "$share/g"), MQ_ETOPIC);
    }
}

static void test_MQTT_3_8_3_4_no_local_on_shared_subscription(void **state)
{
    assert_int_equal(sub1_rc(5, "$share/g/a", 0x04), MQ_EPROTO);
    assert_int_equal(sub1_rc(5, "$share/g/a", 0x05 | 0x08 | 0x20), MQ_EPROTO);
    assert_int_equal(sub1_rc(5, "$share/g/a", 0x01 | 0x08 | 0x20), MQ_OK);
    assert_int_equal(sub1_rc(5, "a", 0x04), MQ_OK);
}

static void test_topic_shared_split(void **state)
{
    mq_str_t g, f;
    assert_true(mq_topic_shared_split(U("$share/grp/a/+/#"), &g, &f));
    assert_str(g, "grp");
    assert_str(f, "a/+/#");
    assert_true(mq_topic_shared_split(U("$share/g/$SYS/#"), &g, &f));
    assert_str(g, "g");
    assert_str(f, "$SYS/#");
    assert_true(mq_topic_shared_split(U("$share/\xc3\xa9/x"), NULL, &f));
    assert_str(f, "x");
    static const char *const no[] = {"a/b", "$share", "$sharegroup/a", "$share/", "$share//a",
                                     "$share/g", "$share/g/", "$share/+/a", "$share/#",
                                     "$share/g/a#", "$share/g/+x", "$share/\xc0\x80/a", ""};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        const uint8_t *s = (const uint8_t *)no[i];
        g.ptr = s;
        g.len = 99;
        assert_false(mq_topic_shared_split(s, strlen(no[i]), &g, &f));
        assert_null(g.ptr);
        assert_int_equal(g.len, 0);
        assert_ptr_equal(f.ptr, s);
        assert_int_equal(f.len, strlen(no[i]));
    }
    assert_false(mq_topic_shared_split(NULL, 0, NULL, NULL));
}

/* ---- MQTT 3.1 DUP on PUBREL, SUBSCRIBE, UNSUBSCRIBE ------------------------ */

static void test_mqtt31_dup_on_qos1_control_packets(void **state)
{
    /* MQTT 3.1 sections 3.6, 3.8, 3.10: QoS 1 in the header, DUP set on a
     * re-send; RETAIN unused. */
    assert_int_equal(DEC_RC(3, 0x6a, 0x02, 0x00, 0x0a), MQ_OK);
    assert_int_equal(DEC_RC(3, 0x62, 0x02, 0x00, 0x0a), MQ_OK);
    assert_int_equal(DEC_RC(3, 0x8a, 0x06, 0x00, 0x0a, 0x00, 0x01, 'a', 0x01), MQ_OK);
    assert_int_equal(DEC_RC(3, 0xaa, 0x05, 0x00, 0x0a, 0x00, 0x01, 'a'), MQ_OK);
    static const uint8_t bad31[] = {0x0, 0x1, 0x3, 0x4, 0x8, 0x9, 0xb, 0xc, 0xe};
    for (size_t i = 0; i < sizeof(bad31); i++) {
        uint8_t b[4] = {(uint8_t)(0x60 | bad31[i]), 0x02, 0x00, 0x0a};
        assert_int_equal(dec_rc(3, b, 4), MQ_EMALFORMED);
    }
    /* MQTT-2.2.2-2 stays strict for 3.1.1 and 5 (MQTT-3.6.1-1, -3.8.1-1,
     * -3.10.1-1), and for the other packets in 3.1. */
    for (uint8_t level = 4; level <= 5; level++) {
        assert_int_equal(DEC_RC(level, 0x6a, 0x02, 0x00, 0x0a), MQ_EMALFORMED);
        assert_int_equal(DEC_RC(level, 0xaa, 0x05, 0x00, 0x0a, 0x00, 0x01, 'a'), MQ_EMALFORMED);
    }
    assert_int_equal(DEC_RC(4, 0x8a, 0x06, 0x00, 0x0a, 0x00, 0x01, 'a', 0x01), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(3, 0x48, 0x02, 0x00, 0x0a), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(3, 0x58, 0x02, 0x00, 0x0a), MQ_EMALFORMED);
    assert_int_equal(DEC_RC(3, 0x98, 0x03, 0x00, 0x0a, 0x00), MQ_EMALFORMED);
}

/* ---- round trips -------------------------------------------------------- */

static void roundtrip_publish(uint8_t level, const mq_publish_t *in)
{
    uint8_t out[512];
    int n = mq_codec_encode_publish(out, sizeof(out), level, in);
    assert_true(n > 0 && n <= (int)sizeof(out));
    mq_packet_t p;
    assert_int_equal(dec(level, out, (size_t)n, &p), MQ_OK);
    const mq_publish_t *o = &p.u.publish;
    assert_int_equal(o->qos, in->qos);
    assert_int_equal(o->dup, in->dup && in->qos);
    assert_int_equal(o->retain, in->retain);
    assert_int_equal(o->packet_id, in->qos ? in->packet_id : 0);
    assert_int_equal(o->topic.len, in->topic.len);
    assert_memory_equal(o->topic.ptr, in->topic.ptr, in->topic.len);
    assert_int_equal(o->payload.len, in->payload.len);
    if (in->payload.len)
        assert_memory_equal(o->payload.ptr, in->payload.ptr, in->payload.len);
    if (level == 5) {
        assert_int_equal(o->props.len, in->props.len);
        if (in->props.len)
            assert_memory_equal(o->props.ptr, in->props.ptr, in->props.len);
    }
}

static void test_roundtrip_publish(void **state)
{
    static uint8_t payload[300];
    static const uint8_t pfi[] = {0x01, 0x01}; /* payload format indicator */
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)i;
    const char *topics[] = {"a", "a/b/c", "$SYS/x", "/", "caf\xc3\xa9/\xf0\x9f\x98\x80"};
    for (uint8_t level = 3; level <= 5; level++)
        for (uint8_t qos = 0; qos <= 2; qos++)
            for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++)
                for (uint32_t plen = 0; plen <= 300; plen += 150) {
                    mq_publish_t pub = {0};
                    pub.qos = qos;
                    pub.dup = (t & 1) != 0;
                    pub.retain = (plen & 2) != 0;
                    pub.packet_id = (uint16_t)(qos ? 1000 + t : 0);
                    pub.topic = S(topics[t]);
                    pub.payload.ptr = payload;
                    pub.payload.len = plen;
                    if (level == 5 && t == 2) {
                        pub.props.ptr = pfi;
                        pub.props.len = 2;
                    }
                    roundtrip_publish(level, &pub);
                }
}

static void test_roundtrip_connect(void **state)
{
    static const uint8_t rmax[] = {0x21, 0x00, 0x0a};            /* receive maximum 10 */
    static const uint8_t wdelay[] = {0x18, 0x00, 0x00, 0x00, 0x05}; /* will delay 5 s */
    for (uint8_t level = 3; level <= 5; level++)
        for (unsigned mask = 0; mask < 16; mask++) {
            mq_connect_t c;
            memset(&c, 0, sizeof(c));
            c.protocol_level = level;
            c.clean = mask & 1;
            c.will = (mask & 2) != 0;
            c.will_qos = c.will ? (uint8_t)(mask % 3) : 0;
            c.will_retain = c.will && (mask & 8);
            c.has_username = (mask & 4) != 0;
            c.has_password = c.has_username && (mask & 8);
            c.keepalive = (uint16_t)(mask * 1000);
            c.client_id = S(mask & 1 ? "" : "client-\xe2\x82\xac");
            c.will_topic = S("will/t");
            c.will_payload = S("gone");
            c.username = S("user");
            c.password = S("secret");
            if (level == 5) {
                c.props.ptr = rmax;
                c.props.len = 3;
                c.will_props.ptr = wdelay;
                c.will_props.len = 5;
            }
            uint8_t out[128];
            int n = mq_codec_encode_connect(out, sizeof(out), &c);
            assert_true(n > 0 && n <= (int)sizeof(out));
            mq_packet_t p;
            assert_int_equal(dec(0, out, (size_t)n, &p), MQ_OK);
            const mq_connect_t *o = &p.u.connect;
            assert_int_equal(o->protocol_level, level);
            assert_int_equal(o->clean, c.clean);
            assert_int_equal(o->will, c.will);
            assert_int_equal(o->will_qos, c.will_qos);
            assert_int_equal(o->will_retain, c.will_retain);
            assert_int_equal(o->has_username, c.has_username);
            assert_int_equal(o->has_password, c.has_password);
            assert_int_equal(o->keepalive, c.keepalive);
            assert_int_equal(o->client_id.len, c.client_id.len);
            assert_memory_equal(o->client_id.ptr, c.client_id.ptr, c.client_id.len);
            if (c.will) {
                assert_str(o->will_topic, "will/t");
                assert_str(o->will_payload, "gone");
                if (level == 5)
                    assert_int_equal(o->will_props.len, 5);
            }
            if (c.has_username)
                assert_str(o->username, "user");
            if (c.has_password)
                assert_str(o->password, "secret");
            if (level == 5)
                assert_int_equal(o->props.len, 3);
        }
}

static void test_roundtrip_subscribe_many(void **state)
{
    /* 200 filters makes the remaining length need two bytes. */
    enum { N = 200 };
    static char names[N][8];
    mq_str_t f[N];
    uint8_t o[N];
    for (int i = 0; i < N; i++) {
        int len = 0;
        names[i][len++] = 't';
        names[i][len++] = '/';
        names[i][len++] = (char)('0' + i / 100);
        names[i][len++] = (char)('0' + i / 10 % 10);
        names[i][len++] = (char)('0' + i % 10);
        if (i % 3 == 0) {
            names[i][len++] = '/';
            names[i][len++] = i % 2 ? '+' : '#';
        }
        f[i].ptr = (const uint8_t *)names[i];
        f[i].len = (uint32_t)len;
        o[i] = (uint8_t)(i % 3);
    }
    for (uint8_t level = 3; level <= 5; level++) {
        uint8_t out[4096];
        int n = mq_codec_encode_subscribe(out, sizeof(out), level, 77, f, o, N);
        assert_true(n > 0 && n <= (int)sizeof(out));
        mq_packet_t p;
        assert_int_equal(dec(level, out, (size_t)n, &p), MQ_OK);
        assert_int_equal(p.u.sub.count, N);
        assert_int_equal(p.u.sub.packet_id, 77);
        mq_sublist_iter_t it;
        mq_codec_filters_begin(&p.u.sub, true, &it);
        for (int i = 0; i < N; i++) {
            mq_str_t g;
            uint8_t go;
            assert_true(mq_codec_filters_next(&it, &g, &go));
            assert_int_equal(g.len, f[i].len);
            assert_memory_equal(g.ptr, f[i].ptr, g.len);
            assert_int_equal(go, o[i]);
        }
        mq_str_t g;
        uint8_t go;
        assert_false(mq_codec_filters_next(&it, &g, &go));

        n = mq_codec_encode_unsubscribe(out, sizeof(out), level, 78, f, N);
        assert_true(n > 0);
        assert_int_equal(dec(level, out, (size_t)n, &p), MQ_OK);
        assert_int_equal(p.u.sub.count, N);
        assert_int_equal(p.u.sub.packet_id, 78);
    }
}

/* ---- UTF-8 and topics (MQTT-1.5.3-x, MQTT-4.7.x) ------------------------- */


static void test_utf8_valid_edges(void **state)
{
    assert_true(mq_utf8_valid(U("")));
    assert_true(mq_utf8_valid(U("abc")));
    assert_true(mq_utf8_valid(U("\x7f")));
    assert_true(mq_utf8_valid(U("\xc2\x80")));             /* U+0080 */
    assert_true(mq_utf8_valid(U("\xdf\xbf")));             /* U+07FF */
    assert_true(mq_utf8_valid(U("\xe0\xa0\x80")));         /* U+0800 */
    assert_true(mq_utf8_valid(U("\xed\x9f\xbf")));         /* U+D7FF */
    assert_true(mq_utf8_valid(U("\xee\x80\x80")));         /* U+E000 */
    assert_true(mq_utf8_valid(U("\xef\xbb\xbf")));         /* U+FEFF, MQTT-1.5.3-3 */
    assert_true(mq_utf8_valid(U("\xef\xbf\xbf")));         /* U+FFFF */
    assert_true(mq_utf8_valid(U("\xf0\x90\x80\x80")));     /* U+10000 */
    assert_true(mq_utf8_valid(U("\xf4\x8f\xbf\xbf")));     /* U+10FFFF */
    assert_true(mq_utf8_valid(U("A\xf0\xaa\x9b\x94")));    /* figure 1.1 */
}

static void test_MQTT_1_5_3_1_utf8_ill_formed(void **state)
{
    assert_false(mq_utf8_valid(U("\xc0\x80")));            /* overlong NUL */
    assert_false(mq_utf8_valid(U("\xc1\xbf")));            /* overlong */
    assert_false(mq_utf8_valid(U("\xe0\x80\x80")));        /* overlong */
    assert_false(mq_utf8_valid(U("\xe0\x9f\xbf")));        /* overlong */
    assert_false(mq_utf8_valid(U("\xf0\x80\x80\x80")));    /* overlong */
    assert_false(mq_utf8_valid(U("\xf0\x8f\xbf\xbf")));    /* overlong */
    assert_false(mq_utf8_valid(U("\xed\xa0\x80")));        /* U+D800 */
    assert_false(mq_utf8_valid(U("\xed\xbf\xbf")));        /* U+DFFF */
    assert_false(mq_utf8_valid(U("\xed\xb0\x80")));        /* U+DC00 */
    assert_false(mq_utf8_valid(U("\xf4\x90\x80\x80")));    /* U+110000 */
    assert_false(mq_utf8_valid(U("\xf5\x80\x80\x80")));
    assert_false(mq_utf8_valid(U("\xff")));
    assert_false(mq_utf8_valid(U("\x80")));                /* lone continuation */
    assert_false(mq_utf8_valid(U("a\xbf")));
    assert_false(mq_utf8_valid(U("\xc2")));                /* truncated */
    assert_false(mq_utf8_valid(U("\xe2\x82")));
    assert_false(mq_utf8_valid(U("\xf0\x9f\x98")));
    assert_false(mq_utf8_valid(U("\xc2\x41")));            /* bad continuation */
    assert_false(mq_utf8_valid(U("\xe2\x28\xa1")));
    assert_false(mq_utf8_valid(U("\xf0\x9f\x28\x80")));
    assert_false(mq_utf8_valid(U("\xf0\x9f\x98\x28")));
}

static void test_MQTT_1_5_3_2_utf8_nul(void **state)
{
    assert_false(mq_utf8_valid(U("\0")));
    assert_false(mq_utf8_valid(U("ab\0cd")));
}

static void test_utf8_truncation_never_overreads(void **state)
{
    /* Each prefix of a multi-byte sequence, in an exact-size heap buffer. */
    const uint8_t seq[] = {0xf0, 0x9f, 0x98, 0x80};
    for (size_t k = 1; k <= 4; k++) {
        uint8_t *b = malloc(k);
        assert_non_null(b);
        memcpy(b, seq, k);
        assert_int_equal(mq_utf8_valid(b, k), k == 4);
        assert_int_equal(mq_topic_name_valid(b, k), k == 4);
        assert_int_equal(mq_topic_filter_valid(b, k), k == 4);
        free(b);
    }
}

static void test_topic_name_valid(void **state)
{
    assert_true(mq_topic_name_valid(U("a")));
    assert_true(mq_topic_name_valid(U("/")));
    assert_true(mq_topic_name_valid(U("a//b/")));
    assert_true(mq_topic_name_valid(U("$SYS/broker")));
    assert_true(mq_topic_name_valid(U(" ")));
    assert_true(mq_topic_name_valid(U("\xe2\x82\xac/x")));
    assert_false(mq_topic_name_valid(U("")));              /* MQTT-4.7.3-1 */
    assert_false(mq_topic_name_valid(U("+")));             /* MQTT-3.3.2-2 */
    assert_false(mq_topic_name_valid(U("a/#")));
    assert_false(mq_topic_name_valid(U("a+b")));
    assert_false(mq_topic_name_valid(U("a\0b")));          /* MQTT-1.5.3-2 */
    assert_false(mq_topic_name_valid(U("a\xed\xa0\x80")));  /* MQTT-1.5.3-1 */
}

static void test_topic_filter_valid(void **state)
{
    const char *good[] = {"#", "+", "/", "a", "a/#", "a/+", "+/+", "+/#", "/+", "/#",
                          "a/+/b", "+/a/#", "sport/tennis/+", "$SYS/#", "//", "a//#",
                          "\xe2\x82\xac/+"};
    const char *bad[] = {"", "a#", "#a", "a/#/b", "#/", "##", "a+", "+a", "a/b+",
                         "++", "a/++/b", "+#", "#+", "sport/tennis#", "sport+"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(mq_topic_filter_valid((const uint8_t *)good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(mq_topic_filter_valid((const uint8_t *)bad[i], strlen(bad[i])));
    assert_false(mq_topic_filter_valid(U("a/\xc0\xaf")));
    assert_false(mq_topic_filter_valid(U("\0")));
}

static void test_topic_scan_every_position(void **state)
{
    /* The scanners read 8 bytes at a time: put each special byte at every
     * offset of a long string so that both paths see it. */
    enum { L = 29 };
    uint8_t b[L];
    for (size_t pos = 0; pos < L; pos++) {
        memset(b, 'a', L);
        assert_true(mq_topic_name_valid(b, L));
        assert_true(mq_topic_filter_valid(b, L));
        assert_true(mq_utf8_valid(b, L));
        b[pos] = '+';
        assert_false(mq_topic_name_valid(b, L));
        assert_false(mq_topic_filter_valid(b, L));
        assert_true(mq_utf8_valid(b, L));
        b[pos] = '#';
        assert_false(mq_topic_name_valid(b, L));
        assert_int_equal(mq_topic_filter_valid(b, L), false);
        b[pos] = 0;
        assert_false(mq_topic_name_valid(b, L));
        assert_false(mq_topic_filter_valid(b, L));
        assert_false(mq_utf8_valid(b, L));
        b[pos] = 0x80;
        assert_false(mq_topic_name_valid(b, L));
        assert_false(mq_topic_filter_valid(b, L));
        assert_false(mq_utf8_valid(b, L));
        b[pos] = 0x7f;
        assert_true(mq_topic_name_valid(b, L));
        assert_true(mq_utf8_valid(b, L));
        /* '+' and '#' alone in a level, at every offset */
        memset(b, 'a', L);
        b[pos] = '+';
        if (pos > 0)
            b[pos - 1] = '/';
        if (pos + 1 < L)
            b[pos + 1] = '/';
        assert_true(mq_topic_filter_valid(b, L));
        b[pos] = '#';
        assert_int_equal(mq_topic_filter_valid(b, L), pos + 1 == L);
        /* a 2-byte character straddling every word boundary */
        if (pos + 1 < L) {
            memset(b, 'a', L);
            b[pos] = 0xc3;
            b[pos + 1] = 0xa9;
            assert_true(mq_topic_name_valid(b, L));
            assert_true(mq_utf8_valid(b, L));
            b[pos + 1] = 'a';
            assert_false(mq_utf8_valid(b, L));
        }
    }
}

static void test_strerror(void **state)
{
    for (int e = MQ_ECLOSED; e <= MQ_OK; e++) {
        const char *s = mq_strerror(e);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
        for (int f = MQ_ECLOSED; f < e; f++)
            assert_string_not_equal(s, mq_strerror(f));
    }
    assert_string_equal(mq_strerror(-1000), "unknown error");
    assert_string_equal(mq_strerror(7), "unknown error");
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_varint_boundaries),
        T(test_varint_five_bytes_malformed),
        T(test_varint_non_minimal_accepted),
        T(test_fixed_header_type0_and_limits),
        T(test_connect_311_vector),
        T(test_connect_311_encode_from_fields),
        T(test_connect_31_vector),
        T(test_connect_5_vector),
        T(test_connect_5_minimal_and_props_bounds),
        T(test_connect_empty_client_id),
        T(test_MQTT_3_1_2_1_connect_wrong_protocol_name),
        T(test_MQTT_3_1_2_2_connect_unsupported_level),
        T(test_MQTT_3_1_2_3_connect_reserved_flag),
        T(test_MQTT_3_1_2_11_connect_will_qos_without_will),
        T(test_MQTT_3_1_2_13_connect_will_qos2_without_will),
        T(test_MQTT_3_1_2_14_connect_will_qos3),
        T(test_MQTT_3_1_2_15_connect_will_retain_without_will),
        T(test_MQTT_3_1_2_22_connect_password_without_username),
        T(test_MQTT_1_5_3_1_connect_client_id_bad_utf8),
        T(test_MQTT_1_5_3_2_connect_username_nul),
        T(test_MQTT_3_1_3_10_connect_will_topic_invalid),
        T(test_MQTT_2_2_2_2_connect_fixed_header_flags),
        T(test_connect_trailing_bytes),
        T(test_connect_every_truncation_fails),
        T(test_connect_encode_invalid_args),
        T(test_connack_vectors),
        T(test_MQTT_3_2_2_1_connack_reserved_flags),
        T(test_MQTT_3_2_2_4_connack_session_present_with_error),
        T(test_connack_lengths),
        T(test_publish_vector),
        T(test_publish_qos0_empty_payload_retain),
        T(test_publish_qos2_dup),
        T(test_publish_5_props),
        T(test_MQTT_3_3_1_4_publish_qos3),
        T(test_MQTT_3_3_1_2_publish_dup_qos0),
        T(test_MQTT_3_3_2_2_publish_topic_wildcards),
        T(test_MQTT_4_7_3_1_publish_empty_topic),
        T(test_MQTT_1_5_3_1_publish_topic_bad_utf8),
        T(test_MQTT_2_3_1_1_publish_packet_id_zero),
        T(test_publish_lengths),
        T(test_publish_encode_args_and_sizes),
        T(test_acks_vectors),
        T(test_MQTT_3_6_1_1_pubrel_flags),
        T(test_MQTT_2_2_2_2_ack_flags),
        T(test_acks_5_layouts),
        T(test_subscribe_vector),
        T(test_subscribe_wildcards_ok),
        T(test_subscribe_5),
        T(test_MQTT_3_8_1_1_subscribe_flags),
        T(test_MQTT_3_8_3_3_subscribe_no_filters),
        T(test_MQTT_3_8_3_4_subscribe_reserved_option_bits),
        T(test_MQTT_4_7_1_2_subscribe_hash_misplaced),
        T(test_MQTT_4_7_1_3_subscribe_plus_misplaced),
        T(test_MQTT_4_7_3_1_subscribe_empty_filter),
        T(test_MQTT_1_5_3_1_subscribe_filter_bad_utf8),
        T(test_MQTT_2_3_1_1_subscribe_packet_id_zero),
        T(test_subscribe_truncated),
        T(test_subscribe_encode_args),
        T(test_unsubscribe_vector),
        T(test_MQTT_3_10_1_1_unsubscribe_flags),
        T(test_MQTT_3_10_3_2_unsubscribe_no_filters),
        T(test_MQTT_4_7_1_2_unsubscribe_bad_filter),
        T(test_suback_vector),
        T(test_MQTT_3_9_3_2_suback_reserved_codes),
        T(test_unsuback_5),
        T(test_empty_packets),
        T(test_disconnect_auth_5),
        T(test_decode_type0),
        T(test_connect_5_properties_vector),
        T(test_connect_5_property_errors),
        T(test_connect_5_auth_data_without_method),
        T(test_props_zero_before_v5),
        T(test_connack_5_encode_and_decode),
        T(test_publish_5_properties_vector),
        T(test_publish_5_property_errors),
        T(test_acks_5_encode_long_and_short),
        T(test_suback_unsuback_5_encode),
        T(test_disconnect_auth_5_encode),
        T(test_MQTT_4_8_2_1_shared_filter_share_name),
        T(test_MQTT_4_8_2_2_shared_filter_structure),
        T(test_MQTT_3_8_3_4_no_local_on_shared_subscription),
        T(test_topic_shared_split),
        T(test_mqtt31_dup_on_qos1_control_packets),
        T(test_roundtrip_publish),
        T(test_roundtrip_connect),
        T(test_roundtrip_subscribe_many),
        T(test_utf8_valid_edges),
        T(test_MQTT_1_5_3_1_utf8_ill_formed),
        T(test_MQTT_1_5_3_2_utf8_nul),
        T(test_utf8_truncation_never_overreads),
        T(test_topic_name_valid),
        T(test_topic_filter_valid),
        T(test_topic_scan_every_position),
        T(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

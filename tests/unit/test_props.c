/*
 * test_props — unit tests of MQTT 5 property blocks (src/codec/props.c).
 *
 * The table below is written out again from OASIS MQTT 5.0 section 2.2.2.2
 * (table 2-4) and the per-packet property sections, independently of the
 * codec's own table, so a wrong row there fails here. Every parsed block is
 * copied into an exact-size heap buffer so that AddressSanitizer catches a
 * read past it.
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

enum { BYTE, U16, U32, VARINT, STR, BIN, PAIR };

/* Context numbers: MQ_PROPS_WILL (0) and the packet types 1..15. */
#define W (1u << MQ_PROPS_WILL)
#define P(t) (1u << (t))
#define ACKS (P(MQ_PKT_PUBACK) | P(MQ_PKT_PUBREC) | P(MQ_PKT_PUBREL) | P(MQ_PKT_PUBCOMP))

static const struct {
    uint8_t id;
    uint8_t kind;
    uint16_t ctx;
} g_table[] = {
    {0x01, BYTE, P(MQ_PKT_PUBLISH) | W},
    {0x02, U32, P(MQ_PKT_PUBLISH) | W},
    {0x03, STR, P(MQ_PKT_PUBLISH) | W},
    {0x08, STR, P(MQ_PKT_PUBLISH) | W},
    {0x09, BIN, P(MQ_PKT_PUBLISH) | W},
    {0x0B, VARINT, P(MQ_PKT_PUBLISH) | P(MQ_PKT_SUBSCRIBE)},
    {0x11, U32, P(MQ_PKT_CONNECT) | P(MQ_PKT_CONNACK) | P(MQ_PKT_DISCONNECT)},
    {0x12, STR, P(MQ_PKT_CONNACK)},
    {0x13, U16, P(MQ_PKT_CONNACK)},
    {0x15, STR, P(MQ_PKT_CONNECT) | P(MQ_PKT_CONNACK) | P(MQ_PKT_AUTH)},
    {0x16, BIN, P(MQ_PKT_CONNECT) | P(MQ_PKT_CONNACK) | P(MQ_PKT_AUTH)},
    {0x17, BYTE, P(MQ_PKT_CONNECT)},
    {0x18, U32, W},
    {0x19, BYTE, P(MQ_PKT_CONNECT)},
    {0x1A, STR, P(MQ_PKT_CONNACK)},
    {0x1C, STR, P(MQ_PKT_CONNACK) | P(MQ_PKT_DISCONNECT)},
    {0x1F, STR, P(MQ_PKT_CONNACK) | ACKS | P(MQ_PKT_SUBACK) | P(MQ_PKT_UNSUBACK) |
                    P(MQ_PKT_DISCONNECT) | P(MQ_PKT_AUTH)},
    {0x21, U16, P(MQ_PKT_CONNECT) | P(MQ_PKT_CONNACK)},
    {0x22, U16, P(MQ_PKT_CONNECT) | P(MQ_PKT_CONNACK)},
    {0x23, U16, P(MQ_PKT_PUBLISH)},
    {0x24, BYTE, P(MQ_PKT_CONNACK)},
    {0x25, BYTE, P(MQ_PKT_CONNACK)},
    {0x26, PAIR, W | P(MQ_PKT_CONNECT) | P(MQ_PKT_CONNACK) | P(MQ_PKT_PUBLISH) | ACKS |
                     P(MQ_PKT_SUBSCRIBE) | P(MQ_PKT_SUBACK) | P(MQ_PKT_UNSUBSCRIBE) |
                     P(MQ_PKT_UNSUBACK) | P(MQ_PKT_DISCONNECT) | P(MQ_PKT_AUTH)},
    {0x27, U32, P(MQ_PKT_CONNECT) | P(MQ_PKT_CONNACK)},
    {0x28, BYTE, P(MQ_PKT_CONNACK)},
    {0x29, BYTE, P(MQ_PKT_CONNACK)},
    {0x2A, BYTE, P(MQ_PKT_CONNACK)},
};
#define NTABLE (sizeof(g_table) / sizeof(g_table[0]))

/* ---- helpers ----------------------------------------------------------- */

static uint8_t *g_buf;

static int teardown(void **state)
{
    (void)state;
    free(g_buf);
    g_buf = NULL;
    return 0;
}

static int parse(int ctx, const uint8_t *b, size_t len, mq_props_t *out)
{
    free(g_buf);
    g_buf = malloc(len ? len : 1);
    assert_non_null(g_buf);
    if (len)
        memcpy(g_buf, b, len);
    memset(out, 0xa5, sizeof(*out));
    return mq_props_parse(len ? g_buf : NULL, (uint32_t)len, ctx, out);
}

static int parse_rc(int ctx, const uint8_t *b, size_t len)
{
    mq_props_t p;
    return parse(ctx, b, len, &p);
}

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})
#define NBYTES(...) sizeof((const uint8_t[]){__VA_ARGS__})
#define PARSE_RC(ctx, ...) parse_rc((ctx), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__))
#define PARSE(ctx, out, ...) parse((ctx), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__), (out))

/* A valid encoding of property id with a recognisable non-zero value. */
static size_t sample(uint8_t id, uint8_t kind, uint8_t *out)
{
    size_t n = 0;
    out[n++] = id;
    switch (kind) {
    case BYTE: out[n++] = 1; break;
    case U16: out[n++] = 0x01; out[n++] = 0x02; break;
    case U32: out[n++] = 0x01; out[n++] = 0x02; out[n++] = 0x03; out[n++] = 0x04; break;
    case VARINT: out[n++] = 0xac; out[n++] = 0x02; break; /* 300 */
    case STR: out[n++] = 0; out[n++] = 2; out[n++] = 'a'; out[n++] = 'b'; break;
    case BIN: out[n++] = 0; out[n++] = 2; out[n++] = 0x00; out[n++] = 0xff; break;
    case PAIR:
        out[n++] = 0; out[n++] = 1; out[n++] = 'k';
        out[n++] = 0; out[n++] = 1; out[n++] = 'v';
        break;
    }
    return n;
}

static uint32_t sample_num(uint8_t kind)
{
    switch (kind) {
    case BYTE: return 1;
    case U16: return 0x0102;
    case U32: return 0x01020304;
    case VARINT: return 300;
    default: return 0;
    }
}

static int first_allowed_ctx(uint16_t mask)
{
    for (int c = 0; c < 16; c++)
        if (mask & (1u << c))
            return c;
    return -1;
}

static void assert_str(mq_str_t s, const void *want, size_t len)
{
    assert_int_equal(s.len, len);
    assert_non_null(s.ptr);
    assert_memory_equal(s.ptr, want, len);
}

/* ---- context table (MQTT 5 section 2.2.2.2) ------------------------------ */

static void test_MQTT_2_2_2_2_every_property_in_every_context(void **state)
{
    for (size_t i = 0; i < NTABLE; i++) {
        uint8_t b[16];
        size_t n = sample(g_table[i].id, g_table[i].kind, b);
        for (int ctx = 0; ctx <= 15; ctx++) {
            mq_props_t p;
            int rc = parse(ctx, b, n, &p);
            if (g_table[i].ctx & (1u << ctx)) {
                assert_int_equal(rc, MQ_OK);
                assert_int_equal(p.has, (uint64_t)1 << g_table[i].id);
                assert_true(mq_props_has(&p, g_table[i].id));
                assert_ptr_equal(p.raw.ptr, g_buf);
                assert_int_equal(p.raw.len, n);
            } else {
                assert_int_equal(rc, MQ_EMALFORMED);
                assert_int_equal(p.has, 0);
            }
        }
    }
}

static void test_property_values_stored(void **state)
{
    mq_props_t p;
    /* PUBLISH: everything it allows. */
    assert_int_equal(PARSE(MQ_PKT_PUBLISH, &p, 0x01, 0x01, 0x02, 0x00, 0x00, 0x01, 0x00, 0x03,
                           0x00, 0x02, 't', 'x', 0x08, 0x00, 0x01, 'r', 0x09, 0x00, 0x01, 0x00,
                           0x0b, 0x05, 0x0b, 0x06, 0x23, 0x00, 0x07, 0x26, 0x00, 0x00, 0x00,
                           0x00),
                     MQ_OK);
    assert_int_equal(p.payload_format, 1);
    assert_int_equal(p.message_expiry, 256);
    assert_str(p.content_type, "tx", 2);
    assert_str(p.response_topic, "r", 1);
    assert_str(p.correlation_data, "\0", 1);
    assert_int_equal(p.subscription_id, 5);
    assert_int_equal(p.n_subscription_ids, 2);
    assert_int_equal(p.topic_alias, 7);
    assert_int_equal(p.n_user_props, 1);
    /* CONNECT */
    assert_int_equal(PARSE(MQ_PKT_CONNECT, &p, 0x11, 0xff, 0xff, 0xff, 0xff, 0x15, 0x00, 0x01,
                           'm', 0x16, 0x00, 0x00, 0x17, 0x00, 0x19, 0x01, 0x21, 0xff, 0xff, 0x22,
                           0x00, 0x00, 0x27, 0x00, 0x00, 0x00, 0x01),
                     MQ_OK);
    assert_int_equal(p.session_expiry, 0xffffffffu);
    assert_str(p.auth_method, "m", 1);
    assert_non_null(p.auth_data.ptr);
    assert_int_equal(p.auth_data.len, 0);
    assert_int_equal(p.request_problem_info, 0);
    assert_true(mq_props_has(&p, MQ_PROP_REQUEST_PROBLEM_INFO));
    assert_int_equal(p.request_response_info, 1);
    assert_int_equal(p.receive_maximum, 0xffff);
    assert_int_equal(p.topic_alias_maximum, 0);
    assert_true(mq_props_has(&p, MQ_PROP_TOPIC_ALIAS_MAXIMUM));
    assert_int_equal(p.maximum_packet_size, 1);
    /* CONNACK */
    assert_int_equal(PARSE(MQ_PKT_CONNACK, &p, 0x12, 0x00, 0x02, 'i', 'd', 0x13, 0x00, 0x3c,
                           0x1a, 0x00, 0x01, 'R', 0x1c, 0x00, 0x01, 'S', 0x1f, 0x00, 0x01, 'x',
                           0x24, 0x01, 0x25, 0x00, 0x28, 0x01, 0x29, 0x00, 0x2a, 0x01, 0x21,
                           0x00, 0x0a),
                     MQ_OK);
    assert_str(p.assigned_client_id, "id", 2);
    assert_int_equal(p.server_keep_alive, 60);
    assert_str(p.response_info, "R", 1);
    assert_str(p.server_reference, "S", 1);
    assert_str(p.reason_string, "x", 1);
    assert_int_equal(p.maximum_qos, 1);
    assert_int_equal(p.retain_available, 0);
    assert_int_equal(p.wildcard_sub_available, 1);
    assert_int_equal(p.sub_id_available, 0);
    assert_int_equal(p.shared_sub_available, 1);
    assert_int_equal(p.receive_maximum, 10);
    /* Will */
    assert_int_equal(PARSE(MQ_PROPS_WILL, &p, 0x18, 0x00, 0x00, 0x00, 0x1e), MQ_OK);
    assert_int_equal(p.will_delay, 30);
}

static void test_MQTT_2_2_2_2_unknown_identifiers_malformed(void **state)
{
    for (unsigned id = 0; id < 256; id++) {
        bool known = false;
        for (size_t i = 0; i < NTABLE; i++)
            known |= g_table[i].id == id;
        if (known)
            continue;
        /* Followed by plenty of bytes, so only the identifier can be wrong. */
        uint8_t b[8] = {(uint8_t)id, 0, 0, 0, 0, 0, 0, 0};
        for (int ctx = 0; ctx <= 15; ctx++)
            assert_int_equal(parse_rc(ctx, b, sizeof(b)), MQ_EMALFORMED);
    }
}

static void test_empty_block_and_bad_args(void **state)
{
    mq_props_t p;
    for (int ctx = 0; ctx <= 15; ctx++) {
        assert_int_equal(parse(ctx, NULL, 0, &p), MQ_OK);
        assert_int_equal(p.has, 0);
        assert_int_equal(p.n_user_props, 0);
        assert_null(p.raw.ptr);
    }
    assert_int_equal(parse(-1, NULL, 0, &p), MQ_EINVAL);
    assert_int_equal(parse(16, NULL, 0, &p), MQ_EINVAL);
    assert_int_equal(mq_props_parse(NULL, 3, MQ_PKT_PUBLISH, &p), MQ_EINVAL);
}

/* ---- duplicates ---------------------------------------------------------- */

static void test_duplicate_single_valued_is_protocol_error(void **state)
{
    for (size_t i = 0; i < NTABLE; i++) {
        const uint8_t id = g_table[i].id;
        if (id == MQ_PROP_USER_PROPERTY)
            continue;
        uint8_t b[32];
        size_t n = sample(id, g_table[i].kind, b);
        memcpy(b + n, b, n);
        for (int ctx = 0; ctx <= 15; ctx++) {
            if (!(g_table[i].ctx & (1u << ctx)))
                continue;
            int want = (id == MQ_PROP_SUBSCRIPTION_ID && ctx == MQ_PKT_PUBLISH) ? MQ_OK
                                                                                : MQ_EPROTO;
            assert_int_equal(parse_rc(ctx, b, 2 * n), want);
        }
    }
}

static void test_user_property_repeats_everywhere(void **state)
{
    const uint8_t b[] = {0x26, 0x00, 0x01, 'a', 0x00, 0x01, '1', 0x26, 0x00, 0x01, 'a', 0x00,
                         0x01, '2', 0x26, 0x00, 0x00, 0x00, 0x00};
    for (int ctx = 0; ctx <= 15; ctx++) {
        mq_props_t p;
        int rc = parse(ctx, b, sizeof(b), &p);
        if (ctx == MQ_PKT_PINGREQ || ctx == MQ_PKT_PINGRESP) {
            assert_int_equal(rc, MQ_EMALFORMED); /* no properties at all there */
            continue;
        }
        assert_int_equal(rc, MQ_OK);
        assert_int_equal(p.n_user_props, 3);
    }
}

static void test_MQTT_3_3_4_subscription_ids_repeat_in_publish(void **state)
{
    mq_props_t p;
    assert_int_equal(PARSE(MQ_PKT_PUBLISH, &p, 0x0b, 0x02, 0x0b, 0x01, 0x0b, 0xff, 0x7f),
                     MQ_OK);
    assert_int_equal(p.n_subscription_ids, 3);
    assert_int_equal(p.subscription_id, 2); /* the first one */
    /* MQTT 5 3.8.2.1.2: at most one in SUBSCRIBE. */
    assert_int_equal(PARSE_RC(MQ_PKT_SUBSCRIBE, 0x0b, 0x02, 0x0b, 0x01), MQ_EPROTO);
    assert_int_equal(PARSE(MQ_PKT_SUBSCRIBE, &p, 0x0b, 0x02), MQ_OK);
    assert_int_equal(p.subscription_id, 2);
    assert_int_equal(p.n_subscription_ids, 1);
}

/* ---- value rules ----------------------------------------------------------- */

static void test_byte_properties_only_0_or_1(void **state)
{
    for (size_t i = 0; i < NTABLE; i++) {
        if (g_table[i].kind != BYTE)
            continue;
        const int ctx = first_allowed_ctx(g_table[i].ctx);
        for (unsigned v = 0; v < 256; v++) {
            uint8_t b[2] = {g_table[i].id, (uint8_t)v};
            mq_props_t p;
            int rc = parse(ctx, b, 2, &p);
            /* 3.3.2.3.2, 3.1.2.11.6/7, 3.2.2.3.4/5/11/12/13 */
            assert_int_equal(rc, v <= 1 ? MQ_OK : MQ_EPROTO);
            if (v <= 1) {
                uint8_t id;
                uint32_t num = 99;
                mq_props_iter_t it;
                mq_props_begin(&p, &it);
                assert_true(mq_props_next(&it, &id, &num, NULL, NULL));
                assert_int_equal(num, v);
            }
        }
    }
}

static void test_zero_values(void **state)
{
    /* Not allowed to be 0. */
    assert_int_equal(PARSE_RC(MQ_PKT_CONNECT, 0x21, 0x00, 0x00), MQ_EPROTO);   /* 3.1.2.11.3 */
    assert_int_equal(PARSE_RC(MQ_PKT_CONNACK, 0x21, 0x00, 0x00), MQ_EPROTO);   /* 3.2.2.3.3 */
    assert_int_equal(PARSE_RC(MQ_PKT_CONNECT, 0x27, 0, 0, 0, 0), MQ_EPROTO);   /* 3.1.2.11.4 */
    assert_int_equal(PARSE_RC(MQ_PKT_CONNACK, 0x27, 0, 0, 0, 0), MQ_EPROTO);   /* 3.2.2.3.6 */
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x0b, 0x00), MQ_EPROTO);         /* 3.3.2.3.8 */
    assert_int_equal(PARSE_RC(MQ_PKT_SUBSCRIBE, 0x0b, 0x00), MQ_EPROTO);       /* 3.8.2.1.2 */
    assert_int_equal(PARSE_RC(MQ_PKT_SUBSCRIBE, 0x0b, 0x80, 0x00), MQ_EPROTO); /* 0, non-minimal */
    /* Allowed to be 0 by the parser: Topic Alias 0 is the broker's to refuse,
     * because MQTT 5 3.3.2.3.4 names its own reason code (0x94). */
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x23, 0x00, 0x00), MQ_OK);
    assert_int_equal(PARSE_RC(MQ_PKT_CONNECT, 0x22, 0x00, 0x00), MQ_OK);
    assert_int_equal(PARSE_RC(MQ_PKT_CONNACK, 0x13, 0x00, 0x00), MQ_OK);
    assert_int_equal(PARSE_RC(MQ_PKT_CONNECT, 0x11, 0, 0, 0, 0), MQ_OK);
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x02, 0, 0, 0, 0), MQ_OK);
    assert_int_equal(PARSE_RC(MQ_PROPS_WILL, 0x18, 0, 0, 0, 0), MQ_OK);
    /* Largest values. */
    mq_props_t p;
    assert_int_equal(PARSE(MQ_PKT_CONNECT, &p, 0x27, 0xff, 0xff, 0xff, 0xff), MQ_OK);
    assert_int_equal(p.maximum_packet_size, 0xffffffffu);
    assert_int_equal(PARSE(MQ_PKT_PUBLISH, &p, 0x23, 0xff, 0xff), MQ_OK);
    assert_int_equal(p.topic_alias, 0xffff);
}

static void test_varint_subscription_id_edges(void **state)
{
    static const struct {
        uint32_t v;
        uint8_t n;
        uint8_t b[4];
    } t[] = {
        {1, 1, {0x01}},
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {2097151, 3, {0xff, 0xff, 0x7f}},
        {2097152, 4, {0x80, 0x80, 0x80, 0x01}},
        {268435455, 4, {0xff, 0xff, 0xff, 0x7f}},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t b[5] = {0x0b};
        memcpy(b + 1, t[i].b, t[i].n);
        mq_props_t p;
        assert_int_equal(parse(MQ_PKT_SUBSCRIBE, b, 1u + t[i].n, &p), MQ_OK);
        assert_int_equal(p.subscription_id, t[i].v);
        /* Every cut of the varint is malformed. */
        for (size_t k = 1; k < t[i].n; k++)
            assert_int_equal(parse_rc(MQ_PKT_SUBSCRIBE, b, 1 + k), MQ_EMALFORMED);
        /* The writer writes it back minimally. */
        uint8_t w[8];
        mq_props_writer_t wr = {w, sizeof(w), 0};
        mq_props_put_varint(&wr, MQ_PROP_SUBSCRIPTION_ID, t[i].v);
        assert_int_equal(wr.len, 1u + t[i].n);
        assert_memory_equal(w, b, wr.len);
    }
    /* MQTT 5 1.5.5: at most four bytes. */
    assert_int_equal(PARSE_RC(MQ_PKT_SUBSCRIBE, 0x0b, 0xff, 0xff, 0xff, 0xff, 0x01), MQ_EMALFORMED);
    assert_int_equal(PARSE_RC(MQ_PKT_SUBSCRIBE, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x00), MQ_EMALFORMED);
    /* Non-minimal forms are read (the minimum is asked of senders only). */
    mq_props_t p;
    assert_int_equal(PARSE(MQ_PKT_SUBSCRIBE, &p, 0x0b, 0x81, 0x80, 0x80, 0x00), MQ_OK);
    assert_int_equal(p.subscription_id, 1);
}

static void test_truncated_values_malformed(void **state)
{
    for (size_t i = 0; i < NTABLE; i++) {
        uint8_t b[16];
        size_t n = sample(g_table[i].id, g_table[i].kind, b);
        const int ctx = first_allowed_ctx(g_table[i].ctx);
        for (size_t k = 1; k < n; k++)
            assert_int_equal(parse_rc(ctx, b, k), MQ_EMALFORMED);
        assert_int_equal(parse_rc(ctx, b, n), MQ_OK);
    }
    /* A string length that runs past the block. */
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x03, 0x00, 0x05, 'a', 'b'), MQ_EMALFORMED);
    assert_int_equal(PARSE_RC(MQ_PKT_PUBACK, 0x26, 0x00, 0x01, 'a', 0x00, 0x02, 'b'),
                     MQ_EMALFORMED);
}

static const uint8_t *const g_bad_utf8[] = {
    (const uint8_t *)"\xc0\x80",         /* overlong NUL */
    (const uint8_t *)"\xed\xa0\x80",     /* surrogate U+D800, MQTT-1.5.4-1 */
    (const uint8_t *)"\xf4\x90\x80\x80", /* above U+10FFFF */
    (const uint8_t *)"\x80",             /* lone continuation */
    (const uint8_t *)"a\xe2\x82",        /* cut sequence */
};
static const uint8_t g_bad_utf8_len[] = {2, 3, 4, 1, 3};

static size_t put_s(uint8_t *b, const uint8_t *s, size_t n)
{
    b[0] = (uint8_t)(n >> 8);
    b[1] = (uint8_t)n;
    memcpy(b + 2, s, n);
    return 2 + n;
}

static void test_MQTT_1_5_4_1_string_properties_utf8(void **state)
{
    for (size_t i = 0; i < NTABLE; i++) {
        const uint8_t kind = g_table[i].kind;
        if (kind != STR && kind != BIN)
            continue;
        const int ctx = first_allowed_ctx(g_table[i].ctx);
        for (size_t s = 0; s < sizeof(g_bad_utf8_len); s++) {
            uint8_t b[16];
            b[0] = g_table[i].id;
            size_t n = 1 + put_s(b + 1, g_bad_utf8[s], g_bad_utf8_len[s]);
            /* Binary Data is any bytes (MQTT 5 1.5.6). */
            assert_int_equal(parse_rc(ctx, b, n), kind == STR ? MQ_EUTF8 : MQ_OK);
        }
        /* Multi-byte characters are fine. */
        uint8_t b[16];
        b[0] = g_table[i].id;
        size_t n = 1 + put_s(b + 1, (const uint8_t *)"\xc3\xa9\xf0\x9f\x98\x80", 6);
        assert_int_equal(parse_rc(ctx, b, n), MQ_OK);
    }
}

static void test_MQTT_1_5_4_2_string_properties_nul(void **state)
{
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x03, 0x00, 0x02, 'a', 0x00), MQ_EUTF8);
    assert_int_equal(PARSE_RC(MQ_PKT_PUBACK, 0x1f, 0x00, 0x01, 0x00), MQ_EUTF8);
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x09, 0x00, 0x01, 0x00), MQ_OK); /* binary */
}

static void test_MQTT_1_5_7_1_user_property_name_and_value_utf8(void **state)
{
    for (size_t s = 0; s < sizeof(g_bad_utf8_len); s++) {
        uint8_t b[32];
        size_t n = 0;
        b[n++] = 0x26;
        n += put_s(b + n, g_bad_utf8[s], g_bad_utf8_len[s]);
        n += put_s(b + n, (const uint8_t *)"ok", 2);
        assert_int_equal(parse_rc(MQ_PKT_PUBLISH, b, n), MQ_EUTF8);
        n = 0;
        b[n++] = 0x26;
        n += put_s(b + n, (const uint8_t *)"ok", 2);
        n += put_s(b + n, g_bad_utf8[s], g_bad_utf8_len[s]);
        assert_int_equal(parse_rc(MQ_PKT_DISCONNECT, b, n), MQ_EUTF8);
    }
    assert_int_equal(PARSE_RC(MQ_PKT_CONNECT, 0x26, 0x00, 0x01, 0x00, 0x00, 0x00), MQ_EUTF8);
    assert_int_equal(PARSE_RC(MQ_PKT_CONNECT, 0x26, 0x00, 0x00, 0x00, 0x01, 0x00), MQ_EUTF8);
}

static void test_MQTT_3_3_2_14_response_topic_is_a_topic_name(void **state)
{
    mq_props_t p;
    assert_int_equal(PARSE(MQ_PKT_PUBLISH, &p, 0x08, 0x00, 0x03, 'a', '/', 'b'), MQ_OK);
    assert_str(p.response_topic, "a/b", 3);
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x08, 0x00, 0x03, 'a', '/', '+'), MQ_EPROTO);
    assert_int_equal(PARSE_RC(MQ_PROPS_WILL, 0x08, 0x00, 0x01, '#'), MQ_EPROTO);
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x08, 0x00, 0x00), MQ_EPROTO); /* MQTT-4.7.3-1 */
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x08, 0x00, 0x01, 0x80), MQ_EUTF8);
}

/* The result does not depend on the order of the properties. */
static void test_error_precedence(void **state)
{
    /* not-allowed, then a cut property: malformed */
    assert_int_equal(PARSE_RC(MQ_PKT_PUBACK, 0x01, 0x01, 0x1f, 0x00, 0x05), MQ_EMALFORMED);
    /* duplicate, then an unknown identifier: malformed */
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x23, 0x00, 0x01, 0x23, 0x00, 0x01, 0x7f),
                     MQ_EMALFORMED);
    /* protocol error and bad UTF-8, either order: UTF-8 (a malformed packet) */
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x23, 0x00, 0x00, 0x03, 0x00, 0x01, 0xff),
                     MQ_EUTF8);
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x03, 0x00, 0x01, 0xff, 0x23, 0x00, 0x00),
                     MQ_EUTF8);
    /* bad UTF-8, then a cut property: malformed */
    assert_int_equal(PARSE_RC(MQ_PKT_PUBLISH, 0x03, 0x00, 0x01, 0xff, 0x02, 0x00), MQ_EMALFORMED);
    /* Bad UTF-8 is reported as such even where the property is not allowed. */
    for (int ctx = 0; ctx <= 15; ctx++) {
        assert_int_equal(PARSE_RC(ctx, 0x03, 0x00, 0x01, 0xff), MQ_EUTF8);
        assert_int_equal(PARSE_RC(ctx, 0x26, 0x00, 0x01, 0xff, 0x00, 0x00), MQ_EUTF8);
    }
    /* A failed parse leaves nothing behind but the raw block. */
    mq_props_t p;
    assert_int_equal(PARSE(MQ_PKT_PUBLISH, &p, 0x23, 0x00, 0x05, 0x23, 0x00, 0x06), MQ_EPROTO);
    assert_int_equal(p.has, 0);
    assert_int_equal(p.topic_alias, 0);
    assert_int_equal(p.raw.len, 6);
}

/* ---- iteration ------------------------------------------------------------- */

static void test_iteration_order(void **state)
{
    mq_props_t p;
    assert_int_equal(PARSE(MQ_PKT_PUBLISH, &p, 0x26, 0x00, 0x01, 'z', 0x00, 0x00, 0x23, 0x00,
                           0x09, 0x0b, 0x80, 0x01, 0x26, 0x00, 0x01, 'a', 0x00, 0x02, 'v', 'w',
                           0x01, 0x00, 0x09, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x0b,
                           0x03),
                     MQ_OK);
    mq_props_iter_t it;
    uint8_t id;
    uint32_t num;
    mq_str_t a, b;
    mq_props_begin(&p, &it);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(id, MQ_PROP_USER_PROPERTY);
    assert_str(a, "z", 1);
    assert_int_equal(b.len, 0);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(id, MQ_PROP_TOPIC_ALIAS);
    assert_int_equal(num, 9);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(id, MQ_PROP_SUBSCRIPTION_ID);
    assert_int_equal(num, 128);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(id, MQ_PROP_USER_PROPERTY);
    assert_str(a, "a", 1);
    assert_str(b, "vw", 2);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(id, MQ_PROP_PAYLOAD_FORMAT);
    assert_int_equal(num, 0);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(id, MQ_PROP_CORRELATION_DATA);
    assert_int_equal(a.len, 0);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(id, MQ_PROP_MESSAGE_EXPIRY);
    assert_int_equal(num, 256);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(id, MQ_PROP_SUBSCRIPTION_ID);
    assert_int_equal(num, 3);
    assert_false(mq_props_next(&it, &id, &num, &a, &b));
    assert_false(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(p.subscription_id, 128);
    assert_int_equal(p.n_subscription_ids, 2);
    assert_int_equal(p.n_user_props, 2);
}

static void test_iteration_empty_and_out_of_bounds(void **state)
{
    mq_props_t p;
    mq_props_iter_t it;
    uint8_t id;
    uint32_t num;
    mq_str_t a, b;
    memset(&p, 0, sizeof(p));
    mq_props_begin(&p, &it);
    assert_false(mq_props_next(&it, &id, &num, &a, &b));
    /* An iterator over bytes that were never validated stays in bounds. */
    static const uint8_t junk[] = {0x23, 0x00, 0x01, 0x03, 0x00, 0x09, 'a'};
    p.raw.ptr = junk;
    p.raw.len = sizeof(junk);
    mq_props_begin(&p, &it);
    assert_true(mq_props_next(&it, &id, &num, &a, &b));
    assert_int_equal(num, 1);
    assert_false(mq_props_next(&it, &id, &num, &a, &b));
    assert_false(mq_props_next(&it, &id, &num, &a, &b));
}

/* ---- writer ------------------------------------------------------------------ */

static void test_writer_roundtrip_every_property(void **state)
{
    /* For each context, write every property it allows once (user property
     * twice), parse, iterate, and compare with what was written. */
    for (int ctx = 0; ctx <= 15; ctx++) {
        uint8_t buf[512];
        mq_props_writer_t w = {buf, sizeof(buf), 0};
        uint8_t ids[64];
        size_t nids = 0;
        for (size_t i = 0; i < NTABLE; i++) {
            if (!(g_table[i].ctx & (1u << ctx)))
                continue;
            const uint8_t id = g_table[i].id;
            switch (g_table[i].kind) {
            case BYTE: mq_props_put_byte(&w, id, 1); break;
            case U16: mq_props_put_u16(&w, id, 0x0102); break;
            case U32: mq_props_put_u32(&w, id, 0x01020304); break;
            case VARINT: mq_props_put_varint(&w, id, 300); break;
            case STR: mq_props_put_str(&w, id, "ab", 2); break;
            case BIN: mq_props_put_str(&w, id, "\x00\xff", 2); break;
            case PAIR:
                mq_props_put_pair(&w, "k", 1, "v", 1);
                mq_props_put_pair(&w, "k", 1, "v", 1);
                ids[nids++] = id;
                break;
            }
            ids[nids++] = id;
        }
        /* The writer's bytes equal the hand-made samples. */
        uint8_t want[512];
        size_t wn = 0;
        for (size_t i = 0; i < NTABLE; i++)
            if (g_table[i].ctx & (1u << ctx)) {
                wn += sample(g_table[i].id, g_table[i].kind, want + wn);
                if (g_table[i].kind == PAIR)
                    wn += sample(g_table[i].id, g_table[i].kind, want + wn);
            }
        assert_int_equal(w.len, wn);
        if (wn)
            assert_memory_equal(buf, want, wn);

        mq_props_t p;
        assert_int_equal(parse(ctx, buf, w.len, &p), MQ_OK);
        mq_props_iter_t it;
        mq_props_begin(&p, &it);
        uint8_t id;
        uint32_t num;
        mq_str_t a, b;
        for (size_t k = 0; k < nids; k++) {
            assert_true(mq_props_next(&it, &id, &num, &a, &b));
            assert_int_equal(id, ids[k]);
            uint8_t kind = 0;
            for (size_t i = 0; i < NTABLE; i++)
                if (g_table[i].id == id)
                    kind = g_table[i].kind;
            if (kind <= VARINT)
                assert_int_equal(num, sample_num(kind));
            else if (kind == STR)
                assert_str(a, "ab", 2);
            else if (kind == BIN)
                assert_str(a, "\x00\xff", 2);
            else {
                assert_str(a, "k", 1);
                assert_str(b, "v", 1);
            }
        }
        assert_false(mq_props_next(&it, &id, &num, &a, &b));
    }
}

static void test_writer_never_writes_past_cap(void **state)
{
    for (size_t cap = 0; cap <= 24; cap++) {
        uint8_t buf[32];
        memset(buf, 0xee, sizeof(buf));
        mq_props_writer_t w = {buf, cap, 0};
        mq_props_put_u32(&w, MQ_PROP_MESSAGE_EXPIRY, 7);   /* 5 */
        mq_props_put_str(&w, MQ_PROP_CONTENT_TYPE, "abc", 3); /* 6 */
        mq_props_put_pair(&w, "k", 1, "vv", 2);          /* 8 */
        mq_props_put_raw(&w, "\x01\x01", 2);             /* 2 */
        mq_props_put_byte(&w, MQ_PROP_PAYLOAD_FORMAT, 0); /* 2 */
        assert_int_equal(w.len, 23);
        for (size_t i = cap; i < sizeof(buf); i++)
            assert_int_equal(buf[i], 0xee);
        if (cap >= 23) {
            mq_props_t p;
            assert_int_equal(parse(MQ_PKT_PUBLISH, buf, w.len, &p), MQ_EPROTO); /* PFI twice */
            assert_int_equal(parse(MQ_PKT_PUBLISH, buf, 21, &p), MQ_OK);
            assert_int_equal(p.message_expiry, 7);
            assert_int_equal(p.payload_format, 1);
            assert_int_equal(p.n_user_props, 1);
        }
    }
    /* Sizing pass with no buffer at all. */
    mq_props_writer_t w = {NULL, 0, 0};
    mq_props_put_u16(&w, MQ_PROP_TOPIC_ALIAS, 1);
    mq_props_put_varint(&w, MQ_PROP_SUBSCRIPTION_ID, 268435455);
    assert_int_equal(w.len, 3 + 5);
}

static void test_writer_unencodable_values_poison(void **state)
{
    uint8_t buf[16];
    mq_props_writer_t w = {buf, sizeof(buf), 0};
    mq_props_put_varint(&w, MQ_PROP_SUBSCRIPTION_ID, 268435456u);
    assert_int_equal(w.len, SIZE_MAX);
    mq_props_put_byte(&w, MQ_PROP_PAYLOAD_FORMAT, 1);
    assert_int_equal(w.len, SIZE_MAX); /* stays failed */

    static uint8_t big[65536];
    mq_props_writer_t w2 = {buf, sizeof(buf), 0};
    mq_props_put_str(&w2, MQ_PROP_CONTENT_TYPE, big, 65536);
    assert_int_equal(w2.len, SIZE_MAX);
    mq_props_writer_t w3 = {buf, sizeof(buf), 0};
    mq_props_put_pair(&w3, "k", 1, NULL, 3);
    assert_int_equal(w3.len, SIZE_MAX);
    mq_props_writer_t w4 = {buf, sizeof(buf), 0};
    mq_props_put_raw(&w4, NULL, 1);
    assert_int_equal(w4.len, SIZE_MAX);
    /* 65535 is the largest string. */
    static uint8_t out[70000];
    mq_props_writer_t w5 = {out, sizeof(out), 0};
    memset(big, 'x', sizeof(big));
    mq_props_put_str(&w5, MQ_PROP_CONTENT_TYPE, big, 65535);
    assert_int_equal(w5.len, 65538);
    mq_props_t p;
    assert_int_equal(parse(MQ_PKT_PUBLISH, out, w5.len, &p), MQ_OK);
    assert_int_equal(p.content_type.len, 65535);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_MQTT_2_2_2_2_every_property_in_every_context),
        T(test_property_values_stored),
        T(test_MQTT_2_2_2_2_unknown_identifiers_malformed),
        T(test_empty_block_and_bad_args),
        T(test_duplicate_single_valued_is_protocol_error),
        T(test_user_property_repeats_everywhere),
        T(test_MQTT_3_3_4_subscription_ids_repeat_in_publish),
        T(test_byte_properties_only_0_or_1),
        T(test_zero_values),
        T(test_varint_subscription_id_edges),
        T(test_truncated_values_malformed),
        T(test_MQTT_1_5_4_1_string_properties_utf8),
        T(test_MQTT_1_5_4_2_string_properties_nul),
        T(test_MQTT_1_5_7_1_user_property_name_and_value_utf8),
        T(test_MQTT_3_3_2_14_response_topic_is_a_topic_name),
        T(test_error_precedence),
        T(test_iteration_order),
        T(test_iteration_empty_and_out_of_bounds),
        T(test_writer_roundtrip_every_property),
        T(test_writer_never_writes_past_cap),
        T(test_writer_unencodable_values_poison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

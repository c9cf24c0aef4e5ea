/*
 * Unit tests for src/ws/ws.c — the WebSocket layer (RFC 6455), with the
 * real SHA-1 from libcrypto (linked into this test only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "musqratt/error.h"
#include "ws/ws.h"

static void sha1(void *ctx, const uint8_t *d, size_t n, uint8_t out[20])
{
    unsigned int len = 20;

    EVP_Digest(d, n, out, &len, EVP_sha1(), NULL);
}

#define REQ_HEAD "GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n" \
                 "Connection: keep-alive, Upgrade\r\n"                            \
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                 \
                 "Sec-WebSocket-Version: 13\r\n"
#define REQ REQ_HEAD "Sec-WebSocket-Protocol: mqtt\r\n\r\n"

typedef struct t {
    mq_ws_config_t cfg;
    mq_ws_t ws;
    uint8_t req[512];
    uint8_t got[4096];
    size_t got_len;
} t_t;

static int on_data(void *ctx, const uint8_t *p, size_t n)
{
    t_t *t = ctx;

    assert_true(t->got_len + n <= sizeof t->got);
    memcpy(t->got + t->got_len, p, n);
    t->got_len += n;
    return 0;
}

static void t_init(t_t *t, const char *path)
{
    memset(t, 0, sizeof *t);
    t->cfg.path = path;
    t->cfg.sha1 = sha1;
    t->cfg.max_frame = 1000;
    mq_ws_init(&t->ws, &t->cfg, t->req, sizeof t->req);
}

static int t_feed(t_t *t, const void *p, size_t n)
{
    uint8_t buf[8192];

    assert_true(n <= sizeof buf);
    memcpy(buf, p, n);
    return mq_ws_input(&t->ws, buf, n, on_data, t);
}

static int t_feed_str(t_t *t, const char *s)
{
    return t_feed(t, s, strlen(s));
}

/* The output as a NUL-terminated string, consumed. */
static const char *t_out(t_t *t)
{
    static char s[MQ_WS_OUT_MAX + 1];
    size_t len;
    const uint8_t *o = mq_ws_out(&t->ws, &len);

    memcpy(s, o, len);
    s[len] = '\0';
    mq_ws_out_consume(&t->ws, len);
    return s;
}

/* A masked client frame. */
static size_t frame(uint8_t *out, int fin, int op, const uint8_t *p, size_t n)
{
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    size_t h = 0;

    out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        out[h++] = (uint8_t)(0x80 | n);
    } else {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    }
    memcpy(out + h, key, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = p[i] ^ key[i & 3];
    return h + n;
}

/* RFC 6455 1.3's example key and answer. */
static void test_accept_key_rfc6455_example(void **state)
{
    char out[29];

    assert_true(mq_ws_accept_key(sha1, NULL, "dGhlIHNhbXBsZSBub25jZQ==", 24, out));
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_upgrade_101_with_mqtt_subprotocol(void **state)
{
    t_t t;

    t_init(&t, "/mqtt");
    assert_int_equal(t_feed_str(&t, REQ), MQ_OK);
    assert_true(mq_ws_handshake_done(&t.ws));
    const char *o = t_out(&t);
    assert_non_null(strstr(o, "HTTP/1.1 101 "));
    assert_non_null(strstr(o, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(o, "Sec-WebSocket-Protocol: mqtt\r\n"));
}

static void test_upgrade_mqttv31_and_any_path(void **state)
{
    t_t t;

    t_init(&t, NULL);
    assert_int_equal(t_feed_str(&t, "GET /anything?x=1 HTTP/1.1\r\nupgrade: WebSocket\r\n"
                                    "connection: upgrade\r\n"
                                    "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                    "sec-websocket-version: 13\r\n"
                                    "Sec-WebSocket-Protocol: foo, mqttv3.1\r\n\r\n"),
                     MQ_OK);
    assert_non_null(strstr(t_out(&t), "Sec-WebSocket-Protocol: mqttv3.1\r\n"));
}

static void test_upgrade_byte_by_byte(void **state)
{
    t_t t;
    const char *r = REQ;

    t_init(&t, "/mqtt");
    for (size_t i = 0; r[i]; i++)
        assert_int_equal(t_feed(&t, r + i, 1), MQ_OK);
    assert_true(mq_ws_handshake_done(&t.ws));
}

/* Without a buffer: a whole request is parsed where it lies; one in pieces
 * asks for a buffer first (mq_ws_needs_buffer), else it gets 431. */
static void test_upgrade_without_a_buffer(void **state)
{
    t_t t;
    const char *r = REQ;

    memset(&t, 0, sizeof t);
    t.cfg.sha1 = sha1;
    mq_ws_init(&t.ws, &t.cfg, NULL, sizeof t.req);
    assert_false(mq_ws_needs_buffer(&t.ws, (const uint8_t *)r, strlen(r)));
    assert_int_equal(t_feed_str(&t, r), MQ_OK);
    assert_non_null(strstr(t_out(&t), "101 Switching"));

    mq_ws_init(&t.ws, &t.cfg, NULL, sizeof t.req);
    assert_true(mq_ws_needs_buffer(&t.ws, (const uint8_t *)r, 10));
    mq_ws_set_buffer(&t.ws, t.req);
    assert_int_equal(t_feed(&t, r, 10), MQ_OK);
    assert_false(mq_ws_needs_buffer(&t.ws, (const uint8_t *)r + 10, strlen(r) - 10));
    assert_int_equal(t_feed(&t, r + 10, strlen(r) - 10), MQ_OK);
    assert_true(mq_ws_handshake_done(&t.ws));

    mq_ws_init(&t.ws, &t.cfg, NULL, sizeof t.req);
    assert_int_equal(t_feed(&t, r, 10), MQ_ECLOSED);
    assert_non_null(strstr(t_out(&t), "431"));
}

static void test_bad_upgrades(void **state)
{
    static const struct {
        const char *req, *status;
    } cases[] = {
        {"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", "426"},
        {"POST /mqtt HTTP/1.1\r\n\r\n", "405"},
        {"GET /mqtt HTTP/1.0\r\n\r\n", "400"},
        {"garbage\r\n\r\n", "400"},
        {REQ_HEAD "Sec-WebSocket-Protocol: chat\r\n\r\n", "400"},
        {"GET /other HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         "404"},
        {"GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
         "426"},
        {"GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
         "400"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_t t;
        char want[32];

        t_init(&t, "/mqtt");
        assert_int_equal(t_feed_str(&t, cases[i].req), MQ_ECLOSED);
        snprintf(want, sizeof want, "HTTP/1.1 %s ", cases[i].status);
        const char *o = t_out(&t);
        if (strncmp(o, want, strlen(want)) != 0)
            fail_msg("case %zu: got '%s'", i, o);
        assert_false(mq_ws_can_send(&t.ws));
    }
}

static void test_request_too_large_431(void **state)
{
    t_t t;
    char big[600];

    t_init(&t, NULL);
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    assert_int_equal(t_feed(&t, big, sizeof big), MQ_ECLOSED);
    assert_non_null(strstr(t_out(&t), "431"));
}

/* MQTT bytes on a WebSocket port: answered at once, not after 8 KiB. */
static void test_not_http_is_400_at_once(void **state)
{
    t_t t;

    t_init(&t, NULL);
    assert_int_equal(t_feed(&t, "\x10\x0c\x00\x04MQTT", 8), MQ_ECLOSED);
    assert_non_null(strstr(t_out(&t), "HTTP/1.1 400 "));
    t_init(&t, NULL);
    assert_int_equal(t_feed(&t, "GE", 2), MQ_OK); /* a prefix waits */
}

static void test_frames_stream_and_fragments(void **state)
{
    t_t t;
    uint8_t buf[512];
    size_t n = 0;
    static const uint8_t a[] = "hello ", b2[] = "world", c[] = "!";

    t_init(&t, "/mqtt");
    memcpy(buf, REQ, strlen(REQ));
    n = strlen(REQ);
    /* request and frames in one read; a ping between two fragments */
    n += frame(buf + n, 0, 2, a, 6);
    n += frame(buf + n, 1, 9, (const uint8_t *)"p", 1);
    n += frame(buf + n, 1, 0, b2, 5);
    n += frame(buf + n, 1, 2, c, 1);
    /* fed in 3-byte pieces: headers and masks split everywhere */
    for (size_t i = 0; i < n; i += 3)
        assert_int_equal(t_feed(&t, buf + i, n - i < 3 ? n - i : 3), MQ_OK);
    assert_int_equal(t.got_len, 12);
    assert_memory_equal(t.got, "hello world!", 12);
    const char *o = t_out(&t);
    const char *pong = strstr(o, "\r\n\r\n") + 4;
    assert_int_equal((uint8_t)pong[0], 0x8A);
    assert_int_equal(pong[1], 1);
    assert_int_equal(pong[2], 'p');
}

static uint16_t close_code_of(t_t *t)
{
    size_t len;
    const uint8_t *o = mq_ws_out(&t->ws, &len);

    assert_true(len >= 4);
    assert_int_equal(o[0], 0x88);
    return (uint16_t)(o[2] << 8 | o[3]);
}

static void open_ws(t_t *t)
{
    t_init(t, NULL);
    assert_int_equal(t_feed_str(t, REQ), MQ_OK);
    t_out(t);
}

static void test_protocol_errors_close_codes(void **state)
{
    t_t t;
    uint8_t buf[2048], big[1001];
    size_t n;

    /* unmasked frame: 1002 */
    open_ws(&t);
    buf[0] = 0x82, buf[1] = 0x01, buf[2] = 'x';
    assert_int_equal(t_feed(&t, buf, 3), MQ_ECLOSED);
    assert_int_equal(close_code_of(&t), MQ_WS_CLOSE_PROTOCOL);
    assert_false(mq_ws_can_send(&t.ws));
    /* text frame: 1003 */
    open_ws(&t);
    n = frame(buf, 1, 1, (const uint8_t *)"hi", 2);
    assert_int_equal(t_feed(&t, buf, n), MQ_ECLOSED);
    assert_int_equal(close_code_of(&t), MQ_WS_CLOSE_UNSUPPORTED);
    /* continuation without a message: 1002 */
    open_ws(&t);
    n = frame(buf, 1, 0, (const uint8_t *)"hi", 2);
    assert_int_equal(t_feed(&t, buf, n), MQ_ECLOSED);
    assert_int_equal(close_code_of(&t), MQ_WS_CLOSE_PROTOCOL);
    /* frame above max_frame (1000): 1009, nothing delivered */
    open_ws(&t);
    memset(big, 0x30, sizeof big);
    n = frame(buf, 1, 2, big, sizeof big);
    assert_int_equal(t_feed(&t, buf, n), MQ_ECLOSED);
    assert_int_equal(close_code_of(&t), MQ_WS_CLOSE_TOO_BIG);
    assert_int_equal(t.got_len, 0);
    /* fragmented ping: 1002 */
    open_ws(&t);
    n = frame(buf, 0, 9, (const uint8_t *)"x", 1);
    assert_int_equal(t_feed(&t, buf, n), MQ_ECLOSED);
    assert_int_equal(close_code_of(&t), MQ_WS_CLOSE_PROTOCOL);
    /* RSV1 set: 1002 */
    open_ws(&t);
    n = frame(buf, 1, 2, (const uint8_t *)"x", 1);
    buf[0] |= 0x40;
    assert_int_equal(t_feed(&t, buf, n), MQ_ECLOSED);
    assert_int_equal(close_code_of(&t), MQ_WS_CLOSE_PROTOCOL);
}

static void test_close_handshake(void **state)
{
    t_t t;
    uint8_t buf[64];
    size_t n;

    open_ws(&t);
    n = frame(buf, 1, 8, (const uint8_t *)"\x03\xe9", 2);
    assert_int_equal(t_feed(&t, buf, n), MQ_ECLOSED);
    assert_int_equal(close_code_of(&t), MQ_WS_CLOSE_NORMAL);
    t_out(&t);
    /* nothing after the close */
    n = frame(buf, 1, 2, (const uint8_t *)"x", 1);
    assert_int_equal(t_feed(&t, buf, n), MQ_ECLOSED);
    assert_int_equal(t.got_len, 0);
    /* the server closing: once */
    open_ws(&t);
    mq_ws_close(&t.ws, MQ_WS_CLOSE_NORMAL);
    size_t len;
    mq_ws_out(&t.ws, &len);
    assert_int_equal(len, 4);
}

static void test_frame_header_lengths(void **state)
{
    uint8_t h[10];

    assert_int_equal(mq_ws_frame_header(h, 125), 2);
    assert_int_equal(h[0], 0x82);
    assert_int_equal(h[1], 125);
    assert_int_equal(mq_ws_frame_header(h, 126), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2] << 8 | h[3], 126);
    assert_int_equal(mq_ws_frame_header(h, 65536), 10);
    assert_int_equal(h[1], 127);
    assert_int_equal(h[7], 1);
    assert_int_equal(h[8], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc6455_example),
        cmocka_unit_test(test_upgrade_101_with_mqtt_subprotocol),
        cmocka_unit_test(test_upgrade_mqttv31_and_any_path),
        cmocka_unit_test(test_upgrade_byte_by_byte),
        cmocka_unit_test(test_upgrade_without_a_buffer),
        cmocka_unit_test(test_bad_upgrades),
        cmocka_unit_test(test_request_too_large_431),
        cmocka_unit_test(test_not_http_is_400_at_once),
        cmocka_unit_test(test_frames_stream_and_fragments),
        cmocka_unit_test(test_protocol_errors_close_codes),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_frame_header_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_ws — libFuzzer driver for the WebSocket layer (src/ws/ws.c).
 *
 * Input: byte 0 picks the configuration (bit 0: require the path "/mqtt";
 * bit 1: a 64-byte frame limit; bits 2-7: the chunk size the rest is fed in,
 * 1..64 bytes, so every header and request split is reached; with an odd
 * chunk size the request buffer is only given when mq_ws_needs_buffer()
 * asks for it, as the Linux glue does). The rest is
 * what a client sends: an upgrade request, then frames. Each chunk is copied
 * into an exact-size heap buffer (frames are unmasked in place), so
 * AddressSanitizer flags any access past it.
 * Checks: the payload handed on never exceeds the bytes fed; no payload is
 * handed on before the 101 answer or after the input ended; the output
 * buffer stays within its bound and, once upgraded, holds only whole
 * frames; a frame header round-trips its length.
 * Any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/error.h"
#include "ws/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_ws: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* Not SHA-1: the fuzzer explores parsing, not the digest. */
static void fake_sha1(void *ctx, const uint8_t *d, size_t n, uint8_t out[20])
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 16777619u;
    for (int i = 0; i < 20; i++)
        out[i] = (uint8_t)(h >> (8 * (i & 3)));
}

typedef struct sink {
    const mq_ws_t *ws;
    size_t total;
    bool stop_after;
} sink_t;

static int on_data(void *ctx, const uint8_t *p, size_t n)
{
    sink_t *s = ctx;

    CHECK(n > 0);
    CHECK(s->ws->upgraded);
    CHECK(s->ws->state == MQ_WS_OPEN);
    volatile uint8_t x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= p[i]; /* touch every byte: ASan checks the slice */
    (void)x;
    s->total += n;
    /* Like the core stopping on a bad packet, sometimes. */
    return s->stop_after && s->total > 1000 ? MQ_EPROTO : 0;
}

/* Walks the queued control frames after the handshake answer. */
static void check_out(const mq_ws_t *ws)
{
    size_t len, i = 0;
    const uint8_t *o = mq_ws_out(ws, &len);

    CHECK(len <= MQ_WS_OUT_MAX);
    if (!ws->upgraded)
        return;
    /* skip the HTTP answer if still queued */
    if (len >= 4 && memcmp(o, "HTTP", 4) == 0) {
        const uint8_t *e = NULL;

        for (size_t k = 0; k + 4 <= len; k++)
            if (memcmp(o + k, "\r\n\r\n", 4) == 0) {
                e = o + k + 4;
                break;
            }
        CHECK(e != NULL);
        i = (size_t)(e - o);
    }
    while (i < len) {
        CHECK(i + 2 <= len);
        CHECK(o[i] == 0x88 || o[i] == 0x89 || o[i] == 0x8A);
        CHECK(o[i + 1] <= 125);
        i += 2u + o[i + 1];
    }
    CHECK(i == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t req[1024];
    mq_ws_config_t cfg;
    mq_ws_t ws;
    sink_t s;
    size_t chunk, fed = 0;
    int rc = MQ_OK;

    if (size < 1)
        return 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = (data[0] & 1) ? "/mqtt" : NULL;
    cfg.max_frame = (data[0] & 2) ? 64 : 0;
    cfg.sha1 = fake_sha1;
    chunk = (size_t)(data[0] >> 2) + 1;
    /* odd chunk sizes: no buffer at first, given when asked for (as the
     * Linux glue does); even ones: a buffer from the start */
    mq_ws_init(&ws, &cfg, (chunk & 1) ? NULL : req, sizeof req);
    memset(&s, 0, sizeof s);
    s.ws = &ws;
    s.stop_after = (data[0] & 0xC0) == 0xC0;
    data++;
    size--;
    while (fed < size && rc == MQ_OK) {
        size_t n = size - fed < chunk ? size - fed : chunk;
        uint8_t *buf = malloc(n);

        memcpy(buf, data + fed, n);
        if (mq_ws_needs_buffer(&ws, buf, n))
            mq_ws_set_buffer(&ws, req);
        rc = mq_ws_input(&ws, buf, n, on_data, &s);
        free(buf);
        fed += n;
        CHECK(s.total <= fed);
        check_out(&ws);
    }
    CHECK(rc == MQ_OK || rc == MQ_ECLOSED || rc == MQ_EPROTO);
    if (rc != MQ_OK)
        CHECK(ws.state == MQ_WS_DONE);
    /* the broker closing: one close frame at most, then nothing to send */
    mq_ws_close(&ws, MQ_WS_CLOSE_NORMAL);
    check_out(&ws);
    CHECK(!mq_ws_can_send(&ws));
    {
        uint8_t h[10];
        uint64_t len = s.total * 977u;
        size_t hl = mq_ws_frame_header(h, len);
        uint64_t back = h[1] & 0x7F;

        CHECK(h[0] == 0x82);
        if (back == 126) {
            CHECK(hl == 4);
            back = ((uint64_t)h[2] << 8) | h[3];
        } else if (back == 127) {
            CHECK(hl == 10);
            back = 0;
            for (int i = 0; i < 8; i++)
                back = (back << 8) | h[2 + i];
        } else {
            CHECK(hl == 2);
        }
        CHECK(back == len);
    }
    return 0;
}

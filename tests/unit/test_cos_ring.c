/* Unit tests of the Composite platform's shared-memory byte ring and
 * channels (src/platform/composite/ring.c, chan.c): full/empty, wrap-around,
 * packets split across the wrap, zero-copy peek, the channel's state words,
 * and a two-thread producer/consumer run (the SPSC ordering for real). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chan.h"
#include "musqratt/codec.h"
#include "musqratt/error.h"

/* A region for a ring with 64 data bytes. */
static _Alignas(64) uint8_t g_mem[sizeof(mq_cos_ring_t) + 64 + 40];

static mq_cos_ring_t *small_ring(void)
{
    mq_cos_ring_t *r = mq_cos_ring_init(g_mem, sizeof(g_mem));
    assert_non_null(r);
    assert_int_equal(r->cap, 64); /* 104 bytes of room: largest power of two */
    return r;
}

static void test_init_rejects_bad_regions(void **state)
{
    (void)state;
    assert_null(mq_cos_ring_init(NULL, 4096));
    assert_null(mq_cos_ring_init(g_mem, MQ_COS_RING_MIN - 1));
    assert_null(mq_cos_ring_init(g_mem + 1, sizeof(g_mem) - 1)); /* misaligned */
    mq_cos_ring_t *r = mq_cos_ring_init(g_mem, MQ_COS_RING_MIN);
    assert_non_null(r);
    assert_int_equal(r->cap, 16);
}

static void test_empty_and_full(void **state)
{
    (void)state;
    mq_cos_ring_t *r = small_ring();
    uint8_t buf[128], out[128];
    for (int i = 0; i < 128; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(mq_cos_ring_used(r), 0);
    assert_int_equal(mq_cos_ring_space(r), 64);
    assert_int_equal(mq_cos_ring_read(r, out, sizeof(out)), 0); /* empty */
    mq_iov_t iov[2];
    assert_int_equal(mq_cos_ring_peek(r, iov), 0);

    assert_int_equal(mq_cos_ring_write(r, buf, 100), 64); /* only what fits */
    assert_int_equal(mq_cos_ring_used(r), 64);
    assert_int_equal(mq_cos_ring_space(r), 0);
    assert_int_equal(mq_cos_ring_write(r, buf, 1), 0);    /* full */
    assert_int_equal(mq_cos_ring_read(r, out, 10), 10);
    assert_memory_equal(out, buf, 10);
    assert_int_equal(mq_cos_ring_space(r), 10);
    assert_int_equal(mq_cos_ring_write(r, buf + 64, 20), 10);
    assert_int_equal(mq_cos_ring_read(r, out, sizeof(out)), 64);
    assert_memory_equal(out, buf + 10, 64); /* 10..73, across the wrap */
    assert_int_equal(mq_cos_ring_used(r), 0);
}

static void test_wrap_around_many_times(void **state)
{
    (void)state;
    mq_cos_ring_t *r = small_ring();
    uint8_t in[37], out[37];
    uint32_t seq = 0, check = 0;
    /* Odd-sized chunks through a 64-byte ring: every offset of the wrap. */
    for (int round = 0; round < 1000; round++) {
        size_t n = 1 + (size_t)(round % 37);
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)(seq + i);
        assert_int_equal(mq_cos_ring_write(r, in, n), n);
        seq += (uint32_t)n;
        size_t got = mq_cos_ring_read(r, out, n);
        assert_int_equal(got, n);
        for (size_t i = 0; i < got; i++)
            assert_int_equal(out[i], (uint8_t)(check + i));
        check += (uint32_t)got;
    }
    assert_int_equal(seq, check);
}

static void test_counters_wrap_32_bits(void **state)
{
    (void)state;
    mq_cos_ring_t *r = small_ring();
    /* Start just below 2^32: the free-running counters overflow mid-use. */
    r->head = UINT32_MAX - 20; /* (single-threaded here) */
    r->tail = UINT32_MAX - 20;
    uint8_t in[50], out[50];
    for (int i = 0; i < 50; i++)
        in[i] = (uint8_t)(0xA0 + i);
    assert_int_equal(mq_cos_ring_write(r, in, 50), 50);
    assert_int_equal(mq_cos_ring_used(r), 50);
    assert_int_equal(mq_cos_ring_space(r), 14);
    assert_int_equal(mq_cos_ring_read(r, out, 50), 50);
    assert_memory_equal(in, out, 50);
}

static void test_peek_gives_two_pieces_across_the_wrap(void **state)
{
    (void)state;
    mq_cos_ring_t *r = small_ring();
    uint8_t junk[50], out[64];
    memset(junk, 0, sizeof(junk));
    assert_int_equal(mq_cos_ring_write(r, junk, 50), 50);
    assert_int_equal(mq_cos_ring_read(r, out, 50), 50); /* tail at 50 */
    const char *msg = "a packet that straddles the end";
    size_t len = strlen(msg);
    assert_int_equal(mq_cos_ring_write(r, msg, len), len);
    mq_iov_t iov[2];
    assert_int_equal(mq_cos_ring_peek(r, iov), 2);
    assert_int_equal(iov[0].len, 14);
    assert_int_equal(iov[1].len, len - 14);
    assert_memory_equal(iov[0].base, msg, 14);
    assert_memory_equal(iov[1].base, msg + 14, len - 14);
    mq_cos_ring_consume(r, 14);
    assert_int_equal(mq_cos_ring_peek(r, iov), 1);
    assert_int_equal(iov[0].len, len - 14);
    mq_cos_ring_consume(r, len - 14);
    assert_int_equal(mq_cos_ring_used(r), 0);
}

/* An MQTT packet written in pieces across the wrap decodes whole. */
static void test_partial_packet_across_the_wrap_decodes(void **state)
{
    (void)state;
    mq_cos_ring_t *r = small_ring();
    uint8_t pkt[60];
    mq_publish_t p;
    memset(&p, 0, sizeof(p));
    p.qos = 1;
    p.packet_id = 7;
    p.topic = (mq_str_t){(const uint8_t *)"a/b", 3};
    p.payload = (mq_str_t){(const uint8_t *)"payload crossing the ring end", 29};
    int n = mq_codec_encode_publish(pkt, sizeof(pkt), 4, &p);
    assert_true(n > 20 && n < 60);
    uint8_t junk[40] = {0}, out[64];
    assert_int_equal(mq_cos_ring_write(r, junk, 40), 40);
    assert_int_equal(mq_cos_ring_read(r, out, 40), 40);
    /* First 10 bytes, then the rest: the consumer sees an incomplete one. */
    assert_int_equal(mq_cos_ring_write(r, pkt, 10), 10);
    size_t got = mq_cos_ring_read(r, out, sizeof(out));
    assert_int_equal(got, 10);
    mq_fixed_header_t fh;
    assert_int_equal(mq_codec_fixed_header(out, got, 0, &fh), MQ_OK);
    assert_true(fh.header_len + fh.remaining > got); /* not complete yet */
    assert_int_equal(mq_cos_ring_write(r, pkt + 10, (size_t)n - 10), (size_t)n - 10);
    got += mq_cos_ring_read(r, out + got, sizeof(out) - got);
    assert_int_equal(got, (size_t)n);
    mq_packet_t dec;
    assert_int_equal(mq_codec_decode(&fh, out + fh.header_len, 4, &dec), MQ_OK);
    assert_int_equal(dec.u.publish.packet_id, 7);
    assert_int_equal(dec.u.publish.payload.len, 29);
    assert_memory_equal(dec.u.publish.payload.ptr, "payload crossing the ring end", 29);
}

static void test_writev_stops_at_the_first_short_element(void **state)
{
    (void)state;
    mq_cos_ring_t *r = small_ring();
    uint8_t a[30], b[30], c[30], out[64];
    memset(a, 'a', 30);
    memset(b, 'b', 30);
    memset(c, 'c', 30);
    mq_iov_t iov[3] = {{a, 30}, {b, 30}, {c, 30}};
    assert_int_equal(mq_cos_ring_writev(r, iov, 3), 64);
    assert_int_equal(mq_cos_ring_read(r, out, 64), 64);
    assert_int_equal(out[29], 'a');
    assert_int_equal(out[59], 'b');
    assert_int_equal(out[60], 'c');
}

/* ---- two threads: producer and consumer at once ------------------------- */

#define STRESS_BYTES (4u << 20)

static void *producer(void *arg)
{
    mq_cos_ring_t *r = arg;
    uint8_t chunk[97];
    uint32_t seq = 0;
    while (seq < STRESS_BYTES) {
        size_t n = sizeof(chunk);
        if (n > STRESS_BYTES - seq)
            n = STRESS_BYTES - seq;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)((seq + i) * 31u);
        size_t off = 0;
        while (off < n) {
            off += mq_cos_ring_write(r, chunk + off, n - off);
        }
        seq += (uint32_t)n;
    }
    return NULL;
}

static void test_two_threads_every_byte_in_order(void **state)
{
    (void)state;
    static _Alignas(64) uint8_t mem[sizeof(mq_cos_ring_t) + 1024];
    mq_cos_ring_t *r = mq_cos_ring_init(mem, sizeof(mem));
    assert_non_null(r);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, r), 0);
    uint32_t seq = 0, bad = 0;
    uint8_t out[113];
    while (seq < STRESS_BYTES) {
        size_t n = mq_cos_ring_read(r, out, sizeof(out));
        for (size_t i = 0; i < n; i++)
            if (out[i] != (uint8_t)((seq + i) * 31u))
                bad++;
        seq += (uint32_t)n;
    }
    pthread_join(t, NULL);
    assert_int_equal(bad, 0);
    assert_int_equal(seq, STRESS_BYTES);
    assert_int_equal(mq_cos_ring_used(r), 0);
}

/* ---- channels ------------------------------------------------------------ */

static void test_channel_layout_and_states(void **state)
{
    (void)state;
    static _Alignas(64) uint8_t mem[4096];
    assert_null(mq_cos_chan_init(mem + 8, sizeof(mem) - 8)); /* not 64-aligned */
    assert_null(mq_cos_chan_init(mem, MQ_COS_CHAN_MIN - 1));
    mq_cos_chan_t *ch = mq_cos_chan_init(mem, sizeof(mem));
    assert_non_null(ch);
    assert_ptr_equal(mq_cos_chan_attach(mem, sizeof(mem)), ch);
    assert_null(mq_cos_chan_attach(mem, sizeof(mem) - 64)); /* size mismatch */
    mq_cos_ring_t *up = mq_cos_chan_up(ch), *down = mq_cos_chan_down(ch);
    assert_true((uint8_t *)up >= mem + sizeof(*ch));
    assert_true((uint8_t *)down >= (uint8_t *)up + sizeof(*up) + up->cap);
    assert_true((uint8_t *)down + sizeof(*down) + down->cap <= mem + sizeof(mem));
    assert_int_equal(up->cap, 1024);

    assert_int_equal(mq_cos_chan_client_state(ch), MQ_COS_IDLE);
    assert_int_equal(mq_cos_chan_client_open(ch), MQ_OK);
    assert_int_equal(mq_cos_chan_client_open(ch), MQ_ECLOSED); /* already open */
    assert_int_equal(mq_cos_chan_client_state(ch), MQ_COS_OPEN);
    mq_cos_chan_set_broker_state(ch, MQ_COS_OPEN);
    assert_false(mq_cos_chan_broker_closed(ch));
    assert_int_equal(mq_cos_ring_write(up, "xyz", 3), 3);
    mq_cos_chan_client_close(ch);
    assert_int_equal(mq_cos_chan_client_state(ch), MQ_COS_CLOSED);
    mq_cos_chan_set_broker_state(ch, MQ_COS_CLOSED);
    assert_true(mq_cos_chan_broker_closed(ch));
    assert_int_equal(mq_cos_chan_client_open(ch), MQ_ECLOSED); /* not reset yet */
    mq_cos_chan_reset(ch);
    assert_int_equal(mq_cos_ring_used(up), 0);
    assert_int_equal(mq_cos_chan_client_state(ch), MQ_COS_IDLE);
    assert_int_equal(mq_cos_chan_client_open(ch), MQ_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_regions),
        cmocka_unit_test(test_empty_and_full),
        cmocka_unit_test(test_wrap_around_many_times),
        cmocka_unit_test(test_counters_wrap_32_bits),
        cmocka_unit_test(test_peek_gives_two_pieces_across_the_wrap),
        cmocka_unit_test(test_partial_packet_across_the_wrap_decodes),
        cmocka_unit_test(test_writev_stops_at_the_first_short_element),
        cmocka_unit_test(test_two_threads_every_byte_in_order),
        cmocka_unit_test(test_channel_layout_and_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

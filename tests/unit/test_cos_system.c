/*
 * The Composite components on Linux (issue 8): the broker component
 * (src/platform/composite/bcomp.c) and the publisher and subscriber
 * components (pubsub.c) over shared-memory channels (chan.c), driven in
 * turns in one process with a fake clock — the test implementation of the
 * environment a Composite scheduler gives them (env.h). Checks the
 * transcript issue 8 asks for: CONNECT/CONNACK, SUBSCRIBE, QoS 0/1/2 in
 * order, the retained message, the will on an abnormal end, the counts;
 * with roomy channels and with tiny ones (backpressure, packets split
 * across the ring's wrap); plus the arena hooks, connection refusal,
 * channel reuse and the keepalive deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bcomp.h"
#include "pubsub.h"
#include "musqratt/error.h"

/* ---- the fake environment ------------------------------------------------ */

typedef struct fake_env {
    uint64_t now_us;
    uint64_t cycles;
    uint64_t notifies;
    uint64_t last_deadline;
    char *log;
    size_t log_len, log_cap;
} fake_env_t;

static uint64_t f_now(void *ctx)
{
    return ((fake_env_t *)ctx)->now_us;
}

static uint64_t f_cycles(void *ctx)
{
    fake_env_t *e = ctx;
    e->cycles += 13; /* a counter that moves on every read, like a TSC */
    return e->cycles;
}

static void f_wait(void *ctx, uint64_t deadline)
{
    ((fake_env_t *)ctx)->last_deadline = deadline;
}

static void f_notify(void *ctx, unsigned chan)
{
    (void)chan;
    ((fake_env_t *)ctx)->notifies++;
}

static void f_console(void *ctx, const char *s, size_t n)
{
    fake_env_t *e = ctx;
    if (e->log_len + n + 1 > e->log_cap) {
        e->log_cap = (e->log_len + n + 1) * 2;
        e->log = realloc(e->log, e->log_cap);
        assert_non_null(e->log);
    }
    memcpy(e->log + e->log_len, s, n);
    e->log_len += n;
    e->log[e->log_len] = '\0';
    if (getenv("MQ_COS_VERBOSE"))
        fwrite(s, 1, n, stdout);
}

static mq_cos_env_t make_env(fake_env_t *f)
{
    memset(f, 0, sizeof(*f));
    f->now_us = 1000000;
    f->cycles = 1000;
    return (mq_cos_env_t){f_now, f_cycles, f_wait, f_notify, f_console, f};
}

#define ARENA_SIZE (4u << 20)

typedef struct world {
    fake_env_t fake;
    mq_cos_env_t env;
    uint8_t *arena;
    uint8_t *chan_mem[3];
    mq_cos_chan_t *chans[3];
    mq_cos_broker_t bc;
    size_t chan_size;
} world_t;

static void world_init(world_t *w, size_t chan_size, const mq_broker_config_t *cfg)
{
    memset(w, 0, sizeof(*w));
    w->env = make_env(&w->fake);
    w->chan_size = chan_size;
    w->arena = aligned_alloc(64, ARENA_SIZE);
    assert_non_null(w->arena);
    for (int i = 0; i < 3; i++) {
        w->chan_mem[i] = aligned_alloc(64, chan_size);
        assert_non_null(w->chan_mem[i]);
        w->chans[i] = mq_cos_chan_init(w->chan_mem[i], chan_size);
        assert_non_null(w->chans[i]);
    }
    assert_int_equal(mq_cos_broker_init(&w->bc, &w->env, cfg, w->arena, ARENA_SIZE,
                                        w->chans, 3),
                     MQ_OK);
}

static void world_free(world_t *w)
{
    mq_cos_broker_fini(&w->bc);
    for (int i = 0; i < 3; i++)
        free(w->chan_mem[i]);
    free(w->arena);
    free(w->fake.log);
}

/* Runs broker, subscriber and publisher in turns until both clients are
 * done (plus a few broker steps); returns how many times a ring held bytes
 * across its wrap after a broker step (packets split in two pieces). */
static unsigned run_exchange(world_t *w, mq_cos_pub_t *pub, mq_cos_sub_t *sub)
{
    unsigned split = 0;
    int settle = 0;
    for (int turn = 0; turn < 200000 && settle < 5; turn++) {
        uint64_t deadline = mq_cos_broker_step(&w->bc);
        assert_true(deadline == MQ_COS_NEVER || deadline >= w->fake.now_us);
        for (int i = 0; i < 2; i++) {
            mq_iov_t iov[2];
            if (mq_cos_ring_peek(mq_cos_chan_down(w->chans[i]), iov) == 2)
                split++;
        }
        bool sd = mq_cos_sub_step(sub);
        bool pd = mq_cos_pub_step(pub);
        if (sd && pd)
            settle++;
        w->fake.now_us += 50; /* 50 us of fake time per turn */
    }
    return split;
}

/* Every needle appears in the log, in this order. */
static void assert_in_order(const char *log, const char *const *needles, size_t n)
{
    const char *at = log;
    for (size_t i = 0; i < n; i++) {
        const char *f = strstr(at, needles[i]);
        if (!f) {
            print_error("missing (in order) line: %s\n", needles[i]);
            fail();
        }
        at = f + strlen(needles[i]);
    }
}

static void check_transcript(world_t *w, const mq_cos_pub_t *pub, const mq_cos_sub_t *sub,
                             uint32_t nmsgs, bool global_order)
{
    const char *log = w->fake.log;
    assert_non_null(log);
    assert_int_equal(pub->error, 0);
    assert_int_equal(sub->error, 0);
    assert_true(mq_cos_sub_passed(sub));
    assert_int_equal(sub->next, nmsgs);
    assert_int_equal(sub->out_of_order, 0);
    assert_int_equal(sub->duplicates, 0);
    assert_int_equal(sub->wills, 1);
    assert_int_equal(sub->retained, 1);
    assert_int_equal(pub->sent, nmsgs + 1);
    assert_int_equal(pub->rtt[1].count, nmsgs / 3);
    assert_int_equal(pub->rtt[2].count, nmsgs / 3);
    assert_true(pub->rtt[1].min > 0 && pub->rtt[2].min > 0);

    static const char *const order[] = {
        "sub: CONNECT client id musqratt-sub",
        "sub: CONNACK rc=0",
        "sub: SUBSCRIBE musqratt/data/# q2, musqratt/will q1",
        "sub: SUBACK granted QoS 2,1",
        "sub: PUBLISH musqratt/ctl/ready q1 retain",
    };
    assert_in_order(log, order, 5);
    static const char *const porder[] = {
        "pub: CONNECT client id musqratt-pub, will on musqratt/will",
        "pub: CONNACK rc=0",
        "pub: SUBACK",
        "pub: PUBLISH musqratt/retained q1 retain",
        "pub: PUBACK (retained message stored)",
        "pub: PUBLISH musqratt/data/0 q0 seq=0",
        "pub: PUBLISH musqratt/data/1 q1 seq=1",
        "pub: seq=1 q1 complete, round trip",
        "pub: PUBLISH musqratt/data/2 q2 seq=2",
        "pub: seq=2 q2 complete, round trip",
        "pub: QoS 1 round trips:",
        "pub: QoS 2 round trips:",
        "pub: sent",
        "ending WITHOUT DISCONNECT (abnormal end)",
        "sub: PUBLISH musqratt/will q1 \"publisher ended abnormally\" (the publisher's will)",
        "sub: SUBSCRIBE musqratt/retained q1",
        "sub: PUBLISH musqratt/retained q1 retain=1 \"last known state\"",
        "sub: DISCONNECT",
        "sub: received",
        "sub: PASS",
    };
    assert_in_order(log, porder, sizeof(porder) / sizeof(porder[0]));
    /* Every data message reached the subscriber, in order, with its QoS
     * (in the global send order too when no window filled up). */
    if (global_order)
        assert_int_equal(sub->interleaved, 0);
    for (uint32_t q = 0; q < 3; q++)
        assert_int_equal(sub->expect[q], nmsgs + q);
    const char *at = log;
    for (uint32_t i = 0; global_order && i < nmsgs; i++) {
        char needle[80];
        snprintf(needle, sizeof(needle), "sub: PUBLISH musqratt/data/%u q%u seq=%u,",
                 (unsigned)i, (unsigned)(i % 3), (unsigned)i);
        const char *f = strstr(at, needle);
        if (!f) {
            print_error("data message %u missing or out of order\n", (unsigned)i);
            fail();
        }
        at = f + 1;
    }
    char counts[160];
    snprintf(counts, sizeof(counts),
             "sub: received %u data messages (QoS 0: %u, QoS 1: %u, QoS 2: %u), "
             "0 out of order, 0 duplicates, 1 will, 1 retained; ",
             (unsigned)nmsgs, (unsigned)(nmsgs / 3), (unsigned)(nmsgs / 3),
             (unsigned)(nmsgs / 3));
    assert_non_null(strstr(log, counts));
    assert_null(strstr(log, "FAILED"));
}

static void test_transcript_roomy_channels(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 64 * 1024, NULL);
    mq_cos_pub_t pub;
    mq_cos_sub_t sub;
    mq_cos_sub_init(&sub, w.chans[0], 0, &w.env, 30);
    mq_cos_pub_init(&pub, w.chans[1], 1, &w.env, 30);
    run_exchange(&w, &pub, &sub);
    check_transcript(&w, &pub, &sub, 30, true);
    assert_int_equal(w.bc.opened, 2);
    assert_int_equal(w.bc.closed, 2);
    assert_int_equal(w.bc.refused, 0);
    /* The broker counted what the transcript shows. */
    mq_broker_stats_t st;
    mq_broker_stats(w.bc.b, &st);
    assert_int_equal(st.connections, 0);
    assert_int_equal(st.msgs_received, 30 + 2); /* data, retained, ready */
    assert_true(w.fake.notifies > 0);
    world_free(&w);
}

static void test_transcript_tiny_channels_backpressure(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 768, NULL); /* 128-byte rings: most packets cross the wrap */
    assert_int_equal(mq_cos_chan_down(w.chans[0])->cap, 128);
    mq_cos_pub_t pub;
    mq_cos_sub_t sub;
    mq_cos_sub_init(&sub, w.chans[0], 0, &w.env, 300);
    mq_cos_pub_init(&pub, w.chans[1], 1, &w.env, 300);
    unsigned split = run_exchange(&w, &pub, &sub);
    check_transcript(&w, &pub, &sub, 300, true);
    assert_true(split > 10); /* packets did cross the rings' wrap */
    world_free(&w);
}

/* The subscriber stops reading: the broker keeps the output in the core
 * (the ring stays full) and stops reading that client's input; once the
 * subscriber reads again, everything arrives in order. */
static void test_stalled_reader_then_resume(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 768, NULL);
    mq_cos_pub_t pub;
    mq_cos_sub_t sub;
    mq_cos_sub_init(&sub, w.chans[0], 0, &w.env, 90);
    mq_cos_pub_init(&pub, w.chans[1], 1, &w.env, 90);
    unsigned full_turns = 0;
    /* Up to the subscriber's first data message, then stall it for a while. */
    for (int turn = 0; turn < 20000 && sub.data_by_qos[0] == 0; turn++) {
        mq_cos_broker_step(&w.bc);
        mq_cos_sub_step(&sub);
        mq_cos_pub_step(&pub);
        w.fake.now_us += 50;
    }
    assert_int_equal(sub.data_by_qos[0], 1);
    for (int turn = 0; turn < 500; turn++) {
        mq_cos_broker_step(&w.bc);
        mq_cos_pub_step(&pub);
        if (mq_cos_ring_space(mq_cos_chan_down(w.chans[0])) == 0)
            full_turns++;
        w.fake.now_us += 50;
    }
    assert_true(full_turns > 400); /* the down ring stayed full: backpressure */
    mq_conn_t *c = w.bc.slots[0].conn;
    assert_non_null(c);
    assert_true(mq_conn_out_size(c) > 0); /* the rest waits in the core */
    run_exchange(&w, &pub, &sub);
    check_transcript(&w, &pub, &sub, 90, false);
    assert_true(sub.interleaved > 0); /* QoS 0 overtook the full QoS 1/2 window */
    world_free(&w);
}

/* max_connections 1: the second client is refused through its channel,
 * and the channel can be used again afterwards. */
static void test_refused_then_channel_reused(void **state)
{
    (void)state;
    mq_broker_config_t cfg;
    mq_broker_config_defaults(&cfg);
    cfg.max_connections = 1;
    world_t w;
    world_init(&w, 4096, &cfg);
    mq_cos_client_t a, b;
    mq_cos_client_init(&a, w.chans[0], 0, &w.env);
    mq_cos_client_init(&b, w.chans[1], 1, &w.env);
    assert_int_equal(mq_cos_client_open(&a), MQ_OK);
    mq_cos_broker_step(&w.bc);
    assert_int_equal(mq_cos_client_open(&b), MQ_OK);
    mq_cos_broker_step(&w.bc);
    assert_int_equal(w.bc.refused, 1);
    mq_packet_t pkt;
    assert_int_equal(mq_cos_client_poll(&b, &pkt), MQ_ECLOSED);
    mq_cos_client_close(&b);
    mq_cos_broker_step(&w.bc); /* sees b's CLOSED: resets the channel */
    assert_int_equal(mq_cos_chan_client_state(w.chans[1]), MQ_COS_IDLE);
    /* a ends; then b can connect on its channel. */
    assert_int_equal(mq_cos_client_connect(&a, "a", 0, NULL, NULL, 0, false), MQ_OK);
    mq_cos_client_flush(&a);
    mq_cos_broker_step(&w.bc);
    assert_int_equal(mq_cos_client_poll(&a, &pkt), 1);
    assert_int_equal(pkt.fh.type, MQ_PKT_CONNACK);
    assert_int_equal(mq_cos_client_disconnect(&a), MQ_OK);
    mq_cos_client_close(&a);
    mq_cos_broker_step(&w.bc);
    mq_cos_broker_step(&w.bc);
    assert_int_equal(mq_cos_chan_client_state(w.chans[0]), MQ_COS_IDLE);
    assert_int_equal(mq_cos_client_open(&b), MQ_OK);
    assert_int_equal(mq_cos_client_connect(&b, "b", 0, NULL, NULL, 0, false), MQ_OK);
    mq_cos_client_flush(&b);
    mq_cos_broker_step(&w.bc);
    assert_int_equal(mq_cos_client_poll(&b, &pkt), 1);
    assert_int_equal(pkt.fh.type, MQ_PKT_CONNACK);
    assert_int_equal(pkt.u.connack.rc, 0);
    assert_int_equal(w.bc.opened, 2);
    world_free(&w);
}

/* A silent client with keepalive 1 s: the broker's deadline is the
 * keepalive (1.5 s), and at that fake time the connection is dropped. */
static void test_keepalive_deadline_with_fake_clock(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 4096, NULL);
    mq_cos_client_t a;
    mq_cos_client_init(&a, w.chans[0], 0, &w.env);
    assert_int_equal(mq_cos_client_open(&a), MQ_OK);
    assert_int_equal(mq_cos_client_connect(&a, "idle", 1, NULL, NULL, 0, false), MQ_OK);
    mq_cos_client_flush(&a);
    uint64_t t0 = w.fake.now_us;
    uint64_t deadline = mq_cos_broker_step(&w.bc);
    assert_true(deadline != MQ_COS_NEVER);
    assert_true(deadline > t0 && deadline <= t0 + 1500000 + 1000);
    mq_packet_t pkt;
    assert_int_equal(mq_cos_client_poll(&a, &pkt), 1); /* CONNACK */
    w.fake.now_us = deadline - 1000;
    mq_cos_broker_step(&w.bc);
    assert_false(mq_cos_chan_broker_closed(w.chans[0]));
    w.fake.now_us = deadline;
    mq_cos_broker_step(&w.bc);
    assert_true(mq_cos_chan_broker_closed(w.chans[0]));
    assert_int_equal(mq_cos_client_poll(&a, &pkt), MQ_ECLOSED);
    assert_int_equal(w.bc.closed, 1);
    world_free(&w);
}

/* Channels attached after start (how Composite clients arrive), up to the
 * limit; the exchange then runs over them. */
static void test_channels_added_later(void **state)
{
    (void)state;
    fake_env_t f;
    mq_cos_env_t env = make_env(&f);
    uint8_t *arena = aligned_alloc(64, ARENA_SIZE);
    assert_non_null(arena);
    static _Alignas(64) uint8_t cm[2][8192];
    mq_cos_chan_t *ch0 = mq_cos_chan_init(cm[0], sizeof(cm[0]));
    mq_cos_chan_t *ch1 = mq_cos_chan_init(cm[1], sizeof(cm[1]));
    mq_cos_broker_t bc;
    assert_int_equal(mq_cos_broker_init(&bc, &env, NULL, arena, ARENA_SIZE, NULL, 0), MQ_OK);
    assert_int_equal(mq_cos_broker_add_chan(&bc, NULL), MQ_EINVAL);
    assert_int_equal(mq_cos_broker_add_chan(&bc, ch0), 0);
    assert_int_equal(mq_cos_broker_add_chan(&bc, ch1), 1);
    for (int i = 2; i < MQ_COS_MAX_CHANS; i++)
        assert_int_equal(mq_cos_broker_add_chan(&bc, ch1), i); /* (same region: count only) */
    assert_int_equal(mq_cos_broker_add_chan(&bc, ch1), MQ_ELIMIT);
    bc.nslots = 2; /* keep the two real ones */
    mq_cos_pub_t pub;
    mq_cos_sub_t sub;
    mq_cos_sub_init(&sub, ch0, 0, &env, 12);
    mq_cos_pub_init(&pub, ch1, 1, &env, 12);
    bool done = false;
    for (int turn = 0; turn < 20000 && !done; turn++) {
        mq_cos_broker_step(&bc);
        bool sd = mq_cos_sub_step(&sub);
        bool pd = mq_cos_pub_step(&pub);
        done = sd && pd;
        f.now_us += 50;
    }
    assert_true(done);
    assert_true(mq_cos_sub_passed(&sub));
    assert_int_equal(pub.error, 0);
    mq_cos_broker_fini(&bc);
    free(arena);
    free(f.log);
}

/* ---- the hooks ------------------------------------------------------------ */

static void test_arena_classes_reuse_and_exhaustion(void **state)
{
    (void)state;
    static _Alignas(16) uint8_t mem[1024];
    mq_cos_arena_t a;
    assert_int_equal(mq_cos_arena_init(&a, mem + 8, 512), MQ_EINVAL); /* misaligned */
    assert_int_equal(mq_cos_arena_init(&a, mem, sizeof(mem)), MQ_OK);
    assert_null(mq_cos_arena_alloc(&a, 0));
    void *p = mq_cos_arena_alloc(&a, 1);    /* 16-byte class */
    void *q = mq_cos_arena_alloc(&a, 100);  /* 128-byte class */
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal(((uintptr_t)p | (uintptr_t)q) & 15u, 0);
    assert_int_equal(a.live, 16 + 128);
    mq_cos_arena_free(&a, q, 100);
    assert_int_equal(a.live, 16);
    assert_ptr_equal(mq_cos_arena_alloc(&a, 65), q); /* same class: reused */
    assert_null(mq_cos_arena_alloc(&a, 1024));       /* does not fit any more */
    assert_int_equal(a.failures, 2); /* the 0-byte request and this one */
    void *r = mq_cos_arena_alloc(&a, 512);
    assert_non_null(r);
    assert_int_equal(a.used, 16 + 128 + 512);
    assert_int_equal(a.peak, 16 + 128 + 512);
    mq_cos_arena_free(&a, NULL, 10); /* harmless */
}

static void test_broker_in_a_tiny_arena_fails_cleanly(void **state)
{
    (void)state;
    fake_env_t f;
    mq_cos_env_t env = make_env(&f);
    static _Alignas(64) uint8_t arena[256];
    static _Alignas(64) uint8_t cm[4096];
    mq_cos_chan_t *ch = mq_cos_chan_init(cm, sizeof(cm));
    mq_cos_broker_t bc;
    assert_int_equal(mq_cos_broker_init(&bc, &env, NULL, arena, sizeof(arena), &ch, 1),
                     MQ_ENOMEM);
    mq_cos_chan_t *many[MQ_COS_MAX_CHANS + 1];
    assert_int_equal(mq_cos_broker_init(&bc, &env, NULL, arena, sizeof(arena), many,
                                        MQ_COS_MAX_CHANS + 1),
                     MQ_EINVAL);
    free(f.log);
}

static void test_log_and_time_hooks(void **state)
{
    (void)state;
    fake_env_t f;
    mq_cos_env_t env = make_env(&f);
    static _Alignas(16) uint8_t arena[256];
    mq_cos_hooks_t h;
    mq_platform_t plat;
    assert_int_equal(mq_cos_hooks_init(&h, &env, arena, sizeof(arena), MQ_LOG_NOTICE, &plat),
                     MQ_OK);
    plat.log(plat.log_ctx, MQ_LOG_WARNING, "disk on fire");
    plat.log(plat.log_ctx, MQ_LOG_DEBUG, "not shown");
    assert_string_equal(f.log, "musqratt warning: disk on fire\n");
    f.now_us = 12345678;
    assert_int_equal(mq_cos_now_ms(&env), 12345);
    uint8_t r1[16], r2[16];
    plat.random(plat.random_ctx, r1, sizeof(r1));
    plat.random(plat.random_ctx, r2, sizeof(r2));
    assert_memory_not_equal(r1, r2, sizeof(r1));
    void *p = plat.allocator.alloc(plat.allocator.ctx, 40);
    assert_non_null(p);
    plat.allocator.free(plat.allocator.ctx, p, 40);
    assert_int_equal(h.arena.live, 0);
    free(f.log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transcript_roomy_channels),
        cmocka_unit_test(test_transcript_tiny_channels_backpressure),
        cmocka_unit_test(test_stalled_reader_then_resume),
        cmocka_unit_test(test_refused_then_channel_reused),
        cmocka_unit_test(test_keepalive_deadline_with_fake_clock),
        cmocka_unit_test(test_channels_added_later),
        cmocka_unit_test(test_arena_classes_reuse_and_exhaustion),
        cmocka_unit_test(test_broker_in_a_tiny_arena_fails_cleanly),
        cmocka_unit_test(test_log_and_time_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

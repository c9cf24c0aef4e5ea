/*
 * Unit tests for src/broker/retain.c — the retained-message store.
 * Values are slots of a test array; the release callback counts how often
 * each one is released, which must be exactly once per stored reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/mem.h"
#include "broker/retain.h"
#include "musqratt/error.h"

typedef struct {
    long allocs_left; /* < 0: never fail */
} fail_alloc_t;

static void *t_alloc(void *ctx, size_t size)
{
    fail_alloc_t *f = ctx;
    if (f->allocs_left == 0)
        return NULL;
    if (f->allocs_left > 0)
        f->allocs_left--;
    return malloc(size);
}

static void t_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

#define NVAL 64

typedef struct {
    fail_alloc_t fa;
    mq_mem_t mem;
    mq_retain_store_t s;
    int released[NVAL]; /* per value */
    int val[NVAL];      /* the values are &val[i] */
    long total_released;
} fixture_t;

static void on_release(void *ctx, void *value)
{
    fixture_t *f = ctx;
    f->total_released++;
    int *v = value;
    if (v >= f->val && v < f->val + NVAL)
        f->released[v - f->val]++;
}

static fixture_t *fx_new(uint64_t limit, uint32_t max_nodes)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->fa.allocs_left = -1;
    mq_allocator_t a = {t_alloc, t_free, &f->fa};
    mq_mem_init(&f->mem, &a, limit);
    assert_int_equal(mq_retain_init(&f->s, &f->mem, max_nodes, on_release, f), MQ_OK);
    return f;
}

static void fx_free(fixture_t *f)
{
    mq_retain_destroy(&f->s);
    assert_int_equal(f->mem.used, 0);
    mq_mem_trim(&f->mem); /* cached free objects back to malloc */
    free(f);
}

static int set(fixture_t *f, const char *topic, int i)
{
    return mq_retain_set(&f->s, (const uint8_t *)topic, strlen(topic), i < 0 ? NULL : &f->val[i]);
}

static int get(fixture_t *f, const char *topic)
{
    int *v = mq_retain_get(&f->s, (const uint8_t *)topic, strlen(topic));
    return v ? (int)(v - f->val) : -1;
}

typedef struct {
    fixture_t *f;
    uint64_t mask; /* bit i: value i matched */
    int n;
} hits_t;

static void on_hit(void *ctx, void *value)
{
    hits_t *h = ctx;
    int i = (int)((int *)value - h->f->val);
    assert_true(i >= 0 && i < NVAL);
    assert_false(h->mask >> i & 1); /* each value once */
    h->mask |= 1ull << i;
    h->n++;
}

static uint64_t match(fixture_t *f, const char *filter)
{
    hits_t h = {f, 0, 0};
    mq_retain_match(&f->s, (const uint8_t *)filter, strlen(filter), on_hit, &h);
    return h.mask;
}

#define B(i) (1ull << (i))

static void test_set_get_replace_clear(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    uint64_t used0 = f->mem.used;
    assert_int_equal(set(f, "a/b", 1), MQ_OK);
    assert_int_equal(get(f, "a/b"), 1);
    assert_int_equal(get(f, "a"), -1);
    assert_int_equal(get(f, "a/b/c"), -1);
    assert_int_equal(f->s.count, 1);
    assert_int_equal(f->s.nodes, 2);

    /* Replacing releases the previous value, once. */
    assert_int_equal(set(f, "a/b", 2), MQ_OK);
    assert_int_equal(get(f, "a/b"), 2);
    assert_int_equal(f->released[1], 1);
    assert_int_equal(f->released[2], 0);
    assert_int_equal(f->s.count, 1);

    /* Intermediate levels can hold values too. */
    assert_int_equal(set(f, "a", 3), MQ_OK);
    assert_int_equal(set(f, "a/b/c", 4), MQ_OK);
    assert_int_equal(f->s.count, 3);

    /* Clearing releases and prunes. */
    assert_int_equal(set(f, "a/b", -1), MQ_OK);
    assert_int_equal(f->released[2], 1);
    assert_int_equal(get(f, "a/b"), -1);
    assert_int_equal(get(f, "a/b/c"), 4);
    assert_int_equal(f->s.nodes, 3); /* a/b stays: it leads to a/b/c */
    assert_int_equal(set(f, "a/b/c", -1), MQ_OK);
    assert_int_equal(f->s.nodes, 1);
    assert_int_equal(set(f, "a", -1), MQ_OK);
    assert_int_equal(f->s.nodes, 0);
    assert_int_equal(f->s.count, 0);
    assert_int_equal(f->mem.used, used0);
    /* Clearing what is not there is harmless. */
    assert_int_equal(set(f, "nothing/here", -1), MQ_OK);
    assert_int_equal(f->mem.used, used0);
    for (int i = 1; i <= 4; i++)
        assert_int_equal(f->released[i], 1);
    fx_free(f);
}

static void test_match_wildcards(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    assert_int_equal(set(f, "sport", 0), MQ_OK);
    assert_int_equal(set(f, "sport/tennis", 1), MQ_OK);
    assert_int_equal(set(f, "sport/tennis/player1", 2), MQ_OK);
    assert_int_equal(set(f, "sport/tennis/player1/ranking", 3), MQ_OK);
    assert_int_equal(set(f, "sport/tennis/player2", 4), MQ_OK);
    assert_int_equal(set(f, "sport/golf/player1", 5), MQ_OK);
    assert_int_equal(set(f, "sport/", 6), MQ_OK);
    assert_int_equal(set(f, "/finance", 7), MQ_OK);
    assert_int_equal(set(f, "news", 8), MQ_OK);

    assert_int_equal(match(f, "sport/tennis/player1"), B(2));
    assert_int_equal(match(f, "sport/tennis/+"), B(2) | B(4));
    /* MQTT-4.7.1-2: '#' includes the parent level. */
    assert_int_equal(match(f, "sport/tennis/player1/#"), B(2) | B(3));
    assert_int_equal(match(f, "sport/#"), B(0) | B(1) | B(2) | B(3) | B(4) | B(5) | B(6));
    /* MQTT-4.7.1-3: '+' is exactly one level, possibly empty. */
    assert_int_equal(match(f, "sport/+"), B(1) | B(6));
    assert_int_equal(match(f, "+"), B(0) | B(8));
    assert_int_equal(match(f, "+/+"), B(1) | B(6) | B(7));
    assert_int_equal(match(f, "/+"), B(7));
    assert_int_equal(match(f, "+/+/player1"), B(2) | B(5));
    assert_int_equal(match(f, "+/tennis/#"), B(1) | B(2) | B(3) | B(4));
    assert_int_equal(match(f, "#"), (B(9) - 1));
    assert_int_equal(match(f, "nothing/#"), 0);
    assert_int_equal(match(f, "sport/tennis/player1/ranking/+"), 0);
    assert_int_equal(match(f, "sport/tennis/player1/ranking/#"), B(3));
    fx_free(f);
}

static void test_MQTT_4_7_2_1_dollar_topics(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    assert_int_equal(set(f, "$SYS/monitor/Clients", 0), MQ_OK);
    assert_int_equal(set(f, "$SYS", 1), MQ_OK);
    assert_int_equal(set(f, "$", 2), MQ_OK);
    assert_int_equal(set(f, "a/$x", 3), MQ_OK);
    assert_int_equal(set(f, "a", 4), MQ_OK);
    assert_int_equal(match(f, "#"), B(3) | B(4));
    assert_int_equal(match(f, "+"), B(4));
    assert_int_equal(match(f, "+/monitor/Clients"), 0);
    assert_int_equal(match(f, "$SYS/#"), B(0) | B(1));
    assert_int_equal(match(f, "$SYS/monitor/+"), B(0));
    assert_int_equal(match(f, "$"), B(2));
    /* Only the first level is protected. */
    assert_int_equal(match(f, "a/+"), B(3));
    assert_int_equal(match(f, "a/#"), B(3) | B(4));
    fx_free(f);
}

static void test_empty_levels(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    assert_int_equal(set(f, "a//b", 0), MQ_OK);
    assert_int_equal(set(f, "a/b", 1), MQ_OK);
    assert_int_equal(set(f, "/", 2), MQ_OK);
    assert_int_equal(set(f, "//", 3), MQ_OK);
    assert_int_equal(f->s.nodes, 3 + 1 + 2 + 1);
    assert_int_equal(get(f, "a//b"), 0);
    assert_int_equal(match(f, "a/+/b"), B(0));
    assert_int_equal(match(f, "a/+"), B(1));
    assert_int_equal(match(f, "+/+"), B(1) | B(2));
    assert_int_equal(match(f, "/#"), B(2) | B(3));
    assert_int_equal(match(f, "+/+/+"), B(0) | B(3));
    assert_int_equal(match(f, "a//#"), B(0));
    fx_free(f);
}

static void test_release_once_per_value_and_destroy(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    char buf[32];
    for (int i = 0; i < 40; i++) {
        snprintf(buf, sizeof(buf), "t/%d/%d", i % 7, i);
        assert_int_equal(set(f, buf, i), MQ_OK);
    }
    /* Replace 10 of them with fresh values; the old ones go exactly once. */
    for (int i = 0; i < 10; i++) {
        snprintf(buf, sizeof(buf), "t/%d/%d", i % 7, i);
        assert_int_equal(set(f, buf, 40 + i), MQ_OK);
        assert_int_equal(f->released[i], 1);
    }
    assert_int_equal(f->total_released, 10);
    assert_int_equal(f->s.count, 40);
    mq_retain_destroy(&f->s);
    assert_int_equal(f->total_released, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(f->released[i], 1);
    assert_int_equal(f->mem.used, 0);
    mq_retain_destroy(&f->s); /* twice is harmless */
    mq_mem_trim(&f->mem);
    free(f);
}

static void test_limits_leave_store_unchanged(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 3);
    assert_int_equal(set(f, "a/b", 0), MQ_OK);
    uint64_t used = f->mem.used;
    assert_int_equal(set(f, "a/c/d", 1), MQ_ELIMIT);
    assert_int_equal(f->mem.used, used);
    assert_int_equal(f->released[1], 0); /* not taken over, not released */
    assert_int_equal(get(f, "a/c/d"), -1);
    assert_int_equal(set(f, "a/c", 1), MQ_OK);
    assert_int_equal(set(f, "a/b", 2), MQ_OK); /* replacing needs no node */
    assert_int_equal(f->s.nodes, 3);

    /* Each allocation of a set fails in turn. */
    static const char *topics[] = {"x/y/z", "a/e", "a/f", "a/g", "a/h", "a/i/j/k"};
    fixture_t *g = fx_new(0, 0);
    assert_int_equal(set(g, "a/b", 0), MQ_OK);
    for (int i = 0; i < 6; i++) {
        for (long k = 0;; k++) {
            uint64_t gu = g->mem.used;
            uint32_t nodes = g->s.nodes;
            g->fa.allocs_left = k;
            int r = set(g, topics[i], i + 1);
            g->fa.allocs_left = -1;
            if (r == MQ_OK)
                break;
            assert_int_equal(r, MQ_ENOMEM);
            assert_int_equal(g->mem.used, gu);
            assert_int_equal(g->s.nodes, nodes);
            assert_int_equal(g->released[i + 1], 0);
            assert_int_equal(get(g, topics[i]), -1);
            assert_true(k < 20);
        }
        assert_int_equal(get(g, topics[i]), i + 1);
    }
    assert_int_equal(match(g, "#"), B(7) - 1);
    /* The byte limit behaves the same. */
    g->mem.limit = g->mem.used + 100;
    assert_int_equal(set(g, "long/topic/with/many/levels/that/cannot/fit", 9), MQ_ENOMEM);
    assert_int_equal(g->released[9], 0);
    g->mem.limit = 0;
    fx_free(g);
    fx_free(f);
}

static void test_deep_topic(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    size_t n = 10000;
    char *t = malloc(n * 2);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        t[2 * i] = 'x';
        t[2 * i + 1] = '/';
    }
    t[2 * n - 1] = 0;
    assert_int_equal(set(f, t, 0), MQ_OK);
    assert_int_equal(f->s.nodes, n);
    assert_int_equal(get(f, t), 0);
    assert_int_equal(match(f, t), B(0));
    assert_int_equal(match(f, "#"), B(0));
    assert_int_equal(match(f, "x/x/+/#"), B(0));
    /* Every level '+': "+/+/.../+". */
    for (size_t i = 0; i < n; i++)
        t[2 * i] = '+';
    assert_int_equal(match(f, t), B(0));
    t[2 * n - 3] = 0;
    assert_int_equal(match(f, t), 0);
    free(t);

    /* 32768 empty levels. */
    char *sl = malloc(65536);
    assert_non_null(sl);
    memset(sl, '/', 65535);
    sl[65535] = 0;
    assert_int_equal(set(f, sl, 1), MQ_OK);
    assert_int_equal(match(f, sl), B(1));
    assert_int_equal(match(f, "/#"), B(1));
    free(sl);
    fx_free(f); /* destroy must not recurse 32768 deep */
}

static void release_count(void *ctx, void *value)
{
    (void)value;
    (*(uint64_t *)ctx)++;
}

static void count_hit(void *ctx, void *value)
{
    (void)value;
    (*(uint64_t *)ctx)++;
}

static void test_million_retained_topics(void **state)
{
    (void)state;
    fail_alloc_t fa = {-1};
    mq_allocator_t a = {t_alloc, t_free, &fa};
    mq_mem_t mem;
    mq_mem_init(&mem, &a, 0);
    mq_retain_store_t s;
    uint64_t released = 0;
    assert_int_equal(mq_retain_init(&s, &mem, 0, release_count, &released), MQ_OK);
    const uint32_t n = 1000000;
    static int token;
    char buf[48];
    for (uint32_t i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof(buf), "site/%u/dev/%u", i % 1000, i);
        assert_int_equal(mq_retain_set(&s, (const uint8_t *)buf, (size_t)len, &token), MQ_OK);
    }
    assert_int_equal(s.count, n);
    /* Proportional to the size: under 160 bytes a topic here. */
    assert_true(mem.used < (uint64_t)n * 160);
    uint64_t hits = 0;
    mq_retain_match(&s, (const uint8_t *)"site/7/dev/+", 12, count_hit, &hits);
    assert_int_equal(hits, n / 1000);
    hits = 0;
    mq_retain_match(&s, (const uint8_t *)"site/+/dev/123456", 17, count_hit, &hits);
    assert_int_equal(hits, 1);
    hits = 0;
    mq_retain_match(&s, (const uint8_t *)"#", 1, count_hit, &hits);
    assert_int_equal(hits, n);
    /* Clear half of them; the rest must survive. */
    for (uint32_t i = 0; i < n; i += 2) {
        int len = snprintf(buf, sizeof(buf), "site/%u/dev/%u", i % 1000, i);
        assert_int_equal(mq_retain_set(&s, (const uint8_t *)buf, (size_t)len, NULL), MQ_OK);
    }
    assert_int_equal(released, n / 2);
    hits = 0;
    mq_retain_match(&s, (const uint8_t *)"site/+/dev/#", 12, count_hit, &hits);
    assert_int_equal(hits, n / 2);
    mq_retain_destroy(&s);
    assert_int_equal(released, n);
    assert_int_equal(mem.used, 0);
    mq_mem_trim(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_replace_clear),
        cmocka_unit_test(test_match_wildcards),
        cmocka_unit_test(test_MQTT_4_7_2_1_dollar_topics),
        cmocka_unit_test(test_empty_levels),
        cmocka_unit_test(test_release_once_per_value_and_destroy),
        cmocka_unit_test(test_limits_leave_store_unchanged),
        cmocka_unit_test(test_deep_topic),
        cmocka_unit_test(test_million_retained_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

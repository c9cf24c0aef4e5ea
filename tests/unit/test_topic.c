/*
 * Unit tests for src/broker/topic.c — the subscription tree.
 * Matching examples are those of MQTT 3.1.1 section 4.7, named after the
 * statement they illustrate.
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
#include "broker/topic.h"
#include "musqratt/error.h"

/* ---- allocator that can be told to fail ------------------------------- */

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

typedef struct {
    fail_alloc_t fa;
    mq_mem_t mem;
    mq_topic_tree_t t;
} fixture_t;

static fixture_t *fx_new(uint64_t limit, uint32_t max_nodes)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->fa.allocs_left = -1;
    mq_allocator_t a = {t_alloc, t_free, &f->fa};
    mq_mem_init(&f->mem, &a, limit);
    assert_int_equal(mq_topic_tree_init(&f->t, &f->mem, max_nodes), MQ_OK);
    return f;
}

static void fx_free(fixture_t *f)
{
    mq_topic_tree_destroy(&f->t);
    assert_int_equal(f->mem.used, 0);
    mq_mem_trim(&f->mem); /* cached free objects back to malloc */
    free(f);
}

/* ---- match collection ------------------------------------------------- */

typedef struct {
    size_t n;
    size_t cap;
    void **who;
    mq_sub_opts_t *opts;
} hits_t;

static void on_hit(void *ctx, void *who, const mq_sub_opts_t *o)
{
    hits_t *h = ctx;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->who = realloc(h->who, h->cap * sizeof(*h->who));
        h->opts = realloc(h->opts, h->cap * sizeof(*h->opts));
        assert_non_null(h->who);
        assert_non_null(h->opts);
    }
    h->who[h->n] = who;
    h->opts[h->n] = *o;
    h->n++;
}

static void hits_free(hits_t *h)
{
    free(h->who);
    free(h->opts);
    memset(h, 0, sizeof(*h));
}

static int sub(fixture_t *f, const char *filter, void *who, uint32_t id)
{
    mq_sub_opts_t o = {.qos = (uint8_t)(id % 3), .flags = 0, .sub_id = id};
    return mq_topic_subscribe(&f->t, (const uint8_t *)filter, strlen(filter), who, &o);
}

static int unsub(fixture_t *f, const char *filter, void *who)
{
    return mq_topic_unsubscribe(&f->t, (const uint8_t *)filter, strlen(filter), who);
}

static size_t count_matches(fixture_t *f, const char *topic)
{
    hits_t h = {0};
    mq_topic_match(&f->t, (const uint8_t *)topic, strlen(topic), on_hit, &h);
    size_t n = h.n;
    hits_free(&h);
    return n;
}

/* Does filter (subscribed alone in a fresh tree) match topic? */
static int matches(const char *filter, const char *topic)
{
    fixture_t *f = fx_new(0, 0);
    static int who;
    assert_int_equal(sub(f, filter, &who, 7), 0);
    hits_t h = {0};
    mq_topic_match(&f->t, (const uint8_t *)topic, strlen(topic), on_hit, &h);
    int r = (int)h.n;
    if (h.n == 1) {
        assert_ptr_equal(h.who[0], &who);
        assert_int_equal(h.opts[0].sub_id, 7);
    }
    hits_free(&h);
    fx_free(f);
    assert_true(r <= 1);
    return r;
}

/* ---- MQTT 3.1.1 section 4.7 examples ---------------------------------- */

static void test_MQTT_4_7_1_2_multi_level_wildcard(void **state)
{
    (void)state;
    /* Non-normative examples of 4.7.1.2. */
    assert_true(matches("sport/tennis/player1/#", "sport/tennis/player1"));
    assert_true(matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
    assert_true(matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
    assert_false(matches("sport/tennis/player1/#", "sport/tennis/player2"));
    assert_false(matches("sport/tennis/player1/#", "sport/tennis"));
    /* "sport/#" also matches the singular "sport". */
    assert_true(matches("sport/#", "sport"));
    assert_true(matches("sport/#", "sport/"));
    assert_false(matches("sport/#", "sports"));
    assert_true(matches("#", "sport/tennis/player1"));
    assert_true(matches("#", "/"));
    assert_true(matches("#", "a"));
}

static void test_MQTT_4_7_1_3_single_level_wildcard(void **state)
{
    (void)state;
    assert_true(matches("sport/tennis/+", "sport/tennis/player1"));
    assert_true(matches("sport/tennis/+", "sport/tennis/player2"));
    assert_false(matches("sport/tennis/+", "sport/tennis/player1/ranking"));
    /* "sport/+" does not match "sport" but does match "sport/". */
    assert_false(matches("sport/+", "sport"));
    assert_true(matches("sport/+", "sport/"));
    assert_true(matches("+/+", "/finance"));
    assert_true(matches("/+", "/finance"));
    assert_false(matches("+", "/finance"));
    assert_true(matches("+", "finance"));
    assert_true(matches("+/tennis/#", "sport/tennis/player1/ranking"));
    assert_true(matches("+/tennis/#", "sport/tennis"));
    assert_false(matches("+/tennis/#", "sport/golf"));
}

static void test_MQTT_4_7_2_1_dollar_topics(void **state)
{
    (void)state;
    assert_false(matches("#", "$SYS/monitor/Clients"));
    assert_false(matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert_true(matches("$SYS/#", "$SYS/monitor/Clients"));
    assert_true(matches("$SYS/#", "$SYS"));
    assert_true(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert_false(matches("+", "$SYS"));
    assert_false(matches("#", "$"));
    /* The rule concerns the first level only. */
    assert_true(matches("a/+", "a/$x"));
    assert_true(matches("a/#", "a/$x/y"));
    assert_true(matches("+/$x", "a/$x"));
}

static void test_MQTT_4_7_3_topic_semantics(void **state)
{
    (void)state;
    /* Case sensitive; spaces are ordinary; a leading '/' is a distinct level. */
    assert_false(matches("ACCOUNTS", "Accounts"));
    assert_true(matches("Accounts payable", "Accounts payable"));
    assert_false(matches("/finance", "finance"));
    assert_false(matches("finance", "/finance"));
    assert_true(matches("/finance", "/finance"));
}

static void test_empty_levels(void **state)
{
    (void)state;
    assert_true(matches("a//b", "a//b"));
    assert_false(matches("a//b", "a/b"));
    assert_false(matches("a/b", "a//b"));
    assert_true(matches("a/+/b", "a//b"));
    assert_true(matches("+/+", "/"));
    assert_false(matches("+", "/"));
    assert_true(matches("/#", "/"));
    assert_true(matches("/#", "/a/b"));
    assert_false(matches("/#", "a"));
    assert_true(matches("a/", "a/"));
    assert_false(matches("a/", "a"));
    assert_true(matches("+//+", "x//y"));
    assert_true(matches("//", "//"));
    assert_false(matches("//", "/"));
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void test_overlapping_filters_reported_once_per_filter(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    int a, b;
    assert_int_equal(sub(f, "a/b", &a, 1), 0);
    assert_int_equal(sub(f, "a/+", &a, 2), 0);
    assert_int_equal(sub(f, "a/#", &a, 3), 0);
    assert_int_equal(sub(f, "#", &a, 4), 0);
    assert_int_equal(sub(f, "+/b", &a, 5), 0);
    assert_int_equal(sub(f, "+/+", &b, 6), 0);
    assert_int_equal(sub(f, "a/c", &b, 7), 0);
    assert_int_equal(f->t.subs, 7);

    hits_t h = {0};
    mq_topic_match(&f->t, (const uint8_t *)"a/b", 3, on_hit, &h);
    assert_int_equal(h.n, 6);
    uint32_t ids[6];
    for (size_t i = 0; i < h.n; i++) {
        ids[i] = h.opts[i].sub_id;
        assert_ptr_equal(h.who[i], ids[i] == 6 ? (void *)&b : (void *)&a);
        assert_int_equal(h.opts[i].qos, ids[i] % 3);
    }
    qsort(ids, 6, sizeof(ids[0]), cmp_u32);
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(ids[i], i + 1); /* every filter but a/c, once */
    hits_free(&h);
    assert_int_equal(count_matches(f, "a"), 2);     /* a/# and # */
    assert_int_equal(count_matches(f, "x/y"), 2);   /* # and +/+ */
    assert_int_equal(count_matches(f, "a/b/c"), 2); /* a/# and # */
    fx_free(f);
}

static void test_MQTT_3_8_4_3_resubscribe_replaces_options(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    int a, b;
    assert_int_equal(sub(f, "x/+", &a, 1), 0);
    uint32_t nodes = f->t.nodes;
    uint64_t used = f->mem.used;
    assert_int_equal(sub(f, "x/+", &a, 2), 1);
    assert_int_equal(f->t.subs, 1);
    assert_int_equal(f->t.nodes, nodes);
    assert_int_equal(f->mem.used, used);

    hits_t h = {0};
    mq_topic_match(&f->t, (const uint8_t *)"x/y", 3, on_hit, &h);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.opts[0].sub_id, 2);
    assert_int_equal(h.opts[0].qos, 2);
    hits_free(&h);

    /* Another subscriber on the same filter is a separate subscription. */
    assert_int_equal(sub(f, "x/+", &b, 3), 0);
    assert_int_equal(f->t.subs, 2);
    assert_int_equal(count_matches(f, "x/y"), 2);
    fx_free(f);
}

static void test_unsubscribe_prunes_and_returns_memory(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    uint64_t used0 = f->mem.used;
    uint32_t nodes0 = f->t.nodes;
    int a, b;
    static const char *filters[] = {"a/b/c", "a/b", "a/+/c", "a/#", "+", "#", "/x//y",
                                    "a/b/c/d/e", "$SYS/#", "a/b/z"};
    size_t nf = sizeof(filters) / sizeof(filters[0]);
    for (size_t i = 0; i < nf; i++) {
        assert_int_equal(sub(f, filters[i], &a, (uint32_t)i), 0);
        assert_int_equal(sub(f, filters[i], &b, (uint32_t)i), 0);
    }
    assert_int_equal(f->t.subs, 2 * nf);

    /* Not subscribed: prefixes, other subscribers, unknown filters. */
    uint64_t used1 = f->mem.used;
    int c;
    assert_int_equal(unsub(f, "a/b/c/d", &a), MQ_ENOTFOUND);
    assert_int_equal(unsub(f, "a", &a), MQ_ENOTFOUND);
    assert_int_equal(unsub(f, "a/b", &c), MQ_ENOTFOUND);
    assert_int_equal(unsub(f, "q", &a), MQ_ENOTFOUND);
    assert_int_equal(f->mem.used, used1);

    assert_int_equal(count_matches(f, "a/b/c"), 2 * 4 /* a/b/c a/+/c a/# # */);
    assert_int_equal(unsub(f, "a/b/c", &a), MQ_OK);
    assert_int_equal(unsub(f, "a/b/c", &a), MQ_ENOTFOUND);
    assert_int_equal(count_matches(f, "a/b/c"), 7);
    /* "a/b/c" still has b, and a child "d": nothing pruned yet. */
    assert_int_equal(count_matches(f, "a/b/c/d/e"), 2 * 3);

    for (size_t i = 0; i < nf; i++) {
        if (i != 0)
            assert_int_equal(unsub(f, filters[i], &a), MQ_OK);
        assert_int_equal(unsub(f, filters[i], &b), MQ_OK);
    }
    assert_int_equal(f->t.subs, 0);
    assert_int_equal(f->t.nodes, nodes0);
    assert_int_equal(f->mem.used, used0);
    assert_int_equal(count_matches(f, "a/b/c"), 0);
    fx_free(f);
}

static void test_node_limit_leaves_tree_unchanged(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 4);
    int a;
    assert_int_equal(sub(f, "a/b/c", &a, 1), 0);
    assert_int_equal(f->t.nodes, 3);
    uint64_t used = f->mem.used;
    assert_int_equal(sub(f, "a/x/y", &a, 2), MQ_ELIMIT); /* needs 2 more */
    assert_int_equal(sub(f, "+/#", &a, 2), MQ_ELIMIT);
    assert_int_equal(f->t.nodes, 3);
    assert_int_equal(f->t.subs, 1);
    assert_int_equal(f->mem.used, used);
    assert_int_equal(count_matches(f, "a/x/y"), 0);
    /* Existing nodes need no new ones; one more fits exactly. */
    assert_int_equal(sub(f, "a/b", &a, 3), 0);
    assert_int_equal(sub(f, "a/b/+", &a, 4), 0);
    assert_int_equal(f->t.nodes, 4);
    assert_int_equal(sub(f, "a/#", &a, 5), MQ_ELIMIT);
    assert_int_equal(unsub(f, "a/b/+", &a), MQ_OK);
    assert_int_equal(sub(f, "a/#", &a, 5), 0);
    assert_int_equal(count_matches(f, "a/b/c"), 2);
    fx_free(f);
}

/* Every allocation of a subscribe fails in turn: each failure must leave
 * the tree exactly as it was (memory, counters, matches). */
static void test_memory_failure_leaves_tree_unchanged(void **state)
{
    (void)state;
    static const char *adds[] = {"a/b/c/d", "a/e", "a/f", "a/g", "a/h", "a/i", "+/+/#",
                                 "a/b/c/d"};
    int who[8];
    fixture_t *f = fx_new(0, 0);
    assert_int_equal(sub(f, "a/b", &who[0], 99), 0);
    for (size_t i = 0; i < 8; i++) {
        /* Several subscribers on the last filter grow its subscription table. */
        void *w = i == 7 ? (void *)&who[1] : (void *)&who[0];
        for (long k = 0;; k++) {
            uint64_t used = f->mem.used;
            uint32_t nodes = f->t.nodes;
            uint64_t subs = f->t.subs;
            size_t before = count_matches(f, "a/b/c/d");
            f->fa.allocs_left = k;
            int r = sub(f, adds[i], w, (uint32_t)i);
            f->fa.allocs_left = -1;
            if (r == 0)
                break;
            assert_int_equal(r, MQ_ENOMEM);
            assert_int_equal(f->mem.used, used);
            assert_int_equal(f->t.nodes, nodes);
            assert_int_equal(f->t.subs, subs);
            assert_int_equal(count_matches(f, "a/b/c/d"), before);
            assert_true(k < 50);
        }
    }
    assert_int_equal(count_matches(f, "a/b/c/d"), 3);
    assert_int_equal(count_matches(f, "a/e"), 2); /* a/e and +/+/# (parent level) */

    /* The byte limit of mq_mem_t gives the same result. */
    fixture_t *g = fx_new(0, 0);
    mq_topic_tree_destroy(&g->t);
    g->mem.limit = 1; /* not even the root fits */
    assert_int_equal(mq_topic_tree_init(&g->t, &g->mem, 0), MQ_ENOMEM);
    mq_topic_tree_destroy(&g->t); /* safe after a failed init */
    g->mem.limit = 0;
    assert_int_equal(mq_topic_tree_init(&g->t, &g->mem, 0), MQ_OK);
    uint64_t gused = g->mem.used;
    g->mem.limit = g->mem.used + 200;
    int r = sub(g, "a/very/long/filter/with/many/levels", &who[0], 1);
    assert_int_equal(r, MQ_ENOMEM);
    assert_int_equal(g->mem.used, gused);
    assert_int_equal(g->t.nodes, 0);
    assert_int_equal(g->t.subs, 0);
    g->mem.limit = 0;
    fx_free(g);
    fx_free(f);
}

static char *repeat_levels(const char *level, size_t n, const char *last)
{
    size_t ll = strlen(level), tl = last ? strlen(last) : 0;
    char *s = malloc(n * (ll + 1) + tl + 1);
    assert_non_null(s);
    char *p = s;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, level, ll);
        p += ll;
        if (i + 1 < n || last)
            *p++ = '/';
    }
    if (last) {
        memcpy(p, last, tl);
        p += tl;
    }
    *p = 0;
    return s;
}

static void test_deep_topics(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    int a, b, c;
    char *deep = repeat_levels("lv", 10000, NULL);
    char *deep_plus = repeat_levels("lv", 9999, "+");
    char *deep_hash = repeat_levels("lv", 5000, "#");
    char *plus_deep = repeat_levels("+", 200, NULL);
    char *topic200 = repeat_levels("lv", 200, NULL);
    assert_int_equal(sub(f, deep, &a, 1), 0);
    assert_int_equal(sub(f, deep_plus, &b, 2), 0);
    assert_int_equal(sub(f, deep_hash, &c, 3), 0);
    assert_int_equal(sub(f, plus_deep, &c, 4), 0);
    assert_int_equal(sub(f, topic200, &c, 5), 0);
    assert_int_equal(count_matches(f, deep), 3);
    assert_int_equal(count_matches(f, topic200), 2); /* +/+/... and itself */
    deep[strlen(deep) - 1] = 'X';
    assert_int_equal(count_matches(f, deep), 2);

    /* The longest filter: 65535 bytes of '/' is 32768 empty levels. */
    char *slashes = malloc(65536);
    assert_non_null(slashes);
    memset(slashes, '/', 65535);
    slashes[65535] = 0;
    assert_int_equal(sub(f, slashes, &a, 6), 0);
    assert_int_equal(count_matches(f, slashes), 1);
    slashes[65534] = 0;
    assert_int_equal(count_matches(f, slashes), 0);
    slashes[65534] = '#';
    assert_int_equal(sub(f, slashes, &b, 7), 0);
    slashes[65534] = '/';
    assert_int_equal(count_matches(f, slashes), 2);
    slashes[65534] = 0;
    assert_int_equal(count_matches(f, slashes), 1); /* # matches its parent */
    free(slashes);

    free(deep);
    free(deep_plus);
    free(deep_hash);
    free(plus_deep);
    free(topic200);
    /* Destroy with 10,000- and 32,768-level branches still in place. */
    fx_free(f);
}

static void test_many_subscriptions_one_client(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    int a;
    char buf[64];
    const uint32_t n = 100000;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "dev/%u/temp", i);
        assert_int_equal(sub(f, buf, &a, i + 1), 0);
    }
    assert_int_equal(f->t.subs, n);
    assert_int_equal(f->t.nodes, 1 + 2 * n);
    /* Memory proportional to the size: well under 256 bytes a subscription. */
    assert_true(f->mem.used < (uint64_t)n * 256);
    for (uint32_t i = 0; i < n; i += 997) {
        snprintf(buf, sizeof(buf), "dev/%u/temp", i);
        hits_t h = {0};
        mq_topic_match(&f->t, (const uint8_t *)buf, strlen(buf), on_hit, &h);
        assert_int_equal(h.n, 1);
        assert_int_equal(h.opts[0].sub_id, i + 1);
        hits_free(&h);
    }
    assert_int_equal(count_matches(f, "dev/100000/temp"), 0);
    /* Unsubscribe in an order unlike insertion: the child table shrinks. */
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (uint32_t)(((uint64_t)k * 7919) % n);
        snprintf(buf, sizeof(buf), "dev/%u/temp", i);
        assert_int_equal(unsub(f, buf, &a), MQ_OK);
        if (k % 9973 == 0) {
            uint32_t j = (uint32_t)(((uint64_t)(k + 1) * 7919) % n);
            snprintf(buf, sizeof(buf), "dev/%u/temp", j);
            assert_int_equal(count_matches(f, buf), 1);
        }
    }
    assert_int_equal(f->t.nodes, 0);
    fx_free(f);
}

static void test_many_subscribers_one_filter(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    const size_t n = 20000;
    char *who = malloc(n);
    assert_non_null(who);
    uint64_t used0 = f->mem.used;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sub(f, "x/y", &who[i], (uint32_t)i), 0);
    for (size_t i = 0; i < n; i += 101)
        assert_int_equal(sub(f, "x/y", &who[i], (uint32_t)i + 1), 1);
    assert_int_equal(f->t.subs, n);
    hits_t h = {0};
    mq_topic_match(&f->t, (const uint8_t *)"x/y", 3, on_hit, &h);
    assert_int_equal(h.n, n);
    char *seen = calloc(n, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < h.n; i++) {
        size_t idx = (size_t)((char *)h.who[i] - who);
        assert_true(idx < n);
        assert_int_equal(seen[idx], 0);
        seen[idx] = 1;
        assert_int_equal(h.opts[i].sub_id, idx + (idx % 101 == 0));
    }
    hits_free(&h);
    free(seen);
    for (size_t i = 0; i < n; i += 2)
        assert_int_equal(unsub(f, "x/y", &who[i]), MQ_OK);
    assert_int_equal(count_matches(f, "x/y"), n / 2);
    for (size_t i = 0; i < n; i += 2)
        assert_int_equal(unsub(f, "x/y", &who[i]), MQ_ENOTFOUND);
    for (size_t i = 1; i < n; i += 2)
        assert_int_equal(unsub(f, "x/y", &who[i]), MQ_OK);
    assert_int_equal(f->t.subs, 0);
    assert_int_equal(f->mem.used, used0);
    free(who);
    fx_free(f);
}

/* Child tables grow and shrink under mixed adds and removals; every
 * surviving filter must still be found after each step. */
static void test_child_table_churn(void **state)
{
    (void)state;
    fixture_t *f = fx_new(0, 0);
    enum { N = 3000 };
    static unsigned char live[N];
    memset(live, 0, sizeof(live));
    int a;
    char buf[32];
    uint32_t x = 12345;
    for (int round = 0; round < 20000; round++) {
        x = x * 1103515245u + 12345u;
        uint32_t i = (x >> 8) % N;
        snprintf(buf, sizeof(buf), "k%u", i);
        if (live[i]) {
            assert_int_equal(unsub(f, buf, &a), MQ_OK);
            live[i] = 0;
        } else {
            assert_int_equal(sub(f, buf, &a, i), 0);
            live[i] = 1;
        }
        if (round % 1000 == 999) {
            for (uint32_t j = 0; j < N; j++) {
                snprintf(buf, sizeof(buf), "k%u", j);
                assert_int_equal(count_matches(f, buf), live[j]);
            }
        }
    }
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_MQTT_4_7_1_2_multi_level_wildcard),
        cmocka_unit_test(test_MQTT_4_7_1_3_single_level_wildcard),
        cmocka_unit_test(test_MQTT_4_7_2_1_dollar_topics),
        cmocka_unit_test(test_MQTT_4_7_3_topic_semantics),
        cmocka_unit_test(test_empty_levels),
        cmocka_unit_test(test_overlapping_filters_reported_once_per_filter),
        cmocka_unit_test(test_MQTT_3_8_4_3_resubscribe_replaces_options),
        cmocka_unit_test(test_unsubscribe_prunes_and_returns_memory),
        cmocka_unit_test(test_node_limit_leaves_tree_unchanged),
        cmocka_unit_test(test_memory_failure_leaves_tree_unchanged),
        cmocka_unit_test(test_deep_topics),
        cmocka_unit_test(test_many_subscriptions_one_client),
        cmocka_unit_test(test_many_subscribers_one_filter),
        cmocka_unit_test(test_child_table_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

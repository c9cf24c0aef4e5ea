/* Unit tests of shared subscription groups (src/broker/share.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/share.h"
#include "musqratt/error.h"

static void *t_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void t_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    (void)n;
    free(p);
}

static mq_mem_t g_mem;
static mq_session_t g_s[4];
static bool g_up[4];

static bool online(const mq_session_t *s)
{
    return g_up[s - g_s];
}

static mq_share_t *group_of(mq_share_set_t *set, int members)
{
    static const mq_allocator_t a = {t_alloc, t_free, NULL};
    mq_mem_init(&g_mem, &a, 0);
    mq_share_set_init(set, &g_mem);
    mq_share_t *g = mq_share_create(set, (const uint8_t *)"g", 1, (const uint8_t *)"a/#", 3);
    assert_non_null(g);
    assert_int_equal(g->kind, MQ_SUBSCRIBER_SHARE);
    for (int i = 0; i < members; i++) {
        mq_sub_opts_t o = {.qos = 1, .flags = 0, .sub_id = 0};
        assert_int_equal(mq_share_join(set, g, &g_s[i], &o), 0);
        g_up[i] = true;
    }
    return g;
}

static void test_round_robin_in_turn(void **state)
{
    (void)state;
    mq_share_set_t set;
    mq_share_t *g = group_of(&set, 3);
    for (int round = 0; round < 6; round++)
        assert_ptr_equal(mq_share_pick(g, online, NULL)->s, &g_s[round % 3]);
    mq_share_set_destroy(&set);
    assert_int_equal(g_mem.used, 0);
    mq_mem_trim(&g_mem);
}

static void test_round_robin_skips_offline_members(void **state)
{
    (void)state;
    mq_share_set_t set;
    mq_share_t *g = group_of(&set, 3);
    g_up[1] = false;
    for (int round = 0; round < 4; round++) {
        mq_share_member_t *m = mq_share_pick(g, online, NULL);
        assert_ptr_not_equal(m->s, &g_s[1]);
    }
    /* Nobody online: still a member (an offline persistent session queues). */
    g_up[0] = g_up[2] = false;
    assert_non_null(mq_share_pick(g, online, NULL));
    mq_share_set_destroy(&set);
    mq_mem_trim(&g_mem);
}

static void test_random_picks_online_members_only(void **state)
{
    (void)state;
    mq_share_set_t set;
    mq_share_t *g = group_of(&set, 4);
    g_up[0] = g_up[2] = false;
    int seen[4] = {0};
    for (uint32_t r = 0; r < 100; r++) {
        mq_share_member_t *m = mq_share_pick(g, online, &r);
        seen[m->s - g_s]++;
    }
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[2], 0);
    assert_int_equal(seen[1], 50);
    assert_int_equal(seen[3], 50);
    mq_share_set_destroy(&set);
    mq_mem_trim(&g_mem);
}

static void test_join_twice_replaces_and_leave(void **state)
{
    (void)state;
    mq_share_set_t set;
    mq_share_t *g = group_of(&set, 2);
    mq_sub_opts_t o = {.qos = 2, .flags = 0, .sub_id = 7};
    assert_int_equal(mq_share_join(&set, g, &g_s[0], &o), 1);
    assert_int_equal(g->n, 2);
    assert_true(mq_share_leave(g, &g_s[0]));
    assert_false(mq_share_leave(g, &g_s[0]));
    assert_int_equal(g->n, 1);
    assert_ptr_equal(mq_share_find(&set, (const uint8_t *)"g", 1, (const uint8_t *)"a/#", 3), g);
    assert_null(mq_share_find(&set, (const uint8_t *)"g", 1, (const uint8_t *)"a/+", 3));
    mq_share_set_destroy(&set);
    assert_int_equal(g_mem.used, 0);
    mq_mem_trim(&g_mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin_in_turn),
        cmocka_unit_test(test_round_robin_skips_offline_members),
        cmocka_unit_test(test_random_picks_online_members_only),
        cmocka_unit_test(test_join_twice_replaces_and_leave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

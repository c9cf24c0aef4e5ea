/* Unit tests of the core's allocator (src/broker/mem.c): accounting, the
 * hard limit, size classes with bounded free lists, and pools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/mem.h"

static size_t g_live;   /* bytes held from the platform allocator */
static size_t g_calls;  /* platform alloc calls */

static void *t_alloc(void *ctx, size_t n)
{
    (void)ctx;
    g_live += n;
    g_calls++;
    return malloc(n);
}

static void t_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (p)
        g_live -= n;
    free(p);
}

static const mq_allocator_t g_a = {t_alloc, t_free, NULL};

static void test_small_sizes_round_to_16_byte_classes(void **state)
{
    (void)state;
    mq_mem_t m;
    g_live = 0;
    mq_mem_init(&m, &g_a, 0);
    void *p = mq_mem_alloc(&m, 20);
    assert_int_equal(m.used, 32);
    void *q = mq_mem_alloc(&m, 512);
    assert_int_equal(m.used, 32 + 512);
    void *r = mq_mem_alloc(&m, 513); /* above the classes: exact */
    assert_int_equal(m.used, 32 + 512 + 513);
    mq_mem_free(&m, p, 20);
    mq_mem_free(&m, q, 512);
    mq_mem_free(&m, r, 513);
    assert_int_equal(m.used, 0);
    assert_int_equal(m.peak, 32 + 512 + 513);
    assert_int_equal(g_live, 32 + 512); /* the two small ones are cached */
    mq_mem_trim(&m);
    assert_int_equal(g_live, 0);
}

static void test_freed_objects_are_reused(void **state)
{
    (void)state;
    mq_mem_t m;
    g_live = 0;
    mq_mem_init(&m, &g_a, 0);
    void *p = mq_mem_alloc(&m, 100);
    mq_mem_free(&m, p, 100);
    size_t calls = g_calls;
    void *q = mq_mem_alloc(&m, 97); /* same 112-byte class */
    assert_ptr_equal(p, q);
    assert_int_equal(g_calls, calls);
    mq_mem_free(&m, q, 97);
    mq_mem_trim(&m);
    assert_int_equal(g_live, 0);
}

static void test_cache_is_bounded(void **state)
{
    (void)state;
    mq_mem_t m;
    g_live = 0;
    mq_mem_init(&m, &g_a, 0);
    enum { N = MQ_MEM_CLASS_CACHE + 100 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = mq_mem_alloc(&m, 64);
    for (int i = 0; i < N; i++)
        mq_mem_free(&m, p[i], 64);
    /* Only MQ_MEM_CLASS_CACHE objects stay; the rest went back. */
    assert_int_equal(g_live, (size_t)MQ_MEM_CLASS_CACHE * 64);
    mq_mem_trim(&m);
    assert_int_equal(g_live, 0);
}

static void test_limit_counts_rounded_sizes(void **state)
{
    (void)state;
    mq_mem_t m;
    g_live = 0;
    mq_mem_init(&m, &g_a, 100);
    void *p = mq_mem_alloc(&m, 40); /* 48 */
    assert_non_null(p);
    assert_null(mq_mem_alloc(&m, 60)); /* 64: 48 + 64 > 100 */
    void *q = mq_mem_alloc(&m, 48);
    assert_non_null(q);
    assert_int_equal(m.used, 96);
    mq_mem_free(&m, p, 40);
    mq_mem_free(&m, q, 48);
    mq_mem_trim(&m);
    assert_int_equal(g_live, 0);
}

static void test_pool_limit_and_reuse(void **state)
{
    (void)state;
    mq_mem_t m;
    g_live = 0;
    mq_mem_init(&m, &g_a, 0);
    mq_pool_t pool;
    mq_pool_init(&pool, &m, 40, 2);
    void *a = mq_pool_get(&pool);
    void *b = mq_pool_get(&pool);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(mq_pool_get(&pool)); /* the hard count limit */
    mq_pool_put(&pool, a);
    void *c = mq_pool_get(&pool);
    assert_ptr_equal(a, c);
    assert_int_equal(((uint8_t *)c)[0], 0); /* handed out zeroed */
    mq_pool_put(&pool, b);
    mq_pool_put(&pool, c);
    mq_pool_trim(&pool);
    assert_int_equal(m.used, 0);
    mq_mem_trim(&m);
    assert_int_equal(g_live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_sizes_round_to_16_byte_classes),
        cmocka_unit_test(test_freed_objects_are_reused),
        cmocka_unit_test(test_cache_is_bounded),
        cmocka_unit_test(test_limit_counts_rounded_sizes),
        cmocka_unit_test(test_pool_limit_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

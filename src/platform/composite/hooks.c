/* musqratt on Composite — platform hooks (see hooks.h). */
#include "hooks.h"

#include <stdio.h>
#include <string.h>

#include "musqratt/error.h"

#define MQ__ARENA_MIN_SHIFT 4 /* 16 bytes */

static int mq__class_of(size_t size, size_t *class_size)
{
    size_t s = (size_t)1 << MQ__ARENA_MIN_SHIFT;
    for (int c = 0; c < MQ_COS_ARENA_CLASSES; c++, s <<= 1) {
        if (size <= s) {
            *class_size = s;
            return c;
        }
    }
    return -1;
}

int mq_cos_arena_init(mq_cos_arena_t *a, void *mem, size_t size)
{
    if (!a || !mem || ((uintptr_t)mem & 15u) != 0)
        return MQ_EINVAL;
    memset(a, 0, sizeof(*a));
    a->base = mem;
    a->size = size;
    return MQ_OK;
}

void *mq_cos_arena_alloc(mq_cos_arena_t *a, size_t size)
{
    size_t cs;
    int c = size ? mq__class_of(size, &cs) : -1;
    if (c < 0) {
        a->failures++;
        return NULL;
    }
    void *p = a->free_list[c];
    if (p) {
        memcpy(&a->free_list[c], p, sizeof(void *));
    } else {
        if (cs > a->size - a->used) {
            a->failures++;
            return NULL;
        }
        p = a->base + a->used;
        a->used += cs;
    }
    a->live += cs;
    if (a->live > a->peak)
        a->peak = a->live;
    return p;
}

void mq_cos_arena_free(mq_cos_arena_t *a, void *ptr, size_t size)
{
    size_t cs;
    if (!ptr)
        return;
    int c = mq__class_of(size, &cs);
    if (c < 0)
        return; /* cannot have come from alloc */
    memcpy(ptr, &a->free_list[c], sizeof(void *));
    a->free_list[c] = ptr;
    a->live -= cs;
}

static void *mq__hook_alloc(void *ctx, size_t size)
{
    return mq_cos_arena_alloc(&((mq_cos_hooks_t *)ctx)->arena, size);
}

static void mq__hook_free(void *ctx, void *ptr, size_t size)
{
    mq_cos_arena_free(&((mq_cos_hooks_t *)ctx)->arena, ptr, size);
}

void mq_cos_puts(const mq_cos_env_t *env, const char *s)
{
    env->console(env->ctx, s, strlen(s));
}

static void mq__hook_log(void *ctx, int level, const char *msg)
{
    static const char *const names[] = {"error", "warning", "notice", "info", "debug"};
    mq_cos_hooks_t *h = ctx;
    if (level > h->log_level)
        return;
    char line[320];
    int n = snprintf(line, sizeof(line), "musqratt %s: %s\n",
                     level >= 0 && level <= MQ_LOG_DEBUG ? names[level] : "log", msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) { /* truncated: still end the line */
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    h->env->console(h->env->ctx, line, (size_t)n);
}

static void mq__hook_random(void *ctx, uint8_t *buf, size_t len)
{
    mq_cos_hooks_t *h = ctx;
    for (size_t i = 0; i < len; i++) {
        h->rng ^= h->rng >> 12;
        h->rng ^= h->rng << 25;
        h->rng ^= h->rng >> 27;
        buf[i] = (uint8_t)((h->rng * 0x2545F4914F6CDD1Dull) >> 56);
    }
}

mq_time_t mq_cos_now_ms(const mq_cos_env_t *env)
{
    return env->now_usec(env->ctx) / 1000u;
}

int mq_cos_hooks_init(mq_cos_hooks_t *h, const mq_cos_env_t *env, void *arena,
                      size_t arena_size, int log_level, mq_platform_t *out)
{
    if (!h || !env || !out)
        return MQ_EINVAL;
    int rc = mq_cos_arena_init(&h->arena, arena, arena_size);
    if (rc != MQ_OK)
        return rc;
    h->env = env;
    h->log_level = log_level;
    h->rng = (env->cycles(env->ctx) ^ env->now_usec(env->ctx)) | 1u;
    memset(out, 0, sizeof(*out));
    out->allocator = (mq_allocator_t){mq__hook_alloc, mq__hook_free, h};
    out->log = mq__hook_log;
    out->log_ctx = h;
    out->random = mq__hook_random;
    out->random_ctx = h;
    return MQ_OK;
}

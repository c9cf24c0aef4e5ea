/*
 * musqratt on Composite — the platform hooks of include/musqratt/platform.h
 * for a component with no operating system under it.
 *
 *   allocator  a fixed arena (pages the component got once from memmgr, or
 *              a static array): power-of-two size classes from 16 bytes,
 *              each with a free list; nothing is ever returned to the arena
 *              (the core already caches its hot objects in mem.c, and the
 *              arena's size is the component's hard memory bound).
 *              Composite's musl malloc would also do; the arena keeps the
 *              component's memory fixed and countable.
 *   log        one line per message on the environment's console.
 *   random     xorshift64* seeded from the time: only for generated client
 *              identifiers, which need to be distinct, not secret (Composite
 *              offers no entropy source on this path).
 *
 * Owns: nothing; the arena memory belongs to the caller and must outlive
 * every broker using these hooks.
 */
#ifndef MQ_COS_HOOKS_H
#define MQ_COS_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "musqratt/platform.h"

#define MQ_COS_ARENA_CLASSES 28 /* 16 B .. 2 GiB */

typedef struct mq_cos_arena {
    uint8_t *base;
    size_t size;
    size_t used;                        /* bytes carved from the arena */
    size_t live;                        /* bytes handed out now (class sizes) */
    size_t peak;
    uint64_t failures;                  /* allocations refused */
    void *free_list[MQ_COS_ARENA_CLASSES];
} mq_cos_arena_t;

/* mem must be 16-byte aligned. Returns MQ_OK or MQ_EINVAL. */
int mq_cos_arena_init(mq_cos_arena_t *a, void *mem, size_t size);
/* NULL when the arena cannot serve size (or size is 0). 16-byte aligned. */
void *mq_cos_arena_alloc(mq_cos_arena_t *a, size_t size);
/* size is the size given to alloc; ptr may be NULL. */
void mq_cos_arena_free(mq_cos_arena_t *a, void *ptr, size_t size);

typedef struct mq_cos_hooks {
    mq_cos_arena_t arena;
    const mq_cos_env_t *env;            /* borrowed */
    uint64_t rng;
    int log_level;                      /* lines above this level are dropped */
} mq_cos_hooks_t;

/* Fills *out (for mq_broker_new) with hooks over h. env is borrowed. */
int mq_cos_hooks_init(mq_cos_hooks_t *h, const mq_cos_env_t *env, void *arena,
                      size_t arena_size, int log_level, mq_platform_t *out);

/* The core's time: environment microseconds as mq_time_t milliseconds. */
mq_time_t mq_cos_now_ms(const mq_cos_env_t *env);

/* Writes a NUL-terminated string to the environment's console. */
void mq_cos_puts(const mq_cos_env_t *env, const char *s);

#endif

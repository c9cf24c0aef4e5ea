/*
 * mem — the core's only way to get memory.
 *
 * Wraps the platform's mq_allocator_t, counts every byte held and enforces a
 * hard limit (max_memory), so that memory is bounded by configuration and
 * never by client behaviour. mq_pool_t adds fixed-size free lists with a hard
 * count limit for the hot objects (sessions, messages, topic nodes).
 * No system calls.
 */
#ifndef MQ_BROKER_MEM_H
#define MQ_BROKER_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "musqratt/platform.h"

/* Small allocations are rounded up to a size class and kept on a bounded
 * free list when freed: the hot path (one message per PUBLISH, small queue
 * entries) then rarely reaches the platform allocator. */
#define MQ_MEM_CLASS_STEP 16    /* classes of 16, 32, 48, ... bytes (waste < 16 bytes) */
#define MQ_MEM_CLASSES 32       /* ... up to 512 bytes */
#define MQ_MEM_CLASS_CACHE 256  /* free objects kept per class (at most ~2 MiB in all) */

typedef struct mq_mem {
    mq_allocator_t a;
    uint64_t used;   /* bytes currently held by the core (cached ones excluded) */
    uint64_t peak;
    uint64_t limit;  /* 0 = unlimited */
    void *cache[MQ_MEM_CLASSES];
    uint32_t ncache[MQ_MEM_CLASSES];
    /* The message store's size ($SYS/broker/store/messages/...): kept by
     * msg.c, since every message is allocated and freed through here. */
    uint64_t msgs;
    uint64_t msg_bytes;  /* payload bytes */
} mq_mem_t;

void mq_mem_init(mq_mem_t *m, const mq_allocator_t *a, uint64_t limit);
/* NULL when the allocator fails or the limit would be exceeded. */
void *mq_mem_alloc(mq_mem_t *m, size_t size);
/* zeroed */
void *mq_mem_calloc(mq_mem_t *m, size_t size);
/* size must be the size given to mq_mem_alloc. ptr may be NULL. */
void mq_mem_free(mq_mem_t *m, void *ptr, size_t size);
/* Returns every cached free object to the platform allocator. */
void mq_mem_trim(mq_mem_t *m);
/* Copies len bytes into new memory of len+1 bytes with a NUL at the end. */
char *mq_mem_strndup(mq_mem_t *m, const void *s, size_t len);

/* A free list of objects of one size, with a hard count limit. */
typedef struct mq_pool {
    mq_mem_t *mem;
    size_t size;      /* object size */
    uint32_t limit;   /* max live objects, 0 = unlimited */
    uint32_t live;    /* objects handed out */
    uint32_t cached;  /* objects on the free list */
    uint32_t max_cached;
    void *free_list;
} mq_pool_t;

void mq_pool_init(mq_pool_t *p, mq_mem_t *mem, size_t size, uint32_t limit);
/* Zeroed object, or NULL at the limit / out of memory. */
void *mq_pool_get(mq_pool_t *p);
void mq_pool_put(mq_pool_t *p, void *obj);
/* Returns cached objects to the allocator. */
void mq_pool_trim(mq_pool_t *p);
/* Bytes of mq_mem_t's count that the cached objects hold. */
uint64_t mq_pool_cached_bytes(const mq_pool_t *p);

#endif

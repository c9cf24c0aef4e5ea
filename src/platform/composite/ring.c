/* musqratt on Composite — SPSC byte ring (see ring.h). */
#include "ring.h"

#include <string.h>

/* Loads and stores of the counters shared with the other side. */
#define MQ__LOAD(p, order) __atomic_load_n((p), (order))
#define MQ__STORE(p, v, order) __atomic_store_n((p), (v), (order))

mq_cos_ring_t *mq_cos_ring_init(void *mem, size_t size)
{
    if (!mem || ((uintptr_t)mem & 7u) != 0 || size < MQ_COS_RING_MIN)
        return NULL;
    mq_cos_ring_t *r = mem;
    size_t room = size - sizeof(mq_cos_ring_t);
    uint32_t cap = 16;
    while (cap < (1u << 30) && (size_t)cap * 2 <= room)
        cap *= 2;
    MQ__STORE(&r->head, 0, __ATOMIC_RELAXED);
    MQ__STORE(&r->tail, 0, __ATOMIC_RELAXED);
    r->cap = cap;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    return r;
}

size_t mq_cos_ring_used(const mq_cos_ring_t *r)
{
    uint32_t h = MQ__LOAD(&r->head, __ATOMIC_ACQUIRE);
    uint32_t t = MQ__LOAD(&r->tail, __ATOMIC_ACQUIRE);
    return (size_t)(uint32_t)(h - t);
}

size_t mq_cos_ring_space(const mq_cos_ring_t *r)
{
    return r->cap - mq_cos_ring_used(r);
}

size_t mq_cos_ring_write(mq_cos_ring_t *r, const void *src, size_t n)
{
    uint32_t h = MQ__LOAD(&r->head, __ATOMIC_RELAXED);
    uint32_t t = MQ__LOAD(&r->tail, __ATOMIC_ACQUIRE);
    size_t space = r->cap - (uint32_t)(h - t);
    if (n > space)
        n = space;
    if (n == 0)
        return 0;
    uint32_t at = h & (r->cap - 1);
    size_t first = r->cap - at;
    if (first > n)
        first = n;
    memcpy(r->data + at, src, first);
    memcpy(r->data, (const uint8_t *)src + first, n - first);
    /* The bytes are in place before the consumer can see the new head. */
    MQ__STORE(&r->head, h + (uint32_t)n, __ATOMIC_RELEASE);
    return n;
}

size_t mq_cos_ring_writev(mq_cos_ring_t *r, const mq_iov_t *iov, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        size_t w = mq_cos_ring_write(r, iov[i].base, iov[i].len);
        total += w;
        if (w < iov[i].len)
            break;
    }
    return total;
}

size_t mq_cos_ring_peek(const mq_cos_ring_t *r, mq_iov_t iov[2])
{
    mq_cos_ring_t *m = (mq_cos_ring_t *)r;
    uint32_t t = MQ__LOAD(&m->tail, __ATOMIC_RELAXED);
    uint32_t h = MQ__LOAD(&m->head, __ATOMIC_ACQUIRE);
    size_t n = (uint32_t)(h - t);
    if (n == 0)
        return 0;
    uint32_t at = t & (r->cap - 1);
    size_t first = r->cap - at;
    if (first >= n) {
        iov[0] = (mq_iov_t){m->data + at, n};
        return 1;
    }
    iov[0] = (mq_iov_t){m->data + at, first};
    iov[1] = (mq_iov_t){m->data, n - first};
    return 2;
}

void mq_cos_ring_consume(mq_cos_ring_t *r, size_t n)
{
    uint32_t t = MQ__LOAD(&r->tail, __ATOMIC_RELAXED);
    /* Our reads of the bytes are done before the producer may reuse them. */
    MQ__STORE(&r->tail, t + (uint32_t)n, __ATOMIC_RELEASE);
}

size_t mq_cos_ring_read(mq_cos_ring_t *r, void *dst, size_t n)
{
    mq_iov_t iov[2];
    size_t pieces = mq_cos_ring_peek(r, iov);
    size_t done = 0;
    for (size_t i = 0; i < pieces && done < n; i++) {
        size_t k = iov[i].len < n - done ? iov[i].len : n - done;
        memcpy((uint8_t *)dst + done, iov[i].base, k);
        done += k;
    }
    if (done)
        mq_cos_ring_consume(r, done);
    return done;
}

/* mem — accounting allocator and fixed-size pools. See mem.h. */
#include "mem.h"

#include <string.h>

void mq_mem_init(mq_mem_t *m, const mq_allocator_t *a, uint64_t limit)
{
    memset(m, 0, sizeof(*m));
    m->a = *a;
    m->limit = limit;
}

/* The size class of an allocation of size bytes, or -1 if it has none. */
static int size_class(size_t size)
{
    if (size > (size_t)MQ_MEM_CLASS_STEP * MQ_MEM_CLASSES)
        return -1;
    return (int)((size + MQ_MEM_CLASS_STEP - 1) / MQ_MEM_CLASS_STEP) - 1;
}

static size_t class_size(int k)
{
    return (size_t)MQ_MEM_CLASS_STEP * (size_t)(k + 1);
}

void *mq_mem_alloc(mq_mem_t *m, size_t size)
{
    if (size == 0)
        size = 1;
    int k = size_class(size);
    if (k >= 0)
        size = class_size(k);
    if (m->limit && m->used + size > m->limit)
        return NULL;
    void *p;
    if (k >= 0 && m->cache[k]) {
        p = m->cache[k];
        memcpy(&m->cache[k], p, sizeof(void *));
        m->ncache[k]--;
    } else {
        p = m->a.alloc(m->a.ctx, size);
        if (!p)
            return NULL;
    }
    m->used += size;
    if (m->used > m->peak)
        m->peak = m->used;
    return p;
}

void mq_mem_trim(mq_mem_t *m)
{
    for (int k = 0; k < MQ_MEM_CLASSES; k++) {
        while (m->cache[k]) {
            void *p = m->cache[k];
            memcpy(&m->cache[k], p, sizeof(void *));
            m->a.free(m->a.ctx, p, class_size(k));
        }
        m->ncache[k] = 0;
    }
}

void *mq_mem_calloc(mq_mem_t *m, size_t size)
{
    void *p = mq_mem_alloc(m, size);
    if (p)
        memset(p, 0, size ? size : 1);
    return p;
}

void mq_mem_free(mq_mem_t *m, void *ptr, size_t size)
{
    if (!ptr)
        return;
    if (size == 0)
        size = 1;
    int k = size_class(size);
    if (k >= 0) {
        size = class_size(k);
        m->used -= size;
        if (m->ncache[k] < MQ_MEM_CLASS_CACHE) {
            memcpy(ptr, &m->cache[k], sizeof(void *));
            m->cache[k] = ptr;
            m->ncache[k]++;
            return;
        }
    } else {
        m->used -= size;
    }
    m->a.free(m->a.ctx, ptr, size);
}

char *mq_mem_strndup(mq_mem_t *m, const void *s, size_t len)
{
    char *p = mq_mem_alloc(m, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

uint64_t mq_pool_cached_bytes(const mq_pool_t *p)
{
    int k = size_class(p->size);

    return (uint64_t)p->cached * (k >= 0 ? class_size(k) : p->size);
}

void mq_pool_init(mq_pool_t *p, mq_mem_t *mem, size_t size, uint32_t limit)
{
    memset(p, 0, sizeof(*p));
    p->mem = mem;
    p->size = size < sizeof(void *) ? sizeof(void *) : size;
    p->limit = limit;
    p->max_cached = 1024;
}

void *mq_pool_get(mq_pool_t *p)
{
    if (p->limit && p->live >= p->limit)
        return NULL;
    void *obj = p->free_list;
    if (obj) {
        memcpy(&p->free_list, obj, sizeof(void *));
        p->cached--;
    } else {
        obj = mq_mem_alloc(p->mem, p->size);
        if (!obj)
            return NULL;
    }
    memset(obj, 0, p->size);
    p->live++;
    return obj;
}

void mq_pool_put(mq_pool_t *p, void *obj)
{
    if (!obj)
        return;
    p->live--;
    /* A bounded cache: memory returns to the allocator after a burst. */
    if (p->cached >= p->max_cached) {
        mq_mem_free(p->mem, obj, p->size);
        return;
    }
    memcpy(obj, &p->free_list, sizeof(void *));
    p->free_list = obj;
    p->cached++;
}

void mq_pool_trim(mq_pool_t *p)
{
    while (p->free_list) {
        void *obj = p->free_list;
        memcpy(&p->free_list, obj, sizeof(void *));
        mq_mem_free(p->mem, obj, p->size);
    }
    p->cached = 0;
}

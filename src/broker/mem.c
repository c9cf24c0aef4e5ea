/* mem — accounting allocator and fixed-size pools. See mem.h. */
#include "mem.h"

#include <string.h>

void mq_mem_init(mq_mem_t *m, const mq_allocator_t *a, uint64_t limit)
{
    m->a = *a;
    m->used = 0;
    m->peak = 0;
    m->limit = limit;
}

void *mq_mem_alloc(mq_mem_t *m, size_t size)
{
    if (size == 0)
        size = 1;
    if (m->limit && m->used + size > m->limit)
        return NULL;
    void *p = m->a.alloc(m->a.ctx, size);
    if (!p)
        return NULL;
    m->used += size;
    if (m->used > m->peak)
        m->peak = m->used;
    return p;
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
    m->used -= size;
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

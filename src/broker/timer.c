/* timer — min-heap of deadlines. See timer.h. */
#include "timer.h"

#include "musqratt/error.h"

void mq_timer_heap_init(mq_timer_heap_t *h, mq_mem_t *mem)
{
    h->mem = mem;
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

void mq_timer_heap_destroy(mq_timer_heap_t *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        h->v[i]->slot = MQ_TIMER_NONE;
    mq_mem_free(h->mem, h->v, (size_t)h->cap * sizeof(*h->v));
    h->v = NULL;
    h->n = h->cap = 0;
}

static void place(mq_timer_heap_t *h, uint32_t i, mq_timer_t *t)
{
    h->v[i] = t;
    t->slot = i;
}

static void sift_up(mq_timer_heap_t *h, uint32_t i)
{
    mq_timer_t *t = h->v[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->v[parent]->at <= t->at)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(mq_timer_heap_t *h, uint32_t i)
{
    mq_timer_t *t = h->v[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->v[child + 1]->at < h->v[child]->at)
            child++;
        if (t->at <= h->v[child]->at)
            break;
        place(h, i, h->v[child]);
        i = child;
    }
    place(h, i, t);
}

int mq_timer_set(mq_timer_heap_t *h, mq_timer_t *t, mq_time_t at)
{
    if (t->slot != MQ_TIMER_NONE) {
        mq_time_t old = t->at;
        t->at = at;
        if (at < old)
            sift_up(h, t->slot);
        else
            sift_down(h, t->slot);
        return MQ_OK;
    }
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        mq_timer_t **v = mq_mem_alloc(h->mem, (size_t)cap * sizeof(*v));
        if (!v)
            return MQ_ENOMEM;
        for (uint32_t i = 0; i < h->n; i++)
            v[i] = h->v[i];
        mq_mem_free(h->mem, h->v, (size_t)h->cap * sizeof(*h->v));
        h->v = v;
        h->cap = cap;
    }
    t->at = at;
    place(h, h->n++, t);
    sift_up(h, t->slot);
    return MQ_OK;
}

void mq_timer_cancel(mq_timer_heap_t *h, mq_timer_t *t)
{
    if (t->slot == MQ_TIMER_NONE)
        return;
    uint32_t i = t->slot;
    t->slot = MQ_TIMER_NONE;
    h->n--;
    if (i == h->n)
        return;
    mq_timer_t *last = h->v[h->n];
    place(h, i, last);
    if (i > 0 && h->v[(i - 1) / 2]->at > last->at)
        sift_up(h, i);
    else
        sift_down(h, i);
}

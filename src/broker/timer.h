/*
 * timer — a binary min-heap of deadlines (keepalives, session expiry).
 *
 * Timers are embedded in their owners (connections, sessions); the heap only
 * stores pointers and each timer knows its slot, so add, remove and change
 * are O(log n) and allocation-free except when the heap array grows.
 * Keepalive uses it lazily: receiving a packet only updates a timestamp; the
 * timer is moved when it fires early. No system calls.
 */
#ifndef MQ_BROKER_TIMER_H
#define MQ_BROKER_TIMER_H

#include <stdint.h>

#include "mem.h"
#include "musqratt/platform.h"

#define MQ_TIMER_NONE UINT32_MAX

typedef struct mq_timer {
    mq_time_t at;
    uint32_t slot;   /* index in the heap, MQ_TIMER_NONE when not armed */
    uint8_t kind;    /* owner's tag, to find the owner */
} mq_timer_t;

typedef struct mq_timer_heap {
    mq_mem_t *mem;
    mq_timer_t **v;
    uint32_t n;
    uint32_t cap;
} mq_timer_heap_t;

void mq_timer_heap_init(mq_timer_heap_t *h, mq_mem_t *mem);
void mq_timer_heap_destroy(mq_timer_heap_t *h);
static inline void mq_timer_init(mq_timer_t *t, uint8_t kind)
{
    t->at = 0;
    t->slot = MQ_TIMER_NONE;
    t->kind = kind;
}
/* Arms or re-arms t at `at`. MQ_OK or MQ_ENOMEM. */
int mq_timer_set(mq_timer_heap_t *h, mq_timer_t *t, mq_time_t at);
void mq_timer_cancel(mq_timer_heap_t *h, mq_timer_t *t);
/* The earliest timer, or NULL. */
static inline mq_timer_t *mq_timer_peek(const mq_timer_heap_t *h) { return h->n ? h->v[0] : NULL; }

#endif

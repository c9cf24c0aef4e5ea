/* musqratt on Composite — client channels (see chan.h). */
#include "chan.h"

#include "musqratt/error.h"

static size_t mq__align_down(size_t v, size_t a)
{
    return v & ~(a - 1);
}

mq_cos_chan_t *mq_cos_chan_init(void *mem, size_t size)
{
    if (!mem || ((uintptr_t)mem & 63u) != 0 || size < MQ_COS_CHAN_MIN || size > UINT32_MAX)
        return NULL;
    mq_cos_chan_t *ch = mem;
    size_t hdr = (sizeof(mq_cos_chan_t) + 63u) & ~(size_t)63u;
    size_t half = mq__align_down((size - hdr) / 2, 64);
    ch->up_off = (uint32_t)hdr;
    ch->down_off = (uint32_t)(hdr + half);
    ch->size = (uint32_t)size;
    if (!mq_cos_ring_init((uint8_t *)mem + ch->up_off, half) ||
        !mq_cos_ring_init((uint8_t *)mem + ch->down_off, half))
        return NULL;
    __atomic_store_n(&ch->client_state, MQ_COS_IDLE, __ATOMIC_RELAXED);
    __atomic_store_n(&ch->broker_state, MQ_COS_IDLE, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    ch->magic = MQ_COS_CHAN_MAGIC;
    return ch;
}

mq_cos_chan_t *mq_cos_chan_attach(void *mem, size_t size)
{
    mq_cos_chan_t *ch = mem;
    if (!mem || size < MQ_COS_CHAN_MIN || ch->magic != MQ_COS_CHAN_MAGIC || ch->size != size)
        return NULL;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return ch;
}

mq_cos_ring_t *mq_cos_chan_up(mq_cos_chan_t *ch)
{
    return (mq_cos_ring_t *)((uint8_t *)ch + ch->up_off);
}

mq_cos_ring_t *mq_cos_chan_down(mq_cos_chan_t *ch)
{
    return (mq_cos_ring_t *)((uint8_t *)ch + ch->down_off);
}

int mq_cos_chan_client_open(mq_cos_chan_t *ch)
{
    uint32_t idle = MQ_COS_IDLE;
    if (__atomic_load_n(&ch->broker_state, __ATOMIC_ACQUIRE) != MQ_COS_IDLE)
        return MQ_ECLOSED;
    if (!__atomic_compare_exchange_n(&ch->client_state, &idle, MQ_COS_OPEN, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return MQ_ECLOSED;
    return MQ_OK;
}

void mq_cos_chan_client_close(mq_cos_chan_t *ch)
{
    /* Release: every byte written before is visible before the CLOSED. */
    __atomic_store_n(&ch->client_state, MQ_COS_CLOSED, __ATOMIC_RELEASE);
}

bool mq_cos_chan_broker_closed(const mq_cos_chan_t *ch)
{
    return __atomic_load_n(&ch->broker_state, __ATOMIC_ACQUIRE) ==
           MQ_COS_CLOSED;
}

uint32_t mq_cos_chan_client_state(const mq_cos_chan_t *ch)
{
    return __atomic_load_n(&ch->client_state, __ATOMIC_ACQUIRE);
}

void mq_cos_chan_set_broker_state(mq_cos_chan_t *ch, uint32_t state)
{
    __atomic_store_n(&ch->broker_state, state, __ATOMIC_RELEASE);
}

void mq_cos_chan_reset(mq_cos_chan_t *ch)
{
    mq_cos_ring_t *up = mq_cos_chan_up(ch), *down = mq_cos_chan_down(ch);
    mq_cos_ring_init(up, ch->down_off - ch->up_off);
    mq_cos_ring_init(down, ch->down_off - ch->up_off);
    __atomic_store_n(&ch->broker_state, MQ_COS_IDLE, __ATOMIC_RELEASE);
    __atomic_store_n(&ch->client_state, MQ_COS_IDLE, __ATOMIC_RELEASE);
}

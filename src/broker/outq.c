/* outq — a connection's pending output. See outq.h. */
#include "outq.h"

#include <string.h>

#include "musqratt/codec.h"
#include "musqratt/error.h"

void mq_outq_pools_init(mq_outq_pools_t *p, mq_mem_t *mem)
{
    p->mem = mem;
    mq_pool_init(&p->pub, mem, sizeof(mq_out_t) + MQ_OUTQ_VAR_CAP, 0);
    mq_pool_init(&p->small, mem, sizeof(mq_out_t) + MQ_OUTQ_INLINE_CAP, 0);
}

void mq_outq_pools_destroy(mq_outq_pools_t *p)
{
    mq_pool_trim(&p->pub);
    mq_pool_trim(&p->small);
}

static void chunk_free(mq_outq_pools_t *p, mq_out_t *o)
{
    if (o->msg) {
        mq_msg_unref(p->mem, o->msg);
        if (o->cap == MQ_OUTQ_VAR_CAP)
            mq_pool_put(&p->pub, o);
        else
            mq_mem_free(p->mem, o, sizeof(mq_out_t) + o->cap);
    } else if (o->cap == MQ_OUTQ_INLINE_CAP) {
        mq_pool_put(&p->small, o);
    } else {
        mq_mem_free(p->mem, o, sizeof(mq_out_t) + o->cap);
    }
}

static void link_tail(mq_outq_t *q, mq_out_t *o)
{
    o->next = NULL;
    if (q->tail)
        q->tail->next = o;
    else
        q->head = o;
    q->tail = o;
}

uint8_t *mq_outq_reserve(mq_outq_t *q, mq_outq_pools_t *p, size_t n)
{
    mq_out_t *t = q->tail;
    if (!t || t->msg || t->cap - t->len < n) {
        if (n <= MQ_OUTQ_INLINE_CAP) {
            t = mq_pool_get(&p->small);
            if (!t)
                return NULL;
            t->cap = MQ_OUTQ_INLINE_CAP;
        } else {
            if (n > UINT32_MAX - sizeof(mq_out_t))
                return NULL;
            t = mq_mem_calloc(p->mem, sizeof(mq_out_t) + n);
            if (!t)
                return NULL;
            t->cap = (uint32_t)n;
        }
        link_tail(q, t);
    }
    uint8_t *dst = t->data + t->len;
    t->len += (uint32_t)n;
    q->bytes += n;
    return dst;
}

int mq_outq_bytes(mq_outq_t *q, mq_outq_pools_t *p, const void *bytes, size_t n)
{
    uint8_t *dst = mq_outq_reserve(q, p, n);
    if (!dst)
        return MQ_ENOMEM;
    memcpy(dst, bytes, n);
    return MQ_OK;
}

/* Bytes of the per-delivery property block (without the message's own). */
static uint32_t own_props_len(const mq_pubform_t *f)
{
    uint32_t n = 0;
    if (f->has_expiry)
        n += 5;
    if (f->alias)
        n += 3;
    for (uint32_t i = 0; i < f->n_sub_ids; i++)
        n += 1u + (uint32_t)mq_codec_varint_size(f->sub_ids[i]);
    return n;
}

static uint32_t var_len_of(const mq_msg_t *msg, const mq_pubform_t *f, uint32_t *props_len)
{
    uint32_t v = f->qos ? 2u : 0u;
    *props_len = 0;
    if (f->v5) {
        *props_len = own_props_len(f) + msg->props_len;
        v += (uint32_t)mq_codec_varint_size(*props_len) + own_props_len(f);
    }
    return v;
}

static uint32_t remaining_of(const mq_msg_t *msg, const mq_pubform_t *f, uint32_t var_len)
{
    return 2u + (f->omit_topic ? 0u : msg->topic_len) + var_len +
           (f->v5 ? msg->props_len : 0u) + msg->payload_len;
}

size_t mq_outq_publish_size(const mq_msg_t *msg, const mq_pubform_t *f)
{
    uint32_t props_len;
    uint32_t rem = remaining_of(msg, f, var_len_of(msg, f, &props_len));
    return 1u + (size_t)mq_codec_varint_size(rem) + rem;
}

int mq_outq_publish(mq_outq_t *q, mq_outq_pools_t *p, mq_msg_t *msg, const mq_pubform_t *f)
{
    uint32_t props_len;
    uint32_t var_len = var_len_of(msg, f, &props_len);
    mq_out_t *o;
    if (var_len <= MQ_OUTQ_VAR_CAP) {
        o = mq_pool_get(&p->pub);
        if (!o)
            return MQ_ENOMEM;
        o->cap = MQ_OUTQ_VAR_CAP;
    } else {
        o = mq_mem_calloc(p->mem, sizeof(mq_out_t) + var_len);
        if (!o)
            return MQ_ENOMEM;
        o->cap = var_len;
    }
    uint32_t remaining = remaining_of(msg, f, var_len);
    o->hdr[0] = (uint8_t)((MQ_PKT_PUBLISH << 4) | (f->dup ? 0x08 : 0) | (f->qos << 1) |
                          (f->retain ? 1 : 0));
    o->hdr_len = (uint8_t)(1 + mq_codec_varint_write(o->hdr + 1, remaining));
    o->omit_topic = f->omit_topic;
    o->with_props = f->v5 && msg->props_len;
    uint8_t *v = o->data;
    if (f->qos) {
        *v++ = (uint8_t)(f->pid >> 8);
        *v++ = (uint8_t)(f->pid & 0xff);
    }
    if (f->v5) {
        v += mq_codec_varint_write(v, props_len);
        if (f->has_expiry) {
            *v++ = MQ_PROP_MESSAGE_EXPIRY;
            *v++ = (uint8_t)(f->expiry >> 24);
            *v++ = (uint8_t)(f->expiry >> 16);
            *v++ = (uint8_t)(f->expiry >> 8);
            *v++ = (uint8_t)f->expiry;
        }
        if (f->alias) {
            *v++ = MQ_PROP_TOPIC_ALIAS;
            *v++ = (uint8_t)(f->alias >> 8);
            *v++ = (uint8_t)f->alias;
        }
        for (uint32_t i = 0; i < f->n_sub_ids; i++) {
            *v++ = MQ_PROP_SUBSCRIPTION_ID;
            v += mq_codec_varint_write(v, f->sub_ids[i]);
        }
    }
    o->var_len = (uint32_t)(v - o->data);
    o->len = o->hdr_len + remaining;
    o->msg = mq_msg_ref(msg);
    link_tail(q, o);
    q->bytes += o->len;
    q->msgs++;
    return MQ_OK;
}

/* Adds the part of segment [base, base+len) that lies past *skip. */
static size_t add_seg(mq_iov_t *iov, size_t n, size_t max, const uint8_t *base, size_t len,
                      size_t *skip)
{
    if (*skip >= len) {
        *skip -= len;
        return n;
    }
    if (n < max) {
        iov[n].base = (void *)(uintptr_t)(base + *skip);
        iov[n].len = len - *skip;
        n++;
    }
    *skip = 0;
    return n;
}

size_t mq_outq_iov(const mq_outq_t *q, mq_iov_t *iov, size_t max)
{
    size_t n = 0;
    for (const mq_out_t *o = q->head; o && n < max; o = o->next) {
        size_t skip = o->off;
        if (!o->msg) {
            n = add_seg(iov, n, max, o->data, o->len, &skip);
            continue;
        }
        /* A PUBLISH needs up to 5 segments; do not split it across calls
         * unless it is the first chunk (which must make progress). */
        if (n && max - n < 5)
            break;
        static const uint8_t empty_topic[2] = {0, 0};
        const mq_msg_t *m = o->msg;
        n = add_seg(iov, n, max, o->hdr, o->hdr_len, &skip);
        if (!o->var_len && !o->with_props && !o->omit_topic) {
            /* QoS 0 in 3.x: topic and payload are contiguous in the message. */
            n = add_seg(iov, n, max, m->data, 2u + m->topic_len + m->payload_len, &skip);
            continue;
        }
        if (o->omit_topic)
            n = add_seg(iov, n, max, empty_topic, 2, &skip);
        else
            n = add_seg(iov, n, max, m->data, 2u + m->topic_len, &skip);
        n = add_seg(iov, n, max, o->data, o->var_len, &skip);
        if (o->with_props)
            n = add_seg(iov, n, max, mq_msg_props(m), m->props_len, &skip);
        n = add_seg(iov, n, max, mq_msg_payload(m), m->payload_len, &skip);
    }
    return n;
}

void mq_outq_consume(mq_outq_t *q, mq_outq_pools_t *p, size_t n)
{
    if (n > q->bytes)
        n = q->bytes;
    q->bytes -= n;
    while (n && q->head) {
        mq_out_t *o = q->head;
        size_t left = o->len - o->off;
        if (n < left) {
            o->off += (uint32_t)n;
            return;
        }
        n -= left;
        q->head = o->next;
        if (!q->head)
            q->tail = NULL;
        if (o->msg)
            q->msgs--;
        chunk_free(p, o);
    }
}

void mq_outq_clear(mq_outq_t *q, mq_outq_pools_t *p)
{
    mq_out_t *o = q->head;
    while (o) {
        mq_out_t *next = o->next;
        chunk_free(p, o);
        o = next;
    }
    mq_outq_init(q);
}

/* session — MQTT session state and the session store. See session.h. */
#include "session.h"

#include <string.h>

#include "musqratt/error.h"

#define IN_ARRAY_MAX 32
#define IN_BITMAP_BYTES (65536 / 8)

static uint32_t hash_id(const char *id, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)id[i];
        h *= 16777619u;
    }
    return h;
}

int mq_session_store_init(mq_session_store_t *st, mq_mem_t *mem, uint32_t max_sessions)
{
    st->mem = mem;
    mq_pool_init(&st->pool, mem, sizeof(mq_session_t), max_sessions);
    st->nbuckets = 64;
    st->count = 0;
    st->buckets = mq_mem_calloc(mem, st->nbuckets * sizeof(*st->buckets));
    return st->buckets ? MQ_OK : MQ_ENOMEM;
}

void mq_session_store_destroy(mq_session_store_t *st)
{
    for (uint32_t i = 0; i < st->nbuckets; i++) {
        while (st->buckets[i])
            mq_session_free(st, st->buckets[i]);
    }
    mq_mem_free(st->mem, st->buckets, st->nbuckets * sizeof(*st->buckets));
    st->buckets = NULL;
    mq_pool_trim(&st->pool);
}

mq_session_t *mq_session_find(const mq_session_store_t *st, const char *id, size_t len)
{
    uint32_t h = hash_id(id, len);
    for (mq_session_t *s = st->buckets[h & (st->nbuckets - 1)]; s; s = s->hnext) {
        if (s->hash == h && s->id_len == len && memcmp(s->client_id, id, len) == 0)
            return s;
    }
    return NULL;
}

static void grow(mq_session_store_t *st)
{
    uint32_t n = st->nbuckets * 2;
    mq_session_t **b = mq_mem_calloc(st->mem, n * sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (uint32_t i = 0; i < st->nbuckets; i++) {
        mq_session_t *s = st->buckets[i];
        while (s) {
            mq_session_t *next = s->hnext;
            s->hnext = b[s->hash & (n - 1)];
            b[s->hash & (n - 1)] = s;
            s = next;
        }
    }
    mq_mem_free(st->mem, st->buckets, st->nbuckets * sizeof(*st->buckets));
    st->buckets = b;
    st->nbuckets = n;
}

mq_session_t *mq_session_create(mq_session_store_t *st, const char *id, size_t len)
{
    if (len > UINT16_MAX)
        return NULL;
    mq_session_t *s = mq_pool_get(&st->pool);
    if (!s)
        return NULL;
    s->client_id = mq_mem_strndup(st->mem, id, len);
    if (!s->client_id) {
        mq_pool_put(&st->pool, s);
        return NULL;
    }
    s->kind = MQ_SUBSCRIBER_SESSION;
    s->id_len = (uint16_t)len;
    s->hash = hash_id(id, len);
    s->expiry_interval = 0;
    s->next_pid = 1;
    mq_timer_init(&s->expiry, 0);
    mq_timer_init(&s->will_timer, 0);
    if (st->count >= st->nbuckets)
        grow(st);
    mq_session_t **head = &st->buckets[s->hash & (st->nbuckets - 1)];
    s->hnext = *head;
    *head = s;
    st->count++;
    return s;
}

void mq_session_free(mq_session_store_t *st, mq_session_t *s)
{
    mq_session_t **pp = &st->buckets[s->hash & (st->nbuckets - 1)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    st->count--;

    while (s->subs)
        mq_session_sub_remove(st, s, s->subs);
    while (s->inf_head)
        mq_session_inflight_remove(st, s, s->inf_head);
    mq_queued_t q;
    while (mq_session_queue_pop(st, s, &q))
        mq_msg_unref(st->mem, q.msg);
    mq_msg_unref(st->mem, s->will);
    mq_mem_free(st->mem, s->in_pids, s->in_cap * sizeof(uint16_t));
    mq_mem_free(st->mem, s->in_bitmap, IN_BITMAP_BYTES);
    mq_mem_free(st->mem, s->client_id, (size_t)s->id_len + 1);
    mq_pool_put(&st->pool, s);
}

/* ---- subscriptions --------------------------------------------------- */

static uint32_t hash_filter(const uint8_t *f, size_t len)
{
    return hash_id((const char *)f, len);
}

mq_subrec_t *mq_session_sub_find(mq_session_t *s, const uint8_t *filter, size_t len)
{
    if (!s->sub_nbuckets)
        return NULL;
    uint32_t h = hash_filter(filter, len);
    for (mq_subrec_t *r = s->sub_buckets[h & (s->sub_nbuckets - 1)]; r; r = r->hnext) {
        if (r->hash == h && r->len == len && memcmp(r->filter, filter, len) == 0)
            return r;
    }
    return NULL;
}

/* Grows the filter hash to at least one bucket per subscription. A failed
 * grow keeps the old table (longer chains, still correct). */
static int sub_rehash(mq_session_store_t *st, mq_session_t *s)
{
    uint32_t n = s->sub_nbuckets ? s->sub_nbuckets * 2 : 4;
    mq_subrec_t **b = mq_mem_calloc(st->mem, n * sizeof(*b));
    if (!b)
        return s->sub_nbuckets ? MQ_OK : MQ_ENOMEM;
    for (mq_subrec_t *r = s->subs; r; r = r->next) {
        r->hnext = b[r->hash & (n - 1)];
        b[r->hash & (n - 1)] = r;
    }
    mq_mem_free(st->mem, s->sub_buckets, s->sub_nbuckets * sizeof(*b));
    s->sub_buckets = b;
    s->sub_nbuckets = n;
    return MQ_OK;
}

mq_subrec_t *mq_session_sub_add(mq_session_store_t *st, mq_session_t *s, const uint8_t *filter,
                                size_t len, uint8_t qos)
{
    if (s->nsubs >= s->sub_nbuckets && sub_rehash(st, s) != MQ_OK)
        return NULL;
    mq_subrec_t *r = mq_mem_alloc(st->mem, sizeof(*r) + len + 1);
    if (!r)
        return NULL;
    r->share = NULL;
    r->len = (uint16_t)len;
    r->qos = qos;
    memcpy(r->filter, filter, len);
    r->filter[len] = '\0';
    r->hash = hash_filter(filter, len);
    r->hnext = s->sub_buckets[r->hash & (s->sub_nbuckets - 1)];
    s->sub_buckets[r->hash & (s->sub_nbuckets - 1)] = r;
    r->prev = NULL;
    r->next = s->subs;
    if (s->subs)
        s->subs->prev = r;
    s->subs = r;
    s->nsubs++;
    return r;
}

void mq_session_sub_remove(mq_session_store_t *st, mq_session_t *s, mq_subrec_t *r)
{
    mq_subrec_t **pp = &s->sub_buckets[r->hash & (s->sub_nbuckets - 1)];
    while (*pp != r)
        pp = &(*pp)->hnext;
    *pp = r->hnext;
    if (r->prev)
        r->prev->next = r->next;
    else
        s->subs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    s->nsubs--;
    mq_mem_free(st->mem, r, sizeof(*r) + r->len + 1);
    if (s->nsubs == 0) {
        mq_mem_free(st->mem, s->sub_buckets, s->sub_nbuckets * sizeof(*s->sub_buckets));
        s->sub_buckets = NULL;
        s->sub_nbuckets = 0;
    }
}

/* ---- inflight ---------------------------------------------------------- */

mq_inflight_t *mq_session_inflight_find(mq_session_t *s, uint16_t pid)
{
    /* Acks mostly come in order: the match is usually the head. */
    for (mq_inflight_t *f = s->inf_head; f; f = f->next) {
        if (f->pid == pid)
            return f;
    }
    return NULL;
}

uint16_t mq_session_next_pid(mq_session_t *s)
{
    /* Bounded: at most max_inflight (< 65535) ids are in use. */
    for (;;) {
        uint16_t pid = s->next_pid++;
        if (s->next_pid == 0)
            s->next_pid = 1;
        if (pid != 0 && !mq_session_inflight_find(s, pid))
            return pid;
    }
}

/* ---- held bytes (max_queued_memory) -------------------------------------- */

static void hold(mq_session_store_t *st, mq_msg_t *msg, size_t entry)
{
    st->held += entry;
    if (msg->held_refs++ == 0)
        st->held += msg->size;
}

static void release_msg(mq_session_store_t *st, mq_msg_t *msg)
{
    if (msg && --msg->held_refs == 0)
        st->held -= msg->size;
}

uint64_t mq_session_hold_cost(const mq_msg_t *msg, bool inflight)
{
    return (inflight ? sizeof(mq_inflight_t) : sizeof(mq_queued_t)) +
           (msg->held_refs ? 0u : msg->size);
}

void mq_session_inflight_release_msg(mq_session_store_t *st, mq_inflight_t *f)
{
    release_msg(st, f->msg);
    mq_msg_unref(st->mem, f->msg);
    f->msg = NULL;
}

mq_inflight_t *mq_session_inflight_add(mq_session_store_t *st, mq_session_t *s, mq_msg_t *msg,
                                       uint16_t pid, uint8_t qos, bool retain,
                                       const mq_ids_t *ids)
{
    mq_inflight_t *f = mq_mem_alloc(st->mem, sizeof(*f));
    if (!f)
        return NULL;
    f->msg = mq_msg_ref(msg);
    hold(st, msg, sizeof(*f));
    f->pid = pid;
    f->qos = qos;
    f->state = qos == 1 ? MQ_WAIT_PUBACK : MQ_WAIT_PUBREC;
    f->retain = retain;
    f->ids = *ids;
    f->next = NULL;
    f->prev = s->inf_tail;
    if (s->inf_tail)
        s->inf_tail->next = f;
    else
        s->inf_head = f;
    s->inf_tail = f;
    s->ninflight++;
    return f;
}

void mq_session_inflight_remove(mq_session_store_t *st, mq_session_t *s, mq_inflight_t *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        s->inf_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        s->inf_tail = f->prev;
    s->ninflight--;
    st->held -= sizeof(*f);
    release_msg(st, f->msg);
    mq_msg_unref(st->mem, f->msg);
    mq_mem_free(st->mem, f, sizeof(*f));
}

/* ---- queue --------------------------------------------------------------- */

int mq_session_queue_push(mq_session_store_t *st, mq_session_t *s, mq_msg_t *msg, uint8_t qos,
                          bool retain, const mq_ids_t *ids)
{
    mq_queued_t *q = mq_mem_alloc(st->mem, sizeof(*q));
    if (!q)
        return MQ_ENOMEM;
    q->next = NULL;
    q->msg = mq_msg_ref(msg);
    hold(st, msg, sizeof(*q));
    q->qos = qos;
    q->retain = retain;
    q->ids = *ids;
    if (s->q_tail)
        s->q_tail->next = q;
    else
        s->q_head = q;
    s->q_tail = q;
    s->nqueued++;
    s->queued_bytes += msg->payload_len;
    return MQ_OK;
}

bool mq_session_queue_pop(mq_session_store_t *st, mq_session_t *s, mq_queued_t *out)
{
    mq_queued_t *q = s->q_head;
    if (!q)
        return false;
    s->q_head = q->next;
    if (!s->q_head)
        s->q_tail = NULL;
    s->nqueued--;
    s->queued_bytes -= q->msg->payload_len;
    st->held -= sizeof(*q);
    release_msg(st, q->msg);
    *out = *q;
    out->next = NULL;
    mq_mem_free(st->mem, q, sizeof(*q));
    return true;
}

/* ---- incoming QoS 2 ids ------------------------------------------------- */

bool mq_session_in_has(const mq_session_t *s, uint16_t pid)
{
    if (s->in_bitmap)
        return (s->in_bitmap[pid >> 3] >> (pid & 7)) & 1;
    for (uint32_t i = 0; i < s->nin; i++) {
        if (s->in_pids[i] == pid)
            return true;
    }
    return false;
}

int mq_session_in_add(mq_session_store_t *st, mq_session_t *s, uint16_t pid)
{
    if (mq_session_in_has(s, pid))
        return MQ_OK;
    if (!s->in_bitmap && s->nin == s->in_cap) {
        if (s->in_cap < IN_ARRAY_MAX) {
            uint32_t cap = s->in_cap ? s->in_cap * 2 : 4;
            uint16_t *v = mq_mem_alloc(st->mem, cap * sizeof(uint16_t));
            if (!v)
                return MQ_ENOMEM;
            if (s->nin)
                memcpy(v, s->in_pids, s->nin * sizeof(uint16_t));
            mq_msg_unref(st->mem, s->will);
    mq_mem_free(st->mem, s->in_pids, s->in_cap * sizeof(uint16_t));
            s->in_pids = v;
            s->in_cap = cap;
        } else {
            /* Past a few dozen outstanding ids a bitmap is both smaller per id
             * and O(1); its size is bounded by the 16-bit id space. */
            uint8_t *bm = mq_mem_calloc(st->mem, IN_BITMAP_BYTES);
            if (!bm)
                return MQ_ENOMEM;
            for (uint32_t i = 0; i < s->nin; i++)
                bm[s->in_pids[i] >> 3] |= (uint8_t)(1u << (s->in_pids[i] & 7));
            s->in_bitmap = bm;
        }
    }
    if (s->in_bitmap)
        s->in_bitmap[pid >> 3] |= (uint8_t)(1u << (pid & 7));
    else
        s->in_pids[s->nin] = pid;
    s->nin++;
    return MQ_OK;
}

void mq_session_in_remove(mq_session_t *s, uint16_t pid)
{
    if (s->in_bitmap) {
        uint8_t bit = (uint8_t)(1u << (pid & 7));
        if (s->in_bitmap[pid >> 3] & bit) {
            s->in_bitmap[pid >> 3] &= (uint8_t)~bit;
            s->nin--;
        }
        return;
    }
    for (uint32_t i = 0; i < s->nin; i++) {
        if (s->in_pids[i] == pid) {
            s->in_pids[i] = s->in_pids[--s->nin];
            return;
        }
    }
}

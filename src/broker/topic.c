/*
 * topic — the subscription tree. See topic.h for the contract.
 *
 * Owns: the nodes (one allocation each: struct + level bytes), their child
 * tables and their subscription tables. Never makes system calls, never
 * dereferences a subscriber, never recurses (levels can be 32768 deep).
 *
 * Hot path: mq_topic_match, once per PUBLISH. It allocates nothing, hashes
 * each topic level once (for the first MQ__CACHE levels; deeper levels are
 * rehashed when a '+' branch revisits them) and finds children by hash, so
 * its cost follows the topic's depth and the number of matching branches.
 *
 * The walk is a depth-first search driven by parent pointers instead of a
 * stack: coming back up from a child, the node knows what to try next
 * because the '+' child is the only one held in n->plus.
 *
 * Subscriptions of a node live in a table keyed by subscriber: a plain array
 * while there are at most 4 (the common case, scanned linearly), an
 * open-addressing table beyond, so that 100k clients on one filter do not
 * make each SUBSCRIBE cost a scan of all of them. Empty entries have
 * who == NULL in both shapes, which lets match iterate them the same way.
 */
#include "topic.h"

#include <stdbool.h>
#include <string.h>

#include "levels.h"
#include "musqratt/error.h"

typedef struct mq__sub {
    void *who;
    mq_sub_opts_t opts;
} mq__sub_t;

struct mq_topic_node {
    mq__lnode_t l;             /* must be first: nodes are cast to and from it */
    mq_topic_node_t *plus;     /* the '+' child */
    mq_topic_node_t *hash;     /* the '#' child */
    mq__sub_t *subs;
    uint32_t nsubs;
    uint32_t capsubs;          /* <= MQ__SUBS_DENSE: array; else hashed */
};

#define MQ__SUBS_DENSE 4u
#define MQ__CACHE 64u

static inline mq_topic_node_t *tnode(mq__lnode_t *l)
{
    return (mq_topic_node_t *)(void *)l;
}

static mq_topic_node_t *node_new(mq_mem_t *mem, const uint8_t *name, uint32_t len)
{
    return mq__lnode_new(mem, sizeof(mq_topic_node_t), name, len);
}

static void node_free(mq_mem_t *mem, mq_topic_node_t *n)
{
    mq_mem_free(mem, n->subs, (size_t)n->capsubs * sizeof(mq__sub_t));
    mq__lnode_free(mem, &n->l, sizeof(mq_topic_node_t));
}

/* ---- subscription table of one node ----------------------------------- */

static inline uint32_t who_hash(const void *who)
{
    uint64_t h = (uint64_t)(uintptr_t)who * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

static mq__sub_t *subs_find(const mq_topic_node_t *n, const void *who)
{
    if (n->capsubs <= MQ__SUBS_DENSE) {
        for (uint32_t i = 0; i < n->nsubs; i++)
            if (n->subs[i].who == who)
                return &n->subs[i];
        return NULL;
    }
    uint32_t mask = n->capsubs - 1;
    for (uint32_t i = who_hash(who) & mask;; i = (i + 1) & mask) {
        if (n->subs[i].who == who)
            return &n->subs[i];
        if (!n->subs[i].who)
            return NULL;
    }
}

/* Smallest capacity that holds `count` subscriptions. */
static uint32_t subs_cap_for(uint32_t count)
{
    if (count <= MQ__SUBS_DENSE) {
        uint32_t c = 1;
        while (c < count)
            c *= 2;
        return c;
    }
    uint32_t c = MQ__SUBS_DENSE * 2;
    while ((uint64_t)count * 4 > (uint64_t)c * 3)
        c *= 2;
    return c;
}

static void subs_place(mq__sub_t *t, uint32_t cap, const mq__sub_t *s, uint32_t *dense_n)
{
    if (cap <= MQ__SUBS_DENSE) {
        t[(*dense_n)++] = *s;
        return;
    }
    uint32_t mask = cap - 1;
    uint32_t i = who_hash(s->who) & mask;
    while (t[i].who)
        i = (i + 1) & mask;
    t[i] = *s;
}

/* Moves every subscription of n into the zeroed table t of cap entries. */
static void subs_rehash(mq_mem_t *mem, mq_topic_node_t *n, mq__sub_t *t, uint32_t cap)
{
    uint32_t dense = 0;
    for (uint32_t i = 0; i < n->capsubs; i++)
        if (n->subs[i].who)
            subs_place(t, cap, &n->subs[i], &dense);
    mq_mem_free(mem, n->subs, (size_t)n->capsubs * sizeof(mq__sub_t));
    n->subs = t;
    n->capsubs = cap;
}

static uint32_t subs_grow_cap(const mq_topic_node_t *n)
{
    uint32_t want = subs_cap_for(n->nsubs + 1);
    return want > n->capsubs ? want : 0;
}

/* table: preallocated zeroed table of subs_grow_cap(n) entries, or NULL. */
static void subs_insert(mq_mem_t *mem, mq_topic_node_t *n, void *who, const mq_sub_opts_t *o,
                        mq__sub_t *table, uint32_t table_cap)
{
    if (table)
        subs_rehash(mem, n, table, table_cap);
    mq__sub_t s = {who, *o};
    uint32_t dense = n->nsubs;
    subs_place(n->subs, n->capsubs, &s, &dense);
    n->nsubs++;
}

static void subs_remove(mq_mem_t *mem, mq_topic_node_t *n, mq__sub_t *s)
{
    n->nsubs--;
    if (n->capsubs <= MQ__SUBS_DENSE) {
        *s = n->subs[n->nsubs];
        n->subs[n->nsubs].who = NULL;
    } else {
        uint32_t mask = n->capsubs - 1;
        uint32_t hole = (uint32_t)(s - n->subs);
        n->subs[hole].who = NULL;
        for (uint32_t j = (hole + 1) & mask; n->subs[j].who; j = (j + 1) & mask) {
            uint32_t home = who_hash(n->subs[j].who) & mask;
            bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (!stays) {
                n->subs[hole] = n->subs[j];
                n->subs[j].who = NULL;
                hole = j;
            }
        }
    }
    if (n->nsubs == 0) {
        mq_mem_free(mem, n->subs, (size_t)n->capsubs * sizeof(mq__sub_t));
        n->subs = NULL;
        n->capsubs = 0;
        return;
    }
    /* Give memory back after a crowd unsubscribes; optional, so a failed
     * allocation just keeps the larger table. */
    if (n->capsubs > MQ__SUBS_DENSE && n->nsubs * 8 < n->capsubs) {
        uint32_t cap = subs_cap_for(n->nsubs);
        mq__sub_t *t = mq_mem_calloc(mem, (size_t)cap * sizeof(*t));
        if (t)
            subs_rehash(mem, n, t, cap);
    }
}

/* ---- tree ------------------------------------------------------------- */

int mq_topic_tree_init(mq_topic_tree_t *t, mq_mem_t *mem, uint32_t max_nodes)
{
    t->mem = mem;
    t->max_nodes = max_nodes;
    t->nodes = 0; /* the root is not counted: it exists before any filter */
    t->subs = 0;
    t->root = node_new(mem, NULL, 0);
    return t->root ? MQ_OK : MQ_ENOMEM;
}

void mq_topic_tree_destroy(mq_topic_tree_t *t)
{
    mq_topic_node_t *n = t->root;
    if (!n)
        return;
    /* Post-order without a stack: detach any child and go down into it;
     * free a node once it has none left, then continue with its parent. */
    n->l.hash = 0; /* mq__kids_pop's cursor */
    while (n) {
        mq_topic_node_t *c = tnode(mq__kids_pop(&n->l));
        if (!c && n->plus) {
            c = n->plus;
            n->plus = NULL;
        }
        if (!c && n->hash) {
            c = n->hash;
            n->hash = NULL;
        }
        if (c) {
            c->l.hash = 0;
            n = c;
            continue;
        }
        mq_topic_node_t *p = tnode(n->l.parent);
        node_free(t->mem, n);
        n = p;
    }
    t->root = NULL;
    t->nodes = 0;
    t->subs = 0;
}

/* The child of n for filter level [s, s+len), wildcards included. */
static mq_topic_node_t *child_for_filter(const mq_topic_node_t *n, const uint8_t *s, size_t len)
{
    if (mq__level_is(s, len, '+'))
        return n->plus;
    if (mq__level_is(s, len, '#'))
        return n->hash;
    return tnode(mq__kids_find(&n->l, s, (uint32_t)len, mq__level_hash(s, len)));
}

/* Follows the existing nodes of filter; returns the deepest one reached and
 * sets *pos to the start of the first level that has no node (len + 1 when
 * every level has one). */
static mq_topic_node_t *walk_existing(const mq_topic_tree_t *t, const uint8_t *f, size_t len,
                                      size_t *pos)
{
    mq_topic_node_t *n = t->root;
    size_t s = 0;
    while (s <= len) {
        size_t e = mq__level_end(f, len, s);
        mq_topic_node_t *c = child_for_filter(n, f + s, e - s);
        if (!c)
            break;
        n = c;
        s = e + 1;
    }
    *pos = s;
    return n;
}

static void link_child(mq_mem_t *mem, mq_topic_node_t *p, mq_topic_node_t *c,
                       mq__lnode_t **table, uint32_t table_cap)
{
    if (mq__level_is(c->l.name, c->l.len, '+')) {
        c->l.parent = &p->l;
        p->plus = c;
    } else if (mq__level_is(c->l.name, c->l.len, '#')) {
        c->l.parent = &p->l;
        p->hash = c;
    } else {
        mq__kids_insert(mem, &p->l, &c->l, table, table_cap);
    }
}

/* Frees a private, not yet linked chain from its deepest node up to (not
 * including) stop. Chain nodes hold one inline child and no subscription
 * yet, so the node allocation is all there is. */
static void chain_free(mq_mem_t *mem, mq_topic_node_t *last, const mq_topic_node_t *stop)
{
    while (last != stop) {
        mq_topic_node_t *p = tnode(last->l.parent);
        node_free(mem, last);
        last = p;
    }
}

int mq_topic_subscribe(mq_topic_tree_t *t, const uint8_t *filter, size_t len, void *subscriber,
                       const mq_sub_opts_t *opts)
{
    if (!t->root || !subscriber || !opts)
        return MQ_EINVAL;
    mq_mem_t *mem = t->mem;
    size_t s;
    mq_topic_node_t *at = walk_existing(t, filter, len, &s);

    if (s > len) {
        /* MQTT-3.8.4-3: the same filter again replaces the subscription. */
        mq__sub_t *old = subs_find(at, subscriber);
        if (old) {
            old->opts = *opts;
            return 1;
        }
        uint32_t cap = subs_grow_cap(at);
        mq__sub_t *table = NULL;
        if (cap && !(table = mq_mem_calloc(mem, (size_t)cap * sizeof(*table))))
            return MQ_ENOMEM;
        subs_insert(mem, at, subscriber, opts, table, cap);
        t->subs++;
        return 0;
    }

    /* Every allocation happens before the tree changes, so that a failure
     * leaves nothing behind. */
    size_t missing = mq__level_count(filter, len, s);
    if (t->max_nodes && (uint64_t)t->nodes + missing > t->max_nodes)
        return MQ_ELIMIT;

    size_t e0 = mq__level_end(filter, len, s);
    bool first_exact = !mq__level_is(filter + s, e0 - s, '+') &&
                       !mq__level_is(filter + s, e0 - s, '#');
    uint32_t kcap = first_exact ? mq__kids_grow_cap(&at->l) : 0;
    mq__lnode_t **ktable = NULL;
    if (kcap && !(ktable = mq_mem_calloc(mem, (size_t)kcap * sizeof(*ktable))))
        return MQ_ENOMEM;

    mq_topic_node_t *head = NULL, *last = at;
    while (s <= len) {
        size_t e = mq__level_end(filter, len, s);
        mq_topic_node_t *c = node_new(mem, filter + s, (uint32_t)(e - s));
        if (!c)
            goto nomem;
        if (!head) {
            head = c;
            c->l.parent = &at->l; /* for chain_free only; linked at commit */
        } else {
            link_child(mem, last, c, NULL, 0); /* first child: inline, no allocation */
        }
        last = c;
        s = e + 1;
    }
    mq__sub_t *subs = mq_mem_calloc(mem, sizeof(*subs));
    if (!subs)
        goto nomem;
    last->subs = subs;
    last->capsubs = 1;
    last->subs[0].who = subscriber;
    last->subs[0].opts = *opts;
    last->nsubs = 1;

    link_child(mem, at, head, ktable, kcap);
    t->nodes += (uint32_t)missing;
    t->subs++;
    return 0;

nomem:
    chain_free(mem, last, at);
    mq_mem_free(mem, ktable, (size_t)kcap * sizeof(*ktable));
    return MQ_ENOMEM;
}

/* Removes empty nodes from n upwards, so memory returns when clients leave. */
static void prune(mq_topic_tree_t *t, mq_topic_node_t *n)
{
    while (n != t->root && n->nsubs == 0 && n->l.nkids == 0 && !n->plus && !n->hash) {
        mq_topic_node_t *p = tnode(n->l.parent);
        if (p->plus == n)
            p->plus = NULL;
        else if (p->hash == n)
            p->hash = NULL;
        else
            mq__kids_remove(t->mem, &p->l, &n->l);
        node_free(t->mem, n);
        t->nodes--;
        n = p;
    }
}

int mq_topic_unsubscribe(mq_topic_tree_t *t, const uint8_t *filter, size_t len,
                         void *subscriber)
{
    if (!t->root)
        return MQ_ENOTFOUND;
    size_t s;
    mq_topic_node_t *n = walk_existing(t, filter, len, &s);
    if (s <= len)
        return MQ_ENOTFOUND;
    mq__sub_t *sub = subs_find(n, subscriber);
    if (!sub || !subscriber)
        return MQ_ENOTFOUND;
    subs_remove(t->mem, n, sub);
    t->subs--;
    prune(t, n);
    return MQ_OK;
}

static inline void report(const mq_topic_node_t *n, mq_topic_match_fn fn, void *ctx)
{
    for (uint32_t i = 0, cap = n->capsubs; i < cap; i++)
        if (n->subs[i].who)
            fn(ctx, n->subs[i].who, &n->subs[i].opts);
}

void mq_topic_match(const mq_topic_tree_t *t, const uint8_t *topic, size_t len,
                    mq_topic_match_fn fn, void *ctx)
{
    const mq_topic_node_t *root = t->root;
    if (!root)
        return;
    /* MQTT-4.7.2-1: wildcards at the first level skip "$..." topics. */
    const bool dollar = len > 0 && topic[0] == '$';

    /* Offsets and hashes of the first levels, filled in the first time a
     * level is looked at: a '+' branch revisits the same levels. */
    uint32_t c_hash[MQ__CACHE];
    size_t c_start[MQ__CACHE], c_end[MQ__CACHE];
    uint64_t c_have = 0;

    enum { ENTER, TRY_PLUS, UP } step = ENTER;
    const mq_topic_node_t *n = root;
    size_t d = 0; /* n's depth = topic levels consumed */
    size_t s = 0; /* start of topic level d; len + 1 when all are consumed */

    for (;;) {
        switch (step) {
        case ENTER:
            /* MQTT-4.7.1-2: "a/#" matches "a" as well as everything below. */
            if (n->hash && !(d == 0 && dollar))
                report(n->hash, fn, ctx);
            if (s > len) {
                report(n, fn, ctx);
                step = UP;
                break;
            }
            {
                size_t e;
                uint32_t h;
                if (d < MQ__CACHE && (c_have >> d & 1)) {
                    e = c_end[d];
                    h = c_hash[d];
                } else {
                    e = mq__level_end(topic, len, s);
                    h = mq__level_hash(topic + s, e - s);
                    if (d < MQ__CACHE) {
                        c_start[d] = s;
                        c_end[d] = e;
                        c_hash[d] = h;
                        c_have |= 1ull << d;
                    }
                }
                const mq_topic_node_t *c =
                    tnode(mq__kids_find(&n->l, topic + s, (uint32_t)(e - s), h));
                if (c) {
                    n = c;
                    d++;
                    s = e + 1;
                    break; /* ENTER the child */
                }
            }
            step = TRY_PLUS;
            break;
        case TRY_PLUS:
            if (n->plus && !(d == 0 && dollar)) {
                size_t e = d < MQ__CACHE && (c_have >> d & 1) ? c_end[d]
                                                              : mq__level_end(topic, len, s);
                n = n->plus;
                d++;
                s = e + 1;
                step = ENTER;
                break;
            }
            step = UP;
            break;
        case UP: {
            if (n == root)
                return;
            const mq_topic_node_t *p = tnode(n->l.parent);
            d--;
            s = d < MQ__CACHE ? c_start[d] : mq__level_prev_start(topic, s);
            step = p->plus == n ? UP : TRY_PLUS;
            n = p;
            break;
        }
        }
    }
}

/*
 * retain — the retained-message store. See retain.h for the contract.
 *
 * Owns: the nodes (one allocation each: struct + level bytes), their child
 * tables, and one reference per stored value (given back through the
 * release callback, exactly once). Never makes system calls, never looks
 * inside a value, never recurses (a topic can have 32768 levels).
 *
 * Hot path: mq_retain_match on SUBSCRIBE. It allocates nothing. Exact
 * filter levels are hash lookups; '+' iterates the children of a node and
 * '#' the whole subtree, both in table order with parent pointers instead of
 * a stack: coming back up from a child, the next sibling is found by
 * probing for the child's own slot.
 */
#include "retain.h"

#include <stdbool.h>
#include <string.h>

#include "levels.h"
#include "musqratt/error.h"

struct mq_retain_node {
    mq__lnode_t l; /* must be first: nodes are cast to and from it */
    void *value;
};

static inline mq_retain_node_t *rnode(mq__lnode_t *l)
{
    return (mq_retain_node_t *)(void *)l;
}

static mq_retain_node_t *node_new(mq_mem_t *mem, const uint8_t *name, uint32_t len)
{
    return mq__lnode_new(mem, sizeof(mq_retain_node_t), name, len);
}

static void node_free(mq_mem_t *mem, mq_retain_node_t *n)
{
    mq__lnode_free(mem, &n->l, sizeof(mq_retain_node_t));
}

static void release(const mq_retain_store_t *s, void *value)
{
    if (s->release)
        s->release(s->release_ctx, value);
}

int mq_retain_init(mq_retain_store_t *s, mq_mem_t *mem, uint32_t max_nodes,
                   mq_retain_release_fn release_fn, void *release_ctx)
{
    s->mem = mem;
    s->release = release_fn;
    s->release_ctx = release_ctx;
    s->max_nodes = max_nodes;
    s->nodes = 0; /* the root is not counted: it exists before any topic */
    s->count = 0;
    s->root = node_new(mem, NULL, 0);
    return s->root ? MQ_OK : MQ_ENOMEM;
}

void mq_retain_destroy(mq_retain_store_t *s)
{
    mq_retain_node_t *n = s->root;
    if (!n)
        return;
    n->l.hash = 0; /* mq__kids_pop's cursor */
    while (n) {
        mq_retain_node_t *c = rnode(mq__kids_pop(&n->l));
        if (c) {
            c->l.hash = 0;
            n = c;
            continue;
        }
        mq_retain_node_t *p = rnode(n->l.parent);
        if (n->value)
            release(s, n->value);
        node_free(s->mem, n);
        n = p;
    }
    s->root = NULL;
    s->nodes = 0;
    s->count = 0;
}

/* Follows the existing nodes of topic; returns the deepest one reached and
 * sets *pos to the start of the first level without a node (len + 1 when
 * every level has one). */
static mq_retain_node_t *walk_existing(const mq_retain_store_t *s, const uint8_t *topic,
                                       size_t len, size_t *pos)
{
    mq_retain_node_t *n = s->root;
    size_t p = 0;
    while (p <= len) {
        size_t e = mq__level_end(topic, len, p);
        mq_retain_node_t *c = rnode(
            mq__kids_find(&n->l, topic + p, (uint32_t)(e - p), mq__level_hash(topic + p, e - p)));
        if (!c)
            break;
        n = c;
        p = e + 1;
    }
    *pos = p;
    return n;
}

static void prune(mq_retain_store_t *s, mq_retain_node_t *n)
{
    while (n != s->root && !n->value && n->l.nkids == 0) {
        mq_retain_node_t *p = rnode(n->l.parent);
        mq__kids_remove(s->mem, &p->l, &n->l);
        node_free(s->mem, n);
        s->nodes--;
        n = p;
    }
}

static void chain_free(mq_mem_t *mem, mq_retain_node_t *last, const mq_retain_node_t *stop)
{
    while (last != stop) {
        mq_retain_node_t *p = rnode(last->l.parent);
        node_free(mem, last);
        last = p;
    }
}

int mq_retain_set(mq_retain_store_t *s, const uint8_t *topic, size_t len, void *value)
{
    if (!s->root)
        return MQ_EINVAL;
    size_t p;
    mq_retain_node_t *at = walk_existing(s, topic, len, &p);

    if (p > len) {
        void *old = at->value;
        at->value = value;
        if (old)
            release(s, old);
        if (old && !value) {
            s->count--;
            prune(s, at);
        } else if (!old && value) {
            s->count++;
        }
        return MQ_OK;
    }
    if (!value)
        return MQ_OK; /* nothing stored there: clearing is a no-op */

    /* Allocate the whole missing branch before linking any of it, so that a
     * failure leaves the store as it was. */
    size_t missing = mq__level_count(topic, len, p);
    if (s->max_nodes && (uint64_t)s->nodes + missing > s->max_nodes)
        return MQ_ELIMIT;
    uint32_t kcap = mq__kids_grow_cap(&at->l);
    mq__lnode_t **ktable = NULL;
    if (kcap && !(ktable = mq_mem_calloc(s->mem, (size_t)kcap * sizeof(*ktable))))
        return MQ_ENOMEM;

    mq_retain_node_t *head = NULL, *last = at;
    while (p <= len) {
        size_t e = mq__level_end(topic, len, p);
        mq_retain_node_t *c = node_new(s->mem, topic + p, (uint32_t)(e - p));
        if (!c) {
            chain_free(s->mem, last, at);
            mq_mem_free(s->mem, ktable, (size_t)kcap * sizeof(*ktable));
            return MQ_ENOMEM;
        }
        if (!head) {
            head = c;
            c->l.parent = &at->l; /* for chain_free only; linked below */
        } else {
            mq__kids_insert(s->mem, &last->l, &c->l, NULL, 0); /* inline: no allocation */
        }
        last = c;
        p = e + 1;
    }
    last->value = value;
    mq__kids_insert(s->mem, &at->l, &head->l, ktable, kcap);
    s->nodes += (uint32_t)missing;
    s->count++;
    return MQ_OK;
}

void *mq_retain_get(const mq_retain_store_t *s, const uint8_t *topic, size_t len)
{
    if (!s->root)
        return NULL;
    size_t p;
    mq_retain_node_t *n = walk_existing(s, topic, len, &p);
    return p > len ? n->value : NULL;
}

static inline bool is_dollar(const mq__lnode_t *c)
{
    return c->len > 0 && c->name[0] == '$';
}

/* The child of n after `after` (the first when NULL), skipping "$..."
 * children when skip_dollar: MQTT-4.7.2-1 at the first level. */
static mq__lnode_t *next_child(const mq__lnode_t *n, const mq__lnode_t *after, bool skip_dollar)
{
    mq__lnode_t *c = mq__kids_next(n, after);
    while (c && skip_dollar && is_dollar(c))
        c = mq__kids_next(n, c);
    return c;
}

/* '#': the anchor's value and every value below it, pre-order. */
static void report_subtree(const mq_retain_store_t *s, const mq__lnode_t *anchor,
                           mq_retain_match_fn fn, void *ctx)
{
    const bool skip_dollar = anchor == &s->root->l;
    if (rnode((mq__lnode_t *)anchor)->value)
        fn(ctx, rnode((mq__lnode_t *)anchor)->value);
    const mq__lnode_t *x = next_child(anchor, NULL, skip_dollar);
    while (x) {
        void *v = rnode((mq__lnode_t *)x)->value;
        if (v)
            fn(ctx, v);
        const mq__lnode_t *down = mq__kids_next(x, NULL);
        if (down) {
            x = down;
            continue;
        }
        /* Climb until a node has a next sibling, stopping at the anchor. */
        for (;;) {
            const mq__lnode_t *p = x->parent;
            const mq__lnode_t *sib = next_child(p, x, p == anchor && skip_dollar);
            if (sib) {
                x = sib;
                break;
            }
            if (p == anchor)
                return;
            x = p;
        }
    }
}

void mq_retain_match(const mq_retain_store_t *s, const uint8_t *filter, size_t len,
                     mq_retain_match_fn fn, void *ctx)
{
    const mq__lnode_t *root = s->root ? &s->root->l : NULL;
    if (!root)
        return;
    enum { ENTER, UP } step = ENTER;
    const mq__lnode_t *n = root;
    size_t d = 0; /* n's depth = filter levels consumed */
    size_t p = 0; /* start of filter level d; len + 1 when all are consumed */

    for (;;) {
        if (step == ENTER) {
            if (p > len) {
                void *v = rnode((mq__lnode_t *)n)->value;
                if (v)
                    fn(ctx, v);
                step = UP;
                continue;
            }
            size_t e = mq__level_end(filter, len, p);
            const mq__lnode_t *c;
            if (mq__level_is(filter + p, e - p, '#')) {
                /* MQTT-4.7.1-2: the parent level too, hence the anchor. */
                report_subtree(s, n, fn, ctx);
                step = UP;
                continue;
            }
            if (mq__level_is(filter + p, e - p, '+'))
                c = next_child(n, NULL, d == 0);
            else
                c = mq__kids_find(n, filter + p, (uint32_t)(e - p),
                                  mq__level_hash(filter + p, e - p));
            if (c) {
                n = c;
                d++;
                p = e + 1;
            } else {
                step = UP;
            }
            continue;
        }
        /* UP: back to the parent; under '+', on to the next sibling. */
        if (n == root)
            return;
        const mq__lnode_t *par = n->parent;
        d--;
        p = mq__level_prev_start(filter, p);
        size_t e = mq__level_end(filter, len, p);
        if (mq__level_is(filter + p, e - p, '+')) {
            const mq__lnode_t *sib = next_child(par, n, d == 0);
            if (sib) {
                n = sib;
                d++;
                p = e + 1;
                step = ENTER;
                continue;
            }
        }
        n = par;
    }
}

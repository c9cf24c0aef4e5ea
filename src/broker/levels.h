/*
 * levels — what the subscription tree (topic.c) and the retained store
 * (retain.c) share: splitting a topic string into levels, hashing a level,
 * and the per-node table of named children.
 *
 * Owns: nothing by itself; the child tables it resizes belong to the node
 * that embeds mq__lnode_t, and their memory comes from the caller's
 * mq_mem_t. Never makes system calls and never allocates on lookup paths
 * (mq__kids_find, mq__kids_next), which sit on the PUBLISH hot path.
 *
 * A node's children are kept in one of two shapes, because most nodes of a
 * real topic tree have exactly one child ("devices/<id>/temp"):
 *   cap == 0: at most one child, held inline in kids.one (no allocation);
 *   cap >= 4: an open-addressing table (linear probing, power-of-two size,
 *             load <= 3/4, backward-shift deletion so there are no
 *             tombstones and lookups stay short after many removals).
 * Every node records its parent, so all walks can be iterative: a filter or
 * topic may have up to 32768 levels and recursion that deep would overflow
 * the stack.
 */
#ifndef MQ_BROKER_LEVELS_H
#define MQ_BROKER_LEVELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

typedef struct mq__lnode mq__lnode_t;

struct mq__lnode {
    mq__lnode_t *parent; /* NULL for the root */
    union {
        mq__lnode_t *one;    /* cap == 0 */
        mq__lnode_t **slots; /* cap >= 4 */
    } kids;
    uint32_t cap;
    uint32_t nkids;
    uint32_t hash;       /* hash of this node's level (name) */
    uint32_t len;        /* level length; levels can be empty */
    const uint8_t *name; /* points into the same allocation as the node */
};

#define MQ__KIDS_MIN_CAP 4u

/* One multiply-xorshift round per 8 bytes: levels are short, and this is
 * computed once per topic level on every PUBLISH. */
static inline uint32_t mq__level_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n)
        memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* End (exclusive) of the level starting at s: the next '/' or len. */
static inline size_t mq__level_end(const uint8_t *p, size_t len, size_t s)
{
    const void *slash = s < len ? memchr(p + s, '/', len - s) : NULL;
    return slash ? (size_t)((const uint8_t *)slash - p) : len;
}

/* Start of the level before the one starting at s (s >= 1): used when an
 * iterative walk climbs back to a parent beyond its cache of level offsets.
 * s - 1 is the '/' that ends the previous level. */
static inline size_t mq__level_prev_start(const uint8_t *p, size_t s)
{
    size_t i = s - 1;
    while (i > 0 && p[i - 1] != '/')
        i--;
    return i;
}

/* Number of levels in p[s..len): one more than the number of slashes. */
static inline size_t mq__level_count(const uint8_t *p, size_t len, size_t s)
{
    size_t n = 1;
    for (size_t i = s; i < len; i++)
        n += p[i] == '/';
    return n;
}

static inline bool mq__level_is(const uint8_t *p, size_t n, uint8_t c)
{
    return n == 1 && p[0] == c;
}

static inline bool mq__lnode_eq(const mq__lnode_t *c, const uint8_t *s, uint32_t len, uint32_t h)
{
    /* Hash and length first: they reject nearly every other child. */
    return c->hash == h && c->len == len && (len == 0 || memcmp(c->name, s, len) == 0);
}

static inline mq__lnode_t *mq__kids_find(const mq__lnode_t *n, const uint8_t *s, uint32_t len,
                                         uint32_t h)
{
    if (n->cap == 0) {
        mq__lnode_t *c = n->kids.one;
        return c && mq__lnode_eq(c, s, len, h) ? c : NULL;
    }
    uint32_t mask = n->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        mq__lnode_t *c = n->kids.slots[i];
        if (!c)
            return NULL;
        if (mq__lnode_eq(c, s, len, h))
            return c;
    }
}

/* Capacity (in slots) needed for n to hold one more child, or 0 when the
 * current shape already has room. Callers preallocate that table before
 * they change anything, so that a failed insert leaves the tree as it was. */
static inline uint32_t mq__kids_grow_cap(const mq__lnode_t *n)
{
    if (n->cap == 0)
        return n->nkids == 0 ? 0 : MQ__KIDS_MIN_CAP;
    if ((uint64_t)(n->nkids + 1) * 4 <= (uint64_t)n->cap * 3)
        return 0;
    return n->cap * 2;
}

static inline void mq__kids_place(mq__lnode_t **slots, uint32_t cap, mq__lnode_t *c)
{
    uint32_t mask = cap - 1;
    uint32_t i = c->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = c;
}

/* Moves n's children into the zeroed table `slots` of `cap` entries and
 * frees the old table. */
static inline void mq__kids_rehash(mq_mem_t *mem, mq__lnode_t *n, mq__lnode_t **slots,
                                   uint32_t cap)
{
    if (n->cap == 0) {
        if (n->kids.one)
            mq__kids_place(slots, cap, n->kids.one);
    } else {
        for (uint32_t i = 0; i < n->cap; i++)
            if (n->kids.slots[i])
                mq__kids_place(slots, cap, n->kids.slots[i]);
        mq_mem_free(mem, n->kids.slots, (size_t)n->cap * sizeof(*slots));
    }
    n->kids.slots = slots;
    n->cap = cap;
}

/* Adds c (not yet a child) under n. `table` is the zeroed table of
 * mq__kids_grow_cap(n) slots the caller preallocated, or NULL when that
 * was 0. Cannot fail. */
static inline void mq__kids_insert(mq_mem_t *mem, mq__lnode_t *n, mq__lnode_t *c,
                                   mq__lnode_t **table, uint32_t table_cap)
{
    c->parent = n;
    if (table)
        mq__kids_rehash(mem, n, table, table_cap);
    if (n->cap == 0)
        n->kids.one = c;
    else
        mq__kids_place(n->kids.slots, n->cap, c);
    n->nkids++;
}

static inline uint32_t mq__kids_index(const mq__lnode_t *n, const mq__lnode_t *c)
{
    uint32_t mask = n->cap - 1;
    uint32_t i = c->hash & mask;
    while (n->kids.slots[i] != c)
        i = (i + 1) & mask;
    return i;
}

/* Removes child c from n. Gives memory back when the table becomes much
 * too large; if that smaller table cannot be had, the larger one stays. */
static inline void mq__kids_remove(mq_mem_t *mem, mq__lnode_t *n, mq__lnode_t *c)
{
    n->nkids--;
    if (n->cap == 0) {
        n->kids.one = NULL;
        return;
    }
    mq__lnode_t **s = n->kids.slots;
    uint32_t mask = n->cap - 1;
    uint32_t hole = mq__kids_index(n, c);
    s[hole] = NULL;
    /* Backward-shift deletion: move later members of the probe run into the
     * hole when their home slot does not lie cyclically in (hole, j]. */
    for (uint32_t j = (hole + 1) & mask; s[j]; j = (j + 1) & mask) {
        uint32_t home = s[j]->hash & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            s[hole] = s[j];
            s[j] = NULL;
            hole = j;
        }
    }
    if (n->nkids <= 1) {
        /* Back to the inline shape: no allocation needed. */
        mq__lnode_t *only = NULL;
        for (uint32_t i = 0; i < n->cap && !only; i++)
            only = s[i];
        mq_mem_free(mem, s, (size_t)n->cap * sizeof(*s));
        n->kids.one = only;
        n->cap = 0;
        return;
    }
    if (n->cap > MQ__KIDS_MIN_CAP && n->nkids * 8 < n->cap) {
        uint32_t cap = n->cap / 2;
        while (cap > MQ__KIDS_MIN_CAP && (uint64_t)n->nkids * 8 < cap)
            cap /= 2;
        mq__lnode_t **t = mq_mem_calloc(mem, (size_t)cap * sizeof(*t));
        if (t)
            mq__kids_rehash(mem, n, t, cap);
    }
}

/* The child after `after` in table order (the first one when after is
 * NULL), or NULL. The table must not change between calls. */
static inline mq__lnode_t *mq__kids_next(const mq__lnode_t *n, const mq__lnode_t *after)
{
    if (n->cap == 0)
        return after ? NULL : n->kids.one;
    uint32_t i = after ? mq__kids_index(n, after) + 1 : 0;
    for (; i < n->cap; i++)
        if (n->kids.slots[i])
            return n->kids.slots[i];
    return NULL;
}

/* For destroy only: detaches and returns any child, cheaply even for a node
 * with a million children (a cursor in the node's own hash field, which
 * destroy no longer needs, remembers where the last one was found). */
static inline mq__lnode_t *mq__kids_pop(mq__lnode_t *n)
{
    if (n->cap == 0) {
        mq__lnode_t *c = n->kids.one;
        n->kids.one = NULL;
        return c;
    }
    for (; n->hash < n->cap; n->hash++) {
        mq__lnode_t *c = n->kids.slots[n->hash];
        if (c) {
            n->kids.slots[n->hash] = NULL;
            return c;
        }
    }
    return NULL;
}

/*
 * A node of either tree: `size` bytes of the owner's node struct (whose first
 * member is the mq__lnode_t), followed by a copy of the level name.
 */
static inline void *mq__lnode_new(mq_mem_t *mem, size_t size, const uint8_t *name, uint32_t len)
{
    mq__lnode_t *l = mq_mem_calloc(mem, size + len);
    if (!l)
        return NULL;
    uint8_t *copy = (uint8_t *)l + size;
    if (len)
        memcpy(copy, name, len);
    l->name = copy;
    l->len = len;
    l->hash = mq__level_hash(name, len);
    return l;
}

/* Frees a node made by mq__lnode_new and its child table. */
static inline void mq__lnode_free(mq_mem_t *mem, mq__lnode_t *l, size_t size)
{
    if (l->cap)
        mq_mem_free(mem, l->kids.slots, (size_t)l->cap * sizeof(mq__lnode_t *));
    mq_mem_free(mem, l, size + l->len);
}

#endif

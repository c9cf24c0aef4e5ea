/*
 * retain — the retained-message store.
 *
 * A tree keyed by topic name levels (same shape as the subscription tree),
 * holding one opaque value per topic. Lookup by a topic filter walks the
 * filter's levels: '+' visits every child, '#' every descendant, so delivery
 * on subscribe costs the size of the matching part, not of the store.
 * Rule MQTT-4.7.2-1 applies: a filter starting with a wildcard does not match
 * topics starting with '$'.
 *
 * Owns: nodes (memory from mq_mem_t, count bounded by max_nodes) and one
 * reference to each stored value, released through the release callback
 * when replaced, cleared, or at destroy. No system calls.
 */
#ifndef MQ_BROKER_RETAIN_H
#define MQ_BROKER_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

typedef void (*mq_retain_release_fn)(void *ctx, void *value);

typedef struct mq_retain_node mq_retain_node_t;

typedef struct mq_retain_store {
    mq_mem_t *mem;
    mq_retain_node_t *root;
    mq_retain_release_fn release;
    void *release_ctx;
    uint32_t max_nodes;   /* 0 = unlimited */
    uint32_t nodes;
    uint64_t count;       /* stored values */
} mq_retain_store_t;

int mq_retain_init(mq_retain_store_t *s, mq_mem_t *mem, uint32_t max_nodes,
                   mq_retain_release_fn release, void *release_ctx);
/* Releases every value and frees every node. */
void mq_retain_destroy(mq_retain_store_t *s);

/*
 * Stores value under topic (a valid topic name), taking over the caller's
 * reference; the previous value, if any, is released. value NULL clears the
 * topic (and prunes empty nodes). Returns MQ_OK, MQ_ENOMEM or MQ_ELIMIT; on
 * failure the store is unchanged and value is NOT taken over (the caller
 * still owns it).
 */
int mq_retain_set(mq_retain_store_t *s, const uint8_t *topic, size_t len, void *value);

/* The value stored under exactly this topic name, or NULL (borrowed). */
void *mq_retain_get(const mq_retain_store_t *s, const uint8_t *topic, size_t len);

/* Calls fn once per value whose topic matches filter (a valid filter).
 * The callback must not change the store. */
typedef void (*mq_retain_match_fn)(void *ctx, void *value);
void mq_retain_match(const mq_retain_store_t *s, const uint8_t *filter, size_t len,
                     mq_retain_match_fn fn, void *ctx);

#endif

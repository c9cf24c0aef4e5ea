/*
 * topic — the subscription tree.
 *
 * One node per topic level; each node holds the subscriptions whose filter
 * ends there. Matching a topic name walks the name's levels, following the
 * exact child, the '+' child and the '#' child at each level, so its cost
 * grows with the topic depth (and the number of matches), not with the
 * number of subscriptions. Children are found through a hash table per node.
 * Rule MQTT-4.7.2-1: a filter starting with '+' or '#' does not match a
 * topic name starting with '$'.
 *
 * Owns: the nodes and the subscription records (memory from mq_mem_t, node
 * count bounded by max_nodes). Subscribers are opaque borrowed pointers: the
 * tree never dereferences them. No system calls.
 */
#ifndef MQ_BROKER_TOPIC_H
#define MQ_BROKER_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

typedef struct mq_sub_opts {
    uint8_t qos;     /* granted maximum QoS */
    uint8_t flags;   /* MQTT 5 subscription option bits (no local, RAP, RH); 0 in 3.x */
    uint32_t sub_id; /* MQTT 5 subscription identifier; 0 = none */
} mq_sub_opts_t;

typedef struct mq_topic_node mq_topic_node_t;

typedef struct mq_topic_tree {
    mq_mem_t *mem;
    mq_topic_node_t *root;
    uint32_t max_nodes;   /* 0 = unlimited */
    uint32_t nodes;       /* live nodes */
    uint64_t subs;        /* live subscriptions */
} mq_topic_tree_t;

/* Returns MQ_OK or MQ_ENOMEM. */
int mq_topic_tree_init(mq_topic_tree_t *t, mq_mem_t *mem, uint32_t max_nodes);
/* Frees every node and subscription record. */
void mq_topic_tree_destroy(mq_topic_tree_t *t);

/*
 * Adds (subscriber, filter) or, if that pair exists, replaces its options
 * (MQTT-3.8.4-3). filter must be valid (mq_topic_filter_valid).
 * Returns 0 when added, 1 when replaced, MQ_ENOMEM, MQ_ELIMIT (node limit)
 * or MQ_EINVAL (NULL subscriber or opts).
 * A failed call leaves the tree unchanged.
 */
int mq_topic_subscribe(mq_topic_tree_t *t, const uint8_t *filter, size_t len, void *subscriber,
                       const mq_sub_opts_t *opts);

/* Removes (subscriber, filter); prunes empty nodes. MQ_OK or MQ_ENOTFOUND. */
int mq_topic_unsubscribe(mq_topic_tree_t *t, const uint8_t *filter, size_t len,
                         void *subscriber);

/* Called once per matching subscription (a subscriber with overlapping
 * filters is reported once per filter: the caller merges). The callback
 * must not change the tree. */
typedef void (*mq_topic_match_fn)(void *ctx, void *subscriber, const mq_sub_opts_t *opts);

/* topic must be a valid topic name (no wildcards). */
void mq_topic_match(const mq_topic_tree_t *t, const uint8_t *topic, size_t len,
                    mq_topic_match_fn fn, void *ctx);

#endif

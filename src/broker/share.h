/*
 * share — shared subscriptions ("$share/{group}/{filter}", MQTT 5 4.8.2).
 *
 * A group is one subscriber in the subscription tree (under {filter}); its
 * members are sessions. Each matching message goes to one member, chosen
 * round robin (or at random) among the members whose connection is up, or,
 * when none is, round robin among all (an offline persistent member queues
 * it).
 * Owns: the groups and their member arrays. Sessions are borrowed: a session
 * leaves its groups (through its subscription records) before it is freed.
 * No system calls.
 */
#ifndef MQ_BROKER_SHARE_H
#define MQ_BROKER_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "mem.h"
#include "session.h"
#include "topic.h"

typedef struct mq_share_member {
    mq_session_t *s;
    mq_sub_opts_t opts;
} mq_share_member_t;

typedef struct mq_share {
    uint8_t kind;               /* MQ_SUBSCRIBER_SHARE: must be first */
    struct mq_share *next;
    uint16_t name_len;
    uint16_t filter_len;
    char *name;                 /* the group name */
    char *filter;               /* the filter after "$share/{group}/" */
    mq_share_member_t *members;
    uint32_t n;
    uint32_t cap;
    uint32_t rr;                /* next member to try */
} mq_share_t;

typedef struct mq_share_set {
    mq_mem_t *mem;
    mq_share_t *head;
    uint32_t count;
} mq_share_set_t;

void mq_share_set_init(mq_share_set_t *set, mq_mem_t *mem);
/* Frees every group (callers have removed them from the tree). */
void mq_share_set_destroy(mq_share_set_t *set);

mq_share_t *mq_share_find(const mq_share_set_t *set, const uint8_t *name, size_t name_len,
                          const uint8_t *filter, size_t filter_len);
/* A new empty group, or NULL when memory is short. */
mq_share_t *mq_share_create(mq_share_set_t *set, const uint8_t *name, size_t name_len,
                            const uint8_t *filter, size_t filter_len);
void mq_share_free(mq_share_set_t *set, mq_share_t *g);

/* Adds s (0) or updates its options (1); MQ_ENOMEM. */
int mq_share_join(mq_share_set_t *set, mq_share_t *g, mq_session_t *s, const mq_sub_opts_t *opts);
/* Removes s; returns true if it was a member. */
bool mq_share_leave(mq_share_t *g, const mq_session_t *s);

/* The member that gets the next message (NULL for an empty group).
 * online(s) tells whether a member's connection is up. With a non-NULL
 * random value rnd, the member is a random online one (MQ_SHARE_RANDOM);
 * otherwise the next online one in turn. */
mq_share_member_t *mq_share_pick(mq_share_t *g, bool (*online)(const mq_session_t *s),
                                 const uint32_t *rnd);

#endif

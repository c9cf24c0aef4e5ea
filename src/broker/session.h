/*
 * session — MQTT session state and the session store.
 *
 * A session outlives its connections when Clean Session is 0 (MQTT-3.1.2-4):
 * it owns the client's subscriptions list, its outgoing QoS 1/2 messages in
 * flight (in send order, for redelivery with DUP on resume, MQTT-4.4.0-1),
 * the messages queued beyond the inflight window or while offline (bounded
 * by max_queued_messages / max_queued_bytes), and the packet ids of incoming
 * QoS 2 messages awaiting PUBREL (exactly-once, MQTT-4.3.3-2).
 *
 * The store is a hash table keyed by client id. All state sits behind these
 * functions so that a later durable store can back them without changing
 * the broker (docs/DESIGN.md). No system calls.
 */
#ifndef MQ_BROKER_SESSION_H
#define MQ_BROKER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "mem.h"
#include "msg.h"
#include "timer.h"

struct mq_conn;

enum mq_inflight_state {
    MQ_WAIT_PUBACK = 1,  /* QoS 1 PUBLISH sent */
    MQ_WAIT_PUBREC = 2,  /* QoS 2 PUBLISH sent */
    MQ_WAIT_PUBCOMP = 3  /* PUBREL sent */
};

/* Subscription identifiers kept with a queued or inflight delivery. */
#define MQ_SESSION_IDS 4

typedef struct mq_ids {
    uint32_t v[MQ_SESSION_IDS];
    uint8_t n;
} mq_ids_t;

typedef struct mq_inflight {
    struct mq_inflight *next;
    struct mq_inflight *prev;
    mq_msg_t *msg;       /* NULL once PUBREC arrived (the message is no longer needed) */
    uint16_t pid;
    uint8_t qos;
    uint8_t state;       /* enum mq_inflight_state */
    bool retain;
    mq_ids_t ids;
} mq_inflight_t;

typedef struct mq_queued {
    struct mq_queued *next;
    mq_msg_t *msg;
    uint8_t qos;
    bool retain;
    mq_ids_t ids;
} mq_queued_t;

/* What the subscription tree's opaque subscriber pointers point at: a
 * session, or a shared-subscription group (share.h). Both start with kind. */
enum mq_subscriber_kind { MQ_SUBSCRIBER_SESSION = 1, MQ_SUBSCRIBER_SHARE = 2 };

struct mq_share;

typedef struct mq_subrec {
    struct mq_subrec *next;
    struct mq_subrec *prev;
    struct mq_subrec *hnext;  /* chain in the session's filter hash */
    uint32_t hash;
    struct mq_share *share; /* the group for "$share/group/filter", else NULL */
    uint16_t len;
    uint8_t qos;
    char filter[];       /* len bytes + NUL: the whole filter as subscribed */
} mq_subrec_t;

/* Session Expiry Interval meaning "never expires" (MQTT 5 3.1.2.11.2). */
#define MQ_EXPIRY_NEVER UINT32_MAX

typedef struct mq_session {
    uint8_t kind;               /* MQ_SUBSCRIBER_SESSION: must be first */
    struct mq_session *hnext;   /* hash chain */
    uint32_t hash;
    uint16_t id_len;
    char *client_id;            /* NUL-terminated, owned */
    struct mq_conn *conn;       /* NULL while offline */
    bool clean;                 /* 3.x clean session: ends with its connection */
    uint8_t proto;              /* protocol level of the last connection */
    uint32_t expiry_interval;   /* seconds kept after disconnect (MQ_EXPIRY_NEVER) */
    mq_timer_t expiry;          /* offline expiry */
    /* MQTT 5 Will Delay: the will waits here after the connection is gone. */
    mq_msg_t *will;
    mq_timer_t will_timer;

    mq_subrec_t *subs;          /* every subscription, for iteration */
    uint32_t nsubs;
    mq_subrec_t **sub_buckets;  /* the same, by filter: O(1) (un)subscribe */
    uint32_t sub_nbuckets;      /* power of two, or 0 */

    mq_inflight_t *inf_head, *inf_tail;
    uint32_t ninflight;
    uint16_t next_pid;

    mq_queued_t *q_head, *q_tail;
    uint32_t nqueued;
    uint64_t queued_bytes;

    /* Incoming QoS 2 packet ids awaiting PUBREL: a small array, then a bitmap. */
    uint16_t *in_pids;
    uint32_t nin;
    uint32_t in_cap;
    uint8_t *in_bitmap;         /* 8 KiB once the array is outgrown */

    /* Routing scratch: the broker merges overlapping subscriptions per PUBLISH. */
    uint64_t match_gen;
    uint8_t match_qos;
    bool match_rap;             /* some matching subscription has Retain As Published */
    int32_t match_ids;          /* head of this session's subscription ids in the scratch list */
} mq_session_t;

typedef struct mq_session_store {
    mq_mem_t *mem;
    mq_pool_t pool;
    mq_session_t **buckets;
    uint32_t nbuckets;          /* power of two */
    uint32_t count;
    /* Bytes held by every session's queue and inflight window: the entries,
     * plus each message they reference counted once (mq_msg_t.held_refs).
     * What max_queued_memory bounds (deliver.c decides; this file counts). */
    uint64_t held;
} mq_session_store_t;

int mq_session_store_init(mq_session_store_t *st, mq_mem_t *mem, uint32_t max_sessions);
/* Frees every session (callers release per-session resources first via
 * mq_session_free, or pass a store whose sessions are all gone). */
void mq_session_store_destroy(mq_session_store_t *st);

mq_session_t *mq_session_find(const mq_session_store_t *st, const char *id, size_t len);
/* New empty session registered under id. NULL on memory/limit failure. */
mq_session_t *mq_session_create(mq_session_store_t *st, const char *id, size_t len);
/* Unregisters and frees s with everything it owns (not its tree subscriptions:
 * the broker removes those first through s->subs). */
void mq_session_free(mq_session_store_t *st, mq_session_t *s);

/* Subscriptions list (for cleanup and counting). */
mq_subrec_t *mq_session_sub_find(mq_session_t *s, const uint8_t *filter, size_t len);
mq_subrec_t *mq_session_sub_add(mq_session_store_t *st, mq_session_t *s, const uint8_t *filter,
                                size_t len, uint8_t qos);
void mq_session_sub_remove(mq_session_store_t *st, mq_session_t *s, mq_subrec_t *r);

/* Outgoing inflight messages. */
/* A packet id not used by any inflight message (never 0). */
uint16_t mq_session_next_pid(mq_session_t *s);
mq_inflight_t *mq_session_inflight_add(mq_session_store_t *st, mq_session_t *s, mq_msg_t *msg,
                                       uint16_t pid, uint8_t qos, bool retain,
                                       const mq_ids_t *ids);
mq_inflight_t *mq_session_inflight_find(mq_session_t *s, uint16_t pid);
void mq_session_inflight_remove(mq_session_store_t *st, mq_session_t *s, mq_inflight_t *f);
/* PUBREC received: the entry keeps only its id; the message is released. */
void mq_session_inflight_release_msg(mq_session_store_t *st, mq_inflight_t *f);
/* The bytes a new queue or inflight entry for msg would add to st->held. */
uint64_t mq_session_hold_cost(const mq_msg_t *msg, bool inflight);

/* Offline / overflow queue. Takes a new reference to msg. */
int mq_session_queue_push(mq_session_store_t *st, mq_session_t *s, mq_msg_t *msg, uint8_t qos,
                          bool retain, const mq_ids_t *ids);
/* Pops the head into *out; the caller receives the queue's message reference. */
bool mq_session_queue_pop(mq_session_store_t *st, mq_session_t *s, mq_queued_t *out);

/* Incoming QoS 2 ids. has: true if present. add: MQ_OK/MQ_ENOMEM. */
bool mq_session_in_has(const mq_session_t *s, uint16_t pid);
int mq_session_in_add(mq_session_store_t *st, mq_session_t *s, uint16_t pid);
void mq_session_in_remove(mq_session_t *s, uint16_t pid);

#endif

/*
 * internal — the broker's own state, shared by its modules:
 *   broker.c    the object: lifetime, input framing, connections, timers,
 *               output API, closing (with MQTT 5 DISCONNECT reason codes);
 *   handlers.c  one function per packet type (the protocol state machine);
 *   deliver.c   routing and delivery: topic match, overlapping and shared
 *               subscriptions, QoS windows, queues, retained, wills, and
 *               the per-subscriber wire form (aliases, expiry, ids), and the
 *               max_queued_memory ceiling;
 *   sys.c       the $SYS/broker tree, published through mq__route.
 * Nothing outside src/broker includes this. No system calls.
 */
#ifndef MQ_BROKER_INTERNAL_H
#define MQ_BROKER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alias.h"
#include "mem.h"
#include "msg.h"
#include "musqratt/broker.h"
#include "outq.h"
#include "retain.h"
#include "session.h"
#include "share.h"
#include "timer.h"
#include "topic.h"

enum mq__conn_state { MQ__CONN_NEW = 0, MQ__CONN_ACTIVE = 1, MQ__CONN_CLOSING = 2 };
enum mq__timer_kind {
    MQ__TIMER_CONN = 1,
    MQ__TIMER_SESSION = 2,
    MQ__TIMER_WILL = 3,
    MQ__TIMER_SYS = 4 /* the $SYS update (sys.c), embedded in the broker */
};

/* Subscription ids gathered for one PUBLISH at most (more are not sent). */
#define MQ__MAX_ROUTE_IDS 32

struct mq_conn {
    void *user;
    mq_session_t *session;
    struct mq_conn *prev, *next;           /* all connections */
    struct mq_conn *pend_prev, *pend_next; /* connections with new output */
    bool in_pending;
    uint8_t state;                         /* enum mq__conn_state */
    uint8_t proto;                         /* protocol level after CONNECT */
    bool clean_disconnect;                 /* DISCONNECT without will received */
    uint16_t keepalive;                    /* seconds, 0 = none */
    mq_time_t last_rx;
    mq_timer_t timer;                      /* connect timeout, keepalive, close grace */
    mq_msg_t *will;
    uint32_t will_delay;                   /* MQTT 5 Will Delay Interval, seconds */
    /* MQTT 5 limits the client announced. */
    uint8_t request_problem_info;
    uint16_t client_receive_max;
    uint32_t client_max_packet;            /* 0 = no limit */
    uint16_t client_alias_max;
    mq_alias_table_t alias_in;
    mq_alias_table_t alias_out;
    mq_outq_t out;
    uint16_t listener;                     /* platform's listener index */
    char *identity;                        /* from the transport, or NULL */
    char *username;                        /* after an accepted CONNECT, or NULL */
    /* A packet that arrived in pieces; grows with the bytes received, never
     * to the announced size up front (a slow client cannot reserve memory). */
    uint8_t *stash;
    uint32_t stash_len;
    uint32_t stash_cap;
    uint32_t stash_need;                   /* whole packet size, 0 until the header is complete */
    mq_fixed_header_t stash_fh;
};

/* sys.c: the moving averages of $SYS/broker/load/... */
enum mq__sys_load {
    MQ__LOAD_MSGS_RX, MQ__LOAD_MSGS_TX, MQ__LOAD_PUB_DROPPED, MQ__LOAD_PUB_RX, MQ__LOAD_PUB_TX,
    MQ__LOAD_BYTES_RX, MQ__LOAD_BYTES_TX, MQ__LOAD_SOCKETS, MQ__LOAD_CONNECTIONS,
    MQ__LOAD_COUNT
};
/* sys.c: the counters and gauges published under $SYS/broker/ */
#define MQ__SYS_VALUES 24

/* The $SYS tree's state (sys.c). */
typedef struct mq__sys {
    mq_timer_t timer;                      /* MQ__TIMER_SYS, every sys_interval */
    mq_time_t last;                        /* time of the last update */
    bool started;                          /* the first (complete) update went out */
    uint64_t prev[MQ__LOAD_COUNT];         /* counters at the last update */
    double load[MQ__LOAD_COUNT][3];        /* per minute, over 1, 5, 15 minutes */
    uint64_t shown[MQ__SYS_VALUES];        /* last values published: only changes go out */
    uint64_t load_shown[MQ__LOAD_COUNT][3]; /* the same for the averages, in hundredths */
} mq__sys_t;

typedef struct mq__route_id {
    uint32_t id;
    int32_t next;
} mq__route_id_t;

struct mq_broker {
    mq_platform_t plat;
    mq_broker_config_t cfg;
    mq_mem_t mem;
    mq_pool_t conn_pool;
    mq_outq_pools_t outp;
    mq_session_store_t sessions;
    mq_topic_tree_t subs;
    mq_retain_store_t retained;
    mq_share_set_t shares;
    mq_timer_heap_t timers;
    mq_conn_t *conns;
    uint32_t nconns;
    mq_conn_t *pend_head, *pend_tail;
    mq_time_t now;                         /* time of the current call */
    /* Routing scratch for the PUBLISH being routed. */
    uint64_t match_gen;
    const mq_session_t *route_from;        /* publisher (No Local) */
    mq_session_t **matches;
    uint32_t nmatches;
    uint32_t matches_cap;
    mq_share_t **shared;
    uint32_t nshared;
    uint32_t shared_cap;
    mq__route_id_t *ids;
    uint32_t nids;
    uint32_t ids_cap;
    mq_broker_stats_t stats;
    /* Observability and overload protection. */
    mq__sys_t sys;
    uint32_t nactive;                      /* connections in MQ__CONN_ACTIVE */
    uint32_t route_refused;                /* deliveries of the PUBLISH being routed
                                              refused by max_queued_memory */
    bool quota_logged;
    mq_time_t quota_log_at;                /* last "max_queued_memory reached" line */
    uint64_t quota_log_count;              /* refusals at that line */
};

/* broker.c */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void mq__log(mq_broker_t *b, int level, const char *fmt, ...);
const char *mq__conn_name(const mq_conn_t *c);
void mq__mark_pending(mq_broker_t *b, mq_conn_t *c);
/* Replaces *slot (a NUL-terminated copy in the core allocator, or NULL)
 * with a copy of s[0..len), or with NULL when s is NULL. */
int mq__conn_set_str(mq_broker_t *b, char **slot, const char *s, size_t len);
int mq__out_bytes(mq_broker_t *b, mq_conn_t *c, const void *bytes, size_t n);
/* An ack; MQTT 5 gets the reason code (and the long form when it is not 0). */
int mq__out_ack(mq_broker_t *b, mq_conn_t *c, uint8_t type, uint16_t pid, uint8_t reason);
/* Closes c once its output is out. MQTT 5 connections that got a CONNACK
 * are sent DISCONNECT with reason (0 = none sent). */
void mq__conn_close(mq_broker_t *b, mq_conn_t *c, uint8_t reason, const char *why);
/* Takes one subscription record out of the tree (or its shared group). */
void mq__sub_detach(mq_broker_t *b, mq_session_t *s, const mq_subrec_t *r);
/* Drops c's will when the ACL refuses it (MQ_ACL_WRITE on its topic). */
void mq__will_check(mq_broker_t *b, mq_conn_t *c);
/* Ends a session: removes its subscriptions, publishes a delayed will. */
void mq__session_end(mq_broker_t *b, mq_session_t *s);

/* Leaves MQ__CONN_ACTIVE (closing or lost): the connected-clients gauge. */
void mq__conn_inactive(mq_broker_t *b, mq_conn_t *c);

/* sys.c: the $SYS/broker tree, published through mq__route like any message */
/* Arms the first update at cfg.start_time (no-op when sys_interval is 0). */
void mq__sys_init(mq_broker_t *b);
/* The update timer fired: publishes what changed, re-arms. */
void mq__sys_update(mq_broker_t *b, mq_time_t now);
/* True for a topic clients may not publish to: $SYS and below. Inline:
 * every PUBLISH asks (one byte compare in the common case). */
static inline bool mq__sys_topic(const uint8_t *topic, size_t len)
{
    return len >= 4 && topic[0] == '$' && topic[1] == 'S' && topic[2] == 'Y' &&
           topic[3] == 'S' && (len == 4 || topic[4] == '/');
}

/* handlers.c */
int mq__handle_packet(mq_broker_t *b, mq_conn_t *c, const mq_fixed_header_t *fh,
                      const uint8_t *body);
/* The MQTT 5 reason code for a decode error of a packet of this type. */
uint8_t mq__reason_of(int err, uint8_t type);

/* deliver.c */
bool mq__online(const mq_session_t *s);
/* Routes msg to every matching subscription. Returns the number of
 * sessions it went to (for MQTT 5's 0x10 No matching subscribers). */
uint32_t mq__route(mq_broker_t *b, mq_msg_t *msg, const mq_session_t *from);
/* Stores, replaces or clears the retained message for msg's topic. */
void mq__retain_store(mq_broker_t *b, mq_msg_t *msg);
/* Publishes and releases a will message. */
void mq__publish_will(mq_broker_t *b, mq_msg_t *will);
/* Retained messages matching filter, for a new subscription. */
void mq__deliver_retained(mq_broker_t *b, mq_session_t *s, const uint8_t *filter, size_t len,
                          const mq_sub_opts_t *opts);
/* After a resume: resends inflight (DUP) and PUBREL, then the queue. */
void mq__resume(mq_broker_t *b, mq_session_t *s);
/* Moves queued messages into the inflight window while it has room. */
void mq__pump(mq_broker_t *b, mq_session_t *s);

#endif

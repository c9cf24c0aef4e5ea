/*
 * musqratt — the sans-I/O broker core.
 *
 * The broker takes bytes, connection events and the current time, and gives
 * back bytes per connection and a timer deadline. It never makes a system
 * call, never blocks, allocates only through the platform's allocator and
 * copies every input byte it keeps.
 *
 * A platform drives it like this (see src/platform/linux/loop.c):
 *
 *   b = mq_broker_new(&platform, &config);
 *   on accept:      c = mq_broker_conn_open(b, user, now);   NULL => close socket
 *   on readable:    rc = mq_broker_conn_input(b, c, buf, n, now);
 *                   rc < 0 => the connection must close once its output is sent
 *   on EOF / error: mq_broker_conn_lost(b, c, now);           c is freed
 *   each loop iteration, after the events:
 *                   deadline = mq_broker_tick(b, now);
 *                   while ((c = mq_broker_pending(b))) flush c:
 *                       n = mq_conn_out_iov(c, iov, IOV_MAX); writev(...);
 *                       mq_conn_out_consume(b, c, written);
 *                       if (mq_conn_out_size(c) == 0 && mq_conn_closing(c))
 *                           close socket; mq_broker_conn_lost(b, c, now);
 *                       (partial write: keep polling for EPOLLOUT, flush again)
 *
 * Ownership: the broker owns every mq_conn_t; the platform holds a borrowed
 * pointer from mq_broker_conn_open() until it calls mq_broker_conn_lost().
 * Memory behind mq_conn_out_iov() stays valid until the next call of
 * mq_conn_out_consume() or mq_broker_conn_lost() on that connection.
 */
#ifndef MUSQRATT_BROKER_H
#define MUSQRATT_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "platform.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mq_broker mq_broker_t;
typedef struct mq_conn mq_conn_t;

/*
 * Authentication hook: returns a CONNACK return code (0 = accepted).
 * Called with the connection (for mq_conn_listener() and mq_conn_identity())
 * and the decoded CONNECT (its fields point into transient input).
 */
typedef int (*mq_auth_fn)(void *ctx, const mq_conn_t *c, const mq_connect_t *connect);

/* What a client wants to do with a topic, for the ACL hook. */
enum mq_acl_access {
    MQ_ACL_READ = 1,      /* a message on this topic is delivered to the client */
    MQ_ACL_WRITE = 2,     /* the client publishes on this topic (also its will) */
    MQ_ACL_SUBSCRIBE = 4  /* the client subscribes with this filter */
};

/*
 * Access control hook: returns true when client c may do `access` on
 * topic[0..len) (a topic name, or a topic filter for MQ_ACL_SUBSCRIBE).
 * Called on the hot path (every delivery when set): keep it cheap.
 */
typedef bool (*mq_acl_fn)(void *ctx, const mq_conn_t *c, const char *topic, size_t len,
                          int access);

/*
 * MQTT 5 enhanced authentication hook (section 4.12), one step: called for a
 * CONNECT that carries an Authentication Method, with that method and the
 * Authentication Data (ptr NULL when absent). It may write response data
 * into out (capacity *out_len; set *out_len to the bytes written) that goes
 * back in the CONNACK. Returns MQ_RC_SUCCESS, MQ_RC_BAD_AUTH_METHOD for a
 * method it does not know, or another MQTT 5 reason code >= 0x80.
 * With no hook, every method gets 0x8C Bad authentication method.
 */
typedef int (*mq_enhanced_auth_fn)(void *ctx, mq_str_t method, mq_str_t data, uint8_t *out,
                                   size_t *out_len);

/* How a shared subscription group picks the member for each message. */
enum mq_share_strategy {
    MQ_SHARE_ROUND_ROBIN = 0, /* the next online member in turn (default) */
    MQ_SHARE_RANDOM = 1       /* a random online member */
};

typedef struct mq_broker_config {
    uint32_t max_connections;       /* 0 = unlimited */
    uint32_t max_packet_size;       /* bytes, whole packet; 0 = 268435460 */
    uint16_t max_inflight;          /* outgoing QoS 1/2 per client; 0 = 20 */
    uint32_t max_queued_messages;   /* per client, beyond inflight; 0 = unlimited */
    uint64_t max_queued_bytes;      /* per client payload bytes; 0 = unlimited */
    bool queue_qos0_messages;       /* queue QoS 0 for offline persistent sessions */
    uint32_t message_size_limit;    /* max PUBLISH payload; 0 = unlimited */
    uint16_t max_keepalive;         /* seconds; 0 = no limit (keepalive 0 allowed) */
    bool allow_anonymous;           /* default true */
    bool retain_available;          /* default true */
    bool allow_zero_length_clientid;/* default true */
    uint64_t max_memory;            /* bytes the core may hold; 0 = unlimited */
    uint32_t max_sessions;          /* live + offline sessions; 0 = unlimited */
    uint32_t max_topic_nodes;       /* subscription + retained tree nodes; 0 = unlimited */
    uint32_t max_subscriptions_per_client; /* 0 = unlimited */
    uint32_t persistent_client_expiration; /* seconds an offline session is kept; 0 = forever */
    uint32_t connect_timeout;       /* seconds from accept to CONNECT; 0 = no limit (default 10) */
    uint32_t close_timeout;         /* seconds a closing connection may take to drain its
                                       output before it is dropped (default 5) */
    uint8_t shared_strategy;        /* enum mq_share_strategy */
    uint16_t max_topic_alias;       /* MQTT 5 Topic Alias Maximum accepted from clients
                                       (Mosquitto's max_topic_alias; default 10) */
    const char *response_information; /* MQTT 5 Response Information sent when a client
                                         requests it; NULL = none (borrowed) */
    bool connection_messages;       /* log each client's connection (default true) */
    mq_auth_fn auth;                /* NULL: allow_anonymous decides */
    void *auth_ctx;
    mq_enhanced_auth_fn enhanced_auth; /* NULL: no authentication method */
    void *enhanced_auth_ctx;
    mq_acl_fn acl;                  /* NULL: everything allowed */
    void *acl_ctx;
    /* ---- observability and overload protection ($SYS, queued memory) ---- */
    uint32_t sys_interval;          /* seconds between $SYS/broker/... updates; 0 = no
                                       $SYS tree (Mosquitto's sys_interval, default 10) */
    mq_time_t start_time;           /* the platform clock when the broker started: the
                                       first $SYS update and $SYS/broker/uptime count from it */
    const char *version;            /* payload of $SYS/broker/version; NULL = "musqratt"
                                       (borrowed: must outlive the broker) */
    uint64_t max_queued_memory;     /* bytes all sessions may hold in queued and inflight
                                       deliveries (entries + each message once); past it new
                                       QoS>0 (and offline) deliveries are refused; 0 = unlimited */
} mq_broker_config_t;

/* Fills *cfg with the defaults (Mosquitto's, where it has one). */
void mq_broker_config_defaults(mq_broker_config_t *cfg);

typedef struct mq_broker_stats {
    uint64_t connections;           /* open connections */
    uint64_t sessions;              /* live + offline */
    uint64_t subscriptions;
    uint64_t retained;
    uint64_t msgs_received;         /* PUBLISH packets in */
    uint64_t msgs_sent;             /* PUBLISH packets out */
    uint64_t msgs_dropped;          /* dropped by queue limits (logged) */
    uint64_t bytes_received;
    uint64_t bytes_sent;
    uint64_t memory_used;           /* bytes held through the allocator */
    uint64_t memory_peak;
    /* ---- $SYS and metrics counters (each kept by one increment where it happens) ---- */
    uint64_t packets_received;      /* MQTT packets of every type in */
    uint64_t packets_sent;          /* MQTT packets of every type queued out */
    uint64_t pub_bytes_received;    /* PUBLISH payload bytes in */
    uint64_t pub_bytes_sent;        /* PUBLISH payload bytes out */
    uint64_t connects;              /* CONNECT packets received */
    uint64_t sockets;               /* connections opened (mq_broker_conn_open calls) */
    uint64_t conns_refused;         /* of those, refused (max_connections, memory) */
    uint64_t clients_connected;     /* connections past CONNECT and not closing */
    uint64_t clients_maximum;       /* the highest clients_connected so far */
    uint64_t clients_expired;       /* offline sessions ended by their expiry */
    uint64_t stored_msgs;           /* messages held: retained, queued, in flight, in output */
    uint64_t stored_bytes;          /* their payload bytes */
    uint64_t queued_memory;         /* bytes held by queued and inflight deliveries */
    uint64_t quota_dropped;         /* deliveries refused by max_queued_memory (also in
                                       msgs_dropped) */
    uint64_t sys_denied;            /* PUBLISH / wills into $SYS refused */
    uint64_t shared_subscriptions;  /* members of shared subscription groups ($share/...) */
} mq_broker_stats_t;

/* Returns NULL on allocation failure. Both structs are copied. */
mq_broker_t *mq_broker_new(const mq_platform_t *platform, const mq_broker_config_t *cfg);
/* Frees every connection, session, message and node. Connections' platform
 * resources are not touched: close them first. */
void mq_broker_free(mq_broker_t *b);

void mq_broker_stats(const mq_broker_t *b, mq_broker_stats_t *out);
/* PUBLISH packets received so far: what stats.msgs_received holds, without
 * the copy (the platform reads it per loop iteration for its latency
 * histogram). */
uint64_t mq_broker_publishes_received(const mq_broker_t *b);

/* Bytes the core holds in live objects now, without its caches of free
 * objects (cheap: for a per-iteration check). */
uint64_t mq_broker_memory(const mq_broker_t *b);
/* Gives the core's cached free objects (pools, size-class free lists) back
 * to the platform allocator, e.g. after many clients left. */
void mq_broker_trim(mq_broker_t *b);

/* A new transport connection. user is the platform's handle (borrowed).
 * Returns NULL when max_connections is reached or memory is short. */
mq_conn_t *mq_broker_conn_open(mq_broker_t *b, void *user, mq_time_t now);

/*
 * Bytes read from the connection. All complete packets are handled; a trailing
 * partial packet is copied into the connection (bounded by max_packet_size).
 * Returns MQ_OK, or a negative MQ_E* code when the connection must be closed
 * (after its pending output, e.g. a CONNACK with an error code, is flushed).
 * Once it returned an error, further input is ignored.
 */
int mq_broker_conn_input(mq_broker_t *b, mq_conn_t *c, const uint8_t *data, size_t len,
                         mq_time_t now);

/* The transport is gone (EOF, error, or the platform closed it after
 * mq_conn_closing()). Publishes the will if the client did not DISCONNECT,
 * detaches or ends the session, and frees c. */
void mq_broker_conn_lost(mq_broker_t *b, mq_conn_t *c, mq_time_t now);

/* Runs expired timers (keepalive, session expiry). Returns the next deadline,
 * or MQ_TIME_NEVER. */
mq_time_t mq_broker_tick(mq_broker_t *b, mq_time_t now);

/* Connections that got output since they were last returned here, one at a
 * time; NULL when none is left. A connection that starts closing (protocol
 * error, keepalive timeout, takeover, close_timeout) is reported here even
 * when it has no output, so the platform can close it. mq_broker_conn_lost()
 * takes a connection off this list. */
mq_conn_t *mq_broker_pending(mq_broker_t *b);

/* Fills up to max iovecs with pending output, in order. Returns their count. */
size_t mq_conn_out_iov(mq_conn_t *c, mq_iov_t *iov, size_t max);
/* n bytes of the output were written. */
void mq_conn_out_consume(mq_broker_t *b, mq_conn_t *c, size_t n);
/* Bytes of pending output. */
size_t mq_conn_out_size(const mq_conn_t *c);
/* True when the connection must be closed once its output is flushed. */
bool mq_conn_closing(const mq_conn_t *c);
/* The platform handle given to mq_broker_conn_open(). */
void *mq_conn_user(const mq_conn_t *c);
/*
 * After the ACL hook changed its mind (e.g. an ACL file was reloaded):
 * asks it again (MQ_ACL_SUBSCRIBE) about every subscription of every
 * connected client and removes those it refuses, so nothing more is
 * delivered through them. Offline sessions are not checked (the hook needs
 * a connection); what reaches them is still checked by MQ_ACL_READ when it
 * is delivered. Returns how many subscriptions were removed (0 without a
 * hook).
 */
size_t mq_broker_recheck_subscriptions(mq_broker_t *b);

/* Client identifier ("" before CONNECT), NUL-terminated, owned by the conn. */
const char *mq_conn_client_id(const mq_conn_t *c);

/* The platform's listener index for this connection (default 0). */
void mq_conn_set_listener(mq_conn_t *c, uint16_t listener);
uint16_t mq_conn_listener(const mq_conn_t *c);

/*
 * A name the transport established before CONNECT (e.g. from a verified TLS
 * client certificate, for use_identity_as_username). The core copies it.
 * When set, the auth hook sees it through mq_conn_identity() and, once the
 * CONNECT is accepted, it is the connection's username instead of the
 * CONNECT's. Returns MQ_OK or MQ_ENOMEM.
 */
int mq_conn_set_identity(mq_broker_t *b, mq_conn_t *c, const char *name);
/* NULL when none was set. Owned by the conn. */
const char *mq_conn_identity(const mq_conn_t *c);
/* The username of an accepted connection (the identity if one was set, else
 * the CONNECT's User Name), NUL-terminated; NULL when it has none. Owned by
 * the conn. */
const char *mq_conn_username(const mq_conn_t *c);

#ifdef __cplusplus
}
#endif
#endif

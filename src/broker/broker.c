/*
 * broker — the MQTT 3.1 / 3.1.1 server state machine.
 *
 * Owns: connections (mq_conn_t), the session store, the subscription tree,
 * the retained store, the timer heap, and through them every message.
 * Never: makes a system call, blocks, or keeps a pointer into caller input
 * (everything kept is copied into an mq_msg_t or a session record).
 *
 * Hot path, one PUBLISH (docs/DESIGN.md walks it): conn_input -> handle_packet
 * -> mq_codec_decode -> handle_publish -> mq_msg_new (the one copy) -> route
 * -> mq_topic_match -> deliver -> mq_outq_publish (a reference, no copy) ->
 * mark_pending; the platform then gathers the queue with mq_conn_out_iov().
 */
#include "musqratt/broker.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "msg.h"
#include "musqratt/error.h"
#include "outq.h"
#include "retain.h"
#include "session.h"
#include "timer.h"
#include "topic.h"

enum conn_state { CONN_NEW = 0, CONN_ACTIVE = 1, CONN_CLOSING = 2 };
enum timer_kind { TIMER_CONN = 1, TIMER_SESSION = 2 };

#define CLIENT_ID_MAX 65535
#define STASH_MIN 256

struct mq_conn {
    void *user;
    mq_session_t *session;
    struct mq_conn *prev, *next;          /* all connections */
    struct mq_conn *pend_prev, *pend_next;/* connections with new output */
    bool in_pending;
    uint8_t state;                        /* enum conn_state */
    uint8_t proto;                        /* protocol level after CONNECT */
    bool clean_disconnect;                /* DISCONNECT received: no will */
    uint16_t keepalive;                   /* seconds, 0 = none */
    mq_time_t last_rx;
    mq_timer_t timer;                     /* connect timeout, keepalive, close grace */
    mq_msg_t *will;
    mq_outq_t out;
    /* A packet that arrived in pieces; grows with the bytes received, never
     * to the announced size up front (a slow client cannot reserve memory). */
    uint8_t *stash;
    uint32_t stash_len;
    uint32_t stash_cap;
    uint32_t stash_need;                  /* whole packet size, 0 until the header is complete */
    mq_fixed_header_t stash_fh;
};

struct mq_broker {
    mq_platform_t plat;
    mq_broker_config_t cfg;
    mq_mem_t mem;
    mq_pool_t conn_pool;
    mq_outq_pools_t outp;
    mq_session_store_t sessions;
    mq_topic_tree_t subs;
    mq_retain_store_t retained;
    mq_timer_heap_t timers;
    mq_conn_t *conns;
    uint32_t nconns;
    mq_conn_t *pend_head, *pend_tail;
    /* Routing scratch: sessions matched by the current PUBLISH. */
    uint64_t match_gen;
    mq_session_t **matches;
    uint32_t nmatches;
    uint32_t matches_cap;
    mq_broker_stats_t stats;
};

/* ---- small helpers ------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void blog(mq_broker_t *b, int level, const char *fmt, ...)
{
    if (!b->plat.log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    b->plat.log(b->plat.log_ctx, level, buf);
}

static const char *conn_name(const mq_conn_t *c)
{
    return c->session ? c->session->client_id : "(unknown)";
}

static void mark_pending(mq_broker_t *b, mq_conn_t *c)
{
    if (c->in_pending)
        return;
    c->in_pending = true;
    c->pend_next = NULL;
    c->pend_prev = b->pend_tail;
    if (b->pend_tail)
        b->pend_tail->pend_next = c;
    else
        b->pend_head = c;
    b->pend_tail = c;
}

static void unmark_pending(mq_broker_t *b, mq_conn_t *c)
{
    if (!c->in_pending)
        return;
    if (c->pend_prev)
        c->pend_prev->pend_next = c->pend_next;
    else
        b->pend_head = c->pend_next;
    if (c->pend_next)
        c->pend_next->pend_prev = c->pend_prev;
    else
        b->pend_tail = c->pend_prev;
    c->in_pending = false;
}

static mq_conn_t *conn_of_timer(mq_timer_t *t)
{
    return (mq_conn_t *)(void *)((char *)t - offsetof(mq_conn_t, timer));
}

static mq_session_t *session_of_timer(mq_timer_t *t)
{
    return (mq_session_t *)(void *)((char *)t - offsetof(mq_session_t, expiry));
}

/* Writes control-packet bytes into c's output. */
static int out_bytes(mq_broker_t *b, mq_conn_t *c, const void *bytes, size_t n)
{
    int rc = mq_outq_bytes(&c->out, &b->outp, bytes, n);
    if (rc == MQ_OK)
        mark_pending(b, c);
    return rc;
}

static int out_ack(mq_broker_t *b, mq_conn_t *c, uint8_t type, uint16_t pid)
{
    uint8_t p[4] = {(uint8_t)((type << 4) | (type == MQ_PKT_PUBREL ? 0x2 : 0)), 2,
                    (uint8_t)(pid >> 8), (uint8_t)(pid & 0xff)};
    return out_bytes(b, c, p, sizeof(p));
}

static int out_connack(mq_broker_t *b, mq_conn_t *c, bool sp, uint8_t rc)
{
    if (c->proto == MQ_PROTO_V5) {
        uint8_t p[5] = {MQ_PKT_CONNACK << 4, 3, sp ? 1 : 0, rc, 0};
        return out_bytes(b, c, p, sizeof(p));
    }
    /* MQTT 3.1 has no session present flag: the byte is reserved (0). */
    uint8_t p[4] = {MQ_PKT_CONNACK << 4, 2, (sp && c->proto == MQ_PROTO_V311) ? 1 : 0, rc};
    return out_bytes(b, c, p, sizeof(p));
}

/* Marks c for closing: the platform closes it once its output is written.
 * A peer that does not read gets close_timeout seconds, then loses its output. */
static void conn_close(mq_broker_t *b, mq_conn_t *c, mq_time_t now, const char *why)
{
    if (c->state == CONN_CLOSING)
        return;
    if (why)
        blog(b, MQ_LOG_INFO, "client %s closing: %s", conn_name(c), why);
    c->state = CONN_CLOSING;
    if (b->cfg.close_timeout)
        mq_timer_set(&b->timers, &c->timer, now + (mq_time_t)b->cfg.close_timeout * 1000u);
    else
        mq_timer_cancel(&b->timers, &c->timer);
    mark_pending(b, c);
}

/* ---- configuration and lifetime ---------------------------------------- */

void mq_broker_config_defaults(mq_broker_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_inflight = 20;           /* Mosquitto: max_inflight_messages 20 */
    cfg->max_queued_messages = 1000;  /* Mosquitto: max_queued_messages 1000 */
    cfg->allow_anonymous = true;
    cfg->retain_available = true;
    cfg->allow_zero_length_clientid = true;
    cfg->connect_timeout = 10;
    cfg->close_timeout = 5;
}

static void release_retained(void *ctx, void *value)
{
    mq_broker_t *b = ctx;
    mq_msg_unref(&b->mem, value);
}

mq_broker_t *mq_broker_new(const mq_platform_t *platform, const mq_broker_config_t *cfg)
{
    if (!platform || !platform->allocator.alloc || !platform->allocator.free || !cfg)
        return NULL;
    mq_broker_t *b = platform->allocator.alloc(platform->allocator.ctx, sizeof(*b));
    if (!b)
        return NULL;
    memset(b, 0, sizeof(*b));
    b->plat = *platform;
    b->cfg = *cfg;
    if (b->cfg.max_inflight == 0)
        b->cfg.max_inflight = 20;
    if (b->cfg.max_packet_size == 0 || b->cfg.max_packet_size > MQ_MAX_REMAINING_LENGTH + 5)
        b->cfg.max_packet_size = MQ_MAX_REMAINING_LENGTH + 5;
    mq_mem_init(&b->mem, &platform->allocator, cfg->max_memory);
    mq_pool_init(&b->conn_pool, &b->mem, sizeof(mq_conn_t), 0);
    mq_outq_pools_init(&b->outp, &b->mem);
    mq_timer_heap_init(&b->timers, &b->mem);
    if (mq_session_store_init(&b->sessions, &b->mem, cfg->max_sessions) != MQ_OK)
        goto fail;
    if (mq_topic_tree_init(&b->subs, &b->mem, cfg->max_topic_nodes) != MQ_OK)
        goto fail;
    if (mq_retain_init(&b->retained, &b->mem, cfg->max_topic_nodes, release_retained, b) != MQ_OK)
        goto fail;
    return b;
fail:
    mq_broker_free(b);
    return NULL;
}

static void conn_release(mq_broker_t *b, mq_conn_t *c)
{
    mq_outq_clear(&c->out, &b->outp);
    mq_msg_unref(&b->mem, c->will);
    mq_mem_free(&b->mem, c->stash, c->stash_cap);
    mq_timer_cancel(&b->timers, &c->timer);
    mq_pool_put(&b->conn_pool, c);
}

void mq_broker_free(mq_broker_t *b)
{
    if (!b)
        return;
    while (b->conns) {
        mq_conn_t *c = b->conns;
        b->conns = c->next;
        if (c->session)
            c->session->conn = NULL;
        conn_release(b, c);
    }
    if (b->sessions.buckets) {
        /* Sessions first (they reference tree entries), then the trees. */
        for (uint32_t i = 0; i < b->sessions.nbuckets; i++) {
            for (mq_session_t *s = b->sessions.buckets[i]; s; s = s->hnext)
                mq_timer_cancel(&b->timers, &s->expiry);
        }
        mq_session_store_destroy(&b->sessions);
    }
    if (b->subs.root)
        mq_topic_tree_destroy(&b->subs);
    if (b->retained.root)
        mq_retain_destroy(&b->retained);
    mq_timer_heap_destroy(&b->timers);
    mq_mem_free(&b->mem, b->matches, b->matches_cap * sizeof(*b->matches));
    mq_outq_pools_destroy(&b->outp);
    mq_pool_trim(&b->conn_pool);
    if (b->mem.used)
        blog(b, MQ_LOG_WARNING, "%llu bytes still held at shutdown",
             (unsigned long long)b->mem.used);
    mq_allocator_t a = b->plat.allocator;
    a.free(a.ctx, b, sizeof(*b));
}

void mq_broker_stats(const mq_broker_t *b, mq_broker_stats_t *out)
{
    *out = b->stats;
    out->connections = b->nconns;
    out->sessions = b->sessions.count;
    out->subscriptions = b->subs.subs;
    out->retained = b->retained.count;
    out->memory_used = b->mem.used;
    out->memory_peak = b->mem.peak;
}

/* ---- sessions ----------------------------------------------------------- */

static void session_destroy(mq_broker_t *b, mq_session_t *s)
{
    for (mq_subrec_t *r = s->subs; r; r = r->next)
        mq_topic_unsubscribe(&b->subs, (const uint8_t *)r->filter, r->len, s);
    mq_timer_cancel(&b->timers, &s->expiry);
    mq_session_free(&b->sessions, s);
}

/* ---- delivery ------------------------------------------------------------ */

static bool out_full(const mq_broker_t *b, const mq_conn_t *c)
{
    if (b->cfg.max_queued_messages &&
        c->out.msgs >= (uint64_t)b->cfg.max_queued_messages + b->cfg.max_inflight)
        return true;
    if (b->cfg.max_queued_bytes && c->out.bytes >= b->cfg.max_queued_bytes)
        return true;
    return false;
}

static void count_drop(mq_broker_t *b, mq_session_t *s, const char *why)
{
    b->stats.msgs_dropped++;
    /* One line per burst, not per message: the counter has the total. */
    if ((b->stats.msgs_dropped & (b->stats.msgs_dropped - 1)) == 0)
        blog(b, MQ_LOG_NOTICE, "dropping messages for client %s: %s (%llu dropped in all)",
             s->client_id, why, (unsigned long long)b->stats.msgs_dropped);
}

static void queue_or_drop(mq_broker_t *b, mq_session_t *s, mq_msg_t *msg, uint8_t qos,
                          bool retain)
{
    if (b->cfg.max_queued_messages && s->nqueued >= b->cfg.max_queued_messages) {
        count_drop(b, s, "max_queued_messages reached");
        return;
    }
    if (b->cfg.max_queued_bytes && s->queued_bytes + msg->payload_len > b->cfg.max_queued_bytes) {
        count_drop(b, s, "max_queued_bytes reached");
        return;
    }
    if (mq_session_queue_push(&b->sessions, s, msg, qos, retain) != MQ_OK)
        count_drop(b, s, "out of memory");
}

static int send_publish(mq_broker_t *b, mq_conn_t *c, mq_msg_t *msg, uint8_t qos, bool retain,
                        bool dup, uint16_t pid)
{
    int rc = mq_outq_publish(&c->out, &b->outp, msg, qos, retain, dup, pid);
    if (rc == MQ_OK) {
        b->stats.msgs_sent++;
        mark_pending(b, c);
    }
    return rc;
}

/* A QoS 1/2 message into the inflight window (the caller checked room). */
static void send_inflight(mq_broker_t *b, mq_session_t *s, mq_msg_t *msg, uint8_t qos, bool retain)
{
    uint16_t pid = mq_session_next_pid(s);
    mq_inflight_t *f = mq_session_inflight_add(&b->sessions, s, msg, pid, qos, retain);
    if (!f) {
        count_drop(b, s, "out of memory");
        return;
    }
    /* If the write-side copy cannot be queued, the inflight entry still holds
     * the message and it goes out again with DUP on the next resume. */
    send_publish(b, s->conn, msg, qos, retain, false, pid);
}

static bool conn_active(const mq_session_t *s)
{
    return s->conn && s->conn->state == CONN_ACTIVE;
}

static void deliver(mq_broker_t *b, mq_session_t *s, mq_msg_t *msg, uint8_t qos, bool retain)
{
    if (!conn_active(s)) {
        /* Offline: QoS 0 only if queue_qos0_messages (Mosquitto's rule). */
        if (qos == 0 && !b->cfg.queue_qos0_messages)
            return;
        queue_or_drop(b, s, msg, qos, retain);
        return;
    }
    if (qos == 0) {
        if (out_full(b, s->conn)) {
            count_drop(b, s, "output queue full (client not reading)");
            return;
        }
        if (send_publish(b, s->conn, msg, 0, retain, false, 0) != MQ_OK)
            count_drop(b, s, "out of memory");
        return;
    }
    /* Ordering (MQTT-4.6.0-5): nothing overtakes messages already queued. */
    if (s->ninflight < b->cfg.max_inflight && !s->q_head)
        send_inflight(b, s, msg, qos, retain);
    else
        queue_or_drop(b, s, msg, qos, retain);
}

/* Moves queued messages into the inflight window while it has room. */
static void pump(mq_broker_t *b, mq_session_t *s)
{
    while (conn_active(s) && s->q_head) {
        if (s->q_head->qos > 0 && s->ninflight >= b->cfg.max_inflight)
            return;
        mq_msg_t *msg;
        uint8_t qos;
        bool retain;
        mq_session_queue_pop(&b->sessions, s, &msg, &qos, &retain);
        if (qos == 0)
            send_publish(b, s->conn, msg, 0, retain, false, 0);
        else
            send_inflight(b, s, msg, qos, retain);
        mq_msg_unref(&b->mem, msg);
    }
}

static void match_cb(void *ctx, void *subscriber, const mq_sub_opts_t *opts)
{
    mq_broker_t *b = ctx;
    mq_session_t *s = subscriber;
    if (s->match_gen == b->match_gen) {
        /* Overlapping subscriptions: one copy at the highest QoS. */
        if (opts->qos > s->match_qos)
            s->match_qos = opts->qos;
        return;
    }
    if (b->nmatches == b->matches_cap) {
        uint32_t cap = b->matches_cap ? b->matches_cap * 2 : 64;
        mq_session_t **v = mq_mem_alloc(&b->mem, cap * sizeof(*v));
        if (!v) {
            count_drop(b, s, "out of memory while routing");
            return;
        }
        if (b->nmatches)
            memcpy(v, b->matches, b->nmatches * sizeof(*v));
        mq_mem_free(&b->mem, b->matches, b->matches_cap * sizeof(*v));
        b->matches = v;
        b->matches_cap = cap;
    }
    s->match_gen = b->match_gen;
    s->match_qos = opts->qos;
    b->matches[b->nmatches++] = s;
}

/* Sends msg to every session whose subscriptions match its topic. */
static void route(mq_broker_t *b, mq_msg_t *msg)
{
    b->match_gen++;
    b->nmatches = 0;
    mq_topic_match(&b->subs, mq_msg_topic(msg), msg->topic_len, match_cb, b);
    for (uint32_t i = 0; i < b->nmatches; i++) {
        mq_session_t *s = b->matches[i];
        uint8_t qos = msg->qos < s->match_qos ? msg->qos : s->match_qos;
        /* MQTT-3.3.1-9: the retain flag is 0 when forwarding to existing
         * subscriptions. */
        deliver(b, s, msg, qos, false);
    }
}

/* Stores, replaces or clears the retained message (MQTT-3.3.1-5/10/11). */
static void retain_store(mq_broker_t *b, mq_msg_t *msg)
{
    if (!b->cfg.retain_available)
        return;
    if (msg->payload_len == 0) {
        mq_retain_set(&b->retained, mq_msg_topic(msg), msg->topic_len, NULL);
        return;
    }
    mq_msg_ref(msg);
    int rc = mq_retain_set(&b->retained, mq_msg_topic(msg), msg->topic_len, msg);
    if (rc != MQ_OK) {
        mq_msg_unref(&b->mem, msg);
        blog(b, MQ_LOG_WARNING, "retained message not stored: %s", mq_strerror(rc));
    }
}

static void publish_will(mq_broker_t *b, mq_conn_t *c)
{
    mq_msg_t *w = c->will;
    c->will = NULL;
    if (!w)
        return;
    if (w->retain)
        retain_store(b, w);
    route(b, w);
    mq_msg_unref(&b->mem, w);
}

/* ---- packet handlers ------------------------------------------------------ */

static int gen_client_id(mq_broker_t *b, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    for (int attempt = 0; attempt < 8; attempt++) {
        uint8_t rnd[12];
        b->plat.random(b->plat.random_ctx, rnd, sizeof(rnd));
        size_t n = (size_t)snprintf(out, cap, "auto-");
        for (size_t i = 0; i < sizeof(rnd) && n + 2 < cap; i++) {
            out[n++] = hex[rnd[i] >> 4];
            out[n++] = hex[rnd[i] & 15];
        }
        out[n] = '\0';
        if (!mq_session_find(&b->sessions, out, n))
            return (int)n;
    }
    return MQ_ELIMIT;
}

static int refuse_connect(mq_broker_t *b, mq_conn_t *c, uint8_t rc, mq_time_t now,
                          const char *why)
{
    out_connack(b, c, false, rc);
    conn_close(b, c, now, why);
    return MQ_EPROTO;
}

static int handle_connect(mq_broker_t *b, mq_conn_t *c, const mq_connect_t *co, mq_time_t now)
{
    c->proto = co->protocol_level;
    if (co->protocol_level == MQ_PROTO_V5) {
        /* MQTT 5 arrives with its own issue; until then refuse it properly:
         * 0x84 Unsupported Protocol Version, in the v5 CONNACK layout. */
        return refuse_connect(b, c, 0x84, now, "MQTT 5 is not supported yet");
    }
    char genid[40];
    const char *id = (const char *)co->client_id.ptr;
    size_t idlen = co->client_id.len;
    if (co->protocol_level == MQ_PROTO_V31 && (idlen == 0 || idlen > 23)) {
        /* MQTT 3.1: the client id is 1 to 23 characters, else rc 2. */
        return refuse_connect(b, c, MQ_CONNACK_IDENTIFIER_REJECTED, now,
                              "MQTT 3.1 client id must be 1-23 characters");
    }
    if (idlen == 0) {
        /* MQTT-3.1.3-8: zero-length id with clean session 0 is rejected;
         * MQTT-3.1.3-6: with clean session 1 the server assigns one. */
        if (!co->clean || !b->cfg.allow_zero_length_clientid)
            return refuse_connect(b, c, MQ_CONNACK_IDENTIFIER_REJECTED, now,
                                  "empty client id without clean session");
        int n = gen_client_id(b, genid, sizeof(genid));
        if (n < 0)
            return refuse_connect(b, c, MQ_CONNACK_SERVER_UNAVAILABLE, now,
                                  "could not generate a client id");
        id = genid;
        idlen = (size_t)n;
    }
    uint16_t keepalive = co->keepalive;
    if (b->cfg.max_keepalive && (keepalive == 0 || keepalive > b->cfg.max_keepalive)) {
        /* MQTT 3.x cannot tell the client a lower keepalive (MQTT 5's Server
         * Keep Alive can). The limit is still enforced: a connection that
         * stays silent for 1.5 x max_keepalive is closed, so no client can
         * hold a half-open connection longer than the configuration allows. */
        blog(b, MQ_LOG_NOTICE, "client keepalive %u capped to max_keepalive %u", keepalive,
             b->cfg.max_keepalive);
        keepalive = b->cfg.max_keepalive;
    }
    int auth_rc = MQ_CONNACK_ACCEPTED;
    if (b->cfg.auth)
        auth_rc = b->cfg.auth(b->cfg.auth_ctx, co);
    else if (!b->cfg.allow_anonymous && !co->has_username)
        auth_rc = MQ_CONNACK_NOT_AUTHORIZED;
    if (auth_rc != MQ_CONNACK_ACCEPTED)
        return refuse_connect(b, c, (uint8_t)auth_rc, now, "not authorized");

    if (co->will) {
        c->will = mq_msg_new(&b->mem, co->will_topic.ptr, (uint16_t)co->will_topic.len,
                             co->will_payload.ptr, co->will_payload.len, co->will_qos,
                             co->will_retain);
        if (!c->will)
            return refuse_connect(b, c, MQ_CONNACK_SERVER_UNAVAILABLE, now, "out of memory");
    }

    mq_session_t *s = mq_session_find(&b->sessions, id, idlen);
    if (s && s->conn) {
        /* MQTT-3.1.4-2: the existing connection with this id is closed. */
        mq_conn_t *old = s->conn;
        old->session = NULL;
        s->conn = NULL;
        blog(b, MQ_LOG_NOTICE, "client %s already connected, closing the old connection",
             s->client_id);
        conn_close(b, old, now, NULL);
    }
    if (s && (co->clean || s->clean)) {
        /* MQTT-3.1.2-6: clean session discards the previous session; and a
         * clean session taken over ends with its connection. */
        session_destroy(b, s);
        s = NULL;
    }
    bool present = s != NULL;
    if (!s) {
        s = mq_session_create(&b->sessions, id, idlen);
        if (!s)
            return refuse_connect(b, c, MQ_CONNACK_SERVER_UNAVAILABLE, now,
                                  "session limit or out of memory");
    }
    mq_timer_cancel(&b->timers, &s->expiry);
    s->clean = co->clean;
    s->conn = c;
    c->session = s;
    c->state = CONN_ACTIVE;
    c->keepalive = keepalive;
    if (c->keepalive) /* MQTT-3.1.2-24: one and a half times the keepalive */
        mq_timer_set(&b->timers, &c->timer, now + (mq_time_t)c->keepalive * 1500u);
    else
        mq_timer_cancel(&b->timers, &c->timer);
    out_connack(b, c, present, MQ_CONNACK_ACCEPTED);
    blog(b, MQ_LOG_INFO, "client %s connected (MQTT %s, clean %d, keepalive %u)", s->client_id,
         c->proto == MQ_PROTO_V31 ? "3.1" : "3.1.1", co->clean, keepalive);

    if (present) {
        /* MQTT-4.4.0-1: resend unacknowledged PUBLISH (with DUP) and PUBREL
         * in their original order, then what was queued meanwhile. */
        for (mq_inflight_t *f = s->inf_head; f; f = f->next) {
            if (f->state == MQ_WAIT_PUBCOMP)
                out_ack(b, c, MQ_PKT_PUBREL, f->pid);
            else
                send_publish(b, c, f->msg, f->qos, f->retain, true, f->pid);
        }
        pump(b, s);
    }
    return MQ_OK;
}

static int handle_publish(mq_broker_t *b, mq_conn_t *c, const mq_publish_t *p, mq_time_t now)
{
    mq_session_t *s = c->session;
    b->stats.msgs_received++;
    if (p->qos == 2 && mq_session_in_has(s, p->packet_id)) {
        /* MQTT-4.3.3-2: a resent QoS 2 PUBLISH is acknowledged, not
         * delivered again. */
        return out_ack(b, c, MQ_PKT_PUBREC, p->packet_id);
    }
    if (b->cfg.message_size_limit && p->payload.len > b->cfg.message_size_limit) {
        blog(b, MQ_LOG_NOTICE, "client %s: message of %u bytes over message_size_limit dropped",
             s->client_id, p->payload.len);
        b->stats.msgs_dropped++;
    } else {
        mq_msg_t *msg = mq_msg_new(&b->mem, p->topic.ptr, (uint16_t)p->topic.len, p->payload.ptr,
                                   p->payload.len, p->qos, p->retain);
        if (!msg) {
            /* Never acknowledge what was not taken: the client resends it. */
            conn_close(b, c, now, "out of memory for a message");
            return MQ_ENOMEM;
        }
        if (p->qos == 2 && mq_session_in_add(&b->sessions, s, p->packet_id) != MQ_OK) {
            mq_msg_unref(&b->mem, msg);
            conn_close(b, c, now, "out of memory for a QoS 2 id");
            return MQ_ENOMEM;
        }
        if (p->retain)
            retain_store(b, msg);
        route(b, msg);
        mq_msg_unref(&b->mem, msg);
    }
    if (p->qos == 1)
        return out_ack(b, c, MQ_PKT_PUBACK, p->packet_id);
    if (p->qos == 2) {
        if (!mq_session_in_has(s, p->packet_id))
            mq_session_in_add(&b->sessions, s, p->packet_id);
        return out_ack(b, c, MQ_PKT_PUBREC, p->packet_id);
    }
    return MQ_OK;
}

static void handle_puback(mq_broker_t *b, mq_conn_t *c, uint8_t type, uint16_t pid)
{
    mq_session_t *s = c->session;
    mq_inflight_t *f = mq_session_inflight_find(s, pid);
    switch (type) {
    case MQ_PKT_PUBACK:
        if (f && f->state == MQ_WAIT_PUBACK) {
            mq_session_inflight_remove(&b->sessions, s, f);
            pump(b, s);
        }
        break;
    case MQ_PKT_PUBREC:
        if (f && f->state == MQ_WAIT_PUBREC) {
            /* The receiver owns the message now; keep only the id. */
            f->state = MQ_WAIT_PUBCOMP;
            mq_msg_unref(&b->mem, f->msg);
            f->msg = NULL;
        }
        if (!f || f->state == MQ_WAIT_PUBCOMP)
            out_ack(b, c, MQ_PKT_PUBREL, pid); /* MQTT-4.3.3-1 */
        break;
    case MQ_PKT_PUBCOMP:
        if (f && f->state == MQ_WAIT_PUBCOMP) {
            mq_session_inflight_remove(&b->sessions, s, f);
            pump(b, s);
        }
        break;
    default:
        break;
    }
}

/* Delivers retained messages matching a new subscription (MQTT-3.3.1-6). */
struct retained_ctx {
    mq_broker_t *b;
    mq_session_t *s;
    uint8_t qos;
};

static void retained_cb(void *ctx, void *value)
{
    struct retained_ctx *r = ctx;
    mq_msg_t *msg = value;
    uint8_t qos = msg->qos < r->qos ? msg->qos : r->qos;
    /* MQTT-3.3.1-8: retain flag 1 when sent because of a new subscription. */
    deliver(r->b, r->s, msg, qos, true);
}

static int handle_subscribe(mq_broker_t *b, mq_conn_t *c, const mq_sublist_t *sl)
{
    mq_session_t *s = c->session;
    uint32_t n = sl->count;
    uint32_t remaining = 2 + n;
    int vlen = mq_codec_varint_size(remaining);
    if (vlen <= 0)
        return MQ_EMALFORMED;
    uint8_t *p = mq_outq_reserve(&c->out, &b->outp, 1u + (size_t)vlen + remaining);
    if (!p)
        return MQ_ENOMEM;
    mark_pending(b, c);
    *p++ = MQ_PKT_SUBACK << 4;
    p += mq_codec_varint_write(p, remaining);
    *p++ = (uint8_t)(sl->packet_id >> 8);
    *p++ = (uint8_t)(sl->packet_id & 0xff);
    uint8_t *codes = p;

    mq_sublist_iter_t it;
    mq_str_t f;
    uint8_t opts;
    uint32_t i = 0;
    mq_codec_filters_begin(sl, true, &it);
    while (mq_codec_filters_next(&it, &f, &opts)) {
        uint8_t qos = opts & 3;
        uint8_t code = qos;
        mq_subrec_t *r = mq_session_sub_find(s, f.ptr, f.len);
        if (!r && b->cfg.max_subscriptions_per_client &&
            s->nsubs >= b->cfg.max_subscriptions_per_client) {
            code = MQ_SUBACK_FAILURE;
        } else {
            mq_sub_opts_t so = {.qos = qos, .flags = 0, .sub_id = 0};
            int rc = mq_topic_subscribe(&b->subs, f.ptr, f.len, s, &so);
            if (rc < 0) {
                code = MQ_SUBACK_FAILURE;
            } else if (r) {
                r->qos = qos;
            } else if (mq_session_sub_add(&b->sessions, s, f.ptr, f.len, qos) != MQ_OK) {
                mq_topic_unsubscribe(&b->subs, f.ptr, f.len, s);
                code = MQ_SUBACK_FAILURE;
            }
        }
        if (code == MQ_SUBACK_FAILURE)
            blog(b, MQ_LOG_NOTICE, "client %s: subscription to %.*s refused", s->client_id,
                 (int)f.len, (const char *)f.ptr);
        codes[i++] = code;
    }
    /* SUBACK is queued first; retained messages follow it (MQTT-3.3.1-6,
     * and MQTT-3.8.4-3: re-sent when a subscription is replaced). */
    mq_codec_filters_begin(sl, true, &it);
    i = 0;
    while (mq_codec_filters_next(&it, &f, &opts)) {
        uint8_t code = codes[i++];
        if (code == MQ_SUBACK_FAILURE)
            continue;
        struct retained_ctx rctx = {b, s, code};
        mq_retain_match(&b->retained, f.ptr, f.len, retained_cb, &rctx);
    }
    return MQ_OK;
}

static int handle_unsubscribe(mq_broker_t *b, mq_conn_t *c, const mq_sublist_t *sl)
{
    mq_session_t *s = c->session;
    mq_sublist_iter_t it;
    mq_str_t f;
    uint8_t opts;
    mq_codec_filters_begin(sl, false, &it);
    while (mq_codec_filters_next(&it, &f, &opts)) {
        mq_subrec_t *r = mq_session_sub_find(s, f.ptr, f.len);
        if (r) {
            mq_topic_unsubscribe(&b->subs, f.ptr, f.len, s);
            mq_session_sub_remove(&b->sessions, s, r);
        }
    }
    /* MQTT-3.10.4-4/5: UNSUBACK even when nothing matched. */
    return out_ack(b, c, MQ_PKT_UNSUBACK, sl->packet_id);
}

static int handle_packet(mq_broker_t *b, mq_conn_t *c, const mq_fixed_header_t *fh,
                         const uint8_t *body, mq_time_t now)
{
    /* (A first packet other than CONNECT was refused by header_check.) */
    if (c->state == CONN_ACTIVE && fh->type == MQ_PKT_CONNECT) {
        conn_close(b, c, now, "second CONNECT (MQTT-3.1.0-2)");
        return MQ_EPROTO;
    }
    mq_packet_t pkt;
    int rc = mq_codec_decode(fh, body, c->proto, &pkt);
    if (rc == MQ_EPROTOVERSION) {
        /* MQTT-3.1.2-2: CONNACK 0x01, then close. */
        c->proto = MQ_PROTO_V311;
        return refuse_connect(b, c, MQ_CONNACK_BAD_PROTOCOL_VERSION, now,
                              "unsupported protocol level");
    }
    if (rc < 0) {
        char why[96];
        snprintf(why, sizeof(why), "bad packet of type %u: %s", fh->type, mq_strerror(rc));
        conn_close(b, c, now, why);
        return rc;
    }
    switch (fh->type) {
    case MQ_PKT_CONNECT:
        return handle_connect(b, c, &pkt.u.connect, now);
    case MQ_PKT_PUBLISH:
        return handle_publish(b, c, &pkt.u.publish, now);
    case MQ_PKT_PUBACK:
    case MQ_PKT_PUBREC:
    case MQ_PKT_PUBCOMP:
        handle_puback(b, c, fh->type, pkt.u.ack.packet_id);
        return MQ_OK;
    case MQ_PKT_PUBREL:
        /* MQTT-4.3.3-2 method B: the id is released and PUBCOMP always sent. */
        mq_session_in_remove(c->session, pkt.u.ack.packet_id);
        return out_ack(b, c, MQ_PKT_PUBCOMP, pkt.u.ack.packet_id);
    case MQ_PKT_SUBSCRIBE:
        rc = handle_subscribe(b, c, &pkt.u.sub);
        if (rc < 0)
            conn_close(b, c, now, "cannot answer SUBSCRIBE");
        return rc;
    case MQ_PKT_UNSUBSCRIBE:
        return handle_unsubscribe(b, c, &pkt.u.sub);
    case MQ_PKT_PINGREQ: {
        static const uint8_t resp[2] = {MQ_PKT_PINGRESP << 4, 0};
        return out_bytes(b, c, resp, sizeof(resp));
    }
    case MQ_PKT_DISCONNECT:
        /* MQTT-3.14.4-3: the will is discarded. */
        c->clean_disconnect = true;
        mq_msg_unref(&b->mem, c->will);
        c->will = NULL;
        conn_close(b, c, now, NULL);
        return MQ_ECLOSED;
    default:
        /* CONNACK, SUBACK, UNSUBACK, PINGRESP, AUTH: only a server sends them. */
        conn_close(b, c, now, "packet type a client must not send");
        return MQ_EPROTO;
    }
}

/* ---- input -------------------------------------------------------------- */

static int stash_append(mq_broker_t *b, mq_conn_t *c, const uint8_t *data, size_t n)
{
    size_t want = (size_t)c->stash_len + n;
    if (want > c->stash_cap) {
        size_t cap = c->stash_cap ? (size_t)c->stash_cap * 2 : STASH_MIN;
        if (cap < want)
            cap = want;
        if (c->stash_need && cap > c->stash_need)
            cap = c->stash_need;
        if (cap < want)
            cap = want;
        uint8_t *p = mq_mem_alloc(&b->mem, cap);
        if (!p)
            return MQ_ENOMEM;
        if (c->stash_len)
            memcpy(p, c->stash, c->stash_len);
        mq_mem_free(&b->mem, c->stash, c->stash_cap);
        c->stash = p;
        c->stash_cap = (uint32_t)cap;
    }
    memcpy(c->stash + c->stash_len, data, n);
    c->stash_len += (uint32_t)n;
    return MQ_OK;
}

static void stash_reset(mq_broker_t *b, mq_conn_t *c)
{
    c->stash_len = 0;
    c->stash_need = 0;
    /* Keep a small buffer for the next split packet; give big ones back. */
    if (c->stash_cap > 4096) {
        mq_mem_free(&b->mem, c->stash, c->stash_cap);
        c->stash = NULL;
        c->stash_cap = 0;
    }
}

/* Checks a fixed header as soon as it is complete, before waiting for the
 * body: a first packet that is not CONNECT is refused at once (MQTT-3.1.0-1)
 * instead of after the announced length has trickled in. */
static int header_check(mq_broker_t *b, mq_conn_t *c, const mq_fixed_header_t *fh, mq_time_t now)
{
    if (c->state == CONN_NEW && fh->type != MQ_PKT_CONNECT) {
        conn_close(b, c, now, "first packet is not CONNECT (MQTT-3.1.0-1)");
        return MQ_EPROTO;
    }
    return MQ_OK;
}

/* Feeds bytes into a partial packet; runs it once complete. */
static int stash_feed(mq_broker_t *b, mq_conn_t *c, const uint8_t **data, size_t *len,
                      mq_time_t now)
{
    int rc;
    while (c->stash_need == 0 && *len > 0) {
        /* Header still incomplete: one byte at a time (at most 4 more). */
        if ((rc = stash_append(b, c, *data, 1)) < 0)
            return rc;
        (*data)++;
        (*len)--;
        rc = mq_codec_fixed_header(c->stash, c->stash_len, b->cfg.max_packet_size, &c->stash_fh);
        if (rc == MQ_EAGAIN)
            continue;
        if (rc < 0)
            return rc;
        if ((rc = header_check(b, c, &c->stash_fh, now)) < 0)
            return rc;
        c->stash_need = c->stash_fh.header_len + c->stash_fh.remaining;
    }
    if (c->stash_need == 0)
        return MQ_OK;
    size_t take = c->stash_need - c->stash_len;
    if (take > *len)
        take = *len;
    if (take && (rc = stash_append(b, c, *data, take)) < 0)
        return rc;
    *data += take;
    *len -= take;
    if (c->stash_len < c->stash_need)
        return MQ_OK;
    rc = handle_packet(b, c, &c->stash_fh, c->stash + c->stash_fh.header_len, now);
    stash_reset(b, c);
    return rc;
}

int mq_broker_conn_input(mq_broker_t *b, mq_conn_t *c, const uint8_t *data, size_t len,
                         mq_time_t now)
{
    if (c->state == CONN_CLOSING)
        return MQ_ECLOSED;
    c->last_rx = now;
    b->stats.bytes_received += len;
    int rc = MQ_OK;
    while (len > 0 && c->state != CONN_CLOSING) {
        if (c->stash_len > 0) {
            rc = stash_feed(b, c, &data, &len, now);
            if (rc < 0)
                break;
            continue;
        }
        mq_fixed_header_t fh;
        rc = mq_codec_fixed_header(data, len, b->cfg.max_packet_size, &fh);
        if (rc == MQ_EAGAIN) {
            rc = stash_append(b, c, data, len);
            break;
        }
        if (rc < 0 || (rc = header_check(b, c, &fh, now)) < 0)
            break;
        size_t total = (size_t)fh.header_len + fh.remaining;
        if (total > len) {
            c->stash_fh = fh;
            c->stash_need = (uint32_t)total;
            rc = stash_append(b, c, data, len);
            break;
        }
        rc = handle_packet(b, c, &fh, data + fh.header_len, now);
        if (rc < 0)
            break;
        data += total;
        len -= total;
    }
    if (rc < 0) {
        char why[64];
        snprintf(why, sizeof(why), "%s", mq_strerror(rc));
        conn_close(b, c, now, why); /* no-op when a handler already closed it */
        return rc;
    }
    return c->state == CONN_CLOSING ? MQ_ECLOSED : MQ_OK;
}

/* ---- connections ---------------------------------------------------------- */

mq_conn_t *mq_broker_conn_open(mq_broker_t *b, void *user, mq_time_t now)
{
    if (b->cfg.max_connections && b->nconns >= b->cfg.max_connections) {
        blog(b, MQ_LOG_NOTICE, "connection refused: max_connections (%u) reached",
             b->cfg.max_connections);
        return NULL;
    }
    mq_conn_t *c = mq_pool_get(&b->conn_pool);
    if (!c)
        return NULL;
    c->user = user;
    c->last_rx = now;
    mq_timer_init(&c->timer, TIMER_CONN);
    mq_outq_init(&c->out);
    if (b->cfg.connect_timeout &&
        mq_timer_set(&b->timers, &c->timer, now + (mq_time_t)b->cfg.connect_timeout * 1000u) != MQ_OK) {
        mq_pool_put(&b->conn_pool, c);
        return NULL;
    }
    c->next = b->conns;
    if (b->conns)
        b->conns->prev = c;
    b->conns = c;
    b->nconns++;
    return c;
}

void mq_broker_conn_lost(mq_broker_t *b, mq_conn_t *c, mq_time_t now)
{
    unmark_pending(b, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->nconns--;
    mq_timer_cancel(&b->timers, &c->timer);

    mq_session_t *s = c->session;
    if (s) {
        s->conn = NULL;
        c->session = NULL;
    }
    /* Output not yet written is dropped; QoS 1/2 messages stay inflight in
     * the session and are resent on resume. */
    mq_outq_clear(&c->out, &b->outp);
    if (c->will && !c->clean_disconnect) {
        blog(b, MQ_LOG_INFO, "publishing the will of %s", s ? s->client_id : "(taken over)");
        publish_will(b, c);
    }
    if (s) {
        if (s->clean) {
            session_destroy(b, s);
        } else if (b->cfg.persistent_client_expiration) {
            mq_time_t at = now + (mq_time_t)b->cfg.persistent_client_expiration * 1000u;
            s->expiry.kind = TIMER_SESSION;
            if (mq_timer_set(&b->timers, &s->expiry, at) != MQ_OK)
                blog(b, MQ_LOG_WARNING, "session %s: no memory for its expiry timer",
                     s->client_id);
            s->expiry.kind = TIMER_SESSION;
        }
    }
    conn_release(b, c);
}

mq_time_t mq_broker_tick(mq_broker_t *b, mq_time_t now)
{
    mq_timer_t *t;
    while ((t = mq_timer_peek(&b->timers)) && t->at <= now) {
        if (t->kind == TIMER_SESSION) {
            mq_session_t *s = session_of_timer(t);
            mq_timer_cancel(&b->timers, t);
            if (!s->conn) {
                blog(b, MQ_LOG_INFO, "session %s expired", s->client_id);
                session_destroy(b, s);
            }
            continue;
        }
        mq_conn_t *c = conn_of_timer(t);
        switch (c->state) {
        case CONN_NEW:
            conn_close(b, c, now, "no CONNECT within connect_timeout");
            break;
        case CONN_ACTIVE: {
            mq_time_t due = c->last_rx + (mq_time_t)c->keepalive * 1500u;
            if (due > now) {
                mq_timer_set(&b->timers, t, due); /* lazy: traffic moved it */
            } else {
                /* MQTT-3.1.2-24 */
                conn_close(b, c, now, "keepalive timeout");
            }
            break;
        }
        default:
            /* Closing, and the peer did not take its output in time. */
            mq_timer_cancel(&b->timers, t);
            mq_outq_clear(&c->out, &b->outp);
            mark_pending(b, c);
            break;
        }
    }
    t = mq_timer_peek(&b->timers);
    return t ? t->at : MQ_TIME_NEVER;
}

mq_conn_t *mq_broker_pending(mq_broker_t *b)
{
    mq_conn_t *c = b->pend_head;
    if (c)
        unmark_pending(b, c);
    return c;
}

size_t mq_conn_out_iov(mq_conn_t *c, mq_iov_t *iov, size_t max)
{
    return mq_outq_iov(&c->out, iov, max);
}

void mq_conn_out_consume(mq_broker_t *b, mq_conn_t *c, size_t n)
{
    b->stats.bytes_sent += n;
    mq_outq_consume(&c->out, &b->outp, n);
}

size_t mq_conn_out_size(const mq_conn_t *c)
{
    return c->out.bytes;
}

bool mq_conn_closing(const mq_conn_t *c)
{
    return c->state == CONN_CLOSING;
}

void *mq_conn_user(const mq_conn_t *c)
{
    return c->user;
}

const char *mq_conn_client_id(const mq_conn_t *c)
{
    return c->session ? c->session->client_id : "";
}

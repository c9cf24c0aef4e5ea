/*
 * broker — the broker object: lifetime, input framing, connections, timers,
 * the output API, and closing connections (see internal.h for the split
 * with handlers.c and deliver.c).
 *
 * Owns: connections (mq_conn_t), the session store, the subscription tree,
 * the retained store, shared-subscription groups, the timer heap, and
 * through them every message.
 * Never: makes a system call, blocks, or keeps a pointer into caller input
 * (everything kept is copied into an mq_msg_t or a session record).
 *
 * Hot path, one PUBLISH (docs/DESIGN.md walks it): mq_broker_conn_input ->
 * mq__handle_packet -> mq_codec_decode -> handle_publish -> mq_msg_new (the
 * one copy) -> mq__route -> mq_topic_match -> deliver -> mq_outq_publish (a
 * reference, no copy) -> mq__mark_pending; the platform then gathers the
 * queue with mq_conn_out_iov().
 */
#include "musqratt/broker.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "musqratt/error.h"

#define STASH_MIN 256

/* ---- small helpers ------------------------------------------------------ */

void mq__log(mq_broker_t *b, int level, const char *fmt, ...)
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

const char *mq__conn_name(const mq_conn_t *c)
{
    return c->session ? c->session->client_id : "(unknown)";
}

void mq__mark_pending(mq_broker_t *b, mq_conn_t *c)
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

static void *owner_of(mq_timer_t *t, size_t offset)
{
    return (char *)t - offset;
}

int mq__out_bytes(mq_broker_t *b, mq_conn_t *c, const void *bytes, size_t n)
{
    int rc = mq_outq_bytes(&c->out, &b->outp, bytes, n);
    if (rc == MQ_OK) {
        b->stats.packets_sent++;
        mq__mark_pending(b, c);
    }
    return rc;
}

int mq__out_ack(mq_broker_t *b, mq_conn_t *c, uint8_t type, uint16_t pid, uint8_t reason)
{
    uint8_t p[5] = {(uint8_t)((type << 4) | (type == MQ_PKT_PUBREL ? 0x2 : 0)), 2,
                    (uint8_t)(pid >> 8), (uint8_t)(pid & 0xff), reason};
    if (c->proto == MQ_PROTO_V5 && reason != MQ_RC_SUCCESS) {
        /* MQTT 5 3.4.2.2: reason code, property length omitted (0). */
        p[1] = 3;
        return mq__out_bytes(b, c, p, 5);
    }
    return mq__out_bytes(b, c, p, 4);
}

void mq__conn_inactive(mq_broker_t *b, mq_conn_t *c)
{
    if (c->state == MQ__CONN_ACTIVE)
        b->nactive--;
}

void mq__conn_close(mq_broker_t *b, mq_conn_t *c, uint8_t reason, const char *why)
{
    if (c->state == MQ__CONN_CLOSING)
        return;
    if (why)
        mq__log(b, MQ_LOG_INFO, "client %s closing: %s", mq__conn_name(c), why);
    /* MQTT 5: a server-initiated close of a connected client says why
     * (MQTT-3.14.0-1: never before CONNACK, so not in CONN_NEW). */
    if (c->proto == MQ_PROTO_V5 && c->state == MQ__CONN_ACTIVE && reason) {
        uint8_t pkt[4 + 3 + 100];
        size_t n = 0;
        uint8_t props[3 + 96];
        mq_props_writer_t w = {props, sizeof(props), 0};
        if (why && c->request_problem_info) {
            size_t wl = strlen(why);
            if (wl > 90)
                wl = 90;
            /* MQTT-3.1.2-25: the Reason String goes if the packet would be
             * larger than the client's Maximum Packet Size (4 + 3 + wl). */
            if (!c->client_max_packet || 4 + 3 + wl <= c->client_max_packet)
                mq_props_put_str(&w, MQ_PROP_REASON_STRING, why, wl);
        }
        int len = mq_codec_encode_disconnect5(pkt, sizeof(pkt), MQ_PKT_DISCONNECT, reason, props,
                                              w.len <= w.cap ? w.len : 0);
        if (len > 0 && (size_t)len <= sizeof(pkt))
            n = (size_t)len;
        if (n)
            mq__out_bytes(b, c, pkt, n);
    }
    mq__conn_inactive(b, c);
    c->state = MQ__CONN_CLOSING;
    if (b->cfg.close_timeout)
        mq_timer_set(&b->timers, &c->timer, b->now + (mq_time_t)b->cfg.close_timeout * 1000u);
    else
        mq_timer_cancel(&b->timers, &c->timer);
    mq__mark_pending(b, c);
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
    cfg->max_topic_alias = 10;        /* Mosquitto: max_topic_alias 10 */
    cfg->connection_messages = true;  /* Mosquitto: connection_messages true */
    cfg->sys_interval = 10;           /* Mosquitto: sys_interval 10 */
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
    mq_share_set_init(&b->shares, &b->mem);
    if (mq_session_store_init(&b->sessions, &b->mem, cfg->max_sessions) != MQ_OK)
        goto fail;
    if (mq_topic_tree_init(&b->subs, &b->mem, cfg->max_topic_nodes) != MQ_OK)
        goto fail;
    if (mq_retain_init(&b->retained, &b->mem, cfg->max_topic_nodes, release_retained, b) != MQ_OK)
        goto fail;
    mq__sys_init(b);
    return b;
fail:
    mq_broker_free(b);
    return NULL;
}

int mq__conn_set_str(mq_broker_t *b, char **slot, const char *s, size_t len)
{
    char *copy = NULL;

    if (s) {
        copy = mq_mem_alloc(&b->mem, len + 1);
        if (!copy)
            return MQ_ENOMEM;
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    if (*slot)
        mq_mem_free(&b->mem, *slot, strlen(*slot) + 1);
    *slot = copy;
    return MQ_OK;
}

static void conn_release(mq_broker_t *b, mq_conn_t *c)
{
    mq_outq_clear(&c->out, &b->outp);
    mq_msg_unref(&b->mem, c->will);
    mq_mem_free(&b->mem, c->stash, c->stash_cap);
    mq_alias_free(&b->mem, &c->alias_in);
    mq_alias_free(&b->mem, &c->alias_out);
    mq__conn_set_str(b, &c->identity, NULL, 0);
    mq__conn_set_str(b, &c->username, NULL, 0);
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
            for (mq_session_t *s = b->sessions.buckets[i]; s; s = s->hnext) {
                mq_timer_cancel(&b->timers, &s->expiry);
                mq_timer_cancel(&b->timers, &s->will_timer);
            }
        }
        mq_session_store_destroy(&b->sessions);
    }
    mq_share_set_destroy(&b->shares);
    if (b->subs.root)
        mq_topic_tree_destroy(&b->subs);
    if (b->retained.root)
        mq_retain_destroy(&b->retained);
    mq_timer_heap_destroy(&b->timers);
    mq_mem_free(&b->mem, b->matches, b->matches_cap * sizeof(*b->matches));
    mq_mem_free(&b->mem, b->shared, b->shared_cap * sizeof(*b->shared));
    mq_mem_free(&b->mem, b->ids, b->ids_cap * sizeof(*b->ids));
    mq_outq_pools_destroy(&b->outp);
    mq_pool_trim(&b->conn_pool);
    mq_mem_trim(&b->mem);
    if (b->mem.used)
        mq__log(b, MQ_LOG_WARNING, "%llu bytes still held at shutdown",
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
    out->clients_connected = b->nactive;
    out->stored_msgs = b->mem.msgs;
    out->stored_bytes = b->mem.msg_bytes;
    out->queued_memory = b->sessions.held;
    out->shared_subscriptions = 0;
    for (const mq_share_t *g = b->shares.head; g; g = g->next) /* few groups: O(groups) */
        out->shared_subscriptions += g->n;
}

uint64_t mq_broker_publishes_received(const mq_broker_t *b)
{
    return b->stats.msgs_received;
}

uint64_t mq_broker_memory(const mq_broker_t *b)
{
    return b->mem.used - mq_pool_cached_bytes(&b->conn_pool) -
           mq_pool_cached_bytes(&b->sessions.pool) - mq_pool_cached_bytes(&b->outp.pub) -
           mq_pool_cached_bytes(&b->outp.small);
}

void mq_broker_trim(mq_broker_t *b)
{
    mq_pool_trim(&b->conn_pool);
    mq_pool_trim(&b->sessions.pool);
    mq_pool_trim(&b->outp.pub);
    mq_pool_trim(&b->outp.small);
    mq_mem_trim(&b->mem);
}

/* ---- sessions ----------------------------------------------------------- */

void mq__sub_detach(mq_broker_t *b, mq_session_t *s, const mq_subrec_t *r)
{
    if (r->share) {
        mq_share_t *g = r->share;
        mq_share_leave(g, s);
        if (g->n == 0) {
            mq_topic_unsubscribe(&b->subs, (const uint8_t *)g->filter, g->filter_len, g);
            mq_share_free(&b->shares, g);
        }
    } else {
        mq_topic_unsubscribe(&b->subs, (const uint8_t *)r->filter, r->len, s);
    }
}

void mq__will_check(mq_broker_t *b, mq_conn_t *c)
{
    /* Mosquitto 2.0 accepts a CONNECT whose will the ACL refuses and drops
     * the will when it would be published; the check is made here, when
     * the connection goes, with the ACL in force then. */
    if (!b->cfg.acl || !c->will || c->clean_disconnect)
        return;
    if (b->cfg.acl(b->cfg.acl_ctx, c, (const char *)mq_msg_topic(c->will), c->will->topic_len,
                   MQ_ACL_WRITE))
        return;
    mq__log(b, MQ_LOG_NOTICE, "client %s: will on %.*s denied by the ACL", mq__conn_name(c),
            (int)c->will->topic_len, (const char *)mq_msg_topic(c->will));
    mq_msg_unref(&b->mem, c->will);
    c->will = NULL;
}

size_t mq_broker_recheck_subscriptions(mq_broker_t *b)
{
    size_t removed = 0;

    if (!b->cfg.acl)
        return 0;
    for (mq_conn_t *c = b->conns; c; c = c->next) {
        mq_session_t *s = c->session;
        if (c->state != MQ__CONN_ACTIVE || !s)
            continue;
        mq_subrec_t *r = s->subs;
        while (r) {
            mq_subrec_t *next = r->next;
            if (!b->cfg.acl(b->cfg.acl_ctx, c, r->filter, r->len, MQ_ACL_SUBSCRIBE)) {
                mq__log(b, MQ_LOG_NOTICE, "client %s: subscription to %s removed by the ACL",
                        s->client_id, r->filter);
                mq__sub_detach(b, s, r);
                mq_session_sub_remove(&b->sessions, s, r);
                removed++;
            }
            r = next;
        }
    }
    return removed;
}

void mq__session_end(mq_broker_t *b, mq_session_t *s)
{
    for (mq_subrec_t *r = s->subs; r; r = r->next)
        mq__sub_detach(b, s, r);
    mq_timer_cancel(&b->timers, &s->expiry);
    mq_timer_cancel(&b->timers, &s->will_timer);
    mq_msg_t *will = s->will;
    s->will = NULL;
    mq_session_free(&b->sessions, s);
    /* MQTT 5 3.1.3.2.2: a delayed will goes out when the session ends, if
     * that comes first. */
    if (will)
        mq__publish_will(b, will);
}

/* ---- input -------------------------------------------------------------- */

static int stash_append(mq_broker_t *b, mq_conn_t *c, const uint8_t *data, size_t n)
{
    size_t want = (size_t)c->stash_len + n;
    if (want > c->stash_cap) {
        size_t cap = c->stash_cap ? (size_t)c->stash_cap * 2 : STASH_MIN;
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
static int header_check(mq_broker_t *b, mq_conn_t *c, const mq_fixed_header_t *fh)
{
    if (c->state == MQ__CONN_NEW && fh->type != MQ_PKT_CONNECT) {
        mq__conn_close(b, c, 0, "first packet is not CONNECT (MQTT-3.1.0-1)");
        return MQ_EPROTO;
    }
    return MQ_OK;
}

/* Feeds bytes into a partial packet; runs it once complete. */
static int stash_feed(mq_broker_t *b, mq_conn_t *c, const uint8_t **data, size_t *len)
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
        if ((rc = header_check(b, c, &c->stash_fh)) < 0)
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
    rc = mq__handle_packet(b, c, &c->stash_fh, c->stash + c->stash_fh.header_len);
    stash_reset(b, c);
    return rc;
}

int mq_broker_conn_input(mq_broker_t *b, mq_conn_t *c, const uint8_t *data, size_t len,
                         mq_time_t now)
{
    if (c->state == MQ__CONN_CLOSING)
        return MQ_ECLOSED;
    b->now = now;
    c->last_rx = now;
    b->stats.bytes_received += len;
    int rc = MQ_OK;
    while (len > 0 && c->state != MQ__CONN_CLOSING) {
        if (c->stash_len > 0) {
            rc = stash_feed(b, c, &data, &len);
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
        if (rc < 0 || (rc = header_check(b, c, &fh)) < 0)
            break;
        size_t total = (size_t)fh.header_len + fh.remaining;
        if (total > len) {
            c->stash_fh = fh;
            c->stash_need = (uint32_t)total;
            rc = stash_append(b, c, data, len);
            break;
        }
        rc = mq__handle_packet(b, c, &fh, data + fh.header_len);
        if (rc < 0)
            break;
        data += total;
        len -= total;
    }
    if (rc < 0) {
        /* No-op when a handler already closed it with its own reason. */
        mq__conn_close(b, c, mq__reason_of(rc, 0), mq_strerror(rc));
        return rc;
    }
    return c->state == MQ__CONN_CLOSING ? MQ_ECLOSED : MQ_OK;
}

/* ---- connections ---------------------------------------------------------- */

mq_conn_t *mq_broker_conn_open(mq_broker_t *b, void *user, mq_time_t now)
{
    b->now = now;
    b->stats.sockets++;
    if (b->cfg.max_connections && b->nconns >= b->cfg.max_connections) {
        b->stats.conns_refused++;
        mq__log(b, MQ_LOG_NOTICE, "connection refused: max_connections (%u) reached",
                b->cfg.max_connections);
        return NULL;
    }
    mq_conn_t *c = mq_pool_get(&b->conn_pool);
    if (!c) {
        b->stats.conns_refused++;
        return NULL;
    }
    c->user = user;
    c->last_rx = now;
    c->request_problem_info = 1;
    c->client_receive_max = 65535;
    mq_timer_init(&c->timer, MQ__TIMER_CONN);
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
    b->now = now;
    unmark_pending(b, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->nconns--;
    mq__conn_inactive(b, c);
    c->state = MQ__CONN_CLOSING;
    mq_timer_cancel(&b->timers, &c->timer);

    mq__will_check(b, c); /* while c still has its client id */
    mq_session_t *s = c->session;
    if (s) {
        s->conn = NULL;
        c->session = NULL;
    }
    /* Output not yet written is dropped; QoS 1/2 messages stay inflight in
     * the session and are resent on resume. */
    mq_outq_clear(&c->out, &b->outp);
    mq_msg_t *will = c->will;
    c->will = NULL;
    bool session_ends = s && (s->clean || s->expiry_interval == 0);
    if (will && !c->clean_disconnect) {
        if (c->will_delay && s && !session_ends) {
            /* MQTT 5 Will Delay Interval: the will waits in the session; a
             * reconnect within the delay cancels it (MQTT-3.1.3-9). */
            mq_msg_unref(&b->mem, s->will);
            s->will = will;
            s->will_timer.kind = MQ__TIMER_WILL;
            if (mq_timer_set(&b->timers, &s->will_timer,
                             now + (mq_time_t)c->will_delay * 1000u) != MQ_OK) {
                s->will = NULL;
                mq__publish_will(b, will);
            }
        } else {
            mq__log(b, MQ_LOG_INFO, "publishing the will of %s", s ? s->client_id : "(taken over)");
            mq__publish_will(b, will);
        }
    } else {
        mq_msg_unref(&b->mem, will);
    }
    if (s) {
        if (session_ends) {
            mq__session_end(b, s);
        } else if (s->expiry_interval != MQ_EXPIRY_NEVER) {
            mq_time_t at = now + (mq_time_t)s->expiry_interval * 1000u;
            s->expiry.kind = MQ__TIMER_SESSION;
            if (mq_timer_set(&b->timers, &s->expiry, at) != MQ_OK)
                mq__log(b, MQ_LOG_WARNING, "session %s: no memory for its expiry timer",
                        s->client_id);
        }
    }
    conn_release(b, c);
}

mq_time_t mq_broker_tick(mq_broker_t *b, mq_time_t now)
{
    b->now = now;
    mq_timer_t *t;
    while ((t = mq_timer_peek(&b->timers)) && t->at <= now) {
        if (t->kind == MQ__TIMER_SESSION) {
            mq_session_t *s = owner_of(t, offsetof(mq_session_t, expiry));
            mq_timer_cancel(&b->timers, t);
            if (!s->conn) {
                mq__log(b, MQ_LOG_INFO, "session %s expired", s->client_id);
                b->stats.clients_expired++;
                mq__session_end(b, s);
            }
            continue;
        }
        if (t->kind == MQ__TIMER_SYS) {
            mq__sys_update(b, now); /* re-arms it */
            continue;
        }
        if (t->kind == MQ__TIMER_WILL) {
            mq_session_t *s = owner_of(t, offsetof(mq_session_t, will_timer));
            mq_timer_cancel(&b->timers, t);
            mq_msg_t *will = s->will;
            s->will = NULL;
            if (will) {
                mq__log(b, MQ_LOG_INFO, "publishing the delayed will of %s", s->client_id);
                mq__publish_will(b, will);
            }
            continue;
        }
        mq_conn_t *c = owner_of(t, offsetof(mq_conn_t, timer));
        switch (c->state) {
        case MQ__CONN_NEW:
            mq__conn_close(b, c, 0, "no CONNECT within connect_timeout");
            break;
        case MQ__CONN_ACTIVE: {
            mq_time_t due = c->last_rx + (mq_time_t)c->keepalive * 1500u;
            if (due > now)
                mq_timer_set(&b->timers, t, due); /* lazy: traffic moved it */
            else /* MQTT-3.1.2-24 */
                mq__conn_close(b, c, MQ_RC_KEEP_ALIVE_TIMEOUT, "keepalive timeout");
            break;
        }
        default:
            /* Closing, and the peer did not take its output in time. */
            mq_timer_cancel(&b->timers, t);
            mq_outq_clear(&c->out, &b->outp);
            mq__mark_pending(b, c);
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
    return c->state == MQ__CONN_CLOSING;
}

void *mq_conn_user(const mq_conn_t *c)
{
    return c->user;
}

const char *mq_conn_client_id(const mq_conn_t *c)
{
    return c->session ? c->session->client_id : "";
}

void mq_conn_set_listener(mq_conn_t *c, uint16_t listener)
{
    c->listener = listener;
}

uint16_t mq_conn_listener(const mq_conn_t *c)
{
    return c->listener;
}

int mq_conn_set_identity(mq_broker_t *b, mq_conn_t *c, const char *name)
{
    return mq__conn_set_str(b, &c->identity, name, name ? strlen(name) : 0);
}

const char *mq_conn_identity(const mq_conn_t *c)
{
    return c->identity;
}

const char *mq_conn_username(const mq_conn_t *c)
{
    return c->username;
}

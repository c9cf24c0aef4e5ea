/*
 * deliver — routing and delivery of messages (see internal.h).
 *
 * One PUBLISH: mq__route matches the topic in the subscription tree; each
 * session is reported once (overlapping subscriptions merged: highest QoS,
 * every subscription identifier, Retain As Published if any asks for it),
 * shared groups pick one member each; then deliver() puts the message in
 * the session's output queue, inflight window or offline queue. The wire
 * form per subscriber (QoS, flags, packet id, MQTT 5 topic alias, remaining
 * expiry, subscription ids) is decided in send_publish().
 * No system calls.
 */
#include <string.h>

#include "internal.h"
#include "musqratt/error.h"

bool mq__online(const mq_session_t *s)
{
    return s->conn && s->conn->state == MQ__CONN_ACTIVE;
}

static void count_drop(mq_broker_t *b, const mq_session_t *s, const char *why)
{
    b->stats.msgs_dropped++;
    /* One line per burst, not per message: the counter has the total. */
    if ((b->stats.msgs_dropped & (b->stats.msgs_dropped - 1)) == 0)
        mq__log(b, MQ_LOG_NOTICE, "dropping messages for client %s: %s (%llu dropped in all)",
                s->client_id, why, (unsigned long long)b->stats.msgs_dropped);
}

/*
 * max_queued_memory: a broker-wide ceiling on what sessions hold for
 * delivery (queues and inflight windows, each message counted once;
 * session.c keeps the sum). A new delivery that would pass it is refused
 * rather than let memory grow: dropped for that subscriber and counted,
 * and the publisher's PUBACK/PUBREC says 0x97 (MQTT 5) when no subscriber
 * could take the message. One log line per 10 s while it bites.
 */
#define QUOTA_LOG_MS 10000

static bool over_quota(mq_broker_t *b, const mq_msg_t *msg, bool inflight)
{
    uint64_t limit = b->cfg.max_queued_memory;
    return limit && b->sessions.held + mq_session_hold_cost(msg, inflight) > limit;
}

static void quota_drop(mq_broker_t *b, const mq_session_t *s)
{
    b->stats.msgs_dropped++;
    b->stats.quota_dropped++;
    b->route_refused++;
    if (!b->quota_logged || b->now >= b->quota_log_at + QUOTA_LOG_MS) {
        mq__log(b, MQ_LOG_WARNING,
                "max_queued_memory (%llu bytes) reached: message for client %s dropped "
                "(%llu refused since the last report, %llu in all)",
                (unsigned long long)b->cfg.max_queued_memory, s->client_id,
                (unsigned long long)(b->stats.quota_dropped - b->quota_log_count),
                (unsigned long long)b->stats.quota_dropped);
        b->quota_logged = true;
        b->quota_log_at = b->now;
        b->quota_log_count = b->stats.quota_dropped;
    }
}

/* The inflight window towards s: ours, and the client's Receive Maximum. */
static uint32_t window(const mq_broker_t *b, const mq_session_t *s)
{
    uint32_t w = b->cfg.max_inflight;
    if (s->conn && s->conn->client_receive_max < w)
        w = s->conn->client_receive_max;
    return w;
}

static bool out_full(const mq_broker_t *b, const mq_conn_t *c)
{
    if (b->cfg.max_queued_messages &&
        c->out.msgs >= (uint64_t)b->cfg.max_queued_messages + b->cfg.max_inflight)
        return true;
    if (b->cfg.max_queued_bytes && c->out.bytes >= b->cfg.max_queued_bytes)
        return true;
    return false;
}

static void queue_or_drop(mq_broker_t *b, mq_session_t *s, mq_msg_t *msg, uint8_t qos,
                          bool retain, const mq_ids_t *ids)
{
    if (b->cfg.max_queued_messages && s->nqueued >= b->cfg.max_queued_messages) {
        count_drop(b, s, "max_queued_messages reached");
        return;
    }
    if (b->cfg.max_queued_bytes && s->queued_bytes + msg->payload_len > b->cfg.max_queued_bytes) {
        count_drop(b, s, "max_queued_bytes reached");
        return;
    }
    if (mq_session_queue_push(&b->sessions, s, msg, qos, retain, ids) != MQ_OK)
        count_drop(b, s, "out of memory");
}

/* The wire form of one delivery to c. */
static void make_form(mq_broker_t *b, mq_conn_t *c, const mq_msg_t *msg, uint8_t qos, bool retain,
                      bool dup, uint16_t pid, const mq_ids_t *ids, mq_pubform_t *f)
{
    memset(f, 0, sizeof(*f));
    f->qos = qos;
    f->retain = retain;
    f->dup = dup;
    f->pid = pid;
    if (c->proto != MQ_PROTO_V5)
        return;
    f->v5 = true;
    if (msg->expiry_at) {
        /* MQTT-3.3.2-6: the remaining interval, rounded up. */
        mq_time_t left = msg->expiry_at > b->now ? msg->expiry_at - b->now : 0;
        f->has_expiry = true;
        f->expiry = (uint32_t)((left + 999) / 1000);
    }
    f->sub_ids = ids->v;
    f->n_sub_ids = ids->n;
}

/* Server-side topic alias (MQTT 5 3.3.2.3.4), chosen when the PUBLISH is
 * queued: the first delivery of a topic carries name and alias, later ones
 * only the alias. */
static void apply_alias(mq_broker_t *b, mq_conn_t *c, const mq_msg_t *msg, mq_pubform_t *f)
{
    if (!f->v5 || !c->client_alias_max)
        return;
    uint16_t a = mq_alias_out_find(&c->alias_out, mq_msg_topic(msg), msg->topic_len);
    if (a) {
        f->alias = a;
        f->omit_topic = true;
        return;
    }
    f->alias = mq_alias_out_add(&b->mem, &c->alias_out, c->client_alias_max, mq_msg_topic(msg),
                                msg->topic_len);
}

/* MQTT-3.1.2-25 (v5): a message that would exceed the client's Maximum
 * Packet Size is discarded for that client. */
static bool too_big(const mq_conn_t *c, const mq_msg_t *msg, const mq_pubform_t *f)
{
    return c->client_max_packet && mq_outq_publish_size(msg, f) > c->client_max_packet;
}

static int send_publish(mq_broker_t *b, mq_conn_t *c, mq_msg_t *msg, uint8_t qos, bool retain,
                        bool dup, uint16_t pid, const mq_ids_t *ids)
{
    mq_pubform_t f;
    make_form(b, c, msg, qos, retain, dup, pid, ids, &f);
    apply_alias(b, c, msg, &f);
    int rc = mq_outq_publish(&c->out, &b->outp, msg, &f);
    if (rc == MQ_OK) {
        b->stats.msgs_sent++;
        b->stats.packets_sent++;
        b->stats.pub_bytes_sent += msg->payload_len;
        mq__mark_pending(b, c);
    }
    return rc;
}

/* A QoS 1/2 message into the inflight window (the caller checked room). */
static void send_inflight(mq_broker_t *b, mq_session_t *s, mq_msg_t *msg, uint8_t qos, bool retain,
                          const mq_ids_t *ids)
{
    uint16_t pid = mq_session_next_pid(s);
    mq_inflight_t *f = mq_session_inflight_add(&b->sessions, s, msg, pid, qos, retain, ids);
    if (!f) {
        count_drop(b, s, "out of memory");
        return;
    }
    /* If the write-side copy cannot be queued, the inflight entry still holds
     * the message and it goes out again with DUP on the next resume. */
    send_publish(b, s->conn, msg, qos, retain, false, pid, ids);
}

/* The ACL's READ check, made when a message goes to a connected client
 * (offline sessions queue it; it is checked when it leaves the queue). */
static bool read_allowed(mq_broker_t *b, mq_conn_t *c, const mq_msg_t *msg)
{
    if (!b->cfg.acl)
        return true;
    return b->cfg.acl(b->cfg.acl_ctx, c, (const char *)mq_msg_topic(msg), msg->topic_len,
                      MQ_ACL_READ);
}

static void deliver(mq_broker_t *b, mq_session_t *s, mq_msg_t *msg, uint8_t qos, bool retain,
                    const mq_ids_t *ids)
{
    if (!mq__online(s)) {
        /* Offline: QoS 0 only if queue_qos0_messages (Mosquitto's rule). */
        if (qos == 0 && !b->cfg.queue_qos0_messages)
            return;
        if (over_quota(b, msg, false)) {
            quota_drop(b, s);
            return;
        }
        queue_or_drop(b, s, msg, qos, retain, ids);
        return;
    }
    mq_conn_t *c = s->conn;
    if (!read_allowed(b, c, msg))
        return;
    if (c->client_max_packet) {
        mq_pubform_t f;
        make_form(b, c, msg, qos, retain, false, 1, ids, &f);
        if (too_big(c, msg, &f)) {
            count_drop(b, s, "larger than the client's Maximum Packet Size");
            return;
        }
    }
    if (qos == 0) {
        if (out_full(b, c)) {
            count_drop(b, s, "output queue full (client not reading)");
            return;
        }
        if (send_publish(b, c, msg, 0, retain, false, 0, ids) != MQ_OK)
            count_drop(b, s, "out of memory");
        return;
    }
    /* Ordering (MQTT-4.6.0-5): nothing overtakes messages already queued. */
    bool now_inflight = s->ninflight < window(b, s) && !s->q_head;
    if (over_quota(b, msg, now_inflight))
        quota_drop(b, s);
    else if (now_inflight)
        send_inflight(b, s, msg, qos, retain, ids);
    else
        queue_or_drop(b, s, msg, qos, retain, ids);
}

void mq__pump(mq_broker_t *b, mq_session_t *s)
{
    while (mq__online(s) && s->q_head) {
        if (s->q_head->qos > 0 && s->ninflight >= window(b, s))
            return;
        mq_queued_t q;
        mq_session_queue_pop(&b->sessions, s, &q);
        /* MQTT-3.3.2-5: expired while queued: never sent. */
        if (mq_msg_expired(q.msg, b->now)) {
            mq_msg_unref(&b->mem, q.msg);
            continue;
        }
        if (!read_allowed(b, s->conn, q.msg)) {
            mq_msg_unref(&b->mem, q.msg);
            continue;
        }
        mq_pubform_t f;
        make_form(b, s->conn, q.msg, q.qos, q.retain, false, 1, &q.ids, &f);
        if (too_big(s->conn, q.msg, &f))
            count_drop(b, s, "larger than the client's Maximum Packet Size");
        else if (q.qos == 0)
            send_publish(b, s->conn, q.msg, 0, q.retain, false, 0, &q.ids);
        else
            send_inflight(b, s, q.msg, q.qos, q.retain, &q.ids);
        mq_msg_unref(&b->mem, q.msg);
    }
}

void mq__resume(mq_broker_t *b, mq_session_t *s)
{
    /* MQTT-4.4.0-1: resend unacknowledged PUBLISH (with DUP) and PUBREL in
     * their original order, then what was queued meanwhile. */
    for (mq_inflight_t *f = s->inf_head; f; f = f->next) {
        if (f->state == MQ_WAIT_PUBCOMP)
            mq__out_ack(b, s->conn, MQ_PKT_PUBREL, f->pid, 0);
        else
            send_publish(b, s->conn, f->msg, f->qos, f->retain, true, f->pid, &f->ids);
    }
    mq__pump(b, s);
}

/* ---- routing ----------------------------------------------------------- */

static bool grow(mq_broker_t *b, void **v, uint32_t *cap, size_t elem)
{
    uint32_t ncap = *cap ? *cap * 2 : 64;
    void *nv = mq_mem_alloc(&b->mem, (size_t)ncap * elem);
    if (!nv)
        return false;
    if (*cap)
        memcpy(nv, *v, (size_t)*cap * elem);
    mq_mem_free(&b->mem, *v, (size_t)*cap * elem);
    *v = nv;
    *cap = ncap;
    return true;
}

static void add_id(mq_broker_t *b, mq_session_t *s, uint32_t id)
{
    if (!id)
        return;
    if (b->nids == b->ids_cap && !grow(b, (void **)&b->ids, &b->ids_cap, sizeof(*b->ids)))
        return;
    b->ids[b->nids].id = id;
    b->ids[b->nids].next = s->match_ids;
    s->match_ids = (int32_t)b->nids++;
}

static void match_cb(void *ctx, void *subscriber, const mq_sub_opts_t *opts)
{
    mq_broker_t *b = ctx;
    if (*(const uint8_t *)subscriber == MQ_SUBSCRIBER_SHARE) {
        if (b->nshared == b->shared_cap &&
            !grow(b, (void **)&b->shared, &b->shared_cap, sizeof(*b->shared)))
            return;
        b->shared[b->nshared++] = subscriber;
        return;
    }
    mq_session_t *s = subscriber;
    /* MQTT-3.8.3-3: No Local. */
    if ((opts->flags & 0x04) && s == b->route_from)
        return;
    if (s->match_gen == b->match_gen) {
        /* Overlapping subscriptions: one copy at the highest QoS, carrying
         * every subscription identifier (MQTT-3.3.4-3/5). */
        if (opts->qos > s->match_qos)
            s->match_qos = opts->qos;
        s->match_rap |= (opts->flags & 0x08) != 0;
        add_id(b, s, opts->sub_id);
        return;
    }
    if (b->nmatches == b->matches_cap &&
        !grow(b, (void **)&b->matches, &b->matches_cap, sizeof(*b->matches))) {
        count_drop(b, s, "out of memory while routing");
        return;
    }
    s->match_gen = b->match_gen;
    s->match_qos = opts->qos;
    s->match_rap = (opts->flags & 0x08) != 0;
    s->match_ids = -1;
    add_id(b, s, opts->sub_id);
    b->matches[b->nmatches++] = s;
}

static void collect_ids(const mq_broker_t *b, const mq_session_t *s, mq_ids_t *ids)
{
    ids->n = 0;
    for (int32_t i = s->match_ids; i >= 0 && ids->n < MQ_SESSION_IDS; i = b->ids[i].next)
        ids->v[ids->n++] = b->ids[i].id;
}

uint32_t mq__route(mq_broker_t *b, mq_msg_t *msg, const mq_session_t *from)
{
    b->match_gen++;
    b->route_refused = 0;
    b->nmatches = 0;
    b->nshared = 0;
    b->nids = 0;
    b->route_from = from;
    mq_topic_match(&b->subs, mq_msg_topic(msg), msg->topic_len, match_cb, b);
    uint32_t n = b->nmatches;
    for (uint32_t i = 0; i < b->nmatches; i++) {
        mq_session_t *s = b->matches[i];
        uint8_t qos = msg->qos < s->match_qos ? msg->qos : s->match_qos;
        mq_ids_t ids;
        collect_ids(b, s, &ids);
        /* MQTT-3.3.1-12/13: retain flag 0 when forwarding, unless the
         * subscription asked for Retain As Published. */
        deliver(b, s, msg, qos, s->match_rap && msg->retain, &ids);
    }
    /* Shared subscriptions: one member per group (MQTT 5 4.8.2). A member
     * may also get the message through its own non-shared subscription. */
    for (uint32_t i = 0; i < b->nshared; i++) {
        uint32_t rnd = 0;
        if (b->cfg.shared_strategy == MQ_SHARE_RANDOM)
            b->plat.random(b->plat.random_ctx, (uint8_t *)&rnd, sizeof(rnd));
        mq_share_member_t *m = mq_share_pick(b->shared[i], mq__online,
                                             b->cfg.shared_strategy == MQ_SHARE_RANDOM ? &rnd
                                                                                      : NULL);
        if (!m)
            continue;
        if ((m->opts.flags & 0x04) && m->s == from)
            continue;
        uint8_t qos = msg->qos < m->opts.qos ? msg->qos : m->opts.qos;
        mq_ids_t ids = {.n = 0};
        if (m->opts.sub_id)
            ids.v[ids.n++] = m->opts.sub_id;
        deliver(b, m->s, msg, qos, (m->opts.flags & 0x08) && msg->retain, &ids);
        n++;
    }
    return n;
}

void mq__retain_store(mq_broker_t *b, mq_msg_t *msg)
{
    if (!b->cfg.retain_available)
        return;
    if (msg->payload_len == 0) {
        /* MQTT-3.3.1-10/11: an empty retained message clears the topic. */
        mq_retain_set(&b->retained, mq_msg_topic(msg), msg->topic_len, NULL);
        return;
    }
    mq_msg_ref(msg);
    int rc = mq_retain_set(&b->retained, mq_msg_topic(msg), msg->topic_len, msg);
    if (rc != MQ_OK) {
        mq_msg_unref(&b->mem, msg);
        mq__log(b, MQ_LOG_WARNING, "retained message not stored: %s", mq_strerror(rc));
    }
}

void mq__publish_will(mq_broker_t *b, mq_msg_t *will)
{
    /* The will's expiry runs from its publication (MQTT 5 3.1.3.2.4). */
    if (will->will_expiry)
        will->expiry_at = b->now + (mq_time_t)will->will_expiry * 1000u;
    if (will->retain)
        mq__retain_store(b, will);
    mq__route(b, will, NULL);
    mq_msg_unref(&b->mem, will);
}

/* Retained messages for a new subscription (MQTT-3.3.1-6). */
struct retained_ctx {
    mq_broker_t *b;
    mq_session_t *s;
    const mq_sub_opts_t *opts;
};

static void retained_cb(void *ctx, void *value)
{
    struct retained_ctx *r = ctx;
    mq_msg_t *msg = value;
    if (mq_msg_expired(msg, r->b->now))
        return; /* MQTT 5 3.3.2.3.3: an expired retained message is not sent */
    uint8_t qos = msg->qos < r->opts->qos ? msg->qos : r->opts->qos;
    mq_ids_t ids = {.n = 0};
    if (r->opts->sub_id)
        ids.v[ids.n++] = r->opts->sub_id;
    /* MQTT-3.3.1-8: retain flag 1 when sent because of a new subscription. */
    deliver(r->b, r->s, msg, qos, true, &ids);
}

void mq__deliver_retained(mq_broker_t *b, mq_session_t *s, const uint8_t *filter, size_t len,
                          const mq_sub_opts_t *opts)
{
    struct retained_ctx rctx = {b, s, opts};
    mq_retain_match(&b->retained, filter, len, retained_cb, &rctx);
}

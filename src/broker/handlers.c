/*
 * handlers — the protocol state machine: one function per packet type, for
 * MQTT 3.1, 3.1.1 and 5.0 (see internal.h for the split of the broker).
 *
 * Every handler works on a packet the codec has decoded and validated (its
 * fields point into the input) and copies what it keeps. Protocol errors
 * close the connection through mq__conn_close() with the MQTT 5 reason code
 * (a DISCONNECT for v5 clients; 3.x clients are just closed, as 3.1.1 says).
 * No system calls.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "musqratt/error.h"

/* ---- reason codes --------------------------------------------------------- */

uint8_t mq__reason_of(int err, uint8_t type)
{
    switch (err) {
    case MQ_EMALFORMED:
    case MQ_EUTF8:
        return MQ_RC_MALFORMED;
    case MQ_ETOOBIG:
        return MQ_RC_PACKET_TOO_LARGE;
    case MQ_ETOPIC:
        /* A filter in (UN)SUBSCRIBE; a topic name in PUBLISH or a will. */
        return type == MQ_PKT_SUBSCRIBE || type == MQ_PKT_UNSUBSCRIBE
                   ? MQ_RC_TOPIC_FILTER_INVALID
                   : MQ_RC_TOPIC_NAME_INVALID;
    case MQ_ENOMEM:
    case MQ_ELIMIT:
        return MQ_RC_QUOTA_EXCEEDED;
    case MQ_ECLOSED:
        return 0;
    default:
        return MQ_RC_PROTOCOL_ERROR;
    }
}

/* MQTT 3.x CONNACK return codes as MQTT 5 reason codes. */
static uint8_t connack_v5(uint8_t rc3)
{
    static const uint8_t map[6] = {MQ_RC_SUCCESS,
                                   MQ_RC_UNSUPPORTED_PROTOCOL_VERSION,
                                   MQ_RC_CLIENT_ID_NOT_VALID,
                                   MQ_RC_SERVER_UNAVAILABLE,
                                   MQ_RC_BAD_USERNAME_PASSWORD,
                                   MQ_RC_NOT_AUTHORIZED};
    return rc3 < 6 ? map[rc3] : rc3;
}

/* Closes with a reason and returns the error for the input loop. */
static int fail(mq_broker_t *b, mq_conn_t *c, uint8_t reason, const char *why)
{
    mq__conn_close(b, c, reason, why);
    return MQ_EPROTO;
}

/* ---- CONNECT ---------------------------------------------------------------- */

static int out_connack(mq_broker_t *b, mq_conn_t *c, bool sp, uint8_t rc, const uint8_t *props,
                       size_t props_len)
{
    if (c->proto == MQ_PROTO_V5) {
        uint8_t buf[512];
        int n = mq_codec_encode_connack5(buf, sizeof(buf), sp, rc, props, props_len);
        if (n < 0 || (size_t)n > sizeof(buf))
            return MQ_ENOMEM;
        return mq__out_bytes(b, c, buf, (size_t)n);
    }
    /* MQTT 3.1 has no session present flag: the byte is reserved (0). */
    uint8_t p[4] = {MQ_PKT_CONNACK << 4, 2, (sp && c->proto == MQ_PROTO_V311) ? 1 : 0, rc};
    return mq__out_bytes(b, c, p, sizeof(p));
}

/* rc is a 3.x return code or, for v5, already a reason code. */
static int refuse_connect(mq_broker_t *b, mq_conn_t *c, uint8_t rc, const char *why)
{
    uint8_t props[128];
    mq_props_writer_t w = {props, sizeof(props), 0};
    if (c->proto == MQ_PROTO_V5) {
        rc = connack_v5(rc);
        size_t wl = strlen(why);
        if (wl > 100)
            wl = 100;
        /* MQTT-3.1.2-25: nothing larger than the client's Maximum Packet
         * Size; the Reason String is what may go (CONNACK is 5 bytes + props). */
        if (!c->client_max_packet || 5 + 3 + wl + 2 <= c->client_max_packet)
            mq_props_put_str(&w, MQ_PROP_REASON_STRING, why, wl);
    }
    out_connack(b, c, false, rc, props, w.len <= w.cap ? w.len : 0);
    mq__conn_close(b, c, 0, why);
    return MQ_EPROTO;
}

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

/*
 * The properties a PUBLISH or a will forwards unchanged (MQTT-3.3.2-17/18):
 * everything but Topic Alias, Message Expiry (sent recomputed), Subscription
 * Identifier (per subscriber) and Will Delay. Written into the message.
 */
static size_t forward_props(const mq_props_t *p, uint8_t *out, size_t cap)
{
    mq_props_writer_t w = {out, cap, 0};
    mq_props_iter_t it;
    uint8_t id;
    uint32_t num;
    mq_str_t a, v;
    if (!p->raw.len)
        return 0;
    mq_props_begin(p, &it);
    while (mq_props_next(&it, &id, &num, &a, &v)) {
        switch (id) {
        case MQ_PROP_PAYLOAD_FORMAT:
            mq_props_put_byte(&w, id, (uint8_t)num);
            break;
        case MQ_PROP_CONTENT_TYPE:
        case MQ_PROP_RESPONSE_TOPIC:
        case MQ_PROP_CORRELATION_DATA:
            mq_props_put_str(&w, id, a.ptr, a.len);
            break;
        case MQ_PROP_USER_PROPERTY:
            mq_props_put_pair(&w, a.ptr, a.len, v.ptr, v.len);
            break;
        default:
            break;
        }
    }
    return w.len;
}

/* A message with its forwarded properties written in place. */
static mq_msg_t *new_msg(mq_broker_t *b, mq_str_t topic, mq_str_t payload, const mq_props_t *p,
                         uint8_t qos, bool retain, mq_time_t expiry_at)
{
    size_t plen = forward_props(p, NULL, 0);
    mq_msg_t *m = mq_msg_new(&b->mem, topic.ptr, (uint16_t)topic.len, payload.ptr, payload.len,
                             NULL, (uint32_t)plen, qos, retain, expiry_at);
    if (m && plen)
        forward_props(p, (uint8_t *)(uintptr_t)mq_msg_props(m), plen);
    return m;
}

/* The CONNACK properties of an accepted MQTT 5 connection. */
static size_t connack_props(mq_broker_t *b, const mq_connect_t *co, const mq_props_t *p,
                            const char *assigned, size_t assigned_len, uint16_t server_ka,
                            const uint8_t *auth_out, size_t auth_out_len, uint8_t *buf,
                            size_t cap)
{
    mq_props_writer_t w = {buf, cap, 0};
    (void)co;
    if (b->cfg.max_inflight < 65535)
        mq_props_put_u16(&w, MQ_PROP_RECEIVE_MAXIMUM, b->cfg.max_inflight);
    if (!b->cfg.retain_available)
        mq_props_put_byte(&w, MQ_PROP_RETAIN_AVAILABLE, 0);
    if (b->cfg.max_packet_size < MQ_MAX_REMAINING_LENGTH + 5)
        mq_props_put_u32(&w, MQ_PROP_MAXIMUM_PACKET_SIZE, b->cfg.max_packet_size);
    if (assigned)
        mq_props_put_str(&w, MQ_PROP_ASSIGNED_CLIENT_ID, assigned, assigned_len);
    if (b->cfg.max_topic_alias)
        mq_props_put_u16(&w, MQ_PROP_TOPIC_ALIAS_MAXIMUM, b->cfg.max_topic_alias);
    if (server_ka)
        mq_props_put_u16(&w, MQ_PROP_SERVER_KEEP_ALIVE, server_ka);
    if (p->request_response_info && b->cfg.response_information)
        mq_props_put_str(&w, MQ_PROP_RESPONSE_INFO, b->cfg.response_information,
                         strlen(b->cfg.response_information));
    if (mq_props_has(p, MQ_PROP_AUTH_METHOD)) {
        mq_props_put_str(&w, MQ_PROP_AUTH_METHOD, p->auth_method.ptr, p->auth_method.len);
        if (auth_out_len)
            mq_props_put_str(&w, MQ_PROP_AUTH_DATA, auth_out, auth_out_len);
    }
    return w.len;
}

static int handle_connect(mq_broker_t *b, mq_conn_t *c, const mq_packet_t *pkt)
{
    const mq_connect_t *co = &pkt->u.connect;
    const mq_props_t *p = &pkt->props;
    bool v5 = co->protocol_level == MQ_PROTO_V5;
    c->proto = co->protocol_level;
    b->stats.connects++;
    if (v5 && mq_props_has(p, MQ_PROP_MAXIMUM_PACKET_SIZE))
        c->client_max_packet = p->maximum_packet_size; /* also for a refusal */

    char genid[40];
    const char *id = (const char *)co->client_id.ptr;
    size_t idlen = co->client_id.len;
    const char *assigned = NULL;
    if (co->protocol_level == MQ_PROTO_V31 && (idlen == 0 || idlen > 23)) {
        /* MQTT 3.1: the client id is 1 to 23 characters, else rc 2. */
        return refuse_connect(b, c, MQ_CONNACK_IDENTIFIER_REJECTED,
                              "MQTT 3.1 client id must be 1-23 characters");
    }
    if (idlen == 0) {
        /* MQTT-3.1.3-8: 3.1.1 rejects a zero-length id with clean session 0;
         * MQTT-3.1.3-6 (and v5 3.1.3.1): otherwise the server assigns one. */
        if ((!v5 && !co->clean) || !b->cfg.allow_zero_length_clientid)
            return refuse_connect(b, c, MQ_CONNACK_IDENTIFIER_REJECTED,
                                  "empty client id not allowed");
        int n = gen_client_id(b, genid, sizeof(genid));
        if (n < 0)
            return refuse_connect(b, c, MQ_CONNACK_SERVER_UNAVAILABLE,
                                  "could not generate a client id");
        id = genid;
        idlen = (size_t)n;
        assigned = genid;
    }

    uint16_t keepalive = co->keepalive;
    uint16_t server_ka = 0;
    if (b->cfg.max_keepalive && (keepalive == 0 || keepalive > b->cfg.max_keepalive)) {
        /* MQTT 5 tells the client (Server Keep Alive, MQTT-3.2.2-21); 3.x
         * cannot, but the limit is enforced all the same: a connection that
         * stays silent for 1.5 x max_keepalive is closed. */
        mq__log(b, MQ_LOG_NOTICE, "client keepalive %u capped to max_keepalive %u", keepalive,
                b->cfg.max_keepalive);
        keepalive = b->cfg.max_keepalive;
        server_ka = v5 ? keepalive : 0;
    }

    uint8_t auth_out[256];
    size_t auth_out_len = 0;
    if (v5 && mq_props_has(p, MQ_PROP_AUTH_METHOD)) {
        /* MQTT 5 4.12 enhanced authentication: with no method configured,
         * 0x8C Bad authentication method. */
        int arc = MQ_RC_BAD_AUTH_METHOD;
        if (b->cfg.enhanced_auth) {
            auth_out_len = sizeof(auth_out);
            arc = b->cfg.enhanced_auth(b->cfg.enhanced_auth_ctx, p->auth_method, p->auth_data,
                                       auth_out, &auth_out_len);
            if (arc == MQ_RC_CONTINUE_AUTH)
                arc = MQ_RC_NOT_AUTHORIZED; /* only one-step methods so far */
        }
        if (arc != MQ_RC_SUCCESS)
            return refuse_connect(b, c, (uint8_t)arc, "authentication failed");
    }
    int auth_rc = MQ_CONNACK_ACCEPTED;
    if (b->cfg.auth)
        auth_rc = b->cfg.auth(b->cfg.auth_ctx, c, co);
    else if (!b->cfg.allow_anonymous && !co->has_username && !c->identity)
        auth_rc = MQ_CONNACK_NOT_AUTHORIZED;
    if (auth_rc != MQ_CONNACK_ACCEPTED)
        return refuse_connect(b, c, (uint8_t)auth_rc, "not authorized");
    if (c->identity) {
        if (mq__conn_set_str(b, &c->username, c->identity, strlen(c->identity)) != MQ_OK)
            return refuse_connect(b, c, MQ_CONNACK_SERVER_UNAVAILABLE, "out of memory");
    } else if (co->has_username &&
               mq__conn_set_str(b, &c->username, (const char *)co->username.ptr,
                                co->username.len) != MQ_OK) {
        return refuse_connect(b, c, MQ_CONNACK_SERVER_UNAVAILABLE, "out of memory");
    }

    bool will_denied = co->will && mq__sys_topic(co->will_topic.ptr, co->will_topic.len);
    if (will_denied) {
        /* $SYS belongs to the broker: such a will is never published. As in
         * Mosquitto 2.0 (an ACL denial when it would go out), the CONNECT
         * itself is accepted. */
        b->stats.sys_denied++;
        mq__log(b, MQ_LOG_NOTICE, "client %.*s: will to $SYS ignored ($SYS is read-only)",
                (int)(idlen > 64 ? 64 : idlen), id);
    }
    if (co->will && !will_denied) {
        const mq_props_t *wp = &pkt->will_props;
        c->will = new_msg(b, co->will_topic, co->will_payload, wp, co->will_qos, co->will_retain, 0);
        if (!c->will)
            return refuse_connect(b, c, MQ_CONNACK_SERVER_UNAVAILABLE, "out of memory");
        c->will_delay = wp->will_delay;
        c->will->will_expiry = wp->message_expiry;
    }

    mq_session_t *s = mq_session_find(&b->sessions, id, idlen);
    if (s && s->conn) {
        /* MQTT-3.1.4-2: the existing connection with this id is closed
         * (MQTT 5: DISCONNECT 0x8E Session taken over). */
        mq_conn_t *old = s->conn;
        mq__log(b, MQ_LOG_NOTICE, "client %s already connected, closing the old connection",
                s->client_id);
        mq__conn_close(b, old, MQ_RC_SESSION_TAKEN_OVER, NULL);
        mq__will_check(b, old); /* while it still has its client id */
        old->session = NULL;
        s->conn = NULL;
        if (old->will && old->will_delay && !co->clean && s->expiry_interval) {
            /* MQTT 5 3.1.2.5: the session is resumed within the will delay,
             * so the old connection's will is not published. */
            mq_msg_unref(&b->mem, old->will);
            old->will = NULL;
        }
    }
    if (s && (co->clean || s->expiry_interval == 0)) {
        /* MQTT-3.1.2-6 / Clean Start: the previous session is discarded
         * (a session whose expiry is 0 ended with its connection). */
        mq__session_end(b, s);
        s = NULL;
    }
    bool present = s != NULL;
    if (!s) {
        s = mq_session_create(&b->sessions, id, idlen);
        if (!s)
            return refuse_connect(b, c, MQ_CONNACK_SERVER_UNAVAILABLE,
                                  "session limit or out of memory");
    }
    mq_timer_cancel(&b->timers, &s->expiry);
    if (s->will) {
        /* MQTT-3.1.3-9: reconnected within the Will Delay: no will. */
        mq_timer_cancel(&b->timers, &s->will_timer);
        mq_msg_unref(&b->mem, s->will);
        s->will = NULL;
    }
    s->proto = c->proto;
    if (v5) {
        s->clean = false;
        s->expiry_interval = p->session_expiry;
    } else {
        s->clean = co->clean;
        s->expiry_interval = co->clean ? 0
                             : b->cfg.persistent_client_expiration
                                 ? b->cfg.persistent_client_expiration
                                 : MQ_EXPIRY_NEVER;
    }
    s->conn = c;
    c->session = s;
    c->state = MQ__CONN_ACTIVE;
    if (++b->nactive > b->stats.clients_maximum)
        b->stats.clients_maximum = b->nactive;
    c->keepalive = keepalive;
    if (v5) {
        if (mq_props_has(p, MQ_PROP_REQUEST_PROBLEM_INFO))
            c->request_problem_info = p->request_problem_info;
        if (mq_props_has(p, MQ_PROP_RECEIVE_MAXIMUM))
            c->client_receive_max = p->receive_maximum;
        c->client_alias_max = p->topic_alias_maximum;
    }
    if (c->keepalive) /* MQTT-3.1.2-24: one and a half times the keepalive */
        mq_timer_set(&b->timers, &c->timer, b->now + (mq_time_t)c->keepalive * 1500u);
    else
        mq_timer_cancel(&b->timers, &c->timer);

    uint8_t props[512];
    size_t plen = 0;
    if (v5) {
        plen = connack_props(b, co, p, assigned, idlen, server_ka, auth_out, auth_out_len, props,
                             sizeof(props));
        if (plen > sizeof(props))
            plen = 0;
    }
    out_connack(b, c, present, MQ_CONNACK_ACCEPTED, props, plen);
    if (b->cfg.connection_messages)
        mq__log(b, MQ_LOG_INFO, "client %s connected (MQTT %s, clean %d, keepalive %u)",
                s->client_id, v5 ? "5" : c->proto == MQ_PROTO_V31 ? "3.1" : "3.1.1", co->clean,
                keepalive);
    if (present)
        mq__resume(b, s);
    return MQ_OK;
}

/* ---- PUBLISH and its acknowledgements ------------------------------------- */

static int handle_publish(mq_broker_t *b, mq_conn_t *c, const mq_packet_t *pkt)
{
    const mq_publish_t *pub = &pkt->u.publish;
    const mq_props_t *p = &pkt->props;
    mq_session_t *s = c->session;
    bool v5 = c->proto == MQ_PROTO_V5;
    mq_str_t topic = pub->topic;
    b->stats.msgs_received++;
    b->stats.pub_bytes_received += pub->payload.len;

    if (v5) {
        if (mq_props_has(p, MQ_PROP_TOPIC_ALIAS)) {
            uint16_t alias = p->topic_alias;
            /* MQTT-3.3.2-9/10: 0 or above our Topic Alias Maximum. */
            if (alias == 0 || alias > b->cfg.max_topic_alias)
                return fail(b, c, MQ_RC_TOPIC_ALIAS_INVALID, "topic alias out of range");
            if (topic.len == 0) {
                const mq_alias_entry_t *e = mq_alias_in_get(&c->alias_in, alias);
                if (!e)
                    return fail(b, c, MQ_RC_PROTOCOL_ERROR, "unknown topic alias");
                topic.ptr = e->topic;
                topic.len = e->len;
            } else if (mq_alias_in_set(&b->mem, &c->alias_in, b->cfg.max_topic_alias, alias,
                                       topic.ptr, topic.len) != MQ_OK) {
                return fail(b, c, MQ_RC_QUOTA_EXCEEDED, "out of memory for a topic alias");
            }
        }
        /* MQTT-3.3.4-6: a Subscription Identifier is the server's to send. */
        if (mq_props_has(p, MQ_PROP_SUBSCRIPTION_ID))
            return fail(b, c, MQ_RC_PROTOCOL_ERROR, "PUBLISH with a subscription identifier");
        if (mq_props_has(p, MQ_PROP_RESPONSE_TOPIC) &&
            !mq_topic_name_valid(p->response_topic.ptr, p->response_topic.len))
            return fail(b, c, MQ_RC_PROTOCOL_ERROR, "response topic with wildcards (MQTT-3.3.2-14)");
        if (pub->retain && !b->cfg.retain_available)
            return fail(b, c, MQ_RC_RETAIN_NOT_SUPPORTED, "retain not available");
        /* Receive Maximum (MQTT-3.3.4-7/8): QoS 2 messages awaiting PUBREL
         * count against what the broker announced. */
        if (pub->qos == 2 && !mq_session_in_has(s, pub->packet_id) &&
            s->nin >= b->cfg.max_inflight)
            return fail(b, c, MQ_RC_RECEIVE_MAXIMUM_EXCEEDED, "receive maximum exceeded");
    }
    if (pub->qos == 2 && mq_session_in_has(s, pub->packet_id)) {
        /* MQTT-4.3.3-2 (method B): a resent QoS 2 PUBLISH is acknowledged,
         * not delivered again. */
        return mq__out_ack(b, c, MQ_PKT_PUBREC, pub->packet_id, 0);
    }

    uint8_t reason = MQ_RC_SUCCESS;
    if (mq__sys_topic(topic.ptr, topic.len)) {
        /* $SYS is the broker's own tree (sys.c): clients may read it, never
         * write it. Acknowledged and dropped as Mosquitto does for an ACL
         * denial; MQTT 5 says why (0x87 Not authorized). */
        b->stats.sys_denied++;
        mq__log(b, MQ_LOG_NOTICE, "client %s: PUBLISH to %.*s denied ($SYS is read-only)",
                s->client_id, (int)(topic.len > 64 ? 64 : topic.len), (const char *)topic.ptr);
        reason = MQ_RC_NOT_AUTHORIZED;
    } else if (b->cfg.acl && !b->cfg.acl(b->cfg.acl_ctx, c, (const char *)topic.ptr, topic.len,
                                  MQ_ACL_WRITE)) {
        /* Mosquitto 2.0: a PUBLISH the ACL refuses is dropped but still
         * acknowledged (MQTT 5: with 0x87 Not authorized). */
        mq__log(b, MQ_LOG_NOTICE, "client %s: PUBLISH to %.*s denied by the ACL", s->client_id,
                (int)topic.len, (const char *)topic.ptr);
        reason = MQ_RC_NOT_AUTHORIZED;
    } else if (b->cfg.message_size_limit && pub->payload.len > b->cfg.message_size_limit) {
        mq__log(b, MQ_LOG_NOTICE, "client %s: message of %u bytes over message_size_limit dropped",
                s->client_id, pub->payload.len);
        b->stats.msgs_dropped++;
        reason = MQ_RC_PACKET_TOO_LARGE;
    } else if (v5 && p->payload_format == 1 && !mq_utf8_valid(pub->payload.ptr, pub->payload.len)) {
        /* MQTT 5 3.3.2.3.2: the broker may check a payload said to be UTF-8. */
        reason = MQ_RC_PAYLOAD_FORMAT_INVALID;
    } else {
        mq_time_t expiry_at = 0;
        if (mq_props_has(p, MQ_PROP_MESSAGE_EXPIRY))
            expiry_at = b->now + (mq_time_t)p->message_expiry * 1000u;
        mq_msg_t *msg = new_msg(b, topic, pub->payload, p, pub->qos, pub->retain, expiry_at);
        if (!msg) {
            /* Never acknowledge what was not taken: the client resends it. */
            mq__conn_close(b, c, MQ_RC_QUOTA_EXCEEDED, "out of memory for a message");
            return MQ_ENOMEM;
        }
        if (pub->qos == 2 && mq_session_in_add(&b->sessions, s, pub->packet_id) != MQ_OK) {
            mq_msg_unref(&b->mem, msg);
            mq__conn_close(b, c, MQ_RC_QUOTA_EXCEEDED, "out of memory for a QoS 2 id");
            return MQ_ENOMEM;
        }
        if (pub->retain)
            mq__retain_store(b, msg);
        uint32_t routed = mq__route(b, msg, s);
        if (routed == 0)
            reason = MQ_RC_NO_MATCHING_SUBSCRIBERS; /* still a success */
        else if (b->route_refused == routed && pub->qos > 0 && v5) {
            /* max_queued_memory: no subscriber could take it. The failure
             * PUBREC ends a QoS 2 exchange (MQTT 5 4.3.3): forget the id. */
            reason = MQ_RC_QUOTA_EXCEEDED;
            if (pub->qos == 2)
                mq_session_in_remove(s, pub->packet_id);
        }
        mq_msg_unref(&b->mem, msg);
    }
    if (!v5 && reason != MQ_RC_NO_MATCHING_SUBSCRIBERS)
        reason = MQ_RC_SUCCESS; /* 3.x acks carry no reason */
    if (pub->qos == 1)
        return mq__out_ack(b, c, MQ_PKT_PUBACK, pub->packet_id, v5 ? reason : 0);
    if (pub->qos == 2) {
        if (reason < 0x80 && !mq_session_in_has(s, pub->packet_id))
            mq_session_in_add(&b->sessions, s, pub->packet_id);
        return mq__out_ack(b, c, MQ_PKT_PUBREC, pub->packet_id, v5 ? reason : 0);
    }
    return MQ_OK;
}

static void handle_ack(mq_broker_t *b, mq_conn_t *c, uint8_t type, const mq_ack_t *ack)
{
    mq_session_t *s = c->session;
    uint16_t pid = ack->packet_id;
    mq_inflight_t *f = mq_session_inflight_find(s, pid);
    switch (type) {
    case MQ_PKT_PUBACK:
        if (f && f->state == MQ_WAIT_PUBACK) {
            mq_session_inflight_remove(&b->sessions, s, f);
            mq__pump(b, s);
        }
        break;
    case MQ_PKT_PUBREC:
        if (f && f->state == MQ_WAIT_PUBREC && ack->reason >= 0x80) {
            /* MQTT 5 4.3.3: a failure PUBREC ends the exchange. */
            mq_session_inflight_remove(&b->sessions, s, f);
            mq__pump(b, s);
            break;
        }
        if (f && f->state == MQ_WAIT_PUBREC) {
            /* The receiver owns the message now; keep only the id. */
            f->state = MQ_WAIT_PUBCOMP;
            mq_session_inflight_release_msg(&b->sessions, f);
        }
        if (f && f->state == MQ_WAIT_PUBCOMP)
            mq__out_ack(b, c, MQ_PKT_PUBREL, pid, 0); /* MQTT-4.3.3-1 */
        else if (!f)
            mq__out_ack(b, c, MQ_PKT_PUBREL, pid, MQ_RC_PACKET_ID_NOT_FOUND);
        break;
    case MQ_PKT_PUBCOMP:
        if (f && f->state == MQ_WAIT_PUBCOMP) {
            mq_session_inflight_remove(&b->sessions, s, f);
            mq__pump(b, s);
        }
        break;
    default:
        break;
    }
}

static int handle_pubrel(mq_broker_t *b, mq_conn_t *c, const mq_ack_t *ack)
{
    /* MQTT-4.3.3-2 method B: the id is released and PUBCOMP always sent;
     * MQTT 5 says 0x92 when the id was not known. */
    mq_session_t *s = c->session;
    uint8_t reason = mq_session_in_has(s, ack->packet_id) ? 0 : MQ_RC_PACKET_ID_NOT_FOUND;
    mq_session_in_remove(s, ack->packet_id);
    return mq__out_ack(b, c, MQ_PKT_PUBCOMP, ack->packet_id, reason);
}

/* ---- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------ */

/* Reserves SUBACK / UNSUBACK (3.x: one code per filter for SUBACK, none
 * for UNSUBACK; v5: property length 0 and one code per filter) and returns
 * where the codes go. */
static uint8_t *reserve_ack_list(mq_broker_t *b, mq_conn_t *c, uint8_t type, uint16_t pid,
                                 uint32_t count, bool codes)
{
    bool v5 = c->proto == MQ_PROTO_V5;
    uint32_t remaining = 2u + (v5 ? 1u : 0u) + (codes ? count : 0u);
    int vlen = mq_codec_varint_size(remaining);
    if (vlen <= 0)
        return NULL;
    uint8_t *p = mq_outq_reserve(&c->out, &b->outp, 1u + (size_t)vlen + remaining);
    if (!p)
        return NULL;
    b->stats.packets_sent++;
    mq__mark_pending(b, c);
    *p++ = (uint8_t)(type << 4);
    p += mq_codec_varint_write(p, remaining);
    *p++ = (uint8_t)(pid >> 8);
    *p++ = (uint8_t)(pid & 0xff);
    if (v5)
        *p++ = 0; /* no properties */
    return p;
}

static int subscribe_one(mq_broker_t *b, mq_session_t *s, mq_str_t f, const mq_sub_opts_t *so,
                         bool *is_new, bool *shared)
{
    mq_str_t group, inner;
    mq_subrec_t *r = mq_session_sub_find(s, f.ptr, f.len);
    *is_new = r == NULL;
    *shared = mq_topic_shared_split(f.ptr, f.len, &group, &inner);
    if (!r && b->cfg.max_subscriptions_per_client &&
        s->nsubs >= b->cfg.max_subscriptions_per_client)
        return MQ_ELIMIT;
    if (*shared) {
        mq_share_t *g = mq_share_find(&b->shares, group.ptr, group.len, inner.ptr, inner.len);
        bool created = false;
        if (!g) {
            g = mq_share_create(&b->shares, group.ptr, group.len, inner.ptr, inner.len);
            if (!g)
                return MQ_ENOMEM;
            mq_sub_opts_t gopts = {.qos = 2, .flags = 0, .sub_id = 0};
            int rc = mq_topic_subscribe(&b->subs, inner.ptr, inner.len, g, &gopts);
            if (rc < 0) {
                mq_share_free(&b->shares, g);
                return rc;
            }
            created = true;
        }
        if (!r && !(r = mq_session_sub_add(&b->sessions, s, f.ptr, f.len, so->qos))) {
            if (created) {
                mq_topic_unsubscribe(&b->subs, inner.ptr, inner.len, g);
                mq_share_free(&b->shares, g);
            }
            return MQ_ENOMEM;
        }
        r->share = g;
        r->qos = so->qos;
        if (mq_share_join(&b->shares, g, s, so) < 0)
            return MQ_ENOMEM; /* the record stays; session end cleans it */
        return MQ_OK;
    }
    int rc = mq_topic_subscribe(&b->subs, f.ptr, f.len, s, so);
    if (rc < 0)
        return rc;
    if (r) {
        r->qos = so->qos;
    } else if (!mq_session_sub_add(&b->sessions, s, f.ptr, f.len, so->qos)) {
        mq_topic_unsubscribe(&b->subs, f.ptr, f.len, s);
        return MQ_ENOMEM;
    }
    return MQ_OK;
}

static int handle_subscribe(mq_broker_t *b, mq_conn_t *c, const mq_packet_t *pkt)
{
    const mq_sublist_t *sl = &pkt->u.sub;
    mq_session_t *s = c->session;
    bool v5 = c->proto == MQ_PROTO_V5;
    uint8_t *codes = reserve_ack_list(b, c, MQ_PKT_SUBACK, sl->packet_id, sl->count, true);
    if (!codes)
        return MQ_ENOMEM;
    uint32_t sub_id = v5 && mq_props_has(&pkt->props, MQ_PROP_SUBSCRIPTION_ID)
                          ? pkt->props.subscription_id
                          : 0;
    mq_sublist_iter_t it;
    mq_str_t f;
    uint8_t opts;
    uint32_t i = 0;
    /* One pass subscribes and fills the SUBACK (queued first); retained
     * messages follow it (MQTT-3.3.1-6; MQTT-3.8.4-3: re-sent when a
     * subscription is replaced, unless Retain Handling says otherwise). */
    mq_codec_filters_begin(sl, true, &it);
    while (mq_codec_filters_next(&it, &f, &opts)) {
        mq_sub_opts_t so = {.qos = opts & 3, .flags = v5 ? (uint8_t)(opts & 0x3C) : 0,
                            .sub_id = sub_id};
        bool is_new, shared;
        if (b->cfg.acl && !b->cfg.acl(b->cfg.acl_ctx, c, (const char *)f.ptr, f.len,
                                      MQ_ACL_SUBSCRIBE)) {
            /* MQTT 3.1.1 3.9.3: 0x80 Failure; MQTT 5 3.9.3: 0x87 Not authorized. */
            codes[i++] = v5 ? MQ_RC_NOT_AUTHORIZED : MQ_SUBACK_FAILURE;
            mq__log(b, MQ_LOG_NOTICE, "client %s: subscription to %.*s denied by the ACL",
                    s->client_id, (int)f.len, (const char *)f.ptr);
            continue;
        }
        int rc = subscribe_one(b, s, f, &so, &is_new, &shared);
        if (rc < 0) {
            codes[i++] = v5 ? (rc == MQ_ELIMIT ? MQ_RC_QUOTA_EXCEEDED : MQ_RC_UNSPECIFIED)
                            : MQ_SUBACK_FAILURE;
            mq__log(b, MQ_LOG_NOTICE, "client %s: subscription to %.*s refused: %s",
                    s->client_id, (int)f.len, (const char *)f.ptr, mq_strerror(rc));
            continue;
        }
        codes[i++] = so.qos;
        uint8_t rh = (so.flags >> 4) & 3;
        /* Shared subscriptions get no retained messages (MQTT 5 4.8.2). */
        if (!shared && (rh == 0 || (rh == 1 && is_new)))
            mq__deliver_retained(b, s, f.ptr, f.len, &so);
    }
    return MQ_OK;
}

static bool unsubscribe_one(mq_broker_t *b, mq_session_t *s, mq_str_t f)
{
    mq_subrec_t *r = mq_session_sub_find(s, f.ptr, f.len);
    if (!r)
        return false;
    mq__sub_detach(b, s, r);
    mq_session_sub_remove(&b->sessions, s, r);
    return true;
}

static int handle_unsubscribe(mq_broker_t *b, mq_conn_t *c, const mq_sublist_t *sl)
{
    mq_session_t *s = c->session;
    bool v5 = c->proto == MQ_PROTO_V5;
    /* MQTT-3.10.4-4/5: UNSUBACK even when nothing matched; MQTT 5 says
     * per filter (0x11 No subscription existed). */
    uint8_t *codes = reserve_ack_list(b, c, MQ_PKT_UNSUBACK, sl->packet_id, sl->count, v5);
    if (!codes)
        return MQ_ENOMEM;
    mq_sublist_iter_t it;
    mq_str_t f;
    uint8_t opts;
    uint32_t i = 0;
    mq_codec_filters_begin(sl, false, &it);
    while (mq_codec_filters_next(&it, &f, &opts)) {
        bool existed = unsubscribe_one(b, s, f);
        if (v5)
            codes[i++] = existed ? MQ_RC_SUCCESS : MQ_RC_NO_SUBSCRIPTION_EXISTED;
    }
    return MQ_OK;
}

/* ---- DISCONNECT, AUTH --------------------------------------------------------- */

/* Reason codes a client may put in DISCONNECT (MQTT 5 3.14.2.1). */
static bool client_disconnect_reason(uint8_t r)
{
    switch (r) {
    case 0x00: case 0x04: case 0x80: case 0x81: case 0x82: case 0x83: case 0x90:
    case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: case 0x98: case 0x99:
        return true;
    default:
        return false;
    }
}

static int handle_disconnect(mq_broker_t *b, mq_conn_t *c, const mq_packet_t *pkt)
{
    mq_session_t *s = c->session;
    if (c->proto == MQ_PROTO_V5) {
        const mq_props_t *p = &pkt->props;
        uint8_t reason = pkt->u.disconnect.reason;
        if (!client_disconnect_reason(reason))
            return fail(b, c, MQ_RC_PROTOCOL_ERROR, "DISCONNECT with a reason code clients may not send");
        if (mq_props_has(p, MQ_PROP_SESSION_EXPIRY)) {
            /* MQTT 5 3.14.2.2.2: 0 at CONNECT cannot become non-zero. */
            if (s->expiry_interval == 0 && p->session_expiry != 0)
                return fail(b, c, MQ_RC_PROTOCOL_ERROR, "session expiry changed from 0");
            s->expiry_interval = p->session_expiry;
        }
        if (reason != MQ_RC_SUCCESS) {
            /* MQTT-3.1.2-10: only Normal disconnection (0x00) removes the
             * will; 0x04 and the error codes leave it to be published. */
            mq__conn_close(b, c, 0, NULL);
            return MQ_ECLOSED;
        }
    }
    /* MQTT-3.14.4-3: the will is discarded. */
    c->clean_disconnect = true;
    mq_msg_unref(&b->mem, c->will);
    c->will = NULL;
    mq__conn_close(b, c, 0, NULL);
    return MQ_ECLOSED;
}

static int handle_auth(mq_broker_t *b, mq_conn_t *c, const mq_packet_t *pkt)
{
    (void)pkt;
    /* MQTT-4.12.0-x: AUTH is only part of an authentication exchange that
     * the CONNECT started; musqratt's methods finish in one step, so an
     * AUTH is never expected. */
    return fail(b, c, MQ_RC_PROTOCOL_ERROR, "unexpected AUTH");
}

/* ---- dispatch ---------------------------------------------------------------- */

int mq__handle_packet(mq_broker_t *b, mq_conn_t *c, const mq_fixed_header_t *fh,
                      const uint8_t *body)
{
    /* (A first packet other than CONNECT was refused by header_check.) */
    b->stats.packets_received++;
    if (c->state == MQ__CONN_ACTIVE && fh->type == MQ_PKT_CONNECT)
        return fail(b, c, MQ_RC_PROTOCOL_ERROR, "second CONNECT (MQTT-3.1.0-2)");
    mq_packet_t pkt;
    if (fh->type == MQ_PKT_CONNECT)
        memset(&pkt, 0, sizeof(pkt)); /* the error path reads protocol_level */
    int rc = mq_codec_decode(fh, body, c->proto, &pkt);
    if (fh->type == MQ_PKT_CONNECT && rc < 0) {
        if (rc == MQ_EPROTOVERSION) {
            /* MQTT-3.1.2-2: CONNACK 0x01 (MQTT 5: 0x84), then close. */
            c->proto = pkt.u.connect.protocol_level == MQ_PROTO_V5 ? MQ_PROTO_V5 : MQ_PROTO_V311;
            return refuse_connect(b, c, MQ_CONNACK_BAD_PROTOCOL_VERSION,
                                  "unsupported protocol level");
        }
        if (rc != MQ_EPROTONAME && pkt.u.connect.protocol_level == MQ_PROTO_V5) {
            /* MQTT 5 3.2.2.2: a CONNACK with the reason, then close. */
            c->proto = MQ_PROTO_V5;
            uint8_t reason = mq__reason_of(rc, MQ_PKT_CONNECT);
            out_connack(b, c, false, reason, NULL, 0);
        }
    }
    if (rc < 0) {
        char why[96];
        snprintf(why, sizeof(why), "bad packet of type %u: %s", fh->type, mq_strerror(rc));
        mq__conn_close(b, c, mq__reason_of(rc, fh->type), why);
        return rc;
    }
    switch (fh->type) {
    case MQ_PKT_CONNECT:
        return handle_connect(b, c, &pkt);
    case MQ_PKT_PUBLISH:
        return handle_publish(b, c, &pkt);
    case MQ_PKT_PUBACK:
    case MQ_PKT_PUBREC:
    case MQ_PKT_PUBCOMP:
        handle_ack(b, c, fh->type, &pkt.u.ack);
        return MQ_OK;
    case MQ_PKT_PUBREL:
        return handle_pubrel(b, c, &pkt.u.ack);
    case MQ_PKT_SUBSCRIBE:
        rc = handle_subscribe(b, c, &pkt);
        if (rc < 0)
            mq__conn_close(b, c, MQ_RC_QUOTA_EXCEEDED, "cannot answer SUBSCRIBE");
        return rc;
    case MQ_PKT_UNSUBSCRIBE:
        rc = handle_unsubscribe(b, c, &pkt.u.sub);
        if (rc < 0)
            mq__conn_close(b, c, MQ_RC_QUOTA_EXCEEDED, "cannot answer UNSUBSCRIBE");
        return rc;
    case MQ_PKT_PINGREQ: {
        static const uint8_t resp[2] = {MQ_PKT_PINGRESP << 4, 0};
        return mq__out_bytes(b, c, resp, sizeof(resp));
    }
    case MQ_PKT_DISCONNECT:
        return handle_disconnect(b, c, &pkt);
    case MQ_PKT_AUTH:
        if (c->proto == MQ_PROTO_V5)
            return handle_auth(b, c, &pkt);
        return fail(b, c, 0, "AUTH from an MQTT 3 client");
    default:
        /* CONNACK, SUBACK, UNSUBACK, PINGRESP: only a server sends them
         * (MQTT-4.8.0-1 / MQTT 5 4.13). */
        return fail(b, c, MQ_RC_PROTOCOL_ERROR, "packet type a client must not send");
    }
}

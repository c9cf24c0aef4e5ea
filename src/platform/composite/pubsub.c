/* musqratt on Composite — publisher and subscriber components (see pubsub.h). */
#include "pubsub.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "musqratt/error.h"

#define MQ__DATA_PREFIX "musqratt/data/"
#define MQ__WILL_TOPIC "musqratt/will"
#define MQ__RETAIN_TOPIC "musqratt/retained"
#define MQ__READY_TOPIC "musqratt/ctl/ready"

static void mq__say(const mq_cos_env_t *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mq__say(const mq_cos_env_t *env, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    env->console(env->ctx, line, (size_t)n);
}

static void mq__stat_add(mq_cos_stat_t *st, uint64_t v)
{
    if (st->count == 0 || v < st->min)
        st->min = v;
    if (v > st->max)
        st->max = v;
    st->sum += v;
    st->count++;
}

static bool mq__str_is(mq_str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* Parses "seq=<n> t=<cycles>"; false when the payload is not like that. */
static bool mq__parse_data(mq_str_t p, uint32_t *seq, uint64_t *t)
{
    const uint8_t *c = p.ptr, *end = p.ptr + p.len;
    uint64_t v[2] = {0, 0};
    const char *keys[2] = {"seq=", "t="};
    for (int k = 0; k < 2; k++) {
        size_t kl = strlen(keys[k]);
        if ((size_t)(end - c) < kl || memcmp(c, keys[k], kl) != 0)
            return false;
        c += kl;
        if (c == end || *c < '0' || *c > '9')
            return false;
        while (c < end && *c >= '0' && *c <= '9')
            v[k] = v[k] * 10 + (uint64_t)(*c++ - '0');
        if (k == 0) {
            if (c == end || *c != ' ')
                return false;
            c++;
        }
    }
    if (c != end || v[0] > UINT32_MAX)
        return false;
    *seq = (uint32_t)v[0];
    *t = v[1];
    return true;
}

static uint64_t mq__cycles(const mq_cos_env_t *env)
{
    return env->cycles(env->ctx);
}

/* ---- publisher ---------------------------------------------------------- */

enum {
    P_OPEN, P_CONNACK, P_SUBACK, P_RETAIN_ACK, P_WAIT_READY, P_SEND, P_ACK, P_COMP, P_END,
    P_DONE
};

void mq_cos_pub_init(mq_cos_pub_t *p, mq_cos_chan_t *ch, unsigned index,
                     const mq_cos_env_t *env, uint32_t nmsgs)
{
    memset(p, 0, sizeof(*p));
    mq_cos_client_init(&p->cl, ch, index, env);
    p->nmsgs = nmsgs;
}

static bool mq__pub_fail(mq_cos_pub_t *p, int err, const char *what)
{
    if (!p->error)
        p->error = err ? err : MQ_EPROTO;
    mq__say(p->cl.env, "pub: FAILED: %s (%s)", what, mq_strerror(p->error));
    if (p->cl.open)
        mq_cos_client_close(&p->cl);
    p->state = P_DONE;
    return true;
}

/* Sends data message p->next. */
static int mq__pub_send_data(mq_cos_pub_t *p)
{
    char topic[48], payload[64];
    uint8_t qos = (uint8_t)(p->next % 3);
    snprintf(topic, sizeof(topic), MQ__DATA_PREFIX "%u", (unsigned)p->next);
    p->sent_at = mq__cycles(p->cl.env);
    int n = snprintf(payload, sizeof(payload), "seq=%u t=%llu", (unsigned)p->next,
                     (unsigned long long)p->sent_at);
    p->pid = qos ? mq_cos_client_pid(&p->cl) : 0;
    int rc = mq_cos_client_publish(&p->cl, topic, payload, (size_t)n, qos, false, p->pid);
    if (rc == MQ_OK) {
        p->sent++;
        mq__say(p->cl.env, "pub: PUBLISH %s q%u seq=%u", topic, qos, (unsigned)p->next);
    }
    return rc;
}

/* The current data message is complete (acked, or QoS 0 sent). */
static void mq__pub_next(mq_cos_pub_t *p, uint8_t qos)
{
    if (qos) {
        uint64_t rtt = mq__cycles(p->cl.env) - p->sent_at;
        mq__stat_add(&p->rtt[qos], rtt);
        mq__say(p->cl.env, "pub: seq=%u q%u complete, round trip %llu cycles",
                (unsigned)p->next, qos, (unsigned long long)rtt);
    }
    p->next++;
    p->state = p->next < p->nmsgs ? P_SEND : P_END;
}

static bool mq__pub_packet(mq_cos_pub_t *p, const mq_packet_t *pkt)
{
    uint8_t type = pkt->fh.type;
    switch (p->state) {
    case P_CONNACK:
        if (type != MQ_PKT_CONNACK || pkt->u.connack.rc != 0)
            return mq__pub_fail(p, MQ_EPROTO, "CONNECT refused");
        mq__say(p->cl.env, "pub: CONNACK rc=0");
        {
            const char *f[1] = {MQ__READY_TOPIC};
            uint8_t q[1] = {1};
            p->pid = mq_cos_client_pid(&p->cl);
            if (mq_cos_client_subscribe(&p->cl, p->pid, f, q, 1) != MQ_OK)
                return mq__pub_fail(p, MQ_ENOMEM, "SUBSCRIBE");
        }
        mq__say(p->cl.env, "pub: SUBSCRIBE " MQ__READY_TOPIC " q1");
        p->state = P_SUBACK;
        return false;
    case P_SUBACK:
        if (type != MQ_PKT_SUBACK || pkt->u.sub.packet_id != p->pid)
            return mq__pub_fail(p, MQ_EPROTO, "expected SUBACK");
        mq__say(p->cl.env, "pub: SUBACK");
        p->pid = mq_cos_client_pid(&p->cl);
        if (mq_cos_client_publish(&p->cl, MQ__RETAIN_TOPIC, "last known state", 16, 1, true,
                                  p->pid) != MQ_OK)
            return mq__pub_fail(p, MQ_ENOMEM, "PUBLISH");
        p->sent++;
        mq__say(p->cl.env, "pub: PUBLISH " MQ__RETAIN_TOPIC " q1 retain \"last known state\"");
        p->state = P_RETAIN_ACK;
        return false;
    default:
        break;
    }
    if (type == MQ_PKT_PUBLISH) {
        /* Only the ready message is subscribed to (QoS 1: acknowledge it). */
        const mq_publish_t *m = &pkt->u.publish;
        if (m->qos == 1 && mq_cos_client_ack(&p->cl, MQ_PKT_PUBACK, m->packet_id) != MQ_OK)
            return mq__pub_fail(p, MQ_ENOMEM, "PUBACK");
        if (mq__str_is(m->topic, MQ__READY_TOPIC) && !p->ready) {
            mq__say(p->cl.env, "pub: subscriber is ready");
            p->ready = true;
        }
        if (p->ready && p->state == P_WAIT_READY)
            p->state = P_SEND;
        return false;
    }
    if (p->state == P_RETAIN_ACK && type == MQ_PKT_PUBACK && pkt->u.ack.packet_id == p->pid) {
        mq__say(p->cl.env, "pub: PUBACK (retained message stored)");
        p->state = p->ready ? P_SEND : P_WAIT_READY;
        return false;
    }
    if (p->state == P_ACK && pkt->u.ack.packet_id == p->pid) {
        uint8_t qos = (uint8_t)(p->next % 3);
        if (qos == 1 && type == MQ_PKT_PUBACK) {
            mq__pub_next(p, 1);
            return false;
        }
        if (qos == 2 && type == MQ_PKT_PUBREC) {
            if (mq_cos_client_ack(&p->cl, MQ_PKT_PUBREL, p->pid) != MQ_OK)
                return mq__pub_fail(p, MQ_ENOMEM, "PUBREL");
            p->state = P_COMP;
            return false;
        }
    }
    if (p->state == P_COMP && type == MQ_PKT_PUBCOMP && pkt->u.ack.packet_id == p->pid) {
        mq__pub_next(p, 2);
        return false;
    }
    return mq__pub_fail(p, MQ_EPROTO, "unexpected packet");
}

bool mq_cos_pub_step(mq_cos_pub_t *p)
{
    if (p->state == P_DONE)
        return true;
    if (p->state == P_OPEN) {
        if (mq_cos_client_open(&p->cl) != MQ_OK)
            return false; /* the broker still holds the channel */
        if (mq_cos_client_connect(&p->cl, "musqratt-pub", 60, MQ__WILL_TOPIC,
                                  "publisher ended abnormally", 1, false) != MQ_OK)
            return mq__pub_fail(p, MQ_ENOMEM, "CONNECT");
        mq__say(p->cl.env, "pub: CONNECT client id musqratt-pub, will on " MQ__WILL_TOPIC);
        p->state = P_CONNACK;
    }
    mq_cos_client_flush(&p->cl);
    for (;;) {
        mq_packet_t pkt;
        int rc = mq_cos_client_poll(&p->cl, &pkt);
        if (rc == 0)
            break;
        if (rc < 0)
            return mq__pub_fail(p, rc, "connection lost");
        if (mq__pub_packet(p, &pkt))
            return true;
    }
    /* QoS 0 messages complete as soon as they are sent: keep going while
     * the output buffer takes them. */
    while (p->state == P_SEND) {
        uint8_t qos = (uint8_t)(p->next % 3);
        int rc = mq__pub_send_data(p);
        if (rc == MQ_ENOMEM)
            break; /* output buffer full: after the next flush */
        if (rc != MQ_OK)
            return mq__pub_fail(p, rc, "PUBLISH");
        if (qos == 0)
            mq__pub_next(p, 0);
        else
            p->state = P_ACK;
        mq_cos_client_flush(&p->cl);
    }
    if (p->state == P_END && p->cl.out_len == 0) {
        for (int q = 1; q <= 2; q++) {
            const mq_cos_stat_t *st = &p->rtt[q];
            if (st->count)
                mq__say(p->cl.env,
                        "pub: QoS %d round trips: %llu, cycles min %llu avg %llu max %llu", q,
                        (unsigned long long)st->count, (unsigned long long)st->min,
                        (unsigned long long)(st->sum / st->count),
                        (unsigned long long)st->max);
        }
        mq__say(p->cl.env, "pub: sent %u PUBLISH; ending WITHOUT DISCONNECT (abnormal end)",
                (unsigned)p->sent);
        mq_cos_client_close(&p->cl);
        p->state = P_DONE;
        return true;
    }
    mq_cos_client_flush(&p->cl);
    return false;
}

/* ---- subscriber --------------------------------------------------------- */

enum { S_OPEN, S_CONNACK, S_SUBACK, S_READY_ACK, S_RECV, S_SUBACK2, S_RETAINED, S_DONE };

void mq_cos_sub_init(mq_cos_sub_t *s, mq_cos_chan_t *ch, unsigned index,
                     const mq_cos_env_t *env, uint32_t nmsgs)
{
    memset(s, 0, sizeof(*s));
    mq_cos_client_init(&s->cl, ch, index, env);
    s->nmsgs = nmsgs;
    for (uint32_t q = 0; q < 3; q++)
        s->expect[q] = q;
}

static bool mq__sub_fail(mq_cos_sub_t *s, int err, const char *what)
{
    if (!s->error)
        s->error = err ? err : MQ_EPROTO;
    mq__say(s->cl.env, "sub: FAILED: %s (%s)", what, mq_strerror(s->error));
    if (s->cl.open)
        mq_cos_client_close(&s->cl);
    s->state = S_DONE;
    return true;
}

static bool mq__sub_publish(mq_cos_sub_t *s, const mq_publish_t *m)
{
    const mq_cos_env_t *env = s->cl.env;
    if (m->qos == 1 && mq_cos_client_ack(&s->cl, MQ_PKT_PUBACK, m->packet_id) != MQ_OK)
        return mq__sub_fail(s, MQ_ENOMEM, "PUBACK");
    if (m->qos == 2 && mq_cos_client_ack(&s->cl, MQ_PKT_PUBREC, m->packet_id) != MQ_OK)
        return mq__sub_fail(s, MQ_ENOMEM, "PUBREC");
    size_t plen = sizeof(MQ__DATA_PREFIX) - 1;
    uint32_t seq;
    uint64_t t;
    if (m->topic.len > plen && memcmp(m->topic.ptr, MQ__DATA_PREFIX, plen) == 0 &&
        mq__parse_data(m->payload, &seq, &t)) {
        uint64_t lat = mq__cycles(env) - t;
        mq__stat_add(&s->latency, lat);
        uint8_t q = (uint8_t)(seq % 3);
        if (m->qos != q) {
            s->out_of_order++;
        } else if (seq < s->expect[q]) {
            s->duplicates++;
        } else {
            if (seq != s->expect[q])
                s->out_of_order++;
            s->expect[q] = seq + 3;
        }
        if (s->next > 0 && seq != s->last_seq + 1)
            s->interleaved++;
        s->last_seq = seq;
        s->next++;
        if (m->qos < 3)
            s->data_by_qos[m->qos]++;
        mq__say(env, "sub: PUBLISH %.*s q%u seq=%u, %llu cycles after it was sent",
                (int)m->topic.len, (const char *)m->topic.ptr, m->qos, (unsigned)seq,
                (unsigned long long)lat);
    } else if (mq__str_is(m->topic, MQ__WILL_TOPIC)) {
        s->wills++;
        mq__say(env, "sub: PUBLISH " MQ__WILL_TOPIC " q%u \"%.*s\" (the publisher's will)",
                m->qos, (int)m->payload.len, (const char *)m->payload.ptr);
    } else if (mq__str_is(m->topic, MQ__RETAIN_TOPIC)) {
        if (m->retain)
            s->retained++;
        mq__say(env, "sub: PUBLISH " MQ__RETAIN_TOPIC " q%u retain=%d \"%.*s\"", m->qos,
                m->retain ? 1 : 0, (int)m->payload.len, (const char *)m->payload.ptr);
    } else {
        mq__say(env, "sub: PUBLISH on an unexpected topic %.*s", (int)m->topic.len,
                (const char *)m->topic.ptr);
        s->out_of_order++;
    }
    return false;
}

static bool mq__sub_packet(mq_cos_sub_t *s, const mq_packet_t *pkt)
{
    const mq_cos_env_t *env = s->cl.env;
    uint8_t type = pkt->fh.type;
    if (s->state == S_CONNACK) {
        if (type != MQ_PKT_CONNACK || pkt->u.connack.rc != 0)
            return mq__sub_fail(s, MQ_EPROTO, "CONNECT refused");
        mq__say(env, "sub: CONNACK rc=0");
        const char *f[2] = {MQ__DATA_PREFIX "#", MQ__WILL_TOPIC};
        uint8_t q[2] = {2, 1};
        if (mq_cos_client_subscribe(&s->cl, mq_cos_client_pid(&s->cl), f, q, 2) != MQ_OK)
            return mq__sub_fail(s, MQ_ENOMEM, "SUBSCRIBE");
        mq__say(env, "sub: SUBSCRIBE " MQ__DATA_PREFIX "# q2, " MQ__WILL_TOPIC " q1");
        s->state = S_SUBACK;
        return false;
    }
    switch (type) {
    case MQ_PKT_SUBACK: {
        mq_sublist_iter_t it;
        int code, i = 0;
        char codes[32] = "";
        mq_codec_filters_begin(&pkt->u.sub, false, &it);
        while ((code = mq_codec_reasons_next(&it)) >= 0 && i < 8) {
            size_t l = strlen(codes);
            snprintf(codes + l, sizeof(codes) - l, "%s%d", i++ ? "," : "", code);
            if (code >= 0x80)
                return mq__sub_fail(s, MQ_EPROTO, "subscription refused");
        }
        mq__say(env, "sub: SUBACK granted QoS %s", codes);
        if (s->state == S_SUBACK) {
            uint16_t pid = mq_cos_client_pid(&s->cl);
            if (mq_cos_client_publish(&s->cl, MQ__READY_TOPIC, "ready", 5, 1, true, pid) !=
                MQ_OK)
                return mq__sub_fail(s, MQ_ENOMEM, "PUBLISH");
            mq__say(env, "sub: PUBLISH " MQ__READY_TOPIC " q1 retain");
            s->state = S_READY_ACK;
        } else if (s->state == S_SUBACK2) {
            s->state = S_RETAINED;
        }
        return false;
    }
    case MQ_PKT_PUBACK:
        if (s->state == S_READY_ACK) {
            mq__say(env, "sub: PUBACK (ready)");
            s->ready_seen = 1;
            s->state = S_RECV;
        }
        return false;
    case MQ_PKT_PUBLISH:
        return mq__sub_publish(s, &pkt->u.publish);
    case MQ_PKT_PUBREL:
        if (mq_cos_client_ack(&s->cl, MQ_PKT_PUBCOMP, pkt->u.ack.packet_id) != MQ_OK)
            return mq__sub_fail(s, MQ_ENOMEM, "PUBCOMP");
        return false;
    default:
        return mq__sub_fail(s, MQ_EPROTO, "unexpected packet");
    }
}

bool mq_cos_sub_passed(const mq_cos_sub_t *s)
{
    uint32_t q[3];
    for (int i = 0; i < 3; i++)
        q[i] = s->nmsgs / 3 + (s->nmsgs % 3 > (uint32_t)i ? 1u : 0u);
    return s->error == 0 && s->next == s->nmsgs && s->out_of_order == 0 &&
           s->duplicates == 0 && s->data_by_qos[0] == q[0] && s->data_by_qos[1] == q[1] &&
           s->data_by_qos[2] == q[2] && s->wills == 1 && s->retained == 1 &&
           s->ready_seen == 1;
}

bool mq_cos_sub_step(mq_cos_sub_t *s)
{
    const mq_cos_env_t *env = s->cl.env;
    if (s->state == S_DONE)
        return true;
    if (s->state == S_OPEN) {
        if (mq_cos_client_open(&s->cl) != MQ_OK)
            return false;
        if (mq_cos_client_connect(&s->cl, "musqratt-sub", 60, NULL, NULL, 0, false) != MQ_OK)
            return mq__sub_fail(s, MQ_ENOMEM, "CONNECT");
        mq__say(env, "sub: CONNECT client id musqratt-sub");
        s->state = S_CONNACK;
    }
    mq_cos_client_flush(&s->cl);
    for (;;) {
        if (s->cl.out_len > sizeof(s->cl.out) / 2)
            break; /* acks are backing up: let the broker read first */
        mq_packet_t pkt;
        int rc = mq_cos_client_poll(&s->cl, &pkt);
        if (rc == 0)
            break;
        if (rc < 0)
            return mq__sub_fail(s, rc, "connection lost");
        if (mq__sub_packet(s, &pkt))
            return true;
        mq_cos_client_flush(&s->cl);
    }
    if (s->state == S_RECV && s->next >= s->nmsgs && s->wills > 0) {
        const char *f[1] = {MQ__RETAIN_TOPIC};
        uint8_t q[1] = {1};
        if (mq_cos_client_subscribe(&s->cl, mq_cos_client_pid(&s->cl), f, q, 1) != MQ_OK)
            return mq__sub_fail(s, MQ_ENOMEM, "SUBSCRIBE");
        mq__say(env, "sub: SUBSCRIBE " MQ__RETAIN_TOPIC " q1");
        s->state = S_SUBACK2;
    }
    if (s->state == S_RETAINED && s->retained > 0) {
        if (mq_cos_client_disconnect(&s->cl) != MQ_OK)
            return mq__sub_fail(s, MQ_ENOMEM, "DISCONNECT");
        mq__say(env, "sub: DISCONNECT");
        mq_cos_client_close(&s->cl);
        s->state = S_DONE;
        const mq_cos_stat_t *l = &s->latency;
        mq__say(env,
                "sub: received %u data messages (QoS 0: %u, QoS 1: %u, QoS 2: %u), "
                "%u out of order, %u duplicates, %u will, %u retained; "
                "%u overtaken across QoS levels",
                (unsigned)(s->data_by_qos[0] + s->data_by_qos[1] + s->data_by_qos[2]),
                (unsigned)s->data_by_qos[0], (unsigned)s->data_by_qos[1],
                (unsigned)s->data_by_qos[2], (unsigned)s->out_of_order,
                (unsigned)s->duplicates, (unsigned)s->wills, (unsigned)s->retained,
                (unsigned)s->interleaved);
        if (l->count)
            mq__say(env, "sub: publish-to-deliver cycles min %llu avg %llu max %llu",
                    (unsigned long long)l->min, (unsigned long long)(l->sum / l->count),
                    (unsigned long long)l->max);
        mq__say(env, "sub: %s", mq_cos_sub_passed(s) ? "PASS" : "FAIL");
        return true;
    }
    mq_cos_client_flush(&s->cl);
    return false;
}

/* musqratt on Composite — MQTT client over a channel (see client.h). */
#include "client.h"

#include <string.h>

#include "musqratt/error.h"

#define MQ__LEVEL 4 /* MQTT 3.1.1 */

void mq_cos_client_init(mq_cos_client_t *cl, mq_cos_chan_t *ch, unsigned index,
                        const mq_cos_env_t *env)
{
    memset(cl, 0, sizeof(*cl));
    cl->ch = ch;
    cl->index = index;
    cl->env = env;
}

int mq_cos_client_open(mq_cos_client_t *cl)
{
    int rc = mq_cos_chan_client_open(cl->ch);
    if (rc == MQ_OK) {
        cl->open = true;
        cl->out_len = cl->in_len = cl->in_taken = 0;
        cl->env->notify(cl->env->ctx, cl->index);
    }
    return rc;
}

/* rc of an encoder that wrote into the free tail of the output buffer. */
static int mq__commit(mq_cos_client_t *cl, int rc)
{
    if (rc < 0)
        return rc;
    if ((size_t)rc > sizeof(cl->out) - cl->out_len)
        return MQ_ENOMEM;
    cl->out_len += (size_t)rc;
    return MQ_OK;
}

#define MQ__TAIL(cl) ((cl)->out + (cl)->out_len), (sizeof((cl)->out) - (cl)->out_len)

static mq_str_t mq__str(const char *s)
{
    return (mq_str_t){(const uint8_t *)s, (uint32_t)strlen(s)};
}

int mq_cos_client_connect(mq_cos_client_t *cl, const char *client_id, uint16_t keepalive,
                          const char *will_topic, const char *will_payload, uint8_t will_qos,
                          bool will_retain)
{
    mq_connect_t c;
    memset(&c, 0, sizeof(c));
    c.protocol_level = MQ__LEVEL;
    c.clean = true;
    c.keepalive = keepalive;
    c.client_id = mq__str(client_id);
    if (will_topic) {
        c.will = true;
        c.will_qos = will_qos;
        c.will_retain = will_retain;
        c.will_topic = mq__str(will_topic);
        c.will_payload = mq__str(will_payload ? will_payload : "");
    }
    return mq__commit(cl, mq_codec_encode_connect(MQ__TAIL(cl), &c));
}

int mq_cos_client_subscribe(mq_cos_client_t *cl, uint16_t pid, const char *const *filters,
                            const uint8_t *qos, size_t count)
{
    mq_str_t f[8];
    if (count == 0 || count > 8)
        return MQ_EINVAL;
    for (size_t i = 0; i < count; i++)
        f[i] = mq__str(filters[i]);
    return mq__commit(cl, mq_codec_encode_subscribe(MQ__TAIL(cl), MQ__LEVEL, pid, f, qos, count));
}

int mq_cos_client_publish(mq_cos_client_t *cl, const char *topic, const void *payload,
                          size_t len, uint8_t qos, bool retain, uint16_t pid)
{
    mq_publish_t p;
    memset(&p, 0, sizeof(p));
    if (len > sizeof(cl->out))
        return MQ_ETOOBIG;
    p.qos = qos;
    p.retain = retain;
    p.packet_id = pid;
    p.topic = mq__str(topic);
    p.payload = (mq_str_t){payload, (uint32_t)len};
    return mq__commit(cl, mq_codec_encode_publish(MQ__TAIL(cl), MQ__LEVEL, &p));
}

int mq_cos_client_ack(mq_cos_client_t *cl, uint8_t type, uint16_t pid)
{
    return mq__commit(cl, mq_codec_encode_ack(MQ__TAIL(cl), type, pid));
}

int mq_cos_client_disconnect(mq_cos_client_t *cl)
{
    return mq__commit(cl, mq_codec_encode_empty(MQ__TAIL(cl), MQ_PKT_DISCONNECT));
}

uint16_t mq_cos_client_pid(mq_cos_client_t *cl)
{
    if (++cl->next_pid == 0)
        cl->next_pid = 1;
    return cl->next_pid;
}

size_t mq_cos_client_flush(mq_cos_client_t *cl)
{
    if (!cl->open || cl->out_len == 0)
        return cl->out_len;
    size_t w = mq_cos_ring_write(mq_cos_chan_up(cl->ch), cl->out, cl->out_len);
    if (w) {
        memmove(cl->out, cl->out + w, cl->out_len - w);
        cl->out_len -= w;
        cl->env->notify(cl->env->ctx, cl->index);
    }
    return cl->out_len;
}

int mq_cos_client_poll(mq_cos_client_t *cl, mq_packet_t *pkt)
{
    if (cl->in_taken) { /* the previous packet is no longer needed */
        memmove(cl->in, cl->in + cl->in_taken, cl->in_len - cl->in_taken);
        cl->in_len -= cl->in_taken;
        cl->in_taken = 0;
    }
    /* Read the broker's state before the ring: bytes written before a
     * CLOSED are then certainly seen. */
    bool closed = mq_cos_chan_broker_closed(cl->ch);
    size_t r = mq_cos_ring_read(mq_cos_chan_down(cl->ch), cl->in + cl->in_len,
                                sizeof(cl->in) - cl->in_len);
    if (r) {
        cl->in_len += r;
        cl->env->notify(cl->env->ctx, cl->index); /* room in the down ring */
    }
    mq_fixed_header_t fh;
    int rc = mq_codec_fixed_header(cl->in, cl->in_len, sizeof(cl->in), &fh);
    if (rc == MQ_EAGAIN || (rc == MQ_OK && fh.header_len + fh.remaining > cl->in_len))
        return closed && r == 0 && mq_cos_ring_used(mq_cos_chan_down(cl->ch)) == 0
                   ? MQ_ECLOSED
                   : 0;
    if (rc != MQ_OK)
        return rc;
    rc = mq_codec_decode(&fh, cl->in + fh.header_len, MQ__LEVEL, pkt);
    if (rc != MQ_OK)
        return rc;
    pkt->fh = fh;
    cl->in_taken = fh.header_len + fh.remaining;
    return 1;
}

void mq_cos_client_close(mq_cos_client_t *cl)
{
    mq_cos_client_flush(cl);
    cl->open = false;
    mq_cos_chan_client_close(cl->ch);
    cl->env->notify(cl->env->ctx, cl->index);
}

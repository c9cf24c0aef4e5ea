/*
 * msg — an application message, shared by reference count.
 *
 * One PUBLISH received is copied once into one mq_msg_t (topic and payload in
 * the same allocation, laid out as they go on the wire: 2-byte topic length,
 * topic, payload). Every subscriber's output queue, inflight table, offline
 * queue and the retained store hold references to that one object; its bytes
 * are written to sockets straight from here (see outq.h), never copied again.
 * Freed in exactly one place: mq_msg_unref() when the count reaches zero.
 * No system calls.
 */
#ifndef MQ_BROKER_MSG_H
#define MQ_BROKER_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "mem.h"
#include "musqratt/platform.h"

typedef struct mq_msg {
    uint32_t refs;
    uint8_t qos;          /* QoS as published */
    bool retain;          /* retain flag as published */
    uint16_t topic_len;
    uint32_t payload_len;
    uint32_t props_len;   /* MQTT 5 properties forwarded as they came */
    uint32_t size;        /* allocation size, for mq_mem_free */
    mq_time_t expiry_at;  /* MQTT 5 Message Expiry, absolute; 0 = never */
    uint32_t will_expiry; /* a will's Message Expiry Interval (seconds), applied
                             when it is published; 0 = none */
    uint32_t held_refs;   /* references from session queues and inflight windows
                             (session.c counts the message once in max_queued_memory) */
    uint8_t data[];       /* [topic_len hi][topic_len lo][topic][payload][props] */
} mq_msg_t;

/* Copies topic, payload and the forwarded property block (encoded MQTT 5
 * properties without their length: payload format, content type, response
 * topic, correlation data, user properties). Returns NULL when memory is
 * short. refs = 1. */
mq_msg_t *mq_msg_new(mq_mem_t *mem, const uint8_t *topic, uint16_t topic_len,
                     const uint8_t *payload, uint32_t payload_len, const uint8_t *props,
                     uint32_t props_len, uint8_t qos, bool retain, mq_time_t expiry_at);

static inline mq_msg_t *mq_msg_ref(mq_msg_t *m)
{
    m->refs++;
    return m;
}

void mq_msg_unref(mq_mem_t *mem, mq_msg_t *m);

static inline const uint8_t *mq_msg_topic(const mq_msg_t *m) { return m->data + 2; }
static inline const uint8_t *mq_msg_payload(const mq_msg_t *m)
{
    return m->data + 2 + m->topic_len;
}
static inline const uint8_t *mq_msg_props(const mq_msg_t *m)
{
    return m->data + 2 + m->topic_len + m->payload_len;
}
/* True when the message's expiry interval has passed at `now`. */
static inline bool mq_msg_expired(const mq_msg_t *m, mq_time_t now)
{
    return m->expiry_at && now >= m->expiry_at;
}

#endif

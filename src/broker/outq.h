/*
 * outq — a connection's pending output, in order.
 *
 * Two kinds of chunk: inline bytes (CONNACK, acks, SUBACK, PINGRESP...),
 * appended into the tail chunk while it has room, and PUBLISH chunks that
 * hold a reference to a shared mq_msg_t plus the few bytes that differ per
 * subscriber (first byte with DUP/QoS/RETAIN, remaining length, packet id).
 * mq_outq_iov() turns the queue into a gather list for one writev: topic and
 * payload are written from the message itself, so a PUBLISH fanned out to N
 * subscribers is stored once. No system calls.
 */
#ifndef MQ_BROKER_OUTQ_H
#define MQ_BROKER_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "msg.h"
#include "musqratt/platform.h"

#define MQ_OUTQ_INLINE_CAP 512
/* Per-delivery bytes a pooled PUBLISH chunk holds inline (packet id, MQTT 5
 * property length, expiry, topic alias, a few subscription ids). */
#define MQ_OUTQ_VAR_CAP 32

/* How one delivery of a message goes on the wire. */
typedef struct mq_pubform {
    uint8_t qos;
    bool retain;
    bool dup;
    uint16_t pid;            /* used when qos > 0 */
    bool v5;                 /* MQTT 5 layout (property block) */
    bool omit_topic;         /* MQTT 5: the client knows the alias, send an empty topic */
    uint16_t alias;          /* MQTT 5 Topic Alias property; 0 = none */
    bool has_expiry;
    uint32_t expiry;         /* remaining Message Expiry Interval, seconds */
    const uint32_t *sub_ids; /* MQTT 5 Subscription Identifiers */
    uint32_t n_sub_ids;
} mq_pubform_t;

typedef struct mq_out {
    struct mq_out *next;
    mq_msg_t *msg;      /* NULL: inline bytes in data[] */
    uint32_t len;       /* wire bytes in this chunk */
    uint32_t off;       /* bytes already written */
    uint32_t cap;       /* inline capacity (bytes chunk) or var capacity (PUBLISH) */
    uint8_t hdr_len;    /* PUBLISH: bytes used in hdr */
    uint8_t omit_topic; /* PUBLISH: topic sent empty (alias) */
    uint8_t with_props; /* PUBLISH: the message's forwarded properties follow var */
    uint8_t hdr[5];     /* PUBLISH: first byte + remaining length */
    uint32_t var_len;   /* PUBLISH: bytes in data[] (packet id, property length, own props) */
    uint8_t data[];     /* inline bytes, or a PUBLISH's per-delivery bytes */
} mq_out_t;

typedef struct mq_outq {
    mq_out_t *head;
    mq_out_t *tail;
    size_t bytes;       /* unwritten bytes */
    uint32_t msgs;      /* PUBLISH chunks queued */
} mq_outq_t;

/* Shared by all queues of one broker: pools for the fixed-size chunks. */
typedef struct mq_outq_pools {
    mq_mem_t *mem;
    mq_pool_t pub;      /* PUBLISH chunks */
    mq_pool_t small;    /* inline chunks of MQ_OUTQ_INLINE_CAP */
} mq_outq_pools_t;

void mq_outq_pools_init(mq_outq_pools_t *p, mq_mem_t *mem);
void mq_outq_pools_destroy(mq_outq_pools_t *p);

static inline void mq_outq_init(mq_outq_t *q)
{
    q->head = q->tail = NULL;
    q->bytes = 0;
    q->msgs = 0;
}

/* Appends raw bytes. MQ_OK or MQ_ENOMEM. */
int mq_outq_bytes(mq_outq_t *q, mq_outq_pools_t *p, const void *bytes, size_t n);
/* Reserves n contiguous bytes at the end and returns them (for encoders), or NULL. */
uint8_t *mq_outq_reserve(mq_outq_t *q, mq_outq_pools_t *p, size_t n);
/* Size on the wire of one delivery of msg in form f. */
size_t mq_outq_publish_size(const mq_msg_t *msg, const mq_pubform_t *f);
/* Appends a PUBLISH of msg in form f (takes a new reference).
 * MQ_OK or MQ_ENOMEM. */
int mq_outq_publish(mq_outq_t *q, mq_outq_pools_t *p, mq_msg_t *msg, const mq_pubform_t *f);
size_t mq_outq_iov(const mq_outq_t *q, mq_iov_t *iov, size_t max);
void mq_outq_consume(mq_outq_t *q, mq_outq_pools_t *p, size_t n);
/* Drops everything (releases message references). */
void mq_outq_clear(mq_outq_t *q, mq_outq_pools_t *p);

#endif

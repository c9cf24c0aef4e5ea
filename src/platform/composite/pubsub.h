/*
 * musqratt on Composite — the publisher and subscriber client components'
 * logic (issue 8's transcript), as step functions over client.h, so that
 * the same code runs in a Composite component's thread and, in the Linux
 * tests, in turns with the broker in one process.
 *
 * The exchange (every line goes to the console, prefixed "pub:" / "sub:"):
 *   sub  CONNECT/CONNACK; SUBSCRIBE musqratt/data/# (QoS 2) and musqratt/will
 *        (QoS 1); PUBLISH musqratt/ctl/ready (retained, QoS 1) / PUBACK
 *   pub  CONNECT with a will (musqratt/will, QoS 1) / CONNACK; SUBSCRIBE
 *        musqratt/ctl/ready / SUBACK; PUBLISH musqratt/retained (retained,
 *        QoS 1) / PUBACK; waits for the ready message (so nothing is sent
 *        before the subscriber listens), then n data messages with QoS
 *        0,1,2,0,1,2... one at a time (QoS 1: PUBACK, QoS 2: PUBREC/PUBREL/
 *        PUBCOMP; the round trip of each in cycles), then ends WITHOUT a
 *        DISCONNECT: the broker publishes its will
 *   sub  checks every data message arrives once, in order within its QoS
 *        (what MQTT 4.6 promises; also counts departures from the global
 *        send order, which the broker keeps unless a window fills);
 *        gets the will; then SUBSCRIBEs musqratt/retained and gets the
 *        retained message (retain flag set); DISCONNECT; summary line
 * Both carry the send time (cycles) in each data payload, so the subscriber
 * reports publish-to-deliver latency too.
 */
#ifndef MQ_COS_PUBSUB_H
#define MQ_COS_PUBSUB_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

typedef struct mq_cos_stat {
    uint64_t count, sum, min, max;   /* cycles */
} mq_cos_stat_t;

typedef struct mq_cos_pub {
    mq_cos_client_t cl;
    uint32_t nmsgs;                  /* data messages to send */
    int state;
    uint32_t next;                   /* next data sequence number */
    uint16_t pid;                    /* packet id awaiting its ack */
    uint64_t sent_at;                /* cycles when it was sent */
    uint32_t sent;                   /* PUBLISH packets sent (all topics) */
    bool ready;                      /* the subscriber's ready message came */
    mq_cos_stat_t rtt[3];            /* per QoS (index 0 unused) */
    int error;                       /* first failure (MQ_E*), 0 if none */
} mq_cos_pub_t;

typedef struct mq_cos_sub {
    mq_cos_client_t cl;
    uint32_t nmsgs;                  /* data messages expected */
    int state;
    uint32_t next;                   /* data messages received */
    uint32_t expect[3];              /* next sequence number per QoS (seq % 3 == QoS) */
    uint32_t data_by_qos[3];
    uint32_t out_of_order;           /* out of order within its QoS, or wrong QoS:
                                        what MQTT promises */
    uint32_t interleaved;            /* out of the global send order (allowed:
                                        QoS 0 may overtake a full QoS 1/2 window) */
    uint32_t last_seq;
    uint32_t duplicates;
    uint32_t wills, retained, ready_seen;
    mq_cos_stat_t latency;           /* publish-to-deliver, cycles */
    int error;
} mq_cos_sub_t;

void mq_cos_pub_init(mq_cos_pub_t *p, mq_cos_chan_t *ch, unsigned index,
                     const mq_cos_env_t *env, uint32_t nmsgs);
/* Does what can be done now; true once finished (p->error says how). */
bool mq_cos_pub_step(mq_cos_pub_t *p);

void mq_cos_sub_init(mq_cos_sub_t *s, mq_cos_chan_t *ch, unsigned index,
                     const mq_cos_env_t *env, uint32_t nmsgs);
bool mq_cos_sub_step(mq_cos_sub_t *s);
/* True when everything the exchange promises was seen. */
bool mq_cos_sub_passed(const mq_cos_sub_t *s);

#endif

/*
 * musqratt on Composite — a small MQTT 3.1.1 client over a channel (the
 * client side of chan.h), built on the project's codec (src/codec). Used by
 * the publisher and subscriber components (pubsub.h).
 *
 * Sending encodes into the client's own output buffer; mq_cos_client_flush()
 * moves as much as fits into the up ring (a packet may cross the ring's wrap
 * or wait for room: the broker reads it in pieces). Receiving copies the
 * down ring into the input buffer and decodes one packet at a time.
 *
 * Owns: its two buffers (inside the struct). Borrows: the channel and env.
 */
#ifndef MQ_COS_CLIENT_H
#define MQ_COS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "env.h"
#include "musqratt/codec.h"

#define MQ_COS_CLIENT_BUF 4096

typedef struct mq_cos_client {
    mq_cos_chan_t *ch;
    const mq_cos_env_t *env;
    unsigned index;                      /* channel number, for notify */
    uint8_t out[MQ_COS_CLIENT_BUF];
    size_t out_len;
    uint8_t in[MQ_COS_CLIENT_BUF];
    size_t in_len;
    size_t in_taken;                     /* bytes of the packet last returned */
    uint16_t next_pid;
    bool open;
} mq_cos_client_t;

void mq_cos_client_init(mq_cos_client_t *cl, mq_cos_chan_t *ch, unsigned index,
                        const mq_cos_env_t *env);
/* Opens the channel (MQ_OK, or MQ_ECLOSED while the broker still holds the
 * previous connection: try again later). */
int mq_cos_client_open(mq_cos_client_t *cl);

/* Each encoder appends one packet to the output buffer: MQ_OK, MQ_ENOMEM
 * when the buffer is full (flush and retry), or the codec's error. */
int mq_cos_client_connect(mq_cos_client_t *cl, const char *client_id, uint16_t keepalive,
                          const char *will_topic, const char *will_payload, uint8_t will_qos,
                          bool will_retain);
int mq_cos_client_subscribe(mq_cos_client_t *cl, uint16_t pid, const char *const *filters,
                            const uint8_t *qos, size_t count);
int mq_cos_client_publish(mq_cos_client_t *cl, const char *topic, const void *payload,
                          size_t len, uint8_t qos, bool retain, uint16_t pid);
/* PUBACK PUBREC PUBREL PUBCOMP */
int mq_cos_client_ack(mq_cos_client_t *cl, uint8_t type, uint16_t pid);
int mq_cos_client_disconnect(mq_cos_client_t *cl);
/* A fresh packet identifier (1..65535). */
uint16_t mq_cos_client_pid(mq_cos_client_t *cl);

/* Moves buffered output into the up ring; notifies the broker when it did.
 * Returns the bytes still waiting. */
size_t mq_cos_client_flush(mq_cos_client_t *cl);

/*
 * Reads the next packet from the broker into *pkt (its strings point into
 * the client's input buffer until the next call). Returns 1 with a packet,
 * 0 when none is complete yet, MQ_ECLOSED when the broker closed the
 * connection and nothing is left, or a codec error for bad input.
 */
int mq_cos_client_poll(mq_cos_client_t *cl, mq_packet_t *pkt);

/* Ends the connection (after a DISCONNECT, or abnormally without one). */
void mq_cos_client_close(mq_cos_client_t *cl);

#endif

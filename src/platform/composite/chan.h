/*
 * musqratt on Composite — a client channel: the transport between one
 * client component and the broker component, like a TCP connection is on
 * Linux.
 *
 * One shared-memory region per client holds this header and two rings:
 * "up" (client -> broker MQTT bytes) and "down" (broker -> client). The
 * connection's life is two state words, each written by one side only:
 *
 *   client_state  IDLE -> OPEN (client connects) -> CLOSED (client ends:
 *                 after a DISCONNECT, or abnormally: the broker then
 *                 publishes the will). Only the broker moves CLOSED -> IDLE,
 *                 when it has reset the rings for the next connection.
 *   broker_state  IDLE -> OPEN (accepted) -> CLOSED (the broker dropped the
 *                 connection, or refused it); back to IDLE with the reset.
 *
 * Bytes written before a CLOSED are still delivered: the broker drains the
 * up ring before it acts on the client's CLOSED. Waking the other side after
 * a write or a state change is the environment's job (mq_cos_env_t's
 * notify, sched_thd_wakeup or a channel event on Composite).
 *
 * The state words are only touched through __atomic builtins (chan.c).
 * Owns: nothing; the caller owns the region. No pointers inside: offsets
 * only, so each side may map it at its own address.
 */
#ifndef MQ_COS_CHAN_H
#define MQ_COS_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

enum mq_cos_chan_state {
    MQ_COS_IDLE = 0,
    MQ_COS_OPEN = 1,
    MQ_COS_CLOSED = 2
};

typedef struct mq_cos_chan {
    uint32_t magic;                  /* MQ_COS_CHAN_MAGIC once initialised */
    uint32_t up_off, down_off;       /* ring offsets from the header */
    uint32_t size;                   /* whole region */
    uint32_t client_state;           /* written by the client (and reset by the broker) */
    uint32_t broker_state;           /* written by the broker */
    uint32_t pad[10];
} mq_cos_chan_t;

#define MQ_COS_CHAN_MAGIC 0x6d716368u /* "mqch" */
/* Smallest region: header + two minimal rings. */
#define MQ_COS_CHAN_MIN (sizeof(mq_cos_chan_t) + 2 * (MQ_COS_RING_MIN + 64))

/* Lays a channel out in mem[0..size), the rings splitting the rest in two.
 * Returns it, or NULL when mem is not 64-byte aligned or too small. Done
 * once by whoever allocates the shared pages (the broker). */
mq_cos_chan_t *mq_cos_chan_init(void *mem, size_t size);
/* Checks a region mapped by the other side; NULL when it is no channel. */
mq_cos_chan_t *mq_cos_chan_attach(void *mem, size_t size);

mq_cos_ring_t *mq_cos_chan_up(mq_cos_chan_t *ch);
mq_cos_ring_t *mq_cos_chan_down(mq_cos_chan_t *ch);

/* Client side. open: MQ_OK, or MQ_ECLOSED when the channel is not IDLE yet
 * (the broker has not finished with the previous connection). */
int mq_cos_chan_client_open(mq_cos_chan_t *ch);
void mq_cos_chan_client_close(mq_cos_chan_t *ch);
/* The broker closed or refused the connection. */
bool mq_cos_chan_broker_closed(const mq_cos_chan_t *ch);

/* Broker side. */
uint32_t mq_cos_chan_client_state(const mq_cos_chan_t *ch);
void mq_cos_chan_set_broker_state(mq_cos_chan_t *ch, uint32_t state);
/* Both sides are done: empties the rings and makes the channel IDLE. */
void mq_cos_chan_reset(mq_cos_chan_t *ch);

#endif

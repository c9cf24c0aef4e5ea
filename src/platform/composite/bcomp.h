/*
 * musqratt on Composite — the broker component: the sans-I/O core driven
 * over client channels (chan.h) instead of sockets.
 *
 *   mq_cos_broker_init()   the core over the arena hooks, the channels
 *   mq_cos_broker_step()   one pass: open/close events, input from every
 *                          up ring, timers, output into every down ring;
 *                          returns the next deadline (usec)
 *   mq_cos_broker_run()    step, wait(deadline), step, ... until *stop
 *
 * Backpressure: output that does not fit in a client's down ring stays in
 * the core (mq_conn_out_*) and is retried on every step; while a client has
 * more than one down ring's worth of output pending, the broker does not
 * read its input (so a client that never reads cannot make the broker hold
 * unbounded output; the core's own limits apply as on Linux).
 *
 * Owns: the mq_broker_t (freed by mq_cos_broker_fini). Borrows: the env,
 * the arena memory and the channels, which must outlive it.
 */
#ifndef MQ_COS_BCOMP_H
#define MQ_COS_BCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "env.h"
#include "hooks.h"
#include "musqratt/broker.h"

#define MQ_COS_MAX_CHANS 16

typedef struct mq_cos_slot {
    mq_cos_chan_t *ch;
    mq_conn_t *conn;            /* NULL when no connection is live */
    unsigned index;
    bool dropped;               /* broker side done, waiting for the client's CLOSED */
} mq_cos_slot_t;

typedef struct mq_cos_broker {
    mq_broker_t *b;
    const mq_cos_env_t *env;
    mq_cos_hooks_t hooks;
    mq_cos_slot_t slots[MQ_COS_MAX_CHANS];
    unsigned nslots;
    uint64_t opened, closed, refused; /* connection counts */
} mq_cos_broker_t;

/* cfg may be NULL (defaults). Returns MQ_OK, MQ_EINVAL (too many channels,
 * bad arena) or MQ_ENOMEM. */
int mq_cos_broker_init(mq_cos_broker_t *bc, const mq_cos_env_t *env,
                       const mq_broker_config_t *cfg, void *arena, size_t arena_size,
                       mq_cos_chan_t *const *chans, unsigned nchans);
/* A channel a client attached later (on Composite: mapped by the
 * mqbroker_attach() invocation, handed to the broker's own thread). Call
 * from the thread that steps the broker. Returns its index (the `chan`
 * given to env->notify), or MQ_ELIMIT when all MQ_COS_MAX_CHANS are used,
 * MQ_EINVAL for NULL. */
int mq_cos_broker_add_chan(mq_cos_broker_t *bc, mq_cos_chan_t *ch);
/* One pass over everything. Returns the next deadline in env microseconds,
 * or MQ_COS_NEVER. */
uint64_t mq_cos_broker_step(mq_cos_broker_t *bc);
/* The component's main loop. Returns when *stop is true after a step. */
void mq_cos_broker_run(mq_cos_broker_t *bc, const volatile bool *stop);
/* Drops every live connection (their wills are published first) and frees
 * the core. */
void mq_cos_broker_fini(mq_cos_broker_t *bc);

#endif

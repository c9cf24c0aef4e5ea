/* musqratt on Composite — the broker component (see bcomp.h). */
#include "bcomp.h"

#include <string.h>

#include "musqratt/error.h"

#define MQ__IOV_MAX 32

int mq_cos_broker_init(mq_cos_broker_t *bc, const mq_cos_env_t *env,
                       const mq_broker_config_t *cfg, void *arena, size_t arena_size,
                       mq_cos_chan_t *const *chans, unsigned nchans)
{
    if (!bc || !env || nchans > MQ_COS_MAX_CHANS)
        return MQ_EINVAL;
    memset(bc, 0, sizeof(*bc));
    mq_platform_t plat;
    int rc = mq_cos_hooks_init(&bc->hooks, env, arena, arena_size, MQ_LOG_NOTICE, &plat);
    if (rc != MQ_OK)
        return rc;
    mq_broker_config_t defaults;
    if (!cfg) {
        mq_broker_config_defaults(&defaults);
        cfg = &defaults;
    }
    bc->b = mq_broker_new(&plat, cfg);
    if (!bc->b)
        return MQ_ENOMEM;
    bc->env = env;
    for (unsigned i = 0; i < nchans; i++) {
        if (!chans[i]) {
            mq_broker_free(bc->b);
            bc->b = NULL;
            return MQ_EINVAL;
        }
        bc->slots[i] = (mq_cos_slot_t){.ch = chans[i], .index = i};
    }
    bc->nslots = nchans;
    return MQ_OK;
}

int mq_cos_broker_add_chan(mq_cos_broker_t *bc, mq_cos_chan_t *ch)
{
    if (!bc || !ch)
        return MQ_EINVAL;
    if (bc->nslots >= MQ_COS_MAX_CHANS)
        return MQ_ELIMIT;
    unsigned i = bc->nslots++;
    bc->slots[i] = (mq_cos_slot_t){.ch = ch, .index = i};
    return (int)i;
}

/* The broker is done with the connection: tell the client, keep the slot
 * until the client has seen it. */
static void mq__drop(mq_cos_broker_t *bc, mq_cos_slot_t *s, mq_time_t now)
{
    if (s->conn) {
        mq_broker_conn_lost(bc->b, s->conn, now);
        s->conn = NULL;
        bc->closed++;
    }
    s->dropped = true;
    mq_cos_chan_set_broker_state(s->ch, MQ_COS_CLOSED);
    bc->env->notify(bc->env->ctx, s->index);
}

/* Client bytes into the core, unless the client's output is backed up. */
static void mq__input(mq_cos_broker_t *bc, mq_cos_slot_t *s, mq_time_t now)
{
    mq_cos_ring_t *up = mq_cos_chan_up(s->ch);
    mq_cos_ring_t *down = mq_cos_chan_down(s->ch);
    if (mq_conn_closing(s->conn) || mq_conn_out_size(s->conn) > down->cap)
        return;
    mq_iov_t iov[2];
    size_t n = mq_cos_ring_peek(up, iov);
    size_t taken = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = mq_broker_conn_input(bc->b, s->conn, iov[i].base, iov[i].len, now);
        taken += iov[i].len;
        if (rc < 0)
            break; /* closing: its output (if any) is flushed, then it is dropped */
    }
    if (taken) {
        mq_cos_ring_consume(up, taken);
        bc->env->notify(bc->env->ctx, s->index); /* room in the up ring */
    }
}

/* Pending output into the down ring; drop a closing connection once empty.
 * Returns true when it wrote or dropped something. */
static bool mq__flush(mq_cos_broker_t *bc, mq_cos_slot_t *s, mq_time_t now)
{
    mq_iov_t iov[MQ__IOV_MAX];
    mq_cos_ring_t *down = mq_cos_chan_down(s->ch);
    size_t wrote = 0;
    while (mq_conn_out_size(s->conn) > 0) {
        size_t n = mq_conn_out_iov(s->conn, iov, MQ__IOV_MAX);
        size_t w = mq_cos_ring_writev(down, iov, n);
        if (w == 0)
            break; /* ring full: retried on the next step */
        mq_conn_out_consume(bc->b, s->conn, w);
        wrote += w;
    }
    if (wrote)
        bc->env->notify(bc->env->ctx, s->index);
    if (mq_conn_out_size(s->conn) == 0 && mq_conn_closing(s->conn)) {
        mq__drop(bc, s, now);
        return true;
    }
    return wrote > 0;
}

uint64_t mq_cos_broker_step(mq_cos_broker_t *bc)
{
    mq_time_t now = mq_cos_now_ms(bc->env);
    for (unsigned i = 0; i < bc->nslots; i++) {
        mq_cos_slot_t *s = &bc->slots[i];
        uint32_t cs = mq_cos_chan_client_state(s->ch);
        if (s->dropped) {
            if (cs == MQ_COS_CLOSED) { /* both sides done: ready for reuse */
                mq_cos_chan_reset(s->ch);
                s->dropped = false;
                bc->env->notify(bc->env->ctx, s->index);
            }
            continue;
        }
        if (!s->conn && cs == MQ_COS_OPEN) {
            s->conn = mq_broker_conn_open(bc->b, s, now);
            if (!s->conn) {
                bc->refused++;
                mq__drop(bc, s, now);
                continue;
            }
            bc->opened++;
            mq_cos_chan_set_broker_state(s->ch, MQ_COS_OPEN);
        }
        if (!s->conn)
            continue;
        mq__input(bc, s, now);
        /* The client is gone and everything it sent was read: its will (if
         * it did not DISCONNECT) is published now. */
        if (s->conn && cs == MQ_COS_CLOSED && mq_cos_ring_used(mq_cos_chan_up(s->ch)) == 0)
            mq__drop(bc, s, now);
    }
    mq_broker_tick(bc->b, now); /* expired timers first: their output goes out below */
    /* Every live slot is flushed, pending or backed up; a drop can publish a
     * will that gives others output, so go round until nothing moves (each
     * round writes bytes or drops a connection: it ends). */
    bool progress = true;
    while (progress) {
        progress = false;
        while (mq_broker_pending(bc->b) != NULL)
            ;
        for (unsigned i = 0; i < bc->nslots; i++) {
            mq_cos_slot_t *s = &bc->slots[i];
            if (s->conn && mq__flush(bc, s, now))
                progress = true;
        }
    }
    /* Timers the drops set (e.g. session expiry) count too; if that tick
     * produced output, come straight back. */
    mq_time_t deadline = mq_broker_tick(bc->b, now);
    if (mq_broker_pending(bc->b) != NULL)
        return bc->env->now_usec(bc->env->ctx);
    if (deadline == MQ_TIME_NEVER)
        return MQ_COS_NEVER;
    return deadline * 1000u;
}

void mq_cos_broker_run(mq_cos_broker_t *bc, const volatile bool *stop)
{
    for (;;) {
        uint64_t deadline = mq_cos_broker_step(bc);
        if (*stop)
            return;
        bc->env->wait(bc->env->ctx, deadline);
    }
}

void mq_cos_broker_fini(mq_cos_broker_t *bc)
{
    if (!bc->b)
        return;
    mq_time_t now = mq_cos_now_ms(bc->env);
    for (unsigned i = 0; i < bc->nslots; i++)
        if (bc->slots[i].conn)
            mq__drop(bc, &bc->slots[i], now);
    mq_broker_free(bc->b);
    bc->b = NULL;
}

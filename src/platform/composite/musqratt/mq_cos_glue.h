/*
 * musqratt on Composite — the environment (env.h) over Composite's own
 * primitives, shared by the three components (header-only: each component
 * gets its own copy of this state).
 *
 *   now_usec  time_now_usec()                 lib/time (rdtsc / CPU_GHZ)
 *   cycles    time_now()                      rdtsc: emulated under QEMU TCG
 *   wait      sched_thd_block_timeout(0, t)   woken early by sched_thd_wakeup
 *   notify    sched_thd_wakeup(peer)
 *   console   printc()                        the serial console
 *
 * A wait never sleeps longer than MQ_COS_MAX_SLEEP_US, so a wakeup that
 * arrives before the thread blocks costs at most that much latency.
 */
#ifndef MQ_COS_GLUE_H
#define MQ_COS_GLUE_H

#include <cos_component.h>
#include <cos_time.h>
#include <llprint.h>
#include <sched.h>

#include "env.h"

#define MQ_COS_MAX_SLEEP_US 1000

static inline uint64_t mq_cos_glue_now(void *ctx)
{
    (void)ctx;
    return (uint64_t)time_now_usec();
}

static inline uint64_t mq_cos_glue_cycles(void *ctx)
{
    (void)ctx;
    return (uint64_t)time_now();
}

static inline void mq_cos_glue_wait(void *ctx, uint64_t deadline_usec)
{
    (void)ctx;
    cycles_t cap = time_now() + time_usec2cyc(MQ_COS_MAX_SLEEP_US);
    cycles_t until = deadline_usec == MQ_COS_NEVER ? cap : time_usec2cyc(deadline_usec);
    if (until > cap)
        until = cap;
    sched_thd_block_timeout(0, until);
}

static inline void mq_cos_glue_console(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    printc("%.*s", (int)n, s);
}

#endif

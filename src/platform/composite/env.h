/*
 * musqratt on Composite — what a component needs from its environment.
 *
 * The broker and client components are written against this small table,
 * not against Composite's headers, so the same code runs on Linux in the
 * tests (tests/unit/test_cos_system.c drives all components in turns with a
 * fake clock). On Composite (docs/COMPOSITE.md):
 *   now_usec  time_now_usec()            (lib/time)
 *   cycles    ps_tsc()                   (rdtsc; emulated under QEMU TCG)
 *   wait      sched_thd_block_timeout(0, deadline in cycles), woken early
 *             by the peer's sched_thd_wakeup()
 *   notify    sched_thd_wakeup(peer thread id)
 *   console   printc()  (the serial console)
 * Every pointer is borrowed; ctx is passed back unchanged.
 */
#ifndef MQ_COS_ENV_H
#define MQ_COS_ENV_H

#include <stddef.h>
#include <stdint.h>

#define MQ_COS_NEVER UINT64_MAX

typedef struct mq_cos_env {
    /* Monotonic microseconds. */
    uint64_t (*now_usec)(void *ctx);
    /* A fine-grained counter for round-trip times (TSC cycles on x86). */
    uint64_t (*cycles)(void *ctx);
    /* Blocks until notified or until deadline_usec (MQ_COS_NEVER: no
     * deadline). May return early (spuriously). */
    void (*wait)(void *ctx, uint64_t deadline_usec);
    /* Wakes the peer of channel `chan` (the broker for a client, the client
     * for the broker). */
    void (*notify)(void *ctx, unsigned chan);
    /* Writes n bytes of text to the console. */
    void (*console)(void *ctx, const char *s, size_t n);
    void *ctx;
} mq_cos_env_t;

#endif

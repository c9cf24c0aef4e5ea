/*
 * sys — what the Linux platform hands the core: clock, randomness, memory.
 *
 * Owns: nothing (malloc owns the memory it hands out).
 * Never: caches time; the loop reads the clock once per iteration and passes
 * it down.
 * Hot paths: mq_linux_alloc/mq_linux_free (every allocation of the core).
 */
#ifndef MQ_PLATFORM_LINUX_SYS_H
#define MQ_PLATFORM_LINUX_SYS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "musqratt/platform.h"

/* CLOCK_MONOTONIC in milliseconds. */
mq_time_t mq_linux_now(void);
/* CLOCK_MONOTONIC in microseconds (mq_linux_now() == mq_linux_now_us() / 1000). */
uint64_t mq_linux_now_us(void);

void *mq_linux_alloc(void *ctx, size_t size);
void mq_linux_free(void *ctx, void *ptr, size_t size);
/* getrandom(2); falls back to /dev/urandom; aborts if neither works, since
 * predictable client identifiers would be a silent security bug. */
void mq_linux_random(void *ctx, uint8_t *buf, size_t len);

/* Fills *p with the hooks above; log is borrowed (the log hook's ctx). */
void mq_linux_platform(mq_platform_t *p, mq_linux_log_t *log);

#endif

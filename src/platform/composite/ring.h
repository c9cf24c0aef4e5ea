/*
 * musqratt on Composite — a single-producer / single-consumer byte ring in
 * shared memory (one per direction per client channel, see chan.h).
 *
 * The ring lives entirely inside the memory given to mq_cos_ring_init()
 * (header + data, no pointers), so two components that map the same pages
 * at different addresses can share it. One side only writes, the other only
 * reads; head and tail are free-running 32-bit counters published with
 * release/acquire ordering, so no lock and no system call is needed.
 *
 * Owns: nothing (the caller owns the memory). Portable C11 plus the GCC/Clang __atomic
 * builtins (no header needed: Composite compiles with -nostdinc, where even
 * <stdatomic.h> is absent): compiled into the Composite components and into
 * the Linux tests alike.
 */
#ifndef MQ_COS_RING_H
#define MQ_COS_RING_H

#include <stddef.h>
#include <stdint.h>

#include "musqratt/platform.h"

typedef struct mq_cos_ring {
    uint32_t head;                 /* bytes ever written; only the producer stores it */
    uint8_t pad0[60];           /* keep producer and consumer lines apart */
    uint32_t tail;                 /* bytes ever read; only the consumer stores it */
    uint8_t pad1[60];
    uint32_t cap;               /* data capacity, a power of two; set by init */
    uint32_t pad2[15];
    uint8_t data[];             /* cap bytes */
} mq_cos_ring_t;

/* Smallest region mq_cos_ring_init accepts (header + 16 data bytes). */
#define MQ_COS_RING_MIN (sizeof(mq_cos_ring_t) + 16u)

/*
 * Lays a ring out in mem[0..size): capacity is the largest power of two
 * that fits after the header (at most 2^30). Returns the ring (== mem), or
 * NULL when size < MQ_COS_RING_MIN or mem is not 8-byte aligned. Call before
 * either side uses it (or to reset it while neither does).
 */
mq_cos_ring_t *mq_cos_ring_init(void *mem, size_t size);

/* Bytes waiting to be read / room to write. Either side may ask. */
size_t mq_cos_ring_used(const mq_cos_ring_t *r);
size_t mq_cos_ring_space(const mq_cos_ring_t *r);

/* Producer: copies up to n bytes in; returns how many fit (0 when full). */
size_t mq_cos_ring_write(mq_cos_ring_t *r, const void *src, size_t n);
/* Producer: the same over a gather list, in order (stops at the first
 * element that does not fit whole, after writing the part that does). */
size_t mq_cos_ring_writev(mq_cos_ring_t *r, const mq_iov_t *iov, size_t count);

/* Consumer: copies up to n bytes out; returns how many (0 when empty). */
size_t mq_cos_ring_read(mq_cos_ring_t *r, void *dst, size_t n);
/* Consumer, zero-copy: fills iov[0..2) with the readable bytes (two pieces
 * when they wrap) and returns the number of pieces (0 when empty). The
 * bytes stay valid until mq_cos_ring_consume(). */
size_t mq_cos_ring_peek(const mq_cos_ring_t *r, mq_iov_t iov[2]);
/* Consumer: n (<= used) bytes were taken. */
void mq_cos_ring_consume(mq_cos_ring_t *r, size_t n);

#endif

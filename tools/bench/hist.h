/*
 * hist — an HDR-style latency histogram for musqratt-bench.
 *
 * Owns: a fixed array of counters (no allocation after init, none at all in
 * mq_bench_hist_record, which is the hot path: one clz, a shift, an add).
 * Never: locks, clocks, I/O.
 *
 * Buckets are log-linear: values below 256 ns are exact; above, each power of
 * two is split into 128 equal buckets, so a reported value is within 0.4% of
 * the true one (the bucket midpoint is reported). Values up to 2^42 ns (73 min).
 */
#ifndef MQ_BENCH_HIST_H
#define MQ_BENCH_HIST_H

#include <stdint.h>
#include <stdio.h>

#define MQ_BENCH_HIST_SUB_BITS 7u
#define MQ_BENCH_HIST_SUB (1u << MQ_BENCH_HIST_SUB_BITS) /* 128 */
#define MQ_BENCH_HIST_MAX_BITS 42u
#define MQ_BENCH_HIST_BUCKETS ((MQ_BENCH_HIST_MAX_BITS - MQ_BENCH_HIST_SUB_BITS + 1u) * MQ_BENCH_HIST_SUB + MQ_BENCH_HIST_SUB)

typedef struct mq_bench_hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t max_ns;
    uint64_t min_ns;
    uint64_t buckets[MQ_BENCH_HIST_BUCKETS];
} mq_bench_hist_t;

void mq_bench_hist_init(mq_bench_hist_t *h);
void mq_bench_hist_record(mq_bench_hist_t *h, uint64_t ns);
/* The value (ns) at quantile q in [0, 1]; 0 when empty. */
uint64_t mq_bench_hist_quantile(const mq_bench_hist_t *h, double q);
/* Writes "value_ns count" for every non-empty bucket; returns 0 or -1. */
int mq_bench_hist_write(const mq_bench_hist_t *h, FILE *out);

/* Exposed for the self-test: bucket index of a value and a bucket's midpoint. */
uint32_t mq_bench_hist_index(uint64_t ns);
uint64_t mq_bench_hist_value(uint32_t idx);

#endif

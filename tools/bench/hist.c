/*
 * hist — HDR-style log-linear histogram (see hist.h for the layout).
 *
 * Owns: nothing beyond the caller's mq_bench_hist_t.
 * Never: allocation, system calls (mq_bench_hist_write only uses the FILE given).
 * Hot path: mq_bench_hist_record, once per delivered message.
 */
#include "hist.h"

#include <string.h>

void mq_bench_hist_init(mq_bench_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min_ns = UINT64_MAX;
}

uint32_t mq_bench_hist_index(uint64_t ns)
{
    unsigned msb, shift;

    if (ns < 2u * MQ_BENCH_HIST_SUB)
        return (uint32_t)ns;
    if (ns >> MQ_BENCH_HIST_MAX_BITS)
        ns = (UINT64_C(1) << MQ_BENCH_HIST_MAX_BITS) - 1;
    msb = 63u - (unsigned)__builtin_clzll(ns);
    /* Keep the top 8 bits: the leading 1 plus 7 bits of mantissa. */
    shift = msb - MQ_BENCH_HIST_SUB_BITS;
    return (uint32_t)((shift + 1u) * MQ_BENCH_HIST_SUB + ((ns >> shift) - MQ_BENCH_HIST_SUB));
}

uint64_t mq_bench_hist_value(uint32_t idx)
{
    uint32_t shift, mant;
    uint64_t lo;

    if (idx < 2u * MQ_BENCH_HIST_SUB)
        return idx;
    shift = idx / MQ_BENCH_HIST_SUB - 1u;
    mant = idx % MQ_BENCH_HIST_SUB + MQ_BENCH_HIST_SUB;
    lo = (uint64_t)mant << shift;
    return lo + ((UINT64_C(1) << shift) >> 1);
}

void mq_bench_hist_record(mq_bench_hist_t *h, uint64_t ns)
{
    h->buckets[mq_bench_hist_index(ns)]++;
    h->count++;
    h->sum_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    if (ns < h->min_ns)
        h->min_ns = ns;
}

uint64_t mq_bench_hist_quantile(const mq_bench_hist_t *h, double q)
{
    uint64_t rank, seen = 0;
    uint32_t i;

    if (!h->count)
        return 0;
    if (q >= 1.0)
        return h->max_ns;
    /* The smallest value v with at least ceil(q * count) samples <= v. */
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    for (i = 0; i < MQ_BENCH_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = mq_bench_hist_value(i);

            /* A midpoint may overshoot the true extremes; clamp to them. */
            if (v > h->max_ns)
                v = h->max_ns;
            if (v < h->min_ns)
                v = h->min_ns;
            return v;
        }
    }
    return h->max_ns;
}

int mq_bench_hist_write(const mq_bench_hist_t *h, FILE *out)
{
    uint32_t i;

    for (i = 0; i < MQ_BENCH_HIST_BUCKETS; i++)
        if (h->buckets[i] && fprintf(out, "%llu %llu\n", (unsigned long long)mq_bench_hist_value(i),
                                     (unsigned long long)h->buckets[i]) < 0)
            return -1;
    return 0;
}

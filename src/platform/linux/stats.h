/*
 * stats — what the Linux platform itself counts for the metrics endpoint:
 * connections refused by max_connection_rate and the publish latency
 * histogram. The core's counters are in mq_broker_stats_t.
 *
 * Owns: nothing but its fields (the loop embeds one; metrics.c reads it).
 * Never: reads a clock or allocates; the loop passes durations in.
 * Hot path: mq_linux_latency_observe(), at most once per loop iteration
 * (only iterations that received a PUBLISH), a few compares and adds.
 */
#ifndef MQ_PLATFORM_LINUX_STATS_H
#define MQ_PLATFORM_LINUX_STATS_H

#include <stdbool.h>
#include <stdint.h>

/* Upper bounds of the latency buckets, microseconds (Prometheus le="..."
 * in seconds); a last, implicit bucket is +Inf. */
#define MQ_LINUX_LAT_BUCKETS 14
static const uint32_t mq_linux_lat_bounds_us[MQ_LINUX_LAT_BUCKETS] = {
    25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

typedef struct mq_linux_stats {
    bool measure;                   /* measure latency (set when metrics are served) */
    uint64_t rate_refused;          /* connections closed by max_connection_rate */
    /* Time from the read of a PUBLISH to the writev of its deliveries: each
     * PUBLISH of a loop iteration is counted with that iteration's time
     * from after epoll_wait to after its last writev (an upper bound). */
    uint64_t lat_count[MQ_LINUX_LAT_BUCKETS + 1]; /* per bucket, not cumulative */
    uint64_t lat_total;
    uint64_t lat_sum_us;
} mq_linux_stats_t;

/* n PUBLISH packets that took us microseconds each (at most). */
static inline void mq_linux_latency_observe(mq_linux_stats_t *st, uint64_t us, uint64_t n)
{
    unsigned i = 0;

    while (i < MQ_LINUX_LAT_BUCKETS && us > mq_linux_lat_bounds_us[i])
        i++;
    st->lat_count[i] += n;
    st->lat_total += n;
    st->lat_sum_us += us * n;
}

#endif

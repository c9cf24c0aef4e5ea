/*
 * wire — the few MQTT bytes musqratt-bench writes and reads, by hand.
 *
 * Owns: nothing; encoders write into caller buffers, the parser points into
 * the caller's bytes.
 * Never: allocation, system calls.
 * Hot path: mq_bench_frame and mq_bench_parse_publish (every delivery).
 *
 * The bench carries its own client instead of the project's codec so that a
 * codec bug in the broker under test cannot hide itself by being shared with
 * the tool that measures it.
 */
#ifndef MQ_BENCH_WIRE_H
#define MQ_BENCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The payload every measured PUBLISH carries (host byte order: both ends of
 * the measurement run on this host). */
#define MQ_BENCH_MAGIC 0x3142514du /* "MQB1" */
#define MQ_BENCH_PAYLOAD_MIN 24u
typedef struct mq_bench_stamp {
    uint32_t magic;
    uint32_t pub;     /* publisher index within the run */
    uint64_t seq;     /* per publisher, from 0, contiguous */
    uint64_t sent_ns; /* CLOCK_MONOTONIC when the publisher wrote it */
} mq_bench_stamp_t;

/* Returns the number of bytes a remaining length takes (1..4). */
size_t mq_bench_varint_put(uint8_t *out, uint32_t v);

/*
 * Frames one packet at the start of buf: 1 when complete (*hdr = fixed header
 * length, *rl = remaining length), 0 when more bytes are needed, -1 when the
 * remaining length is malformed.
 */
int mq_bench_frame(const uint8_t *buf, size_t len, size_t *hdr, uint32_t *rl);

/* Encoders: each returns the packet length written to out (out must be large
 * enough: mq_bench_connect_len etc. give the bound). */
size_t mq_bench_connect(uint8_t *out, uint8_t level, const char *client_id, uint16_t keepalive);
size_t mq_bench_subscribe(uint8_t *out, uint8_t level, uint16_t pid, const char *filter,
                          uint8_t qos);
/* Header of a PUBLISH up to (not including) the payload; pid ignored at QoS 0. */
size_t mq_bench_publish_head(uint8_t *out, uint8_t level, const char *topic, size_t topic_len,
                             uint8_t qos, bool retain, uint16_t pid, size_t payload_len);
size_t mq_bench_ack(uint8_t *out, uint8_t type, uint16_t pid); /* PUBACK/PUBREC/PUBREL/PUBCOMP */

/* A parsed PUBLISH: topic and payload point into the packet. */
typedef struct mq_bench_publish {
    uint8_t qos;
    bool retain;
    bool dup;
    uint16_t pid;
    const uint8_t *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
} mq_bench_publish_t;

/* body = the bytes after the fixed header; returns 0 or -1 when malformed. */
int mq_bench_parse_publish(uint8_t flags, const uint8_t *body, uint32_t rl, uint8_t level,
                           mq_bench_publish_t *p);

#endif

/*
 * wire — hand-written MQTT 3.1.1 / 5.0 client encoding for musqratt-bench.
 *
 * Owns: nothing. Never: allocation, system calls.
 * Hot path: mq_bench_frame, mq_bench_parse_publish, mq_bench_publish_head.
 */
#include "wire.h"

#include <string.h>

size_t mq_bench_varint_put(uint8_t *out, uint32_t v)
{
    size_t n = 0;

    do {
        uint8_t b = (uint8_t)(v & 0x7fu);

        v >>= 7;
        if (v)
            b |= 0x80u;
        out[n++] = b;
    } while (v && n < 4);
    return n;
}

int mq_bench_frame(const uint8_t *buf, size_t len, size_t *hdr, uint32_t *rl)
{
    uint32_t v = 0;
    size_t i;

    /* MQTT-1.5.5: at most four bytes of remaining length. */
    for (i = 1; i < 5; i++) {
        if (i >= len)
            return 0;
        v |= (uint32_t)(buf[i] & 0x7fu) << (7 * (i - 1));
        if (!(buf[i] & 0x80u)) {
            if (len - (i + 1) < v)
                return 0;
            *hdr = i + 1;
            *rl = v;
            return 1;
        }
    }
    return -1;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
    p = put_u16(p, (uint16_t)n);
    memcpy(p, s, n);
    return p + n;
}

size_t mq_bench_connect(uint8_t *out, uint8_t level, const char *client_id, uint16_t keepalive)
{
    size_t idlen = strlen(client_id);
    uint32_t rl = 10u + (level == 5 ? 1u : 0u) + 2u + (uint32_t)idlen;
    uint8_t *p = out;

    *p++ = 0x10;
    p += mq_bench_varint_put(p, rl);
    p = put_str(p, "MQTT", 4);
    *p++ = level;
    *p++ = 0x02; /* clean session / clean start: each run starts from nothing */
    p = put_u16(p, keepalive);
    if (level == 5)
        *p++ = 0; /* no properties: no topic aliases, defaults everywhere */
    p = put_str(p, client_id, idlen);
    return (size_t)(p - out);
}

size_t mq_bench_subscribe(uint8_t *out, uint8_t level, uint16_t pid, const char *filter,
                          uint8_t qos)
{
    size_t flen = strlen(filter);
    uint32_t rl = 2u + (level == 5 ? 1u : 0u) + 2u + (uint32_t)flen + 1u;
    uint8_t *p = out;

    *p++ = 0x82; /* MQTT-3.8.1-1: reserved bits 0010 */
    p += mq_bench_varint_put(p, rl);
    p = put_u16(p, pid);
    if (level == 5)
        *p++ = 0;
    p = put_str(p, filter, flen);
    *p++ = qos;
    return (size_t)(p - out);
}

size_t mq_bench_publish_head(uint8_t *out, uint8_t level, const char *topic, size_t topic_len,
                             uint8_t qos, bool retain, uint16_t pid, size_t payload_len)
{
    uint32_t rl = 2u + (uint32_t)topic_len + (qos ? 2u : 0u) + (level == 5 ? 1u : 0u) +
                  (uint32_t)payload_len;
    uint8_t *p = out;

    *p++ = (uint8_t)(0x30u | (unsigned)(qos << 1) | (retain ? 1u : 0u));
    p += mq_bench_varint_put(p, rl);
    p = put_str(p, topic, topic_len);
    if (qos)
        p = put_u16(p, pid);
    if (level == 5)
        *p++ = 0;
    return (size_t)(p - out);
}

size_t mq_bench_ack(uint8_t *out, uint8_t type, uint16_t pid)
{
    /* MQTT-3.6.1-1: PUBREL has flags 0010. v5 allows the two-byte form when the
     * reason is Success (MQTT 5 section 3.4.2.1). */
    out[0] = (uint8_t)((type << 4) | (type == 6 ? 0x02u : 0u));
    out[1] = 2;
    put_u16(out + 2, pid);
    return 4;
}

static int get_varint(const uint8_t *p, size_t len, uint32_t *v, size_t *used)
{
    uint32_t x = 0;
    size_t i;

    for (i = 0; i < 4 && i < len; i++) {
        x |= (uint32_t)(p[i] & 0x7fu) << (7 * i);
        if (!(p[i] & 0x80u)) {
            *v = x;
            *used = i + 1;
            return 0;
        }
    }
    return -1;
}

int mq_bench_parse_publish(uint8_t flags, const uint8_t *body, uint32_t rl, uint8_t level,
                           mq_bench_publish_t *pb)
{
    size_t off = 2;

    pb->qos = (uint8_t)((flags >> 1) & 3u);
    pb->retain = flags & 1u;
    pb->dup = (flags >> 3) & 1u;
    if (pb->qos == 3 || rl < 2)
        return -1;
    pb->topic_len = ((size_t)body[0] << 8) | body[1];
    pb->topic = body + 2;
    off += pb->topic_len;
    pb->pid = 0;
    if (pb->qos) {
        if (off + 2 > rl)
            return -1;
        pb->pid = (uint16_t)((body[off] << 8) | body[off + 1]);
        off += 2;
    }
    if (off > rl)
        return -1;
    if (level == 5) {
        uint32_t plen;
        size_t used;

        if (get_varint(body + off, rl - off, &plen, &used) < 0 || plen > rl - off - used)
            return -1;
        off += used + plen;
    }
    pb->payload = body + off;
    pb->payload_len = rl - off;
    return 0;
}

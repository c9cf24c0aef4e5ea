/*
 * encode — MQTT packet encoding into caller buffers (3.1, 3.1.1, 5 layout).
 *
 * Owns: nothing. No allocation, no system calls. Each encoder first computes
 * the exact packet size and writes only when it fits in cap, so a too-small
 * buffer costs one size computation and the caller retries.
 *
 * Encoders check that values fit their fields (string lengths <= 65535,
 * QoS 0..2, non-zero packet ids, total size within the wire limit) and
 * return MQ_EINVAL / MQ_ETOOBIG otherwise. They do not validate string
 * content (UTF-8, topics): tests use them to build packets a broker must
 * reject. Remaining lengths are always written in minimal form
 * (MQTT 3.1.1 section 2.2.3).
 *
 * Hot path: mq_codec_encode_publish and mq_codec_encode_ack (every delivery).
 */
#include <string.h>

#include "codec/wire.h"

#define MQ__STR_MAX 65535u

int mq_codec_varint_size(uint32_t value)
{
    if (value < 128u)
        return 1;
    if (value < 16384u)
        return 2;
    if (value < 2097152u)
        return 3;
    if (value <= MQ_MAX_REMAINING_LENGTH)
        return 4;
    return 0;
}

int mq_codec_varint_write(uint8_t *out, uint32_t value)
{
    int n = 0;
    do {
        uint8_t b = (uint8_t)(value & 0x7f);
        value >>= 7;
        if (value)
            b |= 0x80;
        out[n++] = b;
    } while (value && n < 4);
    return n;
}

/* Size of a whole packet with this remaining length, or 0 if it is too long. */
static inline uint64_t packet_size(uint64_t rem)
{
    if (rem > MQ_MAX_REMAINING_LENGTH)
        return 0;
    return 1 + (uint64_t)mq_codec_varint_size((uint32_t)rem) + rem;
}

static inline uint8_t *put_header(uint8_t *p, uint8_t first, uint32_t rem)
{
    *p++ = first;
    return p + mq_codec_varint_write(p, rem);
}

static inline uint8_t *put_bytes(uint8_t *p, const uint8_t *s, uint32_t len)
{
    if (len)
        memcpy(p, s, len);
    return p + len;
}

static inline uint8_t *put_str(uint8_t *p, const uint8_t *s, uint32_t len)
{
    p = mq__wr16(p, (uint16_t)len);
    return put_bytes(p, s, len);
}

/* MQTT 5 property block: length varint + raw bytes (empty when absent). */
static inline uint64_t props_size(const mq_str_t *props)
{
    uint32_t n = props ? props->len : 0;
    return (uint64_t)mq_codec_varint_size(n) + n;
}

static inline uint8_t *put_props(uint8_t *p, const mq_str_t *props)
{
    uint32_t n = props ? props->len : 0;
    p += mq_codec_varint_write(p, n);
    return n ? put_bytes(p, props->ptr, n) : p;
}

static inline bool str_ok(const mq_str_t *s)
{
    return s->len <= MQ__STR_MAX && (s->len == 0 || s->ptr != NULL);
}

static inline bool props_ok(const mq_str_t *s)
{
    return s->len <= MQ_MAX_REMAINING_LENGTH && (s->len == 0 || s->ptr != NULL);
}

int mq_codec_encode_connect(uint8_t *out, size_t cap, const mq_connect_t *c)
{
    static const uint8_t mqtt[] = "MQTT", mqisdp[] = "MQIsdp";
    mq_str_t name = c->protocol_name;
    const bool v5 = c->protocol_level == MQ_PROTO_V5;
    if (name.ptr == NULL) {
        /* The level implies the name (MQTT-3.1.2-1 and 3.1's "MQIsdp"). */
        if (c->protocol_level == MQ_PROTO_V31) {
            name.ptr = mqisdp;
            name.len = 6;
        } else if (c->protocol_level == MQ_PROTO_V311 || v5) {
            name.ptr = mqtt;
            name.len = 4;
        } else {
            return MQ_EINVAL;
        }
    }
    if (!str_ok(&name) || !str_ok(&c->client_id) || c->will_qos > 2)
        return MQ_EINVAL;

    uint64_t rem = 2 + (uint64_t)name.len + 1 + 1 + 2 + 2 + c->client_id.len;
    if (v5) {
        if (!props_ok(&c->props))
            return MQ_EINVAL;
        rem += props_size(&c->props);
    }
    if (c->will) {
        if (!str_ok(&c->will_topic) || !str_ok(&c->will_payload))
            return MQ_EINVAL;
        rem += 4 + (uint64_t)c->will_topic.len + c->will_payload.len;
        if (v5) {
            if (!props_ok(&c->will_props))
                return MQ_EINVAL;
            rem += props_size(&c->will_props);
        }
    }
    if (c->has_username) {
        if (!str_ok(&c->username))
            return MQ_EINVAL;
        rem += 2 + (uint64_t)c->username.len;
    }
    if (c->has_password) {
        if (!str_ok(&c->password))
            return MQ_EINVAL;
        rem += 2 + (uint64_t)c->password.len;
    }
    uint64_t size = packet_size(rem);
    if (size == 0)
        return MQ_ETOOBIG;
    if (size > cap)
        return (int)size;

    /* The will bits are written as given (a test may want a bad combination);
     * only values that do not fit their fields are refused above. */
    uint8_t flags = (uint8_t)((c->has_username ? 0x80 : 0) | (c->has_password ? 0x40 : 0) |
                              (c->will_retain ? 0x20 : 0) | (c->will_qos << 3) |
                              (c->will ? 0x04 : 0) | (c->clean ? 0x02 : 0));
    uint8_t *p = put_header(out, MQ_PKT_CONNECT << 4, (uint32_t)rem);
    p = put_str(p, name.ptr, name.len);
    *p++ = c->protocol_level;
    *p++ = flags;
    p = mq__wr16(p, c->keepalive);
    if (v5)
        p = put_props(p, &c->props);
    p = put_str(p, c->client_id.ptr, c->client_id.len);
    if (c->will) {
        if (v5)
            p = put_props(p, &c->will_props);
        p = put_str(p, c->will_topic.ptr, c->will_topic.len);
        p = put_str(p, c->will_payload.ptr, c->will_payload.len);
    }
    if (c->has_username)
        p = put_str(p, c->username.ptr, c->username.len);
    if (c->has_password)
        p = put_str(p, c->password.ptr, c->password.len);
    return (int)(p - out);
}

int mq_codec_encode_connack(uint8_t *out, size_t cap, uint8_t protocol_level,
                            bool session_present, uint8_t rc)
{
    const bool v5 = protocol_level == MQ_PROTO_V5;
    const int size = v5 ? 5 : 4;
    if ((size_t)size > cap)
        return size;
    out[0] = MQ_PKT_CONNACK << 4;
    out[1] = (uint8_t)(size - 2);
    /* MQTT-3.2.2-4: a refusal never claims a session. */
    out[2] = (session_present && rc == 0) ? 1 : 0;
    out[3] = rc;
    if (v5)
        out[4] = 0; /* empty property block */
    return size;
}

int mq_codec_encode_publish(uint8_t *out, size_t cap, uint8_t protocol_level,
                            const mq_publish_t *pub)
{
    const bool v5 = protocol_level == MQ_PROTO_V5;
    const uint8_t qos = pub->qos;
    if (qos > 2 || (qos && pub->packet_id == 0) || !str_ok(&pub->topic) ||
        (pub->payload.len && !pub->payload.ptr))
        return MQ_EINVAL; /* MQTT-3.3.1-4, MQTT-2.3.1-1 */
    uint64_t rem = 2 + (uint64_t)pub->topic.len + (qos ? 2 : 0) + pub->payload.len;
    if (v5) {
        if (!props_ok(&pub->props))
            return MQ_EINVAL;
        rem += props_size(&pub->props);
    }
    uint64_t size = packet_size(rem);
    if (size == 0)
        return MQ_ETOOBIG;
    if (size > cap)
        return (int)size;

    /* MQTT-3.3.1-2: DUP is 0 for QoS 0 whatever the caller copied along. */
    uint8_t first = (uint8_t)((MQ_PKT_PUBLISH << 4) | (qos << 1) | (pub->retain ? 1 : 0) |
                              ((pub->dup && qos) ? 0x08 : 0));
    uint8_t *p = put_header(out, first, (uint32_t)rem);
    p = put_str(p, pub->topic.ptr, pub->topic.len);
    if (qos)
        p = mq__wr16(p, pub->packet_id);
    if (v5)
        p = put_props(p, &pub->props);
    p = put_bytes(p, pub->payload.ptr, pub->payload.len);
    return (int)(p - out);
}

int mq_codec_encode_ack(uint8_t *out, size_t cap, uint8_t type, uint16_t packet_id)
{
    uint8_t first;
    switch (type) {
    case MQ_PKT_PUBACK:
    case MQ_PKT_PUBREC:
    case MQ_PKT_PUBCOMP:
    case MQ_PKT_UNSUBACK:
        first = (uint8_t)(type << 4);
        break;
    case MQ_PKT_PUBREL:
        first = (MQ_PKT_PUBREL << 4) | 0x2; /* MQTT-3.6.1-1 */
        break;
    default:
        return MQ_EINVAL;
    }
    if (packet_id == 0)
        return MQ_EINVAL; /* MQTT-2.3.1-1 */
    if (cap < 4)
        return 4;
    /* Remaining length 2 is also a complete MQTT 5 ack: reason 0, no
     * properties (MQTT 5 section 3.4.2.1). */
    out[0] = first;
    out[1] = 2;
    mq__wr16(out + 2, packet_id);
    return 4;
}

static int encode_filters(uint8_t *out, size_t cap, uint8_t first, uint8_t protocol_level,
                          uint16_t packet_id, const mq_str_t *filters,
                          const uint8_t *options, size_t count)
{
    const bool v5 = protocol_level == MQ_PROTO_V5;
    if (count == 0 || packet_id == 0 || filters == NULL)
        return MQ_EINVAL; /* MQTT-3.8.3-3, MQTT-3.10.3-2, MQTT-2.3.1-1 */
    uint64_t rem = 2u + (v5 ? 1u : 0u);
    for (size_t i = 0; i < count; i++) {
        if (!str_ok(&filters[i]))
            return MQ_EINVAL;
        rem += 2 + (uint64_t)filters[i].len + (options ? 1 : 0);
        if (rem > MQ_MAX_REMAINING_LENGTH)
            return MQ_ETOOBIG;
    }
    uint64_t size = packet_size(rem);
    if (size == 0)
        return MQ_ETOOBIG;
    if (size > cap)
        return (int)size;
    uint8_t *p = put_header(out, first, (uint32_t)rem);
    p = mq__wr16(p, packet_id);
    if (v5)
        *p++ = 0; /* empty property block */
    for (size_t i = 0; i < count; i++) {
        p = put_str(p, filters[i].ptr, filters[i].len);
        if (options)
            *p++ = options[i];
    }
    return (int)(p - out);
}

int mq_codec_encode_subscribe(uint8_t *out, size_t cap, uint8_t protocol_level,
                              uint16_t packet_id, const mq_str_t *filters,
                              const uint8_t *options, size_t count)
{
    if (options == NULL)
        return MQ_EINVAL;
    /* MQTT-3.8.1-1: fixed-header flags 0010. */
    return encode_filters(out, cap, (MQ_PKT_SUBSCRIBE << 4) | 0x2, protocol_level,
                          packet_id, filters, options, count);
}

int mq_codec_encode_unsubscribe(uint8_t *out, size_t cap, uint8_t protocol_level,
                                uint16_t packet_id, const mq_str_t *filters,
                                size_t count)
{
    /* MQTT-3.10.1-1: fixed-header flags 0010. */
    return encode_filters(out, cap, (MQ_PKT_UNSUBSCRIBE << 4) | 0x2, protocol_level,
                          packet_id, filters, NULL, count);
}

int mq_codec_encode_suback(uint8_t *out, size_t cap, uint8_t protocol_level,
                           uint16_t packet_id, const uint8_t *codes, size_t count)
{
    const bool v5 = protocol_level == MQ_PROTO_V5;
    if (count == 0 || codes == NULL || packet_id == 0)
        return MQ_EINVAL;
    if (count > MQ_MAX_REMAINING_LENGTH)
        return MQ_ETOOBIG;
    uint64_t rem = 2u + (v5 ? 1u : 0u) + (uint64_t)count;
    uint64_t size = packet_size(rem);
    if (size == 0)
        return MQ_ETOOBIG;
    if (size > cap)
        return (int)size;
    uint8_t *p = put_header(out, MQ_PKT_SUBACK << 4, (uint32_t)rem);
    p = mq__wr16(p, packet_id);
    if (v5)
        *p++ = 0; /* empty property block */
    p = put_bytes(p, codes, (uint32_t)count);
    return (int)(p - out);
}

int mq_codec_encode_empty(uint8_t *out, size_t cap, uint8_t type)
{
    if (type != MQ_PKT_PINGREQ && type != MQ_PKT_PINGRESP && type != MQ_PKT_DISCONNECT)
        return MQ_EINVAL;
    if (cap < 2)
        return 2;
    out[0] = (uint8_t)(type << 4);
    out[1] = 0;
    return 2;
}

/* ---- MQTT 5 --------------------------------------------------------------- */

/* A caller's property block: NULL only when empty, and small enough that the
 * packet can still carry it. */
static inline int props_arg(const uint8_t *props, size_t props_len)
{
    if (props_len != 0 && props == NULL)
        return MQ_EINVAL;
    return props_len > MQ_MAX_REMAINING_LENGTH ? MQ_ETOOBIG : MQ_OK;
}

static inline uint64_t props_block_size(size_t props_len)
{
    return (uint64_t)mq_codec_varint_size((uint32_t)props_len) + props_len;
}

static inline uint8_t *put_props_block(uint8_t *p, const uint8_t *props, size_t props_len)
{
    p += mq_codec_varint_write(p, (uint32_t)props_len);
    return put_bytes(p, props, (uint32_t)props_len);
}

int mq_codec_encode_connack5(uint8_t *out, size_t cap, bool session_present, uint8_t reason,
                             const uint8_t *props, size_t props_len)
{
    int rc = props_arg(props, props_len);
    if (rc != MQ_OK)
        return rc;
    /* MQTT 5 3.2.2: acknowledge flags, reason code, properties (required). */
    const uint64_t rem = 2 + props_block_size(props_len);
    const uint64_t size = packet_size(rem);
    if (size == 0)
        return MQ_ETOOBIG;
    if (size > cap)
        return (int)size;
    uint8_t *p = put_header(out, MQ_PKT_CONNACK << 4, (uint32_t)rem);
    /* MQTT-3.2.2-6: a non-zero reason code never claims a session. */
    *p++ = (session_present && reason == MQ_RC_SUCCESS) ? 1 : 0;
    *p++ = reason;
    p = put_props_block(p, props, props_len);
    return (int)(p - out);
}

int mq_codec_encode_ack5(uint8_t *out, size_t cap, uint8_t type, uint16_t packet_id,
                         uint8_t reason, const uint8_t *props, size_t props_len)
{
    if (type < MQ_PKT_PUBACK || type > MQ_PKT_PUBCOMP || packet_id == 0)
        return MQ_EINVAL; /* MQTT-2.3.1-1 */
    int rc = props_arg(props, props_len);
    if (rc != MQ_OK)
        return rc;
    /* MQTT 5 3.4.2.1: the reason code may be left out when it is 0 and there
     * are no properties; the property length when there are none. */
    uint64_t rem = 2;
    if (reason != 0 || props_len != 0)
        rem += 1;
    if (props_len != 0)
        rem += props_block_size(props_len);
    const uint64_t size = packet_size(rem);
    if (size == 0)
        return MQ_ETOOBIG;
    if (size > cap)
        return (int)size;
    /* MQTT-3.6.1-1: PUBREL has flags 0010. */
    const uint8_t first = (uint8_t)((type << 4) | (type == MQ_PKT_PUBREL ? 0x2 : 0));
    uint8_t *p = put_header(out, first, (uint32_t)rem);
    p = mq__wr16(p, packet_id);
    if (rem > 2)
        *p++ = reason;
    if (props_len != 0)
        p = put_props_block(p, props, props_len);
    return (int)(p - out);
}

int mq_codec_encode_reasons5(uint8_t *out, size_t cap, uint8_t type, uint16_t packet_id,
                             const uint8_t *props, size_t props_len, const uint8_t *codes,
                             size_t count)
{
    if ((type != MQ_PKT_SUBACK && type != MQ_PKT_UNSUBACK) || packet_id == 0 ||
        count == 0 || codes == NULL)
        return MQ_EINVAL; /* one code per filter, and a request has >= 1 */
    int rc = props_arg(props, props_len);
    if (rc != MQ_OK)
        return rc;
    if (count > MQ_MAX_REMAINING_LENGTH)
        return MQ_ETOOBIG;
    /* MQTT 5 3.9.2 / 3.11.2: packet id, properties, then the payload. */
    const uint64_t rem = 2 + props_block_size(props_len) + (uint64_t)count;
    const uint64_t size = packet_size(rem);
    if (size == 0)
        return MQ_ETOOBIG;
    if (size > cap)
        return (int)size;
    uint8_t *p = put_header(out, (uint8_t)(type << 4), (uint32_t)rem);
    p = mq__wr16(p, packet_id);
    p = put_props_block(p, props, props_len);
    p = put_bytes(p, codes, (uint32_t)count);
    return (int)(p - out);
}

int mq_codec_encode_disconnect5(uint8_t *out, size_t cap, uint8_t type, uint8_t reason,
                                const uint8_t *props, size_t props_len)
{
    if (type != MQ_PKT_DISCONNECT && type != MQ_PKT_AUTH)
        return MQ_EINVAL;
    int rc = props_arg(props, props_len);
    if (rc != MQ_OK)
        return rc;
    /* 3.14.2.1 / 3.15.2.1: remaining length 0 means reason 0, no properties.
     * A DISCONNECT may also stop after its reason code; an AUTH may not. */
    uint64_t rem = 0;
    if (reason != 0 || props_len != 0) {
        rem = 1;
        if (props_len != 0 || type == MQ_PKT_AUTH)
            rem += props_block_size(props_len);
    }
    const uint64_t size = packet_size(rem);
    if (size == 0)
        return MQ_ETOOBIG;
    if (size > cap)
        return (int)size;
    uint8_t *p = put_header(out, (uint8_t)(type << 4), (uint32_t)rem);
    if (rem != 0) {
        *p++ = reason;
        if (rem > 1)
            p = put_props_block(p, props, props_len);
    }
    return (int)(p - out);
}

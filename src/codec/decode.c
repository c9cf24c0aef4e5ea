/*
 * decode — MQTT fixed-header and packet decoding (3.1, 3.1.1, 5 layout).
 *
 * Owns: nothing. Zero-copy: every field of a decoded packet points into the
 * caller's body buffer. No allocation, no system calls. Every read is
 * bounds-checked against [body, body + remaining) with offsets (never by
 * forming an out-of-range pointer), so any byte string is safe to decode.
 *
 * Validates what the standard requires of a sender (the MUSTs on packet
 * format), including every MQTT 5 property block (props.c); session-level
 * rules (client id length, topic alias ranges, receive maximum, which side
 * may send which property) are left to the broker.
 *
 * Hot path: mq_codec_fixed_header and decode_publish / decode_ack, which run
 * for every application message; they are straight-line code with one scan of
 * the topic.
 */
#include <string.h>

#include "codec/wire.h"

/* A read cursor over body[0..end). pos never exceeds end. */
typedef struct cur {
    const uint8_t *b;
    uint32_t pos;
    uint32_t end;
} cur_t;

static inline uint32_t cur_left(const cur_t *c)
{
    return c->end - c->pos;
}

static inline int cur_u8(cur_t *c, uint8_t *v)
{
    if (c->pos >= c->end)
        return MQ_EMALFORMED;
    *v = c->b[c->pos++];
    return MQ_OK;
}

static inline int cur_u16(cur_t *c, uint16_t *v)
{
    if (cur_left(c) < 2)
        return MQ_EMALFORMED;
    *v = mq__rd16(c->b + c->pos);
    c->pos += 2;
    return MQ_OK;
}

/* MQTT 3.1.1 section 1.5.3: two-byte length, then that many bytes. */
static inline int cur_str(cur_t *c, mq_str_t *s)
{
    if (cur_left(c) < 2)
        return MQ_EMALFORMED;
    uint32_t n = mq__rd16(c->b + c->pos);
    if (cur_left(c) - 2 < n)
        return MQ_EMALFORMED;
    s->ptr = c->b + c->pos + 2;
    s->len = n;
    c->pos += 2 + n;
    return MQ_OK;
}

/* A packet identifier that the standard requires to be non-zero. */
static inline int cur_pid(cur_t *c, uint16_t *pid)
{
    int rc = cur_u16(c, pid);
    if (rc != MQ_OK)
        return rc;
    return *pid != 0 ? MQ_OK : MQ_EPROTO; /* MQTT-2.3.1-1 */
}

/*
 * MQTT 5 property block: a variable byte integer length, then that many raw
 * bytes. Only the framing is checked here; mq_codec_decode validates the
 * properties with mq_props_parse once the whole packet is known to be
 * well-formed, so a structural error always wins over a property error.
 */
static int cur_props(cur_t *c, mq_str_t *props)
{
    uint32_t n, used;
    int rc = mq__varint_read(c->b + c->pos, cur_left(c), &n, &used);
    if (rc != MQ_OK)
        return MQ_EMALFORMED; /* the packet is complete: EAGAIN means truncated */
    c->pos += used;
    if (cur_left(c) < n)
        return MQ_EMALFORMED;
    props->ptr = c->b + c->pos;
    props->len = n;
    c->pos += n;
    return MQ_OK;
}

int mq_codec_fixed_header(const uint8_t *buf, size_t len, uint32_t max_packet,
                          mq_fixed_header_t *fh)
{
    if (len == 0)
        return MQ_EAGAIN;
    uint8_t b0 = buf[0];
    if ((b0 >> 4) == 0)
        return MQ_EMALFORMED; /* type 0 is reserved/forbidden */
    uint32_t rem, used;
    int rc = mq__varint_read(buf + 1, len - 1, &rem, &used);
    if (rc != MQ_OK)
        return rc;
    if (max_packet != 0 && (uint64_t)1 + used + rem > max_packet)
        return MQ_ETOOBIG;
    fh->type = (uint8_t)(b0 >> 4);
    fh->flags = (uint8_t)(b0 & 0x0f);
    fh->header_len = (uint8_t)(1 + used);
    fh->remaining = rem;
    return MQ_OK;
}

/* ---- CONNECT ------------------------------------------------------------ */

static int decode_connect(cur_t *c, mq_connect_t *p, mq_props_t *props,
                          mq_props_t *will_props)
{
    int rc;
    memset(p, 0, sizeof(*p));

    if ((rc = cur_str(c, &p->protocol_name)) != MQ_OK)
        return rc;
    /* The name decides whether this is MQTT at all; only then does the level
     * matter (MQTT-3.1.2-1 unsupported name: close; MQTT-3.1.2-2 level:
     * CONNACK 0x01). */
    uint8_t want_lo, want_hi;
    if (p->protocol_name.len == 4 && memcmp(p->protocol_name.ptr, "MQTT", 4) == 0) {
        want_lo = MQ_PROTO_V311;
        want_hi = MQ_PROTO_V5;
    } else if (p->protocol_name.len == 6 &&
               memcmp(p->protocol_name.ptr, "MQIsdp", 6) == 0) {
        want_lo = want_hi = MQ_PROTO_V31;
    } else {
        return MQ_EPROTONAME;
    }
    if ((rc = cur_u8(c, &p->protocol_level)) != MQ_OK)
        return rc;
    if (p->protocol_level < want_lo || p->protocol_level > want_hi)
        return MQ_EPROTOVERSION;
    const uint8_t level = p->protocol_level;

    uint8_t flags;
    if ((rc = cur_u8(c, &flags)) != MQ_OK)
        return rc;
    if ((rc = cur_u16(c, &p->keepalive)) != MQ_OK)
        return rc;
    if (flags & 0x01)
        return MQ_EMALFORMED; /* MQTT-3.1.2-3: reserved flag must be 0 */
    p->clean = (flags & 0x02) != 0;
    p->will = (flags & 0x04) != 0;
    p->will_qos = (uint8_t)((flags >> 3) & 0x03);
    p->will_retain = (flags & 0x20) != 0;
    p->has_password = (flags & 0x40) != 0;
    p->has_username = (flags & 0x80) != 0;
    if (p->will_qos == 3)
        return MQ_EMALFORMED; /* MQTT-3.1.2-14 */
    if (!p->will && (p->will_qos != 0 || p->will_retain))
        return MQ_EMALFORMED; /* MQTT-3.1.2-11, -13, -15 */
    if (level == MQ_PROTO_V311 && p->has_password && !p->has_username)
        return MQ_EMALFORMED; /* MQTT-3.1.2-22 (lifted in MQTT 5) */

    if (level == MQ_PROTO_V5 && (rc = cur_props(c, &p->props)) != MQ_OK)
        return rc;

    /* MQTT-3.1.3-1: the payload fields come in this order, each present iff
     * its flag says so. */
    if ((rc = cur_str(c, &p->client_id)) != MQ_OK)
        return rc;
    if (mq__utf8_check(p->client_id.ptr, p->client_id.len) != MQ_OK)
        return MQ_EUTF8; /* MQTT-1.5.3-1/2 via MQTT-3.1.3-4 */
    if (p->will) {
        if (level == MQ_PROTO_V5 && (rc = cur_props(c, &p->will_props)) != MQ_OK)
            return rc;
        if ((rc = cur_str(c, &p->will_topic)) != MQ_OK)
            return rc;
        /* MQTT-3.1.3-10: UTF-8; a will topic is published, so it must be a
         * valid topic name (MQTT-3.3.2-2, MQTT-4.7.3-1). */
        if ((rc = mq__topic_name_check(p->will_topic.ptr, p->will_topic.len)) != MQ_OK)
            return rc;
        if ((rc = cur_str(c, &p->will_payload)) != MQ_OK)
            return rc;
    }
    if (p->has_username) {
        if ((rc = cur_str(c, &p->username)) != MQ_OK)
            return rc;
        if (mq__utf8_check(p->username.ptr, p->username.len) != MQ_OK)
            return MQ_EUTF8; /* MQTT-3.1.3-11 */
    }
    if (p->has_password && (rc = cur_str(c, &p->password)) != MQ_OK)
        return rc;
    if (cur_left(c) != 0)
        return MQ_EMALFORMED; /* nothing may follow the last field */
    if (level != MQ_PROTO_V5)
        return MQ_OK;
    if ((rc = mq_props_parse(p->props.ptr, p->props.len, MQ_PKT_CONNECT, props)) != MQ_OK)
        return rc;
    /* MQTT 5 3.1.2.11.10: Authentication Data needs an Authentication Method. */
    if (mq_props_has(props, MQ_PROP_AUTH_DATA) && !mq_props_has(props, MQ_PROP_AUTH_METHOD))
        return MQ_EPROTO;
    if (p->will)
        return mq_props_parse(p->will_props.ptr, p->will_props.len, MQ_PROPS_WILL,
                              will_props);
    return MQ_OK;
}

/* ---- CONNACK ------------------------------------------------------------ */

static int decode_connack(cur_t *c, bool v5, mq_connack_t *p)
{
    p->props.ptr = NULL;
    p->props.len = 0;
    if (!v5 && c->end != 2)
        return MQ_EMALFORMED;
    if (v5 && c->end < 3)
        return MQ_EMALFORMED; /* MQTT 5 section 3.2.2: properties are required */
    uint8_t af = c->b[0];
    if (af & 0xfe)
        return MQ_EMALFORMED; /* MQTT-3.2.2-1 (3.1.1 numbering): bits 7-1 reserved */
    p->session_present = (af & 1) != 0;
    p->rc = c->b[1];
    if (p->rc != 0 && p->session_present)
        return MQ_EPROTO; /* MQTT-3.2.2-4 */
    if (v5) {
        c->pos = 2;
        int rc = cur_props(c, &p->props);
        if (rc != MQ_OK)
            return rc;
        if (cur_left(c) != 0)
            return MQ_EMALFORMED;
    }
    return MQ_OK;
}

/* ---- PUBLISH (hot) ------------------------------------------------------ */

static inline int decode_publish(const mq_fixed_header_t *fh, const uint8_t *b, bool v5,
                                 mq_publish_t *p, mq_props_t *props)
{
    const uint8_t f = fh->flags;
    const uint32_t rem = fh->remaining;
    const uint8_t qos = (uint8_t)((f >> 1) & 3);
    if (qos == 3)
        return MQ_EMALFORMED; /* MQTT-3.3.1-4 */
    if ((f & 0x08) && qos == 0)
        return MQ_EMALFORMED; /* MQTT-3.3.1-2 */
    p->qos = qos;
    p->dup = (f & 0x08) != 0;
    p->retain = (f & 0x01) != 0;

    if (rem < 2)
        return MQ_EMALFORMED;
    const uint32_t tlen = mq__rd16(b);
    uint32_t pos = 2 + tlen;
    if (pos > rem)
        return MQ_EMALFORMED;
    p->topic.ptr = b + 2;
    p->topic.len = tlen;

    p->packet_id = 0;
    if (qos) {
        if (rem - pos < 2)
            return MQ_EMALFORMED;
        p->packet_id = mq__rd16(b + pos);
        if (p->packet_id == 0)
            return MQ_EPROTO; /* MQTT-2.3.1-1 */
        pos += 2;
    }

    p->props.ptr = NULL;
    p->props.len = 0;
    if (v5) {
        cur_t c = {b, pos, rem};
        int rc = cur_props(&c, &p->props);
        if (rc != MQ_OK)
            return rc;
        pos = c.pos;
        rc = mq_props_parse(p->props.ptr, p->props.len, MQ_PKT_PUBLISH, props);
        if (rc != MQ_OK)
            return rc;
    }
    p->payload.ptr = b + pos; /* rem >= 2 here, so b is a real buffer */
    p->payload.len = rem - pos;

    /* MQTT 5 3.3.2.1: an empty topic name stands for the one a Topic Alias
     * refers to; without the alias it is a protocol error. The alias range
     * is the broker's check. */
    if (v5 && tlen == 0)
        return mq_props_has(props, MQ_PROP_TOPIC_ALIAS) ? MQ_OK : MQ_EPROTO;
    return mq__topic_name_check(b + 2, tlen);
}

/* ---- PUBACK PUBREC PUBREL PUBCOMP, UNSUBACK (3.x) ------------------------ */

static inline int decode_ack(cur_t *c, bool v5, mq_ack_t *p)
{
    p->reason = 0;
    p->props.ptr = NULL;
    p->props.len = 0;
    if (!v5 && c->end != 2)
        return MQ_EMALFORMED;
    int rc = cur_pid(c, &p->packet_id);
    if (rc != MQ_OK)
        return rc;
    if (!v5)
        return MQ_OK;
    /* MQTT 5 section 3.4.2.1: the reason code and the properties may be left
     * out, in that order, when they would be 0 / empty. */
    if (cur_left(c) == 0)
        return MQ_OK;
    p->reason = c->b[c->pos++];
    if (cur_left(c) == 0)
        return MQ_OK;
    if ((rc = cur_props(c, &p->props)) != MQ_OK)
        return rc;
    return cur_left(c) == 0 ? MQ_OK : MQ_EMALFORMED;
}

/* ---- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------- */

static int decode_sub(cur_t *c, bool v5, bool with_options, mq_sublist_t *p)
{
    int rc;
    p->props.ptr = NULL;
    p->props.len = 0;
    p->count = 0;
    if ((rc = cur_pid(c, &p->packet_id)) != MQ_OK)
        return rc;
    if (v5 && (rc = cur_props(c, &p->props)) != MQ_OK)
        return rc;
    p->list = c->b + c->pos; /* pos >= 2, so b is a real buffer */
    p->list_len = cur_left(c);
    uint32_t n = 0;
    while (cur_left(c) != 0) {
        mq_str_t f;
        if ((rc = cur_str(c, &f)) != MQ_OK)
            return rc;
        /* MQTT-4.7.1-2/3, MQTT-4.7.3-1, MQTT-1.5.3-1/2 */
        if ((rc = mq__topic_filter_check(f.ptr, f.len)) != MQ_OK)
            return rc;
        /* MQTT-4.8.2-1/2: "$share/{ShareName}/{filter}". Checked for 3.1.1
         * clients as well, since the broker offers them shared subscriptions. */
        const int shared = mq__topic_shared_check(f.ptr, f.len);
        if (shared < 0)
            return shared;
        if (with_options) {
            uint8_t o;
            if ((rc = cur_u8(c, &o)) != MQ_OK)
                return rc;
            if (!v5) {
                /* MQTT-3.8.3-4 (3.1.1): upper 6 bits reserved, QoS 0..2. */
                if ((o & 0xfc) || (o & 0x03) == 3)
                    return MQ_EMALFORMED;
            } else {
                if (o & 0xc0)
                    return MQ_EMALFORMED; /* MQTT-3.8.3-5: reserved bits */
                if ((o & 0x03) == 3 || ((o >> 4) & 3) == 3)
                    return MQ_EPROTO; /* MQTT 5 3.8.3.1: QoS 3, Retain Handling 3 */
                if (shared && (o & 0x04))
                    return MQ_EPROTO; /* MQTT-3.8.3-4: No Local on a shared subscription */
            }
        }
        n++;
    }
    if (n == 0)
        return MQ_EMALFORMED; /* MQTT-3.8.3-3, MQTT-3.10.3-2 */
    p->count = n;
    return MQ_OK;
}

/* ---- SUBACK / UNSUBACK (5) -------------------------------------------- */

static bool suback_code_ok(uint8_t code, bool v5)
{
    if (code <= 2 || code == MQ_SUBACK_FAILURE)
        return true; /* MQTT-3.9.3-2: other values are reserved */
    if (!v5)
        return false;
    switch (code) {
    case 0x83: case 0x87: case 0x8f: case 0x91: case 0x97: case 0x9e: case 0xa1: case 0xa2:
        return true;
    default:
        return false;
    }
}

static bool unsuback_code_ok(uint8_t code)
{
    switch (code) {
    case 0x00: case 0x11: case 0x80: case 0x83: case 0x87: case 0x8f: case 0x91:
        return true;
    default:
        return false;
    }
}

static int decode_reasons(cur_t *c, bool v5, bool unsuback, mq_sublist_t *p)
{
    int rc;
    p->props.ptr = NULL;
    p->props.len = 0;
    p->count = 0;
    if ((rc = cur_pid(c, &p->packet_id)) != MQ_OK)
        return rc;
    if (v5 && (rc = cur_props(c, &p->props)) != MQ_OK)
        return rc;
    p->list = c->b + c->pos;
    p->list_len = cur_left(c);
    if (p->list_len == 0)
        return MQ_EMALFORMED; /* one code per filter, and there is at least one */
    for (uint32_t i = 0; i < p->list_len; i++) {
        uint8_t code = p->list[i];
        if (unsuback ? !unsuback_code_ok(code) : !suback_code_ok(code, v5))
            return MQ_EMALFORMED;
    }
    p->count = p->list_len;
    return MQ_OK;
}

/* ---- DISCONNECT (5) / AUTH ---------------------------------------------- */

static int decode_disconnect(cur_t *c, bool v5, bool auth, mq_disconnect_t *p)
{
    p->reason = 0;
    p->props.ptr = NULL;
    p->props.len = 0;
    if (c->end == 0)
        return MQ_OK;
    if (!v5)
        return MQ_EMALFORMED; /* 3.x: remaining length is 0 */
    /* MQTT 5 3.14.2.1 / 3.14.2.2.1: a DISCONNECT may stop after any field.
     * 3.15.2.1: an AUTH leaves out both or neither. */
    p->reason = c->b[c->pos++];
    if (cur_left(c) == 0)
        return auth ? MQ_EMALFORMED : MQ_OK;
    int rc = cur_props(c, &p->props);
    if (rc != MQ_OK)
        return rc;
    return cur_left(c) == 0 ? MQ_OK : MQ_EMALFORMED;
}

/* ---- dispatch ------------------------------------------------------------ */

/* MQTT-2.2.2-1/2: the flags nibble of every packet but PUBLISH is fixed. */
static inline bool flags_ok(uint8_t type, uint8_t flags, uint8_t protocol_level)
{
    if (type != MQ_PKT_PUBREL && type != MQ_PKT_SUBSCRIBE && type != MQ_PKT_UNSUBSCRIBE)
        return flags == 0;
    if (flags == 0x2)
        return true; /* MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1 */
    /* MQTT 3.1 gave these three packets QoS 1 in the fixed header and had
     * the sender set DUP when it re-sent one (3.1 sections 2.1 "DUP", 3.6,
     * 3.8, 3.10; RETAIN "not used"): accept DUP there, and only there. */
    return protocol_level == MQ_PROTO_V31 && flags == 0xa;
}

/* Validates the property block of a decoded MQTT 5 packet (not CONNECT and
 * PUBLISH, which do it themselves because later checks depend on it). */
static int packet_props(uint8_t type, mq_packet_t *pkt)
{
    const mq_str_t *raw;
    switch (type) {
    case MQ_PKT_CONNACK:
        raw = &pkt->u.connack.props;
        break;
    case MQ_PKT_PUBACK:
    case MQ_PKT_PUBREC:
    case MQ_PKT_PUBREL:
    case MQ_PKT_PUBCOMP:
        raw = &pkt->u.ack.props;
        break;
    case MQ_PKT_SUBSCRIBE:
    case MQ_PKT_UNSUBSCRIBE:
    case MQ_PKT_SUBACK:
    case MQ_PKT_UNSUBACK:
        raw = &pkt->u.sub.props;
        break;
    case MQ_PKT_DISCONNECT:
    case MQ_PKT_AUTH:
        raw = &pkt->u.disconnect.props;
        break;
    default:
        return MQ_OK; /* PINGREQ, PINGRESP: no properties */
    }
    return mq_props_parse(raw->ptr, raw->len, type, &pkt->props);
}

static int decode_body(const mq_fixed_header_t *fh, const uint8_t *body, bool v5,
                       mq_packet_t *pkt)
{
    cur_t c = {body, 0, fh->remaining};
    switch (fh->type) {
    case MQ_PKT_PUBACK:
    case MQ_PKT_PUBREC:
    case MQ_PKT_PUBREL:
    case MQ_PKT_PUBCOMP:
        return decode_ack(&c, v5, &pkt->u.ack);
    case MQ_PKT_CONNECT:
        return decode_connect(&c, &pkt->u.connect, &pkt->props, &pkt->will_props);
    case MQ_PKT_CONNACK:
        return decode_connack(&c, v5, &pkt->u.connack);
    case MQ_PKT_SUBSCRIBE:
        return decode_sub(&c, v5, true, &pkt->u.sub);
    case MQ_PKT_UNSUBSCRIBE:
        return decode_sub(&c, v5, false, &pkt->u.sub);
    case MQ_PKT_SUBACK:
        return decode_reasons(&c, v5, false, &pkt->u.sub);
    case MQ_PKT_UNSUBACK:
        if (v5)
            return decode_reasons(&c, v5, true, &pkt->u.sub);
        return decode_ack(&c, false, &pkt->u.ack);
    case MQ_PKT_PINGREQ:
    case MQ_PKT_PINGRESP:
        return fh->remaining == 0 ? MQ_OK : MQ_EMALFORMED;
    case MQ_PKT_DISCONNECT:
        return decode_disconnect(&c, v5, false, &pkt->u.disconnect);
    case MQ_PKT_AUTH:
        if (!v5)
            return MQ_EMALFORMED; /* reserved before MQTT 5 */
        return decode_disconnect(&c, v5, true, &pkt->u.disconnect);
    default:
        return MQ_EMALFORMED; /* type 0 is reserved */
    }
}

int mq_codec_decode(const mq_fixed_header_t *fh, const uint8_t *body,
                    uint8_t protocol_level, mq_packet_t *pkt)
{
    const uint8_t type = fh->type;
    const bool v5 = protocol_level == MQ_PROTO_V5;
    pkt->fh = *fh;
    /* The header promises all-zero property views for 3.x and for packets
     * without properties; CONNECT and PUBLISH overwrite them at level 5. */
    memset(&pkt->props, 0, sizeof(pkt->props));
    memset(&pkt->will_props, 0, sizeof(pkt->will_props));

    if (type == MQ_PKT_PUBLISH)
        return decode_publish(fh, body, v5, &pkt->u.publish, &pkt->props);
    if (!flags_ok(type, fh->flags & 0x0f, protocol_level))
        return MQ_EMALFORMED;
    int rc = decode_body(fh, body, v5, pkt);
    if (rc != MQ_OK || !v5 || type == MQ_PKT_CONNECT)
        return rc; /* CONNECT carries its own level and parsed its blocks */
    return packet_props(type, pkt);
}

/* ---- list iteration -------------------------------------------------------- */

void mq_codec_filters_begin(const mq_sublist_t *s, bool with_options,
                            mq_sublist_iter_t *it)
{
    it->p = s->list;
    it->end = s->list ? s->list + s->list_len : s->list;
    it->with_options = with_options;
}

bool mq_codec_filters_next(mq_sublist_iter_t *it, mq_str_t *filter, uint8_t *options)
{
    /* The decoder validated the list, but stay in bounds on any input. */
    if (it->p == NULL || it->end - it->p < 2)
        return false;
    size_t left = (size_t)(it->end - it->p);
    uint32_t n = mq__rd16(it->p);
    size_t need = 2 + (size_t)n + (it->with_options ? 1 : 0);
    if (left < need)
        return false;
    filter->ptr = it->p + 2;
    filter->len = n;
    *options = it->with_options ? it->p[2 + n] : 0;
    it->p += need;
    return true;
}

int mq_codec_reasons_next(mq_sublist_iter_t *it)
{
    if (it->p == NULL || it->p >= it->end)
        return -1;
    return *it->p++;
}

/*
 * props — MQTT 5 property blocks: validation, iteration, writing.
 *
 * Owns: nothing. mq_props_parse fills a caller's mq_props_t whose strings
 * point into the caller's block; the writer appends into a caller buffer.
 * Never allocates, never makes a system call, never reads outside
 * raw[0..len) or writes outside buf[0..cap).
 *
 * The rules come from OASIS MQTT 5.0 section 2.2.2.2 (table 2-4: which
 * property may appear in which packet) and the per-packet property sections
 * 3.x (duplicates and value ranges). One table row per identifier holds its
 * wire type and the set of contexts that allow it.
 *
 * Error precedence does not depend on the order of the properties: a block
 * whose structure is broken is MQ_EMALFORMED even if an earlier property was
 * already a protocol error; otherwise invalid UTF-8 (a malformed packet,
 * MQTT-1.5.4-1) wins over MQ_EPROTO. So the parse finishes the walk after a
 * soft error and reports the strongest one.
 *
 * Hot path: mq_props_parse on every MQTT 5 PUBLISH (usually a handful of
 * bytes or an empty block): one table lookup per property, no allocation.
 */
#include <string.h>

#include "codec/wire.h"

enum kind { K_NONE = 0, K_BYTE, K_U16, K_U32, K_VARINT, K_STR, K_BIN, K_PAIR };

/* Context bits: bit ctx for a packet type, bit 0 (MQ_PROPS_WILL) for the
 * will properties. */
#define C(x) (1u << (x))
#define C_WILL C(MQ_PROPS_WILL)
#define C_ACKS (C(MQ_PKT_PUBACK) | C(MQ_PKT_PUBREC) | C(MQ_PKT_PUBREL) | C(MQ_PKT_PUBCOMP))
#define C_ALL_USER                                                                    \
    (C_WILL | C(MQ_PKT_CONNECT) | C(MQ_PKT_CONNACK) | C(MQ_PKT_PUBLISH) | C_ACKS |      \
     C(MQ_PKT_SUBSCRIBE) | C(MQ_PKT_SUBACK) | C(MQ_PKT_UNSUBSCRIBE) |                    \
     C(MQ_PKT_UNSUBACK) | C(MQ_PKT_DISCONNECT) | C(MQ_PKT_AUTH))

struct prop_spec {
    uint8_t kind;
    uint16_t ctx;
};

/* MQTT 5.0 table 2-4. Identifiers not listed are unknown (malformed). */
static const struct prop_spec g_spec[0x2b] = {
    [MQ_PROP_PAYLOAD_FORMAT] = {K_BYTE, C(MQ_PKT_PUBLISH) | C_WILL},
    [MQ_PROP_MESSAGE_EXPIRY] = {K_U32, C(MQ_PKT_PUBLISH) | C_WILL},
    [MQ_PROP_CONTENT_TYPE] = {K_STR, C(MQ_PKT_PUBLISH) | C_WILL},
    [MQ_PROP_RESPONSE_TOPIC] = {K_STR, C(MQ_PKT_PUBLISH) | C_WILL},
    [MQ_PROP_CORRELATION_DATA] = {K_BIN, C(MQ_PKT_PUBLISH) | C_WILL},
    [MQ_PROP_SUBSCRIPTION_ID] = {K_VARINT, C(MQ_PKT_PUBLISH) | C(MQ_PKT_SUBSCRIBE)},
    [MQ_PROP_SESSION_EXPIRY] = {K_U32, C(MQ_PKT_CONNECT) | C(MQ_PKT_CONNACK) |
                                           C(MQ_PKT_DISCONNECT)},
    [MQ_PROP_ASSIGNED_CLIENT_ID] = {K_STR, C(MQ_PKT_CONNACK)},
    [MQ_PROP_SERVER_KEEP_ALIVE] = {K_U16, C(MQ_PKT_CONNACK)},
    [MQ_PROP_AUTH_METHOD] = {K_STR, C(MQ_PKT_CONNECT) | C(MQ_PKT_CONNACK) | C(MQ_PKT_AUTH)},
    [MQ_PROP_AUTH_DATA] = {K_BIN, C(MQ_PKT_CONNECT) | C(MQ_PKT_CONNACK) | C(MQ_PKT_AUTH)},
    [MQ_PROP_REQUEST_PROBLEM_INFO] = {K_BYTE, C(MQ_PKT_CONNECT)},
    [MQ_PROP_WILL_DELAY] = {K_U32, C_WILL},
    [MQ_PROP_REQUEST_RESPONSE_INFO] = {K_BYTE, C(MQ_PKT_CONNECT)},
    [MQ_PROP_RESPONSE_INFO] = {K_STR, C(MQ_PKT_CONNACK)},
    [MQ_PROP_SERVER_REFERENCE] = {K_STR, C(MQ_PKT_CONNACK) | C(MQ_PKT_DISCONNECT)},
    [MQ_PROP_REASON_STRING] = {K_STR, C(MQ_PKT_CONNACK) | C_ACKS | C(MQ_PKT_SUBACK) |
                                          C(MQ_PKT_UNSUBACK) | C(MQ_PKT_DISCONNECT) |
                                          C(MQ_PKT_AUTH)},
    [MQ_PROP_RECEIVE_MAXIMUM] = {K_U16, C(MQ_PKT_CONNECT) | C(MQ_PKT_CONNACK)},
    [MQ_PROP_TOPIC_ALIAS_MAXIMUM] = {K_U16, C(MQ_PKT_CONNECT) | C(MQ_PKT_CONNACK)},
    [MQ_PROP_TOPIC_ALIAS] = {K_U16, C(MQ_PKT_PUBLISH)},
    [MQ_PROP_MAXIMUM_QOS] = {K_BYTE, C(MQ_PKT_CONNACK)},
    [MQ_PROP_RETAIN_AVAILABLE] = {K_BYTE, C(MQ_PKT_CONNACK)},
    [MQ_PROP_USER_PROPERTY] = {K_PAIR, C_ALL_USER},
    [MQ_PROP_MAXIMUM_PACKET_SIZE] = {K_U32, C(MQ_PKT_CONNECT) | C(MQ_PKT_CONNACK)},
    [MQ_PROP_WILDCARD_SUB_AVAILABLE] = {K_BYTE, C(MQ_PKT_CONNACK)},
    [MQ_PROP_SUB_ID_AVAILABLE] = {K_BYTE, C(MQ_PKT_CONNACK)},
    [MQ_PROP_SHARED_SUB_AVAILABLE] = {K_BYTE, C(MQ_PKT_CONNACK)},
};

static inline uint8_t kind_of(uint8_t id)
{
    return id < sizeof(g_spec) / sizeof(g_spec[0]) ? g_spec[id].kind : K_NONE;
}

/* One property value, decoded structurally (no semantic checks). */
typedef struct pval {
    uint32_t num;
    mq_str_t a, b;
} pval_t;

static inline int rd_str(const uint8_t *p, uint32_t len, uint32_t *pos, mq_str_t *s)
{
    if (len - *pos < 2)
        return MQ_EMALFORMED;
    uint32_t n = mq__rd16(p + *pos);
    if (len - *pos - 2 < n)
        return MQ_EMALFORMED;
    s->ptr = p + *pos + 2;
    s->len = n;
    *pos += 2 + n;
    return MQ_OK;
}

/* Reads the value of a property of kind k at p[*pos..len). */
static int rd_value(const uint8_t *p, uint32_t len, uint32_t *pos, uint8_t k, pval_t *v)
{
    uint32_t left = len - *pos;
    const uint8_t *q = p + *pos;
    switch (k) {
    case K_BYTE:
        if (left < 1)
            return MQ_EMALFORMED;
        v->num = q[0];
        *pos += 1;
        return MQ_OK;
    case K_U16:
        if (left < 2)
            return MQ_EMALFORMED;
        v->num = mq__rd16(q);
        *pos += 2;
        return MQ_OK;
    case K_U32:
        if (left < 4)
            return MQ_EMALFORMED;
        v->num = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
        *pos += 4;
        return MQ_OK;
    case K_VARINT: {
        /* MQTT 5 section 1.5.5: at most 4 bytes; a cut one is malformed too. */
        uint32_t used;
        if (mq__varint_read(q, left, &v->num, &used) != MQ_OK)
            return MQ_EMALFORMED;
        *pos += used;
        return MQ_OK;
    }
    case K_STR:
    case K_BIN:
        return rd_str(p, len, pos, &v->a);
    case K_PAIR: {
        int rc = rd_str(p, len, pos, &v->a);
        return rc != MQ_OK ? rc : rd_str(p, len, pos, &v->b);
    }
    default:
        return MQ_EMALFORMED; /* MQTT 5 section 2.2.2.2: unknown identifier */
    }
}

/* The semantic rules of one property: MQ_OK, MQ_EUTF8 or MQ_EPROTO. */
static int check_value(uint8_t id, uint8_t k, const pval_t *v)
{
    switch (k) {
    case K_BYTE:
        /* Every byte property of MQTT 5 is a 0/1 switch (3.1.2.11.6/7,
         * 3.2.2.3.4/5/11/12/13, 3.3.2.3.2): other values are protocol errors. */
        return v->num <= 1 ? MQ_OK : MQ_EPROTO;
    case K_U16:
        /* 3.1.2.11.3 / 3.2.2.3.3 receive maximum. (Topic Alias 0 is left to
         * the broker: 3.3.2.3.4 answers it with 0x94, not 0x82.) */
        if (v->num == 0 && id == MQ_PROP_RECEIVE_MAXIMUM)
            return MQ_EPROTO;
        return MQ_OK;
    case K_U32:
        /* 3.1.2.11.4 / 3.2.2.3.6: maximum packet size 0 is a protocol error. */
        return (v->num == 0 && id == MQ_PROP_MAXIMUM_PACKET_SIZE) ? MQ_EPROTO : MQ_OK;
    case K_VARINT:
        /* 3.3.2.3.8 / 3.8.2.1.2: subscription identifier 1..268435455; the
         * upper bound is implied by the 4-byte varint. */
        return v->num == 0 ? MQ_EPROTO : MQ_OK;
    case K_STR:
        if (mq__utf8_check(v->a.ptr, v->a.len) != MQ_OK)
            return MQ_EUTF8; /* MQTT-1.5.4-1/2 */
        if (id == MQ_PROP_RESPONSE_TOPIC) {
            /* MQTT-3.3.2-14 / 3.1.3.2.5: a topic name, no wildcards, not empty
             * (MQTT-4.7.3-1). UTF-8 was checked, so this is a protocol error. */
            return mq__topic_name_check(v->a.ptr, v->a.len) == MQ_OK ? MQ_OK : MQ_EPROTO;
        }
        return MQ_OK;
    case K_PAIR:
        /* MQTT-1.5.7-1: both halves are UTF-8 strings. */
        if (mq__utf8_check(v->a.ptr, v->a.len) != MQ_OK ||
            mq__utf8_check(v->b.ptr, v->b.len) != MQ_OK)
            return MQ_EUTF8;
        return MQ_OK;
    default:
        return MQ_OK; /* binary data: any bytes */
    }
}

static void store(mq_props_t *o, uint8_t id, const pval_t *v)
{
    switch (id) {
    case MQ_PROP_PAYLOAD_FORMAT: o->payload_format = (uint8_t)v->num; break;
    case MQ_PROP_MESSAGE_EXPIRY: o->message_expiry = v->num; break;
    case MQ_PROP_CONTENT_TYPE: o->content_type = v->a; break;
    case MQ_PROP_RESPONSE_TOPIC: o->response_topic = v->a; break;
    case MQ_PROP_CORRELATION_DATA: o->correlation_data = v->a; break;
    case MQ_PROP_SUBSCRIPTION_ID:
        if (o->n_subscription_ids++ == 0)
            o->subscription_id = v->num;
        break;
    case MQ_PROP_SESSION_EXPIRY: o->session_expiry = v->num; break;
    case MQ_PROP_ASSIGNED_CLIENT_ID: o->assigned_client_id = v->a; break;
    case MQ_PROP_SERVER_KEEP_ALIVE: o->server_keep_alive = (uint16_t)v->num; break;
    case MQ_PROP_AUTH_METHOD: o->auth_method = v->a; break;
    case MQ_PROP_AUTH_DATA: o->auth_data = v->a; break;
    case MQ_PROP_REQUEST_PROBLEM_INFO: o->request_problem_info = (uint8_t)v->num; break;
    case MQ_PROP_WILL_DELAY: o->will_delay = v->num; break;
    case MQ_PROP_REQUEST_RESPONSE_INFO: o->request_response_info = (uint8_t)v->num; break;
    case MQ_PROP_RESPONSE_INFO: o->response_info = v->a; break;
    case MQ_PROP_SERVER_REFERENCE: o->server_reference = v->a; break;
    case MQ_PROP_REASON_STRING: o->reason_string = v->a; break;
    case MQ_PROP_RECEIVE_MAXIMUM: o->receive_maximum = (uint16_t)v->num; break;
    case MQ_PROP_TOPIC_ALIAS_MAXIMUM: o->topic_alias_maximum = (uint16_t)v->num; break;
    case MQ_PROP_TOPIC_ALIAS: o->topic_alias = (uint16_t)v->num; break;
    case MQ_PROP_MAXIMUM_QOS: o->maximum_qos = (uint8_t)v->num; break;
    case MQ_PROP_RETAIN_AVAILABLE: o->retain_available = (uint8_t)v->num; break;
    case MQ_PROP_USER_PROPERTY: o->n_user_props++; break;
    case MQ_PROP_MAXIMUM_PACKET_SIZE: o->maximum_packet_size = v->num; break;
    case MQ_PROP_WILDCARD_SUB_AVAILABLE: o->wildcard_sub_available = (uint8_t)v->num; break;
    case MQ_PROP_SUB_ID_AVAILABLE: o->sub_id_available = (uint8_t)v->num; break;
    case MQ_PROP_SHARED_SUB_AVAILABLE: o->shared_sub_available = (uint8_t)v->num; break;
    default: break;
    }
}

int mq_props_parse(const uint8_t *raw, uint32_t len, int ctx, mq_props_t *out)
{
    memset(out, 0, sizeof(*out));
    if (ctx < 0 || ctx > MQ_PKT_AUTH || (len != 0 && raw == NULL))
        return MQ_EINVAL;
    out->raw.ptr = raw;
    out->raw.len = len;
    const uint16_t allowed = (uint16_t)C(ctx);
    int soft = MQ_OK; /* first EPROTO, or EUTF8 which outranks it */
    uint32_t pos = 0;
    while (pos < len) {
        /* The identifier is a varint in form, but every MQTT 5 identifier
         * fits in one byte, so a byte >= 0x80 is an unknown identifier. */
        const uint8_t id = raw[pos++];
        const uint8_t k = kind_of(id);
        pval_t v = {0, {NULL, 0}, {NULL, 0}};
        if (rd_value(raw, len, &pos, k, &v) != MQ_OK) {
            memset(out, 0, sizeof(*out));
            out->raw.ptr = raw;
            out->raw.len = len;
            return MQ_EMALFORMED;
        }
        if (soft == MQ_EUTF8)
            continue; /* nothing can outrank it but a structural error */
        /* The value rules run even where the property is not allowed, so
         * that bad UTF-8 is reported the same in every context. */
        int rc = check_value(id, k, &v);
        if (rc != MQ_EUTF8) {
            if (!(g_spec[id].ctx & allowed)) {
                /* MQTT 5 section 2.2.2.2: "a Control Packet which contains an
                 * Identifier which is not valid for its packet type ... is a
                 * Malformed Packet". */
                rc = MQ_EMALFORMED;
            } else if (mq_props_has(out, id) && id != MQ_PROP_USER_PROPERTY &&
                       !(id == MQ_PROP_SUBSCRIPTION_ID && ctx == MQ_PKT_PUBLISH)) {
                /* "It is a Protocol Error to include X more than once" (each
                 * property's section); MQTT 5 3.3.4: a PUBLISH to a client
                 * carries one subscription identifier per matching
                 * subscription; 3.8.2.1.2: at most one in SUBSCRIBE. */
                rc = MQ_EPROTO;
            }
        }
        if (rc == MQ_OK) {
            out->has |= (uint64_t)1 << id;
            store(out, id, &v);
        } else if (soft == MQ_OK || rc == MQ_EUTF8 ||
                   (rc == MQ_EMALFORMED && soft == MQ_EPROTO)) {
            soft = rc; /* malformed and bad UTF-8 outrank a protocol error */
        }
    }
    if (soft != MQ_OK) {
        memset(out, 0, sizeof(*out));
        out->raw.ptr = raw;
        out->raw.len = len;
    }
    return soft;
}

void mq_props_begin(const mq_props_t *props, mq_props_iter_t *it)
{
    it->p = props->raw.ptr;
    it->end = props->raw.ptr ? props->raw.ptr + props->raw.len : NULL;
}

bool mq_props_next(mq_props_iter_t *it, uint8_t *id, uint32_t *num, mq_str_t *a, mq_str_t *b)
{
    if (it->p == NULL || it->p >= it->end)
        return false;
    /* Bounds-checked even though the block was validated: a caller may walk
     * an iterator set up over anything. */
    const uint32_t len = (uint32_t)(it->end - it->p);
    uint32_t pos = 1;
    const uint8_t pid = it->p[0];
    pval_t v = {0, {NULL, 0}, {NULL, 0}};
    if (rd_value(it->p, len, &pos, kind_of(pid), &v) != MQ_OK) {
        it->p = it->end;
        return false;
    }
    it->p += pos;
    if (id)
        *id = pid;
    if (num)
        *num = v.num;
    if (a)
        *a = v.a;
    if (b)
        *b = v.b;
    return true;
}

/* ---- writer ------------------------------------------------------------- */

/*
 * Appends n bytes. Past cap nothing is written but len still grows, so one
 * pass sizes the block. len saturates at SIZE_MAX, which also marks a
 * writer that was given a value the wire cannot carry: such a block can
 * never fit any buffer.
 */
static void w_bytes(mq_props_writer_t *w, const void *s, size_t n)
{
    if (w->len > SIZE_MAX - n) {
        w->len = SIZE_MAX;
        return;
    }
    if (w->len <= w->cap && n <= w->cap - w->len && n != 0)
        memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void w_fail(mq_props_writer_t *w)
{
    w->len = SIZE_MAX;
}

void mq_props_put_byte(mq_props_writer_t *w, uint8_t id, uint8_t v)
{
    const uint8_t b[2] = {id, v};
    w_bytes(w, b, 2);
}

void mq_props_put_u16(mq_props_writer_t *w, uint8_t id, uint16_t v)
{
    const uint8_t b[3] = {id, (uint8_t)(v >> 8), (uint8_t)v};
    w_bytes(w, b, 3);
}

void mq_props_put_u32(mq_props_writer_t *w, uint8_t id, uint32_t v)
{
    const uint8_t b[5] = {id, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                          (uint8_t)v};
    w_bytes(w, b, 5);
}

void mq_props_put_varint(mq_props_writer_t *w, uint8_t id, uint32_t v)
{
    if (v > MQ_MAX_REMAINING_LENGTH) {
        w_fail(w); /* does not fit 4 varint bytes (MQTT 5 section 1.5.5) */
        return;
    }
    uint8_t b[5];
    b[0] = id;
    int n = mq_codec_varint_write(b + 1, v);
    w_bytes(w, b, 1 + (size_t)n);
}

static void w_str(mq_props_writer_t *w, const void *s, size_t len)
{
    if (len > 65535u || (len != 0 && s == NULL)) {
        w_fail(w); /* MQTT 5 section 1.5.4/1.5.6: 16-bit length */
        return;
    }
    const uint8_t l[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    w_bytes(w, l, 2);
    w_bytes(w, s, len);
}

void mq_props_put_str(mq_props_writer_t *w, uint8_t id, const void *s, size_t len)
{
    w_bytes(w, &id, 1);
    w_str(w, s, len);
}

void mq_props_put_pair(mq_props_writer_t *w, const void *k, size_t klen, const void *v,
                       size_t vlen)
{
    const uint8_t id = MQ_PROP_USER_PROPERTY;
    w_bytes(w, &id, 1);
    w_str(w, k, klen);
    w_str(w, v, vlen);
}

void mq_props_put_raw(mq_props_writer_t *w, const void *bytes, size_t len)
{
    if (len != 0 && bytes == NULL) {
        w_fail(w);
        return;
    }
    w_bytes(w, bytes, len);
}

/*
 * fuzz_decode — libFuzzer driver for the MQTT packet codec.
 *
 * Input: byte 0 selects the protocol level (3, 4 or 5); the rest is a stream
 * of packets. Each packet's body is copied into an exact-size heap buffer so
 * that AddressSanitizer flags any read past it. For each packet that decodes:
 *  - every zero-copy field must lie inside the body;
 *  - list iterators must yield exactly `count` entries;
 *  - packets with an encoder are re-encoded, decoded again and compared
 *    field by field; when the re-encoding has the original's length (i.e.
 *    all of the original's varints were minimal) the bytes must be identical.
 * At level 5 the packet's parsed properties (pkt->props, pkt->will_props)
 * must describe exactly its raw property blocks, and every packet with a v5
 * encoder (CONNECT, CONNACK, PUBLISH, the acks, SUBACK, UNSUBACK,
 * DISCONNECT, AUTH) round-trips with its properties; at 3.x they are zero.
 * A CONNECT that decodes switches the stream to its protocol level.
 * Any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/codec.h"
#include "musqratt/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                          \
        }                                                                     \
    } while (0)

enum { MAX_FILTERS = 4096 };
static mq_str_t g_filters[MAX_FILTERS];
static uint8_t g_options[MAX_FILTERS];

static void check_inside(mq_str_t s, const uint8_t *body, uint32_t rem)
{
    if (s.ptr == NULL) {
        CHECK(s.len == 0);
        return;
    }
    CHECK(s.ptr >= body && s.len <= rem && (size_t)(s.ptr - body) <= rem - s.len);
}

static bool str_eq(mq_str_t a, mq_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool props_zero(const mq_props_t *p)
{
    static const mq_props_t zero;
    return memcmp(p, &zero, sizeof(zero)) == 0;
}

/* The parsed view must be the parse of exactly this raw block. */
static void check_props_view(const mq_props_t *view, mq_str_t raw, int ctx)
{
    CHECK(view->raw.len == raw.len);
    CHECK(raw.len == 0 || view->raw.ptr == raw.ptr);
    mq_props_t again;
    CHECK(mq_props_parse(raw.ptr, raw.len, ctx, &again) == MQ_OK);
    CHECK(again.has == view->has && again.n_user_props == view->n_user_props);
    CHECK(again.n_subscription_ids == view->n_subscription_ids);
    uint64_t seen = 0;
    mq_props_iter_t it;
    uint8_t id;
    uint32_t num;
    mq_str_t a, b;
    mq_props_begin(view, &it);
    while (mq_props_next(&it, &id, &num, &a, &b))
        seen |= (uint64_t)1 << id;
    CHECK(seen == view->has);
}

/* Decodes an encoder's output (which must be one whole, valid packet). */
static void redecode(const uint8_t *buf, int n, uint8_t level, mq_packet_t *out)
{
    mq_fixed_header_t fh;
    CHECK(n > 0);
    CHECK(mq_codec_fixed_header(buf, (size_t)n, 0, &fh) == MQ_OK);
    CHECK((size_t)fh.header_len + fh.remaining == (size_t)n);
    CHECK(fh.header_len == 1 + mq_codec_varint_size(fh.remaining)); /* minimal */
    int rc = mq_codec_decode(&fh, buf + fh.header_len, level, out);
    if (rc != MQ_OK) {
        fprintf(stderr, "re-decode failed: %s\n", mq_strerror(rc));
        abort();
    }
}

/* Same length implies the same bytes: the encoder's output is canonical.
 * The one exception: an MQTT 3.1 client's DUP bit on PUBREL, SUBSCRIBE or
 * UNSUBSCRIBE (accepted at level 3 only), which the encoders never write. */
static void same_if_same_len(const uint8_t *orig, size_t olen, const uint8_t *enc, int n)
{
    if ((size_t)n != olen)
        return;
    uint8_t first = orig[0];
    if (first == 0x6a || first == 0x8a || first == 0xaa)
        first &= (uint8_t)~0x08;
    CHECK(first == enc[0]);
    CHECK(memcmp(orig + 1, enc + 1, olen - 1) == 0);
}

static void check_publish(const mq_packet_t *p, const uint8_t *orig, size_t olen,
                          uint8_t level, uint8_t *out, size_t cap)
{
    const mq_publish_t *a = &p->u.publish;
    int n = mq_codec_encode_publish(out, cap, level, a);
    CHECK(n > 0 && (size_t)n <= cap);
    same_if_same_len(orig, olen, out, n);
    mq_packet_t q;
    redecode(out, n, level, &q);
    const mq_publish_t *b = &q.u.publish;
    CHECK(q.fh.type == MQ_PKT_PUBLISH);
    CHECK(a->qos == b->qos && a->dup == b->dup && a->retain == b->retain);
    CHECK(a->packet_id == b->packet_id);
    CHECK(str_eq(a->topic, b->topic));
    CHECK(str_eq(a->props, b->props));
    CHECK(str_eq(a->payload, b->payload));
    CHECK(q.props.has == p->props.has && q.props.topic_alias == p->props.topic_alias);
}

static void check_connect(const mq_packet_t *p, const uint8_t *orig, size_t olen,
                          uint8_t *out, size_t cap)
{
    const mq_connect_t *a = &p->u.connect;
    int n = mq_codec_encode_connect(out, cap, a);
    CHECK(n > 0 && (size_t)n <= cap);
    same_if_same_len(orig, olen, out, n);
    mq_packet_t q;
    redecode(out, n, 0, &q);
    const mq_connect_t *b = &q.u.connect;
    CHECK(str_eq(a->protocol_name, b->protocol_name));
    CHECK(a->protocol_level == b->protocol_level && a->clean == b->clean);
    CHECK(a->will == b->will && a->will_qos == b->will_qos && a->will_retain == b->will_retain);
    CHECK(a->has_username == b->has_username && a->has_password == b->has_password);
    CHECK(a->keepalive == b->keepalive);
    CHECK(str_eq(a->props, b->props) && str_eq(a->client_id, b->client_id));
    CHECK(str_eq(a->will_props, b->will_props) && str_eq(a->will_topic, b->will_topic));
    CHECK(str_eq(a->will_payload, b->will_payload));
    CHECK(str_eq(a->username, b->username) && str_eq(a->password, b->password));
    CHECK(q.props.has == p->props.has && q.will_props.has == p->will_props.has);
}

/* Walks a filter list, checks it against count, and copies it out. */
static size_t collect_filters(const mq_sublist_t *s, bool with_options, const uint8_t *body,
                              uint32_t rem, uint8_t level)
{
    mq_sublist_iter_t it;
    mq_str_t f;
    uint8_t o;
    size_t n = 0;
    mq_codec_filters_begin(s, with_options, &it);
    while (mq_codec_filters_next(&it, &f, &o)) {
        check_inside(f, body, rem);
        CHECK(mq_topic_filter_valid(f.ptr, f.len));
        CHECK((o & 3) != 3);
        mq_str_t g, inner;
        if (mq_topic_shared_split(f.ptr, f.len, &g, &inner)) {
            CHECK(g.len >= 1 && inner.len >= 1);
            CHECK(mq_topic_filter_valid(inner.ptr, inner.len));
            CHECK(level != MQ_PROTO_V5 || !(o & 0x04)); /* MQTT-3.8.3-4 */
        } else {
            CHECK(f.len < 7 || memcmp(f.ptr, "$share/", 7) != 0);
        }
        if (n < MAX_FILTERS) {
            g_filters[n] = f;
            g_options[n] = o;
        }
        n++;
    }
    CHECK(n == s->count);
    return n;
}

static void check_sub(const mq_packet_t *p, const uint8_t *body, const uint8_t *orig,
                      size_t olen, uint8_t level, uint8_t *out, size_t cap)
{
    const mq_sublist_t *a = &p->u.sub;
    const bool subscribe = p->fh.type == MQ_PKT_SUBSCRIBE;
    check_inside(a->props, body, p->fh.remaining);
    CHECK(a->list_len == 0 || (a->list >= body && a->list + a->list_len == body + p->fh.remaining));
    size_t n = collect_filters(a, subscribe, body, p->fh.remaining, level);
    CHECK(n >= 1);
    if (n > MAX_FILTERS || a->props.len != 0)
        return; /* the encoders write an empty property block */
    int len = subscribe
                  ? mq_codec_encode_subscribe(out, cap, level, a->packet_id, g_filters,
                                              g_options, n)
                  : mq_codec_encode_unsubscribe(out, cap, level, a->packet_id, g_filters, n);
    CHECK(len > 0 && (size_t)len <= cap);
    same_if_same_len(orig, olen, out, len);
    mq_packet_t q;
    redecode(out, len, level, &q);
    CHECK(q.fh.type == p->fh.type);
    CHECK(q.u.sub.packet_id == a->packet_id && q.u.sub.count == a->count);
    CHECK(q.u.sub.list_len == a->list_len);
    CHECK(memcmp(q.u.sub.list, a->list, a->list_len) == 0);
}

static void check_reasons(const mq_packet_t *p, const uint8_t *body, const uint8_t *orig,
                          size_t olen, uint8_t level, uint8_t *out, size_t cap)
{
    const mq_sublist_t *a = &p->u.sub;
    check_inside(a->props, body, p->fh.remaining);
    mq_sublist_iter_t it;
    mq_codec_filters_begin(a, false, &it);
    uint32_t n = 0;
    while (mq_codec_reasons_next(&it) >= 0)
        n++;
    CHECK(n == a->count && n == a->list_len && n >= 1);
    int len;
    if (level == MQ_PROTO_V5)
        len = mq_codec_encode_reasons5(out, cap, p->fh.type, a->packet_id, a->props.ptr,
                                       a->props.len, a->list, a->list_len);
    else if (p->fh.type == MQ_PKT_SUBACK)
        len = mq_codec_encode_suback(out, cap, level, a->packet_id, a->list, a->list_len);
    else
        return; /* a 3.x UNSUBACK is an ack */
    CHECK(len > 0 && (size_t)len <= cap);
    same_if_same_len(orig, olen, out, len);
    mq_packet_t q;
    redecode(out, len, level, &q);
    CHECK(q.fh.type == p->fh.type);
    CHECK(q.u.sub.packet_id == a->packet_id && q.u.sub.list_len == a->list_len);
    CHECK(memcmp(q.u.sub.list, a->list, a->list_len) == 0);
    CHECK(str_eq(q.u.sub.props, a->props) && q.props.has == p->props.has);
}

static void check_ack(const mq_packet_t *p, const uint8_t *body, const uint8_t *orig,
                      size_t olen, uint8_t level, uint8_t *out, size_t cap)
{
    const mq_ack_t *a = &p->u.ack;
    check_inside(a->props, body, p->fh.remaining);
    CHECK(a->packet_id != 0);
    int n;
    if (level == MQ_PROTO_V5) {
        n = mq_codec_encode_ack5(out, cap, p->fh.type, a->packet_id, a->reason, a->props.ptr,
                                 a->props.len);
    } else {
        CHECK(a->reason == 0 && a->props.ptr == NULL);
        n = mq_codec_encode_ack(out, cap, p->fh.type, a->packet_id);
    }
    CHECK(n > 0 && (size_t)n <= cap);
    same_if_same_len(orig, olen, out, n);
    mq_packet_t q;
    redecode(out, n, level, &q);
    CHECK(q.fh.type == p->fh.type && q.u.ack.packet_id == a->packet_id);
    CHECK(q.u.ack.reason == a->reason);
    CHECK(str_eq(q.u.ack.props, a->props) && q.props.has == p->props.has);
}

static void check_disconnect(const mq_packet_t *p, const uint8_t *body, const uint8_t *orig,
                             size_t olen, uint8_t level, uint8_t *out, size_t cap)
{
    const mq_disconnect_t *a = &p->u.disconnect;
    check_inside(a->props, body, p->fh.remaining);
    int n;
    if (level == MQ_PROTO_V5) {
        n = mq_codec_encode_disconnect5(out, cap, p->fh.type, a->reason, a->props.ptr,
                                        a->props.len);
    } else {
        CHECK(p->fh.type == MQ_PKT_DISCONNECT && p->fh.remaining == 0);
        n = mq_codec_encode_empty(out, cap, p->fh.type);
    }
    CHECK(n > 0 && (size_t)n <= cap);
    same_if_same_len(orig, olen, out, n);
    mq_packet_t q;
    redecode(out, n, level, &q);
    CHECK(q.fh.type == p->fh.type && q.u.disconnect.reason == a->reason);
    CHECK(str_eq(q.u.disconnect.props, a->props) && q.props.has == p->props.has);
}

static void check_packet(const mq_packet_t *p, const uint8_t *body, const uint8_t *orig,
                         size_t olen, uint8_t level)
{
    static uint8_t out[70000];
    const uint32_t rem = p->fh.remaining;
    uint8_t *big = NULL;
    uint8_t *buf = out;
    size_t cap = sizeof(out);
    if (olen + 16 > cap) {
        cap = olen + 16;
        big = malloc(cap);
        CHECK(big != NULL);
        buf = big;
    }
    switch (p->fh.type) {
    case MQ_PKT_CONNECT: {
        const mq_connect_t *c = &p->u.connect;
        check_inside(c->protocol_name, body, rem);
        check_inside(c->props, body, rem);
        check_inside(c->client_id, body, rem);
        check_inside(c->will_props, body, rem);
        check_inside(c->will_topic, body, rem);
        check_inside(c->will_payload, body, rem);
        check_inside(c->username, body, rem);
        check_inside(c->password, body, rem);
        CHECK(mq_utf8_valid(c->client_id.ptr, c->client_id.len));
        CHECK(!c->will || mq_topic_name_valid(c->will_topic.ptr, c->will_topic.len));
        check_connect(p, orig, olen, buf, cap);
        break;
    }
    case MQ_PKT_CONNACK: {
        const mq_connack_t *a = &p->u.connack;
        check_inside(a->props, body, rem);
        int n = level == MQ_PROTO_V5
                    ? mq_codec_encode_connack5(buf, cap, a->session_present, a->rc,
                                               a->props.ptr, a->props.len)
                    : mq_codec_encode_connack(buf, cap, level, a->session_present, a->rc);
        CHECK(n > 0 && (size_t)n <= cap);
        same_if_same_len(orig, olen, buf, n);
        mq_packet_t q;
        redecode(buf, n, level, &q);
        CHECK(q.u.connack.session_present == a->session_present);
        CHECK(q.u.connack.rc == a->rc && str_eq(q.u.connack.props, a->props));
        CHECK(q.props.has == p->props.has);
        break;
    }
    case MQ_PKT_PUBLISH:
        check_inside(p->u.publish.topic, body, rem);
        check_inside(p->u.publish.props, body, rem);
        check_inside(p->u.publish.payload, body, rem);
        CHECK(p->u.publish.topic.len == 0 ||
              mq_topic_name_valid(p->u.publish.topic.ptr, p->u.publish.topic.len));
        check_publish(p, orig, olen, level, buf, cap);
        break;
    case MQ_PKT_UNSUBACK:
        if (level == MQ_PROTO_V5)
            check_reasons(p, body, orig, olen, level, buf, cap);
        else
            check_ack(p, body, orig, olen, level, buf, cap); /* a 3.x UNSUBACK is an ack */
        break;
    case MQ_PKT_PUBACK:
    case MQ_PKT_PUBREC:
    case MQ_PKT_PUBREL:
    case MQ_PKT_PUBCOMP:
        check_ack(p, body, orig, olen, level, buf, cap);
        break;
    case MQ_PKT_SUBSCRIBE:
    case MQ_PKT_UNSUBSCRIBE:
        check_sub(p, body, orig, olen, level, buf, cap);
        break;
    case MQ_PKT_SUBACK:
        check_reasons(p, body, orig, olen, level, buf, cap);
        break;
    case MQ_PKT_DISCONNECT:
    case MQ_PKT_AUTH:
        CHECK(p->fh.type != MQ_PKT_AUTH || level == MQ_PROTO_V5);
        check_disconnect(p, body, orig, olen, level, buf, cap);
        break;
    case MQ_PKT_PINGREQ:
    case MQ_PKT_PINGRESP: {
        CHECK(rem == 0);
        int n = mq_codec_encode_empty(buf, cap, p->fh.type);
        same_if_same_len(orig, olen, buf, n);
        mq_packet_t q;
        redecode(buf, n, level, &q);
        CHECK(q.fh.type == p->fh.type);
        break;
    }
    default:
        CHECK(0 && "decoder accepted an unknown packet type");
    }
    free(big);
}

/* pkt->props / pkt->will_props against the packet's raw blocks. */
static void check_views(const mq_packet_t *p, uint8_t level)
{
    const uint8_t t = p->fh.type;
    if (t == MQ_PKT_CONNECT)
        level = p->u.connect.protocol_level;
    if (level != MQ_PROTO_V5 || t == MQ_PKT_PINGREQ || t == MQ_PKT_PINGRESP) {
        CHECK(props_zero(&p->props) && props_zero(&p->will_props));
        return;
    }
    mq_str_t raw;
    switch (t) {
    case MQ_PKT_CONNECT:
        raw = p->u.connect.props;
        if (p->u.connect.will)
            check_props_view(&p->will_props, p->u.connect.will_props, MQ_PROPS_WILL);
        else
            CHECK(props_zero(&p->will_props));
        /* MQTT 5 3.1.2.11.10 */
        CHECK(!mq_props_has(&p->props, MQ_PROP_AUTH_DATA) ||
              mq_props_has(&p->props, MQ_PROP_AUTH_METHOD));
        break;
    case MQ_PKT_CONNACK: raw = p->u.connack.props; break;
    case MQ_PKT_PUBLISH:
        raw = p->u.publish.props;
        CHECK(p->u.publish.topic.len != 0 || mq_props_has(&p->props, MQ_PROP_TOPIC_ALIAS));
        break;
    case MQ_PKT_SUBSCRIBE:
    case MQ_PKT_UNSUBSCRIBE:
    case MQ_PKT_SUBACK:
    case MQ_PKT_UNSUBACK: raw = p->u.sub.props; break;
    case MQ_PKT_DISCONNECT:
    case MQ_PKT_AUTH: raw = p->u.disconnect.props; break;
    default: raw = p->u.ack.props; break;
    }
    if (t != MQ_PKT_CONNECT)
        CHECK(props_zero(&p->will_props));
    check_props_view(&p->props, raw, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t level = (uint8_t)(MQ_PROTO_V31 + data[0] % 3);
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    while (left > 0) {
        mq_fixed_header_t fh;
        if (mq_codec_fixed_header(p, left, 0, &fh) != MQ_OK)
            break;
        CHECK(fh.header_len >= 2 && fh.header_len <= 5 && fh.header_len <= left);
        size_t total = (size_t)fh.header_len + fh.remaining;
        if (total > left)
            break;
        /* A private exact-size copy: reading past the packet is caught. */
        uint8_t *body = malloc(fh.remaining ? fh.remaining : 1);
        CHECK(body != NULL);
        memcpy(body, p + fh.header_len, fh.remaining);
        mq_packet_t pkt;
        int rc = mq_codec_decode(&fh, fh.remaining ? body : NULL, level, &pkt);
        CHECK(rc <= 0);
        if (rc == MQ_OK) {
            CHECK(pkt.fh.type == fh.type && pkt.fh.remaining == fh.remaining);
            check_views(&pkt, level);
            check_packet(&pkt, body, p, total, level);
            if (fh.type == MQ_PKT_CONNECT)
                level = pkt.u.connect.protocol_level;
        }
        free(body);
        p += total;
        left -= total;
    }
    return 0;
}

/*
 * fuzz_props — libFuzzer driver for MQTT 5 property blocks (props.c).
 *
 * Input: one raw property block (without its length), copied into an
 * exact-size heap buffer so that AddressSanitizer flags any read past it.
 * For every context (MQ_PROPS_WILL and the packet types 1..15):
 *  - the result is one of the documented codes; a structural error
 *    (MQ_EMALFORMED) and bad UTF-8 (MQ_EUTF8) do not depend on the context;
 *  - an accepted block is walked with the iterator: every value lies inside
 *    the block, every identifier is in `has`, the counts match;
 *  - every property is written again with the writer, the result parsed in
 *    the same context and compared property by property and field by field;
 *    when the lengths match (all varints were minimal) the bytes must too;
 *  - the writer is run again into a buffer half the size, exactly allocated,
 *    and must have written the same prefix and counted the same length.
 * Any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/codec.h"
#include "musqratt/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                     \
        }                                                                                \
    } while (0)

enum { BYTE = 1, U16, U32, VARINT, STR, PAIR };

/* Wire type by identifier, from MQTT 5.0 table 2-4 (0: unknown). */
static int kind_of(uint8_t id)
{
    switch (id) {
    case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2a:
        return BYTE;
    case 0x13: case 0x21: case 0x22: case 0x23:
        return U16;
    case 0x02: case 0x11: case 0x18: case 0x27:
        return U32;
    case 0x0b:
        return VARINT;
    case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1a: case 0x1c:
    case 0x1f:
        return STR;
    case 0x26:
        return PAIR;
    default:
        return 0;
    }
}

static bool str_eq(mq_str_t a, mq_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void check_inside(mq_str_t s, const uint8_t *raw, uint32_t len)
{
    if (s.ptr == NULL) {
        CHECK(s.len == 0);
        return;
    }
    CHECK(s.ptr >= raw && s.len <= len && (size_t)(s.ptr - raw) <= len - s.len);
}

/* Writes every property of an accepted block again. */
static void rewrite(const mq_props_t *p, mq_props_writer_t *w)
{
    mq_props_iter_t it;
    uint8_t id;
    uint32_t num;
    mq_str_t a, b;
    mq_props_begin(p, &it);
    while (mq_props_next(&it, &id, &num, &a, &b)) {
        switch (kind_of(id)) {
        case BYTE: mq_props_put_byte(w, id, (uint8_t)num); break;
        case U16: mq_props_put_u16(w, id, (uint16_t)num); break;
        case U32: mq_props_put_u32(w, id, num); break;
        case VARINT: mq_props_put_varint(w, id, num); break;
        case STR: mq_props_put_str(w, id, a.ptr, a.len); break;
        case PAIR: mq_props_put_pair(w, a.ptr, a.len, b.ptr, b.len); break;
        default: CHECK(0 && "iterator returned an unknown identifier");
        }
    }
}

static void same_fields(const mq_props_t *x, const mq_props_t *y)
{
    CHECK(x->has == y->has);
    CHECK(x->payload_format == y->payload_format && x->message_expiry == y->message_expiry);
    CHECK(str_eq(x->content_type, y->content_type));
    CHECK(str_eq(x->response_topic, y->response_topic));
    CHECK(str_eq(x->correlation_data, y->correlation_data));
    CHECK(x->subscription_id == y->subscription_id);
    CHECK(x->n_subscription_ids == y->n_subscription_ids);
    CHECK(x->session_expiry == y->session_expiry);
    CHECK(str_eq(x->assigned_client_id, y->assigned_client_id));
    CHECK(x->server_keep_alive == y->server_keep_alive);
    CHECK(str_eq(x->auth_method, y->auth_method) && str_eq(x->auth_data, y->auth_data));
    CHECK(x->request_problem_info == y->request_problem_info);
    CHECK(x->will_delay == y->will_delay);
    CHECK(x->request_response_info == y->request_response_info);
    CHECK(str_eq(x->response_info, y->response_info));
    CHECK(str_eq(x->server_reference, y->server_reference));
    CHECK(str_eq(x->reason_string, y->reason_string));
    CHECK(x->receive_maximum == y->receive_maximum);
    CHECK(x->topic_alias_maximum == y->topic_alias_maximum);
    CHECK(x->topic_alias == y->topic_alias && x->maximum_qos == y->maximum_qos);
    CHECK(x->retain_available == y->retain_available && x->n_user_props == y->n_user_props);
    CHECK(x->maximum_packet_size == y->maximum_packet_size);
    CHECK(x->wildcard_sub_available == y->wildcard_sub_available);
    CHECK(x->sub_id_available == y->sub_id_available);
    CHECK(x->shared_sub_available == y->shared_sub_available);
}

static void check_accepted(const mq_props_t *p, const uint8_t *raw, uint32_t len, int ctx)
{
    CHECK(p->raw.len == len && (len == 0 || p->raw.ptr == raw));
    /* Walk: in bounds, known, flagged, counted. */
    mq_props_iter_t it;
    uint8_t id;
    uint32_t num, users = 0, subids = 0;
    mq_str_t a, b;
    uint64_t seen = 0;
    mq_props_begin(p, &it);
    while (mq_props_next(&it, &id, &num, &a, &b)) {
        CHECK(kind_of(id) != 0);
        CHECK(mq_props_has(p, id));
        check_inside(a, raw, len);
        check_inside(b, raw, len);
        if (id == MQ_PROP_USER_PROPERTY) {
            CHECK(mq_utf8_valid(a.ptr, a.len) && mq_utf8_valid(b.ptr, b.len));
            users++;
        } else if (id == MQ_PROP_SUBSCRIPTION_ID) {
            CHECK(num >= 1 && num <= 268435455u);
            CHECK(subids == 0 || ctx == MQ_PKT_PUBLISH);
            if (subids++ == 0)
                CHECK(p->subscription_id == num);
        } else {
            CHECK(!((seen >> id) & 1)); /* single-valued */
        }
        if (kind_of(id) == BYTE)
            CHECK(num <= 1);
        if (id == MQ_PROP_RESPONSE_TOPIC)
            CHECK(mq_topic_name_valid(a.ptr, a.len));
        seen |= (uint64_t)1 << id;
    }
    CHECK(seen == p->has);
    CHECK(users == p->n_user_props && subids == p->n_subscription_ids);

    /* Re-encode, parse again, compare. */
    size_t cap = (size_t)len + 64;
    uint8_t *out = malloc(cap);
    CHECK(out != NULL);
    mq_props_writer_t w = {out, cap, 0};
    rewrite(p, &w);
    CHECK(w.len <= len); /* minimal varints never make it longer */
    if (w.len == len && len != 0)
        CHECK(memcmp(out, raw, len) == 0);
    mq_props_t q;
    CHECK(mq_props_parse(w.len ? out : NULL, (uint32_t)w.len, ctx, &q) == MQ_OK);
    same_fields(p, &q);
    mq_props_iter_t i1, i2;
    mq_props_begin(p, &i1);
    mq_props_begin(&q, &i2);
    uint8_t id2;
    uint32_t num2;
    mq_str_t a2, b2;
    for (;;) {
        bool m1 = mq_props_next(&i1, &id, &num, &a, &b);
        bool m2 = mq_props_next(&i2, &id2, &num2, &a2, &b2);
        CHECK(m1 == m2);
        if (!m1)
            break;
        CHECK(id == id2 && num == num2 && str_eq(a, a2) && str_eq(b, b2));
    }

    /* The same properties into a buffer half as large, exactly allocated. */
    size_t half = w.len / 2;
    uint8_t *small = malloc(half ? half : 1);
    CHECK(small != NULL);
    memset(small, 0xee, half ? half : 1);
    mq_props_writer_t ws = {small, half, 0};
    rewrite(p, &ws);
    CHECK(ws.len == w.len);
    /* What was written is a prefix of the full block; the rest untouched
     * (a piece that does not fit whole is not written at all). */
    size_t k = 0;
    while (k < half && small[k] == out[k])
        k++;
    for (; k < half; k++)
        CHECK(small[k] == 0xee);
    free(small);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 20)
        return 0;
    uint8_t *raw = malloc(size ? size : 1);
    CHECK(raw != NULL);
    if (size)
        memcpy(raw, data, size);
    const uint32_t len = (uint32_t)size;
    /* Invalid UTF-8 is judged the same in every context; a Malformed verdict
     * may depend on the context (a property not valid for its packet is
     * malformed, MQTT 5 2.2.2.2), so only EUTF8 is compared across them. */
    int ctx_free = 1;
    for (int ctx = 0; ctx <= MQ_PKT_AUTH; ctx++) {
        mq_props_t p;
        int rc = mq_props_parse(len ? raw : NULL, len, ctx, &p);
        CHECK(rc == MQ_OK || rc == MQ_EMALFORMED || rc == MQ_EUTF8 || rc == MQ_EPROTO);
        if (ctx == 0)
            ctx_free = rc;
        else if (ctx_free == MQ_EUTF8 || rc == MQ_EUTF8)
            CHECK(rc == ctx_free);
        if (rc == MQ_OK)
            check_accepted(&p, raw, len, ctx);
        else
            CHECK(p.has == 0 && p.n_user_props == 0);
    }
    free(raw);
    return 0;
}

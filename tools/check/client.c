/*
 * client — musqratt-check's raw MQTT client: sockets with timeouts, packet
 * builders written byte by byte, and the expectations cases use.
 * See check.h. Replies are decoded with the project's codec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_int.h"
#include "musqratt/error.h"

/* ---- builders ---------------------------------------------------------- */

static void put(ck_buf_t *b, const void *p, size_t n)
{
    if (b->n + n > sizeof(b->b)) {
        b->overflow = true;
        return;
    }
    if (n)
        memcpy(b->b + b->n, p, n);
    b->n += n;
}

void ck_b_u8(ck_buf_t *b, uint8_t v) { put(b, &v, 1); }

void ck_b_u16(ck_buf_t *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 2);
}

void ck_b_u32(ck_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}

void ck_b_varint(ck_buf_t *b, uint32_t v)
{
    do {
        uint8_t d = v % 128;
        v /= 128;
        if (v)
            d |= 128;
        put(b, &d, 1);
    } while (v);
}

void ck_b_raw(ck_buf_t *b, const void *p, size_t n) { put(b, p, n); }

void ck_b_str(ck_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    ck_b_u16(b, (uint16_t)n);
    put(b, s, n);
}

void ck_b_bin(ck_buf_t *b, const void *p, uint16_t n)
{
    ck_b_u16(b, n);
    put(b, p, n);
}

void ck_b_props(ck_buf_t *b, const ck_buf_t *props)
{
    ck_b_varint(b, props ? (uint32_t)props->n : 0);
    if (props)
        put(b, props->b, props->n);
}

void ck_build_packet(ck_buf_t *out, uint8_t first, const ck_buf_t *body)
{
    out->n = 0;
    out->overflow = body->overflow;
    ck_b_u8(out, first);
    ck_b_varint(out, (uint32_t)body->n);
    put(out, body->b, body->n);
}

void ck_build_connect(ck_ctx_t *x, ck_buf_t *out, const ck_connect_opts_t *o)
{
    ck_buf_t b = CK_BUF;
    uint8_t v = o->version ? o->version : ck_version(x);
    ck_b_str(&b, v == 3 ? "MQIsdp" : "MQTT");
    ck_b_u8(&b, v);
    uint8_t flags = o->clean ? 0x02 : 0;
    if (o->will_topic)
        flags |= (uint8_t)(0x04 | (o->will_qos << 3) | (o->will_retain ? 0x20 : 0));
    if (o->username)
        flags |= 0x80;
    if (o->password)
        flags |= 0x40;
    ck_b_u8(&b, flags);
    ck_b_u16(&b, o->keepalive);
    if (v == 5)
        ck_b_props(&b, o->props);
    ck_b_str(&b, o->client_id ? o->client_id : ck_client_id(x, "c"));
    if (o->will_topic) {
        if (v == 5)
            ck_b_props(&b, o->will_props);
        ck_b_str(&b, o->will_topic);
        ck_b_bin(&b, o->will_payload, o->will_payload_len);
    }
    if (o->username)
        ck_b_str(&b, o->username);
    if (o->password)
        ck_b_str(&b, o->password);
    ck_build_packet(out, 0x10, &b);
}

void ck_build_publish(ck_buf_t *out, uint8_t version, const char *topic, const void *payload,
                      size_t len, uint8_t qos, bool retain, bool dup, uint16_t pid,
                      const ck_buf_t *props)
{
    ck_buf_t b = CK_BUF;
    ck_b_str(&b, topic);
    if (qos)
        ck_b_u16(&b, pid);
    if (version == 5)
        ck_b_props(&b, props);
    ck_b_raw(&b, payload, len);
    ck_build_packet(out, (uint8_t)(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0)), &b);
}

void ck_build_subscribe(ck_buf_t *out, uint8_t version, uint16_t pid, const char *filter,
                        uint8_t options, const ck_buf_t *props)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, pid);
    if (version == 5)
        ck_b_props(&b, props);
    ck_b_str(&b, filter);
    ck_b_u8(&b, options);
    ck_build_packet(out, 0x82, &b);
}

void ck_build_unsubscribe(ck_buf_t *out, uint8_t version, uint16_t pid, const char *filter)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, pid);
    if (version == 5)
        ck_b_props(&b, NULL);
    ck_b_str(&b, filter);
    ck_build_packet(out, 0xA2, &b);
}

void ck_build_ack(ck_buf_t *out, uint8_t type, uint16_t pid)
{
    ck_buf_t b = CK_BUF;
    ck_b_u16(&b, pid);
    ck_build_packet(out, (uint8_t)((type << 4) | (type == MQ_PKT_PUBREL ? 2 : 0)), &b);
}

/* ---- sockets ------------------------------------------------------------ */

int64_t ck_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ck_client_t *ck_open(ck_ctx_t *x, uint8_t version)
{
    if (x->nclients == CK_MAX_CLIENTS) {
        ck_fail(x, "too many clients in one case");
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%u", x->cfg->port);
    if (getaddrinfo(x->cfg->host, port, &hints, &res) != 0 || !res) {
        ck_fail(x, "cannot resolve %s", x->cfg->host);
        return NULL;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        ck_fail(x, "cannot connect to %s:%u: %s", x->cfg->host, x->cfg->port, strerror(errno));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ck_client_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        ck_fail(x, "out of memory");
        return NULL;
    }
    c->fd = fd;
    c->version = version ? version : ck_version(x);
    x->clients[x->nclients++] = c;
    return c;
}

bool ck_send(ck_client_t *c, const void *bytes, size_t n)
{
    const uint8_t *p = bytes;
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

bool ck_send_buf(ck_client_t *c, const ck_buf_t *b)
{
    return !b->overflow && ck_send(c, b->b, b->n);
}

bool ck_send_packet(ck_client_t *c, uint8_t first, const ck_buf_t *body)
{
    ck_buf_t out;
    ck_build_packet(&out, first, body);
    return ck_send_buf(c, &out);
}

/* Reads more bytes into the client's buffer, waiting up to ms.
 * 1: got bytes, 0: timeout, -1: closed. */
static int fill(ck_client_t *c, int ms)
{
    if (c->eof)
        return -1;
    if (c->len == sizeof(c->in)) {
        /* A single packet larger than the buffer: treat as closed-by-error. */
        return -1;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int r = poll(&pfd, 1, ms < 0 ? 0 : ms);
    if (r <= 0)
        return 0;
    ssize_t n = recv(c->fd, c->in + c->len, sizeof(c->in) - c->len, 0);
    if (n <= 0) {
        c->eof = true;
        return -1;
    }
    c->len += (size_t)n;
    return 1;
}

int ck_recv(ck_ctx_t *x, ck_client_t *c, int ms, ck_packet_t *out)
{
    /* Drop the packet returned last time. */
    if (c->consumed) {
        memmove(c->in, c->in + c->consumed, c->len - c->consumed);
        c->len -= c->consumed;
        c->consumed = 0;
    }
    int64_t deadline = ck_now_ms() + ms;
    for (;;) {
        mq_fixed_header_t fh;
        int rc = mq_codec_fixed_header(c->in, c->len, 0, &fh);
        if (rc == MQ_OK && fh.header_len + (size_t)fh.remaining <= c->len) {
            size_t total = fh.header_len + fh.remaining;
            memset(&out->p, 0, sizeof(out->p));
            rc = mq_codec_decode(&fh, c->in + fh.header_len, c->version, &out->p);
            out->type = fh.type;
            out->raw = c->in;
            out->len = total;
            c->consumed = total;
            if (rc != MQ_OK) {
                ck_fail_bytes(x, "the broker sent a packet the codec refuses", NULL, 0, c->in,
                              total);
                return -2;
            }
            out->p.fh = fh;
            return 1;
        }
        if (rc != MQ_OK && rc != MQ_EAGAIN) {
            ck_fail_bytes(x, "the broker sent a malformed fixed header", NULL, 0, c->in, c->len);
            return -2;
        }
        int left = (int)(deadline - ck_now_ms());
        if (left <= 0)
            return 0;
        int f = fill(c, left);
        if (f < 0)
            return -1;
    }
}

static const char *type_name(uint8_t t)
{
    static const char *const names[16] = {"reserved",   "CONNECT",  "CONNACK",  "PUBLISH",
                                          "PUBACK",     "PUBREC",   "PUBREL",   "PUBCOMP",
                                          "SUBSCRIBE",  "SUBACK",   "UNSUBSCRIBE",
                                          "UNSUBACK",   "PINGREQ",  "PINGRESP", "DISCONNECT",
                                          "AUTH"};
    return names[t & 15];
}

bool ck_expect(ck_ctx_t *x, ck_client_t *c, uint8_t type, int ms, ck_packet_t *out)
{
    int r = ck_recv(x, c, ms, out);
    if (r == 1 && out->type == type)
        return true;
    if (r == 1)
        ck_fail_bytes(x, type_name(type), NULL, 0, out->raw, out->len);
    else if (r == 0)
        ck_fail(x, "expected %s, got nothing within %d ms", type_name(type), ms);
    else if (r == -1)
        ck_fail(x, "expected %s, the connection closed", type_name(type));
    return false;
}

bool ck_expect_closed(ck_ctx_t *x, ck_client_t *c, int ms, bool allow_connack)
{
    int64_t deadline = ck_now_ms() + ms;
    for (;;) {
        ck_packet_t p;
        int left = (int)(deadline - ck_now_ms());
        if (left < 0)
            left = 0;
        int r = ck_recv(x, c, left, &p);
        if (r == -1)
            return true;
        if (r == -2)
            return false;
        if (r == 0) {
            ck_fail(x, "expected the broker to close the connection within %d ms", ms);
            return false;
        }
        if (p.type == MQ_PKT_DISCONNECT && c->version == 5)
            continue;
        if (p.type == MQ_PKT_CONNACK && allow_connack)
            continue;
        char what[64];
        snprintf(what, sizeof(what), "a close, not %s", type_name(p.type));
        ck_fail_bytes(x, what, NULL, 0, p.raw, p.len);
        return false;
    }
}

bool ck_expect_quiet(ck_ctx_t *x, ck_client_t *c, int ms)
{
    ck_packet_t p;
    int r = ck_recv(x, c, ms, &p);
    if (r == 0)
        return true;
    if (r == 1)
        ck_fail_bytes(x, "nothing", NULL, 0, p.raw, p.len);
    else if (r == -1)
        ck_fail(x, "expected nothing, the connection closed");
    return false;
}

void ck_close(ck_client_t *c)
{
    if (c && c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        c->eof = true;
    }
}

/* ---- composite steps -------------------------------------------------------- */

ck_client_t *ck_connected_with(ck_ctx_t *x, const ck_connect_opts_t *o, ck_packet_t *connack)
{
    ck_connect_opts_t d = {.clean = true};
    if (!o)
        o = &d;
    ck_client_t *c = ck_open(x, o->version);
    if (!c)
        return NULL;
    ck_buf_t b;
    ck_build_connect(x, &b, o);
    ck_packet_t p;
    if (!connack)
        connack = &p;
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_CONNACK, CK_WAIT, connack))
        return NULL;
    if (connack->p.u.connack.rc != 0) {
        ck_fail(x, "CONNACK return code 0x%02x, expected 0", connack->p.u.connack.rc);
        return NULL;
    }
    return c;
}

ck_client_t *ck_connected(ck_ctx_t *x, const char *suffix, bool clean)
{
    ck_connect_opts_t o = {.client_id = ck_client_id(x, suffix), .clean = clean};
    return ck_connected_with(x, &o, NULL);
}

bool ck_subscribed(ck_ctx_t *x, ck_client_t *c, const char *filter, uint8_t options,
                   uint8_t want)
{
    ck_buf_t b;
    ck_build_subscribe(&b, c->version, 1, filter, options, NULL);
    ck_packet_t p;
    if (!ck_send_buf(c, &b) || !ck_expect(x, c, MQ_PKT_SUBACK, CK_WAIT, &p))
        return false;
    mq_sublist_iter_t it;
    mq_codec_filters_begin(&p.p.u.sub, false, &it);
    int code = mq_codec_reasons_next(&it);
    if (want != 0xff && code != want) {
        ck_fail(x, "SUBACK code 0x%02x for %s, expected 0x%02x", code, filter, want);
        return false;
    }
    if (code >= 0x80) {
        ck_fail(x, "SUBACK refused %s (0x%02x)", filter, code);
        return false;
    }
    return true;
}

void ck_disconnect(ck_client_t *c)
{
    static const uint8_t d[2] = {0xE0, 0};
    ck_send(c, d, 2);
    ck_close(c);
}

void ck_clear_retained(ck_ctx_t *x, const char *topic)
{
    /* A client id of its own per call (no takeover of an earlier cleaner),
     * and QoS 1: the PUBACK says the broker has handled the clear. */
    static unsigned n;
    char suffix[32];
    snprintf(suffix, sizeof(suffix), "cleaner%u", ++n);
    ck_connect_opts_t o = {.client_id = ck_client_id(x, suffix), .clean = true, .version = 4};
    ck_client_t *c = ck_open(x, 4);
    if (!c)
        return;
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    ck_send_buf(c, &b);
    ck_packet_t p;
    if (ck_recv(x, c, CK_WAIT, &p) == 1 && p.type == MQ_PKT_CONNACK) {
        ck_build_publish(&b, 4, topic, "", 0, 1, true, false, 1, NULL);
        ck_send_buf(c, &b);
        ck_recv(x, c, CK_WAIT, &p);
    }
    ck_disconnect(c);
}

void ck_clear_session(ck_ctx_t *x, const char *client_id, uint8_t version)
{
    ck_client_t *c = ck_open(x, version);
    if (!c)
        return;
    ck_connect_opts_t o = {.client_id = client_id, .clean = true, .version = version};
    ck_buf_t b;
    ck_build_connect(x, &b, &o);
    ck_send_buf(c, &b);
    ck_packet_t p;
    ck_recv(x, c, CK_WAIT, &p);
    ck_disconnect(c);
}

/* ---- MQTT 5 property builders -------------------------------------------- */

void ck_p_byte(ck_buf_t *b, uint8_t id, uint8_t v)
{
    ck_b_u8(b, id);
    ck_b_u8(b, v);
}

void ck_p_u16(ck_buf_t *b, uint8_t id, uint16_t v)
{
    ck_b_u8(b, id);
    ck_b_u16(b, v);
}

void ck_p_u32(ck_buf_t *b, uint8_t id, uint32_t v)
{
    ck_b_u8(b, id);
    ck_b_u32(b, v);
}

void ck_p_str(ck_buf_t *b, uint8_t id, const char *s)
{
    ck_b_u8(b, id);
    ck_b_str(b, s);
}

void ck_p_bin(ck_buf_t *b, uint8_t id, const void *d, uint16_t n)
{
    ck_b_u8(b, id);
    ck_b_bin(b, d, n);
}

void ck_p_pair(ck_buf_t *b, const char *k, const char *v)
{
    ck_b_u8(b, MQ_PROP_USER_PROPERTY);
    ck_b_str(b, k);
    ck_b_str(b, v);
}

void ck_p_subid(ck_buf_t *b, uint32_t v)
{
    ck_b_u8(b, MQ_PROP_SUBSCRIPTION_ID);
    ck_b_varint(b, v);
}

/* ---- small utilities ------------------------------------------------------ */

void ck_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool ck_str_eq(mq_str_t s, const void *p, size_t n)
{
    return s.len == n && (n == 0 || memcmp(s.ptr, p, n) == 0);
}

bool ck_str_is(mq_str_t s, const char *z) { return ck_str_eq(s, z, strlen(z)); }

size_t ck_varint_at(const uint8_t *p, size_t n, uint32_t *v)
{
    uint32_t val = 0, mul = 1;
    for (size_t i = 0; i < n && i < 4; i++) {
        val += (uint32_t)(p[i] & 127) * mul;
        mul *= 128;
        if (!(p[i] & 128)) {
            *v = val;
            return i + 1;
        }
    }
    return 0;
}

/* ---- more composite steps ------------------------------------------------- */

bool ck_send_ack(ck_client_t *c, uint8_t type, uint16_t pid)
{
    ck_buf_t b;
    ck_build_ack(&b, type, pid);
    return ck_send_buf(c, &b);
}

bool ck_ping(ck_ctx_t *x, ck_client_t *c)
{
    static const uint8_t req[2] = {0xC0, 0x00};
    ck_packet_t p;
    return ck_send(c, req, 2) && ck_expect(x, c, MQ_PKT_PINGRESP, CK_WAIT, &p);
}

bool ck_publish(ck_ctx_t *x, ck_client_t *c, const char *topic, const char *payload,
                uint8_t qos, bool retain, uint16_t pid, const ck_buf_t *props)
{
    ck_buf_t b;
    ck_build_publish(&b, c->version, topic, payload, strlen(payload), qos, retain, false, pid,
                     props);
    if (!ck_send_buf(c, &b)) {
        ck_fail(x, "could not send PUBLISH");
        return false;
    }
    if (qos == 0)
        return ck_ping(x, c);
    ck_packet_t p;
    if (!ck_expect(x, c, qos == 1 ? MQ_PKT_PUBACK : MQ_PKT_PUBREC, CK_WAIT, &p))
        return false;
    if (p.p.u.ack.packet_id != pid || p.p.u.ack.reason >= 0x80) {
        ck_fail_bytes(x, "a successful acknowledgement of the publish", NULL, 0, p.raw, p.len);
        return false;
    }
    if (qos == 1)
        return true;
    return ck_send_ack(c, MQ_PKT_PUBREL, pid) && ck_expect(x, c, MQ_PKT_PUBCOMP, CK_WAIT, &p);
}

bool ck_publish_via(ck_ctx_t *x, const char *topic, const char *payload, uint8_t qos,
                    bool retain, const ck_buf_t *props)
{
    ck_client_t *c = ck_connected(x, "pub", true);
    if (!c || !ck_publish(x, c, topic, payload, qos, retain, 9, props))
        return false;
    ck_disconnect(c);
    return true;
}

bool ck_next_pub(ck_ctx_t *x, ck_client_t *c, int ms, ck_packet_t *out, bool autoack)
{
    for (;;) {
        int r = ck_recv(x, c, ms, out);
        if (r == 1 && out->type == MQ_PKT_PUBREL) {
            ck_send_ack(c, MQ_PKT_PUBCOMP, out->p.u.ack.packet_id);
            continue;
        }
        if (r == 1 && out->type == MQ_PKT_PUBLISH) {
            const mq_publish_t *pb = &out->p.u.publish;
            if (autoack && pb->qos)
                ck_send_ack(c, pb->qos == 1 ? MQ_PKT_PUBACK : MQ_PKT_PUBREC, pb->packet_id);
            return true;
        }
        if (r == 1)
            ck_fail_bytes(x, "PUBLISH", NULL, 0, out->raw, out->len);
        else if (r == 0)
            ck_fail(x, "expected PUBLISH, got nothing within %d ms", ms);
        else if (r == -1)
            ck_fail(x, "expected PUBLISH, the connection closed");
        return false;
    }
}

bool ck_expect_pub_within(ck_ctx_t *x, ck_client_t *c, int ms, const char *topic,
                          const char *payload, ck_packet_t *out, bool autoack)
{
    ck_packet_t p;
    if (!out)
        out = &p;
    if (!ck_next_pub(x, c, ms, out, autoack))
        return false;
    const mq_publish_t *pb = &out->p.u.publish;
    if (!ck_str_is(pb->topic, topic)) {
        ck_fail(x, "PUBLISH on topic '%.*s', expected '%s'", (int)pb->topic.len,
                (const char *)pb->topic.ptr, topic);
        return false;
    }
    if (!ck_str_is(pb->payload, payload)) {
        ck_fail(x, "PUBLISH payload '%.*s' on %s, expected '%s'", (int)pb->payload.len,
                (const char *)pb->payload.ptr, topic, payload);
        return false;
    }
    return true;
}

bool ck_expect_pub(ck_ctx_t *x, ck_client_t *c, const char *topic, const char *payload,
                   ck_packet_t *out, bool autoack)
{
    return ck_expect_pub_within(x, c, CK_WAIT, topic, payload, out, autoack);
}

bool ck_disconnect_code_ok(uint8_t rc)
{
    static const uint8_t ok[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E,
                                 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A,
                                 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
    return memchr(ok, rc, sizeof(ok)) != NULL;
}

ck_status_t ck_expect_dropped(ck_ctx_t *x, ck_client_t *c, uint8_t want, uint8_t alt)
{
    if (!c)
        return CK_FAIL;
    ck_packet_t p;
    int r = ck_recv(x, c, CK_WAIT, &p);
    if (r == -1)
        return CK_PASS;
    if (r == -2)
        return CK_FAIL;
    if (r == 0)
        return ck_fail(x, "expected the broker to close the connection within %d ms", CK_WAIT);
    if (p.type != MQ_PKT_DISCONNECT)
        return ck_fail_bytes(x, "DISCONNECT or a close", NULL, 0, p.raw, p.len);
    uint8_t rc = p.p.u.disconnect.reason;
    if (!ck_disconnect_code_ok(rc))
        return ck_fail(x, "DISCONNECT reason code 0x%02x is not in table 3-10 (MQTT-3.14.2-1)",
                       rc);
    if (want ? (rc != want && (!alt || rc != alt)) : rc < 0x80) {
        if (alt)
            return ck_fail(x, "DISCONNECT reason code 0x%02x, expected 0x%02x or 0x%02x", rc,
                           want, alt);
        return ck_fail(x, "DISCONNECT reason code 0x%02x, expected %s%02x", rc,
                       want ? "0x" : ">= 0x", want ? want : 0x80);
    }
    if (mq_props_has(&p.p.props, MQ_PROP_SESSION_EXPIRY))
        return ck_fail(x, "the server's DISCONNECT carries a Session Expiry Interval "
                          "(MQTT-3.14.2-2)");
    r = ck_recv(x, c, CK_WAIT, &p);
    if (r == -1)
        return CK_PASS;
    if (r == 0)
        return ck_fail(x, "DISCONNECT 0x%02x sent but the connection stays open after %d ms",
                       rc, CK_WAIT);
    if (r == 1)
        ck_fail_bytes(x, "the close after the DISCONNECT", NULL, 0, p.raw, p.len);
    return CK_FAIL;
}

ck_status_t ck_dropped_on_bytes(ck_ctx_t *x, const void *bytes, size_t n, uint8_t want,
                                uint8_t alt)
{
    ck_client_t *c = ck_connected(x, "c", true);
    if (!c)
        return CK_FAIL;
    ck_send(c, bytes, n);
    return ck_expect_dropped(x, c, want, alt);
}

ck_status_t ck_dropped_on(ck_ctx_t *x, uint8_t first, const ck_buf_t *body, uint8_t want,
                          uint8_t alt)
{
    ck_buf_t out;
    ck_build_packet(&out, first, body);
    return ck_dropped_on_bytes(x, out.b, out.n, want, alt);
}

size_t ck_raw_drain(ck_client_t *c, uint8_t *buf, size_t cap, int ms, bool *closed)
{
    size_t n = 0;
    int64_t deadline = ck_now_ms() + ms;
    *closed = false;
    for (;;) {
        int left = (int)(deadline - ck_now_ms());
        if (left <= 0)
            return n;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, left) <= 0)
            return n;
        uint8_t tmp[256];
        ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
        if (r <= 0) {
            *closed = true;
            return n;
        }
        size_t k = (size_t)r < cap - n ? (size_t)r : cap - n;
        memcpy(buf + n, tmp, k);
        n += k;
    }
}

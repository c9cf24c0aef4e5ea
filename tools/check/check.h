/*
 * musqratt-check — a conformance suite that runs against any MQTT broker.
 *
 * One case per normative statement a client can observe on the wire, named
 * by its statement id (e.g. "MQTT-3.1.0-1"). Cases build the bytes they send
 * by hand (ck_buf_t): where the point is malformed input, the project's codec
 * must not be able to hide a bug of its own. Replies are read with the codec
 * (well-formed replies only); a reply the codec refuses is itself a failure.
 *
 * Every case is bounded in time (socket timeouts), uses unique topics and
 * client ids (ck_topic, ck_client_id) so that cases can run on a shared
 * broker, and cleans up what it created (retained messages, sessions).
 *
 * Writing a case:
 *
 *   static ck_status_t pub_qos3(ck_ctx_t *x)
 *   {
 *       ck_client_t *c = ck_connected(x, "a", true);      // CONNECT + CONNACK 0
 *       if (!c) return CK_FAIL;
 *       ck_buf_t b = CK_BUF;
 *       ck_b_str(&b, ck_topic(x, "t"));
 *       ck_b_raw(&b, "x", 1);
 *       ck_send_packet(c, 0x36, &b);                     // PUBLISH with QoS 3
 *       return ck_expect_closed(x, c, CK_WAIT) ? CK_PASS : CK_FAIL;
 *   }
 *   const ck_case_t cases[] = {{"MQTT-3.3.1-4", 4, "QoS 3 in PUBLISH closes", pub_qos3}};
 *
 * Memory: a case's clients are closed and freed by the runner after the case
 * (ck_close may be called earlier). No global state besides the context.
 */
#ifndef MQ_CHECK_H
#define MQ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "musqratt/codec.h"

#define CK_WAIT 3000        /* ms to wait for an expected reply or close */
#define CK_QUIET 300        /* ms of silence that count as "nothing sent" */
#define CK_MAX_CLIENTS 16   /* per case */

typedef enum { CK_PASS = 0, CK_FAIL = 1, CK_SKIP = 2 } ck_status_t;

typedef struct ck_client ck_client_t;
typedef struct ck_ctx ck_ctx_t;

typedef struct ck_case {
    const char *id;          /* the statement id, e.g. "MQTT-3.1.0-1" */
    uint8_t version;         /* 4 = MQTT 3.1.1, 5 = MQTT 5.0 (3 for 3.1-only cases) */
    const char *title;       /* one line: the behaviour checked */
    ck_status_t (*run)(ck_ctx_t *x);
} ck_case_t;

/* A group of cases (one per source file). */
typedef struct ck_area {
    const char *name;
    const ck_case_t *cases;
    size_t n;
} ck_area_t;

/* ---- results -------------------------------------------------------------- */

/* Records why the case failed (first call wins) and returns CK_FAIL. */
ck_status_t ck_fail(ck_ctx_t *x, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Records why the case is skipped and returns CK_SKIP. */
ck_status_t ck_skip(ck_ctx_t *x, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A failure with the bytes expected and the bytes seen (hex in the report). */
ck_status_t ck_fail_bytes(ck_ctx_t *x, const char *what, const uint8_t *expected, size_t elen,
                          const uint8_t *seen, size_t slen);

/* ---- names ------------------------------------------------------------------ */

/* "<prefix>/<n>/<suffix>": unique per run and case. Valid until the case ends. */
const char *ck_topic(ck_ctx_t *x, const char *suffix);
/* "<prefix>-<n>-<suffix>": a unique client identifier. */
const char *ck_client_id(ck_ctx_t *x, const char *suffix);

/* ---- building packets ---------------------------------------------------- */

typedef struct ck_buf {
    uint8_t b[8192];
    size_t n;
    bool overflow;
} ck_buf_t;

#define CK_BUF {.n = 0, .overflow = false}

void ck_b_u8(ck_buf_t *b, uint8_t v);
void ck_b_u16(ck_buf_t *b, uint16_t v);
void ck_b_u32(ck_buf_t *b, uint32_t v);
void ck_b_varint(ck_buf_t *b, uint32_t v);
void ck_b_raw(ck_buf_t *b, const void *p, size_t n);
/* A 2-byte length and the bytes of s (NUL-terminated). */
void ck_b_str(ck_buf_t *b, const char *s);
void ck_b_bin(ck_buf_t *b, const void *p, uint16_t n);
/* Appends another buffer with its length as a varint (MQTT 5 properties). */
void ck_b_props(ck_buf_t *b, const ck_buf_t *props);

/* Well-formed packets built by hand (not by the codec). */
typedef struct ck_connect_opts {
    const char *client_id;    /* NULL: ck_client_id(x, "c") */
    uint8_t version;          /* 3, 4 or 5; 0: the case's version */
    bool clean;
    uint16_t keepalive;
    const char *will_topic;   /* NULL: no will */
    const void *will_payload;
    uint16_t will_payload_len;
    uint8_t will_qos;
    bool will_retain;
    const char *username;
    const char *password;
    const ck_buf_t *props;    /* MQTT 5 CONNECT properties (without length); NULL: none */
    const ck_buf_t *will_props;
} ck_connect_opts_t;

void ck_build_connect(ck_ctx_t *x, ck_buf_t *out, const ck_connect_opts_t *o);
/* PUBLISH: props used only for version 5 (NULL: empty). */
void ck_build_publish(ck_buf_t *out, uint8_t version, const char *topic, const void *payload,
                      size_t len, uint8_t qos, bool retain, bool dup, uint16_t pid,
                      const ck_buf_t *props);
void ck_build_subscribe(ck_buf_t *out, uint8_t version, uint16_t pid, const char *filter,
                        uint8_t options, const ck_buf_t *props);
void ck_build_unsubscribe(ck_buf_t *out, uint8_t version, uint16_t pid, const char *filter);
/* PUBACK/PUBREC/PUBREL/PUBCOMP (2-byte form). */
void ck_build_ack(ck_buf_t *out, uint8_t type, uint16_t pid);
/* Wraps body in a fixed header: first byte, then the remaining length. */
void ck_build_packet(ck_buf_t *out, uint8_t first, const ck_buf_t *body);

/* ---- talking to the broker --------------------------------------------- */

/* A received packet: raw bytes (owned by the client, valid until the next
 * receive on it) and the codec's view of them. */
typedef struct ck_packet {
    uint8_t type;
    const uint8_t *raw;
    size_t len;
    mq_packet_t p;
} ck_packet_t;

/* A TCP connection to the broker under test (NULL + failure on error).
 * version: the level used to decode replies (0: the case's). */
ck_client_t *ck_open(ck_ctx_t *x, uint8_t version);
bool ck_send(ck_client_t *c, const void *bytes, size_t n);
bool ck_send_buf(ck_client_t *c, const ck_buf_t *b);
/* Sends body wrapped in a fixed header with first byte `first`. */
bool ck_send_packet(ck_client_t *c, uint8_t first, const ck_buf_t *body);
/*
 * Waits up to ms for one packet. Returns 1 (got one), 0 (timeout), -1 (the
 * connection closed), -2 (the broker sent bytes the codec refuses: recorded
 * as a failure of the case).
 */
int ck_recv(ck_ctx_t *x, ck_client_t *c, int ms, ck_packet_t *out);
/* Waits for a packet of type `type`, failing (with what came instead) on
 * anything else, a close or a timeout. Returns true when it came. */
bool ck_expect(ck_ctx_t *x, ck_client_t *c, uint8_t type, int ms, ck_packet_t *out);
/* True when the broker closes the connection within ms. Packets sent
 * before the close are allowed only if they are DISCONNECT (MQTT 5) or, when
 * allow_connack, a CONNACK; anything else fails the case. */
bool ck_expect_closed(ck_ctx_t *x, ck_client_t *c, int ms, bool allow_connack);
/* True when nothing arrives for ms (and the connection stays open). */
bool ck_expect_quiet(ck_ctx_t *x, ck_client_t *c, int ms);
void ck_close(ck_client_t *c);

/* CONNECT with o (NULL: defaults of the case's version, clean session) and
 * CONNACK with return code 0. Returns the client or NULL (failure recorded). */
ck_client_t *ck_connected_with(ck_ctx_t *x, const ck_connect_opts_t *o, ck_packet_t *connack);
/* CONNECT with a unique client id ending in suffix. */
ck_client_t *ck_connected(ck_ctx_t *x, const char *suffix, bool clean);
/* SUBSCRIBE one filter and check the SUBACK granted `want` (or any when
 * want is 0xff). */
bool ck_subscribed(ck_ctx_t *x, ck_client_t *c, const char *filter, uint8_t options,
                   uint8_t want);
/* DISCONNECT (normal) and close. */
void ck_disconnect(ck_client_t *c);
/* Clears a retained message (empty retained PUBLISH on a new connection). */
void ck_clear_retained(ck_ctx_t *x, const char *topic);
/* Removes a persistent session: reconnect with clean session and leave. */
void ck_clear_session(ck_ctx_t *x, const char *client_id, uint8_t version);

/* The case's protocol version (4 or 5; 3 for 3.1). */
uint8_t ck_version(const ck_ctx_t *x);

/* ---- MQTT 5 property builders (one property: identifier, then value) ----- */

void ck_p_byte(ck_buf_t *b, uint8_t id, uint8_t v);
void ck_p_u16(ck_buf_t *b, uint8_t id, uint16_t v);
void ck_p_u32(ck_buf_t *b, uint8_t id, uint32_t v);
void ck_p_str(ck_buf_t *b, uint8_t id, const char *s);
void ck_p_bin(ck_buf_t *b, uint8_t id, const void *d, uint16_t n);
/* A User Property (0x26): name and value. */
void ck_p_pair(ck_buf_t *b, const char *k, const char *v);
/* A Subscription Identifier (0x0B), a Variable Byte Integer. */
void ck_p_subid(ck_buf_t *b, uint32_t v);

/* ---- small utilities ------------------------------------------------------ */

/* A monotonic clock in ms, for deadlines and measured delays. */
int64_t ck_now_ms(void);
/* Sleeps ms (resumed after a signal). Only where the case is about time
 * passing (keepalive, expiry); never to wait for a reply (use ck_recv). */
void ck_sleep_ms(int ms);
/* True when the decoded string s is the n bytes at p / the C string z. */
bool ck_str_eq(mq_str_t s, const void *p, size_t n);
bool ck_str_is(mq_str_t s, const char *z);
/* The first Variable Byte Integer in p[0..n): its length in bytes (0 if it
 * is longer than 4 bytes or cut off) and its value in *v. */
size_t ck_varint_at(const uint8_t *p, size_t n, uint32_t *v);

/* ---- more composite steps ------------------------------------------------- */

/* PUBACK/PUBREC/PUBREL/PUBCOMP (2-byte form) sent on c. */
bool ck_send_ack(ck_client_t *c, uint8_t type, uint16_t pid);
/* PINGREQ and PINGRESP: the broker has handled everything sent before. */
bool ck_ping(ck_ctx_t *x, ck_client_t *c);
/*
 * PUBLISH on c (at c's version, props used for MQTT 5 only) and completes the
 * publisher's side of the flow: QoS 1 waits for the PUBACK, QoS 2 runs
 * PUBREC/PUBREL/PUBCOMP, QoS 0 is followed by ck_ping, so the broker has
 * processed the message on return (MQTT-3.3.4-1). An acknowledgement with
 * another packet id or a reason code >= 0x80 fails.
 */
bool ck_publish(ck_ctx_t *x, ck_client_t *c, const char *topic, const char *payload,
                uint8_t qos, bool retain, uint16_t pid, const ck_buf_t *props);
/* ck_publish from a new clean connection (id suffix "pub") that then leaves. */
bool ck_publish_via(ck_ctx_t *x, const char *topic, const char *payload, uint8_t qos,
                    bool retain, const ck_buf_t *props);
/*
 * The next PUBLISH within ms. A PUBREL on the way (the tail of an earlier
 * QoS 2 delivery) is answered with PUBCOMP and skipped. With autoack the
 * PUBLISH is acknowledged (PUBACK, or PUBREC for QoS 2). Anything else, a
 * close or a timeout fails the case.
 */
bool ck_next_pub(ck_ctx_t *x, ck_client_t *c, int ms, ck_packet_t *out, bool autoack);
/* ck_next_pub within ms, which must carry exactly topic and payload.
 * out may be NULL. */
bool ck_expect_pub_within(ck_ctx_t *x, ck_client_t *c, int ms, const char *topic,
                          const char *payload, ck_packet_t *out, bool autoack);
/* ck_expect_pub_within CK_WAIT. */
bool ck_expect_pub(ck_ctx_t *x, ck_client_t *c, const char *topic, const char *payload,
                   ck_packet_t *out, bool autoack);
/* Table 3-10: the DISCONNECT reason codes a server may send (MQTT-3.14.2-1). */
bool ck_disconnect_code_ok(uint8_t rc);
/*
 * MQTT 5: a connection the server must close (MQTT-4.13.1-1). A DISCONNECT
 * before the close is optional; when it comes, its reason code must be want
 * or alt (want 0: any code >= 0x80 of table 3-10), without a Session Expiry
 * Interval (MQTT-3.14.2-2), and nothing may follow it but the close. c may
 * be NULL (a failure already recorded).
 */
ck_status_t ck_expect_dropped(ck_ctx_t *x, ck_client_t *c, uint8_t want, uint8_t alt);
/* Connects a clean client (id suffix "c"), sends the n bytes, and expects
 * ck_expect_dropped(want, alt): for a packet that breaks a rule. */
ck_status_t ck_dropped_on_bytes(ck_ctx_t *x, const void *bytes, size_t n, uint8_t want,
                                uint8_t alt);
/* ck_dropped_on_bytes with body wrapped in a fixed header with byte first. */
ck_status_t ck_dropped_on(ck_ctx_t *x, uint8_t first, const ck_buf_t *body, uint8_t want,
                          uint8_t alt);
/* Reads raw bytes (no decoding: for replies in a layout the client's
 * version cannot decode) into buf until the close or ms pass; *closed says
 * which. Bytes beyond cap are dropped. Returns how many were kept. */
size_t ck_raw_drain(ck_client_t *c, uint8_t *buf, size_t cap, int ms, bool *closed);

#endif

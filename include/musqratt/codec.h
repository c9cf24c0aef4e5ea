/*
 * musqratt — MQTT packet codec (MQTT 3.1, 3.1.1; MQTT 5 structure reserved).
 *
 * Owns: nothing. The codec never allocates and never makes a system call.
 * Decoding is zero-copy: every mq_str_t / mq_bin_t in a decoded packet points
 * into the caller's input buffer and is valid only as long as that buffer is.
 * A caller that keeps any of those bytes must copy them.
 * Encoding writes into a caller-provided buffer.
 *
 * Used by the broker core (server side) and by the tools and tests (client
 * side), so it decodes and encodes all packet types in both directions.
 *
 * Hot path: mq_codec_fixed_header + mq_codec_decode for PUBLISH and the acks.
 */
#ifndef MUSQRATT_CODEC_H
#define MUSQRATT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol levels (the byte after the protocol name in CONNECT). */
#define MQ_PROTO_V31 3  /* MQTT 3.1, protocol name "MQIsdp" */
#define MQ_PROTO_V311 4 /* MQTT 3.1.1, protocol name "MQTT" */
#define MQ_PROTO_V5 5   /* MQTT 5.0, protocol name "MQTT" */

/* Largest packet the wire format allows: 1 + 4 + 268435455. */
#define MQ_MAX_REMAINING_LENGTH 268435455u

enum mq_packet_type {
    MQ_PKT_CONNECT = 1,
    MQ_PKT_CONNACK = 2,
    MQ_PKT_PUBLISH = 3,
    MQ_PKT_PUBACK = 4,
    MQ_PKT_PUBREC = 5,
    MQ_PKT_PUBREL = 6,
    MQ_PKT_PUBCOMP = 7,
    MQ_PKT_SUBSCRIBE = 8,
    MQ_PKT_SUBACK = 9,
    MQ_PKT_UNSUBSCRIBE = 10,
    MQ_PKT_UNSUBACK = 11,
    MQ_PKT_PINGREQ = 12,
    MQ_PKT_PINGRESP = 13,
    MQ_PKT_DISCONNECT = 14,
    MQ_PKT_AUTH = 15 /* MQTT 5 only */
};

/* CONNACK return codes of MQTT 3.1 / 3.1.1 (section 3.2.2.3). */
enum mq_connack_rc {
    MQ_CONNACK_ACCEPTED = 0,
    MQ_CONNACK_BAD_PROTOCOL_VERSION = 1,
    MQ_CONNACK_IDENTIFIER_REJECTED = 2,
    MQ_CONNACK_SERVER_UNAVAILABLE = 3,
    MQ_CONNACK_BAD_USERNAME_PASSWORD = 4,
    MQ_CONNACK_NOT_AUTHORIZED = 5
};

#define MQ_SUBACK_FAILURE 0x80

/* A length-prefixed string or binary field, pointing into the input buffer. */
typedef struct mq_str {
    const uint8_t *ptr; /* NULL when the field is absent */
    uint32_t len;
} mq_str_t;

typedef struct mq_fixed_header {
    uint8_t type;          /* enum mq_packet_type */
    uint8_t flags;         /* low nibble of the first byte */
    uint8_t header_len;    /* 2..5: first byte + remaining-length bytes */
    uint32_t remaining;    /* remaining length */
} mq_fixed_header_t;

typedef struct mq_connect {
    mq_str_t protocol_name;
    uint8_t protocol_level;  /* 3, 4 or 5 */
    bool clean;              /* clean session (3.x) / clean start (5) */
    bool will;
    uint8_t will_qos;
    bool will_retain;
    bool has_username;
    bool has_password;
    uint16_t keepalive;      /* seconds */
    mq_str_t props;          /* MQTT 5 CONNECT properties, raw; empty for 3.x */
    mq_str_t client_id;      /* may have len 0 */
    mq_str_t will_props;     /* MQTT 5 will properties, raw */
    mq_str_t will_topic;
    mq_str_t will_payload;
    mq_str_t username;
    mq_str_t password;
} mq_connect_t;

typedef struct mq_connack {
    bool session_present;
    uint8_t rc;              /* return code (3.x) or reason code (5) */
    mq_str_t props;          /* MQTT 5 only */
} mq_connack_t;

typedef struct mq_publish {
    uint8_t qos;
    bool dup;
    bool retain;
    uint16_t packet_id;      /* 0 for QoS 0 */
    mq_str_t topic;          /* validated topic name (no wildcards, UTF-8) */
    mq_str_t props;          /* MQTT 5 only */
    mq_str_t payload;
} mq_publish_t;

/* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK (3.x). */
typedef struct mq_ack {
    uint16_t packet_id;
    uint8_t reason;          /* MQTT 5 reason code, 0 when absent */
    mq_str_t props;          /* MQTT 5 only */
} mq_ack_t;

/*
 * SUBSCRIBE / UNSUBSCRIBE / SUBACK / UNSUBACK(5): the decoder validates the
 * whole list, then the caller walks it with mq_codec_next_filter() or
 * mq_codec_next_reason(), which cannot fail on a list the decoder accepted.
 */
typedef struct mq_sublist {
    uint16_t packet_id;
    mq_str_t props;          /* MQTT 5 only */
    const uint8_t *list;     /* the payload */
    uint32_t list_len;
    uint32_t count;          /* number of entries */
} mq_sublist_t;

typedef struct mq_sublist_iter {
    const uint8_t *p;
    const uint8_t *end;
    bool with_options;       /* SUBSCRIBE: each filter is followed by an options byte */
} mq_sublist_iter_t;

typedef struct mq_disconnect {
    uint8_t reason;          /* MQTT 5 only */
    mq_str_t props;
} mq_disconnect_t;

typedef struct mq_packet {
    mq_fixed_header_t fh;
    union {
        mq_connect_t connect;
        mq_connack_t connack;
        mq_publish_t publish;
        mq_ack_t ack;            /* PUBACK PUBREC PUBREL PUBCOMP UNSUBACK(3.x) */
        mq_sublist_t sub;        /* SUBSCRIBE UNSUBSCRIBE SUBACK UNSUBACK(5) */
        mq_disconnect_t disconnect; /* DISCONNECT, AUTH */
    } u;
} mq_packet_t;

/* ---- decoding --------------------------------------------------------- */

/*
 * Parses the fixed header at buf[0..len).
 * Returns MQ_OK, MQ_EAGAIN (need more bytes; the header is incomplete),
 * MQ_EMALFORMED (remaining length longer than 4 bytes, packet type 0), or
 * MQ_ETOOBIG (header_len + remaining > max_packet; 0 means no limit beyond
 * the wire format's). Does not check the flags nibble (mq_codec_decode does).
 */
int mq_codec_fixed_header(const uint8_t *buf, size_t len, uint32_t max_packet,
                          mq_fixed_header_t *fh);

/*
 * Decodes one complete packet whose fixed header is *fh and whose variable
 * header + payload are body[0..fh->remaining).
 * protocol_level is the level negotiated by CONNECT (ignored for CONNECT
 * itself, which carries its own); it decides 3.x vs 5 layouts.
 * Validates everything the standard requires of the sender: reserved flags
 * (MQTT-2.2.2-1/2), QoS 3 (MQTT-3.3.1-4), packet id != 0, UTF-8 rules
 * (MQTT-1.5.3-1/2), topic names without wildcards (MQTT-3.3.2-2), valid
 * topic filters (MQTT-4.7.1-x), non-empty SUBSCRIBE/UNSUBSCRIBE lists
 * (MQTT-3.8.3-3, MQTT-3.10.3-2), the CONNECT flag rules (MQTT-3.1.2-3,
 * -11, -13, -14, -15, -22), exact lengths of the fixed-size packets.
 * Returns MQ_OK, MQ_EMALFORMED, MQ_EPROTO, MQ_EUTF8, MQ_ETOPIC,
 * MQ_EPROTONAME (CONNECT with a wrong protocol name) or MQ_EPROTOVERSION
 * (CONNECT with a right name but an unsupported level: answer CONNACK 0x01).
 */
int mq_codec_decode(const mq_fixed_header_t *fh, const uint8_t *body,
                    uint8_t protocol_level, mq_packet_t *pkt);

/* SUBSCRIBE (with_options) / UNSUBSCRIBE lists. */
void mq_codec_filters_begin(const mq_sublist_t *s, bool with_options,
                            mq_sublist_iter_t *it);
/* Returns false at the end. *options is the SUBSCRIBE options byte (QoS in
 * bits 0-1), 0 for UNSUBSCRIBE. */
bool mq_codec_filters_next(mq_sublist_iter_t *it, mq_str_t *filter, uint8_t *options);

/* SUBACK / UNSUBACK(5) reason list, walked after
 * mq_codec_filters_begin(s, false, &it): returns -1 at the end, else the code. */
int mq_codec_reasons_next(mq_sublist_iter_t *it);

/* ---- validation helpers (also used by the broker and the config) ------ */

/* MQTT-1.5.3-1/2: well-formed UTF-8, no surrogates, no U+0000. */
bool mq_utf8_valid(const uint8_t *s, size_t len);
/* Topic name: length >= 1, valid UTF-8, no '+' or '#' (MQTT-4.7.3-1, 3.3.2-2). */
bool mq_topic_name_valid(const uint8_t *s, size_t len);
/* Topic filter: length >= 1, '#' only last and alone in its level,
 * '+' alone in its level (MQTT-4.7.1-2/3). */
bool mq_topic_filter_valid(const uint8_t *s, size_t len);

/* ---- encoding ---------------------------------------------------------- */
/*
 * Every encoder writes at most cap bytes into out and returns the full size
 * of the packet. If the return value is > cap, nothing useful was written and
 * the caller retries with a buffer that large. Returns a negative MQ_E* code
 * for arguments that cannot be encoded (e.g. a field longer than 65535).
 */

/* Number of bytes the remaining-length varint takes (1..4); 0 if too big. */
int mq_codec_varint_size(uint32_t value);
/* Writes the varint, returns its size (1..4). out must hold 4 bytes. */
int mq_codec_varint_write(uint8_t *out, uint32_t value);

/* A NULL c->protocol_name.ptr is taken from the level ("MQIsdp" for 3,
 * "MQTT" for 4 and 5). */
int mq_codec_encode_connect(uint8_t *out, size_t cap, const mq_connect_t *c);
int mq_codec_encode_connack(uint8_t *out, size_t cap, uint8_t protocol_level,
                            bool session_present, uint8_t rc);
/* pub->packet_id is written only when pub->qos > 0. */
int mq_codec_encode_publish(uint8_t *out, size_t cap, uint8_t protocol_level,
                            const mq_publish_t *pub);
/* type: PUBACK PUBREC PUBREL PUBCOMP UNSUBACK(3.x). PUBREL gets flags 0x2. */
int mq_codec_encode_ack(uint8_t *out, size_t cap, uint8_t type, uint16_t packet_id);
/* filters[i] with options[i] (SUBSCRIBE) */
int mq_codec_encode_subscribe(uint8_t *out, size_t cap, uint8_t protocol_level,
                              uint16_t packet_id, const mq_str_t *filters,
                              const uint8_t *options, size_t count);
int mq_codec_encode_unsubscribe(uint8_t *out, size_t cap, uint8_t protocol_level,
                                uint16_t packet_id, const mq_str_t *filters,
                                size_t count);
int mq_codec_encode_suback(uint8_t *out, size_t cap, uint8_t protocol_level,
                           uint16_t packet_id, const uint8_t *codes, size_t count);
/* PINGREQ, PINGRESP, DISCONNECT (3.x): two bytes. */
int mq_codec_encode_empty(uint8_t *out, size_t cap, uint8_t type);

#ifdef __cplusplus
}
#endif
#endif

/*
 * musqratt — MQTT packet codec (MQTT 3.1, 3.1.1 and 5.0, with MQTT 5 properties).
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

/* MQTT 5 reason codes (section 2.4). */
enum mq_reason {
    MQ_RC_SUCCESS = 0x00, /* also Normal disconnection, Granted QoS 0 */
    MQ_RC_GRANTED_QOS1 = 0x01,
    MQ_RC_GRANTED_QOS2 = 0x02,
    MQ_RC_DISCONNECT_WITH_WILL = 0x04,
    MQ_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MQ_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    MQ_RC_CONTINUE_AUTH = 0x18,
    MQ_RC_REAUTHENTICATE = 0x19,
    MQ_RC_UNSPECIFIED = 0x80,
    MQ_RC_MALFORMED = 0x81,
    MQ_RC_PROTOCOL_ERROR = 0x82,
    MQ_RC_IMPLEMENTATION_SPECIFIC = 0x83,
    MQ_RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84,
    MQ_RC_CLIENT_ID_NOT_VALID = 0x85,
    MQ_RC_BAD_USERNAME_PASSWORD = 0x86,
    MQ_RC_NOT_AUTHORIZED = 0x87,
    MQ_RC_SERVER_UNAVAILABLE = 0x88,
    MQ_RC_SERVER_BUSY = 0x89,
    MQ_RC_BANNED = 0x8A,
    MQ_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MQ_RC_BAD_AUTH_METHOD = 0x8C,
    MQ_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    MQ_RC_SESSION_TAKEN_OVER = 0x8E,
    MQ_RC_TOPIC_FILTER_INVALID = 0x8F,
    MQ_RC_TOPIC_NAME_INVALID = 0x90,
    MQ_RC_PACKET_ID_IN_USE = 0x91,
    MQ_RC_PACKET_ID_NOT_FOUND = 0x92,
    MQ_RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93,
    MQ_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQ_RC_PACKET_TOO_LARGE = 0x95,
    MQ_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    MQ_RC_QUOTA_EXCEEDED = 0x97,
    MQ_RC_ADMINISTRATIVE_ACTION = 0x98,
    MQ_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MQ_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MQ_RC_QOS_NOT_SUPPORTED = 0x9B,
    MQ_RC_USE_ANOTHER_SERVER = 0x9C,
    MQ_RC_SERVER_MOVED = 0x9D,
    MQ_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    MQ_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MQ_RC_MAXIMUM_CONNECT_TIME = 0xA0,
    MQ_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
    MQ_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2
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

/* ---- MQTT 5 properties ------------------------------------------------ */

enum mq_prop_id {
    MQ_PROP_PAYLOAD_FORMAT = 0x01,        /* byte,    PUBLISH, will */
    MQ_PROP_MESSAGE_EXPIRY = 0x02,        /* u32,     PUBLISH, will */
    MQ_PROP_CONTENT_TYPE = 0x03,          /* utf8,    PUBLISH, will */
    MQ_PROP_RESPONSE_TOPIC = 0x08,        /* utf8,    PUBLISH, will */
    MQ_PROP_CORRELATION_DATA = 0x09,      /* binary,  PUBLISH, will */
    MQ_PROP_SUBSCRIPTION_ID = 0x0B,       /* varint,  PUBLISH (repeatable), SUBSCRIBE */
    MQ_PROP_SESSION_EXPIRY = 0x11,        /* u32,     CONNECT, CONNACK, DISCONNECT */
    MQ_PROP_ASSIGNED_CLIENT_ID = 0x12,    /* utf8,    CONNACK */
    MQ_PROP_SERVER_KEEP_ALIVE = 0x13,     /* u16,     CONNACK */
    MQ_PROP_AUTH_METHOD = 0x15,           /* utf8,    CONNECT, CONNACK, AUTH */
    MQ_PROP_AUTH_DATA = 0x16,             /* binary,  CONNECT, CONNACK, AUTH */
    MQ_PROP_REQUEST_PROBLEM_INFO = 0x17,  /* byte,    CONNECT */
    MQ_PROP_WILL_DELAY = 0x18,            /* u32,     will */
    MQ_PROP_REQUEST_RESPONSE_INFO = 0x19, /* byte,    CONNECT */
    MQ_PROP_RESPONSE_INFO = 0x1A,         /* utf8,    CONNACK */
    MQ_PROP_SERVER_REFERENCE = 0x1C,      /* utf8,    CONNACK, DISCONNECT */
    MQ_PROP_REASON_STRING = 0x1F,         /* utf8,    CONNACK, acks, SUBACK, UNSUBACK, DISCONNECT, AUTH */
    MQ_PROP_RECEIVE_MAXIMUM = 0x21,       /* u16,     CONNECT, CONNACK */
    MQ_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,   /* u16,     CONNECT, CONNACK */
    MQ_PROP_TOPIC_ALIAS = 0x23,           /* u16,     PUBLISH */
    MQ_PROP_MAXIMUM_QOS = 0x24,           /* byte,    CONNACK */
    MQ_PROP_RETAIN_AVAILABLE = 0x25,      /* byte,    CONNACK */
    MQ_PROP_USER_PROPERTY = 0x26,         /* pair,    everywhere (repeatable) */
    MQ_PROP_MAXIMUM_PACKET_SIZE = 0x27,   /* u32,     CONNECT, CONNACK */
    MQ_PROP_WILDCARD_SUB_AVAILABLE = 0x28,/* byte,    CONNACK */
    MQ_PROP_SUB_ID_AVAILABLE = 0x29,      /* byte,    CONNACK */
    MQ_PROP_SHARED_SUB_AVAILABLE = 0x2A   /* byte,    CONNACK */
};

/* Context of a property block: a packet type (MQ_PKT_*), or the will
 * properties of CONNECT. */
#define MQ_PROPS_WILL 0

/*
 * A parsed, validated property block. Strings point into the input buffer.
 * `has` has bit (1 << id) set for every property present.
 */
typedef struct mq_props {
    uint64_t has;
    mq_str_t raw;                   /* the whole block (without its length) */
    uint8_t payload_format;
    uint32_t message_expiry;
    mq_str_t content_type;
    mq_str_t response_topic;
    mq_str_t correlation_data;
    uint32_t subscription_id;       /* the first one */
    uint32_t n_subscription_ids;
    uint32_t session_expiry;
    mq_str_t assigned_client_id;
    uint16_t server_keep_alive;
    mq_str_t auth_method;
    mq_str_t auth_data;
    uint8_t request_problem_info;
    uint32_t will_delay;
    uint8_t request_response_info;
    mq_str_t response_info;
    mq_str_t server_reference;
    mq_str_t reason_string;
    uint16_t receive_maximum;
    uint16_t topic_alias_maximum;
    uint16_t topic_alias;
    uint8_t maximum_qos;
    uint8_t retain_available;
    uint32_t n_user_props;
    uint32_t maximum_packet_size;
    uint8_t wildcard_sub_available;
    uint8_t sub_id_available;
    uint8_t shared_sub_available;
} mq_props_t;

static inline bool mq_props_has(const mq_props_t *p, uint8_t id)
{
    return (p->has >> id) & 1u;
}

/*
 * Parses raw (a property block without its length prefix) for context ctx.
 * Validates (MQTT 5 section 2.2.2): every identifier known and allowed in
 * ctx, no single-valued property twice, well-formed varints / lengths,
 * UTF-8 strings and pairs (MQTT-1.5.4-x), and the value rules (payload
 * format, request problem / response information, maximum QoS and the
 * *_available bytes 0 or 1; receive maximum, maximum packet size and
 * subscription identifier not 0; subscription id <= 268435455). A Topic
 * Alias of 0 is accepted here: the broker answers it with 0x94.
 * Returns MQ_OK, MQ_EMALFORMED (bad encoding, unknown identifier, cut
 * value, a property not valid in this packet: MQTT 5 2.2.2.2), MQ_EUTF8,
 * or MQ_EPROTO (duplicate, value out of range, a Response Topic that is not a valid topic name
 * (MQTT-3.3.2-14)) — MQTT 5 reason codes 0x81 and 0x82 respectively; or
 * MQ_EINVAL for a ctx outside 0..15 or raw == NULL with len > 0.
 * The verdict does not depend on the order of the properties: a structural
 * error outranks bad UTF-8, which outranks a protocol error.
 * On failure *out is all zero except out->raw.
 */
int mq_props_parse(const uint8_t *raw, uint32_t len, int ctx, mq_props_t *out);

typedef struct mq_props_iter {
    const uint8_t *p;
    const uint8_t *end;
} mq_props_iter_t;

void mq_props_begin(const mq_props_t *props, mq_props_iter_t *it);
/* Walks a block that mq_props_parse accepted, in order. For numeric
 * properties *num is set; strings/binary set *a; a user property sets *a
 * (name) and *b (value); the others are set to 0 / {NULL, 0}. Any of
 * id/num/a/b may be NULL. Returns false at the end (or at the first
 * property it cannot read, so it stays in bounds on any bytes). */
bool mq_props_next(mq_props_iter_t *it, uint8_t *id, uint32_t *num, mq_str_t *a, mq_str_t *b);

/* Appends properties to buf[0..cap); len counts what was (or would have
 * been) written: if len > cap the caller's buffer was too small. Never
 * writes past cap: a property (or string) that does not fit whole is not
 * written at all. A value the wire cannot carry (varint > 268435455, string
 * longer than 65535, NULL with a length) sets len to SIZE_MAX for good, so
 * the block never "fits". Start with {buf, cap, 0}; {NULL, 0, 0} sizes. */
typedef struct mq_props_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
} mq_props_writer_t;

void mq_props_put_byte(mq_props_writer_t *w, uint8_t id, uint8_t v);
void mq_props_put_u16(mq_props_writer_t *w, uint8_t id, uint16_t v);
void mq_props_put_u32(mq_props_writer_t *w, uint8_t id, uint32_t v);
void mq_props_put_varint(mq_props_writer_t *w, uint8_t id, uint32_t v);
/* UTF-8 string or binary data (same wire form). */
void mq_props_put_str(mq_props_writer_t *w, uint8_t id, const void *s, size_t len);
void mq_props_put_pair(mq_props_writer_t *w, const void *k, size_t klen, const void *v,
                       size_t vlen);
/* Bytes that already are encoded properties (e.g. forwarded ones). */
void mq_props_put_raw(mq_props_writer_t *w, const void *bytes, size_t len);

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
    /* MQTT 5 only: the packet's properties, parsed and validated by
     * mq_codec_decode (and the will properties of a CONNECT). All zero for
     * 3.x. The raw `props` fields below hold the same bytes. */
    mq_props_t props;
    mq_props_t will_props;
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
 * -11, -13, -14, -15, -22), exact lengths of the fixed-size packets,
 * shared subscription filters "$share/{ShareName}/{filter}" in SUBSCRIBE
 * and UNSUBSCRIBE at every level (MQTT-4.8.2-1/2, MQ_ETOPIC).
 * MQTT 3.1 (level 3) leniency: PUBREL, SUBSCRIBE and UNSUBSCRIBE may carry
 * flags 0xA (DUP on a re-send) as well as 0x2.
 * At level 5 also: every property block (mq_props_parse, into pkt->props
 * and pkt->will_props), Authentication Data only with an Authentication
 * Method in CONNECT (MQ_EPROTO), an empty PUBLISH topic only with a Topic
 * Alias (MQ_EPROTO), SUBSCRIBE options (reserved bits: MQ_EMALFORMED; QoS 3,
 * Retain Handling 3, No Local on a shared subscription: MQ_EPROTO), AUTH
 * with both reason code and property length or neither.
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
/* Shared subscription filter "$share/{ShareName}/{filter}" (MQTT 5 4.8.2,
 * MQTT-4.8.2-1/2; offered to 3.1.1 clients too). Returns true for a valid
 * one, with *group = ShareName and *filter = the filter after it (both
 * pointing into f). Returns false for an ordinary filter and for an invalid
 * shared one (mq_codec_decode rejects those with MQ_ETOPIC), with
 * *group = {NULL, 0} and *filter = the whole of f. group/filter may be NULL. */
bool mq_topic_shared_split(const uint8_t *f, size_t len, mq_str_t *group, mq_str_t *filter);

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

/* ---- MQTT 5 encoders (props: an encoded property block, may be empty) -- */
int mq_codec_encode_connack5(uint8_t *out, size_t cap, bool session_present, uint8_t reason,
                             const uint8_t *props, size_t props_len);
/* PUBACK PUBREC PUBREL PUBCOMP: the 2-byte short form when reason is 0 and
 * there are no properties (MQTT 5 3.4.2.1). */
int mq_codec_encode_ack5(uint8_t *out, size_t cap, uint8_t type, uint16_t packet_id,
                         uint8_t reason, const uint8_t *props, size_t props_len);
/* SUBACK or UNSUBACK with one reason code per filter. */
int mq_codec_encode_reasons5(uint8_t *out, size_t cap, uint8_t type, uint16_t packet_id,
                             const uint8_t *props, size_t props_len, const uint8_t *codes,
                             size_t count);
/* DISCONNECT or AUTH: the 0-length form when reason is 0 and no properties. */
int mq_codec_encode_disconnect5(uint8_t *out, size_t cap, uint8_t type, uint8_t reason,
                                const uint8_t *props, size_t props_len);

#ifdef __cplusplus
}
#endif
#endif

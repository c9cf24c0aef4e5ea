/*
 * ws — WebSocket (RFC 6455) server side, sans-I/O, for MQTT over WebSockets
 * (MQTT 3.1.1 section 6, MQTT 5.0 section 6).
 *
 * Owns: one connection's WebSocket state (mq_ws_t, plain data the caller
 * allocates, e.g. inside its connection record), and a small output buffer
 * for what the WebSocket layer itself must send (the HTTP answer to the
 * upgrade request, pong and close frames).
 * Borrows: the upgrade-request buffer given to mq_ws_init() (the caller frees
 * it once mq_ws_handshake_done() is true, or with the connection), and the
 * configuration (must outlive the mq_ws_t).
 * Never: a system call, an allocation, a copy of payload bytes. Client frames
 * are unmasked in place in the caller's input buffer and handed to the data
 * callback as slices of it; an MQTT packet may span frames and a frame may
 * carry several packets, so the callback gets a plain byte stream.
 * Hot paths: mq_ws_input() (per read) and mq_ws_frame_header() (per flush).
 *
 * The output direction costs no copy either: server frames are not masked
 * (RFC 6455 5.1), so a header from mq_ws_frame_header() can go out as one
 * iovec in front of the payload iovecs.
 */
#ifndef MQ_WS_WS_H
#define MQ_WS_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-1 of data[0..len) into out: the platform supplies it (libcrypto on
 * Linux), so this module needs no crypto of its own. ctx: sha1_ctx. */
typedef void (*mq_ws_sha1_fn)(void *ctx, const uint8_t *data, size_t len, uint8_t out[20]);

/* Payload bytes of binary/continuation frames, in order (a slice of the
 * caller's input buffer). Returns 0, or a negative MQ_E* code that stops
 * mq_ws_input() and is returned by it. */
typedef int (*mq_ws_data_fn)(void *ctx, const uint8_t *data, size_t len);

typedef struct mq_ws_config {
    /* Required request path ("/mqtt"), compared without the query string;
     * NULL or "" accepts any path, as Mosquitto 2.0 does. Borrowed. */
    const char *path;
    /* Largest frame payload accepted; 0 = no limit. Set to max_packet_size:
     * a larger frame cannot be part of an acceptable MQTT stream in one
     * piece (close 1009). */
    uint64_t max_frame;
    mq_ws_sha1_fn sha1;
    void *sha1_ctx;
} mq_ws_config_t;

/* Largest frame header: 2 + 8 (length) + 4 (mask key). */
#define MQ_WS_HEADER_MAX 14
/* Room for the 101 answer (the largest thing queued) and a few control frames. */
#define MQ_WS_OUT_MAX 512

enum mq_ws_state {
    MQ_WS_HANDSHAKE = 0, /* reading the HTTP upgrade request */
    MQ_WS_OPEN,          /* frames flow */
    MQ_WS_DONE           /* close exchanged, protocol error or HTTP error: no more input */
};

typedef struct mq_ws {
    const mq_ws_config_t *cfg;
    uint8_t state;            /* enum mq_ws_state */
    bool upgraded;            /* the 101 answer is queued */
    bool close_sent;          /* our close frame is queued (or out) */
    bool in_message;          /* a fragmented binary message is in progress */
    /* upgrade request, until the blank line */
    uint8_t *req;
    size_t req_len, req_cap;
    size_t req_max;           /* the request size bound (the buffer's size) */
    /* frame being read */
    uint8_t hdr[MQ_WS_HEADER_MAX];
    uint8_t hdr_len;          /* header bytes collected so far */
    uint8_t opcode;
    bool fin;
    uint8_t mask[4];
    uint64_t left;            /* payload bytes of the current frame still to come */
    uint64_t pos;             /* payload bytes of the current frame seen (mask phase) */
    bool in_payload;
    /* control frame payload (at most 125 bytes, RFC 6455 5.5) */
    uint8_t ctl[125];
    uint8_t ctl_len;
    /* output the caller must send before any further data frame */
    uint8_t out[MQ_WS_OUT_MAX];
    size_t out_len;
    uint16_t close_code;      /* why we closed, for the log (0 = peer closed) */
} mq_ws_t;

/* req/req_cap: the buffer the upgrade request is collected in; req_cap
 * bounds the request (a larger one gets 431). req may be NULL: a request
 * that arrives whole in one mq_ws_input() call is parsed in place, and a
 * buffer is needed only for one that arrives in pieces (see
 * mq_ws_needs_buffer()); without one such a request gets 431. */
void mq_ws_init(mq_ws_t *ws, const mq_ws_config_t *cfg, uint8_t *req, size_t req_cap);

/* True when mq_ws_input(data, len) would have to keep part of an upgrade
 * request and no buffer was given yet: give one of req_cap bytes first with
 * mq_ws_set_buffer() (the caller owns it). A request larger than req_cap
 * never needs one (it gets 431). */
bool mq_ws_needs_buffer(const mq_ws_t *ws, const uint8_t *data, size_t len);
void mq_ws_set_buffer(mq_ws_t *ws, uint8_t *req);

/*
 * Bytes received. In the handshake state they are collected until the
 * request is complete, then answered (101, or 400/404/426/431 and the input
 * ends); bytes after the request are frames. In the open state frames are
 * parsed, unmasked in place (data is modified) and their payload passed to
 * fn. Control frames are answered (ping -> pong, close -> close).
 * Returns 0 while input may go on; MQ_ECLOSED when the WebSocket is over
 * (close handshake, HTTP error answer, or a protocol error, with a close
 * frame queued); or the negative code fn returned. After a non-zero return
 * the caller sends mq_ws_out() and then closes; further input is ignored.
 */
int mq_ws_input(mq_ws_t *ws, uint8_t *data, size_t len, mq_ws_data_fn fn, void *ctx);

/* True once the 101 answer is queued (the request buffer is no longer used). */
bool mq_ws_handshake_done(const mq_ws_t *ws);
/* True once frames may be sent (the handshake succeeded, no close sent). */
bool mq_ws_can_send(const mq_ws_t *ws);

/* The WebSocket layer's own pending output, to be sent before the next data
 * frame (never in the middle of one); consume what was written. */
const uint8_t *mq_ws_out(const mq_ws_t *ws, size_t *len);
void mq_ws_out_consume(mq_ws_t *ws, size_t n);

/* Queues a close frame with `code` (once; no-op before the handshake or
 * after a close was sent). Used when the broker closes the connection. */
void mq_ws_close(mq_ws_t *ws, uint16_t code);

/* Writes the header of an unmasked, final binary frame of payload_len bytes
 * into hdr; returns its length (2, 4 or 10). */
size_t mq_ws_frame_header(uint8_t hdr[10], uint64_t payload_len);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), NUL-terminated
 * (28 characters). Exposed for tests. Returns false if the key is too long. */
bool mq_ws_accept_key(mq_ws_sha1_fn sha1, void *sha1_ctx, const char *key, size_t key_len,
                      char out[29]);

/* RFC 6455 7.4.1 status codes used here. */
#define MQ_WS_CLOSE_NORMAL 1000
#define MQ_WS_CLOSE_PROTOCOL 1002
#define MQ_WS_CLOSE_UNSUPPORTED 1003
#define MQ_WS_CLOSE_TOO_BIG 1009

#endif

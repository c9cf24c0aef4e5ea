/*
 * ws — see ws.h.
 *
 * The upgrade request (RFC 6455 4.2.1) is collected whole in the caller's
 * bounded buffer, then parsed once: request line, then header lines, the
 * header names compared case-insensitively (RFC 9110 5.1). Answers:
 *   101  a valid upgrade; Sec-WebSocket-Protocol is "mqtt" if the client
 *        offered it, else "mqttv3.1" (Mosquitto accepts both), none if the
 *        client offered none (lenient, as Mosquitto's libwebsockets is)
 *   400  malformed request, not GET, bad key, or only unknown subprotocols
 *   404  a path other than the configured one
 *   426  no "Upgrade: websocket" / "Connection: upgrade", or a version
 *        other than 13 (answered with Sec-WebSocket-Version: 13)
 *   431  a request larger than the buffer
 * Frames (RFC 6455 5.2): every client frame must be masked (5.1, else close
 * 1002); no extension is negotiated, so RSV bits are errors (1002); text
 * frames are not MQTT (close 1003, MQTT 3.1.1 6.0 / 5.0 6.0: "binary data
 * frames"); control frames must be final and carry at most 125 bytes.
 */
#include "ws.h"

#include <string.h>

#include "musqratt/base64.h"
#include "musqratt/error.h"

#define MQ__WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MQ__WS_KEY_MAX 64

enum {
    MQ__WS_OP_CONT = 0x0,
    MQ__WS_OP_TEXT = 0x1,
    MQ__WS_OP_BINARY = 0x2,
    MQ__WS_OP_CLOSE = 0x8,
    MQ__WS_OP_PING = 0x9,
    MQ__WS_OP_PONG = 0xA
};

/* ---- helpers ----------------------------------------------------------- */

static char mq__ws_lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

static bool mq__ws_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);

    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (mq__ws_lower(a[i]) != mq__ws_lower(b[i]))
            return false;
    return true;
}

/* True when the comma-separated list v[0..len) holds token (case-insensitive). */
static bool mq__ws_list_has(const char *v, size_t len, const char *token)
{
    size_t i = 0;

    while (i < len) {
        size_t start, end;

        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        start = i;
        while (i < len && v[i] != ',')
            i++;
        end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end > start && mq__ws_ieq(v + start, end - start, token))
            return true;
    }
    return false;
}


static bool mq__ws_b64char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* RFC 6455 4.1: the key is 16 random bytes in base64: 22 characters + "==". */
static bool mq__ws_key_valid(const char *k, size_t len)
{
    if (len != 24 || k[22] != '=' || k[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!mq__ws_b64char(k[i]))
            return false;
    return true;
}

bool mq_ws_accept_key(mq_ws_sha1_fn sha1, void *sha1_ctx, const char *key, size_t key_len,
                      char out[29])
{
    uint8_t buf[MQ__WS_KEY_MAX + sizeof MQ__WS_GUID];
    uint8_t digest[20];

    if (key_len > MQ__WS_KEY_MAX)
        return false;
    memcpy(buf, key, key_len);
    memcpy(buf + key_len, MQ__WS_GUID, sizeof MQ__WS_GUID - 1);
    sha1(sha1_ctx, buf, key_len + sizeof MQ__WS_GUID - 1, digest);
    mq_base64_encode(digest, sizeof digest, out, 29); /* 28 characters and the NUL */
    return true;
}

static bool mq__ws_queue_raw(mq_ws_t *ws, const void *p, size_t n)
{
    if (n > MQ_WS_OUT_MAX - ws->out_len)
        return false;
    memcpy(ws->out + ws->out_len, p, n);
    ws->out_len += n;
    return true;
}

/* A control frame (payload <= 125 bytes). False when the buffer is full. */
static bool mq__ws_queue_frame(mq_ws_t *ws, uint8_t opcode, const uint8_t *payload, size_t len)
{
    uint8_t h[2];

    if (len > 125 || 2 + len > MQ_WS_OUT_MAX - ws->out_len)
        return false;
    h[0] = (uint8_t)(0x80 | opcode);
    h[1] = (uint8_t)len;
    mq__ws_queue_raw(ws, h, 2);
    if (len)
        mq__ws_queue_raw(ws, payload, len);
    return true;
}

static void mq__ws_queue_close(mq_ws_t *ws, uint16_t code)
{
    uint8_t p[2];

    if (ws->close_sent)
        return;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    /* Ping answers are dropped before a close is: the buffer always has
     * room for one close (pongs never fill the last 4 bytes). */
    mq__ws_queue_frame(ws, MQ__WS_OP_CLOSE, p, 2);
    ws->close_sent = true;
    ws->close_code = code;
}

/* Ends the WebSocket with a close frame carrying code. */
static int mq__ws_fail(mq_ws_t *ws, uint16_t code)
{
    mq__ws_queue_close(ws, code);
    ws->state = MQ_WS_DONE;
    return MQ_ECLOSED;
}

/* ---- handshake --------------------------------------------------------- */

static int mq__ws_http_error(mq_ws_t *ws, const char *status, const char *extra)
{
    static const char tail[] = "Connection: close\r\nContent-Length: 0\r\n\r\n";

    ws->out_len = 0;
    mq__ws_queue_raw(ws, "HTTP/1.1 ", 9);
    mq__ws_queue_raw(ws, status, strlen(status));
    mq__ws_queue_raw(ws, "\r\n", 2);
    if (extra)
        mq__ws_queue_raw(ws, extra, strlen(extra));
    mq__ws_queue_raw(ws, tail, sizeof tail - 1);
    ws->state = MQ_WS_DONE;
    return MQ_ECLOSED;
}

typedef struct mq__ws_req {
    const char *path;
    size_t path_len;
    bool upgrade, connection, version13, have_version;
    const char *key;
    size_t key_len;
    int keys;
    bool offered_proto, offered_mqtt, offered_mqttv31;
} mq__ws_req_t;

static void mq__ws_header(mq__ws_req_t *r, const char *name, size_t nlen, const char *v,
                          size_t vlen)
{
    if (mq__ws_ieq(name, nlen, "upgrade")) {
        r->upgrade = r->upgrade || mq__ws_list_has(v, vlen, "websocket");
    } else if (mq__ws_ieq(name, nlen, "connection")) {
        r->connection = r->connection || mq__ws_list_has(v, vlen, "upgrade");
    } else if (mq__ws_ieq(name, nlen, "sec-websocket-version")) {
        r->have_version = true;
        r->version13 = vlen == 2 && v[0] == '1' && v[1] == '3';
    } else if (mq__ws_ieq(name, nlen, "sec-websocket-key")) {
        r->key = v;
        r->key_len = vlen;
        r->keys++;
    } else if (mq__ws_ieq(name, nlen, "sec-websocket-protocol")) {
        r->offered_proto = true;
        r->offered_mqtt = r->offered_mqtt || mq__ws_list_has(v, vlen, "mqtt");
        r->offered_mqttv31 = r->offered_mqttv31 || mq__ws_list_has(v, vlen, "mqttv3.1");
    }
}

/* Parses req[0..len) (ends with the blank line) and queues the answer. */
static int mq__ws_upgrade(mq_ws_t *ws, const char *req, size_t len)
{
    mq__ws_req_t r;
    const char *p = req, *end = req + len;
    const char *eol, *sp1, *sp2;
    char accept[29];
    const char *cfg_path = ws->cfg->path;

    memset(&r, 0, sizeof r);
    /* request line: GET SP request-target SP HTTP/1.1 */
    eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol || eol == p || eol[-1] != '\r')
        return mq__ws_http_error(ws, "400 Bad Request", NULL);
    sp1 = memchr(p, ' ', (size_t)(eol - p));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp2 == sp1 + 1)
        return mq__ws_http_error(ws, "400 Bad Request", NULL);
    if (sp1 - p != 3 || memcmp(p, "GET", 3) != 0)
        return mq__ws_http_error(ws, "405 Method Not Allowed", "Allow: GET\r\n");
    /* RFC 6455 4.1: HTTP/1.1 or higher */
    if ((eol - 1) - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '1' ||
        sp2[8] > '9')
        return mq__ws_http_error(ws, "400 Bad Request", NULL);
    r.path = sp1 + 1;
    r.path_len = (size_t)(sp2 - sp1 - 1);
    {
        const char *q = memchr(r.path, '?', r.path_len);

        if (q)
            r.path_len = (size_t)(q - r.path);
    }
    /* header fields */
    for (p = eol + 1; p < end; p = eol + 1) {
        const char *colon, *v, *vend;

        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || eol == p || eol[-1] != '\r')
            return mq__ws_http_error(ws, "400 Bad Request", NULL);
        if (eol - 1 == p)
            break; /* the blank line */
        colon = memchr(p, ':', (size_t)(eol - 1 - p));
        /* no name, or obsolete line folding (RFC 9110 5.5: reject) */
        if (!colon || colon == p || *p == ' ' || *p == '\t')
            return mq__ws_http_error(ws, "400 Bad Request", NULL);
        for (const char *n = p; n < colon; n++)
            if (*n == ' ' || *n == '\t')
                return mq__ws_http_error(ws, "400 Bad Request", NULL);
        v = colon + 1;
        vend = eol - 1;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        mq__ws_header(&r, p, (size_t)(colon - p), v, (size_t)(vend - v));
    }
    if (!r.upgrade || !r.connection)
        return mq__ws_http_error(ws, "426 Upgrade Required",
                                 "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
    if (!r.have_version || !r.version13)
        return mq__ws_http_error(ws, "426 Upgrade Required",
                                 "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
    if (r.keys != 1 || !mq__ws_key_valid(r.key, r.key_len))
        return mq__ws_http_error(ws, "400 Bad Request", NULL);
    if (cfg_path && cfg_path[0] &&
        (r.path_len != strlen(cfg_path) || memcmp(r.path, cfg_path, r.path_len) != 0))
        return mq__ws_http_error(ws, "404 Not Found", NULL);
    if (r.offered_proto && !r.offered_mqtt && !r.offered_mqttv31)
        return mq__ws_http_error(ws, "400 Bad Request", NULL);

    if (!mq_ws_accept_key(ws->cfg->sha1, ws->cfg->sha1_ctx, r.key, r.key_len, accept))
        return mq__ws_http_error(ws, "400 Bad Request", NULL);
    ws->out_len = 0;
    {
        static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: ";
        mq__ws_queue_raw(ws, head, sizeof head - 1);
        mq__ws_queue_raw(ws, accept, 28);
        mq__ws_queue_raw(ws, "\r\n", 2);
        if (r.offered_mqtt)
            mq__ws_queue_raw(ws, "Sec-WebSocket-Protocol: mqtt\r\n", 30);
        else if (r.offered_mqttv31)
            mq__ws_queue_raw(ws, "Sec-WebSocket-Protocol: mqttv3.1\r\n", 34);
        mq__ws_queue_raw(ws, "\r\n", 2);
    }
    ws->upgraded = true;
    ws->state = MQ_WS_OPEN;
    ws->req = NULL; /* the caller may free it now */
    ws->req_len = ws->req_cap = 0;
    return MQ_OK;
}

/* Not HTTP at all (e.g. MQTT sent to a WebSocket port): the request line
 * must start with a method token of capital letters and a space; answer at
 * once rather than wait for a blank line that never comes. */
static bool mq__ws_not_http(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && i <= 8; i++) {
        if (p[i] == ' ' && i > 0)
            return false;
        if (p[i] < 'A' || p[i] > 'Z' || i == 8)
            return true;
    }
    return false;
}

/* Collects request bytes; returns how many of data[0..len) it took (the
 * rest are frames), and the status in *rc. */
static size_t mq__ws_handshake(mq_ws_t *ws, const uint8_t *data, size_t len, int *rc)
{
    size_t from = ws->req_len > 3 ? ws->req_len - 3 : 0;
    size_t take;

    *rc = MQ_OK;
    if (ws->req_len == 0) {
        /* The usual case: the whole request in one read, parsed where it
         * lies, no buffer needed. */
        size_t lim = len < ws->req_max ? len : ws->req_max;

        for (size_t i = 0; i + 4 <= lim; i++)
            if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
                *rc = mq__ws_upgrade(ws, (const char *)data, i + 4);
                return i + 4;
            }
        if (mq__ws_not_http(data, len)) {
            *rc = mq__ws_http_error(ws, "400 Bad Request", NULL);
            return len;
        }
        if (!ws->req) {
            /* Without a buffer only a whole request is accepted. */
            *rc = mq__ws_http_error(ws, "431 Request Header Fields Too Large", NULL);
            return len;
        }
    }
    take = len < ws->req_cap - ws->req_len ? len : ws->req_cap - ws->req_len;
    memcpy(ws->req + ws->req_len, data, take);
    ws->req_len += take;
    if (mq__ws_not_http(ws->req, ws->req_len)) {
        *rc = mq__ws_http_error(ws, "400 Bad Request", NULL);
        return take;
    }
    for (size_t i = from; i + 4 <= ws->req_len; i++) {
        if (memcmp(ws->req + i, "\r\n\r\n", 4) == 0) {
            size_t used = i + 4 - (ws->req_len - take); /* bytes of data in the request */

            *rc = mq__ws_upgrade(ws, (const char *)ws->req, i + 4);
            return used;
        }
    }
    if (ws->req_len == ws->req_cap)
        *rc = mq__ws_http_error(ws, "431 Request Header Fields Too Large", NULL);
    return take;
}

/* ---- frames ------------------------------------------------------------ */

/* The header is complete: checks it and starts the payload. */
static int mq__ws_frame_start(mq_ws_t *ws)
{
    const uint8_t *h = ws->hdr;
    uint8_t opcode = h[0] & 0x0F;
    uint8_t len7 = h[1] & 0x7F;
    uint64_t len;
    size_t at = 2;

    if (h[0] & 0x70)
        return mq__ws_fail(ws, MQ_WS_CLOSE_PROTOCOL); /* RSV without extension */
    if (!(h[1] & 0x80))
        return mq__ws_fail(ws, MQ_WS_CLOSE_PROTOCOL); /* RFC 6455 5.1: unmasked */
    if (len7 == 126) {
        len = ((uint64_t)h[2] << 8) | h[3];
        at = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | h[2 + i];
        at = 10;
        if (len >> 63)
            return mq__ws_fail(ws, MQ_WS_CLOSE_PROTOCOL); /* 5.2: MSB must be 0 */
    } else {
        len = len7;
    }
    memcpy(ws->mask, h + at, 4); /* at + 4 <= MQ_WS_HEADER_MAX */
    ws->fin = (h[0] & 0x80) != 0;
    ws->opcode = opcode;
    switch (opcode) {
    case MQ__WS_OP_CLOSE:
    case MQ__WS_OP_PING:
    case MQ__WS_OP_PONG:
        if (!ws->fin || len > 125)
            return mq__ws_fail(ws, MQ_WS_CLOSE_PROTOCOL); /* 5.5 */
        break;
    case MQ__WS_OP_TEXT:
        return mq__ws_fail(ws, MQ_WS_CLOSE_UNSUPPORTED); /* MQTT travels in binary frames */
    case MQ__WS_OP_BINARY:
        if (ws->in_message)
            return mq__ws_fail(ws, MQ_WS_CLOSE_PROTOCOL); /* 5.4: interleaved message */
        break;
    case MQ__WS_OP_CONT:
        if (!ws->in_message)
            return mq__ws_fail(ws, MQ_WS_CLOSE_PROTOCOL); /* nothing to continue */
        break;
    default:
        return mq__ws_fail(ws, MQ_WS_CLOSE_PROTOCOL); /* reserved opcode */
    }
    if (opcode == MQ__WS_OP_BINARY || opcode == MQ__WS_OP_CONT) {
        if (ws->cfg->max_frame && len > ws->cfg->max_frame)
            return mq__ws_fail(ws, MQ_WS_CLOSE_TOO_BIG);
        ws->in_message = !ws->fin;
    }
    ws->left = len;
    ws->pos = 0;
    ws->ctl_len = 0;
    ws->in_payload = true;
    return MQ_OK;
}

/* The current frame's payload is complete. */
static int mq__ws_frame_end(mq_ws_t *ws)
{
    ws->in_payload = false;
    ws->hdr_len = 0;
    switch (ws->opcode) {
    case MQ__WS_OP_PING:
        /* 5.5.2: pong with the same payload; if the buffer is full (a flood
         * of pings the peer does not read the answers of), the pong is
         * dropped, as 5.5.3 allows answering only the latest ping. The last
         * 4 bytes stay free for a close frame. */
        if (ws->out_len + 2 + ws->ctl_len <= MQ_WS_OUT_MAX - 4 && !ws->close_sent)
            mq__ws_queue_frame(ws, MQ__WS_OP_PONG, ws->ctl, ws->ctl_len);
        return MQ_OK;
    case MQ__WS_OP_CLOSE:
        /* 5.5.1: a 1-byte body is invalid; otherwise answer (once). */
        if (ws->ctl_len == 1)
            return mq__ws_fail(ws, MQ_WS_CLOSE_PROTOCOL);
        if (!ws->close_sent) {
            mq__ws_queue_close(ws, MQ_WS_CLOSE_NORMAL);
            ws->close_code = 0;
        }
        ws->state = MQ_WS_DONE;
        return MQ_ECLOSED;
    default:
        return MQ_OK;
    }
}

static size_t mq__ws_header_need(const mq_ws_t *ws)
{
    uint8_t len7;

    if (ws->hdr_len < 2)
        return 2;
    len7 = ws->hdr[1] & 0x7F;
    /* An unmasked frame is refused as soon as its first two bytes are in. */
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((ws->hdr[1] & 0x80) ? 4 : 0);
}

int mq_ws_input(mq_ws_t *ws, uint8_t *data, size_t len, mq_ws_data_fn fn, void *ctx)
{
    int rc = MQ_OK;

    if (ws->state == MQ_WS_HANDSHAKE) {
        size_t used = mq__ws_handshake(ws, data, len, &rc);

        if (rc != MQ_OK || ws->state != MQ_WS_OPEN)
            return rc;
        data += used;
        len -= used;
    }
    while (len > 0) {
        if (ws->state != MQ_WS_OPEN)
            return MQ_ECLOSED;
        if (!ws->in_payload) {
            size_t need = mq__ws_header_need(ws);

            while (ws->hdr_len < need && len > 0) {
                ws->hdr[ws->hdr_len++] = *data++;
                len--;
                need = mq__ws_header_need(ws);
            }
            if (ws->hdr_len < need)
                return MQ_OK;
            if ((rc = mq__ws_frame_start(ws)) != MQ_OK)
                return rc;
        } else {
            size_t n = ws->left < len ? (size_t)ws->left : len;
            unsigned m = (unsigned)(ws->pos & 3);

            for (size_t i = 0; i < n; i++)
                data[i] ^= ws->mask[(m + i) & 3];
            if (ws->opcode & 0x8) {
                memcpy(ws->ctl + ws->ctl_len, data, n); /* left <= 125 */
                ws->ctl_len = (uint8_t)(ws->ctl_len + n);
            } else if (n > 0 && (rc = fn(ctx, data, n)) != 0) {
                ws->state = MQ_WS_DONE;
                return rc;
            }
            ws->pos += n;
            ws->left -= n;
            data += n;
            len -= n;
        }
        if (ws->in_payload && ws->left == 0 && (rc = mq__ws_frame_end(ws)) != MQ_OK)
            return rc;
    }
    return ws->state == MQ_WS_OPEN ? MQ_OK : MQ_ECLOSED;
}

/* ---- the rest of the API ----------------------------------------------- */

void mq_ws_init(mq_ws_t *ws, const mq_ws_config_t *cfg, uint8_t *req, size_t req_cap)
{
    memset(ws, 0, sizeof *ws);
    ws->cfg = cfg;
    ws->req = req;
    ws->req_cap = req ? req_cap : 0;
    ws->req_max = req_cap;
    ws->state = MQ_WS_HANDSHAKE;
}

bool mq_ws_needs_buffer(const mq_ws_t *ws, const uint8_t *data, size_t len)
{
    size_t lim = len < ws->req_max ? len : ws->req_max;

    if (ws->state != MQ_WS_HANDSHAKE || ws->req)
        return false;
    if (ws->req_len == 0)
        for (size_t i = 0; i + 4 <= lim; i++)
            if (memcmp(data + i, "\r\n\r\n", 4) == 0)
                return false;
    return len < ws->req_max;
}

void mq_ws_set_buffer(mq_ws_t *ws, uint8_t *req)
{
    ws->req = req;
    ws->req_cap = ws->req_max;
}

bool mq_ws_handshake_done(const mq_ws_t *ws)
{
    return ws->upgraded;
}

bool mq_ws_can_send(const mq_ws_t *ws)
{
    return ws->upgraded && !ws->close_sent;
}

const uint8_t *mq_ws_out(const mq_ws_t *ws, size_t *len)
{
    *len = ws->out_len;
    return ws->out;
}

void mq_ws_out_consume(mq_ws_t *ws, size_t n)
{
    if (n >= ws->out_len) {
        ws->out_len = 0;
        return;
    }
    memmove(ws->out, ws->out + n, ws->out_len - n);
    ws->out_len -= n;
}

void mq_ws_close(mq_ws_t *ws, uint16_t code)
{
    if (!ws->upgraded || ws->close_sent)
        return;
    mq__ws_queue_close(ws, code);
}

size_t mq_ws_frame_header(uint8_t hdr[10], uint64_t payload_len)
{
    hdr[0] = 0x80 | MQ__WS_OP_BINARY;
    if (payload_len < 126) {
        hdr[1] = (uint8_t)payload_len;
        return 2;
    }
    if (payload_len <= 0xFFFF) {
        hdr[1] = 126;
        hdr[2] = (uint8_t)(payload_len >> 8);
        hdr[3] = (uint8_t)payload_len;
        return 4;
    }
    hdr[1] = 127;
    for (int i = 0; i < 8; i++)
        hdr[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
    return 10;
}

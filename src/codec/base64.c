/*
 * base64 — RFC 4648 base64 with padding (see include/musqratt/base64.h).
 *
 * Used by the WebSocket handshake (Sec-WebSocket-Accept) and by the password
 * files ($7$/$6$ salts and hashes). Owns nothing; no system calls.
 */
#include "musqratt/base64.h"

static const char mq__b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int mq__b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int mq_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    size_t n = 0;

    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        size_t pad = 0;

        for (size_t j = 0; j < 4; j++) {
            if (in[i + j] == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad) /* "=" followed by data */
                return -1;
            v[j] = mq__b64_val(in[i + j]);
            if (v[j] < 0)
                return -1;
        }
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) |
                     (uint32_t)v[3];
        size_t k = 3 - pad;
        /* Canonical: the bits the padding hides must be zero. */
        if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
            return -1;
        if (n + k > cap)
            return -1;
        out[n++] = (uint8_t)(w >> 16);
        if (k > 1)
            out[n++] = (uint8_t)(w >> 8);
        if (k > 2)
            out[n++] = (uint8_t)w;
    }
    return (int)n;
}

int mq_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t need = (len + 2) / 3 * 4;
    size_t n = 0;

    if (cap < need + 1)
        return -1;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16;

        if (i + 1 < len)
            w |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            w |= in[i + 2];
        out[n++] = mq__b64[(w >> 18) & 63];
        out[n++] = mq__b64[(w >> 12) & 63];
        out[n++] = (char)(i + 1 < len ? mq__b64[(w >> 6) & 63] : '=');
        out[n++] = (char)(i + 2 < len ? mq__b64[w & 63] : '=');
    }
    out[n] = '\0';
    return (int)n;
}

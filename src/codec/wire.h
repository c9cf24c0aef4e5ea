/*
 * wire — byte-level helpers shared by the codec's .c files (internal).
 *
 * Owns: nothing. Pure inline functions over caller buffers: big-endian
 * 16-bit integers, the variable byte integer, and one UTF-8 sequence step.
 * Never allocates, never makes a system call, never reads past the length it
 * is given.
 *
 * Hot path: everything here is inlined into PUBLISH decode/encode and the
 * topic scanners, so each helper is small and branch-light.
 */
#ifndef MQ_CODEC_WIRE_H
#define MQ_CODEC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "musqratt/codec.h"
#include "musqratt/error.h"

static inline uint16_t mq__rd16(const uint8_t *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

static inline uint8_t *mq__wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

/*
 * Reads a variable byte integer (MQTT 3.1.1 section 2.2.3) from p[0..avail).
 * Non-minimal encodings are accepted: the standard only asks senders for the
 * minimum and says nothing about rejecting longer forms. A fifth byte is
 * malformed because the value would exceed 268435455.
 * Returns MQ_OK (with *value and *used set), MQ_EAGAIN when avail ends inside
 * the integer, or MQ_EMALFORMED.
 */
static inline int mq__varint_read(const uint8_t *p, size_t avail, uint32_t *value,
                                  uint32_t *used)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < 4; i++) {
        if (i >= avail)
            return MQ_EAGAIN;
        uint8_t b = p[i];
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *value = v;
            *used = i + 1;
            return MQ_OK;
        }
    }
    return MQ_EMALFORMED;
}

/*
 * Length of the well-formed UTF-8 sequence starting at s[i] (i < len), or 0
 * when it is ill-formed, after Unicode table 3-7 (RFC 3629): overlong forms,
 * surrogates U+D800..U+DFFF (MQTT-1.5.3-1) and code points above U+10FFFF
 * are rejected. U+0000 (MQTT-1.5.3-2) is rejected too.
 * Callers handle the ASCII case themselves for speed; this is the slow path.
 */
static inline size_t mq__utf8_seq(const uint8_t *s, size_t i, size_t len)
{
    uint8_t c = s[i];
    size_t left = len - i;
    if (c < 0x80)
        return c != 0 ? 1 : 0;
    if (c < 0xc2)
        return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xe0) {
        if (left < 2 || (s[i + 1] & 0xc0) != 0x80)
            return 0;
        return 2;
    }
    if (c < 0xf0) {
        if (left < 3)
            return 0;
        uint8_t c1 = s[i + 1];
        uint8_t lo = 0x80, hi = 0xbf;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
        if (c1 < lo || c1 > hi || (s[i + 2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c < 0xf5) {
        if (left < 4)
            return 0;
        uint8_t c1 = s[i + 1];
        uint8_t lo = 0x80, hi = 0xbf;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
        if (c1 < lo || c1 > hi || (s[i + 2] & 0xc0) != 0x80 || (s[i + 3] & 0xc0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* Shared by decode.c and utf8.c: one scan each, MQ_OK / MQ_EUTF8 / MQ_ETOPIC. */
int mq__topic_name_check(const uint8_t *s, size_t len);
int mq__topic_filter_check(const uint8_t *s, size_t len);
/* On a filter that passed mq__topic_filter_check: 0 for an ordinary filter,
 * 1 for a valid "$share/{ShareName}/{filter}", MQ_ETOPIC for a bad one. */
int mq__topic_shared_check(const uint8_t *s, size_t len);
int mq__utf8_check(const uint8_t *s, size_t len);

#endif

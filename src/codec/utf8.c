/*
 * utf8 — UTF-8, topic name and topic filter validation.
 *
 * Owns: nothing. Pure functions over caller bytes, no allocation, no system
 * calls. Used by the decoder (every string field), the broker and the config.
 *
 * Hot path: mq__topic_name_check runs on every PUBLISH. It makes a single
 * pass that checks UTF-8 and wildcards together, with an ASCII fast path so
 * that a typical topic costs one compare-and-branch per byte.
 */
#include <string.h>

#include "codec/wire.h"

/*
 * Word-at-a-time ASCII fast path: 8 bytes at once are "plain" when none has
 * the high bit, none is NUL, and none equals either wildcard. Any other word
 * drops to the byte loop for one character, which decides exactly.
 * has_zero() is the classic exact test for "some byte of v is 0".
 */
#define MQ__ONES 0x0101010101010101ull
#define MQ__HIGH 0x8080808080808080ull

static inline uint64_t has_zero(uint64_t v)
{
    return (v - MQ__ONES) & ~v & MQ__HIGH;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v)); /* one unaligned load; byte order is irrelevant */
    return v;
}

static inline bool plain_ascii8(uint64_t w)
{
    return !(w & MQ__HIGH) && !has_zero(w);
}

static inline bool plain_topic8(uint64_t w)
{
    return plain_ascii8(w) && !has_zero(w ^ (MQ__ONES * '+')) &&
           !has_zero(w ^ (MQ__ONES * '#'));
}

int mq__utf8_check(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && plain_ascii8(load64(s + i))) {
            i += 8;
            continue;
        }
        if (s[i] - 1u < 0x7fu) { /* 0x01..0x7f */
            i++;
            continue;
        }
        size_t n = mq__utf8_seq(s, i, len);
        if (n == 0)
            return MQ_EUTF8;
        i += n;
    }
    return MQ_OK;
}

int mq__topic_name_check(const uint8_t *s, size_t len)
{
    if (len == 0)
        return MQ_ETOPIC; /* MQTT-4.7.3-1 */
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && plain_topic8(load64(s + i))) {
            i += 8;
            continue;
        }
        uint8_t c = s[i];
        if (c - 1u < 0x7fu) {
            /* MQTT-3.3.2-2: no wildcards in a topic name. */
            if (c == '+' || c == '#')
                return MQ_ETOPIC;
            i++;
            continue;
        }
        size_t n = mq__utf8_seq(s, i, len);
        if (n == 0)
            return MQ_EUTF8;
        i += n;
    }
    return MQ_OK;
}

int mq__topic_filter_check(const uint8_t *s, size_t len)
{
    if (len == 0)
        return MQ_ETOPIC; /* MQTT-4.7.3-1 */
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && plain_topic8(load64(s + i))) {
            i += 8;
            continue;
        }
        uint8_t c = s[i];
        if (c - 1u < 0x7fu) {
            /* '+', '#' and '/' are ASCII and never occur inside a multi-byte
             * sequence, so looking at the neighbouring bytes is safe. */
            if (c == '+') {
                /* MQTT-4.7.1-3: '+' occupies an entire level. */
                if ((i > 0 && s[i - 1] != '/') || (i + 1 < len && s[i + 1] != '/'))
                    return MQ_ETOPIC;
            } else if (c == '#') {
                /* MQTT-4.7.1-2: '#' alone in its level and the last character. */
                if ((i > 0 && s[i - 1] != '/') || i + 1 != len)
                    return MQ_ETOPIC;
            }
            i++;
            continue;
        }
        size_t n = mq__utf8_seq(s, i, len);
        if (n == 0)
            return MQ_EUTF8;
        i += n;
    }
    return MQ_OK;
}

bool mq_utf8_valid(const uint8_t *s, size_t len)
{
    return mq__utf8_check(s, len) == MQ_OK;
}

bool mq_topic_name_valid(const uint8_t *s, size_t len)
{
    return mq__topic_name_check(s, len) == MQ_OK;
}

bool mq_topic_filter_valid(const uint8_t *s, size_t len)
{
    return mq__topic_filter_check(s, len) == MQ_OK;
}

/*
 * utf8 — UTF-8, topic name and topic filter validation.
 *
 * Owns: nothing. Pure functions over caller bytes, no allocation, no system
 * calls. Used by the decoder (every string field), the broker and the config.
 *
 * Also splits shared subscription filters (MQTT 5 section 4.8.2), which the
 * broker offers to MQTT 3.1.1 clients too.
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

#define MQ__SHARE_PREFIX "$share/"
#define MQ__SHARE_PREFIX_LEN 7u

/*
 * Locates the ShareName of a filter starting with "$share/". Returns false
 * for an invalid one: MQTT-4.8.2-1 (ShareName at least one character),
 * MQTT-4.8.2-2 (no '/', '+' or '#' in it, then '/' and a Topic Filter).
 * The '/' ends the ShareName by definition, so only '+' and '#' are scanned.
 */
static bool shared_parts(const uint8_t *s, size_t len, size_t *group_end)
{
    size_t i = MQ__SHARE_PREFIX_LEN;
    while (i < len && s[i] != '/') {
        if (s[i] == '+' || s[i] == '#')
            return false;
        i++;
    }
    if (i == MQ__SHARE_PREFIX_LEN || i + 1 >= len)
        return false; /* empty ShareName, or no '/' + non-empty filter after it */
    *group_end = i;
    return true;
}

static inline bool is_shared(const uint8_t *s, size_t len)
{
    return len >= MQ__SHARE_PREFIX_LEN && memcmp(s, MQ__SHARE_PREFIX, MQ__SHARE_PREFIX_LEN) == 0;
}

int mq__topic_shared_check(const uint8_t *s, size_t len)
{
    if (!is_shared(s, len))
        return 0;
    size_t g;
    /* The whole filter is already valid, and its levels after the ShareName
     * are the inner filter's levels, so the inner filter is valid too. */
    return shared_parts(s, len, &g) ? 1 : MQ_ETOPIC;
}

bool mq_topic_shared_split(const uint8_t *f, size_t len, mq_str_t *group, mq_str_t *filter)
{
    size_t g;
    if (f == NULL || !is_shared(f, len) || !shared_parts(f, len, &g) ||
        mq__utf8_check(f + MQ__SHARE_PREFIX_LEN, g - MQ__SHARE_PREFIX_LEN) != MQ_OK ||
        mq__topic_filter_check(f + g + 1, len - g - 1) != MQ_OK) {
        if (group) {
            group->ptr = NULL;
            group->len = 0;
        }
        if (filter) {
            filter->ptr = f;
            filter->len = (uint32_t)len;
        }
        return false;
    }
    if (group) {
        group->ptr = f + MQ__SHARE_PREFIX_LEN;
        group->len = (uint32_t)(g - MQ__SHARE_PREFIX_LEN);
    }
    if (filter) {
        filter->ptr = f + g + 1;
        filter->len = (uint32_t)(len - g - 1);
    }
    return true;
}

/*
 * musqratt — base64 (RFC 4648, standard alphabet, with padding).
 *
 * Portable, no allocation: the caller owns both buffers.
 */
#ifndef MUSQRATT_BASE64_H
#define MUSQRATT_BASE64_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Characters base64 needs for len bytes (without the NUL). */
#define MQ_BASE64_LEN(len) (((len) + 2) / 3 * 4)

/* Decodes in[0..len). Returns the bytes decoded, or -1 for input that is not
 * canonical base64 or would not fit in cap. */
int mq_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Encodes in[0..len) into out, NUL-terminated. Returns the characters
 * written (without the NUL), or -1 when cap is too small. */
int mq_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif

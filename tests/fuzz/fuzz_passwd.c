/*
 * fuzz_passwd — the password-file parser and the base64 codec.
 *
 * The input is a password file. Parsing must never crash, must give MQ_OK or
 * MQ_ECONFIG (NUL byte, overlong line), and must give back every byte it
 * allocated when freed. Every name in the file is looked up. The input's
 * bytes also go through base64: decode(encode(x)) == x, and decoding the
 * input itself must stay within its buffer. Passwords are not checked: a
 * fuzzed iteration count would make one check take minutes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/auth.h"
#include "musqratt/error.h"

#define CHECK(c)                                                                      \
    do {                                                                              \
        if (!(c)) {                                                                   \
            fprintf(stderr, "fuzz_passwd: check failed at line %d: %s\n", __LINE__, #c); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static size_t g_live;

static void *f_alloc(void *ctx, size_t n)
{
    (void)ctx;
    g_live += n;
    return malloc(n ? n : 1);
}

static void f_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (p)
        g_live -= n;
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mq_allocator_t a = {f_alloc, f_free, NULL};
    const char *text = (const char *)data;
    mq_passwd_t *pw = NULL;

    g_live = 0;
    int rc = mq_passwd_parse(&a, text, size, "fuzz", NULL, NULL, &pw);
    CHECK(rc == MQ_OK || rc == MQ_ECONFIG);
    CHECK((rc == MQ_OK) == (pw != NULL));
    if (pw) {
        size_t pos = 0;
        while (pos < size) {
            const char *nl = memchr(text + pos, '\n', size - pos);
            size_t end = nl ? (size_t)(nl - text) : size;
            const char *colon = memchr(text + pos, ':', end - pos);
            size_t n = colon ? (size_t)(colon - text) - pos : end - pos;
            (void)mq_passwd_has_user(pw, text + pos, n);
            pos = end + 1;
        }
        CHECK(mq_passwd_count(pw) <= size);
        mq_passwd_free(pw);
    }
    CHECK(g_live == 0);

    /* base64 */
    size_t elen = (size + 2) / 3 * 4 + 1;
    char *enc = malloc(elen);
    uint8_t *dec = malloc(size + 1);
    CHECK(mq_base64_encode(data, size, enc, elen) == (int)elen - 1);
    CHECK(mq_base64_decode(enc, elen - 1, dec, size + 1) == (int)size);
    CHECK(size == 0 || memcmp(dec, data, size) == 0);
    free(enc);
    uint8_t out[64];
    int d = mq_base64_decode(text, size, out, sizeof out);
    CHECK(d >= -1 && d <= (int)sizeof out);
    free(dec);
    return 0;
}

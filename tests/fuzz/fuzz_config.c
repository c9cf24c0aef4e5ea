/*
 * fuzz_config — the mosquitto.conf parser on arbitrary text.
 *
 * The parser must never crash, read outside the text, or leave the
 * configuration inconsistent, whatever the bytes (NULs, CR, overlong lines,
 * huge numbers). Checked after every input: every diagnostic is a
 * NUL-terminated string of bounded length with a line number inside the
 * text, an error is reported whenever the parser returns MQ_ECONFIG and
 * never when it returns MQ_OK, and the listener count stays within its array.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/config.h"
#include "musqratt/error.h"

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "fuzz_config: check failed at line %d: %s\n", __LINE__, #c); \
            abort();                                                              \
        }                                                                         \
    } while (0)

typedef struct {
    unsigned errors;
    unsigned lines; /* lines in the input (an upper bound for line numbers) */
} fz_diag_t;

static void fz_diag(void *ctx, const char *file, unsigned line, bool is_error, const char *msg)
{
    fz_diag_t *d = ctx;

    CHECK(file && strcmp(file, "fuzz.conf") == 0);
    CHECK(msg && strlen(msg) < 4096);
    CHECK(line >= 1 && line <= d->lines);
    if (is_error)
        d->errors++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy of exactly size bytes: ASan catches any over-read. */
    char *text = malloc(size ? size : 1);
    mq_config_t *cfg = malloc(sizeof *cfg);
    fz_diag_t d = {0, 1};
    int rc;

    CHECK(text && cfg);
    if (size)
        memcpy(text, data, size);
    for (size_t i = 0; i < size; i++)
        if (text[i] == '\n')
            d.lines++;
    mq_config_init(cfg);
    rc = mq_config_parse(cfg, text, size, "fuzz.conf", fz_diag, &d);
    CHECK(rc == MQ_OK || rc == MQ_ECONFIG);
    CHECK((rc == MQ_ECONFIG) == (d.errors > 0));
    CHECK(cfg->n_listeners <= MQ_CONFIG_MAX_LISTENERS);
    free(cfg);
    free(text);
    return 0;
}

/*
 * fuzz_config — libFuzzer driver for the mosquitto.conf parser (config.c).
 *
 * Input: configuration text, copied into an exact-size heap buffer (not
 * NUL-terminated) so that AddressSanitizer flags any read past it. It is
 * parsed as a main file whose include_dir callback feeds the same text back
 * as an included file (so include_dir in it must be refused there). Checks:
 *  - the result is MQ_OK or MQ_ECONFIG, and MQ_ECONFIG iff an error was
 *    reported; every diagnostic names a file, a line within the text and a
 *    NUL-terminated message;
 *  - every string field of the configuration is NUL-terminated within its
 *    array, listener counts and indexes stay in range.
 * Any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/config.h"
#include "musqratt/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                     \
        }                                                                                \
    } while (0)

typedef struct state {
    const char *text;
    size_t len;
    unsigned lines;
    unsigned errors;
    unsigned includes;
} state_t;

static void diag(void *ctx, const char *file, unsigned line, bool is_error, const char *msg)
{
    state_t *st = ctx;

    CHECK(file && (strcmp(file, "main.conf") == 0 || strcmp(file, "inc.conf") == 0));
    CHECK(line >= 1 && line <= st->lines);
    CHECK(strlen(msg) < 256);
    if (is_error)
        st->errors++;
}

static int include(const mq_config_io_t *io, mq_config_t *cfg, const char *dir,
                   const char *file, unsigned line)
{
    state_t *st = io->include_ctx;

    CHECK(io->depth == 0);
    CHECK(strlen(dir) < MQ_CONFIG_PATH_MAX);
    CHECK(strcmp(file, "main.conf") == 0);
    st->includes++;
    return mq_config_parse_include(cfg, st->text, st->len, "inc.conf", io);
}

static void check_str(const char *s, size_t cap)
{
    CHECK(memchr(s, '\0', cap) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    mq_config_t *cfg = malloc(sizeof *cfg);
    state_t st = {0};
    mq_config_io_t io;
    int rc;

    CHECK(text && cfg);
    memcpy(text, data, size);
    st.text = text;
    st.len = size;
    st.lines = 1;
    for (size_t i = 0; i < size; i++)
        st.lines += text[i] == '\n';
    memset(&io, 0, sizeof io);
    io.diag = diag;
    io.diag_ctx = &st;
    io.include = include;
    io.include_ctx = &st;
    mq_config_init(cfg);
    rc = mq_config_parse_io(cfg, text, size, "main.conf", &io);
    CHECK(rc == MQ_OK || rc == MQ_ECONFIG);
    CHECK((rc == MQ_ECONFIG) == (st.errors > 0));
    CHECK(cfg->n_listeners <= MQ_CONFIG_MAX_LISTENERS);
    CHECK(cfg->cur_listener < (int)cfg->n_listeners);
    CHECK(cfg->default_listener < (int)cfg->n_listeners);
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const mq_listener_config_t *l = &cfg->listeners[i];

        check_str(l->address, sizeof l->address);
        check_str(l->socket_path, sizeof l->socket_path);
        check_str(l->bind_interface, sizeof l->bind_interface);
        CHECK(l->domain == MQ_DOMAIN_ANY || l->domain == MQ_DOMAIN_IPV4 ||
              l->domain == MQ_DOMAIN_IPV6);
    }
    check_str(cfg->log_file, sizeof cfg->log_file);
    check_str(cfg->log_timestamp_format, sizeof cfg->log_timestamp_format);
    check_str(cfg->pid_file, sizeof cfg->pid_file);
    check_str(cfg->user, sizeof cfg->user);
    check_str(cfg->response_information, sizeof cfg->response_information);
    CHECK(cfg->log_facility <= 7 || cfg->log_facility == 255);
    free(cfg);
    free(text);
    return 0;
}

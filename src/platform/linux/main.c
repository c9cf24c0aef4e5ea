/*
 * main — the musqratt binary: command line, configuration, startup, shutdown.
 *
 * Owns: the configuration (read from -c FILE and the options), the broker and
 * the loop for the life of the process.
 * Never: anything per packet; once the loop runs, main only waits for it.
 *
 * Command line (Mosquitto's):
 *   -c FILE        configuration file (mosquitto.conf syntax)
 *   -p PORT        listen on PORT (repeatable); without -c only on 127.0.0.1,
 *                  like Mosquitto 2's local-only mode; 0 = ephemeral port
 *   -v             verbose (debug lines)
 *   --test-config  check the configuration, print every problem, exit 0/1
 *   -h, --help     usage
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "musqratt/broker.h"
#include "musqratt/config.h"
#include "musqratt/error.h"
#include "sys.h"

/* A configuration file larger than this is surely not one. */
#define MQ_LINUX_CONFIG_MAX (16u * 1024 * 1024)
#define MQ_LINUX_MAX_LISTEN_FDS 64
#ifndef MQ_VERSION
#define MQ_VERSION "unknown"
#endif

static void mq_linux_usage(FILE *out)
{
    fprintf(out,
            "usage: musqratt [-c FILE] [-p PORT]... [-v] [--test-config] [-h]\n"
            "  -c FILE        read the configuration (mosquitto.conf syntax) from FILE\n"
            "  -p PORT        listen on PORT; repeatable; without -c only on 127.0.0.1;\n"
            "                 0 picks a free port\n"
            "  -v             verbose: log debug messages\n"
            "  --test-config  check the configuration, print every problem, exit 0 or 1\n"
            "  -h, --help     print this help\n"
            "With no listener configured, musqratt listens on 127.0.0.1:1883.\n");
}

static void mq_linux_config_diag(void *ctx, const char *file, unsigned line, bool is_error,
                                 const char *msg)
{
    fprintf(stderr, "musqratt: %s:%u: %s: %s\n", file, line, is_error ? "error" : "warning",
            msg);
}

/* Reads the whole file into a new buffer (freed by the caller). */
static char *mq_linux_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        fprintf(stderr, "musqratt: error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;

        if (n == cap) {
            char *nb;

            if (cap >= MQ_LINUX_CONFIG_MAX) {
                fprintf(stderr, "musqratt: error: %s is larger than %u bytes\n", path,
                        MQ_LINUX_CONFIG_MAX);
                goto fail;
            }
            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "musqratt: error: out of memory reading %s\n", path);
                goto fail;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                fprintf(stderr, "musqratt: error: cannot read %s: %s\n", path,
                        strerror(errno));
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf ? buf : calloc(1, 1);
fail:
    fclose(f);
    free(buf);
    return NULL;
}

static bool mq_linux_parse_port(const char *s, uint16_t *port)
{
    unsigned long v;
    char *end;

    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

int main(int argc, char **argv)
{
    mq_config_t cfg;
    mq_linux_log_t log = {false};
    mq_platform_t platform;
    mq_broker_t *b = NULL;
    mq_linux_loop_t *loop = NULL;
    const char *config_file = NULL;
    uint16_t ports[MQ_CONFIG_MAX_LISTENERS];
    size_t n_ports = 0;
    bool verbose = false, test_config = false, bad = false;
    int fds[MQ_LINUX_MAX_LISTEN_FDS];
    uint32_t fd_rates[MQ_LINUX_MAX_LISTEN_FDS]; /* max_connection_rate of each */
    size_t n_fds = 0;
    mq_linux_metrics_t *metrics = NULL;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "-c") || !strcmp(a, "--config-file")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "musqratt: error: %s needs a file name\n", a);
                return 1;
            }
            config_file = argv[++i];
        } else if (!strcmp(a, "-p") || !strcmp(a, "--port")) {
            uint16_t port;

            if (i + 1 >= argc || !mq_linux_parse_port(argv[i + 1], &port)) {
                fprintf(stderr, "musqratt: error: %s needs a port number (0..65535)\n", a);
                return 1;
            }
            i++;
            if (n_ports == MQ_CONFIG_MAX_LISTENERS) {
                fprintf(stderr, "musqratt: error: at most %d -p options\n",
                        MQ_CONFIG_MAX_LISTENERS);
                return 1;
            }
            ports[n_ports++] = port;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else if (!strcmp(a, "--test-config")) {
            test_config = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            mq_linux_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "musqratt: error: unknown option '%s'\n", a);
            mq_linux_usage(stderr);
            return 1;
        }
    }

    mq_config_init(&cfg);
    if (config_file) {
        size_t len;
        char *text = mq_linux_read_file(config_file, &len);

        if (!text)
            return 1;
        if (mq_config_parse(&cfg, text, len, config_file, mq_linux_config_diag, NULL) != MQ_OK)
            bad = true;
        free(text);
    }
    for (size_t i = 0; i < n_ports; i++) {
        /* Mosquitto 2: without a configuration file, stay local-only. */
        if (mq_config_add_listener(&cfg, config_file ? "" : "127.0.0.1", ports[i]) != MQ_OK) {
            fprintf(stderr, "musqratt: error: too many listeners (at most %d)\n",
                    MQ_CONFIG_MAX_LISTENERS);
            bad = true;
            break;
        }
    }
    if (bad) {
        fprintf(stderr, "musqratt: error: the configuration has errors\n");
        return 1;
    }
    if (test_config) {
        fprintf(stderr, "musqratt: configuration OK\n");
        return 0;
    }
    if (cfg.n_listeners == 0)
        mq_config_add_listener(&cfg, "127.0.0.1", 1883);
    if (verbose)
        cfg.verbose = true;
    log.verbose = cfg.verbose;

    mq_linux_platform(&platform, &log);
    /* $SYS/broker/version and uptime. */
    cfg.broker.start_time = mq_linux_now();
    cfg.broker.version = "musqratt version " MQ_VERSION;
    b = mq_broker_new(&platform, &cfg.broker);
    if (!b) {
        mq_linux_logf(&log, MQ_LOG_ERR, "cannot create the broker: out of memory");
        return 1;
    }
    loop = mq_linux_loop_new(b, &log);
    if (!loop)
        goto out;
    for (size_t i = 0; i < cfg.n_listeners; i++) {
        const mq_listener_config_t *lc = &cfg.listeners[i];
        size_t first = n_fds;

        if (mq_linux_listen(lc, fds, MQ_LINUX_MAX_LISTEN_FDS, &n_fds, &log) != MQ_OK)
            goto out;
        while (first < n_fds)
            fd_rates[first++] =
                lc->connection_rate_set ? lc->max_connection_rate : cfg.max_connection_rate;
    }
    for (size_t i = 0; i < n_fds; i++) {
        int fd = fds[i];

        fds[i] = -1; /* the loop owns it now, even on failure */
        if (mq_linux_loop_add_listener(loop, fd) != MQ_OK)
            goto out;
        if (fd_rates[i])
            mq_linux_loop_set_connection_rate(loop, fd, fd_rates[i]);
    }
    n_fds = 0;
    if (cfg.metrics_enabled) {
        metrics = mq_linux_metrics_new(loop, b, cfg.metrics_address, cfg.metrics_port,
                                       cfg.broker.start_time, &log);
        if (!metrics)
            goto out;
    }
    mq_linux_logf(&log, MQ_LOG_NOTICE, "musqratt running");
    if (mq_linux_loop_run(loop) == MQ_OK)
        status = 0;
out:
    for (size_t i = 0; i < n_fds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    mq_linux_metrics_free(metrics);
    mq_linux_loop_free(loop);
    mq_broker_free(b);
    return status;
}

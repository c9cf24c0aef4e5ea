/*
 * main — the musqratt binary: command line, configuration, startup, shutdown.
 *
 * Owns: the runtime (configuration, log, listeners: runtime.h), the broker
 * and the loop for the life of the process.
 * Never: anything per packet; once the loop runs, main only waits for it.
 *
 * Command line (Mosquitto's):
 *   -c FILE        configuration file (mosquitto.conf syntax)
 *   -p PORT        listen on PORT (repeatable); without -c only on 127.0.0.1,
 *                  like Mosquitto 2's local-only mode; 0 = ephemeral port
 *   -d             run in the background (after the listeners are open)
 *   -v             verbose (every log type)
 *   --test-config  check the configuration, print every problem, exit 0/1
 *   -h, --help     usage
 *
 * Startup order: configuration -> log file -> listening sockets (errors
 * still on the terminal) -> -d fork -> pid_file -> drop privileges (user)
 * -> broker and loop -> READY=1 (systemd) -> run -> STOPPING=1 -> cleanup.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conffile.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "musqratt/broker.h"
#include "musqratt/config.h"
#include "musqratt/error.h"
#include "notify.h"
#include "process.h"
#include "runtime.h"
#include "sys.h"
#include "xport.h"

#ifndef MQ_VERSION
#define MQ_VERSION "unknown"
#endif

static void mq_linux_usage(FILE *out)
{
    fprintf(out,
            "usage: musqratt [-c FILE] [-p PORT]... [-d] [-v] [--test-config] [-h]\n"
            "  -c FILE        read the configuration (mosquitto.conf syntax) from FILE\n"
            "  -p PORT        listen on PORT; repeatable; without -c only on 127.0.0.1;\n"
            "                 0 picks a free port\n"
            "  -d             run in the background once the listeners are open\n"
            "  -v             verbose: log every type of message (log_type all)\n"
            "  --test-config  check the configuration, print every problem, exit 0 or 1\n"
            "  -h, --help     print this help\n"
            "With no listener configured, musqratt listens on 127.0.0.1:1883.\n"
            "Signals: SIGHUP reloads the configuration, SIGUSR1 logs statistics,\n"
            "SIGUSR2 toggles debug logging, SIGINT/SIGTERM stop the broker.\n");
}

static void mq_linux_config_diag(void *ctx, const char *file, unsigned line, bool is_error,
                                 const char *msg)
{
    if (line == 0)
        fprintf(stderr, "musqratt: %s: %s\n", is_error ? "error" : "warning", msg);
    else
        fprintf(stderr, "musqratt: %s:%u: %s: %s\n", file, line,
                is_error ? "error" : "warning", msg);
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

/* Returns -1 to go on, else the exit status. */
static int mq_linux_args(mq_linux_runtime_t *rt, int argc, char **argv, bool *test_config,
                         bool *daemon)
{
    const char *config_file = NULL;

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
            if (rt->n_ports == MQ_CONFIG_MAX_LISTENERS) {
                fprintf(stderr, "musqratt: error: at most %d -p options\n",
                        MQ_CONFIG_MAX_LISTENERS);
                return 1;
            }
            rt->ports[rt->n_ports++] = port;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            rt->verbose = true;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--daemon")) {
            *daemon = true;
        } else if (!strcmp(a, "--test-config")) {
            *test_config = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            mq_linux_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "musqratt: error: unknown option '%s'\n", a);
            mq_linux_usage(stderr);
            return 1;
        }
    }
    if (!getcwd(rt->cwd, sizeof rt->cwd)) {
        fprintf(stderr, "musqratt: error: getcwd: %s\n", strerror(errno));
        return 1;
    }
    /* Absolute, so that SIGHUP still finds it after -d's chdir("/"). */
    if (config_file && !mq_linux_path_join(rt->cwd, config_file, rt->config_file,
                                           sizeof rt->config_file)) {
        fprintf(stderr, "musqratt: error: configuration file path too long\n");
        return 1;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static mq_linux_runtime_t rt; /* large (paths, tables): not on the stack */
    mq_platform_t platform;
    char pid_path[PATH_MAX] = "";
    bool test_config = false, daemon = false;
    int ready_fd = -1;
    int status = 1;
    int rc;
    mq_linux_metrics_t *metrics = NULL;

    mq_linux_log_init(&rt.log);
    rc = mq_linux_args(&rt, argc, argv, &test_config, &daemon);
    if (rc >= 0)
        return rc;

    rt.cfg = malloc(sizeof *rt.cfg);
    if (!rt.cfg) {
        fprintf(stderr, "musqratt: error: out of memory\n");
        return 1;
    }
    rt.boot_cfg = rt.cfg;
    rc = mq_linux_runtime_load(&rt, rt.cfg, mq_linux_config_diag, NULL);
    if (rc != MQ_OK) {
        if (rc == MQ_ECONFIG)
            fprintf(stderr, "musqratt: error: the configuration has errors\n");
        free(rt.cfg);
        return 1;
    }
    if (test_config) {
        fprintf(stderr, "musqratt: configuration OK\n");
        free(rt.cfg);
        return 0;
    }
    /* As in Mosquitto, a log file that cannot be opened stops the start. */
    if (mq_linux_runtime_log(&rt) != MQ_OK)
        goto out;
    if (mq_linux_runtime_listen(&rt) != MQ_OK)
        goto out;
    if (daemon && mq_linux_daemonize(&ready_fd, &rt.log) != MQ_OK)
        goto out;
    if (rt.cfg->pid_file[0]) {
        if (!mq_linux_path_join(rt.cwd, rt.cfg->pid_file, pid_path, sizeof pid_path) ||
            mq_linux_pid_file_write(pid_path, &rt.log) != MQ_OK) {
            pid_path[0] = '\0';
            goto out;
        }
    }
    /* password_file / acl_file: read before privileges are dropped (like
     * the listening sockets), installed as hooks into the broker config. */
    if (mq_linux_auth_new(rt.boot_cfg, &rt.log, &rt.auth) != MQ_OK) {
        mq_linux_logf(&rt.log, MQ_LOG_ERR, "cannot load the password or ACL files");
        goto out;
    }
    if (mq_linux_drop_privileges(rt.cfg->user, &rt.log) != MQ_OK)
        goto out;

    mq_linux_platform(&platform, &rt.log);
    /* $SYS/broker/version and uptime. */
    rt.boot_cfg->broker.start_time = mq_linux_now();
    rt.boot_cfg->broker.version = "musqratt version " MQ_VERSION;
    rt.b = mq_broker_new(&platform, &rt.boot_cfg->broker);
    if (!rt.b) {
        mq_linux_logf(&rt.log, MQ_LOG_ERR, "cannot create the broker: out of memory");
        goto out;
    }
    rt.loop = mq_linux_loop_new(rt.b, &rt.log);
    if (!rt.loop || mq_linux_runtime_attach(&rt) != MQ_OK)
        goto out;
    if (rt.boot_cfg->metrics_enabled) {
        metrics = mq_linux_metrics_new(rt.loop, rt.b, rt.boot_cfg->metrics_address,
                                       rt.boot_cfg->metrics_port,
                                       rt.boot_cfg->broker.start_time, &rt.log);
        if (!metrics)
            goto out;
    }
    mq_linux_logf(&rt.log, MQ_LOG_NOTICE, "musqratt running");
    {
        char ready[64];

        snprintf(ready, sizeof ready, "READY=1\nMAINPID=%ld", (long)getpid());
        mq_linux_notify(&rt.log, ready);
    }
    if (daemon) {
        mq_linux_daemon_ready(ready_fd);
        ready_fd = -1;
    }
    if (mq_linux_loop_run(rt.loop) == MQ_OK)
        status = 0;
    mq_linux_notify(&rt.log, "STOPPING=1");
out:
    mq_linux_metrics_free(metrics); /* before the loop it is registered in */
    mq_linux_loop_free(rt.loop);
    mq_linux_runtime_close(&rt);
    mq_broker_free(rt.b);
    mq_linux_auth_free(rt.auth); /* after the broker, which borrowed it */
    if (pid_path[0])
        unlink(pid_path);
    mq_linux_log_close(&rt.log);
    if (rt.cfg != rt.boot_cfg)
        free(rt.cfg);
    free(rt.boot_cfg);
    if (ready_fd >= 0)
        close(ready_fd); /* the parent sees EOF: exit status 1 */
    return status;
}

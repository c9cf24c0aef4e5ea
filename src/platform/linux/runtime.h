/*
 * runtime — the running broker's configuration and listeners, and what
 * changes them while it runs: SIGHUP (reload), SIGUSR1, SIGUSR2.
 *
 * Owns: the configuration in force (cfg, heap), the one the broker was
 * created with (boot_cfg, kept for its borrowed strings), and the table of
 * open listeners (their sockets belong to the loop once attached).
 * Never: parses a directive (config.c) or touches a connection (loop.c).
 * Hot paths: none.
 *
 * Signals (handled after the event batch they arrive in):
 *   SIGHUP   reload: re-read the configuration file(s); on any error the
 *            old configuration stays in force and the errors are logged.
 *            Applied live: log settings (the log file is reopened, which
 *            also serves log rotation), listeners added or removed
 *            (existing connections are kept), per-listener max_connections,
 *            and whatever the other reloaders (password file, ACL, TLS
 *            certificates) take. Other settings need a restart (logged).
 *   SIGUSR1  logs the broker statistics (mq_broker_stats()).
 *   SIGUSR2  toggles debug logging on top of log_type.
 */
#ifndef MQ_PLATFORM_LINUX_RUNTIME_H
#define MQ_PLATFORM_LINUX_RUNTIME_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "loop.h"
#include "xport.h"
#include "musqratt/broker.h"
#include "musqratt/config.h"

/* Sockets one configured listener may open (IPv4 + IPv6 addresses). */
#define MQ_LINUX_FDS_PER_LISTENER 8

typedef struct mq_linux_open_listener {
    mq_listener_config_t lc; /* as configured (port 0 stays 0) */
    mq_linux_xport_listener_t *xl; /* TLS/WebSockets transport; NULL = plain TCP */
    uint16_t index;          /* mq_conn_listener() of its connections: the
                                position in the startup configuration (per-
                                listener authentication is fixed at startup) */
    int fds[MQ_LINUX_FDS_PER_LISTENER];
    size_t n_fds;
    bool attached;           /* fds belong to the loop */
} mq_linux_open_listener_t;

typedef struct mq_linux_runtime {
    /* From the command line. */
    char config_file[PATH_MAX]; /* absolute; "" = none */
    char cwd[PATH_MAX];         /* starting directory: relative paths resolve here */
    uint16_t ports[MQ_CONFIG_MAX_LISTENERS]; /* -p */
    size_t n_ports;
    bool verbose;               /* -v */
    /* State. */
    mq_config_t *cfg;           /* in force */
    mq_config_t *boot_cfg;      /* the broker's (it borrows response_information) */
    mq_linux_log_t log;
    mq_broker_t *b;
    mq_linux_loop_t *loop;
    struct mq_linux_auth *auth; /* password_file / acl_file (auth.h); NULL = none */
    mq_linux_open_listener_t open[MQ_CONFIG_MAX_LISTENERS];
    size_t n_open;
    /* Transports of listeners a reload removed: their connections may still
     * use them, so they are freed at exit, after the loop. */
    mq_linux_xport_listener_t **retired;
    size_t n_retired;
    unsigned reloads;           /* successful reloads so far */
} mq_linux_runtime_t;

/*
 * Builds a configuration from the command line and the configuration file:
 * mq_config_init, the file (with include_dir), the -p ports, and the
 * default listener 127.0.0.1:1883 when none is configured. Problems go to
 * diag. Returns MQ_OK, MQ_ECONFIG or MQ_EIO.
 */
int mq_linux_runtime_load(const mq_linux_runtime_t *rt, mq_config_t *cfg,
                          mq_config_diag_fn diag, void *diag_ctx);

/* Applies rt->cfg's log settings (opens the log file). */
int mq_linux_runtime_log(mq_linux_runtime_t *rt);

/* Opens every listener of rt->cfg (before the loop exists, so -d can fork
 * after the sockets are bound). MQ_OK, or an error (logged; none stays open). */
int mq_linux_runtime_listen(mq_linux_runtime_t *rt);

/* Hands the open listeners to rt->loop and sets the signal hook. */
int mq_linux_runtime_attach(mq_linux_runtime_t *rt);

/* SIGHUP: see above. */
void mq_linux_reload(mq_linux_runtime_t *rt);

/* Closes listeners not yet attached and removes unix socket files. The
 * loop closes the attached sockets when freed. */
void mq_linux_runtime_close(mq_linux_runtime_t *rt);

#endif

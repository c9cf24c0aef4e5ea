/*
 * runtime and reload — see runtime.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conffile.h"
#include "listener.h"
#include "musqratt/error.h"
#include "notify.h"
#include "auth.h"
#include "runtime.h"

int mq_linux_runtime_load(const mq_linux_runtime_t *rt, mq_config_t *cfg,
                          mq_config_diag_fn diag, void *diag_ctx)
{
    int rc = MQ_OK;

    mq_config_init(cfg);
    if (rt->config_file[0])
        rc = mq_linux_config_read(cfg, rt->config_file, rt->cwd, diag, diag_ctx);
    if (rc == MQ_EIO)
        return rc;
    for (size_t i = 0; i < rt->n_ports; i++) {
        /* Mosquitto 2: without a configuration file, stay local-only. */
        if (mq_config_add_listener(cfg, rt->config_file[0] ? "" : "127.0.0.1", rt->ports[i]) !=
            MQ_OK) {
            if (diag)
                diag(diag_ctx, "-p", 0, true, "too many listeners");
            return MQ_ECONFIG;
        }
    }
    if (rc == MQ_OK && cfg->n_listeners == 0)
        mq_config_add_listener(cfg, "127.0.0.1", 1883);
    return rc;
}

int mq_linux_runtime_log(mq_linux_runtime_t *rt)
{
    char path[PATH_MAX];
    const char *file = NULL;

    if (rt->cfg->log_file[0] && mq_linux_path_join(rt->cwd, rt->cfg->log_file, path, sizeof path))
        file = path;
    return mq_linux_log_configure(&rt->log, rt->cfg, rt->verbose, file);
}

/* ---- listeners ---------------------------------------------------------- */

/* Whether two listener configurations are the same sockets, so a reload
 * keeps the open ones. Other helpers' listener settings that need new
 * sockets (protocol, TLS) must be compared here too. */
/* Same socket and same transport settings (a TLS or protocol change reopens
 * the listener; a changed certificate file's content is a TLS reload). */
static bool mq_linux_listener_same(const mq_listener_config_t *a, const mq_listener_config_t *b)
{
    return a->port == b->port && strcmp(a->address, b->address) == 0 &&
           strcmp(a->socket_path, b->socket_path) == 0 && a->domain == b->domain &&
           strcmp(a->bind_interface, b->bind_interface) == 0 && a->protocol == b->protocol &&
           a->tls_version == b->tls_version && a->require_certificate == b->require_certificate &&
           a->use_identity_as_username == b->use_identity_as_username &&
           a->use_subject_as_username == b->use_subject_as_username &&
           strcmp(a->cafile, b->cafile) == 0 && strcmp(a->capath, b->capath) == 0 &&
           strcmp(a->certfile, b->certfile) == 0 && strcmp(a->keyfile, b->keyfile) == 0 &&
           strcmp(a->crlfile, b->crlfile) == 0 && strcmp(a->ciphers, b->ciphers) == 0 &&
           strcmp(a->ciphers_tls13, b->ciphers_tls13) == 0 &&
           strcmp(a->websockets_path, b->websockets_path) == 0;
}

static int mq_linux_open_one(mq_linux_runtime_t *rt, const mq_listener_config_t *lc,
                             uint16_t index, mq_linux_open_listener_t *ol)
{
    int rc;

    memset(ol, 0, sizeof *ol);
    ol->lc = *lc;
    ol->index = index;
    /* TLS files are loaded here: a bad one stops the start, naming it. */
    rc = mq_linux_xport_listener_new(lc, rt->boot_cfg->broker.max_packet_size, &rt->log,
                                     &ol->xl);
    if (rc != MQ_OK)
        return rc;
    rc = mq_linux_listen(lc, ol->fds, MQ_LINUX_FDS_PER_LISTENER, &ol->n_fds, &rt->log);
    if (rc != MQ_OK) {
        mq_linux_xport_listener_free(ol->xl);
        ol->xl = NULL;
    }
    return rc;
}

static int mq_linux_attach_one(mq_linux_runtime_t *rt, mq_linux_open_listener_t *ol)
{
    int rc = MQ_OK;

    for (size_t i = 0; i < ol->n_fds; i++) {
        int fd = ol->fds[i];

        if (fd < 0)
            continue;
        /* The loop owns the socket now, even on failure. */
        if (mq_linux_loop_add_listener(rt->loop, fd, ol->index, ol->xl) != MQ_OK) {
            ol->fds[i] = -1;
            rc = MQ_EIO;
            continue;
        }
        mq_linux_loop_listener_limit(rt->loop, fd, ol->lc.max_connections);
        {
            uint32_t rate = ol->lc.connection_rate_set ? ol->lc.max_connection_rate
                                                       : rt->cfg->max_connection_rate;
            if (rate)
                mq_linux_loop_set_connection_rate(rt->loop, fd, rate);
        }
    }
    ol->attached = true;
    return rc;
}

static void mq_linux_close_one(mq_linux_runtime_t *rt, mq_linux_open_listener_t *ol)
{
    for (size_t i = 0; i < ol->n_fds; i++) {
        if (ol->fds[i] < 0)
            continue;
        if (ol->attached && rt->loop)
            mq_linux_loop_remove_listener(rt->loop, ol->fds[i]);
        else if (!ol->attached)
            close(ol->fds[i]);
        ol->fds[i] = -1;
    }
    if (ol->lc.socket_path[0])
        unlink(ol->lc.socket_path);
    ol->n_fds = 0;
    if (ol->xl) {
        mq_linux_xport_listener_t **r = NULL;

        if (ol->attached)
            r = realloc(rt->retired, (rt->n_retired + 1) * sizeof *r);
        if (r) {
            rt->retired = r;
            rt->retired[rt->n_retired++] = ol->xl;
        } else if (!ol->attached) {
            mq_linux_xport_listener_free(ol->xl);
        } /* else: out of memory, kept alive (leaked) rather than freed in use */
        ol->xl = NULL;
    }
}

int mq_linux_runtime_listen(mq_linux_runtime_t *rt)
{
    rt->n_open = 0;
    for (size_t i = 0; i < rt->cfg->n_listeners; i++) {
        if (mq_linux_open_one(rt, &rt->cfg->listeners[i], (uint16_t)i, &rt->open[rt->n_open]) !=
            MQ_OK) {
            mq_linux_runtime_close(rt);
            return MQ_EIO;
        }
        rt->n_open++;
    }
    return MQ_OK;
}

static void mq_linux_on_signal(void *ctx, int signo);

int mq_linux_runtime_attach(mq_linux_runtime_t *rt)
{
    for (size_t i = 0; i < rt->n_open; i++)
        if (mq_linux_attach_one(rt, &rt->open[i]) != MQ_OK)
            return MQ_EIO;
    mq_linux_loop_on_signal(rt->loop, mq_linux_on_signal, rt);
    return MQ_OK;
}

void mq_linux_runtime_close(mq_linux_runtime_t *rt)
{
    for (size_t i = 0; i < rt->n_open; i++) {
        mq_linux_open_listener_t *ol = &rt->open[i];

        if (ol->attached) {
            /* The loop closes (or closed) the sockets; it is gone by now
             * (main frees it first), so the transport can go. */
            if (ol->lc.socket_path[0])
                unlink(ol->lc.socket_path);
            mq_linux_xport_listener_free(ol->xl);
            ol->xl = NULL;
            continue;
        }
        mq_linux_close_one(rt, ol);
    }
    rt->n_open = 0;
    for (size_t i = 0; i < rt->n_retired; i++)
        mq_linux_xport_listener_free(rt->retired[i]);
    free(rt->retired);
    rt->retired = NULL;
    rt->n_retired = 0;
}

/* Listeners of the new configuration: keep the same, open the new, close
 * the removed. A listener that fails to open is logged and left out (the
 * others still change). */
static void mq_linux_reload_listeners(mq_linux_runtime_t *rt, const mq_config_t *ncfg)
{
    mq_linux_open_listener_t next[MQ_CONFIG_MAX_LISTENERS];
    bool kept[MQ_CONFIG_MAX_LISTENERS] = {false};
    size_t n_next = 0;

    for (size_t i = 0; i < ncfg->n_listeners; i++) {
        const mq_listener_config_t *lc = &ncfg->listeners[i];
        size_t j;

        for (j = 0; j < rt->n_open; j++)
            if (!kept[j] && mq_linux_listener_same(&rt->open[j].lc, lc))
                break;
        if (j < rt->n_open) {
            kept[j] = true;
            next[n_next] = rt->open[j];
            next[n_next].lc.max_connections = lc->max_connections;
            for (size_t k = 0; k < next[n_next].n_fds; k++)
                if (next[n_next].fds[k] >= 0)
                    mq_linux_loop_listener_limit(rt->loop, next[n_next].fds[k],
                                                 lc->max_connections);
            n_next++;
            continue;
        }
        /* Per-listener authentication (password_file, acl_file) is set up
         * at startup for the startup listeners: a listener added by a
         * reload gets no policy of its own, so with per_listener_settings
         * its clients are refused (fail closed) until a restart. */
        if (ncfg->per_listener_settings)
            mq_linux_logf(&rt->log, MQ_LOG_WARNING,
                          "reload: new listener %u: per-listener authentication applies "
                          "after a restart; its clients are refused until then",
                          (unsigned)lc->port);
        if (mq_linux_open_one(rt, lc, ncfg->per_listener_settings ? UINT16_MAX : (uint16_t)i,
                              &next[n_next]) != MQ_OK) {
            mq_linux_logf(&rt->log, MQ_LOG_ERR, "reload: listener %u %s not opened",
                          (unsigned)lc->port, lc->socket_path[0] ? lc->socket_path : lc->address);
            continue;
        }
        mq_linux_attach_one(rt, &next[n_next]);
        mq_linux_logf(&rt->log, MQ_LOG_NOTICE, "reload: listener %u %s opened",
                      (unsigned)lc->port, lc->socket_path[0] ? lc->socket_path : lc->address);
        n_next++;
    }
    for (size_t j = 0; j < rt->n_open; j++) {
        if (kept[j])
            continue;
        mq_linux_logf(&rt->log, MQ_LOG_NOTICE, "reload: listener %u %s closed",
                      (unsigned)rt->open[j].lc.port,
                      rt->open[j].lc.socket_path[0] ? rt->open[j].lc.socket_path
                                                   : rt->open[j].lc.address);
        mq_linux_close_one(rt, &rt->open[j]);
    }
    memcpy(rt->open, next, n_next * sizeof next[0]);
    rt->n_open = n_next;
}

/* The broker's settings are fixed at startup: say which change needs a
 * restart. */
static void mq_linux_reload_restart_notes(mq_linux_runtime_t *rt, const mq_config_t *ncfg)
{
    mq_broker_config_t a, b;

    /* Byte copies, so that the padding (zeroed by mq_config_init) is
     * compared as it is, not as a struct assignment leaves it. */
    memcpy(&a, &rt->boot_cfg->broker, sizeof a);
    memcpy(&b, &ncfg->broker, sizeof b);
    /* Borrowed pointers and hooks: compare what they point to, not where. */
    a.response_information = b.response_information = NULL;
    a.auth = b.auth = NULL;
    a.auth_ctx = b.auth_ctx = NULL;
    a.enhanced_auth = b.enhanced_auth = NULL;
    a.enhanced_auth_ctx = b.enhanced_auth_ctx = NULL;
    a.acl = b.acl = NULL;
    a.acl_ctx = b.acl_ctx = NULL;
    /* NOLINTNEXTLINE(bugprone-suspicious-memory-comparison): padding is zeroed */
    if (memcmp(&a, &b, sizeof a) != 0 ||
        strcmp(rt->boot_cfg->response_information, ncfg->response_information) != 0)
        mq_linux_logf(&rt->log, MQ_LOG_WARNING,
                      "reload: broker settings (limits, queues, ...) changed; they take effect "
                      "at the next restart");
    if (strcmp(rt->boot_cfg->pid_file, ncfg->pid_file) != 0 ||
        strcmp(rt->boot_cfg->user, ncfg->user) != 0)
        mq_linux_logf(&rt->log, MQ_LOG_WARNING,
                      "reload: pid_file and user are not reloaded (as in Mosquitto)");
}

static void mq_linux_reload_diag(void *ctx, const char *file, unsigned line, bool is_error,
                                 const char *msg)
{
    mq_linux_runtime_t *rt = ctx;

    mq_linux_logf(&rt->log, is_error ? MQ_LOG_ERR : MQ_LOG_WARNING, "%s:%u: %s", file, line, msg);
}

void mq_linux_reload(mq_linux_runtime_t *rt)
{
    mq_config_t *ncfg = malloc(sizeof *ncfg);
    mq_config_t *old;

    mq_linux_notify_reloading(&rt->log);
    mq_linux_logf(&rt->log, MQ_LOG_NOTICE, "SIGHUP received, reloading %s",
                  rt->config_file[0] ? rt->config_file : "(no configuration file)");
    if (!ncfg) {
        mq_linux_logf(&rt->log, MQ_LOG_ERR, "reload: out of memory; configuration unchanged");
        goto done;
    }
    if (mq_linux_runtime_load(rt, ncfg, mq_linux_reload_diag, rt) != MQ_OK) {
        mq_linux_logf(&rt->log, MQ_LOG_ERR,
                      "reload: the configuration has errors (above); the previous one stays "
                      "in force");
        free(ncfg);
        goto done;
    }
    mq_linux_reload_restart_notes(rt, ncfg);
    old = rt->cfg;
    rt->cfg = ncfg;
    /* 1. Logging first, so the rest of the reload is logged the new way;
     *    the log file is reopened (log rotation). */
    mq_linux_runtime_log(rt);
    /* 2. Listeners: added ones opened, removed ones closed, connections kept. */
    mq_linux_reload_listeners(rt, ncfg);

    /* ==== 3. Other reloaders ====
     * Each keeps its previous state in force when its own files fail to
     * load, and logs why. The password and ACL files named at startup are
     * read again (their names, like the broker settings, change at a
     * restart); connected clients' subscriptions are checked again. */
    mq_linux_auth_reload(rt->auth, rt->b);
    /* Certificates, keys and CRLs of the TLS listeners kept open: new
     * connections get the new ones, existing ones keep theirs. */
    mq_linux_loop_tls_reload(rt->loop);
    /* ==== end of other reloaders ==== */

    if (old != rt->boot_cfg)
        free(old);
    rt->reloads++;
    mq_linux_logf(&rt->log, MQ_LOG_NOTICE, "configuration reloaded");
done:
    mq_linux_notify(&rt->log, "READY=1");
}

/* ---- signals ------------------------------------------------------------ */

static void mq_linux_log_stats(mq_linux_runtime_t *rt)
{
    mq_broker_stats_t st;

    mq_broker_stats(rt->b, &st);
    mq_linux_logf(&rt->log, MQ_LOG_NOTICE,
                  "stats: connections %llu, sessions %llu, subscriptions %llu, retained %llu, "
                  "messages received %llu sent %llu dropped %llu, bytes received %llu sent %llu, "
                  "memory %llu (peak %llu)",
                  (unsigned long long)st.connections, (unsigned long long)st.sessions,
                  (unsigned long long)st.subscriptions, (unsigned long long)st.retained,
                  (unsigned long long)st.msgs_received, (unsigned long long)st.msgs_sent,
                  (unsigned long long)st.msgs_dropped, (unsigned long long)st.bytes_received,
                  (unsigned long long)st.bytes_sent, (unsigned long long)st.memory_used,
                  (unsigned long long)st.memory_peak);
}

static void mq_linux_on_signal(void *ctx, int signo)
{
    mq_linux_runtime_t *rt = ctx;

    switch (signo) {
    case SIGHUP:
        mq_linux_reload(rt);
        break;
    case SIGUSR1:
        mq_linux_log_stats(rt);
        break;
    case SIGUSR2:
        rt->log.debug_forced = !rt->log.debug_forced;
        /* Logged at notice so that it shows either way. */
        mq_linux_logf(&rt->log, MQ_LOG_NOTICE, "SIGUSR2: debug logging %s",
                      rt->log.debug_forced ? "on" : "back to log_type");
        break;
    default:
        break;
    }
}

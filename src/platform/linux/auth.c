/*
 * auth — reads password and ACL files for src/auth (see auth.h).
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/auth.h"
#include "musqratt/error.h"
#include "sys.h"

/* A password or ACL file larger than this is surely not one. */
#define MQ_LINUX_AUTH_FILE_MAX (256u * 1024 * 1024)

struct mq_linux_auth {
    const mq_linux_log_t *log;
    mq_allocator_t alloc;
    mq_auth_t hooks;                                   /* the broker's auth_ctx / acl_ctx */
    mq_auth_policy_t pol[MQ_AUTH_MAX_POLICIES];
    mq_security_config_t sec[MQ_AUTH_MAX_POLICIES];    /* the paths, for reloads */
    mq_passwd_t *pw[MQ_AUTH_MAX_POLICIES];
    mq_acl_t *acl[MQ_AUTH_MAX_POLICIES];
};

static void mq_linux_auth_diag(void *ctx, const char *file, unsigned line, bool is_error,
                               const char *msg)
{
    const mq_linux_auth_t *a = ctx;

    mq_linux_logf(a->log, is_error ? MQ_LOG_ERR : MQ_LOG_WARNING, "%s:%u: %s", file, line, msg);
}

/* The whole file in a new buffer (freed by the caller), or NULL after logging. */
static char *mq_linux_auth_read(const mq_linux_auth_t *a, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        mq_linux_logf(a->log, MQ_LOG_ERR, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= MQ_LINUX_AUTH_FILE_MAX) {
                mq_linux_logf(a->log, MQ_LOG_ERR, "%s is larger than %u bytes", path,
                              MQ_LINUX_AUTH_FILE_MAX);
                goto fail;
            }
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                mq_linux_logf(a->log, MQ_LOG_ERR, "out of memory reading %s", path);
                goto fail;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                mq_linux_logf(a->log, MQ_LOG_ERR, "cannot read %s: %s", path, strerror(errno));
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

static int mq_linux_auth_load_passwd(mq_linux_auth_t *a, const char *path, mq_passwd_t **out)
{
    size_t len;
    char *text = mq_linux_auth_read(a, path, &len);

    if (!text)
        return MQ_EIO;
    int rc = mq_passwd_parse(&a->alloc, text, len, path, mq_linux_auth_diag, a, out);
    free(text);
    if (rc == MQ_OK)
        mq_linux_logf(a->log, MQ_LOG_INFO, "%s: %zu users", path, mq_passwd_count(*out));
    return rc;
}

static int mq_linux_auth_load_acl(mq_linux_auth_t *a, const char *path, mq_acl_t **out)
{
    size_t len;
    char *text = mq_linux_auth_read(a, path, &len);

    if (!text)
        return MQ_EIO;
    int rc = mq_acl_parse(&a->alloc, text, len, path, mq_linux_auth_diag, a, out);
    free(text);
    return rc;
}

int mq_linux_auth_new(mq_config_t *cfg, const mq_linux_log_t *log, mq_linux_auth_t **out)
{
    size_t n = cfg->per_listener_settings ? cfg->n_listeners : 1;
    bool any = cfg->per_listener_settings;
    int rc = MQ_OK;

    *out = NULL;
    if (n > MQ_AUTH_MAX_POLICIES)
        return MQ_ELIMIT;
    mq_linux_auth_t *a = calloc(1, sizeof *a);
    if (!a)
        return MQ_ENOMEM;
    a->log = log;
    a->alloc.alloc = mq_linux_alloc;
    a->alloc.free = mq_linux_free;
    a->hooks.per_listener = cfg->per_listener_settings;
    a->hooks.n = n;
    for (size_t i = 0; i < n; i++) {
        mq_config_security(cfg, i, &a->sec[i]);
        a->pol[i].allow_anonymous = a->sec[i].allow_anonymous;
        if (a->sec[i].password_file[0]) {
            any = true;
            int r = mq_linux_auth_load_passwd(a, a->sec[i].password_file, &a->pw[i]);
            if (r != MQ_OK)
                rc = r;
        }
        if (a->sec[i].acl_file[0]) {
            any = true;
            int r = mq_linux_auth_load_acl(a, a->sec[i].acl_file, &a->acl[i]);
            if (r != MQ_OK)
                rc = r;
        }
        a->pol[i].passwd = a->pw[i];
        a->pol[i].acl = a->acl[i];
        a->hooks.policies[i] = &a->pol[i];
    }
    if (rc != MQ_OK || !any) {
        mq_linux_auth_free(a);
        return rc;
    }
    cfg->broker.auth = mq_auth_connect_hook;
    cfg->broker.auth_ctx = &a->hooks;
    if (mq_auth_has_acl(&a->hooks)) {
        /* Only then: without an ACL the hot path makes no call at all. */
        cfg->broker.acl = mq_auth_acl_hook;
        cfg->broker.acl_ctx = &a->hooks;
    }
    *out = a;
    return MQ_OK;
}

int mq_linux_auth_reload(mq_linux_auth_t *a, mq_broker_t *b)
{
    int rc = MQ_OK;
    bool acl_changed = false;

    if (!a)
        return MQ_OK;
    for (size_t i = 0; i < a->hooks.n; i++) {
        if (a->sec[i].password_file[0]) {
            mq_passwd_t *pw = NULL;
            if (mq_linux_auth_load_passwd(a, a->sec[i].password_file, &pw) == MQ_OK) {
                mq_passwd_free(a->pw[i]);
                a->pw[i] = pw;
                a->pol[i].passwd = pw;
            } else {
                mq_linux_logf(a->log, MQ_LOG_ERR, "%s not reloaded: the previous one stays",
                              a->sec[i].password_file);
                rc = MQ_ECONFIG;
            }
        }
        /* The broker was built with or without the ACL hook: an ACL file
         * exists for this policy exactly when it had one at startup. */
        if (a->sec[i].acl_file[0]) {
            mq_acl_t *acl = NULL;
            if (mq_linux_auth_load_acl(a, a->sec[i].acl_file, &acl) == MQ_OK) {
                mq_acl_free(a->acl[i]);
                a->acl[i] = acl;
                a->pol[i].acl = acl;
                acl_changed = true;
            } else {
                mq_linux_logf(a->log, MQ_LOG_ERR, "%s not reloaded: the previous one stays",
                              a->sec[i].acl_file);
                rc = MQ_ECONFIG;
            }
        }
    }
    if (acl_changed && b) {
        size_t removed = mq_broker_recheck_subscriptions(b);
        mq_linux_logf(a->log, MQ_LOG_NOTICE, "ACL reloaded; %zu subscriptions removed", removed);
    }
    return rc;
}

void mq_linux_auth_free(mq_linux_auth_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < MQ_AUTH_MAX_POLICIES; i++) {
        mq_passwd_free(a->pw[i]);
        mq_acl_free(a->acl[i]);
    }
    free(a);
}

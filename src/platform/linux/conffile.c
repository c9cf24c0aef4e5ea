/*
 * conffile — see conffile.h.
 */
#include "conffile.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/error.h"

char *mq_linux_read_file(const char *path, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;

        if (n + 1 >= cap) {
            char *nb;

            if (cap >= MQ_LINUX_CONFIG_MAX) {
                snprintf(err, errcap, "%s is larger than %u bytes", path, MQ_LINUX_CONFIG_MAX);
                goto fail;
            }
            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (!nb) {
                snprintf(err, errcap, "out of memory reading %s", path);
                goto fail;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

bool mq_linux_path_join(const char *base, const char *path, char *out, size_t cap)
{
    int n;

    if (path[0] == '/' || !base || !base[0])
        n = snprintf(out, cap, "%s", path);
    else
        n = snprintf(out, cap, "%s/%s", base, path);
    return n >= 0 && (size_t)n < cap;
}

typedef struct mq_linux_include_ctx {
    const char *base;
} mq_linux_include_ctx_t;

static void mq_linux_diagf(const mq_config_io_t *io, const char *file, unsigned line,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void mq_linux_diagf(const mq_config_io_t *io, const char *file, unsigned line,
                           const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!io->diag)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    io->diag(io->diag_ctx, file, line, true, msg);
}

/* The parser's include_dir callback: every *.conf of dir, in strcmp order. */
static int mq_linux_include_dir(const mq_config_io_t *io, mq_config_t *cfg, const char *dir,
                                const char *file, unsigned line)
{
    const mq_linux_include_ctx_t *ictx = io->include_ctx;
    char path[4096];
    char **names = NULL;
    size_t n = 0;
    int rc = MQ_OK;
    bool errors = false;
    DIR *d;
    struct dirent *e;

    if (!mq_linux_path_join(ictx->base, dir, path, sizeof path)) {
        mq_linux_diagf(io, file, line, "include_dir: path too long");
        return MQ_ECONFIG;
    }
    d = opendir(path);
    if (!d) {
        mq_linux_diagf(io, file, line, "include_dir: cannot open %s: %s", path, strerror(errno));
        return MQ_ECONFIG;
    }
    names = calloc(MQ_LINUX_INCLUDE_MAX, sizeof *names);
    if (!names) {
        closedir(d);
        mq_linux_diagf(io, file, line, "include_dir: out of memory");
        return MQ_ECONFIG;
    }
    while ((e = readdir(d)) != NULL) {
        if (!mq_config_include_name(e->d_name))
            continue;
        if (n == MQ_LINUX_INCLUDE_MAX) {
            mq_linux_diagf(io, file, line, "include_dir: more than %d .conf files in %s",
                           MQ_LINUX_INCLUDE_MAX, path);
            rc = MQ_ECONFIG;
            break;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            mq_linux_diagf(io, file, line, "include_dir: out of memory");
            rc = MQ_ECONFIG;
            break;
        }
        n++;
    }
    closedir(d);
    mq_config_include_sort(names, n);
    /* After a listing problem nothing is parsed (the order would be wrong). */
    for (size_t i = 0; i < n && rc == MQ_OK; i++) {
        char fpath[4096 + 256];
        char err[512];
        size_t len;
        char *text;

        snprintf(fpath, sizeof fpath, "%s/%s", path, names[i]);
        text = mq_linux_read_file(fpath, &len, err, sizeof err);
        if (!text) {
            mq_linux_diagf(io, file, line, "include_dir: %s", err);
            errors = true;
            continue;
        }
        /* Go on after a file with errors: every problem is reported. */
        if (mq_config_parse_include(cfg, text, len, fpath, io) != MQ_OK)
            errors = true;
        free(text);
    }
    if (errors)
        rc = MQ_ECONFIG;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int mq_linux_config_read(mq_config_t *cfg, const char *path, const char *base,
                         mq_config_diag_fn diag, void *diag_ctx)
{
    mq_linux_include_ctx_t ictx = {base};
    mq_config_io_t io;
    char err[512];
    size_t len;
    char *text = mq_linux_read_file(path, &len, err, sizeof err);
    int rc;

    if (!text) {
        if (diag)
            diag(diag_ctx, path, 0, true, err);
        return MQ_EIO;
    }
    memset(&io, 0, sizeof io);
    io.diag = diag;
    io.diag_ctx = diag_ctx;
    io.include = mq_linux_include_dir;
    io.include_ctx = &ictx;
    rc = mq_config_parse_io(cfg, text, len, path, &io);
    free(text);
    return rc;
}

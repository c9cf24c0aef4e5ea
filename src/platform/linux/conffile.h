/*
 * conffile — reads configuration files for the parser: the main file and,
 * through the parser's include callback, the *.conf files of include_dir.
 *
 * Owns: each file's text while it is parsed (freed before returning).
 * Never: interprets a directive (src/config/config.c does).
 * Hot paths: none (startup and SIGHUP).
 */
#ifndef MQ_PLATFORM_LINUX_CONFFILE_H
#define MQ_PLATFORM_LINUX_CONFFILE_H

#include <stddef.h>

#include "musqratt/config.h"

/* A configuration file larger than this is surely not one. */
#define MQ_LINUX_CONFIG_MAX (16u * 1024 * 1024)
/* Files read from one include_dir at most. */
#define MQ_LINUX_INCLUDE_MAX 1024

/* Reads the whole file into a new NUL-terminated buffer (free() it). On
 * failure returns NULL and a reason in err. */
char *mq_linux_read_file(const char *path, size_t *len, char *err, size_t errcap);

/* out = path if absolute, else base/path. Returns false if it does not fit. */
bool mq_linux_path_join(const char *base, const char *path, char *out, size_t cap);

/*
 * Parses the file at path (already absolute, or relative to the current
 * directory) into cfg, include_dir directories being resolved against base
 * (the broker's starting directory) when relative. Problems go to diag with
 * file:line; a main file that cannot be read is reported with line 0.
 * Returns MQ_OK, MQ_ECONFIG (errors reported) or MQ_EIO (unreadable).
 */
int mq_linux_config_read(mq_config_t *cfg, const char *path, const char *base,
                         mq_config_diag_fn diag, void *diag_ctx);

#endif

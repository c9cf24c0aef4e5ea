/*
 * log — the Linux platform's log: the mq_platform_t log hook and
 * mq_linux_logf(), to the destinations of log_dest (stderr, stdout, a file,
 * syslog), filtered by log_type, with log_timestamp / log_timestamp_format.
 *
 * Owns: the log file descriptor and the syslog connection (openlog).
 * Never: buffers a line across calls or allocates; each line goes out with one
 * write per destination so that lines from a crash or a test harness never
 * interleave.
 * Hot paths: none unless debug lines are on (they are dropped before
 * formatting otherwise).
 *
 * Line format (stderr, stdout, file): "[TIME: ]musqratt: LEVEL: message", TIME
 * being the seconds since the epoch or log_timestamp_format (strftime, local
 * time). syslog lines have no timestamp (syslog adds its own), facility
 * daemon or log_facility's local0..7.
 */
#ifndef MQ_PLATFORM_LINUX_LOG_H
#define MQ_PLATFORM_LINUX_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "musqratt/config.h"

typedef struct mq_linux_log {
    uint32_t types;        /* enum mq_log_type bits */
    uint32_t dest;         /* enum mq_log_dest bits */
    bool timestamp;
    char ts_format[sizeof(((mq_config_t *)0)->log_timestamp_format)];
    int file_fd;           /* -1 when no file is open */
    char file_path[MQ_CONFIG_PATH_MAX];
    bool syslog_open;
    int facility;          /* syslog facility (LOG_DAEMON, LOG_LOCALn) */
    bool debug_forced;     /* SIGUSR2 toggles debug lines on top of types */
} mq_linux_log_t;

/* stderr, Mosquitto's default types, timestamps; no file, no syslog. */
void mq_linux_log_init(mq_linux_log_t *log);

/*
 * Applies cfg's log settings (verbose: -v, every type). file_path is the
 * log file's absolute path (cfg->log_file resolved by the caller) or NULL.
 * The file is (re)opened for appending, so this also serves SIGHUP's
 * reopen after log rotation. A file that cannot be opened is reported
 * (on stderr and the other destinations) and left out; returns MQ_EIO then,
 * else MQ_OK.
 */
int mq_linux_log_configure(mq_linux_log_t *log, const mq_config_t *cfg, bool verbose,
                           const char *file_path);

/* Closes the file and syslog. */
void mq_linux_log_close(mq_linux_log_t *log);

/* Whether lines of this level are logged. */
bool mq_linux_log_enabled(const mq_linux_log_t *log, int level);

/* The mq_platform_t log hook; ctx is a mq_linux_log_t. */
void mq_linux_log_hook(void *ctx, int level, const char *msg);

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void mq_linux_logf(const mq_linux_log_t *log, int level, const char *fmt, ...);

#endif

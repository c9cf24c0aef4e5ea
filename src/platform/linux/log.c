/*
 * log — see log.h.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "musqratt/error.h"
#include "musqratt/platform.h"

#define MQ_LINUX_LOG_LINE 1024

static const char *mq_linux_level_name(int level)
{
    switch (level) {
    case MQ_LOG_ERR: return "error";
    case MQ_LOG_WARNING: return "warning";
    case MQ_LOG_NOTICE: return "notice";
    case MQ_LOG_INFO: return "info";
    default: return "debug";
    }
}

/* The log_type a level belongs to. */
static uint32_t mq_linux_level_type(int level)
{
    switch (level) {
    case MQ_LOG_ERR: return MQ_LOG_TYPE_ERROR;
    case MQ_LOG_WARNING: return MQ_LOG_TYPE_WARNING;
    case MQ_LOG_NOTICE: return MQ_LOG_TYPE_NOTICE;
    case MQ_LOG_INFO: return MQ_LOG_TYPE_INFORMATION;
    default: return MQ_LOG_TYPE_DEBUG;
    }
}

static int mq_linux_syslog_priority(int level)
{
    switch (level) {
    case MQ_LOG_ERR: return LOG_ERR;
    case MQ_LOG_WARNING: return LOG_WARNING;
    case MQ_LOG_NOTICE: return LOG_NOTICE;
    case MQ_LOG_INFO: return LOG_INFO;
    default: return LOG_DEBUG;
    }
}

void mq_linux_log_init(mq_linux_log_t *log)
{
    memset(log, 0, sizeof *log);
    log->types = MQ_LOG_TYPE_DEFAULT;
    log->dest = MQ_LOG_DEST_STDERR;
    log->timestamp = true;
    log->file_fd = -1;
    log->facility = LOG_DAEMON;
}

bool mq_linux_log_enabled(const mq_linux_log_t *log, int level)
{
    if (!log)
        return level < MQ_LOG_DEBUG;
    if (level >= MQ_LOG_DEBUG && log->debug_forced)
        return true;
    return (log->types & mq_linux_level_type(level)) != 0;
}

static void mq_linux_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a failed log write has nowhere to be reported */
        p += w;
        n -= (size_t)w;
    }
}

static void mq_linux_log_emit(const mq_linux_log_t *log, int level, const char *msg)
{
    char line[MQ_LINUX_LOG_LINE];
    char ts[96] = "";
    uint32_t dest = log ? log->dest : MQ_LOG_DEST_STDERR;
    int n;

    if ((dest & MQ_LOG_DEST_SYSLOG) && log->syslog_open)
        syslog(mq_linux_syslog_priority(level), "%s", msg);
    if (!(dest & (MQ_LOG_DEST_STDERR | MQ_LOG_DEST_STDOUT | MQ_LOG_DEST_FILE)))
        return;
    if (log && log->timestamp) {
        time_t now = time(NULL);

        if (log->ts_format[0]) {
            struct tm tm;

            if (localtime_r(&now, &tm) && strftime(ts, sizeof ts - 2, log->ts_format, &tm) > 0)
                strcat(ts, ": ");
            else
                ts[0] = '\0';
        } else {
            snprintf(ts, sizeof ts, "%lld: ", (long long)now);
        }
    }
    n = snprintf(line, sizeof line - 1, "%smusqratt: %s: %s", ts, mq_linux_level_name(level),
                 msg);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2; /* truncated: still end the line */
    line[n++] = '\n';
    if (dest & MQ_LOG_DEST_STDERR)
        mq_linux_write_all(STDERR_FILENO, line, (size_t)n);
    if (dest & MQ_LOG_DEST_STDOUT)
        mq_linux_write_all(STDOUT_FILENO, line, (size_t)n);
    if ((dest & MQ_LOG_DEST_FILE) && log->file_fd >= 0)
        mq_linux_write_all(log->file_fd, line, (size_t)n);
}

int mq_linux_log_configure(mq_linux_log_t *log, const mq_config_t *cfg, bool verbose,
                           const char *file_path)
{
    int rc = MQ_OK;
    int facility = cfg->log_facility <= 7 ? LOG_LOCAL0 + (cfg->log_facility << 3) : LOG_DAEMON;

    log->types = verbose ? (uint32_t)MQ_LOG_TYPE_ALL : cfg->log_types;
    log->dest = cfg->log_dest;
    log->timestamp = cfg->log_timestamp;
    snprintf(log->ts_format, sizeof log->ts_format, "%s", cfg->log_timestamp_format);

    if ((cfg->log_dest & MQ_LOG_DEST_FILE) && file_path) {
        /* Open the new file before closing the old one: when it cannot be
         * opened (e.g. no longer writable once privileges were dropped), the
         * same file stays open and logging goes on. */
        int fd = open(file_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

        if (fd < 0) {
            int err = errno;
            bool same = log->file_fd >= 0 && strcmp(log->file_path, file_path) == 0;

            if (!same && log->file_fd >= 0) {
                close(log->file_fd);
                log->file_fd = -1;
            }
            log->dest |= MQ_LOG_DEST_STDERR; /* so that this line is seen */
            mq_linux_logf(log, MQ_LOG_ERR, "cannot open log file %s: %s%s", file_path,
                          strerror(err), same ? " (still writing to the open one)" : "");
            log->dest = cfg->log_dest;
            rc = MQ_EIO;
        } else {
            if (log->file_fd >= 0)
                close(log->file_fd);
            log->file_fd = fd;
            snprintf(log->file_path, sizeof log->file_path, "%s", file_path);
        }
    } else if (log->file_fd >= 0) {
        close(log->file_fd);
        log->file_fd = -1;
        log->file_path[0] = '\0';
    }
    if (log->syslog_open && (!(cfg->log_dest & MQ_LOG_DEST_SYSLOG) || facility != log->facility)) {
        closelog();
        log->syslog_open = false;
    }
    log->facility = facility;
    if ((cfg->log_dest & MQ_LOG_DEST_SYSLOG) && !log->syslog_open) {
        openlog("musqratt", LOG_PID | LOG_NDELAY, facility);
        log->syslog_open = true;
    }
    return rc;
}

void mq_linux_log_close(mq_linux_log_t *log)
{
    if (log->file_fd >= 0)
        close(log->file_fd);
    log->file_fd = -1;
    if (log->syslog_open)
        closelog();
    log->syslog_open = false;
}

void mq_linux_log_hook(void *ctx, int level, const char *msg)
{
    const mq_linux_log_t *log = ctx;

    if (!mq_linux_log_enabled(log, level))
        return;
    mq_linux_log_emit(log, level, msg);
}

void mq_linux_logf(const mq_linux_log_t *log, int level, const char *fmt, ...)
{
    char msg[MQ_LINUX_LOG_LINE];
    va_list ap;

    if (!mq_linux_log_enabled(log, level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mq_linux_log_emit(log, level, msg);
}

/*
 * log — see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static void mq_linux_log_emit(int level, const char *msg)
{
    char line[MQ_LINUX_LOG_LINE];
    int n = snprintf(line, sizeof line - 1, "musqratt: %s: %s", mq_linux_level_name(level), msg);

    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2; /* truncated: still end the line */
    line[n++] = '\n';
    /* One write per line; a failed log write has nowhere to be reported. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

void mq_linux_log_hook(void *ctx, int level, const char *msg)
{
    const mq_linux_log_t *log = ctx;

    if (level >= MQ_LOG_DEBUG && !(log && log->verbose))
        return;
    mq_linux_log_emit(level, msg);
}

void mq_linux_logf(const mq_linux_log_t *log, int level, const char *fmt, ...)
{
    char msg[MQ_LINUX_LOG_LINE];
    va_list ap;

    if (level >= MQ_LOG_DEBUG && !(log && log->verbose))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mq_linux_log_emit(level, msg);
}

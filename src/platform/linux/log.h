/*
 * log — the Linux platform's log hook: one line per message on stderr.
 *
 * Owns: the verbosity flag it is given (mq_linux_log_t).
 * Never: buffers a line across calls or allocates; each line goes out with one
 * write so that lines from a crash or a test harness never interleave.
 * Hot paths: none unless -v (debug lines are dropped before formatting).
 */
#ifndef MQ_PLATFORM_LINUX_LOG_H
#define MQ_PLATFORM_LINUX_LOG_H

#include <stdbool.h>

typedef struct mq_linux_log {
    bool verbose; /* print MQ_LOG_DEBUG lines too */
} mq_linux_log_t;

/* The mq_platform_t log hook; ctx is a mq_linux_log_t. */
void mq_linux_log_hook(void *ctx, int level, const char *msg);

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void mq_linux_logf(const mq_linux_log_t *log, int level, const char *fmt, ...);

#endif

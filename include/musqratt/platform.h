/*
 * musqratt — what a platform gives the sans-I/O core.
 *
 * The core (src/codec, src/broker, src/config) makes no system call. It gets:
 *   - memory only through mq_allocator_t,
 *   - time only as an argument (mq_time_t, monotonic milliseconds),
 *   - randomness (for generated client ids) and logging through hooks here.
 * Everything in this struct is copied by mq_broker_new(); ctx pointers are
 * borrowed and must outlive the broker.
 */
#ifndef MUSQRATT_PLATFORM_H
#define MUSQRATT_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic time in milliseconds. Its origin is the platform's choice. */
typedef uint64_t mq_time_t;
#define MQ_TIME_NEVER UINT64_MAX

typedef struct mq_allocator {
    /* Returns NULL on failure. */
    void *(*alloc)(void *ctx, size_t size);
    /* size is the size passed to alloc (for exact accounting). ptr may be NULL. */
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} mq_allocator_t;

enum mq_log_level {
    MQ_LOG_ERR = 0,
    MQ_LOG_WARNING = 1,
    MQ_LOG_NOTICE = 2,
    MQ_LOG_INFO = 3,
    MQ_LOG_DEBUG = 4
};

typedef struct mq_platform {
    mq_allocator_t allocator;
    /* Optional (may be NULL). msg is NUL-terminated, valid during the call. */
    void (*log)(void *ctx, int level, const char *msg);
    void *log_ctx;
    /* Fills buf with len unpredictable bytes (client id generation). Required. */
    void (*random)(void *ctx, uint8_t *buf, size_t len);
    void *random_ctx;
} mq_platform_t;

/* A gather-write element, layout-compatible with struct iovec. */
typedef struct mq_iov {
    void *base;
    size_t len;
} mq_iov_t;

#ifdef __cplusplus
}
#endif
#endif

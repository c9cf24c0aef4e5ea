/*
 * sys — see sys.h.
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

mq_time_t mq_linux_now(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (mq_time_t)ts.tv_sec * 1000u + (mq_time_t)ts.tv_nsec / 1000000u;
}

uint64_t mq_linux_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void *mq_linux_alloc(void *ctx, size_t size)
{
    /* malloc(0) may return NULL, which the core would read as failure. */
    return malloc(size ? size : 1);
}

void mq_linux_free(void *ctx, void *ptr, size_t size)
{
    free(ptr);
}

static int mq_linux_urandom(uint8_t *buf, size_t len)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    if (fd < 0)
        return -1;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    return 0;
}

void mq_linux_random(void *ctx, uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        got += (size_t)n;
    }
    if (got == len)
        return;
    if (mq_linux_urandom(buf + got, len - got) == 0)
        return;
    fprintf(stderr, "musqratt: error: no source of random bytes\n");
    abort();
}

void mq_linux_platform(mq_platform_t *p, mq_linux_log_t *log)
{
    memset(p, 0, sizeof *p);
    p->allocator.alloc = mq_linux_alloc;
    p->allocator.free = mq_linux_free;
    p->allocator.ctx = NULL;
    p->log = mq_linux_log_hook;
    p->log_ctx = log;
    p->random = mq_linux_random;
    p->random_ctx = NULL;
}

/*
 * musqratt portability check: the <stdio.h> the core may use.
 *
 * Formatting into a caller's buffer only (log lines, generated client ids,
 * config diagnostics). No FILE, no streams, no printf to a descriptor: those
 * would be I/O. musl (Composite's libc) and any freestanding printf library
 * supply these two without a system call.
 */
#ifndef MQ_PORTABILITY_STDIO_H
#define MQ_PORTABILITY_STDIO_H
#include <stdarg.h>
#include <stddef.h>
int snprintf(char *restrict buf, size_t n, const char *restrict fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char *restrict buf, size_t n, const char *restrict fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
#endif

/*
 * musqratt portability check: the <string.h> the core may use.
 *
 * Only these functions: pure memory/string routines that every C runtime a
 * core platform can have (glibc, musl in Composite, a freestanding libc)
 * provides without any system call. A core file that calls anything else
 * from <string.h> (strdup allocates, strerror needs locale tables, strtok
 * keeps state) fails to compile in the portability check (tests/portability).
 */
#ifndef MQ_PORTABILITY_STRING_H
#define MQ_PORTABILITY_STRING_H
#include <stddef.h>
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
#endif

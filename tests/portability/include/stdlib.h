/*
 * musqratt portability check: the <stdlib.h> the core may use.
 *
 * qsort only (the config parser sorts include_dir's file names). Deliberately
 * absent: malloc/calloc/realloc/free (memory comes through the platform's
 * mq_allocator_t), abort/exit (errors are returned), getenv, rand.
 */
#ifndef MQ_PORTABILITY_STDLIB_H
#define MQ_PORTABILITY_STDLIB_H
#include <stddef.h>
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
#endif

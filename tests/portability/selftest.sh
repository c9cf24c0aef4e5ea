#!/bin/sh
# Proves tests/portability/check.sh can fail: each case adds one file, written
# like a core file, that brings in an OS dependency; the check must reject
# every one of them, and accept the core alone.
#   selftest.sh CC ROOT WORKDIR
set -u
CC=$1 ROOT=$2 WORK=$3
CHECK="$ROOT/tests/portability/check.sh"
rm -rf "$WORK" && mkdir -p "$WORK/src" || exit 2
status=0

expect_fail() { # name, file body
    printf '%s\n' "$2" > "$WORK/src/$1.c"
    if "$CHECK" "$CC" "$ROOT" "$WORK/obj-$1" "$WORK/src/$1.c" > "$WORK/$1.log" 2>&1; then
        echo "FAIL: the check accepted $1:"; cat "$WORK/$1.log"; status=1
    else
        echo "ok: $1 rejected: $(grep -m1 -E 'error|  [a-z_]+ \(in' "$WORK/$1.log")"
    fi
}

if ! "$CHECK" "$CC" "$ROOT" "$WORK/obj-core" > "$WORK/core.log" 2>&1; then
    echo "FAIL: the core alone does not pass:"; cat "$WORK/core.log"; status=1
fi
# Compile level: POSIX, socket and thread headers are not there.
expect_fail unistd '#include <unistd.h>
int mq__bad(void) { return (int)getpid(); }'
expect_fail socket '#include <sys/socket.h>
int mq__bad(void) { return socket(2, 1, 0); }'
expect_fail pthread '#include <pthread.h>
int mq__bad(void) { return 0; }'
expect_fail time_h '#include <time.h>
int mq__bad(void) { return 0; }'
# <stdlib.h> declares only qsort: malloc is an implicit declaration (error).
expect_fail malloc_stdlib '#include <stdlib.h>
void *mq__bad(void) { return malloc(16); }'
# Link level: a file that declares what it wants by hand still gets caught.
expect_fail malloc_declared 'typedef __SIZE_TYPE__ size_t;
void *malloc(size_t n);
void *mq__bad(void) { return malloc(16); }'
expect_fail syscalls 'long write(int fd, const void *p, unsigned long n);
long read(int fd, void *p, unsigned long n);
void abort(void);
long mq__bad(char *b) { if (!b) abort(); return read(0, b, 1) + write(1, b, 1); }'
expect_fail clock 'struct timespec;
int clock_gettime(int clk, struct timespec *ts);
int mq__bad(struct timespec *ts) { return clock_gettime(1, ts); }'
exit $status

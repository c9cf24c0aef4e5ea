#!/bin/sh
# musqratt portability check (issue 8): the core must build with nothing but
# freestanding C headers and the few libc declarations in
# tests/portability/include, and link against nothing but the libc functions
# in tests/portability/allowed_symbols.txt.
#
#   check.sh CC ROOT WORKDIR [EXTRA.c ...]
#
# CC: the compiler (gcc or clang); ROOT: the source tree; WORKDIR: scratch
# directory for the objects. EXTRA.c files are checked as if they were core
# files (the self test uses this to prove the check fails).
# Exit 0 when the core is portable, 1 with the offending file or symbol.
set -u
CC=$1 ROOT=$2 WORK=$3
shift 3
FREESTANDING=$("$CC" -print-file-name=include)
if [ ! -f "$FREESTANDING/stddef.h" ]; then
    echo "portability: no freestanding headers found for $CC ($FREESTANDING)" >&2
    exit 2
fi
rm -rf "$WORK" && mkdir -p "$WORK" || exit 2

SOURCES=$(ls "$ROOT"/src/codec/*.c "$ROOT"/src/broker/*.c "$ROOT"/src/config/*.c \
             "$ROOT"/src/ws/*.c)
fail=0
n=0
for src in $SOURCES "$@"; do
    n=$((n + 1))
    obj="$WORK/$n-$(basename "$src" .c).o"
    # -nostdinc: no /usr/include at all; -ffreestanding: __STDC_HOSTED__ 0,
    # so <stdint.h> is the compiler's own and no builtin is assumed.
    # No _POSIX_C_SOURCE / _DEFAULT_SOURCE: the core asks for no POSIX.
    if ! "$CC" -std=c11 -ffreestanding -nostdinc -isystem "$FREESTANDING" \
            -I "$ROOT/tests/portability/include" -I "$ROOT/include" -I "$ROOT/src" \
            -Wall -Wextra -Werror -Wno-unused-parameter -O2 \
            -fno-stack-protector -fno-sanitize=all -fno-pic \
            -c "$src" -o "$obj"; then
        echo "portability: $src does not build against freestanding headers" \
             "+ tests/portability/include" >&2
        fail=1
    fi
done
[ $fail -eq 0 ] || exit 1

# Link level: undefined symbols of all objects, minus those some core object
# defines, must be in the allowed list.
nm -g --defined-only "$WORK"/*.o | awk 'NF == 3 { print $3 }' | sort -u > "$WORK/defined"
nm -u "$WORK"/*.o | awk 'NF == 2 && $1 == "U" { print $2 }' | sort -u > "$WORK/undefined"
grep -v '^#' "$ROOT/tests/portability/allowed_symbols.txt" | grep -v '^$' | sort -u \
    > "$WORK/allowed"
comm -23 "$WORK/undefined" "$WORK/defined" > "$WORK/external"
comm -23 "$WORK/external" "$WORK/allowed" > "$WORK/forbidden"
if [ -s "$WORK/forbidden" ]; then
    echo "portability: the core calls functions outside the allowed set:" >&2
    while read -r sym; do
        echo "  $sym (in: $(cd "$WORK" && nm -u -A ./*.o | awk -v s="$sym" '$NF == s' \
              | sed 's|^\./[0-9]*-||; s|\.o:.*||' | sort -u | tr '\n' ' '))" >&2
    done < "$WORK/forbidden"
    exit 1
fi
echo "portability: $n core files, external symbols: $(tr '\n' ' ' < "$WORK/external")"
exit 0

#!/usr/bin/env bash
# Static analysis of musqratt's own C code (src/, tools/): cppcheck and
# clang-tidy with the rules in .clang-tidy. Any finding fails.
#   tests/lint/run_lint.sh BUILD_DIR   (a build with compile_commands.json)
# Ends with a line "N passed, N failed" (N = tools).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: run_lint.sh BUILD_DIR}
pass=0
fail=0
mapfile -t files < <(cd "$root" && ls src/*/*.c src/platform/*/*.c tools/*/*.c 2>/dev/null | sort -u)

echo "=== cppcheck (${#files[@]} files)"
if (cd "$root" && cppcheck --quiet --enable=warning,performance,portability --std=c11 \
      --inline-suppr --error-exitcode=1 -I include -I src -D__GNUC__ "${files[@]}"); then
  pass=$((pass + 1))
else
  echo "cppcheck: findings above"; fail=$((fail + 1))
fi

echo "=== clang-tidy (${#files[@]} files)"
if [ ! -f "$build/compile_commands.json" ]; then
  echo "clang-tidy: $build/compile_commands.json missing"; fail=$((fail + 1))
else
  out=$(cd "$root" && printf '%s\n' "${files[@]}" |
        xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>&1)
  if echo "$out" | grep -qE "(warning|error):"; then
    echo "$out" | grep -E -A3 "(warning|error):"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

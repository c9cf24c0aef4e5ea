#!/usr/bin/env bash
# The whole test suite: installs what is missing, then builds and runs
#   1. gcc, -Werror: unit, system and interop tests;
#   2. clang with ASan+UBSan and libFuzzer: unit, system and interop tests
#      again under the sanitizers, and every fuzz target for a bounded time.
# Ends with one line "N passed, N failed" over both builds.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/deps.sh" || exit 1
fuzz_seconds=${MQ_FUZZ_SECONDS:-20}
total_pass=0
total_fail=0

run_build() { # name, cmake args...
  local name=$1; shift
  local dir="$root/build/$name"
  echo "=== $name: configure and build"
  if ! cmake -S "$root" -B "$dir" "$@"; then
    echo "$name: configure FAILED"
    total_fail=$((total_fail + 1)); return
  fi
  if ! cmake --build "$dir" -j"$(nproc)"; then
    echo "$name: build FAILED"
    total_fail=$((total_fail + 1)); return
  fi
  echo "=== $name: tests"
  local log="$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 900) 2>&1 | tee "$log"
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  if [ -z "$line" ]; then
    total_fail=$((total_fail + 1)); return
  fi
  local failed all
  failed=$(echo "$line" | sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/')
  all=$(echo "$line" | sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/')
  total_pass=$((total_pass + all - failed))
  total_fail=$((total_fail + failed))
}

mkdir -p "$root/build"
run_build gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_build asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DMQ_SANITIZE=ON -DMQ_FUZZ=ON \
  -DMQ_FUZZ_SECONDS="$fuzz_seconds"

echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]

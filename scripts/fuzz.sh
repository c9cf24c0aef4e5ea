#!/usr/bin/env bash
# Runs every libFuzzer target for a longer time and prints one line per target:
# executions, coverage (edges), corpus size and crashes. The checked-in seeds
# (tests/fuzz/corpus/<target>) are read only; what the fuzzer finds goes to
# build/fuzz-long/<target>/, crashes to build/fuzz-long/crashes/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 300)] [TARGET...]
# MQ_FUZZ_BUILD=DIR builds in DIR instead of build/asan.
# Also reachable as `cmake --build build/asan --target fuzz` (asan build with
# -DMQ_FUZZ=ON). Exit status 1 if any target crashed.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-300}
shift || true
build="${MQ_FUZZ_BUILD:-$root/build/asan}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DMQ_SANITIZE=ON -DMQ_FUZZ=ON >/dev/null || exit 1
fi
cmake --build "$build" -j"$(nproc)" >/dev/null || exit 1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
out="$root/build/fuzz-long"
mkdir -p "$out/crashes"
failed=0
printf '%-14s %10s %8s %8s %8s %s\n' target seconds execs edges corpus result
for t in "${targets[@]}"; do
  bin="$build/tests/$t"
  mkdir -p "$out/$t" "$root/tests/fuzz/corpus/$t"
  log="$out/$t.log"
  ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
    "$out/$t" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  edges=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  corpus=$(ls "$out/$t" | wc -l)
  result=ok
  if [ $rc -ne 0 ]; then result="CRASH (see $log)"; failed=1; fi
  printf '%-14s %10s %8s %8s %8s %s\n' "$t" "$secs" "${execs:-?}" "${edges:-?}" "$corpus" "$result"
done
exit $failed

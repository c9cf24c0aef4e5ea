#!/usr/bin/env bash
# The long robustness runs behind docs/ROBUSTNESS.md (the test command runs
# the short versions of each):
#   1. every libFuzzer target for FUZZ_SECONDS (default 600) each;
#   2. the hostile-client battery with its figures printed;
#   3. the soak: 10,000 connections with a subscription each and SOAK_SECONDS
#      (default 300) of mixed QoS 0/1/2 traffic, against musqratt and, for
#      comparison, Debian's Mosquitto;
#   4. valgrind memcheck over more of the system tests (those whose timing a
#      20-50x slower broker does not break).
# Everything stays on 127.0.0.1. Output: build/robustness/*.log and a summary
# ending in "N passed, N failed".
#   scripts/robustness.sh [FUZZ_SECONDS] [SOAK_SECONDS]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_s=${1:-600}
soak_s=${2:-300}
out="$root/build/robustness"
mkdir -p "$out"
bash "$root/scripts/deps.sh" || exit 1
cmake -S "$root" -B "$root/build/gcc" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >/dev/null && cmake --build "$root/build/gcc" -j"$(nproc)" >/dev/null || exit 1
bin="$root/build/gcc/musqratt"
py=/usr/bin/python3
pass=0
fail=0
step() { # name, command...
  local name=$1; shift
  echo "=== $name"
  if "$@" >"$out/$name.log" 2>&1; then pass=$((pass + 1)); r=ok; else fail=$((fail + 1)); r=FAILED; fi
  grep -E "^\s*\[figure\]|^soak:|^fuzz_|^target|^memcheck:" "$out/$name.log" || true
  echo "--- $name: $r (log: $out/$name.log)"
}
step fuzz "$root/scripts/fuzz.sh" "$fuzz_s"
step hostile env MQ_TEST_VERBOSE=1 MUSQRATT_BIN="$bin" "$py" "$root/tests/system/test_hostile.py"
step soak-musqratt "$py" "$root/tests/soak/soak.py" --broker "$bin" --idle 10000 --pairs 20 \
  --rate 5000 --duration "$soak_s" --json "$out/soak-musqratt.json"
if [ -x /usr/sbin/mosquitto ]; then
  step soak-mosquitto "$py" "$root/tests/soak/soak.py" --broker /usr/sbin/mosquitto --idle 10000 \
    --pairs 20 --rate 5000 --duration "$soak_s" --json "$out/soak-mosquitto.json"
fi
step memcheck env MUSQRATT_BIN="$bin" "$py" "$root/tests/valgrind/run_memcheck.py" test_publish \
  test_subscribe test_retain test_session test_will test_connect test_v5_connect \
  test_v5_publish test_v5_subscribe test_v5_flow test_auth test_acl
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/sh
# Regenerates the results section of docs/CONFORMANCE.md in one command:
#   tests/conformance/compare.sh
# Builds musqratt and musqratt-check (Release, into build/conformance), runs
# the whole suite against musqratt and against Debian's Mosquitto side by
# side (each started on its own free loopback port by run_check.py), and lets
# make_table.py rewrite the text between the results markers. The suite logs
# and JSON reports stay in build/conformance/results/.
#
# Exits 0 when the table was rewritten, even if musqratt failed cases (they
# show in the table and are printed here); 1 if a run did not complete.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/conformance
build=$root/build/conformance
out=$build/results
python=/usr/bin/python3
mosquitto=/usr/sbin/mosquitto

[ -x "$python" ] || { echo "compare.sh: $python is required" >&2; exit 1; }
[ -x "$mosquitto" ] || { echo "compare.sh: $mosquitto is required (apt-get install mosquitto)" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMQ_TESTS=OFF -DMQ_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target musqratt musqratt-check
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.log

echo "compare.sh: running the suite against musqratt and Mosquitto (a few minutes)"
"$python" "$here/run_check.py" --broker musqratt --binary "$build/musqratt" \
    --check "$build/musqratt-check" --json "$out/musqratt.json" >"$out/musqratt.log" 2>&1 &
mq_pid=$!
# Started a moment later so that the two free-port picks cannot collide.
sleep 2
"$python" "$here/run_check.py" --broker mosquitto --binary "$mosquitto" \
    --check "$build/musqratt-check" --json "$out/mosquitto.json" >"$out/mosquitto.log" 2>&1 &
mo_pid=$!
mq_rc=0; wait "$mq_pid" || mq_rc=$?
mo_rc=0; wait "$mo_pid" || mo_rc=$?

grep '^conformance:' "$out/musqratt.log" "$out/mosquitto.log" || true
# Failures are the table's business; a run that never reached its summary
# (or a broker that died) leaves no usable report.
for b in musqratt mosquitto; do
    if ! grep -q '^[0-9]* passed, [0-9]* failed, [0-9]* skipped$' "$out/$b.log" \
        || [ ! -s "$out/$b.json" ]; then
        echo "compare.sh: the run against $b did not complete; see $out/$b.log" >&2
        tail -n 30 "$out/$b.log" >&2
        exit 1
    fi
done
if grep -q '^conformance: FAIL: .*exited' "$out/musqratt.log"; then
    echo "compare.sh: musqratt exited during the run; see $out/musqratt.log" >&2
    exit 1
fi

mo_name=$("$mosquitto" -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/Mosquitto \1/p' | head -n 1)
"$python" "$here/make_table.py" --musqratt "$out/musqratt.json" --mosquitto "$out/mosquitto.json" \
    --notes "$here/notes.tsv" --statements "$here/statements.tsv" \
    --doc "$root/docs/CONFORMANCE.md" \
    --mosquitto-name "${mo_name:-Mosquitto}"
[ "$mq_rc" -eq 0 ] || echo "compare.sh: note: musqratt failed cases (see the table and $out/musqratt.log)"
[ "$mo_rc" -eq 0 ] || echo "compare.sh: note: the Mosquitto run reported a problem (see $out/mosquitto.log)"
exit 0

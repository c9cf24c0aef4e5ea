#!/usr/bin/env bash
# One command for a newcomer: install what is missing, build, start the broker
# on 127.0.0.1:1883 (anonymous, no config file). Extra arguments go to musqratt
# (e.g. scripts/start.sh -c musqratt.conf -v).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build/release" -DCMAKE_BUILD_TYPE=Release -DMQ_TESTS=OFF >/dev/null
cmake --build "$root/build/release" -j"$(nproc)" --target musqratt
exec "$root/build/release/musqratt" "$@"

#!/usr/bin/env bash
# Installs the Debian packages musqratt needs to build and test, if missing.
# Sourced by scripts/start.sh and scripts/test-all.sh; safe to run again.
set -eu
MQ_PACKAGES=(
  build-essential cmake clang libclang-rt-14-dev   # gcc + clang, ASan/UBSan/libFuzzer runtimes
  libssl-dev                                       # libcrypto: password hashing (src/auth)
  libcmocka-dev                                    # unit tests
  libssl-dev openssl                               # TLS (OpenSSL 3); openssl makes test certificates
  nodejs                                           # WebSocket interop (Node 20 + npm: the npm mqtt package)
  python3                                          # system tests (stdlib only)
  mosquitto-clients python3-paho-mqtt libpaho-mqtt-dev  # interop: clients nobody here wrote
  mosquitto                                        # the broker the conformance suite compares with
  valgrind                                         # memcheck over a subset of the system tests
  cppcheck clang-tidy                              # static analysis (tests/lint)
  curl                                             # system tests: the metrics endpoint read by a real HTTP client
)
missing=()
for p in "${MQ_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "musqratt: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

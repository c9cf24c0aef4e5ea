"""Runs musqratt-check against a broker it starts on a free loopback port.

Owns: starting one broker (musqratt with `-p PORT`, or Debian's Mosquitto with
a generated `listener PORT 127.0.0.1` + `allow_anonymous true` config, both
through tests/system/mqtt_harness.py), running the whole suite (MQTT 3.1,
3.1.1 and 5.0 cases) against it with its output passed through, and turning
the result into an exit code for ctest.

Never: talks to anything but 127.0.0.1, or edits what the suite printed.

Usage:
  run_check.py --check PATH/musqratt-check --broker musqratt [--binary PATH]
               [--json FILE] [--timeout SECONDS]
  run_check.py --check PATH/musqratt-check --broker mosquitto [--binary PATH] ...

Exit codes:
  musqratt   0 when every case passed (or was skipped), the suite ran to its
             summary line, the broker survived the run and its log has no
             sanitizer report; 1 otherwise.
  mosquitto  case failures are reported, not fatal: 0 when Mosquitto started
             and the suite ran to its summary line; 1 otherwise; 77 (skipped)
             when the Mosquitto binary is not installed.
"""

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from mqtt_harness import Broker  # noqa: E402

SKIP = 77
MOSQUITTO = "/usr/sbin/mosquitto"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$")
RESULT = re.compile(r"^(PASS|FAIL|SKIP) +(\S+) +(\S+) +(.*)$")
# What ASan, LSan and UBSan print; the broker's own log never contains these.
SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def mosquitto_version(binary):
    try:
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "Mosquitto"
    m = re.search(r"mosquitto version (\S+)", out)
    return "Mosquitto " + m.group(1) if m else "Mosquitto"


def run_suite(check, port, json_path, timeout):
    """Runs the suite, echoing each line as it comes; returns (rc, summary, failures)."""
    args = [check, "--host", "127.0.0.1", "--port", str(port)]
    if json_path:
        args += ["--json", json_path]
    print("$ " + " ".join(args), flush=True)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace")
    summary, failures = None, []
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            line = line.rstrip("\n")
            m = SUMMARY.match(line)
            if m:
                summary = tuple(int(g) for g in m.groups())
            m = RESULT.match(line)
            if m and m.group(1) == "FAIL":
                failures.append("%s (%s) %s" % (m.group(2), m.group(3), m.group(4)))
            if time.monotonic() > deadline:
                break
        proc.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        print("run_check: the suite did not finish within %d s" % timeout, flush=True)
        return None, None, failures
    return proc.returncode, summary, failures


def stop_broker(broker):
    """Stops the broker; returns (exit code, log) read before the log is deleted."""
    proc = broker.proc
    broker._kill()
    log = broker.log_tail(200000)
    broker.stop()
    return (proc.returncode if proc is not None else None), log


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", required=True, help="the musqratt-check binary")
    ap.add_argument("--broker", required=True, choices=("musqratt", "mosquitto"))
    ap.add_argument("--binary", help="broker binary (default: MUSQRATT_BIN, or %s)" % MOSQUITTO)
    ap.add_argument("--json", help="also write the suite's JSON report to this file")
    ap.add_argument("--timeout", type=int, default=900, help="seconds for the whole suite")
    a = ap.parse_args()

    if a.broker == "mosquitto":
        binary = a.binary or MOSQUITTO
        if not os.access(binary, os.X_OK):
            print("run_check: %s is not installed; skipped" % binary)
            return SKIP
        name = mosquitto_version(binary)
        # A config file rather than -p: Mosquitto 2.0 with -p listens on all
        # interfaces; the generated file binds 127.0.0.1 (and allows the
        # anonymous clients the suite uses).
        broker = Broker(options={}, binary=binary)
    else:
        binary = a.binary or os.environ.get("MUSQRATT_BIN")
        if not binary:
            print("run_check: no musqratt binary (--binary or MUSQRATT_BIN)")
            return 1
        name = "musqratt"
        broker = Broker(binary=binary)

    started = time.monotonic()
    try:
        broker.start()
    except RuntimeError as e:
        print("run_check: %s did not start: %s" % (name, e))
        broker.stop()
        return 1
    print("run_check: %s (%s) on 127.0.0.1:%d" % (name, binary, broker.port), flush=True)
    try:
        rc, summary, failures = run_suite(a.check, broker.port, a.json, a.timeout)
        alive = broker.running()
    finally:
        exit_code, log = stop_broker(broker)
    elapsed = time.monotonic() - started

    problems = []
    if summary is None:
        problems.append("the suite did not reach its summary line (rc %s)" % rc)
    if not alive:
        problems.append("%s exited during the run" % name)
    if a.broker == "musqratt":
        if failures:
            problems.append("%d case(s) failed" % len(failures))
        elif rc not in (0, None) and summary is not None:
            problems.append("the suite exited with %s" % rc)
        if any(s in log for s in SANITIZER):
            problems.append("the broker's log has a sanitizer report")
        elif alive and exit_code not in (0, None):
            problems.append("%s exited with %s when stopped" % (name, exit_code))
    if problems or (failures and a.broker == "musqratt"):
        print("---- %s log (tail) ----\n%s" % (name, log[-8000:]))

    counts = "%d passed, %d failed, %d skipped" % summary if summary else "no summary"
    if failures:
        print("---- %s: failed cases ----" % name)
        for f in failures:
            print("  " + f)
    if a.broker == "mosquitto":
        print("conformance: %s: %s in %.0f s (case failures are reported, not fatal)"
              % (name, counts, elapsed))
    else:
        print("conformance: %s: %s in %.0f s" % (name, counts, elapsed))
    for p in problems:
        print("conformance: FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

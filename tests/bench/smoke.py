#!/usr/bin/python3
"""Smoke test of musqratt-bench against the real broker: correctness only.

Starts musqratt (MUSQRATT_BIN) on a free loopback port and runs the bench
(MUSQRATT_BENCH_BIN) briefly: paced QoS 1 with 1000 messages, MQTT 3.1.1 and 5,
then unpaced QoS 0 for one second, then a fan-out and the retained scenario.
Fails when a run is INVALID (lost, duplicated, reordered or malformed
deliveries) or the tool errors. Never asserts on a time: a benchmark is not a
test.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

BROKER = os.environ.get("MUSQRATT_BIN", "build/musqratt")
BENCH = os.environ.get("MUSQRATT_BENCH_BIN", os.path.join(os.path.dirname(BROKER), "musqratt-bench"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc):
    deadline = time.time() + 5
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("broker exited early with status %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("broker did not listen on port %d" % port)


def main():
    port = free_port()
    broker = subprocess.Popen([BROKER, "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    failures = []
    try:
        wait_listening(port, broker)
        with tempfile.TemporaryDirectory() as tmp:
            jpath = os.path.join(tmp, "runs.jsonl")
            base = [BENCH, "--port", str(port), "--broker-pid", str(broker.pid),
                    "--json", jpath, "--stall-ms", "3000"]
            runs = [
                ["--paced", "--qos", "1", "--count", "1000", "--warmup", "100"],
                ["--paced", "--qos", "1", "--mqtt", "5", "--count", "1000", "--warmup", "100"],
                ["--paced", "--qos", "2", "--count", "300", "--warmup", "0"],
                ["--unpaced", "--qos", "0", "--duration", "1", "--warmup-time", "0.1"],
                ["--unpaced", "--qos", "1", "--scenario", "fanout", "--clients", "3",
                 "--duration", "0.5", "--warmup-time", "0.1"],
                ["--scenario", "retained", "--qos", "1", "--count", "200"],
            ]
            for extra in runs:
                p = subprocess.run(base + extra, capture_output=True, text=True, timeout=60)
                sys.stdout.write(p.stdout)
                if p.returncode != 0:
                    failures.append("%s: exit %d %s" % (" ".join(extra), p.returncode,
                                                         p.stderr.strip()))
            with open(jpath) as f:
                lines = [json.loads(l) for l in f]
            if len(lines) != len(runs):
                failures.append("expected %d JSON lines, got %d" % (len(runs), len(lines)))
            for j in lines:
                if not j["valid"] or j["lost"] or j["dup"] or j["reorder"] or j["bad"]:
                    failures.append("invalid run: %s" % json.dumps(j))
                if j["received"] == 0:
                    failures.append("nothing delivered: %s" % json.dumps(j))
        if broker.poll() is not None:
            failures.append("broker died during the runs (status %d)" % broker.returncode)
    finally:
        broker.terminate()
        broker.wait(timeout=5)
    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        sys.exit(1)
    print("bench smoke: all runs VALID")


if __name__ == "__main__":
    main()

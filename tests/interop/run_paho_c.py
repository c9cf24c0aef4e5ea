"""Interop wrapper: starts the broker named by MUSQRATT_BIN on a free loopback
port, runs the Paho C test program (argv[1]) against it, kills the broker.

Usage: /usr/bin/python3 run_paho_c.py PATH/TO/paho_c_test"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from mqtt_harness import Broker  # noqa: E402


def run(program):
    broker = Broker().start()
    try:
        try:
            rc = subprocess.run([program, "127.0.0.1", str(broker.port)], timeout=120).returncode
        except subprocess.TimeoutExpired:
            print("FAIL: paho_c_test timed out")
            rc = 1
        if not broker.running():
            print("FAIL: broker exited during the test; log:\n" + broker.log_tail())
            rc = rc or 1
        elif rc != 0:
            print("broker log tail:\n" + broker.log_tail())
        return rc
    finally:
        broker.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: run_paho_c.py PATH/TO/paho_c_test")
    sys.exit(run(sys.argv[1]))

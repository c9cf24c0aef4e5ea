"""Interop: MQTT.js (the npm mqtt package, v5) under Node.js against the
broker named by MUSQRATT_BIN, over ws:// and wss://, MQTT 3.1.1 and 5.

The package is installed at test time with `npm ci` from the committed
tests/interop/mqttjs/package-lock.json into MQ_NPM_DIR (a directory in the
build tree; reused once installed). Exits 77 (skipped) when node or npm is
missing; an install that fails is a test failure.

Owns: its brokers and node processes. Never: uses anything but 127.0.0.1."""

import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
from mqtt_harness import BrokerTestCase, main  # noqa: E402
import tls_certs  # noqa: E402

NODE = shutil.which("node")
NPM = shutil.which("npm")
NPM_DIR = os.environ.get("MQ_NPM_DIR") or os.path.join(HERE, "..", "..", "build", "mqttjs")
PKI = None


def install():
    os.makedirs(NPM_DIR, exist_ok=True)
    if os.path.exists(os.path.join(NPM_DIR, "node_modules", "mqtt", "package.json")):
        return
    for f in ("package.json", "package-lock.json", "roundtrip.js"):
        shutil.copy(os.path.join(HERE, "mqttjs", f), NPM_DIR)
    p = subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--cache",
                        os.path.join(NPM_DIR, ".npm-cache")],
                       cwd=NPM_DIR, capture_output=True, text=True, timeout=240)
    if p.returncode != 0:
        raise RuntimeError("npm ci failed:\n" + p.stdout + p.stderr)


def setUpModule():
    global PKI
    install()
    shutil.copy(os.path.join(HERE, "mqttjs", "roundtrip.js"), NPM_DIR)
    PKI = tls_certs.TestPKI()


def tearDownModule():
    if PKI:
        PKI.cleanup()


class MqttJs(BrokerTestCase):
    def setUp(self):
        pass

    def run_js(self, url, cafile=None, version=4):
        args = [NODE, os.path.join(NPM_DIR, "roundtrip.js"), url, cafile or "", str(version)]
        p = subprocess.run(args, cwd=NPM_DIR, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "node: %s%s\nbroker log:\n%s" % (
            p.stdout, p.stderr, self.broker.log_tail()))
        self.assertIn("OK 3", p.stdout)

    def test_ws_qos_0_1_2(self):
        self.broker = self.start_broker([("protocol", "websockets")])
        for v in (4, 5):
            self.run_js("ws://127.0.0.1:%d/mqtt" % self.broker.port, version=v)

    def test_wss_qos_0_1_2(self):
        self.broker = self.start_broker([
            ("protocol", "websockets"), ("cafile", PKI.path("ca.crt")),
            ("certfile", PKI.path("server.crt")), ("keyfile", PKI.path("server.key"))])
        for v in (4, 5):
            self.run_js("wss://127.0.0.1:%d/mqtt" % self.broker.port, PKI.path("ca.crt"), v)


if __name__ == "__main__":
    if not NODE or not NPM:
        print("node or npm not found: skipped")
        sys.exit(77)
    main()

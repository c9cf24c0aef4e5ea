"""Interop over TLS and WebSockets with clients nobody here wrote:
mosquitto_pub / mosquitto_sub (Debian's 2.0.11 speak TLS but not WebSockets:
`mosquitto_sub --help` lists no websockets option) and Eclipse Paho Python
(transport="websockets", over ws:// and wss://).

Certificates are made at test time (tests/system/tls_certs.py). Owns: its
brokers and client processes. Never: uses anything but 127.0.0.1."""

import os
import queue
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
from mqtt_harness import BrokerTestCase, main, unique  # noqa: E402
import tls_certs  # noqa: E402

try:
    import paho.mqtt.client as mqtt
except ImportError:
    mqtt = None

PUB = shutil.which("mosquitto_pub")
SUB = shutil.which("mosquitto_sub")
PKI = None
TIMEOUT = 10


def setUpModule():
    global PKI
    PKI = tls_certs.TestPKI()


def tearDownModule():
    if PKI:
        PKI.cleanup()


def tls_opts(**extra):
    return [("cafile", PKI.path("ca.crt")), ("certfile", PKI.path("server.crt")),
            ("keyfile", PKI.path("server.key"))] + list(extra.items())


@unittest.skipUnless(PUB and SUB, "mosquitto-clients not installed")
class MosquittoClientsTls(BrokerTestCase):
    def setUp(self):
        pass

    def start(self, **extra):
        self.broker = self.start_broker(tls_opts(**extra))
        return self.broker.port

    def base(self, port, cert=None, version=None):
        args = ["-h", "127.0.0.1", "-p", str(port), "--cafile", PKI.path("ca.crt")]
        if cert:
            args += ["--cert", PKI.path(cert + ".crt"), "--key", PKI.path(cert + ".key")]
        if version:
            args += ["--tls-version", version]
        return args

    def roundtrip(self, port, cert=None, version=None, qos=1):
        topic = unique("mtls/")
        sub = subprocess.Popen([SUB] + self.base(port, cert, version) +
                               ["-t", topic, "-q", str(qos), "-C", "1", "-W", str(TIMEOUT)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: sub.poll() is None and sub.kill())
        # publish until the subscriber is in (retain would also do, but this
        # keeps the retained store out of it)
        out = None
        for _ in range(40):
            p = subprocess.run([PUB] + self.base(port, cert, version) +
                               ["-t", topic, "-q", str(qos), "-m", "hello " + topic],
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr + self.broker.log_tail())
            try:
                out, err = sub.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                continue
        self.assertIsNotNone(out, "mosquitto_sub got nothing")
        self.assertEqual(sub.returncode, 0, err)
        self.assertEqual(out.strip(), "hello " + topic)

    def refused(self, port, cert=None, version=None):
        p = subprocess.run([PUB] + self.base(port, cert, version) + ["-t", "x", "-m", "x"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertNotEqual(p.returncode, 0, "mosquitto_pub was accepted")

    def test_cafile_only(self):
        port = self.start()
        self.roundtrip(port)

    def test_tls_version_options(self):
        # libmosquitto's --tls-version is a minimum too (tlsv1.2 still
        # negotiates 1.3), so a TLS 1.2-only client is tested with Python's
        # ssl module in tests/system/test_tls.py.
        port = self.start()
        self.roundtrip(port, version="tlsv1.2")
        self.roundtrip(port, version="tlsv1.3", qos=2)

    def test_listener_tls_version_1_3(self):
        port = self.start(tls_version="tlsv1.3")
        self.roundtrip(port, version="tlsv1.3")

    def test_require_certificate(self):
        port = self.start(require_certificate="true")
        self.refused(port)
        self.roundtrip(port, cert="client")

    def test_revoked_certificate_refused_with_crlfile(self):
        port = self.start(require_certificate="true", crlfile=PKI.path("crl.pem"))
        self.refused(port, cert="revoked")
        self.roundtrip(port, cert="client")

    def test_use_identity_as_username_with_allow_anonymous_false(self):
        # Without the identity, a client with no username is refused here.
        port = self.start(require_certificate="true", use_identity_as_username="true",
                          allow_anonymous="false")
        self.roundtrip(port, cert="client")

    def test_allow_anonymous_false_without_identity_refuses(self):
        port = self.start(require_certificate="true", allow_anonymous="false")
        self.refused(port, cert="client")


@unittest.skipUnless(mqtt, "python3-paho-mqtt not installed")
class PahoWebSockets(BrokerTestCase):
    def setUp(self):
        pass

    def client(self, port, tls):
        q = queue.Queue()
        c = mqtt.Client(client_id=unique("pws"), transport="websockets")
        if tls:
            c.tls_set(ca_certs=PKI.path("ca.crt"))
        c.ws_set_options(path="/mqtt")
        c.on_message = lambda cl, u, m: q.put(m)
        connected = queue.Queue()
        c.on_connect = lambda cl, u, f, rc: connected.put(rc)
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        self.addCleanup(c.loop_stop)
        self.addCleanup(c.disconnect)
        self.assertEqual(connected.get(timeout=TIMEOUT), 0)
        return c, q

    def roundtrip(self, port, tls):
        sub, q = self.client(port, tls)
        topic = unique("pws/")
        rc, mid = sub.subscribe(topic, 2)
        self.assertEqual(rc, 0)
        pub, _ = self.client(port, tls)
        import time
        time.sleep(0.3)  # the SUBACK
        payloads = [b"zero", os.urandom(70000), b"two"]
        for qos, pl in enumerate(payloads):
            info = pub.publish(topic, pl, qos=qos)
            info.wait_for_publish(TIMEOUT)
        for qos, pl in enumerate(payloads):
            m = q.get(timeout=TIMEOUT)
            self.assertEqual((m.qos, m.payload), (qos, pl))

    def test_ws(self):
        self.broker = self.start_broker([("protocol", "websockets")])
        self.roundtrip(self.broker.port, False)

    def test_wss(self):
        self.broker = self.start_broker([("protocol", "websockets")] + tls_opts())
        self.roundtrip(self.broker.port, True)


if __name__ == "__main__":
    main()

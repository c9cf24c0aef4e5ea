"""TLS listeners (Mosquitto's cafile/certfile/keyfile/require_certificate/
crlfile/tls_version/use_identity_as_username/use_subject_as_username) with
Python's ssl module as the client. Certificates are made at test time
(tls_certs.py); nothing secret is committed."""

import os
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import (Broker, BrokerTestCase, ConnectionClosed, broker_binary,  # noqa: E402
                          main, unique)
import tls_certs  # noqa: E402
from transport_harness import TlsClient, client_context  # noqa: E402

PKI = None


def setUpModule():
    global PKI
    if not tls_certs.available():
        raise unittest.SkipTest("openssl command not found")
    PKI = tls_certs.TestPKI()


def tearDownModule():
    if PKI:
        PKI.cleanup()


def tls_options(**extra):
    opts = [("cafile", PKI.path("ca.crt")), ("certfile", PKI.path("server.crt")),
            ("keyfile", PKI.path("server.key"))]
    opts += list(extra.items())
    return opts


class TlsCase(BrokerTestCase):
    def start_tls(self, **extra):
        self.broker = self.start_broker(tls_options(**extra))
        self.port = self.broker.port
        return self.broker

    def tls_client(self, **ctx_kw):
        c = TlsClient(self.port, client_context(PKI, **ctx_kw))
        self.addCleanup(c.close)
        return c

    def assert_refused(self, **ctx_kw):
        """The handshake (or, with TLS 1.3, the first read after it) fails."""
        try:
            c = TlsClient(self.port, client_context(PKI, **ctx_kw))
        except (ssl.SSLError, ConnectionError, OSError):
            return
        self.addCleanup(c.close)
        try:
            c.try_send(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
            pkt = c.read_packet(3.0)
        except (ssl.SSLError, ConnectionClosed, ConnectionError, OSError):
            return
        self.fail("the broker accepted the connection (got %r)" % pkt)

    def setUp(self):
        pass  # each test starts its own broker


class TestTlsBasics(TlsCase):
    def test_publish_subscribe_over_tls(self):
        self.start_tls()
        sub = self.tls_client()
        sub.connect(unique("sub"))
        sub.subscribe([("t/tls", 2)])
        pub = self.tls_client()
        pub.connect(unique("pub"))
        for qos in (0, 1, 2):
            pub.publish("t/tls", b"payload-%d" % qos, qos=qos)
            p = sub.expect_publish()
            self.assertEqual(p.payload, b"payload-%d" % qos)
        pub.disconnect()

    def test_large_messages_cross_tls_record_and_buffer_bounds(self):
        # 600 KB: many 16 KiB TLS records, partial writes into a small
        # receive buffer; the bytes must arrive whole and in order.
        self.start_tls()
        sub = TlsClient(self.port, client_context(PKI))
        self.addCleanup(sub.close)
        sub.connect(unique("sub"))
        sub.subscribe([("t/big", 1)])
        pub = self.tls_client()
        pub.connect(unique("pub"))
        payloads = [os.urandom(600 * 1024), os.urandom(70000), b"x"]
        for pl in payloads:
            pub.publish("t/big", pl, qos=1)
        for pl in payloads:
            self.assertEqual(sub.expect_publish(timeout=10).payload, pl)

    def test_slow_reader_gets_everything_after_the_socket_filled(self):
        # A subscriber that does not read for a while: the broker's TLS
        # writes block (EPOLLOUT, the bounded TLS buffer kept), then resume.
        self.start_tls()
        sub = TlsClient(self.port, client_context(PKI), rcvbuf=4096)
        self.addCleanup(sub.close)
        sub.connect(unique("slow"))
        sub.subscribe([("t/slow", 1)])
        pub = self.tls_client()
        pub.connect(unique("pub"))
        payloads = [os.urandom(150 * 1024) for _ in range(8)]
        for pl in payloads:
            pub.publish("t/slow", pl, qos=1)
        time.sleep(1.0)
        for pl in payloads:
            self.assertEqual(sub.expect_publish(timeout=10).payload, pl)


        self.start_tls()
        c = self.client()
        c.try_send(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
        c.expect_closed(timeout=5)
        ok = self.tls_client()
        ok.connect(unique("alive"))

    def test_default_minimum_allows_tls12_and_tls13(self):
        self.start_tls()
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            c = self.tls_client(minimum=v, maximum=v)
            self.assertEqual(c.sock.version(), {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                                ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v])
            c.connect(unique("v"))

    def test_tls_version_tlsv1_3_refuses_tls12_clients(self):
        self.start_tls(tls_version="tlsv1.3")
        self.assert_refused(maximum=ssl.TLSVersion.TLSv1_2)
        c = self.tls_client(minimum=ssl.TLSVersion.TLSv1_3)
        c.connect(unique("v13"))

    def test_tls_version_tlsv1_2_is_a_minimum(self):
        self.start_tls(tls_version="tlsv1.2")
        c = self.tls_client(maximum=ssl.TLSVersion.TLSv1_2)
        c.connect(unique("v12"))
        c = self.tls_client(minimum=ssl.TLSVersion.TLSv1_3)
        c.connect(unique("v13"))

    def test_ciphers_restrict_tls12_suites(self):
        self.start_tls(ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
        c = self.tls_client(maximum=ssl.TLSVersion.TLSv1_2)
        self.assertEqual(c.sock.cipher()[0], "ECDHE-ECDSA-AES256-GCM-SHA384")
        c.connect(unique("c"))

    def test_ciphers_tls13(self):
        self.start_tls(**{"ciphers_tls1.3": "TLS_CHACHA20_POLY1305_SHA256"})
        c = self.tls_client(minimum=ssl.TLSVersion.TLSv1_3)
        self.assertEqual(c.sock.cipher()[0], "TLS_CHACHA20_POLY1305_SHA256")
        c.connect(unique("c"))

    def test_idle_handshake_is_bounded_by_connect_timeout(self):
        import socket as s
        self.start_tls()
        raw = s.create_connection(("127.0.0.1", self.port))
        self.addCleanup(raw.close)
        raw.settimeout(20)
        t0 = time.monotonic()
        try:
            data = raw.recv(100)  # no ClientHello sent: the broker must give up
        except OSError:
            data = b""
        self.assertEqual(data, b"")
        # connect_timeout defaults to 10 s, as in the core
        self.assertLess(time.monotonic() - t0, 15)


class TestClientCertificates(TlsCase):
    def test_require_certificate_refuses_a_client_without_one(self):
        self.start_tls(require_certificate="true")
        self.assert_refused()
        c = self.tls_client(cert="client")
        c.connect(unique("ok"))

    def test_require_certificate_refuses_a_certificate_of_another_ca(self):
        self.start_tls(require_certificate="true")
        self.assert_refused(cert="stranger")

    def test_crlfile_refuses_a_revoked_certificate(self):
        self.start_tls(require_certificate="true", crlfile=PKI.path("crl.pem"))
        self.assert_refused(cert="revoked")
        c = self.tls_client(cert="client")
        c.connect(unique("ok"))

    def test_without_crlfile_the_revoked_certificate_is_still_valid(self):
        # The counterpart of the test above: the refusal is the CRL's doing.
        self.start_tls(require_certificate="true")
        c = self.tls_client(cert="revoked")
        c.connect(unique("ok"))

    def test_use_identity_as_username_lets_a_certified_client_in(self):
        # allow_anonymous false: without the certificate's CN as username a
        # client sending no username would get "not authorized" (5).
        self.start_tls(require_certificate="true", use_identity_as_username="true",
                       allow_anonymous="false", log_type="all")
        c = self.tls_client(cert="client")
        c.connect(unique("id"), expect_rc=0)
        deadline = time.monotonic() + 3
        while "TLS client identity 'alice'" not in self.broker.log_tail(20000):
            self.assertLess(time.monotonic(), deadline, self.broker.log_tail())
            time.sleep(0.05)

    def test_without_use_identity_the_same_client_is_not_authorized(self):
        self.start_tls(require_certificate="true", allow_anonymous="false")
        c = self.tls_client(cert="client")
        c.connect(unique("id"), expect_rc=5)

    def test_use_subject_as_username_is_the_rfc2253_subject(self):
        self.start_tls(require_certificate="true", use_subject_as_username="true",
                       allow_anonymous="false", log_type="all")
        c = self.tls_client(cert="client")
        c.connect(unique("subj"), expect_rc=0)
        want = "TLS client identity 'CN=alice,O=musqratt tests,C=XX'"
        deadline = time.monotonic() + 3
        while want not in self.broker.log_tail(20000):
            self.assertLess(time.monotonic(), deadline, self.broker.log_tail())
            time.sleep(0.05)

    def test_use_identity_without_a_client_certificate_is_refused(self):
        # require_certificate false: no certificate is asked for, so there is
        # no identity, and the connection must not go on without one.
        self.start_tls(use_identity_as_username="true")
        self.assert_refused()


class TestStartupErrors(unittest.TestCase):
    def run_broker(self, opts):
        b = Broker(opts)
        self.addCleanup(b.tmpdir.cleanup)
        conf = os.path.join(b.tmpdir.name, "broker.conf")
        with open(conf, "w") as f:
            f.write(b._config_text(0))
        p = subprocess.run([broker_binary(), "-c", conf], capture_output=True, timeout=20)
        return p.returncode, p.stderr.decode()

    def test_missing_certfile_is_named(self):
        missing = os.path.join(PKI.dir, "nope.crt")
        rc, err = self.run_broker([("certfile", missing), ("keyfile", PKI.path("server.key"))])
        self.assertNotEqual(rc, 0)
        self.assertIn("certfile '%s'" % missing, err)

    def test_key_not_matching_the_certificate_is_named(self):
        rc, err = self.run_broker([("certfile", PKI.path("server.crt")),
                                   ("keyfile", PKI.path("client.key"))])
        self.assertNotEqual(rc, 0)
        self.assertIn(PKI.path("client.key"), err)

    def test_bad_cafile_and_crlfile_are_named(self):
        for key in ("cafile", "crlfile"):
            bad = PKI.path("server.key")  # not a certificate / CRL
            opts = tls_options(require_certificate="true")
            opts = [(k, v) for k, v in opts if k != key] + [(key, bad)]
            if key == "crlfile":
                opts.append(("cafile", PKI.path("ca.crt")))
            rc, err = self.run_broker(opts)
            self.assertNotEqual(rc, 0, key)
            self.assertIn("%s '%s'" % (key, bad), err)

    def test_certfile_without_keyfile(self):
        rc, err = self.run_broker([("certfile", PKI.path("server.crt"))])
        self.assertNotEqual(rc, 0)
        self.assertIn("certfile and keyfile", err)


if __name__ == "__main__":
    main()

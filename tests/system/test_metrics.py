"""The Prometheus endpoint (metrics_listener PORT [ADDRESS]): GET /metrics
read with curl, counters that move with traffic, the latency histogram, and
the HTTP rules (404, 405, 431, close after the response, slow clients)."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403

CURL = shutil.which("curl")


def parse_metrics(text):
    """{name or name{labels}: float}; checks every sample has HELP and TYPE."""
    values, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        assert m, "not a Prometheus sample: %r" % line
        base = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", base)
        assert base in typed or family in typed, "no TYPE for %s" % base
        values[base + (m.group(2) or "")] = float(m.group(3))
    return values


class MetricsTest(BrokerTestCase):

    def setUp(self):
        # The endpoint's port is picked like the MQTT one; a clash only
        # makes start() retry with new ports.
        for _ in range(5):
            self.mport = free_port()
            self.broker_options = {"metrics_listener": "%d 127.0.0.1" % self.mport}
            try:
                super().setUp()
            except RuntimeError:
                continue
            # The harness waits for the MQTT port; the endpoint opens a
            # moment later (after the broker exists): wait for it too.
            deadline = time.monotonic() + 5
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.mport), timeout=1).close()
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        raise RuntimeError("broker with a metrics listener did not start")

    def curl(self, path="/metrics", *extra):
        r = subprocess.run([CURL, "-s", "-m", "5", "-w", "\n%{http_code}", *extra,
                            "http://127.0.0.1:%d%s" % (self.mport, path)],
                           capture_output=True, timeout=10)
        body, _, code = r.stdout.decode().rpartition("\n")
        return int(code), body

    def scrape(self):
        code, body = self.curl()
        self.assertEqual(code, 200, body)
        return parse_metrics(body)

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_reads_the_counters(self):
        m = self.scrape()
        for name in ("musqratt_clients_connected", "musqratt_messages_received_total",
                     "musqratt_messages_sent_total", "musqratt_bytes_received_total",
                     "musqratt_subscriptions", "musqratt_shared_subscriptions",
                     "musqratt_retained_messages",
                     "musqratt_memory_bytes", "musqratt_queued_memory_bytes",
                     "musqratt_uptime_seconds", "musqratt_connections_rate_limited_total",
                     "musqratt_publish_latency_seconds_count"):
            self.assertIn(name, m)
        self.assertEqual(m['musqratt_build_info{version="0.1.0"}'], 1)

    @unittest.skipUnless(CURL, "curl not installed")
    def test_counters_and_histogram_move_when_messages_flow(self):
        before = self.scrape()
        s = self.subscriber([("m/#", 1)])
        p = self.connected()
        for i in range(10):
            p.publish("m/x", b"0123456789", qos=1)
        for _ in range(10):
            s.expect_publish()
        after = self.scrape()
        self.assertEqual(after["musqratt_clients_connected"], 2)
        self.assertEqual(after["musqratt_subscriptions"], before["musqratt_subscriptions"] + 1)
        self.assertEqual(after["musqratt_messages_received_total"],
                         before["musqratt_messages_received_total"] + 10)
        self.assertGreaterEqual(after["musqratt_messages_sent_total"],
                                before["musqratt_messages_sent_total"] + 10)
        self.assertEqual(after["musqratt_publish_bytes_received_total"],
                         before["musqratt_publish_bytes_received_total"] + 100)
        self.assertGreater(after["musqratt_bytes_sent_total"], before["musqratt_bytes_sent_total"])
        # Histogram: one observation per PUBLISH, cumulative buckets, +Inf = count.
        count = after["musqratt_publish_latency_seconds_count"]
        self.assertGreaterEqual(count, 10)
        buckets = sorted(((float(k.split('"')[1]) if "+Inf" not in k else float("inf")), v)
                         for k, v in after.items()
                         if k.startswith("musqratt_publish_latency_seconds_bucket"))
        self.assertGreater(len(buckets), 5)
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "buckets are cumulative")
        self.assertEqual(buckets[-1], (float("inf"), count))
        self.assertGreater(after["musqratt_publish_latency_seconds_sum"], 0)

    @unittest.skipUnless(CURL, "curl not installed")
    def test_other_paths_404_other_methods_405(self):
        self.assertEqual(self.curl("/")[0], 404)
        self.assertEqual(self.curl("/metricsx")[0], 404)
        self.assertEqual(self.curl("/metrics?x=1")[0], 200)
        self.assertEqual(self.curl("/metrics", "-X", "POST", "-d", "a=b")[0], 405)
        self.assertEqual(self.curl("/metrics", "-I")[0], 405)  # HEAD
        r = subprocess.run([CURL, "-s", "-D", "-", "-o", "/dev/null", "-X", "DELETE",
                            "http://127.0.0.1:%d/metrics" % self.mport],
                           capture_output=True, timeout=10)
        self.assertIn(b"Allow: GET", r.stdout)

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.mport), timeout=8)
        self.addCleanup(s.close)
        return s

    def read_all(self, s):
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk

    def test_response_then_close(self):
        s = self.raw()
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = self.read_all(s)  # EOF: the server closed after the response
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK"))
        self.assertIn(b"Connection: close", head)
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        self.assertEqual(len(body), length)
        self.assertIn(b"text/plain; version=0.0.4", head)

    def test_bad_request_line_is_400(self):
        s = self.raw()
        s.sendall(b"HELLO\r\n\r\n")
        self.assertTrue(self.read_all(s).startswith(b"HTTP/1.1 400"))

    def test_oversized_request_is_refused(self):
        s = self.raw()
        s.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 8192)
        data = self.read_all(s)
        self.assertTrue(data.startswith(b"HTTP/1.1 431"), data[:40])
        self.assert_broker_alive()

    def test_silent_client_is_closed_and_mqtt_unaffected(self):
        s = self.raw()
        s.sendall(b"GET /metr")  # never finishes
        # MQTT keeps working meanwhile, at full speed.
        t0 = time.monotonic()
        self.assert_broker_alive()
        self.assertLess(time.monotonic() - t0, 2)
        s.settimeout(8)
        t0 = time.monotonic()
        self.assertEqual(s.recv(100), b"")  # closed by the 5 s timeout
        self.assertLess(time.monotonic() - t0, 7.5)

    def test_many_clients_at_once_do_not_break_it(self):
        socks = [self.raw() for _ in range(20)]  # more than the 8 slots
        for s in socks:
            try:
                s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            except OSError:
                pass
        ok = 0
        for s in socks:
            try:
                if self.read_all(s).startswith(b"HTTP/1.1 200"):
                    ok += 1
            except OSError:
                pass
            s.close()  # the server holds a slot until the client closes
        self.assertGreaterEqual(ok, 8)
        self.assert_broker_alive()
        if CURL:
            self.assertEqual(self.curl()[0], 200)


if __name__ == "__main__":
    main()

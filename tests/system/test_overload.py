"""Overload protection: max_connection_rate (a token bucket per listener,
excess connections closed at accept) and max_queued_memory (a broker-wide
ceiling on queued deliveries: MQTT 5 publishers get 0x97 Quota exceeded)."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


def try_connect(port, client_id):
    """True if a CONNECT gets its CONNACK, False if the broker closes."""
    c = MqttClient(port, timeout=3)
    try:
        c.connect(client_id)
        return c
    except (ConnectionClosed, OSError, AssertionError):
        c.close()
        return None


class ConnectionRateTest(BrokerTestCase):

    broker_options = [("max_connection_rate", 5)]

    def test_burst_beyond_the_rate_is_refused_then_recovers(self):
        time.sleep(1.1)  # the harness's readiness probes took tokens: refill
        # 20 sockets at once: the bucket holds 5 (one second's worth).
        socks = [socket.create_connection((HOST, self.port), timeout=3) for _ in range(20)]
        accepted = 0
        for i, s in enumerate(socks):
            try:
                s.sendall(build_connect(unique("burst")))
                data = s.recv(4)
                if data[:1] == bytes([CONNACK << 4]):
                    accepted += 1
            except OSError:
                pass
            finally:
                s.close()
        # 5, plus at most the couple of tokens refilled while we ran.
        self.assertGreaterEqual(accepted, 5)
        self.assertLessEqual(accepted, 8)
        self.assertIn("max_connection_rate (5/s) exceeded", self.broker.log_tail())
        time.sleep(1.1)
        c = try_connect(self.port, unique("after"))
        self.assertIsNotNone(c, "the bucket refills")
        c.close()


class ConnectionRatePerListenerTest(BrokerTestCase):
    """After a listener line the directive limits that listener only."""

    def setUp(self):
        self.port2 = free_port()
        self.broker_options = [("listener", "%d %s" % (self.port2, HOST)),
                               ("max_connection_rate", 1)]
        super().setUp()

    def test_only_the_second_listener_is_limited(self):
        time.sleep(1.1)
        first = [try_connect(self.port, unique("a")) for _ in range(6)]
        self.assertTrue(all(first), "the first listener has no limit")
        second = [try_connect(self.port2, unique("b")) for _ in range(4)]
        self.assertEqual(sum(1 for c in second if c), 1)
        for c in first + second:
            if c:
                c.close()


class QueuedMemoryTest(BrokerTestCaseV5):

    broker_options = [("max_queued_memory", 20000)]

    def test_v5_publisher_gets_quota_exceeded_when_nobody_can_take_it(self):
        # An offline persistent subscriber collects a queue.
        s = self.connected(unique("offline"), clean=False)
        s.subscribe([("quota/#", 1)])
        s.disconnect()
        time.sleep(0.2)
        p = self.connected5()
        payload = b"q" * 4000
        reasons = [p.publish("quota/x", payload, qos=1).reason for _ in range(10)]
        self.assertEqual(reasons[0], RC_SUCCESS)
        self.assertIn(0x97, reasons)
        first = reasons.index(0x97)
        self.assertGreaterEqual(first, 3)  # 20000 bytes hold a few of them
        self.assertTrue(all(r == 0x97 for r in reasons[first:]), reasons)
        # QoS 2: PUBREC 0x97 ends the exchange.
        self.assertEqual(p.publish("quota/y", payload, qos=2).reason, 0x97)
        # MQTT 3.1.1 publishers cannot be told: a plain PUBACK.
        p3 = self.connected()
        p3.publish("quota/z", payload, qos=1)
        self.assertIn("max_queued_memory (20000 bytes) reached", self.broker.log_tail())
        # The broker kept serving, and the queue holds what fitted.
        self.assert_broker_alive()

    def test_queue_drains_and_room_comes_back(self):
        sid = unique("offline")
        s = self.connected(sid, clean=False)
        s.subscribe([("room/#", 1)])
        s.disconnect()
        time.sleep(0.2)
        p = self.connected5()
        payload = b"r" * 4000
        reasons = [p.publish("room/x", payload, qos=1).reason for _ in range(8)]
        kept = reasons.count(RC_SUCCESS)
        self.assertIn(0x97, reasons)
        # The subscriber returns and takes its queue: exactly what was accepted.
        s = self.connected(sid, clean=False)
        got = s.expect_publishes(kept)
        self.assertEqual(len(got), kept)
        s.expect_no_publish(0.5)
        # Room again.
        self.assertEqual(p.publish("room/x", payload, qos=1).reason, RC_SUCCESS)
        s.expect_publish()


if __name__ == "__main__":
    main()

"""Configured limits and hostile input: the broker closes the offending
connection (MQTT-4.8.0-1) and keeps serving everyone else."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class BadInputTest(BrokerTestCase):

    def test_garbage_bytes_instead_of_connect_closes_connection(self):
        c = self.client()
        c.try_send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        c.expect_closed()
        c = self.client()
        c.try_send(bytes(range(256)) * 8)
        c.expect_closed()
        self.assert_broker_alive()

    def test_garbage_bytes_after_connect_close_connection(self):
        c = self.connected()
        # Deterministic garbage: 0xDE is a PINGRESP type with non-zero flags
        # (MQTT-2.2.2-2) and its remaining length never ends (section 2.2.3).
        c.try_send(b"\xde\xad\xbe\xef" * 16)
        c.expect_closed()
        self.assert_broker_alive()

    def test_reserved_packet_type_0_closes_connection_MQTT_2_2_1(self):
        c = self.connected()
        c.send(b"\x00\x00")
        c.expect_closed()
        self.assert_broker_alive()

    def test_reserved_packet_type_15_closes_connection_MQTT_2_2_1(self):
        c = self.connected()
        c.send(b"\xf0\x00")
        c.expect_closed()
        self.assert_broker_alive()

    def assert_server_only_packet_closes(self, pkt):
        # Each packet's direction is fixed by section 2.2.1; anything else is
        # a protocol violation (MQTT-4.8.0-1).
        c = self.connected()
        c.send(pkt)
        c.expect_closed()
        self.assert_broker_alive()

    def test_connack_from_client_closes_connection_MQTT_4_8_0_1(self):
        self.assert_server_only_packet_closes(fixed(CONNACK, 0, b"\x00\x00"))

    @mosquitto_deviates("MQTT-4.8.0-1: Mosquitto 2.0.11 ignores a SUBACK sent by a client")
    def test_suback_from_client_closes_connection_MQTT_4_8_0_1(self):
        self.assert_server_only_packet_closes(fixed(SUBACK, 0, b"\x00\x01\x00"))

    @mosquitto_deviates("MQTT-4.8.0-1: Mosquitto 2.0.11 ignores an UNSUBACK sent by a client")
    def test_unsuback_from_client_closes_connection_MQTT_4_8_0_1(self):
        self.assert_server_only_packet_closes(fixed(UNSUBACK, 0, b"\x00\x01"))

    @mosquitto_deviates("MQTT-4.8.0-1: Mosquitto 2.0.11 ignores a PINGRESP sent by a client")
    def test_pingresp_from_client_closes_connection_MQTT_4_8_0_1(self):
        self.assert_server_only_packet_closes(fixed(PINGRESP, 0, b""))

    def test_remaining_length_of_five_bytes_closes_connection_MQTT_2_2_3(self):
        c = self.connected()
        c.send(b"\x30\xff\xff\xff\xff\x01")
        c.expect_closed()
        self.assert_broker_alive()

    def test_huge_remaining_length_then_close_leaves_broker_alive(self):
        c = self.connected()
        c.try_send(b"\x30\xff\xff\xff\x7f" + b"\x00\x03abc" + b"x" * 4096)
        c.close()
        c = self.client()
        c.try_send(b"\x10\xff\xff\xff\x7f\x00\x04MQTT\x04\x02")
        time.sleep(0.3)
        c.abort()
        self.assert_broker_alive()

    def test_half_packet_then_close_leaves_broker_alive(self):
        c = self.connected()
        c.send(build_publish(unique("h/"), b"x" * 1000, qos=1, pid=1)[:500])
        c.close()
        c = self.client()
        c.send(build_connect(unique("c"))[:7])
        c.abort()
        self.assert_broker_alive()

    def test_packet_split_into_single_bytes_is_reassembled(self):
        t = unique("split/")
        sub = self.subscriber([(t, 1)])
        c = self.client()
        data = build_connect(unique("c")) + build_publish(t, b"trickle", qos=1, pid=3)
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.002)
        c.expect(CONNACK)
        c.expect(PUBACK, pid=3)
        self.assertEqual(sub.expect_publish().payload, b"trickle")

    def test_many_packets_in_one_segment_all_processed(self):
        t = unique("batch/")
        sub = self.subscriber([(t, 0)])
        c = self.client()
        data = build_connect(unique("c"))
        data += b"".join(build_publish(t, b"%d" % i) for i in range(200)) + build_pingreq()
        c.send(data)
        c.expect(CONNACK)
        c.expect(PINGRESP)
        got = sub.expect_publishes(200)
        self.assertEqual([int(p.payload) for p in got], list(range(200)))

    def test_many_simultaneous_clients(self):
        t = unique("many/")
        subs = [self.subscriber([(t, 1)]) for _ in range(100)]
        self.connected().publish(t, b"all", qos=1)
        for s in subs:
            self.assertEqual(s.expect_publish().payload, b"all")

    def test_connection_closed_before_connect_leaves_broker_alive(self):
        for _ in range(20):
            s = socket.create_connection((HOST, self.port), timeout=2)
            s.close()
        self.assert_broker_alive()

    def test_slow_reader_does_not_stall_other_clients(self):
        t_flood = unique("flood/")
        slow = self.client(rcvbuf=4096)
        slow.connect(unique("slow"))
        slow.subscribe([(t_flood, 0)])
        # slow never reads again.
        pub = self.connected()
        probe_topic = unique("probe/")
        probe = self.subscriber([(probe_topic, 0)])
        rss_before = self.broker.rss_kib()
        payload = b"z" * 4096
        chunk = b"".join(build_publish(t_flood, payload) for _ in range(250))  # 1 MB
        worst = 0.0
        for i in range(80):  # 80 MB towards a reader that takes nothing
            pub.send(chunk)
            pub.ping(timeout=5)
            start = time.monotonic()
            probe.send(build_publish(probe_topic, b"%d" % i))
            p = probe.expect_publish(timeout=5)
            worst = max(worst, time.monotonic() - start)
            self.assertEqual(p.payload, b"%d" % i)
        if os.environ.get("MQ_TEST_VERBOSE"):
            print("worst rtt %.3fs, rss %d KiB -> %d KiB" % (worst, rss_before, self.broker.rss_kib()))
        self.assertLess(worst, 1.0, "round trip of an unrelated client took %.3fs" % worst)
        grown_mib = (self.broker.rss_kib() - rss_before) / 1024.0
        self.assertLess(grown_mib, 32, "broker buffered %.1f MiB for a stalled reader" % grown_mib)
        self.assert_broker_alive()


class MaxPacketSizeTest(BrokerTestCase):
    broker_options = {"max_packet_size": 2000}

    def test_packet_larger_than_max_packet_size_closes_connection(self):
        t = unique("mps/")
        sub = self.subscriber([(t, 1)])
        c = self.connected()
        c.publish(t, b"s" * 1000, qos=1)
        self.assertEqual(len(sub.expect_publish().payload), 1000)
        c.try_send(build_publish(t, b"L" * 3000, qos=1, pid=9))
        c.expect_closed()
        sub.expect_no_publish(0.3)
        self.assert_broker_alive()

    def test_huge_remaining_length_closes_connection_promptly(self):
        c = self.connected()
        c.try_send(b"\x30\xff\xff\xff\x7f\x00\x03abc")
        c.expect_closed()
        self.assert_broker_alive()


class MaxConnectionsTest(BrokerTestCase):
    broker_options = {"max_connections": 3}

    def setUp(self):
        super().setUp()
        # Let the broker notice that the harness's readiness probe closed.
        time.sleep(0.3)

    def try_connect(self):
        """True if a fourth client gets a CONNACK with rc 0 and stays usable."""
        try:
            c = self.client(timeout=2)
            c.connect(unique("c"), expect_rc=None)
            c.ping(timeout=1)
            return True
        except (AssertionError, OSError):
            return False

    @musqratt_specific("max_connections N admits N clients in musqratt; Mosquitto 2.0.11 "
                       "admits N + 1 (its documentation says N)")
    def test_connection_beyond_max_connections_refused(self):
        held = [self.connected() for _ in range(3)]
        self.assertFalse(self.try_connect(), "fourth connection accepted")
        held[0].disconnect()
        deadline = time.monotonic() + 3
        while not self.try_connect():
            self.assertLess(time.monotonic(), deadline, "slot not freed after a disconnect")
            time.sleep(0.1)
        for c in held[1:]:
            c.ping()


class MessageSizeLimitTest(BrokerTestCase):
    broker_options = {"message_size_limit": 1000}

    def test_payload_over_message_size_limit_not_delivered(self):
        t = unique("msl/")
        sub = self.subscriber([(t, 1)])
        c = self.connected()
        c.try_send(build_publish(t, b"B" * 2000, qos=1, pid=1))
        sub.expect_no_publish(0.5)
        c2 = self.connected()
        c2.publish(t, b"b" * 900, qos=1)
        self.assertEqual(sub.expect_publish().payload, b"b" * 900)


class InflightTest(BrokerTestCase):
    broker_options = {"max_inflight_messages": 2}

    def test_max_inflight_messages_bounds_unacknowledged_deliveries(self):
        t = unique("inf/")
        sub = self.subscriber([(t, 1)])
        pub = self.connected()
        for i in range(6):
            pub.publish(t, b"%d" % i, qos=1)
        first = sub.collect_publishes(0.7, ack=False)
        self.assertEqual([p.payload for p in first], [b"0", b"1"])
        sub.send(build_puback(first[0].pid))
        nxt = sub.expect_publish(ack=False)
        self.assertEqual(nxt.payload, b"2")
        for p in [first[1], nxt]:
            sub.send(build_puback(p.pid))
        rest = sub.expect_publishes(3)
        self.assertEqual([p.payload for p in rest], [b"3", b"4", b"5"])


class QueuedMessagesTest(BrokerTestCase):
    broker_options = {"max_queued_messages": 5}

    def test_max_queued_messages_bounds_offline_queue(self):
        cid, t = unique("q"), unique("mq/")
        c = self.client()
        c.connect(cid, clean=False)
        c.subscribe([(t, 1)])
        c.disconnect()
        pub = self.connected()
        for i in range(50):
            pub.publish(t, b"%d" % i, qos=1)
        c2 = self.client()
        sp, _ = c2.connect(cid, clean=False)
        self.assertTrue(sp)
        got = c2.collect_publishes(1.0)
        n = len(got)
        self.assertGreaterEqual(n, 1)
        # Messages in flight may be counted apart from the queue (Mosquitto
        # does); either way far fewer than 50.
        self.assertLessEqual(n, 5 + 20, "queued %d messages" % n)
        vals = [int(p.payload) for p in got]
        self.assertEqual(vals, sorted(vals), "order kept among queued messages")


def offline_then_resume(test, topic, publish_n, payload_len=0, sub_qos=1, pub_qos=1):
    """Creates a persistent session subscribed to topic, publishes publish_n
    messages while it is offline, resumes it and returns what arrives."""
    cid = unique("q")
    c = test.client()
    c.connect(cid, clean=False)
    c.subscribe([(topic, sub_qos)])
    c.disconnect()
    pub = test.connected()
    for i in range(publish_n):
        pub.publish(topic, (b"%d:" % i).ljust(payload_len, b"."), qos=pub_qos)
    pub.ping()
    c2 = test.client()
    sp, _ = c2.connect(cid, clean=False)
    test.assertTrue(sp)
    return c2.collect_publishes(1.0)


class QueuedBytesTest(BrokerTestCase):
    broker_options = {"max_queued_bytes": 10000}

    def test_max_queued_bytes_bounds_offline_queue(self):
        got = offline_then_resume(self, unique("mqb/"), 50, payload_len=1000)
        self.assertGreaterEqual(len(got), 1)
        # 10 messages fit; messages in flight may be counted apart.
        self.assertLessEqual(len(got), 10 + 20, "queued %d x 1000 bytes" % len(got))


class QueueQos0Test(BrokerTestCase):
    broker_options = {"queue_qos0_messages": "true"}

    def test_queue_qos0_messages_true_queues_qos0_for_offline_session(self):
        got = offline_then_resume(self, unique("q0/"), 3, sub_qos=0, pub_qos=0)
        self.assertEqual([p.payload for p in got], [b"0:", b"1:", b"2:"])
        self.assertTrue(all(p.qos == 0 for p in got))


class NoQueueQos0Test(BrokerTestCase):
    def test_qos0_not_queued_for_offline_session_by_default(self):
        got = offline_then_resume(self, unique("q0/"), 3, sub_qos=0, pub_qos=0)
        self.assertEqual(got, [])


if __name__ == "__main__":
    main()

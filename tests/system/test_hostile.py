"""Hostile clients (issue 7's battery): each one misbehaves in a way that
real brokers have been hurt by, and the test checks that the broker bounds what
the client can cost, answers with the documented behaviour, and keeps serving
an unrelated client while it happens. Figures printed with MQ_TEST_VERBOSE=1
go into docs/ROBUSTNESS.md."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403

VERBOSE = os.environ.get("MQ_TEST_VERBOSE") == "1"


def report(fmt, *args):
    if VERBOSE:
        print("  [figure] " + (fmt % args), flush=True)


class HostileTestCase(BrokerTestCase):

    def assert_probe_round_trip(self, limit=1.0):
        """An unrelated client publishes to itself and gets it back in time."""
        t = unique("probe/")
        probe = self.subscriber([(t, 1)])
        start = time.monotonic()
        probe.publish(t, b"probe", qos=1)
        p = probe.expect_publish()
        took = time.monotonic() - start
        self.assertEqual(p.payload, b"probe")
        self.assertLess(took, limit, "probe round trip took %.3fs" % took)
        probe.disconnect()
        return took


class SlowClientTest(HostileTestCase):

    @musqratt_specific("musqratt closes a connection that has not completed CONNECT "
                       "after connect_timeout (10 s by default); Mosquitto waits longer")
    def test_slowloris_connect_is_closed_at_the_connect_timeout(self):
        # A CONNECT dribbled one byte every 0.5 s never completes within 10 s.
        pkt = build_connect(unique("slow"), keepalive=60)
        pkt = pkt + build_pingreq() * 40  # long enough to outlast the timeout
        slow = [self.client(timeout=1) for _ in range(5)]
        start = time.monotonic()
        closed_at = {}
        i = 0
        while len(closed_at) < len(slow) and time.monotonic() - start < 16:
            for n, c in enumerate(slow):
                if n in closed_at:
                    continue
                if not c.try_send(pkt[i:i + 1]):
                    closed_at[n] = time.monotonic() - start
                    continue
                c.sock.settimeout(0.001)
                try:
                    if c.sock.recv(1) == b"":
                        closed_at[n] = time.monotonic() - start
                except (socket.timeout, BlockingIOError):
                    pass
                except OSError:
                    closed_at[n] = time.monotonic() - start
            i += 1
            time.sleep(0.5)
        self.assertEqual(len(closed_at), len(slow), "slow CONNECTs still open after 16 s")
        worst = max(closed_at.values())
        report("slowloris CONNECT closed after %.1f s", worst)
        self.assertGreater(worst, 9.0)
        self.assertLess(worst, 13.0)
        self.assert_probe_round_trip()

    @mosquitto_deviates("MQTT-3.1.2-24: Mosquitto 2.0.11 drops a silent keepalive-1 client "
                        "after about 5 s, not 1.5 s")
    def test_half_open_client_is_dropped_by_keepalive_and_its_will_sent(self):
        # The client vanishes without FIN or RST (a pulled cable): the broker
        # only learns it from the keepalive (MQTT-3.1.2-24), then sends the will.
        t = unique("will/")
        watcher = self.subscriber([(t, 1)])
        ghost = self.client()
        ghost.connect(unique("ghost"), keepalive=1,
                      will={"topic": t, "payload": b"gone", "qos": 1})
        start = time.monotonic()
        p = watcher.expect_publish(timeout=4)
        took = time.monotonic() - start
        self.assertEqual(p.payload, b"gone")
        report("half-open client (keepalive 1 s) dropped and will sent after %.2f s", took)
        self.assertGreater(took, 0.9)
        self.assertLess(took, 3.0)
        ghost.close()


class TopicAbuseTest(HostileTestCase):

    @mosquitto_deviates("Mosquitto 2.0.11 closes the connection of a client subscribing "
                        "with a 65535-level filter")
    def test_deepest_possible_topic_and_filter(self):
        # 65534 empty levels and "z": the longest topic a UTF-8 string can
        # hold, with the most levels; matching must not recurse per level.
        deep = "/" * 65534 + "z"
        filters = [deep, "/" * 65534 + "+", "+/" * 32766 + "#"]
        subs = []
        for f in filters:
            c = self.connected()
            self.assertEqual(c.subscribe([(f, 0)]), [0])
            subs.append(c)
        pub = self.connected()
        start = time.monotonic()
        pub.publish(deep, b"deep", qos=1)
        got = [c.expect_publish(timeout=10) for c in subs]
        took = time.monotonic() - start
        self.assertEqual([p.payload for p in got], [b"deep"] * 3)
        self.assertEqual({p.topic for p in got}, {deep})
        report("65535-level topic matched against 3 deep filters in %.3f s", took)
        # Retained at that depth, then delivered to a new "#" subscriber.
        pub.publish(deep, b"kept", qos=1, retain=True)
        for c in subs:
            c.expect_publish()
        late = self.connected()
        late.subscribe([("#", 0)])
        seen = [p for p in late.collect_publishes(1.0) if p.topic == deep]
        self.assertEqual([p.payload for p in seen], [b"kept"])
        pub.publish(deep, b"", qos=1, retain=True)  # clear it
        self.assert_probe_round_trip()

    def test_100k_subscriptions_from_one_client(self):
        c = self.connected()
        n, batch = 100000, 500
        start = time.monotonic()
        for base in range(0, n, batch):
            filters = [("hostile/%d/x" % i, 0) for i in range(base, base + batch)]
            self.assertEqual(c.subscribe(filters), [0] * batch)
        took_sub = time.monotonic() - start
        rss = self.broker.rss_kib()
        # A probe in the middle of the table still works at normal speed.
        probe_took = self.assert_probe_round_trip()
        pub = self.connected()
        pub.publish("hostile/54321/x", b"hit", qos=1)
        self.assertEqual(c.expect_publish().payload, b"hit")
        start = time.monotonic()
        for base in range(0, n, batch):
            filters = ["hostile/%d/x" % i for i in range(base, base + batch)]
            c.unsubscribe(filters)
        took_unsub = time.monotonic() - start
        pub.publish("hostile/54321/x", b"miss", qos=1)
        c.expect_no_publish(0.3)
        report("100k subscriptions: subscribe %.2f s, unsubscribe %.2f s, RSS %d KiB, "
               "probe %.1f ms", took_sub, took_unsub, rss, probe_took * 1000)
        c.disconnect()
        self.assert_broker_alive()


class SubscriptionLimitTest(HostileTestCase):
    broker_options = {"max_subscriptions_per_client": 1000}

    @musqratt_specific("max_subscriptions_per_client is musqratt's")
    def test_subscriptions_beyond_the_limit_are_refused_0x80(self):
        c = self.connected()
        codes = []
        for base in range(0, 1200, 200):
            codes += c.subscribe([("lim/%d" % i, 1) for i in range(base, base + 200)])
        self.assertEqual(codes[:1000], [1] * 1000)
        self.assertEqual(codes[1000:], [0x80] * 200)
        self.assertEqual(c.subscribe([("lim/5", 0)]), [0])  # replacing one is fine
        self.assert_probe_round_trip()


class ReconnectStormTest(HostileTestCase):

    def test_reconnect_storm_with_one_client_id(self):
        # 300 connections with the same client id, as fast as possible, none
        # waiting for its CONNACK: each takes over the previous (MQTT-3.1.4-2).
        cid = unique("storm")
        conns = []
        start = time.monotonic()
        for _ in range(300):
            c = self.client()
            c.send(build_connect(cid, clean=False, keepalive=60))
            conns.append(c)
        last = conns[-1]
        pkt = last.expect(CONNACK)
        self.assertEqual(pkt.body[1], 0)
        for c in conns[:-1]:
            c.expect_closed(timeout=5, allow_packets=(CONNACK,))
        took = time.monotonic() - start
        report("reconnect storm: 300 takeovers of one client id in %.2f s", took)
        # The survivor owns the session and works.
        t = unique("storm/")
        self.assertEqual(last.subscribe([(t, 1)]), [1])
        last.publish(t, b"alive", qos=1)
        self.assertEqual(last.expect_publish().payload, b"alive")
        for c in conns:
            c.close()
        self.assert_probe_round_trip()


class PacketIdAbuseTest(HostileTestCase):
    # Room for 65535 QoS 0 deliveries released at once (not a drop test).
    broker_options = {"max_queued_messages": 100000}

    def test_pubrel_for_unknown_ids_gets_pubcomp(self):
        # MQTT-4.3.3-11 (3.1.1 sends PUBCOMP even when the id is unknown).
        c = self.connected()
        for pid in range(1, 2001):
            c.send(build_pubrel(pid))
        seen = set()
        for _ in range(2000):
            p = c.expect(PUBCOMP)
            seen.add(p.pid)
        self.assertEqual(seen, set(range(1, 2001)))
        c.ping()
        self.assert_probe_round_trip()

    @mosquitto_deviates("Mosquitto 2.0.11 sends PUBREC for all 65535 QoS 2 messages but "
                        "delivers only 20 of them after the PUBRELs (measured)")
    def test_every_incoming_qos2_packet_id_held_at_once(self):
        # All 65535 ids in the "PUBREC sent, PUBREL awaited" state at once,
        # then released: each message is delivered exactly once.
        t = unique("ids/")
        sub = self.subscriber([(t, 0)])
        pub = self.connected()
        chunk = []
        for pid in range(1, 65536):
            chunk.append(build_publish(t, b"%d" % pid, qos=2, pid=pid))
            if len(chunk) == 4096 or pid == 65535:
                pub.send(b"".join(chunk))
                chunk = []
        for _ in range(65535):
            pub.expect(PUBREC)
        # A duplicate of a held id must not be delivered again.
        pub.send(build_publish(t, b"1", qos=2, pid=1, dup=True))
        pub.expect(PUBREC, pid=1)
        rel = b"".join(build_pubrel(pid) for pid in range(1, 65536))
        pub.send(rel)
        for _ in range(65535):
            pub.expect(PUBCOMP)
        got = sub.expect_publishes(65535, timeout=30)
        self.assertEqual(sorted(int(p.payload) for p in got), list(range(1, 65536)))
        sub.expect_no_publish(0.3)
        self.assert_probe_round_trip()


class OutgoingIdExhaustionTest(HostileTestCase):
    broker_options = {"max_inflight_messages": 0, "max_queued_messages": 100000}

    @musqratt_specific("max_inflight_messages 0 means 65535 in flight in musqratt")
    def test_a_subscriber_that_never_acks_exhausts_no_packet_id(self):
        # With no inflight limit, a subscriber that never acknowledges holds
        # every outgoing packet id: the broker must never reuse one in use,
        # and must queue the rest, then deliver it as ids come back.
        t = unique("exhaust/")
        sub = self.subscriber([(t, 1)])
        pub = self.connected()
        total = 70000
        chunk = []
        for i in range(total):
            chunk.append(build_publish(t, b"%d" % i, qos=1, pid=i % 65535 + 1))
            if len(chunk) == 5000:
                pub.send(b"".join(chunk))
                chunk = []
                for _ in range(5000):
                    pub.expect(PUBACK)
        pub.send(b"".join(chunk))
        for _ in range(len(chunk)):
            pub.expect(PUBACK)
        first = sub.expect_publishes(65535, timeout=30, ack=False)
        ids = [p.pid for p in first]
        self.assertEqual(len(set(ids)), 65535, "a packet id in use was reused")
        sub.expect_no_publish(0.5)  # the rest waits for ids
        for p in first:
            sub.send(build_puback(p.pid))
        rest = sub.expect_publishes(total - 65535, timeout=30)
        payloads = [int(p.payload) for p in first + rest]
        self.assertEqual(payloads, list(range(total)), "lost or reordered")
        self.assert_probe_round_trip()


if __name__ == "__main__":
    main()

"""The $SYS/broker tree (Mosquitto's names and payloads, mosquitto(8)
BROKER STATUS), read by a raw client and by Debian's mosquitto_sub; clients
may read it but never write it."""

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403

COUNTERS = [
    "clients/total", "clients/connected", "clients/disconnected", "clients/maximum",
    "clients/expired", "messages/received", "messages/sent", "publish/messages/received",
    "publish/messages/sent", "publish/messages/dropped", "publish/bytes/received",
    "publish/bytes/sent", "bytes/received", "bytes/sent", "retained messages/count",
    "subscriptions/count", "shared_subscriptions/count", "store/messages/count", "store/messages/bytes", "heap/current",
    "heap/maximum",
]
LOADS = ["messages/received", "messages/sent", "publish/received", "publish/sent",
         "publish/dropped", "bytes/received", "bytes/sent", "connections", "sockets"]


def all_sys_topics():
    topics = {"$SYS/broker/version", "$SYS/broker/uptime"}
    topics |= {"$SYS/broker/" + c for c in COUNTERS}
    for name in LOADS:
        for w in ("1min", "5min", "15min"):
            topics.add("$SYS/broker/load/%s/%s" % (name, w))
    return topics


def check_payload(test, topic, payload):
    """Mosquitto's formats: decimal counters, 'N seconds', '%.2f' loads."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    name = topic[len("$SYS/broker/"):]
    if name == "version":
        test.assertRegex(text, r"^musqratt version \d+\.\d+\.\d+$")
    elif name == "uptime":
        test.assertRegex(text, r"^\d+ seconds$")
    elif name.startswith("load/"):
        test.assertRegex(text, r"^\d+\.\d\d$", topic)
    else:
        test.assertRegex(text, r"^\d+$", topic)


class SysTreeTest(BrokerTestCase):

    broker_options = {"sys_interval": 1}

    def collect(self, c, want, timeout=5.0):
        """PUBLISHes until every topic in want was seen; {topic: payload}."""
        got = {}
        deadline = time.monotonic() + timeout
        while not want <= set(got) and time.monotonic() < deadline:
            p = c.expect_publish(timeout=max(0.1, deadline - time.monotonic()))
            got[p.topic] = p.payload
        return got

    def test_raw_client_reads_every_sys_topic_in_mosquitto_formats(self):
        c = self.connected()
        c.subscribe([("$SYS/broker/#", 0)])
        want = all_sys_topics()
        got = self.collect(c, want)
        missing = want - set(got)
        self.assertFalse(missing, "missing $SYS topics: %s" % sorted(missing))
        for t, p in got.items():
            check_payload(self, t, p)
        # The retained value may predate this client; the next update counts it.
        deadline = time.monotonic() + 3
        while int(got["$SYS/broker/clients/connected"]) < 1 and time.monotonic() < deadline:
            p = c.expect_publish(timeout=3)
            got[p.topic] = p.payload
        self.assertGreaterEqual(int(got["$SYS/broker/clients/connected"]), 1)

    def test_static_and_live_values_are_retained(self):
        time.sleep(1.2)  # at least one update went out
        c = self.connected()
        c.subscribe([("$SYS/broker/version", 0), ("$SYS/broker/clients/total", 0)])
        p1, p2 = c.expect_publish(), c.expect_publish()
        self.assertTrue(p1.retain and p2.retain, "retained like Mosquitto's")
        self.assertEqual({p1.topic, p2.topic},
                         {"$SYS/broker/version", "$SYS/broker/clients/total"})

    def test_counters_move_with_traffic(self):
        c = self.connected()
        c.subscribe([("$SYS/broker/publish/messages/received", 0)])
        first = int(c.expect_publish().payload)
        p = self.connected()
        for i in range(5):
            p.publish("sys/traffic", b"x", qos=1)
        deadline = time.monotonic() + 5
        value = first
        while value < first + 5 and time.monotonic() < deadline:
            value = int(c.expect_publish(timeout=3).payload)
        self.assertGreaterEqual(value, first + 5)

    def test_uptime_advances_every_interval(self):
        c = self.connected()
        c.subscribe([("$SYS/broker/uptime", 0)])
        seen = [int(c.expect_publish().payload.split()[0])]
        while len(seen) < 3:
            seen.append(int(c.expect_publish(timeout=3).payload.split()[0]))
        self.assertEqual(seen, sorted(seen))
        self.assertGreater(seen[-1], seen[0])

    def test_wildcards_do_not_match_sys_MQTT_4_7_2_1(self):
        c = self.connected()
        c.subscribe([("#", 0), ("+/broker/uptime", 0)])
        c.expect_no_publish(2.5)

    def test_clients_cannot_publish_into_sys(self):
        c = self.connected()
        c.subscribe([("$SYS/broker/version", 0), ("$SYS/test/#", 0)])
        self.assertRegex(c.expect_publish().payload.decode(), r"^musqratt version")
        p = self.connected()
        p.publish("$SYS/broker/version", b"evil", qos=1, retain=True)  # acknowledged...
        p.publish("$SYS/test/x", b"evil", qos=0)
        c.expect_no_publish(1.0)  # ...but never delivered
        late = self.connected()
        late.subscribe([("$SYS/broker/version", 0)])
        self.assertRegex(late.expect_publish().payload.decode(), r"^musqratt version")

    def test_will_into_sys_is_never_published(self):
        c = self.connected()
        c.subscribe([("$SYS/broker/uptime", 0)])
        c.expect_publish()  # the retained value
        w = self.client()
        w.connect(unique("w"), will={"topic": "$SYS/broker/uptime", "payload": b"evil"})
        w.abort()  # no DISCONNECT: a will would go now
        for p in c.collect_publishes(1.5):
            self.assertRegex(p.payload.decode(), r"^\d+ seconds$")

    def test_v5_publish_into_sys_gets_not_authorized(self):
        c = MqttClientV5(self.port)
        self.addCleanup(c.close)
        c.connect(unique("v5"))
        self.assertEqual(c.publish("$SYS/x", b"evil", qos=1).reason, 0x87)
        self.assertEqual(c.publish("$SYS/broker/uptime", b"evil", qos=2).reason, 0x87)

    @unittest.skipUnless(shutil.which("mosquitto_sub"), "mosquitto_sub not installed")
    def test_mosquitto_sub_reads_the_tree(self):
        n = 40
        out = subprocess.run(
            ["mosquitto_sub", "-h", HOST, "-p", str(self.port), "-t", "$SYS/broker/#",
             "-v", "-C", str(n), "-W", "10"],
            capture_output=True, timeout=20, check=True).stdout.decode()
        lines = out.strip().split("\n")
        self.assertEqual(len(lines), n)
        known = all_sys_topics()
        for line in lines:
            topic, _, payload = line.partition(" ")
            if topic.startswith("$SYS/broker/clients/") and topic.rsplit("/", 1)[1] in (
                    "active", "inactive"):
                continue  # Mosquitto's deprecated names, also published
            if topic == "$SYS/broker/messages/stored":
                continue
            # "retained messages/count" has a blank in the topic.
            if topic == "$SYS/broker/retained":
                topic, _, payload = line.partition(" ")[2].partition(" ")
                topic = "$SYS/broker/retained " + topic
            self.assertIn(topic, known, line)
            check_payload(self, topic, payload)


class SysDisabledTest(BrokerTestCase):

    broker_options = {"sys_interval": 0}

    def test_sys_interval_0_publishes_nothing(self):
        c = self.connected()
        c.subscribe([("$SYS/#", 0)])
        c.expect_no_publish(1.5)


class SysDefaultIntervalTest(BrokerTestCase):
    """Without sys_interval, Mosquitto's default of 10 s: the first update
    goes out at startup."""

    def test_default_publishes_at_startup(self):
        c = self.connected()
        c.subscribe([("$SYS/broker/version", 0)])
        self.assertRegex(c.expect_publish().payload.decode(), r"^musqratt version")


if __name__ == "__main__":
    main()

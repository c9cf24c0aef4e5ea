"""Will messages: MQTT 3.1.1 sections 3.1.2.5 - 3.1.2.7 and 3.14."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class WillTest(BrokerTestCase):

    def will_client(self, topic, payload=b"gone", qos=0, retain=False, keepalive=60,
                    proto=PROTO_311):
        return self.connected(keepalive=keepalive, proto=proto,
                              will={"topic": topic, "payload": payload, "qos": qos,
                                    "retain": retain})

    def test_will_sent_on_socket_close_without_disconnect_MQTT_3_1_2_8(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 1)])
        c = self.will_client(t, b"bye", qos=1)
        c.close()
        p = watcher.expect_publish()
        self.assertEqual((p.topic, p.payload, p.qos, p.retain), (t, b"bye", 1, False))

    def test_will_sent_on_connection_reset_MQTT_3_1_2_8(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 0)])
        c = self.will_client(t, b"rst")
        c.abort()
        self.assertEqual(watcher.expect_publish().payload, b"rst")

    def test_will_sent_on_keepalive_timeout_MQTT_3_1_2_8_and_24(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 0)])
        start = time.monotonic()
        c = self.will_client(t, b"timeout", keepalive=1)
        # Timing precision is test_keepalive's business; here only the will.
        p = watcher.expect_publish(timeout=10)
        elapsed = time.monotonic() - start
        self.assertEqual(p.payload, b"timeout")
        self.assertGreaterEqual(elapsed, 0.9, "will sent before the keepalive expired")
        c.expect_closed(2)

    def test_will_sent_on_protocol_error_MQTT_3_1_2_8(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 0)])
        c = self.will_client(t, b"proto")
        c.send(fixed(PUBLISH, 0x06, encode_string("x") + b"\x00\x01"))  # QoS 3
        c.expect_closed()
        self.assertEqual(watcher.expect_publish().payload, b"proto")

    @mosquitto_deviates("MQTT-3.1.2-8: Mosquitto 2.0.11 closes on a second CONNECT "
                        "(MQTT-3.1.0-2) but discards the will instead of publishing it")
    def test_will_sent_on_second_connect_MQTT_3_1_0_2(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 0)])
        c = self.will_client(t, b"second")
        c.send(build_connect(unique("c")))
        c.expect_closed()
        self.assertEqual(watcher.expect_publish().payload, b"second")

    def test_no_will_after_disconnect_MQTT_3_14_4_3(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 0)])
        c = self.will_client(t, b"never", qos=1)
        c.send(build_disconnect())
        c.expect_closed()
        watcher.expect_no_publish(1.0)

    def test_will_retain_stores_retained_will_MQTT_3_1_2_17(self):
        t = unique("will/")
        c = self.will_client(t, b"ret", qos=1, retain=True)
        c.close()
        time.sleep(0.2)
        late = self.connected()
        late.subscribe([(t, 1)])
        deadline = time.monotonic() + 3
        while True:
            got = late.collect_publishes(0.3)
            if got or time.monotonic() > deadline:
                break
            late.subscribe([(t, 1)])  # the will may be published a bit later
        self.assertTrue(got, "retained will not stored")
        self.assertEqual((got[0].payload, got[0].retain), (b"ret", True))

    def test_will_retain_0_is_not_retained_MQTT_3_1_2_16(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 0)])
        c = self.will_client(t, b"live", retain=False)
        c.close()
        watcher.expect_publish()
        late = self.connected()
        late.subscribe([(t, 1)])
        late.expect_no_publish(0.5)

    def test_will_qos_respected_and_downgraded_by_subscription(self):
        t = unique("will/")
        w2 = self.subscriber([(t, 2)])
        w0 = self.subscriber([(t, 0)])
        c = self.will_client(t, b"q2", qos=2)
        c.close()
        self.assertEqual(w2.expect_publish().qos, 2)
        self.assertEqual(w0.expect_publish().qos, 0)

    def test_will_from_mqtt31_client(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 1)])
        c = self.will_client(t, b"v31", qos=1, proto=PROTO_31)
        c.close()
        self.assertEqual(watcher.expect_publish().payload, b"v31")

    def test_will_sent_once_only(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 1)])
        c = self.will_client(t, b"once", qos=1)
        c.close()
        got = watcher.collect_publishes(1.0)
        self.assertEqual([p.payload for p in got], [b"once"])

    def test_will_with_empty_payload(self):
        t = unique("will/")
        watcher = self.subscriber([(t, 0)])
        c = self.will_client(t, b"")
        c.close()
        self.assertEqual(watcher.expect_publish().payload, b"")

    def test_will_topic_with_wildcard_rejected(self):
        # MQTT-3.1.3-10 makes the will topic a UTF-8 topic name, and topic
        # names must not contain wildcards (MQTT-3.3.2-2).
        c = self.client()
        c.send(build_connect(unique("c"), will={"topic": "a/#", "payload": b"x"}))
        try:
            pkt = c.expect(CONNACK, timeout=3)
            self.assertNotEqual(pkt.body[1], 0, "will topic with a wildcard accepted")
            c.expect_closed()
        except ConnectionClosed:
            pass
        self.assert_broker_alive()


if __name__ == "__main__":
    main()

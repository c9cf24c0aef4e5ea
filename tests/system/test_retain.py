"""Retained messages: MQTT 3.1.1 section 3.3.1.3 (MQTT-3.3.1-5 .. -12)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class RetainTest(BrokerTestCase):

    def test_retained_message_delivered_on_subscribe_with_retain_1_MQTT_3_3_1_6_and_8(self):
        t = unique("r/")
        self.connected().publish(t, b"kept", qos=1, retain=True)
        c = self.connected()
        c.subscribe([(t, 1)])
        p = c.expect_publish()
        self.assertEqual((p.topic, p.payload, p.retain, p.qos), (t, b"kept", True, 1))

    def test_retained_message_delivered_via_wildcard_subscriptions_MQTT_3_3_1_6(self):
        base = unique("r/")
        pub = self.connected()
        pub.publish(base + "/a/x", b"ax", qos=1, retain=True)
        pub.publish(base + "/b/x", b"bx", qos=1, retain=True)
        pub.publish(base + "/b/y", b"by", qos=1, retain=True)
        c = self.connected()
        c.subscribe([(base + "/+/x", 1)])
        got = c.collect_publishes(0.7)
        self.assertEqual(sorted(p.payload for p in got), [b"ax", b"bx"])
        self.assertTrue(all(p.retain for p in got))
        c2 = self.connected()
        c2.subscribe([(base + "/#", 0)])
        got = c2.collect_publishes(0.7)
        self.assertEqual(sorted(p.payload for p in got), [b"ax", b"bx", b"by"])

    def test_retained_delivered_at_min_of_message_and_subscription_qos(self):
        t = unique("r/")
        self.connected().publish(t, b"q2", qos=2, retain=True)
        c = self.connected()
        c.subscribe([(t, 1)])
        self.assertEqual(c.expect_publish().qos, 1)
        t2 = unique("r/")
        self.connected().publish(t2, b"q1", qos=1, retain=True)
        c.subscribe([(t2, 2)])
        self.assertEqual(c.expect_publish().qos, 1)

    def test_retained_message_replaced_by_newer_MQTT_3_3_1_5(self):
        t = unique("r/")
        pub = self.connected()
        pub.publish(t, b"old", qos=1, retain=True)
        pub.publish(t, b"new", qos=1, retain=True)
        c = self.connected()
        c.subscribe([(t, 1)])
        got = c.collect_publishes(0.7)
        self.assertEqual([p.payload for p in got], [b"new"])

    def test_empty_retained_payload_clears_retained_MQTT_3_3_1_10_and_11(self):
        t = unique("r/")
        pub = self.connected()
        pub.publish(t, b"gone", qos=1, retain=True)
        pub.publish(t, b"", qos=1, retain=True)
        c = self.connected()
        c.subscribe([(t, 1)])
        c.expect_no_publish(0.5)

    def test_empty_retained_payload_forwarded_to_current_subscribers_MQTT_3_3_1_10(self):
        t = unique("r/")
        c = self.subscriber([(t, 1)])
        self.connected().publish(t, b"", qos=1, retain=True)
        p = c.expect_publish()
        self.assertEqual(p.payload, b"")

    def test_retain_flag_0_when_forwarding_to_existing_subscriber_MQTT_3_3_1_9(self):
        t = unique("r/")
        c = self.subscriber([(t, 1)])
        self.connected().publish(t, b"live", qos=1, retain=True)
        p = c.expect_publish()
        self.assertEqual((p.payload, p.retain), (b"live", False))
        # ...and it is still stored for a new subscriber, with retain 1.
        c2 = self.connected()
        c2.subscribe([(t, 1)])
        p = c2.expect_publish()
        self.assertEqual((p.payload, p.retain), (b"live", True))

    def test_non_retained_publish_does_not_replace_retained_MQTT_3_3_1_12(self):
        t = unique("r/")
        pub = self.connected()
        pub.publish(t, b"kept", qos=1, retain=True)
        pub.publish(t, b"transient", qos=1, retain=False)
        c = self.connected()
        c.subscribe([(t, 1)])
        got = c.collect_publishes(0.7)
        self.assertEqual([p.payload for p in got], [b"kept"])

    def test_qos0_retained_message_replaces_previous_MQTT_3_3_1_7(self):
        t = unique("r/")
        pub = self.connected()
        pub.publish(t, b"qos1", qos=1, retain=True)
        pub.publish(t, b"qos0", qos=0, retain=True)
        pub.ping()  # the QoS 0 publish has been read before we subscribe
        c = self.connected()
        c.subscribe([(t, 1)])
        got = c.collect_publishes(0.7)
        # MQTT-3.3.1-7: the old message MUST be discarded; the QoS 0 one
        # SHOULD be kept (and MAY be dropped later).
        self.assertIn([p.payload for p in got], ([b"qos0"], []))
        if got:
            self.assertEqual((got[0].qos, got[0].retain), (0, True))

    def test_retained_per_topic_are_independent(self):
        base = unique("r/")
        pub = self.connected()
        pub.publish(base + "/a", b"a", qos=1, retain=True)
        pub.publish(base + "/b", b"b", qos=1, retain=True)
        pub.publish(base + "/a", b"", qos=1, retain=True)
        c = self.connected()
        c.subscribe([(base + "/#", 1)])
        got = c.collect_publishes(0.7)
        self.assertEqual([p.payload for p in got], [b"b"])

    def test_retained_not_sent_to_dollar_topics_by_wildcard_MQTT_4_7_2_1(self):
        d = "$" + unique("rd") + "/x"
        self.connected().publish(d, b"$", qos=1, retain=True)
        c = self.connected()
        c.subscribe([("#", 1), ("+/x", 1)])
        got = [p for p in c.collect_publishes(0.7) if p.topic == d]
        self.assertEqual(got, [])
        c.subscribe([(d, 1)])
        self.assertEqual(c.expect_publish().payload, b"$")

    def test_retained_survives_publisher_disconnect(self):
        t = unique("r/")
        pub = self.connected()
        pub.publish(t, b"stay", qos=1, retain=True)
        pub.disconnect()
        c = self.connected()
        c.subscribe([(t, 0)])
        self.assertEqual(c.expect_publish().payload, b"stay")

    def test_retained_large_payload(self):
        t = unique("r/")
        payload = os.urandom(256 * 1024)
        self.connected().publish(t, payload, qos=1, retain=True)
        c = self.connected()
        c.subscribe([(t, 1)])
        self.assertEqual(c.expect_publish(timeout=10).payload, payload)


if __name__ == "__main__":
    main()

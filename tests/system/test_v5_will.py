"""MQTT 5.0 will messages: Will Delay Interval, will properties, DISCONNECT
with Will Message (OASIS MQTT 5.0 sections 3.1.2.5, 3.1.3.2 and 3.14.2.1)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class WillV5Test(BrokerTestCaseV5):

    def will_client(self, topic, payload=b"gone", delay=None, expiry=None, qos=1,
                    will_props=None, cid=None):
        wp = list(prop_items(will_props))
        if delay is not None:
            wp.append((P_WILL_DELAY, delay))
        props = {P_SESSION_EXPIRY: expiry} if expiry is not None else None
        return self.connected5(cid, props=props,
                               will={"topic": topic, "payload": payload, "qos": qos, "props": wp})

    def test_will_without_delay_published_on_close_MQTT_3_1_2_8(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        self.will_client(t, b"now").abort()
        p = watcher.expect_publish()
        self.assertEqual((p.topic, p.payload, p.qos), (t, b"now", 1))

    def test_will_published_after_will_delay_MQTT_3_1_2_8(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        c = self.will_client(t, b"late", delay=2, expiry=60)
        start = time.monotonic()
        c.abort()
        watcher.expect_no_publish(1.2)
        p = watcher.expect_publish(timeout=5)
        elapsed = time.monotonic() - start
        self.assertEqual(p.payload, b"late")
        self.assertGreaterEqual(elapsed, 1.8, "will sent before its delay")

    def test_will_cancelled_by_reconnect_within_delay_MQTT_3_1_3_9(self):
        t, cid = unique("w/"), unique("w")
        watcher = self.subscriber5([(t, sub_options(1))])
        self.will_client(t, b"never", delay=2, expiry=60, cid=cid).abort()
        time.sleep(0.5)
        c = self.connected5(cid, clean_start=False, props={P_SESSION_EXPIRY: 60})
        self.assertTrue(c.connack.session_present)
        watcher.expect_no_publish(3.0)

    def test_will_cancelled_by_clean_start_reconnect_within_delay_MQTT_3_1_3_9(self):
        t, cid = unique("w/"), unique("w")
        watcher = self.subscriber5([(t, sub_options(1))])
        self.will_client(t, b"x", delay=2, expiry=60, cid=cid).abort()
        time.sleep(0.5)
        # 3.1.2.5 note: a new connection with Clean Start 1 ends the old
        # session, which publishes the will (session end comes first) -- or,
        # as the new connection is "made before the Will Delay Interval has
        # passed", the will is not sent. Either way it is sent at most once
        # and not after the delay.
        self.connected5(cid, clean_start=True)
        got = watcher.collect_publishes(3.0)
        self.assertLessEqual(len(got), 1)

    def test_will_published_at_session_end_before_delay_MQTT_3_1_2_8(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        c = self.will_client(t, b"session-end", delay=30, expiry=1)
        start = time.monotonic()
        c.abort()
        p = watcher.expect_publish(timeout=5)
        self.assertEqual(p.payload, b"session-end")
        self.assertLess(time.monotonic() - start, 5)

    @mosquitto_deviates("MQTT-3.1.2-8: Mosquitto 2.0.11 waits for the Will Delay Interval "
                        "although a Session Expiry Interval of 0 ends the session at the close")
    def test_will_with_delay_and_session_expiry_0_published_at_close_MQTT_3_1_2_8(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        self.will_client(t, b"zero", delay=30, expiry=0).abort()
        self.assertEqual(watcher.expect_publish(timeout=3).payload, b"zero")

    def test_disconnect_0x04_publishes_will_3_14_2_1(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        self.will_client(t, b"asked").disconnect(RC_DISCONNECT_WITH_WILL)
        self.assertEqual(watcher.expect_publish().payload, b"asked")

    def test_disconnect_0x00_discards_will_MQTT_3_14_4_3(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        self.will_client(t, b"no").disconnect(RC_SUCCESS)
        watcher.expect_no_publish(1.0)

    def test_disconnect_0x00_discards_delayed_will_MQTT_3_1_2_10(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        self.will_client(t, b"no", delay=1, expiry=60).disconnect(RC_SUCCESS)
        watcher.expect_no_publish(2.5)

    def test_will_properties_forwarded_3_1_3_2(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        users = [("k", "1"), ("a", "2"), ("k", "3")]
        props = [(P_PAYLOAD_FORMAT, 1), (P_CONTENT_TYPE, "text/plain"),
                 (P_RESPONSE_TOPIC, "resp/" + t), (P_CORRELATION_DATA, b"\x00corr\xff"),
                 (P_MESSAGE_EXPIRY, 120)] + [(P_USER_PROPERTY, u) for u in users]
        self.will_client(t, b"props", will_props=props).abort()
        p = watcher.expect_publish()
        self.assertEqual(p.payload, b"props")
        self.assertEqual(p.props.get(P_PAYLOAD_FORMAT), 1)
        self.assertEqual(p.props.get(P_CONTENT_TYPE), "text/plain")
        self.assertEqual(p.props.get(P_RESPONSE_TOPIC), "resp/" + t)
        self.assertEqual(p.props.get(P_CORRELATION_DATA), b"\x00corr\xff")
        self.assertLessEqual(p.props.get(P_MESSAGE_EXPIRY), 120)
        self.assertGreaterEqual(p.props.get(P_MESSAGE_EXPIRY), 110)
        self.assertEqual(p.props.user, users, "MQTT-3.1.3-10: user property order")
        self.assertNotIn(P_WILL_DELAY, p.props.ids())

    def test_will_sent_once_after_delay(self):
        t = unique("w/")
        watcher = self.subscriber5([(t, sub_options(1))])
        self.will_client(t, b"once", delay=1, expiry=60).abort()
        got = watcher.collect_publishes(3.0)
        self.assertEqual([p.payload for p in got], [b"once"])

    def test_will_on_session_takeover_MQTT_3_1_2_8(self):
        # The network connection closes on takeover; with no Will Delay the
        # will is published (3.1.4: takeover ends the old connection).
        t, cid = unique("w/"), unique("w")
        watcher = self.subscriber5([(t, sub_options(1))])
        old = self.will_client(t, b"taken", cid=cid)
        self.connected5(cid)
        old.expect_disconnect(RC_SESSION_TAKEN_OVER)
        self.assertEqual(watcher.expect_publish().payload, b"taken")


if __name__ == "__main__":
    main()

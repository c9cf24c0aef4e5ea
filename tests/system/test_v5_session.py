"""MQTT 5.0 sessions: Clean Start and Session Expiry Interval (OASIS MQTT 5.0
sections 3.1.2.4, 3.1.2.11.2, 3.14.2.2.2 and 4.1)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class SessionV5Test(BrokerTestCaseV5):

    def session(self, cid, expiry=None, clean_start=False, subs=None, expect_present=None):
        props = {P_SESSION_EXPIRY: expiry} if expiry is not None else None
        c = self.connected5(cid, clean_start=clean_start, props=props)
        if expect_present is not None:
            self.assertEqual(c.connack.session_present, expect_present, "Session Present")
        if subs:
            c.subscribe(subs)
        return c

    def publish_from_other(self, topic, payload, qos=1, props=None):
        p = self.connected5()
        p.publish(topic, payload, qos=qos, props=props)
        p.disconnect()

    def test_clean_start_0_resumes_session_MQTT_3_1_2_5(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, 60, True, [(t, sub_options(1))], expect_present=False).disconnect()
        self.publish_from_other(t, b"queued")
        c = self.session(cid, 60, expect_present=True)
        self.assertEqual(c.expect_publish().payload, b"queued")

    def test_clean_start_1_discards_existing_session_MQTT_3_1_2_4(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, 60, True, [(t, sub_options(1))]).disconnect()
        self.publish_from_other(t, b"lost")
        c = self.session(cid, 60, clean_start=True, expect_present=False)
        c.expect_no_publish(0.3)
        self.publish_from_other(t, b"no-subscription")
        c.expect_no_publish(0.5)

    def test_clean_start_0_without_session_creates_one_MQTT_3_1_2_6(self):
        self.session(unique("s"), 60, expect_present=False)

    def test_session_expiry_absent_session_ends_at_disconnect_MQTT_3_1_2_23(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, None, True, [(t, sub_options(1))]).disconnect()
        c = self.session(cid, 60, expect_present=False)
        self.publish_from_other(t, b"x")
        c.expect_no_publish(0.5)

    def test_session_expiry_0_session_ends_at_network_close(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, 0, True, [(t, sub_options(1))]).abort()
        time.sleep(0.2)
        self.session(cid, 60, expect_present=False)

    def test_session_expiry_positive_keeps_session_after_network_close_MQTT_3_1_2_23(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, 60, True, [(t, sub_options(1))]).abort()
        time.sleep(0.2)
        self.publish_from_other(t, b"kept")
        c = self.session(cid, 60, expect_present=True)
        self.assertEqual(c.expect_publish().payload, b"kept")

    def test_session_discarded_after_expiry_interval(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, 1, True, [(t, sub_options(1))]).disconnect()
        time.sleep(2.5)
        c = self.session(cid, 60, expect_present=False)
        self.publish_from_other(t, b"x")
        c.expect_no_publish(0.5)

    def test_session_still_present_before_expiry(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, 4, True, [(t, sub_options(1))]).disconnect()
        time.sleep(1.0)
        self.session(cid, 4, expect_present=True)

    def test_session_expiry_0xFFFFFFFF_never_expires(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, 0xFFFFFFFF, True, [(t, sub_options(1))]).disconnect()
        time.sleep(1.2)
        self.session(cid, 0xFFFFFFFF, expect_present=True)

    def test_disconnect_session_expiry_0_ends_session_3_14_2_2_2(self):
        cid, t = unique("s"), unique("s/")
        c = self.session(cid, 60, True, [(t, sub_options(1))])
        c.disconnect(RC_SUCCESS, {P_SESSION_EXPIRY: 0})
        time.sleep(0.2)
        self.session(cid, 60, expect_present=False)

    def test_disconnect_raises_session_expiry_3_14_2_2_2(self):
        cid, t = unique("s"), unique("s/")
        c = self.session(cid, 1, True, [(t, sub_options(1))])
        c.disconnect(RC_SUCCESS, {P_SESSION_EXPIRY: 60})
        time.sleep(2.5)
        self.publish_from_other(t, b"after")
        c2 = self.session(cid, 60, expect_present=True)
        self.assertEqual(c2.expect_publish().payload, b"after")

    def test_disconnect_lowers_session_expiry(self):
        cid, t = unique("s"), unique("s/")
        c = self.session(cid, 60, True, [(t, sub_options(1))])
        c.disconnect(RC_SUCCESS, {P_SESSION_EXPIRY: 1})
        time.sleep(2.5)
        self.session(cid, 60, expect_present=False)

    def test_disconnect_nonzero_expiry_after_zero_is_protocol_error_0x82_3_14_2_2_2(self):
        cid, t = unique("s"), unique("s/")
        c = self.session(cid, 0, True, [(t, sub_options(1))])
        c.send(build_disconnect5(RC_SUCCESS, {P_SESSION_EXPIRY: 30}))
        c.expect_disconnect(RC_PROTOCOL_ERROR)
        time.sleep(0.2)
        self.session(cid, 60, expect_present=False)

    def test_disconnect_nonzero_expiry_after_zero_publishes_will(self):
        # Not a valid DISCONNECT (3.14.2.2.2), so the will is not discarded.
        t = unique("w/")
        watcher = self.subscriber5(t)
        c = self.connected5(props={P_SESSION_EXPIRY: 0}, will={"topic": t, "payload": b"w"})
        c.send(build_disconnect5(RC_SUCCESS, {P_SESSION_EXPIRY: 30}))
        c.expect_disconnect(RC_PROTOCOL_ERROR)
        self.assertEqual(watcher.expect_publish().payload, b"w")

    def test_qos1_qos2_queued_in_order_for_offline_session(self):
        cid, t = unique("s"), unique("s/")
        self.session(cid, 60, True, [(t, sub_options(2))]).disconnect()
        p = self.connected5()
        for i in range(10):
            p.publish(t, b"%d" % i, qos=1 + i % 2)
        c = self.session(cid, 60, expect_present=True)
        got = c.expect_publishes(10)
        self.assertEqual([int(x.payload) for x in got], list(range(10)))
        self.assertEqual([x.qos for x in got], [1 + i % 2 for i in range(10)])

    def test_unacked_qos1_redelivered_with_dup_after_resume_MQTT_4_4_0_1(self):
        cid, t = unique("s"), unique("s/")
        c = self.session(cid, 60, True, [(t, sub_options(1))])
        self.publish_from_other(t, b"unacked")
        first = c.expect_publish(ack=False)
        c.abort()
        c2 = self.session(cid, 60, expect_present=True)
        again = c2.expect_publish(ack=False)
        self.assertEqual((again.payload, again.pid, again.dup), (b"unacked", first.pid, True))
        c2.send(build_puback5(again.pid))
        c2.expect_no_publish(0.3)


if __name__ == "__main__":
    main()

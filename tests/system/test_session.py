"""Persistent sessions (CleanSession 0): MQTT 3.1.1 sections 3.1.2.4, 4.1, 4.4."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class SessionTest(BrokerTestCase):

    def persistent(self, cid, subs=None, proto=PROTO_311, expect_present=None):
        c = self.client()
        sp, _ = c.connect(cid, clean=False, proto=proto)
        if expect_present is not None:
            self.assertEqual(sp, expect_present, "session present")
        if subs:
            c.subscribe(subs)
        return c

    def test_subscriptions_survive_reconnect_MQTT_3_1_2_4(self):
        cid, t = unique("p"), unique("ps/")
        self.persistent(cid, [(t, 1)], expect_present=False).disconnect()
        c = self.persistent(cid, expect_present=True)
        self.connected().publish(t, b"again", qos=1)
        self.assertEqual(c.expect_publish().payload, b"again")

    def test_qos1_and_qos2_published_while_offline_delivered_on_reconnect_MQTT_3_1_2_5(self):
        cid, t1, t2 = unique("p"), unique("q1/"), unique("q2/")
        self.persistent(cid, [(t1, 1), (t2, 2)]).disconnect()
        pub = self.connected()
        pub.publish(t1, b"one", qos=1)
        pub.publish(t2, b"two", qos=2)
        c = self.persistent(cid, expect_present=True)
        got = c.expect_publishes(2)
        self.assertEqual(sorted((p.payload, p.qos) for p in got), [(b"one", 1), (b"two", 2)])
        c.expect_no_publish(0.3)

    def test_offline_messages_delivered_in_order_MQTT_4_6_0_5(self):
        cid, t = unique("p"), unique("ord/")
        self.persistent(cid, [(t, 1)]).disconnect()
        pub = self.connected()
        for i in range(30):
            pub.publish(t, b"%d" % i, qos=1)
        c = self.persistent(cid, expect_present=True)
        got = c.expect_publishes(30)
        self.assertEqual([int(p.payload) for p in got], list(range(30)))

    def test_unacknowledged_qos1_redelivered_with_dup_on_reconnect_MQTT_4_4_0_1(self):
        cid, t = unique("p"), unique("dup/")
        c = self.persistent(cid, [(t, 1)])
        self.connected().publish(t, b"unacked", qos=1)
        first = c.expect_publish(ack=False)
        self.assertFalse(first.dup, "MQTT-3.3.1-2: first delivery has DUP 0")
        c.close()
        c2 = self.persistent(cid, expect_present=True)
        again = c2.expect_publish(ack=False)
        self.assertEqual((again.payload, again.pid, again.qos), (b"unacked", first.pid, 1),
                         "MQTT-4.4.0-1: same packet identifier")
        self.assertTrue(again.dup, "MQTT-3.3.1-1: DUP 1 on redelivery")
        c2.send(build_puback(again.pid))
        c2.expect_no_publish(0.5)

    def test_unacknowledged_qos2_publish_redelivered_with_dup_MQTT_4_4_0_1(self):
        cid, t = unique("p"), unique("dup/")
        c = self.persistent(cid, [(t, 2)])
        self.connected().publish(t, b"q2", qos=2)
        first = c.expect_publish(ack=False)
        c.close()
        c2 = self.persistent(cid, expect_present=True)
        again = c2.expect_publish(ack=False)
        self.assertEqual((again.payload, again.pid, again.dup), (b"q2", first.pid, True))
        c2.ack(again)
        c2.expect_no_publish(0.5)

    def test_pubrel_resent_after_reconnect_when_pubcomp_missing_MQTT_4_4_0_1(self):
        cid, t = unique("p"), unique("rel/")
        c = self.persistent(cid, [(t, 2)])
        self.connected().publish(t, b"q2", qos=2)
        p = c.expect_publish(ack=False)
        c.send(build_pubrec(p.pid))
        c.expect(PUBREL, pid=p.pid)
        c.close()  # without PUBCOMP
        c2 = self.persistent(cid, expect_present=True)
        pkt = c2.expect(PUBREL)
        self.assertEqual((pkt.pid, pkt.flags), (p.pid, 0x02))
        c2.send(build_pubcomp(p.pid))
        c2.expect_no_publish(0.5)  # the message itself must not come again

    def test_inbound_qos2_completed_after_reconnect_delivered_once_MQTT_4_3_3_2(self):
        t = unique("in2/")
        sub = self.subscriber([(t, 2)])
        cid = unique("p")
        pub = self.persistent(cid)
        pub.send(build_publish(t, b"exactly", qos=2, pid=17))
        pub.expect(PUBREC, pid=17)
        pub.close()  # before PUBREL
        pub2 = self.persistent(cid, expect_present=True)
        pub2.send(build_publish(t, b"exactly", qos=2, pid=17, dup=True))
        pub2.expect(PUBREC, pid=17)
        pub2.send(build_pubrel(17))
        pub2.expect(PUBCOMP, pid=17)
        got = sub.collect_publishes(1.0)
        self.assertEqual([p.payload for p in got], [b"exactly"])

    def test_clean_session_1_discards_previous_session_MQTT_3_1_2_6(self):
        cid, t = unique("p"), unique("cs/")
        self.persistent(cid, [(t, 1)]).disconnect()
        self.connected().publish(t, b"queued", qos=1)
        c = self.client()
        sp, _ = c.connect(cid, clean=True)
        self.assertFalse(sp, "MQTT-3.2.2-1")
        self.connected().publish(t, b"after", qos=1)
        c.expect_no_publish(0.5)  # neither the queued message nor the subscription
        c.disconnect()
        c2 = self.persistent(cid, expect_present=False)
        self.connected().publish(t, b"later", qos=1)
        c2.expect_no_publish(0.5)

    def test_clean_session_state_not_kept_after_disconnect_MQTT_3_1_2_6(self):
        cid, t = unique("p"), unique("cs/")
        c = self.connected(cid, clean=True)
        c.subscribe([(t, 1)])
        c.disconnect()
        c2 = self.persistent(cid, expect_present=False)
        self.connected().publish(t, b"x", qos=1)
        c2.expect_no_publish(0.5)

    def test_persistent_session_with_mqtt31(self):
        cid, t = unique("p"), unique("v31/")
        self.persistent(cid, [(t, 1)], proto=PROTO_31).disconnect()
        self.connected().publish(t, b"v31", qos=1)
        c = self.client()
        c.send(build_connect(cid, clean=False, proto=PROTO_31))
        pkt = c.expect(CONNACK)
        # MQTT 3.1 has no session present flag: its first CONNACK byte is
        # reserved, and 3.1 clients may reject anything but 0.
        self.assertEqual(pkt.body, b"\x00\x00")
        self.assertEqual(c.expect_publish().payload, b"v31")

    def test_session_survives_abrupt_close(self):
        cid, t = unique("p"), unique("ab/")
        c = self.persistent(cid, [(t, 1)])
        c.abort()
        self.connected().publish(t, b"x", qos=1)
        c2 = self.persistent(cid, expect_present=True)
        self.assertEqual(c2.expect_publish().payload, b"x")

    def test_unsubscribed_filter_not_restored_on_resume(self):
        cid, t = unique("p"), unique("us/")
        c = self.persistent(cid, [(t, 1)])
        c.unsubscribe(t)
        c.disconnect()
        self.connected().publish(t, b"x", qos=1)
        c2 = self.persistent(cid, expect_present=True)
        c2.expect_no_publish(0.5)

    def test_qos0_subscription_offline_messages_not_required_but_qos1_are(self):
        cid, t0, t1 = unique("p"), unique("z/"), unique("o/")
        self.persistent(cid, [(t0, 0), (t1, 1)]).disconnect()
        pub = self.connected()
        pub.publish(t0, b"zero", qos=1)
        pub.publish(t1, b"one", qos=1)
        c = self.persistent(cid, expect_present=True)
        got = c.collect_publishes(1.0)
        self.assertIn(b"one", [p.payload for p in got])


if __name__ == "__main__":
    main()

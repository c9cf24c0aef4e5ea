"""PUBLISH and its acknowledgements: MQTT 3.1.1 sections 3.3 - 3.7, 4.3, 4.6."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class PublishTest(BrokerTestCase):

    def roundtrip(self, pub_qos, sub_qos):
        topic = unique("rt/")
        sub = self.subscriber([(topic, sub_qos)])
        pub = self.connected()
        payload = ("q%d->q%d" % (pub_qos, sub_qos)).encode()
        pub.publish(topic, payload, qos=pub_qos)
        p = sub.expect_publish()
        self.assertEqual((p.topic, p.payload, p.retain), (topic, payload, False))
        return p

    def test_qos0_publish_delivered_at_qos0(self):
        p = self.roundtrip(0, 0)
        self.assertEqual(p.qos, 0)
        self.assertIsNone(p.pid)

    def test_qos1_publish_puback_and_delivery_at_qos1_MQTT_4_3_2_2(self):
        p = self.roundtrip(1, 1)
        self.assertEqual(p.qos, 1)
        self.assertNotEqual(p.pid, 0, "MQTT-2.3.1-1: packet id must be non-zero")

    def test_qos2_publish_pubrec_pubrel_pubcomp_and_delivery_at_qos2_MQTT_4_3_3_2(self):
        p = self.roundtrip(2, 2)
        self.assertEqual(p.qos, 2)
        self.assertNotEqual(p.pid, 0)

    def test_qos_downgraded_to_subscription_qos_MQTT_3_8_4_6(self):
        self.assertEqual(self.roundtrip(2, 0).qos, 0)
        self.assertEqual(self.roundtrip(2, 1).qos, 1)
        self.assertEqual(self.roundtrip(1, 0).qos, 0)

    def test_qos_not_upgraded_to_subscription_qos(self):
        self.assertEqual(self.roundtrip(0, 2).qos, 0)
        self.assertEqual(self.roundtrip(1, 2).qos, 1)

    def test_puback_carries_publish_packet_id_MQTT_4_3_2_2(self):
        c = self.connected()
        c.send(build_publish(unique("t/"), b"x", qos=1, pid=4242))
        pkt = c.expect(PUBACK)
        self.assertEqual(pkt.pid, 4242)
        self.assertEqual(pkt.flags, 0)
        self.assertEqual(len(pkt.body), 2)

    def test_pubrec_and_pubcomp_carry_publish_packet_id_MQTT_4_3_3_2(self):
        c = self.connected()
        c.send(build_publish(unique("t/"), b"x", qos=2, pid=777))
        rec = c.expect(PUBREC)
        self.assertEqual((rec.pid, rec.flags, len(rec.body)), (777, 0, 2))
        c.send(build_pubrel(777))
        comp = c.expect(PUBCOMP)
        self.assertEqual((comp.pid, comp.flags, len(comp.body)), (777, 0, 2))

    def test_broker_sends_pubrel_with_flags_0010_MQTT_3_6_1_1(self):
        topic = unique("rel/")
        sub = self.subscriber([(topic, 2)])
        self.connected().publish(topic, b"x", qos=2)
        p = sub.expect_publish(ack=False)
        sub.send(build_pubrec(p.pid))
        rel = sub.expect(PUBREL, pid=p.pid)
        self.assertEqual(rel.flags, 0x02)
        sub.send(build_pubcomp(p.pid))
        sub.ping()

    def test_qos2_resent_with_dup_before_pubrel_delivered_once_MQTT_4_3_3_2(self):
        topic = unique("eo/")
        sub = self.subscriber([(topic, 2)])
        pub = self.connected()
        pub.send(build_publish(topic, b"once", qos=2, pid=9))
        pub.expect(PUBREC, pid=9)
        pub.send(build_publish(topic, b"once", qos=2, pid=9, dup=True))
        pub.expect(PUBREC, pid=9)
        pub.send(build_pubrel(9))
        pub.expect(PUBCOMP, pid=9)
        got = sub.collect_publishes(1.0)
        self.assertEqual([p.payload for p in got], [b"once"])

    def test_qos2_same_packet_id_after_pubcomp_is_new_message_MQTT_4_3_3_2(self):
        topic = unique("eo/")
        sub = self.subscriber([(topic, 2)])
        pub = self.connected()
        pub.publish(topic, b"one", qos=2, pid=5)
        pub.publish(topic, b"two", qos=2, pid=5)
        got = sub.expect_publishes(2)
        self.assertEqual([p.payload for p in got], [b"one", b"two"])

    def test_pubrel_for_unknown_packet_id_answered_with_pubcomp(self):
        c = self.connected()
        c.send(build_pubrel(31337))
        comp = c.expect(PUBCOMP)
        self.assertEqual(comp.pid, 31337)
        c.ping()

    def test_qos1_duplicate_publish_still_acknowledged_MQTT_4_3_2_2(self):
        c = self.connected()
        topic = unique("d/")
        c.send(build_publish(topic, b"x", qos=1, pid=3))
        c.expect(PUBACK, pid=3)
        c.send(build_publish(topic, b"x", qos=1, pid=3, dup=True))
        c.expect(PUBACK, pid=3)

    def test_ordering_from_one_publisher_preserved_per_qos_MQTT_4_6_0_5(self):
        for qos in (0, 1, 2):
            topic = unique("ord/")
            sub = self.subscriber([(topic, qos)])
            pub = self.connected()
            n = 50
            for i in range(n):
                pub.publish(topic, b"%d" % i, qos=qos)
            got = sub.expect_publishes(n)
            self.assertEqual([int(p.payload) for p in got], list(range(n)), "qos %d" % qos)

    def test_ordering_pipelined_qos1_without_waiting_for_puback_MQTT_4_6_0_5(self):
        topic = unique("ord/")
        sub = self.subscriber([(topic, 1)])
        pub = self.connected()
        n = 100
        pub.send(b"".join(build_publish(topic, b"%d" % i, qos=1, pid=i + 1) for i in range(n)))
        for i in range(n):
            pub.expect(PUBACK, pid=i + 1)
        got = sub.expect_publishes(n)
        self.assertEqual([int(p.payload) for p in got], list(range(n)))

    def test_ordering_across_topics_from_one_publisher_MQTT_4_6_0_6(self):
        base = unique("ordt/")
        sub = self.subscriber([(base + "/#", 1)])
        pub = self.connected()
        n = 40
        pub.send(b"".join(build_publish("%s/%d" % (base, i % 4), b"%d" % i, qos=1, pid=i + 1)
                          for i in range(n)))
        got = sub.expect_publishes(n)
        self.assertEqual([int(p.payload) for p in got], list(range(n)))

    def test_publisher_receives_own_message_when_subscribed(self):
        topic = unique("self/")
        c = self.subscriber([(topic, 1)])
        c.publish(topic, b"me", qos=1)
        self.assertEqual(c.expect_publish().payload, b"me")

    def test_message_to_many_subscribers(self):
        topic = unique("fan/")
        subs = [self.subscriber([(topic, q % 3)]) for q in range(9)]
        self.connected().publish(topic, b"all", qos=2)
        for i, s in enumerate(subs):
            p = s.expect_publish()
            self.assertEqual((p.payload, p.qos), (b"all", i % 3))

    def test_empty_payload_delivered(self):
        topic = unique("e/")
        sub = self.subscriber([(topic, 1)])
        self.connected().publish(topic, b"", qos=1)
        self.assertEqual(sub.expect_publish().payload, b"")

    def test_binary_payload_delivered_unchanged(self):
        topic = unique("bin/")
        sub = self.subscriber([(topic, 0)])
        payload = bytes(range(256)) * 4
        self.connected().publish(topic, payload)
        self.assertEqual(sub.expect_publish().payload, payload)

    def test_multibyte_utf8_topic_delivered(self):
        topic = unique("ü/€/") + "/𝄞"
        sub = self.subscriber([(topic, 1)])
        self.connected().publish(topic, b"x", qos=1)
        self.assertEqual(sub.expect_publish().topic, topic)

    def test_publish_1mb_payload_end_to_end(self):
        topic = unique("big/")
        sub = self.subscriber([(topic, 1)])
        payload = os.urandom(1 << 20)
        self.connected().publish(topic, payload, qos=1)
        p = sub.expect_publish(timeout=10)
        self.assertEqual(len(p.payload), len(payload))
        self.assertEqual(p.payload, payload)

    def test_publish_with_plus_wildcard_topic_closes_connection_MQTT_3_3_2_2(self):
        c = self.connected()
        c.send(build_publish("a/+/c", b"x"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_with_hash_wildcard_topic_closes_connection_MQTT_3_3_2_2(self):
        c = self.connected()
        c.send(build_publish("a/#", b"x", qos=1, pid=1))
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_qos3_closes_connection_MQTT_3_3_1_4(self):
        c = self.connected()
        c.send(fixed(PUBLISH, 0x06, encode_string("a/b") + b"\x00\x01x"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_invalid_utf8_topic_closes_connection_MQTT_1_5_3_1(self):
        c = self.connected()
        c.send(build_publish(b"bad/\xff\xfe", b"x"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_utf16_surrogate_in_topic_closes_connection_MQTT_1_5_3_1(self):
        c = self.connected()
        c.send(build_publish(b"bad/\xed\xa0\x80", b"x"))  # U+D800 encoded
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_overlong_utf8_topic_closes_connection_MQTT_1_5_3_1(self):
        c = self.connected()
        c.send(build_publish(b"bad/\xc0\xaf", b"x"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_topic_with_null_character_closes_connection_MQTT_1_5_3_2(self):
        c = self.connected()
        c.send(build_publish(b"bad/\x00/x", b"x"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_empty_topic_closes_connection_MQTT_4_7_3_1(self):
        c = self.connected()
        c.send(build_publish(b"", b"x"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_qos1_packet_id_zero_closes_connection_MQTT_2_3_1_1(self):
        c = self.connected()
        c.send(build_publish(unique("t/"), b"x", qos=1, pid=0))
        c.expect_closed()
        self.assert_broker_alive()

    def test_pubrel_with_wrong_flags_closes_connection_MQTT_3_6_1_1(self):
        c = self.connected()
        c.send(build_publish(unique("t/"), b"x", qos=2, pid=1))
        c.expect(PUBREC)
        c.send(fixed(PUBREL, 0x00, b"\x00\x01"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_publish_topic_length_beyond_packet_closes_connection(self):
        c = self.connected()
        c.send(fixed(PUBLISH, 0, b"\x00\x40abc"))
        c.expect_closed()
        self.assert_broker_alive()


if __name__ == "__main__":
    main()

"""SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK and topic matching:
MQTT 3.1.1 sections 3.8 - 3.11 and 4.7."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class SubscribeTest(BrokerTestCase):

    def test_suback_packet_id_matches_subscribe_MQTT_3_8_4_2(self):
        c = self.connected()
        c.send(build_subscribe(1234, [(unique("s/"), 1)]))
        pkt = c.expect(SUBACK)
        self.assertEqual(pkt.pid, 1234)
        self.assertEqual(pkt.flags, 0)

    def test_suback_one_code_per_filter_in_order_MQTT_3_8_4_5(self):
        c = self.connected()
        base = unique("s/")
        codes = c.subscribe([(base + "/2", 2), (base + "/0", 0), (base + "/1", 1),
                             (base + "/#", 2), (base + "/+/x", 0)])
        self.assertEqual(codes, [2, 0, 1, 2, 0])

    def test_suback_granted_qos_equals_requested_MQTT_3_9_3_1(self):
        c = self.connected()
        for q in (0, 1, 2):
            self.assertEqual(c.subscribe([(unique("g/"), q)]), [q])

    def test_subscribe_requested_qos_3_closes_connection_MQTT_3_8_3_4(self):
        c = self.connected()
        c.send(build_subscribe(1, [(unique("s/"), 3)]))
        c.expect_closed()
        self.assert_broker_alive()

    def test_subscribe_reserved_option_bits_closes_connection_MQTT_3_8_3_4(self):
        c = self.connected()
        c.send(build_subscribe(1, [(unique("s/"), 0x40)]))
        c.expect_closed()
        self.assert_broker_alive()

    def test_subscribe_wrong_fixed_header_flags_closes_connection_MQTT_3_8_1_1(self):
        c = self.connected()
        c.send(build_subscribe(1, [(unique("s/"), 0)], flags=0x00))
        c.expect_closed()
        self.assert_broker_alive()

    def test_subscribe_without_filters_closes_connection_MQTT_3_8_3_3(self):
        c = self.connected()
        c.send(fixed(SUBSCRIBE, 0x02, b"\x00\x01"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_subscribe_packet_id_zero_closes_connection_MQTT_2_3_1_1(self):
        c = self.connected()
        c.send(build_subscribe(0, [(unique("s/"), 0)]))
        c.expect_closed()
        self.assert_broker_alive()

    def assert_invalid_filter_rejected(self, flt):
        # 3.1.1 allows either closing (MQTT-4.8.0-1, protocol violation) or a
        # 0x80 failure code in the SUBACK; either way, nothing is delivered.
        c = self.connected()
        c.send(build_subscribe(7, [(flt, 0)]))
        try:
            pkt = c.expect(SUBACK, timeout=3)
        except ConnectionClosed:
            self.assert_broker_alive()
            return
        self.assertEqual(list(pkt.body[2:]), [0x80], "filter %r" % flt)
        self.assert_broker_alive()

    def test_invalid_filter_hash_not_last_rejected_MQTT_4_7_1_2(self):
        self.assert_invalid_filter_rejected("a/#/b")

    def test_invalid_filter_hash_inside_level_rejected_MQTT_4_7_1_2(self):
        self.assert_invalid_filter_rejected("a/b#")

    def test_invalid_filter_plus_inside_level_rejected_MQTT_4_7_1_3(self):
        self.assert_invalid_filter_rejected("a/b+/c")

    def test_invalid_filter_empty_rejected_MQTT_4_7_3_1(self):
        self.assert_invalid_filter_rejected("")

    def test_invalid_filter_utf8_closes_connection_MQTT_1_5_3_1(self):
        c = self.connected()
        c.send(build_subscribe(1, [(b"a/\xff", 0)]))
        c.expect_closed()
        self.assert_broker_alive()

    def test_unsubscribe_unsuback_packet_id_matches_MQTT_3_10_4_4(self):
        c = self.connected()
        t = unique("u/")
        c.subscribe([(t, 1)])
        c.send(build_unsubscribe(999, [t]))
        pkt = c.expect(UNSUBACK)
        self.assertEqual((pkt.pid, pkt.flags, len(pkt.body)), (999, 0, 2))

    def test_unsubscribe_unknown_filter_still_gets_unsuback_MQTT_3_10_4_5(self):
        c = self.connected()
        c.send(build_unsubscribe(55, [unique("never/")]))
        self.assertEqual(c.expect(UNSUBACK).pid, 55)

    def test_unsubscribe_stops_delivery_MQTT_3_10_4_2(self):
        t = unique("u/")
        c = self.subscriber([(t, 1)])
        c.unsubscribe(t)
        self.connected().publish(t, b"x", qos=1)
        c.expect_no_publish(0.5)

    def test_unsubscribe_one_of_several_keeps_others_MQTT_3_10_4_1(self):
        base = unique("u/")
        c = self.subscriber([(base + "/a", 1), (base + "/b", 1)])
        c.unsubscribe(base + "/a")
        pub = self.connected()
        pub.publish(base + "/a", b"a", qos=1)
        pub.publish(base + "/b", b"b", qos=1)
        got = c.collect_publishes(0.7)
        self.assertEqual([p.payload for p in got], [b"b"])

    def test_unsubscribe_filter_compared_character_by_character_MQTT_3_10_4_1(self):
        base = unique("u/")
        c = self.subscriber([(base + "/+", 1)])
        c.unsubscribe(base + "/x")  # not the same filter even though it overlaps
        self.connected().publish(base + "/x", b"still", qos=1)
        self.assertEqual(c.expect_publish().payload, b"still")

    def test_unsubscribe_wrong_fixed_header_flags_closes_connection_MQTT_3_10_1_1(self):
        c = self.connected()
        c.send(build_unsubscribe(1, [unique("u/")], flags=0x00))
        c.expect_closed()
        self.assert_broker_alive()

    def test_unsubscribe_without_filters_closes_connection_MQTT_3_10_3_2(self):
        c = self.connected()
        c.send(fixed(UNSUBSCRIBE, 0x02, b"\x00\x01"))
        c.expect_closed()
        self.assert_broker_alive()

    @mosquitto_deviates("MQTT-3.3.5-1: Mosquitto 2.0.11 sends one copy at the QoS of the "
                        "exact-match filter (1), not the maximum QoS of all matches (2)")
    def test_overlapping_subscriptions_delivered_at_max_qos_MQTT_3_3_5_1(self):
        base = unique("ov/")
        c = self.subscriber([(base + "/#", 0), (base + "/+", 2), (base + "/x", 1)])
        self.connected().publish(base + "/x", b"o", qos=2)
        got = c.collect_publishes(0.7)
        self.assertTrue(got, "no delivery")
        self.assertEqual(max(p.qos for p in got), 2,
                         "one copy must respect the maximum QoS of the matching subscriptions")
        self.assertTrue(all(p.payload == b"o" for p in got))
        self.assertLessEqual(len(got), 3, "at most one copy per matching subscription")

    @musqratt_specific("3.1.1 allows further copies, one per matching subscription "
                       "(MQTT-3.3.5-1); musqratt sends a single copy at the maximum QoS")
    def test_overlapping_subscriptions_deliver_exactly_one_copy(self):
        base = unique("ov/")
        c = self.subscriber([(base + "/#", 0), (base + "/+", 2), (base + "/x", 1)])
        self.connected().publish(base + "/x", b"o", qos=2)
        got = c.collect_publishes(0.7)
        self.assertEqual([(p.payload, p.qos) for p in got], [(b"o", 2)])

    def test_wildcard_plus_matches_exactly_one_level_MQTT_4_7_1_3(self):
        base = unique("w/")
        c = self.subscriber([(base + "/+/c", 1)])
        pub = self.connected()
        for t in ("/b/c", "/b/x/c", "/c", "//c", "/b/c/d"):
            pub.publish(base + t, t.encode(), qos=1)
        got = c.collect_publishes(0.7)
        self.assertEqual(sorted(p.payload for p in got), sorted([b"/b/c", b"//c"]))

    def test_wildcard_hash_matches_parent_and_all_children_MQTT_4_7_1_2(self):
        base = unique("w/")
        c = self.subscriber([(base + "/a/#", 1)])
        pub = self.connected()
        for t in ("/a", "/a/b", "/a/b/c", "/ab", "/b/a"):
            pub.publish(base + t, t.encode(), qos=1)
        got = c.collect_publishes(0.7)
        self.assertEqual(sorted(p.payload for p in got), sorted([b"/a", b"/a/b", b"/a/b/c"]))

    def test_wildcard_hash_alone_matches_everything_not_dollar_MQTT_4_7_1_2(self):
        c = self.subscriber([("#", 1)])
        t = unique("any/")
        self.connected().publish(t + "/deep/er", b"x", qos=1)
        self.assertEqual(c.expect_publish().topic, t + "/deep/er")

    def test_wildcard_plus_alone_matches_single_level_topics(self):
        c = self.subscriber([("+", 1)])
        t = unique("single")
        pub = self.connected()
        pub.publish(t, b"one", qos=1)
        pub.publish(t + "/two", b"two", qos=1)
        got = c.collect_publishes(0.7)
        self.assertEqual([p.payload for p in got], [b"one"])

    def test_topic_names_are_case_sensitive_MQTT_4_7_3_4(self):
        base = unique("case/")
        c = self.subscriber([(base + "/ABC", 1)])
        pub = self.connected()
        pub.publish(base + "/abc", b"lower", qos=1)
        pub.publish(base + "/ABC", b"upper", qos=1)
        got = c.collect_publishes(0.7)
        self.assertEqual([p.payload for p in got], [b"upper"])

    def test_leading_slash_is_a_distinct_level(self):
        t = unique("ls")
        c = self.subscriber([("+/" + t, 1)])
        pub = self.connected()
        pub.publish("/" + t, b"slash", qos=1)
        pub.publish(t, b"none", qos=1)
        got = c.collect_publishes(0.7)
        self.assertEqual([p.payload for p in got], [b"slash"])

    def test_wildcards_do_not_match_dollar_topics_MQTT_4_7_2_1(self):
        dollar = "$" + unique("d") + "/x"
        wild = self.subscriber([("#", 1), ("+/x", 1), ("+/#", 1)])
        exact = self.subscriber([(dollar, 1)])
        self.connected().publish(dollar, b"$", qos=1)
        # The exact subscription shows the message was accepted and routed.
        self.assertEqual(exact.expect_publish().payload, b"$")
        wild.expect_no_publish(0.5)

    def test_resubscribe_replaces_subscription_qos_MQTT_3_8_4_3(self):
        t = unique("re/")
        c = self.subscriber([(t, 2)])
        self.assertEqual(c.subscribe([(t, 0)]), [0])
        self.connected().publish(t, b"x", qos=2)
        got = c.collect_publishes(0.7)
        self.assertEqual([(p.payload, p.qos) for p in got], [(b"x", 0)])

    def test_resubscribe_resends_retained_message_MQTT_3_8_4_3(self):
        t = unique("re/")
        self.connected().publish(t, b"kept", qos=1, retain=True)
        c = self.connected()
        c.subscribe([(t, 1)])
        p = c.expect_publish()
        self.assertEqual((p.payload, p.retain), (b"kept", True))
        c.subscribe([(t, 1)])
        p = c.expect_publish()
        self.assertEqual((p.payload, p.retain), (b"kept", True))

    def test_subscription_limited_to_its_client(self):
        t = unique("own/")
        a = self.subscriber([(t, 1)])
        b = self.connected()
        self.connected().publish(t, b"x", qos=1)
        a.expect_publish()
        b.expect_no_publish(0.3)


if __name__ == "__main__":
    main()

"""MQTT 5.0 subscriptions: Subscription Identifiers, subscription options
(No Local, Retain As Published, Retain Handling), SUBACK and UNSUBACK reason
codes, shared subscriptions. OASIS MQTT 5.0 sections 3.3.4, 3.8, 3.9,
3.10, 3.11 and 4.8.2."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class SubscriptionIdentifierTest(BrokerTestCaseV5):

    def test_subscription_identifier_sent_with_matching_publish_MQTT_3_3_4_3(self):
        t = unique("si/")
        sub = self.subscriber5([(t, sub_options(1))], props={P_SUBSCRIPTION_ID: 5})
        self.connected5().publish(t, b"x", qos=1)
        self.assertEqual(sub.expect_publish().sub_ids, [5])

    def test_large_subscription_identifier_round_trips(self):
        t = unique("si/")
        sub = self.subscriber5([(t, sub_options(0))], props={P_SUBSCRIPTION_ID: 268435455})
        self.connected5().publish(t, b"x")
        self.assertEqual(sub.expect_publish().sub_ids, [268435455])

    def test_no_subscription_identifier_for_subscription_without_one(self):
        t = unique("si/")
        sub = self.subscriber5([(t, sub_options(1))])
        self.connected5().publish(t, b"x", qos=1)
        self.assertEqual(sub.expect_publish().sub_ids, [])

    def test_overlapping_subscriptions_all_identifiers_delivered_MQTT_3_3_4_4_5(self):
        # The server may send one copy with every identifier (MQTT-3.3.4-4)
        # or one copy per subscription, each with its own (MQTT-3.3.4-5).
        base = unique("si/")
        sub = self.connected5()
        sub.subscribe([(base + "/+", sub_options(1))], props={P_SUBSCRIPTION_ID: 1})
        sub.subscribe([(base + "/#", sub_options(1))], props={P_SUBSCRIPTION_ID: 2})
        self.connected5().publish(base + "/a", b"x", qos=1)
        got = sub.collect_publishes(1.0)
        ids = sorted(i for p in got for i in p.sub_ids)
        self.assertEqual(ids, [1, 2])
        if len(got) == 2:
            self.assertEqual(sorted(len(p.sub_ids) for p in got), [1, 1], "MQTT-3.3.4-5")
        else:
            self.assertEqual(len(got), 1)

    @mosquitto_deviates("Mosquitto 2.0.11 sends one copy per overlapping subscription, "
                        "allowed by MQTT-3.3.4-5; musqratt sends one copy")
    @musqratt_specific("musqratt sends a single copy carrying every matching identifier")
    def test_overlapping_subscriptions_one_copy_with_every_identifier_MQTT_3_3_4_4(self):
        base = unique("si/")
        sub = self.connected5()
        sub.subscribe([(base + "/+", sub_options(1))], props={P_SUBSCRIPTION_ID: 1})
        sub.subscribe([(base + "/#", sub_options(2))], props={P_SUBSCRIPTION_ID: 2})
        sub.subscribe([(base + "/a", sub_options(0))])
        self.connected5().publish(base + "/a", b"x", qos=2)
        got = sub.collect_publishes(1.0)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(sorted(got[0].sub_ids), [1, 2])
        self.assertEqual(got[0].qos, 2)

    def test_identifier_replaced_on_resubscribe_3_8_4(self):
        t = unique("si/")
        sub = self.connected5()
        sub.subscribe([(t, sub_options(1))], props={P_SUBSCRIPTION_ID: 3})
        sub.subscribe([(t, sub_options(1))], props={P_SUBSCRIPTION_ID: 4})
        self.connected5().publish(t, b"x", qos=1)
        got = sub.collect_publishes(0.8)
        self.assertEqual([p.sub_ids for p in got], [[4]])

    def test_identifier_removed_on_resubscribe_without_one(self):
        t = unique("si/")
        sub = self.connected5()
        sub.subscribe([(t, sub_options(1))], props={P_SUBSCRIPTION_ID: 3})
        sub.subscribe([(t, sub_options(1))])
        self.connected5().publish(t, b"x", qos=1)
        self.assertEqual(sub.expect_publish().sub_ids, [])

    def test_subscription_identifier_0_is_protocol_error_3_8_2_1_2(self):
        c = self.connected5()
        c.send(build_subscribe5(1, [(unique("si/"), 0)], props={P_SUBSCRIPTION_ID: 0}))
        c.expect_disconnect((RC_PROTOCOL_ERROR, RC_MALFORMED_PACKET))

    def test_identifier_on_retained_message_at_subscribe(self):
        t = unique("si/")
        self.connected5().publish(t, b"r", qos=1, retain=True)
        sub = self.connected5()
        sub.subscribe([(t, sub_options(1))], props={P_SUBSCRIPTION_ID: 9})
        p = sub.expect_publish()
        self.assertEqual((p.retain, p.sub_ids), (True, [9]))


class SubscriptionOptionsTest(BrokerTestCaseV5):

    def test_no_local_not_sent_to_own_connection_MQTT_3_8_3_3(self):
        t = unique("nl/")
        c = self.connected5()
        c.subscribe([(t, sub_options(1, no_local=True))])
        other = self.subscriber5([(t, sub_options(1))])
        c.publish(t, b"mine", qos=1)
        self.assertEqual(other.expect_publish().payload, b"mine")
        c.expect_no_publish(0.5)
        self.connected5().publish(t, b"theirs", qos=1)
        self.assertEqual(c.expect_publish().payload, b"theirs")

    def test_no_local_0_sends_own_messages(self):
        t = unique("nl/")
        c = self.connected5()
        c.subscribe([(t, sub_options(1))])
        c.publish(t, b"echo", qos=1)
        self.assertEqual(c.expect_publish().payload, b"echo")

    @mosquitto_deviates("MQTT-3.8.3-4: Mosquitto 2.0.11 accepts No Local on a shared "
                        "subscription with a SUBACK")
    def test_no_local_on_shared_subscription_is_protocol_error_MQTT_3_8_3_4(self):
        c = self.connected5()
        c.send(build_subscribe5(1, [("$share/g/" + unique("nl/"), sub_options(0, no_local=True))]))
        c.expect_disconnect(RC_PROTOCOL_ERROR)

    def test_reserved_subscription_option_bits_malformed_MQTT_3_8_3_5(self):
        c = self.connected5()
        c.send(build_subscribe5(1, [(unique("rb/"), 0xC0)]))
        c.expect_disconnect((RC_MALFORMED_PACKET, RC_PROTOCOL_ERROR))

    def test_retain_handling_3_is_protocol_error(self):
        c = self.connected5()
        c.send(build_subscribe5(1, [(unique("rb/"), 0x30)]))
        c.expect_disconnect((RC_PROTOCOL_ERROR, RC_MALFORMED_PACKET))

    def test_retain_as_published_0_clears_retain_flag_MQTT_3_3_1_12(self):
        t = unique("rap/")
        sub = self.subscriber5([(t, sub_options(1, retain_as_published=False))])
        self.connected5().publish(t, b"live", qos=1, retain=True)
        p = sub.expect_publish()
        self.assertEqual((p.payload, p.retain), (b"live", False))

    def test_retain_as_published_1_keeps_retain_flag_MQTT_3_3_1_13(self):
        t = unique("rap/")
        sub = self.subscriber5([(t, sub_options(1, retain_as_published=True))])
        pub = self.connected5()
        pub.publish(t, b"kept", qos=1, retain=True)
        pub.publish(t, b"plain", qos=1, retain=False)
        got = sub.expect_publishes(2)
        self.assertEqual([(p.payload, p.retain) for p in got], [(b"kept", True), (b"plain", False)])

    def test_retained_at_subscribe_has_retain_1_whatever_rap(self):
        # MQTT-3.3.1-9 sends retained messages on subscribe with RETAIN 1
        # (3.3.1.3), independent of Retain As Published.
        t = unique("rap/")
        self.connected5().publish(t, b"r", qos=1, retain=True)
        sub = self.connected5()
        sub.subscribe([(t, sub_options(1, retain_as_published=False))])
        self.assertTrue(sub.expect_publish().retain)

    def retained_topic(self):
        t = unique("rh/")
        self.connected5().publish(t, b"kept", qos=1, retain=True)
        return t

    def test_retain_handling_0_sends_retained_on_every_subscribe_MQTT_3_3_1_9(self):
        t = self.retained_topic()
        c = self.connected5()
        c.subscribe([(t, sub_options(1, retain_handling=0))])
        self.assertEqual(c.expect_publish().payload, b"kept")
        c.subscribe([(t, sub_options(1, retain_handling=0))])
        self.assertEqual(c.expect_publish().payload, b"kept")

    def test_retain_handling_1_sends_retained_only_for_new_subscription_MQTT_3_3_1_10(self):
        t = self.retained_topic()
        c = self.connected5()
        c.subscribe([(t, sub_options(1, retain_handling=1))])
        self.assertEqual(c.expect_publish().payload, b"kept")
        c.subscribe([(t, sub_options(1, retain_handling=1))])
        c.expect_no_publish(0.5)

    def test_retain_handling_2_never_sends_retained_MQTT_3_3_1_11(self):
        t = self.retained_topic()
        c = self.connected5()
        c.subscribe([(t, sub_options(1, retain_handling=2))])
        c.expect_no_publish(0.5)
        self.connected5().publish(t, b"live", qos=1)
        self.assertEqual(c.expect_publish().payload, b"live")


class SubackUnsubackTest(BrokerTestCaseV5):

    def test_suback_one_reason_code_per_filter_in_order_MQTT_3_9_3_1(self):
        b = unique("sa/")
        c = self.connected5()
        ack = c.subscribe_ack([(b + "/2", sub_options(2)), (b + "/0", sub_options(0)),
                               (b + "/+", sub_options(1)), (b + "/#", sub_options(0))])
        self.assertEqual(ack.codes, [2, 0, 1, 0])

    def test_suback_invalid_filter_failure_or_disconnect(self):
        # "a/#/b" breaks MQTT-4.7.1-1. The server may answer per filter with
        # a failure code (>= 0x80) or treat the packet as malformed.
        c = self.connected5()
        t = unique("sa/")
        c.send(build_subscribe5(5, [(t, sub_options(1)), ("a/#/b", sub_options(1))]))
        try:
            pkt = c.read_packet(3)
        except ConnectionClosed:
            return
        if pkt.type == SUBACK:
            ack = Ack5(pkt)
            self.assertEqual(ack.codes[0], 1)
            self.assertGreaterEqual(ack.codes[1], 0x80)
        else:
            self.assertEqual(pkt.type, DISCONNECT, pkt)
            self.assertIn(Disconnect5(pkt).reason, (RC_MALFORMED_PACKET, RC_PROTOCOL_ERROR,
                                                     RC_TOPIC_FILTER_INVALID))

    def test_unsuback_success_and_no_subscription_existed_in_order_3_11_3(self):
        t1, t2, t3 = unique("ua/"), unique("ua/"), unique("ua/")
        c = self.connected5()
        c.subscribe([(t1, 0), (t3, 1)])
        self.assertEqual(c.unsubscribe([t1, t2, t3]), [RC_SUCCESS, RC_NO_SUBSCRIPTION_EXISTED,
                                                      RC_SUCCESS])
        self.assertEqual(c.unsubscribe([t1]), [RC_NO_SUBSCRIPTION_EXISTED])

    def test_unsubscribed_filter_stops_delivery(self):
        t = unique("ua/")
        c = self.subscriber5([(t, sub_options(1))])
        c.unsubscribe([t])
        self.connected5().publish(t, b"x", qos=1)
        c.expect_no_publish(0.5)

    def test_subscribe_with_user_property_accepted(self):
        t = unique("sa/")
        c = self.connected5()
        self.assertEqual(c.subscribe([(t, sub_options(1))], props={P_USER_PROPERTY: [("a", "b")]}),
                         [1])
        self.assertEqual(c.unsubscribe([t], props={P_USER_PROPERTY: [("c", "d")]}), [0])


class SharedSubscriptionTest(BrokerTestCaseV5):

    def group(self, name, filt, n=2, qos=1):
        return [self.subscriber5([("$share/%s/%s" % (name, filt), sub_options(qos))])
                for _ in range(n)]

    def test_each_message_to_one_member_4_8_2(self):
        t = unique("sh/")
        members = self.group("g", t)
        pub = self.connected5()
        for i in range(10):
            pub.publish(t, b"%d" % i, qos=1)
        got = [m.collect_publishes(1.0) for m in members]
        payloads = sorted(int(p.payload) for g in got for p in g)
        self.assertEqual(payloads, list(range(10)), "each message exactly once to the group")
        for g in got:
            for p in g:
                self.assertEqual(p.topic, t)

    @musqratt_specific("round robin among the group's online members")
    def test_round_robin_among_members(self):
        t = unique("sh/")
        members = self.group("g", t, n=3)
        pub = self.connected5()
        for i in range(9):
            pub.publish(t, b"%d" % i, qos=1)
        got = [[int(p.payload) for p in m.collect_publishes(1.0)] for m in members]
        self.assertEqual(sorted(len(g) for g in got), [3, 3, 3], got)

    @mosquitto_deviates("4.8.2: Mosquitto 2.0.11 sends retained messages on a shared subscribe")
    def test_no_retained_message_on_shared_subscribe_4_8_2(self):
        t = unique("sh/")
        self.connected5().publish(t, b"kept", qos=1, retain=True)
        c = self.connected5()
        self.assertEqual(c.subscribe([("$share/g/" + t, sub_options(1))]), [1])
        c.expect_no_publish(0.7)

    def test_shared_and_normal_subscriptions_mixed(self):
        t = unique("sh/")
        members = self.group("g", t)
        normal = self.subscriber5([(t, sub_options(1))])
        pub = self.connected5()
        for i in range(6):
            pub.publish(t, b"%d" % i, qos=1)
        self.assertEqual([int(p.payload) for p in normal.expect_publishes(6)], list(range(6)))
        shared = sorted(int(p.payload) for m in members for p in m.collect_publishes(1.0))
        self.assertEqual(shared, list(range(6)))

    def test_two_groups_each_get_every_message(self):
        t = unique("sh/")
        g1 = self.group("one", t)
        g2 = self.group("two", t)
        pub = self.connected5()
        for i in range(4):
            pub.publish(t, b"%d" % i, qos=1)
        for g in (g1, g2):
            got = sorted(int(p.payload) for m in g for p in m.collect_publishes(1.0))
            self.assertEqual(got, list(range(4)))

    def test_shared_wildcard_filter(self):
        base = unique("sh/")
        members = self.group("w", base + "/+")
        pub = self.connected5()
        pub.publish(base + "/a", b"a", qos=1)
        pub.publish(base + "/b", b"b", qos=1)
        got = sorted((p.topic, p.payload) for m in members for p in m.collect_publishes(1.0))
        self.assertEqual(got, [(base + "/a", b"a"), (base + "/b", b"b")])

    def test_unsubscribe_shared(self):
        t = unique("sh/")
        a, b = self.group("g", t)
        self.assertEqual(a.unsubscribe(["$share/g/" + t]), [RC_SUCCESS])
        pub = self.connected5()
        for i in range(4):
            pub.publish(t, b"%d" % i, qos=1)
        self.assertEqual(len(b.collect_publishes(1.0)), 4)
        a.expect_no_publish(0.2)

    def test_member_leaving_group_others_get_messages(self):
        t = unique("sh/")
        a, b = self.group("g", t)
        a.disconnect()
        pub = self.connected5()
        for i in range(4):
            pub.publish(t, b"%d" % i, qos=1)
        self.assertEqual(sorted(int(p.payload) for p in b.collect_publishes(1.0)), [0, 1, 2, 3])

    def test_invalid_share_name_rejected(self):
        # 4.8.2: the ShareName must not contain "/", "+" or "#", and a
        # filter must follow it.
        c = self.connected5()
        c.send(build_subscribe5(3, [("$share/g+x/" + unique("sh/"), sub_options(0))]))
        try:
            pkt = c.read_packet(3)
        except ConnectionClosed:
            return
        if pkt.type == SUBACK:
            self.assertGreaterEqual(Ack5(pkt).codes[0], 0x80)
        else:
            self.assertEqual(pkt.type, DISCONNECT, pkt)
            self.assertGreaterEqual(Disconnect5(pkt).reason, 0x80)


if __name__ == "__main__":
    main()

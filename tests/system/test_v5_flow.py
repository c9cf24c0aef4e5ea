"""MQTT 5.0 flow control and packet shaping: Receive Maximum (both
directions), Maximum Packet Size (the client's), Topic Alias (both
directions). OASIS MQTT 5.0 sections 3.1.2.11, 3.2.2.3, 3.3.2.3.4, 4.9."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class ReceiveMaximumTest(BrokerTestCaseV5):

    def test_server_respects_client_receive_maximum_qos1_MQTT_3_3_4_9(self):
        t = unique("rm/")
        sub = self.connected5(props={P_RECEIVE_MAXIMUM: 2})
        sub.subscribe([(t, sub_options(1))])
        pub = self.connected5()
        for i in range(5):
            pub.publish(t, b"%d" % i, qos=1)
        held = sub.collect_publishes(0.7, ack=False)
        self.assertEqual([p.payload for p in held], [b"0", b"1"], "MQTT-3.3.4-9")
        for p in held:
            sub.send(build_puback5(p.pid))
        rest = sub.collect_publishes(1.0)
        self.assertEqual([p.payload for p in rest], [b"2", b"3", b"4"])

    @mosquitto_deviates("MQTT-3.3.4-9: after each PUBACK Mosquitto 2.0.11 sends two more "
                        "QoS 1 messages, so three are unacknowledged with Receive Maximum 2")
    def test_receive_maximum_kept_after_each_puback_MQTT_3_3_4_9(self):
        t = unique("rm/")
        sub = self.connected5(props={P_RECEIVE_MAXIMUM: 2})
        sub.subscribe([(t, sub_options(1))])
        pub = self.connected5()
        for i in range(5):
            pub.publish(t, b"%d" % i, qos=1)
        held = sub.collect_publishes(0.7, ack=False)
        self.assertEqual([p.payload for p in held], [b"0", b"1"], "MQTT-3.3.4-9")
        sub.send(build_puback5(held[0].pid))
        nxt = sub.collect_publishes(0.7, ack=False)
        self.assertEqual([p.payload for p in nxt], [b"2"])
        for p in held[1:] + nxt:
            sub.send(build_puback5(p.pid))
        rest = sub.collect_publishes(1.0)
        self.assertEqual([p.payload for p in rest], [b"3", b"4"])

    def test_server_respects_client_receive_maximum_qos2_until_pubcomp_MQTT_3_3_4_9(self):
        t = unique("rm/")
        sub = self.connected5(props={P_RECEIVE_MAXIMUM: 1})
        sub.subscribe([(t, sub_options(2))])
        pub = self.connected5()
        for i in range(3):
            pub.publish(t, b"%d" % i, qos=2)
        first = sub.collect_publishes(0.5, ack=False)
        self.assertEqual([p.payload for p in first], [b"0"])
        # PUBREC alone does not free the slot (4.9): only PUBCOMP does.
        sub.send(build_pubrec5(first[0].pid))
        rel = sub.expect(PUBREL, pid=first[0].pid)
        self.assertEqual(rel.flags, 0x02)
        self.assertEqual(sub.collect_publishes(0.5, ack=False), [])
        sub.send(build_pubcomp5(first[0].pid))
        got = sub.collect_publishes(1.0)  # acked fully from here on
        self.assertEqual([p.payload for p in got], [b"1", b"2"])

    def test_qos0_not_limited_by_receive_maximum(self):
        t = unique("rm/")
        sub = self.connected5(props={P_RECEIVE_MAXIMUM: 1})
        sub.subscribe([(t, sub_options(1))])
        pub = self.connected5()
        pub.publish(t, b"q1", qos=1)
        for i in range(3):
            pub.publish(t, b"q0-%d" % i, qos=0)
        got = sub.collect_publishes(0.7, ack=False)
        self.assertEqual(sorted(p.payload for p in got), [b"q0-0", b"q0-1", b"q0-2", b"q1"])


class ServerReceiveMaximumTest(BrokerTestCaseV5):
    broker_options = {"max_inflight_messages": 3}

    @mosquitto_deviates("3.3.4: Mosquitto 2.0.11 does not answer a Receive Maximum violation "
                        "with DISCONNECT 0x93")
    def test_client_exceeding_server_receive_maximum_disconnect_0x93_MQTT_3_3_4_7(self):
        c = self.connected5()
        self.assertEqual(c.connack.props.get(P_RECEIVE_MAXIMUM), 3)
        t = unique("rm/")
        # QoS 2 PUBLISHes stay unacknowledged until PUBCOMP, so never send PUBREL.
        for pid in range(1, 5):
            c.send(build_publish5(t, b"x", qos=2, pid=pid))
        c.expect_disconnect(RC_RECEIVE_MAXIMUM_EXCEEDED, allow=(PUBREC,))

    def test_client_within_server_receive_maximum_accepted(self):
        c = self.connected5()
        t = unique("rm/")
        for pid in range(1, 4):
            c.send(build_publish5(t, b"x", qos=2, pid=pid))
        for pid in range(1, 4):
            c.expect(PUBREC, pid=pid)
        for pid in range(1, 4):
            c.send(build_pubrel5(pid))
            c.expect(PUBCOMP, pid=pid)
        c.ping()


class ClientMaximumPacketSizeTest(BrokerTestCaseV5):

    def test_larger_messages_not_sent_to_client_MQTT_3_1_2_24_25(self):
        t = unique("mps/")
        sub = self.connected5(props={P_MAXIMUM_PACKET_SIZE: 128})
        sub.subscribe([(t, sub_options(1))])
        pub = self.connected5()
        pub.publish(t, b"small-1", qos=1)
        pub.publish(t, b"L" * 200, qos=1)
        pub.publish(t, b"big0" * 50, qos=0)
        pub.publish(t, b"small-2", qos=1)
        got = sub.collect_publishes(1.0)
        # MQTT-3.1.2-25: discarded as if sent, so what follows still flows.
        self.assertEqual([p.payload for p in got], [b"small-1", b"small-2"])

    @mosquitto_deviates("MQTT-3.1.2-25: Mosquitto 2.0.11 keeps the discarded QoS 1 message "
                        "in flight, so with Receive Maximum 1 nothing is sent after it")
    def test_discarded_message_does_not_use_receive_maximum_MQTT_3_1_2_25(self):
        t = unique("mps/")
        sub = self.connected5(props={P_MAXIMUM_PACKET_SIZE: 128, P_RECEIVE_MAXIMUM: 1})
        sub.subscribe([(t, sub_options(1))])
        pub = self.connected5()
        for i in range(3):
            pub.publish(t, b"B" * 300, qos=1)
        pub.publish(t, b"fits", qos=1)
        self.assertEqual(sub.expect_publish(timeout=2).payload, b"fits")

    def test_other_subscribers_still_get_large_message(self):
        t = unique("mps/")
        small = self.connected5(props={P_MAXIMUM_PACKET_SIZE: 64})
        small.subscribe([(t, sub_options(1))])
        big = self.subscriber5([(t, sub_options(1))])
        self.connected5().publish(t, b"Z" * 500, qos=1)
        self.assertEqual(len(big.expect_publish().payload), 500)
        small.expect_no_publish(0.5)


class ClientTopicAliasTest(BrokerTestCaseV5):
    """Client-to-server aliases (3.3.2.3.4)."""

    def test_alias_set_then_reused_with_empty_topic_MQTT_3_3_2_12(self):
        t = unique("ta/")
        sub = self.subscriber5([(t, sub_options(1))])
        c = self.connected5()
        amax = c.connack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0)
        if amax < 1:
            self.skipTest("broker accepts no topic aliases")
        c.publish(t, b"first", qos=1, props={P_TOPIC_ALIAS: 1})
        c.publish("", b"second", qos=1, props={P_TOPIC_ALIAS: 1})
        got = sub.expect_publishes(2)
        self.assertEqual([(p.topic, p.payload) for p in got], [(t, b"first"), (t, b"second")])
        # Incoming aliases are not forwarded: the subscriber set no maximum.
        for p in got:
            self.assertNotIn(P_TOPIC_ALIAS, p.props.ids())

    def test_alias_remapped_to_new_topic(self):
        t1, t2 = unique("ta/"), unique("ta/")
        sub = self.subscriber5([(t1, sub_options(1)), (t2, sub_options(1))])
        c = self.connected5()
        amax = c.connack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0)
        c.publish(t1, b"a", qos=1, props={P_TOPIC_ALIAS: amax})
        c.publish(t2, b"b", qos=1, props={P_TOPIC_ALIAS: amax})
        c.publish("", b"c", qos=1, props={P_TOPIC_ALIAS: amax})
        got = sub.expect_publishes(3)
        self.assertEqual([(p.topic, p.payload) for p in got], [(t1, b"a"), (t2, b"b"), (t2, b"c")])

    def test_alias_0_closes_connection_MQTT_3_3_2_8(self):
        c = self.connected5()
        c.send(build_publish5(unique("ta/"), b"x", qos=0, props={P_TOPIC_ALIAS: 0}))
        d = c.expect_disconnect(tuple(range(0x80, 0x100)))
        if d is not None:
            self.assertGreaterEqual(d.reason, 0x80)
        self.assert_broker_alive()

    @musqratt_specific("the standard names no reason code for Topic Alias 0; musqratt uses "
                       "0x94, Mosquitto 0x81")
    def test_alias_0_disconnect_0x94(self):
        c = self.connected5()
        c.send(build_publish5(unique("ta/"), b"x", qos=0, props={P_TOPIC_ALIAS: 0}))
        c.expect_disconnect(RC_TOPIC_ALIAS_INVALID)

    def test_alias_above_server_maximum_disconnect_0x94_MQTT_3_3_2_9(self):
        c = self.connected5()
        amax = c.connack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0)
        c.send(build_publish5(unique("ta/"), b"x", qos=1, pid=1, props={P_TOPIC_ALIAS: amax + 1}))
        c.expect_disconnect(RC_TOPIC_ALIAS_INVALID)
        self.assert_broker_alive()

    def test_unknown_alias_with_empty_topic_disconnect_0x82(self):
        c = self.connected5()
        c.send(build_publish5("", b"x", qos=1, pid=1, props={P_TOPIC_ALIAS: 1}))
        c.expect_disconnect(RC_PROTOCOL_ERROR)
        self.assert_broker_alive()

    def test_empty_topic_without_alias_is_protocol_error(self):
        c = self.connected5()
        c.send(build_publish5("", b"x", qos=1, pid=1))
        c.expect_disconnect((RC_PROTOCOL_ERROR, RC_TOPIC_NAME_INVALID, RC_MALFORMED_PACKET))

    def test_alias_not_carried_to_next_connection_MQTT_3_3_2_7(self):
        cid, t = unique("ta"), unique("ta/")
        c = self.connected5(cid, props={P_SESSION_EXPIRY: 60})
        c.publish(t, b"x", qos=1, props={P_TOPIC_ALIAS: 1})
        c.disconnect()
        c2 = self.connected5(cid, clean_start=False, props={P_SESSION_EXPIRY: 60})
        c2.send(build_publish5("", b"y", qos=1, pid=1, props={P_TOPIC_ALIAS: 1}))
        c2.expect_disconnect(RC_PROTOCOL_ERROR)


class ServerTopicAliasTest(BrokerTestCaseV5):
    """Server-to-client aliases (3.3.2.3.4); MqttClientV5 checks every alias
    the broker sends against the maximum we gave (MQTT-3.1.2-26/27)."""

    def test_no_alias_sent_without_client_topic_alias_maximum_MQTT_3_1_2_27(self):
        t = unique("sa/")
        sub = self.subscriber5([(t, sub_options(1))])
        pub = self.connected5()
        for i in range(4):
            pub.publish(t, b"%d" % i, qos=1)
        for p in sub.expect_publishes(4):
            self.assertEqual(p.wire_topic, t)
            self.assertNotIn(P_TOPIC_ALIAS, p.props.ids())

    def test_aliases_within_client_maximum_MQTT_3_1_2_26(self):
        topics = [unique("sa/") for _ in range(4)]
        sub = self.connected5(props={P_TOPIC_ALIAS_MAXIMUM: 1})
        sub.subscribe([(t, sub_options(1)) for t in topics])
        pub = self.connected5()
        for _ in range(2):
            for t in topics:
                pub.publish(t, t.encode(), qos=1)
        got = sub.expect_publishes(8)
        self.assertEqual([p.topic for p in got], topics * 2)
        self.assertEqual([p.payload for p in got], [t.encode() for t in topics] * 2)

    @mosquitto_deviates("Mosquitto 2.0.11 never assigns topic aliases to outgoing PUBLISHes "
                        "(allowed, but musqratt does)")
    @musqratt_specific("musqratt assigns aliases to the topics it sends while the client's "
                       "Topic Alias Maximum allows")
    def test_server_assigns_aliases_then_sends_full_topics(self):
        t1, t2, t3 = unique("sa/"), unique("sa/"), unique("sa/")
        sub = self.connected5(props={P_TOPIC_ALIAS_MAXIMUM: 2})
        sub.subscribe([(t, sub_options(1)) for t in (t1, t2, t3)])
        pub = self.connected5()
        for t in (t1, t1, t2, t2, t3, t3, t1):
            pub.publish(t, b"x", qos=1)
        got = sub.expect_publishes(7)
        self.assertEqual([p.topic for p in got], [t1, t1, t2, t2, t3, t3, t1])
        wire = [(p.wire_topic, p.alias) for p in got]
        a1, a2 = got[0].alias, got[2].alias
        self.assertEqual({a1, a2}, {1, 2})
        self.assertEqual(wire, [(t1, a1), ("", a1), (t2, a2), ("", a2),
                                (t3, None), (t3, None), ("", a1)])


if __name__ == "__main__":
    main()

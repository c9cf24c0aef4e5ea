"""MQTT 5.0 PUBLISH properties and acknowledgements: forwarding of Payload
Format Indicator, Content Type, Response Topic, Correlation Data and User
Properties; Message Expiry Interval; PUBACK/PUBREC/PUBCOMP reason codes.
OASIS MQTT 5.0 sections 3.3.2.3, 3.4-3.7, 4.3."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class PublishPropertiesTest(BrokerTestCaseV5):

    def round_trip(self, props, qos=1, payload=b"p"):
        t = unique("pp/")
        sub = self.subscriber5([(t, sub_options(qos))])
        self.connected5().publish(t, payload, qos=qos, props=props)
        p = sub.expect_publish()
        self.assertEqual((p.topic, p.payload), (t, payload))
        return p

    def test_payload_format_indicator_forwarded_unaltered_MQTT_3_3_2_4(self):
        self.assertEqual(self.round_trip({P_PAYLOAD_FORMAT: 1}, payload="ü".encode())
                         .props.get(P_PAYLOAD_FORMAT), 1)
        self.assertEqual(self.round_trip({P_PAYLOAD_FORMAT: 0}).props.get(P_PAYLOAD_FORMAT, 0), 0)

    def test_content_type_forwarded_unaltered_MQTT_3_3_2_20(self):
        ct = "application/vnd.musqratt+json; charset=utf-8"
        self.assertEqual(self.round_trip({P_CONTENT_TYPE: ct}).props.get(P_CONTENT_TYPE), ct)

    def test_response_topic_forwarded_unaltered_MQTT_3_3_2_15(self):
        rt = "reply/" + unique("r") + "/ü"
        self.assertEqual(self.round_trip({P_RESPONSE_TOPIC: rt}).props.get(P_RESPONSE_TOPIC), rt)

    def test_correlation_data_forwarded_unaltered_MQTT_3_3_2_16(self):
        cd = bytes(range(256))
        self.assertEqual(self.round_trip({P_CORRELATION_DATA: cd}, qos=2)
                         .props.get(P_CORRELATION_DATA), cd)

    def test_user_properties_forwarded_unaltered_and_in_order_MQTT_3_3_2_17_18(self):
        users = [("z", "1"), ("a", "2"), ("z", "3"), ("", ""), ("key", "välue"), ("a", "2")]
        p = self.round_trip({P_USER_PROPERTY: users})
        self.assertEqual(p.props.user, users)

    def test_all_properties_together_qos0(self):
        props = [(P_USER_PROPERTY, ("u", "1")), (P_PAYLOAD_FORMAT, 1),
                 (P_CONTENT_TYPE, "text/plain"), (P_RESPONSE_TOPIC, "r/x"),
                 (P_CORRELATION_DATA, b"c"), (P_USER_PROPERTY, ("u", "2"))]
        p = self.round_trip(props, qos=0)
        self.assertEqual(p.props.user, [("u", "1"), ("u", "2")])
        for k in (P_PAYLOAD_FORMAT, P_CONTENT_TYPE, P_RESPONSE_TOPIC, P_CORRELATION_DATA):
            self.assertEqual(p.props.get(k), dict(props)[k])

    def test_properties_forwarded_to_v311_subscriber_dropped(self):
        # A 3.1.1 subscriber gets the message without properties (it has none).
        t = unique("pp/")
        old = self.subscriber([(t, 1)])
        self.connected5().publish(t, b"v5", qos=1, props={P_USER_PROPERTY: [("a", "b")]})
        p = old.expect_publish()
        self.assertEqual((p.topic, p.payload), (t, b"v5"))

    def test_retained_message_keeps_properties(self):
        t = unique("pp/")
        self.connected5().publish(t, b"r", qos=1, retain=True, props={
            P_CONTENT_TYPE: "c/t", P_USER_PROPERTY: [("k", "v")]})
        sub = self.connected5()
        sub.subscribe([(t, sub_options(1))])
        p = sub.expect_publish()
        self.assertTrue(p.retain)
        self.assertEqual((p.props.get(P_CONTENT_TYPE), p.props.user), ("c/t", [("k", "v")]))


class MessageExpiryTest(BrokerTestCaseV5):

    def offline_session(self, t, qos=1):
        cid = unique("me")
        c = self.connected5(cid, props={P_SESSION_EXPIRY: 60})
        c.subscribe([(t, sub_options(qos))])
        c.disconnect()
        return cid

    def resume(self, cid):
        c = self.connected5(cid, clean_start=False, props={P_SESSION_EXPIRY: 60})
        self.assertTrue(c.connack.session_present)
        return c

    def test_expiry_forwarded_on_live_delivery(self):
        t = unique("me/")
        sub = self.subscriber5([(t, sub_options(1))])
        self.connected5().publish(t, b"x", qos=1, props={P_MESSAGE_EXPIRY: 100})
        v = sub.expect_publish().props.get(P_MESSAGE_EXPIRY)
        self.assertIsNotNone(v, "Message Expiry Interval dropped")
        self.assertTrue(98 <= v <= 100, v)

    def test_no_expiry_property_when_none_was_sent(self):
        t = unique("me/")
        sub = self.subscriber5([(t, sub_options(1))])
        self.connected5().publish(t, b"x", qos=1)
        self.assertNotIn(P_MESSAGE_EXPIRY, sub.expect_publish().props.ids())

    def test_expired_message_dropped_for_offline_session_MQTT_3_3_2_5(self):
        t = unique("me/")
        cid = self.offline_session(t)
        pub = self.connected5()
        pub.publish(t, b"short", qos=1, props={P_MESSAGE_EXPIRY: 1})
        pub.publish(t, b"long", qos=1, props={P_MESSAGE_EXPIRY: 60})
        pub.publish(t, b"forever", qos=1)
        time.sleep(2.5)
        c = self.resume(cid)
        got = c.collect_publishes(1.0)
        self.assertEqual([p.payload for p in got], [b"long", b"forever"])

    def test_remaining_interval_sent_on_forward_MQTT_3_3_2_6(self):
        t = unique("me/")
        cid = self.offline_session(t)
        self.connected5().publish(t, b"x", qos=1, props={P_MESSAGE_EXPIRY: 30})
        time.sleep(2.2)
        c = self.resume(cid)
        v = c.expect_publish().props.get(P_MESSAGE_EXPIRY)
        self.assertIsNotNone(v)
        self.assertTrue(1 <= v <= 28, "MQTT-3.3.2-6: expiry %d after 2.2 s of 30" % v)

    def test_expired_retained_message_not_sent(self):
        # 3.3.2.3.3: a retained message whose interval has passed is not
        # delivered to a new subscriber.
        t = unique("me/")
        self.connected5().publish(t, b"old", qos=1, retain=True, props={P_MESSAGE_EXPIRY: 1})
        time.sleep(2.5)
        c = self.connected5()
        c.subscribe([(t, sub_options(1))])
        c.expect_no_publish(0.5)

    def test_retained_message_remaining_interval(self):
        t = unique("me/")
        self.connected5().publish(t, b"r", qos=1, retain=True, props={P_MESSAGE_EXPIRY: 30})
        time.sleep(2.2)
        c = self.connected5()
        c.subscribe([(t, sub_options(1))])
        v = c.expect_publish().props.get(P_MESSAGE_EXPIRY)
        self.assertTrue(1 <= v <= 28, v)


class AckReasonCodeTest(BrokerTestCaseV5):

    def test_puback_no_subscribers_is_success_or_0x10(self):
        ack = self.connected5().publish(unique("nobody/"), b"x", qos=1)
        self.assertIn(ack.reason, (RC_SUCCESS, RC_NO_MATCHING_SUBSCRIBERS))

    def test_pubrec_no_subscribers_is_success_or_0x10_and_flow_completes(self):
        rec = self.connected5().publish(unique("nobody/"), b"x", qos=2)
        self.assertIn(rec.reason, (RC_SUCCESS, RC_NO_MATCHING_SUBSCRIBERS))

    def test_puback_success_with_subscriber(self):
        t = unique("ack/")
        self.subscriber5([(t, sub_options(1))])
        self.assertEqual(self.connected5().publish(t, b"x", qos=1).reason, RC_SUCCESS)

    @musqratt_specific("3.7.2.1 offers 0x92 for an unknown Packet Identifier without making it "
                       "a MUST; Mosquitto 2.0.11 answers 0x00")
    def test_pubrel_unknown_packet_id_pubcomp_0x92_3_7_2_1(self):
        c = self.connected5()
        c.send(build_pubrel5(777))
        comp = Ack5(c.expect(PUBCOMP, pid=777))
        self.assertEqual(comp.reason, RC_PACKET_ID_NOT_FOUND)
        c.ping()

    def test_subscriber_acks_with_reason_code_and_properties(self):
        # v5 acks with explicit reason 0x00 and properties are valid (3.4.2).
        t = unique("ack/")
        sub = self.subscriber5([(t, sub_options(2))])
        pub = self.connected5()
        pub.publish(t, b"1", qos=1)
        p = sub.expect_publish(ack=False)
        sub.send(build_puback5(p.pid, RC_SUCCESS, {P_REASON_STRING: "ok"}))
        pub.publish(t, b"2", qos=2)
        p = sub.expect_publish(ack=False)
        sub.send(build_pubrec5(p.pid, RC_SUCCESS, {}))
        sub.expect(PUBREL, pid=p.pid)
        sub.send(build_pubcomp5(p.pid, RC_SUCCESS, {P_USER_PROPERTY: [("a", "b")]}))
        sub.ping()
        sub.expect_no_publish(0.5)

    def test_pubrec_error_reason_ends_qos2_flow(self):
        # 4.3.3: a PUBREC with a reason >= 0x80 ends the exchange; the
        # server must not send PUBREL for it, nor resend the PUBLISH.
        t = unique("ack/")
        sub = self.subscriber5([(t, sub_options(2))])
        self.connected5().publish(t, b"x", qos=2)
        p = sub.expect_publish(ack=False)
        sub.send(build_pubrec5(p.pid, RC_UNSPECIFIED_ERROR))
        with self.assertRaises(AssertionError):
            sub.expect(PUBREL, timeout=0.7)
        sub.ping()

    def test_qos2_duplicate_publish_delivered_once_4_3_3(self):
        t = unique("ack/")
        sub = self.subscriber5([(t, sub_options(2))])
        c = self.connected5()
        c.send(build_publish5(t, b"once", qos=2, pid=9))
        c.expect(PUBREC, pid=9)
        c.send(build_publish5(t, b"once", qos=2, pid=9, dup=True))
        c.expect(PUBREC, pid=9)
        c.send(build_pubrel5(9))
        self.assertEqual(Ack5(c.expect(PUBCOMP, pid=9)).reason, RC_SUCCESS)
        got = sub.collect_publishes(0.8)
        self.assertEqual([p.payload for p in got], [b"once"])

    def test_topic_with_wildcard_in_publish_is_rejected(self):
        # MQTT-3.3.2-2: the Topic Name must not contain wildcards.
        c = self.connected5()
        c.send(build_publish5("a/+/b", b"x", qos=1, pid=1))
        c.expect_disconnect((RC_TOPIC_NAME_INVALID, RC_PROTOCOL_ERROR, RC_MALFORMED_PACKET),
                            allow=(PUBACK,))


if __name__ == "__main__":
    main()

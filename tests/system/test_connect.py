"""CONNECT / CONNACK / DISCONNECT: MQTT 3.1.1 sections 3.1, 3.2, 3.14 and MQTT 3.1."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class ConnectTest(BrokerTestCase):

    def test_connect_mqtt311_accepted_rc0(self):
        c = self.client()
        sp, rc = c.connect(unique("c"), proto=PROTO_311)
        self.assertEqual(rc, 0)
        c.ping()

    def test_connect_mqtt31_mqisdp_level3_accepted_rc0(self):
        c = self.client()
        sp, rc = c.connect(unique("c"), proto=PROTO_31)
        self.assertEqual(rc, 0)
        topic = unique("v31/")
        c.subscribe([(topic, 1)])
        c.publish(topic, b"x", qos=1)
        self.assertEqual(c.expect_publish().payload, b"x")

    def test_mqtt31_and_mqtt311_clients_interoperate(self):
        topic = unique("mix/")
        sub = self.connected(proto=PROTO_31)
        sub.subscribe([(topic, 2)])
        pub = self.connected(proto=PROTO_311)
        pub.publish(topic, b"hello", qos=2)
        p = sub.expect_publish()
        self.assertEqual((p.topic, p.payload, p.qos), (topic, b"hello", 2))

    def test_unsupported_protocol_level_gets_rc1_then_close_MQTT_3_1_2_2(self):
        c = self.client()
        c.send(build_connect(unique("c"), proto=("MQTT", 9)))
        pkt = c.expect(CONNACK)
        self.assertEqual(pkt.body[1], 1, "CONNACK rc 1: unacceptable protocol version")
        c.expect_closed()
        self.assert_broker_alive()

    def test_wrong_protocol_name_closes_connection_MQTT_3_1_2_1(self):
        # MQTT-3.1.2-1 lets a server either close or process the CONNECT by
        # another specification; a broker speaking only MQTT must close.
        c = self.client()
        c.send(build_connect(unique("c"), proto=("MQTX", 4)))
        c.expect_closed()
        self.assert_broker_alive()

    def test_first_packet_not_connect_closes_connection_MQTT_3_1_0_1(self):
        c = self.client()
        c.send(build_subscribe(1, [("a/b", 0)]))
        c.expect_closed()
        c2 = self.client()
        c2.send(build_publish(unique("t/"), b"x", qos=0))
        c2.expect_closed()
        c3 = self.client()
        c3.send(build_pingreq())
        c3.expect_closed()
        self.assert_broker_alive()

    def test_second_connect_closes_connection_MQTT_3_1_0_2(self):
        c = self.connected()
        c.send(build_connect(unique("c")))
        c.expect_closed()
        self.assert_broker_alive()

    def test_reserved_connect_flag_set_closes_connection_MQTT_3_1_2_3(self):
        c = self.client()
        c.send(build_connect(unique("c"), reserved=True))
        c.expect_closed()
        self.assert_broker_alive()

    def test_connect_fixed_header_flags_nonzero_closes_connection_MQTT_2_2_2_2(self):
        c = self.client()
        pkt = bytearray(build_connect(unique("c")))
        pkt[0] |= 0x01
        c.send(bytes(pkt))
        c.expect_closed()
        self.assert_broker_alive()

    def test_empty_client_id_with_clean_session_accepted_MQTT_3_1_3_6(self):
        c = self.client()
        sp, rc = c.connect("", clean=True)
        self.assertEqual(rc, 0)
        self.assertFalse(sp, "MQTT-3.2.2-1: session present 0 for a clean session")
        topic = unique("anon/")
        c.subscribe([(topic, 1)])
        c.publish(topic, b"x", qos=1)
        self.assertEqual(c.expect_publish().payload, b"x")

    def test_two_empty_client_ids_get_distinct_sessions_MQTT_3_1_3_6(self):
        a = self.connected("")
        b = self.connected("")
        # Neither may take the other over: both stay usable.
        a.ping()
        b.ping()

    def test_empty_client_id_without_clean_session_rejected_rc2_MQTT_3_1_3_8(self):
        c = self.client()
        c.send(build_connect("", clean=False))
        pkt = c.expect(CONNACK)
        self.assertEqual(pkt.body[1], 2, "CONNACK rc 2: identifier rejected")
        c.expect_closed()  # MQTT-3.1.3-9 / MQTT-3.2.2-5
        self.assert_broker_alive()

    def test_session_present_0_for_clean_session_MQTT_3_2_2_1(self):
        cid = unique("c")
        c = self.connected(cid, clean=False)
        c.subscribe([(unique("sp/"), 1)])
        c.disconnect()
        c2 = self.client()
        sp, _ = c2.connect(cid, clean=True)
        self.assertFalse(sp)

    def test_session_present_1_on_resume_MQTT_3_2_2_2(self):
        cid = unique("c")
        c = self.client()
        sp, _ = c.connect(cid, clean=False)
        self.assertFalse(sp, "MQTT-3.2.2-3: no stored session yet")
        c.subscribe([(unique("sp/"), 1)])
        c.disconnect()
        c2 = self.client()
        sp, _ = c2.connect(cid, clean=False)
        self.assertTrue(sp)

    def test_takeover_same_client_id_closes_first_connection_MQTT_3_1_4_2(self):
        cid = unique("c")
        first = self.connected(cid)
        second = self.connected(cid)
        first.expect_closed()
        second.ping()
        self.assert_broker_alive()

    def test_takeover_of_persistent_session_keeps_subscriptions_MQTT_3_1_4_2(self):
        cid = unique("c")
        topic = unique("tk/")
        first = self.connected(cid, clean=False)
        first.subscribe([(topic, 1)])
        second = self.client()
        sp, _ = second.connect(cid, clean=False)
        self.assertTrue(sp)
        first.expect_closed()
        self.connected().publish(topic, b"after", qos=1)
        self.assertEqual(second.expect_publish().payload, b"after")

    def test_disconnect_closes_connection_MQTT_3_14_4_1(self):
        c = self.connected()
        c.send(build_disconnect())
        c.expect_closed()

    def test_will_qos_3_closes_connection_MQTT_3_1_2_14(self):
        c = self.client()
        c.send(build_connect(unique("c"), will={"topic": "w", "payload": b"x", "qos": 3}))
        c.expect_closed()
        self.assert_broker_alive()

    def test_will_flag_0_with_will_qos_set_closes_connection_MQTT_3_1_2_13(self):
        c = self.client()
        c.send(build_connect(unique("c"), will_flags_override=(False, 1, False)))
        c.expect_closed()
        self.assert_broker_alive()

    def test_will_flag_0_with_will_retain_set_closes_connection_MQTT_3_1_2_15(self):
        c = self.client()
        c.send(build_connect(unique("c"), will_flags_override=(False, 0, True)))
        c.expect_closed()
        self.assert_broker_alive()

    def test_will_flag_set_without_will_fields_closes_connection_MQTT_3_1_2_9(self):
        # Will flag 1 but the payload ends after the client id.
        c = self.client()
        c.send(build_connect(unique("c"), will_flags_override=(True, 0, False)))
        c.expect_closed()
        self.assert_broker_alive()

    def test_password_without_username_closes_connection_MQTT_3_1_2_22(self):
        c = self.client()
        c.send(build_connect(unique("c"), password=b"secret"))
        c.expect_closed()
        self.assert_broker_alive()

    def test_username_and_password_accepted_with_anonymous_allowed(self):
        c = self.client()
        sp, rc = c.connect(unique("c"), username="user", password=b"pw")
        self.assertEqual(rc, 0)

    def test_truncated_connect_closes_connection(self):
        # Remaining length covers only part of the variable header.
        c = self.client()
        full = build_connect(unique("c"))
        body = full[2:8]
        c.send(bytes([0x10, len(body)]) + body)
        c.expect_closed()
        self.assert_broker_alive()

    def test_client_id_invalid_utf8_closes_connection_MQTT_1_5_3_1(self):
        c = self.client()
        body = encode_string("MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big")
        body += encode_binary(b"bad\xc0\xafid")
        c.send(fixed(CONNECT, 0, body))
        try:
            pkt = c.expect(CONNACK, timeout=3)
            # A broker may instead reject the id with rc 2 before closing.
            self.assertNotEqual(pkt.body[1], 0, "invalid UTF-8 client id accepted")
            c.expect_closed()
        except ConnectionClosed:
            pass
        self.assert_broker_alive()


class ConnectAuthConfigTest(BrokerTestCase):
    broker_options = {"allow_anonymous": "false"}

    def test_allow_anonymous_false_rejects_anonymous_client_rc5(self):
        c = self.client()
        c.send(build_connect(unique("c")))
        pkt = c.expect(CONNACK)
        self.assertIn(pkt.body[1], (4, 5), "CONNACK rc 5 (not authorized) or 4 expected")
        c.expect_closed()


if __name__ == "__main__":
    main()

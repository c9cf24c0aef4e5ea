"""MQTT 5.0 CONNECT / CONNACK / AUTH / DISCONNECT: OASIS MQTT 5.0 sections
3.1, 3.2, 3.14, 3.15, 4.12 and 4.13. Tests of a choice the standard leaves to
the server are marked @musqratt_specific."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class ConnackTest(BrokerTestCaseV5):

    def test_connack_success_session_present_0_on_clean_start_MQTT_3_2_2_2(self):
        c = self.connected5()
        self.assertEqual((c.connack.reason, c.connack.session_present), (RC_SUCCESS, False))

    def test_connack_receive_maximum_never_0(self):
        # 3.2.2.3.3: absent means 65535; 0 is a Protocol Error.
        c = self.connected5()
        rm = c.connack.props.get(P_RECEIVE_MAXIMUM)
        if rm is not None:
            self.assertGreater(rm, 0)

    @musqratt_specific("CONNACK Maximum QoS is sent only when < 2, and musqratt supports QoS 2")
    def test_connack_has_no_maximum_qos(self):
        self.assertNotIn(P_MAXIMUM_QOS, self.connected5().connack.props.ids())

    def test_connack_retain_available_absent_or_1_by_default(self):
        v = self.connected5().connack.props.get(P_RETAIN_AVAILABLE, 1)
        self.assertEqual(v, 1)

    @musqratt_specific("no Maximum Packet Size in CONNACK unless max_packet_size is configured")
    def test_connack_has_no_maximum_packet_size_by_default(self):
        self.assertNotIn(P_MAXIMUM_PACKET_SIZE, self.connected5().connack.props.ids())

    @musqratt_specific("Topic Alias Maximum 10 by default")
    def test_connack_topic_alias_maximum_10_by_default(self):
        self.assertEqual(self.connected5().connack.props.get(P_TOPIC_ALIAS_MAXIMUM), 10)

    @musqratt_specific("wildcard, subscription identifier and shared subscription support are "
                       "signalled by absence")
    def test_connack_availability_flags_absent(self):
        ids = self.connected5().connack.props.ids()
        for p in (P_WILDCARD_SUB_AVAILABLE, P_SUB_ID_AVAILABLE, P_SHARED_SUB_AVAILABLE):
            self.assertNotIn(p, ids)

    def test_assigned_client_identifier_for_empty_client_id_MQTT_3_2_2_16(self):
        c = self.connected5(client_id="")
        assigned = c.connack.props.get(P_ASSIGNED_CLIENT_ID)
        self.assertTrue(assigned, "MQTT-3.2.2-16: Assigned Client Identifier missing")
        # The assigned id is unique: a second empty-id client gets another one.
        self.assertNotEqual(self.connected5(client_id="").connack.props.get(P_ASSIGNED_CLIENT_ID),
                            assigned)

    def test_no_assigned_client_identifier_when_client_sent_one(self):
        self.assertNotIn(P_ASSIGNED_CLIENT_ID, self.connected5().connack.props.ids())

    def test_request_response_information_0_no_response_information_MQTT_3_1_2_28(self):
        c = self.connected5(props={P_REQUEST_RESPONSE_INFO: 0})
        self.assertNotIn(P_RESPONSE_INFO, c.connack.props.ids())

    @musqratt_specific("no Response Information unless configured, even when requested")
    def test_request_response_information_1_no_response_information_unconfigured(self):
        c = self.connected5(props={P_REQUEST_RESPONSE_INFO: 1})
        self.assertEqual(c.connack.reason, RC_SUCCESS)
        self.assertNotIn(P_RESPONSE_INFO, c.connack.props.ids())

    def test_receive_maximum_0_in_connect_is_protocol_error(self):
        # 3.1.2.11.3: "It is a Protocol Error ... for it to have the value 0".
        c = self.client5()
        c.send(build_connect5(unique("v"), props={P_RECEIVE_MAXIMUM: 0}))
        self.expect_connect_refused(c)

    def test_maximum_packet_size_0_in_connect_is_protocol_error(self):
        c = self.client5()
        c.send(build_connect5(unique("v"), props={P_MAXIMUM_PACKET_SIZE: 0}))
        self.expect_connect_refused(c)

    def expect_connect_refused(self, c):
        """4.13.1: the Server MAY send a CONNACK with a reason >= 0x80 and
        MUST close (MQTT-4.13.1-1); never a successful CONNACK."""
        try:
            pkt = c.read_packet(3)
            self.assertEqual(pkt.type, CONNACK, pkt)
            self.assertGreaterEqual(Connack5(pkt).reason, 0x80)
        except ConnectionClosed:
            return
        c.expect_closed()
        self.assert_broker_alive()


class ResponseInformationTest(BrokerTestCaseV5):
    broker_options = {"response_information": "replies/"}

    @musqratt_specific("response_information is musqratt's own directive")
    def test_response_information_sent_when_requested_MQTT_3_2_2_3_15(self):
        c = self.connected5(props={P_REQUEST_RESPONSE_INFO: 1})
        self.assertEqual(c.connack.props.get(P_RESPONSE_INFO), "replies/")

    @musqratt_specific("response_information is musqratt's own directive")
    def test_response_information_not_sent_unrequested_MQTT_3_1_2_28(self):
        c = self.connected5()
        self.assertNotIn(P_RESPONSE_INFO, c.connack.props.ids())


class ConfiguredConnackTest(BrokerTestCaseV5):
    broker_options = {"max_inflight_messages": 7, "max_packet_size": 2000,
                      "max_keepalive": 30, "max_topic_alias": 3}

    def test_receive_maximum_from_max_inflight_messages(self):
        self.assertEqual(self.connected5().connack.props.get(P_RECEIVE_MAXIMUM), 7)

    def test_maximum_packet_size_from_config(self):
        self.assertEqual(self.connected5().connack.props.get(P_MAXIMUM_PACKET_SIZE), 2000)

    def test_topic_alias_maximum_from_config(self):
        self.assertEqual(self.connected5().connack.props.get(P_TOPIC_ALIAS_MAXIMUM), 3)

    def test_server_keep_alive_when_client_asks_more_MQTT_3_2_2_21(self):
        c = self.connected5(keepalive=60)
        self.assertEqual(c.connack.props.get(P_SERVER_KEEP_ALIVE), 30)

    def test_server_keep_alive_when_client_asks_0(self):
        c = self.connected5(keepalive=0)
        self.assertEqual(c.connack.props.get(P_SERVER_KEEP_ALIVE), 30)

    @musqratt_specific("Server Keep Alive only when the client's value is above max_keepalive")
    def test_no_server_keep_alive_when_client_asks_less(self):
        c = self.connected5(keepalive=10)
        self.assertNotIn(P_SERVER_KEEP_ALIVE, c.connack.props.ids())

    def test_packet_larger_than_server_maximum_disconnect_0x95(self):
        # 3.2.2.3.6: the Client MUST NOT send packets above the Server's
        # Maximum Packet Size; the Server answers with DISCONNECT 0x95.
        c = self.connected5()
        t = unique("big/")
        c.send(build_publish5(t, b"x" * 3000, qos=1, pid=1))
        c.expect_disconnect(RC_PACKET_TOO_LARGE)
        self.assert_broker_alive()

    def test_packet_at_server_maximum_accepted(self):
        c = self.connected5()
        t = unique("big/")
        c.subscribe([(t, sub_options(1))])
        # Fixed header 1 + 2 remaining length bytes; topic, pid, property length.
        payload_len = 2000 - 3 - (2 + len(t)) - 2 - 1
        c.publish(t, b"y" * payload_len, qos=1)
        self.assertEqual(len(c.expect_publish().payload), payload_len)


class ServerKeepAliveTest(BrokerTestCaseV5):
    # 10 s is the smallest max_keepalive Mosquitto 2.0 accepts.
    broker_options = {"max_keepalive": 10}

    def test_server_keep_alive_is_enforced_MQTT_3_2_2_21(self):
        # The client asked for 60 s; the server's 10 s applies to both sides.
        c = self.connected5(keepalive=60)
        self.assertEqual(c.connack.props.get(P_SERVER_KEEP_ALIVE), 10)
        start = time.monotonic()
        c.expect_disconnect(RC_KEEP_ALIVE_TIMEOUT, timeout=25)
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 9.5, "closed before the Server Keep Alive expired")
        self.assertLess(elapsed, 24, "the client's 60 s keepalive was used")


class RetainUnavailableTest(BrokerTestCaseV5):
    broker_options = {"retain_available": "false"}

    def test_retain_available_0_in_connack(self):
        self.assertEqual(self.connected5().connack.props.get(P_RETAIN_AVAILABLE), 0)

    def test_retained_publish_when_unavailable_disconnect_0x9A(self):
        # 3.2.2.3.5: a PUBLISH with RETAIN 1 when Retain Available is 0 is
        # answered with DISCONNECT 0x9A (Retain not supported).
        c = self.connected5()
        c.send(build_publish5(unique("r/"), b"kept", qos=1, retain=True, pid=1))
        c.expect_disconnect(RC_RETAIN_NOT_SUPPORTED)


class AuthTest(BrokerTestCaseV5):

    @musqratt_specific("4.12 allows 0x8C or 0x87 for an unsupported method; musqratt sends 0x8C")
    def test_connect_with_unknown_auth_method_connack_0x8C_MQTT_4_12_0_1(self):
        c = self.client5()
        c.send(build_connect5(unique("v"), props={P_AUTH_METHOD: "SCRAM-NOPE-1",
                                                  P_AUTH_DATA: b"\x01\x02"}))
        ca = Connack5(c.expect(CONNACK))
        self.assertEqual(ca.reason, RC_BAD_AUTH_METHOD)
        c.expect_closed()  # MQTT-4.12.0-1: and close the Network Connection

    def test_connect_with_unknown_auth_method_refused_and_closed_MQTT_4_12_0_1(self):
        c = self.client5()
        c.send(build_connect5(unique("v"), props={P_AUTH_METHOD: "SCRAM-NOPE-1"}))
        ca = Connack5(c.expect(CONNACK))
        self.assertIn(ca.reason, (RC_BAD_AUTH_METHOD, RC_NOT_AUTHORIZED))
        c.expect_closed()
        self.assert_broker_alive()

    def test_auth_packet_without_auth_method_in_connect_is_protocol_error_4_12(self):
        # 4.12.0: a Client that did not send an Authentication Method in
        # CONNECT must not send AUTH; the Server treats it as a Protocol Error.
        c = self.connected5()
        c.send(build_auth5(RC_REAUTHENTICATE, {P_AUTH_METHOD: "SCRAM-NOPE-1"}))
        c.expect_disconnect(RC_PROTOCOL_ERROR)
        self.assert_broker_alive()

    def test_auth_packet_before_connect_closes(self):
        c = self.client5()
        c.send(build_auth5(RC_CONTINUE_AUTHENTICATION, {P_AUTH_METHOD: "X"}))
        c.expect_closed(allow_packets=(DISCONNECT, CONNACK))  # MQTT-3.1.0-1
        self.assert_broker_alive()


class DisconnectTest(BrokerTestCaseV5):

    def test_session_takeover_disconnect_0x8E_MQTT_3_1_4_3(self):
        cid = unique("v")
        old = self.connected5(cid)
        new = self.connected5(cid)
        old.expect_disconnect(RC_SESSION_TAKEN_OVER)
        new.ping()

    def test_keepalive_timeout_disconnect_0x8D_MQTT_3_1_2_22(self):
        # Timing precision is test_keepalive's business (Mosquitto's timer is
        # coarse there); here the reason code.
        c = self.connected5(keepalive=1)
        start = time.monotonic()
        c.expect_disconnect(RC_KEEP_ALIVE_TIMEOUT, timeout=10)
        self.assertGreaterEqual(time.monotonic() - start, 0.9, "closed before 1.5 x keepalive")

    def test_second_connect_is_protocol_error_0x82_MQTT_3_1_0_2(self):
        c = self.connected5()
        c.send(build_connect5(unique("v")))
        c.expect_disconnect(RC_PROTOCOL_ERROR)

    def test_malformed_properties_disconnect_0x81(self):
        # Property Length says 5 but only 2 bytes follow within the packet.
        c = self.connected5()
        c.send(fixed(PUBLISH, 0, encode_string(unique("m/")) + b"\x05\x01\x01"))
        c.expect_disconnect(RC_MALFORMED_PACKET)
        self.assert_broker_alive()

    def test_unknown_property_in_publish_is_malformed_0x81(self):
        c = self.connected5()
        c.send(fixed(PUBLISH, 0, encode_string(unique("m/")) + b"\x02\x7f\x00" + b"x"))
        c.expect_disconnect((RC_MALFORMED_PACKET, RC_PROTOCOL_ERROR))

    def test_property_twice_is_protocol_error(self):
        # 2.2.2.2: only User Property and Subscription Identifier may repeat.
        c = self.connected5()
        c.send(build_publish5(unique("m/"), b"x", props=[(P_CONTENT_TYPE, "a"),
                                                         (P_CONTENT_TYPE, "b")]))
        c.expect_disconnect((RC_PROTOCOL_ERROR, RC_MALFORMED_PACKET))

    def test_client_disconnect_with_reason_and_properties_accepted(self):
        t = unique("d/")
        c = self.connected5(will={"topic": t, "payload": b"w"})
        watcher = self.subscriber5(t)
        c.disconnect(RC_SUCCESS, {P_REASON_STRING: "bye", P_USER_PROPERTY: [("a", "b")]})
        watcher.expect_no_publish(0.5)  # MQTT-3.14.4-3
        self.assert_broker_alive()


class ProblemInformationTest(BrokerTestCaseV5):

    def assert_no_problem_info(self, ack):
        self.assertNotIn(P_REASON_STRING, ack.props.ids(), "MQTT-3.1.2-29: %r" % ack)
        self.assertNotIn(P_USER_PROPERTY, ack.props.ids(), "MQTT-3.1.2-29: %r" % ack)

    def test_request_problem_information_0_no_reason_string_MQTT_3_1_2_29(self):
        c = self.connected5(props={P_REQUEST_PROBLEM_INFO: 0})
        t = unique("rpi/")
        self.assert_no_problem_info(c.subscribe_ack([(t, sub_options(1))]))
        self.assert_no_problem_info(c.unsubscribe_ack([t, unique("none/")]))
        self.assert_no_problem_info(c.publish(unique("nobody/"), b"x", qos=1))
        self.assert_no_problem_info(c.publish(unique("nobody/"), b"x", qos=2))
        c.send(build_pubrel5(4242))
        self.assert_no_problem_info(Ack5(c.expect(PUBCOMP, pid=4242)))
        c.ping()


if __name__ == "__main__":
    main()

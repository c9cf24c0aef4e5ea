"""WebSocket listeners (protocol websockets): MQTT over RFC 6455 binary
frames, with a raw client written from the RFC (transport_harness.WsClient):
the upgrade answers, framing edge cases, control frames and close codes."""

import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import (BrokerTestCase, ConnectionClosed, build_connect,  # noqa: E402
                          build_publish, build_subscribe, main, unique, CONNACK, SUBACK)
import tls_certs  # noqa: E402
from transport_harness import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT,  # noqa: E402
                               WsClient, client_context, upgrade_request, ws_frame)


class WsCase(BrokerTestCase):
    broker_options = [("protocol", "websockets")]

    def ws(self, **kw):
        c = WsClient(self.port, **kw)
        self.addCleanup(c.close)
        return c

    def raw_upgrade(self, request):
        c = WsClient(self.port, upgrade=False)
        self.addCleanup(c.close)
        status, headers = c.upgrade(request=request)
        return c, status, headers


class TestUpgrade(WsCase):
    def test_upgrade_answers_101_with_accept_and_mqtt_subprotocol(self):
        c = self.ws()
        self.assertEqual(c.status, 101)
        self.assertEqual(c.headers.get("sec-websocket-protocol"), "mqtt")
        self.assertEqual(c.headers.get("upgrade", "").lower(), "websocket")
        c.connect(unique("ws"))

    def test_mqttv31_subprotocol_is_accepted_like_mosquitto(self):
        c = self.ws(protocol="mqttv3.1")
        self.assertEqual(c.headers.get("sec-websocket-protocol"), "mqttv3.1")
        c.connect(unique("ws"))

    def test_any_path_is_accepted_by_default_like_mosquitto(self):
        c = self.ws(path="/some/where?x=1")
        c.connect(unique("ws"))

    def test_missing_key_is_400(self):
        req = (b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
        c, status, _ = self.raw_upgrade(req)
        self.assertEqual(status, 400)
        self.assertTrue(c.eof_after())

    def test_not_an_upgrade_is_426(self):
        c, status, headers = self.raw_upgrade(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 426)
        self.assertEqual(headers.get("sec-websocket-version"), "13")
        self.assertTrue(c.eof_after())

    def test_wrong_version_is_426(self):
        req, _ = upgrade_request(version="8")
        _, status, _ = self.raw_upgrade(req)
        self.assertEqual(status, 426)

    def test_unknown_subprotocol_only_is_400(self):
        req, _ = upgrade_request(protocol="chat")
        _, status, _ = self.raw_upgrade(req)
        self.assertEqual(status, 400)

    def test_oversized_request_is_431(self):
        req, _ = upgrade_request(extra="X-Filler: %s\r\n" % ("a" * 9000))
        _, status, _ = self.raw_upgrade(req)
        self.assertEqual(status, 431)

    def test_mqtt_without_upgrade_is_refused(self):
        c = WsClient(self.port, upgrade=False)
        self.addCleanup(c.close)
        c.send_raw(build_connect(unique("raw")))
        self.assertTrue(c.eof_after(5))


class TestPath(WsCase):
    broker_options = [("protocol", "websockets"), ("websockets_path", "/mqtt")]

    def test_configured_path_is_required(self):
        req, _ = upgrade_request(path="/other")
        _, status, _ = self.raw_upgrade(req)
        self.assertEqual(status, 404)
        c = self.ws(path="/mqtt?token=1")
        c.connect(unique("ws"))


class TestFrames(WsCase):
    def test_publish_subscribe_qos_0_1_2(self):
        sub = self.ws()
        sub.connect(unique("sub"))
        sub.subscribe([("w/t", 2)])
        pub = self.ws()
        pub.connect(unique("pub"))
        for qos in (0, 1, 2):
            pub.publish("w/t", b"m%d" % qos, qos=qos)
            self.assertEqual(sub.expect_publish().payload, b"m%d" % qos)
        # every server frame is a final binary frame
        self.assertTrue(all(f[0] and f[1] == OP_BINARY for f in sub.frames))

    def test_packet_split_across_frames_and_packets_sharing_a_frame(self):
        c = self.ws()
        conn = build_connect(unique("split"))
        for i in range(len(conn)):  # one byte per frame
            c.send_raw(ws_frame(OP_BINARY, conn[i:i + 1]))
        c.expect(CONNACK)
        both = build_subscribe(1, [("s/1", 0)]) + build_subscribe(2, [("s/2", 0)])
        c.send_raw(ws_frame(OP_BINARY, both))
        self.assertEqual(c.expect(SUBACK).pid, 1)
        self.assertEqual(c.expect(SUBACK).pid, 2)

    def test_fragmented_message_with_a_ping_between_fragments(self):
        c = self.ws()
        conn = build_connect(unique("frag"))
        c.send_raw(ws_frame(OP_BINARY, conn[:3], fin=False) + ws_frame(OP_PING, b"hello") +
                   ws_frame(OP_CONT, conn[3:7], fin=False) + ws_frame(OP_CONT, conn[7:]))
        c.expect(CONNACK)
        self.assertEqual(c.pongs, [b"hello"])

    def test_large_message_uses_64_bit_lengths(self):
        sub = self.ws()
        sub.connect(unique("sub"))
        sub.subscribe([("w/big", 1)])
        pub = self.ws()
        pub.connect(unique("pub"))
        payload = os.urandom(300 * 1024)
        pub.publish("w/big", payload, qos=1)
        self.assertEqual(sub.expect_publish(timeout=10).payload, payload)

    def test_slow_reader_gets_whole_frames_after_the_socket_filled(self):
        # Partial writes in the middle of a data frame must finish that
        # frame before anything else (a pong here) is sent.
        sub = self.ws(rcvbuf=4096)
        sub.connect(unique("slow"))
        sub.subscribe([("w/slow", 1)])
        pub = self.ws()
        pub.connect(unique("pub"))
        payloads = [os.urandom(150 * 1024) for _ in range(8)]
        for pl in payloads:
            pub.publish("w/slow", pl, qos=1)
        import time
        time.sleep(1.0)
        sub.send_raw(ws_frame(OP_PING, b"mid"))
        for pl in payloads:
            self.assertEqual(sub.expect_publish(timeout=10).payload, pl)
        sub.ping()
        self.assertEqual(sub.pongs, [b"mid"])

    def test_close_frame_gets_a_close_answer_then_eof(self):
        c = self.ws()
        c.connect(unique("close"))
        c.send_raw(ws_frame(OP_CLOSE, struct.pack(">H", 1000)))
        self.assertEqual(c.wait_close_frame(), 1000)
        self.assertTrue(c.eof_after())

    def test_unmasked_frame_is_closed_with_1002(self):
        c = self.ws()
        c.send_raw(ws_frame(OP_BINARY, build_connect(unique("u")), masked=False))
        self.assertEqual(c.wait_close_frame(), 1002)
        self.assertTrue(c.eof_after())

    def test_text_frame_is_closed_with_1003(self):
        c = self.ws()
        c.connect(unique("text"))
        c.send_raw(ws_frame(OP_TEXT, b"hello"))
        self.assertEqual(c.wait_close_frame(), 1003)

    def test_reserved_bits_are_closed_with_1002(self):
        c = self.ws()
        c.send_raw(ws_frame(OP_BINARY, b"\x10", rsv=0x40))
        self.assertEqual(c.wait_close_frame(), 1002)

    def test_broker_side_close_ends_with_a_close_frame(self):
        # A second CONNECT is a protocol error (MQTT-3.1.0-2): the broker
        # closes; over WebSockets that ends with a close frame.
        c = self.ws()
        c.connect(unique("twice"))
        c.send(build_connect(unique("again")))
        self.assertEqual(c.wait_close_frame(), 1000)
        self.assertTrue(c.eof_after())

    def test_will_is_published_when_the_websocket_drops(self):
        sub = self.ws()
        sub.connect(unique("sub"))
        sub.subscribe([("will/ws", 0)])
        c = self.ws()
        c.connect(unique("dies"), will={"topic": "will/ws", "payload": b"gone"})
        c.abort()
        self.assertEqual(sub.expect_publish().payload, b"gone")


class TestFrameLimit(WsCase):
    broker_options = [("protocol", "websockets"), ("max_packet_size", "1000")]

    def test_frame_larger_than_max_packet_size_is_closed_with_1009(self):
        c = self.ws()
        c.connect(unique("big"))
        c.send_raw(ws_frame(OP_BINARY, build_publish("t", b"x" * 2000)))
        self.assertEqual(c.wait_close_frame(), 1009)


class TestWss(WsCase):
    broker_options = None

    @classmethod
    def setUpClass(cls):
        if not tls_certs.available():
            raise unittest.SkipTest("openssl command not found")
        cls.pki = tls_certs.TestPKI()

    @classmethod
    def tearDownClass(cls):
        cls.pki.cleanup()

    def setUp(self):
        self.broker = self.start_broker([
            ("protocol", "websockets"), ("cafile", self.pki.path("ca.crt")),
            ("certfile", self.pki.path("server.crt")), ("keyfile", self.pki.path("server.key"))])
        self.port = self.broker.port

    def test_publish_subscribe_over_wss(self):
        ctx = client_context(self.pki)
        sub = self.ws(ctx=ctx)
        sub.connect(unique("sub"))
        sub.subscribe([("wss/t", 2)])
        pub = self.ws(ctx=ctx)
        pub.connect(unique("pub"))
        big = os.urandom(100 * 1024)
        for qos, pl in ((0, b"a"), (1, big), (2, b"c")):
            pub.publish("wss/t", pl, qos=qos)
            self.assertEqual(sub.expect_publish(timeout=10).payload, pl)
        pub.send_raw(ws_frame(OP_PING, b"p"))
        pub.send_raw(ws_frame(OP_CLOSE, struct.pack(">H", 1000)))
        self.assertEqual(pub.wait_close_frame(), 1000)
        self.assertEqual(pub.pongs, [b"p"])


if __name__ == "__main__":
    main()

"""How the broker ends a connection it closes: the last packet it sent (a
CONNACK refusal, an MQTT 5 DISCONNECT with its reason code) must reach the
client even when the client is still sending. A plain close() with unread
input makes the kernel answer with a TCP reset that can destroy that packet
(MQTT-3.14.4-2 asks for the close after the DISCONNECT, not instead of it)."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


class LingeringCloseTest(BrokerTestCaseV5):

    def test_disconnect_reaches_a_client_that_keeps_sending(self):
        c = self.connected5()
        bad = build_publish5(unique("ta/"), b"x", qos=0, props={P_TOPIC_ALIAS: 0})
        # The violation, then more traffic the broker will not read before
        # it closes: PUBLISHes keep arriving after the DISCONNECT went out.
        more = build_publish5(unique("more/"), b"y" * 1000, qos=0) * 200
        c.send(bad + more)
        time.sleep(0.3)
        # The broker half-closed and still drains what comes: the client's
        # sends do not fail with a reset before it has read the DISCONNECT
        # (a client library that stops at a failed send would never see it).
        c.send(more)
        c.expect_disconnect(RC_TOPIC_ALIAS_INVALID)
        self.assert_broker_alive()

    def test_refusing_connack_reaches_a_client_that_keeps_sending(self):
        s = socket.create_connection(("127.0.0.1", self.broker.port), timeout=3)
        # MQTT 3.1.1 CONNECT with protocol level 9: CONNACK 0x01, then close.
        connect = bytes([0x10, 0x0d, 0, 4]) + b"MQTT" + bytes([9, 2, 0, 60, 0, 1]) + b"x"
        s.sendall(connect + b"\xc0\x00" * 5000)
        got = b""
        deadline = time.time() + 3
        while len(got) < 4 and time.time() < deadline:
            try:
                chunk = s.recv(64)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        s.close()
        self.assertEqual(got[:4], bytes([0x20, 0x02, 0x00, 0x01]))
        self.assert_broker_alive()


if __name__ == "__main__":
    main()

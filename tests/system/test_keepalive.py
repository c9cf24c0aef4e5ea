"""Keep alive and PINGREQ/PINGRESP: MQTT 3.1.1 sections 3.1.2.10, 3.12, 3.13."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403

SLACK = 1.0  # seconds allowed beyond 1.5 x keepalive for scheduling


def time_to_close(c, limit):
    start = time.monotonic()
    c.expect_closed(limit)
    return time.monotonic() - start


class KeepaliveTest(BrokerTestCase):

    def test_pingreq_answered_with_pingresp_MQTT_3_12_4_1(self):
        c = self.connected()
        for _ in range(3):
            c.send(build_pingreq())
            pkt = c.expect(PINGRESP)
            self.assertEqual((pkt.flags, pkt.body), (0, b""))

    @mosquitto_deviates("MQTT-3.1.2-24: Mosquitto 2.0.11 checks keepalives on a coarse "
                        "timer and closes an idle keepalive-1 client after ~5 s, not 1.5 s")
    def test_idle_client_disconnected_after_1_5x_keepalive_MQTT_3_1_2_24(self):
        c = self.connected(keepalive=1)
        elapsed = time_to_close(c, 1.5 + SLACK + 0.5)
        self.assertGreaterEqual(elapsed, 0.9, "disconnected before the keepalive expired")
        self.assertLessEqual(elapsed, 1.5 + SLACK)

    def test_idle_client_disconnected_eventually_MQTT_3_1_2_24(self):
        # The timing-agnostic half of the rule above, so it is checked against
        # every broker: an idle client does get disconnected.
        c = self.connected(keepalive=1)
        time_to_close(c, 10)
        self.assert_broker_alive()

    def test_pingreq_within_keepalive_keeps_connection_open_MQTT_3_1_2_23(self):
        c = self.connected(keepalive=1)
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            c.ping(timeout=2)
            time.sleep(0.5)
        c.ping()

    def test_any_control_packet_resets_keepalive_MQTT_3_1_2_23(self):
        c = self.connected(keepalive=1)
        t = unique("ka/")
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            c.publish(t, b"x", qos=1)
            time.sleep(0.5)
        c.ping()

    def test_keepalive_0_never_times_out_MQTT_3_1_2_10(self):
        c = self.connected(keepalive=0)
        self.assertTrue(c.is_open_after(3.0), "keepalive 0 connection was closed")
        c.ping()

    def test_keepalive_2_not_disconnected_before_expiry(self):
        c = self.connected(keepalive=2)
        self.assertTrue(c.is_open_after(1.8))
        c.ping()

    @mosquitto_deviates("MQTT-3.1.2-24: Mosquitto 2.0.11 closes a silent 3.1 client with "
                        "keepalive 1 only after ~5 s")
    def test_keepalive_enforced_for_mqtt31_clients(self):
        c = self.connected(keepalive=1, proto=PROTO_31)
        elapsed = time_to_close(c, 1.5 + SLACK + 0.5)
        self.assertLessEqual(elapsed, 1.5 + SLACK)

    def test_half_packet_does_not_count_as_activity(self):
        # A partial packet is not a Control Packet received (MQTT-3.1.2-24).
        c = self.connected(keepalive=1)
        c.send(b"\x30\x10\x00")  # a PUBLISH header that never completes
        time_to_close(c, 10)
        self.assert_broker_alive()


@musqratt_specific("max_keepalive for 3.1/3.1.1 clients: 3.1.1 cannot tell a client its "
                   "keepalive was lowered; musqratt caps it at max_keepalive. Mosquitto 2.0.11 "
                   "rejects max_keepalive below 10 in its config and does not apply it to "
                   "3.1.1 clients at all (keepalive 60 and 0 stay open under max_keepalive 10)")
class MaxKeepaliveTest(BrokerTestCase):
    broker_options = {"max_keepalive": 2}

    def test_keepalive_above_max_is_capped_and_enforced(self):
        c = self.connected(keepalive=60)
        elapsed = time_to_close(c, 3.0 + SLACK + 1.0)
        self.assertGreaterEqual(elapsed, 1.9)
        self.assertLessEqual(elapsed, 3.0 + SLACK)

    def test_keepalive_0_is_capped_to_max_keepalive(self):
        c = self.connected(keepalive=0)
        elapsed = time_to_close(c, 3.0 + SLACK + 1.0)
        self.assertLessEqual(elapsed, 3.0 + SLACK)

    def test_keepalive_below_max_is_accepted_and_kept(self):
        c = self.connected(keepalive=1)
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            c.ping(timeout=2)
            time.sleep(0.5)


if __name__ == "__main__":
    main()

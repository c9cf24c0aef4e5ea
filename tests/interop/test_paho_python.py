"""Interop: Eclipse Paho Python (Debian's python3-paho-mqtt 1.6) against the
broker named by MUSQRATT_BIN, over MQTT 3.1 and 3.1.1.

Owns: paho clients with their network threads (loop_start); each test stops
its clients and kills its broker. Never: uses anything but 127.0.0.1."""

import os
import queue
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from mqtt_harness import BrokerTestCase, unique, main  # noqa: E402

try:
    import paho.mqtt.client as mqtt
except ImportError:  # run with /usr/bin/python3, which has Debian's paho
    mqtt = None

TIMEOUT = 5.0


class PahoClient:
    def __init__(self, test, port, client_id=None, clean=True, protocol=None, will=None):
        self.msgs = queue.Queue()
        self.connected = threading.Event()
        self.subacks = queue.Queue()
        self.connack = None
        self.client = mqtt.Client(client_id=client_id or unique("pp"), clean_session=clean,
                                  protocol=protocol if protocol is not None else mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.msgs.put(m)
        self.client.on_subscribe = lambda c, u, mid, granted: self.subacks.put((mid, granted))
        if will:
            self.client.will_set(**will)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        test.addCleanup(self.stop)
        if not self.connected.wait(TIMEOUT):
            raise AssertionError("paho did not connect")

    def _on_connect(self, client, userdata, flags, rc):
        self.connack = (flags.get("session present", 0), rc)
        self.connected.set()

    def subscribe(self, topic, qos):
        rc, mid = self.client.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        got_mid, granted = self.subacks.get(timeout=TIMEOUT)
        assert got_mid == mid
        return granted

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), "paho publish not completed"

    def get(self, timeout=TIMEOUT):
        try:
            return self.msgs.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no message within %.1fs" % timeout) from None

    def none_within(self, timeout):
        try:
            m = self.msgs.get(timeout=timeout)
        except queue.Empty:
            return True
        raise AssertionError("unexpected message %r %r" % (m.topic, m.payload))

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()

    def stop(self):
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()

    def abort(self):
        """Closes the socket without DISCONNECT, as a crashed client would."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


@unittest.skipIf(mqtt is None, "python3-paho-mqtt not installed")
class PahoPythonTest(BrokerTestCase):

    def paho(self, **kw):
        return PahoClient(self, self.port, **kw)

    def protocols(self):
        return (("MQTTv31", mqtt.MQTTv31), ("MQTTv311", mqtt.MQTTv311))

    def test_qos_0_1_2_round_trips_mqttv31_and_mqttv311(self):
        for name, proto in self.protocols():
            for qos in (0, 1, 2):
                with self.subTest(protocol=name, qos=qos):
                    t = unique("pp/")
                    sub = self.paho(protocol=proto)
                    self.assertEqual(sub.subscribe(t, qos), (qos,))
                    pub = self.paho(protocol=proto)
                    pub.publish(t, b"m-%d" % qos, qos)
                    m = sub.get()
                    self.assertEqual((m.topic, m.payload, m.qos, m.retain),
                                     (t, b"m-%d" % qos, qos, 0))

    def test_many_qos1_messages_in_order(self):
        t = unique("pp/")
        sub = self.paho()
        sub.subscribe(t, 1)
        pub = self.paho()
        infos = [pub.client.publish(t, b"%d" % i, qos=1) for i in range(200)]
        for info in infos:
            info.wait_for_publish(TIMEOUT)
        got = [int(sub.get().payload) for _ in range(200)]
        self.assertEqual(got, list(range(200)))

    def test_retained_message(self):
        t = unique("pp/r/")
        pub = self.paho()
        pub.publish(t, b"ret", 1, retain=True)
        sub = self.paho()
        sub.subscribe(t, 2)
        m = sub.get()
        self.assertEqual((m.payload, m.retain, m.qos), (b"ret", 1, 1))
        pub.publish(t, b"", 1, retain=True)
        sub2 = self.paho()
        sub2.subscribe(t, 1)
        sub2.none_within(0.5)

    def test_will_after_abrupt_socket_close(self):
        for name, proto in self.protocols():
            with self.subTest(protocol=name):
                wt = unique("pp/will/")
                watcher = self.paho()
                watcher.subscribe(wt, 1)
                victim = self.paho(protocol=proto,
                                   will={"topic": wt, "payload": b"lost", "qos": 1})
                victim.abort()
                m = watcher.get()
                self.assertEqual((m.topic, m.payload, m.qos), (wt, b"lost", 1))

    def test_no_will_after_disconnect(self):
        wt = unique("pp/will/")
        watcher = self.paho()
        watcher.subscribe(wt, 1)
        victim = self.paho(will={"topic": wt, "payload": b"no", "qos": 1})
        victim.disconnect()
        watcher.none_within(1.0)

    def test_persistent_session_resume_with_queued_qos1(self):
        for name, proto in self.protocols():
            with self.subTest(protocol=name):
                cid = unique("pps")
                t = unique("pp/p/")
                first = self.paho(client_id=cid, clean=False, protocol=proto)
                first.subscribe(t, 1)
                first.disconnect()
                pub = self.paho()
                for i in range(5):
                    pub.publish(t, b"q%d" % i, 1)
                again = self.paho(client_id=cid, clean=False, protocol=proto)
                # MQTT 3.1's CONNACK has no session present flag.
                want = (1, 0) if proto == mqtt.MQTTv311 else (again.connack[0], 0)
                self.assertEqual(again.connack, want, "session present, rc 0")
                got = [again.get().payload for _ in range(5)]
                self.assertEqual(got, [b"q%d" % i for i in range(5)])
                again.none_within(0.3)

    def test_clean_session_discards_subscription(self):
        cid = unique("ppc")
        t = unique("pp/c/")
        first = self.paho(client_id=cid, clean=False)
        first.subscribe(t, 1)
        first.disconnect()
        clean = self.paho(client_id=cid, clean=True)
        self.assertEqual(clean.connack, (0, 0))
        self.paho().publish(t, b"x", 1)
        clean.none_within(0.5)

    def test_large_payload(self):
        t = unique("pp/big/")
        sub = self.paho()
        sub.subscribe(t, 1)
        data = os.urandom(1 << 20)
        self.paho().publish(t, data, 1)
        self.assertEqual(sub.get(10).payload, data)


if __name__ == "__main__":
    if mqtt is None:
        print("SKIP: python3-paho-mqtt not importable (use /usr/bin/python3)")
        sys.exit(77)
    main()

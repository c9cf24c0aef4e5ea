"""Interop: Eclipse Paho Python (Debian's python3-paho-mqtt 1.6) in MQTTv5
mode against the broker named by MUSQRATT_BIN: publish properties,
subscription options, session expiry with clean_start=False resume, will
with Will Delay Interval, topic aliases sent by the client.

Owns: paho clients with their network threads (loop_start); each test stops
its clients and kills its broker. Never: uses anything but 127.0.0.1."""

import os
import queue
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from mqtt_harness import BrokerTestCase, unique, main  # noqa: E402

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions
except ImportError:  # run with /usr/bin/python3, which has Debian's paho
    mqtt = None

TIMEOUT = 5.0


class Paho5:
    def __init__(self, test, port, client_id=None, clean_start=True, session_expiry=None,
                 will=None, will_props=None, connect_props=None):
        self.msgs = queue.Queue()
        self.subacks = queue.Queue()
        self.connected = threading.Event()
        self.connack = None
        self.client = mqtt.Client(client_id=client_id or unique("p5"), protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.msgs.put(m)
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subacks.put((mid, codes))
        if will:
            self.client.will_set(properties=will_props, **will)
        props = connect_props or Properties(PacketTypes.CONNECT)
        if session_expiry is not None:
            props.SessionExpiryInterval = session_expiry
        self.client.connect("127.0.0.1", port, keepalive=30, clean_start=clean_start,
                            properties=props)
        self.client.loop_start()
        test.addCleanup(self.stop)
        if not self.connected.wait(TIMEOUT):
            raise AssertionError("paho did not connect")

    def _on_connect(self, client, userdata, flags, rc, props):
        self.connack = (flags.get("session present", 0), rc.value, props)
        self.connected.set()

    def subscribe(self, topic, options, props=None):
        rc, mid = self.client.subscribe(topic, options=options, properties=props)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        got_mid, codes = self.subacks.get(timeout=TIMEOUT)
        assert got_mid == mid
        return [c.value for c in codes]

    def publish(self, topic, payload, qos=0, retain=False, props=None):
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
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
            return
        raise AssertionError("unexpected message %r %r" % (m.topic, m.payload))

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


def opts(qos, **kw):
    return SubscribeOptions(qos=qos, **kw)


@unittest.skipIf(mqtt is None, "python3-paho-mqtt not installed")
class PahoPythonV5Test(BrokerTestCase):

    def paho(self, **kw):
        return Paho5(self, self.port, **kw)

    def test_qos_0_1_2_round_trips(self):
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                t = unique("p5/")
                sub = self.paho()
                self.assertEqual(sub.subscribe(t, opts(qos)), [qos])
                self.paho().publish(t, b"m-%d" % qos, qos)
                m = sub.get()
                self.assertEqual((m.topic, m.payload, m.qos, m.retain), (t, b"m-%d" % qos, qos, 0))

    def test_publish_properties_forwarded_MQTT_3_3_2_17_18(self):
        t = unique("p5/")
        sub = self.paho()
        sub.subscribe(t, opts(1))
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("z", "1"), ("a", "2"), ("z", "3")]
        props.ResponseTopic = "reply/" + t
        props.CorrelationData = b"\x00\x01corr"
        props.ContentType = "application/json"
        props.PayloadFormatIndicator = 1
        props.MessageExpiryInterval = 120
        self.paho().publish(t, b'{"x":1}', 1, props=props)
        m = sub.get()
        p = m.properties
        self.assertEqual(p.UserProperty, [("z", "1"), ("a", "2"), ("z", "3")])
        self.assertEqual((p.ResponseTopic, p.CorrelationData, p.ContentType,
                          p.PayloadFormatIndicator),
                         ("reply/" + t, b"\x00\x01corr", "application/json", 1))
        self.assertTrue(110 <= p.MessageExpiryInterval <= 120)

    def test_subscription_identifier(self):
        t = unique("p5/")
        sub = self.paho()
        sp = Properties(PacketTypes.SUBSCRIBE)
        sp.SubscriptionIdentifier = 42
        sub.subscribe(t, opts(1), sp)
        self.paho().publish(t, b"x", 1)
        self.assertEqual(sub.get().properties.SubscriptionIdentifier, [42])

    def test_no_local_MQTT_3_8_3_3(self):
        t = unique("p5/")
        c = self.paho()
        c.subscribe(t, opts(1, noLocal=True))
        c.publish(t, b"own", 1)
        c.none_within(0.7)
        self.paho().publish(t, b"other", 1)
        self.assertEqual(c.get().payload, b"other")

    def test_retain_as_published_and_retain_handling_MQTT_3_3_1_9_to_13(self):
        t = unique("p5/")
        self.paho().publish(t, b"kept", 1, retain=True)
        rap = self.paho()
        rap.subscribe(t, opts(1, retainAsPublished=True))
        m = rap.get()
        self.assertEqual((m.payload, m.retain), (b"kept", 1))
        never = self.paho()
        never.subscribe(t, opts(1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND))
        never.none_within(0.5)
        plain = self.paho()
        plain.subscribe(t, opts(1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB))
        self.assertEqual(plain.get().payload, b"kept")
        plain.subscribe(t, opts(1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB))
        plain.none_within(0.5)
        self.paho().publish(t, b"live", 1, retain=True)
        m_rap, m_plain = rap.get(), plain.get()
        self.assertEqual((m_rap.payload, m_rap.retain), (b"live", 1))
        self.assertEqual((m_plain.payload, m_plain.retain), (b"live", 0))

    def test_session_expiry_and_clean_start_false_resume(self):
        cid, t = unique("p5s"), unique("p5/")
        first = self.paho(client_id=cid, clean_start=True, session_expiry=60)
        first.subscribe(t, opts(1))
        first.stop()
        self.paho().publish(t, b"while-away", 1)
        again = self.paho(client_id=cid, clean_start=False, session_expiry=60)
        self.assertEqual(again.connack[0], 1, "session present")
        self.assertEqual(again.get().payload, b"while-away")

    def test_session_ends_without_expiry(self):
        cid, t = unique("p5s"), unique("p5/")
        first = self.paho(client_id=cid, clean_start=True, session_expiry=0)
        first.subscribe(t, opts(1))
        first.stop()
        again = self.paho(client_id=cid, clean_start=False, session_expiry=0)
        self.assertEqual(again.connack[0], 0, "session present")

    def test_will_with_will_delay(self):
        wt = unique("p5/will/")
        watcher = self.paho()
        watcher.subscribe(wt, opts(1))
        wp = Properties(PacketTypes.WILLMESSAGE)
        wp.WillDelayInterval = 1
        wp.UserProperty = [("why", "gone")]
        victim = self.paho(session_expiry=60, will={"topic": wt, "payload": b"bye", "qos": 1},
                           will_props=wp)
        start = time.monotonic()
        victim.abort()
        m = watcher.get(timeout=5)
        self.assertGreaterEqual(time.monotonic() - start, 0.8, "will sent before its delay")
        self.assertEqual((m.topic, m.payload), (wt, b"bye"))
        self.assertEqual(m.properties.UserProperty, [("why", "gone")])

    def test_will_cancelled_by_reconnect_within_delay_MQTT_3_1_3_9(self):
        wt, cid = unique("p5/will/"), unique("p5w")
        watcher = self.paho()
        watcher.subscribe(wt, opts(1))
        wp = Properties(PacketTypes.WILLMESSAGE)
        wp.WillDelayInterval = 2
        victim = self.paho(client_id=cid, session_expiry=60,
                           will={"topic": wt, "payload": b"no", "qos": 1}, will_props=wp)
        victim.abort()
        time.sleep(0.3)
        self.paho(client_id=cid, clean_start=False, session_expiry=60)
        watcher.none_within(3.0)

    def test_topic_alias_from_client(self):
        t = unique("p5/")
        sub = self.paho()
        sub.subscribe(t, opts(1))
        pub = self.paho()
        first = Properties(PacketTypes.PUBLISH)
        first.TopicAlias = 1
        pub.publish(t, b"a", 1, props=first)
        again = Properties(PacketTypes.PUBLISH)
        again.TopicAlias = 1
        pub.publish("", b"b", 1, props=again)
        got = [sub.get(), sub.get()]
        self.assertEqual([(m.topic, m.payload) for m in got], [(t, b"a"), (t, b"b")])

    def test_shared_subscription_each_message_once(self):
        t = unique("p5/")
        members = [self.paho() for _ in range(2)]
        for m in members:
            m.subscribe("$share/grp/" + t, opts(1))
        pub = self.paho()
        for i in range(6):
            pub.publish(t, b"%d" % i, 1)
        got = []
        deadline = time.monotonic() + 3
        while len(got) < 6 and time.monotonic() < deadline:
            for m in members:
                try:
                    got.append(int(m.msgs.get(timeout=0.05).payload))
                except queue.Empty:
                    pass
        for m in members:
            m.none_within(0.3)
        self.assertEqual(sorted(got), list(range(6)))


if __name__ == "__main__":
    if mqtt is None:
        print("SKIP: python3-paho-mqtt not installed")
        sys.exit(77)
    main()

"""Interop: Eclipse mosquitto_pub / mosquitto_sub (mosquitto-clients) in MQTT
5 mode (-V mqttv5) against the broker named by MUSQRATT_BIN: -D properties,
QoS 0/1/2, retained messages, session expiry, subscription identifiers.

Owns: driving the two command line clients as subprocesses (helpers shared
with test_mosquitto_clients.py). Never: reads the broker's internals; every
process it starts is killed at the end of its test."""

import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
sys.path.insert(0, HERE)
from mqtt_harness import BrokerTestCase, unique, main  # noqa: E402
import test_mosquitto_clients as mc  # noqa: E402  (helpers only)

V5 = "mqttv5"
# %S subscription identifier, %P user properties, %E message expiry,
# %R response topic, %C content type, %F payload format, %D correlation data.
FMT5 = "MSG %r %q %t %p|S=%S|P=%P|E=%E|R=%R|C=%C|F=%F|D=%D"


@unittest.skipUnless(mc.PUB and mc.SUB, "mosquitto-clients not installed")
class MosquittoClientsV5Test(BrokerTestCase):

    def common(self):
        return ["-h", "127.0.0.1", "-p", str(self.port), "-V", V5]

    def spawn_sub(self, topic, qos=0, extra=(), count=None, fmt=FMT5, wait_suback=True):
        args = mc.STDBUF + [mc.SUB] + self.common() + ["-d", "-t", topic, "-q", str(qos),
                                                       "-F", fmt]
        if count is not None:
            args += ["-C", str(count)]
        args += list(extra)
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        self.addCleanup(self._reap, proc)
        reader = mc.LineReader(proc)
        if wait_suback:
            reader.wait_for(lambda l: "received SUBACK" in l)
        return proc, reader

    _reap = mc.MosquittoClientsTest._reap
    finish = mc.MosquittoClientsTest.finish

    def pub(self, topic, message=None, qos=0, extra=()):
        args = [mc.PUB] + self.common() + ["-t", topic, "-q", str(qos)]
        if message is not None:
            args += ["-m", message]
        args += list(extra)
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
        self.assertEqual(r.returncode, 0, "mosquitto_pub failed: %r" % (r.stdout + r.stderr))

    def test_qos_0_1_2_round_trip_v5(self):
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                t = unique("m5/")
                proc, reader = self.spawn_sub(t, qos, count=1, fmt="MSG %r %q %t %p")
                self.pub(t, "hello-%d" % qos, qos)
                self.assertEqual(self.finish(proc, reader), ["0 %d %s hello-%d" % (qos, t, qos)])

    def test_publish_properties_forwarded_MQTT_3_3_2_17_18(self):
        t = unique("m5/")
        proc, reader = self.spawn_sub(t, 1, count=1)
        self.pub(t, "props", 1, extra=[
            "-D", "publish", "user-property", "b", "1",
            "-D", "publish", "user-property", "a", "2",
            "-D", "publish", "user-property", "b", "3",
            "-D", "publish", "response-topic", "reply/" + t,
            "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "payload-format-indicator", "1",
            "-D", "publish", "correlation-data", "corr-42",
            "-D", "publish", "message-expiry-interval", "300"])
        msg = self.finish(proc, reader)[0]
        head, s, p, e, r, c, f, d = msg.split("|")
        self.assertEqual(head, "0 1 %s props" % t)
        self.assertEqual(s, "S=")
        self.assertEqual(p, "P=b:1 a:2 b:3")
        self.assertTrue(290 <= int(e[2:]) <= 300, e)
        self.assertEqual((r, c, f, d), ("R=reply/" + t, "C=text/plain", "F=1", "D=corr-42"))

    def test_subscription_identifier_MQTT_3_3_4_3(self):
        t = unique("m5/")
        proc, reader = self.spawn_sub(t, 1, count=1, extra=[
            "-D", "subscribe", "subscription-identifier", "5"])
        self.pub(t, "sid", 1)
        self.assertTrue(self.finish(proc, reader)[0].split("|")[1] == "S=5")

    def test_retained_message_v5(self):
        t = unique("m5/r/")
        self.pub(t, "kept", 1, extra=["-r", "-D", "publish", "user-property", "r", "1"])
        proc, reader = self.spawn_sub(t, 1, count=1)
        msg = self.finish(proc, reader)[0]
        self.assertTrue(msg.startswith("1 1 %s kept|" % t), msg)
        self.assertIn("|P=r:1|", msg)
        # An empty retained message clears it (3.3.1.3).
        self.pub(t, None, 1, extra=["-r", "-n"])
        proc, reader = self.spawn_sub(t, 1, extra=["-W", "1"])
        proc.wait(10)
        self.assertEqual(reader.messages(), [])

    def test_message_expiry_drops_offline_message_MQTT_3_3_2_5(self):
        cid, t = unique("m5p"), unique("m5/e/")
        r = subprocess.run([mc.SUB] + self.common() + [
            "-c", "-i", cid, "-x", "60", "-q", "1", "-t", t, "-E"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.pub(t, "expires", 1, extra=["-D", "publish", "message-expiry-interval", "1"])
        self.pub(t, "stays", 1, extra=["-D", "publish", "message-expiry-interval", "100"])
        time.sleep(2.5)
        proc, reader = self.spawn_sub(t, 1, count=1, wait_suback=False,
                                      extra=["-c", "-i", cid, "-x", "60"])
        msgs = self.finish(proc, reader)
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0].startswith("0 1 %s stays|" % t), msgs)

    def test_session_expiry_via_connect_property(self):
        cid, t = unique("m5p"), unique("m5/s/")
        # Clean Start 1 (no -c) with Session Expiry 60: the new session outlives
        # the connection (MQTT-3.1.2-23); -c would add its own expiry property.
        r = subprocess.run([mc.SUB] + self.common() + [
            "-i", cid, "-D", "connect", "session-expiry-interval", "60", "-q", "2", "-t", t,
            "-E"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for q in (1, 2):
            self.pub(t, "off-%d" % q, q)
        proc, reader = self.spawn_sub(t, 2, count=2, wait_suback=False, fmt="MSG %q %p",
                                      extra=["-c", "-i", cid, "-x", "60"])
        self.assertEqual(self.finish(proc, reader), ["1 off-1", "2 off-2"])

    def test_no_session_without_expiry(self):
        cid, t = unique("m5p"), unique("m5/s/")
        # -c with -x 0: the session ends with the connection.
        r = subprocess.run([mc.SUB] + self.common() + [
            "-c", "-i", cid, "-x", "0", "-q", "1", "-t", t, "-E"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.pub(t, "lost", 1)
        proc, reader = self.spawn_sub(unique("m5/other/"), 1, extra=["-c", "-i", cid, "-x", "60",
                                                                    "-W", "1"])
        proc.wait(10)
        self.assertEqual(reader.messages(), [])

    def test_will_with_properties_when_client_killed(self):
        wt = unique("m5/will/")
        watcher, wreader = self.spawn_sub(wt, 1, count=1)
        victim, _ = self.spawn_sub(unique("m5/x/"), 0, extra=[
            "--will-topic", wt, "--will-payload", "died", "--will-qos", "1",
            "-D", "will", "user-property", "why", "killed",
            "-D", "will", "content-type", "text/plain"])
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        msg = self.finish(watcher, wreader)[0]
        self.assertTrue(msg.startswith("0 1 %s died|" % wt), msg)
        self.assertIn("|P=why:killed|", msg)
        self.assertIn("|C=text/plain|", msg)


if __name__ == "__main__":
    if not (mc.PUB and mc.SUB):
        print("SKIP: mosquitto_pub/mosquitto_sub not installed")
        sys.exit(77)
    main()

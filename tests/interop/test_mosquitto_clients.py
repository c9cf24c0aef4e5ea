"""Interop: Eclipse mosquitto_pub / mosquitto_sub (mosquitto-clients) against
the broker named by MUSQRATT_BIN, over MQTT 3.1 and 3.1.1.

Owns: driving the two command line clients as subprocesses. Never: reads the
broker's internals; every process it starts is killed at the end of its test.
mosquitto_sub runs with -d, so its "received SUBACK" debug line tells us when
the subscription is in place; messages are printed with a "MSG" prefix."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from mqtt_harness import BrokerTestCase, unique, main  # noqa: E402

PUB = shutil.which("mosquitto_pub")
SUB = shutil.which("mosquitto_sub")
# mosquitto_sub's stdout is block-buffered into a pipe; line-buffer it so the
# SUBACK debug line arrives when it happens.
STDBUF = [shutil.which("stdbuf"), "-oL"] if shutil.which("stdbuf") else []
VERSIONS = ("mqttv31", "mqttv311")
FMT = "MSG %r %q %t %p"


class LineReader:
    """Collects a process's stdout lines on a thread so reads can time out."""

    def __init__(self, proc):
        self.proc = proc
        proc.mq_reader = self
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_for(self, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if pred(line):
                        return line
                if self.eof:
                    raise AssertionError("process ended; output:\n" + "\n".join(self.lines))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out; output:\n" + "\n".join(self.lines))
                self.cond.wait(remaining)

    def messages(self):
        with self.cond:
            return [line[4:] for line in self.lines if line.startswith("MSG ")]


@unittest.skipUnless(PUB and SUB, "mosquitto-clients not installed")
class MosquittoClientsTest(BrokerTestCase):

    def common(self, version):
        return ["-h", "127.0.0.1", "-p", str(self.port), "-V", version]

    def spawn_sub(self, topic, qos=0, version="mqttv311", extra=(), count=None):
        args = STDBUF + [SUB] + self.common(version) + ["-d", "-t", topic, "-q", str(qos), "-F", FMT]
        if count is not None:
            args += ["-C", str(count)]
        args += list(extra)
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        self.addCleanup(self._reap, proc)
        reader = LineReader(proc)
        reader.wait_for(lambda l: "received SUBACK" in l)
        return proc, reader

    def _reap(self, proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        reader = getattr(proc, "mq_reader", None)
        if reader is not None:
            reader.thread.join(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def pub(self, topic, message=None, qos=0, version="mqttv311", extra=(), file=None):
        args = [PUB] + self.common(version) + ["-t", topic, "-q", str(qos)]
        if file:
            args += ["-f", file]
        elif message is not None:
            args += ["-m", message]
        args += list(extra)
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
        self.assertEqual(r.returncode, 0, "mosquitto_pub failed: %r" % (r.stdout + r.stderr))

    def finish(self, proc, reader, timeout=10):
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail("mosquitto_sub did not exit; output:\n" + "\n".join(reader.lines))
        reader.thread.join(5)
        self.assertEqual(proc.returncode, 0, "\n".join(reader.lines))
        return reader.messages()

    def test_qos_0_1_2_round_trip_mqttv31_and_mqttv311(self):
        for version in VERSIONS:
            for qos in (0, 1, 2):
                with self.subTest(version=version, qos=qos):
                    t = unique("mc/")
                    proc, reader = self.spawn_sub(t, qos, version, count=1)
                    self.pub(t, "hello-%d" % qos, qos, version)
                    msgs = self.finish(proc, reader)
                    self.assertEqual(msgs, ["0 %d %s hello-%d" % (qos, t, qos)])

    def test_qos_downgrade_to_subscription(self):
        t = unique("mc/")
        proc, reader = self.spawn_sub(t, 1, count=1)
        self.pub(t, "down", 2)
        self.assertEqual(self.finish(proc, reader), ["0 1 %s down" % t])

    def test_retained_message_with_r(self):
        for version in VERSIONS:
            with self.subTest(version=version):
                t = unique("mc/r/")
                self.pub(t, "kept", 1, version, extra=["-r"])
                proc, reader = self.spawn_sub(t, 1, version, count=1)
                self.assertEqual(self.finish(proc, reader), ["1 1 %s kept" % t])
                # An empty retained message clears it (MQTT-3.3.1-10).
                self.pub(t, None, 1, version, extra=["-r", "-n"])
                proc, reader = self.spawn_sub(t, 1, version, extra=["-W", "1"])
                proc.wait(10)
                self.assertEqual(reader.messages(), [])

    def test_retained_via_wildcard(self):
        base = unique("mc/w/")
        self.pub(base + "/a", "A", 0, extra=["-r"])
        self.pub(base + "/b", "B", 0, extra=["-r"])
        proc, reader = self.spawn_sub(base + "/+", 0, count=2)
        self.assertEqual(sorted(self.finish(proc, reader)),
                         ["1 0 %s/a A" % base, "1 0 %s/b B" % base])

    def test_will_published_when_client_killed(self):
        for version in VERSIONS:
            with self.subTest(version=version):
                wt = unique("mc/will/")
                watcher, wreader = self.spawn_sub(wt, 1, version, count=1)
                victim, _ = self.spawn_sub(unique("mc/x/"), 0, version, extra=[
                    "--will-topic", wt, "--will-payload", "died", "--will-qos", "1"])
                victim.send_signal(signal.SIGKILL)
                victim.wait(5)
                self.assertEqual(self.finish(watcher, wreader), ["0 1 %s died" % wt])

    def test_will_retained(self):
        wt = unique("mc/will/")
        victim, _ = self.spawn_sub(unique("mc/x/"), 0, extra=[
            "--will-topic", wt, "--will-payload", "ret", "--will-qos", "1", "--will-retain"])
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        deadline = time.monotonic() + 5
        while True:
            proc, reader = self.spawn_sub(wt, 1, extra=["-W", "1"], count=1)
            proc.wait(10)
            if reader.messages() or time.monotonic() > deadline:
                break
        self.assertEqual(reader.messages(), ["1 1 %s ret" % wt])

    def test_no_will_after_clean_disconnect(self):
        wt = unique("mc/will/")
        watcher, wreader = self.spawn_sub(wt, 1, extra=["-W", "2"])
        # -E: subscribe, then DISCONNECT cleanly, so no will (MQTT-3.14.4-3).
        r = subprocess.run([SUB] + self.common("mqttv311") + [
            "-t", unique("mc/x/"), "-E", "--will-topic", wt, "--will-payload", "no"],
            capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        watcher.wait(10)
        self.assertEqual(wreader.messages(), [])

    def test_persistent_session_receives_offline_qos1_messages(self):
        for version in VERSIONS:
            with self.subTest(version=version):
                cid = unique("mcp")
                t = unique("mc/p/")
                # Create the session and its subscription, then disconnect (-E).
                r = subprocess.run([SUB] + self.common(version) + [
                    "-c", "-i", cid, "-q", "1", "-t", t, "-E"], capture_output=True, timeout=10)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                for i in range(3):
                    self.pub(t, "off-%d" % i, 1, version)
                proc = subprocess.Popen([SUB] + self.common(version) + [
                    "-c", "-i", cid, "-q", "1", "-t", t, "-C", "3", "-F", FMT],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                self.addCleanup(self._reap, proc)
                reader = LineReader(proc)
                msgs = self.finish(proc, reader)
                self.assertEqual(msgs, ["0 1 %s off-%d" % (t, i) for i in range(3)])

    def test_qos2_many_messages_in_order(self):
        t = unique("mc/o/")
        proc, reader = self.spawn_sub(t, 2, count=50)
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("\n".join("m%02d" % i for i in range(50)) + "\n")
            path = f.name
        self.addCleanup(os.unlink, path)
        # -l: one message per line of stdin.
        with open(path) as stdin:
            r = subprocess.run([PUB] + self.common("mqttv311") + ["-t", t, "-q", "2", "-l"],
                               stdin=stdin, capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        msgs = self.finish(proc, reader, 20)
        self.assertEqual(msgs, ["0 2 %s m%02d" % (t, i) for i in range(50)])

    def test_1mb_payload_from_file(self):
        t = unique("mc/big/")
        data = os.urandom(1 << 20)
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data)
            path = f.name
        self.addCleanup(os.unlink, path)
        args = STDBUF + [SUB] + self.common("mqttv311") + ["-d", "-t", t, "-q", "1", "-C", "1",
                                                  "-F", "MSG %l %x"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(self._reap, proc)
        reader = LineReader(proc)
        reader.wait_for(lambda l: "received SUBACK" in l)
        self.pub(t, qos=1, file=path)
        msgs = self.finish(proc, reader, 20)
        self.assertEqual(len(msgs), 1)
        length, hexdata = msgs[0].split(" ", 1)
        self.assertEqual(int(length), len(data))
        self.assertEqual(bytes.fromhex(hexdata), data)


if __name__ == "__main__":
    if not (PUB and SUB):
        print("SKIP: mosquitto_pub/mosquitto_sub not installed")
        sys.exit(77)
    main()

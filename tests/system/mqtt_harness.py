"""Black-box test harness for an MQTT 3.1 / 3.1.1 broker.

Owns: starting and stopping the broker binary named by MUSQRATT_BIN on a free
loopback port (either with `-p PORT` or with `-c FILE` of a generated
mosquitto.conf-style file), a raw MQTT client whose packet builders and parsers
are written from the OASIS MQTT 3.1.1 standard (and IBM's MQTT 3.1), and
expect-helpers that never wait longer than a few seconds.

Never: talks to anything but 127.0.0.1, depends on anything outside the Python
3.11 standard library, or looks at the broker's internals. The tests assert
what the standard says, not what one broker happens to send byte for byte.

Environment:
  MUSQRATT_BIN      broker binary (musqratt, or /usr/sbin/mosquitto to check
                    the tests themselves)
  MQ_TEST_AGAINST   "mosquitto" skips the tests marked with
                    @mosquitto_deviates / @musqratt_specific
  MQ_TEST_VERBOSE   "1" passes -v to the broker and keeps its log
"""

import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 5.0

# Control packet types, MQTT 3.1.1 section 2.2.1.
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

PACKET_NAMES = {
    CONNECT: "CONNECT", CONNACK: "CONNACK", PUBLISH: "PUBLISH",
    PUBACK: "PUBACK", PUBREC: "PUBREC", PUBREL: "PUBREL", PUBCOMP: "PUBCOMP",
    SUBSCRIBE: "SUBSCRIBE", SUBACK: "SUBACK", UNSUBSCRIBE: "UNSUBSCRIBE",
    UNSUBACK: "UNSUBACK", PINGREQ: "PINGREQ", PINGRESP: "PINGRESP",
    DISCONNECT: "DISCONNECT",
}

PROTO_311 = ("MQTT", 4)
PROTO_31 = ("MQIsdp", 3)

AGAINST = os.environ.get("MQ_TEST_AGAINST", "").strip().lower()
AGAINST_MOSQUITTO = AGAINST == "mosquitto"


def mosquitto_deviates(reason):
    """Marks a test that is right per the standard but that Mosquitto fails."""
    return unittest.skipIf(AGAINST_MOSQUITTO, "Mosquitto deviates from the standard: " + reason)


def musqratt_specific(reason):
    """Marks a test of a musqratt design choice the standard leaves open."""
    return unittest.skipIf(AGAINST_MOSQUITTO, "musqratt-specific behaviour: " + reason)


def unique(prefix="t"):
    """A short unique token; MQTT 3.1 caps client ids at 23 characters."""
    return prefix + uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------
# Encoding, written from MQTT 3.1.1 sections 1.5 and 2.2.3.
# --------------------------------------------------------------------------

def encode_remaining_length(n):
    if n < 0 or n > 268435455:
        raise ValueError("remaining length out of range")
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def encode_string(s):
    raw = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(raw)) + raw


def encode_binary(b):
    b = b.encode("utf-8") if isinstance(b, str) else bytes(b)
    return struct.pack("!H", len(b)) + b


def fixed(ptype, flags, body):
    return bytes([(ptype << 4) | (flags & 0x0F)]) + encode_remaining_length(len(body)) + body


def build_connect(client_id, clean=True, keepalive=60, will=None, username=None,
                  password=None, proto=PROTO_311, reserved=False, will_flags_override=None):
    """CONNECT (3.1). will is a dict: topic, payload, qos, retain.

    will_flags_override = (will_flag, will_qos, will_retain) forces those bits
    without a will payload consistency check, for negative tests."""
    name, level = proto
    flags = 0
    if reserved:
        flags |= 0x01
    if clean:
        flags |= 0x02
    if will is not None:
        flags |= 0x04 | ((will.get("qos", 0) & 3) << 3) | (0x20 if will.get("retain") else 0)
    if will_flags_override is not None:
        wf, wq, wr = will_flags_override
        flags &= ~0x3C
        flags |= (0x04 if wf else 0) | ((wq & 3) << 3) | (0x20 if wr else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    body = encode_string(name) + bytes([level, flags]) + struct.pack("!H", keepalive)
    body += encode_string(client_id)
    if will is not None:
        body += encode_string(will["topic"]) + encode_binary(will.get("payload", b""))
    if username is not None:
        body += encode_string(username)
    if password is not None:
        body += encode_binary(password)
    return fixed(CONNECT, 0, body)


def build_publish(topic, payload=b"", qos=0, retain=False, dup=False, pid=None):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    flags = ((qos & 3) << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = encode_string(topic) if not isinstance(topic, bytes) else encode_binary(topic)
    if qos > 0:
        body += struct.pack("!H", pid)
    return fixed(PUBLISH, flags, body + payload)


def build_puback(pid):
    return fixed(PUBACK, 0, struct.pack("!H", pid))


def build_pubrec(pid):
    return fixed(PUBREC, 0, struct.pack("!H", pid))


def build_pubrel(pid):
    # MQTT-3.6.1-1: bits 3..0 of PUBREL are 0010.
    return fixed(PUBREL, 0x02, struct.pack("!H", pid))


def build_pubcomp(pid):
    return fixed(PUBCOMP, 0, struct.pack("!H", pid))


def build_subscribe(pid, filters, flags=0x02):
    """filters: list of (filter, requested_qos). MQTT-3.8.1-1: flags 0010."""
    body = struct.pack("!H", pid)
    for f, q in filters:
        body += (encode_string(f) if not isinstance(f, bytes) else encode_binary(f)) + bytes([q])
    return fixed(SUBSCRIBE, flags, body)


def build_unsubscribe(pid, filters, flags=0x02):
    body = struct.pack("!H", pid)
    for f in filters:
        body += encode_string(f)
    return fixed(UNSUBSCRIBE, flags, body)


def build_pingreq():
    return fixed(PINGREQ, 0, b"")


def build_disconnect():
    return fixed(DISCONNECT, 0, b"")


# --------------------------------------------------------------------------
# Decoding.
# --------------------------------------------------------------------------

class Packet:
    __slots__ = ("type", "flags", "body")

    def __init__(self, ptype, flags, body):
        self.type = ptype
        self.flags = flags
        self.body = body

    def __repr__(self):
        return "<%s flags=%#x len=%d>" % (PACKET_NAMES.get(self.type, self.type),
                                          self.flags, len(self.body))

    @property
    def pid(self):
        return struct.unpack("!H", self.body[:2])[0]


class Publish:
    __slots__ = ("topic", "payload", "qos", "retain", "dup", "pid")

    def __init__(self, pkt):
        f = pkt.flags
        self.dup = bool(f & 0x08)
        self.qos = (f >> 1) & 3
        self.retain = bool(f & 0x01)
        tlen = struct.unpack("!H", pkt.body[:2])[0]
        self.topic = pkt.body[2:2 + tlen].decode("utf-8")
        pos = 2 + tlen
        self.pid = None
        if self.qos > 0:
            self.pid = struct.unpack("!H", pkt.body[pos:pos + 2])[0]
            pos += 2
        self.payload = bytes(pkt.body[pos:])

    def __repr__(self):
        return "<PUBLISH %r qos=%d retain=%d dup=%d pid=%s payload=%r>" % (
            self.topic, self.qos, self.retain, self.dup, self.pid, self.payload[:40])


class ConnectionClosed(AssertionError):
    pass


class MqttClient:
    """A raw MQTT client. Packets not asked for are kept in order in a backlog,
    so interleaved deliveries are never lost or reordered."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT, rcvbuf=None):
        self.port = port
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.connect((HOST, port))
        self.buf = bytearray()
        self.backlog = []
        self.closed = False
        self.next_pid = 1

    # -- low level --------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """Sends, tolerating a broker that already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def abort(self):
        """Closes with RST, i.e. a network failure from the broker's view."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def alloc_pid(self):
        pid = self.next_pid
        self.next_pid = pid % 65535 + 1
        return pid

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            raise ConnectionClosed("broker closed the connection")
        self.buf += chunk

    def _parse_one(self):
        buf = self.buf
        if len(buf) < 2:
            return None
        mult, value, pos = 1, 0, 1
        while True:
            if pos >= len(buf):
                return None
            b = buf[pos]
            value += (b & 0x7F) * mult
            pos += 1
            if not b & 0x80:
                break
            mult *= 128
            if pos > 4:
                raise AssertionError("broker sent a malformed remaining length")
        if len(buf) < pos + value:
            return None
        pkt = Packet(buf[0] >> 4, buf[0] & 0x0F, bytes(buf[pos:pos + value]))
        del buf[:pos + value]
        return pkt

    def read_packet(self, timeout=None):
        """Next packet off the wire (ignores the backlog)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            pkt = self._parse_one()
            if pkt is not None:
                return pkt
            self._fill(deadline)

    def next_packet(self, timeout=None):
        if self.backlog:
            return self.backlog.pop(0)
        return self.read_packet(timeout)

    # -- expect helpers -----------------------------------------------------
    def expect(self, ptype, timeout=None, pid=None):
        """Waits for a packet of type ptype (and packet id pid, if given);
        other packets go to the backlog."""
        for i, pkt in enumerate(self.backlog):
            if pkt.type == ptype and (pid is None or pkt.pid == pid):
                return self.backlog.pop(i)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                pkt = self.read_packet(max(0.001, deadline - time.monotonic()))
            except socket.timeout:
                raise AssertionError("timed out waiting for %s (backlog %r)" % (
                    PACKET_NAMES.get(ptype), self.backlog)) from None
            except ConnectionClosed:
                raise ConnectionClosed("connection closed while waiting for %s (backlog %r)" % (
                    PACKET_NAMES.get(ptype), self.backlog)) from None
            if pkt.type == ptype and (pid is None or pkt.pid == pid):
                return pkt
            self.backlog.append(pkt)

    def expect_publish(self, timeout=None, ack=True):
        """Next PUBLISH; with ack, completes the QoS 1/2 handshake as a
        receiver (PUBACK, or PUBREC then PUBREL then PUBCOMP)."""
        p = Publish(self.expect(PUBLISH, timeout))
        if ack:
            self.ack(p)
        return p

    def ack(self, p):
        if p.qos == 1:
            self.send(build_puback(p.pid))
        elif p.qos == 2:
            self.send(build_pubrec(p.pid))
            rel = self.expect(PUBREL, pid=p.pid)
            assert rel.flags == 0x02, "MQTT-3.6.1-1: PUBREL flags must be 0010"
            self.send(build_pubcomp(p.pid))

    def expect_publishes(self, n, timeout=None, ack=True):
        return [self.expect_publish(timeout, ack) for _ in range(n)]

    def collect_publishes(self, duration, ack=True):
        """Every PUBLISH that arrives within duration seconds."""
        out = []
        deadline = time.monotonic() + duration
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return out
            try:
                out.append(self.expect_publish(remaining, ack))
            except AssertionError as e:
                if isinstance(e, ConnectionClosed):
                    raise
                return out

    def expect_no_publish(self, duration=0.5):
        got = self.collect_publishes(duration, ack=True)
        if got:
            raise AssertionError("unexpected PUBLISH: %r" % got)

    def expect_closed(self, timeout=3.0, allow_packets=()):
        """The broker must close the connection within timeout. Any packet
        before the close fails the test unless its type is in allow_packets."""
        deadline = time.monotonic() + timeout
        while True:
            while self.backlog:
                pkt = self.backlog.pop(0)
                if pkt.type not in allow_packets:
                    raise AssertionError("expected close, got %r" % pkt)
            try:
                pkt = self.read_packet(max(0.001, deadline - time.monotonic()))
            except ConnectionClosed:
                return
            except socket.timeout:
                raise AssertionError("broker did not close the connection within %.1fs" % timeout) from None
            except OSError:
                self.closed = True
                return
            if pkt.type not in allow_packets:
                raise AssertionError("expected close, got %r" % pkt)

    def is_open_after(self, duration):
        """True if the broker has not closed the connection (and sent nothing
        but PINGRESP) within duration."""
        try:
            self.expect_closed(duration, allow_packets=(PINGRESP,))
            return False
        except AssertionError as e:
            if "did not close" in str(e):
                return True
            raise

    # -- high level ------------------------------------------------------------
    def connect(self, client_id, clean=True, keepalive=60, will=None, proto=PROTO_311,
                username=None, password=None, expect_rc=0):
        """Sends CONNECT and returns (session_present, return_code)."""
        self.send(build_connect(client_id, clean, keepalive, will, username, password, proto))
        pkt = self.expect(CONNACK)
        assert pkt.flags == 0, "CONNACK fixed header flags must be 0"
        assert len(pkt.body) == 2, "CONNACK remaining length must be 2"
        sp, rc = pkt.body[0], pkt.body[1]
        assert sp & 0xFE == 0, "CONNACK acknowledge flags bits 7-1 are reserved (0)"
        if expect_rc is not None:
            assert rc == expect_rc, "CONNACK rc %d, expected %d" % (rc, expect_rc)
        return bool(sp & 1), rc

    def subscribe(self, filters, pid=None):
        """filters: list of (filter, qos) or a single filter string (QoS 0).
        Returns the SUBACK return codes."""
        if isinstance(filters, str):
            filters = [(filters, 0)]
        pid = pid or self.alloc_pid()
        self.send(build_subscribe(pid, filters))
        pkt = self.expect(SUBACK, pid=pid)
        return list(pkt.body[2:])

    def unsubscribe(self, filters, pid=None):
        if isinstance(filters, str):
            filters = [filters]
        pid = pid or self.alloc_pid()
        self.send(build_unsubscribe(pid, filters))
        pkt = self.expect(UNSUBACK, pid=pid)
        assert len(pkt.body) == 2, "UNSUBACK remaining length must be 2"

    def publish(self, topic, payload=b"", qos=0, retain=False, pid=None):
        """Publishes and completes the sender side of the QoS flow."""
        if qos and pid is None:
            pid = self.alloc_pid()
        self.send(build_publish(topic, payload, qos, retain, pid=pid))
        if qos == 1:
            self.expect(PUBACK, pid=pid)
        elif qos == 2:
            self.expect(PUBREC, pid=pid)
            self.send(build_pubrel(pid))
            self.expect(PUBCOMP, pid=pid)
        return pid

    def ping(self, timeout=None):
        self.send(build_pingreq())
        self.expect(PINGRESP, timeout)

    def disconnect(self):
        self.try_send(build_disconnect())
        self.close()


# --------------------------------------------------------------------------
# Broker process management.
# --------------------------------------------------------------------------

def broker_binary():
    path = os.environ.get("MUSQRATT_BIN")
    if not path:
        sys.stderr.write("MUSQRATT_BIN is not set (point it at the broker binary)\n")
        sys.exit(2)
    return path


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Broker:
    """One broker process on a free loopback port; stop() always kills it."""

    def __init__(self, options=None, binary=None):
        self.options = options  # None: use -p PORT; else a dict/list for -c FILE
        self.binary = binary or broker_binary()
        self.proc = None
        self.port = None
        self.tmpdir = tempfile.TemporaryDirectory(prefix="mqsys-")
        self.log_path = os.path.join(self.tmpdir.name, "broker.log")

    def _config_text(self, port):
        lines = ["listener %d %s" % (port, HOST)]
        opts = self.options
        if isinstance(opts, dict):
            opts = list(opts.items())
        keys = {k for k, _ in opts}
        if "allow_anonymous" not in keys:
            # Mosquitto 2.0 refuses anonymous clients once a config file is
            # used; the tests connect anonymously.
            lines.append("allow_anonymous true")
        for k, v in opts:
            lines.append("%s %s" % (k, v))
        return "\n".join(lines) + "\n"

    def start(self, attempts=5):
        last = None
        for _ in range(attempts):
            port = free_port()
            args = [self.binary]
            if self.options is None:
                args += ["-p", str(port)]
            else:
                conf = os.path.join(self.tmpdir.name, "broker.conf")
                with open(conf, "w") as f:
                    f.write(self._config_text(port))
                args += ["-c", conf]
            if os.environ.get("MQ_TEST_VERBOSE") == "1":
                args.append("-v")
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.tmpdir.name)
            log.close()
            self.port = port
            if self._wait_ready(5.0):
                return self
            last = self.log_tail()
            self._kill()
        raise RuntimeError("broker did not start; log:\n" + (last or ""))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken in the meantime
            try:
                s = socket.create_connection((HOST, self.port), timeout=0.5)
                s.close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        self.proc = None

    def stop(self):
        self._kill()
        self.tmpdir.cleanup()

    def client(self, **kw):
        return MqttClient(self.port, **kw)


class BrokerTestCase(unittest.TestCase):
    """Each test gets its own broker; broker_options selects -c over -p."""

    broker_options = None

    def setUp(self):
        self.broker = self.start_broker(self.broker_options)
        self.port = self.broker.port

    def start_broker(self, options=None):
        b = Broker(options).start()
        self.addCleanup(b.stop)
        self.addCleanup(self._check_running, b)
        return b

    def _check_running(self, b):
        if b.proc is not None and b.proc.poll() is not None:
            self.fail("broker exited during the test (rc %s); log:\n%s" % (
                b.proc.returncode, b.log_tail()))

    def client(self, broker=None, **kw):
        c = (broker or self.broker).client(**kw)
        self.addCleanup(c.close)
        return c

    def connected(self, client_id=None, clean=True, keepalive=60, will=None,
                  proto=PROTO_311, broker=None, **kw):
        """A client with a completed CONNECT/CONNACK."""
        c = self.client(broker, **kw)
        c.connect(client_id if client_id is not None else unique("c"), clean, keepalive, will, proto)
        return c

    def subscriber(self, filters, client_id=None, clean=True, broker=None):
        c = self.connected(client_id, clean=clean, broker=broker)
        codes = c.subscribe(filters)
        want = [min(q, 2) for _, q in ([(filters, 0)] if isinstance(filters, str) else filters)]
        self.assertEqual(codes, want, "SUBACK granted QoS")
        return c

    def assert_broker_alive(self, broker=None):
        """The broker still serves a fresh client end to end."""
        b = broker or self.broker
        self.assertTrue(b.running(), "broker process died; log:\n" + b.log_tail())
        topic = unique("alive/")
        c = b.client()
        try:
            c.connect(unique("alive"))
            c.subscribe([(topic, 1)])
            c.publish(topic, b"ping", qos=1)
            p = c.expect_publish()
            self.assertEqual((p.topic, p.payload), (topic, b"ping"))
            c.disconnect()
        finally:
            c.close()


def main():
    """unittest main with the usual summary and a non-zero exit on failure."""
    broker_binary()
    unittest.main(verbosity=2)

"""Black-box test harness for an MQTT 3.1 / 3.1.1 / 5.0 broker.

Owns: starting and stopping the broker binary named by MUSQRATT_BIN on a free
loopback port (either with `-p PORT` or with `-c FILE` of a generated
mosquitto.conf-style file), raw MQTT clients whose packet builders and parsers
are written from the OASIS MQTT 3.1.1 and 5.0 standards (and IBM's MQTT 3.1),
and expect-helpers that never wait longer than a few seconds.

Never: talks to anything but 127.0.0.1, depends on anything outside the Python
3.11 standard library, or looks at the broker's internals. The tests assert
what the standard says, not what one broker happens to send byte for byte.

Environment:
  MUSQRATT_BIN      broker binary (musqratt, or /usr/sbin/mosquitto to check
                    the tests themselves)
  MQ_TEST_AGAINST   "mosquitto" skips the tests marked with
                    @mosquitto_deviates / @musqratt_specific, and lets a broker
                    close without DISCONNECT on a protocol violation
  MQ_TEST_RUN_MARKED "1" runs the marked tests even against Mosquitto
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


# MQ_TEST_RUN_MARKED=1 runs the marked tests anyway, to check that each mark
# is still needed (a marked test that passes against Mosquitto is mislabelled).
RUN_MARKED = os.environ.get("MQ_TEST_RUN_MARKED") == "1"
SKIP_MARKED = AGAINST_MOSQUITTO and not RUN_MARKED


def mosquitto_deviates(reason):
    """Marks a test that is right per the standard but that Mosquitto fails."""
    return unittest.skipIf(SKIP_MARKED, "Mosquitto deviates from the standard: " + reason)


def musqratt_specific(reason):
    """Marks a test of a musqratt design choice the standard leaves open."""
    return unittest.skipIf(SKIP_MARKED, "musqratt-specific behaviour: " + reason)


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

    publish_class = Publish  # MqttClientV5 parses v5 PUBLISH packets

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
        p = self.publish_class(self.expect(PUBLISH, timeout))
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
# MQTT 5.0, written from the OASIS MQTT Version 5.0 standard (07 March 2019):
# properties (section 2.2.2), reason codes (2.4), and v5 packet builders and
# parsers for every control packet including AUTH (section 3.15). The 3.1.1
# API above is untouched; v5 clients are MqttClientV5 instances.
# --------------------------------------------------------------------------

AUTH = 15
PACKET_NAMES[AUTH] = "AUTH"
PROTO_5 = ("MQTT", 5)

# Property identifiers, section 2.2.2.2.
P_PAYLOAD_FORMAT = 0x01
P_MESSAGE_EXPIRY = 0x02
P_CONTENT_TYPE = 0x03
P_RESPONSE_TOPIC = 0x08
P_CORRELATION_DATA = 0x09
P_SUBSCRIPTION_ID = 0x0B
P_SESSION_EXPIRY = 0x11
P_ASSIGNED_CLIENT_ID = 0x12
P_SERVER_KEEP_ALIVE = 0x13
P_AUTH_METHOD = 0x15
P_AUTH_DATA = 0x16
P_REQUEST_PROBLEM_INFO = 0x17
P_WILL_DELAY = 0x18
P_REQUEST_RESPONSE_INFO = 0x19
P_RESPONSE_INFO = 0x1A
P_SERVER_REFERENCE = 0x1C
P_REASON_STRING = 0x1F
P_RECEIVE_MAXIMUM = 0x21
P_TOPIC_ALIAS_MAXIMUM = 0x22
P_TOPIC_ALIAS = 0x23
P_MAXIMUM_QOS = 0x24
P_RETAIN_AVAILABLE = 0x25
P_USER_PROPERTY = 0x26
P_MAXIMUM_PACKET_SIZE = 0x27
P_WILDCARD_SUB_AVAILABLE = 0x28
P_SUB_ID_AVAILABLE = 0x29
P_SHARED_SUB_AVAILABLE = 0x2A

_PROP_BYTE = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_PROP_TWO = {0x13, 0x21, 0x22, 0x23}
_PROP_FOUR = {0x02, 0x11, 0x18, 0x27}
_PROP_STRING = {0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F}
_PROP_BINARY = {0x09, 0x16}
_PROP_VARINT = {0x0B}
_PROP_PAIR = {0x26}
# Only these may appear more than once in one packet (2.2.2.2, 3.3.2.3.8).
_PROP_REPEATABLE = {P_USER_PROPERTY, P_SUBSCRIPTION_ID}

# Reason codes, section 2.4.
RC_SUCCESS = 0x00
RC_GRANTED_QOS_1 = 0x01
RC_GRANTED_QOS_2 = 0x02
RC_DISCONNECT_WITH_WILL = 0x04
RC_NO_MATCHING_SUBSCRIBERS = 0x10
RC_NO_SUBSCRIPTION_EXISTED = 0x11
RC_CONTINUE_AUTHENTICATION = 0x18
RC_REAUTHENTICATE = 0x19
RC_UNSPECIFIED_ERROR = 0x80
RC_MALFORMED_PACKET = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_IMPLEMENTATION_SPECIFIC = 0x83
RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84
RC_CLIENT_ID_NOT_VALID = 0x85
RC_NOT_AUTHORIZED = 0x87
RC_SERVER_BUSY = 0x89
RC_BAD_AUTH_METHOD = 0x8C
RC_KEEP_ALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_FILTER_INVALID = 0x8F
RC_TOPIC_NAME_INVALID = 0x90
RC_PACKET_ID_IN_USE = 0x91
RC_PACKET_ID_NOT_FOUND = 0x92
RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95
RC_QUOTA_EXCEEDED = 0x97
RC_PAYLOAD_FORMAT_INVALID = 0x99
RC_RETAIN_NOT_SUPPORTED = 0x9A
RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E
RC_SUB_IDS_NOT_SUPPORTED = 0xA1
RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2

# musqratt always sends a DISCONNECT with a reason code before it closes a
# connection for a protocol violation; the standard only says MAY (4.13.1),
# so against another broker a bare close is accepted.
REQUIRE_SERVER_DISCONNECT = not AGAINST_MOSQUITTO


def encode_varint(n):
    """Variable Byte Integer, section 1.5.5 (same as the remaining length)."""
    return encode_remaining_length(n)


def decode_varint(buf, pos):
    """Returns (value, new_pos); at most 4 bytes (1.5.5)."""
    mult, value = 1, 0
    for i in range(4):
        if pos >= len(buf):
            raise AssertionError("truncated variable byte integer")
        b = buf[pos]
        pos += 1
        value += (b & 0x7F) * mult
        if not b & 0x80:
            return value, pos
        mult *= 128
    raise AssertionError("variable byte integer longer than 4 bytes")


def sub_options(qos=0, no_local=False, retain_as_published=False, retain_handling=0):
    """Subscription Options byte, section 3.8.3.1."""
    return (qos & 3) | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0) | \
        ((retain_handling & 3) << 4)


class Props:
    """An ordered list of (identifier, value) pairs, duplicates kept, so
    User Property order (MQTT-3.3.2-18) and repeated Subscription
    Identifiers can be checked. A User Property value is a (name, value)
    pair of str."""

    def __init__(self, items=None):
        self.items = list(items or [])

    def get(self, pid, default=None):
        for k, v in self.items:
            if k == pid:
                return v
        return default

    def all(self, pid):
        return [v for k, v in self.items if k == pid]

    def __contains__(self, pid):
        return any(k == pid for k, _ in self.items)

    def ids(self):
        return [k for k, _ in self.items]

    @property
    def user(self):
        return self.all(P_USER_PROPERTY)

    def __repr__(self):
        return "Props(%r)" % self.items


def prop_items(props):
    """Accepts None, a Props, a list of (id, value) or a dict {id: value}
    (a list value for a repeatable id means one property per element)."""
    if props is None:
        return []
    if isinstance(props, Props):
        return props.items
    if isinstance(props, dict):
        out = []
        for k, v in props.items():
            if k in _PROP_REPEATABLE and isinstance(v, list):
                out += [(k, x) for x in v]
            else:
                out.append((k, v))
        return out
    return list(props)


def encode_props(props):
    """Property Length followed by the properties (2.2.2.1)."""
    body = bytearray()
    for k, v in prop_items(props):
        body += encode_varint(k)
        if k in _PROP_BYTE:
            body.append(v)
        elif k in _PROP_TWO:
            body += struct.pack("!H", v)
        elif k in _PROP_FOUR:
            body += struct.pack("!I", v)
        elif k in _PROP_STRING:
            body += encode_string(v)
        elif k in _PROP_BINARY:
            body += encode_binary(v)
        elif k in _PROP_VARINT:
            body += encode_varint(v)
        elif k in _PROP_PAIR:
            body += encode_string(v[0]) + encode_string(v[1])
        else:
            raise ValueError("unknown property %#x" % k)
    return encode_varint(len(body)) + bytes(body)


def decode_props(buf, pos):
    """Returns (Props, new_pos). Fails on what would make the packet
    Malformed: unknown ids, truncation, a non-repeatable property twice."""
    length, pos = decode_varint(buf, pos)
    end = pos + length
    if end > len(buf):
        raise AssertionError("property length beyond the packet")
    items = []
    while pos < end:
        k, pos = decode_varint(buf, pos)
        if k in _PROP_BYTE:
            v = buf[pos]
            pos += 1
        elif k in _PROP_TWO:
            v = struct.unpack("!H", buf[pos:pos + 2])[0]
            pos += 2
        elif k in _PROP_FOUR:
            v = struct.unpack("!I", buf[pos:pos + 4])[0]
            pos += 4
        elif k in _PROP_STRING or k in _PROP_BINARY:
            n = struct.unpack("!H", buf[pos:pos + 2])[0]
            raw = bytes(buf[pos + 2:pos + 2 + n])
            if len(raw) != n:
                raise AssertionError("truncated property %#x" % k)
            v = raw.decode("utf-8") if k in _PROP_STRING else raw
            pos += 2 + n
        elif k in _PROP_VARINT:
            v, pos = decode_varint(buf, pos)
        elif k in _PROP_PAIR:
            n = struct.unpack("!H", buf[pos:pos + 2])[0]
            name = bytes(buf[pos + 2:pos + 2 + n]).decode("utf-8")
            pos += 2 + n
            n = struct.unpack("!H", buf[pos:pos + 2])[0]
            value = bytes(buf[pos + 2:pos + 2 + n]).decode("utf-8")
            pos += 2 + n
            v = (name, value)
        else:
            raise AssertionError("broker sent unknown property id %#x" % k)
        if k not in _PROP_REPEATABLE and any(x == k for x, _ in items):
            raise AssertionError("broker sent property %#x twice (2.2.2.2)" % k)
        items.append((k, v))
    if pos != end:
        raise AssertionError("property length does not match its properties")
    return Props(items), pos


# -- v5 builders ---------------------------------------------------------------

def build_connect5(client_id, clean_start=True, keepalive=60, props=None, will=None,
                   username=None, password=None, proto=PROTO_5, flags_override=None):
    """CONNECT (3.1). will is a dict: topic, payload, qos, retain, props."""
    name, level = proto
    flags = 0x02 if clean_start else 0
    if will is not None:
        flags |= 0x04 | ((will.get("qos", 0) & 3) << 3) | (0x20 if will.get("retain") else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    if flags_override is not None:
        flags = flags_override
    body = encode_string(name) + bytes([level, flags]) + struct.pack("!H", keepalive)
    body += encode_props(props) + encode_string(client_id)
    if will is not None:
        body += encode_props(will.get("props")) + encode_string(will["topic"])
        body += encode_binary(will.get("payload", b""))
    if username is not None:
        body += encode_string(username)
    if password is not None:
        body += encode_binary(password)
    return fixed(CONNECT, 0, body)


def build_publish5(topic, payload=b"", qos=0, retain=False, dup=False, pid=None, props=None):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    flags = ((qos & 3) << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = encode_string(topic) if not isinstance(topic, bytes) else encode_binary(topic)
    if qos > 0:
        body += struct.pack("!H", pid)
    return fixed(PUBLISH, flags, body + encode_props(props) + payload)


def _build_ack5(ptype, flags, pid, reason, props):
    body = struct.pack("!H", pid)
    # 3.4.2.1: reason code and properties may be omitted when 0x00 and none.
    if reason is not None or props is not None:
        body += bytes([reason or 0])
        if props is not None:
            body += encode_props(props)
    return fixed(ptype, flags, body)


def build_puback5(pid, reason=None, props=None):
    return _build_ack5(PUBACK, 0, pid, reason, props)


def build_pubrec5(pid, reason=None, props=None):
    return _build_ack5(PUBREC, 0, pid, reason, props)


def build_pubrel5(pid, reason=None, props=None):
    return _build_ack5(PUBREL, 0x02, pid, reason, props)  # MQTT-3.6.1-1


def build_pubcomp5(pid, reason=None, props=None):
    return _build_ack5(PUBCOMP, 0, pid, reason, props)


def build_subscribe5(pid, filters, props=None, flags=0x02):
    """filters: list of (filter, options byte), see sub_options()."""
    body = struct.pack("!H", pid) + encode_props(props)
    for f, opts in filters:
        body += (encode_string(f) if not isinstance(f, bytes) else encode_binary(f)) + bytes([opts])
    return fixed(SUBSCRIBE, flags, body)


def build_unsubscribe5(pid, filters, props=None, flags=0x02):
    body = struct.pack("!H", pid) + encode_props(props)
    for f in filters:
        body += encode_string(f)
    return fixed(UNSUBSCRIBE, flags, body)


def build_disconnect5(reason=0, props=None):
    if reason == 0 and props is None:
        return fixed(DISCONNECT, 0, b"")  # 3.14.2.1: remaining length 0 means 0x00
    return fixed(DISCONNECT, 0, bytes([reason]) + (encode_props(props) if props is not None else b""))


def build_auth5(reason=RC_CONTINUE_AUTHENTICATION, props=None):
    if reason == 0 and props is None:
        return fixed(AUTH, 0, b"")
    return fixed(AUTH, 0, bytes([reason]) + (encode_props(props) if props is not None else b""))


# -- v5 parsers ------------------------------------------------------------------

class Publish5:
    """A v5 PUBLISH. topic is the resolved topic name (MqttClientV5 fills it
    in from its alias map); wire_topic is what was on the wire."""
    __slots__ = ("topic", "wire_topic", "payload", "qos", "retain", "dup", "pid", "props")

    def __init__(self, pkt):
        f = pkt.flags
        self.dup = bool(f & 0x08)
        self.qos = (f >> 1) & 3
        self.retain = bool(f & 0x01)
        assert self.qos != 3, "MQTT-3.3.1-4: broker sent QoS 3"
        tlen = struct.unpack("!H", pkt.body[:2])[0]
        self.wire_topic = pkt.body[2:2 + tlen].decode("utf-8")
        self.topic = self.wire_topic
        pos = 2 + tlen
        self.pid = None
        if self.qos > 0:
            self.pid = struct.unpack("!H", pkt.body[pos:pos + 2])[0]
            pos += 2
        self.props, pos = decode_props(pkt.body, pos)
        self.payload = bytes(pkt.body[pos:])

    @property
    def alias(self):
        return self.props.get(P_TOPIC_ALIAS)

    @property
    def sub_ids(self):
        return self.props.all(P_SUBSCRIPTION_ID)

    def __repr__(self):
        return "<PUBLISH5 %r qos=%d retain=%d dup=%d pid=%s props=%r payload=%r>" % (
            self.topic, self.qos, self.retain, self.dup, self.pid, self.props, self.payload[:40])


class Connack5:
    __slots__ = ("session_present", "reason", "props")

    def __init__(self, pkt):
        assert pkt.type == CONNACK, pkt
        assert pkt.flags == 0, "CONNACK fixed header flags must be 0"
        assert pkt.body[0] & 0xFE == 0, "MQTT-3.2.2-1: CONNACK flags bits 7-1 reserved"
        self.session_present = bool(pkt.body[0] & 1)
        self.reason = pkt.body[1]
        self.props, end = decode_props(pkt.body, 2)
        assert end == len(pkt.body), "CONNACK longer than its properties"

    def __repr__(self):
        return "<CONNACK5 sp=%d rc=%#x %r>" % (self.session_present, self.reason, self.props)


class Ack5:
    """PUBACK, PUBREC, PUBREL, PUBCOMP (one reason code), SUBACK, UNSUBACK
    (a list of reason codes in .codes)."""
    __slots__ = ("type", "pid", "reason", "codes", "props")

    def __init__(self, pkt):
        self.type = pkt.type
        self.pid = struct.unpack("!H", pkt.body[:2])[0]
        self.codes = None
        if pkt.type in (SUBACK, UNSUBACK):
            self.props, pos = decode_props(pkt.body, 2)
            self.codes = list(pkt.body[pos:])
            self.reason = None
            return
        self.reason = pkt.body[2] if len(pkt.body) > 2 else RC_SUCCESS
        if len(pkt.body) > 3:
            self.props, end = decode_props(pkt.body, 3)
            assert end == len(pkt.body), "ack longer than its properties"
        else:
            self.props = Props()

    def __repr__(self):
        return "<%s5 pid=%d rc=%s codes=%s %r>" % (PACKET_NAMES.get(self.type), self.pid,
                                                   self.reason, self.codes, self.props)


class Disconnect5:
    """DISCONNECT or AUTH: an optional reason code and optional properties."""
    __slots__ = ("type", "reason", "props")

    def __init__(self, pkt):
        self.type = pkt.type
        self.reason = pkt.body[0] if pkt.body else RC_SUCCESS
        if len(pkt.body) > 1:
            self.props, end = decode_props(pkt.body, 1)
            assert end == len(pkt.body), "DISCONNECT/AUTH longer than its properties"
        else:
            self.props = Props()

    def __repr__(self):
        return "<%s5 rc=%#x %r>" % (PACKET_NAMES.get(self.type), self.reason, self.props)


class MqttClientV5(MqttClient):
    """A raw MQTT 5 client. It resolves the Topic Aliases the broker sends
    (a PUBLISH's .topic is the full name, .wire_topic what was sent) and
    checks that alias use is legal (MQTT-3.1.2-26/27, 3.3.2.3.4)."""

    publish_class = Publish5

    def __init__(self, port, timeout=DEFAULT_TIMEOUT, rcvbuf=None):
        super().__init__(port, timeout, rcvbuf)
        self.connack = None
        self.alias_max = 0          # what we told the broker in CONNECT
        self.rx_aliases = {}        # alias -> topic, broker to us

    def _resolve(self, p):
        alias = p.alias
        if alias is None:
            assert p.wire_topic, "3.3.2.3.4: empty topic name without a Topic Alias"
            return p
        assert alias != 0, "MQTT-3.3.2-8: broker sent Topic Alias 0"
        assert self.alias_max and alias <= self.alias_max, \
            "MQTT-3.1.2-26/27: broker sent Topic Alias %d (our maximum %d)" % (alias, self.alias_max)
        if p.wire_topic:
            self.rx_aliases[alias] = p.wire_topic
        else:
            assert alias in self.rx_aliases, "broker used unknown Topic Alias %d" % alias
            p.topic = self.rx_aliases[alias]
        return p

    def expect_publish(self, timeout=None, ack=True):
        p = self._resolve(Publish5(self.expect(PUBLISH, timeout)))
        if ack:
            self.ack(p)
        return p

    def connect(self, client_id, clean_start=True, keepalive=60, props=None, will=None,
                username=None, password=None, expect_rc=0):
        """Sends CONNECT (level 5); returns the Connack5 (also in .connack)."""
        items = prop_items(props)
        self.alias_max = Props(items).get(P_TOPIC_ALIAS_MAXIMUM, 0)
        self.send(build_connect5(client_id, clean_start, keepalive, items, will, username, password))
        ca = Connack5(self.expect(CONNACK))
        if expect_rc is not None:
            assert ca.reason == expect_rc, "CONNACK reason %#x, expected %#x (%r)" % (
                ca.reason, expect_rc, ca)
        self.connack = ca
        return ca

    def subscribe_ack(self, filters, props=None, pid=None):
        """filters: a filter string (QoS 0) or a list of (filter, options).
        Returns the SUBACK as an Ack5."""
        if isinstance(filters, str):
            filters = [(filters, 0)]
        pid = pid or self.alloc_pid()
        self.send(build_subscribe5(pid, filters, props))
        return Ack5(self.expect(SUBACK, pid=pid))

    def subscribe(self, filters, props=None, pid=None):
        return self.subscribe_ack(filters, props, pid).codes

    def unsubscribe_ack(self, filters, props=None, pid=None):
        if isinstance(filters, str):
            filters = [filters]
        pid = pid or self.alloc_pid()
        self.send(build_unsubscribe5(pid, filters, props))
        return Ack5(self.expect(UNSUBACK, pid=pid))

    def unsubscribe(self, filters, props=None, pid=None):
        return self.unsubscribe_ack(filters, props, pid).codes

    def publish(self, topic, payload=b"", qos=0, retain=False, pid=None, props=None):
        """Publishes and completes the sender side of the QoS flow. Returns
        the PUBACK or PUBREC as an Ack5 (None for QoS 0)."""
        if qos and pid is None:
            pid = self.alloc_pid()
        self.send(build_publish5(topic, payload, qos, retain, pid=pid, props=props))
        if qos == 1:
            return Ack5(self.expect(PUBACK, pid=pid))
        if qos == 2:
            rec = Ack5(self.expect(PUBREC, pid=pid))
            if rec.reason < 0x80:
                self.send(build_pubrel5(pid))
                comp = Ack5(self.expect(PUBCOMP, pid=pid))
                assert comp.reason == RC_SUCCESS, "PUBCOMP %r" % comp
            return rec
        return None

    def disconnect(self, reason=0, props=None):
        self.try_send(build_disconnect5(reason, props))
        self.close()

    def expect_disconnect(self, reasons, timeout=3.0, require=None, allow=()):
        """The broker must close the connection within timeout (MQTT-4.13.1-1).
        A DISCONNECT it sends first must carry one of reasons (an int or a
        tuple); with require (default REQUIRE_SERVER_DISCONNECT) the
        DISCONNECT must be sent. Any other packet fails unless its type is
        in allow. Returns the Disconnect5 or None."""
        if isinstance(reasons, int):
            reasons = (reasons,)
        if require is None:
            require = REQUIRE_SERVER_DISCONNECT
        deadline = time.monotonic() + timeout
        got = None
        while True:
            if self.backlog:
                pkt = self.backlog.pop(0)
            else:
                try:
                    pkt = self.read_packet(max(0.001, deadline - time.monotonic()))
                except ConnectionClosed:
                    break
                except socket.timeout:
                    raise AssertionError("broker did not close the connection within %.1fs "
                                         "(DISCONNECT: %r)" % (timeout, got)) from None
                except OSError:
                    self.closed = True
                    break
            if pkt.type == DISCONNECT and got is None:
                got = Disconnect5(pkt)
                assert got.reason in reasons, "DISCONNECT reason %#x, expected %s" % (
                    got.reason, "/".join("%#x" % r for r in reasons))
                # MQTT-3.14.2-2: the Server must not send Session Expiry.
                assert P_SESSION_EXPIRY not in got.props, \
                    "server DISCONNECT carries a Session Expiry Interval"
                continue
            if pkt.type in allow and got is None:
                continue
            raise AssertionError("expected DISCONNECT and close, got %r" % pkt)
        if require and got is None:
            raise AssertionError("broker closed without a DISCONNECT (expected reason %s)" %
                                 "/".join("%#x" % r for r in reasons))
        return got


def decode_any5(pkt):
    """Parses any v5 packet from the broker into its class (or the Packet)."""
    if pkt.type == PUBLISH:
        return Publish5(pkt)
    if pkt.type == CONNACK:
        return Connack5(pkt)
    if pkt.type in (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK):
        return Ack5(pkt)
    if pkt.type in (DISCONNECT, AUTH):
        return Disconnect5(pkt)
    return pkt


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


class BrokerTestCaseV5(BrokerTestCase):
    """BrokerTestCase with MQTT 5 clients."""

    def client5(self, broker=None, **kw):
        c = MqttClientV5((broker or self.broker).port, **kw)
        self.addCleanup(c.close)
        return c

    def connected5(self, client_id=None, clean_start=True, keepalive=60, props=None,
                   will=None, broker=None, expect_rc=0, **kw):
        """A v5 client with a completed CONNECT/CONNACK (c.connack)."""
        c = self.client5(broker, **kw)
        c.connect(client_id if client_id is not None else unique("v"), clean_start, keepalive,
                  props, will, expect_rc=expect_rc)
        return c

    def subscriber5(self, filters, client_id=None, clean_start=True, props=None,
                    connect_props=None, broker=None):
        """filters: a string or a list of (filter, options byte)."""
        c = self.connected5(client_id, clean_start, props=connect_props, broker=broker)
        codes = c.subscribe(filters, props)
        flist = [(filters, 0)] if isinstance(filters, str) else filters
        self.assertEqual(codes, [o & 3 for _, o in flist], "SUBACK reason codes")
        return c


def main():
    """unittest main with the usual summary and a non-zero exit on failure."""
    broker_binary()
    unittest.main(verbosity=2)

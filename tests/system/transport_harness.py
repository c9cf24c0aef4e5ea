"""Raw MQTT clients over TLS and WebSockets, for the transport tests.

Owns: TlsClient (MqttClient over Python's ssl module) and WsClient (MqttClient
inside RFC 6455 frames, written from the RFC: masked client frames, the
upgrade request and the Sec-WebSocket-Accept check), optionally over TLS.
Never: talks to anything but 127.0.0.1; depends on anything outside the
Python standard library.
"""

import base64
import hashlib
import os
import socket
import ssl
import struct
import time

from mqtt_harness import ConnectionClosed, MqttClient

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def client_context(pki, cert=None, minimum=None, maximum=None):
    """A client SSLContext trusting pki's CA; cert: "client", "revoked", ..."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.path("ca.crt"))
    if cert:
        ctx.load_cert_chain(pki.path(cert + ".crt"), pki.path(cert + ".key"))
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    return ctx


class TlsClient(MqttClient):
    def __init__(self, port, ctx, timeout=5.0, rcvbuf=None):
        super().__init__(port, timeout, rcvbuf=rcvbuf)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")


def ws_frame(op, payload, fin=True, masked=True, mask=None, rsv=0):
    head = bytes([(0x80 if fin else 0) | rsv | op])
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    mask = mask or os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def upgrade_request(path="/mqtt", protocol="mqtt", key=None, version="13", extra=""):
    key = key or base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: " + key,
             "Sec-WebSocket-Version: " + version]
    if protocol:
        lines.append("Sec-WebSocket-Protocol: " + protocol)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode(), key


def expected_accept(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


class WsClient(MqttClient):
    """MQTT over WebSockets. send() wraps each call in one binary frame;
    received binary frames feed the MQTT parser; control frames are recorded:
    pongs in .pongs, the close code in .close_code."""

    def __init__(self, port, path="/mqtt", protocol="mqtt", ctx=None, timeout=5.0,
                 upgrade=True, rcvbuf=None):
        super().__init__(port, timeout, rcvbuf=rcvbuf)
        if ctx:
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.raw = bytearray()
        self.pongs = []
        self.close_code = None
        self.got_close = False
        self.frames = []
        self.status = None
        self.headers = {}
        if upgrade:
            status, headers = self.upgrade(path, protocol)
            if status != 101:
                raise AssertionError("upgrade refused: %d" % status)

    def upgrade(self, path="/mqtt", protocol="mqtt", request=None):
        """Sends an upgrade request; returns (status, headers with lower-case
        names). Checks Sec-WebSocket-Accept on a 101."""
        key = None
        if request is None:
            request, key = upgrade_request(path, protocol)
        self.sock.sendall(request)
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.raw:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed("closed during the upgrade")
            self.raw += chunk
        end = self.raw.index(b"\r\n\r\n")
        head = bytes(self.raw[:end]).decode("latin-1").split("\r\n")
        del self.raw[:end + 4]
        self.status = int(head[0].split()[1])
        self.headers = {}
        for line in head[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        if self.status == 101 and key is not None:
            assert self.headers.get("sec-websocket-accept") == expected_accept(key), self.headers
        return self.status, self.headers

    def send(self, data):
        self.sock.sendall(ws_frame(OP_BINARY, data))

    def send_raw(self, data):
        self.sock.sendall(data)

    def _parse_frame(self):
        r = self.raw
        if len(r) < 2:
            return None
        fin, op = r[0] & 0x80, r[0] & 0x0F
        assert not r[1] & 0x80, "server frames must not be masked (RFC 6455 5.1)"
        n, pos = r[1] & 0x7F, 2
        if n == 126:
            if len(r) < 4:
                return None
            n, pos = struct.unpack(">H", r[2:4])[0], 4
        elif n == 127:
            if len(r) < 10:
                return None
            n, pos = struct.unpack(">Q", r[2:10])[0], 10
        if len(r) < pos + n:
            return None
        payload = bytes(r[pos:pos + n])
        del r[:pos + n]
        return bool(fin), op, payload

    def _fill(self, deadline):
        while True:
            got = False
            while True:
                f = self._parse_frame()
                if f is None:
                    break
                fin, op, payload = f
                self.frames.append(f)
                if op in (OP_BINARY, OP_CONT):
                    self.buf += payload
                    got = True
                elif op == OP_PONG:
                    self.pongs.append(payload)
                elif op == OP_CLOSE:
                    self.got_close = True
                    self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                else:
                    raise AssertionError("unexpected frame opcode %d" % op)
            if got:
                return
            if self.got_close:
                self.closed = True
                raise ConnectionClosed("WebSocket close %s" % self.close_code)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("timed out")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                self.closed = True
                raise ConnectionClosed("broker closed the connection")
            self.raw += chunk

    def wait_close_frame(self, timeout=3.0):
        """Reads until the broker's close frame; returns its code."""
        deadline = time.monotonic() + timeout
        while not self.got_close:
            try:
                self._fill(deadline)
            except ConnectionClosed:
                break
        return self.close_code

    def eof_after(self, timeout=3.0):
        """True when the TCP connection ends within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                return True
            if not chunk:
                return True
        return False

#!/usr/bin/env python3
"""musqratt soak: many connections, sustained mixed-QoS traffic, a latency
probe, memory over time, and an exact account of every QoS 1/2 message.

Runs against any broker on 127.0.0.1 (--port, --pid for its RSS) or starts
the one named by --broker (a musqratt binary, or /usr/sbin/mosquitto).
One process, one thread, non-blocking sockets and a selector; its own small
MQTT 3.1.1 client (no library), so it runs anywhere Python 3 runs.

Phases:
  1. baseline RSS of the broker;
  2. --idle connections, each with one subscription of its own (batches of
     --batch connects in flight), RSS after;
  3. --duration seconds of traffic: --pairs publisher/subscriber pairs, the
     publishers cycling QoS 0/1/2 at --rate messages/s in all, and one
     message per second to a random idle connection; a probe client
     publishes to itself every 10 ms (QoS 0) and records the round trip;
     RSS sampled every second;
  4. every client leaves; RSS after --settle seconds.
Invariants (exit status 1 when broken): every QoS 1/2 message the broker
acknowledged reaches its subscriber (QoS 1 at least once, QoS 2 exactly
once), per-publisher order kept, every idle connection that was sent a
message got it, no connection closed by the broker.
Output: a summary, and with --json FILE the figures for docs/ROBUSTNESS.md.
"""

import argparse
import json
import os
import random
import resource
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"


def rl(n):
    out = bytearray()
    while True:
        d = n % 128
        n //= 128
        out.append(d | 128 if n else d)
        if not n:
            return bytes(out)


def s16(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def pkt(first, body):
    return bytes([first]) + rl(len(body)) + body


def connect_pkt(cid, keepalive=600):
    return pkt(0x10, s16("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive) + s16(cid))


def subscribe_pkt(pid, topic, qos):
    return pkt(0x82, struct.pack("!H", pid) + s16(topic) + bytes([qos]))


def publish_pkt(topic, payload, qos, pid=0):
    body = s16(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return pkt(0x30 | (qos << 1), body)


def ack_pkt(first, pid):
    return bytes([first, 2]) + struct.pack("!H", pid)


class Conn:
    __slots__ = ("sock", "rbuf", "wbuf", "name", "state", "on_packet", "closed_by_peer")

    def __init__(self, port, name, on_packet):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        try:
            self.sock.connect((HOST, port))
        except BlockingIOError:
            pass
        self.rbuf = bytearray()
        self.wbuf = bytearray()
        self.name = name
        self.state = "connecting"
        self.on_packet = on_packet
        self.closed_by_peer = False


class Soak:
    def __init__(self, args, port, pid):
        self.a = args
        self.port = port
        self.pid = pid
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.rng = random.Random(args.seed)
        self.closed_unexpectedly = 0
        # Accounting.
        self.sent = {0: 0, 1: 0, 2: 0}
        self.acked = {1: 0, 2: 0}
        self.got = {0: 0, 1: 0, 2: 0}
        self.dups = {1: 0, 2: 0}
        self.reorders = 0
        self.idle_sent = 0
        self.idle_got = 0
        self.probe_rtts = []
        self.rss = []

    # -- I/O -----------------------------------------------------------------
    def add(self, name, on_packet):
        c = Conn(self.port, name, on_packet)
        self.sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        self.conns.append(c)
        return c

    def send(self, c, data):
        if not c.wbuf:
            try:
                n = c.sock.send(data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self.lost(c)
                return
            data = data[n:]
            if data:
                c.wbuf += data
                self.sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        else:
            c.wbuf += data

    def lost(self, c):
        if c.state != "closed":
            if c.state != "leaving":
                self.closed_unexpectedly += 1
            c.state = "closed"
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()

    def poll(self, timeout):
        for key, ev in self.sel.select(timeout):
            c = key.data
            if ev & selectors.EVENT_WRITE:
                if c.wbuf:
                    try:
                        n = c.sock.send(c.wbuf)
                        del c.wbuf[:n]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self.lost(c)
                        continue
                if not c.wbuf:
                    self.sel.modify(c.sock, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.lost(c)
                    continue
                c.rbuf += data
                self.parse(c)

    def parse(self, c):
        buf = c.rbuf
        pos = 0
        while True:
            if len(buf) - pos < 2:
                break
            mult, n, i = 1, 0, pos + 1
            while True:
                if i >= len(buf):
                    n = -1
                    break
                d = buf[i]
                n += (d & 127) * mult
                mult *= 128
                i += 1
                if not d & 128:
                    break
            if n < 0 or len(buf) - i < n:
                break
            c.on_packet(c, buf[pos], bytes(buf[i:i + n]))
            pos = i + n
        if pos:
            del buf[:pos]

    # -- broker facts ----------------------------------------------------------
    def rss_kib(self):
        if not self.pid:
            return None
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    # -- phases --------------------------------------------------------------
    def wait_until(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise SystemExit("soak: timed out waiting for %s" % what)
            self.poll(0.05)

    def open_idle(self):
        a = self.a
        ready = [0]
        self.idle_expect = {}

        def on_idle(c, first, body):
            t = first >> 4
            if t == 2:  # CONNACK
                if body[1] != 0:
                    raise SystemExit("soak: %s refused with rc %d" % (c.name, body[1]))
                self.send(c, subscribe_pkt(1, "soak/idle/" + c.name, 1))
            elif t == 9:  # SUBACK
                c.state = "ready"
                ready[0] += 1
            elif t == 3:  # PUBLISH to an idle client
                qos = (first >> 1) & 3
                tl = struct.unpack("!H", body[:2])[0]
                if qos:
                    pid = struct.unpack("!H", body[2 + tl:4 + tl])[0]
                    self.send(c, ack_pkt(0x40, pid))
                self.idle_got += 1

        self.idle = []
        started = 0
        while started < a.idle:
            while started < a.idle and started - ready[0] < a.batch:
                c = self.add("i%d-%d" % (a.seed, started), on_idle)
                self.send(c, connect_pkt(c.name))
                self.idle.append(c)
                started += 1
            self.poll(0.01)
        self.wait_until(lambda: ready[0] == a.idle, 120, "idle connections")

    def open_traffic(self):
        a = self.a
        self.pubs, self.subs = [], []
        ready = [0]
        # Per pair: sequence sent per qos, last seen per qos, seen set for qos 2.
        self.pstate = []

        def on_sub(c, first, body):
            t = first >> 4
            if t == 2:
                self.send(c, subscribe_pkt(1, "soak/t/" + c.name[1:], 2))
            elif t == 9:
                ready[0] += 1
            elif t == 3:
                qos = (first >> 1) & 3
                tl = struct.unpack("!H", body[:2])[0]
                off = 2 + tl
                pid = 0
                if qos:
                    pid = struct.unpack("!H", body[off:off + 2])[0]
                    off += 2
                k, mq, seq = struct.unpack("!IBQ", body[off:off + 13])
                st = self.pstate[k]
                if mq == 2:
                    if seq in st["seen2"]:
                        self.dups[2] += 1
                    st["seen2"].add(seq)
                elif mq == 1:
                    if seq in st["seen1"]:
                        self.dups[1] += 1
                    st["seen1"].add(seq)
                if seq < st["last"][mq] and not (first & 0x08):
                    self.reorders += 1
                st["last"][mq] = max(st["last"][mq], seq)
                self.got[mq] += 1
                if qos == 1:
                    self.send(c, ack_pkt(0x40, pid))
                elif qos == 2:
                    self.send(c, ack_pkt(0x50, pid))
            elif t == 6:  # PUBREL
                self.send(c, ack_pkt(0x70, struct.unpack("!H", body[:2])[0]))

        def on_pub(c, first, body):
            t = first >> 4
            if t == 2:
                ready[0] += 1
            elif t == 4:  # PUBACK
                pid = struct.unpack("!H", body[:2])[0]
                k = int(c.name[1:])
                st = self.pstate[k]
                seq = st["inflight"].pop(pid)
                st["acked1"].add(seq)
                self.acked[1] += 1
            elif t == 5:  # PUBREC
                self.send(c, ack_pkt(0x62, struct.unpack("!H", body[:2])[0]))
            elif t == 7:  # PUBCOMP
                pid = struct.unpack("!H", body[:2])[0]
                k = int(c.name[1:])
                st = self.pstate[k]
                seq = st["inflight"].pop(pid)
                st["acked2"].add(seq)
                self.acked[2] += 1

        for k in range(a.pairs):
            self.pstate.append({"seq": 0, "pid": 0, "inflight": {}, "acked1": set(),
                                "acked2": set(), "seen1": set(), "seen2": set(),
                                "last": {0: -1, 1: -1, 2: -1}})
            s = self.add("s%d" % k, on_sub)
            self.send(s, connect_pkt("soak-s%d-%d" % (k, a.seed)))
            self.subs.append(s)
        self.wait_until(lambda: ready[0] == a.pairs, 30, "subscribers")
        ready[0] = 0
        for k in range(a.pairs):
            p = self.add("p%d" % k, on_pub)
            self.send(p, connect_pkt("soak-p%d-%d" % (k, a.seed)))
            self.pubs.append(p)
        self.wait_until(lambda: ready[0] == a.pairs, 30, "publishers")

        # The probe: QoS 0 to itself, one in flight, every 10 ms.
        self.probe_sent_at = None

        def on_probe(c, first, body):
            t = first >> 4
            if t == 2:
                self.send(c, subscribe_pkt(1, "soak/probe", 0))
            elif t == 9:
                c.state = "ready"
            elif t == 3 and self.probe_sent_at is not None:
                self.probe_rtts.append(time.monotonic() - self.probe_sent_at)
                self.probe_sent_at = None

        self.probe = self.add("probe", on_probe)
        self.send(self.probe, connect_pkt("soak-probe-%d" % a.seed))
        self.wait_until(lambda: self.probe.state == "ready", 10, "probe")

    def publish(self, k):
        p = self.pubs[k]
        st = self.pstate[k]
        qos = st["seq"] % 3
        if qos and len(st["inflight"]) >= 100:
            qos = 0  # keep the window bounded
        seq = st["seq"]
        st["seq"] += 1
        payload = struct.pack("!IBQ", k, qos, seq) + b"x" * 48
        pid = 0
        if qos:
            st["pid"] = st["pid"] % 65535 + 1
            while st["pid"] in st["inflight"]:
                st["pid"] = st["pid"] % 65535 + 1
            pid = st["pid"]
            st["inflight"][pid] = seq
        self.send(p, publish_pkt("soak/t/%d" % k, payload, qos, pid))
        self.sent[qos] += 1

    def run_traffic(self):
        a = self.a
        start = time.monotonic()
        next_rss = start
        next_probe = start
        next_idle = start
        sent = 0
        k = 0
        while True:
            now = time.monotonic()
            el = now - start
            if el >= a.duration:
                break
            due = int(el * a.rate)
            burst = 0
            while sent < due and burst < 200:
                self.publish(k)
                k = (k + 1) % a.pairs
                sent += 1
                burst += 1
            if now >= next_probe and self.probe_sent_at is None:
                self.probe_sent_at = time.monotonic()
                self.send(self.probe, publish_pkt("soak/probe", b"p", 0))
                next_probe = now + 0.01
            if now >= next_idle and self.idle:
                c = self.rng.choice(self.idle)
                self.send(self.pubs[0], publish_pkt("soak/idle/" + c.name, b"wake", 0))
                self.idle_sent += 1
                next_idle = now + 1.0
            if now >= next_rss:
                self.rss.append((round(el, 1), self.rss_kib()))
                next_rss = now + 1.0
            self.poll(0.001)
        # Drain: every QoS 1/2 flow must complete.
        self.wait_until(lambda: all(not st["inflight"] for st in self.pstate), 30,
                        "QoS 1/2 flows to complete")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            self.poll(0.05)

    def leave(self):
        for c in self.conns:
            if c.state != "closed":
                c.state = "leaving"
                try:
                    c.sock.send(b"\xe0\x00")  # DISCONNECT
                except OSError:
                    pass
                self.lost(c)


def percentile(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100.0))]


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--broker", help="start this broker binary on a free port")
    ap.add_argument("--port", type=int, help="use a running broker on this port")
    ap.add_argument("--pid", type=int, help="its pid, for RSS")
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--rate", type=float, default=5000, help="messages/s in all")
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--settle", type=float, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--rss-slack", type=int, metavar="KIB",
                    help="also fail unless RSS after all clients left is within KIB of "
                         "the baseline")
    a = ap.parse_args()

    need = a.idle + 2 * a.pairs + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))

    proc = None
    tmp = None
    port, pid = a.port, a.pid
    if a.broker:
        tmp = tempfile.TemporaryDirectory(prefix="mq-soak-")
        port = free_port()
        conf = os.path.join(tmp.name, "soak.conf")
        with open(conf, "w") as f:
            f.write("listener %d %s\nallow_anonymous true\nmax_connections -1\n"
                    "max_queued_messages 10000\n" % (port, HOST))
        proc = subprocess.Popen([a.broker, "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(tmp.name, "broker.log"), "wb"))
        pid = proc.pid
        for _ in range(100):
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
    if not port:
        ap.error("give --broker or --port")

    s = Soak(a, port, pid)
    try:
        time.sleep(0.3)
        rss_base = s.rss_kib()
        t0 = time.monotonic()
        s.open_idle()
        t_idle = time.monotonic() - t0
        rss_idle = s.rss_kib()
        s.open_traffic()
        s.run_traffic()
        rss_peak = max([r for _, r in s.rss if r] or [0])
        s.leave()
        time.sleep(a.settle)
        rss_after = s.rss_kib()
        alive = proc is None or proc.poll() is None
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp:
            tmp.cleanup()

    lost1 = sum(len(st["acked1"] - st["seen1"]) for st in s.pstate)
    lost2 = sum(len(st["acked2"] - st["seen2"]) for st in s.pstate)
    res = {
        "idle_connections": a.idle, "pairs": a.pairs, "rate": a.rate, "duration_s": a.duration,
        "connect_seconds": round(t_idle, 2),
        "rss_kib": {"baseline": rss_base, "with_idle": rss_idle, "peak": rss_peak,
                    "after": rss_after},
        "rss_over_time": s.rss,
        "sent": s.sent, "acked": s.acked, "received": s.got,
        "lost": {"qos1": lost1, "qos2": lost2}, "duplicates": s.dups,
        "reordered": s.reorders, "idle_sent": s.idle_sent, "idle_received": s.idle_got,
        "probe": {"count": len(s.probe_rtts),
                  "p50_us": round(1e6 * (percentile(s.probe_rtts, 50) or 0), 1),
                  "p99_us": round(1e6 * (percentile(s.probe_rtts, 99) or 0), 1),
                  "max_us": round(1e6 * max(s.probe_rtts or [0]), 1)},
        "closed_by_broker": s.closed_unexpectedly, "broker_alive": alive,
    }
    ok = (lost1 == 0 and lost2 == 0 and s.dups[2] == 0 and s.reorders == 0 and alive
          and s.closed_unexpectedly == 0 and s.idle_got == s.idle_sent)
    if a.rss_slack is not None and None not in (rss_after, rss_base):
        ok = ok and rss_after <= rss_base + a.rss_slack
    res["valid"] = ok
    kib = lambda v: "-" if v is None else "%.1f MiB" % (v / 1024.0)  # noqa: E731
    print("soak: %d idle connections (%.1f s to open), %d pairs, %.0f msg/s for %.0f s"
          % (a.idle, t_idle, a.pairs, a.rate, a.duration))
    print("soak: RSS baseline %s, with idle connections %s, peak %s, after all left %s"
          % (kib(rss_base), kib(rss_idle), kib(rss_peak), kib(rss_after)))
    print("soak: sent QoS0/1/2 %d/%d/%d, acknowledged QoS1/2 %d/%d, received %d/%d/%d"
          % (s.sent[0], s.sent[1], s.sent[2], s.acked[1], s.acked[2], s.got[0], s.got[1],
             s.got[2]))
    print("soak: lost QoS1 %d QoS2 %d, duplicate QoS2 %d, reordered %d, idle wake-ups %d/%d, "
          "closed by broker %d" % (lost1, lost2, s.dups[2], s.reorders, s.idle_got,
                                   s.idle_sent, s.closed_unexpectedly))
    print("soak: probe round trip p50 %.0f us, p99 %.0f us, max %.0f us (%d samples)"
          % (res["probe"]["p50_us"], res["probe"]["p99_us"], res["probe"]["max_us"],
             res["probe"]["count"]))
    print("soak: %s" % ("VALID" if ok else "INVALID"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

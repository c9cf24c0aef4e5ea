"""Operations (issue 6): command line, configuration files, signals, systemd.

-d with pid_file, log_dest file and log_timestamp, SIGHUP reload (listeners
added and removed while clients stay connected, log_type changed, a bad
configuration keeping the old one), SIGUSR1/SIGUSR2, unix socket listeners
(raw MQTT over AF_UNIX and mosquitto_pub/sub --unix), per-listener
max_connections, socket_domain, bind_interface, include_dir order, the
NOTIFY_SOCKET protocol, privilege dropping (user) when run as root, and
Debian's mosquitto.conf files accepted by --test-config.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import (CONNACK, HOST, MqttClient, broker_binary, build_connect,  # noqa: E402
                          free_port, main, unique)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBIAN_CONF = "/etc/mosquitto/mosquitto.conf"
EXAMPLE_CONF = "/usr/share/doc/mosquitto/examples/mosquitto.conf"


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def port_open(port):
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


class UnixClient(MqttClient):
    """The harness's raw client over a unix domain socket."""

    def __init__(self, path, timeout=5.0):  # noqa: super().__init__ would dial TCP
        self.port = None
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = bytearray()
        self.backlog = []
        self.closed = False
        self.next_pid = 1


class Ops(unittest.TestCase):
    """Each test writes its own configuration into a temporary directory and
    starts the broker itself (so it can send signals and rewrite files)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mqops-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.conf = os.path.join(self.tmp, "musqratt.conf")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.proc = None
        self.daemon_pid = None
        self.addCleanup(self._stop)

    # -- helpers -----------------------------------------------------------
    def write_conf(self, lines, path=None):
        lines = list(lines)
        # Mosquitto 2.0's rule: with a listener in the file, anonymous
        # clients are refused unless allowed; these tests connect anonymously.
        if path is None and not any(l.startswith("allow_anonymous") for l in lines):
            lines.append("allow_anonymous true")
        with open(path or self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, args=(), env=None, wait_port=None, wait_unix=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([broker_binary(), "-c", self.conf] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                                     cwd=self.tmp, env=full_env)
        err.close()
        if wait_port is not None:
            wait_for(lambda: port_open(wait_port) or self._died(), what="port %d" % wait_port)
        if wait_unix is not None:
            wait_for(lambda: os.path.exists(wait_unix) or self._died(), what=wait_unix)
        self.assertIsNone(self.proc.poll(), "broker exited:\n" + self.stderr())
        return self.proc

    def _died(self):
        if self.proc.poll() is not None:
            raise AssertionError("broker exited (%s):\n%s" % (self.proc.returncode, self.stderr()))
        return False

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.daemon_pid and pid_alive(self.daemon_pid):
            os.kill(self.daemon_pid, signal.SIGKILL)

    def stop(self):
        self.proc.terminate()
        self.assertEqual(self.proc.wait(10), 0, self.stderr())

    def client(self, port):
        c = MqttClient(port)
        self.addCleanup(c.close)
        return c

    def connected(self, port):
        c = self.client(port)
        c.connect(unique("o"))
        return c

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, path, needle, timeout=5.0):
        return wait_for(lambda: needle in self.read(path), timeout,
                        "%r in %s; it has:\n%s" % (needle, path, self.read(path)))

    def assert_relays(self, pub_port, sub):
        topic = unique("ops/")
        sub.subscribe([(topic, 1)])
        p = self.connected(pub_port)
        p.publish(topic, b"hello", qos=1)
        msg = sub.expect_publish()
        self.assertEqual((msg.topic, msg.payload), (topic, b"hello"))
        p.disconnect()

    def check_config(self, *files):
        args = [broker_binary(), "--test-config"]
        for f in files:
            args += ["-c", f]
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=30, cwd=self.tmp)
        return r.returncode, r.stdout + r.stderr

    # -- -d and pid_file --------------------------------------------------------
    def test_daemon_writes_pid_file_and_detaches(self):
        port = free_port()
        pid_file = os.path.join(self.tmp, "m.pid")
        log = os.path.join(self.tmp, "m.log")
        self.write_conf(["listener %d 127.0.0.1" % port, "allow_anonymous true", "user root",
                         "pid_file %s" % pid_file, "log_dest file %s" % log])
        r = subprocess.run([broker_binary(), "-d", "-c", self.conf], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=15, cwd=self.tmp)
        # The parent returns once the daemon serves; stdout/stderr are closed
        # by then (else capture_output would wait for them).
        self.assertEqual(r.returncode, 0, r.stderr)
        pid = int(self.read(pid_file).strip())
        self.daemon_pid = pid
        self.assertTrue(pid_alive(pid))
        self.assertTrue(port_open(port))
        # Detached: its own session, / as its directory, stdio on /dev/null.
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().split(") ", 1)[1].split()
        self.assertEqual(int(fields[3]), pid, "session id (setsid)")
        self.assertEqual(os.readlink("/proc/%d/cwd" % pid), "/")
        for fd in (0, 1, 2):
            self.assertEqual(os.readlink("/proc/%d/fd/%d" % (pid, fd)), "/dev/null")
        c = self.connected(port)
        self.assert_relays(port, c)
        self.wait_log(log, "musqratt running")
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pid_alive(pid), 10, "daemon exit")
        self.assertFalse(os.path.exists(pid_file), "pid file removed at exit")
        self.wait_log(log, "SIGTERM received, shutting down")

    def test_daemon_startup_error_reaches_the_terminal(self):
        busy = socket.socket()
        busy.bind((HOST, 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        self.write_conf(["listener %d 127.0.0.1" % busy.getsockname()[1], "user root"])
        r = subprocess.run([broker_binary(), "-d", "-c", self.conf], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=15)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot listen on 127.0.0.1:%d" % busy.getsockname()[1], r.stderr)

    def test_pid_file_without_daemon(self):
        port = free_port()
        pid_file = os.path.join(self.tmp, "fg.pid")
        self.write_conf(["listener %d 127.0.0.1" % port, "user root", "pid_file fg.pid"])
        self.start(wait_port=port)
        # Relative to the directory musqratt started in.
        self.assertEqual(int(self.read(pid_file)), self.proc.pid)
        self.stop()
        self.assertFalse(os.path.exists(pid_file))

    # -- logging ----------------------------------------------------------------
    def test_log_dest_file_timestamp_format_and_no_stderr(self):
        port = free_port()
        log = os.path.join(self.tmp, "broker.log")
        self.write_conf(["listener %d 127.0.0.1" % port, "user root",
                         "log_dest file %s" % log, "log_timestamp_format %Y-%m-%dT%H:%M:%S"])
        self.start(wait_port=port)
        self.wait_log(log, "musqratt running")
        line = [x for x in self.read(log).splitlines() if "musqratt running" in x][0]
        self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: musqratt: notice: musqratt running$")
        # Only the "listening on" lines (printed for scripts) go to stderr.
        other = [x for x in self.stderr().splitlines() if "listening on" not in x]
        self.assertEqual(other, [])
        self.stop()

    def test_unwritable_log_file_stops_the_start(self):
        bad = os.path.join(self.tmp, "no", "such", "dir", "x.log")
        self.write_conf(["listener %d 127.0.0.1" % free_port(), "user root",
                         "log_dest file " + bad])
        r = subprocess.run([broker_binary(), "-c", self.conf], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open log file %s" % bad, r.stderr)

    def test_log_timestamp_default_and_off(self):
        port = free_port()
        self.write_conf(["listener %d 127.0.0.1" % port, "user root", "log_dest stdout"])
        self.start(wait_port=port)
        wait_for(lambda: "musqratt running" in self.stderr())
        self.assertRegex(self.stderr(), r"(?m)^\d+: musqratt: notice: musqratt running$")
        self.stop()
        open(self.stderr_path, "w").close()
        self.write_conf(["listener %d 127.0.0.1" % port, "user root", "log_timestamp false"])
        self.start(wait_port=port)
        wait_for(lambda: "musqratt running" in self.stderr())
        self.assertRegex(self.stderr(), r"(?m)^musqratt: notice: musqratt running$")

    def test_log_type_filters_and_v_means_all(self):
        port = free_port()
        log = os.path.join(self.tmp, "t.log")
        self.write_conf(["listener %d 127.0.0.1" % port, "user root", "log_dest file " + log,
                         "log_type error"])
        self.start(wait_port=port)
        c = self.connected(port)
        c.close()
        time.sleep(0.2)
        self.stop()
        self.assertNotIn("musqratt running", self.read(log))  # a notice
        self.assertNotIn("closed the connection", self.read(log))
        self.assertNotIn("connected (MQTT", self.read(log))
        os.unlink(log)
        self.start(args=["-v"], wait_port=port)
        c = self.connected(port)
        c.close()
        self.wait_log(log, "closed the connection")  # a debug line
        self.assertIn("musqratt running", self.read(log))

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"),
                         "needs root and unshare(1) for a private /dev/log")
    def test_log_dest_syslog(self):
        # syslog(3) writes to /dev/log: the broker runs in its own mount
        # namespace where /dev is a directory of ours with /dev/log bound by
        # this test (and /dev/null), so nothing of the host's logging is used.
        dev = os.path.join(self.tmp, "dev")
        os.mkdir(dev)
        open(os.path.join(dev, "null"), "w").close()
        log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(log.close)
        log.bind(os.path.join(dev, "log"))
        log.settimeout(5)
        port = free_port()
        self.write_conf(["listener %d 127.0.0.1" % port, "user root", "log_dest syslog",
                         "log_facility 3"])
        script = ("mount --bind /dev/null {d}/null && mount --bind {d} /dev && exec {b} -c {c}"
                  .format(d=dev, b=os.path.abspath(broker_binary()), c=self.conf))
        err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                      script], stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        err.close()
        try:
            first = log.recv(4096).decode()
        except socket.timeout:
            if self.proc.poll() is not None and "listening on" not in self.stderr():
                self.skipTest("no mount namespace here: " + self.stderr())
            raise
        lines = [first]
        while not any("musqratt running" in x for x in lines):
            lines.append(log.recv(4096).decode())
        # <PRI> = facility local3 (19) * 8 + severity: warning 4, notice 5.
        self.assertRegex(lines[0], r"^<156>.* musqratt\[\d+\]: running as root \(user root\)$")
        self.assertRegex(lines[-1], r"^<157>.* musqratt\[\d+\]: musqratt running$")
        # Not on stderr as well (only the "listening on" line is).
        other = [x for x in self.stderr().splitlines() if "listening on" not in x]
        self.assertEqual(other, [])
        self.stop()

    def test_connection_messages_false(self):
        port = free_port()
        log = os.path.join(self.tmp, "c.log")
        self.write_conf(["listener %d 127.0.0.1" % port, "user root", "log_dest file " + log])
        self.start(wait_port=port)
        c = self.connected(port)
        self.wait_log(log, "connected (MQTT 3.1.1")
        c.disconnect()
        self.stop()
        os.unlink(log)
        self.write_conf(["listener %d 127.0.0.1" % port, "user root", "log_dest file " + log,
                         "connection_messages false"])
        self.start(wait_port=port)
        c = self.connected(port)
        c.ping()
        self.wait_log(log, "musqratt running")
        self.assertNotIn("connected (MQTT", self.read(log))

    # -- SIGHUP -------------------------------------------------------------------
    def test_reload_adds_and_removes_listeners_and_changes_log_type(self):
        a, b = free_port(), free_port()
        log = os.path.join(self.tmp, "r.log")
        base = ["user root", "allow_anonymous true", "log_dest file " + log]
        self.write_conf(base + ["listener %d 127.0.0.1" % a])
        self.start(wait_port=a)
        sub = self.connected(a)
        self.assertFalse(port_open(b))
        c = self.connected(a)
        c.close()
        sub.ping()
        self.wait_log(log, "musqratt running")
        self.assertNotIn("closed the connection", self.read(log))  # debug is off

        # 1. Add listener b, turn on debug lines.
        self.write_conf(base + ["listener %d 127.0.0.1" % a, "listener %d 127.0.0.1" % b,
                                "log_type all"])
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(log, "configuration reloaded")
        self.assertTrue(port_open(b))
        self.assert_relays(b, sub)  # sub on a stayed connected
        c = self.connected(b)
        c.close()  # no DISCONNECT: "'id' closed the connection" (debug)
        self.wait_log(log, "closed the connection")  # now logged

        # 2. Remove listener a: its client stays, new connections are refused.
        self.write_conf(base + ["listener %d 127.0.0.1" % b])
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.read(log).count("configuration reloaded") == 2)
        self.assertFalse(port_open(a))
        sub.ping()
        self.assert_relays(b, sub)
        self.assertIn("listener %d 127.0.0.1 closed" % a, self.read(log))
        self.stop()

    def test_reload_with_errors_keeps_the_old_configuration(self):
        a, b = free_port(), free_port()
        log = os.path.join(self.tmp, "bad.log")
        self.write_conf(["user root", "log_dest file " + log, "listener %d 127.0.0.1" % a])
        self.start(wait_port=a)
        sub = self.connected(a)
        self.write_conf(["user root", "log_dest file " + log, "listener %d 127.0.0.1" % b,
                         "max_keepalive lots", "no_such_directive 1"])
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(log, "the previous one stays in force")
        text = self.read(log)
        self.assertIn("%s:4: max_keepalive: 'lots' is not a number" % self.conf, text)
        self.assertIn("%s:5: unknown directive 'no_such_directive'" % self.conf, text)
        self.assertTrue(port_open(a))
        self.assertFalse(port_open(b))
        self.assert_relays(a, sub)
        # A missing file is no better.
        os.rename(self.conf, self.conf + ".away")
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.read(log).count("stays in force") == 2)
        self.assertIn("cannot open %s" % self.conf, self.read(log))
        os.rename(self.conf + ".away", self.conf)
        # Fixed: the reload goes through.
        self.write_conf(["user root", "log_dest file " + log, "listener %d 127.0.0.1" % b])
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(log, "configuration reloaded")
        self.assertTrue(port_open(b))
        self.assertFalse(port_open(a))
        self.assert_relays(b, sub)
        self.stop()

    def test_reload_reopens_the_log_file(self):
        port = free_port()
        log = os.path.join(self.tmp, "rot.log")
        self.write_conf(["user root", "log_dest file " + log, "listener %d 127.0.0.1" % port])
        self.start(wait_port=port)
        self.wait_log(log, "musqratt running")
        os.rename(log, log + ".1")  # what logrotate does
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(log, "configuration reloaded")
        # The signal is logged to the old file, what follows to the new one.
        self.assertIn("SIGHUP received", self.read(log + ".1"))
        self.assertNotIn("configuration reloaded", self.read(log + ".1"))
        self.assertNotIn("SIGHUP received", self.read(log))
        self.stop()

    # -- SIGUSR1 / SIGUSR2 ----------------------------------------------------------
    def test_sigusr1_logs_stats_and_sigusr2_toggles_debug(self):
        port = free_port()
        log = os.path.join(self.tmp, "u.log")
        self.write_conf(["user root", "log_dest file " + log, "listener %d 127.0.0.1" % port])
        self.start(wait_port=port)
        sub = self.connected(port)
        sub.subscribe([("a/#", 0), ("b", 1)])
        self.proc.send_signal(signal.SIGUSR1)
        self.wait_log(log, "stats: connections 1, sessions 1, subscriptions 2")
        self.proc.send_signal(signal.SIGUSR2)
        self.wait_log(log, "SIGUSR2: debug logging on")
        c = self.connected(port)
        c.close()
        self.wait_log(log, "closed the connection")
        self.proc.send_signal(signal.SIGUSR2)
        self.wait_log(log, "debug logging back to log_type")
        n = self.read(log).count("closed the connection")
        c = self.connected(port)
        c.close()
        sub.ping()
        time.sleep(0.2)
        self.assertEqual(self.read(log).count("closed the connection"), n)
        self.stop()

    # -- listeners ----------------------------------------------------------------
    def test_unix_socket_listener(self):
        port = free_port()
        path = os.path.join(self.tmp, "mq.sock")
        self.write_conf(["user root", "listener %d 127.0.0.1" % port, "listener 0 " + path])
        self.start(wait_port=port, wait_unix=path)
        self.assertIn("listening on unix:" + path, self.stderr())
        u = UnixClient(path)
        self.addCleanup(u.close)
        u.send(build_connect(unique("u")))
        pkt = u.expect(CONNACK)
        self.assertEqual(pkt.body[1], 0)
        self.assert_relays(port, u)
        # mosquitto_pub --unix (Mosquitto 2.0 clients) to a TCP subscriber.
        if shutil.which("mosquitto_pub"):
            sub = self.connected(port)
            sub.subscribe([("unix/t", 0)])
            r = subprocess.run(["mosquitto_pub", "--unix", path, "-t", "unix/t", "-m", "via-unix"],
                               capture_output=True, timeout=10)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sub.expect_publish().payload, b"via-unix")
        self.stop()
        self.assertFalse(os.path.exists(path), "socket file removed at exit")

    def test_unix_socket_replaces_stale_socket_but_not_a_file(self):
        path = os.path.join(self.tmp, "stale.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()  # leaves the file, like a crashed broker
        self.write_conf(["user root", "listener 0 " + path])
        self.start()
        wait_for(lambda: "listening on unix:" in self.stderr() or self._died())
        u = UnixClient(path)
        self.addCleanup(u.close)
        u.send(build_connect(unique("u")))
        u.expect(CONNACK)
        self.stop()
        regular = os.path.join(self.tmp, "regular")
        with open(regular, "w") as f:
            f.write("keep me")
        self.write_conf(["user root", "listener 0 " + regular])
        r = subprocess.run([broker_binary(), "-c", self.conf], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot listen on unix socket " + regular, r.stderr)
        self.assertEqual(self.read(regular), "keep me")

    def test_per_listener_max_connections(self):
        a, b = free_port(), free_port()
        self.write_conf(["user root", "listener %d 127.0.0.1" % a, "max_connections 1",
                         "listener %d 127.0.0.1" % b])
        self.start(wait_port=a)
        # wait_port's probe connection may still be counted for a moment.
        first = wait_for(lambda: self._try_connect(a), what="first connection on a")
        second = self.client(a)
        second.send(build_connect(unique("x")))
        second.expect_closed()
        others = [self.connected(b) for _ in range(3)]
        for o in others:
            o.ping()
        first.disconnect()
        wait_for(lambda: self._try_connect(a), what="a free again")

    def _try_connect(self, port):
        c = self.client(port)
        try:
            c.connect(unique("m"))
            return c
        except (AssertionError, OSError):
            return None

    def test_socket_domain_ipv4(self):
        port = free_port()
        self.write_conf(["user root", "listener %d" % port, "socket_domain ipv4"])
        self.start(wait_port=port)
        lines = [x for x in self.stderr().splitlines() if "listening on" in x]
        self.assertEqual(lines, ["musqratt: listening on 0.0.0.0:%d" % port])

    def test_bind_interface_lo(self):
        port = free_port()
        self.write_conf(["user root", "listener %d 192.0.2.1" % port, "bind_interface lo",
                         "socket_domain ipv4"])
        self.start(wait_port=port)  # 192.0.2.1 is overridden by the interface
        lines = [x for x in self.stderr().splitlines() if "listening on" in x]
        self.assertEqual(lines, ["musqratt: listening on 127.0.0.1:%d" % port])
        self.stop()
        self.write_conf(["user root", "listener %d" % port, "bind_interface nosuchif0"])
        r = subprocess.run([broker_binary(), "-c", self.conf], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bind_interface nosuchif0: no such interface", r.stderr)

    # -- systemd ------------------------------------------------------------------
    def _notify_test(self, address, bind_name):
        port = free_port()
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(ns.close)
        ns.bind(bind_name)
        ns.settimeout(10)
        self.write_conf(["user root", "listener %d 127.0.0.1" % port])
        self.start(env={"NOTIFY_SOCKET": address})
        msg = ns.recv(4096).decode()
        self.assertEqual(msg, "READY=1\nMAINPID=%d" % self.proc.pid)
        self.assertTrue(port_open(port), "READY=1 only once listening")
        self.proc.send_signal(signal.SIGHUP)
        msg = ns.recv(4096).decode()
        self.assertRegex(msg, r"^RELOADING=1\nMONOTONIC_USEC=\d+$")
        self.assertEqual(ns.recv(4096).decode(), "READY=1")
        self.proc.terminate()
        self.assertEqual(ns.recv(4096).decode(), "STOPPING=1")
        self.assertEqual(self.proc.wait(10), 0)

    def test_notify_socket_path(self):
        path = os.path.join(self.tmp, "notify.sock")
        self._notify_test(path, path)

    def test_notify_socket_abstract(self):
        name = "musqratt-test-" + unique("n")
        self._notify_test("@" + name, "\0" + name)

    def test_no_notify_socket_is_fine(self):
        port = free_port()
        self.write_conf(["user root", "listener %d 127.0.0.1" % port])
        env = {"NOTIFY_SOCKET": ""}
        self.start(env=env, wait_port=port)
        self.stop()

    # -- privileges ---------------------------------------------------------------
    def _uid(self, pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_user_drops_privileges_after_binding(self):
        import pwd
        port = free_port()
        try:
            want = pwd.getpwnam("mosquitto").pw_uid  # the default user
        except KeyError:
            want = pwd.getpwnam("nobody").pw_uid     # Mosquitto's fallback
        self.write_conf(["listener %d 127.0.0.1" % port])
        self.start(wait_port=port)
        self.assertEqual(self._uid(self.proc.pid), want)
        self.stop()
        nobody = pwd.getpwnam("nobody").pw_uid
        self.write_conf(["listener %d 127.0.0.1" % port, "user nobody"])
        self.start(wait_port=port)
        self.assertEqual(self._uid(self.proc.pid), nobody)
        self.stop()
        self.write_conf(["listener %d 127.0.0.1" % port, "user root"])
        self.start(wait_port=port)
        self.assertEqual(self._uid(self.proc.pid), 0)
        self.stop()
        self.write_conf(["listener %d 127.0.0.1" % port, "user no-such-user-mq"])
        r = subprocess.run([broker_binary(), "-c", self.conf], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("user 'no-such-user-mq' does not exist", r.stderr)

    # -- configuration files ----------------------------------------------------------
    def test_include_dir_order_and_names(self):
        d = os.path.join(self.tmp, "conf.d")
        os.mkdir(d)
        for name in ["b.conf", "A.conf", "a.conf", "notes.txt", "c.conf~"]:
            # Each file warns once (persistence is accepted with a warning),
            # so the warnings show the order the files were read in.
            self.write_conf(["persistence true"], os.path.join(d, name))
        self.write_conf(["listener 1883", "include_dir conf.d"])
        rc, out = self.check_config(self.conf)
        self.assertEqual(rc, 0, out)
        files = re.findall(r"conf\.d/([^:]+):1: warning", out)
        self.assertEqual(files, ["A.conf", "a.conf", "b.conf"])

    def test_include_dir_errors(self):
        d = os.path.join(self.tmp, "inc")
        os.mkdir(d)
        self.write_conf(["bogus_directive 1"], os.path.join(d, "x.conf"))
        self.write_conf(["# main", "include_dir inc"])
        rc, out = self.check_config(self.conf)
        self.assertEqual(rc, 1)
        self.assertIn("inc/x.conf:1: error: unknown directive 'bogus_directive'", out)
        self.write_conf(["# main", "include_dir missing.d"])
        rc, out = self.check_config(self.conf)
        self.assertEqual(rc, 1)
        self.assertIn("musqratt.conf:2: error: include_dir: cannot open", out)

    def test_test_config_reports_every_problem_with_file_and_line(self):
        self.write_conf(["log_dest printer", "listener 0 /tmp/x.sock", "socket_domain ipv7",
                         "log_type chatty"])
        rc, out = self.check_config(self.conf)
        self.assertEqual(rc, 1)
        for line, text in [(1, "unknown destination 'printer'"), (3, "not ipv4 or ipv6"),
                           (4, "unknown log type 'chatty'")]:
            self.assertIn("%s:%d: error: " % (self.conf, line), out)
            self.assertIn(text, out)

    @unittest.skipUnless(os.path.exists(DEBIAN_CONF), DEBIAN_CONF + " not installed")
    def test_debian_mosquitto_conf_is_accepted(self):
        rc, out = self.check_config(DEBIAN_CONF)
        self.assertEqual(rc, 0, out)
        self.assertNotIn(": error:", out)
        self.assertIn("configuration OK", out)

    @unittest.skipUnless(os.path.exists(EXAMPLE_CONF), EXAMPLE_CONF + " not installed")
    def test_mosquitto_example_conf_is_accepted(self):
        rc, out = self.check_config(EXAMPLE_CONF)
        self.assertEqual(rc, 0, out)
        self.assertNotIn(": error:", out)

    @unittest.skipUnless(os.path.exists(EXAMPLE_CONF), EXAMPLE_CONF + " not installed")
    def test_every_directive_of_the_mosquitto_example_is_known(self):
        # Uncomment every "#directive ..." line of Mosquitto's example: the
        # values there are placeholders, so errors about values are fine, but
        # no directive may be unknown to musqratt.
        lines, names = [], set()
        with open(EXAMPLE_CONF) as f:
            for line in f:
                m = re.match(r"^#([a-z][a-z0-9_.]*)(\s|$)", line)
                if m:
                    lines.append(line[1:].rstrip("\n"))
                    names.add(m.group(1))
        self.assertGreater(len(names), 80)
        self.write_conf(lines)
        rc, out = self.check_config(self.conf)
        unknown = re.findall(r"unknown directive '([^']+)'", out)
        self.assertEqual(unknown, [], out)


    # -- the documentation stays true ------------------------------------------------
    def _directives(self):
        with open(os.path.join(ROOT, "src", "config", "config.c")) as f:
            src = f.read()
        table = src[src.index("mq__directives[] = {"):src.index("mq__unsupported[] = {")]
        names = re.findall(r'MQ__[A-Z_]+\("([a-z0-9_.]+)"', table)
        self.assertGreater(len(names), 30)
        return names

    def test_every_directive_is_documented(self):
        with open(os.path.join(ROOT, "docs", "CONFIG.md")) as f:
            doc = f.read()
        with open(os.path.join(ROOT, "musqratt.conf.example")) as f:
            example = f.read()
        for name in self._directives():
            self.assertIn("`%s" % name, doc, "docs/CONFIG.md lacks " + name)
            self.assertRegex(example, r"(?m)^#%s( |$)" % re.escape(name),
                             "musqratt.conf.example lacks an example of " + name)

    def test_example_config_uncommented_is_valid(self):
        # Every "#directive ..." line of musqratt.conf.example, uncommented,
        # makes a configuration with no error and no warning.
        d = os.path.join(self.tmp, "conf.d")
        os.mkdir(d)
        lines = []
        with open(os.path.join(ROOT, "musqratt.conf.example")) as f:
            for line in f:
                if re.match(r"^#[a-z][a-z0-9_.]*( |$)", line):
                    line = line[1:].rstrip("\n")
                    if line.startswith("include_dir "):
                        line = "include_dir " + d
                    lines.append(line)
        self.write_conf(lines)
        rc, out = self.check_config(self.conf)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("warning", out)


    def test_systemd_unit(self):
        with open(os.path.join(ROOT, "dist", "musqratt.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^Type=notify$")
        self.assertRegex(unit, r"(?m)^ExecReload=/bin/kill -HUP \$MAINPID$")
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze not installed")
        path = os.path.join(self.tmp, "musqratt.service")
        with open(path, "w") as f:
            f.write(unit.replace("/usr/local/bin/musqratt", os.path.abspath(broker_binary())))
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    main()

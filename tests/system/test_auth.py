"""Authentication compatible with Mosquitto: password_file (files made by
Debian's mosquitto_passwd and by musqratt-passwd, used by both brokers),
allow_anonymous and its Mosquitto 2.0 default, per_listener_settings, and
the mosquitto_pub / mosquitto_sub clients with -u / -P.

Expected answers were taken from Mosquitto 2.0.11: every refusal (unknown
user, wrong or missing password, anonymous) is CONNACK 5, MQTT 5 0x87.

Environment: MUSQRATT_BIN, MUSQRATT_PASSWD_BIN (musqratt-passwd); the
Mosquitto tools come from scripts/deps.sh."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import (Broker, HOST, MqttClient, MqttClientV5, PUBLISH,  # noqa: E402
                          free_port, main, unique)

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQ_PASSWD = shutil.which("mosquitto_passwd")
PUB = shutil.which("mosquitto_pub")
SUB = shutil.which("mosquitto_sub")
# mosquitto_sub's stdout is block-buffered into a pipe: line-buffer it so
# its "received SUBACK" line arrives when it happens.
STDBUF = [shutil.which("stdbuf"), "-oL"] if shutil.which("stdbuf") else []
NOT_AUTHORIZED_V5 = 0x87


def passwd_bin():
    path = os.environ.get("MUSQRATT_PASSWD_BIN")
    if not path:
        sys.stderr.write("MUSQRATT_PASSWD_BIN is not set\n")
        sys.exit(2)
    return path


def run(args, timeout=30, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


class ConfBroker(Broker):
    """A broker started with exactly the configuration text given (PORT and
    PORT2 are replaced by free ports); the harness's Broker always adds
    allow_anonymous true, which these tests must not have."""

    def __init__(self, text, binary=None):
        super().__init__(options=[], binary=binary)
        self.text = text
        self.port2 = None

    def _config_text(self, port):
        self.port2 = free_port()
        while self.port2 == port:
            self.port2 = free_port()
        return self.text.replace("PORT2", str(self.port2)).replace("PORT", str(port))


def connect_rc(port, user=None, password=None, v5=False):
    """The CONNACK code for one CONNECT (the connection is then closed)."""
    c = MqttClientV5(port) if v5 else MqttClient(port)
    try:
        if v5:
            return c.connect(unique("c"), username=user, password=password, expect_rc=None).reason
        return c.connect(unique("c"), username=user, password=password, expect_rc=None)[1]
    finally:
        c.close()


class Tmp:
    def __init__(self, case):
        self.dir = tempfile.TemporaryDirectory(prefix="mqauth-")
        case.addCleanup(self.dir.cleanup)
        # Mosquitto started as root reads its files as the mosquitto user.
        os.chmod(self.dir.name, 0o755)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p


class AuthCase(unittest.TestCase):
    def start(self, text, binary=None):
        b = ConfBroker(text, binary).start()
        self.addCleanup(b.stop)
        return b


class MosquittoPasswdFileTest(AuthCase):
    """A file made by mosquitto_passwd -c -b, used by musqratt."""

    def setUp(self):
        self.tmp = Tmp(self)
        self.pw = self.tmp.path("pw")
        self.assertEqual(run([MOSQ_PASSWD, "-c", "-b", self.pw, "alice", "secret"]).returncode, 0)
        self.assertEqual(run([MOSQ_PASSWD, "-b", self.pw, "bob", "p:w d%"]).returncode, 0)
        self.assertEqual(run([MOSQ_PASSWD, "-H", "sha512", "-b", self.pw, "old", "oldpw"]).returncode, 0)
        self.broker = self.start("listener PORT 127.0.0.1\npassword_file %s\n"
                                 "allow_anonymous false\n" % self.pw)

    def test_raw_clients_v311_and_v5(self):
        p = self.broker.port
        for v5 in (False, True):
            refused = NOT_AUTHORIZED_V5 if v5 else 5
            self.assertEqual(connect_rc(p, "alice", b"secret", v5), 0)
            self.assertEqual(connect_rc(p, "bob", "p:w d%".encode(), v5), 0)
            self.assertEqual(connect_rc(p, "old", b"oldpw", v5), 0)  # $6$
            self.assertEqual(connect_rc(p, "alice", b"Secret", v5), refused)
            self.assertEqual(connect_rc(p, "alice", None, v5), refused)
            self.assertEqual(connect_rc(p, "carol", b"secret", v5), refused)
            self.assertEqual(connect_rc(p, None, None, v5), refused)

    def test_mosquitto_pub_sub_with_credentials(self):
        port = str(self.broker.port)
        topic = unique("auth/")
        base = ["-h", HOST, "-p", port]
        sub = subprocess.Popen(STDBUF + [SUB] + base + ["-u", "alice", "-P", "secret", "-t", topic,
                                               "-C", "1", "-W", "10", "-d"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(sub.kill)
        lines = []

        def reader():
            for raw in sub.stdout:
                lines.append(raw.decode("utf-8", "replace"))

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        deadline = time.monotonic() + 10
        while not any("SUBACK" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(any("SUBACK" in line for line in lines), "".join(lines))
        r = run([PUB] + base + ["-u", "bob", "-P", "p:w d%", "-t", topic, "-m", "hello", "-q", "1"])
        self.assertEqual(r.returncode, 0, r.stderr)
        sub.wait(10)
        t.join(5)
        self.assertIn("hello", "".join(lines))
        # Refused: wrong password, no credentials.
        for creds in (["-u", "alice", "-P", "nope"], []):
            r = run([PUB] + base + creds + ["-t", topic, "-m", "x"])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"not authorised", r.stderr + r.stdout)


class MusqrattPasswdTest(AuthCase):
    """musqratt-passwd's files, used by Mosquitto and by musqratt."""

    def setUp(self):
        self.tmp = Tmp(self)
        self.tool = passwd_bin()

    def check_both_brokers(self, pwfile, good, bad):
        for binary in (MOSQUITTO, None):
            b = self.start("listener PORT 127.0.0.1\npassword_file %s\nallow_anonymous false\n"
                           % pwfile, binary)
            for user, password in good:
                self.assertEqual(connect_rc(b.port, user, password), 0,
                                 "%s refused %s" % (binary or "musqratt", user))
            for user, password in bad:
                self.assertEqual(connect_rc(b.port, user, password), 5,
                                 "%s accepted %s" % (binary or "musqratt", user))
            b.stop()

    def test_create_add_delete_and_both_brokers_accept(self):
        pw = self.tmp.path("pw")
        self.assertEqual(run([self.tool, "-c", "-b", pw, "alice", "secret"]).returncode, 0)
        self.assertEqual(run([self.tool, "-b", pw, "bob", "b0b"]).returncode, 0)
        self.assertEqual(run([self.tool, "-b", "-I", "1000", pw, "carol", "c"]).returncode, 0)
        self.assertEqual(run([self.tool, "-H", "sha512", "-b", pw, "dave", "d"]).returncode, 0)
        # Password prompted twice (stdin is not a terminal here).
        r = run([self.tool, pw, "erin"], input=b"e-pw\ne-pw\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run([self.tool, pw, "frank"], input=b"one\ntwo\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"do not match", r.stderr)
        # Change bob's password, delete carol.
        self.assertEqual(run([self.tool, "-b", pw, "bob", "new"]).returncode, 0)
        self.assertEqual(run([self.tool, "-D", pw, "carol"]).returncode, 0)
        with open(pw) as f:
            lines = f.read().splitlines()
        self.assertEqual([line.split(":")[0] for line in lines], ["alice", "bob", "dave", "erin"])
        self.assertTrue(lines[0].startswith("alice:$7$101$"))
        self.assertTrue(lines[2].startswith("dave:$6$"))
        # Bad usernames are refused.
        self.assertNotEqual(run([self.tool, "-b", pw, "a:b", "x"]).returncode, 0)
        self.check_both_brokers(pw, good=[("alice", b"secret"), ("bob", b"new"), ("dave", b"d"),
                                          ("erin", b"e-pw")],
                                bad=[("bob", b"b0b"), ("carol", b"c"), ("frank", b"one")])

    def test_iterations_option(self):
        pw = self.tmp.path("pw")
        self.assertEqual(run([self.tool, "-c", "-b", "-I", "5000", pw, "it", "pw"]).returncode, 0)
        with open(pw) as f:
            self.assertTrue(f.read().startswith("it:$7$5000$"))
        self.check_both_brokers(pw, good=[("it", b"pw")], bad=[("it", b"pW")])

    def test_convert_plain_text_file(self):
        pw = self.tmp.write("pw", "# users\nu1:pass1\nu2:pa:ss2\n\n")
        r = run([self.tool, "-U", pw])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(pw) as f:
            text = f.read()
        self.assertNotIn("pass1", text)
        self.assertIn("# users\n", text)
        # Running it again leaves the hashes alone (mosquitto_passwd would
        # hash them again).
        before = text
        self.assertEqual(run([self.tool, "-U", pw]).returncode, 0)
        with open(pw) as f:
            self.assertEqual(f.read(), before)
        self.check_both_brokers(pw, good=[("u1", b"pass1"), ("u2", b"pa:ss2")],
                                bad=[("u1", b"pass2")])


class AllowAnonymousTest(AuthCase):
    def test_default_false_with_a_listener_in_the_file(self):
        # Mosquitto 2.0: a configuration file that defines a listener (or
        # the legacy port) refuses anonymous clients unless told otherwise.
        for text in ("listener PORT 127.0.0.1\n", "port PORT\nbind_address 127.0.0.1\n"):
            b = self.start(text)
            self.assertEqual(connect_rc(b.port), 5)
            self.assertEqual(connect_rc(b.port, v5=True), NOT_AUTHORIZED_V5)
            # A username with no password file to check it against passes.
            self.assertEqual(connect_rc(b.port, "anyone", b"x"), 0)
            b.stop()
        b = self.start("listener PORT 127.0.0.1\nallow_anonymous true\n")
        self.assertEqual(connect_rc(b.port), 0)

    def test_without_a_config_file_anonymous_is_allowed(self):
        b = Broker(None).start()  # -p PORT: musqratt's local-only default
        self.addCleanup(b.stop)
        self.assertEqual(connect_rc(b.port), 0)

    def test_anonymous_allowed_alongside_a_password_file(self):
        tmp = Tmp(self)
        pw = tmp.path("pw")
        run([MOSQ_PASSWD, "-c", "-b", pw, "alice", "secret"])
        b = self.start("listener PORT 127.0.0.1\npassword_file %s\nallow_anonymous true\n" % pw)
        self.assertEqual(connect_rc(b.port), 0)
        self.assertEqual(connect_rc(b.port, "alice", b"secret"), 0)
        self.assertEqual(connect_rc(b.port, "alice", b"bad"), 5)
        self.assertEqual(connect_rc(b.port, "zed", b"x"), 5)  # as Mosquitto 2.0.11


class PerListenerSettingsTest(AuthCase):
    def test_each_listener_has_its_own_files(self):
        tmp = Tmp(self)
        pw1, pw2 = tmp.path("pw1"), tmp.path("pw2")
        run([MOSQ_PASSWD, "-c", "-b", pw1, "one", "1"])
        run([MOSQ_PASSWD, "-c", "-b", pw2, "two", "2"])
        text = ("per_listener_settings true\n"
                "listener PORT 127.0.0.1\npassword_file %s\n"
                "listener PORT2 127.0.0.1\npassword_file %s\nallow_anonymous true\n" % (pw1, pw2))
        for binary in (MOSQUITTO, None):
            b = self.start(text, binary)
            who = binary or "musqratt"
            self.assertEqual(connect_rc(b.port, "one", b"1"), 0, who)
            self.assertEqual(connect_rc(b.port, "two", b"2"), 5, who)
            self.assertEqual(connect_rc(b.port), 5, who)
            self.assertEqual(connect_rc(b.port2, "two", b"2"), 0, who)
            self.assertEqual(connect_rc(b.port2, "one", b"1"), 5, who)
            self.assertEqual(connect_rc(b.port2), 0, who)
            b.stop()

    def test_without_per_listener_settings_one_file_for_all(self):
        tmp = Tmp(self)
        pw1, pw2 = tmp.path("pw1"), tmp.path("pw2")
        run([MOSQ_PASSWD, "-c", "-b", pw1, "one", "1"])
        run([MOSQ_PASSWD, "-c", "-b", pw2, "two", "2"])
        # One password_file, set in a listener's section, applies to both.
        text = ("listener PORT 127.0.0.1\n"
                "listener PORT2 127.0.0.1\npassword_file %s\n" % pw1)
        for binary in (MOSQUITTO, None):
            b = self.start(text, binary)
            who = binary or "musqratt"
            for port in (b.port, b.port2):
                self.assertEqual(connect_rc(port, "one", b"1"), 0, who)
                self.assertEqual(connect_rc(port, "two", b"2"), 5, who)
            b.stop()
        # Two are a configuration error, in Mosquitto 2.0.11 as here.
        conf = tmp.write("c.conf", "listener %d 127.0.0.1\npassword_file %s\n"
                         "listener %d 127.0.0.1\npassword_file %s\n"
                         % (free_port(), pw1, free_port(), pw2))
        for binary in (MOSQUITTO, os.environ["MUSQRATT_BIN"]):
            r = run([binary, "-c", conf], timeout=10)
            self.assertNotEqual(r.returncode, 0, binary)
            self.assertIn(b"c.conf:4", r.stderr + r.stdout, binary)


class FileErrorsTest(AuthCase):
    def test_bad_password_lines_warn_with_file_and_line(self):
        tmp = Tmp(self)
        pw = tmp.path("pw")
        run([MOSQ_PASSWD, "-c", "-b", pw, "alice", "secret"])
        with open(pw, "a") as f:
            f.write("plain:text\n")
        b = self.start("listener PORT 127.0.0.1\npassword_file %s\n" % pw)
        self.assertEqual(connect_rc(b.port, "alice", b"secret"), 0)
        self.assertEqual(connect_rc(b.port, "plain", b"text"), 5)
        self.assertIn("%s:2:" % pw, b.log_tail())

    def test_missing_password_file_stops_the_broker(self):
        port = free_port()
        tmp = Tmp(self)
        conf = tmp.write("c.conf", "listener %d 127.0.0.1\npassword_file %s\n"
                         % (port, tmp.path("absent")))
        r = run([os.environ["MUSQRATT_BIN"], "-c", conf])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"absent", r.stderr + r.stdout)


if __name__ == "__main__":
    main()

"""SIGHUP reloads the password and ACL files while clients stay connected
(issue 6): a changed ACL applies to a connected subscriber at once, a file
that fails to parse keeps the old one in force, a changed password applies to
new connections, and nobody is disconnected by a reload."""

import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import *  # noqa: E402,F401,F403


def write(path, text):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)  # atomically, as an administrator's tool would


@musqratt_specific("reload on SIGHUP: Mosquitto reloads too, but the test reads "
                   "musqratt's log lines")
class ReloadAuthTest(BrokerTestCase):

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="mq-reload-")
        self.acl = os.path.join(self.dir.name, "acl")
        self.pw = os.path.join(self.dir.name, "passwd")
        write(self.acl, "topic readwrite t/#\npattern readwrite users/%u/#\n")
        subprocess.run(["mosquitto_passwd", "-c", "-b", self.pw, "bob", "first"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The files live in a private temporary directory: stay root so that
        # the reload can read them (as `user root` in a real deployment).
        self.broker_options = [("allow_anonymous", "true"), ("acl_file", self.acl),
                               ("password_file", self.pw), ("user", "root")]
        super().setUp()

    def tearDown(self):
        super().tearDown()
        self.dir.cleanup()

    def hup(self, expect_in_log):
        before = self.broker.log_tail(1 << 20)
        os.kill(self.broker.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            now = self.broker.log_tail(1 << 20)
            if now.count(expect_in_log) > before.count(expect_in_log):
                return now[len(before):]
            time.sleep(0.05)
        self.fail("no %r in the log after SIGHUP:\n%s" % (expect_in_log,
                                                          self.broker.log_tail()))

    def test_acl_change_applies_to_a_connected_subscriber(self):
        sub = self.connected()
        self.assertEqual(sub.subscribe([("t/x", 1)]), [1])
        pub = self.connected()
        pub.publish("t/x", b"before", qos=1)
        self.assertEqual(sub.expect_publish().payload, b"before")

        # Anonymous clients may now only write t/#: the subscriber, still
        # connected, gets nothing more.
        write(self.acl, "topic write t/#\n")
        self.hup("configuration reloaded")
        sub.ping()
        pub.publish("t/x", b"hidden", qos=1)
        sub.expect_no_publish(0.5)

        # A broken ACL file: the previous one (write only) stays in force and
        # the log names the file and line.
        write(self.acl, "topic write t/#\nbogus line here\n")
        tail = self.hup("configuration reloaded")
        self.assertIn("%s:2" % self.acl, tail)
        pub.publish("t/x", b"still hidden", qos=1)
        sub.expect_no_publish(0.5)

        # Read allowed again: deliveries resume on the same connection.
        write(self.acl, "topic readwrite t/#\n")
        self.hup("configuration reloaded")
        pub.publish("t/x", b"after", qos=1)
        self.assertEqual(sub.expect_publish().payload, b"after")
        sub.ping()
        pub.ping()

    def test_password_change_applies_to_new_connections_only(self):
        bob = self.client()
        bob.connect(unique("bob"), username="bob", password=b"first")
        subprocess.run(["mosquitto_passwd", "-b", self.pw, "bob", "second"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.hup("configuration reloaded")
        bob.ping()  # an authenticated client stays (Mosquitto's rule)
        old = self.client()
        old.connect(unique("bob"), username="bob", password=b"first", expect_rc=5)
        new = self.client()
        new.connect(unique("bob"), username="bob", password=b"second")
        new.ping()
        # A password file that cannot be read keeps the loaded one.
        os.remove(self.pw)
        self.hup("configuration reloaded")
        again = self.client()
        again.connect(unique("bob"), username="bob", password=b"second")
        bob.ping()


if __name__ == "__main__":
    main()

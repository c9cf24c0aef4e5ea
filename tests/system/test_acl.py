"""acl_file compatible with Mosquitto 2.0.11: the same password and ACL
files run through musqratt and through /usr/sbin/mosquitto, and each case
must come out the same in both (and as written here):

- a subscription filter is not checked against the file (SUBACK grants it);
  what is delivered is checked (READ), retained messages included;
- a refused PUBLISH is dropped; 3.1.1 still gets PUBACK / PUBREC+PUBCOMP,
  MQTT 5 gets reason 0x87; QoS 0 gets nothing;
- a refused will is dropped (the CONNECT is accepted);
- %u and %c patterns; a client id with '+' or '#' matches no pattern;
- an ACL file with a bad line stops the broker, naming file:line.

Refused SUBSCRIBE codes (0x80 / 0x87) cannot come from an ACL file under
Mosquitto's rules; the core's call site is tested in tests/unit/test_acl.c
with a hook that refuses. Reloading is tested there too (the SIGHUP wiring
is not in this tree)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_harness import Broker, MqttClient, MqttClientV5, free_port, main, unique  # noqa: E402

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQ_PASSWD = shutil.which("mosquitto_passwd")

ACL = """# anonymous clients
topic read public/#
user pub
topic write public/#
topic write data/#
topic readwrite both/#
user sub
topic read data/ok/#
topic read both/#
topic deny data/ok/hidden
pattern readwrite home/%u/#
pattern write will/%c
pattern read will/#
pattern read clients/%c/#
"""


class FilesBroker(Broker):
    def __init__(self, conf, binary=None):
        super().__init__(options=[], binary=binary)
        self.conf = conf

    def _config_text(self, port):
        return "listener %d 127.0.0.1\n%s" % (port, self.conf)


class AclCase(unittest.TestCase):
    binary = None  # the subclass for Mosquitto sets it

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="mqacl-")
        self.addCleanup(self.tmp.cleanup)
        os.chmod(self.tmp.name, 0o755)  # Mosquitto as root reads as mosquitto
        self.pw = os.path.join(self.tmp.name, "pw")
        subprocess.run([MOSQ_PASSWD, "-c", "-b", self.pw, "pub", "pubpw"], check=True)
        for user in ("sub", "u+x", "eve"):
            subprocess.run([MOSQ_PASSWD, "-b", self.pw, user, "pw"], check=True)
        self.acl = os.path.join(self.tmp.name, "acl")
        with open(self.acl, "w") as f:
            f.write(ACL)
        self.broker = FilesBroker("password_file %s\nacl_file %s\nallow_anonymous true\n"
                                  % (self.pw, self.acl), self.binary).start()
        self.addCleanup(self.broker.stop)

    def login(self, user, v5=False, cid=None, will=None):
        c = MqttClientV5(self.broker.port) if v5 else MqttClient(self.broker.port)
        self.addCleanup(c.close)
        pw = None if user is None else (b"pubpw" if user == "pub" else b"pw")
        c.connect(cid or unique("c"), username=user, password=pw, will=will)
        return c

    def topics(self, c, duration=0.4):
        return sorted(p.topic for p in c.collect_publishes(duration))

    def test_subscribe_is_granted_delivery_is_checked(self):
        s = self.login("sub")
        s5 = self.login("sub", v5=True)
        self.assertEqual(s.subscribe([("#", 1)]), [1])
        self.assertEqual(s5.subscribe([("#", 1)]), [1])
        self.assertEqual(s.subscribe([("data/ok/hidden", 1)]), [1])
        p = self.login("pub")
        for t in ("data/ok/1", "data/no/1", "data/ok/hidden", "both/x"):
            p.publish(t, b"m", qos=1)
        self.assertEqual(self.topics(s), ["both/x", "data/ok/1"])
        self.assertEqual(self.topics(s5), ["both/x", "data/ok/1"])

    def test_refused_publish_is_dropped_and_acknowledged(self):
        s = self.login("sub")
        s.subscribe([("#", 1)])
        p3 = self.login("pub")
        p5 = self.login("pub", v5=True)
        p3.publish("other/x", b"m", qos=0)
        p3.publish("other/x", b"m", qos=1)   # PUBACK as usual
        p3.publish("other/x", b"m", qos=2)   # PUBREC, PUBREL, PUBCOMP
        self.assertIsNone(p5.publish("other/x", b"m", qos=0))
        self.assertEqual(p5.publish("other/x", b"m", qos=1).reason, 0x87)
        self.assertEqual(p5.publish("other/x", b"m", qos=2).reason, 0x87)
        p3.ping()
        p5.ping()
        self.assertEqual(self.topics(s), [])
        # The publishers are still connected and allowed topics go through.
        self.assertEqual(p5.publish("both/1", b"m", qos=1).reason, 0)
        self.assertEqual(self.topics(s), ["both/1"])

    def test_retained_messages_are_read_checked(self):
        p = self.login("pub")
        p.publish("data/ok/r", b"m", qos=1, retain=True)
        p.publish("data/no/r", b"m", qos=1, retain=True)
        p.publish("data/ok/hidden", b"m", qos=1, retain=True)
        time.sleep(0.1)
        s = self.login("sub")
        self.assertEqual(s.subscribe([("data/#", 0)]), [0])
        self.assertEqual(self.topics(s), ["data/ok/r"])
        anon = self.login(None)
        anon.subscribe([("data/#", 0)])
        self.assertEqual(self.topics(anon), [])

    def test_anonymous_section(self):
        anon = self.login(None)
        anon.subscribe([("#", 0)])
        p = self.login("pub")
        p.publish("public/news", b"m")       # anonymous clients read public/#
        p.publish("both/x", b"m")            # but nothing else
        anon.publish("public/own", b"m")     # and write nothing
        p.ping()
        anon.ping()
        self.assertEqual(self.topics(anon), ["public/news"])
        eve = self.login("eve")              # a user without a section:
        eve.subscribe([("#", 0)])            # patterns only
        p.publish("public/news", b"m")
        self.assertEqual(self.topics(eve), [])

    def test_username_pattern(self):
        eve = self.login("eve")
        eve.subscribe([("home/#", 0)])
        sub = self.login("sub")
        eve.publish("home/eve/a", b"m")      # her own home: write and read
        sub.publish("home/eve/b", b"m")      # sub may not write eve's home
        sub.publish("home/sub/c", b"m")      # eve may not read sub's home
        sub.ping()
        self.assertEqual(self.topics(eve), ["home/eve/a"])

    def test_client_id_pattern_and_wildcards_in_names(self):
        ok = self.login("eve", cid="cid1")
        ok.subscribe([("will/#", 0)])
        bad_id = self.login("eve", cid="cid+1")
        bad_id.subscribe([("will/#", 0)])
        bad_user = self.login("u+x")
        bad_user.subscribe([("will/#", 0)])
        w = self.login("eve", cid="cid2")
        w.publish("will/cid2", b"m")         # will/%c: its own
        w.publish("will/cid1", b"m")         # not another client's
        w.ping()
        # A '+' or '#' in the client id or username stops every pattern.
        self.assertEqual(self.topics(ok), ["will/cid2"])
        self.assertEqual(self.topics(bad_id), [])
        self.assertEqual(self.topics(bad_user), [])

    def test_refused_will_is_dropped(self):
        s = self.login("sub")
        s.subscribe([("will/#", 0)])
        for v5 in (False, True):
            bad = self.login("eve", v5=v5, cid="wc", will={"topic": "will/other", "payload": b"x"})
            bad.abort()
        good = self.login("eve", cid="wc", will={"topic": "will/wc", "payload": b"x"})
        good.abort()
        self.assertEqual(self.topics(s, 1.0), ["will/wc"])


class AclMosquittoTest(AclCase):
    """The same cases against Mosquitto 2.0.11, so that each expectation
    above is Mosquitto's behaviour, not a guess."""
    binary = MOSQUITTO


class AclFileErrorTest(unittest.TestCase):
    def test_bad_acl_line_stops_both_brokers_naming_file_and_line(self):
        tmp = tempfile.TemporaryDirectory(prefix="mqacl-")
        self.addCleanup(tmp.cleanup)
        os.chmod(tmp.name, 0o755)
        acl = os.path.join(tmp.name, "acl")
        with open(acl, "w") as f:
            f.write("user a\ntopic read ok\ntopic readd x/y\n")
        conf = os.path.join(tmp.name, "c.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nacl_file %s\n" % (free_port(), acl))
        r = subprocess.run([os.environ["MUSQRATT_BIN"], "-c", conf], capture_output=True,
                           timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(("%s:3:" % acl).encode(), r.stderr + r.stdout)
        self.assertIn(b"readd", r.stderr + r.stdout)
        r = subprocess.run([MOSQUITTO, "-c", conf], capture_output=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    main()

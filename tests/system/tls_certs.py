"""Test certificates made at test time with the openssl command line.

Owns: a temporary directory with a CA, a server certificate for 127.0.0.1 and
localhost, client certificates (one of them revoked) and a CRL that revokes
it. Nothing here is committed: every run makes fresh keys, and the directory
is removed by cleanup().

Never: touches anything outside its temporary directory.
"""

import os
import shutil
import subprocess
import tempfile

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

_CA_CNF = """
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
certificate = {dir}/ca.crt
private_key = {dir}/ca.key
serial = {dir}/serial
crlnumber = {dir}/crlnumber
default_md = sha256
default_crl_days = 2
policy = any
[ any ]
commonName = supplied
"""


def available():
    return os.path.exists(OPENSSL)


class TestPKI:
    """ca.crt, server.crt/key, client.crt/key (CN=alice), revoked.crt/key
    (CN=mallory, revoked in crl.pem), other_ca.crt/key and stranger.crt/key
    (a client signed by a CA the broker does not trust)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="musqratt-pki-")
        try:
            self._make()
        except Exception:
            self.cleanup()
            raise

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        subprocess.run([OPENSSL] + list(args), cwd=self.dir, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _key_and_csr(self, name, subj):
        self._run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj)

    def _ca(self, name, subj):
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", name + ".key", "-out", name + ".crt", "-days", "2",
                  "-subj", subj,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _sign(self, name, ca, ext):
        with open(self.path(name + ".ext"), "w") as f:
            f.write(ext)
        self._run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey",
                  ca + ".key", "-CAcreateserial", "-out", name + ".crt", "-days", "2",
                  "-sha256", "-extfile", name + ".ext")

    def _make(self):
        self._ca("ca", "/O=musqratt tests/CN=musqratt test CA")
        self._ca("other_ca", "/O=elsewhere/CN=untrusted CA")
        self._key_and_csr("server", "/O=musqratt tests/CN=localhost")
        self._sign("server", "ca", "basicConstraints=CA:FALSE\n"
                   "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n")
        client_ext = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
        self._key_and_csr("client", "/C=XX/O=musqratt tests/CN=alice")
        self._sign("client", "ca", client_ext)
        self._key_and_csr("revoked", "/O=musqratt tests/CN=mallory")
        self._sign("revoked", "ca", client_ext)
        self._key_and_csr("stranger", "/O=elsewhere/CN=stranger")
        self._sign("stranger", "other_ca", client_ext)
        # A CRL revoking "revoked": `openssl ca` needs its little database.
        with open(self.path("ca.cnf"), "w") as f:
            f.write(_CA_CNF.format(dir=self.dir))
        open(self.path("index.txt"), "w").close()
        with open(self.path("crlnumber"), "w") as f:
            f.write("01\n")
        with open(self.path("serial"), "w") as f:
            f.write("1000\n")
        self._run("ca", "-config", "ca.cnf", "-revoke", "revoked.crt")
        self._run("ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

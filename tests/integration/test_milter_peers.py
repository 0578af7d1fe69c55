#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The milter plugin with the milters people run (interop).

- OpenDKIM (Debian `opendkim`), started by the test with a configuration
  and an RSA key of its own on a loopback port, signs what vsmtpd receives:
  the delivered message carries a DKIM-Signature that python3-dkim (run by
  Debian's /usr/bin/python3) verifies with the test's public key.

- rspamd (Debian `rspamd`), its proxy worker in milter mode with a
  configuration of the test's own (LOCAL_CONFDIR in a temporary folder: the
  proxy scans by itself, no normal or controller worker, no Redis): the GTUBE
  test message is refused with rspamd's own reply, an ordinary one is
  delivered with the headers rspamd adds.

Both milters run in the foreground as children of the test and are stopped
whatever happens.
"""

import base64
import os
import subprocess
import tempfile

import vsmtpd_fixture as fx
from test_milter import SYSTEM_PYTHON, PeerProcess, peer_env
from test_plugins import PluginTestCase

OPENDKIM = "/usr/sbin/opendkim"

VERIFY = r"""
import sys, dkim
record = sys.argv[1].encode()
message = sys.stdin.buffer.read()
ok = dkim.verify(message, dnsfunc=lambda name, timeout=5:
                 record if name == b"test._domainkey.example.org." else None)
print("verified" if ok else "failed")
"""


class OpenDkim(PeerProcess):
    name = "OpenDKIM"

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtp-opendkim-")
        self.key = os.path.join(self.tmp, "test.private")
        subprocess.run(["openssl", "genrsa", "-out", self.key, "2048"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        der = subprocess.run(["openssl", "rsa", "-in", self.key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.record = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
        self.port = fx.free_port()
        conf = os.path.join(self.tmp, "opendkim.conf")
        with open(conf, "w") as f:
            f.write(f"Syslog no\nBackground no\nSocket inet:{self.port}@127.0.0.1\n"
                    f"Domain example.org\nSelector test\nKeyFile {self.key}\n"
                    "Mode s\nCanonicalization relaxed/simple\n"
                    f"PidFile {self.tmp}/opendkim.pid\nRequireSafeKeys no\n"
                    "InternalHosts 127.0.0.1\n")
        self.start([OPENDKIM, "-f", "-x", conf])


class Rspamd(PeerProcess):
    name = "rspamd"

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtp-rspamd-")
        self.port = fx.free_port()
        for sub in ("local.d", "db", "run", "log"):
            os.mkdir(os.path.join(self.tmp, sub))
        local = os.path.join(self.tmp, "local.d")
        files = {
            "worker-proxy.inc": f'bind_socket = "127.0.0.1:{self.port}";\nmilter = yes;\n'
                                'timeout = 120s;\nupstream "local" {\n  default = yes;\n'
                                '  self_scan = yes;\n}\n',
            "worker-normal.inc": "enabled = false;\n",
            "worker-controller.inc": "enabled = false;\n",
            "worker-fuzzy.inc": "enabled = false;\n",
            "logging.inc": 'type = "file";\nfilename = "' + self.tmp + '/log/rspamd.log";\n'
                           'level = "error";\n',
            # headers for mail from loopback too
            "milter_headers.conf": 'use = ["x-spamd-result", "x-rspamd-queue-id"];\n'
                                   "skip_local = false;\nskip_authenticated = false;\n",
        }
        for name, text in files.items():
            with open(os.path.join(local, name), "w") as f:
                f.write(text)
        cmd = ["rspamd", "-f", "-i", "-c", "/etc/rspamd/rspamd.conf",
               f"--var=LOCAL_CONFDIR={self.tmp}", f"--var=DBDIR={self.tmp}/db",
               f"--var=RUNDIR={self.tmp}/run", f"--var=LOGDIR={self.tmp}/log"]
        # loading its rules takes rspamd a few seconds (its workers are in
        # its process group, stopped with it)
        self.start(cmd, timeout=90)


GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


class PeerMilterTestCase(PluginTestCase):
    """vsmtpd with the milter and maildir plugins, and the milter
    ``peer_class()`` started for the class (``cls.peer``, named ``name``)"""

    plugins = ("milter", "maildir")
    peer_class = None
    name = None

    @classmethod
    def setUpClass(cls):
        cls.peer = cls.peer_class()
        cls.extra_config = f"[milter]\nmilters={cls.name}=inet:127.0.0.1:{cls.peer.port}\n"
        try:
            super().setUpClass()
        except Exception:
            cls.peer.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.peer.stop()


class RspamdTest(PeerMilterTestCase):
    peer_class = Rspamd
    name = "rspamd"

    def send(self, body):
        s = self.smtp()
        self.assertEqual(s.mail("alice@example.org")[0], 250)
        self.assertEqual(s.rcpt("bob@example.com")[0], 250)
        try:
            return s.data(("From: alice@example.org\r\nTo: bob@example.com\r\n"
                           "Subject: rspamd\r\n\r\n" + body + "\r\n").encode())
        except Exception as e:  # smtplib raises for a refusal
            return e.smtp_code, e.smtp_error

    def test_gtube_rejected_with_rspamds_reply(self):
        code, text = self.send(GTUBE)
        self.assertEqual((code, text), (554, b"5.7.1 Gtube pattern"))
        self.assertNothingDelivered()
        self.assertIn("milter rspamd replies 554 5.7.1 Gtube pattern", self.log())

    def test_ordinary_message_gets_rspamds_headers(self):
        code, text = self.send("An ordinary message, nothing to see here.")
        self.assertEqual(code, 250, text)
        (delivered,) = self.daemon.delivered()
        self.assertRegex(delivered, rb"\r\nX-Spamd-Result: default: False \[[-0-9.]+ / 15\.00\];")
        self.assertRegex(delivered, rb"\r\nX-Rspamd-Queue-Id: \S+\r\n")


class OpenDkimTest(PeerMilterTestCase):
    peer_class = OpenDkim
    name = "opendkim"

    def verify(self, message):
        return subprocess.run([SYSTEM_PYTHON, "-c", VERIFY, self.peer.record], env=peer_env(),
                              input=message, capture_output=True, check=True).stdout.decode().strip()

    def test_signed_and_verified(self):
        s = self.smtp()
        body = "".join(f"line {i} of a message signed by OpenDKIM\r\n" for i in range(3000))
        msg = ("From: Alice <alice@example.org>\r\nTo: bob@example.com\r\n"
               "Subject: signed through the milter plugin\r\n"
               "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
               "Message-ID: <dkim-test@example.org>\r\n\r\n" + body)
        code, text = s.data(msg.encode()) if s.mail("alice@example.org")[0] == 250 and \
            s.rcpt("bob@example.com")[0] == 250 else (None, None)
        self.assertEqual(code, 250, text)
        (delivered,) = self.daemon.delivered()
        self.assertIn(b"\r\nDKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example.org;",
                      delivered)
        # what the delivery plugin stored verifies (Return-Path is not signed)
        self.assertEqual(self.verify(delivered), "verified")
        # and a change after signing does not
        tampered = delivered.replace(b"line 2999 of", b"line 2999 in")
        self.assertEqual(self.verify(tampered), "failed")

    def test_foreign_domain_not_signed(self):
        s = self.smtp()
        s.mail("carol@elsewhere.example")
        s.rcpt("bob@example.com")
        code, text = s.data(b"From: carol@elsewhere.example\r\nSubject: x\r\n\r\nbody\r\n")
        self.assertEqual(code, 250, text)
        (delivered,) = self.daemon.delivered()
        self.assertNotIn(b"DKIM-Signature:", delivered)


if __name__ == "__main__":
    fx.main()

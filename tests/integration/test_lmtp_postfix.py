#!/usr/bin/python3
"""Postfix delivering to vsmtpd through its lmtp(8) client, over a UNIX
socket and over TCP: three recipients, one of them unknown to the maildir
plugin's path-map. Postfix's own log must show two delivered (status=sent)
and one bounced with vsmtpd's reply, and the maildirs the two copies.

Postfix runs as a private instance of the test's own: its main.cf and
master.cf, queue and data folders in a temporary folder, its log in a file
there (maillog_file, written by postlogd), mail taken in by an smtpd on a
loopback port. `postfix -c DIR start` needs root (the master runs as root,
its daemons as mail_owner `postfix`): without root, or without Postfix, the
test is skipped. Postfix is stopped whatever happens (stop, then abort,
then the master's pid from its lock file)."""

import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time

import vsmtpd_fixture as fx

POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin:/bin")
WAIT = 60.0        # how long Postfix may take to deliver (a busy machine)

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.vsmtpd-test.example
mydomain = vsmtpd-test.example
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.org
smtpd_recipient_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
biff = no
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
# everything goes to vsmtpd through LMTP
default_transport = lmtp:{destination}
relay_transport = lmtp:{destination}
lmtp_connect_timeout = 10s
"""

MASTER_CF = """\
{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance whose default transport is @destination
    (`unix:/path` or `inet:127.0.0.1:PORT`)."""

    def __init__(self, destination):
        self.dir = tempfile.mkdtemp(prefix="vsmtpd-postfix-")
        self.conf = os.path.join(self.dir, "conf")
        self.log = os.path.join(self.dir, "maillog")
        self.port = fx.free_port()
        os.chmod(self.dir, 0o755)
        for sub in ("conf", "queue", "data"):
            os.mkdir(os.path.join(self.dir, sub))
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, destination=destination))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=f"127.0.0.1:{self.port}"))

    def postfix(self, *args, check=True):
        # the master inherits what postfix(1) is given: a file, not a pipe
        # a reader would wait on
        with open(os.path.join(self.dir, "postfix.out"), "ab") as out:
            r = subprocess.run([POSTFIX, "-c", self.conf, *args], stdin=subprocess.DEVNULL,
                               stdout=out, stderr=out, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"postfix {' '.join(args)} failed ({r.returncode}):\n"
                                 + self.text("postfix.out") + self.text("maillog"))

    def text(self, name):
        try:
            with open(os.path.join(self.dir, name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self):
        self.postfix("check")
        self.postfix("start")
        deadline = time.monotonic() + WAIT
        while fx.port_is_free(self.port):
            if time.monotonic() > deadline:
                raise AssertionError("Postfix's smtpd does not listen:\n" + self.text("maillog"))
            time.sleep(0.1)

    def stop(self):
        self.postfix("stop", check=False)
        lock = os.path.join(self.dir, "data", "master.lock")
        try:
            with open(lock) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        self.postfix("abort", check=False)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def send(self, recipients, message):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=fx.IO_TIMEOUT) as s:
            # a null sender: the bounce is not sent anywhere
            refused = s.sendmail("", recipients, message)
        return refused

    def wait_for_results(self, recipients):
        """The maillog lines of the lmtp client for each recipient."""
        deadline = time.monotonic() + WAIT
        while True:
            lines = [l for l in self.text("maillog").splitlines() if "postfix/lmtp[" in l]
            found = {r: [l for l in lines if f"to=<{r}>" in l and "status=" in l]
                     for r in recipients}
            if all(found.values()):
                return {r: v[0] for r, v in found.items()}
            if time.monotonic() > deadline:
                raise AssertionError("Postfix did not log every recipient:\n"
                                     + self.text("maillog"))
            time.sleep(0.2)


MESSAGE = (b"From: <sender@client.example>\r\n"
           b"Subject: through Postfix and LMTP\r\n"
           b"\r\n"
           b"Hello.\r\n")


class PostfixLmtpTest(fx.unittest.TestCase):

    def setUp(self):
        if POSTFIX is None:
            self.skipTest("postfix is not installed")
        if os.geteuid() != 0:
            self.skipTest("a private Postfix instance needs root (postfix start)")
        self.mail = tempfile.mkdtemp(prefix="vsmtpd-lmtp-mail-")
        self.addCleanup(shutil.rmtree, self.mail, True)
        users = os.path.join(self.mail, "users")
        with open(users, "w") as f:
            f.write(f"alice@example.org {self.mail}/alice\n"
                    f"bob@example.org {self.mail}/bob\n")
        self.vsmtpd = fx.Vsmtpd()
        self.addCleanup(self.vsmtpd.cleanup)
        # Postfix's lmtp client (user postfix) must reach the socket
        os.chmod(self.vsmtpd.tmpdir, 0o755)
        self.socket = os.path.join(self.vsmtpd.tmpdir, "lmtp.sock")
        self.lmtp_port = fx.free_port()
        # the [listener] section docs/deploying.md shows
        self.vsmtpd.extra_config = (f"[listener lmtp]\n"
                                    f"listen=unix:{self.socket};127.0.0.1:{self.lmtp_port}\n"
                                    "protocol=lmtp\n"
                                    "socket-mode=0660\n"
                                    "socket-group=postfix\n"
                                    f"[maildir]\npath-map={users}\n")
        self.vsmtpd.start()

    def deliver_through_postfix(self, destination, relay):
        postfix = Postfix(destination)
        self.addCleanup(postfix.cleanup)
        postfix.start()
        recipients = ["alice@example.org", "nobody@example.org", "bob@example.org"]
        self.assertEqual(postfix.send(recipients, MESSAGE), {})
        results = postfix.wait_for_results(recipients)
        for rcpt in ("alice@example.org", "bob@example.org"):
            self.assertIn("status=sent (250 2.0.0 Ok: queued as ", results[rcpt])
            self.assertIn(f"relay={relay}", results[rcpt])
        self.assertIn("dsn=5.1.1, status=bounced", results["nobody@example.org"])
        self.assertIn("said: 550 5.1.1 <nobody@example.org>: Recipient address rejected: "
                      "no such mailbox (in reply to end of DATA command)",
                      results["nobody@example.org"])
        # one copy, hard-linked into both maildirs, with Postfix's Received:
        # header and none of vsmtpd's
        copies = [os.path.join(self.mail, u, "new", n)
                  for u in ("alice", "bob") for n in os.listdir(os.path.join(self.mail, u, "new"))]
        self.assertEqual(len(copies), 2, copies)
        self.assertEqual(os.stat(copies[0]).st_ino, os.stat(copies[1]).st_ino)
        with open(copies[0], "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"Return-Path: <>\r\nReceived: from "), data)
        self.assertEqual(len(re.findall(rb"^Received:", data, re.M)), 1, data)
        self.assertIn(b"by postfix.vsmtpd-test.example (Postfix)", data)
        self.assertTrue(data.endswith(b"\r\n\r\nHello.\r\n"), data)
        self.assertFalse(os.path.exists(os.path.join(self.mail, "nobody")))
        # vsmtpd logged the three replies
        log = self.vsmtpd.stderr_text()
        self.assertIn('LMTP to=<nobody@example.org> result="550 5.1.1', log)
        self.assertEqual(log.count('result="250 2.0.0 Ok: queued as'), 2, log)

    def test_unix_socket(self):
        self.deliver_through_postfix(f"unix:{self.socket}", f"postfix.vsmtpd-test.example[{self.socket}]")

    def test_tcp(self):
        self.deliver_through_postfix(f"inet:127.0.0.1:{self.lmtp_port}",
                                     f"127.0.0.1[127.0.0.1]:{self.lmtp_port}")


if __name__ == "__main__":
    fx.main()

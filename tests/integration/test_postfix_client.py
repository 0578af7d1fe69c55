#!/usr/bin/python3
"""Postfix's SMTP client relays to vsmtpd: a private Postfix instance, with
vsmtpd (maildir plugin) as its relayhost behind a recorder
(mta_fixture.WireRecorder) that keeps the bytes on the wire.

How Postfix is run
------------------
The installed postfix package (also the relay tests' smtp-sink), as an
instance of the test's own: ``postfix -c <dir>/conf start`` with a main.cf
and master.cf written here (queue_directory, data_directory and
maillog_file in the temporary folder, no listening service, every service
unchrooted, ``relayhost = [127.0.0.1]:<recorder port>``, no TLS,
smtputf8_enable), messages submitted with ``sendmail -C <dir>/conf``
(``-N``/``-R``/``-V`` for DSN), and ``postfix -c <dir>/conf stop`` (then
``abort`` and a kill of the master if need be) whatever happens. Postfix's
master runs as root and its daemons as the postfix user, and a
non-default configuration directory is honoured for root only (or when the
default main.cf lists it in alternate_config_directories), so these tests
need root; run as another user they are skipped, saying so.

The tests wait for Postfix's queue to be empty (``postqueue -j``) before
looking at what vsmtpd stored, so that a notice Postfix would send back
(a "relayed" DSN, a bounce) is counted too.
"""

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import mta_fixture as mta
import vsmtpd_fixture as fx
from test_plugins import PluginTestCase

POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
POSTQUEUE = "/usr/sbin/postqueue"
POSTFIX_HOST = "postfix.client.example"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
mail_owner = postfix
setgid_group = postdrop
myhostname = {host}
mydomain = client.example
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
relayhost = [127.0.0.1]:{port}
default_transport = smtp
relay_transport = smtp
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = yes
smtp_tls_security_level = none
smtp_host_lookup = native
biff = no
"""

# No inet service: the instance only sends. chroot "n" everywhere, so that
# the smtp client needs nothing copied into the queue directory.
MASTER_CF = """\
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
showq     unix  n       -       n       -       -       showq
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance in a temporary folder."""

    def __init__(self, relay_port):
        if os.geteuid() != 0:
            raise unittest.SkipTest(
                "a private Postfix instance (postfix -c DIR) runs its master as root: "
                "run the interop tier as root")
        self.dir = tempfile.mkdtemp(prefix="vsmtpd-postfix-")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "conf")
        os.mkdir(self.conf)
        os.mkdir(os.path.join(self.dir, "queue"))
        data = os.path.join(self.dir, "data")
        os.mkdir(data)
        owner = pwd.getpwnam("postfix")
        os.chown(data, owner.pw_uid, owner.pw_gid)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, host=POSTFIX_HOST, port=relay_port))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        self.started = False

    def run(self, args, **kw):
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=mta.DEADLINE, **kw)

    def start(self):
        r = self.run([POSTFIX, "-c", self.conf, "start"])
        self.started = True
        if r.returncode != 0:
            raise AssertionError(f"postfix start failed: {r.stdout!r}\n{self.log()}")
        mta.wait_for(self.master_pid, "Postfix's master pid file")

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "queue", "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def sendmail(self, sender, rcpts, content, options=()):
        """Submits ``content`` (bytes, LF or CRLF line ends) with Postfix's
        sendmail (-i: a lone dot is content); the recipients are given on the
        command line."""
        r = self.run([SENDMAIL, "-C", self.conf, "-i", "-f", sender, *options, "--", *rcpts],
                     input=content)
        if r.returncode != 0:
            raise AssertionError(f"sendmail failed ({r.returncode}): {r.stdout!r}\n"
                                 + self.log())

    def queue_empty(self):
        r = self.run([POSTQUEUE, "-c", self.conf, "-j"])
        return r.returncode == 0 and r.stdout.strip() == b""

    def queue(self):
        r = self.run([POSTQUEUE, "-c", self.conf, "-j"])
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

    def deferred(self):
        """The reasons Postfix gives for recipients it keeps in its queue."""
        return [r["delay_reason"] for m in self.queue() for r in m.get("recipients", [])
                if r.get("delay_reason")]

    def log(self):
        try:
            with open(os.path.join(self.dir, "maillog"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return "(no Postfix log)"

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        try:
            self.run([POSTFIX, "-c", self.conf, "stop"])
        except subprocess.TimeoutExpired:
            pass
        if pid is not None:
            end = time.monotonic() + 60
            while time.monotonic() < end and self.master_pid() == pid:
                time.sleep(0.1)
            if self.master_pid() == pid:
                try:
                    self.run([POSTFIX, "-c", self.conf, "abort"])
                except subprocess.TimeoutExpired:
                    pass
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except OSError:
                    pass
        self.started = False

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


SENDER = "alice@client.example"
RCPT = "bob@example.net"

HEADERS = (b"Date: Thu, 03 Dec 2026 10:00:00 +0000\n"
           b"Message-ID: <interop-2@client.example>\n"
           b"From: Alice <alice@client.example>\n")

PLAIN = (HEADERS
         + b"To: Bob <bob@example.net>\n"
         b"Subject: Postfix to vsmtpd\n"
         b"\n"
         b"Plain text.\n"
         b".a line with a leading dot\n"
         b".\n"
         b"caf\xc3\xa9\n"
         b"last line\n")

UTF8_RCPT = "b\u00f8b@\u00e9xample.net"            # bøb@éxample.net
UTF8_MESSAGE = (HEADERS
                + b"To: " + UTF8_RCPT.encode() + b"\n"
                b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\n"
                b"\n"
                b"Gr\xc3\xbc\xc3\x9fe.\n")


def crlf(content):
    return content.replace(b"\n", b"\r\n")


class PostfixTestCase(mta.RecorderMixin, PluginTestCase):
    """A vsmtpd and a recorder per class, a Postfix instance per test."""

    def setUp(self):
        super().setUp()
        self.postfix = Postfix(self.recorder.port)
        self.addCleanup(self.postfix.cleanup)
        self.postfix.start()

    def relay(self, content, rcpts=(RCPT,), sender=SENDER, options=()):
        """Submit, wait until Postfix's queue is empty and every connection
        to vsmtpd is over; returns (delivered files, wire transactions)."""
        self.postfix.sendmail(sender, list(rcpts), content, options)
        try:
            mta.wait_for(lambda: self.postfix.deferred() or self.daemon.delivered(),
                         "a message in vsmtpd's maildir")
            mta.wait_for(lambda: self.postfix.deferred() or self.postfix.queue_empty(),
                         "Postfix's empty queue")
        except AssertionError as e:
            raise AssertionError(f"{e}\nPostfix's log:\n{self.postfix.log()}\n"
                                 f"Postfix's queue: {self.postfix.queue()}\nvsmtpd's log:\n"
                                 + self.daemon.stderr_text()[-3000:]) from None
        deferred = self.postfix.deferred()
        self.assertEqual(deferred, [], "Postfix deferred a message:\n"
                         + self.daemon.stderr_text()[-3000:])
        # Postfix may keep the connection open a moment (connection cache)
        self.postfix.stop()
        sessions = mta.wait_for(self.recorder.finished_client_bytes, "Postfix's connections")
        messages = [m for s in sessions for m in mta.client_messages(s)]
        files = self.daemon.delivered()
        self.assertEqual(len(files), len(messages), self.postfix.log())
        return files, messages

    def assertPostfixDelivery(self, stored, wire, content):
        header, rest = fx.split_received(stored)
        self.assertBytesEqual(rest, wire.content)
        postfix_received, original = mta.strip_header(rest, "Received")
        self.assertIn(b"by " + POSTFIX_HOST.encode() + b" (Postfix", postfix_received)
        self.assertBytesEqual(original, crlf(content))
        return header


class PostfixRelayTest(PostfixTestCase):

    def test_plain_message_byte_exact(self):
        files, messages = self.relay(PLAIN)
        self.assertEqual(len(files), 1, self.postfix.log())
        header = self.assertPostfixDelivery(files[0], messages[0], PLAIN)
        fx.check_received(self, header, rcpt=RCPT, helo=POSTFIX_HOST)
        self.assertTrue(messages[0].mail().startswith(b"MAIL FROM:<alice@client.example>"))
        self.assertEqual(len(messages[0].rcpts()), 1)
        self.assertTrue(messages[0].rcpts()[0].startswith(b"RCPT TO:<bob@example.net>"))


# A handler that writes what vsmtpd recorded of each message's envelope
# (the typed DSN accessors, SMTPUTF8) as a JSON line, then lets the maildir
# plugin deliver it.
RECORD_PLUGIN = """
    def on_new_session(self, server, session):
        session.connect('message-received', self.on_message)

    def on_message(self, session, message):
        import json
        e = session.get_envelope()
        rcpts = []
        for i in range(e.get_n_recipients()):
            has, kind, addr = e.get_recipient_dsn_orcpt(i)
            rcpts.append({'address': e.get_recipient(i).to_string(),
                          'notify': int(e.get_recipient_dsn_notify(i)),
                          'orcpt': [kind, addr] if has else None})
        record = {'ret': e.get_dsn_ret().value_nick,
                  'envid': e.dup_dsn_envid(),
                  'smtputf8': e.get_smtputf8(),
                  'sender': e.get_sender().to_string(),
                  'rcpts': rcpts}
        with open(%r, 'a', encoding='utf-8') as f:
            f.write(json.dumps(record) + '\\n')
        return Vsmtp.Reply.new_continue()
"""


class PostfixExtensionsTest(PostfixTestCase):
    """Postfix passes DSN parameters and SMTPUTF8 on to vsmtpd, which offers
    both, and vsmtpd records them (a handler writes the envelope's typed
    accessors, Received says UTF8SMTP)."""

    plugins = ("record", "maildir")

    @classmethod
    def setUpClass(cls):
        cls.records_dir = tempfile.mkdtemp(prefix="vsmtpd-records-")
        cls.records = os.path.join(cls.records_dir, "records.json")
        cls.python_plugins = {"record": RECORD_PLUGIN % cls.records}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.records_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        if os.path.exists(self.records):
            os.unlink(self.records)

    def recorded(self):
        with open(self.records, encoding="utf-8") as f:
            return [json.loads(l) for l in f]

    def test_dsn_parameters_relayed_and_recorded(self):
        files, messages = self.relay(
            PLAIN, options=("-N", "success,failure", "-R", "hdrs", "-V", "env+id=1"))
        ehlo = self.recorder.server_bytes()[0]
        self.assertRegex(ehlo, rb"\r\n250[- ]DSN\r\n", "vsmtpd did not offer DSN")
        # vsmtpd offers DSN: Postfix passes the request on and sends no
        # "relayed" notice of its own, so one message only
        self.assertEqual(len(files), 1, self.postfix.log())
        mail, rcpts = messages[0].mail(), messages[0].rcpts()
        self.assertIn(b" RET=HDRS", mail)
        self.assertIn(b" ENVID=env+2Bid+3D1", mail)
        self.assertEqual(len(rcpts), 1)
        self.assertIn(b" NOTIFY=SUCCESS,FAILURE", rcpts[0])
        self.assertIn(b" ORCPT=rfc822;bob@example.net", rcpts[0])
        self.assertPostfixDelivery(files[0], messages[0], PLAIN)
        self.assertEqual(self.recorded(), [{
            "ret": "hdrs", "envid": "env+id=1", "smtputf8": False,
            "sender": SENDER,
            "rcpts": [{"address": RCPT, "notify": 2 | 4,    # SUCCESS | FAILURE
                       "orcpt": ["rfc822", RCPT]}]}])

    def test_smtputf8_relayed_and_recorded(self):
        files, messages = self.relay(UTF8_MESSAGE, rcpts=(UTF8_RCPT,))
        ehlo = self.recorder.server_bytes()[0]
        self.assertRegex(ehlo, rb"\r\n250[- ]SMTPUTF8\r\n", "vsmtpd did not offer SMTPUTF8")
        self.assertEqual(len(files), 1, self.postfix.log())   # no bounce
        self.assertIn(b" SMTPUTF8", messages[0].mail())
        self.assertEqual(len(messages[0].rcpts()), 1)
        self.assertTrue(messages[0].rcpts()[0].startswith(
            b"RCPT TO:<" + UTF8_RCPT.encode() + b">"), messages[0].rcpts())
        header = self.assertPostfixDelivery(files[0], messages[0], UTF8_MESSAGE)
        unfolded = re.sub(rb"\r\n[ \t]+", b" ", header)
        self.assertRegex(unfolded, rb"\swith UTF8SMTP(\s|;)", unfolded)
        records = self.recorded()
        self.assertEqual(len(records), 1, records)
        self.assertTrue(records[0]["smtputf8"], records)
        self.assertEqual([r["address"] for r in records[0]["rcpts"]], [UTF8_RCPT])


if __name__ == "__main__":
    fx.main()

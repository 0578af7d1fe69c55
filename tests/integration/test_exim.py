#!/usr/bin/python3
"""Exim 4 as vsmtpd's client: Exim's smtp transport delivers to vsmtpd
(maildir plugin), through a recorder (mta_fixture.WireRecorder) that keeps
the bytes on the wire.

How Exim is run
---------------
Exim and Postfix conflict as Debian packages (both provide
mail-transport-agent) and Postfix is installed for the other interop tests,
so Exim is not installed: scripts/fetch-exim.sh (run by scripts/setup.sh)
downloads exim4-daemon-light, exim4-base and exim4-config with
``apt-get download`` and unpacks them with ``dpkg-deb -x`` into
``$VSMTP_EXIM_DIR`` (default /var/cache/vsmtp-test/exim), with a copy of the
binary without its set-uid bit (``exim4`` there).

Each test class runs that binary as ``exim4 -C <config> -odi -bs``: ``-C``
names the test's own configuration in a temporary folder (spool, logs and
pid file there too), ``-bs`` reads one SMTP session from stdin (the test
types it: EHLO, MAIL with SMTPUTF8 when wanted, RCPT, DATA), and ``-odi``
delivers at once, in the foreground. The configuration routes every
address through a manualroute router to an smtp transport pointing at the
recorder in front of vsmtpd (``hosts_try_chunking = *``, so Exim uses BDAT
whenever vsmtpd offers CHUNKING; no TLS).

Exim runs unprivileged. Debian's binary looks its own user up by name
(``Debian-exim``, compiled in) before reading any configuration, and that
account only exists where the package is installed; so the test starts it
with nss_wrapper (Debian package libnss-wrapper: ``LD_PRELOAD`` with
passwd and group files of the test's own) in which ``Debian-exim`` is the
user Exim runs as: the test's own user, or ``nobody`` when the tests run as
root (Exim refuses uid 0 as its user, and loses no privilege it needs:
``-C`` from a caller who is the Exim user is allowed, and a remote delivery
runs as the Exim user anyway). Debian's Exim would take ``-C`` from root
too (TRUSTED_CONFIG_LIST only matters for keeping root privilege), but then
it would switch to the Exim user for delivery, which needs the account.

Exim pipelines QUIT after the message and shuts its sending side down at
once (shutdown(SHUT_WR)); vsmtpd answers such a client
(``HalfCloseTest``).
"""

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile

import mta_fixture as mta
import vsmtpd_fixture as fx

EXIM_DIR = os.environ.get("VSMTP_EXIM_DIR", "/var/cache/vsmtp-test/exim")
EXIM = os.path.join(EXIM_DIR, "exim4")
EXIM_HELO = "exim.client.example"


def nss_wrapper():
    found = sorted(glob.glob("/usr/lib/*/libnss_wrapper.so")
                   + glob.glob("/usr/lib/libnss_wrapper.so"))
    if not found:
        raise AssertionError("libnss_wrapper.so not found: install libnss-wrapper "
                             "(scripts/setup.sh)")
    return found[0]


EXIM_CONFIG = """\
exim_path = {exim}
primary_hostname = {helo}
qualify_domain = client.example
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/exim.pid
keep_environment =
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
smtputf8_advertise_hosts = *
chunking_advertise_hosts = *
acl_smtp_rcpt = accept
acl_smtp_data = accept
message_size_limit = 0
log_selector = +all

begin routers

to_vsmtpd:
  driver = manualroute
  route_list = * 127.0.0.1
  self = send
  transport = vsmtpd

begin transports

vsmtpd:
  driver = smtp
  port = {port}
  allow_localhost
  hosts_avoid_tls = *
  hosts_try_chunking = *
  hosts_try_prdr =
  utf8_downconvert = -1
  helo_data = {helo}

begin retry

* * F,1h,1h
"""


class Exim:
    """A private Exim: its configuration, spool and logs in a temporary
    folder, run as described in the module's docstring."""

    def __init__(self, port):
        if not os.access(EXIM, os.X_OK):
            raise AssertionError(
                f"{EXIM} missing: run scripts/setup.sh (scripts/fetch-exim.sh)")
        self.dir = tempfile.mkdtemp(prefix="vsmtpd-exim-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        for sub in ("spool", "log"):
            os.mkdir(os.path.join(self.dir, sub))
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write(f"Debian-exim:x:{self.uid}:{self.gid}::{self.dir}:/bin/false\n")
        with open(os.path.join(self.dir, "group"), "w") as f:
            f.write(f"Debian-exim:x:{self.gid}:\n")
        self.config = os.path.join(self.dir, "exim.conf")
        with open(self.config, "w") as f:
            f.write(EXIM_CONFIG.format(exim=EXIM, helo=EXIM_HELO, dir=self.dir, port=port))
        os.chmod(self.config, 0o644)
        if os.geteuid() == 0:
            mta.chown_tree(self.dir, self.uid, self.gid)
        self.proc = None
        self.stderr = open(os.path.join(self.dir, "stderr"), "wb")

    def env(self):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "LD_PRELOAD": nss_wrapper(),
                "NSS_WRAPPER_PASSWD": os.path.join(self.dir, "passwd"),
                "NSS_WRAPPER_GROUP": os.path.join(self.dir, "group"),
                "HOME": self.dir}

    def popen(self, args):
        kw = {}
        if os.geteuid() == 0:
            kw = {"user": self.uid, "group": self.gid, "extra_groups": []}
        return subprocess.Popen([EXIM, "-C", self.config] + args,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=self.stderr, cwd=self.dir,
                                env=self.env(), start_new_session=True, **kw)

    def version(self):
        self.proc = self.popen(["-bV"])
        out, _ = self.proc.communicate(timeout=mta.DEADLINE)
        return out.decode("utf-8", "replace")

    def submit(self, sender, rcpts, content, mail_params=""):
        """One SMTP session on Exim's stdin (-bs): the message (bytes with
        CRLF line ends) from ``sender`` to ``rcpts``. Returns Exim's
        replies (bytes) once Exim has exited; delivery is done by then
        (-odi), successful or not."""
        self.proc = self.popen(["-odi", "-bs"])
        replies = []
        out = self.proc.stdout

        def reply():
            lines = []
            while True:
                line = out.readline()
                if not line:
                    raise AssertionError(f"Exim closed stdout; replies so far: {replies}\n"
                                         + self.log())
                lines.append(line)
                if line[3:4] != b"-":
                    replies.append(b"".join(lines))
                    return line[:3]

        def cmd(text, expect):
            self.proc.stdin.write(text + b"\r\n")
            self.proc.stdin.flush()
            code = reply()
            if code != expect:
                raise AssertionError(f"Exim answered {replies[-1]!r} to {text!r}\n"
                                     + self.log())

        try:
            reply()
            cmd(b"EHLO submitter.client.example", b"250")
            cmd(b"MAIL FROM:<" + sender.encode() + b">" + mail_params.encode(), b"250")
            for r in rcpts:
                cmd(b"RCPT TO:<" + r.encode() + b">", b"250")
            cmd(b"DATA", b"354")
            stuffed = b"\r\n".join(b"." + l if l.startswith(b".") else l
                                   for l in content.split(b"\r\n"))
            self.proc.stdin.write(stuffed + b".\r\n")
            self.proc.stdin.flush()
            if reply() != b"250":
                raise AssertionError(f"Exim refused the message: {replies[-1]!r}\n"
                                     + self.log())
            cmd(b"QUIT", b"221")
            self.proc.stdin.close()
            self.proc.wait(mta.DEADLINE)
        finally:
            self.stop()
        return replies

    def log(self):
        try:
            with open(os.path.join(self.dir, "log", "mainlog"), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            text = "(no Exim main log)"
        with open(os.path.join(self.dir, "stderr"), "rb") as f:
            return text + f.read().decode("utf-8", "replace")

    def stop(self):
        """Kills what is left of Exim: it runs in a session of its own, so
        the delivery processes it forked go with it."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()

    def cleanup(self):
        self.stop()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


SENDER = "alice@client.example"
RCPT = "bob@example.net"

# Header fields Exim would otherwise add (Date, Message-ID) are there, so
# that what Exim sends is its own Received field and then these bytes.
HEADERS = (b"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
           b"Message-ID: <interop-1@client.example>\r\n"
           b"From: Alice <alice@client.example>\r\n"
           b"To: Bob <bob@example.net>\r\n")

PLAIN = (HEADERS
         + b"Subject: Exim to vsmtpd\r\n"
         b"\r\n"
         b"Plain text.\r\n"
         b".a line with a leading dot\r\n"
         b"..and two\r\n"
         b" .\r\n"
         + b"y" * 900 + b"\r\n"
         b"last line\r\n")

# 8-bit and control bytes, a lone dot, trailing blanks: the bytes BDAT
# carries as they are (no dot-stuffing on the wire).
BINARYISH = (HEADERS
             + b"Subject: 8-bit body\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: 8bit\r\n"
             b"\r\n"
             + bytes(range(0x80, 0x100)) + b"\r\n"
             + bytes(range(0x01, 0x0a)) + b"\x0b\x0c\x0e\x0f\x1b\x7f\r\n"
             b".\r\n"
             b"..\r\n"
             b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7 \t \r\n"
             b"end\r\n")


class EximTestCase(mta.RecorderMixin, fx.VsmtpdTestCase):
    """A vsmtpd per class, a recorder in front of it, an Exim per test."""

    def setUp(self):
        super().setUp()
        self.exim = Exim(self.recorder.port)
        self.addCleanup(self.exim.cleanup)

    def deliver(self, content, sender=SENDER, rcpts=(RCPT,), mail_params=""):
        """Exim takes the message and delivers it to vsmtpd; returns
        (the delivered file, the one transaction on the wire)."""
        self.exim.submit(sender, list(rcpts), content, mail_params)
        # -odi: Exim has tried the delivery when it exits; its log says how
        # it went ("=>" delivered, "==" deferred, "**" failed)
        outcome = re.compile(r"^\S+ \S+ \[\d+\] \S+ (=>|==|\*\*) ", re.M)
        mta.wait_for(lambda: outcome.search(self.exim.log()), "Exim's delivery attempt")
        self.assertNotRegex(self.exim.log(), r"\] \S+ (==|\*\*) ",
                            "Exim did not deliver:\n" + self.exim.log()
                            + "\nvsmtpd's log:\n" + self.daemon.stderr_text()[-3000:])
        files = mta.wait_for(self.daemon.delivered, "the message in vsmtpd's maildir")
        sessions = mta.wait_for(self.recorder.finished_client_bytes, "the end of Exim's connection")
        self.assertEqual(len(files), 1, self.exim.log())
        self.assertEqual(len(sessions), 1, self.exim.log())
        messages = mta.client_messages(sessions[0])
        self.assertEqual(len(messages), 1, sessions[0][:2000])
        log = self.exim.log()
        self.assertIn("=> ", log)
        self.assertIn("Completed", log)
        return files[0], messages[0]

    def assertExactDelivery(self, stored, wire, content):
        """The file is vsmtpd's Received field, then exactly what Exim sent,
        which is Exim's Received field, then exactly ``content``."""
        header, rest = fx.split_received(stored)
        self.assertBytesEqual(rest, wire.content)
        exim_received, original = mta.strip_header(rest, "Received")
        self.assertIn(b"(Exim 4.", exim_received)
        self.assertIn(b"by " + EXIM_HELO.encode(), exim_received)
        self.assertBytesEqual(original, content)
        return header


class EximDeliveryTest(EximTestCase):

    def test_exim_build(self):
        """The unpacked Exim runs with the test's configuration and has what
        the other tests use: SMTPUTF8 support (I18N) and the smtp
        transport."""
        out = self.exim.version()
        self.assertRegex(out, r"(?m)^Exim version 4\.", out)
        self.assertRegex(out, r"(?m)^Support for:.* I18N( |$)", out)
        self.assertRegex(out, r"(?m)^Transports:.* smtp( |$)", out)

    def test_plain_message_byte_exact(self):
        stored, wire = self.deliver(PLAIN)
        header = self.assertExactDelivery(stored, wire, PLAIN)
        fx.check_received(self, header, rcpt=RCPT, helo=EXIM_HELO)
        self.assertEqual(wire.mail().split(b" ")[1], b"FROM:<" + SENDER.encode() + b">")
        self.assertEqual(wire.rcpts(), [b"RCPT TO:<" + RCPT.encode() + b">"])

    def test_two_recipients_one_transaction(self):
        rcpts = ("bob@example.net", "carol@example.com")
        stored, wire = self.deliver(PLAIN, rcpts=rcpts)
        self.assertExactDelivery(stored, wire, PLAIN)
        self.assertEqual(sorted(wire.rcpts()),
                         sorted(b"RCPT TO:<" + r.encode() + b">" for r in rcpts))


class EximChunkingTest(EximTestCase):
    """vsmtpd offers CHUNKING: Exim (hosts_try_chunking = *) sends the
    message with BDAT, and vsmtpd stores exactly the bytes of the chunks."""

    def test_bdat_binaryish_body_byte_exact(self):
        stored, wire = self.deliver(BINARYISH, mail_params=" BODY=8BITMIME")
        # (Exim does not pass BODY=8BITMIME on; BDAT carries the bytes as they are)
        ehlo = self.recorder.server_bytes()[0]
        self.assertRegex(ehlo, rb"\r\n250[- ]CHUNKING\r\n", "vsmtpd did not offer CHUNKING")
        self.assertEqual(wire.via, b"BDAT", wire.commands)
        self.assertNotIn(b"DATA", wire.commands)
        self.assertTrue(wire.commands[-1].upper().endswith(b" LAST"), wire.commands)
        self.assertExactDelivery(stored, wire, BINARYISH)
        self.assertIn("K C=", self.exim.log())   # Exim's own word: CHUNKING used


UTF8_SENDER = "j\u00f6rg@cl\u00efent.example"      # jörg@clïent.example
UTF8_RCPT = "b\u00f8b@\u00e9xample.net"             # bøb@éxample.net
UTF8_CONTENT = (b"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
                b"Message-ID: <interop-3@client.example>\r\n"
                b"From: J\xc3\xb6rg <" + UTF8_SENDER.encode() + b">\r\n"
                b"To: B\xc3\xb8b <" + UTF8_RCPT.encode() + b">\r\n"
                b"Subject: Gr\xc3\xbc\xc3\x9fe\r\n"
                b"\r\n"
                b"Gr\xc3\xbc\xc3\x9fe aus Exim.\r\n")


class EximSmtputf8Test(EximTestCase):
    """A message with UTF-8 addresses taken by Exim with SMTPUTF8 reaches
    vsmtpd with SMTPUTF8 (no downconversion: utf8_downconvert = -1 would
    fail the local part), and vsmtpd's Received field says UTF8SMTP."""

    def test_utf8_addresses_with_smtputf8(self):
        stored, wire = self.deliver(UTF8_CONTENT, sender=UTF8_SENDER,
                                    rcpts=(UTF8_RCPT,), mail_params=" SMTPUTF8")
        ehlo = self.recorder.server_bytes()[0]
        self.assertRegex(ehlo, rb"\r\n250[- ]SMTPUTF8\r\n", "vsmtpd did not offer SMTPUTF8")
        mail = wire.mail()
        self.assertTrue(mail.startswith(b"MAIL FROM:<" + UTF8_SENDER.encode() + b">"), mail)
        self.assertIn(b" SMTPUTF8", mail)
        self.assertEqual(wire.rcpts(), [b"RCPT TO:<" + UTF8_RCPT.encode() + b">"])
        header, _ = fx.split_received(stored)
        unfolded = re.sub(rb"\r\n[ \t]+", b" ", header)
        self.assertRegex(unfolded, rb"\swith UTF8SMTP(\s|;)", unfolded)
        self.assertExactDelivery(stored, wire, UTF8_CONTENT)


class HalfCloseTest(fx.VsmtpdTestCase):
    """What Exim does at the end of its last message, over a raw socket: the
    end of data, QUIT in the same write, then shutdown(SHUT_WR). vsmtpd
    still delivers and answers both; a client that leaves without QUIT
    gets nothing delivered (it was never told the message was taken)."""

    def exchange(self, tail):
        with self.client() as c:
            self.assertReply(c.cmd("EHLO half.example"), 250)
            c.send(b"MAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
            for code in (250, 250, 354):
                self.assertReply(c.reply(), code)
            c.send(b"Subject: half-close\r\n\r\nbody\r\n" + tail)
            c.sock.shutdown(socket.SHUT_WR)
            out = b""
            while True:
                chunk = c.sock.recv(65536)
                if not chunk:
                    return c.buf + out
                out += chunk

    def test_pipelined_quit_then_half_close(self):
        out = self.exchange(b".\r\nQUIT\r\n")
        lines = out.split(b"\r\n")
        self.assertTrue(lines[0].startswith(b"250 2.0.0 "), out)
        self.assertTrue(lines[1].startswith(b"221 2.0.0"), out)
        self.assertDelivered(b"Subject: half-close\r\n\r\nbody\r\n",
                             rcpt="b@example.net", helo="half.example")

    def test_half_close_without_quit_delivers_nothing(self):
        self.exchange(b".\r\n")
        self.assertNothingDelivered()


if __name__ == "__main__":
    fx.main()

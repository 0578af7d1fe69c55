#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The examples in examples/ run: Python, GJS and the Vala program built
against the generated VAPI. Each is started on an ephemeral port with a
temporary folder, driven with smtplib (and swaks), checked on its replies
and on the file it stored, and stopped with SIGINT (exit status 0).

Environment (set by meson): VSMTP_EXAMPLES_DIR (examples/ in the source
tree), VSMTP_EXAMPLE_VALA (the built Vala example, if any), GJS (the gjs
executable, if any), GI_TYPELIB_PATH and LD_LIBRARY_PATH. Prints TAP.
"""

import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)

EXAMPLES = os.environ.get(
    "VSMTP_EXAMPLES_DIR",
    os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
VALA_EXAMPLE = os.environ.get("VSMTP_EXAMPLE_VALA", "")
GJS = os.environ.get("GJS") or shutil.which("gjs") or ""
PYTHON = "/usr/bin/python3"
TIMEOUT = 20
SENDER = "alice@sender.example"
RCPT = "bob@rcpt.example"
MESSAGE = (b"From: <alice@sender.example>\r\n"
           b"To: <bob@rcpt.example>\r\n"
           b"Subject: example\r\n"
           b"\r\n"
           b"Hello from the example test.\r\n"
           b"..a stuffed dot\r\n")
QUEUED_RE = re.compile(rb"^2\.0\.0 Ok: queued as (\S+)$")


class ExampleTest:
    """Mixin; subclasses set ``command(folder)``."""

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="vsmtp-example-")
        self.addCleanup(shutil.rmtree, self.folder, ignore_errors=True)
        self.proc = subprocess.Popen(
            self.command(self.folder), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.addCleanup(self._reap)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"^listening on 127\.0\.0\.1:(\d+)$", line.strip())
        if not m:
            self.proc.kill()
            self.fail(f"no 'listening on' line: {line!r}\n"
                      f"{self.proc.stderr.read().decode(errors='replace')}")
        self.port = int(m.group(1))

    def _reap(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.port,
                         local_hostname="client.example", timeout=TIMEOUT)
        self.addCleanup(s.close)
        return s

    def stored(self, queued_text, exact=True):
        m = QUEUED_RE.match(queued_text)
        self.assertIsNotNone(m, queued_text)
        path = os.path.join(self.folder, m.group(1).decode() + ".eml")
        self.assertEqual(os.listdir(self.folder), [os.path.basename(path)])
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"Received: from client.example"),
                        data[:80])
        self.assertIn(b"by example.localhost", data)
        # The Received header is prepended, the rest is what the client
        # meant to send (it dot-stuffed "..a", the server unstuffed it).
        if exact:
            self.assertTrue(data.endswith(b"\r\n" + MESSAGE), data)
        else:
            self.assertIn(b"\r\n" + MESSAGE, data)
        return data

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("the example did not exit after SIGINT")
        stderr = self.proc.stderr.read().decode(errors="replace")
        self.assertEqual(status, 0, stderr)
        self.assertNotIn("CRITICAL", stderr)
        self.assertNotIn("ERROR", stderr)


class PerRecipientExample(ExampleTest):
    """Python and Vala: deferred sender check, rcpt-to rejection."""

    def test_session(self):
        s = self.smtp()
        s.ehlo()
        self.assertEqual(s.mail("eve@spam.example"),
                         (550, b"5.7.1 Sender refused"))
        self.assertEqual(s.mail(SENDER), (250, b"2.1.0 Sender ok"))
        self.assertEqual(s.rcpt("nobody@rcpt.example"),
                         (550, b"5.1.1 No such user"))
        self.assertEqual(s.rcpt(RCPT), (250, b"2.1.5 Ok"))
        code, text = s.data(MESSAGE)
        self.assertEqual(code, 250, text)
        self.stored(text)
        self.assertEqual(s.quit(), (221, b"2.0.0 Bye"))
        self.stop()


class PythonExampleTest(PerRecipientExample, unittest.TestCase):
    def command(self, folder):
        return [PYTHON, os.path.join(EXAMPLES, "python", "server.py"),
                folder, "0"]


@unittest.skipUnless(VALA_EXAMPLE and os.access(VALA_EXAMPLE, os.X_OK),
                     "the Vala example is not built (no valac or vapigen)")
class ValaExampleTest(PerRecipientExample, unittest.TestCase):
    def command(self, folder):
        return [VALA_EXAMPLE, folder, "0"]

    @unittest.skipUnless(shutil.which("swaks"), "swaks is not installed")
    def test_swaks(self):
        out = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(self.port),
             "--from", SENDER, "--to", RCPT, "--helo", "client.example",
             "--data", MESSAGE.decode().replace("\r\n", "\n")],
            capture_output=True, timeout=TIMEOUT, check=False)
        lines = out.stdout.split(b"\n")
        replies = [l[4:].strip() for l in lines if l.startswith(b"<")]
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(b"250 2.1.0 Sender ok", replies)
        queued = [r for r in replies if r.startswith(b"250 2.0.0 Ok: queued")]
        self.assertEqual(len(queued), 1, replies)
        # swaks adds a line end of its own after the data.
        self.stored(queued[0][4:], exact=False)
        self.stop()


@unittest.skipUnless(GJS, "gjs is not installed")
class GjsExampleTest(ExampleTest, unittest.TestCase):
    def command(self, folder):
        return [GJS, "-m", os.path.join(EXAMPLES, "gjs", "server.js"),
                folder, "0"]

    def test_session(self):
        s = self.smtp()
        s.ehlo()
        self.assertEqual(s.mail(SENDER), (250, b"2.1.0 Ok"))
        self.assertEqual(s.rcpt("nobody@rcpt.example"), (250, b"2.1.5 Ok"))
        # The deferred DATA decision refuses the transaction.
        self.assertEqual(s.docmd("DATA"), (550, b"5.1.1 No such user"))
        self.assertEqual(s.rset(), (250, b"2.0.0 Ok"))
        self.assertEqual(s.mail(SENDER), (250, b"2.1.0 Ok"))
        self.assertEqual(s.rcpt(RCPT), (250, b"2.1.5 Ok"))
        code, text = s.data(MESSAGE)
        self.assertEqual(code, 250, text)
        self.stored(text)
        self.assertEqual(s.quit(), (221, b"2.0.0 Bye"))
        self.stop()


if __name__ == "__main__":
    fx.main()

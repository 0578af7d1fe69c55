#!/usr/bin/python3
"""vsmtpd driven by real command-line clients: swaks and curl."""

import os
import shutil
import subprocess
import tempfile

import vsmtpd_fixture as fx

SENDER = "sender@clients.example"
RCPT = "rcpt@clients.example"


def run(cmd, timeout=60):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)


class ClientsTest(fx.VsmtpdTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-clients-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    # swaks converts LF to CRLF, dot-stuffs, and ends the data with
    # CRLF "." CRLF; a file without a final newline arrives as its lines
    # with CRLF line ends.
    SWAKS_DATA = (b"From: <" + SENDER.encode() + b">\n"
                  b"To: <" + RCPT.encode() + b">\n"
                  b"Subject: swaks test\n"
                  b"\n"
                  b"first line\n"
                  b".a line starting with a dot\n"
                  b"..two dots\n"
                  b"last line")

    def swaks(self, *extra):
        if shutil.which("swaks") is None:
            self.skipTest("swaks is not installed")
        path = self.write("swaks.eml", self.SWAKS_DATA)
        cmd = ["swaks", "--server", "127.0.0.1",
               "--port", str(self.daemon.port),
               "--ehlo", "swaks.client.example",
               "--from", SENDER, "--to", RCPT,
               "--data", "@" + path, *extra]
        return run(cmd)

    def expected_swaks(self):
        return self.SWAKS_DATA.replace(b"\n", b"\r\n") + b"\r\n"

    def check_swaks_output(self, out):
        # Server replies are the lines swaks prefixes with "<-" ("<~" for
        # TLS, "<**" for errors).
        replies = [l[3:].strip() for l in out.splitlines()
                   if l.startswith(b"<-")]
        errors = [l for l in out.splitlines() if l.startswith(b"<**")]
        self.assertEqual(errors, [], out.decode(errors="replace"))
        codes = [r[:3] for r in replies]
        self.assertEqual(codes[0], b"220", out)
        # EHLO, MAIL, RCPT, (DATA 354), end of data 250, QUIT 221
        self.assertIn(b"354", codes, out)
        i = codes.index(b"354")
        self.assertEqual(codes[i - 2:i], [b"250", b"250"], out)
        self.assertRegex(replies[i + 1], rb"^250 2\.0\.0 Ok: queued as \S+")
        self.assertTrue(replies[-1].startswith(b"221 2.0.0"), out)
        return replies

    def test_swaks_plain(self):
        r = self.swaks()
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace"))
        self.check_swaks_output(r.stdout)
        self.assertDelivered(self.expected_swaks(), rcpt=RCPT,
                             helo="swaks.client.example")

    def test_swaks_pipeline(self):
        r = self.swaks("--pipeline")
        out = r.stdout
        self.assertEqual(r.returncode, 0, out.decode(errors="replace"))
        # swaks falls back to one command at a time when the server does
        # not offer PIPELINING: check that MAIL, RCPT, DATA went together.
        lines = out.splitlines()
        sent = [l for l in lines if l.startswith(b" ->")]
        mail = next(i for i, l in enumerate(lines) if b"MAIL FROM" in l)
        self.assertIn(b"RCPT TO", lines[mail + 1], out)
        self.assertIn(b"DATA", lines[mail + 2], out)
        self.assertTrue(sent)
        self.check_swaks_output(out)
        self.assertDelivered(self.expected_swaks(), rcpt=RCPT,
                             helo="swaks.client.example")

    def test_curl(self):
        if shutil.which("curl") is None:
            self.skipTest("curl is not installed")
        data = (b"From: <" + SENDER.encode() + b">\r\n"
                b"To: <" + RCPT.encode() + b">\r\n"
                b"Subject: curl test\r\n"
                b"\r\n"
                b"body line\r\n"
                b".dotted line\r\n"
                b"\xc3\xa9t\xc3\xa9 8-bit\r\n")
        path = self.write("curl.eml", data)
        r = run(["curl", "--silent", "--show-error", "--max-time", "30",
                 f"smtp://127.0.0.1:{self.daemon.port}/curl.client.example",
                 "--mail-from", SENDER, "--mail-rcpt", RCPT,
                 "--upload-file", path])
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace"))
        self.assertDelivered(data, rcpt=RCPT, helo="curl.client.example")

    def curl_unix_text(self, port):
        """curl -T with a file of Unix line ends: curl sends them bare."""
        path = self.write("unix.txt", b"Subject: unix\n\nline one\nline two\n")
        return run(["curl", "--silent", "--show-error", "--max-time", "30",
                    f"smtp://127.0.0.1:{port}/curl.client.example",
                    "--mail-from", SENDER, "--mail-rcpt", RCPT,
                    "-T", path])

    def test_curl_unix_line_ends_normalized_by_default(self):
        r = self.curl_unix_text(self.daemon.port)
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace"))
        # curl ends the data with CRLF "." CRLF since the file does not end
        # in CRLF: the last bare LF and that CRLF make an empty line
        self.assertDelivered(b"Subject: unix\r\n\r\nline one\r\nline two\r\n\r\n",
                             rcpt=RCPT, helo="curl.client.example")

    def test_curl_unix_line_ends_rejected_names_line_and_setting(self):
        d = fx.Vsmtpd(options=("server.bare-newline=reject",))
        self.addCleanup(d.cleanup)
        d.start()
        r = self.curl_unix_text(d.port)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertEqual(d.maildir_files(), [])
        # the reply, as a client sees it (raw bytes on the wire)
        c = d.connect()
        c.cmd(b"EHLO raw.example")
        c.cmd(b"MAIL FROM:<a@example.org>")
        c.cmd(b"RCPT TO:<b@example.org>")
        self.assertEqual(c.cmd(b"DATA").code, 354)
        c.send(b"Subject: unix\r\n\r\nline one\nline two\r\n.\r\n")
        self.assertEqual(c.reply().lines,
                         [b"550 5.5.2 Error: bare <LF> received in line 3 of the "
                         b"message: end lines with CRLF, or set "
                         b"bare-newline=normalize on the server"])
        c.close()
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def test_curl_rejected_recipient_path(self):
        if shutil.which("curl") is None:
            self.skipTest("curl is not installed")
        path = self.write("curl.eml", b"Subject: x\r\n\r\nx\r\n")
        r = run(["curl", "--silent", "--show-error", "--max-time", "30",
                 f"smtp://127.0.0.1:{self.daemon.port}",
                 "--mail-from", SENDER, "--mail-rcpt", "not an address@",
                 "--upload-file", path])
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertNothingDelivered()


if __name__ == "__main__":
    fx.main()

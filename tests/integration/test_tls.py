#!/usr/bin/python3
"""STARTTLS and implicit TLS in vsmtpd, driven by real TLS clients
(openssl s_client, gnutls-cli, swaks, curl, smtplib) and by raw bytes
through ssl.MemoryBIO for what the clients hide: plaintext injected after
STARTTLS (CVE-2011-0411), a ClientHello in the same write as STARTTLS,
broken, abandoned and stalled handshakes. Also the daemon side: bad
certificate files at startup, SIGHUP reload and the self-signed default."""

import hashlib
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest

import vsmtpd_fixture as fx

DATA = os.path.join(fx.SOURCE_ROOT, "tests", "data")
CERT = os.path.join(DATA, "test-cert.pem")
KEY = os.path.join(DATA, "test-key.pem")

SENDER = "sender@tls.example"
RCPT = "rcpt@tls.example"
BODY = (b"From: <sender@tls.example>\r\n"
        b"To: <rcpt@tls.example>\r\n"
        b"Subject: over TLS\r\n"
        b"\r\n"
        b"sent over TLS\r\n")

# (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)
USING_RE = re.compile(rb"\(using TLSv1\.[23] with cipher [A-Za-z0-9_-]+\)")


def need(tool):
    if shutil.which(tool) is None:
        raise unittest.SkipTest(f"{tool} is not installed")


def run(cmd, timeout=30, input=None):
    return subprocess.run(cmd, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)


def der_of(pem_path):
    with open(pem_path, encoding="ascii") as f:
        text = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  text, re.S)
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def fingerprint(der):
    return hashlib.sha256(der).hexdigest()


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_cert(directory, name, cn="localhost"):
    """A fresh self-signed EC certificate and key, written with openssl."""
    cert = os.path.join(directory, name + "-cert.pem")
    key = os.path.join(directory, name + "-key.pem")
    r = run(["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "30",
             "-subj", f"/CN={cn}"])
    if r.returncode != 0:
        raise AssertionError(r.stdout.decode(errors="replace"))
    return cert, key


class Interactive:
    """A client program (openssl s_client, gnutls-cli) whose stdin and
    stdout carry the SMTP conversation once it has set TLS up. Each
    command is written only after the previous reply arrived."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.buf = b""
        self.seen = b""

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def line(self):
        deadline = time.monotonic() + fx.IO_TIMEOUT
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"no reply; output so far: {self.seen!r}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError(f"client exited; output: {self.seen!r}")
            self.buf += chunk
            self.seen += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def skip_to(self, prefix):
        """Drops what the client printed itself until a line starting
        with ``prefix``, and returns the reply that line starts."""
        while True:
            line = self.line()
            if line.startswith(prefix):
                return self._rest_of_reply([line])

    def _rest_of_reply(self, lines):
        while lines[-1][3:4] == b"-":
            lines.append(self.line())
        return fx.Reply(lines)

    def reply(self):
        return self._rest_of_reply([self.line()])


class BioClient:
    """TLS through ssl.MemoryBIO over a plain socket, so the test decides
    what goes into each write."""

    def __init__(self, sock, leftover=b""):
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = insecure_context().wrap_bio(self.incoming, self.outgoing)
        if leftover:
            self.incoming.write(leftover)
        self.plain = b""

    def first_flight(self):
        """The ClientHello, without sending it."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def _flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.incoming.write(data)

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()

    def cmd(self, line):
        self.tls.write(line + fx.CRLF)
        self._flush()
        return self.reply()

    def _line(self):
        while fx.CRLF not in self.plain:
            try:
                self.plain += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._fill()
        line, self.plain = self.plain.split(fx.CRLF, 1)
        return line

    def reply(self):
        lines = [self._line()]
        while lines[-1][3:4] == b"-":
            lines.append(self._line())
        return fx.Reply(lines)


def read_until_closed(sock, wait=10.0):
    """Everything the peer sends until it closes (or ``wait`` passes
    without a byte: then the second value is False)."""
    sock.settimeout(wait)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except (ConnectionResetError, BrokenPipeError):
        return data, True


class TlsCase(fx.VsmtpdTestCase):
    """A daemon with the test certificate, a STARTTLS port and an implicit
    TLS port."""

    server_lines = ""

    @classmethod
    def setUpClass(cls):
        cls.tls_port = fx.free_port()
        cls.daemon = fx.Vsmtpd(
            plugins=cls.plugins,
            server=(f"tls-certificate={CERT}\n"
                    f"tls-key={KEY}\n"
                    f"listen-tls=127.0.0.1:{cls.tls_port}\n"
                    + cls.server_lines))
        try:
            cls.daemon.start()
        except Exception:
            cls.daemon.cleanup()
            raise

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-tls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def assertDeliveredTls(self, body=BODY, helo=None):
        data = self.assertDelivered(body, rcpt=RCPT, helo=helo,
                                    protocol="ESMTPS", sender=SENDER)
        header, _ = fx.split_received(data)
        self.assertRegex(header, USING_RE, header)
        return header

    def full_mail_plain(self, port=None):
        """A whole mail without TLS, on a new connection: the server is
        still serving."""
        with fx.RawClient(port or self.daemon.port) as c:
            self.assertReply(c.greeting, 220)
            self.assertReply(c.cmd(b"EHLO plain.example"), 250)
            self.assertReply(c.cmd(b"MAIL FROM:<" + SENDER.encode() + b">"), 250)
            self.assertReply(c.cmd(b"RCPT TO:<" + RCPT.encode() + b">"), 250)
            self.assertReply(c.cmd(b"DATA"), 354)
            c.send(BODY + b".\r\n")
            self.assertReply(c.reply(), 250, "2.0.0")
            self.assertReply(c.cmd(b"QUIT"), 221)
        self.assertDelivered(BODY, rcpt=RCPT, helo="plain.example",
                             sender=SENDER)
        self.daemon.clear_maildir()

    def write_file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


class ClientsTest(TlsCase):
    """The real clients, each sending a whole mail over TLS."""

    def interactive_mail(self, client, eol, first_prefix):
        """EHLO over TLS (no STARTTLS offered any more), then a mail."""
        self.addCleanup(client.close)
        client.send(b"EHLO tls.client.example" + eol)
        r = client.skip_to(first_prefix)
        self.assertReply(r, 250)
        self.assertEqual(r.lines[0], b"250-" + fx.HOSTNAME.encode(), r)
        self.assertNotIn(b"STARTTLS", r.text, r)
        self.assertIn(b"250-PIPELINING", r.lines, r)
        client.send(b"MAIL FROM:<" + SENDER.encode() + b">" + eol)
        self.assertReply(client.reply(), 250, "2.1.0")
        client.send(b"RCPT TO:<" + RCPT.encode() + b">" + eol)
        self.assertReply(client.reply(), 250, "2.1.5")
        client.send(b"DATA" + eol)
        self.assertReply(client.reply(), 354)
        client.send(BODY.replace(b"\r\n", eol) + b"." + eol)
        r = client.reply()
        self.assertReply(r, 250, "2.0.0")
        client.send(b"QUIT" + eol)
        self.assertReply(client.reply(), 221)
        return self.assertDeliveredTls(helo="tls.client.example")

    def test_openssl_s_client_starttls(self):
        # The original bug report's command line.
        need("openssl")
        client = Interactive(["openssl", "s_client", "-connect",
                              f"127.0.0.1:{self.daemon.port}",
                              "-starttls", "smtp", "-quiet"])
        self.interactive_mail(client, b"\r\n", b"250-" + fx.HOSTNAME.encode())

    def test_openssl_s_client_tls12(self):
        need("openssl")
        client = Interactive(["openssl", "s_client", "-connect",
                              f"127.0.0.1:{self.daemon.port}",
                              "-starttls", "smtp", "-quiet", "-tls1_2"])
        header = self.interactive_mail(client, b"\r\n",
                                       b"250-" + fx.HOSTNAME.encode())
        self.assertIn(b"(using TLSv1.2 with cipher ", header)

    def test_openssl_s_client_implicit(self):
        need("openssl")
        client = Interactive(["openssl", "s_client", "-connect",
                              f"127.0.0.1:{self.tls_port}", "-quiet"])
        self.addCleanup(client.close)
        r = client.skip_to(b"220 ")
        self.assertTrue(r.lines[0].startswith(b"220 " + fx.HOSTNAME.encode()), r)
        self.interactive_mail(client, b"\r\n", b"250-" + fx.HOSTNAME.encode())

    def test_gnutls_cli_starttls(self):
        # Without --crlf: gnutls-cli 3.7.9 converts only the first LF of
        # each read of its stdin and overwrites the rest ("a\nb\n" goes
        # out as "a\r\n\0\n"), which breaks a multi-line DATA write.
        # The test sends CRLF itself instead.
        need("gnutls-cli")
        client = Interactive(["gnutls-cli", "--insecure",
                              "--starttls-proto=smtp",
                              "--port", str(self.daemon.port), "127.0.0.1"])
        self.interactive_mail(client, b"\r\n", b"250-" + fx.HOSTNAME.encode())

    def test_gnutls_cli_crlf_one_line_per_write(self):
        # --crlf as documented, for commands (one line per write)
        need("gnutls-cli")
        client = Interactive(["gnutls-cli", "--crlf", "--insecure",
                              "--starttls-proto=smtp",
                              "--port", str(self.daemon.port), "127.0.0.1"])
        self.addCleanup(client.close)
        client.send(b"EHLO crlf.example\n")
        r = client.skip_to(b"250-" + fx.HOSTNAME.encode())
        self.assertNotIn(b"STARTTLS", r.text)
        client.send(b"STARTTLS\n")
        self.assertEqual(client.reply().lines,
                         [b"554 5.5.1 Error: TLS already active"])
        client.send(b"NOOP\n")
        self.assertReply(client.reply(), 250)
        client.send(b"QUIT\n")
        self.assertReply(client.reply(), 221)

    def swaks(self, *extra, port=None):
        need("swaks")
        # swaks ends the data with CRLF . CRLF after the file's last line
        path = self.write_file("mail.eml", BODY[:-2].replace(b"\r\n", b"\n"))
        r = run(["swaks", "--server", "127.0.0.1",
                 "--port", str(port or self.daemon.port),
                 "--ehlo", "swaks.tls.example",
                 "--from", SENDER, "--to", RCPT, "--data", "@" + path,
                 *extra], timeout=60)
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, out)
        # "<~" marks what swaks read over TLS
        tls_replies = [l[3:].strip() for l in r.stdout.splitlines()
                       if l.startswith(b"<~")]
        self.assertTrue(any(l.startswith(b"250 2.0.0 Ok: queued as")
                            for l in tls_replies), out)
        self.assertFalse(any(b"STARTTLS" in l for l in tls_replies), out)
        return out

    def test_swaks_tls(self):
        out = self.swaks("--tls")
        self.assertIn("220 2.0.0 Ready to start TLS", out)
        self.assertDeliveredTls(body=BODY, helo="swaks.tls.example")

    def test_swaks_tlsc_implicit(self):
        out = self.swaks("--tlsc", port=self.tls_port)
        self.assertNotIn("STARTTLS", out)
        self.assertDeliveredTls(body=BODY, helo="swaks.tls.example")

    def test_curl_ssl_reqd(self):
        need("curl")
        path = self.write_file("mail.eml", BODY)
        r = run(["curl", "--silent", "--show-error", "--ssl-reqd",
                 "--insecure", f"smtp://127.0.0.1:{self.daemon.port}",
                 "--mail-from", SENDER, "--mail-rcpt", RCPT,
                 "--upload-file", path], timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertDeliveredTls()

    def test_curl_implicit_smtps(self):
        need("curl")
        path = self.write_file("mail.eml", BODY)
        r = run(["curl", "--silent", "--show-error", "--insecure",
                 f"smtps://127.0.0.1:{self.tls_port}",
                 "--mail-from", SENDER, "--mail-rcpt", RCPT,
                 "--upload-file", path], timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertDeliveredTls()

    def test_smtplib_starttls(self):
        with smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=20) as s:
            code, text = s.ehlo("py.tls.example")
            self.assertEqual(code, 250)
            self.assertTrue(s.has_extn("starttls"))
            code, text = s.starttls(context=insecure_context())
            self.assertEqual((code, text), (220, b"2.0.0 Ready to start TLS"))
            self.assertEqual(s.sock.getpeercert(binary_form=True), der_of(CERT))
            code, text = s.ehlo("py.tls.example")
            self.assertEqual(code, 250)
            self.assertFalse(s.has_extn("starttls"), text)
            # RFC 3207 4.2: the pre-TLS state is gone, TLS stays
            self.assertEqual(s.docmd("STARTTLS"),
                             (554, b"5.5.1 Error: TLS already active"))
            s.sendmail(SENDER, [RCPT], BODY)
        self.assertDeliveredTls(helo="py.tls.example")

    def test_smtplib_smtp_ssl(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.tls_port, timeout=20,
                              context=insecure_context()) as s:
            self.assertEqual(s.sock.getpeercert(binary_form=True), der_of(CERT))
            code, text = s.ehlo("py.ssl.example")
            self.assertEqual(code, 250)
            self.assertFalse(s.has_extn("starttls"), text)
            self.assertEqual(s.docmd("STARTTLS"),
                             (554, b"5.5.1 Error: TLS already active"))
            s.sendmail(SENDER, [RCPT], BODY)
        self.assertDeliveredTls(helo="py.ssl.example")


class RawTest(TlsCase):
    """Byte-level STARTTLS."""

    def starttls_client(self):
        c = self.client()
        self.assertReply(c.cmd(b"EHLO raw.example"), 250)
        return c

    def test_starttls_with_argument(self):
        c = self.starttls_client()
        r = c.cmd(b"STARTTLS foo")
        self.assertReply(r, 501, "5.5.4")
        self.assertReply(c.cmd(b"NOOP"), 250)

    def test_plaintext_injection_is_never_executed(self):
        # CVE-2011-0411: NOOP in the same write as STARTTLS belongs to
        # the TLS layer, where it is no handshake: no 250 ever.
        c = self.starttls_client()
        c.send(b"STARTTLS\r\nNOOP\r\n")
        r = c.reply()
        self.assertEqual(r.lines, [b"220 2.0.0 Ready to start TLS"])
        data, closed = read_until_closed(c.sock)
        data = c.buf + data
        self.assertTrue(closed, f"connection still open, got {data!r}")
        self.assertNotIn(b"250", data)
        self.full_mail_plain()

    def test_client_hello_in_the_starttls_write(self):
        c = self.starttls_client()
        bio = BioClient(c.sock)
        c.send(b"STARTTLS\r\n" + bio.first_flight())
        r = c.reply()
        self.assertEqual(r.lines, [b"220 2.0.0 Ready to start TLS"])
        # what RawClient read past the 220 is the server's TLS flight
        bio.incoming.write(c.buf)
        c.buf = b""
        bio.handshake()
        self.assertEqual(bio.tls.getpeercert(binary_form=True), der_of(CERT))
        r = bio.cmd(b"EHLO bio.example")
        self.assertReply(r, 250)
        self.assertNotIn(b"STARTTLS", r.text)
        self.assertReply(bio.cmd(b"MAIL FROM:<" + SENDER.encode() + b">"), 250)
        self.assertReply(bio.cmd(b"RCPT TO:<" + RCPT.encode() + b">"), 250)
        self.assertReply(bio.cmd(b"DATA"), 354)
        bio.tls.write(BODY + b".\r\n")
        bio._flush()
        self.assertReply(bio.reply(), 250, "2.0.0")
        self.assertReply(bio.cmd(b"QUIT"), 221)
        self.assertDeliveredTls(helo="bio.example")

    def test_mail_before_ehlo_after_tls(self):
        # RFC 3207 4.2: the EHLO before TLS is forgotten
        c = self.starttls_client()
        self.assertReply(c.cmd(b"STARTTLS"), 220, "2.0.0")
        bio = BioClient(c.sock, c.buf)
        bio.handshake()
        self.assertReply(bio.cmd(b"MAIL FROM:<" + SENDER.encode() + b">"), 503)

    def test_garbage_handshake(self):
        c = self.starttls_client()
        self.assertReply(c.cmd(b"STARTTLS"), 220, "2.0.0")
        c.send(b"\x16\x03\x01\x00\x20" + b"\xff" * 32 + b"GARBAGE\r\n" * 8)
        data, closed = read_until_closed(c.sock)
        self.assertTrue(closed, f"connection still open, got {data!r}")
        self.assertNotIn(b"250", data)
        self.full_mail_plain()

    def test_client_vanishes_mid_handshake(self):
        c = self.starttls_client()
        self.assertReply(c.cmd(b"STARTTLS"), 220, "2.0.0")
        hello = BioClient(c.sock).first_flight()
        c.send(hello[:len(hello) // 2])
        # another client is served while the handshake waits for the rest
        self.full_mail_plain()
        c.close()
        self.full_mail_plain()

    def test_implicit_tls_garbage(self):
        with socket.create_connection(("127.0.0.1", self.tls_port), 20) as s:
            s.sendall(b"EHLO plain.text.example\r\n")
            data, closed = read_until_closed(s)
            self.assertTrue(closed, f"connection still open, got {data!r}")
            self.assertNotIn(b"220", data)
            self.assertNotIn(b"250", data)
        self.full_mail_plain()


class RenegotiationTest(TlsCase):
    """Client-initiated renegotiation on TLS 1.2 (openssl s_client's "R"):
    refused, the connection closed (GIO has no setting for it: a record
    watcher under the TLS layer sees the handshake record), on both the
    STARTTLS and the implicit-TLS listener; before it, the session works."""

    def renegotiate(self, args, first_command):
        need("openssl")
        # not -quiet: s_client reads "R" as its renegotiate command only then
        client = Interactive(["openssl", "s_client", "-tls1_2", *args])
        self.addCleanup(client.close)
        if first_command:
            client.send(first_command)
            self.assertReply(client.skip_to(b"250-"), 250)
        else:
            self.assertReply(client.skip_to(b"220 "), 220)
        client.send(b"NOOP\r\n")
        self.assertReply(client.skip_to(b"250 "), 250, "2.0.0")
        client.send(b"R\n")
        # the server closes instead of running the handshake: the NOOP
        # after it is never answered, and s_client ends
        lines = []
        try:
            client.send(b"NOOP\r\n")
            while True:
                lines.append(client.line())
        except (EOFError, AssertionError, OSError):
            pass
        self.assertNotIn(b"250 2.0.0", b"\n".join(lines), client.seen)
        self.assertIsNotNone(client.proc.wait(fx.IO_TIMEOUT))
        deadline = time.monotonic() + fx.IO_TIMEOUT
        while ("client-initiated TLS renegotiation from [127.0.0.1] refused"
               not in self.daemon.stderr_text() and time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertIn("client-initiated TLS renegotiation from [127.0.0.1] refused",
                      self.daemon.stderr_text())

    def test_starttls_listener(self):
        self.renegotiate(["-connect", f"127.0.0.1:{self.daemon.port}", "-starttls", "smtp"],
                         b"EHLO renegotiating.example\r\n")
        self.full_mail_plain()

    def test_implicit_tls_listener(self):
        self.renegotiate(["-connect", f"127.0.0.1:{self.tls_port}"], None)
        self.full_mail_plain()


class HandshakeTimeoutTest(TlsCase):
    server_lines = "tls-handshake-timeout=1\n"

    def test_stalled_handshake_is_closed(self):
        c = self.client()
        self.assertReply(c.cmd(b"EHLO stall.example"), 250)
        self.assertReply(c.cmd(b"STARTTLS"), 220, "2.0.0")
        # nothing more from this client; the server keeps serving others
        self.full_mail_plain()
        data, closed = read_until_closed(c.sock, wait=15)
        self.assertTrue(closed, f"stalled handshake not closed, got {data!r}")
        self.assertNotIn(b"250", data)
        self.assertIn("TLS handshake failed", self.daemon.stderr_text())
        self.full_mail_plain()

    def test_stalled_implicit_handshake_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.tls_port), 20) as s:
            self.full_mail_plain()
            data, closed = read_until_closed(s, wait=15)
            self.assertTrue(closed, f"stalled handshake not closed, got {data!r}")
            self.assertEqual(data, b"")


def gnutls_handshake(port, priority, starttls=True):
    """(ok, description): a handshake with gnutls-cli offering only
    ``priority``; the description is gnutls-cli's "(TLS1.2-X.509)-...""."""
    cmd = ["gnutls-cli", "--insecure", "--priority", priority, "-p", str(port)]
    if starttls:
        cmd.append("--starttls-proto=smtp")
    r = run(cmd + ["127.0.0.1"], input=b"")
    out = r.stdout.decode(errors="replace")
    m = re.search(r"- Description: (\S+)", out)
    return (m is not None, m.group(1) if m else out)


def openssl_handshake(port, *args, starttls=True):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args]
    if starttls:
        cmd += ["-starttls", "smtp"]
    r = run(cmd, input=b"")
    out = r.stdout.decode(errors="replace")
    m = re.search(r"New, (TLSv[\d.]+), Cipher is (\S+)", out)
    return (m is not None and m.group(2) != "(NONE)", out)


def assert_no_hello_retry(case, ports):
    need("openssl")
    for port, starttls in ports:
        ok, out = openssl_handshake(port, "-tls1_3", "-groups", "X25519:P-256", "-msg",
                                    starttls=starttls)
        case.assertTrue(ok, out)
        case.assertEqual(out.count(", ClientHello"), 1, out)
        case.assertRegex(out, r"(Server|Peer) Temp Key: X25519")


class TlsProfileTest(TlsCase):
    """The default profile: TLS 1.2 and 1.3 only, forward-secret AEAD
    suites only, the server's order; on the STARTTLS and implicit-TLS
    listeners alike."""

    def ports(self):
        return [(self.daemon.port, True), (self.tls_port, False)]

    def test_old_versions_refused(self):
        need("gnutls-cli")
        for port, starttls in self.ports():
            for version in ("TLS1.0", "TLS1.1"):
                ok, out = gnutls_handshake(port, f"NORMAL:-VERS-ALL:+VERS-{version}",
                                           starttls)
                self.assertFalse(ok, f"{version} accepted on {port}: {out}")

    def test_cbc_and_static_rsa_refused(self):
        need("gnutls-cli")
        need("openssl")
        for port, starttls in self.ports():
            ok, out = gnutls_handshake(port, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:"
                                       "+AES-256-CBC:+AES-128-CBC:-MAC-ALL:+SHA1:+SHA256:+SHA384",
                                       starttls)
            self.assertFalse(ok, f"CBC accepted: {out}")
            # static RSA key exchange with an AEAD suite (the certificate is RSA)
            ok, out = openssl_handshake(port, "-tls1_2", "-cipher", "AES256-GCM-SHA384",
                                        starttls=starttls)
            self.assertFalse(ok, f"AES256-GCM-SHA384 (static RSA) accepted: {out}")
            ok, out = openssl_handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384",
                                        starttls=starttls)
            self.assertTrue(ok, out)

    def test_failed_handshake_sends_alert(self):
        """The client learns why (a fatal alert), not an unexpected EOF."""
        need("gnutls-cli")
        cases = [("NORMAL:-VERS-ALL:+VERS-TLS1.1", "[70]"),           # protocol_version
                 ("NORMAL:-VERS-TLS1.3:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA1", "[40]"),
                 ("NORMAL:-VERS-TLS1.3:%FALLBACK_SCSV", "[86]")]      # inappropriate_fallback
        for port, starttls in self.ports():
            for priority, alert in cases:
                cmd = ["gnutls-cli", "--insecure", "--priority", priority, "-p", str(port)]
                if starttls:
                    cmd.append("--starttls-proto=smtp")
                out = run(cmd + ["127.0.0.1"], input=b"").stdout.decode(errors="replace")
                self.assertIn(f"Received alert {alert}", out, f"{priority} on {port}: {out}")
        self.assertIn("Protocol version downgrade attack detected", self.daemon.stderr_text())

    def test_server_order(self):
        need("gnutls-cli")
        # the client prefers AES-128-GCM; the server's order puts AES-256 first
        for port, starttls in self.ports():
            ok, desc = gnutls_handshake(port, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:"
                                        "+AES-128-GCM:+AES-256-GCM", starttls)
            self.assertTrue(ok, desc)
            self.assertIn("(TLS1.2-X.509)-(ECDHE-", desc)
            self.assertTrue(desc.endswith("-(AES-256-GCM)"), desc)
            ok, desc = gnutls_handshake(port, "NORMAL", starttls)
            self.assertTrue(desc.startswith("(TLS1.3-X.509)"), desc)


    def test_x25519_key_share_taken(self):
        """A client that sends only an X25519 key share (OpenSSL's default)
        gets the ServerHello at once: one ClientHello, no HelloRetryRequest
        (an extra round trip, a second ClientHello)."""
        assert_no_hello_retry(self, self.ports())


class TlsMinVersion13Test(TlsCase):
    server_lines = "tls-min-version=1.3\n"

    def test_tls12_refused(self):
        need("gnutls-cli")
        ok, out = gnutls_handshake(self.daemon.port, "NORMAL:-VERS-ALL:+VERS-TLS1.2")
        self.assertFalse(ok, out)
        ok, desc = gnutls_handshake(self.daemon.port, "NORMAL")
        self.assertTrue(desc.startswith("(TLS1.3-X.509)"), desc)

    def test_x25519_key_share_taken(self):
        assert_no_hello_retry(self, [(self.daemon.port, True)])


class TlsPriorityTest(TlsCase):
    """tls-priority replaces the profile (here: TLS 1.2 only, to allow
    just what an old peer needs)."""

    server_lines = "tls-priority=NORMAL:-VERS-ALL:+VERS-TLS1.2:%SERVER_PRECEDENCE\n"

    def test_profile_applied(self):
        need("gnutls-cli")
        ok, desc = gnutls_handshake(self.daemon.port, "NORMAL")
        self.assertTrue(ok, desc)
        self.assertTrue(desc.startswith("(TLS1.2-X.509)"), desc)
        # CBC is in NORMAL, so it is allowed now
        ok, desc = gnutls_handshake(self.daemon.port, "NORMAL:-VERS-ALL:+VERS-TLS1.2:"
                                    "-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA1:+SHA256")
        self.assertTrue(ok, desc)


# The first 40 bytes of a ClientHello whose record announces 512: the
# handshake waits for the rest, on a worker thread.
HALF_HELLO = (b"\x16\x03\x01\x02\x00" b"\x01\x00\x01\xfc" b"\x03\x03" + b"\x5a" * 29)


class HandshakeCapTest(TlsCase):
    """Stalled handshakes cannot take every handshake thread: past
    max-tls-handshakes(-per-client) an implicit-TLS connection is closed at
    once and STARTTLS gets 454 4.7.0; other clients are served."""

    server_lines = ("max-tls-handshakes=20\nmax-tls-handshakes-per-client=5\n"
                    "max-connections-per-client=1000\nmax-connections=5000\n")

    def half_hellos(self, source, n):
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.tls_port), 10,
                                         source_address=(source, 0))
            self.addCleanup(s.close)
            s.sendall(HALF_HELLO)
            socks.append(s)
        return socks

    def still_open(self, socks):
        """The sockets the server has not closed (within a second)."""
        time.sleep(1)
        open_ = []
        for s in socks:
            s.settimeout(0.05)
            try:
                data = s.recv(1)
            except socket.timeout:
                open_.append(s)
                continue
            except ConnectionResetError:
                continue
            self.assertEqual(data, b"")
        return open_

    def starttls_reply(self, source="127.0.0.1"):
        sock = socket.create_connection(("127.0.0.1", self.daemon.port), 10,
                                        source_address=(source, 0))
        c = fx.RawClient.__new__(fx.RawClient)
        c.sock, c.buf = sock, b""
        c.greeting = c.reply()
        self.addCleanup(c.close)
        self.assertReply(c.cmd(b"EHLO cap.example"), 250)
        return c, c.cmd(b"STARTTLS")

    def test_caps(self):
        # 300 stalled handshakes from one address: 5 are held, 295 closed
        attacker = self.half_hellos("127.0.0.2", 300)
        held = self.still_open(attacker)
        self.assertEqual(len(held), 5)
        self.assertIn("TLS refused to [127.0.0.2]: too many TLS handshakes in progress",
                      self.daemon.stderr_text())
        _, r = self.starttls_reply("127.0.0.2")
        self.assertEqual(r.lines, [b"454 4.7.0 TLS not available due to temporary reason"])
        # another client is served, over implicit TLS and STARTTLS
        with smtplib.SMTP_SSL("127.0.0.1", self.tls_port, timeout=20,
                              context=insecure_context()) as smtp:
            self.assertEqual(smtp.ehlo("ok.example")[0], 250)
        c, r = self.starttls_reply()
        self.assertEqual(r.code, 220)
        c.sock = insecure_context().wrap_socket(c.sock)
        self.assertReply(c.cmd(b"EHLO ok.example"), 250)
        c.close()

        # the total: 15 more from three other addresses fill the 20 slots
        others = []
        for source in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):
            others += self.half_hellos(source, 5)
        self.assertEqual(len(self.still_open(others)), 15)
        _, r = self.starttls_reply()
        self.assertEqual(r.lines, [b"454 4.7.0 TLS not available due to temporary reason"])

        # the stalled clients leave: their slots come back
        for s in held + others:
            s.close()
        time.sleep(1)
        c, r = self.starttls_reply()
        self.assertEqual(r.code, 220, r)
        c.sock = insecure_context().wrap_socket(c.sock)
        self.assertReply(c.cmd(b"EHLO ok.example"), 250)


class RequireTlsTest(TlsCase):
    server_lines = "require-tls=true\n"

    def test_mail_needs_starttls(self):
        with smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=20) as s:
            self.assertEqual(s.ehlo("req.example")[0], 250)
            self.assertTrue(s.has_extn("starttls"))
            self.assertEqual(s.docmd("MAIL", "FROM:<" + SENDER + ">"),
                             (530, b"5.7.0 Must issue a STARTTLS command first"))
            s.starttls(context=insecure_context())
            s.ehlo("req.example")
            self.assertEqual(s.docmd("MAIL", "FROM:<" + SENDER + ">"),
                             (250, b"2.1.0 Ok"))
            self.assertEqual(s.docmd("RCPT", "TO:<" + RCPT + ">")[0], 250)
            code, _ = s.data(BODY)
            self.assertEqual(code, 250)
        self.assertDeliveredTls(helo="req.example")

    def test_implicit_tls_satisfies_require_tls(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.tls_port, timeout=20,
                              context=insecure_context()) as s:
            s.sendmail(SENDER, [RCPT], BODY)
        self.assertDeliveredTls()


class DaemonTlsTest(unittest.TestCase):
    """Startup errors, SIGHUP reload, the self-signed default."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-tls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, **kw):
        d = fx.Vsmtpd(**kw)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def stop(self, d):
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def failing_start(self, *args):
        home = os.path.join(self.tmp, "home")
        os.makedirs(home, exist_ok=True)
        r = subprocess.run([fx.VSMTPD, "--listen", f"127.0.0.1:{fx.free_port()}",
                            *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=fx.clean_env(home), timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, b"")
        lines = r.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        return lines[0]

    def test_bad_tls_profile_settings(self):
        line = self.failing_start("--option", "server.tls-priority=NORMAL:+NO-SUCH-THING")
        self.assertEqual(line, "vsmtpd: --option server.tls-priority=NORMAL:+NO-SUCH-THING: "
                               "[server] tls-priority: not a valid GnuTLS priority string: "
                               "The request is invalid. at \"+NO-SUCH-THING\"")
        line = self.failing_start("--option", "server.tls-min-version=1.1")
        self.assertEqual(line, "vsmtpd: --option server.tls-min-version=1.1: "
                               "[server] tls-min-version: \"1.1\" is neither \"1.2\" nor "
                               "\"1.3\" (older versions: tls-priority)")
        line = self.failing_start("--option", "server.tls-min-version=1.3",
                                  "--option", "server.tls-priority=NORMAL")
        self.assertTrue(line.endswith("[server] tls-min-version: set either tls-min-version "
                                      "or tls-priority, not both"), line)

    def test_mismatched_key(self):
        other_cert, other_key = make_cert(self.tmp, "other")
        line = self.failing_start("--tls-cert", CERT, "--tls-key", other_key)
        self.assertEqual(line, f"vsmtpd: --tls-key: [server] tls-key: the private "
                               f"key in {other_key} does not match the "
                               f"certificate in {CERT}")

    def test_mismatched_key_in_config(self):
        other_cert, other_key = make_cert(self.tmp, "other")
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write(f"[server]\ntls-certificate={other_cert}\ntls-key={KEY}\n")
        line = self.failing_start("--config", conf)
        self.assertTrue(line.startswith(f"vsmtpd: {conf}: [server] tls-key: "), line)
        self.assertIn("does not match", line)

    def test_missing_certificate(self):
        missing = os.path.join(self.tmp, "missing.pem")
        line = self.failing_start("--tls-cert", missing, "--tls-key", KEY)
        self.assertEqual(line, f"vsmtpd: --tls-cert: [server] tls-certificate: "
                               f"cannot read the certificate {missing}: "
                               f"No such file or directory")

    def test_missing_key(self):
        missing = os.path.join(self.tmp, "missing-key.pem")
        line = self.failing_start("--tls-cert", CERT, "--tls-key", missing)
        self.assertIn("[server] tls-key: cannot read the private key "
                      f"{missing}: No such file or directory", line)

    def test_key_given_as_certificate(self):
        line = self.failing_start("--tls-cert", KEY, "--tls-key", KEY)
        self.assertIn(f"[server] tls-certificate: {KEY} has no usable PEM "
                      "certificate", line)

    def test_listen_tls_needs_certificate(self):
        line = self.failing_start(
            "--option", f"server.listen-tls=127.0.0.1:{fx.free_port()}")
        self.assertIn("[server] listen-tls: implicit TLS needs tls-certificate",
                      line)

    def test_combined_pem_file(self):
        both = os.path.join(self.tmp, "both.pem")
        with open(both, "wb") as f:
            f.write(open(CERT, "rb").read() + open(KEY, "rb").read())
        d = self.start(args=["--tls-cert", both])
        with smtplib.SMTP("127.0.0.1", d.port, timeout=20) as s:
            s.starttls(context=insecure_context())
            self.assertEqual(s.sock.getpeercert(binary_form=True), der_of(CERT))
        self.stop(d)

    def starttls_session(self, port):
        s = smtplib.SMTP("127.0.0.1", port, timeout=20)
        self.addCleanup(s.close)
        s.ehlo("hup.example")
        s.starttls(context=insecure_context())
        s.ehlo("hup.example")
        return s

    def wait_log(self, d, text, count=1):
        deadline = time.monotonic() + 20
        while d.stderr_text().count(text) < count:
            self.assertIsNone(d.proc.poll(), d.stderr_text())
            if time.monotonic() > deadline:
                self.fail(f"no {text!r} in the log:\n{d.stderr_text()}")
            time.sleep(0.05)

    def test_sighup_reloads_certificate(self):
        need("openssl")
        cert = os.path.join(self.tmp, "cert.pem")
        key = os.path.join(self.tmp, "key.pem")
        shutil.copy(CERT, cert)
        shutil.copy(KEY, key)
        d = self.start(server=f"tls-certificate={cert}\ntls-key={key}\n")
        old = self.starttls_session(d.port)
        self.assertEqual(old.sock.getpeercert(binary_form=True), der_of(CERT))

        new_cert, new_key = make_cert(self.tmp, "new")
        os.replace(new_key, key)
        os.replace(new_cert, cert)
        d.proc.send_signal(signal.SIGHUP)
        self.wait_log(d, "TLS certificate reloaded")
        self.assertIn(fingerprint(der_of(cert)), d.stderr_text())

        fresh = self.starttls_session(d.port)
        self.assertEqual(fresh.sock.getpeercert(binary_form=True), der_of(cert))
        self.assertNotEqual(der_of(cert), der_of(CERT))

        # the session from before the reload goes on with its certificate
        self.assertEqual(old.sock.getpeercert(binary_form=True), der_of(CERT))
        old.sendmail(SENDER, [RCPT], BODY)
        old.quit()
        files = d.delivered()
        self.assertEqual(len(files), 1)
        header, body = fx.split_received(files[0])
        self.assertIn(b"with ESMTPS", header)
        self.assertEqual(body, BODY)

        # a broken pair on SIGHUP: logged, the loaded certificate stays
        _, other_key = make_cert(self.tmp, "other")
        os.replace(other_key, key)
        d.proc.send_signal(signal.SIGHUP)
        self.wait_log(d, "keeping the current TLS certificate")
        self.assertIn(f"the private key in {key} does not match", d.stderr_text())
        again = self.starttls_session(d.port)
        self.assertEqual(again.sock.getpeercert(binary_form=True), der_of(cert))
        fresh.quit()
        again.quit()
        self.stop(d)

    def check_self_signed(self, d, tls_dir):
        cert = os.path.join(tls_dir, "cert.pem")
        key = os.path.join(tls_dir, "key.pem")
        self.assertEqual(stat.S_IMODE(os.stat(tls_dir).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertIn(f"self-signed TLS certificate for {fx.HOSTNAME}: {cert}",
                      d.stderr_text())
        with smtplib.SMTP("127.0.0.1", d.port, timeout=20) as s:
            s.ehlo("self.example")
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=insecure_context())
            self.assertEqual(s.sock.getpeercert(binary_form=True), der_of(cert))
            s.ehlo("self.example")
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail(SENDER, [RCPT], BODY)
        header, body = fx.split_received(d.delivered()[0])
        self.assertRegex(header, USING_RE)
        self.assertIn(b"with ESMTPS", header)
        if shutil.which("openssl"):
            r = run(["openssl", "x509", "-in", cert, "-noout", "-subject",
                     "-ext", "subjectAltName"])
            out = r.stdout.decode()
            self.assertIn(f"CN = {fx.HOSTNAME}", out)
            self.assertIn(f"DNS:{fx.HOSTNAME}", out)
            r = run(["openssl", "pkey", "-in", key, "-noout", "-text"])
            self.assertIn("P-256", r.stdout.decode())
        return der_of(cert)

    def test_self_signed_default_in_home(self):
        d = self.start()
        tls_dir = os.path.join(d.home, ".local", "state", "vsmtpd", "tls")
        der = self.check_self_signed(d, tls_dir)
        self.assertIn("generated a self-signed", d.stderr_text())
        self.stop(d)
        # the next start reuses it
        d.proc = None
        d.start()
        self.assertIn("using the self-signed", d.stderr_text())
        with smtplib.SMTP("127.0.0.1", d.port, timeout=20) as s:
            s.starttls(context=insecure_context())
            self.assertEqual(s.sock.getpeercert(binary_form=True), der)
        self.stop(d)

    def test_self_signed_regenerated_for_new_hostname(self):
        d = self.start()
        tls_dir = os.path.join(d.home, ".local", "state", "vsmtpd", "tls")
        cert = os.path.join(tls_dir, "cert.pem")
        first = self.check_self_signed(d, tls_dir)
        self.stop(d)
        # the same state folder, another --hostname: a certificate for it
        d.proc = None
        d.args = ["--hostname", "renamed.vsmtpd-test.example"]
        d.start()
        log = d.stderr_text()
        self.assertIn(f"the self-signed TLS certificate in {cert} was for "
                      f"{fx.HOSTNAME}, not renamed.vsmtpd-test.example: "
                      f"replaced it", log)
        self.assertIn("generated a self-signed TLS certificate for "
                      "renamed.vsmtpd-test.example", log)
        with smtplib.SMTP("127.0.0.1", d.port, timeout=20) as s:
            s.starttls(context=insecure_context())
            served = s.sock.getpeercert(binary_form=True)
        self.assertNotEqual(served, first)
        self.assertEqual(served, der_of(cert))
        r = run(["openssl", "x509", "-in", cert, "-noout", "-subject",
                 "-ext", "subjectAltName"])
        self.assertIn("DNS:renamed.vsmtpd-test.example", r.stdout.decode())
        self.assertNotIn(fx.HOSTNAME, r.stdout.decode())
        self.stop(d)
        # and the next start with that name keeps it
        d.proc = None
        d.start()
        self.assertIn("using the self-signed TLS certificate for "
                      "renamed.vsmtpd-test.example", d.stderr_text())
        self.assertEqual(der_of(cert), served)
        self.stop(d)

    def test_self_signed_default_in_state_directory(self):
        state = os.path.join(self.tmp, "state")
        os.mkdir(state, 0o755)
        d = self.start(env={"STATE_DIRECTORY": state})
        self.check_self_signed(d, os.path.join(state, "tls"))
        self.assertFalse(os.path.exists(os.path.join(d.home, ".local")))
        self.stop(d)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""SMTP AUTH (RFC 4954) and mail submission in vsmtpd: the passwd plugin
with sha512-crypt and yescrypt hashes, the submission listeners
([server] listen-submission, STARTTLS, and listen-submissions, implicit
TLS: MAIL needs AUTH), driven by swaks, smtplib, curl and msmtp, and by raw
bytes for the error cases: bad credentials, bad base64, cancel, an
over-long response, AUTH twice or inside a transaction, AUTH without TLS,
the per-address failure limit (454) and the hard error limit (421). Also
the passwd file read again on change, the vsmtpd-passwd tool and the
configuration errors of the new keys."""

import base64
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import vsmtpd_fixture as fx

DATA = os.path.join(fx.SOURCE_ROOT, "tests", "data")
CERT = os.path.join(DATA, "test-cert.pem")
KEY = os.path.join(DATA, "test-key.pem")
BUILD_ROOT = os.environ.get(
    "VSMTPD_BUILD_ROOT", os.path.dirname(os.path.dirname(fx.VSMTPD)))
VSMTPD_PASSWD = os.environ.get(
    "VSMTPD_PASSWD", os.path.join(BUILD_ROOT, "daemon", "vsmtpd-passwd"))

SENDER = "alice@submit.example"
RCPT = "bob@elsewhere.example"
BODY = (b"From: <alice@submit.example>\r\n"
        b"To: <bob@elsewhere.example>\r\n"
        b"Subject: submitted\r\n"
        b"\r\n"
        b"sent after AUTH\r\n")

# user -> password; alice has a sha512-crypt hash (openssl passwd -6),
# yves a yescrypt one (mkpasswd -m yescrypt) when mkpasswd is installed
ALICE = ("alice", "correct horse")
YVES = ("yves", "battery staple")

OFFERED = b"250-AUTH PLAIN LOGIN"   # CHUNKING and BINARYMIME follow it
R_OK = b"235 2.7.0 Authentication successful"
R_FAILED = b"535 5.7.8 Error: authentication failed"
R_NEED_AUTH = b"530 5.7.0 Authentication required"
R_NEED_TLS = (b"538 5.7.11 Encryption required for requested "
              b"authentication mechanism")
R_TWICE = b"503 5.5.1 Error: already authenticated"
R_IN_TRANSACTION = b"503 5.5.1 Error: MAIL transaction in progress"
R_BAD_BASE64 = b"501 5.5.2 Error: cannot decode response"
R_CANCELLED = b"501 5.0.0 Authentication cancelled"
R_TOO_LONG = b"500 5.5.2 Error: command line too long"
R_BLOCKED = (b"454 4.7.0 Too many failed authentication attempts, "
             b"try again later")
R_TOO_MANY_ERRORS = (b"421 4.7.0 " + fx.HOSTNAME.encode()
                     + b" Error: too many errors")


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user, password, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}")


def client_env():
    """The environment for client tools: without the sanitizer runtime the
    ASan run preloads for the daemon (curl hangs with it preloaded)."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def run(cmd, timeout=30, input=None):
    return subprocess.run(cmd, input=input, env=client_env(),
                          stdin=None if input is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)


def need(tool):
    if shutil.which(tool) is None:
        raise unittest.SkipTest(f"{tool} is not installed")


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def sha512_crypt(password):
    r = run(["openssl", "passwd", "-6", "-stdin"], input=password.encode())
    assert r.returncode == 0, r.stdout
    return r.stdout.decode().strip()


def yescrypt(password):
    r = run(["mkpasswd", "-m", "yescrypt", "--stdin"], input=password.encode())
    assert r.returncode == 0, r.stdout
    return r.stdout.decode().strip()


def write_passwd(path, users):
    """users: (name, hash) pairs. Written through rename, as an editor or
    vsmtpd-passwd does."""
    tmp = path + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("# vsmtpd users\n")
        for name, hashed in users:
            f.write(f"{name}:{hashed}\n")
    os.replace(tmp, path)


class AuthDaemon(fx.Vsmtpd):
    """vsmtpd with the passwd plugin, the test certificate, and the two
    submission listeners on ports of their own."""

    def __init__(self, passwd, server="", **kw):
        self.passwd = passwd
        self.base_server = server
        self.sub_port = self.subs_port = None
        super().__init__(plugins=("maildir", "passwd"),
                         args=["--tls-cert", CERT, "--tls-key", KEY],
                         config=f"[passwd]\nfile={passwd}\n", **kw)

    def start(self, attempts=5):
        last = None
        for _ in range(attempts):
            self.sub_port = fx.free_port()
            self.subs_port = fx.free_port()
            self.server_config = (
                self.base_server
                + "error-sleep-time=0\n"
                + f"listen-submission=127.0.0.1:{self.sub_port}\n"
                + f"listen-submissions=127.0.0.1:{self.subs_port}\n")
            try:
                super().start(attempts=1)
                self.wait_listening(self.sub_port, self.subs_port)
                return self
            except fx.DaemonError as e:
                # most likely a port was taken meanwhile
                last = e
                if self.proc is not None and self.proc.poll() is None:
                    raise
        raise last


    def wait_listening(self, *ports):
        """start() saw the first port accept; the submission ports are
        bound a moment later, which a loaded machine can make visible"""
        deadline = time.monotonic() + fx.START_TIMEOUT
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise fx.DaemonError(f"port {port} not accepting\n{self.stderr_text()}")
                    time.sleep(0.05)


class TlsClient(fx.RawClient):
    """RawClient over TLS: implicit from the start, or after STARTTLS."""

    def __init__(self, port, implicit=False, timeout=fx.IO_TIMEOUT):
        self.buf = b""
        sock = socket.create_connection(("127.0.0.1", port), timeout)
        if implicit:
            self.sock = insecure_context().wrap_socket(sock)
            self.greeting = self.reply()
        else:
            self.sock = sock
            self.greeting = self.reply()

    def starttls(self, helo="raw.client.example"):
        self.cmd(f"EHLO {helo}")
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert self.buf == b""
        self.sock = insecure_context().wrap_socket(self.sock)
        return self.cmd(f"EHLO {helo}")


def last_line(reply):
    return reply.lines[-1]


class AuthTestCase(unittest.TestCase):
    """One daemon per class with alice (and yves when mkpasswd exists)."""

    server = "max-auth-failures=0\n"

    @classmethod
    def make_users(cls):
        """cls.users: the (name, hash) pairs of the passwd file."""
        cls.users = [(ALICE[0], sha512_crypt(ALICE[1]))]
        cls.have_yescrypt = shutil.which("mkpasswd") is not None
        if cls.have_yescrypt:
            cls.users.append((YVES[0], yescrypt(YVES[1])))

    @classmethod
    def setUpClass(cls):
        need("openssl")
        cls.tmp = tempfile.mkdtemp(prefix="vsmtpd-auth-")
        cls.passwd = os.path.join(cls.tmp, "passwd")
        cls.make_users()
        write_passwd(cls.passwd, cls.users)
        cls.daemon = AuthDaemon(cls.passwd, server=cls.server)
        try:
            cls.daemon.start()
        except Exception:
            cls.daemon.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        status = cls.daemon.stop()
        log = cls.daemon.stderr_text()
        cls.daemon.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if status != 0:
            raise AssertionError(f"vsmtpd exit status after SIGTERM: {status}\n{log}")

    def setUp(self):
        self.assertIsNone(self.daemon.proc.poll(),
                          "vsmtpd died:\n" + self.daemon.stderr_text())
        self.daemon.clear_maildir()
        self.work = tempfile.mkdtemp(prefix="vsmtpd-auth-test-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def tls(self, port=None, implicit=False):
        """A raw client, after STARTTLS and EHLO (or implicit TLS and
        EHLO); returns (client, EHLO reply)."""
        if port is None:
            port = self.daemon.subs_port if implicit else self.daemon.sub_port
        c = TlsClient(port, implicit=implicit)
        self.addCleanup(c.close)
        self.assertEqual(last_line(c.greeting)[:4], b"220 ")
        if implicit:
            ehlo = c.cmd("EHLO raw.client.example")
        else:
            ehlo = c.starttls()
        self.assertEqual(ehlo.code, 250, ehlo)
        return c, ehlo

    def assertLine(self, reply, expected):
        self.assertEqual(last_line(reply), expected, reply)

    def assertSubmitted(self, expected, user, helo=None, protocol="ESMTPSA"):
        """One delivered file: the Received header says ESMTPSA, the rest
        is ``expected``."""
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1, f"expected one delivered file, got {len(files)}")
        header, body = fx.split_received(files[0])
        fx.check_received(self, header, rcpt=RCPT, helo=helo, protocol=protocol)
        self.assertEqual(body, expected)
        self.assertIn(f"authenticated as {user}",
                      self.daemon.stderr_text())
        return header

    def assertNothingDelivered(self):
        self.assertEqual(self.daemon.maildir_files("new"), [])

    def send_raw(self, c, body=BODY, sender=SENDER):
        self.assertEqual(c.cmd(f"MAIL FROM:<{sender}>").code, 250)
        self.assertEqual(c.cmd(f"RCPT TO:<{RCPT}>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(body + b".\r\n")
        r = c.reply()
        self.assertRegex(last_line(r), rb"^250 2\.0\.0 Ok: queued as \S+$")


class SubmissionTests(AuthTestCase):

    # -- what is offered where ----------------------------------------------

    def test_startup_log(self):
        log = self.daemon.stderr_text()
        self.assertIn(f"listening on 127.0.0.1:{self.daemon.port}\n", log)
        self.assertIn(f"listening on 127.0.0.1:{self.daemon.sub_port} "
                      f"(submission: STARTTLS, AUTH required)\n", log)
        self.assertIn(f"listening on 127.0.0.1:{self.daemon.subs_port} "
                      f"(submission: implicit TLS, AUTH required)\n", log)
        self.assertNotIn("no plugin offers AUTH", log)

    def test_plain_listener_offers_no_auth(self):
        c = fx.RawClient(self.daemon.port)
        self.addCleanup(c.close)
        ehlo = c.cmd("EHLO raw.client.example")
        self.assertEqual(ehlo.code, 250)
        self.assertIn(b"STARTTLS", fx.ehlo_lines(ehlo))
        self.assertFalse([l for l in ehlo.lines if b"AUTH" in l], ehlo)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_NEED_TLS)
        # the plain listener does not require AUTH
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), b"250 2.1.0 Ok")

    def test_plain_listener_auth_after_starttls(self):
        c, ehlo = self.tls(port=self.daemon.port)
        self.assertIn(OFFERED[4:], fx.ehlo_lines(ehlo))
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)
        self.send_raw(c)
        self.assertSubmitted(BODY, ALICE[0], helo="raw.client.example")

    def test_submission_before_starttls(self):
        c = fx.RawClient(self.daemon.sub_port)
        self.addCleanup(c.close)
        ehlo = c.cmd("EHLO raw.client.example")
        self.assertIn(b"STARTTLS", fx.ehlo_lines(ehlo))
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), R_NEED_AUTH)
        self.assertLine(c.cmd("AUTH LOGIN"), R_NEED_TLS)
        self.assertNothingDelivered()

    def test_submission_mail_before_auth(self):
        for implicit in (False, True):
            with self.subTest(implicit=implicit):
                c, ehlo = self.tls(implicit=implicit)
                self.assertIn(OFFERED[4:], fx.ehlo_lines(ehlo))
                self.assertNotIn(b"250-STARTTLS", ehlo.lines)
                self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), R_NEED_AUTH)
                self.assertLine(c.cmd(f"RCPT TO:<{RCPT}>"),
                                b"503 5.5.1 Error: need MAIL command")
                # a failed AUTH does not open the door either
                self.assertLine(c.cmd("AUTH PLAIN " + plain(ALICE[0], "nope")), R_FAILED)
                self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), R_NEED_AUTH)
                self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)
                self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), b"250 2.1.0 Ok")
        self.assertNothingDelivered()

    # -- the exchanges, byte by byte ------------------------------------------

    def test_plain_with_empty_initial_response(self):
        c, _ = self.tls()
        self.assertEqual(c.cmd("AUTH PLAIN").lines, [b"334 "])
        self.assertLine(c.cmd(plain(*ALICE)), R_OK)

    def test_plain_with_authzid(self):
        c, _ = self.tls()
        # logging in as oneself is fine, as somebody else is not
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE, authzid="yves")), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE, authzid="alice")), R_OK)

    def test_login_exchange(self):
        c, _ = self.tls(implicit=True)
        r = c.cmd("auth login")
        self.assertEqual(r.code, 334, r)
        self.assertEqual(base64.b64decode(r.lines[0][4:]), b"User Name")
        r = c.cmd(b64(ALICE[0]))
        self.assertEqual(r.code, 334, r)
        self.assertEqual(base64.b64decode(r.lines[0][4:]), b"Password")
        self.assertLine(c.cmd(b64(ALICE[1])), R_OK)
        self.send_raw(c)
        self.assertSubmitted(BODY, ALICE[0], helo="raw.client.example")

    def test_login_with_initial_response(self):
        c, _ = self.tls()
        r = c.cmd("AUTH LOGIN " + b64(ALICE[0]))
        self.assertEqual(r.code, 334, r)
        self.assertEqual(base64.b64decode(r.lines[0][4:]), b"Password")
        self.assertLine(c.cmd(b64(ALICE[1])), R_OK)

    def test_yescrypt_user(self):
        if not self.have_yescrypt:
            self.skipTest("mkpasswd (whois) is not installed")
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(YVES[0], ALICE[1])), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*YVES)), R_OK)

    def test_wrong_password_and_unknown_user(self):
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(ALICE[0], "wrong")), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN " + plain("mallory", ALICE[1])), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN " + plain("", ALICE[1])), R_FAILED)
        r = c.cmd("AUTH LOGIN " + b64("nobody"))
        self.assertEqual(r.code, 334, r)
        self.assertLine(c.cmd(b64("x")), R_FAILED)
        # case matters in user names and passwords
        self.assertLine(c.cmd("AUTH PLAIN " + plain("Alice", ALICE[1])), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(ALICE[0], ALICE[1].upper())), R_FAILED)
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), R_NEED_AUTH)
        # the session goes on: now the right one
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)
        self.assertNotIn("authenticated as mallory", self.daemon.stderr_text())

    def test_user_name_cannot_forge_log_lines(self):
        """A user name with CR, LF and ESC reaches the log escaped, on its
        own line (AUTH LOGIN and PLAIN, failed and not)."""
        forged = "eve\r\nvsmtpd-INFO: 00:00:00.000: forged \x1b[2J\\x0a"
        escaped = r"eve\x0d\x0avsmtpd-INFO: 00:00:00.000: forged \x1b[2J\x5cx0a"
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(forged, "x")), R_FAILED)
        self.assertEqual(c.cmd("AUTH LOGIN " + b64(forged)).code, 334)
        self.assertLine(c.cmd(b64("x")), R_FAILED)
        c.close()
        log = self.daemon.stderr_text()
        # PLAIN: GNU SASL's SASLprep refuses the name before it is known
        self.assertRegex(log, r"\] authentication failed with PLAIN: [^\n]+\n")
        self.assertIn(f"authentication failed for {escaped} with LOGIN\n", log)
        for line in log.splitlines():
            self.assertFalse(line.startswith("vsmtpd-INFO: 00:00:00.000"), line)
        self.assertNotIn("\x1b", log)

    def test_bad_base64(self):
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN !!!!"), R_BAD_BASE64)
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertLine(c.cmd("not base64 at all"), R_BAD_BASE64)
        # the exchange is over: the next line is a command again
        self.assertLine(c.cmd("NOOP"), b"250 2.0.0 Ok")
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)

    def test_cancel(self):
        c, _ = self.tls()
        self.assertEqual(c.cmd("AUTH PLAIN").code, 334)
        self.assertLine(c.cmd("*"), R_CANCELLED)
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c.cmd(b64(ALICE[0])).code, 334)
        self.assertLine(c.cmd("*"), R_CANCELLED)
        self.assertLine(c.cmd("NOOP"), b"250 2.0.0 Ok")
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), R_NEED_AUTH)
        self.assertLine(c.cmd("AUTH LOGIN " + b64(ALICE[0])),
                        b"334 " + b64("Password").encode())
        self.assertLine(c.cmd(b64(ALICE[1])), R_OK)

    def test_unknown_mechanism_and_syntax(self):
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH CRAM-MD5"),
                        b"504 5.5.4 Unsupported authentication mechanism")
        self.assertLine(c.cmd("AUTH"),
                        b"501 5.5.4 Syntax: AUTH mechanism [initial-response]")
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)

    def test_response_line_limit(self):
        """RFC 4954 4: a response line may have 12288 octets with CRLF; a
        longer one gets 500 5.5.2 and ends the exchange."""
        c, _ = self.tls()
        # 12286 + CRLF: read in full, valid base64, not a PLAIN message
        self.assertEqual(c.cmd("AUTH PLAIN").code, 334)
        self.assertLine(c.cmd("A" * 12284 + "=="), R_BAD_BASE64)
        self.assertEqual(c.cmd("AUTH PLAIN").code, 334)
        self.assertLine(c.cmd(b64(b"\0" + b"u" * 9000 + b"\0p")), R_FAILED)
        # one octet more
        self.assertEqual(c.cmd("AUTH PLAIN").code, 334)
        self.assertLine(c.cmd("A" * 12287), R_TOO_LONG)
        self.assertLine(c.cmd("NOOP"), b"250 2.0.0 Ok")
        # far more, and as an initial response
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertLine(c.cmd("A" * 40000), R_TOO_LONG)
        self.assertLine(c.cmd("AUTH PLAIN " + "A" * 12400), R_TOO_LONG)
        self.assertLine(c.cmd("NOOP"), b"250 2.0.0 Ok")
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)

    def test_auth_twice(self):
        c, _ = self.tls(implicit=True)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_TWICE)
        self.assertLine(c.cmd("AUTH LOGIN"), R_TWICE)
        self.send_raw(c)
        self.assertSubmitted(BODY, ALICE[0], helo="raw.client.example")

    def test_auth_inside_transaction(self):
        # the plain listener (no AUTH required) after STARTTLS
        c, _ = self.tls(port=self.daemon.port)
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), b"250 2.1.0 Ok")
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_IN_TRANSACTION)
        self.assertLine(c.cmd(f"RCPT TO:<{RCPT}>"), b"250 2.1.5 Ok")
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_IN_TRANSACTION)
        self.assertLine(c.cmd("RSET"), b"250 2.0.0 Ok")
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)

    def test_auth_mail_parameter(self):
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}> AUTH=<>"), b"250 2.1.0 Ok")
        self.assertLine(c.cmd("RSET"), b"250 2.0.0 Ok")
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}> AUTH={SENDER} BODY=8BITMIME"),
                        b"250 2.1.0 Ok")
        self.assertLine(c.cmd(f"RCPT TO:<{RCPT}>"), b"250 2.1.5 Ok")
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(BODY + b".\r\n")
        self.assertRegex(last_line(c.reply()), rb"^250 2\.0\.0 Ok: queued as \S+$")
        self.assertSubmitted(BODY, ALICE[0], helo="raw.client.example")

    def test_auth_is_per_connection(self):
        """A new connection starts unauthenticated."""
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)
        c.close()
        c, _ = self.tls()
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), R_NEED_AUTH)

    # -- real clients -----------------------------------------------------------

    SWAKS_DATA = (b"From: <alice@submit.example>\n"
                  b"To: <bob@elsewhere.example>\n"
                  b"Subject: swaks submission\n"
                  b"\n"
                  b"sent by swaks\n"
                  b".a dotted line")

    def swaks(self, port, *extra):
        need("swaks")
        path = self.write("swaks.eml", self.SWAKS_DATA)
        return run(["swaks", "--server", "127.0.0.1", "--port", str(port),
                    "--ehlo", "swaks.client.example",
                    "--from", SENDER, "--to", RCPT,
                    "--data", "@" + path, *extra])

    def check_swaks(self, r, mechanism):
        out = r.stdout
        self.assertEqual(r.returncode, 0, out.decode(errors="replace"))
        lines = out.splitlines()
        replies = [l[3:].strip() for l in lines if l[:3] in (b"<- ", b"<~ ")]
        self.assertIn(R_OK, replies, out)
        sent = [l[4:] for l in lines if l[:4] in (b" -> ", b" ~> ")]
        self.assertTrue([l for l in sent if l.startswith(f"AUTH {mechanism}".encode())], out)
        self.assertFalse([l for l in lines if l[:3] in (b"<**", b"<~*")], out)
        self.assertSubmitted(self.SWAKS_DATA.replace(b"\n", b"\r\n") + b"\r\n",
                             ALICE[0], helo="swaks.client.example")

    def test_swaks_starttls_plain(self):
        r = self.swaks(self.daemon.sub_port, "--tls", "--auth", "PLAIN",
                       "--auth-user", ALICE[0], "--auth-password", ALICE[1])
        self.check_swaks(r, "PLAIN")

    def test_swaks_starttls_login(self):
        r = self.swaks(self.daemon.sub_port, "--tls", "--auth", "LOGIN",
                       "--auth-user", ALICE[0], "--auth-password", ALICE[1])
        self.check_swaks(r, "LOGIN")

    def test_swaks_implicit_tls_plain(self):
        r = self.swaks(self.daemon.subs_port, "--tlsc", "--auth", "PLAIN",
                       "--auth-user", ALICE[0], "--auth-password", ALICE[1])
        self.check_swaks(r, "PLAIN")

    def test_swaks_implicit_tls_login(self):
        r = self.swaks(self.daemon.subs_port, "--tlsc", "--auth", "LOGIN",
                       "--auth-user", ALICE[0], "--auth-password", ALICE[1])
        self.check_swaks(r, "LOGIN")

    def test_swaks_wrong_password(self):
        r = self.swaks(self.daemon.subs_port, "--tlsc", "--auth", "PLAIN",
                       "--auth-user", ALICE[0], "--auth-password", "wrong")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn(b"\n<~* " + R_FAILED + b"\n", r.stdout)
        self.assertNothingDelivered()

    def test_swaks_without_auth(self):
        r = self.swaks(self.daemon.sub_port, "--tls")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn(b"\n<~* " + R_NEED_AUTH + b"\n", r.stdout)
        self.assertNothingDelivered()

    def test_smtplib_login(self):
        with smtplib.SMTP("127.0.0.1", self.daemon.sub_port, timeout=20) as s:
            s.ehlo("smtplib.client.example")
            self.assertFalse(s.has_extn("auth"))
            s.starttls(context=insecure_context())
            s.ehlo("smtplib.client.example")
            self.assertEqual(s.esmtp_features["auth"], " PLAIN LOGIN")
            self.assertEqual(s.login(*ALICE), (235, b"2.7.0 Authentication successful"))
            self.assertEqual(s.sendmail(SENDER, [RCPT], BODY), {})
        self.assertSubmitted(BODY, ALICE[0], helo="smtplib.client.example")

    def test_smtplib_login_mechanism(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.daemon.subs_port, timeout=20,
                              context=insecure_context()) as s:
            s.ehlo("smtplib.client.example")
            s.user, s.password = ALICE
            self.assertEqual(s.auth("LOGIN", s.auth_login),
                             (235, b"2.7.0 Authentication successful"))
            s.sendmail(SENDER, [RCPT], BODY)
        self.assertSubmitted(BODY, ALICE[0], helo="smtplib.client.example")

    def test_smtplib_bad_login(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.daemon.subs_port, timeout=20,
                              context=insecure_context()) as s:
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                s.login(ALICE[0], "wrong")
            self.assertEqual(cm.exception.smtp_code, 535)
            self.assertEqual(cm.exception.smtp_error, b"5.7.8 Error: authentication failed")
            with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
                s.sendmail(SENDER, [RCPT], BODY)
            self.assertEqual(cm.exception.smtp_code, 530)
        self.assertNothingDelivered()

    def curl(self, url, user, *extra):
        need("curl")
        path = self.write("curl.eml", BODY)
        return run(["curl", "--silent", "--show-error", "--max-time", "30",
                    url, "--ssl-reqd", "--insecure", "--user", user,
                    "--mail-from", SENDER, "--mail-rcpt", RCPT,
                    "--upload-file", path, *extra])

    def test_curl_starttls(self):
        r = self.curl(f"smtp://127.0.0.1:{self.daemon.sub_port}/curl.client.example",
                      f"{ALICE[0]}:{ALICE[1]}")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertSubmitted(BODY, ALICE[0], helo="curl.client.example")

    def test_curl_implicit_tls_login(self):
        r = self.curl(f"smtps://127.0.0.1:{self.daemon.subs_port}/curl.client.example",
                      f"{ALICE[0]}:{ALICE[1]}", "--login-options", "AUTH=LOGIN")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertSubmitted(BODY, ALICE[0], helo="curl.client.example")

    def test_curl_wrong_password(self):
        r = self.curl(f"smtp://127.0.0.1:{self.daemon.sub_port}/curl.client.example",
                      f"{ALICE[0]}:wrong")
        # 67: CURLE_LOGIN_DENIED
        self.assertEqual(r.returncode, 67, r.stdout)
        self.assertNothingDelivered()

    def msmtp(self, port, starttls, password, user=ALICE[0], body=BODY):
        need("msmtp")
        conf = self.write("msmtprc", (
            "defaults\n"
            "syslog off\n"
            "logfile -\n"
            "account submit\n"
            "host 127.0.0.1\n"
            f"port {port}\n"
            "domain msmtp.client.example\n"
            "tls on\n"
            f"tls_starttls {'on' if starttls else 'off'}\n"
            "tls_certcheck off\n"
            "auth on\n"
            "set_from_header off\n"
            "set_date_header off\n"
            "set_msgid_header off\n"
            f"user {user}\n"
            f"password {password}\n"
            # the user's own address: submission checks sender ownership
            f"from {user}@submit.example\n"
            "account default : submit\n").encode())
        os.chmod(conf, 0o600)
        return run(["msmtp", "-C", conf, "--read-envelope-from", RCPT],
                   input=body.replace(b"\r\n", b"\n"))

    def test_msmtp_starttls(self):
        r = self.msmtp(self.daemon.sub_port, True, ALICE[1])
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertSubmitted(BODY, ALICE[0], helo="msmtp.client.example")

    def test_msmtp_implicit_tls(self):
        if not self.have_yescrypt:
            self.skipTest("mkpasswd (whois) is not installed")
        # the envelope sender, from the From: header, is yves' own
        body = BODY.replace(b"<alice@submit.example>", b"<yves@submit.example>")
        r = self.msmtp(self.daemon.subs_port, False, YVES[1], user=YVES[0], body=body)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertSubmitted(body, YVES[0], helo="msmtp.client.example")

    def test_msmtp_wrong_password(self):
        r = self.msmtp(self.daemon.sub_port, True, "wrong")
        # EX_NOPERM
        self.assertEqual(r.returncode, 77, r.stdout)
        self.assertIn(b"535 5.7.8", r.stdout)
        self.assertNothingDelivered()

    # -- the passwd file ----------------------------------------------------------

    def test_passwd_file_reload(self):
        """A user added to the file can log in at once, without a restart;
        a user removed cannot."""
        users = list(self.users)
        carol = ("carol", "rainbow trout")
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*carol)), R_FAILED)

        write_passwd(self.passwd, users + [(carol[0], sha512_crypt(carol[1]))])
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*carol)), R_OK)
        self.send_raw(c, sender="carol@submit.example")
        self.assertSubmitted(BODY, carol[0], helo="raw.client.example")

        write_passwd(self.passwd, users)
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*carol)), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)

    def test_vsmtpd_passwd_tool(self):
        if not os.access(VSMTPD_PASSWD, os.X_OK):
            self.skipTest(f"vsmtpd-passwd not built: {VSMTPD_PASSWD}")
        dave = ("dave", "pass: with spaces & symbols é")
        try:
            r = run([VSMTPD_PASSWD, self.passwd, dave[0]],
                    input=dave[1].encode() + b"\n")
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(r.stdout, b"")
            with open(self.passwd, encoding="utf-8") as f:
                lines = f.read().splitlines()
            # the other lines stay as they were, the new one is yescrypt
            self.assertEqual(lines[:-1], ["# vsmtpd users"]
                             + [f"{u}:{h}" for u, h in self.users])
            self.assertRegex(lines[-1], r"^dave:\$y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+$")
            c, _ = self.tls(implicit=True)
            self.assertLine(c.cmd("AUTH PLAIN " + plain(*dave)), R_OK)

            # a new password replaces the old one, in place
            r = run([VSMTPD_PASSWD, self.passwd, dave[0]], input=b"second\n")
            self.assertEqual(r.returncode, 0, r.stdout)
            with open(self.passwd, encoding="utf-8") as f:
                self.assertEqual(sum(l.startswith("dave:") for l in f), 1)
            c, _ = self.tls(implicit=True)
            self.assertLine(c.cmd("AUTH PLAIN " + plain(*dave)), R_FAILED)
            self.assertLine(c.cmd("AUTH PLAIN " + plain(dave[0], "second")), R_OK)

            r = run([VSMTPD_PASSWD, "--delete", self.passwd, dave[0]])
            self.assertEqual(r.returncode, 0, r.stdout)
            c, _ = self.tls(implicit=True)
            self.assertLine(c.cmd("AUTH PLAIN " + plain(dave[0], "second")), R_FAILED)

            r = run([VSMTPD_PASSWD, "--delete", self.passwd, dave[0]])
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stdout, f"vsmtpd-passwd: {self.passwd}: no user "
                                       f"\"dave\"\n".encode())
            r = run([VSMTPD_PASSWD, self.passwd, "a:b"], input=b"x\n")
            self.assertEqual(r.returncode, 1)
            r = run([VSMTPD_PASSWD, self.passwd, "erin"], input=b"")
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"no password on standard input", r.stdout)
        finally:
            write_passwd(self.passwd, self.users)


class FailureLimitTests(AuthTestCase):
    """max-auth-failures per client address: past it, 454 4.7.0 for every
    AUTH from that address, the right password too."""

    server = "max-auth-failures=3\nauth-failure-window=3600\n"

    def test_lockout(self):
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(ALICE[0], "one")), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(ALICE[0], "two")), R_FAILED)
        c.close()
        # the count is per address, not per connection
        c, _ = self.tls(implicit=True)
        self.assertEqual(c.cmd("AUTH LOGIN " + b64("nobody")).code, 334)
        self.assertLine(c.cmd(b64("three")), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_BLOCKED)
        self.assertLine(c.cmd("AUTH LOGIN"), R_BLOCKED)
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), R_NEED_AUTH)
        c.close()
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_BLOCKED)
        self.assertIn("authentication failed for nobody with LOGIN",
                      self.daemon.stderr_text())


class SenderLoginTests(unittest.TestCase):
    """On submission an authenticated user may only use their own senders:
    553 5.7.1 naming the login otherwise; sender-login-map decides when
    given; the MX port and sender-check=off do not check."""

    def start(self, passwd_extra=""):
        need("openssl")
        tmp = tempfile.mkdtemp(prefix="vsmtpd-auth-senders-")
        self.addCleanup(shutil.rmtree, tmp, True)
        self.tmp = tmp
        passwd = os.path.join(tmp, "passwd")
        write_passwd(passwd, [(ALICE[0], sha512_crypt(ALICE[1])),
                              ("carol@corp.example", sha512_crypt("carol's"))])
        d = AuthDaemon(passwd, server="auth-requires-tls=false\n")
        d.extra_config += passwd_extra
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def mail(self, port, user, password, senders):
        with fx.RawClient(port) as c:
            self.assertEqual(c.cmd(b"EHLO senders.example").code, 250)
            self.assertLine(c.cmd("AUTH PLAIN " + plain(user, password)), R_OK)
            out = []
            for sender in senders:
                out.append(c.cmd(f"MAIL FROM:<{sender}>"))
                c.cmd("RSET")
            return out

    def assertLine(self, reply, expected):
        self.assertEqual(last_line(reply), expected, reply)

    def test_default_rule(self):
        d = self.start()
        r = self.mail(d.sub_port, *ALICE, ["alice@submit.example", "Alice@Other.Example",
                                          "bob@submit.example", "", "alice.x@submit.example"])
        self.assertEqual([x.code for x in r[:2]], [250, 250])
        self.assertLine(r[2], b"553 5.7.1 <bob@submit.example>: Sender address rejected: "
                              b"not owned by user alice")
        self.assertEqual(r[3].code, 250)   # the null sender
        self.assertEqual(r[4].code, 553)
        # a login with "@" owns that address only
        r = self.mail(d.sub_port, "carol@corp.example", "carol's",
                      ["carol@corp.example", "carol@other.example"])
        self.assertEqual(r[0].code, 250)
        self.assertLine(r[1], b"553 5.7.1 <carol@other.example>: Sender address rejected: "
                              b"not owned by user carol@corp.example")
        # the MX port: no check (sender-check=submission)
        r = self.mail(d.port, *ALICE, ["bob@submit.example"])
        self.assertEqual(r[0].code, 250)
        self.assertIn("sender <bob@submit.example> refused: not owned by user alice",
                      d.stderr_text())
        self.assertEqual(d.stop(), 0)

    def test_map(self):
        tmpmap = tempfile.NamedTemporaryFile("w", suffix=".senders", delete=False)
        self.addCleanup(os.unlink, tmpmap.name)
        tmpmap.write("# sender  logins\n"
                     "sales@submit.example  alice, carol@corp.example\n"
                     "@team.example  alice\n")
        tmpmap.close()
        d = self.start(f"sender-login-map={tmpmap.name}\nsender-check=always\n")
        r = self.mail(d.sub_port, *ALICE, ["sales@submit.example", "anyone@team.example",
                                          "alice@submit.example"])
        # the map alone decides: alice's own address is not in it
        self.assertEqual([x.code for x in r], [250, 250, 553])
        r = self.mail(d.sub_port, "carol@corp.example", "carol's",
                      ["SALES@submit.example", "x@team.example"])
        self.assertEqual([x.code for x in r], [250, 553])
        # always: the MX port too
        r = self.mail(d.port, *ALICE, ["bob@submit.example"])
        self.assertEqual(r[0].code, 553)
        # an edit is seen by the next MAIL
        with open(tmpmap.name, "a") as f:
            f.write("bob@submit.example alice\n")
        r = self.mail(d.sub_port, *ALICE, ["bob@submit.example"])
        self.assertEqual(r[0].code, 250)
        self.assertEqual(d.stop(), 0)

    def test_off(self):
        d = self.start("sender-check=off\n")
        r = self.mail(d.sub_port, *ALICE, ["bob@submit.example"])
        self.assertEqual(r[0].code, 250)
        self.assertEqual(d.stop(), 0)


class ParallelFailureLimitTests(AuthTestCase):
    """max-auth-failures counts attempts in flight: 50 sessions from one
    address that each send a wrong password at once get at most the limit
    through to the password check (535); the others 454."""

    server = ("max-auth-failures=5\nauth-failure-window=3600\n"
              "auth-requires-tls=false\n")

    def test_parallel_wrong_passwords(self):
        clients = []
        for _ in range(50):
            c = fx.RawClient(self.daemon.port)
            self.addCleanup(c.close)
            self.assertEqual(c.cmd(b"EHLO parallel.example").code, 250)
            clients.append(c)
        # every AUTH is sent before any answer is read
        for i, c in enumerate(clients):
            c.send(b"AUTH PLAIN " + plain(ALICE[0], f"wrong {i}").encode() + b"\r\n")
        lines = [last_line(c.reply()) for c in clients]
        checked = [l for l in lines if l == R_FAILED]
        blocked = [l for l in lines if l == R_BLOCKED]
        self.assertEqual(len(checked) + len(blocked), 50, lines)
        self.assertLessEqual(len(checked), 5, lines)
        self.assertEqual(len(checked), 5, lines)
        # and the address stays blocked, the right password too
        self.assertLine(clients[0].cmd("AUTH PLAIN " + plain(*ALICE)), R_BLOCKED)


class HardErrorLimitTests(AuthTestCase):
    """Failed AUTH counts toward hard-error-limit: 421 and disconnect.
    Also auth-requires-tls=false: AUTH offered on a plain connection."""

    server = ("max-auth-failures=0\nhard-error-limit=3\n"
              "auth-requires-tls=false\n")

    def test_failures_until_disconnect(self):
        c, _ = self.tls()
        self.assertLine(c.cmd("AUTH PLAIN " + plain(ALICE[0], "one")), R_FAILED)
        self.assertLine(c.cmd("AUTH PLAIN !"), R_BAD_BASE64)
        c.send(("AUTH PLAIN " + plain(ALICE[0], "three") + "\r\n").encode())
        self.assertLine(c.reply(), R_FAILED)
        self.assertLine(c.reply(), R_TOO_MANY_ERRORS)
        self.assertTrue(c.closed_by_peer())

    def test_cancel_counts(self):
        c, _ = self.tls(implicit=True)
        for _ in range(2):
            self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
            self.assertLine(c.cmd("*"), R_CANCELLED)
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        c.send(b"*\r\n")
        self.assertLine(c.reply(), R_CANCELLED)
        self.assertLine(c.reply(), R_TOO_MANY_ERRORS)
        self.assertTrue(c.closed_by_peer())

    def test_auth_without_tls_when_allowed(self):
        c = fx.RawClient(self.daemon.sub_port)
        self.addCleanup(c.close)
        ehlo = c.cmd("EHLO raw.client.example")
        self.assertIn(b"STARTTLS", fx.ehlo_lines(ehlo))
        self.assertIn(OFFERED[4:], fx.ehlo_lines(ehlo))
        self.assertLine(c.cmd(f"MAIL FROM:<{SENDER}>"), R_NEED_AUTH)
        self.assertLine(c.cmd("AUTH PLAIN " + plain(*ALICE)), R_OK)
        self.send_raw(c)
        # RFC 3848: ESMTPA, authenticated without TLS
        header = self.assertSubmitted(BODY, ALICE[0], helo="raw.client.example",
                                      protocol="ESMTPA")
        self.assertNotIn(b"(using TLS", header)


class UnknownUserHashTests(unittest.TestCase):
    """Unknown users are checked against a hash of the method most entries
    use (timing: a fixed SHA-512-crypt dummy took 1.5 ms against 11.5 ms
    for a yescrypt entry), and never log in, even with that entry's
    password."""

    def start(self, users):
        need("openssl")
        tmp = tempfile.mkdtemp(prefix="vsmtpd-auth-dummy-")
        self.addCleanup(shutil.rmtree, tmp, True)
        passwd = os.path.join(tmp, "passwd")
        write_passwd(passwd, users)
        d = AuthDaemon(passwd, server="max-auth-failures=0\n")
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def test_most_common_method(self):
        need("mkpasswd")
        d = self.start([(ALICE[0], sha512_crypt(ALICE[1])),
                        (YVES[0], yescrypt(YVES[1])),
                        ("zed", yescrypt("zed's password"))])
        self.assertIn("passwd: 3 users from ", d.stderr_text())
        self.assertIn("; unknown users are checked against a $y$ hash",
                      d.stderr_text())
        c = TlsClient(d.sub_port)
        self.addCleanup(c.close)
        c.starttls()
        # the dummy is yves' hash: his password for an unknown user fails
        self.assertEqual(last_line(c.cmd("AUTH PLAIN " + plain("nobody", YVES[1]))),
                         R_FAILED)
        self.assertEqual(last_line(c.cmd("AUTH PLAIN " + plain(*YVES))), R_OK)
        c.close()
        self.assertEqual(d.stop(), 0)

    def test_single_method(self):
        d = self.start([(ALICE[0], sha512_crypt(ALICE[1]))])
        self.assertIn("; unknown users are checked against a $6$ hash",
                      d.stderr_text())
        c = TlsClient(d.sub_port)
        self.addCleanup(c.close)
        c.starttls()
        self.assertEqual(last_line(c.cmd("AUTH PLAIN " + plain("bob", ALICE[1]))),
                         R_FAILED)
        c.close()
        self.assertEqual(d.stop(), 0)


class RelayAuthenticatedTests(unittest.TestCase):
    """With the recipients plugin, only authenticated users may relay."""

    def start(self, recipients):
        """passwd (alice), recipients with the line @recipients, maildir."""
        need("openssl")
        tmp = tempfile.mkdtemp(prefix="vsmtpd-auth-relay-")
        self.addCleanup(shutil.rmtree, tmp, True)
        passwd = os.path.join(tmp, "passwd")
        write_passwd(passwd, [(ALICE[0], sha512_crypt(ALICE[1]))])
        d = AuthDaemon(passwd)
        self.addCleanup(d.cleanup)
        d.plugins = ["passwd", "recipients", "maildir"]
        d.extra_config += f"\n[recipients]\n{recipients}\n"
        d.start()
        return d

    def test_only_authenticated_users_relay(self):
        d = self.start("domains=local.example")

        # anonymous, on the MX port: local domain yes, elsewhere no
        with fx.RawClient(d.port) as c:
            self.assertEqual(c.cmd(b"EHLO anon.example").code, 250)
            self.assertEqual(c.cmd(f"MAIL FROM:<{SENDER}>".encode()).code, 250)
            r = c.cmd(f"RCPT TO:<{RCPT}>".encode())
            self.assertEqual((r.code, r.esc), (554, "5.7.1"), r)
            self.assertEqual(c.cmd(b"RCPT TO:<bob@local.example>").code, 250)

        # authenticated, on the submission port: anywhere
        c = TlsClient(d.sub_port)
        self.addCleanup(c.close)
        c.starttls()
        self.assertEqual(last_line(c.cmd("AUTH PLAIN " + plain(*ALICE))), R_OK)
        self.assertEqual(c.cmd(f"MAIL FROM:<{SENDER}>").code, 250)
        r = c.cmd(f"RCPT TO:<{RCPT}>")
        self.assertEqual(r.code, 250, r)
        # (a session in the middle of a transaction would hold the shutdown)
        c.close()
        self.assertEqual(d.stop(), 0)

    def test_authenticated_users_still_meet_the_local_check(self):
        """Authentication permits relaying to other domains, not mail to
        unknown users of a local domain: 550 5.1.1 for everyone."""
        d = self.start("users=bob@local.example")

        c = TlsClient(d.sub_port)
        self.addCleanup(c.close)
        c.starttls()
        self.assertEqual(last_line(c.cmd("AUTH PLAIN " + plain(*ALICE))), R_OK)
        self.assertEqual(c.cmd(f"MAIL FROM:<{SENDER}>").code, 250)
        r = c.cmd("RCPT TO:<nobody@local.example>")
        self.assertEqual((r.code, r.esc), (550, "5.1.1"), r)
        r = c.cmd("RCPT TO:<NOBODY@Local.Example>")
        self.assertEqual((r.code, r.esc), (550, "5.1.1"), r)
        self.assertEqual(c.cmd("RCPT TO:<bob@local.example>").code, 250)
        self.assertEqual(c.cmd(f"RCPT TO:<{RCPT}>").code, 250)   # elsewhere: relayed
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(b"Subject: t\r\n\r\nt\r\n.\r\n")
        self.assertEqual(c.reply().code, 250)
        c.close()
        self.assertEqual(d.stop(), 0)
        log = [l for l in d.stderr_text().splitlines() if " to=<" in l]
        self.assertEqual(len(log), 1, log)
        self.assertIn(f" to=<bob@local.example>,<{RCPT}> ", log[0])


class ConfigTests(unittest.TestCase):
    """Bad values of the new keys stop vsmtpd with one line."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-auth-config-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

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

    def test_submissions_needs_certificate(self):
        port = fx.free_port()
        line = self.failing_start(
            "--option", f"server.listen-submissions=127.0.0.1:{port}")
        self.assertEqual(line, f"vsmtpd: --option server.listen-submissions=127.0.0.1:"
                               f"{port}: [server] listen-submissions: implicit TLS needs "
                               f"tls-certificate (the self-signed default is only "
                               f"used for STARTTLS)")

    def test_bad_submission_address(self):
        line = self.failing_start("--option", "server.listen-submission=localhost:587")
        self.assertEqual(line, "vsmtpd: --option server.listen-submission=localhost:587: "
                               "[server] listen-submission: \"localhost:587\" is not "
                               "ADDR:PORT (an IP address and a port, IPv6 as [::1]:2525)")
        line = self.failing_start("--tls-cert", CERT, "--tls-key", KEY, "--option",
                                  "server.listen-submissions=127.0.0.1:465;;")
        self.assertIn("[server] listen-submissions: the list has an empty element", line)

    def test_bad_auth_values(self):
        line = self.failing_start("--option", "server.auth-requires-tls=maybe")
        self.assertEqual(line, "vsmtpd: --option server.auth-requires-tls=maybe: "
                               "[server] auth-requires-tls: \"maybe\" is neither "
                               "true nor false")
        line = self.failing_start("--option", "server.max-auth-failures=-1")
        self.assertEqual(line, "vsmtpd: --option server.max-auth-failures=-1: "
                               "[server] max-auth-failures: \"-1\" is out of range "
                               "(0 to 4294967295)")
        line = self.failing_start("--option", "server.max-auth-failures=many")
        self.assertEqual(line, "vsmtpd: --option server.max-auth-failures=many: "
                               "[server] max-auth-failures: \"many\" is not a number")
        line = self.failing_start("--option", "server.auth-failure-window=0")
        self.assertEqual(line, "vsmtpd: --option server.auth-failure-window=0: "
                               "[server] auth-failure-window: \"0\" is out of range "
                               "(1 to 4294967295 seconds)")

    def test_submission_without_auth_plugin_warns(self):
        d = fx.Vsmtpd(server=f"listen-submission=127.0.0.1:{fx.free_port()}\n")
        self.addCleanup(d.cleanup)
        d.start()
        self.assertEqual(d.stop(), 0, d.stderr_text())
        self.assertIn("[server] listen-submission/listen-submissions: no plugin offers "
                      "AUTH (enable one, e.g. passwd): every MAIL there gets 530 5.7.0",
                      d.stderr_text())


if __name__ == "__main__":
    fx.main()

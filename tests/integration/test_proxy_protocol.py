#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""[listener NAME] sections, the PROXY protocol and UNIX-domain sockets,
with raw sockets against the built vsmtpd.

One daemon with listener sections: PROXY v1, v2, any with implicit TLS, one
whose proxy-trusted does not hold the test's address, and a UNIX socket.
The header is written by hand (well formed, malformed, oversized, slow, cut
short) and what follows is plain SMTP, or TLS through Python's ssl module.
The checks are on the bytes: a greeting or none, the delivered message's
Received header, the daemon's log. Socket activation is tested with a
launcher that passes the sockets as systemd does (LISTEN_FDS,
LISTEN_FDNAMES, LISTEN_PID).
"""

import os
import signal
import socket
import ssl
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsmtpd_fixture as fx  # noqa: E402
from vsmtpd_fixture import CRLF, RawClient, Vsmtpd  # noqa: E402

DATA = os.path.join(fx.SOURCE_ROOT, "tests", "data")
CERT = os.path.join(DATA, "test-cert.pem")
KEY = os.path.join(DATA, "test-key.pem")

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
WAIT = 15.0   # how long a test waits for the daemon to close a connection


def v1(src="192.0.2.7", dst="198.51.100.1", sport=40000, dport=25):
    family = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


def tlv(kind, value):
    return bytes([kind]) + struct.pack(">H", len(value)) + value


def v2(src="192.0.2.8", dst="198.51.100.1", sport=40001, dport=25,
       tlvs=b"", command=0x21):
    if command == 0x20:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack(">H", 0)
    body = (socket.inet_aton(src) + socket.inet_aton(dst) +
            struct.pack(">HH", sport, dport) + tlvs)
    return V2_SIGNATURE + bytes([command, 0x11]) + struct.pack(">H", len(body)) + body


class Raw(RawClient):
    """A RawClient that sends a PROXY header before reading the greeting."""

    def __init__(self, port, header, greeting=True, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), fx.IO_TIMEOUT,
                                             source_address=(source, 0))
        self.buf = b""
        if header:
            self.sock.sendall(header)
        self.greeting = self.reply() if greeting else None


def closed_without_greeting(sock, wait=WAIT):
    """Whether the server closed @sock without sending a byte."""
    sock.settimeout(wait)
    try:
        data = sock.recv(4096)
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return data == b""


def send_mail(client, helo="client.example", rcpt="bob@example.org"):
    assert client.cmd(f"EHLO {helo}").code == 250
    assert client.cmd("MAIL FROM:<alice@example.org>").code == 250
    assert client.cmd(f"RCPT TO:<{rcpt}>").code == 250
    assert client.cmd("DATA").code == 354
    client.send(b"Subject: hi\r\n\r\nbody\r\n.\r\n")
    reply = client.reply()
    assert reply.code == 250, reply
    client.cmd("QUIT")


class ProxyListenerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ports = {name: fx.free_port() for name in ("v1", "v2", "tls", "strict", "plain")}
        cls.sockdir = tempfile.mkdtemp(prefix="vsmtpd-unix-")
        cls.unix_path = os.path.join(cls.sockdir, "smtp.sock")
        config = (
            f"[listener v1]\nlisten=127.0.0.1:{cls.ports['v1']}\n"
            "proxy-protocol=v1\nproxy-trusted=127.0.0.1\n\n"
            f"[listener v2]\nlisten=127.0.0.1:{cls.ports['v2']}\n"
            "proxy-protocol=v2\nproxy-trusted=127.0.0.0/8;::1\n\n"
            f"[listener tls]\nlisten=127.0.0.1:{cls.ports['tls']}\ntls=implicit\n"
            "proxy-protocol=any\nproxy-trusted=127.0.0.1\n\n"
            f"[listener strict]\nlisten=127.0.0.1:{cls.ports['strict']}\n"
            "proxy-protocol=any\nproxy-trusted=192.0.2.0/24\n\n"
            f"[listener plain]\nlisten=127.0.0.1:{cls.ports['plain']}\ntls=none\n"
            "disable-extensions=pipelining\nmax-message-size=5000\nmax-recipients=2\n\n"
            f"[listener local]\nlisten=unix:{cls.unix_path}\nsocket-mode=0660\n"
            + ("socket-owner=nobody\nsocket-group=nogroup\n" if os.geteuid() == 0 else ""))
        cls.daemon = Vsmtpd(server=(f"tls-certificate={CERT}\ntls-key={KEY}\n"
                                    "max-connections-per-client=2\n"
                                    "tls-handshake-timeout=2\n"),
                            config=config)
        try:
            cls.daemon.start()
        except Exception:
            cls.daemon.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        status = cls.daemon.stop()
        log = cls.daemon.stderr_text()
        cls.daemon.cleanup()
        try:
            # the UNIX socket file goes with the daemon
            assert not os.path.exists(cls.unix_path), "socket file left behind"
        finally:
            os.rmdir(cls.sockdir)
        if status != 0:
            raise AssertionError(f"vsmtpd exit status after SIGTERM: {status}\n{log}")

    def setUp(self):
        self.assertIsNone(self.daemon.proc.poll(), self.daemon.stderr_text())
        self.daemon.clear_maildir()

    def wait_log(self, text):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            log = self.daemon.stderr_text()
            if text in log:
                return log
            time.sleep(0.05)
        self.fail(f"{text!r} not in the log:\n{self.daemon.stderr_text()}")

    def delivered_received(self):
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1)
        header, _ = fx.split_received(files[0])
        return header

    # --- the header's address replaces the socket's --------------------------

    def test_v1_delivery_names_the_client(self):
        with Raw(self.ports["v1"], v1("192.0.2.7")) as c:
            self.assertEqual(c.greeting.code, 220)
            send_mail(c)
        received = self.delivered_received()
        self.assertIn(b"([192.0.2.7])", received)
        self.assertNotIn(b"127.0.0.1", received)
        self.wait_log("connect from [192.0.2.7] via proxy [127.0.0.1] (PROXY v1)")

    def test_v1_tcp6(self):
        with Raw(self.ports["v1"], v1("2001:db8::7", "2001:db8::1")) as c:
            send_mail(c)
        self.assertIn(b"([IPv6:2001:db8::7])", self.delivered_received())

    def test_v2_delivery_names_the_client(self):
        tlvs = tlv(0x01, b"smtp") + tlv(0x05, b"\x01\x02")
        with Raw(self.ports["v2"], v2("192.0.2.8", tlvs=tlvs)) as c:
            self.assertEqual(c.greeting.code, 220)
            send_mail(c)
        self.assertIn(b"([192.0.2.8])", self.delivered_received())
        self.wait_log("connect from [192.0.2.8] via proxy [127.0.0.1] (PROXY v2)")

    def test_v2_local_is_served_as_the_proxy(self):
        with Raw(self.ports["v2"], v2(command=0x20)) as c:
            self.assertEqual(c.greeting.code, 220)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.wait_log("connect from [127.0.0.1] via proxy [127.0.0.1] (PROXY v2 LOCAL)")

    def test_bytes_after_the_header_are_smtp(self):
        # the header and a command in one write: the command reaches the
        # SMTP session (which refuses a client talking before the greeting,
        # under the header's address): the reader took the header only
        with Raw(self.ports["v1"], v1("192.0.2.9") + b"EHLO early.example\r\n") as c:
            self.assertEqual(c.greeting.code, 554)
            self.assertIn(b"synchronization", c.greeting.text)
        self.wait_log("improper command pipelining before the greeting from [192.0.2.9]")

    def test_implicit_tls_after_the_header(self):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.ports["tls"]), fx.IO_TIMEOUT)
        with raw:
            raw.sendall(v2("192.0.2.10", tlvs=tlv(0x02, b"mx.example")))
            with context.wrap_socket(raw) as tls:
                f = tls.makefile("rb")
                self.assertTrue(f.readline().startswith(b"220 "))
                for command in (b"EHLO tls.example", b"MAIL FROM:<a@example.org>",
                                b"RCPT TO:<b@example.org>", b"DATA"):
                    tls.sendall(command + CRLF)
                    while True:
                        line = f.readline()
                        if line[3:4] != b"-":
                            break
                    self.assertIn(line[:1], (b"2", b"3"), line)
                tls.sendall(b"Subject: tls\r\n\r\nx\r\n.\r\n")
                self.assertTrue(f.readline().startswith(b"250 "))
                tls.sendall(b"QUIT\r\n")
                f.readline()
        received = self.delivered_received()
        self.assertIn(b"([192.0.2.10])", received)
        self.assertIn(b"ESMTPS", received)

    def test_v1_line_on_implicit_tls(self):
        # any: a v1 line, then the ClientHello in the same write
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing)
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        raw = socket.create_connection(("127.0.0.1", self.ports["tls"]), fx.IO_TIMEOUT)
        with raw:
            raw.sendall(v1("192.0.2.11") + hello)
            # the server's answer is a TLS record (handshake), not SMTP
            first = raw.recv(1)
            self.assertEqual(first, b"\x16")

    # --- refused: closed without a greeting ---------------------------------

    def assert_refused(self, port, data, log_text, **kw):
        with socket.create_connection(("127.0.0.1", port), fx.IO_TIMEOUT, **kw) as s:
            if data:
                s.sendall(data)
            self.assertTrue(closed_without_greeting(s), "not closed, or a greeting")
        self.wait_log(log_text)

    def test_untrusted_peer_is_refused(self):
        self.assert_refused(self.ports["strict"], v1(),
                            "connection from [127.0.0.1] on listener strict refused: "
                            "not in proxy-trusted")

    def test_no_header_is_refused(self):
        self.assert_refused(self.ports["v1"], b"EHLO client.example\r\n",
                            "no PROXY protocol header")

    def test_malformed_v1_is_refused(self):
        self.assert_refused(self.ports["v1"], b"PROXY TCP4 192.0.2.7 300.0.0.1 1 25\r\n",
                            "malformed PROXY protocol version 1 header")

    def test_oversized_v1_is_refused(self):
        self.assert_refused(self.ports["v1"], b"PROXY UNKNOWN " + b"x" * 200 + b"\r\n",
                            "PROXY protocol version 1 header too long")

    def test_oversized_v2_is_refused(self):
        header = V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack(">H", 0xFFFF)
        self.assert_refused(self.ports["v2"], header,
                            "PROXY protocol version 2 header too long")

    def test_wrong_version_is_refused(self):
        self.assert_refused(self.ports["v2"], v1(),
                            "version 1 header where version 2 is expected")

    def test_cut_short_is_refused(self):
        with socket.create_connection(("127.0.0.1", self.ports["v2"]), fx.IO_TIMEOUT) as s:
            s.sendall(v2()[:20])
            s.shutdown(socket.SHUT_WR)
            self.assertTrue(closed_without_greeting(s))
        self.wait_log("connection closed in the header")

    def test_slow_header_times_out(self):
        # half a header, then nothing: the deadline (tls-handshake-timeout)
        with socket.create_connection(("127.0.0.1", self.ports["v1"]), fx.IO_TIMEOUT) as s:
            s.sendall(b"PROXY TCP4 192.0.2.7 ")
            self.assertTrue(closed_without_greeting(s))
        self.wait_log("timed out waiting for the header")

    def test_silent_client_gets_no_greeting(self):
        with socket.create_connection(("127.0.0.1", self.ports["v1"]), fx.IO_TIMEOUT) as s:
            self.assertTrue(closed_without_greeting(s))

    # --- per-address limits apply to the header's address ---------------------

    def test_connection_limit_counts_the_proxied_address(self):
        # max-connections-per-client=2, all through one proxy address
        first = Raw(self.ports["v1"], v1("192.0.2.50"))
        second = Raw(self.ports["v2"], v2("192.0.2.50"))
        try:
            self.assertEqual(first.greeting.code, 220)
            self.assertEqual(second.greeting.code, 220)
            with Raw(self.ports["v1"], v1("192.0.2.50")) as third:
                self.assertEqual(third.greeting.code, 421)
                self.assertIn(b"too many connections from 192.0.2.50", third.greeting.text)
            # another client behind the same proxy is not affected
            with Raw(self.ports["v1"], v1("192.0.2.51")) as other:
                self.assertEqual(other.greeting.code, 220)
                other.cmd("QUIT")
        finally:
            first.close()
            second.close()

    # --- what a listener offers ----------------------------------------------

    def test_tls_none_and_disabled_extensions(self):
        def keywords(port):
            with RawClient(port) as c:
                reply = c.cmd("EHLO client.example")
                c.cmd("QUIT")
            return [line[4:].split()[0].upper() for line in reply.lines[1:]]

        plain = keywords(self.ports["plain"])
        self.assertNotIn(b"STARTTLS", plain)
        self.assertNotIn(b"PIPELINING", plain)
        self.assertIn(b"8BITMIME", plain)
        default = keywords(self.daemon.port)
        self.assertIn(b"STARTTLS", default)
        self.assertIn(b"PIPELINING", default)

    def test_limits_of_a_listener(self):
        with RawClient(self.ports["plain"]) as c:
            ehlo = c.cmd("EHLO client.example")
            self.assertIn(b"250-SIZE 5000", ehlo.lines)
            self.assertIn(b"250 LIMITS RCPTMAX=2", ehlo.lines)
            self.assertEqual(c.cmd("MAIL FROM:<a@example.org> SIZE=6000").code, 552)
            self.assertEqual(c.cmd("MAIL FROM:<a@example.org>").code, 250)
            for rcpt, code in (("b", 250), ("c", 250), ("d", 452)):
                self.assertEqual(c.cmd(f"RCPT TO:<{rcpt}@example.org>").code, code)
        with RawClient(self.daemon.port) as c:      # [server]'s limits there
            ehlo = c.cmd("EHLO client.example")
            self.assertIn(b"250-SIZE 10240000", ehlo.lines)

    # --- UNIX-domain socket ---------------------------------------------------

    def test_unix_socket_listener(self):
        st = os.stat(self.unix_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        if os.geteuid() == 0:
            import grp
            import pwd
            self.assertEqual(st.st_uid, pwd.getpwnam("nobody").pw_uid)
            self.assertEqual(st.st_gid, grp.getgrnam("nogroup").gr_gid)
        result = subprocess.run(
            ["swaks", "--socket", self.unix_path, "--helo", "local.example",
             "--from", "alice@example.org", "--to", "bob@example.org",
             "--body", "over a unix socket"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout.decode(errors="replace"))
        received = self.delivered_received()
        self.assertTrue(received.startswith(b"Received: from local.example (unix socket)\r\n"),
                        received)
        self.wait_log("connect from [unix socket]")


class ListenerConfigTest(unittest.TestCase):
    """Bad sections: one line naming the section and the key, exit 1."""

    def check(self, section, expected):
        d = Vsmtpd(config=section)
        try:
            d.write_config()
            result = subprocess.run([fx.VSMTPD, "--config", d.config_path],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=fx.clean_env(d.home), timeout=60)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(expected, result.stderr.decode())
        finally:
            d.cleanup()

    def test_errors_name_section_and_key(self):
        cases = [
            ("[listener a]\n", "[listener a] listen: no address"),
            ("[listener a]\nlisten=1.2.3:25\n", "[listener a] listen: \"1.2.3:25\" is not"),
            ("[listener a]\nlisten=unix:relative\n", "[listener a] listen:"),
            ("[listener a]\nlisten=127.0.0.1:0\nproxy-protocol=v3\n",
             "[listener a] proxy-protocol:"),
            ("[listener a]\nlisten=127.0.0.1:0\nproxy-protocol=v1\n",
             "[listener a] proxy-trusted: proxy-protocol = v1 needs"),
            ("[listener a]\nlisten=127.0.0.1:0\nproxy-trusted=10.0.0.0/40\n",
             "[listener a] proxy-trusted:"),
            ("[listener a]\nlisten=127.0.0.1:0\ntls=implicit\n",
             "[listener a] tls: implicit TLS needs a certificate"),
            ("[listener a]\nlisten=127.0.0.1:0\nsocket-mode=0660\n",
             "[listener a] socket-mode: only for unix: addresses"),
            ("[listener a]\nlisten=unix:/tmp/x.sock\nsocket-mode=999\n",
             "[listener a] socket-mode:"),
            ("[listener a]\nlisten=127.0.0.1:0\nbogus=1\n", "[listener a] bogus: unknown key"),
            ("[listener a]\nlisten=127.0.0.1:0\ndisable-extensions=SIZE;no way\n",
             "[listener a] disable-extensions:"),
        ]
        for section, expected in cases:
            with self.subTest(section=section):
                self.check(section, expected)

    def test_list_keys(self):
        result = subprocess.run([fx.VSMTPD, "--list-keys"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=60,
                                env=fx.clean_env(tempfile.gettempdir()))
        out = result.stdout.decode()
        self.assertIn("[listener NAME]", out)
        for key in ("listen", "tls", "require-auth", "protocol", "proxy-protocol",
                    "proxy-trusted", "xclient-trusted", "disable-extensions",
                    "socket-mode", "socket-owner", "socket-group"):
            self.assertIn(f"\n#{key}=", out.split("[listener NAME]")[1].split("\n[")[0])


LAUNCHER = r"""
import os, sys
fds = [int(x) for x in sys.argv[1].split(",")]
for i, fd in enumerate(fds):
    os.dup2(fd, 100 + i)
for i in range(len(fds)):
    os.dup2(100 + i, 3 + i)
    os.close(100 + i)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDNAMES"] = sys.argv[2]
os.execv(sys.argv[3], sys.argv[3:])
"""


class SocketActivationTest(unittest.TestCase):
    """Sockets passed as systemd passes them: a socket named as a section
    gets its options, an unnamed one today's plain SMTP."""

    def test_fdnames_map_to_sections(self):
        named = socket.socket()
        named.bind(("127.0.0.1", 0))
        named.listen(16)
        plain = socket.socket()
        plain.bind(("127.0.0.1", 0))
        plain.listen(16)
        d = Vsmtpd(config="[listener edge]\nlisten=127.0.0.1:1\n"
                          "proxy-protocol=v1\nproxy-trusted=127.0.0.1\n")
        try:
            d.write_config()
            stderr = open(d.stderr_path, "ab")
            d.proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER,
                 f"{named.fileno()},{plain.fileno()}", "edge:unknown",
                 fx.VSMTPD, "--config", d.config_path],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                pass_fds=(named.fileno(), plain.fileno()),
                env=fx.clean_env(d.home), cwd=d.tmpdir)
            stderr.close()
            named_port = named.getsockname()[1]
            plain_port = plain.getsockname()[1]
            named.close()
            plain.close()
            deadline = time.monotonic() + fx.START_TIMEOUT
            while "vsmtpd 0" not in d.stderr_text() or "started" not in d.stderr_text():
                self.assertIsNone(d.proc.poll(), d.stderr_text())
                self.assertLess(time.monotonic(), deadline, d.stderr_text())
                time.sleep(0.05)
            log = d.stderr_text()
            self.assertIn("(socket activation, listener edge)", log)
            # the section's own address is not bound
            self.assertNotIn("127.0.0.1:1 ", log)
            with Raw(named_port, v1("192.0.2.60")) as c:
                self.assertEqual(c.greeting.code, 220)
                send_mail(c)
            received = fx.split_received(d.delivered()[0])[0]
            self.assertIn(b"([192.0.2.60])", received)
            with RawClient(plain_port) as c:
                self.assertEqual(c.greeting.code, 220)
                c.cmd("QUIT")
            self.assertEqual(d.stop(), 0, d.stderr_text())
        finally:
            d.cleanup()


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Per-listener options (Vsmtp.ListenOptions) through GObject Introspection.

A Vsmtp.Server in this process listens on a TCP port and on a UNIX-domain
socket with options made in Python; a client in a second thread checks
what each listener offers, and the handlers check which options their
session was accepted with. Also the options' own checks: trusted-peer lists
that do not parse, and the copy the server keeps.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import os
import shutil
import socket
import sys
import tempfile

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, GLib, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import GUARD_SECONDS, ServerTestCase  # noqa: E402


def ehlo(sock, verb=b"EHLO"):
    """Greeting and EHLO (or LHLO) reply lines over @sock, then QUIT."""
    sock.settimeout(GUARD_SECONDS)
    f = sock.makefile("rb")
    lines = [f.readline()]
    sock.sendall(verb + b" client.example\r\n")
    while True:
        line = f.readline()
        lines.append(line)
        if line[3:4] != b"-":
            break
    sock.sendall(b"QUIT\r\n")
    lines.append(f.readline())
    sock.close()
    return lines


class ListenOptionsTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="vsmtp-listen-")
        self.seen = []
        self.server.connect("new-session", self.on_new_session)

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.tmp)

    def on_new_session(self, server, session):
        options = session.get_listen_options()
        self.seen.append((options.get_name(), options.get_protocol(),
                          isinstance(session.get_remote_address(), Gio.UnixSocketAddress)))

    def test_defaults(self):
        o = Vsmtp.ListenOptions.new()
        self.assertIsNone(o.get_name())
        self.assertEqual(o.get_protocol(), Vsmtp.Protocol.SMTP)
        self.assertEqual(o.get_proxy_protocol(), Vsmtp.ProxyProtocol.OFF)
        self.assertEqual(o.get_flags(), Vsmtp.ListenFlags.NONE)
        self.assertFalse(o.get_proxy_trusted())      # NULL: None or []
        self.assertFalse(o.get_xclient_trusted())
        self.assertFalse(o.get_disabled_extensions())

    def test_trusted_lists_are_checked(self):
        o = Vsmtp.ListenOptions(name="edge")
        self.assertTrue(o.set_proxy_trusted(["127.0.0.1", "10.0.0.0/8", "::1", "unix"]))
        self.assertEqual(o.get_proxy_trusted(), ["127.0.0.1", "10.0.0.0/8", "::1", "unix"])
        with self.assertRaises(GLib.Error) as cm:
            o.set_xclient_trusted(["127.0.0.1", "10.0.0.0/99"])
        self.assertIn("10.0.0.0/99", cm.exception.message)
        self.assertFalse(o.get_xclient_trusted())   # refused as a whole
        with self.assertRaises(GLib.Error):
            o.set_proxy_trusted(["not-an-address"])
        self.assertEqual(o.get_proxy_trusted()[0], "127.0.0.1")   # unchanged

    def test_unix_and_tcp_listeners(self):
        path = os.path.join(self.tmp, "lmtp.sock")
        lmtp = Vsmtp.ListenOptions(name="local", protocol=Vsmtp.Protocol.LMTP)
        lmtp.set_disabled_extensions(["pipelining", "8BITMIME"])
        ok, unix_address = self.server.listen_with_options(
            Gio.UnixSocketAddress.new(path), lmtp)
        self.assertTrue(ok)
        self.assertEqual(unix_address.get_path(), path)
        tcp = Vsmtp.ListenOptions(name="edge")
        ok, tcp_address = self.server.listen_with_options(
            Gio.InetSocketAddress.new_from_string("127.0.0.1", 0), tcp)
        self.assertTrue(ok)
        # the server keeps a copy: later changes do not reach the listeners
        lmtp.set_name("renamed")
        tcp.set_disabled_extensions(["SIZE"])

        def client():
            u = socket.socket(socket.AF_UNIX)
            u.connect(path)
            t = socket.create_connection(("127.0.0.1", tcp_address.get_port()))
            return ehlo(u, b"LHLO"), ehlo(t)

        on_unix, on_tcp = self.run_client(client)
        self.assertTrue(on_unix[0].startswith(b"220 "))
        keywords = [line[4:].split()[0].upper() for line in on_unix[2:-1]]
        self.assertNotIn(b"PIPELINING", keywords)
        self.assertNotIn(b"8BITMIME", keywords)
        self.assertIn(b"SIZE", keywords)
        keywords = [line[4:].split()[0].upper() for line in on_tcp[2:-1]]
        self.assertIn(b"PIPELINING", keywords)
        self.assertIn(b"SIZE", keywords)
        self.assertEqual(sorted(self.seen, key=str), sorted([
            ("local", Vsmtp.Protocol.LMTP, True),
            ("edge", Vsmtp.Protocol.SMTP, False)], key=str))

    def test_one_listener_changed_or_stopped(self):
        """stop_listening_on / set_listen_options_on: one listener, the
        others untouched (what vsmtpd's reload uses)"""
        ok, other = self.server.listen_with_options(
            Gio.InetSocketAddress.new_from_string("127.0.0.1", 0), Vsmtp.ListenOptions(name="a"))
        self.assertTrue(ok)
        renamed = Vsmtp.ListenOptions(name="b")
        self.assertTrue(self.server.set_listen_options_on(other, renamed))
        renamed.set_name("c")   # the server keeps a copy
        self.assertTrue(self.server.stop_listening_on(self.address))
        self.assertFalse(self.server.stop_listening_on(self.address))
        self.assertEqual([a.get_port() for a in self.server.get_listen_addresses()],
                         [other.get_port()])

        def client():
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", self.port)).close()
            return ehlo(socket.create_connection(("127.0.0.1", other.get_port())))

        lines = self.run_client(client)
        self.assertTrue(lines[0].startswith(b"220 "))
        self.assertEqual(self.seen, [("b", Vsmtp.Protocol.SMTP, False)])

    def test_limits_of_a_listener(self):
        strict = Vsmtp.ListenOptions(name="strict", max_message_size=1000, max_recipients=1,
                                     max_connections_per_client=1)
        self.assertEqual(strict.get_max_message_size(), 1000)
        ok, strict_address = self.server.listen_with_options(
            Gio.InetSocketAddress.new_from_string("127.0.0.1", 0), strict)
        self.assertTrue(ok)

        def session(port, rcpts, body):
            s = socket.create_connection(("127.0.0.1", port))
            s.settimeout(GUARD_SECONDS)
            f = s.makefile("rb")
            out = [f.readline()]
            s.sendall(b"EHLO c.example\r\n")
            ehlo = []
            while True:
                line = f.readline()
                ehlo.append(line[4:].strip())
                if line[3:4] != b"-":
                    break
            out.append(ehlo)
            for command in [b"MAIL FROM:<a@example.org>"] + [b"RCPT TO:<%s@example.net>" % r for r in rcpts]:
                s.sendall(command + b"\r\n")
                out.append(f.readline().strip())
            s.sendall(b"DATA\r\n")
            out.append(f.readline().strip())
            s.sendall(body + b"\r\n.\r\n")
            out.append(f.readline().strip())
            return s, out

        def client():
            s1, strict_out = session(strict_address.get_port(), [b"x", b"y"], b"x" * 2000)
            # a second connection from the same address: over this listener's limit
            s2 = socket.create_connection(("127.0.0.1", strict_address.get_port()))
            s2.settimeout(GUARD_SECONDS)
            refused = s2.makefile("rb").readline()
            s2.close()
            s1.close()
            s3, default_out = session(self.port, [b"x", b"y"], b"x" * 2000)
            s3.close()
            return strict_out, refused, default_out

        strict_out, refused, default_out = self.run_client(client)
        self.assertIn(b"SIZE 1000", strict_out[1])
        self.assertIn(b"LIMITS RCPTMAX=1", strict_out[1])
        self.assertEqual(strict_out[3][:3], b"250")
        self.assertEqual(strict_out[4][:9], b"452 4.5.3")
        self.assertEqual(strict_out[6][:9], b"552 5.3.4")    # 2,000 bytes over 1,000
        self.assertTrue(refused.startswith(b"421 4.7.0"), refused)
        # the server's own limits on the other listener
        self.assertIn(b"SIZE 10240000", default_out[1])
        self.assertEqual(default_out[4][:3], b"250")

    def test_full_variants_keep_their_flags(self):
        self.server.set_tls_certificate(Gio.TlsCertificate.new_from_files(
            os.path.join(os.path.dirname(HERE), "data", "test-cert.pem"),
            os.path.join(os.path.dirname(HERE), "data", "test-key.pem")))
        ok, address = self.server.listen_full(
            Gio.InetSocketAddress.new_from_string("127.0.0.1", 0),
            Vsmtp.ListenFlags.AUTH_REQUIRED)
        self.assertTrue(ok)

        def client():
            s = socket.create_connection(("127.0.0.1", address.get_port()))
            s.settimeout(GUARD_SECONDS)
            f = s.makefile("rb")
            f.readline()
            replies = []
            for command in (b"HELO c", b"MAIL FROM:<a@example.org>", b"QUIT"):
                s.sendall(command + b"\r\n")
                replies.append(f.readline())
            return replies

        replies = self.run_client(client)
        self.assertTrue(replies[1].startswith(b"530 "), replies)
        flags = [s.get_listen_options().get_flags() for s in self.sessions]
        self.assertIn(Vsmtp.ListenFlags.AUTH_REQUIRED, flags)


if __name__ == "__main__":
    fx.main()

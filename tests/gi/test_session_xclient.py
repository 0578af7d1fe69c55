#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What handlers see of XCLIENT, through GObject Introspection.

A Vsmtp.Server in this process listens with xclient-trusted options made in
Python; a client thread plays the proxy. The "connected" signal is emitted
again for the client XCLIENT names, the session's remote address, IP, client
name, HELO and authenticated user are the client's, its peer address stays
the proxy's, and the "xclient" property tells handlers that it happened.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import os
import socket
import sys

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import GUARD_SECONDS, ServerTestCase  # noqa: E402


def ip_of(address):
    if address is None:
        return None
    return address.get_address().to_string()


def talk(port, commands):
    """The greeting, then one reply (its last line) per command; b"" for
    each once the server closed the connection."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(GUARD_SECONDS)
    f = s.makefile("rb")

    def reply():
        while True:
            try:
                line = f.readline()
            except ConnectionResetError:
                return b""
            if line[3:4] != b"-":
                return line

    replies = [reply()]
    for command in commands:
        try:
            s.sendall(command + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        replies.append(reply())
        if command == b"DATA" and replies[-1].startswith(b"354"):
            s.sendall(b"Subject: x\r\n\r\nx\r\n.\r\n")
            replies.append(reply())
    s.close()
    return replies


class SessionXclientTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.server.stop_listening()
        options = Vsmtp.ListenOptions(name="behind-proxy")
        self.assertTrue(options.set_xclient_trusted(["127.0.0.1"]))
        ok, address = self.server.listen_with_options(
            Gio.InetSocketAddress.new_from_string("127.0.0.1", 0), options)
        self.assertTrue(ok)
        self.port = address.get_port()
        self.connected = []
        self.mails = []
        self.notified = []
        self.server.connect("new-session", self.on_new_session)

    def on_new_session(self, server, session):
        session.connect("connected", self.on_connected)
        session.connect("mail-from", self.on_mail_from)
        session.connect("message-received", self.on_message)
        session.connect("notify::xclient", lambda s, p: self.notified.append(s.props.xclient))

    def on_connected(self, session):
        self.connected.append(dict(
            xclient=session.get_xclient(),
            remote=session.get_remote_ip(),
            port=session.get_remote_address().get_port()
            if session.get_remote_address() else None,
            peer=ip_of(session.get_peer_address()),
            name=session.get_client_name(),
            user=session.get_authenticated_user(),
            local_port=session.get_local_address().get_port()))
        if session.get_remote_ip() == "192.0.2.66":
            return Vsmtp.Reply.new(554, "5.7.1", "Not you")
        return Vsmtp.Reply.new_continue()

    def on_mail_from(self, session, sender, parameters):
        self.mails.append((session.get_remote_ip(), session.get_helo(),
                           session.get_authenticated_user(), session.props.xclient))
        return Vsmtp.Reply.new_continue()

    def on_message(self, session, message):
        return Vsmtp.Reply.new(250, "2.0.0", "Ok: taken")

    def test_handlers_see_the_client(self):
        replies = self.run_client(lambda: talk(self.port, [
            b"EHLO proxy.example",
            b"XCLIENT ADDR=192.0.2.5 PORT=40000 NAME=c.example LOGIN=carol "
            b"HELO=c-helo.example DESTADDR=198.51.100.1 DESTPORT=587",
            b"EHLO proxy.example",
            b"MAIL FROM:<carol@example.org>",
            b"RCPT TO:<dave@example.net>",
            b"DATA",
            b"QUIT"]))
        self.assertTrue(replies[2].startswith(b"220 "), replies)
        self.assertTrue(replies[7].startswith(b"250 2.0.0 Ok: taken"), replies)
        self.assertEqual(len(self.connected), 2, self.connected)
        first, second = self.connected
        self.assertEqual(first, dict(xclient=False, remote="127.0.0.1", port=first["port"],
                                     peer="127.0.0.1", name=None, user=None,
                                     local_port=self.port))
        self.assertEqual(second, dict(xclient=True, remote="192.0.2.5", port=40000,
                                      peer="127.0.0.1", name="c.example", user="carol",
                                      local_port=587))
        self.assertEqual(self.mails, [("192.0.2.5", "c-helo.example", "carol", True)])
        self.assertEqual(self.notified, [True])
        session = self.sessions[0]
        self.assertEqual(ip_of(session.get_local_address()), "198.51.100.1")

    def test_connected_handler_refuses_the_client(self):
        replies = self.run_client(lambda: talk(self.port, [
            b"XCLIENT ADDR=192.0.2.66", b"EHLO proxy.example"]))
        self.assertTrue(replies[1].startswith(b"554 5.7.1 Not you"), replies)
        self.assertEqual(replies[2], b"", "the connection stays open")
        self.assertEqual([c["remote"] for c in self.connected], ["127.0.0.1", "192.0.2.66"])


if __name__ == "__main__":
    fx.main()

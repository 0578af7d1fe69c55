#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a running Vsmtp.Server tells an operator's console, through GObject
Introspection: its listeners (Vsmtp.ListenerInfo), paused and resumed by
name (a client connecting meanwhile gets no greeting until the resume,
the listener-state-changed signal), its open sessions (start time, bytes
received, listener, lookup by id), and Vsmtp.Session.close_gracefully:
with the end-of-data decision still pending, the client gets that
decision's 250 first, then the 421, and the connection closes.

A client thread drives the sockets while the main loop serves; it calls the
server on the main thread (in_main). Prints TAP.
"""

import os
import socket
import sys
import threading
import time

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, GLib, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import GUARD_SECONDS, HOSTNAME, ServerTestCase  # noqa: E402


def in_main(fn):
    """Runs @fn on the main loop's thread and returns what it returned."""
    box, done = {}, threading.Event()

    def run():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001
            box["error"] = e
        done.set()
        return GLib.SOURCE_REMOVE

    GLib.idle_add(run)
    if not done.wait(GUARD_SECONDS):
        raise AssertionError("the main loop did not run the call")
    if "error" in box:
        raise box["error"]
    return box.get("result")


class Lines:
    """Reply lines off a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(GUARD_SECONDS)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        while True:
            line = self.line()
            if line[3:4] != b"-":
                return line

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def nothing_within(self, seconds):
        self.sock.settimeout(seconds)
        try:
            return self.buf == b"" and self.sock.recv(1) == b"x"
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(GUARD_SECONDS)


class ListenersTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.changes = []
        self.server.connect("listener-state-changed",
                            lambda server, name, paused: self.changes.append((name, paused)))

    def test_dup_listeners(self):
        edge = Vsmtp.ListenOptions(name="edge", flags=Vsmtp.ListenFlags.IMPLICIT_TLS)
        ok, _ = self.server.listen_with_options(
            Gio.InetSocketAddress.new_from_string("127.0.0.1", 0), edge)
        self.assertTrue(ok)
        infos = self.server.dup_listeners()
        self.assertEqual([i.get_name() for i in infos], ["default", "edge"])
        self.assertEqual(infos[0].get_address().get_port(), self.port)
        self.assertEqual(infos[1].get_options().get_flags(), Vsmtp.ListenFlags.IMPLICIT_TLS)
        self.assertEqual([i.get_paused() for i in infos], [False, False])
        self.assertTrue(self.server.pause_listener("edge"))
        self.assertEqual([i.get_paused() for i in self.server.dup_listeners()], [False, True])
        self.assertFalse(infos[1].get_paused())   # a description does not change
        with self.assertRaises(GLib.Error) as cm:
            self.server.pause_listener("nosuch")
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))
        self.assertEqual(self.changes, [("edge", True)])

    def test_pause_holds_new_clients_until_resume(self):
        def client():
            in_main(lambda: self.server.pause_listener("default"))
            in_main(lambda: self.server.pause_listener("default"))   # no change
            self.assertTrue(in_main(lambda: self.server.get_listener_paused("default")))
            waiting = Lines(socket.create_connection(("127.0.0.1", self.port)))
            try:
                held = waiting.nothing_within(1.0)
                in_main(lambda: self.server.resume_listener("default"))
                greeting = waiting.reply()
                quit_reply = waiting.cmd("QUIT")
            finally:
                waiting.sock.close()
            return held, greeting, quit_reply

        held, greeting, quit_reply = self.run_client(client)
        self.assertTrue(held)
        self.assertTrue(greeting.startswith(b"220 " + HOSTNAME.encode()), greeting)
        self.assertTrue(quit_reply.startswith(b"221 "), quit_reply)
        self.assertFalse(self.server.get_listener_paused("default"))
        self.assertEqual(self.changes, [("default", True), ("default", False)])


class CloseGracefullyTest(ServerTestCase):

    def on_message(self, session, message):
        self.pending.append(Vsmtp.Reply.new_pending())
        return self.pending[-1]

    handlers = {"message-received": on_message}

    def setUp(self):
        super().setUp()
        self.pending = []

    def test_pending_decision_answered_then_421(self):
        def client():
            c = Lines(socket.create_connection(("127.0.0.1", self.port)))
            try:
                c.reply()
                c.cmd("EHLO client.gi-test.example")
                c.cmd("MAIL FROM:<sender@gi-test.example>")
                c.cmd("RCPT TO:<rcpt@gi-test.example>")
                c.cmd("DATA")
                c.sock.sendall(b"Subject: close\r\n\r\nbody\r\n.\r\n")
                while not in_main(lambda: len(self.pending)):
                    time.sleep(0.02)

                def inspect():
                    sessions = self.server.dup_sessions()
                    s = sessions[0]
                    found = self.server.lookup_session(s.get_id())
                    info = (len(sessions), found is s, self.server.lookup_session("nosuch"),
                            s.get_listener_name(), s.get_bytes_received(),
                            s.get_start_time(), s.get_state())
                    s.close_gracefully()
                    return info

                info = in_main(inspect)
                quiet = c.nothing_within(0.5)   # the decision is still pending
                in_main(lambda: self.pending[0].complete(250, "2.0.0", "Stored"))
                lines = [c.line(), c.line()]
                eof = c.sock.recv(1) == b""
            finally:
                c.sock.close()
            return info, quiet, lines, eof

        info, quiet, lines, eof = self.run_client(client)
        n, found, missing, listener, received, start, state = info
        self.assertEqual((n, found, missing, listener), (1, True, None, "default"))
        self.assertGreater(received, len(b"Subject: close\r\n\r\nbody\r\n.\r\n"))
        self.assertLess(abs(start / 1e6 - time.time()), 3600)
        self.assertEqual(state, Vsmtp.SessionState.DATA)
        self.assertTrue(quiet)
        self.assertEqual(lines, [
            b"250 2.0.0 Stored",
            b"421 4.3.2 " + HOSTNAME.encode() +
            b" Service not available, closing transmission channel"])
        self.assertTrue(eof)
        self.assertEqual(self.server.dup_sessions(), [])

    def test_idle_session_closed_at_once(self):
        def client():
            c = Lines(socket.create_connection(("127.0.0.1", self.port)))
            try:
                c.reply()
                c.cmd("EHLO client.gi-test.example")
                in_main(lambda: self.server.dup_sessions()[0].close_gracefully())
                line = c.line()
                eof = c.sock.recv(1) == b""
            finally:
                c.sock.close()
            return line, eof

        line, eof = self.run_client(client)
        self.assertEqual(line, b"421 4.3.2 " + HOSTNAME.encode() +
                         b" Service not available, closing transmission channel")
        self.assertTrue(eof)


if __name__ == "__main__":
    fx.main()

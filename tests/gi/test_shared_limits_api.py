#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared per-address limits and handler owners through GObject
Introspection: Vsmtp.Server.set_shared_limits with an in-process store
(the second connection from an address refused with 421 4.7.0 by
max-connections-per-client=1, the first greeted), set_store_error_policy
with a store that cannot answer (a Redis nobody listens on: 421 4.3.0, or
a greeting with ACCEPT), and a Python handler named by the object of its
bound method (Vsmtp.Session.set_handler_object, called by the override):
its decisions counted under its owner's name. Prints TAP."""

import os
import socket
import sys

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import GObject, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import GUARD_SECONDS, HOSTNAME, ServerTestCase  # noqa: E402


def greeting_line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.rstrip(b"\r\n")


class Plugin(GObject.Object):
    """A plugin-like object whose bound method handles RCPT TO"""

    def on_rcpt_to(self, session, recipient, parameters):
        return Vsmtp.Reply.new(550, "5.1.1", "No such user here")


class SharedLimitsApiTest(ServerTestCase):

    def connect_and_greet(self, n):
        """@n connections at once: their first lines"""
        def client():
            socks = [socket.create_connection(("127.0.0.1", self.port), GUARD_SECONDS)
                     for _ in range(n)]
            try:
                return [greeting_line(s) for s in socks]
            finally:
                for s in socks:
                    s.close()
        return self.run_client(client)

    def test_connections_in_the_store(self):
        self.assertEqual(self.server.get_shared_limits(), Vsmtp.SharedLimits.NONE)
        self.server.set_store(Vsmtp.MemoryStore.new(None))
        self.server.set_shared_limits(Vsmtp.SharedLimits.CONNECTIONS |
                                      Vsmtp.SharedLimits.AUTH_FAILURES)
        self.server.props.max_connections_per_client = 1
        self.assertEqual(self.server.get_shared_limits(),
                         Vsmtp.SharedLimits.CONNECTIONS | Vsmtp.SharedLimits.AUTH_FAILURES)
        lines = self.connect_and_greet(2)
        self.assertTrue(lines[0].startswith(b"220 "), lines)
        self.assertEqual(lines[1], f"421 4.7.0 {HOSTNAME} Error: too many connections from "
                                   "127.0.0.1".encode())

    def test_store_error_policy(self):
        self.server.set_store(Vsmtp.RedisStore.new(f"redis://127.0.0.1:{fx.free_port()}", None))
        self.server.set_shared_limits(Vsmtp.SharedLimits.CONNECTIONS)
        self.server.props.max_connections_per_client = 5
        self.assertEqual(self.server.get_store_error_policy(),
                         Vsmtp.StoreErrorPolicy.TEMPFAIL)
        self.assertEqual(self.connect_and_greet(1),
                         [f"421 4.3.0 {HOSTNAME} Error: cannot check the connection limit, "
                          "try again later".encode()])
        self.server.set_store_error_policy(Vsmtp.StoreErrorPolicy.ACCEPT)
        self.assertTrue(self.connect_and_greet(1)[0].startswith(b"220 "))

    def test_python_handler_named_by_its_object(self):
        plugin = Plugin()
        self.server.set_handler_owner(plugin, "plugin mine")
        self.server.connect("new-session",
                            lambda server, session: session.connect("rcpt-to", plugin.on_rcpt_to))

        def client():
            import smtplib
            with smtplib.SMTP("127.0.0.1", self.port, timeout=GUARD_SECONDS) as s:
                s.ehlo("client.example")
                s.mail("a@example.com")
                return s.rcpt("b@example.org")[0]
        self.assertEqual(self.run_client(client), 550)
        metric = self.server.get_metrics().lookup("vsmtp_handler_decisions_total")
        self.assertEqual(metric.get_value(["rcpt-to", "mine", "5xx"]), 1)
        self.server.set_handler_owner(plugin, None)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""AUTH identities that are not UTF-8 (RFC 4616 2: SASL PLAIN's authcid and
authzid are UTF-8; LOGIN's user name is taken so too): a Vsmtp.Server in
this process offers PLAIN and LOGIN without TLS, an smtplib client in a
thread sends the base64 of bytes that are not UTF-8 as the user name or the
authorization identity. The server answers 501 5.5.2 and the "authenticate"
handler never sees them (its arguments, and
Vsmtp.Session.get_authenticated_user(), are UTF-8 strings); a user name in
UTF-8 that is not ASCII still reaches the handler and logs in.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import base64
import os
import smtplib
import sys

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import ServerTestCase  # noqa: E402

NOT_UTF8 = (501, b"5.5.2 Error: the authentication identity is not valid UTF-8")
OK = (235, b"2.7.0 Authentication successful")


def b64(data):
    return base64.b64encode(data).decode()


class AuthUtf8Test(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.server.props.auth_requires_tls = False
        self.server.set_auth_mechanisms(["PLAIN", "LOGIN"])
        self.seen = []
        self.users = []
        self.server.connect("new-session", self.on_new_session)

    def on_new_session(self, server, session):
        session.connect("authenticate", self.on_authenticate)

    def on_authenticate(self, session, mechanism, authzid, authcid, password):
        self.seen.append((mechanism, authzid, authcid, password))
        return Vsmtp.Reply.new(235, "2.7.0", "Authentication successful")

    def exchange(self, steps):
        """steps: lists of commands, one list per connection (docmd
        arguments); returns the replies, (code, text) each, per
        connection, and the authenticated user after each."""
        def client():
            results = []
            for commands in steps:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
                    s.ehlo("client.example")
                    results.append([s.docmd(*c) for c in commands])
            return results
        results = self.run_client(client)
        self.assertEqual(self.handler_errors, [])
        return results

    def test_plain_identities_not_utf8(self):
        results = self.exchange([
            [("AUTH", "PLAIN " + b64(b"\0caf\xe9\0secret"))],
            [("AUTH", "PLAIN " + b64(b"\xff\xfe\0alice\0secret"))],
            [("AUTH", "PLAIN"), (b64(b"\0\xc3\x28\0secret"),)],
        ])
        self.assertEqual(results, [[NOT_UTF8], [NOT_UTF8], [(334, b""), NOT_UTF8]])
        self.assertEqual(self.seen, [])
        self.assertEqual([s.get_authenticated_user() for s in self.sessions], [None] * 3)

    def test_login_user_name_not_utf8(self):
        results = self.exchange([
            [("AUTH", "LOGIN"), (b64(b"caf\xe9"),), (b64(b"secret"),)],
            # with an initial response, as smtplib's login() sends it
            [("AUTH", "LOGIN " + b64(b"caf\xe9")), (b64(b"secret"),)],
        ])
        self.assertEqual([r[0][0] for r in results], [334, 334])
        self.assertEqual(results[0][1][0], 334)
        self.assertEqual(results[0][2], NOT_UTF8)
        self.assertEqual(results[1][1:], [NOT_UTF8])
        self.assertEqual(self.seen, [])
        self.assertEqual([s.get_authenticated_user() for s in self.sessions], [None] * 2)

    def test_utf8_identities_reach_the_handler(self):
        results = self.exchange([
            [("AUTH", "PLAIN " + b64("\0café\0sécret".encode()))],
            [("AUTH", "LOGIN"), (b64("jürgen".encode()),), (b64(b"secret"),)],
        ])
        self.assertEqual(results[0], [OK])
        self.assertEqual(results[1][2], OK)
        self.assertEqual([(m, c, p) for m, z, c, p in self.seen],
                         [("PLAIN", "café", "sécret"), ("LOGIN", "jürgen", "secret")])
        self.assertEqual([s.get_authenticated_user() for s in self.sessions],
                         ["café", "jürgen"])


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SMTPUTF8 through GObject Introspection: the A-label / U-label accessors
of Vsmtp.Address and the domain functions from Python, what handlers see of
an SMTPUTF8 transaction (the addresses' forms, Envelope.get_smtputf8), and a
server whose SMTPUTF8 extension was unregistered (555 for the parameter,
553 5.6.7 for a UTF-8 address). smtplib drives the in-process server from a
second thread.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import os
import sys

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import GLib, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import ServerTestCase  # noqa: E402

import unittest  # noqa: E402

UTF8 = Vsmtp.AddressFlags.SMTPUTF8
MESSAGE = "Subject: Grüße\r\n\r\nHällo\r\n".encode()


class AddressAccessorsTest(unittest.TestCase):
    def test_forms(self):
        a = Vsmtp.Address.parse("<jörg@Bücher.example>", -1, UTF8)
        self.assertEqual(a.get_domain(), "Bücher.example")
        self.assertEqual(a.get_domain_ascii(), "xn--bcher-kva.example")
        self.assertEqual(a.get_domain_unicode(), "bücher.example")
        self.assertTrue(a.needs_smtputf8())
        self.assertFalse(a.local_part_is_ascii())

        b = Vsmtp.Address.parse("<jorg@xn--bcher-kva.example>", -1,
                                Vsmtp.AddressFlags.NONE)
        self.assertEqual(b.get_domain(), "xn--bcher-kva.example")
        self.assertEqual(b.get_domain_unicode(), "bücher.example")
        self.assertFalse(b.needs_smtputf8())
        self.assertTrue(b.local_part_is_ascii())
        self.assertTrue(b.equal(Vsmtp.Address.new("jorg", "bücher.example")))

        null = Vsmtp.Address.new_null()
        self.assertIsNone(null.get_domain_ascii())
        self.assertIsNone(null.get_domain_unicode())

    def test_domain_functions(self):
        self.assertEqual(Vsmtp.domain_to_ascii("straße.de"), "xn--strae-oqa.de")
        self.assertEqual(Vsmtp.domain_to_unicode("xn--strae-oqa.de"), "straße.de")
        self.assertEqual(Vsmtp.domain_to_ascii("Example.COM"), "Example.COM")
        self.assertTrue(Vsmtp.domain_is_idn("例子.example"))
        self.assertFalse(Vsmtp.domain_is_idn("example.com"))

    def test_errors_are_exceptions(self):
        with self.assertRaises(GLib.Error) as caught:
            Vsmtp.Address.parse("<a@☃.example>", -1, UTF8)
        self.assertTrue(caught.exception.matches(Vsmtp.error_quark(),
                                                 Vsmtp.Error.SYNTAX))
        self.assertIn("Invalid internationalized domain name",
                      caught.exception.message)
        with self.assertRaises(GLib.Error):
            Vsmtp.domain_to_ascii("xn--a.example")


class HandlersSeeForms(ServerTestCase):
    def on_mail_from(self, session, sender, parameters):
        self.seen.append(("mail", sender.get_domain_ascii(), sender.get_domain_unicode()))
        return Vsmtp.Reply.new_continue()

    def on_rcpt_to(self, session, recipient, parameters):
        self.seen.append(("rcpt", recipient.get_domain_ascii(),
                          recipient.get_domain_unicode(), recipient.needs_smtputf8()))
        return Vsmtp.Reply.new_continue()

    def on_message(self, session, message):
        envelope = message.get_envelope()
        self.seen.append(("smtputf8", envelope.get_smtputf8(),
                          "SMTPUTF8" in envelope.get_mail_parameters()))
        return Vsmtp.Reply.new(250, "2.0.0", "Ok: stored")

    handlers = {"mail-from": on_mail_from, "rcpt-to": on_rcpt_to,
                "message-received": on_message}

    def setUp(self):
        super().setUp()
        self.seen = []

    def test_transaction(self):
        def client():
            with self.smtp() as s:
                s.ehlo()
                offered = s.has_extn("smtputf8")
                s.sendmail("jörg@bücher.example", ["用户@例子.example"], MESSAGE,
                           mail_options=["SMTPUTF8"])
                s.sendmail("a@xn--bcher-kva.example", ["b@example.net"], b"x\r\n")
            return offered

        self.assertTrue(self.run_client(client))
        self.assertEqual(self.seen, [
            ("mail", "xn--bcher-kva.example", "bücher.example"),
            ("rcpt", "xn--fsqu00a.example", "例子.example", True),
            ("smtputf8", True, True),
            ("mail", "xn--bcher-kva.example", "bücher.example"),
            ("rcpt", "example.net", "example.net", False),
            ("smtputf8", False, False),
        ])

    def test_unregistered(self):
        self.assertTrue(self.server.unregister_extension(
            self.server.lookup_extension("SMTPUTF8")))

        def client():
            with self.smtp() as s:
                s.ehlo()
                # smtplib would not send it: the command by hand
                r = [s.has_extn("smtputf8"), s.docmd("MAIL", "FROM:<a@example.org> SMTPUTF8")]
                s.command_encoding = "utf-8"   # UTF-8 without the parameter
                r.append(s.mail("jörg@example.org"))
                return r

        offered, with_param, utf8 = self.run_client(client)
        self.assertFalse(offered)
        self.assertEqual(with_param, (555, b"5.5.4 Unsupported option: SMTPUTF8"))
        self.assertEqual(utf8[0], 553, utf8)
        self.assertTrue(utf8[1].startswith(b"5.6.7 "), utf8)
        self.assertEqual(self.seen, [])

    def test_goes_with_8bitmime(self):
        # RFC 6531 §3.1: no SMTPUTF8 without 8BITMIME
        self.assertTrue(self.server.unregister_extension(
            self.server.lookup_extension("8BITMIME")))

        def client():
            with self.smtp() as s:
                s.ehlo()
                return (s.has_extn("8bitmime"), s.has_extn("smtputf8"),
                        s.docmd("MAIL", "FROM:<a@example.org> SMTPUTF8"))

        self.assertEqual(self.run_client(client),
                         (False, False, (555, b"5.5.4 Unsupported option: SMTPUTF8")))
        self.assertTrue(self.server.lookup_extension("SMTPUTF8").is_registered())


if __name__ == "__main__":
    fx.main()

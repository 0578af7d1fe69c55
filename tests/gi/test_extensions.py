#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ESMTP extensions registered from Python through GObject Introspection.

A Vsmtp.Server runs in this process with extensions made and registered
in Python (a keyword with fixed parameters, one with parameters computed
per session, a TLS-only one, validators in Python); smtplib drives it from
a second thread, STARTTLS included. The assertions are on what smtplib saw
(the EHLO keywords and their parameters, the replies) and on what the
handlers and the envelope got.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import os
import ssl
import sys
import threading

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, GLib, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import GUARD_SECONDS, RCPT, SENDER, ServerTestCase  # noqa: E402

DATA = os.path.join(os.path.dirname(HERE), "data")
MESSAGE = b"Subject: extensions\r\n\r\nbody\r\n"


class ExtensionTest(ServerTestCase):
    """ServerTestCase's server (test_python.py), with a certificate and the
    extensions below."""

    def on_mail_from(self, session, sender, parameters):
        self.mail_params.append(dict(parameters))
        return Vsmtp.Reply.new_continue()

    def on_rcpt_to(self, session, recipient, parameters):
        self.rcpt_params.append(dict(parameters))
        return Vsmtp.Reply.new_continue()

    def on_message(self, session, message):
        envelope = message.get_envelope()
        self.envelopes.append((envelope.get_mail_parameter("PRIO"),
                               envelope.get_mail_parameters(),
                               envelope.get_recipient_parameters(0)))
        return Vsmtp.Reply.new(250, "2.0.0", "Ok: stored")

    handlers = {"mail-from": on_mail_from, "rcpt-to": on_rcpt_to,
                "message-received": on_message}

    def setUp(self):
        super().setUp()
        self.server.set_tls_certificate(Gio.TlsCertificate.new_from_files(
            os.path.join(DATA, "test-cert.pem"), os.path.join(DATA, "test-key.pem")))
        self.mail_params, self.rcpt_params, self.envelopes = [], [], []
        self.validated = []

        # XPY: fixed EHLO parameters, a MAIL parameter with a Python
        # validator, a RCPT parameter with an optional value
        self.xpy = Vsmtp.Extension.new("XPY", Vsmtp.ExtensionFlags.NONE)
        self.xpy.set_ehlo_parameters("ONE TWO")
        self.xpy.add_parameter("PRIO", Vsmtp.ParameterCommand.MAIL,
                               Vsmtp.ParameterSyntax.VALUE)
        self.xpy.add_parameter("NOTE", Vsmtp.ParameterCommand.RCPT,
                               Vsmtp.ParameterSyntax.OPTIONAL_VALUE)
        self.xpy.connect("validate", self.validate_prio)
        self.server.register_extension(self.xpy)

        # XSECURE: only over TLS, its EHLO text computed per session
        self.secure = Vsmtp.Extension(keyword="XSECURE",
                                      flags=Vsmtp.ExtensionFlags.TLS_ONLY)
        self.secure.add_parameter("SECRET", Vsmtp.ParameterCommand.MAIL,
                                  Vsmtp.ParameterSyntax.NO_VALUE)
        self.secure.connect("compute-ehlo-parameters",
                            lambda ext, session: "FOR-" + session.get_helo().upper())
        self.server.register_extension(self.secure)

    def validate_prio(self, ext, session, command, name, value):
        self.validated.append((command, name, value))
        if name == "NOTE":
            return Vsmtp.Reply.new_continue()
        if value == "boom":
            raise ValueError("a validator that fails")
        if value.lower() not in ("low", "high"):
            return Vsmtp.Reply.new(501, "5.5.4", "Bad PRIO parameter value")
        return Vsmtp.Reply.new_continue()

    def test_dsn_accessors_from_python(self):
        """The typed DSN and REQUIRETLS accessors and the xtext functions,
        as a Python handler uses them."""
        self.assertEqual(Vsmtp.xtext_decode("a+2Bb+3Dc"), "a+b=c")
        self.assertEqual(Vsmtp.xtext_encode("a+b c"), "a+2Bb+20c")
        self.assertEqual(Vsmtp.utf8_addr_decode("j\\x{F6}rg@example.org", False),
                         "j\u00f6rg@example.org")
        with self.assertRaises(GLib.Error) as caught:
            Vsmtp.xtext_decode("a+2")
        self.assertTrue(caught.exception.matches(Vsmtp.error_quark(), Vsmtp.Error.SYNTAX))
        e = Vsmtp.Envelope.new()
        self.assertEqual(e.get_dsn_ret(), Vsmtp.DsnRet.UNSPECIFIED)
        self.assertIsNone(e.dup_dsn_envid())
        e.set_sender(Vsmtp.Address.new("a", "b.example"),
                     {"RET": "FULL", "ENVID": "x+2By", "REQUIRETLS": None})
        e.add_recipient(Vsmtp.Address.new("c", "d.example"),
                        {"NOTIFY": "FAILURE,DELAY", "ORCPT": "rfc822;c+2Bx@d.example"})
        self.assertEqual(e.get_dsn_ret(), Vsmtp.DsnRet.FULL)
        self.assertEqual(e.dup_dsn_envid(), "x+y")
        self.assertTrue(e.get_requiretls())
        self.assertEqual(e.get_recipient_dsn_notify(0),
                         Vsmtp.DsnNotify.FAILURE | Vsmtp.DsnNotify.DELAY)
        self.assertEqual(e.get_recipient_dsn_orcpt(0), (True, "rfc822", "c+x@d.example"))

    def test_registry_from_python(self):
        keywords = [e.get_keyword() for e in self.server.dup_extensions()]
        self.assertEqual(keywords, ["PIPELINING", "SIZE", "ENHANCEDSTATUSCODES",
                                    "8BITMIME", "SMTPUTF8", "STARTTLS", "AUTH", "CHUNKING", "BINARYMIME", "DSN", "LIMITS",
                                    "REQUIRETLS", "XCLIENT", "XPY", "XSECURE"])
        self.assertEqual(self.server.lookup_extension("xpy"), self.xpy)
        self.assertTrue(self.xpy.is_registered())
        self.assertEqual(self.xpy.dup_parameter_names(), ["PRIO", "NOTE"])
        found, commands, syntax = self.xpy.lookup_parameter("note")
        self.assertTrue(found)
        self.assertEqual(commands, Vsmtp.ParameterCommand.RCPT)
        self.assertEqual(syntax, Vsmtp.ParameterSyntax.OPTIONAL_VALUE)
        self.assertEqual(self.secure.props.flags, Vsmtp.ExtensionFlags.TLS_ONLY)

        # errors are exceptions
        with self.assertRaises(GLib.Error) as caught:
            self.server.register_extension(Vsmtp.Extension.new("xpy", 0))
        self.assertTrue(caught.exception.matches(Vsmtp.error_quark(),
                                                 Vsmtp.Error.FAILED))
        clash = Vsmtp.Extension.new("XCLASH", 0)
        clash.add_parameter("prio", Vsmtp.ParameterCommand.BOTH,
                            Vsmtp.ParameterSyntax.VALUE)
        with self.assertRaisesRegex(GLib.Error, "PRIO"):
            self.server.register_extension(clash)
        self.assertFalse(clash.is_registered())

    def test_client_sees_keywords_and_parameters(self):
        ctx = ssl.create_default_context(cafile=os.path.join(DATA, "test-cert.pem"))
        ctx.check_hostname = False

        def client():
            r = {}
            with self.smtp() as s:
                s.ehlo()
                r["plain"] = dict(s.esmtp_features)
                r["bad"] = s.mail(SENDER, ["PRIO=urgent"])
                r["boom"] = s.mail(SENDER, ["PRIO=boom"])
                r["tls-only"] = s.mail(SENDER, ["SECRET"])
                r["twice"] = s.mail(SENDER, ["PRIO=low", "PRIO=high"])
                s.starttls(context=ctx)
                s.ehlo()
                r["tls"] = dict(s.esmtp_features)
                r["mail"] = s.mail(SENDER, ["PRIO=high", "SECRET"])
                r["rcpt-wrong"] = s.rcpt(RCPT, ["PRIO=low"])
                r["rcpt"] = s.rcpt(RCPT, ["NOTE=x"])
                r["data"] = s.data(MESSAGE)
            return r

        r = self.run_client(client)
        self.assertEqual(r["plain"].get("xpy"), "ONE TWO")
        self.assertNotIn("xsecure", r["plain"])
        self.assertIn("starttls", r["plain"])
        self.assertEqual(r["bad"], (501, b"5.5.4 Bad PRIO parameter value"))
        self.assertEqual(r["boom"][0], 451, r["boom"])
        self.assertTrue(r["boom"][1].startswith(b"4.3.0 "), r["boom"])
        self.assertEqual(r["tls-only"], (555, b"5.5.4 Unsupported option: SECRET"))
        self.assertEqual(r["twice"][0], 501, r["twice"])
        self.assertTrue(r["twice"][1].startswith(b"5.5.4 "), r["twice"])

        # over TLS: no STARTTLS, XSECURE with its computed text
        self.assertEqual(r["tls"].get("xpy"), "ONE TWO")
        self.assertEqual(r["tls"].get("xsecure"), "FOR-CLIENT.GI-TEST.EXAMPLE")
        self.assertNotIn("starttls", r["tls"])
        self.assertEqual(r["mail"], (250, b"2.1.0 Ok"))
        self.assertEqual(r["rcpt-wrong"], (555, b"5.5.4 Unsupported option: PRIO"))
        self.assertEqual(r["rcpt"], (250, b"2.1.5 Ok"))
        self.assertEqual(r["data"], (250, b"2.0.0 Ok: stored"))

        # the validator ran for PRIO and NOTE, with the command
        self.assertIn((Vsmtp.ParameterCommand.MAIL, "PRIO", "urgent"), self.validated)
        self.assertIn((Vsmtp.ParameterCommand.RCPT, "NOTE", "x"), self.validated)
        # the handlers and the envelope got the parameters
        self.assertEqual(self.mail_params, [{"PRIO": "high", "SECRET": None}])
        self.assertEqual(self.rcpt_params, [{"NOTE": "x"}])
        self.assertEqual(self.envelopes, [("high", {"PRIO": "high", "SECRET": None},
                                           {"NOTE": "x"})])

    def test_predicate_and_unregister(self):
        offered = {"XPY": False}
        self.xpy.connect("is-offered", lambda ext, session: offered["XPY"])

        def client():
            r = []
            with self.smtp() as s:
                s.ehlo()
                r.append("xpy" in s.esmtp_features)
                r.append(s.mail(SENDER, ["PRIO=low"]))
                offered["XPY"] = True
                s.ehlo()
                r.append("xpy" in s.esmtp_features)
                r.append(s.mail(SENDER, ["PRIO=low"]))
                s.rset()
                done = threading.Event()

                def unregister():
                    r.append(self.server.unregister_extension(self.xpy))
                    done.set()
                    return GLib.SOURCE_REMOVE
                GLib.idle_add(unregister, priority=GLib.PRIORITY_HIGH)
                done.wait(GUARD_SECONDS)
                s.ehlo()
                r.append("xpy" in s.esmtp_features)
                r.append(s.mail(SENDER, ["PRIO=low"]))
            return r

        self.assertEqual(self.run_client(client), [
            False, (555, b"5.5.4 Unsupported option: PRIO"),
            True, (250, b"2.1.0 Ok"), True,
            False, (555, b"5.5.4 Unsupported option: PRIO"),
        ])
        self.assertFalse(self.xpy.is_registered())


if __name__ == "__main__":
    fx.main()

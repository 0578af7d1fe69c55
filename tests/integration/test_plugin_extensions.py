#!/usr/bin/python3
"""A vsmtpd plugin registers an ESMTP extension — an EHLO keyword with
parameters and a MAIL parameter — and a client (smtplib) sees both: the
keyword in the EHLO reply, its parameter accepted and handed to the
plugin's handlers and the envelope, a bad value refused by the plugin's
validator, an unknown parameter still refused."""

from test_plugins import PluginTestCase
import vsmtpd_fixture as fx


class PluginExtensionTest(PluginTestCase):
    plugins = ("xprio", "maildir")
    python_plugins = {"xprio": """
        def do_activate(self):
            self.extension = Vsmtp.Extension.new('XPRIO', Vsmtp.ExtensionFlags.NONE)
            self.extension.set_ehlo_parameters('LOW HIGH')
            self.extension.add_parameter('PRIO', Vsmtp.ParameterCommand.MAIL,
                                         Vsmtp.ParameterSyntax.VALUE)
            self.extension.connect('validate', self.on_validate)
            self.server.register_extension(self.extension)
            self.server.connect('new-session', self.on_new_session)

        def do_deactivate(self):
            self.server.unregister_extension(self.extension)

        def on_validate(self, extension, session, command, name, value):
            if value.upper() not in ('LOW', 'HIGH'):
                return Vsmtp.Reply.new(501, '5.5.4', 'Bad PRIO parameter value')
            return Vsmtp.Reply.new_continue()

        def on_new_session(self, server, session):
            session.connect('mail-from', self.on_mail_from)
            session.connect('rcpt-to', self.on_rcpt_to)

        def on_mail_from(self, session, sender, parameters):
            return Vsmtp.Reply.new(250, '2.1.0',
                                   'Ok, priority ' + str(parameters.get('PRIO')))

        def on_rcpt_to(self, session, recipient, parameters):
            prio = session.get_envelope().get_mail_parameter('PRIO')
            return Vsmtp.Reply.new(250, '2.1.5', 'Ok, envelope priority ' + str(prio))
    """}

    def test_client_sees_keyword_and_parameter(self):
        s = self.smtp()   # EHLO sent
        self.assertTrue(s.has_extn("xprio"), s.esmtp_features)
        self.assertEqual(s.esmtp_features["xprio"], "LOW HIGH")
        # the built-ins are still there, in their order, before it
        ehlo = s.ehlo_resp.decode().split("\n")
        self.assertEqual([line.split(" ")[0] for line in ehlo[1:]],
                         ["PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "8BITMIME",
                          "SMTPUTF8", "STARTTLS", "CHUNKING", "BINARYMIME", "DSN", "LIMITS", "XPRIO"])

        self.assertSmtp(s.mail("a@client.example", ["PRIO=urgent"]), 501, "5.5.4",
                        "Bad PRIO parameter value")
        self.assertSmtp(s.mail("a@client.example", ["XUNKNOWN=1"]), 555, "5.5.4",
                        "Unsupported option: XUNKNOWN")
        self.assertSmtp(s.mail("a@client.example", ["PRIO=high", "BODY=8BITMIME"]),
                        250, "2.1.0", "Ok, priority high")
        self.assertSmtp(s.rcpt("rcpt@example.org"), 250, "2.1.5",
                        "Ok, envelope priority high")
        self.assertSmtp(s.data(b"Subject: prio\r\n\r\nbody\r\n"), 250, "2.0.0")
        self.assertEqual(len(self.daemon.delivered()), 1)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""DSN (RFC 3461), LIMITS (RFC 9422) and REQUIRETLS (RFC 8689) in vsmtpd,
over raw sockets and smtplib: what EHLO offers, the parameters accepted and
refused (at and past their length limits), what a plugin's handler reads
through the envelope's typed accessors (decoded) and raw parameters, the
recipient and transaction limits, REQUIRETLS refused in plain text and
recorded after STARTTLS, and [server] disable-extensions."""

import json
import os
import shutil
import smtplib
import subprocess
import tempfile

from test_auth import insecure_context
from test_plugins import PluginTestCase
import vsmtpd_fixture as fx

SEEN_DIR = tempfile.mkdtemp(prefix="vsmtpd-dsn-seen-")
SEEN = os.path.join(SEEN_DIR, "seen.jsonl")

# A plugin that writes, for every message, what the envelope's DSN and
# REQUIRETLS accessors give, one JSON line each, then lets maildir store it.
SEEN_PLUGIN = """
    def on_new_session(self, server, session):
        session.connect('message-received', self.on_message)

    def on_message(self, session, message):
        import json
        e = message.get_envelope()
        recipients = []
        for i in range(e.get_n_recipients()):
            found, addr_type, address = e.get_recipient_dsn_orcpt(i)
            recipients.append({'notify': int(e.get_recipient_dsn_notify(i)),
                               'orcpt': [addr_type, address] if found else None,
                               'raw': dict(e.get_recipient_parameters(i))})
        seen = {'ret': e.get_dsn_ret().value_nick, 'envid': e.dup_dsn_envid(),
                'requiretls': e.get_requiretls(),
                'raw': dict(e.get_mail_parameters()), 'recipients': recipients}
        with open(%r, 'a', encoding='utf-8') as f:
            f.write(json.dumps(seen) + '\\n')
        return Vsmtp.Reply.new_continue()
""" % SEEN

NOTIFY_SUCCESS, NOTIFY_FAILURE, NOTIFY_DELAY, NOTIFY_NEVER = 2, 4, 8, 1
MAILMAX = 12


class DsnTest(PluginTestCase):
    plugins = ("dsnseen", "maildir")
    python_plugins = {"dsnseen": SEEN_PLUGIN}
    # many refusals in a row: no error sleep
    options = ("server.max-recipients=3", f"server.max-transactions={MAILMAX}",
               "server.soft-error-limit=100")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(SEEN_DIR, True)

    def setUp(self):
        super().setUp()
        if os.path.exists(SEEN):
            os.unlink(SEEN)

    def seen(self):
        with open(SEEN, encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def ehlo(self, c):
        r = c.cmd("EHLO client.example")
        self.assertReply(r, 250)
        return [line[4:] for line in r.lines[1:]]

    def test_ehlo_lists_dsn_and_limits(self):
        c = self.client()
        keywords = self.ehlo(c)
        self.assertIn(b"DSN", keywords)
        self.assertIn(b"LIMITS RCPTMAX=3 MAILMAX=%d" % MAILMAX, keywords)
        # REQUIRETLS only over TLS
        self.assertNotIn(b"REQUIRETLS", keywords)
        self.assertIn(b"STARTTLS", keywords)

    def test_parameters_decoded_for_handlers(self):
        c = self.client()
        self.ehlo(c)
        self.assertReply(c.cmd("MAIL FROM:<a@client.example> RET=hdrs ENVID=QQ+2B314+3D159"),
                         250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.org> NOTIFY=SUCCESS,delay "
                               "ORCPT=rfc822;b+2Bold@example.org"), 250, "2.1.5")
        self.assertReply(c.cmd("RCPT TO:<c@example.org> NOTIFY=NEVER "
                               "ORCPT=utf-8;j\\x{F6}rg@example.org"), 250, "2.1.5")
        self.assertReply(c.cmd("RCPT TO:<d@example.org>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        self.assertReply(c.cmd("Subject: dsn\r\n\r\nbody\r\n."), 250, "2.0.0")
        self.assertEqual(len(self.daemon.delivered()), 1)
        # no "delivered" notice is sent (a known deviation): the log says so
        self.assertIn("<b@example.org> asked for a delivery notice (NOTIFY=SUCCESS), "
                      "which vsmtpd does not send", self.log())
        self.assertNotIn("<c@example.org> asked for a delivery notice", self.log())

        [seen] = self.seen()
        self.assertEqual(seen["ret"], "hdrs")
        self.assertEqual(seen["envid"], "QQ+314=159")
        self.assertFalse(seen["requiretls"])
        # the raw parameters stay as sent (xtext), for the relay to pass on
        self.assertEqual(seen["raw"], {"RET": "hdrs", "ENVID": "QQ+2B314+3D159"})
        r = seen["recipients"]
        self.assertEqual(r[0]["notify"], NOTIFY_SUCCESS | NOTIFY_DELAY)
        self.assertEqual(r[0]["orcpt"], ["rfc822", "b+old@example.org"])
        self.assertEqual(r[0]["raw"]["ORCPT"], "rfc822;b+2Bold@example.org")
        self.assertEqual(r[1]["notify"], NOTIFY_NEVER)
        self.assertEqual(r[1]["orcpt"], ["utf-8", "jörg@example.org"])
        self.assertEqual(r[2], {"notify": 0, "orcpt": None, "raw": {}})

    def test_length_limits(self):
        c = self.client()
        self.ehlo(c)
        # ENVID: 100 characters once decoded ("+2B" is one)
        envid100 = "e" * 97 + "+2B" + "ee"
        self.assertReply(c.cmd("MAIL FROM:<a@client.example> ENVID=" + envid100), 250, "2.1.0")
        self.assertReply(c.cmd("RSET"), 250)
        r = c.cmd("MAIL FROM:<a@client.example> ENVID=" + "e" * 101)
        self.assertReply(r, 501, "5.5.4")
        self.assertEqual(r.lines, [b"501 5.5.4 Bad ENVID parameter value: "
                                   b"longer than 100 characters"])
        self.assertReply(c.cmd("MAIL FROM:<a@client.example>"), 250, "2.1.0")
        # ORCPT: 500 characters, addr-type and ";" included
        local = "o" * (500 - len("rfc822;@example.org"))
        self.assertReply(c.cmd(f"RCPT TO:<b@example.org> ORCPT=rfc822;{local}@example.org"),
                         250, "2.1.5")
        r = c.cmd(f"RCPT TO:<b@example.org> ORCPT=rfc822;o{local}@example.org")
        self.assertEqual(r.lines, [b"501 5.5.4 Bad ORCPT parameter value: "
                                   b"longer than 500 characters"])

    def test_bad_values(self):
        c = self.client()
        self.ehlo(c)
        for line, text in [
                ("MAIL FROM:<a@client.example> RET=BODY", b"Bad RET parameter value: not FULL or HDRS"),
                ("MAIL FROM:<a@client.example> ENVID=a+00b", b"Bad ENVID parameter value: \"+00\" encodes a NUL"),
                ("MAIL FROM:<a@client.example> ENVID=a+0Db", b"Bad ENVID parameter value: not printable ASCII"),
                ("MAIL FROM:<a@client.example> ENVID=a+2", b"Bad ENVID parameter value: a \"+\" not"),
                ("MAIL FROM:<a@client.example> RET", b"Bad RET parameter value"),
        ]:
            r = c.cmd(line)
            self.assertReply(r, 501, "5.5.4")
            self.assertIn(text, r.lines[0], line)
        self.assertReply(c.cmd("MAIL FROM:<a@client.example> RET=FULL RET=HDRS"), 501, "5.5.4")
        self.assertReply(c.cmd("MAIL FROM:<a@client.example> NOTIFY=NEVER"), 555, "5.5.4")
        self.assertReply(c.cmd("MAIL FROM:<a@client.example>"), 250, "2.1.0")
        for value, text in [
                ("NEVER,SUCCESS", b"NEVER cannot be combined with other keywords"),
                ("FAILURE,NEVER", b"NEVER cannot be combined with other keywords"),
                ("DELAY,DELAY", b"a keyword is listed twice"),
                ("SUCCESS,,FAILURE", b"not NEVER or a list of SUCCESS, FAILURE and DELAY"),
                ("SOMETIMES", b"not NEVER or a list of SUCCESS, FAILURE and DELAY"),
        ]:
            r = c.cmd("RCPT TO:<b@example.org> NOTIFY=" + value)
            self.assertEqual(r.lines, [b"501 5.5.4 Bad NOTIFY parameter value: " + text])
        for value, text in [
                ("rfc822", b"not addr-type;address"),
                ("rfc822;", b"the address is empty"),
                ("utf-8;j\xc3\xb6rg@example.org", b"UTF-8 without SMTPUTF8"),
                ("utf-8;a\\x{D800}@example.org", b"a \"\\\" that does not start a \\x{HEX} character"),
        ]:
            r = c.cmd(b"RCPT TO:<b@example.org> ORCPT=" + (value if isinstance(value, bytes)
                                                          else value.encode()))
            if text.startswith(b"UTF-8"):
                # refused, by the line's 8-bit check or by ORCPT's
                self.assertGreaterEqual(r.code, 500, r)
            else:
                self.assertEqual(r.lines, [b"501 5.5.4 Bad ORCPT parameter value: " + text])
        self.assertReply(c.cmd("RCPT TO:<b@example.org> RET=FULL"), 555, "5.5.4")
        self.assertNothingDelivered()

    def test_requiretls(self):
        c = self.client()
        self.ehlo(c)
        r = c.cmd("MAIL FROM:<a@client.example> REQUIRETLS")
        self.assertEqual(r.lines, [b"555 5.5.4 Unsupported option: REQUIRETLS"])

        s = smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=fx.IO_TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        self.assertFalse(s.has_extn("requiretls"))
        s.starttls(context=insecure_context())
        s.ehlo("client.example")
        self.assertTrue(s.has_extn("requiretls"), s.esmtp_features)
        # a bare keyword: with a value it is refused
        code, msg = s.mail("a@client.example", ["REQUIRETLS=YES"])
        self.assertEqual((code, msg), (501, b"5.5.4 Bad REQUIRETLS parameter value"))
        self.assertEqual(s.mail("a@client.example", ["REQUIRETLS"])[0], 250)
        self.assertEqual(s.rcpt("b@example.org")[0], 250)
        self.assertEqual(s.data(b"Subject: tls\r\n\r\nbody\r\n")[0], 250)
        s.quit()
        [seen] = self.seen()
        self.assertTrue(seen["requiretls"])
        self.assertEqual(seen["raw"], {"REQUIRETLS": None})

    def test_recipient_limit(self):
        c = self.client()
        self.ehlo(c)
        self.assertReply(c.cmd("MAIL FROM:<a@client.example>"), 250)
        for i in range(3):
            self.assertReply(c.cmd(f"RCPT TO:<r{i}@example.org>"), 250, "2.1.5")
        r = c.cmd("RCPT TO:<r3@example.org>")
        self.assertEqual(r.lines, [b"452 4.5.3 Error: too many recipients"])
        # the transaction goes on with the recipients accepted
        self.assertReply(c.cmd("DATA"), 354)
        self.assertReply(c.cmd("Subject: limit\r\n\r\nbody\r\n."), 250, "2.0.0")
        self.assertEqual(len(self.daemon.delivered()), 1)

    def test_transaction_limit(self):
        c = self.client()
        self.ehlo(c)
        # refused MAIL commands count too
        self.assertReply(c.cmd("MAIL FROM:<a@client.example> RET=NO"), 501)
        for _ in range(MAILMAX - 1):
            self.assertReply(c.cmd("MAIL FROM:<a@client.example>"), 250)
            self.assertReply(c.cmd("RSET"), 250)
        r = c.cmd("MAIL FROM:<a@client.example>")
        self.assertEqual(r.lines, [b"421 4.5.3 Error: too many transactions in this session, "
                                   b"reconnect"])
        self.assertTrue(c.closed_by_peer())
        # a new connection starts afresh
        c = self.client()
        self.ehlo(c)
        self.assertReply(c.cmd("MAIL FROM:<a@client.example>"), 250)


class DisabledExtensionsTest(fx.VsmtpdTestCase):
    options = ("server.disable-extensions=DSN; limits;PIPELINING",)

    def test_pipelining_not_offered(self):
        """Without PIPELINING in the EHLO reply, a pipelined group is the
        protocol violation forbid-unauth-pipelining refuses."""
        c = self.client()
        r = c.cmd("EHLO client.example")
        self.assertNotIn(b"PIPELINING", fx.ehlo_lines(r))
        c.send(b"MAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.org>\r\n")
        self.assertReply(c.reply(), 250)
        self.assertEqual(c.reply().lines, [b"554 5.5.0 Error: SMTP protocol synchronization"])
        self.assertTrue(c.closed_by_peer())

    def test_dsn_and_limits_gone(self):
        c = self.client()
        r = c.cmd("EHLO client.example")
        keywords = [line[4:].split(b" ")[0] for line in r.lines[1:]]
        self.assertNotIn(b"DSN", keywords)
        self.assertNotIn(b"LIMITS", keywords)
        self.assertIn(b"8BITMIME", keywords)
        r = c.cmd("MAIL FROM:<a@client.example> RET=FULL")
        self.assertEqual(r.lines, [b"555 5.5.4 Unsupported option: RET"])
        self.assertReply(c.cmd("MAIL FROM:<a@client.example>"), 250)
        r = c.cmd("RCPT TO:<b@example.org> NOTIFY=NEVER")
        self.assertEqual(r.lines, [b"555 5.5.4 Unsupported option: NOTIFY"])


class DisableExtensionsConfigTest(fx.unittest.TestCase):
    """A bad keyword is a configuration error: vsmtpd exits non-zero with
    one line naming the key."""

    def run_vsmtpd(self, value):
        d = fx.Vsmtpd(server=f"disable-extensions={value}\n")
        self.addCleanup(d.cleanup)
        d.write_config()
        p = subprocess.run(d.command(fx.free_port()), stdin=subprocess.DEVNULL,
                           capture_output=True, env=fx.clean_env(d.home),
                           cwd=d.tmpdir, timeout=60)
        return p.returncode, p.stderr.decode(), d.config_path

    def test_unknown_keyword(self):
        status, stderr, path = self.run_vsmtpd("DSN;XNOSUCH")
        self.assertNotEqual(status, 0)
        self.assertEqual(stderr.count("\n"), 1, stderr)
        self.assertTrue(stderr.startswith(f"vsmtpd: {path}: [server] disable-extensions: "
                                          "\"XNOSUCH\" is not a built-in extension ("), stderr)

    def test_governed_elsewhere(self):
        for keyword, why in [("STARTTLS", "TLS is governed by"),
                             ("auth", "auth-mechanisms governs it"),
                             ("ENHANCEDSTATUSCODES", "every reply carries")]:
            status, stderr, path = self.run_vsmtpd(keyword)
            self.assertNotEqual(status, 0)
            self.assertEqual(stderr.count("\n"), 1, stderr)
            self.assertIn(f"[server] disable-extensions: {keyword.upper()} cannot be disabled: "
                          f"{why}", stderr)


if __name__ == "__main__":
    fx.main()

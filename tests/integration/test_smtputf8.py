#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SMTPUTF8 (RFC 6531) against the daemon: the EHLO keyword, UTF-8
addresses refused without the MAIL parameter (553 5.6.7) and accepted with
it, domains checked by IDNA2008 (553 5.1.7 / 5.1.3), invalid UTF-8 refused,
the Received header's UTF8SMTP / UTF8SMTPS, and the recipients plugin
matching a domain whichever form (U-label, A-label) the table and the client
use, and the [server] smtputf8=false switch. Clients: Python's smtplib
(send_message, sendmail with mail_options=["SMTPUTF8"]) and raw sockets for
the bytes smtplib would not send.
"""

import email.message
import os
import re
import smtplib
import ssl
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vsmtpd_fixture as fx  # noqa: E402

DATA = os.path.join(os.path.dirname(HERE), "data")
CERT = os.path.join(DATA, "test-cert.pem")
KEY = os.path.join(DATA, "test-key.pem")

SENDER = "jörg@bücher.example"
RCPT = "用户@例子.广告"
BODY = "Subject: Grüße\r\nFrom: <jörg@bücher.example>\r\n\r\nHällo\r\n".encode()

WITH_RE = re.compile(r"\bwith (\S+) id ")


def received_of(data):
    """The Received header (after Return-Path) of a delivered file, as text."""
    header, rest = fx.split_received(data)
    return header.decode("utf-8"), rest


class SmtpUtf8Test(fx.VsmtpdTestCase):
    """The daemon with maildir delivery and a STARTTLS certificate."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = fx.Vsmtpd(server=f"tls-certificate={CERT}\ntls-key={KEY}\n")
        try:
            cls.daemon.start()
        except Exception:
            cls.daemon.cleanup()
            raise

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.daemon.port,
                         local_hostname="client.example", timeout=fx.IO_TIMEOUT)
        self.addCleanup(s.close)
        return s

    def assertSmtp(self, got, code, esc):
        self.assertEqual(got[0], code, got)
        self.assertTrue(got[1].startswith(esc.encode() + b" "), got)

    def test_ehlo_offers_smtputf8(self):
        s = self.smtp()
        code, text = s.ehlo()
        self.assertEqual(code, 250)
        lines = text.split(b"\n")
        self.assertIn(b"SMTPUTF8", lines)
        # offered with 8BITMIME, listed right after it
        self.assertEqual(lines.index(b"SMTPUTF8"), lines.index(b"8BITMIME") + 1)

    def test_utf8_address_without_parameter(self):
        c = self.client()
        self.assertReply(c.cmd(b"EHLO client.example"), 250)
        r = c.cmd("MAIL FROM:<jörg@bücher.example>".encode())
        self.assertReply(r, 553, "5.6.7")
        self.assertIn(b"SMTPUTF8", r.text)
        # an ASCII sender, then a UTF-8 recipient in a transaction without it
        self.assertReply(c.cmd(b"MAIL FROM:<a@example.org>"), 250)
        self.assertReply(c.cmd("RCPT TO:<用户@例子.广告>".encode()), 553, "5.6.7")
        # a UTF-8 local part alone needs SMTPUTF8 too
        self.assertReply(c.cmd("RCPT TO:<jörg@example.net>".encode()), 553, "5.6.7")
        # the A-label form of the same domain is plain ASCII
        self.assertReply(c.cmd(b"RCPT TO:<user@xn--fsqu00a.xn--4rr70v>"), 250, "2.1.5")
        self.assertReply(c.cmd(b"QUIT"), 221)

    def test_smtplib_delivers_with_smtputf8(self):
        s = self.smtp()
        msg = email.message.EmailMessage()
        msg["From"] = SENDER
        msg["To"] = RCPT
        msg["Subject"] = "Grüße"
        msg.set_content("Hällo wörld\n")
        # smtplib adds SMTPUTF8 (and BODY=8BITMIME) itself for a message
        # with non-ASCII addresses when the server offers it
        refused = s.send_message(msg)
        self.assertEqual(refused, {})
        s.quit()
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1)
        self.assertTrue(files[0].startswith(
            "Return-Path: <jörg@bücher.example>\r\n".encode()), files[0][:80])
        header, rest = received_of(files[0])
        self.assertEqual(WITH_RE.search(header).group(1), "UTF8SMTP", header)
        self.assertIn("for <用户@例子.广告>", header)
        self.assertIn("Subject: Grüße".encode(), rest)
        self.assertIn("To: 用户@例子.广告".encode(), rest)

    def test_raw_bytes_and_received(self):
        c = self.client()
        self.assertReply(c.cmd(b"EHLO client.example"), 250)
        self.assertReply(c.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8".encode()), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<\"jö rg\"@BÜCHER.example>".encode()), 250, "2.1.5")
        self.assertReply(c.cmd(b"DATA"), 354)
        c.send(BODY + b".\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertReply(c.cmd(b"QUIT"), 221)
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1)
        header, rest = received_of(files[0])
        self.assertEqual(WITH_RE.search(header).group(1), "UTF8SMTP", header)
        self.assertIn("for <\"jö rg\"@BÜCHER.example>", header)
        self.assertEqual(rest, BODY)

    def test_received_utf8smtps_after_starttls(self):
        ctx = ssl.create_default_context(cafile=CERT)
        ctx.check_hostname = False
        s = self.smtp()
        s.starttls(context=ctx)
        s.ehlo()
        self.assertTrue(s.has_extn("smtputf8"))
        s.sendmail(SENDER, [RCPT], BODY, mail_options=["SMTPUTF8"])
        s.quit()
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1)
        header, _ = received_of(files[0])
        self.assertEqual(WITH_RE.search(header).group(1), "UTF8SMTPS", header)

    def test_ascii_transaction_keeps_esmtp(self):
        s = self.smtp()
        s.sendmail("a@example.org", ["b@xn--bcher-kva.example"], b"Subject: x\r\n\r\nx\r\n")
        s.quit()
        files = self.daemon.delivered()
        header, _ = received_of(files[0])
        self.assertEqual(WITH_RE.search(header).group(1), "ESMTP", header)

    def test_invalid_u_labels(self):
        c = self.client()
        self.assertReply(c.cmd(b"EHLO client.example"), 250)
        # a DISALLOWED code point (a symbol) in the sender's domain
        r = c.cmd("MAIL FROM:<a@☃.example> SMTPUTF8".encode())
        self.assertReply(r, 553, "5.1.7")
        self.assertIn(b"Invalid internationalized domain name", r.text)
        self.assertReply(c.cmd(b"MAIL FROM:<a@example.org> SMTPUTF8"), 250)
        r = c.cmd("RCPT TO:<b@bü☃.example>".encode())
        self.assertReply(r, 553, "5.1.3")
        self.assertIn(b"Invalid internationalized domain name", r.text)
        # a full stop that UTS #46 would map to "." must not split a label
        self.assertReply(c.cmd("RCPT TO:<b@a．b.example>".encode()), 553, "5.1.3")
        # an invalid A-label from any client
        r = c.cmd(b"RCPT TO:<b@xn--a.example>")
        self.assertReply(r, 553, "5.1.3")
        self.assertReply(c.cmd(b"RSET"), 250)
        self.assertReply(c.cmd(b"MAIL FROM:<a@xn--a.example>"), 553, "5.1.7")
        self.assertReply(c.cmd(b"QUIT"), 221)
        self.assertNothingDelivered()

    def test_invalid_utf8_refused(self):
        c = self.client()
        self.assertReply(c.cmd(b"EHLO client.example"), 250)
        r = c.cmd(b"MAIL FROM:<j\xc3@example.org> SMTPUTF8")
        self.assertReply(r, 501, "5.1.7")
        self.assertIn(b"not valid UTF-8", r.text)
        r = c.cmd(b"MAIL FROM:<j\xff\xfe@example.org>")
        self.assertReply(r, 501, "5.1.7")
        self.assertReply(c.cmd(b"MAIL FROM:<a@example.org> SMTPUTF8"), 250)
        r = c.cmd(b"RCPT TO:<b@b\xfccher.example>")     # Latin-1, not UTF-8
        self.assertReply(r, 501, "5.1.3")
        self.assertIn(b"not valid UTF-8", r.text)
        # 8-bit bytes in parameters, and in other commands
        self.assertReply(c.cmd("RCPT TO:<b@example.net> NOTE=ü".encode()), 501, "5.5.4")
        self.assertReply(c.cmd("NOOP ü".encode()), 500, "5.5.2")
        self.assertReply(c.cmd(b"QUIT"), 221)

    def test_parameter_syntax(self):
        c = self.client()
        self.assertReply(c.cmd(b"EHLO client.example"), 250)
        self.assertReply(c.cmd(b"MAIL FROM:<a@example.org> SMTPUTF8=yes"), 501, "5.5.4")
        self.assertReply(c.cmd(b"MAIL FROM:<a@example.org> smtputf8"), 250, "2.1.0")
        self.assertReply(c.cmd(b"RCPT TO:<b@example.net> SMTPUTF8"), 555, "5.5.4")
        self.assertReply(c.cmd("RCPT TO:<ü@example.net>".encode()), 250, "2.1.5")
        self.assertReply(c.cmd(b"QUIT"), 221)


class SwitchedOffTest(fx.VsmtpdTestCase):
    """[server] smtputf8=false: the extension is unregistered."""

    options = ("server.smtputf8=false",)

    def test_not_offered(self):
        c = self.client()
        ehlo = c.cmd(b"EHLO client.example")
        self.assertReply(ehlo, 250)
        self.assertIn(b"250-8BITMIME", ehlo.lines)
        self.assertNotIn(b"SMTPUTF8", b"\n".join(ehlo.lines))
        self.assertEqual(c.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8".encode()).lines,
                         [b"555 5.5.4 Unsupported option: SMTPUTF8"])
        self.assertReply(c.cmd("MAIL FROM:<jörg@bücher.example>".encode()), 553, "5.6.7")
        # A-labels are ASCII: still accepted, and still checked
        self.assertReply(c.cmd(b"MAIL FROM:<a@xn--bcher-kva.example>"), 250, "2.1.0")
        self.assertReply(c.cmd(b"RCPT TO:<b@xn--a.example>"), 553, "5.1.3")
        self.assertReply(c.cmd(b"QUIT"), 221)


class RecipientsIdnaTest(fx.VsmtpdTestCase):
    """The recipients plugin with one domain in each form."""

    plugins = ("recipients", "maildir")
    config = ("[recipients]\n"
              "domains=bücher.example;xn--fsqu00a.example\n"
              "users=jörg@straße.example;bob@XN--STRAE-OQA.example\n")

    def rcpt(self, c, address, smtputf8=True):
        self.assertReply(c.cmd(b"RSET"), 250)
        mail = b"MAIL FROM:<s@client.example>" + (b" SMTPUTF8" if smtputf8 else b"")
        self.assertReply(c.cmd(mail), 250)
        return c.cmd(b"RCPT TO:<" + address.encode() + b">")

    def test_both_forms_match(self):
        c = self.client()
        self.assertReply(c.cmd(b"EHLO client.example"), 250)
        # table U-label, client A-label (an ASCII client) or U-label
        self.assertReply(self.rcpt(c, "a@xn--bcher-kva.example", False), 250, "2.1.5")
        self.assertReply(self.rcpt(c, "a@XN--BCHER-KVA.EXAMPLE", False), 250, "2.1.5")
        self.assertReply(self.rcpt(c, "a@bücher.example"), 250, "2.1.5")
        self.assertReply(self.rcpt(c, "a@BÜCHER.example"), 250, "2.1.5")
        # table A-label, client U-label
        self.assertReply(self.rcpt(c, "a@例子.example"), 250, "2.1.5")
        self.assertReply(self.rcpt(c, "a@xn--fsqu00a.example", False), 250, "2.1.5")
        # users: local parts as today, domains by A-label
        self.assertReply(self.rcpt(c, "jörg@xn--strae-oqa.example"), 250, "2.1.5")
        self.assertReply(self.rcpt(c, "JÖRG@straße.example"), 250, "2.1.5")
        self.assertReply(self.rcpt(c, "bob@straße.example"), 250, "2.1.5")
        self.assertReply(self.rcpt(c, "zed@straße.example"), 550, "5.1.1")
        # another domain: not ours (strasse is not straße: non-transitional)
        self.assertReply(self.rcpt(c, "a@strasse.example", False), 554, "5.7.1")
        self.assertReply(self.rcpt(c, "a@bucher.example", False), 554, "5.7.1")
        self.assertReply(c.cmd(b"QUIT"), 221)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""vsmtpd driven by Python's smtplib: what it delivers to the maildir."""

import re
import smtplib

import vsmtpd_fixture as fx

SENDER = "alice@sender.example"
RCPT = "bob@rcpt.example"
EHLO_NAME = "client.smtplib.example"


def message(subject, body, extra_headers=b""):
    return (b"From: <" + SENDER.encode() + b">\r\n"
            b"To: <" + RCPT.encode() + b">\r\n"
            b"Subject: " + subject + b"\r\n" + extra_headers +
            b"\r\n" + body)


class SmtplibTest(fx.VsmtpdTestCase):

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.daemon.port,
                         local_hostname=EHLO_NAME, timeout=fx.IO_TIMEOUT)
        self.addCleanup(self._quit, s)
        return s

    @staticmethod
    def _quit(s):
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()

    def send_one(self, msg, mail_options=()):
        s = self.smtp()
        s.ehlo()
        code, text = s.mail(SENDER, list(mail_options))
        self.assertEqual(code, 250, text)
        code, text = s.rcpt(RCPT)
        self.assertEqual(code, 250, text)
        code, text = s.data(msg)
        self.assertEqual(code, 250, text)
        self.assertRegex(text, rb"^2\.0\.0 Ok: queued as \S+")
        return s

    def test_ehlo_extensions(self):
        s = self.smtp()
        code, text = s.ehlo()
        self.assertEqual(code, 250, text)
        lines = text.split(b"\n")
        # First line: the server's name.
        self.assertTrue(lines[0].startswith(fx.HOSTNAME.encode()), text)
        keywords = [l.strip().upper() for l in lines[1:]]
        self.assertIn(b"PIPELINING", keywords)
        self.assertIn(b"8BITMIME", keywords)
        self.assertIn(b"ENHANCEDSTATUSCODES", keywords)
        self.assertIn(b"SIZE 10240000", keywords)
        self.assertEqual(s.esmtp_features.get("size"), "10240000")

    def test_several_messages_one_connection(self):
        s = self.smtp()
        s.ehlo()
        sent = []
        for i in range(3):
            msg = message(b"message %d" % i, b"body of message %d\r\n" % i)
            refused = s.sendmail(SENDER, [RCPT], msg)
            self.assertEqual(refused, {})
            sent.append(msg)
            # The 250 comes after the file is durable in new/.
            self.assertEqual(len(self.daemon.maildir_files()), i + 1)
        ids = set()
        got = self.daemon.delivered()
        self.assertEqual(len(got), 3)
        bodies = []
        for data in got:
            header, body = fx.split_received(data)
            m = fx.check_received(self, header, rcpt=RCPT, helo=EHLO_NAME)
            ids.add(m.group("id"))
            bodies.append(body)
        self.assertEqual(sorted(bodies), sorted(sent))
        self.assertEqual(len(ids), 3, "Received ids are not unique")

    def test_queue_id_in_reply(self):
        s = self.smtp()
        s.ehlo()
        s.mail(SENDER)
        s.rcpt(RCPT)
        code, text = s.data(message(b"queue id", b"x\r\n"))
        self.assertEqual(code, 250)
        m = re.match(rb"^2\.0\.0 Ok: queued as (\S+)$", text)
        self.assertIsNotNone(m, text)

    def test_8bit_body(self):
        body = ("Grüße aus Köln — ½ € ✓\r\n".encode("utf-8") +
                bytes(range(0x80, 0x100)) + b"\r\n" +
                b"\xff\xfe plain high bytes\r\n")
        msg = message(b"8bit", body,
                      b"MIME-Version: 1.0\r\n"
                      b"Content-Type: text/plain; charset=utf-8\r\n"
                      b"Content-Transfer-Encoding: 8bit\r\n")
        s = self.smtp()
        s.ehlo()
        self.assertTrue(s.has_extn("8bitmime"))
        refused = s.sendmail(SENDER, [RCPT], msg,
                             mail_options=["BODY=8BITMIME"])
        self.assertEqual(refused, {})
        self.assertDelivered(msg, rcpt=RCPT, helo=EHLO_NAME, sender=SENDER)

    def test_leading_dots(self):
        body = (b".\r\n"
                b"..\r\n"
                b".hidden line\r\n"
                b"..two dots\r\n"
                b"a line . with a dot\r\n"
                b". \r\n"
                b"last\r\n")
        msg = message(b"dots", body)
        self.send_one(msg)
        # smtplib dot-stuffed the lines; the maildir holds the originals.
        self.assertDelivered(msg, rcpt=RCPT, helo=EHLO_NAME, sender=SENDER)

    def test_message_ending_with_dot_line(self):
        msg = message(b"dot at end", b"text\r\n.\r\n")
        self.send_one(msg)
        self.assertDelivered(msg, rcpt=RCPT, helo=EHLO_NAME, sender=SENDER)

    def test_empty_body(self):
        msg = message(b"no body", b"")
        self.send_one(msg)
        self.assertDelivered(msg, rcpt=RCPT, helo=EHLO_NAME, sender=SENDER)

    def test_empty_message(self):
        # smtplib sends b"\r\n.\r\n" for b"": the content is one empty line.
        self.send_one(b"")
        self.assertDelivered(b"\r\n", rcpt=RCPT, helo=EHLO_NAME)

    def test_5mb_body(self):
        line = bytes(range(0x21, 0x7f)) * 10          # 940 bytes
        lines = []
        size = 0
        i = 0
        while size < 5 * 1024 * 1024:
            # Every 7th line starts with a dot (stuffed on the wire).
            prefix = b".%08d " % i if i % 7 == 0 else b"%08d " % i
            lines.append(prefix + line[:900] + b"\r\n")
            size += len(lines[-1])
            i += 1
        body = b"".join(lines)
        msg = message(b"five megabytes", body)
        s = self.smtp()
        s.ehlo()
        # smtplib adds SIZE=len(msg) itself, as the server offers SIZE.
        refused = s.sendmail(SENDER, [RCPT], msg)
        self.assertEqual(refused, {})
        self.assertDelivered(msg, rcpt=RCPT, helo=EHLO_NAME, sender=SENDER)

    def test_multiple_recipients(self):
        s = self.smtp()
        msg = message(b"two rcpts", b"hello both\r\n")
        refused = s.sendmail(SENDER, [RCPT, "carol@rcpt.example"], msg)
        self.assertEqual(refused, {})
        files = self.daemon.delivered()
        self.assertGreaterEqual(len(files), 1)
        for data in files:
            header, body = fx.split_received(data)
            fx.check_received(self, header)
            self.assertBytesEqual(body, msg)

    def test_rset_then_send(self):
        s = self.smtp()
        s.ehlo()
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rset()[0], 250)
        self.assertEqual(s.rcpt(RCPT)[0], 503)
        msg = message(b"after rset", b"ok\r\n")
        self.assertEqual(s.sendmail(SENDER, [RCPT], msg), {})
        self.assertDelivered(msg, rcpt=RCPT, helo=EHLO_NAME, sender=SENDER)

    def test_helo_session(self):
        s = self.smtp()
        code, text = s.helo(EHLO_NAME)
        self.assertEqual(code, 250, text)
        msg = message(b"helo", b"plain SMTP\r\n")
        self.assertEqual(s.sendmail(SENDER, [RCPT], msg), {})
        self.assertDelivered(msg, rcpt=RCPT, helo=EHLO_NAME, protocol="SMTP")


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""LMTP listeners (Vsmtp.ListenOptions protocol LMTP) through GObject
Introspection: the replies after the message as a message-received handler
in Python decides them (one reply for all, one per recipient, a count that
does not match, a refusal of the session's own), and the Received: header
on request.

A Vsmtp.Server in this process listens with LMTP options on a UNIX-domain
socket and on a TCP port; smtplib.LMTP in a second thread is the client.
Prints TAP."""

import os
import shutil
import smtplib
import sys
import tempfile

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import GUARD_SECONDS, ServerTestCase  # noqa: E402

RECIPIENTS = ["a@example.org", "b@example.org", "c@example.org"]
MESSAGE = b"Subject: LMTP\r\n\r\nHello.\r\n"


class LmtpApiTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="vsmtp-lmtp-")
        self.path = os.path.join(self.tmp, "lmtp.sock")
        self.messages = []
        self.server.connect("new-session", self.on_new_session)

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.tmp)

    def listen(self, **properties):
        options = Vsmtp.ListenOptions(protocol=Vsmtp.Protocol.LMTP, **properties)
        ok, _ = self.server.listen_with_options(Gio.UnixSocketAddress.new(self.path), options)
        self.assertTrue(ok)

    # the answer of the message-received handler, set by each test
    answer = None

    def on_new_session(self, server, session):
        session.connect("message-received", self.on_message)

    def on_message(self, session, message):
        self.messages.append(message.dup_bytes().get_data())
        return self.answer()

    def send(self, recipients=RECIPIENTS, data=MESSAGE, smtp_port=None):
        """LHLO, MAIL, RCPT..., DATA over the UNIX socket (or SMTP's EHLO
        over @smtp_port): the replies after the final dot."""
        def client():
            if smtp_port is None:
                c = smtplib.LMTP(self.path, timeout=GUARD_SECONDS)
            else:
                c = smtplib.SMTP("127.0.0.1", smtp_port, timeout=GUARD_SECONDS)
            try:
                c.ehlo("client.example")
                c.mail("sender@example.net")
                for rcpt in recipients:
                    assert c.rcpt(rcpt)[0] == 250
                assert c.docmd("DATA")[0] == 354
                c.send(data + b".\r\n")
                n = len(recipients) if smtp_port is None else 1
                return [c.getreply() for _ in range(n)]
            finally:
                c.close()
        return self.run_client(client)

    def test_one_reply_for_all_recipients(self):
        self.listen()
        self.answer = lambda: Vsmtp.Reply.new(250, "2.0.0", "Stored once")
        self.assertEqual(self.send(), [(250, b"2.0.0 Stored once")] * 3)
        # no Received: header of the server's own
        self.assertEqual(self.messages, [MESSAGE])

    def test_one_reply_per_recipient_in_order(self):
        self.listen()
        self.answer = lambda: Vsmtp.Reply.new_for_recipients([
            Vsmtp.Reply.new(250, "2.0.0", "a delivered"),
            Vsmtp.Reply.new(452, "4.2.2", "b over quota"),
            Vsmtp.Reply.new(550, "5.1.1", "c unknown")])
        self.assertEqual(self.send(), [(250, b"2.0.0 a delivered"),
                                       (452, b"4.2.2 b over quota"),
                                       (550, b"5.1.1 c unknown")])
        # the same answer on an SMTP listener: one reply by the server's rule
        self.assertEqual(self.send(smtp_port=self.port),
                         [(451, b"4.3.0 Error: delivered to 1 of 3 recipients, "
                                b"try again later")])

    def test_a_count_that_does_not_match_fails_every_recipient(self):
        self.listen()
        self.answer = lambda: Vsmtp.Reply.new_for_recipients([
            Vsmtp.Reply.new(250, "2.0.0", "a"), Vsmtp.Reply.new(250, "2.0.0", "b")])
        self.assertEqual(self.send(), [(451, b"4.3.0 Error: local error in processing, "
                                             b"try again later")] * 3)

    def test_a_failing_handler_fails_every_recipient(self):
        self.listen()
        self.answer = lambda: None
        self.assertEqual([r[0] for r in self.send()], [451] * 3)

    def test_message_too_large_is_refused_per_recipient(self):
        self.listen()
        self.server.set_max_message_size(64)
        self.answer = lambda: Vsmtp.Reply.new(250, "2.0.0", "Stored")
        replies = self.send(recipients=RECIPIENTS[:2], data=MESSAGE + b"x" * 200 + b"\r\n")
        self.assertEqual([r[0] for r in replies], [552, 552], replies)
        self.assertEqual(replies[0], replies[1])
        self.assertEqual(self.messages, [])

    def test_bdat_last_too_large_is_refused_per_recipient(self):
        self.listen()
        self.server.set_max_message_size(64)
        self.answer = lambda: Vsmtp.Reply.new(250, "2.0.0", "Stored")

        def client():
            c = smtplib.LMTP(self.path, timeout=GUARD_SECONDS)
            try:
                c.ehlo("client.example")
                c.mail("sender@example.net")
                for rcpt in RECIPIENTS[:2]:
                    assert c.rcpt(rcpt)[0] == 250
                c.send(b"BDAT 100 LAST\r\n" + b"x" * 100)
                replies = [c.getreply() for _ in range(2)]
                return replies, c.docmd("NOOP")
            finally:
                c.close()

        replies, noop = self.run_client(client)
        self.assertEqual(replies, [(552, b"5.3.4 Error: message file too big")] * 2)
        self.assertEqual(noop[0], 250)
        self.assertEqual(self.messages, [])

    def test_received_header_on_request(self):
        options = Vsmtp.ListenOptions(protocol=Vsmtp.Protocol.LMTP, lmtp_received_header=True)
        self.assertTrue(options.get_lmtp_received_header())
        self.assertTrue(options.props.lmtp_received_header)
        self.assertFalse(Vsmtp.ListenOptions.new().get_lmtp_received_header())
        self.listen(lmtp_received_header=True)
        self.answer = lambda: Vsmtp.Reply.new(250, "2.0.0", "Stored")
        self.assertEqual(self.send(recipients=RECIPIENTS[:1]), [(250, b"2.0.0 Stored")])
        received, rest = fx.split_received(self.messages[0])
        self.assertIn(b" with LMTP id ", received)
        self.assertIn(b"for <a@example.org>", received)
        self.assertEqual(rest, MESSAGE)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""vsmtpd on a raw socket: pipelining, sequence and syntax errors, limits,
SMTP smuggling. Every assertion is on the bytes the server sent back and
on the files in the maildir."""

import time

import vsmtpd_fixture as fx

HELO = b"raw.client.example"


def ehlo(test, c):
    r = c.cmd(b"EHLO " + HELO)
    test.assertReply(r, 250)
    return r


def start_data(test, c, rcpts=(b"rcpt@raw.example",), mail_params=b""):
    test.assertReply(c.cmd(b"MAIL FROM:<sender@raw.example>" + mail_params),
                     250)
    for r in rcpts:
        test.assertReply(c.cmd(b"RCPT TO:<" + r + b">"), 250)
    test.assertReply(c.cmd(b"DATA"), 354)


class ProtocolTest(fx.VsmtpdTestCase):

    def test_greeting(self):
        c = self.client()
        self.assertReply(c.greeting, 220)
        self.assertTrue(c.greeting.lines[0].startswith(
            b"220 " + fx.HOSTNAME.encode()), c.greeting)

    def test_pipelined_group_one_write(self):
        c = self.client()
        ehlo(self, c)
        c.send(b"MAIL FROM:<sender@raw.example>\r\n"
               b"RCPT TO:<one@raw.example>\r\n"
               b"RCPT TO:<two@raw.example>\r\n"
               b"DATA\r\n")
        replies = c.replies(4)
        self.assertEqual([r.code for r in replies], [250, 250, 250, 354],
                         replies)
        body = b"Subject: pipelined\r\n\r\nhello\r\n"
        c.send(body + b".\r\n")
        r = c.reply()
        self.assertReply(r, 250, "2.0.0")
        self.assertRegex(r.lines[-1], rb"^250 2\.0\.0 Ok: queued as \S+$")
        files = self.daemon.delivered()
        self.assertGreaterEqual(len(files), 1)
        for data in files:
            header, content = fx.split_received(data)
            fx.check_received(self, header, helo=HELO.decode())
            self.assertBytesEqual(content, body)
        self.assertEqual(c.pending(0.2), b"")

    def test_pipelined_group_with_rejected_rcpt(self):
        c = self.client()
        ehlo(self, c)
        c.send(b"MAIL FROM:<sender@raw.example>\r\n"
               b"RCPT TO:<bad@>\r\n"
               b"RCPT TO:<good@raw.example>\r\n"
               b"DATA\r\n")
        replies = c.replies(4)
        self.assertEqual([r.code for r in replies], [250, 501, 250, 354],
                         replies)
        self.assertEqual(replies[1].esc, "5.1.3", replies[1])
        c.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(b"Subject: x\r\n\r\nx\r\n",
                             rcpt="good@raw.example", helo=HELO.decode())

    def test_pipelined_messages_and_quit(self):
        # Two whole transactions, then QUIT: the server answers everything
        # in order, and never reads the body as commands.
        c = self.client()
        ehlo(self, c)
        for i in range(2):
            c.send(b"MAIL FROM:<s@raw.example>\r\nRCPT TO:<r@raw.example>\r\n"
                   b"DATA\r\n")
            self.assertEqual([r.code for r in c.replies(3)], [250, 250, 354])
            c.send(b"Subject: %d\r\n\r\nRSET\r\nQUIT\r\n.\r\n" % i)
            self.assertReply(c.reply(), 250, "2.0.0")
        self.assertReply(c.cmd(b"QUIT"), 221, "2.0.0")
        self.assertTrue(c.closed_by_peer())
        self.assertEqual(len(self.daemon.maildir_files()), 2)

    def test_zero_byte_message(self):
        c = self.client()
        ehlo(self, c)
        start_data(self, c)
        c.send(b".\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(b"", rcpt="rcpt@raw.example", helo=HELO.decode())

    def test_dot_unstuffing(self):
        c = self.client()
        ehlo(self, c)
        start_data(self, c)
        c.send(b"Subject: dots\r\n\r\n..\r\n...\r\n..x\r\n.y\r\nz.\r\n.\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        # RFC 5321 4.5.2: the first dot of a line is removed.
        self.assertDelivered(b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\ny\r\nz.\r\n",
                             rcpt="rcpt@raw.example", helo=HELO.decode())

    def test_1000_octet_data_line(self):
        c = self.client()
        ehlo(self, c)
        start_data(self, c)
        line = b"x" * 998 + b"\r\n"
        c.send(b"Subject: long line\r\n\r\n" + line + b".\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(b"Subject: long line\r\n\r\n" + line,
                             rcpt="rcpt@raw.example", helo=HELO.decode())

    # Bad sequences ----------------------------------------------------------

    def test_rcpt_before_mail(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"RCPT TO:<r@raw.example>"), 503, "5.5.1")

    def test_data_before_rcpt(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"DATA"), 503, "5.5.1")
        self.assertReply(c.cmd(b"MAIL FROM:<s@raw.example>"), 250)
        self.assertReply(c.cmd(b"DATA"), 503, "5.5.1")
        # The session goes on.
        self.assertReply(c.cmd(b"RCPT TO:<r@raw.example>"), 250)

    def test_mail_twice(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"MAIL FROM:<s@raw.example>"), 250)
        self.assertReply(c.cmd(b"MAIL FROM:<s@raw.example>"), 503, "5.5.1")

    # Bad syntax -------------------------------------------------------------

    def test_mail_bad_path(self):
        c = self.client()
        ehlo(self, c)
        r = c.cmd(b"MAIL FROM:foo@")
        self.assertReply(r, 501)
        self.assertIn(r.esc, ("5.1.7", "5.5.4"), r)
        # Still no transaction: a good MAIL is accepted afterwards.
        self.assertReply(c.cmd(b"MAIL FROM:<a@b>"), 250)

    def test_rcpt_bad_path(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"MAIL FROM:<a@b>"), 250)
        r = c.cmd(b"RCPT TO:<bad@>")
        self.assertReply(r, 501)
        self.assertIn(r.esc, ("5.1.3", "5.5.4"), r)

    def test_unknown_mail_parameter(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"MAIL FROM:<a@b> FOO=1"), 555, "5.5.4")

    def test_unknown_command(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"FOO"), 500, "5.5.2")
        self.assertReply(c.cmd(b"NOOP"), 250)

    def test_helo_without_argument(self):
        c = self.client()
        r = c.cmd(b"HELO")
        self.assertReply(r, 501)
        self.assertEqual(r.esc, "5.5.4", r)
        r = c.cmd(b"EHLO")
        self.assertReply(r, 501)

    def test_overlong_line(self):
        c = self.client()
        ehlo(self, c)
        line = b"MAIL FROM:<" + b"a" * (3000 - 14) + b">\r\n"
        self.assertEqual(len(line), 3000)
        c.send(line)
        self.assertReply(c.reply(), 500, "5.5.2")
        self.assertReply(c.cmd(b"NOOP"), 250)
        # The tail of the long line was not taken for a command.
        self.assertEqual(c.pending(0.3), b"")
        self.assertReply(c.cmd(b"MAIL FROM:<a@b>"), 250)

    def test_overlong_line_in_pieces(self):
        c = self.client()
        ehlo(self, c)
        c.send(b"NOOP " + b"b" * 1500)
        time.sleep(0.2)
        c.send(b"c" * 1500)
        time.sleep(0.2)
        c.send(b"NOOP\r\n")
        self.assertReply(c.reply(), 500, "5.5.2")
        self.assertReply(c.cmd(b"NOOP"), 250)
        self.assertEqual(c.pending(0.3), b"")

    # Simple commands ----------------------------------------------------------

    def test_vrfy(self):
        c = self.client()
        ehlo(self, c)
        r = c.cmd(b"VRFY postmaster")
        self.assertReply(r, 252)
        self.assertIsNotNone(r.esc, r)

    def test_noop_rset(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"NOOP"), 250)
        self.assertReply(c.cmd(b"MAIL FROM:<a@b>"), 250)
        self.assertReply(c.cmd(b"RSET"), 250)
        self.assertReply(c.cmd(b"RCPT TO:<c@d>"), 503, "5.5.1")

    def test_quit(self):
        c = self.client()
        r = c.cmd(b"QUIT")
        self.assertReply(r, 221, "2.0.0")
        self.assertTrue(c.closed_by_peer(), "connection still open after QUIT")

    def test_commands_case_insensitive(self):
        c = self.client()
        self.assertReply(c.cmd(b"ehlo " + HELO), 250)
        self.assertReply(c.cmd(b"mail from:<a@b>"), 250)
        self.assertReply(c.cmd(b"rcpt to:<c@d>"), 250)
        self.assertReply(c.cmd(b"rset"), 250)

    def test_every_reply_has_enhanced_status_code(self):
        c = self.client()
        ehlo(self, c)
        replies = [
            c.cmd(b"NOOP"),
            c.cmd(b"MAIL FROM:<a@b>"),
            c.cmd(b"RCPT TO:<c@d>"),
            c.cmd(b"VRFY x"),
            c.cmd(b"FOO"),
            c.cmd(b"MAIL FROM:<a@b>"),
            c.cmd(b"RSET"),
            c.cmd(b"DATA"),
            c.cmd(b"MAIL FROM:<a@b> SIZE=99999999999"),
            c.cmd(b"MAIL FROM:<a@b>"),
            c.cmd(b"RCPT TO:<c@d>"),
            c.cmd(b"DATA"),
        ]
        c.send(b"x\r\n.\r\n")
        replies.append(c.reply())
        replies.append(c.cmd(b"QUIT"))
        # RFC 2034 section 4: every 2xx, 4xx and 5xx reply other than the
        # greeting and the HELO/EHLO reply carries one (354 is 3xx).
        replies = [r for r in replies if r.code // 100 != 3]
        missing = [r for r in replies if r.esc is None]
        self.assertEqual(missing, [], "replies without an enhanced code")
        # Every line of a reply, not only the last, carries it.
        for r in replies:
            for line in r.lines:
                self.assertRegex(line, rb"^\d{3}[ -]\d\.\d{1,3}\.\d{1,3}\b")

    # SIZE ---------------------------------------------------------------------

    def test_size_parameter_too_big(self):
        c = self.client()
        r = ehlo(self, c)
        self.assertTrue(any(l[4:] == b"SIZE 10240000" for l in r.lines), r)
        self.assertReply(c.cmd(b"MAIL FROM:<a@b> SIZE=99999999999"),
                         552, "5.3.4")
        self.assertReply(c.cmd(b"MAIL FROM:<a@b> SIZE=10240000"), 250)

    # SMTP smuggling (default bare-newline policy) -----------------------------

    SMUGGLE_VARIANTS = [
        b"\n.\n",
        b"\n.\r\n",
        b"\r.\n",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\r\n\x00.\r\n",
        b"\r\n.\r\r\n",
    ]

    def test_smuggling_does_not_end_data(self):
        for variant in self.SMUGGLE_VARIANTS:
            with self.subTest(variant=variant):
                self.daemon.clear_maildir()
                c = self.daemon.connect()
                try:
                    ehlo(self, c)
                    start_data(self, c)
                    c.send(b"Subject: smuggle\r\n\r\nbefore" + variant +
                           b"MAIL FROM:<evil@raw.example>\r\n"
                           b"RCPT TO:<victim@raw.example>\r\n"
                           b"DATA\r\n"
                           b"smuggled\r\n")
                    # The server is still reading the message: no reply.
                    self.assertEqual(c.pending(0.4), b"",
                                     f"server replied inside DATA after {variant!r}")
                    c.send(b".\r\n")
                    r = c.reply()
                    if b"\x00" in variant:
                        # NUL in content: refused whatever the line ends
                        self.assertEqual(r.lines, [b"554 5.6.0 Error: NUL character "
                                                   b"in message content"], r)
                    else:
                        self.assertIn(r.code, (250, 550), r)
                    if r.code == 550:
                        self.assertEqual(r.esc, "5.5.2", r)
                    # Nothing else: the smuggled commands were data.
                    self.assertEqual(c.pending(0.3), b"")
                    self.assertReply(c.cmd(b"NOOP"), 250)
                    files = self.daemon.maildir_files()
                    self.assertEqual(len(files), 1 if r.code == 250 else 0,
                                     files)
                    if r.code == 250:
                        # normalized (the default): CRLF only, and no lone
                        # "." line that a later hop could take for an end
                        _, content = fx.split_received(self.daemon.delivered()[0])
                        self.assertNotIn(b"\n", content.replace(b"\r\n", b""))
                        self.assertNotIn(b"\r\n.\r\n", content)
                        self.assertIn(b"\r\nMAIL FROM:<evil@raw.example>\r\n", content)
                finally:
                    c.close()


class SizeLimitTest(fx.VsmtpdTestCase):
    options = ("server.max-message-size=10000",)

    def test_ehlo_advertises_limit(self):
        c = self.client()
        r = ehlo(self, c)
        self.assertTrue(any(l[4:] == b"SIZE 10000" for l in r.lines), r)

    def test_size_parameter_over_limit(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"MAIL FROM:<a@b> SIZE=10001"), 552, "5.3.4")
        self.assertReply(c.cmd(b"MAIL FROM:<a@b> SIZE=10000"), 250)

    def test_message_over_limit_while_receiving(self):
        c = self.client()
        ehlo(self, c)
        start_data(self, c)
        body = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 300
        self.assertGreater(len(body), 10000)
        c.send(body + b".\r\n")
        self.assertReply(c.reply(), 552, "5.3.4")
        self.assertNothingDelivered()
        # The session is back in sync and delivers a small message.
        self.assertEqual(c.pending(0.3), b"")
        start_data(self, c)
        c.send(b"Subject: small\r\n\r\nsmall\r\n.\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(b"Subject: small\r\n\r\nsmall\r\n",
                             rcpt="rcpt@raw.example", helo=HELO.decode())

    def test_message_at_limit(self):
        c = self.client()
        ehlo(self, c)
        start_data(self, c)
        head = b"Subject: fits\r\n\r\n"
        body = head + b"z" * (10000 - len(head) - 2) + b"\r\n"
        self.assertEqual(len(body), 10000)
        c.send(body + b".\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(body, rcpt="rcpt@raw.example", helo=HELO.decode())


class BareNewlineRejectTest(fx.VsmtpdTestCase):
    options = ("server.bare-newline=reject",)

    def test_bare_lf_rejected_after_end(self):
        c = self.client()
        ehlo(self, c)
        start_data(self, c)
        c.send(b"Subject: bare\r\n\r\nbefore\n.\nMAIL FROM:<evil@raw.example>\r\n"
               b"RCPT TO:<victim@raw.example>\r\nDATA\r\nsmuggled\r\n")
        self.assertEqual(c.pending(0.4), b"")
        c.send(b".\r\n")
        self.assertReply(c.reply(), 550, "5.5.2")
        self.assertEqual(c.pending(0.3), b"")
        self.assertNothingDelivered()
        # The session continues.
        self.assertReply(c.cmd(b"NOOP"), 250)
        start_data(self, c)
        c.send(b"Subject: clean\r\n\r\nclean\r\n.\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(b"Subject: clean\r\n\r\nclean\r\n",
                             rcpt="rcpt@raw.example", helo=HELO.decode())


class BareNewlineNormalizeTest(fx.VsmtpdTestCase):
    options = ("server.bare-newline=normalize",)

    def test_bare_lf_normalized(self):
        c = self.client()
        ehlo(self, c)
        start_data(self, c)
        c.send(b"Subject: bare\r\n\r\nbefore\n.\nMAIL FROM:<evil@raw.example>\r\n"
               b"RCPT TO:<victim@raw.example>\r\nDATA\r\nsmuggled\r\n")
        self.assertEqual(c.pending(0.4), b"")
        c.send(b".\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertEqual(c.pending(0.3), b"")
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1)
        header, content = fx.split_received(files[0])
        fx.check_received(self, header, rcpt="rcpt@raw.example")
        self.assertTrue(content.startswith(b"Subject: bare\r\n\r\nbefore\r\n"),
                        content)
        self.assertTrue(content.endswith(b"\r\nsmuggled\r\n"), content)
        self.assertIn(b"\r\nMAIL FROM:<evil@raw.example>\r\n", content)
        self.assertNotIn(b"\n", content.replace(b"\r\n", b""),
                         "bare LF left in the delivered message")

    def test_bare_lf_in_text(self):
        c = self.client()
        ehlo(self, c)
        start_data(self, c)
        c.send(b"Subject: bare\r\n\r\none\ntwo\r\n.\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(b"Subject: bare\r\n\r\none\r\ntwo\r\n",
                             rcpt="rcpt@raw.example", helo=HELO.decode())


class NulNormalizeTest(fx.VsmtpdTestCase):
    """NUL in DATA is refused after the message (554 5.6.0), in either
    bare-newline mode; nothing is delivered and the session goes on."""

    options = ("server.bare-newline=normalize",)

    def test_nul_refused(self):
        for content in (b"Subject: nul\r\n\r\na\x00b\r\n",
                        b"Subject: nul\r\n\r\nbefore\r\n\x00.\r\nafter\r\n",
                        b"Subject: nul\r\n\r\nbefore\n\x00.\nafter\r\n"):
            with self.subTest(content=content):
                c = self.client()
                ehlo(self, c)
                start_data(self, c)
                c.send(content + b".\r\n")
                self.assertEqual(c.reply().lines,
                                 [b"554 5.6.0 Error: NUL character in message content"])
                self.assertReply(c.cmd(b"NOOP"), 250)
                self.assertNothingDelivered()
                c.close()


class NulRejectTest(NulNormalizeTest):
    options = ("server.bare-newline=reject",)


class MaxRecipientsTest(fx.VsmtpdTestCase):
    options = ("server.max-recipients=3",)

    def test_too_many_recipients(self):
        c = self.client()
        ehlo(self, c)
        self.assertReply(c.cmd(b"MAIL FROM:<a@b>"), 250)
        for i in range(3):
            self.assertReply(c.cmd(b"RCPT TO:<r%d@raw.example>" % i), 250)
        self.assertReply(c.cmd(b"RCPT TO:<r3@raw.example>"), 452, "4.5.3")
        self.assertReply(c.cmd(b"DATA"), 354)
        c.send(b"Subject: three\r\n\r\nthree\r\n.\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertGreaterEqual(len(self.daemon.maildir_files()), 1)


class RecipientLimitNotAnErrorTest(fx.VsmtpdTestCase):
    """452 for too many recipients is a limit, not an error: a client that
    pipelines 1,050 RCPTs under max-recipients=1000 (and the default error
    limits: hard 20) keeps its transaction for the first 1,000."""

    def test_pipelined_past_the_limit(self):
        c = self.client()
        ehlo(self, c)
        rcpts = [b"r%04d@raw.example" % i for i in range(1050)]
        c.send(b"MAIL FROM:<a@raw.example>\r\n" +
               b"".join(b"RCPT TO:<" + r + b">\r\n" for r in rcpts) +
               b"DATA\r\n")
        self.assertReply(c.reply(), 250)
        codes = [c.reply() for _ in rcpts]
        self.assertEqual([r.code for r in codes[:1000]], [250] * 1000)
        for r in codes[1000:]:
            self.assertReply(r, 452, "4.5.3")
        self.assertReply(c.reply(), 354)
        c.send(b"Subject: many\r\n\r\nmany\r\n.\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertReply(c.cmd(b"NOOP"), 250)
        self.assertEqual(len(self.daemon.maildir_files()), 1)
        # the transaction log line is written before the 250 is sent
        log = [l for l in self.daemon.stderr_text().splitlines()
               if " from=<a@raw.example> to=" in l]
        self.assertEqual(len(log), 1, log)
        to = log[0].split(" to=", 1)[1].split(" ", 1)[0]
        self.assertEqual(to, ",".join("<%s>" % r.decode() for r in rcpts[:1000]))


class GreetPauseTest(fx.VsmtpdTestCase):
    """greet-pause=0.5: the greeting waits half a second; a client that
    talks in that time is refused, whatever forbid-unauth-pipelining says."""

    options = ("server.greet-pause=0.5", "server.forbid-unauth-pipelining=false",
               "server.max-connections-per-client=200")

    def test_early_talkers_refused(self):
        talkers = []
        for _ in range(100):
            c = fx.RawClient(self.daemon.port, greeting=False)
            self.addCleanup(c.close)
            c.send(b"EHLO early.example\r\n")
            talkers.append(c)
        refused = 0
        for c in talkers:
            r = c.reply()
            self.assertEqual(r.lines, [b"554 5.5.0 Error: SMTP protocol synchronization"], r)
            self.assertTrue(c.closed_by_peer(), "still connected after 554")
            refused += 1
        self.assertEqual(refused, 100)

    def test_polite_client_served(self):
        start = time.monotonic()
        c = self.client()   # waits for the greeting before talking
        self.assertGreaterEqual(time.monotonic() - start, 0.45)
        self.assertEqual(c.greeting.code, 220)
        ehlo(self, c)
        start_data(self, c)
        c.send(b"Subject: polite\r\n\r\npolite\r\n.\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")


class TimeoutTest(fx.VsmtpdTestCase):
    options = ("server.timeout=1",)

    def test_idle_session_closed(self):
        c = self.client()
        ehlo(self, c)
        start = time.monotonic()
        r = c.reply()   # unsolicited, after the timeout
        self.assertReply(r, 421)
        self.assertTrue(c.closed_by_peer(5))
        self.assertLess(time.monotonic() - start, 10)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""CHUNKING (RFC 3030) and BINARYMIME on a raw socket: BDAT chunks are
delivered byte for byte (no dot-unstuffing, no line-end policy), refused
chunks are read to their last octet so nothing in them runs as a command,
a size that does not parse closes the connection, and the 503 orders.
Every assertion is on the bytes the server sent back and on the files in
the maildir. (Python's smtplib has no BDAT: the client is the test.)"""

import os

import vsmtpd_fixture as fx

HELO = b"bdat.client.example"
LIMIT = 4096


def ehlo(test, c):
    r = c.cmd(b"EHLO " + HELO)
    test.assertReply(r, 250)
    return r


def transaction(test, c, params=b"", rcpts=(b"rcpt@bdat.example",)):
    test.assertReply(c.cmd(b"MAIL FROM:<sender@bdat.example>" + params), 250)
    for r in rcpts:
        test.assertReply(c.cmd(b"RCPT TO:<" + r + b">"), 250)


def bdat(size, data, last=False):
    return b"BDAT %d%s\r\n" % (size, b" LAST" if last else b"") + data


def send_chunk(c, data, last=False):
    """One BDAT command and its chunk; its reply."""
    c.send(bdat(len(data), data, last))
    return c.reply()


def octets(test, reply, n):
    test.assertReply(reply, 250, "2.0.0")
    test.assertEqual(reply.lines[-1], b"250 2.0.0 %d octets received" % n, reply)


# every byte value, a bare CR, a bare LF, a NUL, what would end DATA or be
# dot-stuffed, and a line far longer than 1000 octets
BINARY = (b"Subject: binary\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: application/octet-stream\r\n"
          b"Content-Transfer-Encoding: binary\r\n\r\n"
          + bytes(range(256)) + b"\r\n.\r\n..x\n.\n\r.\r\x00\r\nQUIT\r\n"
          + b"y" * 1500 + b"\r")


class BdatTest(fx.VsmtpdTestCase):

    options = (f"server.max-message-size={LIMIT}",)

    def assertNoMoreReplies(self, c):
        self.assertEqual(c.pending(0.3), b"")

    def test_ehlo_lists_chunking_and_binarymime(self):
        c = self.client()
        lines = ehlo(self, c).lines
        keywords = [line[4:].split(b" ")[0] for line in lines[1:]]
        self.assertIn(b"CHUNKING", keywords, lines)
        self.assertIn(b"BINARYMIME", keywords, lines)
        self.assertLess(keywords.index(b"CHUNKING"), keywords.index(b"BINARYMIME"))

    def test_binary_message_byte_exact(self):
        c = self.client()
        ehlo(self, c)
        transaction(self, c, b" BODY=BINARYMIME")
        a, b = BINARY[:700], BINARY[700:]
        c.send(bdat(len(a), a))
        octets(self, c.reply(), len(a))
        c.send(bdat(len(b), b, last=True))
        r = c.reply()
        self.assertReply(r, 250, "2.0.0")
        self.assertRegex(r.lines[-1], rb"^250 2\.0\.0 Ok: queued as \S+$")
        self.assertDelivered(BINARY, helo=HELO.decode(), rcpt="rcpt@bdat.example")
        self.assertNoMoreReplies(c)

    def test_pipelined_chunks_in_one_write(self):
        """MAIL, RCPT and three chunks in one write: five replies in order;
        no dot-unstuffing, and a chunk's "\\r\\n.\\r\\n" ends nothing."""
        c = self.client()
        ehlo(self, c)
        parts = [b"Subject: chunks\r\n\r\n..one\r\n.\r\n", b"RSET\r\n", b"three\r\n"]
        c.send(b"MAIL FROM:<sender@bdat.example> BODY=8BITMIME\r\n"
               b"RCPT TO:<rcpt@bdat.example>\r\n"
               + bdat(len(parts[0]), parts[0]) + bdat(len(parts[1]), parts[1])
               + bdat(len(parts[2]), parts[2], last=True) + b"NOOP\r\n")
        replies = c.replies(6)
        self.assertEqual([r.code for r in replies], [250] * 6, replies)
        octets(self, replies[2], len(parts[0]))
        octets(self, replies[3], len(parts[1]))
        self.assertRegex(replies[4].lines[-1], rb"^250 2\.0\.0 Ok: queued as \S+$")
        self.assertEqual(replies[5].lines, [b"250 2.0.0 Ok"])
        self.assertDelivered(b"".join(parts), helo=HELO.decode())
        self.assertNoMoreReplies(c)

    def test_bdat_0_last(self):
        c = self.client()
        ehlo(self, c)
        transaction(self, c)
        c.send(b"BDAT 4\r\nab\r\nBDAT 0 LAST\r\n")
        octets(self, c.reply(), 4)
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(b"ab\r\n")
        # an empty message, in one command
        self.daemon.clear_maildir()
        transaction(self, c)
        self.assertReply(c.cmd(b"BDAT 0 LAST"), 250, "2.0.0")
        self.assertDelivered(b"")

    def test_over_limit_chunk_is_read_not_run(self):
        """The chunk that takes the message past max-message-size gets 552
        and is read to its end: the commands inside it get no reply; the
        transaction is over, so the next chunk is refused (and read) too."""
        c = self.client()
        ehlo(self, c)
        transaction(self, c)
        first = b"Subject: big\r\n\r\n" + b"x" * 3000 + b"\r\n"
        inside = b"RSET\r\nQUIT\r\nMAIL FROM:<evil@bdat.example>\r\n"
        second = inside + b"z" * (LIMIT - len(first) - len(inside) + 1)
        third = b"NOOP\r\nQUIT\r\n"
        c.send(bdat(len(first), first) + bdat(len(second), second)
               + bdat(len(third), third, last=True) + b"NOOP\r\n")
        octets(self, c.reply(), len(first))
        self.assertReply(c.reply(), 552, "5.3.4")
        self.assertReply(c.reply(), 503, "5.5.1")
        self.assertEqual(c.reply().lines, [b"250 2.0.0 Ok"])   # the NOOP after them
        self.assertNoMoreReplies(c)
        self.assertNothingDelivered()
        # a new transaction goes through
        transaction(self, c)
        self.assertReply(send_chunk(c, b"ok\n", last=True), 250, "2.0.0")
        self.assertDelivered(b"ok\n")

    def test_large_refused_chunk_is_consumed(self):
        """A chunk far over the limit (1 MiB, in many writes) is read and
        dropped as it comes; the session goes on after it."""
        c = self.client()
        ehlo(self, c)
        transaction(self, c)
        size = 1 << 20
        c.send(b"BDAT %d LAST\r\n" % size)
        block = (b"QUIT\r\n" * 1000)[:size // 64]
        sent = 0
        while sent < size:
            n = min(len(block), size - sent)
            c.send(block[:n])
            sent += n
        self.assertReply(c.reply(), 552, "5.3.4")
        self.assertEqual(c.cmd(b"NOOP").lines, [b"250 2.0.0 Ok"])
        self.assertNothingDelivered()

    def test_bad_sizes_close_the_connection(self):
        for command in (b"BDAT", b"BDAT x", b"BDAT -1", b"BDAT +5", b"BDAT 1x LAST",
                        b"BDAT 0x10", b"BDAT 9223372036854775808",
                        b"BDAT 99999999999999999999999", b"BDAT  LAST"):
            with self.subTest(command=command):
                c = self.client()
                ehlo(self, c)
                transaction(self, c)
                c.send(command + b"\r\nNOOP\r\n")
                self.assertReply(c.reply(), 501, "5.5.4")
                self.assertTrue(c.closed_by_peer(), command)
                self.assertEqual(c.buf, b"")
        self.assertNothingDelivered()

    def test_largest_size_parses(self):
        """2^63 - 1 is a size (refused for the limit, not for its syntax):
        the connection stays open while the chunk would be read."""
        c = self.client()
        ehlo(self, c)
        transaction(self, c)
        c.send(b"BDAT 9223372036854775807 LAST\r\n")
        self.assertReply(c.reply(), 552, "5.3.4")

    def test_bad_keyword_after_size(self):
        """A size that parses with a bad word after it: 501, and the chunk
        is still read (the session can go on)."""
        c = self.client()
        ehlo(self, c)
        transaction(self, c)
        c.send(b"BDAT 6 FIRST\r\nRSET\r\nNOOP\r\n")
        self.assertReply(c.reply(), 501, "5.5.4")
        self.assertEqual(c.reply().lines, [b"250 2.0.0 Ok"])
        self.assertNoMoreReplies(c)
        # the transaction is still there
        self.assertReply(send_chunk(c, b"ok", last=True), 250, "2.0.0")
        self.assertDelivered(b"ok")

    def test_503_orders(self):
        c = self.client()
        ehlo(self, c)
        # no transaction: refused, and the chunk's octets are not commands
        c.send(bdat(12, b"NOOP\r\nQUIT\r\n") + b"NOOP\r\n")
        r = c.reply()
        self.assertReply(r, 503, "5.5.1")
        self.assertEqual(c.reply().lines, [b"250 2.0.0 Ok"])
        self.assertNoMoreReplies(c)
        # MAIL without an accepted recipient
        self.assertReply(c.cmd(b"MAIL FROM:<sender@bdat.example>"), 250)
        c.send(bdat(6, b"QUIT\r\n", last=True) + b"NOOP\r\n")
        self.assertReply(c.reply(), 503, "5.5.1")
        self.assertEqual(c.reply().lines, [b"250 2.0.0 Ok"])
        self.assertReply(c.cmd(b"RCPT TO:<rcpt@bdat.example>"), 250)
        # DATA after a chunk, RCPT after a chunk
        c.send(bdat(5, b"part1"))
        octets(self, c.reply(), 5)
        self.assertReply(c.cmd(b"DATA"), 503, "5.5.1")
        self.assertReply(c.cmd(b"RCPT TO:<late@bdat.example>"), 503, "5.5.1")
        self.assertReply(c.cmd(b"MAIL FROM:<other@bdat.example>"), 503, "5.5.1")
        self.assertReply(send_chunk(c, b"part2", last=True), 250, "2.0.0")
        self.assertDelivered(b"part1part2")
        self.daemon.clear_maildir()
        # BODY=BINARYMIME, then DATA
        transaction(self, c, b" BODY=BINARYMIME")
        self.assertReply(c.cmd(b"DATA"), 503, "5.5.1")
        self.assertReply(send_chunk(c, b"\x00\r\n", last=True), 250, "2.0.0")
        self.assertDelivered(b"\x00\r\n")
        self.daemon.clear_maildir()
        # DATA still works in a transaction of its own
        transaction(self, c)
        self.assertReply(c.cmd(b"DATA"), 354)
        self.assertReply(c.cmd(b"Subject: data\r\n\r\nbody\r\n."), 250, "2.0.0")
        self.assertDelivered(b"Subject: data\r\n\r\nbody\r\n")

    def test_rset_between_chunks(self):
        c = self.client()
        ehlo(self, c)
        transaction(self, c)
        c.send(bdat(5, b"first"))
        octets(self, c.reply(), 5)
        self.assertReply(c.cmd(b"RSET"), 250)
        self.assertReply(send_chunk(c, b"more", last=True), 503, "5.5.1")
        self.assertNothingDelivered()

    def test_nul_without_binarymime(self):
        """Without BODY=BINARYMIME the content is 7bit or 8bit MIME: a NUL
        refuses the message at the end, as after DATA."""
        c = self.client()
        ehlo(self, c)
        transaction(self, c, b" BODY=8BITMIME")
        self.assertReply(send_chunk(c, b"a\x00b", last=True), 554, "5.6.0")
        self.assertNothingDelivered()

    def test_helo_client_gets_502(self):
        """CHUNKING is an ESMTP extension: after HELO, BDAT is unknown."""
        c = self.client()
        self.assertReply(c.cmd(b"HELO " + HELO), 250)
        self.assertReply(c.cmd(b"BDAT 0 LAST"), 502, "5.5.1")
        self.assertReply(c.cmd(b"MAIL FROM:<a@bdat.example> BODY=BINARYMIME"), 250)


class BdatSpoolTest(fx.VsmtpdTestCase):
    """A message larger than the spool threshold, in 1 MiB chunks."""

    def test_large_binary_message(self):
        c = self.client()
        ehlo(self, c)
        transaction(self, c, b" BODY=BINARYMIME")
        content = b"Subject: large\r\n\r\n" + os.urandom(3 * (1 << 20) + 17)
        step = 1 << 20
        replies = 0
        for pos in range(0, len(content), step):
            part = content[pos:pos + step]
            c.send(bdat(len(part), part, last=pos + step >= len(content)))
            replies += 1
        for r in c.replies(replies - 1):
            octets(self, r, step)
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertDelivered(content)


if __name__ == "__main__":
    fx.main()

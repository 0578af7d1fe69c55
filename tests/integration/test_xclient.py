"""XCLIENT (Postfix's XCLIENT_README): a trusted proxy says who the client is.

Raw-socket tests against vsmtpd with ``[server] xclient-trusted`` (the short
form for the listeners of the [server] listen keys): the proxy is the test
connecting from 127.0.0.1; 127.0.0.2 is a client the list does not name.
"""

import re
import socket
import time

from vsmtpd_fixture import (CRLF, HOSTNAME, IO_TIMEOUT, RawClient, Vsmtpd,
                            VsmtpdTestCase, free_port, main, split_received)

EHLO_XCLIENT = b"XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT"
MESSAGE = b"Subject: xclient\r\n\r\nHello.\r\n"


class SourceClient(RawClient):
    """A RawClient whose connection comes from a given loopback address."""

    def __init__(self, port, source, greeting=True, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout,
                                             source_address=(source, 0))
        self.buf = b""
        self.greeting = self.reply() if greeting else None


def received_of(data):
    header, _ = split_received(data)
    return re.sub(r"\r\n[ \t]+", " ", header.decode("ascii"))


class XclientCase(VsmtpdTestCase):
    # (test_bad_attributes makes many errors in one session)
    options = ("server.xclient-trusted=127.0.0.1;10.9.8.0/24",
               "server.hard-error-limit=100", "server.error-sleep-time=0")

    def client_from(self, source, **kw):
        c = SourceClient(self.daemon.port, source, **kw)
        self.addCleanup(c.close)
        return c

    def ehlo(self, c, name="proxy.example"):
        r = c.cmd(f"EHLO {name}")
        self.assertReply(r, 250)
        return r

    def send_message(self, c, rcpt="rcpt@example.org"):
        self.assertReply(c.cmd("MAIL FROM:<sender@example.org>"), 250)
        self.assertReply(c.cmd(f"RCPT TO:<{rcpt}>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(MESSAGE + b".\r\n")
        self.assertReply(c.reply(), 250)

    def delivered_received(self):
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1, f"expected one message, got {len(files)}")
        self.assertTrue(files[0].endswith(MESSAGE), files[0])
        return received_of(files[0])

    # --------------------------------------------------------------------

    def test_untrusted_peer(self):
        c = self.client_from("127.0.0.2")
        r = self.ehlo(c)
        self.assertNotIn(b"XCLIENT", r.text)
        r = c.cmd("XCLIENT ADDR=192.0.2.1")
        self.assertReply(r, 550, "5.7.0")
        # nothing changed: the client still gets its own address
        self.send_message(c)
        self.assertIn("[127.0.0.2]", self.delivered_received())
        self.assertIn("XCLIENT refused from [127.0.0.2]", self.daemon.stderr_text())

    def test_ehlo_lists_attributes(self):
        c = self.client()
        r = self.ehlo(c)
        self.assertIn(EHLO_XCLIENT, [line[4:] for line in r.lines])

    def test_inside_transaction(self):
        c = self.client()
        self.ehlo(c)
        self.assertReply(c.cmd("MAIL FROM:<a@example.org>"), 250)
        self.assertReply(c.cmd("XCLIENT ADDR=192.0.2.1"), 503, "5.5.1")
        self.assertReply(c.cmd("RCPT TO:<b@example.org>"), 250)
        self.assertReply(c.cmd("XCLIENT ADDR=192.0.2.1"), 503, "5.5.1")
        self.assertReply(c.cmd("RSET"), 250)
        self.assertReply(c.cmd("XCLIENT ADDR=192.0.2.1"), 220)

    def test_bad_attributes(self):
        c = self.client()
        self.ehlo(c)
        for line in ["XCLIENT", "XCLIENT ", "XCLIENT ADDR", "XCLIENT =1",
                     "XCLIENT FOO=bar", "XCLIENT ADDR=192.0.2.1 FOO=bar",
                     "XCLIENT ADDR=300.1.2.3", "XCLIENT ADDR=::1",
                     "XCLIENT ADDR=IPV6:192.0.2.1", "XCLIENT ADDR=192.0.2.1/24",
                     "XCLIENT ADDR=[TEMPUNAVAIL]", "XCLIENT PORT=65536",
                     "XCLIENT PORT=0", "XCLIENT PORT=http", "XCLIENT PROTO=LMTP",
                     "XCLIENT PROTO=[UNAVAILABLE]", "XCLIENT NAME=bad!name",
                     "XCLIENT NAME=a..b", "XCLIENT NAME=a+zz", "XCLIENT NAME=a+0",
                     "XCLIENT HELO=a+00b", "XCLIENT HELO=a+20b", "XCLIENT LOGIN=",
                     "XCLIENT LOGIN=a=b", "XCLIENT DESTADDR=example.org",
                     "XCLIENT DESTPORT=-1", "XCLIENT NAME=" + "a" * 256]:
            r = c.cmd(line)
            self.assertReply(r, 501, "5.5.4")
        r = c.cmd("XCLIENT FOO=bar")
        self.assertIn(b"Bad XCLIENT attribute name: FOO", r.text)
        r = c.cmd("XCLIENT ADDR=300.1.2.3")
        self.assertIn(b"Bad ADDR syntax", r.text)
        # a refused command changes nothing: same session, same client
        self.send_message(c)
        self.assertIn("[127.0.0.1]", self.delivered_received())

    def test_success(self):
        c = self.client()
        self.ehlo(c)
        r = c.cmd("XCLIENT NAME=client.example ADDR=192.0.2.10 PORT=4321 "
                  "HELO=client-helo.example")
        self.assertReply(r, 220)
        self.assertEqual(r.text, c.greeting.text, "not the server's greeting")
        # a fresh session: EHLO first
        self.assertReply(c.cmd("MAIL FROM:<a@example.org>"), 503, "5.5.1")
        r = self.ehlo(c, "proxy.example")
        # the trust is the proxy's (the socket's peer): still offered
        self.assertIn(EHLO_XCLIENT, r.text)
        self.send_message(c)
        received = self.delivered_received()
        self.assertTrue(received.startswith(
            "Received: from client-helo.example (client.example [192.0.2.10])"), received)
        self.assertIn(" with ESMTP id ", received)
        log = self.daemon.stderr_text()
        self.assertIn("XCLIENT from [127.0.0.1]: client=client.example[192.0.2.10]:4321 "
                      "helo=client-helo.example login=(none)", log)
        self.assertRegex(log, r"client=\[192\.0\.2\.10\] from=<sender@example\.org>")

    def test_helo_from_ehlo_and_proto(self):
        # without HELO=, the next HELO/EHLO names the client; PROTO=ESMTP
        # makes the trace say ESMTP even though the proxy greets with HELO
        c = self.client()
        self.assertReply(c.cmd("XCLIENT ADDR=192.0.2.12 PROTO=ESMTP"), 220)
        self.assertReply(c.cmd("HELO greeted.example"), 250)
        self.send_message(c)
        received = self.delivered_received()
        self.assertTrue(received.startswith("Received: from greeted.example ([192.0.2.12])"),
                        received)
        self.assertIn(" with ESMTP id ", received)

    def test_attributes_accumulate(self):
        # XCLIENT_README: a proxy may split the attributes over commands
        c = self.client()
        self.ehlo(c)
        self.assertReply(c.cmd("XCLIENT NAME=split.example ADDR=192.0.2.13"), 220)
        self.assertReply(c.cmd("XCLIENT HELO=split-helo.example"), 220)
        self.ehlo(c)
        self.send_message(c)
        self.assertTrue(self.delivered_received().startswith(
            "Received: from split-helo.example (split.example [192.0.2.13])"))

    def test_unavailable(self):
        c = self.client()
        self.ehlo(c)
        r = c.cmd("XCLIENT NAME=[TEMPUNAVAIL] ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE] "
                  "HELO=[UNAVAILABLE] LOGIN=[UNAVAILABLE] DESTADDR=[UNAVAILABLE] "
                  "DESTPORT=[UNAVAILABLE]")
        self.assertReply(r, 220)
        self.ehlo(c, "after.example")
        self.send_message(c)
        received = self.delivered_received()
        self.assertTrue(received.startswith("Received: from after.example ([unknown])"),
                        received)
        self.assertNotIn("127.0.0.1", received)
        self.assertIn(" with ESMTP id ", received)   # no LOGIN: not ESMTPA
        self.assertIn("client=unknown[unknown]:0 helo=(none) login=(none)",
                      self.daemon.stderr_text())

    def test_xtext(self):
        c = self.client()
        self.ehlo(c)
        r = c.cmd("XCLIENT NAME=mail+2Dgw.example HELO=a+3Db+2Bc LOGIN=j+2Bdoe+40x "
                  "ADDR=192.0.2.14")
        self.assertReply(r, 220)
        self.ehlo(c)
        self.send_message(c)
        received = self.delivered_received()
        self.assertTrue(received.startswith("Received: from a=b+c (mail-gw.example [192.0.2.14])"),
                        received)
        self.assertIn(" with ESMTPA id ", received)
        self.assertIn("login=j+doe@x", self.daemon.stderr_text())

    def test_ipv6(self):
        c = self.client()
        self.ehlo(c)
        self.assertReply(c.cmd("XCLIENT ADDR=IPV6:2001:DB8::25 PORT=2525 NAME=v6.example"), 220)
        self.ehlo(c)
        self.send_message(c)
        received = self.delivered_received()
        self.assertTrue(received.startswith(
            "Received: from proxy.example (v6.example [IPv6:2001:db8::25])"), received)
        self.assertIn("client=v6.example[2001:db8::25]:2525", self.daemon.stderr_text())

    def test_pipelined(self):
        # XCLIENT_README: XCLIENT may be pipelined after EHLO with PIPELINING
        c = self.client()
        self.ehlo(c)
        c.send(b"XCLIENT ADDR=192.0.2.15\r\nEHLO pipelined.example\r\n")
        self.assertReply(c.reply(), 220)
        self.assertReply(c.reply(), 250)
        self.send_message(c)
        self.assertIn("[192.0.2.15]", self.delivered_received())

    def test_case_insensitive(self):
        c = self.client()
        self.ehlo(c)
        self.assertReply(c.cmd("xclient addr=192.0.2.16 proto=smtp"), 220)
        self.ehlo(c)
        self.send_message(c)
        received = self.delivered_received()
        self.assertIn("[192.0.2.16]", received)
        self.assertIn(" with SMTP id ", received)


class XclientSubmissionCase(VsmtpdTestCase):
    """LOGIN counts as authenticated: a listener that requires AUTH takes
    MAIL once the proxy names the user."""

    @classmethod
    def setUpClass(cls):
        cls.submission_port = free_port()
        cls.daemon = Vsmtpd(options=("server.xclient-trusted=127.0.0.1",
                                     f"server.listen-submission=127.0.0.1:{cls.submission_port}"))
        try:
            cls.daemon.start()
        except Exception:
            cls.daemon.cleanup()
            raise

    def submission_client(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                c = RawClient(self.submission_port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.addCleanup(c.close)
        return c

    def test_login_allows_mail(self):
        c = self.submission_client()
        self.assertReply(c.cmd("EHLO proxy.example"), 250)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.org>"), 530, "5.7.0")
        self.assertReply(c.cmd("XCLIENT LOGIN=alice ADDR=192.0.2.20"), 220)
        self.assertReply(c.cmd("EHLO client.example"), 250)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.org>"), 250)
        self.assertReply(c.cmd("RCPT TO:<bob@example.net>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(MESSAGE + b".\r\n")
        self.assertReply(c.reply(), 250)
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1)
        received = received_of(files[0])
        self.assertTrue(received.startswith("Received: from client.example ([192.0.2.20])"),
                        received)
        self.assertIn(" with ESMTPA id ", received)

    def test_login_unavailable_is_not_authenticated(self):
        c = self.submission_client()
        self.assertReply(c.cmd("XCLIENT LOGIN=alice"), 220)
        self.assertReply(c.cmd("XCLIENT LOGIN=[UNAVAILABLE]"), 220)
        self.assertReply(c.cmd("EHLO client.example"), 250)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.org>"), 530, "5.7.0")


class XclientLimitCase(VsmtpdTestCase):
    """The per-client connection count follows XCLIENT's address: the
    proxy's address is freed, the client's counted (and limited)."""

    options = ("server.xclient-trusted=127.0.0.1",
               "server.max-connections-per-client=1")

    def admitted_client(self):
        # the fixture's start-up probe, or a session closing, may still
        # hold the proxy's one slot for a moment
        deadline = time.monotonic() + 10
        while True:
            c = self.client()
            if c.greeting.code == 220:
                return c
            self.assertLess(time.monotonic(), deadline, c.greeting)
            time.sleep(0.1)

    def test_count_moves_to_the_client(self):
        first = self.admitted_client()
        self.assertReply(first.cmd("XCLIENT ADDR=192.0.2.50"), 220)
        # the proxy's slot is free again: a second connection is admitted
        second = self.client()
        self.assertEqual(second.greeting.code, 220, second.greeting)
        self.assertReply(second.cmd("XCLIENT ADDR=192.0.2.51"), 220)
        # a third one for a client already connected is over the limit
        third = self.client()
        r = third.cmd("XCLIENT ADDR=192.0.2.50")
        self.assertReply(r, 421, "4.7.0")
        self.assertIn(b"too many connections from 192.0.2.50", r.text)
        self.assertTrue(third.closed_by_peer())
        # the refused session counted nothing: the proxy can come back
        # once the first client leaves, for 192.0.2.50 again
        self.assertReply(first.cmd("QUIT"), 221)
        self.assertTrue(first.closed_by_peer())
        fourth = self.admitted_client()
        self.assertReply(fourth.cmd("XCLIENT ADDR=192.0.2.50"), 220)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The relay plugin: vsmtpd hands each message to an upstream over SMTP or
LMTP and answers the client with the upstream's verdict.

Upstreams: Postfix's smtp-sink (SMTP and LMTP, forced 4xx/5xx), a scripted
upstream written here (it records the bytes on the wire, counts connections,
answers per recipient, speaks STARTTLS), a closed port, and a second vsmtpd
with STARTTLS."""

import os
import re
import select
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import vsmtpd_fixture as fx

SMTP_SINK = "/usr/sbin/smtp-sink"
DATA_DIR = os.path.join(fx.SOURCE_ROOT, "tests", "data")
CERT = os.path.join(DATA_DIR, "test-cert.pem")
KEY = os.path.join(DATA_DIR, "test-key.pem")
WAIT = 10.0

SENDER = "alice@example.org"

# A message that exercises dot-stuffing, 8-bit bytes and long lines.
CONTENT = (b"From: Alice <alice@example.org>\r\n"
           b"To: Bob <bob@example.net>\r\n"
           b"Subject: relay test\r\n"
           b"\r\n"
           b".leading dot\r\n"
           b"..two leading dots\r\n"
           b".\r\n"
           b" . \r\n"
           b"caf\xc3\xa9 \xff\xfe raw 8-bit\r\n"
           + b"x" * 990 + b"\r\n"
           b"last line\r\n")


def stuff(data):
    """Dot-stuffing as it must appear on the wire."""
    lines = data.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


def send_raw(port, rcpts, content=CONTENT, sender=SENDER):
    """One transaction over a raw socket: the exact content bytes (already
    ending with CRLF), dot-stuffed here. Returns the final reply."""
    with fx.RawClient(port) as c:
        assert c.cmd("EHLO client.example").code == 250
        r = c.cmd(f"MAIL FROM:<{sender}>")
        assert r.code == 250, r
        for rcpt in rcpts:
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, r
        r = c.cmd("DATA")
        assert r.code == 354, r
        c.send(stuff(content) + b".\r\n")
        reply = c.reply()
        c.cmd("QUIT")
        return reply


def wait_for(predicate, what, wait=WAIT):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def relay_daemon(testcase, port, protocol="smtp", extra="", server="",
                 options=(), timeout=10):
    config = ("[relay]\n"
              "host=127.0.0.1\n"
              f"port={port}\n"
              f"protocol={protocol}\n"
              f"timeout={timeout}\n"
              f"{extra}")
    d = fx.Vsmtpd(plugins=("relay",), config=config, server=server,
                  options=options)
    testcase.addCleanup(d.cleanup)
    d.start()
    return d


def relay_log(testcase, d, port):
    """The verdicts in the relay's log lines: the text after "relayed to
    127.0.0.1:PORT: " of each message relayed. The line is logged before
    the client is answered; waited for all the same."""
    pattern = re.compile(r"relay: \S+: message \S+ relayed to 127\.0\.0\.1:"
                         + str(port) + r": (.*)$")

    def lines():
        return [m.group(1) for m in map(pattern.search,
                                        d.stderr_text().splitlines()) if m]

    found = wait_for(lines, "the relay's log line")
    for line in found:
        testcase.assertNotIn("relayed as", line, d.stderr_text())
    return found


def stop_daemon(testcase, d):
    status = d.stop()
    testcase.assertEqual(status, 0, d.stderr_text())


# smtp-sink --------------------------------------------------------------

class SmtpSink:
    """Postfix's smtp-sink on a free loopback port, dumping each message."""

    def __init__(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-sink-")
        os.chmod(self.tmp, 0o777)     # it may run as nobody
        self.dump = os.path.join(self.tmp, "dump")
        os.mkdir(self.dump)
        os.chmod(self.dump, 0o777)
        self.args = list(args)
        self.proc = None
        self.port = None

    def start(self):
        for _ in range(5):
            port = fx.free_port()
            cmd = [SMTP_SINK]
            if os.geteuid() == 0:
                cmd += ["-u", "nobody"]
            cmd += self.args + ["-d", os.path.join(self.dump, "msg."),
                                f"127.0.0.1:{port}", "16"]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE,
                                         preexec_fn=fx._die_with_parent)
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    self.port = port
                    return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("smtp-sink did not start")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def messages(self):
        """The complete dumps. smtp-sink opens a dump file at MAIL and
        writes it at the end of the transaction: a transaction refused
        before the data leaves an empty file."""
        out = []
        for name in sorted(os.listdir(self.dump)):
            with open(os.path.join(self.dump, name), "rb") as f:
                data = f.read()
            if data.endswith(b"\n\n"):
                out.append(data)
        return out


def parse_sink_dump(data):
    """smtp-sink's dump: its own X- records and 3-line Received, then the
    message as LF-terminated lines, then an empty line. Returns (records,
    message) with the message's lines joined by CRLF again."""
    lines = data.split(b"\n")
    records = {}
    i = 0
    while not lines[i].startswith(b"Received:"):
        key, _, value = lines[i].partition(b": ")
        records.setdefault(key.decode(), []).append(value.decode())
        i += 1
    i += 3                              # smtp-sink's own Received header
    assert lines[-1] == b"" and lines[-2] == b"", data[-40:]
    return records, b"\r\n".join(lines[i:-2]) + b"\r\n"


@unittest.skipUnless(os.access(SMTP_SINK, os.X_OK),
                     "smtp-sink missing (Debian package postfix)")
class SmtpSinkTest(unittest.TestCase):

    def sink(self, *args):
        s = SmtpSink(*args)
        self.addCleanup(s.cleanup)
        return s.start()

    def check_relayed(self, sink, rcpts, proto):
        msgs = wait_for(sink.messages, "the message at smtp-sink")
        self.assertEqual(len(msgs), 1)
        records, message = parse_sink_dump(msgs[0])
        self.assertEqual(records["X-Client-Proto"], [proto])
        self.assertEqual(records["X-Rcpt-Args"], [f"<{r}>" for r in rcpts])
        mail_args = records["X-Mail-Args"][0].split()
        self.assertEqual(mail_args[0], f"<{SENDER}>")
        self.assertIn("BODY=8BITMIME", mail_args)
        header, body = fx.split_received(message)
        fx.check_received(self, header, helo="client.example",
                          rcpt=rcpts[0] if len(rcpts) == 1 else None)
        self.assertEqual(body, CONTENT)

    def test_smtp(self):
        sink = self.sink()
        d = relay_daemon(self, sink.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines, [b"250 2.0.0 Ok: relayed as Ok"])
        self.assertEqual(relay_log(self, d, sink.port), ["250 2.0.0 Ok"])
        self.check_relayed(sink, ["bob@example.net"], "ESMTP")
        stop_daemon(self, d)

    def test_lmtp_two_recipients(self):
        sink = self.sink("-L")
        d = relay_daemon(self, sink.port, protocol="lmtp")
        reply = send_raw(d.port, ["bob@example.net", "carol@example.net"])
        self.assertEqual(reply.lines, [b"250 2.0.0 Ok: relayed as Ok"])
        self.check_relayed(sink, ["bob@example.net", "carol@example.net"],
                           "LMTP")
        stop_daemon(self, d)

    def test_rcpt_rejected_5xx(self):
        sink = self.sink("-f", "RCPT", "-B", "550 5.1.1 Recipient unknown")
        d = relay_daemon(self, sink.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines,
                         [b"550 5.1.1 upstream: Recipient unknown"])
        self.assertEqual(sink.messages(), [])
        stop_daemon(self, d)

    def test_mail_rejected_4xx(self):
        sink = self.sink("-r", "MAIL")
        d = relay_daemon(self, sink.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines,
                         [b"450 4.3.0 upstream: Error: command failed"])
        stop_daemon(self, d)

    def test_end_of_data_rejected_5xx(self):
        sink = self.sink("-f", ".", "-B", "554 5.6.0 Content rejected")
        d = relay_daemon(self, sink.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines,
                         [b"554 5.6.0 upstream: Content rejected"])
        stop_daemon(self, d)

    def test_lmtp_end_of_data_4xx(self):
        sink = self.sink("-L", "-r", ".")
        d = relay_daemon(self, sink.port, protocol="lmtp")
        reply = send_raw(d.port, ["bob@example.net", "carol@example.net"])
        self.assertEqual(reply.lines,
                         [b"450 4.3.0 upstream: Error: command failed"])
        stop_daemon(self, d)

    def test_upstream_hangs_up_after_data(self):
        sink = self.sink("-q", ".")
        d = relay_daemon(self, sink.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.code, 451, reply)
        self.assertEqual(reply.esc, "4.4.2", reply)
        stop_daemon(self, d)


# A scripted upstream --------------------------------------------------

class ScriptedUpstream:
    """A small SMTP/LMTP server in a thread. It records every connection,
    command and the DATA bytes exactly as they came over the wire.

    ``rcpt``: address -> reply line (default "250 2.1.5 Ok");
    ``final``: SMTP: the reply line after the data; LMTP: address -> line;
    ``ehlo=False``: EHLO is an unknown command; ``helo``: HELO is answered
    (else it is an unknown command).

    ``stall``: a verb (b"RCPT") whose reply waits until ``release`` is set
    or the relay sends something more (or closes): then the reply is never
    sent and the next command is read. ``stalled`` is set when it begins.

    ``content_stall``: after 354, read that many bytes of content, set
    ``content_started``, wait for ``resume``, then read until the final
    dot or the end of the connection. ``raw_data``: (bytes after the 354,
    True if the connection ended without the final dot line).
    """

    def __init__(self, lmtp=False, extensions=("PIPELINING", "SIZE 10240000",
                                                "8BITMIME",
                                                "ENHANCEDSTATUSCODES"),
                 tls_context=None, rcpt=None, final=None, mail=None,
                 hangup=False, ehlo=True, helo=False, stall=None,
                 content_stall=None):
        self.lmtp = lmtp
        self.ehlo = ehlo
        self.helo = helo
        self.hangup = hangup
        self.extensions = list(extensions)
        self.tls_context = tls_context
        self.rcpt = rcpt or {}
        self.final = final
        self.mail = mail
        self.stall = stall
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.content_stall = content_stall
        self.content_started = threading.Event()
        self.resume = threading.Event()
        self.raw_data = []
        self.connections = 0
        self.commands = []          # (connection number, line)
        self.transactions = []      # dicts: mail, rcpts, wire, tls
        self.errors = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                n = self.connections
            threading.Thread(target=self._serve, args=(conn, n),
                             daemon=True).start()

    def _serve(self, conn, n):
        try:
            self._session(conn, n)
        except (OSError, EOFError, ssl.SSLError):
            pass
        except Exception as e:      # a bug here must fail the test
            self.errors.append(repr(e))
        finally:
            conn.close()

    def _session(self, conn, n):
        conn.settimeout(fx.IO_TIMEOUT)
        # Received bytes, and where the next line starts. Linear in the
        # size of the data: a large message (hundreds of kB) is read in
        # well under the relay's timeout even on a starved CPU.
        buf = bytearray()
        start = [0]
        state = {"sock": conn, "tls": False}

        def line():
            while True:
                end = buf.find(b"\r\n", start[0])
                if end >= 0:
                    l = bytes(buf[start[0]:end])
                    start[0] = end + 2
                    return l
                del buf[:start[0]]
                start[0] = 0
                chunk = state["sock"].recv(65536)
                if not chunk:
                    raise EOFError
                buf.extend(chunk)

        def send(text):
            state["sock"].sendall(text.encode() + b"\r\n")

        def stall():
            """Wait for release or for more from the relay (or its
            closing). Returns True when released."""
            self.stalled.set()
            deadline = time.monotonic() + fx.IO_TIMEOUT * 6
            while not self.release.is_set() and time.monotonic() < deadline:
                if buf.find(b"\r\n", start[0]) >= 0:
                    return False
                r, _, _ = select.select([state["sock"]], [], [], 0.05)
                if r:
                    return False
            return True

        def raw_content():
            """The content after 354 as it comes, stalling after the first
            content_stall bytes."""
            data = bytearray(buf[start[0]:])
            del buf[:]
            start[0] = 0
            ended = False
            while not ended:
                if len(data) >= self.content_stall \
                        and not self.content_started.is_set():
                    self.content_started.set()
                    self.resume.wait(fx.IO_TIMEOUT * 6)
                if data.endswith(b"\r\n.\r\n"):
                    break
                try:
                    chunk = state["sock"].recv(1 << 20)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    data.extend(chunk)
                else:
                    ended = True
            with self.lock:
                self.raw_data.append((bytes(data), ended))
            if ended:
                raise EOFError

        send("220 upstream.test ESMTP scripted")
        mail = None
        rcpts = []
        while True:
            cmd = line()
            with self.lock:
                self.commands.append((n, cmd.decode("latin-1")))
            verb = cmd.split(b" ", 1)[0].upper()
            if self.stall is not None and verb == self.stall and not stall():
                continue
            if verb == b"EHLO" and not self.ehlo:
                send("502 5.5.2 unknown")
            elif verb == b"HELO" and self.helo:
                send("250 upstream.test")
            elif verb in (b"EHLO", b"LHLO"):
                if (verb == b"LHLO") != self.lmtp:
                    send("500 5.5.1 wrong greeting")
                    continue
                ext = list(self.extensions)
                if self.tls_context is not None and not state["tls"]:
                    ext.append("STARTTLS")
                lines = ["upstream.test"] + ext
                send("\r\n".join([f"250-{l}" for l in lines[:-1]]
                                   + [f"250 {lines[-1]}"]))
            elif verb == b"STARTTLS" and self.tls_context is not None:
                send("220 2.0.0 Ready to start TLS")
                state["sock"] = self.tls_context.wrap_socket(
                    conn, server_side=True)
                state["tls"] = True
                del buf[:]
                start[0] = 0
            elif verb == b"RSET":
                mail, rcpts = None, []
                send("250 2.0.0 Ok")
            elif verb == b"MAIL":
                if self.mail:
                    send(self.mail)
                    continue
                mail, rcpts = cmd.decode("latin-1"), []
                send("250 2.1.0 Ok")
            elif verb == b"RCPT":
                addr = cmd.decode("latin-1").split(":", 1)[1].strip("<> ")
                reply = self.rcpt.get(addr, "250 2.1.5 Ok")
                if reply.startswith("2"):
                    rcpts.append(addr)
                send(reply)
            elif verb == b"DATA":
                if not rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go ahead")
                if self.content_stall is not None:
                    raw_content()
                    with self.lock:
                        self.transactions.append({"mail": mail,
                                                  "rcpts": rcpts,
                                                  "tls": state["tls"],
                                                  "connection": n})
                    send(self.final or "250 2.0.0 Ok: queued as UP1")
                    mail, rcpts = None, []
                    continue
                parts = []
                while True:
                    l = line()
                    if l == b".":
                        break
                    parts += (l, b"\r\n")
                wire = b"".join(parts)
                with self.lock:
                    self.transactions.append({"mail": mail, "rcpts": rcpts,
                                              "wire": wire,
                                              "tls": state["tls"],
                                              "connection": n})
                if self.lmtp:
                    final = self.final or {}
                    for r in rcpts:
                        send(final.get(r, f"250 2.0.0 <{r}> delivered"))
                else:
                    send(self.final or "250 2.0.0 Ok: queued as UP1")
                mail, rcpts = None, []
                if self.hangup:
                    return
            elif verb == b"QUIT":
                send("221 2.0.0 Bye")
                return
            elif verb == b"NOOP":
                send("250 2.0.0 Ok")
            else:
                send("502 5.5.2 unknown")

    def verbs(self):
        with self.lock:
            return [c.split(" ", 1)[0].upper() for _, c in self.commands]


class ScriptedTest(unittest.TestCase):

    def upstream(self, **kw):
        u = ScriptedUpstream(**kw)
        self.addCleanup(u.close)
        self.addCleanup(lambda: self.assertEqual(u.errors, []))
        return u

    def test_byte_exact_with_size_and_body(self):
        up = self.upstream()
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines,
                         [b"250 2.0.0 Ok: relayed as Ok: queued as UP1"])
        # the upstream's reply, once, as it came
        self.assertEqual(relay_log(self, d, up.port),
                         ["250 2.0.0 Ok: queued as UP1"])
        self.assertEqual(len(up.transactions), 1)
        t = up.transactions[0]
        # on the wire: stuffed, CRLF-terminated, the Received header first
        header, body = fx.split_received(t["wire"])
        fx.check_received(self, header, rcpt="bob@example.net",
                          helo="client.example")
        self.assertEqual(body, stuff(CONTENT))
        size = len(header) + len(CONTENT)
        self.assertEqual(t["mail"],
                         f"MAIL FROM:<{SENDER}> SIZE={size} BODY=8BITMIME")
        self.assertEqual(up.errors, [])
        stop_daemon(self, d)

    def test_no_extensions_no_parameters(self):
        # and, as ENHANCEDSTATUSCODES is not offered, no enhanced code
        up = self.upstream(extensions=(), final="250 Ok: queued as UP2")
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["bob@example.net"], sender="")
        self.assertEqual(reply.code, 250, reply)
        self.assertEqual(up.transactions[0]["mail"], "MAIL FROM:<>")
        self.assertEqual(reply.lines,
                         [b"250 2.0.0 Ok: relayed as Ok: queued as UP2"])
        # none made up in the log line
        self.assertEqual(relay_log(self, d, up.port),
                         ["250 Ok: queued as UP2"])
        stop_daemon(self, d)

    def test_helo_fallback(self):
        up = self.upstream(ehlo=False, helo=True)
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.code, 250, reply)
        self.assertEqual(up.verbs()[:3], ["EHLO", "HELO", "MAIL"])
        # no extensions after HELO: no parameters
        self.assertEqual(up.transactions[0]["mail"], f"MAIL FROM:<{SENDER}>")
        stop_daemon(self, d)

    def test_helo_refused(self):
        up = self.upstream(ehlo=False)
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines, [
            b"451 4.4.2 Error: upstream refused HELO: 502 unknown"])
        self.assertNotIn("MAIL", up.verbs())
        stop_daemon(self, d)

    def test_large_spooled_message(self):
        up = self.upstream()
        d = relay_daemon(self, up.port, server="spool-threshold=4096\n")
        lines = [b"Subject: big\r\n", b"\r\n"]
        for i in range(20000):
            lines.append(b"." * (i % 3) + b"line %d \xe2\x82\xac\r\n" % i)
        content = b"".join(lines)
        reply = send_raw(d.port, ["bob@example.net"], content=content)
        self.assertEqual(reply.code, 250, reply)
        header, body = fx.split_received(up.transactions[0]["wire"])
        self.assertEqual(body, stuff(content))
        stop_daemon(self, d)

    def test_some_recipients_rejected(self):
        up = self.upstream(rcpt={"nobody@example.net":
                                 "550 5.1.1 <nobody@example.net>: unknown"})
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["bob@example.net", "nobody@example.net"])
        self.assertEqual(reply.lines, [
            b"451 4.1.1 upstream: <nobody@example.net>: unknown"])
        # The connection is reset for the next message. The relay answers
        # the client right after writing that RSET, without waiting for the
        # upstream's reply, so the client's 451 can come before the
        # upstream's thread here has read the RSET: wait for it. Once it is
        # there, every command the relay sent before it has been read too.
        verbs = wait_for(lambda: "RSET" in up.verbs() and up.verbs(),
                         "RSET at the upstream")
        self.assertEqual(verbs[:verbs.index("RSET") + 1],
                         ["EHLO", "MAIL", "RCPT", "RCPT", "RSET"])
        # nothing went out
        self.assertEqual(up.transactions, [])
        stop_daemon(self, d)

    def test_all_recipients_rejected(self):
        up = self.upstream(rcpt={
            "a@example.net": "550 5.1.1 <a@example.net>: unknown",
            "b@example.net": "553 5.1.3 <b@example.net>: bad"})
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["a@example.net", "b@example.net"])
        self.assertEqual(reply.lines,
                         [b"550 5.1.1 upstream: <a@example.net>: unknown"])
        self.assertEqual(up.transactions, [])
        stop_daemon(self, d)

    def test_rcpt_4xx_and_5xx(self):
        up = self.upstream(rcpt={
            "a@example.net": "550 5.1.1 unknown",
            "b@example.net": "452 4.2.2 mailbox full"})
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["a@example.net", "b@example.net"])
        self.assertEqual(reply.lines,
                         [b"452 4.2.2 upstream: mailbox full"])
        stop_daemon(self, d)

    def test_421_becomes_451(self):
        up = self.upstream(mail="421 4.3.2 shutting down")
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines,
                         [b"451 4.3.2 upstream: shutting down"])
        stop_daemon(self, d)

    def test_reply_without_enhanced_code(self):
        up = self.upstream(final="554 no thanks")
        d = relay_daemon(self, up.port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines, [b"554 5.0.0 upstream: no thanks"])
        stop_daemon(self, d)

    def test_lmtp_per_recipient(self):
        up = self.upstream(lmtp=True)
        d = relay_daemon(self, up.port, protocol="lmtp")
        reply = send_raw(d.port, ["a@example.net", "b@example.net"])
        self.assertEqual(reply.lines, [
            b"250 2.0.0 Ok: relayed as <a@example.net> delivered"])
        self.assertEqual(relay_log(self, d, up.port), [
            "250 2.0.0 <a@example.net> delivered (LMTP, 2 recipients)"])
        t = up.transactions[0]
        self.assertEqual(t["rcpts"], ["a@example.net", "b@example.net"])
        header, body = fx.split_received(t["wire"])
        self.assertEqual(body, stuff(CONTENT))
        stop_daemon(self, d)

    def test_lmtp_one_recipient_fails(self):
        up = self.upstream(lmtp=True, final={
            "b@example.net": "552 5.2.2 <b@example.net> over quota"})
        d = relay_daemon(self, up.port, protocol="lmtp")
        reply = send_raw(d.port, ["a@example.net", "b@example.net"])
        # a@ has a copy; b@ must not be lost: the client retries both
        self.assertEqual(reply.lines, [
            b"451 4.2.2 upstream: <b@example.net> over quota"])
        stop_daemon(self, d)

    def test_lmtp_all_recipients_fail(self):
        up = self.upstream(lmtp=True, final={
            "a@example.net": "550 5.1.1 <a@example.net> gone",
            "b@example.net": "552 5.2.2 <b@example.net> over quota"})
        d = relay_daemon(self, up.port, protocol="lmtp")
        reply = send_raw(d.port, ["a@example.net", "b@example.net"])
        self.assertEqual(reply.lines, [
            b"550 5.1.1 upstream: <a@example.net> gone"])
        stop_daemon(self, d)

    def test_connection_reuse(self):
        up = self.upstream()
        d = relay_daemon(self, up.port, extra="max-idle=1\n")
        for rcpt in ("a@example.net", "b@example.net", "c@example.net"):
            reply = send_raw(d.port, [rcpt])
            self.assertEqual(reply.code, 250, reply)
        self.assertEqual(up.connections, 1)
        self.assertEqual([t["rcpts"] for t in up.transactions],
                         [["a@example.net"], ["b@example.net"],
                          ["c@example.net"]])
        verbs = up.verbs()
        self.assertEqual(verbs.count("EHLO"), 1, verbs)
        self.assertEqual(verbs.count("RSET"), 2, verbs)
        stop_daemon(self, d)

    def test_no_reuse_with_max_idle_0(self):
        up = self.upstream()
        d = relay_daemon(self, up.port, extra="max-idle=0\n")
        for rcpt in ("a@example.net", "b@example.net"):
            self.assertEqual(send_raw(d.port, [rcpt]).code, 250)
        self.assertEqual(up.connections, 2)
        stop_daemon(self, d)

    def test_upstream_closed_idle_connection(self):
        # the upstream hangs up after each message: the next one still
        # goes through, on a new connection
        up = self.upstream(hangup=True)
        d = relay_daemon(self, up.port)
        for rcpt in ("a@example.net", "b@example.net"):
            reply = send_raw(d.port, [rcpt])
            self.assertEqual(reply.code, 250, reply)
        self.assertEqual(up.connections, 2)
        self.assertEqual(len(up.transactions), 2)
        stop_daemon(self, d)

    def test_starttls_required_not_offered(self):
        up = self.upstream()
        d = relay_daemon(self, up.port, extra="starttls=required\n")
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.code, 451, reply)
        self.assertEqual(reply.esc, "4.4.2", reply)
        self.assertNotIn("MAIL", up.verbs())
        stop_daemon(self, d)

    def tls_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        return ctx

    def test_starttls_required(self):
        up = self.upstream(tls_context=self.tls_context())
        d = relay_daemon(self, up.port,
                         extra="starttls=required\ntls-verify=false\n")
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.code, 250, reply)
        t = up.transactions[0]
        self.assertTrue(t["tls"])
        header, body = fx.split_received(t["wire"])
        self.assertEqual(body, stuff(CONTENT))
        # EHLO again after TLS (RFC 3207)
        self.assertEqual(up.verbs()[:3], ["EHLO", "STARTTLS", "EHLO"])
        stop_daemon(self, d)

    def test_starttls_opportunistic(self):
        up = self.upstream(tls_context=self.tls_context())
        d = relay_daemon(self, up.port, extra="tls-verify=false\n")
        self.assertEqual(send_raw(d.port, ["bob@example.net"]).code, 250)
        self.assertTrue(up.transactions[0]["tls"])
        stop_daemon(self, d)

    def test_starttls_no(self):
        up = self.upstream(tls_context=self.tls_context())
        d = relay_daemon(self, up.port, extra="starttls=no\n")
        self.assertEqual(send_raw(d.port, ["bob@example.net"]).code, 250)
        self.assertFalse(up.transactions[0]["tls"])
        self.assertNotIn("STARTTLS", up.verbs())
        stop_daemon(self, d)

    def test_tls_verify_rejects_self_signed(self):
        up = self.upstream(tls_context=self.tls_context())
        d = relay_daemon(self, up.port, extra="starttls=required\n")
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.code, 451, reply)
        self.assertEqual(reply.esc, "4.4.2", reply)
        self.assertEqual(up.transactions, [])
        stop_daemon(self, d)


class CancelTest(unittest.TestCase):
    """The relay follows the pending reply's cancellable: when the client
    leaves (or its decision deadline passes) before the upstream answered,
    the relay stops: never DATA nor the final dot after the cancellation."""

    upstream = ScriptedTest.upstream
    LONG = 120.0      # generous waits: a starved, shared machine

    def daemon(self, up, server=""):
        # the relay's per-step timeout is far away: only the cancellation
        # can stop it here
        return relay_daemon(self, up.port, timeout=600,
                            server="max-message-size=100000000\n" + server)

    def client_sends(self, d, content=CONTENT):
        """A client that sends a whole transaction up to the final dot
        and does not read the reply yet."""
        c = fx.RawClient(d.port, timeout=self.LONG)
        self.addCleanup(c.close)
        self.assertEqual(c.cmd("EHLO client.example").code, 250)
        self.assertEqual(c.cmd(f"MAIL FROM:<{SENDER}>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.net>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(stuff(content) + b".\r\n")
        return c

    def log_line(self, d, pattern):
        regex = re.compile(r"relay: \S+: message \S+: cancelled .*"
                           + pattern + r".*$", re.M)
        return wait_for(lambda: regex.search(d.stderr_text()),
                        f"the relay's cancellation line ({pattern})",
                        self.LONG).group(0)

    def check_stopped_before_data(self, up):
        """After RCPT the upstream got RSET or QUIT, never DATA."""
        verbs = wait_for(lambda: ({"RSET", "QUIT"} & set(up.verbs()[3:]))
                         and up.verbs(), "RSET or QUIT at the upstream",
                         self.LONG)
        self.assertEqual(verbs[:3], ["EHLO", "MAIL", "RCPT"], verbs)
        self.assertIn(verbs[3], ("RSET", "QUIT"), verbs)
        self.assertNotIn("DATA", verbs)
        self.assertEqual(up.transactions, [])

    def test_client_leaves_while_rcpt_pending(self):
        up = self.upstream(stall=b"RCPT")
        d = self.daemon(up, server="decision-timeout=600\n")
        c = self.client_sends(d)
        wait_for(up.stalled.is_set, "RCPT at the upstream", self.LONG)
        c.close()
        line = self.log_line(d, r"at the upstream's RCPT: ")
        self.assertIn("nothing relayed", line)
        self.check_stopped_before_data(up)
        up.release.set()
        self.assertIn("lost connection from [127.0.0.1] while a "
                      "\"message-received\" decision was pending",
                      d.stderr_text())
        self.assertNotRegex(d.stderr_text(), r"relayed to|not relayed")
        stop_daemon(self, d)

    def test_decision_deadline_while_rcpt_pending(self):
        up = self.upstream(stall=b"RCPT")
        d = self.daemon(up, server="decision-timeout=5\n")
        c = self.client_sends(d)
        reply = c.reply()
        self.assertEqual(reply.code, 451, reply)
        self.assertEqual(reply.esc, "4.3.0", reply)
        self.log_line(d, r"at the upstream's RCPT: ")
        self.check_stopped_before_data(up)
        up.release.set()
        # the session goes on
        self.assertEqual(c.cmd("NOOP").code, 250)
        c.cmd("QUIT")
        stop_daemon(self, d)

    def test_client_leaves_while_content_is_sent(self):
        # more than the loopback socket buffers hold, so the relay is
        # still writing content while the upstream does not read
        line = b"0123456789abcdefghijklmnopqrstuvwxyz.0123456789abcdefghijklmnopqrstuvwxyz\r\n"
        content = b"Subject: big\r\n\r\n" + line * (32 * 1024 * 1024 // len(line))
        up = self.upstream(content_stall=256 * 1024)
        d = self.daemon(up, server="decision-timeout=600\n")
        c = self.client_sends(d, content)
        wait_for(up.content_started.is_set, "the content at the upstream",
                 self.LONG)
        c.close()
        self.log_line(d, r"while its content was being sent: upstream "
                         r"connection closed without the final dot")
        up.resume.set()
        data, ended = wait_for(lambda: up.raw_data and up.raw_data[0],
                               "the end of the upstream connection",
                               self.LONG)
        self.assertTrue(ended, "the relay did not close the connection")
        self.assertLess(len(data), len(stuff(content)))
        self.assertFalse(data.endswith(b"\r\n.\r\n"), data[-100:])
        self.assertNotIn(b"\r\n.\r\n", data)
        self.assertEqual(up.transactions, [])
        self.assertNotIn("QUIT", up.verbs())
        stop_daemon(self, d)


class UnreachableTest(unittest.TestCase):

    def test_closed_port(self):
        port = fx.free_port()
        d = relay_daemon(self, port)
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.code, 451, reply)
        self.assertEqual(reply.esc, "4.4.1", reply)
        # the client can go on in the same session
        with fx.RawClient(d.port) as c:
            self.assertEqual(c.cmd("EHLO x").code, 250)
            self.assertEqual(c.cmd("NOOP").code, 250)
        stop_daemon(self, d)

    def test_silent_upstream_times_out(self):
        # accepts the connection (backlog) but never greets
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(4)
            d = relay_daemon(self, s.getsockname()[1], timeout=1)
            reply = send_raw(d.port, ["bob@example.net"])
            self.assertEqual(reply.code, 451, reply)
            self.assertEqual(reply.esc, "4.4.1", reply)
            self.assertIn(b"timed out", reply.lines[-1])
            stop_daemon(self, d)

    def test_missing_host(self):
        d = fx.Vsmtpd(plugins=("relay",), config="[relay]\nport=25\n")
        self.addCleanup(d.cleanup)
        d.start()
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.lines[-1][:9], b"451 4.3.5")
        stop_daemon(self, d)


# A second vsmtpd as the upstream, with STARTTLS -------------------------

def vsmtpd_has_tls_options():
    try:
        r = subprocess.run([fx.VSMTPD, "--help"], capture_output=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"--tls-cert" in r.stdout and b"--tls-key" in r.stdout


class VsmtpdUpstreamTest(unittest.TestCase):

    def test_starttls_to_vsmtpd(self):
        if not vsmtpd_has_tls_options():
            self.skipTest("vsmtpd has no --tls-cert/--tls-key options yet: "
                          "cannot give the upstream vsmtpd a certificate")
        upstream = fx.Vsmtpd(args=["--tls-cert", CERT, "--tls-key", KEY])
        self.addCleanup(upstream.cleanup)
        upstream.start()
        d = relay_daemon(self, upstream.port,
                         extra="starttls=required\ntls-verify=false\n"
                               "helo-name=relay.example\n")
        reply = send_raw(d.port, ["bob@example.net"])
        self.assertEqual(reply.code, 250, reply)
        self.assertTrue(reply.lines[0].startswith(
            b"250 2.0.0 Ok: relayed as Ok: queued as "), reply)
        files = wait_for(upstream.delivered, "the message at the upstream")
        self.assertEqual(len(files), 1)
        # the upstream's Received, then ours, then the content, exact
        theirs, rest = fx.split_received(files[0], return_path=SENDER)
        m = fx.RECEIVED_RE.match(
            theirs.decode().replace("\r\n\t", "\t").replace("\r\n ", " "))
        self.assertIsNotNone(m, theirs)
        fx.check_received(self, theirs, helo="relay.example",
                          rcpt="bob@example.net", protocol=m.group("with"))
        ours, body = fx.split_received(rest)
        fx.check_received(self, ours, helo="client.example",
                          rcpt="bob@example.net")
        self.assertEqual(body, CONTENT)
        stop_daemon(self, d)
        self.assertEqual(upstream.stop(), 0, upstream.stderr_text())


if __name__ == "__main__":
    fx.main()

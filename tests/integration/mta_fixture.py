"""Real mail transfer agents as vsmtpd's clients, for the interop tests
(test_exim.py, test_postfix_client.py).

- ``WireRecorder``: a loopback TCP relay put between the MTA and vsmtpd. It
  passes the bytes on unchanged in both directions (half-closes included)
  and records them, so a test sees exactly what the MTA sent (``BDAT`` or
  ``DATA``, the MAIL and RCPT parameters) and what vsmtpd answered.
- ``client_messages``: the commands and message contents in what a client
  sent: ``DATA`` contents dot-unstuffed, ``BDAT`` chunks joined.
- ``wait_for``: polls a condition with a generous overall deadline (the
  tests assert on what happened, never on how long it took).
"""

import os
import re
import select
import socket
import threading
import time

import vsmtpd_fixture as fx

# The overall deadline for an MTA to deliver, to stop, ...: generous, the
# machine is shared; the tests never assert on durations.
DEADLINE = 180.0


def wait_for(predicate, what, deadline=DEADLINE):
    """The first true value of ``predicate()``, polled until ``deadline``
    seconds have passed (then AssertionError naming ``what``)."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what} after {deadline} s")
        time.sleep(0.1)


class WireRecorder:
    """Listens on a free loopback port and relays each connection to
    127.0.0.1:``target_port``, recording ``(client bytes, server bytes)``
    per connection in ``sessions`` (appended when both sides are done)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.sessions = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.threads = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._relay, args=(client,), daemon=True)
            self.threads.append(t)
            t.start()

    def _relay(self, client):
        got = {client: bytearray()}
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), 30)
        except OSError:
            client.close()
            return
        got[upstream] = bytearray()
        peer = {client: upstream, upstream: client}
        open_ = [client, upstream]
        try:
            while open_:
                readable, _, _ = select.select(open_, [], [], 1.0)
                if self.stopping and not readable:
                    break
                for s in readable:
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        got[s] += data
                        try:
                            peer[s].sendall(data)
                        except OSError:
                            pass
                    else:
                        # pass the half-close on, keep the other way open
                        open_.remove(s)
                        try:
                            peer[s].shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
        finally:
            client.close()
            upstream.close()
            with self.lock:
                self.sessions.append((bytes(got[client]), bytes(got[upstream])))

    def idle(self):
        """Whether every connection so far has ended (and is recorded)."""
        return not any(t.is_alive() for t in self.threads)

    def finished_client_bytes(self):
        """What the clients sent, once at least one connection was made
        and every connection has ended (else None)."""
        return self.client_bytes() if self.threads and self.idle() else None

    def clear(self):
        with self.lock:
            self.sessions.clear()
        self.threads = [t for t in self.threads if t.is_alive()]

    def client_bytes(self):
        """What the clients sent, over all finished connections."""
        with self.lock:
            return [c for c, _ in self.sessions]

    def server_bytes(self):
        with self.lock:
            return [s for _, s in self.sessions]

    def close(self):
        self.stopping = True
        try:
            self.listener.close()
        except OSError:
            pass
        for t in self.threads:
            t.join(10)


class RecorderMixin:
    """For a vsmtpd_fixture.VsmtpdTestCase: a WireRecorder in front of the
    class's vsmtpd (``self.recorder``), emptied before each test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.recorder = WireRecorder(cls.daemon.port)

    @classmethod
    def tearDownClass(cls):
        cls.recorder.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.recorder.clear()


class WireMessage:
    """One transaction as a client sent it."""

    def __init__(self):
        self.commands = []       # MAIL, RCPT, DATA, BDAT lines (bytes, no CRLF)
        self.content = b""       # the message, dot-unstuffed or chunks joined
        self.via = None          # b"DATA" or b"BDAT"

    def mail(self):
        return next(c for c in self.commands if c.upper().startswith(b"MAIL FROM:"))

    def rcpts(self):
        return [c for c in self.commands if c.upper().startswith(b"RCPT TO:")]


BDAT_RE = re.compile(rb"^BDAT (\d+)( LAST)?$", re.I)


def client_messages(stream):
    """The transactions in ``stream`` (the bytes a client sent on one
    connection): a list of ``WireMessage``, one per MAIL FROM that got as
    far as message content. Assumes the server accepted the commands (the
    client only sends content after 354, or pipelines BDAT)."""
    messages = []
    current = None
    pos = 0
    while pos < len(stream):
        end = stream.find(fx.CRLF, pos)
        if end < 0:
            break
        line = stream[pos:end]
        pos = end + 2
        upper = line.upper()
        if upper.startswith(b"MAIL FROM:"):
            current = WireMessage()
            messages.append(current)
            current.commands.append(line)
        elif upper.startswith(b"RCPT TO:") and current is not None:
            current.commands.append(line)
        elif upper == b"DATA" and current is not None:
            current.commands.append(line)
            current.via = b"DATA"
            stop = stream.find(b"\r\n.\r\n", pos - 2)
            if stop < 0:
                raise AssertionError(f"DATA without its end: {stream[pos:pos + 200]!r}")
            raw = stream[pos:stop + 2]
            current.content = b"\r\n".join(
                l[1:] if l.startswith(b".") else l for l in raw.split(b"\r\n"))
            pos = stop + 5
        elif BDAT_RE.match(line) and current is not None:
            m = BDAT_RE.match(line)
            current.commands.append(line)
            current.via = b"BDAT"
            size = int(m.group(1))
            current.content += stream[pos:pos + size]
            pos += size
    return [m for m in messages if m.via is not None]


def strip_header(data, name):
    """Split ``data`` after its first header field, which must be ``name``
    (folded lines included): returns (that field with its CRLF, the rest)."""
    prefix = name.encode() + b":"
    if not data.startswith(prefix):
        raise AssertionError(f"expected a {name} header first: {data[:200]!r}")
    pos = 0
    while True:
        end = data.find(fx.CRLF, pos)
        if end < 0:
            raise AssertionError(f"unterminated header: {data[:200]!r}")
        pos = end + 2
        if data[pos:pos + 1] not in (b" ", b"\t"):
            return data[:pos], data[pos:]


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(root, n), uid, gid)

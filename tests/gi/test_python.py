#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvsmtp from Python through GObject Introspection.

Each test runs a Vsmtp.Server in this process, on the main thread's GLib
main loop, with handlers written in Python, and drives it with smtplib from
a second thread. The assertions are on the replies smtplib got and on the
bytes the handlers stored.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import os
import smtplib
import socket
import sys
import threading
import unittest

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, GLib, GObject, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)

HOSTNAME = "mx.gi-test.example"
SENDER = "alice@sender.example"
RCPT = "bob@rcpt.example"
GUARD_SECONDS = 30

MESSAGE = (b"From: <alice@sender.example>\r\n"
           b"To: <bob@rcpt.example>\r\n"
           b"Subject: from Python\r\n"
           b"\r\n"
           b"line one\r\n"
           b".leading dot, stuffed by smtplib\r\n"
           b"last line\r\n")


class ServerTestCase(unittest.TestCase):
    """A fresh server on an ephemeral loopback port for every test."""

    def setUp(self):
        self.loop = GLib.MainLoop()
        self.server = Vsmtp.Server(hostname=HOSTNAME)
        any_port = Gio.InetSocketAddress.new_from_string("127.0.0.1", 0)
        ok, self.address = self.server.listen(any_port)
        self.assertTrue(ok)
        self.port = self.address.get_port()
        self.handler_errors = []
        self.sessions = []
        self.server.connect("new-session", self._on_new_session)

    def tearDown(self):
        self.server.stop_listening()
        self.server = None

    # Handlers are connected per test through self.handlers: signal -> fn.
    handlers = {}

    def _on_new_session(self, server, session):
        self.sessions.append(session)
        for name, fn in self.handlers.items():
            session.connect(name, self._guarded(fn))

    def _guarded(self, fn):
        """PyGObject prints and swallows exceptions raised in a signal
        handler; keep them so the test fails on them."""
        def wrapper(*args):
            try:
                return fn(self, *args)
            except Exception as e:  # noqa: BLE001
                self.handler_errors.append(e)
                raise
        return wrapper

    def run_client(self, client):
        """Run ``client()`` in a thread while the main loop serves; return
        what it returned, re-raising what it raised."""
        box = {}

        def worker():
            try:
                box["result"] = client()
            except BaseException as e:  # noqa: BLE001
                box["error"] = e
            finally:
                GLib.idle_add(self.loop.quit)

        def guard():
            box["guard"] = True
            box.setdefault("error", AssertionError("client did not finish"))
            self.loop.quit()
            return GLib.SOURCE_REMOVE

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        guard_id = GLib.timeout_add_seconds(GUARD_SECONDS, guard)
        self.loop.run()
        if "guard" not in box:
            GLib.source_remove(guard_id)
        thread.join(GUARD_SECONDS)
        if self.handler_errors:
            raise self.handler_errors[0]
        if "error" in box:
            raise box["error"]
        return box["result"]

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.port,
                            local_hostname="client.gi-test.example",
                            timeout=GUARD_SECONDS)


def store(test, message):
    """A message-received handler body: keep the bytes, take responsibility."""
    data = message.dup_bytes().get_data()
    test.stored.append(data)
    test.ids.append(message.get_id())
    return Vsmtp.Reply.new(250, "2.0.0", "Ok: stored " + message.get_id())


def read_all(stream, size):
    """All a Gio.InputStream gives, read @size bytes at a time; closes it."""
    chunks = []
    while True:
        chunk = stream.read_bytes(size, None).get_data()
        if not chunk:
            break
        chunks.append(chunk)
    stream.close()
    return b"".join(chunks)


class AcceptTest(ServerTestCase):

    def on_mail_from(self, session, sender, parameters):
        self.mail_params.append((sender.to_string(), dict(parameters)))
        return Vsmtp.Reply.new_continue()

    def on_message(self, session, message):
        envelope = message.get_envelope()
        self.envelopes.append(
            (envelope.get_sender().to_string(),
             [a.to_string() for a in envelope.dup_recipients()],
             envelope.get_recipient_parameters(0)))
        self.streamed.append(read_all(message.open_stream(), 7))
        self.sizes.append(message.get_size())
        return store(self, message)

    handlers = {"mail-from": on_mail_from, "message-received": on_message}

    def setUp(self):
        super().setUp()
        self.stored, self.ids, self.streamed, self.sizes = [], [], [], []
        self.mail_params, self.envelopes = [], []

    def test_accept_and_store(self):
        def client():
            with self.smtp() as s:
                s.ehlo()
                r1 = s.mail(SENDER, ["SIZE=%d" % len(MESSAGE), "BODY=8BITMIME"])
                r2 = s.rcpt(RCPT)
                r3 = s.data(MESSAGE)
                return r1, r2, r3

        r1, r2, r3 = self.run_client(client)
        self.assertEqual(r1, (250, b"2.1.0 Ok"))
        self.assertEqual(r2, (250, b"2.1.5 Ok"))
        self.assertEqual(len(self.stored), 1)
        self.assertEqual(r3, (250, b"2.0.0 Ok: stored " + self.ids[0].encode()))
        # The handler got the MAIL parameters as a dict, keywords upper-cased.
        self.assertEqual(self.mail_params, [
            (SENDER, {"SIZE": str(len(MESSAGE)), "BODY": "8BITMIME"})])
        # Envelope: sender, recipients (a GPtrArray of boxed addresses) and
        # the recipient's (empty) parameters.
        self.assertEqual(self.envelopes, [(SENDER, [RCPT], {})])
        data = self.stored[0]
        # dup_bytes and open_stream give the same bytes: the Received
        # header the server adds, then the message as sent, unstuffed.
        self.assertEqual(self.streamed[0], data)
        self.assertEqual(self.sizes[0], len(data))
        self.assertTrue(data.startswith(b"Received: from client.gi-test.example"),
                        data[:80])
        self.assertIn(b"by " + HOSTNAME.encode(), data)
        header_end = data.index(b"\r\nFrom: ") + 2
        self.assertEqual(data[header_end:], MESSAGE)

    def test_bytes_of_a_spooled_message(self):
        self.server.props.spool_threshold = 1024
        body = b"".join(b"line %05d of a spooled message\r\n" % i
                        for i in range(400))
        msg = b"Subject: spooled\r\n\r\n" + body

        def client():
            with self.smtp() as s:
                return s.sendmail(SENDER, [RCPT], msg)

        self.assertEqual(self.run_client(client), {})
        self.assertEqual(len(self.stored), 1)
        self.assertTrue(self.stored[0].endswith(b"\r\n\r\n" + body))
        self.assertEqual(self.streamed[0], self.stored[0])


class EditTest(ServerTestCase):
    """A message-received handler that changes the message from Python:
    header fields (libmilter semantics) and the body."""

    def on_message(self, session, message):
        self.before.append([(message.dup_header_name(i), message.dup_header_value(i))
                            for i in range(message.get_n_headers())])
        message.add_header("X-Scanned", "by Python")
        message.insert_header(1, "X-Inserted", "folded\r\n\tvalue")
        message.change_header("subject", 1, "[tagged] from Python")
        message.change_header("To", 1, None)
        self.deleted.append(message.delete_header("X-Not-There", 1))
        with self.assertRaises(GLib.Error) as cm:
            message.add_header("Bad Name", "x")
        self.refused.append((cm.exception.domain, cm.exception.code))
        with self.assertRaises(GLib.Error) as cm:
            message.add_header("X-Injected", "a\r\nBcc: eve@evil.example")
        self.refused.append((cm.exception.domain, cm.exception.code))
        if self.new_body is not None:
            stream = Gio.MemoryInputStream.new_from_bytes(GLib.Bytes.new(self.new_body))
            message.replace_body_from_stream(stream, None)
        else:
            message.replace_body_from_bytes(GLib.Bytes.new(b"replaced\nbody"))
        self.spooled.append(message.is_spooled())
        self.streamed.append(read_all(message.open_stream(), 65536))
        self.sizes.append(message.get_size())
        self.subjects.append(message.dup_header("Subject"))
        return store(self, message)

    handlers = {"message-received": on_message}

    def setUp(self):
        super().setUp()
        self.stored, self.ids, self.streamed, self.sizes = [], [], [], []
        self.before, self.deleted, self.refused = [], [], []
        self.spooled, self.subjects = [], []
        self.new_body = None

    def send(self):
        def client():
            with self.smtp() as s:
                return s.sendmail(SENDER, [RCPT], MESSAGE)

        self.assertEqual(self.run_client(client), {})
        self.assertEqual(len(self.stored), 1)
        data = self.stored[0]
        self.assertEqual(self.streamed[0], data)
        self.assertEqual(self.sizes[0], len(data))
        self.assertEqual(self.deleted, [False])
        self.assertEqual(self.refused, [("vsmtp-error-quark", Vsmtp.Error.SYNTAX)] * 2)
        self.assertEqual(self.subjects, ["[tagged] from Python"])
        # The handler saw the Received: field first, then the client's.
        names = [name for name, value in self.before[0]]
        self.assertEqual(names, ["Received", "From", "To", "Subject"])
        self.assertEqual(self.before[0][3], ("Subject", "from Python"))
        # The Received: field the server prepended stays first.
        self.assertTrue(data.startswith(b"Received: from client.gi-test.example"), data[:80])
        return data

    def test_edit_headers_and_body(self):
        data = self.send()
        self.assertEqual(self.spooled, [False])
        # Received: is field 0, so index 1 inserts right after it; To: is
        # deleted, Subject: changed in place, X-Scanned: added at the end.
        inserted = data.index(b"\r\nX-Inserted: ") + 2
        self.assertNotIn(b"\r\n\r\n", data[:inserted])
        self.assertEqual(data[inserted:],
                         b"X-Inserted: folded\r\n\tvalue\r\n"
                         b"From: <alice@sender.example>\r\n"
                         b"subject: [tagged] from Python\r\n"
                         b"X-Scanned: by Python\r\n"
                         b"\r\n"
                         b"replaced\r\nbody\r\n")

    def test_replace_large_body_spooled(self):
        self.server.props.spool_threshold = 1024
        self.new_body = b"".join(b"new line %05d\n" % i for i in range(5000))
        data = self.send()
        # The new body went to a spool file, its line ends made CRLF.
        self.assertEqual(self.spooled, [True])
        self.assertTrue(data.endswith(b"X-Scanned: by Python\r\n\r\n"
                                      + self.new_body.replace(b"\n", b"\r\n")))


class RejectTest(ServerTestCase):

    def on_mail_from(self, session, sender, parameters):
        if sender.get_domain() == "spam.example":
            return Vsmtp.Reply.new_policy_rejection("Sender refused")
        return Vsmtp.Reply.new_continue()

    def on_rcpt_to(self, session, recipient, parameters):
        if recipient.get_local_part() == "nobody":
            return Vsmtp.Reply.new_no_such_user()
        return Vsmtp.Reply.new_continue()

    def on_message(self, session, message):
        return Vsmtp.Reply.new(554, "5.6.0", "Content refused")

    handlers = {"mail-from": on_mail_from, "rcpt-to": on_rcpt_to,
                "message-received": on_message}

    def test_reject_sender_recipient_and_message(self):
        def client():
            with self.smtp() as s:
                s.ehlo()
                r = [s.mail("eve@spam.example")]
                r.append(s.mail(SENDER))
                r.append(s.rcpt("nobody@rcpt.example"))
                r.append(s.rcpt(RCPT))
                r.append(s.data(MESSAGE))
                return r

        self.assertEqual(self.run_client(client), [
            (550, b"5.7.1 Sender refused"),
            (250, b"2.1.0 Ok"),
            (550, b"5.1.1 No such user"),
            (250, b"2.1.5 Ok"),
            (554, b"5.6.0 Content refused"),
        ])

    def test_no_handler_takes_the_message(self):
        # Without a positive message-received decision: 451, never 250.
        self.handlers = {}

        def client():
            with self.smtp() as s:
                s.ehlo()
                s.mail(SENDER)
                s.rcpt(RCPT)
                return s.data(MESSAGE)

        code, text = self.run_client(client)
        self.assertEqual(code, 451)
        self.assertTrue(text.startswith(b"4.3.0 "), text)


class DeferTest(ServerTestCase):

    def on_mail_from(self, session, sender, parameters):
        reply = Vsmtp.Reply.new_pending()
        self.assertTrue(reply.is_pending())

        def later():
            self.completed.append(reply.complete(250, "2.1.0", "Sender checked"))
            return GLib.SOURCE_REMOVE

        GLib.timeout_add(50, later)
        return reply

    def on_rcpt_to(self, session, recipient, parameters):
        reply = Vsmtp.Reply.new_pending()
        verdict = (Vsmtp.Reply.new_no_such_user()
                   if recipient.get_local_part() == "nobody"
                   else Vsmtp.Reply.new(250, "2.1.5", "Recipient checked"))
        GLib.idle_add(lambda: self.completed.append(
            reply.complete_with(verdict)) or GLib.SOURCE_REMOVE)
        return reply

    def on_message(self, session, message):
        # Durable storage done "later", then the 250.
        reply = Vsmtp.Reply.new_pending()

        def later():
            self.completed.append(reply.complete_with(store(self, message)))
            return GLib.SOURCE_REMOVE

        GLib.timeout_add(50, later)
        return reply

    handlers = {"mail-from": on_mail_from, "rcpt-to": on_rcpt_to,
                "message-received": on_message}

    def setUp(self):
        super().setUp()
        self.completed, self.stored, self.ids = [], [], []

    def test_defer_and_complete(self):
        def client():
            with self.smtp() as s:
                s.ehlo()
                return [s.mail(SENDER), s.rcpt("nobody@rcpt.example"),
                        s.rcpt(RCPT), s.data(MESSAGE)]

        replies = self.run_client(client)
        self.assertEqual(replies[:3], [
            (250, b"2.1.0 Sender checked"),
            (550, b"5.1.1 No such user"),
            (250, b"2.1.5 Recipient checked"),
        ])
        self.assertEqual(len(self.stored), 1)
        self.assertEqual(replies[3][0], 250)
        self.assertTrue(replies[3][1].startswith(b"2.0.0 Ok: stored "))
        self.assertTrue(self.stored[0].endswith(b"\r\n" + MESSAGE))
        self.assertEqual(self.completed, [True, True, True, True])


class DeferTimeoutTest(ServerTestCase):
    """A pending reply nobody completes: the session answers 451 4.3.0 on
    its own after decision-timeout, and a late completion is refused."""

    def on_mail_from(self, session, sender, parameters):
        self.pending.append(Vsmtp.Reply.new_pending())
        return self.pending[-1]

    def on_rset(self, session):
        # The client saw the 451 before it sent RSET: the deadline passed.
        self.late.append(self.pending[0].complete(250, "2.1.0", "Too late"))
        self.late.append(self.pending[0].get_code())
        return None

    handlers = {"mail-from": on_mail_from, "rset": on_rset}

    def setUp(self):
        super().setUp()
        self.server.props.decision_timeout = 200      # milliseconds
        self.pending, self.late = [], []

    def test_defer_times_out(self):
        def client():
            with self.smtp() as s:
                s.ehlo()
                return s.mail(SENDER), s.rset(), s.noop()

        mail, rset, noop = self.run_client(client)
        self.assertEqual(mail,
                         (451, b"4.3.0 Error: decision timed out, try again later"))
        self.assertEqual(rset, (250, b"2.0.0 Ok"))
        self.assertEqual(noop, (250, b"2.0.0 Ok"))
        # complete() refused it; an expired reply never gets a code.
        self.assertEqual(self.late, [False, 0])


class ComposeTest(ServerTestCase):
    """Handlers compose: a deferred handler completes with continue and the
    next one decides; a handler's continue passes on; per-recipient
    replies collapse into one SMTP reply."""

    def on_rcpt_to_defer(self, session, recipient, parameters):
        self.calls.append(("defer", recipient.get_local_part()))
        reply = Vsmtp.Reply.new_pending()
        self.assertFalse(reply.get_cancellable().is_cancelled())

        def later():
            reply.complete_continue()
            return GLib.SOURCE_REMOVE
        GLib.timeout_add(20, later)
        return reply

    def on_rcpt_to_check(self, session, recipient, parameters):
        self.calls.append(("check", recipient.get_local_part()))
        if recipient.get_local_part() == "nobody":
            return Vsmtp.Reply.new_no_such_user()
        return Vsmtp.Reply.new_continue()

    def on_message(self, session, message):
        ok = Vsmtp.Reply.new(250, "2.0.0", "Ok: delivered")
        full = Vsmtp.Reply.new(552, "5.2.2", "Mailbox full")
        reply = Vsmtp.Reply.new_for_recipients([ok, full])
        self.per_recipient.append([r.get_code() for r in reply.get_recipient_replies()])
        return reply

    def _on_new_session(self, server, session):
        # two handlers on one signal, in this order
        session.connect("rcpt-to", self._guarded(ComposeTest.on_rcpt_to_defer))
        session.connect("rcpt-to", self._guarded(ComposeTest.on_rcpt_to_check))
        session.connect("message-received", self._guarded(ComposeTest.on_message))

    def setUp(self):
        super().setUp()
        self.calls, self.per_recipient = [], []

    def test_deferred_continue_then_next(self):
        def client():
            with self.smtp() as s:
                s.ehlo()
                s.mail(SENDER)
                good, bad, other = s.rcpt(RCPT), s.rcpt("nobody@rcpt.example"), \
                    s.rcpt("carol@rcpt.example")
                s.docmd("DATA")
                s.send(b"x\r\n.\r\n")
                data = s.getreply()
                return good, bad, other, data

        good, bad, other, data = self.run_client(client)
        self.assertEqual(good, (250, b"2.1.5 Ok"))
        self.assertEqual(bad[0], 550)
        self.assertEqual(other, (250, b"2.1.5 Ok"))
        self.assertEqual(self.calls, [("defer", "bob"), ("check", "bob"),
                                      ("defer", "nobody"), ("check", "nobody"),
                                      ("defer", "carol"), ("check", "carol")])
        # one delivered, one refused for good: 451, the client tries again
        self.assertEqual(data[0], 451)
        self.assertIn(b"delivered to 1 of 2 recipients", data[1])
        self.assertEqual(self.per_recipient, [[250, 552]])


STANDALONE = r"""
import smtplib, sys, threading
import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, GLib, Vsmtp

overridden = "gi.overrides.Vsmtp" in sys.modules
loop = GLib.MainLoop()
server = Vsmtp.Server(hostname="mx.standalone.example")
ok, address = server.listen(Gio.InetSocketAddress.new_from_string("127.0.0.1", 0))

def on_rcpt_to(session, recipient, parameters):
    raise RuntimeError("handler bug")

def on_new_session(server, session):
    session.connect("rcpt-to", on_rcpt_to)
server.connect("new-session", on_new_session)

result = {}
def client():
    try:
        with smtplib.SMTP("127.0.0.1", address.get_port(), timeout=20) as s:
            s.ehlo()
            s.mail("a@example.org")
            result["rcpt"] = s.rcpt("b@example.org")
    finally:
        GLib.idle_add(loop.quit)
threading.Thread(target=client, daemon=True).start()
loop.run()
print("override" if overridden else "no-override", result["rcpt"][0], result["rcpt"][1].decode())
"""


class StandaloneWithoutOverrideTest(unittest.TestCase):
    """A program that uses the library from the build tree without the
    gi.overrides.Vsmtp module on its path: a raising handler still fails
    closed (451 from C), it does not let the command through."""

    def test_raise_without_override(self):
        import subprocess
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        proc = subprocess.run(["/usr/bin/python3", "-c", STANDALONE], env=env, cwd="/",
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        words = proc.stdout.split()
        self.assertEqual(words[0], "no-override", proc.stdout + proc.stderr)
        self.assertEqual(words[1], "451", proc.stdout)
        # PyGObject printed the exception; the session logged the failure
        self.assertIn("RuntimeError: handler bug", proc.stderr)
        self.assertIn('a "rcpt-to" handler returned no reply', proc.stderr)


class ServerApiTest(ServerTestCase):

    def test_listen_returns_the_effective_address(self):
        self.assertIsInstance(self.address, Gio.InetSocketAddress)
        self.assertNotEqual(self.port, 0)
        self.assertEqual(self.address.get_address().to_string(), "127.0.0.1")
        ports = [a.get_port() for a in self.server.get_listen_addresses()]
        self.assertEqual(ports, [self.port])

    def test_shutdown_async(self):
        """An idle session gets 421 4.3.2, then shutdown_finish is TRUE."""
        results = []
        connected = threading.Event()

        def on_done(server, result):
            results.append(server.shutdown_finish(result))

        def start_shutdown():
            self.server.shutdown_async(5, None, on_done)
            return GLib.SOURCE_REMOVE

        def client():
            s = self.smtp()
            try:
                s.ehlo()
                connected.set()
                GLib.idle_add(start_shutdown)
                code, text = s.getreply()
                eof = s.sock.recv(1) if code == 421 else b"?"
                return code, text, eof
            finally:
                s.close()

        code, text, eof = self.run_client(client)
        self.assertEqual(code, 421)
        self.assertTrue(text.startswith(b"4.3.2 "), text)
        self.assertEqual(eof, b"")
        # Let the shutdown finish.
        ctx = GLib.MainContext.default()
        for _ in range(1000):
            if results:
                break
            ctx.iteration(True)
        self.assertEqual(results, [True])
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.port), 5).close()


class BoxedApiTest(unittest.TestCase):

    def test_address(self):
        a = Vsmtp.Address.parse("<Bob@Example.ORG>", -1,
                                Vsmtp.AddressFlags.NONE)
        self.assertEqual(a.get_local_part(), "Bob")
        self.assertEqual(a.to_string(), "Bob@Example.ORG")
        self.assertFalse(a.is_null())
        self.assertTrue(Vsmtp.Address.new_null().is_null())
        b = Vsmtp.Address.new("Bob", "Example.ORG")
        self.assertTrue(a.equal(b))
        with self.assertRaises(GLib.Error) as cm:
            Vsmtp.Address.parse("<>", -1, Vsmtp.AddressFlags.NONE)
        self.assertEqual(cm.exception.domain, "vsmtp-error-quark")
        self.assertTrue(Vsmtp.Address.parse(
            "<>", -1, Vsmtp.AddressFlags.ALLOW_NULL).is_null())

    def test_envelope_and_reply(self):
        e = Vsmtp.Envelope.new()
        e.set_sender(Vsmtp.Address.new("a", "b.example"), {"SIZE": "10"})
        e.add_recipient(Vsmtp.Address.new("c", "d.example"),
                        {"NOTIFY": "NEVER", "X-FLAG": None})
        self.assertEqual(e.get_mail_parameters(), {"SIZE": "10"})
        self.assertEqual(e.get_mail_parameter("SIZE"), "10")
        self.assertEqual(e.get_recipient_parameters(0),
                         {"NOTIFY": "NEVER", "X-FLAG": None})
        self.assertEqual([r.to_string() for r in e.dup_recipients()],
                         ["c@d.example"])
        r = Vsmtp.Reply.new(250, "2.0.0", "first\nsecond")
        self.assertEqual(r.to_string(), "250-2.0.0 first\r\n250 2.0.0 second\r\n")
        self.assertEqual((r.props.code, r.props.enhanced_code),
                         (250, "2.0.0"))
        self.assertTrue(r.is_positive())


class BdatTest(ServerTestCase):
    """CHUNKING from Python: the chunks reach the same handlers as DATA
    (the data signal once, message-received with the exact bytes), the
    body type is on the envelope, and unregistering CHUNKING turns BDAT
    off."""

    def on_data(self, session):
        self.data_signals += 1
        return Vsmtp.Reply.new_continue()

    def on_message(self, session, message):
        self.body_types.append(message.get_envelope().get_body_type())
        return store(self, message)

    handlers = {"data": on_data, "message-received": on_message}

    def setUp(self):
        super().setUp()
        self.stored, self.ids, self.body_types = [], [], []
        self.data_signals = 0

    def bdat_session(self, chunks, body=b"BINARYMIME"):
        def client():
            with self.smtp() as s:
                s.ehlo()
                features = dict(s.esmtp_features)
                s.docmd("MAIL FROM:<%s> BODY=%s" % (SENDER, body.decode()))
                s.docmd("RCPT TO:<%s>" % RCPT)
                replies = []
                for i, chunk in enumerate(chunks):
                    last = b" LAST" if i == len(chunks) - 1 else b""
                    s.sock.sendall(b"BDAT %d%s\r\n" % (len(chunk), last) + chunk)
                    replies.append(s.getreply())
                return features, replies
        return self.run_client(client)

    def test_binary_chunks_reach_the_handlers(self):
        chunks = [b"Subject: bin\r\n\r\n\x00\r", b"\n.\r\n", b"\xff"]
        features, replies = self.bdat_session(chunks)
        self.assertIn("chunking", features)
        self.assertIn("binarymime", features)
        self.assertEqual(replies[:2], [(250, b"2.0.0 %d octets received" % len(c))
                                       for c in chunks[:2]])
        self.assertEqual(replies[2], (250, b"2.0.0 Ok: stored " + self.ids[0].encode()))
        self.assertEqual(self.data_signals, 1)
        self.assertEqual(self.body_types, [Vsmtp.BodyType.BINARY_MIME])
        data = self.stored[0]
        self.assertTrue(data.startswith(b"Received: "), data[:40])
        self.assertTrue(data.endswith(b"".join(chunks)), data[-60:])

    def test_chunking_unregistered(self):
        chunking = self.server.lookup_extension("CHUNKING")
        self.assertTrue(self.server.unregister_extension(chunking))
        features, replies = self.bdat_session([b""], body=b"8BITMIME")
        self.assertNotIn("chunking", features)
        self.assertNotIn("binarymime", features)
        self.assertEqual(replies, [(502, b"5.5.1 Error: command not implemented")])
        self.assertEqual(self.stored, [])


class LogEscapeTest(unittest.TestCase):
    """Vsmtp.log_escape(): the library's rule for client strings in logs,
    usable from Python plugins (bytes in, str out)."""

    def test_escape(self):
        self.assertEqual(Vsmtp.log_escape(b"eve\r\nforged"), r"eve\x0d\x0aforged")
        self.assertEqual(Vsmtp.log_escape(b"a\\b \xc3\xa9 \xff"), "a\\x5cb \u00e9 \\xff")
        self.assertEqual(Vsmtp.log_escape(b""), "")


class ConfigDeclarationTest(unittest.TestCase):
    """A plugin in Python declares its keys (do_declare_config) and reads
    them in do_configure, called through the C wrappers the daemon calls;
    the group refuses unknown keys and bad values with the daemon's
    wording; a GLib.Error raised in do_configure comes back as the GError."""

    class Plugin(GObject.Object, Vsmtp.Activatable):
        server = GObject.Property(type=Vsmtp.Server)

        def do_declare_config(self, group):
            group.add_integer("delay", 1000, 0, 60000, "milliseconds", "The delay")
            group.add_boolean("strict", False, "Whether to be strict")
            group.add_string_list("names", "a;b", "Some names")
            group.add_duration("pause", 500, 0, 60000, "A pause")
            group.add_choice("mode", "fast", ["fast", "slow"], "The mode")
            group.add_path("file", None, "A file")

        def do_configure(self, group):
            if group.get_integer("delay") == 13:
                raise GLib.Error.new_literal(Vsmtp.error_quark(), "[pyconf] delay: unlucky",
                                             Vsmtp.Error.INVALID_CONFIG)
            self.values = (group.get_integer("delay"), group.get_boolean("strict"),
                           group.dup_string_list("names"), group.get_duration("pause"),
                           group.dup_string("mode"), group.dup_string("file"),
                           group.is_set("delay"))
            return True

    class Bare(GObject.Object, Vsmtp.Activatable):
        server = GObject.Property(type=Vsmtp.Server)

    def group_for(self, plugin, text):
        group = Vsmtp.ConfigGroup.new("pyconf")
        Vsmtp.Activatable.declare_config(plugin, group)
        keyfile = GLib.KeyFile()
        keyfile.load_from_data(text, len(text.encode()), GLib.KeyFileFlags.NONE)
        group.load(keyfile)
        return group

    def test_declared_keys(self):
        group = self.group_for(self.Plugin(), "")
        keys = {k.get_name(): k for k in group.dup_keys()}
        self.assertEqual(list(keys), ["delay", "strict", "names", "pause", "mode", "file"])
        delay = keys["delay"]
        self.assertEqual(delay.get_value_type(), Vsmtp.ConfigType.INTEGER)
        self.assertEqual((delay.get_default_value(), delay.get_minimum(), delay.get_maximum(),
                          delay.get_unit(), delay.get_description()),
                         ("1000", 0, 60000, "milliseconds", "The delay"))
        self.assertEqual(keys["pause"].get_default_value(), "0.5")
        self.assertEqual(list(keys["mode"].get_choices()), ["fast", "slow"])

    def test_defaults_and_values(self):
        plugin = self.Plugin()
        self.assertTrue(Vsmtp.Activatable.configure(plugin, self.group_for(plugin, "")))
        self.assertEqual(plugin.values, (1000, False, ["a", "b"], 500, "fast", None, False))
        group = self.group_for(plugin, "[pyconf]\ndelay=5\nstrict=true\nnames=x; y\n"
                                       "pause=1.25\nmode=slow\nfile=/srv/f\n")
        self.assertTrue(Vsmtp.Activatable.configure(plugin, group))
        self.assertEqual(plugin.values, (5, True, ["x", "y"], 1250, "slow", "/srv/f", True))

    def test_refused_values(self):
        cases = [
            ("delayy=1", "[pyconf] delayy: unknown key"),
            ("delay=abc", '[pyconf] delay: "abc" is not a number'),
            ("delay=-5", '[pyconf] delay: "-5" is out of range (0 to 60000 milliseconds)'),
            ("delay=", "[pyconf] delay: the value is empty, expected a number "
                       "(0 to 60000 milliseconds)"),
            ("strict=maybe", '[pyconf] strict: "maybe" is neither true nor false'),
            ("names=a;;b", "[pyconf] names: the list has an empty element"),
            ("pause=61", '[pyconf] pause: "61" is out of range (0 to 60 seconds)'),
            ("pause=soon", '[pyconf] pause: "soon" is not a number of seconds'),
            ("mode=medium", '[pyconf] mode: "medium" is neither "fast" nor "slow"'),
            ("file=", "[pyconf] file: the value is empty"),
        ]
        for line, message in cases:
            with self.subTest(line=line):
                with self.assertRaises(GLib.Error) as caught:
                    self.group_for(self.Plugin(), f"[pyconf]\n{line}\n")
                self.assertEqual(caught.exception.message, message)
                self.assertTrue(caught.exception.matches(Vsmtp.error_quark(),
                                                         Vsmtp.Error.INVALID_CONFIG))

    def test_configure_raises(self):
        plugin = self.Plugin()
        group = self.group_for(plugin, "[pyconf]\ndelay=13\n")
        with self.assertRaises(GLib.Error) as caught:
            Vsmtp.Activatable.configure(plugin, group)
        self.assertEqual(caught.exception.message, "[pyconf] delay: unlucky")

    def test_plugin_without_configuration(self):
        """The interface's defaults: no keys, configure accepts."""
        plugin = self.Bare()
        group = self.group_for(plugin, "")
        self.assertEqual(len(group.dup_keys()), 0)
        self.assertTrue(Vsmtp.Activatable.configure(plugin, group))
        with self.assertRaises(GLib.Error):
            self.group_for(plugin, "[pyconf]\nanything=1\n")


if __name__ == "__main__":
    fx.main()

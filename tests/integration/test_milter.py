#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The milter plugin against real milters.

- A filter written with python3-milter (libmilter's protocol as Sendmail's
  library speaks it; milter_test_filter.py, run by Debian's /usr/bin/python3)
  that takes every action: what it saw of each stage (macros included) is in
  its log, what it decided in the replies and the delivered files.
- Milters that misbehave, served by this process on a loopback port: one
  that never answers, one that closes the connection, one that sends
  garbage, one that announces an oversized packet, one that answers a reply
  the step does not allow. Each gives the default action, logged, and
  vsmtpd keeps serving.

Each class runs its own vsmtpd with the milter, a recorder (a Python plugin
that writes the envelope the delivery plugins get) and maildir.
"""

import os
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time

import vsmtpd_fixture as fx
from test_plugins import PluginTestCase, close

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"
FILTER = os.path.join(HERE, "milter_test_filter.py")

RECORDER = """
    def on_new_session(self, server, session):
        session.connect("message-received", self.on_message)

    def on_message(self, session, message):
        import json, os
        env = message.get_envelope()
        rcpts = []
        for i in range(env.get_n_recipients()):
            rcpts.append([env.get_recipient(i).to_string(),
                          dict(env.get_recipient_parameters(i) or {})])
        with open(os.environ["VSMTP_TEST_ENVELOPES"], "a") as f:
            f.write(json.dumps({"sender": env.get_sender().to_string(),
                                "mail": dict(env.get_mail_parameters() or {}),
                                "rcpts": rcpts}) + "\\n")
        return Vsmtp.Reply.new_continue()
"""


peer_env = fx.peer_env


def wait_for(predicate, timeout=fx.IO_TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class PeerProcess:
    """A program the test starts (a milter), listening on self.port of
    127.0.0.1, with a temporary folder self.tmp; stopped whatever happens,
    its whole process group (``start_new_session``), then the folder
    removed. Subclasses set self.tmp and self.port, then call start()."""

    name = "the peer"

    def start(self, argv, timeout=fx.IO_TIMEOUT):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=peer_env(),
                                     stderr=open(os.path.join(self.tmp, "stderr"), "wb"),
                                     start_new_session=True)
        try:
            wait_for(self.listening, timeout=timeout, what=self.name)
        except Exception:
            self.stop()
            raise

    def listening(self):
        if self.proc.poll() is not None:
            with open(os.path.join(self.tmp, "stderr"), encoding="utf-8", errors="replace") as f:
                raise AssertionError(f"{self.name} exited: {f.read()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.tmp, True)


class TestFilter(PeerProcess):
    """milter_test_filter.py on a loopback port"""

    name = "the test milter"

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtp-milter-")
        self.log_path = os.path.join(self.tmp, "filter.log")
        self.port = fx.free_port()
        self.start([SYSTEM_PYTHON, FILTER, f"inet:{self.port}@127.0.0.1", self.log_path])

    def lines(self):
        try:
            with open(self.log_path, encoding="utf-8") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def clear(self):
        open(self.log_path, "w").close()


class MilterTestCase(PluginTestCase):
    plugins = ("milter", "recorder", "maildir")
    python_plugins = {"recorder": RECORDER}
    milter_config = ""

    @classmethod
    def setUpClass(cls):
        cls.envelopes = tempfile.mktemp(prefix="vsmtp-envelopes-")
        os.environ["VSMTP_TEST_ENVELOPES"] = cls.envelopes
        cls.milter = cls.start_milter()
        cls.quarantine = tempfile.mkdtemp(prefix="vsmtp-quarantine-")
        cls.extra_config = (f"[milter]\nmilters=test=inet:127.0.0.1:{cls.milter.port}\n"
                            f"quarantine={cls.quarantine}\n" + cls.milter_config)
        try:
            super().setUpClass()
        except Exception:
            cls.milter.stop()
            raise

    @classmethod
    def start_milter(cls):
        return TestFilter()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.milter.stop()
            shutil.rmtree(cls.quarantine, True)
            if os.path.exists(cls.envelopes):
                os.unlink(cls.envelopes)

    def setUp(self):
        super().setUp()
        if hasattr(self.milter, "clear"):
            self.milter.clear()
        open(self.envelopes, "w").close()

    def recorded(self):
        import json
        with open(self.envelopes) as f:
            return [json.loads(line) for line in f if line.strip()]

    def send(self, subject, rcpts=("user@example.com",), body="A body line.\r\n",
             extra_headers=""):
        s = self.smtp()
        msg = (f"From: sender@example.org\r\nTo: user@example.com\r\n"
               f"Subject: {subject}\r\n{extra_headers}\r\n{body}")
        s.mail("sender@example.org")
        for r in rcpts:
            code, text = s.rcpt(r)
            self.assertEqual(code, 250, text)
        return s.data(msg.encode())


# The python3-milter filter -------------------------------------------------

class ConversationTest(MilterTestCase):

    def test_stages_and_macros(self):
        s = self.smtp()
        s.mail("sender@example.org")
        s.rcpt("user@example.com")
        code, text = s.data(b"From: sender@example.org\r\nSubject: hello\r\n\r\nA body line.\r\n")
        self.assertEqual(code, 250, text)
        s.quit()
        self.assertEqual(len(self.daemon.delivered()), 1)
        def this_session():
            # from this session's connect on (an earlier session's close may
            # come after the log was cleared)
            lines = self.milter.lines()
            starts = [i for i, l in enumerate(lines) if l.startswith("connect ")]
            return lines[starts[-1]:] if starts else []
        wait_for(lambda: "close" in this_session(), what="the filter's close")
        lines = this_session()
        stages = [l.split()[0] for l in lines]
        # one connection per session, every step in order
        self.assertEqual(stages[:5], ["connect", "helo", "mail", "rcpt", "data"])
        self.assertEqual(stages[-4:], ["eoh", "body", "eom", "close"])
        self.assertEqual(lines[0], f"connect unknown 127.0.0.1 127.0.0.1 {fx.HOSTNAME} vsmtpd")
        self.assertEqual(lines[1], "helo client.example -")
        mail = lines[2].split()
        self.assertEqual(mail[1], "<sender@example.org>")
        self.assertIn("mail_addr=sender@example.org", mail)
        self.assertTrue(any(w.startswith("i=") and len(w) > 4 for w in mail), mail)
        self.assertIn("rcpt <user@example.com> rcpt_addr=user@example.com", lines)
        headers = [l for l in lines if l.startswith("header ")]
        # our Received field first, then the message's own, in order
        self.assertTrue(headers[0].startswith("header Received from client.example"), headers)
        self.assertEqual(headers[-1], "header Subject hello")
        self.assertIn("body 14", lines)
        self.assertTrue(lines[-2].startswith("eom hello chunks=1 bytes=14 i="), lines[-2])

    def test_esmtp_arguments_passed(self):
        s = self.smtp()
        s.mail("sender@example.org", ["BODY=8BITMIME", "SIZE=100"])
        s.rcpt("user@example.com")
        s.rset()
        wait_for(lambda: "abort" in self.milter.lines(), what="the abort after RSET")
        mail = [l for l in self.milter.lines() if l.startswith("mail ")][0].split()
        self.assertIn("BODY=8BITMIME", mail)
        self.assertIn("SIZE=100", mail)

    def test_unknown_command_passed_on(self):
        with self.client() as c:
            self.assertReply(c.cmd("EHLO client.example"), 250)
            self.assertEqual(c.cmd("XYZZY plugh").code, 500)
            self.assertReply(c.cmd("NOOP"), 250)
        wait_for(lambda: "unknown XYZZY plugh" in self.milter.lines(),
                 what="the filter's unknown command")

    def test_changes_applied_before_delivery(self):
        code, text = self.send("modify", rcpts=("user@example.com", "removed@example.com"),
                               extra_headers="X-Remove: bye\r\n", body="original\r\n")
        self.assertEqual(code, 250, text)
        (delivered,) = self.daemon.delivered()
        head, _, body = delivered.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.assertEqual(lines[0], b"Return-Path: <new-sender@example.org>")
        self.assertEqual(lines[1], b"X-First: inserted first")
        self.assertIn(b"Subject: modified", lines)
        self.assertNotIn(b"X-Remove: bye", lines)
        self.assertEqual(lines[-1], b"X-Added: added value")
        self.assertEqual(body, b"replaced body\r\n")
        (env,) = self.recorded()
        self.assertEqual(env["sender"], "new-sender@example.org")
        self.assertEqual(env["mail"].get("BODY"), "8BITMIME")
        self.assertEqual([r[0] for r in env["rcpts"]], ["user@example.com", "added@example.com"])
        self.assertEqual(env["rcpts"][1][1], {"NOTIFY": "NEVER"})

    def test_custom_multiline_reject(self):
        s = self.smtp()
        s.mail("sender@example.org")
        s.rcpt("user@example.com")
        code, text = s.data(b"Subject: reject\r\n\r\nbody\r\n")
        self.assertEqual(code, 550)
        self.assertEqual(text, b"5.7.1 Rejected by the test milter\n5.7.1 second line")
        self.assertNothingDelivered()

    def test_tempfail(self):
        code, text = self.send("tempfail")
        self.assertEqual((code, text[:5]), (451, b"4.7.1"))
        self.assertNothingDelivered()

    def test_discard_is_250_and_nothing_delivered(self):
        code, text = self.send("discard")
        self.assertEqual(code, 250, text)
        self.assertNothingDelivered()
        self.assertEqual(self.recorded(), [])
        self.assertRegex(self.log(), r"message \S+ discarded by milter test")

    def test_quarantine(self):
        code, text = self.send("quarantine")
        self.assertEqual(code, 250, text)
        self.assertNothingDelivered()
        held = os.listdir(os.path.join(self.quarantine, "new"))
        self.assertEqual(len(held), 1)
        with open(os.path.join(self.quarantine, "new", held[0]), "rb") as f:
            data = f.read()
        self.assertIn(b"X-Vsmtpd-Quarantine: milter test: looks suspicious\r\n", data)
        self.assertTrue(data.endswith(b"\r\n\r\nA body line.\r\n"), data[-60:])
        self.assertRegex(self.log(), r"quarantined by milter test \(looks suspicious\)")

    def test_helo_and_rcpt_rejections(self):
        with self.client() as c:
            self.assertReply(c.cmd("EHLO reject.example"), 550, "5.7.1")
            self.assertReply(c.cmd("EHLO client.example"), 250)
            self.assertReply(c.cmd("MAIL FROM:<sender@example.org>"), 250)
            self.assertReply(c.cmd("RCPT TO:<blocked@example.com>"), 550, "5.7.1")
            self.assertReply(c.cmd("RCPT TO:<tempfail-rcpt@example.com>"), 451, "4.7.1")
            self.assertReply(c.cmd("RCPT TO:<user@example.com>"), 250)

    def test_large_body_in_chunks(self):
        body = ("x" * 998 + "\r\n") * 200           # 200,000 bytes
        code, text = self.send("big", body=body)
        self.assertEqual(code, 250, text)
        sizes = [int(l.split()[1]) for l in self.milter.lines() if l.startswith("body ")]
        self.assertEqual(sum(sizes), 200000)
        self.assertTrue(all(s <= 65535 for s in sizes), sizes)
        self.assertEqual(len(sizes), 4)

    def test_skip(self):
        body = ("y" * 998 + "\r\n") * 100
        code, text = self.send("skip", body=body)
        self.assertEqual(code, 250, text)
        self.assertEqual(len([l for l in self.milter.lines() if l.startswith("body ")]), 1)
        self.assertTrue(self.daemon.delivered()[0].endswith(body.encode()))


class ConnectionCapTest(MilterTestCase):
    """max-connections=1: while one session holds the milter's only
    connection, the next one gets the default action (451 at the greeting)"""

    milter_config = "max-connections=1\n"

    def test_second_session_over_the_cap(self):
        # the fixture's probe connection holds the slot until it has ended
        wait_for(lambda: "disconnect from" in self.log(), what="the probe's session to end")
        with self.client() as first:
            self.assertReply(first.cmd("EHLO client.example"), 250)
            second = fx.RawClient(self.daemon.port, greeting=False)
            self.addCleanup(second.close)
            self.assertReply(second.reply(), 451, "4.7.1")
            self.assertRegex(self.log(), r"milter test: 1 connections open already \(max-connections\)")
        # the first one's connection is given back when it ends
        wait_for(lambda: self.log().count("disconnect from") >= 3, what="the first session's end")
        with self.client() as third:
            self.assertReply(third.cmd("EHLO client.example"), 250)


class ProgressTest(MilterTestCase):
    """A filter that reports progress every 0.5 s for 3 s is waited for,
    with a content timeout of 1 s"""

    milter_config = "content-timeout=1\n"

    def test_progress_extends_the_timeout(self):
        code, text = self.send("progress")
        self.assertEqual(code, 250, text)
        self.assertEqual(len(self.daemon.delivered()), 1)


# Milters that misbehave -----------------------------------------------------

def packet(code, data=b""):
    return struct.pack(">I", len(data) + 1) + code + data


OPTNEG_REPLY = packet(b"O", struct.pack(">III", 6, 0x1ff, 0))


class BadMilter:
    """A milter served from a thread: it negotiates, says continue, and at
    the command @at (a milter command byte) misbehaves as @mode says:
    hang, close, garbage, oversized, or wrong (a reply the step does not
    allow)."""

    def __init__(self, mode, at):
        self.mode, self.at = mode, at
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.conns = []
        self.closed_while_hanging = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.talk, args=(conn,), daemon=True).start()

    def read_packet(self, f):
        head = f.read(4)
        if len(head) < 4:
            return None, None
        (n,) = struct.unpack(">I", head)
        data = f.read(n)
        return data[:1], data[1:]

    def talk(self, conn):
        f = conn.makefile("rb")
        try:
            while True:
                cmd, data = self.read_packet(f)
                if cmd is None:
                    return
                if cmd == self.at:
                    if self.mode == "hang":
                        # no answer; notice when vsmtpd gives up on us
                        conn.settimeout(60)
                        try:
                            while conn.recv(65536):
                                pass
                            self.closed_while_hanging.set()
                        except OSError:
                            pass
                        return
                    if self.mode == "close":
                        conn.close()
                        return
                    if self.mode == "garbage":
                        conn.sendall(b"\x00\x00\x00\x05zzzzz")
                        continue
                    if self.mode == "oversized":
                        conn.sendall(struct.pack(">I", 0x7fffffff) + b"c")
                        continue
                    if self.mode == "wrong":
                        conn.sendall(packet(b"h", b"X-Early\0value\0"))
                        continue
                if cmd == b"O":
                    conn.sendall(OPTNEG_REPLY)
                elif cmd in (b"D", b"A", b"Q"):
                    pass                            # no reply due
                else:
                    conn.sendall(packet(b"c"))
        except OSError:
            return

    def stop(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


class MisbehavingTempfailTest(MilterTestCase):
    """default-action=tempfail: 451 4.7.1, logged; vsmtpd keeps serving"""

    milter_config = "command-timeout=1\ncontent-timeout=1\nconnect-timeout=1\n"
    cases = [("hang", b"O"), ("close", b"H"), ("garbage", b"M"), ("oversized", b"R"),
             ("wrong", b"T"), ("close", b"E"), ("hang", b"B")]

    @classmethod
    def start_milter(cls):
        # a placeholder: each test points vsmtpd at its own milter
        return BadMilter("hang", b"never")

    def run_case(self, mode, at):
        bad = BadMilter(mode, at)
        self.addCleanup(bad.stop)
        self.daemon.stop()
        self.daemon.extra_config = self.daemon.extra_config.replace(
            f"127.0.0.1:{self.milter.port}", f"127.0.0.1:{bad.port}")
        self.milter = bad
        self.daemon.start()
        s = smtplib.SMTP(timeout=fx.IO_TIMEOUT)
        try:
            return self.run_session(s)
        finally:
            # before the next case restarts vsmtpd, which waits for its sessions
            close(s)

    def run_session(self, s):
        code, text = s.connect("127.0.0.1", self.daemon.port)
        replies = [(code, text)]
        if code == 220:
            for step in (lambda: s.ehlo("client.example"),
                         lambda: s.mail("sender@example.org"),
                         lambda: s.rcpt("user@example.com"),
                         lambda: s.data(b"Subject: x\r\n\r\nbody\r\n")):
                try:
                    code, text = step()
                except smtplib.SMTPDataError as e:
                    code, text = e.smtp_code, e.smtp_error
                except smtplib.SMTPServerDisconnected:
                    break
                replies.append((code, text))
                if code != 250:
                    break
        return replies

    def test_each_misbehaviour(self):
        for mode, at in self.cases:
            with self.subTest(mode=mode, at=at):
                replies = self.run_case(mode, at)
                self.assertEqual(replies[-1][0], 451, replies)
                self.assertTrue(replies[-1][1].startswith(b"4.7.1"), replies)
                self.assertNothingDelivered()
                self.assertRegex(self.log(), r"milter test: .*; 451 for the rest of the session")
                self.assertIsNone(self.daemon.proc.poll())


class CancellationTest(MilterTestCase):
    """A client that disconnects while a milter thinks about its message:
    the milter's connection is closed (its transaction ends), nothing is
    delivered, vsmtpd goes on"""

    milter_config = "content-timeout=120\n"

    @classmethod
    def start_milter(cls):
        return BadMilter("hang", b"E")

    def test_disconnect_closes_the_milter_connection(self):
        c = self.daemon.connect()
        for line in ("EHLO client.example", "MAIL FROM:<a@example.org>",
                     "RCPT TO:<b@example.com>", "DATA"):
            self.assertLess(c.cmd(line).code, 400)
        c.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
        time.sleep(0.5)            # the end of message is with the milter
        c.close()
        wait_for(self.milter.closed_while_hanging.is_set,
                 what="vsmtpd closing the milter's connection")
        self.assertNothingDelivered()
        with self.client() as again:   # still serving
            self.assertReply(again.cmd("NOOP"), 250)


class MisbehavingAcceptTest(MisbehavingTempfailTest):
    """default-action=accept: the session goes on without the milter"""

    milter_config = ("command-timeout=1\ncontent-timeout=1\nconnect-timeout=1\n"
                     "default-action=accept\n")

    def test_each_misbehaviour(self):
        for mode, at in self.cases:
            with self.subTest(mode=mode, at=at):
                self.daemon.clear_maildir()
                replies = self.run_case(mode, at)
                self.assertEqual(replies[-1][0], 250, replies)
                self.assertEqual(len(self.daemon.delivered()), 1)
                self.assertRegex(self.log(), r"milter test: .*; going on without it")


if __name__ == "__main__":
    fx.main()

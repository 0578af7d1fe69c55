#!/usr/bin/python3
"""vsmtpd's stderr log lines are written in batches (daemon/vsmtpd-log-batch.c)
while at least 8 sessions are open: once per main loop iteration, never
lost, never mixed; with fewer, each at once. Asserts on the lines in
vsmtpd's stderr after real SMTP exchanges; the tests keep 8 idle
connections open where they need the batches.

SPDX-License-Identifier: LGPL-2.1-or-later
"""

import signal
import threading
import unittest

import vsmtpd_fixture as fx


def transaction(test, c, n):
    test.assertEqual(c.cmd(b"MAIL FROM:<batch%d@example.org>" % n).code, 250)
    test.assertEqual(c.cmd(b"RCPT TO:<rcpt@example.net>").code, 250)
    test.assertEqual(c.cmd(b"DATA").code, 354)
    c.send(b"Subject: batch %d\r\n\r\nbody\r\n.\r\n" % n)
    test.assertEqual(c.reply().code, 250)


BUSY = 8   # sessions open from which lines are batched


class LogBatchTest(unittest.TestCase):

    def daemon(self):
        d = fx.Vsmtpd(plugins=("discard",))
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def busy(self, d):
        """BUSY idle sessions, each greeted: the server batches from now on."""
        idle = []
        for _ in range(BUSY):
            c = d.connect()
            self.addCleanup(c.close)
            idle.append(c)
        return idle

    def result_lines(self, d):
        return [l for l in d.stderr_text().splitlines() if " result=" in l]

    def test_line_written_before_the_next_reply(self):
        """The line of a transaction is out before the client's next
        command is answered."""
        d = self.daemon()
        self.busy(d)
        with d.connect() as c:
            self.assertEqual(c.cmd(b"EHLO batch.example").code, 250)
            for n in range(3):
                transaction(self, c, n)
                self.assertEqual(c.cmd(b"NOOP").code, 250)
                lines = self.result_lines(d)
                self.assertEqual(len(lines), n + 1, lines)
                self.assertIn("from=<batch%d@example.org>" % n, lines[-1])

    def test_sigterm_loses_no_line(self):
        """SIGTERM with a session open: every transaction's line, and the
        disconnect line, are in the log when vsmtpd has exited."""
        d = self.daemon()
        self.busy(d)
        c = d.connect()
        try:
            self.assertEqual(c.cmd(b"EHLO batch.example").code, 250)
            for n in range(40):
                transaction(self, c, n)
            self.assertEqual(d.stop(signal.SIGTERM), 0, d.stderr_text())
        finally:
            c.close()
        lines = self.result_lines(d)
        self.assertEqual(sorted(l.split("from=<batch", 1)[1].split("@", 1)[0] for l in lines),
                         sorted(str(n) for n in range(40)), lines)
        self.assertIn("disconnect from [127.0.0.1] messages=40", d.stderr_text())

    def test_quiet_server_writes_at_once(self):
        """One session: the line is out as soon as the reply is (the
        client reads the log without another command)."""
        d = self.daemon()
        with d.connect() as c:
            self.assertEqual(c.cmd(b"EHLO batch.example").code, 250)
            for n in range(3):
                transaction(self, c, n)
                lines = self.result_lines(d)
                self.assertEqual(len(lines), n + 1, lines)

    def test_parallel_sessions_whole_lines(self):
        """Eight sessions at once: every line is whole (one prefix per
        line, none merged or cut)."""
        d = self.daemon()
        self.busy(d)
        errors = []

        def session(k):
            try:
                with d.connect() as c:
                    self.assertEqual(c.cmd(b"EHLO batch.example").code, 250)
                    for n in range(25):
                        transaction(self, c, k * 100 + n)
                    self.assertEqual(c.cmd(b"QUIT").code, 221)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=session, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(d.stop(signal.SIGTERM), 0, d.stderr_text())
        lines = self.result_lines(d)
        self.assertEqual(len(lines), 200, d.stderr_text()[-2000:])
        for l in d.stderr_text().splitlines():
            if l.startswith("\t"):
                continue
            self.assertRegex(l, r"^vsmtp[a-z-]*-[A-Za-z]+: \d\d:\d\d:\d\d\.\d\d\d: ")
            self.assertEqual(l.count("vsmtp-INFO:"), 1 if l.startswith("vsmtp-INFO:") else 0, l)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""The maildir plugin's worker threads take the deliveries in batches and
share the fsync() of new/ between them: with many sessions at once every
250 still stands for one complete file in new/ (the right content, the
right S= size), no copy is lost or doubled, and tmp/ is left empty; also
with one maildir per recipient, where one file is hard-linked into several
new/ folders.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import re
import shutil
import smtplib
import tempfile
import threading
import unittest

import vsmtpd_fixture as fx

SESSIONS = 8
MESSAGES = 12        # per session


def message(session, n, recipients):
    return (f"From: s{session}@example.org\r\nTo: {', '.join(recipients)}\r\n"
            f"Subject: batch {session}.{n}\r\nMessage-ID: <m{session}.{n}@example.org>\r\n"
            f"\r\nbody of message {session}.{n}\r\n" + "x" * (n * 97) + "\r\n").encode()


class Sender(threading.Thread):
    """One SMTP session sending MESSAGES messages, one after the other."""

    def __init__(self, port, session, recipients):
        super().__init__()
        self.port, self.session, self.recipients = port, session, recipients
        self.accepted = []
        self.error = None

    def run(self):
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=120) as s:
                for n in range(MESSAGES):
                    s.sendmail(f"s{self.session}@example.org", self.recipients,
                               message(self.session, n, self.recipients))
                    self.accepted.append(n)   # sendmail raises unless every RCPT got its 250
        except Exception as e:                # reported by the test
            self.error = e


def send_concurrently(d, recipients):
    """All the sessions at once; the daemon's log in the failure."""
    senders = [Sender(d.port, i, recipients) for i in range(SESSIONS)]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    for s in senders:
        if s.error is not None or len(s.accepted) != MESSAGES:
            raise AssertionError(f"session {s.session}: {len(s.accepted)} accepted, {s.error!r}\n"
                                 + d.stderr_text())


class BatchCase(unittest.TestCase):

    def check_folder(self, maildir, recipients):
        """Every message once in maildir/new, complete, S= its size; tmp/ empty."""
        new = os.path.join(maildir, "new")
        names = sorted(os.listdir(new))
        self.assertEqual(len(names), SESSIONS * MESSAGES, names)
        seen = set()
        for name in names:
            with open(os.path.join(new, name), "rb") as f:
                data = f.read()
            m = re.search(r",S=(\d+)$", name)
            self.assertIsNotNone(m, name)
            self.assertEqual(int(m.group(1)), len(data), name)
            _, rest = fx.split_received(data, return_path=None)
            m = re.search(rb"Subject: batch (\d+)\.(\d+)\r\n", rest)
            self.assertIsNotNone(m, rest[:200])
            session, n = int(m.group(1)), int(m.group(2))
            self.assertTrue(rest == message(session, n, recipients), f"{name}: the content differs")
            seen.add((session, n))
        self.assertEqual(len(seen), SESSIONS * MESSAGES)
        self.assertEqual(os.listdir(os.path.join(maildir, "tmp")), [])


class OneMaildirTest(BatchCase):

    def test_concurrent_sessions(self):
        d = fx.Vsmtpd()
        self.addCleanup(d.cleanup)
        d.start()
        send_concurrently(d, ["rcpt@example.net"])
        self.assertEqual(d.stop(), 0, d.stderr_text())
        self.check_folder(d.maildir, ["rcpt@example.net"])
        self.assertEqual(len(re.findall(r"message \S+ delivered to", d.stderr_text())),
                         SESSIONS * MESSAGES)


class PerRecipientTest(BatchCase):

    def test_concurrent_sessions_linked_copies(self):
        mail = tempfile.mkdtemp(prefix="vsmtpd-test-mail-")
        self.addCleanup(shutil.rmtree, mail, ignore_errors=True)
        d = fx.Vsmtpd(options=[f"maildir.path={mail}/%u"])
        self.addCleanup(d.cleanup)
        d.start()
        recipients = ["ann@example.net", "bob@example.net", "cyd@example.net"]
        send_concurrently(d, recipients)
        self.assertEqual(d.stop(), 0, d.stderr_text())
        for r in recipients:
            self.check_folder(os.path.join(mail, r.split("@")[0]), recipients)

    def test_new_folder_still_missing(self):
        """A maildir whose tmp/ exists but not new/ yet: what a delivery sees
        while another worker is creating the folders of a new maildir. The
        message is linked once new/ is made, not refused."""
        mail = tempfile.mkdtemp(prefix="vsmtpd-test-mail-")
        self.addCleanup(shutil.rmtree, mail, ignore_errors=True)
        os.makedirs(os.path.join(mail, "dee", "tmp"))
        d = fx.Vsmtpd(options=[f"maildir.path={mail}/%u"])
        self.addCleanup(d.cleanup)
        d.start()
        with smtplib.SMTP("127.0.0.1", d.port, timeout=60) as s:
            s.sendmail("a@example.org", ["dee@example.net", "eve@example.net"],
                       message(0, 0, ["dee@example.net", "eve@example.net"]))
        self.assertEqual(d.stop(), 0, d.stderr_text())
        for user in ("dee", "eve"):
            self.assertEqual(len(os.listdir(os.path.join(mail, user, "new"))), 1, d.stderr_text())
            self.assertEqual(os.listdir(os.path.join(mail, user, "tmp")), [])


if __name__ == "__main__":
    fx.main()

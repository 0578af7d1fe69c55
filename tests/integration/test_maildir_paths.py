#!/usr/bin/python3
"""The maildir plugin moves each file from tmp/ into new/ with one
renameat2(RENAME_NOREPLACE) and looks every path up again for each
message (no directory descriptor kept open): a move that fails is a 4xx
with nothing left in new/ nor tmp/; a maildir moved away or replaced
while vsmtpd runs gets the next message at the configured path, never in
the old folder; the S= size of the name is the size of the file.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import re
import shutil
import smtplib

import vsmtpd_fixture as fx


def message(n):
    return (f"From: a@example.org\r\nTo: b@example.net\r\nSubject: path {n}\r\n"
            f"Message-ID: <p{n}@example.org>\r\n\r\nbody {n}\r\n").encode()


def send(port, n):
    """The reply to the end of the data: (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.example.org")
        s.mail("a@example.org")
        s.rcpt("b@example.net")
        return s.data(message(n))


class MaildirPathsTest(fx.unittest.TestCase):

    def daemon(self):
        d = fx.Vsmtpd()
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def test_rename_into_new_fails_4xx_nothing_left(self):
        """new/ is a file: the move fails (ENOTDIR), the client gets 451
        4.3.0, and the file written in tmp/ is removed again."""
        d = self.daemon()
        self.assertEqual(send(d.port, 1)[0], 250, d.stderr_text())
        shutil.rmtree(os.path.join(d.maildir, "new"))
        with open(os.path.join(d.maildir, "new"), "w") as f:
            f.write("in the way\n")
        code, text = send(d.port, 2)
        self.assertEqual((code, text), (451, b"4.3.0 Error writing message to mailbox, try "
                                             b"again later"), d.stderr_text())
        self.assertEqual(os.listdir(os.path.join(d.maildir, "tmp")), [])
        self.assertRegex(d.stderr_text(), r"message \S+ not delivered: Cannot move the message "
                                          r"to .*/new/")
        # and the next message once new/ is a folder again
        os.unlink(os.path.join(d.maildir, "new"))
        os.mkdir(os.path.join(d.maildir, "new"))
        self.assertEqual(send(d.port, 3)[0], 250, d.stderr_text())
        files = d.maildir_files()
        self.assertEqual(len(files), 1)
        with open(files[0], "rb") as f:
            self.assertIn(b"Subject: path 3\r\n", f.read())
        self.assertEqual(os.listdir(os.path.join(d.maildir, "tmp")), [])

    def test_maildir_moved_away_next_message_at_the_path(self):
        d = self.daemon()
        self.assertEqual(send(d.port, 1)[0], 250, d.stderr_text())
        old = d.maildir + ".old"
        os.rename(d.maildir, old)
        self.assertEqual(send(d.port, 2)[0], 250, d.stderr_text())
        self.assertEqual(len(os.listdir(os.path.join(old, "new"))), 1)
        files = d.maildir_files()
        self.assertEqual(len(files), 1)
        with open(files[0], "rb") as f:
            self.assertIn(b"Subject: path 2\r\n", f.read())

    def test_maildir_replaced_by_another(self):
        """Another maildir put in its place (a restore, say): the message
        goes into the new one, nothing into the one moved aside."""
        d = self.daemon()
        self.assertEqual(send(d.port, 1)[0], 250, d.stderr_text())
        other = d.maildir + ".restored"
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(other, sub))
        aside = d.maildir + ".aside"
        os.rename(d.maildir, aside)
        os.rename(other, d.maildir)
        self.assertEqual(send(d.port, 2)[0], 250, d.stderr_text())
        self.assertEqual(len(os.listdir(os.path.join(aside, "new"))), 1)
        self.assertEqual(len(d.maildir_files()), 1)
        self.assertEqual(os.listdir(os.path.join(d.maildir, "tmp")), [])

    def test_size_in_name_is_the_file_size(self):
        """S= is the size the one writev() wrote, no fstat(): the file's size."""
        d = self.daemon()
        for n in range(3):
            self.assertEqual(send(d.port, n)[0], 250, d.stderr_text())
        for p in d.maildir_files():
            m = re.search(r",S=(\d+)$", p)
            self.assertIsNotNone(m, p)
            self.assertEqual(int(m.group(1)), os.stat(p).st_size, p)
            self.assertEqual(os.stat(p).st_nlink, 1, p)   # moved, not linked
        self.assertEqual(os.listdir(os.path.join(d.maildir, "tmp")), [])


if __name__ == "__main__":
    fx.main()

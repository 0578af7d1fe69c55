#!/usr/bin/python3
"""The maildir plugin's fallbacks for file systems without
renameat2(RENAME_NOREPLACE) or without hard links, run on any file system
with fs-fault-shim.so preloaded into vsmtpd (it fails those calls with the
errno the environment names):

- renameat2() EINVAL (or ENOSYS): link() into new/, then the name in tmp/
  is removed once new/ is synced;
- link() EPERM (ENOSYS, EOPNOTSUPP, EMLINK) as well: rename();
- several recipients in several maildirs: the file written first is
  hard-linked into the others' new/; where link() fails (EXDEV between
  mounts, EPERM) each maildir gets a copy of its own;
- any other error of renameat2(): 451 4.3.0, nothing left in new/ nor tmp/.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import re
import smtplib

import vsmtpd_fixture as fx

SHIM = os.environ.get("VSMTP_TEST_FS_FAULT_SHIM", os.path.join(
    fx.SOURCE_ROOT, "build", "tests", "integration", "fs-fault-shim.so"))

RECIPIENTS = ("ann@example.net", "bob@example.net", "cy@example.net")


def message(n):
    return (f"From: a@example.org\r\nTo: b@example.net\r\nSubject: fallback {n}\r\n"
            f"Message-ID: <f{n}@example.org>\r\n\r\nbody {n}\r\n").encode()


def send(port, n, recipients=("b@example.net",)):
    """The reply to the end of the data: (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.example.org")
        s.mail("a@example.org")
        for r in recipients:
            code, text = s.rcpt(r)
            if code != 250:
                raise AssertionError(f"RCPT TO:<{r}>: {code} {text!r}")
        return s.data(message(n))


def shim_env(**faults):
    """vsmtpd's environment with the shim preloaded (after whatever the
    sanitizer tier preloads) and the faults asked for. In the ASan build
    the shim comes before the ASan runtime in the library list, which ASan
    refuses unless told not to check."""
    preload = os.environ.get("LD_PRELOAD", "")
    env = {"LD_PRELOAD": f"{preload}:{SHIM}" if preload else SHIM}
    if os.environ.get("VSMTP_TEST_SANITIZER"):
        env["ASAN_OPTIONS"] = ":".join(
            o for o in (os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0") if o)
    env.update({f"VSMTP_TEST_FAIL_{k.upper()}": v for k, v in faults.items()})
    return env


def files_in(maildir, sub):
    d = os.path.join(maildir, sub)
    return sorted(os.path.join(d, n) for n in os.listdir(d))


class MaildirFallbacksTest(fx.unittest.TestCase):

    def daemon(self, path=None, **faults):
        """A vsmtpd with the shim preloaded and @faults (renameat2=EINVAL,
        link=EPERM, link_across="1") in its environment; @path the
        [maildir] path (%u: one maildir per recipient)."""
        self.assertTrue(os.path.exists(SHIM), f"{SHIM} not built")
        d = fx.Vsmtpd(env=shim_env(**faults))
        self.addCleanup(d.cleanup)
        if path is not None:
            d.maildir = os.path.join(d.tmpdir, path)
        d.start()
        with open(f"/proc/{d.proc.pid}/maps", encoding="utf-8") as f:
            self.assertIn(os.path.realpath(SHIM), f.read(), "the shim is not loaded")
        return d

    def assertDeliveredFiles(self, d, maildir, subjects):
        """new/ holds one file per subject, S= is its size, it has one
        link, and tmp/ is empty."""
        files = files_in(maildir, "new")
        self.assertEqual(len(files), len(subjects), d.stderr_text())
        found = []
        for p in files:
            with open(p, "rb") as f:
                data = f.read()
            found += re.findall(rb"^Subject: (.*)\r$", data, re.M)
            self.assertTrue(data.startswith(b"Return-Path: <a@example.org>\r\nReceived: "),
                            data[:80])
            m = re.search(r",S=(\d+)$", p)
            self.assertIsNotNone(m, p)
            self.assertEqual(int(m.group(1)), len(data), p)
            self.assertEqual(os.stat(p).st_nlink, 1, p)
        self.assertEqual(sorted(found), sorted(subjects))
        self.assertEqual(files_in(maildir, "tmp"), [], d.stderr_text())

    def test_no_rename_noreplace_link_then_unlink(self):
        """renameat2() EINVAL (a file system without RENAME_NOREPLACE):
        link() into new/, the name in tmp/ removed once new/ is synced."""
        d = self.daemon(renameat2="EINVAL")
        for n in range(3):
            self.assertEqual(send(d.port, n)[0], 250, d.stderr_text())
        self.assertDeliveredFiles(d, d.maildir, [b"fallback %d" % n for n in range(3)])
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def test_no_renameat2_no_hard_links_rename(self):
        """renameat2() ENOSYS (an old kernel) and link() EPERM (a file
        system without hard links): rename()."""
        d = self.daemon(renameat2="ENOSYS", link="EPERM")
        for n in range(3):
            self.assertEqual(send(d.port, n)[0], 250, d.stderr_text())
        self.assertDeliveredFiles(d, d.maildir, [b"fallback %d" % n for n in range(3)])
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def deliver_to_three(self, **faults):
        """One message to three recipients, each in a maildir of its own:
        the three delivered files, after checking the reply and tmp/."""
        d = self.daemon(path="mail/%u", **faults)
        code, text = send(d.port, 1, RECIPIENTS)
        self.assertEqual(code, 250, (text, d.stderr_text()))
        paths = []
        for r in RECIPIENTS:
            maildir = os.path.join(d.tmpdir, "mail", r.split("@")[0])
            files = files_in(maildir, "new")
            self.assertEqual(len(files), 1, (maildir, d.stderr_text()))
            self.assertEqual(files_in(maildir, "tmp"), [], d.stderr_text())
            m = re.search(r",S=(\d+)$", files[0])
            self.assertIsNotNone(m, files[0])
            self.assertEqual(int(m.group(1)), os.stat(files[0]).st_size, files[0])
            paths.append(files[0])
        contents = []
        for p in paths:
            with open(p, "rb") as f:
                contents.append(f.read())
        self.assertIn(b"Subject: fallback 1\r\n", contents[0])
        self.assertEqual(contents[1:], contents[:1] * 2)
        self.assertEqual(d.stop(), 0, d.stderr_text())
        return paths

    def test_several_maildirs_hard_linked(self):
        """Without a fault: one file, hard-linked into the three new/ (the
        name in the first tmp/ removed): three links to one inode."""
        paths = self.deliver_to_three()
        self.assertEqual({os.stat(p).st_ino for p in paths}, {os.stat(paths[0]).st_ino})
        for p in paths:
            self.assertEqual(os.stat(p).st_nlink, 3, p)

    def test_several_maildirs_on_other_mounts_copies(self):
        """link() from one maildir into another fails EXDEV (each maildir a
        mount of its own): each maildir gets its own copy (one link each),
        the names in tmp/ removed."""
        paths = self.deliver_to_three(link="EXDEV", link_across="1")
        self.assertEqual(len({os.stat(p).st_ino for p in paths}), 3)
        for p in paths:
            self.assertEqual(os.stat(p).st_nlink, 1, p)

    def test_several_maildirs_without_hard_links_copies(self):
        """link() fails EPERM everywhere (no hard links at all): each
        maildir gets its own copy, moved into new/ with renameat2()."""
        paths = self.deliver_to_three(link="EPERM")
        self.assertEqual(len({os.stat(p).st_ino for p in paths}), 3)
        for p in paths:
            self.assertEqual(os.stat(p).st_nlink, 1, p)

    def test_rename_error_is_4xx_nothing_left(self):
        """renameat2() EIO is no reason for a fallback: 451 4.3.0, the file
        written in tmp/ removed, nothing in new/."""
        d = self.daemon(renameat2="EIO")
        code, text = send(d.port, 1)
        self.assertEqual((code, text), (451, b"4.3.0 Error writing message to mailbox, try "
                                             b"again later"), d.stderr_text())
        self.assertEqual(files_in(d.maildir, "new"), [])
        self.assertEqual(files_in(d.maildir, "tmp"), [])
        self.assertRegex(d.stderr_text(), r"message \S+ not delivered: Cannot move the message "
                                          r"to .*/new/.*: Input/output error")
        self.assertEqual(d.stop(), 0, d.stderr_text())


if __name__ == "__main__":
    fx.main()

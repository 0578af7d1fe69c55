#!/usr/bin/python3
"""vsmtpd as an LMTP server (RFC 2033), driven by Python's smtplib.LMTP,
with the maildir plugin delivering per recipient: LHLO against HELO/EHLO,
one reply per recipient in RCPT order, DATA without recipients, hard links,
path templates and maps, Delivered-To:, the Received: header.

smtplib.LMTP sends LHLO, but its data() reads one reply: the replies after
the final dot are read one per recipient with getreply()."""

import os
import smtplib
import subprocess
import tempfile
import time

import vsmtpd_fixture as fx

SENDER = "sender@client.example"
MESSAGE = (b"From: <sender@client.example>\r\n"
           b"Subject: LMTP test\r\n"
           b"\r\n"
           b"Hello over LMTP.\r\n")


def lmtp_listener(d, listen, listener=""):
    """A [listener lmtp] section for @d (protocol lmtp), with more keys."""
    return f"[listener lmtp]\nlisten={listen}\nprotocol=lmtp\n{listener}\n"


def lmtp_daemon(test, maildir_config="", listener="", options=()):
    """A vsmtpd with an LMTP listener on a UNIX socket in its folder and on
    a loopback port (besides its SMTP port)."""
    d = fx.Vsmtpd(options=options)
    test.addCleanup(d.cleanup)
    d.socket = os.path.join(d.tmpdir, "lmtp.sock")
    d.lmtp_port = fx.free_port()
    d.extra_config = lmtp_listener(d, f"unix:{d.socket};127.0.0.1:{d.lmtp_port}", listener)
    if maildir_config:
        d.extra_config += "[maildir]\n" + maildir_config
    d.start()
    return d


def connect(test, d, tcp=False):
    c = (smtplib.LMTP("127.0.0.1", d.lmtp_port, timeout=fx.IO_TIMEOUT) if tcp
         else smtplib.LMTP(d.socket, timeout=fx.IO_TIMEOUT))
    test.addCleanup(c.close)
    return c


def transaction(test, c, recipients, message=MESSAGE):
    """MAIL, RCPT for each of @recipients (all must be accepted), DATA:
    the (code, text) replies after the final dot."""
    code, text = c.mail(SENDER)
    test.assertEqual(code, 250, text)
    for rcpt in recipients:
        code, text = c.rcpt(rcpt)
        test.assertEqual(code, 250, text)
    code, text = c.docmd("DATA")
    test.assertEqual(code, 354, text)
    c.send(message + b".\r\n")
    return [c.getreply() for _ in recipients]


def files(folder):
    new = os.path.join(folder, "new")
    try:
        return sorted(os.path.join(new, n) for n in os.listdir(new))
    except FileNotFoundError:
        return []


def read(path):
    with open(path, "rb") as f:
        return f.read()


class LmtpProtocolTest(fx.unittest.TestCase):
    """One daemon with a path-map of three users."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vsmtpd-lmtp-")
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", cls.tmp], check=False)
        cls.mail = os.path.join(cls.tmp, "mail")
        cls.map = os.path.join(cls.tmp, "users")
        with open(cls.map, "w") as f:
            f.write("# virtual users\n\n"
                    f"alice@example.org {cls.mail}/alice\n"
                    f"Bob@Example.org   {cls.mail}/bob\n"
                    f"carol@example.org {cls.mail}/%d/%u\n")
        cls.daemon = fx.Vsmtpd()
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.socket = os.path.join(cls.daemon.tmpdir, "lmtp.sock")
        cls.daemon.extra_config = (lmtp_listener(cls.daemon, f"unix:{cls.daemon.socket}") +
                                   f"[maildir]\npath-map={cls.map}\n")
        cls.daemon.start()

    def lmtp(self):
        return connect(self, self.daemon)

    def test_greeting_and_lhlo(self):
        c = self.lmtp()
        code, text = c.ehlo("client.example")       # LHLO for smtplib.LMTP
        self.assertEqual(code, 250, text)
        lhlo = text.split(b"\n")
        self.assertEqual(lhlo[0], fx.HOSTNAME.encode())
        # the extensions of EHLO on the SMTP listener
        s = smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=fx.IO_TIMEOUT)
        self.addCleanup(s.close)
        code, text = s.ehlo("client.example")
        self.assertEqual(code, 250, text)
        self.assertEqual(lhlo[1:], text.split(b"\n")[1:])
        self.assertIn(b"PIPELINING", lhlo)
        self.assertIn(b"ENHANCEDSTATUSCODES", lhlo)
        # LHLO on the SMTP listener: 500
        self.assertEqual(s.docmd("LHLO client.example"),
                         (500, b"5.5.1 Error: LHLO is for LMTP: send EHLO or HELO"))

    def test_greeting_says_lmtp(self):
        with fx.socket.socket(fx.socket.AF_UNIX) as s:
            s.settimeout(fx.IO_TIMEOUT)
            s.connect(self.daemon.socket)
            self.assertEqual(s.recv(512), f"220 {fx.HOSTNAME} LMTP vsmtpd\r\n".encode())

    def test_helo_and_ehlo_refused(self):
        c = self.lmtp()
        for verb in ("HELO", "EHLO"):
            self.assertEqual(c.docmd(verb, "client.example"),
                             (500, b"5.5.1 Error: this is an LMTP server: send LHLO"))
        # nothing was greeted: MAIL needs LHLO first
        self.assertEqual(c.docmd("MAIL FROM:<a@b.example>")[0], 503)
        self.assertEqual(c.ehlo("client.example")[0], 250)
        self.assertEqual(c.mail(SENDER)[0], 250)

    def test_data_without_recipient(self):
        c = self.lmtp()
        c.ehlo("client.example")
        self.assertEqual(c.docmd("DATA")[0], 503)
        self.assertEqual(c.mail(SENDER)[0], 250)
        code, text = c.docmd("DATA")
        self.assertEqual((code, text), (503, b"5.5.1 Error: need RCPT command"))
        # the transaction goes on
        self.assertEqual(c.rcpt("alice@example.org")[0], 250)
        self.assertEqual(c.docmd("DATA")[0], 354)
        c.send(MESSAGE + b".\r\n")
        self.assertEqual(c.getreply()[0], 250)

    def test_one_reply_per_recipient_in_order(self):
        c = self.lmtp()
        c.ehlo("client.example")
        folders = [os.path.join(self.mail, "alice"), os.path.join(self.mail, "bob"),
                   os.path.join(self.mail, "example.org", "carol")]
        before = [set(files(f)) for f in folders]
        replies = transaction(self, c, ["bob@example.org", "nobody@example.org",
                                        "alice@example.org", "carol@example.org"])
        self.assertEqual([r[0] for r in replies], [250, 550, 250, 250], replies)
        self.assertRegex(replies[0][1], rb"^2\.0\.0 Ok: queued as \S+$")
        self.assertEqual(replies[1][1], b"5.1.1 <nobody@example.org>: Recipient address "
                                        b"rejected: no such mailbox")
        # the three copies are one file, hard-linked into each maildir
        new = [sorted(set(files(f)) - b) for f, b in zip(folders, before)]
        self.assertEqual([len(n) for n in new], [1, 1, 1], new)
        stats = [os.stat(n[0]) for n in new]
        self.assertEqual(len({(s.st_dev, s.st_ino) for s in stats}), 1)
        self.assertEqual(stats[0].st_nlink, 3)
        data = read(new[0][0])
        self.assertTrue(data.startswith(b"Return-Path: <sender@client.example>\r\n"), data)
        # no Received: header of vsmtpd's own on an LMTP listener
        self.assertEqual(data, b"Return-Path: <sender@client.example>\r\n" + MESSAGE)
        self.assertTrue(new[0][0].endswith(f",S={len(data)}"), new[0][0])
        # the maildir's tmp/ is empty again
        self.assertEqual(os.listdir(os.path.join(self.mail, "bob", "tmp")), [])
        # the log has one line per recipient
        log = self.daemon.stderr_text()
        self.assertIn('LMTP to=<nobody@example.org> result="550 5.1.1', log)
        self.assertIn('LMTP to=<bob@example.org> result="250 2.0.0', log)

    def test_bdat_last_one_reply_per_recipient(self):
        c = self.lmtp()
        code, text = c.ehlo("client.example")
        self.assertIn(b"CHUNKING", text.split(b"\n"))
        self.assertEqual(c.mail(SENDER)[0], 250)
        recipients = ["alice@example.org", "nobody@example.org", "bob@example.org"]
        # DSN parameters stay with their recipient
        self.assertEqual(c.rcpt(recipients[0], ["NOTIFY=SUCCESS"])[0], 250)
        self.assertEqual(c.rcpt(recipients[1], ["NOTIFY=SUCCESS,FAILURE"])[0], 250)
        self.assertEqual(c.rcpt(recipients[2], ["NOTIFY=NEVER"])[0], 250)
        first, rest = MESSAGE[:20], MESSAGE[20:]
        c.send(b"BDAT %d\r\n" % len(first) + first)
        self.assertEqual(c.getreply(), (250, b"2.0.0 20 octets received"))
        c.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
        replies = [c.getreply() for _ in recipients]
        self.assertEqual([r[0] for r in replies], [250, 550, 250], replies)
        self.assertIn(b"<nobody@example.org>", replies[1][1])
        # the session goes on: one reply for NOOP
        self.assertEqual(c.docmd("NOOP")[0], 250)
        log = self.daemon.stderr_text()
        self.assertIn("<alice@example.org> asked for a delivery notice (NOTIFY=SUCCESS)", log)
        self.assertNotIn("<nobody@example.org> asked for a delivery notice", log)
        self.assertNotIn("<bob@example.org> asked for a delivery notice", log)

    def test_every_recipient_refused_and_next_message(self):
        c = self.lmtp()
        c.ehlo("client.example")
        replies = transaction(self, c, ["x@example.org", "y@example.org"])
        self.assertEqual([r[0] for r in replies], [550, 550])
        self.assertIn(b"<y@example.org>", replies[1][1])
        # the session goes on with the next transaction
        self.assertEqual(transaction(self, c, ["alice@example.org"])[0][0], 250)

    def test_map_read_again_when_changed(self):
        c = self.lmtp()
        c.ehlo("client.example")
        self.assertEqual(transaction(self, c, ["dave@example.org"])[0][0], 550)
        with open(self.map) as f:
            text = f.read()
        replacement = self.map + ".new"
        with open(replacement, "w") as f:
            f.write(text + f"dave@example.org {self.mail}/dave\n")
        os.replace(replacement, self.map)
        self.assertEqual(transaction(self, c, ["dave@example.org"])[0][0], 250)
        self.assertEqual(len(files(os.path.join(self.mail, "dave"))), 1)
        # a map that does not parse any more: the entries read before stay
        with open(replacement, "w") as f:
            f.write("this-line-has-no-path\n")
        os.replace(replacement, self.map)
        self.assertEqual(transaction(self, c, ["dave@example.org"])[0][0], 250)
        self.assertIn("keeping the", self.daemon.stderr_text())
        with open(replacement, "w") as f:
            f.write(text)
        os.replace(replacement, self.map)
        self.assertEqual(transaction(self, c, ["dave@example.org"])[0][0], 550)


class LmtpMaildirTest(fx.unittest.TestCase):
    """Path templates, Delivered-To:, create-directories, the Received:
    header on request, one daemon each."""

    def test_templates_and_delivered_to(self):
        mail = tempfile.mkdtemp(prefix="vsmtpd-lmtp-")
        self.addCleanup(subprocess.run, ["rm", "-rf", mail])
        d = lmtp_daemon(self, "delivered-to=true\n",
                        options=[f"maildir.path={mail}/%d/%u/%a/%%"])
        c = connect(self, d)
        c.ehlo("client.example")
        replies = transaction(self, c, ["alice@Example.ORG", "bob@example.net",
                                        '"../x"@example.org', '"a/b"@example.org'])
        self.assertEqual([r[0] for r in replies], [250, 250, 550, 550], replies)
        alice = files(f"{mail}/example.org/alice/alice@example.org/%")
        bob = files(f"{mail}/example.net/bob/bob@example.net/%")
        self.assertEqual((len(alice), len(bob)), (1, 1))
        self.assertEqual(sorted(os.listdir(mail)), ["example.net", "example.org"])
        self.assertEqual(sorted(os.listdir(f"{mail}/example.org")), ["alice"])
        # each copy has its Delivered-To: line, so each is its own file
        a, b = read(alice[0]), read(bob[0])
        self.assertEqual(a, b"Return-Path: <sender@client.example>\r\n"
                            b"Delivered-To: alice@example.org\r\n" + MESSAGE)
        self.assertEqual(b, b"Return-Path: <sender@client.example>\r\n"
                            b"Delivered-To: bob@example.net\r\n" + MESSAGE)
        self.assertEqual(os.stat(alice[0]).st_nlink, 1)
        self.assertTrue(alice[0].endswith(f",S={len(a)}"), alice[0])

    def test_create_directories_false(self):
        mail = tempfile.mkdtemp(prefix="vsmtpd-lmtp-")
        self.addCleanup(subprocess.run, ["rm", "-rf", mail])
        for sub in ("tmp", "new", "cur"):
            os.makedirs(f"{mail}/alice/{sub}")
        d = lmtp_daemon(self, "create-directories=false\n",
                        options=[f"maildir.path={mail}/%u"])
        c = connect(self, d)
        c.ehlo("client.example")
        replies = transaction(self, c, ["alice@example.org", "bob@example.org"])
        self.assertEqual(replies[0][0], 250, replies)
        self.assertEqual(replies[1], (450, b"4.2.0 <bob@example.org>: Mailbox unavailable, "
                                           b"try again later"))
        self.assertEqual(os.listdir(mail), ["alice"])
        self.assertEqual(len(files(f"{mail}/alice")), 1)

    def test_a_file_in_the_way_fails_one_recipient(self):
        mail = tempfile.mkdtemp(prefix="vsmtpd-lmtp-")
        self.addCleanup(subprocess.run, ["rm", "-rf", mail])
        with open(f"{mail}/bob", "w"):
            pass
        d = lmtp_daemon(self, options=[f"maildir.path={mail}/%u"])
        c = connect(self, d)
        c.ehlo("client.example")
        replies = transaction(self, c, ["alice@example.org", "bob@example.org",
                                        "carol@example.org"])
        self.assertEqual([r[0] for r in replies], [250, 451, 250], replies)
        self.assertEqual(replies[1][1], b"4.3.0 <bob@example.org>: Error writing message "
                                        b"to mailbox, try again later")
        self.assertEqual(os.stat(files(f"{mail}/alice")[0]).st_nlink, 2)

    def test_received_header_on_request(self):
        mail = tempfile.mkdtemp(prefix="vsmtpd-lmtp-")
        self.addCleanup(subprocess.run, ["rm", "-rf", mail])
        d = lmtp_daemon(self, listener="lmtp-add-received=true\n",
                        options=[f"maildir.path={mail}/%u"])
        c = connect(self, d, tcp=True)
        c.ehlo("client.example")
        self.assertEqual(transaction(self, c, ["alice@example.org"])[0][0], 250)
        data = read(files(f"{mail}/alice")[0])
        received, rest = fx.split_received(data, return_path=SENDER)
        fx.check_received(self, received, rcpt="alice@example.org", helo="client.example",
                          protocol="LMTP")
        self.assertEqual(rest, MESSAGE)

    def test_smtp_listener_unchanged(self):
        """The same maildir setup over SMTP: one reply for the message (the
        server's rule: some delivered, some not is 451), a Received: header."""
        mail = tempfile.mkdtemp(prefix="vsmtpd-lmtp-")
        self.addCleanup(subprocess.run, ["rm", "-rf", mail])
        with open(f"{mail}/bob", "w"):
            pass
        d = lmtp_daemon(self, options=[f"maildir.path={mail}/%u"])
        s = smtplib.SMTP("127.0.0.1", d.port, timeout=fx.IO_TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        s.mail(SENDER)
        s.rcpt("alice@example.org")
        s.rcpt("bob@example.org")
        code, text = s.data(MESSAGE)
        self.assertEqual((code, text), (451, b"4.3.0 Error: delivered to 1 of 2 recipients, "
                                             b"try again later"))
        data = read(files(f"{mail}/alice")[0])
        self.assertIn(b" with ESMTP id ", data)


class LmtpFileSystemsTest(fx.unittest.TestCase):
    """Maildirs on other file systems (tmpfs mounts, as root): a copy where
    a hard link cannot be made (EXDEV), 452 4.3.1 where the disk is full."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        self.mail = tempfile.mkdtemp(prefix="vsmtpd-lmtp-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.mail])
        for user, size in (("bob", "1m"), ("carol", "16k")):
            os.mkdir(f"{self.mail}/{user}")
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                f"{self.mail}/{user}"], capture_output=True)
            if r.returncode != 0:
                self.skipTest(f"cannot mount a tmpfs: {r.stderr.decode().strip()}")
            self.addCleanup(subprocess.run, ["umount", f"{self.mail}/{user}"])

    def test_copy_across_file_systems_and_disk_full(self):
        d = lmtp_daemon(self, options=[f"maildir.path={self.mail}/%u"])
        c = connect(self, d)
        c.ehlo("client.example")
        big = MESSAGE + b"x" * 998 + b"\r\n"
        big = big * 40          # 40 KB: more than carol's 16 KB
        replies = transaction(self, c, ["alice@example.org", "bob@example.org",
                                        "carol@example.org", "dave@example.org"], big)
        self.assertEqual([r[0] for r in replies], [250, 250, 452, 250], replies)
        self.assertEqual(replies[2][1], b"4.3.1 <carol@example.org>: Insufficient system "
                                        b"storage, try again later")
        alice = os.stat(files(f"{self.mail}/alice")[0])
        bob = os.stat(files(f"{self.mail}/bob")[0])
        dave = os.stat(files(f"{self.mail}/dave")[0])
        self.assertEqual((alice.st_ino, alice.st_nlink), (dave.st_ino, 2))
        self.assertNotEqual(bob.st_dev, alice.st_dev)
        self.assertEqual((bob.st_nlink, bob.st_size), (1, alice.st_size))
        self.assertEqual(files(f"{self.mail}/carol"), [])
        self.assertEqual(os.listdir(f"{self.mail}/carol/tmp"), [])
        self.assertEqual(os.listdir(f"{self.mail}/bob/tmp"), [])


if __name__ == "__main__":
    fx.main()

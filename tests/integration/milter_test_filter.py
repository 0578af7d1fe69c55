#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A milter for test_milter.py, written with python3-milter (libmilter).

Run by Debian's /usr/bin/python3 (python3-milter is packaged for it):

    milter_test_filter.py SOCKET LOGFILE

SOCKET is libmilter's form (inet:PORT@127.0.0.1, unix:/path). What it does
depends on the message, so that one filter exercises every action:

- HELO ``reject.example``: REJECT at HELO
- RCPT ``blocked@...``: REJECT at RCPT; ``tempfail-rcpt@...``: TEMPFAIL
- Subject ``reject``: a custom multi-line 550 reply at the end of message
- Subject ``tempfail``, ``discard``: TEMPFAIL, DISCARD there
- Subject ``quarantine``: QUARANTINE with a reason, then CONTINUE
- Subject ``modify``: adds, inserts, changes and deletes header fields,
  changes the sender, adds a recipient with ESMTP arguments, deletes one,
  and replaces the body
- Subject ``progress``: reports progress for 3 s, then continues
- Subject ``skip``: answers the first body chunk with SKIP

Each callback appends one line to LOGFILE (``stage value...``), with the
macros the test checks, so the test sees what vsmtpd sent.
"""

import sys
import time

import Milter

LOG = None


def log(*words):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(" ".join(str(w) for w in words) + "\n")


class TestFilter(Milter.Base):

    def __init__(self):
        self.subject = ""
        self.body_chunks = 0
        self.content = b""

    @Milter.noreply
    def connect(self, hostname, family, hostaddr):
        log("connect", hostname, hostaddr[0] if hostaddr else "-",
            self.getsymval("{client_addr}"), self.getsymval("j"),
            self.getsymval("{daemon_name}"))
        return Milter.CONTINUE

    def hello(self, helo):
        log("helo", helo, self.getsymval("{tls_version}") or "-")
        if helo == "reject.example":
            return Milter.REJECT
        return Milter.CONTINUE

    def envfrom(self, sender, *params):
        log("mail", sender, *params, "i=" + str(self.getsymval("i")),
            "mail_addr=" + str(self.getsymval("{mail_addr}")),
            "auth_authen=" + str(self.getsymval("{auth_authen}")))
        return Milter.CONTINUE

    def envrcpt(self, rcpt, *params):
        log("rcpt", rcpt, *params, "rcpt_addr=" + str(self.getsymval("{rcpt_addr}")))
        if rcpt.startswith("<blocked@"):
            return Milter.REJECT
        if rcpt.startswith("<tempfail-rcpt@"):
            return Milter.TEMPFAIL
        return Milter.CONTINUE

    def data(self):
        log("data")
        return Milter.CONTINUE

    def header(self, name, value):
        log("header", name, value)
        if name.lower() == "subject":
            self.subject = value.strip()
        return Milter.CONTINUE

    def eoh(self):
        log("eoh")
        return Milter.CONTINUE

    def body(self, chunk):
        self.body_chunks += 1
        self.content += chunk
        log("body", len(chunk))
        if self.subject == "skip":
            return Milter.SKIP
        return Milter.CONTINUE

    def eom(self):
        log("eom", self.subject, "chunks=%d" % self.body_chunks, "bytes=%d" % len(self.content),
            "i=" + str(self.getsymval("i")))
        s = self.subject
        if s == "reject":
            self.setreply("550", "5.7.1", "Rejected by the test milter", "second line")
            return Milter.REJECT
        if s == "tempfail":
            return Milter.TEMPFAIL
        if s == "discard":
            return Milter.DISCARD
        if s == "quarantine":
            self.quarantine("looks suspicious")
            return Milter.CONTINUE
        if s == "progress":
            for _ in range(6):
                time.sleep(0.5)
                self.progress()
            return Milter.CONTINUE
        if s == "modify":
            self.addheader("X-Added", "added value")
            self.addheader("X-First", "inserted first", 0)
            self.chgheader("Subject", 1, "modified")
            self.chgheader("X-Remove", 1, "")
            self.chgfrom("<new-sender@example.org>", "BODY=8BITMIME")
            self.addrcpt("<added@example.com>", "NOTIFY=NEVER")
            self.delrcpt("<removed@example.com>")
            self.replacebody(b"replaced body\r\n")
            return Milter.ACCEPT
        return Milter.CONTINUE

    def unknown(self, command):
        log("unknown", command)
        return Milter.CONTINUE

    def abort(self):
        log("abort")
        return Milter.CONTINUE

    def close(self):
        log("close")
        return Milter.CONTINUE


def main():
    global LOG
    socket, LOG = sys.argv[1], sys.argv[2]
    Milter.factory = TestFilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY | Milter.ADDRCPT
                     | Milter.ADDRCPT_PAR | Milter.DELRCPT | Milter.CHGFROM | Milter.QUARANTINE)
    log("ready")
    Milter.runmilter("vsmtp-test-filter", socket, 60)


if __name__ == "__main__":
    main()

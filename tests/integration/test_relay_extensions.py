#!/usr/bin/python3
"""The relay passes ESMTP extensions on to its upstream and degrades when
the upstream lacks them: BDAT when it offers CHUNKING (DATA with
dot-stuffing otherwise), BODY=BINARYMIME/8BITMIME, SMTPUTF8, the DSN
parameters, REQUIRETLS with a verified certificate (a test CA and server
certificate made here with openssl), and "TLS-Required: No".

The client is smtplib; vsmtpd relays; the upstream is an SMTP server
written here that offers the extensions each test chooses, records every
command and the content exactly as it came (DATA or BDAT chunks), and
speaks STARTTLS with the test's certificate.

The client's parameters are checked by vsmtpd's own extensions (SMTPUTF8,
DSN, REQUIRETLS over TLS only, BODY=BINARYMIME with BDAT) before the relay
sees them."""

import os
import shutil
import smtplib
import ssl
import subprocess
import socket
import tempfile
import threading
import unittest

import vsmtpd_fixture as fx
from test_relay import SMTP_SINK, ScriptedUpstream, SmtpSink, parse_sink_dump, wait_for

SENDER = "alice@example.org"
RCPT = "bob@example.net"
CONTENT = (b"From: Alice <alice@example.org>\r\n"
           b"To: Bob <bob@example.net>\r\n"
           b"Subject: extensions\r\n"
           b"\r\n"
           b".leading dot\r\n"
           b".\r\n"
           b"caf\xc3\xa9 8-bit body\r\n"
           b"last line\r\n")
UTF8_HEADER = (b"From: Alice <alice@example.org>\r\n"
               b"Subject: caf\xc3\xa9\r\n"
               b"\r\n"
               b"body\r\n")

class Upstream(ScriptedUpstream):
    """An SMTP (or LMTP) server in a thread offering ``extensions``
    (STARTTLS too when it has a ``tls_context``), recording per message:
    the MAIL and RCPT lines, how the content came (``via``: DATA or BDAT,
    the BDAT commands), the bytes on the wire after 354 (``wire``) and the
    content (``content``, unstuffed or the chunks joined); ``lines``: every
    command. ``bdat_reply``: the reply to every BDAT (its bytes are read).
    The listening socket and threads are test_relay's ScriptedUpstream's."""

    def __init__(self, extensions=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"),
                 tls_context=None, lmtp=False, bdat_reply=None, bdat_stall=None):
        self.bdat_reply = bdat_reply
        self.bdat_stall = bdat_stall    # stop reading after that many BDAT bytes
        self.tail = None                # what came after the stall, to the end
        self.messages = []
        self.lines = []
        super().__init__(lmtp=lmtp, extensions=extensions, tls_context=tls_context)

    def _session(self, conn, n):
        conn.settimeout(fx.IO_TIMEOUT)
        state = {"sock": conn, "tls": False, "buf": bytearray()}

        def fill():
            chunk = state["sock"].recv(65536)
            if not chunk:
                raise EOFError
            state["buf"].extend(chunk)

        def line():
            while b"\r\n" not in state["buf"]:
                fill()
            end = state["buf"].index(b"\r\n")
            l = bytes(state["buf"][:end])
            del state["buf"][:end + 2]
            return l

        def exactly(n):
            while len(state["buf"]) < n:
                fill()
            data = bytes(state["buf"][:n])
            del state["buf"][:n]
            return data

        def send(text):
            state["sock"].sendall(text.encode() + b"\r\n")

        send("220 upstream.test ESMTP")
        tx = None
        while True:
            cmd = line()
            text = cmd.decode("utf-8", "replace")
            with self.lock:
                self.lines.append(text)
            verb = text.split(" ", 1)[0].upper()
            if verb == ("LHLO" if self.lmtp else "EHLO"):
                ext = list(self.extensions)
                if self.tls_context is not None and not state["tls"]:
                    ext.append("STARTTLS")
                lines = ["upstream.test"] + ext
                send("\r\n".join([f"250-{l}" for l in lines[:-1]] + [f"250 {lines[-1]}"]))
            elif verb == "STARTTLS" and self.tls_context is not None:
                send("220 2.0.0 Ready to start TLS")
                state["sock"] = self.tls_context.wrap_socket(conn, server_side=True)
                state["tls"] = True
                state["buf"] = bytearray()
            elif verb == "RSET":
                tx = None
                send("250 2.0.0 Ok")
            elif verb == "MAIL":
                tx = {"mail": text, "rcpts": [], "tls": state["tls"], "bdat": [],
                      "content": b""}
                send("250 2.1.0 Ok")
            elif verb == "RCPT":
                tx["rcpts"].append(text)
                send("250 2.1.5 Ok")
            elif verb == "DATA":
                send("354 go ahead")
                wire = bytearray()
                while not wire.endswith(b"\r\n.\r\n") and wire != b".\r\n":
                    if not state["buf"]:
                        fill()
                    wire.extend(state["buf"])
                    state["buf"] = bytearray()
                lines = bytes(wire[:-3]).split(b"\r\n")
                tx.update(via="DATA", wire=bytes(wire),
                          content=b"\r\n".join(l[1:] if l.startswith(b".") else l
                                               for l in lines))
                with self.lock:
                    self.messages.append(tx)
                tx = None
                send("250 2.0.0 Ok: queued as UP1")
            elif verb == "BDAT":
                words = text.split()
                last = len(words) == 3 and words[2].upper() == "LAST"
                tx["bdat"].append(text)
                if self.bdat_stall is not None and len(tx["content"]) >= self.bdat_stall:
                    self.content_started.set()
                    self.resume.wait(fx.IO_TIMEOUT * 6)
                    tail = bytearray(state["buf"])
                    while True:
                        try:
                            chunk = state["sock"].recv(1 << 20)
                        except ConnectionResetError:    # closed with replies unread
                            chunk = b""
                        if not chunk:
                            break
                        tail.extend(chunk)
                    self.tail = bytes(tail)
                    raise EOFError
                tx["content"] += exactly(int(words[1]))
                if self.bdat_reply is not None:
                    send(self.bdat_reply)
                elif last:
                    tx["via"] = "BDAT"
                    with self.lock:
                        self.messages.append(tx)
                    for rcpt in (tx["rcpts"] if self.lmtp else ["-"]):
                        send("250 2.0.0 Ok: queued as UP2")
                    tx = None
                else:
                    send(f"250 2.0.0 {words[1]} octets received")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                return
            elif verb == "NOOP":
                send("250 2.0.0 Ok")
            else:
                send("502 5.5.2 unknown command")


class RecordingProxy:
    """A TCP proxy on loopback to ``port`` that records what its clients
    send (``sent``), so a test sees the commands a real upstream got."""

    def __init__(self, port):
        self.target = port
        self.sent = bytearray()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, server, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    self.sent.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def make_pki(folder):
    """A test CA and a certificate for mail.test signed by it."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=folder,
                       stdin=subprocess.DEVNULL, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=vsmtpd test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=mail.test")
    with open(os.path.join(folder, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:mail.test\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return os.path.join(folder, "ca.pem")


class RelayExtensionsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vsmtpd-relayx-")
        cls.ca = make_pki(cls.tmp)
        cls.upstream_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cls.upstream_tls.load_cert_chain(os.path.join(cls.tmp, "server.pem"),
                                         os.path.join(cls.tmp, "server.key"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def upstream(self, *extensions, tls=False, **kw):
        u = Upstream(extensions or ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"),
                     tls_context=self.upstream_tls if tls else None, **kw)
        self.addCleanup(lambda: self.assertEqual(u.errors, []))
        self.addCleanup(u.close)
        return u

    def sink(self, *args):
        s = SmtpSink(*args)
        self.addCleanup(s.cleanup)
        return s.start()

    def relay(self, upstream, extra="", server=""):
        config = ("[relay]\nhost=127.0.0.1\n"
                  f"port={upstream.port}\n{extra}"
                  + ("" if "timeout=" in extra else "timeout=10\n"))
        d = fx.Vsmtpd(plugins=("relay",), config=config, server=server,
                      args=["--tls-cert", fx_cert(), "--tls-key", fx_key()])
        self.addCleanup(d.cleanup)
        d.start()
        # a clean exit (under the sanitizer: no leak either)
        self.addCleanup(lambda: self.assertEqual(d.stop(), 0, d.stderr_text()))
        self.daemon = d
        return d

    def send(self, d, content=CONTENT, mail_options=(), rcpt_options=(),
             sender=SENDER, rcpts=(RCPT,), tls=False):
        """One message through the relay; returns the final (code, text)."""
        s = smtplib.SMTP("127.0.0.1", d.port, timeout=fx.IO_TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s.starttls(context=ctx)
            s.ehlo("client.example")
        code, msg = s.mail(sender, list(mail_options))
        self.assertEqual(code, 250, msg)
        for rcpt in rcpts:
            code, msg = s.rcpt(rcpt, list(rcpt_options))
            self.assertEqual(code, 250, msg)
        if "BODY=BINARYMIME" in mail_options:
            s.putcmd(f"BDAT {len(content)} LAST")
            s.send(content)
            code, msg = s.getreply()
        else:
            code, msg = s.data(content)
        s.quit()
        return code, msg.decode()

    def assertReply(self, reply, code, esc, log=""):
        self.assertEqual(reply[0], code, (reply, log))
        self.assertTrue(reply[1].startswith(esc + " "), reply)

    def relayed(self, upstream):
        msgs = wait_for(lambda: upstream.messages, "the message upstream")
        self.assertEqual(len(msgs), 1, msgs)
        return msgs[0]

    def body(self, msg):
        """The content after our Received header."""
        header, body = fx.split_received(msg["content"])
        return body

    # CHUNKING -------------------------------------------------------------

    def test_bdat_when_upstream_offers_chunking(self):
        u = self.upstream("PIPELINING", "8BITMIME", "CHUNKING")
        d = self.relay(u)
        self.assertReply(self.send(d), 250, "2.0.0")
        msg = self.relayed(u)
        self.assertEqual(msg["via"], "BDAT")
        # one chunk, the whole stored message, LAST; no dot-stuffing
        self.assertEqual(msg["bdat"], [f"BDAT {len(msg['content'])} LAST"])
        self.assertEqual(self.body(msg), CONTENT)
        self.assertNotIn("DATA", u.lines)

    def test_bdat_large_message_in_chunks(self):
        u = self.upstream("PIPELINING", "8BITMIME", "CHUNKING")
        d = self.relay(u)
        # 3 MB: more chunks than the relay sends before it reads replies
        content = b"Subject: big\r\n\r\n" + (b"." + b"y" * 998 + b"\r\n") * 3000
        self.assertReply(self.send(d, content), 250, "2.0.0")
        msg = self.relayed(u)
        self.assertGreater(len(msg["bdat"]), 40, len(msg["bdat"]))
        self.assertTrue(msg["bdat"][-1].endswith(" LAST"), msg["bdat"])
        self.assertTrue(all(not b.endswith("LAST") for b in msg["bdat"][:-1]))
        self.assertEqual(self.body(msg), content)

    def test_bdat_without_pipelining(self):
        u = self.upstream("8BITMIME", "CHUNKING")
        d = self.relay(u)
        content = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 200
        self.assertReply(self.send(d, content), 250, "2.0.0")
        msg = self.relayed(u)
        self.assertGreater(len(msg["bdat"]), 1, msg["bdat"])
        self.assertEqual(self.body(msg), content)

    def test_client_leaves_while_chunks_are_sent(self):
        # more than the loopback socket buffers hold, so the relay is still
        # writing chunks while the upstream does not read
        u = self.upstream("PIPELINING", "8BITMIME", "CHUNKING", bdat_stall=256 * 1024)
        d = self.relay(u, "timeout=600\n",
                       server="max-message-size=100000000\ndecision-timeout=600\n")
        line = b"0123456789abcdefghijklmnopqrstuvwxyz.0123456789abcdefghijklmnopqrstuvwxyz\r\n"
        content = b"Subject: big\r\n\r\n" + line * (32 * 1024 * 1024 // len(line))
        c = fx.RawClient(d.port, timeout=120)
        self.addCleanup(c.close)
        self.assertEqual(c.cmd("EHLO client.example").code, 250)
        self.assertEqual(c.cmd(f"MAIL FROM:<{SENDER}>").code, 250)
        self.assertEqual(c.cmd(f"RCPT TO:<{RCPT}>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(content.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        wait_for(u.content_started.is_set, "the chunks at the upstream", 120)
        c.close()
        wait_for(lambda: "connection closed without the BDAT LAST" in d.stderr_text(),
                 "the relay's cancellation line", 120)
        u.resume.set()
        tail = wait_for(lambda: u.tail, "the end of the upstream connection", 120)
        self.assertNotIn(b" LAST\r\n", tail)
        self.assertEqual(u.messages, [])

    def test_bdat_chunk_refused(self):
        for pipelining, lines in ((True, 200), (False, 200), (True, 3000)):
            with self.subTest(pipelining=pipelining, lines=lines):
                ext = ["8BITMIME", "CHUNKING"] + (["PIPELINING"] if pipelining else [])
                u = self.upstream(*ext, bdat_reply="552 5.3.4 Message too big")
                d = self.relay(u)
                content = b"Subject: big\r\n\r\n" + (b"w" * 998 + b"\r\n") * lines
                reply = self.send(d, content)
                self.assertEqual(reply, (552, "5.3.4 upstream: Message too big"))
                self.assertEqual(u.messages, [])
                bdats = [c for c in u.lines if c.startswith("BDAT")]
                if pipelining and lines == 200:     # all chunks sent, the last with LAST
                    self.assertGreater(len(bdats), 1, u.lines)
                    self.assertTrue(bdats[-1].endswith(" LAST"), bdats)
                elif pipelining:    # stopped when 32 replies were due, no LAST
                    # (the upstream may not have read all 32 when the
                    # relay closed the connection)
                    self.assertLessEqual(len(bdats), 32, bdats)
                    self.assertFalse([b for b in bdats if b.endswith(" LAST")], bdats)
                else:               # stopped at the first refusal, RSET
                    self.assertEqual(len(bdats), 1, u.lines)
                    wait_for(lambda: "RSET" in u.lines, "RSET")

    def test_bdat_lmtp_two_recipients(self):
        u = self.upstream("PIPELINING", "8BITMIME", "CHUNKING", lmtp=True)
        d = self.relay(u, "protocol=lmtp\n")
        reply = self.send(d, rcpts=(RCPT, "carol@example.net"))
        self.assertReply(reply, 250, "2.0.0")
        msg = self.relayed(u)
        self.assertEqual(msg["via"], "BDAT")
        self.assertEqual(len(msg["rcpts"]), 2)
        self.assertEqual(self.body(msg), CONTENT)

    def test_data_with_dot_stuffing_without_chunking(self):
        u = self.upstream()
        d = self.relay(u)
        self.assertReply(self.send(d), 250, "2.0.0")
        msg = self.relayed(u)
        self.assertEqual(msg["via"], "DATA")
        self.assertIn(b"\r\n..leading dot\r\n..\r\n", msg["wire"])
        self.assertEqual(self.body(msg), CONTENT)

    def test_binarymime_to_upstream_without_chunking(self):
        u = self.upstream("PIPELINING", "8BITMIME", "BINARYMIME")
        d = self.relay(u)
        reply = self.send(d, mail_options=["BODY=BINARYMIME"])
        self.assertReply(reply, 554, "5.6.3")
        self.assertEqual(u.messages, [])
        self.assertFalse([c for c in u.lines if c.startswith("MAIL")], u.lines)

    def test_binarymime_passed_on(self):
        u = self.upstream("PIPELINING", "8BITMIME", "BINARYMIME", "CHUNKING")
        d = self.relay(u)
        # NUL bytes and a bare LF are content too
        content = (b"Subject: bin\r\n\r\n\x01\x7f\xff\xfe binary\r\n"
                   b"\x00 and a bare\nline feed\r\n")
        reply = self.send(d, content, mail_options=["BODY=BINARYMIME"])
        self.assertReply(reply, 250, "2.0.0")
        msg = self.relayed(u)
        self.assertIn(" BODY=BINARYMIME", msg["mail"])
        self.assertEqual(msg["via"], "BDAT")
        self.assertEqual(self.body(msg), content)

    def test_8bitmime_to_upstream_without_8bitmime(self):
        u = self.upstream("PIPELINING", "ENHANCEDSTATUSCODES")
        d = self.relay(u)
        self.assertReply(self.send(d, mail_options=["BODY=8BITMIME"]), 554, "5.6.3")
        self.assertEqual(u.messages, [])
        # 7BIT (or nothing said) still goes through, without BODY=
        self.assertReply(self.send(d, b"Subject: 7\r\n\r\nascii\r\n",
                                   mail_options=["BODY=7BIT"]), 250, "2.0.0")
        msg = self.relayed(u)
        self.assertNotIn("BODY=", msg["mail"])

    def test_8bitmime_passed_on(self):
        u = self.upstream()
        d = self.relay(u)
        self.assertReply(self.send(d, mail_options=["BODY=8BITMIME"]), 250, "2.0.0")
        self.assertIn(" BODY=8BITMIME", self.relayed(u)["mail"])

    # SMTPUTF8 -------------------------------------------------------------

    def test_smtputf8_passed_on(self):
        u = self.upstream("PIPELINING", "8BITMIME", "SMTPUTF8")
        d = self.relay(u)
        reply = self.send(d, UTF8_HEADER, mail_options=["SMTPUTF8"])
        self.assertReply(reply, 250, "2.0.0")
        msg = self.relayed(u)
        self.assertTrue(msg["mail"].endswith(" SMTPUTF8"), msg["mail"])
        self.assertEqual(self.body(msg), UTF8_HEADER)

    def test_utf8_header_to_upstream_without_smtputf8(self):
        u = self.upstream()
        d = self.relay(u)
        reply = self.send(d, UTF8_HEADER, mail_options=["SMTPUTF8"])
        self.assertReply(reply, 550, "5.6.9")
        self.assertEqual(u.messages, [])

    def test_ascii_message_with_smtputf8_to_upstream_without(self):
        u = self.upstream()
        d = self.relay(u)
        content = b"Subject: plain\r\n\r\ncaf\xc3\xa9 in the body only\r\n"
        reply = self.send(d, content, mail_options=["SMTPUTF8"])
        self.assertReply(reply, 250, "2.0.0")
        msg = self.relayed(u)
        self.assertNotIn("SMTPUTF8", msg["mail"])
        self.assertEqual(self.body(msg), content)

    def test_utf8_address_to_upstream_without_smtputf8(self):
        u = self.upstream()
        d = self.relay(u)
        reply = self.send(d, b"Subject: x\r\n\r\nx\r\n", mail_options=["SMTPUTF8"],
                          rcpts=["b\u00f8b@example.net"])
        self.assertReply(reply, 550, "5.6.7")
        self.assertEqual(u.messages, [])

    def test_utf8_address_passed_on(self):
        u = self.upstream("PIPELINING", "8BITMIME", "SMTPUTF8")
        d = self.relay(u)
        reply = self.send(d, b"Subject: x\r\n\r\nx\r\n", mail_options=["SMTPUTF8"],
                          rcpts=["b\u00f8b@example.net"])
        self.assertReply(reply, 250, "2.0.0")
        msg = self.relayed(u)
        self.assertIn(" SMTPUTF8", msg["mail"])
        self.assertEqual(msg["rcpts"], ["RCPT TO:<b\u00f8b@example.net>"])

    # DSN ------------------------------------------------------------------

    DSN_MAIL = ["RET=HDRS", "ENVID=QQ314159+2B1"]
    DSN_RCPT = ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob+2Bx@example.net"]

    def test_dsn_passed_on_verbatim(self):
        u = self.upstream("PIPELINING", "8BITMIME", "DSN")
        d = self.relay(u)
        reply = self.send(d, mail_options=self.DSN_MAIL, rcpt_options=self.DSN_RCPT)
        self.assertReply(reply, 250, "2.0.0")
        msg = self.relayed(u)
        self.assertTrue(msg["mail"].endswith(" RET=HDRS ENVID=QQ314159+2B1"), msg["mail"])
        self.assertEqual(msg["rcpts"], [f"RCPT TO:<{RCPT}> NOTIFY=SUCCESS,FAILURE "
                                        "ORCPT=rfc822;bob+2Bx@example.net"])

    def test_dsn_dropped_and_logged(self):
        u = self.upstream()
        d = self.relay(u)
        reply = self.send(d, mail_options=self.DSN_MAIL, rcpt_options=self.DSN_RCPT)
        self.assertReply(reply, 250, "2.0.0")
        msg = self.relayed(u)
        for word in ("RET=", "ENVID=", "NOTIFY=", "ORCPT="):
            self.assertNotIn(word, msg["mail"] + " ".join(msg["rcpts"]))
        log = wait_for(lambda: "a \"relayed\" notice is due" in d.stderr_text()
                       and d.stderr_text(), "the DSN log line")
        self.assertIn("does not offer DSN", log)
        self.assertIn(f"<{RCPT}> asked for a notice (NOTIFY=SUCCESS): a \"relayed\" "
                      "notice is due, which vsmtpd does not send", log)

    @unittest.skipUnless(os.access(SMTP_SINK, os.X_OK), "no smtp-sink (postfix)")
    def test_dsn_to_smtp_sink(self):
        sink = self.sink()
        d = self.relay(sink)
        reply = self.send(d, mail_options=self.DSN_MAIL, rcpt_options=self.DSN_RCPT)
        self.assertReply(reply, 250, "2.0.0")
        records, _ = parse_sink_dump(wait_for(sink.messages, "the message at smtp-sink")[0])
        self.assertEqual(records["X-Mail-Args"][0].split()[2:],
                         ["RET=HDRS", "ENVID=QQ314159+2B1"])
        self.assertEqual(records["X-Rcpt-Args"],
                         [f"<{RCPT}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@example.net"])

    @unittest.skipUnless(os.access(SMTP_SINK, os.X_OK), "no smtp-sink (postfix)")
    def test_dsn_to_smtp_sink_without_dsn(self):
        sink = self.sink("-N")
        d = self.relay(sink)
        reply = self.send(d, mail_options=self.DSN_MAIL, rcpt_options=self.DSN_RCPT)
        self.assertReply(reply, 250, "2.0.0")
        records, _ = parse_sink_dump(wait_for(sink.messages, "the message at smtp-sink")[0])
        self.assertEqual(records["X-Mail-Args"], [f"<{SENDER}> BODY=8BITMIME"])
        self.assertEqual(records["X-Rcpt-Args"], [f"<{RCPT}>"])

    @unittest.skipUnless(os.access(SMTP_SINK, os.X_OK), "no smtp-sink (postfix)")
    def test_8bitmime_to_smtp_sink_without_8bitmime(self):
        sink = self.sink("-8")
        d = self.relay(sink)
        self.assertReply(self.send(d, mail_options=["BODY=8BITMIME"]), 554, "5.6.3")
        self.assertReply(self.send(d, mail_options=["SMTPUTF8"], content=UTF8_HEADER),
                         550, "5.6.9")
        self.assertEqual(sink.messages(), [])

    # REQUIRETLS and certificates ---------------------------------------------

    def verified(self, extra=""):
        return (f"tls-ca-file={self.ca}\ntls-server-name=mail.test\n"
                "starttls=opportunistic\n" + extra)

    def test_requiretls_to_verified_upstream(self):
        u = self.upstream("PIPELINING", "8BITMIME", "REQUIRETLS", tls=True)
        d = self.relay(u, self.verified())
        reply = self.send(d, mail_options=["REQUIRETLS"], tls=True)
        self.assertReply(reply, 250, "2.0.0")
        msg = self.relayed(u)
        self.assertTrue(msg["tls"])
        self.assertTrue(msg["mail"].endswith(" REQUIRETLS"), msg["mail"])

    def test_requiretls_forces_starttls(self):
        u = self.upstream("PIPELINING", "8BITMIME", "REQUIRETLS", tls=True)
        d = self.relay(u, self.verified().replace("opportunistic", "no"))
        # a message without REQUIRETLS first: plain text, as configured
        self.assertReply(self.send(d), 250, "2.0.0")
        reply = self.send(d, mail_options=["REQUIRETLS"], tls=True)
        self.assertReply(reply, 250, "2.0.0")
        msgs = wait_for(lambda: len(u.messages) == 2 and u.messages, "two messages")
        self.assertEqual([m["tls"] for m in msgs], [False, True])

    def test_requiretls_upstream_without_requiretls(self):
        u = self.upstream("PIPELINING", "8BITMIME", tls=True)
        d = self.relay(u, self.verified())
        reply = self.send(d, mail_options=["REQUIRETLS"], tls=True)
        self.assertReply(reply, 550, "5.7.30")
        self.assertEqual(u.messages, [])

    def test_requiretls_plain_upstream(self):
        u = self.upstream("PIPELINING", "8BITMIME", "REQUIRETLS")
        d = self.relay(u, self.verified().replace("opportunistic", "required"))
        reply = self.send(d, mail_options=["REQUIRETLS"], tls=True)
        self.assertReply(reply, 550, "5.7.30")
        self.assertEqual(u.messages, [])

    def test_requiretls_unverified_upstream(self):
        # the test CA is not in the system's store; tls-verify=false does
        # not count for REQUIRETLS
        u = self.upstream("PIPELINING", "8BITMIME", "REQUIRETLS", tls=True)
        d = self.relay(u, "tls-server-name=mail.test\ntls-verify=false\n")
        reply = self.send(d, mail_options=["REQUIRETLS"], tls=True)
        self.assertReply(reply, 550, "5.7.30")
        self.assertEqual(u.messages, [])
        # the same relay takes a message without REQUIRETLS there
        self.assertReply(self.send(d), 250, "2.0.0")
        self.assertTrue(self.relayed(u)["tls"])

    def test_server_name_mismatch_fails(self):
        u = self.upstream("PIPELINING", "8BITMIME", "REQUIRETLS", tls=True)
        d = self.relay(u, f"tls-ca-file={self.ca}\ntls-server-name=other.test\n"
                          "starttls=required\n")
        self.assertReply(self.send(d), 451, "4.4.2")
        self.assertReply(self.send(d, mail_options=["REQUIRETLS"], tls=True), 550, "5.7.30")
        self.assertEqual(u.messages, [])

    def test_tls_required_no_lets_unverified_through(self):
        u = self.upstream("PIPELINING", "8BITMIME", tls=True)
        d = self.relay(u, "tls-server-name=mail.test\nstarttls=required\n")
        # tls-verify is on and the CA unknown: refused
        self.assertReply(self.send(d), 451, "4.4.2")
        content = b"TLS-Required: No\r\n" + CONTENT
        self.assertReply(self.send(d, content), 250, "2.0.0")
        msg = self.relayed(u)
        self.assertTrue(msg["tls"])
        self.assertEqual(self.body(msg), content)
        # the unverified connection is not reused for a message without it
        self.assertReply(self.send(d), 451, "4.4.2", d.stderr_text())

    def test_tls_required_no_lets_plain_through(self):
        u = self.upstream()
        d = self.relay(u, "starttls=required\n")
        self.assertReply(self.send(d), 451, "4.4.2")
        content = b"TLS-Required: no\r\n" + CONTENT
        self.assertReply(self.send(d, content), 250, "2.0.0")
        self.assertFalse(self.relayed(u)["tls"])

    def test_requiretls_to_vsmtpd_upstream(self):
        # vsmtpd as the upstream, with the test CA's certificate for
        # mail.test, offering REQUIRETLS after STARTTLS, CHUNKING, SMTPUTF8
        # and DSN
        upstream = fx.Vsmtpd(plugins=("maildir",),
                             args=["--tls-cert", os.path.join(self.tmp, "server.pem"),
                                   "--tls-key", os.path.join(self.tmp, "server.key")])
        self.addCleanup(upstream.cleanup)
        upstream.start()
        d = self.relay(upstream, self.verified())
        content = b"Subject: caf\xc3\xa9\r\n\r\n.dot\r\n"
        reply = self.send(d, content, mail_options=["REQUIRETLS", "SMTPUTF8"],
                          rcpt_options=["NOTIFY=NEVER"], tls=True)
        self.assertReply(reply, 250, "2.0.0")
        files = wait_for(upstream.delivered, "the message at the upstream")
        self.assertEqual(len(files), 1)
        theirs, rest = fx.split_received(files[0], return_path=SENDER)
        self.assertIn(b"UTF8SMTPS" if b"UTF8SMTP" in theirs else b"ESMTPS", theirs)
        ours, body = fx.split_received(rest)
        self.assertEqual(body, content)
        self.assertEqual(upstream.stop(), 0, upstream.stderr_text())

    def test_bdat_to_vsmtpd_lmtp_listener(self):
        # vsmtpd's LMTP listener as the upstream: it offers CHUNKING, so the
        # relay sends BDAT and reads one reply per recipient after the LAST
        upstream = fx.Vsmtpd()
        self.addCleanup(upstream.cleanup)
        upstream.port_lmtp = fx.free_port()
        upstream.extra_config = (f"[listener lmtp]\nlisten=127.0.0.1:{upstream.port_lmtp}\n"
                                 "protocol=lmtp\n")
        upstream.start()
        lmtp = smtplib.LMTP("127.0.0.1", upstream.port_lmtp, timeout=fx.IO_TIMEOUT)
        self.addCleanup(lmtp.close)
        lmtp.ehlo("client.example")
        self.assertTrue(lmtp.has_extn("chunking"), lmtp.esmtp_features)
        lmtp.quit()

        proxy = RecordingProxy(upstream.port_lmtp)
        self.addCleanup(proxy.close)
        d = self.relay(proxy, "protocol=lmtp\nstarttls=no\n")
        content = b"Subject: lmtp\r\n\r\n.dot\r\n" + b"z" * 100000 + b"\r\n"
        reply = self.send(d, content, rcpts=(RCPT, "carol@example.net"))
        self.assertReply(reply, 250, "2.0.0")
        files = wait_for(upstream.delivered, "the message at the upstream")
        self.assertEqual(len(files), 1, files)
        ours, body = fx.split_received(files[0], return_path=SENDER)
        self.assertEqual(body, content)
        sent = bytes(proxy.sent)
        self.assertIn(b"\r\nBDAT ", sent)
        self.assertRegex(sent, rb"BDAT \d+ LAST\r\n")
        self.assertNotIn(b"\r\nDATA\r\n", sent)
        self.assertEqual(upstream.stop(), 0, upstream.stderr_text())

    def test_bad_ca_file_refused_at_start(self):
        u = self.upstream()
        d = fx.Vsmtpd(plugins=("relay",),
                      config=f"[relay]\nhost=127.0.0.1\nport={u.port}\n"
                             f"tls-ca-file={os.path.join(self.tmp, 'missing.pem')}\n")
        self.addCleanup(d.cleanup)
        with self.assertRaises(fx.DaemonError) as cm:
            d.start(attempts=1)
        self.assertIn("tls-ca-file", str(cm.exception))


def fx_cert():
    return os.path.join(fx.SOURCE_ROOT, "tests", "data", "test-cert.pem")


def fx_key():
    return os.path.join(fx.SOURCE_ROOT, "tests", "data", "test-key.pem")


if __name__ == "__main__":
    fx.main()

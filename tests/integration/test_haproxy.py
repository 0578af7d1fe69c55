#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vsmtpd behind a real HAProxy (Debian's haproxy), PROXY protocol v1 and v2.

The test starts HAProxy in the foreground with its own configuration in a
temporary folder: two TCP frontends on loopback ports, one backend with
``send-proxy`` to a vsmtpd listener with ``proxy-protocol = v1``, one with
``send-proxy-v2`` to a listener with ``proxy-protocol = v2``, both with
``option smtpchk`` health checks (sent with the PROXY header: ``LOCAL`` for
v2). Clients connect to HAProxy from 127.0.0.2 (swaks ``--local-interface``,
Python sockets bound to another loopback address), HAProxy connects to vsmtpd
from 127.0.0.1, the only proxy-trusted address. Checked: the delivered
message's Received header and vsmtpd's log name the client's address, the
per-client connection limit counts that address, the health checks are
served (the backends are UP in HAProxy's ``show stat``, vsmtpd logs no
warning), and a connection straight to vsmtpd, from an untrusted address or
without a header, is closed without a greeting.

The HAProxy configuration written here is the one docs/deploying.md shows.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsmtpd_fixture as fx  # noqa: E402
from vsmtpd_fixture import RawClient, Vsmtpd  # noqa: E402

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
WAIT = 20.0

HAPROXY_CONFIG = """\
global
    stats socket {admin} mode 600 level admin

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend smtp_v1
    bind 127.0.0.1:{front_v1}
    default_backend vsmtpd_v1

frontend smtp_v2
    bind 127.0.0.1:{front_v2}
    default_backend vsmtpd_v2

backend vsmtpd_v1
    option smtpchk EHLO haproxy.example
    server vsmtpd 127.0.0.1:{back_v1} send-proxy check inter 1s

backend vsmtpd_v2
    option smtpchk EHLO haproxy.example
    server vsmtpd 127.0.0.1:{back_v2} send-proxy-v2 check inter 1s
"""


def closed_without_greeting(sock):
    """Whether the server closed @sock without sending a byte"""
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


class Client(RawClient):
    """A RawClient bound to @source"""

    def __init__(self, port, source, greeting=True):
        self.sock = socket.create_connection(("127.0.0.1", port), fx.IO_TIMEOUT,
                                             source_address=(source, 0))
        self.buf = b""
        self.greeting = self.reply() if greeting else None


@unittest.skipUnless(os.access(HAPROXY, os.X_OK), "haproxy is not installed")
class HAProxyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.back_v1, cls.back_v2 = fx.free_port(), fx.free_port()
        cls.daemon = Vsmtpd(
            server="max-connections-per-client=2\n",
            config=(f"[listener haproxy-v1]\nlisten=127.0.0.1:{cls.back_v1}\n"
                    "proxy-protocol=v1\nproxy-trusted=127.0.0.1\n\n"
                    f"[listener haproxy-v2]\nlisten=127.0.0.1:{cls.back_v2}\n"
                    "proxy-protocol=v2\nproxy-trusted=127.0.0.1\n"))
        cls.haproxy = None
        cls.tmp = tempfile.mkdtemp(prefix="vsmtpd-haproxy-")
        try:
            cls.daemon.start()
            cls.start_haproxy()
        except Exception:
            cls.stop_haproxy()
            cls.daemon.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def start_haproxy(cls):
        cls.admin = os.path.join(cls.tmp, "admin.sock")
        cls.front_v1, cls.front_v2 = fx.free_port(), fx.free_port()
        config = os.path.join(cls.tmp, "haproxy.cfg")
        with open(config, "w", encoding="utf-8") as f:
            f.write(HAPROXY_CONFIG.format(admin=cls.admin, front_v1=cls.front_v1,
                                          front_v2=cls.front_v2, back_v1=cls.back_v1,
                                          back_v2=cls.back_v2))
        cls.haproxy_log = open(os.path.join(cls.tmp, "haproxy.log"), "wb")
        cls.haproxy = subprocess.Popen([HAPROXY, "-f", config, "-db"],
                                       stdin=subprocess.DEVNULL, stdout=cls.haproxy_log,
                                       stderr=subprocess.STDOUT, cwd=cls.tmp)
        deadline = time.monotonic() + WAIT
        while True:
            if cls.haproxy.poll() is not None:
                raise RuntimeError("haproxy exited:\n" + cls.haproxy_text())
            try:
                for port in (cls.front_v1, cls.front_v2):
                    socket.create_connection(("127.0.0.1", port), 1).close()
                if os.path.exists(cls.admin):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("haproxy did not start:\n" + cls.haproxy_text())
            time.sleep(0.1)

    @classmethod
    def haproxy_text(cls):
        try:
            with open(os.path.join(cls.tmp, "haproxy.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    @classmethod
    def stop_haproxy(cls):
        if cls.haproxy is not None and cls.haproxy.poll() is None:
            cls.haproxy.send_signal(signal.SIGTERM)
            try:
                cls.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                cls.haproxy.kill()
                cls.haproxy.wait()
        if getattr(cls, "haproxy_log", None) is not None:
            cls.haproxy_log.close()

    @classmethod
    def tearDownClass(cls):
        cls.stop_haproxy()
        status = cls.daemon.stop()
        log = cls.daemon.stderr_text()
        cls.daemon.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if status != 0:
            raise AssertionError(f"vsmtpd exit status after SIGTERM: {status}\n{log}")

    def setUp(self):
        self.assertIsNone(self.daemon.proc.poll(), self.daemon.stderr_text())
        self.assertIsNone(self.haproxy.poll(), self.haproxy_text())
        self.daemon.clear_maildir()

    def admin_command(self, command):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(fx.IO_TIMEOUT)
            s.connect(self.admin)
            s.sendall(command.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode()
                out += chunk

    def server_status(self, backend):
        """The status column of the backend's server in ``show stat``"""
        lines = self.admin_command("show stat").splitlines()
        columns = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            fields = line.split(",")
            if fields[0] == backend and fields[1] == "vsmtpd":
                return fields[columns.index("status")], fields[columns.index("check_status")]
        return None, None

    def wait_log(self, text):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if text in self.daemon.stderr_text():
                return
            time.sleep(0.05)
        self.fail(f"{text!r} not in vsmtpd's log:\n{self.daemon.stderr_text()}")

    def swaks(self, port, source):
        result = subprocess.run(
            ["swaks", "--server", f"127.0.0.1:{port}", "--local-interface", source,
             "--helo", "client.example", "--from", "alice@example.org",
             "--to", "bob@example.org", "--body", "through haproxy"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout.decode(errors="replace"))

    def received(self):
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1)
        return fx.split_received(files[0])[0]

    def test_send_proxy_v1(self):
        self.swaks(self.front_v1, "127.0.0.2")
        received = self.received()
        self.assertIn(b"from client.example ([127.0.0.2])", received)
        self.wait_log("connect from [127.0.0.2] via proxy [127.0.0.1] (PROXY v1)")

    def test_send_proxy_v2(self):
        self.swaks(self.front_v2, "127.0.0.2")
        self.assertIn(b"from client.example ([127.0.0.2])", self.received())
        self.wait_log("connect from [127.0.0.2] via proxy [127.0.0.1] (PROXY v2)")

    def test_health_checks_are_served(self):
        start = len(self.daemon.stderr_text())
        deadline = time.monotonic() + WAIT
        while True:
            states = [self.server_status(b) for b in ("vsmtpd_v1", "vsmtpd_v2")]
            if all(status == "UP" for status, _ in states):
                break
            self.assertLess(time.monotonic(), deadline, f"{states}\n{self.daemon.stderr_text()}")
            time.sleep(0.2)
        # smtpchk is a full greeting, EHLO, QUIT under the PROXY header
        # (LOCAL for version 2), every second: wait for one of each
        while True:
            log = self.daemon.stderr_text()[start:]
            if "(PROXY v2 LOCAL)" in log and "via proxy [127.0.0.1] (PROXY v1)" in log:
                break
            self.assertLess(time.monotonic(), deadline, log)
            time.sleep(0.1)
        self.assertNotIn("WARNING", log)
        self.assertNotIn("refused", log)
        self.assertEqual([b for b in ("vsmtpd_v1", "vsmtpd_v2")
                          if self.server_status(b)[0] != "UP"], [])

    def test_connection_limit_counts_the_client(self):
        # max-connections-per-client=2: the third from 127.0.0.3 through
        # HAProxy is refused, one from 127.0.0.4 is not
        first = Client(self.front_v1, "127.0.0.3")
        second = Client(self.front_v2, "127.0.0.3")
        try:
            self.assertEqual(first.greeting.code, 220)
            self.assertEqual(second.greeting.code, 220)
            with Client(self.front_v1, "127.0.0.3") as third:
                self.assertEqual(third.greeting.code, 421)
                self.assertIn(b"too many connections from 127.0.0.3", third.greeting.text)
            with Client(self.front_v2, "127.0.0.4") as other:
                self.assertEqual(other.greeting.code, 220)
                other.cmd("QUIT")
        finally:
            first.close()
            second.close()

    def test_direct_connection_is_refused(self):
        # from an address that is not HAProxy's
        with socket.create_connection(("127.0.0.1", self.back_v1), fx.IO_TIMEOUT,
                                      source_address=("127.0.0.2", 0)) as s:
            self.assertTrue(closed_without_greeting(s))
        self.wait_log("connection from [127.0.0.2] on listener haproxy-v1 refused: "
                      "not in proxy-trusted")
        # from HAProxy's address, without a header (an SMTP client)
        with socket.create_connection(("127.0.0.1", self.back_v2), fx.IO_TIMEOUT) as s:
            s.sendall(b"EHLO direct.example\r\n")
            self.assertTrue(closed_without_greeting(s))
        self.wait_log("no PROXY protocol header")


if __name__ == "__main__":
    fx.main()

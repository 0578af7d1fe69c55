#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two vsmtpd behind a real HAProxy (PROXY v2, round robin) share the
ratelimit plugin's counts in a private Redis (Debian's redis-server).

Each test starts its own redis-server on a free loopback port (no
persistence, its folder a temporary one), two vsmtpd with
``[redis] url`` pointing at it and ``[ratelimit] per=client-address``,
``messages=10``, and HAProxy in front of both (``balance roundrobin``,
``send-proxy-v2``). Clients connect to HAProxy from 127.0.0.2, the address
both vsmtpd limit. Checked: of 20 messages spread over both instances
exactly 10 are accepted, the others get 450 4.7.1; with Redis killed in
the middle of a run MAIL FROM gets 451 4.3.0, neither vsmtpd dies, each
logs the outage once; with Redis started again on the same port the
service comes back without a restart (the next message is accepted, and
the limit holds again). Redis stopped (SIGSTOP, connected but silent):
451 4.3.0 once [redis] command-timeout has passed, back after SIGCONT.
[redis] url=unix:PATH with password, database and prefix: the keys are
where docs/scale-out.md says; a wrong password gives 451 4.3.0.
on-store-error=accept lets mail through with Redis down. Without
[redis], each vsmtpd counts alone: the same 20 messages all pass.

The HAProxy configuration written here is the one docs/scale-out.md shows.
"""

import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsmtpd_fixture as fx  # noqa: E402
from vsmtpd_fixture import Vsmtpd  # noqa: E402

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
WAIT = 30.0
CLIENT = "127.0.0.2"

HAPROXY_CONFIG = """\
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend smtp
    bind 127.0.0.1:{front}
    default_backend vsmtpd

backend vsmtpd
    balance roundrobin
    option smtpchk EHLO haproxy.example
    server vsmtpd1 127.0.0.1:{back1} send-proxy-v2 check inter 1s
    server vsmtpd2 127.0.0.1:{back2} send-proxy-v2 check inter 1s
"""

LISTENER = """\
[listener haproxy]
listen=127.0.0.1:{port}
proxy-protocol=v2
proxy-trusted=127.0.0.1
"""

RATELIMIT = """\
[ratelimit]
messages=10
interval=3600
per=client-address
"""


def wait_until(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


class Redis:
    """A private redis-server on @port, started and killed by the test"""

    def __init__(self, tmp, unix=False, password=None):
        self.dir = os.path.join(tmp, "redis")
        os.mkdir(self.dir)
        self.unix = os.path.join(self.dir, "redis.sock") if unix else None
        self.port = 0 if unix else fx.free_port()
        self.password = password
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        # ::1 too if there is IPv6 ("-": optional), for redis://localhost
        args = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "-::1",
                "--save", "", "--appendonly", "no", "--dir", self.dir]
        if self.unix:
            args += ["--unixsocket", self.unix, "--unixsocketperm", "700"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        wait_until(lambda: self.command("PING") == b"+PONG\r\n",
                   "redis-server answers PING")

    def command(self, *words):
        """One command's raw reply (after AUTH if need be), b"" if none"""
        if self.proc.poll() is not None:
            raise RuntimeError("redis-server exited:\n" + self.text())
        try:
            if self.unix:
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(2)
                s.connect(self.unix)
            else:
                s = socket.create_connection(("127.0.0.1", self.port), 2)
            with s:
                if self.password:
                    s.sendall(f"AUTH {self.password}\r\n".encode())
                    s.recv(64)
                s.sendall(" ".join(words).encode() + b"\r\n")
                return s.recv(4096)
        except OSError:
            return b""

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.log.close()

    def text(self):
        with open(os.path.join(self.dir, "redis.log"), "rb") as f:
            return f.read().decode(errors="replace")


@unittest.skipUnless(os.access(HAPROXY, os.X_OK), "haproxy is not installed")
@unittest.skipUnless(os.access(REDIS, os.X_OK), "redis-server is not installed")
class SharedRateLimitTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-redis-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.redis = Redis(self.tmp)
        self.addCleanup(self.redis.kill)
        self.redis.start()
        self.daemons = [self.daemon(f"[redis]\nurl=redis://127.0.0.1:{self.redis.port}\n"
                                    "command-timeout=5\n")
                        for _ in range(2)]
        self.front = self.start_haproxy(self.daemons)

    def daemon(self, redis_config):
        back = fx.free_port()
        d = Vsmtpd(plugins=("ratelimit", "maildir"),
                   config=LISTENER.format(port=back) + "\n" + RATELIMIT + "\n" + redis_config)
        d.back = back
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def start_haproxy(self, daemons):
        front = fx.free_port()
        config = os.path.join(self.tmp, "haproxy.cfg")
        with open(config, "w", encoding="utf-8") as f:
            f.write(HAPROXY_CONFIG.format(front=front, back1=daemons[0].back,
                                          back2=daemons[1].back))
        log = open(os.path.join(self.tmp, "haproxy.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen([HAPROXY, "-f", config, "-db"], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)

        def listening():
            if proc.poll() is not None:
                raise RuntimeError("haproxy exited")
            try:
                socket.create_connection(("127.0.0.1", front), 1).close()
                return True
            except OSError:
                return False
        wait_until(listening, "haproxy listens")
        return front

    def send(self, i, port=None):
        """One transaction from CLIENT: the reply to MAIL FROM"""
        s = smtplib.SMTP("127.0.0.1", port or self.front, timeout=fx.IO_TIMEOUT,
                         source_address=(CLIENT, 0))
        try:
            s.ehlo("client.example")
            # a new sender each time: the limit is the client address's
            code, text = s.mail(f"sender{i}@client.example")
            if code == 250:
                self.assertEqual(s.rcpt("rcpt@example.org")[0], 250)
                self.assertEqual(s.data(f"Subject: {i}\r\n\r\nmessage {i}\r\n".encode())[0],
                                 250)
            s.quit()
        finally:
            s.close()
        return code, text.decode()

    def delivered(self):
        return [len(d.delivered()) for d in self.daemons]

    def assertAlive(self):
        for d in self.daemons:
            self.assertIsNone(d.proc.poll(), d.stderr_text())

    def test_limit_shared_by_two_instances(self):
        replies = [self.send(i) for i in range(20)]
        accepted = [r for r in replies if r[0] == 250]
        refused = [r for r in replies if r[0] != 250]
        self.assertEqual(len(accepted), 10, replies)
        self.assertEqual(len(refused), 10, replies)
        for code, text in refused:
            self.assertEqual(code, 450)
            self.assertTrue(text.startswith("4.7.1 Too many messages from this address"), text)
        delivered = self.delivered()
        self.assertEqual(sum(delivered), 10)
        # both instances served: the count was shared, not per instance
        self.assertGreater(delivered[0], 0)
        self.assertGreater(delivered[1], 0)
        # the 11th, 12th... were refused by both
        for d in self.daemons:
            self.assertIn(f"ratelimit: 10 messages from {CLIENT}", d.stderr_text())
        self.assertAlive()

    def test_redis_killed_and_restarted(self):
        for i in range(4):
            self.assertEqual(self.send(i)[0], 250)

        self.redis.kill()
        for i in range(4, 8):
            code, text = self.send(i)
            self.assertEqual(code, 451, text)
            self.assertTrue(text.startswith("4.3.0"), text)
        self.assertAlive()
        self.assertEqual(sum(self.delivered()), 4)
        for d in self.daemons:
            wait_until(lambda: "unreachable" in d.stderr_text(), "the outage logged")

        self.redis.start()
        # back without a restart: at most a backoff (5 s) later; a fresh
        # Redis (no persistence) has forgotten the four counted before
        attempts = 0
        while True:
            attempts += 1
            code, text = self.send(100 + attempts)
            if code == 250:
                break
            self.assertEqual(code, 451, text)
            self.assertLess(attempts, 200, "no recovery")
            time.sleep(0.1)
        replies = [self.send(200 + i) for i in range(12)]
        self.assertEqual([r[0] for r in replies], [250] * 9 + [450] * 3, replies)
        self.assertEqual(sum(self.delivered()), 4 + 10)
        self.assertAlive()
        for d in self.daemons:
            wait_until(lambda: "reachable again" in d.stderr_text(), "the recovery logged")
            # one line per outage, however many operations failed
            self.assertEqual(d.stderr_text().count("store operations fail until it is back"), 1,
                             d.stderr_text())

    def test_redis_not_answering(self):
        """redis-server stopped (SIGSTOP): connected, but silent. MAIL FROM
        gets 451 once command-timeout passed; SIGCONT: back."""
        # a host name: resolved with GResolver, the first address used
        d = self.daemon(f"[redis]\nurl=redis://localhost:{self.redis.port}\n"
                        "command-timeout=0.3\n")
        self.assertEqual(self.send(1, port=d.port)[0], 250, d.stderr_text())
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            code, text = self.send(2, port=d.port)
            self.assertEqual(code, 451, text)
            self.assertTrue(text.startswith("4.3.0"), text)
            self.assertIn(f"Redis redis://localhost:{self.redis.port} did not answer within 300 ms",
                          d.stderr_text())
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        attempts = 0
        while self.send(100 + attempts, port=d.port)[0] != 250:
            attempts += 1
            self.assertLess(attempts, 200, "no recovery")
            time.sleep(0.1)
        self.assertIsNone(d.proc.poll())
        wait_until(lambda: "reachable again" in d.stderr_text(), "the recovery logged")

    def test_on_store_error_accept(self):
        d = self.daemon(f"[redis]\nurl=redis://127.0.0.1:{self.redis.port}\n"
                        "[ratelimit]\non-store-error=accept\n")
        self.redis.kill()
        code, text = self.send(1, port=d.port)
        self.assertEqual(code, 250, text)
        self.assertEqual(len(d.delivered()), 1)
        self.assertIn("the store failed", d.stderr_text())


@unittest.skipUnless(os.access(REDIS, os.X_OK), "redis-server is not installed")
class UnixSocketPasswordTest(unittest.TestCase):
    """[redis] url=unix:PATH, password, database and prefix: the keys are
    where docs/scale-out.md says; a wrong password is an outage"""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-redis-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.redis = Redis(self.tmp, unix=True, password="s3cret")
        self.addCleanup(self.redis.kill)
        self.redis.start()

    def daemon(self, password):
        d = Vsmtpd(plugins=("ratelimit", "maildir"),
                   config=("[ratelimit]\nmessages=2\nper=client-address;sender-domain\n"
                           f"[redis]\nurl=unix:{self.redis.unix}\npassword={password}\n"
                           "database=3\nprefix=site1:\n"))
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def test_keys(self):
        d = self.daemon("s3cret")
        s = smtplib.SMTP("127.0.0.1", d.port, timeout=fx.IO_TIMEOUT)
        try:
            for i in range(2):
                s.sendmail(f"a{i}@Client.Example", ["r@example.org"], b"Subject: x\r\n\r\nx\r\n")
            code, text = s.mail("b@client.example")
            self.assertEqual(code, 450)
            self.assertTrue(text.startswith(b"4.7.1 Too many messages from this address"), text)
        finally:
            s.close()
        self.assertEqual(self.redis.command("SELECT 3\r\nZCARD",
                                            "site1:ratelimit:client-address:127.0.0.1"),
                         b"+OK\r\n:2\r\n")
        self.assertEqual(self.redis.command("SELECT 3\r\nZCARD",
                                            "site1:ratelimit:sender-domain:client.example"),
                         b"+OK\r\n:2\r\n")
        # nothing in database 0
        self.assertEqual(self.redis.command("DBSIZE"), b":0\r\n")

    def test_wrong_password(self):
        d = self.daemon("wrong")
        s = smtplib.SMTP("127.0.0.1", d.port, timeout=fx.IO_TIMEOUT)
        try:
            s.ehlo("client.example")
            code, text = s.mail("a@client.example")
            self.assertEqual(code, 451, text)
            self.assertTrue(text.startswith(b"4.3.0"), text)
        finally:
            s.close()
        wait_until(lambda: "AUTH refused" in d.stderr_text(), "the refusal logged")
        self.assertIsNone(d.proc.poll())


@unittest.skipUnless(os.access(HAPROXY, os.X_OK), "haproxy is not installed")
class InProcessRateLimitTest(SharedRateLimitTest):
    """Without [redis]: each instance counts alone (10 each); the messages
    alternate between the two, straight to them"""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-redis-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.daemons = [self.daemon("") for _ in range(2)]

    def test_limit_shared_by_two_instances(self):
        replies = [self.send(i, port=self.daemons[i % 2].port) for i in range(20)]
        self.assertEqual([r[0] for r in replies], [250] * 20, replies)
        self.assertEqual(self.delivered(), [10, 10])
        self.assertEqual(self.send(20, port=self.daemons[0].port)[0], 450)

    def test_redis_killed_and_restarted(self):
        self.skipTest("no Redis")

    def test_on_store_error_accept(self):
        self.skipTest("no Redis")

    def test_redis_not_answering(self):
        self.skipTest("no Redis")


if __name__ == "__main__":
    fx.main()

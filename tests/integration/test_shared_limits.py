#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Connections per client address and AUTH failures kept in the server's
store ([redis] share=connections;auth-failures): two vsmtpd given one
private redis-server enforce one max-connections-per-client and one
max-auth-failures.

Clients connect from 127.0.0.2 straight to either instance. Checked: with
max-connections-per-client=2 the third connection open at once from that
address, whichever instance it reaches, gets "421 4.7.0 ... too many
connections from 127.0.0.2" and nothing else; once one closes, the next
is greeted; the leases are where docs/scale-out.md says (a sorted set
PREFIX "connections:" IP). With max-auth-failures=3, three failed AUTH
spread over both instances lock the address out of both (454 4.7.0, to
the credentials and to a later AUTH command itself), a success takes no
count. Redis killed: new connections get 421 4.3.0
(on-store-error=tempfail, the default) and AUTH 454 4.7.0; with
on-store-error=accept they are let in; Redis started again: served again
without a restart. The same semantics with the in-process store (no
url). A reload that points [redis] url at a second redis-server: new
connections are counted there, the open ones stay counted in the first
until they close.
"""

import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsmtpd_fixture as fx  # noqa: E402
from vsmtpd_fixture import Vsmtpd  # noqa: E402
from test_redis import REDIS, Redis, wait_until  # noqa: E402

CLIENT = "127.0.0.2"
PASSWORD = "correct horse"


def crypt(password):
    r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                       stdout=subprocess.PIPE, check=True)
    return r.stdout.decode().strip()


class Client(fx.RawClient):
    """A RawClient from CLIENT"""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), fx.IO_TIMEOUT,
                                             source_address=(CLIENT, 0))
        self.buf = b""
        self.greeting = self.reply()


def plain(user, password):
    import base64
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


class SharedLimitsBase(unittest.TestCase):
    share = "connections;auth-failures"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-shared-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.passwd = os.path.join(self.tmp, "passwd")
        with open(self.passwd, "w", encoding="utf-8") as f:
            f.write(f"alice:{crypt(PASSWORD)}\n")

    def daemon(self, redis_url=None, extra=""):
        config = f"[passwd]\nfile={self.passwd}\n[redis]\nshare={self.share}\n"
        if redis_url:
            config += f"url={redis_url}\ncommand-timeout=2\n"
        d = Vsmtpd(plugins=("maildir", "passwd"),
                   server=("max-connections-per-client=2\nmax-auth-failures=3\n"
                           "auth-failure-window=3600\nauth-requires-tls=false\n"
                           "error-sleep-time=0\n"),
                   config=config + extra)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def connect(self, d):
        c = Client(d.port)
        self.addCleanup(c.close)
        return c

    def auth(self, d, password):
        with Client(d.port) as c:
            self.assertEqual(c.greeting.code, 220, c.greeting)
            self.assertEqual(c.cmd("EHLO client.example").code, 250)
            return c.cmd(f"AUTH PLAIN {plain('alice', password)}")

    def assertRefused(self, c, text=b"421 4.7.0 mx.vsmtpd-test.example Error: too many connections from "
                      + CLIENT.encode()):
        self.assertEqual(c.greeting.lines, [text], c.greeting)
        self.assertTrue(c.closed_by_peer())

    def check_connections(self, first, second):
        a = self.connect(first)
        b = self.connect(second)
        self.assertEqual(a.greeting.code, 220, a.greeting)
        self.assertEqual(b.greeting.code, 220, b.greeting)
        # the third, on either instance
        self.assertRefused(self.connect(first))
        self.assertRefused(self.connect(second))
        # one leaves: its lease goes back
        self.assertEqual(a.cmd("QUIT").code, 221)
        a.close()
        wait_until(lambda: self.greeted(second), "a connection after one closed")

    def greeted(self, d):
        """A connection is greeted (then closed); False when refused"""
        with Client(d.port) as c:
            if c.greeting.code == 220:
                c.cmd("QUIT")
                return True
            return False

    def check_auth(self, first, second):
        self.assertEqual(self.auth(first, PASSWORD).code, 235)
        for d in (first, second, first):
            r = self.auth(d, "wrong")
            self.assertEqual((r.code, r.esc), (535, "5.7.8"), r)
        blocked = [b"454 4.7.0 Too many failed authentication attempts, try again later"]
        for d in (second, first):
            r = self.auth(d, PASSWORD)
            self.assertEqual(r.lines, blocked)
            # refused at the command, before any challenge
            with Client(d.port) as c:
                self.assertEqual(c.cmd("EHLO client.example").code, 250)
                self.assertEqual(c.cmd("AUTH LOGIN").lines, blocked)


@unittest.skipUnless(os.access(REDIS, os.X_OK), "redis-server is not installed")
class RedisSharedLimitsTest(SharedLimitsBase):

    def setUp(self):
        super().setUp()
        self.redis = Redis(self.tmp)
        self.addCleanup(self.redis.kill)
        self.redis.start()
        self.url = f"redis://127.0.0.1:{self.redis.port}"

    def test_connections_across_instances(self):
        d1, d2 = self.daemon(self.url), self.daemon(self.url)
        a = self.connect(d1)
        self.assertEqual(a.greeting.code, 220)
        self.assertEqual(self.redis.command("ZCARD", f"vsmtp:connections:{CLIENT}"), b":1\r\n")
        # the lease lapses by itself within two minutes unless renewed
        pttl = int(self.redis.command("PTTL", f"vsmtp:connections:{CLIENT}")[1:])
        self.assertTrue(0 < pttl <= 120000, pttl)
        a.cmd("QUIT")
        a.close()
        wait_until(lambda: self.redis.command("EXISTS", f"vsmtp:connections:{CLIENT}")
                   == b":0\r\n", "the lease given back")
        self.check_connections(d1, d2)
        for d in (d1, d2):
            self.assertIsNone(d.proc.poll())

    def test_stop_gives_the_leases_back(self):
        """A graceful stop closes its open sessions (421) and gives their
        leases back before it exits: another instance does not count them
        for the two minutes a lease would live."""
        d = self.daemon(self.url)
        a, b = self.connect(d), self.connect(d)
        self.assertEqual((a.greeting.code, b.greeting.code), (220, 220))
        self.assertEqual(self.redis.command("ZCARD", f"vsmtp:connections:{CLIENT}"), b":2\r\n")
        self.assertEqual(d.stop(), 0, d.stderr_text())
        self.assertEqual(self.redis.command("EXISTS", f"vsmtp:connections:{CLIENT}"), b":0\r\n")

    def test_auth_failures_across_instances(self):
        d1, d2 = self.daemon(self.url), self.daemon(self.url)
        self.check_auth(d1, d2)
        # the counter, with the window's expiry
        self.assertEqual(self.redis.command("GET", f"vsmtp:auth-failures:{CLIENT}"),
                         b"$1\r\n3\r\n")
        ttl = int(self.redis.command("TTL", f"vsmtp:auth-failures:{CLIENT}")[1:])
        self.assertTrue(3000 < ttl <= 3600, ttl)

    def test_redis_killed_then_restarted(self):
        d = self.daemon(self.url)
        self.assertTrue(self.greeted(d))
        self.redis.kill()
        c = self.connect(d)
        self.assertRefused(c, b"421 4.3.0 mx.vsmtpd-test.example Error: cannot check the connection "
                              b"limit, try again later")
        self.assertIsNone(d.proc.poll())
        self.redis.start()
        attempts = 0
        while not self.greeted(d):
            attempts += 1
            self.assertLess(attempts, 200, "no recovery")
            time.sleep(0.1)
        self.assertIsNone(d.proc.poll())

    def test_no_lease_left_by_a_timed_out_admission(self):
        """Redis stopped (SIGSTOP): the connection gets 421 4.3.0 once
        command-timeout passed, but Redis runs the lease script it was sent
        when it goes on (SIGCONT); vsmtpd gives that lease back once Redis
        answers again, instead of leaving it counted for two minutes."""
        d = self.daemon(self.url)
        # connected to Redis already: the lease script goes out at once
        self.assertTrue(self.greeted(d))
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            c = self.connect(d)
            self.assertRefused(c, b"421 4.3.0 mx.vsmtpd-test.example Error: cannot check the "
                                  b"connection limit, try again later")
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: self.greeted(d), "Redis answering again")
        wait_until(lambda: self.redis.command("EXISTS", f"vsmtp:connections:{CLIENT}")
                   == b":0\r\n", "the timed-out lease given back")
        self.assertIsNone(d.proc.poll())

    def test_no_lease_left_by_a_session_closed_while_redis_is_paused(self):
        """A session that closes while Redis does not run writes (CLIENT
        PAUSE WRITE, longer than command-timeout: vsmtpd's ZREM times out
        and its connection is dropped, the ZREM never runs): its lease is
        given back once Redis answers again, instead of counting the
        address for two minutes."""
        d = self.daemon(self.url)
        c = self.connect(d)
        self.assertEqual(c.greeting.code, 220)
        key = f"vsmtp:connections:{CLIENT}"
        self.assertEqual(self.redis.command("ZCARD", key), b":1\r\n")
        self.assertEqual(self.redis.command("CLIENT", "PAUSE", "4000", "WRITE"), b"+OK\r\n")
        self.assertEqual(c.cmd("QUIT").code, 221)
        c.close()
        wait_until(lambda: "unreachable (a command timed out)" in d.stderr_text(),
                   "the release timing out")
        # not given back by then
        self.assertEqual(self.redis.command("ZCARD", key), b":1\r\n")
        wait_until(lambda: self.redis.command("EXISTS", key) == b":0\r\n",
                   "the lease given back")
        self.assertIsNone(d.proc.poll())

    def test_redis_killed_auth(self):
        self.share = "auth-failures"
        d = self.daemon(self.url)
        self.redis.kill()
        r = self.auth(d, PASSWORD)
        self.assertEqual(r.lines, [b"454 4.7.0 Temporary authentication failure"])
        self.redis.start()
        attempts = 0
        while self.auth(d, PASSWORD).code != 235:
            attempts += 1
            self.assertLess(attempts, 200, "no recovery")
            time.sleep(0.1)

    def test_on_store_error_accept(self):
        d = self.daemon(self.url, extra="on-store-error=accept\n")
        self.redis.kill()
        self.assertTrue(self.greeted(d), d.stderr_text())
        self.assertEqual(self.auth(d, PASSWORD).code, 235)

    def test_reload_to_another_redis(self):
        d = self.daemon(self.url)
        a = self.connect(d)
        self.assertEqual(a.greeting.code, 220)
        os.mkdir(os.path.join(self.tmp, "other"))
        other = Redis(os.path.join(self.tmp, "other"))
        self.addCleanup(other.kill)
        other.start()
        with open(d.config_path, encoding="utf-8") as f:
            text = f.read()
        with open(d.config_path, "w", encoding="utf-8") as f:
            f.write(text.replace(self.url, f"redis://127.0.0.1:{other.port}"))
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in d.stderr_text(), "the reload")
        self.assertIn(f"the shared state is in redis://127.0.0.1:{other.port} from now on",
                      d.stderr_text())
        b = self.connect(d)
        self.assertEqual(b.greeting.code, 220)
        self.assertEqual(other.command("ZCARD", f"vsmtp:connections:{CLIENT}"), b":1\r\n")
        self.assertEqual(self.redis.command("ZCARD", f"vsmtp:connections:{CLIENT}"), b":1\r\n")
        # the first one's lease goes back to the first Redis
        a.cmd("QUIT")
        a.close()
        wait_until(lambda: self.redis.command("EXISTS", f"vsmtp:connections:{CLIENT}")
                   == b":0\r\n", "the old lease given back")


class MemorySharedLimitsTest(SharedLimitsBase):
    """share= with the in-process store: the same replies from one instance"""

    def test_connections(self):
        d = self.daemon()
        self.check_connections(d, d)

    def test_auth_failures(self):
        d = self.daemon()
        self.check_auth(d, d)


class ShareConfigTest(unittest.TestCase):
    def test_bad_share(self):
        d = Vsmtpd(config="[redis]\nshare=connections, sessions\n")
        self.addCleanup(d.cleanup)
        with self.assertRaises(fx.DaemonError):
            d.start(attempts=1)
        self.assertIn('[redis] share: "sessions" is not connections or auth-failures',
                      d.stderr_text())


if __name__ == "__main__":
    fx.main()

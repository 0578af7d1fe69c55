#!/usr/bin/python3
"""Robustness of vsmtpd: kill -9 while clients deliver loses no accepted mail,
and thousands of idle connections are held while mail keeps flowing.

These tests assert correctness, never timing: the figures they measure (RSS
per idle connection, messages checked) are printed as TAP diagnostics.
"""

import os
import resource
import selectors
import signal
import smtplib
import subprocess
import socket
import threading
import time
import unittest

import vsmtpd_fixture as fx

SENDER = "load@sender.example"
RCPT = "sink@rcpt.example"


def body_for(token):
    lines = "".join(f"{token} line {i:04d} {'x' * 60}\r\n" for i in range(300))
    return (f"Subject: {token}\r\nMessage-Id: <{token}@test>\r\n\r\n{lines}").encode()


def vmrss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class CrashSafetyTest(unittest.TestCase):
    """kill -9 in the middle of deliveries: every message that got a 250 is
    complete in new/, new/ holds no partial file, and a restarted daemon on
    the same maildir just works."""

    WORKERS = 8

    def test_kill_9_loses_nothing_accepted(self):
        d = fx.Vsmtpd()
        self.addCleanup(d.cleanup)
        d.start()

        accepted = set()
        attempted = set()
        lock = threading.Lock()
        stop = threading.Event()

        def worker(n):
            i = 0
            try:
                s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
                s.ehlo("crash.test")
                while not stop.is_set() and i < 2000:
                    token = f"w{n}m{i}"
                    i += 1
                    with lock:
                        attempted.add(token)
                    s.sendmail(SENDER, [RCPT], body_for(token))
                    with lock:
                        accepted.add(token)
            except (smtplib.SMTPException, OSError):
                pass

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(self.WORKERS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if len(accepted) >= 200:
                    break
            time.sleep(0.02)
        # in the middle of deliveries
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait()
        stop.set()
        for t in threads:
            t.join(30)

        with lock:
            accepted_now = set(accepted)
        self.assertGreater(len(accepted_now), 0, "no message was accepted before the kill")

        found = {}
        for path in d.maildir_files("new"):
            with open(path, "rb") as f:
                data = f.read()
            header, content = fx.split_received(data, return_path=SENDER)
            token = content.split(b"\r\n", 1)[0][len(b"Subject: "):].decode()
            self.assertIn(token, attempted, f"unknown message in new/: {path}")
            # complete, byte-exact: no partial file ever reaches new/
            self.assertEqual(content, body_for(token), f"partial or corrupt file {path}")
            found[token] = path

        lost = sorted(accepted_now - set(found))
        self.assertEqual(lost, [], "messages answered 250 but missing from new/")
        print(f"# kill -9: {len(accepted_now)} messages got 250, {len(found)} complete files "
              f"in new/, {len(d.maildir_files('tmp'))} leftovers in tmp/, 0 lost", flush=True)

        # restart on the same maildir: nothing to repair, delivery goes on
        d2 = fx.Vsmtpd()
        self.addCleanup(d2.cleanup)
        d2.maildir = d.maildir
        d2.start()
        with smtplib.SMTP("127.0.0.1", d2.port, timeout=10) as s:
            s.sendmail(SENDER, [RCPT], body_for("after-restart"))
        self.assertEqual(len(d2.maildir_files("new")), len(found) + 1)
        self.assertEqual(d2.stop(), 0)


class ManyConnectionsTest(unittest.TestCase):
    """Thousands of idle connections are held while another client delivers."""

    CONNECTIONS = 5000

    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 2 * self.CONNECTIONS + 1000
        if hard != resource.RLIM_INFINITY and hard < need:
            self.skipTest(f"RLIMIT_NOFILE hard limit {hard} < {need}")
        if soft == resource.RLIM_INFINITY or soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    @unittest.skipIf(os.environ.get("VSMTP_TEST_SANITIZER"),
                     "memory per connection is not meaningful under AddressSanitizer")
    def test_idle_connections_held(self):
        d = fx.Vsmtpd(options=("server.max-connections-per-client=0",
                               "server.max-connections=0"))
        self.addCleanup(d.cleanup)
        d.start()
        rss_before = vmrss_kib(d.proc.pid)

        sel = selectors.DefaultSelector()
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        greeted = 0
        for i in range(self.CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, bytearray())
        deadline = time.monotonic() + 120
        while greeted < self.CONNECTIONS and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                buf = key.data
                chunk = key.fileobj.recv(512)
                self.assertTrue(chunk, "connection closed before the greeting")
                buf += chunk
                if b"\r\n" in buf:
                    self.assertTrue(buf.startswith(b"220 "), bytes(buf))
                    sel.unregister(key.fileobj)
                    greeted += 1
        sel.close()
        self.assertEqual(greeted, self.CONNECTIONS)

        rss_held = vmrss_kib(d.proc.pid)
        per_conn = (rss_held - rss_before) * 1024 / self.CONNECTIONS
        print(f"# {self.CONNECTIONS} idle connections: RSS {rss_before} KiB -> {rss_held} KiB, "
              f"{per_conn / 1024:.1f} KiB per connection", flush=True)

        # mail still flows while they are held
        with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
            for i in range(20):
                s.sendmail(SENDER, [RCPT], body_for(f"held{i}"))
        self.assertEqual(len(d.maildir_files("new")), 20)

        # bounded: a leak or a per-connection buffer of 64 KiB would show here
        self.assertLess(per_conn, 32 * 1024)

        # closing them all leaves a working server
        for s in socks:
            s.close()
        socks.clear()
        with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
            s.sendmail(SENDER, [RCPT], body_for("after"))
        self.assertEqual(len(d.maildir_files("new")), 21)
        self.assertEqual(d.stop(), 0)


def children(pid):
    """PIDs of the processes whose parent is ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return sorted(out)


class WorkersTest(unittest.TestCase):
    """[server] workers = 2: two processes on SO_REUSEPORT listeners."""

    def wait_children(self, pid, n, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kids = children(pid)
            if len(kids) == n:
                return kids
            time.sleep(0.05)
        self.fail(f"expected {n} worker processes, have {children(pid)}")

    def wait_workers_serving(self, d, n):
        """Until ``n`` workers (in all, restarts counted) logged that they
        listen: a worker handles SIGTERM from then on (before that, a
        signal kills it, which is harmless with no session to lose but not
        what a test of the signal handling looks at), and the kernel
        spreads connections over every worker that listens."""
        self.wait_log(d, f"listening on 127.0.0.1:{d.port}", n)

    def test_two_workers_share_the_port_and_restart(self):
        d = fx.Vsmtpd(options=("server.workers=2",))
        self.addCleanup(d.cleanup)
        d.start()
        workers = self.wait_children(d.proc.pid, 2)
        self.wait_workers_serving(d, 2)

        for i in range(20):
            with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
                s.sendmail(SENDER, [RCPT], body_for(f"worker{i}"))
        self.assertEqual(len(d.maildir_files("new")), 20)
        # the kernel spread the connections: both workers logged some
        pids = set()
        for line in d.stderr_text().splitlines():
            if ": connect from [127.0.0.1]" in line:
                pids.add(line.split(": connect from")[0].split()[-1][13:17])
        self.assertEqual(len(pids), 2, d.stderr_text())

        # a worker that dies is started again
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            kids = children(d.proc.pid)
            if len(kids) == 2 and workers[0] not in kids:
                break
            time.sleep(0.05)
        self.assertEqual(len(children(d.proc.pid)), 2)
        self.assertNotIn(workers[0], children(d.proc.pid))
        for i in range(4):
            with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
                s.sendmail(SENDER, [RCPT], body_for(f"again{i}"))
        self.assertEqual(len(d.maildir_files("new")), 24)

        self.assertEqual(d.stop(), 0)
        self.assertEqual(children(d.proc.pid), [])

    def wait_log(self, d, what, count=1):
        deadline = time.monotonic() + 30
        while d.stderr_text().count(what) < count:
            if time.monotonic() > deadline:
                self.fail(f"never logged {what!r}:\n{d.stderr_text()}")
            time.sleep(0.05)

    def test_second_sigterm_and_sigint(self):
        """The master passes a second SIGTERM on (the workers keep their
        deadline: the session in a transaction goes on) and a second SIGINT
        (the workers close their sessions at once, with 421); never a
        SIGKILL that would drop them."""
        d = fx.Vsmtpd(options=("server.workers=2", "server.shutdown-grace=600"))
        self.addCleanup(d.cleanup)
        d.start()
        self.wait_children(d.proc.pid, 2)
        self.wait_workers_serving(d, 2)
        c = d.connect()
        self.addCleanup(c.close)
        self.assertEqual(c.cmd("EHLO client.example").code, 250)
        self.assertEqual(c.cmd(f"MAIL FROM:<{SENDER}>").code, 250)
        d.proc.send_signal(signal.SIGTERM)
        self.wait_log(d, "waiting up to 600 s", 2)
        d.proc.send_signal(signal.SIGTERM)
        self.wait_log(d, "SIGTERM received while stopping: already stopping")
        self.assertIsNone(d.proc.poll(), d.stderr_text())
        self.assertEqual(c.cmd(f"RCPT TO:<{RCPT}>").code, 250)
        d.proc.send_signal(signal.SIGINT)
        reply = c.reply()
        self.assertEqual(reply.lines[0][:10], b"421 4.3.2 ", reply.lines)
        self.assertTrue(c.closed_by_peer())
        self.assertEqual(d.proc.wait(30), 0, d.stderr_text())
        self.assertEqual(children(d.proc.pid), [])

    def test_workers_need_fixed_ports(self):
        d = fx.Vsmtpd(args=["--option", "server.workers=2"])
        self.addCleanup(d.cleanup)
        d.write_config()
        r = subprocess.run([fx.VSMTPD, "--config", d.config_path, "--listen", "127.0.0.1:0",
                            "--option", "server.workers=2"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
                           env=fx.clean_env(d.home))
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"[server] workers: port 0 cannot be shared", r.stdout)


if __name__ == "__main__":
    fx.main()

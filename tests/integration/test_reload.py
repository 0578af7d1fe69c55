#!/usr/bin/env python3
"""vsmtpd and systemd: the sd_notify messages (READY=1, STATUS=, RELOADING=1
then READY=1 around a SIGHUP, STOPPING=1, WATCHDOG=1), read from a datagram
UNIX socket the test binds as NOTIFY_SOCKET; and SIGHUP reloading the whole
configuration: limits (new sessions get them, running ones keep theirs),
listeners added and removed (no session dropped), plugin configuration, bad
configurations (one log line, the old one still serving), reloads under
load (no failed transaction) and with worker processes."""

import os
import select
import shutil
import signal
import smtplib
import socket
import tempfile
import threading
import time
import unittest

import vsmtpd_fixture as fx

SENDER = "sender@reload.example"
BODY = (b"From: <sender@reload.example>\r\n"
        b"To: <rcpt@reload.example>\r\n"
        b"Subject: reload\r\n"
        b"\r\n"
        b"sent around a reload\r\n")
RELOADED = "configuration reloaded"
NOT_RELOADED = "configuration not reloaded"
WAIT = 30.0


class NotifySocket:
    """A datagram socket standing for systemd's NOTIFY_SOCKET."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vsmtpd-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass

    def wait_for(self, field, daemon=None):
        """The first message not yet returned with a line ``field`` (as
        ``KEY=VALUE``, or ``KEY=`` for any value): a dict of its lines."""
        deadline = time.monotonic() + WAIT
        while True:
            for i, message in enumerate(self.messages):
                if any(line == field or (field.endswith("=") and line.startswith(field))
                       for line in message.splitlines()):
                    del self.messages[:i + 1]
                    return dict(line.split("=", 1) for line in message.splitlines())
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {field!r} from vsmtpd; got {self.messages}\n"
                                     + (daemon.stderr_text() if daemon else ""))
            if select.select([self.sock], [], [], min(left, 0.5))[0]:
                self.messages.append(self.sock.recv(4096).decode())


def wait_log(testcase, d, text, count=1):
    deadline = time.monotonic() + WAIT
    while d.stderr_text().count(text) < count:
        testcase.assertIsNone(d.proc.poll(), d.stderr_text())
        if time.monotonic() > deadline:
            testcase.fail(f"no {text!r} (x{count}) in the log:\n{d.stderr_text()}")
        time.sleep(0.05)


class ReloadTestCase(unittest.TestCase):

    def start(self, **kw):
        d = fx.Vsmtpd(**kw)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def reload(self, d, server=None, config=None, expect=RELOADED):
        """Rewrites the configuration file, sends SIGHUP and waits for the
        log line that tells how it went."""
        if server is not None:
            d.server_config = server
        if config is not None:
            d.extra_config = config
        d.write_config()
        before = d.stderr_text().count(expect)
        d.proc.send_signal(signal.SIGHUP)
        wait_log(self, d, expect, before + 1)

    def stop(self, d):
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def smtp(self, port):
        s = smtplib.SMTP("127.0.0.1", port, timeout=20)
        self.addCleanup(s.close)
        s.ehlo("reload.example")
        return s

    def rcpts(self, s, n):
        """MAIL and n RCPT: the reply codes of the RCPTs"""
        code, _ = s.mail(SENDER)
        self.assertEqual(code, 250)
        return [s.rcpt(f"rcpt{i}@reload.example")[0] for i in range(n)]


class NotifyTest(ReloadTestCase):

    def test_notify_messages(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        d = self.start(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"})
        ready = notify.wait_for("READY=1", d)
        self.assertRegex(ready.get("STATUS", ""),
                         r"^\d+ sessions open, \d+ connections, \d+ messages accepted$")

        with self.smtp(d.port) as s:
            s.sendmail(SENDER, ["rcpt@reload.example"], BODY)
            s.quit()
        # STATUS= follows the counts (sent again when they changed)
        status = notify.wait_for("STATUS=", d)
        while "1 messages accepted" not in status["STATUS"]:
            status = notify.wait_for("STATUS=", d)
        self.assertRegex(status["STATUS"], r"^0 sessions open, [1-9]\d* connections")

        notify.wait_for("WATCHDOG=1", d)

        d.proc.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING=1", d)
        self.assertRegex(reloading.get("MONOTONIC_USEC", ""), r"^\d+$")
        notify.wait_for("READY=1", d)
        wait_log(self, d, RELOADED)

        d.proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", d)
        self.assertEqual(d.proc.wait(fx.STOP_TIMEOUT), 0, d.stderr_text())

    def test_notify_with_workers(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        d = self.start(server="workers=2\n",
                       env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"})
        notify.wait_for("READY=1", d)
        # the master pings the watchdog
        notify.wait_for("WATCHDOG=1", d)
        d.proc.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1", d)
        notify.wait_for("READY=1", d)
        # each worker reloads
        wait_log(self, d, RELOADED, 2)
        d.proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", d)
        self.assertEqual(d.proc.wait(fx.STOP_TIMEOUT), 0, d.stderr_text())

    def test_no_notify_socket(self):
        d = self.start()
        self.reload(d)
        self.stop(d)


class ReloadLimitsTest(ReloadTestCase):

    def test_max_recipients(self):
        d = self.start(server="max-recipients=2\n")
        old = self.smtp(d.port)
        self.assertIn("RCPTMAX=2", old.esmtp_features.get("limits", ""))

        self.reload(d, server="max-recipients=1\n")

        new = self.smtp(d.port)
        self.assertIn("RCPTMAX=1", new.esmtp_features.get("limits", ""))
        self.assertEqual(self.rcpts(new, 2), [250, 452])
        new.rset()

        # the session from before the reload keeps its limit
        self.assertEqual(self.rcpts(old, 2), [250, 250])
        code, _ = old.data(BODY)
        self.assertEqual(code, 250)
        old.quit()
        new.quit()
        self.assertEqual(len(d.delivered()), 1)
        self.stop(d)

    def test_plugin_configured_again(self):
        d = self.start()
        with self.smtp(d.port) as s:
            s.sendmail(SENDER, ["first@reload.example"], BODY)
        self.assertNotIn(b"Delivered-To:", d.delivered()[0])
        d.clear_maildir()

        self.reload(d, config="[maildir]\ndelivered-to=true\n")
        with self.smtp(d.port) as s:
            s.sendmail(SENDER, ["second@reload.example"], BODY)
        self.assertIn(b"\r\nDelivered-To: second@reload.example\r\n", d.delivered()[0])
        self.stop(d)


    def test_plugin_refusal_restores_the_others(self):
        # recipients (priority 30) is configured again before maildir
        # (priority 50), which refuses: recipients gets its old group back
        d = self.start(plugins=("recipients", "maildir"),
                       config="[recipients]\ndomains=old.example\n")
        self.reload(d, config="[recipients]\ndomains=new.example\n"
                              "[maildir]\npath-map=/nonexistent/map\n",
                    expect=NOT_RELOADED)
        self.assertIn("[maildir] path-map", d.stderr_text())
        with self.smtp(d.port) as s:
            s.mail(SENDER)
            self.assertEqual(s.rcpt("user@old.example")[0], 250)
            self.assertEqual(s.rcpt("user@new.example")[0] // 100, 5)
        self.reload(d, config="[recipients]\ndomains=new.example\n")
        with self.smtp(d.port) as s:
            s.mail(SENDER)
            self.assertEqual(s.rcpt("user@old.example")[0] // 100, 5)
            self.assertEqual(s.rcpt("user@new.example")[0], 250)
        self.stop(d)


class ReloadListenersTest(ReloadTestCase):

    def test_listener_added_and_removed(self):
        p1, p2 = fx.free_port(), fx.free_port()
        d = self.start(config=f"[listener one]\nlisten=127.0.0.1:{p1}\n")
        kept = self.smtp(p1)
        kept.mail(SENDER)

        self.reload(d, config=f"[listener two]\nlisten=127.0.0.1:{p2}\n")

        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", p1), 5).close()
        with self.smtp(p2) as s:
            s.sendmail(SENDER, ["new@reload.example"], BODY)
        # the session on the listener gone goes on
        self.assertEqual(kept.rcpt("kept@reload.example")[0], 250)
        self.assertEqual(kept.data(BODY)[0], 250)
        kept.quit()
        # the --listen address was kept all along
        with self.smtp(d.port) as s:
            s.sendmail(SENDER, ["main@reload.example"], BODY)
        self.assertEqual(len(d.delivered()), 3)
        self.assertIn("1 listener(s) added, 1 removed", d.stderr_text())
        self.stop(d)

    def test_unix_listeners(self):
        tmp = tempfile.mkdtemp(prefix="vsmtpd-reload-")
        self.addCleanup(shutil.rmtree, tmp, True)
        kept_path = os.path.join(tmp, "kept.sock")
        gone_path = os.path.join(tmp, "gone.sock")
        kept = f"[listener kept]\nlisten=unix:{kept_path}\n"
        d = self.start(config=kept + f"[listener gone]\nlisten=unix:{gone_path}\n")
        self.reload(d, config=kept + "max-recipients=3\n")
        self.assertIn("0 listener(s) added, 1 removed, 1 with new options", d.stderr_text())
        self.assertFalse(os.path.exists(gone_path))
        with socket.socket(socket.AF_UNIX) as c:
            c.connect(kept_path)
            c.settimeout(20)
            self.assertTrue(c.recv(512).startswith(b"220 "))
            c.sendall(b"EHLO unix.example\r\n")
            ehlo = b""
            while b"\r\n250 " not in ehlo:
                ehlo += c.recv(4096)
            self.assertIn(b"RCPTMAX=3", ehlo)
        self.stop(d)
        # removed at exit by the listener of the new configuration
        self.assertFalse(os.path.exists(kept_path))

    def test_listener_options_changed(self):
        p1 = fx.free_port()
        d = self.start(config=f"[listener one]\nlisten=127.0.0.1:{p1}\n")
        with self.smtp(p1) as s:
            self.assertIn("RCPTMAX=", s.esmtp_features.get("limits", ""))
            self.assertNotIn("RCPTMAX=3", s.esmtp_features.get("limits", ""))
        self.reload(d, config=f"[listener one]\nlisten=127.0.0.1:{p1}\nmax-recipients=3\n")
        self.assertIn("0 listener(s) added, 0 removed, 1 with new options", d.stderr_text())
        with self.smtp(p1) as s:
            self.assertIn("RCPTMAX=3", s.esmtp_features.get("limits", ""))
        self.stop(d)

    def test_listener_port_in_use(self):
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        d = self.start(server="max-recipients=2\n")
        self.reload(d, server="max-recipients=1\n",
                    config=f"[listener busy]\nlisten=127.0.0.1:{port}\n", expect=NOT_RELOADED)
        with self.smtp(d.port) as s:
            self.assertIn("RCPTMAX=2", s.esmtp_features.get("limits", ""))
        self.stop(d)


@unittest.skipUnless(os.geteuid() == 0, "switching users needs root")
class ReloadPrivilegedPortTest(ReloadTestCase):
    """A listener on a port below 1024 added by a reload, once vsmtpd runs
    as nobody: CAP_NET_BIND_SERVICE was kept for it."""

    def test_low_port_after_privilege_drop(self):
        from test_daemon import free_low_port
        env = {}
        if os.environ.get("VSMTP_TEST_SANITIZER"):
            env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        d = fx.Vsmtpd(server="user=nobody\ngroup=nogroup\n", env=env)
        self.addCleanup(d.cleanup)
        os.chmod(d.tmpdir, 0o755)
        d.start()
        # the kernel accepts on the bound port before vsmtpd has dropped its
        # privileges (and said so); a greeting comes only from the main loop,
        # after
        with fx.RawClient(d.port) as c:
            c.cmd("QUIT")
        self.assertIn("running as user nobody", d.stderr_text())
        low = free_low_port()
        self.reload(d, config=f"[listener low]\nlisten=127.0.0.1:{low}\n")
        with fx.RawClient(low) as c:
            self.assertEqual(c.greeting.code, 220)
        self.stop(d)


class BadReloadTest(ReloadTestCase):

    def check_refused(self, d, config, server="max-recipients=1\n", reason=None):
        before = d.stderr_text()
        self.reload(d, server=server, config=config, expect=NOT_RELOADED)
        new_lines = d.stderr_text()[len(before):].splitlines()
        told = [line for line in new_lines if NOT_RELOADED in line]
        self.assertEqual(len(told), 1, new_lines)
        if reason is not None:
            self.assertIn(reason, told[0])
        # the old configuration serves
        with self.smtp(d.port) as s:
            self.assertIn("RCPTMAX=2", s.esmtp_features.get("limits", ""))
            s.sendmail(SENDER, ["still@reload.example"], BODY)
        self.assertEqual(len(d.delivered()), 1)
        self.assertNotIn(b"Delivered-To:", d.delivered()[0])
        d.clear_maildir()

    def test_bad_reloads(self):
        d = self.start(server="max-recipients=2\n")
        self.check_refused(d, "[server\nbroken\n", reason="vsmtpd.conf")
        self.check_refused(d, "", server="max-recipients=1\nno-such-key=1\n",
                           reason="[server] no-such-key")
        self.check_refused(d, "[maildir]\nno-such-key=1\n", reason="[maildir] no-such-key")
        # a value the plugin itself refuses (its configure's GError)
        self.check_refused(d, "[maildir]\ndelivered-to=true\npath-map=/nonexistent/map\n",
                           reason="[maildir] path-map")
        # enabling another plugin needs a restart
        d.plugins = ["maildir", "discard"]
        self.check_refused(d, "", reason="[plugins] enabled changed: that needs a restart")
        d.plugins = ["maildir"]
        # a good one afterwards is taken
        self.reload(d, server="max-recipients=1\n", config="")
        with self.smtp(d.port) as s:
            self.assertIn("RCPTMAX=1", s.esmtp_features.get("limits", ""))
        self.stop(d)


class ReloadUnderLoadTest(ReloadTestCase):

    def test_no_failed_transaction(self):
        d = self.start(server="max-recipients=5\n")
        stop = threading.Event()
        sent, failures = [], []

        def send():
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    with smtplib.SMTP("127.0.0.1", d.port, timeout=20) as s:
                        s.sendmail(SENDER, [f"load{n}@reload.example"], BODY)
                    sent.append(n)
                except Exception as e:   # noqa: BLE001 - counted, reported
                    failures.append(f"{n}: {e!r}")

        thread = threading.Thread(target=send)
        thread.start()
        try:
            for i in range(3):
                # some traffic before each reload
                target = len(sent) + 3
                deadline = time.monotonic() + WAIT
                while len(sent) < target and not failures and time.monotonic() < deadline:
                    time.sleep(0.02)
                self.reload(d, server=f"max-recipients={4 + i % 2}\n")
            target = len(sent) + 3
            deadline = time.monotonic() + WAIT
            while len(sent) < target and not failures and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            stop.set()
            thread.join(60)
        self.assertEqual(failures, [])
        self.assertGreaterEqual(len(sent), 12)
        self.assertEqual(len(d.delivered()), len(sent))
        self.assertEqual(d.stderr_text().count(RELOADED), 3)
        self.stop(d)


if __name__ == "__main__":
    fx.main()

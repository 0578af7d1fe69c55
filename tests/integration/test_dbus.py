#!/usr/bin/env python3
"""[server] dbus and vsmtpctl: a private D-Bus daemon (dbus-daemon, started
by the test with its own configuration in a temporary folder, as the
session bus), vsmtpd on it with dbus = session, and the built vsmtpctl
against it: status and --json with the figures of the mail the test sent,
the sessions list with an smtplib client's address, a listener paused (a
new connection waits without a greeting while an open session still
completes a transaction) and resumed (the waiting client is greeted),
CloseSession's 421 on the wire, a reload through D-Bus that changes
max-recipients for the next session, the caller refused when it is neither
root nor in dbus-group, Stop with a grace period, and vsmtpctl's error when
no vsmtpd is on the bus."""

import json
import os
import pwd
import grp
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
import unittest

import vsmtpd_fixture as fx

VSMTPCTL = os.environ.get(
    "VSMTPCTL", os.path.join(fx.SOURCE_ROOT, "build", "daemon", "vsmtpctl"))
DBUS_DAEMON = shutil.which("dbus-daemon")
WAIT = 30.0
BODY = (b"From: <sender@dbus.example>\r\n"
        b"To: <rcpt@dbus.example>\r\n"
        b"Subject: dbus\r\n"
        b"\r\n"
        b"counted by vsmtpctl\r\n")

# The session bus of these tests: any local user may connect (the denial
# test runs vsmtpctl as nobody), and the bus itself lets everything
# through, so that what refuses a call is vsmtpd's own check.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """A dbus-daemon of our own, stopped by close()."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vsmtpd-dbus-")
        os.chmod(self.dir, 0o755)   # reachable by nobody (the denial test)
        config = os.path.join(self.dir, "bus.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(BUS_CONFIG.format(dir=self.dir))
        out = subprocess.run([DBUS_DAEMON, "--config-file", config, "--fork",
                              "--print-address=1", "--print-pid=1"],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             check=True, timeout=WAIT).stdout.decode().split()
        self.address, self.pid = out[0], int(out[1])

    def close(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def ctl(bus_address, *args, user=None, groups=None):
    """Runs vsmtpctl on the session bus @bus_address: (status, stdout,
    stderr); as @user, with the supplementary group ids @groups (else
    none)."""
    cmd = [VSMTPCTL, "--session", *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}",
               f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups",
               *cmd]
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus_address, LC_ALL="C.UTF-8")
    env.pop("VSMTPCTL_BUS", None)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, env=env, timeout=WAIT)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def wait_for(testcase, what, predicate, d=None):
    """Polls @predicate until it is true (no timing is asserted: WAIT only
    bounds a hang)."""
    deadline = time.monotonic() + WAIT
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            testcase.fail(f"never {what}" + ("\n" + d.stderr_text() if d else ""))
        time.sleep(0.05)


@unittest.skipUnless(DBUS_DAEMON, "dbus-daemon not installed (Debian package dbus)")
class DBusTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.bus = PrivateBus()
        cls.addClassCleanup(cls.bus.close)

    def start(self, server="", **kw):
        d = fx.Vsmtpd(server="dbus=session\n" + server,
                      env={"DBUS_SESSION_BUS_ADDRESS": self.bus.address}, **kw)
        self.addCleanup(d.cleanup)
        d.start()
        wait_for(self, "owning org.vsmtp.Vsmtpd1",
                 lambda: "owning org.vsmtp.Vsmtpd1" in d.stderr_text(), d)
        self.addCleanup(self.stop, d)
        return d

    def stop(self, d):
        if d.proc.poll() is None:
            self.assertEqual(d.stop(), 0, d.stderr_text())
        # the name goes with the daemon: the next test's vsmtpd takes it
        wait_for(self, "the name released",
                 lambda: ctl(self.bus.address, "status")[0] == 3)

    def ctl(self, *args, expect=0, user=None, groups=None):
        status, out, err = ctl(self.bus.address, *args, user=user, groups=groups)
        self.assertEqual(status, expect, f"vsmtpctl {args}: {out}{err}")
        return out, err

    def status(self):
        return json.loads(self.ctl("--json", "status")[0])

    def sessions(self):
        return json.loads(self.ctl("--json", "sessions")[0])

    def test_status_counts_what_was_sent(self):
        d = self.start()
        for i in range(3):
            with smtplib.SMTP("127.0.0.1", d.port, timeout=WAIT) as s:
                s.sendmail("sender@dbus.example", [f"rcpt{i}@dbus.example"], BODY)
        wait_for(self, "three messages delivered", lambda: len(d.delivered()) == 3, d)
        status = wait_for(self, "no session left",
                          lambda: (lambda st: st if st["sessions"] == 0 else None)(self.status()))
        self.assertEqual(status["version"], fx.VERSION or status["version"])
        self.assertEqual(status["totals"]["messages"], 3)
        self.assertEqual(status["totals"]["messages-refused"], 0)
        # the three sessions, and the fixture's probe of the port
        self.assertGreaterEqual(status["totals"]["connections"], 3)
        self.assertEqual(status["totals"]["refusals"], 0)
        self.assertGreaterEqual(status["totals"]["bytes"], 3 * len(BODY))
        self.assertLessEqual(abs(status["start_time"] - time.time()), 3600)
        self.assertEqual(status["listeners"], [{
            "name": "default", "address": f"127.0.0.1:{d.port}", "protocol": "smtp",
            "tls": "starttls", "paused": False}])

        out, _ = self.ctl("status")
        self.assertIn("sessions now: 0", out)
        self.assertIn("messages 3 (refused 0)", out)
        self.assertRegex(out, rf"default\s+127\.0\.0\.1:{d.port}\s+smtp\s+starttls\s+accepting")

    def test_sessions_lists_an_open_session(self):
        d = self.start()
        with smtplib.SMTP("127.0.0.1", d.port, timeout=WAIT) as s:
            s.ehlo("client.dbus.example")
            self.assertEqual(s.mail("sender@dbus.example")[0], 250)
            client = "127.0.0.1:%d" % s.sock.getsockname()[1]
            sessions = self.sessions()
            self.assertEqual(len(sessions), 1, sessions)
            session = sessions[0]
            self.assertEqual(session["client"], client)
            self.assertEqual(session["state"], "mail")
            self.assertFalse(session["tls"])
            self.assertIsNone(session["user"])
            self.assertEqual(session["listener"], "default")
            self.assertGreater(session["bytes"], len("EHLO client.dbus.example\r\n"))
            self.assertRegex(session["id"], r"^[0-9A-F]{21}$")
            out, _ = self.ctl("sessions")
            self.assertRegex(out, rf"{session['id']}\s+{client}\s+mail\s+no\s+-\s+default")
            self.assertEqual(self.status()["sessions"], 1)

    def test_pause_keeps_sessions_and_holds_new_connections(self):
        d = self.start()
        with smtplib.SMTP("127.0.0.1", d.port, timeout=WAIT) as s:
            s.ehlo("client.dbus.example")
            out, _ = self.ctl("pause", "default")
            self.assertEqual(out, "listener default paused\n")
            self.assertTrue(self.status()["listeners"][0]["paused"])
            self.assertRegex(self.ctl("status")[0], r"default\s+\S+\s+smtp\s+starttls\s+paused")
            # a new client: the kernel completes its handshake (backlog),
            # vsmtpd does not accept it: no greeting
            waiting = fx.RawClient(d.port, greeting=False)
            self.addCleanup(waiting.close)
            self.assertEqual(waiting.pending(1.0), b"")
            # the open session still completes a transaction
            self.assertEqual(s.sendmail("sender@dbus.example", ["rcpt@dbus.example"], BODY), {})
            self.assertEqual(len(d.delivered()), 1)
            self.assertEqual(waiting.pending(0.2), b"")
        # pausing again changes nothing; a name no listener has is an error
        self.ctl("pause", "default")
        _, err = self.ctl("pause", "nosuch", expect=1)
        self.assertIn('no listener named "nosuch"', err)
        out, _ = self.ctl("resume", "default")
        self.assertEqual(out, "listener default resumed\n")
        # the client that waited is served now
        greeting = waiting.reply()
        self.assertEqual(greeting.code, 220, greeting)
        self.assertEqual(waiting.cmd("EHLO waited.dbus.example").code, 250)
        self.assertEqual(waiting.cmd("QUIT").code, 221)
        self.assertFalse(self.status()["listeners"][0]["paused"])
        self.assertIn("listener default paused", d.stderr_text())

    def test_close_session_sends_421(self):
        d = self.start()
        with d.connect() as c:
            self.assertEqual(c.cmd("EHLO client.dbus.example").code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<sender@dbus.example>").code, 250)
            (session,) = self.sessions()
            out, _ = self.ctl("close", session["id"])
            self.assertEqual(out, f"session {session['id']} closed\n")
            line = c._line()
            self.assertEqual(line, b"421 4.3.2 " + fx.HOSTNAME.encode() +
                             b" Service not available, closing transmission channel")
            self.assertTrue(c.closed_by_peer())
        wait_for(self, "the session gone", lambda: self.sessions() == [])
        self.assertEqual(d.delivered(), [])
        _, err = self.ctl("close", session["id"], expect=1)
        self.assertIn("no open session has this id", err)

    def test_reload_applies_a_changed_limit(self):
        d = self.start(server="max-recipients=2\n")

        def recipients():
            with d.connect() as c:
                c.cmd("EHLO client.dbus.example")
                c.cmd("MAIL FROM:<sender@dbus.example>")
                codes = [c.cmd(f"RCPT TO:<r{i}@dbus.example>").code for i in range(2)]
                c.cmd("QUIT")
                return codes

        self.assertEqual(recipients(), [250, 250])
        d.server_config = "dbus=session\nmax-recipients=1\n"
        d.write_config()
        out, _ = self.ctl("reload")
        self.assertEqual(out, "configuration reloaded\n")
        self.assertEqual(recipients(), [250, 452])
        # a configuration that does not load: told, and nothing changes
        d.server_config = "dbus=session\nmax-recipients=many\n"
        d.write_config()
        _, err = self.ctl("reload", expect=1)
        self.assertIn("configuration not reloaded", err)
        self.assertIn("max-recipients", err)
        self.assertEqual(recipients(), [250, 452])
        # the bus settings are made once: changing them needs a restart
        d.server_config = "dbus=session\ndbus-group=root\nmax-recipients=1\n"
        d.write_config()
        _, err = self.ctl("reload", expect=1)
        self.assertIn("[server] dbus or dbus-group changed: that needs a restart", err)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                         "needs root (and setpriv) to call as another user")
    def test_callers_neither_root_nor_in_the_group_are_refused(self):
        d = self.start()
        # properties are for everyone
        out, _ = self.ctl("--json", "status", user="nobody")
        self.assertEqual(json.loads(out)["listeners"][0]["name"], "default")
        for args in (("pause", "default"), ("reload",), ("sessions",), ("stop",)):
            _, err = self.ctl(*args, user="nobody", expect=4)
            self.assertIn("access denied", err)
            self.assertIn(f"uid {pwd.getpwnam('nobody').pw_uid} may not call", err)
            self.assertEqual(len(err.splitlines()), 1, err)
        self.assertFalse(self.status()["listeners"][0]["paused"])
        self.assertIsNone(d.proc.poll())

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                         "needs root (and setpriv) to call as another user")
    def test_dbus_group_members_may_call(self):
        group = grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
        self.start(server=f"dbus-group={group}\n")
        out, _ = self.ctl("pause", "default", user="nobody")
        self.assertEqual(out, "listener default paused\n")
        self.assertTrue(self.status()["listeners"][0]["paused"])

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                         "needs root (and setpriv) to call as another user")
    def test_dbus_group_of_the_callers_process(self):
        """A caller whose process runs with dbus-group as a supplementary
        group (setpriv --groups, as newgrp, sg or SupplementaryGroups= do)
        may call, though /etc/group does not make its user a member: the
        bus policy sees the process's groups, and so does vsmtpd."""
        nobody = pwd.getpwnam("nobody")
        group = next(g for g in grp.getgrall()
                     if g.gr_gid not in (0, nobody.pw_gid) and "nobody" not in g.gr_mem)
        self.start(server=f"dbus-group={group.gr_name}\n")
        _, err = self.ctl("pause", "default", user="nobody", expect=4)
        self.assertIn(f"only root or a member of {group.gr_name}", err)
        # another supplementary group: still refused
        other = next(g for g in (54321, 54322) if g != group.gr_gid)
        self.ctl("pause", "default", user="nobody", groups=[other], expect=4)
        self.assertFalse(self.status()["listeners"][0]["paused"])
        out, _ = self.ctl("pause", "default", user="nobody", groups=[group.gr_gid])
        self.assertEqual(out, "listener default paused\n")
        self.assertTrue(self.status()["listeners"][0]["paused"])

    def test_stop_with_grace(self):
        d = self.start()
        with d.connect() as c:
            self.assertEqual(c.cmd("EHLO client.dbus.example").code, 250)
            out, _ = self.ctl("stop", "--grace", "5")
            self.assertEqual(out, "vsmtpd is stopping\n")
            reply = c.reply()
            self.assertEqual((reply.code, reply.lines[0][:10]), (421, b"421 4.3.2 "))
        self.assertEqual(d.proc.wait(WAIT), 0, d.stderr_text())
        self.assertIn("waiting up to 5 s", d.stderr_text())

    def in_transaction(self, d):
        """A client in the middle of a transaction (a stop waits for it)."""
        c = d.connect()
        self.addCleanup(c.close)
        self.assertEqual(c.cmd("EHLO client.dbus.example").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<sender@dbus.example>").code, 250)
        return c

    def assert_closed_for_shutdown(self, c, d):
        reply = c.reply()
        self.assertEqual(reply.lines[0], b"421 4.3.2 " + fx.HOSTNAME.encode() +
                         b" Service shutting down, closing connection")
        self.assertTrue(c.closed_by_peer())
        self.assertEqual(d.proc.wait(WAIT), 0, d.stderr_text())

    def test_second_stop_only_brings_the_deadline_forward(self):
        """While stopping: a Stop with an equal or longer grace is answered
        and changes nothing (vsmtpd goes on, the session too); SIGTERM is
        a Stop with shutdown-grace; a Stop with a shorter grace brings the
        deadline forward (0: 421 at once), and vsmtpd exits 0."""
        d = self.start(server="shutdown-grace=300\n")
        c = self.in_transaction(d)
        out, _ = self.ctl("stop", "--grace", "600")
        self.assertEqual(out, "vsmtpd is stopping\n")
        wait_for(self, "the stop logged", lambda: "waiting up to 600 s" in d.stderr_text(), d)
        for grace in ("600", "900"):
            out, _ = self.ctl("stop", "--grace", grace)
            self.assertEqual(out, "vsmtpd is stopping\n")
        wait_for(self, "the second Stop logged", lambda: d.stderr_text().count(
            "Stop (D-Bus) received while stopping: already stopping") == 2, d)
        self.assertIsNone(d.proc.poll(), d.stderr_text())
        self.assertEqual(c.cmd("RCPT TO:<rcpt@dbus.example>").code, 250)
        d.proc.send_signal(signal.SIGTERM)
        wait_for(self, "SIGTERM taken as a shorter grace", lambda:
                 "SIGTERM received while stopping: the 1 session(s) still open get 300 s"
                 in d.stderr_text(), d)
        self.assertIsNone(d.proc.poll(), d.stderr_text())
        self.assertEqual(c.cmd("RCPT TO:<rcpt2@dbus.example>").code, 250)
        self.ctl("stop", "--grace", "0")
        self.assert_closed_for_shutdown(c, d)
        self.assertEqual(d.delivered(), [])

    def test_sigterm_twice_and_sigint_twice(self):
        """A second SIGTERM keeps the deadline; a second SIGINT closes the
        sessions at once, with 421, and vsmtpd exits 0."""
        d = self.start(server="shutdown-grace=600\n")
        c = self.in_transaction(d)
        d.proc.send_signal(signal.SIGTERM)
        wait_for(self, "SIGTERM logged", lambda: "waiting up to 600 s" in d.stderr_text(), d)
        d.proc.send_signal(signal.SIGTERM)
        wait_for(self, "the second SIGTERM logged", lambda:
                 "SIGTERM received while stopping: already stopping" in d.stderr_text(), d)
        self.assertIsNone(d.proc.poll(), d.stderr_text())
        self.assertEqual(c.cmd("RCPT TO:<rcpt@dbus.example>").code, 250)
        d.proc.send_signal(signal.SIGINT)
        self.assert_closed_for_shutdown(c, d)
        self.assertIn("SIGINT received while stopping: the 1 session(s) still open get 0 s",
                      d.stderr_text())

    def test_no_daemon_on_the_bus(self):
        status, out, err = ctl(self.bus.address, "status")
        self.assertEqual((status, out), (3, ""))
        self.assertEqual(err, "vsmtpctl: vsmtpd is not running on the session bus (nobody "
                              "owns org.vsmtp.Vsmtpd1; is [server] dbus = session set?)\n")
        status, _, err = ctl("unix:path=" + os.path.join(self.bus.dir, "nothing"), "reload")
        self.assertEqual(status, 3)
        self.assertTrue(err.startswith("vsmtpctl: cannot connect to the session bus: "), err)
        self.assertEqual(ctl(self.bus.address, "frobnicate")[0], 2)
        self.assertEqual(ctl(self.bus.address, "close")[0], 2)

    def test_hung_daemon_is_not_reachable(self):
        """A vsmtpd that owns its name but does not answer (stopped with
        SIGSTOP): vsmtpctl gives up after --timeout with exit status 3 and
        one line saying so; once vsmtpd goes on, the same call works."""
        d = self.start()
        os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            for command in ("status", "sessions"):
                status, out, err = ctl(self.bus.address, "--timeout", "1", command)
                self.assertEqual((status, out), (3, ""), err)
                self.assertEqual(err, f"vsmtpctl: {command}: vsmtpd did not answer within 1 s "
                                      "on the session bus (is it stopped or hung?)\n")
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
        out, _ = self.ctl("--timeout", "5", "status")
        self.assertIn("sessions now: 0", out)
        for bad in ("0", "-1", "many"):
            status, _, err = ctl(self.bus.address, "--timeout", bad, "status")
            self.assertEqual(status, 2, err)

    def test_arguments_not_utf8_are_usage_errors(self):
        """A session ID or listener name that is not UTF-8 cannot go on the
        bus (a D-Bus string is UTF-8): vsmtpctl says so, exit status 2,
        without a GLib critical, and the daemon goes on."""
        d = self.start()
        for command in ("close", "pause", "resume"):
            status, out, err = ctl(self.bus.address, command, b"bad\xffname")
            self.assertEqual((status, out), (2, ""), err)
            self.assertNotIn("CRITICAL", err)
            self.assertIn("not valid UTF-8", err)
        self.assertEqual(self.status()["listeners"][0]["paused"], False)
        self.assertIsNone(d.proc.poll())

    def test_sessions_with_a_user_name_not_utf8(self):
        """A user name that is not UTF-8 (the passwd file may hold a Latin-1
        one) is refused at AUTH (501 5.5.2), so no session has one: a D-Bus
        string is UTF-8, and ListSessions answers."""
        import base64
        import test_auth
        tmp = tempfile.mkdtemp(prefix="vsmtpd-dbus-passwd-")
        self.addCleanup(shutil.rmtree, tmp, True)
        passwd = os.path.join(tmp, "passwd")
        with open(passwd, "wb") as f:
            f.write(b"caf\xe9:" + test_auth.sha512_crypt("secret").encode() + b"\n")
        d = test_auth.AuthDaemon(passwd, server="dbus=session\n",
                                 env={"DBUS_SESSION_BUS_ADDRESS": self.bus.address})
        self.addCleanup(d.cleanup)
        d.start()
        wait_for(self, "owning org.vsmtp.Vsmtpd1",
                 lambda: "owning org.vsmtp.Vsmtpd1" in d.stderr_text(), d)
        self.addCleanup(self.stop, d)
        c = test_auth.TlsClient(d.sub_port)
        self.addCleanup(c.close)
        self.assertEqual(c.starttls().code, 250)
        # LOGIN: GNU SASL passes its user name on as it came
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c.cmd(base64.b64encode(b"caf\xe9").decode()).code, 334)
        reply = c.cmd(base64.b64encode(b"secret").decode())
        self.assertEqual(reply.lines, [b"501 5.5.2 Error: the authentication identity is "
                                       b"not valid UTF-8"])
        sessions = self.sessions()
        self.assertEqual([s["user"] for s in sessions], [None], sessions)
        self.assertNotIn("CRITICAL", d.stderr_text())

    def test_signals(self):
        """ReloadDone after Reload and after SIGHUP; ListenerStateChanged on
        pause and resume (received by a GDBus client of the bus)."""
        try:
            import gi
            gi.require_version("Gio", "2.0")
            from gi.repository import Gio, GLib
        except (ImportError, ValueError) as e:
            self.skipTest(f"no PyGObject: {e}")
        d = self.start()
        bus = Gio.DBusConnection.new_for_address_sync(
            self.bus.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(bus.close_sync, None)
        got = []
        bus.signal_subscribe(None, "org.vsmtp.Vsmtpd1", None, "/org/vsmtp/Vsmtpd1", None,
                             Gio.DBusSignalFlags.NONE,
                             lambda c, sender, path, iface, name, params: got.append(
                                 (name, params.unpack())))
        context = GLib.MainContext.default()

        def expect(signal):
            deadline = time.monotonic() + WAIT
            while signal not in got:
                if time.monotonic() > deadline:
                    self.fail(f"no {signal} among {got}")
                context.iteration(False) or time.sleep(0.02)
            got.remove(signal)

        # the match rule is in place once the bus answered a round trip
        bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "GetId", None, None, Gio.DBusCallFlags.NONE, -1, None)
        self.ctl("pause", "default")
        expect(("ListenerStateChanged", ("default", True)))
        self.ctl("resume", "default")
        expect(("ListenerStateChanged", ("default", False)))
        self.ctl("reload")
        expect(("ReloadDone", (True, "configuration reloaded")))
        d.proc.send_signal(signal.SIGHUP)
        expect(("ReloadDone", (True, "configuration reloaded")))
        d.server_config = "dbus=session\nmax-recipients=many\n"
        d.write_config()
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while not any(n == "ReloadDone" and not p[0] for n, p in got):
            self.assertLess(time.monotonic(), deadline, f"no failed ReloadDone among {got}")
            context.iteration(False) or time.sleep(0.02)
        (message,) = [p[1] for n, p in got if n == "ReloadDone"]
        self.assertIn("max-recipients", message)

    def test_check_config(self):
        def check(*options):
            cmd = [fx.VSMTPD, "--check-config", "-l", "127.0.0.1:2525"]
            for o in options:
                cmd += ["-o", o]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=fx.clean_env(tempfile.gettempdir()), timeout=WAIT)
            return p.returncode, p.stdout.decode()

        self.assertEqual(check("server.dbus=system", "server.dbus-group=root"), (0, "OK\n"))
        status, out = check("server.dbus=bus")
        self.assertEqual(status, 1, out)
        self.assertIn("[server] dbus", out)
        self.assertIn("bus", out)
        status, out = check("server.dbus=session", "server.dbus-group=no-such-group-here")
        self.assertEqual(status, 1, out)
        self.assertIn('[server] dbus-group: no such group "no-such-group-here"', out)
        p = subprocess.run([fx.VSMTPD, "--print-config", "-o", "server.dbus=session"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=fx.clean_env(tempfile.gettempdir()), timeout=WAIT)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertRegex(p.stdout.decode(), r"(?m)^dbus=session$")
        self.assertRegex(p.stdout.decode(), r"(?m)^#dbus-group=")

    def test_workers_refused(self):
        p = subprocess.run([fx.VSMTPD, "--check-config", "-o", "server.dbus=session",
                            "-o", "server.workers=2", "-l", "127.0.0.1:2525"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=fx.clean_env(tempfile.gettempdir()), timeout=WAIT)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("dbus: not with [server] workers above 1", p.stdout.decode())


if __name__ == "__main__":
    fx.main()

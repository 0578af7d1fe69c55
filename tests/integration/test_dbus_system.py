#!/usr/bin/env python3
"""[server] dbus = system against the shipped bus policy
(data/org.vsmtp.Vsmtpd1.conf), unmodified: the test starts a private
dbus-daemon of the system type (EXTERNAL authentication only, a unix socket
in a temporary folder, a policy that refuses what it does not allow, like
Debian's system bus) that includes the shipped file, and vsmtpd as root with
[server] user = vsmtpd on it, so that the name is owned by the user the
policy names. Then: the name's owner runs as that user; root's vsmtpctl
works; nobody reads the properties, introspects and pings, receives the
signals, but the bus itself refuses nobody's method calls (AccessDenied,
vsmtpctl's exit status 4 and one line) and nobody's attempt to own the name;
a member of the vsmtpctl group pauses and resumes a listener; so does a
process that only carries the group's id without being a member (the bus
and vsmtpd both look at the process's groups). The users and groups the policy names are created for the
test when missing (useradd/groupadd --system) and removed afterwards.

Also, as any user: the shipped file is well-formed, a bus that includes it
starts, and one that includes a copy with a misspelt attribute does not."""

import grp
import os
import pwd
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

import vsmtpd_fixture as fx

VSMTPCTL = os.environ.get(
    "VSMTPCTL", os.path.join(fx.SOURCE_ROOT, "build", "daemon", "vsmtpctl"))
POLICY = os.path.join(fx.SOURCE_ROOT, "data", "org.vsmtp.Vsmtpd1.conf")
BUS_DTD = "/usr/share/xml/dbus-1/busconfig.dtd"
DBUS_DAEMON = shutil.which("dbus-daemon")
NAME = "org.vsmtp.Vsmtpd1"
PATH = "/org/vsmtp/Vsmtpd1"
# a member of the policy's group, made by the test when missing
MEMBER = "vsmtpd-test-op"
WAIT = 30.0
IS_ROOT = os.geteuid() == 0
TOOLS = all(shutil.which(t) for t in ("setpriv", "useradd", "groupadd", "userdel",
                                      "groupdel", "gdbus", "stdbuf"))

# A system bus: only EXTERNAL (the kernel's word for the caller's uid), and
# nothing but the bus itself may be owned or called unless a file included
# below opens it; replies and signals go through, as on Debian's system bus.
BUS_CONFIG = """<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"""


def policy_names():
    """The users and groups the shipped policy names (root aside)."""
    users, groups = [], []
    for policy in ET.parse(POLICY).getroot().iter("policy"):
        if policy.get("user") not in (None, "root"):
            users.append(policy.get("user"))
        if policy.get("group") not in (None, "root"):
            groups.append(policy.get("group"))
    return users, groups


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=WAIT, **kw)


class Accounts:
    """System users and groups made for the test, removed by close() (only
    those it made)."""

    def __init__(self):
        self.users, self.groups = [], []

    def group(self, name):
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            pass
        p = run(["groupadd", "--system", name])
        if p.returncode != 0:
            raise RuntimeError(f"groupadd {name}: {p.stderr.decode()}")
        self.groups.append(name)
        return grp.getgrnam(name).gr_gid

    def user(self, name, groups=()):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        cmd = ["useradd", "--system", "--user-group", "--no-create-home",
               "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"]
        if groups:
            cmd += ["--groups", ",".join(groups)]
        p = run(cmd + [name])
        if p.returncode != 0:
            raise RuntimeError(f"useradd {name}: {p.stderr.decode()}")
        self.users.append(name)
        return pwd.getpwnam(name)

    def close(self):
        # the users first: each takes its own group (--user-group) along
        for name in reversed(self.users):
            run(["userdel", name])
        for name in reversed(self.groups):
            run(["groupdel", name])
        self.users, self.groups = [], []


class PrivateSystemBus:
    """A dbus-daemon of our own with BUS_CONFIG, stopped by close()."""

    def __init__(self, policy=POLICY):
        self.dir = tempfile.mkdtemp(prefix="vsmtpd-sysbus-")
        os.chmod(self.dir, 0o755)   # reachable by every user
        self.socket = os.path.join(self.dir, "system_bus_socket")
        self.config = os.path.join(self.dir, "system.conf")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(BUS_CONFIG.format(socket=self.socket, policy=policy))
        self.log = open(os.path.join(self.dir, "dbus-daemon.log"), "w+b")
        self.proc = subprocess.Popen(
            [DBUS_DAEMON, "--config-file", self.config, "--nofork", "--nopidfile",
             "--print-address=1"],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
            preexec_fn=fx._die_with_parent)
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            self.proc.wait(WAIT)
            error = RuntimeError(f"dbus-daemon did not start: {self.log_text()}")
            self.close()
            raise error
        self.address = "unix:path=" + self.socket

    def log_text(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class PolicyFileTest(unittest.TestCase):
    """The shipped file as the bus reads it (any user). dbus' busconfig.dtd
    lags behind the parser (it declares no send_destination, say, and no
    file in Debian's system.d validates against it), so the parser itself
    is the judge: dbus-daemon refuses to start on an element or attribute
    it does not know, or a file that is not well-formed."""

    @unittest.skipUnless(shutil.which("xmllint"), "needs xmllint (libxml2-utils)")
    def test_well_formed(self):
        p = run(["xmllint", "--noout", POLICY])
        self.assertEqual((p.returncode, p.stderr), (0, b""), p.stderr.decode())

    @unittest.skipUnless(DBUS_DAEMON, "dbus-daemon not installed (Debian package dbus)")
    def test_a_bus_including_it_starts(self):
        bus = PrivateSystemBus()
        self.addCleanup(bus.close)
        self.assertIsNone(bus.proc.poll(), bus.log_text())
        # nothing but users and groups missing here (not root) and the fd
        # limit a container does not let it raise
        for line in bus.log_text().splitlines():
            self.assertRegex(line, r'Unknown (username|group) "|Failed to set fd limit',
                             bus.log_text())

    @unittest.skipUnless(DBUS_DAEMON, "dbus-daemon not installed (Debian package dbus)")
    def test_a_bus_refuses_a_broken_copy(self):
        """The check above can fail: one misspelt attribute in a copy of
        the file and the bus does not start."""
        with open(POLICY, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("send_interface=", text)
        with tempfile.TemporaryDirectory() as tmp:
            broken = os.path.join(tmp, "broken.conf")
            with open(broken, "w", encoding="utf-8") as f:
                f.write(text.replace("send_interface=", "send_interfaces=", 1))
            with self.assertRaisesRegex(RuntimeError, "send_interfaces"):
                PrivateSystemBus(policy=broken).close()


def gdbus(address, *args, user=None, groups=None, init_groups=False):
    """gdbus on the system bus at @address, as @user: (status, stdout, stderr)."""
    return as_user(["gdbus", *args, "--system"], address, user, groups, init_groups)


def ctl(address, *args, user=None, groups=None, init_groups=False):
    return as_user([VSMTPCTL, *args], address, user, groups, init_groups)


def setpriv(user, groups=None, init_groups=False):
    """The setpriv prefix that runs a command as @user with its primary
    group and either its groups in the user database (@init_groups), the
    gids @groups, or none other."""
    if user is None:
        return []
    pw = pwd.getpwnam(user)
    cmd = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}"]
    if init_groups:
        return cmd + ["--init-groups"]
    if groups:
        return cmd + ["--groups=" + ",".join(str(g) for g in groups)]
    return cmd + ["--clear-groups"]


def as_user(cmd, address, user, groups, init_groups):
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address, LC_ALL="C.UTF-8", HOME="/")
    for key in ("VSMTPCTL_BUS", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
        env.pop(key, None)
    p = run(setpriv(user, groups, init_groups) + cmd, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def call_args(method, *args, dest=NAME, path=PATH):
    return ["call", "--dest", dest, "--object-path", path, "--method", method, *args]


@unittest.skipUnless(DBUS_DAEMON, "dbus-daemon not installed (Debian package dbus)")
@unittest.skipUnless(IS_ROOT, "needs root: vsmtpd drops to the policy's user, callers "
                              "are other users (setpriv), users are created (useradd)")
@unittest.skipUnless(TOOLS, "needs setpriv, useradd, groupadd, userdel, groupdel, gdbus and stdbuf")
class SystemBusPolicyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        users, groups = policy_names()
        # the policy has one owner and one group of operators: what
        # vsmtpd.service and sysusers.d/vsmtpd.conf use
        assert users == ["vsmtpd"] and groups == ["vsmtpctl"], (users, groups)
        accounts = Accounts()
        cls.addClassCleanup(accounts.close)
        cls.gid = accounts.group("vsmtpctl")
        cls.owner = accounts.user("vsmtpd")
        cls.member = accounts.user(MEMBER, groups=["vsmtpctl"])
        if cls.gid not in os.getgrouplist(MEMBER, cls.member.pw_gid):
            raise RuntimeError(f"{MEMBER} exists and is not in vsmtpctl")
        cls.nobody = pwd.getpwnam("nobody")

        # the users exist before the bus reads the policy
        cls.bus = PrivateSystemBus()
        cls.addClassCleanup(cls.bus.close)

        env = {"DBUS_SYSTEM_BUS_ADDRESS": cls.bus.address}
        if os.environ.get("VSMTP_TEST_SANITIZER"):
            # LeakSanitizer cannot stop a process that switched users (as
            # in test_daemon's PrivilegeDropTest); memory errors still count
            env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        cls.d = fx.Vsmtpd(server="dbus=system\ndbus-group=vsmtpctl\nuser=vsmtpd\n", env=env)
        cls.addClassCleanup(cls.d.cleanup)
        os.chmod(cls.d.tmpdir, 0o755)
        for sub in ("", "tmp", "new", "cur"):
            os.makedirs(os.path.join(cls.d.maildir, sub), exist_ok=True)
            os.chown(os.path.join(cls.d.maildir, sub), cls.owner.pw_uid, cls.owner.pw_gid)
        cls.d.start()
        deadline = time.monotonic() + WAIT
        while f"owning {NAME}" not in cls.d.stderr_text():
            if time.monotonic() > deadline or cls.d.proc.poll() is not None:
                raise RuntimeError(f"vsmtpd does not own {NAME}:\n{cls.d.stderr_text()}"
                                   f"\nbus:\n{cls.bus.log_text()}")
            time.sleep(0.05)

    def tearDown(self):
        # whatever a test did, the listener accepts again
        ctl(self.bus.address, "resume", "default")

    def diagnostics(self):
        return f"\nvsmtpd:\n{self.d.stderr_text()}\nbus:\n{self.bus.log_text()}"

    def bus_call(self, method, *args, user=None):
        status, out, err = gdbus(self.bus.address,
                                 *call_args("org.freedesktop.DBus." + method, *args,
                                            dest="org.freedesktop.DBus",
                                            path="/org/freedesktop/DBus"), user=user)
        self.assertEqual(status, 0, err)
        return out.strip()

    def paused(self):
        out = gdbus(self.bus.address,
                    *call_args("org.freedesktop.DBus.Properties.Get", NAME, "Listeners"))[1]
        self.assertIn("'default'", out)
        return "true" in out

    def assertBusDenied(self, result, what):
        """@result of a gdbus call refused by the bus's policy, not by vsmtpd."""
        status, out, err = result
        self.assertNotEqual(status, 0, f"{what}: {out}")
        self.assertIn("GDBus.Error:org.freedesktop.DBus.Error.AccessDenied:", err, what)
        # dbus-daemon's words, not vsmtpd's ("uid N may not call")
        self.assertIn("Rejected send message", err, what)
        self.assertNotIn("may not call", err, what)

    def test_vsmtpd_owns_the_name_as_its_user(self):
        owner = self.bus_call("GetNameOwner", NAME)
        self.assertRegex(owner, r"^\(':1\.\d+',\)$")
        uid = self.bus_call("GetConnectionUnixUser", owner[2:-3])
        self.assertEqual(uid, f"(uint32 {self.owner.pw_uid},)")
        self.assertIn(f"running as user vsmtpd (uid {self.owner.pw_uid}",
                      self.d.stderr_text())
        self.assertNotIn("cannot own the name", self.d.stderr_text())

    def test_root_calls_methods(self):
        status, out, err = ctl(self.bus.address, "status")
        self.assertEqual(status, 0, err + self.diagnostics())
        self.assertRegex(out, rf"default\s+127\.0\.0\.1:{self.d.port}\s+smtp\s+\S+\s+accepting")
        status, out, err = ctl(self.bus.address, "--json", "sessions")
        self.assertEqual((status, out.strip(), err), (0, "[]", ""))
        status, out, err = ctl(self.bus.address, "pause", "default")
        self.assertEqual((status, out, err), (0, "listener default paused\n", ""))
        self.assertTrue(self.paused())
        status, out, err = ctl(self.bus.address, "resume", "default")
        self.assertEqual((status, out, err), (0, "listener default resumed\n", ""))
        self.assertFalse(self.paused())

    def test_anyone_reads_properties_and_introspects(self):
        status, out, err = ctl(self.bus.address, "status", user="nobody")
        self.assertEqual(status, 0, err + self.diagnostics())
        self.assertRegex(out, rf"default\s+127\.0\.0\.1:{self.d.port}\s+smtp")
        status, out, err = gdbus(self.bus.address,
                                 *call_args("org.freedesktop.DBus.Properties.GetAll", NAME),
                                 user="nobody")
        self.assertEqual(status, 0, err)
        for prop in ("'Version'", "'Listeners'", "'Sessions'", "'Totals'", "'StartTime'"):
            self.assertIn(prop, out)
        status, out, err = gdbus(self.bus.address,
                                 *call_args("org.freedesktop.DBus.Properties.Get", NAME,
                                            "Version"), user="nobody")
        self.assertEqual(status, 0, err)
        self.assertIn(f"'{fx.VERSION}'" if fx.VERSION else "'", out)
        status, out, err = gdbus(self.bus.address, "introspect", "--dest", NAME,
                                 "--object-path", PATH, user="nobody")
        self.assertEqual(status, 0, err)
        self.assertIn(f"interface {NAME} {{", out)
        self.assertIn("PauseListener(", out)
        status, out, err = gdbus(self.bus.address,
                                 *call_args("org.freedesktop.DBus.Peer.Ping"), user="nobody")
        self.assertEqual((status, out.strip()), (0, "()"), err)

    def test_the_bus_refuses_nobodys_method_calls(self):
        for method, args in (("Reload", ()), ("PauseListener", ("default",)),
                             ("ListSessions", ()), ("Stop", ("0",))):
            self.assertBusDenied(
                gdbus(self.bus.address, *call_args(f"{NAME}.{method}", *args), user="nobody"),
                method)
        # Set is no reading: refused too
        self.assertBusDenied(
            gdbus(self.bus.address,
                  *call_args("org.freedesktop.DBus.Properties.Set", NAME, "Sessions",
                             "<uint32 0>"), user="nobody"), "Set")
        for args in (("reload",), ("pause", "default"), ("sessions",), ("stop",)):
            status, out, err = ctl(self.bus.address, *args, user="nobody")
            self.assertEqual((status, out), (4, ""), f"vsmtpctl {args}: {err}")
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertTrue(err.startswith(f"vsmtpctl: {args[0]}: access denied: "
                                           "Rejected send message"), err)
        self.assertFalse(self.paused())
        self.assertIsNone(self.d.proc.poll())
        # vsmtpd never saw the calls (its own check would log them)
        self.assertNotIn("refused: neither root", self.d.stderr_text())

    def test_a_member_of_the_group_calls_methods(self):
        status, out, err = ctl(self.bus.address, "pause", "default", user=MEMBER,
                               init_groups=True)
        self.assertEqual((status, out), (0, "listener default paused\n"), err + self.diagnostics())
        self.assertTrue(self.paused())
        status, out, err = ctl(self.bus.address, "--json", "sessions", user=MEMBER,
                               init_groups=True)
        self.assertEqual((status, out.strip()), (0, "[]"), err)
        status, out, err = ctl(self.bus.address, "resume", "default", user=MEMBER,
                               init_groups=True)
        self.assertEqual((status, out), (0, "listener default resumed\n"), err)
        self.assertFalse(self.paused())
        # the methods only: the Properties interface stays read-only
        self.assertBusDenied(
            gdbus(self.bus.address,
                  *call_args("org.freedesktop.DBus.Properties.Set", NAME, "Sessions",
                             "<uint32 0>"), user=MEMBER, init_groups=True), "Set")

    def test_the_groups_id_without_membership(self):
        """nobody with the group's gid among its process groups, yet not a
        member in the user database: the bus, which reads the process's
        groups, lets the call through, and vsmtpd, which looks at the same
        groups, accepts it. (A bus that does not read them refuses it
        itself: then nothing happens and vsmtpctl says so.)"""
        status, out, err = ctl(self.bus.address, "pause", "default", user="nobody",
                               groups=[self.gid])
        if status == 4:
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertRegex(err, r"^vsmtpctl: pause: access denied: Rejected send message")
            self.assertFalse(self.paused())
            return
        self.assertEqual((status, out), (0, "listener default paused\n"), err)
        self.assertTrue(self.paused())

    def test_signals_reach_anyone(self):
        """nobody and a member of the group (gdbus monitor, its output line
        buffered) receive ListenerStateChanged."""
        monitors = []
        try:
            for user, init in (("nobody", False), (MEMBER, True)):
                env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address, HOME="/")
                m = subprocess.Popen(
                    setpriv(user, init_groups=init) +
                    ["stdbuf", "-oL", "gdbus", "monitor", "--system", "--dest", NAME],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=env, preexec_fn=fx._die_with_parent)
                monitors.append(m)
                lines = queue.Queue()
                threading.Thread(target=lambda m=m, q=lines: [q.put(line.decode())
                                                             for line in m.stdout],
                                 daemon=True).start()
                m.lines = lines
                # the match rule is added before the owner is asked for
                self.next_line(m, "is owned by")
            self.assertEqual(ctl(self.bus.address, "pause", "default")[0], 0)
            self.assertEqual(ctl(self.bus.address, "resume", "default")[0], 0)
            for m in monitors:
                line = self.next_line(m, "ListenerStateChanged")
                self.assertIn(f"{NAME}.ListenerStateChanged ('default', true)", line)
                line = self.next_line(m, "ListenerStateChanged")
                self.assertIn(f"{NAME}.ListenerStateChanged ('default', false)", line)
        finally:
            for m in monitors:
                m.kill()
                m.wait()
                m.stdout.close()

    def next_line(self, monitor, text):
        """The next line of @monitor's output with @text in it (WAIT bounds
        a hang)."""
        seen = []
        while True:
            try:
                line = monitor.lines.get(timeout=WAIT)
            except queue.Empty:
                self.fail(f"no line with {text!r} among {seen}")
            if text in line:
                return line
            seen.append(line)

    def test_nobody_else_owns_the_name(self):
        owner = self.bus_call("GetNameOwner", NAME)
        for user, init in (("nobody", False), (MEMBER, True)):
            # DO_NOT_QUEUE (4): the policy answers before any queueing
            status, out, err = gdbus(self.bus.address,
                                     *call_args("org.freedesktop.DBus.RequestName", NAME, "4",
                                                dest="org.freedesktop.DBus",
                                                path="/org/freedesktop/DBus"),
                                     user=user, init_groups=init)
            self.assertNotEqual(status, 0, out)
            self.assertIn("GDBus.Error:org.freedesktop.DBus.Error.AccessDenied:", err)
            self.assertIn(f'not allowed to own the service "{NAME}"', err)
        self.assertEqual(self.bus_call("GetNameOwner", NAME), owner)


if __name__ == "__main__":
    fx.main()

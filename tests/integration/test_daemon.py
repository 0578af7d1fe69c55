#!/usr/bin/python3
"""The vsmtpd command line: configuration errors, plugins, signals,
defaults."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import vsmtpd_fixture as fx


class DaemonTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-daemon-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run_vsmtpd(self, *args, env=None, timeout=15):
        """Run vsmtpd expecting it to exit on its own."""
        cmd = [fx.VSMTPD, *args]
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=timeout,
                                  env=env or fx.clean_env(self.home),
                                  cwd=self.tmp)
        except subprocess.TimeoutExpired:
            self.fail(f"vsmtpd {args!r} kept running instead of exiting")

    def daemon(self, **kw):
        d = fx.Vsmtpd(**kw)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def assertOneErrorLine(self, r, *needles):
        self.assertEqual(r.returncode, 1,
                         f"exit status {r.returncode}, stderr {r.stderr!r}")
        lines = r.stderr.decode(errors="replace").splitlines()
        self.assertEqual(len(lines), 1, f"expected one stderr line: {r.stderr!r}")
        for n in needles:
            self.assertIn(n, lines[0])
        return lines[0]

    # --version ------------------------------------------------------------

    def test_version(self):
        r = self.run_vsmtpd("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        if fx.VERSION:
            self.assertIn(fx.VERSION, out)
        else:
            self.assertRegex(out, r"\d+\.\d+\.\d+")
        self.assertEqual(len(out.strip().splitlines()), 1, out)

    # Bad configuration ------------------------------------------------------

    def test_bad_config_value(self):
        path = self.write("bad.conf",
                          "[server]\nmax-message-size=lots\n")
        r = self.run_vsmtpd("--config", path,
                            "--listen", f"127.0.0.1:{fx.free_port()}")
        self.assertOneErrorLine(r, path, "max-message-size")

    def test_bad_bare_newline_value(self):
        path = self.write("bad.conf", "[server]\nbare-newline=maybe\n")
        r = self.run_vsmtpd("--config", path,
                            "--listen", f"127.0.0.1:{fx.free_port()}")
        self.assertOneErrorLine(r, path, "bare-newline")

    def test_bad_listen_value(self):
        path = self.write("bad.conf", "[server]\nlisten=not-an-address\n")
        r = self.run_vsmtpd("--config", path)
        self.assertOneErrorLine(r, path, "listen")

    def test_config_syntax_error(self):
        path = self.write("broken.conf", "this is not a key file\n[\n")
        r = self.run_vsmtpd("--config", path,
                            "--listen", f"127.0.0.1:{fx.free_port()}")
        self.assertOneErrorLine(r, path)

    def test_missing_config_file(self):
        path = os.path.join(self.tmp, "does-not-exist.conf")
        r = self.run_vsmtpd("--config", path,
                            "--listen", f"127.0.0.1:{fx.free_port()}")
        self.assertOneErrorLine(r, path)

    def test_bad_option_value(self):
        r = self.run_vsmtpd("--listen", f"127.0.0.1:{fx.free_port()}",
                            "--option", "server.max-recipients=many")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"max-recipients", r.stderr)

    def test_number_out_of_range(self):
        """A negative or too large number is out of range, and the message
        says which values are allowed; only a non-number is "not a number"."""
        cases = [
            ("decision-timeout=-5", '[server] decision-timeout: "-5" is out of '
                                    'range (1 to 86400 seconds)'),
            ("timeout=99999999999999999999", '[server] timeout: '
             '"99999999999999999999" is out of range (1 to 86400 seconds)'),
            ("max-line-length=100", '[server] max-line-length: "100" is out of '
                                    'range (512 to 1048576 bytes)'),
            ("max-message-size=0", '[server] max-message-size: "0" is out of '
                                   'range (at least 1 byte)'),
            ("workers=0", '[server] workers: "0" is out of range '
                          '(1 to 256 processes, or "auto")'),
            ("decision-timeout=1.5", '[server] decision-timeout: "1.5" is not '
                                     'a number'),
        ]
        for setting, problem in cases:
            with self.subTest(setting=setting):
                path = self.write("range.conf", f"[server]\n{setting}\n")
                r = self.run_vsmtpd("--config", path,
                                    "--listen", f"127.0.0.1:{fx.free_port()}")
                line = self.assertOneErrorLine(r)
                self.assertEqual(line, f"vsmtpd: {path}: {problem}")

    def test_unknown_plugin(self):
        r = self.run_vsmtpd("--listen", f"127.0.0.1:{fx.free_port()}",
                            "--option",
                            f"maildir.path={os.path.join(self.tmp, 'M')}",
                            "--plugin", "no-such-plugin")
        self.assertOneErrorLine(r, 'vsmtpd: plugin "no-such-plugin" not found (searched ')
        path = self.write("enabled.conf", "[plugins]\nenabled=maildir;nope\n")
        r = self.run_vsmtpd("--config", path, "--listen", f"127.0.0.1:{fx.free_port()}")
        self.assertOneErrorLine(r, 'vsmtpd: plugin "nope" not found (searched ')

    def test_listen_address_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = self.run_vsmtpd("--listen", f"127.0.0.1:{port}",
                                "--option",
                                f"maildir.path={os.path.join(self.tmp, 'M')}")
        self.assertEqual(r.returncode, 1, r.stderr)

    # Signals ----------------------------------------------------------------

    def test_sigterm_exits_0(self):
        d = self.daemon()
        self.assertEqual(d.stop(signal.SIGTERM), 0, d.stderr_text())

    def test_sigint_exits_0(self):
        d = self.daemon()
        self.assertEqual(d.stop(signal.SIGINT), 0, d.stderr_text())

    def test_sigterm_after_delivery(self):
        d = self.daemon()
        with d.connect() as c:
            self.assertEqual(c.cmd(b"EHLO sig.example").code, 250)
            self.assertEqual(c.cmd(b"MAIL FROM:<a@b>").code, 250)
            self.assertEqual(c.cmd(b"RCPT TO:<c@d>").code, 250)
            self.assertEqual(c.cmd(b"DATA").code, 354)
            c.send(b"Subject: s\r\n\r\ns\r\n.\r\n")
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd(b"QUIT").code, 221)
        self.assertEqual(d.stop(), 0, d.stderr_text())
        self.assertEqual(len(d.maildir_files()), 1)

    def test_sigterm_lets_open_transaction_finish(self):
        # Shutdown: the listener closes at once, an idle session gets
        # 421 4.3.2, a session in a transaction may finish it first.
        d = self.daemon()
        idle = d.connect()
        self.addCleanup(idle.close)
        busy = d.connect()
        self.addCleanup(busy.close)
        self.assertEqual(idle.cmd(b"EHLO idle.example").code, 250)
        self.assertEqual(busy.cmd(b"EHLO busy.example").code, 250)
        self.assertEqual(busy.cmd(b"MAIL FROM:<a@b>").code, 250)
        d.proc.send_signal(signal.SIGTERM)
        r = idle.reply()
        self.assertEqual((r.code, r.esc), (421, "4.3.2"), r)
        self.assertTrue(idle.closed_by_peer())
        # New connections are refused ...
        deadline = time.monotonic() + 5
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                socket.create_connection(("127.0.0.1", d.port), 1).close()
                time.sleep(0.1)
            except OSError:
                refused = True
        self.assertTrue(refused, "still accepting after SIGTERM")
        # ... while the open transaction can still deliver its message.
        self.assertIsNone(d.proc.poll(), "exited during a transaction")
        self.assertEqual(busy.cmd(b"RCPT TO:<c@d>").code, 250)
        self.assertEqual(busy.cmd(b"DATA").code, 354)
        busy.send(b"Subject: late\r\n\r\nlate\r\n.\r\n")
        r = busy.reply()
        self.assertEqual(r.code, 250, r)
        self.assertEqual(len(d.maildir_files()), 1)
        # The transaction is over: the session is closed at once, without
        # waiting for another command.
        bye = busy.pending(3)
        self.assertTrue(bye.startswith(b"421 4.3.2 "),
                        f"after the transaction, expected 421 4.3.2, got {bye!r}")
        try:
            status = d.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("vsmtpd did not exit after the transaction ended")
        self.assertEqual(status, 0, d.stderr_text())

    # Options and defaults -----------------------------------------------------

    def ehlo_size(self, d):
        with d.connect() as c:
            r = c.cmd(b"EHLO opt.example")
            self.assertEqual(r.code, 250, r)
            sizes = [l[4:] for l in r.lines if l[4:].startswith(b"SIZE")]
            self.assertEqual(len(sizes), 1, r)
            return sizes[0]

    def test_config_file_is_read(self):
        d = self.daemon(server="max-message-size=12345\n")
        self.assertEqual(self.ehlo_size(d), b"SIZE 12345")
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def test_option_overrides_config(self):
        d = self.daemon(server="max-message-size=12345\n",
                        options=("server.max-message-size=20000",))
        self.assertEqual(self.ehlo_size(d), b"SIZE 20000")
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def test_hostname_option(self):
        d = self.daemon(args=("--hostname", "cli-name.example"))
        with d.connect() as c:
            self.assertTrue(c.greeting.lines[0].startswith(
                b"220 cli-name.example"), c.greeting)
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def test_discard_plugin(self):
        d = self.daemon(plugins=("discard",))
        with d.connect() as c:
            self.assertEqual(c.cmd(b"EHLO d.example").code, 250)
            self.assertEqual(c.cmd(b"MAIL FROM:<a@b>").code, 250)
            self.assertEqual(c.cmd(b"RCPT TO:<c@d>").code, 250)
            self.assertEqual(c.cmd(b"DATA").code, 354)
            c.send(b"Subject: gone\r\n\r\ngone\r\n.\r\n")
            r = c.reply()
            self.assertEqual(r.code, 250, r)
        self.assertEqual(d.maildir_files(), [])
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def test_no_delivery_plugin_never_250(self):
        # Nobody takes responsibility for the message: a 4xx, never a 250.
        d = self.daemon(plugins=())
        with d.connect() as c:
            self.assertEqual(c.cmd(b"EHLO n.example").code, 250)
            self.assertEqual(c.cmd(b"MAIL FROM:<a@b>").code, 250)
            r = c.cmd(b"RCPT TO:<c@d>")
            if r.code == 250:
                self.assertEqual(c.cmd(b"DATA").code, 354)
                c.send(b"Subject: lost\r\n\r\nlost\r\n.\r\n")
                r = c.reply()
            self.assertTrue(400 <= r.code < 500, r)
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def test_state_directory_maildir(self):
        state = os.path.join(self.tmp, "state")
        os.mkdir(state)
        env = fx.clean_env(self.home)
        env["STATE_DIRECTORY"] = state
        port = fx.free_port()
        proc = subprocess.Popen([fx.VSMTPD, "--listen", f"127.0.0.1:{port}"],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, cwd=self.tmp)
        self.addCleanup(self._kill, proc)
        self._deliver_default(proc, port)
        files = os.listdir(os.path.join(state, "Maildir", "new"))
        self.assertEqual(len(files), 1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(fx.STOP_TIMEOUT), 0)

    def test_embedded_defaults(self):
        if not fx.port_is_free(2525):
            self.skipTest("127.0.0.1:2525 is in use")
        proc = subprocess.Popen([fx.VSMTPD], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE,
                                env=fx.clean_env(self.home), cwd=self.tmp)
        self.addCleanup(self._kill, proc)
        self._deliver_default(proc, 2525)
        new = os.path.join(self.home, ".local", "state", "vsmtpd",
                           "Maildir", "new")
        self.assertEqual(len(os.listdir(new)), 1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(fx.STOP_TIMEOUT), 0)

    @staticmethod
    def _kill(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def _deliver_default(self, proc, port):
        deadline = time.monotonic() + fx.START_TIMEOUT
        while True:
            if proc.poll() is not None:
                self.fail(f"vsmtpd exited: {proc.stderr.read()!r}")
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.fail("vsmtpd did not start listening")
                time.sleep(0.05)
        with fx.RawClient(port) as c:
            self.assertEqual(c.greeting.code, 220)
            self.assertEqual(c.cmd(b"EHLO def.example").code, 250)
            self.assertEqual(c.cmd(b"MAIL FROM:<a@b>").code, 250)
            self.assertEqual(c.cmd(b"RCPT TO:<c@d>").code, 250)
            self.assertEqual(c.cmd(b"DATA").code, 354)
            c.send(b"Subject: default\r\n\r\ndefault\r\n.\r\n")
            r = c.reply()
            self.assertEqual(r.code, 250, r)
            self.assertEqual(c.cmd(b"QUIT").code, 221)


def send_one(test, d):
    """One message through the running daemon @d, answered 250."""
    c = d.connect()
    test.assertEqual(c.cmd(b"EHLO one.example").code, 250)
    test.assertEqual(c.cmd(b"MAIL FROM:<a@example.org>").code, 250)
    test.assertEqual(c.cmd(b"RCPT TO:<b@example.org>").code, 250)
    test.assertEqual(c.cmd(b"DATA").code, 354)
    c.send(b"Subject: one\r\n\r\nx\r\n.\r\n")
    test.assertEqual(c.reply().code, 250)
    c.close()


def failing_start(test, d):
    """Starts @d's configuration expecting exit status 1; its stderr."""
    d.write_config()
    r = subprocess.run(d.command(fx.free_port()), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=fx.clean_env(d.home), timeout=30)
    test.assertEqual(r.returncode, 1, r.stderr)
    return r.stderr.decode()


def free_low_port():
    """A free TCP port below 1024 on 127.0.0.1 (binding it needs root)."""
    for port in range(990, 600, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise unittest.SkipTest("no free port below 1024")


def proc_status(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


@unittest.skipUnless(os.geteuid() == 0, "switching users needs root")
class PrivilegeDropTest(unittest.TestCase):
    """[server] user/group: vsmtpd binds (a port below 1024 too) and reads
    its files as root, then runs as that user with CAP_NET_BIND_SERVICE
    only; what it writes belongs to that user."""

    def test_runs_as_nobody(self):
        low = free_low_port()
        env = {}
        if os.environ.get("VSMTP_TEST_SANITIZER"):
            # LeakSanitizer stops the process with ptrace at exit, which a
            # process that switched users (not dumpable) refuses; memory
            # errors are still caught
            env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        d = fx.Vsmtpd(server=f"user=nobody\ngroup=nogroup\n"
                             f"listen-submission=127.0.0.1:{low}\n", env=env)
        self.addCleanup(d.cleanup)
        os.chmod(d.tmpdir, 0o755)
        for sub in ("", "tmp", "new", "cur"):
            os.makedirs(os.path.join(d.maildir, sub), exist_ok=True)
            os.chown(os.path.join(d.maildir, sub), 65534, 65534)
        d.start()
        # the kernel accepts on the bound port before vsmtpd has dropped its
        # privileges; a greeting comes only from the main loop, after
        with d.connect() as c:
            c.cmd("QUIT")
        status = proc_status(d.proc.pid)
        self.assertEqual(status["Uid"].split(), ["65534"] * 4)
        self.assertEqual(status["Gid"].split(), ["65534"] * 4)
        self.assertEqual(status["Groups"].split(), ["65534"])
        self.assertEqual(int(status["CapEff"], 16), 1 << 10)   # CAP_NET_BIND_SERVICE
        self.assertEqual(int(status["CapPrm"], 16), 1 << 10)
        self.assertIn("running as user nobody (uid 65534, gid 65534), keeping only "
                      "CAP_NET_BIND_SERVICE", d.stderr_text())
        # the port below 1024 was bound before the switch
        with fx.RawClient(low) as c:
            self.assertEqual(c.greeting.code, 220)
        send_one(self, d)
        files = d.maildir_files()
        self.assertEqual(len(files), 1)
        self.assertEqual(os.stat(files[0]).st_uid, 65534)
        self.assertEqual(d.stop(), 0)

    def test_bad_user_and_group(self):
        for server, expected in [
                ("user=no-such-user-here\n", '[server] user: no such user "no-such-user-here"'),
                ("user=nobody\ngroup=no-such-group-here\n",
                 '[server] group: no such group "no-such-group-here"'),
                ("group=nogroup\n", "[server] group: a group without user")]:
            d = fx.Vsmtpd(server=server)
            self.addCleanup(d.cleanup)
            self.assertEqual(failing_start(self, d), f"vsmtpd: {d.config_path}: {expected}\n")


PYCONF = """import gi
gi.require_version('Vsmtp', '1.0')
from gi.repository import GLib, GObject, Vsmtp


class PyConfPlugin(GObject.Object, Vsmtp.Activatable):
    server = GObject.Property(type=Vsmtp.Server)

    def do_declare_config(self, group):
        group.add_integer('limit', 10, 1, 100, None, 'A limit')
        group.add_string('mode', 'fast', 'fast or slow')

    def do_configure(self, group):
        mode = group.dup_string('mode')
        if mode == 'error':
            raise GLib.Error.new_literal(Vsmtp.error_quark(),
                                         '[pyconf] mode: "error" is refused by configure',
                                         Vsmtp.Error.INVALID_CONFIG)
        if mode == 'value':
            raise ValueError('[pyconf] mode: "value" is refused with a ValueError')
        if mode == 'none':
            return None
        log = GLib.log_variant
        log('pyconf', GLib.LogLevelFlags.LEVEL_INFO,
            GLib.Variant('a{sv}', {'MESSAGE': GLib.Variant(
                's', f'pyconf: limit {group.get_integer("limit")} mode {mode}')}))
        return True

    def do_activate(self):
        pass

    def do_deactivate(self):
        pass
"""


class ConfigDeclarationTest(unittest.TestCase):
    """Plugins declare their keys: vsmtpd refuses an unknown key or a bad
    value in a plugin's group at start (exit 1, one line naming the file or
    option, the group and the key), a plugin's configure() may refuse too,
    and a plugin for another plugin API version is not loaded."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-decl-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)
        self.plugins = os.path.join(self.tmp, "plugins")
        os.mkdir(self.plugins)

    def start(self, config, *args):
        """vsmtpd with @config expected to fail: its stderr lines."""
        path = os.path.join(self.tmp, "vsmtpd.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"[plugins]\npath={self.plugins}\n" + config)
        r = subprocess.run([fx.VSMTPD, "--config", path,
                            "--listen", f"127.0.0.1:{fx.free_port()}", *args],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           env=fx.clean_env(self.home), cwd=self.tmp)
        stderr = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 1, stderr)
        self.assertNotIn("Traceback", stderr)
        errors = [l for l in stderr.splitlines() if l.startswith("vsmtpd: ")]
        self.assertEqual(len(errors), 1, stderr)
        return path, errors[0]

    def maildir(self):
        return f"[maildir]\npath={os.path.join(self.tmp, 'Maildir')}\n"

    def test_unknown_key(self):
        path, line = self.start("[plugins]\nenabled=maildir\n[maildir]\npathh=/x\n")
        self.assertEqual(line, f"vsmtpd: {path}: [maildir] pathh: unknown key")
        # from the command line: the option is named
        path, line = self.start(self.maildir() + "[plugins]\nenabled=maildir\n",
                                "--option", "maildir.pathh=/x")
        self.assertEqual(line, "vsmtpd: --option maildir.pathh=/x: [maildir] pathh: unknown key")
        # a plugin without keys has none
        path, line = self.start("[plugins]\nenabled=discard\n[discard]\nsize=1\n")
        self.assertEqual(line, f"vsmtpd: {path}: [discard] size: unknown key")

    def test_wrong_types(self):
        cases = [
            ("relay", "[relay]\nhost=127.0.0.1\nport=abc\n",
             '[relay] port: "abc" is not a number'),
            ("relay", "[relay]\nhost=127.0.0.1\nport=70000\n",
             '[relay] port: "70000" is out of range (0 to 65535)'),
            ("relay", "[relay]\nhost=127.0.0.1\ntls-verify=maybe\n",
             '[relay] tls-verify: "maybe" is neither true nor false'),
            ("recipients", "[recipients]\nrelay-authenticated=perhaps\n",
             '[recipients] relay-authenticated: "perhaps" is neither true nor false'),
            ("passwd", "[passwd]\nfile=\n", "[passwd] file: the value is empty"),
            ("maildir", "[maildir]\npath=\n", "[maildir] path: the value is empty"),
            ("tarpit", "[tarpit]\ndelay=abc\n", '[tarpit] delay: "abc" is not a number'),
        ]
        if os.path.exists(os.path.join(os.path.dirname(os.path.dirname(fx.VSMTPD)),
                                       "plugins", "vala", "libblocklist.so")):
            cases.append(("blocklist", "[blocklist]\ndomains=a.example;;b.example\n",
                          "[blocklist] domains: the list has an empty element"))
        for plugin, config, problem in cases:
            with self.subTest(config=config):
                path, line = self.start(f"[plugins]\nenabled={plugin};discard\n" + config)
                self.assertEqual(line, f"vsmtpd: {path}: {problem}")

    def test_configure_refuses(self):
        """The shipped relay refuses a value its type cannot check."""
        path, line = self.start("[plugins]\nenabled=relay\n[relay]\nhost=127.0.0.1\n"
                                "protocol=uucp\n")
        self.assertEqual(line, f'vsmtpd: {path}: [relay] protocol: "uucp" is neither '
                               'smtp nor lmtp')

    def write_plugin(self, name, source, api="X-Vsmtp-Plugin-API=2\n"):
        with open(os.path.join(self.plugins, name + ".plugin"), "w") as f:
            f.write(f"[Plugin]\nModule={name}\nLoader=python3\nName={name}\n{api}")
        with open(os.path.join(self.plugins, name + ".py"), "w") as f:
            f.write(source)

    def test_python_plugin_declares_and_refuses(self):
        self.write_plugin("pyconf", PYCONF)
        config = "[plugins]\nenabled=pyconf;discard\n[pyconf]\n"
        path, line = self.start(config + "limit=1000\n")
        self.assertEqual(line, f'vsmtpd: {path}: [pyconf] limit: "1000" is out of range '
                               '(1 to 100)')
        path, line = self.start(config + "limt=1\n")
        self.assertEqual(line, f"vsmtpd: {path}: [pyconf] limt: unknown key")
        path, line = self.start(config + "mode=error\n")
        self.assertEqual(line, f'vsmtpd: {path}: [pyconf] mode: "error" is refused by configure')
        path, line = self.start(config + "mode=value\n")
        self.assertEqual(line, f'vsmtpd: {path}: [pyconf] mode: "value" is refused with a '
                               'ValueError')
        path, line = self.start(config + "mode=none\n")
        self.assertIn('plugin "pyconf"', line)
        self.assertIn("configure failed without an error (a Python do_configure must "
                      "return True)", line)

        # and a good value reaches the plugin
        d = fx.Vsmtpd(plugins=("pyconf", "discard"),
                      config=f"[plugins]\npath={self.plugins}\n[pyconf]\nlimit=7\nmode=slow\n")
        self.addCleanup(d.cleanup)
        d.start()
        self.assertEqual(d.stop(), 0, d.stderr_text())
        self.assertIn("pyconf: limit 7 mode slow", d.stderr_text())

    def test_plugin_api_version(self):
        tarpit = os.path.join(os.path.dirname(os.path.dirname(fx.VSMTPD)),
                              "plugins", "python", "tarpit.py")
        with open(tarpit, encoding="utf-8") as f:
            source = f.read()
        cases = [
            ("X-Vsmtp-Plugin-API=1\n",
             'plugin "oldtarpit" ({dir}) is for plugin API version 1 '
             '(X-Vsmtp-Plugin-API=1); this vsmtpd supports version 2'),
            ("",
             'plugin "oldtarpit" ({dir}) states no plugin API version '
             '(X-Vsmtp-Plugin-API in its .plugin file); this vsmtpd supports version 2'),
        ]
        for api, message in cases:
            with self.subTest(api=api):
                self.write_plugin("oldtarpit", source, api)
                path, line = self.start("[plugins]\nenabled=oldtarpit;discard\n")
                self.assertEqual(line, "vsmtpd: " + message.format(dir=self.plugins))
        # the same copy stating version 2 loads
        self.write_plugin("oldtarpit", source)
        d = fx.Vsmtpd(plugins=("oldtarpit", "discard"),
                      config=f"[plugins]\npath={self.plugins}\n[oldtarpit]\ndelay=0\n")
        self.addCleanup(d.cleanup)
        d.start()
        self.assertEqual(d.stop(), 0, d.stderr_text())
        self.assertIn("tarpit: RCPT TO answered after 0 ms", d.stderr_text())

    def test_groups_of_plugins_not_enabled(self):
        """Allowed and not read (a configuration kept for later): logged; a
        group that names no plugin at all gets a warning."""
        d = fx.Vsmtpd(config="[relay]\nhost=mx.example\nprot=typo\n[nosuchplugin]\nkey=1\n")
        self.addCleanup(d.cleanup)
        d.start()
        self.assertEqual(d.stop(), 0, d.stderr_text())
        log = d.stderr_text()
        self.assertIn("[relay] is not read: the plugin relay is not enabled", log)
        self.assertIn("[nosuchplugin] is not read: there is no plugin nosuchplugin", log)

    def test_list_keys(self):
        r = subprocess.run([fx.VSMTPD, "--list-keys"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60, env=fx.clean_env(self.home))
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("# How long a client may stay silent before its session is closed "
                      "(integer, 1 to 86400 seconds)\n#timeout=300\n", out)
        self.assertIn("[tarpit]\n# Milliseconds before RCPT TO is answered "
                      "(integer, 0 to 60000 milliseconds)\n#delay=1000\n", out)
        self.assertIn("#bare-newline=normalize\n", out)


class CredentialsTest(unittest.TestCase):
    """systemd credentials: "credential:NAME" in any group is the file
    $CREDENTIALS_DIRECTORY/NAME (LoadCredential= in the unit)."""

    def test_credentials(self):
        creds = tempfile.mkdtemp(prefix="vsmtpd-creds-")
        self.addCleanup(shutil.rmtree, creds, True)
        data = os.path.join(fx.SOURCE_ROOT, "tests", "data")
        shutil.copy(os.path.join(data, "test-cert.pem"), os.path.join(creds, "cert"))
        shutil.copy(os.path.join(data, "test-key.pem"), os.path.join(creds, "key"))
        with open(os.path.join(creds, "users"), "w") as f:
            f.write("alice:$6$salt$hash\n")
        d = fx.Vsmtpd(server="tls-certificate=credential:cert\ntls-key=credential:key\n",
                      plugins=("passwd", "maildir"),
                      config="[passwd]\nfile=credential:users\n",
                      env={"CREDENTIALS_DIRECTORY": creds})
        self.addCleanup(d.cleanup)
        d.start()
        log = d.stderr_text()
        self.assertIn(f"TLS certificate {creds}/cert (SHA-256 ", log)
        self.assertIn(f"passwd: 1 users from {creds}/users", log)
        self.assertEqual(d.stop(), 0)

        # without the credentials folder: one line naming the key
        d2 = fx.Vsmtpd(server="tls-certificate=credential:cert\ntls-key=credential:key\n")
        self.addCleanup(d2.cleanup)
        self.assertEqual(failing_start(self, d2),
                         f'vsmtpd: {d2.config_path}: [server] tls-certificate: '
                         f'"credential:cert": no systemd credentials ($CREDENTIALS_DIRECTORY '
                         f'is not set; LoadCredential= in the unit)\n')


class LeftoversTest(unittest.TestCase):
    """Files a crash leaves in the maildir's tmp/ and in the spool folder
    are removed at start when older than 36 hours, each removal logged;
    younger ones and other files stay."""

    def test_stale_files_removed_at_start(self):
        d = fx.Vsmtpd()
        self.addCleanup(d.cleanup)
        spool = os.path.join(d.tmpdir, "spool")
        tmp = os.path.join(d.maildir, "tmp")
        for folder in (spool, tmp, os.path.join(d.maildir, "new"),
                       os.path.join(d.maildir, "cur")):
            os.makedirs(folder)
        now = time.time()

        def make(path, age_hours):
            with open(path, "w") as f:
                f.write("partial")
            os.utime(path, (now - age_hours * 3600, now - age_hours * 3600))
            return path

        stale_tmp = make(os.path.join(tmp, "1700000000.M1P1Q1.host"), 40)
        fresh_tmp = make(os.path.join(tmp, "1700000000.M2P1Q2.host"), 30)
        stale_spool = make(os.path.join(spool, "vsmtp-AbC123"), 37)
        fresh_spool = make(os.path.join(spool, "vsmtp-DeF456"), 1)
        foreign = make(os.path.join(spool, "someone-elses-file"), 100)
        d.server_config = f"spool-directory={spool}\n"
        d.start()
        # the kernel accepts on the bound port before the plugins (maildir's
        # clean-up) and the spool's clean-up have run: wait for their lines
        deadline = time.monotonic() + fx.START_TIMEOUT
        while d.stderr_text().count("left over") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        log = d.stderr_text()
        self.assertFalse(os.path.exists(stale_tmp))
        self.assertFalse(os.path.exists(stale_spool))
        for kept in (fresh_tmp, fresh_spool, foreign):
            self.assertTrue(os.path.exists(kept), kept)
        self.assertRegex(log, r"removed " + re.escape(stale_tmp) +
                         r": left over, last modified 40 hours ago\n")
        self.assertRegex(log, r"removed " + re.escape(stale_spool) +
                         r": left over, last modified 37 hours ago\n")
        self.assertEqual(log.count("left over"), 2, log)
        # and the server still delivers
        send_one(self, d)
        self.assertEqual(len(d.maildir_files()), 1)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""vsmtpd --check-config and --print-config.

--check-config reads the configuration as startup does (keys and types of
every group, listener addresses, the certificate and its key, the enabled
plugins: found, their groups read and configured) without binding,
activating a plugin or writing a file; it prints OK (exit 0) or one line
per problem on stderr, "vsmtpd: FILE: [group] key: problem" (exit 1),
every problem it can find, not only the first.

--print-config prints the effective configuration as a key file: every key,
those left at their default commented out and marked "# default";
--print-config=changed only the keys the configuration sets. Its output
passes --check-config."""

import os
import re
import socket
import subprocess
import unittest

import vsmtpd_fixture as fx

SHIPPED_CONF = os.path.join(fx.SOURCE_ROOT, "data", "vsmtpd.conf")


def run(daemon, *args, config=None):
    """vsmtpd with ARGS and --config (the daemon's file unless given), in the
    daemon's folder; the completed process, stdout and stderr as text."""
    return subprocess.run(
        [fx.VSMTPD, "--config", config or daemon.config_path, *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=fx.clean_env(daemon.home), cwd=daemon.tmpdir, timeout=120)


def make_pair(folder, name):
    """A self-signed certificate and its key (PEM files) made by openssl."""
    cert = os.path.join(folder, f"{name}-cert.pem")
    key = os.path.join(folder, f"{name}-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", f"/CN={name}.vsmtpd-test.example"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tree(folder):
    """Every path below FOLDER."""
    found = set()
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            found.add(os.path.relpath(os.path.join(root, n), folder))
    return found


class CheckConfigTest(unittest.TestCase):

    def setUp(self):
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()

    def daemon(self, **kw):
        d = fx.Vsmtpd(**kw)
        self.daemons.append(d)
        d.write_config()
        return d

    def check(self, daemon, *args):
        return run(daemon, "--check-config", *args)

    def assertOk(self, r):
        self.assertEqual((r.returncode, r.stdout), (0, "OK\n"), r.stderr)

    def assertProblems(self, r, daemon, *expected):
        """Exit 1, nothing on stdout, and for each (group, key, pattern) of
        EXPECTED a line "vsmtpd: FILE: [group] key: ..." matching pattern."""
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        lines = [l for l in r.stderr.splitlines() if not l.startswith("vsmtpd: warning: ")]
        for group, key, pattern in expected:
            prefix = f"vsmtpd: {daemon.config_path}: [{group}] {key}: "
            self.assertTrue(any(l.startswith(prefix) and re.search(pattern, l[len(prefix):])
                                for l in lines),
                            f"no line {prefix}{pattern} in:\n{r.stderr}")
        return lines

    # what passes ------------------------------------------------------------

    def test_shipped_config_passes(self):
        d = self.daemon()
        self.assertOk(run(d, "--check-config", config=SHIPPED_CONF))

    def test_fixture_config_passes(self):
        d = self.daemon()
        self.assertOk(self.check(d))

    def test_certificate_and_matching_key_pass(self):
        d = self.daemon()
        cert, key = make_pair(d.tmpdir, "a")
        d.server_config = (f"tls-certificate={cert}\ntls-key={key}\n"
                           "listen-tls=127.0.0.1:0\n")
        d.write_config()
        self.assertOk(self.check(d))

    # each kind of problem ---------------------------------------------------

    def test_unknown_key(self):
        d = self.daemon(server="max-recipientz=5\n")
        self.assertProblems(self.check(d), d, ("server", "max-recipientz", "unknown key"))

    def test_bad_type(self):
        d = self.daemon(server="max-recipients=many\n")
        self.assertProblems(self.check(d), d,
                            ("server", "max-recipients", r'"many" is not a number'))

    def test_out_of_range(self):
        d = self.daemon(server="timeout=0\n")
        self.assertProblems(self.check(d), d, ("server", "timeout", "out of range"))

    def test_bad_server_listen_address(self):
        d = self.daemon(server="listen=127.0.0.1:2525;localhost:twenty-five\n")
        self.assertProblems(self.check(d), d,
                            ("server", "listen", r'"localhost:twenty-five" is not ADDR:PORT'))

    def test_bad_listener_address(self):
        d = self.daemon(config="[listener edge]\nlisten=300.1.2.3:25\n")
        lines = self.assertProblems(self.check(d), d,
                                    ("listener edge", "listen", r'"300\.1\.2\.3:25" is not'))
        self.assertEqual(len(lines), 1, lines)

    def test_listener_name_not_utf8(self):
        """A [listener NAME] group whose name is not UTF-8 (it goes on
        D-Bus, into metrics labels and the status page) is refused at load,
        by --check-config and at start, naming the group (escaped)."""
        d = self.daemon()
        port = fx.free_port()
        with open(d.config_path, "ab") as f:
            f.write(b"\n[listener caf\xe9]\nlisten=127.0.0.1:%d\n" % port)
        expected = ("listener caf\\xe9", "(the group's name)",
                    "^not valid UTF-8, which a listener's name must be")
        lines = self.assertProblems(self.check(d), d, expected)
        self.assertEqual(len(lines), 1, lines)
        r = run(d)
        self.assertProblems(r, d, expected)
        # the same name in UTF-8 is fine
        d.write_config()
        with open(d.config_path, "ab") as f:
            f.write("\n[listener café]\nlisten=127.0.0.1:%d\n".encode() % port)
        self.assertOk(self.check(d))

    def test_unix_socket_folder_missing(self):
        d = self.daemon(config="[listener local]\nlisten=unix:/nonexistent-vsmtpd/smtp.sock\n"
                               "protocol=lmtp\n")
        self.assertProblems(self.check(d), d,
                            ("listener local", "listen", "/nonexistent-vsmtpd does not exist"))

    def test_unknown_user(self):
        d = self.daemon(server="user=no-such-user-vsmtpd\n")
        self.assertProblems(self.check(d), d,
                            ("server", "user", 'no such user "no-such-user-vsmtpd"'))

    def test_certificate_file_missing(self):
        d = self.daemon()
        d.server_config = f"tls-certificate={d.tmpdir}/missing.pem\n"
        d.write_config()
        self.assertProblems(self.check(d), d,
                            ("server", "tls-certificate", "missing.pem"))

    def test_key_not_matching_the_certificate(self):
        d = self.daemon()
        cert_a, _ = make_pair(d.tmpdir, "a")
        _, key_b = make_pair(d.tmpdir, "b")
        d.server_config = f"tls-certificate={cert_a}\ntls-key={key_b}\nlisten-tls=127.0.0.1:0\n"
        d.write_config()
        lines = self.assertProblems(self.check(d), d, ("server", "tls-key", "does not match"))
        # listen-tls needing a certificate is not told as a problem of its own
        self.assertEqual(len(lines), 1, lines)

    def test_not_a_key_file(self):
        d = self.daemon()
        with open(d.config_path, "a", encoding="utf-8") as f:
            f.write("this line is no key\n")
        r = self.check(d)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith(f"vsmtpd: {d.config_path}: "), r.stderr)

    def test_option_problems_listed_with_the_file_ones(self):
        d = self.daemon(server="max-recipientz=5\n")
        r = self.check(d, "--option", "server.timeout=soon", "--option", "tarpit.delay=x",
                       "--plugin", "tarpit")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"vsmtpd: {d.config_path}: [server] max-recipientz: unknown key\n",
                      r.stderr)
        self.assertIn('vsmtpd: --option server.timeout=soon: [server] timeout: "soon" '
                      "is not a number\n", r.stderr)
        self.assertIn('vsmtpd: --option tarpit.delay=x: [tarpit] delay: "x" is not a number\n',
                      r.stderr)

    def test_unknown_plugin(self):
        d = self.daemon(plugins=("maildir", "no-such-plugin"))
        self.assertProblems(self.check(d), d,
                            ("plugins", "enabled", r'plugin "no-such-plugin" not found'))

    def test_bad_plugin_key(self):
        d = self.daemon(config="[recipients]\ndomainz=example.org\n",
                        plugins=("recipients", "maildir"))
        self.assertProblems(self.check(d), d, ("recipients", "domainz", "unknown key"))

    def test_bad_plugin_value(self):
        d = self.daemon(config="[tarpit]\ndelay=soon\n", plugins=("maildir", "tarpit"))
        self.assertProblems(self.check(d), d, ("tarpit", "delay", r'"soon" is not a number'))

    def test_plugin_refuses_its_configuration(self):
        # the plugin's configure, not the key's type, refuses it
        d = self.daemon()
        r = self.check(d, "--option", f"maildir.path-map={d.tmpdir}/no-such-map")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"vsmtpd: --option maildir.path-map={d.tmpdir}/no-such-map: "
                      "[maildir] path-map: ", r.stderr)

    def test_several_problems_all_listed(self):
        d = self.daemon(plugins=("maildir", "no-such-plugin", "tarpit"))
        cert_a, _ = make_pair(d.tmpdir, "a")
        _, key_b = make_pair(d.tmpdir, "b")
        d.server_config = ("max-recipientz=5\nmax-recipients=many\n"
                           f"tls-certificate={cert_a}\ntls-key={key_b}\n")
        d.extra_config = ("[tarpit]\ndelay=soon\n"
                          "[listener edge]\nlisten=300.1.2.3:25;unix:/nonexistent-vsmtpd/s.sock\n")
        d.write_config()
        lines = self.assertProblems(
            self.check(d), d,
            ("server", "max-recipientz", "unknown key"),
            ("server", "max-recipients", "not a number"),
            ("server", "tls-key", "does not match"),
            ("listener edge", "listen", r'"300\.1\.2\.3:25" is not'),
            ("listener edge", "listen", "/nonexistent-vsmtpd does not exist"),
            ("plugins", "enabled", "no-such-plugin"),
            ("tarpit", "delay", "not a number"))
        self.assertEqual(len(lines), 7, lines)

    def test_group_of_no_plugin_is_a_warning(self):
        d = self.daemon(config="[maildirr]\npath=/tmp/x\n")
        r = self.check(d)
        self.assertOk(r)
        self.assertIn(f"vsmtpd: warning: {d.config_path}: [maildirr] is not read: "
                      "there is no plugin maildirr", r.stderr)

    # without starting -------------------------------------------------------

    def test_does_not_bind(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
            held.bind(("127.0.0.1", 0))
            held.listen(1)
            port = held.getsockname()[1]
            d = self.daemon(server=f"listen=127.0.0.1:{port}\n",
                            config=f"[listener other]\nlisten=127.0.0.1:{port}\n")
            self.assertOk(self.check(d))
            # the daemon itself cannot start there
            r = subprocess.run([fx.VSMTPD, "--config", d.config_path],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               env=fx.clean_env(d.home), cwd=d.tmpdir, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot listen", r.stderr)

    def test_creates_no_file(self):
        # no maildir, no state folder (self-signed certificate, SCRAM secret)
        d = self.daemon(plugins=("maildir", "tarpit"))
        before = tree(d.tmpdir)
        self.assertOk(self.check(d))
        self.assertEqual(tree(d.tmpdir), before)
        self.assertFalse(os.path.exists(d.maildir))

    def test_creates_no_file_with_defaults(self):
        # without --config: the maildir and certificate in the state folder
        d = self.daemon()
        r = subprocess.run([fx.VSMTPD, "--check-config"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=fx.clean_env(d.home),
                           cwd=d.tmpdir, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, "OK\n"), r.stderr)
        self.assertEqual(tree(d.home), set())


class PrintConfigTest(unittest.TestCase):

    def setUp(self):
        self.d = fx.Vsmtpd(server="max-recipients=50\nlisten=127.0.0.1:2599\n",
                           plugins=("maildir", "tarpit"),
                           config="[tarpit]\ndelay=250\n"
                                  "[listener sub]\nlisten=127.0.0.1:5877\nrequire-auth=true\n")
        self.d.write_config()

    def tearDown(self):
        self.d.cleanup()

    def print_config(self, *args):
        r = run(self.d, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_defaults_marked_and_changed_values(self):
        out = self.print_config("--print-config")
        self.assertIn("[server]\n", out)
        self.assertRegex(out, r"(?m)^max-recipients=50$")
        self.assertRegex(out, r"(?m)^listen=127\.0\.0\.1:2599$")
        self.assertRegex(out, r"(?m)^#timeout=300  # default$")
        self.assertRegex(out, r"(?m)^#tls-certificate=  # default \(not set\)$")
        # the listener's section with its defaults, the plugins' groups
        self.assertRegex(out, r"(?m)^\[listener sub\]\nlisten=127\.0\.0\.1:5877$")
        self.assertRegex(out, r"(?m)^require-auth=true$")
        self.assertRegex(out, r"(?m)^#protocol=smtp  # default$")
        self.assertRegex(out, r"(?m)^\[tarpit\]\ndelay=250$")
        self.assertRegex(out, r"(?m)^\[maildir\]\npath=")
        self.assertRegex(out, r"(?m)^#delivered-to=false  # default$")
        self.assertEqual(out, self.print_config("--print-config=all"))

    def test_changed_only(self):
        out = self.print_config("--print-config=changed")
        self.assertRegex(out, r"(?m)^max-recipients=50$")
        self.assertRegex(out, r"(?m)^\[tarpit\]\ndelay=250$")
        self.assertNotIn("# default", out)
        self.assertNotRegex(out, r"(?m)^#?timeout=")

    def test_command_line_options_are_in_effect(self):
        out = self.print_config("--print-config=changed", "--option", "server.timeout=77")
        self.assertRegex(out, r"(?m)^timeout=77$")

    def test_output_passes_check_config(self):
        for which in ("all", "changed"):
            with self.subTest(which=which):
                path = os.path.join(self.d.tmpdir, f"printed-{which}.conf")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(self.print_config(f"--print-config={which}"))
                r = run(self.d, "--check-config", config=path)
                self.assertEqual((r.returncode, r.stdout), (0, "OK\n"), r.stderr)
                # and it is the same configuration
                again = run(self.d, "--print-config=changed", config=path)
                self.assertEqual(again.stdout.split("\n", 2)[2],
                                 self.print_config("--print-config=changed").split("\n", 2)[2])

    def test_bad_argument(self):
        r = run(self.d, "--print-config=some")
        self.assertEqual(r.returncode, 1)
        self.assertIn('"some" is neither "all" nor "changed"', r.stderr)

    def test_refused_configuration(self):
        r = run(self.d, "--print-config", "--option", "server.max-recipients=x")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("[server] max-recipients:", r.stderr)


if __name__ == "__main__":
    fx.main()

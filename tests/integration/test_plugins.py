#!/usr/bin/python3
"""Plugins in C, Python and Vala: the shipped examples (recipients,
ratelimit, tarpit, blocklist), plugins from [plugins] path, containment of
Python handlers that raise, deferred decisions, load errors, ordering."""

import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import textwrap
import time
import unittest

import vsmtpd_fixture as fx

BUILD_ROOT = os.environ.get("VSMTPD_BUILD_ROOT",
                            os.path.dirname(os.path.dirname(fx.VSMTPD)))
BUILD_PLUGINS = os.path.join(BUILD_ROOT, "plugins")
VALA_MODULE = os.path.join(BUILD_PLUGINS, "vala", "libblocklist.so")

PLUGIN_HEADER = """\
import gi
gi.require_version('Vsmtp', '1.0')
from gi.repository import GLib, GObject, Gio, Vsmtp


class Plugin(GObject.Object, Vsmtp.Activatable):
    server = GObject.Property(type=Vsmtp.Server)

    def do_activate(self):
        self.server.connect('new-session', self.on_new_session)

    def do_deactivate(self):
        pass
"""


def write_python_plugin(folder, name, body, priority=None):
    """A Python plugin `name` in `folder`: PLUGIN_HEADER + body (methods of
    the Plugin class, indented by 4); `priority`: its X-Vsmtp-Priority."""
    with open(os.path.join(folder, name + ".plugin"), "w") as f:
        f.write(f"[Plugin]\nModule={name}\nLoader=python3\nName={name}\n"
                "X-Vsmtp-Plugin-API=2\n")
        if priority is not None:
            f.write(f"X-Vsmtp-Priority={priority}\n")
    with open(os.path.join(folder, name + ".py"), "w") as f:
        f.write(PLUGIN_HEADER + textwrap.indent(textwrap.dedent(body), "    "))


def smtp(daemon):
    s = smtplib.SMTP("127.0.0.1", daemon.port, timeout=fx.IO_TIMEOUT)
    s.ehlo("client.example")
    return s


def close(s):
    try:
        s.quit()
    except (smtplib.SMTPException, OSError):
        s.close()


class PluginTestCase(fx.VsmtpdTestCase):
    """A daemon per class, with an optional folder of test plugins given
    as [plugins] path (``python_plugins``: name -> body)."""

    python_plugins = {}
    extra_config = ""

    @classmethod
    def setUpClass(cls):
        cls.plugin_dir = tempfile.mkdtemp(prefix="vsmtpd-plugins-")
        for name, body in cls.python_plugins.items():
            write_python_plugin(cls.plugin_dir, name, body)
        cls.config = (f"[plugins]\npath={cls.plugin_dir}\n\n" if cls.python_plugins
                      else "") + cls.extra_config
        try:
            super().setUpClass()
        except Exception:
            shutil.rmtree(cls.plugin_dir, True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.plugin_dir, True)

    def smtp(self):
        s = smtp(self.daemon)
        self.addCleanup(close, s)
        return s

    def assertSmtp(self, result, code, esc, text=None):
        got_code, msg = result
        self.assertEqual(got_code, code, f"reply {result!r}")
        self.assertTrue(msg.startswith(esc.encode() + b" "), f"reply {result!r}")
        if text is not None:
            self.assertIn(text.encode(), msg, f"reply {result!r}")

    def log(self):
        return self.daemon.stderr_text()


# The fixture writes [plugins] enabled itself; a second [plugins] group in
# the extra text would be merged by GKeyFile, so only `path` goes there.


# log lines (the daemon's writer) ------------------------------------------

class LogControlCharactersTest(PluginTestCase):
    """A plugin that logs a string with control characters as it came: the
    daemon's log writer makes them harmless, so no line can be forged."""

    plugins = ("rawlog", "maildir")
    python_plugins = {"rawlog": """
        def on_new_session(self, server, session):
            session.connect("helo", self.on_helo)

        def on_helo(self, session, name):
            from gi.repository import GLib
            GLib.log_variant("rawlog", GLib.LogLevelFlags.LEVEL_MESSAGE,
                             GLib.Variant("a{sv}", {"MESSAGE": GLib.Variant(
                                 "s", "helo " + name + "\\r\\nforged line\\x1b[0m")}))
            return Vsmtp.Reply.new_continue()
    """}

    def test_controls_escaped_by_the_writer(self):
        s = self.smtp()
        s.helo("client.example")
        close(s)
        log = self.log()
        # CR and ESC as \\xHH, the LF as a continuation line after a TAB
        self.assertIn(": helo client.example\\x0d\n\tforged line\\x1b[0m\n", log)
        self.assertFalse(any(l.startswith("forged line") for l in log.splitlines()))


# recipients (C) ---------------------------------------------------------

class RecipientsTest(PluginTestCase):
    plugins = ("recipients", "maildir")

    @classmethod
    def setUpClass(cls):
        cls.table_dir = tempfile.mkdtemp(prefix="vsmtpd-recipients-")
        cls.table = os.path.join(cls.table_dir, "recipients")
        cls.write_table("# users of file.example\n@file.example\ncarol@file.example\n")
        cls.extra_config = ("[recipients]\n"
                            "domains=any.example;Example.ORG\n"
                            "users=alice@example.org;Bob@example.org\n"
                            f"file={cls.table}\n"
                            "delimiter=+\n")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.table_dir, True)

    @classmethod
    def write_table(cls, text, atomic=True):
        if atomic:
            tmp = cls.table + ".new"
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, cls.table)
        else:
            with open(cls.table, "w") as f:
                f.write(text)

    def rcpt(self, address):
        s = self.smtp()
        self.assertSmtp(s.mail("sender@client.example"), 250, "2.1.0")
        return s.rcpt(address)

    def test_listed_user_accepted_and_delivered(self):
        s = self.smtp()
        s.sendmail("sender@client.example", ["alice@example.org"],
                   b"Subject: for alice\r\n\r\nhello\r\n")
        self.assertDelivered(b"Subject: for alice\r\n\r\nhello\r\n",
                             rcpt="alice@example.org")

    def test_unknown_user_550(self):
        self.assertSmtp(self.rcpt("zed@example.org"), 550, "5.1.1")

    def test_domain_not_accepted_554(self):
        self.assertSmtp(self.rcpt("alice@example.com"), 554, "5.7.1")
        self.assertSmtp(self.rcpt("alice@sub.example.org"), 554, "5.7.1")

    def test_case_insensitive(self):
        self.assertSmtp(self.rcpt("ALICE@EXAMPLE.org"), 250, "2.1.5")
        self.assertSmtp(self.rcpt("bob@example.org"), 250, "2.1.5")

    def test_domain_without_users_accepts_anyone(self):
        self.assertSmtp(self.rcpt("anybody@any.example"), 250, "2.1.5")

    def test_delimiter(self):
        self.assertSmtp(self.rcpt("alice+lists@example.org"), 250, "2.1.5")
        self.assertSmtp(self.rcpt("zed+lists@example.org"), 550, "5.1.1")

    def test_postmaster(self):
        self.assertSmtp(self.rcpt("postmaster@example.org"), 250, "2.1.5")
        self.assertSmtp(self.rcpt("Postmaster"), 250, "2.1.5")
        self.assertSmtp(self.rcpt("postmaster@example.com"), 554, "5.7.1")

    def test_file_reloaded(self):
        self.assertSmtp(self.rcpt("carol@file.example"), 250, "2.1.5")
        self.assertSmtp(self.rcpt("dave@file.example"), 550, "5.1.1")
        self.assertSmtp(self.rcpt("x@new.example"), 554, "5.7.1")
        try:
            # edited in place: dave added
            self.write_table("@file.example\ncarol@file.example\n"
                             "dave@file.example\n", atomic=False)
            self.assertSmtp(self.rcpt("dave@file.example"), 250, "2.1.5")
            # replaced (rename over it): file.example gone, new.example in
            self.write_table("@new.example\n")
            self.assertSmtp(self.rcpt("carol@file.example"), 554, "5.7.1")
            self.assertSmtp(self.rcpt("x@new.example"), 250, "2.1.5")
            # removed: the last contents stay in force
            os.unlink(self.table)
            self.assertSmtp(self.rcpt("x@new.example"), 250, "2.1.5")
            self.assertIn("the contents read before stay in force", self.log())
        finally:
            self.write_table("@file.example\ncarol@file.example\n")
        self.assertSmtp(self.rcpt("carol@file.example"), 250, "2.1.5")


# Python examples: ratelimit, tarpit -----------------------------------------

class RateLimitTest(PluginTestCase):
    plugins = ("ratelimit", "maildir")
    extra_config = "[ratelimit]\nmessages=2\ninterval=3600\n"

    def test_limit_per_sender(self):
        s = self.smtp()
        for i in range(2):
            s.sendmail("Busy@Client.example", ["rcpt@example.org"],
                       f"Subject: {i}\r\n\r\nbody\r\n".encode())
        self.assertEqual(len(self.daemon.delivered()), 2)
        # the same sender, spelled differently: refused
        self.assertSmtp(s.mail("busy@client.example"), 450, "4.7.1")
        # another sender is not concerned
        self.assertSmtp(s.mail("calm@client.example"), 250, "2.1.0")
        self.assertIn("ratelimit: 2 messages from busy@client.example", self.log())


class TarpitTest(PluginTestCase):
    """tarpit defers every RCPT decision with GLib.timeout_add and then
    passes on (a deferred continue): recipients still decides, whatever
    the order they are enabled in (tarpit's priority runs it first)."""
    plugins = ("tarpit", "recipients", "maildir")
    extra_config = ("[tarpit]\ndelay=150\n"
                    "[recipients]\nusers=alice@example.org;bob@example.org\n")

    def test_deferred_rcpt(self):
        s = self.smtp()
        self.assertSmtp(s.mail("s@client.example"), 250, "2.1.0")
        self.assertSmtp(s.rcpt("alice@example.org"), 250, "2.1.5")
        self.assertSmtp(s.rcpt("zed@example.org"), 550, "5.1.1")
        self.assertSmtp(s.data(b"Subject: t\r\n\r\nx\r\n"), 250, "2.0.0")
        log = self.log()
        self.assertIn("tarpit: alice@example.org passed on after 150 ms", log)
        self.assertIn("tarpit: zed@example.org passed on after 150 ms", log)
        self.assertIn("recipients: <zed@example.org> refused: no such user", log)
        self.assertEqual(len(self.daemon.delivered()), 1)

    def test_pipelined_replies_stay_in_order(self):
        c = self.client()
        c.cmd("EHLO client.example")
        c.send(b"MAIL FROM:<s@client.example>\r\nRCPT TO:<alice@example.org>\r\n"
               b"RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
               b"RSET\r\nNOOP\r\n")
        r = c.replies(6)
        self.assertEqual([(x.code, x.esc) for x in r],
                         [(250, "2.1.0"), (250, "2.1.5"), (550, "5.1.1"),
                          (250, "2.1.5"), (250, "2.0.0"), (250, "2.0.0")])


# Vala example: blocklist ------------------------------------------------------

@unittest.skipUnless(os.path.exists(VALA_MODULE), "Vala plugin not built (no valac)")
class BlocklistTest(PluginTestCase):
    plugins = ("blocklist", "maildir")
    extra_config = "[blocklist]\ndomains=spam.example;Junk.Example.\n"

    def test_blocked_domains(self):
        s = self.smtp()
        for sender in ("x@spam.example", "x@deep.sub.spam.example", "x@JUNK.example"):
            self.assertSmtp(s.mail(sender), 550, "5.7.1", "Sender domain blocked")
            s.rset()
        self.assertNothingDelivered()

    def test_other_senders_pass_and_are_logged(self):
        s = self.smtp()
        s.sendmail("x@notspam.example", ["r@example.org"],
                   b"Subject: hello vala\r\nMessage-ID: <v1@example>\r\n\r\nbody\r\n")
        self.assertEqual(len(self.daemon.delivered()), 1)
        self.assertSmtp(s.mail("<>"), 250, "2.1.0")
        self.assertIn("message-id=<v1@example>", self.log())
        self.assertIn("subject=hello vala", self.log())


# From a [plugins] path folder ----------------------------------------------

class PluginsPathTest(unittest.TestCase):
    """The built examples, copied under other module names into a temporary
    folder, load from [plugins] path (the build folder has no such names);
    their groups are named after the new modules."""

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="vsmtpd-path-")
        self.addCleanup(shutil.rmtree, self.folder, True)

    def copy_plugin(self, src_dir, module, new_module, src_file, new_file):
        with open(os.path.join(src_dir, module + ".plugin")) as f:
            text = f.read().replace(f"Module={module}", f"Module={new_module}")
        with open(os.path.join(self.folder, new_module + ".plugin"), "w") as f:
            f.write(text)
        shutil.copy(os.path.join(src_dir, src_file), os.path.join(self.folder, new_file))

    def start(self, plugins, config):
        d = fx.Vsmtpd(plugins=plugins,
                      config=f"[plugins]\npath={self.folder}\n\n" + config)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def test_python_example_from_path(self):
        self.copy_plugin(os.path.join(BUILD_PLUGINS, "python"), "ratelimit",
                         "myratelimit", "ratelimit.py", "myratelimit.py")
        d = self.start(("myratelimit", "maildir"), "[myratelimit]\nmessages=1\n")
        s = smtp(d)
        s.sendmail("a@client.example", ["r@example.org"], b"Subject: 1\r\n\r\nx\r\n")
        self.assertEqual(s.mail("a@client.example")[0], 450)
        close(s)
        self.assertEqual(d.stop(), 0, d.stderr_text())

    @unittest.skipUnless(os.path.exists(VALA_MODULE), "Vala plugin not built (no valac)")
    def test_vala_example_from_path(self):
        self.copy_plugin(os.path.join(BUILD_PLUGINS, "vala"), "blocklist",
                         "myblocklist", "libblocklist.so", "libmyblocklist.so")
        d = self.start(("myblocklist", "maildir"), "[myblocklist]\ndomains=spam.example\n")
        s = smtp(d)
        self.assertEqual(s.mail("a@spam.example")[0], 550)
        close(s)
        self.assertEqual(d.stop(), 0, d.stderr_text())


# Containment and deferrals from Python -------------------------------------

class PythonHandlersTest(PluginTestCase):
    plugins = ("pyhandlers", "maildir")
    python_plugins = {"pyhandlers": """
        def on_new_session(self, server, session):
            session.connect('mail-from', self.on_mail_from)
            session.connect('rcpt-to', self.on_rcpt_to)
            session.connect('noop', self.on_noop)

        def on_mail_from(self, session, sender, parameters):
            # decided later, from a GLib timeout
            reply = Vsmtp.Reply.new_pending()
            def later():
                reply.complete(250, '2.1.0', 'Sender ok after a timeout')
                return GLib.SOURCE_REMOVE
            GLib.timeout_add(100, later)
            return reply

        def on_rcpt_to(self, session, recipient, parameters):
            local = recipient.get_local_part()
            if local == 'boom':
                raise ValueError('no boom allowed')
            if local == 'wrong':
                return True
            if local == 'exit':
                import sys
                sys.exit(3)
            if local == 'interrupt':
                raise KeyboardInterrupt()
            if local == 'slow':
                import time
                time.sleep(0.4)
            if local == 'none':
                return None
            return Vsmtp.Reply.new_continue()

        def on_noop(self, session, argument):
            if not argument:
                return Vsmtp.Reply.new_continue()
            # decided later, from an asynchronous Gio call
            reply = Vsmtp.Reply.new_pending()
            def loaded(file, result):
                ok, contents, etag = file.load_contents_finish(result)
                reply.complete(250, '2.0.0', contents.decode().strip())
            Gio.File.new_for_path(argument).load_contents_async(None, loaded)
            return reply
    """}

    def test_deferral_from_timeout(self):
        s = self.smtp()
        self.assertSmtp(s.mail("a@client.example"), 250, "2.1.0",
                        "Sender ok after a timeout")

    def test_deferral_from_gio(self):
        path = os.path.join(self.plugin_dir, "noop.txt")
        with open(path, "w") as f:
            f.write("read asynchronously\n")
        s = self.smtp()
        self.assertSmtp(s.docmd("NOOP", path), 250, "2.0.0", "read asynchronously")

    def test_raise_gives_451_and_traceback(self):
        s = self.smtp()
        self.assertSmtp(s.mail("a@client.example"), 250, "2.1.0")
        self.assertSmtp(s.rcpt("boom@example.org"), 451, "4.3.0")
        # the session goes on
        self.assertSmtp(s.rcpt("fine@example.org"), 250, "2.1.5")
        log = self.log()
        self.assertIn('pyhandlers.Plugin.on_rcpt_to for "rcpt-to" raised ValueError', log)
        self.assertIn("Traceback (most recent call last):", log)
        self.assertIn("raise ValueError('no boom allowed')", log)
        self.assertIn("ValueError: no boom allowed", log)
        # and the daemon serves the next client
        s2 = self.smtp()
        self.assertSmtp(s2.mail("b@client.example"), 250, "2.1.0")
        self.assertSmtp(s2.rcpt("fine@example.org"), 250, "2.1.5")
        self.assertSmtp(s2.data(b"Subject: s\r\n\r\nx\r\n"), 250, "2.0.0")
        self.assertEqual(len(self.daemon.delivered()), 1)

    def test_base_exceptions_give_451(self):
        """SystemExit and KeyboardInterrupt in a handler: 451, and vsmtpd
        goes on serving."""
        s = self.smtp()
        self.assertSmtp(s.mail("a@client.example"), 250, "2.1.0")
        self.assertSmtp(s.rcpt("exit@example.org"), 451, "4.3.0")
        self.assertSmtp(s.rcpt("interrupt@example.org"), 451, "4.3.0")
        self.assertIn('"rcpt-to" raised SystemExit', self.log())
        self.assertIn('"rcpt-to" raised KeyboardInterrupt', self.log())
        s2 = self.smtp()
        self.assertSmtp(s2.mail("b@client.example"), 250, "2.1.0")
        self.assertIsNone(self.daemon.proc.poll())

    def test_slow_handler_named(self):
        s = self.smtp()
        self.assertSmtp(s.mail("a@client.example"), 250, "2.1.0")
        self.assertSmtp(s.rcpt("slow@example.org"), 250, "2.1.5")
        m = re.search(r'pyhandlers\.Plugin\.on_rcpt_to for "rcpt-to" ran '
                      r'(\d+\.\d\d) s on the main loop: every other session waited',
                      self.log())
        self.assertIsNotNone(m, self.log())
        self.assertGreaterEqual(float(m.group(1)), 0.4)
        self.assertNotIn('on_mail_from for "mail-from" ran', self.log())

    def test_wrong_return_type_gives_451(self):
        s = self.smtp()
        self.assertSmtp(s.mail("a@client.example"), 250, "2.1.0")
        self.assertSmtp(s.rcpt("wrong@example.org"), 451, "4.3.0")
        self.assertIn("returned True instead of a Vsmtp.Reply", self.log())

    def test_none_gives_451(self):
        """None is not "no opinion" (that is Vsmtp.Reply.new_continue()):
        a handler that returns it has failed, the command gets 451."""
        s = self.smtp()
        self.assertSmtp(s.mail("a@client.example"), 250, "2.1.0")
        self.assertSmtp(s.rcpt("none@example.org"), 451, "4.3.0")
        self.assertIn('pyhandlers.Plugin.on_rcpt_to for "rcpt-to" returned None '
                      '(a handler with no opinion returns Vsmtp.Reply.new_continue())',
                      self.log())
        self.assertSmtp(s.rcpt("fine@example.org"), 250, "2.1.5")


# Ordering: the first plugin that decides ends the emission -------------------

ORDER_BODY = """
    def on_new_session(self, server, session):
        session.connect('rcpt-to', self.on_rcpt_to)

    def on_rcpt_to(self, session, recipient, parameters):
        if recipient.get_local_part() in ({mine!r}, 'both'):
            return Vsmtp.Reply.new(550, '5.7.1', '{name} says no')
        return Vsmtp.Reply.new_continue()
"""


class OrderingTest(unittest.TestCase):

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="vsmtpd-order-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        write_python_plugin(self.folder, "first",
                            ORDER_BODY.format(mine="one", name="first"))
        write_python_plugin(self.folder, "second",
                            ORDER_BODY.format(mine="two", name="second"))

    def replies(self, plugins):
        d = fx.Vsmtpd(plugins=plugins, config=f"[plugins]\npath={self.folder}\n")
        self.addCleanup(d.cleanup)
        d.start()
        s = smtp(d)
        s.mail("a@client.example")
        out = {local: s.rcpt(f"{local}@example.org")
               for local in ("one", "two", "both", "none")}
        close(s)
        self.assertEqual(d.stop(), 0, d.stderr_text())
        return out

    def test_first_decides(self):
        r = self.replies(("first", "second", "maildir"))
        self.assertEqual(r["one"], (550, b"5.7.1 first says no"))
        self.assertEqual(r["two"], (550, b"5.7.1 second says no"))
        self.assertEqual(r["both"], (550, b"5.7.1 first says no"))
        self.assertEqual(r["none"], (250, b"2.1.5 Ok"))

    def test_reversed(self):
        r = self.replies(("second", "first", "maildir"))
        self.assertEqual(r["both"], (550, b"5.7.1 second says no"))

    def test_priority_before_configured_order(self):
        """X-Vsmtp-Priority in the .plugin file orders plugins, lower
        first; the configured order only among equal priorities."""
        write_python_plugin(self.folder, "second",
                            ORDER_BODY.format(mine="two", name="second"), priority=5)
        r = self.replies(("first", "second", "maildir"))
        self.assertEqual(r["both"], (550, b"5.7.1 second says no"))
        self.assertEqual(r["one"], (550, b"5.7.1 first says no"))
        self.assertEqual(r["none"], (250, b"2.1.5 Ok"))


# Plugins that fail to load: one line, exit 1 ------------------------------

class LoadErrorTest(unittest.TestCase):

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="vsmtpd-broken-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.home = os.path.join(self.folder, "home")
        os.mkdir(self.home)

    def run_with(self, name, source, extra=""):
        with open(os.path.join(self.folder, name + ".plugin"), "w") as f:
            f.write(f"[Plugin]\nModule={name}\nLoader=python3\nName={name}\n"
                    "X-Vsmtp-Plugin-API=2\n")
        with open(os.path.join(self.folder, name + ".py"), "w") as f:
            f.write(source)
        conf = os.path.join(self.folder, "vsmtpd.conf")
        with open(conf, "w") as f:
            f.write(f"[plugins]\nenabled=maildir;{name}\npath={self.folder}\n"
                    f"[maildir]\npath={self.folder}/Maildir\n{extra}")
        try:
            r = subprocess.run([fx.VSMTPD, "--config", conf,
                                "--listen", f"127.0.0.1:{fx.free_port()}"],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=20, env=fx.clean_env(self.home),
                               cwd=self.folder)
        except subprocess.TimeoutExpired:
            self.fail("vsmtpd kept running with a broken plugin")
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = r.stderr.decode(errors="replace").splitlines()
        errors = [l for l in lines if l.startswith("vsmtpd: ")]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertNotIn("Traceback", r.stderr.decode(errors="replace"))
        # a refused configuration value is told as the daemon's own are
        # (file: [group] key: problem); other failures name the plugin
        if ": [" not in errors[0]:
            self.assertIn(f'plugin "{name}"', errors[0])
        return errors[0]

    def test_import_error(self):
        line = self.run_with("badimport", "import gi\nimport no_such_module_anywhere\n")
        self.assertIn("failed to load", line)
        self.assertIn("badimport.py, line 2: ModuleNotFoundError: "
                      "No module named 'no_such_module_anywhere'", line)

    def test_syntax_error(self):
        line = self.run_with("badsyntax", "def broken(:\n    pass\n")
        self.assertIn("badsyntax.py, line 1: SyntaxError", line)

    def test_activate_raises(self):
        line = self.run_with("badactivate", PLUGIN_HEADER.replace(
            "self.server.connect('new-session', self.on_new_session)",
            "raise RuntimeError('cannot start')"))
        self.assertIn("failed to activate", line)
        self.assertIn("RuntimeError: cannot start", line)

    def test_example_with_bad_config(self):
        shutil.copy(os.path.join(BUILD_PLUGINS, "python", "ratelimit.py"),
                    os.path.join(self.folder, "rl2.py"))
        with open(os.path.join(self.folder, "rl2.py")) as f:
            source = f.read()
        # the group of a plugin is named after its module
        line = self.run_with("rl2", source, "[rl2]\nmessages=many\n")
        self.assertEqual(line, f"vsmtpd: {self.folder}/vsmtpd.conf: "
                               '[rl2] messages: "many" is not a number')

    def test_shipped_python_plugins_bad_values(self):
        """The shipped tarpit and ratelimit tell a bad value on one line in
        the daemon's words: not a number, or out of range with the range."""
        cases = [
            ("tarpit", "[tarpit]\ndelay=abc\n",
             '[tarpit] delay: "abc" is not a number'),
            ("tarpit", "[tarpit]\ndelay=-5\n",
             '[tarpit] delay: "-5" is out of range (0 to 60000 milliseconds)'),
            ("tarpit", "[tarpit]\ndelay=60001\n",
             '[tarpit] delay: "60001" is out of range (0 to 60000 milliseconds)'),
            ("ratelimit", "[ratelimit]\ninterval=0\n",
             '[ratelimit] interval: "0" is out of range (at least 1 second)'),
        ]
        for plugin, extra, problem in cases:
            with self.subTest(extra=extra):
                conf = os.path.join(self.folder, "vsmtpd.conf")
                with open(conf, "w") as f:
                    f.write(f"[plugins]\nenabled={plugin};discard\n{extra}")
                r = subprocess.run([fx.VSMTPD, "--config", conf,
                                    "--listen", f"127.0.0.1:{fx.free_port()}"],
                                   stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=20, env=fx.clean_env(self.home),
                                   cwd=self.folder)
                stderr = r.stderr.decode(errors="replace")
                self.assertEqual(r.returncode, 1, stderr)
                self.assertNotIn("Traceback", stderr)
                errors = [l for l in stderr.splitlines() if l.startswith("vsmtpd: ")]
                self.assertEqual(errors, [f"vsmtpd: {conf}: {problem}"], stderr)


# maildir: a delivery the client no longer waits for -------------------------

def big_content(size):
    """A message of about ``size`` bytes of short lines."""
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
    return (b"Subject: big\r\n\r\n" + line * (size // len(line)))


class MaildirCancelTest(unittest.TestCase):
    """The maildir plugin honours the pending reply's cancellable: a client
    that leaves right after the final dot, before its 250, gets nothing
    delivered (it will send the message again). Whether the cancellation
    reaches the worker thread while it writes or after it linked the file
    into new/, the end is the same: new/ and tmp/ empty, and a log line."""

    SIZE = 32 * 1024 * 1024
    WAIT = 180.0      # a 32 MB write and fsync on a starved, shared machine

    def setUp(self):
        self.d = fx.Vsmtpd(server="max-message-size=100000000\n"
                                  "decision-timeout=600\n")
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.content = big_content(self.SIZE)

    def poll(self, predicate, what):
        deadline = time.monotonic() + self.WAIT
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}\n" + self.d.stderr_text())

    def transaction(self, c):
        self.assertEqual(c.cmd("EHLO client.example").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.org>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.net>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(self.content + b".\r\n")

    def test_client_leaves_after_the_dot(self):
        c = fx.RawClient(self.d.port, timeout=self.WAIT)
        try:
            self.transaction(c)
        finally:
            c.close()          # without reading the reply
        # the maildir's verdict: cancelled (or, wrongly, delivered)
        self.poll(lambda: re.search(r"delivery of message \S+ cancelled|"
                                    r"message \S+ delivered to|not delivered",
                                    self.d.stderr_text()),
                  "the maildir's log line")
        self.assertRegex(self.d.stderr_text(),
                         r"delivery of message \S+ cancelled")
        log = self.d.stderr_text()
        self.assertRegex(log, r"lost connection from \[127\.0\.0\.1\] while a "
                              r"\"message-received\" decision was pending")
        self.assertIn("disconnect from [127.0.0.1]", log)
        self.assertNotRegex(log, r"message \S+ delivered to")
        self.assertNotIn("not delivered", log)      # not a failure warning
        self.assertEqual(self.d.maildir_files("new"), [], log)
        self.assertEqual(self.d.maildir_files("tmp"), [], log)
        self.assertEqual(self.d.stop(), 0, self.d.stderr_text())

    def test_client_waits(self):
        # the control: the same message, the client reads its reply
        with fx.RawClient(self.d.port, timeout=self.WAIT) as c:
            self.transaction(c)
            reply = c.reply()
            self.assertEqual(reply.code, 250, reply)
            self.assertEqual(reply.esc, "2.0.0", reply)
            c.cmd("QUIT")
        files = self.d.delivered()
        self.assertEqual(len(files), 1)
        header, body = fx.split_received(files[0],
                                         return_path="alice@example.org")
        self.assertEqual(len(body), len(self.content))
        self.assertTrue(body == self.content, "the delivered content differs")
        self.assertEqual(self.d.maildir_files("tmp"), [])
        self.assertNotIn("cancelled", self.d.stderr_text())
        self.assertEqual(self.d.stop(), 0, self.d.stderr_text())


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""The installed tree, used the way a plugin author uses it.

The source tree is configured with ``--prefix=$TMP/prefix``, built and
installed with ``meson install``; the build folder is then deleted, so that
nothing can come from it. Against that installed tree, as a plugin author
would (docs/plugins.md):

- the plugins in ``tests/install/`` are built out of tree, each a folder with
  its own ``meson.build`` using ``dependency('libvsmtp-1.0')`` through
  pkg-config (``PKG_CONFIG_PATH`` is the only variable pointing into the
  prefix, as for anyone with a private prefix): the C plugin is installed
  with ``meson install`` into the folder named by the pkg-config variable
  ``plugindir``, the Vala one (which finds the VAPI through the ``vapidir``
  variable) and the Python one are copied into a folder given as
  ``[plugins] path``;
- the installed ``vsmtpd`` is started with no ``LD_LIBRARY_PATH``,
  ``GI_TYPELIB_PATH`` nor ``PYTHONPATH``: it must find libvsmtp through its
  rpath, the installed maildir plugin in its compiled-in plugin folder, the
  typelib, and the PyGObject override in its install folder;
- a real SMTP session (smtplib) proves that each plugin ran: each refuses one
  recipient with its own code and text, a Python handler that raises gets
  451 4.3.0 (the override is loaded), and a message is delivered by the
  installed maildir plugin.

Why a separate configure and build, not ``meson install --destdir`` from the
build tree under test: everything this test is about is fixed when a tree is
configured, for its prefix (``/usr/local`` by default): the rpath, the plugin,
typelib and override folders compiled into vsmtpd, the paths in the ``.pc``
file. Files copied under a destdir keep pointing at ``/usr/local``, so the
daemon there would only run with ``LD_LIBRARY_PATH``, ``GI_TYPELIB_PATH``,
``PYTHONPATH`` and ``[plugins] path`` aimed into the destdir, which are
exactly what an installed daemon must not need; it would prove nothing. A
tree configured for the temporary prefix is run where it was configured to
run. The cost is small: ``-Dtests=false -Ddocs=disabled -Dbuildtype=plain``
builds the library, the GIR and VAPI, the daemon and the shipped plugins in
about 7 s on two cores, the two plugins a few seconds more. What it builds is
the source tree, with the same compiler and options as the tree under test.

The default prefix itself is not installed into (the test must not write to
/usr/local); ``test_system_prefixes`` configures (without building) a tree for
``/usr`` and one for ``/usr/local`` and checks what vsmtpd would have
compiled in. ``UninstalledTreeTest`` builds the Vala plugin against the build
tree under test itself, through its uninstalled .pc file.

Run by meson (tests/install/meson.build) with ``VSMTPD_SOURCE_ROOT``,
``VSMTPD_BUILD_ROOT``, ``MESON``, ``NINJA``, ``VSMTP_TEST_INTROSPECTION`` and
``VSMTP_TEST_VALA`` set; prints TAP.
"""

import glob
import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import vsmtpd_fixture as fx  # noqa: E402

SOURCE_ROOT = fx.SOURCE_ROOT
BUILD_ROOT = os.environ.get("VSMTPD_BUILD_ROOT")
MESON = os.environ.get("MESON") or shutil.which("meson")
NINJA = os.environ.get("NINJA") or shutil.which("ninja")
PKG_CONFIG = shutil.which("pkg-config")
READELF = shutil.which("readelf")
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
# What the tree under test builds: the installed tree must have the same.
INTROSPECTION = os.environ.get("VSMTP_TEST_INTROSPECTION", "1") == "1"
VALA = INTROSPECTION and os.environ.get("VSMTP_TEST_VALA", "1") == "1"

BUILD_TIMEOUT = 240

# Nothing from the caller's environment may help the installed daemon or the
# plugin builds find the library: they must do with what was installed.
for _var in ("LD_LIBRARY_PATH", "LD_PRELOAD", "GI_TYPELIB_PATH", "PYTHONPATH",
             "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "XDG_DATA_DIRS"):
    os.environ.pop(_var, None)

TREE = None   # the Installed tree, made by setUpModule


def run(cmd, env=None, cwd=None, timeout=BUILD_TIMEOUT):
    """Run ``cmd``; its output on failure. Returns stdout (text)."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env, cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        raise AssertionError(f"{' '.join(cmd)} failed with status "
                             f"{proc.returncode}:\n{tail}")
    return proc.stdout


def config_h_defines(path):
    """The #define NAME "value" lines of a config.h, as a dict."""
    defines = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'#define (\w+) "(.*)"$', line.strip())
            if m:
                defines[m.group(1)] = m.group(2)
    return defines


class Installed:
    """The source tree built and installed under a temporary prefix."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-install-")
        self.prefix = os.path.join(self.tmp, "prefix")
        build = os.path.join(self.tmp, "build")
        t0 = time.monotonic()
        run([MESON, "setup", build, SOURCE_ROOT, "--prefix", self.prefix,
             "-Dbuildtype=plain", "-Dtests=false", "-Ddocs=disabled",
             "-Dintrospection=" + ("enabled" if INTROSPECTION else "disabled")])
        options = {o["name"]: o["value"] for o in json.loads(
            run([MESON, "introspect", build, "--buildoptions"]))}
        run([NINJA, "-C", build])
        run([MESON, "install", "-C", build, "--no-rebuild", "--quiet"])
        self.seconds = time.monotonic() - t0
        # Installed trees must not need their build tree.
        shutil.rmtree(build)

        self.libdir = os.path.join(self.prefix, options["libdir"])
        self.includedir = os.path.join(self.prefix, options["includedir"])
        self.datadir = os.path.join(self.prefix, options["datadir"])
        self.vsmtpd = os.path.join(self.prefix, options["bindir"], "vsmtpd")
        self.pkgconfigdir = os.path.join(self.libdir, "pkgconfig")
        self.plugindir = os.path.join(self.libdir, "vsmtpd", "plugins")
        # what an author with a private prefix sets, and nothing else
        self.env = dict(os.environ, PKG_CONFIG_PATH=self.pkgconfigdir)

    def pkg_config(self, *args):
        return run([PKG_CONFIG, *args, "libvsmtp-1.0"], env=self.env).strip()

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def setUpModule():
    global TREE
    missing = [name for name, path in (("meson", MESON), ("ninja", NINJA),
                                       ("pkg-config", PKG_CONFIG)) if not path]
    if missing:
        raise unittest.SkipTest(f"needs {', '.join(missing)}")
    TREE = Installed()
    print(f"# configured, built and installed into {TREE.prefix} "
          f"in {TREE.seconds:.1f} s", flush=True)


def tearDownModule():
    if TREE is not None:
        TREE.cleanup()


class InstalledFilesTest(unittest.TestCase):
    """What the install put where a plugin author and the daemon look."""

    def test_rpath(self):
        """vsmtpd finds libvsmtp in the installed libdir through its
        RUNPATH, and in nothing else."""
        if not READELF:
            self.skipTest("needs readelf (binutils)")
        out = run([READELF, "-d", TREE.vsmtpd])
        paths = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*)\]", out)
        self.assertEqual(paths, [TREE.libdir], out)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", out)
        self.assertIn("libvsmtp-1.0.so.0", needed)
        self.assertTrue(os.path.exists(os.path.join(TREE.libdir, "libvsmtp-1.0.so.0")))

    def test_starts_without_environment(self):
        """The installed daemon starts with no LD_LIBRARY_PATH."""
        out = run([TREE.vsmtpd, "--version"], timeout=30)
        self.assertEqual(out.split()[0:1], ["vsmtpd"], out)

    def test_dbus_files(self):
        """[server] dbus: vsmtpctl in bindir, its man page, the interface
        description and the system bus policy under datadir/dbus-1."""
        bindir = os.path.dirname(TREE.vsmtpd)
        self.assertTrue(os.access(os.path.join(bindir, "vsmtpctl"), os.X_OK))
        for path in ("dbus-1/interfaces/org.vsmtp.Vsmtpd1.xml",
                     "dbus-1/system.d/org.vsmtp.Vsmtpd1.conf",
                     "man/man1/vsmtpctl.1"):
            self.assertTrue(os.path.isfile(os.path.join(TREE.datadir, path)), path)
        out = run([os.path.join(bindir, "vsmtpctl"), "--version"], timeout=30)
        self.assertEqual(out.split()[0:1], ["vsmtpctl"], out)

    def test_pkg_config(self):
        """The .pc file: version, Requires, the include and library flags
        (that work), and the variables for plugin authors."""
        if fx.VERSION:
            self.assertEqual(TREE.pkg_config("--modversion"), fx.VERSION)
        run([PKG_CONFIG, "--validate", "libvsmtp-1.0"], env=TREE.env)
        self.assertEqual(TREE.pkg_config("--print-requires").split(),
                         ["glib-2.0", "gobject-2.0", "gio-2.0"])
        cflags = TREE.pkg_config("--cflags").split()
        include = os.path.join(TREE.includedir, "libvsmtp-1.0")
        self.assertIn("-I" + include, cflags)
        self.assertTrue(os.path.isfile(os.path.join(include, "vsmtp.h")))
        self.assertTrue(os.path.isfile(os.path.join(include, "vsmtp-enums.h")))
        libs = TREE.pkg_config("--libs").split()
        self.assertIn("-L" + TREE.libdir, libs)
        self.assertIn("-lvsmtp-1.0", libs)
        self.assertTrue(os.path.islink(os.path.join(TREE.libdir, "libvsmtp-1.0.so")))

        # plugindir: where the daemon looks, so where the shipped plugins are
        plugindir = TREE.pkg_config("--variable=plugindir")
        self.assertEqual(plugindir, TREE.plugindir)
        self.assertTrue(os.path.isfile(os.path.join(plugindir, "maildir", "maildir.plugin")))
        self.assertTrue(os.path.isfile(os.path.join(plugindir, "maildir", "libmaildir.so")))

        # the plugin API version: the header's, and what the .plugin files state
        version = TREE.pkg_config("--variable=plugin_api_version")
        with open(os.path.join(TREE.includedir, "libvsmtp-1.0",
                               "vsmtp-activatable.h")) as f:
            self.assertIn(f"#define VSMTP_PLUGIN_API_VERSION {version}\n", f.read())
        for folder in ("c-plugin", "python-plugin", "vala-plugin"):
            for name in os.listdir(os.path.join(HERE, folder)):
                if name.endswith(".plugin"):
                    with open(os.path.join(HERE, folder, name)) as f:
                        self.assertIn(f"\nX-Vsmtp-Plugin-API={version}\n", f.read())

        if INTROSPECTION:
            self.assertTrue(os.path.isfile(os.path.join(
                TREE.pkg_config("--variable=typelibdir"), "Vsmtp-1.0.typelib")))
            self.assertTrue(os.path.isfile(os.path.join(
                TREE.pkg_config("--variable=girdir"), "Vsmtp-1.0.gir")))

    def test_vapi(self):
        """The VAPI and its .deps are in the folder of the vapidir
        variable."""
        if not VALA:
            self.skipTest("the tree under test builds no VAPI")
        vapidir = TREE.pkg_config("--variable=vapidir")
        self.assertEqual(vapidir, os.path.join(TREE.datadir, "vala", "vapi"))
        self.assertTrue(os.path.isfile(os.path.join(vapidir, "libvsmtp-1.0.vapi")))
        with open(os.path.join(vapidir, "libvsmtp-1.0.deps"), encoding="utf-8") as f:
            self.assertEqual(f.read().split(), ["gio-2.0"])

    def test_python_override_installed(self):
        """The override is installed once, under the prefix, where
        /usr/bin/python3 does not look by itself: the daemon has to add it
        (PluginsTest proves it does)."""
        found = glob.glob(os.path.join(TREE.prefix, "**", "gi", "overrides", "Vsmtp.py"),
                          recursive=True)
        self.assertEqual(len(found), 1, found)
        out = run([PYTHON, "-c",
                   "import importlib.util, gi.overrides; "
                   "s = importlib.util.find_spec('gi.overrides.Vsmtp'); "
                   "print(s.origin if s else '')"], cwd=TREE.tmp)
        self.assertNotEqual(os.path.realpath(out.strip() or "/nonexistent"),
                            os.path.realpath(found[0]))


class PluginsTest(fx.VsmtpdTestCase):
    """Plugins built out of tree, run by the installed daemon."""

    plugins = ("example_c", "example_vala", "example_python", "maildir")

    @classmethod
    def setUpClass(cls):
        cls.plugin_path = os.path.join(TREE.tmp, "plugins")
        os.mkdir(cls.plugin_path)
        plugins = ["example_c", "maildir"]

        # C: meson setup, ninja, meson install into plugindir
        cbuild = os.path.join(TREE.tmp, "build-c-plugin")
        run([MESON, "setup", cbuild, os.path.join(HERE, "c-plugin")], env=TREE.env)
        run([NINJA, "-C", cbuild], env=TREE.env)
        run([MESON, "install", "-C", cbuild, "--no-rebuild", "--quiet"], env=TREE.env)

        # Vala: meson setup, ninja, then the module and its .plugin copied
        # into a folder of [plugins] path
        if VALA:
            vbuild = os.path.join(TREE.tmp, "build-vala-plugin")
            run([MESON, "setup", vbuild, os.path.join(HERE, "vala-plugin")], env=TREE.env)
            run([NINJA, "-C", vbuild], env=TREE.env)
            dest = os.path.join(cls.plugin_path, "example_vala")
            os.mkdir(dest)
            for f in ("libexample_vala.so", "example_vala.plugin"):
                shutil.copy(os.path.join(vbuild, f), dest)
            plugins.insert(1, "example_vala")

        # Python: nothing to build
        if INTROSPECTION:
            dest = os.path.join(cls.plugin_path, "example_python")
            os.mkdir(dest)
            for f in ("example_python.py", "example_python.plugin"):
                shutil.copy(os.path.join(HERE, "python-plugin", f), dest)
            plugins.insert(-1, "example_python")

        cls.plugins = tuple(plugins)
        cls.config = f"[plugins]\npath={cls.plugin_path}\n"
        # the fixture starts $VSMTPD: the installed daemon
        fx.VSMTPD = TREE.vsmtpd
        super().setUpClass()

    def rcpt(self, address):
        s = smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=fx.IO_TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        self.assertEqual(s.mail("sender@example.net")[0], 250)
        return s.rcpt(address)

    def test_c_plugin(self):
        """The C plugin, installed into plugindir, refuses its recipient."""
        self.assertEqual(self.rcpt("c@example.org"), (550, b"5.7.1 Refused by the C plugin"))

    def test_vala_plugin(self):
        if not VALA:
            self.skipTest("the tree under test builds no VAPI")
        self.assertEqual(self.rcpt("vala@example.org"), (553, b"5.7.1 Refused by the Vala plugin"))

    def test_python_plugin(self):
        if not INTROSPECTION:
            self.skipTest("the tree under test builds no typelib")
        self.assertEqual(self.rcpt("python@example.org"),
                         (554, b"5.7.1 Refused by the Python plugin"))

    def test_python_override(self):
        """A Python handler that raises gets 451 4.3.0: the installed daemon
        loaded gi.overrides.Vsmtp from its install folder, with no
        PYTHONPATH given."""
        if not INTROSPECTION:
            self.skipTest("the tree under test builds no typelib")
        code, text = self.rcpt("python-raises@example.org")
        self.assertEqual((code, text[:5]), (451, b"4.3.0"), text)
        deadline = time.monotonic() + 5
        while ("example_python raises on purpose" not in self.daemon.stderr_text()
               and time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertIn("example_python raises on purpose", self.daemon.stderr_text())

    def test_delivery(self):
        """The other recipients get no opinion from the three plugins, and
        the installed maildir plugin delivers."""
        body = (b"From: sender@example.net\r\nTo: user@example.org\r\n"
                b"Subject: installed\r\n\r\nHello from the installed tree.\r\n")
        s = smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=fx.IO_TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        refused = s.sendmail("sender@example.net", ["user@example.org"], body)
        self.assertEqual(refused, {})
        s.quit()
        self.assertDelivered(body, rcpt="user@example.org", helo="client.example",
                             sender="sender@example.net")


class UninstalledTreeTest(unittest.TestCase):
    """The Vala plugin built against the build tree under test, not
    installed: its uninstalled .pc (meson-uninstalled/) names the build
    tree's VAPI folder, which holds the .deps too."""

    def test_vala_plugin_against_build_tree(self):
        if not VALA:
            self.skipTest("the tree under test builds no VAPI")
        if not BUILD_ROOT:
            self.skipTest("VSMTPD_BUILD_ROOT not set")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(BUILD_ROOT, "meson-uninstalled"))
        vapidir = run([PKG_CONFIG, "--variable=vapidir", "libvsmtp-1.0"], env=env).strip()
        self.assertEqual(os.path.realpath(vapidir),
                         os.path.realpath(os.path.join(BUILD_ROOT, "libvsmtp")))
        self.assertTrue(os.path.isfile(os.path.join(vapidir, "libvsmtp-1.0.deps")))
        build = os.path.join(TREE.tmp, "build-vala-plugin-uninstalled")
        run([MESON, "setup", build, os.path.join(HERE, "vala-plugin")], env=env)
        run([NINJA, "-C", build], env=env)
        self.assertTrue(os.path.isfile(os.path.join(build, "libexample_vala.so")))


class SystemPrefixesTest(unittest.TestCase):
    """What a tree configured for /usr or /usr/local compiles into vsmtpd
    (configured only: nothing is built or installed there)."""

    def configure(self, prefix):
        build = tempfile.mkdtemp(prefix="vsmtpd-configure-", dir=TREE.tmp)
        run([MESON, "setup", build, SOURCE_ROOT, "--prefix", prefix,
             "-Dtests=false", "-Ddocs=disabled"])
        options = {o["name"]: o["value"] for o in json.loads(
            run([MESON, "introspect", build, "--buildoptions"]))}
        return options, config_h_defines(os.path.join(build, "config.h"))

    def test_system_prefixes(self):
        for prefix in ("/usr", "/usr/local"):
            with self.subTest(prefix=prefix):
                options, defines = self.configure(prefix)
                libdir = os.path.join(prefix, options["libdir"])
                self.assertEqual(defines["VSMTPD_PLUGINDIR"],
                                 os.path.join(libdir, "vsmtpd", "plugins"))
                self.assertEqual(defines["VSMTPD_TYPELIBDIR"],
                                 os.path.join(libdir, "girepository-1.0"))
                pythondir = defines.get("VSMTPD_PYTHONDIR")
                if prefix == "/usr":
                    # the system's site folder is never prepended
                    self.assertIsNone(pythondir)
                elif pythondir is not None:
                    self.assertTrue(pythondir.startswith(prefix + "/"), pythondir)


if __name__ == "__main__":
    fx.main()

#!/usr/bin/python3
"""Every configuration key the code declares is documented: in the example
data/vsmtpd.conf (as a commented-out "#key=default" line in its group) and
in the man page template data/vsmtpd.8.in (as the tag of a .TP paragraph
under a .SS heading naming the group). And every key those two document is
one the code declares.

The keys are those the built vsmtpd declares, as `vsmtpd --list-keys`
prints them: the [server] keys (the VsmtpServer properties' and the
daemon's own), [plugins], and the group of every plugin it finds, which the
plugin declares itself (C: declare_config of VsmtpPlugin, Python:
do_declare_config, Vala: declare_config). So a key added in the code
without its documentation fails this test.

So that a listing that stops working cannot make the test pass with
nothing to check, each group must yield at least as many keys as it has
today (MIN_KEYS)."""

import os
import re
import subprocess
import tempfile
import unittest

import vsmtpd_fixture as fx

SOURCE_ROOT = fx.SOURCE_ROOT
BUILD_ROOT = os.environ.get("VSMTPD_BUILD_ROOT",
                            os.path.dirname(os.path.dirname(fx.VSMTPD)))
CONF = os.path.join(SOURCE_ROOT, "data", "vsmtpd.conf")
MAN = os.path.join(SOURCE_ROOT, "data", "vsmtpd.8.in")

# The keys each group has today: the listing must give at least these
# many (raise a number when keys are added, lower it when one is removed).
MIN_KEYS = {
    "server": 33,
    "plugins": 2,
    "maildir": 1,
    "relay": 8,
    "recipients": 5,
    "passwd": 4,
    "ratelimit": 4,
    "redis": 6,
    "greylist": 4,
    "tarpit": 1,
    "blocklist": 2,
}

# The shipped plugins, each of which must be listed (a plugin without keys
# too); blocklist only when valac built it
SHIPPED_PLUGINS = ["maildir", "discard", "relay", "recipients", "passwd",
                   "ratelimit", "tarpit", "greylist", "blocklist"]
VALA_MODULE = os.path.join(BUILD_ROOT, "plugins", "vala", "libblocklist.so")

KEY = r"[a-z][a-z0-9-]*"


def read(path):
    with open(os.path.join(SOURCE_ROOT, path), encoding="utf-8") as f:
        return f.read()


def add(keys, group, key):
    keys.setdefault(group, set()).add(key)


# What the code declares -----------------------------------------------------

def list_keys():
    """The text of `vsmtpd --list-keys`."""
    with tempfile.TemporaryDirectory(prefix="vsmtpd-docs-") as home:
        r = subprocess.run([fx.VSMTPD, "--list-keys"], stdin=subprocess.DEVNULL,
                           capture_output=True, env=fx.clean_env(home),
                           cwd=home, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"vsmtpd --list-keys failed: {r.stderr!r}")
    return r.stdout.decode()


def parse_keyfile(text):
    """{group: keys} of a key file: "#key=..." or "key=..." lines."""
    keys = {}
    group = None
    for line in text.splitlines():
        # "[listener NAME]" groups: a space, and commented out in the
        # example configuration (an empty section would be an error)
        m = re.match(r"^#?\[([\w-]+(?: NAME)?)\]\s*$", line)
        if m:
            group = m.group(1)
            keys.setdefault(group, set())
            continue
        m = re.match(r"^#?(" + KEY + r")=", line)
        if m and group is not None:
            add(keys, group, m.group(1))
    return keys


def code_keys():
    """{group: keys} declared by the daemon and the plugins it finds."""
    return parse_keyfile(list_keys())


# What the documentation names ----------------------------------------------

def conf_keys():
    """{group: keys} of data/vsmtpd.conf: "#key=..." or "key=..." lines."""
    with open(CONF, encoding="utf-8") as f:
        return parse_keyfile(f.read())


def roff_plain(line):
    """A roff line without its macro, font escapes and quotes."""
    line = re.sub(r"^\.(?:B|I|BI|BR|IB|IR|RB|RI)\s+", "", line)
    line = line.replace("\\-", "-").replace("\\&", "")
    line = re.sub(r"\\f[BIRP]", "", line)
    return line.replace('"', "").strip()


def man_keys():
    """{group: keys} of the man page template: under a .SS heading that
    names [group], the "key=" tags of its .TP paragraphs."""
    keys = {}
    group = None
    with open(MAN, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            group = None
        elif line.startswith(".SS"):
            m = re.search(r"\[([\w-]+(?: NAME)?)\]", line)
            group = m.group(1) if m else None
            if group is not None:
                keys.setdefault(group, set())
        elif line.startswith(".TP") and group is not None and i + 1 < len(lines):
            m = re.match(r"(" + KEY + r")=", roff_plain(lines[i + 1]))
            if m:
                add(keys, group, m.group(1))
    return keys


def missing(code, documented):
    return sorted(f"[{g}] {k}" for g, names in code.items()
                  for k in names if k not in documented.get(g, set()))


class DocsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.code = code_keys()

    def test_extraction_is_plausible(self):
        for plugin in SHIPPED_PLUGINS:
            if plugin == "blocklist" and not os.path.exists(VALA_MODULE):
                continue
            self.assertIn(plugin, self.code, f"vsmtpd --list-keys has no [{plugin}]")
        for group, minimum in MIN_KEYS.items():
            if group not in self.code and group == "blocklist":
                continue
            found = sorted(self.code.get(group, ()))
            self.assertGreaterEqual(
                len(found), minimum,
                f"[{group}]: only {found} declared: has the listing changed? "
                f"(adapt test_docs.py)")
        # derived from the VsmtpServer properties, and the daemon's own
        self.assertIn("max-auth-failures", self.code["server"])
        self.assertIn("greet-pause", self.code["server"])
        self.assertIn("listen", self.code["server"])
        self.assertNotIn("n-sessions", self.code["server"])      # read-only
        self.assertNotIn("auth-mechanisms", self.code["server"])  # [passwd] sets it

    def test_conf_documents_every_key(self):
        self.assertEqual(missing(self.code, conf_keys()), [],
                         "keys read by the code but not in data/vsmtpd.conf")

    def test_man_page_documents_every_key(self):
        self.assertEqual(missing(self.code, man_keys()), [],
                         "keys read by the code but not in data/vsmtpd.8.in")

    def test_documented_keys_exist(self):
        for name, documented in (("data/vsmtpd.conf", conf_keys()),
                                 ("data/vsmtpd.8.in", man_keys())):
            with self.subTest(file=name):
                self.assertEqual(missing(documented, self.code), [],
                                 f"keys in {name} that no code reads")

    def test_built_man_page_names_the_plugin_folder(self):
        man = os.path.join(BUILD_ROOT, "data", "vsmtpd.8")
        config_h = os.path.join(BUILD_ROOT, "config.h")
        if not (os.path.exists(man) and os.path.exists(config_h)):
            self.skipTest("no build tree")
        with open(config_h, encoding="utf-8") as f:
            plugindir = re.search(r'#define VSMTPD_PLUGINDIR "([^"]+)"', f.read()).group(1)
        with open(man, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f"\n.I {plugindir}\n", text)
        self.assertNotRegex(text, r"@[A-Z]+@")



class HardeningPageTest(unittest.TestCase):
    """docs/hardening.md names the test that covers each attack: every test
    it names must exist (a renamed or deleted test fails here)."""

    def test_named_tests_exist(self):
        page = read("docs/hardening.md")
        refs = re.findall(r"`(test_\w+\.py):(\w+)(?:\.(\w+))?`", page)
        # tests named after a file: only "Class" or "Class.method" of it
        bare = re.findall(r"`(\w+Test\w*)`", page)
        gtests = re.findall(r"`(/[a-z-]+(?:/[a-z-]+)+)`", page)
        self.assertGreater(len(refs), 20, refs)
        self.assertGreater(len(gtests), 10, gtests)
        for path, cls, method in refs:
            # the daemon's tests, or the in-process GI ones
            folder = next((d for d in ("integration", "gi")
                           if os.path.exists(os.path.join(SOURCE_ROOT, "tests", d, path))),
                          "integration")
            text = read(os.path.join("tests", folder, path))
            self.assertRegex(text, rf"(?m)^class {cls}\b", f"{path}: no class {cls}")
            if method:
                self.assertRegex(text, rf"(?m)^    def {method}\b", f"{path}: no {cls}.{method}")
        integration = "".join(read(os.path.join("tests", "integration", n))
                              for n in os.listdir(os.path.join(SOURCE_ROOT, "tests", "integration"))
                              if n.endswith(".py"))
        for cls in bare:
            self.assertRegex(integration, rf"(?m)^class {cls}\b", f"no test class {cls}")
        unit = "".join(read(os.path.join("tests", n))
                       for n in os.listdir(os.path.join(SOURCE_ROOT, "tests"))
                       if n.startswith("test-") and n.endswith(".c"))
        for path in gtests:
            self.assertIn(f'"{path}"', unit, f"no GTest {path}")


if __name__ == "__main__":
    fx.main()

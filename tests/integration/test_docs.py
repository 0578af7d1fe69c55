#!/usr/bin/python3
"""Every configuration key the code reads is documented: in the example
data/vsmtpd.conf (as a commented-out "#key=default" line in its group) and
in the man page template data/vsmtpd.8.in (as the tag of a .TP paragraph
under a .SS heading naming the group). And every key those two document is
one the code reads.

The keys are taken from the sources themselves, so that a key added in the
code without its documentation fails this test:

- the daemon (daemon/vsmtpd-config.c): its tables of known keys
  (server_keys, property_keys, plugins_keys) and its get_*(loader, keyfile,
  "group", "key") calls;
- the C plugins (plugins/*/*.c): g_key_file_*(config, "group", "key")
  calls, and the helpers (functions or macros) that take the key as an
  argument, through their calls with a literal key;
- the Python plugins (plugins/python/*.py): .get_*(GROUP, 'key') with their
  GROUP constant, and helpers such as config_int(config, 'key', ...);
- the Vala plugins (plugins/vala/*.vala): .get_*/has_key (GROUP, "key").

So that a regular expression that stops matching cannot make the test pass
with nothing to check, each group must yield at least as many keys as it
has today (MIN_KEYS)."""

import os
import re
import unittest

import vsmtpd_fixture as fx

SOURCE_ROOT = fx.SOURCE_ROOT
BUILD_ROOT = os.environ.get("VSMTPD_BUILD_ROOT",
                            os.path.dirname(os.path.dirname(fx.VSMTPD)))
CONF = os.path.join(SOURCE_ROOT, "data", "vsmtpd.conf")
MAN = os.path.join(SOURCE_ROOT, "data", "vsmtpd.8.in")

# The keys each group has today: the extraction must find at least these
# many (raise a number when keys are added, lower it when one is removed).
MIN_KEYS = {
    "server": 32,
    "plugins": 2,
    "maildir": 1,
    "relay": 8,
    "recipients": 5,
    "passwd": 2,
    "ratelimit": 2,
    "tarpit": 1,
    "blocklist": 2,
}

# The plugin sources that must be scanned (a plugin without keys too)
PLUGIN_SOURCES = [
    "plugins/maildir/vsmtpd-maildir-plugin.c",
    "plugins/discard/vsmtpd-discard-plugin.c",
    "plugins/relay/vsmtpd-relay-plugin.c",
    "plugins/recipients/vsmtpd-recipients-plugin.c",
    "plugins/passwd/vsmtpd-passwd-plugin.c",
    "plugins/python/ratelimit.py",
    "plugins/python/tarpit.py",
    "plugins/vala/blocklist.vala",
]

KEY = r"[a-z][a-z0-9-]*"
KEY_RE = re.compile(rf"^{KEY}$")
C_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
PY_STRING = re.compile(r"""'([^'\\]*)'|"([^"\\]*)\"""")


def read(path):
    with open(os.path.join(SOURCE_ROOT, path), encoding="utf-8") as f:
        return f.read()


def add(keys, group, key):
    keys.setdefault(group, set()).add(key)


# Extraction from the code -----------------------------------------------

def c_array(text, name):
    """The string literals of the C array initializer `name[] = { ... };`."""
    m = re.search(rf"\b{name}\s*\[\]\s*=\s*\{{(.*?)\n\}};", text, re.S)
    if m is None:
        raise AssertionError(f"no array {name}[] found")
    return m.group(1)


def daemon_keys():
    """{group: keys} of daemon/vsmtpd-config.c, and the daemon's own
    {group: keys} it accepts (its tables of known keys)."""
    text = read("daemon/vsmtpd-config.c")
    known = {}
    for key in C_STRING.findall(c_array(text, "server_keys")):
        add(known, "server", key)
    # { "max-connections", FALSE, 0, G_MAXUINT, ... }: the first string of a row
    for key in re.findall(r'\{\s*"(' + KEY + r')"\s*,',
                          c_array(text, "property_keys")):
        add(known, "server", key)
    for key in C_STRING.findall(c_array(text, "plugins_keys")):
        add(known, "plugins", key)

    read_keys = {}
    for group, key in re.findall(
            r'\bget_\w+\s*\(\s*loader\s*,\s*[^,()]+,\s*"(' + KEY + r')"\s*,\s*"('
            + KEY + r')"', text):
        add(read_keys, group, key)
    for group, key in re.findall(
            r'\bg_key_file_\w+\s*\(\s*[^,()]+,\s*"(' + KEY + r')"\s*,\s*"('
            + KEY + r')"', text):
        add(read_keys, group, key)
    return known, read_keys


def enclosing_c_name(text, pos):
    """The function or macro whose body holds `pos`: the last
    `#define NAME(` or `NAME (` at the start of a line before it."""
    name = None
    for m in re.finditer(r"^(?:#define\s+)?([A-Za-z_]\w*)\s*\(", text[:pos], re.M):
        name = m.group(1)
    return name


def c_plugin_keys(path):
    text = read(path)
    keys = {}
    # g_key_file_get_string (config, "relay", "host", NULL)
    for group, key in re.findall(
            r'\bg_key_file_\w+\s*\(\s*[^,()]+,\s*"(' + KEY + r')"\s*,\s*"('
            + KEY + r')"', text):
        add(keys, group, key)
    # a helper that takes the key: read_config_list (table, config, key),
    # #define GET_INT(key, var); its calls give the keys
    for m in re.finditer(r'\bg_key_file_\w+\s*\(\s*[^,()]+,\s*"(' + KEY
                         + r')"\s*,\s*([a-z_]\w*)\s*,', text):
        group = m.group(1)
        helper = enclosing_c_name(text, m.start())
        if helper is None:
            continue
        for call in re.finditer(rf"\b{helper}\s*\(([^()]*)\)", text):
            for literal in C_STRING.findall(call.group(1)):
                if KEY_RE.match(literal):
                    add(keys, group, literal)
    return keys


def python_plugin_keys(path):
    text = read(path)
    keys = {}
    constants = dict(re.findall(r"^(\w+)\s*=\s*'(\w+)'\s*$", text, re.M))

    def group_of(expr):
        expr = expr.strip()
        if expr in constants:
            return constants[expr]
        m = PY_STRING.fullmatch(expr)
        return (m.group(1) or m.group(2)) if m else None

    # config.get_value(GROUP, 'delay')
    for expr, k1, k2 in re.findall(
            r"\.(?:get|has)_\w+\(\s*([\w'\"]+)\s*,\s*(?:'(" + KEY + r")'|\"("
            + KEY + r")\")\s*\)", text):
        if group_of(expr):
            add(keys, group_of(expr), k1 or k2)
    # def config_int(config, key, ...): ... .get_value(GROUP, key)
    for m in re.finditer(r"\.(?:get|has)_\w+\(\s*([\w'\"]+)\s*,\s*([a-z_]\w*)\s*\)", text):
        group = group_of(m.group(1))
        defs = re.findall(r"^def\s+(\w+)\s*\(", text[:m.start()], re.M)
        if group is None or not defs:
            continue
        for call in re.finditer(rf"\b{defs[-1]}\(([^()]*)\)", text):
            for a, b in PY_STRING.findall(call.group(1)):
                if KEY_RE.match(a or b):
                    add(keys, group, a or b)
    return keys


def vala_plugin_keys(path):
    text = read(path)
    keys = {}
    constants = dict(re.findall(r'\bconst\s+string\s+(\w+)\s*=\s*"(\w+)"', text))
    for expr, key in re.findall(
            r'\.(?:get|has)_\w+\s*\(\s*(\w+|"\w+")\s*,\s*"(' + KEY + r')"', text):
        group = constants.get(expr, expr.strip('"'))
        add(keys, group, key)
    return keys


def code_keys():
    """{group: keys} read by the daemon and the shipped plugins, and the
    files scanned."""
    known, read_keys = daemon_keys()
    keys = {}
    for source in (known, read_keys):
        for group, names in source.items():
            for key in names:
                add(keys, group, key)
    scanned = []
    for path in PLUGIN_SOURCES:
        if path.endswith(".c"):
            found = c_plugin_keys(path)
        elif path.endswith(".py"):
            found = python_plugin_keys(path)
        else:
            found = vala_plugin_keys(path)
        scanned.append(path)
        for group, names in found.items():
            for key in names:
                add(keys, group, key)
    return keys, scanned


# What the documentation names ----------------------------------------------

def conf_keys():
    """{group: keys} of data/vsmtpd.conf: "#key=..." or "key=..." lines."""
    keys = {}
    group = None
    with open(CONF, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\[([\w-]+)\]\s*$", line)
            if m:
                group = m.group(1)
                keys.setdefault(group, set())
                continue
            m = re.match(r"^#?(" + KEY + r")=", line)
            if m and group is not None:
                add(keys, group, m.group(1))
    return keys


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
            m = re.search(r"\[([\w-]+)\]", line)
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
        cls.code, cls.scanned = code_keys()

    def test_extraction_is_plausible(self):
        self.assertEqual(sorted(self.scanned), sorted(PLUGIN_SOURCES))
        for group, minimum in MIN_KEYS.items():
            found = sorted(self.code.get(group, ()))
            self.assertGreaterEqual(
                len(found), minimum,
                f"[{group}]: only {found} found in the code: has the way keys "
                f"are read changed? (adapt test_docs.py)")
        # the three ways the daemon's and the plugins' keys are found
        known, read_keys = daemon_keys()
        self.assertGreaterEqual(len(known["server"]), 30)
        self.assertGreaterEqual(len(read_keys["server"]), 15)
        self.assertIn("port", self.code["relay"])             # through a macro
        self.assertIn("domains", self.code["recipients"])     # through a function
        self.assertIn("interval", self.code["ratelimit"])     # through a Python helper

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

    def test_daemon_accepts_what_it_reads(self):
        """A [server] or [plugins] key the daemon parses but does not list
        as known would be refused as "unknown key"."""
        known, read_keys = daemon_keys()
        for group in ("server", "plugins"):
            self.assertEqual(sorted(read_keys.get(group, set()) - known[group]), [],
                             f"[{group}] keys read but not in the known keys")

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
            text = read(os.path.join("tests", "integration", path))
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

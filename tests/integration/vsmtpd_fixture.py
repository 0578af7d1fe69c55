"""Shared helpers for the vsmtpd integration tests.

- ``Vsmtpd``: starts the built daemon (``$VSMTPD``) on an ephemeral loopback
  port with a temporary configuration and maildir, waits until the port
  accepts connections, and stops it with SIGTERM (expecting exit status 0).
- ``VsmtpdTestCase``: a unittest base class that runs one daemon per class
  and empties the maildir before every test.
- ``RawClient``: a byte-level SMTP client for the cases real clients hide
  (pipelined groups in one write, bare LF, overlong lines, ...).
- ``split_received`` / ``check_received``: take the ``Received:`` header the
  server prepends off a delivered file and check that it is well formed.
- ``main()``: runs the tests of a module and prints TAP for meson.

Run by meson with ``VSMTPD`` set to the built executable; standalone runs
default to ``build/daemon/vsmtpd`` under the source tree.
"""

import ctypes
import email.utils
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get(
    "VSMTPD_SOURCE_ROOT", os.path.dirname(os.path.dirname(HERE)))
VSMTPD = os.environ.get(
    "VSMTPD", os.path.join(SOURCE_ROOT, "build", "daemon", "vsmtpd"))
VERSION = os.environ.get("VSMTPD_VERSION")

HOSTNAME = "mx.vsmtpd-test.example"
CRLF = b"\r\n"

START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0
IO_TIMEOUT = 20.0

# "250 2.1.0 Ok" -> the enhanced status code "2.1.0" right after the code.
ESC_RE = re.compile(rb"^[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})(?: |$)")


def free_port():
    """A loopback TCP port that was free a moment ago (bind to 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def peer_env(**extra):
    """The environment for peer programs a test starts (milters, browsers):
    without the sanitizer runtimes the sanitizer tier preloads for vsmtpd"""
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        env.pop(name, None)
    env.update(extra)
    return env


def clean_env(home):
    """The environment for a daemon: HOME in the test's folder, no XDG or
    systemd state directory leaking in from the caller."""
    env = dict(os.environ)
    env["HOME"] = home
    for key in ("STATE_DIRECTORY", "XDG_STATE_HOME", "XDG_CONFIG_HOME",
                "XDG_DATA_HOME", "LISTEN_FDS", "LISTEN_PID",
                "LISTEN_FDNAMES", "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY"):
        env.pop(key, None)
    env.setdefault("G_DEBUG", "fatal-criticals")
    return env


class DaemonError(Exception):
    pass


def _die_with_parent():
    """preexec_fn: the daemon gets SIGKILL if the test process dies without
    stopping it (killed by a timeout, broken pipe, ...)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


_live = []   # daemons not yet cleaned up, for main() to reap


class Vsmtpd:
    """One vsmtpd process with its own temporary folder.

    ``options`` are ``SECTION.KEY=VALUE`` strings passed as ``--option``;
    ``server`` is extra ``key=value`` lines for the ``[server]`` group and
    ``config`` extra keyfile text appended to the generated file; ``env``
    extra environment variables (``STATE_DIRECTORY``, ...).
    """

    def __init__(self, options=(), config="", plugins=("maildir",),
                 args=(), server="", env=None):
        self.options = list(options)
        self.extra_config = config
        self.server_config = server
        self.plugins = list(plugins)
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.tmpdir = tempfile.mkdtemp(prefix="vsmtpd-test-")
        self.home = os.path.join(self.tmpdir, "home")
        os.mkdir(self.home)
        self.maildir = os.path.join(self.tmpdir, "Maildir")
        self.config_path = os.path.join(self.tmpdir, "vsmtpd.conf")
        self.stderr_path = os.path.join(self.tmpdir, "stderr.log")
        self.proc = None
        self.port = None
        self.returncode = None
        _live.append(self)

    def write_config(self):
        text = ("[server]\n"
                f"hostname={HOSTNAME}\n"
                f"{self.server_config}"
                "\n[plugins]\n"
                f"enabled={';'.join(self.plugins)}\n"
                "\n[maildir]\n"
                f"path={self.maildir}\n")
        if self.extra_config:
            text += "\n" + self.extra_config
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text)

    def command(self, port):
        cmd = [VSMTPD, "--config", self.config_path,
               "--listen", f"127.0.0.1:{port}"]
        for opt in self.options:
            cmd += ["--option", opt]
        return cmd + self.args

    def start(self, attempts=5):
        if not os.access(VSMTPD, os.X_OK):
            raise DaemonError(f"vsmtpd not built: {VSMTPD}")
        self.write_config()
        last = ""
        for _ in range(attempts):
            port = free_port()
            stderr = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen(
                self.command(port), stdin=subprocess.DEVNULL,
                stdout=stderr, stderr=stderr,
                env={**clean_env(self.home), **self.extra_env},
                cwd=self.tmpdir, preexec_fn=_die_with_parent)
            stderr.close()
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with socket.create_connection(("127.0.0.1", port), 0.5):
                        self.port = port
                except OSError:
                    time.sleep(0.05)
                    continue
                if not self.wait_started(deadline) and self.proc.poll() is not None:
                    # it listened, then stopped (a plugin's configuration
                    # refused after the sockets were bound): not a port
                    # taken meanwhile, no retry
                    raise DaemonError(
                        f"vsmtpd exited at start (status {self.proc.returncode}):\n"
                        f"{self.stderr_text()}")
                return self
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise DaemonError(
                    f"vsmtpd did not accept on port {port} within "
                    f"{START_TIMEOUT} s\n{self.stderr_text()}")
            last = self.stderr_text()
            # Exited early: most likely the port was taken meanwhile; retry.
        raise DaemonError(
            f"vsmtpd exited at start (status {self.proc.returncode}):\n{last}")

    def wait_started(self, deadline):
        """The kernel accepts on the first bound port before vsmtpd has
        bound the others, loaded its plugins and dropped privileges: wait
        for the line it logs once all that is done ("... started as ...")."""
        while " started as " not in self.stderr_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self, sig=signal.SIGTERM):
        """Send ``sig`` and return the exit status (None if it hung)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = None
                return None
        self.returncode = self.proc.returncode
        return self.returncode

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self in _live:
            _live.remove(self)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # Maildir helpers ------------------------------------------------------

    def maildir_files(self, sub="new"):
        """Full paths of the files in the maildir's ``sub`` folder, sorted
        by modification time (delivery order)."""
        d = os.path.join(self.maildir, sub)
        try:
            names = [n for n in os.listdir(d) if not n.startswith(".")]
        except FileNotFoundError:
            return []
        paths = [os.path.join(d, n) for n in names]
        return sorted(paths, key=lambda p: (os.stat(p).st_mtime_ns, p))

    def delivered(self):
        """Contents (bytes) of the files in new/, in delivery order."""
        out = []
        for p in self.maildir_files():
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def clear_maildir(self):
        for sub in ("new", "cur", "tmp"):
            for p in self.maildir_files(sub):
                os.unlink(p)

    def connect(self, **kw):
        return RawClient(self.port, **kw)


# Received header ----------------------------------------------------------

def _header_end(data, pos):
    """End (after the CRLF) of the folded header starting at ``pos``."""
    while True:
        end = data.find(CRLF, pos)
        if end < 0:
            raise AssertionError(
                f"header is not CRLF-terminated: {data[:300]!r}")
        pos = end + 2
        if data[pos:pos + 1] not in (b" ", b"\t"):
            return pos


RETURN_PATH_RE = re.compile(rb"^Return-Path: <[^<>\r\n]*>\r\n$")


def split_received(data, return_path=None):
    """Split a delivered file into (Received header bytes incl. its final
    CRLF, the rest). The maildir plugin may put a ``Return-Path:`` header
    (the envelope sender, as local delivery agents do) before it; anything
    else before ``Received:`` is an error. With ``return_path`` given, the
    Return-Path header must be there and name that sender."""
    pos = 0
    if data.startswith(b"Return-Path:"):
        pos = _header_end(data, 0)
        rp = data[:pos]
        if not RETURN_PATH_RE.match(rp):
            raise AssertionError(f"malformed Return-Path header: {rp!r}")
        if return_path is not None and rp != (
                b"Return-Path: <" + return_path.encode() + b">\r\n"):
            raise AssertionError(
                f"Return-Path {rp!r} does not name <{return_path}>")
    if not data.startswith(b"Received:", pos):
        raise AssertionError(
            f"delivered file does not start with 'Received:': {data[:80]!r}")
    end = _header_end(data, pos)
    return data[pos:end], data[end:]


RECEIVED_RE = re.compile(
    r"^Received:\s+from\s+(?P<from>\S+)(?P<fromrest>.*?)"
    r"\s+by\s+(?P<by>\S+)(?P<byrest>.*?)"
    r"\s+with\s+(?P<with>[A-Za-z0-9]+)"
    r"(?:\s+id\s+(?P<id>\S+?))?"
    r"(?P<forpart>\s+for\s+<(?P<for>[^>]*)>)?"
    r"\s*;\s*(?P<date>.+?)\s*$", re.S)


def check_received(testcase, header, rcpt=None, helo=None, protocol="ESMTP"):
    """Assert the Received header is well formed: from, by <our hostname>,
    with <protocol>, id, for <rcpt> (when given), and a current date."""
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        testcase.fail(f"Received header is not ASCII: {header!r}")
    for line in text.split("\r\n")[:-1]:
        testcase.assertNotIn("\n", line, f"bare LF in Received: {header!r}")
        testcase.assertNotIn("\r", line, f"bare CR in Received: {header!r}")
        testcase.assertLessEqual(len(line), 998, "Received line too long")
    unfolded = re.sub(r"\r\n(?=[ \t])", "", text[:-2])
    m = RECEIVED_RE.match(unfolded)
    testcase.assertIsNotNone(m, f"malformed Received header: {header!r}")
    if helo is not None:
        testcase.assertEqual(m.group("from"), helo, unfolded)
    testcase.assertIn("127.0.0.1", m.group("fromrest"),
                      f"Received lacks the client IP: {unfolded}")
    testcase.assertEqual(m.group("by"), HOSTNAME, unfolded)
    testcase.assertEqual(m.group("with"), protocol, unfolded)
    testcase.assertTrue(m.group("id"), f"Received lacks an id: {unfolded}")
    if rcpt is not None:
        testcase.assertEqual(m.group("for"), rcpt, unfolded)
    date = email.utils.parsedate_to_datetime(m.group("date"))
    testcase.assertIsNotNone(date.tzinfo, f"date without zone: {unfolded}")
    age = abs(time.time() - date.timestamp())
    testcase.assertLess(age, 600, f"Received date is off: {unfolded}")
    return m


# Raw client ---------------------------------------------------------------

class Reply:
    def __init__(self, lines):
        self.lines = lines              # raw lines, CRLF stripped
        self.code = int(lines[-1][:3])
        m = ESC_RE.match(lines[-1])
        self.esc = m.group(1).decode() if m else None

    @property
    def text(self):
        return b"\n".join(self.lines)

    def __repr__(self):
        return f"Reply({self.text!r})"


def ehlo_lines(reply):
    """The lines of an EHLO reply after the host name, without "250-":
    what tests look for whatever the order of the extensions."""
    return [line[4:] for line in reply.lines[1:]]


class RawClient:
    """Bytes in, replies out. Reads the greeting on connect."""

    def __init__(self, port, greeting=True, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""
        self.greeting = self.reply() if greeting else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while CRLF not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; unread: {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(CRLF, 1)
        return line

    def reply(self):
        lines = []
        while True:
            line = self._line()
            if not re.match(rb"^\d\d\d[ -]|^\d\d\d$", line):
                raise AssertionError(f"not an SMTP reply line: {line!r}")
            if lines and line[:3] != lines[0][:3]:
                raise AssertionError(f"code changed in reply: {lines + [line]!r}")
            lines.append(line)
            if line[3:4] != b"-":
                return Reply(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + CRLF)
        return self.reply()

    def pending(self, wait=0.5):
        """Bytes the server sent without being asked (b"" if none)."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = b""
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        return self.buf + data

    def closed_by_peer(self, wait=5.0):
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(IO_TIMEOUT)


# unittest base ------------------------------------------------------------

class VsmtpdTestCase(unittest.TestCase):
    """One daemon per class; ``options`` / ``config`` tune it."""

    options = ()
    config = ""
    plugins = ("maildir",)

    @classmethod
    def make_daemon(cls):
        """The class's daemon, not started (a subclass may make another kind)."""
        return Vsmtpd(options=cls.options, config=cls.config, plugins=cls.plugins)

    @classmethod
    def setUpClass(cls):
        cls.daemon = cls.make_daemon()
        try:
            cls.daemon.start()
        except Exception:
            cls.daemon.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        status = cls.daemon.stop()
        log = cls.daemon.stderr_text()
        cls.daemon.cleanup()
        if status != 0:
            raise AssertionError(
                f"vsmtpd exit status after SIGTERM: {status}\n{log}")

    def setUp(self):
        self.assertIsNone(self.daemon.proc.poll(),
                          "vsmtpd died:\n" + self.daemon.stderr_text())
        self.daemon.clear_maildir()

    def client(self, **kw):
        c = self.daemon.connect(**kw)
        self.addCleanup(c.close)
        return c

    def assertReply(self, reply, code, esc=None):
        self.assertEqual(reply.code, code, f"unexpected reply {reply!r}")
        if esc is not None:
            self.assertEqual(reply.esc, esc, f"unexpected reply {reply!r}")

    def assertDelivered(self, expected, rcpt=None, helo=None,
                        protocol="ESMTP", sender=None):
        """Exactly one file in new/, whose content after the Received
        header is ``expected``. Returns the file's bytes."""
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1,
                         f"expected one delivered file, got {len(files)}")
        header, body = split_received(files[0], return_path=sender)
        check_received(self, header, rcpt=rcpt, helo=helo, protocol=protocol)
        self.assertBytesEqual(body, expected)
        return files[0]

    def assertBytesEqual(self, got, expected):
        if got == expected:
            return
        i = next((k for k in range(min(len(got), len(expected)))
                  if got[k] != expected[k]), min(len(got), len(expected)))
        self.fail(f"content differs at byte {i} (got {len(got)} bytes, "
                  f"expected {len(expected)}): got {got[max(0, i-40):i+40]!r}"
                  f" expected {expected[max(0, i-40):i+40]!r}")

    def assertNothingDelivered(self):
        self.assertEqual(self.daemon.maildir_files("new"), [],
                         "a message was delivered to new/")


# TAP output ---------------------------------------------------------------

class TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0
        self.current = None
        self.outcome = None

    def _emit(self, ok, name, directive="", details=""):
        self.n += 1
        line = f"{'ok' if ok else 'not ok'} {self.n} - {name}"
        if directive:
            line += f" # {directive}"
        self.stream.write(line + "\n")
        for d in details.rstrip("\n").splitlines():
            self.stream.write(f"#   {d}\n")
        self.stream.flush()

    @staticmethod
    def _name(test):
        tid = test.id()
        parts = tid.split(".")
        return ".".join(parts[-2:]) if len(parts) > 2 else tid

    def startTest(self, test):
        super().startTest(test)
        self.current = test
        self.outcome = (True, "", "")

    def stopTest(self, test):
        super().stopTest(test)
        ok, directive, details = self.outcome
        self._emit(ok, self._name(test), directive, details)
        self.current = None

    def _fail(self, test, err):
        details = self._exc_info_to_string(err, test)
        if self.current is None or test is not self.current:
            # setUpClass / tearDownClass / module fixtures.
            self._emit(False, str(test), "", details)
        else:
            self.outcome = (False, "", details)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            details = f"{subtest}: " + self._exc_info_to_string(err, test)
            prev = self.outcome[2] if self.outcome else ""
            self.outcome = (False, "", prev + details)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self.current is None or test is not self.current:
            self._emit(True, str(test), f"SKIP {reason}")
        else:
            self.outcome = (True, f"SKIP {reason}", "")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.outcome = (False, "TODO expected failure",
                        self._exc_info_to_string(err, test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.outcome = (True, "TODO unexpected success", "")


def main(module="__main__"):
    """Run the module's tests (or the names in argv) and print TAP."""
    loader = unittest.TestLoader()
    names = sys.argv[1:]
    mod = sys.modules[module]
    if names:
        suite = loader.loadTestsFromNames(names, mod)
    else:
        suite = loader.loadTestsFromModule(mod)
    out = sys.stdout
    result = TapResult(out)
    try:
        try:
            suite.run(result)
        except Exception:
            result._emit(False, "test runner", "", traceback.format_exc())
        out.write(f"1..{result.n}\n")
        out.flush()
    finally:
        for d in list(_live):
            d.cleanup()
    sys.exit(0 if result.wasSuccessful() else 1)

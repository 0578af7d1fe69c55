#!/usr/bin/env python3
"""vsmtpd's status page, / on the [metrics] listener: mail flows through
smtplib and a raw client (accepted, a recipient refused, a message too
big, one under STARTTLS from a hostile sender address), then headless
Chromium loads the page: its DOM has the figures of what was sent, the
client in the top clients, the transaction lines with the hostile address
escaped, the chart with a bucket that is not empty; a screenshot is saved
in the test's output folder. Also the headers (type, no-store, CSP), the
bounded log, a reload's listeners, and the page served to a client that
[metrics] allow names (the 403 for one it does not: test_metrics)."""

import html.parser
import os
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsmtpd_fixture as fx  # noqa: E402
from test_metrics import MetricsDaemon, wait_for  # noqa: E402

DATA = os.path.join(fx.SOURCE_ROOT, "tests", "data")
CERT = os.path.join(DATA, "test-cert.pem")
KEY = os.path.join(DATA, "test-key.pem")
BUILD_ROOT = os.environ.get("VSMTPD_BUILD_ROOT", os.path.join(fx.SOURCE_ROOT, "build"))
OUTPUT = os.path.join(BUILD_ROOT, "meson-logs", "test_status_page")
CHROMIUM_TIMEOUT = 90

SENDER = "status-test@example.com"
HOSTILE = '"<script>alert(1)</script>"@example.com'
MAX_SIZE = 4096


class Element:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children = []
        self.text_parts = []

    def text(self):
        return "".join(self.text_parts + [c.text() for c in self.children]).strip()

    def iter(self):
        yield self
        for c in self.children:
            yield from c.iter()

    def classes(self):
        return self.attrs.get("class", "").split()

    def find_all(self, tag=None, cls=None):
        return [e for e in self.iter()
                if (tag is None or e.tag == tag) and (cls is None or cls in e.classes())]


VOID = {"meta", "link", "br", "hr", "img", "input", "line", "rect", "path", "circle"}


class Dom(html.parser.HTMLParser):
    """A tree of the elements of a page (Chromium's --dump-dom output)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", (), None)
        self.current = self.root
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        e = Element(tag, attrs, self.current)
        self.current.children.append(e)
        if tag not in VOID:
            self.current = e

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, attrs, self.current))

    def handle_endtag(self, tag):
        e = self.current
        while e is not self.root and e.tag != tag:
            e = e.parent
        if e is not self.root:
            self.current = e.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)

    def by_id(self, id_):
        found = [e for e in self.root.iter() if e.attrs.get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_!r}"
        return found[0]


def chromium_binary():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(args, url):
    """Runs headless Chromium on @url with its own profile in a temporary
    folder; its process group is killed whatever happens. Returns stdout."""
    binary = chromium_binary()
    if binary is None:
        raise AssertionError("chromium is not installed (Debian package chromium; "
                             "scripts/setup.sh installs it, scripts/preflight.sh checks it)")
    profile = tempfile.mkdtemp(prefix="vsmtpd-status-chromium-")
    cmd = [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
           "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
           "--disable-extensions", "--disable-background-networking",
           f"--user-data-dir={profile}"] + args + [url]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env=fx.peer_env(HOME=profile))
    try:
        out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT)
        if proc.returncode != 0:
            raise AssertionError(f"chromium exited with {proc.returncode}: {err.decode(errors='replace')}")
        return out.decode("utf-8")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def fetch(port, path="/", method="GET"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(request, timeout=fx.IO_TIMEOUT) as r:
        return r.status, r.headers, r.read().decode("utf-8")


def page_dom(port):
    return Dom(fetch(port)[2])


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class StatusPageTest(unittest.TestCase):

    def setUp(self):
        self.daemon = MetricsDaemon(
            plugins=("maildir", "recipients"),
            listener="inbound",
            args=["--tls-cert", CERT, "--tls-key", KEY],
            server=f"error-sleep-time=0\nmax-message-size={MAX_SIZE}\n",
            config="[recipients]\nusers=bob@example.org\n")
        self.addCleanup(self.daemon.cleanup)
        self.daemon.start()

    def send_mail(self):
        port = self.daemon.port
        # accepted, with one recipient refused (recipients plugin: 550)
        with smtplib.SMTP("127.0.0.1", port, timeout=fx.IO_TIMEOUT) as s:
            refused = s.sendmail(SENDER, ["bob@example.org", "nobody@example.org"],
                                 b"Subject: status 1\r\n\r\nhello\r\n")
            self.assertEqual(list(refused), ["nobody@example.org"])
        # accepted, under STARTTLS, from a hostile (but valid) address
        with smtplib.SMTP("127.0.0.1", port, timeout=fx.IO_TIMEOUT) as s:
            s.starttls(context=tls_context())
            s.sendmail(HOSTILE, ["bob@example.org"], b"Subject: status 2\r\n\r\nhello\r\n")
        # a message too big, sent without SIZE: refused at its end (552)
        with self.daemon.connect() as c:
            self.assertEqual(c.cmd("EHLO client.example").code, 250)
            self.assertEqual(c.cmd(f"MAIL FROM:<{SENDER}>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<bob@example.org>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * (MAX_SIZE // 70 + 10) +
                   b".\r\n")
            self.assertEqual(c.reply().code, 552)
            self.assertEqual(c.cmd("QUIT").code, 221)

    def test_page_in_chromium(self):
        metrics_port = self.daemon.metrics_port
        # the fixture's probe of the SMTP port is a session too: once it has
        # ended, every later session is the test's
        wait_for(lambda: page_dom(metrics_port).by_id("tls-sessions").attrs["data-total"] == "1",
                 "the start-up probe's session ended")
        self.send_mail()
        wait_for(lambda: page_dom(metrics_port).by_id("tls-sessions").attrs["data-total"] == "4",
                 "the test's three sessions ended")

        status, headers, body = fetch(metrics_port)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(headers["Cache-Control"], "no-store")
        csp = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
        for directive in ("default-src 'none'", "style-src 'unsafe-inline'", "img-src data:"):
            self.assertIn(directive, csp)
        # nothing to load, nothing to run: no script element at all, the
        # hostile address only escaped
        self.assertFalse("<script" in body, "a <script> in the page")
        self.assertTrue("&lt;script&gt;alert(1)&lt;/script&gt;" in body, "the hostile sender escaped")
        for attr in ('src="', "href=", "http://", "https://"):
            self.assertFalse(attr in body.replace('xmlns="http://www.w3.org/2000/svg"', ""),
                             f"{attr} in the page: something to load")

        url = f"http://127.0.0.1:{metrics_port}/"
        os.makedirs(OUTPUT, exist_ok=True)
        screenshot = os.path.join(OUTPUT, "status.png")
        if os.path.exists(screenshot):
            os.unlink(screenshot)
        started = time.monotonic()
        dumped = run_chromium(["--dump-dom"], url)
        run_chromium([f"--screenshot={screenshot}", "--window-size=1280,1600",
                      "--hide-scrollbars"], url)
        elapsed = time.monotonic() - started
        print(f"# status page screenshot: {screenshot} (Chromium: {elapsed:.1f} s for the "
              "DOM and the screenshot)", flush=True)

        dom = Dom(dumped)
        self.assertEqual(dom.root.find_all("script"), [])
        self.assertEqual(dom.by_id("sessions-now").text(), "0")
        self.assertEqual(dom.by_id("messages-total").text(), "3")
        self.assertEqual(dom.by_id("messages-accepted").text(), "2")
        self.assertEqual(dom.by_id("messages-refused").text(), "1")
        self.assertEqual(dom.by_id("messages-last-hour").text(), "3")
        self.assertEqual(dom.by_id("connections-last-hour").text(), "4")

        # refusals: the unknown recipient, the message too big
        self.assertEqual(dom.by_id("refusal-rcpt-5xx").find_all("td", "count")[0].text(), "1")
        self.assertEqual(dom.by_id("refusal-message-5xx").find_all("td", "count")[0].text(), "1")
        self.assertEqual(dom.by_id("refusal-mail-5xx").find_all("td", "count")[0].text(), "0")

        # TLS share: one session of four, one accepted message of two
        self.assertEqual((dom.by_id("tls-sessions").attrs["data-part"],
                          dom.by_id("tls-sessions").attrs["data-total"]), ("1", "4"))
        self.assertEqual((dom.by_id("tls-messages").attrs["data-part"],
                          dom.by_id("tls-messages").attrs["data-total"]), ("1", "2"))
        self.assertEqual(dom.by_id("tls-sessions").find_all("td", "share")[0].text(), "25 %")

        # top clients: 127.0.0.1, with the probe and the three sessions
        rows = dom.by_id("top-clients").find_all("tr", "client")
        self.assertEqual([(r.find_all("td", "address")[0].text(), r.find_all("td", "count")[0].text())
                          for r in rows], [("127.0.0.1", "4")])

        # listeners: the [listener inbound] section and [server] listen
        listeners = [tuple(td.text() for td in tr.find_all("td"))
                     for tr in dom.by_id("listeners").find_all("tr") if tr.find_all("td")]
        self.assertIn(("inbound", f"127.0.0.1:{self.daemon.listener_port}", "SMTP", "STARTTLS"),
                      listeners)
        self.assertIn(("default", f"127.0.0.1:{self.daemon.port}", "SMTP", "STARTTLS"), listeners)

        # the transaction lines, the hostile address as text
        lines = [li.text() for li in dom.by_id("log").find_all("li", "log-line")]
        self.assertEqual(len(lines), 3, lines)
        self.assertIn(f"from=<{SENDER}> to=<bob@example.org>", lines[0])
        self.assertIn('result="250 ', lines[0])
        self.assertIn(f"from=<{HOSTILE}>", lines[1])
        self.assertIn('result="552 ', lines[2])

        # the chart: 60 buckets, the messages in the last ones
        chart = dom.by_id("messages-chart")
        self.assertEqual(chart.tag, "svg")
        buckets = chart.find_all("g", "bucket")
        self.assertEqual(len(buckets), 60)
        self.assertEqual(sum(int(b.attrs["data-accepted"]) for b in buckets), 2)
        self.assertEqual(sum(int(b.attrs["data-refused"]) for b in buckets), 1)
        self.assertTrue(any(b.find_all("rect", "accepted") for b in buckets))

        with open(screenshot, "rb") as f:
            png = f.read()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 20000, "a screenshot of a page with content")

        self.assertEqual(self.daemon.stop(), 0, self.daemon.stderr_text())

    def test_log_keeps_the_last_50(self):
        """55 transactions: the page lists the last 50, the oldest first."""
        with smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=fx.IO_TIMEOUT) as s:
            for i in range(55):
                s.sendmail(f"ring{i}@example.com", ["bob@example.org"], b"Subject: r\r\n\r\nr\r\n")
        lines = [li.text() for li in page_dom(self.daemon.metrics_port).by_id("log")
                 .find_all("li", "log-line")]
        self.assertEqual(len(lines), 50)
        self.assertIn("from=<ring5@example.com>", lines[0])
        self.assertIn("from=<ring54@example.com>", lines[-1])

    def test_listeners_follow_a_reload(self):
        """A [listener NAME] added by a reload (SIGHUP) is listed."""
        port = fx.free_port()
        with open(self.daemon.config_path, "a", encoding="utf-8") as f:
            f.write(f"\n[listener lmtp-in]\nlisten=127.0.0.1:{port}\nprotocol=lmtp\ntls=none\n")
        self.daemon.proc.send_signal(signal.SIGHUP)

        def listed():
            table = page_dom(self.daemon.metrics_port).by_id("listeners")
            return ("lmtp-in", f"127.0.0.1:{port}", "LMTP", "none") in [
                tuple(td.text() for td in tr.find_all("td")) for tr in table.find_all("tr")]
        wait_for(listed, "the listener added by the reload")

    def test_page_is_utf8_whatever_the_configuration(self):
        """A [listener NAME] whose name is not UTF-8 (Latin-1 in the file)
        never reaches the page: the reload that would add it is refused,
        naming the group; the page, valid UTF-8, lists only the listeners
        it had."""
        port = fx.free_port()
        with open(self.daemon.config_path, "ab") as f:
            f.write(b"\n[listener caf\xe9-in]\nlisten=127.0.0.1:%d\ntls=none\n" % port)
        self.daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "[listener caf\\xe9-in] (the group's name): not valid UTF-8"
                 in self.daemon.stderr_text(), "the reload refused")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.daemon.metrics_port}/",
                                    timeout=fx.IO_TIMEOUT) as r:
            body = r.read()
        table = Dom(body.decode("utf-8")).by_id("listeners")
        names = [tuple(td.text() for td in tr.find_all("td"))[:1] for tr in table.find_all("tr")]
        self.assertIn(("inbound",), names)
        self.assertNotIn(f"127.0.0.1:{port}".encode(), body)

    def test_methods(self):
        status, headers, body = fetch(self.daemon.metrics_port, method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, "")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            fetch(self.daemon.metrics_port, method="POST")
        self.assertEqual(cm.exception.code, 405)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            fetch(self.daemon.metrics_port, "/index.html")
        self.assertEqual(cm.exception.code, 404)


class StatusPageAllowTest(unittest.TestCase):
    """allow= naming 127.0.0.1 among others: the page is served to it (the
    403 for a client not allowed: test_metrics' MetricsAllowTest, for / as
    for /metrics)."""

    def test_allowed(self):
        daemon = MetricsDaemon(allow="192.0.2.0/24;127.0.0.1")
        try:
            daemon.start()
            status, headers, body = fetch(daemon.metrics_port)
            self.assertEqual(status, 200)
            self.assertIn('id="sessions-now"', body)
            self.assertEqual(daemon.stop(), 0, daemon.stderr_text())
        finally:
            daemon.cleanup()


if __name__ == "__main__":
    fx.main()

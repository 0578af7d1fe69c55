#!/usr/bin/env python3
"""vsmtpd's [metrics] listener: the server's metrics over HTTP for
Prometheus (libsoup), checked with promtool and by values that move as
mail flows through smtplib; the 403 for a scraper not allowed."""

import base64
import json
import os
import re
import shutil
import smtplib
import socket
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

DATA = os.path.join(fx.SOURCE_ROOT, "tests", "data")
CERT = os.path.join(DATA, "test-cert.pem")
KEY = os.path.join(DATA, "test-key.pem")
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def parse(text):
    """{(name, frozenset of label pairs): value} of an exposition text."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def fetch(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=fx.IO_TIMEOUT) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode("utf-8")


class MetricsDaemon(fx.Vsmtpd):
    """vsmtpd with [metrics] on a port of its own (retried if taken)."""

    def __init__(self, allow=None, listener=None, **kw):
        self.allow = allow
        self.listener = listener        # the name of a [listener NAME] on listener_port
        self.listener_port = None
        self.metrics_port = None
        self.base_config = kw.pop("config", "")
        super().__init__(**kw)

    def start(self, attempts=5):
        last = None
        for _ in range(attempts):
            self.metrics_port = fx.free_port()
            self.extra_config = (self.base_config +
                                 f"\n[metrics]\nlisten=127.0.0.1:{self.metrics_port}\n")
            if self.allow is not None:
                self.extra_config += f"allow={self.allow}\n"
            if self.listener is not None:
                self.listener_port = fx.free_port()
                self.extra_config += (f"\n[listener {self.listener}]\n"
                                      f"listen=127.0.0.1:{self.listener_port}\n")
            try:
                return super().start(attempts=1)
            except fx.DaemonError as e:
                last = e
        raise last


def wait_for(predicate, what, timeout=fx.IO_TIMEOUT):
    """Polls @predicate until it holds (the server counts a session once it
    has closed it, after the client's QUIT returned)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen in {timeout} s: {what}")
        time.sleep(0.05)


def wait_settled(port):
    """Until the fixture's probe of the SMTP port (a connection, so a
    session) was accepted and has ended: counts taken then move only with
    the test's own sessions."""
    def settled():
        samples = parse(fetch(port)[2])
        return (value(samples, "vsmtp_connections_accepted_total", listener="default") >= 1 and
                value(samples, "vsmtp_connections_active", listener="default") == 0)
    wait_for(settled, "the start-up probe's session ended")


def passwd_line(user, password):
    # SCRAM credentials (RFC 5803), which PLAIN is checked against too
    from test_scram import rfc5803
    return f"{user}:{rfc5803(password, os.urandom(16), 4096)}\n"


class MetricsTest(fx.VsmtpdTestCase):

    @classmethod
    def make_daemon(cls):
        tmp = tempfile.mkdtemp(prefix="vsmtpd-metrics-")
        cls.addClassCleanup(shutil.rmtree, tmp, ignore_errors=True)
        passwd = os.path.join(tmp, "passwd")
        with open(passwd, "w", encoding="utf-8") as f:
            f.write(passwd_line("alice", "wonderland"))
        return MetricsDaemon(
            plugins=("maildir", "recipients", "passwd"),
            args=["--tls-cert", CERT, "--tls-key", KEY],
            server="error-sleep-time=0\n",
            config=(f"[passwd]\nfile={passwd}\n"
                    "[recipients]\nusers=bob@example.org;carol@example.org\n"))

    def scrape(self):
        status, ctype, text = fetch(self.daemon.metrics_port)
        self.assertEqual(status, 200)
        self.assertEqual(ctype.split(";")[0:2], ["text/plain", " version=0.0.4"])
        return text

    def test_values_move_with_mail(self):
        wait_settled(self.daemon.metrics_port)
        before = parse(self.scrape())
        message = b"Subject: metrics\r\n\r\nhello\r\n"

        # one message, one recipient accepted and one refused
        with smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=fx.IO_TIMEOUT) as s:
            s.ehlo("client.example")
            refused = s.sendmail("alice@example.com",
                                 ["bob@example.org", "nobody@example.org"], message)
            self.assertIn("nobody@example.org", refused)

        # a TLS session with an AUTH failure
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=fx.IO_TIMEOUT) as s:
            s.starttls(context=context)
            s.ehlo("client.example")
            code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(
                b"\0alice\0wrong").decode())
            self.assertEqual(code, 535)

        # the session count moves once the server closed the second session
        wait_for(lambda: value(parse(self.scrape()), "vsmtp_sessions_total",
                                  listener="default", reason="quit") >=
                    value(before, "vsmtp_sessions_total", listener="default", reason="quit") + 2,
                    "two sessions ended with QUIT")
        after = parse(self.scrape())

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        self.assertEqual(moved("vsmtp_connections_accepted_total", listener="default"), 2)
        self.assertEqual(value(after, "vsmtp_connections_active", listener="default"), 0)
        self.assertEqual(moved("vsmtp_transactions_total", result="2xx"), 1)
        self.assertEqual(moved("vsmtp_recipients_total", result="2xx"), 1)
        self.assertEqual(moved("vsmtp_recipients_total", result="5xx"), 1)
        self.assertEqual(moved("vsmtp_messages_total", result="2xx"), 1)
        self.assertGreaterEqual(moved("vsmtp_received_bytes_total"), len(message))
        self.assertEqual(moved("vsmtp_tls_handshakes_total", version="TLSv1.3", result="success"), 1)
        self.assertEqual(moved("vsmtp_auth_total", mechanism="PLAIN", result="failure"), 1)
        # the recipients plugin refused the unknown recipient; for the
        # known one it had no objection, and the standard reply decided
        self.assertEqual(moved("vsmtp_handler_decisions_total", signal="rcpt-to",
                               plugin="default", result="2xx"), 1)
        self.assertEqual(moved("vsmtp_handler_decisions_total", signal="rcpt-to",
                               plugin="recipients", result="5xx"), 1)
        self.assertEqual(moved("vsmtp_handler_decision_seconds_count", signal="rcpt-to",
                               plugin="recipients"), 1)
        self.assertEqual(moved("vsmtp_handler_decision_seconds_count", signal="rcpt-to",
                               plugin="default"), 1)
        self.assertEqual(moved("vsmtp_handler_decisions_total", signal="message-received",
                               plugin="maildir", result="2xx"), 1)
        self.assertEqual(moved("vsmtp_deliveries_total", plugin="maildir", result="2xx"), 1)

    def test_promtool_accepts_the_text(self):
        # some of every kind first: a session, so that histograms have series
        with smtplib.SMTP("127.0.0.1", self.daemon.port, timeout=fx.IO_TIMEOUT) as s:
            s.sendmail("alice@example.com", ["carol@example.org"], b"Subject: x\r\n\r\nx\r\n")
        text = self.scrape()
        self.assertIn("# TYPE vsmtp_handler_decision_seconds histogram", text)
        self.assertIn('vsmtp_handler_decision_seconds_bucket{signal="rcpt-to",plugin="default",'
                      'le="+Inf"}', text)
        r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())

    def test_monitoring_page_and_dashboard(self):
        """docs/monitoring.md lists every metric the server registers (those
        of the plugins this daemon runs included), and the Grafana dashboard
        under data/ asks only for those, in PromQL promtool accepts."""
        text = self.scrape()
        names = re.findall(r"^# TYPE (\S+) ", text, re.M)
        self.assertIn("vsmtp_deliveries_total", names)
        with open(os.path.join(fx.SOURCE_ROOT, "docs", "monitoring.md"), encoding="utf-8") as f:
            page = f.read()
        for name in names + ["vsmtp_relay_upstream_replies_total"]:
            self.assertIn(f"| `{name}` |", page, f"{name} is not in docs/monitoring.md")
        documented = set(re.findall(r"^\| `(vsmtp_[a-z_]+)` \|", page, re.M))

        with open(os.path.join(fx.SOURCE_ROOT, "data", "vsmtpd-grafana.json"),
                  encoding="utf-8") as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        asked = set()
        for expr in exprs:
            for name in re.findall(r"\b(vsmtp_[a-z_]+)", expr):
                asked.add(re.sub(r"_(bucket|sum|count)$", "", name)
                          if name.startswith("vsmtp_handler_decision_seconds") else name)
        self.assertEqual(asked - documented, set())
        self.assertEqual(documented - asked, set(), "metrics without a panel")

        # PromQL checked by promtool, as recording rules ($__rate_interval
        # is Grafana's: a duration here)
        rules = os.path.join(self.daemon.tmpdir, "rules.yml")
        with open(rules, "w", encoding="utf-8") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, expr in enumerate(exprs):
                expr = expr.replace("$__rate_interval", "5m")
                f.write(f"      - record: dashboard:expr{i}\n        expr: {json.dumps(expr)}\n")
        r = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())

    def test_other_paths(self):
        with self.assertRaises(urllib.error.HTTPError) as cm:
            fetch(self.daemon.metrics_port, "/other")
        self.assertEqual(cm.exception.code, 404)


class MetricsRelayTest(unittest.TestCase):
    """The relay plugin's deliveries and its upstream's replies: a second
    vsmtpd (discard plugin) as the upstream."""

    def test_relay(self):
        upstream = fx.Vsmtpd(plugins=("discard",))
        front = None
        try:
            upstream.start()
            front = MetricsDaemon(plugins=("relay",),
                                  config=(f"[relay]\nhost=127.0.0.1\nport={upstream.port}\n"
                                          "starttls=no\n"))
            front.start()
            with smtplib.SMTP("127.0.0.1", front.port, timeout=fx.IO_TIMEOUT) as s:
                s.sendmail("a@example.com", ["b@example.org"], b"Subject: r\r\n\r\nr\r\n")
            samples = parse(fetch(front.metrics_port)[2])
            self.assertEqual(value(samples, "vsmtp_deliveries_total", plugin="relay", result="2xx"), 1)
            # the greeting; EHLO, MAIL, RCPT and the content (BDAT: the
            # upstream offers CHUNKING)
            self.assertEqual(value(samples, "vsmtp_relay_upstream_replies_total", code="220"), 1)
            self.assertGreaterEqual(value(samples, "vsmtp_relay_upstream_replies_total", code="250"), 4)
            self.assertEqual(front.stop(), 0, front.stderr_text())
        finally:
            if front is not None:
                front.cleanup()
            upstream.stop()
            upstream.cleanup()


class MetricsLimitsTest(unittest.TestCase):
    """A connection refused by max-connections-per-client: counted as
    refused, as a limit hit and as a session ended for that reason."""

    def test_refused(self):
        daemon = MetricsDaemon(server="max-connections-per-client=1\n")

        def scrape():
            return parse(fetch(daemon.metrics_port)[2])

        try:
            daemon.start()
            wait_settled(daemon.metrics_port)
            before = scrape()
            with daemon.connect() as first, daemon.connect(greeting=False) as second:
                reply = second.reply()
                self.assertEqual(reply.code, 421, reply)
                self.assertTrue(second.closed_by_peer())
                wait_for(lambda: value(scrape(), "vsmtp_sessions_total", listener="default",
                                       reason="refused") == 1,
                         "a session ended as refused")
                after = scrape()

                def moved(name, **labels):
                    return value(after, name, **labels) - value(before, name, **labels)

                self.assertEqual(moved("vsmtp_connections_accepted_total", listener="default"), 2)
                self.assertEqual(moved("vsmtp_connections_refused_total", listener="default"), 1)
                self.assertEqual(value(after, "vsmtp_connections_active", listener="default"), 1)
                self.assertEqual(moved("vsmtp_limit_hits_total",
                                       limit="max-connections-per-client"), 1)
                self.assertEqual(first.cmd("QUIT").code, 221)
            self.assertEqual(daemon.stop(), 0, daemon.stderr_text())
        finally:
            daemon.cleanup()


class MetricsListenerTest(unittest.TestCase):
    """A session of a [listener NAME] counts under its name."""

    def test_named_listener(self):
        daemon = MetricsDaemon(listener="inbound")
        try:
            daemon.start()
            with smtplib.SMTP("127.0.0.1", daemon.listener_port, timeout=fx.IO_TIMEOUT) as s:
                self.assertEqual(s.noop()[0], 250)
            wait_for(lambda: value(parse(fetch(daemon.metrics_port)[2]), "vsmtp_sessions_total",
                                   listener="inbound", reason="quit") == 1,
                     "a session of listener inbound ended with QUIT")
            samples = parse(fetch(daemon.metrics_port)[2])
            self.assertEqual(value(samples, "vsmtp_connections_accepted_total", listener="inbound"), 1)
            self.assertEqual(value(samples, "vsmtp_connections_active", listener="inbound"), 0)
            self.assertEqual(daemon.stop(), 0, daemon.stderr_text())
        finally:
            daemon.cleanup()


class MetricsAllowTest(unittest.TestCase):
    """allow= without 127.0.0.1: a scrape from 127.0.0.1 gets 403, and so
    does the status page."""

    def test_forbidden(self):
        daemon = MetricsDaemon(allow="192.0.2.0/24;2001:db8::1")
        try:
            daemon.start()
            for path in ("/metrics", "/"):      # / : the status page
                with self.assertRaises(urllib.error.HTTPError) as cm:
                    fetch(daemon.metrics_port, path)
                self.assertEqual(cm.exception.code, 403)
            self.assertEqual(daemon.stop(), 0, daemon.stderr_text())
        finally:
            daemon.cleanup()

    def test_not_loopback_without_allow(self):
        """listen on an address that is not loopback without allow: refused
        at start, with the reason."""
        daemon = fx.Vsmtpd(config="[metrics]\nlisten=0.0.0.0:9\n")
        try:
            with self.assertRaises(fx.DaemonError):
                daemon.start(attempts=1)
            self.assertIn("[metrics] listen: 0.0.0.0:9 is not a loopback address",
                          daemon.stderr_text())
        finally:
            daemon.cleanup()


if __name__ == "__main__":
    fx.main()

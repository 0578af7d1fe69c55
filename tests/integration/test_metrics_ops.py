#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""[metrics] in operations: the metrics listener passed by systemd
(socket activation, LISTEN_FDNAMES "metrics"), checked with promtool and
with values that move as mail flows through the SMTP socket passed with
it; a metrics socket alone leaves SMTP on its configured address."""

import http.client
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
import unittest
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsmtpd_fixture as fx  # noqa: E402
from test_metrics import fetch, parse, value  # noqa: E402
from test_proxy_protocol import LAUNCHER  # noqa: E402


def listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def wait_started(d):
    deadline = time.monotonic() + fx.START_TIMEOUT
    while "started" not in d.stderr_text():
        if d.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(d.stderr_text())
        time.sleep(0.05)


def promtool_check(testcase, text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    testcase.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())


class MetricsSocketActivationTest(unittest.TestCase):

    def activate(self, d, sockets, names, args=()):
        d.write_config()
        stderr = open(d.stderr_path, "ab")
        fds = [s.fileno() for s in sockets]
        d.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, ",".join(map(str, fds)), names,
             fx.VSMTPD, "--config", d.config_path, *args],
            stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, pass_fds=fds,
            env=fx.clean_env(d.home), cwd=d.tmpdir)
        stderr.close()
        for s in sockets:
            s.close()
        wait_started(d)

    def test_metrics_socket_named_metrics(self):
        smtp, metrics = listening_socket(), listening_socket()
        smtp_port, metrics_port = smtp.getsockname()[1], metrics.getsockname()[1]
        # no [metrics] listen: the socket is the configuration
        d = fx.Vsmtpd()
        self.addCleanup(d.cleanup)
        self.activate(d, [smtp, metrics], "smtp:metrics")
        self.assertIn(f"metrics on http://127.0.0.1:{metrics_port}/metrics", d.stderr_text())

        status, _, text = fetch(metrics_port)
        self.assertEqual(status, 200)
        before = value(parse(text), "vsmtp_messages_total", result="2xx")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=fx.IO_TIMEOUT) as s:
            s.sendmail("a@example.com", ["b@example.org"], b"Subject: x\r\n\r\nx\r\n")
        text = fetch(metrics_port)[2]
        self.assertEqual(value(parse(text), "vsmtp_messages_total", result="2xx"),
                         before + 1, text)
        promtool_check(self, text)
        self.assertEqual(d.stop(), 0, d.stderr_text())

    def test_only_a_metrics_socket(self):
        """The SMTP listeners are then the configured ones"""
        metrics = listening_socket()
        metrics_port = metrics.getsockname()[1]
        smtp_port = fx.free_port()
        d = fx.Vsmtpd()
        self.addCleanup(d.cleanup)
        self.activate(d, [metrics], "metrics", args=("--listen", f"127.0.0.1:{smtp_port}"))
        with fx.RawClient(smtp_port) as c:
            self.assertEqual(c.greeting.code, 220)
        self.assertEqual(fetch(metrics_port)[0], 200)


class MetricsPluginLabelTest(unittest.TestCase):
    """vsmtp_handler_decisions_total and vsmtp_handler_decision_seconds by
    signal and by the plugin whose handler decided: a C plugin (named by
    its handlers' data), a Python one (named through the override, from
    its bound methods), "default" when every handler had no objection."""

    def test_plugin_label(self):
        metrics_port = fx.free_port()
        d = fx.Vsmtpd(plugins=("ratelimit", "recipients", "maildir"),
                      config=("[ratelimit]\nmessages=1\ninterval=3600\nper=client-address\n"
                              "[recipients]\nusers=bob@example.org\n"
                              f"[metrics]\nlisten=127.0.0.1:{metrics_port}\n"))
        self.addCleanup(d.cleanup)
        d.start()
        with smtplib.SMTP("127.0.0.1", d.port, timeout=fx.IO_TIMEOUT) as s:
            s.ehlo("client.example")
            self.assertEqual(s.mail("a@example.com")[0], 250)
            self.assertEqual(s.rcpt("nobody@example.org")[0], 550)
            self.assertEqual(s.rcpt("bob@example.org")[0], 250)
            self.assertEqual(s.data(b"Subject: x\r\n\r\nx\r\n")[0], 250)
            # the second message from the address: ratelimit refuses it
            self.assertEqual(s.mail("a@example.com")[0], 450)
        text = fetch(metrics_port)[2]
        samples = parse(text)

        def decisions(signal, plugin, result):
            return value(samples, "vsmtp_handler_decisions_total", signal=signal, plugin=plugin,
                         result=result)
        self.assertEqual(decisions("mail-from", "ratelimit", "4xx"), 1, text)
        self.assertEqual(decisions("mail-from", "default", "2xx"), 1, text)
        self.assertEqual(decisions("rcpt-to", "recipients", "5xx"), 1, text)
        self.assertEqual(decisions("rcpt-to", "default", "2xx"), 1, text)
        self.assertEqual(decisions("message-received", "maildir", "2xx"), 1, text)
        self.assertEqual(value(samples, "vsmtp_handler_decision_seconds_count",
                               signal="mail-from", plugin="ratelimit"), 1, text)
        promtool_check(self, text)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=fx.IO_TIMEOUT)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(fx.IO_TIMEOUT)
        self.sock.connect(self.path)


def fetch_unix(path):
    c = UnixHTTPConnection(path)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


class MetricsWorkersTest(unittest.TestCase):
    """[metrics] with [server] workers=2: one endpoint, the master's, whose
    series are the sums of the workers' (each asked over a UNIX socket)"""

    def test_sum_of_two_workers(self):
        metrics_port = fx.free_port()
        d = fx.Vsmtpd(server="workers=2\n",
                      config=f"[metrics]\nlisten=127.0.0.1:{metrics_port}\n")
        self.addCleanup(d.cleanup)
        d.start()
        m = re.search(r"asked over UNIX sockets in (\S+)", d.stderr_text())
        self.assertIsNotNone(m, d.stderr_text())
        sockets = [os.path.join(m.group(1), f"worker-{i}.sock") for i in (1, 2)]

        def scrape():
            try:
                status, _, text = fetch(metrics_port)
            except OSError:
                return None
            return parse(text) if status == 200 else None

        def settled():
            # both workers answer, and the start-up probe's session ended
            samples = scrape()
            return (samples is not None and all(os.path.exists(s) for s in sockets) and
                    value(samples, "vsmtp_connections_accepted_total", listener="default") >= 1 and
                    value(samples, "vsmtp_connections_active", listener="default") == 0)
        deadline = time.monotonic() + fx.START_TIMEOUT
        while not settled():
            self.assertLess(time.monotonic(), deadline, d.stderr_text())
            time.sleep(0.1)
        before = scrape()

        for i in range(10):
            with smtplib.SMTP("127.0.0.1", d.port, timeout=fx.IO_TIMEOUT) as s:
                s.sendmail("a@example.com", ["b@example.org"], f"Subject: {i}\r\n\r\nx\r\n")

        def moved(samples, name, **labels):
            return value(samples, name, **labels) - value(before, name, **labels)
        deadline = time.monotonic() + fx.IO_TIMEOUT
        while moved(scrape(), "vsmtp_sessions_total", listener="default", reason="quit") < 10:
            self.assertLess(time.monotonic(), deadline, d.stderr_text())
            time.sleep(0.1)
        status, _, text = fetch(metrics_port)
        after = parse(text)
        self.assertEqual(moved(after, "vsmtp_messages_total", result="2xx"), 10, text)
        self.assertEqual(moved(after, "vsmtp_connections_accepted_total", listener="default"), 10)
        self.assertEqual(value(after, "vsmtp_connections_active", listener="default"), 0)
        promtool_check(self, text)

        # each worker's own counts add up to the master's
        per_worker = []
        for path in sockets:
            status, worker_text = fetch_unix(path)
            self.assertEqual(status, 200)
            per_worker.append(parse(worker_text))
        for name, labels in (("vsmtp_messages_total", {"result": "2xx"}),
                             ("vsmtp_connections_accepted_total", {"listener": "default"}),
                             ("vsmtp_handler_decision_seconds_count",
                              {"signal": "message-received", "plugin": "maildir"})):
            self.assertEqual(sum(value(w, name, **labels) for w in per_worker),
                             value(after, name, **labels), name)
        self.assertEqual(len(d.delivered()), 10)
        # a worker that does not answer fails the scrape, rather than
        # lowering the sums (a false counter reset for Prometheus)
        with open(f"/proc/{d.proc.pid}/task/{d.proc.pid}/children") as f:
            workers = [int(p) for p in f.read().split()]
        self.assertEqual(len(workers), 2, workers)
        os.kill(workers[1], signal.SIGSTOP)
        try:
            with self.assertRaises(urllib.error.HTTPError) as cm:
                fetch(metrics_port)     # after the master's 5 s per worker
        finally:
            os.kill(workers[1], signal.SIGCONT)
        self.assertEqual(cm.exception.code, 503)
        self.assertEqual(cm.exception.read(), b"1 of 2 workers answered\n")
        self.assertEqual(fetch(metrics_port)[0], 200)
        # no status page: each worker would show its own share as the whole
        with self.assertRaises(urllib.error.HTTPError) as cm:
            fetch(metrics_port, "/")
        self.assertEqual(cm.exception.code, 404)
        self.assertIn(b"no status page with [server] workers above 1", cm.exception.read())
        self.assertEqual(d.stop(), 0, d.stderr_text())
        # the master removes the workers' sockets and their folder
        self.assertFalse(os.path.exists(m.group(1)))


if __name__ == "__main__":
    fx.main()

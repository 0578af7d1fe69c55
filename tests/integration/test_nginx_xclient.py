"""vsmtpd behind nginx's mail proxy, which tells it the client with XCLIENT.

The test runs, each on an ephemeral loopback port:

- vsmtpd, trusting 127.0.0.1 (nginx) with XCLIENT ([server] xclient-trusted),
  with a plain listener and a submission listener (AUTH required);
- the HTTP endpoint nginx's ``auth_http`` asks (Python's http.server in a
  thread): it checks the user's password and names the vsmtpd listener to
  use, the submission one for authenticated users;
- nginx (Debian's nginx and libnginx-mod-mail) with its own configuration,
  pid and logs in a temporary folder, in the foreground (``daemon off``, one
  process running as the test's user), stopped whatever happens.

Clients connect to nginx from 127.0.0.2; vsmtpd must see that address, and
the login name of a client that authenticated with nginx, in the Received
header of the delivered message and in its log.
"""

import http.server
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from vsmtpd_fixture import (Vsmtpd, free_port, main, split_received)

NGINX = "/usr/sbin/nginx"
MAIL_MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/share/nginx/modules")
PROXY_NAME = "proxy.vsmtpd-test.example"
CLIENT_IP = "127.0.0.2"
USERS = {"alice": "wonderland"}
START_TIMEOUT = 15.0

# What docs/deploying.md shows (## XCLIENT): the mail block, with the
# test's ports filled in.
NGINX_CONF = """\
load_module {module};
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{
    worker_connections 64;
}}

mail {{
    server_name {proxy_name};
    auth_http 127.0.0.1:{auth_port}/auth;
    xclient on;

    server {{
        listen 127.0.0.1:{port};
        protocol smtp;
        smtp_auth plain login none;
    }}
}}
"""


def mail_module():
    for d in MAIL_MODULE_DIRS:
        path = os.path.join(d, "ngx_mail_module.so")
        if os.path.exists(path):
            return path
    return None


class AuthHandler(http.server.BaseHTTPRequestHandler):
    """nginx's auth_http protocol: the request's Auth-* headers in, the
    verdict and the backend in the reply's headers."""

    def do_GET(self):
        server = self.server
        server.requests.append(dict(self.headers))
        method = self.headers.get("Auth-Method", "")
        user = self.headers.get("Auth-User", "")
        password = self.headers.get("Auth-Pass", "")
        self.send_response(200)
        if method == "none":
            self.send_header("Auth-Status", "OK")
            self.send_header("Auth-Server", "127.0.0.1")
            self.send_header("Auth-Port", str(server.smtp_port))
        elif USERS.get(user) == password:
            self.send_header("Auth-Status", "OK")
            self.send_header("Auth-Server", "127.0.0.1")
            self.send_header("Auth-Port", str(server.submission_port))
        else:
            self.send_header("Auth-Status", "Invalid login or password")
            # nginx 1.22 closes the connection on "Auth-Wait: 0"; it
            # answers the client 535 after waiting a second
            self.send_header("Auth-Wait", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class NginxXclientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vsmtpd-nginx-")
        cls.nginx = None
        cls.auth = None
        cls.daemon = None
        try:
            cls.start_all()
        except BaseException:
            cls.stop_all()
            raise

    @classmethod
    def start_all(cls):
        module = mail_module()
        if not os.access(NGINX, os.X_OK) or module is None:
            raise unittest.SkipTest("nginx with its mail module is not installed "
                                    "(Debian packages nginx, libnginx-mod-mail)")

        cls.submission_port = free_port()
        cls.daemon = Vsmtpd(options=(
            "server.xclient-trusted=127.0.0.1",
            f"server.listen-submission=127.0.0.1:{cls.submission_port}"))
        cls.daemon.start()

        cls.auth = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AuthHandler)
        cls.auth.requests = []
        cls.auth.smtp_port = cls.daemon.port
        cls.auth.submission_port = cls.submission_port
        threading.Thread(target=cls.auth.serve_forever, daemon=True).start()

        cls.port = free_port()
        conf = os.path.join(cls.tmp, "nginx.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(NGINX_CONF.format(module=module, tmp=cls.tmp, proxy_name=PROXY_NAME,
                                      auth_port=cls.auth.server_address[1], port=cls.port))
        log = open(os.path.join(cls.tmp, "stderr.log"), "wb")
        # -e: the error log before the configuration is read (not /var/log)
        cls.nginx = subprocess.Popen(
            [NGINX, "-c", conf, "-p", cls.tmp, "-e", os.path.join(cls.tmp, "error.log")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if cls.nginx.poll() is not None:
                raise AssertionError(f"nginx exited ({cls.nginx.returncode}):\n"
                                     + cls.nginx_log())
            try:
                with socket.create_connection(("127.0.0.1", cls.port), 0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("nginx does not listen:\n" + cls.nginx_log())
                time.sleep(0.05)

    @classmethod
    def nginx_log(cls):
        text = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(cls.tmp, name), encoding="utf-8", errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    @classmethod
    def stop_all(cls):
        try:
            if cls.nginx is not None and cls.nginx.poll() is None:
                cls.nginx.terminate()
                try:
                    cls.nginx.wait(10)
                except subprocess.TimeoutExpired:
                    cls.nginx.kill()
                    cls.nginx.wait()
        finally:
            if cls.auth is not None:
                cls.auth.shutdown()
                cls.auth.server_close()
            if cls.daemon is not None:
                status = cls.daemon.stop()
                log = cls.daemon.stderr_text()
                cls.daemon.cleanup()
                if status != 0:
                    raise AssertionError(f"vsmtpd exit status {status}:\n{log}")
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    def setUp(self):
        self.daemon.clear_maildir()
        self.auth.requests.clear()

    def smtp(self):
        client = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example",
                              source_address=(CLIENT_IP, 0), timeout=30)
        self.addCleanup(client.close)
        return client

    def delivered(self):
        # nginx's 250 to the client is vsmtpd's own, after delivery
        files = self.daemon.delivered()
        self.assertEqual(len(files), 1, "expected one delivered message\n"
                         + self.daemon.stderr_text() + self.nginx_log())
        header, body = split_received(files[0])
        return re.sub(r"\r\n[ \t]+", " ", header.decode("ascii")), body

    def assert_from_client(self, protocol):
        """The one message delivered names the client (its HELO, its
        address), not nginx, and @protocol; returns its body."""
        received, body = self.delivered()
        self.assertTrue(received.startswith("Received: from client.example ("), received)
        self.assertIn(f"[{CLIENT_IP}])", received)
        self.assertNotIn("127.0.0.1", received)
        self.assertIn(f" with {protocol} id ", received)
        return body

    def test_authenticated_client(self):
        client = self.smtp()
        client.ehlo()
        self.assertIn("auth", client.esmtp_features)
        client.login("alice", "wonderland")
        refused = client.sendmail("alice@example.org", ["bob@example.net"],
                                  b"Subject: through nginx\r\n\r\nHello.\r\n")
        self.assertEqual(refused, {})
        client.quit()

        # XCLIENT LOGIN: authenticated, on a listener that requires it
        body = self.assert_from_client("ESMTPA")
        self.assertTrue(body.endswith(b"Hello.\r\n"), body)
        log = self.daemon.stderr_text()
        self.assertRegex(log, r"XCLIENT from \[127\.0\.0\.1\]: client=\S*\[127\.0\.0\.2\]:\d+ "
                              r"helo=\(none\) login=alice")
        self.assertIn("client=[127.0.0.2] from=<alice@example.org>", log)
        self.assertEqual(self.auth.requests[0].get("Client-IP"), CLIENT_IP)

    def test_unauthenticated_client(self):
        client = self.smtp()
        refused = client.sendmail("carol@example.org", ["dave@example.net"],
                                  b"Subject: no auth\r\n\r\nHi.\r\n")
        self.assertEqual(refused, {})
        client.quit()

        self.assert_from_client("ESMTP")
        self.assertEqual(self.auth.requests[0].get("Auth-Method"), "none")

    def test_bad_password_never_reaches_vsmtpd(self):
        before = self.daemon.stderr_text().count("XCLIENT from")
        client = self.smtp()
        client.ehlo()
        with self.assertRaises(smtplib.SMTPAuthenticationError):
            client.login("alice", "queen-of-hearts")
        client.quit()
        self.assertEqual(self.auth.requests[0].get("Auth-User"), "alice")
        self.assertEqual(self.daemon.stderr_text().count("XCLIENT from"), before)


if __name__ == "__main__":
    main()

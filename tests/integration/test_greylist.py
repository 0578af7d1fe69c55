#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The greylist plugin, on the in-process store and on a private Redis.

A new triplet (client address, sender, recipient) gets 451 4.7.1 at RCPT
TO, and so does a retry before [greylist] delay (1 s here); the first
retry after it passes (250), and the triplet stays passed. Another
recipient or sender is a new triplet. With Redis, a second vsmtpd sharing
it passes the triplet the first one saw; with Redis gone, 451 4.3.0.
"""

import os
import shutil
import smtplib
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsmtpd_fixture as fx  # noqa: E402
from vsmtpd_fixture import Vsmtpd  # noqa: E402
from test_redis import REDIS, Redis  # noqa: E402

GREYLIST = "[greylist]\ndelay=1\nexpiry=3600\n"


class GreylistTest(unittest.TestCase):
    redis_config = ""

    def setUp(self):
        self.daemon = self.start(self.redis_config)

    def start(self, redis_config):
        d = Vsmtpd(plugins=("greylist", "maildir"), config=GREYLIST + redis_config)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def rcpt(self, daemon, sender, recipient):
        s = smtplib.SMTP("127.0.0.1", daemon.port, timeout=fx.IO_TIMEOUT)
        try:
            s.ehlo("client.example")
            self.assertEqual(s.mail(sender)[0], 250)
            code, text = s.rcpt(recipient)
            if code == 250:
                self.assertEqual(s.data(b"Subject: grey\r\n\r\nx\r\n")[0], 250)
            s.quit()
        finally:
            s.close()
        return code, text.decode()

    def assertGreylisted(self, reply):
        self.assertEqual(reply[0], 451, reply)
        self.assertTrue(reply[1].startswith("4.7.1 Greylisted, try again in"), reply)

    def test_triplet(self):
        self.assertGreylisted(self.rcpt(self.daemon, "a@client.example", "r@example.org"))
        # too early (the delay is 1 s: this retry comes before it)
        self.assertGreylisted(self.rcpt(self.daemon, "A@Client.example", "r@example.org"))
        time.sleep(1.2)
        self.assertEqual(self.rcpt(self.daemon, "a@client.example", "R@example.org")[0], 250)
        # on the pass list now
        self.assertEqual(self.rcpt(self.daemon, "a@client.example", "r@example.org")[0], 250)
        # another triplet waits on its own
        self.assertGreylisted(self.rcpt(self.daemon, "a@client.example", "s@example.org"))
        self.assertGreylisted(self.rcpt(self.daemon, "b@client.example", "r@example.org"))
        self.assertEqual(len(self.daemon.delivered()), 2)
        self.assertIn("greylist: 127.0.0.1 a@client.example r@example.org: passed",
                      self.daemon.stderr_text())


@unittest.skipUnless(os.access(REDIS, os.X_OK), "redis-server is not installed")
class RedisGreylistTest(GreylistTest):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsmtpd-greylist-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.redis = Redis(self.tmp)
        self.addCleanup(self.redis.kill)
        self.redis.start()
        self.redis_config = f"[redis]\nurl=redis://127.0.0.1:{self.redis.port}\n"
        super().setUp()

    def test_shared_and_down(self):
        other = self.start(self.redis_config)
        self.assertGreylisted(self.rcpt(self.daemon, "a@client.example", "r@example.org"))
        time.sleep(1.2)
        # the retry lands on the other instance: it passes
        self.assertEqual(self.rcpt(other, "a@client.example", "r@example.org")[0], 250)
        self.redis.kill()
        code, text = self.rcpt(other, "a@client.example", "r@example.org")
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith("4.3.0"), text)
        self.assertIsNone(other.proc.poll())


if __name__ == "__main__":
    fx.main()

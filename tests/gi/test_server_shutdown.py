#!/usr/bin/python3
"""Vsmtp.Server.shorten_shutdown from Python: a server in this process, a
client thread in the middle of a transaction; shutdown_async with a long
grace period, then shorten_shutdown: a later deadline is not taken, a
sooner one (0) closes the session at once with 421 4.3.2 and the shutdown
completes. Outside a shutdown it does nothing.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import os
import sys
import threading

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import GLib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import GUARD_SECONDS, HOSTNAME, ServerTestCase  # noqa: E402


class ShortenShutdownTest(ServerTestCase):

    def test_only_a_sooner_deadline_is_taken(self):
        self.assertFalse(self.server.shorten_shutdown(0), "not shutting down")
        seen = {}
        done = threading.Event()
        shortened = threading.Event()

        def on_done(server, result):
            seen["finished"] = server.shutdown_finish(result)
            done.set()

        def in_main_loop():
            self.server.shutdown_async(600, None, on_done)
            seen["later"] = self.server.shorten_shutdown(900)
            seen["same"] = self.server.shorten_shutdown(600)
            seen["sooner"] = self.server.shorten_shutdown(0)
            seen["again"] = self.server.shorten_shutdown(0)
            shortened.set()
            return GLib.SOURCE_REMOVE

        def client():
            s = self.smtp()
            s.ehlo()
            self.assertEqual(s.mail("sender@gi-test.example")[0], 250)
            GLib.idle_add(in_main_loop)
            self.assertTrue(shortened.wait(GUARD_SECONDS))
            line = s.file.readline()
            rest = s.file.read()
            s.close()
            self.assertTrue(done.wait(GUARD_SECONDS))
            return line, rest

        line, rest = self.run_client(client)
        self.assertEqual(line, b"421 4.3.2 " + HOSTNAME.encode() +
                         b" Service shutting down, closing connection\r\n")
        self.assertEqual(rest, b"")
        self.assertEqual(seen, dict(later=False, same=False, sooner=True, again=False,
                                    finished=True))
        self.assertEqual(self.server.get_n_sessions(), 0)


if __name__ == "__main__":
    fx.main()

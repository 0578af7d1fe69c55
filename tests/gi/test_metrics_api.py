#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The metrics API through GObject Introspection, as a Python plugin uses
it: its own counter and histogram in the server's registry, updated and
rendered with the server's metrics.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import os
import sys
import unittest

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)


class MetricsApiTest(unittest.TestCase):
    def test_plugin_metrics(self):
        server = Vsmtp.Server.new()
        metrics = server.get_metrics()
        checks = metrics.register_counter("myplugin_checks_total", "Checks done", ["result"])
        latency = metrics.register_histogram("myplugin_check_seconds", "Check time", None,
                                             [0.1, 1.0])
        self.assertIs(metrics.register_counter("myplugin_checks_total", "x", ["result"]),
                      checks)
        checks.inc(["ok"])
        checks.add(["ok"], 2)
        checks.inc(['say "hi"'])
        latency.observe(None, 0.5)
        self.assertEqual(checks.get_value(["ok"]), 3)
        self.assertEqual(latency.get_metric_type(), Vsmtp.MetricType.HISTOGRAM)

        text = metrics.render()
        self.assertIn("# TYPE vsmtp_connections_accepted_total counter\n", text)
        self.assertTrue(text.endswith(
            "# HELP myplugin_checks_total Checks done\n"
            "# TYPE myplugin_checks_total counter\n"
            'myplugin_checks_total{result="ok"} 3\n'
            'myplugin_checks_total{result="say \\"hi\\""} 1\n'
            "# HELP myplugin_check_seconds Check time\n"
            "# TYPE myplugin_check_seconds histogram\n"
            'myplugin_check_seconds_bucket{le="0.1"} 0\n'
            'myplugin_check_seconds_bucket{le="1"} 1\n'
            'myplugin_check_seconds_bucket{le="+Inf"} 1\n'
            "myplugin_check_seconds_sum 0.5\n"
            "myplugin_check_seconds_count 1\n"), text)


if __name__ == "__main__":
    fx.main()

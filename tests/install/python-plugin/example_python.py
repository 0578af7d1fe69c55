# example_python.py: a vsmtpd plugin in Python (tests/install/test_install.py;
# docs/plugins.md). Nothing to build: this file and example_python.plugin go
# into a folder of `[plugins] path`, or into vsmtpd's plugin folder
# (`pkg-config --variable=plugindir libvsmtp-1.0`).
#
# RCPT TO:<python@example.org> gets `554 5.7.1 Refused by the Python plugin`.
# RCPT TO:<python-raises@example.org> makes the handler raise: the PyGObject
# override gi.overrides.Vsmtp, installed with libvsmtp, turns that into
# `451 4.3.0` (without it the exception would be printed and the command let
# through). Every other recipient gets no opinion.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi
gi.require_version('Vsmtp', '1.0')
from gi.repository import GObject, Vsmtp  # noqa: E402


class ExamplePythonPlugin(GObject.Object, Vsmtp.Activatable):
    server = GObject.Property(type=Vsmtp.Server)

    def do_activate(self):
        self.handler = self.server.connect('new-session', self.on_new_session)

    def do_deactivate(self):
        self.server.disconnect(self.handler)

    def on_new_session(self, server, session):
        session.connect('rcpt-to', self.on_rcpt_to)

    def on_rcpt_to(self, session, recipient, parameters):
        address = recipient.to_string().lower()
        if address == 'python@example.org':
            return Vsmtp.Reply.new(554, '5.7.1', 'Refused by the Python plugin')
        if address == 'python-raises@example.org':
            raise RuntimeError('example_python raises on purpose')
        return Vsmtp.Reply.new_continue()   # no opinion: the next handler decides

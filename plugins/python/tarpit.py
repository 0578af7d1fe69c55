# tarpit.py: slows down RCPT TO, an example of a deferred decision
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Answers every RCPT TO after a delay.

Tarpitting makes address harvesting and dictionary attacks slow. The
plugin shows how a handler defers its decision: it returns a pending
Vsmtp.Reply at once, the session waits (other sessions go on), and a GLib
timeout completes the reply later.

    [tarpit]
    delay=1000      # milliseconds, 0 to 60000; keep it below
                    # [server] decision-timeout, or the client gets 451

A bad delay stops vsmtpd at start with one line and exit status 1, the
problem told the way the daemon tells its own ("is not a number", "is out
of range (0 to 60000 milliseconds)").

Enable it after the plugins that may reject a recipient (recipients, ...):
the first plugin that decides ends the emission, so a recipient they reject
is answered at once, and the tarpit accepts the others with
"250 2.1.5 Ok" once the delay has passed.
"""

import gi
gi.require_version('Vsmtp', '1.0')
from gi.repository import GLib, GObject, Vsmtp

LOG_DOMAIN = 'vsmtpd-tarpit'
DEFAULT_DELAY = 1000    # milliseconds
MAX_DELAY = 60000


def log_info(message):
    GLib.log_variant(LOG_DOMAIN, GLib.LogLevelFlags.LEVEL_INFO,
                     GLib.Variant('a{sv}', {'MESSAGE': GLib.Variant('s', message)}))


class TarpitPlugin(GObject.Object, Vsmtp.Activatable):
    __gtype_name__ = 'VsmtpdTarpitPlugin'

    server = GObject.Property(type=Vsmtp.Server)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._handler = 0
        self._timeouts = set()
        self.delay = DEFAULT_DELAY

    def do_declare_config(self, group):
        # vsmtpd refuses a value that is no number or out of range, naming
        # the file, [tarpit] and delay, before configure is called
        group.add_integer('delay', DEFAULT_DELAY, 0, MAX_DELAY, 'milliseconds',
                          'Milliseconds before RCPT TO is answered')

    def do_configure(self, group):
        self.delay = group.get_integer('delay')
        return True

    def do_activate(self):
        self._handler = self.server.connect('new-session', self._on_new_session)
        log_info(f'tarpit: RCPT TO answered after {self.delay} ms')

    def do_deactivate(self):
        if self._handler:
            self.server.disconnect(self._handler)
            self._handler = 0
        for source_id in self._timeouts:
            GLib.source_remove(source_id)
        self._timeouts.clear()

    def _on_new_session(self, server, session):
        session.connect('rcpt-to', self._on_rcpt_to)

    def _on_rcpt_to(self, session, recipient, parameters):
        reply = Vsmtp.Reply.new_pending()
        session_id = session.get_id()
        address = recipient.to_string()
        source_id = 0

        def answer():
            self._timeouts.discard(source_id)
            # The delay is all a tarpit adds: the next handler (or the
            # standard reply) decides whether the recipient is accepted.
            # False if the decision was cancelled meanwhile.
            if reply.complete_continue():
                log_info(f'{session_id}: tarpit: {address} passed on '
                         f'after {self.delay} ms')
            return GLib.SOURCE_REMOVE

        def cancelled(_cancellable):
            # the client left or the deadline passed: stop waiting
            if source_id in self._timeouts:
                self._timeouts.discard(source_id)
                GLib.source_remove(source_id)

        source_id = GLib.timeout_add(self.delay, answer)
        self._timeouts.add(source_id)
        reply.get_cancellable().connect(cancelled)
        return reply

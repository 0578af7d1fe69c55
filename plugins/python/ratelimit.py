# ratelimit.py: a per-sender rate limit for vsmtpd
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Refuses a sender that sent too many messages recently.

Configuration (all optional):

    [ratelimit]
    messages=30     # messages a sender may send per interval, at least 1
    interval=60     # seconds, at least 1

A bad value stops vsmtpd at start with one line and exit status 1, the
problem told the way the daemon tells its own ("is not a number", "is out
of range (at least 1)").

A message counts when its end of data is reached (message-received),
whatever the delivery plugins then decide. Past the limit, MAIL FROM gets
"450 4.7.1" until the oldest message of the window is older than the
interval. Senders are compared case-insensitively; the null sender <> is
one sender like any other. The counters live in memory: a restart forgets
them.
"""

import collections

import gi
gi.require_version('Vsmtp', '1.0')
from gi.repository import GLib, GObject, Vsmtp

LOG_DOMAIN = 'vsmtpd-ratelimit'


def log_info(message):
    """One INFO line through GLib's structured log (vsmtpd's writer)."""
    GLib.log_variant(LOG_DOMAIN, GLib.LogLevelFlags.LEVEL_INFO,
                     GLib.Variant('a{sv}', {'MESSAGE': GLib.Variant('s', message)}))


def _sender_key(address):
    if address is None or address.is_null():
        return '<>'
    return address.to_string().lower()


class RateLimitPlugin(GObject.Object, Vsmtp.Activatable):
    __gtype_name__ = 'VsmtpdRateLimitPlugin'

    server = GObject.Property(type=Vsmtp.Server)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._seen = {}         # sender -> deque of monotonic times (µs)
        self._handler = 0
        self.limit = 30
        self.interval = 60 * 1000000

    def do_declare_config(self, group):
        # vsmtpd refuses a value that is no number or out of range, naming
        # the file, [ratelimit] and the key, before configure is called
        group.add_integer('messages', 30, 1, GLib.MAXINT64, None,
                          'Messages a sender may send per interval')
        group.add_integer('interval', 60, 1, GLib.MAXINT64, 'seconds',
                          'The interval, in seconds')

    def do_configure(self, group):
        self.limit = group.get_integer('messages')
        self.interval = group.get_integer('interval') * 1000000
        return True

    def do_activate(self):
        self._handler = self.server.connect('new-session', self._on_new_session)
        log_info(f'ratelimit: at most {self.limit} messages per sender '
                 f'in {self.interval // 1000000} s')

    def do_deactivate(self):
        if self._handler:
            self.server.disconnect(self._handler)
            self._handler = 0
        self._seen.clear()

    def _on_new_session(self, server, session):
        session.connect('mail-from', self._on_mail_from)
        session.connect('message-received', self._on_message_received)

    def _recent(self, key, now):
        times = self._seen.get(key)
        if times is None:
            return None
        while times and now - times[0] >= self.interval:
            times.popleft()
        if not times:
            del self._seen[key]
            return None
        return times

    def _on_mail_from(self, session, sender, parameters):
        now = GLib.get_monotonic_time()
        times = self._recent(_sender_key(sender), now)
        if times is None or len(times) < self.limit:
            return Vsmtp.Reply.new_continue()  # no opinion: the next handler decides
        wait = (times[0] + self.interval - now) // 1000000 + 1
        log_info(f'{session.get_id()}: ratelimit: {len(times)} messages from '
                 f'{_sender_key(sender)} in the last {self.interval // 1000000} s')
        return Vsmtp.Reply.new(450, '4.7.1',
                               'Too many messages from this sender, '
                               f'try again in {wait} s')

    def _on_message_received(self, session, message):
        envelope = message.get_envelope()
        key = _sender_key(envelope.get_sender() if envelope else None)
        now = GLib.get_monotonic_time()
        times = self._recent(key, now)
        if times is None:
            times = self._seen[key] = collections.deque()
        times.append(now)
        return Vsmtp.Reply.new_continue()  # counted; delivery is for others

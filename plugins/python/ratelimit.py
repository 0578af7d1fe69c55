# ratelimit.py: a rate limit for vsmtpd, on the server's shared store
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Refuses a client that sent too many messages recently.

Configuration (all optional):

    [ratelimit]
    messages=30     # messages per interval, at least 1
    interval=60     # seconds, at least 1
    per=sender      # what is limited, one or more of: sender,
                    # sender-domain, client-address, user
    on-store-error=tempfail   # or accept: when the store cannot answer

A bad value stops vsmtpd at start with one line and exit status 1, the
problem told the way the daemon tells its own ("is not a number", "is out
of range (at least 1)").

A transaction counts when its MAIL FROM is let through (by this plugin:
another plugin may still refuse it). Past the limit, MAIL FROM gets
"450 4.7.1" until the oldest transaction of the window is older than the
interval. With several kinds in per=, each is limited on its own, in the
order given, and the first over its limit refuses (those before it have
counted the transaction). Senders are compared case-insensitively; the
null sender <> is one sender like any other; "user" limits authenticated
users only.

The counts live in the server's store (Vsmtp.Server.get_store): in the
process by default, in Redis with [redis] url, shared by every vsmtpd that
uses the same database (keys PREFIX "ratelimit:" KIND ":" VALUE, sorted
sets). When the store cannot answer (Redis down or slow), MAIL FROM gets
"451 4.3.0" (on-store-error=tempfail) or the transaction goes on
(accept).
"""

import gi
gi.require_version('Vsmtp', '1.0')
from gi.repository import GLib, GObject, Gio, Vsmtp

LOG_DOMAIN = 'vsmtpd-ratelimit'
KINDS = ('sender', 'sender-domain', 'client-address', 'user')


def log(level, message):
    """One line through GLib's structured log (vsmtpd's writer)."""
    GLib.log_variant(LOG_DOMAIN, level,
                     GLib.Variant('a{sv}', {'MESSAGE': GLib.Variant('s', message)}))


def log_info(message):
    log(GLib.LogLevelFlags.LEVEL_INFO, message)


def _sender_key(address):
    if address is None or address.is_null():
        return '<>'
    return address.to_string().lower()


def _client_address(session):
    address = session.get_remote_address()
    if isinstance(address, Gio.InetSocketAddress):
        return address.get_address().to_string()
    return None     # a UNIX-domain socket: no address to limit


def _values(kind, session, sender):
    """The value of @kind for this transaction, or None if it has none."""
    if kind == 'sender':
        return _sender_key(sender)
    if kind == 'sender-domain':
        key = _sender_key(sender)
        return key.rpartition('@')[2] if '@' in key else key
    if kind == 'client-address':
        return _client_address(session)
    if kind == 'user':
        return session.get_authenticated_user()
    return None


class RateLimitPlugin(GObject.Object, Vsmtp.Activatable):
    __gtype_name__ = 'VsmtpdRateLimitPlugin'

    server = GObject.Property(type=Vsmtp.Server)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._handler = 0
        self.limit = 30
        self.interval = 60 * 1000000
        self.per = ['sender']
        self.tempfail = True

    def do_declare_config(self, group):
        # vsmtpd refuses a value that is no number or out of range, naming
        # the file, [ratelimit] and the key, before configure is called
        group.add_integer('messages', 30, 1, GLib.MAXINT64, None,
                          'Messages that may be sent per interval')
        group.add_integer('interval', 60, 1, GLib.MAXINT64, 'seconds',
                          'The interval, in seconds')
        group.add_string_list('per', 'sender',
                              'What is limited: sender, sender-domain, '
                              'client-address, user')
        group.add_choice('on-store-error', 'tempfail', ['tempfail', 'accept'],
                         'When the store cannot answer: 451 4.3.0, or go on')

    def do_configure(self, group):
        self.limit = group.get_integer('messages')
        self.interval = group.get_integer('interval') * 1000000
        per = group.dup_string_list('per') or ['sender']
        for kind in per:
            if kind not in KINDS:
                raise ValueError(f'[ratelimit] per: "{kind}" is none of '
                                 + ', '.join(KINDS))
        self.per = per
        self.tempfail = group.dup_string('on-store-error') != 'accept'
        return True

    def do_activate(self):
        self._handler = self.server.connect('new-session', self._on_new_session)
        log_info(f'ratelimit: at most {self.limit} messages per '
                 f'{"+".join(self.per)} in {self.interval // 1000000} s '
                 f'({type(self.server.get_store()).__name__})')

    def do_deactivate(self):
        if self._handler:
            self.server.disconnect(self._handler)
            self._handler = 0

    def _on_new_session(self, server, session):
        session.connect('mail-from', self._on_mail_from)

    def _on_mail_from(self, session, sender, parameters):
        checks = [(kind, value) for kind in self.per
                  if (value := _values(kind, session, sender)) is not None]
        if not checks:
            return Vsmtp.Reply.new_continue()

        store = self.server.get_store()
        reply = Vsmtp.Reply.new_pending()
        session_id = session.get_id()
        interval_s = self.interval // 1000000

        def check(index):
            kind, value = checks[index]
            store.rate_limit_async(f'ratelimit:{kind}:{value}', self.limit,
                                   self.interval, reply.get_cancellable(),
                                   done, index)

        def done(_store, result, index):
            kind, value = checks[index]
            try:
                allowed, retry_after = store.rate_limit_finish(result)
            except GLib.Error as e:
                if e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
                    return
                log(GLib.LogLevelFlags.LEVEL_MESSAGE,
                    f'{session_id}: ratelimit: the store failed ({e.message}): '
                    + ('451 4.3.0' if self.tempfail else 'accepted'))
                if self.tempfail:
                    reply.complete(451, '4.3.0',
                                   'Rate limit unavailable, try again later')
                else:
                    reply.complete_continue()
                return
            if not allowed:
                wait = retry_after // 1000000 + 1
                log_info(f'{session_id}: ratelimit: {self.limit} messages from '
                         f'{value} in the last {interval_s} s')
                what = 'sender' if kind.startswith('sender') else \
                       'address' if kind == 'client-address' else 'user'
                reply.complete(450, '4.7.1',
                               f'Too many messages from this {what}, '
                               f'try again in {wait} s')
            elif index + 1 < len(checks):
                check(index + 1)
            else:
                reply.complete_continue()  # no opinion: the next handler decides

        check(0)
        return reply

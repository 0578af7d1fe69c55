# greylist.py: greylisting for vsmtpd, on the server's shared store
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Answers a triplet seen for the first time "451 4.7.1", until it comes
back after a delay.

A triplet is the client's address, the sender and the recipient (both
compared case-insensitively). Its first RCPT TO gets "451 4.7.1
Greylisted, try again in N s", and so does every retry before the delay
has passed; the first retry after it passes, and the triplet goes on the
pass list, where each use keeps it. A triplet that does not come back
within the expiry is forgotten.

    [greylist]
    delay=300       # seconds before a retry passes, at least 1
    expiry=14400    # seconds a new triplet waits for its retry
    pass=3024000    # seconds a passed triplet stays passed after its last use
    on-store-error=tempfail   # or accept: when the store cannot answer

The state lives in the server's store (Vsmtp.Server.get_store), in
memory or, with [redis] url, in Redis, shared by every vsmtpd using it:
sets PREFIX "greylist:seen", "greylist:wait" and "greylist:pass" whose
members ("ADDRESS SENDER RECIPIENT") expire on their own. When the store
cannot answer, RCPT TO gets "451 4.3.0" (tempfail) or passes (accept).
"""

import gi
gi.require_version('Vsmtp', '1.0')
from gi.repository import GLib, GObject, Gio, Vsmtp

LOG_DOMAIN = 'vsmtpd-greylist'
SECOND = 1000000


def log(level, message):
    """One line through GLib's structured log (vsmtpd's writer)."""
    GLib.log_variant(LOG_DOMAIN, level,
                     GLib.Variant('a{sv}', {'MESSAGE': GLib.Variant('s', message)}))


def _address(address):
    if address is None or address.is_null():
        return '<>'
    return address.to_string().lower()


class GreylistPlugin(GObject.Object, Vsmtp.Activatable):
    __gtype_name__ = 'VsmtpdGreylistPlugin'

    server = GObject.Property(type=Vsmtp.Server)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._handler = 0
        self.delay = 300
        self.expiry = 14400
        self.passed = 3024000
        self.tempfail = True

    def do_declare_config(self, group):
        group.add_integer('delay', 300, 1, GLib.MAXINT32, 'seconds',
                          'Seconds before a retry passes')
        group.add_integer('expiry', 14400, 1, GLib.MAXINT32, 'seconds',
                          'Seconds a new triplet waits for its retry')
        group.add_integer('pass', 3024000, 1, GLib.MAXINT32, 'seconds',
                          'Seconds a passed triplet stays passed after its last use')
        group.add_choice('on-store-error', 'tempfail', ['tempfail', 'accept'],
                         'When the store cannot answer: 451 4.3.0, or pass')

    def do_configure(self, group):
        self.delay = group.get_integer('delay')
        self.expiry = group.get_integer('expiry')
        self.passed = group.get_integer('pass')
        if self.expiry <= self.delay:
            raise ValueError('[greylist] expiry: must be longer than the delay '
                             f'({self.delay} s)')
        self.tempfail = group.dup_string('on-store-error') != 'accept'
        return True

    def do_activate(self):
        self._handler = self.server.connect('new-session', self._on_new_session)
        log(GLib.LogLevelFlags.LEVEL_INFO,
            f'greylist: retries pass after {self.delay} s '
            f'({type(self.server.get_store()).__name__})')

    def do_deactivate(self):
        if self._handler:
            self.server.disconnect(self._handler)
            self._handler = 0

    def _on_new_session(self, server, session):
        session.connect('rcpt-to', self._on_rcpt_to)

    def _on_rcpt_to(self, session, recipient, parameters):
        remote = session.get_remote_address()
        if not isinstance(remote, Gio.InetSocketAddress):
            return Vsmtp.Reply.new_continue()
        envelope = session.get_envelope()
        triplet = ' '.join((remote.get_address().to_string(),
                            _address(envelope.get_sender() if envelope else None),
                            _address(recipient)))
        store = self.server.get_store()
        reply = Vsmtp.Reply.new_pending()
        cancellable = reply.get_cancellable()
        session_id = session.get_id()

        def failed(error):
            if error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
                return
            log(GLib.LogLevelFlags.LEVEL_MESSAGE,
                f'{session_id}: greylist: the store failed ({error.message}): '
                + ('451 4.3.0' if self.tempfail else 'passed'))
            if self.tempfail:
                reply.complete(451, '4.3.0', 'Greylisting unavailable, try again later')
            else:
                reply.complete_continue()

        def greylisted(wait):
            log(GLib.LogLevelFlags.LEVEL_INFO, f'{session_id}: greylist: {triplet}: 451')
            reply.complete(451, '4.7.1', f'Greylisted, try again in {wait} s')

        def pass_on(_store, result, _data):
            try:
                store.set_add_finish(result)
            except GLib.Error as e:
                return failed(e)
            reply.complete_continue()

        def on_pass_list(_store, result, _data):
            try:
                found = store.set_contains_finish(result)
            except GLib.Error as e:
                return failed(e)
            if found:   # kept on the list by its use
                store.set_add_async('greylist:pass', triplet, self.passed * SECOND,
                                    cancellable, pass_on, None)
            else:
                store.set_contains_async('greylist:seen', triplet, cancellable,
                                         on_seen, None)

        def on_seen(_store, result, _data):
            try:
                seen = store.set_contains_finish(result)
            except GLib.Error as e:
                return failed(e)
            if seen:
                store.set_contains_async('greylist:wait', triplet, cancellable,
                                         on_wait, None)
            else:
                store.set_add_async('greylist:wait', triplet, self.delay * SECOND,
                                    cancellable, on_first_added, None)

        def on_first_added(_store, result, _data):
            try:
                store.set_add_finish(result)
            except GLib.Error as e:
                return failed(e)
            store.set_add_async('greylist:seen', triplet, self.expiry * SECOND,
                                cancellable, on_first_seen, None)

        def on_first_seen(_store, result, _data):
            try:
                store.set_add_finish(result)
            except GLib.Error as e:
                return failed(e)
            greylisted(self.delay)

        def on_wait(_store, result, _data):
            try:
                waiting = store.set_contains_finish(result)
            except GLib.Error as e:
                return failed(e)
            if waiting:
                greylisted(self.delay)
            else:
                log(GLib.LogLevelFlags.LEVEL_INFO,
                    f'{session_id}: greylist: {triplet}: passed')
                store.set_add_async('greylist:pass', triplet, self.passed * SECOND,
                                    cancellable, pass_on, None)

        store.set_contains_async('greylist:pass', triplet, cancellable, on_pass_list, None)
        return reply

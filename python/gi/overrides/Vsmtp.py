# Vsmtp.py: PyGObject overrides for libvsmtp
#
# SPDX-License-Identifier: LGPL-2.1-or-later

"""Containment of Python signal handlers.

A decision handler (one connected to a Vsmtp.Session signal that returns a
Vsmtp.Reply) fails closed in C already: a handler that raises reaches C as
NULL, and the session answers "451 4.3.0" and logs the failure, whether or
not this override was found. With this override, every handler connected
to a Vsmtp.Session, Vsmtp.Server or Vsmtp.Extension signal also runs
inside a guard that says more:

- if it raises, the traceback is logged (GLib log domain "vsmtp-python",
  level WARNING, through the program's log writer: vsmtpd's stderr or the
  journal) with the handler's module and name, and for a decision signal
  the command gets "451 4.3.0" (Vsmtp.Reply.new_temporary_failure);
- if it returns None or something that is not a Vsmtp.Reply, the same
  happens: "no opinion" is Vsmtp.Reply.new_continue(), and a handler that
  returns True by mistake must not accept mail;
- if it runs longer than SLOW_HANDLER_SECONDS, a warning names it: handlers
  run on the main loop, so every other session waited that long. Blocking
  work (a slow lookup, time.sleep) belongs in a thread that completes a
  pending reply with GLib.idle_add, or in an async GIO call.

"Raises" includes BaseException: SystemExit or KeyboardInterrupt in a
handler must not stop the server nor let the command through.

The guard is transparent otherwise: handler ids, disconnect_by_func() and
handler_block_by_func() work with the function that was connected.
"""

import sys
import time
import traceback

from gi.repository import GLib, GObject

from ..module import get_introspection_module
from ..overrides import override

Vsmtp = get_introspection_module('Vsmtp')

__all__ = []

LOG_DOMAIN = 'vsmtp-python'
_FAILURE_TEXT = 'Temporary failure, try again later'
SLOW_HANDLER_SECONDS = 0.2


def _log_warning(message, session=None):
    fields = {'MESSAGE': GLib.Variant('s', message)}
    if session is not None:
        fields['VSMTP_SESSION_ID'] = GLib.Variant('s', session.get_id() or '')
    try:
        GLib.log_variant(LOG_DOMAIN, GLib.LogLevelFlags.LEVEL_WARNING,
                         GLib.Variant('a{sv}', fields))
    except Exception:
        # Never let logging itself escape into the C caller
        print(message, file=sys.stderr)


def _describe(func):
    module = getattr(func, '__module__', None) or '?'
    name = getattr(func, '__qualname__', None) or repr(func)
    return f'{module}.{name}'


def _returns_reply(instance, detailed_signal):
    name = detailed_signal.split('::', 1)[0]
    signal_id = GObject.signal_lookup(name, type(instance).__gtype__)
    if signal_id == 0:
        return None   # unknown signal: let connect() raise its own error
    query = GObject.signal_query(signal_id)
    return query.return_type == Vsmtp.Reply.__gtype__


def _session_of(instance, args):
    """The session a handler runs for: the emitter, or (for a
    Vsmtp.Extension's signals) its first argument."""
    for candidate in (instance, *args[:1]):
        if isinstance(candidate, Vsmtp.Session):
            return candidate
    return None


class _GuardedHandler:
    """Calls a handler; turns an exception into a log line (and a 451)."""

    __slots__ = ('func', 'signal', 'returns_reply')

    def __init__(self, func, detailed_signal, returns_reply):
        self.func = func
        self.signal = detailed_signal
        self.returns_reply = returns_reply

    def _fail(self, session, what, details=''):
        prefix = f'{session.get_id()}: ' if session is not None else ''
        outcome = ', the client gets 451 4.3.0' if self.returns_reply else ''
        _log_warning(f'{prefix}Python handler {_describe(self.func)} for '
                     f'"{self.signal}" {what}{outcome}{details}', session)
        if self.returns_reply:
            return Vsmtp.Reply.new_temporary_failure(_FAILURE_TEXT)
        return None

    def _warn_slow(self, session, seconds):
        prefix = f'{session.get_id()}: ' if session is not None else ''
        _log_warning(f'{prefix}Python handler {_describe(self.func)} for '
                     f'"{self.signal}" ran {seconds:.2f} s on the main loop: '
                     'every other session waited; do blocking work in a '
                     'thread (GLib.idle_add) or with an async call', session)

    def __call__(self, instance, *args):
        start = time.monotonic()
        try:
            result = self.func(instance, *args)
        except BaseException as e:
            # Without this frame: the traceback starts in the handler
            lines = traceback.format_exception(type(e), e,
                                               e.__traceback__.tb_next)
            return self._fail(_session_of(instance, args),
                              f'raised {type(e).__name__}',
                              ':\n' + ''.join(lines).rstrip())
        finally:
            elapsed = time.monotonic() - start
            if elapsed > SLOW_HANDLER_SECONDS:
                self._warn_slow(_session_of(instance, args), elapsed)
        if not self.returns_reply:
            return result
        if isinstance(result, Vsmtp.Reply):
            return result
        if result is None:
            return self._fail(_session_of(instance, args),
                              'returned None (a handler with no opinion '
                              'returns Vsmtp.Reply.new_continue())')
        return self._fail(_session_of(instance, args),
                          f'returned {result!r} instead of a Vsmtp.Reply')

    # disconnect_by_func() and handler_*_by_func() compare with ==
    def __eq__(self, other):
        if isinstance(other, _GuardedHandler):
            return self.func == other.func
        return self.func == other

    def __hash__(self):
        return hash(self.func)


def _guard(instance, detailed_signal, handler):
    if not callable(handler):
        return handler   # connect() reports it
    returns_reply = _returns_reply(instance, detailed_signal)
    if returns_reply is None:
        return handler
    return _GuardedHandler(handler, detailed_signal, returns_reply)


class _GuardedConnect:
    def connect(self, detailed_signal, handler, *args):
        return super().connect(detailed_signal,
                               _guard(self, detailed_signal, handler), *args)

    def connect_after(self, detailed_signal, handler, *args):
        return super().connect_after(detailed_signal,
                                     _guard(self, detailed_signal, handler),
                                     *args)

    def connect_object(self, detailed_signal, handler, obj):
        guarded = _guard(self, detailed_signal, handler)
        # the handler gets obj instead of the emitter: guard it as such
        return super().connect_object(detailed_signal, guarded, obj)

    def connect_object_after(self, detailed_signal, handler, obj):
        guarded = _guard(self, detailed_signal, handler)
        return super().connect_object_after(detailed_signal, guarded, obj)


class Session(_GuardedConnect, Vsmtp.Session):
    """A bound method's object is told to the session as the object its
    handler acts for (Vsmtp.Session.set_handler_object): a plugin's
    handlers are named by the plugin in the log and in the metrics."""

    def _named(self, handler_id, handler):
        owner = getattr(handler, '__self__', None)
        if isinstance(owner, GObject.Object):
            self.set_handler_object(handler_id, owner)
        return handler_id

    def connect(self, detailed_signal, handler, *args):
        return self._named(super().connect(detailed_signal, handler, *args), handler)

    def connect_after(self, detailed_signal, handler, *args):
        return self._named(super().connect_after(detailed_signal, handler, *args), handler)


Session = override(Session)
__all__.append('Session')


class Server(_GuardedConnect, Vsmtp.Server):
    pass


Server = override(Server)
__all__.append('Server')


# The handlers of an extension's signals (validate, is-offered,
# compute-ehlo-parameters) are guarded the same way: a validate handler
# that raises or returns None refuses the command with 451 4.3.0, an
# is-offered handler that raises leaves the extension out.
class Extension(_GuardedConnect, Vsmtp.Extension):
    pass


Extension = override(Extension)
__all__.append('Extension')


class Parameters(Vsmtp.Parameters):
    """The ESMTP parameters of MAIL/RCPT, readable like a ``dict``:
    ``parameters["SIZE"]``, ``"BODY" in parameters``, ``dict(parameters)``."""

    def keys(self):
        return list(self.dup_keywords())

    def items(self):
        return [(k, self.get(k)) for k in self.dup_keywords()]

    def values(self):
        return [self.get(k) for k in self.dup_keywords()]

    def __getitem__(self, keyword):
        if not self.contains(keyword):
            raise KeyError(keyword)
        return Vsmtp.Parameters.get(self, keyword)

    def get(self, keyword, default=None):
        if not self.contains(keyword):
            return default
        return Vsmtp.Parameters.get(self, keyword)

    def __contains__(self, keyword):
        return self.contains(keyword)

    def __iter__(self):
        return iter(self.dup_keywords())

    def __len__(self):
        return self.get_size()

    def __repr__(self):
        return f"Vsmtp.Parameters({dict(self.items())!r})"


Parameters = override(Parameters)
__all__.append('Parameters')

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small SMTP server on libvsmtp: server.py FOLDER [PORT]

Rejects mail to nobody@..., checks the sender "asynchronously" (a timer
stands in for a DNS or database lookup), stores each accepted message as
FOLDER/<id>.eml and stops cleanly on SIGINT or SIGTERM.
"""
import os
import signal
import sys

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, GLib, Vsmtp

folder = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 2525
loop = GLib.MainLoop()
server = Vsmtp.Server(hostname="example.localhost")


def on_mail_from(session, sender, parameters):
    reply = Vsmtp.Reply.new_pending()

    def decide():
        if sender.get_domain() == "spam.example":
            reply.complete(550, "5.7.1", "Sender refused")
        else:
            reply.complete(250, "2.1.0", "Sender ok")
        return GLib.SOURCE_REMOVE

    GLib.timeout_add(100, decide)
    return reply


def on_rcpt_to(session, recipient, parameters):
    if recipient.get_local_part() == "nobody":
        return Vsmtp.Reply.new_no_such_user()
    return Vsmtp.Reply.new_continue()  # no opinion: the next handler, then the default 250


def on_message_received(session, message):
    path = os.path.join(folder, message.get_id() + ".eml")
    data = message.dup_bytes().get_data()
    GLib.file_set_contents_full(path, data, GLib.FileSetContentsFlags.CONSISTENT
                                | GLib.FileSetContentsFlags.DURABLE, 0o644)
    return Vsmtp.Reply.new(250, "2.0.0", "Ok: queued as " + message.get_id())


def on_new_session(server, session):
    session.connect("mail-from", on_mail_from)
    session.connect("rcpt-to", on_rcpt_to)
    session.connect("message-received", on_message_received)


def on_signal():
    server.shutdown_async(5, None, lambda s, result: loop.quit())
    return GLib.SOURCE_REMOVE


server.connect("new-session", on_new_session)
_, address = server.listen(Gio.InetSocketAddress.new_from_string("127.0.0.1", port))
print(f"listening on 127.0.0.1:{address.get_port()}", flush=True)
for signum in (signal.SIGINT, signal.SIGTERM):
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, on_signal)
loop.run()

// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A small SMTP server on libvsmtp: gjs -m server.js FOLDER [PORT]
//
// At DATA it checks the recipients "asynchronously" (a timer stands in for
// a directory lookup) and refuses the transaction when one of them is
// nobody@...; it stores each accepted message as FOLDER/<id>.eml and stops
// cleanly on SIGINT or SIGTERM.
//
// It decides at DATA, from the whole envelope, to show that signal; the
// Python and Vala examples decide per recipient in rcpt-to, which works the
// same from GJS (handlers get a Vsmtp.Parameters: parameters.get('SIZE')).

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Vsmtp from 'gi://Vsmtp?version=1.0';
import System from 'system';

const [folder, port = '2525'] = System.programArgs;
const loop = new GLib.MainLoop(null, false);
const server = new Vsmtp.Server({hostname: 'example.localhost'});

function onData(session) {
    const recipients = session.get_envelope().dup_recipients();
    const reply = Vsmtp.Reply.new_pending();
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 100, () => {
        if (recipients.some(address => address.get_local_part() === 'nobody'))
            reply.complete_with(Vsmtp.Reply.new_no_such_user());
        else
            reply.complete_continue();    // no opinion: the default 354
        return GLib.SOURCE_REMOVE;
    });
    return reply;
}

function onMessageReceived(session, message) {
    const path = GLib.build_filenamev([folder, `${message.get_id()}.eml`]);
    GLib.file_set_contents_full(path, message.dup_bytes().toArray(),
        GLib.FileSetContentsFlags.CONSISTENT | GLib.FileSetContentsFlags.DURABLE, 0o644);
    return Vsmtp.Reply.new(250, '2.0.0', `Ok: queued as ${message.get_id()}`);
}

server.connect('new-session', (_server, session) => {
    session.connect('data', onData);
    session.connect('message-received', onMessageReceived);
});

const [, address] = server.listen(
    Gio.InetSocketAddress.new_from_string('127.0.0.1', Number(port)));
print(`listening on 127.0.0.1:${address.get_port()}`);
for (const signum of [2, 15]) {      // SIGINT, SIGTERM
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, () => {
        server.shutdown_async(5, null, () => loop.quit());
        return GLib.SOURCE_REMOVE;
    });
}
loop.run();

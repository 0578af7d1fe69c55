// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libvsmtp from GJS: a Vsmtp.Server runs in this process with handlers
// written in JavaScript; smtp_client.py (Python's smtplib) drives it as a
// subprocess started with Gio.Subprocess, so the server keeps running on
// this main loop while the client talks. Prints TAP.
//
// Run: gjs -m test_gjs.js (GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at
// the built library; VSMTP_GI_SMTP_CLIENT at smtp_client.py).

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Vsmtp from 'gi://Vsmtp?version=1.0';

Gio._promisify(Gio.Subprocess.prototype, 'communicate_utf8_async');
Gio._promisify(Vsmtp.Server.prototype, 'shutdown_async', 'shutdown_finish');

const PYTHON = GLib.getenv('VSMTP_GI_PYTHON') ?? '/usr/bin/python3';
const CLIENT = GLib.getenv('VSMTP_GI_SMTP_CLIENT') ??
    GLib.build_filenamev([GLib.path_get_dirname(
        GLib.filename_from_uri(import.meta.url)[0]), 'smtp_client.py']);

const HOSTNAME = 'mx.gjs-test.example';
const SENDER = 'alice@sender.example';
const RCPT = 'bob@rcpt.example';
const MESSAGE = 'From: <alice@sender.example>\r\n' +
    'To: <bob@rcpt.example>\r\n' +
    'Subject: from GJS\r\n' +
    '\r\n' +
    'line one\r\n' +
    '.leading dot, stuffed by smtplib\r\n' +
    'last line\r\n';
const decoder = new TextDecoder();

function assertEqual(got, expected, what = '') {
    const g = JSON.stringify(got), e = JSON.stringify(expected);
    if (g !== e)
        throw new Error(`${what}: got ${g}, expected ${e}`);
}

function assert(condition, what) {
    if (!condition)
        throw new Error(`assertion failed: ${what}`);
}

// A server on an ephemeral loopback port; handlers: signal name -> function.
function startServer(handlers, props = {}) {
    const server = new Vsmtp.Server({hostname: HOSTNAME, ...props});
    const [ok, address] = server.listen(
        Gio.InetSocketAddress.new_from_string('127.0.0.1', 0));
    assert(ok, 'listen');
    const errors = [];
    server.connect('new-session', (_server, session) => {
        for (const [name, fn] of Object.entries(handlers)) {
            session.connect(name, (...args) => {
                try {
                    return fn(...args);
                } catch (e) {
                    errors.push(e);
                    throw e;
                }
            });
        }
    });
    return {server, port: address.get_port(), address, errors};
}

// Runs smtp_client.py; resolves to its [[code, text], ...].
async function smtp(port, steps) {
    const proc = Gio.Subprocess.new(
        [PYTHON, CLIENT, String(port), JSON.stringify(steps)],
        Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDERR_PIPE);
    const [stdout, stderr] = await proc.communicate_utf8_async(null, null);
    if (!proc.get_successful())
        throw new Error(`smtp client failed: ${stderr}`);
    return JSON.parse(stdout);
}

function finish(ctx) {
    ctx.server.stop_listening();
    if (ctx.errors.length)
        throw ctx.errors[0];
}

function store(stored, message) {
    const bytes = message.dup_bytes().toArray();
    stored.push({id: message.get_id(), text: decoder.decode(bytes)});
    return Vsmtp.Reply.new(250, '2.0.0', `Ok: stored ${message.get_id()}`);
}

const tests = [];
function test(name, fn, todo = null) {
    tests.push({name, fn, todo});
}

test('accept and store', async () => {
    const stored = [], seen = [];
    const ctx = startServer({
        'message-received': (session, message) => {
            const envelope = message.get_envelope();
            // Stream and bytes give the same content.
            const stream = message.open_stream();
            const streamed = stream.read_bytes(1 << 20, null).toArray();
            stream.close(null);
            seen.push({
                sender: envelope.get_sender().to_string(),
                recipients: envelope.dup_recipients().map(a => a.to_string()),
                mailParameters: envelope.get_mail_parameters(),
                streamed: decoder.decode(streamed),
                size: message.get_size(),
            });
            return store(stored, message);
        },
    });
    const replies = await smtp(ctx.port, [
        ['ehlo', 'client.gjs-test.example'],
        ['mail', SENDER, ['BODY=8BITMIME']],
        ['rcpt', RCPT],
        ['data', MESSAGE],
    ]);
    finish(ctx);
    assertEqual(replies.slice(1), [
        [250, '2.1.0 Ok'],
        [250, '2.1.5 Ok'],
        [250, `2.0.0 Ok: stored ${stored[0]?.id}`],
    ], 'replies');
    assertEqual(stored.length, 1, 'stored messages');
    const text = stored[0].text;
    assert(text.startsWith('Received: from client.gjs-test.example'), text);
    assert(text.includes(`by ${HOSTNAME}`), text);
    assertEqual(text.slice(text.indexOf('\r\nFrom: ') + 2), MESSAGE, 'content');
    assertEqual(seen[0].sender, SENDER, 'sender');
    assertEqual(seen[0].recipients, [RCPT], 'recipients');
    assertEqual(seen[0].mailParameters, {BODY: '8BITMIME'}, 'MAIL parameters');
    assertEqual(seen[0].streamed, text, 'open_stream');
    assertEqual(seen[0].size, new TextEncoder().encode(text).length, 'size');
});

test('reject', async () => {
    const ctx = startServer({
        'ehlo': (session, domain) => domain === 'bad.example'
            ? Vsmtp.Reply.new_policy_rejection('Go away') : Vsmtp.Reply.new_continue(),
        'data': session => session.get_envelope().dup_recipients()
            .some(a => a.get_local_part() === 'nobody')
            ? Vsmtp.Reply.new(554, '5.5.1', 'No valid recipients') : Vsmtp.Reply.new_continue(),
        'message-received': () => Vsmtp.Reply.new(554, '5.6.0', 'Content refused'),
    });
    const first = await smtp(ctx.port, [['ehlo', 'bad.example'], ['quit']]);
    const second = await smtp(ctx.port, [
        ['ehlo', 'good.example'],
        ['mail', SENDER],
        ['rcpt', 'nobody@rcpt.example'],
        ['data', MESSAGE],
        ['rset'],
        ['mail', SENDER],
        ['rcpt', RCPT],
        ['data', MESSAGE],
    ]);
    finish(ctx);
    assertEqual(first, [[550, '5.7.1 Go away'], [221, '2.0.0 Bye']], 'EHLO');
    assertEqual(second.slice(1), [
        [250, '2.1.0 Ok'],
        [250, '2.1.5 Ok'],
        [554, '5.5.1 No valid recipients'],
        [250, '2.0.0 Ok'],
        [250, '2.1.0 Ok'],
        [250, '2.1.5 Ok'],
        [554, '5.6.0 Content refused'],
    ], 'transaction');
});

test('defer and complete', async () => {
    const stored = [], completed = [];
    const ctx = startServer({
        'data': () => {
            const reply = Vsmtp.Reply.new_pending();
            GLib.timeout_add(GLib.PRIORITY_DEFAULT, 50, () => {
                completed.push(reply.complete(354, null, null));
                return GLib.SOURCE_REMOVE;
            });
            return reply;
        },
        'message-received': (session, message) => {
            const reply = Vsmtp.Reply.new_pending();
            GLib.timeout_add(GLib.PRIORITY_DEFAULT, 50, () => {
                completed.push(reply.complete_with(store(stored, message)));
                return GLib.SOURCE_REMOVE;
            });
            return reply;
        },
    });
    const replies = await smtp(ctx.port, [
        ['ehlo', 'client.gjs-test.example'],
        ['mail', SENDER],
        ['rcpt', RCPT],
        ['data', MESSAGE],
    ]);
    finish(ctx);
    assertEqual(replies[3], [250, `2.0.0 Ok: stored ${stored[0]?.id}`], 'end of data');
    assertEqual(completed, [true, true], 'complete() results');
    assert(stored[0].text.endsWith(`\r\n${MESSAGE}`), stored[0].text);
});

test('defer and time out', async () => {
    const pending = [], late = [];
    const ctx = startServer({
        'data': () => {
            pending.push(Vsmtp.Reply.new_pending());
            return pending[0];
        },
        'rset': () => {
            // The client saw the 451 before it sent RSET.
            late.push(pending[0].complete(354, null, null));
            // RSET only notifies: nothing to return
        },
    }, {decision_timeout: 200});
    const replies = await smtp(ctx.port, [
        ['ehlo', 'client.gjs-test.example'],
        ['mail', SENDER],
        ['rcpt', RCPT],
        ['data', MESSAGE],
        ['rset'],
    ]);
    finish(ctx);
    assertEqual(replies.slice(3), [
        [451, '4.3.0 Error: decision timed out, try again later'],
        [250, '2.0.0 Ok'],
    ], 'replies');
    assertEqual(late, [false], 'late complete()');
});

test('listen and shutdown_async', async () => {
    const ctx = startServer({});
    assert(ctx.port > 0, 'effective port');
    assertEqual(ctx.server.get_listen_addresses().map(a => a.get_port()),
        [ctx.port], 'listen addresses');
    const replies = await smtp(ctx.port, [['noop']]);
    assertEqual(replies, [[250, '2.0.0 Ok']], 'NOOP');
    assertEqual(await ctx.server.shutdown_async(1, null), true, 'shutdown');
    assertEqual(ctx.server.get_listen_addresses(), [], 'listeners after shutdown');
});

test('address and envelope', () => {
    const a = Vsmtp.Address.parse('<Bob@Example.ORG>', -1, Vsmtp.AddressFlags.NONE);
    assertEqual([a.get_local_part(), a.get_domain(), a.to_string(), a.is_null()],
        ['Bob', 'Example.ORG', 'Bob@Example.ORG', false], 'address');
    assert(a.equal(Vsmtp.Address.new('Bob', 'Example.ORG')), 'equal');
    let error = null;
    try {
        Vsmtp.Address.parse('<>', -1, Vsmtp.AddressFlags.NONE);
    } catch (e) {
        error = e;
    }
    assert(error instanceof GLib.Error && error.domain === Vsmtp.Error.quark(),
        `parse error: ${error}`);
    const e = Vsmtp.Envelope.new();
    e.add_recipient(a, {NOTIFY: 'NEVER'});
    assertEqual(e.get_recipient_parameters(0), {NOTIFY: 'NEVER'}, 'parameters');
    assertEqual(e.dup_recipients().map(r => r.to_string()), ['Bob@Example.ORG'],
        'dup_recipients');
});

// mail-from and rcpt-to carry a Vsmtp.Parameters (a boxed type GJS can
// marshal; a bare GHashTable signal argument it cannot).
test('mail-from and rcpt-to handlers with parameters', async () => {
    const seen = [];
    const ctx = startServer({
        'mail-from': (session, sender, parameters) => {
            seen.push([parameters.get('BODY'), parameters.contains('SIZE'),
                parameters.dup_keywords()]);
            return Vsmtp.Reply.new_continue();
        },
        'rcpt-to': (session, recipient, parameters) => recipient.get_local_part() === 'nobody'
            ? Vsmtp.Reply.new_no_such_user() : Vsmtp.Reply.new_continue(),
    });
    const replies = await smtp(ctx.port, [
        ['ehlo', 'client.gjs-test.example'],
        ['mail', SENDER],
        ['rcpt', 'nobody@rcpt.example'],
    ]);
    finish(ctx);
    assertEqual(replies[2], [550, '5.1.1 No such user'], 'RCPT');
    assertEqual(seen.length, 1, 'mail-from handler called');
    assertEqual(seen[0][0], null, 'no BODY parameter');
});

// Fail closed: a handler that throws (GJS logs the exception and returns
// NULL to C) or returns null gets 451, never the default 250; continue
// passes on; a deferred continue hands over to the next handler.
test('throwing handler fails closed, continue composes', async () => {
    const calls = [];
    // GJS reports an exception thrown in a signal handler as a CRITICAL,
    // which G_DEBUG=fatal-criticals would turn into an abort: allow it
    // for this test only
    const fatal = GLib.log_set_always_fatal(GLib.LogLevelFlags.LEVEL_ERROR);
    const ctx = startServer({
        'mail-from': (session, sender) => {
            if (sender.get_local_part() === 'thrower')
                throw new Error('handler bug');
            if (sender.get_local_part() === 'nuller')
                return null;
            return Vsmtp.Reply.new_continue();
        },
        'rcpt-to': (session, recipient) => {
            calls.push(recipient.get_local_part());
            const reply = Vsmtp.Reply.new_pending();
            GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
                reply.complete_continue();
                return GLib.SOURCE_REMOVE;
            });
            return reply;
        },
    });
    const replies = await smtp(ctx.port, [
        ['ehlo', 'client.gjs-test.example'],
        ['mail', 'thrower@sender.example'],
        ['mail', 'nuller@sender.example'],
        ['mail', SENDER],
        ['rcpt', RCPT],
    ]);
    GLib.log_set_always_fatal(fatal);
    assertEqual(ctx.errors.map(e => e.message), ['handler bug'], 'thrown');
    ctx.errors.length = 0;
    finish(ctx);
    assertEqual(replies.slice(1), [
        [451, '4.3.0 Error: temporary failure in processing, try again later'],
        [451, '4.3.0 Error: temporary failure in processing, try again later'],
        [250, '2.1.0 Ok'],
        [250, '2.1.5 Ok'],
    ], 'replies');
    assertEqual(calls, ['bob'], 'deferred handler ran once');
});

async function main() {
    let failed = 0;
    for (const [i, t] of tests.entries()) {
        const directive = t.todo ? ` # TODO ${t.todo}` : '';
        try {
            await t.fn();
            print(`ok ${i + 1} - ${t.name}${directive}`);
        } catch (e) {
            if (!t.todo)
                failed++;
            print(`not ok ${i + 1} - ${t.name}${directive}`);
            for (const line of `${e}\n${e.stack ?? ''}`.trimEnd().split('\n'))
                print(`#   ${line}`);
        }
    }
    print(`1..${tests.length}`);
    return failed;
}

const loop = new GLib.MainLoop(null, false);
let status = 1;
main().then(failed => {
    status = failed ? 1 : 0;
}).catch(e => {
    print(`# ${e}`);
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);

/* test-extension-vala.vala: an ESMTP extension registered from Vala, through
 * the generated VAPI; a client on loopback sees its keyword, and its
 * validator, written in Vala, decides
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Reads from @input into @transcript until it ends with @end (or EOF). */
async void read_until (InputStream input, StringBuilder transcript, string? end) throws Error {
    var buffer = new uint8[4096];
    ssize_t n;
    while (end == null || !transcript.str.has_suffix (end)) {
        n = yield input.read_async (buffer);
        if (n <= 0)
            break;
        transcript.append_len ((string) buffer, n);
    }
}

/* Waits for the greeting, sends EHLO and waits for its reply (EHLO ends a
 * pipelined group), then sends @script in one write and reads all the
 * replies until the server closes the connection. */
async string converse (uint16 port, string script) throws Error {
    var client = new SocketClient ();
    var connection = yield client.connect_to_host_async ("127.0.0.1", port);
    var transcript = new StringBuilder ();

    yield read_until (connection.input_stream, transcript, "\r\n");
    yield connection.output_stream.write_all_async ("EHLO client.example\r\n".data,
                                                    Priority.DEFAULT, null, null);
    yield read_until (connection.input_stream, transcript, "HIGH\r\n");
    yield connection.output_stream.write_all_async (script.data, Priority.DEFAULT, null, null);
    yield read_until (connection.input_stream, transcript, null);
    return transcript.str;
}

void test_register_from_vala () {
    var server = new Vsmtp.Server ();
    server.hostname = "mx.vala.example";
    var parameters = new GenericArray<string> ();

    var extension = new Vsmtp.Extension ("XPRIORITY", Vsmtp.ExtensionFlags.NONE);
    extension.ehlo_parameters = "LOW HIGH";
    extension.add_parameter ("PRIORITY", Vsmtp.ParameterCommand.MAIL, Vsmtp.ParameterSyntax.VALUE);
    extension.validate.connect ((session, command, name, value) => {
        if (value.up () != "LOW" && value.up () != "HIGH")
            return new Vsmtp.Reply (501, "5.5.4", "Bad PRIORITY parameter value");
        return new Vsmtp.Reply.@continue ();
    });
    try {
        assert_true (server.register_extension (extension));
    } catch (Error e) {
        assert_no_error (e);
    }
    assert_true (server.lookup_extension ("xpriority") == extension);
    var all = server.dup_extensions ();
    assert_cmpuint (all.length, CompareOperator.EQ, 14);
    assert_true (all[all.length - 1] == extension);

    /* the built-ins cannot be taken over */
    try {
        server.register_extension (new Vsmtp.Extension ("size", Vsmtp.ExtensionFlags.NONE));
        assert_not_reached ();
    } catch (Error e) {
        assert_error (e, Vsmtp.Error.quark (), Vsmtp.Error.FAILED);
    }

    server.new_session.connect ((session) => {
        session.mail_from.connect ((sender, mail_parameters) => {
            parameters.add (mail_parameters.get ("PRIORITY") ?? "(none)");
            return new Vsmtp.Reply.@continue ();
        });
    });

    uint16 port = 0;
    try {
        SocketAddress effective;
        server.listen (new InetSocketAddress.from_string ("127.0.0.1", 0), out effective);
        port = (uint16) ((InetSocketAddress) effective).port;
    } catch (Error e) {
        assert_no_error (e);
    }

    var loop = new MainLoop ();
    string? transcript = null;
    converse.begin (port,
                    "MAIL FROM:<a@example.org> PRIORITY=urgent\r\n" +
                    "MAIL FROM:<a@example.org> PRIORITY=high\r\n" +
                    "QUIT\r\n",
                    (obj, res) => {
        try {
            transcript = converse.end (res);
        } catch (Error e) {
            assert_no_error (e);
        }
        loop.quit ();
    });
    loop.run ();

    assert_nonnull (transcript);
    Test.message ("%s", transcript);
    assert_true (transcript.has_prefix ("220 mx.vala.example "));
    assert_true ("250-8BITMIME\r\n250-SMTPUTF8\r\n" in transcript);
    assert_true ("\r\n250 XPRIORITY LOW HIGH\r\n" in transcript);
    assert_true ("501 5.5.4 Bad PRIORITY parameter value\r\n250 2.1.0 Ok\r\n" in transcript);
    assert_cmpuint (parameters.length, CompareOperator.EQ, 1);
    assert_cmpstr (parameters[0], CompareOperator.EQ, "high");

    assert_true (server.unregister_extension (extension));
    assert_false (extension.is_registered ());
    server.stop_listening ();
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/extension/vala/register", test_register_from_vala);
    return Test.run ();
}

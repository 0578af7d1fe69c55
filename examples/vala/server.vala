/* server.vala: a small SMTP server on libvsmtp
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vsmtp-example-vala FOLDER [PORT]
 *
 * Rejects mail to nobody@..., checks the sender "asynchronously" (a timer
 * stands in for a DNS or database lookup), stores each accepted message as
 * FOLDER/<id>.eml and stops cleanly on SIGINT or SIGTERM.
 */

int main (string[] args) {
  if (args.length < 2) {
    printerr ("usage: %s FOLDER [PORT]\n", args[0]);
    return 2;
  }
  var folder = args[1];
  var port = (uint16) (args.length > 2 ? int.parse (args[2]) : 2525);
  var loop = new MainLoop ();
  var server = new Vsmtp.Server ();
  server.hostname = "example.localhost";

  server.new_session.connect ((session) => {
    session.mail_from.connect ((sender, parameters) => {
      var reply = new Vsmtp.Reply.deferred ();
      Timeout.add (100, () => {
        if (sender.get_domain () == "spam.example")
          reply.complete (550, "5.7.1", "Sender refused");
        else
          reply.complete (250, "2.1.0", "Sender ok");
        return Source.REMOVE;
      });
      return reply;
    });

    session.rcpt_to.connect ((recipient, parameters) => {
      if (recipient.get_local_part () == "nobody")
        return new Vsmtp.Reply.no_such_user ();
      return new Vsmtp.Reply.@continue ();  /* no opinion: the next handler, then 250 */
    });

    session.message_received.connect ((message) => {
      var path = Path.build_filename (folder, message.get_id () + ".eml");
      try {
        var bytes = message.dup_bytes ();
        FileUtils.set_contents_full (path, (string) bytes.get_data (), (ssize_t) bytes.get_size (),
                                     FileSetContentsFlags.CONSISTENT | FileSetContentsFlags.DURABLE,
                                     0644);
      } catch (Error e) {
        return new Vsmtp.Reply.temporary_failure (e.message);
      }
      return new Vsmtp.Reply (250, "2.0.0", "Ok: queued as " + message.get_id ());
    });
  });

  SocketAddress address;
  try {
    server.listen (new InetSocketAddress.from_string ("127.0.0.1", port), out address);
  } catch (Error e) {
    printerr ("%s\n", e.message);
    return 1;
  }
  print ("listening on 127.0.0.1:%u\n", ((InetSocketAddress) address).get_port ());
  stdout.flush ();

  foreach (var signum in new ProcessSignal[] { ProcessSignal.INT, ProcessSignal.TERM }) {
    Unix.signal_add (signum, () => {
      server.shutdown_async.begin (5, null, () => loop.quit ());
      return Source.REMOVE;
    });
  }
  loop.run ();
  return 0;
}

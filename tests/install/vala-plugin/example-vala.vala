/* example-vala.vala: a vsmtpd plugin in Vala, built out of tree against an
 * installed libvsmtp and its VAPI (tests/install/test_install.py;
 * docs/plugins.md)
 *
 * RCPT TO:<vala@example.org> gets `553 5.7.1 Refused by the Vala plugin`;
 * every other recipient gets no opinion, so the plugins after this one
 * decide.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

public class ExampleValaPlugin : GLib.Object, Vsmtp.Activatable {
  public Vsmtp.Server server { owned get; construct; }

  private ulong new_session_id = 0;

  public void activate () {
    new_session_id = server.new_session.connect (on_new_session);
  }

  public void deactivate () {
    if (new_session_id != 0) {
      server.disconnect (new_session_id);
      new_session_id = 0;
    }
  }

  private void on_new_session (Vsmtp.Server server, Vsmtp.Session session) {
    session.rcpt_to.connect (on_rcpt_to);
  }

  private Vsmtp.Reply? on_rcpt_to (Vsmtp.Session session, Vsmtp.Address recipient,
                                   Vsmtp.Parameters parameters) {
    if (recipient.to_string ().ascii_down () == "vala@example.org")
      return new Vsmtp.Reply (553, "5.7.1", "Refused by the Vala plugin");
    return new Vsmtp.Reply.@continue ();   /* no opinion: the next handler decides */
  }
}

[ModuleInit]
public void peas_register_types (GLib.TypeModule module) {
  var peas_module = (Peas.ObjectModule) module;

  peas_module.register_extension_type (typeof (Vsmtp.Activatable),
                                       typeof (ExampleValaPlugin));
}

/* blocklist.vala: refuses senders by domain, logs one line per message
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 *   [blocklist]
 *   domains=spam.example;ads.example.net
 *   text=Sender domain blocked
 *
 * MAIL FROM with a sender in a listed domain, or in a subdomain of one, gets
 * `550 5.7.1` (with the configured text). Other senders, and the null
 * sender <>, get no opinion, so the next plugins decide. At the end of data
 * the plugin logs the Message-ID, From and Subject headers of each message
 * and leaves the decision to the delivery plugins.
 */

namespace Vsmtpd {

  public class BlocklistPlugin : GLib.Object, Vsmtp.Activatable {
    private const string GROUP = "blocklist";

    public Vsmtp.Server server { owned get; construct; }

    private GenericSet<string> domains = new GenericSet<string> (str_hash, str_equal);
    private string text = "Sender domain blocked";
    private ulong new_session_id = 0;

    public void declare_config (Vsmtp.ConfigGroup group) {
      group.add_string_list ("domains", null, "Sender domains refused with 550 5.7.1, subdomains included");
      group.add_string ("text", "Sender domain blocked", "The text of that 550 reply");
    }

    public bool configure (Vsmtp.ConfigGroup group) throws GLib.Error {
      domains.remove_all ();
      var listed = group.dup_string_list ("domains");
      if (listed != null) {
        foreach (unowned string domain in listed) {
          var normalized = normalize (domain);
          if (normalized != "")
            domains.add (normalized);
        }
      }
      text = group.dup_string ("text");
      return true;
    }

    public void activate () {
      log_info ("blocklist: %u domain(s) blocked", domains.length);
      new_session_id = server.new_session.connect (on_new_session);
    }

    public void deactivate () {
      if (new_session_id != 0) {
        server.disconnect (new_session_id);
        new_session_id = 0;
      }
    }

    [PrintfFormat]
    private static void log_info (string format, ...) {
      GLib.logv ("vsmtpd-blocklist", LogLevelFlags.LEVEL_INFO, format, va_list ());
    }

    private static string normalize (string domain) {
      var lower = domain.down ();
      return lower.has_suffix (".") ? lower.substring (0, lower.length - 1) : lower;
    }

    /* The domain itself or one of its parents is listed */
    private bool is_blocked (string domain) {
      string? candidate = normalize (domain);

      while (candidate != null) {
        if (domains.contains (candidate))
          return true;
        var dot = candidate.index_of_char ('.');
        candidate = dot >= 0 ? candidate.substring (dot + 1) : null;
      }
      return false;
    }

    private void on_new_session (Vsmtp.Server server, Vsmtp.Session session) {
      session.mail_from.connect (on_mail_from);
      session.message_received.connect (on_message_received);
    }

    private Vsmtp.Reply? on_mail_from (Vsmtp.Session session,
                                       Vsmtp.Address sender,
                                       Vsmtp.Parameters parameters) {
      unowned string? domain = sender.get_domain ();

      if (sender.is_null () || domain == null || !is_blocked (domain))
        return new Vsmtp.Reply.@continue ();

      log_info ("%s: blocklist: sender <%s> refused", session.get_id (), sender.to_string ());
      return new Vsmtp.Reply.policy_rejection (text);
    }

    private Vsmtp.Reply? on_message_received (Vsmtp.Session session,
                                              Vsmtp.Message message) {
      var id = message.dup_header ("Message-ID");
      var from = message.dup_header ("From");
      var subject = message.dup_header ("Subject");

      log_info ("%s: blocklist: message %s message-id=%s from=%s subject=%s",
            session.get_id (), message.get_id (),
            id ?? "(none)", from ?? "(none)", subject ?? "(none)");
      return new Vsmtp.Reply.@continue ();
    }
  }
}

[ModuleInit]
public void peas_register_types (GLib.TypeModule module) {
  var objmodule = module as Peas.ObjectModule;

  objmodule.register_extension_type (typeof (Vsmtp.Activatable),
                                     typeof (Vsmtpd.BlocklistPlugin));
}

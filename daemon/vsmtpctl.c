/* vsmtpctl.c: the operator's console of vsmtpd, over its D-Bus interface
 * org.vsmtp.Vsmtpd1 ([server] dbus; data/org.vsmtp.Vsmtpd1.xml), through
 * the proxy gdbus-codegen made from it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Exit status: 0 done, 1 refused by vsmtpd (no such listener or session,
 * a reload that failed), 2 bad usage, 3 vsmtpd not reachable (no bus, no
 * vsmtpd on it, or no answer within --timeout: stopped or hung), 4 access
 * denied.
 */
#include "config.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "vsmtpd-dbus-generated.h"

#define NAME "org.vsmtp.Vsmtpd1"
#define PATH "/org/vsmtp/Vsmtpd1"

enum {
  EXIT_OK = 0,
  EXIT_REFUSED = 1,
  EXIT_USAGE = 2,
  EXIT_UNREACHABLE = 3,
  EXIT_DENIED = 4,
};

static gboolean opt_json = FALSE;
static gboolean opt_session = FALSE;
static gboolean opt_system = FALSE;
static int opt_grace = -1;
static int opt_timeout = 25;   /* seconds: GDBus's own default */
static GBusType bus_type = G_BUS_TYPE_SYSTEM;

static const char *
bus_name (void)
{
  return bus_type == G_BUS_TYPE_SESSION ? "session" : "system";
}

/* One line for a failed call, and the exit status it means */
static int
fail (const char *what,
      GError     *error)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);
  int status = EXIT_REFUSED;

  g_dbus_error_strip_remote_error (error);
  /* the name has an owner that does not answer: stopped (SIGSTOP),
   * or hung */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT))
    {
      g_printerr ("vsmtpctl: %s: vsmtpd did not answer within %d s on the %s bus (is it "
                  "stopped or hung?)\n", what, opt_timeout, bus_name ());
      return EXIT_UNREACHABLE;
    }
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ||
      g_strcmp0 (remote, "org.freedesktop.DBus.Error.AccessDenied") == 0)
    {
      g_printerr ("vsmtpctl: %s: access denied: %s\n", what, error->message);
      return EXIT_DENIED;
    }
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    {
      g_printerr ("vsmtpctl: %s: vsmtpd is not running on the %s bus (%s)\n", what, bus_name (),
                  error->message);
      return EXIT_UNREACHABLE;
    }
  g_printerr ("vsmtpctl: %s: %s\n", what, error->message);
  return status;
}

static void
print_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

static char *
format_time (guint64 seconds)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local ((gint64) seconds);

  return time != NULL ? g_date_time_format (time, "%Y-%m-%d %H:%M:%S %Z") : g_strdup ("?");
}

static char *
format_age (guint64 seconds)
{
  if (seconds < 60)
    return g_strdup_printf ("%us", (guint) seconds);
  if (seconds < 3600)
    return g_strdup_printf ("%um%02us", (guint) (seconds / 60), (guint) (seconds % 60));
  if (seconds < 86400)
    return g_strdup_printf ("%uh%02um", (guint) (seconds / 3600), (guint) (seconds / 60 % 60));
  return g_strdup_printf ("%ud%02uh", (guint) (seconds / 86400), (guint) (seconds / 3600 % 24));
}

static guint64
total (GVariant   *totals,
       const char *key)
{
  guint64 value = 0;

  if (totals != NULL)
    g_variant_lookup (totals, key, "t", &value);
  return value;
}

/* The properties, read with --timeout (the proxy is made without them:
 * a hung vsmtpd would make it wait GDBus's 25 s and then show nothing) */
static gboolean
load_properties (VsmtpdDBusVsmtpd1  *proxy,
                 GError            **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) properties = NULL;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  reply = g_dbus_proxy_call_sync (G_DBUS_PROXY (proxy), "org.freedesktop.DBus.Properties.GetAll",
                                  g_variant_new ("(s)", g_dbus_proxy_get_interface_name (G_DBUS_PROXY (proxy))),
                                  G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (reply == NULL)
    return FALSE;
  properties = g_variant_get_child_value (reply, 0);
  g_variant_iter_init (&iter, properties);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      g_dbus_proxy_set_cached_property (G_DBUS_PROXY (proxy), name, value);
      g_variant_unref (value);
    }
  return TRUE;
}

static int
cmd_status (VsmtpdDBusVsmtpd1 *proxy)
{
  GVariant *listeners, *totals;
  const char *version;
  guint64 start;
  guint sessions;
  static const char * const keys[] = { "connections", "refusals", "messages", "messages-refused", "bytes" };
  GVariantIter iter;
  const char *name, *address, *protocol, *tls;
  gboolean paused;
  g_autoptr(GError) error = NULL;

  if (!load_properties (proxy, &error))
    return fail ("status", error);
  listeners = vsmtpd_dbus_vsmtpd1_get_listeners (proxy);
  totals = vsmtpd_dbus_vsmtpd1_get_totals (proxy);
  version = vsmtpd_dbus_vsmtpd1_get_version (proxy);
  start = vsmtpd_dbus_vsmtpd1_get_start_time (proxy);
  sessions = vsmtpd_dbus_vsmtpd1_get_sessions (proxy);
  if (version == NULL)
    {
      g_printerr ("vsmtpctl: status: vsmtpd's properties cannot be read\n");
      return EXIT_REFUSED;
    }

  if (opt_json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "version");
      json_builder_add_string_value (builder, version);
      json_builder_set_member_name (builder, "start_time");
      json_builder_add_int_value (builder, (gint64) start);
      json_builder_set_member_name (builder, "sessions");
      json_builder_add_int_value (builder, sessions);
      json_builder_set_member_name (builder, "totals");
      json_builder_begin_object (builder);
      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        {
          json_builder_set_member_name (builder, keys[i]);
          json_builder_add_int_value (builder, (gint64) total (totals, keys[i]));
        }
      json_builder_end_object (builder);
      json_builder_set_member_name (builder, "listeners");
      json_builder_begin_array (builder);
      if (listeners != NULL)
        {
          g_variant_iter_init (&iter, listeners);
          while (g_variant_iter_next (&iter, "(&s&s&s&sb)", &name, &address, &protocol, &tls, &paused))
            {
              json_builder_begin_object (builder);
              json_builder_set_member_name (builder, "name");
              json_builder_add_string_value (builder, name);
              json_builder_set_member_name (builder, "address");
              json_builder_add_string_value (builder, address);
              json_builder_set_member_name (builder, "protocol");
              json_builder_add_string_value (builder, protocol);
              json_builder_set_member_name (builder, "tls");
              json_builder_add_string_value (builder, tls);
              json_builder_set_member_name (builder, "paused");
              json_builder_add_boolean_value (builder, paused);
              json_builder_end_object (builder);
            }
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      print_json (builder);
      return EXIT_OK;
    }

  {
    g_autofree char *since = format_time (start);
    g_autofree char *up = format_age ((guint64) MAX (0, g_get_real_time () / G_USEC_PER_SEC - (gint64) start));

    g_print ("vsmtpd %s, up %s (since %s)\n", version, up, since);
    g_print ("sessions now: %u\n", sessions);
    g_print ("totals: connections %" G_GUINT64_FORMAT ", refusals %" G_GUINT64_FORMAT
             ", messages %" G_GUINT64_FORMAT " (refused %" G_GUINT64_FORMAT "), bytes %"
             G_GUINT64_FORMAT "\n",
             total (totals, "connections"), total (totals, "refusals"), total (totals, "messages"),
             total (totals, "messages-refused"), total (totals, "bytes"));
    g_print ("\n%-16s %-28s %-11s %-9s %s\n", "LISTENER", "ADDRESS", "PROTOCOL", "TLS", "STATE");
    if (listeners != NULL)
      {
        g_variant_iter_init (&iter, listeners);
        while (g_variant_iter_next (&iter, "(&s&s&s&sb)", &name, &address, &protocol, &tls, &paused))
          g_print ("%-16s %-28s %-11s %-9s %s\n", name, address, protocol, tls,
                   paused ? "paused" : "accepting");
      }
  }
  return EXIT_OK;
}

static int
cmd_sessions (VsmtpdDBusVsmtpd1 *proxy)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) sessions = NULL;
  GVariantIter iter;
  const char *id, *client, *state, *user, *listener;
  gboolean tls;
  guint64 start, bytes;
  guint32 age;

  if (!vsmtpd_dbus_vsmtpd1_call_list_sessions_sync (proxy, &sessions, NULL, &error))
    return fail ("sessions", error);

  if (opt_json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_array (builder);
      g_variant_iter_init (&iter, sessions);
      while (g_variant_iter_next (&iter, "(&s&s&sb&s&stut)", &id, &client, &state, &tls, &user,
                                  &listener, &start, &age, &bytes))
        {
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "id");
          json_builder_add_string_value (builder, id);
          json_builder_set_member_name (builder, "client");
          json_builder_add_string_value (builder, client);
          json_builder_set_member_name (builder, "state");
          json_builder_add_string_value (builder, state);
          json_builder_set_member_name (builder, "tls");
          json_builder_add_boolean_value (builder, tls);
          json_builder_set_member_name (builder, "user");
          if (user[0] != '\0')
            json_builder_add_string_value (builder, user);
          else
            json_builder_add_null_value (builder);
          json_builder_set_member_name (builder, "listener");
          json_builder_add_string_value (builder, listener);
          json_builder_set_member_name (builder, "start_time");
          json_builder_add_int_value (builder, (gint64) start);
          json_builder_set_member_name (builder, "age");
          json_builder_add_int_value (builder, age);
          json_builder_set_member_name (builder, "bytes");
          json_builder_add_int_value (builder, (gint64) bytes);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      print_json (builder);
      return EXIT_OK;
    }

  g_print ("%-22s %-28s %-9s %-4s %-16s %-12s %8s %10s\n",
           "ID", "CLIENT", "STATE", "TLS", "USER", "LISTENER", "AGE", "BYTES");
  g_variant_iter_init (&iter, sessions);
  while (g_variant_iter_next (&iter, "(&s&s&sb&s&stut)", &id, &client, &state, &tls, &user,
                              &listener, &start, &age, &bytes))
    {
      g_autofree char *age_text = format_age (age);

      g_print ("%-22s %-28s %-9s %-4s %-16s %-12s %8s %10" G_GUINT64_FORMAT "\n",
               id, client, state, tls ? "yes" : "no", user[0] != '\0' ? user : "-", listener,
               age_text, bytes);
    }
  return EXIT_OK;
}

static int
cmd_reload (VsmtpdDBusVsmtpd1 *proxy)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  gboolean success = FALSE;

  if (!vsmtpd_dbus_vsmtpd1_call_reload_sync (proxy, &success, &message, NULL, &error))
    return fail ("reload", error);
  if (!success)
    {
      g_printerr ("vsmtpctl: reload: configuration not reloaded: %s\n", message);
      return EXIT_REFUSED;
    }
  g_print ("%s\n", message);
  return EXIT_OK;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpdDBusVsmtpd1) proxy = NULL;
  g_autofree char *owner = NULL;
  const char *command, *env;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &opt_system,
      "Talk to the vsmtpd on the system bus (the default)", NULL },
    { "session", 0, 0, G_OPTION_ARG_NONE, &opt_session,
      "Talk to the vsmtpd on the session bus", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
      "Print status and sessions as JSON", NULL },
    { "grace", 'g', 0, G_OPTION_ARG_INT, &opt_grace,
      "stop: seconds the sessions get to finish (default: [server] shutdown-grace)", "SECONDS" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &opt_timeout,
      "Seconds to wait for vsmtpd's answer (default: 25); none in time: exit status 3",
      "SECONDS" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      "Show the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  g_set_prgname ("vsmtpctl");
  context = g_option_context_new ("COMMAND [ARGUMENT]");
  g_option_context_set_summary (context,
                                "Asks a running vsmtpd what it is doing, and tells it what to do.\n\n"
                                "Commands:\n"
                                "  status             version, uptime, sessions, totals, listeners\n"
                                "  sessions           the open sessions\n"
                                "  close ID           421 to the client of session ID, and close it\n"
                                "  pause LISTENER     stop accepting on a listener (sessions go on)\n"
                                "  resume LISTENER    accept again\n"
                                "  reload             read the configuration again\n"
                                "  stop [--grace S]   stop vsmtpd");
  g_option_context_set_description (context,
                                    "The bus is the system bus, or the session bus with --session or "
                                    "VSMTPCTL_BUS=session.\n"
                                    "Exit status: 0 done, 1 refused, 2 bad usage, 3 vsmtpd not "
                                    "reachable (or no answer within --timeout), 4 access denied. "
                                    "See vsmtpctl(1).\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("vsmtpctl: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (version)
    {
      g_print ("vsmtpctl %s\n", PACKAGE_VERSION);
      return EXIT_OK;
    }
  if (opt_timeout <= 0 || opt_timeout > G_MAXINT / 1000)
    {
      g_printerr ("vsmtpctl: --timeout: %d is not a number of seconds from 1 to %d\n",
                  opt_timeout, G_MAXINT / 1000);
      return EXIT_USAGE;
    }
  if (opt_session && opt_system)
    {
      g_printerr ("vsmtpctl: --session or --system, not both\n");
      return EXIT_USAGE;
    }
  env = g_getenv ("VSMTPCTL_BUS");
  if (opt_session || (!opt_system && g_strcmp0 (env, "session") == 0))
    bus_type = G_BUS_TYPE_SESSION;
  if (argc < 2)
    {
      g_printerr ("vsmtpctl: no command (status, sessions, close, pause, resume, reload, stop; "
                  "see --help)\n");
      return EXIT_USAGE;
    }
  command = argv[1];
  {
    static const struct { const char *name; int n_args; } commands[] = {
      { "status", 0 }, { "sessions", 0 }, { "close", 1 }, { "pause", 1 }, { "resume", 1 },
      { "reload", 0 }, { "stop", 0 },
    };
    gboolean known = FALSE;

    for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
      if (g_str_equal (command, commands[i].name))
        {
          known = TRUE;
          if (argc - 2 != commands[i].n_args)
            {
              g_printerr ("vsmtpctl: %s takes %s\n", command,
                          commands[i].n_args == 0 ? "no argument" :
                          g_str_equal (command, "close") ? "a session ID" : "a LISTENER name");
              return EXIT_USAGE;
            }
        }
    if (!known)
      {
        g_printerr ("vsmtpctl: unknown command \"%s\" (see --help)\n", command);
        return EXIT_USAGE;
      }
    /* a D-Bus string is UTF-8: anything else cannot be sent */
    if (argc > 2 && !g_utf8_validate (argv[2], -1, NULL))
      {
        g_printerr ("vsmtpctl: %s: the argument is not valid UTF-8\n", command);
        return EXIT_USAGE;
      }
  }

  proxy = vsmtpd_dbus_vsmtpd1_proxy_new_for_bus_sync (bus_type, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START |
                                                      G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
                                                      NAME, PATH, NULL, &error);
  if (proxy == NULL)
    {
      g_printerr ("vsmtpctl: cannot connect to the %s bus: %s\n", bus_name (), error->message);
      return EXIT_UNREACHABLE;
    }
  owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (proxy));
  if (owner == NULL)
    {
      g_printerr ("vsmtpctl: vsmtpd is not running on the %s bus (nobody owns %s; is [server] "
                  "dbus = %s set?)\n", bus_name (), NAME, bus_name ());
      return EXIT_UNREACHABLE;
    }
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (proxy), opt_timeout * 1000);

  if (g_str_equal (command, "status"))
    return cmd_status (proxy);
  if (g_str_equal (command, "sessions"))
    return cmd_sessions (proxy);
  if (g_str_equal (command, "reload"))
    return cmd_reload (proxy);
  if (g_str_equal (command, "close"))
    {
      if (!vsmtpd_dbus_vsmtpd1_call_close_session_sync (proxy, argv[2], NULL, &error))
        return fail ("close", error);
      g_print ("session %s closed\n", argv[2]);
      return EXIT_OK;
    }
  if (g_str_equal (command, "pause"))
    {
      if (!vsmtpd_dbus_vsmtpd1_call_pause_listener_sync (proxy, argv[2], NULL, &error))
        return fail ("pause", error);
      g_print ("listener %s paused\n", argv[2]);
      return EXIT_OK;
    }
  if (g_str_equal (command, "resume"))
    {
      if (!vsmtpd_dbus_vsmtpd1_call_resume_listener_sync (proxy, argv[2], NULL, &error))
        return fail ("resume", error);
      g_print ("listener %s resumed\n", argv[2]);
      return EXIT_OK;
    }
  /* stop */
  if (!vsmtpd_dbus_vsmtpd1_call_stop_sync (proxy, opt_grace, NULL, &error))
    return fail ("stop", error);
  g_print ("vsmtpd is stopping\n");
  return EXIT_OK;
}

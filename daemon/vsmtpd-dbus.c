/* vsmtpd-dbus.c: [server] dbus, the operator's interface org.vsmtp.Vsmtpd1
 * (data/org.vsmtp.Vsmtpd1.xml), which vsmtpctl calls
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The object is registered with the interface description gdbus-codegen
 * made from the XML, and a vtable of our own rather than the generated
 * skeleton: the properties (sessions now, totals, listeners) are read
 * from the server when asked, instead of being kept up to date, with a
 * PropertiesChanged, at every connection.
 *
 * Properties are for anyone who may talk to the daemon; every method call
 * is checked here, whatever the bus policy says: the caller's uid (from
 * the bus) must be root, the daemon's own, or that of a member of
 * [server] dbus-group; or the caller's process runs with that group, as
 * the bus policy sees it (vsmtpd-dbus-caller.c).
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "vsmtpd-dbus.h"
#include "vsmtpd-dbus-caller.h"
#include "vsmtpd-dbus-generated.h"

#define ERROR_NO_SUCH_LISTENER VSMTPD_DBUS_INTERFACE ".Error.NoSuchListener"
#define ERROR_NO_SUCH_SESSION  VSMTPD_DBUS_INTERFACE ".Error.NoSuchSession"

struct _VsmtpdDBus
{
  VsmtpServer           *server;
  VsmtpdDBusHooks        hooks;
  gpointer               user_data;

  GDBusConnection       *connection;
  guint                  registration;
  guint                  owner;
  gulong                 listener_handler;
  guint64                start_time;     /* seconds since the epoch */
  gboolean               has_group;
  gid_t                  group;          /* [server] dbus-group */
  char                  *group_name;
  const char            *bus_name;       /* "session" or "system" */
};

/* A method call waiting for the caller's uid */
typedef struct
{
  VsmtpdDBus            *dbus;
  GDBusMethodInvocation *invocation;
} Call;

/* A D-Bus string is UTF-8. AUTH refuses identities that are not (501
 * 5.5.2), the configuration listener names that are not: this is only a
 * guard, should anything else ever set them */
static char *
dup_valid (const char *text)
{
  return g_utf8_make_valid (text != NULL ? text : "", -1);
}

static GVariant *
listeners_variant (VsmtpdDBus *self)
{
  g_autoptr(GPtrArray) listeners = vsmtp_server_dup_listeners (self->server);
  g_autoptr(GEnumClass) protocols = g_type_class_ref (VSMTP_TYPE_PROTOCOL);
  gboolean tls = vsmtp_server_get_tls_certificate (self->server) != NULL;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ssssb)"));
  for (guint i = 0; i < listeners->len; i++)
    {
      VsmtpListenerInfo *info = listeners->pdata[i];
      VsmtpListenOptions *options = vsmtp_listener_info_get_options (info);
      VsmtpListenFlags flags = vsmtp_listen_options_get_flags (options);
      GSocketAddress *address = vsmtp_listener_info_get_address (info);
      g_autofree char *text = G_IS_SOCKET_CONNECTABLE (address) ?
        g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address)) : g_strdup ("");
      GEnumValue *protocol = g_enum_get_value (protocols, vsmtp_listen_options_get_protocol (options));
      const char *tls_mode = (flags & VSMTP_LISTEN_FLAGS_IMPLICIT_TLS) ? "implicit" :
                             tls ? "starttls" : "none";

      g_autofree char *name = dup_valid (vsmtp_listener_info_get_name (info));

      g_variant_builder_add (&builder, "(ssssb)", name, text,
                             (flags & VSMTP_LISTEN_FLAGS_AUTH_REQUIRED) ? "submission" :
                             protocol != NULL ? protocol->value_nick : "smtp",
                             tls_mode, vsmtp_listener_info_get_paused (info));
    }
  return g_variant_builder_end (&builder);
}

static guint64
metric_total (VsmtpMetrics *metrics,
              const char   *name)
{
  VsmtpMetric *metric = vsmtp_metrics_lookup (metrics, name);

  return metric != NULL ? (guint64) vsmtp_metric_get_total (metric) : 0;
}

/* From the server's metrics: what Prometheus reads too */
static GVariant *
totals_variant (VsmtpdDBus *self)
{
  VsmtpMetrics *metrics = vsmtp_server_get_metrics (self->server);
  VsmtpMetric *messages = vsmtp_metrics_lookup (metrics, "vsmtp_messages_total");
  guint64 accepted = 0, all;
  GVariantBuilder builder;

  if (messages != NULL)
    accepted = (guint64) vsmtp_metric_get_value (messages, (const char * const []) { "2xx", NULL });
  all = metric_total (metrics, "vsmtp_messages_total");
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{st}"));
  g_variant_builder_add (&builder, "{st}", "connections",
                         metric_total (metrics, "vsmtp_connections_accepted_total"));
  g_variant_builder_add (&builder, "{st}", "refusals",
                         metric_total (metrics, "vsmtp_connections_refused_total"));
  g_variant_builder_add (&builder, "{st}", "messages", accepted);
  g_variant_builder_add (&builder, "{st}", "messages-refused", all - accepted);
  g_variant_builder_add (&builder, "{st}", "bytes",
                         metric_total (metrics, "vsmtp_received_bytes_total"));
  return g_variant_builder_end (&builder);
}

static GVariant *
on_get_property (GDBusConnection  *connection,
                 const char       *sender,
                 const char       *object_path,
                 const char       *interface_name,
                 const char       *property_name,
                 GError          **error,
                 gpointer          user_data)
{
  VsmtpdDBus *self = user_data;

  if (g_str_equal (property_name, "Version"))
    return g_variant_new_string (PACKAGE_VERSION);
  if (g_str_equal (property_name, "StartTime"))
    return g_variant_new_uint64 (self->start_time);
  if (g_str_equal (property_name, "Listeners"))
    return listeners_variant (self);
  if (g_str_equal (property_name, "Sessions"))
    return g_variant_new_uint32 (vsmtp_server_get_n_sessions (self->server));
  if (g_str_equal (property_name, "Totals"))
    return totals_variant (self);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
               "no property %s", property_name);
  return NULL;
}

static GVariant *
sessions_variant (VsmtpdDBus *self)
{
  g_autoptr(GPtrArray) sessions = vsmtp_server_dup_sessions (self->server);
  g_autoptr(GEnumClass) states = g_type_class_ref (VSMTP_TYPE_SESSION_STATE);
  gint64 now = g_get_real_time ();
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sssbsstut)"));
  for (guint i = 0; i < sessions->len; i++)
    {
      VsmtpSession *session = sessions->pdata[i];
      GSocketAddress *remote = vsmtp_session_get_remote_address (session);
      g_autofree char *client = remote != NULL && G_IS_SOCKET_CONNECTABLE (remote) ?
        g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote)) : g_strdup ("unknown");
      GEnumValue *state = g_enum_get_value (states, vsmtp_session_get_state (session));
      g_autofree char *user = dup_valid (vsmtp_session_get_authenticated_user (session));
      g_autofree char *listener = dup_valid (vsmtp_session_get_listener_name (session));
      gint64 start = vsmtp_session_get_start_time (session);

      g_variant_builder_add (&builder, "(sssbsstut)",
                             vsmtp_session_get_id (session), client,
                             state != NULL ? state->value_nick : "",
                             vsmtp_session_is_tls (session), user, listener,
                             (guint64) (start / G_USEC_PER_SEC),
                             (guint32) MAX (0, (now - start) / G_USEC_PER_SEC),
                             vsmtp_session_get_bytes_received (session));
    }
  return g_variant_builder_end (&builder);
}

static void
return_error (GDBusMethodInvocation *invocation,
              const char            *name,
              GError                *error)
{
  g_dbus_method_invocation_return_dbus_error (invocation, name, error->message);
}

/* The caller may call: the method itself */
static void
dispatch (VsmtpdDBus            *self,
          GDBusMethodInvocation *invocation,
          uid_t                  uid)
{
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);
  g_autoptr(GError) error = NULL;

  if (g_str_equal (method, "ListSessions"))
    {
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new_tuple ((GVariant *[]) { sessions_variant (self) }, 1));
      return;
    }
  if (g_str_equal (method, "PauseListener") || g_str_equal (method, "ResumeListener"))
    {
      const char *name;
      gboolean ok;

      g_variant_get (parameters, "(&s)", &name);
      ok = method[0] == 'P' ? vsmtp_server_pause_listener (self->server, name, &error)
                            : vsmtp_server_resume_listener (self->server, name, &error);
      if (!ok)
        return_error (invocation, ERROR_NO_SUCH_LISTENER, error);
      else
        g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  if (g_str_equal (method, "CloseSession"))
    {
      const char *id;
      VsmtpSession *session;

      g_variant_get (parameters, "(&s)", &id);
      session = vsmtp_server_lookup_session (self->server, id);
      if (session == NULL)
        {
          g_dbus_method_invocation_return_dbus_error (invocation, ERROR_NO_SUCH_SESSION,
                                                      "no open session has this id");
          return;
        }
      g_info ("%s: closing the session from [%s] at the request of uid %u", id,
              vsmtp_session_get_remote_ip (session) ? vsmtp_session_get_remote_ip (session) : "unknown",
              (guint) uid);
      vsmtp_session_close_gracefully (session);
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  if (g_str_equal (method, "Reload"))
    {
      gboolean ok;

      g_info ("reload requested over D-Bus by uid %u", (guint) uid);
      ok = self->hooks.reload (self->user_data, &error);
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(bs)", ok,
                                                            ok ? "configuration reloaded"
                                                               : error->message));
      return;
    }
  if (g_str_equal (method, "Stop"))
    {
      gint32 grace;

      g_variant_get (parameters, "(i)", &grace);
      g_info ("stop requested over D-Bus by uid %u", (guint) uid);
      g_dbus_method_invocation_return_value (invocation, NULL);
      /* answered first: the caller hears back before the name goes */
      g_dbus_connection_flush_sync (self->connection, NULL, NULL);
      self->hooks.stop (self->user_data, grace);
      return;
    }
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                         "no method %s", method);
}

/* root, the daemon's own user, or a member of [server] dbus-group */
static gboolean
uid_allowed (VsmtpdDBus *self,
             uid_t       uid)
{
  struct passwd *pw;
  gid_t groups[256];
  int n = G_N_ELEMENTS (groups);

  if (uid == 0 || uid == geteuid ())
    return TRUE;
  if (!self->has_group || (pw = getpwuid (uid)) == NULL)
    return FALSE;
  if (pw->pw_gid == self->group)
    return TRUE;
  if (getgrouplist (pw->pw_name, pw->pw_gid, groups, &n) < 0)
    n = G_N_ELEMENTS (groups);
  for (int i = 0; i < n; i++)
    if (groups[i] == self->group)
      return TRUE;
  return FALSE;
}

static void
on_caller_uid (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Call *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autoptr(GVariant) credentials = NULL;
  guint32 uid;

  if (reply != NULL)
    {
      credentials = g_variant_get_child_value (reply, 0);
      if (!g_variant_lookup (credentials, "UnixUserID", "u", &uid))
        g_set_error_literal (&error, G_DBUS_ERROR, G_DBUS_ERROR_FAILED, "the bus does not tell its uid");
    }
  if (error != NULL)
    {
      g_dbus_method_invocation_return_error (call->invocation, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                             "cannot tell who the caller is: %s", error->message);
    }
  else
    {
      if (uid_allowed (call->dbus, uid) ||
          (call->dbus->has_group && vsmtpd_dbus_caller_has_group (credentials, call->dbus->group)))
        dispatch (call->dbus, call->invocation, uid);
      else
        {
          g_info ("D-Bus call %s from uid %u refused: neither root nor a member of %s",
                  g_dbus_method_invocation_get_method_name (call->invocation), (guint) uid,
                  call->dbus->group_name != NULL ? call->dbus->group_name : "[server] dbus-group (unset)");
          g_dbus_method_invocation_return_error (call->invocation, G_DBUS_ERROR,
                                                 G_DBUS_ERROR_ACCESS_DENIED,
                                                 "uid %u may not call %s: only root or a member of %s",
                                                 (guint) uid,
                                                 g_dbus_method_invocation_get_method_name (call->invocation),
                                                 call->dbus->group_name != NULL ?
                                                   call->dbus->group_name : "[server] dbus-group");
        }
    }
  g_object_unref (call->invocation);
  g_free (call);
}

static void
on_method_call (GDBusConnection       *connection,
                const char            *sender,
                const char            *object_path,
                const char            *interface_name,
                const char            *method_name,
                GVariant              *parameters,
                GDBusMethodInvocation *invocation,
                gpointer               user_data)
{
  Call *call = g_new0 (Call, 1);

  call->dbus = user_data;
  call->invocation = g_object_ref (invocation);
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionCredentials",
                          g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_caller_uid, call);
}

static const GDBusInterfaceVTable vtable = {
  .method_call = on_method_call,
  .get_property = on_get_property,
};

static void
emit (VsmtpdDBus *self,
      const char *signal,
      GVariant   *parameters)
{
  g_autoptr(GError) error = NULL;

  if (!g_dbus_connection_emit_signal (self->connection, NULL, VSMTPD_DBUS_PATH, VSMTPD_DBUS_INTERFACE,
                                      signal, parameters, &error))
    g_debug ("D-Bus signal %s not sent: %s", signal, error->message);
}

static void
on_listener_state_changed (VsmtpServer *server,
                           const char  *name,
                           gboolean     paused,
                           gpointer     user_data)
{
  g_autofree char *valid = dup_valid (name);

  emit (user_data, "ListenerStateChanged", g_variant_new ("(sb)", valid, paused));
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  VsmtpdDBus *self = user_data;

  g_info ("D-Bus: owning %s on the %s bus (vsmtpctl --%s)", name, self->bus_name,
          self->bus_name);
}

static void
on_name_lost (GDBusConnection *connection,
              const char      *name,
              gpointer         user_data)
{
  /* another vsmtpd has it, or the bus policy does not allow us: the mail
   * goes on without the interface */
  g_warning ("D-Bus: cannot own the name %s (another vsmtpd has it, or the bus policy "
             "does not allow this user: see org.vsmtp.Vsmtpd1.conf)", name);
}

VsmtpdDBus *
vsmtpd_dbus_start (VsmtpdConfig          *config,
                   VsmtpServer           *server,
                   const VsmtpdDBusHooks *hooks,
                   gpointer               user_data,
                   GError               **error)
{
  g_autoptr(GDBusConnection) connection = NULL;
  VsmtpdDBus *self;

  if (config->dbus == G_BUS_TYPE_NONE)
    return NULL;

  connection = g_bus_get_sync (config->dbus, NULL, error);
  if (connection == NULL)
    return NULL;

  self = g_new0 (VsmtpdDBus, 1);
  self->server = g_object_ref (server);
  self->hooks = *hooks;
  self->user_data = user_data;
  self->connection = g_steal_pointer (&connection);
  self->start_time = g_get_real_time () / G_USEC_PER_SEC;
  self->bus_name = config->dbus == G_BUS_TYPE_SESSION ? "session" : "system";
  self->has_group = config->dbus_group != NULL;
  self->group = config->dbus_gid;
  self->group_name = g_strdup (config->dbus_group);
  /* a Stop must not take the process down with the bus */
  g_dbus_connection_set_exit_on_close (self->connection, FALSE);

  self->registration =
    g_dbus_connection_register_object (self->connection, VSMTPD_DBUS_PATH,
                                       vsmtpd_dbus_vsmtpd1_interface_info (),
                                       &vtable, self, NULL, error);
  if (self->registration == 0)
    {
      vsmtpd_dbus_free (self);
      return NULL;
    }
  self->listener_handler = g_signal_connect (server, "listener-state-changed",
                                             G_CALLBACK (on_listener_state_changed), self);
  self->owner = g_bus_own_name_on_connection (self->connection, VSMTPD_DBUS_NAME,
                                              G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                              on_name_acquired, on_name_lost, self, NULL);
  return self;
}

void
vsmtpd_dbus_reload_done (VsmtpdDBus *self,
                         gboolean    success,
                         const char *message)
{
  if (self == NULL)
    return;
  emit (self, "ReloadDone", g_variant_new ("(bs)", success, message != NULL ? message : ""));
}

void
vsmtpd_dbus_free (VsmtpdDBus *self)
{
  if (self == NULL)
    return;
  if (self->owner != 0)
    g_bus_unown_name (self->owner);
  if (self->registration != 0)
    g_dbus_connection_unregister_object (self->connection, self->registration);
  g_clear_signal_handler (&self->listener_handler, self->server);
  g_dbus_connection_flush_sync (self->connection, NULL, NULL);
  g_clear_object (&self->connection);
  g_clear_object (&self->server);
  g_free (self->group_name);
  g_free (self);
}

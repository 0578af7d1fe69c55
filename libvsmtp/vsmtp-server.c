/* vsmtp-server.c: listeners, limits and the sessions they create
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "vsmtp-enums.h"
#include "vsmtp-error.h"
#include "vsmtp-client-tracker-private.h"
#include "vsmtp-listener-private.h"
#include "vsmtp-extension-private.h"
#include "vsmtp-maintenance.h"
#include "vsmtp-sasl-private.h"
#include "vsmtp-scram-private.h"
#include "vsmtp-server-private.h"
#include "vsmtp-session-private.h"

/**
 * VsmtpServer:
 *
 * An SMTP server: listening sockets, limits and timeouts, and a
 * [signal@Vsmtp.Server::new-session] signal for every connection.
 *
 * Everything runs on the thread-default [struct@GLib.MainContext] of the
 * thread that created the server: there is no thread per connection.
 *
 * A minimal server in C:
 *
 * ```c
 * static VsmtpReply *
 * on_message (VsmtpSession *session, VsmtpMessage *message, gpointer data)
 * {
 *   // store the message durably, then:
 *   return vsmtp_reply_new_ok ();
 * }
 *
 * static void
 * on_new_session (VsmtpServer *server, VsmtpSession *session, gpointer data)
 * {
 *   g_signal_connect (session, "message-received", G_CALLBACK (on_message), NULL);
 * }
 *
 * g_autoptr(VsmtpServer) server = vsmtp_server_new ();
 * g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 2525);
 * g_signal_connect (server, "new-session", G_CALLBACK (on_new_session), NULL);
 * vsmtp_server_listen (server, address, NULL, &error);
 * ```
 */

struct _VsmtpServer
{
  GObject                 parent_instance;

  GPtrArray              *listeners;             /* VsmtpListener */
  GList                  *listen_addresses;
  GHashTable             *sessions;

  char                   *hostname;
  guint64                 max_message_size;
  guint                   max_recipients;
  guint                   max_line_length;
  guint                   timeout;
  guint                   decision_timeout;
  gsize                   spool_threshold;
  char                   *spool_directory;
  GSource                *sweep_source;          /* the daily spool sweep */
  VsmtpBareNewlinePolicy  bare_newline;
  GKeyFile               *config;
  GTlsCertificate        *tls_certificate;
  guint                   tls_handshake_timeout;
  gboolean                require_tls;
  VsmtpServerLimits       limits;
  char                  **auth_mechanisms;
  gboolean                auth_requires_tls;
  guint                   max_auth_failures;
  guint                   auth_failure_window;
  GBytes                 *scram_secret;           /* decoy salts; random until set */
  guint                   scram_decoy_iterations;
  guint                   scram_decoy_salt_length;
  VsmtpClientTracker     *clients;                /* per address: sessions, handshakes, AUTH */
  VsmtpSettings          *settings;               /* what new sessions take; NULL: to make */

  GTask                  *shutdown_task;
  GSource                *grace_source;

  VsmtpExtensionRegistry *extensions;            /* EHLO keywords, MAIL/RCPT parameters */
};

enum {
  PROP_0,
  PROP_HOSTNAME,
  PROP_MAX_MESSAGE_SIZE,
  PROP_MAX_RECIPIENTS,
  PROP_MAX_LINE_LENGTH,
  PROP_TIMEOUT,
  PROP_DECISION_TIMEOUT,
  PROP_SPOOL_THRESHOLD,
  PROP_SPOOL_DIRECTORY,
  PROP_BARE_NEWLINE,
  PROP_CONFIG,
  PROP_TLS_CERTIFICATE,
  PROP_REQUIRE_TLS,
  PROP_TLS_HANDSHAKE_TIMEOUT,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_CONNECTIONS_PER_CLIENT,
  PROP_MAX_TLS_HANDSHAKES,
  PROP_MAX_TLS_HANDSHAKES_PER_CLIENT,
  PROP_SOFT_ERROR_LIMIT,
  PROP_HARD_ERROR_LIMIT,
  PROP_ERROR_SLEEP_TIME,
  PROP_JUNK_COMMAND_LIMIT,
  PROP_MIN_DATA_RATE,
  PROP_FORBID_UNAUTH_PIPELINING,
  PROP_GREET_PAUSE,
  PROP_MAX_HEADER_SIZE,
  PROP_MAX_DATA_LINE_LENGTH,
  PROP_AUTH_MECHANISMS,
  PROP_AUTH_REQUIRES_TLS,
  PROP_MAX_AUTH_FAILURES,
  PROP_AUTH_FAILURE_WINDOW,
  PROP_SCRAM_SECRET,
  PROP_SCRAM_DECOY_ITERATIONS,
  PROP_SCRAM_DECOY_SALT_LENGTH,
  PROP_N_SESSIONS,
  N_PROPS
};

enum {
  SIGNAL_NEW_SESSION,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VsmtpServer, vsmtp_server, G_TYPE_OBJECT)

static GBytes *server_scram_secret (VsmtpServer *self);


#define DEFAULT_MAX_MESSAGE_SIZE  10240000
#define DEFAULT_MAX_RECIPIENTS    1000
#define DEFAULT_MAX_LINE_LENGTH   2048
#define MIN_MAX_LINE_LENGTH       512
#define DEFAULT_TIMEOUT           300
#define DEFAULT_DECISION_TIMEOUT  60000
#define DEFAULT_SPOOL_THRESHOLD   (1024 * 1024)
#define DEFAULT_HANDSHAKE_TIMEOUT 30

/* g_set_str() is GLib 2.76 */
static gboolean
set_str (char       **ptr,
         const char  *value)
{
  if (g_strcmp0 (*ptr, value) == 0)
    return FALSE;
  g_free (*ptr);
  *ptr = g_strdup (value);
  return TRUE;
}

/* A connection a listener accepted: a session for it */
static gboolean
on_accepted (VsmtpListener    *listener,
             GSocket          *client,
             VsmtpListenFlags  flags,
             gpointer          user_data)
{
  VsmtpServer *self = user_data;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(VsmtpServer) alive = NULL;
  GWeakRef weak;

  connection = g_socket_connection_factory_create_connection (client);
  remote = g_socket_get_remote_address (client, NULL);
  g_weak_ref_init (&weak, self);
  vsmtp_server_handle_connection_full (self, G_IO_STREAM (connection), remote,
                                       flags & ~VSMTP_LISTEN_FLAGS_REUSE_PORT);

  /* a handler may have stopped the server listening (freeing @listener),
   * or dropped the server */
  alive = g_weak_ref_get (&weak);
  g_weak_ref_clear (&weak);
  return alive != NULL && alive->listeners != NULL &&
         g_ptr_array_find (alive->listeners, listener, NULL);
}

/* Spooled messages a crash left behind: removed when the server starts
 * listening, then daily. */
static gboolean
sweep_spool (gpointer user_data)
{
  VsmtpServer *self = user_data;
  const char *directory = self->spool_directory ? self->spool_directory : g_get_tmp_dir ();
  g_autoptr(GError) error = NULL;

  if (!vsmtp_remove_stale_files (directory, "vsmtp-", VSMTP_STALE_FILE_AGE, NULL, &error))
    g_warning ("cannot look for leftover spool files: %s", error->message);
  return G_SOURCE_CONTINUE;
}

static gboolean
server_add_listener (VsmtpServer       *self,
                     GSocket           *socket,
                     VsmtpListenFlags   flags,
                     GSocketAddress   **effective_address,
                     GError           **error)
{
  VsmtpListener *listener;
  GSocketAddress *local;

  listener = _vsmtp_listener_new (socket, flags, on_accepted, self, error);
  if (listener == NULL)
    return FALSE;
  local = g_object_ref (_vsmtp_listener_get_local_address (listener));
  g_ptr_array_add (self->listeners, listener);

  if (self->sweep_source == NULL)
    {
      sweep_spool (self);
      self->sweep_source = g_timeout_source_new_seconds (24 * 3600);
      g_source_set_callback (self->sweep_source, sweep_spool, self, NULL);
      g_source_set_static_name (self->sweep_source, "[vsmtp] spool sweep");
      g_source_attach (self->sweep_source, g_main_context_get_thread_default ());
    }

  self->listen_addresses = g_list_append (self->listen_addresses, local);
  if (effective_address != NULL)
    *effective_address = g_object_ref (local);
  return TRUE;
}

static void
server_maybe_finish_shutdown (VsmtpServer *self)
{
  g_autoptr(GTask) task = NULL;

  if (self->shutdown_task == NULL || g_hash_table_size (self->sessions) > 0)
    return;

  task = g_steal_pointer (&self->shutdown_task);
  if (self->grace_source != NULL)
    {
      g_source_destroy (self->grace_source);
      g_clear_pointer (&self->grace_source, g_source_unref);
    }
  g_task_return_boolean (task, TRUE);
}

/* Connected (after the handlers of others) to every session's "closed":
 * the server's accounting follows the sessions, the sessions never call it */
static void
on_session_closed (VsmtpSession *session,
                   VsmtpServer  *self)
{
  if (_vsmtp_session_get_counted (session))
    {
      _vsmtp_client_tracker_connection_closed (self->clients, vsmtp_session_get_remote_ip (session));
      _vsmtp_session_set_counted (session, FALSE);
    }
  g_signal_handlers_disconnect_by_func (session, on_session_closed, self);
  if (g_hash_table_remove (self->sessions, session))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SESSIONS]);
      server_maybe_finish_shutdown (self);
    }
}

static void
vsmtp_server_dispose (GObject *object)
{
  VsmtpServer *self = VSMTP_SERVER (object);

  vsmtp_server_stop_listening (self);
  if (self->sweep_source != NULL)
    {
      g_source_destroy (self->sweep_source);
      g_clear_pointer (&self->sweep_source, g_source_unref);
    }

  if (self->sessions != NULL)
    {
      GList *list = g_hash_table_get_keys (self->sessions);

      for (GList *l = list; l != NULL; l = l->next)
        g_object_ref (l->data);
      for (GList *l = list; l != NULL; l = l->next)
        {
          vsmtp_session_close (l->data, NULL);
          g_object_unref (l->data);
        }
      g_list_free (list);
      g_hash_table_remove_all (self->sessions);
    }

  G_OBJECT_CLASS (vsmtp_server_parent_class)->dispose (object);
}

static void
vsmtp_server_finalize (GObject *object)
{
  VsmtpServer *self = VSMTP_SERVER (object);

  g_clear_pointer (&self->sessions, g_hash_table_unref);
  g_clear_pointer (&self->clients, _vsmtp_client_tracker_unref);
  g_clear_pointer (&self->settings, _vsmtp_settings_unref);
  g_clear_pointer (&self->extensions, _vsmtp_extension_registry_free);
  g_strfreev (self->auth_mechanisms);
  g_clear_pointer (&self->scram_secret, g_bytes_unref);
  g_list_free_full (self->listen_addresses, g_object_unref);
  g_clear_pointer (&self->config, g_key_file_unref);
  g_clear_object (&self->tls_certificate);
  g_clear_pointer (&self->listeners, g_ptr_array_unref);
  g_free (self->hostname);
  g_free (self->spool_directory);

  G_OBJECT_CLASS (vsmtp_server_parent_class)->finalize (object);
}

static void
vsmtp_server_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  VsmtpServer *self = VSMTP_SERVER (object);

  switch (prop_id)
    {
    case PROP_HOSTNAME:
      g_value_set_string (value, self->hostname);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, self->max_message_size);
      break;
    case PROP_MAX_RECIPIENTS:
      g_value_set_uint (value, self->max_recipients);
      break;
    case PROP_MAX_LINE_LENGTH:
      g_value_set_uint (value, self->max_line_length);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;
    case PROP_DECISION_TIMEOUT:
      g_value_set_uint (value, self->decision_timeout);
      break;
    case PROP_SPOOL_THRESHOLD:
      g_value_set_uint64 (value, self->spool_threshold);
      break;
    case PROP_SPOOL_DIRECTORY:
      g_value_set_string (value, self->spool_directory);
      break;
    case PROP_BARE_NEWLINE:
      g_value_set_enum (value, self->bare_newline);
      break;
    case PROP_CONFIG:
      g_value_set_boxed (value, self->config);
      break;
    case PROP_TLS_CERTIFICATE:
      g_value_set_object (value, self->tls_certificate);
      break;
    case PROP_REQUIRE_TLS:
      g_value_set_boolean (value, self->require_tls);
      break;
    case PROP_TLS_HANDSHAKE_TIMEOUT:
      g_value_set_uint (value, self->tls_handshake_timeout);
      break;
    case PROP_MAX_CONNECTIONS:
      g_value_set_uint (value, self->limits.max_connections);
      break;
    case PROP_MAX_CONNECTIONS_PER_CLIENT:
      g_value_set_uint (value, self->limits.max_connections_per_client);
      break;
    case PROP_MAX_TLS_HANDSHAKES:
      g_value_set_uint (value, self->limits.max_tls_handshakes);
      break;
    case PROP_MAX_TLS_HANDSHAKES_PER_CLIENT:
      g_value_set_uint (value, self->limits.max_tls_handshakes_per_client);
      break;
    case PROP_SOFT_ERROR_LIMIT:
      g_value_set_uint (value, self->limits.soft_error_limit);
      break;
    case PROP_HARD_ERROR_LIMIT:
      g_value_set_uint (value, self->limits.hard_error_limit);
      break;
    case PROP_ERROR_SLEEP_TIME:
      g_value_set_uint (value, self->limits.error_sleep_time);
      break;
    case PROP_GREET_PAUSE:
      g_value_set_uint (value, self->limits.greet_pause);
      break;
    case PROP_JUNK_COMMAND_LIMIT:
      g_value_set_uint (value, self->limits.junk_command_limit);
      break;
    case PROP_MIN_DATA_RATE:
      g_value_set_uint (value, self->limits.min_data_rate);
      break;
    case PROP_FORBID_UNAUTH_PIPELINING:
      g_value_set_boolean (value, self->limits.forbid_unauth_pipelining);
      break;
    case PROP_MAX_HEADER_SIZE:
      g_value_set_uint (value, self->limits.max_header_size);
      break;
    case PROP_MAX_DATA_LINE_LENGTH:
      g_value_set_uint (value, self->limits.max_data_line_length);
      break;
    case PROP_AUTH_MECHANISMS:
      g_value_set_boxed (value, self->auth_mechanisms);
      break;
    case PROP_AUTH_REQUIRES_TLS:
      g_value_set_boolean (value, self->auth_requires_tls);
      break;
    case PROP_MAX_AUTH_FAILURES:
      g_value_set_uint (value, self->max_auth_failures);
      break;
    case PROP_AUTH_FAILURE_WINDOW:
      g_value_set_uint (value, self->auth_failure_window);
      break;
    case PROP_SCRAM_SECRET:
      g_value_set_boxed (value, self->scram_secret);
      break;
    case PROP_SCRAM_DECOY_ITERATIONS:
      g_value_set_uint (value, self->scram_decoy_iterations);
      break;
    case PROP_SCRAM_DECOY_SALT_LENGTH:
      g_value_set_uint (value, self->scram_decoy_salt_length);
      break;
    case PROP_N_SESSIONS:
      g_value_set_uint (value, g_hash_table_size (self->sessions));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_server_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  VsmtpServer *self = VSMTP_SERVER (object);

  switch (prop_id)
    {
    case PROP_HOSTNAME:
      vsmtp_server_set_hostname (self, g_value_get_string (value));
      break;
    case PROP_MAX_MESSAGE_SIZE:
      vsmtp_server_set_max_message_size (self, g_value_get_uint64 (value));
      break;
    case PROP_MAX_RECIPIENTS:
      vsmtp_server_set_max_recipients (self, g_value_get_uint (value));
      break;
    case PROP_MAX_LINE_LENGTH:
      vsmtp_server_set_max_line_length (self, g_value_get_uint (value));
      break;
    case PROP_TIMEOUT:
      vsmtp_server_set_timeout (self, g_value_get_uint (value));
      break;
    case PROP_DECISION_TIMEOUT:
      vsmtp_server_set_decision_timeout (self, g_value_get_uint (value));
      break;
    case PROP_SPOOL_THRESHOLD:
      vsmtp_server_set_spool_threshold (self, g_value_get_uint64 (value));
      break;
    case PROP_SPOOL_DIRECTORY:
      vsmtp_server_set_spool_directory (self, g_value_get_string (value));
      break;
    case PROP_BARE_NEWLINE:
      vsmtp_server_set_bare_newline (self, g_value_get_enum (value));
      break;
    case PROP_CONFIG:
      vsmtp_server_set_config (self, g_value_get_boxed (value));
      break;
    case PROP_TLS_CERTIFICATE:
      vsmtp_server_set_tls_certificate (self, g_value_get_object (value));
      break;
    case PROP_REQUIRE_TLS:
      vsmtp_server_set_require_tls (self, g_value_get_boolean (value));
      break;
    case PROP_TLS_HANDSHAKE_TIMEOUT:
      vsmtp_server_set_tls_handshake_timeout (self, g_value_get_uint (value));
      break;
    case PROP_MAX_CONNECTIONS:
      self->limits.max_connections = g_value_get_uint (value);
      break;
    case PROP_MAX_CONNECTIONS_PER_CLIENT:
      self->limits.max_connections_per_client = g_value_get_uint (value);
      break;
    case PROP_MAX_TLS_HANDSHAKES:
      self->limits.max_tls_handshakes = g_value_get_uint (value);
      break;
    case PROP_MAX_TLS_HANDSHAKES_PER_CLIENT:
      self->limits.max_tls_handshakes_per_client = g_value_get_uint (value);
      break;
    case PROP_SOFT_ERROR_LIMIT:
      self->limits.soft_error_limit = g_value_get_uint (value);
      break;
    case PROP_HARD_ERROR_LIMIT:
      self->limits.hard_error_limit = g_value_get_uint (value);
      break;
    case PROP_ERROR_SLEEP_TIME:
      self->limits.error_sleep_time = g_value_get_uint (value);
      break;
    case PROP_GREET_PAUSE:
      self->limits.greet_pause = g_value_get_uint (value);
      break;
    case PROP_JUNK_COMMAND_LIMIT:
      self->limits.junk_command_limit = g_value_get_uint (value);
      break;
    case PROP_MIN_DATA_RATE:
      self->limits.min_data_rate = g_value_get_uint (value);
      break;
    case PROP_FORBID_UNAUTH_PIPELINING:
      self->limits.forbid_unauth_pipelining = g_value_get_boolean (value);
      break;
    case PROP_MAX_HEADER_SIZE:
      self->limits.max_header_size = g_value_get_uint (value);
      break;
    case PROP_MAX_DATA_LINE_LENGTH:
      self->limits.max_data_line_length = g_value_get_uint (value);
      break;
    case PROP_AUTH_MECHANISMS:
      vsmtp_server_set_auth_mechanisms (self, g_value_get_boxed (value));
      break;
    case PROP_AUTH_REQUIRES_TLS:
      self->auth_requires_tls = g_value_get_boolean (value);
      break;
    case PROP_MAX_AUTH_FAILURES:
      self->max_auth_failures = g_value_get_uint (value);
      break;
    case PROP_AUTH_FAILURE_WINDOW:
      self->auth_failure_window = g_value_get_uint (value);
      break;
    case PROP_SCRAM_SECRET:
      g_clear_pointer (&self->scram_secret, g_bytes_unref);
      if (g_value_get_boxed (value) != NULL)
        self->scram_secret = g_bytes_ref (g_value_get_boxed (value));
      break;
    case PROP_SCRAM_DECOY_ITERATIONS:
      self->scram_decoy_iterations = g_value_get_uint (value);
      break;
    case PROP_SCRAM_DECOY_SALT_LENGTH:
      self->scram_decoy_salt_length = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* A changed property makes the next session take new settings (the
 * number of sessions is not one of them) */
static void
vsmtp_server_notify (GObject    *object,
                     GParamSpec *pspec)
{
  VsmtpServer *self = VSMTP_SERVER (object);

  if (pspec != properties[PROP_N_SESSIONS] && pspec != properties[PROP_CONFIG])
    g_clear_pointer (&self->settings, _vsmtp_settings_unref);

  if (G_OBJECT_CLASS (vsmtp_server_parent_class)->notify != NULL)
    G_OBJECT_CLASS (vsmtp_server_parent_class)->notify (object, pspec);
}

VsmtpSettings *
_vsmtp_server_get_settings (VsmtpServer *self)
{
  VsmtpSettings *settings;

  if (self->settings != NULL)
    return self->settings;

  settings = _vsmtp_settings_new ();
  settings->hostname = g_strdup (self->hostname);
  settings->max_message_size = self->max_message_size;
  settings->max_recipients = self->max_recipients;
  settings->max_line_length = self->max_line_length;
  settings->timeout = self->timeout;
  settings->decision_timeout = self->decision_timeout;
  settings->spool_threshold = self->spool_threshold;
  settings->spool_directory = g_strdup (self->spool_directory);
  settings->bare_newline = self->bare_newline;
  settings->tls_certificate = self->tls_certificate != NULL ? g_object_ref (self->tls_certificate) : NULL;
  settings->require_tls = self->require_tls;
  settings->tls_handshake_timeout = self->tls_handshake_timeout;
  settings->limits = self->limits;
  settings->auth_mechanisms = g_strdupv (self->auth_mechanisms);
  settings->auth_requires_tls = self->auth_requires_tls;
  settings->max_auth_failures = self->max_auth_failures;
  settings->auth_failure_window = self->auth_failure_window;
  settings->extensions = self->extensions;
  settings->scram_secret = g_bytes_ref (server_scram_secret (self));
  settings->scram_decoy_iterations = self->scram_decoy_iterations;
  settings->scram_decoy_salt_length = self->scram_decoy_salt_length;
  self->settings = settings;
  return settings;
}

VsmtpClientTracker *
_vsmtp_server_get_client_tracker (VsmtpServer *self)
{
  return self->clients;
}

static void
vsmtp_server_class_init (VsmtpServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vsmtp_server_dispose;
  object_class->finalize = vsmtp_server_finalize;
  object_class->notify = vsmtp_server_notify;
  object_class->get_property = vsmtp_server_get_property;
  object_class->set_property = vsmtp_server_set_property;

  /**
   * VsmtpServer:hostname:
   *
   * The name the server gives in its greeting, EHLO reply and `Received:`
   * headers. Defaults to the machine's host name.
   */
  properties[PROP_HOSTNAME] =
    g_param_spec_string ("hostname", NULL,
                         "The name in the greeting, the EHLO reply and Received: headers", NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:max-message-size:
   *
   * The largest message accepted, in bytes: advertised with SIZE, checked
   * against MAIL's SIZE= parameter and enforced while receiving (`552 5.3.4`).
   */
  properties[PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint64 ("max-message-size", NULL,
                         "The largest message accepted", 1, G_MAXUINT64, DEFAULT_MAX_MESSAGE_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:max-recipients:
   *
   * The most recipients accepted for one message (`452 4.5.3` past it).
   */
  properties[PROP_MAX_RECIPIENTS] =
    g_param_spec_uint ("max-recipients", NULL,
                       "The most recipients of one message", 1, G_MAXUINT, DEFAULT_MAX_RECIPIENTS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:max-line-length:
   *
   * The longest command line accepted, in bytes including CRLF (at least
   * 512, RFC 5321 4.5.3.1.4). A longer one gets `500 5.5.2`.
   */
  properties[PROP_MAX_LINE_LENGTH] =
    g_param_spec_uint ("max-line-length", NULL,
                       "The longest command line accepted, CRLF included", MIN_MAX_LINE_LENGTH, G_MAXINT, DEFAULT_MAX_LINE_LENGTH,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:timeout:
   *
   * Seconds a session may stay silent before it gets `421 4.4.2` and is
   * closed; 0 disables the timeout.
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL,
                       "How long a client may stay silent before its session is closed", 0, G_MAXUINT, DEFAULT_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:decision-timeout:
   *
   * Milliseconds a deferred decision (a pending [class@Vsmtp.Reply]) may
   * take; past it the client gets `451 4.3.0`.
   */
  properties[PROP_DECISION_TIMEOUT] =
    g_param_spec_uint ("decision-timeout", NULL,
                       "How long a deferred decision may take before the client gets 451", 1, G_MAXUINT, DEFAULT_DECISION_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:spool-threshold:
   *
   * Messages up to this many bytes are kept in memory; larger ones are
   * spooled to a temporary file in [property@Vsmtp.Server:spool-directory].
   */
  properties[PROP_SPOOL_THRESHOLD] =
    g_param_spec_uint64 ("spool-threshold", NULL,
                         "Messages larger than this are spooled to a file while received", 0, G_MAXSIZE, DEFAULT_SPOOL_THRESHOLD,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:spool-directory:
   *
   * Where large messages are spooled while received (files named
   * `vsmtp-XXXXXX`); %NULL for the system's temporary folder.
   *
   * Spool files a crash left there are removed when the server starts
   * listening and then daily, once older than %VSMTP_STALE_FILE_AGE (see
   * vsmtp_remove_stale_files()).
   */
  properties[PROP_SPOOL_DIRECTORY] =
    g_param_spec_string ("spool-directory", NULL,
                         "Where large messages are spooled", NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:bare-newline:
   *
   * What to do with a bare CR or LF in message content.
   *
   * The default, %VSMTP_BARE_NEWLINE_NORMALIZE, accepts the bare line ends
   * that common clients send (`curl -T` with a Unix text file, scripts) and
   * stores CRLF in their place. It is as safe against SMTP smuggling as
   * %VSMTP_BARE_NEWLINE_REJECT: in either mode only CRLF "." CRLF ends the
   * message, and the stored message has no bare line end left for a later
   * hop to misread.
   */
  properties[PROP_BARE_NEWLINE] =
    g_param_spec_enum ("bare-newline", NULL,
                       "What to do with a bare CR or LF in message content", VSMTP_TYPE_BARE_NEWLINE_POLICY,
                       VSMTP_BARE_NEWLINE_NORMALIZE,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:config:
   *
   * The configuration the server was set up from, if any, so plugins can
   * read their own groups.
   */
  properties[PROP_CONFIG] =
    g_param_spec_boxed ("config", NULL,
                        "The configuration the server was set up from", G_TYPE_KEY_FILE,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:tls-certificate:
   *
   * The certificate (with its private key) for STARTTLS and implicit-TLS
   * listeners. Without one, STARTTLS is not offered. Setting a new one
   * affects handshakes started afterwards: sessions in progress go on.
   */
  properties[PROP_TLS_CERTIFICATE] =
    g_param_spec_object ("tls-certificate", NULL,
                         "The certificate for STARTTLS and implicit TLS", G_TYPE_TLS_CERTIFICATE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:require-tls:
   *
   * Whether mail commands need TLS: MAIL on a plain connection gets
   * `530 5.7.0 Must issue a STARTTLS command first`.
   */
  properties[PROP_REQUIRE_TLS] =
    g_param_spec_boolean ("require-tls", NULL,
                          "Whether MAIL needs TLS", FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:tls-handshake-timeout:
   *
   * Seconds a TLS handshake may take before the connection is closed.
   */
  properties[PROP_TLS_HANDSHAKE_TIMEOUT] =
    g_param_spec_uint ("tls-handshake-timeout", NULL,
                       "How long a TLS handshake may take", 1, G_MAXUINT, DEFAULT_HANDSHAKE_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:max-connections:
   *
   * The most sessions open at once; a connection past it gets
   * `421 4.7.0 <host> Error: too many connections` and is closed. 0: no limit.
   */
  properties[PROP_MAX_CONNECTIONS] =
    g_param_spec_uint ("max-connections", NULL,
                       "The most sessions at once; 0: no limit", 0, G_MAXUINT, 10000,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:max-connections-per-client:
   *
   * The most sessions open at once from one IP address (Postfix's
   * smtpd_client_connection_count_limit); past it
   * `421 4.7.0 <host> Error: too many connections from <address>`. 0: no limit.
   */
  properties[PROP_MAX_CONNECTIONS_PER_CLIENT] =
    g_param_spec_uint ("max-connections-per-client", NULL,
                       "The most sessions at once from one address; 0: no limit", 0, G_MAXUINT, 50,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:max-tls-handshakes:
   *
   * The most TLS handshakes in progress at once. glib-networking runs each
   * on a worker thread, and a client that stalls in the middle of one holds
   * it for up to [property@Vsmtp.Server:tls-handshake-timeout] seconds.
   * Past the limit, STARTTLS gets
   * `454 4.7.0 TLS not available due to temporary reason` (RFC 3207) and a
   * connection to an implicit-TLS listener is closed at once. 0: no limit.
   */
  properties[PROP_MAX_TLS_HANDSHAKES] =
    g_param_spec_uint ("max-tls-handshakes", NULL,
                       "The most TLS handshakes in progress at once; 0: no limit", 0, G_MAXUINT, 100,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:max-tls-handshakes-per-client:
   *
   * The same per client IP address, so that one client cannot take every
   * handshake slot. 0: no limit.
   */
  properties[PROP_MAX_TLS_HANDSHAKES_PER_CLIENT] =
    g_param_spec_uint ("max-tls-handshakes-per-client", NULL,
                       "The most TLS handshakes at once from one address; 0: no limit", 0, G_MAXUINT, 10,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:soft-error-limit:
   *
   * After this many error replies in a session, each further error reply is
   * delayed by [property@Vsmtp.Server:error-sleep-time].
   */
  properties[PROP_SOFT_ERROR_LIMIT] =
    g_param_spec_uint ("soft-error-limit", NULL,
                       "Error replies in a session past which each one is delayed", 0, G_MAXUINT, 10,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:hard-error-limit:
   *
   * After this many error replies in a session the client gets
   * `421 4.7.0 <host> Error: too many errors` and is disconnected. 0: no limit.
   */
  properties[PROP_HARD_ERROR_LIMIT] =
    g_param_spec_uint ("hard-error-limit", NULL,
                       "Error replies in a session at which the client is disconnected; 0: never", 0, G_MAXUINT, 20,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:error-sleep-time:
   *
   * Milliseconds each error reply past the soft error limit is delayed.
   */
  properties[PROP_ERROR_SLEEP_TIME] =
    g_param_spec_uint ("error-sleep-time", NULL,
                       "How long each error reply past soft-error-limit is delayed", 0, 60000, 1000,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:greet-pause:
   *
   * Milliseconds a session waits after the connection before it sends the
   * `220` greeting (on implicit-TLS listeners: after the handshake). A
   * client that talks in that time (an early talker, typically a spam bot
   * that does not wait for the server) is refused with
   * `554 5.5.0 Error: SMTP protocol synchronization` and disconnected,
   * whatever [property@Vsmtp.Server:forbid-unauth-pipelining] says. 0 (the
   * default): no pause. Postfix's postscreen uses 6 seconds on port 25;
   * a few hundred milliseconds catch most bots without delaying real
   * servers noticeably.
   */
  properties[PROP_GREET_PAUSE] =
    g_param_spec_uint ("greet-pause", NULL,
                       "How long to wait before the greeting; a client that talks meanwhile is refused", 0, 60000, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:junk-command-limit:
   *
   * After this many NOOP, RSET, VRFY, HELO and EHLO commands in a session,
   * each further one counts as an error. 0: no limit.
   */
  properties[PROP_JUNK_COMMAND_LIMIT] =
    g_param_spec_uint ("junk-command-limit", NULL,
                       "NOOP, RSET, VRFY, HELO and EHLO in a session past which each counts as an error", 0, G_MAXUINT, 100,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:min-data-rate:
   *
   * The slowest rate, in bytes per second, at which message content may
   * arrive: the DATA deadline ([property@Vsmtp.Server:timeout] after DATA)
   * is extended by the time the bytes received would take at this rate, so a
   * trickling client cannot hold a session open for long. 0: only the
   * per-read timeout applies.
   */
  properties[PROP_MIN_DATA_RATE] =
    g_param_spec_uint ("min-data-rate", NULL,
                       "The slowest rate message content may arrive at; 0: no minimum", 0, G_MAXUINT, 500,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:forbid-unauth-pipelining:
   *
   * Whether a client that talks before the greeting, pipelines commands
   * without having been offered PIPELINING, or sends more after DATA before
   * the `354`, gets `554 5.5.0 Error: SMTP protocol synchronization` and is
   * disconnected.
   */
  properties[PROP_FORBID_UNAUTH_PIPELINING] =
    g_param_spec_boolean ("forbid-unauth-pipelining", NULL,
                          "Whether a client that talks out of turn is disconnected", TRUE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:max-header-size:
   *
   * The largest header section accepted, in bytes (Postfix's
   * header_size_limit); a message with a larger one gets
   * `552 5.3.4 Error: message header too big` at its end. 0: no limit.
   */
  properties[PROP_MAX_HEADER_SIZE] =
    g_param_spec_uint ("max-header-size", NULL,
                       "The largest header section accepted; 0: no limit", 0, G_MAXUINT, 102400,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:max-data-line-length:
   *
   * The longest line of message content accepted, in bytes including CRLF;
   * a message with a longer one gets `500 5.5.2 Error: message line too long`
   * at its end. RFC 5321 asks clients for at most 1000; the default, 0,
   * accepts any length and never rewrites content (Postfix splits long lines
   * instead, which breaks signatures).
   */
  properties[PROP_MAX_DATA_LINE_LENGTH] =
    g_param_spec_uint ("max-data-line-length", NULL,
                       "The longest line of message content accepted, CRLF included; 0: no limit", 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:auth-mechanisms:
   *
   * The SASL mechanisms offered with AUTH (RFC 4954), for example
   * `PLAIN` and `LOGIN`; %NULL (the default) offers no AUTH. Credentials
   * are checked by handlers of [signal@Vsmtp.Session::authenticate]: set
   * this when such a handler exists (an authentication plugin does).
   */
  properties[PROP_AUTH_MECHANISMS] =
    g_param_spec_boxed ("auth-mechanisms", NULL,
                        "The SASL mechanisms offered with AUTH", G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:auth-requires-tls:
   *
   * Whether AUTH is offered only over TLS (the default): on a plain
   * connection it is not advertised and gets
   * `538 5.7.11 Encryption required for requested authentication mechanism`.
   */
  properties[PROP_AUTH_REQUIRES_TLS] =
    g_param_spec_boolean ("auth-requires-tls", NULL,
                          "Whether AUTH is offered only over TLS", TRUE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:max-auth-failures:
   *
   * How many failed AUTH attempts one client address may make within
   * [property@Vsmtp.Server:auth-failure-window]; past it every AUTH gets
   * `454 4.7.0` without checking credentials. 0: no limit.
   */
  properties[PROP_MAX_AUTH_FAILURES] =
    g_param_spec_uint ("max-auth-failures", NULL,
                       "Failed AUTH attempts one address may make in auth-failure-window; 0: no limit", 0, G_MAXUINT, 5,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:auth-failure-window:
   *
   * Seconds over which failed AUTH attempts are counted per client address.
   */
  properties[PROP_AUTH_FAILURE_WINDOW] =
    g_param_spec_uint ("auth-failure-window", NULL,
                       "How long failed AUTH attempts of an address are counted", 1, G_MAXUINT, 300,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:scram-secret:
   *
   * The secret the salts of decoy SCRAM credentials are derived from. A
   * user without SCRAM credentials (unknown, or with a crypt(3) hash only:
   * no handler of [signal@Vsmtp.Session::lookup-scram-credentials] answered)
   * is not told so: the server answers with a salt derived from this secret
   * and the user name (the same at every attempt), the iteration count
   * [property@Vsmtp.Server:scram-decoy-iterations], and fails the exchange
   * at the proof, like a wrong password. %NULL (the default): 32 random
   * bytes chosen at the first SCRAM exchange, which change when the process
   * restarts; set a stable secret (vsmtpd keeps one in its state folder) so
   * that a decoy salt does not change when real ones do not. At least 16
   * bytes.
   */
  properties[PROP_SCRAM_SECRET] =
    g_param_spec_boxed ("scram-secret", NULL,
                        "The secret decoy SCRAM salts are derived from", G_TYPE_BYTES,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:scram-decoy-iterations:
   *
   * The iteration count announced to users without SCRAM credentials (see
   * [property@Vsmtp.Server:scram-secret]): make it the count real entries
   * use (the passwd plugin sets the one most of its entries use).
   */
  properties[PROP_SCRAM_DECOY_ITERATIONS] =
    g_param_spec_uint ("scram-decoy-iterations", NULL,
                       "The iteration count announced to users without SCRAM credentials",
                       VSMTP_SCRAM_MIN_ITERATIONS, G_MAXUINT, VSMTP_SCRAM_DEFAULT_ITERATIONS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:scram-decoy-salt-length:
   *
   * The salt length, in bytes, announced to users without SCRAM credentials
   * (see [property@Vsmtp.Server:scram-secret]): make it the length real
   * entries use (16 for vsmtpd-passwd and
   * [ctor@Vsmtp.ScramCredentials.new_from_password], 12 for
   * `gsasl --mkpasswd`).
   */
  properties[PROP_SCRAM_DECOY_SALT_LENGTH] =
    g_param_spec_uint ("scram-decoy-salt-length", NULL,
                       "The salt length announced to users without SCRAM credentials",
                       1, 32, VSMTP_SCRAM_SALT_LENGTH,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:n-sessions:
   *
   * The number of open sessions.
   */
  properties[PROP_N_SESSIONS] =
    g_param_spec_uint ("n-sessions", NULL,
                       "The number of open sessions", 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VsmtpServer::new-session:
   * @self: the server
   * @session: the new session
   *
   * Emitted for every new connection, before the greeting: connect to the
   * session's command signals here.
   */
  signals[SIGNAL_NEW_SESSION] =
    g_signal_new ("new-session", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, VSMTP_TYPE_SESSION);
}

static void
vsmtp_server_init (VsmtpServer *self)
{
  self->sessions = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->extensions = _vsmtp_extension_registry_new (self);
  self->hostname = g_strdup (g_get_host_name ());
  self->max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
  self->max_recipients = DEFAULT_MAX_RECIPIENTS;
  self->max_line_length = DEFAULT_MAX_LINE_LENGTH;
  self->timeout = DEFAULT_TIMEOUT;
  self->decision_timeout = DEFAULT_DECISION_TIMEOUT;
  self->spool_threshold = DEFAULT_SPOOL_THRESHOLD;
  self->bare_newline = VSMTP_BARE_NEWLINE_NORMALIZE;
  self->tls_handshake_timeout = DEFAULT_HANDSHAKE_TIMEOUT;
  self->listeners = g_ptr_array_new_with_free_func ((GDestroyNotify) _vsmtp_listener_free);
  self->clients = _vsmtp_client_tracker_new ();
  self->limits.max_connections = 10000;
  self->limits.max_connections_per_client = 50;
  self->limits.max_tls_handshakes = 100;
  self->limits.max_tls_handshakes_per_client = 10;
  self->limits.soft_error_limit = 10;
  self->limits.hard_error_limit = 20;
  self->limits.error_sleep_time = 1000;
  self->limits.junk_command_limit = 100;
  self->limits.min_data_rate = 500;
  self->limits.forbid_unauth_pipelining = TRUE;
  self->limits.max_header_size = 102400;
  self->auth_requires_tls = TRUE;
  self->max_auth_failures = 5;
  self->auth_failure_window = 300;
  self->scram_decoy_iterations = VSMTP_SCRAM_DEFAULT_ITERATIONS;
  self->scram_decoy_salt_length = VSMTP_SCRAM_SALT_LENGTH;
}

/* The per-address accounting is the client tracker's: the session asks
 * through these, with the server's limits. */
gboolean
_vsmtp_server_auth_blocked (VsmtpServer *self,
                            const char  *ip)
{
  return _vsmtp_client_tracker_auth_blocked (self->clients, ip, self->max_auth_failures,
                                             self->auth_failure_window);
}

gboolean
_vsmtp_server_auth_attempt_begin (VsmtpServer *self,
                                  const char  *ip)
{
  return _vsmtp_client_tracker_auth_attempt_begin (self->clients, ip, self->max_auth_failures,
                                                   self->auth_failure_window);
}

void
_vsmtp_server_auth_attempt_end (VsmtpServer *self,
                                const char  *ip,
                                gboolean     succeeded)
{
  _vsmtp_client_tracker_auth_attempt_end (self->clients, ip, succeeded, self->auth_failure_window);
}

void
_vsmtp_server_auth_failed (VsmtpServer *self,
                           const char  *ip)
{
  _vsmtp_client_tracker_auth_failed (self->clients, ip, self->auth_failure_window);
}

gboolean
_vsmtp_server_auth_requires_tls (VsmtpServer *self)
{
  return self->auth_requires_tls;
}

VsmtpExtensionRegistry *
_vsmtp_server_get_extension_registry (VsmtpServer *self)
{
  return self->extensions;
}

/* The secret decoy salts are derived from (VsmtpServer:scram-secret): one
 * from the kernel's random source until the program sets one */
static GBytes *
server_scram_secret (VsmtpServer *self)
{
  if (self->scram_secret == NULL || g_bytes_get_size (self->scram_secret) < 16)
    {
      guint8 secret[32];

      if (self->scram_secret != NULL)
        g_warning ("scram-secret: shorter than 16 bytes, using a random one");
      g_clear_pointer (&self->scram_secret, g_bytes_unref);
      /* not a GLib g_random (a Mersenne twister): the kernel's */
      if (getrandom (secret, sizeof secret, 0) != sizeof secret)
        g_error ("getrandom: %s", g_strerror (errno));
      self->scram_secret = g_bytes_new (secret, sizeof secret);
      explicit_bzero (secret, sizeof secret);
    }
  return self->scram_secret;
}

const VsmtpServerLimits *
_vsmtp_server_get_limits (VsmtpServer *self)
{
  return &self->limits;
}

gboolean
_vsmtp_server_handshake_begin (VsmtpServer *self,
                               const char  *ip)
{
  return _vsmtp_client_tracker_handshake_begin (self->clients, ip,
                                                self->limits.max_tls_handshakes,
                                                self->limits.max_tls_handshakes_per_client);
}

void
_vsmtp_server_handshake_end (VsmtpServer *self,
                             const char  *ip)
{
  _vsmtp_client_tracker_handshake_end (self->clients, ip);
}

VsmtpReply *
_vsmtp_server_admit (VsmtpServer  *self,
                     VsmtpSession *session)
{
  const char *ip = vsmtp_session_get_remote_ip (session);
  guint n;

  /* the session itself is already counted in self->sessions */
  if (self->limits.max_connections > 0 &&
      g_hash_table_size (self->sessions) > self->limits.max_connections)
    return vsmtp_reply_new_printf (421, "4.7.0", "%s Error: too many connections", self->hostname);

  if (ip == NULL)
    return NULL;
  n = _vsmtp_client_tracker_get_connections (self->clients, ip);
  if (self->limits.max_connections_per_client > 0 &&
      n >= self->limits.max_connections_per_client)
    return vsmtp_reply_new_printf (421, "4.7.0", "%s Error: too many connections from %s",
                                   self->hostname, ip);
  _vsmtp_client_tracker_connection_opened (self->clients, ip);
  _vsmtp_session_set_counted (session, TRUE);
  return NULL;
}

/**
 * vsmtp_server_new:
 *
 * Creates a server with the default limits. Call
 * [method@Vsmtp.Server.listen] to make it accept connections.
 *
 * Returns: (transfer full): a new server
 */
VsmtpServer *
vsmtp_server_new (void)
{
  return g_object_new (VSMTP_TYPE_SERVER, NULL);
}

/**
 * vsmtp_server_listen:
 * @self: a server
 * @address: the address to listen on (port 0 picks a free port)
 * @effective_address: (out) (optional) (transfer full): the address bound,
 *   with the port actually chosen
 * @error: return location for an error
 *
 * Starts listening on @address.
 *
 * Returns: %TRUE on success
 */
gboolean
vsmtp_server_listen (VsmtpServer     *self,
                     GSocketAddress  *address,
                     GSocketAddress **effective_address,
                     GError         **error)
{
  return vsmtp_server_listen_full (self, address, VSMTP_LISTEN_FLAGS_NONE, effective_address, error);
}

/* g_socket_bind() turns SO_REUSEPORT off again for TCP sockets: bind(2) */
static gboolean
bind_native (GSocket         *socket,
             GSocketAddress  *address,
             GError         **error)
{
  struct sockaddr_storage storage;
  gssize length = g_socket_address_get_native_size (address);

  if (length < 0 ||
      !g_socket_address_to_native (address, &storage, sizeof storage, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad address");
      return FALSE;
    }
  if (bind (g_socket_get_fd (socket), (struct sockaddr *) &storage, length) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Error binding to address: %s", g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/**
 * vsmtp_server_listen_full:
 * @self: a server
 * @address: the address to listen on (port 0 picks a free port)
 * @flags: how connections on this listener are handled
 * @effective_address: (out) (optional) (transfer full): the address bound,
 *   with the port actually chosen
 * @error: return location for an error
 *
 * Starts listening on @address; with %VSMTP_LISTEN_FLAGS_IMPLICIT_TLS every
 * connection starts with a TLS handshake (RFC 8314), which needs
 * [property@Vsmtp.Server:tls-certificate].
 *
 * Returns: %TRUE on success
 */
gboolean
vsmtp_server_listen_full (VsmtpServer       *self,
                          GSocketAddress    *address,
                          VsmtpListenFlags   flags,
                          GSocketAddress   **effective_address,
                          GError           **error)
{
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;

  if (flags & VSMTP_LISTEN_FLAGS_REUSE_PORT)
    {
      /* g_socket_bind() would turn SO_REUSEPORT off again: bind(2) */
      if (!g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, 1, error) ||
          !g_socket_set_option (socket, SOL_SOCKET, SO_REUSEPORT, 1, error) ||
          !bind_native (socket, address, error))
        return FALSE;
    }
  else if (!g_socket_bind (socket, address, TRUE, error))
    return FALSE;

  /* a burst of connections must not overflow the backlog (GLib's default
   * is 10) */
  g_socket_set_listen_backlog (socket, 4096);
  if (!g_socket_listen (socket, error))
    return FALSE;

  return server_add_listener (self, socket, flags, effective_address, error);
}

/**
 * vsmtp_server_listen_socket:
 * @self: a server
 * @socket: a listening socket, for example one handed over by systemd
 * @error: return location for an error
 *
 * Accepts connections on an already listening @socket.
 *
 * Returns: %TRUE on success
 */
gboolean
vsmtp_server_listen_socket (VsmtpServer  *self,
                            GSocket      *socket,
                            GError      **error)
{
  return vsmtp_server_listen_socket_full (self, socket, VSMTP_LISTEN_FLAGS_NONE, error);
}

/**
 * vsmtp_server_listen_socket_full:
 * @self: a server
 * @socket: a listening socket, for example one handed over by systemd
 * @flags: how connections on this socket are handled
 * @error: return location for an error
 *
 * Accepts connections on an already listening @socket.
 *
 * Returns: %TRUE on success
 */
gboolean
vsmtp_server_listen_socket_full (VsmtpServer       *self,
                                 GSocket           *socket,
                                 VsmtpListenFlags   flags,
                                 GError           **error)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return server_add_listener (self, socket, flags, NULL, error);
}

/**
 * vsmtp_server_get_listen_addresses:
 * @self: a server
 *
 * Returns: (transfer none) (element-type GSocketAddress): the addresses the
 *   server listens on
 */
GList *
vsmtp_server_get_listen_addresses (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  return self->listen_addresses;
}

/**
 * vsmtp_server_stop_listening:
 * @self: a server
 *
 * Closes the listening sockets. Open sessions go on.
 */
void
vsmtp_server_stop_listening (VsmtpServer *self)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));

  if (self->listeners != NULL)
    g_ptr_array_set_size (self->listeners, 0);
  g_list_free_full (g_steal_pointer (&self->listen_addresses), g_object_unref);
}

/**
 * vsmtp_server_handle_connection:
 * @self: a server
 * @stream: a connection; its input and output streams must be pollable
 * @remote_address: (nullable): the client's address, if known
 *
 * Runs an SMTP session over @stream, as if the connection had been accepted
 * by a listener: useful for sockets accepted elsewhere, and for tests over
 * in-memory streams.
 *
 * Returns: (transfer none): the session
 */
VsmtpSession *
vsmtp_server_handle_connection (VsmtpServer    *self,
                                GIOStream      *stream,
                                GSocketAddress *remote_address)
{
  return vsmtp_server_handle_connection_full (self, stream, remote_address, VSMTP_LISTEN_FLAGS_NONE);
}

/**
 * vsmtp_server_handle_connection_full:
 * @self: a server
 * @stream: a connection; its input and output streams must be pollable
 * @remote_address: (nullable): the client's address, if known
 * @flags: how to handle the connection (implicit TLS or not)
 *
 * Like [method@Vsmtp.Server.handle_connection], with listener flags.
 *
 * Returns: (transfer none): the session
 */
VsmtpSession *
vsmtp_server_handle_connection_full (VsmtpServer      *self,
                                     GIOStream        *stream,
                                     GSocketAddress   *remote_address,
                                     VsmtpListenFlags  flags)
{
  VsmtpSession *session;
  VsmtpReply *refusal;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);
  g_return_val_if_fail (remote_address == NULL || G_IS_SOCKET_ADDRESS (remote_address), NULL);

  session = _vsmtp_session_new (self, stream, remote_address, flags,
                                _vsmtp_server_get_settings (self), self->clients);
  g_hash_table_add (self->sessions, session);
  g_signal_connect_after (session, "closed", G_CALLBACK (on_session_closed), self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SESSIONS]);

  refusal = _vsmtp_server_admit (self, session);
  if (refusal != NULL)
    {
      _vsmtp_session_refuse (session, refusal);
      g_object_unref (refusal);
      return session;
    }

  g_signal_emit (self, signals[SIGNAL_NEW_SESSION], 0, session);
  _vsmtp_session_start (session);

  return session;
}

/* Closing a session removes it from the table: walk a copy. */
static void
server_shutdown_sessions (VsmtpServer *self,
                          gboolean     now)
{
  g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer session;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &session, NULL))
    g_ptr_array_add (sessions, g_object_ref (session));
  for (guint i = 0; i < sessions->len; i++)
    _vsmtp_session_shutdown (sessions->pdata[i], now);
}

static gboolean
on_grace_expired (gpointer user_data)
{
  VsmtpServer *self = user_data;

  g_clear_pointer (&self->grace_source, g_source_unref);

  server_shutdown_sessions (self, TRUE);

  return G_SOURCE_REMOVE;
}

/**
 * vsmtp_server_shutdown_async:
 * @self: a server
 * @grace_seconds: how long sessions in the middle of a transaction may take
 * @cancellable: (nullable): a cancellable
 * @callback: (scope async): called when every session is closed
 * @user_data: data for @callback
 *
 * Stops listening and closes the sessions: those between transactions at
 * once (with `421 4.3.2`), the others as soon as their transaction ends, and
 * any still open after @grace_seconds by force.
 */
void
vsmtp_server_shutdown_async (VsmtpServer         *self,
                             guint                grace_seconds,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (VSMTP_IS_SERVER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vsmtp_server_shutdown_async);

  if (self->shutdown_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "The server is already shutting down");
      return;
    }

  vsmtp_server_stop_listening (self);
  self->shutdown_task = g_steal_pointer (&task);

  server_shutdown_sessions (self, FALSE);

  if (self->shutdown_task != NULL && g_hash_table_size (self->sessions) > 0)
    {
      self->grace_source = g_timeout_source_new_seconds (grace_seconds);
      g_source_set_callback (self->grace_source, on_grace_expired, self, NULL);
      g_source_set_static_name (self->grace_source, "[vsmtp] shutdown grace period");
      g_source_attach (self->grace_source, g_main_context_get_thread_default ());
    }

  server_maybe_finish_shutdown (self);
}

/**
 * vsmtp_server_shutdown_finish:
 * @self: a server
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Finishes [method@Vsmtp.Server.shutdown_async].
 *
 * Returns: %TRUE once every session is closed
 */
gboolean
vsmtp_server_shutdown_finish (VsmtpServer   *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vsmtp_server_shutdown_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * vsmtp_server_get_hostname:
 * @self: a server
 *
 * Returns: the server's host name
 */
const char *
vsmtp_server_get_hostname (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  return self->hostname;
}

/**
 * vsmtp_server_set_hostname:
 * @self: a server
 * @hostname: (nullable): the name to use, %NULL for the machine's
 *
 * Sets [property@Vsmtp.Server:hostname].
 */
void
vsmtp_server_set_hostname (VsmtpServer *self,
                           const char  *hostname)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));

  if (hostname == NULL || *hostname == '\0')
    hostname = g_get_host_name ();
  if (set_str (&self->hostname, hostname))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOSTNAME]);
}

/**
 * vsmtp_server_get_max_message_size:
 * @self: a server
 *
 * Returns: the message size limit in bytes
 */
guint64
vsmtp_server_get_max_message_size (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), 0);
  return self->max_message_size;
}

/**
 * vsmtp_server_set_max_message_size:
 * @self: a server
 * @max_message_size: the limit in bytes
 *
 * Sets [property@Vsmtp.Server:max-message-size].
 */
void
vsmtp_server_set_max_message_size (VsmtpServer *self,
                                   guint64      max_message_size)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));
  g_return_if_fail (max_message_size > 0);

  if (self->max_message_size == max_message_size)
    return;
  self->max_message_size = max_message_size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_MESSAGE_SIZE]);
}

/**
 * vsmtp_server_get_max_recipients:
 * @self: a server
 *
 * Returns: the recipient limit per message
 */
guint
vsmtp_server_get_max_recipients (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), 0);
  return self->max_recipients;
}

/**
 * vsmtp_server_set_max_recipients:
 * @self: a server
 * @max_recipients: the limit
 *
 * Sets [property@Vsmtp.Server:max-recipients].
 */
void
vsmtp_server_set_max_recipients (VsmtpServer *self,
                                 guint        max_recipients)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));
  g_return_if_fail (max_recipients > 0);

  if (self->max_recipients == max_recipients)
    return;
  self->max_recipients = max_recipients;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_RECIPIENTS]);
}

/**
 * vsmtp_server_get_max_line_length:
 * @self: a server
 *
 * Returns: the command line length limit in bytes
 */
guint
vsmtp_server_get_max_line_length (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), 0);
  return self->max_line_length;
}

/**
 * vsmtp_server_set_max_line_length:
 * @self: a server
 * @max_line_length: the limit in bytes, including CRLF; at least 512
 *
 * Sets [property@Vsmtp.Server:max-line-length] for sessions started after
 * the call.
 */
void
vsmtp_server_set_max_line_length (VsmtpServer *self,
                                  guint        max_line_length)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));
  g_return_if_fail (max_line_length >= MIN_MAX_LINE_LENGTH);

  if (self->max_line_length == max_line_length)
    return;
  self->max_line_length = max_line_length;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_LINE_LENGTH]);
}

/**
 * vsmtp_server_get_timeout:
 * @self: a server
 *
 * Returns: the idle timeout in seconds (0: none)
 */
guint
vsmtp_server_get_timeout (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), 0);
  return self->timeout;
}

/**
 * vsmtp_server_set_timeout:
 * @self: a server
 * @seconds: the idle timeout, 0 for none
 *
 * Sets [property@Vsmtp.Server:timeout].
 */
void
vsmtp_server_set_timeout (VsmtpServer *self,
                          guint        seconds)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));

  if (self->timeout == seconds)
    return;
  self->timeout = seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

/**
 * vsmtp_server_get_decision_timeout:
 * @self: a server
 *
 * Returns: the deadline of deferred decisions, in milliseconds
 */
guint
vsmtp_server_get_decision_timeout (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), 0);
  return self->decision_timeout;
}

/**
 * vsmtp_server_set_decision_timeout:
 * @self: a server
 * @milliseconds: the deadline of deferred decisions
 *
 * Sets [property@Vsmtp.Server:decision-timeout].
 */
void
vsmtp_server_set_decision_timeout (VsmtpServer *self,
                                   guint        milliseconds)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));
  g_return_if_fail (milliseconds > 0);

  if (self->decision_timeout == milliseconds)
    return;
  self->decision_timeout = milliseconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DECISION_TIMEOUT]);
}

/**
 * vsmtp_server_get_spool_threshold:
 * @self: a server
 *
 * Returns: the size above which messages are spooled to disk
 */
gsize
vsmtp_server_get_spool_threshold (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), 0);
  return self->spool_threshold;
}

/**
 * vsmtp_server_set_spool_threshold:
 * @self: a server
 * @bytes: the size above which messages are spooled to disk
 *
 * Sets [property@Vsmtp.Server:spool-threshold].
 */
void
vsmtp_server_set_spool_threshold (VsmtpServer *self,
                                  gsize        bytes)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));

  if (self->spool_threshold == bytes)
    return;
  self->spool_threshold = bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SPOOL_THRESHOLD]);
}

/**
 * vsmtp_server_get_spool_directory:
 * @self: a server
 *
 * Returns: (nullable): the spool folder, or %NULL for the temporary folder
 */
const char *
vsmtp_server_get_spool_directory (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  return self->spool_directory;
}

/**
 * vsmtp_server_set_spool_directory:
 * @self: a server
 * @directory: (nullable): the spool folder, %NULL for the temporary folder
 *
 * Sets [property@Vsmtp.Server:spool-directory].
 */
void
vsmtp_server_set_spool_directory (VsmtpServer *self,
                                  const char  *directory)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));

  if (set_str (&self->spool_directory, directory))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SPOOL_DIRECTORY]);
}

/**
 * vsmtp_server_get_bare_newline:
 * @self: a server
 *
 * Returns: what is done with bare CR and LF in message content
 */
VsmtpBareNewlinePolicy
vsmtp_server_get_bare_newline (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), VSMTP_BARE_NEWLINE_REJECT);
  return self->bare_newline;
}

/**
 * vsmtp_server_set_bare_newline:
 * @self: a server
 * @policy: the policy
 *
 * Sets [property@Vsmtp.Server:bare-newline].
 */
void
vsmtp_server_set_bare_newline (VsmtpServer            *self,
                               VsmtpBareNewlinePolicy  policy)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));

  if (self->bare_newline == policy)
    return;
  self->bare_newline = policy;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BARE_NEWLINE]);
}

/**
 * vsmtp_server_get_config:
 * @self: a server
 *
 * Returns: (transfer none) (nullable): the configuration, if any
 */
GKeyFile *
vsmtp_server_get_config (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  return self->config;
}

/**
 * vsmtp_server_set_config:
 * @self: a server
 * @config: (nullable): the configuration
 *
 * Sets [property@Vsmtp.Server:config]. The server itself does not read it:
 * it is there for plugins.
 */
void
vsmtp_server_set_config (VsmtpServer *self,
                         GKeyFile    *config)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));

  if (self->config == config)
    return;
  g_clear_pointer (&self->config, g_key_file_unref);
  if (config != NULL)
    self->config = g_key_file_ref (config);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONFIG]);
}

/**
 * vsmtp_server_get_n_sessions:
 * @self: a server
 *
 * Returns: the number of open sessions
 */
guint
vsmtp_server_get_n_sessions (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), 0);
  return g_hash_table_size (self->sessions);
}

/**
 * vsmtp_server_get_tls_certificate:
 * @self: a server
 *
 * Returns: (transfer none) (nullable): the TLS certificate, if any
 */
GTlsCertificate *
vsmtp_server_get_tls_certificate (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  return self->tls_certificate;
}

/**
 * vsmtp_server_set_tls_certificate:
 * @self: a server
 * @certificate: (nullable): a certificate with its private key, or %NULL
 *
 * Sets [property@Vsmtp.Server:tls-certificate]. May be called at any time,
 * for example to reload a renewed certificate: sessions already in TLS keep
 * theirs.
 */
void
vsmtp_server_set_tls_certificate (VsmtpServer     *self,
                                  GTlsCertificate *certificate)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));
  g_return_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate));

  if (g_set_object (&self->tls_certificate, certificate))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TLS_CERTIFICATE]);
}

/**
 * vsmtp_server_get_require_tls:
 * @self: a server
 *
 * Returns: whether mail commands need TLS
 */
gboolean
vsmtp_server_get_require_tls (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  return self->require_tls;
}

/**
 * vsmtp_server_set_require_tls:
 * @self: a server
 * @require_tls: whether mail commands need TLS
 *
 * Sets [property@Vsmtp.Server:require-tls].
 */
void
vsmtp_server_set_require_tls (VsmtpServer *self,
                              gboolean     require_tls)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));

  require_tls = !!require_tls;
  if (self->require_tls == require_tls)
    return;
  self->require_tls = require_tls;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REQUIRE_TLS]);
}

/**
 * vsmtp_server_get_tls_handshake_timeout:
 * @self: a server
 *
 * Returns: the TLS handshake timeout in seconds
 */
guint
vsmtp_server_get_tls_handshake_timeout (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), 0);
  return self->tls_handshake_timeout;
}

/**
 * vsmtp_server_set_tls_handshake_timeout:
 * @self: a server
 * @seconds: the timeout
 *
 * Sets [property@Vsmtp.Server:tls-handshake-timeout].
 */
void
vsmtp_server_set_tls_handshake_timeout (VsmtpServer *self,
                                        guint        seconds)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));
  g_return_if_fail (seconds > 0);

  if (self->tls_handshake_timeout == seconds)
    return;
  self->tls_handshake_timeout = seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TLS_HANDSHAKE_TIMEOUT]);
}

/**
 * vsmtp_server_get_auth_mechanisms:
 * @self: a server
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the SASL
 *   mechanisms offered, or %NULL when AUTH is not offered
 */
const char * const *
vsmtp_server_get_auth_mechanisms (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  return (const char * const *) self->auth_mechanisms;
}

/**
 * vsmtp_server_set_auth_mechanisms:
 * @self: a server
 * @mechanisms: (nullable) (array zero-terminated=1): SASL mechanism names,
 *   or %NULL to offer no AUTH
 *
 * Sets [property@Vsmtp.Server:auth-mechanisms]. Mechanisms GNU SASL does
 * not implement as a server are dropped with a warning. `PLAIN` and `LOGIN`
 * hand the password to [signal@Vsmtp.Session::authenticate].
 */
void
vsmtp_server_set_auth_mechanisms (VsmtpServer        *self,
                                  const char * const *mechanisms)
{
  g_autoptr(GStrvBuilder) builder = NULL;
  Gsasl *ctx;

  g_return_if_fail (VSMTP_IS_SERVER (self));

  g_clear_pointer (&self->auth_mechanisms, g_strfreev);
  if (mechanisms != NULL && mechanisms[0] != NULL && (ctx = _vsmtp_sasl_get_context ()) != NULL)
    {
      builder = g_strv_builder_new ();
      for (guint i = 0; mechanisms[i] != NULL; i++)
        {
          g_autofree char *upper = g_ascii_strup (mechanisms[i], -1);

          if (gsasl_server_support_p (ctx, upper))
            g_strv_builder_add (builder, upper);
          else
            g_warning ("SASL mechanism %s is not supported", upper);
        }
      self->auth_mechanisms = g_strv_builder_end (builder);
      if (self->auth_mechanisms[0] == NULL)
        g_clear_pointer (&self->auth_mechanisms, g_strfreev);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_MECHANISMS]);
}

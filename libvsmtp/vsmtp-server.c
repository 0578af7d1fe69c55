/* vsmtp-server.c: the server object: its properties and signal, its life,
 * the settings snapshot sessions take, and its private API (see
 * vsmtp-server-struct-private.h for its other units)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "vsmtp-enums.h"
#include "vsmtp-client-tracker-private.h"
#include "vsmtp-listener-private.h"
#include "vsmtp-extension-private.h"
#include "vsmtp-scram-private.h"
#include "vsmtp-server-private.h"
#include "vsmtp-server-struct-private.h"
#include "vsmtp-session.h"

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

GParamSpec *_vsmtp_server_properties[N_PROPS];
guint _vsmtp_server_signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VsmtpServer, vsmtp_server, G_TYPE_OBJECT)

#define DEFAULT_MAX_MESSAGE_SIZE  10240000
#define DEFAULT_MAX_RECIPIENTS    1000
#define DEFAULT_MAX_LINE_LENGTH   2048
#define DEFAULT_TIMEOUT           300
#define DEFAULT_DECISION_TIMEOUT  60000
#define DEFAULT_SPOOL_THRESHOLD   (1024 * 1024)
#define DEFAULT_HANDSHAKE_TIMEOUT 30

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
  g_clear_pointer (&self->metrics, _vsmtp_server_metrics_free);
  g_clear_pointer (&self->settings, _vsmtp_settings_unref);
  g_clear_pointer (&self->extensions, _vsmtp_extension_registry_free);
  g_strfreev (self->auth_mechanisms);
  g_clear_pointer (&self->scram_secret, g_bytes_unref);
  g_clear_pointer (&self->handler_owners, g_hash_table_unref);
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
    case PROP_MAX_TRANSACTIONS:
      g_value_set_uint (value, self->limits.max_transactions);
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

  /* every writable property but config is a setting */
  if (prop_id != PROP_CONFIG)
    g_clear_pointer (&self->settings, _vsmtp_settings_unref);

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
    case PROP_MAX_TRANSACTIONS:
      self->limits.max_transactions = g_value_get_uint (value);
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

/* A changed setting makes the next session take a new snapshot. (Not a
 * GObject notify override: with one, every notification, such as
 * n-sessions twice a connection, would emit "notify".) */
void
_vsmtp_server_setting_changed (VsmtpServer *self,
                               guint        prop_id)
{
  g_clear_pointer (&self->settings, _vsmtp_settings_unref);
  g_object_notify_by_pspec (G_OBJECT (self), _vsmtp_server_properties[prop_id]);
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
  settings->handler_owners = g_hash_table_ref (self->handler_owners);
  settings->scram_secret = g_bytes_ref (server_scram_secret (self));
  settings->scram_decoy_iterations = self->scram_decoy_iterations;
  settings->scram_decoy_salt_length = self->scram_decoy_salt_length;
  self->settings = settings;
  return settings;
}

static void
vsmtp_server_class_init (VsmtpServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vsmtp_server_dispose;
  object_class->finalize = vsmtp_server_finalize;
  object_class->get_property = vsmtp_server_get_property;
  object_class->set_property = vsmtp_server_set_property;

  /**
   * VsmtpServer:hostname:
   *
   * The name the server gives in its greeting, EHLO reply and `Received:`
   * headers. Defaults to the machine's host name.
   */
  _vsmtp_server_properties[PROP_HOSTNAME] =
    g_param_spec_string ("hostname", NULL,
                         "The name in the greeting, the EHLO reply and Received: headers", NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:max-message-size:
   *
   * The largest message accepted, in bytes: advertised with SIZE, checked
   * against MAIL's SIZE= parameter and enforced while receiving (`552 5.3.4`).
   */
  _vsmtp_server_properties[PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint64 ("max-message-size", NULL,
                         "The largest message accepted", 1, G_MAXUINT64, DEFAULT_MAX_MESSAGE_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:max-recipients:
   *
   * The most recipients accepted for one message (`452 4.5.3` past it).
   */
  _vsmtp_server_properties[PROP_MAX_RECIPIENTS] =
    g_param_spec_uint ("max-recipients", NULL,
                       "The most recipients of one message", 1, G_MAXUINT, DEFAULT_MAX_RECIPIENTS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:max-line-length:
   *
   * The longest command line accepted, in bytes including CRLF (at least
   * 512, RFC 5321 4.5.3.1.4). A longer one gets `500 5.5.2`.
   */
  _vsmtp_server_properties[PROP_MAX_LINE_LENGTH] =
    g_param_spec_uint ("max-line-length", NULL,
                       "The longest command line accepted, CRLF included", MIN_MAX_LINE_LENGTH, G_MAXINT, DEFAULT_MAX_LINE_LENGTH,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:timeout:
   *
   * Seconds a session may stay silent before it gets `421 4.4.2` and is
   * closed; 0 disables the timeout.
   */
  _vsmtp_server_properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL,
                       "How long a client may stay silent before its session is closed", 0, G_MAXUINT, DEFAULT_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:decision-timeout:
   *
   * Milliseconds a deferred decision (a pending [class@Vsmtp.Reply]) may
   * take; past it the client gets `451 4.3.0`.
   */
  _vsmtp_server_properties[PROP_DECISION_TIMEOUT] =
    g_param_spec_uint ("decision-timeout", NULL,
                       "How long a deferred decision may take before the client gets 451", 1, G_MAXUINT, DEFAULT_DECISION_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:spool-threshold:
   *
   * Messages up to this many bytes are kept in memory; larger ones are
   * spooled to a temporary file in [property@Vsmtp.Server:spool-directory].
   */
  _vsmtp_server_properties[PROP_SPOOL_THRESHOLD] =
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
  _vsmtp_server_properties[PROP_SPOOL_DIRECTORY] =
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
  _vsmtp_server_properties[PROP_BARE_NEWLINE] =
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
  _vsmtp_server_properties[PROP_CONFIG] =
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
  _vsmtp_server_properties[PROP_TLS_CERTIFICATE] =
    g_param_spec_object ("tls-certificate", NULL,
                         "The certificate for STARTTLS and implicit TLS", G_TYPE_TLS_CERTIFICATE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:require-tls:
   *
   * Whether mail commands need TLS: MAIL on a plain connection gets
   * `530 5.7.0 Must issue a STARTTLS command first`.
   */
  _vsmtp_server_properties[PROP_REQUIRE_TLS] =
    g_param_spec_boolean ("require-tls", NULL,
                          "Whether MAIL needs TLS", FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:tls-handshake-timeout:
   *
   * Seconds a TLS handshake may take before the connection is closed.
   */
  _vsmtp_server_properties[PROP_TLS_HANDSHAKE_TIMEOUT] =
    g_param_spec_uint ("tls-handshake-timeout", NULL,
                       "How long a TLS handshake may take", 1, G_MAXUINT, DEFAULT_HANDSHAKE_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpServer:max-connections:
   *
   * The most sessions open at once; a connection past it gets
   * `421 4.7.0 <host> Error: too many connections` and is closed. 0: no limit.
   */
  _vsmtp_server_properties[PROP_MAX_CONNECTIONS] =
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
  _vsmtp_server_properties[PROP_MAX_CONNECTIONS_PER_CLIENT] =
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
  _vsmtp_server_properties[PROP_MAX_TLS_HANDSHAKES] =
    g_param_spec_uint ("max-tls-handshakes", NULL,
                       "The most TLS handshakes in progress at once; 0: no limit", 0, G_MAXUINT, 100,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:max-tls-handshakes-per-client:
   *
   * The same per client IP address, so that one client cannot take every
   * handshake slot. 0: no limit.
   */
  _vsmtp_server_properties[PROP_MAX_TLS_HANDSHAKES_PER_CLIENT] =
    g_param_spec_uint ("max-tls-handshakes-per-client", NULL,
                       "The most TLS handshakes at once from one address; 0: no limit", 0, G_MAXUINT, 10,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:soft-error-limit:
   *
   * After this many error replies in a session, each further error reply is
   * delayed by [property@Vsmtp.Server:error-sleep-time].
   */
  _vsmtp_server_properties[PROP_SOFT_ERROR_LIMIT] =
    g_param_spec_uint ("soft-error-limit", NULL,
                       "Error replies in a session past which each one is delayed", 0, G_MAXUINT, 10,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:hard-error-limit:
   *
   * After this many error replies in a session the client gets
   * `421 4.7.0 <host> Error: too many errors` and is disconnected. 0: no limit.
   */
  _vsmtp_server_properties[PROP_HARD_ERROR_LIMIT] =
    g_param_spec_uint ("hard-error-limit", NULL,
                       "Error replies in a session at which the client is disconnected; 0: never", 0, G_MAXUINT, 20,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:error-sleep-time:
   *
   * Milliseconds each error reply past the soft error limit is delayed.
   */
  _vsmtp_server_properties[PROP_ERROR_SLEEP_TIME] =
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
  _vsmtp_server_properties[PROP_GREET_PAUSE] =
    g_param_spec_uint ("greet-pause", NULL,
                       "How long to wait before the greeting; a client that talks meanwhile is refused", 0, 60000, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:junk-command-limit:
   *
   * After this many NOOP, RSET, VRFY, HELO and EHLO commands in a session,
   * each further one counts as an error. 0: no limit.
   */
  _vsmtp_server_properties[PROP_JUNK_COMMAND_LIMIT] =
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
  _vsmtp_server_properties[PROP_MIN_DATA_RATE] =
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
  _vsmtp_server_properties[PROP_FORBID_UNAUTH_PIPELINING] =
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
  _vsmtp_server_properties[PROP_MAX_HEADER_SIZE] =
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
  _vsmtp_server_properties[PROP_MAX_DATA_LINE_LENGTH] =
    g_param_spec_uint ("max-data-line-length", NULL,
                       "The longest line of message content accepted, CRLF included; 0: no limit", 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:max-transactions:
   *
   * The most MAIL commands in one session, accepted or refused for their
   * address or parameters (RFC 9422's `MAILMAX`, advertised with
   * `LIMITS`); a MAIL command refused for its place (`503`, `530`) does not
   * count. The one past the limit, always given outside a transaction,
   * gets `421 4.5.3` and the connection is closed, so that the client
   * opens a new one. 0: no limit (and no `MAILMAX`).
   */
  _vsmtp_server_properties[PROP_MAX_TRANSACTIONS] =
    g_param_spec_uint ("max-transactions", NULL,
                       "The most MAIL commands in a session; 0: no limit", 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:auth-mechanisms:
   *
   * The SASL mechanisms offered with AUTH (RFC 4954), for example
   * `PLAIN` and `LOGIN`; %NULL (the default) offers no AUTH. Credentials
   * are checked by handlers of [signal@Vsmtp.Session::authenticate]: set
   * this when such a handler exists (an authentication plugin does).
   */
  _vsmtp_server_properties[PROP_AUTH_MECHANISMS] =
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
  _vsmtp_server_properties[PROP_AUTH_REQUIRES_TLS] =
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
  _vsmtp_server_properties[PROP_MAX_AUTH_FAILURES] =
    g_param_spec_uint ("max-auth-failures", NULL,
                       "Failed AUTH attempts one address may make in auth-failure-window; 0: no limit", 0, G_MAXUINT, 5,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:auth-failure-window:
   *
   * Seconds over which failed AUTH attempts are counted per client address.
   */
  _vsmtp_server_properties[PROP_AUTH_FAILURE_WINDOW] =
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
   * bytes chosen when the first session starts, which change when the
   * process restarts; set a stable secret (vsmtpd keeps one in its state
   * folder) so that a decoy salt does not change when real ones do not. At
   * least 16 bytes.
   */
  _vsmtp_server_properties[PROP_SCRAM_SECRET] =
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
  _vsmtp_server_properties[PROP_SCRAM_DECOY_ITERATIONS] =
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
  _vsmtp_server_properties[PROP_SCRAM_DECOY_SALT_LENGTH] =
    g_param_spec_uint ("scram-decoy-salt-length", NULL,
                       "The salt length announced to users without SCRAM credentials",
                       1, 32, VSMTP_SCRAM_SALT_LENGTH,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpServer:n-sessions:
   *
   * The number of open sessions.
   */
  _vsmtp_server_properties[PROP_N_SESSIONS] =
    g_param_spec_uint ("n-sessions", NULL,
                       "The number of open sessions", 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, _vsmtp_server_properties);

  /**
   * VsmtpServer::new-session:
   * @self: the server
   * @session: the new session
   *
   * Emitted for every new connection, before the greeting: connect to the
   * session's command signals here.
   */
  _vsmtp_server_signals[SIGNAL_NEW_SESSION] =
    g_signal_new ("new-session", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, VSMTP_TYPE_SESSION);

  /**
   * VsmtpServer::listener-state-changed:
   * @self: the server
   * @name: the listener's name (`default` for a listener without one)
   * @paused: whether its listeners are paused now
   *
   * Emitted when [method@Vsmtp.Server.pause_listener] or
   * [method@Vsmtp.Server.resume_listener] changed whether the listeners
   * named @name accept connections.
   */
  _vsmtp_server_signals[SIGNAL_LISTENER_STATE_CHANGED] =
    g_signal_new ("listener-state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
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
  self->metrics = _vsmtp_server_metrics_new ();
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
  self->handler_owners = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->scram_decoy_iterations = VSMTP_SCRAM_DEFAULT_ITERATIONS;
  self->scram_decoy_salt_length = VSMTP_SCRAM_SALT_LENGTH;
}

VsmtpExtensionRegistry *
_vsmtp_server_get_extension_registry (VsmtpServer *self)
{
  return self->extensions;
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

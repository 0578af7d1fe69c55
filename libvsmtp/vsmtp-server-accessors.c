/* vsmtp-server-accessors.c: the public getters and setters of
 * VsmtpServer's properties (installed and documented in vsmtp-server.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-sasl-private.h"
#include "vsmtp-server-struct-private.h"

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
    _vsmtp_server_setting_changed (self, PROP_HOSTNAME);
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
  _vsmtp_server_setting_changed (self, PROP_MAX_MESSAGE_SIZE);
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
  _vsmtp_server_setting_changed (self, PROP_MAX_RECIPIENTS);
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
  _vsmtp_server_setting_changed (self, PROP_MAX_LINE_LENGTH);
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
  _vsmtp_server_setting_changed (self, PROP_TIMEOUT);
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
  _vsmtp_server_setting_changed (self, PROP_DECISION_TIMEOUT);
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
  _vsmtp_server_setting_changed (self, PROP_SPOOL_THRESHOLD);
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
    _vsmtp_server_setting_changed (self, PROP_SPOOL_DIRECTORY);
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
  _vsmtp_server_setting_changed (self, PROP_BARE_NEWLINE);
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
  g_object_notify_by_pspec (G_OBJECT (self), _vsmtp_server_properties[PROP_CONFIG]);
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
    _vsmtp_server_setting_changed (self, PROP_TLS_CERTIFICATE);
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
  _vsmtp_server_setting_changed (self, PROP_REQUIRE_TLS);
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
  _vsmtp_server_setting_changed (self, PROP_TLS_HANDSHAKE_TIMEOUT);
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
  _vsmtp_server_setting_changed (self, PROP_AUTH_MECHANISMS);
}

/**
 * vsmtp_server_set_handler_owner:
 * @self: a server
 * @object: the object a plugin (or any code) connects its session
 *   handlers with: the instance given to g_signal_connect_object(), or the
 *   user data of g_signal_connect()
 * @owner: (nullable): a name for the log, such as `plugin maildir`; %NULL
 *   forgets @object
 *
 * Names who is behind the session signal handlers whose data is @object.
 * When one of them fails (returns %NULL, raises in a binding, or misses its
 * deadline), the session's log line names @owner, so that an operator
 * knows which plugin to look at. It costs nothing while handlers succeed:
 * the handlers are only looked at on a failure.
 *
 * vsmtpd names each plugin's object. Handlers connected by a language
 * binding carry the binding's own data (a Python handler is named by the
 * Python override's log line instead).
 *
 * @object is not referenced: forget it (a %NULL @owner) before it goes away.
 */
void
vsmtp_server_set_handler_owner (VsmtpServer *self,
                                GObject     *object,
                                const char  *owner)
{
  g_return_if_fail (VSMTP_IS_SERVER (self));
  g_return_if_fail (G_IS_OBJECT (object));

  if (owner != NULL)
    g_hash_table_insert (self->handler_owners, object, g_strdup (owner));
  else
    g_hash_table_remove (self->handler_owners, object);
}

/* vsmtp-server-sessions.c: what a running server is doing: its listeners
 * (paused or not) and its sessions, for an operator's console (vsmtpd's
 * D-Bus interface)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A unit of VsmtpServer; what it tells of a session is in
 * vsmtp-session-info.c.
 */
#include "config.h"

#include "vsmtp-listener-private.h"
#include "vsmtp-server-sessions.h"
#include "vsmtp-server-struct-private.h"

/* The name of a listener without one, as in the metrics' listener label */
#define DEFAULT_LISTENER_NAME "default"

/**
 * VsmtpListenerInfo:
 *
 * What one listening socket of a [class@Vsmtp.Server] is, at the time
 * [method@Vsmtp.Server.dup_listeners] was called: its name, its address,
 * its options and whether it is paused. It does not change afterwards.
 *
 * Since: 1.0
 */
struct _VsmtpListenerInfo
{
  GObject             parent_instance;

  char               *name;
  GSocketAddress     *address;
  VsmtpListenOptions *options;
  gboolean            paused;
};

G_DEFINE_FINAL_TYPE (VsmtpListenerInfo, vsmtp_listener_info, G_TYPE_OBJECT)

static void
vsmtp_listener_info_finalize (GObject *object)
{
  VsmtpListenerInfo *self = VSMTP_LISTENER_INFO (object);

  g_free (self->name);
  g_clear_object (&self->address);
  g_clear_object (&self->options);
  G_OBJECT_CLASS (vsmtp_listener_info_parent_class)->finalize (object);
}

static void
vsmtp_listener_info_class_init (VsmtpListenerInfoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vsmtp_listener_info_finalize;
}

static void
vsmtp_listener_info_init (VsmtpListenerInfo *self)
{
}

/**
 * vsmtp_listener_info_get_name:
 * @self: a listener's description
 *
 * The listener's name: [method@Vsmtp.ListenOptions.get_name], or `default`
 * for a listener without one (the `listener` label of the server's
 * metrics is the same).
 *
 * Returns: (transfer none): the name
 */
const char *
vsmtp_listener_info_get_name (VsmtpListenerInfo *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTENER_INFO (self), NULL);
  return self->name;
}

/**
 * vsmtp_listener_info_get_address:
 * @self: a listener's description
 *
 * Returns: (transfer none): the address the listener is bound to
 */
GSocketAddress *
vsmtp_listener_info_get_address (VsmtpListenerInfo *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTENER_INFO (self), NULL);
  return self->address;
}

/**
 * vsmtp_listener_info_get_options:
 * @self: a listener's description
 *
 * Returns: (transfer none): the options the listener's connections are
 *   handled with (protocol, implicit TLS, ...); do not change them
 */
VsmtpListenOptions *
vsmtp_listener_info_get_options (VsmtpListenerInfo *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTENER_INFO (self), NULL);
  return self->options;
}

/**
 * vsmtp_listener_info_get_paused:
 * @self: a listener's description
 *
 * Returns: whether the listener was paused by
 *   [method@Vsmtp.Server.pause_listener]
 */
gboolean
vsmtp_listener_info_get_paused (VsmtpListenerInfo *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTENER_INFO (self), FALSE);
  return self->paused;
}

static const char *
options_name (VsmtpListenOptions *options)
{
  const char *name = options != NULL ? vsmtp_listen_options_get_name (options) : NULL;

  return name != NULL ? name : DEFAULT_LISTENER_NAME;
}

/**
 * vsmtp_server_dup_listeners:
 * @self: a server
 *
 * Describes the server's listening sockets, in the order they were added.
 *
 * Returns: (transfer container) (element-type VsmtpListenerInfo): the
 *   listeners
 */
GPtrArray *
vsmtp_server_dup_listeners (VsmtpServer *self)
{
  GPtrArray *infos;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);

  infos = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; self->listeners != NULL && i < self->listeners->len; i++)
    {
      VsmtpListener *listener = self->listeners->pdata[i];
      VsmtpListenerInfo *info = g_object_new (VSMTP_TYPE_LISTENER_INFO, NULL);

      info->options = g_object_ref (_vsmtp_listener_get_options (listener));
      info->name = g_strdup (options_name (info->options));
      info->address = g_object_ref (_vsmtp_listener_get_local_address (listener));
      info->paused = _vsmtp_listener_get_paused (listener);
      g_ptr_array_add (infos, info);
    }
  return infos;
}

static gboolean
server_set_listener_paused (VsmtpServer  *self,
                            const char   *name,
                            gboolean      paused,
                            GError      **error)
{
  gboolean found = FALSE, changed = FALSE;

  for (guint i = 0; self->listeners != NULL && i < self->listeners->len; i++)
    {
      VsmtpListener *listener = self->listeners->pdata[i];

      if (!g_str_equal (options_name (_vsmtp_listener_get_options (listener)), name))
        continue;
      found = TRUE;
      if (_vsmtp_listener_get_paused (listener) != paused)
        {
          _vsmtp_listener_set_paused (listener, paused);
          changed = TRUE;
        }
    }
  if (!found)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no listener named \"%s\"", name);
      return FALSE;
    }
  if (changed)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "listener %s %s", name,
                        paused ? "paused: not accepting connections" : "resumed");
      g_signal_emit (self, _vsmtp_server_signals[SIGNAL_LISTENER_STATE_CHANGED], 0, name, paused);
    }
  return TRUE;
}

/**
 * vsmtp_server_pause_listener:
 * @self: a server
 * @name: a listener's name ([method@Vsmtp.ListenOptions.get_name]), or
 *   `default` for the listeners without one
 * @error: return location for an error
 *
 * Stops accepting connections on every listener named @name, to drain it
 * before maintenance: its sessions go on, and the socket stays bound and
 * listening. Connections that arrive meanwhile wait in the socket's backlog
 * (their TCP handshake is complete, they get no greeting) and are served
 * once the listener is resumed, if they waited that long; a full backlog
 * makes the kernel refuse more.
 *
 * Emits [signal@Vsmtp.Server::listener-state-changed] when a listener was
 * not paused already. A reload that binds a listener again
 * ([method@Vsmtp.Server.stop_listening_on], then a listen call) starts it
 * unpaused.
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_NOT_FOUND when no listener is
 *   named @name
 */
gboolean
vsmtp_server_pause_listener (VsmtpServer  *self,
                             const char   *name,
                             GError      **error)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return server_set_listener_paused (self, name, TRUE, error);
}

/**
 * vsmtp_server_resume_listener:
 * @self: a server
 * @name: a listener's name, or `default` for the listeners without one
 * @error: return location for an error
 *
 * Accepts connections again on every listener named @name, those waiting
 * in the backlog first. Emits [signal@Vsmtp.Server::listener-state-changed]
 * when a listener was paused.
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_NOT_FOUND when no listener is
 *   named @name
 */
gboolean
vsmtp_server_resume_listener (VsmtpServer  *self,
                              const char   *name,
                              GError      **error)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return server_set_listener_paused (self, name, FALSE, error);
}

/**
 * vsmtp_server_get_listener_paused:
 * @self: a server
 * @name: a listener's name, or `default` for the listeners without one
 *
 * Returns: whether a listener named @name is paused
 */
gboolean
vsmtp_server_get_listener_paused (VsmtpServer *self,
                                  const char  *name)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; self->listeners != NULL && i < self->listeners->len; i++)
    {
      VsmtpListener *listener = self->listeners->pdata[i];

      if (g_str_equal (options_name (_vsmtp_listener_get_options (listener)), name) &&
          _vsmtp_listener_get_paused (listener))
        return TRUE;
    }
  return FALSE;
}

/* oldest first (the ids break ties) */
static int
compare_start (gconstpointer a,
               gconstpointer b)
{
  VsmtpSession *sa = *(VsmtpSession **) a, *sb = *(VsmtpSession **) b;
  gint64 ta = vsmtp_session_get_start_time (sa), tb = vsmtp_session_get_start_time (sb);

  if (ta != tb)
    return ta < tb ? -1 : 1;
  return g_strcmp0 (vsmtp_session_get_id (sa), vsmtp_session_get_id (sb));
}

/**
 * vsmtp_server_dup_sessions:
 * @self: a server
 *
 * The open sessions, oldest first.
 *
 * Returns: (transfer container) (element-type VsmtpSession): the sessions
 */
GPtrArray *
vsmtp_server_dup_sessions (VsmtpServer *self)
{
  GPtrArray *sessions;
  GHashTableIter iter;
  gpointer session;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);

  sessions = g_ptr_array_new_full (g_hash_table_size (self->sessions), g_object_unref);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &session, NULL))
    g_ptr_array_add (sessions, g_object_ref (session));
  g_ptr_array_sort (sessions, compare_start);
  return sessions;
}

/**
 * vsmtp_server_lookup_session:
 * @self: a server
 * @id: a session's [property@Vsmtp.Session:id]
 *
 * Returns: (transfer none) (nullable): the open session with that id
 */
VsmtpSession *
vsmtp_server_lookup_session (VsmtpServer *self,
                             const char  *id)
{
  GHashTableIter iter;
  gpointer session;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &session, NULL))
    if (g_strcmp0 (vsmtp_session_get_id (session), id) == 0)
      return session;
  return NULL;
}

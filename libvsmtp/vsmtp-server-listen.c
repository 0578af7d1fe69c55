/* vsmtp-server-listen.c: how a VsmtpServer listens and what it does with a
 * connection: listeners (bound here or handed over), the spool sweep,
 * a session per connection with its admission and accounting, and the
 * graceful shutdown
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "vsmtp-client-tracker-private.h"
#include "vsmtp-listen-options-private.h"
#include "vsmtp-listener-private.h"
#include "vsmtp-proxy-reader-private.h"
#include "vsmtp-maintenance.h"
#include "vsmtp-server-private.h"
#include "vsmtp-server-struct-private.h"
#include "vsmtp-session-private.h"
#include "vsmtp-shared-limits-private.h"

static VsmtpSession *server_start_session (VsmtpServer        *self,
                                           GIOStream          *stream,
                                           GSocketAddress     *remote_address,
                                           VsmtpListenOptions *options,
                                           VsmtpProxyHeader   *header);
static void server_admitted (VsmtpServer  *self,
                             VsmtpSession *session,
                             VsmtpReply   *refusal);
static void server_read_proxy_header (VsmtpServer        *self,
                                      GSocket            *client,
                                      VsmtpListenOptions *options);

/* A connection a listener accepted: a session for it */
static gboolean
on_accepted (VsmtpListener    *listener,
             GSocket            *client,
             GSocketAddress     *accepted_from,
             VsmtpListenOptions *options,
             gpointer            user_data)
{
  VsmtpServer *self = user_data;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  gboolean keep_going;

  /* the session starts once the PROXY header is read (its address is the
   * header's: the per-address limits apply to that one) */
  if (vsmtp_listen_options_get_proxy_protocol (options) != VSMTP_PROXY_PROTOCOL_OFF)
    {
      server_read_proxy_header (self, client, options);
      return TRUE;
    }

  connection = g_socket_connection_factory_create_connection (client);
  /* the address accept() gave, not one more system call */
  remote = accepted_from != NULL ? g_object_ref (accepted_from) : g_socket_get_remote_address (client, NULL);
  /* held across the handlers, which may stop the server listening (freeing
   * @listener) or drop the server (a plain reference: a GWeakRef costs
   * more than the rest of the accept) */
  g_object_ref (self);
  vsmtp_server_handle_connection_with_options (self, G_IO_STREAM (connection), remote, options);
  keep_going = G_OBJECT (self)->ref_count > 1 && self->listeners != NULL &&
               g_ptr_array_find (self->listeners, listener, NULL);
  g_object_unref (self);
  return keep_going;
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

/* @options: the caller's; the listener keeps a copy */
static gboolean
server_add_listener (VsmtpServer         *self,
                     GSocket             *socket,
                     VsmtpListenOptions  *options,
                     GSocketAddress     **effective_address,
                     GError             **error)
{
  g_autoptr(VsmtpListenOptions) copy = _vsmtp_listen_options_copy (options);
  VsmtpListener *listener;
  GSocketAddress *local;

  listener = _vsmtp_listener_new (socket, copy, on_accepted, self, error);
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

/* Told by every session when it is closed (after its "closed" handlers):
 * the server's accounting follows the sessions, the sessions never call it */
static void
on_session_closed (VsmtpSession *session,
                   gpointer      user_data)
{
  VsmtpServer *self = user_data;

  if (_vsmtp_session_get_counted (session))
    {
      _vsmtp_client_tracker_connection_closed (self->clients, vsmtp_session_get_remote_ip (session));
      _vsmtp_session_set_counted (session, FALSE);
    }
  _vsmtp_shared_limits_session_closed (self, session);
  _vsmtp_session_set_closed_func (session, NULL, NULL);
  _vsmtp_metrics_session_closed (self, vsmtp_session_get_listen_options (session),
                                 _vsmtp_session_get_end_reason (session));
  if (g_hash_table_remove (self->sessions, session))
    {
      g_object_notify_by_pspec (G_OBJECT (self), _vsmtp_server_properties[PROP_N_SESSIONS]);
      server_maybe_finish_shutdown (self);
    }
}

VsmtpReply *
_vsmtp_server_admit (VsmtpServer  *self,
                     VsmtpSession *session)
{
  const char *ip = vsmtp_session_get_remote_ip (session);
  /* the listener's own limit, if it has one */
  guint per_client = _vsmtp_session_get_settings (session)->limits.max_connections_per_client;
  guint n;

  /* the session itself is already counted in self->sessions */
  if (self->limits.max_connections > 0 &&
      g_hash_table_size (self->sessions) > self->limits.max_connections)
    {
      _vsmtp_metrics_limit_hit (self, "max-connections");
      return vsmtp_reply_new_printf (421, "4.7.0", "%s Error: too many connections", self->hostname);
    }

  /* counted in the store instead (vsmtp-shared-limits.c) */
  if (ip == NULL || _vsmtp_shared_limits_counts_connections (self))
    return NULL;
  n = _vsmtp_client_tracker_get_connections (self->clients, ip);
  if (per_client > 0 && n >= per_client)
    {
      _vsmtp_metrics_limit_hit (self, "max-connections-per-client");
      return vsmtp_reply_new_printf (421, "4.7.0", "%s Error: too many connections from %s",
                                   self->hostname, ip);
    }
  _vsmtp_client_tracker_connection_opened (self->clients, ip);
  _vsmtp_session_set_counted (session, TRUE);
  return NULL;
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
  g_autoptr(VsmtpListenOptions) options = _vsmtp_listen_options_new_for_flags (flags);

  return vsmtp_server_listen_with_options (self, address, options, effective_address, error);
}

/**
 * vsmtp_server_listen_with_options:
 * @self: a server
 * @address: the address to listen on: an internet address (port 0 picks a
 *   free port) or a #GUnixSocketAddress (its file must not exist)
 * @options: how connections on this listener are handled; the server keeps
 *   a copy
 * @effective_address: (out) (optional) (transfer full): the address bound,
 *   with the port actually chosen
 * @error: return location for an error
 *
 * Starts listening on @address, for connections handled as @options say
 * (protocol, implicit TLS, PROXY header, XCLIENT, extensions).
 *
 * Returns: %TRUE on success
 */
gboolean
vsmtp_server_listen_with_options (VsmtpServer         *self,
                                  GSocketAddress      *address,
                                  VsmtpListenOptions  *options,
                                  GSocketAddress     **effective_address,
                                  GError             **error)
{
  g_autoptr(GSocket) socket = NULL;
  VsmtpListenFlags flags;
  gboolean is_unix;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), FALSE);
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (options), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  flags = vsmtp_listen_options_get_flags (options);
  is_unix = g_socket_address_get_family (address) == G_SOCKET_FAMILY_UNIX;
  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         is_unix ? G_SOCKET_PROTOCOL_DEFAULT : G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;

  if ((flags & VSMTP_LISTEN_FLAGS_REUSE_PORT) && !is_unix)
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

  return server_add_listener (self, socket, options, effective_address, error);
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
  g_autoptr(VsmtpListenOptions) options = _vsmtp_listen_options_new_for_flags (flags);

  return vsmtp_server_listen_socket_with_options (self, socket, options, error);
}

/**
 * vsmtp_server_listen_socket_with_options:
 * @self: a server
 * @socket: a listening socket, for example one handed over by systemd
 * @options: how connections on this socket are handled; the server keeps a
 *   copy
 * @error: return location for an error
 *
 * Accepts connections on an already listening @socket, handled as @options
 * say.
 *
 * Returns: %TRUE on success
 */
gboolean
vsmtp_server_listen_socket_with_options (VsmtpServer         *self,
                                         GSocket             *socket,
                                         VsmtpListenOptions  *options,
                                         GError             **error)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (options), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return server_add_listener (self, socket, options, NULL, error);
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
  g_autoptr(VsmtpListenOptions) options = _vsmtp_listen_options_new_for_flags (flags);

  return vsmtp_server_handle_connection_with_options (self, stream, remote_address, options);
}

/**
 * vsmtp_server_handle_connection_with_options:
 * @self: a server
 * @stream: a connection; its input and output streams must be pollable
 * @remote_address: (nullable): the client's address, if known
 * @options: how to handle the connection, as a listener with these options
 *   would; the session keeps a reference, so do not change them afterwards
 *
 * Like [method@Vsmtp.Server.handle_connection], with listener options.
 *
 * Returns: (transfer none): the session
 */
VsmtpSession *
vsmtp_server_handle_connection_with_options (VsmtpServer        *self,
                                             GIOStream          *stream,
                                             GSocketAddress     *remote_address,
                                             VsmtpListenOptions *options)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);
  g_return_val_if_fail (remote_address == NULL || G_IS_SOCKET_ADDRESS (remote_address), NULL);
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (options), NULL);

  return server_start_session (self, stream, remote_address, options, NULL);
}

/* A session for a connection: admitted (the per-address limits), announced
 * (new-session) and started; @header: the PROXY header it came with */
static VsmtpSession *
server_start_session (VsmtpServer        *self,
                      GIOStream          *stream,
                      GSocketAddress     *remote_address,
                      VsmtpListenOptions *options,
                      VsmtpProxyHeader   *header)
{
  VsmtpSession *session;
  VsmtpReply *refusal;

  session = _vsmtp_session_new (self, stream, remote_address, options,
                                _vsmtp_listen_options_get_settings (options,
                                                                    _vsmtp_server_get_settings (self)),
                                self->clients);
  if (header != NULL)
    _vsmtp_session_set_proxy_header (session, header);
  g_hash_table_add (self->sessions, session);
  _vsmtp_metrics_connection_accepted (self, options);
  _vsmtp_session_set_closed_func (session, on_session_closed, self);
  g_object_notify_by_pspec (G_OBJECT (self), _vsmtp_server_properties[PROP_N_SESSIONS]);

  {
    VsmtpStore *auth_store;
    VsmtpStoreErrorPolicy policy;

    _vsmtp_shared_limits_for_auth (self, &auth_store, &policy);
    if (auth_store != NULL)
      _vsmtp_session_set_auth_store (session, auth_store, policy);
  }

  refusal = _vsmtp_server_admit (self, session);
  if (refusal == NULL &&
      _vsmtp_shared_limits_admit_async (self, session,
                                        _vsmtp_session_get_settings (session)->limits.max_connections_per_client,
                                        server_admitted))
    return session;   /* once the store answered */
  server_admitted (self, session, refusal);
  g_clear_object (&refusal);
  return session;
}

/* @session's admission ended: @refusal (borrowed) NULL lets it in */
static void
server_admitted (VsmtpServer  *self,
                 VsmtpSession *session,
                 VsmtpReply   *refusal)
{
  if (refusal != NULL)
    {
      _vsmtp_metrics_connection_refused (self, vsmtp_session_get_listen_options (session), NULL);
      _vsmtp_session_refuse (session, refusal);
      return;
    }

  g_signal_emit (self, _vsmtp_server_signals[SIGNAL_NEW_SESSION], 0, session);
  _vsmtp_session_start (session);
}

/* The PROXY header of a connection was read (@header NULL: it was not, and
 * the connection is closed already) */
static void
on_proxy_header (GSocket            *client,
                 VsmtpListenOptions *options,
                 VsmtpProxyHeader   *header,
                 gpointer            user_data)
{
  VsmtpServer *self = user_data;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GSocketAddress) peer = NULL;
  GSocketAddress *remote;

  if (header == NULL)
    return;
  if (self == NULL || self->shutdown_task != NULL)
    {
      /* the server is gone or going meanwhile */
      g_socket_close (client, NULL);
      return;
    }

  connection = g_socket_connection_factory_create_connection (client);
  /* LOCAL (the proxy's health check), UNKNOWN, AF_UNSPEC: the connection's
   * own address */
  remote = vsmtp_proxy_header_get_source_address (header);
  if (remote == NULL)
    remote = peer = g_socket_get_remote_address (client, NULL);
  g_object_ref (self);
  server_start_session (self, G_IO_STREAM (connection), remote, options, header);
  g_object_unref (self);
}

/* Only a proxy-trusted peer may send a PROXY header; the others are
 * closed at once, without a greeting */
static void
server_read_proxy_header (VsmtpServer        *self,
                          GSocket            *client,
                          VsmtpListenOptions *options)
{
  g_autoptr(GSocketAddress) peer = g_socket_get_remote_address (client, NULL);
  GInetAddress *inet = G_IS_INET_SOCKET_ADDRESS (peer) ?
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer)) : NULL;

  if (!_vsmtp_listen_options_proxy_trusts (options, inet))
    {
      g_autofree char *text = _vsmtp_proxy_describe_peer (peer);
      const char *name = vsmtp_listen_options_get_name (options);

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "connection from [%s]%s%s refused: not in proxy-trusted", text,
                        name ? " on listener " : "", name ? name : "");
      _vsmtp_metrics_connection_refused (self, options, "proxy-trusted");
      g_socket_close (client, NULL);
      return;
    }
  _vsmtp_proxy_reader_start (client, options, _vsmtp_server_get_settings (self)->tls_handshake_timeout,
                             on_proxy_header, G_OBJECT (self));
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

/* The sessions still open in @grace_seconds are closed by force */
static void
server_start_grace (VsmtpServer *self,
                    guint        grace_seconds)
{
  self->grace_deadline = g_get_monotonic_time () + (gint64) grace_seconds * G_USEC_PER_SEC;
  if (grace_seconds == 0)
    self->grace_source = g_timeout_source_new (0);
  else
    self->grace_source = g_timeout_source_new_seconds (grace_seconds);
  g_source_set_callback (self->grace_source, on_grace_expired, self, NULL);
  g_source_set_static_name (self->grace_source, "[vsmtp] shutdown grace period");
  g_source_attach (self->grace_source, g_main_context_get_thread_default ());
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
    server_start_grace (self, grace_seconds);

  server_maybe_finish_shutdown (self);
}

/**
 * vsmtp_server_shorten_shutdown:
 * @self: a server
 * @grace_seconds: how long, from now, the sessions still open may take
 *
 * During a shutdown started by [method@Vsmtp.Server.shutdown_async], brings
 * the moment the sessions still open are closed by force forward to
 * @grace_seconds from now, if that is sooner than the deadline set so far
 * (0: at once). A later deadline is not taken: a shutdown is never made
 * longer. Nothing happens when the server is not shutting down, or when
 * no session is left.
 *
 * Returns: %TRUE if the deadline was brought forward
 */
gboolean
vsmtp_server_shorten_shutdown (VsmtpServer *self,
                               guint        grace_seconds)
{
  gint64 deadline;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);

  if (self->shutdown_task == NULL || self->grace_source == NULL)
    return FALSE;
  deadline = g_get_monotonic_time () + (gint64) grace_seconds * G_USEC_PER_SEC;
  if (deadline >= self->grace_deadline)
    return FALSE;

  g_source_destroy (self->grace_source);
  g_clear_pointer (&self->grace_source, g_source_unref);
  server_start_grace (self, grace_seconds);
  return TRUE;
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

/* vsmtp-listener.c: a listening socket and its accept loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE 1   /* accept4() */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsmtp-listener-private.h"
#include "vsmtp-source-private.h"
#include "vsmtp-fd-source.h"

/* Connections are accepted here, on the main context, a batch per wakeup,
 * without GSocketService's GTask and signal per connection. The server
 * only wires what a listener accepts to a new session; per-listener
 * settings (protocol, PROXY headers) belong here. */
struct _VsmtpListener
{
  GSocket                 *socket;
  GSocketAddress          *local_address;
  GSource                 *source;
  GSource                 *pause;      /* after an accept error such as EMFILE */
  VsmtpListenOptions      *options;
  VsmtpListenerAcceptFunc  func;
  gpointer                 user_data;
  gboolean                 paused;     /* by vsmtp_server_pause_listener(): no accept */
};

#define ACCEPT_BATCH 64

static gboolean on_acceptable (GSocket      *socket,
                               GIOCondition  condition,
                               gpointer      user_data);

static gboolean
on_fd_acceptable (gpointer user_data)
{
  VsmtpListener *self = user_data;

  return on_acceptable (self->socket, G_IO_IN, self);
}

/* a VsmtpFdSource, not the socket's: GLib blocks and unblocks a source it
 * dispatches, two wakeups of the main context per accept (io/vsmtp-fd-source.c) */
static void
listener_watch (VsmtpListener *self)
{
  self->source = vsmtp_fd_source_new (g_socket_get_fd (self->socket));
  g_source_set_callback (self->source, on_fd_acceptable, self, NULL);
  g_source_set_static_name (self->source, "[vsmtp] listener");
  g_source_attach (self->source, g_main_context_get_thread_default ());
}

static gboolean
on_pause_over (gpointer user_data)
{
  VsmtpListener *self = user_data;

  g_clear_pointer (&self->pause, g_source_unref);
  if (!self->paused)
    listener_watch (self);
  return G_SOURCE_REMOVE;
}

/* g_socket_accept() with fewer system calls: accept4() makes the socket
 * close-on-exec and non-blocking (no fcntl() pair to mark it close-on-exec
 * afterwards) and gives the peer's address (no getpeername() for
 * g_socket_get_remote_address()). @remote: the peer's address, or NULL if
 * it cannot be read from what accept4() gave. */
static GSocket *
listener_accept (GSocket         *socket,
                 GSocketAddress **remote,
                 GError         **error)
{
  struct sockaddr_storage address;
  socklen_t length;
  GSocket *client;
  int fd;

  do
    {
      length = sizeof address;
      fd = accept4 (g_socket_get_fd (socket), (struct sockaddr *) &address, &length,
                    SOCK_CLOEXEC | SOCK_NONBLOCK);
    }
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (saved), g_strerror (saved));
      return NULL;
    }
  client = g_socket_new_from_fd (fd, error);
  if (client == NULL)
    {
      close (fd);
      return NULL;
    }
  if (length > 0 && length <= sizeof address)
    *remote = g_socket_address_new_from_native (&address, length);
  return client;
}

static gboolean
on_acceptable (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  VsmtpListener *self = user_data;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = NULL;
      g_autoptr(GSocketAddress) remote = NULL;

      client = listener_accept (socket, &remote, &error);
      if (client == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;

          /* out of file descriptors, most likely: stop accepting for a
           * moment rather than spin on a socket that stays readable */
          g_warning ("cannot accept a connection: %s", error->message);
          _vsmtp_clear_source (&self->source);
          self->pause = g_timeout_source_new (100);
          g_source_set_callback (self->pause, on_pause_over, self, NULL);
          g_source_attach (self->pause, g_main_context_get_thread_default ());
          return G_SOURCE_REMOVE;
        }

      /* Replies are written once per pipelined group already; with Nagle's
       * algorithm a reply written while TLS still has a small record unacked
       * (a session ticket after the handshake) waits for the client's
       * delayed ACK: 40 ms per STARTTLS, measured. */
      g_socket_set_option (client, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

      /* the callback may free this listener (the server stopped
       * listening): then it returns FALSE and nothing here is touched */
      if (!self->func (self, client, remote, self->options, self->user_data))
        return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

VsmtpListener *
_vsmtp_listener_new (GSocket                  *socket,
                     VsmtpListenOptions       *options,
                     VsmtpListenerAcceptFunc   func,
                     gpointer                  user_data,
                     GError                  **error)
{
  VsmtpListener *self;
  GSocketAddress *local;

  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return NULL;

  g_socket_set_blocking (socket, FALSE);
  self = g_new0 (VsmtpListener, 1);
  self->socket = g_object_ref (socket);
  self->local_address = local;
  self->options = g_object_ref (options);
  self->func = func;
  self->user_data = user_data;
  listener_watch (self);
  return self;
}

void
_vsmtp_listener_free (VsmtpListener *self)
{
  if (self == NULL)
    return;
  _vsmtp_clear_source (&self->source);
  _vsmtp_clear_source (&self->pause);
  g_socket_close (self->socket, NULL);
  g_object_unref (self->socket);
  g_object_unref (self->local_address);
  g_object_unref (self->options);
  g_free (self);
}

GSocketAddress *
_vsmtp_listener_get_local_address (VsmtpListener *self)
{
  return self->local_address;
}

void
_vsmtp_listener_set_options (VsmtpListener      *self,
                             VsmtpListenOptions *options)
{
  g_set_object (&self->options, options);
}

VsmtpListenOptions *
_vsmtp_listener_get_options (VsmtpListener *self)
{
  return self->options;
}

gboolean
_vsmtp_listener_get_paused (VsmtpListener *self)
{
  return self->paused;
}

/* Paused, the socket is no longer polled: connections wait in its backlog
 * (the kernel completes their handshakes) and are accepted on resume. */
void
_vsmtp_listener_set_paused (VsmtpListener *self,
                            gboolean       paused)
{
  if (self->paused == paused)
    return;
  self->paused = paused;
  if (paused)
    _vsmtp_clear_source (&self->source);
  else if (self->source == NULL && self->pause == NULL)
    listener_watch (self);
}

/* vsmtp-connection.c: one client connection's streams
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "vsmtp-connection-private.h"
#include "vsmtp-source-private.h"
#include "vsmtp-tls-record-watcher.h"
#include "vsmtp-fd-source.h"

#define OUTPUT_HIGH_WATER (64 * 1024)

struct _VsmtpConnection
{
  GObject                        *owner;    /* not a reference: it owns us */
  const VsmtpConnectionCallbacks *callbacks;
  const char                     *log_id;

  GIOStream                      *stream;
  GInputStream                   *base_input;  /* the stream's, then the TLS connection's */
  VsmtpLineInputStream           *input;
  GOutputStream                  *output;      /* likewise; NULL: not asked for yet, see socket */
  GSocket                        *socket;      /* a plain socket connection's, written directly
                                                * while output is NULL (not a reference) */
  GCancellable                   *cancellable; /* made when first needed */

  GSource                        *read_source;
  GSource                        *deadline_source;
  gint64                          deadline;    /* monotonic */

  GString                        *outbuf;      /* queued, not handed to the stream yet */
  GString                        *writing;     /* the bytes of an async write in flight */

  GTlsConnection                 *tls;             /* once the handshake succeeded */
  GTlsConnection                 *tls_handshaking; /* while it runs */
  GInputStream                   *tls_watcher;     /* VsmtpTlsRecordWatcher: the TLS layer's input */
  GCancellable                   *handshake_cancellable;
  GSource                        *handshake_timeout_source;
  char                           *tls_cipher;

  guint                           write_in_flight : 1;
  guint                           closing : 1;     /* close once the output is written */
  guint                           closed : 1;
  guint                           eof : 1;
  guint                           handshake_timed_out : 1;
  guint                           output_pollable : 1; /* self->output (or self->socket) takes non-blocking writes */
};

/* The output stream, and whether it takes non-blocking writes: asked once
 * per stream (a stream's answer never changes), not at every flush */
static void
connection_set_output (VsmtpConnection *self,
                       GOutputStream   *output)
{
  self->output = output;
  self->output_pollable = G_IS_POLLABLE_OUTPUT_STREAM (output) &&
                          g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (output));
}

/* The output stream, asked of the connection when first needed: a plain
 * socket connection whose writes all complete at once (the usual case)
 * writes to its socket (connection_write_nonblocking) and never makes
 * the GSocketOutputStream, a GObject made and finalised per connection */
static GOutputStream *
connection_output (VsmtpConnection *self)
{
  if (self->output == NULL)
    connection_set_output (self, g_io_stream_get_output_stream (self->stream));
  return self->output;
}

/* What GSocketOutputStream's non-blocking write does, without the stream */
static gssize
connection_write_nonblocking (VsmtpConnection  *self,
                              const char       *data,
                              gsize             length,
                              GError          **error)
{
  if (self->output == NULL)
    return g_socket_send_with_blocking (self->socket, data, length, FALSE, NULL, error);
  return g_pollable_output_stream_write_nonblocking ((GPollableOutputStream *) self->output,
                                                     data, length, NULL, error);
}

/* The connection's cancellable, cancelled by vsmtp_connection_close(): made
 * for the first operation that takes one (an async write, a pollable
 * stream's source), not for every connection; one made after the close is
 * cancelled already. */
static GCancellable *
connection_cancellable (VsmtpConnection *self)
{
  if (self->cancellable == NULL)
    {
      self->cancellable = g_cancellable_new ();
      if (self->closed)
        g_cancellable_cancel (self->cancellable);
    }
  return self->cancellable;
}

VsmtpConnection *
vsmtp_connection_new (GIOStream                      *stream,
                      gsize                           max_line_length,
                      const char                     *log_id,
                      gpointer                        owner,
                      const VsmtpConnectionCallbacks *callbacks)
{
  VsmtpConnection *self = g_new0 (VsmtpConnection, 1);

  self->owner = owner;
  self->callbacks = callbacks;
  self->log_id = log_id;
  self->stream = g_object_ref (stream);
  self->base_input = g_io_stream_get_input_stream (stream);
  if (G_IS_SOCKET_CONNECTION (stream))
    {
      /* a socket takes non-blocking writes: its output stream is made
       * only if an async write or TLS needs it (connection_output) */
      self->socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
      self->output_pollable = TRUE;
    }
  else
    connection_set_output (self, g_io_stream_get_output_stream (stream));
  self->input = vsmtp_line_input_stream_new (self->base_input, max_line_length);
  self->outbuf = g_string_sized_new (256);
  self->writing = g_string_new (NULL);
  return self;
}

void
vsmtp_connection_free (VsmtpConnection *self)
{
  if (self == NULL)
    return;
  _vsmtp_clear_source (&self->read_source);
  _vsmtp_clear_source (&self->deadline_source);
  _vsmtp_clear_source (&self->handshake_timeout_source);
  g_clear_object (&self->input);
  g_clear_object (&self->stream);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->tls);
  g_clear_object (&self->tls_watcher);
  g_clear_object (&self->handshake_cancellable);
  g_free (self->tls_cipher);
  g_string_free (self->outbuf, TRUE);
  g_string_free (self->writing, TRUE);
  g_free (self);
}

GIOStream *
vsmtp_connection_get_stream (VsmtpConnection *self)
{
  return self->stream;
}

gboolean
vsmtp_connection_can_poll (VsmtpConnection *self)
{
  return G_IS_POLLABLE_INPUT_STREAM (self->base_input) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (self->base_input));
}

VsmtpLineInputStream *
vsmtp_connection_get_input (VsmtpConnection *self)
{
  return self->input;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

GString *
vsmtp_connection_get_output_buffer (VsmtpConnection *self)
{
  return self->outbuf;
}

gboolean
vsmtp_connection_is_congested (VsmtpConnection *self)
{
  return self->write_in_flight && self->outbuf->len > OUTPUT_HIGH_WATER;
}

/* The queued output is written: close, or tell the owner. */
static void
connection_drained (VsmtpConnection *self,
                    gboolean         after_wait)
{
  if (self->closing)
    self->callbacks->finished (self->owner);
  else
    self->callbacks->drained (self->owner, after_wait);
}

static void
on_write_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  VsmtpConnection *self = user_data;
  g_autoptr(GObject) owner = self->owner;   /* the reference the write took */
  g_autoptr(GError) error = NULL;

  self->write_in_flight = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("%s: write error: %s", self->log_id, error->message);
      g_string_truncate (self->writing, 0);
      g_string_truncate (self->outbuf, 0);
      self->callbacks->finished (owner);
      return;
    }
  g_string_truncate (self->writing, 0);

  if (self->closed)
    return;

  if (self->outbuf->len > 0)
    vsmtp_connection_flush (self);
  else
    connection_drained (self, TRUE);
}

/* Hands the queued output to the stream: a non-blocking write first (the
 * common case completes there), an async write for whatever is left. */
void
vsmtp_connection_flush (VsmtpConnection *self)
{
  GString swap;

  if (self->closed || self->write_in_flight)
    return;

  if (self->outbuf->len == 0)
    {
      connection_drained (self, FALSE);
      return;
    }

  if (self->output_pollable)
    {
      gsize done = 0;

      while (done < self->outbuf->len)
        {
          g_autoptr(GError) error = NULL;
          gssize n;

          n = connection_write_nonblocking (self, self->outbuf->str + done,
                                            self->outbuf->len - done, &error);
          if (n > 0)
            {
              done += n;
              continue;
            }
          if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          if (error != NULL)
            g_debug ("%s: write error: %s", self->log_id, error->message);
          g_string_truncate (self->outbuf, 0);
          self->callbacks->finished (self->owner);
          return;
        }

      g_string_erase (self->outbuf, 0, done);
      if (self->outbuf->len == 0)
        {
          connection_drained (self, FALSE);
          return;
        }
    }

  /* swap the buffers' contents (the output buffer stays the same GString):
   * new output keeps queuing while this write is in flight */
  swap = *self->writing;
  *self->writing = *self->outbuf;
  *self->outbuf = swap;
  g_string_truncate (self->outbuf, 0);

  self->write_in_flight = TRUE;
  g_object_ref (self->owner);
  g_output_stream_write_all_async (connection_output (self),
                                   self->writing->str, self->writing->len,
                                   G_PRIORITY_DEFAULT, connection_cancellable (self),
                                   on_write_done, self);
}

/* ------------------------------------------------------------------------ */
/* Input                                                                    */

static gboolean
on_readable (gpointer user_data)
{
  VsmtpConnection *self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  /* without a cancellable yet, nothing can have cancelled this read */
  n = vsmtp_line_input_stream_fill_nonblocking (self->input,
                                                self->closed ? connection_cancellable (self) : self->cancellable,
                                                &error);
  if (n < 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      if (vsmtp_connection_renegotiation_refused (self))
        ;  /* the owner says so */
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("%s: read error: %s", self->log_id, error->message);
      g_clear_pointer (&self->read_source, g_source_unref);
      self->callbacks->finished (self->owner);
      return G_SOURCE_REMOVE;
    }

  if (n == 0)
    {
      self->eof = TRUE;
      g_clear_pointer (&self->read_source, g_source_unref);
      self->callbacks->received (self->owner, 0);
      return G_SOURCE_REMOVE;
    }

  self->callbacks->received (self->owner, n);

  /* the owner may have stopped reading, or replaced the source */
  if (self->read_source == NULL)
    return G_SOURCE_REMOVE;
  return G_SOURCE_CONTINUE;
}

static gboolean
on_pollable_readable (GObject  *stream,
                      gpointer  user_data)
{
  return on_readable (user_data);
}

void
vsmtp_connection_wait_readable (VsmtpConnection *self)
{
  if (self->read_source != NULL || self->closed || self->closing || self->eof)
    return;

  /* the plain socket: a source that costs no wakeups of the main context
   * (vsmtp-fd-source.c); TLS, a PROXY header's leftovers: the stream's */
  if (self->tls == NULL && self->tls_handshaking == NULL && G_IS_SOCKET_CONNECTION (self->stream) &&
      self->base_input == g_io_stream_get_input_stream (self->stream))
    {
      self->read_source = vsmtp_fd_source_new (g_socket_get_fd (g_socket_connection_get_socket (G_SOCKET_CONNECTION (self->stream))));
      g_source_set_callback (self->read_source, on_readable, self, NULL);
    }
  else
    {
      self->read_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->base_input),
                                                                 connection_cancellable (self));
      g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_pollable_readable), self, NULL);
    }
  g_source_set_static_name (self->read_source, "[vsmtp] session input");
  g_source_attach (self->read_source, g_main_context_get_thread_default ());
}

void
vsmtp_connection_stop_reading (VsmtpConnection *self)
{
  _vsmtp_clear_source (&self->read_source);
}

gboolean
vsmtp_connection_at_eof (VsmtpConnection *self)
{
  return self->eof;
}

/* ------------------------------------------------------------------------ */
/* The deadline                                                             */

/* A source that fires at its ready time, once. The deadline moves with
 * every command; moving the source with it each time would cost a wakeup
 * of the main context per command (g_source_set_ready_time signals it), so
 * the source is only re-armed when it fires early. */
static gboolean
deadline_source_dispatch (GSource     *source,
                          GSourceFunc  callback,
                          gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs deadline_source_funcs = {
  .dispatch = deadline_source_dispatch,
};

static gboolean
on_deadline (gpointer user_data)
{
  VsmtpConnection *self = user_data;

  if (g_get_monotonic_time () < self->deadline)
    {
      /* the deadline moved since the source was armed */
      g_source_set_ready_time (self->deadline_source, self->deadline);
      return G_SOURCE_CONTINUE;
    }

  g_clear_pointer (&self->deadline_source, g_source_unref);
  self->callbacks->timed_out (self->owner);
  return G_SOURCE_REMOVE;
}

void
vsmtp_connection_set_deadline (VsmtpConnection *self,
                               gint64           deadline)
{
  self->deadline = deadline;

  if (self->deadline_source == NULL)
    {
      self->deadline_source = g_source_new (&deadline_source_funcs, sizeof (GSource));
      g_source_set_callback (self->deadline_source, on_deadline, self, NULL);
      g_source_set_static_name (self->deadline_source, "[vsmtp] session timeout");
      g_source_set_ready_time (self->deadline_source, deadline);
      g_source_attach (self->deadline_source, g_main_context_get_thread_default ());
    }
  else if (deadline < g_source_get_ready_time (self->deadline_source) ||
           g_source_get_ready_time (self->deadline_source) < 0)
    {
      /* sooner than armed (rare: after a long DATA): re-arm now */
      g_source_set_ready_time (self->deadline_source, deadline);
    }
}

gboolean
vsmtp_connection_has_deadline (VsmtpConnection *self)
{
  return self->deadline_source != NULL;
}

void
vsmtp_connection_clear_deadline (VsmtpConnection *self)
{
  _vsmtp_clear_source (&self->deadline_source);
}

/* ------------------------------------------------------------------------ */
/* Closing                                                                  */

static void
on_stream_closed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  g_object_unref (user_data);   /* the owner */
}

static void
on_tls_closed (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  VsmtpConnection *self = user_data;

  /* the TLS layer sent its close_notify (or failed to): close the socket,
   * still holding the owner's reference */
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  g_io_stream_close_async (self->stream, G_PRIORITY_DEFAULT, NULL,
                           on_stream_closed, self->owner);
}

static gboolean
on_closed_idle (gpointer user_data)
{
  g_object_unref (user_data);   /* the owner */
  return G_SOURCE_REMOVE;
}

static void
connection_close_streams (VsmtpConnection *self)
{
  g_object_ref (self->owner);
  if (self->tls != NULL)
    g_io_stream_close_async (G_IO_STREAM (self->tls), G_PRIORITY_DEFAULT, NULL,
                             on_tls_closed, self);
  else if (G_IS_SOCKET_CONNECTION (self->stream))
    {
      GSource *idle = g_idle_source_new ();

      /* a socket closes at once, without blocking: GSocketConnection's
       * close_async() does it there too, and only hands the result back
       * through a GTask and an idle source; here, just the idle source,
       * at the same priority, which lets the owner go after whatever
       * closed it has returned */
      g_io_stream_close (self->stream, NULL, NULL);
      g_source_set_priority (idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (idle, on_closed_idle, self->owner, NULL);
      g_source_set_static_name (idle, "[vsmtp] connection closed");
      g_source_attach (idle, g_main_context_get_thread_default ());
      g_source_unref (idle);
    }
  else
    g_io_stream_close_async (self->stream, G_PRIORITY_DEFAULT, NULL,
                             on_stream_closed, self->owner);
}

void
vsmtp_connection_close_after_flush (VsmtpConnection *self)
{
  self->closing = TRUE;
  _vsmtp_clear_source (&self->read_source);
  vsmtp_connection_flush (self);
}

void
vsmtp_connection_close (VsmtpConnection *self)
{
  if (self->closed)
    return;

  self->closed = TRUE;
  _vsmtp_clear_source (&self->read_source);
  _vsmtp_clear_source (&self->deadline_source);
  _vsmtp_clear_source (&self->handshake_timeout_source);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);

  /* a handshake in progress reads the socket on a worker thread: cancel it
   * and close the streams once it has returned */
  if (self->tls_handshaking != NULL)
    g_cancellable_cancel (self->handshake_cancellable);
  else
    connection_close_streams (self);
}

gboolean
vsmtp_connection_is_closing (VsmtpConnection *self)
{
  return self->closing;
}

/* ------------------------------------------------------------------------ */
/* TLS                                                                      */

static gboolean
on_handshake_timeout (gpointer user_data)
{
  VsmtpConnection *self = user_data;

  g_clear_pointer (&self->handshake_timeout_source, g_source_unref);
  self->handshake_timed_out = TRUE;
  g_cancellable_cancel (self->handshake_cancellable);
  return G_SOURCE_REMOVE;
}

/* glib-networking closes a failed handshake without telling the client
 * why: the client sees "unexpected EOF". When the failure came from the
 * ClientHello itself (a version or suite the profile refuses, a downgrade
 * the fallback SCSV revealed), no record of ours was sent yet, so the
 * alert GnuTLS would have sent is a plaintext record we can write on the
 * socket ourselves: 0x15 (alert), version 3.3, length 2, fatal (2), the
 * description. After a ServerHello (a client that aborted, a timeout, an
 * EOF) nothing is sent. */
static void
connection_send_handshake_alert (VsmtpConnection *self,
                                 const GError    *error)
{
  guint8 alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0 };

  if (self->handshake_timed_out || error == NULL || error->domain != G_TLS_ERROR)
    return;
  if (error->code == G_TLS_ERROR_INAPPROPRIATE_FALLBACK)
    alert[6] = 86;                        /* inappropriate_fallback */
  else if (error->code == G_TLS_ERROR_NOT_TLS &&
           strstr (error->message, "unsupported version") != NULL)
    alert[6] = 70;                        /* protocol_version */
  else if (error->code == G_TLS_ERROR_MISC &&
           strstr (error->message, "cipher suite") != NULL)
    alert[6] = 40;                        /* handshake_failure */
  else
    return;

  if (G_IS_POLLABLE_OUTPUT_STREAM (connection_output (self)))
    g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->output),
                                                alert, sizeof alert, NULL, NULL);
}

static void
on_handshake_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  VsmtpConnection *self = user_data;
  g_autoptr(GObject) owner = self->owner;   /* the reference the handshake took */
  g_autoptr(GTlsConnection) tls = G_TLS_CONNECTION (source);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = g_tls_connection_handshake_finish (tls, result, &error);
  g_steal_pointer (&self->tls_handshaking);   /* the ref is now `tls` */
  _vsmtp_clear_source (&self->handshake_timeout_source);
  g_clear_object (&self->handshake_cancellable);

  if (self->closed)
    {
      /* closed while the handshake ran: close what is left now */
      if (ok)
        self->tls = g_steal_pointer (&tls);
      connection_close_streams (self);
      self->callbacks->handshake_done (owner, error);
      return;
    }

  if (!ok)
    {
      connection_send_handshake_alert (self, error);
      if (self->handshake_timed_out)
        {
          g_clear_error (&error);
          error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
        }
      self->callbacks->handshake_done (owner, error);
      return;
    }

  self->tls = g_steal_pointer (&tls);
  vsmtp_tls_record_watcher_handshake_done (VSMTP_TLS_RECORD_WATCHER (self->tls_watcher));
  self->base_input = g_io_stream_get_input_stream (G_IO_STREAM (self->tls));
  connection_set_output (self, g_io_stream_get_output_stream (G_IO_STREAM (self->tls)));
  {
    /* the old line stream lives on inside the TLS connection's base stream */
    gsize max_line_length = vsmtp_line_input_stream_get_max_line_length (self->input);

    /* its buffer held the commands before STARTTLS; from now on the TLS
     * layer reads through it, and an empty one reads into the caller's
     * buffer: 16 KiB less per TLS connection */
    vsmtp_line_input_stream_release_memory (self->input);
    g_clear_object (&self->input);
    self->input = vsmtp_line_input_stream_new (self->base_input, max_line_length);
  }
  self->tls_cipher = g_tls_connection_get_ciphersuite_name (self->tls);

  /* The client's Finished is still waiting for our (delayed) ACK; a client
   * with Nagle's algorithm on holds its first command until it comes: 40 ms
   * per STARTTLS, measured with Python's ssl. Acknowledge now. */
#ifdef TCP_QUICKACK
  if (G_IS_SOCKET_CONNECTION (self->stream))
    g_socket_set_option (g_socket_connection_get_socket (G_SOCKET_CONNECTION (self->stream)),
                         IPPROTO_TCP, TCP_QUICKACK, 1, NULL);
#endif

  self->callbacks->handshake_done (owner, NULL);
}

gboolean
vsmtp_connection_start_tls (VsmtpConnection  *self,
                            GTlsCertificate  *certificate,
                            guint             timeout,
                            GError          **error)
{
  g_autoptr(GIOStream) base = NULL;
  GIOStream *tls;

  _vsmtp_clear_source (&self->read_source);

  /* between the line stream and TLS: client-initiated renegotiation is
   * refused (the read fails, the connection is finished), which GIO has no
   * setting for */
  g_clear_object (&self->tls_watcher);
  self->tls_watcher = vsmtp_tls_record_watcher_new (G_INPUT_STREAM (self->input), 0);
  base = g_simple_io_stream_new (self->tls_watcher, connection_output (self));
  /* No certificate database: a server that does not ask for client
   * certificates has nothing to verify, and the default one has GnuTLS read
   * the system's CA bundle again for every connection (glib-networking
   * 2.74), the main cost of a STARTTLS. */
  tls = g_initable_new (g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()),
                        NULL, error,
                        "base-io-stream", base,
                        "certificate", certificate,
                        "database", NULL,
                        NULL);
  if (tls == NULL)
    return FALSE;
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);

  self->tls_handshaking = G_TLS_CONNECTION (tls);
  self->handshake_cancellable = g_cancellable_new ();
  self->handshake_timed_out = FALSE;
  self->handshake_timeout_source = g_timeout_source_new_seconds (timeout);
  g_source_set_callback (self->handshake_timeout_source, on_handshake_timeout, self, NULL);
  g_source_set_static_name (self->handshake_timeout_source, "[vsmtp] TLS handshake timeout");
  g_source_attach (self->handshake_timeout_source, g_main_context_get_thread_default ());

  g_object_ref (self->owner);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT,
                                    self->handshake_cancellable,
                                    on_handshake_done, self);
  return TRUE;
}

gboolean
vsmtp_connection_is_handshaking (VsmtpConnection *self)
{
  return self->tls_handshaking != NULL;
}

GTlsConnection *
vsmtp_connection_get_tls (VsmtpConnection *self)
{
  return self->tls;
}

const char *
vsmtp_connection_get_tls_cipher (VsmtpConnection *self)
{
  return self->tls_cipher;
}

gboolean
vsmtp_connection_renegotiation_refused (VsmtpConnection *self)
{
  return self->tls_watcher != NULL &&
         vsmtp_tls_record_watcher_get_refused (VSMTP_TLS_RECORD_WATCHER (self->tls_watcher));
}

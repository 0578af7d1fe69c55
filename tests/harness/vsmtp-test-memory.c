/* vsmtp-test-memory.c: see vsmtp-test-memory.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-test-memory.h"

#define VSMTP_TYPE_TEST_CHUNKED_STREAM (vsmtp_test_chunked_stream_get_type ())
G_DECLARE_FINAL_TYPE (VsmtpTestChunkedStream, vsmtp_test_chunked_stream, VSMTP, TEST_CHUNKED_STREAM, GInputStream)

struct _VsmtpTestChunkedStream
{
  GInputStream  parent_instance;

  const guint8 *data;
  gsize         size;
  gsize         pos;
  guint32       state;      /* xorshift32 */
  guint         max_chunk;
};

static void vsmtp_test_chunked_stream_pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (VsmtpTestChunkedStream, vsmtp_test_chunked_stream, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      vsmtp_test_chunked_stream_pollable_iface_init))

static guint32
next_random (VsmtpTestChunkedStream *self)
{
  guint32 x = self->state;

  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return self->state = x;
}

static gsize
take (VsmtpTestChunkedStream *self,
      void                   *buffer,
      gsize                   count)
{
  gsize n = 1 + next_random (self) % self->max_chunk;

  n = MIN (MIN (count, self->size - self->pos), n);
  if (n > 0)
    memcpy (buffer, self->data + self->pos, n);
  self->pos += n;
  return n;
}

static gssize
chunked_read_nonblocking (GPollableInputStream  *stream,
                          void                  *buffer,
                          gsize                  count,
                          GError               **error)
{
  VsmtpTestChunkedStream *self = VSMTP_TEST_CHUNKED_STREAM (stream);

  if (self->pos < self->size && next_random (self) % 4 == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "Would block");
      return -1;
    }
  return take (self, buffer, count);
}

static gssize
chunked_read (GInputStream  *stream,
              void          *buffer,
              gsize          count,
              GCancellable  *cancellable,
              GError       **error)
{
  return take (VSMTP_TEST_CHUNKED_STREAM (stream), buffer, count);
}

static gboolean
chunked_close (GInputStream  *stream,
               GCancellable  *cancellable,
               GError       **error)
{
  return TRUE;
}

static gboolean
chunked_true (GPollableInputStream *stream)
{
  return TRUE;
}

static GSource *
chunked_create_source (GPollableInputStream *stream,
                       GCancellable         *cancellable)
{
  g_autoptr(GSource) base = g_timeout_source_new (0);

  return g_pollable_source_new_full (stream, base, cancellable);
}

static void
vsmtp_test_chunked_stream_pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = chunked_true;
  iface->is_readable = chunked_true;
  iface->read_nonblocking = chunked_read_nonblocking;
  iface->create_source = chunked_create_source;
}

static void
vsmtp_test_chunked_stream_class_init (VsmtpTestChunkedStreamClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  stream_class->read_fn = chunked_read;
  stream_class->close_fn = chunked_close;
}

static void
vsmtp_test_chunked_stream_init (VsmtpTestChunkedStream *self)
{
}

GInputStream *
vsmtp_test_chunked_stream_new (const guint8 *data,
                               gsize         size,
                               guint32       seed,
                               guint         max_chunk)
{
  VsmtpTestChunkedStream *self = g_object_new (VSMTP_TYPE_TEST_CHUNKED_STREAM, NULL);

  self->data = data;
  self->size = size;
  self->state = seed * 2654435761u + 0x9e3779b9u;
  if (self->state == 0)
    self->state = 1;
  self->max_chunk = MAX (max_chunk, 1);
  return G_INPUT_STREAM (self);
}

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

GBytes *
vsmtp_test_run_memory_session (VsmtpServer       *server,
                               GInputStream      *input,
                               VsmtpTestIdleFunc  idle,
                               gpointer           user_data,
                               VsmtpSession     **session_out)
{
  return vsmtp_test_run_memory_session_with_options (server, NULL, input, idle, user_data,
                                                     session_out);
}

GBytes *
vsmtp_test_run_memory_session_with_options (VsmtpServer        *server,
                                            VsmtpListenOptions *options,
                                            GInputStream       *input,
                                            VsmtpTestIdleFunc   idle,
                                            gpointer            user_data,
                                            VsmtpSession      **session_out)
{
  GMainContext *context = g_main_context_ref_thread_default ();
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(GIOStream) stream = g_simple_io_stream_new (input, output);
  g_autoptr(GSocketAddress) remote = g_inet_socket_address_new_from_string ("192.0.2.7", 40025);
  g_autoptr(VsmtpSession) session = NULL;

  session = g_object_ref (options != NULL
                          ? vsmtp_server_handle_connection_with_options (server, stream, remote, options)
                          : vsmtp_server_handle_connection (server, stream, remote));

  /* Run until the session is closed or stuck waiting for a decision. */
  while (vsmtp_session_get_state (session) != VSMTP_SESSION_STATE_CLOSED)
    {
      gboolean stuck = FALSE;
      GSource *guard;

      if (g_main_context_iteration (context, FALSE))
        continue;
      if (idle != NULL && idle (user_data))
        continue;
      /* Only timers left (a decision deadline): wait for them, but not
       * forever: a session that waits for nothing after its input ended
       * would never be closed. */
      guard = g_timeout_source_new (2000);
      g_source_set_callback (guard, set_flag, &stuck, NULL);
      g_source_attach (guard, context);
      g_main_context_iteration (context, TRUE);
      g_source_destroy (guard);
      g_source_unref (guard);
      if (stuck)
        g_error ("the session is stuck: its input ended but it is not closed");
    }
  /* the streams are closed asynchronously */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_unref (context);

  if (session_out != NULL)
    *session_out = g_steal_pointer (&session);
  return g_bytes_new (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (output)),
                      g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (output)));
}

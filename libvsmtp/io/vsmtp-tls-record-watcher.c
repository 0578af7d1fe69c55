/* vsmtp-tls-record-watcher.c: see vsmtp-tls-record-watcher.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Why a stream of our own: glib-networking 2.74 gives a server no say in a
 * client's renegotiation (GTlsConnection:rehandshake-mode is ignored since
 * GLib 2.60, and GnuTLS's only knob, %DISABLE_SAFE_RENEGOTIATION, also
 * breaks clients that insist on RFC 5746). A client can therefore make the
 * server run full handshakes in a loop. The bytes those handshakes are made
 * of pass through the server's input, where a TLS record header is plain
 * text: that is where this watcher counts them.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-tls-record-watcher.h"

#define TLS_RECORD_HEADER 5
#define TLS_CONTENT_HANDSHAKE 22

struct _VsmtpTlsRecordWatcher
{
  GFilterInputStream parent_instance;

  /* the parser, touched by one reader at a time */
  guint8  header[TLS_RECORD_HEADER];
  guint   header_have;
  guint32 payload_left;

  guint   max_renegotiations;
  gint    handshake_done;     /* atomic */
  gint    renegotiations;     /* atomic */
  gint    refused;            /* atomic */
};

static void vsmtp_tls_record_watcher_pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (VsmtpTlsRecordWatcher, vsmtp_tls_record_watcher,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      vsmtp_tls_record_watcher_pollable_iface_init))

static GInputStream *
get_base (VsmtpTlsRecordWatcher *self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

/* Parses @n bytes the TLS layer is about to get; FALSE (and @error set)
 * when they hold a renegotiation too many. */
static gboolean
watch (VsmtpTlsRecordWatcher  *self,
       const guint8           *data,
       gsize                   n,
       GError                **error)
{
  gsize i = 0;

  while (i < n)
    {
      if (self->payload_left > 0)
        {
          gsize skip = MIN (n - i, self->payload_left);

          self->payload_left -= skip;
          i += skip;
          continue;
        }

      self->header[self->header_have++] = data[i++];
      if (self->header_have < TLS_RECORD_HEADER)
        continue;

      self->header_have = 0;
      self->payload_left = ((guint32) self->header[3] << 8) | self->header[4];
      if (self->header[0] == TLS_CONTENT_HANDSHAKE && g_atomic_int_get (&self->handshake_done))
        {
          guint count = (guint) g_atomic_int_add (&self->renegotiations, 1) + 1;

          if (count > self->max_renegotiations)
            {
              g_atomic_int_set (&self->refused, TRUE);
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "client-initiated TLS renegotiation refused");
              return FALSE;
            }
        }
    }
  return TRUE;
}

static gssize
checked (VsmtpTlsRecordWatcher  *self,
         void                   *buffer,
         gssize                  n,
         GError                **error)
{
  if (g_atomic_int_get (&self->refused))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "client-initiated TLS renegotiation refused");
      return -1;
    }
  if (n > 0 && !watch (self, buffer, n, error))
    return -1;
  return n;
}

static gssize
vsmtp_tls_record_watcher_read_fn (GInputStream  *stream,
                                  void          *buffer,
                                  gsize          count,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  VsmtpTlsRecordWatcher *self = VSMTP_TLS_RECORD_WATCHER (stream);
  gssize n = g_input_stream_read (get_base (self), buffer, count, cancellable, error);

  return checked (self, buffer, n, error);
}

static gboolean
vsmtp_tls_record_watcher_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = get_base (VSMTP_TLS_RECORD_WATCHER (stream));

  return G_IS_POLLABLE_INPUT_STREAM (base) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
vsmtp_tls_record_watcher_is_readable (GPollableInputStream *stream)
{
  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (get_base (VSMTP_TLS_RECORD_WATCHER (stream))));
}

static gssize
vsmtp_tls_record_watcher_read_nonblocking (GPollableInputStream  *stream,
                                           void                  *buffer,
                                           gsize                  count,
                                           GError               **error)
{
  VsmtpTlsRecordWatcher *self = VSMTP_TLS_RECORD_WATCHER (stream);
  gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (get_base (self)),
                                                       buffer, count, NULL, error);

  return checked (self, buffer, n, error);
}

static GSource *
vsmtp_tls_record_watcher_create_source (GPollableInputStream *stream,
                                        GCancellable         *cancellable)
{
  VsmtpTlsRecordWatcher *self = VSMTP_TLS_RECORD_WATCHER (stream);
  g_autoptr(GSource) base_source =
    g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (get_base (self)), NULL);

  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static void
vsmtp_tls_record_watcher_pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = vsmtp_tls_record_watcher_can_poll;
  iface->is_readable = vsmtp_tls_record_watcher_is_readable;
  iface->read_nonblocking = vsmtp_tls_record_watcher_read_nonblocking;
  iface->create_source = vsmtp_tls_record_watcher_create_source;
}

static void
vsmtp_tls_record_watcher_class_init (VsmtpTlsRecordWatcherClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  stream_class->read_fn = vsmtp_tls_record_watcher_read_fn;
}

static void
vsmtp_tls_record_watcher_init (VsmtpTlsRecordWatcher *self)
{
}

GInputStream *
vsmtp_tls_record_watcher_new (GInputStream *base_stream,
                              guint         max_renegotiations)
{
  VsmtpTlsRecordWatcher *self;

  g_return_val_if_fail (G_IS_INPUT_STREAM (base_stream), NULL);

  /* closing the TLS connection closes its base stream: ours does not own
   * the one under it (the session closes that) */
  self = g_object_new (VSMTP_TYPE_TLS_RECORD_WATCHER,
                       "base-stream", base_stream,
                       "close-base-stream", FALSE,
                       NULL);
  self->max_renegotiations = max_renegotiations;
  return G_INPUT_STREAM (self);
}

void
vsmtp_tls_record_watcher_handshake_done (VsmtpTlsRecordWatcher *self)
{
  g_return_if_fail (VSMTP_IS_TLS_RECORD_WATCHER (self));

  g_atomic_int_set (&self->handshake_done, TRUE);
}

guint
vsmtp_tls_record_watcher_get_renegotiations (VsmtpTlsRecordWatcher *self)
{
  g_return_val_if_fail (VSMTP_IS_TLS_RECORD_WATCHER (self), 0);

  return (guint) g_atomic_int_get (&self->renegotiations);
}

gboolean
vsmtp_tls_record_watcher_get_refused (VsmtpTlsRecordWatcher *self)
{
  g_return_val_if_fail (VSMTP_IS_TLS_RECORD_WATCHER (self), FALSE);

  return g_atomic_int_get (&self->refused);
}

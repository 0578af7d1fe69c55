/* vsmtp-message-body.c: replacing the body of a VsmtpMessage
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "vsmtp-error.h"
#include "vsmtp-message.h"
#include "vsmtp-message-private.h"
#include "vsmtp-message-struct-private.h"

/* Writes a new body into a message of its own (in memory, spooled once
 * larger than the threshold), with every line end made CRLF. */
typedef struct {
  VsmtpMessage *spool;
  GByteArray *out;
  GCancellable *cancellable;
  guint64 body_length;
  guint8 last;
  gboolean pending_cr;
} BodyWriter;

static gboolean
body_writer_write (const guint8  *data,
                   gsize          length,
                   gpointer       user_data,
                   GError       **error)
{
  BodyWriter *writer = user_data;
  gsize i = 0;

  if (g_cancellable_set_error_if_cancelled (writer->cancellable, error))
    return FALSE;
  if (length == 0)
    return TRUE;
  if (memchr (data, '\0', length) != NULL)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "NUL character in the new body of message %s", writer->spool->id);
      return FALSE;
    }

  g_byte_array_set_size (writer->out, 0);
  while (i < length)
    {
      gsize start = i;

      if (writer->pending_cr)
        {
          writer->pending_cr = FALSE;
          g_byte_array_append (writer->out, (const guint8 *) "\r\n", 2);
          if (data[i] == '\n')
            i++;
          continue;
        }

      while (i < length && data[i] != '\r' && data[i] != '\n')
        i++;
      g_byte_array_append (writer->out, data + start, i - start);
      if (i < length)
        {
          if (data[i] == '\r')
            writer->pending_cr = TRUE;
          else
            g_byte_array_append (writer->out, (const guint8 *) "\r\n", 2);
          i++;
        }
    }

  writer->body_length += length;
  writer->last = data[length - 1];

  return _vsmtp_message_append (writer->spool, writer->out->data, writer->out->len, error);
}

/* The last line ends with CRLF too, as in content received with DATA. */
static gboolean
body_writer_finish (BodyWriter  *writer,
                    GError     **error)
{
  if (writer->pending_cr || (writer->body_length > 0 && writer->last != '\n'))
    {
      if (!_vsmtp_message_append (writer->spool, "\r\n", 2, error))
        return FALSE;
    }

  return _vsmtp_message_finish (writer->spool, error);
}

static gboolean
replace_body (VsmtpMessage  *self,
              GInputStream  *stream,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(VsmtpMessage) spool = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autofree guint8 *buffer = NULL;
  BodyWriter writer = { 0 };

  if (!_vsmtp_message_ensure_fields (self, error))
    return FALSE;

  spool = _vsmtp_message_new_writable (self->id, NULL, self->spool_threshold, self->spool_directory);
  writer.spool = spool;
  writer.out = out;
  writer.cancellable = cancellable;

  if (self->header_truncated &&
      !_vsmtp_message_copy_header_rest (self, body_writer_write, &writer, error))
    return FALSE;

  /* The empty line between the header section and the body. */
  if (!_vsmtp_message_append (spool, "\r\n", 2, error))
    return FALSE;
  writer.body_length = 0;

  buffer = g_malloc (COPY_BUFFER_SIZE);
  for (;;)
    {
      gssize n = g_input_stream_read (stream, buffer, COPY_BUFFER_SIZE, cancellable, error);

      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      if (!body_writer_write (buffer, n, &writer, error))
        return FALSE;
    }

  if (!body_writer_finish (&writer, error))
    return FALSE;

  /* Take the new source; the old spool file goes. */
  _vsmtp_message_begin_edit (self);
  if (self->spool_path != NULL && g_unlink (self->spool_path) != 0 && errno != ENOENT)
    g_warning ("Could not remove spool file %s: %s", self->spool_path, g_strerror (errno));
  g_clear_pointer (&self->spool_path, g_free);
  g_clear_pointer (&self->bytes, g_bytes_unref);
  self->spool_path = g_steal_pointer (&spool->spool_path);
  self->bytes = g_steal_pointer (&spool->bytes);
  self->source_size = spool->size;
  self->tail_offset = 0;
  self->header_truncated = FALSE;
  _vsmtp_message_update_size (self);

  return TRUE;
}

/**
 * vsmtp_message_replace_body_from_stream:
 * @self: a message
 * @stream: the new body
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Replaces the body of the message (what follows the header section and its
 * empty line) with what @stream gives until its end, like libmilter's
 * `smfi_replacebody`. The header fields stay (change them with
 * [method@Vsmtp.Message.change_header]: a `Content-Type` or
 * `Content-Transfer-Encoding` that no longer fits, for instance), and an
 * empty line separates them from the new body, also in a message that had
 * no body.
 *
 * The new body is read in chunks and never held in memory whole: like the
 * content received, it stays in memory up to the server's
 * [property@Vsmtp.Server:spool-threshold] and goes to a spool file in its
 * [property@Vsmtp.Server:spool-directory] beyond
 * ([method@Vsmtp.Message.is_spooled]). Every line end is stored as CRLF (a
 * bare LF or CR becomes CRLF, a last line without one gets one), as in
 * content received; a NUL byte is refused with %VSMTP_ERROR_SYNTAX.
 * @stream is read, not closed.
 *
 * On error (reading @stream, writing the spool file, cancelled) the message
 * is unchanged.
 *
 * This blocks while reading @stream and writing the spool file: give it a
 * stream that reads from memory or a local file, or replace the body from a
 * thread.
 *
 * Returns: %TRUE if the body was replaced, %FALSE on error
 */
gboolean
vsmtp_message_replace_body_from_stream (VsmtpMessage  *self,
                                        GInputStream  *stream,
                                        GCancellable  *cancellable,
                                        GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->finished, FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return replace_body (self, stream, cancellable, error);
}

/**
 * vsmtp_message_replace_body_from_bytes:
 * @self: a message
 * @body: the new body
 * @error: return location for a #GError
 *
 * Replaces the body of the message with @body: see
 * [method@Vsmtp.Message.replace_body_from_stream], which this is for a
 * body already in memory (its line ends made CRLF, kept in memory or
 * spooled like a body read from a stream).
 *
 * Returns: %TRUE if the body was replaced, %FALSE on error
 */
gboolean
vsmtp_message_replace_body_from_bytes (VsmtpMessage  *self,
                                       GBytes        *body,
                                       GError       **error)
{
  g_autoptr(GInputStream) stream = NULL;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->finished, FALSE);
  g_return_val_if_fail (body != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* read in chunks too: the normalized copy is never whole in memory */
  stream = g_memory_input_stream_new_from_bytes (body);

  return replace_body (self, stream, NULL, error);
}

/* vsmtp-concat-input-stream.c: see vsmtp-concat-input-stream.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-concat-input-stream.h"

struct _VsmtpConcatInputStream
{
  GInputStream parent_instance;

  GPtrArray *streams;
  guint current;
};

G_DEFINE_FINAL_TYPE (VsmtpConcatInputStream, vsmtp_concat_input_stream, G_TYPE_INPUT_STREAM)

static gssize
vsmtp_concat_input_stream_read (GInputStream  *stream,
                                void          *buffer,
                                gsize          count,
                                GCancellable  *cancellable,
                                GError       **error)
{
  VsmtpConcatInputStream *self = (VsmtpConcatInputStream *) stream;

  while (self->current < self->streams->len)
    {
      gssize n = g_input_stream_read (g_ptr_array_index (self->streams, self->current),
                                      buffer, count, cancellable, error);

      if (n != 0)
        return n;
      self->current++;
    }

  return 0;
}

static gboolean
vsmtp_concat_input_stream_close (GInputStream  *stream,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  VsmtpConcatInputStream *self = (VsmtpConcatInputStream *) stream;
  gboolean ok = TRUE;
  guint i;

  for (i = 0; i < self->streams->len; i++)
    {
      GInputStream *part = g_ptr_array_index (self->streams, i);

      if (!g_input_stream_close (part, cancellable, ok ? error : NULL))
        ok = FALSE;
    }

  return ok;
}

static void
vsmtp_concat_input_stream_finalize (GObject *object)
{
  VsmtpConcatInputStream *self = (VsmtpConcatInputStream *) object;

  g_clear_pointer (&self->streams, g_ptr_array_unref);

  G_OBJECT_CLASS (vsmtp_concat_input_stream_parent_class)->finalize (object);
}

static void
vsmtp_concat_input_stream_class_init (VsmtpConcatInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = vsmtp_concat_input_stream_finalize;
  stream_class->read_fn = vsmtp_concat_input_stream_read;
  stream_class->close_fn = vsmtp_concat_input_stream_close;
}

static void
vsmtp_concat_input_stream_init (VsmtpConcatInputStream *self)
{
  self->streams = g_ptr_array_new_with_free_func (g_object_unref);
}

VsmtpConcatInputStream *
vsmtp_concat_input_stream_new (void)
{
  return g_object_new (VSMTP_TYPE_CONCAT_INPUT_STREAM, NULL);
}

void
vsmtp_concat_input_stream_take (VsmtpConcatInputStream *self,
                                GInputStream           *stream)
{
  g_return_if_fail (VSMTP_IS_CONCAT_INPUT_STREAM (self));
  g_return_if_fail (G_IS_INPUT_STREAM (stream));

  g_ptr_array_add (self->streams, stream);
}

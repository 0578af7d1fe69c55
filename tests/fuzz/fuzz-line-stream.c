/* fuzz-line-stream.c: libFuzzer harness for VsmtpLineInputStream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Input: byte 0 picks the line length limit and the chunk sizes, byte 1
 * seeds the generator that picks the operations, the rest is what the
 * "client" sends. The bytes are handed to a GMemoryInputStream in chunks
 * while a random sequence of operations runs on the line stream over it:
 * fill, next_line, has_line, peek/skip, plain reads, push_back,
 * release_memory and limit changes. A model of the stream (the bytes
 * buffered, the bytes not read yet, whether a long line is being dropped)
 * predicts every result; any difference aborts.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-line-input-stream.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_common_init ();
  return 0;
}

typedef struct {
  GByteArray *buffered;   /* what the stream should hold in its buffer */
  GByteArray *unread;     /* given to the base stream, not read yet */
  gboolean    discarding;
  gsize       max;
} Model;

static const gsize limits[] = { 0, 1, 2, 3, 5, 8, 16, 64, 512, 1000, 4096, 20000 };

/* memchr() on a GByteArray that may be empty (its data NULL). */
static const guint8 *
find_lf (GByteArray *array)
{
  return array->len > 0 ? memchr (array->data, '\n', array->len) : NULL;
}

static void
model_consume (Model *model,
               gsize  count)
{
  g_assert_true (count <= model->buffered->len);
  g_byte_array_remove_range (model->buffered, 0, count);
}

static void
check_buffer (VsmtpLineInputStream *stream,
              Model                *model)
{
  const guint8 *data;
  gsize length = 0;

  data = vsmtp_line_input_stream_peek_buffer (stream, &length);
  g_assert_cmpuint (length, ==, model->buffered->len);
  g_assert_cmpuint (vsmtp_line_input_stream_get_buffered (stream), ==, length);
  if (length > 0)
    g_assert_true (memcmp (data, model->buffered->data, length) == 0);
  g_assert_true (vsmtp_line_input_stream_has_line (stream) ==
                 (find_lf (model->buffered) != NULL));
}

static void
do_fill (VsmtpLineInputStream *stream,
         Model                *model)
{
  g_autoptr(GError) error = NULL;
  gssize n;

  n = vsmtp_line_input_stream_fill_nonblocking (stream, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 0);
  g_assert_cmpuint (n, <=, model->unread->len);
  if (model->unread->len > 0)
    g_assert_cmpint (n, >, 0);
  g_byte_array_append (model->buffered, model->unread->data, n);
  g_byte_array_remove_range (model->unread, 0, n);
}

/* Returns FALSE when the model expects VSMTP_LINE_NONE. */
static gboolean
do_next_line (VsmtpLineInputStream *stream,
              Model                *model)
{
  char *line = (char *) "x";
  gsize length = 1;
  VsmtpLineStatus status;
  const guint8 *lf;

  status = vsmtp_line_input_stream_next_line (stream, &line, &length);
  lf = find_lf (model->buffered);

  if (lf == NULL)
    {
      g_assert_cmpint (status, ==, VSMTP_LINE_NONE);
      g_assert_null (line);
      g_assert_cmpuint (length, ==, 0);
      if (model->discarding ||
          (model->max > 0 && model->buffered->len >= model->max))
        {
          model->discarding = TRUE;
          g_byte_array_set_size (model->buffered, 0);
        }
      return FALSE;
    }
  else
    {
      gsize line_len = lf - model->buffered->data + 1;

      if (model->discarding || (model->max > 0 && line_len > model->max))
        {
          g_assert_cmpint (status, ==, VSMTP_LINE_TOO_LONG);
          g_assert_null (line);
          model->discarding = FALSE;
        }
      else
        {
          gsize content = line_len - 1;

          if (content > 0 && model->buffered->data[content - 1] == '\r')
            content--;
          g_assert_cmpint (status, ==, VSMTP_LINE_OK);
          g_assert_nonnull (line);
          g_assert_cmpuint (length, ==, content);
          g_assert_true (memcmp (line, model->buffered->data, content) == 0);
          g_assert_true (line[length] == '\0');
        }
      model_consume (model, line_len);
      return TRUE;
    }
}

static void
do_read (VsmtpLineInputStream *stream,
         Model                *model,
         gsize                 count,
         gboolean              pollable)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *buf = g_malloc (count);
  GByteArray *source;
  gssize n;

  if (pollable)
    n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream),
                                                  buf, count, NULL, &error);
  else
    n = g_input_stream_read (G_INPUT_STREAM (stream), buf, count, NULL, &error);
  g_assert_no_error (error);

  /* Buffered bytes first, and only them; the base stream only when the
   * buffer is empty. */
  source = model->buffered->len > 0 ? model->buffered : model->unread;
  g_assert_cmpint (n, ==, MIN (count, source->len));
  if (n > 0)
    g_assert_true (memcmp (buf, source->data, n) == 0);
  g_byte_array_remove_range (source, 0, n);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GInputStream) base = NULL;
  g_autoptr(VsmtpLineInputStream) stream = NULL;
  Model model = { 0 };
  FuzzRand rand;
  const guint8 *content;
  gsize content_size;
  gsize fed = 0;
  gsize max_chunk;
  guint ops;

  if (size < 2)
    return 0;

  model.max = limits[(data[0] & 0x0f) % G_N_ELEMENTS (limits)];
  max_chunk = (data[0] & 0x10) ? 8 : (data[0] & 0x20) ? 300 : 20000;
  fuzz_rand_init (&rand, data[1] | ((guint32) data[0] << 8));
  content = data + 2;
  content_size = size - 2;

  model.buffered = g_byte_array_new ();
  model.unread = g_byte_array_new ();

  base = g_memory_input_stream_new ();
  stream = vsmtp_line_input_stream_new (base, model.max);
  g_assert_true (g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (stream)));
  g_assert_cmpuint (vsmtp_line_input_stream_get_max_line_length (stream), ==, model.max);

  for (ops = 0; ops < 64 + 4 * content_size; ops++)
    {
      guint op = fuzz_rand_next (&rand) % 16;

      if (fed == content_size && model.unread->len == 0 && model.buffered->len == 0)
        break;

      switch (op)
        {
        case 0: case 1: case 2: case 3:
          if (fed < content_size)
            {
              gsize want = fuzz_rand_size (&rand, max_chunk);
              gsize n = MIN (want, content_size - fed);

              g_memory_input_stream_add_data (G_MEMORY_INPUT_STREAM (base),
                                              g_memdup2 (content + fed, n), n, g_free);
              g_byte_array_append (model.unread, content + fed, n);
              fed += n;
            }
          break;

        case 4: case 5: case 6:
          do_fill (stream, &model);
          break;

        case 7: case 8: case 9:
          while (do_next_line (stream, &model))
            ;
          break;

        case 10:
          if (model.buffered->len > 0)
            {
              gsize n = fuzz_rand_next (&rand) % (model.buffered->len + 1);

              vsmtp_line_input_stream_skip_buffer (stream, n);
              model_consume (&model, n);
            }
          break;

        case 11:
          do_read (stream, &model, fuzz_rand_size (&rand, 64), fuzz_rand_next (&rand) & 1);
          break;

        case 12:
          {
            /* Push back some bytes of the content (as STARTTLS hands back
             * what the TLS layer did not use). */
            gsize n = content_size > 0 ? fuzz_rand_next (&rand) % MIN (content_size + 1, 128) : 0;
            gsize at = content_size > n ? fuzz_rand_next (&rand) % (content_size - n + 1) : 0;

            vsmtp_line_input_stream_push_back (stream, content + at, n);
            g_byte_array_prepend (model.buffered, content + at, n);
          }
          break;

        case 13:
          vsmtp_line_input_stream_release_memory (stream);
          break;

        case 14:
          if ((fuzz_rand_next (&rand) & 7) == 0)
            {
              model.max = limits[fuzz_rand_next (&rand) % G_N_ELEMENTS (limits)];
              vsmtp_line_input_stream_set_max_line_length (stream, model.max);
            }
          break;

        case 15:
          {
            g_autoptr(GError) error = NULL;
            gsize count = fuzz_rand_size (&rand, 32);
            GByteArray *source = model.buffered->len > 0 ? model.buffered : model.unread;
            gssize n = g_input_stream_skip (G_INPUT_STREAM (stream), count, NULL, &error);

            g_assert_no_error (error);
            g_assert_cmpint (n, ==, MIN (count, source->len));
            g_byte_array_remove_range (source, 0, n);
          }
          break;

        default:
          g_assert_not_reached ();
        }

      check_buffer (stream, &model);
    }

  /* Drain: everything left is read and split into lines. */
  if (fed < content_size)
    {
      g_memory_input_stream_add_data (G_MEMORY_INPUT_STREAM (base),
                                      g_memdup2 (content + fed, content_size - fed),
                                      content_size - fed, g_free);
      g_byte_array_append (model.unread, content + fed, content_size - fed);
    }
  for (;;)
    {
      while (do_next_line (stream, &model))
        ;
      check_buffer (stream, &model);
      if (model.unread->len == 0)
        break;
      do_fill (stream, &model);
      check_buffer (stream, &model);
    }

  g_assert_true (g_input_stream_close (G_INPUT_STREAM (stream), NULL, NULL));
  g_assert_false (g_input_stream_is_closed (base));

  g_byte_array_unref (model.buffered);
  g_byte_array_unref (model.unread);

  return 0;
}

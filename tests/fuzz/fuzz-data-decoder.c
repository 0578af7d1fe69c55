/* fuzz-data-decoder.c: libFuzzer harness for VsmtpDataDecoder
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Input: byte 0 picks the bare newline policy and the chunk sizes, byte 1
 * seeds the generator, the rest is the DATA content (maybe followed by
 * more: after each end of data the decoder is reset and decodes the rest
 * as the next message, as with pipelined commands).
 *
 * Checks, for every message:
 * - a small reference decoder written from the rules (not from the code)
 *   predicts the output, the end, and the bare newline count;
 * - decoding in one call and decoding in random input chunks with random
 *   output room (0, 1, 2, ... bytes) give the same bytes and the same end;
 * - "finished" is reported only right after CRLF "." CRLF (or "." CRLF at
 *   the very start), and never a byte past it is consumed;
 * - through the GConverter interface the same output comes out.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-data-decoder.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_common_init ();
  return 0;
}

typedef struct {
  GByteArray *output;
  gsize       consumed;
  gboolean    finished;
  guint64     bare;
} Result;

static void
emit_bare (Result   *r,
           guint8    c,
           gboolean  normalize)
{
  r->bare++;
  if (normalize)
    g_byte_array_append (r->output, (const guint8 *) "\r\n", 2);
  else
    g_byte_array_append (r->output, &c, 1);
}

/* The rules of RFC 5321 §4.5.2 plus the smuggling rules (and, when
 * normalizing, dot-unstuffing after a bare newline too), one byte at a
 * time. Bytes whose meaning depends on bytes not there yet are consumed
 * but not output. */
static void
reference_decode (const guint8 *in,
                  gsize         n,
                  gboolean      normalize,
                  Result       *r)
{
  gsize i = 0;
  gboolean line_start = TRUE;
  gboolean after_bare = FALSE;   /* right after a bare CR or LF */

  r->output = g_byte_array_new ();
  r->finished = FALSE;
  r->bare = 0;

  while (i < n)
    {
      guint8 c;

      /* normalizing, a dot after a bare newline is unstuffed; it never
       * starts an end of data */
      if (after_bare)
        {
          after_bare = FALSE;
          if (normalize && in[i] == '.')
            {
              i++;
              continue;
            }
        }

      if (line_start)
        {
          line_start = FALSE;
          if (in[i] == '.')
            {
              if (i + 1 == n || (in[i + 1] == '\r' && i + 2 == n))
                {
                  i = n;   /* held: ".", ".\r" */
                  break;
                }
              if (in[i + 1] == '\r' && in[i + 2] == '\n')
                {
                  i += 3;
                  r->finished = TRUE;
                  break;
                }
              i++;   /* dot-unstuffing */
              continue;
            }
        }

      c = in[i];
      if (c == '\r')
        {
          if (i + 1 == n)
            {
              i = n;   /* held CR */
              break;
            }
          if (in[i + 1] == '\n')
            {
              g_byte_array_append (r->output, (const guint8 *) "\r\n", 2);
              i += 2;
              line_start = TRUE;
              continue;
            }
          emit_bare (r, '\r', normalize);
          i++;
          after_bare = TRUE;
          continue;
        }
      if (c == '\n')
        {
          emit_bare (r, '\n', normalize);
          i++;
          after_bare = TRUE;
          continue;
        }
      g_byte_array_append (r->output, &c, 1);
      i++;
    }

  r->consumed = i;
}

static void
decode_one_shot (VsmtpDataDecoder *decoder,
                 const guint8     *in,
                 gsize             n,
                 Result           *r)
{
  gsize room = 2 * n + 8;
  guint8 *out = g_malloc (room);
  gboolean finished = FALSE;
  gsize consumed;

  vsmtp_data_decoder_reset (decoder);
  consumed = vsmtp_data_decoder_decode (decoder, n > 0 ? in : NULL, n, out, &room, &finished);
  r->output = g_byte_array_new_take (out, room);
  r->consumed = consumed;
  r->finished = finished;
  r->bare = vsmtp_data_decoder_get_bare_newlines (decoder);
  g_assert_true (vsmtp_data_decoder_is_finished (decoder) == finished);
  if (!finished)
    g_assert_cmpuint (consumed, ==, n);
}

static void
decode_chunked (VsmtpDataDecoder *decoder,
                const guint8     *in,
                gsize             n,
                FuzzRand         *rand,
                gsize             max_chunk,
                Result           *r)
{
  gsize pos = 0;
  gboolean finished = FALSE;

  vsmtp_data_decoder_reset (decoder);
  r->output = g_byte_array_new ();

  while (pos < n && !finished)
    {
      gsize want = fuzz_rand_size (rand, max_chunk);
      gsize chunk = MIN (want, n - pos);
      gsize room = fuzz_rand_next (rand) % (2 * max_chunk + 4);
      /* An exact-size copy and an exact-size output block: ASan sees any
       * access past either. */
      g_autofree guint8 *copy = g_memdup2 (in + pos, chunk);
      g_autofree guint8 *out = room > 0 ? g_malloc (room) : NULL;
      gsize written = room;
      gsize consumed;

      consumed = vsmtp_data_decoder_decode (decoder, copy, chunk, out, &written, &finished);
      g_assert_cmpuint (consumed, <=, chunk);
      g_assert_cmpuint (written, <=, room);
      if (consumed == 0 && written == 0 && !finished)
        g_assert_cmpuint (room, <, 2);
      g_byte_array_append (r->output, out, written);
      pos += consumed;
    }

  r->consumed = pos;
  r->finished = finished;
  r->bare = vsmtp_data_decoder_get_bare_newlines (decoder);
}

static void
assert_same (const Result *a,
             const Result *b)
{
  g_assert_cmpuint (a->output->len, ==, b->output->len);
  g_assert_true (a->output->len == 0 ||
                 memcmp (a->output->data, b->output->data, a->output->len) == 0);
  g_assert_cmpuint (a->consumed, ==, b->consumed);
  g_assert_true (a->finished == b->finished);
  g_assert_cmpuint (a->bare, ==, b->bare);
}

static void
check_converter (const guint8 *in,
                 gsize         n,
                 gboolean      normalize,
                 const Result *expected)
{
  g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (normalize);
  g_autoptr(GInputStream) base = g_memory_input_stream_new_from_data (in, n, NULL);
  g_autoptr(GInputStream) stream = g_converter_input_stream_new (base, G_CONVERTER (decoder));
  g_autoptr(GByteArray) output = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  for (;;)
    {
      guint8 buf[256];
      gssize r = g_input_stream_read (stream, buf, sizeof buf, NULL, &error);

      if (r <= 0)
        break;
      g_byte_array_append (output, buf, r);
    }

  if (expected->finished)
    {
      g_assert_no_error (error);
      g_assert_cmpuint (output->len, ==, expected->output->len);
      g_assert_true (output->len == 0 ||
                     memcmp (output->data, expected->output->data, output->len) == 0);
    }
  else
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
      g_assert_cmpuint (output->len, <=, expected->output->len);
      g_assert_true (output->len == 0 ||
                     memcmp (output->data, expected->output->data, output->len) == 0);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(VsmtpDataDecoder) decoder = NULL;
  gboolean normalize;
  gsize max_chunk;
  FuzzRand rand;
  const guint8 *content;
  gsize remaining;

  if (size < 2)
    return 0;

  normalize = data[0] & 1;
  max_chunk = (data[0] & 2) ? 3 : (data[0] & 4) ? 40 : 2000;
  fuzz_rand_init (&rand, data[1] | ((guint32) data[0] << 8));
  content = data + 2;
  remaining = size - 2;

  decoder = vsmtp_data_decoder_new (normalize);

  /* One message after the other, as long as each one ends. */
  for (;;)
    {
      Result ref, one, chunked;

      reference_decode (content, remaining, normalize, &ref);
      decode_one_shot (decoder, content, remaining, &one);
      assert_same (&ref, &one);

      /* After the end nothing more is consumed. */
      if (one.finished && one.consumed < remaining)
        {
          guint8 out[16];
          gsize room = sizeof out;
          gboolean finished = FALSE;

          g_assert_cmpuint (vsmtp_data_decoder_decode (decoder, content + one.consumed,
                                                       remaining - one.consumed,
                                                       out, &room, &finished), ==, 0);
          g_assert_cmpuint (room, ==, 0);
          g_assert_true (finished);
        }

      /* "finished" only right after the terminator. */
      if (one.finished)
        {
          const guint8 *end = content + one.consumed;

          g_assert_cmpuint (one.consumed, >=, 3);
          g_assert_true (memcmp (end - 3, ".\r\n", 3) == 0);
          g_assert_true (one.consumed == 3 || (one.consumed >= 5 && memcmp (end - 5, "\r\n", 2) == 0));
          g_assert_true (one.output->len == 0 ||
                         (one.output->len >= 2 &&
                          memcmp (one.output->data + one.output->len - 2, "\r\n", 2) == 0));
        }

      decode_chunked (decoder, content, remaining, &rand, max_chunk, &chunked);
      assert_same (&one, &chunked);

      check_converter (content, remaining, normalize, &one);

      g_byte_array_unref (ref.output);
      g_byte_array_unref (one.output);
      g_byte_array_unref (chunked.output);

      if (!one.finished)
        break;
      content += one.consumed;
      remaining -= one.consumed;
    }

  return 0;
}

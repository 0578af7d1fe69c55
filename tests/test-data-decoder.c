/* test-data-decoder.c: tests for VsmtpDataDecoder
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-data-decoder.h"

typedef struct {
  const char *name;
  const char *input;
  gsize       input_length;     /* 0: strlen (input) */
  gboolean    finished;
  gssize      consumed;         /* -1: all of it */
  const char *output;           /* without normalization */
  gsize       output_length;    /* 0: strlen (output) */
  const char *output_normalized;
  gsize       output_normalized_length;
  guint64     bare_newlines;
} DecodeCase;

#define BIN(s) s, sizeof (s) - 1

static const DecodeCase cases[] = {
  { "plain", "Subject: hi\r\n\r\nHello\r\n.\r\n", 0, TRUE, -1,
    "Subject: hi\r\n\r\nHello\r\n", 0, "Subject: hi\r\n\r\nHello\r\n", 0, 0 },
  { "empty", ".\r\n", 0, TRUE, -1, "", 0, "", 0, 0 },
  { "empty-pipelined", ".\r\nQUIT\r\n", 0, TRUE, 3, "", 0, "", 0, 0 },
  { "pipelined", "a\r\n.\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@y>\r\n", 0, TRUE, 6,
    "a\r\n", 0, "a\r\n", 0, 0 },
  { "unstuff", "..x\r\nb\r\n...\r\n..\r\n.\r\n", 0, TRUE, -1,
    ".x\r\nb\r\n..\r\n.\r\n", 0, ".x\r\nb\r\n..\r\n.\r\n", 0, 0 },
  { "dot-inside-line", "a.\r\nb .\r\n.\r\n", 0, TRUE, -1,
    "a.\r\nb .\r\n", 0, "a.\r\nb .\r\n", 0, 0 },
  { "no-end", "Hello\r\nWorld\r\n", 0, FALSE, -1,
    "Hello\r\nWorld\r\n", 0, "Hello\r\nWorld\r\n", 0, 0 },
  { "held-cr", "Hello\r", 0, FALSE, -1, "Hello", 0, "Hello", 0, 0 },
  { "held-dot", "Hello\r\n.", 0, FALSE, -1, "Hello\r\n", 0, "Hello\r\n", 0, 0 },
  { "held-dot-cr", "Hello\r\n.\r", 0, FALSE, -1, "Hello\r\n", 0, "Hello\r\n", 0, 0 },
  { "bare-lf-line", "a\nb\r\n.\r\n", 0, TRUE, -1,
    "a\nb\r\n", 0, "a\r\nb\r\n", 0, 1 },
  { "bare-cr-line", "a\rb\r\n.\r\n", 0, TRUE, -1,
    "a\rb\r\n", 0, "a\r\nb\r\n", 0, 1 },
  { "bare-lf-unstuff", "a\n..b\r\n.\r\n", 0, TRUE, -1,
    "a\n..b\r\n", 0, "a\r\n.b\r\n", 0, 1 },
  { "crcrlf", "a\r\r\n.\r\n", 0, TRUE, -1,
    "a\r\r\n", 0, "a\r\n\r\n", 0, 1 },
  { "leading-bare-lf", "\n.\r\n.\r\n", 0, TRUE, -1,
    "\n.\r\n", 0, "\r\n\r\n", 0, 1 },
  /* ".\n" at the start: the dot is dropped, the LF is bare, and the ".\r\n"
   * after it is not at a line start. */
  { "leading-dot-lf", ".\n.\r\n", 0, FALSE, -1,
    "\n.\r\n", 0, "\r\n\r\n", 0, 1 },
  { "leading-dot-cr-x", ".\rx\r\n.\r\n", 0, TRUE, -1,
    "\rx\r\n", 0, "\r\nx\r\n", 0, 1 },
  { "nul", BIN ("a\0b\r\n\0\r\n.\r\n"), TRUE, -1,
    BIN ("a\0b\r\n\0\r\n"), BIN ("a\0b\r\n\0\r\n"), 0 },

  /* The smuggling variants (REFERENCE.md): none of them ends data. */
  { "smuggle-lf-dot-lf", "X\n.\nY\r\n.\r\n", 0, TRUE, -1,
    "X\n.\nY\r\n", 0, "X\r\n\r\nY\r\n", 0, 2 },
  { "smuggle-lf-dot-crlf", "X\n.\r\nY\r\n.\r\n", 0, TRUE, -1,
    "X\n.\r\nY\r\n", 0, "X\r\n\r\nY\r\n", 0, 1 },
  { "smuggle-cr-dot-lf", "X\r.\nY\r\n.\r\n", 0, TRUE, -1,
    "X\r.\nY\r\n", 0, "X\r\n\r\nY\r\n", 0, 2 },
  { "smuggle-cr-dot-crlf", "X\r.\r\nY\r\n.\r\n", 0, TRUE, -1,
    "X\r.\r\nY\r\n", 0, "X\r\n\r\nY\r\n", 0, 1 },
  { "smuggle-crlf-dot-cr", "X\r\n.\rY\r\n.\r\n", 0, TRUE, -1,
    "X\r\n\rY\r\n", 0, "X\r\n\r\nY\r\n", 0, 1 },
  { "smuggle-crlf-nul-dot-crlf", BIN ("X\r\n\0.\r\nY\r\n.\r\n"), TRUE, -1,
    BIN ("X\r\n\0.\r\nY\r\n"), BIN ("X\r\n\0.\r\nY\r\n"), 0 },
  { "smuggle-crlf-dot-crcrlf", "X\r\n.\r\r\nY\r\n.\r\n", 0, TRUE, -1,
    "X\r\n\r\r\nY\r\n", 0, "X\r\n\r\n\r\nY\r\n", 0, 1 },
  /* The same, with a smuggled command after them and no real end. */
  { "smuggle-only-1", "X\n.\nMAIL FROM:<a@b>\n", 0, FALSE, -1,
    "X\n.\nMAIL FROM:<a@b>\n", 0, "X\r\n\r\nMAIL FROM:<a@b>\r\n", 0, 3 },
  { "smuggle-only-2", "X\n.\r\nMAIL FROM:<a@b>\r\n", 0, FALSE, -1,
    "X\n.\r\nMAIL FROM:<a@b>\r\n", 0, "X\r\n\r\nMAIL FROM:<a@b>\r\n", 0, 1 },
  { "smuggle-only-3", "X\r.\nMAIL FROM:<a@b>\r\n", 0, FALSE, -1,
    "X\r.\nMAIL FROM:<a@b>\r\n", 0, "X\r\n\r\nMAIL FROM:<a@b>\r\n", 0, 2 },
  { "smuggle-only-4", "X\r.\r\nMAIL FROM:<a@b>\r\n", 0, FALSE, -1,
    "X\r.\r\nMAIL FROM:<a@b>\r\n", 0, "X\r\n\r\nMAIL FROM:<a@b>\r\n", 0, 1 },
  { "smuggle-only-5", "X\r\n.\rMAIL FROM:<a@b>\r\n", 0, FALSE, -1,
    "X\r\n\rMAIL FROM:<a@b>\r\n", 0, "X\r\n\r\nMAIL FROM:<a@b>\r\n", 0, 1 },
  { "smuggle-only-6", BIN ("X\r\n\0.\r\nMAIL FROM:<a@b>\r\n"), FALSE, -1,
    BIN ("X\r\n\0.\r\nMAIL FROM:<a@b>\r\n"), BIN ("X\r\n\0.\r\nMAIL FROM:<a@b>\r\n"), 0 },
  { "smuggle-only-7", "X\r\n.\r\r\nMAIL FROM:<a@b>\r\n", 0, FALSE, -1,
    "X\r\n\r\r\nMAIL FROM:<a@b>\r\n", 0, "X\r\n\r\n\r\nMAIL FROM:<a@b>\r\n", 0, 1 },
  /* The variants at the very start, and at the very end of the input. */
  { "start-lf-dot-lf", "\n.\n", 0, FALSE, -1, "\n.\n", 0, "\r\n\r\n", 0, 2 },
  { "start-cr-dot-lf", "\r.\n", 0, FALSE, -1, "\r.\n", 0, "\r\n\r\n", 0, 2 },
  { "end-crlf-dot-cr", "X\r\n.\r", 0, FALSE, -1, "X\r\n", 0, "X\r\n", 0, 0 },
};

static gsize
case_input_length (const DecodeCase *c)
{
  return c->input_length ? c->input_length : strlen (c->input);
}

static gsize
case_consumed (const DecodeCase *c)
{
  return c->consumed >= 0 ? (gsize) c->consumed : case_input_length (c);
}

static void
case_expected (const DecodeCase  *c,
               gboolean           normalize,
               const char       **out,
               gsize             *out_length)
{
  if (normalize)
    {
      *out = c->output_normalized;
      *out_length = c->output_normalized_length ? c->output_normalized_length : strlen (*out);
    }
  else
    {
      *out = c->output;
      *out_length = c->output_length ? c->output_length : strlen (*out);
    }
}

/* Feeds @input to @decoder in chunks of @chunk bytes (the last chunk at
 * @split first if @split > 0), with @room bytes of output room per call
 * (0: 2 * chunk + 8). Returns the output. */
static GByteArray *
feed (VsmtpDataDecoder *decoder,
      const guint8     *input,
      gsize             length,
      gsize             split,
      gsize             chunk,
      gsize             room,
      gsize            *consumed_out,
      gboolean         *finished_out)
{
  GByteArray *output = g_byte_array_new ();
  gsize pos = 0;
  gboolean finished = FALSE;
  guint stalls = 0;

  while (pos < length && !finished)
    {
      gsize avail = length - pos;
      gsize n;
      gsize this_room;
      gsize out_length;
      gsize consumed;
      guint8 *out;

      if (split > 0 && pos < split)
        n = MIN (avail, split - pos);
      else
        n = MIN (avail, chunk);

      this_room = room ? room : 2 * n + 8;
      out = g_malloc (this_room);
      out_length = this_room;
      consumed = vsmtp_data_decoder_decode (decoder, input + pos, n, out, &out_length, &finished);
      g_assert_cmpuint (consumed, <=, n);
      g_assert_cmpuint (out_length, <=, this_room);
      if (room == 0 && !finished)
        g_assert_cmpuint (consumed, ==, n);   /* the documented room is enough */
      g_byte_array_append (output, out, out_length);
      g_free (out);
      pos += consumed;

      if (consumed == 0 && out_length == 0 && !finished)
        {
          stalls++;
          g_assert_cmpuint (stalls, <, 3);
        }
      else
        stalls = 0;
    }

  *consumed_out = pos;
  *finished_out = finished;

  return output;
}

static void
check_case (const DecodeCase *c,
            gboolean          normalize)
{
  const guint8 *input = (const guint8 *) c->input;
  gsize length = case_input_length (c);
  const char *expected;
  gsize expected_length;
  gsize room;
  gsize split;

  case_expected (c, normalize, &expected, &expected_length);

  g_test_message ("case %s, normalize %d", c->name, normalize);

  /* One shot. */
  {
    g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (normalize);
    g_autoptr(GByteArray) out = NULL;
    gsize consumed;
    gboolean finished;

    out = feed (decoder, input, length, 0, length, 0, &consumed, &finished);
    g_assert_cmpmem (out->data, out->len, expected, expected_length);
    g_assert_cmpuint (consumed, ==, case_consumed (c));
    g_assert_cmpint (finished, ==, c->finished);
    g_assert_cmpint (vsmtp_data_decoder_is_finished (decoder), ==, c->finished);
    g_assert_cmpuint (vsmtp_data_decoder_get_bare_newlines (decoder), ==, c->bare_newlines);
  }

  /* Byte at a time. */
  {
    g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (normalize);
    g_autoptr(GByteArray) out = NULL;
    gsize consumed;
    gboolean finished;

    out = feed (decoder, input, length, 0, 1, 0, &consumed, &finished);
    g_assert_cmpmem (out->data, out->len, expected, expected_length);
    g_assert_cmpuint (consumed, ==, case_consumed (c));
    g_assert_cmpint (finished, ==, c->finished);
    g_assert_cmpuint (vsmtp_data_decoder_get_bare_newlines (decoder), ==, c->bare_newlines);
  }

  /* Split in two at every byte boundary. */
  for (split = 1; split < length; split++)
    {
      g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (normalize);
      g_autoptr(GByteArray) out = NULL;
      gsize consumed;
      gboolean finished;

      out = feed (decoder, input, length, split, length, 0, &consumed, &finished);
      g_assert_cmpmem (out->data, out->len, expected, expected_length);
      g_assert_cmpuint (consumed, ==, case_consumed (c));
      g_assert_cmpint (finished, ==, c->finished);
      g_assert_cmpuint (vsmtp_data_decoder_get_bare_newlines (decoder), ==, c->bare_newlines);
    }

  /* Little output room. */
  for (room = 2; room <= 5; room++)
    {
      g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (normalize);
      g_autoptr(GByteArray) out = NULL;
      gsize consumed;
      gboolean finished;

      out = feed (decoder, input, length, 0, length, room, &consumed, &finished);
      g_assert_cmpmem (out->data, out->len, expected, expected_length);
      g_assert_cmpuint (consumed, ==, case_consumed (c));
      g_assert_cmpint (finished, ==, c->finished);
    }
}

static void
test_cases (gconstpointer data)
{
  gboolean normalize = GPOINTER_TO_INT (data);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    check_case (&cases[i], normalize);
}

static void
test_after_finish (void)
{
  g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (FALSE);
  const char *input = "a\r\n.\r\nQUIT\r\n";
  guint8 out[64];
  gsize out_length = sizeof out;
  gboolean finished = FALSE;
  gsize consumed;
  guint64 line = 0;

  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) input, strlen (input),
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 6);
  g_assert_true (finished);
  g_assert_cmpmem (out, out_length, "a\r\n", 3);
  g_assert_cmpstr (input + consumed, ==, "QUIT\r\n");

  /* Nothing more is consumed until reset. */
  out_length = sizeof out;
  finished = FALSE;
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) "QUIT\r\n", 6,
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 0);
  g_assert_cmpuint (out_length, ==, 0);
  g_assert_true (finished);
  g_assert_true (vsmtp_data_decoder_is_finished (decoder));

  /* Reset: a new message, the counter back to 0. */
  out_length = sizeof out;
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) "x\n", 2,
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 0);

  vsmtp_data_decoder_reset (decoder);
  g_assert_false (vsmtp_data_decoder_is_finished (decoder));
  out_length = sizeof out;
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) "..x\n.\r\n", 7,
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 7);
  g_assert_false (finished);
  g_assert_cmpmem (out, out_length, ".x\n.\r\n", 6);
  g_assert_cmpuint (vsmtp_data_decoder_get_bare_newlines (decoder), ==, 1);
  g_assert_cmpint (vsmtp_data_decoder_get_first_bare_newline (decoder, &line), ==, '\n');
  g_assert_cmpuint (line, ==, 1);

  vsmtp_data_decoder_reset (decoder);
  g_assert_cmpuint (vsmtp_data_decoder_get_bare_newlines (decoder), ==, 0);
  g_assert_cmpint (vsmtp_data_decoder_get_first_bare_newline (decoder, &line), ==, 0);
  g_assert_cmpuint (line, ==, 0);
  out_length = sizeof out;
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) ".\r\n", 3,
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 3);
  g_assert_true (finished);
  g_assert_cmpuint (out_length, ==, 0);
}

static void
test_counter_and_property (void)
{
  g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (TRUE);
  const char *input = "a\nb\rc\r\r\n\n\n.\r\n";
  guint8 out[64];
  gsize out_length = sizeof out;
  gboolean finished = FALSE;
  gboolean normalize = FALSE;
  gsize consumed;

  g_object_get (decoder, "normalize-bare-newlines", &normalize, NULL);
  g_assert_true (normalize);

  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) input, strlen (input),
                                        out, &out_length, &finished);
  /* bare: \n after a, \r after b, first \r of \r\r\n, two \n. The final
   * ".\r\n" follows a bare LF: not a line start, so not the end. */
  g_assert_cmpuint (consumed, ==, strlen (input));
  g_assert_false (finished);
  g_assert_cmpuint (vsmtp_data_decoder_get_bare_newlines (decoder), ==, 5);
  /* (and its dot is unstuffed) */
  g_assert_cmpmem (out, out_length, "a\r\nb\r\nc\r\n\r\n\r\n\r\n\r\n", 17);

  /* Now the real end. */
  out_length = sizeof out;
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) ".\r\n", 3,
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 3);
  g_assert_true (finished);
  g_assert_cmpuint (out_length, ==, 0);
}

/* The first bare line end's line, with the input fed a byte at a time:
 * lines are counted across calls, CRLFs split between calls included. */
static void
test_first_bare_newline (void)
{
  g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (FALSE);
  const char *input = "one\r\n.two\r\nthree\rx\nfour\r\n.\r\n";
  guint8 out[8];
  gsize out_length;
  gboolean finished = FALSE;
  guint64 line = 99;
  gsize i;

  g_assert_cmpint (vsmtp_data_decoder_get_first_bare_newline (decoder, &line), ==, 0);
  g_assert_cmpuint (line, ==, 0);
  for (i = 0; input[i] != '\0'; i++)
    {
      out_length = sizeof out;
      g_assert_cmpuint (vsmtp_data_decoder_decode (decoder, (const guint8 *) input + i, 1,
                                                   out, &out_length, &finished), ==, 1);
    }
  g_assert_true (finished);
  g_assert_cmpuint (vsmtp_data_decoder_get_bare_newlines (decoder), ==, 2);
  g_assert_cmpint (vsmtp_data_decoder_get_first_bare_newline (decoder, &line), ==, '\r');
  g_assert_cmpuint (line, ==, 3);
  g_assert_cmpint (vsmtp_data_decoder_get_first_bare_newline (decoder, NULL), ==, '\r');
}

static void
test_no_space (void)
{
  g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (TRUE);
  guint8 out[4];
  gsize out_length;
  gboolean finished;
  gsize consumed;

  /* A normalized bare LF needs two bytes: with one, nothing happens. */
  out_length = 1;
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) "\nx", 2,
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 0);
  g_assert_cmpuint (out_length, ==, 0);

  out_length = 2;
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) "\nx", 2,
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 1);
  g_assert_cmpmem (out, out_length, "\r\n", 2);

  /* Zero room: nothing. */
  out_length = 0;
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) "x", 1,
                                        out, &out_length, &finished);
  g_assert_cmpuint (consumed, ==, 0);
  g_assert_cmpuint (out_length, ==, 0);
  g_assert_false (finished);
}

static void
test_large (void)
{
  g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (FALSE);
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autofree guint8 *out = NULL;
  gsize out_length;
  gboolean finished;
  gsize consumed;

  for (guint i = 0; i < 50000; i++)
    {
      if (i % 7 == 0)
        {
          g_string_append_printf (input, "..line %u with a leading dot\r\n", i);
          g_string_append_printf (expected, ".line %u with a leading dot\r\n", i);
        }
      else
        {
          g_string_append_printf (input, "line %u: the quick brown fox jumps over the lazy dog\r\n", i);
          g_string_append_printf (expected, "line %u: the quick brown fox jumps over the lazy dog\r\n", i);
        }
    }
  g_string_append (input, ".\r\nQUIT\r\n");

  out_length = 2 * input->len + 8;
  out = g_malloc (out_length);
  consumed = vsmtp_data_decoder_decode (decoder, (const guint8 *) input->str, input->len,
                                        out, &out_length, &finished);
  g_assert_true (finished);
  g_assert_cmpuint (consumed, ==, input->len - strlen ("QUIT\r\n"));
  g_assert_cmpmem (out, out_length, expected->str, expected->len);
}

/* GConverter */

static GInputStream *
converter_stream_new (const void *data,
                      gsize       length,
                      gboolean    normalize)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new_from_data (g_memdup2 (data, length),
                                                                       length, g_free);
  g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (normalize);

  return g_converter_input_stream_new (base, G_CONVERTER (decoder));
}

static GByteArray *
read_all (GInputStream *stream,
          gsize         chunk,
          GError      **error)
{
  g_autoptr(GByteArray) output = g_byte_array_new ();
  g_autofree guint8 *buf = g_malloc (chunk);

  for (;;)
    {
      gssize n = g_input_stream_read (stream, buf, chunk, NULL, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      g_byte_array_append (output, buf, n);
    }

  return g_steal_pointer (&output);
}

static void
test_converter_stream (void)
{
  static const gsize chunks[] = { 1, 2, 3, 7, 4096 };

  for (gsize i = 0; i < G_N_ELEMENTS (chunks); i++)
    {
      const char *input = "Subject: x\r\n\r\n..dot\r\nbare\nlf\r\n.\r\nQUIT\r\n";
      g_autoptr(GInputStream) stream = NULL;
      g_autoptr(GByteArray) out = NULL;
      g_autoptr(GError) error = NULL;

      stream = converter_stream_new (input, strlen (input), FALSE);
      out = read_all (stream, chunks[i], &error);
      g_assert_no_error (error);
      g_assert_cmpmem (out->data, out->len,
                       "Subject: x\r\n\r\n.dot\r\nbare\nlf\r\n", 29);
      g_clear_object (&stream);
      g_clear_pointer (&out, g_byte_array_unref);

      /* Normalizing: the converter sometimes needs two bytes of room. */
      stream = converter_stream_new (input, strlen (input), TRUE);
      out = read_all (stream, chunks[i], &error);
      g_assert_no_error (error);
      g_assert_cmpmem (out->data, out->len,
                       "Subject: x\r\n\r\n.dot\r\nbare\r\nlf\r\n", 30);
    }
}

static void
test_converter_truncated (void)
{
  static const char *inputs[] = { "Hello\r\n", "Hello\r\n.", "Hello\r\n.\r", "Hello\r", "", "Hi\n.\n" };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GInputStream) stream = NULL;
      g_autoptr(GByteArray) out = NULL;
      g_autoptr(GError) error = NULL;

      stream = converter_stream_new (inputs[i], strlen (inputs[i]), FALSE);
      out = read_all (stream, 4096, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
      g_assert_null (out);
    }
}

static void
test_converter_direct (void)
{
  g_autoptr(VsmtpDataDecoder) decoder = vsmtp_data_decoder_new (FALSE);
  GConverter *converter = G_CONVERTER (decoder);
  g_autoptr(GError) error = NULL;
  guint8 out[64];
  gsize bytes_read, bytes_written;
  GConverterResult res;

  res = g_converter_convert (converter, "ab\r", 3, out, sizeof out, G_CONVERTER_NO_FLAGS,
                             &bytes_read, &bytes_written, &error);
  g_assert_no_error (error);
  g_assert_cmpint (res, ==, G_CONVERTER_CONVERTED);
  g_assert_cmpuint (bytes_read, ==, 3);
  g_assert_cmpmem (out, bytes_written, "ab", 2);

  res = g_converter_convert (converter, "", 0, out, sizeof out, G_CONVERTER_NO_FLAGS,
                             &bytes_read, &bytes_written, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  g_assert_cmpint (res, ==, G_CONVERTER_ERROR);
  g_clear_error (&error);

  res = g_converter_convert (converter, "\n", 1, out, 1, G_CONVERTER_NO_FLAGS,
                             &bytes_read, &bytes_written, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_cmpint (res, ==, G_CONVERTER_ERROR);
  g_clear_error (&error);

  res = g_converter_convert (converter, "\n.\r\nNEXT", 8, out, sizeof out, G_CONVERTER_NO_FLAGS,
                             &bytes_read, &bytes_written, &error);
  g_assert_no_error (error);
  g_assert_cmpint (res, ==, G_CONVERTER_FINISHED);
  g_assert_cmpuint (bytes_read, ==, 4);
  g_assert_cmpmem (out, bytes_written, "\r\n", 2);

  res = g_converter_convert (converter, "NEXT", 4, out, sizeof out, G_CONVERTER_NO_FLAGS,
                             &bytes_read, &bytes_written, &error);
  g_assert_no_error (error);
  g_assert_cmpint (res, ==, G_CONVERTER_FINISHED);
  g_assert_cmpuint (bytes_read, ==, 0);
  g_assert_cmpuint (bytes_written, ==, 0);

  g_converter_reset (converter);
  g_assert_false (vsmtp_data_decoder_is_finished (decoder));
  res = g_converter_convert (converter, ".\r\n", 3, out, sizeof out, G_CONVERTER_INPUT_AT_END,
                             &bytes_read, &bytes_written, &error);
  g_assert_no_error (error);
  g_assert_cmpint (res, ==, G_CONVERTER_FINISHED);
  g_assert_cmpuint (bytes_read, ==, 3);
  g_assert_cmpuint (bytes_written, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/data-decoder/cases/plain", GINT_TO_POINTER (FALSE), test_cases);
  g_test_add_data_func ("/data-decoder/cases/normalize", GINT_TO_POINTER (TRUE), test_cases);
  g_test_add_func ("/data-decoder/after-finish", test_after_finish);
  g_test_add_func ("/data-decoder/counter", test_counter_and_property);
  g_test_add_func ("/data-decoder/first-bare-newline", test_first_bare_newline);
  g_test_add_func ("/data-decoder/no-space", test_no_space);
  g_test_add_func ("/data-decoder/large", test_large);
  g_test_add_func ("/data-decoder/converter/stream", test_converter_stream);
  g_test_add_func ("/data-decoder/converter/truncated", test_converter_truncated);
  g_test_add_func ("/data-decoder/converter/direct", test_converter_direct);

  return g_test_run ();
}

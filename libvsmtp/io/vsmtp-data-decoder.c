/* vsmtp-data-decoder.c: SMTP DATA content decoder (dot-unstuffing, end detection)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "vsmtp-data-decoder.h"

/*
 * VsmtpDataDecoder:
 *
 * Decodes the content of an SMTP DATA command, incrementally: input starts
 * right after "DATA" CRLF, at the start of a line.
 *
 * The rules, strict so that no SMTP smuggling is possible (RFC 5321 §4.1.1.4
 * and §4.5.2; CVE-2023-51764/5/6):
 *
 * - The only end of data is CRLF "." CRLF, or "." CRLF at the very start.
 *   The first CRLF belongs to the content (the output ends with CRLF), the
 *   "." CRLF is consumed and not output.
 * - A line starts only after a real CRLF (or at the very start). There, a
 *   "." followed by anything but CRLF is removed (dot-unstuffing).
 * - A bare LF (not preceded by CR) or a bare CR (not followed by LF) never
 *   ends data: what follows it is never an end of data. Each one is
 *   counted (see vsmtp_data_decoder_get_bare_newlines()) and is written as
 *   CRLF when normalizing, else as is. When normalizing, a "." right after
 *   one is removed as at a line start (dot-unstuffing is the same whatever
 *   the line end), so that normalized content has no lone "." line that a
 *   bare newline made.
 *
 * Bytes whose meaning depends on what follows (a trailing CR, "." or ".\r"
 * at a line start) are consumed and held in the decoder's state until the
 * next call decides: they are never output early.
 *
 * It is also a #GConverter, so it can be used with a
 * #GConverterInputStream; the converter returns %G_CONVERTER_FINISHED at the
 * end of data and fails with %G_IO_ERROR_PARTIAL_INPUT if the input ends
 * before it.
 */

typedef enum {
  STATE_LINE_START,     /* at the start of a line */
  STATE_SOFT_LINE_START,/* after a bare CR or LF: a "." is unstuffed, but
                         * nothing here can end the data */
  STATE_TEXT,           /* inside a line */
  STATE_CR,             /* inside a line, a CR is held */
  STATE_DOT,            /* at a line start, a "." is held */
  STATE_DOT_CR,         /* at a line start, ".\r" is held */
  STATE_FINISHED,       /* the end of data was consumed */
} DecoderState;

struct _VsmtpDataDecoder
{
  GObject parent_instance;

  DecoderState state;
  guint64 bare_newlines;
  guint64 lines;              /* CRLFs of content since the reset */
  guint64 first_bare_line;    /* the line of the first bare CR/LF, 1-based */
  guint8 first_bare;          /* that bare newline: '\r' or '\n' */
  gboolean normalize_bare_newlines;
};

static void vsmtp_data_decoder_converter_iface_init (GConverterIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (VsmtpDataDecoder, vsmtp_data_decoder, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_CONVERTER,
                                                      vsmtp_data_decoder_converter_iface_init))

enum {
  PROP_0,
  PROP_NORMALIZE_BARE_NEWLINES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The first CR or LF in [@p, @end), or NULL: one pass for both (16 bytes
 * at a time where SSE2 is there, as on every x86-64), rather than a
 * memchr() for each per line. */
static inline const guint8 *
find_cr_or_lf (const guint8 *p,
               const guint8 *end)
{
#ifdef __SSE2__
  const __m128i cr = _mm_set1_epi8 ('\r');
  const __m128i lf = _mm_set1_epi8 ('\n');

  while (end - p >= 16)
    {
      __m128i v = _mm_loadu_si128 ((const __m128i *) p);
      int mask = _mm_movemask_epi8 (_mm_or_si128 (_mm_cmpeq_epi8 (v, cr),
                                                  _mm_cmpeq_epi8 (v, lf)));

      if (mask != 0)
        return p + __builtin_ctz ((unsigned int) mask);
      p += 16;
    }
#endif
  for (; p < end; p++)
    if (*p == '\r' || *p == '\n')
      return p;
  return NULL;
}

/**
 * vsmtp_data_decoder_decode:
 * @self: a #VsmtpDataDecoder
 * @in: (array length=in_length): the input bytes
 * @in_length: the number of input bytes
 * @out: (array length=out_length): where to write the decoded bytes
 * @out_length: (inout): on entry, the room in @out; on return, the number of
 *   bytes written
 * @finished: (out) (optional): set to %TRUE when the end of data was found
 *   (now or by an earlier call)
 *
 * Decodes as much of @in as fits in @out.
 *
 * Room for 2 * @in_length + 8 bytes in @out is always enough to consume all
 * of @in: each input byte gives at most two output bytes (a normalized bare
 * CR or LF), and the held state releases at most two more. With less room
 * the decoder consumes what it can; it may consume nothing at all when the
 * room is smaller than 2.
 *
 * When the end of data is found, the returned count stops exactly after the
 * terminating LF: the bytes after it (the next pipelined command) are not
 * consumed. After the end, nothing is consumed until
 * vsmtp_data_decoder_reset().
 *
 * Returns: the number of input bytes consumed
 */
gsize
vsmtp_data_decoder_decode (VsmtpDataDecoder *self,
                           const guint8     *in,
                           gsize             in_length,
                           guint8           *out,
                           gsize            *out_length,
                           gboolean         *finished)
{
  static const guint8 empty[1];
  guint8 empty_out[1];
  const guint8 *p;
  const guint8 *end;
  guint8 *o;
  guint8 *o_end;
  DecoderState state;
  gboolean normalize;

  g_return_val_if_fail (VSMTP_IS_DATA_DECODER (self), 0);
  g_return_val_if_fail (in != NULL || in_length == 0, 0);
  g_return_val_if_fail (out_length != NULL, 0);
  g_return_val_if_fail (out != NULL || *out_length == 0, 0);

  /* Empty buffers may be NULL; pointer arithmetic on NULL (even + 0) and
   * memcpy() from or to NULL (even of 0 bytes) are undefined behaviour. */
  if (in == NULL)
    in = empty;
  if (out == NULL)
    out = empty_out;

  p = in;
  end = in + in_length;
  o = out;
  o_end = out + *out_length;
  state = self->state;
  normalize = self->normalize_bare_newlines;

/* Writes a bare CR or LF (@c) and counts it; needs 2 bytes of room. */
#define EMIT_BARE(c) \
  G_STMT_START { \
    if (self->bare_newlines++ == 0) \
      { \
        self->first_bare_line = self->lines + 1; \
        self->first_bare = (c); \
      } \
    if (normalize) \
      { \
        *o++ = '\r'; \
        *o++ = '\n'; \
      } \
    else \
      *o++ = (c); \
  } G_STMT_END

  while (p < end && state != STATE_FINISHED)
    {
      switch (state)
        {
        case STATE_LINE_START:
          if (*p == '.')
            {
              p++;
              state = STATE_DOT;
            }
          else
            state = STATE_TEXT;
          break;

        case STATE_SOFT_LINE_START:
          /* unstuffed when the bare newline becomes CRLF: kept raw else, so
           * that the raw output is the input with only real stuffing gone */
          if (*p == '.' && normalize)
            p++;
          state = STATE_TEXT;
          break;

        case STATE_DOT:
          if (*p == '\r')
            {
              p++;
              state = STATE_DOT_CR;
            }
          else
            state = STATE_TEXT;   /* the dot is dropped */
          break;

        case STATE_DOT_CR:
          if (*p == '\n')
            {
              p++;
              state = STATE_FINISHED;
            }
          else
            {
              /* The dot is dropped, the CR is a bare CR. */
              if (o_end - o < 2)
                goto out;
              EMIT_BARE ('\r');
              state = STATE_SOFT_LINE_START;
            }
          break;

        case STATE_CR:
          if (o_end - o < 2)
            goto out;
          if (*p == '\n')
            {
              p++;
              *o++ = '\r';
              *o++ = '\n';
              self->lines++;
              state = STATE_LINE_START;
            }
          else
            {
              EMIT_BARE ('\r');
              state = STATE_SOFT_LINE_START;
            }
          break;

        case STATE_TEXT:
          {
            const guint8 *stop;
            gsize run;
            gsize room = o_end - o;

            /* Whole lines that end in CRLF and are followed by a line that
             * does not start with "." are output as they are: they are
             * copied together, up to the first CR or LF that needs a
             * decision below (a bare one, a CRLF before a "." or at the
             * end of the input), or up to the room in @out. */
            for (const guint8 *q = p;; q = stop + 2)
              {
                stop = find_cr_or_lf (q, end);
                if (stop == NULL)
                  {
                    stop = end;
                    break;
                  }
                if (*stop != '\r' || end - stop <= 2 || stop[1] != '\n' ||
                    stop[2] == '.' || (gsize) (stop + 2 - p) > room)
                  break;
                self->lines++;
              }

            run = stop - p;
            if (run > room)
              {
                memcpy (o, p, room);
                o += room;
                p += room;
                goto out;
              }
            memcpy (o, p, run);
            o += run;
            p = stop;

            if (p == end)
              break;

            if (*p == '\n')
              {
                /* A bare LF: a CRLF was found as CR first. */
                if (o_end - o < 2)
                  goto out;
                EMIT_BARE ('\n');
                p++;
                state = STATE_SOFT_LINE_START;
              }
            else if (p + 1 == end)
              {
                /* A CR at the end of the input: hold it. */
                p++;
                state = STATE_CR;
              }
            else
              {
                if (o_end - o < 2)
                  goto out;
                if (p[1] == '\n')
                  {
                    *o++ = '\r';
                    *o++ = '\n';
                    p += 2;
                    self->lines++;
                    state = STATE_LINE_START;
                  }
                else
                  {
                    EMIT_BARE ('\r');
                    p++;
                    state = STATE_SOFT_LINE_START;
                  }
              }
          }
          break;

        case STATE_FINISHED:
        default:
          g_assert_not_reached ();
        }
    }

#undef EMIT_BARE

out:
  self->state = state;
  *out_length = o - out;
  if (finished != NULL)
    *finished = state == STATE_FINISHED;

  return p - in;
}

/**
 * vsmtp_data_decoder_is_finished:
 * @self: a #VsmtpDataDecoder
 *
 * Returns: %TRUE once the end of data was consumed
 */
gboolean
vsmtp_data_decoder_is_finished (VsmtpDataDecoder *self)
{
  g_return_val_if_fail (VSMTP_IS_DATA_DECODER (self), FALSE);

  return self->state == STATE_FINISHED;
}

/**
 * vsmtp_data_decoder_get_bare_newlines:
 * @self: a #VsmtpDataDecoder
 *
 * Returns: the number of bare CR and bare LF seen since the last reset
 */
guint64
vsmtp_data_decoder_get_bare_newlines (VsmtpDataDecoder *self)
{
  g_return_val_if_fail (VSMTP_IS_DATA_DECODER (self), 0);

  return self->bare_newlines;
}

/**
 * vsmtp_data_decoder_get_first_bare_newline:
 * @self: a #VsmtpDataDecoder
 * @out_line: (out) (optional): the line of the content it ends, counted
 *   from 1 at the first line after DATA, lines ending in CRLF
 *
 * Where the first bare CR or bare LF since the last reset was, for a
 * reply that tells the client what to fix.
 *
 * Returns: that character, `'\r'` or `'\n'`, or 0 when there was none
 */
char
vsmtp_data_decoder_get_first_bare_newline (VsmtpDataDecoder *self,
                                           guint64          *out_line)
{
  g_return_val_if_fail (VSMTP_IS_DATA_DECODER (self), 0);

  if (out_line != NULL)
    *out_line = self->bare_newlines > 0 ? self->first_bare_line : 0;
  return self->bare_newlines > 0 ? (char) self->first_bare : 0;
}

/**
 * vsmtp_data_decoder_reset:
 * @self: a #VsmtpDataDecoder
 *
 * Gets the decoder ready for a new message: at the start of a line, no
 * bytes held, the bare newline counter at 0.
 */
void
vsmtp_data_decoder_reset (VsmtpDataDecoder *self)
{
  g_return_if_fail (VSMTP_IS_DATA_DECODER (self));

  self->state = STATE_LINE_START;
  self->bare_newlines = 0;
  self->lines = 0;
  self->first_bare_line = 0;
  self->first_bare = 0;
}

/* GConverter */

static GConverterResult
vsmtp_data_decoder_convert (GConverter       *converter,
                            const void       *inbuf,
                            gsize             inbuf_size,
                            void             *outbuf,
                            gsize             outbuf_size,
                            GConverterFlags   flags,
                            gsize            *bytes_read,
                            gsize            *bytes_written,
                            GError          **error)
{
  VsmtpDataDecoder *self = VSMTP_DATA_DECODER (converter);
  gsize written = outbuf_size;
  gsize consumed;
  gboolean finished;

  *bytes_read = 0;
  *bytes_written = 0;

  if (self->state == STATE_FINISHED)
    return G_CONVERTER_FINISHED;

  consumed = vsmtp_data_decoder_decode (self, inbuf, inbuf_size,
                                        outbuf, &written, &finished);
  *bytes_read = consumed;
  *bytes_written = written;

  if (finished)
    return G_CONVERTER_FINISHED;

  if (consumed == 0 && written == 0)
    {
      if (inbuf_size > 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                               "Not enough space in the output buffer");
          return G_CONVERTER_ERROR;
        }

      if (flags & G_CONVERTER_INPUT_AT_END)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                             "The message data ended without CRLF.CRLF");
      else if (flags & G_CONVERTER_FLUSH)
        return G_CONVERTER_FLUSHED;
      else
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                             "Need more input");
      return G_CONVERTER_ERROR;
    }

  if ((flags & G_CONVERTER_FLUSH) && consumed == inbuf_size)
    return G_CONVERTER_FLUSHED;

  return G_CONVERTER_CONVERTED;
}

static void
vsmtp_data_decoder_converter_reset (GConverter *converter)
{
  vsmtp_data_decoder_reset (VSMTP_DATA_DECODER (converter));
}

static void
vsmtp_data_decoder_converter_iface_init (GConverterIface *iface)
{
  iface->convert = vsmtp_data_decoder_convert;
  iface->reset = vsmtp_data_decoder_converter_reset;
}

/* GObject */

static void
vsmtp_data_decoder_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  VsmtpDataDecoder *self = VSMTP_DATA_DECODER (object);

  switch (prop_id)
    {
    case PROP_NORMALIZE_BARE_NEWLINES:
      g_value_set_boolean (value, self->normalize_bare_newlines);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_data_decoder_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  VsmtpDataDecoder *self = VSMTP_DATA_DECODER (object);

  switch (prop_id)
    {
    case PROP_NORMALIZE_BARE_NEWLINES:
      self->normalize_bare_newlines = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_data_decoder_class_init (VsmtpDataDecoderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = vsmtp_data_decoder_get_property;
  object_class->set_property = vsmtp_data_decoder_set_property;

  /**
   * VsmtpDataDecoder:normalize-bare-newlines:
   *
   * Whether a bare CR or bare LF is written as CRLF (else as is).
   */
  properties[PROP_NORMALIZE_BARE_NEWLINES] =
    g_param_spec_boolean ("normalize-bare-newlines", NULL, NULL,
                          FALSE,
                          (G_PARAM_READWRITE |
                           G_PARAM_CONSTRUCT_ONLY |
                           G_PARAM_EXPLICIT_NOTIFY |
                           G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vsmtp_data_decoder_init (VsmtpDataDecoder *self)
{
  self->state = STATE_LINE_START;
}

/**
 * vsmtp_data_decoder_new:
 * @normalize_bare_newlines: whether to write each bare CR or LF as CRLF
 *
 * Returns: (transfer full): a new #VsmtpDataDecoder
 */
VsmtpDataDecoder *
vsmtp_data_decoder_new (gboolean normalize_bare_newlines)
{
  return g_object_new (VSMTP_TYPE_DATA_DECODER,
                       "normalize-bare-newlines", normalize_bare_newlines,
                       NULL);
}

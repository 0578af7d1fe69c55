/* vsmtp-data-receiver.c: a message's content, from DATA (or BDAT chunks) to
 * the spooled VsmtpMessage
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE 1   /* memrchr() */
#include "config.h"

#include <string.h>

#include "vsmtp-data-receiver-private.h"
#include "vsmtp-data-decoder.h"
#include "vsmtp-message-private.h"
#include "vsmtp-settings-private.h"

#define DATA_CHUNK (64 * 1024)
/* the decoder's output for chunks of up to 4 KiB: on the stack */
#define SMALL_CHUNK_OUT (8 * 1024 + 8)

struct _VsmtpDataReceiver
{
  VsmtpSettings    *settings;        /* borrowed, from begin to finish */
  VsmtpMessage     *message;
  VsmtpDataDecoder *decoder;         /* DATA's, made at the first DATA */
  guint8           *out;             /* DATA's decoded content, while it comes */
  guint64           size;
  GError           *error;           /* the spool failed */
  guint64           line_length;     /* of the current content line */
  guint64           header_size;     /* while still in the header section */

  guint             too_big : 1;
  guint             has_nul : 1;     /* a NUL in the content */
  guint             in_header : 1;
  guint             header_too_big : 1;
  guint             line_too_long : 1;
  guint             binary : 1;      /* BODY=BINARYMIME: NULs and long lines are content */
};

VsmtpDataReceiver *
_vsmtp_data_receiver_new (void)
{
  return g_new0 (VsmtpDataReceiver, 1);
}

void
_vsmtp_data_receiver_free (VsmtpDataReceiver *self)
{
  if (self == NULL)
    return;
  g_clear_object (&self->message);
  g_clear_object (&self->decoder);
  g_clear_error (&self->error);
  g_free (self->out);
  g_free (self);
}

void
_vsmtp_data_receiver_reset (VsmtpDataReceiver *self)
{
  g_clear_object (&self->message);
  g_clear_error (&self->error);
  self->size = 0;
  self->too_big = FALSE;
}

void
_vsmtp_data_receiver_begin (VsmtpDataReceiver *self,
                            VsmtpSettings     *settings,
                            VsmtpMessage      *message)
{
  g_clear_object (&self->message);
  self->message = message;
  self->settings = settings;

  if (self->decoder == NULL)
    self->decoder = vsmtp_data_decoder_new (settings->bare_newline ==
                                            VSMTP_BARE_NEWLINE_NORMALIZE);
  else
    vsmtp_data_decoder_reset (self->decoder);
  self->size = 0;
  self->too_big = FALSE;
  self->has_nul = FALSE;
  self->line_length = 0;
  self->header_size = 0;
  self->in_header = TRUE;
  self->header_too_big = FALSE;
  self->line_too_long = FALSE;
  self->binary = FALSE;
  g_clear_error (&self->error);
}

void
_vsmtp_data_receiver_set_binary (VsmtpDataReceiver *self,
                                 gboolean           binary)
{
  self->binary = binary != FALSE;
}

VsmtpMessage *
_vsmtp_data_receiver_get_message (VsmtpDataReceiver *self)
{
  return self->message;
}

guint64
_vsmtp_data_receiver_get_size (VsmtpDataReceiver *self)
{
  return self->size;
}

/* Tracks the header section's size and the longest content line over
 * @content (runs of bytes between LFs, found with memchr; past the header
 * section, with memrchr over the most bytes the current line may still
 * take: every line up to the last LF there is short enough, one search
 * per window instead of one per line). */
static void
scan_content (VsmtpDataReceiver *self,
              const guint8      *content,
              gsize              length)
{
  const VsmtpServerLimits *limits = &self->settings->limits;
  const guint8 *p = content, *end = content + length;

  if (limits->max_header_size == 0 && limits->max_data_line_length == 0)
    return;

  while (p < end)
    {
      const guint8 *nl;
      gsize run;

      if (!self->in_header)
        {
          guint64 max = limits->max_data_line_length;
          gsize window;
          const guint8 *last;

          if (max == 0 || self->line_too_long)
            return;   /* nothing more to find out */
          /* the line's length counts its LF: max - line_length more bytes
           * at most, that LF included */
          window = (gsize) MIN (max - MIN (self->line_length, max), (guint64) (end - p));
          last = window > 0 ? memrchr (p, '\n', window) : NULL;
          if (last != NULL)
            {
              self->line_length = 0;
              p = last + 1;
            }
          else if (window < (gsize) (end - p))
            {
              self->line_too_long = TRUE;
              return;
            }
          else
            {
              self->line_length += end - p;
              return;
            }
          continue;
        }

      nl = memchr (p, '\n', end - p);
      run = (nl != NULL ? nl + 1 : end) - p;

      if (self->in_header)
        {
          /* the header section ends at the first empty line: CRLF alone
           * (lines end in CRLF here: the decoder normalizes bare newlines or
           * the message is rejected for them anyway) */
          if (nl != NULL && self->line_length + run <= 2)
            self->in_header = FALSE;
          self->header_size += run;
          if (limits->max_header_size > 0 && self->header_size > limits->max_header_size)
            self->header_too_big = TRUE;
        }

      self->line_length += run;
      if (limits->max_data_line_length > 0 &&
          self->line_length > limits->max_data_line_length)
        self->line_too_long = TRUE;
      if (nl != NULL)
        self->line_length = 0;
      p += run;
    }
}

void
_vsmtp_data_receiver_feed (VsmtpDataReceiver *self,
                           const guint8      *bytes,
                           gsize              length)
{
  self->size += length;
  if (!self->too_big && self->size > self->settings->max_message_size)
    self->too_big = TRUE;
  scan_content (self, bytes, length);
  /* NUL is in neither 7bit nor 8bit data (RFC 2045 §2.7, §2.8), only in
   * BINARYMIME; and a later hop that drops NULs would see "\r\n\0.\r\n"
   * as an end of data */
  if (!self->has_nul && length > 0 && memchr (bytes, '\0', length) != NULL)
    self->has_nul = TRUE;

  if (!self->too_big && self->error == NULL && length > 0)
    _vsmtp_message_append (self->message, bytes, length, &self->error);
}

gsize
_vsmtp_data_receiver_feed_data (VsmtpDataReceiver *self,
                                const guint8      *in,
                                gsize              length,
                                gboolean          *finished)
{
  /* the decoder's output is at most twice its input (bare newlines made
   * CRLF) and is appended before this returns: a small chunk (a whole
   * small message, often) is decoded on the stack, rather than into a
   * 128 KiB block allocated and freed for the message */
  guint8 small[SMALL_CHUNK_OUT];
  guint8 *out;
  gsize out_length;
  gsize consumed;

  *finished = FALSE;
  if (length > DATA_CHUNK)
    length = DATA_CHUNK;
  if (self->out == NULL && 2 * length + 8 <= sizeof small)
    {
      out = small;
      out_length = sizeof small;
    }
  else
    {
      if (self->out == NULL)
        self->out = g_malloc (2 * DATA_CHUNK + 8);
      out = self->out;
      out_length = 2 * DATA_CHUNK + 8;
    }

  consumed = vsmtp_data_decoder_decode (self->decoder, in, length,
                                        out, &out_length, finished);
  _vsmtp_data_receiver_feed (self, out, out_length);
  if (*finished)
    g_clear_pointer (&self->out, g_free);

  return consumed;
}

VsmtpReply *
_vsmtp_data_receiver_finish (VsmtpDataReceiver  *self,
                             GError            **error)
{
  guint64 bare_line = 0;
  char bare;

  if (self->too_big)
    return vsmtp_reply_new (552, "5.3.4", "Error: message file too big");
  if (self->header_too_big)
    return vsmtp_reply_new (552, "5.3.4", "Error: message header too big");
  if (self->line_too_long && !self->binary)
    return vsmtp_reply_new (500, "5.5.2", "Error: message line too long");
  if (self->has_nul && !self->binary)
    return vsmtp_reply_new (554, "5.6.0", "Error: NUL character in message content");
  if (self->settings->bare_newline == VSMTP_BARE_NEWLINE_REJECT &&
      (bare = vsmtp_data_decoder_get_first_bare_newline (self->decoder, &bare_line)))
    return vsmtp_reply_new_printf (550, "5.5.2",
                                   "Error: bare <%s> received in line %" G_GUINT64_FORMAT
                                   " of the message: end lines with CRLF, or set "
                                   "bare-newline=normalize on the server",
                                   bare == '\r' ? "CR" : "LF", bare_line);
  if (self->error != NULL || !_vsmtp_message_finish (self->message, error))
    return vsmtp_reply_new (451, "4.3.0", "Error: local error in processing");
  return NULL;
}

/* vsmtp-session-bdat.c: CHUNKING (RFC 3030): the BDAT command and its chunks
 *
 * `BDAT <size> [LAST]` is followed by exactly <size> octets of content:
 * no dot-stuffing, no end-of-data marker, nothing in them is a command.
 * The octets go to the same data receiver as DATA's (the size limit, the
 * spool, the Received header), and the last chunk ends the message the
 * way the end of DATA does (_vsmtp_session_end_of_data(): the receiver's
 * checks, then the message-received decision).
 *
 * A chunk that is refused — no transaction, a bad keyword after the size,
 * the "data" decision said no, the message would grow past the size
 * limit — is still read to its last octet and dropped as it comes (never
 * buffered whole): the client sent it anyway, and reading what follows a
 * refused BDAT as commands would let it smuggle commands inside a chunk.
 * The refusal is queued at once, so it is counted like any other error
 * reply, and sent in order with the others. A size that does not parse
 * cannot be skipped: the reply closes the connection.
 *
 * The first chunk of a transaction emits the session's "data" signal, as
 * DATA does, so the handlers that decide on DATA decide on BDAT too; the
 * later chunks of the transaction do not. While a chunk is read the
 * session's deadline follows min-data-rate, as during DATA.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-body-type.h"
#include "vsmtp-extension-private.h"
#include "vsmtp-trace-private.h"
#include "vsmtp-session-struct-private.h"
#include "vsmtp-session-lmtp-private.h"

/* 2^63 - 1 has 19 digits: a longer size is refused without converting it */
#define BDAT_SIZE_DIGITS_MAX 19

/* The size at the start of @args: TRUE and *rest after it when it is
 * 1*DIGIT, fits in 63 bits and ends at a space or the end of the line. */
static gboolean
bdat_parse_size (const char  *args,
                 guint64     *size,
                 const char **rest)
{
  gsize n = 0;
  guint64 value = 0;

  while (g_ascii_isdigit (args[n]))
    {
      if (n == BDAT_SIZE_DIGITS_MAX)
        return FALSE;
      value = value * 10 + (guint64) (args[n] - '0');
      n++;
    }
  if (n == 0 || (args[n] != '\0' && args[n] != ' ') || value > G_MAXINT64)
    return FALSE;
  *size = value;
  *rest = args + n;
  return TRUE;
}

/* What follows the size: nothing, or LAST (any case). */
static gboolean
bdat_parse_last (const char *rest,
                 gboolean   *last)
{
  while (*rest == ' ')
    rest++;
  *last = FALSE;
  if (g_ascii_strncasecmp (rest, "LAST", 4) == 0)
    {
      *last = TRUE;
      rest += 4;
      while (*rest == ' ')
        rest++;
    }
  return *rest == '\0';
}

/* Starts reading the announced chunk: into the message (@accepted) or
 * dropping its octets. The deadline then follows min-data-rate, as during
 * DATA (vsmtp-session.c). */
static void
chunk_begin (VsmtpSession *self,
             gboolean      accepted)
{
  self->chunk_accepted = accepted;
  self->chunk_active = TRUE;
  self->data_deadline = g_get_monotonic_time () +
                        (gint64) self->settings->timeout * G_USEC_PER_SEC;
}

/* Refuses the announced chunk with @reply, and drops its octets. */
static void
chunk_refuse (VsmtpSession *self,
              VsmtpReply   *reply)
{
  session_queue (self, reply);
  chunk_begin (self, FALSE);
}

/* The transaction takes the announced chunk, if the message stays within
 * the size limit with it: else the chunk is dropped, the transaction ends
 * with 552 and the later chunks are refused as chunks without one. */
static void
chunk_accept (VsmtpSession *self)
{
  guint64 so_far = _vsmtp_data_receiver_get_size (self->receiver);
  guint64 max = self->settings->max_message_size;

  if (so_far > max || self->chunk_size > max - so_far)
    {
      g_autoptr(VsmtpReply) reply =
        vsmtp_reply_new (552, "5.3.4", "Error: message file too big");
      VsmtpMessage *message = _vsmtp_data_receiver_get_message (self->receiver);

      _vsmtp_log_transaction (self->id, self->remote_ip, self->envelope,
                              message ? vsmtp_message_get_id (message) : "",
                              so_far + MIN (self->chunk_size, G_MAXUINT64 - so_far), reply);
      /* the end of the message when the chunk is the last: in LMTP one
       * reply per recipient */
      if (self->chunk_last)
        _vsmtp_session_queue_message_reply (self, reply);
      else
        session_queue (self, reply);
      _vsmtp_session_reset_transaction (self);
      chunk_begin (self, FALSE);
      return;
    }

  session_set_state (self, VSMTP_SESSION_STATE_DATA);
  _vsmtp_session_touch_timeout (self);
  chunk_begin (self, TRUE);
}

/* The "data" decision on the first chunk of a transaction. */
static void
then_bdat (VsmtpSession *self,
           VsmtpReply   *reply)
{
  g_autoptr(VsmtpReply) failure = NULL;

  if (!vsmtp_reply_is_positive (reply))
    {
      chunk_refuse (self, reply);
      return;
    }

  failure = _vsmtp_session_begin_message (self);
  if (failure != NULL)
    {
      chunk_refuse (self, failure);
      return;
    }

  self->bdat = TRUE;
  if (vsmtp_envelope_get_body_type (self->envelope) == VSMTP_BODY_TYPE_BINARY_MIME)
    _vsmtp_data_receiver_set_binary (self->receiver, TRUE);
  chunk_accept (self);
}

void
_vsmtp_session_handle_bdat (VsmtpSession *self,
                            const char   *args)
{
  const char *rest = NULL;
  gboolean last = FALSE;
  guint64 size = 0;

  /* not offered (an HELO client, CHUNKING unregistered): the client should
   * not have sent it, and whether octets follow is anyone's guess */
  if (!self->esmtp ||
      !_vsmtp_extension_registry_offers (self->settings->extensions, self, "CHUNKING"))
    {
      session_queue_new (self, 502, "5.5.1", "Error: command not implemented");
      return;
    }

  if (!bdat_parse_size (args, &size, &rest))
    {
      /* where the chunk ends is unknown: nothing after this can be read
       * as a command */
      g_autoptr(VsmtpReply) reply =
        vsmtp_reply_new (501, "5.5.4", "Syntax: BDAT size [LAST]: bad chunk size, closing connection");

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: bad BDAT chunk size from [%s]: disconnecting",
                        self->id, self->remote_ip ? self->remote_ip : "unknown");
      _vsmtp_session_close_after_flush (self, reply);
      return;
    }

  self->chunk_size = size;
  self->chunk_remaining = size;
  self->chunk_last = FALSE;

  if (!bdat_parse_last (rest, &last))
    session_queue_new (self, 501, "5.5.4", "Syntax: BDAT size [LAST]");
  else if (self->state == VSMTP_SESSION_STATE_MAIL)
    session_queue_new (self, 503, "5.5.1", "Error: need RCPT command");
  else if (self->state != VSMTP_SESSION_STATE_RCPT)
    session_queue_new (self, 503, "5.5.1", "Error: need MAIL command");
  else
    {
      self->chunk_last = last;
      if (self->bdat)
        chunk_accept (self);
      else
        EMIT_DECISION (SIGNAL_DATA, then_bdat, _vsmtp_session_real_data (self));
      return;
    }
  /* refused: its octets are read and dropped all the same */
  chunk_begin (self, FALSE);
}

/* The announced octets are all read. */
static void
chunk_end (VsmtpSession *self)
{
  gboolean accepted = self->chunk_accepted;

  self->chunk_active = FALSE;
  self->chunk_accepted = FALSE;
  if (!accepted)
    {
      /* refused: its reply is queued already */
      _vsmtp_session_touch_timeout (self);
      return;
    }
  if (self->chunk_last)
    {
      /* the same end as DATA's */
      _vsmtp_session_end_of_data (self);
      return;
    }
  session_set_state (self, VSMTP_SESSION_STATE_RCPT);
  _vsmtp_session_touch_timeout (self);
  {
    g_autoptr(VsmtpReply) reply =
      vsmtp_reply_new_printf (250, "2.0.0", "%" G_GUINT64_FORMAT " octets received",
                              self->chunk_size);

    session_queue (self, reply);
  }
}

gboolean
_vsmtp_session_process_chunk (VsmtpSession *self)
{
  if (self->chunk_remaining > 0)
    {
      VsmtpLineInputStream *input = vsmtp_connection_get_input (self->connection);
      const guint8 *in;
      gsize length;

      in = vsmtp_line_input_stream_peek_buffer (input, &length);
      if (length == 0)
        return FALSE;
      if (length > self->chunk_remaining)
        length = (gsize) self->chunk_remaining;

      if (self->chunk_accepted)
        _vsmtp_data_receiver_feed (self->receiver, in, length);
      vsmtp_line_input_stream_skip_buffer (input, length);
      self->chunk_remaining -= length;
      if (self->chunk_remaining > 0)
        return TRUE;
    }

  chunk_end (self);
  return TRUE;
}

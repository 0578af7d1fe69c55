/* vsmtp-session-lmtp.c: what differs in a session on an LMTP listener
 *
 * RFC 2033: the client greets with LHLO (and only with it: HELO and EHLO
 * are SMTP's), is offered the same extensions as after EHLO, and after
 * the message gets one reply per recipient it was accepted for, in the
 * order of its RCPT commands, so that the MTA in front can deliver,
 * defer or bounce each recipient on its own. DATA without any accepted
 * recipient is refused with 503, as in SMTP. The Received: header is the
 * MTA's business: the session adds none of its own unless the listener's
 * [property@Vsmtp.ListenOptions:lmtp-received-header] asks for one
 * (`with LMTP`, RFC 3848).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-listen-options.h"
#include "vsmtp-session-lmtp-private.h"
#include "vsmtp-trace-private.h"
#include "vsmtp-session-struct-private.h"

gboolean
_vsmtp_session_is_lmtp (VsmtpSession *self)
{
  return self->listen_options != NULL &&
         vsmtp_listen_options_get_protocol (self->listen_options) == VSMTP_PROTOCOL_LMTP;
}

gboolean
_vsmtp_session_adds_received (VsmtpSession *self)
{
  return !_vsmtp_session_is_lmtp (self) ||
         vsmtp_listen_options_get_lmtp_received_header (self->listen_options);
}

void
_vsmtp_session_handle_hello (VsmtpSession *self,
                             VsmtpVerb     verb,
                             const char   *args)
{
  gboolean lmtp = _vsmtp_session_is_lmtp (self);

  if (lmtp && verb != VSMTP_VERB_LHLO)
    session_queue_new (self, 500, "5.5.1", "Error: this is an LMTP server: send LHLO");
  else if (!lmtp && verb == VSMTP_VERB_LHLO)
    session_queue_new (self, 500, "5.5.1", "Error: LHLO is for LMTP: send EHLO or HELO");
  else
    _vsmtp_session_handle_helo (self, args, verb != VSMTP_VERB_HELO);
}

/* One line of the log per recipient of an LMTP message, as the MTA in
 * front will log it: the transaction's line only has the message's
 * summary. */
static void
log_recipient_reply (VsmtpSession *self,
                     VsmtpAddress *recipient,
                     VsmtpReply   *reply)
{
  g_autoptr(GString) line = g_string_sized_new (128);

  g_string_append (line, self->id);
  g_string_append (line, ": LMTP to=<");
  _vsmtp_string_append_log_escaped (line, vsmtp_address_to_string (recipient));
  g_string_append_c (line, '>');
  _vsmtp_string_append_log_result (line, reply);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "VSMTP_SESSION_ID", self->id,
                    "MESSAGE", "%s", line->str);
}

void
_vsmtp_session_queue_message_reply (VsmtpSession *self,
                                    VsmtpReply   *reply)
{
  guint n = self->envelope != NULL ? vsmtp_envelope_get_n_recipients (self->envelope) : 0;
  g_autoptr(VsmtpReply) mismatch = NULL;
  VsmtpReply **replies;
  guint n_replies = 0;

  if (!_vsmtp_session_is_lmtp (self) || n == 0)
    {
      session_queue (self, reply);
      return;
    }

  replies = vsmtp_reply_get_recipient_replies (reply, &n_replies);
  if (replies != NULL && n_replies != n)
    {
      /* a handler's mistake: no recipient may get a 250 it did not earn */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: %u replies for %u recipients: answering 451 for each",
                        self->id, n_replies, n);
      mismatch = vsmtp_reply_new (451, "4.3.0", "Error: local error in processing, try again later");
      replies = NULL;
      reply = mismatch;
    }

  for (guint i = 0; i < n; i++)
    {
      VsmtpReply *each = replies != NULL ? replies[i] : reply;

      vsmtp_reply_append_to (each, self->outbuf);
      log_recipient_reply (self, vsmtp_envelope_get_recipient (self->envelope, i), each);
    }

  /* the message counts once towards the error limits, as in SMTP: a
   * recipient whose mailbox is full is not the client's error */
  if (vsmtp_reply_get_code (reply) >= 400 && vsmtp_reply_get_code (reply) != 421)
    self->n_errors++;
}

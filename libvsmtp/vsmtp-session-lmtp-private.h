/* vsmtp-session-lmtp-private.h: what differs in a session on an LMTP
 * listener (RFC 2033)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-command-private.h"
#include "vsmtp-session-private.h"
#include "vsmtp-reply.h"

G_BEGIN_DECLS

/* Whether the session is on an LMTP listener. */
gboolean _vsmtp_session_is_lmtp              (VsmtpSession *self);

/* Whether the session prepends a Received: header of its own to each
 * message: always for SMTP, for LMTP when the listener says so. */
gboolean _vsmtp_session_adds_received        (VsmtpSession *self);

/* HELO, EHLO and LHLO (@verb): each protocol's own greeting command, and a
 * 500 for the other protocol's. */
void     _vsmtp_session_handle_hello         (VsmtpSession *self,
                                              VsmtpVerb     verb,
                                              const char   *args);

/* The one place where the end of a message (DATA's final dot, BDAT LAST)
 * is answered: @reply for SMTP; for LMTP one reply per accepted recipient,
 * in RCPT order (the per-recipient replies of @reply, or @reply itself
 * for each). */
void     _vsmtp_session_queue_message_reply  (VsmtpSession *self,
                                              VsmtpReply   *reply);

G_END_DECLS

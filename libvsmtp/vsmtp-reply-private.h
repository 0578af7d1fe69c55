/* vsmtp-reply-private.h: what the session needs beyond the public VsmtpReply API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-reply.h"

G_BEGIN_DECLS

/* Called by the session when the decision deadline of a pending reply has
 * passed: afterwards vsmtp_reply_complete() and vsmtp_reply_complete_with()
 * return FALSE and do nothing. The reply stays pending (it never gets a code);
 * no signal is emitted. Does nothing on a completed reply. */
void     _vsmtp_reply_expire     (VsmtpReply *self);

/* TRUE once _vsmtp_reply_expire() was called on a pending reply. */
gboolean _vsmtp_reply_is_expired (VsmtpReply *self);

G_END_DECLS

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

typedef void (*VsmtpReplyCompletedFunc) (VsmtpReply *reply,
                                         gpointer    user_data);

/* A session's watch on a pending reply it waits for (one per deferred
 * decision): @func runs once, when the reply is completed, after the
 * handlers of VsmtpReply::completed, with a reference on the reply held
 * meanwhile. Cheaper than g_signal_connect() and its disconnection (a
 * closure, a handler list entry, a marshaller) on every deferred decision.
 * One reply may be returned to several decisions (sessions waiting for
 * the same thing): each has its watch, run in the order they were added. */
void     _vsmtp_reply_add_completed_func    (VsmtpReply              *self,
                                             VsmtpReplyCompletedFunc  func,
                                             gpointer                 user_data);
/* Whether some decision still waits for the reply */
gboolean _vsmtp_reply_is_watched            (VsmtpReply              *self);
/* Removes the watch of @func with @user_data, if it is there. */
void     _vsmtp_reply_remove_completed_func (VsmtpReply              *self,
                                             VsmtpReplyCompletedFunc  func,
                                             gpointer                 user_data);

G_END_DECLS

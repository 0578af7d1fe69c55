/* vsmtp-reply.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_REPLY (vsmtp_reply_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpReply, vsmtp_reply, VSMTP, REPLY, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new                    (guint        code,
                                                 const char  *enhanced_code,
                                                 const char  *text);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_printf             (guint        code,
                                                 const char  *enhanced_code,
                                                 const char  *format,
                                                 ...) G_GNUC_PRINTF (3, 4);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_ok                 (void);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_temporary_failure  (const char  *text);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_no_such_user       (void);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_relay_denied       (void);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_policy_rejection   (const char  *text);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_pending            (void);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_continue           (void);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply  *vsmtp_reply_new_for_recipients     (VsmtpReply **replies,
                                                 guint        n_replies);

VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_complete               (VsmtpReply  *self,
                                                 guint        code,
                                                 const char  *enhanced_code,
                                                 const char  *text);
VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_complete_with          (VsmtpReply  *self,
                                                 VsmtpReply  *reply);
VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_complete_continue      (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_complete_for_recipients (VsmtpReply  *self,
                                                 VsmtpReply **replies,
                                                 guint        n_replies);
VSMTP_AVAILABLE_IN_ALL
VsmtpReply **vsmtp_reply_get_recipient_replies  (VsmtpReply  *self,
                                                 guint       *n_replies);
VSMTP_AVAILABLE_IN_ALL
GCancellable *vsmtp_reply_get_cancellable       (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_is_continue            (VsmtpReply  *self);

VSMTP_AVAILABLE_IN_ALL
guint        vsmtp_reply_get_code               (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
const char  *vsmtp_reply_get_enhanced_code      (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
const char  *vsmtp_reply_get_text               (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_is_pending             (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_is_positive            (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_is_transient           (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean     vsmtp_reply_is_permanent           (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
char        *vsmtp_reply_to_string              (VsmtpReply  *self);
VSMTP_AVAILABLE_IN_ALL
void         vsmtp_reply_append_to              (VsmtpReply  *self,
                                                 GString     *buffer);

G_END_DECLS

/* vsmtp-settings-replies-private.h: the replies a session's settings alone
 * decide, made once per settings snapshot
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-reply.h"
#include "vsmtp-settings-private.h"

G_BEGIN_DECLS

/* "220 HOSTNAME ESMTP vsmtpd" (or LMTP): a new reference */
VsmtpReply *_vsmtp_settings_get_greeting   (VsmtpSettings *self,
                                            gboolean       lmtp);
/* "250 HOSTNAME": a new reference */
VsmtpReply *_vsmtp_settings_get_helo_reply (VsmtpSettings *self);
/* 250 with @text (the host name and the extensions offered, a line
 * each): the one made for the same text before, if any; a new reference */
VsmtpReply *_vsmtp_settings_get_ehlo_reply (VsmtpSettings *self,
                                            const char    *text);

G_END_DECLS

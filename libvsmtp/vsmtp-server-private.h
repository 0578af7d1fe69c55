/* vsmtp-server-private.h: what the library's other units need of the server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-scram.h"
#include "vsmtp-server.h"
#include "vsmtp-settings-private.h"
#include "vsmtp-client-tracker-private.h"

G_BEGIN_DECLS

/* The settings a new session takes (transfer none: ref it to keep it):
 * made again after a setting changed. */
VsmtpSettings *_vsmtp_server_get_settings (VsmtpServer *self);

/* NULL when @session may proceed, else the reply that refuses it (421). */
VsmtpReply *_vsmtp_server_admit (VsmtpServer  *self,
                                 VsmtpSession *session);

G_END_DECLS

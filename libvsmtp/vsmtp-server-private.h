/* vsmtp-server-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-server.h"

G_BEGIN_DECLS

/* Called by a session once, when it is closed. */
void _vsmtp_server_session_closed (VsmtpServer  *self,
                                   VsmtpSession *session);

G_END_DECLS

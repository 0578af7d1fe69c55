/* vsmtp-xclient.h: who the client is when a proxy speaks for it (XCLIENT)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-session.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_session_get_xclient       (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
GSocketAddress *vsmtp_session_get_peer_address  (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
GSocketAddress *vsmtp_session_get_local_address (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
const char     *vsmtp_session_get_client_name   (VsmtpSession *self);

G_END_DECLS

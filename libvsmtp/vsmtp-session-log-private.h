/* vsmtp-session-log-private.h: a session's connect and disconnect lines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void _vsmtp_session_log_connect    (const char *session_id,
                                    const char *peer);
void _vsmtp_session_log_disconnect (const char *session_id,
                                    const char *remote_ip,
                                    guint       n_messages);

G_END_DECLS

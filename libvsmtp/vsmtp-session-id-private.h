/* vsmtp-session-id-private.h: a session's id, once per connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *_vsmtp_session_id_new (void);

G_END_DECLS

/* vsmtpd-privileges.h: running as an unprivileged user after start-up
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

gboolean vsmtpd_privileges_drop (uid_t        uid,
                                 gid_t        gid,
                                 const char  *user,
                                 GError     **error);

G_END_DECLS

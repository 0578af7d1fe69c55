/* vsmtpd-dbus-caller.h: the groups of a D-Bus caller's process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>
#include <glib.h>

G_BEGIN_DECLS

gboolean vsmtpd_dbus_caller_has_group (GVariant *credentials,
                                       gid_t     group);

G_END_DECLS

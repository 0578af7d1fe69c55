/* vsmtp-fd-source.h: a GSource for one readable descriptor, cheap to dispatch
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

GSource *vsmtp_fd_source_new (int fd);

G_END_DECLS

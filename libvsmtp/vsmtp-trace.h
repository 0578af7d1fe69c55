/* vsmtp-trace.h: what the server writes about its clients (log lines)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

VSMTP_AVAILABLE_IN_ALL
char *vsmtp_log_escape (const char *text,
                        gssize      length);

G_END_DECLS

/* vsmtp-trace-private.h: the log escaping rule, for the library's own lines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-trace.h"

G_BEGIN_DECLS

/* Appends @text (NUL-terminated) to @string escaped as vsmtp_log_escape()
 * does; without anything to escape, a plain append. */
void _vsmtp_string_append_log_escaped (GString    *string,
                                       const char *text);

G_END_DECLS

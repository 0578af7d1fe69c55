/* vsmtpd-log.h: where vsmtpd's log goes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void  vsmtpd_log_init          (gboolean    verbose);
void  vsmtpd_log_capture_begin (const char *log_domain);
char *vsmtpd_log_capture_end   (void);

G_END_DECLS

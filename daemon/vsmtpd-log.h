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

/* Called, on the thread that logs, with each transaction line (a message
 * with a VSMTP_MESSAGE_ID field) as it is written; NULL: none */
typedef void (*VsmtpdLogTap) (const char *line);
void  vsmtpd_log_set_transaction_tap (VsmtpdLogTap tap);

G_END_DECLS

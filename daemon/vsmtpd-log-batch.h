/* vsmtpd-log-batch.h: vsmtpd's stderr log lines, written once per main loop iteration
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

G_BEGIN_DECLS

void     vsmtpd_log_batch_start (VsmtpServer *server);
void     vsmtpd_log_batch_stop  (void);
gboolean vsmtpd_log_batch_write (const char *data,
                                 gsize       length,
                                 gboolean    may_wait);
void     vsmtpd_log_batch_flush (void);

G_END_DECLS

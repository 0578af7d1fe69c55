/* vsmtpd-workers.h: several worker processes on SO_REUSEPORT listeners
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean vsmtpd_workers_is_worker (void);
void     vsmtpd_workers_worker_init (void);
void     vsmtpd_workers_worker_ready (void);
int      vsmtpd_workers_run        (guint               n_workers,
                                    const char * const *argv,
                                    guint               shutdown_grace,
                                    const char         *metrics_directory);

G_END_DECLS

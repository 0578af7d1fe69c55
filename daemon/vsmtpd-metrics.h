/* vsmtpd-metrics.h: [metrics], the server's metrics over HTTP for
 * Prometheus
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

G_BEGIN_DECLS

typedef struct _VsmtpdMetrics VsmtpdMetrics;

/* The [metrics] group and its keys (for loading, and --list-keys) */
VsmtpConfigGroup *vsmtpd_metrics_group_new (void);

/* Serves the metrics of @server at http://listen/metrics on the thread's
 * main context, if [metrics] listen is set or systemd passed @socket (a
 * socket named "metrics", used instead of listen). NULL without an error:
 * neither. @description: where, for the log. */
VsmtpdMetrics    *vsmtpd_metrics_start     (GKeyFile     *keyfile,
                                            VsmtpServer  *server,
                                            GSocket      *socket,
                                            char        **description,
                                            GError      **error);
void              vsmtpd_metrics_free      (VsmtpdMetrics *self);

G_END_DECLS

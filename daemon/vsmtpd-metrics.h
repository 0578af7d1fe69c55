/* vsmtpd-metrics.h: [metrics], the server's metrics over HTTP for
 * Prometheus
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>
#include <libsoup/soup.h>

#include "vsmtpd-config.h"

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

/* Where the daemon keeps its configuration, replaced by a reload: the
 * status page (/) lists its listeners */
void              vsmtpd_metrics_set_config (VsmtpdMetrics        *self,
                                             VsmtpdConfig * const *config);
/* With [server] workers above 1 (vsmtpd-metrics-workers.c): the master's
 * listener answers with the sum of the workers' metrics, each asked over
 * a UNIX socket in a private folder */
typedef struct _VsmtpdMetricsWorkers VsmtpdMetricsWorkers;

VsmtpdMetricsWorkers *vsmtpd_metrics_workers_new    (guint                  n_workers,
                                                     GError               **error);
const char  *vsmtpd_metrics_workers_get_directory   (VsmtpdMetricsWorkers  *self);
void         vsmtpd_metrics_workers_respond         (VsmtpdMetricsWorkers  *self,
                                                     SoupServerMessage     *message);
void         vsmtpd_metrics_workers_free            (VsmtpdMetricsWorkers  *self);
/* @workers (taken) answer @self's scrapes */
void         vsmtpd_metrics_set_workers             (VsmtpdMetrics         *self,
                                                     VsmtpdMetricsWorkers  *workers);
/* The socket of worker @index (from 1) in @directory */
char        *vsmtpd_metrics_worker_socket           (const char            *directory,
                                                     guint                  index);
/* In a worker: its metrics on the UNIX socket @path */
SoupServer  *vsmtpd_metrics_start_worker            (VsmtpServer           *server,
                                                     const char            *path,
                                                     GError               **error);
/* Expositions summed series by series */
char        *vsmtpd_metrics_sum                     (const char * const    *texts);

G_END_DECLS

/* vsmtp-server-metrics-private.h: what the server and its sessions count
 * in the server's #VsmtpMetrics
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every function takes the server (NULL: gone, nothing is counted) and
 * updates a metric registered when the server was made
 * (vsmtp-server-metrics.c lists them, docs/monitoring.md documents them).
 */
#pragma once

#include "vsmtp-server.h"
#include "vsmtp-listen-options.h"
#include "vsmtp-metrics.h"
#include "vsmtp-reply.h"

G_BEGIN_DECLS

typedef struct _VsmtpServerMetrics VsmtpServerMetrics;

VsmtpServerMetrics *_vsmtp_server_metrics_new      (void);
void                _vsmtp_server_metrics_free     (VsmtpServerMetrics *metrics);

void _vsmtp_metrics_connection_accepted (VsmtpServer        *server,
                                         VsmtpListenOptions *options);
void _vsmtp_metrics_connection_refused  (VsmtpServer        *server,
                                         VsmtpListenOptions *options,
                                         const char         *limit);
void _vsmtp_metrics_session_closed      (VsmtpServer        *server,
                                         VsmtpListenOptions *options,
                                         const char         *reason);
/* @what: "transaction" (MAIL), "recipient" (RCPT) or "message" (the end of
 * the content) */
void _vsmtp_metrics_reply               (VsmtpServer        *server,
                                         const char         *what,
                                         VsmtpReply         *reply);
void _vsmtp_metrics_bytes_received      (VsmtpServer        *server,
                                         guint64             n);
void _vsmtp_metrics_tls_handshake       (VsmtpServer        *server,
                                         const char         *version,
                                         gboolean            succeeded);
void _vsmtp_metrics_auth                (VsmtpServer        *server,
                                         const char         *mechanism,
                                         gboolean            succeeded);
void _vsmtp_metrics_limit_hit           (VsmtpServer        *server,
                                         const char         *limit);
void _vsmtp_metrics_decision            (VsmtpServer        *server,
                                         const char         *signal,
                                         const char         *plugin,
                                         VsmtpReply         *reply,
                                         gint64              microseconds);

G_END_DECLS

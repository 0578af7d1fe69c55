/* vsmtp-server-metrics.c: the server's own metrics
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Registered when the server is made, in its #VsmtpMetrics (which plugins
 * extend with theirs), and updated on the server's main context by the
 * listener code, the sessions and the decisions. docs/monitoring.md lists
 * them: a metric added here is added there.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-server-metrics-private.h"
#include "vsmtp-server-struct-private.h"

struct _VsmtpServerMetrics
{
  VsmtpMetrics *registry;

  VsmtpMetric  *connections_accepted;   /* listener */
  VsmtpMetric  *connections_refused;    /* listener */
  VsmtpMetric  *connections_active;     /* listener */
  VsmtpMetric  *sessions;               /* listener, reason */
  VsmtpMetric  *transactions;           /* result */
  VsmtpMetric  *recipients;             /* result */
  VsmtpMetric  *messages;               /* result */
  VsmtpMetric  *bytes_received;
  VsmtpMetric  *tls_handshakes;         /* version, result */
  VsmtpMetric  *auth;                   /* mechanism, result */
  VsmtpMetric  *limit_hits;             /* limit */
  VsmtpMetric  *decisions;              /* signal, result */
  VsmtpMetric  *decision_seconds;       /* signal */
  VsmtpMetric  *deliveries;             /* plugin, result: updated by the delivery plugins */
};

VsmtpServerMetrics *
_vsmtp_server_metrics_new (void)
{
  static const char * const listener[] = { "listener", NULL };
  static const char * const listener_reason[] = { "listener", "reason", NULL };
  static const char * const result[] = { "result", NULL };
  static const char * const version_result[] = { "version", "result", NULL };
  static const char * const mechanism_result[] = { "mechanism", "result", NULL };
  static const char * const limit[] = { "limit", NULL };
  static const char * const signal_plugin_result[] = { "signal", "plugin", "result", NULL };
  static const char * const signal_plugin[] = { "signal", "plugin", NULL };
  static const char * const plugin_result[] = { "plugin", "result", NULL };
  static const double seconds[] = { 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30 };
  VsmtpServerMetrics *self = g_new0 (VsmtpServerMetrics, 1);
  VsmtpMetrics *r;

  self->registry = r = vsmtp_metrics_new ();
  self->connections_accepted =
    vsmtp_metrics_register_counter (r, "vsmtp_connections_accepted_total",
                                    "Connections accepted, per listener", listener);
  self->connections_refused =
    vsmtp_metrics_register_counter (r, "vsmtp_connections_refused_total",
                                    "Connections refused at once (421 or closed), per listener", listener);
  self->connections_active =
    vsmtp_metrics_register_gauge (r, "vsmtp_connections_active",
                                  "Sessions open now, per listener", listener);
  self->sessions =
    vsmtp_metrics_register_counter (r, "vsmtp_sessions_total",
                                    "Sessions ended, per listener and end reason", listener_reason);
  self->transactions =
    vsmtp_metrics_register_counter (r, "vsmtp_transactions_total",
                                    "MAIL commands answered, by reply class", result);
  self->recipients =
    vsmtp_metrics_register_counter (r, "vsmtp_recipients_total",
                                    "RCPT commands answered, by reply class", result);
  self->messages =
    vsmtp_metrics_register_counter (r, "vsmtp_messages_total",
                                    "Messages whose content was received, by reply class", result);
  self->bytes_received =
    vsmtp_metrics_register_counter (r, "vsmtp_received_bytes_total",
                                    "Octets of message content received", NULL);
  self->tls_handshakes =
    vsmtp_metrics_register_counter (r, "vsmtp_tls_handshakes_total",
                                    "TLS handshakes, by protocol version and result", version_result);
  self->auth =
    vsmtp_metrics_register_counter (r, "vsmtp_auth_total",
                                    "AUTH attempts, by mechanism and result", mechanism_result);
  self->limit_hits =
    vsmtp_metrics_register_counter (r, "vsmtp_limit_hits_total",
                                    "Times a limit refused or ended something, by limit", limit);
  self->decisions =
    vsmtp_metrics_register_counter (r, "vsmtp_handler_decisions_total",
                                    "Decisions of connected handlers, by signal, deciding plugin "
                                    "and reply class", signal_plugin_result);
  self->decision_seconds =
    vsmtp_metrics_register_histogram (r, "vsmtp_handler_decision_seconds",
                                      "Time from a decision signal's emission to its reply, by signal "
                                      "and deciding plugin", signal_plugin, seconds, G_N_ELEMENTS (seconds));
  /* found by the plugins that deliver with vsmtp_metrics_lookup() */
  self->deliveries =
    vsmtp_metrics_register_counter (r, "vsmtp_deliveries_total",
                                    "Deliveries by the plugin that made them and the reply class "
                                    "the client got (per recipient where the plugin answers so); "
                                    "cancelled: the client no longer wanted the answer",
                                    plugin_result);
  return self;
}

void
_vsmtp_server_metrics_free (VsmtpServerMetrics *self)
{
  g_object_unref (self->registry);
  g_free (self);
}

/**
 * vsmtp_server_get_metrics:
 * @self: a server
 *
 * The server's metrics: what it counts of its connections, sessions,
 * messages and handler decisions (listed in the Monitoring page), and what
 * plugins and applications register in it.
 *
 * Returns: (transfer none): the server's registry
 */
VsmtpMetrics *
vsmtp_server_get_metrics (VsmtpServer *self)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  return self->metrics->registry;
}

static inline VsmtpServerMetrics *
server_metrics (VsmtpServer *server)
{
  return server != NULL ? server->metrics : NULL;
}

static inline const char *
listener_name (VsmtpListenOptions *options)
{
  const char *name = options != NULL ? vsmtp_listen_options_get_name (options) : NULL;

  return name != NULL ? name : "default";
}

/* "2xx", "4xx", "5xx" (a 3xx is an intermediate reply: counted as 2xx) */
static const char *
reply_class (VsmtpReply *reply)
{
  guint code = vsmtp_reply_get_code (reply);

  if (code >= 500)
    return "5xx";
  if (code >= 400)
    return "4xx";
  return "2xx";
}

void
_vsmtp_metrics_connection_accepted (VsmtpServer        *server,
                                    VsmtpListenOptions *options)
{
  VsmtpServerMetrics *m = server_metrics (server);
  const char *values[] = { listener_name (options), NULL };

  if (m == NULL)
    return;
  vsmtp_metric_inc (m->connections_accepted, values);
  vsmtp_metric_inc (m->connections_active, values);
}

void
_vsmtp_metrics_connection_refused (VsmtpServer        *server,
                                   VsmtpListenOptions *options,
                                   const char         *limit)
{
  VsmtpServerMetrics *m = server_metrics (server);

  if (m == NULL)
    return;
  vsmtp_metric_inc (m->connections_refused, (const char *[]) { listener_name (options), NULL });
  if (limit != NULL)
    vsmtp_metric_inc (m->limit_hits, (const char *[]) { limit, NULL });
}

void
_vsmtp_metrics_session_closed (VsmtpServer        *server,
                               VsmtpListenOptions *options,
                               const char         *reason)
{
  VsmtpServerMetrics *m = server_metrics (server);
  const char *name = listener_name (options);

  if (m == NULL)
    return;
  vsmtp_metric_dec (m->connections_active, (const char *[]) { name, NULL });
  vsmtp_metric_inc (m->sessions, (const char *[]) { name, reason != NULL ? reason : "disconnect", NULL });
}

void
_vsmtp_metrics_reply (VsmtpServer *server,
                      const char  *what,
                      VsmtpReply  *reply)
{
  VsmtpServerMetrics *m = server_metrics (server);
  const char *values[] = { reply_class (reply), NULL };

  if (m == NULL)
    return;
  switch (what[0])
    {
    case 't':
      vsmtp_metric_inc (m->transactions, values);
      break;
    case 'r':
      vsmtp_metric_inc (m->recipients, values);
      break;
    default:
      vsmtp_metric_inc (m->messages, values);
      break;
    }
}

void
_vsmtp_metrics_bytes_received (VsmtpServer *server,
                               guint64      n)
{
  VsmtpServerMetrics *m = server_metrics (server);

  if (m != NULL)
    vsmtp_metric_add (m->bytes_received, NULL, (double) n);
}

void
_vsmtp_metrics_tls_handshake (VsmtpServer *server,
                              const char  *version,
                              gboolean     succeeded)
{
  VsmtpServerMetrics *m = server_metrics (server);

  if (m != NULL)
    vsmtp_metric_inc (m->tls_handshakes,
                      (const char *[]) { version != NULL ? version : "unknown",
                                         succeeded ? "success" : "failure", NULL });
}

void
_vsmtp_metrics_auth (VsmtpServer *server,
                     const char  *mechanism,
                     gboolean     succeeded)
{
  VsmtpServerMetrics *m = server_metrics (server);
  g_autofree char *upper = NULL;

  if (m == NULL)
    return;
  /* the client's spelling, bounded: a known mechanism name, or "other" */
  if (mechanism == NULL || strlen (mechanism) > 20)
    mechanism = "other";
  else
    mechanism = upper = g_ascii_strup (mechanism, -1);
  vsmtp_metric_inc (m->auth, (const char *[]) { mechanism, succeeded ? "success" : "failure", NULL });
}

void
_vsmtp_metrics_limit_hit (VsmtpServer *server,
                          const char  *limit)
{
  VsmtpServerMetrics *m = server_metrics (server);

  if (m != NULL)
    vsmtp_metric_inc (m->limit_hits, (const char *[]) { limit, NULL });
}

void
_vsmtp_metrics_decision (VsmtpServer *server,
                         const char  *signal,
                         const char  *plugin,
                         VsmtpReply  *reply,
                         gint64       microseconds)
{
  VsmtpServerMetrics *m = server_metrics (server);
  const char *values[] = { signal, plugin, NULL };

  if (m == NULL)
    return;
  vsmtp_metric_inc (m->decisions, (const char *[]) { signal, plugin, reply_class (reply), NULL });
  vsmtp_metric_observe (m->decision_seconds, values, microseconds / (double) G_USEC_PER_SEC);
}

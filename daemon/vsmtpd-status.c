/* vsmtpd-status.c: the status page, / on the [metrics] listener
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One HTML page, made on the server for each request, with nothing to
 * load besides (its CSS inline, its chart an inline SVG, no script) and a
 * meta refresh every REFRESH_SECONDS: the listeners, the sessions open
 * now, the messages per minute over the last hour, the refusals by reason,
 * the share of sessions and messages under TLS, the clients that connected
 * most in the last hour and the last LOG_LINES transaction lines of the log.
 *
 * What it shows comes from three places, each bounded:
 * - the server's metrics (vsmtp_metric_get_value()): totals since start,
 *   and the messages counter sampled every SAMPLE_SECONDS (and when the
 *   page is asked for) into 60 one-minute buckets;
 * - the server's "new-session" signal: a table of client addresses per
 *   minute (at most MAX_CLIENTS_PER_MINUTE distinct addresses a minute, the
 *   rest counted as "other"), 60 of them; and the sessions' "closed"
 *   signal: sessions and messages, under TLS or not;
 * - the daemon's log writer: the transaction lines, in a ring of
 *   LOG_LINES.
 * Everything that comes from a client or the configuration is escaped with
 * g_markup_escape_text() where it is written into the page.
 */
#include "config.h"

#include <string.h>

#include <gio/gunixsocketaddress.h>

#include "vsmtpd-listeners.h"
#include "vsmtpd-log.h"
#include "vsmtpd-status.h"

#define REFRESH_SECONDS        5
#define SAMPLE_SECONDS         5
#define N_MINUTES              60
#define MAX_CLIENTS_PER_MINUTE 256
#define TOP_CLIENTS            10
#define LOG_LINES              50
#define MAX_LOG_LINE           2048   /* bytes kept of a line */
#define OTHER_CLIENTS          "other"

#define CONTENT_TYPE "text/html; charset=utf-8"
#define CONTENT_SECURITY_POLICY \
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " \
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The reasons of vsmtp_limit_hits_total (docs/monitoring.md) */
static const char * const limit_names[] = {
  "max-connections", "max-connections-per-client", "proxy-trusted", "max-tls-handshakes",
  "max-auth-failures", "max-transactions", "max-recipients", "hard-error-limit",
};

typedef struct
{
  gint64      minute;      /* since the monotonic clock's origin; -1: unused */
  GHashTable *clients;     /* address -> connections (GUINT_TO_POINTER) */
  guint64     accepted;    /* messages, 2xx */
  guint64     refused;     /* messages, 4xx and 5xx */
} Minute;

/* Counted when sessions close: shared with the sessions' handlers, which
 * may outlive the page */
typedef struct
{
  guint64 sessions;
  guint64 tls_sessions;
  guint64 messages;        /* accepted */
  guint64 tls_messages;
} SessionCounts;

struct _VsmtpdStatus
{
  VsmtpServer          *server;    /* weak */
  VsmtpdConfig * const *config;    /* the daemon's, or NULL */
  gulong                new_session_id;
  guint                 sample_id;
  GDateTime            *started;

  Minute                minutes[N_MINUTES];
  gboolean              sampled;
  double                last_accepted;
  double                last_refused;
  SessionCounts        *counts;    /* g_rc_box */
};

/* The ring of transaction lines: filled by the log writer, from whatever
 * thread logs */
G_LOCK_DEFINE_STATIC (log_ring);
static char  *log_lines[LOG_LINES];
static gint64 log_times[LOG_LINES];  /* real time, microseconds */
static guint  log_next;

/* @line as valid UTF-8 (for g_markup_escape_text()), cut at
 * MAX_LOG_LINE bytes on a character boundary */
static char *
dup_log_line (const char *line)
{
  gsize length = strlen (line);

  if (length > MAX_LOG_LINE)
    {
      g_autofree char *cut = NULL;

      length = MAX_LOG_LINE;
      while (length > 0 && (line[length] & 0xc0) == 0x80)
        length--;
      cut = g_utf8_make_valid (line, length);
      return g_strconcat (cut, "…", NULL);
    }
  return g_utf8_make_valid (line, length);
}

static void
on_transaction_line (const char *line)
{
  char *copy = dup_log_line (line);
  char *old;

  G_LOCK (log_ring);
  old = log_lines[log_next];
  log_lines[log_next] = copy;
  log_times[log_next] = g_get_real_time ();
  log_next = (log_next + 1) % LOG_LINES;
  G_UNLOCK (log_ring);
  g_free (old);
}

static void
log_ring_clear (void)
{
  G_LOCK (log_ring);
  for (guint i = 0; i < LOG_LINES; i++)
    g_clear_pointer (&log_lines[i], g_free);
  log_next = 0;
  G_UNLOCK (log_ring);
}

static gint64
current_minute (void)
{
  return g_get_monotonic_time () / (60 * G_USEC_PER_SEC);
}

/* The bucket of @minute, emptied if it held an older minute */
static Minute *
minute_bucket (VsmtpdStatus *self,
               gint64        minute)
{
  Minute *bucket = &self->minutes[minute % N_MINUTES];

  if (bucket->minute != minute)
    {
      bucket->minute = minute;
      g_hash_table_remove_all (bucket->clients);
      bucket->accepted = bucket->refused = 0;
    }
  return bucket;
}

/* The bucket of @minute if it holds that minute, else NULL */
static const Minute *
minute_lookup (VsmtpdStatus *self,
               gint64        minute)
{
  const Minute *bucket = &self->minutes[minute % N_MINUTES];

  return minute >= 0 && bucket->minute == minute ? bucket : NULL;
}

static double
metric_value (VsmtpServer *server,
              const char  *name,
              const char  *label_value)
{
  VsmtpMetric *metric = vsmtp_metrics_lookup (vsmtp_server_get_metrics (server), name);
  const char *values[] = { label_value, NULL };

  return metric != NULL ? vsmtp_metric_get_value (metric, label_value != NULL ? values : NULL) : 0;
}

/* The messages counted since the last sample go to the current minute */
static void
sample_messages (VsmtpdStatus *self)
{
  double accepted, refused;
  Minute *bucket;

  if (self->server == NULL)
    return;
  accepted = metric_value (self->server, "vsmtp_messages_total", "2xx");
  refused = metric_value (self->server, "vsmtp_messages_total", "4xx") +
            metric_value (self->server, "vsmtp_messages_total", "5xx");
  if (self->sampled)
    {
      bucket = minute_bucket (self, current_minute ());
      if (accepted > self->last_accepted)
        bucket->accepted += (guint64) (accepted - self->last_accepted);
      if (refused > self->last_refused)
        bucket->refused += (guint64) (refused - self->last_refused);
    }
  self->last_accepted = accepted;
  self->last_refused = refused;
  self->sampled = TRUE;
}

static gboolean
on_sample (gpointer user_data)
{
  sample_messages (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_session_closed (VsmtpSession  *session,
                   SessionCounts *counts)
{
  guint n = vsmtp_session_get_n_messages (session);
  gboolean tls = vsmtp_session_is_tls (session);

  counts->sessions++;
  counts->messages += n;
  if (tls)
    {
      counts->tls_sessions++;
      counts->tls_messages += n;
    }
}

static void
release_counts (gpointer  data,
                GClosure *closure)
{
  g_rc_box_release (data);
}

static char *
dup_client_address (VsmtpSession *session)
{
  GSocketAddress *address = vsmtp_session_get_peer_address (session);

  if (G_IS_INET_SOCKET_ADDRESS (address))
    return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  if (G_IS_UNIX_SOCKET_ADDRESS (address))
    return g_strdup ("local");
  return g_strdup ("unknown");
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  VsmtpdStatus *self = user_data;
  Minute *bucket = minute_bucket (self, current_minute ());
  char *client = dup_client_address (session);
  guint n;

  if (!g_hash_table_contains (bucket->clients, client) &&
      g_hash_table_size (bucket->clients) >= MAX_CLIENTS_PER_MINUTE)
    {
      g_free (client);
      client = g_strdup (OTHER_CLIENTS);
    }
  n = GPOINTER_TO_UINT (g_hash_table_lookup (bucket->clients, client));
  g_hash_table_replace (bucket->clients, client, GUINT_TO_POINTER (n + 1));

  g_signal_connect_data (session, "closed", G_CALLBACK (on_session_closed),
                         g_rc_box_acquire (self->counts), release_counts, 0);
}

VsmtpdStatus *
vsmtpd_status_new (VsmtpServer *server)
{
  VsmtpdStatus *self = g_new0 (VsmtpdStatus, 1);

  for (guint i = 0; i < N_MINUTES; i++)
    {
      self->minutes[i].minute = -1;
      self->minutes[i].clients = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    }
  self->counts = g_rc_box_new0 (SessionCounts);
  self->started = g_date_time_new_now_local ();
  g_set_weak_pointer (&self->server, server);
  self->new_session_id = g_signal_connect (server, "new-session", G_CALLBACK (on_new_session), self);
  sample_messages (self);
  self->sample_id = g_timeout_add_seconds (SAMPLE_SECONDS, on_sample, self);
  vsmtpd_log_set_transaction_tap (on_transaction_line);
  return self;
}

void
vsmtpd_status_set_config (VsmtpdStatus         *self,
                          VsmtpdConfig * const *config)
{
  self->config = config;
}

void
vsmtpd_status_free (VsmtpdStatus *self)
{
  if (self == NULL)
    return;
  vsmtpd_log_set_transaction_tap (NULL);
  log_ring_clear ();
  g_clear_handle_id (&self->sample_id, g_source_remove);
  if (self->server != NULL)
    g_clear_signal_handler (&self->new_session_id, self->server);
  g_clear_weak_pointer (&self->server);
  for (guint i = 0; i < N_MINUTES; i++)
    g_hash_table_unref (self->minutes[i].clients);
  g_rc_box_release (self->counts);
  g_date_time_unref (self->started);
  g_free (self);
}

/* ------------------------------------------------------------------------ */
/* The page                                                                 */

static void
append_escaped (GString    *html,
                const char *text)
{
  /* valid UTF-8 first: g_markup_escape_text() expects it, and the
   * configuration's names (a [listener NAME]) may be in another charset */
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  g_autofree char *escaped = g_markup_escape_text (valid, -1);

  g_string_append (html, escaped);
}

static void
append_figure (GString    *html,
               const char *id,
               const char *label,
               guint64     value)
{
  g_string_append_printf (html, "<div class=\"figure\"><span class=\"value\" id=\"%s\">%"
                          G_GUINT64_FORMAT "</span><span class=\"label\">", id, value);
  append_escaped (html, label);
  g_string_append (html, "</span></div>\n");
}

static void
append_listener_row (GString            *html,
                     const char         *name,
                     const char         *address,
                     VsmtpListenOptions *options,
                     VsmtpListenFlags    flags,
                     gboolean            require_tls)
{
  const char * const *disabled = options != NULL ?
    vsmtp_listen_options_get_disabled_extensions (options) : NULL;
  gboolean starttls = TRUE;
  const char *tls;

  for (guint i = 0; disabled != NULL && disabled[i] != NULL; i++)
    if (g_ascii_strcasecmp (disabled[i], "STARTTLS") == 0)
      starttls = FALSE;
  if (flags & VSMTP_LISTEN_FLAGS_IMPLICIT_TLS)
    tls = "implicit";
  else if (!starttls)
    tls = "none";
  else
    tls = require_tls ? "STARTTLS, required" : "STARTTLS";

  g_string_append (html, "<tr><td class=\"name\">");
  append_escaped (html, name);
  g_string_append (html, "</td><td class=\"address\">");
  append_escaped (html, address);
  g_string_append (html, "</td><td class=\"protocol\">");
  g_string_append (html, options != NULL &&
                   vsmtp_listen_options_get_protocol (options) == VSMTP_PROTOCOL_LMTP ? "LMTP" : "SMTP");
  if (flags & VSMTP_LISTEN_FLAGS_AUTH_REQUIRED)
    g_string_append (html, " (submission, AUTH required)");
  g_string_append (html, "</td><td class=\"tls\">");
  g_string_append (html, tls);
  g_string_append (html, "</td></tr>\n");
}

static void
append_server_listeners (GString           *html,
                         VsmtpdConfig      *config,
                         char             **listen,
                         VsmtpListenFlags   flags)
{
  g_autoptr(VsmtpListenOptions) options = vsmtpd_config_new_listen_options (config, flags);

  if (config->disable_extensions != NULL)
    vsmtp_listen_options_set_disabled_extensions (options,
                                                  (const char * const *) config->disable_extensions);
  for (guint i = 0; listen != NULL && listen[i] != NULL; i++)
    append_listener_row (html, "default", listen[i], options, flags, config->require_tls);
}

static void
append_listeners (VsmtpdStatus *self,
                  GString      *html)
{
  VsmtpdConfig *config = self->config != NULL ? *self->config : NULL;

  g_string_append (html, "<section><h2>Listeners</h2>\n<table id=\"listeners\">\n"
                   "<tr><th>Name</th><th>Address</th><th>Protocol</th><th>TLS</th></tr>\n");
  if (config != NULL)
    {
      for (guint i = 0; i < config->listeners->len; i++)
        {
          VsmtpdListener *listener = config->listeners->pdata[i];

          for (guint j = 0; listener->listen != NULL && listener->listen[j] != NULL; j++)
            append_listener_row (html, listener->name, listener->listen[j], listener->options,
                                 vsmtp_listen_options_get_flags (listener->options),
                                 config->require_tls);
        }
      append_server_listeners (html, config, config->listen, VSMTP_LISTEN_FLAGS_NONE);
      append_server_listeners (html, config, config->listen_tls, VSMTP_LISTEN_FLAGS_IMPLICIT_TLS);
      append_server_listeners (html, config, config->listen_submission,
                               VSMTP_LISTEN_FLAGS_AUTH_REQUIRED);
      append_server_listeners (html, config, config->listen_submissions,
                               VSMTP_LISTEN_FLAGS_IMPLICIT_TLS | VSMTP_LISTEN_FLAGS_AUTH_REQUIRED);
    }
  g_string_append (html, "</table></section>\n");
}

/* 60 stacked bars, the oldest minute on the left: accepted below, refused
 * above; each bar's figures in data- attributes and a <title> */
static void
append_chart (VsmtpdStatus *self,
              GString      *html,
              gint64        now)
{
  const int width = 10, top = 16, height = 120, bottom = top + height;
  guint64 max = 1;

  for (gint64 m = now - N_MINUTES + 1; m <= now; m++)
    {
      const Minute *bucket = minute_lookup (self, m);

      if (bucket != NULL)
        max = MAX (max, bucket->accepted + bucket->refused);
    }

  g_string_append_printf (html,
                          "<svg id=\"messages-chart\" xmlns=\"http://www.w3.org/2000/svg\" "
                          "viewBox=\"0 0 %d %d\" width=\"720\" role=\"img\" "
                          "aria-label=\"Messages per minute, last hour\">\n"
                          "<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n"
                          "<text x=\"0\" y=\"11\" class=\"scale\">%" G_GUINT64_FORMAT "/min</text>\n",
                          N_MINUTES * width, bottom + 16, bottom, N_MINUTES * width, bottom, max);
  for (int i = 0; i < N_MINUTES; i++)
    {
      gint64 m = now - N_MINUTES + 1 + i;
      const Minute *bucket = minute_lookup (self, m);
      guint64 accepted = bucket != NULL ? bucket->accepted : 0;
      guint64 refused = bucket != NULL ? bucket->refused : 0;
      int h_accepted = (int) (accepted * height / max);
      int h_refused = (int) (refused * height / max);

      g_string_append_printf (html,
                              "<g class=\"bucket\" data-minute=\"%d\" data-accepted=\"%"
                              G_GUINT64_FORMAT "\" data-refused=\"%" G_GUINT64_FORMAT "\">"
                              "<title>%d min: %" G_GUINT64_FORMAT " accepted, %"
                              G_GUINT64_FORMAT " refused</title>",
                              i - N_MINUTES + 1, accepted, refused,
                              i - N_MINUTES + 1, accepted, refused);
      if (h_accepted > 0)
        g_string_append_printf (html, "<rect class=\"accepted\" x=\"%d\" y=\"%d\" width=\"%d\" "
                                "height=\"%d\"/>", i * width + 1, bottom - h_accepted,
                                width - 2, h_accepted);
      if (h_refused > 0)
        g_string_append_printf (html, "<rect class=\"refused\" x=\"%d\" y=\"%d\" width=\"%d\" "
                                "height=\"%d\"/>", i * width + 1, bottom - h_accepted - h_refused,
                                width - 2, h_refused);
      g_string_append (html, "</g>\n");
    }
  g_string_append_printf (html,
                          "<text x=\"0\" y=\"%d\" class=\"scale\">-60 min</text>"
                          "<text x=\"%d\" y=\"%d\" class=\"scale\" text-anchor=\"end\">now</text>\n"
                          "</svg>\n",
                          bottom + 14, N_MINUTES * width, bottom + 14);
}

static void
append_count_row (GString    *html,
                  const char *id,
                  const char *label,
                  guint64     count)
{
  g_string_append_printf (html, "<tr id=\"%s\"><th>", id);
  append_escaped (html, label);
  g_string_append_printf (html, "</th><td class=\"count\">%" G_GUINT64_FORMAT "</td></tr>\n", count);
}

static void
append_refusals (VsmtpdStatus *self,
                 GString      *html)
{
  VsmtpServer *server = self->server;
  static const struct { const char *metric, *what; } replies[] = {
    { "vsmtp_transactions_total", "mail" },
    { "vsmtp_recipients_total", "rcpt" },
    { "vsmtp_messages_total", "message" },
  };
  static const char * const names[] = { "MAIL", "RCPT", "Message content" };
  static const char * const classes[] = { "4xx", "5xx" };
  const char * const *mechanisms = vsmtp_server_get_auth_mechanisms (server);
  VsmtpMetrics *metrics = vsmtp_server_get_metrics (server);
  VsmtpMetric *auth = vsmtp_metrics_lookup (metrics, "vsmtp_auth_total");
  VsmtpMetric *tls = vsmtp_metrics_lookup (metrics, "vsmtp_tls_handshakes_total");
  double auth_failures = 0;

  g_string_append (html, "<section><h2>Refusals</h2>\n<table id=\"refusals\">\n");
  for (guint i = 0; i < G_N_ELEMENTS (replies); i++)
    for (guint j = 0; j < G_N_ELEMENTS (classes); j++)
      {
        g_autofree char *id = g_strdup_printf ("refusal-%s-%s", replies[i].what, classes[j]);
        g_autofree char *label = g_strdup_printf ("%s refused (%s)", names[i], classes[j]);

        append_count_row (html, id, label,
                          (guint64) metric_value (server, replies[i].metric, classes[j]));
      }

  /* AUTH failures: by the server's mechanisms, and "other" (the metric's
   * label for a name the server does not know) */
  for (guint i = 0; auth != NULL && mechanisms != NULL && mechanisms[i] != NULL; i++)
    auth_failures += vsmtp_metric_get_value (auth, (const char *[]) { mechanisms[i], "failure", NULL });
  if (auth != NULL)
    auth_failures += vsmtp_metric_get_value (auth, (const char *[]) { "other", "failure", NULL });
  append_count_row (html, "refusal-auth", "AUTH failed", (guint64) auth_failures);
  append_count_row (html, "refusal-tls", "TLS handshakes failed",
                    tls != NULL ?
                    (guint64) vsmtp_metric_get_value (tls, (const char *[]) { "unknown", "failure", NULL }) :
                    0);
  for (guint i = 0; i < G_N_ELEMENTS (limit_names); i++)
    {
      g_autofree char *id = g_strdup_printf ("limit-%s", limit_names[i]);
      g_autofree char *label = g_strdup_printf ("Limit %s", limit_names[i]);

      append_count_row (html, id, label,
                        (guint64) metric_value (server, "vsmtp_limit_hits_total", limit_names[i]));
    }
  g_string_append (html, "</table></section>\n");
}

static void
append_share (GString    *html,
              const char *id,
              const char *what,
              guint64     part,
              guint64     total)
{
  g_string_append_printf (html, "<tr id=\"%s\" data-part=\"%" G_GUINT64_FORMAT "\" data-total=\"%"
                          G_GUINT64_FORMAT "\"><th>%s</th><td class=\"share\">",
                          id, part, total, what);
  if (total > 0)
    g_string_append_printf (html, "%.0f %%", 100.0 * (double) part / (double) total);
  else
    g_string_append (html, "–");
  g_string_append_printf (html, "</td><td class=\"count\">%" G_GUINT64_FORMAT " of %"
                          G_GUINT64_FORMAT "</td></tr>\n", part, total);
}

typedef struct
{
  const char *address;
  guint       connections;
} ClientCount;

static int
compare_clients (gconstpointer a,
                 gconstpointer b)
{
  const ClientCount *x = a, *y = b;

  if (x->connections != y->connections)
    return x->connections > y->connections ? -1 : 1;
  return strcmp (x->address, y->address);
}

static guint64
append_top_clients (VsmtpdStatus *self,
                    GString      *html,
                    gint64        now)
{
  g_autoptr(GHashTable) totals = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) clients = g_array_new (FALSE, FALSE, sizeof (ClientCount));
  GHashTableIter iter;
  gpointer key, value;
  guint64 connections = 0;

  for (gint64 m = now - N_MINUTES + 1; m <= now; m++)
    {
      const Minute *bucket = minute_lookup (self, m);

      if (bucket == NULL)
        continue;
      g_hash_table_iter_init (&iter, bucket->clients);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          guint n = GPOINTER_TO_UINT (g_hash_table_lookup (totals, key));

          g_hash_table_insert (totals, key, GUINT_TO_POINTER (n + GPOINTER_TO_UINT (value)));
          connections += GPOINTER_TO_UINT (value);
        }
    }
  g_hash_table_iter_init (&iter, totals);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_array_append_val (clients, ((ClientCount) { key, GPOINTER_TO_UINT (value) }));
  g_array_sort (clients, compare_clients);

  g_string_append (html, "<section><h2>Top clients, last hour</h2>\n<table id=\"top-clients\">\n"
                   "<tr><th>Client</th><th>Connections</th></tr>\n");
  for (guint i = 0; i < clients->len && i < TOP_CLIENTS; i++)
    {
      ClientCount *c = &g_array_index (clients, ClientCount, i);

      g_string_append (html, "<tr class=\"client\"><td class=\"address\">");
      append_escaped (html, c->address);
      g_string_append_printf (html, "</td><td class=\"count\">%u</td></tr>\n", c->connections);
    }
  g_string_append (html, "</table></section>\n");
  return connections;
}

static void
append_log (GString *html)
{
  g_string_append_printf (html, "<section class=\"wide\"><h2>Last %d transactions</h2>\n"
                          "<ol id=\"log\">\n", LOG_LINES);
  G_LOCK (log_ring);
  for (guint i = 0; i < LOG_LINES; i++)
    {
      guint slot = (log_next + i) % LOG_LINES;
      g_autoptr(GDateTime) when = NULL;
      g_autofree char *time = NULL;

      if (log_lines[slot] == NULL)
        continue;
      when = g_date_time_new_from_unix_local (log_times[slot] / G_USEC_PER_SEC);
      time = g_date_time_format (when, "%H:%M:%S");
      g_string_append_printf (html, "<li class=\"log-line\"><time>%s</time> ", time);
      append_escaped (html, log_lines[slot]);
      g_string_append (html, "</li>\n");
    }
  G_UNLOCK (log_ring);
  g_string_append (html, "</ol></section>\n");
}

static const char style[] =
  "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}"
  "h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin:0 0 .4em}"
  "header p{margin:.2em 0 1em;color:#555}"
  "main{display:grid;grid-template-columns:repeat(auto-fit,minmax(28em,1fr));gap:1em}"
  "section{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.8em}"
  "section.wide{grid-column:1/-1}"
  ".figures{display:flex;flex-wrap:wrap;gap:1.5em}"
  ".figure .value{display:block;font-size:1.8em;font-weight:600}"
  ".figure .label{color:#555}"
  "table{border-collapse:collapse;width:100%}"
  "th,td{text-align:left;padding:.15em .5em;border-bottom:1px solid #eee}"
  "td.count,td.share{text-align:right;font-variant-numeric:tabular-nums}"
  "svg .accepted{fill:#3a7}svg .refused{fill:#c44}svg .axis{stroke:#999}"
  "svg .scale{font-size:10px;fill:#555}svg{max-width:100%;height:auto}"
  ".legend .accepted{color:#3a7}.legend .refused{color:#c44}"
  "#log{font:12px/1.35 ui-monospace,monospace;margin:0;padding-left:3em;"
  "overflow-wrap:anywhere}"
  "#log time{color:#777}";

static char *
render_page (VsmtpdStatus *self)
{
  VsmtpServer *server = self->server;
  GString *html = g_string_sized_new (16384);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *started = g_date_time_format (self->started, "%Y-%m-%d %H:%M:%S %z");
  g_autofree char *generated = g_date_time_format (now, "%Y-%m-%d %H:%M:%S %z");
  gint64 minute = current_minute ();
  double accepted = metric_value (server, "vsmtp_messages_total", "2xx");
  double refused = metric_value (server, "vsmtp_messages_total", "4xx") +
                   metric_value (server, "vsmtp_messages_total", "5xx");
  guint64 last_hour = 0, connections;
  g_autoptr(GString) clients = g_string_new (NULL);

  sample_messages (self);
  for (gint64 m = minute - N_MINUTES + 1; m <= minute; m++)
    {
      const Minute *bucket = minute_lookup (self, m);

      if (bucket != NULL)
        last_hour += bucket->accepted + bucket->refused;
    }
  connections = append_top_clients (self, clients, minute);

  g_string_append_printf (html,
                          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                          "<meta http-equiv=\"refresh\" content=\"%d\">"
                          "<meta name=\"viewport\" content=\"width=device-width\">"
                          "<title>vsmtpd on ", REFRESH_SECONDS);
  append_escaped (html, vsmtp_server_get_hostname (server));
  g_string_append_printf (html, "</title><style>%s</style></head><body>\n<header><h1>vsmtpd on ", style);
  append_escaped (html, vsmtp_server_get_hostname (server));
  g_string_append_printf (html, "</h1><p>vsmtpd %s, started <span id=\"started\">%s</span>; "
                          "<span id=\"generated\">%s</span>, refreshed every %d s</p></header>\n<main>\n",
                          PACKAGE_VERSION, started, generated, REFRESH_SECONDS);

  g_string_append (html, "<section class=\"wide\"><h2>Now</h2><div class=\"figures\">\n");
  append_figure (html, "sessions-now", "sessions now", vsmtp_server_get_n_sessions (server));
  append_figure (html, "connections-last-hour", "connections, last hour", connections);
  append_figure (html, "messages-last-hour", "messages, last hour", last_hour);
  append_figure (html, "messages-total", "messages since start", (guint64) (accepted + refused));
  append_figure (html, "messages-accepted", "accepted", (guint64) accepted);
  append_figure (html, "messages-refused", "refused", (guint64) refused);
  g_string_append (html, "</div></section>\n");

  g_string_append (html, "<section class=\"wide\"><h2>Messages per minute, last hour</h2>\n");
  append_chart (self, html, minute);
  g_string_append (html, "<p class=\"legend\"><span class=\"accepted\">■</span> accepted "
                   "<span class=\"refused\">■</span> refused</p></section>\n");

  append_listeners (self, html);
  append_refusals (self, html);

  g_string_append (html, "<section><h2>TLS share</h2>\n<table id=\"tls-share\">\n");
  append_share (html, "tls-sessions", "Sessions ended under TLS",
                self->counts->tls_sessions, self->counts->sessions);
  append_share (html, "tls-messages", "Messages accepted under TLS",
                self->counts->tls_messages, self->counts->messages);
  g_string_append (html, "</table></section>\n");

  g_string_append_len (html, clients->str, clients->len);
  append_log (html);
  g_string_append (html, "</main></body></html>\n");
  return g_string_free (html, FALSE);
}

void
vsmtpd_status_serve (VsmtpdStatus      *self,
                     SoupServerMessage *message)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);
  char *page;

  if (self->server == NULL)
    {
      soup_server_message_set_status (message, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      return;
    }
  page = render_page (self);
  soup_message_headers_append (headers, "Cache-Control", "no-store");
  soup_message_headers_append (headers, "Content-Security-Policy", CONTENT_SECURITY_POLICY);
  soup_message_headers_append (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_append (headers, "Referrer-Policy", "no-referrer");
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (message, CONTENT_TYPE, SOUP_MEMORY_TAKE, page, strlen (page));
}

/* test-metrics.c: the metrics registry and its Prometheus text
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <vsmtp.h>

#include "vsmtp-test-harness.h"

static void
test_render_counter_gauge (void)
{
  g_autoptr(VsmtpMetrics) metrics = vsmtp_metrics_new ();
  const char * const labels[] = { "listener", "reason", NULL };
  VsmtpMetric *counter, *gauge, *plain;
  g_autofree char *text = NULL;

  counter = vsmtp_metrics_register_counter (metrics, "smtp_events_total",
                                            "Events, with a \\ and a\nnewline", labels);
  gauge = vsmtp_metrics_register_gauge (metrics, "smtp_active", "Active now", NULL);
  plain = vsmtp_metrics_register_counter (metrics, "smtp_bytes_total", "Bytes", NULL);
  g_assert_nonnull (counter);
  g_assert_nonnull (gauge);

  /* registered again: the same metric */
  g_assert_true (vsmtp_metrics_register_counter (metrics, "smtp_events_total", "x", labels) == counter);
  g_assert_true (vsmtp_metrics_lookup (metrics, "smtp_active") == gauge);
  g_assert_null (vsmtp_metrics_lookup (metrics, "nothing"));
  g_assert_cmpint (vsmtp_metric_get_metric_type (gauge), ==, VSMTP_METRIC_GAUGE);
  g_assert_cmpstr (vsmtp_metric_get_name (plain), ==, "smtp_bytes_total");

  vsmtp_metric_inc (counter, (const char *[]) { "default", "quit", NULL });
  vsmtp_metric_inc (counter, (const char *[]) { "default", "quit", NULL });
  vsmtp_metric_add (counter, (const char *[]) { "sub\"mission\\\n", "timeout", NULL }, 3);
  vsmtp_metric_inc (gauge, NULL);
  vsmtp_metric_inc (gauge, NULL);
  vsmtp_metric_dec (gauge, NULL);
  vsmtp_metric_add (plain, NULL, 1.5);
  vsmtp_metric_add (plain, NULL, 0.25);

  g_assert_cmpfloat (vsmtp_metric_get_value (counter, (const char *[]) { "default", "quit", NULL }), ==, 2);
  g_assert_cmpfloat (vsmtp_metric_get_value (counter, (const char *[]) { "default", "x", NULL }), ==, 0);
  g_assert_cmpfloat (vsmtp_metric_get_value (gauge, NULL), ==, 1);

  text = vsmtp_metrics_render (metrics);
  g_assert_cmpstr (text, ==,
                   "# HELP smtp_events_total Events, with a \\\\ and a\\nnewline\n"
                   "# TYPE smtp_events_total counter\n"
                   "smtp_events_total{listener=\"default\",reason=\"quit\"} 2\n"
                   "smtp_events_total{listener=\"sub\\\"mission\\\\\\n\",reason=\"timeout\"} 3\n"
                   "# HELP smtp_active Active now\n"
                   "# TYPE smtp_active gauge\n"
                   "smtp_active 1\n"
                   "# HELP smtp_bytes_total Bytes\n"
                   "# TYPE smtp_bytes_total counter\n"
                   "smtp_bytes_total 1.75\n");

  vsmtp_metric_set (gauge, NULL, -7);
  g_assert_cmpfloat (vsmtp_metric_get_value (gauge, NULL), ==, -7);
}

/* vsmtp_metric_get_total(): every series summed (a histogram's counts) */
static void
test_total (void)
{
  g_autoptr(VsmtpMetrics) metrics = vsmtp_metrics_new ();
  static const char * const listener[] = { "listener", NULL };
  static const double bounds[] = { 1, 10 };
  VsmtpMetric *counter = vsmtp_metrics_register_counter (metrics, "c_total", "c", listener);
  VsmtpMetric *histogram = vsmtp_metrics_register_histogram (metrics, "h_seconds", "h", listener,
                                                             bounds, G_N_ELEMENTS (bounds));

  g_assert_cmpfloat (vsmtp_metric_get_total (counter), ==, 0);
  vsmtp_metric_inc (counter, (const char *[]) { "a", NULL });
  vsmtp_metric_add (counter, (const char *[]) { "b", NULL }, 4);
  vsmtp_metric_inc (counter, (const char *[]) { "a", NULL });
  g_assert_cmpfloat (vsmtp_metric_get_total (counter), ==, 6);
  g_assert_cmpfloat (vsmtp_metric_get_value (counter, (const char *[]) { "a", NULL }), ==, 2);
  vsmtp_metric_observe (histogram, (const char *[]) { "a", NULL }, 0.5);
  vsmtp_metric_observe (histogram, (const char *[]) { "b", NULL }, 50);
  vsmtp_metric_observe (histogram, (const char *[]) { "b", NULL }, 5);
  g_assert_cmpfloat (vsmtp_metric_get_total (histogram), ==, 3);
}

static void
test_render_histogram (void)
{
  g_autoptr(VsmtpMetrics) metrics = vsmtp_metrics_new ();
  const char * const labels[] = { "signal", NULL };
  const double buckets[] = { 0.001, 0.5, 2, INFINITY };
  VsmtpMetric *histogram, *bare;
  g_autofree char *text = NULL;

  histogram = vsmtp_metrics_register_histogram (metrics, "smtp_decision_seconds", "Latency",
                                                labels, buckets, G_N_ELEMENTS (buckets));
  bare = vsmtp_metrics_register_histogram (metrics, "smtp_size_bytes", "Sizes", NULL,
                                           (const double[]) { 100 }, 1);
  vsmtp_metric_observe (histogram, (const char *[]) { "rcpt-to", NULL }, 0.0009765625);
  vsmtp_metric_observe (histogram, (const char *[]) { "rcpt-to", NULL }, 0.5);
  vsmtp_metric_observe (histogram, (const char *[]) { "rcpt-to", NULL }, 10);
  vsmtp_metric_observe (histogram, (const char *[]) { "data", NULL }, 1);
  vsmtp_metric_observe (bare, NULL, 150);
  g_assert_cmpfloat (vsmtp_metric_get_value (histogram, (const char *[]) { "rcpt-to", NULL }), ==, 3);

  text = vsmtp_metrics_render (metrics);
  g_assert_cmpstr (text, ==,
                   "# HELP smtp_decision_seconds Latency\n"
                   "# TYPE smtp_decision_seconds histogram\n"
                   "smtp_decision_seconds_bucket{signal=\"rcpt-to\",le=\"0.001\"} 1\n"
                   "smtp_decision_seconds_bucket{signal=\"rcpt-to\",le=\"0.5\"} 2\n"
                   "smtp_decision_seconds_bucket{signal=\"rcpt-to\",le=\"2\"} 2\n"
                   "smtp_decision_seconds_bucket{signal=\"rcpt-to\",le=\"+Inf\"} 3\n"
                   "smtp_decision_seconds_sum{signal=\"rcpt-to\"} 10.5009765625\n"
                   "smtp_decision_seconds_count{signal=\"rcpt-to\"} 3\n"
                   "smtp_decision_seconds_bucket{signal=\"data\",le=\"0.001\"} 0\n"
                   "smtp_decision_seconds_bucket{signal=\"data\",le=\"0.5\"} 0\n"
                   "smtp_decision_seconds_bucket{signal=\"data\",le=\"2\"} 1\n"
                   "smtp_decision_seconds_bucket{signal=\"data\",le=\"+Inf\"} 1\n"
                   "smtp_decision_seconds_sum{signal=\"data\"} 1\n"
                   "smtp_decision_seconds_count{signal=\"data\"} 1\n"
                   "# HELP smtp_size_bytes Sizes\n"
                   "# TYPE smtp_size_bytes histogram\n"
                   "smtp_size_bytes_bucket{le=\"100\"} 0\n"
                   "smtp_size_bytes_bucket{le=\"+Inf\"} 1\n"
                   "smtp_size_bytes_sum 150\n"
                   "smtp_size_bytes_count 1\n");
}

/* Misuse is a critical (in a subprocess: the log is structured, which
 * g_test_expect_message() does not see), and changes nothing */
static void
test_misuse (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(VsmtpMetrics) metrics = vsmtp_metrics_new ();
      const char * const labels[] = { "a", NULL };
      VsmtpMetric *counter = vsmtp_metrics_register_counter (metrics, "c_total", "C", labels);
      g_autofree char *text = NULL;

      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      vsmtp_metric_inc (counter, NULL);
      g_assert_null (vsmtp_metrics_register_gauge (metrics, "c_total", "C", labels));
      g_assert_null (vsmtp_metrics_register_counter (metrics, "0bad", "B", NULL));
      text = vsmtp_metrics_render (metrics);
      g_print ("%s", text);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*has 1 labels, given 0 values*registered already*valid_name*");
  g_test_trap_assert_stdout ("# HELP c_total C\n# TYPE c_total counter\n");
}

/* The server's registry carries its own metrics from the start */
static void
test_server_metrics (void)
{
  g_autoptr(VsmtpServer) server = vsmtp_server_new ();
  VsmtpMetrics *metrics = vsmtp_server_get_metrics (server);

  g_assert_true (VSMTP_IS_METRICS (metrics));
  g_assert_nonnull (vsmtp_metrics_lookup (metrics, "vsmtp_connections_accepted_total"));
  g_assert_nonnull (vsmtp_metrics_lookup (metrics, "vsmtp_sessions_total"));
}

/* ---- what a server counts of its sessions ---- */
/* (sessions ended by the timeout and by the error limit: test-session.c) */

/* The value of @name's series with the label values that follow (NULL
 * ended) in @fixture's server */
static double
server_value (Fixture    *fixture,
              const char *name,
              ...)
{
  VsmtpMetric *metric = vsmtp_metrics_lookup (vsmtp_server_get_metrics (fixture->server), name);
  const char *values[4] = { NULL, };
  va_list args;

  g_assert_nonnull (metric);
  va_start (args, name);
  for (guint i = 0; i < G_N_ELEMENTS (values) - 1; i++)
    if ((values[i] = va_arg (args, const char *)) == NULL)
      break;
  va_end (args);
  return vsmtp_metric_get_value (metric, values);
}

/* the server counts a session once it closed it, which may be after the
 * client saw the connection closed */
static void
wait_closed (Fixture *fixture,
             guint    n)
{
  while (fixture->n_closed < n)
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_session_transaction (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO client.example\r\n", "250",
    "MAIL FROM:<a@example.com>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354",
    "Subject: x\r\n\r\nhello\r\n.\r\n", "250",
    "QUIT\r\n", "221",
    "", "<closed>",
    NULL, NULL
  };

  run_client (fixture, script);
  wait_closed (fixture, 1);

  g_assert_cmpfloat (server_value (fixture, "vsmtp_connections_accepted_total", "default", NULL), ==, 1);
  g_assert_cmpfloat (server_value (fixture, "vsmtp_connections_active", "default", NULL), ==, 0);
  g_assert_cmpfloat (server_value (fixture, "vsmtp_sessions_total", "default", "quit", NULL), ==, 1);
  g_assert_cmpfloat (server_value (fixture, "vsmtp_transactions_total", "2xx", NULL), ==, 1);
  g_assert_cmpfloat (server_value (fixture, "vsmtp_recipients_total", "2xx", NULL), ==, 1);
  g_assert_cmpfloat (server_value (fixture, "vsmtp_messages_total", "2xx", NULL), ==, 1);
  /* the content as received, without the Received header the server adds */
  g_assert_cmpfloat (server_value (fixture, "vsmtp_received_bytes_total", NULL), ==,
                     strlen ("Subject: x\r\n\r\nhello\r\n"));
  /* the harness's message-received handler decided (nobody named its
   * owner); no handler for RCPT */
  g_assert_cmpfloat (server_value (fixture, "vsmtp_handler_decisions_total", "message-received",
                                   "unknown", "2xx", NULL), ==, 1);
  g_assert_cmpfloat (server_value (fixture, "vsmtp_handler_decision_seconds", "message-received",
                                   "unknown", NULL), ==, 1);
  g_assert_cmpfloat (server_value (fixture, "vsmtp_handler_decisions_total", "rcpt-to", "unknown",
                                   "2xx", NULL), ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/render/counter-gauge", test_render_counter_gauge);
  g_test_add_func ("/metrics/render/histogram", test_render_histogram);
  g_test_add_func ("/metrics/total", test_total);
  g_test_add_func ("/metrics/misuse", test_misuse);
  g_test_add_func ("/metrics/server", test_server_metrics);
  g_test_add ("/metrics/session/transaction", Fixture, NULL, fixture_setup, test_session_transaction,
              fixture_teardown);
  return g_test_run ();
}

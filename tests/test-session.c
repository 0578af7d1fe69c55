/* test-session.c: the session state machine and handler decisions, over TCP on loopback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The server runs on the test's main loop; a client thread speaks SMTP over a
 * real socket and checks every reply it gets against a script.
 */
#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "vsmtp.h"
#include "vsmtp-test-harness.h"

/* ------------------------------------------------------------------------ */

static void
test_basic_transaction (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 mx.test.example ESMTP",
    "EHLO client.example\r\n", "250-mx.test.example\r\n",
    "MAIL FROM:<alice@example.org> BODY=8BITMIME SIZE=100\r\n", "250 2.1.0",
    "RCPT TO:<bob@example.net>\r\n", "250 2.1.5",
    "DATA\r\n", "354 ",
    "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n", "250 2.0.0 Ok: stored",
    "QUIT\r\n", "221 2.0.0",
    "", "<closed>",
    NULL, NULL
  };
  const char *body;
  VsmtpEnvelope *envelope;

  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
  body = message_body (fixture->messages->pdata[0]);
  g_assert_cmpstr (body, ==, "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n");

  envelope = fixture->envelopes->pdata[0];
  g_assert_cmpstr (vsmtp_address_to_string (vsmtp_envelope_get_sender (envelope)), ==, "alice@example.org");
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 1);
  g_assert_cmpstr (vsmtp_envelope_get_mail_parameter (envelope, "BODY"), ==, "8BITMIME");
}

static void
test_received_header (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO client.example\r\n", "250-",
    "MAIL FROM:<>\r\n", "250 2.1.0",
    "RCPT TO:<bob@example.net>\r\n", "250 2.1.5",
    "DATA\r\n", "354 ",
    "x\r\n.\r\n", "250 2.0.0",
    NULL, NULL
  };
  const char *data_str;

  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
  data_str = fixture->messages->pdata[0];
  g_assert_true (g_str_has_prefix (data_str, "Received: from client.example ([127.0.0.1])\r\n"
                                             "\tby mx.test.example (vsmtpd) with ESMTP id "));
  g_assert_nonnull (strstr (data_str, "\r\n\tfor <bob@example.net>;\r\n\t"));
  g_assert_true (g_str_has_suffix (data_str, "\r\nx\r\n"));
}

static void
test_ehlo_extensions (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-mx.test.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                  "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "HELO c\r\n", "250 mx.test.example\r\n",
    NULL, NULL
  };

  run_client (fixture, script);
}

/* Without a certificate, STARTTLS is refused and the session goes on */
static void
test_starttls_unavailable (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "STARTTLS\r\n", "454 4.7.0 TLS not available\r\n",
    "NOOP\r\n", "250 ",
    NULL, NULL
  };

  run_client (fixture, script);
}

static void
test_bad_sequence_and_syntax (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "MAIL FROM:<a@b.example>\r\n", "503 5.5.1",
    "HELO\r\n", "501 5.5.4",
    "EHLO c\r\n", "250-",
    "RCPT TO:<a@b.example>\r\n", "503 5.5.1",
    "DATA\r\n", "503 5.5.1",
    "MAIL FROM:foo@\r\n", "501 5.1.7",
    "MAIL FROM:<a@b.example> FOO=1\r\n", "555 5.5.4",
    "MAIL FROM:<a@b.example> SIZE=99999999999\r\n", "552 5.3.4",
    "MAIL FROM:<a@b.example>\r\n", "250 2.1.0",
    "MAIL FROM:<a@b.example>\r\n", "503 5.5.1",
    "DATA\r\n", "503 5.5.1",
    "RCPT TO:<@bad\r\n", "501 5.1.3",
    "RCPT TO:<a@b.example> XNOTIFY=NEVER\r\n", "555 5.5.4",
    "RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS\r\n", "501 5.5.4",
    "RCPT TO:<postmaster>\r\n", "250 2.1.5",
    "RSET\r\n", "250 2.0.0",
    "DATA\r\n", "503 5.5.1",
    "FOO bar\r\n", "500 5.5.2",
    "VRFY bob\r\n", "252 2.5.2",
    "VRFY\r\n", "501 5.5.4",
    "NOOP\r\n", "250 2.0.0",
    "HELP\r\n", "214",
    "EXPN list\r\n", "502 5.5.1",
    NULL, NULL
  };

  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 0);
}

static void
test_long_line (Fixture *fixture, gconstpointer data)
{
  g_autofree char *long_line = NULL;
  g_autofree char *noop = NULL;
  const char *script[] = {
    NULL, "220 ",
    NULL, "500 5.5.2",
    "NOOP\r\n", "250 2.0.0",
    NULL, NULL
  };

  long_line = g_strnfill (3000, 'A');
  noop = g_strconcat ("NOOP ", long_line, "\r\n", NULL);
  script[2] = noop;
  run_client (fixture, script);
}

static void
test_pipelining (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n", "250 2.1.0",
    NULL, "250 2.1.5",
    NULL, "250 2.1.5",
    NULL, "354 ",
    "one\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<d@example.org>\r\nDATA\r\n", "250 2.0.0",
    NULL, "250 2.1.0",
    NULL, "250 2.1.5",
    NULL, "354 ",
    "two\r\n.\r\nQUIT\r\n", "250 2.0.0",
    NULL, "221 2.0.0",
    NULL, NULL
  };

  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 2);
  g_assert_cmpstr (message_body (fixture->messages->pdata[0]), ==, "one\r\n");
  g_assert_cmpstr (message_body (fixture->messages->pdata[1]), ==, "two\r\n");
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (fixture->envelopes->pdata[0]), ==, 2);
}

static void
test_smuggling (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n", "250",
    NULL, "250",
    NULL, "354 ",
    "one\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<x@example.org>\r\nDATA\r\nevil\r\n.\r\n",
    "550 5.5.2 Error: bare <LF> received in line 1 of the message: end lines with CRLF, "
    "or set bare-newline=normalize on the server\r\n",
    "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n", "250",
    NULL, "250",
    NULL, "354 ",
    "ok\r\nstill ok\r\nbad\rline\r\n.\r\n",
    "550 5.5.2 Error: bare <CR> received in line 3 of the message",
    "NOOP\r\n", "250 2.0.0",
    NULL, NULL
  };

  vsmtp_server_set_bare_newline (fixture->server, VSMTP_BARE_NEWLINE_REJECT);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 0);
}

static void
test_smuggling_normalize (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n", "250",
    NULL, "250",
    NULL, "354 ",
    "one\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n", "250 2.0.0",
    "NOOP\r\n", "250 2.0.0",
    NULL, NULL
  };

  /* the default */
  g_assert_cmpint (vsmtp_server_get_bare_newline (fixture->server), ==,
                   VSMTP_BARE_NEWLINE_NORMALIZE);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
  /* the bare LFs are stored as CRLF, the dot after one is unstuffed: no
   * lone "." line that a later hop could take for an end of data */
  g_assert_cmpstr (message_body (fixture->messages->pdata[0]), ==,
                   "one\r\n\r\nMAIL FROM:<evil@example.org>\r\n");
}

static void
test_message_too_big (Fixture *fixture, gconstpointer data)
{
  g_autofree char *big = NULL;
  const char *script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-mx.test.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n",
    "MAIL FROM:<a@example.org>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354 ",
    NULL, "552 5.3.4",
    "NOOP\r\n", "250 2.0.0",
    NULL, NULL
  };
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < 100; i++)
    g_string_append (s, "0123456789012345678901234567890123456789\r\n");
  g_string_append (s, ".\r\n");
  big = g_string_free (s, FALSE);
  script[10] = big;

  vsmtp_server_set_max_message_size (fixture->server, 1000);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 0);
}

static void
test_too_many_recipients (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "HELO c\r\n", "250 ",
    "MAIL FROM:<a@example.org>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "RCPT TO:<c@example.org>\r\n", "250",
    "RCPT TO:<d@example.org>\r\n", "452 4.5.3",
    NULL, NULL
  };

  vsmtp_server_set_max_recipients (fixture->server, 2);
  run_client (fixture, script);
}

/* A handler rejecting a recipient */
static VsmtpReply *
on_rcpt_reject_bad (VsmtpSession *session,
                    VsmtpAddress *recipient,
                    VsmtpParameters *params,
                    Fixture      *fixture)
{
  if (g_str_equal (vsmtp_address_get_local_part (recipient), "bad"))
    return vsmtp_reply_new_no_such_user ();
  return vsmtp_reply_new_continue ();
}

static void
on_new_session_reject (VsmtpServer  *server,
                       VsmtpSession *session,
                       Fixture      *fixture)
{
  g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt_reject_bad), fixture);
}

static void
test_handler_reject (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<bad@example.org>\r\n", "550 5.1.1",
    "DATA\r\n", "503 5.5.1",
    "RCPT TO:<good@example.org>\r\n", "250 2.1.5",
    "DATA\r\n", "354",
    "hello\r\n.\r\n", "250",
    NULL, NULL
  };

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_reject), fixture);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (fixture->envelopes->pdata[0]), ==, 1);
  g_assert_cmpstr (vsmtp_address_get_local_part (vsmtp_envelope_get_recipient (fixture->envelopes->pdata[0], 0)),
                   ==, "good");
}

/* Deferred decisions */
typedef struct {
  VsmtpReply *reply;
  gboolean    accept;
} Completion;

static gboolean
complete_later (gpointer data)
{
  Completion *c = data;

  if (c->accept)
    g_assert_true (vsmtp_reply_complete (c->reply, 250, "2.1.5", "Ok, after thinking"));
  else
    g_assert_true (vsmtp_reply_complete (c->reply, 450, "4.2.0", "Greylisted"));
  g_object_unref (c->reply);
  g_free (c);
  return G_SOURCE_REMOVE;
}

static gboolean
complete_greeting_later (gpointer data)
{
  Completion *c = data;

  g_assert_true (vsmtp_reply_complete (c->reply, 220, NULL, "late greeting"));
  g_object_unref (c->reply);
  g_free (c);
  return G_SOURCE_REMOVE;
}

static VsmtpReply *
on_rcpt_defer (VsmtpSession *session,
               VsmtpAddress *recipient,
               VsmtpParameters *params,
               Fixture      *fixture)
{
  VsmtpReply *reply = vsmtp_reply_new_pending ();
  const char *local = vsmtp_address_get_local_part (recipient);

  if (g_str_equal (local, "never"))
    {
      /* keep it and never complete it */
      g_ptr_array_add (fixture->pending, g_object_ref (reply));
    }
  else
    {
      Completion *c = g_new0 (Completion, 1);

      c->reply = g_object_ref (reply);
      c->accept = !g_str_equal (local, "grey");
      g_timeout_add (50, complete_later, c);
    }
  return reply;
}

static void
on_new_session_defer (VsmtpServer  *server,
                      VsmtpSession *session,
                      Fixture      *fixture)
{
  g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt_defer), fixture);
}

static void
test_deferred_completed (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    /* pipelined: replies must stay in order around the deferral */
    "MAIL FROM:<a@example.org>\r\nRCPT TO:<ok@example.org>\r\nRCPT TO:<grey@example.org>\r\nNOOP\r\n", "250 2.1.0",
    NULL, "250 2.1.5 Ok, after thinking",
    NULL, "450 4.2.0 Greylisted",
    NULL, "250 2.0.0",
    "DATA\r\n", "354",
    "deferred\r\n.\r\n", "250",
    NULL, NULL
  };

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_defer), fixture);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (fixture->envelopes->pdata[0]), ==, 1);
}

static void
test_deferred_timeout (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<never@example.org>\r\n", "451 4.3.0",
    "NOOP\r\n", "250 2.0.0",
    NULL, NULL
  };
  VsmtpReply *kept;

  vsmtp_server_set_decision_timeout (fixture->server, 200);
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_defer), fixture);
  run_client (fixture, script);

  /* a completion after the deadline is refused */
  g_assert_cmpuint (fixture->pending->len, ==, 1);
  kept = fixture->pending->pdata[0];
  g_assert_false (vsmtp_reply_complete (kept, 250, "2.1.5", "too late"));
}

/* message-received without any handler: never a 250 */
static void
test_no_delivery_handler (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) effective = NULL;
  Fixture fixture = { 0 };
  const char * const script[] = {
    NULL, "220 ",
    "HELO c\r\n", "250 ",
    "MAIL FROM:<a@example.org>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354",
    "x\r\n.\r\n", "451 4.3.0",
    NULL, NULL
  };

  fixture.loop = g_main_loop_new (NULL, FALSE);
  fixture.server = vsmtp_server_new ();
  g_assert_true (vsmtp_server_listen (fixture.server, address, &effective, &error));
  fixture.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  run_client (&fixture, script);
  g_clear_object (&fixture.server);
  g_main_loop_unref (fixture.loop);
}

/* refusing a client in "connected" */
static VsmtpReply *
on_connected_refuse (VsmtpSession *session,
                     Fixture      *fixture)
{
  return vsmtp_reply_new (554, "5.7.1", "Go away");
}

static void
on_new_session_refuse (VsmtpServer  *server,
                       VsmtpSession *session,
                       Fixture      *fixture)
{
  g_signal_connect (session, "connected", G_CALLBACK (on_connected_refuse), fixture);
}

static void
test_connected_refuse (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "554 5.7.1 Go away",
    "", "<closed>",
    NULL, NULL
  };

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_refuse), fixture);
  run_client (fixture, script);
}

static void
on_shutdown_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  gboolean *done = data;

  g_assert_true (vsmtp_server_shutdown_finish (VSMTP_SERVER (source), result, NULL));
  *done = TRUE;
}

static void
test_shutdown (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "QUIT\r\n", "221",
    NULL, NULL
  };
  gboolean done = FALSE;

  run_client (fixture, script);
  vsmtp_server_shutdown_async (fixture->server, 5, NULL, on_shutdown_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (vsmtp_server_get_n_sessions (fixture->server), ==, 0);
  g_assert_null (vsmtp_server_get_listen_addresses (fixture->server));
}

/* The server's metrics count the session as ended for @reason, and the
 * limit hit (if any): once it is closed, which may be after the client saw
 * the connection closed */
static void
assert_session_ended (Fixture    *fixture,
                      const char *reason,
                      const char *limit)
{
  VsmtpMetrics *metrics = vsmtp_server_get_metrics (fixture->server);

  while (fixture->n_closed < 1)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpfloat (vsmtp_metric_get_value (vsmtp_metrics_lookup (metrics, "vsmtp_sessions_total"),
                                             (const char *[]) { "default", reason, NULL }), ==, 1);
  if (limit != NULL)
    g_assert_cmpfloat (vsmtp_metric_get_value (vsmtp_metrics_lookup (metrics, "vsmtp_limit_hits_total"),
                                               (const char *[]) { limit, NULL }), ==, 1);
}

static void
test_timeout (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "", "421 4.4.2 mx.test.example Error: timeout exceeded",
    "", "<closed>",
    NULL, NULL
  };

  vsmtp_server_set_timeout (fixture->server, 1);
  run_client (fixture, script);
  assert_session_ended (fixture, "timeout", NULL);
}

/* ---- hardening ---- */

static void
test_helo_pipelining_forbidden (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "HELO c\r\nMAIL FROM:<a@example.org>\r\n", "250 mx.test.example",
    NULL, "554 5.5.0 Error: SMTP protocol synchronization",
    "", "<closed>",
    NULL, NULL
  };

  run_client (fixture, script);
}

static void
test_data_pipelining_forbidden (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: early\r\n\r\nx\r\n.\r\n", "250 2.1.0",
    NULL, "250 2.1.5",
    NULL, "354 ",
    NULL, "554 5.5.0",
    "", "<closed>",
    NULL, NULL
  };

  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 0);
}

static void
test_helo_pipelining_allowed_when_configured (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "HELO c\r\nNOOP\r\n", "250 ",
    NULL, "250 2.0.0",
    NULL, NULL
  };

  g_object_set (fixture->server, "forbid-unauth-pipelining", FALSE, NULL);
  run_client (fixture, script);
}

static VsmtpReply *
on_connected_defer (VsmtpSession *session,
                    Fixture      *fixture)
{
  Completion *c = g_new0 (Completion, 1);
  VsmtpReply *reply = vsmtp_reply_new_pending ();

  /* the greeting comes 300 ms late: the client below talks first */
  c->reply = g_object_ref (reply);
  g_timeout_add (300, complete_greeting_later, c);
  return reply;
}

static void
on_new_session_slow_greeting (VsmtpServer  *server,
                              VsmtpSession *session,
                              Fixture      *fixture)
{
  g_signal_connect (session, "connected", G_CALLBACK (on_connected_defer), fixture);
}

static void
test_talk_before_greeting (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    "EHLO early\r\n", "554 5.5.0",
    "", "<closed>",
    NULL, NULL
  };

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_slow_greeting), fixture);
  run_client (fixture, script);
}

static void
test_hard_error_limit (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "FOO\r\n", "500 5.5.2",
    "FOO\r\n", "500 5.5.2",
    "FOO\r\n", "500 5.5.2",
    NULL, "421 4.7.0 mx.test.example Error: too many errors",
    "", "<closed>",
    NULL, NULL
  };

  g_object_set (fixture->server, "soft-error-limit", 1, "hard-error-limit", 3,
                "error-sleep-time", 50, NULL);
  run_client (fixture, script);
  assert_session_ended (fixture, "errors", "hard-error-limit");
}

static void
test_junk_limit (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "NOOP\r\n", "250 2.0.0",
    "NOOP\r\n", "250 2.0.0",
    "NOOP\r\n", "250 2.0.0",     /* past the junk limit: counts as an error */
    "NOOP\r\n", "250 2.0.0",
    NULL, "421 4.7.0",
    "", "<closed>",
    NULL, NULL
  };

  g_object_set (fixture->server, "junk-command-limit", 2, "hard-error-limit", 2,
                "error-sleep-time", 0, NULL);
  run_client (fixture, script);
}

static void
test_input_hygiene (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "NOOP \x01\r\n", "500 5.5.2 Error: control character",
    "NOOP caf\xc3\xa9\r\n", "500 5.5.2 Error: 8-bit",
    "NOOP \xff\xfe\r\n", "500 5.5.2 Error: invalid UTF-8",
    "MAIL FROM:<j\xc3\xb6rg@example.org>\r\n", "553 5.6.7",
    /* a MAIL line with UTF-8 is still checked for controls to its end */
    "MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8\x01\r\n", "500 5.5.2 Error: control character",
    "MAIL FROM:<j\xc3@example.org> SMTPUTF8\r\n", "501 5.1.7 Bad sender address syntax: Address is not valid UTF-8",
    "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8\r\n", "250 2.1.0",
    "RCPT TO:<\xc3\xbc@example.net>\r\n", "250 2.1.5",
    "RCPT TO:<u@\xe2\x98\x83.example>\r\n", "553 5.1.3 Bad recipient address: Invalid internationalized domain name",
    "RSET\r\n", "250 2.0.0",
    "GET / HTTP/1.1\r\n", "554 5.7.0",
    "", "<closed>",
    NULL, NULL
  };

  run_client (fixture, script);
}

static void
test_proxy_first_line (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "PROXY TCP4 192.0.2.1 192.0.2.2 1234 25\r\n", "554 5.7.0",
    "", "<closed>",
    NULL, NULL
  };

  run_client (fixture, script);
}

static void
test_per_client_limit (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GSocketConnection) first = NULL;
  const char * const script[] = {
    NULL, "421 4.7.0 mx.test.example Error: too many connections from 127.0.0.1",
    "", "<closed>",
    NULL, NULL
  };

  g_object_set (fixture->server, "max-connections-per-client", 1, NULL);
  first = g_socket_client_connect_to_host (sc, "127.0.0.1", fixture->port, NULL, &error);
  g_assert_no_error (error);
  /* let the server accept the first connection */
  while (vsmtp_server_get_n_sessions (fixture->server) < 1)
    g_main_context_iteration (NULL, TRUE);
  run_client (fixture, script);
  g_assert_cmpuint (vsmtp_server_get_n_sessions (fixture->server), ==, 1);
}

typedef struct {
  guint16       port;
  GString      *received;
  GMainContext *context;
  GMainLoop    *loop;
  const char   *start;    /* NULL: up to DATA */
} Trickle;

static gpointer
trickle_thread (gpointer data)
{
  Trickle *t = data;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", t->port);
  const char *start = t->start ? t->start
                              : "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n";
  char buf[1024];

  g_socket_set_timeout (socket, 30);
  if (g_socket_connect (socket, address, NULL, NULL))
    {
      g_socket_send (socket, start, strlen (start), NULL, NULL);
      /* one byte every 100 ms, for at most 20 s, until the server gives up */
      g_socket_set_blocking (socket, FALSE);
      for (guint i = 0; i < 200; i++)
        {
          gssize n;

          if (g_socket_send (socket, "x", 1, NULL, NULL) < 0)
            break;
          g_usleep (100 * 1000);
          while ((n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL)) > 0)
            g_string_append_len (t->received, buf, n);
          if (n == 0 || strstr (t->received->str, "421 ") != NULL)
            break;
        }
    }
  g_main_context_invoke (t->context, quit_loop, t->loop);
  return NULL;
}

static void
test_min_data_rate (Fixture *fixture, gconstpointer data)
{
  Trickle t = { fixture->port, g_string_new (NULL), g_main_context_default (), fixture->loop };
  GThread *thread;

  /* 1 s timeout: per-read resets would let 10 bytes/s go on for ever */
  g_object_set (fixture->server, "timeout", 1, "forbid-unauth-pipelining", FALSE, NULL);
  thread = g_thread_new ("trickle", trickle_thread, &t);
  g_main_loop_run (fixture->loop);
  g_thread_join (thread);

  g_assert_nonnull (strstr (t.received->str, "354 "));
  g_assert_nonnull (strstr (t.received->str, "421 4.4.2 mx.test.example Error: timeout exceeded"));
  g_assert_cmpuint (fixture->messages->len, ==, 0);
  g_string_free (t.received, TRUE);
}

/* A BDAT chunk trickled in, one the transaction takes and one refused
 * (and read to its end): the same deadline as DATA's content */
static void
test_min_data_rate_bdat (Fixture *fixture, gconstpointer data)
{
  const char * const starts[] = {
    "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 1000 LAST\r\n",
    "EHLO c\r\nBDAT 1000 LAST\r\n",
  };

  g_object_set (fixture->server, "timeout", 1, "forbid-unauth-pipelining", FALSE, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (starts); i++)
    {
      Trickle t = { fixture->port, g_string_new (NULL), g_main_context_default (), fixture->loop,
                    starts[i] };
      GThread *thread = g_thread_new ("trickle", trickle_thread, &t);

      g_main_loop_run (fixture->loop);
      g_thread_join (thread);

      g_test_message ("%s", t.received->str);
      g_assert_nonnull (strstr (t.received->str, "250-CHUNKING"));
      if (i == 1)
        g_assert_nonnull (strstr (t.received->str, "503 5.5.1"));
      g_assert_nonnull (strstr (t.received->str, "421 4.4.2 mx.test.example Error: timeout exceeded"));
      g_assert_cmpuint (fixture->messages->len, ==, 0);
      g_string_free (t.received, TRUE);
    }
}

/* ---- AUTH ---- */

static gboolean
complete_auth_later (gpointer data)
{
  VsmtpReply *reply = data;

  vsmtp_reply_complete (reply, 235, "2.7.0", "Authentication successful");
  g_object_unref (reply);
  return G_SOURCE_REMOVE;
}

static VsmtpReply *
on_authenticate (VsmtpSession *session,
                 const char   *mechanism,
                 const char   *authzid,
                 const char   *authcid,
                 const char   *password,
                 Fixture      *fixture)
{
  if (g_str_equal (authcid, "slow") && g_str_equal (password, "secret"))
    {
      VsmtpReply *reply = vsmtp_reply_new_pending ();

      g_timeout_add (50, complete_auth_later, g_object_ref (reply));
      return reply;
    }
  if (g_str_equal (authcid, "alice") && g_str_equal (password, "secret"))
    return vsmtp_reply_new (235, "2.7.0", "Authentication successful");
  return vsmtp_reply_new_continue ();   /* the default: 535 5.7.8 */
}

static void
on_new_session_auth (VsmtpServer  *server,
                     VsmtpSession *session,
                     Fixture      *fixture)
{
  g_signal_connect (session, "authenticate", G_CALLBACK (on_authenticate), fixture);
}

static void
auth_setup (Fixture *fixture)
{
  const char * const mechs[] = { "PLAIN", "LOGIN", NULL };

  vsmtp_server_set_auth_mechanisms (fixture->server, mechs);
  g_object_set (fixture->server, "auth-requires-tls", FALSE, NULL);
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_auth), fixture);
}

/* base64 of "\0alice\0secret", "\0alice\0wrong", "\0slow\0secret" */
#define PLAIN_ALICE "AGFsaWNlAHNlY3JldA=="
#define PLAIN_WRONG "AGFsaWNlAHdyb25n"
#define PLAIN_SLOW  "AHNsb3cAc2VjcmV0"

/* what vsmtp_session_get_auth_mechanism() says once authenticated */
static void
on_authenticated_user (VsmtpSession *session,
                       GParamSpec   *pspec,
                       char        **mechanism)
{
  g_free (*mechanism);
  *mechanism = g_strdup (vsmtp_session_get_auth_mechanism (session));
}

static void
on_new_session_mechanism (VsmtpServer  *server,
                          VsmtpSession *session,
                          char        **mechanism)
{
  g_assert_null (vsmtp_session_get_auth_mechanism (session));
  g_signal_connect (session, "notify::authenticated-user",
                    G_CALLBACK (on_authenticated_user), mechanism);
}

static void
test_auth_plain (Fixture *fixture, gconstpointer data)
{
  g_autofree char *mechanism = NULL;
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-mx.test.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                  "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n"
                  "250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "AUTH PLAIN " PLAIN_WRONG "\r\n", "535 5.7.8",
    "AUTH PLAIN " PLAIN_ALICE "\r\n", "235 2.7.0",
    "AUTH PLAIN " PLAIN_ALICE "\r\n", "503 5.5.1",
    "MAIL FROM:<alice@example.org> AUTH=alice@example.org\r\n", "250 2.1.0",
    "AUTH PLAIN " PLAIN_ALICE "\r\n", "503 5.5.1",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354",
    "authenticated\r\n.\r\n", "250",
    NULL, NULL
  };

  auth_setup (fixture);
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_mechanism), &mechanism);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
  g_assert_nonnull (strstr (fixture->messages->pdata[0], " with ESMTPA id "));
  g_assert_cmpstr (mechanism, ==, "PLAIN");
}

static void
test_auth_login_cancel_and_errors (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "AUTH PLAIN " PLAIN_ALICE "\r\n", "503 5.5.1",     /* before EHLO */
    "EHLO c\r\n", "250-",
    "AUTH\r\n", "501 5.5.4",
    "AUTH CRAM-MD5\r\n", "504 5.5.4",
    "AUTH LOGIN\r\n", "334 ",
    "*\r\n", "501 5.0.0",
    "AUTH PLAIN\r\n", "334",
    "!!!notbase64\r\n", "501 5.5.2",
    "AUTH LOGIN\r\n", "334 ",
    "YWxpY2U=\r\n", "334 ",                           /* alice */
    "c2VjcmV0\r\n", "235 2.7.0",                      /* secret */
    NULL, NULL
  };

  auth_setup (fixture);
  run_client (fixture, script);
}

static void
test_auth_deferred (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "AUTH PLAIN " PLAIN_SLOW "\r\n", "235 2.7.0",
    NULL, NULL
  };

  auth_setup (fixture);
  run_client (fixture, script);
}

static void
test_auth_requires_tls (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-mx.test.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                  "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "AUTH PLAIN " PLAIN_ALICE "\r\n", "538 5.7.11",
    NULL, NULL
  };

  auth_setup (fixture);
  g_object_set (fixture->server, "auth-requires-tls", TRUE, NULL);
  run_client (fixture, script);
}

static void
test_auth_failure_limit (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "AUTH PLAIN " PLAIN_WRONG "\r\n", "535 5.7.8",
    "AUTH PLAIN " PLAIN_WRONG "\r\n", "535 5.7.8",
    "AUTH PLAIN " PLAIN_ALICE "\r\n", "454 4.7.0",   /* blocked, even with the right password */
    NULL, NULL
  };

  auth_setup (fixture);
  g_object_set (fixture->server, "max-auth-failures", 2, NULL);
  run_client (fixture, script);
}

static void
test_auth_required_listener (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) effective = NULL;
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "530 5.7.0 Authentication required",
    "AUTH PLAIN " PLAIN_ALICE "\r\n", "235 2.7.0",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    NULL, NULL
  };

  auth_setup (fixture);
  g_assert_true (vsmtp_server_listen_full (fixture->server, address, VSMTP_LISTEN_FLAGS_AUTH_REQUIRED,
                                           &effective, &error));
  g_assert_no_error (error);
  fixture->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  run_client (fixture, script);
}

static void
test_header_too_big (Fixture *fixture, gconstpointer data)
{
  g_autofree char *headers = NULL;
  const char *script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354",
    NULL, "552 5.3.4 Error: message header too big",
    /* the same size in the body is fine */
    "MAIL FROM:<a@example.org>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354",
    NULL, "250",
    NULL, NULL
  };
  g_autofree char *body = NULL;
  GString *h = g_string_new (NULL);
  GString *b = g_string_new ("Subject: small\r\n\r\n");

  for (guint i = 0; i < 40; i++)
    {
      g_string_append_printf (h, "X-Filler-%02u: %s\r\n", i, "0123456789012345678901234567890123456789");
      g_string_append_printf (b, "X-Filler-%02u: %s\r\n", i, "0123456789012345678901234567890123456789");
    }
  g_string_append (h, "\r\nbody\r\n.\r\n");
  g_string_append (b, ".\r\n");
  headers = g_string_free (h, FALSE);
  body = g_string_free (b, FALSE);
  script[10] = headers;
  script[18] = body;

  g_object_set (fixture->server, "max-header-size", 1000, NULL);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
}

static void
test_data_line_too_long (Fixture *fixture, gconstpointer data)
{
  g_autofree char *long_line = g_strnfill (1200, 'x');
  g_autofree char *content = g_strconcat ("Subject: long\r\n\r\n", long_line, "\r\n.\r\n", NULL);
  const char *script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354",
    NULL, "500 5.5.2 Error: message line too long",
    NULL, NULL
  };

  script[10] = content;
  g_object_set (fixture->server, "max-data-line-length", 1000, NULL);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 0);
}

/* The line length limit counts CRLF: lines of exactly the limit pass, one
 * byte more is refused, wherever the line is in the body. */
static void
test_data_line_length_boundary (Fixture *fixture, gconstpointer data)
{
  g_autofree char *line_at_limit = g_strnfill (98, 'x');
  g_autofree char *line_over = g_strnfill (99, 'y');
  const char *script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354",
    NULL, "250",
    "MAIL FROM:<a@example.org>\r\n", "250",
    "RCPT TO:<b@example.org>\r\n", "250",
    "DATA\r\n", "354",
    NULL, "500 5.5.2 Error: message line too long",
    NULL, NULL
  };
  g_autofree char *fits = NULL;
  g_autofree char *over = NULL;
  GString *f = g_string_new ("Subject: fits\r\n\r\n");
  GString *o = g_string_new ("Subject: over\r\n\r\n");

  for (guint i = 0; i < 30; i++)
    g_string_append_printf (f, "%s\r\n%s", line_at_limit, i % 3 == 0 ? "a\r\n\r\n" : "");
  g_string_append (f, ".\r\n");
  for (guint i = 0; i < 10; i++)
    g_string_append_printf (o, "%s\r\n", line_at_limit);
  g_string_append_printf (o, "a\r\n%s\r\nb\r\n.\r\n", line_over);
  fits = g_string_free (f, FALSE);
  over = g_string_free (o, FALSE);
  script[10] = fits;
  script[18] = over;

  g_object_set (fixture->server, "max-data-line-length", 100, NULL);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
}

/* A session in the middle of a transaction is let finish; past the grace
 * period it gets 421 all the same. */
typedef struct {
  guint16       port;
  GString      *received;
  GMainContext *context;
  GMutex        lock;
  gboolean      done;
} Lingerer;

static void
lingerer_append (Lingerer   *l,
                 const char *data,
                 gsize       length)
{
  g_mutex_lock (&l->lock);
  g_string_append_len (l->received, data, length);
  g_mutex_unlock (&l->lock);
  g_main_context_wakeup (l->context);
}

static gboolean
lingerer_has (Lingerer   *l,
              const char *text)
{
  gboolean found;

  g_mutex_lock (&l->lock);
  found = strstr (l->received->str, text) != NULL;
  g_mutex_unlock (&l->lock);
  return found;
}

static gpointer
lingerer_thread (gpointer data)
{
  Lingerer *l = data;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", l->port);
  const char *start = "EHLO c\r\n";
  char buf[1024];
  gssize n;

  g_socket_set_timeout (socket, 20);
  if (g_socket_connect (socket, address, NULL, NULL))
    {
      /* the greeting first: talking before it is a protocol violation */
      while (!lingerer_has (l, "220 ") &&
             (n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL)) > 0)
        lingerer_append (l, buf, n);
      g_socket_send (socket, start, strlen (start), NULL, NULL);
      while (!lingerer_has (l, "250 LIMITS") &&
             (n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL)) > 0)
        lingerer_append (l, buf, n);
      g_socket_send (socket, "MAIL FROM:<a@example.org>\r\n", 27, NULL, NULL);
      /* then nothing more: read until the server closes */
      while ((n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL)) > 0)
        lingerer_append (l, buf, n);
    }
  g_atomic_int_set (&l->done, TRUE);
  g_main_context_wakeup (l->context);
  return NULL;
}

static void
test_shutdown_grace_expires (Fixture *fixture, gconstpointer data)
{
  Lingerer l = { fixture->port, g_string_new (NULL), g_main_context_default (), { 0 }, FALSE };
  gboolean done = FALSE;
  GThread *thread;

  thread = g_thread_new ("lingerer", lingerer_thread, &l);
  /* let the MAIL command arrive and be answered */
  while (!lingerer_has (&l, "250 2.1.0") && !g_atomic_int_get (&l.done))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (lingerer_has (&l, "250 2.1.0"));

  vsmtp_server_shutdown_async (fixture->server, 1, NULL, on_shutdown_done, &done);
  while (!done || !g_atomic_int_get (&l.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  g_mutex_clear (&l.lock);

  g_assert_true (g_str_has_suffix (l.received->str,
                                   "250 2.1.0 Ok\r\n421 4.3.2 mx.test.example Service shutting down, "
                                   "closing connection\r\n"));
  g_assert_cmpuint (vsmtp_server_get_n_sessions (fixture->server), ==, 0);
  g_string_free (l.received, TRUE);
}

static gint nodelay_value = -1;

static void
on_new_session_nodelay (VsmtpServer  *server,
                        VsmtpSession *session,
                        Fixture      *fixture)
{
  GSocket *socket =
    g_socket_connection_get_socket (G_SOCKET_CONNECTION (vsmtp_session_get_stream (session)));

  if (!g_socket_get_option (socket, IPPROTO_TCP, TCP_NODELAY, &nodelay_value, NULL))
    nodelay_value = -2;
}

/* Nagle's algorithm is off on accepted connections (a reply held back for a
 * delayed ACK costs 40 ms, seen after STARTTLS) */
static void
test_tcp_nodelay (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "NOOP\r\n", "250 2.0.0",
    NULL, NULL
  };

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_nodelay), fixture);
  run_client (fixture, script);
  g_assert_cmpint (nodelay_value, >, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/session/basic-transaction", test_basic_transaction);
  ADD ("/session/received-header", test_received_header);
  ADD ("/session/ehlo-extensions", test_ehlo_extensions);
  ADD ("/session/starttls-unavailable", test_starttls_unavailable);
  ADD ("/session/bad-sequence-and-syntax", test_bad_sequence_and_syntax);
  ADD ("/session/long-line", test_long_line);
  ADD ("/session/pipelining", test_pipelining);
  ADD ("/session/smuggling-reject", test_smuggling);
  ADD ("/session/smuggling-normalize", test_smuggling_normalize);
  ADD ("/session/message-too-big", test_message_too_big);
  ADD ("/session/too-many-recipients", test_too_many_recipients);
  ADD ("/session/handler-reject", test_handler_reject);
  ADD ("/session/deferred-completed", test_deferred_completed);
  ADD ("/session/deferred-timeout", test_deferred_timeout);
  ADD ("/session/connected-refuse", test_connected_refuse);
  ADD ("/session/shutdown", test_shutdown);
  ADD ("/session/timeout", test_timeout);
  ADD ("/session/shutdown-grace-expires", test_shutdown_grace_expires);
  ADD ("/session/tcp-nodelay", test_tcp_nodelay);
  ADD ("/session/helo-pipelining-forbidden", test_helo_pipelining_forbidden);
  ADD ("/session/data-pipelining-forbidden", test_data_pipelining_forbidden);
  ADD ("/session/helo-pipelining-allowed", test_helo_pipelining_allowed_when_configured);
  ADD ("/session/talk-before-greeting", test_talk_before_greeting);
  ADD ("/session/hard-error-limit", test_hard_error_limit);
  ADD ("/session/junk-limit", test_junk_limit);
  ADD ("/session/input-hygiene", test_input_hygiene);
  ADD ("/session/proxy-first-line", test_proxy_first_line);
  ADD ("/session/per-client-limit", test_per_client_limit);
  ADD ("/session/min-data-rate", test_min_data_rate);
  ADD ("/session/min-data-rate-bdat", test_min_data_rate_bdat);
  ADD ("/session/header-too-big", test_header_too_big);
  ADD ("/session/data-line-too-long", test_data_line_too_long);
  ADD ("/session/data-line-length-boundary", test_data_line_length_boundary);
  ADD ("/session/auth/plain", test_auth_plain);
  ADD ("/session/auth/login-cancel-errors", test_auth_login_cancel_and_errors);
  ADD ("/session/auth/deferred", test_auth_deferred);
  ADD ("/session/auth/requires-tls", test_auth_requires_tls);
  ADD ("/session/auth/failure-limit", test_auth_failure_limit);
  ADD ("/session/auth/required-listener", test_auth_required_listener);
#undef ADD
  g_test_add_func ("/session/no-delivery-handler", test_no_delivery_handler);

  return g_test_run ();
}

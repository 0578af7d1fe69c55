/* fuzz-session.c: libFuzzer harness for whole SMTP sessions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Input: byte 0 configures the server and the harness (see the CONFIG_*
 * bits), the rest is everything the client sends, then the client's end of
 * stream. A VsmtpServer runs one session over a GSimpleIOStream whose input
 * hands out the bytes (all at once from a GMemoryInputStream, or in small
 * chunks with "would block" in between from the test harness's chunked stream, tests/harness) and whose
 * output is a GMemoryOutputStream. Handlers accept messages, or defer their
 * decisions and complete them later (or let them expire).
 *
 * The listener trusts the client (192.0.2.7) with XCLIENT: after an XCLIENT
 * command the session goes on as another client's.
 *
 * Each run uses a fresh GMainContext. After the run the session and the
 * server must be finalized, the spool folder empty, and the output must be
 * well-formed SMTP replies.
 */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "vsmtp.h"
#include "fuzz-common.h"
#include "vsmtp-test-memory.h"

enum {
  CONFIG_NORMALIZE   = 1 << 0,  /* bare-newline=normalize */
  CONFIG_CHUNKED     = 1 << 1,  /* small reads, "would block" in between */
  CONFIG_SMALL       = 1 << 2,  /* the smallest limits: lines, size, recipients, errors, spooling */
  CONFIG_DEFER       = 1 << 3,  /* handlers return pending replies */
  CONFIG_NO_DECISION = 1 << 4,  /* message-received gets no decision: 451 */
  CONFIG_REQUIRE_TLS = 1 << 5,  /* require-tls without a certificate */
  CONFIG_PIPELINING  = 1 << 6,  /* forbid-unauth-pipelining=FALSE */
  CONFIG_FAIL        = 1 << 7,  /* handlers sometimes fail (NULL): 451 */
};

static char *spool_directory;
static VsmtpListenOptions *listen_options;   /* XCLIENT from the client's address */

/* ------------------------------------------------------------------------ */
/* The handlers */

typedef struct {
  guint      config;
  FuzzRand   rand;
  GPtrArray *pending;      /* VsmtpReply the handlers deferred */
  guint      n_messages;
  guint      n_closed;
} Run;

static VsmtpReply *
decide (Run        *run,
        VsmtpReply *reply)
{
  VsmtpReply *pending;

  if ((run->config & CONFIG_FAIL) && fuzz_rand_next (&run->rand) % 4 == 0)
    {
      /* a failed handler: the session answers 451 on its own */
      g_object_unref (reply);
      return NULL;
    }
  if (!(run->config & CONFIG_DEFER) || fuzz_rand_next (&run->rand) % 2 == 0)
    return reply;

  /* Defer: the harness completes it later with @reply, or lets it expire. */
  pending = vsmtp_reply_new_pending ();
  g_ptr_array_add (run->pending, g_object_ref (pending));
  g_object_set_data_full (G_OBJECT (pending), "fuzz-final", reply, g_object_unref);

  return pending;
}

static VsmtpReply *
on_mail_from (VsmtpSession *session,
              VsmtpAddress *sender,
              GHashTable   *params,
              Run          *run)
{
  g_assert_nonnull (sender);
  g_assert_nonnull (params);

  return decide (run, vsmtp_reply_new_ok ());
}

static VsmtpReply *
on_rcpt_to (VsmtpSession *session,
            VsmtpAddress *recipient,
            GHashTable   *params,
            Run          *run)
{
  const char *local;

  g_assert_nonnull (recipient);
  local = vsmtp_address_get_local_part (recipient);
  if (local != NULL && g_str_has_prefix (local, "bad"))
    return decide (run, vsmtp_reply_new_no_such_user ());

  /* no opinion (now, or once deferred): the standard reply decides */
  return decide (run, vsmtp_reply_new_continue ());
}

/* DATA, and BDAT's first chunk of a transaction: deferred too, so a chunk
 * waits in the input while its decision is pending */
static VsmtpReply *
on_data (VsmtpSession *session,
         Run          *run)
{
  return decide (run, vsmtp_reply_new_continue ());
}

static VsmtpReply *
on_message_received (VsmtpSession *session,
                     VsmtpMessage *message,
                     Run          *run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  VsmtpEnvelope *envelope;

  bytes = vsmtp_message_dup_bytes (message, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, vsmtp_message_get_size (message));
  envelope = vsmtp_message_get_envelope (message);
  g_assert_nonnull (envelope);

  run->n_messages++;
  if (run->config & CONFIG_NO_DECISION)
    return vsmtp_reply_new_continue ();   /* nobody takes it: 451 */

  return decide (run, vsmtp_reply_new (250, "2.0.0", "Ok: queued"));
}

static void
on_closed (VsmtpSession *session,
           Run          *run)
{
  run->n_closed++;
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                Run          *run)
{
  g_signal_connect (session, "mail-from", G_CALLBACK (on_mail_from), run);
  g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt_to), run);
  g_signal_connect (session, "data", G_CALLBACK (on_data), run);
  g_signal_connect (session, "message-received", G_CALLBACK (on_message_received), run);
  g_signal_connect (session, "closed", G_CALLBACK (on_closed), run);
}

/* Completes, or leaves to expire, the first deferred decision. Returns FALSE
 * when there was none. */
static gboolean
complete_one (gpointer user_data)
{
  Run *run = user_data;
  g_autoptr(VsmtpReply) pending = NULL;
  VsmtpReply *final;

  if (run->pending->len == 0)
    return FALSE;

  pending = g_ptr_array_steal_index (run->pending, 0);
  final = g_object_get_data (G_OBJECT (pending), "fuzz-final");

  if (fuzz_rand_next (&run->rand) % 8 == 0)
    return TRUE;   /* never completed: the decision deadline (1 ms) answers */

  if (final != NULL)
    vsmtp_reply_complete_with (pending, final);
  else
    vsmtp_reply_complete (pending, 250, "2.1.5", "Ok");

  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Checks */

static void
check_output (const char *out,
              gsize       size)
{
  const char *p = out;
  const char *end = out + size;
  gboolean first = TRUE;

  while (p < end)
    {
      const char *lf = memchr (p, '\n', end - p);
      gsize len;

      if (lf == NULL)
        g_error ("reply without CRLF at the end: “%.*s”", (int) (end - p), p);
      len = lf - p + 1;
      if (len < 6 || lf[-1] != '\r' ||
          !(p[0] >= '2' && p[0] <= '5') ||
          !g_ascii_isdigit (p[1]) || !g_ascii_isdigit (p[2]) ||
          (p[3] != ' ' && p[3] != '-'))
        g_error ("malformed reply line: “%.*s”", (int) len, p);
      if (len > 512)
        g_error ("reply line of %" G_GSIZE_FORMAT " bytes (RFC 5321 §4.5.3.1.5: 512)", len);
      if (memchr (p, '\r', len - 2) != NULL || memchr (p, '\0', len) != NULL)
        g_error ("reply line with a CR or NUL inside: “%.*s”", (int) len, p);
      if (first && !(g_str_has_prefix (p, "220") || g_str_has_prefix (p, "554") ||
                     g_str_has_prefix (p, "421")))
        g_error ("first reply is not a greeting: “%.*s”", (int) len, p);
      first = FALSE;
      p += len;
    }
}

static void
check_spool_empty (void)
{
  g_autoptr(GDir) dir = g_dir_open (spool_directory, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  name = g_dir_read_name (dir);
  if (name != NULL)
    g_error ("spool file left behind: %s", name);
}

/* ------------------------------------------------------------------------ */

static void
remove_spool_directory (void)
{
  g_rmdir (spool_directory);
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;

  fuzz_common_init ();
  spool_directory = g_dir_make_tmp ("vsmtp-fuzz-XXXXXX", &error);
  g_assert_no_error (error);
  atexit (remove_spool_directory);

  /* Load the types once, outside of the measured runs. */
  g_type_ensure (VSMTP_TYPE_SERVER);
  g_type_ensure (VSMTP_TYPE_SESSION);
  g_type_ensure (G_TYPE_MEMORY_INPUT_STREAM);
  g_type_ensure (G_TYPE_MEMORY_OUTPUT_STREAM);
  g_type_ensure (G_TYPE_SIMPLE_IO_STREAM);

  listen_options = vsmtp_listen_options_new ();
  if (!vsmtp_listen_options_set_xclient_trusted (listen_options,
                                                 (const char * const[]) { "192.0.2.0/24", NULL },
                                                 &error))
    g_error ("%s", error->message);

  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  GMainContext *context;
  VsmtpServer *server;
  VsmtpSession *session;
  g_autoptr(GInputStream) input = NULL;
  g_autoptr(GBytes) output = NULL;
  const guint8 *content;
  gsize content_size;
  Run run = { 0 };
  gint64 deadline;

  if (size < 1)
    return 0;

  run.config = data[0];
  fuzz_rand_init (&run.rand, data[0] ^ (guint32) size << 8);
  run.pending = g_ptr_array_new_with_free_func (g_object_unref);
  content = data + 1;
  content_size = size - 1;

  context = g_main_context_new ();
  g_main_context_push_thread_default (context);

  server = vsmtp_server_new ();
  g_object_set (server,
                "hostname", "mx.fuzz.example",
                "timeout", 0,
                "decision-timeout", 1,
                "error-sleep-time", 0,
                "spool-directory", spool_directory,
                "bare-newline", (run.config & CONFIG_NORMALIZE) ? VSMTP_BARE_NEWLINE_NORMALIZE
                                                                : VSMTP_BARE_NEWLINE_REJECT,
                "require-tls", (run.config & CONFIG_REQUIRE_TLS) != 0,
                "forbid-unauth-pipelining", (run.config & CONFIG_PIPELINING) == 0,
                NULL);
  if (run.config & CONFIG_SMALL)
    g_object_set (server,
                  "max-line-length", 512,
                  "max-message-size", (guint64) 300,
                  "max-recipients", 3,
                  "spool-threshold", (guint64) 100,
                  "hard-error-limit", 5,
                  "junk-command-limit", 4,
                  NULL);
  g_signal_connect (server, "new-session", G_CALLBACK (on_new_session), &run);
  g_object_add_weak_pointer (G_OBJECT (server), (gpointer *) &server);

  if (run.config & CONFIG_CHUNKED)
    input = vsmtp_test_chunked_stream_new (content, content_size, run.config | (guint32) size << 8, 40);
  else
    input = g_memory_input_stream_new_from_data (content, content_size, NULL);

  /* Run until the session is closed (a stuck session aborts) */
  output = vsmtp_test_run_memory_session_with_options (server, listen_options, input, complete_one,
                                                       &run, &session);
  g_object_add_weak_pointer (G_OBJECT (session), (gpointer *) &session);
  g_object_unref (session);

  /* Left over deferred replies are completed too late: must be harmless. */
  while (run.pending->len > 0)
    {
      g_autoptr(VsmtpReply) pending = g_ptr_array_steal_index (run.pending, 0);

      vsmtp_reply_complete (pending, 250, "2.0.0", "Too late");
    }

  /* The server closes what is still open; then everything must go away. */
  g_object_unref (server);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (session != NULL || server != NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("the session or the server was not finalized");
      g_main_context_iteration (context, TRUE);
    }
  while (g_main_context_iteration (context, FALSE))
    ;

  g_assert_cmpuint (run.n_closed, ==, 1);
  check_spool_empty ();
  check_output (g_bytes_get_data (output, NULL), g_bytes_get_size (output));

  g_ptr_array_unref (run.pending);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  return 0;
}

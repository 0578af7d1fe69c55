/* test-session-memory.c: whole sessions over in-memory streams (the
 * harness the session fuzzer uses too): the replies do not depend on how
 * the client's bytes are split into reads
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp.h"
#include "vsmtp-test-memory.h"

static const char input_text[] =
  "EHLO client.example\r\n"
  "MAIL FROM:<alice@example.org> SIZE=40\r\n"
  "RCPT TO:<bob@example.net>\r\n"
  "RCPT TO:<nobody@example.net>\r\n"
  "DATA\r\n"
  "Subject: split\r\n"
  "\r\n"
  "..a stuffed dot\r\n"
  "line\r\n"
  ".\r\n"
  "NOOP\r\n"
  "QUIT\r\n";

static VsmtpReply *
on_rcpt (VsmtpSession    *session,
         VsmtpAddress    *recipient,
         VsmtpParameters *parameters,
         gpointer         user_data)
{
  if (g_str_equal (vsmtp_address_get_local_part (recipient), "nobody"))
    return vsmtp_reply_new_no_such_user ();
  return vsmtp_reply_new_continue ();
}

static VsmtpReply *
on_message (VsmtpSession *session,
            VsmtpMessage *message,
            GPtrArray    *stored)
{
  g_ptr_array_add (stored, vsmtp_message_dup_bytes (message, NULL));
  return vsmtp_reply_new (250, "2.0.0", "Ok: stored");
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                GPtrArray    *stored)
{
  g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt), NULL);
  g_signal_connect (session, "message-received", G_CALLBACK (on_message), stored);
}

/* One session; returns what the server wrote, and the body stored */
static GBytes *
run (GInputStream  *input,
     GBytes       **body)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(VsmtpServer) server = NULL;
  g_autoptr(GPtrArray) stored = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GBytes *output;

  g_main_context_push_thread_default (context);
  server = vsmtp_server_new ();
  g_object_set (server, "hostname", "mx.memory.example", "forbid-unauth-pipelining", FALSE, NULL);
  g_signal_connect (server, "new-session", G_CALLBACK (on_new_session), stored);
  output = vsmtp_test_run_memory_session (server, input, NULL, NULL, NULL);
  g_clear_object (&server);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  g_assert_cmpuint (stored->len, ==, 1);
  *body = g_bytes_ref (stored->pdata[0]);
  return output;
}

/* The content from the line after the Received: header (whose id and
 * date differ from one session to the next) */
static char *
content_after_trace (GBytes *content)
{
  gsize size;
  const char *text = g_bytes_get_data (content, &size);
  const char *subject = g_strstr_len (text, size, "\r\nSubject: ");

  g_assert_nonnull (subject);
  return g_strndup (subject, size - (subject - text));
}

static void check_splits (const char *input,
                          GBytes     *expected,
                          GBytes     *body);

static void
test_split_anywhere (void)
{
  g_autoptr(GInputStream) whole = g_memory_input_stream_new_from_data (input_text, strlen (input_text), NULL);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) expected = run (whole, &body);
  g_autofree char *text = g_strndup (g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));

  /* the replies, in order, one per command */
  g_assert_true (g_str_has_prefix (text, "220 mx.memory.example ESMTP"));
  g_assert_nonnull (strstr (text, "\r\n250-mx.memory.example\r\n250-PIPELINING\r\n"));
  g_assert_nonnull (strstr (text, "\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 "));
  g_assert_nonnull (strstr (text, "\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: stored\r\n"
                                  "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"));
  g_assert_true (g_str_has_suffix (text, "221 2.0.0 Bye\r\n"));
  {
    gsize size;
    const char *content = g_bytes_get_data (body, &size);
    g_autofree char *copy = g_strndup (content, size);

    g_assert_true (g_str_has_suffix (copy, "\r\nSubject: split\r\n\r\n.a stuffed dot\r\nline\r\n"));
  }

  check_splits (input_text, expected, body);
}

static const char bdat_text[] =
  "EHLO client.example\r\n"
  "BDAT 6\r\nQUIT\r\n"                      /* no transaction: read, not run */
  "MAIL FROM:<alice@example.org> BODY=BINARYMIME\r\n"
  "RCPT TO:<bob@example.net>\r\n"
  "BDAT 20\r\nSubject: chunks\r\n\r\n."  /* no dot-stuffing to undo */
  "BDAT 14\r\n.\r\nRSET\r\nQUIT\r"
  "BDAT 0 LAST\r\n"
  "NOOP\r\n"
  "QUIT\r\n";

/* BDAT chunks, whichever way the reads split them */
static void
test_bdat_split_anywhere (void)
{
  g_autoptr(GInputStream) whole = g_memory_input_stream_new_from_data (bdat_text, strlen (bdat_text), NULL);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) expected = run (whole, &body);
  g_autofree char *text = g_strndup (g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
  gsize size;
  const char *content = g_bytes_get_data (body, &size);
  g_autofree char *copy = g_strndup (content, size);

  /* the refused chunk's QUIT did not run; the chunks were answered in order */
  g_assert_true (g_str_has_suffix (text, "250 LIMITS RCPTMAX=1000\r\n503 5.5.1 Error: need MAIL command\r\n"
                                         "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                                         "250 2.0.0 20 octets received\r\n250 2.0.0 14 octets received\r\n"
                                         "250 2.0.0 Ok: stored\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"));
  g_assert_true (g_str_has_suffix (copy, "\r\nSubject: chunks\r\n\r\n..\r\nRSET\r\nQUIT\r"));

  check_splits (bdat_text, expected, body);
}

/* Split every other way: the same bytes back, the same message stored. */
static void
check_splits (const char *input,
              GBytes     *expected,
              GBytes     *body)
{
  for (guint32 seed = 1; seed <= 40; seed++)
    for (guint max_chunk = 1; max_chunk <= 64; max_chunk *= 4)
      {
        g_autoptr(GInputStream) chunked =
          vsmtp_test_chunked_stream_new ((const guint8 *) input, strlen (input), seed, max_chunk);
        g_autoptr(GBytes) other_body = NULL;
        g_autoptr(GBytes) output = run (chunked, &other_body);

        if (!g_bytes_equal (output, expected))
          {
            g_test_message ("seed %u, chunks up to %u bytes:\n%.*s", seed, max_chunk,
                            (int) g_bytes_get_size (output), (const char *) g_bytes_get_data (output, NULL));
            g_test_fail ();
            return;
          }
        /* (after the Received: header, whose id and date differ) */
        {
          g_autofree char *got = content_after_trace (other_body);
          g_autofree char *want = content_after_trace (body);

          g_assert_cmpstr (got, ==, want);
        }
      }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/session-memory/split-anywhere", test_split_anywhere);
  g_test_add_func ("/session-memory/bdat-split-anywhere", test_bdat_split_anywhere);
  return g_test_run ();
}

/* fuzz-session.c: libFuzzer harness for whole SMTP sessions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Input: byte 0 configures the server and the harness (see the CONFIG_*
 * bits), the rest is everything the client sends, then the client's end of
 * stream. A VsmtpServer runs one session over a GSimpleIOStream whose input
 * hands out the bytes (all at once from a GMemoryInputStream, or in small
 * chunks with "would block" in between from a stream of our own) and whose
 * output is a GMemoryOutputStream. Handlers accept messages, or defer their
 * decisions and complete them later (or let them expire).
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

/* ------------------------------------------------------------------------ */
/* A pollable input stream that hands out its bytes in chunks */

#define FUZZ_TYPE_CHUNKED_STREAM (fuzz_chunked_stream_get_type ())
G_DECLARE_FINAL_TYPE (FuzzChunkedStream, fuzz_chunked_stream, FUZZ, CHUNKED_STREAM, GInputStream)

struct _FuzzChunkedStream
{
  GInputStream  parent_instance;

  const guint8 *data;
  gsize         size;
  gsize         pos;
  FuzzRand      rand;
};

static void fuzz_chunked_stream_pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FuzzChunkedStream, fuzz_chunked_stream, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      fuzz_chunked_stream_pollable_iface_init))

static gssize
fuzz_chunked_stream_read_nonblocking (GPollableInputStream  *stream,
                                      void                  *buffer,
                                      gsize                  count,
                                      GError               **error)
{
  FuzzChunkedStream *self = FUZZ_CHUNKED_STREAM (stream);
  gsize n;

  if (self->pos < self->size && fuzz_rand_next (&self->rand) % 4 == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "Would block");
      return -1;
    }

  n = fuzz_rand_size (&self->rand, 40);   /* not inside MIN (): evaluated once */
  n = MIN (MIN (count, self->size - self->pos), n);
  if (n > 0)
    memcpy (buffer, self->data + self->pos, n);
  self->pos += n;

  return n;
}

static gssize
fuzz_chunked_stream_read (GInputStream  *stream,
                          void          *buffer,
                          gsize          count,
                          GCancellable  *cancellable,
                          GError       **error)
{
  FuzzChunkedStream *self = FUZZ_CHUNKED_STREAM (stream);
  gsize n = fuzz_rand_size (&self->rand, 40);

  n = MIN (MIN (count, self->size - self->pos), n);

  if (n > 0)
    memcpy (buffer, self->data + self->pos, n);
  self->pos += n;

  return n;
}

static gboolean
fuzz_chunked_stream_close (GInputStream  *stream,
                           GCancellable  *cancellable,
                           GError       **error)
{
  return TRUE;
}

static void
fuzz_chunked_stream_close_async (GInputStream        *stream,
                                 int                  io_priority,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, fuzz_chunked_stream_close_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
fuzz_chunked_stream_close_finish (GInputStream  *stream,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
fuzz_chunked_stream_is_readable (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
fuzz_chunked_stream_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static GSource *
fuzz_chunked_stream_create_source (GPollableInputStream *stream,
                                   GCancellable         *cancellable)
{
  g_autoptr(GSource) base = g_timeout_source_new (0);

  return g_pollable_source_new_full (stream, base, cancellable);
}

static void
fuzz_chunked_stream_pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = fuzz_chunked_stream_can_poll;
  iface->is_readable = fuzz_chunked_stream_is_readable;
  iface->read_nonblocking = fuzz_chunked_stream_read_nonblocking;
  iface->create_source = fuzz_chunked_stream_create_source;
}

static void
fuzz_chunked_stream_class_init (FuzzChunkedStreamClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  stream_class->read_fn = fuzz_chunked_stream_read;
  stream_class->close_fn = fuzz_chunked_stream_close;
  stream_class->close_async = fuzz_chunked_stream_close_async;
  stream_class->close_finish = fuzz_chunked_stream_close_finish;
}

static void
fuzz_chunked_stream_init (FuzzChunkedStream *self)
{
}

static GInputStream *
fuzz_chunked_stream_new (const guint8 *data,
                         gsize         size,
                         guint32       seed)
{
  FuzzChunkedStream *self = g_object_new (FUZZ_TYPE_CHUNKED_STREAM, NULL);

  self->data = data;
  self->size = size;
  fuzz_rand_init (&self->rand, seed);

  return G_INPUT_STREAM (self);
}

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
  g_signal_connect (session, "message-received", G_CALLBACK (on_message_received), run);
  g_signal_connect (session, "closed", G_CALLBACK (on_closed), run);
}

/* Completes, or leaves to expire, the first deferred decision. Returns FALSE
 * when there was none. */
static gboolean
complete_one (Run *run)
{
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

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

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
  g_autoptr(GOutputStream) output = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
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
    input = fuzz_chunked_stream_new (content, content_size, run.config | (guint32) size << 8);
  else
    input = g_memory_input_stream_new_from_data (content, content_size, NULL);
  output = g_memory_output_stream_new_resizable ();
  stream = g_simple_io_stream_new (input, output);
  remote = g_inet_socket_address_new_from_string ("192.0.2.7", 40025);

  session = vsmtp_server_handle_connection (server, stream, remote);
  g_assert_nonnull (session);
  g_object_add_weak_pointer (G_OBJECT (session), (gpointer *) &session);

  /* Run until the session is closed or stuck waiting for a decision. */
  while (session != NULL && vsmtp_session_get_state (session) != VSMTP_SESSION_STATE_CLOSED)
    {
      if (g_main_context_iteration (context, FALSE))
        continue;
      if (complete_one (&run))
        continue;
      /* Only timers left (a decision deadline): wait for them, but not
       * forever: a session that waits for nothing after its input ended
       * would never be closed. */
      {
        gboolean stuck = FALSE;
        GSource *guard = g_timeout_source_new (2000);

        g_source_set_callback (guard, set_flag, &stuck, NULL);
        g_source_attach (guard, context);
        g_main_context_iteration (context, TRUE);
        g_source_destroy (guard);
        g_source_unref (guard);
        if (stuck)
          g_error ("the session is stuck: its input ended but it is not closed");
      }
    }

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
  check_output (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (output)),
                g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (output)));

  g_ptr_array_unref (run.pending);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  return 0;
}

/* vsmtpd-relay-plugin.c: relays every message to an upstream over SMTP or LMTP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-relay"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libpeas/peas.h>
#include <vsmtp.h>

#include "relay-extensions.h"
#include "relay-tls.h"

/* The relay plugin hands each accepted message to one upstream server and
 * answers the client only once the upstream answered: "message-received"
 * returns a pending reply that is completed from the upstream's reply. All
 * the I/O is asynchronous GIO on the main context; there are no threads.
 *
 * One Transaction is one message: take an idle, already greeted upstream
 * connection (RSET first) or connect, greet (EHLO/LHLO, STARTTLS), MAIL,
 * RCPT for each recipient, DATA, stream the content with dot-stuffing (or
 * BDAT chunks, when the upstream offers CHUNKING), read the final reply
 * (one per recipient with LMTP) and map it to our reply. Commands are sent
 * one at a time: a relay sends few commands per message and stepping
 * through them keeps every reply tied to its command (BDAT chunks aside).
 * Which ESMTP parameters go on MAIL and RCPT, and which messages an
 * upstream cannot take, is decided in relay-extensions.c; how the
 * upstream's certificate is checked, in relay-tls.c.
 *
 * A message is only answered 250 when the upstream accepted it for every
 * recipient. When the upstream accepts some recipients and refuses others
 * the message is not sent at all (SMTP) or, with LMTP, answered with the
 * worst class, so the client retries (or bounces) the whole message: a
 * retry may duplicate a copy, but no recipient is ever lost silently.
 *
 * Cancellation: the pending reply's GCancellable (vsmtp_reply_get_cancellable())
 * is cancelled when the session no longer wants the answer: the client left,
 * the decision deadline passed (the client got 451 4.3.0), or the session
 * was closed. The client was not told the message was accepted and will send
 * it again, so the relay stops as early as it can and never starts what
 * would hand the message over. From the main loop (on_cancel_idle) it
 * cancels the upstream operation in flight; the step's callback then ends
 * the transaction (transaction_stop_cancelled), logging one INFO line:
 *
 * - before the content (connecting, greeting, EHLO, STARTTLS, MAIL, RCPT,
 *   waiting for the 354): no DATA and no content is sent. A connection
 *   whose last reply was read gets RSET and goes back to the idle ones
 *   only after its 250; one whose reply was still awaited gets QUIT and is
 *   closed; one in the middle of something (connecting, before its
 *   greeting, the TLS handshake, after DATA) is closed without a word;
 * - while the content is streamed: the connection is closed WITHOUT the
 *   final dot (inside DATA every byte is content: there is no other way to
 *   abort) and never reused, so the upstream discards the message;
 * - once the write carrying the final dot has begun: the upstream may
 *   accept the message and it cannot be taken back. The relay reads the
 *   upstream's verdict as usual and, when it is 2xx, logs that the message
 *   was accepted upstream after the client left: the client may send it
 *   again, a duplicate. This is the one unavoidable case.
 */

#define DEFAULT_SMTP_PORT  25
#define DEFAULT_LMTP_PORT  24
#define DEFAULT_TIMEOUT    30    /* seconds, per network step */
#define DEFAULT_MAX_IDLE   2
#define IDLE_SECONDS       5     /* an idle connection is closed after this */
#define MAX_REPLY_BYTES    (64 * 1024)
#define MAX_TEXT_LENGTH    200
#define BODY_CHUNK         (64 * 1024)
#define BDAT_IN_FLIGHT     32    /* chunks sent before their replies are read */

typedef enum {
  STARTTLS_NO,
  STARTTLS_OPPORTUNISTIC,
  STARTTLS_REQUIRED,
} StarttlsMode;

#define VSMTPD_TYPE_RELAY_PLUGIN (vsmtpd_relay_plugin_get_type ())
G_DECLARE_FINAL_TYPE (VsmtpdRelayPlugin, vsmtpd_relay_plugin, VSMTPD, RELAY_PLUGIN, VsmtpPlugin)

struct _VsmtpdRelayPlugin
{
  VsmtpPlugin       parent_instance;

  gulong        new_session_id;

  /* [relay] */
  char         *host;
  guint16       port;
  gboolean      lmtp;
  StarttlsMode  starttls;
  char         *helo_name;
  guint         timeout;
  gboolean      tls_verify;
  RelayTls      tls_settings;   /* tls-ca-file, tls-server-name */
  guint         max_idle;
  char         *config_error;   /* non-NULL: every message gets 451 4.3.5 */

  GQueue        idle;           /* Upstream *, most recently used first */
  guint64       next_serial;

  VsmtpMetric  *deliveries;         /* the server's vsmtp_deliveries_total */
  VsmtpMetric  *upstream_replies;   /* vsmtp_relay_upstream_replies_total */
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (VsmtpdRelayPlugin, vsmtpd_relay_plugin, VSMTP_TYPE_PLUGIN,
                                G_TYPE_FLAG_FINAL, {})

/* ------------------------------------------------------------------------ */
/* Upstream replies                                                         */
/* ------------------------------------------------------------------------ */

typedef struct
{
  guint      code;
  char      *enhanced_code;   /* NULL when the upstream gave none (or a bad one) */
  char      *text;            /* the lines' texts joined by spaces, sanitized */
  GPtrArray *lines;           /* each line's text after "ddd-", for EHLO */
} UpstreamReply;

static void
upstream_reply_free (UpstreamReply *reply)
{
  g_free (reply->enhanced_code);
  g_free (reply->text);
  g_ptr_array_unref (reply->lines);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UpstreamReply, upstream_reply_free)

/* RFC 3463: class "." subject "." detail; subject and detail 1 to 3 digits.
 * Returns the length of the code at @p, 0 if there is none. */
static gsize
enhanced_code_length (const char *p,
                      char        klass)
{
  const char *start = p;

  if (*p != klass || p[1] != '.')
    return 0;
  p += 2;

  for (guint part = 0; part < 2; part++)
    {
      guint n = 0;

      while (g_ascii_isdigit (*p) && n < 4)
        {
          p++;
          n++;
        }
      if (n == 0 || n > 3)
        return 0;
      if (part == 0)
        {
          if (*p != '.')
            return 0;
          p++;
        }
    }

  if (*p != '\0' && *p != ' ')
    return 0;

  return p - start;
}

/* Printable ASCII only, at most MAX_TEXT_LENGTH bytes. */
static void
append_sanitized (GString    *out,
                  const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (out->len >= MAX_TEXT_LENGTH)
        {
          g_string_append (out, "...");
          return;
        }
      g_string_append_c (out, (*p >= 0x20 && *p < 0x7f) ? *p : '?');
    }
}

/* Parses one complete reply at the start of @buffer and removes it.
 * Returns TRUE with @out set when a reply was parsed, TRUE with @error set
 * when the bytes are not a reply, FALSE when more bytes are needed. */
static gboolean
parse_reply (GByteArray     *buffer,
             UpstreamReply **out,
             GError        **error)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  const char *data = (const char *) buffer->data;
  gsize pos = 0;
  guint code = 0;

  while (pos < buffer->len)
    {
      const char *nl = memchr (data + pos, '\n', buffer->len - pos);
      gsize end;
      gboolean last;

      if (nl == NULL)
        break;

      end = nl - data;
      if (end > pos && data[end - 1] == '\r')
        end--;

      if (end - pos < 3 ||
          !g_ascii_isdigit (data[pos]) || !g_ascii_isdigit (data[pos + 1]) ||
          !g_ascii_isdigit (data[pos + 2]) ||
          (end - pos > 3 && data[pos + 3] != ' ' && data[pos + 3] != '-') ||
          memchr (data + pos, '\0', end - pos) != NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "Malformed reply from upstream");
          return TRUE;
        }

      {
        guint line_code = g_ascii_digit_value (data[pos]) * 100 +
                          g_ascii_digit_value (data[pos + 1]) * 10 +
                          g_ascii_digit_value (data[pos + 2]);

        if ((lines->len > 0 && line_code != code) || line_code < 200 || line_code > 599)
          {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                         "Malformed reply from upstream (code %u)", line_code);
            return TRUE;
          }
        code = line_code;
      }

      last = end - pos == 3 || data[pos + 3] == ' ';
      g_ptr_array_add (lines, end - pos > 4 ? g_strndup (data + pos + 4, end - pos - 4)
                                            : g_strdup (""));
      pos = nl - data + 1;

      if (last)
        {
          UpstreamReply *reply = g_new0 (UpstreamReply, 1);
          GString *text = g_string_new (NULL);
          char klass = '0' + code / 100;

          for (guint i = 0; i < lines->len; i++)
            {
              const char *line = g_ptr_array_index (lines, i);
              gsize n = enhanced_code_length (line, klass);

              if (n > 0 && reply->enhanced_code == NULL)
                reply->enhanced_code = g_strndup (line, n);
              line += n;
              while (*line == ' ')
                line++;
              if (*line == '\0')
                continue;
              if (text->len > 0)
                g_string_append_c (text, ' ');
              append_sanitized (text, line);
            }

          reply->code = code;
          reply->text = g_string_free (text, FALSE);
          reply->lines = g_steal_pointer (&lines);
          g_byte_array_remove_range (buffer, 0, pos);
          *out = reply;
          return TRUE;
        }
    }

  if (buffer->len > MAX_REPLY_BYTES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "Reply from upstream too long");
      return TRUE;
    }

  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Upstream connections                                                     */
/* ------------------------------------------------------------------------ */

typedef struct
{
  grefcount          ref_count;
  guint64            serial;
  VsmtpdRelayPlugin *pool;         /* unowned, set while idle in the pool */

  GSocketConnection *socket;
  GIOStream         *stream;       /* the socket, or the TLS connection over it */
  GByteArray        *input_buffer;
  guint8             read_buffer[8192];
  GCancellable      *cancellable;
  GSource           *deadline;
  guint              timeout;
  gboolean           timed_out;
  gboolean           closing;      /* broken or told to close (421) */
  gboolean           half_written; /* a command's write was cut off: none may follow */

  gboolean           tls;
  gboolean           unverified;   /* TLS with a certificate accepted unchecked */
  gboolean           esmtp;
  RelayCaps          caps;         /* what its EHLO/LHLO reply offered */

  GSource           *idle_watch;
  GSource           *idle_timer;
  guint              n_messages;
  VsmtpMetric       *replies;      /* the plugin's upstream_replies, or NULL */
} Upstream;

static Upstream *
upstream_ref (Upstream *up)
{
  g_ref_count_inc (&up->ref_count);
  return up;
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
upstream_unref (Upstream *up)
{
  if (!g_ref_count_dec (&up->ref_count))
    return;

  clear_source (&up->deadline);
  clear_source (&up->idle_watch);
  clear_source (&up->idle_timer);
  g_clear_object (&up->stream);
  g_clear_object (&up->socket);
  g_clear_object (&up->cancellable);
  g_byte_array_unref (up->input_buffer);
  g_clear_object (&up->replies);
  g_free (up);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Upstream, upstream_unref)

static Upstream *
upstream_new (guint64 serial,
              guint   timeout)
{
  Upstream *up = g_new0 (Upstream, 1);

  g_ref_count_init (&up->ref_count);
  up->serial = serial;
  up->timeout = timeout;
  up->cancellable = g_cancellable_new ();
  up->input_buffer = g_byte_array_new ();

  return up;
}

static gboolean
on_deadline (gpointer user_data)
{
  Upstream *up = user_data;

  g_debug ("relay: upstream connection %" G_GUINT64_FORMAT " timed out", up->serial);
  up->timed_out = TRUE;
  up->closing = TRUE;
  g_clear_pointer (&up->deadline, g_source_unref);
  g_cancellable_cancel (up->cancellable);

  return G_SOURCE_REMOVE;
}

/* Every network step gets [relay] timeout seconds. */
static void
upstream_arm (Upstream *up)
{
  clear_source (&up->deadline);
  up->deadline = g_timeout_source_new_seconds (up->timeout);
  g_source_set_callback (up->deadline, on_deadline, up, NULL);
  g_source_set_static_name (up->deadline, "[vsmtpd-relay] upstream deadline");
  g_source_attach (up->deadline, g_main_context_get_thread_default ());
}

static void
upstream_disarm (Upstream *up)
{
  clear_source (&up->deadline);
}

/* Turns the cancellation caused by the deadline into a timeout error. */
static void
upstream_fix_error (Upstream  *up,
                    GError   **error)
{
  if (*error == NULL)
    return;

  up->closing = TRUE;
  if (up->timed_out && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "Upstream timed out after %u s", up->timeout);
    }
}

static void
on_quit_closed (GObject      *source_object,
                GAsyncResult *result,
                gpointer      user_data)
{
  /* the reference the close held */
  g_io_stream_close_finish (G_IO_STREAM (source_object), result, NULL);
  upstream_unref (user_data);
}

static void
on_quit_written (GObject      *source_object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Upstream *up = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source_object), result, NULL, NULL);
  g_io_stream_close_async (up->stream, G_PRIORITY_DEFAULT, NULL, on_quit_closed, up);
}

/* Closes the connection: politely (QUIT) when it is in a sane state,
 * abruptly otherwise. Takes @up (transfer full). */
static void
upstream_close (Upstream *up)
{
  clear_source (&up->deadline);
  clear_source (&up->idle_watch);
  clear_source (&up->idle_timer);
  up->pool = NULL;

  if (up->stream == NULL)
    {
      upstream_unref (up);
      return;
    }

  g_debug ("relay: closing upstream connection %" G_GUINT64_FORMAT " after %u message(s)",
           up->serial, up->n_messages);

  if (up->closing || g_io_stream_has_pending (up->stream))
    {
      /* Closing the socket ends any operation still in flight. */
      g_io_stream_close (G_IO_STREAM (up->socket), NULL, NULL);
      upstream_unref (up);
      return;
    }

  g_output_stream_write_all_async (g_io_stream_get_output_stream (up->stream),
                                   "QUIT\r\n", 6, G_PRIORITY_DEFAULT, NULL,
                                   on_quit_written, up);
}

/* Reading one reply, with or without sending a command first ------------- */

typedef struct
{
  Upstream *up;
  char     *line;
} CommandData;

static void
command_data_free (CommandData *data)
{
  upstream_unref (data->up);
  g_free (data->line);
  g_free (data);
}

static void read_reply_step (GTask *task);

static void
on_reply_read (GObject      *source_object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CommandData *data = g_task_get_task_data (task);
  Upstream *up = data->up;
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source_object), result, &error);
  if (n < 0)
    {
      upstream_fix_error (up, &error);
      upstream_disarm (up);
      g_task_return_error (task, error);
      return;
    }
  if (n == 0)
    {
      up->closing = TRUE;
      upstream_disarm (up);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               "Upstream closed the connection");
      return;
    }

  g_byte_array_append (up->input_buffer, up->read_buffer, n);
  read_reply_step (g_steal_pointer (&task));
}

/* Takes @task (transfer full). */
static void
read_reply_step (GTask *task)
{
  CommandData *data = g_task_get_task_data (task);
  Upstream *up = data->up;
  UpstreamReply *reply = NULL;
  GError *error = NULL;

  if (parse_reply (up->input_buffer, &reply, &error))
    {
      upstream_disarm (up);
      if (error != NULL)
        {
          up->closing = TRUE;
          g_task_return_error (task, error);
        }
      else
        {
          if (reply->code == 421)
            up->closing = TRUE;
          if (up->replies != NULL)
            {
              char code[4];

              g_snprintf (code, sizeof code, "%u", reply->code);
              vsmtp_metric_inc (up->replies, (const char *[]) { code, NULL });
            }
          g_task_return_pointer (task, reply, (GDestroyNotify) upstream_reply_free);
        }
      g_object_unref (task);
      return;
    }

  g_input_stream_read_async (g_io_stream_get_input_stream (up->stream),
                             up->read_buffer, sizeof up->read_buffer,
                             G_PRIORITY_DEFAULT, up->cancellable,
                             on_reply_read, task);
}

static void
on_command_written (GObject      *source_object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GTask *task = user_data;
  CommandData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source_object), result, NULL, &error))
    {
      data->up->half_written = TRUE;
      upstream_fix_error (data->up, &error);
      upstream_disarm (data->up);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  read_reply_step (task);
}

/* Sends @line (without CRLF; NULL to send nothing) and reads one reply. */
static void
upstream_command_async (Upstream            *up,
                        const char          *line,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  GTask *task;
  CommandData *data;

  data = g_new0 (CommandData, 1);
  data->up = upstream_ref (up);

  task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, upstream_command_async);
  g_task_set_task_data (task, data, (GDestroyNotify) command_data_free);

  upstream_arm (up);

  if (line == NULL)
    {
      read_reply_step (task);
      return;
    }

  g_debug ("relay: %" G_GUINT64_FORMAT " >>> %s", up->serial, line);
  data->line = g_strconcat (line, "\r\n", NULL);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (up->stream),
                                   data->line, strlen (data->line),
                                   G_PRIORITY_DEFAULT, up->cancellable,
                                   on_command_written, task);
}

static UpstreamReply *
upstream_command_finish (GAsyncResult  *result,
                         GError       **error)
{
  UpstreamReply *reply = g_task_propagate_pointer (G_TASK (result), error);

  if (reply != NULL)
    g_debug ("relay: <<< %u %s", reply->code, reply->text);

  return reply;
}

static void
upstream_parse_extensions (Upstream      *up,
                           UpstreamReply *reply)
{
  up->esmtp = TRUE;
  up->caps = relay_caps_parse (reply->lines);
}

/* The pool of idle connections ------------------------------------------ */

static void
pool_remove (Upstream *up)
{
  VsmtpdRelayPlugin *self = up->pool;

  if (self == NULL)
    return;

  g_queue_remove (&self->idle, up);
  up->pool = NULL;
  clear_source (&up->idle_watch);
  clear_source (&up->idle_timer);
}

static gboolean
on_idle_timeout (gpointer user_data)
{
  Upstream *up = user_data;

  g_clear_pointer (&up->idle_timer, g_source_unref);
  pool_remove (up);
  upstream_close (up);

  return G_SOURCE_REMOVE;
}

/* An idle connection has nothing to say. When it becomes readable the
 * upstream closed it or sent something (a 421 on its own timeout): drop it.
 * TLS records that carry no data (session tickets) read as "would block". */
static gboolean
on_idle_readable (GObject  *stream,
                  gpointer  user_data)
{
  Upstream *up = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream),
                                                up->read_buffer, sizeof up->read_buffer,
                                                NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;

  g_debug ("relay: idle upstream connection %" G_GUINT64_FORMAT " %s",
           up->serial, n == 0 ? "closed by the upstream" : "spoke unasked");
  g_clear_pointer (&up->idle_watch, g_source_unref);
  up->closing = TRUE;
  pool_remove (up);
  upstream_close (up);

  return G_SOURCE_REMOVE;
}

/* Takes @up (transfer full): keeps it for the next message or closes it. */
static void
pool_put (VsmtpdRelayPlugin *self,
          Upstream          *up)
{
  GInputStream *input;

  if (up->closing || self->max_idle == 0 || up->input_buffer->len > 0 ||
      g_queue_get_length (&self->idle) >= self->max_idle)
    {
      upstream_close (up);
      return;
    }

  input = g_io_stream_get_input_stream (up->stream);
  if (!G_IS_POLLABLE_INPUT_STREAM (input) ||
      !g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (input)))
    {
      upstream_close (up);
      return;
    }

  up->pool = self;
  up->idle_watch = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (input), NULL);
  g_source_set_callback (up->idle_watch, G_SOURCE_FUNC (on_idle_readable), up, NULL);
  g_source_set_static_name (up->idle_watch, "[vsmtpd-relay] idle upstream");
  g_source_attach (up->idle_watch, g_main_context_get_thread_default ());

  up->idle_timer = g_timeout_source_new_seconds (IDLE_SECONDS);
  g_source_set_callback (up->idle_timer, on_idle_timeout, up, NULL);
  g_source_set_static_name (up->idle_timer, "[vsmtpd-relay] idle timeout");
  g_source_attach (up->idle_timer, g_main_context_get_thread_default ());

  g_queue_push_head (&self->idle, up);
}

/* Returns (transfer full) an idle connection, or NULL. */
static Upstream *
pool_take (VsmtpdRelayPlugin *self)
{
  Upstream *up = g_queue_peek_head (&self->idle);

  if (up != NULL)
    pool_remove (up);

  return up;
}

static void
pool_clear (VsmtpdRelayPlugin *self)
{
  Upstream *up;

  while ((up = pool_take (self)) != NULL)
    upstream_close (up);
}

typedef struct
{
  VsmtpdRelayPlugin *self;
  Upstream          *up;
} ResetData;

static void
on_reset_for_pool (GObject      *source_object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ResetData *data = user_data;
  g_autoptr(UpstreamReply) reply = NULL;

  reply = upstream_command_finish (result, NULL);
  if (reply == NULL || reply->code != 250)
    data->up->closing = TRUE;

  pool_put (data->self, data->up);
  g_object_unref (data->self);
  g_free (data);
}

/* Takes @up (transfer full): RSET, then back to the pool if that worked. */
static void
pool_reset_and_put (VsmtpdRelayPlugin *self,
                    Upstream          *up)
{
  ResetData *data;

  if (up->closing)
    {
      upstream_close (up);
      return;
    }

  data = g_new0 (ResetData, 1);
  data->self = g_object_ref (self);
  data->up = up;
  upstream_command_async (up, "RSET", on_reset_for_pool, data);
}

/* ------------------------------------------------------------------------ */
/* One message                                                              */
/* ------------------------------------------------------------------------ */

typedef struct
{
  VsmtpdRelayPlugin *self;
  VsmtpReply        *reply;
  VsmtpMessage      *message;
  VsmtpEnvelope     *envelope;
  char              *session_id;

  Upstream          *up;
  gboolean           reused;
  gboolean           helo_fallback;

  /* The reply's cancellable: the session no longer wants the answer */
  GCancellable      *cancellable;
  gulong             cancelled_id;
  GSource           *cancel_source;
  gboolean           cancelled;
  char               step[16];      /* what the transaction waits for */

  guint              n_recipients;
  guint              rcpt_index;
  GPtrArray         *replies;       /* UpstreamReply *, one per recipient */

  GInputStream      *body;
  guint8            *chunk;
  GByteArray        *out;
  gboolean           at_line_start;
  guint8             last[2];
  guint64            body_bytes;

  /* What the message asks of the upstream (relay-extensions.c) */
  RelayNeeds         needs;

  /* BDAT: the chunk read but not sent yet (the next read tells whether it
   * is the LAST), replies still to read for chunks sent pipelined, and the
   * first refusal among them */
  GByteArray        *pending;
  guint              bdat_outstanding;
  UpstreamReply     *chunk_refusal;
} Transaction;

static void
transaction_free (Transaction *tx)
{
  if (tx->cancelled_id != 0)
    g_cancellable_disconnect (tx->cancellable, tx->cancelled_id);
  g_clear_object (&tx->cancellable);
  clear_source (&tx->cancel_source);
  g_clear_pointer (&tx->up, upstream_unref);
  g_clear_object (&tx->reply);
  g_clear_object (&tx->message);
  g_clear_object (&tx->envelope);
  g_free (tx->session_id);
  g_ptr_array_unref (tx->replies);
  g_clear_object (&tx->body);
  g_free (tx->chunk);
  if (tx->out != NULL)
    g_byte_array_unref (tx->out);
  if (tx->pending != NULL)
    g_byte_array_unref (tx->pending);
  g_clear_pointer (&tx->chunk_refusal, upstream_reply_free);
  g_clear_object (&tx->self);
  g_free (tx);
}

static void transaction_connect (Transaction *tx);
static void transaction_mail (Transaction *tx);
static void transaction_greet (Transaction *tx);

/* TLS per message: REQUIRETLS asks for TLS with a verified certificate
 * whatever [relay] starttls and tls-verify say (relay_needs_check () then
 * refuses the message with 5.7.30 where it did not get them); a
 * "TLS-Required: No" header field waives the relay's own policy, so that
 * neither starttls=required nor tls-verify stops the message. */
static gboolean
transaction_wants_tls (Transaction *tx)
{
  return tx->self->starttls != STARTTLS_NO || tx->needs.requiretls;
}

static gboolean
transaction_policy_requires_tls (Transaction *tx)
{
  return tx->self->starttls == STARTTLS_REQUIRED && !tx->needs.tls_required_no;
}

static gboolean
transaction_verifies (Transaction *tx)
{
  return tx->needs.requiretls || (tx->self->tls_verify && !tx->needs.tls_required_no);
}

/* Whether an idle connection, greeted for another message, is good for
 * this one: not when this one needs TLS or a verified certificate that
 * the connection lacks. */
static gboolean
transaction_can_reuse (Transaction *tx,
                       Upstream    *up)
{
  if (!up->tls)
    return !tx->needs.requiretls && !transaction_policy_requires_tls (tx) &&
           !(transaction_wants_tls (tx) && (up->caps & RELAY_CAP_STARTTLS));
  return !up->unverified || !transaction_verifies (tx);
}

/* Sends our answer to the client, logs it and ends the transaction.
 * @verdict is what the log line says the upstream answered (its reply as
 * it came, for a message it took); NULL: our reply to the client, which
 * already carries the upstream's text for a refusal. */
static void
transaction_answer_full (Transaction *tx,
                         guint        code,
                         const char  *enhanced_code,
                         const char  *text,
                         const char  *verdict)
{
  const char *id = vsmtp_message_get_id (tx->message);
  g_autofree char *ours = NULL;

  if (verdict == NULL)
    verdict = ours = g_strdup_printf ("%u %s %s", code, enhanced_code, text);
  if (tx->self->deliveries != NULL)
    vsmtp_metric_inc (tx->self->deliveries,
                      (const char *[]) { "relay", code >= 500 ? "5xx" : code >= 400 ? "4xx" : "2xx",
                                         NULL });

  if (code / 100 == 2)
    g_info ("relay: %s: message %s relayed to %s:%u: %s",
            tx->session_id, id, tx->self->host, tx->self->port, verdict);
  else
    g_info ("relay: %s: message %s not relayed: %s", tx->session_id, id, verdict);

  /* Only after the final dot: before it a cancellation stops the
   * transaction (transaction_stop_cancelled) and nothing is answered. */
  if (!vsmtp_reply_complete (tx->reply, code, enhanced_code, text))
    {
      if (code / 100 == 2)
        g_info ("relay: %s: message %s was accepted upstream after the client left (or "
                "its decision deadline passed): the client may send it again (duplicate)",
                tx->session_id, id);
      else
        g_info ("relay: %s: message %s: the client left (or its decision deadline passed) "
                "before the upstream's verdict after the data: %s",
                tx->session_id, id, verdict);
    }

  transaction_free (tx);
}

static void
transaction_answer (Transaction *tx,
                    guint        code,
                    const char  *enhanced_code,
                    const char  *text)
{
  transaction_answer_full (tx, code, enhanced_code, text, NULL);
}

/* Gives the connection back after a complete transaction (or a refused one,
 * after RSET) and answers the client. */
static void
transaction_release (Transaction *tx,
                     gboolean     reset)
{
  Upstream *up = g_steal_pointer (&tx->up);

  if (up == NULL)
    return;

  if (reset)
    pool_reset_and_put (tx->self, up);
  else
    pool_put (tx->self, up);
}

/* A network or protocol failure: never a 5xx. */
static void
transaction_fail (Transaction *tx,
                  const char  *enhanced_code,
                  const char  *what,
                  GError      *error)
{
  g_autofree char *text = NULL;

  text = g_strdup_printf ("Error: %s%s%s", what,
                          error != NULL ? ": " : "",
                          error != NULL ? error->message : "");
  if (tx->up != NULL)
    {
      tx->up->closing = TRUE;
      upstream_close (g_steal_pointer (&tx->up));
    }
  transaction_answer (tx, 451, enhanced_code, text);
}

/* Maps an upstream refusal to our reply: same class, same code and enhanced
 * code when they are well formed, the upstream's text after "upstream: ".
 * With @transient, a 5xx becomes a 4xx (some recipients were fine). */
static void
transaction_refuse (Transaction   *tx,
                    UpstreamReply *reply,
                    gboolean       transient,
                    gboolean       reset)
{
  guint klass = reply->code / 100;
  guint code = reply->code;
  g_autofree char *enhanced_code = NULL;
  g_autofree char *text = NULL;

  /* a 3xx where it makes no sense is a transient failure too */
  if ((transient && klass == 5) || (klass != 4 && klass != 5))
    {
      klass = 4;
      code = 451;
    }
  if (klass == 4 && (code == 421 || code % 100 > 59))
    code = 451;
  if (klass == 5 && code % 100 > 59)
    code = 554;

  if (reply->enhanced_code != NULL)
    enhanced_code = g_strdup_printf ("%u%s", klass, reply->enhanced_code + 1);
  else
    enhanced_code = g_strdup_printf ("%u.0.0", klass);

  text = g_strdup_printf ("upstream: %s", reply->text[0] != '\0' ? reply->text : "no text");

  transaction_release (tx, reset);
  transaction_answer (tx, code, enhanced_code, text);
}

/* The replies of the recipients (RCPT, or LMTP's after the data): all 2xx,
 * or the worst class for the whole message. Returns the reply to refuse
 * with and whether it must become a 4xx, or NULL when all were accepted. */
static UpstreamReply *
worst_reply (GPtrArray *replies,
             gboolean  *transient)
{
  UpstreamReply *first_4xx = NULL;
  UpstreamReply *first_5xx = NULL;
  guint n_ok = 0;

  for (guint i = 0; i < replies->len; i++)
    {
      UpstreamReply *reply = g_ptr_array_index (replies, i);

      if (reply->code / 100 == 2)
        n_ok++;
      else if (reply->code / 100 == 5)
        first_5xx = first_5xx != NULL ? first_5xx : reply;
      else
        first_4xx = first_4xx != NULL ? first_4xx : reply;
    }

  *transient = FALSE;
  if (first_4xx != NULL)
    return first_4xx;
  if (first_5xx != NULL)
    {
      /* 5xx for the message only if no recipient was fine */
      *transient = n_ok > 0;
      return first_5xx;
    }
  return NULL;
}

/* Cancellation ----------------------------------------------------------- */

#define STEP_CONNECT   "connect"
#define STEP_GREETING  "greeting"
#define STEP_HANDSHAKE "TLS handshake"
#define STEP_CONTENT   "content"
#define STEP_FINAL     "final reply"

typedef enum {
  STOP_RESET,   /* RSET, back to the idle connections after its 250 */
  STOP_QUIT,    /* QUIT and close */
  STOP_ABORT,   /* close without a word */
} StopMode;

static void
transaction_set_step (Transaction *tx,
                      const char  *step)
{
  g_strlcpy (tx->step, step, sizeof tx->step);
}

/* Sends @line (the step is its verb) or, with NULL, reads the greeting. */
static void
transaction_command (Transaction         *tx,
                     const char          *line,
                     GAsyncReadyCallback  callback)
{
  if (line == NULL)
    transaction_set_step (tx, STEP_GREETING);
  else
    {
      gsize n = strcspn (line, " :");

      g_strlcpy (tx->step, line, MIN (n + 1, sizeof tx->step));
    }
  upstream_command_async (tx->up, line, callback, tx);
}

/* How a connection can be left when a step ended with @reply (NULL when it
 * failed with @error, or when it was a step without a reply: connect, TLS
 * handshake). */
static StopMode
stop_mode (Transaction   *tx,
           UpstreamReply *reply,
           const GError  *error)
{
  Upstream *up = tx->up;
  /* our own cancellation of a read; the deadline's is a timeout error */
  gboolean aborted = error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  gboolean ok = reply != NULL || error == NULL;

  if (g_str_equal (tx->step, STEP_CONTENT) || up->half_written || up->timed_out)
    return STOP_ABORT;
  if (!ok && !aborted)
    return STOP_ABORT;    /* a real failure: the connection is broken */

  if (g_str_equal (tx->step, STEP_GREETING))
    return reply != NULL ? STOP_QUIT : STOP_ABORT;      /* no early talking */
  if (g_str_equal (tx->step, STEP_CONNECT))
    return STOP_ABORT;                                   /* not even greeted */
  if (g_str_equal (tx->step, STEP_HANDSHAKE))
    return ok ? STOP_QUIT : STOP_ABORT;                  /* not greeted again yet */
  if (g_str_equal (tx->step, "STARTTLS"))
    return reply != NULL && reply->code != 220 ? STOP_RESET : STOP_ABORT;
  if (g_str_equal (tx->step, "DATA"))
    return reply != NULL && reply->code != 354 ? STOP_RESET : STOP_ABORT;
  if (g_str_equal (tx->step, "EHLO") || g_str_equal (tx->step, "LHLO") ||
      g_str_equal (tx->step, "HELO"))
    return reply != NULL && reply->code / 100 == 2 ? STOP_RESET : STOP_QUIT;
  /* MAIL, RCPT, RSET: a reply keeps the connection in step, else a QUIT
   * follows the command whose reply we no longer wait for */
  return reply != NULL ? STOP_RESET : STOP_QUIT;
}

/* Called first by every step before the final dot: when the session no
 * longer wants the answer, ends the transaction without going on (no DATA,
 * no more content, never the final dot), leaves the upstream connection as
 * well as it can, logs it once and returns TRUE. */
static gboolean
transaction_stop_cancelled (Transaction   *tx,
                            UpstreamReply *reply,
                            const GError  *error)
{
  const char *id = vsmtp_message_get_id (tx->message);
  Upstream *up;
  const char *what;

  if (!tx->cancelled)
    return FALSE;

  if (tx->self->deliveries != NULL)
    vsmtp_metric_inc (tx->self->deliveries, (const char *[]) { "relay", "cancelled", NULL });
  up = tx->up;

  if (up == NULL || up->stream == NULL)
    {
      what = "no connection to the upstream yet";
      g_clear_pointer (&tx->up, upstream_unref);
    }
  else
    {
      StopMode mode = stop_mode (tx, reply, error);

      tx->up = NULL;

      if (mode != STOP_ABORT && !up->timed_out)
        {
          /* it was cancelled by us (on_cancel_idle), not broken */
          g_cancellable_reset (up->cancellable);
          if (reply == NULL)
            up->closing = FALSE;
        }

      switch (mode)
        {
        case STOP_RESET:
          what = "RSET sent, the connection is reused after its 250";
          pool_reset_and_put (tx->self, up);
          break;
        case STOP_QUIT:
          what = "QUIT sent, connection closed";
          upstream_close (up);
          break;
        case STOP_ABORT:
        default:
          what = "connection closed";
          up->closing = TRUE;
          upstream_close (up);
          break;
        }
    }

  if (g_str_equal (tx->step, STEP_CONTENT))
    g_info ("relay: %s: message %s: cancelled (the client left, or the decision deadline "
            "passed, or the session was closed) while its content was being sent: upstream "
            "connection closed without %s, nothing relayed",
            tx->session_id, id, tx->pending != NULL ? "the BDAT LAST" : "the final dot");
  else
    g_info ("relay: %s: message %s: cancelled (the client left, or the decision deadline "
            "passed, or the session was closed) at the upstream's %s: %s; nothing relayed",
            tx->session_id, id, tx->step, what);

  transaction_free (tx);
  return TRUE;
}

/* After the session's cancellation, from the main loop: stops what is in
 * flight with the upstream, whose callback then ends the transaction. */
static gboolean
on_cancel_idle (gpointer user_data)
{
  Transaction *tx = user_data;

  g_clear_pointer (&tx->cancel_source, g_source_unref);

  /* After the final dot the message may be the upstream's already: wait
   * for its verdict (transaction_answer_full logs it) */
  if (!g_str_equal (tx->step, STEP_FINAL) && tx->up != NULL)
    g_cancellable_cancel (tx->up->cancellable);

  return G_SOURCE_REMOVE;
}

/* The reply's cancellable was cancelled: in the session's call, so only
 * note it and act from the main loop (a GCancellable's handler must not
 * disconnect itself, as transaction_free would). */
static void
on_reply_cancelled (GCancellable *cancellable,
                    gpointer      user_data)
{
  Transaction *tx = user_data;

  if (tx->cancelled)
    return;
  tx->cancelled = TRUE;
  tx->cancel_source = g_idle_source_new ();
  g_source_set_callback (tx->cancel_source, on_cancel_idle, tx, NULL);
  g_source_set_static_name (tx->cancel_source, "[vsmtpd-relay] cancelled");
  g_source_attach (tx->cancel_source, g_main_context_get_thread_default ());
}

/* The end of the message ------------------------------------------------- */

static void
transaction_done (Transaction *tx)
{
  UpstreamReply *first = g_ptr_array_index (tx->replies, 0);
  UpstreamReply *refusal;
  gboolean transient;
  g_autofree char *text = NULL;
  g_autoptr(GString) verdict = NULL;

  refusal = tx->chunk_refusal;
  transient = FALSE;
  if (refusal == NULL)
    refusal = worst_reply (tx->replies, &transient);
  if (refusal != NULL)
    {
      transaction_refuse (tx, refusal, transient, FALSE);
      return;
    }

  /* RFC 3461 5.2.2: a "relayed" notice is due; vsmtpd sends no notices
   * (docs/extensions.md, a known deviation): the log says so */
  if (tx->needs.dsn && !(tx->up->caps & RELAY_CAP_DSN))
    {
      g_info ("relay: %s: message %s: the upstream does not offer DSN: the DSN "
              "parameters were not passed on", tx->session_id,
              vsmtp_message_get_id (tx->message));
      for (guint i = 0; i < tx->n_recipients && tx->needs.notify_success; i++)
        if (relay_notify_success (tx->envelope, i))
          g_info ("relay: %s: message %s: <%s> asked for a notice (NOTIFY=SUCCESS): "
                  "a \"relayed\" notice is due, which vsmtpd does not send",
                  tx->session_id, vsmtp_message_get_id (tx->message),
                  vsmtp_address_to_string (vsmtp_envelope_get_recipient (tx->envelope, i)));
    }

  tx->up->n_messages++;
  text = g_strdup_printf ("Ok: relayed as %s", first->text[0] != '\0' ? first->text : "ok");

  /* The log line gives the upstream's reply once, as it came (its code and
   * enhanced code, and its text that may name its queue id); with LMTP the
   * first recipient's, and how many recipients the upstream accepted. */
  verdict = g_string_new (NULL);
  g_string_append_printf (verdict, "%u", first->code);
  if (first->enhanced_code != NULL)
    g_string_append_printf (verdict, " %s", first->enhanced_code);
  if (first->text[0] != '\0')
    g_string_append_printf (verdict, " %s", first->text);
  if (tx->self->lmtp && tx->replies->len > 1)
    g_string_append_printf (verdict, " (LMTP, %u recipients)", tx->replies->len);

  transaction_release (tx, FALSE);
  transaction_answer_full (tx, 250, "2.0.0", text, verdict->str);
}

static void
on_final_reply (GObject      *source_object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(GError) error = NULL;
  UpstreamReply *reply;

  reply = upstream_command_finish (result, &error);
  if (reply == NULL)
    {
      /* The upstream may have the message: the client retries, a copy may
       * be duplicated but none is lost. */
      transaction_fail (tx, "4.4.2", "no reply from upstream after the message", error);
      return;
    }

  /* BDAT: first the replies to the chunks sent before the LAST */
  if (tx->bdat_outstanding > 0)
    {
      tx->bdat_outstanding--;
      if (reply->code / 100 != 2 && tx->chunk_refusal == NULL)
        tx->chunk_refusal = reply;
      else
        upstream_reply_free (reply);
      upstream_command_async (tx->up, NULL, on_final_reply, tx);
      return;
    }

  g_ptr_array_add (tx->replies, reply);

  /* After a refused chunk an LMTP server may answer the LAST once or once
   * per recipient: read one, and do not reuse the connection */
  if (tx->chunk_refusal != NULL)
    {
      tx->up->closing = TRUE;
      transaction_done (tx);
      return;
    }

  /* LMTP: one reply per recipient, in the order of the RCPTs */
  if (tx->self->lmtp && tx->replies->len < tx->n_recipients)
    {
      upstream_command_async (tx->up, NULL, on_final_reply, tx);
      return;
    }

  transaction_done (tx);
}

/* Streaming the content -------------------------------------------------- */

static void body_read_next (Transaction *tx);

/* The end of a write of content (DATA or BDAT): FALSE when the transaction
 * ended (it was cancelled, when @may_stop, or the write failed). */
static gboolean
content_write_finish (Transaction  *tx,
                      GObject      *source_object,
                      GAsyncResult *result,
                      gboolean      may_stop)
{
  g_autoptr(GError) error = NULL;
  gboolean written;

  written = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source_object), result, NULL, &error);
  if (!written)
    upstream_fix_error (tx->up, &error);
  if (may_stop && transaction_stop_cancelled (tx, NULL, error))
    return FALSE;
  if (!written)
    {
      transaction_fail (tx, "4.4.2", "lost the upstream while sending the message", error);
      return FALSE;
    }

  return TRUE;
}

/* The end of a read of the message: its length, or -1 when the
 * transaction ended (cancelled, or the message could not be read). */
static gssize
content_read_finish (Transaction  *tx,
                     GObject      *source_object,
                     GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source_object), result, &error);
  if (transaction_stop_cancelled (tx, NULL, NULL))
    return -1;
  if (n < 0)
    {
      g_warning ("relay: %s: cannot read message %s: %s", tx->session_id,
                 vsmtp_message_get_id (tx->message), error->message);
      /* Never end a truncated message (final dot, BDAT LAST): drop the line */
      tx->up->closing = TRUE;
      transaction_fail (tx, "4.3.0", "cannot read the message", NULL);
      return -1;
    }

  return n;
}

static void
on_body_written (GObject      *source_object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Transaction *tx = user_data;

  if (!content_write_finish (tx, source_object, result, TRUE))
    return;

  upstream_disarm (tx->up);
  body_read_next (tx);
}

static void
on_end_written (GObject      *source_object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Transaction *tx = user_data;

  if (!content_write_finish (tx, source_object, result, FALSE))
    return;

  g_ptr_array_set_size (tx->replies, 0);
  upstream_command_async (tx->up, NULL, on_final_reply, tx);
}

/* Appends @data to tx->out with dot-stuffing: a "." at the start of a line
 * is doubled, so the content can never end the data early. */
static void
stuff_dots (Transaction  *tx,
            const guint8 *data,
            gsize         length)
{
  const guint8 *p = data;
  const guint8 *end = data + length;

  while (p < end)
    {
      const guint8 *nl;
      const guint8 *line_end;

      if (tx->at_line_start && *p == '.')
        g_byte_array_append (tx->out, (const guint8 *) ".", 1);

      nl = memchr (p, '\n', end - p);
      line_end = nl != NULL ? nl + 1 : end;
      g_byte_array_append (tx->out, p, line_end - p);
      tx->at_line_start = nl != NULL;
      p = line_end;
    }

  if (length >= 2)
    {
      tx->last[0] = data[length - 2];
      tx->last[1] = data[length - 1];
    }
  else if (length == 1)
    {
      tx->last[0] = tx->last[1];
      tx->last[1] = data[0];
    }
  tx->body_bytes += length;
}

static void
on_body_read (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Transaction *tx = user_data;
  GOutputStream *output;
  gssize n;

  n = content_read_finish (tx, source_object, result);
  if (n < 0)
    return;
  output = g_io_stream_get_output_stream (tx->up->stream);

  g_byte_array_set_size (tx->out, 0);
  upstream_arm (tx->up);

  if (n == 0)
    {
      /* From here on the message may become the upstream's */
      transaction_set_step (tx, STEP_FINAL);
      if (tx->body_bytes > 0 && (tx->last[0] != '\r' || tx->last[1] != '\n'))
        g_byte_array_append (tx->out, (const guint8 *) "\r\n", 2);
      g_byte_array_append (tx->out, (const guint8 *) ".\r\n", 3);
      g_output_stream_write_all_async (output, tx->out->data, tx->out->len,
                                       G_PRIORITY_DEFAULT, tx->up->cancellable,
                                       on_end_written, tx);
      return;
    }

  stuff_dots (tx, tx->chunk, n);
  g_output_stream_write_all_async (output, tx->out->data, tx->out->len,
                                   G_PRIORITY_DEFAULT, tx->up->cancellable,
                                   on_body_written, tx);
}

static void
body_read_next (Transaction *tx)
{
  g_input_stream_read_async (tx->body, tx->chunk, BODY_CHUNK, G_PRIORITY_DEFAULT,
                             NULL, on_body_read, tx);
}

/* The reply to @command (DATA, BDAT), or NULL when the transaction ended:
 * it was cancelled, or the upstream was lost. */
static UpstreamReply *
transaction_reply_finish (Transaction  *tx,
                          GAsyncResult *result,
                          const char   *command)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UpstreamReply) reply = upstream_command_finish (result, &error);

  if (transaction_stop_cancelled (tx, reply, error))
    return NULL;
  if (reply == NULL)
    {
      g_autofree char *what = g_strdup_printf ("lost the upstream at %s", command);

      transaction_fail (tx, "4.4.2", what, error);
      return NULL;
    }

  return g_steal_pointer (&reply);
}

/* Opens the content for DATA or BDAT; FALSE: the transaction failed. */
static gboolean
transaction_open_body (Transaction *tx)
{
  g_autoptr(GError) error = NULL;

  tx->body = vsmtp_message_open_stream (tx->message, &error);
  if (tx->body == NULL)
    {
      g_warning ("relay: %s: cannot open message %s: %s", tx->session_id,
                 vsmtp_message_get_id (tx->message), error->message);
      tx->up->closing = TRUE;
      transaction_fail (tx, "4.3.0", "cannot read the message", NULL);
      return FALSE;
    }

  transaction_set_step (tx, STEP_CONTENT);
  tx->chunk = g_malloc (BODY_CHUNK);
  tx->out = g_byte_array_sized_new (BODY_CHUNK + BODY_CHUNK / 8);
  return TRUE;
}

static void
on_data (GObject      *source_object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(UpstreamReply) reply = transaction_reply_finish (tx, result, "DATA");

  if (reply == NULL)
    return;
  if (reply->code != 354)
    {
      transaction_refuse (tx, reply, FALSE, reply->code / 100 != 3);
      return;
    }

  if (!transaction_open_body (tx))
    return;

  tx->at_line_start = TRUE;
  body_read_next (tx);
}

/* BDAT (RFC 3030), when the upstream offers CHUNKING: the content as it is
 * stored, in chunks of at most BODY_CHUNK bytes, no dot-stuffing, no
 * end-of-data line; the last chunk is sent with LAST (an empty message is
 * "BDAT 0 LAST"). One chunk is read ahead, so that the last one carries
 * LAST. With PIPELINING the chunks are sent without waiting for their
 * replies, which are read after the LAST, or one by one once BDAT_IN_FLIGHT
 * replies are waiting (so that an upstream whose replies we do not read
 * never blocks on writing them); without PIPELINING each chunk's reply is
 * awaited. A cancellation while chunks are sent closes the connection
 * before the LAST, so the upstream drops the transaction, as with DATA. */

static void bdat_read_next (Transaction *tx);

static void
on_bdat_reply (GObject      *source_object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(UpstreamReply) reply = transaction_reply_finish (tx, result, "BDAT");

  if (reply == NULL)
    return;
  tx->bdat_outstanding--;
  if (reply->code / 100 != 2)
    {
      /* The upstream's transaction failed: RSET, as RFC 3030 says; with
       * replies of pipelined chunks still to come, close instead */
      if (tx->bdat_outstanding > 0)
        tx->up->closing = TRUE;
      transaction_refuse (tx, reply, FALSE, tx->bdat_outstanding == 0);
      return;
    }

  bdat_read_next (tx);
}

static void
on_bdat_written (GObject      *source_object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Transaction *tx = user_data;
  /* after the LAST: the verdict is awaited whatever happens (on_end_written) */
  gboolean last = g_str_equal (tx->step, STEP_FINAL);

  if (!content_write_finish (tx, source_object, result, !last))
    return;

  if (last)
    {
      g_ptr_array_set_size (tx->replies, 0);
      upstream_command_async (tx->up, NULL, on_final_reply, tx);
      return;
    }

  tx->bdat_outstanding++;
  if (!(tx->up->caps & RELAY_CAP_PIPELINING) || tx->bdat_outstanding >= BDAT_IN_FLIGHT)
    {
      upstream_command_async (tx->up, NULL, on_bdat_reply, tx);
      return;
    }

  upstream_disarm (tx->up);
  bdat_read_next (tx);
}

static void
on_bdat_read (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Transaction *tx = user_data;
  gssize n;
  gboolean last;

  n = content_read_finish (tx, source_object, result);
  if (n < 0)
    return;

  if (n > 0 && tx->pending->len == 0)
    {
      g_byte_array_append (tx->pending, tx->chunk, n);
      bdat_read_next (tx);
      return;
    }

  last = n == 0;
  g_byte_array_set_size (tx->out, 0);
  {
    g_autofree char *command = g_strdup_printf ("BDAT %u%s\r\n", tx->pending->len,
                                                last ? " LAST" : "");

    g_debug ("relay: %" G_GUINT64_FORMAT " >>> BDAT %u%s", tx->up->serial,
             tx->pending->len, last ? " LAST" : "");
    g_byte_array_append (tx->out, (const guint8 *) command, strlen (command));
  }
  g_byte_array_append (tx->out, tx->pending->data, tx->pending->len);
  g_byte_array_set_size (tx->pending, 0);
  if (!last)
    g_byte_array_append (tx->pending, tx->chunk, n);
  else
    /* From here on the message may become the upstream's */
    transaction_set_step (tx, STEP_FINAL);

  upstream_arm (tx->up);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (tx->up->stream),
                                   tx->out->data, tx->out->len, G_PRIORITY_DEFAULT,
                                   tx->up->cancellable, on_bdat_written, tx);
}

static void
bdat_read_next (Transaction *tx)
{
  g_input_stream_read_async (tx->body, tx->chunk, BODY_CHUNK, G_PRIORITY_DEFAULT,
                             NULL, on_bdat_read, tx);
}

static void
transaction_bdat (Transaction *tx)
{
  if (!transaction_open_body (tx))
    return;

  tx->pending = g_byte_array_sized_new (BODY_CHUNK);
  tx->bdat_outstanding = 0;
  bdat_read_next (tx);
}

/* The envelope ----------------------------------------------------------- */

static char *
format_path (VsmtpAddress *address)
{
  if (address == NULL || vsmtp_address_is_null (address))
    return g_strdup ("<>");

  return g_strdup_printf ("<%s>", vsmtp_address_to_string (address));
}

static void transaction_rcpt (Transaction *tx);

static void
on_rcpt (GObject      *source_object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(GError) error = NULL;
  UpstreamReply *reply;
  UpstreamReply *refusal;
  gboolean transient;

  reply = upstream_command_finish (result, &error);
  if (transaction_stop_cancelled (tx, reply, error))
    {
      g_clear_pointer (&reply, upstream_reply_free);
      return;
    }
  if (reply == NULL)
    {
      transaction_fail (tx, "4.4.2", "lost the upstream at RCPT", error);
      return;
    }

  g_ptr_array_add (tx->replies, reply);
  if (reply->code == 421)
    {
      transaction_refuse (tx, reply, FALSE, FALSE);
      return;
    }

  if (++tx->rcpt_index < tx->n_recipients)
    {
      transaction_rcpt (tx);
      return;
    }

  /* All recipients or none: never deliver to part of them silently */
  refusal = worst_reply (tx->replies, &transient);
  if (refusal != NULL)
    {
      transaction_refuse (tx, refusal, transient, TRUE);
      return;
    }

  if (tx->up->esmtp && (tx->up->caps & RELAY_CAP_CHUNKING))
    transaction_bdat (tx);
  else
    transaction_command (tx, "DATA", on_data);
}

static void
transaction_rcpt (Transaction *tx)
{
  VsmtpAddress *recipient = vsmtp_envelope_get_recipient (tx->envelope, tx->rcpt_index);
  g_autofree char *path = format_path (recipient);
  g_autoptr(GString) line = g_string_new ("RCPT TO:");

  g_string_append (line, path);
  if (tx->up->esmtp)
    relay_append_rcpt_parameters (line, tx->up->caps, tx->envelope, tx->rcpt_index);
  transaction_command (tx, line->str, on_rcpt);
}

static void
on_mail (GObject      *source_object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(UpstreamReply) reply = NULL;

  reply = upstream_command_finish (result, &error);
  if (transaction_stop_cancelled (tx, reply, error))
    return;
  if (reply == NULL)
    {
      transaction_fail (tx, "4.4.2", "lost the upstream at MAIL", error);
      return;
    }
  if (reply->code / 100 != 2)
    {
      transaction_refuse (tx, reply, FALSE, TRUE);
      return;
    }

  tx->rcpt_index = 0;
  g_ptr_array_set_size (tx->replies, 0);
  transaction_rcpt (tx);
}

static void
transaction_mail (Transaction *tx)
{
  Upstream *up = tx->up;
  g_autofree char *path = format_path (vsmtp_envelope_get_sender (tx->envelope));
  GString *line;
  RelayRefusal refusal;

  /* What this upstream cannot take fails here, before MAIL: the
   * connection stays good for the next message */
  if (!relay_needs_check (&tx->needs, up->caps, up->esmtp, up->tls, !up->unverified,
                          &refusal))
    {
      transaction_release (tx, FALSE);
      transaction_answer (tx, refusal.code, refusal.enhanced_code, refusal.text);
      return;
    }

  line = g_string_new (NULL);
  g_string_append_printf (line, "MAIL FROM:%s", path);

  if (up->esmtp)
    relay_append_mail_parameters (line, &tx->needs, up->caps, tx->envelope,
                                  vsmtp_message_get_size (tx->message));

  transaction_command (tx, line->str, on_mail);
  g_string_free (line, TRUE);
}

/* Greeting, EHLO, STARTTLS ----------------------------------------------- */

static void
on_handshake (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source_object), result, &error))
    upstream_fix_error (tx->up, &error);
  else if (!relay_tls_check_peer (G_TLS_CONNECTION (source_object), transaction_verifies (tx),
                                  &tx->up->unverified, &error))
    tx->up->closing = TRUE;
  if (transaction_stop_cancelled (tx, NULL, error))
    return;
  if (error != NULL && tx->needs.requiretls &&
      g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
    {
      g_info ("relay: %s: message %s: REQUIRETLS and the upstream's certificate is not "
              "valid: %s", tx->session_id, vsmtp_message_get_id (tx->message), error->message);
      tx->up->closing = TRUE;
      upstream_close (g_steal_pointer (&tx->up));
      transaction_answer (tx, 550, "5.7.30",
                          "REQUIRETLS support required: the upstream's certificate is not valid");
      return;
    }
  if (error != NULL)
    {
      transaction_fail (tx, "4.4.2", "TLS handshake with the upstream failed", error);
      return;
    }

  upstream_disarm (tx->up);
  tx->up->tls = TRUE;
  g_debug ("relay: %" G_GUINT64_FORMAT " TLS established", tx->up->serial);

  /* RFC 3207: forget what was learned before TLS, greet again */
  transaction_greet (tx);
}

static void
on_starttls (GObject      *source_object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Transaction *tx = user_data;
  VsmtpdRelayPlugin *self = tx->self;
  Upstream *up = tx->up;
  g_autoptr(GError) error = NULL;
  g_autoptr(UpstreamReply) reply = NULL;
  GIOStream *tls;

  reply = upstream_command_finish (result, &error);
  if (transaction_stop_cancelled (tx, reply, error))
    return;
  if (reply == NULL)
    {
      transaction_fail (tx, "4.4.2", "lost the upstream at STARTTLS", error);
      return;
    }

  if (reply->code != 220)
    {
      /* (a REQUIRETLS message gets its 5.7.30 from transaction_mail) */
      if ((transaction_policy_requires_tls (tx) && !tx->needs.requiretls) ||
          reply->code == 421)
        {
          g_autofree char *text = g_strdup_printf ("Error: upstream refused STARTTLS: %u %s",
                                                   reply->code, reply->text);

          up->closing = reply->code == 421;
          upstream_close (g_steal_pointer (&tx->up));
          transaction_answer (tx, 451, "4.4.2", text);
          return;
        }
      transaction_mail (tx);
      return;
    }

  /* Bytes after "220" came before the handshake: not to be trusted */
  if (up->input_buffer->len > 0)
    {
      transaction_fail (tx, "4.4.2", "upstream sent data after its STARTTLS reply", NULL);
      return;
    }

  tls = relay_tls_client_new (&self->tls_settings, G_IO_STREAM (up->socket),
                              self->host, self->port, transaction_verifies (tx),
                              &up->unverified, &error);
  if (tls == NULL)
    {
      transaction_fail (tx, "4.4.2", "cannot start TLS", error);
      return;
    }

  g_set_object (&up->stream, tls);
  g_object_unref (tls);

  transaction_set_step (tx, STEP_HANDSHAKE);
  upstream_arm (up);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT,
                                    up->cancellable, on_handshake, tx);
}

static void
after_greeting (Transaction *tx)
{
  Upstream *up = tx->up;

  if (!up->tls && transaction_wants_tls (tx))
    {
      if (up->esmtp && (up->caps & RELAY_CAP_STARTTLS))
        {
          transaction_command (tx, "STARTTLS", on_starttls);
          return;
        }
      if (transaction_policy_requires_tls (tx) && !tx->needs.requiretls)
        {
          upstream_close (g_steal_pointer (&tx->up));
          transaction_answer (tx, 451, "4.4.2",
                              "Error: upstream does not offer STARTTLS, which is required");
          return;
        }
    }

  transaction_mail (tx);
}

static void
on_ehlo (GObject      *source_object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(UpstreamReply) reply = NULL;

  reply = upstream_command_finish (result, &error);
  if (transaction_stop_cancelled (tx, reply, error))
    return;
  if (reply == NULL)
    {
      transaction_fail (tx, "4.4.2", "lost the upstream at EHLO", error);
      return;
    }

  if (reply->code / 100 == 2)
    {
      if (tx->helo_fallback)
        tx->up->esmtp = FALSE;
      else
        upstream_parse_extensions (tx->up, reply);
      after_greeting (tx);
      return;
    }

  /* An old SMTP server: HELO, without extensions (LMTP has only LHLO) */
  if (!tx->self->lmtp && !tx->helo_fallback && !tx->up->tls &&
      reply->code / 100 == 5)
    {
      g_autofree char *line = g_strdup_printf ("HELO %s", tx->self->helo_name);

      tx->helo_fallback = TRUE;
      transaction_command (tx, line, on_ehlo);
      return;
    }

  {
    g_autofree char *text = g_strdup_printf ("Error: upstream refused %s: %u %s",
                                             tx->self->lmtp ? "LHLO" :
                                             tx->helo_fallback ? "HELO" : "EHLO",
                                             reply->code, reply->text);

    upstream_close (g_steal_pointer (&tx->up));
    transaction_answer (tx, 451, "4.4.2", text);
  }
}

static void
transaction_greet (Transaction *tx)
{
  g_autofree char *line = g_strdup_printf ("%s %s", tx->self->lmtp ? "LHLO" : "EHLO",
                                           tx->self->helo_name);

  tx->up->esmtp = FALSE;
  tx->up->caps = 0;
  transaction_command (tx, line, on_ehlo);
}

static void
on_greeting (GObject      *source_object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(UpstreamReply) reply = NULL;

  reply = upstream_command_finish (result, &error);
  if (transaction_stop_cancelled (tx, reply, error))
    return;
  if (reply == NULL)
    {
      transaction_fail (tx, "4.4.1", "no greeting from upstream", error);
      return;
    }

  if (reply->code != 220)
    {
      g_autofree char *text = g_strdup_printf ("Error: upstream not available: %u %s",
                                               reply->code, reply->text);

      /* The upstream declines the session: sending QUIT is what RFC 5321
       * (3.1) asks after a 554 greeting; after 421 it is gone already. */
      tx->up->closing = reply->code == 421;
      upstream_close (g_steal_pointer (&tx->up));
      transaction_answer (tx, 451, "4.4.1", text);
      return;
    }

  transaction_greet (tx);
}

static void
on_connected (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source_object),
                                                       result, &error);
  if (connection != NULL)
    {
      tx->up->socket = connection;
      tx->up->stream = g_object_ref (G_IO_STREAM (connection));
    }
  else
    upstream_fix_error (tx->up, &error);
  if (transaction_stop_cancelled (tx, NULL, error))
    return;
  if (connection == NULL)
    {
      g_clear_pointer (&tx->up, upstream_unref);
      transaction_fail (tx, "4.4.1", "cannot connect to the upstream", error);
      return;
    }

  upstream_disarm (tx->up);
  g_debug ("relay: upstream connection %" G_GUINT64_FORMAT " to %s:%u",
           tx->up->serial, tx->self->host, tx->self->port);
  /* The final ".\r\n" is a small write after the content: do not let
   * Nagle's algorithm hold it back until the content is acknowledged. */
  g_socket_set_option (g_socket_connection_get_socket (connection),
                       IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  transaction_command (tx, NULL, on_greeting);
}

static void
transaction_connect (Transaction *tx)
{
  VsmtpdRelayPlugin *self = tx->self;
  g_autoptr(GSocketClient) client = g_socket_client_new ();

  /* The upstream is configured by address: no proxy lookup */
  g_socket_client_set_enable_proxy (client, FALSE);

  tx->reused = FALSE;
  tx->helo_fallback = FALSE;
  tx->up = upstream_new (++self->next_serial, self->timeout);
  g_set_object (&tx->up->replies, self->upstream_replies);

  transaction_set_step (tx, STEP_CONNECT);
  upstream_arm (tx->up);
  g_socket_client_connect_to_host_async (client, self->host, self->port,
                                         tx->up->cancellable, on_connected, tx);
}

static void
on_reuse_reset (GObject      *source_object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Transaction *tx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(UpstreamReply) reply = NULL;

  reply = upstream_command_finish (result, &error);
  if (transaction_stop_cancelled (tx, reply, error))
    return;
  if (reply == NULL || reply->code != 250)
    {
      /* The upstream dropped it meanwhile: a fresh connection instead */
      g_debug ("relay: idle connection %" G_GUINT64_FORMAT " unusable, reconnecting",
               tx->up->serial);
      tx->up->closing = TRUE;
      upstream_close (g_steal_pointer (&tx->up));
      transaction_connect (tx);
      return;
    }

  transaction_mail (tx);
}

static VsmtpReply *
on_message_received (VsmtpSession *session,
                     VsmtpMessage *message,
                     gpointer      user_data)
{
  VsmtpdRelayPlugin *self = user_data;
  VsmtpEnvelope *envelope = vsmtp_message_get_envelope (message);
  Transaction *tx;
  VsmtpReply *reply;

  if (self->config_error != NULL)
    return vsmtp_reply_new (451, "4.3.5", "Error: relay not configured, try again later");

  if (envelope == NULL || vsmtp_envelope_get_n_recipients (envelope) == 0)
    return vsmtp_reply_new_continue ();

  reply = vsmtp_reply_new_pending ();

  tx = g_new0 (Transaction, 1);
  tx->self = g_object_ref (self);
  tx->reply = g_object_ref (reply);
  tx->message = g_object_ref (message);
  tx->envelope = g_object_ref (envelope);
  tx->session_id = g_strdup (vsmtp_session_get_id (session));
  tx->n_recipients = vsmtp_envelope_get_n_recipients (envelope);
  tx->replies = g_ptr_array_new_with_free_func ((GDestroyNotify) upstream_reply_free);
  tx->cancellable = g_object_ref (vsmtp_reply_get_cancellable (reply));
  tx->cancelled_id = g_cancellable_connect (tx->cancellable, G_CALLBACK (on_reply_cancelled),
                                            tx, NULL);
  relay_needs_init (&tx->needs, message, envelope);

  tx->up = pool_take (self);
  if (tx->up != NULL && !transaction_can_reuse (tx, tx->up))
    {
      g_debug ("relay: idle connection %" G_GUINT64_FORMAT " lacks the TLS this message "
               "needs, a new one instead", tx->up->serial);
      upstream_close (g_steal_pointer (&tx->up));
    }
  if (tx->up != NULL)
    {
      tx->reused = TRUE;
      transaction_command (tx, "RSET", on_reuse_reset);
    }
  else
    {
      transaction_connect (tx);
    }

  return reply;
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  VsmtpdRelayPlugin *self = user_data;

  g_signal_connect_object (session, "message-received",
                           G_CALLBACK (on_message_received), self, 0);
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

static void
vsmtpd_relay_plugin_declare_config (VsmtpPlugin      *plugin,
                                    VsmtpConfigGroup *group)
{
  VsmtpConfigKey *port;

  vsmtp_config_group_add_string (group, "host", NULL,
                                 "The upstream every message is relayed to (required)");
  port = vsmtp_config_key_new ("port", VSMTP_CONFIG_TYPE_INTEGER, NULL,
                               "The upstream's port; default: 25 for SMTP, 24 for LMTP");
  vsmtp_config_key_set_range (port, 0, 65535, NULL);
  vsmtp_config_group_add_key (group, port);
  g_object_unref (port);
  vsmtp_config_group_add_string (group, "protocol", "smtp", "smtp or lmtp");
  vsmtp_config_group_add_string (group, "starttls", "opportunistic",
                                 "no, opportunistic (when offered) or required");
  vsmtp_config_group_add_boolean (group, "tls-verify", TRUE,
                                  "Whether the upstream's certificate must be valid for tls-server-name (default: host)");
  relay_tls_declare_config (group);
  vsmtp_config_group_add_string (group, "helo-name", NULL,
                                 "The name sent with EHLO/LHLO; default: [server] hostname");
  vsmtp_config_group_add_integer (group, "timeout", DEFAULT_TIMEOUT, 1, 3600, "seconds",
                                  "How long each network step may take");
  vsmtp_config_group_add_integer (group, "max-idle", DEFAULT_MAX_IDLE, 0, 1000, NULL,
                                  "Greeted upstream connections kept open for the next messages");
}

/* A missing host is not an error here: the daemon starts, and every
 * message gets 451 4.3.5 (docs/relay.md) */
static gboolean
vsmtpd_relay_plugin_configure (VsmtpPlugin       *plugin,
                               VsmtpConfigGroup  *group,
                               GError           **error)
{
  VsmtpdRelayPlugin *self = VSMTPD_RELAY_PLUGIN (plugin);
  g_autofree char *protocol = vsmtp_config_group_dup_string (group, "protocol");
  g_autofree char *starttls = vsmtp_config_group_dup_string (group, "starttls");

  g_clear_pointer (&self->host, g_free);
  g_clear_pointer (&self->helo_name, g_free);
  g_clear_pointer (&self->config_error, g_free);

  if (g_ascii_strcasecmp (protocol, "smtp") == 0)
    self->lmtp = FALSE;
  else if (g_ascii_strcasecmp (protocol, "lmtp") == 0)
    self->lmtp = TRUE;
  else
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                   "[relay] protocol: \"%s\" is neither smtp nor lmtp", protocol);
      return FALSE;
    }

  if (g_ascii_strcasecmp (starttls, "opportunistic") == 0)
    self->starttls = STARTTLS_OPPORTUNISTIC;
  else if (g_ascii_strcasecmp (starttls, "no") == 0)
    self->starttls = STARTTLS_NO;
  else if (g_ascii_strcasecmp (starttls, "required") == 0)
    self->starttls = STARTTLS_REQUIRED;
  else
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                   "[relay] starttls: \"%s\" is not one of no, opportunistic, required",
                   starttls);
      return FALSE;
    }

  self->port = vsmtp_config_group_get_integer (group, "port");
  if (self->port == 0)
    self->port = self->lmtp ? DEFAULT_LMTP_PORT : DEFAULT_SMTP_PORT;
  self->timeout = vsmtp_config_group_get_integer (group, "timeout");
  self->max_idle = vsmtp_config_group_get_integer (group, "max-idle");
  self->tls_verify = vsmtp_config_group_get_boolean (group, "tls-verify");
  if (!relay_tls_configure (&self->tls_settings, group, error))
    return FALSE;

  self->helo_name = vsmtp_config_group_dup_string (group, "helo-name");
  if (self->helo_name != NULL)
    g_strstrip (self->helo_name);
  if (self->helo_name == NULL || self->helo_name[0] == '\0')
    {
      g_free (self->helo_name);
      self->helo_name = g_strdup (vsmtp_server_get_hostname (vsmtp_plugin_get_server (VSMTP_PLUGIN (self))));
    }

  self->host = vsmtp_config_group_dup_string (group, "host");
  if (self->host != NULL)
    g_strstrip (self->host);
  if (self->host == NULL || self->host[0] == '\0')
    self->config_error = g_strdup ("[relay] host is not set");

  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The plugin                                                               */
/* ------------------------------------------------------------------------ */

static void
vsmtpd_relay_plugin_activate (VsmtpPlugin *plugin)
{
  VsmtpdRelayPlugin *self = VSMTPD_RELAY_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  g_return_if_fail (VSMTP_IS_SERVER (server));

  g_set_object (&self->deliveries,
                vsmtp_metrics_lookup (vsmtp_server_get_metrics (server), "vsmtp_deliveries_total"));
  g_set_object (&self->upstream_replies,
                vsmtp_metrics_register_counter (vsmtp_server_get_metrics (server),
                                                "vsmtp_relay_upstream_replies_total",
                                                "Replies of the relay plugin's upstream, by code",
                                                (const char *[]) { "code", NULL }));
  /* not configured (a host program that only activates it): no upstream */
  if (self->host == NULL && self->config_error == NULL)
    self->config_error = g_strdup ("[relay] host is not set");

  if (self->config_error != NULL)
    g_warning ("relay: %s; every message will be refused with 451 4.3.5", self->config_error);
  else
    g_info ("relay: relaying mail to %s:%u over %s (STARTTLS %s)",
            self->host, self->port, self->lmtp ? "LMTP" : "SMTP",
            self->starttls == STARTTLS_REQUIRED ? "required" :
            self->starttls == STARTTLS_NO ? "off" : "when offered");

  self->new_session_id = g_signal_connect_object (server, "new-session",
                                                  G_CALLBACK (on_new_session), self, 0);
}

static void
vsmtpd_relay_plugin_deactivate (VsmtpPlugin *plugin)
{
  VsmtpdRelayPlugin *self = VSMTPD_RELAY_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);
  pool_clear (self);
}

static void
vsmtpd_relay_plugin_dispose (GObject *object)
{
  VsmtpdRelayPlugin *self = VSMTPD_RELAY_PLUGIN (object);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);
  pool_clear (self);

  G_OBJECT_CLASS (vsmtpd_relay_plugin_parent_class)->dispose (object);
}

static void
vsmtpd_relay_plugin_finalize (GObject *object)
{
  VsmtpdRelayPlugin *self = VSMTPD_RELAY_PLUGIN (object);

  g_free (self->host);
  g_free (self->helo_name);
  g_free (self->config_error);
  relay_tls_clear (&self->tls_settings);
  g_clear_object (&self->deliveries);
  g_clear_object (&self->upstream_replies);

  G_OBJECT_CLASS (vsmtpd_relay_plugin_parent_class)->finalize (object);
}

static void
vsmtpd_relay_plugin_class_init (VsmtpdRelayPluginClass *klass)
{
  VsmtpPluginClass *plugin_class = VSMTP_PLUGIN_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vsmtpd_relay_plugin_dispose;
  object_class->finalize = vsmtpd_relay_plugin_finalize;

  plugin_class->declare_config = vsmtpd_relay_plugin_declare_config;
  plugin_class->configure = vsmtpd_relay_plugin_configure;
  plugin_class->activate = vsmtpd_relay_plugin_activate;
  plugin_class->deactivate = vsmtpd_relay_plugin_deactivate;
}

static void
vsmtpd_relay_plugin_class_finalize (VsmtpdRelayPluginClass *klass)
{
}

static void
vsmtpd_relay_plugin_init (VsmtpdRelayPlugin *self)
{
  g_queue_init (&self->idle);
  self->timeout = DEFAULT_TIMEOUT;
  self->max_idle = DEFAULT_MAX_IDLE;
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  vsmtpd_relay_plugin_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module,
                                              VSMTP_TYPE_ACTIVATABLE,
                                              VSMTPD_TYPE_RELAY_PLUGIN);
}

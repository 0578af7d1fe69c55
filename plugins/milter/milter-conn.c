/* milter-conn.c: one connection to one milter, asynchronous
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixoutputstream.h>

#include "milter-conn.h"

#define READ_SIZE (64 * 1024)

/* What this client can do: every action, every step of version 6 */
#define OFFERED_ACTIONS MILTER_ACTIONS_ALL
#define OFFERED_STEPS   MILTER_STEPS_ALL

/* ------------------------------------------------------------------------ */
/* Specs                                                                    */

MilterSpec *
milter_spec_new (const char  *name,
                 const char  *address,
                 GError     **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  MilterSpec *self;

  if (g_str_has_prefix (address, "unix:") || g_str_has_prefix (address, "local:"))
    {
      const char *path = strchr (address, ':') + 1;

      if (!g_path_is_absolute (path))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "“%s”: a UNIX socket needs an absolute path", address);
          return NULL;
        }
      connectable = G_SOCKET_CONNECTABLE (g_unix_socket_address_new (path));
    }
  else if (g_str_has_prefix (address, "inet:") || g_str_has_prefix (address, "inet6:"))
    {
      const char *hostport = strchr (address, ':') + 1;

      /* HOST:PORT, [IPV6]:PORT; no default port: a milter has none */
      connectable = g_network_address_parse (hostport, 0, error);
      if (connectable == NULL)
        return NULL;
      if (g_network_address_get_port (G_NETWORK_ADDRESS (connectable)) == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "“%s”: no port", address);
          return NULL;
        }
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is neither inet:HOST:PORT nor unix:/PATH", address);
      return NULL;
    }

  self = g_new0 (MilterSpec, 1);
  self->name = g_strdup (name ? name : address);
  self->address = g_strdup (address);
  self->connectable = g_steal_pointer (&connectable);
  self->connect_timeout = 30 * 1000;
  self->command_timeout = 30 * 1000;
  self->content_timeout = 300 * 1000;
  return self;
}

void
milter_spec_free (MilterSpec *self)
{
  if (self == NULL)
    return;
  g_free (self->name);
  g_free (self->address);
  g_clear_object (&self->connectable);
  g_free (self);
}

/* ------------------------------------------------------------------------ */
/* Results                                                                  */

static void
milter_action_free (gpointer data)
{
  MilterAction *action = data;

  g_free (action->name);
  g_free (action->value);
  g_free (action);
}

void
milter_result_free (MilterResult *self)
{
  if (self == NULL)
    return;
  g_free (self->reply);
  g_clear_pointer (&self->actions, g_ptr_array_unref);
  if (self->new_body != NULL)
    {
      g_file_delete (self->new_body, NULL, NULL);
      g_object_unref (self->new_body);
    }
  g_free (self->quarantine);
  g_free (self);
}

/* ------------------------------------------------------------------------ */
/* The connection                                                           */

struct _MilterConn
{
  char                *name;
  GSocketConnectable  *connectable;
  guint                connect_timeout;
  guint                command_timeout;
  guint                content_timeout;
  char                *session_id;
  char                *spool_directory;

  GSocketConnection   *connection;
  GInputStream        *in;
  GOutputStream       *out;
  MilterReader        *reader;
  guint8              *buffer;

  guint32              actions;
  guint32              steps;
  char                *symlists[MILTER_N_STAGES];
  gboolean             open;
  gboolean             busy;
};

static void
milter_conn_clear (gpointer data)
{
  MilterConn *self = data;

  g_free (self->name);
  g_clear_object (&self->connectable);
  g_free (self->session_id);
  g_free (self->spool_directory);
  g_clear_object (&self->connection);
  milter_reader_free (self->reader);
  g_free (self->buffer);
  for (guint i = 0; i < MILTER_N_STAGES; i++)
    g_free (self->symlists[i]);
}

MilterConn *
milter_conn_new (const MilterSpec *spec,
                 const char       *session_id,
                 const char       *spool_directory)
{
  MilterConn *self = g_atomic_rc_box_new0 (MilterConn);

  self->name = g_strdup (spec->name);
  self->connectable = g_object_ref (spec->connectable);
  self->connect_timeout = spec->connect_timeout;
  self->command_timeout = spec->command_timeout;
  self->content_timeout = spec->content_timeout;
  self->session_id = g_strdup (session_id);
  self->spool_directory = g_strdup (spool_directory ? spool_directory : g_get_tmp_dir ());
  self->reader = milter_reader_new (MILTER_MAX_REPLY_SIZE);
  return self;
}

MilterConn *
milter_conn_ref (MilterConn *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
milter_conn_unref (MilterConn *self)
{
  g_atomic_rc_box_release_full (self, milter_conn_clear);
}

guint32
milter_conn_get_actions (MilterConn *self)
{
  return self->actions;
}

guint32
milter_conn_get_steps (MilterConn *self)
{
  return self->steps;
}

const char *
milter_conn_get_symlist (MilterConn  *self,
                         MilterStage  stage)
{
  return stage < MILTER_N_STAGES ? self->symlists[stage] : NULL;
}

gboolean
milter_conn_is_open (MilterConn *self)
{
  return self->open;
}

const char *
milter_conn_get_name (MilterConn *self)
{
  return self->name;
}

static void
conn_break (MilterConn *self)
{
  self->open = FALSE;
  if (self->connection != NULL)
    g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  g_clear_object (&self->connection);
  self->in = NULL;
  self->out = NULL;
}

void
milter_conn_close (MilterConn *self)
{
  if (self->open && !self->busy)
    {
      g_autoptr(GByteArray) quit = g_byte_array_new ();

      /* a few bytes into an idle socket's buffer: written at once or lost
       * with the connection, which is fine for a goodbye */
      milter_encode_empty (quit, MILTER_CMD_QUIT);
      g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->out),
                                                  quit->data, quit->len, NULL, NULL);
    }
  conn_break (self);
}

/* ------------------------------------------------------------------------ */
/* One operation: connect and negotiate, or one exchange                    */

#define EXPECT_OPTNEG ((MilterExpect) 100)

typedef struct {
  MilterConn    *conn;
  GBytes        *packets;
  MilterExpect   expect;
  GCancellable  *cancellable;     /* ours: the timer and the caller's cancel it */
  GCancellable  *outer;
  gulong         outer_id;
  GSource       *timer;
  guint          timeout;
  gboolean       timed_out;
  MilterResult  *result;
  int            body_fd;
  char          *body_path;
} Op;

static void
op_free (gpointer data)
{
  Op *op = data;

  if (op->timer != NULL)
    {
      g_source_destroy (op->timer);
      g_source_unref (op->timer);
    }
  if (op->outer != NULL)
    {
      g_cancellable_disconnect (op->outer, op->outer_id);
      g_object_unref (op->outer);
    }
  g_clear_object (&op->cancellable);
  g_clear_pointer (&op->packets, g_bytes_unref);
  milter_result_free (op->result);
  if (op->body_fd >= 0)
    close (op->body_fd);
  if (op->body_path != NULL)
    g_unlink (op->body_path);
  g_free (op->body_path);
  op->conn->busy = FALSE;
  milter_conn_unref (op->conn);
  g_free (op);
}

static gboolean
on_timeout (gpointer user_data)
{
  Op *op = user_data;

  op->timed_out = TRUE;
  g_cancellable_cancel (op->cancellable);
  g_clear_pointer (&op->timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
op_arm_timer (Op *op)
{
  if (op->timer != NULL)
    {
      g_source_destroy (op->timer);
      g_source_unref (op->timer);
    }
  op->timer = g_timeout_source_new (op->timeout);
  g_source_set_callback (op->timer, on_timeout, op, NULL);
  g_source_set_static_name (op->timer, "[vsmtpd-milter] timeout");
  g_source_attach (op->timer, g_main_context_get_thread_default ());
}

static void
on_outer_cancelled (GCancellable *outer,
                    gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static Op *
op_new (MilterConn   *self,
        MilterExpect  expect,
        guint         timeout,
        GCancellable *outer)
{
  Op *op = g_new0 (Op, 1);

  op->conn = milter_conn_ref (self);
  op->expect = expect;
  op->timeout = timeout;
  op->cancellable = g_cancellable_new ();
  op->body_fd = -1;
  if (outer != NULL)
    {
      op->outer = g_object_ref (outer);
      op->outer_id = g_cancellable_connect (outer, G_CALLBACK (on_outer_cancelled),
                                            g_object_ref (op->cancellable), g_object_unref);
    }
  self->busy = TRUE;
  op_arm_timer (op);
  return op;
}

/* Ends @task with @error (a cancellation by the timer said as a timeout) */
static void
op_fail (GTask  *task,
         GError *error)
{
  Op *op = g_task_get_task_data (task);

  conn_break (op->conn);
  op->conn->busy = FALSE;
  if (op->timed_out)
    {
      g_clear_error (&error);
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "milter %s: no answer within %u s",
                           op->conn->name, (op->timeout + 999) / 1000);
    }
  else if (error->domain != G_IO_ERROR || error->code != G_IO_ERROR_CANCELLED)
    g_prefix_error (&error, "milter %s: ", op->conn->name);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
op_fail_literal (GTask      *task,
                 const char *message)
{
  op_fail (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, message));
}

static void
op_done (GTask *task)
{
  Op *op = g_task_get_task_data (task);

  /* the callback may start the next exchange */
  op->conn->busy = FALSE;
  g_task_return_pointer (task, g_steal_pointer (&op->result), (GDestroyNotify) milter_result_free);
  g_object_unref (task);
}

static gboolean
append_body (Op            *op,
             const guint8  *data,
             gsize          len,
             GError       **error)
{
  if (op->body_fd < 0)
    {
      op->body_path = g_build_filename (op->conn->spool_directory, "vsmtp-milter-XXXXXX", NULL);
      op->body_fd = g_mkstemp_full (op->body_path, O_RDWR | O_CLOEXEC, 0600);
      if (op->body_fd < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "cannot spool the replaced body: %s", g_strerror (saved));
          g_clear_pointer (&op->body_path, g_free);
          return FALSE;
        }
    }
  while (len > 0)
    {
      ssize_t n = write (op->body_fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "cannot spool the replaced body: %s", g_strerror (saved));
          return FALSE;
        }
      data += n;
      len -= n;
    }
  return TRUE;
}

static guint32
action_needs (MilterReplyCode code)
{
  switch (code)
    {
    case MILTER_REPLY_ADDHEADER:
    case MILTER_REPLY_INSHEADER:   return MILTER_ACTION_ADDHDRS;
    case MILTER_REPLY_CHGHEADER:   return MILTER_ACTION_CHGHDRS;
    case MILTER_REPLY_ADDRCPT:     return MILTER_ACTION_ADDRCPT;
    case MILTER_REPLY_ADDRCPT_PAR: return MILTER_ACTION_ADDRCPT_PAR;
    case MILTER_REPLY_DELRCPT:     return MILTER_ACTION_DELRCPT;
    case MILTER_REPLY_CHGFROM:     return MILTER_ACTION_CHGFROM;
    case MILTER_REPLY_REPLBODY:    return MILTER_ACTION_CHGBODY;
    case MILTER_REPLY_QUARANTINE:  return MILTER_ACTION_QUARANTINE;
    default:                       return 0;
    }
}

/* Takes one reply: TRUE when the operation is over (done or failed) */
static gboolean
op_take_reply (GTask             *task,
               const MilterReply *reply)
{
  Op *op = g_task_get_task_data (task);
  MilterConn *self = op->conn;
  g_autoptr(GError) error = NULL;
  guint32 needs = action_needs (reply->code);

  if (op->expect == EXPECT_OPTNEG)
    {
      if (reply->code != MILTER_REPLY_OPTNEG)
        {
          op_fail_literal (task, "no option negotiation reply");
          return TRUE;
        }
      if (reply->version < 2)
        {
          op_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                      "protocol version %u", reply->version));
          return TRUE;
        }
      if ((reply->actions & ~OFFERED_ACTIONS) || (reply->steps & ~OFFERED_STEPS))
        {
          op_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                      "asks for actions 0x%x and steps 0x%x, "
                                      "beyond the offered 0x%x and 0x%x",
                                      reply->actions, reply->steps,
                                      OFFERED_ACTIONS, OFFERED_STEPS));
          return TRUE;
        }
      self->actions = reply->actions;
      self->steps = reply->steps;
      for (guint i = 0; i < MILTER_N_STAGES; i++)
        self->symlists[i] = g_strdup (reply->symlists[i]);
      self->open = TRUE;
      op_done (task);
      return TRUE;
    }

  switch (reply->code)
    {
    case MILTER_REPLY_PROGRESS:
      /* still working: the timeout starts again */
      op_arm_timer (op);
      return FALSE;

    case MILTER_REPLY_ADDHEADER:
    case MILTER_REPLY_INSHEADER:
    case MILTER_REPLY_CHGHEADER:
    case MILTER_REPLY_ADDRCPT:
    case MILTER_REPLY_ADDRCPT_PAR:
    case MILTER_REPLY_DELRCPT:
    case MILTER_REPLY_CHGFROM:
    case MILTER_REPLY_REPLBODY:
    case MILTER_REPLY_QUARANTINE:
      if (op->expect != MILTER_EXPECT_EOM)
        {
          op_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                      "%s before the end of the message",
                                      milter_reply_code_name (reply->code)));
          return TRUE;
        }
      if ((self->actions & needs) == 0)
        {
          op_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                      "%s without having negotiated it",
                                      milter_reply_code_name (reply->code)));
          return TRUE;
        }
      if (reply->code == MILTER_REPLY_REPLBODY)
        {
          if (!append_body (op, reply->data, reply->len, &error))
            {
              op_fail (task, g_steal_pointer (&error));
              return TRUE;
            }
        }
      else if (reply->code == MILTER_REPLY_QUARANTINE)
        {
          g_free (op->result->quarantine);
          op->result->quarantine = g_strdup (reply->text);
        }
      else
        {
          MilterAction *action = g_new0 (MilterAction, 1);

          action->code = reply->code;
          action->name = g_strdup (reply->text);
          action->value = g_strdup (reply->value);
          action->index = reply->index;
          g_ptr_array_add (op->result->actions, action);
        }
      return FALSE;

    case MILTER_REPLY_SHUTDOWN:
    case MILTER_REPLY_CONN_FAIL:
      /* the filter gives up on this connection: a temporary failure */
      op->result->verdict = MILTER_REPLY_TEMPFAIL;
      conn_break (self);
      op_done (task);
      return TRUE;

    case MILTER_REPLY_SKIP:
      if (op->expect != MILTER_EXPECT_CONTENT || !(self->steps & MILTER_STEP_SKIP))
        {
          op_fail_literal (task, "SKIP where it was not allowed");
          return TRUE;
        }
      G_GNUC_FALLTHROUGH;
    case MILTER_REPLY_ACCEPT:
    case MILTER_REPLY_CONTINUE:
    case MILTER_REPLY_DISCARD:
    case MILTER_REPLY_REJECT:
    case MILTER_REPLY_TEMPFAIL:
    case MILTER_REPLY_REPLYCODE:
      op->result->verdict = reply->code;
      op->result->reply = g_strdup (reply->text);
      op->result->smtp_code = reply->smtp_code;
      if (op->body_fd >= 0)
        {
          close (op->body_fd);
          op->body_fd = -1;
          op->result->new_body = g_file_new_for_path (op->body_path);
          g_clear_pointer (&op->body_path, g_free);
        }
      op_done (task);
      return TRUE;

    default:
      op_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                  "unexpected %s reply",
                                  milter_reply_code_name (reply->code)));
      return TRUE;
    }
}

static void on_read (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data);

/* Takes the replies already read, then reads more if the operation goes on */
static void
op_process (GTask *task)
{
  Op *op = g_task_get_task_data (task);
  MilterConn *self = op->conn;
  GError *error = NULL;
  MilterReply reply;

  while (milter_reader_next (self->reader, &reply, &error))
    if (op_take_reply (task, &reply))
      return;
  if (error != NULL)
    {
      op_fail (task, error);
      return;
    }
  g_input_stream_read_async (self->in, self->buffer, READ_SIZE, G_PRIORITY_DEFAULT,
                             op->cancellable, on_read, task);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      op_fail (task, error);
      return;
    }
  if (n == 0)
    {
      op_fail (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                          "closed the connection"));
      return;
    }
  milter_reader_feed (op->conn->reader, op->conn->buffer, n);
  op_process (task);
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      op_fail (task, error);
      return;
    }
  if (op->expect == MILTER_EXPECT_NOTHING)
    {
      op_done (task);
      return;
    }
  op_process (task);
}

static void
op_send (GTask *task)
{
  Op *op = g_task_get_task_data (task);

  g_output_stream_write_all_async (op->conn->out,
                                   g_bytes_get_data (op->packets, NULL),
                                   g_bytes_get_size (op->packets),
                                   G_PRIORITY_DEFAULT, op->cancellable,
                                   on_written, task);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  Op *op = g_task_get_task_data (task);
  MilterConn *self = op->conn;
  GError *error = NULL;
  g_autoptr(GByteArray) optneg = g_byte_array_new ();

  self->connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (self->connection == NULL)
    {
      op_fail (task, error);
      return;
    }
  self->in = g_io_stream_get_input_stream (G_IO_STREAM (self->connection));
  self->out = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
  self->buffer = g_malloc (READ_SIZE);

  /* the connect timeout covers the negotiation; replies, the command one */
  op->expect = EXPECT_OPTNEG;
  milter_encode_optneg (optneg, MILTER_PROTOCOL_VERSION, OFFERED_ACTIONS, OFFERED_STEPS);
  op->packets = g_byte_array_free_to_bytes (g_steal_pointer (&optneg));
  op_send (task);
}

void
milter_conn_open_async (MilterConn          *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  GTask *task;
  Op *op;

  g_return_if_fail (!self->busy && self->connection == NULL);

  op = op_new (self, EXPECT_OPTNEG, self->connect_timeout, cancellable);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, milter_conn_open_async);
  g_task_set_task_data (task, op, op_free);
  op->result = g_new0 (MilterResult, 1);
  g_socket_client_connect_async (client, self->connectable, op->cancellable, on_connected, task);
}

gboolean
milter_conn_open_finish (MilterConn    *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_autoptr(MilterResult) r = g_task_propagate_pointer (G_TASK (result), error);

  return r != NULL;
}

void
milter_conn_exchange_async (MilterConn          *self,
                            GBytes              *packets,
                            MilterExpect         expect,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  guint timeout;
  Op *op;

  g_task_set_source_tag (task, milter_conn_exchange_async);
  if (!self->open || self->busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                               "milter %s: not connected", self->name);
      g_object_unref (task);
      return;
    }
  timeout = expect == MILTER_EXPECT_EOM || expect == MILTER_EXPECT_CONTENT
              ? self->content_timeout : self->command_timeout;
  op = op_new (self, expect, timeout, cancellable);
  g_task_set_task_data (task, op, op_free);
  op->packets = g_bytes_ref (packets);
  op->result = g_new0 (MilterResult, 1);
  op->result->actions = g_ptr_array_new_with_free_func (milter_action_free);
  op_send (task);
}

MilterResult *
milter_conn_exchange_finish (MilterConn    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

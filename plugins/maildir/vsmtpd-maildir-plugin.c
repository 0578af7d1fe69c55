/* vsmtpd-maildir-plugin.c: delivers every message into one maildir
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-maildir"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libpeas/peas.h>
#include <vsmtp.h>

/* The maildir plugin takes durable responsibility for a message: the 250
 * is only sent after the file was fsync()ed, linked into new/ and new/
 * itself fsync()ed. The delivery runs in a worker thread so that a slow
 * disk never blocks the sessions of the main loop; the session gets a
 * pending reply that the main thread completes when the thread is done.
 *
 *   [maildir]
 *   path=/var/lib/vsmtpd/Maildir     (default: $STATE_DIRECTORY/Maildir,
 *                                     else ~/.local/state/vsmtpd/Maildir)
 *
 * Each message is one file: a `Return-Path: <sender>` line, then the
 * message's content as vsmtp_message_open_stream() gives it (the Received:
 * header the server prepended, then what the client sent after
 * dot-unstuffing, with the changes earlier handlers made). Its name is `SECONDS.MmicrosecondsPpidQn.HOST,S=SIZE`
 * (for example `1796231830.M304657P21427Q1.mx,S=438`), where S= is the
 * size of that file in bytes (checked with fstat() after writing): the
 * Return-Path: line plus vsmtp_message_get_size(). So one message has three
 * sizes: the session log's size= (the client's content alone, what
 * max-message-size limits, as received), vsmtp_message_get_size() (the
 * Received: header added, changes included) and S= (the Return-Path: line
 * added too).
 *
 * Cancellation: the pending reply's GCancellable (vsmtp_reply_get_cancellable())
 * is cancelled when the session no longer wants the answer: the client left
 * before its 250, the decision deadline passed (the client got 451 4.3.0),
 * or the server closed the session. The client was then never told that
 * the message was accepted, and will send it again, so it must not stay
 * delivered. The worker thread checks the cancellable before creating the
 * file in tmp/, between the chunks of content it writes, after the fsync
 * and before linking into new/; when it is cancelled the file is removed
 * from tmp/ and the delivery ends with G_IO_ERROR_CANCELLED. If it is
 * cancelled after the thread already linked the file into new/, the main
 * thread unlinks it from new/ again before it would have answered. Either
 * way one INFO line says so ("delivery of message ... cancelled"); it is
 * not a failure. Only a cancellation that comes after the 250 was handed
 * to the session cannot undo anything: the message is kept (the client may
 * then send it again, a duplicate rather than a loss).
 */

#define VSMTPD_TYPE_MAILDIR_PLUGIN (vsmtpd_maildir_plugin_get_type ())
G_DECLARE_FINAL_TYPE (VsmtpdMaildirPlugin, vsmtpd_maildir_plugin, VSMTPD, MAILDIR_PLUGIN, VsmtpPlugin)

struct _VsmtpdMaildirPlugin
{
  VsmtpPlugin      parent_instance;

  gulong       new_session_id;

  char        *path;
  char        *hostname;   /* escaped for use in a file name */
  gboolean     broken;     /* the folders could not be created */
  guint        sweep_id;   /* the daily sweep of tmp/ */
};

/* The content is copied in chunks of this size, so that a cancelled
 * delivery of a large message stops early. */
#define COPY_CHUNK (256 * 1024)

typedef struct
{
  VsmtpMessage *message;
  VsmtpReply   *reply;
  GCancellable *cancellable;   /* the reply's: the answer is no longer wanted */
  char         *session_id;
  char         *return_path;
  char         *path;
  char         *hostname;
  gboolean      create_folders;

  /* set by the worker thread */
  char         *delivered_to;
  guint64       size;
} Delivery;

G_DEFINE_DYNAMIC_TYPE_EXTENDED (VsmtpdMaildirPlugin, vsmtpd_maildir_plugin, VSMTP_TYPE_PLUGIN,
                                G_TYPE_FLAG_FINAL, {})

static void
delivery_free (gpointer data)
{
  Delivery *delivery = data;

  g_clear_object (&delivery->message);
  g_clear_object (&delivery->reply);
  g_clear_object (&delivery->cancellable);
  g_free (delivery->session_id);
  g_free (delivery->return_path);
  g_free (delivery->path);
  g_free (delivery->hostname);
  g_free (delivery->delivered_to);
  g_free (delivery);
}

/* RFC 3461 6.2 asks for a "delivered" notice for each recipient that gave
 * NOTIFY=SUCCESS; vsmtpd sends no notices (docs/extensions.md, DSN): the
 * log says which were asked for */
static void
log_success_notices (Delivery   *delivery,
                     const char *id)
{
  VsmtpEnvelope *envelope = vsmtp_message_get_envelope (delivery->message);

  for (guint i = 0; i < vsmtp_envelope_get_n_recipients (envelope); i++)
    if (vsmtp_envelope_get_recipient_dsn_notify (envelope, i) & VSMTP_DSN_NOTIFY_SUCCESS)
      {
        const char *recipient = vsmtp_address_to_string (vsmtp_envelope_get_recipient (envelope, i));

        g_info ("maildir: %s: message %s: <%s> asked for a delivery notice (NOTIFY=SUCCESS), "
                "which vsmtpd does not send", delivery->session_id, id, recipient);
      }
}

static char *
default_maildir_path (void)
{
  const char *state_directory = g_getenv ("STATE_DIRECTORY");

  /* systemd's StateDirectory=: a colon-separated list, the first is ours */
  if (state_directory != NULL && state_directory[0] != '\0')
    {
      g_auto(GStrv) dirs = g_strsplit (state_directory, ":", 2);

      return g_build_filename (dirs[0], "Maildir", NULL);
    }

  return g_build_filename (g_get_user_state_dir (), "vsmtpd", "Maildir", NULL);
}

/* Maildir file names must not contain '/' nor ':' (the info separator). */
static char *
escape_hostname (const char *hostname)
{
  GString *escaped = g_string_new (NULL);

  for (const char *p = hostname; *p != '\0'; p++)
    {
      if (*p == '/')
        g_string_append (escaped, "\\057");
      else if (*p == ':')
        g_string_append (escaped, "\\072");
      else
        g_string_append_c (escaped, *p);
    }

  return g_string_free (escaped, FALSE);
}

static gboolean
create_folders (const char  *path,
                GError     **error)
{
  static const char * const subdirs[] = { "tmp", "new", "cur" };

  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *dir = g_build_filename (path, subdirs[i], NULL);

      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "Cannot create %s: %s", dir, g_strerror (saved_errno));
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
set_error_from_errno (GError     **error,
                      int          saved_errno,
                      const char  *what,
                      const char  *file)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s %s: %s", what, file, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
write_all (int          fd,
           const char  *data,
           gsize        length,
           const char  *file,
           GError     **error)
{
  while (length > 0)
    {
      gssize n = write (fd, data, length);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return set_error_from_errno (error, errno, "Cannot write", file);
        }

      data += n;
      length -= n;
    }

  return TRUE;
}

/* Copies the message's content to @fd chunk by chunk, stopping as soon as
 * @cancellable is cancelled. Runs in the worker thread. */
static gboolean
write_content (VsmtpMessage  *message,
               int            fd,
               const char    *file,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(GInputStream) input = NULL;
  g_autofree char *buffer = NULL;
  g_autoptr(GError) local_error = NULL;

  /* one chunk or less (most messages): one write, no stream, no buffer
   * (a 256 KiB buffer is an mmap and munmap each time) */
  if (vsmtp_message_get_size (message) <= COPY_CHUNK)
    {
      if (vsmtp_message_write_to_fd (message, fd, &local_error))
        return !g_cancellable_set_error_if_cancelled (cancellable, error);
      g_set_error (error, local_error->domain, local_error->code,
                   "Cannot write %s: %s", file, local_error->message);
      return FALSE;
    }

  input = vsmtp_message_open_stream (message, &local_error);
  if (input == NULL)
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "Cannot read message %s: %s", vsmtp_message_get_id (message),
                   local_error->message);
      return FALSE;
    }

  buffer = g_malloc (COPY_CHUNK);
  for (;;)
    {
      gssize n = g_input_stream_read (input, buffer, COPY_CHUNK, cancellable, &local_error);

      if (n < 0)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_propagate_error (error, g_steal_pointer (&local_error));
          else
            g_set_error (error, local_error->domain, local_error->code,
                         "Cannot read message %s: %s", vsmtp_message_get_id (message),
                         local_error->message);
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      if (!write_all (fd, buffer, n, file, error))
        return FALSE;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
    }
}

static gboolean
link_or_rename (const char  *tmp_path,
                const char  *new_path,
                GError     **error)
{
  if (link (tmp_path, new_path) == 0)
    {
      if (g_unlink (tmp_path) != 0)
        g_debug ("maildir: cannot remove %s: %s", tmp_path, g_strerror (errno));
      return TRUE;
    }

  /* Some file systems have no hard links */
  if (errno == EPERM || errno == ENOSYS || errno == EOPNOTSUPP || errno == EMLINK)
    {
      if (g_rename (tmp_path, new_path) == 0)
        return TRUE;
    }

  return set_error_from_errno (error, errno, "Cannot move the message to", new_path);
}

static gboolean
sync_directory (const char  *dir,
                GError     **error)
{
  int fd;

  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return set_error_from_errno (error, errno, "Cannot open", dir);

  if (fsync (fd) != 0)
    {
      int saved_errno = errno;

      close (fd);
      return set_error_from_errno (error, saved_errno, "Cannot sync", dir);
    }

  close (fd);
  return TRUE;
}

/* Runs in a worker thread. */
static gboolean
deliver (Delivery  *delivery,
         GError   **error)
{
  static int counter = 0;
  g_autofree char *unique = NULL;
  g_autofree char *name = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree char *new_dir = NULL;
  g_autofree char *new_path = NULL;
  GCancellable *cancellable = delivery->cancellable;
  struct stat st;
  gint64 now;
  guint64 size;
  int fd;

  if (delivery->create_folders && !create_folders (delivery->path, error))
    return FALSE;

  now = g_get_real_time ();
  unique = g_strdup_printf ("%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT "P%dQ%d.%s",
                            now / G_USEC_PER_SEC, now % G_USEC_PER_SEC,
                            (int) getpid (), g_atomic_int_add (&counter, 1) + 1,
                            delivery->hostname);

  size = strlen (delivery->return_path) + vsmtp_message_get_size (delivery->message);
  name = g_strdup_printf ("%s,S=%" G_GUINT64_FORMAT, unique, size);
  tmp_path = g_build_filename (delivery->path, "tmp", name, NULL);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  fd = open (tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_error_from_errno (error, errno, "Cannot create", tmp_path);

  if (!write_all (fd, delivery->return_path, strlen (delivery->return_path), tmp_path, error))
    goto failed;

  if (!write_content (delivery->message, fd, tmp_path, cancellable, error))
    goto failed;

  if (fsync (fd) != 0)
    {
      set_error_from_errno (error, errno, "Cannot sync", tmp_path);
      goto failed;
    }

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    goto failed;

  /* S= is the size of the file as stored */
  if (fstat (fd, &st) == 0 && (guint64) st.st_size != size)
    {
      size = st.st_size;
      g_clear_pointer (&name, g_free);
      name = g_strdup_printf ("%s,S=%" G_GUINT64_FORMAT, unique, size);
    }

  /* close() may report a deferred write error (NFS) */
  if (close (fd) != 0)
    {
      fd = -1;
      set_error_from_errno (error, errno, "Cannot close", tmp_path);
      goto failed;
    }
  fd = -1;

  /* the last moment the delivery can be given up without undoing it */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    goto failed;

  new_dir = g_build_filename (delivery->path, "new", NULL);
  new_path = g_build_filename (new_dir, name, NULL);
  if (!link_or_rename (tmp_path, new_path, error))
    goto failed;

  if (!sync_directory (new_dir, error))
    {
      /* Not durable: answer 4xx and take the file back, the client retries */
      g_unlink (new_path);
      goto failed;
    }

  delivery->delivered_to = g_steal_pointer (&new_path);
  delivery->size = size;
  return TRUE;

failed:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp_path);
  return FALSE;
}

static void
deliver_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  GError *error = NULL;

  if (deliver (task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Back on the main thread */
static void
deliver_done (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  VsmtpdMaildirPlugin *self = VSMTPD_MAILDIR_PLUGIN (source_object);
  GTask *task = G_TASK (result);
  Delivery *delivery = g_task_get_task_data (task);
  const char *id = vsmtp_message_get_id (delivery->message);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!g_task_propagate_boolean (task, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* not a failure: the session gave up on the answer */
          g_info ("maildir: %s: delivery of message %s cancelled (the client left, or the "
                  "decision deadline passed, or the session was closed): nothing delivered",
                  delivery->session_id, id);
          return;
        }

      g_warning ("maildir: %s: message %s not delivered: %s",
                 delivery->session_id, id, error->message);
      vsmtp_reply_complete (delivery->reply, 451, "4.3.0",
                            "Error writing message to mailbox, try again later");
      return;
    }

  if (delivery->create_folders)
    self->broken = FALSE;

  /* The thread linked the file into new/, but meanwhile the answer was no
   * longer wanted: the client never got a 250 and will send the message
   * again, so it must not stay delivered. */
  if (g_cancellable_is_cancelled (delivery->cancellable))
    {
      if (g_unlink (delivery->delivered_to) != 0 && errno != ENOENT)
        g_warning ("maildir: %s: delivery of message %s cancelled, but %s cannot be removed: "
                   "%s; the client may send it again (duplicate)",
                   delivery->session_id, id, delivery->delivered_to, g_strerror (errno));
      else
        g_info ("maildir: %s: delivery of message %s cancelled (the client left, or the "
                "decision deadline passed, or the session was closed) after it was written: "
                "%s removed again",
                delivery->session_id, id, delivery->delivered_to);
      return;
    }

  g_info ("maildir: %s: message %s delivered to %s (%" G_GUINT64_FORMAT " bytes)",
          delivery->session_id, id, delivery->delivered_to, delivery->size);
  log_success_notices (delivery, id);

  text = g_strdup_printf ("Ok: queued as %s", id);
  vsmtp_reply_complete (delivery->reply, 250, "2.0.0", text);
}

static char *
format_return_path (VsmtpMessage *message)
{
  VsmtpEnvelope *envelope = vsmtp_message_get_envelope (message);
  VsmtpAddress *sender = envelope != NULL ? vsmtp_envelope_get_sender (envelope) : NULL;
  const char *address;

  if (sender == NULL || vsmtp_address_is_null (sender))
    return g_strdup ("Return-Path: <>\r\n");

  address = vsmtp_address_to_string (sender);
  if (address[0] == '<')
    return g_strdup_printf ("Return-Path: %s\r\n", address);
  else
    return g_strdup_printf ("Return-Path: <%s>\r\n", address);
}

static VsmtpReply *
on_message_received (VsmtpSession *session,
                     VsmtpMessage *message,
                     gpointer      user_data)
{
  VsmtpdMaildirPlugin *self = user_data;
  g_autoptr(GTask) task = NULL;
  Delivery *delivery;

  delivery = g_new0 (Delivery, 1);
  delivery->message = g_object_ref (message);
  delivery->reply = vsmtp_reply_new_pending ();
  /* made here, on the main thread, for the worker to look at */
  delivery->cancellable = g_object_ref (vsmtp_reply_get_cancellable (delivery->reply));
  delivery->session_id = g_strdup (vsmtp_session_get_id (session));
  delivery->return_path = format_return_path (message);
  delivery->path = g_strdup (self->path);
  delivery->hostname = g_strdup (self->hostname);
  delivery->create_folders = self->broken;

  task = g_task_new (self, delivery->cancellable, deliver_done, NULL);
  g_task_set_source_tag (task, on_message_received);
  /* deliver_done must know whether the file reached new/ even when the
   * cancellable was cancelled meanwhile: no automatic CANCELLED result */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, delivery, delivery_free);
  g_task_run_in_thread (task, deliver_thread);

  return g_object_ref (delivery->reply);
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  VsmtpdMaildirPlugin *self = user_data;

  g_signal_connect_object (session, "message-received",
                           G_CALLBACK (on_message_received), self, 0);
}

static gboolean
sweep_tmp (gpointer user_data)
{
  VsmtpdMaildirPlugin *self = user_data;
  g_autofree char *tmp = g_build_filename (self->path, "tmp", NULL);
  g_autoptr(GError) error = NULL;

  if (!vsmtp_remove_stale_files (tmp, NULL, VSMTP_STALE_FILE_AGE, NULL, &error))
    g_warning ("maildir: cannot look for leftovers: %s", error->message);
  return G_SOURCE_CONTINUE;
}

static void
vsmtpd_maildir_plugin_declare_config (VsmtpPlugin      *plugin,
                                      VsmtpConfigGroup *group)
{
  vsmtp_config_group_add_path (group, "path", NULL,
                               "The maildir every message is delivered into; "
                               "default: $STATE_DIRECTORY/Maildir");
}

static gboolean
vsmtpd_maildir_plugin_configure (VsmtpPlugin       *plugin,
                                 VsmtpConfigGroup  *group,
                                 GError           **error)
{
  VsmtpdMaildirPlugin *self = VSMTPD_MAILDIR_PLUGIN (plugin);
  g_autofree char *path = vsmtp_config_group_dup_string (group, "path");

  if (path == NULL)
    path = default_maildir_path ();

  g_free (self->path);
  self->path = g_canonicalize_filename (path, NULL);
  return TRUE;
}

static void
vsmtpd_maildir_plugin_activate (VsmtpPlugin *plugin)
{
  VsmtpdMaildirPlugin *self = VSMTPD_MAILDIR_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));
  g_autoptr(GError) error = NULL;

  g_return_if_fail (VSMTP_IS_SERVER (server));

  /* not configured (a host program that only activates it): the default */
  if (self->path == NULL)
    self->path = default_maildir_path ();
  g_free (self->hostname);
  self->hostname = escape_hostname (g_get_host_name ());

  if (!create_folders (self->path, &error))
    {
      g_warning ("maildir: %s; every message will be refused with 451 until it can be created",
                 error->message);
      self->broken = TRUE;
    }

  g_info ("maildir: delivering mail into %s", self->path);

  /* what a crash left in tmp/ (the maildir convention: 36 hours), now and
   * daily */
  sweep_tmp (self);
  self->sweep_id = g_timeout_add_seconds (24 * 3600, sweep_tmp, self);

  self->new_session_id = g_signal_connect_object (server, "new-session",
                                                  G_CALLBACK (on_new_session), self, 0);
}

static void
vsmtpd_maildir_plugin_deactivate (VsmtpPlugin *plugin)
{
  VsmtpdMaildirPlugin *self = VSMTPD_MAILDIR_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);
  g_clear_handle_id (&self->sweep_id, g_source_remove);
}

static void
vsmtpd_maildir_plugin_dispose (GObject *object)
{
  VsmtpdMaildirPlugin *self = VSMTPD_MAILDIR_PLUGIN (object);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);

  G_OBJECT_CLASS (vsmtpd_maildir_plugin_parent_class)->dispose (object);
}

static void
vsmtpd_maildir_plugin_finalize (GObject *object)
{
  VsmtpdMaildirPlugin *self = VSMTPD_MAILDIR_PLUGIN (object);

  g_free (self->path);
  g_free (self->hostname);

  G_OBJECT_CLASS (vsmtpd_maildir_plugin_parent_class)->finalize (object);
}

static void
vsmtpd_maildir_plugin_class_init (VsmtpdMaildirPluginClass *klass)
{
  VsmtpPluginClass *plugin_class = VSMTP_PLUGIN_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vsmtpd_maildir_plugin_dispose;
  object_class->finalize = vsmtpd_maildir_plugin_finalize;

  plugin_class->declare_config = vsmtpd_maildir_plugin_declare_config;
  plugin_class->configure = vsmtpd_maildir_plugin_configure;
  plugin_class->activate = vsmtpd_maildir_plugin_activate;
  plugin_class->deactivate = vsmtpd_maildir_plugin_deactivate;
}

static void
vsmtpd_maildir_plugin_class_finalize (VsmtpdMaildirPluginClass *klass)
{
}

static void
vsmtpd_maildir_plugin_init (VsmtpdMaildirPlugin *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  vsmtpd_maildir_plugin_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module,
                                              VSMTP_TYPE_ACTIVATABLE,
                                              VSMTPD_TYPE_MAILDIR_PLUGIN);
}

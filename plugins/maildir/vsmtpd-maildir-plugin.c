/* vsmtpd-maildir-plugin.c: delivers every message into one maildir
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE   /* renameat2() */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-maildir"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libpeas/peas.h>
#include <vsmtp.h>

#include "vsmtpd-maildir-map.h"
#include "vsmtpd-maildir-queue.h"
#include "vsmtpd-maildir-sync.h"

/* The maildir plugin takes durable responsibility for a message: the 250
 * is only sent after the file was fsync()ed, moved (or linked) into new/
 * and new/ itself fsync()ed. The delivery runs in a worker thread so that a slow
 * disk never blocks the sessions of the main loop; the session gets a
 * pending reply that the main thread completes when the thread is done.
 * The workers take the messages in batches (vsmtpd-maildir-queue.c), and
 * the fsync() of a new/ covers every link made into it before it started,
 * by any worker (vsmtpd-maildir-sync.c): the links of concurrent
 * deliveries share one.
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
 *
 * One maildir per recipient: `path` may contain `%u` (the local part),
 * `%d` (the domain, in lower case), `%a` (local@domain) and `%%`, or
 * `path-map` names a file of `address path` lines (virtual users, read
 * again when it changed: a stat() per message). Then each recipient gets
 * its own reply (vsmtp_reply_complete_for_recipients(): an LMTP client
 * sees each, an SMTP client the server's one-reply rule): an unknown user
 * of the map 550 5.1.1, a missing maildir that `create-directories = false`
 * forbids creating 450 4.2.0, a full disk (ENOSPC) 452 4.3.1, a quota
 * (EDQUOT) 452 4.2.2 (RFC 3463: "persistent transient"), a permission
 * problem and any other failure 451 4.3.0; the others get their 250.
 *
 * The content is written and fsync()ed once per file system: the file in
 * the first recipient's tmp/ is hard-linked into the new/ of every
 * recipient whose tmp/ is on the same device, and a copy is written only
 * for a recipient on another one (or where link() fails: EXDEV between
 * mounts, a file system without hard links). The last copy written is
 * moved into new/ with renameat2(RENAME_NOREPLACE) (one system call; a
 * link() where the file system has no such rename). Each new/ is fsync()ed
 * before the reply, and a file in tmp/ that was linked is removed once
 * every link is made and new/ synced.
 * Recipients with the same maildir share one file. With `delivered-to =
 * true` each copy starts with its own `Delivered-To:` line, so nothing can
 * be shared: every recipient's copy is written (and synced) on its own.
 */

#define VSMTPD_TYPE_MAILDIR_PLUGIN (vsmtpd_maildir_plugin_get_type ())
G_DECLARE_FINAL_TYPE (VsmtpdMaildirPlugin, vsmtpd_maildir_plugin, VSMTPD, MAILDIR_PLUGIN, VsmtpPlugin)

struct _VsmtpdMaildirPlugin
{
  VsmtpPlugin      parent_instance;

  gulong       new_session_id;

  char        *path;
  char        *hostname;   /* escaped for use in a file name */
  guint        sweep_id;   /* the daily sweep of tmp/ */

  gboolean     path_per_recipient;   /* path has %u, %d or %a */
  MaildirMap  *map;                  /* path-map, or NULL */
  gboolean     create_directories;
  gboolean     delivered_to;
  VsmtpMetric *deliveries;           /* the server's vsmtp_deliveries_total */
  MaildirQueue *queue;               /* the worker threads, made at the first message */
  MaildirSync  *sync;                /* the fsync()s of new/ they share */
};

/* The content is copied in chunks of this size, so that a cancelled
 * delivery of a large message stops early. */
#define COPY_CHUNK (256 * 1024)

/* The most deliveries a worker thread takes at once: they wait for each
 * other's writes, so that their new/ is synced once for all. */
#define MAILDIR_BATCH_MAX 32

/* Worker threads per processor. The work is system calls, and on a real
 * disk mostly waiting in fsync(): while one worker waits, the messages
 * that came meanwhile go to another, whose fsync() the file system can
 * merge into the same journal commit. On tmpfs a second worker is seldom
 * woken (the first is done before the next iteration of the main loop). */
#ifndef MAILDIR_WORKERS_PER_CPU
#define MAILDIR_WORKERS_PER_CPU 4
#endif

/* Where one copy goes: one per recipient, or one for the whole message
 * when every recipient shares the one maildir. */
typedef struct
{
  char         *address;     /* the recipient (Delivered-To:, logs), or NULL */
  char         *maildir;     /* NULL: refused before any write (refusal) */
  VsmtpReply   *refusal;
  int           same_as;     /* an earlier target with the same maildir, or -1 */

  /* set by the worker thread */
  GError       *error;
  char         *delivered;   /* the file in new/ */
  char         *new_dir;     /* its folder, */
  guint64       ticket;      /* and the ticket of the link (vsmtpd-maildir-sync.c) */
  guint64       size;
} Target;

typedef struct
{
  VsmtpdMaildirPlugin *plugin;   /* a reference, for the worker's result */
  GError       *cancelled;     /* set by the worker: nothing delivered */
  VsmtpMessage *message;
  VsmtpReply   *reply;
  GCancellable *cancellable;   /* the reply's: the answer is no longer wanted */
  char         *session_id;
  char         *return_path;
  char         *hostname;
  gboolean      create_folders;
  gboolean      delivered_to;  /* a Delivered-To: line per copy */
  gboolean      per_recipient; /* one reply per recipient */
  GArray       *targets;       /* of Target */
} Delivery;

G_DEFINE_DYNAMIC_TYPE_EXTENDED (VsmtpdMaildirPlugin, vsmtpd_maildir_plugin, VSMTP_TYPE_PLUGIN,
                                G_TYPE_FLAG_FINAL, {})

static void
target_clear (gpointer data)
{
  Target *target = data;

  g_free (target->address);
  g_free (target->maildir);
  g_clear_object (&target->refusal);
  g_clear_error (&target->error);
  g_free (target->delivered);
  g_free (target->new_dir);
}

static void
delivery_free (gpointer data)
{
  Delivery *delivery = data;

  g_clear_object (&delivery->plugin);
  g_clear_error (&delivery->cancelled);
  g_clear_object (&delivery->message);
  g_clear_object (&delivery->reply);
  g_clear_object (&delivery->cancellable);
  g_free (delivery->session_id);
  g_free (delivery->return_path);
  g_free (delivery->hostname);
  g_clear_pointer (&delivery->targets, g_array_unref);
  g_free (delivery);
}

/* RFC 3461 6.2 asks for a "delivered" notice for each recipient that gave
 * NOTIFY=SUCCESS; vsmtpd sends no notices (docs/extensions.md, DSN): the
 * log says which were asked for. @index: the delivered recipient, or -1
 * for all of them (one maildir for the message). */
static void
log_success_notices (Delivery   *delivery,
                     const char *id,
                     int         index)
{
  VsmtpEnvelope *envelope = vsmtp_message_get_envelope (delivery->message);

  for (guint i = 0; i < vsmtp_envelope_get_n_recipients (envelope); i++)
    if ((index < 0 || (guint) index == i) &&
        vsmtp_envelope_get_recipient_dsn_notify (envelope, i) & VSMTP_DSN_NOTIFY_SUCCESS)
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

/* What the deliveries of one batch share: the fsync()s of new/ (with every
 * worker), and the names in tmp/ to remove once new/ is synced. */
typedef struct
{
  MaildirSync *sync;
  GPtrArray   *leftovers;
} Batch;

/* The prefix and a message held in memory in one writev() (most messages):
 * *@written, the size of the file; else the prefix, then the content as
 * write_content() copies it (*@written is 0: fstat() tells). */
static gboolean
write_prefix_and_content (VsmtpMessage  *message,
                          int            fd,
                          const char    *prefix,
                          const char    *file,
                          GCancellable  *cancellable,
                          guint64       *written,
                          GError       **error)
{
  GBytes *bytes = vsmtp_message_get_size (message) <= COPY_CHUNK
                  ? vsmtp_message_get_bytes (message) : NULL;
  struct iovec iov[2];
  guint first = 0;

  *written = 0;
  if (bytes == NULL)
    return write_all (fd, prefix, strlen (prefix), file, error) &&
           write_content (message, fd, file, cancellable, error);

  iov[0].iov_base = (void *) prefix;
  iov[0].iov_len = strlen (prefix);
  iov[1].iov_base = (void *) g_bytes_get_data (bytes, &iov[1].iov_len);
  *written = iov[0].iov_len + iov[1].iov_len;
  while (first < G_N_ELEMENTS (iov))
    {
      gssize n = writev (fd, iov + first, G_N_ELEMENTS (iov) - first);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return set_error_from_errno (error, errno, "Cannot write", file);
        }
      /* a short write: on from where it stopped */
      while (first < G_N_ELEMENTS (iov) && (gsize) n >= iov[first].iov_len)
        n -= iov[first++].iov_len;
      if (first < G_N_ELEMENTS (iov))
        {
          iov[first].iov_base = (char *) iov[first].iov_base + n;
          iov[first].iov_len -= n;
        }
    }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* link() (or, with @move, renameat2() with RENAME_NOREPLACE, which like
 * link() never replaces a file of the same name, and takes the name out of
 * tmp/ in the same system call: -1 with EINVAL or ENOSYS where the file
 * system or the kernel has no such rename) into @maildir's new/. A new/
 * that is missing is created first when @create allows it: another worker
 * may be creating the maildir's folders at the same moment (tmp/ already
 * there, new/ not yet). */
static int
put_into_new (const char *from,
              const char *to,
              const char *maildir,
              gboolean    create,
              gboolean    move)
{
  g_autoptr(GError) error = NULL;

  for (guint attempt = 0; ; attempt++)
    {
      if ((move ? renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE)
                : link (from, to)) == 0)
        return 0;
      if (attempt > 0 || errno != ENOENT || !create)
        return -1;
      if (!create_folders (maildir, &error))
        {
          errno = ENOENT;
          return -1;
        }
    }
}

static int
link_into_new (const char *from,
               const char *to,
               const char *maildir,
               gboolean    create)
{
  return put_into_new (from, to, maildir, create, FALSE);
}

static gboolean
link_or_rename (const char  *tmp_path,
                const char  *new_path,
                const char  *maildir,
                gboolean     create,
                Batch       *batch,
                GError     **error)
{
  /* one system call instead of a link() and, once new/ is synced, an
   * unlink(): a crash before that sync leaves the name in tmp/ or in new/
   * (the rename is atomic), the reply not sent either way */
  if (put_into_new (tmp_path, new_path, maildir, create, TRUE) == 0)
    return TRUE;
  if (errno != EINVAL && errno != ENOSYS)
    return set_error_from_errno (error, errno, "Cannot move the message to", new_path);

  if (link_into_new (tmp_path, new_path, maildir, create) == 0)
    {
      g_ptr_array_add (batch->leftovers, g_strdup (tmp_path));
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

/* A name unique to this delivery attempt: SECONDS.MmicrosecondsPpidQn.HOST */
static char *
unique_name (const char *hostname)
{
  static int counter = 0;
  static int pid = 0;   /* vsmtpd's workers are exec'd, not forked: one per process */
  gint64 now = g_get_real_time ();

  if (g_atomic_int_get (&pid) == 0)
    g_atomic_int_set (&pid, (int) getpid ());
  return g_strdup_printf ("%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT "P%dQ%d.%s",
                          now / G_USEC_PER_SEC, now % G_USEC_PER_SEC,
                          g_atomic_int_get (&pid), g_atomic_int_add (&counter, 1) + 1,
                          hostname);
}

/* Opens a new file in @maildir/tmp, creating the maildir's folders when
 * they are missing and @create allows it. */
static int
open_tmp (const char  *maildir,
          const char  *name,
          gboolean     create,
          char       **tmp_path,
          GError     **error)
{
  int fd;

  *tmp_path = g_build_filename (maildir, "tmp", name, NULL);
  fd = open (*tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT && create)
    {
      if (!create_folders (maildir, error))
        return -1;
      fd = open (*tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    }
  if (fd < 0)
    set_error_from_errno (error, errno, "Cannot create", *tmp_path);
  return fd;
}

/* Writes @prefix and the message's content into a new file in
 * @maildir/tmp and syncs it: its path and size. Runs in the worker thread. */
static gboolean
write_tmp (Delivery     *delivery,
           const char   *maildir,
           const char   *prefix,
           char        **tmp_path,
           guint64      *size,
           GError      **error)
{
  g_autofree char *name = unique_name (delivery->hostname);
  GCancellable *cancellable = delivery->cancellable;
  struct stat st;
  int fd;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  fd = open_tmp (maildir, name, delivery->create_folders, tmp_path, error);
  if (fd < 0)
    {
      g_clear_pointer (tmp_path, g_free);
      return FALSE;
    }

  if (!write_prefix_and_content (delivery->message, fd, prefix, *tmp_path, cancellable, size,
                                 error))
    goto failed;

  if (fsync (fd) != 0)
    {
      set_error_from_errno (error, errno, "Cannot sync", *tmp_path);
      goto failed;
    }

  /* S= is the size of the file as stored: what the one writev() wrote,
   * else what fstat() says */
  if (*size == 0)
    {
      *size = strlen (prefix) + vsmtp_message_get_size (delivery->message);
      if (fstat (fd, &st) == 0)
        *size = st.st_size;
    }

  /* close() may report a deferred write error (NFS) */
  if (close (fd) != 0)
    {
      fd = -1;
      set_error_from_errno (error, errno, "Cannot close", *tmp_path);
      goto failed;
    }
  return TRUE;

failed:
  if (fd >= 0)
    close (fd);
  g_unlink (*tmp_path);
  g_clear_pointer (tmp_path, g_free);
  return FALSE;
}

/* A file written and synced in some tmp/, to be hard-linked into the new/
 * of every recipient on the same device. */
typedef struct
{
  dev_t    dev;
  char    *tmp_path;
  guint64  size;
} Source;

static void
source_clear (gpointer data)
{
  Source *source = data;

  g_free (source->tmp_path);
}

static gboolean
no_hard_link (int saved_errno)
{
  return saved_errno == EXDEV || saved_errno == EPERM || saved_errno == ENOSYS ||
         saved_errno == EOPNOTSUPP || saved_errno == EMLINK;
}

/* Delivers one copy into @target's maildir: a link to a source on its
 * device, else a new file (a source for the targets after it, unless
 * @shareable is FALSE or no copy comes after it: @last). Runs in the
 * worker thread. */
static gboolean
deliver_target (Delivery  *delivery,
                Target    *target,
                GArray    *sources,
                gboolean   last,
                Batch     *batch,
                GError   **error)
{
  g_autofree char *tmp_dir = g_build_filename (target->maildir, "tmp", NULL);
  g_autofree char *new_dir = g_build_filename (target->maildir, "new", NULL);
  g_autofree char *unique = unique_name (delivery->hostname);
  g_autofree char *prefix = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree char *new_path = NULL;
  g_autofree char *name = NULL;
  gboolean shareable = !delivery->delivered_to;
  struct stat st;
  guint64 size;

  if (g_cancellable_set_error_if_cancelled (delivery->cancellable, error))
    return FALSE;

  /* the maildir's device, to link to a file already written there */
  if (shareable && sources->len > 0 && stat (tmp_dir, &st) != 0 && errno == ENOENT &&
      delivery->create_folders && !create_folders (target->maildir, error))
    return FALSE;
  if (shareable && sources->len > 0 && stat (tmp_dir, &st) == 0)
    for (guint i = 0; i < sources->len; i++)
      {
        Source *source = &g_array_index (sources, Source, i);

        if (source->dev != st.st_dev)
          continue;
        name = g_strdup_printf ("%s,S=%" G_GUINT64_FORMAT, unique, source->size);
        new_path = g_build_filename (new_dir, name, NULL);
        if (link_into_new (source->tmp_path, new_path, target->maildir,
                           delivery->create_folders) == 0)
          {
            target->size = source->size;
            goto linked;
          }
        if (!no_hard_link (errno))
          return set_error_from_errno (error, errno, "Cannot link the message to", new_path);
        /* another mount of the same file system, or no hard links: a copy */
        g_clear_pointer (&name, g_free);
        g_clear_pointer (&new_path, g_free);
        break;
      }

  prefix = delivery->delivered_to && target->address != NULL
           ? g_strdup_printf ("%sDelivered-To: %s\r\n", delivery->return_path, target->address)
           : g_strdup (delivery->return_path);
  if (!write_tmp (delivery, target->maildir, prefix, &tmp_path, &size, error))
    return FALSE;
  target->size = size;
  name = g_strdup_printf ("%s,S=%" G_GUINT64_FORMAT, unique, size);
  new_path = g_build_filename (new_dir, name, NULL);

  /* the last moment the delivery can be given up without undoing it */
  if (g_cancellable_set_error_if_cancelled (delivery->cancellable, error))
    {
      g_unlink (tmp_path);
      return FALSE;
    }

  if (shareable && !last && stat (tmp_path, &st) == 0 &&
      link_into_new (tmp_path, new_path, target->maildir, delivery->create_folders) == 0)
    {
      Source source = { st.st_dev, g_steal_pointer (&tmp_path), size };

      g_array_append_val (sources, source);
      goto linked;
    }
  if (!link_or_rename (tmp_path, new_path, target->maildir, delivery->create_folders, batch,
                       error))
    {
      g_unlink (tmp_path);
      return FALSE;
    }

linked:
  /* new/ is synced once the batch is linked (deliver_batch()), before any
   * reply */
  target->ticket = maildir_sync_note (batch->sync, new_dir);
  target->new_dir = g_steal_pointer (&new_dir);
  target->delivered = g_steal_pointer (&new_path);
  return TRUE;
}

/* every link is made: the names in tmp/ are not needed any more, once
 * new/ is synced */
static void
sources_to_leftovers (GArray *sources,
                      Batch  *batch)
{
  for (guint i = 0; i < sources->len; i++)
    g_ptr_array_add (batch->leftovers,
                     g_steal_pointer (&g_array_index (sources, Source, i).tmp_path));
}

/* Runs in a worker thread: FALSE only when cancelled (then nothing stays
 * delivered); each target's failure is its own. The links into new/ are
 * made, the folders not synced yet. */
static gboolean
deliver (Delivery  *delivery,
         Batch     *batch,
         GError   **error)
{
  g_autoptr(GArray) sources = g_array_new (FALSE, TRUE, sizeof (Source));
  guint last = 0;

  g_array_set_clear_func (sources, source_clear);
  /* the last copy written: no copy after it links to its file */
  for (guint i = 0; i < delivery->targets->len; i++)
    {
      Target *target = &g_array_index (delivery->targets, Target, i);

      if (target->maildir != NULL && target->same_as < 0)
        last = i;
    }

  for (guint i = 0; i < delivery->targets->len; i++)
    {
      Target *target = &g_array_index (delivery->targets, Target, i);
      GError *local_error = NULL;

      if (target->maildir == NULL || target->same_as >= 0)
        continue;
      if (!deliver_target (delivery, target, sources, i == last, batch, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_propagate_error (error, local_error);
              goto cancelled;
            }
          target->error = local_error;
        }
    }
  sources_to_leftovers (sources, batch);
  return TRUE;

cancelled:
  sources_to_leftovers (sources, batch);
  for (guint i = 0; i < delivery->targets->len; i++)
    {
      Target *target = &g_array_index (delivery->targets, Target, i);

      if (target->delivered != NULL)
        g_unlink (target->delivered);
      g_clear_pointer (&target->delivered, g_free);
    }
  return FALSE;
}

/* Each link made into a new/ is durable once that new/ was fsync()ed
 * afterwards; one that is not is taken back and gets a 4xx (the client
 * sends it again). */
static void
sync_links (Delivery *delivery,
            Batch    *batch)
{
  for (guint j = 0; j < delivery->targets->len; j++)
    {
      Target *target = &g_array_index (delivery->targets, Target, j);
      GError *error = NULL;

      if (target->ticket == 0)
        continue;
      if (target->delivered == NULL)
        maildir_sync_forget (batch->sync, target->new_dir);   /* taken back */
      else if (!maildir_sync_wait (batch->sync, target->new_dir, target->ticket, &error))
        {
          g_unlink (target->delivered);
          g_clear_pointer (&target->delivered, g_free);
          g_clear_error (&target->error);
          target->error = error;
        }
      target->ticket = 0;
    }
}

/* Runs in a worker thread with deliveries queued meanwhile: each file is
 * written, fsync()ed and linked into its new/; then each new/ is fsync()ed
 * once for all the links into it (by this batch and by the other workers
 * meanwhile: group commit), and only then are the replies made
 * (deliver_done()). */
static void
deliver_batch (GPtrArray *deliveries,
               gpointer   user_data)
{
  Delivery *first = deliveries->pdata[0];
  Batch batch = { first->plugin->sync, g_ptr_array_new_with_free_func (g_free) };

  for (guint i = 0; i < deliveries->len; i++)
    {
      Delivery *delivery = deliveries->pdata[i];

      deliver (delivery, &batch, &delivery->cancelled);
    }

  for (guint i = 0; i < deliveries->len; i++)
    sync_links (deliveries->pdata[i], &batch);

  for (guint i = 0; i < batch.leftovers->len; i++)
    if (g_unlink (batch.leftovers->pdata[i]) != 0)
      g_debug ("maildir: cannot remove %s: %s", (char *) batch.leftovers->pdata[i],
               g_strerror (errno));

  g_ptr_array_unref (batch.leftovers);
}

/* The reply for a copy that could not be written (RFC 3463 codes). */
static VsmtpReply *
reply_for_error (const GError *error,
                 const char   *address)
{
  g_autofree char *who = address != NULL ? g_strdup_printf ("<%s>: ", address) : g_strdup ("");

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
    return vsmtp_reply_new_printf (452, "4.3.1", "%sInsufficient system storage, try again later", who);
  /* GIO has no code for EDQUOT: its text tells */
  if (g_str_has_suffix (error->message, g_strerror (EDQUOT)))
    return vsmtp_reply_new_printf (452, "4.2.2", "%sMailbox full, try again later", who);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return vsmtp_reply_new_printf (450, "4.2.0", "%sMailbox unavailable, try again later", who);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY))
    return vsmtp_reply_new_printf (451, "4.3.0", "%sMailbox not writable, try again later", who);
  return vsmtp_reply_new_printf (451, "4.3.0", "%sError writing message to mailbox, try again later", who);
}

/* Back on the main thread */
/* vsmtp_deliveries_total{plugin="maildir"}: by the class of @reply, or
 * cancelled (NULL) */
static void
count_delivery_code (VsmtpdMaildirPlugin *self,
                     guint                code)
{
  if (self->deliveries != NULL)
    vsmtp_metric_inc (self->deliveries,
                      (const char *[]) { "maildir", code == 0 ? "cancelled" : code >= 500 ? "5xx" :
                                                    code >= 400 ? "4xx" : "2xx", NULL });
}

static void
count_delivery (VsmtpdMaildirPlugin *self,
                VsmtpReply          *reply)
{
  count_delivery_code (self, reply != NULL ? vsmtp_reply_get_code (reply) : 0);
}

/* The INFO line of a delivered copy: "maildir: SESSION: message ID
 * delivered to FILE (SIZE bytes)". Made without printf: g_info() spent
 * most of its 5,000 instructions a message in vasprintf(). */
static void
log_delivered (Delivery     *delivery,
               const char   *id,
               const Target *target)
{
  char size[24];
  char *p = size + sizeof size;
  guint64 n = target->size;
  char *message;
  GLogField fields[] = {
    { "PRIORITY", "6", -1 },   /* syslog's LOG_INFO, as g_info() gives it */
    { "MESSAGE", NULL, -1 },
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
  };

  *--p = '\0';
  do
    *--p = '0' + n % 10;
  while ((n /= 10) > 0);
  message = g_strconcat ("maildir: ", delivery->session_id, ": message ", id, " delivered to ",
                         target->delivered, " (", p, " bytes)", NULL);
  fields[1].value = message;
  g_log_structured_array (G_LOG_LEVEL_INFO, fields, G_N_ELEMENTS (fields));
  g_free (message);
}

static void
deliver_reply (VsmtpdMaildirPlugin *self,
               Delivery            *delivery)
{
  const char *id = vsmtp_message_get_id (delivery->message);
  GArray *targets = delivery->targets;
  g_autoptr(GPtrArray) replies = NULL;
  g_autofree char *ok = NULL;

  if (delivery->cancelled != NULL)
    {
      /* not a failure: the session gave up on the answer */
      g_info ("maildir: %s: delivery of message %s cancelled (the client left, or the "
              "decision deadline passed, or the session was closed): nothing delivered",
              delivery->session_id, id);
      count_delivery (self, NULL);
      return;
    }

  /* The thread linked the files into new/, but meanwhile the answer was no
   * longer wanted: the client never got a 250 and will send the message
   * again, so it must not stay delivered. */
  if (g_cancellable_is_cancelled (delivery->cancellable))
    {
      for (guint i = 0; i < targets->len; i++)
        {
          Target *target = &g_array_index (targets, Target, i);

          if (target->delivered == NULL)
            continue;
          if (g_unlink (target->delivered) != 0 && errno != ENOENT)
            g_warning ("maildir: %s: delivery of message %s cancelled, but %s cannot be removed: "
                       "%s; the client may send it again (duplicate)",
                       delivery->session_id, id, target->delivered, g_strerror (errno));
          else
            g_info ("maildir: %s: delivery of message %s cancelled (the client left, or the "
                    "decision deadline passed, or the session was closed) after it was written: "
                    "%s removed again",
                    delivery->session_id, id, target->delivered);
        }
      count_delivery (self, NULL);
      return;
    }

  ok = g_strconcat ("Ok: queued as ", id, NULL);

  /* one maildir for the message, delivered (the common case): the pending
   * reply is completed in place, without a reply of its own made, copied
   * and freed */
  if (!delivery->per_recipient && targets->len == 1 &&
      g_array_index (targets, Target, 0).refusal == NULL &&
      g_array_index (targets, Target, 0).error == NULL)
    {
      log_delivered (delivery, id, &g_array_index (targets, Target, 0));
      log_success_notices (delivery, id, -1);
      count_delivery_code (self, 250);
      vsmtp_reply_complete (delivery->reply, 250, "2.0.0", ok);
      return;
    }

  replies = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < targets->len; i++)
    {
      Target *target = &g_array_index (targets, Target, i);
      Target *written = target->same_as >= 0 ? &g_array_index (targets, Target, target->same_as)
                                             : target;
      VsmtpReply *reply;

      if (target->refusal != NULL)
        reply = g_object_ref (target->refusal);
      else if (written->error != NULL)
        {
          if (target == written)
            g_warning ("maildir: %s: message %s not delivered%s%s: %s",
                       delivery->session_id, id, target->address ? " to " : "",
                       target->address ? target->address : "", written->error->message);
          reply = reply_for_error (written->error, target->address);
        }
      else
        {
          if (target == written)
            log_delivered (delivery, id, target);
          log_success_notices (delivery, id, delivery->per_recipient ? (int) i : -1);
          reply = vsmtp_reply_new (250, "2.0.0", ok);
        }
      count_delivery (self, reply);
      g_ptr_array_add (replies, reply);
    }

  if (delivery->per_recipient)
    vsmtp_reply_complete_for_recipients (delivery->reply, (VsmtpReply **) replies->pdata,
                                         replies->len);
  else
    vsmtp_reply_complete_with (delivery->reply, replies->pdata[0]);
}

/* Back on the main thread, for each delivery of a batch */
static void
deliver_done (gpointer item,
              gpointer user_data)
{
  Delivery *delivery = item;

  deliver_reply (delivery->plugin, delivery);
  /* may release the last reference to the plugin */
  delivery_free (delivery);
}

static char *
format_return_path (VsmtpMessage *message)
{
  VsmtpEnvelope *envelope = vsmtp_message_get_envelope (message);
  VsmtpAddress *sender = envelope != NULL ? vsmtp_envelope_get_sender (envelope) : NULL;
  const char *address;

  if (sender == NULL || vsmtp_address_is_null (sender))
    return g_strdup ("Return-Path: <>\r\n");

  /* (g_strconcat(): a printf costs a thousand instructions more, per message) */
  address = vsmtp_address_to_string (sender);
  if (address[0] == '<')
    return g_strconcat ("Return-Path: ", address, "\r\n", NULL);
  else
    return g_strconcat ("Return-Path: <", address, ">\r\n", NULL);
}

/* Where the copies go, decided on the main thread: one target per
 * recipient (@per_recipient), or one for the message when every recipient
 * shares the one maildir and no copy has a Delivered-To: line of its own. */
static GArray *
find_targets (VsmtpdMaildirPlugin *self,
              VsmtpEnvelope       *envelope,
              gboolean            *per_recipient)
{
  guint n = envelope != NULL ? vsmtp_envelope_get_n_recipients (envelope) : 0;
  GArray *targets = g_array_sized_new (FALSE, TRUE, sizeof (Target), MAX (n, 1));

  g_array_set_clear_func (targets, target_clear);
  *per_recipient = n > 0 && (self->map != NULL || self->path_per_recipient || self->delivered_to);
  if (!*per_recipient)
    {
      Target target = { NULL, g_strdup (self->path), NULL, -1 };

      g_array_append_val (targets, target);
      return targets;
    }

  if (self->map != NULL)
    maildir_map_refresh (self->map);

  for (guint i = 0; i < n; i++)
    {
      VsmtpAddress *recipient = vsmtp_envelope_get_recipient (envelope, i);
      Target target = { maildir_address_key (recipient), NULL, NULL, -1 };

      target.maildir = self->map != NULL ? maildir_map_lookup (self->map, recipient)
                                         : maildir_template_expand (self->path, recipient);
      if (target.maildir == NULL)
        {
          g_autofree char *escaped = vsmtp_log_escape (target.address, -1);

          g_info ("maildir: no mailbox for <%s>", escaped);
          target.refusal = vsmtp_reply_new_printf (550, "5.1.1", "<%s>: Recipient address rejected: "
                                                   "no such mailbox", escaped);
        }
      else if (!self->delivered_to)
        {
          for (guint j = 0; j < targets->len; j++)
            if (g_strcmp0 (g_array_index (targets, Target, j).maildir, target.maildir) == 0 &&
                g_array_index (targets, Target, j).same_as < 0)
              {
                target.same_as = j;
                break;
              }
        }
      g_array_append_val (targets, target);
    }
  return targets;
}

static VsmtpReply *
on_message_received (VsmtpSession *session,
                     VsmtpMessage *message,
                     gpointer      user_data)
{
  VsmtpdMaildirPlugin *self = user_data;
  Delivery *delivery;
  VsmtpReply *reply;

  delivery = g_new0 (Delivery, 1);
  delivery->plugin = g_object_ref (self);
  delivery->message = g_object_ref (message);
  delivery->reply = vsmtp_reply_new_pending ();
  /* made here, on the main thread, for the worker to look at */
  delivery->cancellable = g_object_ref (vsmtp_reply_get_cancellable (delivery->reply));
  delivery->session_id = g_strdup (vsmtp_session_get_id (session));
  delivery->return_path = format_return_path (message);
  delivery->hostname = g_strdup (self->hostname);
  delivery->create_folders = self->create_directories;
  delivery->delivered_to = self->delivered_to;
  delivery->targets = find_targets (self, vsmtp_message_get_envelope (message),
                                    &delivery->per_recipient);

  /* worker threads sized to the machine (MAILDIR_WORKERS_PER_CPU) */
  if (self->sync == NULL)
    self->sync = maildir_sync_new ();
  if (self->queue == NULL)
    self->queue = maildir_queue_new (g_get_num_processors () * MAILDIR_WORKERS_PER_CPU, MAILDIR_BATCH_MAX,
                                     deliver_batch, deliver_done, NULL);
  /* deliver_done must know whether the file reached new/ even when the
   * cancellable was cancelled meanwhile: it looks at it itself */
  reply = g_object_ref (delivery->reply);
  maildir_queue_push (self->queue, delivery);
  return reply;
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
                               "The maildir every message is delivered into, or one per "
                               "recipient with %u (local part), %d (domain), %a (address), "
                               "%% (a %); default: $STATE_DIRECTORY/Maildir");
  vsmtp_config_group_add_path (group, "path-map", NULL,
                               "A file of \"address maildir\" lines (virtual users; read again "
                               "when it changes), instead of path: other recipients are refused "
                               "with 550 5.1.1");
  vsmtp_config_group_add_boolean (group, "create-directories", TRUE,
                                  "Create a maildir that does not exist yet (else: 450 4.2.0)");
  vsmtp_config_group_add_boolean (group, "delivered-to", FALSE,
                                  "Start each copy with a Delivered-To: line naming its recipient");
}

static gboolean
vsmtpd_maildir_plugin_configure (VsmtpPlugin       *plugin,
                                 VsmtpConfigGroup  *group,
                                 GError           **error)
{
  VsmtpdMaildirPlugin *self = VSMTPD_MAILDIR_PLUGIN (plugin);
  g_autofree char *path = vsmtp_config_group_dup_string (group, "path");
  g_autofree char *map_file = vsmtp_config_group_dup_string (group, "path-map");
  g_autoptr(MaildirMap) map = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean per_recipient = FALSE;

  /* path-map replaces path (which vsmtpd always sets: its default) */
  if (path == NULL)
    path = default_maildir_path ();
  if (!maildir_template_check (path, &per_recipient, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "[maildir] path: %s", local_error->message);
      return FALSE;
    }
  if (map_file != NULL)
    {
      g_autofree char *absolute = g_canonicalize_filename (map_file, NULL);

      map = maildir_map_new (absolute, &local_error);
      if (map == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "[maildir] path-map: %s", local_error->message);
          return FALSE;
        }
    }

  g_free (self->path);
  self->path = g_canonicalize_filename (path, NULL);
  self->path_per_recipient = per_recipient;
  g_clear_pointer (&self->map, maildir_map_free);
  self->map = g_steal_pointer (&map);
  self->create_directories = vsmtp_config_group_get_boolean (group, "create-directories");
  self->delivered_to = vsmtp_config_group_get_boolean (group, "delivered-to");
  return TRUE;
}

static void
vsmtpd_maildir_plugin_activate (VsmtpPlugin *plugin)
{
  VsmtpdMaildirPlugin *self = VSMTPD_MAILDIR_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));
  g_autoptr(GError) error = NULL;

  g_return_if_fail (VSMTP_IS_SERVER (server));

  g_set_object (&self->deliveries,
                vsmtp_metrics_lookup (vsmtp_server_get_metrics (server), "vsmtp_deliveries_total"));
  /* not configured (a host program that only activates it): the default */
  if (self->path == NULL)
    self->path = default_maildir_path ();
  g_free (self->hostname);
  self->hostname = escape_hostname (g_get_host_name ());

  if (self->map != NULL || self->path_per_recipient)
    {
      g_info ("maildir: delivering mail into one maildir per recipient: %s",
              self->map != NULL ? "path-map" : self->path);
      goto connect;
    }

  /* each delivery tries again to create them (open_tmp()) */
  if (self->create_directories && !create_folders (self->path, &error))
    g_warning ("maildir: %s; every message will be refused with 451 until it can be created",
               error->message);

  g_info ("maildir: delivering mail into %s", self->path);

  /* what a crash left in tmp/ (the maildir convention: 36 hours), now and
   * daily */
  sweep_tmp (self);
  self->sweep_id = g_timeout_add_seconds (24 * 3600, sweep_tmp, self);

connect:
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
  g_clear_pointer (&self->map, maildir_map_free);
  g_clear_object (&self->deliveries);
  /* every delivery held a reference: none is left */
  g_clear_pointer (&self->queue, maildir_queue_free);
  g_clear_pointer (&self->sync, maildir_sync_free);

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
  /* for a host program that activates it without configuring it */
  self->create_directories = TRUE;
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

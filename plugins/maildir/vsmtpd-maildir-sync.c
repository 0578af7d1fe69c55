/* vsmtpd-maildir-sync.c: one fsync() of a folder for the links made into it
 * meanwhile (group commit)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <gio/gio.h>

#include "vsmtpd-maildir-sync.h"

/* A link into new/ is durable once new/ itself was fsync()ed after the
 * link was made. Each worker thread notes its link (a ticket: the number
 * of links noted in that folder so far) and waits for it: if no fsync()
 * of the folder is under way, it starts one, covering every link noted
 * before; otherwise it waits for the one under way, and when that one
 * started too early to cover its link, for the next, which one of the
 * waiters starts. So the workers that linked into the same folder while
 * one fsync() ran share the next one.
 *
 * A failed fsync() fails every link noted before it started that is still
 * waiting, even one an earlier fsync() covered: the caller takes it back
 * and answers 4xx (the client sends it again), never a 250 for a link
 * that may not be durable. */

typedef struct
{
  guint64  noted;        /* tickets given */
  guint64  synced;       /* every ticket up to it is durable */
  guint64  failed;       /* every ticket up to it that still waits fails */
  int      failed_errno;
  gboolean syncing;
  guint    users;        /* tickets noted and not yet waited for */
} Folder;

struct _MaildirSync
{
  GMutex      mutex;
  GCond       cond;
  GHashTable *folders;   /* path -> Folder; only while it has users */
  guint       waiting;   /* threads in g_cond_wait(): GLib's GCond makes a
                          * system call for every broadcast, waiters or not */
};

MaildirSync *
maildir_sync_new (void)
{
  MaildirSync *sync = g_new0 (MaildirSync, 1);

  g_mutex_init (&sync->mutex);
  g_cond_init (&sync->cond);
  sync->folders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return sync;
}

void
maildir_sync_free (MaildirSync *sync)
{
  g_warn_if_fail (g_hash_table_size (sync->folders) == 0);
  g_hash_table_unref (sync->folders);
  g_cond_clear (&sync->cond);
  g_mutex_clear (&sync->mutex);
  g_free (sync);
}

/**
 * maildir_sync_note:
 * @sync: the folders
 * @dir: the folder a link was just made into (after link() returned)
 *
 * Returns: the ticket of the link, for maildir_sync_wait(); every ticket
 *   must be waited for or forgotten
 */
guint64
maildir_sync_note (MaildirSync *sync,
                   const char  *dir)
{
  Folder *folder;
  guint64 ticket;

  g_mutex_lock (&sync->mutex);
  folder = g_hash_table_lookup (sync->folders, dir);
  if (folder == NULL)
    {
      folder = g_new0 (Folder, 1);
      g_hash_table_insert (sync->folders, g_strdup (dir), folder);
    }
  folder->users++;
  ticket = ++folder->noted;
  g_mutex_unlock (&sync->mutex);
  return ticket;
}

/* Under the mutex */
static void
folder_release (MaildirSync *sync,
                const char  *dir,
                Folder      *folder)
{
  if (--folder->users == 0 && !folder->syncing)
    g_hash_table_remove (sync->folders, dir);
}

static int
sync_folder (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno;

  if (fd < 0)
    return errno;
  saved_errno = fsync (fd) == 0 ? 0 : errno;
  close (fd);
  return saved_errno;
}

/**
 * maildir_sync_wait:
 * @sync: the folders
 * @dir: the folder of maildir_sync_note()
 * @ticket: what it returned
 * @error: the fsync() failure
 *
 * Waits until @dir was fsync()ed after the link of @ticket, starting that
 * fsync() when none is under way. Runs in a worker thread.
 *
 * Returns: whether the link is durable
 */
gboolean
maildir_sync_wait (MaildirSync  *sync,
                   const char   *dir,
                   guint64       ticket,
                   GError      **error)
{
  Folder *folder;
  gboolean ok;

  g_mutex_lock (&sync->mutex);
  folder = g_hash_table_lookup (sync->folders, dir);
  g_assert (folder != NULL);
  for (;;)
    {
      if (folder->failed >= ticket)
        {
          int saved_errno = folder->failed_errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "Cannot sync %s: %s", dir, g_strerror (saved_errno));
          ok = FALSE;
          break;
        }
      if (folder->synced >= ticket)
        {
          ok = TRUE;
          break;
        }
      if (!folder->syncing)
        {
          guint64 covered = folder->noted;
          int saved_errno;

          folder->syncing = TRUE;
          g_mutex_unlock (&sync->mutex);
          saved_errno = sync_folder (dir);
          g_mutex_lock (&sync->mutex);
          folder->syncing = FALSE;
          if (saved_errno == 0)
            folder->synced = MAX (folder->synced, covered);
          else
            {
              folder->failed = MAX (folder->failed, covered);
              folder->failed_errno = saved_errno;
            }
          if (sync->waiting > 0)
            g_cond_broadcast (&sync->cond);
          continue;
        }
      sync->waiting++;
      g_cond_wait (&sync->cond, &sync->mutex);
      sync->waiting--;
    }
  folder_release (sync, dir, folder);
  g_mutex_unlock (&sync->mutex);
  return ok;
}

/**
 * maildir_sync_forget:
 * @sync: the folders
 * @dir: the folder of maildir_sync_note()
 *
 * Gives up a ticket whose link was taken back.
 */
void
maildir_sync_forget (MaildirSync *sync,
                     const char  *dir)
{
  Folder *folder;

  g_mutex_lock (&sync->mutex);
  folder = g_hash_table_lookup (sync->folders, dir);
  g_assert (folder != NULL);
  folder_release (sync, dir, folder);
  g_mutex_unlock (&sync->mutex);
}

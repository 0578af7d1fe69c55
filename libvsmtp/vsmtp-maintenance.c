/* vsmtp-maintenance.c: housekeeping a long-running server needs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "vsmtp-maintenance.h"
#include "vsmtp-trace.h"

/**
 * vsmtp_remove_stale_files:
 * @directory: the folder to clean (a maildir's `tmp/`, a spool folder)
 * @prefix: (nullable): only files whose name starts with it; %NULL: any
 * @max_age: seconds since the last modification past which a file is
 *   removed, e.g. %VSMTP_STALE_FILE_AGE
 * @out_removed: (out) (optional): how many files were removed
 * @error: return location for an error
 *
 * Removes the regular files of @directory (not of its subfolders) that
 * were last modified more than @max_age seconds ago: what a crash left
 * behind in the middle of a delivery or of a spooled message. Each removal
 * is logged (INFO) with the file's name and age. Files that vanish
 * meanwhile are no error; a file that cannot be removed is logged as a
 * warning and skipped.
 *
 * The server runs this on its spool folder when it starts listening and
 * then daily; the maildir plugin on its `tmp/`.
 *
 * Returns: %FALSE if @directory cannot be read (a folder that does not
 *   exist is not an error: nothing to remove)
 */
gboolean
vsmtp_remove_stale_files (const char  *directory,
                          const char  *prefix,
                          guint        max_age,
                          guint       *out_removed,
                          GError     **error)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local_error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *name;
  guint removed = 0;

  g_return_val_if_fail (directory != NULL, FALSE);

  if (out_removed != NULL)
    *out_removed = 0;

  dir = g_dir_open (directory, 0, &local_error);
  if (dir == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      GStatBuf st;

      if (prefix != NULL && !g_str_has_prefix (name, prefix))
        continue;
      path = g_build_filename (directory, name, NULL);
      if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode) ||
          now - (gint64) st.st_mtime <= (gint64) max_age)
        continue;

      if (g_unlink (path) == 0)
        {
          g_autofree char *logged = vsmtp_log_escape (path, -1);

          g_info ("removed %s: left over, last modified %" G_GINT64_FORMAT " hours ago",
                  logged, (now - (gint64) st.st_mtime) / 3600);
          removed++;
        }
      else if (errno != ENOENT)
        {
          int saved_errno = errno;
          g_autofree char *logged = vsmtp_log_escape (path, -1);

          g_warning ("cannot remove the leftover %s: %s", logged, g_strerror (saved_errno));
        }
    }

  if (out_removed != NULL)
    *out_removed = removed;
  return TRUE;
}

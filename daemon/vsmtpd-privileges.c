/* vsmtpd-privileges.c: running as an unprivileged user after start-up
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#define _GNU_SOURCE 1   /* setresuid(), setresgid() */

#include <errno.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vsmtpd-privileges.h"

static gboolean
fail (GError    **error,
      int         saved_errno,
      const char *what)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               "cannot drop privileges (%s): %s", what, g_strerror (saved_errno));
  return FALSE;
}

/**
 * vsmtpd_privileges_drop:
 * @uid: the user to become
 * @gid: its group
 * @user: (nullable): the user's name, for its supplementary groups; %NULL:
 *   no supplementary groups
 * @error: return location for an error
 *
 * Becomes @uid and @gid for good (real, effective and saved IDs), with the
 * supplementary groups of @user (initgroups(3)), keeping one capability,
 * CAP_NET_BIND_SERVICE, so that ports below 1024 can still be bound later
 * (a reload that adds a listener). Called once the listeners are bound and
 * the certificate, its key and the plugins' files were read as root,
 * before the first connection is handled. Afterwards it checks that root
 * cannot be had back.
 *
 * Returns: whether the process now runs as @uid with only that capability
 */
gboolean
vsmtpd_privileges_drop (uid_t        uid,
                        gid_t        gid,
                        const char  *user,
                        GError     **error)
{
  cap_value_t keep[] = { CAP_NET_BIND_SERVICE };
  cap_t caps;
  int ret;

  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    return fail (error, errno, "PR_SET_KEEPCAPS");
  if ((user != NULL ? initgroups (user, gid) : setgroups (0, NULL)) != 0)
    return fail (error, errno, "supplementary groups");
  if (setresgid (gid, gid, gid) != 0)
    return fail (error, errno, "setresgid");
  if (setresuid (uid, uid, uid) != 0)
    return fail (error, errno, "setresuid");
  prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0);

  /* setresuid() left the permitted set and cleared the effective one:
   * keep CAP_NET_BIND_SERVICE in both, nothing else */
  caps = cap_init ();
  if (caps == NULL)
    return fail (error, errno, "cap_init");
  ret = cap_set_flag (caps, CAP_PERMITTED, G_N_ELEMENTS (keep), keep, CAP_SET) == 0 &&
        cap_set_flag (caps, CAP_EFFECTIVE, G_N_ELEMENTS (keep), keep, CAP_SET) == 0 &&
        cap_set_proc (caps) == 0 ? 0 : errno;
  cap_free (caps);
  if (ret != 0)
    return fail (error, ret, "keeping CAP_NET_BIND_SERVICE");

  if (uid != 0 && (setuid (0) == 0 || seteuid (0) == 0))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                   "cannot drop privileges: root could be had back");
      return FALSE;
    }
  return TRUE;
}

/* vsmtpd-dbus-caller.c: the groups of a D-Bus caller's process, for the
 * [server] dbus-group check of vsmtpd-dbus.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The bus policy (org.vsmtp.Vsmtpd1.conf, <policy group=...>) lets a
 * process through on the groups it runs with, which may not be those
 * /etc/group gives its user (setpriv, newgrp, sg, a service's
 * SupplementaryGroups=). vsmtpd accepts those too: from the bus's
 * GetConnectionCredentials, its UnixGroupIDs when the bus tells them
 * (dbus-daemon takes them from the socket, SO_PEERGROUPS), else the
 * process's Gid: and Groups: in /proc/PID/status, only if that process
 * still runs as the uid the bus told (not another that got its pid).
 */
#include "config.h"

#include <string.h>

#include "vsmtpd-dbus-caller.h"

/* @line: "Name:\tN\tN...": whether one of the numbers is @id */
static gboolean
line_has_id (const char *line,
             guint64     id)
{
  g_auto(GStrv) fields = g_strsplit_set (strchr (line, ':') + 1, " \t", -1);

  for (guint i = 0; fields[i] != NULL; i++)
    {
      guint64 value;

      if (fields[i][0] != '\0' &&
          g_ascii_string_to_unsigned (fields[i], 10, 0, G_MAXUINT32, &value, NULL) &&
          value == id)
        return TRUE;
    }
  return FALSE;
}

/* The first field of "Uid:\treal\teffective\tsaved\tfs" */
static gboolean
real_uid_is (const char *line,
             guint32     uid)
{
  guint64 value;
  char *end;

  value = g_ascii_strtoull (strchr (line, ':') + 1, &end, 10);
  return end != strchr (line, ':') + 1 && value == uid;
}

static gboolean
process_has_group (guint32 pid,
                   guint32 uid,
                   gid_t   group)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/status", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean same_user = FALSE, found = FALSE;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "Uid:"))
        same_user = real_uid_is (lines[i], uid);
      else if (g_str_has_prefix (lines[i], "Gid:") || g_str_has_prefix (lines[i], "Groups:"))
        found = found || line_has_id (lines[i], group);
    }
  return same_user && found;
}

/**
 * vsmtpd_dbus_caller_has_group:
 * @credentials: the a{sv} of org.freedesktop.DBus.GetConnectionCredentials
 * @group: the group
 *
 * Returns: whether the caller's process runs with @group, as its gid or
 *   among its supplementary groups
 */
gboolean
vsmtpd_dbus_caller_has_group (GVariant *credentials,
                              gid_t     group)
{
  g_autoptr(GVariant) groups = NULL;
  guint32 uid, pid;

  groups = g_variant_lookup_value (credentials, "UnixGroupIDs", G_VARIANT_TYPE ("au"));
  if (groups != NULL)
    {
      gsize n;
      const guint32 *ids = g_variant_get_fixed_array (groups, &n, sizeof (guint32));

      for (gsize i = 0; i < n; i++)
        if (ids[i] == group)
          return TRUE;
      return FALSE;
    }
  if (!g_variant_lookup (credentials, "UnixUserID", "u", &uid) ||
      !g_variant_lookup (credentials, "ProcessID", "u", &pid))
    return FALSE;
  return process_has_group (pid, uid, group);
}

/* test-dbus-caller.c: the groups of a D-Bus caller's process
 * (daemon/vsmtpd-dbus-caller.c): from the bus's UnixGroupIDs, else from
 * /proc/PID/status, only while that process runs as the uid the bus told.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <unistd.h>

#include <glib.h>

#include "vsmtpd-dbus-caller.h"

static GVariant *
credentials (gint64 uid,
             gint64 pid,
             GVariant *groups)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  if (uid >= 0)
    g_variant_dict_insert (&dict, "UnixUserID", "u", (guint32) uid);
  if (pid >= 0)
    g_variant_dict_insert (&dict, "ProcessID", "u", (guint32) pid);
  if (groups != NULL)
    g_variant_dict_insert_value (&dict, "UnixGroupIDs", groups);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* A gid this process does not have */
static gid_t
other_gid (void)
{
  gid_t groups[256];
  int n = getgroups (G_N_ELEMENTS (groups), groups);
  gid_t candidate = 54321;

  for (int i = 0; i < n; i++)
    if (groups[i] == candidate || getgid () == candidate || getegid () == candidate)
      {
        candidate++;
        i = -1;
      }
  return candidate;
}

static void
test_from_the_bus (void)
{
  const guint32 ids[] = { 5, 7 };
  g_autoptr(GVariant) c =
    credentials (getuid (), getpid (),
                 g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, ids, G_N_ELEMENTS (ids), sizeof (guint32)));

  g_assert_true (vsmtpd_dbus_caller_has_group (c, 7));
  g_assert_true (vsmtpd_dbus_caller_has_group (c, 5));
  /* what the bus says is all: not the process's own groups */
  g_assert_false (vsmtpd_dbus_caller_has_group (c, 8));
  if (getgid () != 5 && getgid () != 7)
    g_assert_false (vsmtpd_dbus_caller_has_group (c, getgid ()));
}

static void
test_from_proc (void)
{
  g_autoptr(GVariant) c = credentials (getuid (), getpid (), NULL);
  g_autoptr(GVariant) other_user = credentials (getuid () + 1, getpid (), NULL);
  g_autoptr(GVariant) no_pid = credentials (getuid (), -1, NULL);
  g_autoptr(GVariant) gone = credentials (getuid (), G_MAXINT32, NULL);
  gid_t groups[256];
  int n = getgroups (G_N_ELEMENTS (groups), groups);

  g_assert_true (vsmtpd_dbus_caller_has_group (c, getgid ()));
  for (int i = 0; i < n; i++)
    g_assert_true (vsmtpd_dbus_caller_has_group (c, groups[i]));
  g_assert_false (vsmtpd_dbus_caller_has_group (c, other_gid ()));
  /* the pid now runs as another user: not the caller any more */
  g_assert_false (vsmtpd_dbus_caller_has_group (other_user, getgid ()));
  g_assert_false (vsmtpd_dbus_caller_has_group (no_pid, getgid ()));
  g_assert_false (vsmtpd_dbus_caller_has_group (gone, getgid ()));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dbus-caller/from-the-bus", test_from_the_bus);
  g_test_add_func ("/dbus-caller/from-proc", test_from_proc);
  return g_test_run ();
}

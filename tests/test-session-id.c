/* test-session-id.c: a session's id (vsmtp-session-id.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vsmtp-session-id-private.h"

static void
assert_id_shape (const char *id)
{
  g_assert_cmpuint (strlen (id), ==, 21);
  for (const char *p = id; *p; p++)
    g_assert_true (g_ascii_isdigit (*p) || (*p >= 'A' && *p <= 'F'));
}

/* the process's field of @id */
static guint
id_pid (const char *id)
{
  char field[5] = { 0 };

  memcpy (field, id + 13, 4);
  return (guint) g_ascii_strtoull (field, NULL, 16);
}

static guint
id_counter (const char *id)
{
  return (guint) g_ascii_strtoull (id + 17, NULL, 16);
}

static void
test_shape (void)
{
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *a = _vsmtp_session_id_new ();
  g_autofree char *b = _vsmtp_session_id_new ();
  gint64 after = g_get_real_time () / G_USEC_PER_SEC;
  char seconds[9] = { 0 };
  char micro[6] = { 0 };
  guint64 s;

  assert_id_shape (a);
  assert_id_shape (b);
  g_assert_cmpstr (a, !=, b);
  /* as "%08X%05X%04X%04X" of seconds, microseconds, pid, counter */
  memcpy (seconds, a, 8);
  s = g_ascii_strtoull (seconds, NULL, 16);
  g_assert_cmpuint (s, >=, (guint64) before);
  g_assert_cmpuint (s, <=, (guint64) after);
  memcpy (micro, a + 8, 5);
  g_assert_cmpuint (g_ascii_strtoull (micro, NULL, 16), <, G_USEC_PER_SEC);
  g_assert_cmpuint (id_pid (a), ==, (guint) getpid () & 0xFFFF);
  g_assert_cmpuint (id_counter (b), ==, (id_counter (a) + 1) & 0xFFFF);
}

/* the process id is remembered, but a forked child has its own */
static void
test_fork (void)
{
  g_autofree char *parent = _vsmtp_session_id_new ();
  int fds[2];
  pid_t child;
  char buffer[32] = { 0 };
  ssize_t n;
  int status;

  g_assert_cmpuint (id_pid (parent), ==, (guint) getpid () & 0xFFFF);
  g_assert_no_errno (pipe (fds));
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      char *id = _vsmtp_session_id_new ();
      ssize_t written = write (fds[1], id, strlen (id));

      _exit (written == (ssize_t) strlen (id) ? 0 : 1);
    }
  close (fds[1]);
  n = read (fds[0], buffer, sizeof buffer - 1);
  close (fds[0]);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpint (n, ==, 21);
  assert_id_shape (buffer);
  g_assert_cmpuint (id_pid (buffer), ==, (guint) child & 0xFFFF);
  if (((guint) child & 0xFFFF) != ((guint) getpid () & 0xFFFF))
    g_assert_cmpuint (id_pid (buffer), !=, id_pid (parent));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/session-id/shape", test_shape);
  g_test_add_func ("/session-id/fork", test_fork);
  return g_test_run ();
}

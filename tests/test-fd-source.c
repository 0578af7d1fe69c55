/* test-fd-source.c: VsmtpFdSource, the session input's source that GLib
 * does not block while it dispatches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include "vsmtp-fd-source.h"

typedef struct
{
  int      fds[2];
  guint    calls;
  guint    max_depth;
  guint    depth;
  gboolean nest;
  gboolean drain;
} Fixture;

static gboolean
on_ready (gpointer user_data)
{
  Fixture *f = user_data;

  f->calls++;
  f->depth++;
  f->max_depth = MAX (f->max_depth, f->depth);
  if (f->nest)
    {
      /* a handler running a nested loop while the descriptor is still
       * readable: the source is not dispatched again inside it */
      f->nest = FALSE;
      for (guint i = 0; i < 5; i++)
        g_main_context_iteration (NULL, FALSE);
    }
  if (f->drain)
    {
      char buf[16];

      g_assert_cmpint (read (f->fds[0], buf, sizeof buf), >, 0);
    }
  f->depth--;
  return G_SOURCE_CONTINUE;
}

/* a socket pair and a source on its first end, attached */
static GSource *
fixture_watch (Fixture *f)
{
  GSource *source;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, f->fds), ==, 0);
  source = vsmtp_fd_source_new (f->fds[0]);
  g_source_set_callback (source, on_ready, f, NULL);
  g_source_attach (source, NULL);
  return source;
}

static void
fixture_close (Fixture *f,
               GSource *source)
{
  g_source_destroy (source);
  g_source_unref (source);
  close (f->fds[0]);
  close (f->fds[1]);
}

static void
test_readable (void)
{
  Fixture f = { 0 };
  GSource *source;

  source = fixture_watch (&f);

  /* nothing to read: not ready */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (f.calls, ==, 0);

  /* readable: dispatched (level-triggered until read) */
  f.drain = TRUE;
  g_assert_cmpint (write (f.fds[1], "x", 1), ==, 1);
  g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f.calls, ==, 1);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (f.calls, ==, 1);

  fixture_close (&f, source);
}

static void
test_nested_loop (void)
{
  Fixture f = { 0 };
  GSource *source;

  source = fixture_watch (&f);

  /* the callback runs a nested loop without reading: not re-entered */
  f.nest = TRUE;
  g_assert_cmpint (write (f.fds[1], "x", 1), ==, 1);
  g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f.calls, ==, 1);
  g_assert_cmpuint (f.max_depth, ==, 1);

  /* once the outer callback has returned, the descriptor is watched again */
  f.drain = TRUE;
  g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f.calls, ==, 2);
  g_assert_cmpuint (f.max_depth, ==, 1);

  fixture_close (&f, source);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fd-source/readable", test_readable);
  g_test_add_func ("/fd-source/nested-loop", test_nested_loop);
  return g_test_run ();
}

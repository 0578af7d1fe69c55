/* vsmtpd-workers.c: `[server] workers = N`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With more than one worker, the vsmtpd started by the operator becomes a
 * master: it runs this same program N times with VSMTPD_WORKER=<n> in the
 * environment. Each worker is a complete vsmtpd (its own main loop, server
 * and plugins) listening with SO_REUSEPORT on the same addresses, so the
 * kernel spreads connections over the workers. The master forwards SIGTERM,
 * SIGINT and SIGHUP, restarts a worker that dies, and stops everything if a
 * worker fails while starting (a bad plugin, a port in use...).
 *
 * Workers are exec'd, not just forked: a fork of a process that already
 * runs GLib's worker threads (child watches, unix signals) would not work.
 */
#include "config.h"

#include <signal.h>
#ifdef __linux__
# include <sys/prctl.h>
#endif

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>

#include "vsmtpd-metrics.h"
#include "vsmtpd-notify.h"
#include "vsmtpd-workers.h"

#define WORKER_ENV          "VSMTPD_WORKER"
#define READY_FD_ENV        "VSMTPD_READY_FD"
#define READY_FD            3
#define METRICS_SOCKET_ENV  "VSMTPD_METRICS_SOCKET"

typedef struct _Master Master;

typedef struct
{
  Master      *master;
  guint        index;
  GSubprocess *process;
  GInputStream *ready_pipe;   /* the worker writes one byte once it serves */
  char         ready_byte;
  gboolean     ready;
  guint        restarts;
} Worker;

struct _Master
{
  GMainLoop           *loop;
  const char * const  *argv;
  Worker              *workers;
  guint                n_workers;
  guint                alive;
  gboolean             stopping;
  int                  status;
  guint                shutdown_grace;
  guint                grace_source;
  const char          *metrics_directory;  /* [metrics]: the workers' sockets, or NULL */
};

gboolean
vsmtpd_workers_is_worker (void)
{
  return g_getenv (WORKER_ENV) != NULL;
}

/* In a worker: die with the master, whatever way it goes. */
void
vsmtpd_workers_worker_init (void)
{
#ifdef __linux__
  prctl (PR_SET_PDEATHSIG, SIGTERM);
#endif
}

/* In a worker: tell the master that startup went well. */
void
vsmtpd_workers_worker_ready (void)
{
  const char *fd_text = g_getenv (READY_FD_ENV);
  int fd;

  if (fd_text == NULL)
    return;
  fd = atoi (fd_text);
  if (write (fd, "R", 1) != 1)
    g_debug ("cannot tell the master that this worker is ready: %s", g_strerror (errno));
  close (fd);
  g_unsetenv (READY_FD_ENV);
}

static void worker_spawn (Worker *worker);

static void
master_signal_all (Master *master,
                   int     signum)
{
  for (guint i = 0; i < master->n_workers; i++)
    if (master->workers[i].process != NULL)
      g_subprocess_send_signal (master->workers[i].process, signum);
}

static gboolean on_grace_over (gpointer user_data);

static void
master_stop (Master *master,
             int     status)
{
  if (!master->stopping)
    {
      master->stopping = TRUE;
      master->status = status;
      /* the workers have their own grace period: this is the backstop */
      master->grace_source = g_timeout_add_seconds (master->shutdown_grace + 5,
                                                    on_grace_over, master);
    }
  master_signal_all (master, SIGTERM);
  if (master->alive == 0)
    g_main_loop_quit (master->loop);
}

static void
on_worker_exited (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Worker *worker = user_data;
  Master *master = worker->master;
  GSubprocess *process = G_SUBPROCESS (source);
  gboolean clean;
  g_autofree char *how = NULL;

  g_subprocess_wait_finish (process, result, NULL);
  if (g_subprocess_get_if_exited (process))
    how = g_strdup_printf ("exited with status %d", g_subprocess_get_exit_status (process));
  else
    how = g_strdup_printf ("was killed by signal %d", g_subprocess_get_term_sig (process));
  clean = g_subprocess_get_if_exited (process) && g_subprocess_get_exit_status (process) == 0;

  g_clear_object (&worker->process);
  worker->ready_pipe = NULL;   /* its read holds the last reference */
  master->alive--;

  if (master->stopping)
    {
      if (!clean)
        g_info ("worker %u %s", worker->index, how);
      if (master->alive == 0)
        g_main_loop_quit (master->loop);
      return;
    }

  if (!worker->ready)
    {
      g_printerr ("vsmtpd: worker %u %s while starting: stopping\n", worker->index, how);
      master_stop (master, EXIT_FAILURE);
      return;
    }

  g_warning ("worker %u %s: starting it again", worker->index, how);
  worker->restarts++;
  worker_spawn (worker);
}

static void
on_ready_read (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Worker *worker = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n == 1 && worker->ready_pipe == G_INPUT_STREAM (source))
    {
      Master *master = worker->master;
      guint n_ready = 0;

      worker->ready = TRUE;
      for (guint i = 0; i < master->n_workers; i++)
        n_ready += master->workers[i].ready;
      /* systemd: READY=1 once every worker serves (the first time) */
      if (n_ready == master->n_workers && !master->stopping)
        vsmtpd_notify_reloaded ();
    }
  g_object_unref (source);
}

static void
worker_spawn (Worker *worker)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *index = g_strdup_printf ("%u", worker->index);
  g_autofree char *ready_fd = g_strdup_printf ("%d", READY_FD);
  int fds[2];

  if (!g_unix_open_pipe (fds, FD_CLOEXEC, &error))
    {
      g_printerr ("vsmtpd: cannot start worker %u: %s\n", worker->index, error->message);
      master_stop (worker->master, EXIT_FAILURE);
      return;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, WORKER_ENV, index, TRUE);
  g_subprocess_launcher_setenv (launcher, READY_FD_ENV, ready_fd, TRUE);
  g_subprocess_launcher_take_fd (launcher, fds[1], READY_FD);
  if (worker->master->metrics_directory != NULL)
    {
      g_autofree char *socket = vsmtpd_metrics_worker_socket (worker->master->metrics_directory,
                                                              worker->index);

      /* its metrics for the master, which serves their sum */
      g_subprocess_launcher_setenv (launcher, METRICS_SOCKET_ENV, socket, TRUE);
    }
  worker->process = g_subprocess_launcher_spawnv (launcher, worker->master->argv, &error);
  if (worker->process == NULL)
    {
      close (fds[0]);
      g_printerr ("vsmtpd: cannot start worker %u: %s\n", worker->index, error->message);
      master_stop (worker->master, EXIT_FAILURE);
      return;
    }
  worker->ready = FALSE;
  worker->ready_pipe = g_unix_input_stream_new (fds[0], TRUE);
  g_input_stream_read_async (worker->ready_pipe, &worker->ready_byte, 1, G_PRIORITY_DEFAULT,
                             NULL, on_ready_read, worker);
  worker->master->alive++;
  g_subprocess_wait_async (worker->process, NULL, on_worker_exited, worker);
}

static gboolean
on_grace_over (gpointer user_data)
{
  Master *master = user_data;

  master->grace_source = 0;
  g_warning ("workers still running after the grace period: killing them");
  master_signal_all (master, SIGKILL);
  return G_SOURCE_REMOVE;
}

/* A second SIGTERM or SIGINT is passed on: the workers keep their deadline
 * (SIGTERM) or close their sessions at once (SIGINT) */
static gboolean
master_stop_signal (Master *master,
                    int     signum)
{
  if (master->stopping)
    {
      master_signal_all (master, signum);
      return G_SOURCE_CONTINUE;
    }
  g_info ("stopping %u workers", master->alive);
  vsmtpd_notify_stopping ();
  master_stop (master, EXIT_SUCCESS);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stop_signal (gpointer user_data)
{
  return master_stop_signal (user_data, SIGTERM);
}

static gboolean
on_stop_sigint (gpointer user_data)
{
  return master_stop_signal (user_data, SIGINT);
}

static gboolean
on_sighup (gpointer user_data)
{
  Master *master = user_data;

  g_info ("SIGHUP: passed on to the workers");
  vsmtpd_notify_reloading ();
  master_signal_all (master, SIGHUP);
  /* each worker reloads on its own and logs how it went */
  vsmtpd_notify_reloaded ();
  return G_SOURCE_CONTINUE;
}

int
vsmtpd_workers_run (guint               n_workers,
                    const char * const *argv,
                    guint               shutdown_grace,
                    const char         *metrics_directory)
{
  Master master = { 0, };
  guint sigterm, sigint, sighup;

  master.loop = g_main_loop_new (NULL, FALSE);
  master.argv = argv;
  master.n_workers = n_workers;
  master.workers = g_new0 (Worker, n_workers);
  master.status = EXIT_SUCCESS;
  master.shutdown_grace = shutdown_grace;
  master.metrics_directory = metrics_directory;

  sigterm = g_unix_signal_add (SIGTERM, on_stop_signal, &master);
  sigint = g_unix_signal_add (SIGINT, on_stop_sigint, &master);
  sighup = g_unix_signal_add (SIGHUP, on_sighup, &master);

  g_info ("starting %u worker processes", n_workers);
  for (guint i = 0; i < n_workers && !master.stopping; i++)
    {
      master.workers[i].master = &master;
      master.workers[i].index = i + 1;
      worker_spawn (&master.workers[i]);
    }

  if (master.alive > 0)
    g_main_loop_run (master.loop);

  g_source_remove (sigterm);
  g_source_remove (sigint);
  g_source_remove (sighup);
  if (master.grace_source != 0)
    g_source_remove (master.grace_source);
  g_main_loop_unref (master.loop);
  g_free (master.workers);

  return master.status;
}

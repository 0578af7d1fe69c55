/* vsmtpd-log-batch.c: vsmtpd's stderr log lines, written once per main loop iteration
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vsmtpd writes a line per connection and per transaction: one write()
 * each was a tenth of the system calls of a message. While the main loop
 * runs and at least BATCH_MIN_SESSIONS sessions are open (a busy server),
 * the lines the main thread logs at INFO, MESSAGE or DEBUG gather in a
 * buffer that is written in one write() before the loop polls again (a
 * source's prepare function: nothing waits longer than the dispatch in
 * progress, and a reply the client reads is followed by its log line before
 * the client's next command is read), or as soon as it would exceed
 * PIPE_BUF (4 KiB: a write to a pipe is then atomic, so the lines of several
 * workers sharing one stderr do not mix). With fewer sessions open each line
 * is written at once, before the reply it goes with, as without batching:
 * there is little to gain there, and a client (a test) that reads the log as
 * soon as it has its reply finds the line. Warnings and worse, lines from
 * other threads and lines logged outside the loop are written at once,
 * after what is buffered, so the order stays. vsmtpd_log_batch_stop() (the
 * loop has returned: SIGTERM, SIGINT) and exit() write what is left.
 *
 * The journal (stderr connected to journald) gets one datagram per line as
 * before: this is only the stderr writer.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "vsmtpd-log-batch.h"

#define BATCH_MAX 4096   /* PIPE_BUF on Linux */
#define BATCH_MIN_SESSIONS 8

static GMutex   batch_lock;
static GString *batch;
static GThread *batch_thread;    /* the main loop's: the only one that buffers */
static GSource *batch_source;
static VsmtpServer *batch_server;  /* its sessions: busy or not */

static gboolean
write_all (const char *data,
           gsize       length)
{
  while (length > 0)
    {
      gssize n = write (STDERR_FILENO, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/* holds batch_lock */
static void
flush_locked (void)
{
  if (batch != NULL && batch->len > 0)
    {
      write_all (batch->str, batch->len);
      g_string_truncate (batch, 0);
    }
}

void
vsmtpd_log_batch_flush (void)
{
  g_mutex_lock (&batch_lock);
  flush_locked ();
  g_mutex_unlock (&batch_lock);
}

static gboolean
batch_prepare (GSource *source,
               gint    *timeout)
{
  *timeout = -1;
  vsmtpd_log_batch_flush ();
  return FALSE;
}

static GSourceFuncs batch_source_funcs = {
  .prepare = batch_prepare,
};

static void
flush_at_exit (void)
{
  vsmtpd_log_batch_flush ();
}

/* Buffers the main thread's lines from now on, while @server has enough
 * sessions, until vsmtpd_log_batch_stop(): call it just before running the
 * main loop of the default context. */
void
vsmtpd_log_batch_start (VsmtpServer *server)
{
  static gboolean at_exit;

  g_mutex_lock (&batch_lock);
  if (batch == NULL)
    batch = g_string_sized_new (BATCH_MAX);
  batch_thread = g_thread_self ();
  batch_server = server;
  g_mutex_unlock (&batch_lock);

  if (batch_source == NULL)
    {
      batch_source = g_source_new (&batch_source_funcs, sizeof (GSource));
      g_source_set_static_name (batch_source, "[vsmtpd] log lines");
      g_source_attach (batch_source, NULL);
    }
  if (!at_exit)
    at_exit = atexit (flush_at_exit) == 0;
}

/* Writes what is buffered and buffers no more. */
void
vsmtpd_log_batch_stop (void)
{
  if (batch_source != NULL)
    {
      g_source_destroy (batch_source);
      g_clear_pointer (&batch_source, g_source_unref);
    }
  g_mutex_lock (&batch_lock);
  batch_thread = NULL;
  batch_server = NULL;
  flush_locked ();
  g_mutex_unlock (&batch_lock);
}

/* Writes @data (whole lines) to stderr, or buffers it when @may_wait, the
 * caller is the main loop's thread while batching, and the server is busy. */
gboolean
vsmtpd_log_batch_write (const char *data,
                        gsize       length,
                        gboolean    may_wait)
{
  gboolean ok = TRUE;

  g_mutex_lock (&batch_lock);
  if (may_wait && batch_thread != NULL && batch_thread == g_thread_self () && length <= BATCH_MAX &&
      batch_server != NULL && vsmtp_server_get_n_sessions (batch_server) >= BATCH_MIN_SESSIONS)
    {
      if (batch->len + length > BATCH_MAX)
        flush_locked ();
      g_string_append_len (batch, data, length);
    }
  else
    {
      flush_locked ();
      ok = write_all (data, length);
    }
  g_mutex_unlock (&batch_lock);
  return ok;
}

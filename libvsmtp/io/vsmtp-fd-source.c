/* vsmtp-fd-source.c: a GSource for one readable descriptor, cheap to dispatch
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GLib blocks a source while its callback runs, unless it may recurse:
 * its descriptors leave the main context's poll set before the callback
 * and come back after it, and each of these two changes signals the
 * context's wakeup (an eventfd write, then one more poll() that returns at
 * once for it). A pollable stream's source is a parent with the socket's
 * source as a child, and both are dispatched: four eventfd writes, one
 * eventfd read and one extra poll() for each read of a command, more
 * system calls than the command's own recv() and send().
 *
 * This source watches one descriptor for input, as a source that may
 * recurse, so GLib never blocks it. It blocks itself only when it would
 * really recurse (a callback that runs a nested main loop while the
 * descriptor is still readable): it stops polling the descriptor until
 * the outer callback returns, as GLib's blocking would, instead of
 * spinning or re-entering the callback.
 *
 * The callback is a plain GSourceFunc; the descriptor is level-triggered
 * (G_IO_IN, and the errors poll() always reports).
 */
#include "config.h"

#include "vsmtp-fd-source.h"

typedef struct
{
  GSource   source;
  gpointer  tag;
  guint     dispatching : 1;
  guint     muted : 1;        /* not polled while a nested loop runs */
} VsmtpFdSource;

static gboolean
fd_source_dispatch (GSource     *source,
                    GSourceFunc  callback,
                    gpointer     user_data)
{
  VsmtpFdSource *self = (VsmtpFdSource *) source;
  gboolean keep;

  if (callback == NULL)
    return G_SOURCE_REMOVE;

  if (self->dispatching)
    {
      /* a nested main loop in our own callback */
      self->muted = TRUE;
      g_source_modify_unix_fd (source, self->tag, 0);
      return G_SOURCE_CONTINUE;
    }

  self->dispatching = TRUE;
  keep = callback (user_data);
  self->dispatching = FALSE;

  if (self->muted)
    {
      self->muted = FALSE;
      if (keep && !g_source_is_destroyed (source))
        g_source_modify_unix_fd (source, self->tag, G_IO_IN);
    }
  return keep;
}

static GSourceFuncs fd_source_funcs = {
  .dispatch = fd_source_dispatch,
};

/**
 * vsmtp_fd_source_new:
 * @fd: a descriptor (not owned)
 *
 * Returns: (transfer full): a source that is ready when @fd is readable
 *   (or has an error or hung up); its callback is a #GSourceFunc
 */
GSource *
vsmtp_fd_source_new (int fd)
{
  GSource *source = g_source_new (&fd_source_funcs, sizeof (VsmtpFdSource));
  VsmtpFdSource *self = (VsmtpFdSource *) source;

  self->tag = g_source_add_unix_fd (source, fd, G_IO_IN);
  g_source_set_can_recurse (source, TRUE);
  return source;
}

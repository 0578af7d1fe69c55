/* vsmtp-session-id.c: a session's id, once per connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The id is the time in seconds (8 hex digits), its microseconds (5), the
 * low 16 bits of the process id (4; several vsmtpd workers share one
 * maildir and log) and a counter (4): unique within a machine. Formatted
 * by hand rather than by printf, and with the process id remembered
 * rather than asked of the kernel per connection: a fork() forgets it
 * (pthread_atfork), so a child that goes on serving has ids of its own.
 */
#include "config.h"

#include <pthread.h>
#include <unistd.h>

#include "vsmtp-session-id-private.h"

static volatile gint cached_pid;   /* 0: not known in this process */

static void
forget_pid (void)
{
  cached_pid = 0;
}

static guint32
session_id_pid (void)
{
  static gsize registered;
  gint pid = g_atomic_int_get (&cached_pid);

  if (G_LIKELY (pid != 0))
    return (guint32) pid;
  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, forget_pid);
      g_once_init_leave (&registered, 1);
    }
  pid = getpid ();
  g_atomic_int_set (&cached_pid, pid);
  return (guint32) pid;
}

/* @n_digits hex digits of @value, upper case, at @out */
static char *
put_hex (char    *out,
         guint32  value,
         guint    n_digits)
{
  static const char digits[] = "0123456789ABCDEF";

  for (guint i = n_digits; i > 0; i--)
    {
      out[i - 1] = digits[value & 0xF];
      value >>= 4;
    }
  return out + n_digits;
}

char *
_vsmtp_session_id_new (void)
{
  static guint counter;
  gint64 now = g_get_real_time ();
  guint32 seconds = (guint32) (now / G_USEC_PER_SEC);
  guint32 micro = (guint32) (now % G_USEC_PER_SEC);
  char *id = g_malloc (8 + 5 + 4 + 4 + 1);
  char *p = id;

  /* as printf's "%08X%05X%04X%04X" */
  p = put_hex (p, seconds, 8);
  p = put_hex (p, micro, 5);   /* < 1,000,000 = 0xF4240: 5 digits */
  p = put_hex (p, session_id_pid () & 0xFFFF, 4);
  p = put_hex (p, (++counter) & 0xFFFF, 4);
  *p = '\0';
  return id;
}

/* vsmtpd-notify.c: telling systemd how vsmtpd is doing (sd_notify)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With Type=notify (data/vsmtpd.service), systemd waits for READY=1 before
 * it counts the service as started: it is sent once every listener is
 * bound, the plugins are activated and the privileges are dropped. A
 * STATUS= line (what `systemctl status` shows) tells the sessions open,
 * the connections accepted and the messages accepted (by the sessions
 * closed) since the start; it
 * is sent again every STATUS_INTERVAL seconds when it changed. A reload is
 * framed by RELOADING=1 (with MONOTONIC_USEC=, which systemd 253's
 * Type=notify-reload wants) and READY=1; a shutdown starts with
 * STOPPING=1. With WatchdogSec= set, WATCHDOG=1 is sent at half that
 * interval from the main loop, so a main loop that hangs gets the service
 * restarted.
 *
 * Without NOTIFY_SOCKET (not run by systemd) every call does nothing. A
 * worker of [server] workers = N does not notify: the master does (the
 * socket is the main process's, NotifyAccess=main).
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <time.h>

#include <systemd/sd-daemon.h>

#include "vsmtpd-notify.h"

#define STATUS_INTERVAL 5   /* seconds */

typedef struct
{
  VsmtpServer *server;
  guint64      connections;   /* accepted since the start */
  guint64      messages;      /* accepted by the sessions closed since the start */
  char        *last_status;
  guint        status_source;
  guint        watchdog_source;
  gboolean     enabled;
} Notifier;

static Notifier notifier;

static void
notify (const char *state)
{
  int ret = sd_notify (0, state);

  if (ret < 0)
    g_debug ("sd_notify: %s", g_strerror (-ret));
}

static char *
status_text (void)
{
  return g_strdup_printf ("STATUS=%u sessions open, %" G_GUINT64_FORMAT " connections, "
                          "%" G_GUINT64_FORMAT " messages accepted",
                          vsmtp_server_get_n_sessions (notifier.server),
                          notifier.connections, notifier.messages);
}

static void
send_status (const char *prefix)
{
  g_autofree char *status = status_text ();

  if (prefix == NULL && g_strcmp0 (status, notifier.last_status) == 0)
    return;
  if (prefix != NULL)
    {
      g_autofree char *state = g_strconcat (prefix, "\n", status, NULL);

      notify (state);
    }
  else
    notify (status);
  g_free (notifier.last_status);
  notifier.last_status = g_steal_pointer (&status);
}

static gboolean
on_status_timer (gpointer user_data)
{
  send_status (NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_watchdog_timer (gpointer user_data)
{
  notify ("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

/* The messages a session accepted, counted when it ends */
static void
on_session_closed (VsmtpSession *session,
                   gpointer      user_data)
{
  notifier.messages += vsmtp_session_get_n_messages (session);
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  notifier.connections++;
  g_signal_connect (session, "closed", G_CALLBACK (on_session_closed), NULL);
}

/* WatchdogSec=: WATCHDOG=1 at half the interval, from the main loop */
static void
start_watchdog (void)
{
  guint64 watchdog_usec = 0;

  if (notifier.watchdog_source != 0 ||
      sd_watchdog_enabled (0, &watchdog_usec) <= 0 || watchdog_usec == 0)
    return;

  notifier.watchdog_source = g_timeout_add (MAX (watchdog_usec / 2 / 1000, 1),
                                            on_watchdog_timer, NULL);
  g_debug ("systemd watchdog: WATCHDOG=1 every %" G_GUINT64_FORMAT " ms",
           MAX (watchdog_usec / 2 / 1000, 1));
}

void
vsmtpd_notify_ready (VsmtpServer *server)
{
  if (g_getenv ("NOTIFY_SOCKET") == NULL || notifier.enabled)
    return;

  notifier.enabled = TRUE;
  notifier.server = g_object_ref (server);
  /* before the first connection is handled: the main loop runs after */
  g_signal_connect (server, "new-session", G_CALLBACK (on_new_session), NULL);
  send_status ("READY=1");
  notifier.status_source = g_timeout_add_seconds (STATUS_INTERVAL, on_status_timer, NULL);

  start_watchdog ();
}

void
vsmtpd_notify_reloading (void)
{
  struct timespec now;
  g_autofree char *state = NULL;

  if (g_getenv ("NOTIFY_SOCKET") == NULL)
    return;
  clock_gettime (CLOCK_MONOTONIC, &now);
  state = g_strdup_printf ("RELOADING=1\nMONOTONIC_USEC=%" G_GUINT64_FORMAT,
                           (guint64) now.tv_sec * G_USEC_PER_SEC + (guint64) now.tv_nsec / 1000);
  notify (state);
}

void
vsmtpd_notify_reloaded (void)
{
  /* the master of [server] workers: no server of its own, no counts */
  if (!notifier.enabled)
    {
      if (g_getenv ("NOTIFY_SOCKET") != NULL)
        {
          notify ("READY=1");
          start_watchdog ();
        }
      return;
    }
  send_status ("READY=1");
}

void
vsmtpd_notify_stopping (void)
{
  if (g_getenv ("NOTIFY_SOCKET") == NULL)
    return;
  if (notifier.status_source != 0)
    g_source_remove (notifier.status_source);
  notifier.status_source = 0;
  /* the watchdog goes on: a shutdown that hangs is killed by
   * TimeoutStopSec= anyway */
  notify ("STOPPING=1\nSTATUS=stopping: waiting for the open sessions");
}

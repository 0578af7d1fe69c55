/* vsmtpd-dbus.h: [server] dbus, the operator's interface org.vsmtp.Vsmtpd1
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

#include "vsmtpd-config.h"

G_BEGIN_DECLS

#define VSMTPD_DBUS_NAME      "org.vsmtp.Vsmtpd1"
#define VSMTPD_DBUS_PATH      "/org/vsmtp/Vsmtpd1"
#define VSMTPD_DBUS_INTERFACE "org.vsmtp.Vsmtpd1"

typedef struct _VsmtpdDBus VsmtpdDBus;

/* What the daemon does for the interface's Reload and Stop */
typedef struct
{
  /* as SIGHUP: FALSE with @error when nothing was applied (ReloadDone is
   * the daemon's to send, with vsmtpd_dbus_reload_done()) */
  gboolean (*reload) (gpointer   user_data,
                      GError   **error);
  /* as SIGTERM, with @grace_seconds (negative: [server] shutdown-grace) */
  void     (*stop)   (gpointer   user_data,
                      int        grace_seconds);
} VsmtpdDBusHooks;

/* Exports the interface of @server on the bus [server] dbus names and asks
 * for the name org.vsmtp.Vsmtpd1. NULL without an error: [server] dbus is
 * none. */
VsmtpdDBus *vsmtpd_dbus_start       (VsmtpdConfig          *config,
                                     VsmtpServer           *server,
                                     const VsmtpdDBusHooks *hooks,
                                     gpointer               user_data,
                                     GError               **error);
/* The ReloadDone signal */
void        vsmtpd_dbus_reload_done (VsmtpdDBus            *self,
                                     gboolean               success,
                                     const char            *message);
void        vsmtpd_dbus_free        (VsmtpdDBus            *self);

G_END_DECLS

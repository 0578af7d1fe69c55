/* vsmtpd-notify.h: telling systemd how vsmtpd is doing (sd_notify)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

G_BEGIN_DECLS

/* Once listening: READY=1 with a STATUS= line, then STATUS= every few
 * seconds (connections, messages) and WATCHDOG=1 at half WatchdogSec=. */
void vsmtpd_notify_ready     (VsmtpServer *server);
/* Around a reload: RELOADING=1 (with MONOTONIC_USEC=), then READY=1 */
void vsmtpd_notify_reloading (void);
void vsmtpd_notify_reloaded  (void);
/* STOPPING=1, and no more status or watchdog messages */
void vsmtpd_notify_stopping  (void);

G_END_DECLS

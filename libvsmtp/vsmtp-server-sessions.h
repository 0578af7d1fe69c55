/* vsmtp-server-sessions.h: what a running server is doing: its listeners
 * (paused or not) and its sessions, for an operator's console
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-listen-options.h"
#include "vsmtp-server.h"
#include "vsmtp-session.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_LISTENER_INFO (vsmtp_listener_info_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpListenerInfo, vsmtp_listener_info, VSMTP, LISTENER_INFO, GObject)

VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_listener_info_get_name      (VsmtpListenerInfo *self);
VSMTP_AVAILABLE_IN_ALL
GSocketAddress     *vsmtp_listener_info_get_address   (VsmtpListenerInfo *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpListenOptions *vsmtp_listener_info_get_options   (VsmtpListenerInfo *self);
VSMTP_AVAILABLE_IN_ALL
gboolean            vsmtp_listener_info_get_paused    (VsmtpListenerInfo *self);

VSMTP_AVAILABLE_IN_ALL
GPtrArray          *vsmtp_server_dup_listeners        (VsmtpServer       *self);
VSMTP_AVAILABLE_IN_ALL
gboolean            vsmtp_server_pause_listener       (VsmtpServer       *self,
                                                       const char        *name,
                                                       GError           **error);
VSMTP_AVAILABLE_IN_ALL
gboolean            vsmtp_server_resume_listener      (VsmtpServer       *self,
                                                       const char        *name,
                                                       GError           **error);
VSMTP_AVAILABLE_IN_ALL
gboolean            vsmtp_server_get_listener_paused  (VsmtpServer       *self,
                                                       const char        *name);

VSMTP_AVAILABLE_IN_ALL
GPtrArray          *vsmtp_server_dup_sessions         (VsmtpServer       *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpSession       *vsmtp_server_lookup_session       (VsmtpServer       *self,
                                                       const char        *id);

VSMTP_AVAILABLE_IN_ALL
gint64              vsmtp_session_get_start_time      (VsmtpSession      *self);
VSMTP_AVAILABLE_IN_ALL
guint64             vsmtp_session_get_bytes_received  (VsmtpSession      *self);
VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_session_get_listener_name   (VsmtpSession      *self);
VSMTP_AVAILABLE_IN_ALL
void                vsmtp_session_close_gracefully    (VsmtpSession      *self);

G_END_DECLS

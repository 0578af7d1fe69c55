/* vsmtp-session-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-server.h"
#include "vsmtp-session.h"
#include "vsmtp-listen-options.h"
#include "vsmtp-proxy-header.h"
#include "vsmtp-settings-private.h"
#include "vsmtp-client-tracker-private.h"

G_BEGIN_DECLS

/* @settings and @clients are referenced: the session reads its settings
 * there, and counts TLS handshakes and AUTH attempts per client address
 * there; @server is only what vsmtp_session_get_server() returns (weak). */
VsmtpSession *_vsmtp_session_new   (VsmtpServer        *server,
                                    GIOStream          *stream,
                                    GSocketAddress     *remote_address,
                                    VsmtpListenOptions *options,
                                    VsmtpSettings      *settings,
                                    VsmtpClientTracker *clients);
/* The PROXY protocol header its connection started with (referenced), set
 * before the session starts */
void          _vsmtp_session_set_proxy_header (VsmtpSession     *self,
                                               VsmtpProxyHeader *header);
/* The settings the session was started with (transfer none) */
VsmtpSettings *_vsmtp_session_get_settings (VsmtpSession *self);
void          _vsmtp_session_start (VsmtpSession   *self);
/* Called once, after the closed signal's handlers: how the server keeps its
 * accounting without the session knowing the server (a private stand-in
 * for a connect_after on "closed", which costs a closure per connection). */
typedef void (*VsmtpSessionClosedFunc) (VsmtpSession *session,
                                        gpointer      user_data);
void          _vsmtp_session_set_closed_func (VsmtpSession           *self,
                                              VsmtpSessionClosedFunc  func,
                                              gpointer                user_data);
/* Whether the server counts this session in its per-client table. */
gboolean      _vsmtp_session_get_counted (VsmtpSession *self);
void          _vsmtp_session_set_counted (VsmtpSession *self,
                                          gboolean      counted);
/* Why the session ends (the first reason given counts; static strings):
 * "quit", "timeout", "errors", ...; NULL (the client went): "disconnect" */
void          _vsmtp_session_set_end_reason (VsmtpSession *self,
                                             const char   *reason);
const char   *_vsmtp_session_get_end_reason (VsmtpSession *self);
/* Instead of starting: sends @reply (a 421) and closes. */
void          _vsmtp_session_refuse (VsmtpSession  *self,
                                     VsmtpReply    *reply);
/* Graceful shutdown: a session idle between transactions is closed with 421
 * at once; one in the middle of a transaction after it, or at once too with
 * @now (the grace period is over). */
void          _vsmtp_session_shutdown (VsmtpSession *self,
                                       gboolean      now);
/* vsmtp_session_close_gracefully(): 421 and close, at once or once the
 * pending decision is answered */
void          _vsmtp_session_request_close (VsmtpSession *self);

G_END_DECLS

G_BEGIN_DECLS
VsmtpParameters *_vsmtp_parameters_new_for_table (GHashTable *table);
G_END_DECLS

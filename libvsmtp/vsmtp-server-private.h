/* vsmtp-server-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-scram.h"
#include "vsmtp-server.h"
#include "vsmtp-settings-private.h"
#include "vsmtp-client-tracker-private.h"

G_BEGIN_DECLS

const VsmtpServerLimits *_vsmtp_server_get_limits (VsmtpServer *self);

/* The settings a new session takes (transfer none: ref it to keep it):
 * made again after a property changed. */
VsmtpSettings *_vsmtp_server_get_settings (VsmtpServer *self);
/* The server's per-address accounting (transfer none) */
VsmtpClientTracker *_vsmtp_server_get_client_tracker (VsmtpServer *self);

/* A TLS handshake slot for a client: FALSE when max-tls-handshakes or
 * max-tls-handshakes-per-client are reached (then refuse the handshake);
 * every TRUE is paired with one _vsmtp_server_handshake_end(). */
gboolean    _vsmtp_server_handshake_begin (VsmtpServer *self,
                                           const char  *ip);
void        _vsmtp_server_handshake_end   (VsmtpServer *self,
                                           const char  *ip);


/* NULL when @session may proceed, else the reply that refuses it (421). */
VsmtpReply *_vsmtp_server_admit (VsmtpServer  *self,
                                 VsmtpSession *session);

/* AUTH brute-force protection, per client address */
gboolean    _vsmtp_server_auth_blocked (VsmtpServer *self,
                                        const char  *ip);
gboolean    _vsmtp_server_auth_attempt_begin (VsmtpServer *self,
                                              const char  *ip);
void        _vsmtp_server_auth_attempt_end   (VsmtpServer *self,
                                              const char  *ip,
                                              gboolean     succeeded);
void        _vsmtp_server_auth_failed  (VsmtpServer *self,
                                        const char  *ip);
gboolean    _vsmtp_server_auth_requires_tls (VsmtpServer *self);

G_END_DECLS

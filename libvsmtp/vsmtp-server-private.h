/* vsmtp-server-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gsasl.h>

#include "vsmtp-scram.h"
#include "vsmtp-server.h"

G_BEGIN_DECLS

/* The limits a session checks on every command: read straight from the
 * server's struct, without a function call per field. */
typedef struct {
  guint    max_connections;            /* 0: unlimited */
  guint    max_connections_per_client; /* 0: unlimited */
  guint    max_tls_handshakes;         /* at once, 0: unlimited */
  guint    max_tls_handshakes_per_client;
  guint    soft_error_limit;
  guint    hard_error_limit;
  guint    error_sleep_time;           /* ms */
  guint    junk_command_limit;
  guint    min_data_rate;              /* bytes/s, 0: none */
  gboolean forbid_unauth_pipelining;
  guint    greet_pause;                /* ms before the greeting, 0: none */
  guint    max_header_size;            /* bytes, 0: unlimited */
  guint    max_data_line_length;       /* bytes with CRLF, 0: unlimited */
} VsmtpServerLimits;

const VsmtpServerLimits *_vsmtp_server_get_limits (VsmtpServer *self);

/* A TLS handshake slot for a client: FALSE when max-tls-handshakes or
 * max-tls-handshakes-per-client are reached (then refuse the handshake);
 * every TRUE is paired with one _vsmtp_server_handshake_end(). */
gboolean    _vsmtp_server_handshake_begin (VsmtpServer *self,
                                           const char  *ip);
void        _vsmtp_server_handshake_end   (VsmtpServer *self,
                                           const char  *ip);

/* The GNU SASL context, created on first use (NULL if it cannot be). */
Gsasl      *_vsmtp_server_get_gsasl    (VsmtpServer *self);

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
/* Decoy SCRAM credentials for a user without any (VsmtpServer:scram-secret) */
VsmtpScramCredentials *
            _vsmtp_server_new_scram_decoy (VsmtpServer *self,
                                           const char  *authcid);

/* Called by a session once, when it is closed. */
void _vsmtp_server_session_closed (VsmtpServer  *self,
                                   VsmtpSession *session);

G_END_DECLS

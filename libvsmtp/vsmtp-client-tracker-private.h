/* vsmtp-client-tracker-private.h: per client address accounting
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the server knows about each client address: sessions open, TLS
 * handshakes running, AUTH attempts (failed and in flight) in the current
 * window. One per server, used on its main context only. The counts live
 * in this process; a shared store (several instances behind a load
 * balancer) would take this unit's place. Addresses are the textual IPs
 * sessions report; a NULL address is never counted. */
typedef struct _VsmtpClientTracker VsmtpClientTracker;

/* Reference counted: the server and each of its sessions hold one. */
VsmtpClientTracker *_vsmtp_client_tracker_new   (void);
VsmtpClientTracker *_vsmtp_client_tracker_ref   (VsmtpClientTracker *self);
void                _vsmtp_client_tracker_unref (VsmtpClientTracker *self);

/* Sessions per address */
guint    _vsmtp_client_tracker_get_connections   (VsmtpClientTracker *self,
                                                  const char         *ip);
void     _vsmtp_client_tracker_connection_opened (VsmtpClientTracker *self,
                                                  const char         *ip);
void     _vsmtp_client_tracker_connection_closed (VsmtpClientTracker *self,
                                                  const char         *ip);

/* TLS handshakes running: FALSE when @max_total or @max_per_client (0:
 * unlimited) are reached; every TRUE is paired with one handshake_end(). */
gboolean _vsmtp_client_tracker_handshake_begin   (VsmtpClientTracker *self,
                                                  const char         *ip,
                                                  guint               max_total,
                                                  guint               max_per_client);
void     _vsmtp_client_tracker_handshake_end     (VsmtpClientTracker *self,
                                                  const char         *ip);

/* AUTH brute-force protection: at most @max_failures (0: no limit) failed
 * or running attempts per address in a window of @window seconds. */
gboolean _vsmtp_client_tracker_auth_blocked       (VsmtpClientTracker *self,
                                                   const char         *ip,
                                                   guint               max_failures,
                                                   guint               window);
/* Counts an attempt from the moment its credentials go to the check:
 * FALSE (refuse it) when the address is blocked; else the attempt is in
 * flight until auth_attempt_end(). */
gboolean _vsmtp_client_tracker_auth_attempt_begin (VsmtpClientTracker *self,
                                                   const char         *ip,
                                                   guint               max_failures,
                                                   guint               window);
void     _vsmtp_client_tracker_auth_attempt_end   (VsmtpClientTracker *self,
                                                   const char         *ip,
                                                   gboolean            succeeded,
                                                   guint               window);
/* A failure that never reached the check (a malformed exchange) */
void     _vsmtp_client_tracker_auth_failed        (VsmtpClientTracker *self,
                                                   const char         *ip,
                                                   guint               window);

G_END_DECLS

/* vsmtp-shared-limits-private.h: the server's and the sessions' side of
 * the limits kept in the store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-reply.h"
#include "vsmtp-session.h"
#include "vsmtp-shared-limits.h"
#include "vsmtp-store.h"

G_BEGIN_DECLS

/* How long a connection's lease lasts unless renewed, and how often the
 * server renews the leases of its open connections (µs) */
#define VSMTP_CONNECTION_LEASE_TTL    (120 * G_USEC_PER_SEC)
#define VSMTP_CONNECTION_LEASE_RENEW  (40 * G_USEC_PER_SEC)

/* The admission of a connection ended: @refusal (borrowed) NULL lets it in */
typedef void (*VsmtpAdmittedFunc) (VsmtpServer  *server,
                                   VsmtpSession *session,
                                   VsmtpReply   *refusal);

/* TRUE when the server counts connections per address in its store (then
 * the in-process count is not taken) */
gboolean _vsmtp_shared_limits_counts_connections (VsmtpServer       *server);
/* Takes the session's lease in the store: TRUE if the admission goes on
 * asynchronously and @done will be called (unless the session is closed
 * meanwhile); FALSE if there is nothing to ask the store */
gboolean _vsmtp_shared_limits_admit_async        (VsmtpServer       *server,
                                                  VsmtpSession      *session,
                                                  guint              per_client,
                                                  VsmtpAdmittedFunc  done);
/* The session is closed: its lease is given back */
void     _vsmtp_shared_limits_session_closed     (VsmtpServer       *server,
                                                  VsmtpSession      *session);
/* The store and the policy a new session checks its AUTH attempts with
 * (@store NULL: counted in the process) */
void     _vsmtp_shared_limits_for_auth           (VsmtpServer           *server,
                                                  VsmtpStore           **store,
                                                  VsmtpStoreErrorPolicy *policy);

/* AUTH attempts counted in the store (vsmtp-session-auth-store.c), for a
 * session with an AUTH store */
void     _vsmtp_session_set_auth_store           (VsmtpSession          *session,
                                                  VsmtpStore            *store,
                                                  VsmtpStoreErrorPolicy  policy);
/* TRUE when the session's AUTH attempts are counted in its store */
gboolean _vsmtp_session_auth_in_store            (VsmtpSession      *session);
/* AUTH MECHANISM [INITIAL]: the exchange starts once the store said the
 * address is not blocked (@mechanism taken) */
void     _vsmtp_session_auth_store_check         (VsmtpSession      *session,
                                                  char              *mechanism,
                                                  const char        *initial);
void     _vsmtp_session_auth_store_begin         (VsmtpSession      *session);
void     _vsmtp_session_auth_store_add           (VsmtpSession      *session,
                                                  gint64             delta);

G_END_DECLS

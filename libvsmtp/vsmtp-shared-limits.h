/* vsmtp-shared-limits.h: per client address limits kept in the server's
 * store (several instances enforcing one limit)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-version-macros.h"
#include "vsmtp-server.h"

G_BEGIN_DECLS

/**
 * VsmtpSharedLimits:
 * @VSMTP_SHARED_LIMITS_NONE: both are counted in the process
 * @VSMTP_SHARED_LIMITS_CONNECTIONS: connections per client address
 *   ([property@Vsmtp.Server:max-connections-per-client]) are leases in the
 *   store
 * @VSMTP_SHARED_LIMITS_AUTH_FAILURES: failed AUTH attempts per client
 *   address ([property@Vsmtp.Server:max-auth-failures]) are a counter in
 *   the store
 *
 * Which per-address limits a server keeps in its store
 * ([method@Vsmtp.Server.get_store]) instead of its own memory, so that
 * every server sharing the store enforces one limit.
 */
typedef enum /*< flags >*/
{
  VSMTP_SHARED_LIMITS_NONE          = 0,
  VSMTP_SHARED_LIMITS_CONNECTIONS   = 1 << 0,
  VSMTP_SHARED_LIMITS_AUTH_FAILURES = 1 << 1,
} VsmtpSharedLimits;

/**
 * VsmtpStoreErrorPolicy:
 * @VSMTP_STORE_ERROR_POLICY_TEMPFAIL: refuse for now: `421 4.3.0` to a new
 *   connection, `454 4.7.0` to an AUTH attempt
 * @VSMTP_STORE_ERROR_POLICY_ACCEPT: go on as if the limit were not reached
 *   (the connection or the attempt is then not counted)
 *
 * What a server does when its store cannot answer a shared limit's check.
 */
typedef enum
{
  VSMTP_STORE_ERROR_POLICY_TEMPFAIL,
  VSMTP_STORE_ERROR_POLICY_ACCEPT,
} VsmtpStoreErrorPolicy;

VSMTP_AVAILABLE_IN_ALL
void                  vsmtp_server_set_shared_limits      (VsmtpServer           *server,
                                                           VsmtpSharedLimits      limits);
VSMTP_AVAILABLE_IN_ALL
VsmtpSharedLimits     vsmtp_server_get_shared_limits      (VsmtpServer           *server);
VSMTP_AVAILABLE_IN_ALL
void                  vsmtp_server_set_store_error_policy (VsmtpServer           *server,
                                                           VsmtpStoreErrorPolicy  policy);
VSMTP_AVAILABLE_IN_ALL
VsmtpStoreErrorPolicy vsmtp_server_get_store_error_policy (VsmtpServer           *server);

G_END_DECLS

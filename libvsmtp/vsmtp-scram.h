/* vsmtp-scram.h: SCRAM-SHA-256 credentials (RFC 5802, RFC 7677, RFC 5803)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VSMTP_SCRAM_MIN_ITERATIONS:
 *
 * The smallest iteration count accepted in SCRAM-SHA-256 credentials: 4096,
 * the minimum RFC 7677 asks for.
 */
#define VSMTP_SCRAM_MIN_ITERATIONS 4096

/**
 * VSMTP_SCRAM_DEFAULT_ITERATIONS:
 *
 * The iteration count [ctor@Vsmtp.ScramCredentials.new_from_password] uses
 * when given 0 (the default of GNU SASL's `gsasl --mkpasswd`).
 */
#define VSMTP_SCRAM_DEFAULT_ITERATIONS 65536

#define VSMTP_TYPE_SCRAM_CREDENTIALS (vsmtp_scram_credentials_get_type ())

typedef struct _VsmtpScramCredentials VsmtpScramCredentials;

VSMTP_AVAILABLE_IN_ALL
GType                  vsmtp_scram_credentials_get_type           (void) G_GNUC_CONST;
VSMTP_AVAILABLE_IN_ALL
VsmtpScramCredentials *vsmtp_scram_credentials_new                (guint                   iterations,
                                                                   GBytes                 *salt,
                                                                   GBytes                 *stored_key,
                                                                   GBytes                 *server_key,
                                                                   GError                **error);
VSMTP_AVAILABLE_IN_ALL
VsmtpScramCredentials *vsmtp_scram_credentials_new_from_password  (const char             *password,
                                                                   guint                   iterations,
                                                                   GBytes                 *salt,
                                                                   GError                **error);
VSMTP_AVAILABLE_IN_ALL
VsmtpScramCredentials *vsmtp_scram_credentials_parse              (const char             *text,
                                                                   GError                **error);
VSMTP_AVAILABLE_IN_ALL
VsmtpScramCredentials *vsmtp_scram_credentials_ref                (VsmtpScramCredentials  *self);
VSMTP_AVAILABLE_IN_ALL
void                   vsmtp_scram_credentials_unref              (VsmtpScramCredentials  *self);
VSMTP_AVAILABLE_IN_ALL
char                  *vsmtp_scram_credentials_to_string          (VsmtpScramCredentials  *self);
VSMTP_AVAILABLE_IN_ALL
guint                  vsmtp_scram_credentials_get_iterations     (VsmtpScramCredentials  *self);
VSMTP_AVAILABLE_IN_ALL
GBytes                *vsmtp_scram_credentials_get_salt           (VsmtpScramCredentials  *self);
VSMTP_AVAILABLE_IN_ALL
GBytes                *vsmtp_scram_credentials_get_stored_key     (VsmtpScramCredentials  *self);
VSMTP_AVAILABLE_IN_ALL
GBytes                *vsmtp_scram_credentials_get_server_key     (VsmtpScramCredentials  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean               vsmtp_scram_credentials_check_password     (VsmtpScramCredentials  *self,
                                                                   const char             *password);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VsmtpScramCredentials, vsmtp_scram_credentials_unref)

G_END_DECLS

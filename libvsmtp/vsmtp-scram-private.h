/* vsmtp-scram-private.h: what the AUTH exchange needs of SCRAM credentials
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-scram.h"

G_BEGIN_DECLS

/* The salt length of new credentials, and of decoys by default */
#define VSMTP_SCRAM_SALT_LENGTH 16

/* Credentials for a user who has none (unknown, or a crypt(3) hash only):
 * a salt derived from @secret and @authcid (the same at every attempt),
 * @iterations, random keys that no proof matches. */
VsmtpScramCredentials *_vsmtp_scram_credentials_new_decoy (GBytes     *secret,
                                                           const char *authcid,
                                                           guint       iterations,
                                                           gsize       salt_length);
gboolean               _vsmtp_scram_credentials_is_decoy  (VsmtpScramCredentials *self);

G_END_DECLS

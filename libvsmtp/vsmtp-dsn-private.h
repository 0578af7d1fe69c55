/* vsmtp-dsn-private.h: checking the DSN parameters (the DSN built-in
 * extension of vsmtp-extension.c, and the fuzzers)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-reply.h"

G_BEGIN_DECLS

VsmtpReply *_vsmtp_dsn_check_parameter (const char *name,
                                        const char *value,
                                        gboolean    smtputf8);

G_END_DECLS

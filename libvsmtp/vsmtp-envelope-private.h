/* vsmtp-envelope-private.h: reading an envelope without changing it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-envelope.h"

G_BEGIN_DECLS

const char *_vsmtp_envelope_peek_recipient_parameter (VsmtpEnvelope *self,
                                                      guint          index,
                                                      const char    *name);

G_END_DECLS

/* vsmtpd-lmtp.h: [server] listen-lmtp, the short form of an LMTP listener
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

#include "vsmtpd-config.h"

G_BEGIN_DECLS

/* Listens on each address of [server] listen-lmtp (`ADDR:PORT` or
 * `unix:/path`), with [server] lmtp-add-received; adds a line per
 * listener to @listening (what to log once started). */
gboolean vsmtpd_lmtp_listen (VsmtpServer   *server,
                             VsmtpdConfig  *config,
                             GPtrArray     *listening,
                             GError       **error);

G_END_DECLS

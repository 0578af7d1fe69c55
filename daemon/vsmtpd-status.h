/* vsmtpd-status.h: the status page, / on the [metrics] listener
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>
#include <vsmtp.h>

#include "vsmtpd-config.h"

G_BEGIN_DECLS

typedef struct _VsmtpdStatus VsmtpdStatus;

/* Starts counting what the page shows of @server (its sessions' clients,
 * its messages per minute, the transaction lines of the log), on the
 * thread's main context. */
VsmtpdStatus *vsmtpd_status_new        (VsmtpServer          *server);

/* Where the daemon keeps its configuration (replaced by a reload): the
 * page lists its listeners. */
void          vsmtpd_status_set_config (VsmtpdStatus         *self,
                                        VsmtpdConfig * const *config);

/* Answers @message (GET or HEAD /, from a client already allowed) with
 * the page. */
void          vsmtpd_status_serve      (VsmtpdStatus         *self,
                                        SoupServerMessage    *message);

void          vsmtpd_status_free       (VsmtpdStatus         *self);

G_END_DECLS

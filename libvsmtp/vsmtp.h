/* vsmtp.h: the single header of libvsmtp
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define VSMTP_INSIDE
# include "vsmtp-version-macros.h"
# include "vsmtp-error.h"
# include "vsmtp-enums.h"
# include "vsmtp-reply.h"
# include "vsmtp-address.h"
# include "vsmtp-parameters.h"
# include "vsmtp-envelope.h"
# include "vsmtp-dsn.h"
# include "vsmtp-message.h"
# include "vsmtp-scram.h"
# include "vsmtp-session.h"
# include "vsmtp-server.h"
# include "vsmtp-config.h"
# include "vsmtp-extension.h"
# include "vsmtp-listen-options.h"
# include "vsmtp-xclient.h"
# include "vsmtp-activatable.h"
# include "vsmtp-plugin.h"
# include "vsmtp-trace.h"
# include "vsmtp-maintenance.h"
# include "vsmtp-proxy-header.h"
# include "vsmtp-body-type.h"
# include "vsmtp-idna.h"
# include "vsmtp-metrics.h"
# include "vsmtp-store.h"
# include "vsmtp-shared-limits.h"
# include "vsmtp-server-sessions.h"
#undef VSMTP_INSIDE

/* vsmtpd-check.h: vsmtpd --check-config and --print-config
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtpd-config.h"

G_BEGIN_DECLS

/* Loads and checks the whole configuration (the daemon's groups, the
 * [listener NAME] sections, every enabled plugin's group, configured as at
 * startup but not activated), without binding or writing anything. Prints
 * "OK" on stdout, or one line per problem on stderr. Returns the exit
 * status: EXIT_SUCCESS or EXIT_FAILURE. */
int vsmtpd_check_config (const VsmtpdConfigOverrides *overrides);

/* Prints the effective configuration as a key file: every group and key,
 * the keys left at their default commented out and marked "# default"
 * (@changed_only: only the keys the configuration sets). Returns the exit
 * status. */
int vsmtpd_print_config (const VsmtpdConfigOverrides *overrides,
                         gboolean                     changed_only);

G_END_DECLS

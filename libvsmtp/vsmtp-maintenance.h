/* vsmtp-maintenance.h: housekeeping a long-running server needs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VSMTP_STALE_FILE_AGE:
 *
 * The age, in seconds, past which a file left in a maildir's `tmp/` or in
 * a spool folder is taken for a leftover of a crash: 36 hours, the maildir
 * convention.
 */
#define VSMTP_STALE_FILE_AGE (36 * 3600)

VSMTP_AVAILABLE_IN_ALL
gboolean vsmtp_remove_stale_files (const char  *directory,
                                   const char  *prefix,
                                   guint        max_age,
                                   guint       *out_removed,
                                   GError     **error);

G_END_DECLS

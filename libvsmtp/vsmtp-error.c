/* vsmtp-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-error.h"

G_DEFINE_QUARK (vsmtp-error-quark, vsmtp_error)

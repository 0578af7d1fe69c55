/* vsmtp-idna.h: internationalized domain names (SMTPUTF8, RFC 6531)
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

VSMTP_AVAILABLE_IN_ALL
char     *vsmtp_domain_to_ascii    (const char  *domain,
                                    GError     **error);
VSMTP_AVAILABLE_IN_ALL
char     *vsmtp_domain_to_unicode  (const char  *domain,
                                    GError     **error);
VSMTP_AVAILABLE_IN_ALL
gboolean  vsmtp_domain_is_idn      (const char  *domain);

G_END_DECLS

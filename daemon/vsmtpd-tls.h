/* vsmtpd-tls.h: the TLS certificate of vsmtpd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

GTlsCertificate *vsmtpd_tls_load_certificate  (const char  *certificate_path,
                                               const char  *key_path,
                                               gboolean    *out_key_at_fault,
                                               GError     **error);
gboolean         vsmtpd_tls_ensure_self_signed (const char  *directory,
                                                const char  *hostname,
                                                char       **out_certificate_path,
                                                char       **out_key_path,
                                                gboolean    *out_created,
                                                char       **out_previous_name,
                                                GError     **error);
char            *vsmtpd_tls_dup_fingerprint   (GTlsCertificate *certificate);

G_END_DECLS

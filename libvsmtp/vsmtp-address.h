/* vsmtp-address.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_ADDRESS (vsmtp_address_get_type ())

/**
 * VsmtpAddressFlags:
 * @VSMTP_ADDRESS_FLAGS_NONE: no flags
 * @VSMTP_ADDRESS_FLAGS_ALLOW_NULL: accept the null path `<>` (a MAIL FROM sender)
 * @VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER: accept `<postmaster>` without a domain (RCPT TO)
 * @VSMTP_ADDRESS_FLAGS_SMTPUTF8: accept UTF-8 in the local part and domain (RFC 6531)
 *
 * Flags for [func@Vsmtp.Address.parse].
 */
typedef enum /*< flags >*/ {
  VSMTP_ADDRESS_FLAGS_NONE             = 0,
  VSMTP_ADDRESS_FLAGS_ALLOW_NULL       = 1 << 0,
  VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER = 1 << 1,
  VSMTP_ADDRESS_FLAGS_SMTPUTF8         = 1 << 2,
} VsmtpAddressFlags;

typedef struct _VsmtpAddress VsmtpAddress;

VSMTP_AVAILABLE_IN_ALL
GType          vsmtp_address_get_type        (void) G_GNUC_CONST;
VSMTP_AVAILABLE_IN_ALL
VsmtpAddress  *vsmtp_address_new             (const char         *local_part,
                                              const char         *domain);
VSMTP_AVAILABLE_IN_ALL
VsmtpAddress  *vsmtp_address_new_null        (void);
VSMTP_AVAILABLE_IN_ALL
VsmtpAddress  *vsmtp_address_parse           (const char         *path,
                                              gssize              length,
                                              VsmtpAddressFlags   flags,
                                              GError            **error);
VSMTP_AVAILABLE_IN_ALL
VsmtpAddress  *vsmtp_address_ref             (VsmtpAddress       *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_address_unref           (VsmtpAddress       *self);
VSMTP_AVAILABLE_IN_ALL
const char    *vsmtp_address_get_local_part  (VsmtpAddress       *self);
VSMTP_AVAILABLE_IN_ALL
const char    *vsmtp_address_get_domain      (VsmtpAddress       *self);
VSMTP_AVAILABLE_IN_ALL
const char    *vsmtp_address_get_domain_ascii   (VsmtpAddress    *self);
VSMTP_AVAILABLE_IN_ALL
const char    *vsmtp_address_get_domain_unicode (VsmtpAddress    *self);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_address_needs_smtputf8     (VsmtpAddress    *self);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_address_local_part_is_ascii (VsmtpAddress   *self);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_address_is_null         (VsmtpAddress       *self);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_address_is_postmaster   (VsmtpAddress       *self);
VSMTP_AVAILABLE_IN_ALL
const char    *vsmtp_address_to_string       (VsmtpAddress       *self);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_address_equal           (VsmtpAddress       *a,
                                              VsmtpAddress       *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VsmtpAddress, vsmtp_address_unref)

G_END_DECLS

/* vsmtp-idna-private.h: internationalized domains and addresses, inside
 * the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-address.h"
#include "vsmtp-idna.h"
#include "vsmtp-reply.h"

G_BEGIN_DECLS

/* A private vsmtp_address_parse() flag: check the syntax only and leave
 * the domain's IDNA conversion to _vsmtp_address_convert_domain(), so that
 * the session can first decide whether the transaction allows UTF-8 at all
 * (553 5.6.7) before it judges the U-labels (553 5.1.7 / 5.1.3). */
#define _VSMTP_ADDRESS_FLAGS_NO_IDNA ((VsmtpAddressFlags) (1u << 16))

/* Converts @domain (U-labels, A-labels or both; valid UTF-8) to its A-label
 * and U-label forms (transfer full, both lower case). FALSE with
 * VSMTP_ERROR_SYNTAX and a reason (ASCII text, without the domain) when it
 * is not a valid internationalized domain name. */
gboolean _vsmtp_idna_convert (const char  *domain,
                              char       **ascii,
                              char       **unicode,
                              GError     **error);

/* Fills in the A-label and U-label forms of a just-parsed @self's domain
 * (one parsed with _VSMTP_ADDRESS_FLAGS_NO_IDNA, not shared yet). */
gboolean _vsmtp_address_convert_domain (VsmtpAddress  *self,
                                        GError       **error);

/* Whether @mailbox, `local@domain` without angle brackets, is a valid
 * SMTPUTF8 mailbox: UTF-8 allowed in both parts, the domain a valid
 * IDNA2008 name (as vsmtp_address_parse() with VSMTP_ADDRESS_FLAGS_SMTPUTF8
 * judges it; RFC 6533's utf-8-address once it is decoded). */
gboolean _vsmtp_idna_check_mailbox (const char  *mailbox,
                                    gssize       length,
                                    GError     **error);

/* What the session says of a MAIL (@mail) or RCPT @address parsed with
 * _VSMTP_ADDRESS_FLAGS_NO_IDNA in a transaction that is (@smtputf8) or is
 * not SMTPUTF8: NULL when it is accepted (its domain converted), else
 * 553 5.6.7 for a non-ASCII address without SMTPUTF8, 553 5.1.7 / 5.1.3
 * for an invalid internationalized domain (transfer full). */
VsmtpReply *_vsmtp_smtputf8_check_address (VsmtpAddress *address,
                                           gboolean      mail,
                                           gboolean      smtputf8);

G_END_DECLS

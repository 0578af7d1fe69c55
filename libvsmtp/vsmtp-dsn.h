/* vsmtp-dsn.h: delivery status notification parameters (RFC 3461, RFC 6533),
 * xtext, and REQUIRETLS (RFC 8689) on the envelope
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-envelope.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VSMTP_DSN_ENVID_MAX_LENGTH:
 *
 * The longest `ENVID`, in characters once decoded (RFC 3461 4.4).
 */
#define VSMTP_DSN_ENVID_MAX_LENGTH 100

/**
 * VSMTP_DSN_ORCPT_MAX_LENGTH:
 *
 * The longest `ORCPT` value, `addr-type;xtext` as sent (RFC 3461 4.2).
 */
#define VSMTP_DSN_ORCPT_MAX_LENGTH 500

/**
 * VsmtpDsnRet:
 * @VSMTP_DSN_RET_UNSPECIFIED: no `RET` parameter: the server chooses
 * @VSMTP_DSN_RET_FULL: `RET=FULL`: a failure notice returns the whole message
 * @VSMTP_DSN_RET_HDRS: `RET=HDRS`: a failure notice returns the header only
 *
 * What a delivery status notification of the message should return
 * (RFC 3461 4.3), from MAIL FROM's `RET` parameter.
 */
typedef enum {
  VSMTP_DSN_RET_UNSPECIFIED,
  VSMTP_DSN_RET_FULL,
  VSMTP_DSN_RET_HDRS,
} VsmtpDsnRet;

/**
 * VsmtpDsnNotify:
 * @VSMTP_DSN_NOTIFY_DEFAULT: no `NOTIFY` parameter: notices of failure
 *   (and perhaps delay), as the server chooses
 * @VSMTP_DSN_NOTIFY_NEVER: `NOTIFY=NEVER`: no notice at all
 * @VSMTP_DSN_NOTIFY_SUCCESS: a notice of delivery
 * @VSMTP_DSN_NOTIFY_FAILURE: a notice of failure
 * @VSMTP_DSN_NOTIFY_DELAY: a notice of delay
 *
 * The notices the sender asks for about one recipient (RFC 3461 4.1), from
 * RCPT TO's `NOTIFY` parameter. %VSMTP_DSN_NOTIFY_NEVER is never combined
 * with the others.
 */
typedef enum /*< flags >*/ {
  VSMTP_DSN_NOTIFY_DEFAULT = 0,
  VSMTP_DSN_NOTIFY_NEVER   = 1 << 0,
  VSMTP_DSN_NOTIFY_SUCCESS = 1 << 1,
  VSMTP_DSN_NOTIFY_FAILURE = 1 << 2,
  VSMTP_DSN_NOTIFY_DELAY   = 1 << 3,
} VsmtpDsnNotify;

VSMTP_AVAILABLE_IN_ALL
char           *vsmtp_xtext_decode                       (const char     *text,
                                                          GError        **error);
VSMTP_AVAILABLE_IN_ALL
char           *vsmtp_xtext_encode                       (const char     *text);
VSMTP_AVAILABLE_IN_ALL
char           *vsmtp_utf8_addr_decode                   (const char     *text,
                                                          gboolean        unitext,
                                                          GError        **error);

VSMTP_AVAILABLE_IN_ALL
VsmtpDsnRet     vsmtp_envelope_get_dsn_ret               (VsmtpEnvelope  *self);
VSMTP_AVAILABLE_IN_ALL
char           *vsmtp_envelope_dup_dsn_envid             (VsmtpEnvelope  *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpDsnNotify  vsmtp_envelope_get_recipient_dsn_notify  (VsmtpEnvelope  *self,
                                                          guint           index);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_envelope_get_recipient_dsn_orcpt   (VsmtpEnvelope  *self,
                                                          guint           index,
                                                          char          **addr_type,
                                                          char          **address);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_envelope_get_requiretls            (VsmtpEnvelope  *self);

G_END_DECLS

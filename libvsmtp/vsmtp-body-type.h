/* vsmtp-body-type.h: the body type a transaction declared (MAIL FROM's
 * BODY parameter)
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
 * VsmtpBodyType:
 * @VSMTP_BODY_TYPE_NONE: no `BODY` parameter: 7-bit content by RFC 5321,
 *   though clients send 8-bit content without saying so
 * @VSMTP_BODY_TYPE_SEVEN_BIT: `BODY=7BIT` (RFC 6152)
 * @VSMTP_BODY_TYPE_EIGHT_BIT_MIME: `BODY=8BITMIME` (RFC 6152)
 * @VSMTP_BODY_TYPE_BINARY_MIME: `BODY=BINARYMIME` (RFC 3030): binary
 *   content (NULs, bare CR and LF, lines of any length), sent only with
 *   BDAT
 *
 * The body type a transaction declared with the `BODY` parameter of
 * `MAIL FROM`, as [method@Vsmtp.Envelope.get_body_type] reads it.
 */
typedef enum {
  VSMTP_BODY_TYPE_NONE,
  VSMTP_BODY_TYPE_SEVEN_BIT,
  VSMTP_BODY_TYPE_EIGHT_BIT_MIME,
  VSMTP_BODY_TYPE_BINARY_MIME,
} VsmtpBodyType;

VSMTP_AVAILABLE_IN_ALL
VsmtpBodyType  vsmtp_envelope_get_body_type (VsmtpEnvelope *self);

G_END_DECLS

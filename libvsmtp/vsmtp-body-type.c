/* vsmtp-body-type.c: the envelope's body type (MAIL FROM's BODY parameter)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-body-type.h"

/**
 * vsmtp_envelope_get_body_type:
 * @self: an envelope
 *
 * The body type the sender declared with `MAIL FROM:<...> BODY=...`
 * (RFC 6152, RFC 3030), read from its MAIL parameters: the raw value stays
 * there too ([method@Vsmtp.Envelope.get_mail_parameter] with `BODY`). The
 * server accepts `BODY=BINARYMIME` only where it offers `BINARYMIME`, and
 * such a message only by BDAT: its content may hold NULs, bare CR and LF
 * and lines of any length, and is stored exactly as received. A relay must
 * pass it on with BDAT to a server that offers `BINARYMIME` too.
 *
 * Returns: the declared body type, %VSMTP_BODY_TYPE_NONE without a `BODY`
 *   parameter (or with a value the server would not have accepted)
 */
VsmtpBodyType
vsmtp_envelope_get_body_type (VsmtpEnvelope *self)
{
  const char *body;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), VSMTP_BODY_TYPE_NONE);

  body = vsmtp_envelope_get_mail_parameter (self, "BODY");
  if (body == NULL)
    return VSMTP_BODY_TYPE_NONE;
  if (g_ascii_strcasecmp (body, "7BIT") == 0)
    return VSMTP_BODY_TYPE_SEVEN_BIT;
  if (g_ascii_strcasecmp (body, "8BITMIME") == 0)
    return VSMTP_BODY_TYPE_EIGHT_BIT_MIME;
  if (g_ascii_strcasecmp (body, "BINARYMIME") == 0)
    return VSMTP_BODY_TYPE_BINARY_MIME;
  return VSMTP_BODY_TYPE_NONE;
}

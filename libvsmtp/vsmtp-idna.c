/* vsmtp-idna.c: internationalized domain names (SMTPUTF8, RFC 6531), with
 * libidn2
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "vsmtp-envelope.h"
#include "vsmtp-error.h"
#include "vsmtp-idna-private.h"

/* after GLib's headers: idn2.h defines G_GNUC_DEPRECATED when it is not */
#include <idn2.h>

/* How domains are converted (docs/extensions.md, "SMTPUTF8"):
 *
 * - IDNA2008 (RFC 5890-5893) through libidn2's idn2_to_ascii_8z() with
 *   IDN2_NONTRANSITIONAL: UTS #46 processing, non-transitional, so that
 *   upper-case and not-yet-normalized input ("BÜCHER", a + U+0308) maps to
 *   its U-label (bücher) while "ß" and "ς" stay themselves (the
 *   transitional mapping would turn straße.de into strasse.de, another
 *   domain).
 * - The A-label form must be letters, digits and hyphens only (RFC 5321's
 *   Ldh-str): UTS #46 maps some characters to other ASCII ones (U+FF3F to
 *   "_", U+3000 to " "), and libidn2's IDN2_USE_STD3_ASCII_RULES would
 *   silently drop them ("a_b" gives "ab"), so the result is checked.
 * - A-labels in the input (xn--...) are decoded and checked by the same
 *   call: an A-label that does not decode to a valid U-label is refused.
 * - A mapping that would change the number of labels (U+3002 and the
 *   other full stops that UTS #46 maps to ".") is refused: the parser has
 *   judged the labels already.
 * - The U-label form is idn2_to_unicode_8z8z() of the A-label form, and
 *   it must be valid IDNA2008 as it is, without any mapping
 *   (IDN2_NO_TR46), and convert back to the same A-label: UTS #46 accepts
 *   an A-label such as xn--gsh (U+247B, "⑻") that IDNA2008 disallows,
 *   and maps it to "(8)".
 */
#define IDNA_FLAGS IDN2_NONTRANSITIONAL

static gboolean
has_a_label (const char *domain)
{
  const char *label = domain;

  for (;;)
    {
      if (g_ascii_strncasecmp (label, "xn--", 4) == 0)
        return TRUE;
      label = strchr (label, '.');
      if (label == NULL)
        return FALSE;
      label++;
    }
}

/**
 * vsmtp_domain_is_idn:
 * @domain: a domain name, valid UTF-8
 *
 * Gets whether @domain is an internationalized domain name: it has a
 * non-ASCII character (a U-label) or a label that starts with `xn--` (an
 * A-label).
 *
 * Returns: %TRUE for an internationalized domain name
 */
gboolean
vsmtp_domain_is_idn (const char *domain)
{
  g_return_val_if_fail (domain != NULL, FALSE);

  for (const char *p = domain; *p != '\0'; p++)
    if ((guchar) *p >= 0x80)
      return TRUE;
  return has_a_label (domain);
}

static guint
count_dots (const char *s)
{
  guint n = 0;

  for (; *s != '\0'; s++)
    n += *s == '.';
  return n;
}

gboolean
_vsmtp_idna_convert (const char  *domain,
                     char       **ascii,
                     char       **unicode,
                     GError     **error)
{
  char *a = NULL;
  char *u = NULL;
  int rc;

  rc = idn2_to_ascii_8z (domain, &a, IDNA_FLAGS);
  if (rc != IDN2_OK)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "Invalid internationalized domain name: %s", idn2_strerror (rc));
      return FALSE;
    }
  for (const char *p = a; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      {
        free (a);
        g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                             "Invalid internationalized domain name: a character maps to "
                             "one that is not a letter, digit or hyphen");
        return FALSE;
      }
  if (count_dots (a) != count_dots (domain))
    {
      free (a);
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "Invalid internationalized domain name: "
                           "a label holds a full stop other than “.”");
      return FALSE;
    }
  rc = idn2_to_unicode_8z8z (a, &u, 0);
  if (rc == IDN2_OK)
    {
      char *strict = NULL;

      rc = idn2_to_ascii_8z (u, &strict, IDN2_NO_TR46);
      if (rc == IDN2_OK && strcmp (strict, a) != 0)
        rc = IDN2_ALABEL_ROUNDTRIP_FAILED;
      free (strict);
    }
  if (rc != IDN2_OK)
    {
      free (a);
      free (u);
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "Invalid internationalized domain name: %s", idn2_strerror (rc));
      return FALSE;
    }

  /* libidn2 allocates with malloc(): hand GLib memory out */
  if (ascii != NULL)
    *ascii = g_strdup (a);
  if (unicode != NULL)
    *unicode = g_strdup (u);
  free (a);
  free (u);
  return TRUE;
}

/* vsmtp_domain_to_ascii() (@unicode FALSE) and vsmtp_domain_to_unicode() */
static char *
domain_convert (const char  *domain,
                gboolean     unicode,
                GError     **error)
{
  char *converted = NULL;

  if (!g_utf8_validate (domain, -1, NULL))
    {
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "Domain is not valid UTF-8");
      return NULL;
    }
  if (!vsmtp_domain_is_idn (domain))
    return g_strdup (domain);
  if (!_vsmtp_idna_convert (domain, unicode ? NULL : &converted,
                            unicode ? &converted : NULL, error))
    return NULL;
  return converted;
}

/**
 * vsmtp_domain_to_ascii:
 * @domain: a domain name (U-labels, A-labels, or both), valid UTF-8,
 *   without a trailing dot
 * @error: return location for a #GError
 *
 * Converts a domain name to its A-label form (`bücher.example` →
 * `xn--bcher-kva.example`), as SMTPUTF8 servers compare domains and as DNS
 * looks them up. An internationalized domain name (see
 * [func@Vsmtp.domain_is_idn]) is converted with libidn2 (IDNA2008 with
 * UTS #46 non-transitional mapping, so the result is in lower case) and
 * its A-labels are checked; any other domain is returned as it is.
 *
 * Fails with %VSMTP_ERROR_SYNTAX when @domain is not a valid
 * internationalized domain name.
 *
 * Returns: (transfer full): the A-label form, or %NULL on error
 */
char *
vsmtp_domain_to_ascii (const char  *domain,
                       GError     **error)
{
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return domain_convert (domain, FALSE, error);
}

/**
 * vsmtp_domain_to_unicode:
 * @domain: a domain name (U-labels, A-labels, or both), valid UTF-8,
 *   without a trailing dot
 * @error: return location for a #GError
 *
 * Converts a domain name to its U-label form (`xn--bcher-kva.example` →
 * `bücher.example`), the form to show people. The checks and the mapping
 * are those of [func@Vsmtp.domain_to_ascii]; a domain that is not an
 * internationalized one is returned as it is.
 *
 * Returns: (transfer full): the U-label form, or %NULL on error
 */
char *
vsmtp_domain_to_unicode (const char  *domain,
                         GError     **error)
{
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return domain_convert (domain, TRUE, error);
}

gboolean
_vsmtp_idna_check_mailbox (const char  *mailbox,
                           gssize       length,
                           GError     **error)
{
  g_autoptr(VsmtpAddress) address = NULL;

  g_return_val_if_fail (mailbox != NULL, FALSE);

  if (length < 0)
    length = strlen (mailbox);
  if (length > 0 && (mailbox[0] == '<' || mailbox[length - 1] == '>'))
    {
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "Address must not have angle brackets here");
      return FALSE;
    }
  address = vsmtp_address_parse (mailbox, length, VSMTP_ADDRESS_FLAGS_SMTPUTF8, error);
  return address != NULL;
}

VsmtpReply *
_vsmtp_smtputf8_check_address (VsmtpAddress *address,
                               gboolean      mail,
                               gboolean      smtputf8)
{
  g_autoptr(GError) error = NULL;

  /* RFC 6531 §3.5: 553 and X.6.7 "Non-ASCII addresses not permitted for
   * that sender/recipient" */
  if (!smtputf8 && vsmtp_address_needs_smtputf8 (address))
    return vsmtp_reply_new (553, "5.6.7",
                            mail ? "Non-ASCII sender address not permitted without SMTPUTF8"
                                 : "Non-ASCII recipient address not permitted without SMTPUTF8");

  if (!_vsmtp_address_convert_domain (address, &error))
    return vsmtp_reply_new_printf (553, mail ? "5.1.7" : "5.1.3", "Bad %s address: %s",
                                   mail ? "sender" : "recipient", error->message);
  return NULL;
}

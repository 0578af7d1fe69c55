/* fuzz-address.c: libFuzzer harness for vsmtp_address_parse()
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The whole input is parsed as a path with each of the eight flag
 * combinations, by length and (when it holds no NUL) as a C string. A
 * parsed address must format to a string that parses back to an equal
 * address with the same flags. Internationalized domains: the A-label form
 * is ASCII and converts back to itself, the U-label form is UTF-8, and the
 * session's two-step way (syntax, then IDNA) agrees with the one-step one.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-address.h"
#include "vsmtp-error.h"
#include "vsmtp-idna-private.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_common_init ();
  return 0;
}

static void
check_round_trip (VsmtpAddress      *address,
                  VsmtpAddressFlags  flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) again = NULL;
  g_autofree char *bracketed = NULL;
  const char *string = vsmtp_address_to_string (address);

  g_assert_nonnull (string);
  bracketed = g_strdup_printf ("<%s>", string);
  again = vsmtp_address_parse (bracketed, -1, flags, &error);
  if (again == NULL)
    g_error ("“%s” does not parse back: %s", bracketed, error->message);
  g_assert_true (vsmtp_address_equal (address, again));
  g_assert_true (vsmtp_address_equal (again, address));
  g_assert_cmpstr (vsmtp_address_to_string (again), ==, string);
}

static void
check_idna (VsmtpAddress      *address,
            VsmtpAddressFlags  flags)
{
  const char *domain = vsmtp_address_get_domain (address);
  const char *ascii = vsmtp_address_get_domain_ascii (address);
  const char *unicode = vsmtp_address_get_domain_unicode (address);

  if (vsmtp_address_needs_smtputf8 (address))
    g_assert_true (flags & VSMTP_ADDRESS_FLAGS_SMTPUTF8);
  if (domain == NULL)
    {
      g_assert_null (ascii);
      g_assert_null (unicode);
      return;
    }
  g_assert_nonnull (ascii);
  g_assert_nonnull (unicode);
  g_assert_true (g_utf8_validate (unicode, -1, NULL));
  if (domain[0] != '[' && vsmtp_domain_is_idn (domain))
    {
      g_autofree char *again = NULL;

      for (const char *c = ascii; *c != '\0'; c++)
        g_assert_true ((guchar) *c < 0x80);
      again = vsmtp_domain_to_ascii (unicode, NULL);
      g_assert_cmpstr (again, ==, ascii);
    }
  else
    {
      g_assert_cmpstr (ascii, ==, domain);
      g_assert_cmpstr (unicode, ==, domain);
    }
}

/* The session's way: syntax first, the domain's conversion afterwards */
static void
check_deferred (const char        *path,
                gssize             length,
                VsmtpAddressFlags  flags,
                gboolean           parsed)
{
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  gboolean converted;

  address = vsmtp_address_parse (path, length, flags | _VSMTP_ADDRESS_FLAGS_NO_IDNA, NULL);
  if (address == NULL)
    {
      g_assert_false (parsed);
      return;
    }
  converted = _vsmtp_address_convert_domain (address, &error);
  g_assert_true (converted == parsed);
  g_assert_true (converted == (error == NULL));
  if (converted)
    check_idna (address, flags);
  else
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static void
check_one (const char        *path,
           gssize             length,
           VsmtpAddressFlags  flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) address = NULL;

  address = vsmtp_address_parse (path, length, flags, &error);
  check_deferred (path, length, flags, address != NULL);
  if (address == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == VSMTP_ERROR);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return;
    }

  g_assert_no_error (error);

  if (vsmtp_address_is_null (address))
    {
      g_assert_true (flags & VSMTP_ADDRESS_FLAGS_ALLOW_NULL);
      g_assert_null (vsmtp_address_get_domain (address));
      g_assert_cmpstr (vsmtp_address_to_string (address), ==, "");
    }
  else if (vsmtp_address_is_postmaster (address))
    {
      g_assert_true (flags & VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER);
      g_assert_null (vsmtp_address_get_domain (address));
    }
  else
    {
      const char *local = vsmtp_address_get_local_part (address);
      const char *domain = vsmtp_address_get_domain (address);

      g_assert_nonnull (local);
      g_assert_nonnull (domain);
      g_assert_true (*domain != '\0');
      g_assert_true (strlen (domain) <= 255);
      if (!(flags & VSMTP_ADDRESS_FLAGS_SMTPUTF8))
        {
          for (const char *c = vsmtp_address_to_string (address); *c != '\0'; c++)
            g_assert_true ((guchar) *c < 0x80);
        }
      else
        g_assert_true (g_utf8_validate (vsmtp_address_to_string (address), -1, NULL));
    }

  check_idna (address, flags);
  check_round_trip (address, flags);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  /* An exact-size copy, so that ASan catches any read past the length. */
  g_autofree char *copy = g_memdup2 (data, size);
  g_autofree char *string = NULL;
  gboolean has_nul = memchr (data, '\0', size) != NULL;

  if (!has_nul)
    string = g_strndup ((const char *) data, size);

  for (guint flags = 0; flags < 8; flags++)
    {
      check_one (size > 0 ? copy : "", size, flags);
      if (string != NULL)
        check_one (string, -1, flags);
    }

  return 0;
}

/* fuzz-command.c: libFuzzer harness for the command line parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is one command line (as the session hands it over: without its
 * CRLF, NUL-terminated; a NUL inside ends it). The verb is split off; MAIL
 * and RCPT arguments go through _vsmtp_command_parse_path() with every
 * address flag combination, and the results are checked for consistency;
 * the arguments go through the XCLIENT attribute parser too.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-command-private.h"
#include "vsmtp-error.h"
#include "vsmtp-xclient-private.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_common_init ();
  return 0;
}

static void
check_path (const char        *args,
            gboolean           is_mail,
            VsmtpAddressFlags  flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GHashTable) params = NULL;
  gboolean address_error = TRUE;
  gboolean ok;

  ok = _vsmtp_command_parse_path (args, is_mail, flags, &address, &params,
                                  &address_error, &error);
  if (ok)
    {
      g_assert_no_error (error);
      g_assert_nonnull (address);
      g_assert_nonnull (params);
      g_assert_false (address_error);
      g_assert_true (vsmtp_address_to_string (address) != NULL);
      if (vsmtp_address_is_null (address))
        g_assert_true (flags & VSMTP_ADDRESS_FLAGS_ALLOW_NULL);
      if (vsmtp_address_is_postmaster (address))
        g_assert_true (!is_mail || (flags & VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER));

      /* Every keyword is upper-case, non-empty; every value non-empty. */
      {
        GHashTableIter iter;
        gpointer key, value;

        g_hash_table_iter_init (&iter, params);
        while (g_hash_table_iter_next (&iter, &key, &value))
          {
            const char *k = key;

            g_assert_true (*k != '\0');
            for (const char *c = k; *c != '\0'; c++)
              g_assert_true (!g_ascii_islower (*c));
            if (value != NULL)
              g_assert_true (*(const char *) value != '\0');
          }
      }
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == VSMTP_ERROR);
      g_assert_null (address);
      g_assert_null (params);
    }

  /* The optional out arguments may be left out. */
  {
    g_autoptr(GError) error2 = NULL;

    g_assert_true (_vsmtp_command_parse_path (args, is_mail, flags, NULL, NULL, NULL, &error2) == ok);
    g_assert_true (_vsmtp_command_parse_path (args, is_mail, flags, NULL, NULL, NULL, NULL) == ok);
  }
}

/* The XCLIENT attributes: all or nothing */
static void
check_xclient (const char *args)
{
  g_autoptr(GError) error = NULL;
  VsmtpXclientAttributes attributes;

  if (_vsmtp_xclient_parse (args, &attributes, &error))
    {
      g_assert_no_error (error);
      g_assert_cmphex (attributes.given, !=, 0);
      g_assert_cmphex (attributes.given & ~0xffu, ==, 0);
      if (attributes.name != NULL)
        g_assert_cmpuint (strlen (attributes.name), <=, VSMTP_XCLIENT_VALUE_MAX);
      if (attributes.helo != NULL)
        g_assert_true (strpbrk (attributes.helo, " \r\n") == NULL);
      if (attributes.login != NULL)
        g_assert_true (g_utf8_validate (attributes.login, -1, NULL));
      if ((attributes.given & VSMTP_XCLIENT_PORT) && attributes.port == 0)
        g_assert_true (strstr (args, "[UNAVAILABLE]") != NULL);
      _vsmtp_xclient_attributes_clear (&attributes);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == VSMTP_ERROR);
      /* the text of a 501 reply line */
      g_assert_cmpuint (strlen (error->message), <, 200);
      g_assert_true (strpbrk (error->message, "\r\n") == NULL);
      g_assert_cmphex (attributes.given, ==, 0);
      g_assert_null (attributes.name);
      g_assert_null (attributes.addr);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *line = g_strndup ((const char *) data, size);
  const char *args = NULL;
  VsmtpVerb verb;
  gsize line_length = strlen (line);

  verb = _vsmtp_command_parse_verb (line, &args);
  g_assert_nonnull (args);
  g_assert_true (args >= line && args <= line + line_length);
  g_assert_nonnull (_vsmtp_verb_to_string (verb));

  if (verb != VSMTP_VERB_UNKNOWN)
    g_assert_true (args == line + line_length || args[-1] == ' ');

  /* Whatever the verb, the MAIL/RCPT argument parser must cope with the
   * arguments, and with the whole line too. */
  for (guint flags = 0; flags < 8; flags++)
    {
      check_path (args, TRUE, flags);
      check_path (args, FALSE, flags);
    }
  check_path (line, verb == VSMTP_VERB_MAIL, VSMTP_ADDRESS_FLAGS_ALLOW_NULL);
  check_xclient (args);

  return 0;
}

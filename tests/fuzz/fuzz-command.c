/* fuzz-command.c: libFuzzer harness for the command line parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is one command line (as the session hands it over: without its
 * CRLF, NUL-terminated; a NUL inside ends it). The verb is split off; MAIL
 * and RCPT arguments go through _vsmtp_command_parse_path() with every
 * address flag combination, and the results are checked for consistency;
 * then as the session does it: UTF-8 parsed, and judged afterwards for a
 * transaction with and without SMTPUTF8. The parameters parsed, and the
 * arguments themselves, also go through the DSN checks and the xtext and
 * RFC 6533 decoders (vsmtp-dsn.c).
 * The arguments go through the XCLIENT attribute parser too.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-command-private.h"
#include "vsmtp-dsn.h"
#include "vsmtp-dsn-private.h"
#include "vsmtp-error.h"
#include "vsmtp-idna-private.h"
#include "vsmtp-xclient-private.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_common_init ();
  return 0;
}

/* The DSN checks of each parameter agree with the envelope's accessors; the
 * decoders take any text and what they give survives a round trip. */
static void
check_dsn (GHashTable *params)
{
  g_autoptr(VsmtpEnvelope) envelope = vsmtp_envelope_new ();
  g_autoptr(VsmtpAddress) address = vsmtp_address_new ("a", "example.org");
  GHashTableIter iter;
  gpointer key, value;

  vsmtp_envelope_set_sender (envelope, address, params);
  vsmtp_envelope_add_recipient (envelope, address, params);
  g_hash_table_iter_init (&iter, params);
  while (g_hash_table_iter_next (&iter, &key, &value))
    for (int smtputf8 = 0; smtputf8 < 2; smtputf8++)
      {
        g_autoptr(VsmtpReply) reply = _vsmtp_dsn_check_parameter (key, value, smtputf8);

        if (reply != NULL)
          {
            g_assert_cmpint (vsmtp_reply_get_code (reply), ==, 501);
            continue;
          }
        if (g_str_equal (key, "ENVID"))
          {
            g_autofree char *envid = vsmtp_envelope_dup_dsn_envid (envelope);

            g_assert_nonnull (envid);
            g_assert_cmpuint (strlen (envid), <=, VSMTP_DSN_ENVID_MAX_LENGTH);
          }
        else if (g_str_equal (key, "NOTIFY"))
          g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (envelope, 0), !=, 0);
        else if (g_str_equal (key, "ORCPT") && smtputf8)
          g_assert_true (vsmtp_envelope_get_recipient_dsn_orcpt (envelope, 0, NULL, NULL));
        else if (g_str_equal (key, "RET"))
          g_assert_cmpint (vsmtp_envelope_get_dsn_ret (envelope), !=, VSMTP_DSN_RET_UNSPECIFIED);
      }
}

static void
check_decoders (const char *text)
{
  g_autofree char *decoded = vsmtp_xtext_decode (text, NULL);

  if (decoded != NULL)
    {
      g_autofree char *encoded = vsmtp_xtext_encode (decoded);
      g_autofree char *again = vsmtp_xtext_decode (encoded, NULL);

      g_assert_cmpstr (again, ==, decoded);
    }
  for (int unitext = 0; unitext < 2; unitext++)
    {
      g_autofree char *address = vsmtp_utf8_addr_decode (text, unitext, NULL);

      if (address != NULL)
        g_assert_true (g_utf8_validate (address, -1, NULL));
    }
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
      check_dsn (params);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == VSMTP_ERROR);
      /* it goes into a reply: never the client's invalid UTF-8 */
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
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

/* vsmtp-session-commands.c's session_save_path() */
static void
check_session_path (const char *args,
                    gboolean    is_mail)
{
  VsmtpAddressFlags flags = VSMTP_ADDRESS_FLAGS_SMTPUTF8 | _VSMTP_ADDRESS_FLAGS_NO_IDNA |
                            (is_mail ? VSMTP_ADDRESS_FLAGS_ALLOW_NULL
                                     : VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER);
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(VsmtpReply) without = NULL;
  g_autoptr(VsmtpReply) with = NULL;

  if (!_vsmtp_command_parse_path (args, is_mail, flags, &address, &params, NULL, NULL))
    return;

  without = _vsmtp_smtputf8_check_address (address, is_mail, FALSE);
  if (vsmtp_address_needs_smtputf8 (address))
    {
      g_assert_nonnull (without);
      g_assert_cmpuint (vsmtp_reply_get_code (without), ==, 553);
      g_assert_cmpstr (vsmtp_reply_get_enhanced_code (without), ==, "5.6.7");
    }
  with = _vsmtp_smtputf8_check_address (address, is_mail, TRUE);
  if (with != NULL)
    {
      g_assert_cmpuint (vsmtp_reply_get_code (with), ==, 553);
      g_assert_cmpstr (vsmtp_reply_get_enhanced_code (with), ==, is_mail ? "5.1.7" : "5.1.3");
    }
  else
    {
      const char *ascii = vsmtp_address_get_domain_ascii (address);

      if (ascii != NULL && ascii[0] != '[')
        for (const char *c = ascii; *c != '\0'; c++)
          g_assert_true ((guchar) *c < 0x80);
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
  check_decoders (args);
  check_session_path (args, verb != VSMTP_VERB_RCPT);
  check_xclient (args);

  return 0;
}

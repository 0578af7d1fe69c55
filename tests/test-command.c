/* test-command.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp.h"
#include "vsmtp-command-private.h"

typedef struct {
  const char *line;
  VsmtpVerb verb;
  const char *args;
} VerbCase;

static const VerbCase verb_cases[] = {
  { "HELO client.example", VSMTP_VERB_HELO, "client.example" },
  { "EHLO client.example", VSMTP_VERB_EHLO, "client.example" },
  { "LHLO client.example", VSMTP_VERB_LHLO, "client.example" },
  { "MAIL FROM:<a@b.example>", VSMTP_VERB_MAIL, "FROM:<a@b.example>" },
  { "RCPT TO:<a@b.example>", VSMTP_VERB_RCPT, "TO:<a@b.example>" },
  { "DATA", VSMTP_VERB_DATA, "" },
  { "BDAT 100 LAST", VSMTP_VERB_BDAT, "100 LAST" },
  { "RSET", VSMTP_VERB_RSET, "" },
  { "NOOP", VSMTP_VERB_NOOP, "" },
  { "NOOP anything", VSMTP_VERB_NOOP, "anything" },
  { "VRFY user", VSMTP_VERB_VRFY, "user" },
  { "EXPN list", VSMTP_VERB_EXPN, "list" },
  { "HELP", VSMTP_VERB_HELP, "" },
  { "HELP MAIL", VSMTP_VERB_HELP, "MAIL" },
  { "QUIT", VSMTP_VERB_QUIT, "" },
  { "STARTTLS", VSMTP_VERB_STARTTLS, "" },
  { "AUTH PLAIN AGFAAGI=", VSMTP_VERB_AUTH, "PLAIN AGFAAGI=" },
  /* case */
  { "ehlo client.example", VSMTP_VERB_EHLO, "client.example" },
  { "MaIl FROM:<a@b.example>", VSMTP_VERB_MAIL, "FROM:<a@b.example>" },
  { "starttls", VSMTP_VERB_STARTTLS, "" },
  { "qUiT", VSMTP_VERB_QUIT, "" },
  /* spaces */
  { "MAIL   FROM:<a@b.example>", VSMTP_VERB_MAIL, "FROM:<a@b.example>" },
  { "DATA ", VSMTP_VERB_DATA, "" },
  { "HELO  a b ", VSMTP_VERB_HELO, "a b " },
  /* the verb must end at a space or the end of the line */
  { "MAILFROM:<a@b.example>", VSMTP_VERB_UNKNOWN, "" },
  { "DATAX", VSMTP_VERB_UNKNOWN, "" },
  { "QUIT:", VSMTP_VERB_UNKNOWN, "" },
  { "STARTTLSX", VSMTP_VERB_UNKNOWN, "" },
  { "DAT", VSMTP_VERB_UNKNOWN, "" },
  { "HELO\tx", VSMTP_VERB_UNKNOWN, "" },
  { "XCLIENT ADDR=192.0.2.1", VSMTP_VERB_XCLIENT, "ADDR=192.0.2.1" },
  { "xclient  NAME=a", VSMTP_VERB_XCLIENT, "NAME=a" },
  /* unknown verbs */
  { "XFORWARD ADDR=192.0.2.1", VSMTP_VERB_UNKNOWN, "ADDR=192.0.2.1" },
  { "XCLIENTS", VSMTP_VERB_UNKNOWN, "" },
  { "GET / HTTP/1.0", VSMTP_VERB_UNKNOWN, "/ HTTP/1.0" },
  { "TURN", VSMTP_VERB_UNKNOWN, "" },
  { "STARTTL", VSMTP_VERB_UNKNOWN, "" },
  { "", VSMTP_VERB_UNKNOWN, "" },
  { "  NOOP", VSMTP_VERB_UNKNOWN, "NOOP" },
};

static void
test_verbs (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (verb_cases); i++)
    {
      const VerbCase *c = &verb_cases[i];
      const char *args = NULL;
      VsmtpVerb verb;

      g_test_message ("line “%s”", c->line);
      verb = _vsmtp_command_parse_verb (c->line, &args);
      g_assert_cmpint (verb, ==, c->verb);
      g_assert_cmpstr (args, ==, c->args);
      /* args points into the line */
      g_assert_true (args >= c->line && args <= c->line + strlen (c->line));
    }

  /* args may be NULL */
  g_assert_cmpint (_vsmtp_command_parse_verb ("QUIT", NULL), ==, VSMTP_VERB_QUIT);
}

static void
test_verb_to_string (void)
{
  VsmtpVerb verb;

  for (verb = VSMTP_VERB_HELO; verb <= VSMTP_VERB_AUTH; verb++)
    {
      const char *name = _vsmtp_verb_to_string (verb);
      g_autofree char *lower = g_ascii_strdown (name, -1);

      /* the name parses back to the verb, in either case */
      g_assert_cmpint (_vsmtp_command_parse_verb (name, NULL), ==, verb);
      g_assert_cmpint (_vsmtp_command_parse_verb (lower, NULL), ==, verb);
    }

  g_assert_cmpstr (_vsmtp_verb_to_string (VSMTP_VERB_UNKNOWN), ==, "UNKNOWN");
  g_assert_cmpstr (_vsmtp_verb_to_string (VSMTP_VERB_STARTTLS), ==, "STARTTLS");
}

static gboolean
parse (const char         *args,
       gboolean            is_mail,
       VsmtpAddressFlags   flags,
       VsmtpAddress      **address,
       GHashTable        **params,
       gboolean           *address_error,
       GError            **error)
{
  return _vsmtp_command_parse_path (args, is_mail, flags, address, params, address_error, error);
}

static void
test_mail_simple (void)
{
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GError) error = NULL;
  gboolean address_error = TRUE;

  g_assert_true (parse ("FROM:<sender@example.com>", TRUE, VSMTP_ADDRESS_FLAGS_ALLOW_NULL,
                        &address, &params, &address_error, &error));
  g_assert_no_error (error);
  g_assert_false (address_error);
  g_assert_cmpstr (vsmtp_address_to_string (address), ==, "sender@example.com");
  g_assert_nonnull (params);
  g_assert_cmpuint (g_hash_table_size (params), ==, 0);
  g_clear_pointer (&address, vsmtp_address_unref);
  g_clear_pointer (&params, g_hash_table_unref);

  /* keyword case, null sender */
  g_assert_true (parse ("from:<>", TRUE, VSMTP_ADDRESS_FLAGS_ALLOW_NULL,
                        &address, &params, &address_error, &error));
  g_assert_no_error (error);
  g_assert_true (vsmtp_address_is_null (address));
  g_clear_pointer (&address, vsmtp_address_unref);
  g_clear_pointer (&params, g_hash_table_unref);

  /* bare address */
  g_assert_true (parse ("FROM:sender@example.com SIZE=10", TRUE, VSMTP_ADDRESS_FLAGS_NONE,
                        &address, &params, &address_error, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vsmtp_address_to_string (address), ==, "sender@example.com");
  g_assert_cmpstr (g_hash_table_lookup (params, "SIZE"), ==, "10");
}

/* _VSMTP_COMMAND_FLAGS_SPARSE_PARAMS (the session's): no table when there
 * are no parameters, the same table otherwise, the same refusals */
static void
test_path_sparse (void)
{
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GError) error = NULL;
  gboolean address_error = TRUE;

  g_assert_true (_vsmtp_command_parse_path ("FROM:<sender@example.com>  ", TRUE,
                                            VSMTP_ADDRESS_FLAGS_ALLOW_NULL | _VSMTP_COMMAND_FLAGS_SPARSE_PARAMS,
                                            &address, &params, &address_error, &error));
  g_assert_no_error (error);
  g_assert_false (address_error);
  g_assert_cmpstr (vsmtp_address_to_string (address), ==, "sender@example.com");
  g_assert_null (params);
  g_clear_pointer (&address, vsmtp_address_unref);

  g_assert_true (_vsmtp_command_parse_path ("TO:<rcpt@example.com> NOTIFY=NEVER", FALSE,
                                            _VSMTP_COMMAND_FLAGS_SPARSE_PARAMS,
                                            &address, &params, &address_error, &error));
  g_assert_no_error (error);
  g_assert_nonnull (params);
  g_assert_cmpuint (g_hash_table_size (params), ==, 1);
  g_assert_cmpstr (g_hash_table_lookup (params, "NOTIFY"), ==, "NEVER");
  g_clear_pointer (&address, vsmtp_address_unref);
  g_clear_pointer (&params, g_hash_table_unref);

  g_assert_false (_vsmtp_command_parse_path ("FROM:<sender@example.com> =x", TRUE,
                                             _VSMTP_COMMAND_FLAGS_SPARSE_PARAMS,
                                             &address, &params, &address_error, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_assert_false (address_error);
  g_assert_null (address);
  g_assert_null (params);
}

static void
test_spaces_after_colon (void)
{
  const char *lines[] = {
    "FROM: <sender@example.com>",
    "FROM:   <sender@example.com>",
    "FROM: sender@example.com",
    "FROM: <sender@example.com>   ",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autoptr(VsmtpAddress) address = NULL;
      g_autoptr(GHashTable) params = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_true (parse (lines[i], TRUE, VSMTP_ADDRESS_FLAGS_NONE,
                            &address, &params, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (vsmtp_address_to_string (address), ==, "sender@example.com");
      g_assert_cmpuint (g_hash_table_size (params), ==, 0);
    }
}

static void
test_mail_parameters (void)
{
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GError) error = NULL;
  gboolean address_error = TRUE;
  gpointer value = (gpointer) "sentinel";

  g_assert_true (parse ("FROM:<a@example.com> SIZE=123 body=8BITMIME  SMTPUTF8 RET=HDRS ENVID=QQ314159 X-Custom-1=a+2Bb",
                        TRUE, VSMTP_ADDRESS_FLAGS_NONE,
                        &address, &params, &address_error, &error));
  g_assert_no_error (error);
  g_assert_false (address_error);
  g_assert_cmpuint (g_hash_table_size (params), ==, 6);
  g_assert_cmpstr (g_hash_table_lookup (params, "SIZE"), ==, "123");
  /* keyword upper-cased, value as given */
  g_assert_cmpstr (g_hash_table_lookup (params, "BODY"), ==, "8BITMIME");
  g_assert_false (g_hash_table_contains (params, "body"));
  /* keyword without value */
  g_assert_true (g_hash_table_lookup_extended (params, "SMTPUTF8", NULL, &value));
  g_assert_null (value);
  g_assert_cmpstr (g_hash_table_lookup (params, "RET"), ==, "HDRS");
  g_assert_cmpstr (g_hash_table_lookup (params, "ENVID"), ==, "QQ314159");
  g_assert_cmpstr (g_hash_table_lookup (params, "X-CUSTOM-1"), ==, "a+2Bb");
}

static void
test_rcpt_parameters (void)
{
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (parse ("TO:<rcpt@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;rcpt@example.com",
                        FALSE, VSMTP_ADDRESS_FLAGS_NONE,
                        &address, &params, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vsmtp_address_to_string (address), ==, "rcpt@example.com");
  g_assert_cmpstr (g_hash_table_lookup (params, "NOTIFY"), ==, "SUCCESS,FAILURE");
  g_assert_cmpstr (g_hash_table_lookup (params, "ORCPT"), ==, "rfc822;rcpt@example.com");
}

static void
test_rcpt_postmaster (void)
{
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  gboolean address_error = FALSE;

  /* RCPT always accepts the bare postmaster */
  g_assert_true (parse ("To:<Postmaster>", FALSE, VSMTP_ADDRESS_FLAGS_NONE,
                        &address, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vsmtp_address_is_postmaster (address));
  g_clear_pointer (&address, vsmtp_address_unref);

  /* MAIL does not, unless asked */
  g_assert_false (parse ("FROM:<postmaster>", TRUE, VSMTP_ADDRESS_FLAGS_ALLOW_NULL,
                         &address, NULL, &address_error, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_assert_true (address_error);
  g_assert_null (address);
  g_clear_error (&error);

  /* The null path is only for MAIL (the session passes ALLOW_NULL there) */
  g_assert_false (parse ("TO:<>", FALSE, VSMTP_ADDRESS_FLAGS_NONE,
                         &address, NULL, &address_error, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_assert_true (address_error);
}

static void
test_quoted_angle (void)
{
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GError) error = NULL;

  /* '>' and spaces inside a quoted local part do not end the path */
  g_assert_true (parse ("TO:<\"odd> \\\"name\"@example.com> NOTIFY=NEVER", FALSE,
                        VSMTP_ADDRESS_FLAGS_NONE, &address, &params, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vsmtp_address_get_local_part (address), ==, "odd> \"name");
  g_assert_cmpstr (g_hash_table_lookup (params, "NOTIFY"), ==, "NEVER");
}

static void
test_utf8_flag (void)
{
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  gboolean address_error = FALSE;

  g_assert_false (parse ("FROM:<jörg@example.com> SMTPUTF8", TRUE, VSMTP_ADDRESS_FLAGS_NONE,
                         &address, NULL, &address_error, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_assert_true (address_error);
  g_clear_error (&error);

  g_assert_true (parse ("FROM:<jörg@example.com> SMTPUTF8", TRUE, VSMTP_ADDRESS_FLAGS_SMTPUTF8,
                        &address, NULL, &address_error, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vsmtp_address_get_local_part (address), ==, "jörg");
}

typedef struct {
  const char *args;
  gboolean is_mail;
  gboolean address_error;
  int code;
} BadCase;

static const BadCase bad_cases[] = {
  /* keyword */
  { "FROM <a@example.com>", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FRM:<a@example.com>", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "TO:<a@example.com>", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com>", FALSE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM :<a@example.com>", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "<a@example.com>", FALSE, FALSE, VSMTP_ERROR_SYNTAX },
  /* path */
  { "FROM:", TRUE, TRUE, VSMTP_ERROR_SYNTAX },
  { "FROM:   ", TRUE, TRUE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com", TRUE, TRUE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com SIZE=10", TRUE, TRUE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a..b@example.com>", TRUE, TRUE, VSMTP_ERROR_SYNTAX },
  { "TO:<a@example..com>", FALSE, TRUE, VSMTP_ERROR_SYNTAX },
  { "TO:<a b@example.com>", FALSE, TRUE, VSMTP_ERROR_SYNTAX },
  { "TO:<\"unterminated@example.com>", FALSE, TRUE, VSMTP_ERROR_SYNTAX },
  { "TO:<user>", FALSE, TRUE, VSMTP_ERROR_SYNTAX },
  { "TO:a@example.com>", FALSE, TRUE, VSMTP_ERROR_SYNTAX },
  /* too long: a local part of 65 octets */
  { "TO:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com>",
    FALSE, TRUE, VSMTP_ERROR_TOO_LONG },
  /* parameters */
  { "FROM:<a@example.com>SIZE=10", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE=10 SIZE=20", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE=10 size=10", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SMTPUTF8 SMTPUTF8", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> -SIZE=10", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SI_ZE=10", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> =10", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE=", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE=1=2", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE=\x01", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE=10\t", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> BODY=8BITMIMÉ", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SMTPÜTF8", TRUE, FALSE, VSMTP_ERROR_SYNTAX },
  { "TO:<a@example.com> <b@example.com>", FALSE, FALSE, VSMTP_ERROR_SYNTAX },
};

static void
test_bad (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      const BadCase *c = &bad_cases[i];
      g_autoptr(GError) error = NULL;
      g_autofree char *escaped = g_strescape (c->args, NULL);
      VsmtpAddress *address = (VsmtpAddress *) 0x1;
      GHashTable *params = (GHashTable *) 0x1;
      gboolean address_error = !c->address_error;

      g_test_message ("%s %s", c->is_mail ? "MAIL" : "RCPT", escaped);
      g_assert_false (parse (c->args, c->is_mail, VSMTP_ADDRESS_FLAGS_ALLOW_NULL,
                             &address, &params, &address_error, &error));
      g_assert_error (error, VSMTP_ERROR, c->code);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_test_message ("  -> %s", error->message);
      g_assert_cmpint (address_error, ==, c->address_error);
      g_assert_null (address);
      g_assert_null (params);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/command/verbs", test_verbs);
  g_test_add_func ("/command/verb-to-string", test_verb_to_string);
  g_test_add_func ("/command/mail/simple", test_mail_simple);
  g_test_add_func ("/command/mail/spaces-after-colon", test_spaces_after_colon);
  g_test_add_func ("/command/path-sparse", test_path_sparse);
  g_test_add_func ("/command/mail/parameters", test_mail_parameters);
  g_test_add_func ("/command/rcpt/parameters", test_rcpt_parameters);
  g_test_add_func ("/command/rcpt/postmaster", test_rcpt_postmaster);
  g_test_add_func ("/command/quoted-angle", test_quoted_angle);
  g_test_add_func ("/command/utf8", test_utf8_flag);
  g_test_add_func ("/command/bad", test_bad);

  return g_test_run ();
}

/* test-dsn.c: xtext and RFC 6533 decoding, the DSN parameters' checks, the
 * envelope's typed accessors, and DSN, LIMITS (with max-transactions) and
 * REQUIRETLS over TCP on loopback with the shared harness
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp.h"
#include "vsmtp-dsn-private.h"
#include "vsmtp-test-harness.h"

static void
test_xtext (void)
{
  static const struct { const char *in; const char *out; } good[] = {
    { "QQ314159", "QQ314159" },
    { "a+2Bb+3Dc", "a+b=c" },
    { "+20", " " },
    { "x+2by", "x+y" },               /* lower-case digits are taken */
    { "+C3+A9", "\xc3\xa9" },
    { "", "" },
  };
  static const char * const bad[] = {
    "a b", "a=b", "+", "+2", "+2G", "+00", "\xc3\xa9", "a\tb", "+G0",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *decoded = vsmtp_xtext_decode (good[i].in, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (decoded, ==, good[i].out);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *decoded = vsmtp_xtext_decode (bad[i], &error);

      g_assert_null (decoded);
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
      g_test_message ("%s: %s", bad[i], error->message);
    }

  /* every octet but NUL survives the round trip */
  {
    char all[256];
    g_autofree char *encoded = NULL;
    g_autofree char *decoded = NULL;

    for (int i = 1; i < 256; i++)
      all[i - 1] = (char) i;
    all[255] = '\0';
    encoded = vsmtp_xtext_encode (all);
    for (const char *p = encoded; *p != '\0'; p++)
      g_assert_true (*p >= 33 && *p <= 126 && *p != '=');
    decoded = vsmtp_xtext_decode (encoded, NULL);
    g_assert_cmpstr (decoded, ==, all);
  }
  {
    g_autofree char *encoded = vsmtp_xtext_encode ("a+b=c d");

    g_assert_cmpstr (encoded, ==, "a+2Bb+3Dc+20d");
  }
}

static void
test_utf8_addr (void)
{
  static const struct { const char *in; gboolean unitext; const char *out; } good[] = {
    { "j\\x{F6}rg@example.org", FALSE, "j\xc3\xb6rg@example.org" },
    { "j\\x{f6}rg@example.org", FALSE, "j\xc3\xb6rg@example.org" },
    { "\\x{1F600}@x", FALSE, "\xf0\x9f\x98\x80@x" },
    { "\\x{20}@x", FALSE, " @x" },
    { "j\xc3\xb6rg@example.org", TRUE, "j\xc3\xb6rg@example.org" },
    { "a\\x{2B}b@x", TRUE, "a+b@x" },
  };
  static const struct { const char *in; gboolean unitext; } bad[] = {
    { "j\xc3\xb6rg@example.org", FALSE },     /* UTF-8 without SMTPUTF8 */
    { "\xff@x", TRUE },                       /* not UTF-8 */
    { "a+b@x", TRUE },
    { "a=b@x", TRUE },
    { "a b@x", TRUE },
    { "a\\b@x", TRUE },
    { "\\x{}@x", TRUE },
    { "\\x{F}@x", TRUE },
    { "\\x{0F6}@x", TRUE },                   /* leading zero */
    { "\\x{1234567}@x", TRUE },
    { "\\x{110000}@x", TRUE },
    { "\\x{D800}@x", TRUE },
    { "\\x{1F}@x", TRUE },                    /* a control */
    { "\\x{F6@x", TRUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *decoded = vsmtp_utf8_addr_decode (good[i].in, good[i].unitext, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (decoded, ==, good[i].out);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *decoded = vsmtp_utf8_addr_decode (bad[i].in, bad[i].unitext, &error);

      g_assert_null (decoded);
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
    }
}

/* NULL: accepted; else the reply's text */
static char *
check (const char *name,
       const char *value,
       gboolean    smtputf8)
{
  g_autoptr(VsmtpReply) reply = _vsmtp_dsn_check_parameter (name, value, smtputf8);

  return reply != NULL ? vsmtp_reply_to_string (reply) : NULL;
}

static void
test_check (void)
{
  g_autofree char *envid100 = g_strnfill (100, 'e');
  g_autofree char *envid101 = g_strnfill (101, 'e');
  g_autofree char *envid100_encoded = g_strconcat (envid100 + 3, "+2B", NULL);  /* 97 + 1 */
  g_autofree char *orcpt_local = g_strnfill (500 - strlen ("rfc822;@x"), 'o');
  g_autofree char *orcpt500 = g_strconcat ("rfc822;", orcpt_local, "@x", NULL);
  g_autofree char *orcpt501 = g_strconcat ("rfc822;o", orcpt_local, "@x", NULL);
  static const struct { const char *name; const char *value; gboolean smtputf8; const char *reply; } cases[] = {
    { "RET", "FULL", FALSE, NULL },
    { "RET", "hdrs", FALSE, NULL },
    { "RET", "NONE", FALSE, "501 5.5.4 Bad RET parameter value: not FULL or HDRS\r\n" },
    { "RET", "", FALSE, "501 5.5.4 Bad RET parameter value: not FULL or HDRS\r\n" },
    { "ENVID", "QQ314159", FALSE, NULL },
    { "ENVID", "a+20b", FALSE, NULL },
    { "ENVID", "a+0Ab", FALSE, "501 5.5.4 Bad ENVID parameter value: not printable ASCII once decoded\r\n" },
    { "ENVID", "a+2", FALSE, "501 5.5.4 Bad ENVID parameter value: a \"+\" not followed by two hexadecimal digits\r\n" },
    { "NOTIFY", "NEVER", FALSE, NULL },
    { "NOTIFY", "success,Failure,DELAY", FALSE, NULL },
    { "NOTIFY", "DELAY", FALSE, NULL },
    { "NOTIFY", "NEVER,SUCCESS", FALSE, "501 5.5.4 Bad NOTIFY parameter value: NEVER cannot be combined with other keywords\r\n" },
    { "NOTIFY", "SUCCESS,SUCCESS", FALSE, "501 5.5.4 Bad NOTIFY parameter value: a keyword is listed twice\r\n" },
    { "NOTIFY", "SUCCESS,", FALSE, "501 5.5.4 Bad NOTIFY parameter value: not NEVER or a list of SUCCESS, FAILURE and DELAY\r\n" },
    { "NOTIFY", "", FALSE, "501 5.5.4 Bad NOTIFY parameter value: not NEVER or a list of SUCCESS, FAILURE and DELAY\r\n" },
    { "NOTIFY", "ALWAYS", FALSE, "501 5.5.4 Bad NOTIFY parameter value: not NEVER or a list of SUCCESS, FAILURE and DELAY\r\n" },
    { "ORCPT", "rfc822;bob@example.org", FALSE, NULL },
    { "ORCPT", "RFC822;b+2Bx@example.org", FALSE, NULL },
    { "ORCPT", "x400;/G+3DBob/S+3DSmith/", FALSE, NULL },      /* another address type: kept */
    { "ORCPT", "utf-8;j\\x{F6}rg@example.org", FALSE, NULL },
    { "ORCPT", "utf-8;j\xc3\xb6rg@example.org", TRUE, NULL },
    { "ORCPT", "utf-8;j\xc3\xb6rg@example.org", FALSE, "501 5.5.4 Bad ORCPT parameter value: UTF-8 without SMTPUTF8 (write \\x{HEX})\r\n" },
    { "ORCPT", "rfc822", FALSE, "501 5.5.4 Bad ORCPT parameter value: not addr-type;address\r\n" },
    { "ORCPT", ";bob@example.org", FALSE, "501 5.5.4 Bad ORCPT parameter value: not addr-type;address\r\n" },
    { "ORCPT", "rfc 822;bob@example.org", FALSE, "501 5.5.4 Bad ORCPT parameter value: not addr-type;address\r\n" },
    { "ORCPT", "rfc822;", FALSE, "501 5.5.4 Bad ORCPT parameter value: the address is empty\r\n" },
    { "ORCPT", "rfc822;a=b", FALSE, "501 5.5.4 Bad ORCPT parameter value: the character 0x3D must be encoded as \"+3D\"\r\n" },
    { "ORCPT", NULL, FALSE, "501 5.5.4 Bad ORCPT parameter value\r\n" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *reply = check (cases[i].name, cases[i].value, cases[i].smtputf8);

      g_test_message ("%s=%s", cases[i].name, cases[i].value);
      g_assert_cmpstr (reply, ==, cases[i].reply);
    }

  /* the limits: ENVID's decoded, ORCPT's as sent */
  g_assert_null (check ("ENVID", envid100, FALSE));
  g_assert_null (check ("ENVID", envid100_encoded, FALSE));
  {
    g_autofree char *reply = check ("ENVID", envid101, FALSE);

    g_assert_cmpstr (reply, ==, "501 5.5.4 Bad ENVID parameter value: longer than 100 characters\r\n");
  }
  g_assert_cmpuint (strlen (orcpt500), ==, 500);
  g_assert_null (check ("ORCPT", orcpt500, FALSE));
  {
    g_autofree char *reply = check ("ORCPT", orcpt501, FALSE);

    g_assert_cmpstr (reply, ==, "501 5.5.4 Bad ORCPT parameter value: longer than 500 characters\r\n");
  }
}

static GHashTable *
table (const char *first_name,
       ...)
{
  GHashTable *params = g_hash_table_new (g_str_hash, g_str_equal);
  va_list args;

  va_start (args, first_name);
  for (const char *name = first_name; name != NULL; name = va_arg (args, const char *))
    g_hash_table_insert (params, (gpointer) name, va_arg (args, char *));
  va_end (args);
  return params;
}

static void
test_envelope (void)
{
  g_autoptr(VsmtpEnvelope) envelope = vsmtp_envelope_new ();
  g_autoptr(VsmtpAddress) address = vsmtp_address_new ("bob", "example.org");
  g_autoptr(GHashTable) mail = table ("RET", "hdrs", "ENVID", "a+2Bb", "REQUIRETLS", NULL, NULL);
  g_autoptr(GHashTable) rcpt1 = table ("NOTIFY", "SUCCESS,DELAY", "ORCPT", "RFC822;b+2Bx@example.org", NULL);
  g_autoptr(GHashTable) rcpt2 = table ("NOTIFY", "never", "ORCPT", "utf-8;j\\x{F6}rg@example.org", NULL);
  g_autofree char *envid = NULL;
  g_autofree char *type = NULL;
  g_autofree char *orcpt = NULL;

  g_assert_cmpint (vsmtp_envelope_get_dsn_ret (envelope), ==, VSMTP_DSN_RET_UNSPECIFIED);
  g_assert_null (vsmtp_envelope_dup_dsn_envid (envelope));
  g_assert_false (vsmtp_envelope_get_requiretls (envelope));

  vsmtp_envelope_set_sender (envelope, address, mail);
  vsmtp_envelope_add_recipient (envelope, address, rcpt1);
  vsmtp_envelope_add_recipient (envelope, address, rcpt2);
  vsmtp_envelope_add_recipient (envelope, address, NULL);

  g_assert_cmpint (vsmtp_envelope_get_dsn_ret (envelope), ==, VSMTP_DSN_RET_HDRS);
  envid = vsmtp_envelope_dup_dsn_envid (envelope);
  g_assert_cmpstr (envid, ==, "a+b");
  /* the raw values stay as they were sent */
  g_assert_cmpstr (vsmtp_envelope_get_mail_parameter (envelope, "ENVID"), ==, "a+2Bb");
  g_assert_true (vsmtp_envelope_get_requiretls (envelope));

  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (envelope, 0), ==,
                   VSMTP_DSN_NOTIFY_SUCCESS | VSMTP_DSN_NOTIFY_DELAY);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (envelope, 1), ==, VSMTP_DSN_NOTIFY_NEVER);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (envelope, 2), ==, VSMTP_DSN_NOTIFY_DEFAULT);

  g_assert_true (vsmtp_envelope_get_recipient_dsn_orcpt (envelope, 0, &type, &orcpt));
  g_assert_cmpstr (type, ==, "rfc822");
  g_assert_cmpstr (orcpt, ==, "b+x@example.org");
  g_clear_pointer (&type, g_free);
  g_clear_pointer (&orcpt, g_free);
  g_assert_true (vsmtp_envelope_get_recipient_dsn_orcpt (envelope, 1, &type, &orcpt));
  g_assert_cmpstr (type, ==, "utf-8");
  g_assert_cmpstr (orcpt, ==, "j\xc3\xb6rg@example.org");
  g_assert_false (vsmtp_envelope_get_recipient_dsn_orcpt (envelope, 2, NULL, NULL));
  g_assert_cmpstr (g_hash_table_lookup (vsmtp_envelope_get_recipient_parameters (envelope, 1), "ORCPT"),
                   ==, "utf-8;j\\x{F6}rg@example.org");
}

/* Over the wire: EHLO, the parameters accepted and refused, the envelope
 * the message handler sees. */
static void
test_session (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-mx.test.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                  "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n"
                  "250 LIMITS RCPTMAX=2 MAILMAX=5\r\n",
    /* REQUIRETLS is offered only over TLS: in plain text it is unknown */
    "MAIL FROM:<a@example.org> REQUIRETLS\r\n", "555 5.5.4 Unsupported option: REQUIRETLS\r\n",
    "MAIL FROM:<a@example.org> RET=ALL\r\n", "501 5.5.4 Bad RET parameter value: not FULL or HDRS\r\n",
    "MAIL FROM:<a@example.org> NOTIFY=NEVER\r\n", "555 5.5.4 Unsupported option: NOTIFY\r\n",
    "MAIL FROM:<a@example.org> RET=FULL ENVID=id+2B1\r\n", "250 2.1.0",
    "RCPT TO:<b@example.org> RET=FULL\r\n", "555 5.5.4 Unsupported option: RET\r\n",
    "RCPT TO:<b@example.org> NOTIFY=NEVER,DELAY\r\n",
      "501 5.5.4 Bad NOTIFY parameter value: NEVER cannot be combined with other keywords\r\n",
    "RCPT TO:<b@example.org> NOTIFY\r\n", "501 5.5.4 Bad NOTIFY parameter value\r\n",
    "RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx@example.org\r\n", "250 2.1.5",
    "RCPT TO:<c@example.org> NOTIFY=NEVER\r\n", "250 2.1.5",
    /* past RCPTMAX */
    "RCPT TO:<d@example.org>\r\n", "452 4.5.3 Error: too many recipients\r\n",
    "DATA\r\n", "354 ",
    "x\r\n.\r\n", "250 2.0.0",
    /* the fifth MAIL command is the last one (MAILMAX=5: the refused ones count) */
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RSET\r\n", "250 2.0.0",
    "MAIL FROM:<a@example.org>\r\n", "421 4.5.3 Error: too many transactions in this session, reconnect\r\n",
    NULL, "<closed>",
    NULL, NULL
  };
  VsmtpEnvelope *envelope;
  g_autofree char *envid = NULL;
  g_autofree char *orcpt = NULL;

  g_object_set (fixture->server, "max-recipients", 2, "max-transactions", 5, NULL);
  run_client (fixture, script);

  g_assert_cmpuint (fixture->envelopes->len, ==, 1);
  envelope = fixture->envelopes->pdata[0];
  g_assert_cmpint (vsmtp_envelope_get_dsn_ret (envelope), ==, VSMTP_DSN_RET_FULL);
  envid = vsmtp_envelope_dup_dsn_envid (envelope);
  g_assert_cmpstr (envid, ==, "id+1");
  g_assert_false (vsmtp_envelope_get_requiretls (envelope));
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 2);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (envelope, 0), ==,
                   VSMTP_DSN_NOTIFY_SUCCESS | VSMTP_DSN_NOTIFY_FAILURE);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (envelope, 1), ==, VSMTP_DSN_NOTIFY_NEVER);
  g_assert_true (vsmtp_envelope_get_recipient_dsn_orcpt (envelope, 0, NULL, &orcpt));
  g_assert_cmpstr (orcpt, ==, "b+x@example.org");
}

/* Without max-transactions: no MAILMAX, no limit; unregistered, DSN's
 * parameters are unknown ones. */
static void
test_unregistered (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-mx.test.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                  "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250 LIMITS RCPTMAX=1000\r\n",
    "MAIL FROM:<a@example.org> RET=FULL\r\n", "555 5.5.4 Unsupported option: RET\r\n",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<b@example.org> NOTIFY=NEVER\r\n", "555 5.5.4 Unsupported option: NOTIFY\r\n",
    "RSET\r\n", "250 2.0.0",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RSET\r\n", "250 2.0.0",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "QUIT\r\n", "221 ",
    NULL, NULL
  };

  g_assert_true (vsmtp_server_unregister_extension (fixture->server,
                                                    vsmtp_server_lookup_extension (fixture->server, "dsn")));
  run_client (fixture, script);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dsn/xtext", test_xtext);
  g_test_add_func ("/dsn/utf8-addr", test_utf8_addr);
  g_test_add_func ("/dsn/check", test_check);
  g_test_add_func ("/dsn/envelope", test_envelope);
#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/dsn/session", test_session);
  ADD ("/dsn/unregistered", test_unregistered);
#undef ADD

  return g_test_run ();
}

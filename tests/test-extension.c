/* test-extension.c: the server's registry of ESMTP extensions: EHLO
 * keywords and MAIL/RCPT parameters registered by code, the built-in ones,
 * over TCP on loopback with the shared harness
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp.h"
#include "vsmtp-test-harness.h"

#define EHLO_BUILTINS \
  "250-mx.test.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n" \
  "250-ENHANCEDSTATUSCODES\r\n"
/* the built-ins after 8BITMIME (STARTTLS and AUTH are not offered here) */
#define EHLO_CHUNKING "250-CHUNKING\r\n"

/* What the handlers saw, per test. */
typedef struct {
  GPtrArray *mail_parameters;   /* VsmtpParameters of accepted-by-registry MAIL commands */
  GPtrArray *rcpt_parameters;
  GPtrArray *validated;         /* "COMMAND NAME=value" for each validate emission */
  gboolean   offered;           /* what the is-offered handler answers */
} Seen;

static void
seen_init (Seen *seen)
{
  seen->mail_parameters = g_ptr_array_new_with_free_func ((GDestroyNotify) vsmtp_parameters_unref);
  seen->rcpt_parameters = g_ptr_array_new_with_free_func ((GDestroyNotify) vsmtp_parameters_unref);
  seen->validated = g_ptr_array_new_with_free_func (g_free);
}

static void
seen_clear (Seen *seen)
{
  g_ptr_array_unref (seen->mail_parameters);
  g_ptr_array_unref (seen->rcpt_parameters);
  g_ptr_array_unref (seen->validated);
}

static VsmtpReply *
on_mail_from (VsmtpSession    *session,
              VsmtpAddress    *sender,
              VsmtpParameters *parameters,
              Seen            *seen)
{
  g_ptr_array_add (seen->mail_parameters, vsmtp_parameters_ref (parameters));
  return vsmtp_reply_new_continue ();
}

static VsmtpReply *
on_rcpt_to (VsmtpSession    *session,
            VsmtpAddress    *recipient,
            VsmtpParameters *parameters,
            Seen            *seen)
{
  g_ptr_array_add (seen->rcpt_parameters, vsmtp_parameters_ref (parameters));
  return vsmtp_reply_new_continue ();
}

/* NOOP switches the is-offered handler of test_predicate on */
static VsmtpReply *
on_noop_offer (VsmtpSession *session,
               const char   *argument,
               Seen         *seen)
{
  seen->offered = TRUE;
  return vsmtp_reply_new_continue ();
}

static void
on_new_session_seen (VsmtpServer  *server,
                     VsmtpSession *session,
                     Seen         *seen)
{
  g_signal_connect (session, "mail-from", G_CALLBACK (on_mail_from), seen);
  g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt_to), seen);
  g_signal_connect (session, "noop", G_CALLBACK (on_noop_offer), seen);
}

/* XTEST's validator: "bad" is refused, anything else goes on */
static VsmtpReply *
on_validate (VsmtpExtension        *extension,
             VsmtpSession          *session,
             VsmtpParameterCommand  command,
             const char            *name,
             const char            *value,
             Seen                  *seen)
{
  g_ptr_array_add (seen->validated,
                   g_strdup_printf ("%s %s=%s", command == VSMTP_PARAMETER_COMMAND_MAIL ? "MAIL" : "RCPT",
                                    name, value ? value : "(none)"));
  if (g_strcmp0 (value, "bad") == 0)
    return vsmtp_reply_new_printf (501, "5.5.4", "Bad %s parameter value", name);
  return vsmtp_reply_new_continue ();
}

/* XCOMPUTED's EHLO text: the domain the client greeted with */
static char *
on_compute_ehlo_parameters (VsmtpExtension *extension,
                            VsmtpSession   *session,
                            gpointer        user_data)
{
  return g_strdup_printf ("FOR-%s", vsmtp_session_get_helo (session));
}

static VsmtpExtension *
register_new (VsmtpServer         *server,
              const char          *keyword,
              VsmtpExtensionFlags  flags)
{
  VsmtpExtension *extension = vsmtp_extension_new (keyword, flags);

  g_assert_false (vsmtp_extension_is_registered (extension));
  return extension;
}

static void
register_ok (VsmtpServer    *server,
             VsmtpExtension *extension)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vsmtp_server_register_extension (server, extension, &error));
  g_assert_no_error (error);
  g_assert_true (vsmtp_extension_is_registered (extension));
}

/* A keyword with fixed parameters and a MAIL and a RCPT parameter, a
 * keyword with computed parameters, a TLS-only keyword: what the client
 * sees, what the handlers and the envelope get. */
static void
test_registered (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c.example\r\n", EHLO_BUILTINS "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250-LIMITS RCPTMAX=1000\r\n250-XTEST ALPHA BETA\r\n"
                          "250 XCOMPUTED FOR-c.example\r\n",
    /* the validator's reply */
    "MAIL FROM:<a@example.org> XMAIL=bad\r\n", "501 5.5.4 Bad XMAIL parameter value\r\n",
    /* the value syntax, checked before the validator */
    "MAIL FROM:<a@example.org> XMAIL\r\n", "501 5.5.4 Bad XMAIL parameter value\r\n",
    /* given twice */
    "MAIL FROM:<a@example.org> XMAIL=1 xmail=2\r\n", "501 5.5.4 ",
    /* a TLS-only extension's parameter without TLS: unknown */
    "MAIL FROM:<a@example.org> XSECURE\r\n", "555 5.5.4 Unsupported option: XSECURE\r\n",
    /* a RCPT parameter on MAIL */
    "MAIL FROM:<a@example.org> XRCPT\r\n", "555 5.5.4 Unsupported option: XRCPT\r\n",
    "MAIL FROM:<a@example.org> XMAIL=good BODY=8BITMIME\r\n", "250 2.1.0",
    "RCPT TO:<b@example.net> XMAIL=good\r\n", "555 5.5.4 Unsupported option: XMAIL\r\n",
    "RCPT TO:<b@example.net> XRCPT=1\r\n", "501 5.5.4 Bad XRCPT parameter value\r\n",
    "RCPT TO:<b@example.net> XRCPT XRCPT\r\n", "501 5.5.4 ",
    "RCPT TO:<b@example.net> XBOTH=bad\r\n", "501 5.5.4 Bad XBOTH parameter value\r\n",
    "RCPT TO:<b@example.net> XRCPT XBOTH\r\n", "250 2.1.5",
    "RCPT TO:<c@example.net>\r\n", "250 2.1.5",
    "DATA\r\n", "354 ",
    "x\r\n.\r\n", "250 2.0.0",
    NULL, NULL
  };
  g_autoptr(VsmtpExtension) test = register_new (fixture->server, "XTEST", VSMTP_EXTENSION_FLAGS_NONE);
  g_autoptr(VsmtpExtension) computed = register_new (fixture->server, "XCOMPUTED", VSMTP_EXTENSION_FLAGS_NONE);
  g_autoptr(VsmtpExtension) secure = register_new (fixture->server, "XSECURE", VSMTP_EXTENSION_FLAGS_TLS_ONLY);
  g_auto(GStrv) names = NULL;
  VsmtpParameterCommand commands;
  VsmtpParameterSyntax syntax;
  Seen seen = { 0 };
  VsmtpEnvelope *envelope;
  VsmtpParameters *parameters;
  GHashTable *table;

  seen_init (&seen);
  vsmtp_extension_set_ehlo_parameters (test, "ALPHA BETA");
  vsmtp_extension_add_parameter (test, "XMail", VSMTP_PARAMETER_COMMAND_MAIL, VSMTP_PARAMETER_SYNTAX_VALUE);
  vsmtp_extension_add_parameter (test, "XRCPT", VSMTP_PARAMETER_COMMAND_RCPT, VSMTP_PARAMETER_SYNTAX_NO_VALUE);
  vsmtp_extension_add_parameter (test, "XBOTH", VSMTP_PARAMETER_COMMAND_BOTH,
                                 VSMTP_PARAMETER_SYNTAX_OPTIONAL_VALUE);
  g_signal_connect (test, "validate", G_CALLBACK (on_validate), &seen);
  register_ok (fixture->server, test);

  g_signal_connect (computed, "compute-ehlo-parameters", G_CALLBACK (on_compute_ehlo_parameters), NULL);
  register_ok (fixture->server, computed);

  vsmtp_extension_add_parameter (secure, "XSECURE", VSMTP_PARAMETER_COMMAND_MAIL,
                                 VSMTP_PARAMETER_SYNTAX_NO_VALUE);
  register_ok (fixture->server, secure);

  names = vsmtp_extension_dup_parameter_names (test);
  g_assert_cmpstrv (names, ((const char * const[]) { "XMAIL", "XRCPT", "XBOTH", NULL }));
  g_assert_true (vsmtp_extension_lookup_parameter (test, "xboth", &commands, &syntax));
  g_assert_cmpint (commands, ==, VSMTP_PARAMETER_COMMAND_BOTH);
  g_assert_cmpint (syntax, ==, VSMTP_PARAMETER_SYNTAX_OPTIONAL_VALUE);
  g_assert_false (vsmtp_extension_lookup_parameter (test, "XSECURE", NULL, NULL));

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_seen), &seen);
  run_client (fixture, script);

  /* the validator ran for values of the right form only, once each */
  g_assert_cmpuint (seen.validated->len, ==, 5);
  g_assert_cmpstr (seen.validated->pdata[0], ==, "MAIL XMAIL=bad");
  g_assert_cmpstr (seen.validated->pdata[1], ==, "MAIL XMAIL=good");
  g_assert_cmpstr (seen.validated->pdata[2], ==, "RCPT XBOTH=bad");

  /* the handlers got the accepted parameters */
  g_assert_cmpuint (seen.mail_parameters->len, ==, 1);
  parameters = seen.mail_parameters->pdata[0];
  g_assert_cmpstr (vsmtp_parameters_get (parameters, "XMAIL"), ==, "good");
  g_assert_cmpstr (vsmtp_parameters_get (parameters, "BODY"), ==, "8BITMIME");
  g_assert_cmpuint (seen.rcpt_parameters->len, ==, 2);
  parameters = seen.rcpt_parameters->pdata[0];
  g_assert_true (vsmtp_parameters_contains (parameters, "XRCPT"));
  g_assert_null (vsmtp_parameters_get (parameters, "XRCPT"));
  g_assert_true (vsmtp_parameters_contains (parameters, "XBOTH"));
  g_assert_cmpuint (vsmtp_parameters_get_size (parameters), ==, 2);
  g_assert_cmpuint (vsmtp_parameters_get_size (seen.rcpt_parameters->pdata[1]), ==, 0);

  /* and the envelope kept them */
  g_assert_cmpuint (fixture->envelopes->len, ==, 1);
  envelope = fixture->envelopes->pdata[0];
  g_assert_cmpstr (vsmtp_envelope_get_mail_parameter (envelope, "XMAIL"), ==, "good");
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 2);
  table = vsmtp_envelope_get_recipient_parameters (envelope, 0);
  g_assert_true (g_hash_table_contains (table, "XRCPT"));
  g_assert_true (g_hash_table_contains (table, "XBOTH"));
  g_assert_cmpuint (g_hash_table_size (vsmtp_envelope_get_recipient_parameters (envelope, 1)), ==, 0);

  seen_clear (&seen);
}

static gboolean
on_is_offered (VsmtpExtension *extension,
               VsmtpSession   *session,
               Seen           *seen)
{
  return seen->offered;
}

/* An extension offered when a predicate says so: its keyword and its
 * parameters come and go with it, from one EHLO to the next. */
static void
test_predicate (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", EHLO_BUILTINS "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "MAIL FROM:<a@example.org> XWHEN=1\r\n", "555 5.5.4 Unsupported option: XWHEN\r\n",
    "NOOP\r\n", "250 2.0.0",   /* the test's NOOP handler switches the predicate on */
    "EHLO c\r\n", EHLO_BUILTINS "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250-LIMITS RCPTMAX=1000\r\n250 XWHEN\r\n",
    "MAIL FROM:<a@example.org> XWHEN=1\r\n", "250 2.1.0",
    NULL, NULL
  };
  g_autoptr(VsmtpExtension) when = register_new (fixture->server, "XWHEN", VSMTP_EXTENSION_FLAGS_NONE);
  Seen seen = { 0 };

  seen_init (&seen);
  vsmtp_extension_add_parameter (when, "XWHEN", VSMTP_PARAMETER_COMMAND_MAIL, VSMTP_PARAMETER_SYNTAX_VALUE);
  g_signal_connect (when, "is-offered", G_CALLBACK (on_is_offered), &seen);
  register_ok (fixture->server, when);
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_seen), &seen);

  run_client (fixture, script);
  seen_clear (&seen);
}

static VsmtpReply *
on_validate_null (VsmtpExtension        *extension,
                  VsmtpSession          *session,
                  VsmtpParameterCommand  command,
                  const char            *name,
                  const char            *value,
                  guint                 *calls)
{
  (*calls)++;
  return NULL;
}

static VsmtpReply *
on_validate_continue (VsmtpExtension        *extension,
                      VsmtpSession          *session,
                      VsmtpParameterCommand  command,
                      const char            *name,
                      const char            *value,
                      guint                 *calls)
{
  (*calls)++;
  return g_strcmp0 (value, "pending") == 0 ? vsmtp_reply_new_pending () : vsmtp_reply_new_continue ();
}

static char *
on_compute_crlf (VsmtpExtension *extension,
                 VsmtpSession   *session,
                 gpointer        user_data)
{
  return g_strdup ("A\r\n250 FORGED");
}

/* A validator that returns NULL refuses with 451 4.3.0, after the ones
 * that said continue and before the later ones; a pending reply is a
 * failure too; EHLO text with a line break drops the keyword. */
static void
test_fail_closed (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", EHLO_BUILTINS "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250-LIMITS RCPTMAX=1000\r\n250 XFAIL\r\n",
    "MAIL FROM:<a@example.org> XFAIL=pending\r\n", "451 4.3.0 ",
    "MAIL FROM:<a@example.org> XFAIL=1\r\n", "451 4.3.0 ",
    NULL, NULL
  };
  g_autoptr(VsmtpExtension) fail = register_new (fixture->server, "XFAIL", VSMTP_EXTENSION_FLAGS_NONE);
  g_autoptr(VsmtpExtension) forged = register_new (fixture->server, "XFORGED", VSMTP_EXTENSION_FLAGS_NONE);
  guint first = 0, second = 0, third = 0;

  vsmtp_extension_add_parameter (fail, "XFAIL", VSMTP_PARAMETER_COMMAND_MAIL, VSMTP_PARAMETER_SYNTAX_VALUE);
  g_signal_connect (fail, "validate", G_CALLBACK (on_validate_continue), &first);
  g_signal_connect (fail, "validate", G_CALLBACK (on_validate_null), &second);
  g_signal_connect (fail, "validate", G_CALLBACK (on_validate_continue), &third);
  register_ok (fixture->server, fail);
  g_signal_connect (forged, "compute-ehlo-parameters", G_CALLBACK (on_compute_crlf), NULL);
  register_ok (fixture->server, forged);

  run_client (fixture, script);
  /* "pending" stopped at the first handler, "1" at the second */
  g_assert_cmpuint (first, ==, 2);
  g_assert_cmpuint (second, ==, 1);
  g_assert_cmpuint (third, ==, 0);
}

/* The built-ins: registered, in EHLO order, with their checks. */
static void
test_builtins (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", EHLO_BUILTINS "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "MAIL FROM:<a@example.org> SIZE=10240001\r\n", "552 5.3.4 Message size exceeds fixed limit\r\n",
    "MAIL FROM:<a@example.org> SIZE=12k\r\n", "501 5.5.4 Bad message size syntax\r\n",
    "MAIL FROM:<a@example.org> SIZE\r\n", "501 5.5.4 Bad SIZE parameter value\r\n",
    "MAIL FROM:<a@example.org> BODY=BINARY\r\n", "501 5.5.4 Bad BODY parameter value\r\n",
    /* AUTH is not offered: neither is its MAIL parameter */
    "MAIL FROM:<a@example.org> AUTH=<>\r\n", "555 5.5.4 Unsupported option: AUTH\r\n",
    "MAIL FROM:<a@example.org> FOO=1\r\n", "555 5.5.4 Unsupported option: FOO\r\n",
    "MAIL FROM:<a@example.org> SMTPUTF8=yes\r\n", "501 5.5.4 Bad SMTPUTF8 parameter value\r\n",
    "MAIL FROM:<a@example.org> SIZE=10240000 body=7bit\r\n", "250 2.1.0",
    "RCPT TO:<b@example.net> SMTPUTF8\r\n", "555 5.5.4 Unsupported option: SMTPUTF8\r\n",
    "RCPT TO:<b@example.net> SIZE=1\r\n", "555 5.5.4 Unsupported option: SIZE\r\n",
    NULL, NULL
  };
  VsmtpParameterCommand commands;
  VsmtpParameterSyntax syntax;
  const char * const keywords[] = {
    "PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8", "STARTTLS", "AUTH", "CHUNKING", "BINARYMIME", "DSN",
    "LIMITS", "REQUIRETLS", "XCLIENT", NULL
  };
  g_autoptr(GPtrArray) extensions = vsmtp_server_dup_extensions (fixture->server);

  g_assert_cmpuint (extensions->len, ==, g_strv_length ((char **) keywords));
  for (guint i = 0; keywords[i] != NULL; i++)
    {
      VsmtpExtension *extension = extensions->pdata[i];

      g_assert_cmpstr (vsmtp_extension_get_keyword (extension), ==, keywords[i]);
      g_assert_true (vsmtp_server_lookup_extension (fixture->server, keywords[i]) == extension);
      g_assert_true (vsmtp_extension_is_registered (extension));
    }
  g_assert_true (vsmtp_server_lookup_extension (fixture->server, "starttls") == extensions->pdata[5]);
  g_assert_cmpint (vsmtp_extension_get_flags (extensions->pdata[5]), ==, VSMTP_EXTENSION_FLAGS_PLAINTEXT_ONLY);
  g_assert_true (vsmtp_extension_lookup_parameter (extensions->pdata[4], "SMTPUTF8", &commands, &syntax));
  g_assert_cmpint (commands, ==, VSMTP_PARAMETER_COMMAND_MAIL);
  g_assert_cmpint (syntax, ==, VSMTP_PARAMETER_SYNTAX_NO_VALUE);
  g_assert_true (vsmtp_extension_lookup_parameter (extensions->pdata[3], "BODY", NULL, NULL));
  g_assert_null (vsmtp_server_lookup_extension (fixture->server, "XNONE"));

  run_client (fixture, script);
}

/* What register refuses; unregistering, built-ins included. */
static void
test_register_unregister (Fixture *fixture, gconstpointer data)
{
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-mx.test.example\r\n250-SIZE 10240000\r\n"
                  "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "MAIL FROM:<a@example.org> XGONE\r\n", "555 5.5.4 Unsupported option: XGONE\r\n",
    NULL, NULL
  };
  struct {
    const char          *keyword;
    VsmtpExtensionFlags  flags;
    const char          *parameter;
    gint                 code;
  } bad[] = {
    { "size", VSMTP_EXTENSION_FLAGS_NONE, NULL, VSMTP_ERROR_FAILED },     /* taken, any case */
    { "XBODY", VSMTP_EXTENSION_FLAGS_NONE, "body", VSMTP_ERROR_FAILED },  /* 8BITMIME's */
    { "X TEST", VSMTP_EXTENSION_FLAGS_NONE, NULL, VSMTP_ERROR_SYNTAX },
    { "-XTEST", VSMTP_EXTENSION_FLAGS_NONE, NULL, VSMTP_ERROR_SYNTAX },
    { "XTEST", VSMTP_EXTENSION_FLAGS_NONE, "X=Y", VSMTP_ERROR_SYNTAX },
    { "XTEST", VSMTP_EXTENSION_FLAGS_TLS_ONLY | VSMTP_EXTENSION_FLAGS_PLAINTEXT_ONLY, NULL,
      VSMTP_ERROR_FAILED },
  };
  g_autoptr(VsmtpExtension) gone = vsmtp_extension_new ("XGONE", VSMTP_EXTENSION_FLAGS_NONE);
  g_autoptr(VsmtpExtension) pipelining =
    g_object_ref (vsmtp_server_lookup_extension (fixture->server, "PIPELINING"));
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(VsmtpExtension) extension = vsmtp_extension_new (bad[i].keyword, bad[i].flags);

      if (bad[i].parameter != NULL)
        vsmtp_extension_add_parameter (extension, bad[i].parameter, VSMTP_PARAMETER_COMMAND_MAIL,
                                       VSMTP_PARAMETER_SYNTAX_VALUE);
      g_assert_false (vsmtp_server_register_extension (fixture->server, extension, &error));
      g_assert_error (error, VSMTP_ERROR, bad[i].code);
      g_test_message ("%s: %s", bad[i].keyword, error->message);
      g_clear_error (&error);
      g_assert_false (vsmtp_extension_is_registered (extension));
    }

  vsmtp_extension_add_parameter (gone, "XGONE", VSMTP_PARAMETER_COMMAND_MAIL,
                                 VSMTP_PARAMETER_SYNTAX_NO_VALUE);
  register_ok (fixture->server, gone);
  /* twice */
  g_assert_false (vsmtp_server_register_extension (fixture->server, gone, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_FAILED);
  g_clear_error (&error);

  g_assert_true (vsmtp_server_unregister_extension (fixture->server, gone));
  g_assert_false (vsmtp_extension_is_registered (gone));
  g_assert_false (vsmtp_server_unregister_extension (fixture->server, gone));
  g_assert_true (vsmtp_server_unregister_extension (fixture->server, pipelining));
  g_assert_null (vsmtp_server_lookup_extension (fixture->server, "PIPELINING"));

  run_client (fixture, script);

  /* registered again, it comes back, last */
  register_ok (fixture->server, gone);
  g_assert_true (vsmtp_server_lookup_extension (fixture->server, "XGONE") == gone);
}

/* The body type of the envelope each RCPT sees */
static VsmtpReply *
on_rcpt_body_type (VsmtpSession    *session,
                   VsmtpAddress    *recipient,
                   VsmtpParameters *parameters,
                   GArray          *types)
{
  VsmtpBodyType type = vsmtp_envelope_get_body_type (vsmtp_session_get_envelope (session));

  g_array_append_val (types, type);
  return vsmtp_reply_new_continue ();
}

static void
on_new_session_body_type (VsmtpServer  *server,
                          VsmtpSession *session,
                          GArray       *types)
{
  g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt_body_type), types);
}

/* CHUNKING and BINARYMIME: BODY=BINARYMIME accepted where offered, the
 * body type on the envelope; unregistering BINARYMIME takes the value
 * away and leaves BDAT; unregistering CHUNKING takes both away. */
static void
test_chunking (Fixture *fixture, gconstpointer data)
{
  const char * const offered[] = {
    NULL, "220 ",
    "EHLO c\r\n", EHLO_BUILTINS "250-8BITMIME\r\n250-SMTPUTF8\r\n" EHLO_CHUNKING "250-BINARYMIME\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "MAIL FROM:<a@example.org> BODY=binarymime\r\n", "250 2.1.0",
    "RCPT TO:<b@example.net>\r\n", "250 2.1.5",
    "BDAT 3 LAST\r\nab\n", "250 2.0.0",
    "MAIL FROM:<a@example.org> BODY=8BITMIME\r\n", "250 2.1.0",
    "RCPT TO:<b@example.net>\r\n", "250 2.1.5",
    "RSET\r\n", "250 ",
    "MAIL FROM:<a@example.org> BODY=7bit\r\n", "250 2.1.0",
    "RCPT TO:<b@example.net>\r\n", "250 2.1.5",
    "RSET\r\n", "250 ",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<b@example.net>\r\n", "250 2.1.5",
    "BDAT 2\r\nab", "250 2.0.0 2 octets received\r\n",
    "BDAT 0 LAST\r\n", "250 2.0.0",
    NULL, NULL
  };
  const char * const no_binarymime[] = {
    NULL, "220 ",
    "EHLO c\r\n", EHLO_BUILTINS "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n", "501 5.5.4 Bad BODY parameter value\r\n",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<b@example.net>\r\n", "250 2.1.5",
    "BDAT 2 LAST\r\nab", "250 2.0.0",
    NULL, NULL
  };
  const char * const no_chunking[] = {
    NULL, "220 ",
    "EHLO c\r\n", EHLO_BUILTINS "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250 LIMITS RCPTMAX=1000\r\n",
    "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n", "501 5.5.4 Bad BODY parameter value\r\n",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<b@example.net>\r\n", "250 2.1.5",
    "BDAT 0 LAST\r\n", "502 5.5.1 Error: command not implemented\r\n",
    "DATA\r\n", "354 ",
    "x\r\n.\r\n", "250 2.0.0",
    NULL, NULL
  };
  g_autoptr(GArray) types = g_array_new (FALSE, FALSE, sizeof (VsmtpBodyType));
  g_autoptr(VsmtpExtension) chunking =
    g_object_ref (vsmtp_server_lookup_extension (fixture->server, "chunking"));
  g_autoptr(VsmtpExtension) binarymime =
    g_object_ref (vsmtp_server_lookup_extension (fixture->server, "BINARYMIME"));

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_body_type), types);
  run_client (fixture, offered);
  g_assert_cmpuint (types->len, ==, 4);
  g_assert_cmpint (g_array_index (types, VsmtpBodyType, 0), ==, VSMTP_BODY_TYPE_BINARY_MIME);
  g_assert_cmpint (g_array_index (types, VsmtpBodyType, 1), ==, VSMTP_BODY_TYPE_EIGHT_BIT_MIME);
  g_assert_cmpint (g_array_index (types, VsmtpBodyType, 2), ==, VSMTP_BODY_TYPE_SEVEN_BIT);
  g_assert_cmpint (g_array_index (types, VsmtpBodyType, 3), ==, VSMTP_BODY_TYPE_NONE);

  g_assert_true (vsmtp_server_unregister_extension (fixture->server, binarymime));
  run_client (fixture, no_binarymime);

  /* BINARYMIME is offered only with CHUNKING */
  register_ok (fixture->server, binarymime);
  g_assert_true (vsmtp_server_unregister_extension (fixture->server, chunking));
  run_client (fixture, no_chunking);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/extension/registered", test_registered);
  ADD ("/extension/predicate", test_predicate);
  ADD ("/extension/fail-closed", test_fail_closed);
  ADD ("/extension/builtins", test_builtins);
  ADD ("/extension/register-unregister", test_register_unregister);
  ADD ("/extension/chunking", test_chunking);
#undef ADD

  return g_test_run ();
}

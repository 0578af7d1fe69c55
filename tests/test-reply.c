/* test-reply.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp.h"
#include "vsmtp-reply-private.h"

static void
assert_wire (VsmtpReply *reply,
             const char *expected)
{
  g_autofree char *str = vsmtp_reply_to_string (reply);

  g_assert_cmpstr (str, ==, expected);
}

static void
test_format_single (void)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new (250, "2.1.0", "Sender ok");

  assert_wire (reply, "250 2.1.0 Sender ok\r\n");
  g_assert_cmpuint (vsmtp_reply_get_code (reply), ==, 250);
  g_assert_cmpstr (vsmtp_reply_get_enhanced_code (reply), ==, "2.1.0");
  g_assert_cmpstr (vsmtp_reply_get_text (reply), ==, "Sender ok");
  g_assert_false (vsmtp_reply_is_pending (reply));
}

static void
test_format_multiline (void)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new (250, "2.0.0",
                                                 "mx.example\nPIPELINING\nSIZE 1000\n8BITMIME");
  g_autoptr(VsmtpReply) plain = vsmtp_reply_new (250, NULL, "mx.example\nPIPELINING\nSTARTTLS");
  g_autoptr(GString) buffer = g_string_new ("prefix:");

  assert_wire (reply,
               "250-2.0.0 mx.example\r\n"
               "250-2.0.0 PIPELINING\r\n"
               "250-2.0.0 SIZE 1000\r\n"
               "250 2.0.0 8BITMIME\r\n");
  assert_wire (plain,
               "250-mx.example\r\n"
               "250-PIPELINING\r\n"
               "250 STARTTLS\r\n");

  /* append_to appends */
  vsmtp_reply_append_to (plain, buffer);
  g_assert_cmpstr (buffer->str, ==,
                   "prefix:250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
}

static void
test_format_no_enhanced (void)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new (220, NULL, "mx.example ESMTP");
  g_autoptr(VsmtpReply) empty = vsmtp_reply_new (250, NULL, "");
  g_autoptr(VsmtpReply) empty_enh = vsmtp_reply_new (250, "2.0.0", "");
  g_autoptr(VsmtpReply) challenge = vsmtp_reply_new (334, NULL, "");
  g_autoptr(VsmtpReply) empty_lines = vsmtp_reply_new (250, NULL, "a\n\nb");

  assert_wire (reply, "220 mx.example ESMTP\r\n");
  assert_wire (empty, "250\r\n");
  assert_wire (empty_enh, "250 2.0.0\r\n");
  /* RFC 4954: continue-req = "334" SP [base64] */
  assert_wire (challenge, "334 \r\n");
  assert_wire (empty_lines, "250-a\r\n250-\r\n250 b\r\n");
}

static void
test_format_crlf (void)
{
  g_autoptr(VsmtpReply) crlf = vsmtp_reply_new (550, "5.7.1", "line one\r\nline two\r\n");
  g_autoptr(VsmtpReply) lone_cr = vsmtp_reply_new (550, "5.7.1", "evil\rRSET");
  g_autoptr(VsmtpReply) injected = vsmtp_reply_new (250, NULL, "ok\r\n250 fake");
  g_autofree char *str = NULL;
  const char *p;
  guint crlf_count = 0;

  assert_wire (crlf, "550-5.7.1 line one\r\n550 5.7.1 line two\r\n");
  assert_wire (lone_cr, "550 5.7.1 evil RSET\r\n");
  /* A line break in the text makes a continuation line, never a new reply */
  assert_wire (injected, "250-ok\r\n250 250 fake\r\n");

  /* No bare CR or LF anywhere */
  str = vsmtp_reply_to_string (lone_cr);
  for (p = str; *p != '\0'; p++)
    {
      if (*p == '\r')
        {
          g_assert_cmpint (p[1], ==, '\n');
          crlf_count++;
        }
      else if (*p == '\n')
        g_assert_cmpint (p[-1], ==, '\r');
    }
  g_assert_cmpuint (crlf_count, ==, 1);
}

static void
test_format_long_lines (void)
{
  g_autofree char *long_text = g_strnfill (2000, 'x');
  g_autofree char *text = g_strconcat ("short\n", long_text, NULL);
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new (550, "5.7.1", text);
  g_autofree char *str = vsmtp_reply_to_string (reply);
  g_auto(GStrv) lines = NULL;
  g_autofree char *utf8_text = NULL;
  g_autoptr(VsmtpReply) utf8_reply = NULL;
  g_autofree char *utf8_str = NULL;
  GString *utf8_builder;
  guint i;

  lines = g_strsplit (str, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[0], ==, "550-5.7.1 short");
  /* 512 octets including CRLF */
  g_assert_cmpuint (strlen (lines[1]), ==, 510);
  g_assert_true (g_str_has_prefix (lines[1], "550 5.7.1 xxxx"));
  g_assert_cmpstr (lines[2], ==, "");

  /* Truncation does not split a UTF-8 sequence */
  utf8_builder = g_string_new ("a");
  for (i = 0; i < 400; i++)
    g_string_append (utf8_builder, "é");
  utf8_text = g_string_free (utf8_builder, FALSE);
  utf8_reply = vsmtp_reply_new (250, NULL, utf8_text);
  utf8_str = vsmtp_reply_to_string (utf8_reply);
  g_assert_cmpuint (strlen (utf8_str), <=, 512);
  g_assert_true (g_str_has_suffix (utf8_str, "é\r\n"));
  g_assert_true (g_utf8_validate (utf8_str, -1, NULL));
}

static void
test_defaults (void)
{
  g_autoptr(VsmtpReply) ok = vsmtp_reply_new (250, NULL, NULL);
  g_autoptr(VsmtpReply) temp = vsmtp_reply_new (450, "4.2.0", NULL);
  g_autoptr(VsmtpReply) perm = vsmtp_reply_new (553, NULL, NULL);
  g_autoptr(VsmtpReply) printf_reply = vsmtp_reply_new_printf (250, "2.1.5", "<%s> ok, %d", "a@b", 42);

  g_assert_cmpstr (vsmtp_reply_get_text (ok), ==, "Ok");
  g_assert_cmpstr (vsmtp_reply_get_text (temp), ==, "Temporary failure");
  g_assert_cmpstr (vsmtp_reply_get_text (perm), ==, "Rejected");
  assert_wire (printf_reply, "250 2.1.5 <a@b> ok, 42\r\n");
}

static void
test_constructors (void)
{
  g_autoptr(VsmtpReply) ok = vsmtp_reply_new_ok ();
  g_autoptr(VsmtpReply) temp = vsmtp_reply_new_temporary_failure (NULL);
  g_autoptr(VsmtpReply) temp_text = vsmtp_reply_new_temporary_failure ("Greylisted");
  g_autoptr(VsmtpReply) nouser = vsmtp_reply_new_no_such_user ();
  g_autoptr(VsmtpReply) relay = vsmtp_reply_new_relay_denied ();
  g_autoptr(VsmtpReply) policy = vsmtp_reply_new_policy_rejection ("Go away");

  assert_wire (ok, "250 2.0.0 Ok\r\n");
  assert_wire (temp, "451 4.3.0 Temporary failure, try again later\r\n");
  assert_wire (temp_text, "451 4.3.0 Greylisted\r\n");
  assert_wire (nouser, "550 5.1.1 No such user\r\n");
  assert_wire (relay, "554 5.7.1 Relay access denied\r\n");
  assert_wire (policy, "550 5.7.1 Go away\r\n");

  g_assert_true (vsmtp_reply_is_positive (ok));
  g_assert_false (vsmtp_reply_is_transient (ok));
  g_assert_false (vsmtp_reply_is_permanent (ok));
  g_assert_true (vsmtp_reply_is_transient (temp));
  g_assert_false (vsmtp_reply_is_positive (temp));
  g_assert_true (vsmtp_reply_is_permanent (relay));
  g_assert_false (vsmtp_reply_is_transient (relay));
}

static void
test_properties (void)
{
  g_autoptr(VsmtpReply) reply = g_object_new (VSMTP_TYPE_REPLY,
                                              "code", 421,
                                              "enhanced-code", "4.4.2",
                                              "text", "Timeout",
                                              NULL);
  guint code;
  g_autofree char *enhanced = NULL;
  g_autofree char *text = NULL;
  gboolean pending;

  g_object_get (reply,
                "code", &code,
                "enhanced-code", &enhanced,
                "text", &text,
                "pending", &pending,
                NULL);
  g_assert_cmpuint (code, ==, 421);
  g_assert_cmpstr (enhanced, ==, "4.4.2");
  g_assert_cmpstr (text, ==, "Timeout");
  g_assert_false (pending);
}

static void
test_invalid (void)
{
  if (g_test_subprocess ())
    {
      /* class digit does not match */
      VsmtpReply *reply = vsmtp_reply_new (250, "5.0.0", "x");

      g_assert_null (reply);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*CRITICAL*");
}

static void
test_invalid_code (void)
{
  if (g_test_subprocess ())
    {
      g_assert_null (vsmtp_reply_new (199, NULL, "x"));
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*CRITICAL*");
}

static const char *bad_enhanced_codes[] = {
  "2.0", "2.0.0.0", "2..0", "2.0.", "2.1234.0", "x.0.0", "2.0.0 ", "20.0.0", "",
};

static void
test_invalid_enhanced_syntax (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad_enhanced_codes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/reply/invalid-enhanced/subprocess/%u", i);

      g_test_trap_subprocess (path, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_failed ();
      g_test_trap_assert_stderr ("*CRITICAL*enhanced_code_is_valid*");
    }
}

static void
test_invalid_enhanced_child (gconstpointer data)
{
  guint i = GPOINTER_TO_UINT (data);

  g_assert_null (vsmtp_reply_new (250, bad_enhanced_codes[i], "x"));
}

static void
on_completed (VsmtpReply *reply,
              guint      *count)
{
  g_assert_false (vsmtp_reply_is_pending (reply));
  (*count)++;
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           guint      *count)
{
  (*count)++;
}

static void
test_pending_complete (void)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new_pending ();
  guint completed = 0;
  guint notified = 0;

  g_assert_true (vsmtp_reply_is_pending (reply));
  g_assert_cmpuint (vsmtp_reply_get_code (reply), ==, 0);
  g_assert_false (vsmtp_reply_is_positive (reply));
  g_assert_false (vsmtp_reply_is_transient (reply));
  g_assert_false (vsmtp_reply_is_permanent (reply));

  g_signal_connect (reply, "completed", G_CALLBACK (on_completed), &completed);
  g_signal_connect (reply, "notify::pending", G_CALLBACK (on_notify), &notified);

  g_assert_true (vsmtp_reply_complete (reply, 550, "5.1.1", "Unknown user"));
  g_assert_cmpuint (completed, ==, 1);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_false (vsmtp_reply_is_pending (reply));
  g_assert_cmpuint (vsmtp_reply_get_code (reply), ==, 550);
  assert_wire (reply, "550 5.1.1 Unknown user\r\n");

  /* Once only */
  g_assert_false (vsmtp_reply_complete (reply, 250, NULL, NULL));
  g_assert_cmpuint (completed, ==, 1);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpuint (vsmtp_reply_get_code (reply), ==, 550);
}

static void
on_notify_record (GObject    *object,
                  GParamSpec *pspec,
                  GString    *names)
{
  g_string_append_printf (names, "%s%s", names->len > 0 ? " " : "", pspec->name);
}

/* A completion notifies every property it changes, in one batch, when
 * somebody listens (a reply nobody watches skips the notifications) */
static void
test_pending_notify (void)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new_pending ();
  g_autoptr(VsmtpReply) quiet = vsmtp_reply_new_pending ();
  g_autoptr(GString) names = g_string_new (NULL);
  guint completed = 0;

  g_signal_connect (reply, "notify", G_CALLBACK (on_notify_record), names);
  g_signal_connect (reply, "completed", G_CALLBACK (on_completed), &completed);
  g_assert_true (vsmtp_reply_complete (reply, 451, "4.3.0", "Later"));
  g_assert_cmpuint (completed, ==, 1);
  /* once each, in the order GLib dispatches a thawed queue */
  {
    g_auto(GStrv) notified = g_strsplit (names->str, " ", -1);
    const char * const expected[] = { "code", "enhanced-code", "text", "pending" };

    g_assert_cmpuint (g_strv_length (notified), ==, G_N_ELEMENTS (expected));
    for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
      g_assert_true (g_strv_contains ((const char * const *) notified, expected[i]));
  }

  g_signal_connect (quiet, "completed", G_CALLBACK (on_completed), &completed);
  g_assert_true (vsmtp_reply_complete (quiet, 250, NULL, NULL));
  g_assert_cmpuint (completed, ==, 2);
  assert_wire (quiet, "250 Ok\r\n");
}

static void
test_pending_complete_with (void)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new_pending ();
  g_autoptr(VsmtpReply) decision = vsmtp_reply_new_relay_denied ();
  g_autoptr(VsmtpReply) other = vsmtp_reply_new_ok ();
  guint completed = 0;

  g_signal_connect (reply, "completed", G_CALLBACK (on_completed), &completed);

  g_assert_true (vsmtp_reply_complete_with (reply, decision));
  g_assert_cmpuint (completed, ==, 1);
  assert_wire (reply, "554 5.7.1 Relay access denied\r\n");

  g_assert_false (vsmtp_reply_complete_with (reply, other));
  g_assert_cmpuint (completed, ==, 1);
  assert_wire (reply, "554 5.7.1 Relay access denied\r\n");

  /* A completed reply cannot be completed either */
  g_assert_false (vsmtp_reply_complete_with (other, decision));
  assert_wire (other, "250 2.0.0 Ok\r\n");
}

static void
test_pending_default_text (void)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new_pending ();

  g_assert_true (vsmtp_reply_complete (reply, 250, "2.1.5", NULL));
  assert_wire (reply, "250 2.1.5 Ok\r\n");
}

static void
test_pending_expire (void)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new_pending ();
  g_autoptr(VsmtpReply) ok = vsmtp_reply_new_ok ();
  guint completed = 0;

  g_signal_connect (reply, "completed", G_CALLBACK (on_completed), &completed);

  g_assert_false (_vsmtp_reply_is_expired (reply));
  _vsmtp_reply_expire (reply);
  g_assert_true (_vsmtp_reply_is_expired (reply));

  g_assert_false (vsmtp_reply_complete (reply, 250, NULL, NULL));
  g_assert_false (vsmtp_reply_complete_with (reply, ok));
  g_assert_cmpuint (completed, ==, 0);
  g_assert_cmpuint (vsmtp_reply_get_code (reply), ==, 0);

  /* Expiring a completed reply changes nothing */
  _vsmtp_reply_expire (ok);
  g_assert_false (_vsmtp_reply_is_expired (ok));
  g_assert_cmpuint (vsmtp_reply_get_code (ok), ==, 250);
}

int
main (int   argc,
      char *argv[])
{
  guint i;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reply/format/single", test_format_single);
  g_test_add_func ("/reply/format/multiline", test_format_multiline);
  g_test_add_func ("/reply/format/no-enhanced", test_format_no_enhanced);
  g_test_add_func ("/reply/format/crlf", test_format_crlf);
  g_test_add_func ("/reply/format/long-lines", test_format_long_lines);
  g_test_add_func ("/reply/defaults", test_defaults);
  g_test_add_func ("/reply/constructors", test_constructors);
  g_test_add_func ("/reply/properties", test_properties);
  g_test_add_func ("/reply/invalid/class", test_invalid);
  g_test_add_func ("/reply/invalid/code", test_invalid_code);
  g_test_add_func ("/reply/invalid-enhanced", test_invalid_enhanced_syntax);
  for (i = 0; i < G_N_ELEMENTS (bad_enhanced_codes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/reply/invalid-enhanced/subprocess/%u", i);

      g_test_add_data_func (path, GUINT_TO_POINTER (i), test_invalid_enhanced_child);
    }
  g_test_add_func ("/reply/pending/complete", test_pending_complete);
  g_test_add_func ("/reply/pending/notify", test_pending_notify);
  g_test_add_func ("/reply/pending/complete-with", test_pending_complete_with);
  g_test_add_func ("/reply/pending/default-text", test_pending_default_text);
  g_test_add_func ("/reply/pending/expire", test_pending_expire);

  return g_test_run ();
}

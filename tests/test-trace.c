/* test-trace.c: the log escaping rule
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <vsmtp.h>

#include "vsmtp-trace-private.h"

typedef struct {
  const char *in;
  gssize      length;
  const char *out;
} Case;

static const Case cases[] = {
  { "alice@example.org", -1, "alice@example.org" },
  { "", -1, "" },
  /* a forged line: CR, LF */
  { "eve\r\nvsmtpd-INFO: forged", -1, "eve\\x0d\\x0avsmtpd-INFO: forged" },
  /* terminal escapes, TAB, DEL */
  { "\x1b[31mred\tx\x7f", -1, "\\x1b[31mred\\x09x\\x7f" },
  /* the backslash itself, so that an escape cannot be faked */
  { "a\\x0ab", -1, "a\\x5cx0ab" },
  /* valid UTF-8 stays */
  { "j\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x93\xa7", -1, "j\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x93\xa7" },
  /* invalid UTF-8, byte by byte: a lone continuation, a truncated sequence,
   * an overlong form */
  { "x\x80y\xe2\x82z\xc0\xaf", -1, "x\\x80y\\xe2\\x82z\\xc0\\xaf" },
  /* C1 controls (U+0085 NEL, U+009B CSI) */
  { "a\xc2\x85" "b\xc2\x9b" "c", -1, "a\\xc2\\x85b\\xc2\\x9bc" },
  /* with a length: a NUL inside, and stopping before the end */
  { "a\0b", 3, "a\\x00b" },
  { "abcdef", 3, "abc" },
};

static void
test_escape (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = vsmtp_log_escape (cases[i].in, cases[i].length);
      g_autoptr(GString) appended = g_string_new ("<");

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_assert_cmpstr (out, ==, cases[i].out);
      g_assert_true (g_utf8_validate (out, -1, NULL));

      if (cases[i].length < 0)
        {
          _vsmtp_string_append_log_escaped (appended, cases[i].in);
          g_assert_cmpstr (appended->str + 1, ==, cases[i].out);
        }
    }
}

/* RFC 3848 and RFC 6531 §4.3: the "with" of the Received header field */
static void
test_received_protocol (void)
{
  const struct {
    gboolean esmtp;
    gboolean authenticated;
    gboolean smtputf8;
    const char *with;
  } cases[] = {
    { FALSE, FALSE, FALSE, " with SMTP id " },
    { TRUE, FALSE, FALSE, " with ESMTP id " },
    { TRUE, TRUE, FALSE, " with ESMTPA id " },
    { TRUE, FALSE, TRUE, " with UTF8SMTP id " },
    { TRUE, TRUE, TRUE, " with UTF8SMTPA id " },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(VsmtpEnvelope) envelope = vsmtp_envelope_new ();
      g_autoptr(GHashTable) params = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr(VsmtpAddress) sender = vsmtp_address_new ("jörg", "bücher.example");
      g_autoptr(VsmtpAddress) rcpt = vsmtp_address_new ("用户", "例子.example");
      g_autofree char *received = NULL;
      g_autofree char *expected_for = NULL;

      if (cases[i].smtputf8)
        g_hash_table_insert (params, "SMTPUTF8", NULL);
      vsmtp_envelope_set_sender (envelope, sender, params);
      vsmtp_envelope_add_recipient (envelope, rcpt, NULL);
      g_assert_cmpint (vsmtp_envelope_get_smtputf8 (envelope), ==, cases[i].smtputf8);

      received = _vsmtp_format_received (&(VsmtpTraceClient) {
                                           .helo = "client.example",
                                           .remote_ip = "192.0.2.1",
                                           .esmtp = cases[i].esmtp,
                                           .authenticated = cases[i].authenticated,
                                         },
                                         "mx.example", "ID1", envelope);
      g_test_message ("%s", received);
      g_assert_nonnull (strstr (received, cases[i].with));
      /* the recipient as the client wrote it: UTF-8 in an SMTPUTF8 message */
      g_assert_nonnull (strstr (received, "for <用户@例子.example>"));
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trace/log-escape", test_escape);
  g_test_add_func ("/trace/received-protocol", test_received_protocol);
  return g_test_run ();
}

/* test-trace.c: the log escaping rule
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

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

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trace/log-escape", test_escape);
  return g_test_run ();
}

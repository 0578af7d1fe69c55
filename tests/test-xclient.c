/* test-xclient.c: the XCLIENT attribute parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp.h"
#include "vsmtp-xclient-private.h"

static char *
address_string (GInetAddress *address)
{
  return address ? g_inet_address_to_string (address) : g_strdup ("(null)");
}

static void
test_attributes (void)
{
  VsmtpXclientAttributes a;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *destaddr = NULL;

  g_assert_true (_vsmtp_xclient_parse ("NAME=mail.example.org ADDR=192.0.2.1 PORT=25000 "
                                       "PROTO=esmtp HELO=[192.0.2.1] LOGIN=j+2Bdoe "
                                       "destaddr=IPv6:2001:DB8::1 DESTPORT=587",
                                       &a, &error));
  g_assert_no_error (error);
  g_assert_cmphex (a.given, ==, 0xff);
  g_assert_cmpstr (a.name, ==, "mail.example.org");
  addr = address_string (a.addr);
  g_assert_cmpstr (addr, ==, "192.0.2.1");
  g_assert_cmpuint (a.port, ==, 25000);
  g_assert_true (a.esmtp);
  g_assert_cmpstr (a.helo, ==, "[192.0.2.1]");
  g_assert_cmpstr (a.login, ==, "j+doe");
  destaddr = address_string (a.destaddr);
  g_assert_cmpstr (destaddr, ==, "2001:db8::1");
  g_assert_cmpuint (a.destport, ==, 587);
  _vsmtp_xclient_attributes_clear (&a);
  g_assert_null (a.name);
  g_assert_cmphex (a.given, ==, 0);
}

static void
test_unavailable (void)
{
  VsmtpXclientAttributes a;
  g_autoptr(GError) error = NULL;

  g_assert_true (_vsmtp_xclient_parse ("  NAME=[TEMPUNAVAIL]  ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE] "
                                       "HELO=[UNAVAILABLE] LOGIN=[UNAVAILABLE] NAME=[UNAVAILABLE] ",
                                       &a, &error));
  g_assert_no_error (error);
  g_assert_cmphex (a.given, ==, VSMTP_XCLIENT_NAME | VSMTP_XCLIENT_ADDR | VSMTP_XCLIENT_PORT |
                                VSMTP_XCLIENT_HELO | VSMTP_XCLIENT_LOGIN);
  g_assert_null (a.name);
  g_assert_null (a.addr);
  g_assert_cmpuint (a.port, ==, 0);
  g_assert_null (a.helo);
  g_assert_null (a.login);
  _vsmtp_xclient_attributes_clear (&a);

  /* the last value of a repeated attribute wins */
  g_assert_true (_vsmtp_xclient_parse ("LOGIN=a LOGIN=[UNAVAILABLE] LOGIN=b", &a, NULL));
  g_assert_cmpstr (a.login, ==, "b");
  _vsmtp_xclient_attributes_clear (&a);
}

typedef struct {
  const char *args;
  const char *message;
} BadCase;

static const BadCase bad_cases[] = {
  { "", "Syntax: XCLIENT attribute=value ..." },
  { "   ", "Syntax: XCLIENT attribute=value ..." },
  { "ADDR", "Syntax: XCLIENT attribute=value ..." },
  { "=x", "Syntax: XCLIENT attribute=value ..." },
  { "NAME=a ADDR", "Syntax: XCLIENT attribute=value ..." },
  { "FOO=1", "Bad XCLIENT attribute name: FOO" },
  { "XFORWARD=1", "Bad XCLIENT attribute name: XFORWARD" },
  { "A\r\n250-ok=1", "Bad XCLIENT attribute name" },
  { "N\xc3\xa4ME=1", "Bad XCLIENT attribute name" },
  { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=1",
    "Bad XCLIENT attribute name: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA..." },
  { "NAME=", "Bad NAME syntax" },
  { "NAME=-", "Bad NAME syntax" },
  { "NAME=.a", "Bad NAME syntax" },
  { "NAME=a.", "Bad NAME syntax" },
  { "NAME=a b", "Syntax: XCLIENT attribute=value ..." },
  { "NAME=a+2Cb", "Bad NAME syntax" },
  { "NAME=[TEMPUNAVAIL]x", "Bad NAME syntax" },
  { "ADDR=192.0.2", "Bad ADDR syntax" },
  { "ADDR=192.0.2.256", "Bad ADDR syntax" },
  { "ADDR=2001:db8::1", "Bad ADDR syntax" },
  { "ADDR=IPV6:", "Bad ADDR syntax" },
  { "ADDR=IPV6:192.0.2.1", "Bad ADDR syntax" },
  { "ADDR=IPV6:fe80::1+25eth0", "Bad ADDR syntax" },
  { "ADDR=[192.0.2.1]", "Bad ADDR syntax" },
  { "ADDR=[TEMPUNAVAIL]", "Bad ADDR syntax" },
  { "ADDR=[unavailable]", "Bad ADDR syntax" },
  { "PORT=0", "Bad PORT syntax" },
  { "PORT=65536", "Bad PORT syntax" },
  { "PORT=000025", "Bad PORT syntax" },
  { "PORT=+2B25", "Bad PORT syntax" },
  { "PORT= ", "Bad PORT syntax" },
  { "PROTO=LMTP", "Bad PROTO syntax" },
  { "PROTO=[UNAVAILABLE]", "Bad PROTO syntax" },
  { "HELO=a+00", "Bad HELO syntax" },
  { "HELO=a+0", "Bad HELO syntax" },
  { "HELO=a+", "Bad HELO syntax" },
  { "HELO=a+g0", "Bad HELO syntax" },
  { "HELO=a=b", "Bad HELO syntax" },
  { "HELO=a+0Db", "Bad HELO syntax" },
  { "HELO=a+C3+A9", "Bad HELO syntax" },
  { "LOGIN=a+0A", "Bad LOGIN syntax" },
  { "LOGIN=a+FF", "Bad LOGIN syntax" },
  { "DESTADDR=localhost", "Bad DESTADDR syntax" },
  { "DESTPORT=smtp", "Bad DESTPORT syntax" },
};

static void
test_bad (void)
{
  g_autofree char *long_name = g_strnfill (256, 'a');
  g_autofree char *long_args = g_strconcat ("NAME=", long_name, NULL);
  g_autofree char *longest_name = g_strnfill (63, 'b');
  g_autofree char *ok_args = g_strdup_printf ("NAME=%s.%s.%s.%s", longest_name, longest_name,
                                              longest_name, longest_name);   /* 255 */
  VsmtpXclientAttributes a;

  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("XCLIENT %s", bad_cases[i].args);
      g_assert_false (_vsmtp_xclient_parse (bad_cases[i].args, &a, &error));
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
      g_assert_cmpstr (error->message, ==, bad_cases[i].message);
      g_assert_cmphex (a.given, ==, 0);
      g_assert_null (a.name);
    }

  g_assert_false (_vsmtp_xclient_parse (long_args, &a, NULL));
  g_assert_true (_vsmtp_xclient_parse (ok_args, &a, NULL));
  _vsmtp_xclient_attributes_clear (&a);

  /* UTF-8 login, xtext-encoded */
  g_assert_true (_vsmtp_xclient_parse ("LOGIN=j+C3+B6rg", &a, NULL));
  g_assert_cmpstr (a.login, ==, "j\xc3\xb6rg");
  _vsmtp_xclient_attributes_clear (&a);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/xclient/attributes", test_attributes);
  g_test_add_func ("/xclient/unavailable", test_unavailable);
  g_test_add_func ("/xclient/bad", test_bad);

  return g_test_run ();
}

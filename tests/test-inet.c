/* test-inet.c: a client's address as text (vsmtp-inet.c), as GLib writes it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-inet-private.h"

static void
assert_as_glib (GInetAddress *address)
{
  g_autofree char *ours = _vsmtp_inet_address_to_string (address);
  g_autofree char *glib = g_inet_address_to_string (address);

  g_assert_cmpstr (ours, ==, glib);
}

static void
test_ipv4 (void)
{
  const char *texts[] = {
    "0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.0.1", "192.168.100.200",
    "1.2.3.4", "9.10.99.100", "100.101.109.110", "203.0.113.255",
  };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (texts[i]);
      g_autofree char *ours = _vsmtp_inet_address_to_string (address);

      g_assert_cmpstr (ours, ==, texts[i]);
      assert_as_glib (address);
    }
  /* every value of an octet, in each position */
  for (guint v = 0; v < 256; v++)
    {
      guint8 bytes[4] = { v, 255 - v, v / 2, v ^ 0x5A };
      g_autoptr(GInetAddress) address = g_inet_address_new_from_bytes (bytes, G_SOCKET_FAMILY_IPV4);

      assert_as_glib (address);
    }
}

static void
test_ipv6 (void)
{
  const char *texts[] = { "::1", "2001:db8::25", "::ffff:192.0.2.1", "fe80::1:2:3:4" };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (texts[i]);

      assert_as_glib (address);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/inet/ipv4", test_ipv4);
  g_test_add_func ("/inet/ipv6", test_ipv6);
  return g_test_run ();
}

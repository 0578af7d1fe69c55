/* vsmtp-inet.c: a client's address as text, once per connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * g_inet_address_to_string() goes through inet_ntop(), which formats an
 * IPv4 address with sprintf(): a thousand and more instructions per
 * connection. An IPv4 address is written here digit by digit, the same
 * text; any other is left to GLib.
 */
#include "config.h"

#include "vsmtp-inet-private.h"

/* @octet in decimal at @out, without leading zeros */
static char *
put_octet (char   *out,
           guint8  octet)
{
  if (octet >= 100)
    *out++ = '0' + octet / 100;
  if (octet >= 10)
    *out++ = '0' + octet / 10 % 10;
  *out++ = '0' + octet % 10;
  return out;
}

char *
_vsmtp_inet_address_to_string (GInetAddress *address)
{
  const guint8 *bytes;
  char *text;
  char *p;

  if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
    return g_inet_address_to_string (address);

  bytes = g_inet_address_to_bytes (address);
  text = p = g_malloc (sizeof "255.255.255.255");
  for (guint i = 0; i < 4; i++)
    {
      if (i > 0)
        *p++ = '.';
      p = put_octet (p, bytes[i]);
    }
  *p = '\0';
  return text;
}

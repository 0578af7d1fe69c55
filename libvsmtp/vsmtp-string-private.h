/* vsmtp-string-private.h: appending to a GString on the paths of every
 * message
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GLib 2.74's g_string_append() and g_string_append_len() are calls into
 * g_string_insert_len(), which checks whether the appended text lies inside
 * the string itself before it copies: about a hundred instructions for a
 * few bytes. The Received header, the transaction's log line and the
 * replies are built from a dozen short pieces each, into a string sized
 * beforehand; these append in place when there is room and leave the rest
 * to GLib.
 */
#pragma once

#include <string.h>

#include <glib.h>

G_BEGIN_DECLS

static inline void
_vsmtp_string_append_len (GString    *string,
                          const char *text,
                          gsize       length)
{
  if (G_LIKELY (string->len + length < string->allocated_len))
    {
      memcpy (string->str + string->len, text, length);
      string->len += length;
      string->str[string->len] = '\0';
    }
  else
    g_string_append_len (string, text, length);
}

static inline void
_vsmtp_string_append (GString    *string,
                      const char *text)
{
  _vsmtp_string_append_len (string, text, strlen (text));
}

/* Room for any guint64 in decimal, and its NUL */
#define _VSMTP_DECIMAL_SIZE 21

/* @n in decimal, without printf (on the paths of every message and
 * connection): written at the end of @buffer, which the result points into */
static inline const char *
_vsmtp_format_decimal (char    buffer[_VSMTP_DECIMAL_SIZE],
                       guint64 n)
{
  char *p = buffer + _VSMTP_DECIMAL_SIZE;

  *--p = '\0';
  do
    {
      *--p = '0' + n % 10;
      n /= 10;
    }
  while (n > 0);
  return p;
}

G_END_DECLS

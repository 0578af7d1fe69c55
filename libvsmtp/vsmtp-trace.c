/* vsmtp-trace.c: what the server writes about its clients (log lines)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-trace-private.h"

/* A byte that must not reach a log line as itself: C0 controls (CR, LF,
 * ESC...), DEL, and the backslash that starts an escape. */
static inline gboolean
needs_escape (guchar c)
{
  return c < 0x20 || c == 0x7f || c == '\\';
}

static gboolean
is_safe (const char *text,
         gsize       length)
{
  gboolean ascii = TRUE;

  for (gsize i = 0; i < length; i++)
    {
      guchar c = (guchar) text[i];

      if (needs_escape (c))
        return FALSE;
      ascii &= c < 0x80;
    }
  if (ascii)
    return TRUE;
  if (!g_utf8_validate_len (text, length, NULL))
    return FALSE;
  /* C1 controls are U+0080 to U+009F: 0xC2 0x80 to 0xC2 0x9F */
  for (gsize i = 0; i + 1 < length; i++)
    if ((guchar) text[i] == 0xc2 && (guchar) text[i + 1] < 0xa0)
      return FALSE;
  return TRUE;
}

static void
append_escaped (GString    *string,
                const char *text,
                gsize       length)
{
  static const char hex[] = "0123456789abcdef";
  const char *p = text;
  const char *end = text + length;

  while (p < end)
    {
      guchar c = (guchar) *p;

      if (c >= 0x80)
        {
          gunichar u = g_utf8_get_char_validated (p, end - p);

          if (u != (gunichar) -1 && u != (gunichar) -2 && u >= 0xa0)
            {
              gsize n = g_utf8_skip[c];

              g_string_append_len (string, p, n);
              p += n;
              continue;
            }
          /* invalid UTF-8, or a C1 control (U+0080 to U+009F): escaped
           * a byte at a time below */
        }
      else if (!needs_escape (c))
        {
          g_string_append_c (string, (char) c);
          p++;
          continue;
        }
      g_string_append_c (string, '\\');
      g_string_append_c (string, 'x');
      g_string_append_c (string, hex[c >> 4]);
      g_string_append_c (string, hex[c & 0xf]);
      p++;
    }
}

/**
 * vsmtp_log_escape:
 * @text: (array length=length) (element-type guint8): what a client sent
 *   (a user name, an address, a command, a header), in any encoding
 * @length: the length of @text in bytes, or -1 if it is NUL-terminated
 *
 * Makes a client-supplied string safe to write in a log line, so that a
 * client cannot forge log lines or terminal escapes: each C0 control
 * character (CR, LF, TAB, ESC...), DEL, C1 control and backslash, and each
 * byte that is not part of valid UTF-8, becomes `\xHH` (two lower-case hex
 * digits); everything else, valid UTF-8 included, stays as it is.
 *
 * libvsmtp escapes this way every client-supplied string it logs; plugins
 * should too. The escaping is unambiguous: a backslash in the text comes
 * out as `\x5c`.
 *
 * Returns: (transfer full): the escaped text, valid UTF-8
 */
char *
vsmtp_log_escape (const char *text,
                  gssize      length)
{
  GString *string;
  gsize n;

  g_return_val_if_fail (text != NULL || length == 0, NULL);

  if (text == NULL)
    return g_strdup ("");
  n = length < 0 ? strlen (text) : (gsize) length;
  string = g_string_sized_new (n + 8);
  append_escaped (string, text, n);
  return g_string_free (string, FALSE);
}

void
_vsmtp_string_append_log_escaped (GString    *string,
                                  const char *text)
{
  gsize n = strlen (text);

  if (is_safe (text, n))
    g_string_append_len (string, text, n);
  else
    append_escaped (string, text, n);
}

/* vsmtp-session-log.c: a session's connect and disconnect lines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two lines per connection, at INFO, with the session's id as a field:
 * "ID: connect from [PEER]" and "ID: disconnect from [IP] messages=N".
 * Built in a buffer on the stack and logged with g_log_structured_array()
 * (the fields g_log_structured() would give them), not formatted by printf
 * into a new string: they are on the path of every connection.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-session-log-private.h"
#include "vsmtp-string-private.h"

#define LINE_MAX_ON_STACK 256

/* Logs the concatenation of @parts (NULL-terminated) */
static void
session_log (const char        *session_id,
             const char *const *parts)
{
  char stack[LINE_MAX_ON_STACK];
  g_autofree char *heap = NULL;
  char *line = stack;
  gsize length = 0;
  GLogField fields[] = {
    { "PRIORITY", "6", -1 },
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "VSMTP_SESSION_ID", session_id, -1 },
    { "MESSAGE", NULL, -1 },
  };

  for (guint i = 0; parts[i] != NULL; i++)
    length += strlen (parts[i]);
  if (length >= sizeof stack)
    line = heap = g_malloc (length + 1);
  length = 0;
  for (guint i = 0; parts[i] != NULL; i++)
    {
      gsize n = strlen (parts[i]);

      memcpy (line + length, parts[i], n);
      length += n;
    }
  line[length] = '\0';
  fields[3].value = line;
  g_log_structured_array (G_LOG_LEVEL_INFO, fields, G_N_ELEMENTS (fields));
}

void
_vsmtp_session_log_connect (const char *session_id,
                            const char *peer)
{
  const char *parts[] = { session_id, ": connect from [", peer, "]", NULL };

  session_log (session_id, parts);
}

void
_vsmtp_session_log_disconnect (const char *session_id,
                               const char *remote_ip,
                               guint       n_messages)
{
  char number[_VSMTP_DECIMAL_SIZE];
  const char *parts[] = { session_id, ": disconnect from [", remote_ip, "] messages=",
                          _vsmtp_format_decimal (number, n_messages), NULL };

  session_log (session_id, parts);
}

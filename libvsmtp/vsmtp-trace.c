/* vsmtp-trace.c: what the server writes about its clients: the log
 * escaping rule, the Received header, the transaction log line
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vsmtp-trace-private.h"
#include "vsmtp-string-private.h"

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
    _vsmtp_string_append_len (string, text, n);
  else
    append_escaped (string, text, n);
}

const char *
_vsmtp_tls_protocol_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0:
      return "SSLv3";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0:
      return "TLSv1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1:
      return "TLSv1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2:
      return "TLSv1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3:
      return "TLSv1.3";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_0:
      return "DTLSv1";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_2:
      return "DTLSv1.2";
    case G_TLS_PROTOCOL_VERSION_UNKNOWN:
    default:
      return "TLS";
    }
}

/* The current time as RFC 5322 wants it in a Received header: English day
 * and month names whatever the locale, "+hhmm" offset. Formatted once a
 * second (per thread: each thread may run a server of its own). */
static const char *
rfc5322_now (void)
{
  static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  static __thread time_t cached = -1;
  static __thread char text[48];
  time_t now = time (NULL);

  if (now != cached)
    {
      struct tm tm;
      long offset;

      localtime_r (&now, &tm);
      offset = tm.tm_gmtoff / 60;
      g_snprintf (text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
                  days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                  tm.tm_hour, tm.tm_min, tm.tm_sec,
                  offset < 0 ? '-' : '+', labs (offset) / 60, labs (offset) % 60);
      cached = now;
    }
  return text;
}

char *
_vsmtp_format_received (const VsmtpTraceClient *client,
                        const char             *hostname,
                        const char             *message_id,
                        VsmtpEnvelope          *envelope)
{
  const char *date = rfc5322_now ();
  GString *s = g_string_sized_new (256);
  const char *ip = client->remote_ip ? client->remote_ip : "unknown";
  gboolean v6 = strchr (ip, ':') != NULL;

  /* appends, no printf: this runs for every message */
  _vsmtp_string_append (s, "Received: from ");
  _vsmtp_string_append (s, client->helo ? client->helo : "unknown");
  if (client->remote_ip == NULL && client->unix_socket)
    _vsmtp_string_append (s, " (unix socket)\r\n");
  else
    {
      _vsmtp_string_append (s, " (");
      if (client->client_name != NULL)
        {
          _vsmtp_string_append (s, client->client_name);
          g_string_append_c (s, ' ');
        }
      _vsmtp_string_append (s, v6 ? "[IPv6:" : "[");
      _vsmtp_string_append (s, ip);
      _vsmtp_string_append (s, "])\r\n");
    }
  if (client->tls != NULL)
    {
      _vsmtp_string_append (s, "\t(using ");
      _vsmtp_string_append (s, _vsmtp_tls_protocol_name (g_tls_connection_get_protocol_version (client->tls)));
      _vsmtp_string_append (s, " with cipher ");
      _vsmtp_string_append (s, client->tls_cipher ? client->tls_cipher : "unknown");
      _vsmtp_string_append (s, ")\r\n");
    }
  /* RFC 3848: ESMTP, ESMTPS, ESMTPA, ESMTPSA; LMTP, LMTPS, LMTPA, LMTPSA */
  _vsmtp_string_append (s, "\tby ");
  _vsmtp_string_append (s, hostname);
  /* RFC 6531 §4.3: UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA (no LMTP
   * form: LMTP stays LMTP) */
  if (client->lmtp)
    _vsmtp_string_append (s, " (vsmtpd) with LMTP");
  else if (client->esmtp && vsmtp_envelope_get_smtputf8 (envelope))
    _vsmtp_string_append (s, " (vsmtpd) with UTF8SMTP");
  else
    _vsmtp_string_append (s, client->esmtp ? " (vsmtpd) with ESMTP" : " (vsmtpd) with SMTP");
  if (client->tls != NULL)
    g_string_append_c (s, 'S');
  if (client->authenticated && client->esmtp)
    g_string_append_c (s, 'A');
  _vsmtp_string_append (s, " id ");
  _vsmtp_string_append (s, message_id);
  if (vsmtp_envelope_get_n_recipients (envelope) == 1)
    {
      _vsmtp_string_append (s, "\r\n\tfor <");
      _vsmtp_string_append (s, vsmtp_address_to_string (vsmtp_envelope_get_recipient (envelope, 0)));
      g_string_append_c (s, '>');
    }
  _vsmtp_string_append (s, ";\r\n\t");
  _vsmtp_string_append (s, date);
  _vsmtp_string_append (s, "\r\n");

  return g_string_free (s, FALSE);
}

void
_vsmtp_string_append_log_result (GString    *line,
                                 VsmtpReply *reply)
{
  gsize start;

  _vsmtp_string_append (line, " result=\"");
  start = line->len;
  vsmtp_reply_append_to (reply, line);
  /* the reply on one line, without its final CRLF */
  while (line->len > start && (line->str[line->len - 1] == '\n' || line->str[line->len - 1] == '\r'))
    g_string_truncate (line, line->len - 1);
  for (gsize i = start; i < line->len; i++)
    if (line->str[i] == '\r' || line->str[i] == '\n')
      line->str[i] = ' ';
  g_string_append_c (line, '"');
}

void
_vsmtp_log_transaction (const char    *session_id,
                        const char    *remote_ip,
                        VsmtpEnvelope *envelope,
                        const char    *message_id,
                        guint64        size,
                        VsmtpReply    *reply)
{
  guint n = envelope ? vsmtp_envelope_get_n_recipients (envelope) : 0;
  VsmtpAddress *sender = envelope ? vsmtp_envelope_get_sender (envelope) : NULL;
  g_autoptr(GString) line = g_string_sized_new (256);
  char number[_VSMTP_DECIMAL_SIZE];
  GLogField fields[] = {
    { "MESSAGE", NULL, -1 },
    { "PRIORITY", "6", -1 },
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "VSMTP_SESSION_ID", session_id, -1 },
    { "VSMTP_MESSAGE_ID", message_id, -1 },
  };

  /* one line per transaction: built with appends, no printf (it is on
   * the path of every message) */
  _vsmtp_string_append (line, *message_id ? message_id : session_id);
  _vsmtp_string_append (line, ": client=[");
  _vsmtp_string_append (line, remote_ip ? remote_ip : "unknown");
  _vsmtp_string_append (line, "] from=<");
  _vsmtp_string_append_log_escaped (line, sender ? vsmtp_address_to_string (sender) : "");
  _vsmtp_string_append (line, "> to=");
  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (line, ',');
      g_string_append_c (line, '<');
      _vsmtp_string_append_log_escaped (line, vsmtp_address_to_string (vsmtp_envelope_get_recipient (envelope, i)));
      g_string_append_c (line, '>');
    }
  _vsmtp_string_append (line, " size=");
  _vsmtp_string_append (line, _vsmtp_format_decimal (number, size));
  _vsmtp_string_append_log_result (line, reply);

  fields[0].value = line->str;
  g_log_structured_array (G_LOG_LEVEL_INFO, fields, G_N_ELEMENTS (fields));
}

/* vsmtpd-log.c: where vsmtpd's log goes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vsmtpd-log.h"
#include "vsmtpd-log-batch.h"

/* vsmtpd logs to the journal when its stderr is connected to it (started
 * by systemd), and to stderr otherwise. Unlike g_log_writer_default(), it
 * shows INFO messages without G_MESSAGES_DEBUG: the library's one line
 * per connection and per transaction are INFO. DEBUG only with --verbose.
 *
 * While a plugin is being loaded, warnings of libpeas can be captured, so
 * that the daemon reports a failure on one line instead of several.
 *
 * Client-supplied strings are escaped where they are logged, with
 * vsmtp_log_escape() (the library does for its own lines). As a second
 * line of defence, for a plugin that logs one as it came, control
 * characters left in a message are made harmless here, on stderr and in
 * the journal's MESSAGE field alike: a LF goes on as a continuation line
 * that starts with a TAB, so that it cannot start a line of its own that
 * looks like another message (a Python traceback stays readable); CR, ESC,
 * TAB itself and the others become \xHH, so a line that starts with a TAB
 * is always a continuation. Backslashes are left alone, so text the library
 * escaped is not escaped twice.
 */

static gboolean verbose_logging;
static gboolean use_journald;

G_LOCK_DEFINE_STATIC (capture);
static char *capture_domain;
static GString *captured;

static gpointer transaction_tap;   /* VsmtpdLogTap */

static const char *
find_field (const GLogField *fields,
            gsize            n_fields,
            const char      *key)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, key))
        return fields[i].length < 0 ? fields[i].value : NULL;
    }

  return NULL;
}

static gboolean
try_capture (GLogLevelFlags   log_level,
             const GLogField *fields,
             gsize            n_fields)
{
  gboolean handled = FALSE;

  if (!(log_level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)))
    return FALSE;

  G_LOCK (capture);
  if (capture_domain != NULL &&
      g_strcmp0 (find_field (fields, n_fields, "GLIB_DOMAIN"), capture_domain) == 0)
    {
      const char *message = find_field (fields, n_fields, "MESSAGE");

      if (message != NULL)
        {
          if (captured->len > 0)
            g_string_append (captured, "; ");
          g_string_append (captured, message);
          handled = TRUE;
        }
    }
  G_UNLOCK (capture);

  return handled;
}

static const char *
level_name (GLogLevelFlags log_level)
{
  if (log_level & G_LOG_LEVEL_ERROR)
    return "ERROR";
  if (log_level & G_LOG_LEVEL_CRITICAL)
    return "CRITICAL";
  if (log_level & G_LOG_LEVEL_WARNING)
    return "WARNING";
  if (log_level & G_LOG_LEVEL_MESSAGE)
    return "Message";
  if (log_level & G_LOG_LEVEL_INFO)
    return "INFO";
  return "DEBUG";
}

/* "domain-LEVEL: HH:MM:SS.mmm: message", as GLib's own writer prints it,
 * but in one write() and with the time of day formatted once a second:
 * vsmtpd logs a line per connection and per transaction, and GLib's writer
 * formats a GDateTime for each (a tenth of a message's cost). */
static GLogWriterOutput
write_stderr (GLogLevelFlags   log_level,
              const GLogField *fields,
              gsize            n_fields)
{
  static __thread gint64 cached_second = -1;
  static __thread char cached_time[16];
  const char *domain = find_field (fields, n_fields, "GLIB_DOMAIN");
  const char *message = find_field (fields, n_fields, "MESSAGE");
  gint64 now = g_get_real_time ();
  gint64 second = now / G_USEC_PER_SEC;
  gboolean ok;

  if (second != cached_second)
    {
      time_t t = (time_t) second;
      struct tm tm;

      localtime_r (&t, &tm);
      strftime (cached_time, sizeof cached_time, "%H:%M:%S", &tm);
      cached_second = second;
    }

  /* "domain-LEVEL: HH:MM:SS.mmm: message\n", copied into a buffer on the
   * stack (one line per transaction: no GString, no allocation) unless
   * the line is long */
  {
    const char *parts[] = { domain != NULL ? domain : "vsmtpd", "-", level_name (log_level),
                            ": ", cached_time };
    int ms = (int) (now % G_USEC_PER_SEC / 1000);
    char millis[6] = { '.', '0' + ms / 100, '0' + ms / 10 % 10, '0' + ms % 10, ':', ' ' };
    gsize lengths[G_N_ELEMENTS (parts)];
    gsize message_length;
    gsize total = sizeof millis + 1;
    char stack[1024];
    char *line;
    char *p;

    if (message == NULL)
      message = "(no message)";
    message_length = strlen (message);
    for (gsize i = 0; i < G_N_ELEMENTS (parts); i++)
      total += lengths[i] = strlen (parts[i]);
    total += message_length;
    line = total <= sizeof stack ? stack : g_malloc (total);
    p = line;
    for (gsize i = 0; i < G_N_ELEMENTS (parts); i++)
      {
        memcpy (p, parts[i], lengths[i]);
        p += lengths[i];
      }
    memcpy (p, millis, sizeof millis);
    p += sizeof millis;
    memcpy (p, message, message_length);
    p += message_length;
    *p++ = '\n';

    /* INFO and below may wait for the end of the main loop iteration
     * (vsmtpd-log-batch.c) */
    ok = vsmtpd_log_batch_write (line, p - line,
                                 !(log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
                                                G_LOG_LEVEL_WARNING)));
    if (line != stack)
      g_free (line);
  }

  return ok ? G_LOG_WRITER_HANDLED : G_LOG_WRITER_UNHANDLED;
}

static gboolean
has_control (const char *text)
{
  const guchar *p = (const guchar *) text;
  gsize n = strlen (text);

  /* eight bytes at a time (one transaction line per message): a word has
   * a byte below 0x20 iff (x - 0x20..) & ~x & 0x80.. is not zero, and a
   * 0x7f byte iff x ^ 0x7f.. has a zero byte */
  for (; n >= 8; p += 8, n -= 8)
    {
      const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
      const guint64 highs = G_GUINT64_CONSTANT (0x8080808080808080);
      guint64 x;
      guint64 y;

      memcpy (&x, p, sizeof x);
      y = x ^ (ones * 0x7f);
      if ((((x - ones * 0x20) & ~x) | ((y - ones) & ~y)) & highs)
        return TRUE;
    }
  for (; n > 0; p++, n--)
    if (*p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

/* @message with each LF followed by a TAB (a trailing LF dropped) and
 * every other control character as \xHH */
static char *
dup_without_controls (const char *message)
{
  GString *out = g_string_sized_new (strlen (message) + 16);

  for (const guchar *p = (const guchar *) message; *p; p++)
    {
      if (*p == '\n')
        {
          if (p[1] != '\0')
            g_string_append (out, "\n\t");
        }
      else if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\x%02x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  return g_string_free (out, FALSE);
}

static GLogWriterOutput write_fields (GLogLevelFlags   log_level,
                                      const GLogField *fields,
                                      gsize            n_fields,
                                      gpointer         user_data);

static GLogWriterOutput
vsmtpd_log_writer (GLogLevelFlags   log_level,
                   const GLogField *fields,
                   gsize            n_fields,
                   gpointer         user_data)
{
  if ((log_level & G_LOG_LEVEL_DEBUG) && !verbose_logging)
    return G_LOG_WRITER_HANDLED;

  if (try_capture (log_level, fields, n_fields))
    return G_LOG_WRITER_HANDLED;

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        fields[i].value != NULL && has_control (fields[i].value))
      {
        g_autofree GLogField *copy = g_memdup2 (fields, n_fields * sizeof *fields);
        g_autofree char *clean = dup_without_controls (fields[i].value);

        copy[i].value = clean;
        return write_fields (log_level, copy, n_fields, user_data);
      }

  return write_fields (log_level, fields, n_fields, user_data);
}

static GLogWriterOutput
write_fields (GLogLevelFlags   log_level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         user_data)
{
  VsmtpdLogTap tap = (VsmtpdLogTap) g_atomic_pointer_get (&transaction_tap);

  if (tap != NULL && find_field (fields, n_fields, "VSMTP_MESSAGE_ID") != NULL)
    {
      const char *message = find_field (fields, n_fields, "MESSAGE");

      if (message != NULL)
        tap (message);
    }

  if (use_journald &&
      g_log_writer_journald (log_level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;

  if (write_stderr (log_level, fields, n_fields) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
}

/**
 * vsmtpd_log_init:
 * @verbose: whether to show DEBUG messages
 *
 * Installs the log writer of the daemon. Call it once, early.
 */
void
vsmtpd_log_init (gboolean verbose)
{
  verbose_logging = verbose;
  use_journald = g_log_writer_is_journald (STDERR_FILENO);

  /* Everything to stderr, stdout stays free */
  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (vsmtpd_log_writer, NULL, NULL);
}

/**
 * vsmtpd_log_capture_begin:
 * @log_domain: the log domain whose warnings to capture
 *
 * Captures the warnings and criticals of @log_domain, instead of writing
 * them, until vsmtpd_log_capture_end().
 */
void
vsmtpd_log_capture_begin (const char *log_domain)
{
  G_LOCK (capture);
  g_free (capture_domain);
  capture_domain = g_strdup (log_domain);
  if (captured == NULL)
    captured = g_string_new (NULL);
  g_string_truncate (captured, 0);
  G_UNLOCK (capture);
}

/**
 * vsmtpd_log_capture_end:
 *
 * Stops capturing.
 *
 * Returns: (transfer full) (nullable): the captured messages joined by
 *   "; ", or %NULL if there were none
 */
char *
vsmtpd_log_capture_end (void)
{
  char *messages = NULL;

  G_LOCK (capture);
  g_clear_pointer (&capture_domain, g_free);
  if (captured != NULL && captured->len > 0)
    messages = g_strdup (captured->str);
  if (captured != NULL)
    g_string_truncate (captured, 0);
  G_UNLOCK (capture);

  return messages;
}

/**
 * vsmtpd_log_set_transaction_tap:
 * @tap: (nullable): the function to call
 *
 * Calls @tap with each transaction line written from now on (the status
 * page keeps the last ones), on the thread that logs it.
 */
void
vsmtpd_log_set_transaction_tap (VsmtpdLogTap tap)
{
  g_atomic_pointer_set (&transaction_tap, (gpointer) tap);
}

/* vsmtpd-config.c: the keyfile configuration of vsmtpd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vsmtpd-config.h"
#include "vsmtpd-tls.h"

/* Every error names where the bad value came from (the file, or the
 * command line option that set it), the group, the key and the problem,
 * on one line:
 *
 *   /etc/vsmtpd/vsmtpd.conf: [server] max-recipients: "abc" is not a number
 *   /etc/vsmtpd/vsmtpd.conf: [server] timeout: "-5" is out of range (1 to 86400 seconds)
 */

#define DEFAULT_LISTEN            "127.0.0.1:2525"
#define DEFAULT_MAX_MESSAGE_SIZE  10240000
#define DEFAULT_MAX_RECIPIENTS    1000
#define DEFAULT_MAX_LINE_LENGTH   2048
#define DEFAULT_TIMEOUT           300
#define DEFAULT_DECISION_TIMEOUT  60
#define DEFAULT_SPOOL_THRESHOLD   1048576
#define DEFAULT_SHUTDOWN_GRACE    30
#define DEFAULT_PLUGIN            "maildir"
#define DEFAULT_HANDSHAKE_TIMEOUT 30

static const char * const server_keys[] = {
  "listen", "hostname", "max-message-size", "max-recipients", "max-line-length",
  "timeout", "decision-timeout", "spool-threshold", "spool-directory",
  "bare-newline", "shutdown-grace", "greet-pause", "user", "group",
  "tls-certificate", "tls-key", "listen-tls", "require-tls", "tls-handshake-timeout",
  "tls-priority", "tls-min-version",
  "listen-submission", "listen-submissions", "workers",
  /* and the property_keys below */
  NULL
};

/* [server] keys that map one to one onto a VsmtpServer property of the same
 * name: validated at load time, applied with g_object_set(). */
typedef struct
{
  const char *key;
  gboolean    boolean;
  guint64     min;
  guint64     max;
  const char *unit;     /* in error messages */
} PropertyKey;

static const PropertyKey property_keys[] = {
  { "max-connections",            FALSE, 0, G_MAXUINT, NULL },
  { "max-connections-per-client", FALSE, 0, G_MAXUINT, NULL },
  { "max-tls-handshakes",         FALSE, 0, G_MAXUINT, NULL },       /* 0: no limit */
  { "max-tls-handshakes-per-client", FALSE, 0, G_MAXUINT, NULL },    /* 0: no limit */
  { "soft-error-limit",           FALSE, 0, G_MAXUINT, NULL },
  { "hard-error-limit",           FALSE, 0, G_MAXUINT, NULL },
  { "error-sleep-time",           FALSE, 0, 60000,     "milliseconds" },
  { "junk-command-limit",         FALSE, 0, G_MAXUINT, NULL },
  { "min-data-rate",              FALSE, 0, G_MAXUINT, "bytes per second" },
  { "forbid-unauth-pipelining",   TRUE,  0, 0,         NULL },
  { "auth-requires-tls",          TRUE,  0, 0,         NULL },
  { "max-auth-failures",          FALSE, 0, G_MAXUINT, NULL },       /* 0: no limit */
  { "auth-failure-window",        FALSE, 1, G_MAXUINT, "seconds" },
  { "max-header-size",            FALSE, 0, G_MAXUINT, "bytes" },    /* 0: no limit */
  { "max-data-line-length",       FALSE, 0, G_MAXUINT, "bytes" },    /* 0: no limit */
};

static gboolean
is_property_key (const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (property_keys); i++)
    if (g_str_equal (property_keys[i].key, key))
      return TRUE;
  return FALSE;
}

static const char * const plugins_keys[] = {
  "enabled", "path", NULL
};

typedef struct
{
  const char *path;
  GHashTable *origins;   /* "group\nkey" → what set it on the command line */
} Loader;

static void
set_origin (Loader     *loader,
            const char *group,
            const char *key,
            const char *origin)
{
  g_hash_table_insert (loader->origins,
                       g_strconcat (group, "\n", key, NULL),
                       g_strdup (origin));
}

static const char *
get_origin (Loader     *loader,
            const char *group,
            const char *key)
{
  g_autofree char *id = g_strconcat (group, "\n", key, NULL);
  const char *origin = g_hash_table_lookup (loader->origins, id);

  if (origin != NULL)
    return origin;

  return loader->path != NULL ? loader->path : "built-in defaults";
}

G_GNUC_PRINTF (5, 6)
static gboolean
key_error (Loader      *loader,
           GError     **error,
           const char  *group,
           const char  *key,
           const char  *format,
           ...)
{
  g_autofree char *problem = NULL;
  va_list args;

  va_start (args, format);
  problem = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "%s: [%s] %s: %s",
               get_origin (loader, group, key), group, key, problem);
  return FALSE;
}

/* "1 to 86400 seconds", "at least 1 byte": the values a numeric key allows */
static char *
describe_range (guint64     min,
                guint64     max,
                const char *unit)
{
  GString *text = g_string_new (NULL);

  if (max == G_MAXUINT64)
    g_string_append_printf (text, "at least %" G_GUINT64_FORMAT, min);
  else
    g_string_append_printf (text, "%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT, min, max);
  if (unit != NULL)
    {
      g_string_append_printf (text, " %s", unit);
      /* "at least 1 byte" */
      if (max == G_MAXUINT64 && min == 1 && g_str_has_suffix (unit, "s"))
        g_string_truncate (text, text->len - 1);
    }

  return g_string_free (text, FALSE);
}

/* An optional sign and at least one digit, nothing else */
static gboolean
is_integer (const char *text)
{
  if (*text == '-' || *text == '+')
    text++;

  return *text != '\0' && strspn (text, "0123456789") == strlen (text);
}

/* A whole number from @min to @max. The problems are told apart: a value
 * that is no number at all ("abc", "1.5", "10k") is "not a number"; a
 * number outside the range, negative or too large for any integer
 * included, is "out of range" with the range that is allowed. @unit
 * (nullable) is the unit of the range in messages ("seconds"). */
static gboolean
get_unsigned (Loader      *loader,
              GKeyFile    *keyfile,
              const char  *group,
              const char  *key,
              guint64      min,
              guint64      max,
              const char  *unit,
              guint64      default_value,
              guint64     *out_value,
              GError     **error)
{
  g_autofree char *value = NULL;
  g_autofree char *range = NULL;
  const char *digits;
  gboolean negative = FALSE;
  gboolean overflow = FALSE;
  guint64 number = 0;

  value = g_key_file_get_value (keyfile, group, key, NULL);
  if (value == NULL)
    {
      *out_value = default_value;
      return TRUE;
    }

  g_strstrip (value);
  range = describe_range (min, max, unit);

  if (value[0] == '\0')
    return key_error (loader, error, group, key,
                      "the value is empty, expected a number (%s)", range);

  if (!is_integer (value))
    return key_error (loader, error, group, key, "\"%s\" is not a number", value);

  digits = value;
  if (*digits == '-' || *digits == '+')
    negative = *digits++ == '-';

  for (const char *p = digits; *p != '\0'; p++)
    {
      if (number > (G_MAXUINT64 - (*p - '0')) / 10)
        overflow = TRUE;
      else
        number = number * 10 + (*p - '0');
    }

  if ((negative && (number != 0 || overflow)) || overflow || number < min || number > max)
    return key_error (loader, error, group, key,
                      "\"%s\" is out of range (%s)", value, range);

  *out_value = number;
  return TRUE;
}

/* Seconds with up to three decimals ("0.5", "2"), in milliseconds. */
static gboolean
get_seconds_ms (Loader      *loader,
                GKeyFile    *keyfile,
                const char  *group,
                const char  *key,
                guint        max_seconds,
                guint        default_ms,
                guint       *out_ms,
                GError     **error)
{
  g_autofree char *value = g_key_file_get_value (keyfile, group, key, NULL);
  const char *p;
  guint64 whole = 0;
  guint ms = 0, decimals = 0;

  if (value == NULL)
    {
      *out_ms = default_ms;
      return TRUE;
    }
  g_strstrip (value);
  p = value;
  if (!g_ascii_isdigit (*p) && !(*p == '.' && g_ascii_isdigit (p[1])))
    return key_error (loader, error, group, key,
                      value[0] == '-' && value[1] != '\0'
                        ? "\"%s\" is out of range (0 to %u seconds)"
                        : "\"%s\" is not a number of seconds", value, max_seconds);
  for (; g_ascii_isdigit (*p); p++)
    whole = MIN (whole * 10 + (*p - '0'), (guint64) max_seconds + 1);
  if (*p == '.')
    for (p++; g_ascii_isdigit (*p); p++, decimals++)
      if (decimals < 3)
        ms = ms * 10 + (*p - '0');
  if (*p != '\0')
    return key_error (loader, error, group, key,
                      "\"%s\" is not a number of seconds", value);
  for (; decimals < 3; decimals++)
    ms *= 10;
  if (whole > max_seconds || (whole == max_seconds && ms > 0))
    return key_error (loader, error, group, key,
                      "\"%s\" is out of range (0 to %u seconds)", value, max_seconds);
  *out_ms = (guint) whole * 1000 + ms;
  return TRUE;
}

static gboolean
get_string (Loader      *loader,
            GKeyFile    *keyfile,
            const char  *group,
            const char  *key,
            char       **out_value,
            GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *value = NULL;

  *out_value = NULL;

  if (!g_key_file_has_key (keyfile, group, key, NULL))
    return TRUE;

  value = g_key_file_get_string (keyfile, group, key, &local_error);
  if (value == NULL)
    return key_error (loader, error, group, key, "%s", local_error->message);

  if (value[0] == '\0')
    return key_error (loader, error, group, key, "the value is empty");

  *out_value = g_steal_pointer (&value);
  return TRUE;
}

static gboolean
get_boolean (Loader      *loader,
             GKeyFile    *keyfile,
             const char  *group,
             const char  *key,
             gboolean     default_value,
             gboolean    *out_value,
             GError     **error)
{
  g_autofree char *value = NULL;

  value = g_key_file_get_value (keyfile, group, key, NULL);
  if (value == NULL)
    {
      *out_value = default_value;
      return TRUE;
    }

  g_strstrip (value);
  if (g_str_equal (value, "true") || g_str_equal (value, "1"))
    *out_value = TRUE;
  else if (g_str_equal (value, "false") || g_str_equal (value, "0"))
    *out_value = FALSE;
  else
    return key_error (loader, error, group, key, "\"%s\" is neither true nor false", value);

  return TRUE;
}

static gboolean
get_string_list (Loader       *loader,
                 GKeyFile     *keyfile,
                 const char   *group,
                 const char   *key,
                 char       ***out_value,
                 GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) value = NULL;

  *out_value = NULL;

  if (!g_key_file_has_key (keyfile, group, key, NULL))
    return TRUE;

  value = g_key_file_get_string_list (keyfile, group, key, NULL, &local_error);
  if (value == NULL)
    {
      /* an empty value is an empty list */
      if (g_error_matches (local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE))
        return key_error (loader, error, group, key, "%s", local_error->message);

      *out_value = g_new0 (char *, 1);
      return TRUE;
    }

  for (guint i = 0; value[i] != NULL; i++)
    {
      g_strstrip (value[i]);
      if (value[i][0] == '\0')
        return key_error (loader, error, group, key, "the list has an empty element");
    }

  *out_value = g_steal_pointer (&value);
  return TRUE;
}

static gboolean
check_known_keys (Loader              *loader,
                  GKeyFile            *keyfile,
                  const char          *group,
                  const char * const  *known,
                  GError             **error)
{
  g_auto(GStrv) keys = NULL;

  keys = g_key_file_get_keys (keyfile, group, NULL, NULL);
  if (keys == NULL)
    return TRUE;

  for (guint i = 0; keys[i] != NULL; i++)
    {
      if (!g_strv_contains (known, keys[i]) &&
          !(g_str_equal (group, "server") && is_property_key (keys[i])))
        return key_error (loader, error, group, keys[i], "unknown key");
    }

  return TRUE;
}

/* vsmtpd_parse_listen_address:
 * @text: `ADDR:PORT`, with an IPv6 address in brackets: `[::1]:2525`
 *
 * Returns: (transfer full) (nullable): the address, or %NULL if @text is
 *   not an IP address and a port
 */
static GSocketAddress *
vsmtpd_parse_listen_address (const char *text)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autofree char *host = NULL;
  const char *port_text;
  guint64 port;

  if (text[0] == '[')
    {
      const char *end = strchr (text, ']');

      if (end == NULL || end[1] != ':')
        return NULL;

      host = g_strndup (text + 1, end - text - 1);
      port_text = end + 2;

      /* brackets are for IPv6 only */
      if (strchr (host, ':') == NULL)
        return NULL;
    }
  else
    {
      const char *colon = strchr (text, ':');

      if (colon == NULL || strchr (colon + 1, ':') != NULL)
        return NULL;

      host = g_strndup (text, colon - text);
      port_text = colon + 1;
    }

  if (port_text[0] == '\0' || !g_ascii_isdigit (port_text[0]) ||
      !g_ascii_string_to_unsigned (port_text, 10, 0, G_MAXUINT16, &port, NULL))
    return NULL;

  address = g_inet_address_new_from_string (host);
  if (address == NULL)
    return NULL;

  return g_inet_socket_address_new (address, port);
}

static gboolean
parse_addresses (Loader       *loader,
                 GKeyFile     *keyfile,
                 const char   *key,
                 char        **list,
                 GPtrArray   **out_addresses,
                 GError      **error)
{
  *out_addresses = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; list[i] != NULL; i++)
    {
      GSocketAddress *address = vsmtpd_parse_listen_address (list[i]);

      if (address == NULL)
        return key_error (loader, error, "server", key,
                          "\"%s\" is not ADDR:PORT (an IP address and a port, "
                          "IPv6 as [::1]:2525)",
                          list[i]);

      g_ptr_array_add (*out_addresses, address);
    }

  return TRUE;
}

static gboolean
parse_listen (VsmtpdConfig  *self,
              Loader        *loader,
              GError       **error)
{
  if (!get_string_list (loader, self->keyfile, "server", "listen", &self->listen, error))
    return FALSE;

  if (self->listen == NULL)
    self->listen = g_strsplit (DEFAULT_LISTEN, ";", -1);

  if (self->listen[0] == NULL)
    return key_error (loader, error, "server", "listen", "the list is empty");

  return parse_addresses (loader, self->keyfile, "listen", self->listen,
                          &self->listen_addresses, error);
}

/* The certificate is loaded, and checked against its key, here, so that a
 * bad one stops vsmtpd at once with the key at fault named. Without one,
 * the daemon falls back to its self-signed certificate (STARTTLS only). */
static gboolean
parse_tls (VsmtpdConfig  *self,
           Loader        *loader,
           GError       **error)
{
  GKeyFile *keyfile = self->keyfile;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *certificate = NULL;
  g_autofree char *key = NULL;
  gboolean key_at_fault = FALSE;
  g_autofree char *priority = NULL;
  g_autofree char *min_version = NULL;
  guint64 value;

  /* the protocol versions and suites, for the whole process */
  if (!get_string (loader, keyfile, "server", "tls-priority", &priority, error) ||
      !get_string (loader, keyfile, "server", "tls-min-version", &min_version, error))
    return FALSE;
  if (priority != NULL && min_version != NULL)
    return key_error (loader, error, "server", "tls-min-version",
                      "set either tls-min-version or tls-priority, not both");
  if (priority != NULL && !vsmtpd_tls_check_priority (priority, &local_error))
    return key_error (loader, error, "server", "tls-priority", "%s", local_error->message);
  if (min_version == NULL || g_str_equal (min_version, "1.2"))
    self->tls_priority = g_strdup (priority != NULL ? priority : VSMTPD_TLS_PRIORITY_DEFAULT);
  else if (g_str_equal (min_version, "1.3"))
    self->tls_priority = g_strdup (VSMTPD_TLS_PRIORITY_TLS13);
  else
    return key_error (loader, error, "server", "tls-min-version",
                      "\"%s\" is neither \"1.2\" nor \"1.3\" (older versions: tls-priority)",
                      min_version);

  if (!get_string (loader, keyfile, "server", "tls-certificate", &certificate, error) ||
      !get_string (loader, keyfile, "server", "tls-key", &key, error))
    return FALSE;

  if (key != NULL && certificate == NULL)
    return key_error (loader, error, "server", "tls-key",
                      "a key without tls-certificate");

  if (certificate != NULL)
    {
      self->tls_certificate_path = g_canonicalize_filename (certificate, NULL);
      if (key != NULL)
        self->tls_key_path = g_canonicalize_filename (key, NULL);

      self->tls_certificate = vsmtpd_tls_load_certificate (self->tls_certificate_path,
                                                           self->tls_key_path,
                                                           &key_at_fault, &local_error);
      if (self->tls_certificate == NULL)
        return key_error (loader, error, "server",
                          key_at_fault && key != NULL ? "tls-key" : "tls-certificate",
                          "%s", local_error->message);
    }

  if (!get_string_list (loader, keyfile, "server", "listen-tls", &self->listen_tls, error))
    return FALSE;
  if (self->listen_tls == NULL)
    self->listen_tls = g_new0 (char *, 1);
  if (!parse_addresses (loader, keyfile, "listen-tls", self->listen_tls,
                        &self->listen_tls_addresses, error))
    return FALSE;
  if (self->listen_tls[0] != NULL && certificate == NULL)
    return key_error (loader, error, "server", "listen-tls",
                      "implicit TLS needs tls-certificate (the self-signed default "
                      "is only used for STARTTLS)");

  /* Submission (RFC 6409, RFC 8314): MAIL needs a successful AUTH first */
  if (!get_string_list (loader, keyfile, "server", "listen-submission",
                        &self->listen_submission, error))
    return FALSE;
  if (self->listen_submission == NULL)
    self->listen_submission = g_new0 (char *, 1);
  if (!parse_addresses (loader, keyfile, "listen-submission", self->listen_submission,
                        &self->listen_submission_addresses, error))
    return FALSE;

  if (!get_string_list (loader, keyfile, "server", "listen-submissions",
                        &self->listen_submissions, error))
    return FALSE;
  if (self->listen_submissions == NULL)
    self->listen_submissions = g_new0 (char *, 1);
  if (!parse_addresses (loader, keyfile, "listen-submissions", self->listen_submissions,
                        &self->listen_submissions_addresses, error))
    return FALSE;
  if (self->listen_submissions[0] != NULL && certificate == NULL)
    return key_error (loader, error, "server", "listen-submissions",
                      "implicit TLS needs tls-certificate (the self-signed default "
                      "is only used for STARTTLS)");

  if (!get_boolean (loader, keyfile, "server", "require-tls", FALSE, &self->require_tls, error))
    return FALSE;

  if (!get_unsigned (loader, keyfile, "server", "tls-handshake-timeout",
                     1, 3600, "seconds", DEFAULT_HANDSHAKE_TIMEOUT, &value, error))
    return FALSE;
  self->tls_handshake_timeout = value;

  return TRUE;
}

static gboolean
parse_server (VsmtpdConfig  *self,
              Loader        *loader,
              GError       **error)
{
  GKeyFile *keyfile = self->keyfile;
  g_autofree char *bare_newline = NULL;
  guint64 value;

  if (!check_known_keys (loader, keyfile, "server", server_keys, error))
    return FALSE;

  if (!parse_listen (self, loader, error))
    return FALSE;

  if (!get_string (loader, keyfile, "server", "hostname", &self->hostname, error))
    return FALSE;
  if (self->hostname == NULL)
    self->hostname = g_strdup (g_get_host_name ());
  for (const char *p = self->hostname; *p != '\0'; p++)
    {
      if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
        return key_error (loader, error, "server", "hostname",
                          "\"%s\" is not a host name", self->hostname);
    }

  if (!get_unsigned (loader, keyfile, "server", "max-message-size",
                     1, G_MAXUINT64, "bytes", DEFAULT_MAX_MESSAGE_SIZE, &self->max_message_size, error))
    return FALSE;

  if (!get_unsigned (loader, keyfile, "server", "max-recipients",
                     1, G_MAXUINT, NULL, DEFAULT_MAX_RECIPIENTS, &value, error))
    return FALSE;
  self->max_recipients = value;

  if (!get_unsigned (loader, keyfile, "server", "max-line-length",
                     512, 1024 * 1024, "bytes", DEFAULT_MAX_LINE_LENGTH, &value, error))
    return FALSE;
  self->max_line_length = value;

  if (!get_unsigned (loader, keyfile, "server", "timeout",
                     1, 24 * 3600, "seconds", DEFAULT_TIMEOUT, &value, error))
    return FALSE;
  self->timeout = value;

  if (!get_unsigned (loader, keyfile, "server", "decision-timeout",
                     1, 24 * 3600, "seconds", DEFAULT_DECISION_TIMEOUT, &value, error))
    return FALSE;
  self->decision_timeout = value;

  for (guint i = 0; i < G_N_ELEMENTS (property_keys); i++)
    {
      const PropertyKey *pk = &property_keys[i];
      gboolean flag;

      if (pk->boolean)
        {
          if (!get_boolean (loader, keyfile, "server", pk->key, FALSE, &flag, error))
            return FALSE;
        }
      else if (!get_unsigned (loader, keyfile, "server", pk->key,
                              pk->min, pk->max, pk->unit, 0, &value, error))
        return FALSE;
    }

  if (!get_unsigned (loader, keyfile, "server", "spool-threshold",
                     0, G_MAXSIZE, "bytes", DEFAULT_SPOOL_THRESHOLD, &self->spool_threshold, error))
    return FALSE;

  if (!get_string (loader, keyfile, "server", "spool-directory", &self->spool_directory, error))
    return FALSE;

  if (!get_string (loader, keyfile, "server", "bare-newline", &bare_newline, error))
    return FALSE;
  if (bare_newline == NULL || g_str_equal (bare_newline, "normalize"))
    self->bare_newline = VSMTP_BARE_NEWLINE_NORMALIZE;
  else if (g_str_equal (bare_newline, "reject"))
    self->bare_newline = VSMTP_BARE_NEWLINE_REJECT;
  else
    return key_error (loader, error, "server", "bare-newline",
                      "\"%s\" is neither \"reject\" nor \"normalize\"", bare_newline);

  if (!get_unsigned (loader, keyfile, "server", "shutdown-grace",
                     0, 24 * 3600, "seconds", DEFAULT_SHUTDOWN_GRACE, &value, error))
    return FALSE;
  self->shutdown_grace = value;

  if (!get_seconds_ms (loader, keyfile, "server", "greet-pause", 60, 0,
                       &self->greet_pause, error))
    return FALSE;

  if (!get_string (loader, keyfile, "server", "user", &self->run_as_user, error) ||
      !get_string (loader, keyfile, "server", "group", &self->run_as_group, error))
    return FALSE;
  if (self->run_as_group != NULL && self->run_as_user == NULL)
    return key_error (loader, error, "server", "group", "a group without user");
  if (self->run_as_user != NULL)
    {
      struct passwd *pw = getpwnam (self->run_as_user);

      if (pw == NULL)
        return key_error (loader, error, "server", "user", "no such user \"%s\"",
                          self->run_as_user);
      self->run_as_uid = pw->pw_uid;
      self->run_as_gid = pw->pw_gid;
      if (self->run_as_group != NULL)
        {
          struct group *gr = getgrnam (self->run_as_group);

          if (gr == NULL)
            return key_error (loader, error, "server", "group", "no such group \"%s\"",
                              self->run_as_group);
          self->run_as_gid = gr->gr_gid;
        }
      if (geteuid () != 0 && geteuid () != self->run_as_uid)
        return key_error (loader, error, "server", "user",
                          "switching to \"%s\" needs root (vsmtpd runs as uid %u)",
                          self->run_as_user, (guint) geteuid ());
    }

  {
    g_autofree char *workers = g_key_file_get_value (self->keyfile, "server", "workers", NULL);

    if (workers != NULL && g_str_equal (g_strstrip (workers), "auto"))
      self->workers = g_get_num_processors ();
    else if (workers != NULL && workers[0] != '\0' && !is_integer (workers))
      return key_error (loader, error, "server", "workers",
                        "\"%s\" is neither a number nor \"auto\"", workers);
    else if (!get_unsigned (loader, self->keyfile, "server", "workers",
                            1, 256, "processes, or \"auto\"", 1, &value, error))
      return FALSE;
    else
      self->workers = value;
  }

  if (!parse_tls (self, loader, error))
    return FALSE;

  /* every worker binds the same addresses: a port chosen by the kernel
   * would differ from one to the next */
  if (self->workers > 1)
    {
      GPtrArray *lists[] = { self->listen_addresses, self->listen_tls_addresses,
                             self->listen_submission_addresses,
                             self->listen_submissions_addresses };

      for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
        for (guint i = 0; lists[l] != NULL && i < lists[l]->len; i++)
          if (g_inet_socket_address_get_port (lists[l]->pdata[i]) == 0)
            return key_error (loader, error, "server", "workers",
                              "port 0 cannot be shared by %u workers: give the ports",
                              self->workers);
    }

  return TRUE;
}

static gboolean
parse_plugins (VsmtpdConfig  *self,
               Loader        *loader,
               GError       **error)
{
  if (!check_known_keys (loader, self->keyfile, "plugins", plugins_keys, error))
    return FALSE;

  if (!get_string_list (loader, self->keyfile, "plugins", "enabled", &self->plugins_enabled, error))
    return FALSE;
  if (self->plugins_enabled == NULL)
    self->plugins_enabled = g_strsplit (DEFAULT_PLUGIN, ";", -1);

  for (guint i = 0; self->plugins_enabled[i] != NULL; i++)
    {
      for (guint j = 0; j < i; j++)
        {
          if (g_str_equal (self->plugins_enabled[i], self->plugins_enabled[j]))
            return key_error (loader, error, "plugins", "enabled",
                              "\"%s\" is listed twice", self->plugins_enabled[i]);
        }
    }

  if (!get_string_list (loader, self->keyfile, "plugins", "path", &self->plugins_path, error))
    return FALSE;
  if (self->plugins_path == NULL)
    self->plugins_path = g_new0 (char *, 1);

  return TRUE;
}

/* $STATE_DIRECTORY (systemd's StateDirectory=), else ~/.local/state/vsmtpd */
char *
vsmtpd_config_default_state_directory (void)
{
  const char *state_directory = g_getenv ("STATE_DIRECTORY");

  /* systemd's StateDirectory=: a colon-separated list, the first is ours */
  if (state_directory != NULL && state_directory[0] != '\0')
    {
      g_auto(GStrv) dirs = g_strsplit (state_directory, ":", 2);

      return g_strdup (dirs[0]);
    }

  return g_build_filename (g_get_user_state_dir (), "vsmtpd", NULL);
}

char *
vsmtpd_config_default_maildir (void)
{
  g_autofree char *state_directory = vsmtpd_config_default_state_directory ();

  return g_build_filename (state_directory, "Maildir", NULL);
}

static gboolean
parse_maildir (VsmtpdConfig  *self,
               Loader        *loader,
               GError       **error)
{
  if (!get_string (loader, self->keyfile, "maildir", "path", &self->maildir_path, error))
    return FALSE;

  /* The maildir plugin reads its default from here */
  if (self->maildir_path == NULL)
    {
      self->maildir_path = vsmtpd_config_default_maildir ();
      g_key_file_set_string (self->keyfile, "maildir", "path", self->maildir_path);
    }

  return TRUE;
}

static gboolean
is_valid_name (const char *name)
{
  if (name[0] == '\0' || g_ascii_isspace (name[0]) || g_ascii_isspace (name[strlen (name) - 1]))
    return FALSE;

  for (const char *p = name; *p != '\0'; p++)
    {
      if (*p == '[' || *p == ']' || *p == '=' || g_ascii_iscntrl (*p))
        return FALSE;
    }

  return TRUE;
}

static gboolean
load_file (VsmtpdConfig  *self,
           const char    *path,
           GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  int fd;

  /* open() first, for an errno text without the GLib decoration */
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "%s: cannot read the configuration: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "%s: cannot read the configuration: %s", path, local_error->message);
      return FALSE;
    }

  if (!g_key_file_load_from_data (self->keyfile, contents, length, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "%s: %s", path, local_error->message);
      return FALSE;
    }

  return TRUE;
}

static gboolean
apply_overrides (VsmtpdConfig                 *self,
                 Loader                       *loader,
                 const VsmtpdConfigOverrides  *overrides,
                 GError                      **error)
{
  GKeyFile *keyfile = self->keyfile;

  for (guint i = 0; overrides->options != NULL && overrides->options[i] != NULL; i++)
    {
      const char *option = overrides->options[i];
      g_autofree char *origin = g_strdup_printf ("--option %s", option);
      g_autofree char *name = NULL;
      const char *equal = strchr (option, '=');
      char *dot;

      if (equal == NULL)
        goto bad_option;

      name = g_strndup (option, equal - option);
      dot = strrchr (name, '.');
      if (dot == NULL)
        goto bad_option;
      *dot = '\0';

      if (!is_valid_name (name) || !is_valid_name (dot + 1))
        goto bad_option;

      g_key_file_set_value (keyfile, name, dot + 1, equal + 1);
      set_origin (loader, name, dot + 1, origin);
      continue;

    bad_option:
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: expected SECTION.KEY=VALUE", origin);
      return FALSE;
    }

  if (overrides->listen != NULL && overrides->listen[0] != NULL)
    {
      g_key_file_set_string_list (keyfile, "server", "listen",
                                  overrides->listen, g_strv_length ((char **) overrides->listen));
      set_origin (loader, "server", "listen", "--listen");
    }

  if (overrides->tls_certificate != NULL)
    {
      g_key_file_set_string (keyfile, "server", "tls-certificate", overrides->tls_certificate);
      set_origin (loader, "server", "tls-certificate", "--tls-cert");
    }

  if (overrides->tls_key != NULL)
    {
      g_key_file_set_string (keyfile, "server", "tls-key", overrides->tls_key);
      set_origin (loader, "server", "tls-key", "--tls-key");
    }

  if (overrides->hostname != NULL)
    {
      g_key_file_set_string (keyfile, "server", "hostname", overrides->hostname);
      set_origin (loader, "server", "hostname", "--hostname");
    }

  /* --plugin appends to [plugins] enabled when it is configured, and
   * replaces the default (maildir) when it is not. */
  if (overrides->plugins != NULL && overrides->plugins[0] != NULL)
    {
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
      g_auto(GStrv) enabled = NULL;
      g_auto(GStrv) existing = NULL;

      if (g_key_file_has_key (keyfile, "plugins", "enabled", NULL))
        {
          existing = g_key_file_get_string_list (keyfile, "plugins", "enabled", NULL, NULL);
          if (existing != NULL)
            g_strv_builder_addv (builder, (const char **) existing);
        }
      else
        {
          set_origin (loader, "plugins", "enabled", "--plugin");
        }

      g_strv_builder_addv (builder, (const char **) overrides->plugins);
      enabled = g_strv_builder_end (builder);
      g_key_file_set_string_list (keyfile, "plugins", "enabled",
                                  (const char * const *) enabled, g_strv_length (enabled));
    }

  return TRUE;
}

/* systemd credentials (LoadCredential=, SetCredential=): a value
 * "credential:NAME", in any group (the daemon's and the plugins'), becomes
 * the path of that credential, $CREDENTIALS_DIRECTORY/NAME. The service
 * then reads its key or passwd file from a folder only it can read, even
 * when the file itself belongs to root with mode 0600. */
static gboolean
resolve_credentials (VsmtpdConfig  *self,
                     Loader        *loader,
                     GError       **error)
{
  g_auto(GStrv) groups = g_key_file_get_groups (self->keyfile, NULL);
  const char *directory = g_getenv ("CREDENTIALS_DIRECTORY");

  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (self->keyfile, groups[i], NULL, NULL);

      for (guint j = 0; keys != NULL && keys[j] != NULL; j++)
        {
          g_autofree char *value = g_key_file_get_value (self->keyfile, groups[i], keys[j], NULL);
          g_autofree char *path = NULL;
          const char *name;

          if (value == NULL || !g_str_has_prefix (value, "credential:"))
            continue;
          name = value + strlen ("credential:");
          if (*name == '\0' || strchr (name, '/') != NULL)
            return key_error (loader, error, groups[i], keys[j],
                              "\"%s\" does not name a credential", value);
          if (directory == NULL || *directory == '\0')
            return key_error (loader, error, groups[i], keys[j],
                              "\"%s\": no systemd credentials ($CREDENTIALS_DIRECTORY "
                              "is not set; LoadCredential= in the unit)", value);
          path = g_build_filename (directory, name, NULL);
          g_key_file_set_string (self->keyfile, groups[i], keys[j], path);
        }
    }
  return TRUE;
}

/**
 * vsmtpd_config_load:
 * @overrides: the command line settings
 * @error: return location for an error
 *
 * Reads the keyfile (if any), applies the command line to it and checks
 * every key vsmtpd knows. The message of @error is one line that names
 * the file or option, the key and the problem.
 *
 * Returns: (transfer full) (nullable): the configuration
 */
VsmtpdConfig *
vsmtpd_config_load (const VsmtpdConfigOverrides  *overrides,
                    GError                      **error)
{
  g_autoptr(VsmtpdConfig) self = NULL;
  Loader loader = { 0, };

  self = g_new0 (VsmtpdConfig, 1);
  self->keyfile = g_key_file_new ();
  self->path = g_strdup (overrides->config_file);

  self->origins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  loader.path = self->path;
  loader.origins = self->origins;

  if (self->path != NULL && !load_file (self, self->path, error))
    return NULL;

  if (!apply_overrides (self, &loader, overrides, error))
    return NULL;

  if (!resolve_credentials (self, &loader, error))
    return NULL;

  if (!parse_server (self, &loader, error) ||
      !parse_plugins (self, &loader, error) ||
      !parse_maildir (self, &loader, error))
    return NULL;

  return g_steal_pointer (&self);
}

/**
 * vsmtpd_config_get_origin:
 * @self: the configuration
 * @group: a group of the keyfile
 * @key: a key of @group
 *
 * Returns: what set @key, for a message about its value: the option on the
 *   command line, else the file, else "built-in defaults"
 */
const char *
vsmtpd_config_get_origin (VsmtpdConfig *self,
                          const char   *group,
                          const char   *key)
{
  Loader loader = { self->path, self->origins };

  return get_origin (&loader, group, key);
}

/**
 * vsmtpd_config_apply:
 * @self: the configuration
 * @server: the server
 *
 * Sets the limits, timeouts and TLS settings of @server (the certificate
 * when one is configured) and hands it the keyfile, from which plugins
 * read their own groups.
 */
void
vsmtpd_config_apply (VsmtpdConfig *self,
                     VsmtpServer  *server)
{
  vsmtp_server_set_hostname (server, self->hostname);
  vsmtp_server_set_max_message_size (server, self->max_message_size);
  vsmtp_server_set_max_recipients (server, self->max_recipients);
  vsmtp_server_set_max_line_length (server, self->max_line_length);
  vsmtp_server_set_timeout (server, self->timeout);
  vsmtp_server_set_decision_timeout (server, self->decision_timeout * 1000);
  vsmtp_server_set_spool_threshold (server, self->spool_threshold);
  if (self->spool_directory != NULL)
    vsmtp_server_set_spool_directory (server, self->spool_directory);
  vsmtp_server_set_bare_newline (server, self->bare_newline);
  g_object_set (server, "greet-pause", self->greet_pause, NULL);
  vsmtp_server_set_require_tls (server, self->require_tls);
  vsmtp_server_set_tls_handshake_timeout (server, self->tls_handshake_timeout);
  if (self->tls_certificate != NULL)
    vsmtp_server_set_tls_certificate (server, self->tls_certificate);

  /* validated at load time */
  for (guint i = 0; i < G_N_ELEMENTS (property_keys); i++)
    {
      const PropertyKey *pk = &property_keys[i];
      g_autofree char *value = g_key_file_get_value (self->keyfile, "server", pk->key, NULL);

      if (value == NULL)
        continue;
      g_strstrip (value);
      if (pk->boolean)
        g_object_set (server, pk->key, g_str_equal (value, "true") || g_str_equal (value, "1"), NULL);
      else
        g_object_set (server, pk->key, (guint) g_ascii_strtoull (value, NULL, 10), NULL);
    }

  vsmtp_server_set_config (server, self->keyfile);
}

void
vsmtpd_config_free (VsmtpdConfig *self)
{
  if (self == NULL)
    return;

  g_free (self->path);
  g_clear_pointer (&self->keyfile, g_key_file_unref);
  g_strfreev (self->listen);
  g_clear_pointer (&self->listen_addresses, g_ptr_array_unref);
  g_free (self->hostname);
  g_free (self->spool_directory);
  g_strfreev (self->plugins_enabled);
  g_strfreev (self->plugins_path);
  g_free (self->maildir_path);
  g_free (self->tls_certificate_path);
  g_free (self->tls_key_path);
  g_free (self->tls_priority);
  g_clear_pointer (&self->origins, g_hash_table_unref);
  g_free (self->run_as_user);
  g_free (self->run_as_group);
  g_clear_object (&self->tls_certificate);
  g_strfreev (self->listen_tls);
  g_clear_pointer (&self->listen_tls_addresses, g_ptr_array_unref);
  g_strfreev (self->listen_submission);
  g_clear_pointer (&self->listen_submission_addresses, g_ptr_array_unref);
  g_strfreev (self->listen_submissions);
  g_clear_pointer (&self->listen_submissions_addresses, g_ptr_array_unref);
  g_free (self);
}

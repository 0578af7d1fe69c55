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
#include "vsmtpd-metrics.h"
#include "vsmtpd-redis.h"
#include "vsmtpd-listeners.h"
#include "vsmtpd-tls.h"

/* Every error names where the bad value came from (the file, or the
 * command line option that set it), the group, the key and the problem,
 * on one line:
 *
 *   /etc/vsmtpd/vsmtpd.conf: [server] max-recipients: "abc" is not a number
 *   /etc/vsmtpd/vsmtpd.conf: [server] timeout: "-5" is out of range (1 to 86400 seconds)
 */

#define DEFAULT_LISTEN            "127.0.0.1:2525"
#define DEFAULT_PLUGIN            "maildir"

/* The [server] keys are those of two kinds, each declared once:
 *
 * - the writable VsmtpServer properties of a plain type (numbers,
 *   booleans, strings, enums): the key is the property's name, its type,
 *   range and default are the property's, its description the property's
 *   blurb. property_tweaks below gives the unit of a number for messages,
 *   and the range the daemon allows when it is narrower than the
 *   property's (or in seconds for a property in milliseconds);
 * - the daemon's own keys (daemon_keys): listeners, TLS files, the user to
 *   run as, workers.
 *
 * Both make one VsmtpConfigGroup, which refuses an unknown key or a value
 * of the wrong type or out of range, with the messages the plugins' groups
 * get too. */

typedef struct
{
  const char      *key;
  VsmtpConfigType  type;
  const char      *default_value;
  const char      *description;
} DaemonKey;

static const DaemonKey daemon_keys[] = {
  { "listen", VSMTP_CONFIG_TYPE_STRING_LIST, DEFAULT_LISTEN,
    "Where to accept connections: ADDR:PORT, IPv6 as [::1]:2525" },
  { "listen-tls", VSMTP_CONFIG_TYPE_STRING_LIST, NULL,
    "Where to accept implicit-TLS connections: ADDR:PORT" },
  { "listen-submission", VSMTP_CONFIG_TYPE_STRING_LIST, NULL,
    "Submission listeners, STARTTLS and AUTH required: ADDR:PORT" },
  { "listen-submissions", VSMTP_CONFIG_TYPE_STRING_LIST, NULL,
    "Submission listeners, implicit TLS and AUTH required: ADDR:PORT" },
  { "xclient-trusted", VSMTP_CONFIG_TYPE_STRING_LIST, NULL,
    "Proxies allowed XCLIENT on the listen* listeners: ADDRESS, ADDRESS/LENGTH, unix" },
  { "tls-certificate", VSMTP_CONFIG_TYPE_PATH, NULL,
    "The TLS certificate (PEM, with its chain); default: a self-signed one" },
  { "tls-key", VSMTP_CONFIG_TYPE_PATH, NULL,
    "The private key of tls-certificate (PEM); default: in that file" },
  { "tls-min-version", VSMTP_CONFIG_TYPE_STRING, "1.2",
    "The oldest TLS version accepted: 1.2 or 1.3" },
  { "tls-priority", VSMTP_CONFIG_TYPE_STRING, NULL,
    "The TLS versions and suites as a GnuTLS priority string" },
  { "smtputf8", VSMTP_CONFIG_TYPE_BOOLEAN, "true",
    "Offer SMTPUTF8 (RFC 6531): UTF-8 in addresses" },
  { "user", VSMTP_CONFIG_TYPE_STRING, NULL,
    "The user to run as once the listeners are bound" },
  { "group", VSMTP_CONFIG_TYPE_STRING, NULL,
    "The group to run as; default: the user's" },
  { "workers", VSMTP_CONFIG_TYPE_STRING, "1",
    "Worker processes, 1 to 256, or auto: one per core" },
  { "shutdown-grace", VSMTP_CONFIG_TYPE_INTEGER, "30",
    "How long sessions have to finish after SIGTERM or SIGINT" },
  { "disable-extensions", VSMTP_CONFIG_TYPE_STRING_LIST, NULL,
    "EHLO keywords of built-in extensions not to offer: DSN;LIMITS;..." },
  { "dbus", VSMTP_CONFIG_TYPE_CHOICE, "none",
    "The D-Bus interface org.vsmtp.Vsmtpd1 for vsmtpctl: none, session or system bus" },
  { "dbus-group", VSMTP_CONFIG_TYPE_STRING, NULL,
    "The group whose members may call the D-Bus methods, besides root" },
};

/* How the daemon reads a key that is a VsmtpServer property, where it
 * differs from the property: the unit of the value (for messages), a
 * narrower range (max != 0), a value in seconds for a property in
 * milliseconds (per_unit 1000), seconds with decimals for a property in
 * milliseconds (duration). */
typedef struct
{
  const char *key;
  const char *unit;
  gint64      min;
  gint64      max;
  guint       per_unit;
  gboolean    duration;
} PropertyTweak;

static const PropertyTweak property_tweaks[] = {
  { "max-message-size",      "bytes" },
  { "max-line-length",       "bytes", 512, 1024 * 1024 },
  { "timeout",               "seconds", 1, 24 * 3600 },
  { "decision-timeout",      "seconds", 1, 24 * 3600, 1000 },
  { "spool-threshold",       "bytes" },
  { "tls-handshake-timeout", "seconds", 1, 3600 },
  { "greet-pause",           NULL, 0, 0, 0, TRUE },
  { "error-sleep-time",      "milliseconds" },
  { "min-data-rate",         "bytes per second" },
  { "max-header-size",       "bytes" },
  { "max-data-line-length",  "bytes" },
  { "auth-failure-window",   "seconds" },
};

#define SHUTDOWN_GRACE_MAX (24 * 3600)

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

/* "[group] key: problem" (a VsmtpConfigGroup's error, a plugin's refusal)
 * with what set the key before it; NULL if @message is not of that form */
static char *
locate_message (Loader     *loader,
                const char *message)
{
  const char *close = strchr (message, ']');
  const char *colon = close != NULL ? strchr (close, ':') : NULL;
  g_autofree char *group = NULL;
  g_autofree char *key = NULL;

  if (message[0] != '[' || close == NULL || close[1] != ' ' || colon == NULL)
    return NULL;

  group = g_strndup (message + 1, close - message - 1);
  key = g_strndup (close + 2, colon - close - 2);
  return g_strdup_printf ("%s: %s", get_origin (loader, group, key), message);
}

/* @local_error told as the daemon tells its own errors */
static gboolean
group_error (Loader  *loader,
             GError **error,
             GError  *local_error)
{
  g_autofree char *located = locate_message (loader, local_error->message);

  g_set_error_literal (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       located != NULL ? located : local_error->message);
  return FALSE;
}

/* What a [server] key may be made of: a property of a plain type that
 * can be set at any time */
static gboolean
is_config_property (GParamSpec *pspec)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);

  if ((pspec->flags & G_PARAM_WRITABLE) == 0 || (pspec->flags & G_PARAM_CONSTRUCT_ONLY) != 0)
    return FALSE;

  return type == G_TYPE_UINT || type == G_TYPE_INT || type == G_TYPE_UINT64 ||
         type == G_TYPE_INT64 || type == G_TYPE_BOOLEAN || type == G_TYPE_STRING ||
         G_TYPE_IS_ENUM (type);
}

static const PropertyTweak *
find_tweak (const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (property_tweaks); i++)
    if (g_str_equal (property_tweaks[i].key, key))
      return &property_tweaks[i];
  return NULL;
}

/* The key of a VsmtpServer property */
static VsmtpConfigKey *
property_key (GParamSpec *pspec)
{
  const PropertyTweak *tweak = find_tweak (pspec->name);
  const GValue *default_value = g_param_spec_get_default_value (pspec);
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  const char *blurb = g_param_spec_get_blurb (pspec);
  g_autoptr(VsmtpConfigKey) key = NULL;
  g_autofree char *text = NULL;
  gint64 min = 0, max = 0, value = 0;
  guint per_unit = tweak != NULL && tweak->per_unit > 0 ? tweak->per_unit : 1;

  if (type == G_TYPE_BOOLEAN)
    return vsmtp_config_key_new (pspec->name, VSMTP_CONFIG_TYPE_BOOLEAN,
                                 g_value_get_boolean (default_value) ? "true" : "false", blurb);
  if (type == G_TYPE_STRING)
    return vsmtp_config_key_new (pspec->name, VSMTP_CONFIG_TYPE_STRING,
                                 g_value_get_string (default_value), blurb);
  if (G_TYPE_IS_ENUM (type))
    {
      GEnumClass *enum_class = G_PARAM_SPEC_ENUM (pspec)->enum_class;
      g_autoptr(GStrvBuilder) choices = g_strv_builder_new ();
      g_auto(GStrv) strv = NULL;

      for (guint i = 0; i < enum_class->n_values; i++)
        g_strv_builder_add (choices, enum_class->values[i].value_nick);
      strv = g_strv_builder_end (choices);
      key = vsmtp_config_key_new (pspec->name, VSMTP_CONFIG_TYPE_CHOICE,
                                  g_enum_get_value (enum_class,
                                                    g_value_get_enum (default_value))->value_nick,
                                  blurb);
      vsmtp_config_key_set_choices (key, (const char * const *) strv);
      return g_steal_pointer (&key);
    }

  if (G_IS_PARAM_SPEC_UINT (pspec))
    {
      min = G_PARAM_SPEC_UINT (pspec)->minimum;
      max = G_PARAM_SPEC_UINT (pspec)->maximum;
      value = g_value_get_uint (default_value);
    }
  else if (G_IS_PARAM_SPEC_INT (pspec))
    {
      min = G_PARAM_SPEC_INT (pspec)->minimum;
      max = G_PARAM_SPEC_INT (pspec)->maximum;
      value = g_value_get_int (default_value);
    }
  else if (G_IS_PARAM_SPEC_UINT64 (pspec))
    {
      min = MIN (G_PARAM_SPEC_UINT64 (pspec)->minimum, (guint64) G_MAXINT64);
      max = MIN (G_PARAM_SPEC_UINT64 (pspec)->maximum, (guint64) G_MAXINT64);
      value = MIN (g_value_get_uint64 (default_value), (guint64) G_MAXINT64);
    }
  else
    {
      min = G_PARAM_SPEC_INT64 (pspec)->minimum;
      max = G_PARAM_SPEC_INT64 (pspec)->maximum;
      value = g_value_get_int64 (default_value);
    }

  if (tweak != NULL && tweak->duration)
    {
      char seconds[G_ASCII_DTOSTR_BUF_SIZE];

      /* the default in seconds: "0", "1.5" */
      g_ascii_formatd (seconds, sizeof seconds, "%g", value / 1000.0);
      key = vsmtp_config_key_new (pspec->name, VSMTP_CONFIG_TYPE_DURATION, seconds, blurb);
      vsmtp_config_key_set_range (key, min, max, NULL);
      return g_steal_pointer (&key);
    }

  if (tweak != NULL && tweak->max != 0)
    {
      min = tweak->min;
      max = tweak->max;
    }
  text = g_strdup_printf ("%" G_GINT64_FORMAT, value / per_unit);
  key = vsmtp_config_key_new (pspec->name, VSMTP_CONFIG_TYPE_INTEGER, text, blurb);
  vsmtp_config_key_set_range (key, min, max, tweak != NULL ? tweak->unit : NULL);
  return g_steal_pointer (&key);
}

/* The [server] group: the VsmtpServer properties' keys, then the daemon's */
static VsmtpConfigGroup *
server_group_new (GPtrArray **out_properties)
{
  VsmtpConfigGroup *group = vsmtp_config_group_new ("server");
  GObjectClass *server_class = g_type_class_ref (VSMTP_TYPE_SERVER);
  g_autofree GParamSpec **pspecs = NULL;
  guint n_pspecs;

  *out_properties = g_ptr_array_new_with_free_func ((GDestroyNotify) g_param_spec_unref);
  pspecs = g_object_class_list_properties (server_class, &n_pspecs);
  for (guint i = 0; i < n_pspecs; i++)
    {
      g_autoptr(VsmtpConfigKey) key = NULL;

      if (!is_config_property (pspecs[i]))
        continue;
      key = property_key (pspecs[i]);
      vsmtp_config_group_add_key (group, key);
      g_ptr_array_add (*out_properties, g_param_spec_ref (pspecs[i]));
    }
  g_type_class_unref (server_class);

  for (guint i = 0; i < G_N_ELEMENTS (daemon_keys); i++)
    {
      const DaemonKey *dk = &daemon_keys[i];
      g_autoptr(VsmtpConfigKey) key = vsmtp_config_key_new (dk->key, dk->type,
                                                            dk->default_value,
                                                            dk->description);

      if (g_str_equal (dk->key, "shutdown-grace"))
        vsmtp_config_key_set_range (key, 0, SHUTDOWN_GRACE_MAX, "seconds");
      if (g_str_equal (dk->key, "dbus"))
        vsmtp_config_key_set_choices (key, (const char * const []) { "none", "session", "system", NULL });
      vsmtp_config_group_add_key (group, key);
    }

  return group;
}

static VsmtpConfigGroup *
plugins_group_new (void)
{
  VsmtpConfigGroup *group = vsmtp_config_group_new ("plugins");

  vsmtp_config_group_add_string_list (group, "enabled", DEFAULT_PLUGIN,
                                      "The plugins to load, in order");
  vsmtp_config_group_add_string_list (group, "path", NULL,
                                      "More folders to search for plugins, first");
  return group;
}

/* vsmtpd_parse_listen_address:
 * @text: `ADDR:PORT`, with an IPv6 address in brackets: `[::1]:2525`
 *
 * Returns: (transfer full) (nullable): the address, or %NULL if @text is
 *   not an IP address and a port
 */
GSocketAddress *
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

/* A list of addresses (empty when not set) */
static gboolean
parse_address_list (VsmtpdConfig  *self,
                    Loader        *loader,
                    const char    *key,
                    char        ***out_list,
                    GPtrArray    **out_addresses,
                    GError       **error)
{
  *out_list = vsmtp_config_group_dup_string_list (self->server_group, key);
  if (*out_list == NULL)
    *out_list = g_new0 (char *, 1);

  return parse_addresses (loader, self->keyfile, key, *out_list, out_addresses, error);
}

static gboolean
parse_listen (VsmtpdConfig  *self,
              Loader        *loader,
              GError       **error)
{
  self->listen = vsmtp_config_group_dup_string_list (self->server_group, "listen");

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
  VsmtpConfigGroup *group = self->server_group;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *certificate = vsmtp_config_group_dup_string (group, "tls-certificate");
  g_autofree char *key = vsmtp_config_group_dup_string (group, "tls-key");
  gboolean key_at_fault = FALSE;
  g_autofree char *priority = vsmtp_config_group_dup_string (group, "tls-priority");
  g_autofree char *min_version = vsmtp_config_group_dup_string (group, "tls-min-version");

  /* the protocol versions and suites, for the whole process */
  if (priority != NULL && vsmtp_config_group_is_set (group, "tls-min-version"))
    return key_error (loader, error, "server", "tls-min-version",
                      "set either tls-min-version or tls-priority, not both");
  if (priority != NULL && !vsmtpd_tls_check_priority (priority, &local_error))
    return key_error (loader, error, "server", "tls-priority", "%s", local_error->message);
  if (g_str_equal (min_version, "1.2"))
    self->tls_priority = g_strdup (priority != NULL ? priority : VSMTPD_TLS_PRIORITY_DEFAULT);
  else if (g_str_equal (min_version, "1.3"))
    self->tls_priority = g_strdup (VSMTPD_TLS_PRIORITY_TLS13);
  else
    return key_error (loader, error, "server", "tls-min-version",
                      "\"%s\" is neither \"1.2\" nor \"1.3\" (older versions: tls-priority)",
                      min_version);

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

  if (!parse_address_list (self, loader, "listen-tls", &self->listen_tls,
                           &self->listen_tls_addresses, error))
    return FALSE;
  if (self->listen_tls[0] != NULL && certificate == NULL)
    return key_error (loader, error, "server", "listen-tls",
                      "implicit TLS needs tls-certificate (the self-signed default "
                      "is only used for STARTTLS)");

  /* Submission (RFC 6409, RFC 8314): MAIL needs a successful AUTH first */
  if (!parse_address_list (self, loader, "listen-submission", &self->listen_submission,
                           &self->listen_submission_addresses, error) ||
      !parse_address_list (self, loader, "listen-submissions", &self->listen_submissions,
                           &self->listen_submissions_addresses, error))
    return FALSE;
  if (self->listen_submissions[0] != NULL && certificate == NULL)
    return key_error (loader, error, "server", "listen-submissions",
                      "implicit TLS needs tls-certificate (the self-signed default "
                      "is only used for STARTTLS)");

  self->require_tls = vsmtp_config_group_get_boolean (group, "require-tls");
  self->smtputf8 = vsmtp_config_group_get_boolean (group, "smtputf8");

  return TRUE;
}

/* [server] xclient-trusted: the short form of a [listener]'s key, for the
 * listeners of the [server] listen keys (and the sockets systemd passes) */
static gboolean
parse_xclient_trusted (VsmtpdConfig  *self,
                       Loader        *loader,
                       GError       **error)
{
  g_autoptr(VsmtpListenOptions) options = vsmtp_listen_options_new ();
  g_autoptr(GError) local_error = NULL;

  self->xclient_trusted = vsmtp_config_group_dup_string_list (self->server_group, "xclient-trusted");
  if (!vsmtp_listen_options_set_xclient_trusted (options, (const char * const *) self->xclient_trusted,
                                                 &local_error))
    return key_error (loader, error, "server", "xclient-trusted", "%s", local_error->message);
  return TRUE;
}

VsmtpListenOptions *
vsmtpd_config_new_listen_options (VsmtpdConfig     *self,
                                  VsmtpListenFlags  flags)
{
  VsmtpListenOptions *options = vsmtp_listen_options_new ();

  vsmtp_listen_options_set_flags (options, flags);
  /* checked when loaded */
  vsmtp_listen_options_set_xclient_trusted (options, (const char * const *) self->xclient_trusted, NULL);
  return options;
}

/* "auto", or a number of processes */
static gboolean
parse_workers (VsmtpdConfig  *self,
               Loader        *loader,
               GError       **error)
{
  g_autofree char *workers = vsmtp_config_group_dup_string (self->server_group, "workers");
  g_autoptr(VsmtpConfigKey) number = NULL;
  g_autoptr(GError) local_error = NULL;

  g_strstrip (workers);
  if (g_str_equal (workers, "auto"))
    {
      self->workers = g_get_num_processors ();
      return TRUE;
    }

  number = vsmtp_config_key_new ("workers", VSMTP_CONFIG_TYPE_INTEGER, NULL, NULL);
  vsmtp_config_key_set_range (number, 1, 256, "processes, or \"auto\"");
  if (!vsmtp_config_key_check_value (number, workers, &local_error))
    {
      if (workers[0] != '\0' && strstr (local_error->message, "not a number") != NULL)
        return key_error (loader, error, "server", "workers",
                          "\"%s\" is neither a number nor \"auto\"", workers);
      return key_error (loader, error, "server", "workers", "%s", local_error->message);
    }

  self->workers = g_ascii_strtoull (workers, NULL, 10);
  return TRUE;
}

/* [server] dbus and dbus-group (vsmtpd-dbus.c), after workers */
static gboolean
parse_dbus (VsmtpdConfig  *self,
            Loader        *loader,
            GError       **error)
{
  g_autofree char *bus = vsmtp_config_group_dup_string (self->server_group, "dbus");

  self->dbus = g_strcmp0 (bus, "session") == 0 ? G_BUS_TYPE_SESSION :
               g_strcmp0 (bus, "system") == 0 ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_NONE;
  /* one name on the bus, and each worker has its own sessions */
  if (self->dbus != G_BUS_TYPE_NONE && self->workers > 1)
    return key_error (loader, error, "server", "dbus",
                      "not with [server] workers above 1 (each worker has its own "
                      "sessions and listeners): set dbus = none or workers = 1");
  self->dbus_group = vsmtp_config_group_dup_string (self->server_group, "dbus-group");
  if (self->dbus_group != NULL)
    {
      struct group *gr = getgrnam (self->dbus_group);

      if (gr == NULL)
        return key_error (loader, error, "server", "dbus-group", "no such group \"%s\"",
                          self->dbus_group);
      self->dbus_gid = gr->gr_gid;
    }
  return TRUE;
}

/* The built-in extensions that another key governs: they cannot be
 * disabled by keyword */
static const struct {
  const char *keyword;
  const char *instead;
} undisableable_extensions[] = {
  { "STARTTLS", "TLS is governed by tls-certificate, require-tls and the listen keys" },
  { "AUTH", "auth-mechanisms governs it" },
  { "ENHANCEDSTATUSCODES", "every reply carries an enhanced status code" },
};

/* An extension that needs another one (RFC 6531 3.1, RFC 3030 3) */
static const struct {
  const char *keyword;
  const char *needs;
} extension_dependencies[] = {
  { "SMTPUTF8", "8BITMIME" },
  { "BINARYMIME", "CHUNKING" },
};

static gboolean
is_disabled (VsmtpdConfig *self,
             const char   *keyword)
{
  for (guint i = 0; self->disable_extensions[i] != NULL; i++)
    if (g_ascii_strcasecmp (self->disable_extensions[i], keyword) == 0)
      return TRUE;
  return FALSE;
}

/* [server] disable-extensions: the keywords of the server's registry, as
 * libvsmtp registers its built-ins (whatever version is linked) */
static gboolean
parse_disable_extensions (VsmtpdConfig  *self,
                          Loader        *loader,
                          GError       **error)
{
  g_autoptr(VsmtpServer) server = vsmtp_server_new ();

  self->disable_extensions = vsmtp_config_group_dup_string_list (self->server_group,
                                                                 "disable-extensions");
  if (self->disable_extensions == NULL)
    self->disable_extensions = g_new0 (char *, 1);

  for (guint i = 0; self->disable_extensions[i] != NULL; i++)
    {
      const char *keyword = g_strstrip (self->disable_extensions[i]);

      if (vsmtp_server_lookup_extension (server, keyword) == NULL)
        {
          g_autoptr(GPtrArray) extensions = vsmtp_server_dup_extensions (server);
          g_autoptr(GString) known = g_string_new (NULL);

          for (guint j = 0; j < extensions->len; j++)
            g_string_append_printf (known, "%s%s", j > 0 ? ", " : "",
                                    vsmtp_extension_get_keyword (extensions->pdata[j]));
          return key_error (loader, error, "server", "disable-extensions",
                            "\"%s\" is not a built-in extension (%s)", keyword, known->str);
        }
      for (guint j = 0; j < G_N_ELEMENTS (undisableable_extensions); j++)
        if (g_ascii_strcasecmp (keyword, undisableable_extensions[j].keyword) == 0)
          return key_error (loader, error, "server", "disable-extensions",
                            "%s cannot be disabled: %s", undisableable_extensions[j].keyword,
                            undisableable_extensions[j].instead);
    }
  for (guint j = 0; j < G_N_ELEMENTS (extension_dependencies); j++)
    if (is_disabled (self, extension_dependencies[j].needs) &&
        !is_disabled (self, extension_dependencies[j].keyword) &&
        vsmtp_server_lookup_extension (server, extension_dependencies[j].keyword) != NULL)
      return key_error (loader, error, "server", "disable-extensions",
                        "%s needs %s: disable %s too", extension_dependencies[j].keyword,
                        extension_dependencies[j].needs, extension_dependencies[j].keyword);
  return TRUE;
}

static gboolean
parse_server (VsmtpdConfig  *self,
              Loader        *loader,
              GError       **error)
{
  VsmtpConfigGroup *group = self->server_group;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) keys = NULL;

  if (!vsmtp_config_group_load (group, self->keyfile, &local_error))
    return group_error (loader, error, local_error);

  /* the daemon's texts are never empty */
  keys = vsmtp_config_group_dup_keys (group);
  for (guint i = 0; i < keys->len; i++)
    {
      const char *name = vsmtp_config_key_get_name (keys->pdata[i]);
      g_autofree char *value = NULL;

      if (vsmtp_config_key_get_value_type (keys->pdata[i]) != VSMTP_CONFIG_TYPE_STRING)
        continue;
      value = vsmtp_config_group_dup_string (group, name);
      if (value != NULL && value[0] == '\0')
        return key_error (loader, error, "server", name, "the value is empty");
    }

  if (!parse_listen (self, loader, error))
    return FALSE;

  self->hostname = vsmtp_config_group_dup_string (group, "hostname");
  if (self->hostname == NULL)
    self->hostname = g_strdup (g_get_host_name ());
  for (const char *p = self->hostname; *p != '\0'; p++)
    {
      if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
        return key_error (loader, error, "server", "hostname",
                          "\"%s\" is not a host name", self->hostname);
    }

  self->shutdown_grace = vsmtp_config_group_get_integer (group, "shutdown-grace");

  self->run_as_user = vsmtp_config_group_dup_string (group, "user");
  self->run_as_group = vsmtp_config_group_dup_string (group, "group");
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

  if (!parse_workers (self, loader, error))
    return FALSE;
  if (!parse_dbus (self, loader, error))
    return FALSE;

  if (!parse_tls (self, loader, error))
    return FALSE;

  if (!parse_disable_extensions (self, loader, error))
    return FALSE;
  if (!parse_xclient_trusted (self, loader, error))
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

/* [listener NAME] sections (vsmtpd-listeners.c) */
static gboolean
parse_listeners (VsmtpdConfig  *self,
                 Loader        *loader,
                 GError       **error)
{
  g_autoptr(GError) local_error = NULL;

  self->listeners = vsmtpd_listeners_load (self->keyfile, self->tls_certificate != NULL,
                                           &local_error);
  if (self->listeners == NULL)
    return group_error (loader, error, local_error);
  /* with listener sections, [server] listen binds only what it says: not
   * its default */
  if (self->listeners->len > 0 && !vsmtp_config_group_is_set (self->server_group, "listen"))
    g_ptr_array_set_size (self->listen_addresses, 0);

  /* every worker binds the same addresses: a port chosen by the kernel
   * would differ, and a UNIX socket file cannot be shared */
  for (guint i = 0; self->workers > 1 && i < self->listeners->len; i++)
    {
      VsmtpdListener *listener = self->listeners->pdata[i];
      g_autofree char *group = g_strconcat ("listener ", listener->name, NULL);

      for (guint j = 0; j < listener->addresses->len; j++)
        {
          GSocketAddress *address = listener->addresses->pdata[j];

          if (!G_IS_INET_SOCKET_ADDRESS (address) ||
              g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)) == 0)
            return key_error (loader, error, group, "listen",
                              "\"%s\" cannot be shared by %u workers", listener->listen[j],
                              self->workers);
        }
    }
  return TRUE;
}

static gboolean
parse_plugins (VsmtpdConfig  *self,
               Loader        *loader,
               GError       **error)
{
  g_autoptr(VsmtpConfigGroup) group = plugins_group_new ();
  g_autoptr(GError) local_error = NULL;

  if (!vsmtp_config_group_load (group, self->keyfile, &local_error))
    return group_error (loader, error, local_error);

  self->plugins_enabled = vsmtp_config_group_dup_string_list (group, "enabled");
  for (guint i = 0; self->plugins_enabled[i] != NULL; i++)
    {
      for (guint j = 0; j < i; j++)
        {
          if (g_str_equal (self->plugins_enabled[i], self->plugins_enabled[j]))
            return key_error (loader, error, "plugins", "enabled",
                              "\"%s\" is listed twice", self->plugins_enabled[i]);
        }
    }

  self->plugins_path = vsmtp_config_group_dup_string_list (group, "path");
  if (self->plugins_path == NULL)
    self->plugins_path = g_new0 (char *, 1);

  return TRUE;
}

/* [redis] (vsmtpd-redis.c) */
static gboolean
parse_redis (VsmtpdConfig  *self,
             Loader        *loader,
             GError       **error)
{
  g_autoptr(VsmtpConfigGroup) group = vsmtpd_redis_group_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *key = NULL;

  if (!vsmtp_config_group_load (group, self->keyfile, &local_error))
    return group_error (loader, error, local_error);
  if (!vsmtpd_redis_store_new (group, &self->store, &key, &local_error))
    return key_error (loader, error, "redis", key, "%s", local_error->message);
  if (!vsmtpd_redis_shared_limits (group, &self->shared_limits, &self->store_error_policy,
                                   &key, &local_error))
    return key_error (loader, error, "redis", key, "%s", local_error->message);
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

/* The maildir plugin's default path is computed here (where the daemon
 * keeps its state), and set in the keyfile when the plugin is enabled and
 * the key is not set: the plugin checks the key like any other. */
static void
set_maildir_default (VsmtpdConfig *self)
{
  g_autofree char *path = NULL;

  if (!g_strv_contains ((const char * const *) self->plugins_enabled, "maildir") ||
      g_key_file_has_key (self->keyfile, "maildir", "path", NULL))
    return;

  path = vsmtpd_config_default_maildir ();
  g_key_file_set_string (self->keyfile, "maildir", "path", path);
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

  if (overrides->keyfile != NULL)
    {
      gsize length;
      g_autofree char *data = g_key_file_to_data (overrides->keyfile, &length, NULL);

      g_key_file_load_from_data (self->keyfile, data, length, G_KEY_FILE_NONE, NULL);
    }
  else if (self->path != NULL && !load_file (self, self->path, error))
    return NULL;

  if (!apply_overrides (self, &loader, overrides, error))
    return NULL;

  if (!resolve_credentials (self, &loader, error))
    return NULL;

  self->server_group = server_group_new (&self->server_properties);
  if (!parse_server (self, &loader, error) ||
      !parse_listeners (self, &loader, error) ||
      !parse_plugins (self, &loader, error) ||
      !parse_redis (self, &loader, error))
    return NULL;
  set_maildir_default (self);

  return g_steal_pointer (&self);
}

/**
 * vsmtpd_config_locate:
 * @self: the configuration
 * @message: an error message of the form "[group] key: problem" (a
 *   VsmtpConfigGroup's, a plugin's refusal)
 *
 * Returns: (transfer full) (nullable): @message with what set the key
 *   before it (the option on the command line, else the file, else
 *   "built-in defaults"), or %NULL if @message is not of that form
 */
char *
vsmtpd_config_locate (VsmtpdConfig *self,
                      const char   *message)
{
  Loader loader = { self->path, self->origins };

  return locate_message (&loader, message);
}

/* The value of the [server] key of @pspec, for the property */
static gboolean
property_value (VsmtpdConfig *self,
                GParamSpec   *pspec,
                GValue       *value)
{
  VsmtpConfigGroup *group = self->server_group;
  const PropertyTweak *tweak = find_tweak (pspec->name);
  VsmtpConfigKey *key = vsmtp_config_group_lookup_key (group, pspec->name);
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  gint64 number;

  g_value_init (value, type);
  if (type == G_TYPE_BOOLEAN)
    g_value_set_boolean (value, vsmtp_config_group_get_boolean (group, pspec->name));
  else if (type == G_TYPE_STRING)
    {
      g_autofree char *text = vsmtp_config_group_dup_string (group, pspec->name);

      if (text == NULL)
        return FALSE;
      g_value_set_string (value, text);
    }
  else if (G_TYPE_IS_ENUM (type))
    {
      g_autofree char *nick = vsmtp_config_group_dup_string (group, pspec->name);

      g_value_set_enum (value, g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (pspec)->enum_class,
                                                          nick)->value);
    }
  else
    {
      if (vsmtp_config_key_get_value_type (key) == VSMTP_CONFIG_TYPE_DURATION)
        number = vsmtp_config_group_get_duration (group, pspec->name);
      else
        number = vsmtp_config_group_get_integer (group, pspec->name) *
                 (tweak != NULL && tweak->per_unit > 0 ? tweak->per_unit : 1);

      if (type == G_TYPE_UINT)
        g_value_set_uint (value, number);
      else if (type == G_TYPE_INT)
        g_value_set_int (value, number);
      else if (type == G_TYPE_UINT64)
        g_value_set_uint64 (value, number);
      else
        g_value_set_int64 (value, number);
    }
  return TRUE;
}

/**
 * vsmtpd_config_apply:
 * @self: the configuration
 * @server: the server
 *
 * Sets the properties of @server from their [server] keys (the host name,
 * the limits, the timeouts...), and the certificate when one is
 * configured, and hands it the keyfile, from which the plugins' groups
 * are read. The extensions of [server] disable-extensions are taken out
 * of its registry.
 */
void
vsmtpd_config_apply (VsmtpdConfig *self,
                     VsmtpServer  *server)
{
  /* with [redis]: the shared store (applied by a reload too) */
  vsmtpd_config_apply_properties (self, server);
  /* smtputf8=false: the built-in extension is unregistered */
  if (!self->smtputf8 && vsmtp_server_lookup_extension (server, "SMTPUTF8") != NULL)
    vsmtp_server_unregister_extension (server, vsmtp_server_lookup_extension (server, "SMTPUTF8"));

  /* checked by parse_disable_extensions */
  for (guint i = 0; self->disable_extensions[i] != NULL; i++)
    vsmtp_server_unregister_extension (server,
                                       vsmtp_server_lookup_extension (server,
                                                                      self->disable_extensions[i]));
}

/* What a reload changes on a running server (vsmtpd-reload.c): the
 * properties, the host name, the certificate, the keyfile; new sessions
 * get them, running ones keep their settings. */
void
vsmtpd_config_apply_properties (VsmtpdConfig *self,
                                VsmtpServer  *server)
{
  for (guint i = 0; i < self->server_properties->len; i++)
    {
      GParamSpec *pspec = g_ptr_array_index (self->server_properties, i);
      g_auto(GValue) value = G_VALUE_INIT;

      if (property_value (self, pspec, &value))
        g_object_set_property (G_OBJECT (server), pspec->name, &value);
      else
        {
          /* a string key not set (any more, after a reload): the default */
          g_auto(GValue) unset = G_VALUE_INIT;

          g_value_init (&unset, G_PARAM_SPEC_VALUE_TYPE (pspec));
          g_param_value_set_default (pspec, &unset);
          g_object_set_property (G_OBJECT (server), pspec->name, &unset);
        }
    }
  /* its default is the machine's name, computed here */
  vsmtp_server_set_hostname (server, self->hostname);
  if (self->tls_certificate != NULL)
    vsmtp_server_set_tls_certificate (server, self->tls_certificate);
  vsmtp_server_set_config (server, self->keyfile);
  /* [redis]: the store new sessions and the plugins' next operations use */
  vsmtpd_redis_apply (self->store, self->shared_limits, self->store_error_policy, server);
}

/**
 * vsmtpd_config_dup_groups:
 * @self: the configuration
 *
 * Returns: (transfer full): the daemon's groups, [server] and [plugins],
 *   with their keys, for --list-keys
 */
GPtrArray *
vsmtpd_config_dup_groups (VsmtpdConfig *self)
{
  GPtrArray *groups = g_ptr_array_new_with_free_func (g_object_unref);

  g_ptr_array_add (groups, g_object_ref (self->server_group));
  g_ptr_array_add (groups, vsmtpd_listeners_group_new ("NAME"));
  g_ptr_array_add (groups, plugins_group_new ());
  g_ptr_array_add (groups, vsmtpd_metrics_group_new ());
  g_ptr_array_add (groups, vsmtpd_redis_group_new ());
  return groups;
}

void
vsmtpd_config_free (VsmtpdConfig *self)
{
  if (self == NULL)
    return;

  g_free (self->path);
  g_free (self->dbus_group);
  g_clear_pointer (&self->keyfile, g_key_file_unref);
  g_clear_object (&self->server_group);
  g_clear_pointer (&self->server_properties, g_ptr_array_unref);
  g_strfreev (self->listen);
  g_clear_pointer (&self->listen_addresses, g_ptr_array_unref);
  g_free (self->hostname);
  g_strfreev (self->plugins_enabled);
  g_strfreev (self->plugins_path);
  g_strfreev (self->disable_extensions);
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
  g_strfreev (self->xclient_trusted);
  g_clear_pointer (&self->listeners, g_ptr_array_unref);
  g_clear_object (&self->store);
  g_free (self);
}

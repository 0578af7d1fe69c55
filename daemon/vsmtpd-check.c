/* vsmtpd-check.c: vsmtpd --check-config and --print-config
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * --check-config reads the configuration as startup does (the daemon's
 * groups, the [listener NAME] sections, the certificate and its key, then
 * each enabled plugin: found, loaded, its keys declared, its group read
 * and handed to its configure) but binds nothing, activates no plugin and
 * writes nothing. It tells every problem it can find, not only the first:
 * the daemon's loader stops at the first one, so the key at fault is taken
 * out of a copy of the file and the configuration read again, until it
 * loads (or the problem cannot be taken out: a bad command line option, a
 * file that is not a key file). Each plugin's group is read the same way.
 *
 * --print-config prints every group and key with its effective value, the
 * keys left at their default commented out ("#key=value  # default"): a
 * key file has no comments after a value, and a default written out as a
 * value would change what the configuration means ([server] listen with
 * [listener] sections, tls-min-version with tls-priority), so the output
 * read back is the same configuration.
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <stdlib.h>
#include <string.h>

#include <gio/gunixsocketaddress.h>

#include "vsmtpd-check.h"
#include "vsmtpd-listeners.h"
#include "vsmtpd-plugins.h"

/* More rounds than a configuration has problems */
#define MAX_ROUNDS 200

typedef struct
{
  const char *path;       /* the --config file, or NULL */
  GPtrArray  *problems;   /* one line each, without "vsmtpd: " */
  GPtrArray  *warnings;
  gboolean    tls_failed; /* the certificate or its key: what needs it is not told again */
} Check;

/* "[group] key: " in @message (after what set the key, if it is there);
 * @key NULL when the problem is the group's ("[listener x]: ...") */
static gboolean
parse_location (const char  *message,
                char       **group,
                char       **key)
{
  g_autoptr(GRegex) regex = g_regex_new ("(?:^|: )\\[([^]\\n]+)\\](?: ([A-Za-z0-9_.-]+))?: ",
                                         0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;

  *group = *key = NULL;
  if (!g_regex_match (regex, message, 0, &match))
    return FALSE;
  *group = g_match_info_fetch (match, 1);
  *key = g_match_info_fetch (match, 2);
  if (*key != NULL && (*key)[0] == '\0')
    g_clear_pointer (key, g_free);
  return TRUE;
}

static void
add_problem (Check      *check,
             const char *line)
{
  g_autofree char *group = NULL, *key = NULL;

  /* without the certificate, what needs one says so too ("implicit TLS
   * needs tls-certificate"): told once */
  if (check->tls_failed && strstr (line, "tls-certificate") != NULL &&
      parse_location (line, &group, &key) &&
      (g_str_equal (group, "server") || g_str_has_prefix (group, "listener ")) &&
      !(key != NULL && (g_str_equal (key, "tls-certificate") || g_str_equal (key, "tls-key"))))
    return;

  for (guint i = 0; i < check->problems->len; i++)
    if (g_str_equal (check->problems->pdata[i], line))
      return;
  g_ptr_array_add (check->problems, g_strdup (line));
}

/* @message ("[group] key: problem") with what set the key before it */
static char *
locate (Check        *check,
        VsmtpdConfig *config,
        const char   *message)
{
  char *located = vsmtpd_config_locate (config, message);

  if (located != NULL)
    return located;
  return g_strdup_printf ("%s: %s", check->path != NULL ? check->path : "built-in defaults",
                          message);
}

static void
add_located (Check        *check,
             VsmtpdConfig *config,
             const char   *message)
{
  g_autofree char *line = locate (check, config, message);

  add_problem (check, line);
}

static GKeyFile *
copy_keyfile (GKeyFile *keyfile)
{
  GKeyFile *copy = g_key_file_new ();
  gsize length;
  g_autofree char *data = g_key_file_to_data (keyfile, &length, NULL);

  g_key_file_load_from_data (copy, data, length, G_KEY_FILE_NONE, NULL);
  return copy;
}

/* A list whose element @message quotes ("300.1.1.1:25" is not ADDR:PORT):
 * that element taken out, so that the others are checked too (not the
 * last one: then the key goes). */
static gboolean
prune_element (GKeyFile   *keyfile,
               const char *group,
               const char *key,
               const char *message)
{
  const char *problem = strstr (message, "] ");
  const char *start = problem != NULL ? strchr (problem, '"') : NULL;
  const char *end = start != NULL ? strchr (start + 1, '"') : NULL;
  g_autofree char *quoted = NULL;
  g_auto(GStrv) list = NULL;
  g_autoptr(GStrvBuilder) kept = g_strv_builder_new ();
  g_auto(GStrv) rest = NULL;
  gboolean found = FALSE;

  if (end == NULL)
    return FALSE;
  quoted = g_strndup (start + 1, end - start - 1);
  list = g_key_file_get_string_list (keyfile, group, key, NULL, NULL);
  if (list == NULL || list[0] == NULL || list[1] == NULL)
    return FALSE;

  for (guint i = 0; list[i] != NULL; i++)
    {
      if (!found && g_str_equal (g_strstrip (list[i]), quoted))
        found = TRUE;
      else
        g_strv_builder_add (kept, list[i]);
    }
  if (!found)
    return FALSE;
  rest = g_strv_builder_end (kept);
  g_key_file_set_string_list (keyfile, group, key, (const char * const *) rest,
                              g_strv_length (rest));
  return TRUE;
}

/* What the daemon's loader reads: the file's copy, and the command line */
typedef struct
{
  GKeyFile              *keyfile;
  VsmtpdConfigOverrides  overrides;
  GPtrArray             *options;   /* of overrides.options, NULL-terminated */
} Source;

/* @group's @key out of @source: the file's line, and the options that set it */
static gboolean
remove_key (Source     *source,
            const char *group,
            const char *key)
{
  VsmtpdConfigOverrides *overrides = &source->overrides;
  g_autofree char *prefix = g_strdup_printf ("%s.%s=", group, key);
  gboolean removed = g_key_file_remove_key (source->keyfile, group, key, NULL);

  if (source->options == NULL)
    return removed;
  for (guint i = 0; i + 1 < source->options->len; )
    {
      if (g_str_has_prefix (source->options->pdata[i], prefix))
        {
          g_ptr_array_remove_index (source->options, i);
          removed = TRUE;
        }
      else
        i++;
    }
  overrides->options = (const char * const *) source->options->pdata;

#define REMOVE_OVERRIDE(g, k, field) \
  if (g_str_equal (group, g) && g_str_equal (key, k) && overrides->field != NULL) \
    { \
      overrides->field = NULL; \
      removed = TRUE; \
    }
  REMOVE_OVERRIDE ("server", "listen", listen);
  REMOVE_OVERRIDE ("server", "hostname", hostname);
  REMOVE_OVERRIDE ("server", "tls-certificate", tls_certificate);
  REMOVE_OVERRIDE ("server", "tls-key", tls_key);
  REMOVE_OVERRIDE ("plugins", "enabled", plugins);
#undef REMOVE_OVERRIDE
  return removed;
}

/* Takes the key (or the section) @message blames out of @source, so that
 * the next round gets past it; FALSE when nothing could be taken out */
static gboolean
prune (Check      *check,
       Source     *source,
       const char *message)
{
  g_autofree char *group = NULL, *key = NULL;

  if (!parse_location (message, &group, &key))
    return FALSE;

  if (g_str_equal (group, "server") && key != NULL &&
      (g_str_equal (key, "tls-certificate") || g_str_equal (key, "tls-key")))
    {
      gboolean removed = remove_key (source, "server", "tls-certificate");

      removed |= remove_key (source, "server", "tls-key");
      check->tls_failed = TRUE;
      return removed;
    }
  if (key != NULL && prune_element (source->keyfile, group, key, message))
    return TRUE;
  /* a listener without an address is not another problem */
  if (key != NULL && g_str_has_prefix (group, "listener ") && g_str_equal (key, "listen"))
    return g_key_file_remove_group (source->keyfile, group, NULL);
  if (key != NULL && remove_key (source, group, key))
    return TRUE;
  /* a section whose problem is not one key ([listener x] without listen) */
  if (!g_str_equal (group, "server") && !g_str_equal (group, "plugins"))
    return g_key_file_remove_group (source->keyfile, group, NULL);
  return FALSE;
}

/* The daemon's configuration, read round after round until it loads; every
 * refusal is a problem. NULL if it never loads. */
static VsmtpdConfig *
load_config (Check                       *check,
             const VsmtpdConfigOverrides *overrides)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GPtrArray) options = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  Source source = { keyfile, *overrides, options };
  VsmtpdConfig *config;

  config = vsmtpd_config_load (overrides, &error);
  if (config != NULL)
    return config;

  /* unreadable, or not a key file: the daemon's message is the only one */
  if (overrides->config_file != NULL &&
      !g_key_file_load_from_file (keyfile, overrides->config_file, G_KEY_FILE_NONE, NULL))
    {
      add_problem (check, error->message);
      return NULL;
    }
  source.overrides.keyfile = keyfile;
  for (guint i = 0; overrides->options != NULL && overrides->options[i] != NULL; i++)
    g_ptr_array_add (options, (gpointer) overrides->options[i]);
  g_ptr_array_add (options, NULL);
  source.overrides.options = (const char * const *) options->pdata;

  for (guint round = 0; round < MAX_ROUNDS; round++)
    {
      add_problem (check, error->message);
      if (!prune (check, &source, error->message))
        return NULL;
      g_clear_error (&error);
      config = vsmtpd_config_load (&source.overrides, &error);
      if (config != NULL)
        return config;
    }
  return NULL;
}

/* A UNIX socket is created in a folder that must be there already */
static void
check_socket_folders (Check        *check,
                      VsmtpdConfig *config)
{
  for (guint i = 0; i < config->listeners->len; i++)
    {
      VsmtpdListener *listener = config->listeners->pdata[i];

      for (guint j = 0; j < listener->addresses->len; j++)
        {
          GSocketAddress *address = listener->addresses->pdata[j];
          g_autofree char *folder = NULL;
          g_autofree char *message = NULL;

          if (g_socket_address_get_family (address) != G_SOCKET_FAMILY_UNIX)
            continue;
          folder = g_path_get_dirname (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)));
          if (g_file_test (folder, G_FILE_TEST_IS_DIR))
            continue;
          message = g_strdup_printf ("[listener %s] listen: \"%s\": the folder %s does not exist",
                                     listener->name, listener->listen[j], folder);
          add_located (check, config, message);
        }
    }
}

/* @group read from the configuration, round after round as the daemon's;
 * FALSE if any value was refused */
static gboolean
load_group (Check            *check,
            VsmtpdConfig     *config,
            VsmtpConfigGroup *group)
{
  g_autoptr(GKeyFile) keyfile = copy_keyfile (config->keyfile);
  Source source = { keyfile, { 0, }, NULL };
  gboolean ok = TRUE;

  for (guint round = 0; round < MAX_ROUNDS; round++)
    {
      g_autoptr(GError) error = NULL;

      if (vsmtp_config_group_load (group, keyfile, &error))
        return ok;
      ok = FALSE;
      add_located (check, config, error->message);
      if (!prune (check, &source, error->message))
        return FALSE;
    }
  return FALSE;
}

/* The group of @groups named @name */
static VsmtpConfigGroup *
find_group (GPtrArray  *groups,
            const char *name)
{
  for (guint i = 0; i < groups->len; i++)
    if (g_str_equal (vsmtp_config_group_get_name (groups->pdata[i]), name))
      return groups->pdata[i];
  return NULL;
}

/* Groups no enabled plugin reads: a plugin not enabled, or a misspelling */
static void
check_unread_groups (Check         *check,
                     VsmtpdConfig  *config,
                     VsmtpdPlugins *plugins)
{
  g_auto(GStrv) groups = g_key_file_get_groups (config->keyfile, NULL);
  g_autoptr(GPtrArray) daemon_groups = vsmtpd_config_dup_groups (config);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      if (find_group (daemon_groups, groups[i]) != NULL ||
          g_str_has_prefix (groups[i], "listener ") ||
          g_strv_contains ((const char * const *) config->plugins_enabled, groups[i]) ||
          vsmtpd_plugins_exists (plugins, groups[i]))
        continue;
      g_ptr_array_add (check->warnings,
                       g_strdup_printf ("%s: [%s] is not read: there is no plugin %s",
                                        check->path != NULL ? check->path : "built-in defaults",
                                        groups[i], groups[i]));
    }
}

/* Every enabled plugin: found, loaded, its group read and configured */
static void
check_plugins (Check        *check,
               VsmtpdConfig *config)
{
  g_autoptr(VsmtpServer) server = vsmtp_server_new ();
  g_autoptr(VsmtpdPlugins) plugins = NULL;

  vsmtpd_config_apply (config, server);
  plugins = vsmtpd_plugins_new (server, (const char * const *) config->plugins_path);

  for (guint i = 0; config->plugins_enabled[i] != NULL; i++)
    {
      const char *name = config->plugins_enabled[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpConfigGroup) group = vsmtpd_plugins_declare (plugins, name, &error);

      if (group == NULL)
        {
          g_autofree char *message = NULL;

          if (error->message[0] == '[')
            message = g_strdup (error->message);
          else
            message = g_strdup_printf ("[plugins] enabled: %s", error->message);
          add_located (check, config, message);
          continue;
        }
      if (!load_group (check, config, group))
        continue;
      if (!vsmtpd_plugins_configure (plugins, name, group, &error))
        add_located (check, config, error->message);
    }

  check_unread_groups (check, config, plugins);
}

int
vsmtpd_check_config (const VsmtpdConfigOverrides *overrides)
{
  Check check = { 0, };
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(VsmtpdConfig) config = NULL;

  check.path = overrides->config_file;
  check.problems = problems;
  check.warnings = warnings;

  config = load_config (&check, overrides);
  if (config != NULL)
    {
      check_socket_folders (&check, config);
      check_plugins (&check, config);
    }

  for (guint i = 0; i < warnings->len; i++)
    g_printerr ("vsmtpd: warning: %s\n", (const char *) warnings->pdata[i]);
  for (guint i = 0; i < problems->len; i++)
    g_printerr ("vsmtpd: %s\n", (const char *) problems->pdata[i]);
  if (problems->len > 0)
    return EXIT_FAILURE;
  g_print ("OK\n");
  return EXIT_SUCCESS;
}

/* --print-config ---------------------------------------------------------- */

static void
print_group (VsmtpConfigGroup *group,
             GKeyFile         *keyfile,
             gboolean          changed_only)
{
  const char *name = vsmtp_config_group_get_name (group);
  g_autoptr(GPtrArray) keys = vsmtp_config_group_dup_keys (group);
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = vsmtp_config_key_get_name (keys->pdata[i]);
      const char *default_value = vsmtp_config_key_get_default_value (keys->pdata[i]);

      if (vsmtp_config_group_is_set (group, key))
        {
          g_autofree char *value = g_key_file_get_value (keyfile, name, key, NULL);

          g_string_append_printf (text, "%s=%s\n", key, value != NULL ? value : "");
        }
      else if (!changed_only)
        g_string_append_printf (text, "#%s=%s  # default%s\n", key,
                                default_value != NULL ? default_value : "",
                                default_value != NULL ? "" : " (not set)");
    }

  if (changed_only && text->len == 0)
    return;
  g_print ("[%s]\n%s\n", name, text->str);
}

static gboolean
print_loaded_group (VsmtpConfigGroup  *group,
                    VsmtpdConfig      *config,
                    gboolean           changed_only,
                    GError           **error)
{
  if (!vsmtp_config_group_load (group, config->keyfile, error))
    return FALSE;
  print_group (group, config->keyfile, changed_only);
  return TRUE;
}

int
vsmtpd_print_config (const VsmtpdConfigOverrides *overrides,
                     gboolean                     changed_only)
{
  g_autoptr(VsmtpdConfig) config = NULL;
  g_autoptr(GPtrArray) groups = NULL;
  g_autoptr(VsmtpServer) server = NULL;
  g_autoptr(VsmtpdPlugins) plugins = NULL;
  g_autoptr(GError) error = NULL;

  config = vsmtpd_config_load (overrides, &error);
  if (config == NULL)
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      return EXIT_FAILURE;
    }

  g_print ("# vsmtpd %s: the effective configuration of %s\n"
           "# (%s)\n\n",
           PACKAGE_VERSION, config->path != NULL ? config->path : "built-in defaults",
           changed_only ? "only the keys it sets"
                        : "keys at their default are commented out, marked \"# default\"");

  /* the daemon's groups ([server], [plugins]...), not the [listener NAME]
   * of --list-keys */
  groups = vsmtpd_config_dup_groups (config);
  for (guint i = 0; i < groups->len; i++)
    if (!g_str_has_prefix (vsmtp_config_group_get_name (groups->pdata[i]), "listener ") &&
        !print_loaded_group (groups->pdata[i], config, changed_only, &error))
      goto fail;
  for (guint i = 0; i < config->listeners->len; i++)
    {
      VsmtpdListener *listener = config->listeners->pdata[i];
      g_autoptr(VsmtpConfigGroup) group = vsmtpd_listeners_group_new (listener->name);

      if (!print_loaded_group (group, config, changed_only, &error))
        goto fail;
    }

  server = vsmtp_server_new ();
  vsmtpd_config_apply (config, server);
  plugins = vsmtpd_plugins_new (server, (const char * const *) config->plugins_path);
  for (guint i = 0; config->plugins_enabled[i] != NULL; i++)
    {
      g_autoptr(VsmtpConfigGroup) group = vsmtpd_plugins_declare (plugins,
                                                                   config->plugins_enabled[i],
                                                                   &error);

      if (group == NULL || !print_loaded_group (group, config, changed_only, &error))
        goto fail;
    }
  return EXIT_SUCCESS;

fail:
  {
    g_autofree char *located = vsmtpd_config_locate (config, error->message);

    g_printerr ("vsmtpd: %s\n", located != NULL ? located : error->message);
  }
  return EXIT_FAILURE;
}

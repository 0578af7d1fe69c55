/* vsmtpd-plugins.c: the plugin engine of vsmtpd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <girepository.h>
#include <libpeas/peas.h>

#include "vsmtpd-log.h"
#include "vsmtpd-plugins.h"

/* One PeasEngine with the C and Python loaders, and one PeasExtensionSet
 * of VsmtpActivatable whose objects are created with the server. Plugins
 * are loaded in the order of their priority (X-Vsmtp-Priority in the
 * .plugin file, lower first; the configured order among equals), each
 * after checking the plugin API version its .plugin file states
 * (X-Vsmtp-Plugin-API). Then each one declares the keys of its group
 * (named after its module), the group is read from the configuration
 * against them, and the plugin is configured with it; a refusal stops the
 * daemon before any plugin is activated. Last, the plugins are activated
 * in the same order, so each one's signal handlers are connected after
 * those of the plugins before it, and run after them; each is named as
 * the owner of the handlers it connects to a session (the log names it
 * when one fails).
 *
 * Python plugins run in the interpreter libpeas embeds. Before it starts,
 * the Vsmtp typelib is made findable (the build tree's, or the installed
 * one when the prefix is not in the default search path), and the
 * gi.overrides.Vsmtp module (python/gi/overrides/Vsmtp.py) is made
 * importable: it wraps the handlers of Python plugins, so that a handler
 * that raises gets its command a 451 4.3.0, not the default reply. See
 * setup_introspection() for where it is taken from.
 */

struct _VsmtpdPlugins
{
  VsmtpServer      *server;
  PeasEngine       *engine;
  PeasExtensionSet *extensions;
  GPtrArray        *search_paths;  /* for error messages */
  GPtrArray        *loaded;        /* PeasPluginInfo, in load order */
  GHashTable       *activated;     /* PeasPluginInfo */
};

static void
on_extension_removed (PeasExtensionSet *set,
                      PeasPluginInfo   *info,
                      PeasExtension    *extension,
                      gpointer          user_data)
{
  VsmtpdPlugins *self = user_data;

  if (!g_hash_table_remove (self->activated, info))
    return;
  g_debug ("deactivating plugin %s", peas_plugin_info_get_module_name (info));
  vsmtp_activatable_deactivate (VSMTP_ACTIVATABLE (extension));
  vsmtp_server_set_handler_owner (self->server, G_OBJECT (extension), NULL);
}

static gboolean
running_from_build_dir (void)
{
  g_autofree char *exe = NULL;
  g_autofree char *dir = NULL;

  exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe == NULL)
    return FALSE;

  dir = g_path_get_dirname (exe);
  return g_str_equal (dir, VSMTPD_BUILD_DAEMONDIR);
}

static void
prepend_python_path (const char *dir)
{
  const char *current = g_getenv ("PYTHONPATH");
  g_autofree char *value = NULL;

  if (current != NULL && current[0] != '\0')
    value = g_strconcat (dir, G_SEARCHPATH_SEPARATOR_S, current, NULL);
  else
    value = g_strdup (dir);

  g_setenv ("PYTHONPATH", value, TRUE);
}

/* Before the Python loader starts its interpreter, which reads PYTHONPATH
 * once. Later typelib lookups, from Python or C, see the prepended folders.
 *
 * The override is found through PyGObject's gi/overrides package, which
 * extends itself with the gi/overrides folder of every sys.path entry:
 *
 * - from the build tree: the source folder python/, the override of the
 *   tree under test (a copy installed into the system's own site folder
 *   would still come first: PyGObject's folder leads the list);
 * - installed: the override is in the Python site folder of our prefix
 *   (python/meson.build). With prefix /usr that folder is on the embedded
 *   interpreter's sys.path already, and VSMTPD_PYTHONDIR is not defined.
 *   Under any other prefix (/usr/local, /opt/...) it is not, so it is put
 *   first on PYTHONPATH, compiled in as VSMTPD_PYTHONDIR: an installed
 *   daemon then runs its Python plugins with the override whatever the
 *   prefix, without PYTHONPATH set by the operator. Only the site folder of
 *   our own prefix is added, never the system's: prepending
 *   /usr/lib/python3/dist-packages would put it before the standard
 *   library. */
static void
setup_introspection (gboolean from_build_dir)
{
  g_irepository_prepend_search_path (VSMTPD_TYPELIBDIR);

  if (from_build_dir)
    {
      g_irepository_prepend_search_path (VSMTPD_BUILD_TYPELIBDIR);
      prepend_python_path (VSMTPD_BUILD_PYTHONDIR);
    }
#ifdef VSMTPD_PYTHONDIR
  else
    {
      prepend_python_path (VSMTPD_PYTHONDIR);
    }
#endif
}

static void
add_search_path (VsmtpdPlugins *self,
                 const char    *path)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);

  g_debug ("looking for plugins in %s", absolute);
  peas_engine_add_search_path (self->engine, absolute, NULL);
  g_ptr_array_add (self->search_paths, g_steal_pointer (&absolute));
}

/**
 * vsmtpd_plugins_new:
 * @server: the server the plugins are loaded into
 * @extra_paths: (nullable): folders from `[plugins] path`
 *
 * Creates the engine. The folders of @extra_paths come first, then the
 * build tree's plugins (when vsmtpd runs from its build tree), then the
 * installed plugins.
 *
 * Returns: (transfer full): the plugin engine of the daemon
 */
VsmtpdPlugins *
vsmtpd_plugins_new (VsmtpServer        *server,
                    const char * const *extra_paths)
{
  VsmtpdPlugins *self;
  gboolean from_build_dir;

  g_return_val_if_fail (VSMTP_IS_SERVER (server), NULL);

  self = g_new0 (VsmtpdPlugins, 1);
  self->server = g_object_ref (server);
  self->search_paths = g_ptr_array_new_with_free_func (g_free);
  self->loaded = g_ptr_array_new ();
  self->activated = g_hash_table_new (NULL, NULL);

  from_build_dir = running_from_build_dir ();
  setup_introspection (from_build_dir);

  self->engine = peas_engine_new ();
  peas_engine_enable_loader (self->engine, "python3");

  for (guint i = 0; extra_paths != NULL && extra_paths[i] != NULL; i++)
    add_search_path (self, extra_paths[i]);
  if (from_build_dir)
    add_search_path (self, VSMTPD_BUILD_PLUGINDIR);
  add_search_path (self, VSMTPD_PLUGINDIR);

  self->extensions = peas_extension_set_new (self->engine, VSMTP_TYPE_ACTIVATABLE,
                                             "server", server,
                                             NULL);
  /* the extensions are configured and activated by vsmtpd_plugins_load(),
   * not as they are added: no plugin is loaded before the set exists */
  g_signal_connect (self->extensions, "extension-removed",
                    G_CALLBACK (on_extension_removed), self);

  return self;
}

static PeasPluginInfo *
find_plugin (VsmtpdPlugins  *self,
             const char     *name,
             GError        **error)
{
  PeasPluginInfo *info;
  g_autofree char *paths = NULL;

  info = peas_engine_get_plugin_info (self->engine, name);
  if (info != NULL)
    return info;

  g_ptr_array_add (self->search_paths, NULL);
  paths = g_strjoinv (", ", (char **) self->search_paths->pdata);
  g_ptr_array_remove_index (self->search_paths, self->search_paths->len - 1);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "plugin \"%s\" not found (searched %s)", name, paths);
  return NULL;
}

/* The .plugin file states the plugin API version this vsmtpd supports */
static gboolean
check_api_version (PeasPluginInfo  *info,
                   GError         **error)
{
  const char *version = peas_plugin_info_get_external_data (info, "Vsmtp-Plugin-API");
  g_autofree char *supported = g_strdup_printf ("%d", VSMTP_PLUGIN_API_VERSION);

  if (version != NULL && g_str_equal (g_strstrip ((char *) version), supported))
    return TRUE;

  if (version == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "plugin \"%s\" (%s) states no plugin API version (X-Vsmtp-Plugin-API "
                 "in its .plugin file); this vsmtpd supports version %s",
                 peas_plugin_info_get_module_name (info),
                 peas_plugin_info_get_module_dir (info), supported);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "plugin \"%s\" (%s) is for plugin API version %s "
                 "(X-Vsmtp-Plugin-API=%s); this vsmtpd supports version %s",
                 peas_plugin_info_get_module_name (info),
                 peas_plugin_info_get_module_dir (info), version, version, supported);
  return FALSE;
}

/**
 * vsmtpd_plugins_check:
 * @self: the plugin engine
 * @names: the module names of the plugins
 * @error: return location for an error
 *
 * Checks that every plugin of @names exists and is written for the plugin
 * API version of this vsmtpd, without loading any.
 *
 * Returns: %TRUE if every plugin was found
 */
gboolean
vsmtpd_plugins_check (VsmtpdPlugins       *self,
                      const char * const  *names,
                      GError             **error)
{
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      PeasPluginInfo *info = find_plugin (self, names[i], error);

      if (info == NULL || !check_api_version (info, error))
        return FALSE;
    }

  return TRUE;
}

/* What a plugin writes on stderr while it is imported and activated:
 * Python's loader and PyGObject print tracebacks there, not through
 * g_log(). Captured so that a failure is reported on one line, and
 * written out unchanged otherwise. */
typedef struct
{
  int saved_fd;
  int capture_fd;
} StderrCapture;

static void
stderr_capture_begin (StderrCapture *capture)
{
  g_autofree char *path = NULL;

  capture->saved_fd = -1;
  capture->capture_fd = g_file_open_tmp ("vsmtpd-plugin-XXXXXX", &path, NULL);
  if (capture->capture_fd < 0)
    return;
  g_unlink (path);

  fflush (stderr);
  capture->saved_fd = dup (STDERR_FILENO);
  if (capture->saved_fd < 0 || dup2 (capture->capture_fd, STDERR_FILENO) < 0)
    {
      if (capture->saved_fd >= 0)
        close (capture->saved_fd);
      close (capture->capture_fd);
      capture->saved_fd = capture->capture_fd = -1;
    }
}

static char *
stderr_capture_end (StderrCapture *capture)
{
  GString *text = g_string_new (NULL);
  char buffer[4096];
  gssize n;

  if (capture->saved_fd < 0)
    return g_string_free (text, FALSE);

  fflush (stderr);
  dup2 (capture->saved_fd, STDERR_FILENO);
  close (capture->saved_fd);

  if (lseek (capture->capture_fd, 0, SEEK_SET) == 0)
    {
      while ((n = read (capture->capture_fd, buffer, sizeof buffer)) > 0)
        g_string_append_len (text, buffer, n);
    }
  close (capture->capture_fd);
  capture->saved_fd = capture->capture_fd = -1;

  return g_string_free (text, FALSE);
}

static gboolean
is_python_internal_frame (const char *file)
{
  return g_str_has_prefix (file, "<frozen ") ||
         strstr (file, "/importlib/") != NULL ||
         strstr (file, "/gi/overrides/") != NULL ||
         strstr (file, "/gi/types.py") != NULL;
}

/* The last Python traceback of @text as one line: the innermost frame of
 * the plugin's own code and the exception, e.g.
 * `/srv/plugins/spam.py, line 3: ModuleNotFoundError: No module named 'x'`.
 * Returns %NULL if @text has no traceback. */
static char *
summarize_traceback (const char *text)
{
  g_auto(GStrv) lines = NULL;
  const char *start;
  const char *exception = NULL;
  g_autofree char *location = NULL;

  start = g_strrstr (text, "Traceback (most recent call last):");
  if (start == NULL)
    return NULL;

  lines = g_strsplit (start, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      /* the log writer starts the continuation lines of a message with a
       * TAB (vsmtpd-log.c) */
      const char *line = lines[i][0] == '\t' ? lines[i] + 1 : lines[i];
      const char *file, *end;

      if (line[0] == '\0')
        continue;

      if (line[0] != ' ')
        {
          /* the exception line; stop at the next log line */
          if (exception != NULL && (g_str_has_prefix (line, "** ") || line[0] == '(' ||
                                    strstr (line, "-WARNING") != NULL))
            break;
          if (exception == NULL || strchr (line, ':') != NULL)
            exception = line;
          continue;
        }

      file = strstr (line, "File \"");
      if (file == NULL || exception != NULL)
        continue;
      file += strlen ("File \"");
      end = strstr (file, "\", line ");
      if (end == NULL)
        continue;

      {
        g_autofree char *path = g_strndup (file, end - file);
        const char *number = end + strlen ("\", line ");
        gsize digits = strspn (number, "0123456789");

        if (is_python_internal_frame (path))
          continue;
        g_free (location);
        location = g_strdup_printf ("%s, line %.*s", path, (int) digits, number);
      }
    }

  if (exception == NULL)
    return NULL;
  if (location == NULL)
    return g_strdup (exception);
  return g_strdup_printf ("%s: %s", location, exception);
}

/* A Python plugin that raised: PyGObject printed the traceback and went
 * on. A ValueError("[group] key: problem") is the plugins' way of refusing
 * a configuration value: that is a configuration error, told as the
 * daemon tells its own (VSMTP_ERROR_INVALID_CONFIG, the message
 * "[group] key: problem"). */
static void
set_traceback_error (PeasPluginInfo  *info,
                     const char      *step,
                     const char      *traceback,
                     GError         **error)
{
  const char *value_error = strstr (traceback, "ValueError: [");

  if (value_error != NULL &&
      g_regex_match_simple ("^\\[[A-Za-z0-9_.-]+\\] [A-Za-z0-9_.-]+: ",
                            value_error + strlen ("ValueError: "), 0, 0))
    {
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                           value_error + strlen ("ValueError: "));
      return;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "plugin \"%s\" (%s) failed to %s: %s",
               peas_plugin_info_get_module_name (info),
               peas_plugin_info_get_module_dir (info), step, traceback);
}

static gboolean
load_one (VsmtpdPlugins   *self,
          PeasPluginInfo  *info,
          GError         **error)
{
  const char *name = peas_plugin_info_get_module_name (info);
  g_autofree char *captured = NULL;
  g_autofree char *output = NULL;
  g_autofree char *traceback = NULL;
  StderrCapture capture;
  gboolean loaded;

  if (peas_plugin_info_is_loaded (info))
    return TRUE;

  stderr_capture_begin (&capture);
  vsmtpd_log_capture_begin ("libpeas");
  loaded = peas_engine_load_plugin (self->engine, info);
  captured = vsmtpd_log_capture_end ();
  output = stderr_capture_end (&capture);
  traceback = summarize_traceback (output);

  if (!loaded || !peas_plugin_info_is_loaded (info))
    {
      g_autoptr(GError) info_error = NULL;
      const char *reason = traceback != NULL ? traceback : captured;

      if (reason == NULL && !peas_plugin_info_is_available (info, &info_error))
        reason = info_error->message;

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "plugin \"%s\" (%s) failed to load: %s",
                   name, peas_plugin_info_get_module_dir (info),
                   reason != NULL ? g_strdelimit ((char *) reason, "\n", ' ') : "unknown error");
      return FALSE;
    }

  g_ptr_array_add (self->loaded, info);

  /* the plugin object's constructor raised */
  if (traceback != NULL)
    {
      set_traceback_error (info, "load", traceback, error);
      return FALSE;
    }

  if (output[0] != '\0')
    {
      fputs (output, stderr);
      fflush (stderr);
    }

  if (captured != NULL)
    g_warning ("plugin \"%s\": %s", name, captured);

  if (!peas_engine_provides_extension (self->engine, info, VSMTP_TYPE_ACTIVATABLE) ||
      peas_extension_set_get_extension (self->extensions, info) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "plugin \"%s\" (%s) does not implement VsmtpActivatable",
                   name, peas_plugin_info_get_module_dir (info));
      return FALSE;
    }

  g_debug ("plugin %s loaded from %s", name, peas_plugin_info_get_module_dir (info));
  return TRUE;
}

typedef enum {
  STEP_DECLARE,
  STEP_CONFIGURE,
  STEP_ACTIVATE,
} Step;

static const char * const step_names[] = { "declare its configuration", "configure", "activate" };

/* The order plugins run in: X-Vsmtp-Priority in the .plugin file, lower
 * first (policy before delivery), DEFAULT_PRIORITY when it is not set;
 * plugins of the same priority in the configured order. */
#define DEFAULT_PRIORITY 50

static int
plugin_priority (PeasPluginInfo *info)
{
  const char *text = peas_plugin_info_get_external_data (info, "Vsmtp-Priority");
  gint64 value;

  if (text == NULL || !g_ascii_string_to_signed (text, 10, 0, 100, &value, NULL))
    return DEFAULT_PRIORITY;
  return (int) value;
}

static int
compare_priority (gconstpointer a,
                  gconstpointer b)
{
  return plugin_priority (*(PeasPluginInfo **) a) - plugin_priority (*(PeasPluginInfo **) b);
}

/* One call into a loaded plugin, whose output is captured like its
 * loading (a Python traceback is told on one line) */
static gboolean
run_step (VsmtpdPlugins     *self,
          PeasPluginInfo    *info,
          Step               step,
          VsmtpConfigGroup  *group,
          GError           **error)
{
  VsmtpActivatable *plugin = VSMTP_ACTIVATABLE (peas_extension_set_get_extension (self->extensions, info));
  g_autoptr(GError) local_error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *traceback = NULL;
  StderrCapture capture;
  gboolean ok = TRUE;

  stderr_capture_begin (&capture);
  switch (step)
    {
    case STEP_DECLARE:
      vsmtp_activatable_declare_config (plugin, group);
      break;
    case STEP_CONFIGURE:
      ok = vsmtp_activatable_configure (plugin, group, &local_error);
      break;
    case STEP_ACTIVATE:
      g_debug ("activating plugin %s (%s)", peas_plugin_info_get_module_name (info),
               peas_plugin_info_get_module_dir (info));
      /* the plugin's session handlers carry it as their data: a failing
       * one is named in the log */
      {
        g_autofree char *owner = g_strdup_printf ("plugin %s", peas_plugin_info_get_module_name (info));

        vsmtp_server_set_handler_owner (self->server, G_OBJECT (plugin), owner);
      }
      vsmtp_activatable_activate (plugin);
      g_hash_table_add (self->activated, info);
      break;
    }
  output = stderr_capture_end (&capture);
  traceback = summarize_traceback (output);

  if (traceback != NULL)
    {
      set_traceback_error (info, step_names[step], traceback, error);
      return FALSE;
    }
  if (output[0] != '\0')
    {
      fputs (output, stderr);
      fflush (stderr);
    }

  if (ok)
    return TRUE;

  /* "[group] key: problem" as it is, for the daemon to name the file */
  if (local_error != NULL && local_error->message[0] == '[')
    g_propagate_error (error, g_steal_pointer (&local_error));
  else
    g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                 "plugin \"%s\" (%s) refused its configuration: %s",
                 peas_plugin_info_get_module_name (info),
                 peas_plugin_info_get_module_dir (info),
                 local_error != NULL ? local_error->message
                                     : "configure failed without an error (a Python "
                                       "do_configure must return True)");
  return FALSE;
}

/* The plugin's group, declared, and read from @keyfile */
static VsmtpConfigGroup *
declare_one (VsmtpdPlugins   *self,
             PeasPluginInfo  *info,
             GKeyFile        *keyfile,
             GError         **error)
{
  g_autoptr(VsmtpConfigGroup) group = NULL;

  group = vsmtp_config_group_new (peas_plugin_info_get_module_name (info));
  if (!run_step (self, info, STEP_DECLARE, group, error))
    return NULL;
  if (keyfile != NULL && !vsmtp_config_group_load (group, keyfile, error))
    return NULL;
  return g_steal_pointer (&group);
}

/* Groups of the configuration that no enabled plugin reads: those of a
 * plugin that is not enabled are allowed (a configuration kept for later),
 * others are likely a misspelled plugin name */
static void
log_unread_groups (VsmtpdPlugins       *self,
                   GKeyFile            *keyfile,
                   const char * const  *names)
{
  g_auto(GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      if (g_str_equal (groups[i], "server") || g_str_equal (groups[i], "plugins") ||
          g_str_has_prefix (groups[i], "listener ") ||
          g_str_equal (groups[i], "metrics") ||
          g_str_equal (groups[i], "redis") ||
          (names != NULL && g_strv_contains (names, groups[i])))
        continue;
      if (peas_engine_get_plugin_info (self->engine, groups[i]) != NULL)
        g_info ("[%s] is not read: the plugin %s is not enabled", groups[i], groups[i]);
      else
        g_warning ("[%s] is not read: there is no plugin %s", groups[i], groups[i]);
    }
}

/**
 * vsmtpd_plugins_load:
 * @self: the plugin engine
 * @names: the module names of the plugins, in order
 * @error: return location for an error
 *
 * Loads the plugins, has each declare its configuration keys, reads each
 * one's group of the server's configuration against them and configures
 * the plugin with it; then activates them, in order. A group that is
 * refused gives an error "[group] key: problem" (%VSMTP_ERROR_INVALID_CONFIG),
 * for vsmtpd_config_locate().
 *
 * Returns: %TRUE if every plugin was loaded, configured and activated
 */
gboolean
vsmtpd_plugins_load (VsmtpdPlugins       *self,
                     const char * const  *names,
                     GError             **error)
{
  GKeyFile *keyfile = vsmtp_server_get_config (self->server);
  guint n = names != NULL ? g_strv_length ((char **) names) : 0;
  g_autoptr(GPtrArray) infos = g_ptr_array_new ();

  for (guint i = 0; i < n; i++)
    {
      PeasPluginInfo *info = find_plugin (self, names[i], error);

      if (info == NULL || !check_api_version (info, error))
        return FALSE;
      g_ptr_array_add (infos, info);
    }

  /* g_ptr_array_sort() is a stable sort (GLib >= 2.32 uses a merge sort) */
  g_ptr_array_sort (infos, compare_priority);
  for (guint i = 0; i < n; i++)
    {
      if (!load_one (self, infos->pdata[i], error))
        return FALSE;
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(VsmtpConfigGroup) group = declare_one (self, infos->pdata[i], keyfile, error);

      if (group == NULL || !run_step (self, infos->pdata[i], STEP_CONFIGURE, group, error))
        return FALSE;
    }

  for (guint i = 0; i < n; i++)
    {
      if (!run_step (self, infos->pdata[i], STEP_ACTIVATE, NULL, error))
        return FALSE;
    }

  if (keyfile != NULL)
    log_unread_groups (self, keyfile, names);
  return TRUE;
}

/* Configures the activated plugins, in order, with their group of
 * @keyfile; @done: how many were configured, failed or not */
static gboolean
configure_all (VsmtpdPlugins  *self,
               GKeyFile       *keyfile,
               guint          *done,
               GError        **error)
{
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func (g_object_unref);

  /* every group read and checked before any plugin is configured */
  for (guint i = 0; i < self->loaded->len; i++)
    {
      VsmtpConfigGroup *group;

      if (!g_hash_table_contains (self->activated, self->loaded->pdata[i]))
        continue;
      group = declare_one (self, self->loaded->pdata[i], keyfile, error);
      if (group == NULL)
        return FALSE;
      g_ptr_array_add (groups, group);
    }

  *done = 0;
  for (guint i = 0, g = 0; i < self->loaded->len; i++)
    {
      if (!g_hash_table_contains (self->activated, self->loaded->pdata[i]))
        continue;
      (*done)++;
      if (!run_step (self, self->loaded->pdata[i], STEP_CONFIGURE, groups->pdata[g++], error))
        return FALSE;
    }
  return TRUE;
}

/**
 * vsmtpd_plugins_reconfigure:
 * @self: the plugin engine
 * @keyfile: the new configuration
 * @old_keyfile: the configuration the plugins run with
 * @error: return location for an error
 *
 * A reload: each activated plugin's group is declared again and read from
 * @keyfile (all of them first: a bad key changes nothing), then each
 * plugin is configured with it, in order. A plugin that refuses its new
 * group gets the error; the plugins configured before it are configured
 * again with their group of @old_keyfile, which they accepted before.
 *
 * Returns: %TRUE if every activated plugin took its new configuration
 */
gboolean
vsmtpd_plugins_reconfigure (VsmtpdPlugins  *self,
                            GKeyFile       *keyfile,
                            GKeyFile       *old_keyfile,
                            GError        **error)
{
  guint done = 0;

  if (configure_all (self, keyfile, &done, error))
    return TRUE;

  if (done > 0)
    {
      g_autoptr(GError) restore_error = NULL;
      guint restored;

      if (!configure_all (self, old_keyfile, &restored, &restore_error))
        g_warning ("reload: a plugin refused its previous configuration again: %s",
                   restore_error->message);
    }
  return FALSE;
}

static int
compare_module_names (gconstpointer a,
                      gconstpointer b)
{
  return g_strcmp0 (peas_plugin_info_get_module_name (*(PeasPluginInfo **) a),
                    peas_plugin_info_get_module_name (*(PeasPluginInfo **) b));
}

/**
 * vsmtpd_plugins_dup_groups:
 * @self: the plugin engine
 * @error: return location for an error
 *
 * Loads every plugin found (for the plugin API version of this vsmtpd),
 * without activating any, and has each declare its configuration.
 *
 * Returns: (transfer full) (nullable): their groups, by module name
 */
GPtrArray *
vsmtpd_plugins_dup_groups (VsmtpdPlugins  *self,
                           GError        **error)
{
  g_autoptr(GPtrArray) infos = g_ptr_array_new ();
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func (g_object_unref);

  for (const GList *l = peas_engine_get_plugin_list (self->engine); l != NULL; l = l->next)
    g_ptr_array_add (infos, l->data);
  g_ptr_array_sort (infos, compare_module_names);

  for (guint i = 0; i < infos->len; i++)
    {
      g_autoptr(GError) local_error = NULL;
      VsmtpConfigGroup *group;

      if (!check_api_version (infos->pdata[i], &local_error))
        {
          g_warning ("%s", local_error->message);
          continue;
        }
      if (!load_one (self, infos->pdata[i], error))
        return NULL;
      group = declare_one (self, infos->pdata[i], NULL, error);
      if (group == NULL)
        return NULL;
      g_ptr_array_add (groups, group);
    }

  return g_steal_pointer (&groups);
}

/**
 * vsmtpd_plugins_declare:
 * @self: the plugin engine
 * @name: the module name of a plugin
 * @error: return location for an error
 *
 * Finds the plugin, checks its plugin API version, loads it (without
 * activating it) and has it declare its configuration (--check-config,
 * --print-config). The group is not read from the configuration.
 *
 * Returns: (transfer full) (nullable): the plugin's group, its keys declared
 */
VsmtpConfigGroup *
vsmtpd_plugins_declare (VsmtpdPlugins  *self,
                        const char     *name,
                        GError        **error)
{
  PeasPluginInfo *info = find_plugin (self, name, error);

  if (info == NULL || !check_api_version (info, error) || !load_one (self, info, error))
    return NULL;
  return declare_one (self, info, NULL, error);
}

/**
 * vsmtpd_plugins_configure:
 * @self: the plugin engine
 * @name: the module name of a plugin declared with vsmtpd_plugins_declare()
 * @group: its group, read from the configuration
 * @error: return location for an error
 *
 * Configures the plugin with @group, as startup does, without activating it.
 *
 * Returns: %TRUE if the plugin accepted its configuration
 */
gboolean
vsmtpd_plugins_configure (VsmtpdPlugins     *self,
                          const char        *name,
                          VsmtpConfigGroup  *group,
                          GError           **error)
{
  PeasPluginInfo *info = find_plugin (self, name, error);

  return info != NULL && run_step (self, info, STEP_CONFIGURE, group, error);
}

/* Whether a plugin of that module name is found (enabled or not) */
gboolean
vsmtpd_plugins_exists (VsmtpdPlugins *self,
                       const char    *name)
{
  return peas_engine_get_plugin_info (self->engine, name) != NULL;
}

/**
 * vsmtpd_plugins_unload_all:
 * @self: the plugin engine
 *
 * Deactivates and unloads the plugins, the last loaded first.
 */
void
vsmtpd_plugins_unload_all (VsmtpdPlugins *self)
{
  while (self->loaded->len > 0)
    {
      PeasPluginInfo *info = g_ptr_array_steal_index (self->loaded, self->loaded->len - 1);

      if (peas_plugin_info_is_loaded (info))
        peas_engine_unload_plugin (self->engine, info);
    }
}

void
vsmtpd_plugins_free (VsmtpdPlugins *self)
{
  if (self == NULL)
    return;

  vsmtpd_plugins_unload_all (self);
  g_clear_object (&self->extensions);
  g_clear_object (&self->engine);
  g_clear_object (&self->server);
  g_clear_pointer (&self->search_paths, g_ptr_array_unref);
  g_clear_pointer (&self->loaded, g_ptr_array_unref);
  g_clear_pointer (&self->activated, g_hash_table_unref);
  g_free (self);
}

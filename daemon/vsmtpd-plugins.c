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
 * are loaded one by one in the order of their priority (X-Vsmtp-Priority
 * in the .plugin file, lower first; the configured order among equals): a
 * plugin's extension is activated as it is loaded, so its signal handlers
 * are connected after those of the plugins before it, and run after them.
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
};

/* Runs before a plugin's own new-session handler (it was connected just
 * before the plugin was activated): the handlers the plugin connects to
 * the session are its own, and a failing one is named in the log. */
static void
free_owner (gpointer  data,
            GClosure *closure)
{
  g_free (data);
}

static void
mark_owner (VsmtpServer  *server,
            VsmtpSession *session,
            gpointer      user_data)
{
  vsmtp_session_set_handler_owner (session, user_data);
}

static void
on_extension_added (PeasExtensionSet *set,
                    PeasPluginInfo   *info,
                    PeasExtension    *extension,
                    gpointer          user_data)
{
  VsmtpdPlugins *self = user_data;
  g_autofree char *owner = g_strdup_printf ("plugin %s", peas_plugin_info_get_module_name (info));

  g_debug ("activating plugin %s (%s)",
           peas_plugin_info_get_module_name (info),
           peas_plugin_info_get_module_dir (info));
  g_signal_connect_data (self->server, "new-session", G_CALLBACK (mark_owner),
                         g_steal_pointer (&owner), free_owner, 0);
  vsmtp_activatable_activate (VSMTP_ACTIVATABLE (extension));
}

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

static void
on_extension_removed (PeasExtensionSet *set,
                      PeasPluginInfo   *info,
                      PeasExtension    *extension,
                      gpointer          user_data)
{
  g_debug ("deactivating plugin %s", peas_plugin_info_get_module_name (info));
  vsmtp_activatable_deactivate (VSMTP_ACTIVATABLE (extension));
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
  g_signal_connect (self->extensions, "extension-added",
                    G_CALLBACK (on_extension_added), self);
  g_signal_connect (self->extensions, "extension-removed",
                    G_CALLBACK (on_extension_removed), self);

  /* extension-added is not emitted for plugins loaded before the set */
  peas_extension_set_foreach (self->extensions,
                              (PeasExtensionSetForeachFunc) on_extension_added,
                              self);

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

/**
 * vsmtpd_plugins_check:
 * @self: the plugin engine
 * @names: the module names of the plugins
 * @error: return location for an error
 *
 * Checks that every plugin of @names exists, without loading any.
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
      if (find_plugin (self, names[i], error) == NULL)
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

static gboolean
load_one (VsmtpdPlugins  *self,
          const char     *name,
          GError        **error)
{
  g_autofree char *captured = NULL;
  g_autofree char *output = NULL;
  g_autofree char *traceback = NULL;
  StderrCapture capture;
  PeasPluginInfo *info;
  gboolean loaded;

  info = find_plugin (self, name, error);
  if (info == NULL)
    return FALSE;

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

  /* A Python plugin whose activate() raised: PyGObject printed the
   * traceback and went on. A ValueError("[group] key: problem") is the
   * plugins' way of refusing a configuration value (the shipped ones
   * do): that is a configuration error, told as the daemon tells its own
   * (VSMTPD_PLUGINS_ERROR_CONFIG, the message "[group] key: problem"). */
  if (traceback != NULL)
    {
      const char *value_error = strstr (traceback, "ValueError: [");

      g_ptr_array_add (self->loaded, info);
      if (value_error != NULL &&
          g_regex_match_simple ("^\\[[A-Za-z0-9_.-]+\\] [A-Za-z0-9_.-]+: ",
                                value_error + strlen ("ValueError: "), 0, 0))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               value_error + strlen ("ValueError: "));
          return FALSE;
        }
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "plugin \"%s\" (%s) failed to activate: %s",
                   name, peas_plugin_info_get_module_dir (info), traceback);
      return FALSE;
    }

  if (output[0] != '\0')
    {
      fputs (output, stderr);
      fflush (stderr);
    }

  if (captured != NULL)
    g_warning ("plugin \"%s\": %s", name, captured);

  g_ptr_array_add (self->loaded, info);

  if (!peas_engine_provides_extension (self->engine, info, VSMTP_TYPE_ACTIVATABLE))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "plugin \"%s\" (%s) does not implement VsmtpActivatable",
                   name, peas_plugin_info_get_module_dir (info));
      return FALSE;
    }

  g_debug ("plugin %s loaded from %s", name, peas_plugin_info_get_module_dir (info));
  return TRUE;
}

/**
 * vsmtpd_plugins_load:
 * @self: the plugin engine
 * @names: the module names of the plugins, in order
 * @error: return location for an error
 *
 * Loads and activates the plugins one after the other.
 *
 * Returns: %TRUE if every plugin was loaded
 */
gboolean
vsmtpd_plugins_load (VsmtpdPlugins       *self,
                     const char * const  *names,
                     GError             **error)
{
  g_autoptr(GPtrArray) infos = g_ptr_array_new ();

  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      PeasPluginInfo *info = find_plugin (self, names[i], error);

      if (info == NULL)
        return FALSE;
      g_ptr_array_add (infos, info);
    }

  /* g_ptr_array_sort() is a stable sort (GLib >= 2.32 uses a merge sort) */
  g_ptr_array_sort (infos, compare_priority);
  for (guint i = 0; i < infos->len; i++)
    {
      PeasPluginInfo *info = g_ptr_array_index (infos, i);

      if (!load_one (self, peas_plugin_info_get_module_name (info), error))
        return FALSE;
    }

  return TRUE;
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
  g_free (self);
}

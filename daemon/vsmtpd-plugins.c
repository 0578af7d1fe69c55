/* vsmtpd-plugins.c: the plugin engine of vsmtpd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <libpeas/peas.h>

#include "vsmtpd-log.h"
#include "vsmtpd-plugins.h"

/* One PeasEngine with the C and Python loaders, and one PeasExtensionSet
 * of VsmtpActivatable whose objects are created with the server. Plugins
 * are loaded one by one in the configured order: a plugin's extension is
 * activated as it is loaded, so its signal handlers are connected after
 * those of the plugins before it, and run after them.
 */

struct _VsmtpdPlugins
{
  VsmtpServer      *server;
  PeasEngine       *engine;
  PeasExtensionSet *extensions;
  GPtrArray        *search_paths;  /* for error messages */
  GPtrArray        *loaded;        /* PeasPluginInfo, in load order */
};

static void
on_extension_added (PeasExtensionSet *set,
                    PeasPluginInfo   *info,
                    PeasExtension    *extension,
                    gpointer          user_data)
{
  g_debug ("activating plugin %s (%s)",
           peas_plugin_info_get_module_name (info),
           peas_plugin_info_get_module_dir (info));
  vsmtp_activatable_activate (VSMTP_ACTIVATABLE (extension));
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

  g_return_val_if_fail (VSMTP_IS_SERVER (server), NULL);

  self = g_new0 (VsmtpdPlugins, 1);
  self->server = g_object_ref (server);
  self->search_paths = g_ptr_array_new_with_free_func (g_free);
  self->loaded = g_ptr_array_new ();

  self->engine = peas_engine_new ();
  peas_engine_enable_loader (self->engine, "python3");

  for (guint i = 0; extra_paths != NULL && extra_paths[i] != NULL; i++)
    add_search_path (self, extra_paths[i]);
  if (running_from_build_dir ())
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

static gboolean
load_one (VsmtpdPlugins  *self,
          const char     *name,
          GError        **error)
{
  g_autofree char *captured = NULL;
  PeasPluginInfo *info;
  gboolean loaded;

  info = find_plugin (self, name, error);
  if (info == NULL)
    return FALSE;

  if (peas_plugin_info_is_loaded (info))
    return TRUE;

  vsmtpd_log_capture_begin ("libpeas");
  loaded = peas_engine_load_plugin (self->engine, info);
  captured = vsmtpd_log_capture_end ();

  if (!loaded || !peas_plugin_info_is_loaded (info))
    {
      g_autoptr(GError) info_error = NULL;
      const char *reason = captured;

      if (reason == NULL && !peas_plugin_info_is_available (info, &info_error))
        reason = info_error->message;

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "plugin \"%s\" (%s) failed to load: %s",
                   name, peas_plugin_info_get_module_dir (info),
                   reason != NULL ? reason : "unknown error");
      return FALSE;
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
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      if (!load_one (self, names[i], error))
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

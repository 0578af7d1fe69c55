/* vsmtp-activatable.c: the interface of vsmtpd plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-activatable.h"

/**
 * VsmtpActivatable:
 *
 * The interface a vsmtpd plugin implements.
 *
 * The daemon creates one object per loaded plugin, with the
 * [property@Vsmtp.Activatable:server] property set to the running
 * [class@Vsmtp.Server], and calls [method@Vsmtp.Activatable.activate] on
 * it. Plugins are activated in the order they are listed in the
 * `[plugins] enabled` key of the configuration, which is also the order
 * in which their signal handlers run. When the plugin is unloaded (at the
 * latest when the daemon stops), [method@Vsmtp.Activatable.deactivate] is
 * called and must disconnect everything `activate` connected.
 *
 * Before that, the daemon asks the plugin for the keys of its
 * configuration group (named after its module: `[maildir]`) with
 * [method@Vsmtp.Activatable.declare_config], reads that group of the
 * configuration file against them (an unknown key, or a value of the wrong
 * type or out of range, stops vsmtpd with one line naming the file, the
 * group and the key), and calls [method@Vsmtp.Activatable.configure] with
 * the values, where the plugin takes them and may refuse them with an
 * error, which stops vsmtpd the same way. Both are optional: a plugin
 * without configuration implements neither (then any key in its group is
 * unknown).
 *
 * In `activate` a plugin connects to [signal@Vsmtp.Server::new-session];
 * from there it connects to the command signals of each
 * [class@Vsmtp.Session].
 *
 * A minimal C plugin that accepts every recipient of the domain
 * `example.org` and leaves every other decision to later plugins looks
 * like this (the type is registered as a dynamic type, because libpeas
 * loads the module as a `GTypeModule`):
 *
 * ```c
 * #include <libpeas/peas.h>
 * #include <vsmtp.h>
 *
 * struct _MyPlugin {
 *   GObject parent_instance;
 *   VsmtpServer *server;
 *   gulong new_session_id;
 * };
 *
 * static void my_plugin_iface_init (VsmtpActivatableInterface *iface);
 *
 * G_DEFINE_DYNAMIC_TYPE_EXTENDED (MyPlugin, my_plugin, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
 *                                 G_IMPLEMENT_INTERFACE_DYNAMIC (VSMTP_TYPE_ACTIVATABLE,
 *                                                                my_plugin_iface_init))
 *
 * enum { PROP_0, PROP_SERVER };
 *
 * static VsmtpReply *
 * on_rcpt_to (VsmtpSession *session,
 *             VsmtpAddress *recipient,
 *             VsmtpParameters *parameters,
 *             gpointer      user_data)
 * {
 *   if (g_strcmp0 (vsmtp_address_get_domain (recipient), "example.org") == 0)
 *     return vsmtp_reply_new_ok ();
 *   return vsmtp_reply_new_continue ();   // no opinion: the next handler decides
 * }
 *
 * static void
 * on_new_session (VsmtpServer  *server,
 *                 VsmtpSession *session,
 *                 gpointer      user_data)
 * {
 *   g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt_to), user_data);
 * }
 *
 * static void
 * my_plugin_activate (VsmtpActivatable *activatable)
 * {
 *   MyPlugin *self = MY_PLUGIN (activatable);
 *
 *   self->new_session_id = g_signal_connect (self->server, "new-session",
 *                                            G_CALLBACK (on_new_session), self);
 * }
 *
 * static void
 * my_plugin_deactivate (VsmtpActivatable *activatable)
 * {
 *   MyPlugin *self = MY_PLUGIN (activatable);
 *
 *   g_clear_signal_handler (&self->new_session_id, self->server);
 * }
 *
 * // get_property/set_property store "server" in self->server,
 * // class_init calls g_object_class_override_property (object_class,
 * // PROP_SERVER, "server"), iface_init sets iface->activate and
 * // iface->deactivate.
 *
 * G_MODULE_EXPORT void
 * peas_register_types (PeasObjectModule *module)
 * {
 *   my_plugin_register_type (G_TYPE_MODULE (module));
 *   peas_object_module_register_extension_type (module,
 *                                               VSMTP_TYPE_ACTIVATABLE,
 *                                               MY_TYPE_PLUGIN);
 * }
 * ```
 *
 * The plugin is described by a `.plugin` file installed beside the module,
 * which states the plugin API version (%VSMTP_PLUGIN_API_VERSION) it was
 * written for:
 *
 * ```ini
 * [Plugin]
 * Module=my-plugin
 * Name=My plugin
 * Description=Accepts mail for example.org
 * X-Vsmtp-Plugin-API=2
 * ```
 *
 * Python and Vala plugins implement the same interface (a Python plugin
 * adds `Loader=python3` to its `.plugin` file).
 */

G_DEFINE_INTERFACE (VsmtpActivatable, vsmtp_activatable, G_TYPE_OBJECT)

static gboolean
vsmtp_activatable_real_configure (VsmtpActivatable  *self,
                                  VsmtpConfigGroup  *group,
                                  GError           **error)
{
  return TRUE;
}

static void
vsmtp_activatable_default_init (VsmtpActivatableInterface *iface)
{
  iface->configure = vsmtp_activatable_real_configure;

  /**
   * VsmtpActivatable:server:
   *
   * The server the plugin is loaded into.
   *
   * Set once, when the plugin object is created; implementations
   * override it with g_object_class_override_property().
   */
  g_object_interface_install_property (iface,
                                       g_param_spec_object ("server", NULL, NULL,
                                                            VSMTP_TYPE_SERVER,
                                                            (G_PARAM_READWRITE |
                                                             G_PARAM_CONSTRUCT_ONLY |
                                                             G_PARAM_STATIC_STRINGS)));
}

/**
 * vsmtp_activatable_activate:
 * @self: a #VsmtpActivatable
 *
 * Activates the plugin: it connects to the signals of the server it was
 * created for.
 *
 * The daemon calls this once, right after the plugin is loaded.
 */
void
vsmtp_activatable_activate (VsmtpActivatable *self)
{
  VsmtpActivatableInterface *iface;

  g_return_if_fail (VSMTP_IS_ACTIVATABLE (self));

  iface = VSMTP_ACTIVATABLE_GET_IFACE (self);
  if (iface->activate != NULL)
    iface->activate (self);
}

/**
 * vsmtp_activatable_deactivate:
 * @self: a #VsmtpActivatable
 *
 * Deactivates the plugin: it disconnects everything
 * [method@Vsmtp.Activatable.activate] connected.
 *
 * The daemon calls this once, before the plugin is unloaded.
 */
void
vsmtp_activatable_deactivate (VsmtpActivatable *self)
{
  VsmtpActivatableInterface *iface;

  g_return_if_fail (VSMTP_IS_ACTIVATABLE (self));

  iface = VSMTP_ACTIVATABLE_GET_IFACE (self);
  if (iface->deactivate != NULL)
    iface->deactivate (self);
}

/**
 * vsmtp_activatable_declare_config:
 * @self: a #VsmtpActivatable
 * @group: the plugin's configuration group, without keys
 *
 * Has the plugin declare the keys of its configuration group, with the
 * `add_*` methods of @group: their names, types, defaults and
 * descriptions. A plugin that does not implement it has no keys.
 *
 * The daemon calls this once, after the plugin is loaded, before
 * [method@Vsmtp.Activatable.configure].
 */
void
vsmtp_activatable_declare_config (VsmtpActivatable *self,
                                  VsmtpConfigGroup *group)
{
  VsmtpActivatableInterface *iface;

  g_return_if_fail (VSMTP_IS_ACTIVATABLE (self));
  g_return_if_fail (VSMTP_IS_CONFIG_GROUP (group));

  iface = VSMTP_ACTIVATABLE_GET_IFACE (self);
  if (iface->declare_config != NULL)
    iface->declare_config (self, group);
}

/**
 * vsmtp_activatable_configure:
 * @self: a #VsmtpActivatable
 * @group: the plugin's configuration group, loaded
 * @error: return location for an error
 *
 * Configures the plugin from @group, whose values were checked against
 * the keys the plugin declared: the plugin reads them with the getters of
 * @group and checks what the types cannot check (two keys that go
 * together, a file that must be readable). A refusal is an error of the
 * %VSMTP_ERROR_INVALID_CONFIG kind whose message starts with the group and
 * the key: `[relay] protocol: "x" is neither smtp nor lmtp`; vsmtpd puts
 * the file (or the option) that set the key before it, and stops.
 *
 * The daemon calls this once, before any listener accepts a connection,
 * and before [method@Vsmtp.Activatable.activate].
 *
 * Returns: %TRUE if the plugin accepts its configuration, %FALSE with
 *   @error set otherwise
 */
gboolean
vsmtp_activatable_configure (VsmtpActivatable  *self,
                             VsmtpConfigGroup  *group,
                             GError           **error)
{
  VsmtpActivatableInterface *iface;

  g_return_val_if_fail (VSMTP_IS_ACTIVATABLE (self), FALSE);
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (group), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = VSMTP_ACTIVATABLE_GET_IFACE (self);
  if (iface->configure == NULL)
    return TRUE;
  return iface->configure (self, group, error);
}

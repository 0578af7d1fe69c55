/* vsmtp-plugin.c: a base class for plugins written in C
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-activatable.h"
#include "vsmtp-plugin.h"

/**
 * VsmtpPlugin:
 *
 * A convenience base class implementing [iface@Vsmtp.Activatable]: it holds
 * the `server` property, so a C plugin only implements the
 * [vfunc@Vsmtp.Plugin.activate] and [vfunc@Vsmtp.Plugin.deactivate] virtual
 * functions (and [vfunc@Vsmtp.Plugin.declare_config] and
 * [vfunc@Vsmtp.Plugin.configure] when it has a configuration) and reads the
 * server with [method@Vsmtp.Plugin.get_server].
 *
 * Plugins in other languages may implement the interface directly, or
 * derive from this class as well.
 */

typedef struct
{
  VsmtpServer *server;
} VsmtpPluginPrivate;

enum {
  PROP_0,
  PROP_SERVER,
  N_PROPS
};

static void vsmtp_plugin_activatable_init (VsmtpActivatableInterface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (VsmtpPlugin, vsmtp_plugin, G_TYPE_OBJECT,
                                  G_ADD_PRIVATE (VsmtpPlugin)
                                  G_IMPLEMENT_INTERFACE (VSMTP_TYPE_ACTIVATABLE,
                                                         vsmtp_plugin_activatable_init))

static void
vsmtp_plugin_activate (VsmtpActivatable *activatable)
{
  VsmtpPlugin *self = VSMTP_PLUGIN (activatable);

  if (VSMTP_PLUGIN_GET_CLASS (self)->activate != NULL)
    VSMTP_PLUGIN_GET_CLASS (self)->activate (self);
}

static void
vsmtp_plugin_deactivate (VsmtpActivatable *activatable)
{
  VsmtpPlugin *self = VSMTP_PLUGIN (activatable);

  if (VSMTP_PLUGIN_GET_CLASS (self)->deactivate != NULL)
    VSMTP_PLUGIN_GET_CLASS (self)->deactivate (self);
}

static void
vsmtp_plugin_declare_config (VsmtpActivatable *activatable,
                             VsmtpConfigGroup *group)
{
  VsmtpPlugin *self = VSMTP_PLUGIN (activatable);

  if (VSMTP_PLUGIN_GET_CLASS (self)->declare_config != NULL)
    VSMTP_PLUGIN_GET_CLASS (self)->declare_config (self, group);
}

static gboolean
vsmtp_plugin_configure (VsmtpActivatable  *activatable,
                        VsmtpConfigGroup  *group,
                        GError           **error)
{
  VsmtpPlugin *self = VSMTP_PLUGIN (activatable);

  if (VSMTP_PLUGIN_GET_CLASS (self)->configure != NULL)
    return VSMTP_PLUGIN_GET_CLASS (self)->configure (self, group, error);
  return TRUE;
}

static void
vsmtp_plugin_activatable_init (VsmtpActivatableInterface *iface)
{
  iface->activate = vsmtp_plugin_activate;
  iface->deactivate = vsmtp_plugin_deactivate;
  iface->declare_config = vsmtp_plugin_declare_config;
  iface->configure = vsmtp_plugin_configure;
}

static void
vsmtp_plugin_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  VsmtpPluginPrivate *priv = vsmtp_plugin_get_instance_private (VSMTP_PLUGIN (object));

  switch (prop_id)
    {
    case PROP_SERVER:
      g_value_set_object (value, priv->server);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_plugin_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  VsmtpPluginPrivate *priv = vsmtp_plugin_get_instance_private (VSMTP_PLUGIN (object));

  switch (prop_id)
    {
    case PROP_SERVER:
      g_set_object (&priv->server, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_plugin_dispose (GObject *object)
{
  VsmtpPluginPrivate *priv = vsmtp_plugin_get_instance_private (VSMTP_PLUGIN (object));

  g_clear_object (&priv->server);

  G_OBJECT_CLASS (vsmtp_plugin_parent_class)->dispose (object);
}

static void
vsmtp_plugin_class_init (VsmtpPluginClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = vsmtp_plugin_get_property;
  object_class->set_property = vsmtp_plugin_set_property;
  object_class->dispose = vsmtp_plugin_dispose;

  g_object_class_override_property (object_class, PROP_SERVER, "server");
}

static void
vsmtp_plugin_init (VsmtpPlugin *self)
{
}

/**
 * vsmtp_plugin_get_server:
 * @self: a plugin
 *
 * Returns: (transfer none) (nullable): the server the plugin was created
 *   for, until the plugin is disposed
 */
VsmtpServer *
vsmtp_plugin_get_server (VsmtpPlugin *self)
{
  VsmtpPluginPrivate *priv;

  g_return_val_if_fail (VSMTP_IS_PLUGIN (self), NULL);

  priv = vsmtp_plugin_get_instance_private (self);
  return priv->server;
}

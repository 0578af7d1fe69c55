/* vsmtpd-discard-plugin.c: accepts every message and throws it away
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-discard"

#include <libpeas/peas.h>
#include <vsmtp.h>

#define VSMTPD_TYPE_DISCARD_PLUGIN (vsmtpd_discard_plugin_get_type ())
G_DECLARE_FINAL_TYPE (VsmtpdDiscardPlugin, vsmtpd_discard_plugin, VSMTPD, DISCARD_PLUGIN, GObject)

struct _VsmtpdDiscardPlugin
{
  GObject      parent_instance;

  VsmtpServer *server;
  gulong       new_session_id;
};

enum {
  PROP_0,
  PROP_SERVER,
  N_PROPS
};

static void vsmtpd_discard_plugin_iface_init (VsmtpActivatableInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (VsmtpdDiscardPlugin, vsmtpd_discard_plugin, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (VSMTP_TYPE_ACTIVATABLE,
                                                               vsmtpd_discard_plugin_iface_init))

static VsmtpReply *
on_message_received (VsmtpSession *session,
                     VsmtpMessage *message,
                     gpointer      user_data)
{
  /* the session's transaction log line says "Ok: discarded" already: no
   * line of our own on this path, which benchmarks measure */
  return vsmtp_reply_new (250, "2.0.0", "Ok: discarded");
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  VsmtpdDiscardPlugin *self = user_data;

  g_signal_connect_object (session, "message-received",
                           G_CALLBACK (on_message_received), self, 0);
}

static void
vsmtpd_discard_plugin_activate (VsmtpActivatable *activatable)
{
  VsmtpdDiscardPlugin *self = VSMTPD_DISCARD_PLUGIN (activatable);

  g_return_if_fail (VSMTP_IS_SERVER (self->server));

  g_info ("discard: every message is accepted and thrown away");
  self->new_session_id = g_signal_connect_object (self->server, "new-session",
                                                  G_CALLBACK (on_new_session), self, 0);
}

static void
vsmtpd_discard_plugin_deactivate (VsmtpActivatable *activatable)
{
  VsmtpdDiscardPlugin *self = VSMTPD_DISCARD_PLUGIN (activatable);

  if (self->server != NULL)
    g_clear_signal_handler (&self->new_session_id, self->server);
}

static void
vsmtpd_discard_plugin_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  VsmtpdDiscardPlugin *self = VSMTPD_DISCARD_PLUGIN (object);

  switch (prop_id)
    {
    case PROP_SERVER:
      g_value_set_object (value, self->server);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtpd_discard_plugin_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  VsmtpdDiscardPlugin *self = VSMTPD_DISCARD_PLUGIN (object);

  switch (prop_id)
    {
    case PROP_SERVER:
      g_set_object (&self->server, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtpd_discard_plugin_dispose (GObject *object)
{
  VsmtpdDiscardPlugin *self = VSMTPD_DISCARD_PLUGIN (object);

  if (self->server != NULL)
    g_clear_signal_handler (&self->new_session_id, self->server);
  g_clear_object (&self->server);

  G_OBJECT_CLASS (vsmtpd_discard_plugin_parent_class)->dispose (object);
}

static void
vsmtpd_discard_plugin_class_init (VsmtpdDiscardPluginClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = vsmtpd_discard_plugin_get_property;
  object_class->set_property = vsmtpd_discard_plugin_set_property;
  object_class->dispose = vsmtpd_discard_plugin_dispose;

  g_object_class_override_property (object_class, PROP_SERVER, "server");
}

static void
vsmtpd_discard_plugin_class_finalize (VsmtpdDiscardPluginClass *klass)
{
}

static void
vsmtpd_discard_plugin_iface_init (VsmtpActivatableInterface *iface)
{
  iface->activate = vsmtpd_discard_plugin_activate;
  iface->deactivate = vsmtpd_discard_plugin_deactivate;
}

static void
vsmtpd_discard_plugin_init (VsmtpdDiscardPlugin *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  vsmtpd_discard_plugin_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module,
                                              VSMTP_TYPE_ACTIVATABLE,
                                              VSMTPD_TYPE_DISCARD_PLUGIN);
}

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
G_DECLARE_FINAL_TYPE (VsmtpdDiscardPlugin, vsmtpd_discard_plugin, VSMTPD, DISCARD_PLUGIN, VsmtpPlugin)

struct _VsmtpdDiscardPlugin
{
  VsmtpPlugin  parent_instance;

  gulong       new_session_id;
  /* the one answer, shared by every message: a completed reply never
   * changes, and one made per message is a GObject made and finalised
   * on the path benchmarks measure */
  VsmtpReply  *reply;
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (VsmtpdDiscardPlugin, vsmtpd_discard_plugin, VSMTP_TYPE_PLUGIN,
                                G_TYPE_FLAG_FINAL, {})

static VsmtpReply *
on_message_received (VsmtpSession *session,
                     VsmtpMessage *message,
                     gpointer      user_data)
{
  VsmtpdDiscardPlugin *self = user_data;

  /* the session's transaction log line says "Ok: discarded" already: no
   * line of our own on this path, which benchmarks measure */
  return g_object_ref (self->reply);
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
vsmtpd_discard_plugin_activate (VsmtpPlugin *plugin)
{
  VsmtpdDiscardPlugin *self = VSMTPD_DISCARD_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (plugin);

  g_return_if_fail (VSMTP_IS_SERVER (server));

  g_info ("discard: every message is accepted and thrown away");
  self->new_session_id = g_signal_connect_object (server, "new-session",
                                                  G_CALLBACK (on_new_session), self, 0);
}

static void
vsmtpd_discard_plugin_deactivate (VsmtpPlugin *plugin)
{
  VsmtpdDiscardPlugin *self = VSMTPD_DISCARD_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (plugin);

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);
}

static void
vsmtpd_discard_plugin_finalize (GObject *object)
{
  VsmtpdDiscardPlugin *self = VSMTPD_DISCARD_PLUGIN (object);

  g_clear_object (&self->reply);
  G_OBJECT_CLASS (vsmtpd_discard_plugin_parent_class)->finalize (object);
}

static void
vsmtpd_discard_plugin_class_init (VsmtpdDiscardPluginClass *klass)
{
  VsmtpPluginClass *plugin_class = VSMTP_PLUGIN_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = vsmtpd_discard_plugin_finalize;
  plugin_class->activate = vsmtpd_discard_plugin_activate;
  plugin_class->deactivate = vsmtpd_discard_plugin_deactivate;
}

static void
vsmtpd_discard_plugin_class_finalize (VsmtpdDiscardPluginClass *klass)
{
}

static void
vsmtpd_discard_plugin_init (VsmtpdDiscardPlugin *self)
{
  self->reply = vsmtp_reply_new (250, "2.0.0", "Ok: discarded");
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

/* example-c.c: a vsmtpd plugin in C, built out of tree against an installed
 * libvsmtp (tests/install/test_install.py; docs/plugins.md)
 *
 * RCPT TO:<c@example.org> gets `550 5.7.1 Refused by the C plugin`; every
 * other recipient gets no opinion, so the plugins after this one decide.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libpeas/peas.h>
#include <vsmtp.h>

#define EXAMPLE_TYPE_C_PLUGIN (example_c_plugin_get_type ())
G_DECLARE_FINAL_TYPE (ExampleCPlugin, example_c_plugin, EXAMPLE, C_PLUGIN, VsmtpPlugin)

struct _ExampleCPlugin
{
  VsmtpPlugin parent_instance;

  gulong      new_session_id;
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ExampleCPlugin, example_c_plugin, VSMTP_TYPE_PLUGIN,
                                G_TYPE_FLAG_FINAL, {})

static VsmtpReply *
on_rcpt_to (VsmtpSession    *session,
            VsmtpAddress    *recipient,
            VsmtpParameters *parameters,
            gpointer         user_data)
{
  if (g_ascii_strcasecmp (vsmtp_address_to_string (recipient), "c@example.org") == 0)
    return vsmtp_reply_new (550, "5.7.1", "Refused by the C plugin");

  return vsmtp_reply_new_continue ();   /* no opinion: the next handler decides */
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  g_signal_connect_object (session, "rcpt-to", G_CALLBACK (on_rcpt_to), user_data, 0);
}

static void
example_c_plugin_activate (VsmtpPlugin *plugin)
{
  ExampleCPlugin *self = EXAMPLE_C_PLUGIN (plugin);

  self->new_session_id = g_signal_connect_object (vsmtp_plugin_get_server (plugin),
                                                  "new-session",
                                                  G_CALLBACK (on_new_session), self, 0);
}

static void
example_c_plugin_deactivate (VsmtpPlugin *plugin)
{
  ExampleCPlugin *self = EXAMPLE_C_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (plugin);

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);
}

static void
example_c_plugin_class_init (ExampleCPluginClass *klass)
{
  VsmtpPluginClass *plugin_class = VSMTP_PLUGIN_CLASS (klass);

  plugin_class->activate = example_c_plugin_activate;
  plugin_class->deactivate = example_c_plugin_deactivate;
}

static void
example_c_plugin_class_finalize (ExampleCPluginClass *klass)
{
}

static void
example_c_plugin_init (ExampleCPlugin *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  example_c_plugin_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, VSMTP_TYPE_ACTIVATABLE,
                                              EXAMPLE_TYPE_C_PLUGIN);
}

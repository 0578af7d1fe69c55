/* test-plugin.c: the VsmtpPlugin base class
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp.h"

#define TEST_TYPE_PLUGIN (test_plugin_get_type ())
G_DECLARE_FINAL_TYPE (TestPlugin, test_plugin, TEST, PLUGIN, VsmtpPlugin)

struct _TestPlugin
{
  VsmtpPlugin  parent_instance;
  guint        activated;
  guint        deactivated;
  VsmtpServer *seen;
};

G_DEFINE_FINAL_TYPE (TestPlugin, test_plugin, VSMTP_TYPE_PLUGIN)

static void
test_plugin_activate (VsmtpPlugin *plugin)
{
  TestPlugin *self = TEST_PLUGIN (plugin);

  self->activated++;
  self->seen = vsmtp_plugin_get_server (plugin);
}

static void
test_plugin_deactivate (VsmtpPlugin *plugin)
{
  TEST_PLUGIN (plugin)->deactivated++;
}

static void
test_plugin_class_init (TestPluginClass *klass)
{
  VSMTP_PLUGIN_CLASS (klass)->activate = test_plugin_activate;
  VSMTP_PLUGIN_CLASS (klass)->deactivate = test_plugin_deactivate;
}

static void
test_plugin_init (TestPlugin *self)
{
}

static void
test_base_class (void)
{
  g_autoptr(VsmtpServer) server = vsmtp_server_new ();
  g_autoptr(TestPlugin) plugin = NULL;
  VsmtpServer *property = NULL;

  plugin = g_object_new (TEST_TYPE_PLUGIN, "server", server, NULL);
  g_assert_true (VSMTP_IS_ACTIVATABLE (plugin));
  g_assert_true (vsmtp_plugin_get_server (VSMTP_PLUGIN (plugin)) == server);
  g_object_get (plugin, "server", &property, NULL);
  g_assert_true (property == server);
  g_object_unref (property);

  vsmtp_activatable_activate (VSMTP_ACTIVATABLE (plugin));
  g_assert_cmpuint (plugin->activated, ==, 1);
  g_assert_true (plugin->seen == server);
  vsmtp_activatable_deactivate (VSMTP_ACTIVATABLE (plugin));
  g_assert_cmpuint (plugin->deactivated, ==, 1);

  /* the plugin holds the server until it is disposed */
  g_object_add_weak_pointer (G_OBJECT (server), (gpointer *) &property);
  g_clear_object (&server);
  g_assert_nonnull (property);
  g_clear_object (&plugin);
  g_assert_null (property);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/plugin/base-class", test_base_class);
  return g_test_run ();
}

/* vsmtp-plugin.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-config.h"
#include "vsmtp-server.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_PLUGIN (vsmtp_plugin_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (VsmtpPlugin, vsmtp_plugin, VSMTP, PLUGIN, GObject)

/**
 * VsmtpPluginClass:
 * @parent_class: the parent class
 * @activate: connects the plugin to the server; chain up is not needed
 * @deactivate: disconnects what @activate connected
 * @declare_config: declares the plugin's configuration keys; see
 *   [vfunc@Vsmtp.Activatable.declare_config]
 * @configure: reads the plugin's configuration; see
 *   [vfunc@Vsmtp.Activatable.configure]
 *
 * The class of [class@Vsmtp.Plugin].
 */
struct _VsmtpPluginClass
{
  GObjectClass parent_class;

  void     (*activate)       (VsmtpPlugin       *self);
  void     (*deactivate)     (VsmtpPlugin       *self);
  void     (*declare_config) (VsmtpPlugin       *self,
                              VsmtpConfigGroup  *group);
  gboolean (*configure)      (VsmtpPlugin       *self,
                              VsmtpConfigGroup  *group,
                              GError           **error);

  /*< private >*/
  gpointer padding[6];
};

VSMTP_AVAILABLE_IN_ALL
VsmtpServer *vsmtp_plugin_get_server (VsmtpPlugin *self);

G_END_DECLS

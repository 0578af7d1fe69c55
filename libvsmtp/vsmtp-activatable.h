/* vsmtp-activatable.h
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

/**
 * VSMTP_PLUGIN_API_VERSION:
 *
 * The version of the plugin interface of vsmtpd: what
 * [iface@Vsmtp.Activatable] asks of a plugin. A plugin states the version
 * it was written for in its `.plugin` file, as `X-Vsmtp-Plugin-API=2`;
 * vsmtpd refuses to load a plugin that states none or another. It is also
 * the `plugin_api_version` variable of the pkg-config file.
 *
 * Version 2: plugins declare their configuration keys
 * ([vfunc@Vsmtp.Activatable.declare_config]) and are configured
 * ([vfunc@Vsmtp.Activatable.configure]) before they are activated.
 */
#define VSMTP_PLUGIN_API_VERSION 2

#define VSMTP_TYPE_ACTIVATABLE (vsmtp_activatable_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (VsmtpActivatable, vsmtp_activatable, VSMTP, ACTIVATABLE, GObject)

/**
 * VsmtpActivatableInterface:
 * @g_iface: the parent interface
 * @activate: connects the plugin to the server (and its sessions)
 * @deactivate: disconnects everything @activate connected
 * @declare_config: declares the plugin's configuration keys in its group
 * @configure: reads the plugin's group, checked against the declared keys;
 *   refuses a bad configuration with an error
 *
 * The interface every vsmtpd plugin implements.
 */
struct _VsmtpActivatableInterface
{
  GTypeInterface g_iface;

  void     (*activate)       (VsmtpActivatable  *self);
  void     (*deactivate)     (VsmtpActivatable  *self);
  void     (*declare_config) (VsmtpActivatable  *self,
                              VsmtpConfigGroup  *group);
  gboolean (*configure)      (VsmtpActivatable  *self,
                              VsmtpConfigGroup  *group,
                              GError           **error);
};

VSMTP_AVAILABLE_IN_ALL
void vsmtp_activatable_activate   (VsmtpActivatable *self);
VSMTP_AVAILABLE_IN_ALL
void     vsmtp_activatable_deactivate     (VsmtpActivatable  *self);
VSMTP_AVAILABLE_IN_ALL
void     vsmtp_activatable_declare_config (VsmtpActivatable  *self,
                                           VsmtpConfigGroup  *group);
VSMTP_AVAILABLE_IN_ALL
gboolean vsmtp_activatable_configure      (VsmtpActivatable  *self,
                                           VsmtpConfigGroup  *group,
                                           GError           **error);

G_END_DECLS

/* vsmtp-activatable.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-server.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_ACTIVATABLE (vsmtp_activatable_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (VsmtpActivatable, vsmtp_activatable, VSMTP, ACTIVATABLE, GObject)

/**
 * VsmtpActivatableInterface:
 * @g_iface: the parent interface
 * @activate: connects the plugin to the server (and its sessions)
 * @deactivate: disconnects everything @activate connected
 *
 * The interface every vsmtpd plugin implements.
 */
struct _VsmtpActivatableInterface
{
  GTypeInterface g_iface;

  void (*activate)   (VsmtpActivatable *self);
  void (*deactivate) (VsmtpActivatable *self);
};

VSMTP_AVAILABLE_IN_ALL
void vsmtp_activatable_activate   (VsmtpActivatable *self);
VSMTP_AVAILABLE_IN_ALL
void vsmtp_activatable_deactivate (VsmtpActivatable *self);

G_END_DECLS

/* vsmtpd-reload.h: SIGHUP, the whole configuration read again
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

#include "vsmtpd-config.h"
#include "vsmtpd-plugins.h"

G_BEGIN_DECLS

typedef struct _VsmtpdReloader VsmtpdReloader;

/* Once the daemon listens as @config says (@activated: on sockets passed by
 * systemd, which a reload leaves alone). @overrides must outlive it. */
VsmtpdReloader *vsmtpd_reloader_new    (VsmtpServer                  *server,
                                        VsmtpdPlugins                *plugins,
                                        VsmtpdConfig                 *config,
                                        const VsmtpdConfigOverrides  *overrides,
                                        gboolean                      reuse_port,
                                        gboolean                      activated);
/* Reads the configuration again and applies it, or nothing of it: on
 * success *@config is the new one (the old one freed). */
gboolean        vsmtpd_reloader_reload (VsmtpdReloader               *self,
                                        VsmtpdConfig                **config,
                                        GError                      **error);
void            vsmtpd_reloader_free   (VsmtpdReloader               *self);

G_END_DECLS

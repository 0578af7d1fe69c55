/* vsmtpd-plugins.h: the plugin engine of vsmtpd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

G_BEGIN_DECLS

typedef struct _VsmtpdPlugins VsmtpdPlugins;

VsmtpdPlugins *vsmtpd_plugins_new        (VsmtpServer          *server,
                                          const char * const   *extra_paths);
gboolean       vsmtpd_plugins_check      (VsmtpdPlugins        *self,
                                          const char * const   *names,
                                          GError              **error);
gboolean       vsmtpd_plugins_load       (VsmtpdPlugins        *self,
                                          const char * const   *names,
                                          GError              **error);
gboolean       vsmtpd_plugins_reconfigure (VsmtpdPlugins       *self,
                                          GKeyFile            *keyfile,
                                          GKeyFile            *old_keyfile,
                                          GError             **error);
GPtrArray     *vsmtpd_plugins_dup_groups (VsmtpdPlugins        *self,
                                          GError              **error);
VsmtpConfigGroup *vsmtpd_plugins_declare (VsmtpdPlugins        *self,
                                          const char           *name,
                                          GError              **error);
gboolean       vsmtpd_plugins_configure  (VsmtpdPlugins        *self,
                                          const char           *name,
                                          VsmtpConfigGroup     *group,
                                          GError              **error);
gboolean       vsmtpd_plugins_exists     (VsmtpdPlugins        *self,
                                          const char           *name);
void           vsmtpd_plugins_unload_all (VsmtpdPlugins        *self);
void           vsmtpd_plugins_free       (VsmtpdPlugins        *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VsmtpdPlugins, vsmtpd_plugins_free)

G_END_DECLS

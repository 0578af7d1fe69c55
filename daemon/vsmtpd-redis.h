/* vsmtpd-redis.h: [redis], the store the plugins share their state in
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

G_BEGIN_DECLS

VsmtpConfigGroup *vsmtpd_redis_group_new (void);
gboolean          vsmtpd_redis_store_new (VsmtpConfigGroup  *group,
                                          VsmtpStore       **out_store,
                                          char             **out_key,
                                          GError           **error);

gboolean          vsmtpd_redis_shared_limits (VsmtpConfigGroup       *group,
                                              VsmtpSharedLimits      *out_limits,
                                              VsmtpStoreErrorPolicy  *out_policy,
                                              char                  **out_key,
                                              GError                **error);
void              vsmtpd_redis_apply         (VsmtpStore             *store,
                                              VsmtpSharedLimits       limits,
                                              VsmtpStoreErrorPolicy   policy,
                                              VsmtpServer            *server);

G_END_DECLS

/* vsmtp-parameters.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_PARAMETERS (vsmtp_parameters_get_type ())

typedef struct _VsmtpParameters VsmtpParameters;

VSMTP_AVAILABLE_IN_ALL
GType             vsmtp_parameters_get_type  (void) G_GNUC_CONST;
VSMTP_AVAILABLE_IN_ALL
VsmtpParameters  *vsmtp_parameters_new       (GHashTable      *table);
VSMTP_AVAILABLE_IN_ALL
VsmtpParameters  *vsmtp_parameters_ref       (VsmtpParameters *self);
VSMTP_AVAILABLE_IN_ALL
void              vsmtp_parameters_unref     (VsmtpParameters *self);
VSMTP_AVAILABLE_IN_ALL
gboolean          vsmtp_parameters_contains  (VsmtpParameters *self,
                                              const char      *keyword);
VSMTP_AVAILABLE_IN_ALL
const char       *vsmtp_parameters_get       (VsmtpParameters *self,
                                              const char      *keyword);
VSMTP_AVAILABLE_IN_ALL
guint             vsmtp_parameters_get_size  (VsmtpParameters *self);
VSMTP_AVAILABLE_IN_ALL
char            **vsmtp_parameters_dup_keywords (VsmtpParameters *self);
VSMTP_AVAILABLE_IN_ALL
GHashTable       *vsmtp_parameters_get_table (VsmtpParameters *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VsmtpParameters, vsmtp_parameters_unref)

G_END_DECLS

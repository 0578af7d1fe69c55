/* vsmtp-envelope.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-address.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_ENVELOPE (vsmtp_envelope_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpEnvelope, vsmtp_envelope, VSMTP, ENVELOPE, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpEnvelope *vsmtp_envelope_new                      (void);
VSMTP_AVAILABLE_IN_ALL
VsmtpEnvelope *vsmtp_envelope_copy                     (VsmtpEnvelope *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_envelope_set_sender               (VsmtpEnvelope *self,
                                                        VsmtpAddress  *sender,
                                                        GHashTable    *parameters);
VSMTP_AVAILABLE_IN_ALL
VsmtpAddress  *vsmtp_envelope_get_sender               (VsmtpEnvelope *self);
VSMTP_AVAILABLE_IN_ALL
GHashTable    *vsmtp_envelope_get_mail_parameters      (VsmtpEnvelope *self);
VSMTP_AVAILABLE_IN_ALL
const char    *vsmtp_envelope_get_mail_parameter       (VsmtpEnvelope *self,
                                                        const char    *name);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_envelope_get_smtputf8             (VsmtpEnvelope *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_envelope_add_recipient            (VsmtpEnvelope *self,
                                                        VsmtpAddress  *recipient,
                                                        GHashTable    *parameters);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_envelope_remove_recipient         (VsmtpEnvelope *self,
                                                        guint          index);
VSMTP_AVAILABLE_IN_ALL
guint          vsmtp_envelope_get_n_recipients         (VsmtpEnvelope *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpAddress  *vsmtp_envelope_get_recipient            (VsmtpEnvelope *self,
                                                        guint          index);
VSMTP_AVAILABLE_IN_ALL
GHashTable    *vsmtp_envelope_get_recipient_parameters (VsmtpEnvelope *self,
                                                        guint          index);
VSMTP_AVAILABLE_IN_ALL
GPtrArray     *vsmtp_envelope_dup_recipients           (VsmtpEnvelope *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_envelope_clear                    (VsmtpEnvelope *self);

G_END_DECLS

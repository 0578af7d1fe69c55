/* vsmtp-message.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-envelope.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_MESSAGE (vsmtp_message_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpMessage, vsmtp_message, VSMTP, MESSAGE, GObject)

VSMTP_AVAILABLE_IN_ALL
const char     *vsmtp_message_get_id             (VsmtpMessage  *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpEnvelope  *vsmtp_message_get_envelope       (VsmtpMessage  *self);
VSMTP_AVAILABLE_IN_ALL
guint64         vsmtp_message_get_size           (VsmtpMessage  *self);
VSMTP_AVAILABLE_IN_ALL
GDateTime      *vsmtp_message_get_received_at    (VsmtpMessage  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_message_is_spooled         (VsmtpMessage  *self);
VSMTP_AVAILABLE_IN_ALL
const char     *vsmtp_message_get_spool_path     (VsmtpMessage  *self);
VSMTP_AVAILABLE_IN_ALL
GBytes         *vsmtp_message_get_bytes          (VsmtpMessage  *self);
VSMTP_AVAILABLE_IN_ALL
GBytes         *vsmtp_message_dup_bytes          (VsmtpMessage  *self,
                                                  GError       **error);
VSMTP_AVAILABLE_IN_ALL
GInputStream   *vsmtp_message_open_stream        (VsmtpMessage  *self,
                                                  GError       **error);
VSMTP_AVAILABLE_IN_ALL
char           *vsmtp_message_dup_header         (VsmtpMessage  *self,
                                                  const char    *name);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_message_write_to_fd        (VsmtpMessage  *self,
                                                  int            fd,
                                                  GError       **error);
VSMTP_AVAILABLE_IN_ALL
guint           vsmtp_message_get_n_headers      (VsmtpMessage  *self);
VSMTP_AVAILABLE_IN_ALL
char           *vsmtp_message_dup_header_name    (VsmtpMessage  *self,
                                                  guint          index);
VSMTP_AVAILABLE_IN_ALL
char           *vsmtp_message_dup_header_value   (VsmtpMessage  *self,
                                                  guint          index);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_message_add_header         (VsmtpMessage  *self,
                                                  const char    *name,
                                                  const char    *value,
                                                  GError       **error);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_message_insert_header      (VsmtpMessage  *self,
                                                  guint          index,
                                                  const char    *name,
                                                  const char    *value,
                                                  GError       **error);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_message_change_header      (VsmtpMessage  *self,
                                                  const char    *name,
                                                  guint          occurrence,
                                                  const char    *value,
                                                  GError       **error);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_message_delete_header      (VsmtpMessage  *self,
                                                  const char    *name,
                                                  guint          occurrence);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_message_replace_body_from_stream (VsmtpMessage  *self,
                                                        GInputStream  *stream,
                                                        GCancellable  *cancellable,
                                                        GError       **error);
VSMTP_AVAILABLE_IN_ALL
gboolean        vsmtp_message_replace_body_from_bytes  (VsmtpMessage  *self,
                                                        GBytes        *body,
                                                        GError       **error);

G_END_DECLS

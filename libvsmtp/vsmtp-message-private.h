/* vsmtp-message-private.h: the writing side of VsmtpMessage, used by the session
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-message.h"

G_BEGIN_DECLS

/* Creates a message being received. Bytes appended stay in memory until
 * @spool_threshold bytes have been appended; then everything moves to a
 * temporary file in @spool_directory (NULL: g_get_tmp_dir()), which is
 * removed when the message is finalized. @envelope is copied. */
VsmtpMessage *_vsmtp_message_new_writable (const char     *id,
                                           VsmtpEnvelope  *envelope,
                                           gsize           spool_threshold,
                                           const char     *spool_directory);
gboolean      _vsmtp_message_append       (VsmtpMessage   *self,
                                           const void     *data,
                                           gsize           length,
                                           GError        **error);
/* Flushes and closes the spool file; the message becomes read-only. */
gboolean      _vsmtp_message_finish       (VsmtpMessage   *self,
                                           GError        **error);

G_END_DECLS

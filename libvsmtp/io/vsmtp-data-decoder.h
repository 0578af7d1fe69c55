/* vsmtp-data-decoder.h: SMTP DATA content decoder (dot-unstuffing, end detection)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VSMTP_TYPE_DATA_DECODER (vsmtp_data_decoder_get_type ())

G_DECLARE_FINAL_TYPE (VsmtpDataDecoder, vsmtp_data_decoder, VSMTP, DATA_DECODER, GObject)

VsmtpDataDecoder *vsmtp_data_decoder_new                (gboolean          normalize_bare_newlines);
gsize             vsmtp_data_decoder_decode             (VsmtpDataDecoder *self,
                                                         const guint8     *in,
                                                         gsize             in_length,
                                                         guint8           *out,
                                                         gsize            *out_length,
                                                         gboolean         *finished);
gboolean          vsmtp_data_decoder_is_finished        (VsmtpDataDecoder *self);
guint64           vsmtp_data_decoder_get_bare_newlines  (VsmtpDataDecoder *self);
char              vsmtp_data_decoder_get_first_bare_newline (VsmtpDataDecoder *self,
                                                             guint64          *out_line);
void              vsmtp_data_decoder_reset              (VsmtpDataDecoder *self);

G_END_DECLS

/* vsmtp-concat-input-stream.h: an input stream that reads several streams
 * one after the other
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VSMTP_TYPE_CONCAT_INPUT_STREAM (vsmtp_concat_input_stream_get_type ())

G_DECLARE_FINAL_TYPE (VsmtpConcatInputStream, vsmtp_concat_input_stream, VSMTP, CONCAT_INPUT_STREAM, GInputStream)

/* Reads each stream added, in order, to its end; closing it closes them
 * all. VsmtpMessage reads a changed message through one: the header fields
 * from memory, then the body from the spool file. Blocking reads only. */
VsmtpConcatInputStream *vsmtp_concat_input_stream_new  (void);
/* Appends @stream, taking ownership of it. */
void                    vsmtp_concat_input_stream_take (VsmtpConcatInputStream *self,
                                                        GInputStream           *stream);

G_END_DECLS

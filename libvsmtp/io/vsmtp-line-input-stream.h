/* vsmtp-line-input-stream.h: a pollable, line-oriented filter input stream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  VSMTP_LINE_NONE,       /* no complete line buffered: read more */
  VSMTP_LINE_OK,         /* *line and *length hold the next line */
  VSMTP_LINE_TOO_LONG,   /* a line longer than the limit was discarded, up to and including its LF */
} VsmtpLineStatus;

#define VSMTP_TYPE_LINE_INPUT_STREAM (vsmtp_line_input_stream_get_type ())

G_DECLARE_FINAL_TYPE (VsmtpLineInputStream, vsmtp_line_input_stream, VSMTP, LINE_INPUT_STREAM, GFilterInputStream)

VsmtpLineInputStream *vsmtp_line_input_stream_new              (GInputStream          *base_stream,
                                                                gsize                  max_line_length);
gsize                 vsmtp_line_input_stream_get_max_line_length (VsmtpLineInputStream *self);
void                  vsmtp_line_input_stream_set_max_line_length (VsmtpLineInputStream *self,
                                                                gsize                  max_line_length);
gssize                vsmtp_line_input_stream_fill_nonblocking (VsmtpLineInputStream  *self,
                                                                GCancellable          *cancellable,
                                                                GError               **error);
VsmtpLineStatus       vsmtp_line_input_stream_next_line        (VsmtpLineInputStream  *self,
                                                                char                 **line,
                                                                gsize                 *length);
gboolean              vsmtp_line_input_stream_has_line         (VsmtpLineInputStream  *self);
const guint8         *vsmtp_line_input_stream_peek_buffer      (VsmtpLineInputStream  *self,
                                                                gsize                 *length);
void                  vsmtp_line_input_stream_skip_buffer      (VsmtpLineInputStream  *self,
                                                                gsize                  count);
gsize                 vsmtp_line_input_stream_get_buffered     (VsmtpLineInputStream  *self);
void                  vsmtp_line_input_stream_push_back        (VsmtpLineInputStream  *self,
                                                                const void            *data,
                                                                gsize                  length);
void                  vsmtp_line_input_stream_release_memory   (VsmtpLineInputStream  *self);

G_END_DECLS

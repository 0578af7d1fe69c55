/* vsmtp-message-struct-private.h: the instance of VsmtpMessage, shared by
 * its units
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * VsmtpMessage is three units:
 *   vsmtp-message.c          the object, its storage (receiving into memory
 *                            or a spool file) and the readers of the content
 *   vsmtp-message-headers.c  the header section: parsing, listing, editing,
 *                            rendering the fields of a changed message
 *   vsmtp-message-body.c     replacing the body
 * Only they include this header; the session writes a message through
 * vsmtp-message-private.h.
 */
#pragma once

#include "vsmtp-message.h"

G_BEGIN_DECLS

#define COPY_BUFFER_SIZE (64 * 1024)

/* How the content is kept.
 *
 * The "source" is what was received (self->bytes in memory, or the file
 * self->spool_path; self->source_size bytes), or after a body replacement
 * the new body. Until the first change, the content is the source as is,
 * and every reader takes the fast path it always took.
 *
 * A change first parses the header section (at most HEADER_WINDOW bytes)
 * into self->fields, a small array of Field, each the exact bytes of one
 * field, line ends included (both in vsmtp-message-headers.c). The content
 * then is those fields, followed by the source from self->tail_offset on:
 * the empty line and the body, or after a replacement "\r\n" and the new
 * body. The body is never copied for a header change. */
struct _VsmtpMessage
{
  GObject parent_instance;

  char *id;
  VsmtpEnvelope *envelope;
  GDateTime *received_at;       /* made on first use from received_usec */
  gint64     received_usec;
  guint64 size;

  gsize spool_threshold;
  char *spool_directory;

  /* In memory: buffer while writable, then bytes. */
  GByteArray *buffer;
  GBytes *bytes;

  /* Spooled: path, and fd while writable. */
  char *spool_path;
  int fd;

  /* Changes: see "How the content is kept" above. */
  guint64    source_size;
  GPtrArray *fields;            /* of Field; NULL until parsed */
  guint64    tail_offset;       /* where the content after the fields begins in the source */
  GBytes    *rendered;          /* get_bytes() of a changed message in memory */

  guint finished : 1;
  guint failed : 1;
  guint edited : 1;             /* the content is fields + source from tail_offset */
  guint header_truncated : 1;   /* the header section goes on after the parsed fields */
};

/* Receives the content chunk by chunk. Returns FALSE to stop: with @error
 * set on failure, without to stop early. */
typedef gboolean (*VsmtpChunkFunc) (const guint8  *data,
                                    gsize          length,
                                    gpointer       user_data,
                                    GError       **error);

/* vsmtp-message.c: the source */

/* Passes the source's bytes [from, to) to @func (to: G_MAXUINT64 for its
 * end), from memory or read from the spool file in COPY_BUFFER_SIZE
 * chunks. */
gboolean    _vsmtp_message_copy_source      (VsmtpMessage    *self,
                                             guint64          from,
                                             guint64          to,
                                             VsmtpChunkFunc   func,
                                             gpointer         user_data,
                                             GError         **error);
/* The first @length bytes of the source (fewer if it is shorter). */
GBytes     *_vsmtp_message_read_source_head (VsmtpMessage    *self,
                                             gsize            length,
                                             GError         **error);
/* After a change: sets the size from the fields and the source, and
 * notifies VsmtpMessage:size if it changed. */
void        _vsmtp_message_update_size      (VsmtpMessage    *self);

/* vsmtp-message-headers.c: the fields */

/* Parses the header section into self->fields, once (safe on several
 * reading threads at once). */
gboolean    _vsmtp_message_ensure_fields    (VsmtpMessage    *self,
                                             GError         **error);
gsize       _vsmtp_message_fields_size      (VsmtpMessage    *self);
/* The header fields of a changed message, one after the other, in an array
 * with room for @reserve more bytes. */
GByteArray *_vsmtp_message_render_fields    (VsmtpMessage    *self,
                                             gsize            reserve);
/* Before a change: from now on the content is the fields, then the source
 * from tail_offset. */
void        _vsmtp_message_begin_edit       (VsmtpMessage    *self);
/* Header fields beyond the window (header_truncated) are kept: passes them
 * to @func from the source, in chunks, up to the end of the header
 * section. */
gboolean    _vsmtp_message_copy_header_rest (VsmtpMessage    *self,
                                             VsmtpChunkFunc   func,
                                             gpointer         user_data,
                                             GError         **error);

G_END_DECLS

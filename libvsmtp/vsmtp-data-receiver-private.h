/* vsmtp-data-receiver-private.h: a message's content, from DATA (or BDAT
 * chunks) to the spooled VsmtpMessage
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The receiver counts and checks the content as it comes (the size limit,
 * the header-size and line-length limits, NULs, bare newlines), spools it
 * into the message, and at the end says whether the message is refused and
 * with which reply. Content is fed in chunks: _vsmtp_data_receiver_feed()
 * takes it as it is (BDAT's chunks), _vsmtp_data_receiver_feed_data() is
 * the DATA front end (dot-stuffing removed, the end at CRLF.CRLF). The
 * session keeps the state machine and the message-received decision.
 */
#pragma once

#include "vsmtp-message.h"
#include "vsmtp-reply.h"
#include "vsmtp-settings-private.h"

G_BEGIN_DECLS

typedef struct _VsmtpDataReceiver VsmtpDataReceiver;

VsmtpDataReceiver *_vsmtp_data_receiver_new         (void);
void               _vsmtp_data_receiver_free        (VsmtpDataReceiver *self);

/* A new message: @message (transfer full) is spooled into, with @settings'
 * limits and bare-newline policy (read as the content comes). */
void               _vsmtp_data_receiver_begin       (VsmtpDataReceiver *self,
                                                     VsmtpSettings     *settings,
                                                     VsmtpMessage      *message);
/* BODY=BINARYMIME content (RFC 3030), after begin: NULs and lines of any
 * length are content, not reasons to refuse the message. */
void               _vsmtp_data_receiver_set_binary  (VsmtpDataReceiver *self,
                                                     gboolean           binary);
/* @length bytes of content, as they are. */
void               _vsmtp_data_receiver_feed        (VsmtpDataReceiver *self,
                                                     const guint8      *bytes,
                                                     gsize              length);
/* DATA's bytes as the client sent them: decodes what it can of @in (at most
 * one chunk) and feeds the content. Returns how many bytes of @in it
 * consumed; *finished once the end of data was consumed. */
gsize              _vsmtp_data_receiver_feed_data   (VsmtpDataReceiver *self,
                                                     const guint8      *in,
                                                     gsize              length,
                                                     gboolean          *finished);
/* The end of the content: NULL when the message is complete and spooled,
 * or the reply that refuses it (552, 500, 554, 550, 451). @error is set
 * when the spool failed just now (the caller logs it). */
VsmtpReply        *_vsmtp_data_receiver_finish      (VsmtpDataReceiver *self,
                                                     GError           **error);

/* The message being received, or received, until the next reset. */
VsmtpMessage      *_vsmtp_data_receiver_get_message (VsmtpDataReceiver *self);
/* The content's size so far, as received (before any change). */
guint64            _vsmtp_data_receiver_get_size    (VsmtpDataReceiver *self);
/* Drops the message: the transaction is over. */
void               _vsmtp_data_receiver_reset       (VsmtpDataReceiver *self);

G_END_DECLS

/* vsmtp-connection-private.h: one client connection's streams
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 *
 * A VsmtpConnection owns the GIOStream of a connection and what is built on
 * it: the line input stream, the output buffer (replies are queued and
 * written once per pipelined group, with back-pressure), the read source,
 * the deadline, the close (after the output, or now) and the STARTTLS
 * upgrade, whose TLS layer reads the bytes already buffered first (pushed
 * back, never parsed as SMTP). It decides nothing about SMTP: its owner (the
 * session) tells it what to do and hears back through plain callbacks.
 *
 * The owner owns the connection and frees it when finalized; the
 * connection keeps a reference to the owner while an asynchronous operation
 * (a write, the handshake, the close) is in flight.
 */
#pragma once

#include <gio/gio.h>

#include "vsmtp-line-input-stream.h"

G_BEGIN_DECLS

typedef struct _VsmtpConnection VsmtpConnection;

typedef struct {
  /* @n bytes were read into the line stream; 0: the client closed its side
   * (nothing more is read) */
  void (*received)       (gpointer      owner,
                          gsize         n);
  /* everything queued is written; @after_wait when a write had to wait for
   * the client (the owner may go on with what it held back) */
  void (*drained)        (gpointer      owner,
                          gboolean      after_wait);
  /* the connection is done: a read or write error, or the output queued
   * before vsmtp_connection_close_after_flush() is written. The owner
   * closes it with vsmtp_connection_close(). */
  void (*finished)       (gpointer      owner);
  /* the deadline passed */
  void (*timed_out)      (gpointer      owner);
  /* the TLS handshake ended: @error is NULL when it succeeded (a timeout is
   * G_IO_ERROR_TIMED_OUT). Called when the connection was closed meanwhile
   * too. */
  void (*handshake_done) (gpointer      owner,
                          const GError *error);
} VsmtpConnectionCallbacks;

/* @log_id prefixes the connection's debug lines (borrowed: it outlives the
 * connection); @owner (a GObject) hears from @callbacks. */
VsmtpConnection      *vsmtp_connection_new                (GIOStream                      *stream,
                                                           gsize                           max_line_length,
                                                           const char                     *log_id,
                                                           gpointer                        owner,
                                                           const VsmtpConnectionCallbacks *callbacks);
void                  vsmtp_connection_free               (VsmtpConnection                *self);

/* The stream the connection was made with (not the TLS one). */
GIOStream            *vsmtp_connection_get_stream         (VsmtpConnection                *self);
/* Whether the input can be polled: a connection that cannot is unusable. */
gboolean              vsmtp_connection_can_poll           (VsmtpConnection                *self);
/* The line stream: the plain one, then the one on TLS after STARTTLS. */
VsmtpLineInputStream *vsmtp_connection_get_input          (VsmtpConnection                *self);

/* Output: replies are appended to the output buffer, and written by
 * vsmtp_connection_flush(). The buffer is the same GString for the
 * connection's life (a write swaps its contents, not the pointer). */
GString              *vsmtp_connection_get_output_buffer  (VsmtpConnection                *self);
void                  vsmtp_connection_flush              (VsmtpConnection                *self);
/* A write is waiting for the client and much more is queued: read no more
 * commands until it drains. */
gboolean              vsmtp_connection_is_congested       (VsmtpConnection                *self);

/* Input: "received" is called as bytes come, until stopped. */
void                  vsmtp_connection_wait_readable      (VsmtpConnection                *self);
void                  vsmtp_connection_stop_reading       (VsmtpConnection                *self);
/* The client closed its side. */
gboolean              vsmtp_connection_at_eof             (VsmtpConnection                *self);

/* The deadline (monotonic time): "timed_out" is called then. It may move
 * often (each command): moving it later costs no wakeup. */
void                  vsmtp_connection_set_deadline       (VsmtpConnection                *self,
                                                           gint64                          deadline);
gboolean              vsmtp_connection_has_deadline       (VsmtpConnection                *self);
void                  vsmtp_connection_clear_deadline     (VsmtpConnection                *self);

/* Closing: once the output is written (reading stops; "finished" is called
 * then), or now (the streams are closed, a handshake in progress cancelled
 * and its streams closed once it returns). */
void                  vsmtp_connection_close_after_flush  (VsmtpConnection                *self);
void                  vsmtp_connection_close              (VsmtpConnection                *self);
gboolean              vsmtp_connection_is_closing         (VsmtpConnection                *self);

/* TLS: starts the handshake as a server with @certificate, over the line
 * stream, so that what the client sent after STARTTLS and the line stream
 * buffered is handed to TLS first. Reading stops until it ends
 * ("handshake_done"), within @timeout seconds. FALSE (with @error) when the
 * TLS connection cannot be made. */
gboolean              vsmtp_connection_start_tls          (VsmtpConnection                *self,
                                                           GTlsCertificate                *certificate,
                                                           guint                           timeout,
                                                           GError                        **error);
gboolean              vsmtp_connection_is_handshaking     (VsmtpConnection                *self);
/* Once the handshake succeeded: the TLS connection and its cipher suite. */
GTlsConnection       *vsmtp_connection_get_tls            (VsmtpConnection                *self);
const char           *vsmtp_connection_get_tls_cipher     (VsmtpConnection                *self);
/* TRUE once the client tried to renegotiate TLS and was refused (the read
 * failed and the connection is finished) */
gboolean              vsmtp_connection_renegotiation_refused (VsmtpConnection             *self);

G_END_DECLS

/* vsmtp-tls-record-watcher.h: a pollable filter input stream under a TLS
 * server connection that refuses client-initiated renegotiation
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VSMTP_TYPE_TLS_RECORD_WATCHER (vsmtp_tls_record_watcher_get_type ())

G_DECLARE_FINAL_TYPE (VsmtpTlsRecordWatcher, vsmtp_tls_record_watcher, VSMTP, TLS_RECORD_WATCHER, GFilterInputStream)

/* Wraps the input a GTlsServerConnection reads its records from (the
 * client's bytes, pushed-back ones included). Every byte handed to the TLS
 * layer goes through a small TLS record parser. Once
 * vsmtp_tls_record_watcher_handshake_done() was called, a record of
 * content type 22 (handshake) from the client is a renegotiation attempt:
 * in TLS 1.2 only a renegotiating ClientHello comes in such a record after
 * the handshake, and in TLS 1.3 every record after the handshake has the
 * outer type 23. Past @max_renegotiations attempts, reads fail with
 * G_IO_ERROR_PERMISSION_DENIED (the TLS connection fails and the session
 * closes), and vsmtp_tls_record_watcher_get_refused() is TRUE.
 *
 * glib-networking reads from here on a worker thread during handshakes and
 * from the main thread otherwise, never both at once; the handshake-done
 * flag and the counters are atomic. */
GInputStream *vsmtp_tls_record_watcher_new               (GInputStream          *base_stream,
                                                          guint                  max_renegotiations);
void          vsmtp_tls_record_watcher_handshake_done    (VsmtpTlsRecordWatcher *self);
guint         vsmtp_tls_record_watcher_get_renegotiations (VsmtpTlsRecordWatcher *self);
gboolean      vsmtp_tls_record_watcher_get_refused       (VsmtpTlsRecordWatcher *self);

G_END_DECLS

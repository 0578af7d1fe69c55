/* vsmtp-server.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-session.h"
#include "vsmtp-metrics.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VsmtpBareNewlinePolicy:
 * @VSMTP_BARE_NEWLINE_REJECT: a message containing a bare CR or LF is
 *   rejected with `550 5.5.2` once its end has been received; the reply
 *   names the first such line
 * @VSMTP_BARE_NEWLINE_NORMALIZE: a bare CR or LF is stored as CRLF (the
 *   default)
 *
 * What to do with a bare CR or LF in message content. Neither ever ends
 * the message: only CRLF "." CRLF does.
 */
typedef enum {
  VSMTP_BARE_NEWLINE_REJECT,
  VSMTP_BARE_NEWLINE_NORMALIZE,
} VsmtpBareNewlinePolicy;

/**
 * VsmtpListenFlags:
 * @VSMTP_LISTEN_FLAGS_NONE: plain SMTP; STARTTLS is offered when the server
 *   has a certificate
 * @VSMTP_LISTEN_FLAGS_IMPLICIT_TLS: implicit TLS (RFC 8314, port 465 style):
 *   the TLS handshake happens before the greeting
 * @VSMTP_LISTEN_FLAGS_AUTH_REQUIRED: a submission listener: MAIL before a
 *   successful AUTH gets `530 5.7.0 Authentication required`
 * @VSMTP_LISTEN_FLAGS_REUSE_PORT: bind with `SO_REUSEPORT`, so that several
 *   processes can listen on the same address and the kernel spreads the
 *   connections between them
 *
 * How connections on a listener are handled.
 */
typedef enum /*< flags >*/ {
  VSMTP_LISTEN_FLAGS_NONE         = 0,
  VSMTP_LISTEN_FLAGS_IMPLICIT_TLS  = 1 << 0,
  VSMTP_LISTEN_FLAGS_AUTH_REQUIRED = 1 << 1,
  VSMTP_LISTEN_FLAGS_REUSE_PORT    = 1 << 2,
} VsmtpListenFlags;

#define VSMTP_TYPE_SERVER (vsmtp_server_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpServer, vsmtp_server, VSMTP, SERVER, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpServer   *vsmtp_server_new                    (void);

VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_server_listen                 (VsmtpServer          *self,
                                                    GSocketAddress       *address,
                                                    GSocketAddress      **effective_address,
                                                    GError              **error);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_server_listen_full            (VsmtpServer          *self,
                                                    GSocketAddress       *address,
                                                    VsmtpListenFlags      flags,
                                                    GSocketAddress      **effective_address,
                                                    GError              **error);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_server_listen_socket_full     (VsmtpServer          *self,
                                                    GSocket              *socket,
                                                    VsmtpListenFlags      flags,
                                                    GError              **error);
VSMTP_AVAILABLE_IN_ALL
VsmtpSession  *vsmtp_server_handle_connection_full (VsmtpServer          *self,
                                                    GIOStream            *stream,
                                                    GSocketAddress       *remote_address,
                                                    VsmtpListenFlags      flags);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_server_listen_socket          (VsmtpServer          *self,
                                                    GSocket              *socket,
                                                    GError              **error);
VSMTP_AVAILABLE_IN_ALL
GList         *vsmtp_server_get_listen_addresses   (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_stop_listening         (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpSession  *vsmtp_server_handle_connection      (VsmtpServer          *self,
                                                    GIOStream            *stream,
                                                    GSocketAddress       *remote_address);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_shutdown_async         (VsmtpServer          *self,
                                                    guint                 grace_seconds,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_server_shutdown_finish        (VsmtpServer          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_server_shorten_shutdown       (VsmtpServer          *self,
                                                    guint                 grace_seconds);

VSMTP_AVAILABLE_IN_ALL
const char    *vsmtp_server_get_hostname           (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_hostname           (VsmtpServer          *self,
                                                    const char           *hostname);
VSMTP_AVAILABLE_IN_ALL
guint64        vsmtp_server_get_max_message_size   (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_max_message_size   (VsmtpServer          *self,
                                                    guint64               max_message_size);
VSMTP_AVAILABLE_IN_ALL
guint          vsmtp_server_get_max_recipients     (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_max_recipients     (VsmtpServer          *self,
                                                    guint                 max_recipients);
VSMTP_AVAILABLE_IN_ALL
guint          vsmtp_server_get_max_line_length    (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_max_line_length    (VsmtpServer          *self,
                                                    guint                 max_line_length);
VSMTP_AVAILABLE_IN_ALL
guint          vsmtp_server_get_timeout            (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_timeout            (VsmtpServer          *self,
                                                    guint                 seconds);
VSMTP_AVAILABLE_IN_ALL
guint          vsmtp_server_get_decision_timeout   (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_decision_timeout   (VsmtpServer          *self,
                                                    guint                 milliseconds);
VSMTP_AVAILABLE_IN_ALL
gsize          vsmtp_server_get_spool_threshold    (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_spool_threshold    (VsmtpServer          *self,
                                                    gsize                 bytes);
VSMTP_AVAILABLE_IN_ALL
const char    *vsmtp_server_get_spool_directory    (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_spool_directory    (VsmtpServer          *self,
                                                    const char           *directory);
VSMTP_AVAILABLE_IN_ALL
VsmtpBareNewlinePolicy vsmtp_server_get_bare_newline (VsmtpServer        *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_bare_newline       (VsmtpServer          *self,
                                                    VsmtpBareNewlinePolicy policy);
VSMTP_AVAILABLE_IN_ALL
GKeyFile      *vsmtp_server_get_config             (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_config             (VsmtpServer          *self,
                                                    GKeyFile             *config);
VSMTP_AVAILABLE_IN_ALL
GTlsCertificate *vsmtp_server_get_tls_certificate  (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_tls_certificate    (VsmtpServer          *self,
                                                    GTlsCertificate      *certificate);
VSMTP_AVAILABLE_IN_ALL
gboolean       vsmtp_server_get_require_tls        (VsmtpServer          *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_require_tls        (VsmtpServer          *self,
                                                    gboolean              require_tls);
VSMTP_AVAILABLE_IN_ALL
guint          vsmtp_server_get_tls_handshake_timeout (VsmtpServer       *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_tls_handshake_timeout (VsmtpServer       *self,
                                                    guint                 seconds);
VSMTP_AVAILABLE_IN_ALL
const char * const *vsmtp_server_get_auth_mechanisms (VsmtpServer        *self);
VSMTP_AVAILABLE_IN_ALL
void           vsmtp_server_set_auth_mechanisms    (VsmtpServer          *self,
                                                    const char * const   *mechanisms);
VSMTP_AVAILABLE_IN_ALL
guint          vsmtp_server_get_n_sessions         (VsmtpServer          *self);

VSMTP_AVAILABLE_IN_ALL
void             vsmtp_server_set_handler_owner      (VsmtpServer          *self,
                                                      GObject              *object,
                                                      const char           *owner);

VSMTP_AVAILABLE_IN_ALL
VsmtpMetrics  *vsmtp_server_get_metrics            (VsmtpServer          *self);

G_END_DECLS

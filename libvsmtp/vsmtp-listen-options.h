/* vsmtp-listen-options.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-server.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VsmtpProtocol:
 * @VSMTP_PROTOCOL_SMTP: SMTP and ESMTP (RFC 5321): `HELO` and `EHLO`
 * @VSMTP_PROTOCOL_LMTP: LMTP (RFC 2033): `LHLO`, and one reply per
 *   recipient after the message
 *
 * The protocol a listener speaks.
 */
typedef enum {
  VSMTP_PROTOCOL_SMTP,
  VSMTP_PROTOCOL_LMTP,
} VsmtpProtocol;

/**
 * VsmtpProxyProtocol:
 * @VSMTP_PROXY_PROTOCOL_OFF: connections start with the client's own bytes
 * @VSMTP_PROXY_PROTOCOL_V1: each connection starts with a PROXY protocol
 *   version 1 (text) header
 * @VSMTP_PROXY_PROTOCOL_V2: each connection starts with a version 2
 *   (binary) header
 * @VSMTP_PROXY_PROTOCOL_ANY: either version
 *
 * Whether a listener expects the PROXY protocol header that a load balancer
 * such as HAProxy sends before the client's bytes.
 */
typedef enum {
  VSMTP_PROXY_PROTOCOL_OFF,
  VSMTP_PROXY_PROTOCOL_V1,
  VSMTP_PROXY_PROTOCOL_V2,
  VSMTP_PROXY_PROTOCOL_ANY,
} VsmtpProxyProtocol;

#define VSMTP_TYPE_LISTEN_OPTIONS (vsmtp_listen_options_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpListenOptions, vsmtp_listen_options, VSMTP, LISTEN_OPTIONS, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpListenOptions  *vsmtp_listen_options_new                     (void);
VSMTP_AVAILABLE_IN_ALL
const char          *vsmtp_listen_options_get_name                (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_name                (VsmtpListenOptions  *self,
                                                                   const char          *name);
VSMTP_AVAILABLE_IN_ALL
VsmtpListenFlags     vsmtp_listen_options_get_flags               (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_flags               (VsmtpListenOptions  *self,
                                                                   VsmtpListenFlags     flags);
VSMTP_AVAILABLE_IN_ALL
VsmtpProtocol        vsmtp_listen_options_get_protocol            (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_protocol            (VsmtpListenOptions  *self,
                                                                   VsmtpProtocol        protocol);
VSMTP_AVAILABLE_IN_ALL
VsmtpProxyProtocol   vsmtp_listen_options_get_proxy_protocol      (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_proxy_protocol      (VsmtpListenOptions  *self,
                                                                   VsmtpProxyProtocol   proxy_protocol);
VSMTP_AVAILABLE_IN_ALL
const char * const  *vsmtp_listen_options_get_proxy_trusted       (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean             vsmtp_listen_options_set_proxy_trusted       (VsmtpListenOptions  *self,
                                                                   const char * const  *networks,
                                                                   GError             **error);
VSMTP_AVAILABLE_IN_ALL
const char * const  *vsmtp_listen_options_get_xclient_trusted     (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
gboolean             vsmtp_listen_options_set_xclient_trusted     (VsmtpListenOptions  *self,
                                                                   const char * const  *networks,
                                                                   GError             **error);
VSMTP_AVAILABLE_IN_ALL
const char * const  *vsmtp_listen_options_get_disabled_extensions (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_disabled_extensions (VsmtpListenOptions  *self,
                                                                   const char * const  *keywords);
VSMTP_AVAILABLE_IN_ALL
gboolean             vsmtp_listen_options_get_lmtp_received_header (VsmtpListenOptions *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_lmtp_received_header (VsmtpListenOptions *self,
                                                                    gboolean            received_header);

VSMTP_AVAILABLE_IN_ALL
guint64              vsmtp_listen_options_get_max_message_size    (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_max_message_size    (VsmtpListenOptions  *self,
                                                                   guint64              value);
VSMTP_AVAILABLE_IN_ALL
guint                vsmtp_listen_options_get_max_recipients      (VsmtpListenOptions  *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_max_recipients      (VsmtpListenOptions  *self,
                                                                   guint                value);
VSMTP_AVAILABLE_IN_ALL
guint                vsmtp_listen_options_get_max_connections_per_client (VsmtpListenOptions *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_listen_options_set_max_connections_per_client (VsmtpListenOptions *self,
                                                                          guint               value);

VSMTP_AVAILABLE_IN_ALL
gboolean             vsmtp_server_listen_with_options             (VsmtpServer         *self,
                                                                   GSocketAddress      *address,
                                                                   VsmtpListenOptions  *options,
                                                                   GSocketAddress     **effective_address,
                                                                   GError             **error);
VSMTP_AVAILABLE_IN_ALL
gboolean             vsmtp_server_listen_socket_with_options      (VsmtpServer         *self,
                                                                   GSocket             *socket,
                                                                   VsmtpListenOptions  *options,
                                                                   GError             **error);
VSMTP_AVAILABLE_IN_ALL
VsmtpSession        *vsmtp_server_handle_connection_with_options  (VsmtpServer         *self,
                                                                   GIOStream           *stream,
                                                                   GSocketAddress      *remote_address,
                                                                   VsmtpListenOptions  *options);
VSMTP_AVAILABLE_IN_ALL
gboolean             vsmtp_server_stop_listening_on               (VsmtpServer         *self,
                                                                   GSocketAddress      *address);
VSMTP_AVAILABLE_IN_ALL
gboolean             vsmtp_server_set_listen_options_on           (VsmtpServer         *self,
                                                                   GSocketAddress      *address,
                                                                   VsmtpListenOptions  *options);
VSMTP_AVAILABLE_IN_ALL
VsmtpListenOptions  *vsmtp_session_get_listen_options             (VsmtpSession        *self);

G_END_DECLS

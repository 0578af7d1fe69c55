/* vsmtp-proxy-header.h: what a load balancer said about a connection (the
 * PROXY protocol, versions 1 and 2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-session.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VsmtpProxySslFlags:
 * @VSMTP_PROXY_SSL_NONE: the client did not use TLS with the proxy
 * @VSMTP_PROXY_SSL_CLIENT_SSL: the client connected over TLS
 *   (`PP2_CLIENT_SSL`)
 * @VSMTP_PROXY_SSL_CLIENT_CERT_CONN: the client presented a certificate on
 *   this connection (`PP2_CLIENT_CERT_CONN`)
 * @VSMTP_PROXY_SSL_CLIENT_CERT_SESS: the client presented a certificate at
 *   least once in the TLS session this connection belongs to
 *   (`PP2_CLIENT_CERT_SESS`)
 *
 * The client field of a PROXY v2 `PP2_TYPE_SSL` TLV.
 */
typedef enum /*< flags >*/ {
  VSMTP_PROXY_SSL_NONE             = 0,
  VSMTP_PROXY_SSL_CLIENT_SSL       = 1 << 0,
  VSMTP_PROXY_SSL_CLIENT_CERT_CONN = 1 << 1,
  VSMTP_PROXY_SSL_CLIENT_CERT_SESS = 1 << 2,
} VsmtpProxySslFlags;

#define VSMTP_TYPE_PROXY_HEADER (vsmtp_proxy_header_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpProxyHeader, vsmtp_proxy_header, VSMTP, PROXY_HEADER, GObject)

VSMTP_AVAILABLE_IN_ALL
guint               vsmtp_proxy_header_get_version             (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
gboolean            vsmtp_proxy_header_is_local                (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
GSocketAddress     *vsmtp_proxy_header_get_source_address      (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
GSocketAddress     *vsmtp_proxy_header_get_destination_address (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
GSocketAddress     *vsmtp_proxy_header_get_peer_address        (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
GBytes             *vsmtp_proxy_header_get_tlv                 (VsmtpProxyHeader *self,
                                                                guint             type);
VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_proxy_header_get_alpn                (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_proxy_header_get_authority           (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
GBytes             *vsmtp_proxy_header_get_unique_id           (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
gboolean            vsmtp_proxy_header_has_ssl                 (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpProxySslFlags  vsmtp_proxy_header_get_ssl_flags           (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
guint32             vsmtp_proxy_header_get_ssl_verify          (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_proxy_header_get_ssl_version         (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_proxy_header_get_ssl_cn              (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_proxy_header_get_ssl_cipher          (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_proxy_header_get_ssl_sig_alg         (VsmtpProxyHeader *self);
VSMTP_AVAILABLE_IN_ALL
const char         *vsmtp_proxy_header_get_ssl_key_alg         (VsmtpProxyHeader *self);

VSMTP_AVAILABLE_IN_ALL
VsmtpProxyHeader   *vsmtp_session_get_proxy_header             (VsmtpSession     *self);

G_END_DECLS

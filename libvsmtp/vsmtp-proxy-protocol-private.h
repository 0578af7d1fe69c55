/* vsmtp-proxy-protocol-private.h: the PROXY protocol header parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 *
 * A pure parser, driven by whoever reads the bytes (the listener's PROXY
 * reader, the unit test, the fuzzer): _vsmtp_proxy_scan() says from the
 * first bytes of a connection how many more may be read without reading
 * past the header, or how long the header is once it is whole;
 * _vsmtp_proxy_parse() makes the header object of a whole header.
 */
#pragma once

#include "vsmtp-proxy-header.h"

G_BEGIN_DECLS

/* The longest v1 line, CRLF included (proxy-protocol.txt, 2.1) */
#define VSMTP_PROXY_V1_MAX   107
/* The v2 fixed part: signature, version/command, family, length */
#define VSMTP_PROXY_V2_FIXED 16
/* The most TLV bytes we take after the addresses of a v2 header: HAProxy
 * sends a few hundred at most; 65535 is the format's limit */
#define VSMTP_PROXY_V2_MAX_LENGTH 4096

/* which versions a listener takes */
typedef enum {
  VSMTP_PROXY_ACCEPT_V1 = 1 << 0,
  VSMTP_PROXY_ACCEPT_V2 = 1 << 1,
} VsmtpProxyAccept;

typedef enum {
  VSMTP_PROXY_SCAN_MORE,     /* read more: *want bytes at most */
  VSMTP_PROXY_SCAN_COMPLETE, /* the header is the first *want bytes */
  VSMTP_PROXY_SCAN_ERROR,
} VsmtpProxyScan;

/* Looks at the first @length bytes of a connection. MORE: up to *@want more
 * bytes may be read, and with *@exact FALSE (a v1 line) the reader must stop
 * at the first CRLF (peek, then read up to it); with *@exact TRUE exactly
 * *@want bytes belong to the header. COMPLETE: the header is *@want bytes
 * long (bytes past it belong to the protocol behind). */
VsmtpProxyScan    _vsmtp_proxy_scan  (const guint8      *data,
                                      gsize              length,
                                      VsmtpProxyAccept   accept,
                                      gsize             *want,
                                      gboolean          *exact,
                                      GError           **error);

/* Parses the whole header @data (as COMPLETE said); @peer is the socket's
 * peer address (nullable), kept in the header object. */
VsmtpProxyHeader *_vsmtp_proxy_parse (const guint8      *data,
                                      gsize              length,
                                      GSocketAddress    *peer,
                                      GError           **error);

G_END_DECLS

/* vsmtp-proxy-reader-private.h: reads a connection's PROXY protocol header
 * off its socket, before the session exists
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 */
#pragma once

#include <gio/gio.h>

#include "vsmtp-listen-options.h"
#include "vsmtp-proxy-header.h"

G_BEGIN_DECLS

/* The time a proxy has to send its header, unless the server's TLS
 * handshake timeout is set (proxy-protocol.txt asks for 3 s at least) */
#define VSMTP_PROXY_DEFAULT_TIMEOUT 10

/* @header: the header read, or NULL when none could be (the reader logged
 * why and closed @client). */
typedef void (*VsmtpProxyReaderFunc) (GSocket            *client,
                                      VsmtpListenOptions *options,
                                      VsmtpProxyHeader   *header,
                                      gpointer            user_data);

/* Reads the header that @options' proxy-protocol setting asks for from the
 * accepted @client, exactly: not one byte past it (the TLS handshake or the
 * SMTP session reads the rest), within @timeout_seconds, and calls @func.
 * @user_data is held through a weak pointer to the GObject it is: @func is
 * called with NULL user_data if it was finalized meanwhile. The peer must
 * have been checked against proxy-trusted already. */
void _vsmtp_proxy_reader_start (GSocket              *client,
                                VsmtpListenOptions   *options,
                                guint                 timeout_seconds,
                                VsmtpProxyReaderFunc  func,
                                GObject              *user_data);

/* The peer's address as text for a log line ("unix socket" for a
 * UNIX-domain one). */
char *_vsmtp_proxy_describe_peer (GSocketAddress *address);

G_END_DECLS

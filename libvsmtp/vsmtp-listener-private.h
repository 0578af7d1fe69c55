/* vsmtp-listener-private.h: a listening socket and its accept loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vsmtp-listen-options.h"

G_BEGIN_DECLS

typedef struct _VsmtpListener VsmtpListener;

/* Called for each connection accepted, on the listener's main context,
 * with the new socket (TCP_NODELAY set, blocking off) and the peer's
 * address as accept() gave it (NULL if it did not). Returns FALSE to
 * stop the current batch (the server stopped listening, say). */
typedef gboolean (*VsmtpListenerAcceptFunc) (VsmtpListener    *listener,
                                             GSocket          *client,
                                             GSocketAddress   *remote,
                                             VsmtpListenOptions *options,
                                             gpointer          user_data);

/* Watches @socket, whose connections are handled with @options (a
 * reference is taken: the caller passes a copy nobody changes). Watches @socket (already bound and listening) on the thread-default main
 * context. @user_data is not owned and must outlive the listener. */
VsmtpListener  *_vsmtp_listener_new               (GSocket                  *socket,
                                                   VsmtpListenOptions       *options,
                                                   VsmtpListenerAcceptFunc   func,
                                                   gpointer                  user_data,
                                                   GError                  **error);
/* Stops watching and closes the socket. */
void            _vsmtp_listener_free              (VsmtpListener            *self);

GSocketAddress *_vsmtp_listener_get_local_address (VsmtpListener            *self);
/* Connections accepted from now on are handled with @options (a reference
 * is taken, as by _vsmtp_listener_new()) */
void            _vsmtp_listener_set_options       (VsmtpListener            *self,
                                                   VsmtpListenOptions       *options);
/* The options connections are handled with (transfer none) */
VsmtpListenOptions *_vsmtp_listener_get_options (VsmtpListener          *self);
/* Paused: not accepting (the socket stays bound and listening, so
 * connections wait in its backlog until resumed) */
gboolean        _vsmtp_listener_get_paused        (VsmtpListener            *self);
void            _vsmtp_listener_set_paused        (VsmtpListener            *self,
                                                   gboolean                  paused);

G_END_DECLS

/* vsmtp-listen-options-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-listen-options.h"

G_BEGIN_DECLS

/* A copy the server keeps while listening: the caller's object may change
 * afterwards without effect. */
VsmtpListenOptions *_vsmtp_listen_options_copy               (VsmtpListenOptions *self);
/* Options with @flags and everything else at its default. */
VsmtpListenOptions *_vsmtp_listen_options_new_for_flags      (VsmtpListenFlags    flags);

/* Whether @peer (the socket's peer, before any PROXY header or XCLIENT
 * rewrote the client address) is in proxy-trusted / xclient-trusted.
 * FALSE for a NULL @peer (a UNIX-domain socket) unless the list holds
 * "unix". */
gboolean _vsmtp_listen_options_proxy_trusts         (VsmtpListenOptions *self,
                                                     GInetAddress       *peer);
gboolean _vsmtp_listen_options_xclient_trusts       (VsmtpListenOptions *self,
                                                     GInetAddress       *peer);
/* Whether the EHLO @keyword (any case) is switched off on this listener. */
gboolean _vsmtp_listen_options_extension_disabled   (VsmtpListenOptions *self,
                                                     const char         *keyword);

G_END_DECLS

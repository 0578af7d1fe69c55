/* vsmtp-session.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-envelope.h"
#include "vsmtp-message.h"
#include "vsmtp-parameters.h"
#include "vsmtp-reply.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VsmtpSessionState:
 * @VSMTP_SESSION_STATE_GREETING: connected, the greeting is not sent yet
 * @VSMTP_SESSION_STATE_INIT: greeted, waiting for HELO or EHLO
 * @VSMTP_SESSION_STATE_READY: HELO/EHLO done, no transaction
 * @VSMTP_SESSION_STATE_MAIL: MAIL accepted, no recipient yet
 * @VSMTP_SESSION_STATE_RCPT: at least one recipient accepted
 * @VSMTP_SESSION_STATE_DATA: receiving message content
 * @VSMTP_SESSION_STATE_CLOSED: the connection is closed
 *
 * Where a [class@Vsmtp.Session] is in the SMTP dialogue.
 */
typedef enum {
  VSMTP_SESSION_STATE_GREETING,
  VSMTP_SESSION_STATE_INIT,
  VSMTP_SESSION_STATE_READY,
  VSMTP_SESSION_STATE_MAIL,
  VSMTP_SESSION_STATE_RCPT,
  VSMTP_SESSION_STATE_DATA,
  VSMTP_SESSION_STATE_CLOSED,
} VsmtpSessionState;

typedef struct _VsmtpServer VsmtpServer;

#define VSMTP_TYPE_SESSION (vsmtp_session_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpSession, vsmtp_session, VSMTP, SESSION, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpServer       *vsmtp_session_get_server          (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
const char        *vsmtp_session_get_id              (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
void               vsmtp_session_set_handler_object  (VsmtpSession *self,
                                                      gulong        handler_id,
                                                      GObject      *object);
VSMTP_AVAILABLE_IN_ALL
GIOStream         *vsmtp_session_get_stream          (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
GSocketAddress    *vsmtp_session_get_remote_address  (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
const char        *vsmtp_session_get_remote_ip       (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpSessionState  vsmtp_session_get_state           (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
const char        *vsmtp_session_get_helo            (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
gboolean           vsmtp_session_is_esmtp            (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpEnvelope     *vsmtp_session_get_envelope        (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
guint              vsmtp_session_get_n_messages      (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
gboolean           vsmtp_session_is_tls              (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
GTlsConnection    *vsmtp_session_get_tls_connection  (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
GTlsProtocolVersion vsmtp_session_get_tls_protocol_version (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
const char        *vsmtp_session_get_tls_cipher_suite (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
GTlsCertificate   *vsmtp_session_get_peer_certificate (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
const char        *vsmtp_session_get_authenticated_user (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
const char        *vsmtp_session_get_auth_mechanism  (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
gboolean           vsmtp_session_is_submission       (VsmtpSession *self);
VSMTP_AVAILABLE_IN_ALL
void               vsmtp_session_close               (VsmtpSession *self,
                                                      VsmtpReply   *reply);

G_END_DECLS

/* vsmtp-extension-private.h: the server's registry of ESMTP extensions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-extension.h"

G_BEGIN_DECLS

typedef struct _VsmtpExtensionRegistry VsmtpExtensionRegistry;

/* A registry with the built-in extensions registered (PIPELINING, SIZE,
 * ENHANCEDSTATUSCODES, 8BITMIME, SMTPUTF8, STARTTLS, AUTH, CHUNKING,
 * BINARYMIME, DSN, LIMITS, REQUIRETLS, XCLIENT, in that EHLO order).
 * @server is not referenced: the server owns the registry. */
VsmtpExtensionRegistry *_vsmtp_extension_registry_new  (VsmtpServer            *server);
void                    _vsmtp_extension_registry_free (VsmtpExtensionRegistry *self);

/* The server's registry (in vsmtp-server.c). */
VsmtpExtensionRegistry *_vsmtp_server_get_extension_registry (VsmtpServer *self);

/* Appends "\nKEYWORD[ parameters]" to @text for every extension offered in
 * @session, in registration order. */
void        _vsmtp_extension_registry_append_ehlo (VsmtpExtensionRegistry *self,
                                                   VsmtpSession           *session,
                                                   GString                *text);

/* Checks the parameters of one MAIL or RCPT command (@command is one of
 * the two): NULL when every one is accepted, else the reply that refuses
 * the command (transfer full). */
VsmtpReply *_vsmtp_extension_registry_check      (VsmtpExtensionRegistry *self,
                                                   VsmtpSession           *session,
                                                   VsmtpParameterCommand   command,
                                                   GHashTable             *params);

/* Whether the extension with @keyword is registered and offered in
 * @session (BDAT asks for CHUNKING, BODY=BINARYMIME for BINARYMIME). */
gboolean    _vsmtp_extension_registry_offers     (VsmtpExtensionRegistry *self,
                                                   VsmtpSession           *session,
                                                   const char             *keyword);

G_END_DECLS

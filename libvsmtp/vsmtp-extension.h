/* vsmtp-extension.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-reply.h"
#include "vsmtp-session.h"
#include "vsmtp-server.h"
#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VsmtpExtensionFlags:
 * @VSMTP_EXTENSION_FLAGS_NONE: offered in every session (unless the
 *   [signal@Vsmtp.Extension::is-offered] handler says otherwise)
 * @VSMTP_EXTENSION_FLAGS_TLS_ONLY: offered only once TLS is active
 *   (after STARTTLS, or on an implicit-TLS listener)
 * @VSMTP_EXTENSION_FLAGS_PLAINTEXT_ONLY: offered only while TLS is not
 *   active (as STARTTLS itself)
 *
 * When an extension is offered. A handler of
 * [signal@Vsmtp.Extension::is-offered] can narrow it further.
 */
typedef enum /*< flags >*/ {
  VSMTP_EXTENSION_FLAGS_NONE           = 0,
  VSMTP_EXTENSION_FLAGS_TLS_ONLY       = 1 << 0,
  VSMTP_EXTENSION_FLAGS_PLAINTEXT_ONLY = 1 << 1,
} VsmtpExtensionFlags;

/**
 * VsmtpParameterCommand:
 * @VSMTP_PARAMETER_COMMAND_MAIL: the parameter is one of MAIL FROM's
 * @VSMTP_PARAMETER_COMMAND_RCPT: the parameter is one of RCPT TO's
 * @VSMTP_PARAMETER_COMMAND_BOTH: both commands take the parameter
 *
 * The commands an ESMTP parameter may be given on.
 */
typedef enum /*< flags >*/ {
  VSMTP_PARAMETER_COMMAND_MAIL = 1 << 0,
  VSMTP_PARAMETER_COMMAND_RCPT = 1 << 1,
  VSMTP_PARAMETER_COMMAND_BOTH = VSMTP_PARAMETER_COMMAND_MAIL | VSMTP_PARAMETER_COMMAND_RCPT,
} VsmtpParameterCommand;

/**
 * VsmtpParameterSyntax:
 * @VSMTP_PARAMETER_SYNTAX_NO_VALUE: the parameter is a bare keyword
 *   (`SMTPUTF8`); `KEYWORD=value` is refused
 * @VSMTP_PARAMETER_SYNTAX_VALUE: the parameter needs a value
 *   (`SIZE=1000`); a bare keyword is refused
 * @VSMTP_PARAMETER_SYNTAX_OPTIONAL_VALUE: either form is accepted
 *
 * Whether an ESMTP parameter takes a value. A parameter given in the wrong
 * form is refused with `501 5.5.4 Bad KEYWORD parameter value` before any
 * [signal@Vsmtp.Extension::validate] handler runs.
 */
typedef enum {
  VSMTP_PARAMETER_SYNTAX_NO_VALUE,
  VSMTP_PARAMETER_SYNTAX_VALUE,
  VSMTP_PARAMETER_SYNTAX_OPTIONAL_VALUE,
} VsmtpParameterSyntax;

#define VSMTP_TYPE_EXTENSION (vsmtp_extension_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpExtension, vsmtp_extension, VSMTP, EXTENSION, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpExtension       *vsmtp_extension_new                 (const char            *keyword,
                                                           VsmtpExtensionFlags    flags);
VSMTP_AVAILABLE_IN_ALL
const char           *vsmtp_extension_get_keyword         (VsmtpExtension        *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpExtensionFlags   vsmtp_extension_get_flags           (VsmtpExtension        *self);
VSMTP_AVAILABLE_IN_ALL
const char           *vsmtp_extension_get_ehlo_parameters (VsmtpExtension        *self);
VSMTP_AVAILABLE_IN_ALL
void                  vsmtp_extension_set_ehlo_parameters (VsmtpExtension        *self,
                                                           const char            *parameters);
VSMTP_AVAILABLE_IN_ALL
void                  vsmtp_extension_add_parameter       (VsmtpExtension        *self,
                                                           const char            *name,
                                                           VsmtpParameterCommand  commands,
                                                           VsmtpParameterSyntax   syntax);
VSMTP_AVAILABLE_IN_ALL
gboolean              vsmtp_extension_lookup_parameter    (VsmtpExtension        *self,
                                                           const char            *name,
                                                           VsmtpParameterCommand *commands,
                                                           VsmtpParameterSyntax  *syntax);
VSMTP_AVAILABLE_IN_ALL
char                **vsmtp_extension_dup_parameter_names (VsmtpExtension        *self);
VSMTP_AVAILABLE_IN_ALL
gboolean              vsmtp_extension_is_registered       (VsmtpExtension        *self);
VSMTP_AVAILABLE_IN_ALL
gboolean              vsmtp_extension_offered_in          (VsmtpExtension        *self,
                                                           VsmtpSession          *session);

VSMTP_AVAILABLE_IN_ALL
gboolean              vsmtp_server_register_extension     (VsmtpServer           *self,
                                                           VsmtpExtension        *extension,
                                                           GError               **error);
VSMTP_AVAILABLE_IN_ALL
gboolean              vsmtp_server_unregister_extension   (VsmtpServer           *self,
                                                           VsmtpExtension        *extension);
VSMTP_AVAILABLE_IN_ALL
VsmtpExtension       *vsmtp_server_lookup_extension       (VsmtpServer           *self,
                                                           const char            *keyword);
VSMTP_AVAILABLE_IN_ALL
GPtrArray            *vsmtp_server_dup_extensions         (VsmtpServer           *self);

G_END_DECLS

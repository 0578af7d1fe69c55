/* vsmtp-error.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VSMTP_ERROR:
 *
 * The error domain of libvsmtp: errors are [enum@Vsmtp.Error] codes.
 */
#define VSMTP_ERROR (vsmtp_error_quark ())

/**
 * VsmtpError:
 * @VSMTP_ERROR_FAILED: a generic failure
 * @VSMTP_ERROR_SYNTAX: a command, path or parameter is not well formed
 * @VSMTP_ERROR_LINE_TOO_LONG: a line exceeded the line-length limit
 * @VSMTP_ERROR_TOO_LONG: a path, local part or domain exceeded its RFC 5321 limit
 * @VSMTP_ERROR_MESSAGE_TOO_LARGE: message content exceeded the size limit
 * @VSMTP_ERROR_BARE_NEWLINE: a bare CR or LF was found in message content
 * @VSMTP_ERROR_TIMEOUT: a timeout expired
 * @VSMTP_ERROR_CLOSED: the connection was closed
 * @VSMTP_ERROR_UNSUPPORTED: a parameter or feature is not supported
 * @VSMTP_ERROR_INVALID_CONFIG: a configuration value is invalid
 *
 * Error codes in the [error@Vsmtp.Error] domain.
 */
typedef enum {
  VSMTP_ERROR_FAILED,
  VSMTP_ERROR_SYNTAX,
  VSMTP_ERROR_LINE_TOO_LONG,
  VSMTP_ERROR_TOO_LONG,
  VSMTP_ERROR_MESSAGE_TOO_LARGE,
  VSMTP_ERROR_BARE_NEWLINE,
  VSMTP_ERROR_TIMEOUT,
  VSMTP_ERROR_CLOSED,
  VSMTP_ERROR_UNSUPPORTED,
  VSMTP_ERROR_INVALID_CONFIG,
} VsmtpError;

VSMTP_AVAILABLE_IN_ALL
GQuark vsmtp_error_quark (void);

G_END_DECLS

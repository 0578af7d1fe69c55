/* vsmtp-command-private.h: SMTP command line parsing
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp-address.h"

G_BEGIN_DECLS

typedef enum {
  VSMTP_VERB_UNKNOWN,
  VSMTP_VERB_HELO,
  VSMTP_VERB_EHLO,
  VSMTP_VERB_LHLO,
  VSMTP_VERB_MAIL,
  VSMTP_VERB_RCPT,
  VSMTP_VERB_DATA,
  VSMTP_VERB_BDAT,
  VSMTP_VERB_RSET,
  VSMTP_VERB_NOOP,
  VSMTP_VERB_VRFY,
  VSMTP_VERB_EXPN,
  VSMTP_VERB_HELP,
  VSMTP_VERB_QUIT,
  VSMTP_VERB_STARTTLS,
  VSMTP_VERB_AUTH,
  VSMTP_VERB_XCLIENT,
} VsmtpVerb;

/* Splits a command line (without its CRLF) into verb and arguments.
 * *args points into @line just after the verb and the spaces after it
 * ("" when there are none). The verb is matched case-insensitively and
 * must be followed by a space or the end of the line. */
VsmtpVerb  _vsmtp_command_parse_verb (const char  *line,
                                      const char **args);

const char *_vsmtp_verb_to_string    (VsmtpVerb    verb);

/* With this flag, *@params is left NULL when the command has no
 * parameters (most have none: no table made and freed for them). */
#define _VSMTP_COMMAND_FLAGS_SPARSE_PARAMS ((VsmtpAddressFlags) (1u << 24))

/* Parses the arguments of MAIL ("FROM:<path> [params]") or RCPT
 * ("TO:<path> [params]"). @params gets a new table of upper-cased keyword ->
 * value (NULL value for a keyword without "="). Errors: VSMTP_ERROR_SYNTAX
 * (bad "FROM:"/"TO:", bad path, bad or repeated parameter),
 * VSMTP_ERROR_TOO_LONG (path, local part or domain over the RFC 5321 limits).
 * On failure *address_error tells whether the path itself was at fault
 * (501 5.1.7 / 5.1.3) rather than the keyword or the parameters (501 5.5.4). */
gboolean   _vsmtp_command_parse_path (const char         *args,
                                      gboolean            is_mail,
                                      VsmtpAddressFlags   flags,
                                      VsmtpAddress      **address,
                                      GHashTable        **params,
                                      gboolean           *address_error,
                                      GError            **error);

G_END_DECLS

/* vsmtp-trace-private.h: the log escaping rule, the Received header and the
 * transaction log line, for the library's own use (SMTP today; LMTP and
 * BDAT tomorrow)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vsmtp-trace.h"
#include "vsmtp-envelope.h"
#include "vsmtp-reply.h"

G_BEGIN_DECLS

/* Appends @text (NUL-terminated) to @string escaped as vsmtp_log_escape()
 * does; without anything to escape, a plain append. */
void _vsmtp_string_append_log_escaped (GString    *string,
                                       const char *text);

/* The name of a TLS version as in a log line or a Received header:
 * "TLSv1.3"; "TLS" when unknown. */
const char *_vsmtp_tls_protocol_name (GTlsProtocolVersion version);

/* Who sent a message, for its Received header. */
typedef struct {
  const char     *helo;           /* the domain of the accepted HELO/EHLO, or NULL */
  const char     *remote_ip;      /* or NULL when unknown */
  GTlsConnection *tls;            /* or NULL without TLS */
  const char     *tls_cipher;     /* or NULL when unknown */
  gboolean        esmtp;          /* greeted with EHLO */
  gboolean        authenticated;  /* after a successful AUTH */
  gboolean        lmtp;           /* an LMTP session (greeted with LHLO) */
  const char     *client_name;    /* the client's host name (XCLIENT NAME), or NULL */
  gboolean        unix_socket;    /* on a UNIX-domain socket: no address */
} VsmtpTraceClient;

/* The Received header (RFC 5321 4.4, with the RFC 3848 protocol names) that
 * @hostname prepends to message @message_id from @client, for @envelope's
 * recipients (named when there is only one). Lines end in CRLF. */
char *_vsmtp_format_received (const VsmtpTraceClient *client,
                              const char             *hostname,
                              const char             *message_id,
                              VsmtpEnvelope          *envelope);

/* Appends ` result="REPLY"` to a log line: @reply's lines joined by
 * spaces. */
void  _vsmtp_string_append_log_result (GString    *line,
                                       VsmtpReply *reply);

/* Logs the one line of a transaction that ended with @reply: the client,
 * the envelope (nullable), the size received and the reply's last line.
 * @message_id is "" before DATA. */
void  _vsmtp_log_transaction (const char    *session_id,
                              const char    *remote_ip,
                              VsmtpEnvelope *envelope,
                              const char    *message_id,
                              guint64        size,
                              VsmtpReply    *reply);

G_END_DECLS

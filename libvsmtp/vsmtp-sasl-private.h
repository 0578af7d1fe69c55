/* vsmtp-sasl-private.h: the AUTH exchange (RFC 4954) over GNU SASL
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The exchange of one AUTH command: the challenges and responses, their
 * decoding, the cancellation, and the credentials it ends with. The
 * session keeps the checks that come before it (EHLO, TLS, a transaction in
 * progress, the failed-attempt limits), the accounting of the attempts and
 * the authenticate signal that decides on the credentials.
 */
#pragma once

#include <gsasl.h>

#include "vsmtp-reply.h"
#include "vsmtp-session.h"

G_BEGIN_DECLS

typedef struct _VsmtpSasl VsmtpSasl;

/* What the client sent, complete once VSMTP_SASL_CREDENTIALS was returned. */
typedef struct {
  char *mechanism;   /* upper-cased, such as "PLAIN" */
  char *authzid;     /* the authorization identity asked for, or NULL */
  char *authcid;     /* the user name */
  char *password;    /* NULL with SCRAM: the proof was checked already */
} VsmtpSaslCredentials;

typedef enum {
  /* *reply is a 334 challenge: the client's next line goes to _vsmtp_sasl_step() */
  VSMTP_SASL_CHALLENGE,
  /* the exchange is complete: the credentials are ready to be checked */
  VSMTP_SASL_CREDENTIALS,
  /* *reply ends the exchange: cancelled, undecodable, a temporary failure */
  VSMTP_SASL_ERROR,
  /* GNU SASL refused what the client sent (_vsmtp_sasl_get_error() says
   * why): *reply (535; 501 for an identity not UTF-8) ends the exchange, a
   * failed attempt */
  VSMTP_SASL_REFUSED,
} VsmtpSaslStatus;

/* The mechanism AUTH's @args name, upper-cased, if @offered has it (in any
 * case); NULL if not. *initial_response points into @args: what follows
 * the mechanism, or NULL. */
char            *_vsmtp_sasl_parse_mechanism (const char         *args,
                                              const char * const *offered,
                                              const char        **initial_response);

/* The server's mechanisms offered in @session: the -PLUS ones only when
 * its TLS connection has the channel binding a client would use
 * (tls-exporter with TLS 1.3, tls-unique before). (transfer full), NULL
 * when the server offers none. */
char           **_vsmtp_sasl_dup_offered     (VsmtpSession       *session);

/* The accumulator of VsmtpSession::lookup-scram-credentials: the first
 * non-NULL credentials win. */
gboolean         _vsmtp_sasl_lookup_accumulator (GSignalInvocationHint *hint,
                                                 GValue                *accumulated,
                                                 const GValue          *handler_return,
                                                 gpointer               data);

/* An exchange of @mechanism (from _vsmtp_sasl_parse_mechanism(), transfer
 * full) in @session (whose TLS connection gives SCRAM's channel binding,
 * and whose lookup-scram-credentials handlers its credentials, emitted
 * synchronously from GNU SASL's callback); NULL when GNU SASL cannot start
 * one (no @ctx, say): a temporary failure. */
Gsasl           *_vsmtp_sasl_get_context     (void);
VsmtpSasl       *_vsmtp_sasl_new             (Gsasl              *ctx,
                                              char               *mechanism,
                                              VsmtpSession       *session);
void             _vsmtp_sasl_free            (VsmtpSasl          *self);

/* The first step, with AUTH's initial response (NULL for none, "=" for an
 * empty one), and the steps after it, with each line the client sends
 * ("*" cancels). @reply: (out) (transfer full) what to send the client,
 * NULL with VSMTP_SASL_CREDENTIALS. */
VsmtpSaslStatus  _vsmtp_sasl_start           (VsmtpSasl          *self,
                                              const char         *initial_response,
                                              VsmtpReply        **reply);
VsmtpSaslStatus  _vsmtp_sasl_step            (VsmtpSasl          *self,
                                              const char         *line,
                                              VsmtpReply        **reply);

const VsmtpSaslCredentials *
                 _vsmtp_sasl_get_credentials (VsmtpSasl          *self);
/* Why GNU SASL refused the exchange, after VSMTP_SASL_REFUSED. */
const char      *_vsmtp_sasl_get_error       (VsmtpSasl          *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VsmtpSasl, _vsmtp_sasl_free)

G_END_DECLS

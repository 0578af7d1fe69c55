/* vsmtp-session-commands.c: what the session does for each SMTP command
 *
 * The checks of each command, its decision signal and what comes of the
 * decision (the continuations): the greeting, HELO/EHLO, MAIL, RCPT, DATA
 * and the end of data, STARTTLS (up to the handshake), RSET, NOOP, VRFY,
 * QUIT and unknown commands. The dispatch, the input loop, the TLS
 * handshake and the AUTH exchange are vsmtp-session.c's; both share the
 * instance through vsmtp-session-struct-private.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-body-type.h"
#include "vsmtp-command-private.h"
#include "vsmtp-extension-private.h"
#include "vsmtp-idna-private.h"
#include "vsmtp-message-private.h"
#include "vsmtp-trace-private.h"
#include "vsmtp-session-struct-private.h"
#include "vsmtp-session-lmtp-private.h"
#include "vsmtp-settings-replies-private.h"

/* by the short name this unit uses */
static GParamSpec **const properties = _vsmtp_session_properties;

/* ------------------------------------------------------------------------ */
/* Greeting (the greet pause is the state machine's: vsmtp-session.c)       */

static void
then_greeting (VsmtpSession *self,
               VsmtpReply   *reply)
{
  if (vsmtp_reply_get_code (reply) != 220)
    {
      _vsmtp_session_close_after_flush (self, reply);
      return;
    }
  /* a client that talks before the greeting (an early talker, when the
   * greeting was held back for greet-pause) */
  if (self->settings->limits.forbid_unauth_pipelining ||
      self->settings->limits.greet_pause > 0)
    {
      VsmtpLineInputStream *input = vsmtp_connection_get_input (self->connection);
      gssize n = vsmtp_line_input_stream_fill_nonblocking (input, NULL, NULL);

      if (n > 0 || vsmtp_line_input_stream_get_buffered (input) > 0)
        {
          _vsmtp_session_protocol_violation (self, "before the greeting");
          return;
        }
    }
  session_queue (self, reply);
  session_set_state (self, VSMTP_SESSION_STATE_INIT);
}

/* The connected decision: the greeting, or a refusal. */
void
_vsmtp_session_greet_now (VsmtpSession *self)
{

  self->greeted = TRUE;
  EMIT_DECISION (SIGNAL_CONNECTED, then_greeting, _vsmtp_session_real_connected (self));
}

/* ------------------------------------------------------------------------ */
/* HELO / EHLO                                                              */

/* The host name, then the keywords of the server's extension registry
 * (vsmtp-extension.c) offered in this session. */
static void
session_append_ehlo (VsmtpSession *self,
                     GString      *text)
{
  g_string_append (text, session_hostname (self));
  _vsmtp_extension_registry_append_ehlo (self->settings->extensions,
                                         self, text);
}

static void
then_helo (VsmtpSession *self,
           VsmtpReply   *reply)
{
  if (!vsmtp_reply_is_positive (reply))
    {
      session_queue (self, reply);
      return;
    }

  /* RFC 5321 4.1.4: HELO/EHLO resets any transaction in progress */
  g_free (self->helo);
  self->helo = _vsmtp_session_xclient_take_helo (self, g_steal_pointer (&self->pending_helo));
  self->esmtp = self->pending_esmtp;
  self->pipelining = self->esmtp &&
                     _vsmtp_extension_registry_offers (self->settings->extensions, self, "PIPELINING");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HELO]);
  session_set_state (self, VSMTP_SESSION_STATE_READY);
  _vsmtp_session_reset_transaction (self);

  if (self->esmtp)
    {
      g_autoptr(GString) text = g_string_new (NULL);
      g_autoptr(VsmtpReply) ehlo = NULL;

      session_append_ehlo (self, text);
      /* the reply made for the same text before, if any */
      ehlo = _vsmtp_settings_get_ehlo_reply (self->settings, text->str);
      session_queue (self, ehlo);
    }
  else
    {
      /* 250 and the host name: the reply made once per settings snapshot */
      g_autoptr(VsmtpReply) helo = _vsmtp_settings_get_helo_reply (self->settings);

      session_queue (self, helo);
    }
}

void
_vsmtp_session_handle_helo (VsmtpSession *self,
                            const char   *args,
                            gboolean      esmtp)
{
  const char *end;

  if (*args == '\0')
    {
      session_queue_new (self, 501, "5.5.4",
                         esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
      return;
    }

  end = strchr (args, ' ');
  self->pending_helo = end ? g_strndup (args, end - args) : g_strdup (args);
  self->pending_esmtp = esmtp;

  EMIT_DECISION (esmtp ? SIGNAL_EHLO : SIGNAL_HELO, then_helo,
                 _vsmtp_session_real_helo (self, self->pending_helo), self->pending_helo);
}

/* ------------------------------------------------------------------------ */
/* MAIL / RCPT                                                              */

/* The parameters of a MAIL or RCPT command, checked against the server's
 * extension registry (vsmtp-extension.c): FALSE once the refusal is queued. */
static gboolean
session_check_parameters (VsmtpSession          *self,
                          GHashTable            *params,
                          VsmtpParameterCommand  command)
{
  g_autoptr(VsmtpReply) reply = NULL;

  if (params == NULL || g_hash_table_size (params) == 0)
    return TRUE;

  reply = _vsmtp_extension_registry_check (self->settings->extensions,
                                           self, command, params);
  if (reply == NULL)
    return TRUE;
  session_queue (self, reply);
  return FALSE;
}

/* The path and the parameters of MAIL (@mail) or RCPT, saved for the
 * command's continuation once they parse and the registry takes the
 * parameters: FALSE once the refusal is queued. */
static gboolean
session_save_path (VsmtpSession *self,
                   const char   *args,
                   gboolean      mail)
{
  g_autoptr(GError) error = NULL;
  VsmtpAddress *address = NULL;
  GHashTable *params = NULL;
  gboolean address_error = FALSE;
  VsmtpReply *refusal;
  /* UTF-8 is parsed always and judged once the parameters are known
   * (vsmtp-idna.c) */
  VsmtpAddressFlags flags = VSMTP_ADDRESS_FLAGS_SMTPUTF8 | _VSMTP_ADDRESS_FLAGS_NO_IDNA;

  if (!_vsmtp_command_parse_path (args, mail,
                                  flags | _VSMTP_COMMAND_FLAGS_SPARSE_PARAMS |
                                  (mail ? VSMTP_ADDRESS_FLAGS_ALLOW_NULL : VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER),
                                  &address, &params, &address_error, &error))
    {
      g_autoptr(VsmtpReply) r = NULL;

      if (address_error && mail)
        r = vsmtp_reply_new_printf (501, "5.1.7", "Bad sender address syntax: %s", error->message);
      else if (address_error)
        r = vsmtp_reply_new_printf (501, "5.1.3", "Bad recipient address syntax: %s", error->message);
      else
        r = vsmtp_reply_new_printf (501, "5.5.4", "Syntax: %s:<address> [parameters]: %s",
                                    mail ? "MAIL FROM" : "RCPT TO", error->message);
      session_queue (self, r);
      return FALSE;
    }

  self->pending_address = address;
  self->pending_params = params;

  if (!session_check_parameters (self, params, mail ? VSMTP_PARAMETER_COMMAND_MAIL
                                                    : VSMTP_PARAMETER_COMMAND_RCPT))
    {
      session_clear_command_args (self);
      return FALSE;
    }

  /* RFC 6531: SMTPUTF8 on MAIL allows UTF-8 in this transaction's addresses */
  refusal = _vsmtp_smtputf8_check_address (address, mail,
                                           mail ? params != NULL && g_hash_table_contains (params, "SMTPUTF8")
                                                : self->envelope != NULL && vsmtp_envelope_get_smtputf8 (self->envelope));
  if (refusal != NULL)
    {
      session_queue (self, refusal);
      g_object_unref (refusal);
      session_clear_command_args (self);
      return FALSE;
    }
  return TRUE;
}

/* The decision on the saved path and parameters of MAIL or RCPT (@sig):
 * with handlers, the emission, its parameters boxed; without, the class
 * handler's @standard reply, which does not look at the parameters, at
 * once and without the box. */
static void
session_decide_path (VsmtpSession      *self,
                     guint              sig,
                     VsmtpContinuation  then,
                     VsmtpReply      *(*standard) (VsmtpSession    *self,
                                                   VsmtpAddress    *address,
                                                   VsmtpParameters *parameters))
{
  if (HAS_HANDLERS (sig))
    {
      g_autoptr(VsmtpParameters) parameters = _vsmtp_parameters_new_for_table (self->pending_params);

      session_emit (self, sig, then, self->pending_address, parameters);
    }
  else
    _vsmtp_decision_decide (self->decision, standard (self, self->pending_address, NULL), then);
}

static void
then_mail (VsmtpSession *self,
           VsmtpReply   *reply)
{
  if (vsmtp_reply_is_positive (reply))
    {
      g_clear_object (&self->envelope);
      self->envelope = vsmtp_envelope_new ();
      vsmtp_envelope_set_sender (self->envelope, self->pending_address, self->pending_params);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENVELOPE]);
      session_set_state (self, VSMTP_SESSION_STATE_MAIL);
    }
  _vsmtp_metrics_reply (self->server, "transaction", reply);
  session_queue (self, reply);
}

void
_vsmtp_session_handle_mail (VsmtpSession *self,
                            const char   *args)
{
  if (self->state == VSMTP_SESSION_STATE_INIT)
    {
      session_queue_new (self, 503, "5.5.1", "Error: send HELO/EHLO first");
      return;
    }
  if (self->state == VSMTP_SESSION_STATE_MAIL || self->state == VSMTP_SESSION_STATE_RCPT)
    {
      session_queue_new (self, 503, "5.5.1", "Error: nested MAIL command");
      return;
    }
  if (self->tls == NULL && self->settings->require_tls)
    {
      session_queue_new (self, 530, "5.7.0", "Must issue a STARTTLS command first");
      return;
    }
  if (self->auth_required && self->auth_user == NULL)
    {
      session_queue_new (self, 530, "5.7.0", "Authentication required");
      return;
    }
  /* RFC 9422's MAILMAX: every MAIL command counts from here on, accepted
   * or refused for its arguments; no transaction is open (the nested MAIL
   * was refused above), so closing loses nothing */
  if (self->settings->limits.max_transactions > 0 &&
      ++self->n_transactions > self->settings->limits.max_transactions)
    {
      g_autoptr(VsmtpReply) r =
        vsmtp_reply_new (421, "4.5.3", "Error: too many transactions in this session, reconnect");

      _vsmtp_metrics_limit_hit (self->server, "max-transactions");
      _vsmtp_session_close_after_flush (self, r);
      return;
    }

  if (!session_save_path (self, args, TRUE))
    return;

  session_decide_path (self, SIGNAL_MAIL_FROM, then_mail, _vsmtp_session_real_mail_from);
}

static void
then_rcpt (VsmtpSession *self,
           VsmtpReply   *reply)
{
  if (vsmtp_reply_is_positive (reply) && self->envelope != NULL)
    {
      vsmtp_envelope_add_recipient (self->envelope, self->pending_address, self->pending_params);
      session_set_state (self, VSMTP_SESSION_STATE_RCPT);
    }
  _vsmtp_metrics_reply (self->server, "recipient", reply);
  session_queue (self, reply);
}

void
_vsmtp_session_handle_rcpt (VsmtpSession *self,
                            const char   *args)
{
  if (self->state != VSMTP_SESSION_STATE_MAIL && self->state != VSMTP_SESSION_STATE_RCPT)
    {
      session_queue_new (self, 503, "5.5.1", "Error: need MAIL command");
      return;
    }
  if (self->bdat)
    {
      /* RFC 3030: the recipients come before the content */
      session_queue_new (self, 503, "5.5.1", "Error: RCPT after BDAT");
      return;
    }

  if (!session_save_path (self, args, FALSE))
    return;

  if (vsmtp_envelope_get_n_recipients (self->envelope) >=
      self->settings->max_recipients)
    {
      /* A limit, not a client error (RFC 5321 §4.5.3.1.10): a client
       * that pipelines past it must keep its transaction for the
       * recipients accepted, so this reply does not count towards the
       * error limits. */
      g_autoptr(VsmtpReply) r = vsmtp_reply_new (452, "4.5.3", "Error: too many recipients");

      _vsmtp_metrics_limit_hit (self->server, "max-recipients");

      vsmtp_reply_append_to (r, self->outbuf);
      session_clear_command_args (self);
      return;
    }

  session_decide_path (self, SIGNAL_RCPT_TO, then_rcpt, _vsmtp_session_real_rcpt_to);
}

/* ------------------------------------------------------------------------ */
/* DATA                                                                     */

/* A new message for the transaction, with our Received header, that the
 * data receiver fills: NULL, or the reply that refuses the content (DATA's
 * and BDAT's first chunk). */
VsmtpReply *
_vsmtp_session_begin_message (VsmtpSession *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpMessage) message = NULL;
  g_autofree char *message_id = NULL;
  g_autofree char *received = NULL;

  if (++self->message_serial <= 0xFF)
    {
      /* "%s%02X" without printf: once per message */
      static const char hex[] = "0123456789ABCDEF";
      gsize n = strlen (self->id);

      message_id = g_malloc (n + 3);
      memcpy (message_id, self->id, n);
      message_id[n] = hex[self->message_serial >> 4];
      message_id[n + 1] = hex[self->message_serial & 0xF];
      message_id[n + 2] = '\0';
    }
  else
    message_id = g_strdup_printf ("%s%02X", self->id, self->message_serial);
  message = _vsmtp_message_new_writable (message_id, self->envelope,
                                               self->settings->spool_threshold,
                                               self->settings->spool_directory);
  received = !_vsmtp_session_adds_received (self) ? g_strdup ("") :
             _vsmtp_format_received (&(VsmtpTraceClient) {
                                       .helo = self->helo,
                                       .remote_ip = self->remote_ip,
                                       .unix_socket = self->remote_address != NULL &&
                                         g_socket_address_get_family (self->remote_address) == G_SOCKET_FAMILY_UNIX,
                                       .tls = self->tls,
                                       .tls_cipher = vsmtp_connection_get_tls_cipher (self->connection),
                                       .esmtp = _vsmtp_session_xclient_get_esmtp (self, self->esmtp),
                                       .authenticated = self->auth_user != NULL,
                                       .lmtp = _vsmtp_session_is_lmtp (self),
                                       .client_name = _vsmtp_session_xclient_get_name (self),
                                     },
                                     session_hostname (self), message_id, self->envelope);
  if (!_vsmtp_message_append (message, received, strlen (received), &error))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: cannot spool message: %s", self->id, error->message);
      return vsmtp_reply_new (451, "4.3.0", "Error: local error in processing");
    }

  _vsmtp_data_receiver_begin (self->receiver, self->settings, g_steal_pointer (&message));
  return NULL;
}

static void
then_data (VsmtpSession *self,
           VsmtpReply   *reply)
{
  g_autoptr(VsmtpReply) failure = NULL;

  if (!vsmtp_reply_is_positive (reply))
    {
      session_queue (self, reply);
      return;
    }

  failure = _vsmtp_session_begin_message (self);
  if (failure != NULL)
    {
      session_queue (self, failure);
      return;
    }

  if (vsmtp_reply_get_code (reply) == 354)
    session_queue (self, reply);
  else
    session_queue_new (self, 354, NULL, "End data with <CR><LF>.<CR><LF>");
  session_set_state (self, VSMTP_SESSION_STATE_DATA);
  _vsmtp_session_touch_timeout (self);
  self->data_deadline = g_get_monotonic_time () +
                        (gint64) self->settings->timeout * G_USEC_PER_SEC;
}

void
_vsmtp_session_handle_data (VsmtpSession *self,
                            const char   *args)
{

  if (*args != '\0')
    {
      session_queue_new (self, 501, "5.5.4", "Syntax: DATA");
      return;
    }
  /* RFC 3030 2: a transaction's content comes by DATA or by BDAT, and
   * BINARYMIME content only by BDAT */
  if (self->bdat)
    {
      session_queue_new (self, 503, "5.5.1", "Error: DATA after BDAT");
      return;
    }
  if (self->envelope != NULL &&
      vsmtp_envelope_get_body_type (self->envelope) == VSMTP_BODY_TYPE_BINARY_MIME)
    {
      session_queue_new (self, 503, "5.5.1", "Error: BODY=BINARYMIME needs BDAT, not DATA");
      return;
    }
  if (self->state == VSMTP_SESSION_STATE_MAIL)
    {
      session_queue_new (self, 503, "5.5.1", "Error: need RCPT command");
      return;
    }
  if (self->state != VSMTP_SESSION_STATE_RCPT)
    {
      session_queue_new (self, 503, "5.5.1", "Error: need MAIL command");
      return;
    }

  EMIT_DECISION (SIGNAL_DATA, then_data, _vsmtp_session_real_data (self));
}

static void
session_log_transaction (VsmtpSession *self,
                         VsmtpReply   *reply)
{
  VsmtpMessage *message = _vsmtp_data_receiver_get_message (self->receiver);

  _vsmtp_log_transaction (self->id, self->remote_ip, self->envelope,
                          message ? vsmtp_message_get_id (message) : "",
                          _vsmtp_data_receiver_get_size (self->receiver), reply);
  _vsmtp_metrics_reply (self->server, "message", reply);
  _vsmtp_metrics_bytes_received (self->server, _vsmtp_data_receiver_get_size (self->receiver));
}

static void
then_message (VsmtpSession *self,
              VsmtpReply   *reply)
{
  session_log_transaction (self, reply);
  if (vsmtp_reply_is_positive (reply))
    self->n_messages++;
  _vsmtp_session_queue_message_reply (self, reply);
  _vsmtp_session_reset_transaction (self);
}

/* The end of the content, DATA's and BDAT LAST's alike. */
void
_vsmtp_session_end_of_data (VsmtpSession *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpReply) failure = _vsmtp_data_receiver_finish (self->receiver, &error);
  VsmtpMessage *message = _vsmtp_data_receiver_get_message (self->receiver);

  if (error != NULL)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "VSMTP_SESSION_ID", self->id,
                      "MESSAGE", "%s: cannot spool message: %s", self->id, error->message);

  if (failure != NULL)
    {
      _vsmtp_session_touch_timeout (self);
      session_log_transaction (self, failure);
      _vsmtp_session_queue_message_reply (self, failure);
      _vsmtp_session_reset_transaction (self);
      return;
    }

  _vsmtp_session_touch_timeout (self);
  EMIT_DECISION (SIGNAL_MESSAGE_RECEIVED, then_message,
                 _vsmtp_session_real_message_received (self, message), message);
}

/* Feeds buffered bytes to the data receiver. Returns FALSE when more input is needed. */
gboolean
_vsmtp_session_process_data (VsmtpSession *self)
{
  VsmtpLineInputStream *input = vsmtp_connection_get_input (self->connection);
  const guint8 *in;
  gsize length, consumed;
  gboolean finished;

  in = vsmtp_line_input_stream_peek_buffer (input, &length);
  if (length == 0)
    return FALSE;

  consumed = _vsmtp_data_receiver_feed_data (self->receiver, in, length, &finished);
  vsmtp_line_input_stream_skip_buffer (input, consumed);
  if (finished)
    _vsmtp_session_end_of_data (self);

  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Other commands                                                           */

static void
then_plain (VsmtpSession *self,
            VsmtpReply   *reply)
{
  session_queue (self, reply);
}

static void
then_rset (VsmtpSession *self,
           VsmtpReply   *reply)
{
  if (vsmtp_reply_is_positive (reply))
    _vsmtp_session_reset_transaction (self);
  session_queue (self, reply);
}

static void
then_quit (VsmtpSession *self,
           VsmtpReply   *reply)
{
  _vsmtp_session_set_end_reason (self, "quit");
  _vsmtp_session_close_after_flush (self, reply);
}

void
_vsmtp_session_handle_rset (VsmtpSession *self,
                            const char   *args)
{
  if (*args != '\0')
    {
      session_queue_new (self, 501, "5.5.4", "Syntax: RSET");
      return;
    }
  /* RSET is always answered 250 (RFC 5321 4.1.1.5): its signal only
   * tells handlers that the transaction ends */
  g_signal_emit (self, _vsmtp_session_signals[SIGNAL_RSET], 0);
  _vsmtp_decision_decide (self->decision, _vsmtp_session_real_ok (self), then_rset);
}

void
_vsmtp_session_handle_noop (VsmtpSession *self,
                            const char   *args)
{
  EMIT_DECISION (SIGNAL_NOOP, then_plain, _vsmtp_session_real_noop (self, args), args);
}

void
_vsmtp_session_handle_vrfy (VsmtpSession *self,
                            const char   *args)
{
  if (*args == '\0')
    {
      session_queue_new (self, 501, "5.5.4", "Syntax: VRFY address");
      return;
    }
  EMIT_DECISION (SIGNAL_VRFY, then_plain, _vsmtp_session_real_vrfy (self, args), args);
}

void
_vsmtp_session_handle_quit (VsmtpSession *self)
{
  EMIT_DECISION (SIGNAL_QUIT, then_quit, _vsmtp_session_real_quit (self));
}

/* A command the session does not know: a handler may implement it. */
void
_vsmtp_session_handle_unknown (VsmtpSession *self,
                               const char   *line,
                               const char   *args)
{
  g_autofree char *word = NULL;
  const char *space = strchr (line, ' ');

  word = space ? g_strndup (line, space - line) : g_strdup (line);
  EMIT_DECISION (SIGNAL_UNKNOWN_COMMAND, then_plain,
                 _vsmtp_session_real_unknown_command (self, word, args), word, args);
}

/* ------------------------------------------------------------------------ */
/* STARTTLS (the handshake is the state machine's: vsmtp-session.c)         */

static void
then_starttls (VsmtpSession *self,
               VsmtpReply   *reply)
{
  if (!vsmtp_reply_is_positive (reply))
    {
      session_queue (self, reply);
      return;
    }
  if (!_vsmtp_session_take_handshake_slot (self))
    {
      /* RFC 3207 §4 */
      session_queue_new (self, 454, "4.7.0", "TLS not available due to temporary reason");
      return;
    }
  if (vsmtp_reply_get_code (reply) == 220)
    session_queue (self, reply);
  else
    session_queue_new (self, 220, "2.0.0", "Ready to start TLS");
  /* parse nothing more: what follows in the buffer belongs to TLS */
  self->tls_starting = TRUE;
}

void
_vsmtp_session_handle_starttls (VsmtpSession *self,
                                const char   *args)
{

  if (*args != '\0')
    session_queue_new (self, 501, "5.5.4", "Syntax: STARTTLS");
  else if (self->tls != NULL)
    session_queue_new (self, 554, "5.5.1", "Error: TLS already active");
  else if (self->settings->tls_certificate == NULL)
    session_queue_new (self, 454, "4.7.0", "TLS not available");
  else
    {
      EMIT_DECISION (SIGNAL_STARTTLS, then_starttls, _vsmtp_session_real_starttls (self));
    }
}

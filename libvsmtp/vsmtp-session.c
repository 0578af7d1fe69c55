/* vsmtp-session.c: one SMTP connection and its state machine
 *
 * The session reads the commands, dispatches them and acts on their
 * decisions: the input loop, pipelining and back-pressure, the error
 * limits, the deadlines, the TLS handshake, the AUTH exchange, the close
 * and the shutdown. The other units of the session share its instance
 * (vsmtp-session-struct-private.h): vsmtp-session-commands.c, what each
 * command checks, emits and does with its decision; vsmtp-session-class.c,
 * the class (the properties, the signals with their class handlers and
 * documentation, the getters). What it builds on lives in units of their
 * own: the streams, the output buffer, the deadline and the STARTTLS
 * upgrade in the connection (io/vsmtp-connection.c), the AUTH exchange in
 * vsmtp-sasl.c, the message content and its limits in
 * vsmtp-data-receiver.c, the Received header and the transaction log line
 * in vsmtp-trace.c, the emission of a decision signal and what comes of it
 * (continue, fail closed, a deferred reply and its deadline) in
 * vsmtp-decision.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "vsmtp-error.h"
#include "vsmtp-command-private.h"
#include "vsmtp-extension-private.h"
#include "vsmtp-message-private.h"
#include "vsmtp-trace-private.h"
#include "vsmtp-session-struct-private.h"
#include "vsmtp-session-lmtp-private.h"
#include "vsmtp-proxy-reader-private.h"
#include "vsmtp-source-private.h"
#include "vsmtp-xclient-private.h"
#include "vsmtp-shared-limits-private.h"
#include "vsmtp-session-id-private.h"
#include "vsmtp-session-log-private.h"
#include "vsmtp-inet-private.h"

#define AUTH_LINE_MAX         12288   /* RFC 4954 4 */
#define PENDING_READ_LIMIT    (64 * 1024)  /* input buffered while a decision is pending */

/* The class's properties and signals (vsmtp-session-class.c), by the short
 * names this unit uses */
static GParamSpec **const properties = _vsmtp_session_properties;
static guint *const signals = _vsmtp_session_signals;

G_DEFINE_FINAL_TYPE (VsmtpSession, vsmtp_session, G_TYPE_OBJECT)

static void session_process       (VsmtpSession *self);
static void session_close_now     (VsmtpSession *self);
static void session_begin_handshake (VsmtpSession *self);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static void session_auth_attempt_end (VsmtpSession *self,
                                      gboolean      succeeded);

/* Takes a TLS handshake slot of the server (max-tls-handshakes). */
gboolean
_vsmtp_session_take_handshake_slot (VsmtpSession *self)
{
  if (self->handshake_slot)
    return TRUE;
  if (!_vsmtp_client_tracker_handshake_begin (self->clients, self->remote_ip, self->settings->limits.max_tls_handshakes, self->settings->limits.max_tls_handshakes_per_client))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: TLS refused to [%s]: too many TLS handshakes in progress",
                        self->id, self->remote_ip ? self->remote_ip : "unknown");
      _vsmtp_metrics_limit_hit (self->server, "max-tls-handshakes");
      return FALSE;
    }
  self->handshake_slot = TRUE;
  return TRUE;
}

static void
session_release_handshake_slot (VsmtpSession *self)
{
  if (!self->handshake_slot)
    return;
  self->handshake_slot = FALSE;
  _vsmtp_client_tracker_handshake_end (self->clients, self->remote_ip);
}

void
_vsmtp_session_reset_transaction (VsmtpSession *self)
{
  if (self->envelope != NULL)
    {
      g_clear_object (&self->envelope);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENVELOPE]);
    }
  _vsmtp_data_receiver_reset (self->receiver);
  self->bdat = FALSE;
  if (self->state != VSMTP_SESSION_STATE_CLOSED)
    session_set_state (self, self->helo != NULL ? VSMTP_SESSION_STATE_READY
                                                : VSMTP_SESSION_STATE_INIT);
}

static char *
make_session_id (void)
{
  /* time, process (several vsmtpd workers share one maildir and log) and
   * a counter: unique within a machine (vsmtp-session-id.c) */
  return _vsmtp_session_id_new ();
}

static gboolean
session_is_idle (VsmtpSession *self)
{
  return !_vsmtp_decision_is_pending (self->decision) &&
         !self->tls_starting &&
         self->state <= VSMTP_SESSION_STATE_READY;
}

/* Closing once the output is written (QUIT, a 421, the end of input). */
static gboolean
session_closing (VsmtpSession *self)
{
  return vsmtp_connection_is_closing (self->connection);
}

static void
session_close_now (VsmtpSession *self)
{
  if (self->closed)
    return;

  g_object_ref (self);

  self->closed = TRUE;
  _vsmtp_clear_source (&self->resume_source);
  _vsmtp_clear_source (&self->sleep_source);
  _vsmtp_clear_source (&self->greet_source);
  _vsmtp_decision_cancel (self->decision);
  /* a client that left before its check answered: a failed attempt */
  session_auth_attempt_end (self, FALSE);
  /* a handshake still running gives its slot back when it returns */
  if (!vsmtp_connection_is_handshaking (self->connection))
    session_release_handshake_slot (self);

  _vsmtp_session_log_disconnect (self->id, self->remote_ip ? self->remote_ip : "unknown",
                                 self->n_messages);

  _vsmtp_data_receiver_reset (self->receiver);
  session_set_state (self, VSMTP_SESSION_STATE_CLOSED);

  /* stops reading and writing; a handshake in progress is cancelled, and
   * the streams closed once it returns */
  vsmtp_connection_close (self->connection);

  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
  /* then whoever asked to hear of it (the server, for its accounting) */
  if (self->closed_func != NULL)
    self->closed_func (self, self->closed_data);

  g_object_unref (self);
}

/* Queues @reply (if any) and closes once everything queued is written. */
void
_vsmtp_session_close_after_flush (VsmtpSession *self,
                                  VsmtpReply   *reply)
{
  if (self->closed)
    return;
  if (vsmtp_connection_is_handshaking (self->connection))
    {
      /* no plaintext in the middle of a handshake */
      session_close_now (self);
      return;
    }
  if (reply != NULL)
    session_queue (self, reply);
  vsmtp_connection_close_after_flush (self->connection);
}

/* ------------------------------------------------------------------------ */
/* Decisions (vsmtp-decision.c)                                             */

static void
session_schedule_resume (VsmtpSession *self);

static void
session_check_errors (VsmtpSession *self,
                      guint         errors_before);

static void
session_decision_finished (VsmtpSession *self)
{
  session_clear_command_args (self);
}

static guint
session_before_deferred (VsmtpSession *self)
{
  return self->n_errors;
}

/* A deferred decision was acted on: a deferred error reply counts like an
 * immediate one, and the input held back meanwhile is processed. */
static void
session_after_deferred (VsmtpSession *self,
                        guint         errors_before)
{
  session_check_errors (self, errors_before);
  session_schedule_resume (self);
}

static const VsmtpDecisionCallbacks decision_callbacks = {
  .finished = session_decision_finished,
  .before_deferred = session_before_deferred,
  .after_deferred = session_after_deferred,
};

/* ------------------------------------------------------------------------ */
/* Greeting                                                                 */

static gboolean
greet_pause_done (gpointer user_data)
{
  VsmtpSession *self = user_data;

  g_clear_pointer (&self->greet_source, g_source_unref);
  g_object_ref (self);
  _vsmtp_session_greet_now (self);
  if (!_vsmtp_decision_is_pending (self->decision) && !self->closed)
    session_process (self);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* The greeting, after greet-pause if there is one. */
static void
session_greet (VsmtpSession *self)
{
  guint pause = self->settings->limits.greet_pause;

  if (pause == 0)
    {
      _vsmtp_session_greet_now (self);
      return;
    }
  self->greet_source = g_timeout_source_new (pause);
  g_source_set_callback (self->greet_source, greet_pause_done, self, NULL);
  g_source_set_static_name (self->greet_source, "[vsmtp] greet pause");
  g_source_attach (self->greet_source, g_main_context_get_thread_default ());
}

/* ------------------------------------------------------------------------ */
/* TLS                                                                      */

/* The connection's handshake ended (@error NULL: it succeeded). */
static void
session_on_handshake_done (gpointer      owner,
                           const GError *error)
{
  VsmtpSession *self = owner;

  session_release_handshake_slot (self);
  if (self->closed)
    return;

  if (error != NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: TLS handshake failed with [%s]: %s", self->id,
                        self->remote_ip ? self->remote_ip : "unknown", error->message);
      _vsmtp_metrics_tls_handshake (self->server, NULL, FALSE);
      _vsmtp_session_set_end_reason (self, "tls-failed");
      session_close_now (self);
      return;
    }

  self->tls = vsmtp_connection_get_tls (self->connection);
  self->tls_starting = FALSE;
  _vsmtp_metrics_tls_handshake (self->server,
                                _vsmtp_tls_protocol_name (g_tls_connection_get_protocol_version (self->tls)),
                                TRUE);
  vsmtp_line_input_stream_set_max_line_length (vsmtp_connection_get_input (self->connection),
                                               MAX (self->settings->max_line_length,
                                                    AUTH_LINE_MAX));

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "VSMTP_SESSION_ID", self->id,
                    "MESSAGE", "%s: TLS established with [%s]: %s with cipher %s", self->id,
                    self->remote_ip ? self->remote_ip : "unknown",
                    _vsmtp_tls_protocol_name (g_tls_connection_get_protocol_version (self->tls)),
                    vsmtp_connection_get_tls_cipher (self->connection) ?
                    vsmtp_connection_get_tls_cipher (self->connection) : "unknown");

  _vsmtp_session_touch_timeout (self);

  if (!self->greeted)
    {
      /* implicit TLS: now the greeting */
      session_greet (self);
    }
  else
    {
      /* RFC 3207 4.2: forget everything learnt before TLS */
      g_clear_pointer (&self->helo, g_free);
      g_clear_pointer (&self->auth_user, g_free);
      g_clear_pointer (&self->auth_mechanism, g_free);
      self->esmtp = FALSE;
      self->pipelining = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HELO]);
      _vsmtp_session_reset_transaction (self);
    }

  if (!_vsmtp_decision_is_pending (self->decision))
    session_process (self);
}

/* Runs the TLS handshake over the line stream: bytes the client sent after
 * STARTTLS and that are already buffered are read by the TLS layer first, as
 * handshake data, and never parsed as SMTP. */
static void
session_begin_handshake (VsmtpSession *self)
{
  g_autoptr(GError) error = NULL;
  GTlsCertificate *certificate = self->settings->tls_certificate;

  vsmtp_connection_stop_reading (self->connection);
  vsmtp_connection_clear_deadline (self->connection);

  if (certificate == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: no TLS certificate for [%s]", self->id,
                        self->remote_ip ? self->remote_ip : "unknown");
      session_close_now (self);
      return;
    }

  if (!vsmtp_connection_start_tls (self->connection, certificate,
                                   self->settings->tls_handshake_timeout, &error))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: cannot start TLS: %s", self->id, error->message);
      session_close_now (self);
    }
}

/* ------------------------------------------------------------------------ */
/* AUTH (RFC 4954), with GNU SASL                                           */

static void
session_sasl_clear (VsmtpSession *self)
{
  g_clear_pointer (&self->sasl, _vsmtp_sasl_free);
}

/* The end of an attempt begun with _vsmtp_client_tracker_auth_attempt_begin() */
static void
session_auth_attempt_end (VsmtpSession *self,
                          gboolean      succeeded)
{
  if (!self->auth_in_flight)
    return;
  self->auth_in_flight = FALSE;
  if (_vsmtp_session_auth_in_store (self))
    {
      /* counted in the store before the check: a success takes it back */
      if (self->auth_store_counted && succeeded)
        _vsmtp_session_auth_store_add (self, -1);
      self->auth_store_counted = FALSE;
      return;
    }
  _vsmtp_client_tracker_auth_attempt_end (self->clients, self->remote_ip, succeeded,
                                          self->settings->auth_failure_window);
}

static void
then_auth (VsmtpSession *self,
           VsmtpReply   *reply)
{
  const VsmtpSaslCredentials *credentials = _vsmtp_sasl_get_credentials (self->sasl);

  session_auth_attempt_end (self, vsmtp_reply_get_code (reply) == 235);
  _vsmtp_metrics_auth (self->server, credentials->mechanism, vsmtp_reply_get_code (reply) == 235);
  if (vsmtp_reply_get_code (reply) == 235)
    {
      g_free (self->auth_user);
      self->auth_user = g_strdup (credentials->authcid);
      g_free (self->auth_mechanism);
      self->auth_mechanism = g_strdup (credentials->mechanism);
      g_autofree char *user = vsmtp_log_escape (self->auth_user, -1);

      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTHENTICATED_USER]);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: [%s] authenticated as %s with %s", self->id,
                        self->remote_ip ? self->remote_ip : "unknown",
                        user, credentials->mechanism);
      session_queue (self, reply);
    }
  else
    {
      g_autofree char *user = credentials->authcid ? vsmtp_log_escape (credentials->authcid, -1) : NULL;

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: [%s] authentication failed for %s with %s", self->id,
                        self->remote_ip ? self->remote_ip : "unknown",
                        user ? user : "(none)", credentials->mechanism);
      if (vsmtp_reply_is_positive (reply))
        session_queue_new (self, 535, "5.7.8", "Error: authentication failed");
      else
        session_queue (self, reply);
    }
  session_sasl_clear (self);
}

void
_vsmtp_session_auth_emit (VsmtpSession *self)
{
  const VsmtpSaslCredentials *credentials = _vsmtp_sasl_get_credentials (self->sasl);

  self->auth_in_flight = TRUE;
  session_emit (self, SIGNAL_AUTHENTICATE, then_auth, credentials->mechanism,
                credentials->authzid, credentials->authcid, credentials->password);
}

/* Goes on with the AUTH exchange after the client's last line: @status and
 * @reply say how. */
static void
session_sasl_continue (VsmtpSession    *self,
                       VsmtpSaslStatus  status,
                       VsmtpReply      *reply)
{
  const VsmtpSaslCredentials *credentials = _vsmtp_sasl_get_credentials (self->sasl);

  switch (status)
    {
    case VSMTP_SASL_CHALLENGE:
      session_queue (self, reply);
      return;

    case VSMTP_SASL_CREDENTIALS:
      if (_vsmtp_session_auth_in_store (self))
        {
          /* counted in the shared store: answered once it answered */
          _vsmtp_session_auth_store_begin (self);
          return;
        }
      if (!_vsmtp_client_tracker_auth_attempt_begin (self->clients, self->remote_ip, self->settings->max_auth_failures, self->settings->auth_failure_window))
        {
          _vsmtp_metrics_limit_hit (self->server, "max-auth-failures");
          session_queue_new (self, 454, "4.7.0",
                             "Too many failed authentication attempts, try again later");
          session_sasl_clear (self);
          return;
        }
      _vsmtp_session_auth_emit (self);
      return;

    case VSMTP_SASL_REFUSED:
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: [%s] authentication failed with %s: %s", self->id,
                        self->remote_ip ? self->remote_ip : "unknown",
                        credentials->mechanism, _vsmtp_sasl_get_error (self->sasl));
      if (_vsmtp_session_auth_in_store (self))
        _vsmtp_session_auth_store_add (self, 1);
      else
        _vsmtp_client_tracker_auth_failed (self->clients, self->remote_ip, self->settings->auth_failure_window);
      _vsmtp_metrics_auth (self->server, credentials->mechanism, FALSE);
      break;

    case VSMTP_SASL_ERROR:
    default:
      break;
    }
  session_queue (self, reply);
  session_sasl_clear (self);
}

static void
handle_auth_response (VsmtpSession *self,
                      const char   *line)
{
  g_autoptr(VsmtpReply) reply = NULL;
  VsmtpSaslStatus status = _vsmtp_sasl_step (self->sasl, line, &reply);

  session_sasl_continue (self, status, reply);
}

static void
handle_auth (VsmtpSession *self,
             const char   *args)
{
  g_autofree char *mechanism = NULL;
  g_auto(GStrv) offered = NULL;
  const char *initial = NULL;

  if (*args == '\0')
    {
      session_queue_new (self, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
      return;
    }
  if ((const char * const *) self->settings->auth_mechanisms == NULL)
    {
      session_queue_new (self, 503, "5.5.1", "Error: authentication not enabled");
      return;
    }
  if (!self->esmtp)
    {
      session_queue_new (self, 503, "5.5.1", "Error: send EHLO first");
      return;
    }
  if (self->auth_user != NULL)
    {
      session_queue_new (self, 503, "5.5.1", "Error: already authenticated");
      return;
    }
  if (self->state == VSMTP_SESSION_STATE_MAIL || self->state == VSMTP_SESSION_STATE_RCPT)
    {
      session_queue_new (self, 503, "5.5.1", "Error: MAIL transaction in progress");
      return;
    }
  if (self->tls == NULL && self->settings->auth_requires_tls)
    {
      session_queue_new (self, 538, "5.7.11", "Encryption required for requested authentication mechanism");
      return;
    }

  /* -PLUS only where the TLS connection has channel binding data */
  offered = _vsmtp_sasl_dup_offered (self);
  mechanism = _vsmtp_sasl_parse_mechanism (args, (const char * const *) offered, &initial);
  if (mechanism == NULL)
    {
      session_queue_new (self, 504, "5.5.4", "Unsupported authentication mechanism");
      return;
    }
  if (_vsmtp_session_auth_in_store (self))
    {
      /* the store's count first: the exchange starts once it answered */
      _vsmtp_session_auth_store_check (self, g_steal_pointer (&mechanism), initial);
      return;
    }
  if (_vsmtp_client_tracker_auth_blocked (self->clients, self->remote_ip, self->settings->max_auth_failures, self->settings->auth_failure_window))
    {
      _vsmtp_metrics_limit_hit (self->server, "max-auth-failures");
      session_queue_new (self, 454, "4.7.0", "Too many failed authentication attempts, try again later");
      return;
    }
  _vsmtp_session_auth_start (self, g_steal_pointer (&mechanism), initial);
}

/* The AUTH exchange with @mechanism (taken), the address not blocked */
void
_vsmtp_session_auth_start (VsmtpSession *self,
                           char         *mechanism,
                           const char   *initial)
{
  g_autoptr(VsmtpReply) reply = NULL;
  VsmtpSaslStatus status;

  self->sasl = _vsmtp_sasl_new (_vsmtp_sasl_get_context (), mechanism,
                                self);
  if (self->sasl == NULL)
    {
      session_queue_new (self, 454, "4.7.0", "Temporary authentication failure");
      return;
    }
  status = _vsmtp_sasl_start (self->sasl, initial, &reply);
  session_sasl_continue (self, status, reply);
}

static void
session_handle_line (VsmtpSession *self,
                     char         *line,
                     gsize         length)
{
  const char *args = NULL;
  VsmtpVerb verb;
  gboolean eight_bit_ok = FALSE;

  if (strlen (line) != length)
    {
      session_queue_new (self, 500, "5.5.2", "Error: NUL character in command");
      return;
    }

  /* the line stream allows AUTH's 12288 octets; other commands have the
   * server's (usually smaller) limit */
  if (length + 2 > self->settings->max_line_length &&
      self->sasl == NULL && g_ascii_strncasecmp (line, "AUTH ", 5) != 0)
    {
      session_queue_new (self, 500, "5.5.2", "Error: command line too long");
      return;
    }

  if (self->sasl != NULL)
    {
      handle_auth_response (self, line);
      return;
    }

  for (gsize i = 0; i < length; i++)
    {
      guchar c = line[i];

      if ((c < 0x20 && c != '\t') || c == 0x7f)
        {
          session_queue_new (self, 500, "5.5.2", "Error: control character in command");
          return;
        }
      if (c >= 0x80 && !eight_bit_ok)
        {
          /* SMTPUTF8 addresses: parsed, then judged with the transaction's
           * parameters (vsmtp-idna.c); other 8-bit bytes are refused */
          if (g_ascii_strncasecmp (line, "MAIL ", 5) == 0 || g_ascii_strncasecmp (line, "RCPT ", 5) == 0)
            {
              eight_bit_ok = TRUE;
              continue;
            }
          if (!g_utf8_validate (line, length, NULL))
            session_queue_new (self, 500, "5.5.2", "Error: invalid UTF-8 in command");
          else
            session_queue_new (self, 500, "5.5.2", "Error: 8-bit characters in command");
          return;
        }
    }

  verb = _vsmtp_command_parse_verb (line, &args);

  /* something that is not an SMTP client: a web client or an unexpected
   * PROXY protocol header */
  if (verb == VSMTP_VERB_UNKNOWN &&
      (g_str_has_prefix (line, "GET ") || g_str_has_prefix (line, "POST ") ||
       g_str_has_prefix (line, "HEAD ") || g_str_has_prefix (line, "PUT ") ||
       g_str_has_prefix (line, "CONNECT ") || g_str_has_prefix (line, "OPTIONS ") ||
       (self->n_commands == 0 && g_str_has_prefix (line, "PROXY "))))
    {
      g_autoptr(VsmtpReply) bye = vsmtp_reply_new (554, "5.7.0", "Error: this is an SMTP server");
      g_autofree char *start = vsmtp_log_escape (line, strnlen (line, 20));

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: non-SMTP command from [%s]: %s", self->id,
                        self->remote_ip ? self->remote_ip : "unknown", start);
      _vsmtp_session_close_after_flush (self, bye);
      return;
    }

  /* junk commands: past the limit each one counts as an error */
  if (verb == VSMTP_VERB_NOOP || verb == VSMTP_VERB_RSET || verb == VSMTP_VERB_VRFY ||
      verb == VSMTP_VERB_HELO || verb == VSMTP_VERB_EHLO || verb == VSMTP_VERB_LHLO)
    {
      guint limit = self->settings->limits.junk_command_limit;

      if (limit > 0 && ++self->n_junk > limit)
        self->n_errors++;
    }

  switch (verb)
    {
    case VSMTP_VERB_HELO:
    case VSMTP_VERB_EHLO:
    case VSMTP_VERB_LHLO:
      _vsmtp_session_handle_hello (self, verb, args);
      break;

    case VSMTP_VERB_MAIL:
      _vsmtp_session_handle_mail (self, args);
      break;

    case VSMTP_VERB_RCPT:
      _vsmtp_session_handle_rcpt (self, args);
      break;

    case VSMTP_VERB_DATA:
      _vsmtp_session_handle_data (self, args);
      break;

    case VSMTP_VERB_RSET:
      _vsmtp_session_handle_rset (self, args);
      break;

    case VSMTP_VERB_NOOP:
      _vsmtp_session_handle_noop (self, args);
      break;

    case VSMTP_VERB_VRFY:
      _vsmtp_session_handle_vrfy (self, args);
      break;

    case VSMTP_VERB_HELP:
      session_queue_new (self, 214, "2.0.0",
                         "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT\n"
                         "See RFC 5321 for details");
      break;

    case VSMTP_VERB_QUIT:
      _vsmtp_session_handle_quit (self);
      break;

    case VSMTP_VERB_STARTTLS:
      _vsmtp_session_handle_starttls (self, args);
      break;

    case VSMTP_VERB_AUTH:
      handle_auth (self, args);
      break;

    case VSMTP_VERB_XCLIENT:
      _vsmtp_session_handle_xclient (self, args);
      break;

    case VSMTP_VERB_BDAT:
      _vsmtp_session_handle_bdat (self, args);
      break;

    case VSMTP_VERB_EXPN:
      session_queue_new (self, 502, "5.5.1", "Error: command not implemented");
      break;

    case VSMTP_VERB_UNKNOWN:
    default:
      _vsmtp_session_handle_unknown (self, line, args);
      break;
    }
}

/* ------------------------------------------------------------------------ */
/* The connection's callbacks, deadlines, the input loop                    */

/* The connection's deadline passed. */
static void
session_on_timed_out (gpointer owner)
{
  VsmtpSession *self = owner;
  g_autoptr(VsmtpReply) reply = NULL;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "VSMTP_SESSION_ID", self->id,
                    "MESSAGE", "%s: timeout after %s from [%s]", self->id,
                    self->state == VSMTP_SESSION_STATE_DATA ? "DATA" : "command",
                    self->remote_ip ? self->remote_ip : "unknown");

  reply = vsmtp_reply_new_printf (421, "4.4.2", "%s Error: timeout exceeded", session_hostname (self));
  _vsmtp_session_set_end_reason (self, "timeout");
  _vsmtp_data_receiver_reset (self->receiver);
  _vsmtp_session_close_after_flush (self, reply);
}

void
_vsmtp_session_touch_timeout (VsmtpSession *self)
{
  guint timeout = self->settings->timeout;

  if (timeout == 0 || self->closed)
    return;

  vsmtp_connection_set_deadline (self->connection,
                                 g_get_monotonic_time () + (gint64) timeout * G_USEC_PER_SEC);
}

/* During DATA the deadline is not reset by every read: it starts at
 * `timeout` after the 354 and grows by the time the bytes received would
 * take at min-data-rate, never beyond `timeout` from now (Postfix's
 * smtpd_min_data_rate). A client trickling bytes runs out of time. */
static void
session_extend_data_deadline (VsmtpSession *self,
                              gsize         n)
{
  guint rate = self->settings->limits.min_data_rate;
  guint timeout = self->settings->timeout;
  gint64 cap;

  if (timeout == 0 || !vsmtp_connection_has_deadline (self->connection))
    return;
  if (rate == 0)
    {
      _vsmtp_session_touch_timeout (self);
      return;
    }
  cap = g_get_monotonic_time () + (gint64) timeout * G_USEC_PER_SEC;
  self->data_deadline += (gint64) n * G_USEC_PER_SEC / rate;
  if (self->data_deadline > cap)
    self->data_deadline = cap;
  vsmtp_connection_set_deadline (self->connection, self->data_deadline);
}

/* Whether the unread input starts with a complete QUIT command: a client
 * that pipelined QUIT after its message and then closed its sending side
 * (Exim does both, RFC 2920 allows it) still reads the replies. */
static gboolean
session_quit_buffered (VsmtpSession *self)
{
  gsize length = 0;
  const guint8 *buf = vsmtp_line_input_stream_peek_buffer (vsmtp_connection_get_input (self->connection),
                                                           &length);

  return buf != NULL && length >= 6 && g_ascii_strncasecmp ((const gchar *) buf, "QUIT\r\n", 6) == 0;
}

/* The connection read @n bytes, or the client closed its side (0). */
static void
session_on_received (gpointer owner,
                     gsize    n)
{
  VsmtpSession *self = owner;

  self->bytes_received += n;
  if (n == 0)
    {
      gboolean in_data = self->state == VSMTP_SESSION_STATE_DATA;

      /* answer what is complete in the buffer, then close */
      session_process (self);
      if (!self->closed && _vsmtp_decision_is_pending (self->decision) &&
          session_quit_buffered (self))
        return;  /* the decision's reply, then QUIT's, then close */
      if (in_data)
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                          "VSMTP_SESSION_ID", self->id,
                          "MESSAGE", "%s: lost connection after DATA from [%s]", self->id,
                          self->remote_ip ? self->remote_ip : "unknown");
      if (!self->closed && _vsmtp_decision_is_pending (self->decision))
        {
          /* nobody to answer: cancel the decision (a delivery in progress
           * is undone, since the client was never told it was accepted) */
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                            "VSMTP_SESSION_ID", self->id,
                            "MESSAGE", "%s: lost connection from [%s] while a \"%s\" decision was pending",
                            self->id, self->remote_ip ? self->remote_ip : "unknown",
                            _vsmtp_decision_get_signal_name (self->decision));
          session_close_now (self);
          return;
        }
      if (!self->closed && !_vsmtp_decision_is_pending (self->decision))
        _vsmtp_session_close_after_flush (self, NULL);
      return;
    }

  if (self->state == VSMTP_SESSION_STATE_DATA || self->chunk_active)
    session_extend_data_deadline (self, n);
  session_process (self);
}

/* The connection wrote everything queued. */
static void
session_on_drained (gpointer owner,
                    gboolean after_wait)
{
  VsmtpSession *self = owner;

  if (self->tls_starting)
    {
      /* after "220 Ready to start TLS" */
      if (!vsmtp_connection_is_handshaking (self->connection))
        session_begin_handshake (self);
    }
  else if (after_wait)
    {
      /* the client read its replies: go on with what back-pressure held */
      session_process (self);
    }
}

/* The connection failed, or wrote what was queued before closing. */
static void
session_on_finished (gpointer owner)
{
  VsmtpSession *self = owner;

  if (self->connection != NULL && vsmtp_connection_renegotiation_refused (self->connection))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                      "VSMTP_SESSION_ID", self->id,
                      "MESSAGE", "%s: client-initiated TLS renegotiation from [%s] refused: "
                      "closing the connection", self->id,
                      self->remote_ip ? self->remote_ip : "unknown");
  session_close_now (self);
}

static const VsmtpConnectionCallbacks connection_callbacks = {
  .received = session_on_received,
  .drained = session_on_drained,
  .finished = session_on_finished,
  .timed_out = session_on_timed_out,
  .handshake_done = session_on_handshake_done,
};

static gboolean
on_resume (gpointer user_data)
{
  VsmtpSession *self = user_data;

  g_clear_pointer (&self->resume_source, g_source_unref);
  session_process (self);
  return G_SOURCE_REMOVE;
}

static void
session_schedule_resume (VsmtpSession *self)
{
  if (self->closed || self->resume_source != NULL)
    return;
  self->resume_source = g_idle_source_new ();
  g_source_set_priority (self->resume_source, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->resume_source, on_resume, self, NULL);
  g_source_set_static_name (self->resume_source, "[vsmtp] session resume");
  g_source_attach (self->resume_source, g_main_context_get_thread_default ());
}

static gboolean
on_error_sleep_done (gpointer user_data)
{
  VsmtpSession *self = user_data;

  g_clear_pointer (&self->sleep_source, g_source_unref);
  self->sleeping = FALSE;
  vsmtp_connection_flush (self->connection);
  session_process (self);
  return G_SOURCE_REMOVE;
}

/* After each command: the hard error limit disconnects, past the soft limit
 * each error reply waits error-sleep-time before it is sent. */
static void
session_check_errors (VsmtpSession *self,
                      guint         errors_before)
{
  const VsmtpServerLimits *limits = &self->settings->limits;

  if (self->n_errors == errors_before || session_closing (self) || self->closed)
    return;

  if (limits->hard_error_limit > 0 && self->n_errors >= limits->hard_error_limit)
    {
      g_autoptr(VsmtpReply) bye =
        vsmtp_reply_new_printf (421, "4.7.0", "%s Error: too many errors", session_hostname (self));

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: too many errors from [%s]", self->id,
                        self->remote_ip ? self->remote_ip : "unknown");
      _vsmtp_metrics_limit_hit (self->server, "hard-error-limit");
      _vsmtp_session_set_end_reason (self, "errors");
      _vsmtp_session_close_after_flush (self, bye);
      return;
    }

  if (self->n_errors > limits->soft_error_limit && limits->error_sleep_time > 0)
    {
      /* hold back the reply just queued, and every command after it */
      self->sleeping = TRUE;
      self->sleep_source = g_timeout_source_new (limits->error_sleep_time);
      g_source_set_callback (self->sleep_source, on_error_sleep_done, self, NULL);
      g_source_set_static_name (self->sleep_source, "[vsmtp] error sleep");
      g_source_attach (self->sleep_source, g_main_context_get_thread_default ());
    }
}

void
_vsmtp_session_protocol_violation (VsmtpSession *self,
                                   const char   *what)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new (554, "5.5.0", "Error: SMTP protocol synchronization");
  VsmtpLineInputStream *input = vsmtp_connection_get_input (self->connection);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "VSMTP_SESSION_ID", self->id,
                    "MESSAGE", "%s: improper command pipelining %s from [%s]", self->id, what,
                    self->remote_ip ? self->remote_ip : "unknown");
  _vsmtp_session_set_end_reason (self, "protocol");
  /* what the client sent is not answered: drop it */
  vsmtp_line_input_stream_skip_buffer (input, vsmtp_line_input_stream_get_buffered (input));
  _vsmtp_session_close_after_flush (self, reply);
}

/* During a graceful shutdown, a session closes as soon as it is between
 * transactions. */
static void
session_close_for_shutdown (VsmtpSession *self)
{
  g_autoptr(VsmtpReply) bye =
    vsmtp_reply_new_printf (421, "4.3.2", "%s Service shutting down, closing connection",
                            session_hostname (self));

  _vsmtp_decision_cancel (self->decision);
  _vsmtp_session_set_end_reason (self, "shutdown");
  _vsmtp_session_close_after_flush (self, bye);
}

/* Closed at the operator's request (vsmtp_session_close_gracefully()) */
static void
session_close_on_request (VsmtpSession *self)
{
  g_autoptr(VsmtpReply) bye =
    vsmtp_reply_new_printf (421, "4.3.2", "%s Service not available, closing transmission channel",
                            session_hostname (self));

  _vsmtp_session_set_end_reason (self, "closed");
  _vsmtp_session_close_after_flush (self, bye);
}

static void
session_check_shutdown (VsmtpSession *self)
{
  if (self->close_requested && !self->closed && !session_closing (self) &&
      !_vsmtp_decision_is_pending (self->decision) && !self->tls_starting)
    session_close_on_request (self);
  if (self->shutting_down && session_is_idle (self) && !session_closing (self) && !self->closed)
    session_close_for_shutdown (self);
}

static void
session_process (VsmtpSession *self)
{
  if (self->processing || self->closed)
    return;

  g_object_ref (self);
  self->processing = TRUE;

  while (!self->closed && !session_closing (self) &&
         !_vsmtp_decision_is_pending (self->decision) && !self->tls_starting && !self->sleeping)
    {
      VsmtpLineStatus status;
      char *line = NULL;
      gsize length = 0;

      /* back-pressure: a client that pipelines without reading its replies */
      if (vsmtp_connection_is_congested (self->connection))
        break;

      if (self->chunk_active)
        {
          if (!_vsmtp_session_process_chunk (self))
            break;
          continue;
        }

      if (self->state == VSMTP_SESSION_STATE_DATA)
        {
          if (!_vsmtp_session_process_data (self))
            break;
          continue;
        }

      if (self->state == VSMTP_SESSION_STATE_GREETING)
        break;

      status = vsmtp_line_input_stream_next_line (vsmtp_connection_get_input (self->connection),
                                                  &line, &length);
      if (status == VSMTP_LINE_NONE)
        break;
      if (status == VSMTP_LINE_TOO_LONG)
        {
          session_queue_new (self, 500, "5.5.2", "Error: command line too long");
          /* a final reply: an AUTH exchange in progress ends with it */
          session_sasl_clear (self);
          continue;
        }

      {
        guint errors_before = self->n_errors;
        gboolean pipelining_offered = self->pipelining;
        VsmtpSessionState state_before = self->state;

        session_handle_line (self, line, length);
        self->n_commands++;
        if (!session_closing (self) && !self->closed &&
            self->settings->limits.forbid_unauth_pipelining &&
            vsmtp_line_input_stream_get_buffered (vsmtp_connection_get_input (self->connection)) > 0 &&
            (!pipelining_offered ||
             (self->state == VSMTP_SESSION_STATE_DATA && state_before != VSMTP_SESSION_STATE_DATA &&
              !self->bdat)))
          {
            _vsmtp_session_protocol_violation (self, pipelining_offered ? "after DATA" : "without PIPELINING");
            break;
          }
        session_check_errors (self, errors_before);
        if (self->state != VSMTP_SESSION_STATE_DATA && !self->chunk_active)
          _vsmtp_session_touch_timeout (self);
      }
      session_check_shutdown (self);
    }

  self->processing = FALSE;
  session_check_shutdown (self);

  if (!self->closed)
    {
      VsmtpLineInputStream *input = vsmtp_connection_get_input (self->connection);
      gboolean eof = vsmtp_connection_at_eof (self->connection);

      /* RFC 2920: flush once no complete command is left in the input */
      if (self->sleeping)
        ;  /* the error sleep holds the replies back */
      else if (_vsmtp_decision_is_pending (self->decision) || session_closing (self) ||
               self->tls_starting || !vsmtp_line_input_stream_has_line (input) ||
               self->state == VSMTP_SESSION_STATE_DATA || self->chunk_active)
        vsmtp_connection_flush (self->connection);

      if (self->closed || self->tls_starting)
        ;  /* the handshake reads from here on */
      else if (_vsmtp_decision_is_pending (self->decision) && !self->sleeping && !eof &&
               vsmtp_line_input_stream_get_buffered (input) < PENDING_READ_LIMIT)
        vsmtp_connection_wait_readable (self->connection);  /* buffer what comes, and notice a client that leaves */
      else if (_vsmtp_decision_is_pending (self->decision) || self->sleeping ||
               self->greet_source != NULL || vsmtp_connection_is_congested (self->connection))
        vsmtp_connection_stop_reading (self->connection);   /* (the greet pause looks at the input when it ends) */
      else if (eof && !session_closing (self))
        _vsmtp_session_close_after_flush (self, NULL);
      else
        vsmtp_connection_wait_readable (self->connection);

      if (session_is_idle (self) && vsmtp_line_input_stream_get_buffered (input) == 0)
        vsmtp_line_input_stream_release_memory (input);
    }

  g_object_unref (self);
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
vsmtp_session_dispose (GObject *object)
{
  VsmtpSession *self = VSMTP_SESSION (object);

  if (self->connection != NULL)
    {
      vsmtp_connection_stop_reading (self->connection);
      vsmtp_connection_clear_deadline (self->connection);
    }
  _vsmtp_clear_source (&self->resume_source);
  _vsmtp_clear_source (&self->sleep_source);
  _vsmtp_clear_source (&self->greet_source);
  _vsmtp_decision_cancel (self->decision);
  /* a client that left before its check answered: a failed attempt */
  session_auth_attempt_end (self, FALSE);
  session_release_handshake_slot (self);

  G_OBJECT_CLASS (vsmtp_session_parent_class)->dispose (object);
}

static void
vsmtp_session_finalize (GObject *object)
{
  VsmtpSession *self = VSMTP_SESSION (object);

  g_clear_pointer (&self->connection, vsmtp_connection_free);
  g_clear_object (&self->remote_address);
  g_clear_object (&self->envelope);
  g_clear_pointer (&self->decision, _vsmtp_decision_free);
  g_clear_pointer (&self->settings, _vsmtp_settings_unref);
  g_clear_object (&self->listen_options);
  g_clear_object (&self->proxy_header);
  g_clear_pointer (&self->clients, _vsmtp_client_tracker_unref);
  g_clear_object (&self->auth_store);
  g_clear_pointer (&self->receiver, _vsmtp_data_receiver_free);
  session_sasl_clear (self);
  g_free (self->auth_user);
  g_free (self->auth_mechanism);
  /* a weak pointer: the server owns its sessions, not the other way round */
  g_clear_weak_pointer (&self->server);
  g_free (self->remote_ip);
  g_free (self->id);
  g_free (self->helo);
  g_clear_pointer (&self->xclient, _vsmtp_session_xclient_free);

  G_OBJECT_CLASS (vsmtp_session_parent_class)->finalize (object);
}

static void
vsmtp_session_class_init (VsmtpSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vsmtp_session_dispose;
  object_class->finalize = vsmtp_session_finalize;
  /* the properties, the signals and their class handlers */
  _vsmtp_session_class_install (klass);
}

static void
vsmtp_session_init (VsmtpSession *self)
{
  self->receiver = _vsmtp_data_receiver_new ();
  self->decision = _vsmtp_decision_new (self, &decision_callbacks);
  self->state = VSMTP_SESSION_STATE_GREETING;
}

VsmtpSession *
_vsmtp_session_new (VsmtpServer        *server,
                    GIOStream          *stream,
                    GSocketAddress     *remote_address,
                    VsmtpListenOptions *options,
                    VsmtpSettings      *settings,
                    VsmtpClientTracker *clients)
{
  VsmtpSession *self;
  VsmtpListenFlags flags;

  g_return_val_if_fail (VSMTP_IS_SERVER (server), NULL);
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);
  g_return_val_if_fail (settings != NULL && clients != NULL, NULL);

  self = g_object_new (VSMTP_TYPE_SESSION, NULL);
  g_set_weak_pointer (&self->server, server);
  self->settings = _vsmtp_settings_ref (settings);
  self->clients = _vsmtp_client_tracker_ref (clients);
  self->id = make_session_id ();
  self->start_time = g_get_real_time ();
  _vsmtp_decision_configure (self->decision, self->id, settings->decision_timeout);
  self->listen_options = g_object_ref (options);
  flags = vsmtp_listen_options_get_flags (options);
  self->implicit_tls = (flags & VSMTP_LISTEN_FLAGS_IMPLICIT_TLS) != 0;
  self->auth_required = (flags & VSMTP_LISTEN_FLAGS_AUTH_REQUIRED) != 0;
  self->connection = vsmtp_connection_new (stream,
                                           MAX (settings->max_line_length, AUTH_LINE_MAX),
                                           self->id, self, &connection_callbacks);
  self->outbuf = vsmtp_connection_get_output_buffer (self->connection);

  if (remote_address != NULL)
    {
      self->remote_address = g_object_ref (remote_address);
      if (G_IS_INET_SOCKET_ADDRESS (remote_address))
        self->remote_ip =
          _vsmtp_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote_address)));
    }

  return self;
}

void
_vsmtp_session_set_closed_func (VsmtpSession           *self,
                                VsmtpSessionClosedFunc  func,
                                gpointer                user_data)
{
  self->closed_func = func;
  self->closed_data = user_data;
}

void
_vsmtp_session_start (VsmtpSession *self)
{

  g_return_if_fail (VSMTP_IS_SESSION (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;

  if (self->proxy_header != NULL)
    {
      g_autofree char *proxy =
        _vsmtp_proxy_describe_peer (vsmtp_proxy_header_get_peer_address (self->proxy_header));

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: connect from [%s] via proxy [%s] (PROXY v%u%s)", self->id,
                        self->remote_ip ? self->remote_ip : "unknown", proxy,
                        vsmtp_proxy_header_get_version (self->proxy_header),
                        vsmtp_proxy_header_is_local (self->proxy_header) ? " LOCAL" : "");
    }
  else
    {
      const char *peer = self->remote_ip ? self->remote_ip :
                         self->remote_address != NULL &&
                         g_socket_address_get_family (self->remote_address) == G_SOCKET_FAMILY_UNIX ?
                         "unix socket" : "unknown";

      _vsmtp_session_log_connect (self->id, peer);
    }

  if (!vsmtp_connection_can_poll (self->connection))
    {
      g_critical ("%s: the connection's input stream is not pollable", self->id);
      session_close_now (self);
      return;
    }

  g_object_ref (self);
  if (self->implicit_tls)
    {
      /* RFC 8314: the handshake comes first, the greeting after it */
      if (_vsmtp_session_take_handshake_slot (self))
        session_begin_handshake (self);
      else
        session_close_now (self);
    }
  else
    {
      _vsmtp_session_touch_timeout (self);
      session_greet (self);
      if (!_vsmtp_decision_is_pending (self->decision))
        session_process (self);
    }
  g_object_unref (self);
}

void
_vsmtp_session_refuse (VsmtpSession *self,
                       VsmtpReply   *reply)
{
  g_return_if_fail (VSMTP_IS_SESSION (self));

  self->started = TRUE;
  _vsmtp_session_set_end_reason (self, "refused");
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "VSMTP_SESSION_ID", self->id,
                    "MESSAGE", "%s: refused [%s]: %s", self->id,
                    self->remote_ip ? self->remote_ip : "unknown",
                    vsmtp_reply_get_text (reply));
  g_object_ref (self);
  if (self->implicit_tls)
    session_close_now (self);
  else
    _vsmtp_session_close_after_flush (self, reply);
  g_object_unref (self);
}

void
_vsmtp_session_shutdown (VsmtpSession *self,
                         gboolean      now)
{
  g_return_if_fail (VSMTP_IS_SESSION (self));

  if (self->closed)
    return;
  self->shutting_down = TRUE;
  if (now)
    session_close_for_shutdown (self);
  else if (!self->processing)
    session_check_shutdown (self);
}

void
_vsmtp_session_request_close (VsmtpSession *self)
{
  if (self->closed)
    return;
  self->close_requested = TRUE;
  if (!self->processing)
    session_check_shutdown (self);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

/**
 * vsmtp_session_close:
 * @self: a session
 * @reply: (nullable): a last reply to send, usually a `421`
 *
 * Closes the connection, after sending @reply and whatever replies are
 * still queued. A message being received is dropped.
 */
void
vsmtp_session_close (VsmtpSession *self,
                     VsmtpReply   *reply)
{
  g_return_if_fail (VSMTP_IS_SESSION (self));
  g_return_if_fail (reply == NULL || VSMTP_IS_REPLY (reply));

  if (self->closed)
    return;
  _vsmtp_decision_cancel (self->decision);
  _vsmtp_session_set_end_reason (self, "closed");
  _vsmtp_session_close_after_flush (self, reply);
}

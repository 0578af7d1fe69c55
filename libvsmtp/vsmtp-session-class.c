/* vsmtp-session-class.c: the session's class: its properties and signals,
 * their class handlers (the standard replies), and its getters
 *
 * The state machine that emits the signals is vsmtp-session.c; both share
 * the instance through vsmtp-session-struct-private.h. This file is
 * scanned for introspection: the documentation of the class, its signals
 * and its properties is here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-enums.h"
#include "vsmtp-marshal.h"
#include "vsmtp-sasl-private.h"
#include "vsmtp-scram.h"
#include "vsmtp-session-struct-private.h"
#include "vsmtp-session-lmtp-private.h"
#include "vsmtp-settings-replies-private.h"

/**
 * VsmtpSession:
 *
 * One SMTP connection: the RFC 5321 state machine, with one signal per
 * command.
 *
 * A session is created by [class@Vsmtp.Server] for each connection and handed
 * to the handlers of [signal@Vsmtp.Server::new-session], which connect to the
 * command signals they care about.
 *
 * ## Decisions
 *
 * Every decision signal returns a [class@Vsmtp.Reply]. Handlers run in the
 * order they were connected; the first one that returns a reply decides and
 * ends the emission. A handler with no opinion returns
 * [ctor@Vsmtp.Reply.new_continue]: the next one is asked, and after the last
 * the session's own class handler gives the standard reply (`250 2.1.0 Ok`
 * for MAIL, and so on). A handler that returns %NULL — or raises, in a
 * language binding — has failed: the client gets `451 4.3.0`, the failure is
 * logged naming the handler's owner ([method@Vsmtp.Server.set_handler_owner])
 * and no further handler runs. [signal@Vsmtp.Session::rset] and
 * [signal@Vsmtp.Session::closed] only notify.
 *
 * A handler that needs to do asynchronous work first (a DNS lookup, a database
 * query, a relay) returns [ctor@Vsmtp.Reply.new_pending], keeps a reference to
 * it and completes it later from its callback, with a decision
 * ([method@Vsmtp.Reply.complete]) or with "continue"
 * ([method@Vsmtp.Reply.complete_continue]: the handlers after it are asked).
 * The session stops processing commands until the reply is complete; if it
 * is not completed within the server's
 * [property@Vsmtp.Server:decision-timeout], the client gets `451 4.3.0` and a
 * later completion is ignored. The reply's
 * [method@Vsmtp.Reply.get_cancellable] is cancelled when the answer is no
 * longer wanted: the client disconnected, the deadline passed, or the session
 * was closed.
 *
 * For [signal@Vsmtp.Session::helo], [signal@Vsmtp.Session::ehlo] and
 * [signal@Vsmtp.Session::data] a positive reply means "go on": the session
 * sends the protocol's reply itself (the EHLO extension list, `354`).
 *
 * ## The end of data
 *
 * [signal@Vsmtp.Session::message-received] is the one decision with no
 * positive default: unless a handler returns a positive reply — which it must
 * only do once it has taken durable responsibility for the message (written and
 * synced it, or had it accepted by the next hop) — the client gets
 * `451 4.3.0`. Nothing is accepted by accident.
 */

GParamSpec *_vsmtp_session_properties[N_PROPS];
guint       _vsmtp_session_signals[N_SIGNALS];

/* by the short names this unit uses */
static GParamSpec **const properties = _vsmtp_session_properties;
static guint *const signals = _vsmtp_session_signals;

/* ------------------------------------------------------------------------ */
/* Class handlers: the standard replies                                     */

typedef enum {
  DEFAULT_MAIL,
  DEFAULT_RCPT,
  DEFAULT_DATA,
  DEFAULT_OK,
  DEFAULT_VRFY,
  DEFAULT_QUIT,
  DEFAULT_STARTTLS,
  DEFAULT_UNKNOWN,
  N_DEFAULTS
} DefaultReply;

/* The standard replies, made once: a completed reply never changes, and it
 * keeps its wire format, so the common path allocates and formats nothing. */
static VsmtpReply *
default_reply (DefaultReply which)
{
  static VsmtpReply *replies[N_DEFAULTS];
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      replies[DEFAULT_MAIL] = vsmtp_reply_new (250, "2.1.0", "Ok");
      replies[DEFAULT_RCPT] = vsmtp_reply_new (250, "2.1.5", "Ok");
      replies[DEFAULT_DATA] = vsmtp_reply_new (354, NULL, "End data with <CR><LF>.<CR><LF>");
      replies[DEFAULT_OK] = vsmtp_reply_new (250, "2.0.0", "Ok");
      replies[DEFAULT_VRFY] = vsmtp_reply_new (252, "2.5.2", "Cannot VRFY user, but will accept "
                                               "message and attempt delivery");
      replies[DEFAULT_QUIT] = vsmtp_reply_new (221, "2.0.0", "Bye");
      replies[DEFAULT_STARTTLS] = vsmtp_reply_new (220, "2.0.0", "Ready to start TLS");
      replies[DEFAULT_UNKNOWN] = vsmtp_reply_new (500, "5.5.2", "Error: command not recognized");
      g_once_init_leave (&initialized, 1);
    }
  return g_object_ref (replies[which]);
}

VsmtpReply *
_vsmtp_session_real_connected (VsmtpSession *self)
{
  /* "%s %s vsmtpd", the host name and ESMTP or LMTP: made once per
   * settings snapshot (vsmtp-settings-replies.c) */
  return _vsmtp_settings_get_greeting (self->settings, _vsmtp_session_is_lmtp (self));
}

VsmtpReply *
_vsmtp_session_real_helo (VsmtpSession *self,
                          const char   *domain)
{
  /* 250 and the host name, made once per settings snapshot */
  return _vsmtp_settings_get_helo_reply (self->settings);
}

VsmtpReply *
_vsmtp_session_real_mail_from (VsmtpSession    *self,
                               VsmtpAddress    *sender,
                               VsmtpParameters *parameters)
{
  return default_reply (DEFAULT_MAIL);
}

VsmtpReply *
_vsmtp_session_real_rcpt_to (VsmtpSession    *self,
                             VsmtpAddress    *recipient,
                             VsmtpParameters *parameters)
{
  return default_reply (DEFAULT_RCPT);
}

VsmtpReply *
_vsmtp_session_real_data (VsmtpSession *self)
{
  return default_reply (DEFAULT_DATA);
}

VsmtpReply *
_vsmtp_session_real_message_received (VsmtpSession *self,
                                      VsmtpMessage *message)
{
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "VSMTP_SESSION_ID", self->id,
                    "MESSAGE", "%s: no handler took message %s: answering 451",
                    self->id, vsmtp_message_get_id (message));
  return vsmtp_reply_new (451, "4.3.0", "Error: no delivery agent took the message, try again later");
}

VsmtpReply *
_vsmtp_session_real_ok (VsmtpSession *self)
{
  return default_reply (DEFAULT_OK);
}

VsmtpReply *
_vsmtp_session_real_noop (VsmtpSession *self,
                          const char   *argument)
{
  return default_reply (DEFAULT_OK);
}

VsmtpReply *
_vsmtp_session_real_vrfy (VsmtpSession *self,
                          const char   *argument)
{
  return default_reply (DEFAULT_VRFY);
}

VsmtpReply *
_vsmtp_session_real_quit (VsmtpSession *self)
{
  return default_reply (DEFAULT_QUIT);
}

VsmtpReply *
_vsmtp_session_real_starttls (VsmtpSession *self)
{
  return default_reply (DEFAULT_STARTTLS);
}

static VsmtpReply *
real_authenticate (VsmtpSession *self,
                   const char   *mechanism,
                   const char   *authzid,
                   const char   *authcid,
                   const char   *password)
{
  return vsmtp_reply_new (535, "5.7.8", "Error: authentication failed");
}

VsmtpReply *
_vsmtp_session_real_unknown_command (VsmtpSession *self,
                                     const char   *verb,
                                     const char   *arguments)
{
  return default_reply (DEFAULT_UNKNOWN);
}

/* ------------------------------------------------------------------------ */
/* Properties and signals                                                   */

static void
vsmtp_session_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  VsmtpSession *self = VSMTP_SESSION (object);

  switch (prop_id)
    {
    case PROP_SERVER:
      g_value_set_object (value, self->server);
      break;
    case PROP_STREAM:
      g_value_set_object (value, vsmtp_session_get_stream (self));
      break;
    case PROP_REMOTE_ADDRESS:
      g_value_set_object (value, self->remote_address);
      break;
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_HELO:
      g_value_set_string (value, self->helo);
      break;
    case PROP_ENVELOPE:
      g_value_set_object (value, self->envelope);
      break;
    case PROP_AUTHENTICATED_USER:
      g_value_set_string (value, self->auth_user);
      break;
    case PROP_XCLIENT:
      g_value_set_boolean (value, vsmtp_session_get_xclient (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* A decision signal: handlers return a VsmtpReply and the accumulator of
 * vsmtp-decision.c decides; C marshallers, and their va_list variants (the
 * generic libffi one costs more than the handlers themselves). */
static guint
decision_signal_new (const char           *name,
                     GType                 type,
                     GCallback             class_handler,
                     GSignalCMarshaller    marshaller,
                     GSignalCVaMarshaller  va_marshaller,
                     guint                 n_params,
                     ...)
{
  va_list args;
  guint id;

  /* what g_signal_new_class_handler() does, with a va_list */
  va_start (args, n_params);
  id = g_signal_new_valist (name, type, G_SIGNAL_RUN_LAST,
                            g_cclosure_new (class_handler, NULL, NULL),
                            _vsmtp_decision_accumulator, NULL, marshaller,
                            VSMTP_TYPE_REPLY, n_params, args);
  va_end (args);
  g_signal_set_va_marshaller (id, type, va_marshaller);
  return id;
}

void
_vsmtp_session_class_install (VsmtpSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->get_property = vsmtp_session_get_property;

  /**
   * VsmtpSession:server:
   *
   * The server this session belongs to.
   */
  properties[PROP_SERVER] =
    g_param_spec_object ("server", NULL, NULL, VSMTP_TYPE_SERVER,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpSession:stream:
   *
   * The connection's stream.
   */
  properties[PROP_STREAM] =
    g_param_spec_object ("stream", NULL, NULL, G_TYPE_IO_STREAM,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpSession:remote-address:
   *
   * The client's address, if known.
   */
  properties[PROP_REMOTE_ADDRESS] =
    g_param_spec_object ("remote-address", NULL, NULL, G_TYPE_SOCKET_ADDRESS,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpSession:id:
   *
   * A short identifier unique within the process, used in logs and message ids.
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpSession:state:
   *
   * Where the session is in the SMTP dialogue.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, VSMTP_TYPE_SESSION_STATE,
                       VSMTP_SESSION_STATE_GREETING,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpSession:helo:
   *
   * The domain the client gave in its accepted HELO or EHLO.
   */
  properties[PROP_HELO] =
    g_param_spec_string ("helo", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpSession:envelope:
   *
   * The envelope of the transaction in progress, %NULL between transactions.
   */
  properties[PROP_ENVELOPE] =
    g_param_spec_object ("envelope", NULL, NULL, VSMTP_TYPE_ENVELOPE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpSession:authenticated-user:
   *
   * The user name of a successful AUTH, or %NULL.
   */
  properties[PROP_AUTHENTICATED_USER] =
    g_param_spec_string ("authenticated-user", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpSession:xclient:
   *
   * Whether a trusted proxy said who the client is with `XCLIENT`
   * ([method@Vsmtp.Session.get_xclient]).
   */
  properties[PROP_XCLIENT] =
    g_param_spec_boolean ("xclient", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VsmtpSession::connected:
   * @self: the session
   *
   * Emitted once, before the greeting. Return a reply with a code other than
   * 220 (for example `554 5.7.1`) to refuse the client: it gets that reply and
   * the connection is closed.
   *
   * Emitted again after each accepted `XCLIENT` command, whose reply is a
   * new greeting: the session then has the real client's address
   * ([property@Vsmtp.Session:xclient] is %TRUE), and a refusal closes the
   * proxy's connection.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_CONNECTED] =
    decision_signal_new ("connected", type, G_CALLBACK (_vsmtp_session_real_connected),
                         _vsmtp_marshal_OBJECT__VOID, _vsmtp_marshal_OBJECT__VOIDv,
                         0);

  /**
   * VsmtpSession::helo:
   * @self: the session
   * @domain: the domain the client gave
   *
   * Emitted for HELO. A positive reply accepts it (the session sends the
   * standard `250`), a negative one is sent to the client.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_HELO] =
    decision_signal_new ("helo", type, G_CALLBACK (_vsmtp_session_real_helo),
                         _vsmtp_marshal_OBJECT__STRING, _vsmtp_marshal_OBJECT__STRINGv,
                         1, G_TYPE_STRING);

  /**
   * VsmtpSession::ehlo:
   * @self: the session
   * @domain: the domain the client gave
   *
   * Emitted for EHLO. A positive reply accepts it (the session sends the
   * extension list), a negative one is sent to the client.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_EHLO] =
    decision_signal_new ("ehlo", type, G_CALLBACK (_vsmtp_session_real_helo),
                         _vsmtp_marshal_OBJECT__STRING, _vsmtp_marshal_OBJECT__STRINGv,
                         1, G_TYPE_STRING);

  /**
   * VsmtpSession::mail-from:
   * @self: the session
   * @sender: the reverse path (the null address for `<>`)
   * @parameters: the MAIL parameters (keywords upper-cased, values %NULL
   *   for a keyword without a value)
   *
   * Emitted for a well-formed MAIL command whose parameters the server
   * supports. Default: `250 2.1.0 Ok`.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_MAIL_FROM] =
    decision_signal_new ("mail-from", type, G_CALLBACK (_vsmtp_session_real_mail_from),
                         _vsmtp_marshal_OBJECT__BOXED_BOXED, _vsmtp_marshal_OBJECT__BOXED_BOXEDv,
                         2, VSMTP_TYPE_ADDRESS, VSMTP_TYPE_PARAMETERS);

  /**
   * VsmtpSession::rcpt-to:
   * @self: the session
   * @recipient: the forward path
   * @parameters: the RCPT parameters
   *
   * Emitted for a well-formed RCPT command within the recipient limit.
   * Default: `250 2.1.5 Ok`. Reject with, for example,
   * [ctor@Vsmtp.Reply.new_no_such_user] or [ctor@Vsmtp.Reply.new_relay_denied].
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_RCPT_TO] =
    decision_signal_new ("rcpt-to", type, G_CALLBACK (_vsmtp_session_real_rcpt_to),
                         _vsmtp_marshal_OBJECT__BOXED_BOXED, _vsmtp_marshal_OBJECT__BOXED_BOXEDv,
                         2, VSMTP_TYPE_ADDRESS, VSMTP_TYPE_PARAMETERS);

  /**
   * VsmtpSession::data:
   * @self: the session
   *
   * Emitted for DATA once at least one recipient was accepted. A positive
   * reply lets the client send the message (`354`).
   *
   * With CHUNKING it is emitted for the first `BDAT` of a transaction too:
   * a positive reply lets the chunks in, a negative one refuses that chunk
   * (its octets are still read and dropped).
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_DATA] =
    decision_signal_new ("data", type, G_CALLBACK (_vsmtp_session_real_data),
                         _vsmtp_marshal_OBJECT__VOID, _vsmtp_marshal_OBJECT__VOIDv,
                         0);

  /**
   * VsmtpSession::message-received:
   * @self: the session
   * @message: the message, with a `Received:` header prepended
   *
   * Emitted at the end of data (or after the `BDAT ... LAST` chunk) for a
   * message within the limits. A handler
   * that returns a positive reply declares that it has taken durable
   * responsibility for the message. When no handler decides, the client gets
   * `451 4.3.0`: a message is never accepted by default.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_MESSAGE_RECEIVED] =
    decision_signal_new ("message-received", type,
                         G_CALLBACK (_vsmtp_session_real_message_received),
                         _vsmtp_marshal_OBJECT__OBJECT, _vsmtp_marshal_OBJECT__OBJECTv,
                         1, VSMTP_TYPE_MESSAGE);

  /**
   * VsmtpSession::rset:
   * @self: the session
   *
   * Emitted for RSET, before the transaction is reset. A notification:
   * handlers return nothing, and the client always gets `250 2.0.0 Ok`
   * (RFC 5321 4.1.1.5). A handler that keeps per-transaction state
   * forgets it here.
   */
  signals[SIGNAL_RSET] =
    g_signal_new ("rset", type, G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * VsmtpSession::noop:
   * @self: the session
   * @argument: the command's argument, possibly empty
   *
   * Emitted for NOOP. Default: `250 2.0.0 Ok`.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_NOOP] =
    decision_signal_new ("noop", type, G_CALLBACK (_vsmtp_session_real_noop),
                         _vsmtp_marshal_OBJECT__STRING, _vsmtp_marshal_OBJECT__STRINGv,
                         1, G_TYPE_STRING);

  /**
   * VsmtpSession::vrfy:
   * @self: the session
   * @argument: the string to verify
   *
   * Emitted for VRFY. Default: `252 2.5.2` (cannot verify, will attempt
   * delivery), as RFC 5321 suggests when verification is not offered.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_VRFY] =
    decision_signal_new ("vrfy", type, G_CALLBACK (_vsmtp_session_real_vrfy),
                         _vsmtp_marshal_OBJECT__STRING, _vsmtp_marshal_OBJECT__STRINGv,
                         1, G_TYPE_STRING);

  /**
   * VsmtpSession::quit:
   * @self: the session
   *
   * Emitted for QUIT. Whatever the reply, the connection is closed after it.
   * Default: `221 2.0.0 Bye`.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_QUIT] =
    decision_signal_new ("quit", type, G_CALLBACK (_vsmtp_session_real_quit),
                         _vsmtp_marshal_OBJECT__VOID, _vsmtp_marshal_OBJECT__VOIDv,
                         0);

  /**
   * VsmtpSession::starttls:
   * @self: the session
   *
   * Emitted for a STARTTLS the server can honour (it has a certificate, TLS
   * is not active yet). A positive reply starts the handshake after
   * `220 2.0.0 Ready to start TLS`; a negative one (for example
   * `454 4.7.0`) is sent instead. After the handshake the session forgets
   * the HELO/EHLO and the envelope (RFC 3207) and no longer offers STARTTLS.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_STARTTLS] =
    decision_signal_new ("starttls", type, G_CALLBACK (_vsmtp_session_real_starttls),
                         _vsmtp_marshal_OBJECT__VOID, _vsmtp_marshal_OBJECT__VOIDv,
                         0);

  /**
   * VsmtpSession::authenticate:
   * @self: the session
   * @mechanism: the SASL mechanism used, such as `PLAIN`
   * @authzid: (nullable): the authorization identity the client asked for, if any
   * @authcid: the authentication identity (user name); both are UTF-8, an
   *   exchange with another is refused before (`501 5.5.2`)
   * @password: (nullable): the password; %NULL with `SCRAM-SHA-256` and
   *   `SCRAM-SHA-256-PLUS`, whose proof was already checked against the
   *   credentials [signal@Vsmtp.Session::lookup-scram-credentials] gave
   *
   * Emitted when a client completed an AUTH exchange (RFC 4954): check the
   * credentials. With SCRAM, the exchange only gets here when the client
   * proved it knows the password: a handler decides whether that user may
   * log in now (policy), and must still answer `235` for it. A `235` reply
   * (for example
   * `vsmtp_reply_new (235, "2.7.0", "Authentication successful")`) accepts
   * them and makes @authcid the session's
   * [property@Vsmtp.Session:authenticated-user]; anything else rejects them
   * (a positive non-235 reply counts as a rejection). Checking a slow hash is
   * best deferred: return a pending reply and complete it from a thread's
   * callback. Default: `535 5.7.8`.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_AUTHENTICATE] =
    decision_signal_new ("authenticate", type, G_CALLBACK (real_authenticate),
                         _vsmtp_marshal_OBJECT__STRING_STRING_STRING_STRING,
                         _vsmtp_marshal_OBJECT__STRING_STRING_STRING_STRINGv,
                         4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);

  /**
   * VsmtpSession::lookup-scram-credentials:
   * @self: the session
   * @mechanism: `SCRAM-SHA-256` or `SCRAM-SHA-256-PLUS`
   * @authcid: the user name the client sent in its first SCRAM message
   *
   * Emitted during a SCRAM exchange, when the server needs the user's salt,
   * iteration count, StoredKey and ServerKey to answer the client's first
   * message and to check its proof. **Synchronous**: the handler returns the
   * credentials at once (GNU SASL asks for them from inside its step; a
   * handler keeps them in memory, as the passwd plugin does, or looks them
   * up quickly) and cannot defer. The first handler that returns
   * credentials ends the emission.
   *
   * Return %NULL for a user you have no SCRAM credentials for (unknown, or
   * known with only a password hash SCRAM cannot use): the session then
   * answers with decoy credentials (see [property@Vsmtp.Server:scram-secret])
   * and the exchange fails at the proof, exactly like a wrong password, so
   * that a client cannot tell which users exist. A successful proof is then
   * decided by [signal@Vsmtp.Session::authenticate], with a %NULL password.
   *
   * Returns: (transfer full) (nullable): the user's credentials, or %NULL
   */
  signals[SIGNAL_LOOKUP_SCRAM_CREDENTIALS] =
    g_signal_new ("lookup-scram-credentials", type, G_SIGNAL_RUN_LAST, 0,
                  _vsmtp_sasl_lookup_accumulator, NULL, _vsmtp_marshal_BOXED__STRING_STRING,
                  VSMTP_TYPE_SCRAM_CREDENTIALS, 2, G_TYPE_STRING, G_TYPE_STRING);
  g_signal_set_va_marshaller (signals[SIGNAL_LOOKUP_SCRAM_CREDENTIALS], type,
                              _vsmtp_marshal_BOXED__STRING_STRINGv);

  /**
   * VsmtpSession::unknown-command:
   * @self: the session
   * @verb: the first word of the line
   * @arguments: the rest of the line
   *
   * Emitted for a command the session does not know, so a handler can
   * implement it. Default: `500 5.5.2`.
   *
   * Returns: (transfer full) (nullable): a decision, or
   *   [ctor@Vsmtp.Reply.new_continue] for no opinion; %NULL is a failure
   *   (`451 4.3.0`)
   */
  signals[SIGNAL_UNKNOWN_COMMAND] =
    decision_signal_new ("unknown-command", type,
                         G_CALLBACK (_vsmtp_session_real_unknown_command),
                         _vsmtp_marshal_OBJECT__STRING_STRING, _vsmtp_marshal_OBJECT__STRING_STRINGv,
                         2, G_TYPE_STRING, G_TYPE_STRING);

  /**
   * VsmtpSession::closed:
   * @self: the session
   *
   * Emitted once when the connection is closed, for whatever reason.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", type, G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}


/* ------------------------------------------------------------------------ */
/* Public API                                                               */

VsmtpSettings *
_vsmtp_session_get_settings (VsmtpSession *self)
{
  return self->settings;
}

/**
 * vsmtp_session_set_handler_object:
 * @self: a session
 * @handler_id: a handler connected to one of @self's decision signals
 * @object: the object it acts for
 *
 * Says that handler @handler_id acts for @object, as a handler connected
 * with @object as its data does: the owner the server knows @object by
 * ([method@Vsmtp.Server.set_handler_owner]) is named in the log line of
 * its failure and labels its decisions in the metrics. For language
 * bindings whose handlers carry data of their own: the Python override
 * calls it for a bound method, with the method's object.
 *
 * @object is not referenced.
 */
void
vsmtp_session_set_handler_object (VsmtpSession *self,
                                  gulong        handler_id,
                                  GObject      *object)
{
  g_return_if_fail (VSMTP_IS_SESSION (self));
  g_return_if_fail (G_IS_OBJECT (object));
  _vsmtp_decision_set_handler_object (self->decision, handler_id, object);
}

/**
 * vsmtp_session_get_server:
 * @self: a session
 *
 * Returns: (transfer none): the server the session belongs to
 */
VsmtpServer *
vsmtp_session_get_server (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->server;
}

/**
 * vsmtp_session_get_id:
 * @self: a session
 *
 * Returns: the session's identifier, unique within the process
 */
const char *
vsmtp_session_get_id (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->id;
}

/**
 * vsmtp_session_get_stream:
 * @self: a session
 *
 * Returns: (transfer none): the stream the session talks over
 */
GIOStream *
vsmtp_session_get_stream (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  /* (a session made with g_object_new() has no connection) */
  return self->connection ? vsmtp_connection_get_stream (self->connection) : NULL;
}

/**
 * vsmtp_session_get_remote_address:
 * @self: a session
 *
 * The client's address: on a listener that takes a PROXY protocol header,
 * the header's source address (the proxy's is in
 * [method@Vsmtp.Session.get_proxy_header]); on a UNIX-domain socket, a
 * [class@Gio.UnixSocketAddress].
 *
 * Returns: (transfer none) (nullable): the client's address, if known
 */
GSocketAddress *
vsmtp_session_get_remote_address (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->remote_address;
}

/**
 * vsmtp_session_get_remote_ip:
 * @self: a session
 *
 * The IP address of [method@Vsmtp.Session.get_remote_address], as text.
 *
 * Returns: (nullable): the client's IP address as a string, if known;
 *   %NULL on a UNIX-domain socket
 */
const char *
vsmtp_session_get_remote_ip (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->remote_ip;
}

/**
 * vsmtp_session_get_state:
 * @self: a session
 *
 * Returns: where the session is in the SMTP dialogue
 */
VsmtpSessionState
vsmtp_session_get_state (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), VSMTP_SESSION_STATE_CLOSED);
  return self->state;
}

/**
 * vsmtp_session_get_helo:
 * @self: a session
 *
 * Returns: (nullable): the domain of the accepted HELO or EHLO, if any
 */
const char *
vsmtp_session_get_helo (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->helo;
}

/**
 * vsmtp_session_is_esmtp:
 * @self: a session
 *
 * Returns: %TRUE if the client greeted with EHLO
 */
gboolean
vsmtp_session_is_esmtp (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), FALSE);
  return self->esmtp;
}

/**
 * vsmtp_session_get_envelope:
 * @self: a session
 *
 * The envelope of the transaction in progress: the sender once MAIL was
 * accepted, and the recipients accepted so far.
 *
 * Returns: (transfer none) (nullable): the envelope, or %NULL outside a transaction
 */
VsmtpEnvelope *
vsmtp_session_get_envelope (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->envelope;
}

/**
 * vsmtp_session_get_n_messages:
 * @self: a session
 *
 * Returns: how many messages were accepted on this connection
 */
guint
vsmtp_session_get_n_messages (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), 0);
  return self->n_messages;
}

/**
 * vsmtp_session_is_tls:
 * @self: a session
 *
 * Returns: %TRUE once the connection is encrypted (after STARTTLS, or from
 *   the start on an implicit-TLS listener)
 */
gboolean
vsmtp_session_is_tls (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), FALSE);
  return self->tls != NULL;
}

/**
 * vsmtp_session_get_tls_connection:
 * @self: a session
 *
 * Returns: (transfer none) (nullable): the TLS connection, once established
 */
GTlsConnection *
vsmtp_session_get_tls_connection (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->tls;
}

/**
 * vsmtp_session_get_tls_protocol_version:
 * @self: a session
 *
 * Returns: the negotiated TLS version, or %G_TLS_PROTOCOL_VERSION_UNKNOWN
 *   without TLS
 */
GTlsProtocolVersion
vsmtp_session_get_tls_protocol_version (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), G_TLS_PROTOCOL_VERSION_UNKNOWN);
  if (self->tls == NULL)
    return G_TLS_PROTOCOL_VERSION_UNKNOWN;
  return g_tls_connection_get_protocol_version (self->tls);
}

/**
 * vsmtp_session_get_tls_cipher_suite:
 * @self: a session
 *
 * Returns: (nullable): the negotiated cipher suite's name, or %NULL without TLS
 */
const char *
vsmtp_session_get_tls_cipher_suite (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->tls ? vsmtp_connection_get_tls_cipher (self->connection) : NULL;
}

/**
 * vsmtp_session_get_peer_certificate:
 * @self: a session
 *
 * Returns: (transfer none) (nullable): the certificate the client presented,
 *   if any
 */
GTlsCertificate *
vsmtp_session_get_peer_certificate (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  if (self->tls == NULL)
    return NULL;
  return g_tls_connection_get_peer_certificate (self->tls);
}

/**
 * vsmtp_session_is_submission:
 * @self: a session
 *
 * Whether the session came in on a submission listener
 * ([flags@Vsmtp.ListenFlags.AUTH_REQUIRED]: MAIL needs a successful AUTH
 * first), where the clients are the server's own users rather than other
 * servers: policies such as "an authenticated user may only use their own
 * sender addresses" apply there.
 *
 * Returns: %TRUE on a submission listener
 */
gboolean
vsmtp_session_is_submission (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), FALSE);
  return self->auth_required;
}

/**
 * vsmtp_session_get_authenticated_user:
 * @self: a session
 *
 * Returns: (nullable): the user name of a successful AUTH, or %NULL
 */
const char *
vsmtp_session_get_authenticated_user (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->auth_user;
}

/**
 * vsmtp_session_get_auth_mechanism:
 * @self: a session
 *
 * The SASL mechanism of the successful AUTH (`PLAIN`, `SCRAM-SHA-256`...),
 * as a milter's `{auth_type}` macro says it.
 *
 * Returns: (nullable): the mechanism, or %NULL without a successful AUTH
 *   (and for a login a proxy gave with XCLIENT)
 */
const char *
vsmtp_session_get_auth_mechanism (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->auth_mechanism;
}

void
_vsmtp_session_set_end_reason (VsmtpSession *self,
                               const char   *reason)
{
  if (self->end_reason == NULL)
    self->end_reason = reason;
}

const char *
_vsmtp_session_get_end_reason (VsmtpSession *self)
{
  return self->end_reason;
}

gboolean
_vsmtp_session_get_counted (VsmtpSession *self)
{
  return self->counted;
}

void
_vsmtp_session_set_counted (VsmtpSession *self,
                            gboolean      counted)
{
  self->counted = !!counted;
}


/**
 * vsmtp_session_get_listen_options:
 * @self: a session
 *
 * The options of the listener that accepted the connection (protocol,
 * TLS, PROXY, XCLIENT), or those given to
 * [method@Vsmtp.Server.handle_connection_with_options]. Do not change them.
 *
 * Returns: (transfer none): the listener's options
 */
VsmtpListenOptions *
vsmtp_session_get_listen_options (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->listen_options;
}

void
_vsmtp_session_set_proxy_header (VsmtpSession     *self,
                                 VsmtpProxyHeader *header)
{
  g_set_object (&self->proxy_header, header);
}

/**
 * vsmtp_session_get_proxy_header:
 * @self: a session
 *
 * What the proxy in front of the server said in its PROXY protocol header,
 * on a listener with [property@Vsmtp.ListenOptions:proxy-protocol] on. The
 * session's remote address is the header's source address already (except
 * for `LOCAL` and `UNKNOWN` headers, which keep the connection's own); the
 * header gives the rest: the destination, the proxy's own address, the
 * TLVs of version 2 (ALPN, authority, unique id, the client's TLS).
 *
 * Returns: (transfer none) (nullable): the header, %NULL when the listener
 *   takes none
 */
VsmtpProxyHeader *
vsmtp_session_get_proxy_header (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return self->proxy_header;
}

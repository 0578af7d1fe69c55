/* vsmtp-session-struct-private.h: the session's instance, for its own units
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to the session (not installed, not scanned for introspection):
 * only the units that make up VsmtpSession include it, the way GTK splits a
 * large widget. vsmtp-session.c is the state machine (the input loop, the
 * command dispatch, the connection's callbacks, TLS, AUTH, the lifecycle);
 * vsmtp-session-class.c the class (its properties, signals and their class
 * handlers, the standard replies, the getters). Everything else reaches a
 * session through vsmtp-session.h and vsmtp-session-private.h.
 */
#pragma once

#include "vsmtp-session-private.h"
#include "vsmtp-listen-options-private.h"
#include "vsmtp-connection-private.h"
#include "vsmtp-data-receiver-private.h"
#include "vsmtp-decision-private.h"
#include "vsmtp-reply-private.h"
#include "vsmtp-sasl-private.h"
#include "vsmtp-xclient-private.h"
#include "vsmtp-server-metrics-private.h"
#include "vsmtp-store.h"

G_BEGIN_DECLS

struct _VsmtpSession
{
  GObject                parent_instance;

  VsmtpServer           *server;         /* weak: only for vsmtp_session_get_server() */
  VsmtpSettings         *settings;       /* what the session was started with */
  VsmtpListenOptions    *listen_options; /* its listener's (a copy nobody changes) */
  VsmtpProxyHeader      *proxy_header;   /* what the proxy in front said, if any */
  VsmtpClientTracker    *clients;        /* per-address accounting (the server's) */
  VsmtpSessionClosedFunc closed_func;    /* after the closed signal: the server's accounting */
  gpointer               closed_data;
  GSocketAddress        *remote_address;
  char                  *remote_ip;
  char                  *id;

  VsmtpConnection       *connection;     /* the streams, the output, the deadline, TLS */
  GString               *outbuf;         /* the connection's output buffer: replies go here */
  GSource               *resume_source;

  VsmtpSessionState      state;
  char                  *helo;
  VsmtpEnvelope         *envelope;
  guint                  n_messages;
  guint                  n_transactions;  /* MAIL commands, for max-transactions */
  guint                  message_serial;
  guint                  n_errors;
  guint                  n_junk;
  guint                  n_commands;
  gint64                 data_deadline;   /* monotonic, during DATA */
  GSource               *sleep_source;   /* error sleep past the soft limit */
  GSource               *greet_source;   /* the greet pause */

  /* what a command saved for its decision's continuation */
  VsmtpAddress          *pending_address;
  GHashTable            *pending_params;
  char                  *pending_helo;
  gboolean               pending_esmtp;

  VsmtpDecision         *decision;        /* the signal being decided, a deferred reply */

  GTlsConnection        *tls;            /* the connection's, once the handshake succeeded */

  /* AUTH */
  VsmtpSasl             *sasl;             /* an AUTH exchange in progress */
  gboolean               auth_in_flight;   /* an AUTH check not answered yet */
  gboolean               handshake_slot;   /* holds one of the server's TLS handshake slots */
  char                  *auth_user;
  char                  *auth_mechanism; /* of auth_user's AUTH, NULL for XCLIENT's LOGIN */
  guint                  auth_required : 1;
  VsmtpStore            *auth_store;       /* failures counted there (vsmtp-session-auth-store.c), or NULL */
  guint                  store_error_policy; /* VsmtpStoreErrorPolicy, with auth_store */
  guint                  auth_store_counted : 1; /* the attempt in flight is counted in auth_store */

  VsmtpDataReceiver     *receiver;        /* the message's content and its limits */

  VsmtpSessionXclient   *xclient;         /* what XCLIENT said (vsmtp-xclient.c), or NULL */

  guint                  esmtp : 1;
  guint                  pipelining : 1;  /* PIPELINING was offered (it can be unregistered) */
  guint                  closed : 1;
  guint                  processing : 1;
  guint                  shutting_down : 1;
  guint                  started : 1;
  guint                  implicit_tls : 1;
  guint                  greeted : 1;
  guint                  tls_starting : 1;     /* STARTTLS accepted: no more SMTP until the handshake */
  guint                  sleeping : 1;
  guint                  counted : 1;
  const char            *end_reason;      /* why it closed, for the metrics (static) */

  /* what vsmtp-server-sessions.c tells of a session */
  gint64                 start_time;      /* real time, microseconds */
  guint64                bytes_received;  /* from the client, before TLS decryption */
  guint                  close_requested : 1;  /* vsmtp_session_close_gracefully() */

  /* BDAT (vsmtp-session-bdat.c) */
  guint64                chunk_size;      /* the chunk being read, as announced */
  guint64                chunk_remaining; /* its octets not read yet */
  guint                  chunk_active : 1;   /* reading a chunk's octets */
  guint                  chunk_accepted : 1; /* into the message; else discarded */
  guint                  chunk_last : 1;     /* BDAT ... LAST */
  guint                  bdat : 1;           /* the transaction's content comes by BDAT */
};

enum {
  PROP_0,
  PROP_SERVER,
  PROP_STREAM,
  PROP_REMOTE_ADDRESS,
  PROP_ID,
  PROP_STATE,
  PROP_HELO,
  PROP_ENVELOPE,
  PROP_AUTHENTICATED_USER,
  PROP_XCLIENT,
  N_PROPS
};

enum {
  SIGNAL_CONNECTED,
  SIGNAL_HELO,
  SIGNAL_EHLO,
  SIGNAL_MAIL_FROM,
  SIGNAL_RCPT_TO,
  SIGNAL_DATA,
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_RSET,
  SIGNAL_NOOP,
  SIGNAL_VRFY,
  SIGNAL_QUIT,
  SIGNAL_STARTTLS,
  SIGNAL_AUTHENTICATE,
  SIGNAL_LOOKUP_SCRAM_CREDENTIALS,
  SIGNAL_UNKNOWN_COMMAND,
  SIGNAL_CLOSED,
  N_SIGNALS
};

extern GParamSpec *_vsmtp_session_properties[N_PROPS];
extern guint       _vsmtp_session_signals[N_SIGNALS];

/* Emits "authenticate" for the credentials of the AUTH exchange, an
 * attempt in flight (vsmtp-session.c) */
void        _vsmtp_session_auth_emit             (VsmtpSession      *self);
/* Starts the AUTH exchange with @mechanism (taken) and the initial
 * response, if any (vsmtp-session.c) */
void        _vsmtp_session_auth_start            (VsmtpSession      *self,
                                                  char              *mechanism,
                                                  const char        *initial);

/* Installs the properties and the signals, with their class handlers. */
void        _vsmtp_session_class_install         (VsmtpSessionClass *klass);

/* The class handlers: the standard replies. */
VsmtpReply *_vsmtp_session_real_connected        (VsmtpSession    *self);
VsmtpReply *_vsmtp_session_real_helo             (VsmtpSession    *self,
                                                  const char      *domain);
VsmtpReply *_vsmtp_session_real_mail_from        (VsmtpSession    *self,
                                                  VsmtpAddress    *sender,
                                                  VsmtpParameters *parameters);
VsmtpReply *_vsmtp_session_real_rcpt_to          (VsmtpSession    *self,
                                                  VsmtpAddress    *recipient,
                                                  VsmtpParameters *parameters);
VsmtpReply *_vsmtp_session_real_data             (VsmtpSession    *self);
VsmtpReply *_vsmtp_session_real_message_received (VsmtpSession    *self,
                                                  VsmtpMessage    *message);
VsmtpReply *_vsmtp_session_real_ok               (VsmtpSession    *self);
VsmtpReply *_vsmtp_session_real_noop             (VsmtpSession    *self,
                                                  const char      *argument);
VsmtpReply *_vsmtp_session_real_vrfy             (VsmtpSession    *self,
                                                  const char      *argument);
VsmtpReply *_vsmtp_session_real_quit             (VsmtpSession    *self);
VsmtpReply *_vsmtp_session_real_starttls         (VsmtpSession    *self);
VsmtpReply *_vsmtp_session_real_unknown_command  (VsmtpSession    *self,
                                                  const char      *verb,
                                                  const char      *arguments);

/* Without a handler the class handler decides: call it directly rather than
 * go through a signal emission (most commands of most sessions). */
#define HAS_HANDLERS(sig) g_signal_has_handler_pending (self, _vsmtp_session_signals[sig], 0, FALSE)

/* Emits decision signal @which with the arguments that follow (as for
 * g_signal_emit(), without the return location) and decides with its
 * answer, now or once a deferred handler completes. */
#define session_emit(self, which, then, ...) \
  _vsmtp_decision_emit ((self)->decision, _vsmtp_session_signals[which], (then), ##__VA_ARGS__)

/* Emits the decision signal @sig with the arguments that follow, or, with no
 * handler connected, takes the class handler's @direct answer (most
 * commands of most sessions) without an emission. */
#define EMIT_DECISION(sig, then, direct, ...) \
  G_STMT_START { \
    if (HAS_HANDLERS (sig)) \
      session_emit (self, sig, then, ##__VA_ARGS__); \
    else \
      _vsmtp_decision_decide (self->decision, direct, then); \
  } G_STMT_END

static inline const char *
session_hostname (VsmtpSession *self)
{
  return self->settings->hostname;
}

static inline void
session_set_state (VsmtpSession      *self,
                   VsmtpSessionState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), _vsmtp_session_properties[PROP_STATE]);
}

static inline void
session_queue (VsmtpSession *self,
               VsmtpReply   *reply)
{
  guint code = vsmtp_reply_get_code (reply);

  vsmtp_reply_append_to (reply, self->outbuf);

  /* error counting (Postfix's soft and hard error limits) */
  if (code >= 400 && code != 421 && self->state != VSMTP_SESSION_STATE_GREETING)
    self->n_errors++;
}

static inline void
session_queue_new (VsmtpSession *self,
                   guint         code,
                   const char   *enhanced,
                   const char   *text)
{
  g_autoptr(VsmtpReply) reply = vsmtp_reply_new (code, enhanced, text);

  session_queue (self, reply);
}

/* What a command saved for its decision's continuation. */
static inline void
session_clear_command_args (VsmtpSession *self)
{
  g_clear_pointer (&self->pending_address, vsmtp_address_unref);
  g_clear_pointer (&self->pending_params, g_hash_table_unref);
  g_clear_pointer (&self->pending_helo, g_free);
}

/* vsmtp-session.c: the state machine, for the command handlers */
gboolean    _vsmtp_session_take_handshake_slot   (VsmtpSession    *self);
void        _vsmtp_session_reset_transaction     (VsmtpSession    *self);
void        _vsmtp_session_touch_timeout         (VsmtpSession    *self);
/* Queues @reply (if any) and closes once everything queued is written. */
void        _vsmtp_session_close_after_flush     (VsmtpSession    *self,
                                                  VsmtpReply      *reply);
/* The client sent what it should not have (@what: when): 554, and close. */
void        _vsmtp_session_protocol_violation    (VsmtpSession    *self,
                                                  const char      *what);

/* vsmtp-session-commands.c: each command's checks, its decision signal and
 * what comes of the decision; @args is what follows the verb. */
void        _vsmtp_session_greet_now             (VsmtpSession    *self);
void        _vsmtp_session_handle_helo           (VsmtpSession    *self,
                                                  const char      *args,
                                                  gboolean         esmtp);
void        _vsmtp_session_handle_mail           (VsmtpSession    *self,
                                                  const char      *args);
void        _vsmtp_session_handle_rcpt           (VsmtpSession    *self,
                                                  const char      *args);
void        _vsmtp_session_handle_data           (VsmtpSession    *self,
                                                  const char      *args);
void        _vsmtp_session_handle_rset           (VsmtpSession    *self,
                                                  const char      *args);
void        _vsmtp_session_handle_noop           (VsmtpSession    *self,
                                                  const char      *args);
void        _vsmtp_session_handle_vrfy           (VsmtpSession    *self,
                                                  const char      *args);
void        _vsmtp_session_handle_quit           (VsmtpSession    *self);
void        _vsmtp_session_handle_starttls       (VsmtpSession    *self,
                                                  const char      *args);
/* @line is the whole command line */
void        _vsmtp_session_handle_unknown        (VsmtpSession    *self,
                                                  const char      *line,
                                                  const char      *args);
/* During DATA: feeds the buffered input to the data receiver, and decides
 * at the end of data. FALSE when more input is needed. */
gboolean    _vsmtp_session_process_data          (VsmtpSession    *self);
/* A new message with our Received header for the data receiver: NULL, or
 * the reply that refuses the content (transfer full). */
VsmtpReply *_vsmtp_session_begin_message         (VsmtpSession    *self);
/* The end of the content (DATA's end, BDAT LAST): the receiver's checks,
 * then the message-received decision. */
void        _vsmtp_session_end_of_data           (VsmtpSession    *self);

/* vsmtp-session-bdat.c: CHUNKING (RFC 3030) */
void        _vsmtp_session_handle_bdat           (VsmtpSession    *self,
                                                  const char      *args);
/* While a chunk is read: feeds its buffered octets to the data receiver
 * (or drops those of a refused chunk), and answers at its end. FALSE when
 * more input is needed. */
gboolean    _vsmtp_session_process_chunk         (VsmtpSession    *self);

G_END_DECLS

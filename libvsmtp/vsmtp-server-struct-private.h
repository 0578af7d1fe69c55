/* vsmtp-server-struct-private.h: the instance of VsmtpServer, shared by
 * its units
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * VsmtpServer is three units:
 *   vsmtp-server.c            the object: its properties and signal, their
 *                             documentation, its life, the settings snapshot
 *                             sessions take, the private API
 *   vsmtp-server-accessors.c  the public getters and setters
 *   vsmtp-server-listen.c     listening, the sessions of the connections
 *                             (admission, accounting) and the graceful
 *                             shutdown
 * Only they include this header; other units use vsmtp-server-private.h.
 */
#pragma once

#include "vsmtp-server.h"
#include "vsmtp-settings-private.h"
#include "vsmtp-client-tracker-private.h"
#include "vsmtp-extension-private.h"
#include "vsmtp-server-metrics-private.h"

G_BEGIN_DECLS

/* The shortest VsmtpServer:max-line-length (RFC 5321 4.5.3.1.4) */
#define MIN_MAX_LINE_LENGTH       512

struct _VsmtpServer
{
  GObject                 parent_instance;

  GPtrArray              *listeners;             /* VsmtpListener */
  GList                  *listen_addresses;
  GHashTable             *sessions;

  char                   *hostname;
  guint64                 max_message_size;
  guint                   max_recipients;
  guint                   max_line_length;
  guint                   timeout;
  guint                   decision_timeout;
  gsize                   spool_threshold;
  char                   *spool_directory;
  GSource                *sweep_source;          /* the daily spool sweep */
  VsmtpBareNewlinePolicy  bare_newline;
  GKeyFile               *config;
  GTlsCertificate        *tls_certificate;
  guint                   tls_handshake_timeout;
  gboolean                require_tls;
  VsmtpServerLimits       limits;
  char                  **auth_mechanisms;
  gboolean                auth_requires_tls;
  guint                   max_auth_failures;
  guint                   auth_failure_window;
  GBytes                 *scram_secret;           /* decoy salts; random until set */
  GHashTable             *handler_owners;         /* handler data (weak) -> owner name */
  guint                   scram_decoy_iterations;
  guint                   scram_decoy_salt_length;
  VsmtpClientTracker     *clients;                /* per address: sessions, handshakes, AUTH */
  VsmtpSettings          *settings;               /* what new sessions take; NULL: to make */

  GTask                  *shutdown_task;
  GSource                *grace_source;
  gint64                  grace_deadline;         /* monotonic, while grace_source */

  VsmtpExtensionRegistry *extensions;            /* EHLO keywords, MAIL/RCPT parameters */

  VsmtpServerMetrics     *metrics;               /* vsmtp-server-metrics.c */
};

enum {
  PROP_0,
  PROP_HOSTNAME,
  PROP_MAX_MESSAGE_SIZE,
  PROP_MAX_RECIPIENTS,
  PROP_MAX_LINE_LENGTH,
  PROP_TIMEOUT,
  PROP_DECISION_TIMEOUT,
  PROP_SPOOL_THRESHOLD,
  PROP_SPOOL_DIRECTORY,
  PROP_BARE_NEWLINE,
  PROP_CONFIG,
  PROP_TLS_CERTIFICATE,
  PROP_REQUIRE_TLS,
  PROP_TLS_HANDSHAKE_TIMEOUT,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_CONNECTIONS_PER_CLIENT,
  PROP_MAX_TLS_HANDSHAKES,
  PROP_MAX_TLS_HANDSHAKES_PER_CLIENT,
  PROP_SOFT_ERROR_LIMIT,
  PROP_HARD_ERROR_LIMIT,
  PROP_ERROR_SLEEP_TIME,
  PROP_JUNK_COMMAND_LIMIT,
  PROP_MIN_DATA_RATE,
  PROP_FORBID_UNAUTH_PIPELINING,
  PROP_GREET_PAUSE,
  PROP_MAX_HEADER_SIZE,
  PROP_MAX_DATA_LINE_LENGTH,
  PROP_AUTH_MECHANISMS,
  PROP_AUTH_REQUIRES_TLS,
  PROP_MAX_AUTH_FAILURES,
  PROP_AUTH_FAILURE_WINDOW,
  PROP_SCRAM_SECRET,
  PROP_SCRAM_DECOY_ITERATIONS,
  PROP_SCRAM_DECOY_SALT_LENGTH,
  PROP_N_SESSIONS,
  PROP_MAX_TRANSACTIONS,
  N_PROPS
};

enum {
  SIGNAL_NEW_SESSION,
  SIGNAL_LISTENER_STATE_CHANGED,
  N_SIGNALS
};

/* In vsmtp-server.c */
extern GParamSpec *_vsmtp_server_properties[N_PROPS];
extern guint _vsmtp_server_signals[N_SIGNALS];

/* A setting changed: the next session takes a new snapshot; notifies
 * @prop_id */
void _vsmtp_server_setting_changed (VsmtpServer *self,
                                    guint        prop_id);

G_END_DECLS

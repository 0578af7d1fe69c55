/* vsmtp-settings-private.h: what a session is configured with
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vsmtp-server.h"

G_BEGIN_DECLS

/* The limits a session checks on every command: read straight from the
 * settings, without a function call per field. */
typedef struct {
  guint    max_connections;            /* 0: unlimited */
  guint    max_connections_per_client; /* 0: unlimited */
  guint    max_tls_handshakes;         /* at once, 0: unlimited */
  guint    max_tls_handshakes_per_client;
  guint    soft_error_limit;
  guint    hard_error_limit;
  guint    error_sleep_time;           /* ms */
  guint    junk_command_limit;
  guint    min_data_rate;              /* bytes/s, 0: none */
  gboolean forbid_unauth_pipelining;
  guint    greet_pause;                /* ms before the greeting, 0: none */
  guint    max_header_size;            /* bytes, 0: unlimited */
  guint    max_data_line_length;       /* bytes with CRLF, 0: unlimited */
  guint    max_transactions;           /* MAIL commands a session, 0: unlimited */
} VsmtpServerLimits;

typedef struct _VsmtpExtensionRegistry VsmtpExtensionRegistry;

/* An immutable snapshot of the server's settings, taken by each session
 * when it starts: a session reads its settings here and never asks the
 * server. A change to a server property makes the next sessions take a
 * new snapshot; the sessions already running keep theirs (a certificate
 * reloaded with SIGHUP serves the next connections). A listener with
 * limits of its own gives its sessions a copy with them
 * (_vsmtp_listen_options_get_settings).
 *
 * The extension registry is the exception: it is the server's, live, so
 * that an extension registered while sessions run is offered at their
 * next EHLO. */
typedef struct {
  gatomicrefcount          ref_count;

  char                    *hostname;
  guint64                  max_message_size;
  guint                    max_recipients;
  guint                    max_line_length;
  guint                    timeout;                  /* s */
  guint                    decision_timeout;         /* ms */
  gsize                    spool_threshold;
  char                    *spool_directory;          /* NULL: the temporary folder */
  VsmtpBareNewlinePolicy   bare_newline;
  GTlsCertificate         *tls_certificate;
  gboolean                 require_tls;
  guint                    tls_handshake_timeout;    /* s */
  VsmtpServerLimits        limits;
  char                   **auth_mechanisms;          /* NULL: no AUTH */
  gboolean                 auth_requires_tls;
  guint                    max_auth_failures;
  guint                    auth_failure_window;      /* s */
  VsmtpExtensionRegistry  *extensions;               /* the server's, not owned */
  GHashTable              *handler_owners;           /* the server's (live): handler data -> name */
  GBytes                  *scram_secret;             /* decoy SCRAM salts come from it */
  guint                    scram_decoy_iterations;
  guint                    scram_decoy_salt_length;
  /* replies made from these settings alone, at the first session that
   * needs each (vsmtp-settings-replies.c): not copied, dropped with them */
  gpointer                 replies[3];               /* VsmtpReply * */
  /* EHLO replies seen with these settings, by their text (a few: what a
   * session offers varies with TLS, AUTH, the listener) */
  GMutex                   ehlo_lock;
  char                    *ehlo_texts[4];
  gpointer                 ehlo_replies[4];          /* VsmtpReply * */
} VsmtpSettings;

VsmtpSettings *_vsmtp_settings_new   (void);
VsmtpSettings *_vsmtp_settings_ref   (VsmtpSettings *self);
/* A new snapshot with the same values (for a listener's own limits) */
VsmtpSettings *_vsmtp_settings_copy  (VsmtpSettings *self);
void           _vsmtp_settings_unref (VsmtpSettings *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VsmtpSettings, _vsmtp_settings_unref)

G_END_DECLS

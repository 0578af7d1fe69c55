/* vsmtpd-config.h: the keyfile configuration of vsmtpd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

G_BEGIN_DECLS

/* Everything vsmtpd reads from the keyfile and the command line, checked. */
typedef struct
{
  char                   *path;              /* the --config file, or NULL */
  GKeyFile               *keyfile;           /* with the command line applied */
  VsmtpConfigGroup       *server_group;      /* [server], loaded */
  GPtrArray              *server_properties; /* GParamSpec of VsmtpServer with a key */

  char                  **listen;            /* ADDR:PORT strings */
  GPtrArray              *listen_addresses;  /* GSocketAddress, same order */
  char                   *hostname;
  guint                   shutdown_grace;    /* seconds */

  /* [server] user/group: who to run as once set up (run_as_user NULL: as
   * started) */
  GHashTable             *origins;   /* "group\nkey" -> what set it on the command line */
  char                   *run_as_user;
  char                   *run_as_group;
  uid_t                   run_as_uid;
  gid_t                   run_as_gid;
  guint                   workers;           /* processes; 1: no worker processes */

  char                  **plugins_enabled;
  char                  **plugins_path;

  /* TLS: without tls-certificate, the daemon uses its self-signed one */
  char                   *tls_certificate_path;  /* absolute, or NULL */
  char                   *tls_key_path;          /* NULL: in the certificate file */
  GTlsCertificate        *tls_certificate;       /* loaded from the above */
  char                   *tls_priority;          /* GnuTLS priority string */
  char                  **listen_tls;            /* ADDR:PORT, implicit TLS */
  GPtrArray              *listen_tls_addresses;  /* GSocketAddress, same order */
  char                  **listen_submission;     /* ADDR:PORT, STARTTLS, AUTH required */
  GPtrArray              *listen_submission_addresses;
  char                  **listen_submissions;    /* ADDR:PORT, implicit TLS, AUTH required */
  GPtrArray              *listen_submissions_addresses;
  gboolean                require_tls;
  gboolean                smtputf8;              /* offer SMTPUTF8 */
  guint                   tls_handshake_timeout; /* seconds */
  char                  **disable_extensions;    /* EHLO keywords, checked */
  char                  **xclient_trusted;       /* [server] xclient-trusted, or NULL */

  GPtrArray              *listeners;             /* VsmtpdListener: [listener NAME] */
  VsmtpStore             *store;                 /* [redis] url: a Redis store, else NULL */
  VsmtpSharedLimits       shared_limits;         /* [redis] share */
  VsmtpStoreErrorPolicy   store_error_policy;    /* [redis] on-store-error */

  /* [server] dbus: G_BUS_TYPE_NONE, _SESSION or _SYSTEM (vsmtpd-dbus.c);
   * dbus-group: who else than root may call its methods */
  GBusType                dbus;
  char                   *dbus_group;
  gid_t                   dbus_gid;
} VsmtpdConfig;

/* The command line settings that override the keyfile. */
typedef struct
{
  const char          *config_file;
  const char * const  *listen;    /* replaces [server] listen */
  const char          *hostname;  /* replaces [server] hostname */
  const char * const  *plugins;   /* appended to [plugins] enabled */
  const char * const  *options;   /* SECTION.KEY=VALUE */
  const char          *tls_certificate;  /* replaces [server] tls-certificate */
  const char          *tls_key;          /* replaces [server] tls-key */
  GKeyFile            *keyfile;          /* read instead of config_file, which
                                          * still names it (--check-config) */
} VsmtpdConfigOverrides;

VsmtpdConfig *vsmtpd_config_load           (const VsmtpdConfigOverrides  *overrides,
                                            GError                      **error);
void          vsmtpd_config_apply          (VsmtpdConfig                 *self,
                                            VsmtpServer                  *server);
void          vsmtpd_config_apply_properties (VsmtpdConfig             *self,
                                              VsmtpServer              *server);
char         *vsmtpd_config_locate         (VsmtpdConfig                 *self,
                                            const char                   *message);
GPtrArray    *vsmtpd_config_dup_groups     (VsmtpdConfig                 *self);
char         *vsmtpd_config_default_maildir (void);
/* Options for a listener of the [server] listen keys: @flags, and the
 * [server] keys that apply to those listeners (xclient-trusted). */
VsmtpListenOptions *vsmtpd_config_new_listen_options (VsmtpdConfig     *self,
                                                      VsmtpListenFlags  flags);
GSocketAddress *vsmtpd_parse_listen_address (const char               *text);
char         *vsmtpd_config_default_state_directory (void);
void          vsmtpd_config_free           (VsmtpdConfig                 *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VsmtpdConfig, vsmtpd_config_free)

G_END_DECLS

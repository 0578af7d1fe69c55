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

  char                  **listen;            /* ADDR:PORT strings */
  GPtrArray              *listen_addresses;  /* GSocketAddress, same order */
  char                   *hostname;
  guint64                 max_message_size;
  guint                   max_recipients;
  guint                   max_line_length;
  guint                   timeout;           /* seconds */
  guint                   decision_timeout;  /* seconds */
  guint64                 spool_threshold;
  char                   *spool_directory;   /* NULL: the server's default */
  VsmtpBareNewlinePolicy  bare_newline;
  guint                   shutdown_grace;    /* seconds */

  char                  **plugins_enabled;
  char                  **plugins_path;

  char                   *maildir_path;
} VsmtpdConfig;

/* The command line settings that override the keyfile. */
typedef struct
{
  const char          *config_file;
  const char * const  *listen;    /* replaces [server] listen */
  const char          *hostname;  /* replaces [server] hostname */
  const char * const  *plugins;   /* appended to [plugins] enabled */
  const char * const  *options;   /* SECTION.KEY=VALUE */
} VsmtpdConfigOverrides;

VsmtpdConfig *vsmtpd_config_load           (const VsmtpdConfigOverrides  *overrides,
                                            GError                      **error);
void          vsmtpd_config_apply          (VsmtpdConfig                 *self,
                                            VsmtpServer                  *server);
char         *vsmtpd_config_default_maildir (void);
void          vsmtpd_config_free           (VsmtpdConfig                 *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VsmtpdConfig, vsmtpd_config_free)

G_END_DECLS

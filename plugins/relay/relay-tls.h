/* relay-tls.h: how the relay checks its upstream's certificate
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <vsmtp.h>

G_BEGIN_DECLS

typedef struct
{
  char         *ca_file;      /* [relay] tls-ca-file, or NULL: the system's */
  char         *server_name;  /* [relay] tls-server-name, or NULL: host */
  GTlsDatabase *database;     /* from ca_file, or NULL: GIO's default */
} RelayTls;

void       relay_tls_declare_config (VsmtpConfigGroup  *group);
gboolean   relay_tls_configure      (RelayTls          *tls,
                                     VsmtpConfigGroup  *group,
                                     GError           **error);
void       relay_tls_clear          (RelayTls          *tls);

GIOStream *relay_tls_client_new     (RelayTls          *tls,
                                     GIOStream         *base,
                                     const char        *host,
                                     guint16            port,
                                     gboolean           verify,
                                     gboolean          *unverified,
                                     GError           **error);

gboolean   relay_tls_check_peer     (GTlsConnection    *connection,
                                     gboolean           verify,
                                     gboolean          *unverified,
                                     GError           **error);

G_END_DECLS

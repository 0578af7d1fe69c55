/* relay-tls.c: how the relay checks its upstream's certificate
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-relay"

#include "relay-tls.h"

/* The relay has one upstream, so its verification settings are keys of
 * [relay]: the CA certificates that are trusted (tls-ca-file; by default
 * the system's store, GIO's default database) and the name the
 * certificate must be valid for, which is also sent as SNI
 * (tls-server-name; by default host). GIO checks the chain and the name
 * during the handshake; the relay overrides its verdict (GTlsConnection's
 * accept-certificate) only where verification is off: tls-verify=false,
 * or a message with "TLS-Required: No" (RFC 8689 §5). Whether an override
 * was needed is remembered (*unverified), so that a message with
 * REQUIRETLS never goes over such a connection. */

void
relay_tls_declare_config (VsmtpConfigGroup *group)
{
  vsmtp_config_group_add_path (group, "tls-ca-file", NULL,
                               "PEM file of the CA certificates trusted for the upstream's "
                               "certificate; default: the system's trust store");
  vsmtp_config_group_add_string (group, "tls-server-name", NULL,
                                 "The name the upstream's certificate must be valid for, "
                                 "also sent as SNI; default: host");
}

void
relay_tls_clear (RelayTls *tls)
{
  g_clear_pointer (&tls->ca_file, g_free);
  g_clear_pointer (&tls->server_name, g_free);
  g_clear_object (&tls->database);
}

gboolean
relay_tls_configure (RelayTls          *tls,
                     VsmtpConfigGroup  *group,
                     GError           **error)
{
  g_autoptr(GError) local_error = NULL;

  relay_tls_clear (tls);

  tls->server_name = vsmtp_config_group_dup_string (group, "tls-server-name");
  if (tls->server_name != NULL)
    g_strstrip (tls->server_name);
  if (tls->server_name != NULL && tls->server_name[0] == '\0')
    g_clear_pointer (&tls->server_name, g_free);

  tls->ca_file = vsmtp_config_group_dup_string (group, "tls-ca-file");
  if (tls->ca_file == NULL)
    return TRUE;

  tls->database = g_tls_file_database_new (tls->ca_file, &local_error);
  if (tls->database == NULL)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                   "[relay] tls-ca-file: %s", local_error->message);
      return FALSE;
    }

  return TRUE;
}

static gboolean
on_accept_certificate (GTlsConnection       *connection,
                       GTlsCertificate      *peer_cert,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  gboolean *unverified = user_data;

  /* Only connected when verification is off */
  *unverified = TRUE;
  g_debug ("relay: upstream certificate not verified (flags 0x%x), accepted: "
           "verification is off", errors);
  return TRUE;
}

/* A TLS client connection over @base to @host:@port, checked against the
 * settings; @unverified (which must outlive the connection's handshake)
 * becomes TRUE when the certificate was accepted without being valid. */
GIOStream *
relay_tls_client_new (RelayTls    *tls,
                      GIOStream   *base,
                      const char  *host,
                      guint16      port,
                      gboolean     verify,
                      gboolean    *unverified,
                      GError     **error)
{
  g_autoptr(GSocketConnectable) identity = NULL;
  GIOStream *connection;

  *unverified = FALSE;
  identity = g_network_address_new (tls->server_name != NULL ? tls->server_name : host, port);
  connection = g_tls_client_connection_new (base, identity, error);
  if (connection == NULL)
    return NULL;

  if (tls->database != NULL)
    g_tls_connection_set_database (G_TLS_CONNECTION (connection), tls->database);
  if (!verify)
    g_signal_connect (connection, "accept-certificate",
                      G_CALLBACK (on_accept_certificate), unverified);

  return connection;
}

/* After a successful handshake: the verdict on the certificate again. A
 * resumed TLS session skips the certificate check (and accept-certificate)
 * in GIO's backend, even when the session was first accepted with an
 * override: so the relay asks for the errors itself. Returns FALSE with
 * @error when @verify and the certificate is not valid; sets
 * *@unverified when it is not. */
gboolean
relay_tls_check_peer (GTlsConnection  *connection,
                      gboolean         verify,
                      gboolean        *unverified,
                      GError         **error)
{
  GTlsCertificateFlags errors = g_tls_connection_get_peer_certificate_errors (connection);

  if (g_tls_connection_get_peer_certificate (connection) == NULL)
    errors |= G_TLS_CERTIFICATE_GENERIC_ERROR;
  if (errors == 0)
    return TRUE;

  *unverified = TRUE;
  if (!verify)
    return TRUE;

  g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
               "Unacceptable TLS certificate (flags 0x%x)", errors);
  return FALSE;
}

/* vsmtpd-tls.c: the TLS certificate of vsmtpd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "vsmtpd-tls.h"

/* glib-networking loads a certificate and a key that do not belong
 * together without complaint and only fails at the first handshake. So
 * the pair is checked with GnuTLS first, which compares the public keys,
 * and every problem is reported at startup (or at SIGHUP) naming the
 * file. The self-signed default is generated with GnuTLS too. */

#define SELF_SIGNED_VALIDITY  (10 * 365 * 24 * 3600LL)  /* about ten years */
#define SELF_SIGNED_CN_MAX    64                         /* ub-common-name */

static void
clear_crt (gnutls_x509_crt_t *crt)
{
  if (*crt != NULL)
    gnutls_x509_crt_deinit (*crt);
}

static void
clear_privkey (gnutls_x509_privkey_t *key)
{
  if (*key != NULL)
    gnutls_x509_privkey_deinit (*key);
}

static void
clear_datum (gnutls_datum_t *datum)
{
  gnutls_free (datum->data);
  datum->data = NULL;
  datum->size = 0;
}

static gboolean
read_pem (const char  *path,
          const char  *what,
          char       **out_contents,
          gsize       *out_length,
          GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  int fd;
  int saved_errno;

  /* for the plain errno text: GLib's message repeats the path */
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "cannot read the %s %s: %s", what, path, g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);

  if (!g_file_get_contents (path, out_contents, out_length, &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "cannot read the %s %s: %s", what, path, local_error->message);
      return FALSE;
    }

  return TRUE;
}

/**
 * vsmtpd_tls_load_certificate:
 * @certificate_path: a PEM file with the certificate, then its chain
 * @key_path: (nullable): a PEM file with the private key; %NULL: the key
 *   is in @certificate_path
 * @out_key_at_fault: (out) (optional): on error, whether the key file (or
 *   the pair) is at fault rather than the certificate file
 * @error: return location for an error, whose message names the file
 *
 * Loads a certificate and its private key after checking with GnuTLS
 * that both files are readable, parse, and belong together.
 *
 * Returns: (transfer full) (nullable): the certificate with its key
 */
GTlsCertificate *
vsmtpd_tls_load_certificate (const char  *certificate_path,
                             const char  *key_path,
                             gboolean    *out_key_at_fault,
                             GError     **error)
{
  g_autofree char *certificate_pem = NULL;
  g_autofree char *key_pem = NULL;
  g_autoptr(GError) local_error = NULL;
  gnutls_certificate_credentials_t credentials = NULL;
  gnutls_x509_crt_t *chain = NULL;
  gnutls_x509_privkey_t key = NULL;
  gnutls_datum_t certificate_datum, key_datum;
  unsigned int n_chain = 0;
  GTlsCertificate *certificate;
  gsize certificate_length, key_length;
  int ret;

  g_return_val_if_fail (certificate_path != NULL, NULL);

  if (out_key_at_fault != NULL)
    *out_key_at_fault = FALSE;
  if (key_path == NULL)
    key_path = certificate_path;

  if (!read_pem (certificate_path, "certificate", &certificate_pem, &certificate_length, error))
    return NULL;
  if (out_key_at_fault != NULL)
    *out_key_at_fault = TRUE;
  if (!read_pem (key_path, "private key", &key_pem, &key_length, error))
    return NULL;
  if (out_key_at_fault != NULL)
    *out_key_at_fault = FALSE;

  certificate_datum.data = (unsigned char *) certificate_pem;
  certificate_datum.size = certificate_length;
  key_datum.data = (unsigned char *) key_pem;
  key_datum.size = key_length;

  /* each file on its own first, to name the one at fault */
  ret = gnutls_x509_crt_list_import2 (&chain, &n_chain, &certificate_datum,
                                      GNUTLS_X509_FMT_PEM, 0);
  if (ret < 0)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   "%s has no usable PEM certificate: %s",
                   certificate_path, gnutls_strerror (ret));
      return NULL;
    }
  for (unsigned int i = 0; i < n_chain; i++)
    gnutls_x509_crt_deinit (chain[i]);
  gnutls_free (chain);

  if (out_key_at_fault != NULL)
    *out_key_at_fault = TRUE;

  gnutls_x509_privkey_init (&key);
  ret = gnutls_x509_privkey_import2 (key, &key_datum, GNUTLS_X509_FMT_PEM, NULL, 0);
  gnutls_x509_privkey_deinit (key);
  if (ret < 0)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   "%s has no usable PEM private key%s: %s",
                   key_path,
                   strstr (key_pem, "ENCRYPTED") != NULL
                     ? " (an encrypted key is not supported)" : "",
                   gnutls_strerror (ret));
      return NULL;
    }

  /* then together: GnuTLS compares the certificate's public key with the
   * private key */
  ret = gnutls_certificate_allocate_credentials (&credentials);
  if (ret == GNUTLS_E_SUCCESS)
    {
      ret = gnutls_certificate_set_x509_key_mem2 (credentials, &certificate_datum, &key_datum,
                                                  GNUTLS_X509_FMT_PEM, NULL, 0);
      gnutls_certificate_free_credentials (credentials);
    }
  if (ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   "the private key in %s does not match the certificate in %s",
                   key_path, certificate_path);
      return NULL;
    }
  if (ret < 0)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   "cannot use the certificate in %s with the private key in %s: %s",
                   certificate_path, key_path, gnutls_strerror (ret));
      return NULL;
    }

  certificate = g_tls_certificate_new_from_files (certificate_path, key_path, &local_error);
  if (certificate == NULL)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   "cannot load the certificate %s with the private key %s: %s",
                   certificate_path, key_path, local_error->message);
      return NULL;
    }

  return certificate;
}

/**
 * vsmtpd_tls_check_priority:
 * @priority: a GnuTLS priority string
 * @error: return location for an error saying where it goes wrong
 *
 * Returns: whether GnuTLS accepts @priority
 */
gboolean
vsmtpd_tls_check_priority (const char  *priority,
                           GError     **error)
{
  gnutls_priority_t cache = NULL;
  const char *error_pos = NULL;
  int ret;

  ret = gnutls_priority_init2 (&cache, priority, &error_pos, 0);
  if (ret != GNUTLS_E_SUCCESS)
    {
      if (error_pos != NULL)
        g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                     "not a valid GnuTLS priority string: %s at \"%.40s\"",
                     gnutls_strerror (ret), error_pos);
      else
        g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                     "not a valid GnuTLS priority string: %s", gnutls_strerror (ret));
      return FALSE;
    }
  gnutls_priority_deinit (cache);
  return TRUE;
}

/**
 * vsmtpd_tls_apply_priority:
 * @priority: a GnuTLS priority string that vsmtpd_tls_check_priority()
 *   accepted
 * @error: return location for an error
 *
 * Makes @priority the TLS profile of every connection of the process.
 * glib-networking (2.74) has no per-connection setting: it reads
 * `G_TLS_GNUTLS_PRIORITY` once, when its connection class is first set
 * up, and falls back to its default without a word when that value is
 * bad. So this sets the variable and then sets the class up at once, and
 * fails if the class was set up before, when the variable would be
 * ignored. Call it before any TLS connection exists.
 *
 * Returns: whether @priority is now in force
 */
gboolean
vsmtpd_tls_apply_priority (const char  *priority,
                           GError     **error)
{
  GTlsBackend *backend = g_tls_backend_get_default ();
  GType type = g_tls_backend_get_server_connection_type (backend);
  gpointer klass;

  if (type == G_TYPE_INVALID || !g_tls_backend_supports_tls (backend))
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_UNAVAILABLE,
                   "no TLS support in GIO (is glib-networking installed?)");
      return FALSE;
    }
  if (g_type_class_peek (type) != NULL &&
      g_strcmp0 (g_getenv ("G_TLS_GNUTLS_PRIORITY"), priority) != 0)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                   "TLS was set up before the priority could be applied");
      return FALSE;
    }
  g_setenv ("G_TLS_GNUTLS_PRIORITY", priority, TRUE);
  klass = g_type_class_ref (type);
  g_type_class_unref (klass);
  return TRUE;
}

/**
 * vsmtpd_tls_dup_fingerprint:
 * @certificate: a certificate
 *
 * Returns: (transfer full): the SHA-256 digest of @certificate's DER
 *   encoding, in hexadecimal, as shown in the log
 */
char *
vsmtpd_tls_dup_fingerprint (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return g_strdup ("unknown");

  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
}

static gboolean
set_gnutls_error (GError     **error,
                  int          ret,
                  const char  *what)
{
  g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
               "cannot generate a self-signed certificate (%s): %s",
               what, gnutls_strerror (ret));
  return FALSE;
}

static gboolean
generate_self_signed (const char      *hostname,
                      gnutls_datum_t  *out_certificate,
                      gnutls_datum_t  *out_key,
                      GError         **error)
{
  gnutls_x509_privkey_t key __attribute__ ((cleanup (clear_privkey))) = NULL;
  gnutls_x509_crt_t crt __attribute__ ((cleanup (clear_crt))) = NULL;
  g_autoptr(GInetAddress) ip = g_inet_address_new_from_string (hostname);
  static const char organization[] = "vsmtpd self-signed";
  unsigned char serial[16];
  unsigned char key_id[64];
  size_t key_id_size = sizeof key_id;
  time_t now = time (NULL);
  int ret;

  if ((ret = gnutls_x509_privkey_init (&key)) < 0)
    return set_gnutls_error (error, ret, "key");
  ret = gnutls_x509_privkey_generate2 (key, GNUTLS_PK_ECDSA,
                                       GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
                                       0, NULL, 0);
  if (ret < 0)
    return set_gnutls_error (error, ret, "ECDSA P-256 key");

  if ((ret = gnutls_x509_crt_init (&crt)) < 0 ||
      (ret = gnutls_x509_crt_set_version (crt, 3)) < 0)
    return set_gnutls_error (error, ret, "certificate");

  /* a positive 128-bit serial without a leading zero byte */
  if ((ret = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
    return set_gnutls_error (error, ret, "serial");
  serial[0] = (serial[0] & 0x7f) | 0x40;
  if ((ret = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0)
    return set_gnutls_error (error, ret, "serial");

  /* an hour back, for clients whose clock is a little behind */
  if ((ret = gnutls_x509_crt_set_activation_time (crt, now - 3600)) < 0 ||
      (ret = gnutls_x509_crt_set_expiration_time (crt, now + SELF_SIGNED_VALIDITY)) < 0)
    return set_gnutls_error (error, ret, "validity");

  if (strlen (hostname) <= SELF_SIGNED_CN_MAX)
    {
      ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                           hostname, strlen (hostname));
      if (ret < 0)
        return set_gnutls_error (error, ret, "common name");
    }
  ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
                                       organization, strlen (organization));
  if (ret < 0)
    return set_gnutls_error (error, ret, "organization");

  if (ip != NULL)
    ret = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS,
                                                g_inet_address_to_bytes (ip),
                                                g_inet_address_get_native_size (ip),
                                                GNUTLS_FSAN_SET);
  else
    ret = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME,
                                                hostname, strlen (hostname),
                                                GNUTLS_FSAN_SET);
  if (ret < 0)
    return set_gnutls_error (error, ret, "subjectAltName");

  if ((ret = gnutls_x509_crt_set_key (crt, key)) < 0 ||
      (ret = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) < 0 ||
      (ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
      (ret = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
    return set_gnutls_error (error, ret, "extensions");

  if ((ret = gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA1, key_id, &key_id_size)) < 0 ||
      (ret = gnutls_x509_crt_set_subject_key_id (crt, key_id, key_id_size)) < 0)
    return set_gnutls_error (error, ret, "subject key identifier");

  if ((ret = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
    return set_gnutls_error (error, ret, "signature");

  if ((ret = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, out_certificate)) < 0)
    return set_gnutls_error (error, ret, "certificate export");
  if ((ret = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                                GNUTLS_PKCS_PLAIN, out_key)) < 0)
    {
      clear_datum (out_certificate);
      return set_gnutls_error (error, ret, "key export");
    }

  return TRUE;
}

/* The name (DNS name or IP address) of the self-signed certificate in
 * @certificate_path, as its first subjectAltName says, if it matches
 * @hostname; NULL in *out_name when the file does not parse. */
static gboolean
self_signed_matches (const char  *certificate_path,
                     const char  *hostname,
                     char       **out_name)
{
  gnutls_x509_crt_t crt __attribute__ ((cleanup (clear_crt))) = NULL;
  g_autofree char *pem = NULL;
  gsize length = 0;
  gnutls_datum_t datum;
  char name[256];
  size_t name_size = sizeof name - 1;
  int type;

  *out_name = NULL;
  if (!g_file_get_contents (certificate_path, &pem, &length, NULL) ||
      gnutls_x509_crt_init (&crt) < 0)
    return FALSE;
  datum.data = (unsigned char *) pem;
  datum.size = length;
  if (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM) < 0)
    return FALSE;

  type = gnutls_x509_crt_get_subject_alt_name (crt, 0, name, &name_size, NULL);
  if (type == GNUTLS_SAN_DNSNAME)
    *out_name = g_strndup (name, name_size);
  else if (type == GNUTLS_SAN_IPADDRESS && (name_size == 4 || name_size == 16))
    {
      g_autoptr(GInetAddress) ip =
        g_inet_address_new_from_bytes ((const guint8 *) name,
                                       name_size == 4 ? G_SOCKET_FAMILY_IPV4
                                                      : G_SOCKET_FAMILY_IPV6);
      *out_name = g_inet_address_to_string (ip);
    }
  else
    *out_name = g_strdup ("an unknown name");

  return gnutls_x509_crt_check_hostname2 (crt, hostname,
                                          GNUTLS_VERIFY_DO_NOT_ALLOW_WILDCARDS) != 0;
}

/**
 * vsmtpd_tls_ensure_self_signed:
 * @directory: where the certificate is kept, created with mode 0700
 * @hostname: the server's name, for the CN and the subjectAltName
 * @out_certificate_path: (out) (transfer full): `cert.pem` in @directory
 * @out_key_path: (out) (transfer full): `key.pem` in @directory, mode 0600
 * @out_created: (out): whether the pair was generated now
 * @out_previous_name: (out) (optional) (transfer full): when the pair was
 *   generated because the one there named another host: that name, else %NULL
 * @error: return location for an error
 *
 * Makes sure a self-signed certificate and its key (ECDSA P-256, valid ten
 * years) for @hostname are in @directory: an existing pair for @hostname is
 * kept, so clients that pinned it keep trusting it; a missing, half-written
 * or unreadable pair, or one made for another name (the hostname changed),
 * is replaced.
 *
 * Returns: whether the files are there
 */
gboolean
vsmtpd_tls_ensure_self_signed (const char  *directory,
                               const char  *hostname,
                               char       **out_certificate_path,
                               char       **out_key_path,
                               gboolean    *out_created,
                               char       **out_previous_name,
                               GError     **error)
{
  g_autofree char *certificate_path = g_build_filename (directory, "cert.pem", NULL);
  g_autofree char *key_path = g_build_filename (directory, "key.pem", NULL);
  gnutls_datum_t certificate_pem __attribute__ ((cleanup (clear_datum))) = { NULL, 0 };
  gnutls_datum_t key_pem __attribute__ ((cleanup (clear_datum))) = { NULL, 0 };
  int saved_errno;

  g_autofree char *previous_name = NULL;
  gboolean matches = FALSE;

  *out_created = FALSE;
  if (out_previous_name != NULL)
    *out_previous_name = NULL;

  if (g_file_test (key_path, G_FILE_TEST_EXISTS))
    matches = self_signed_matches (certificate_path, hostname, &previous_name);

  if (!matches)
    {
      if (g_mkdir_with_parents (directory, 0700) != 0 || g_chmod (directory, 0700) != 0)
        {
          saved_errno = errno;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       "cannot create the folder %s for the self-signed certificate: %s",
                       directory, g_strerror (saved_errno));
          return FALSE;
        }

      if (!generate_self_signed (hostname, &certificate_pem, &key_pem, error))
        return FALSE;

      /* the key first: a certificate on disk means its key is there */
      if (!g_file_set_contents_full (key_path, (const char *) key_pem.data, key_pem.size,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) ||
          !g_file_set_contents_full (certificate_path,
                                     (const char *) certificate_pem.data, certificate_pem.size,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0644, error))
        return FALSE;

      *out_created = TRUE;
      if (out_previous_name != NULL)
        *out_previous_name = g_steal_pointer (&previous_name);
    }

  *out_certificate_path = g_steal_pointer (&certificate_path);
  *out_key_path = g_steal_pointer (&key_path);
  return TRUE;
}

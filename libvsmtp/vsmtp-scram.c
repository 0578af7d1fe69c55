/* vsmtp-scram.c: SCRAM-SHA-256 credentials (RFC 5802, RFC 7677, RFC 5803)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <gsasl.h>

#include "vsmtp-error.h"
#include "vsmtp-scram.h"
#include "vsmtp-scram-private.h"

#define SCRAM_PREFIX    "SCRAM-SHA-256$"
#define SCRAM_KEY_SIZE  32      /* SHA-256 */
#define SALT_MAX        1024

/**
 * VsmtpScramCredentials:
 *
 * What a server keeps of a password for SCRAM-SHA-256 (RFC 5802, RFC 7677):
 * the salt, the PBKDF2 iteration count, the StoredKey and the ServerKey.
 * They let the server check a SCRAM proof, and a password sent with PLAIN or
 * LOGIN ([method@Vsmtp.ScramCredentials.check_password]), without keeping
 * the password or anything a client could log in with.
 *
 * The text form is RFC 5803's, as Dovecot and OpenLDAP write it:
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, the last
 * three in base64.
 *
 * Handlers of [signal@Vsmtp.Session::lookup-scram-credentials] return them.
 * Credentials are immutable and reference counted.
 */
struct _VsmtpScramCredentials
{
  gatomicrefcount ref_count;

  guint   iterations;
  GBytes *salt;
  GBytes *stored_key;
  GBytes *server_key;
  guint   decoy : 1;
};

G_DEFINE_BOXED_TYPE (VsmtpScramCredentials, vsmtp_scram_credentials,
                     vsmtp_scram_credentials_ref, vsmtp_scram_credentials_unref)

static gboolean
fill_random (guint8  *buffer,
             gsize    length,
             GError **error)
{
  gsize done = 0;

  while (done < length)
    {
      ssize_t n = getrandom (buffer + done, length - done, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_FAILED,
                       "cannot get random bytes: %s", g_strerror (saved_errno));
          return FALSE;
        }
      done += n;
    }
  return TRUE;
}

static VsmtpScramCredentials *
credentials_new (guint   iterations,
                 GBytes *salt,
                 GBytes *stored_key,
                 GBytes *server_key)
{
  VsmtpScramCredentials *self = g_new0 (VsmtpScramCredentials, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->iterations = iterations;
  self->salt = g_bytes_ref (salt);
  self->stored_key = g_bytes_ref (stored_key);
  self->server_key = g_bytes_ref (server_key);
  return self;
}

/**
 * vsmtp_scram_credentials_new:
 * @iterations: the PBKDF2 iteration count, at least
 *   [const@Vsmtp.SCRAM_MIN_ITERATIONS]
 * @salt: the salt (not empty)
 * @stored_key: StoredKey, 32 bytes
 * @server_key: ServerKey, 32 bytes
 * @error: the return location for a [error@Vsmtp.Error] (`SYNTAX`)
 *
 * Credentials from their parts.
 *
 * Returns: (transfer full): new credentials, or %NULL with @error set
 */
VsmtpScramCredentials *
vsmtp_scram_credentials_new (guint    iterations,
                             GBytes  *salt,
                             GBytes  *stored_key,
                             GBytes  *server_key,
                             GError **error)
{
  g_return_val_if_fail (salt != NULL, NULL);
  g_return_val_if_fail (stored_key != NULL, NULL);
  g_return_val_if_fail (server_key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (iterations < VSMTP_SCRAM_MIN_ITERATIONS)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "SCRAM-SHA-256: %u iterations, fewer than %u", iterations,
                   VSMTP_SCRAM_MIN_ITERATIONS);
      return NULL;
    }
  if (g_bytes_get_size (salt) == 0 || g_bytes_get_size (salt) > SALT_MAX)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "SCRAM-SHA-256: the salt must have 1 to %u bytes", SALT_MAX);
      return NULL;
    }
  if (g_bytes_get_size (stored_key) != SCRAM_KEY_SIZE ||
      g_bytes_get_size (server_key) != SCRAM_KEY_SIZE)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "SCRAM-SHA-256: StoredKey and ServerKey must have %u bytes",
                   SCRAM_KEY_SIZE);
      return NULL;
    }
  return credentials_new (iterations, salt, stored_key, server_key);
}

/* PBKDF2 and the two keys, through GNU SASL (which SASLpreps the password
 * first, as RFC 5802's Normalize() asks). */
static gboolean
derive_keys (const char *password,
             guint       iterations,
             GBytes     *salt,
             guint8      stored_key[SCRAM_KEY_SIZE],
             guint8      server_key[SCRAM_KEY_SIZE])
{
  char salted[GSASL_HASH_MAX_SIZE];
  char client_key[GSASL_HASH_MAX_SIZE];
  gsize salt_length;
  const char *salt_data = g_bytes_get_data (salt, &salt_length);
  int rc;

  rc = gsasl_scram_secrets_from_password (GSASL_HASH_SHA256, password, iterations,
                                          salt_data, salt_length, salted, client_key,
                                          (char *) server_key, (char *) stored_key);
  explicit_bzero (salted, sizeof salted);
  explicit_bzero (client_key, sizeof client_key);
  return rc == GSASL_OK;
}

/**
 * vsmtp_scram_credentials_new_from_password:
 * @password: the password (UTF-8; SASLprep is applied, as RFC 5802 asks)
 * @iterations: the PBKDF2 iteration count: 0 for
 *   [const@Vsmtp.SCRAM_DEFAULT_ITERATIONS], else at least
 *   [const@Vsmtp.SCRAM_MIN_ITERATIONS]
 * @salt: (nullable): the salt; %NULL for 16 random bytes (from the kernel's
 *   random generator, getrandom(2))
 * @error: the return location for a [error@Vsmtp.Error]
 *
 * Derives the credentials of @password, to store them (see
 * [method@Vsmtp.ScramCredentials.to_string]).
 *
 * Returns: (transfer full): new credentials, or %NULL with @error set (a
 *   password SASLprep refuses, too few iterations)
 */
VsmtpScramCredentials *
vsmtp_scram_credentials_new_from_password (const char  *password,
                                           guint        iterations,
                                           GBytes      *salt,
                                           GError     **error)
{
  g_autoptr(GBytes) own_salt = NULL;
  guint8 stored[SCRAM_KEY_SIZE], server[SCRAM_KEY_SIZE];
  g_autoptr(GBytes) stored_key = NULL;
  g_autoptr(GBytes) server_key = NULL;

  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (iterations == 0)
    iterations = VSMTP_SCRAM_DEFAULT_ITERATIONS;
  if (salt == NULL)
    {
      guint8 random_salt[VSMTP_SCRAM_SALT_LENGTH];

      if (!fill_random (random_salt, sizeof random_salt, error))
        return NULL;
      salt = own_salt = g_bytes_new (random_salt, sizeof random_salt);
    }
  if (iterations < VSMTP_SCRAM_MIN_ITERATIONS || g_bytes_get_size (salt) == 0)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "SCRAM-SHA-256: at least %u iterations and a salt are needed",
                   VSMTP_SCRAM_MIN_ITERATIONS);
      return NULL;
    }
  if (!derive_keys (password, iterations, salt, stored, server))
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "SCRAM-SHA-256: the password is refused by SASLprep (RFC 4013)");
      return NULL;
    }
  stored_key = g_bytes_new (stored, sizeof stored);
  server_key = g_bytes_new (server, sizeof server);
  explicit_bzero (stored, sizeof stored);
  explicit_bzero (server, sizeof server);
  return credentials_new (iterations, salt, stored_key, server_key);
}

/* Strict base64 (RFC 4648 4, with padding): g_base64_decode() skips what it
 * does not understand. */
static GBytes *
decode_base64 (const char *text,
               gsize       length)
{
  g_autofree char *copy = NULL;
  gsize padding = 0;
  guchar *data;
  gsize size;

  if (length == 0 || length % 4 != 0)
    return NULL;
  for (gsize i = 0; i < length; i++)
    {
      char c = text[i];

      if (c == '=' && i >= length - 2)
        padding++;
      else if (padding > 0 || !(g_ascii_isalnum (c) || c == '+' || c == '/'))
        return NULL;
    }
  copy = g_strndup (text, length);
  data = g_base64_decode (copy, &size);
  return g_bytes_new_take (data, size);
}

/**
 * vsmtp_scram_credentials_parse:
 * @text: credentials in RFC 5803's form:
 *   `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
 * @error: the return location for a [error@Vsmtp.Error] (`SYNTAX`)
 *
 * Reads credentials written by [method@Vsmtp.ScramCredentials.to_string],
 * `vsmtpd-passwd --scheme scram-sha-256`, Dovecot's
 * `doveadm pw -s SCRAM-SHA-256` (without its `{SCRAM-SHA-256}` prefix) or
 * OpenLDAP.
 *
 * Returns: (transfer full): the credentials, or %NULL with @error set
 */
VsmtpScramCredentials *
vsmtp_scram_credentials_parse (const char  *text,
                               GError     **error)
{
  const char *p, *colon, *dollar, *colon2;
  g_autoptr(GBytes) salt = NULL;
  g_autoptr(GBytes) stored_key = NULL;
  g_autoptr(GBytes) server_key = NULL;
  guint64 iterations;
  char *end;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_str_has_prefix (text, SCRAM_PREFIX))
    goto syntax;
  p = text + strlen (SCRAM_PREFIX);
  if (!g_ascii_isdigit (*p))
    goto syntax;
  errno = 0;
  iterations = g_ascii_strtoull (p, &end, 10);
  if (errno != 0 || *end != ':' || iterations > G_MAXUINT)
    goto syntax;
  colon = end;
  dollar = strchr (colon + 1, '$');
  if (dollar == NULL)
    goto syntax;
  colon2 = strchr (dollar + 1, ':');
  if (colon2 == NULL)
    goto syntax;
  salt = decode_base64 (colon + 1, dollar - colon - 1);
  stored_key = decode_base64 (dollar + 1, colon2 - dollar - 1);
  server_key = decode_base64 (colon2 + 1, strlen (colon2 + 1));
  if (salt == NULL || stored_key == NULL || server_key == NULL)
    goto syntax;
  return vsmtp_scram_credentials_new ((guint) iterations, salt, stored_key, server_key, error);

syntax:
  g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
               "not SCRAM-SHA-256 credentials: expected "
               "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64)");
  return NULL;
}

/**
 * vsmtp_scram_credentials_ref:
 * @self: credentials
 *
 * Returns: (transfer full): @self
 */
VsmtpScramCredentials *
vsmtp_scram_credentials_ref (VsmtpScramCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * vsmtp_scram_credentials_unref:
 * @self: (transfer full): credentials
 */
void
vsmtp_scram_credentials_unref (VsmtpScramCredentials *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_bytes_unref (self->salt);
  g_bytes_unref (self->stored_key);
  g_bytes_unref (self->server_key);
  g_free (self);
}

static char *
bytes_to_base64 (GBytes *bytes)
{
  gsize size;
  const guchar *data = g_bytes_get_data (bytes, &size);

  return g_base64_encode (data, size);
}

/**
 * vsmtp_scram_credentials_to_string:
 * @self: credentials
 *
 * Returns: (transfer full): RFC 5803's text form,
 *   `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
 */
char *
vsmtp_scram_credentials_to_string (VsmtpScramCredentials *self)
{
  g_autofree char *salt = NULL;
  g_autofree char *stored_key = NULL;
  g_autofree char *server_key = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  salt = bytes_to_base64 (self->salt);
  stored_key = bytes_to_base64 (self->stored_key);
  server_key = bytes_to_base64 (self->server_key);
  return g_strdup_printf (SCRAM_PREFIX "%u:%s$%s:%s", self->iterations, salt,
                          stored_key, server_key);
}

/**
 * vsmtp_scram_credentials_get_iterations:
 * @self: credentials
 *
 * Returns: the PBKDF2 iteration count
 */
guint
vsmtp_scram_credentials_get_iterations (VsmtpScramCredentials *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->iterations;
}

/**
 * vsmtp_scram_credentials_get_salt:
 * @self: credentials
 *
 * Returns: (transfer none): the salt
 */
GBytes *
vsmtp_scram_credentials_get_salt (VsmtpScramCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->salt;
}

/**
 * vsmtp_scram_credentials_get_stored_key:
 * @self: credentials
 *
 * Returns: (transfer none): StoredKey, H(HMAC(SaltedPassword, "Client Key"))
 */
GBytes *
vsmtp_scram_credentials_get_stored_key (VsmtpScramCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->stored_key;
}

/**
 * vsmtp_scram_credentials_get_server_key:
 * @self: credentials
 *
 * Returns: (transfer none): ServerKey, HMAC(SaltedPassword, "Server Key")
 */
GBytes *
vsmtp_scram_credentials_get_server_key (VsmtpScramCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->server_key;
}

/**
 * vsmtp_scram_credentials_check_password:
 * @self: credentials
 * @password: a password, as sent with PLAIN or LOGIN
 *
 * Whether @password is the one the credentials were made from: derives its
 * StoredKey with the salt and iteration count (PBKDF2-HMAC-SHA-256, as slow
 * as the iteration count makes it: call it from a worker thread) and
 * compares it in constant time.
 *
 * Returns: %TRUE if @password matches
 */
gboolean
vsmtp_scram_credentials_check_password (VsmtpScramCredentials *self,
                                        const char            *password)
{
  guint8 stored[SCRAM_KEY_SIZE], server[SCRAM_KEY_SIZE];
  const guint8 *expected;
  guint8 diff = 0;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (password != NULL, FALSE);

  if (!derive_keys (password, self->iterations, self->salt, stored, server))
    return FALSE;
  expected = g_bytes_get_data (self->stored_key, NULL);
  for (gsize i = 0; i < SCRAM_KEY_SIZE; i++)
    diff |= stored[i] ^ expected[i];
  explicit_bzero (stored, sizeof stored);
  explicit_bzero (server, sizeof server);
  return diff == 0 && !self->decoy;
}

/* Decoy credentials for a user without any: the salt is
 * HMAC-SHA-256(@secret, "salt" NUL @authcid), cut to @salt_length, so that
 * it is the same at every attempt and with either mechanism (a real user's
 * salt is the same for SCRAM-SHA-256 and -PLUS); the keys are random, so no
 * proof ever matches. */
VsmtpScramCredentials *
_vsmtp_scram_credentials_new_decoy (GBytes     *secret,
                                    const char *authcid,
                                    guint       iterations,
                                    gsize       salt_length)
{
  g_autoptr(GHmac) hmac = NULL;
  guint8 digest[32], stored[SCRAM_KEY_SIZE], server[SCRAM_KEY_SIZE];
  gsize digest_length = sizeof digest;
  gsize secret_length;
  const guchar *secret_data = g_bytes_get_data (secret, &secret_length);
  g_autoptr(GBytes) salt = NULL;
  g_autoptr(GBytes) stored_key = NULL;
  g_autoptr(GBytes) server_key = NULL;
  VsmtpScramCredentials *self;

  hmac = g_hmac_new (G_CHECKSUM_SHA256, secret_data, secret_length);
  g_hmac_update (hmac, (const guchar *) "salt", 5);
  g_hmac_update (hmac, (const guchar *) authcid, strlen (authcid));
  g_hmac_get_digest (hmac, digest, &digest_length);

  /* random keys: getrandom() does not fail for 64 bytes once the kernel's
   * generator is seeded; if it did, a digest of the salt is still unknown
   * to the client (it needs a preimage of the stored key) */
  if (!fill_random (stored, sizeof stored, NULL) || !fill_random (server, sizeof server, NULL))
    {
      memcpy (stored, digest, sizeof stored);
      memcpy (server, digest, sizeof server);
    }

  salt = g_bytes_new (digest, CLAMP (salt_length, 1, sizeof digest));
  stored_key = g_bytes_new (stored, sizeof stored);
  server_key = g_bytes_new (server, sizeof server);
  self = credentials_new (MAX (iterations, VSMTP_SCRAM_MIN_ITERATIONS), salt, stored_key,
                          server_key);
  self->decoy = TRUE;
  return self;
}

gboolean
_vsmtp_scram_credentials_is_decoy (VsmtpScramCredentials *self)
{
  return self->decoy;
}

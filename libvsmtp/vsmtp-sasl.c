/* vsmtp-sasl.c: the AUTH exchange (RFC 4954) over GNU SASL
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-sasl-private.h"
#include "vsmtp-scram-private.h"
#include "vsmtp-session-private.h"
#include "vsmtp-trace.h"

struct _VsmtpSasl
{
  Gsasl_session         *session;
  VsmtpSaslCredentials   credentials;
  char                  *error;
  VsmtpSession          *smtp;          /* not a reference: it owns us */

  /* SCRAM-SHA-256(-PLUS) */
  VsmtpScramCredentials *scram;         /* once looked up (or a decoy) */
  char                  *cb_exporter;   /* base64 channel bindings, when */
  char                  *cb_unique;     /* -PLUS is offered in the session */
  guint                  is_scram : 1;
  guint                  is_plus : 1;
  guint                  client_first_seen : 1;
  guint                  final_sent : 1;  /* server-final sent in a 334 */
  guint                  not_utf8 : 1;    /* an identity was not UTF-8 */
};

/* RFC 4616 2 (PLAIN), RFC 5802 5.1 (SCRAM): the authentication and
 * authorization identities are UTF-8; LOGIN's user name is taken so too.
 * Anything else is refused before a handler sees it: the authenticate
 * signal's strings, and vsmtp_session_get_authenticated_user(), are UTF-8. */
static gboolean
identities_utf8 (Gsasl_session *sctx)
{
  const char *authcid = gsasl_property_fast (sctx, GSASL_AUTHID);
  const char *authzid = gsasl_property_fast (sctx, GSASL_AUTHZID);

  return (authcid == NULL || g_utf8_validate (authcid, -1, NULL)) &&
         (authzid == NULL || g_utf8_validate (authzid, -1, NULL));
}

/* ------------------------------------------------------------------------ */
/* Channel binding (RFC 5929 tls-unique, RFC 9266 tls-exporter)             */

/* The base64 channel binding data of @type on @tls, or NULL. tls-unique is
 * not defined for TLS 1.3 (RFC 9266 3): not even asked for there. */
static char *
channel_binding (GTlsConnection         *tls,
                 GTlsChannelBindingType  type)
{
  g_autoptr(GByteArray) data = NULL;
  char *encoded;

  if (tls == NULL)
    return NULL;
  if (type == G_TLS_CHANNEL_BINDING_TLS_UNIQUE &&
      g_tls_connection_get_protocol_version (tls) >= G_TLS_PROTOCOL_VERSION_TLS_1_3)
    return NULL;
  data = g_byte_array_new ();
  if (!g_tls_connection_get_channel_binding_data (tls, type, data, NULL) || data->len == 0)
    return NULL;
  encoded = g_base64_encode (data->data, data->len);
  explicit_bzero (data->data, data->len);
  return encoded;
}

/* Whether @tls has the channel binding a -PLUS client uses with its
 * version: tls-exporter with TLS 1.3, tls-unique before. */
static gboolean
channel_binding_available (GTlsConnection *tls)
{
  g_autofree char *binding = NULL;

  if (tls == NULL)
    return FALSE;
  if (g_tls_connection_get_protocol_version (tls) >= G_TLS_PROTOCOL_VERSION_TLS_1_3)
    binding = channel_binding (tls, G_TLS_CHANNEL_BINDING_TLS_EXPORTER);
  else
    binding = channel_binding (tls, G_TLS_CHANNEL_BINDING_TLS_UNIQUE);
  return binding != NULL;
}

static gboolean
is_plus (const char *mechanism)
{
  return g_str_has_suffix (mechanism, "-PLUS");
}

char **
_vsmtp_sasl_dup_offered (VsmtpSession *session)
{
  const VsmtpSettings *settings = _vsmtp_session_get_settings (session);
  const char * const *mechanisms = (const char * const *) settings->auth_mechanisms;
  g_autoptr(GStrvBuilder) builder = NULL;
  int binding = -1;   /* not looked at yet */

  if (mechanisms == NULL)
    return NULL;
  builder = g_strv_builder_new ();
  for (gsize i = 0; mechanisms[i] != NULL; i++)
    {
      if (is_plus (mechanisms[i]))
        {
          if (binding < 0)
            binding = channel_binding_available (vsmtp_session_get_tls_connection (session));
          if (!binding)
            continue;
        }
      g_strv_builder_add (builder, mechanisms[i]);
    }
  return g_strv_builder_end (builder);
}

/* The handlers of VsmtpSession::lookup-scram-credentials: the first
 * credentials returned end the emission. */
gboolean
_vsmtp_sasl_lookup_accumulator (GSignalInvocationHint *hint,
                                GValue                *accumulated,
                                const GValue          *handler_return,
                                gpointer               data)
{
  gpointer credentials = g_value_get_boxed (handler_return);

  g_value_set_boxed (accumulated, credentials);
  return credentials == NULL;
}

/* Asks the session's handlers for the SCRAM credentials of the user GNU
 * SASL just read from the client-first message, once; a decoy when none
 * answers. */
static VsmtpScramCredentials *
scram_lookup (VsmtpSasl     *self,
              Gsasl_session *sctx)
{
  const char *authcid = gsasl_property_fast (sctx, GSASL_AUTHID);

  if (self->scram != NULL || authcid == NULL)
    return self->scram;
  if (!identities_utf8 (sctx))
    {
      self->not_utf8 = TRUE;
      return NULL;
    }

  g_free (self->credentials.authcid);
  g_free (self->credentials.authzid);
  self->credentials.authcid = g_strdup (authcid);
  self->credentials.authzid = g_strdup (gsasl_property_fast (sctx, GSASL_AUTHZID));

  g_signal_emit_by_name (self->smtp, "lookup-scram-credentials",
                         self->credentials.mechanism, authcid, &self->scram);
  if (self->scram == NULL)
    {
      const VsmtpSettings *settings = _vsmtp_session_get_settings (self->smtp);

      self->scram = _vsmtp_scram_credentials_new_decoy (settings->scram_secret, authcid,
                                                        settings->scram_decoy_iterations,
                                                        settings->scram_decoy_salt_length);
    }
  return self->scram;
}

static int
set_base64_property (Gsasl_session  *sctx,
                     Gsasl_property  prop,
                     GBytes         *bytes)
{
  gsize size;
  const guchar *data = g_bytes_get_data (bytes, &size);
  g_autofree char *encoded = g_base64_encode (data, size);
  int rc = gsasl_property_set (sctx, prop, encoded);

  explicit_bzero (encoded, strlen (encoded));
  return rc;
}

char *
_vsmtp_sasl_parse_mechanism (const char         *args,
                             const char * const *offered,
                             const char        **initial_response)
{
  const char *space = strchr (args, ' ');
  g_autofree char *mechanism = space ? g_strndup (args, space - args) : g_strdup (args);
  gboolean found = FALSE;

  *initial_response = space != NULL ? space + 1 : NULL;
  for (guint i = 0; offered != NULL && offered[i] != NULL && !found; i++)
    found = g_ascii_strcasecmp (offered[i], mechanism) == 0;
  if (!found)
    return NULL;

  for (char *p = mechanism; *p != '\0'; p++)
    *p = g_ascii_toupper (*p);
  return g_steal_pointer (&mechanism);
}

/* GNU SASL asks the application to validate PLAIN/LOGIN credentials
 * synchronously; we only record them here, and the session asks its (possibly
 * deferred) authenticate handlers once the exchange is complete. SCRAM asks
 * for the channel binding, then the salt and iteration count, then the keys:
 * those are looked up synchronously (see lookup-scram-credentials). */
static int
sasl_callback (Gsasl          *ctx,
               Gsasl_session  *sctx,
               Gsasl_property  prop)
{
  VsmtpSasl *self;
  VsmtpScramCredentials *scram;

  if (sctx == NULL)
    return GSASL_NO_CALLBACK;
  self = gsasl_session_hook_get (sctx);
  if (self == NULL)
    return GSASL_NO_CALLBACK;

  switch ((int) prop)
    {
    case GSASL_VALIDATE_SIMPLE:
      if (!identities_utf8 (sctx))
        {
          self->not_utf8 = TRUE;
          return GSASL_AUTHENTICATION_ERROR;
        }
      break;

    /* only when -PLUS is offered in this session: GNU SASL refuses a
     * client that says "y" (it supports channel binding, thinks we do
     * not) exactly when it gets the binding here (RFC 5802 6) */
    case GSASL_CB_TLS_EXPORTER:
      if (self->cb_exporter == NULL)
        return GSASL_NO_CALLBACK;
      return gsasl_property_set (sctx, prop, self->cb_exporter);
    case GSASL_CB_TLS_UNIQUE:
      if (self->cb_unique == NULL)
        return GSASL_NO_CALLBACK;
      return gsasl_property_set (sctx, prop, self->cb_unique);

    case GSASL_SCRAM_ITER:
    case GSASL_SCRAM_SALT:
    case GSASL_SCRAM_STOREDKEY:
    case GSASL_SCRAM_SERVERKEY:
      if (!self->is_scram || (scram = scram_lookup (self, sctx)) == NULL)
        return GSASL_NO_CALLBACK;
      if (prop == GSASL_SCRAM_ITER)
        {
          g_autofree char *iterations =
            g_strdup_printf ("%u", vsmtp_scram_credentials_get_iterations (scram));
          return gsasl_property_set (sctx, prop, iterations);
        }
      return set_base64_property (sctx, prop,
                                  prop == GSASL_SCRAM_SALT ? vsmtp_scram_credentials_get_salt (scram) :
                                  prop == GSASL_SCRAM_STOREDKEY ? vsmtp_scram_credentials_get_stored_key (scram) :
                                  vsmtp_scram_credentials_get_server_key (scram));

    default:
      return GSASL_NO_CALLBACK;
    }

  g_free (self->credentials.authcid);
  g_free (self->credentials.authzid);
  g_free (self->credentials.password);
  self->credentials.authcid = g_strdup (gsasl_property_fast (sctx, GSASL_AUTHID));
  self->credentials.authzid = g_strdup (gsasl_property_fast (sctx, GSASL_AUTHZID));
  self->credentials.password = g_strdup (gsasl_property_fast (sctx, GSASL_PASSWORD));
  return GSASL_OK;
}

VsmtpSasl *
_vsmtp_sasl_new (Gsasl        *ctx,
                 char         *mechanism,
                 VsmtpSession *smtp)
{
  VsmtpSasl *self;
  Gsasl_session *session = NULL;

  if (ctx == NULL)
    {
      g_free (mechanism);
      return NULL;
    }
  gsasl_callback_set (ctx, sasl_callback);
  if (gsasl_server_start (ctx, mechanism, &session) != GSASL_OK)
    {
      g_free (mechanism);
      return NULL;
    }

  self = g_new0 (VsmtpSasl, 1);
  self->session = session;
  self->smtp = smtp;
  self->credentials.mechanism = mechanism;
  self->is_scram = g_str_has_prefix (mechanism, "SCRAM-");
  self->is_plus = is_plus (mechanism);
  if (self->is_scram)
    {
      g_auto(GStrv) offered = _vsmtp_sasl_dup_offered (smtp);
      GTlsConnection *tls = vsmtp_session_get_tls_connection (smtp);

      for (guint i = 0; offered != NULL && offered[i] != NULL; i++)
        if (is_plus (offered[i]) && tls != NULL)
          {
            self->cb_exporter = channel_binding (tls, G_TLS_CHANNEL_BINDING_TLS_EXPORTER);
            self->cb_unique = channel_binding (tls, G_TLS_CHANNEL_BINDING_TLS_UNIQUE);
            break;
          }
    }
  gsasl_session_hook_set (session, self);
  return self;
}

static void
wipe_free (char *text)
{
  if (text != NULL)
    explicit_bzero (text, strlen (text));
  g_free (text);
}

void
_vsmtp_sasl_free (VsmtpSasl *self)
{
  if (self == NULL)
    return;
  gsasl_finish (self->session);
  g_free (self->credentials.mechanism);
  g_free (self->credentials.authcid);
  g_free (self->credentials.authzid);
  wipe_free (self->credentials.password);
  wipe_free (self->cb_exporter);
  wipe_free (self->cb_unique);
  g_clear_pointer (&self->scram, vsmtp_scram_credentials_unref);
  g_free (self->error);
  g_free (self);
}

/* Why the exchange was refused, for the log: GNU SASL's reason, and who
 * tried when the user name is known. */
static void
set_error (VsmtpSasl  *self,
           const char *reason)
{
  g_autofree char *user = NULL;

  g_free (self->error);
  if (self->credentials.authcid == NULL)
    {
      self->error = g_strdup (reason);
      return;
    }
  user = vsmtp_log_escape (self->credentials.authcid, -1);
  if (self->scram != NULL && _vsmtp_scram_credentials_is_decoy (self->scram))
    self->error = g_strdup_printf ("%s (user %s has no SCRAM credentials: unknown, or a "
                                   "password hash SCRAM cannot use)", reason, user);
  else
    self->error = g_strdup_printf ("%s (user %s)", reason, user);
}

/* RFC 5802 6: a client-first message with "p=" (the client binds to the
 * channel) must come with a -PLUS mechanism. GNU SASL only notices it
 * when the channel binding data do not match. */
static gboolean
binds_without_plus (VsmtpSasl  *self,
                    const char *input)
{
  g_autofree guchar *decoded = NULL;
  gsize length = 0;

  if (!self->is_scram || self->is_plus || self->client_first_seen ||
      input == NULL || *input == '\0')
    return FALSE;
  self->client_first_seen = TRUE;
  decoded = g_base64_decode (input, &length);
  return length >= 2 && decoded[0] == 'p' && decoded[1] == '=';
}

/* GNU SASL refuses a PLAIN message whose user name SASLprep cannot take
 * before it tells us the identities: was it for one not UTF-8? (@input:
 * the client's base64 "authzid NUL authcid NUL password") */
static gboolean
plain_identity_not_utf8 (VsmtpSasl  *self,
                         const char *input)
{
  g_autofree guchar *decoded = NULL;
  gsize length = 0;
  const char *authzid, *authcid, *end;
  gboolean valid;

  if (!g_str_equal (self->credentials.mechanism, "PLAIN") || input == NULL || *input == '\0')
    return FALSE;
  decoded = g_base64_decode (input, &length);
  authzid = (const char *) decoded;
  end = authzid + length;
  authcid = memchr (authzid, '\0', length);
  if (authcid == NULL)
    valid = TRUE;
  else
    {
      const char *password;

      authcid++;
      password = memchr (authcid, '\0', end - authcid);

      valid = g_utf8_validate (authzid, authcid - 1 - authzid, NULL) &&
              (password == NULL || g_utf8_validate (authcid, password - authcid, NULL));
    }
  explicit_bzero (decoded, length);
  return !valid;
}

static VsmtpReply *
temporary_failure (void)
{
  return vsmtp_reply_new (454, "4.7.0", "Temporary authentication failure");
}

/* One step of the exchange with @input (base64, NULL for none). */
static VsmtpSaslStatus
sasl_step (VsmtpSasl   *self,
           const char  *input,
           VsmtpReply **reply)
{
  char *output = NULL;
  int rc;

  *reply = NULL;
  if (binds_without_plus (self, input))
    {
      set_error (self, "channel binding (\"p=\") asked for without -PLUS");
      *reply = vsmtp_reply_new (535, "5.7.8", "Error: authentication failed");
      return VSMTP_SASL_REFUSED;
    }

  rc = gsasl_step64 (self->session, input, &output);
  /* SCRAM's server-final message (the server's signature) comes with
   * GSASL_OK: SMTP has no success data, so it goes in a 334 and the client
   * answers with an empty line (RFC 4954 4) */
  if (rc == GSASL_NEEDS_MORE ||
      (rc == GSASL_OK && self->is_scram && output != NULL && *output != '\0'))
    {
      *reply = vsmtp_reply_new (334, NULL, output ? output : "");
      gsasl_free (output);
      self->final_sent = rc == GSASL_OK;
      return VSMTP_SASL_CHALLENGE;
    }
  gsasl_free (output);

  if (self->not_utf8 ||
      (rc != GSASL_OK && rc != GSASL_BASE64_ERROR && plain_identity_not_utf8 (self, input)))
    {
      set_error (self, "an authentication identity is not valid UTF-8");
      *reply = vsmtp_reply_new (501, "5.5.2", "Error: the authentication identity is not valid UTF-8");
      return VSMTP_SASL_REFUSED;
    }

  if (rc == GSASL_OK && self->credentials.authcid != NULL &&
      (self->scram == NULL || !_vsmtp_scram_credentials_is_decoy (self->scram)))
    return VSMTP_SASL_CREDENTIALS;

  if (rc == GSASL_BASE64_ERROR)
    {
      *reply = vsmtp_reply_new (501, "5.5.2", "Error: cannot decode response");
      return VSMTP_SASL_ERROR;
    }

  /* a malformed exchange (GNU SASL refused it before any user name was
   * known: SASLprep refuses control characters, say), a wrong SCRAM proof
   * or channel binding */
  set_error (self, gsasl_strerror (rc));
  *reply = vsmtp_reply_new (535, "5.7.8", "Error: authentication failed");
  return VSMTP_SASL_REFUSED;
}

VsmtpSaslStatus
_vsmtp_sasl_start (VsmtpSasl   *self,
                   const char  *initial_response,
                   VsmtpReply **reply)
{
  /* RFC 4954: "=" is an empty initial response */
  if (initial_response != NULL && g_str_equal (initial_response, "="))
    initial_response = "";

  /* LOGIN with an initial response: the user name (Python's smtplib sends
   * it so). GNU SASL's LOGIN server would ignore it and ask for the user
   * name again: skip that first challenge and answer it with it. */
  if (initial_response != NULL && *initial_response != '\0' &&
      g_str_equal (self->credentials.mechanism, "LOGIN"))
    {
      char *output = NULL;
      int rc = gsasl_step64 (self->session, NULL, &output);

      gsasl_free (output);
      if (rc != GSASL_NEEDS_MORE)
        {
          *reply = temporary_failure ();
          return VSMTP_SASL_ERROR;
        }
    }

  return sasl_step (self, initial_response, reply);
}

VsmtpSaslStatus
_vsmtp_sasl_step (VsmtpSasl   *self,
                  const char  *line,
                  VsmtpReply **reply)
{
  if (g_str_equal (line, "*"))
    {
      *reply = vsmtp_reply_new (501, "5.0.0", "Authentication cancelled");
      return VSMTP_SASL_ERROR;
    }
  /* after SCRAM's server-final message: only the empty response */
  if (self->final_sent)
    {
      if (*line == '\0' || g_str_equal (line, "="))
        return VSMTP_SASL_CREDENTIALS;
      set_error (self, "data after the server's final message");
      *reply = vsmtp_reply_new (535, "5.7.8", "Error: authentication failed");
      return VSMTP_SASL_REFUSED;
    }
  return sasl_step (self, line, reply);
}

const VsmtpSaslCredentials *
_vsmtp_sasl_get_credentials (VsmtpSasl *self)
{
  return &self->credentials;
}

const char *
_vsmtp_sasl_get_error (VsmtpSasl *self)
{
  return self->error;
}

/* The GNU SASL context of the process: made once, on first use, and kept
 * (NULL when GNU SASL cannot be initialized, logged then). Sessions of
 * every server share it; its callback finds the exchange through the
 * session hook. */
Gsasl *
_vsmtp_sasl_get_context (void)
{
  static Gsasl *context;
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      int rc = gsasl_init (&context);

      if (rc != GSASL_OK)
        {
          g_warning ("cannot initialize GNU SASL: %s", gsasl_strerror (rc));
          context = NULL;
        }
      g_once_init_leave (&initialized, 1);
    }
  return context;
}

/* vsmtp-sasl.c: the AUTH exchange (RFC 4954) over GNU SASL
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-sasl-private.h"

struct _VsmtpSasl
{
  Gsasl_session        *session;
  VsmtpSaslCredentials  credentials;
  const char           *error;       /* static, from gsasl_strerror() */
};

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
 * deferred) authenticate handlers once the exchange is complete. */
static int
sasl_callback (Gsasl          *ctx,
               Gsasl_session  *sctx,
               Gsasl_property  prop)
{
  VsmtpSasl *self;

  if (sctx == NULL || prop != GSASL_VALIDATE_SIMPLE)
    return GSASL_NO_CALLBACK;
  self = gsasl_session_hook_get (sctx);
  if (self == NULL)
    return GSASL_NO_CALLBACK;

  g_free (self->credentials.authcid);
  g_free (self->credentials.authzid);
  g_free (self->credentials.password);
  self->credentials.authcid = g_strdup (gsasl_property_fast (sctx, GSASL_AUTHID));
  self->credentials.authzid = g_strdup (gsasl_property_fast (sctx, GSASL_AUTHZID));
  self->credentials.password = g_strdup (gsasl_property_fast (sctx, GSASL_PASSWORD));
  return GSASL_OK;
}

VsmtpSasl *
_vsmtp_sasl_new (Gsasl *ctx,
                 char  *mechanism)
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
  self->credentials.mechanism = mechanism;
  gsasl_session_hook_set (session, self);
  return self;
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
  if (self->credentials.password != NULL)
    {
      memset (self->credentials.password, 0, strlen (self->credentials.password));
      g_free (self->credentials.password);
    }
  g_free (self);
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
  rc = gsasl_step64 (self->session, input, &output);
  if (rc == GSASL_NEEDS_MORE)
    {
      *reply = vsmtp_reply_new (334, NULL, output ? output : "");
      gsasl_free (output);
      return VSMTP_SASL_CHALLENGE;
    }
  gsasl_free (output);

  if (rc == GSASL_OK && self->credentials.authcid != NULL)
    return VSMTP_SASL_CREDENTIALS;

  if (rc == GSASL_BASE64_ERROR)
    {
      *reply = vsmtp_reply_new (501, "5.5.2", "Error: cannot decode response");
      return VSMTP_SASL_ERROR;
    }

  /* a malformed exchange (GNU SASL refused it before any user name was
   * known: SASLprep refuses control characters, say) */
  self->error = gsasl_strerror (rc);
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

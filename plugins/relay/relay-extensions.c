/* relay-extensions.c: the ESMTP extensions the relay passes on, and when it
 * cannot
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-relay"

#include <string.h>

#include "relay-extensions.h"

/* The relay reads what the client asked for from the envelope's parameters
 * as they came (MAIL: BODY, SMTPUTF8, RET, ENVID, REQUIRETLS; RCPT: NOTIFY,
 * ORCPT) and what the message needs from its addresses and header fields,
 * and decides per upstream connection, from the upstream's EHLO reply,
 * whether it can be handed over and with which parameters. The choices
 * (docs/plugins.md, "relay"):
 *
 * - SMTPUTF8 is passed on when the client gave it and the upstream offers
 *   it. Otherwise a message that needs it fails: 550 5.6.7 when an address
 *   is not ASCII, 550 5.6.9 when only header fields are (RFC 6531 §3.2: a
 *   relay MUST NOT downgrade them; X.6.9, "UTF-8 header message cannot be
 *   transferred", is RFC 6531's code). A message that does not need it,
 *   though the client said SMTPUTF8, is relayed without the parameter: the
 *   parameter says what the message may contain, not what it must be
 *   relayed with.
 * - BODY=BINARYMIME needs CHUNKING and BINARYMIME upstream, else 554 5.6.3.
 *   BODY=8BITMIME to an upstream without 8BITMIME is not converted to 7bit
 *   (RFC 6152 lets a relay refuse instead): 554 5.6.3. Without a BODY= from
 *   the client the relay sends BODY=8BITMIME when the upstream offers it,
 *   as before (it does not scan the content).
 * - DSN parameters are passed on verbatim (they are xtext already) when the
 *   upstream offers DSN, else dropped; a "relayed" notice would then be due
 *   for recipients with NOTIFY=SUCCESS (RFC 3461 §5.2.2): the relay logs it
 *   and sends none (vsmtpd sends no notices: a documented deviation).
 * - REQUIRETLS (RFC 8689) needs TLS with a verified certificate and an
 *   upstream that offers REQUIRETLS, else 550 5.7.30. */

RelayCaps
relay_caps_parse (GPtrArray *lines)
{
  static const struct { const char *keyword; RelayCaps cap; } known[] = {
    { "STARTTLS",   RELAY_CAP_STARTTLS },
    { "SIZE",       RELAY_CAP_SIZE },
    { "8BITMIME",   RELAY_CAP_8BITMIME },
    { "SMTPUTF8",   RELAY_CAP_SMTPUTF8 },
    { "PIPELINING", RELAY_CAP_PIPELINING },
    { "CHUNKING",   RELAY_CAP_CHUNKING },
    { "BINARYMIME", RELAY_CAP_BINARYMIME },
    { "DSN",        RELAY_CAP_DSN },
    { "REQUIRETLS", RELAY_CAP_REQUIRETLS },
  };
  RelayCaps caps = 0;

  /* The first line is the greeting, the others one keyword each */
  for (guint i = 1; i < lines->len; i++)
    {
      const char *line = g_ptr_array_index (lines, i);
      gsize n;

      while (*line == ' ')
        line++;
      n = strcspn (line, " ");

      for (guint k = 0; k < G_N_ELEMENTS (known); k++)
        if (n == strlen (known[k].keyword) &&
            g_ascii_strncasecmp (line, known[k].keyword, n) == 0)
          caps |= known[k].cap;
    }

  return caps;
}

static gboolean
is_ascii (const char *s)
{
  for (; s != NULL && *s != '\0'; s++)
    if ((guchar) *s >= 0x80)
      return FALSE;
  return TRUE;
}

static gboolean
address_is_ascii (VsmtpAddress *address)
{
  return address == NULL || vsmtp_address_is_null (address) ||
         is_ascii (vsmtp_address_to_string (address));
}

/* A parameter value that can go on a command line as it is: printable
 * ASCII without a space (xtext and the keywords are). */
static gboolean
is_safe_value (const char *value)
{
  if (value == NULL || *value == '\0')
    return FALSE;
  for (const char *p = value; *p != '\0'; p++)
    if (*p <= 0x20 || *p >= 0x7f)
      return FALSE;
  return TRUE;
}

static gboolean
has_mail_parameter (VsmtpEnvelope *envelope,
                    const char    *name)
{
  return g_hash_table_contains (vsmtp_envelope_get_mail_parameters (envelope), name);
}

static const char *
rcpt_parameter (VsmtpEnvelope *envelope,
                guint          index,
                const char    *name)
{
  GHashTable *parameters = vsmtp_envelope_get_recipient_parameters (envelope, index);

  return parameters != NULL ? g_hash_table_lookup (parameters, name) : NULL;
}

/* Whether recipient @index asked for a notice on success (NOTIFY=SUCCESS,
 * in any case, among others) */
gboolean
relay_notify_success (VsmtpEnvelope *envelope,
                      guint          index)
{
  const char *notify = rcpt_parameter (envelope, index, "NOTIFY");
  g_autofree char *upper = notify != NULL ? g_ascii_strup (notify, -1) : NULL;

  return upper != NULL && strstr (upper, "SUCCESS") != NULL;
}

void
relay_needs_init (RelayNeeds    *needs,
                  VsmtpMessage  *message,
                  VsmtpEnvelope *envelope)
{
  const char *body = vsmtp_envelope_get_mail_parameter (envelope, "BODY");
  guint n_recipients = vsmtp_envelope_get_n_recipients (envelope);

  memset (needs, 0, sizeof *needs);

  if (body == NULL)
    needs->body = RELAY_BODY_NONE;
  else if (g_ascii_strcasecmp (body, "7BIT") == 0)
    needs->body = RELAY_BODY_7BIT;
  else if (g_ascii_strcasecmp (body, "BINARYMIME") == 0)
    needs->body = RELAY_BODY_BINARYMIME;
  else
    needs->body = RELAY_BODY_8BITMIME;

  needs->smtputf8 = has_mail_parameter (envelope, "SMTPUTF8");
  needs->requiretls = has_mail_parameter (envelope, "REQUIRETLS");
  needs->dsn = has_mail_parameter (envelope, "RET") || has_mail_parameter (envelope, "ENVID");

  needs->utf8_address = !address_is_ascii (vsmtp_envelope_get_sender (envelope));
  for (guint i = 0; i < n_recipients; i++)
    {
      const char *notify = rcpt_parameter (envelope, i, "NOTIFY");

      if (!address_is_ascii (vsmtp_envelope_get_recipient (envelope, i)))
        needs->utf8_address = TRUE;
      if (notify != NULL || rcpt_parameter (envelope, i, "ORCPT") != NULL)
        needs->dsn = TRUE;
      if (relay_notify_success (envelope, i))
        needs->notify_success = TRUE;
    }

  /* RFC 6532 header fields are only allowed with SMTPUTF8: without it,
   * 8-bit bytes in a header are the client's business as before. */
  if (needs->smtputf8)
    {
      guint n_headers = vsmtp_message_get_n_headers (message);

      for (guint i = 0; i < n_headers && !needs->utf8_header; i++)
        {
          g_autofree char *name = vsmtp_message_dup_header_name (message, i);
          g_autofree char *value = vsmtp_message_dup_header_value (message, i);

          needs->utf8_header = !is_ascii (name) || !is_ascii (value);
        }
    }

  /* RFC 8689 §5: the header field is ignored with the MAIL parameter */
  if (!needs->requiretls)
    {
      g_autofree char *value = vsmtp_message_dup_header (message, "TLS-Required");

      needs->tls_required_no = value != NULL && g_ascii_strcasecmp (value, "No") == 0;
    }
}

static gboolean
refuse (RelayRefusal *refusal,
        guint         code,
        const char   *enhanced_code,
        const char   *text)
{
  refusal->code = code;
  refusal->enhanced_code = enhanced_code;
  refusal->text = text;
  return FALSE;
}

/* Returns TRUE when the message can go to this upstream (greeted, with
 * @caps, over TLS or not, its certificate verified or not), else FALSE
 * with @refusal set. */
gboolean
relay_needs_check (const RelayNeeds *needs,
                   RelayCaps         caps,
                   gboolean          esmtp,
                   gboolean          tls,
                   gboolean          verified,
                   RelayRefusal     *refusal)
{
  if (!esmtp)
    caps = 0;

  if (needs->requiretls)
    {
      if (!tls)
        return refuse (refusal, 550, "5.7.30",
                       "REQUIRETLS support required: the upstream is not reached over TLS");
      if (!verified)
        return refuse (refusal, 550, "5.7.30",
                       "REQUIRETLS support required: the upstream's certificate is not verified");
      if (!(caps & RELAY_CAP_REQUIRETLS))
        return refuse (refusal, 550, "5.7.30",
                       "REQUIRETLS support required: the upstream does not offer REQUIRETLS");
    }

  if (needs->body == RELAY_BODY_BINARYMIME &&
      (caps & (RELAY_CAP_CHUNKING | RELAY_CAP_BINARYMIME)) !=
      (RELAY_CAP_CHUNKING | RELAY_CAP_BINARYMIME))
    return refuse (refusal, 554, "5.6.3",
                   "Binary content cannot be relayed: the upstream does not offer "
                   "BINARYMIME and CHUNKING");

  if (needs->body == RELAY_BODY_8BITMIME && !(caps & RELAY_CAP_8BITMIME))
    return refuse (refusal, 554, "5.6.3",
                   "8-bit content cannot be relayed: the upstream does not offer 8BITMIME");

  if (!(caps & RELAY_CAP_SMTPUTF8))
    {
      if (needs->utf8_address)
        return refuse (refusal, 550, "5.6.7",
                       "Non-ASCII addresses cannot be relayed: the upstream does not "
                       "offer SMTPUTF8");
      if (needs->utf8_header)
        return refuse (refusal, 550, "5.6.9",
                       "UTF-8 header fields cannot be relayed: the upstream does not "
                       "offer SMTPUTF8");
    }

  return TRUE;
}

static void
append_verbatim (GString    *line,
                 const char *name,
                 const char *value)
{
  if (value == NULL)
    return;
  if (!is_safe_value (value))
    {
      g_message ("relay: %s parameter not passed on: not xtext", name);
      return;
    }
  g_string_append_printf (line, " %s=%s", name, value);
}

void
relay_append_mail_parameters (GString          *line,
                              const RelayNeeds *needs,
                              RelayCaps         caps,
                              VsmtpEnvelope    *envelope,
                              guint64           size)
{
  if (caps & RELAY_CAP_SIZE)
    g_string_append_printf (line, " SIZE=%" G_GUINT64_FORMAT, size);

  /* relay_needs_check () made sure the upstream takes it */
  if (needs->body == RELAY_BODY_BINARYMIME)
    g_string_append (line, " BODY=BINARYMIME");
  else if (caps & RELAY_CAP_8BITMIME)
    {
      /* The client's BODY= when it gave one; otherwise 8BITMIME, which is
       * right for any content (we do not scan it for 8-bit bytes). */
      g_string_append (line, needs->body == RELAY_BODY_7BIT ? " BODY=7BIT" : " BODY=8BITMIME");
    }

  if (needs->smtputf8 && (caps & RELAY_CAP_SMTPUTF8))
    g_string_append (line, " SMTPUTF8");

  if (caps & RELAY_CAP_DSN)
    {
      append_verbatim (line, "RET", vsmtp_envelope_get_mail_parameter (envelope, "RET"));
      append_verbatim (line, "ENVID", vsmtp_envelope_get_mail_parameter (envelope, "ENVID"));
    }

  if (needs->requiretls)
    g_string_append (line, " REQUIRETLS");
}

void
relay_append_rcpt_parameters (GString       *line,
                              RelayCaps      caps,
                              VsmtpEnvelope *envelope,
                              guint          index)
{
  if (!(caps & RELAY_CAP_DSN))
    return;

  append_verbatim (line, "NOTIFY", rcpt_parameter (envelope, index, "NOTIFY"));
  append_verbatim (line, "ORCPT", rcpt_parameter (envelope, index, "ORCPT"));
}

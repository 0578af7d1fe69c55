/* vsmtp-settings-replies.c: the replies a session's settings alone decide,
 * made once per settings snapshot
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The greeting and the reply to HELO depend on the host name only, which a
 * settings snapshot never changes: each is made (and its wire form
 * formatted) at the first session that needs it and shared by the next
 * ones, as the standard replies of vsmtp-session-class.c are. A completed
 * reply never changes. Sessions of one snapshot may run on several
 * threads: the first reply published wins, a loser drops its own.
 *
 * The reply to EHLO lists the extensions a session offers, which vary
 * (TLS, AUTH, the listener, an extension registered meanwhile): each
 * session still builds its text, but a text seen before gets the reply
 * made for it then, so that the reply is not made, formatted and
 * finalised per connection. A few texts are kept per snapshot, the first
 * ones seen; any other gets a reply of its own, as before.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-settings-replies-private.h"

enum {
  REPLY_GREETING_ESMTP,
  REPLY_GREETING_LMTP,
  REPLY_HELO,
};

G_STATIC_ASSERT (REPLY_HELO < G_N_ELEMENTS (((VsmtpSettings *) NULL)->replies));

static VsmtpReply *
settings_reply (VsmtpSettings *self,
                guint          which)
{
  VsmtpReply *reply = g_atomic_pointer_get (&self->replies[which]);
  const char *hostname = self->hostname;

  if (G_LIKELY (reply != NULL))
    return g_object_ref (reply);

  switch (which)
    {
    case REPLY_GREETING_ESMTP:
      reply = vsmtp_reply_new_printf (220, NULL, "%s %s vsmtpd", hostname, "ESMTP");
      break;
    case REPLY_GREETING_LMTP:
      reply = vsmtp_reply_new_printf (220, NULL, "%s %s vsmtpd", hostname, "LMTP");
      break;
    default:
      reply = vsmtp_reply_new (250, NULL, hostname);
      break;
    }
  if (!g_atomic_pointer_compare_and_exchange (&self->replies[which], NULL, reply))
    {
      g_object_unref (reply);
      reply = g_atomic_pointer_get (&self->replies[which]);
    }
  return g_object_ref (reply);
}

VsmtpReply *
_vsmtp_settings_get_greeting (VsmtpSettings *self,
                              gboolean       lmtp)
{
  return settings_reply (self, lmtp ? REPLY_GREETING_LMTP : REPLY_GREETING_ESMTP);
}

VsmtpReply *
_vsmtp_settings_get_helo_reply (VsmtpSettings *self)
{
  return settings_reply (self, REPLY_HELO);
}

VsmtpReply *
_vsmtp_settings_get_ehlo_reply (VsmtpSettings *self,
                                const char    *text)
{
  VsmtpReply *reply = NULL;
  guint i;

  g_mutex_lock (&self->ehlo_lock);
  for (i = 0; i < G_N_ELEMENTS (self->ehlo_texts) && self->ehlo_texts[i] != NULL; i++)
    if (strcmp (self->ehlo_texts[i], text) == 0)
      {
        reply = g_object_ref (self->ehlo_replies[i]);
        break;
      }
  if (reply == NULL)
    {
      reply = vsmtp_reply_new (250, NULL, text);
      if (i < G_N_ELEMENTS (self->ehlo_texts))
        {
          self->ehlo_texts[i] = g_strdup (text);
          self->ehlo_replies[i] = g_object_ref (reply);
        }
    }
  g_mutex_unlock (&self->ehlo_lock);
  return reply;
}

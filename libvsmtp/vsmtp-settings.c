/* vsmtp-settings.c: what a session is configured with
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-settings-private.h"

VsmtpSettings *
_vsmtp_settings_new (void)
{
  VsmtpSettings *self = g_new0 (VsmtpSettings, 1);

  g_atomic_ref_count_init (&self->ref_count);
  return self;
}

VsmtpSettings *
_vsmtp_settings_ref (VsmtpSettings *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

VsmtpSettings *
_vsmtp_settings_copy (VsmtpSettings *self)
{
  VsmtpSettings *copy = g_memdup2 (self, sizeof *self);

  g_atomic_ref_count_init (&copy->ref_count);
  copy->hostname = g_strdup (self->hostname);
  copy->spool_directory = g_strdup (self->spool_directory);
  if (copy->tls_certificate != NULL)
    g_object_ref (copy->tls_certificate);
  copy->auth_mechanisms = g_strdupv (self->auth_mechanisms);
  if (copy->handler_owners != NULL)
    g_hash_table_ref (copy->handler_owners);
  if (copy->scram_secret != NULL)
    g_bytes_ref (copy->scram_secret);
  memset (copy->replies, 0, sizeof copy->replies);
  memset (&copy->ehlo_lock, 0, sizeof copy->ehlo_lock);
  memset (copy->ehlo_texts, 0, sizeof copy->ehlo_texts);
  memset (copy->ehlo_replies, 0, sizeof copy->ehlo_replies);
  return copy;
}

void
_vsmtp_settings_unref (VsmtpSettings *self)
{
  if (self == NULL || !g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_free (self->hostname);
  g_free (self->spool_directory);
  g_clear_object (&self->tls_certificate);
  g_strfreev (self->auth_mechanisms);
  g_clear_pointer (&self->handler_owners, g_hash_table_unref);
  g_clear_pointer (&self->scram_secret, g_bytes_unref);
  for (guint i = 0; i < G_N_ELEMENTS (self->replies); i++)
    g_clear_object (&self->replies[i]);
  for (guint i = 0; i < G_N_ELEMENTS (self->ehlo_replies); i++)
    {
      g_free (self->ehlo_texts[i]);
      g_clear_object (&self->ehlo_replies[i]);
    }
  g_mutex_clear (&self->ehlo_lock);
  g_free (self);
}

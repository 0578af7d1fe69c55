/* vsmtp-settings.c: what a session is configured with
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

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
  g_free (self);
}

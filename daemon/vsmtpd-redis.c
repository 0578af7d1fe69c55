/* vsmtpd-redis.c: [redis], the store the plugins share their state in
 *
 * Without [redis] url the server keeps its in-process store (what one
 * process counts alone); with it, every vsmtpd given the same Redis
 * database shares the plugins' counters, rate limits and sets.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtpd-redis.h"

VsmtpConfigGroup *
vsmtpd_redis_group_new (void)
{
  VsmtpConfigGroup *group = vsmtp_config_group_new ("redis");

  vsmtp_config_group_add_string (group, "url", NULL,
                                 "redis://HOST[:PORT][/DB] or unix:/PATH; unset: in-process state");
  vsmtp_config_group_add_string (group, "password", NULL, "Sent with AUTH after connecting");
  vsmtp_config_group_add_integer (group, "database", 0, 0, 15, NULL,
                                  "The database, chosen with SELECT (the URL's if unset)");
  vsmtp_config_group_add_string (group, "prefix", "vsmtp:", "What every key starts with");
  vsmtp_config_group_add_duration (group, "connect-timeout", 2000, 1, 600000,
                                   "Seconds a connection may take");
  vsmtp_config_group_add_duration (group, "command-timeout", 1000, 1, 600000,
                                   "Seconds Redis has to answer an operation");
  return group;
}

/* A Redis store from [redis] (loaded), or NULL in @out_store without
 * url. On a failure, @out_key names the key at fault. */
gboolean
vsmtpd_redis_store_new (VsmtpConfigGroup  *group,
                        VsmtpStore       **out_store,
                        char             **out_key,
                        GError           **error)
{
  g_autofree char *url = vsmtp_config_group_dup_string (group, "url");
  g_autofree char *password = vsmtp_config_group_dup_string (group, "password");
  g_autofree char *prefix = vsmtp_config_group_dup_string (group, "prefix");
  g_autoptr(VsmtpStore) store = NULL;

  *out_store = NULL;
  *out_key = NULL;
  if (url == NULL || url[0] == '\0')
    return TRUE;

  store = vsmtp_redis_store_new (url, prefix, error);
  if (store == NULL)
    {
      *out_key = g_strdup ("url");
      return FALSE;
    }

  if (password != NULL && password[0] != '\0')
    g_object_set (store, "password", password, NULL);
  if (vsmtp_config_group_is_set (group, "database"))
    g_object_set (store, "database", (int) vsmtp_config_group_get_integer (group, "database"),
                  NULL);
  g_object_set (store,
                "connect-timeout", (guint) vsmtp_config_group_get_duration (group, "connect-timeout"),
                "command-timeout", (guint) vsmtp_config_group_get_duration (group, "command-timeout"),
                NULL);
  *out_store = g_steal_pointer (&store);
  return TRUE;
}

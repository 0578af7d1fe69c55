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
  vsmtp_config_group_add_string_list (group, "share", NULL,
                                      "Limits kept in the store: connections, auth-failures");
  vsmtp_config_group_add_choice (group, "on-store-error", "tempfail",
                                 (const char * const []) { "tempfail", "accept", NULL },
                                 "When the store fails a shared limit's check: refuse for now or go on");
  return group;
}

/* [redis] share and on-store-error: the per-address limits the server
 * keeps in its store (whichever it is), and what a failed check means. On
 * a failure, @out_key names the key at fault. */
gboolean
vsmtpd_redis_shared_limits (VsmtpConfigGroup       *group,
                            VsmtpSharedLimits      *out_limits,
                            VsmtpStoreErrorPolicy  *out_policy,
                            char                  **out_key,
                            GError                **error)
{
  g_auto(GStrv) share = vsmtp_config_group_dup_string_list (group, "share");
  g_autofree char *policy = vsmtp_config_group_dup_string (group, "on-store-error");

  *out_limits = VSMTP_SHARED_LIMITS_NONE;
  *out_key = NULL;
  for (guint i = 0; share != NULL && share[i] != NULL; i++)
    {
      /* "connections, auth-failures" reads as well as the list form */
      g_auto(GStrv) words = g_strsplit (share[i], ",", -1);

      for (guint j = 0; words[j] != NULL; j++)
        {
          const char *word = g_strstrip (words[j]);

          if (word[0] == '\0')
            continue;
          if (g_str_equal (word, "connections"))
            *out_limits |= VSMTP_SHARED_LIMITS_CONNECTIONS;
          else if (g_str_equal (word, "auth-failures"))
            *out_limits |= VSMTP_SHARED_LIMITS_AUTH_FAILURES;
          else
            {
              *out_key = g_strdup ("share");
              g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                           "\"%s\" is not connections or auth-failures", word);
              return FALSE;
            }
        }
    }
  *out_policy = g_strcmp0 (policy, "accept") == 0 ? VSMTP_STORE_ERROR_POLICY_ACCEPT
                                                  : VSMTP_STORE_ERROR_POLICY_TEMPFAIL;
  return TRUE;
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

/* Two Redis stores that would talk to the same database the same way */
static gboolean
same_redis (VsmtpStore *a,
            VsmtpStore *b)
{
  static const char * const names[] = {
    "url", "password", "database", "connect-timeout", "command-timeout",
  };

  if (!VSMTP_IS_REDIS_STORE (a) || !VSMTP_IS_REDIS_STORE (b) ||
      g_strcmp0 (vsmtp_store_get_prefix (a), vsmtp_store_get_prefix (b)) != 0)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_auto(GValue) va = G_VALUE_INIT;
      g_auto(GValue) vb = G_VALUE_INIT;

      g_object_get_property (G_OBJECT (a), names[i], &va);
      g_object_get_property (G_OBJECT (b), names[i], &vb);
      if (G_VALUE_HOLDS_STRING (&va) ? g_strcmp0 (g_value_get_string (&va), g_value_get_string (&vb)) != 0
                                     : g_param_values_cmp (g_object_class_find_property (G_OBJECT_GET_CLASS (a), names[i]), &va, &vb) != 0)
        return FALSE;
    }
  return TRUE;
}

/* [redis] on @server, at start and at every reload: @store (NULL: the
 * in-process one) for new sessions and the plugins' next operations,
 * unless the server has one that is the same (its connection and, in
 * process, its counts are kept). What sessions took keeps the old store
 * alive until they are done with it. */
void
vsmtpd_redis_apply (VsmtpStore            *store,
                    VsmtpSharedLimits      limits,
                    VsmtpStoreErrorPolicy  policy,
                    VsmtpServer           *server)
{
  VsmtpStore *current = vsmtp_server_get_store (server);

  if (store == NULL && VSMTP_IS_REDIS_STORE (current))
    {
      g_autoptr(VsmtpStore) memory = vsmtp_memory_store_new (NULL);

      g_message ("[redis]: the shared state is in process from now on");
      vsmtp_server_set_store (server, memory);
    }
  else if (store != NULL && !same_redis (store, current))
    {
      if (VSMTP_IS_REDIS_STORE (current))
        {
          g_autofree char *url = NULL;

          g_object_get (store, "url", &url, NULL);
          g_message ("[redis]: the shared state is in %s from now on", url);
        }
      vsmtp_server_set_store (server, store);
    }
  vsmtp_server_set_shared_limits (server, limits);
  vsmtp_server_set_store_error_policy (server, policy);
}

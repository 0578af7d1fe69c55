/* vsmtpd-passwd-plugin.c: SMTP AUTH against a file of user:crypt(3)-hash lines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * [passwd]
 * file = /etc/vsmtpd/passwd        one "user:hash" per line, # comments
 * mechanisms = PLAIN;LOGIN         offered with AUTH (the default)
 *
 * Hashes are whatever libcrypt verifies: yescrypt ($y$), bcrypt ($2b$),
 * sha512-crypt ($6$)... Make one with `mkpasswd -m yescrypt` (package
 * whois) or `openssl passwd -6`. The file is read again when it changes.
 * Verifying a slow hash runs in a worker thread: the decision is deferred,
 * the main loop never blocks on it.
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-passwd"

#include <crypt.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <libpeas/peas.h>
#include <vsmtp.h>

#define VSMTPD_TYPE_PASSWD_PLUGIN (vsmtpd_passwd_plugin_get_type ())
G_DECLARE_FINAL_TYPE (VsmtpdPasswdPlugin, vsmtpd_passwd_plugin, VSMTPD, PASSWD_PLUGIN, VsmtpPlugin)

struct _VsmtpdPasswdPlugin
{
  VsmtpPlugin      parent_instance;

  gulong       new_session_id;

  char        *path;
  GHashTable  *users;          /* user -> hash */
  char        *dummy_hash;     /* checked for unknown users, see below */
  gboolean     loaded;
  struct stat  loaded_stat;
};

/* Users that do not exist are checked too, so that a wrong password costs
 * the same time whether the user exists or not (no user enumeration by
 * timing). They are checked against the hash of an entry of the file
 * (its algorithm, cost and salt) of the method most entries use: a fixed
 * dummy of another method (SHA-512-crypt against yescrypt entries) took a
 * tenth of the time. The result is thrown away. With an empty file, this
 * yescrypt hash at libxcrypt's default cost, what vsmtpd-passwd writes. */
#define EMPTY_FILE_DUMMY_HASH "$y$j9T$imj3v0vyFkAgSI6hi20at/$SsduSLziMtEIPWlR5Onl97rQioDXVdCZm9sVePYfNn4"

/* "$y$", "$2b$", "$6$": the method of a crypt(5) hash ("" for DES). */
static gsize
hash_method_length (const char *hash)
{
  const char *end;

  if (hash[0] != '$' || (end = strchr (hash + 1, '$')) == NULL)
    return 0;
  return end + 1 - hash;
}

/* The hash of the first entry (in file order) of the method most entries
 * of @users use. */
static char *
pick_dummy_hash (GHashTable *users,
                 GPtrArray  *order)
{
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *best = NULL;
  guint best_count = 0;

  for (guint i = 0; i < order->len; i++)
    {
      const char *hash = g_hash_table_lookup (users, order->pdata[i]);
      char *method = g_strndup (hash, hash_method_length (hash));
      guint count = GPOINTER_TO_UINT (g_hash_table_lookup (counts, method)) + 1;

      g_hash_table_replace (counts, method, GUINT_TO_POINTER (count));
      best_count = MAX (best_count, count);
    }
  for (guint i = 0; best == NULL && i < order->len; i++)
    {
      const char *hash = g_hash_table_lookup (users, order->pdata[i]);
      g_autofree char *method = g_strndup (hash, hash_method_length (hash));

      if (GPOINTER_TO_UINT (g_hash_table_lookup (counts, method)) == best_count)
        best = hash;
    }
  return g_strdup (best != NULL ? best : EMPTY_FILE_DUMMY_HASH);
}

G_DEFINE_DYNAMIC_TYPE_EXTENDED (VsmtpdPasswdPlugin, vsmtpd_passwd_plugin, VSMTP_TYPE_PLUGIN,
                                G_TYPE_FLAG_FINAL, {})

/* Reads the file again when its inode, size or mtime changed. Returns FALSE
 * (and keeps the last good table) when it cannot be read. */
static gboolean
passwd_reload (VsmtpdPasswdPlugin *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) order = NULL;   /* the users, in file order */
  g_autofree char *method = NULL;
  GHashTable *users;
  struct stat st;

  if (self->path == NULL)
    return FALSE;

  if (stat (self->path, &st) != 0)
    {
      g_warning ("passwd: %s: %s", self->path, g_strerror (errno));
      return FALSE;
    }
  if (self->loaded &&
      st.st_ino == self->loaded_stat.st_ino && st.st_size == self->loaded_stat.st_size &&
      st.st_mtim.tv_sec == self->loaded_stat.st_mtim.tv_sec &&
      st.st_mtim.tv_nsec == self->loaded_stat.st_mtim.tv_nsec)
    return TRUE;

  if (!g_file_get_contents (self->path, &contents, NULL, &error))
    {
      g_warning ("passwd: %s", error->message);
      return FALSE;
    }

  users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  order = g_ptr_array_new_with_free_func (g_free);
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      char *colon;

      if (*line == '\0' || *line == '#')
        continue;
      colon = strchr (line, ':');
      if (colon == NULL || colon == line || colon[1] == '\0')
        {
          g_warning ("passwd: %s:%u: expected user:hash", self->path, i + 1);
          continue;
        }
      *colon = '\0';
      /* a trailing ":..." (passwd(5)-style extra fields) is ignored */
      {
        char *end = strchr (colon + 1, ':');
        if (end != NULL)
          *end = '\0';
      }
      if (!g_hash_table_contains (users, line))
        g_ptr_array_add (order, g_strdup (line));
      g_hash_table_replace (users, g_strdup (line), g_strdup (colon + 1));
    }

  g_clear_pointer (&self->users, g_hash_table_unref);
  self->users = users;
  g_free (self->dummy_hash);
  self->dummy_hash = pick_dummy_hash (users, order);
  method = g_strndup (self->dummy_hash, hash_method_length (self->dummy_hash));
  self->loaded = TRUE;
  self->loaded_stat = st;
  g_info ("passwd: %u users from %s; unknown users are checked against a %s hash",
          g_hash_table_size (users), self->path, *method ? method : "DES");
  return TRUE;
}

typedef struct {
  char *hash;
  char *password;
  gboolean known;
} Check;

static void
check_free (Check *check)
{
  g_free (check->hash);
  if (check->password != NULL)
    {
      memset (check->password, 0, strlen (check->password));
      g_free (check->password);
    }
  g_free (check);
}

static void
verify_in_thread (GTask        *task,
                  gpointer      source,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  Check *check = task_data;
  /* 32 KiB of scratch space: on the heap, not on a worker thread's stack */
  struct crypt_data *data = g_malloc0 (sizeof (struct crypt_data));
  const char *result;
  gboolean ok = FALSE;

  result = crypt_r (check->password, check->hash, data);
  if (result != NULL && result[0] != '*')
    {
      gsize a = strlen (result), b = strlen (check->hash);
      guchar diff = a != b;

      /* constant time over the common length */
      for (gsize i = 0; i < MIN (a, b); i++)
        diff |= (guchar) result[i] ^ (guchar) check->hash[i];
      ok = diff == 0;
    }
  /* crypt_r leaves key material in its scratch space (the check for NULL
   * only quietens gcc's -Wnonnull under -fsanitize, g_malloc0 never fails) */
  if (data != NULL)
    explicit_bzero (data, sizeof *data);
  g_free (data);
  g_task_return_boolean (task, ok && check->known);
}

static void
on_verified (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(VsmtpReply) reply = user_data;

  if (g_task_propagate_boolean (G_TASK (result), NULL))
    vsmtp_reply_complete (reply, 235, "2.7.0", "Authentication successful");
  else
    vsmtp_reply_complete (reply, 535, "5.7.8", "Error: authentication failed");
}

static VsmtpReply *
on_authenticate (VsmtpSession *session,
                 const char   *mechanism,
                 const char   *authzid,
                 const char   *authcid,
                 const char   *password,
                 gpointer      user_data)
{
  VsmtpdPasswdPlugin *self = user_data;
  g_autoptr(GTask) task = NULL;
  VsmtpReply *reply;
  const char *hash;
  Check *check;

  if (!passwd_reload (self) && self->users == NULL)
    return vsmtp_reply_new (454, "4.7.0", "Temporary authentication failure");

  /* logging in as somebody else is not offered */
  if (authzid != NULL && *authzid != '\0' && g_strcmp0 (authzid, authcid) != 0)
    return vsmtp_reply_new (535, "5.7.8", "Error: authentication failed");

  hash = g_hash_table_lookup (self->users, authcid);
  check = g_new0 (Check, 1);
  check->known = hash != NULL;
  check->hash = g_strdup (hash != NULL ? hash : self->dummy_hash);
  check->password = g_strdup (password);

  reply = vsmtp_reply_new_pending ();
  task = g_task_new (NULL, NULL, on_verified, g_object_ref (reply));
  g_task_set_source_tag (task, on_authenticate);
  g_task_set_task_data (task, check, (GDestroyNotify) check_free);
  g_task_run_in_thread (task, verify_in_thread);

  return reply;
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  g_signal_connect_object (session, "authenticate",
                           G_CALLBACK (on_authenticate), user_data, 0);
}

static void
vsmtpd_passwd_plugin_activate (VsmtpPlugin *plugin)
{
  VsmtpdPasswdPlugin *self = VSMTPD_PASSWD_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));
  GKeyFile *config = vsmtp_server_get_config (server);
  g_auto(GStrv) mechanisms = NULL;

  if (config != NULL)
    {
      self->path = g_key_file_get_string (config, "passwd", "file", NULL);
      mechanisms = g_key_file_get_string_list (config, "passwd", "mechanisms", NULL, NULL);
    }
  if (self->path == NULL)
    g_warning ("passwd: no [passwd] file configured: every AUTH will fail");
  else
    passwd_reload (self);

  if (mechanisms == NULL)
    mechanisms = g_strsplit ("PLAIN LOGIN", " ", -1);
  vsmtp_server_set_auth_mechanisms (server, (const char * const *) mechanisms);

  self->new_session_id = g_signal_connect_object (server, "new-session",
                                                  G_CALLBACK (on_new_session), self, 0);
}

static void
vsmtpd_passwd_plugin_deactivate (VsmtpPlugin *plugin)
{
  VsmtpdPasswdPlugin *self = VSMTPD_PASSWD_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  if (server != NULL)
    {
      g_clear_signal_handler (&self->new_session_id, server);
      vsmtp_server_set_auth_mechanisms (server, NULL);
    }
}

static void
vsmtpd_passwd_plugin_dispose (GObject *object)
{
  VsmtpdPasswdPlugin *self = VSMTPD_PASSWD_PLUGIN (object);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);
  g_clear_pointer (&self->users, g_hash_table_unref);
  g_clear_pointer (&self->dummy_hash, g_free);
  g_clear_pointer (&self->path, g_free);

  G_OBJECT_CLASS (vsmtpd_passwd_plugin_parent_class)->dispose (object);
}

static void
vsmtpd_passwd_plugin_class_init (VsmtpdPasswdPluginClass *klass)
{
  VsmtpPluginClass *plugin_class = VSMTP_PLUGIN_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vsmtpd_passwd_plugin_dispose;

  plugin_class->activate = vsmtpd_passwd_plugin_activate;
  plugin_class->deactivate = vsmtpd_passwd_plugin_deactivate;
}

static void
vsmtpd_passwd_plugin_class_finalize (VsmtpdPasswdPluginClass *klass)
{
}

static void
vsmtpd_passwd_plugin_init (VsmtpdPasswdPlugin *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  vsmtpd_passwd_plugin_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module,
                                              VSMTP_TYPE_ACTIVATABLE,
                                              VSMTPD_TYPE_PASSWD_PLUGIN);
}

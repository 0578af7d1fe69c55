/* vsmtpd-passwd-plugin.c: SMTP AUTH against a file of user:hash lines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * [passwd]
 * file = /etc/vsmtpd/passwd        one "user:hash" per line, # comments
 * mechanisms = PLAIN;LOGIN         offered with AUTH (default: see below)
 * sender-check = submission        submission | always | off
 * sender-login-map = FILE          which logins may use which senders
 *
 * A hash is either what libcrypt verifies: yescrypt ($y$), bcrypt ($2b$),
 * sha512-crypt ($6$)... (`vsmtpd-passwd`, `mkpasswd -m yescrypt`,
 * `openssl passwd -6`), or SCRAM-SHA-256 credentials in RFC 5803's form,
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
 * (`vsmtpd-passwd --scheme scram-sha-256`). A user with SCRAM credentials
 * logs in with SCRAM-SHA-256(-PLUS), PLAIN or LOGIN (the password is checked
 * against the StoredKey); a user with a crypt hash with PLAIN or LOGIN
 * only: SCRAM fails for them at the proof, as for an unknown user (logged).
 * Without a mechanisms key: PLAIN and LOGIN, with SCRAM-SHA-256-PLUS and
 * SCRAM-SHA-256 first when the file has SCRAM entries. The file is read
 * again when it changes.
 *
 * Verifying a slow hash runs in a worker thread: the decision is deferred,
 * the main loop never blocks on it. SCRAM's credentials are answered from
 * memory, synchronously (lookup-scram-credentials cannot defer).
 *
 * Sender ownership (as Postfix's reject_sender_login_mismatch): on
 * submission listeners (sender-check=submission, the default; "always":
 * every authenticated session; "off": never) an authenticated user may
 * only use their own envelope senders, else
 * `553 5.7.1 <addr>: Sender address rejected: not owned by user LOGIN`.
 * Without a map, a login with an "@" owns that address and a login
 * without one owns that local part at any domain (case-insensitively).
 * With sender-login-map, the map alone decides: lines of
 * `address login[,login...]` or `@domain login[,login...]` (an exact
 * address first, then its domain), # comments; read again when it
 * changes. The null sender <> is always allowed.
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

/* A file read again when it changes (inode, size or modification time) */
typedef struct {
  char        *path;
  gboolean     loaded;
  struct stat  loaded_stat;
} WatchedFile;

typedef enum {
  FILE_UNCHANGED,
  FILE_CHANGED,       /* *contents holds the new contents */
  FILE_UNREADABLE,    /* logged; the last contents read stay in force */
} FileStatus;

typedef enum {
  SENDER_CHECK_SUBMISSION,
  SENDER_CHECK_ALWAYS,
  SENDER_CHECK_OFF,
} SenderCheck;

static FileStatus
watched_file_read (WatchedFile  *file,
                   char        **contents)
{
  g_autoptr(GError) error = NULL;
  struct stat st;

  *contents = NULL;
  if (stat (file->path, &st) != 0)
    {
      g_warning ("passwd: %s: %s", file->path, g_strerror (errno));
      return FILE_UNREADABLE;
    }
  if (file->loaded &&
      st.st_ino == file->loaded_stat.st_ino && st.st_size == file->loaded_stat.st_size &&
      st.st_mtim.tv_sec == file->loaded_stat.st_mtim.tv_sec &&
      st.st_mtim.tv_nsec == file->loaded_stat.st_mtim.tv_nsec)
    return FILE_UNCHANGED;
  if (!g_file_get_contents (file->path, contents, NULL, &error))
    {
      g_warning ("passwd: %s", error->message);
      return FILE_UNREADABLE;
    }
  file->loaded = TRUE;
  file->loaded_stat = st;
  return FILE_CHANGED;
}

struct _VsmtpdPasswdPlugin
{
  VsmtpPlugin      parent_instance;

  gulong       new_session_id;

  WatchedFile  passwd;
  GHashTable  *users;          /* user -> hash */
  GHashTable  *scram;          /* user -> VsmtpScramCredentials, SCRAM entries */
  char        *dummy_hash;     /* checked for unknown users, see below */
  gboolean     mechanisms_configured;

  SenderCheck  sender_check;
  WatchedFile  sender_map;     /* path NULL: the default rule */
  GHashTable  *sender_owners;  /* "addr" or "@domain", lower case -> "login,login" */
  char       **mechanisms;     /* configured, until activated */
};

/* Users that do not exist are checked too, so that a wrong password costs
 * the same time whether the user exists or not (no user enumeration by
 * timing). They are checked against the hash of an entry of the file
 * (its algorithm, cost and salt) of the method most entries use: a fixed
 * dummy of another method (SHA-512-crypt against yescrypt entries) took a
 * tenth of the time. The result is thrown away. With an empty file, this
 * yescrypt hash at libxcrypt's default cost, what vsmtpd-passwd writes. */
#define EMPTY_FILE_DUMMY_HASH "$y$j9T$imj3v0vyFkAgSI6hi20at/$SsduSLziMtEIPWlR5Onl97rQioDXVdCZm9sVePYfNn4"

#define SCRAM_PREFIX "SCRAM-SHA-256$"

/* "$y$", "$2b$", "$6$": the method of a crypt(5) hash ("" for DES);
 * "SCRAM-SHA-256$" for SCRAM credentials. */
static gsize
hash_method_length (const char *hash)
{
  const char *end;

  if (g_str_has_prefix (hash, SCRAM_PREFIX))
    return strlen (SCRAM_PREFIX);
  if (hash[0] != '$' || (end = strchr (hash + 1, '$')) == NULL)
    return 0;
  return end + 1 - hash;
}

/* The end of the hash field starting at @hash: the next ":" (passwd(5)-style
 * extra fields follow), past the two a SCRAM entry has inside. */
static char *
hash_field_end (char *hash)
{
  char *p = hash;

  if (g_str_has_prefix (hash, SCRAM_PREFIX))
    {
      /* <iterations>:<salt>$<StoredKey>:<ServerKey> */
      p = strchr (p, ':');
      p = p ? strchr (p, '$') : NULL;
      p = p ? strchr (p, ':') : NULL;
      if (p == NULL)
        return NULL;
      p++;
    }
  return strchr (p, ':');
}

/* The mechanisms without a mechanisms key: SCRAM first when some user can
 * use it. */
static void
set_default_mechanisms (VsmtpdPasswdPlugin *self)
{
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));
  static const char * const with_scram[] = {
    "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN", "LOGIN", NULL
  };
  static const char * const without_scram[] = { "PLAIN", "LOGIN", NULL };
  const char * const *wanted;
  const char * const *current;

  if (self->mechanisms_configured || server == NULL)
    return;
  wanted = self->scram != NULL && g_hash_table_size (self->scram) > 0 ? with_scram : without_scram;
  current = vsmtp_server_get_auth_mechanisms (server);
  if (current == NULL || !g_strv_equal (current, wanted))
    vsmtp_server_set_auth_mechanisms (server, wanted);
}

/* Decoys (for users without SCRAM credentials) look like the entries most
 * users have: their iteration count and salt length. */
static void
set_scram_decoy (VsmtpdPasswdPlugin *self,
                 GPtrArray          *order)
{
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));
  g_autoptr(GHashTable) counts = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint best = 0, best_count = 0;

  if (server == NULL)
    return;
  for (guint i = 0; i < order->len; i++)
    {
      VsmtpScramCredentials *credentials = g_hash_table_lookup (self->scram, order->pdata[i]);
      guint key, count;

      if (credentials == NULL)
        continue;
      /* iterations in the high bits, the salt length (at most 1024) in the low */
      key = vsmtp_scram_credentials_get_iterations (credentials) << 11 |
            (guint) g_bytes_get_size (vsmtp_scram_credentials_get_salt (credentials));
      count = GPOINTER_TO_UINT (g_hash_table_lookup (counts, GUINT_TO_POINTER (key))) + 1;
      g_hash_table_replace (counts, GUINT_TO_POINTER (key), GUINT_TO_POINTER (count));
      if (count > best_count)
        {
          best = key;
          best_count = count;
        }
    }
  if (best_count == 0)
    return;
  g_object_set (server,
                "scram-decoy-iterations", best >> 11,
                "scram-decoy-salt-length", MIN (best & 0x7ff, 32),
                NULL);
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
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) order = NULL;   /* the users, in file order */
  g_autofree char *method = NULL;
  GHashTable *users;
  GHashTable *scram;

  if (self->passwd.path == NULL)
    return FALSE;

  switch (watched_file_read (&self->passwd, &contents))
    {
    case FILE_UNCHANGED:
      return TRUE;
    case FILE_UNREADABLE:
      return FALSE;
    case FILE_CHANGED:
    default:
      break;
    }

  users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  scram = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                 (GDestroyNotify) vsmtp_scram_credentials_unref);
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
          g_warning ("passwd: %s:%u: expected user:hash", self->passwd.path, i + 1);
          continue;
        }
      *colon = '\0';
      /* a trailing ":..." (passwd(5)-style extra fields) is ignored */
      {
        char *end = hash_field_end (colon + 1);
        if (end != NULL)
          *end = '\0';
      }
      if (g_str_has_prefix (colon + 1, SCRAM_PREFIX))
        {
          g_autoptr(GError) error = NULL;
          VsmtpScramCredentials *credentials = vsmtp_scram_credentials_parse (colon + 1, &error);

          if (credentials == NULL)
            {
              g_warning ("passwd: %s:%u: %s", self->passwd.path, i + 1, error->message);
              continue;
            }
          g_hash_table_replace (scram, g_strdup (line), credentials);
        }
      else
        {
          g_hash_table_remove (scram, line);
        }
      if (!g_hash_table_contains (users, line))
        g_ptr_array_add (order, g_strdup (line));
      g_hash_table_replace (users, g_strdup (line), g_strdup (colon + 1));
    }

  g_clear_pointer (&self->users, g_hash_table_unref);
  self->users = users;
  g_clear_pointer (&self->scram, g_hash_table_unref);
  self->scram = scram;
  set_scram_decoy (self, order);
  set_default_mechanisms (self);
  g_free (self->dummy_hash);
  self->dummy_hash = pick_dummy_hash (users, order);
  method = g_strndup (self->dummy_hash, hash_method_length (self->dummy_hash));
  g_info ("passwd: %u users from %s (%u with SCRAM-SHA-256 credentials); unknown users "
          "are checked against a %s hash",
          g_hash_table_size (users), self->passwd.path, g_hash_table_size (scram),
          *method ? method : "DES");
  return TRUE;
}

/* Reads the sender-login-map again if it changed. */
static void
sender_map_reload (VsmtpdPasswdPlugin *self)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTable *owners;

  if (watched_file_read (&self->sender_map, &contents) != FILE_CHANGED)
    return;

  owners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      char *space;
      g_autofree char *logins = NULL;

      if (*line == '\0' || *line == '#')
        continue;
      space = strpbrk (line, " \t");
      if (space == NULL)
        {
          g_warning ("passwd: %s:%u: expected \"address login[,login...]\"",
                     self->sender_map.path, i + 1);
          continue;
        }
      *space = '\0';
      logins = g_strdup (g_strstrip (space + 1));
      /* "a, b" and "a,b" alike */
      {
        g_auto(GStrv) parts = g_strsplit_set (logins, ", \t", -1);
        g_autoptr(GString) joined = g_string_new (NULL);

        for (guint j = 0; parts[j] != NULL; j++)
          if (parts[j][0] != '\0')
            g_string_append_printf (joined, "%s%s", joined->len ? "," : "", parts[j]);
        g_hash_table_replace (owners, g_ascii_strdown (line, -1),
                              g_string_free (g_steal_pointer (&joined), FALSE));
      }
    }

  g_clear_pointer (&self->sender_owners, g_hash_table_unref);
  self->sender_owners = owners;
  g_info ("passwd: %u sender entries from %s", g_hash_table_size (owners),
          self->sender_map.path);
}

static gboolean
list_has (const char *list,
          const char *login)
{
  g_auto(GStrv) items = g_strsplit (list, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    if (g_ascii_strcasecmp (items[i], login) == 0)
      return TRUE;
  return FALSE;
}

/* Whether @login may use @sender as its envelope sender. */
static gboolean
sender_owned_by (VsmtpdPasswdPlugin *self,
                 VsmtpAddress       *sender,
                 const char         *login)
{
  const char *local = vsmtp_address_get_local_part (sender);
  const char *domain = vsmtp_address_get_domain (sender);
  g_autofree char *address = NULL;
  const char *owners;

  if (local == NULL || domain == NULL)
    return FALSE;

  if (self->sender_map.path == NULL)
    {
      const char *at = strchr (login, '@');

      if (at == NULL)
        return g_ascii_strcasecmp (login, local) == 0;
      return g_ascii_strncasecmp (login, local, at - login) == 0 &&
             local[at - login] == '\0' &&
             g_ascii_strcasecmp (at + 1, domain) == 0;
    }

  sender_map_reload (self);
  if (self->sender_owners == NULL)
    return FALSE;
  address = g_ascii_strdown (vsmtp_address_to_string (sender), -1);
  owners = g_hash_table_lookup (self->sender_owners, address);
  if (owners == NULL)
    {
      g_autofree char *at_domain = g_strconcat ("@", domain, NULL);
      g_autofree char *key = g_ascii_strdown (at_domain, -1);

      owners = g_hash_table_lookup (self->sender_owners, key);
    }
  return owners != NULL && list_has (owners, login);
}

static VsmtpReply *
on_mail_from (VsmtpSession    *session,
              VsmtpAddress    *sender,
              VsmtpParameters *parameters,
              gpointer         user_data)
{
  VsmtpdPasswdPlugin *self = user_data;
  const char *login = vsmtp_session_get_authenticated_user (session);

  if (login == NULL || vsmtp_address_is_null (sender) ||
      self->sender_check == SENDER_CHECK_OFF ||
      (self->sender_check == SENDER_CHECK_SUBMISSION && !vsmtp_session_is_submission (session)))
    return vsmtp_reply_new_continue ();
  if (sender_owned_by (self, sender, login))
    return vsmtp_reply_new_continue ();

  {
    g_autofree char *logged_sender = vsmtp_log_escape (vsmtp_address_to_string (sender), -1);
    g_autofree char *logged_login = vsmtp_log_escape (login, -1);

    g_info ("%s: passwd: sender <%s> refused: not owned by user %s",
            vsmtp_session_get_id (session), logged_sender, logged_login);
    return vsmtp_reply_new_printf (553, "5.7.1",
                                   "<%s>: Sender address rejected: not owned by user %s",
                                   vsmtp_address_to_string (sender), logged_login);
  }
}

typedef struct {
  char *hash;
  VsmtpScramCredentials *scram;   /* the hash is SCRAM credentials */
  char *password;
  gboolean known;
} Check;

static void
check_free (Check *check)
{
  g_free (check->hash);
  g_clear_pointer (&check->scram, vsmtp_scram_credentials_unref);
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
  struct crypt_data *data;
  const char *result;
  gboolean ok = FALSE;

  /* PBKDF2 and a constant-time comparison of the StoredKey */
  if (check->scram != NULL)
    {
      ok = vsmtp_scram_credentials_check_password (check->scram, check->password);
      g_task_return_boolean (task, ok && check->known);
      return;
    }

  /* 32 KiB of scratch space: on the heap, not on a worker thread's stack */
  data = g_malloc0 (sizeof (struct crypt_data));
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

  /* SCRAM: the session checked the proof against the credentials
   * on_lookup_scram_credentials() gave; the user must still have them */
  if (password == NULL)
    {
      if (g_str_has_prefix (mechanism, "SCRAM-") && self->scram != NULL &&
          g_hash_table_lookup (self->scram, authcid) != NULL)
        return vsmtp_reply_new (235, "2.7.0", "Authentication successful");
      return vsmtp_reply_new (535, "5.7.8", "Error: authentication failed");
    }

  hash = g_hash_table_lookup (self->users, authcid);
  check = g_new0 (Check, 1);
  check->known = hash != NULL;
  check->hash = g_strdup (hash != NULL ? hash : self->dummy_hash);
  if (g_str_has_prefix (check->hash, SCRAM_PREFIX))
    check->scram = vsmtp_scram_credentials_parse (check->hash, NULL);
  check->password = g_strdup (password);

  reply = vsmtp_reply_new_pending ();
  task = g_task_new (NULL, NULL, on_verified, g_object_ref (reply));
  g_task_set_source_tag (task, on_authenticate);
  g_task_set_task_data (task, check, (GDestroyNotify) check_free);
  g_task_run_in_thread (task, verify_in_thread);

  return reply;
}

/* Synchronous: the credentials are in memory. NULL for a user without a
 * SCRAM entry: the session answers with a decoy and fails at the proof. */
static VsmtpScramCredentials *
on_lookup_scram_credentials (VsmtpSession *session,
                             const char   *mechanism,
                             const char   *authcid,
                             gpointer      user_data)
{
  VsmtpdPasswdPlugin *self = user_data;
  VsmtpScramCredentials *credentials;

  passwd_reload (self);
  if (self->scram == NULL)
    return NULL;
  credentials = g_hash_table_lookup (self->scram, authcid);
  if (credentials != NULL)
    return vsmtp_scram_credentials_ref (credentials);
  if (g_hash_table_contains (self->users, authcid))
    {
      g_autofree char *user = vsmtp_log_escape (authcid, -1);

      g_info ("%s: passwd: user %s has a crypt(3) hash, no SCRAM-SHA-256 entry: %s "
              "will fail (PLAIN and LOGIN work; vsmtpd-passwd --scheme scram-sha-256 "
              "writes one)", vsmtp_session_get_id (session), user, mechanism);
    }
  return NULL;
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  VsmtpdPasswdPlugin *self = user_data;

  g_signal_connect_object (session, "authenticate",
                           G_CALLBACK (on_authenticate), user_data, 0);
  g_signal_connect_object (session, "lookup-scram-credentials",
                           G_CALLBACK (on_lookup_scram_credentials), user_data, 0);
  if (self->sender_check != SENDER_CHECK_OFF)
    g_signal_connect_object (session, "mail-from",
                             G_CALLBACK (on_mail_from), user_data, 0);
}

static void
vsmtpd_passwd_plugin_declare_config (VsmtpPlugin      *plugin,
                                     VsmtpConfigGroup *group)
{
  vsmtp_config_group_add_path (group, "file", NULL,
                               "The users of SMTP AUTH: user:hash lines");
  /* default computed: PLAIN;LOGIN, SCRAM first when the file has SCRAM entries */
  vsmtp_config_group_add_string_list (group, "mechanisms", NULL,
                                      "The SASL mechanisms offered with AUTH (default: "
                                      "SCRAM-SHA-256-PLUS;SCRAM-SHA-256;PLAIN;LOGIN when "
                                      "the file has SCRAM entries, else PLAIN;LOGIN)");
  vsmtp_config_group_add_string (group, "sender-check", "submission",
                                 "Where an authenticated user may only use their own "
                                 "senders: submission, always or off");
  vsmtp_config_group_add_path (group, "sender-login-map", NULL,
                               "Who owns which sender: address or @domain, then logins");
}

static gboolean
vsmtpd_passwd_plugin_configure (VsmtpPlugin       *plugin,
                                VsmtpConfigGroup  *group,
                                GError           **error)
{
  VsmtpdPasswdPlugin *self = VSMTPD_PASSWD_PLUGIN (plugin);
  g_autofree char *sender_check = vsmtp_config_group_dup_string (group, "sender-check");

  g_free (self->passwd.path);
  self->passwd.path = vsmtp_config_group_dup_string (group, "file");
  g_free (self->sender_map.path);
  self->sender_map.path = vsmtp_config_group_dup_string (group, "sender-login-map");
  g_strfreev (self->mechanisms);
  self->mechanisms = vsmtp_config_group_dup_string_list (group, "mechanisms");
  self->mechanisms_configured = vsmtp_config_group_is_set (group, "mechanisms");

  if (g_str_equal (sender_check, "submission"))
    self->sender_check = SENDER_CHECK_SUBMISSION;
  else if (g_str_equal (sender_check, "always"))
    self->sender_check = SENDER_CHECK_ALWAYS;
  else if (g_str_equal (sender_check, "off"))
    self->sender_check = SENDER_CHECK_OFF;
  else
    {
      /* the stricter reading of a value that is not understood */
      g_warning ("passwd: [passwd] sender-check: \"%s\" is none of submission, always, off; "
                 "checking every authenticated session", sender_check);
      self->sender_check = SENDER_CHECK_ALWAYS;
    }
  return TRUE;
}

static void
vsmtpd_passwd_plugin_activate (VsmtpPlugin *plugin)
{
  VsmtpdPasswdPlugin *self = VSMTPD_PASSWD_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));
  g_auto(GStrv) mechanisms = g_steal_pointer (&self->mechanisms);

  if (self->mechanisms_configured && mechanisms != NULL)
    vsmtp_server_set_auth_mechanisms (server, (const char * const *) mechanisms);
  else
    self->mechanisms_configured = FALSE;

  if (self->passwd.path == NULL)
    g_warning ("passwd: no [passwd] file configured: every AUTH will fail");
  else
    passwd_reload (self);
  /* with no file read: PLAIN and LOGIN, as before */
  set_default_mechanisms (self);

  if (self->sender_map.path != NULL)
    sender_map_reload (self);

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
  g_clear_pointer (&self->scram, g_hash_table_unref);
  g_clear_pointer (&self->dummy_hash, g_free);
  g_clear_pointer (&self->passwd.path, g_free);
  g_clear_pointer (&self->sender_owners, g_hash_table_unref);
  g_clear_pointer (&self->sender_map.path, g_free);
  g_clear_pointer (&self->mechanisms, g_strfreev);

  G_OBJECT_CLASS (vsmtpd_passwd_plugin_parent_class)->dispose (object);
}

static void
vsmtpd_passwd_plugin_class_init (VsmtpdPasswdPluginClass *klass)
{
  VsmtpPluginClass *plugin_class = VSMTP_PLUGIN_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vsmtpd_passwd_plugin_dispose;

  plugin_class->declare_config = vsmtpd_passwd_plugin_declare_config;
  plugin_class->configure = vsmtpd_passwd_plugin_configure;
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

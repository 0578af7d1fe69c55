/* vsmtpd-recipients-plugin.c: the domains and mailboxes vsmtpd accepts mail for
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-recipients"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <libpeas/peas.h>
#include <vsmtp.h>

/* Decides RCPT TO from a table of accepted domains and local recipients:
 *
 *   [recipients]
 *   domains=example.org;example.net
 *   users=alice@example.org;bob@example.org
 *   file=/etc/vsmtpd/recipients
 *   delimiter=+
 *
 * The file holds one entry per line: `user@domain`, `@domain` (or a bare
 * `domain`); blank lines and lines starting with '#' are ignored. Entries
 * of the keyfile and of the file add up.
 *
 * - a domain that is not accepted: 554 5.7.1 (relay denied), unless the
 *   client authenticated and relay-authenticated is true (the default);
 * - a domain with users listed accepts only those: others get 550 5.1.1,
 *   authenticated or not;
 * - a domain with no user listed accepts every local part;
 * - `postmaster` (bare, or at an accepted domain) is always accepted, as
 *   RFC 5321 §4.5.1 requires.
 *
 * Domains are compared in their A-label form (vsmtp_domain_to_ascii()):
 * an entry `bücher.example` accepts `xn--bcher-kva.example` and the other
 * way round, whichever form the client sends (the U-label only in an
 * SMTPUTF8 transaction). An entry that is not a valid internationalized
 * domain name is skipped with a warning.
 *
 * Domains and local parts are compared case-insensitively; with a
 * delimiter, `alice+tag@example.org` is looked up as itself, then as
 * `alice@example.org`. An accepted recipient gets no reply from this
 * plugin (NULL: no opinion), so the plugins after it still decide.
 *
 * The file is checked (stat) at every RCPT and read again when its inode,
 * size, modification or change time differ: an edit is seen by the next
 * RCPT. If it cannot be read, the last contents read stay in force; if it
 * was never read, recipients get 451 4.3.0 until it can be.
 */

#define VSMTPD_TYPE_RECIPIENTS_PLUGIN (vsmtpd_recipients_plugin_get_type ())
G_DECLARE_FINAL_TYPE (VsmtpdRecipientsPlugin, vsmtpd_recipients_plugin,
                      VSMTPD, RECIPIENTS_PLUGIN, VsmtpPlugin)

typedef struct
{
  GHashTable *domains;   /* domain → GINT_TO_POINTER (number of users listed) */
  GHashTable *users;     /* "local@domain", lower case */
} Table;

typedef struct
{
  gboolean exists;
  dev_t    dev;
  ino_t    ino;
  off_t    size;
  gint64   mtime_ns;
  gint64   ctime_ns;
} FileStamp;

struct _VsmtpdRecipientsPlugin
{
  VsmtpPlugin      parent_instance;

  gulong       new_session_id;

  char        *delimiter;
  gboolean     relay_authenticated;
  Table       *config_table;
  char        *file;
  Table       *file_table;   /* NULL until the file was read once */
  FileStamp    file_stamp;
  char        *file_problem; /* the last problem logged, to log it once */
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (VsmtpdRecipientsPlugin, vsmtpd_recipients_plugin, VSMTP_TYPE_PLUGIN,
                                G_TYPE_FLAG_FINAL, {})

/* ------------------------------------------------------------------------ */
/* The table                                                                */

static Table *
table_new (void)
{
  Table *table = g_new0 (Table, 1);

  table->domains = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  table->users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return table;
}

static void
table_free (Table *table)
{
  if (table == NULL)
    return;

  g_hash_table_unref (table->domains);
  g_hash_table_unref (table->users);
  g_free (table);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Table, table_free)

/* Lower case, without the trailing dot of an absolute domain name, in its
 * A-label form; NULL for an invalid internationalized domain name */
static char *
normalize_domain (const char *domain,
                  gssize      length)
{
  g_autofree char *normalized = NULL;
  gsize len;

  normalized = g_utf8_strdown (domain, length);
  len = strlen (normalized);
  if (len > 1 && normalized[len - 1] == '.')
    normalized[len - 1] = '\0';

  return vsmtp_domain_to_ascii (normalized, NULL);
}

static gboolean
table_add_domain (Table      *table,
                  const char *domain,
                  gssize      length)
{
  char *key = normalize_domain (domain, length);

  if (key == NULL)
    return FALSE;
  if (!g_hash_table_contains (table->domains, key))
    g_hash_table_insert (table->domains, key, GINT_TO_POINTER (0));
  else
    g_free (key);
  return TRUE;
}

/* @entry: `user@domain`, `@domain` or `domain`, trimmed. Returns FALSE
 * (and @problem) for an entry that is none of these. */
static gboolean
table_add_entry (Table       *table,
                 const char  *entry,
                 const char **problem)
{
  const char *at = strrchr (entry, '@');
  g_autofree char *domain = NULL;
  g_autofree char *local = NULL;
  gpointer n_users;

  if (!g_utf8_validate (entry, -1, NULL))
    {
      *problem = "not valid UTF-8";
      return FALSE;
    }
  if (strpbrk (entry, " \t<>") != NULL)
    {
      *problem = "spaces and angle brackets are not allowed";
      return FALSE;
    }

  if (at != NULL && at[1] == '\0')
    {
      *problem = "no domain after '@'";
      return FALSE;
    }
  if (at == NULL || at == entry)
    {
      if (table_add_domain (table, at == NULL ? entry : at + 1, -1))
        return TRUE;
      *problem = "not a valid internationalized domain name";
      return FALSE;
    }

  domain = normalize_domain (at + 1, -1);
  if (domain == NULL)
    {
      *problem = "not a valid internationalized domain name";
      return FALSE;
    }
  local = g_utf8_strdown (entry, at - entry);

  n_users = g_hash_table_lookup (table->domains, domain);
  g_hash_table_insert (table->domains, g_strdup (domain),
                       GINT_TO_POINTER (GPOINTER_TO_INT (n_users) + 1));
  g_hash_table_add (table->users, g_strconcat (local, "@", domain, NULL));
  return TRUE;
}

static Table *
table_parse_file (const char  *path,
                  const char  *contents,
                  gsize        length)
{
  g_autoptr(Table) table = table_new ();
  g_auto(GStrv) lines = NULL;
  g_autofree char *text = g_strndup (contents, length);

  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *entry = g_strstrip (lines[i]);
      const char *problem = NULL;

      if (entry[0] == '\0' || entry[0] == '#')
        continue;

      if (!table_add_entry (table, entry, &problem))
        g_warning ("recipients: %s:%u: \"%s\" skipped: %s", path, i + 1, entry, problem);
    }

  return g_steal_pointer (&table);
}

/* ------------------------------------------------------------------------ */
/* The file                                                                 */

static void
file_stamp_get (const char *path,
                FileStamp  *stamp,
                int        *saved_errno)
{
  GStatBuf st;

  memset (stamp, 0, sizeof *stamp);
  *saved_errno = 0;
  if (g_stat (path, &st) != 0)
    {
      *saved_errno = errno;
      return;
    }

  stamp->exists = TRUE;
  stamp->dev = st.st_dev;
  stamp->ino = st.st_ino;
  stamp->size = st.st_size;
  stamp->mtime_ns = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st.st_mtim.tv_nsec;
  stamp->ctime_ns = (gint64) st.st_ctim.tv_sec * G_GINT64_CONSTANT (1000000000) + st.st_ctim.tv_nsec;
}

static gboolean
file_stamp_equal (const FileStamp *a,
                  const FileStamp *b)
{
  return a->exists == b->exists &&
         a->dev == b->dev &&
         a->ino == b->ino &&
         a->size == b->size &&
         a->mtime_ns == b->mtime_ns &&
         a->ctime_ns == b->ctime_ns;
}

static void
report_file_problem (VsmtpdRecipientsPlugin *self,
                     const char             *problem)
{
  if (g_strcmp0 (problem, self->file_problem) == 0)
    return;

  g_free (self->file_problem);
  self->file_problem = g_strdup (problem);
  if (self->file_table != NULL)
    g_warning ("recipients: %s; the contents read before stay in force", problem);
  else
    g_warning ("recipients: %s; recipients get 451 4.3.0 until it can be read", problem);
}

/* Reads the file again if it changed since the last look. */
static void
refresh_file (VsmtpdRecipientsPlugin *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  FileStamp stamp;
  int saved_errno;

  if (self->file == NULL)
    return;

  file_stamp_get (self->file, &stamp, &saved_errno);
  if (self->file_table != NULL && file_stamp_equal (&stamp, &self->file_stamp))
    return;

  if (!stamp.exists)
    {
      g_autofree char *problem = g_strdup_printf ("cannot read %s: %s",
                                                  self->file, g_strerror (saved_errno));

      self->file_stamp = stamp;
      report_file_problem (self, problem);
      return;
    }

  if (!g_file_get_contents (self->file, &contents, &length, &error))
    {
      self->file_stamp = stamp;
      report_file_problem (self, error->message);
      return;
    }

  table_free (self->file_table);
  self->file_table = table_parse_file (self->file, contents, length);
  self->file_stamp = stamp;
  g_clear_pointer (&self->file_problem, g_free);

  g_info ("recipients: read %s: %u domain(s), %u user(s)", self->file,
          g_hash_table_size (self->file_table->domains),
          g_hash_table_size (self->file_table->users));
}

/* ------------------------------------------------------------------------ */
/* Decisions                                                                */

static gboolean
lookup_domain (VsmtpdRecipientsPlugin *self,
               const char             *domain,
               gboolean               *has_users)
{
  Table *tables[] = { self->config_table, self->file_table };
  gboolean accepted = FALSE;

  *has_users = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      gpointer n_users;

      if (tables[i] == NULL ||
          !g_hash_table_lookup_extended (tables[i]->domains, domain, NULL, &n_users))
        continue;

      accepted = TRUE;
      if (GPOINTER_TO_INT (n_users) > 0)
        *has_users = TRUE;
    }

  return accepted;
}

static gboolean
lookup_user (VsmtpdRecipientsPlugin *self,
             const char             *local,
             gssize                  local_length,
             const char             *domain)
{
  g_autofree char *lower = g_utf8_strdown (local, local_length);
  g_autofree char *key = g_strconcat (lower, "@", domain, NULL);

  return (self->config_table != NULL && g_hash_table_contains (self->config_table->users, key)) ||
         (self->file_table != NULL && g_hash_table_contains (self->file_table->users, key));
}

static VsmtpReply *
on_rcpt_to (VsmtpSession *session,
            VsmtpAddress *recipient,
            VsmtpParameters *parameters,
            gpointer      user_data)
{
  VsmtpdRecipientsPlugin *self = user_data;
  const char *local = vsmtp_address_get_local_part (recipient);
  const char *given_domain = vsmtp_address_get_domain_ascii (recipient);
  g_autofree char *domain = NULL;
  g_autofree char *logged = NULL;
  gboolean has_users;
  gboolean may_relay;

  /* RFC 5321 §4.5.1: <postmaster> needs no domain and is always accepted */
  if (vsmtp_address_is_postmaster (recipient))
    return vsmtp_reply_new_continue ();

  /* an authenticated user (submission) may send to other domains; the
   * local recipient check below still applies to them, as to everyone */
  may_relay = self->relay_authenticated &&
              vsmtp_session_get_authenticated_user (session) != NULL;

  refresh_file (self);
  if (self->file != NULL && self->file_table == NULL)
    return vsmtp_reply_new_temporary_failure ("Recipient table unavailable, try again later");

  if (given_domain == NULL || local == NULL)
    return may_relay ? vsmtp_reply_new_continue () : vsmtp_reply_new_relay_denied ();

  domain = normalize_domain (given_domain, -1);
  if (domain == NULL || !lookup_domain (self, domain, &has_users))
    {
      if (may_relay)
        return vsmtp_reply_new_continue ();
      logged = vsmtp_log_escape (vsmtp_address_to_string (recipient), -1);
      g_info ("%s: recipients: <%s> refused: domain not accepted",
              vsmtp_session_get_id (session), logged);
      return vsmtp_reply_new_relay_denied ();
    }

  if (!has_users || g_ascii_strcasecmp (local, "postmaster") == 0)
    return vsmtp_reply_new_continue ();

  if (lookup_user (self, local, -1, domain))
    return vsmtp_reply_new_continue ();

  if (self->delimiter != NULL)
    {
      const char *cut = strpbrk (local, self->delimiter);

      if (cut != NULL && cut != local && lookup_user (self, local, cut - local, domain))
        return vsmtp_reply_new_continue ();
    }

  logged = vsmtp_log_escape (vsmtp_address_to_string (recipient), -1);
  g_info ("%s: recipients: <%s> refused: no such user",
          vsmtp_session_get_id (session), logged);
  return vsmtp_reply_new_no_such_user ();
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  VsmtpdRecipientsPlugin *self = user_data;

  g_signal_connect_object (session, "rcpt-to", G_CALLBACK (on_rcpt_to), self, 0);
}

/* ------------------------------------------------------------------------ */
/* VsmtpActivatable                                                         */

static void
read_config_list (Table            *table,
                  VsmtpConfigGroup *group,
                  const char       *key)
{
  g_auto(GStrv) entries = NULL;

  entries = vsmtp_config_group_dup_string_list (group, key);
  for (guint i = 0; entries != NULL && entries[i] != NULL; i++)
    {
      char *entry = g_strstrip (entries[i]);
      const char *problem = NULL;

      if (entry[0] == '\0')
        continue;

      if (g_str_equal (key, "domains") && strchr (entry, '@') != NULL)
        problem = "a domain has no '@' (list addresses in users)";
      else if (g_str_equal (key, "users") && strchr (entry, '@') == NULL)
        problem = "a user is an address, user@domain";

      if (problem != NULL || !table_add_entry (table, entry, &problem))
        g_warning ("recipients: [recipients] %s: \"%s\" skipped: %s", key, entry, problem);
    }
}

static void
vsmtpd_recipients_plugin_declare_config (VsmtpPlugin      *plugin,
                                         VsmtpConfigGroup *group)
{
  vsmtp_config_group_add_string_list (group, "domains", NULL,
                                      "Accepted domains (no @)");
  vsmtp_config_group_add_string_list (group, "users", NULL,
                                      "Accepted mailboxes, user@domain");
  vsmtp_config_group_add_path (group, "file", NULL,
                               "A table file of user@domain, @domain or domain lines");
  vsmtp_config_group_add_string (group, "delimiter", NULL,
                                 "Characters that start an address extension (+)");
  vsmtp_config_group_add_boolean (group, "relay-authenticated", TRUE,
                                  "Whether an authenticated client may send to any domain");
}

static gboolean
vsmtpd_recipients_plugin_configure (VsmtpPlugin       *plugin,
                                    VsmtpConfigGroup  *group,
                                    GError           **error)
{
  VsmtpdRecipientsPlugin *self = VSMTPD_RECIPIENTS_PLUGIN (plugin);
  g_autofree char *file = vsmtp_config_group_dup_string (group, "file");
  g_autofree char *delimiter = vsmtp_config_group_dup_string (group, "delimiter");

  g_clear_pointer (&self->config_table, table_free);
  self->config_table = table_new ();
  read_config_list (self->config_table, group, "domains");
  read_config_list (self->config_table, group, "users");
  self->relay_authenticated = vsmtp_config_group_get_boolean (group, "relay-authenticated");

  g_clear_pointer (&self->file, g_free);
  if (file != NULL)
    self->file = g_canonicalize_filename (file, NULL);

  g_clear_pointer (&self->delimiter, g_free);
  if (delimiter != NULL && delimiter[0] != '\0')
    self->delimiter = g_steal_pointer (&delimiter);

  return TRUE;
}

static void
vsmtpd_recipients_plugin_activate (VsmtpPlugin *plugin)
{
  VsmtpdRecipientsPlugin *self = VSMTPD_RECIPIENTS_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  g_return_if_fail (VSMTP_IS_SERVER (server));

  /* not configured (a host program that only activates it): nothing accepted */
  if (self->config_table == NULL)
    self->config_table = table_new ();

  refresh_file (self);

  if (self->file == NULL && g_hash_table_size (self->config_table->domains) == 0)
    g_warning ("recipients: no [recipients] domains, users nor file: "
               "every recipient will be refused with 554 5.7.1");
  else
    g_info ("recipients: %u domain(s) and %u user(s) in the configuration%s%s",
            g_hash_table_size (self->config_table->domains),
            g_hash_table_size (self->config_table->users),
            self->file != NULL ? ", and the file " : "",
            self->file != NULL ? self->file : "");

  self->new_session_id = g_signal_connect_object (server, "new-session",
                                                  G_CALLBACK (on_new_session), self, 0);
}

static void
vsmtpd_recipients_plugin_deactivate (VsmtpPlugin *plugin)
{
  VsmtpdRecipientsPlugin *self = VSMTPD_RECIPIENTS_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
vsmtpd_recipients_plugin_dispose (GObject *object)
{
  VsmtpdRecipientsPlugin *self = VSMTPD_RECIPIENTS_PLUGIN (object);
  VsmtpServer *server = vsmtp_plugin_get_server (VSMTP_PLUGIN (self));

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);

  G_OBJECT_CLASS (vsmtpd_recipients_plugin_parent_class)->dispose (object);
}

static void
vsmtpd_recipients_plugin_finalize (GObject *object)
{
  VsmtpdRecipientsPlugin *self = VSMTPD_RECIPIENTS_PLUGIN (object);

  g_free (self->delimiter);
  g_free (self->file);
  g_free (self->file_problem);
  table_free (self->config_table);
  table_free (self->file_table);

  G_OBJECT_CLASS (vsmtpd_recipients_plugin_parent_class)->finalize (object);
}

static void
vsmtpd_recipients_plugin_class_init (VsmtpdRecipientsPluginClass *klass)
{
  VsmtpPluginClass *plugin_class = VSMTP_PLUGIN_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vsmtpd_recipients_plugin_dispose;
  object_class->finalize = vsmtpd_recipients_plugin_finalize;

  plugin_class->declare_config = vsmtpd_recipients_plugin_declare_config;
  plugin_class->configure = vsmtpd_recipients_plugin_configure;
  plugin_class->activate = vsmtpd_recipients_plugin_activate;
  plugin_class->deactivate = vsmtpd_recipients_plugin_deactivate;
}

static void
vsmtpd_recipients_plugin_class_finalize (VsmtpdRecipientsPluginClass *klass)
{
}

static void
vsmtpd_recipients_plugin_init (VsmtpdRecipientsPlugin *self)
{
  self->relay_authenticated = TRUE;
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  vsmtpd_recipients_plugin_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module,
                                              VSMTP_TYPE_ACTIVATABLE,
                                              VSMTPD_TYPE_RECIPIENTS_PLUGIN);
}

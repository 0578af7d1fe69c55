/* vsmtpd-maildir-map.c: where each recipient's maildir is
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-maildir"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "vsmtpd-maildir-map.h"

gboolean
maildir_template_check (const char  *template,
                        gboolean    *per_recipient,
                        GError     **error)
{
  *per_recipient = FALSE;
  for (const char *p = strchr (template, '%'); p != NULL; p = strchr (p + 2, '%'))
    {
      if (p[1] == 'u' || p[1] == 'd' || p[1] == 'a')
        *per_recipient = TRUE;
      else if (p[1] != '%')
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "unknown escape \"%%%.1s\" (only %%u, %%d, %%a and %%%%)", p + 1);
          return FALSE;
        }
    }
  return TRUE;
}

/* A value that may become (part of) a folder name: not empty, no '/', no
 * leading '.' (".", "..", hidden folders), no control character. */
static gboolean
safe_component (const char *value)
{
  if (value == NULL || value[0] == '\0' || value[0] == '.')
    return FALSE;
  for (const char *p = value; *p != '\0'; p++)
    if (*p == '/' || (guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return TRUE;
}

char *
maildir_address_key (VsmtpAddress *recipient)
{
  const char *domain = vsmtp_address_get_domain (recipient);
  g_autofree char *address = NULL;

  address = domain != NULL ? g_strconcat (vsmtp_address_get_local_part (recipient), "@", domain, NULL)
                           : g_strdup (vsmtp_address_get_local_part (recipient));
  return g_ascii_strdown (address, -1);
}

char *
maildir_template_expand (const char   *template,
                         VsmtpAddress *recipient)
{
  const char *local = vsmtp_address_get_local_part (recipient);
  const char *domain = vsmtp_address_get_domain (recipient);
  g_autofree char *lower_domain = domain != NULL ? g_ascii_strdown (domain, -1) : NULL;
  g_autoptr(GString) path = g_string_sized_new (strlen (template) + 64);

  for (const char *p = template; *p != '\0'; p++)
    {
      const char *value = NULL;
      g_autofree char *whole = NULL;

      if (*p != '%')
        {
          g_string_append_c (path, *p);
          continue;
        }
      switch (*++p)
        {
        case 'u':
          value = local;
          break;
        case 'd':
          value = lower_domain;
          break;
        case 'a':
          if (local != NULL && lower_domain != NULL)
            value = whole = g_strconcat (local, "@", lower_domain, NULL);
          break;
        case '%':
          g_string_append_c (path, '%');
          continue;
        default:   /* refused by maildir_template_check() */
          return NULL;
        }
      if (!safe_component (value))
        return NULL;
      g_string_append (path, value);
    }
  return g_string_free (g_steal_pointer (&path), FALSE);
}

struct _MaildirMap
{
  char       *file;
  GHashTable *paths;     /* key (maildir_address_key) -> path template */
  struct stat st;        /* of the file read */
};

static GHashTable *
map_parse (const char  *file,
           const char  *contents,
           GError     **error)
{
  g_autoptr(GHashTable) paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit (contents, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      char *space;
      char *path;
      gboolean per_recipient;
      g_autoptr(GError) local_error = NULL;

      if (line[0] == '\0' || line[0] == '#')
        continue;
      space = strpbrk (line, " \t");
      if (space == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: expected \"address path\"", file, i + 1);
          return NULL;
        }
      *space = '\0';
      path = g_strchug (space + 1);
      if (!g_path_is_absolute (path) ||
          !maildir_template_check (path, &per_recipient, &local_error))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: %s: %s", file, i + 1, path,
                       local_error ? local_error->message : "not an absolute path");
          return NULL;
        }
      g_hash_table_replace (paths, g_ascii_strdown (line, -1), g_strdup (path));
    }
  return g_steal_pointer (&paths);
}

static gboolean
map_read (MaildirMap  *map,
          GError     **error)
{
  g_autofree char *contents = NULL;
  GHashTable *paths;
  struct stat st;

  /* the stat first: a change made while reading is seen next time */
  if (stat (map->file, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: %s", map->file, g_strerror (saved_errno));
      return FALSE;
    }
  if (!g_file_get_contents (map->file, &contents, NULL, error))
    return FALSE;
  paths = map_parse (map->file, contents, error);
  if (paths == NULL)
    return FALSE;
  g_clear_pointer (&map->paths, g_hash_table_unref);
  map->paths = paths;
  map->st = st;
  return TRUE;
}

MaildirMap *
maildir_map_new (const char  *file,
                 GError     **error)
{
  g_autoptr(MaildirMap) map = g_new0 (MaildirMap, 1);

  map->file = g_strdup (file);
  if (!map_read (map, error))
    return NULL;
  return g_steal_pointer (&map);
}

void
maildir_map_free (MaildirMap *map)
{
  if (map == NULL)
    return;
  g_free (map->file);
  g_clear_pointer (&map->paths, g_hash_table_unref);
  g_free (map);
}

void
maildir_map_refresh (MaildirMap *map)
{
  g_autoptr(GError) error = NULL;
  struct stat st;

  if (stat (map->file, &st) == 0 &&
      st.st_ino == map->st.st_ino && st.st_dev == map->st.st_dev &&
      st.st_size == map->st.st_size &&
      st.st_mtim.tv_sec == map->st.st_mtim.tv_sec &&
      st.st_mtim.tv_nsec == map->st.st_mtim.tv_nsec &&
      st.st_ctim.tv_sec == map->st.st_ctim.tv_sec &&
      st.st_ctim.tv_nsec == map->st.st_ctim.tv_nsec)
    return;

  if (map_read (map, &error))
    g_info ("maildir: %s read again: %u addresses", map->file,
            g_hash_table_size (map->paths));
  else
    {
      g_warning ("maildir: %s; keeping the %u addresses read before", error->message,
                 g_hash_table_size (map->paths));
      /* warn once per change of the file, not once per message */
      if (stat (map->file, &st) == 0)
        map->st = st;
    }
}

char *
maildir_map_lookup (MaildirMap   *map,
                    VsmtpAddress *recipient)
{
  g_autofree char *key = maildir_address_key (recipient);
  const char *template = g_hash_table_lookup (map->paths, key);

  if (template == NULL)
    return NULL;
  return maildir_template_expand (template, recipient);
}

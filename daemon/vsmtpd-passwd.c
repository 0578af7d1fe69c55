/* vsmtpd-passwd.c: add, replace or delete a user of the passwd plugin's file
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vsmtpd-passwd FILE USER            set USER's password (yescrypt)
 *   vsmtpd-passwd --scheme scram-sha-256 [--iterations N] FILE USER
 *                                      as SCRAM-SHA-256 credentials (RFC 5803)
 *   vsmtpd-passwd --delete FILE USER   remove USER
 *
 * The password is read from standard input: prompted for twice, without
 * echo, on a terminal; otherwise the first line. The file is rewritten
 * through a temporary file and rename(), so that the running vsmtpd never
 * reads half of it (the plugin sees the change at the next AUTH).
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <vsmtp.h>

#define PASSWORD_MAX 1024

static gboolean
is_valid_user (const char *user)
{
  if (user[0] == '\0' || user[0] == '#')
    return FALSE;

  for (const char *p = user; *p != '\0'; p++)
    {
      if (*p == ':' || g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
        return FALSE;
    }

  return g_utf8_validate (user, -1, NULL);
}

static void
wipe (char *text)
{
  if (text != NULL)
    explicit_bzero (text, strlen (text));
}

/* One line from @stream into @buffer, without its line end; FALSE at EOF or
 * when it does not fit. */
static gboolean
read_line (FILE  *stream,
           char  *buffer,
           gsize  size)
{
  gsize length;

  if (fgets (buffer, size, stream) == NULL)
    return FALSE;

  length = strlen (buffer);
  if (length > 0 && buffer[length - 1] != '\n' && !feof (stream))
    return FALSE;

  while (length > 0 && (buffer[length - 1] == '\n' || buffer[length - 1] == '\r'))
    buffer[--length] = '\0';

  return TRUE;
}

static gboolean
prompt (FILE       *tty,
        const char *text,
        char       *buffer,
        gsize       size)
{
  struct termios saved, quiet;
  gboolean ok;

  fputs (text, tty);
  fflush (tty);

  if (tcgetattr (fileno (tty), &saved) != 0)
    return FALSE;
  quiet = saved;
  quiet.c_lflag &= ~(ECHO | ECHONL);
  quiet.c_lflag |= ICANON;
  if (tcsetattr (fileno (tty), TCSAFLUSH, &quiet) != 0)
    return FALSE;

  ok = read_line (tty, buffer, size);

  tcsetattr (fileno (tty), TCSAFLUSH, &saved);
  fputc ('\n', tty);
  fflush (tty);
  return ok;
}

static char *
read_password (GError **error)
{
  char first[PASSWORD_MAX + 2];
  char second[PASSWORD_MAX + 2];
  char *result = NULL;

  if (isatty (STDIN_FILENO))
    {
      FILE *tty = fopen ("/dev/tty", "r+e");

      if (tty == NULL)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "cannot open the terminal: %s", g_strerror (errno));
          return NULL;
        }

      if (!prompt (tty, "Password: ", first, sizeof first) ||
          !prompt (tty, "Password again: ", second, sizeof second))
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "no password read");
      else if (strcmp (first, second) != 0)
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "the passwords differ");
      else
        result = g_strdup (first);

      fclose (tty);
    }
  else if (!read_line (stdin, first, sizeof first))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "no password on standard input (one line, at most %d bytes)",
                   PASSWORD_MAX);
    }
  else
    {
      result = g_strdup (first);
    }

  explicit_bzero (first, sizeof first);
  explicit_bzero (second, sizeof second);

  if (result != NULL && result[0] == '\0')
    {
      g_free (result);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "the password is empty");
      return NULL;
    }

  return result;
}

static char *
hash_password (const char  *password,
               GError     **error)
{
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  struct crypt_data *data;
  char *hash = NULL;
  const char *result;

  /* count 0: libcrypt's default cost; rbytes NULL: from the kernel */
  if (crypt_gensalt_rn ("$y$", 0, NULL, 0, setting, sizeof setting) == NULL)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot make a yescrypt salt: %s", g_strerror (errno));
      return NULL;
    }

  data = g_new0 (struct crypt_data, 1);
  result = crypt_r (password, setting, data);
  if (result == NULL || result[0] == '*')
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot hash the password");
  else
    hash = g_strdup (result);

  explicit_bzero (data, sizeof *data);
  g_free (data);
  return hash;
}

/* SCRAM-SHA-256 credentials (16 random bytes of salt), RFC 5803's form:
 * what SCRAM needs, and PLAIN/LOGIN are checked against too. */
static char *
scram_password (const char  *password,
                guint        iterations,
                GError     **error)
{
  g_autoptr(VsmtpScramCredentials) credentials =
    vsmtp_scram_credentials_new_from_password (password, iterations, NULL, error);

  return credentials != NULL ? vsmtp_scram_credentials_to_string (credentials) : NULL;
}

/* The lines of @path but @user's, then "@user:@hash" (none if @hash is
 * NULL), written atomically with the mode of the old file (0600 for a new
 * one). */
static gboolean
rewrite_file (const char  *path,
              const char  *user,
              const char  *hash,
              gboolean    *found,
              GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *template = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  gboolean replaced = FALSE;
  mode_t mode = 0600;
  struct stat st;
  gssize written;
  gsize length;
  int fd;

  *found = FALSE;

  if (g_stat (path, &st) == 0)
    mode = st.st_mode & 07777;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_clear_error (&local_error);
      contents = g_strdup ("");
      length = 0;
    }

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      const char *colon = strchr (line, ':');
      g_autofree char *name = NULL;

      /* the final empty piece after the last newline */
      if (lines[i + 1] == NULL && line[0] == '\0')
        break;

      if (colon != NULL)
        name = g_strstrip (g_strndup (line, colon - line));

      if (name != NULL && line[0] != '#' && g_str_equal (name, user))
        {
          *found = TRUE;
          if (hash != NULL && !replaced)
            g_string_append_printf (text, "%s:%s\n", user, hash);
          replaced = TRUE;
          continue;
        }

      g_string_append_printf (text, "%s\n", line);
    }

  if (hash != NULL && !replaced)
    g_string_append_printf (text, "%s:%s\n", user, hash);

  if (hash == NULL && !*found)
    return TRUE;

  template = g_strconcat (path, ".XXXXXX", NULL);
  fd = g_mkstemp_full (template, O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "cannot create %s: %s", template, g_strerror (saved_errno));
      return FALSE;
    }

  /* g_mkstemp_full() applies the umask */
  fchmod (fd, mode);

  for (gsize done = 0; done < text->len; done += written)
    {
      written = write (fd, text->str + done, text->len - done);
      if (written < 0 && errno == EINTR)
        {
          written = 0;
          continue;
        }
      if (written < 0)
        goto failed;
    }

  if (fsync (fd) != 0)
    goto failed;
  if (close (fd) != 0)
    {
      fd = -1;
      goto failed;
    }
  fd = -1;

  if (g_rename (template, path) != 0)
    goto failed;

  return TRUE;

failed:
  {
    int saved_errno = errno;

    if (fd >= 0)
      close (fd);
    g_unlink (template);
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                 "cannot write %s: %s", path, g_strerror (saved_errno));
    return FALSE;
  }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *scheme = NULL;
  gboolean remove_user = FALSE;
  gboolean found = FALSE;
  gboolean scram;
  int iterations = 0;
  const char *path;
  const char *user;
  const GOptionEntry entries[] = {
    { "delete", 'd', 0, G_OPTION_ARG_NONE, &remove_user,
      "Remove USER instead of setting a password", NULL },
    { "scheme", 's', 0, G_OPTION_ARG_STRING, &scheme,
      "yescrypt (the default; \"crypt\" too): PLAIN and LOGIN only; scram-sha-256: "
      "SCRAM-SHA-256(-PLUS), PLAIN and LOGIN", "SCHEME" },
    { "iterations", 'i', 0, G_OPTION_ARG_INT, &iterations,
      "With scram-sha-256: the PBKDF2 iteration count (default "
      G_STRINGIFY (VSMTP_SCRAM_DEFAULT_ITERATIONS) ", at least "
      G_STRINGIFY (VSMTP_SCRAM_MIN_ITERATIONS) ")", "N" },
    { NULL }
  };

  setlocale (LC_ALL, "");
  g_set_prgname ("vsmtpd-passwd");

  context = g_option_context_new ("FILE USER");
  g_option_context_set_summary (context,
                                "Set (or with --delete remove) a user of the vsmtpd passwd "
                                "plugin's file,\n"
                                "[passwd] file. The password is hashed with yescrypt, or "
                                "kept as SCRAM-SHA-256\n"
                                "credentials (--scheme scram-sha-256); it is read from "
                                "standard input\n"
                                "(prompted for twice, without echo, on a terminal).");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("vsmtpd-passwd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  if (argc != 3)
    {
      g_printerr ("vsmtpd-passwd: expected FILE USER (see --help)\n");
      return EXIT_FAILURE;
    }

  if (scheme == NULL || g_str_equal (scheme, "yescrypt") || g_str_equal (scheme, "crypt"))
    scram = FALSE;
  else if (g_ascii_strcasecmp (scheme, "scram-sha-256") == 0)
    scram = TRUE;
  else
    {
      g_printerr ("vsmtpd-passwd: --scheme: \"%s\" is neither yescrypt nor scram-sha-256\n",
                  scheme);
      return EXIT_FAILURE;
    }
  if (iterations != 0 && (!scram || iterations < VSMTP_SCRAM_MIN_ITERATIONS))
    {
      g_printerr ("vsmtpd-passwd: --iterations: only with --scheme scram-sha-256, "
                  "at least %d\n", VSMTP_SCRAM_MIN_ITERATIONS);
      return EXIT_FAILURE;
    }

  path = argv[1];
  user = argv[2];
  if (!is_valid_user (user))
    {
      g_printerr ("vsmtpd-passwd: \"%s\" is not a valid user name (no \":\", space or "
                  "control character, not starting with \"#\")\n", user);
      return EXIT_FAILURE;
    }

  if (!remove_user)
    {
      char *password = read_password (&error);

      if (password == NULL)
        {
          g_printerr ("vsmtpd-passwd: %s\n", error->message);
          return EXIT_FAILURE;
        }
      hash = scram ? scram_password (password, (guint) iterations, &error)
                   : hash_password (password, &error);
      wipe (password);
      g_free (password);
      if (hash == NULL)
        {
          g_printerr ("vsmtpd-passwd: %s\n", error->message);
          return EXIT_FAILURE;
        }
    }

  if (!rewrite_file (path, user, hash, &found, &error))
    {
      g_printerr ("vsmtpd-passwd: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (remove_user && !found)
    {
      g_printerr ("vsmtpd-passwd: %s: no user \"%s\"\n", path, user);
      return EXIT_FAILURE;
    }

  return EXIT_SUCCESS;
}

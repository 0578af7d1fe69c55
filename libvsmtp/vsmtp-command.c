/* vsmtp-command.c: SMTP command line parsing
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-command-private.h"
#include "vsmtp-error.h"

/* Case-insensitive compare of @word (length already checked) against the
 * upper-case @verb. */
static inline gboolean
word_is (const char *word,
         const char *verb,
         gsize       length)
{
  gsize i;

  for (i = 0; i < length; i++)
    if (g_ascii_toupper (word[i]) != verb[i])
      return FALSE;

  return TRUE;
}

VsmtpVerb
_vsmtp_command_parse_verb (const char  *line,
                           const char **args)
{
  const char *p = line;
  VsmtpVerb verb = VSMTP_VERB_UNKNOWN;
  gsize length;

  g_return_val_if_fail (line != NULL, VSMTP_VERB_UNKNOWN);

  while (*p != '\0' && *p != ' ')
    p++;
  length = p - line;

  if (length == 4)
    {
      switch (g_ascii_toupper (line[0]))
        {
        case 'A':
          if (word_is (line, "AUTH", 4))
            verb = VSMTP_VERB_AUTH;
          break;
        case 'B':
          if (word_is (line, "BDAT", 4))
            verb = VSMTP_VERB_BDAT;
          break;
        case 'D':
          if (word_is (line, "DATA", 4))
            verb = VSMTP_VERB_DATA;
          break;
        case 'E':
          if (word_is (line, "EHLO", 4))
            verb = VSMTP_VERB_EHLO;
          else if (word_is (line, "EXPN", 4))
            verb = VSMTP_VERB_EXPN;
          break;
        case 'H':
          if (word_is (line, "HELO", 4))
            verb = VSMTP_VERB_HELO;
          else if (word_is (line, "HELP", 4))
            verb = VSMTP_VERB_HELP;
          break;
        case 'L':
          if (word_is (line, "LHLO", 4))
            verb = VSMTP_VERB_LHLO;
          break;
        case 'M':
          if (word_is (line, "MAIL", 4))
            verb = VSMTP_VERB_MAIL;
          break;
        case 'N':
          if (word_is (line, "NOOP", 4))
            verb = VSMTP_VERB_NOOP;
          break;
        case 'Q':
          if (word_is (line, "QUIT", 4))
            verb = VSMTP_VERB_QUIT;
          break;
        case 'R':
          if (word_is (line, "RCPT", 4))
            verb = VSMTP_VERB_RCPT;
          else if (word_is (line, "RSET", 4))
            verb = VSMTP_VERB_RSET;
          break;
        case 'V':
          if (word_is (line, "VRFY", 4))
            verb = VSMTP_VERB_VRFY;
          break;
        default:
          break;
        }
    }
  else if (length == 8 && word_is (line, "STARTTLS", 8))
    verb = VSMTP_VERB_STARTTLS;
  else if (length == 7 && word_is (line, "XCLIENT", 7))
    verb = VSMTP_VERB_XCLIENT;

  while (*p == ' ')
    p++;

  if (args != NULL)
    *args = p;

  return verb;
}

const char *
_vsmtp_verb_to_string (VsmtpVerb verb)
{
  switch (verb)
    {
    case VSMTP_VERB_UNKNOWN:  return "UNKNOWN";
    case VSMTP_VERB_HELO:     return "HELO";
    case VSMTP_VERB_EHLO:     return "EHLO";
    case VSMTP_VERB_LHLO:     return "LHLO";
    case VSMTP_VERB_MAIL:     return "MAIL";
    case VSMTP_VERB_RCPT:     return "RCPT";
    case VSMTP_VERB_DATA:     return "DATA";
    case VSMTP_VERB_BDAT:     return "BDAT";
    case VSMTP_VERB_RSET:     return "RSET";
    case VSMTP_VERB_NOOP:     return "NOOP";
    case VSMTP_VERB_VRFY:     return "VRFY";
    case VSMTP_VERB_EXPN:     return "EXPN";
    case VSMTP_VERB_HELP:     return "HELP";
    case VSMTP_VERB_QUIT:     return "QUIT";
    case VSMTP_VERB_STARTTLS: return "STARTTLS";
    case VSMTP_VERB_AUTH:     return "AUTH";
    case VSMTP_VERB_XCLIENT:  return "XCLIENT";
    default:                  return "UNKNOWN";
    }
}

/* Finds the end of the path starting at @p: just after the '>' that closes
 * a bracketed path (a '>' inside a quoted local part does not count), or at
 * the first space of a bare one. Returns NULL if a bracketed path does not
 * close. */
static const char *
find_path_end (const char *p)
{
  gboolean quoted = FALSE;

  if (*p != '<')
    {
      while (*p != '\0' && *p != ' ')
        p++;
      return p;
    }

  for (p++; *p != '\0'; p++)
    {
      if (quoted)
        {
          if (*p == '\\' && p[1] != '\0')
            p++;
          else if (*p == '"')
            quoted = FALSE;
        }
      else if (*p == '"')
        quoted = TRUE;
      else if (*p == '>')
        return p + 1;
    }

  return NULL;
}

static gboolean
parse_parameters (const char  *p,
                  GHashTable  *params,
                  GError     **error)
{
  for (;;)
    {
      const char *keyword;
      const char *keyword_end;
      const char *value = NULL;
      const char *value_end = NULL;
      char *key;

      while (*p == ' ')
        p++;
      if (*p == '\0')
        return TRUE;

      keyword = p;
      if (!g_ascii_isalnum (*p))
        goto bad_keyword;
      for (p++; g_ascii_isalnum (*p) || *p == '-'; p++)
        ;
      keyword_end = p;

      if (*p == '=')
        {
          value = ++p;
          while (*p != '\0' && *p != ' ')
            {
              if ((guchar) *p < 33 || (guchar) *p > 126 || *p == '=')
                {
                  g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                               "Invalid character in the value of parameter %.*s",
                               (int) (keyword_end - keyword), keyword);
                  return FALSE;
                }
              p++;
            }
          value_end = p;
          if (value == value_end)
            {
              g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "Empty value for parameter %.*s",
                           (int) (keyword_end - keyword), keyword);
              return FALSE;
            }
        }
      else if (*p != ' ' && *p != '\0')
        goto bad_keyword;

      key = g_ascii_strup (keyword, keyword_end - keyword);
      if (g_hash_table_contains (params, key))
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                       "Parameter %s given more than once", key);
          g_free (key);
          return FALSE;
        }
      g_hash_table_insert (params, key,
                           value != NULL ? g_strndup (value, value_end - value) : NULL);
      continue;

    bad_keyword:
      while (*p != '\0' && *p != ' ' && *p != '=')
        p++;
      if (p == keyword)
        g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                             "Missing parameter keyword");
      else if (g_utf8_validate (keyword, p - keyword, NULL))
        g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                     "Invalid parameter keyword “%.*s”", (int) (p - keyword), keyword);
      else
        g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                             "Invalid parameter keyword");
      return FALSE;
    }
}

gboolean
_vsmtp_command_parse_path (const char         *args,
                           gboolean            is_mail,
                           VsmtpAddressFlags   flags,
                           VsmtpAddress      **address,
                           GHashTable        **params,
                           gboolean           *address_error,
                           GError            **error)
{
  gboolean sparse = (flags & _VSMTP_COMMAND_FLAGS_SPARSE_PARAMS) != 0;

  const char *keyword = is_mail ? "FROM:" : "TO:";
  gsize keyword_length = is_mail ? 5 : 3;
  const char *path;
  const char *path_end;
  g_autoptr(VsmtpAddress) parsed = NULL;
  g_autoptr(GHashTable) table = NULL;

  if (address != NULL)
    *address = NULL;
  if (params != NULL)
    *params = NULL;
  if (address_error != NULL)
    *address_error = FALSE;

  g_return_val_if_fail (args != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_ascii_strncasecmp (args, keyword, keyword_length) != 0)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "Syntax: %s %s<address>",
                   is_mail ? "MAIL" : "RCPT", keyword);
      return FALSE;
    }

  /* Tolerate spaces after the colon, as Postfix does. */
  path = args + keyword_length;
  while (*path == ' ')
    path++;

  if (*path == '\0')
    {
      if (address_error != NULL)
        *address_error = TRUE;
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "Syntax: %s %s<address>",
                   is_mail ? "MAIL" : "RCPT", keyword);
      return FALSE;
    }

  path_end = find_path_end (path);
  if (path_end == NULL)
    {
      if (address_error != NULL)
        *address_error = TRUE;
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "Address is missing its closing angle bracket");
      return FALSE;
    }

  if (!is_mail)
    flags |= VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER;

  parsed = vsmtp_address_parse (path, path_end - path, flags & ~_VSMTP_COMMAND_FLAGS_SPARSE_PARAMS, error);
  if (parsed == NULL)
    {
      if (address_error != NULL)
        *address_error = TRUE;
      return FALSE;
    }

  if (*path_end != '\0' && *path_end != ' ')
    {
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "A space must separate the address from the parameters");
      return FALSE;
    }

  while (*path_end == ' ')
    path_end++;
  if (!sparse || *path_end != '\0')
    {
      table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      if (!parse_parameters (path_end, table, error))
        return FALSE;
    }

  if (address != NULL)
    *address = g_steal_pointer (&parsed);
  if (params != NULL)
    *params = g_steal_pointer (&table);

  return TRUE;
}

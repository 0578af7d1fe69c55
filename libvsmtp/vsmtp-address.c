/* vsmtp-address.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "vsmtp-address.h"
#include "vsmtp-error.h"
#include "vsmtp-idna-private.h"

/* RFC 5321 §4.5.3.1 */
#define MAX_LOCAL_PART 64
#define MAX_DOMAIN     255
#define MAX_PATH       256

/**
 * VsmtpAddress:
 *
 * A mailbox as used in SMTP's MAIL FROM and RCPT TO: a local part and a
 * domain. Two special addresses exist: the null reverse-path `<>` (see
 * [method@Vsmtp.Address.is_null]) and the bare `<postmaster>` recipient (see
 * [method@Vsmtp.Address.is_postmaster]).
 *
 * With SMTPUTF8 (RFC 6531) the local part and the domain may hold UTF-8.
 * The domain is kept as the client sent it ([method@Vsmtp.Address.get_domain])
 * and in its A-label and U-label forms
 * ([method@Vsmtp.Address.get_domain_ascii],
 * [method@Vsmtp.Address.get_domain_unicode]); compare domains in their
 * A-label form, as [method@Vsmtp.Address.equal] does.
 *
 * Addresses are immutable and reference counted.
 */
struct _VsmtpAddress
{
  gatomicrefcount ref_count;

  char *local_part;   /* decoded: no quotes, no quoted-pairs */
  char *domain;       /* as given; NULL for the null address and postmaster */
  char *string;       /* cached to_string() */
  char *domain_ascii;   /* A-label form; NULL: same as domain */
  char *domain_unicode; /* U-label form; NULL: same as domain */
  guint is_null : 1;
  guint utf8 : 1;     /* non-ASCII local part or domain */
  guint is_postmaster : 1;
};

G_DEFINE_BOXED_TYPE (VsmtpAddress, vsmtp_address, vsmtp_address_ref, vsmtp_address_unref)

static inline gboolean
is_atext (guchar c)
{
  if (g_ascii_isalnum (c))
    return TRUE;

  switch (c)
    {
    case '!': case '#': case '$': case '%': case '&': case '\'':
    case '*': case '+': case '-': case '/': case '=': case '?':
    case '^': case '_': case '`': case '{': case '|': case '}':
    case '~':
      return TRUE;
    default:
      return FALSE;
    }
}

/* Whether @local_part can be written as a Dot-string without quotes. */
static gboolean
local_part_is_dot_string (const char *local_part)
{
  const guchar *p = (const guchar *) local_part;
  gboolean after_dot = TRUE;

  if (*p == '\0')
    return FALSE;

  for (; *p != '\0'; p++)
    {
      if (*p == '.')
        {
          if (after_dot)
            return FALSE;
          after_dot = TRUE;
        }
      else if (is_atext (*p) || *p >= 0x80)
        after_dot = FALSE;
      else
        return FALSE;
    }

  return !after_dot;
}

static char *
format_address (VsmtpAddress *self)
{
  GString *str;

  if (self->is_null)
    return g_strdup ("");
  if (self->is_postmaster)
    return g_strdup ("postmaster");

  if (self->domain != NULL && local_part_is_dot_string (self->local_part))
    {
      /* the usual address, local@domain: one allocation (once per
       * address of every transaction) */
      gsize local_length = strlen (self->local_part);
      gsize domain_length = strlen (self->domain);
      char *string = g_malloc (local_length + 1 + domain_length + 1);

      memcpy (string, self->local_part, local_length);
      string[local_length] = '@';
      memcpy (string + local_length + 1, self->domain, domain_length + 1);
      return string;
    }

  /* a quoted local part */
  str = g_string_new (NULL);
  g_string_append_c (str, '"');
  for (const char *p = self->local_part; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (str, '\\');
      g_string_append_c (str, *p);
    }
  g_string_append_c (str, '"');
  g_string_append_c (str, '@');
  g_string_append (str, self->domain);

  return g_string_free (str, FALSE);
}

static VsmtpAddress *
address_new_take (char     *local_part,
                  char     *domain,
                  gboolean  is_null,
                  gboolean  is_postmaster)
{
  VsmtpAddress *self = g_new0 (VsmtpAddress, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->local_part = local_part;
  self->domain = domain;
  self->is_null = !!is_null;
  self->is_postmaster = !!is_postmaster;
  self->string = format_address (self);
  for (const char *p = self->string; *p != '\0'; p++)
    if ((guchar) *p >= 0x80)
      {
        self->utf8 = TRUE;
        break;
      }

  return self;
}

/**
 * vsmtp_address_new:
 * @local_part: the local part, unquoted (UTF-8)
 * @domain: (nullable): the domain; %NULL only when @local_part is
 *   "postmaster", for the bare postmaster address
 *
 * Creates an address from its parts, for programmatic use. The parts are not
 * checked against the SMTP grammar beyond being non-empty, valid UTF-8;
 * [func@Vsmtp.Address.parse] is the way to accept an address from a peer.
 * An internationalized domain gets its A-label and U-label forms as in
 * parsing; one that is not a valid IDNA2008 name keeps the domain as given
 * for both.
 *
 * Returns: (transfer full): a new address
 */
VsmtpAddress *
vsmtp_address_new (const char *local_part,
                   const char *domain)
{
  VsmtpAddress *address;

  g_return_val_if_fail (local_part != NULL, NULL);
  g_return_val_if_fail (*local_part != '\0', NULL);
  g_return_val_if_fail (g_utf8_validate (local_part, -1, NULL), NULL);
  g_return_val_if_fail (domain == NULL || *domain != '\0', NULL);
  g_return_val_if_fail (domain == NULL || g_utf8_validate (domain, -1, NULL), NULL);
  g_return_val_if_fail (domain != NULL || g_ascii_strcasecmp (local_part, "postmaster") == 0, NULL);

  if (domain == NULL)
    return address_new_take (g_strdup ("postmaster"), NULL, FALSE, TRUE);

  address = address_new_take (g_strdup (local_part), g_strdup (domain), FALSE, FALSE);
  /* not a valid IDN: both forms stay the domain as given */
  (void) _vsmtp_address_convert_domain (address, NULL);
  return address;
}

/**
 * vsmtp_address_new_null:
 *
 * Creates the null reverse-path `<>`, the sender of bounces.
 *
 * Returns: (transfer full): a new null address
 */
VsmtpAddress *
vsmtp_address_new_null (void)
{
  return address_new_take (g_strdup (""), NULL, TRUE, FALSE);
}

/**
 * vsmtp_address_ref:
 * @self: an address
 *
 * Acquires a reference on @self.
 *
 * Returns: (transfer full): @self
 */
VsmtpAddress *
vsmtp_address_ref (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);

  return self;
}

/**
 * vsmtp_address_unref:
 * @self: (transfer full): an address
 *
 * Releases a reference on @self; the last one frees it.
 */
void
vsmtp_address_unref (VsmtpAddress *self)
{
  g_return_if_fail (self != NULL);

  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_free (self->local_part);
      g_free (self->domain);
      g_free (self->domain_ascii);
      g_free (self->domain_unicode);
      g_free (self->string);
      g_free (self);
    }
}

/**
 * vsmtp_address_get_local_part:
 * @self: an address
 *
 * Gets the local part, decoded: without the quotes and backslashes of a
 * quoted local part. It is "" for the null address and "postmaster" for the
 * bare postmaster address.
 *
 * Returns: the local part
 */
const char *
vsmtp_address_get_local_part (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->local_part;
}

/**
 * vsmtp_address_get_domain:
 * @self: an address
 *
 * Gets the domain as it was given (case preserved): with SMTPUTF8 it may
 * hold U-labels, and from any client A-labels; see
 * [method@Vsmtp.Address.get_domain_ascii] for the form to compare. An
 * address literal keeps its brackets, as in "[192.0.2.1]".
 *
 * Returns: (nullable): the domain, or %NULL for the null address and the bare
 *   postmaster address
 */
const char *
vsmtp_address_get_domain (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->domain;
}

/**
 * vsmtp_address_get_domain_ascii:
 * @self: an address
 *
 * Gets the domain in its A-label form, the form to compare and to look up
 * in DNS: `bücher.example` and `xn--bcher-kva.example` both give
 * `xn--bcher-kva.example`. An internationalized domain (one with a U-label
 * or an A-label, see [func@Vsmtp.domain_is_idn]) is converted by libidn2
 * and comes out in lower case; any other domain, address literals
 * included, is returned as given.
 *
 * Returns: (nullable): the A-label form of the domain, or %NULL for the
 *   null address and the bare postmaster address
 */
const char *
vsmtp_address_get_domain_ascii (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->domain_ascii != NULL ? self->domain_ascii : self->domain;
}

/**
 * vsmtp_address_get_domain_unicode:
 * @self: an address
 *
 * Gets the domain in its U-label form, the form to show people:
 * `xn--bcher-kva.example` and `bücher.example` both give `bücher.example`.
 * As with [method@Vsmtp.Address.get_domain_ascii], an internationalized
 * domain comes out in lower case and any other is returned as given.
 *
 * Returns: (nullable): the U-label form of the domain, or %NULL for the
 *   null address and the bare postmaster address
 */
const char *
vsmtp_address_get_domain_unicode (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->domain_unicode != NULL ? self->domain_unicode : self->domain;
}

/**
 * vsmtp_address_needs_smtputf8:
 * @self: an address
 *
 * Gets whether the address has a non-ASCII character, in its local part or
 * its domain, as the client wrote it: such an address may only be sent in
 * an SMTPUTF8 transaction (RFC 6531). (An address whose domain only is
 * internationalized can be sent without SMTPUTF8 in its A-label form,
 * [method@Vsmtp.Address.get_domain_ascii].)
 *
 * Returns: %TRUE if the local part or the domain is not ASCII
 */
gboolean
vsmtp_address_needs_smtputf8 (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->utf8;
}

/**
 * vsmtp_address_local_part_is_ascii:
 * @self: an address
 *
 * Gets whether the local part is all ASCII: then the address can be
 * written without SMTPUTF8, with its domain in the A-label form.
 *
 * Returns: %TRUE if the local part is ASCII
 */
gboolean
vsmtp_address_local_part_is_ascii (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  for (const char *p = self->local_part; *p != '\0'; p++)
    if ((guchar) *p >= 0x80)
      return FALSE;
  return TRUE;
}

/**
 * vsmtp_address_is_null:
 * @self: an address
 *
 * Gets whether @self is the null reverse-path `<>`.
 *
 * Returns: %TRUE for the null address
 */
gboolean
vsmtp_address_is_null (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->is_null;
}

/**
 * vsmtp_address_is_postmaster:
 * @self: an address
 *
 * Gets whether @self is the bare `<postmaster>` address, without a domain
 * (RFC 5321 §4.1.1.3).
 *
 * Returns: %TRUE for the bare postmaster address
 */
gboolean
vsmtp_address_is_postmaster (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->is_postmaster;
}

/**
 * vsmtp_address_to_string:
 * @self: an address
 *
 * Formats the address as "local@domain", without angle brackets; the local
 * part is quoted when it is not a valid dot-string (`"john doe"@example.com`).
 * The null address gives "" and the bare postmaster address "postmaster".
 *
 * Returns: the address as a string, owned by @self
 */
const char *
vsmtp_address_to_string (VsmtpAddress *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->string;
}

/**
 * vsmtp_address_equal:
 * @a: an address
 * @b: another address
 *
 * Compares two addresses: local parts case-sensitively (RFC 5321 §2.4),
 * domains in their A-label form ([method@Vsmtp.Address.get_domain_ascii]),
 * ASCII case-insensitively: `user@bücher.example` equals
 * `user@xn--bcher-kva.example`.
 *
 * Returns: %TRUE if @a and @b name the same mailbox
 */
gboolean
vsmtp_address_equal (VsmtpAddress *a,
                     VsmtpAddress *b)
{
  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (b != NULL, FALSE);

  if (a == b)
    return TRUE;
  if (a->is_null != b->is_null || a->is_postmaster != b->is_postmaster)
    return FALSE;
  if (a->is_null || a->is_postmaster)
    return TRUE;

  return strcmp (a->local_part, b->local_part) == 0 &&
         g_ascii_strcasecmp (vsmtp_address_get_domain_ascii (a),
                             vsmtp_address_get_domain_ascii (b)) == 0;
}

/* Parsing */

typedef struct {
  const char *p;
  const char *end;
  gboolean utf8;
} Parser;

static gboolean
set_syntax_error (GError     **error,
                  const char  *format,
                  ...) G_GNUC_PRINTF (2, 3);

static gboolean
set_syntax_error (GError     **error,
                  const char  *format,
                  ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (VSMTP_ERROR, VSMTP_ERROR_SYNTAX, format, args));
  va_end (args);

  return FALSE;
}

static gboolean
unexpected (Parser      *parser,
            const char  *where,
            GError     **error)
{
  if (parser->p >= parser->end)
    return set_syntax_error (error, "Unexpected end of address in %s", where);

  if ((guchar) *parser->p > 0x20 && (guchar) *parser->p < 0x7f)
    return set_syntax_error (error, "Unexpected character “%c” in %s", *parser->p, where);

  return set_syntax_error (error, "Unexpected character 0x%02x in %s",
                           (guchar) *parser->p, where);
}

/* sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str], with
 * UTF-8 (U-labels) when SMTPUTF8 is on. Stops at the first character that
 * cannot continue a domain. */
static gboolean
parse_domain_name (Parser      *parser,
                   GError     **error)
{
  const char *domain = parser->p;

  for (;;)
    {
      const char *label = parser->p;

      while (parser->p < parser->end)
        {
          guchar c = *parser->p;

          if (g_ascii_isalnum (c) || c == '-' || (parser->utf8 && c >= 0x80))
            parser->p++;
          else
            break;
        }

      if (parser->p == label)
        {
          if (parser->p < parser->end && *parser->p == '.')
            return set_syntax_error (error, "Empty label in domain");
          if (label > domain && label[-1] == '.')
            return set_syntax_error (error, "Domain ends with a dot");
          return unexpected (parser, "domain", error);
        }
      if (*label == '-' || parser->p[-1] == '-')
        return set_syntax_error (error, "Domain label begins or ends with a hyphen");

      if (parser->p < parser->end && *parser->p == '.')
        parser->p++;
      else
        return TRUE;
    }
}

/* "[" ( IPv4-address-literal / IPv6-address-literal ) "]" */
static gboolean
parse_address_literal (Parser  *parser,
                       GError **error)
{
  const char *start = parser->p + 1;
  const char *close;
  g_autofree char *literal = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  GSocketFamily family = G_SOCKET_FAMILY_IPV4;
  const char *text;

  close = memchr (start, ']', parser->end - start);
  if (close == NULL)
    return set_syntax_error (error, "Address literal is missing its closing bracket");

  literal = g_strndup (start, close - start);
  text = literal;

  if (g_ascii_strncasecmp (text, "IPv6:", 5) == 0)
    {
      family = G_SOCKET_FAMILY_IPV6;
      text += 5;
    }
  else if (strchr (text, ':') != NULL)
    return set_syntax_error (error, "Unsupported address literal “[%s]”", literal);

  if (strchr (text, '%') == NULL)
    inet = g_inet_address_new_from_string (text);
  if (inet == NULL || g_inet_address_get_family (inet) != family)
    return set_syntax_error (error, "Invalid address literal “[%s]”", literal);

  parser->p = close + 1;
  return TRUE;
}

static gboolean
parse_domain (Parser  *parser,
              GError **error)
{
  if (parser->p < parser->end && *parser->p == '[')
    return parse_address_literal (parser, error);

  return parse_domain_name (parser, error);
}

/* Local-part = Dot-string / Quoted-string, decoded into @out. A
 * dot-string decodes to itself: @out may be NULL when the caller knows the
 * local part is not quoted and copies the text. */
static gboolean
parse_local_part (Parser   *parser,
                  GString  *out,
                  GError  **error)
{
  if (parser->p < parser->end && *parser->p == '"')
    {
      parser->p++;

      while (parser->p < parser->end && *parser->p != '"')
        {
          guchar c = *parser->p;

          if (c == '\\')
            {
              guchar next;

              parser->p++;
              if (parser->p >= parser->end)
                return set_syntax_error (error, "Unterminated quoted local part");
              next = *parser->p;
              if (next < 0x20 || next == 0x7f || (next >= 0x80 && !parser->utf8))
                return unexpected (parser, "quoted local part", error);
              g_string_append_c (out, next);
            }
          else if ((c >= 0x20 && c < 0x7f) || (c >= 0x80 && parser->utf8))
            g_string_append_c (out, c);
          else
            return unexpected (parser, "quoted local part", error);

          parser->p++;
        }

      if (parser->p >= parser->end)
        return set_syntax_error (error, "Unterminated quoted local part");
      parser->p++;

      return TRUE;
    }

  if (parser->p >= parser->end || *parser->p == '@')
    return set_syntax_error (error, "Empty local part");
  if (*parser->p == '.')
    return set_syntax_error (error, "Local part begins with a dot");

  for (;;)
    {
      const char *atom = parser->p;

      while (parser->p < parser->end)
        {
          guchar c = *parser->p;

          if (is_atext (c) || (c >= 0x80 && parser->utf8))
            parser->p++;
          else
            break;
        }

      if (parser->p == atom)
        {
          if (parser->p < parser->end && *parser->p == '.')
            return set_syntax_error (error, "Consecutive dots in local part");
          if (parser->p < parser->end && *parser->p == '@')
            return set_syntax_error (error, "Local part ends with a dot");
          return unexpected (parser, "local part", error);
        }

      if (out != NULL)
        g_string_append_len (out, atom, parser->p - atom);

      if (parser->p < parser->end && *parser->p == '.')
        {
          if (out != NULL)
            g_string_append_c (out, '.');
          parser->p++;
        }
      else
        return TRUE;
    }
}

/**
 * vsmtp_address_parse:
 * @path: a path as in MAIL FROM or RCPT TO: `<local@domain>`, or the bare
 *   `local@domain`
 * @length: the length of @path in bytes, or -1 if it is nul-terminated
 * @flags: what else to accept
 * @error: return location for a #GError
 *
 * Parses a reverse-path or forward-path (RFC 5321 §4.1.2).
 *
 * The angle brackets may be left out, as many servers tolerate. A source
 * route (`<@a.example,@b.example:user@c.example>`) is accepted and ignored.
 * The local part is a dot-string or a quoted string; the domain a host name
 * or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`). `<>` is
 * accepted only with %VSMTP_ADDRESS_FLAGS_ALLOW_NULL, `<postmaster>` only
 * with %VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER, and non-ASCII characters only
 * with %VSMTP_ADDRESS_FLAGS_SMTPUTF8 (then as valid UTF-8).
 *
 * An internationalized domain (U-labels with %VSMTP_ADDRESS_FLAGS_SMTPUTF8,
 * or A-labels, `xn--...`, with or without it) must be a valid IDNA2008
 * name: it is converted with libidn2 as [func@Vsmtp.domain_to_ascii] does,
 * and an invalid one is a %VSMTP_ERROR_SYNTAX error that says so ("Invalid
 * internationalized domain name: ...").
 *
 * Errors are %VSMTP_ERROR_TOO_LONG when the local part exceeds 64 octets,
 * the domain 255 or the whole path 256 (brackets included: a bare address
 * is counted as if it had them), and %VSMTP_ERROR_SYNTAX otherwise.
 *
 * Returns: (transfer full): the address, or %NULL on error
 */
VsmtpAddress *
vsmtp_address_parse (const char         *path,
                     gssize              length,
                     VsmtpAddressFlags   flags,
                     GError            **error)
{
  Parser parser;
  const char *start;
  const char *end;
  const char *local_start;
  const char *local_end;
  const char *domain_start;
  gsize path_length;
  gboolean bracketed = FALSE;
  g_autoptr(GString) local = NULL;
  g_autofree char *local_part = NULL;
  VsmtpAddress *address;

  g_return_val_if_fail (path != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length < 0)
    length = strlen (path);

  start = path;
  end = path + length;

  if (memchr (start, '\0', length) != NULL)
    {
      set_syntax_error (error, "NUL character in address");
      return NULL;
    }

  if (flags & VSMTP_ADDRESS_FLAGS_SMTPUTF8)
    {
      if (!g_utf8_validate_len (start, length, NULL))
        {
          set_syntax_error (error, "Address is not valid UTF-8");
          return NULL;
        }
    }
  else
    {
      const char *p;

      for (p = start; p < end; p++)
        if ((guchar) *p >= 0x80)
          {
            set_syntax_error (error, "Non-ASCII character in address without SMTPUTF8");
            return NULL;
          }
    }

  if (length > 0 && *start == '<')
    {
      if (end[-1] != '>' || length < 2)
        {
          set_syntax_error (error, "Address is missing its closing angle bracket");
          return NULL;
        }
      bracketed = TRUE;
      start++;
      end--;
    }
  else if (length > 0 && end[-1] == '>')
    {
      set_syntax_error (error, "Address is missing its opening angle bracket");
      return NULL;
    }

  path_length = (end - start) + 2;

  if (start == end)
    {
      if (!bracketed)
        set_syntax_error (error, "Empty address");
      else if (!(flags & VSMTP_ADDRESS_FLAGS_ALLOW_NULL))
        set_syntax_error (error, "Null address <> not allowed here");
      else
        return vsmtp_address_new_null ();
      return NULL;
    }

  parser.p = start;
  parser.end = end;
  parser.utf8 = (flags & VSMTP_ADDRESS_FLAGS_SMTPUTF8) != 0;

  /* A-d-l ":" — source routes are obsolete; accepted and ignored. */
  if (*parser.p == '@' && memchr (parser.p, ':', parser.end - parser.p) == NULL)
    {
      set_syntax_error (error, "Empty local part");
      return NULL;
    }
  if (*parser.p == '@')
    {
      for (;;)
        {
          parser.p++;   /* '@' */
          if (parser.p >= parser.end || *parser.p == ':' || *parser.p == ',')
            {
              set_syntax_error (error, "Empty domain in source route");
              return NULL;
            }
          if (!parse_domain (&parser, error))
            return NULL;
          if (parser.p < parser.end && *parser.p == ',')
            {
              parser.p++;
              if (parser.p >= parser.end || *parser.p != '@')
                {
                  unexpected (&parser, "source route", error);
                  return NULL;
                }
              continue;
            }
          if (parser.p < parser.end && *parser.p == ':')
            {
              parser.p++;
              break;
            }
          unexpected (&parser, "source route", error);
          return NULL;
        }
    }

  /* a quoted local part is decoded; a dot-string is its own text, copied
   * once it parses (no GString for the usual address) */
  if (parser.p < parser.end && *parser.p == '"')
    local = g_string_new (NULL);
  local_start = parser.p;
  if (!parse_local_part (&parser, local, error))
    return NULL;
  local_end = parser.p;
  local_part = local != NULL ? g_string_free (g_steal_pointer (&local), FALSE)
                             : g_strndup (local_start, local_end - local_start);

  if (parser.p >= parser.end)
    {
      /* No domain: only the bare postmaster. */
      if ((flags & VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER) &&
          local_start == start &&
          *local_start != '"' &&
          g_ascii_strcasecmp (local_part, "postmaster") == 0)
        return vsmtp_address_new ("postmaster", NULL);

      set_syntax_error (error, "Address has no domain");
      return NULL;
    }

  if (*parser.p != '@')
    {
      unexpected (&parser, "local part", error);
      return NULL;
    }
  parser.p++;

  if (parser.p >= parser.end)
    {
      set_syntax_error (error, "Address has no domain");
      return NULL;
    }

  domain_start = parser.p;
  if (!parse_domain (&parser, error))
    return NULL;

  if (parser.p < parser.end)
    {
      unexpected (&parser, "domain", error);
      return NULL;
    }

  if (local_end - local_start > MAX_LOCAL_PART)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_TOO_LONG,
                   "Local part too long (%" G_GSIZE_FORMAT " octets, the limit is %d)",
                   (gsize) (local_end - local_start), MAX_LOCAL_PART);
      return NULL;
    }

  if (parser.end - domain_start > MAX_DOMAIN)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_TOO_LONG,
                   "Domain too long (%" G_GSIZE_FORMAT " octets, the limit is %d)",
                   (gsize) (parser.end - domain_start), MAX_DOMAIN);
      return NULL;
    }

  if (path_length > MAX_PATH)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_TOO_LONG,
                   "Path too long (%" G_GSIZE_FORMAT " octets, the limit is %d)",
                   path_length, MAX_PATH);
      return NULL;
    }

  address = address_new_take (g_steal_pointer (&local_part),
                              g_strndup (domain_start, parser.end - domain_start),
                              FALSE, FALSE);
  if (!(flags & _VSMTP_ADDRESS_FLAGS_NO_IDNA) &&
      !_vsmtp_address_convert_domain (address, error))
    g_clear_pointer (&address, vsmtp_address_unref);
  return address;
}

gboolean
_vsmtp_address_convert_domain (VsmtpAddress  *self,
                               GError       **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (self->domain == NULL || self->domain[0] == '[' ||
      self->domain_ascii != NULL || !vsmtp_domain_is_idn (self->domain))
    return TRUE;
  return _vsmtp_idna_convert (self->domain, &self->domain_ascii, &self->domain_unicode, error);
}

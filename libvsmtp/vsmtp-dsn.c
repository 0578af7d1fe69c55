/* vsmtp-dsn.c: delivery status notification parameters (RFC 3461, RFC 6533),
 * xtext, and REQUIRETLS (RFC 8689) on the envelope
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-dsn.h"
#include "vsmtp-dsn-private.h"
#include "vsmtp-envelope-private.h"
#include "vsmtp-error.h"

/**
 * vsmtp_xtext_decode:
 * @text: xtext (RFC 3461 4): the characters `!` to `~` but `+` and `=`,
 *   and `+` followed by two hexadecimal digits for any other octet
 *
 * Decodes xtext, the form of the `ENVID`, `ORCPT` and `AUTH` parameters.
 * The hexadecimal digits are taken in either case (RFC 3461 asks for upper
 * case). An octet the text does not encode, a `+` without two digits after
 * it, and `+00` (a NUL) are refused.
 *
 * ```python
 * Vsmtp.xtext_decode("a+2Bb+3Dc")   # "a+b=c"
 * ```
 *
 * Returns: (transfer full): the decoded text (not necessarily UTF-8: octets
 *   from `+80` to `+FF` are copied as they are), or %NULL with @error set
 *   (%VSMTP_ERROR_SYNTAX)
 */
char *
vsmtp_xtext_decode (const char  *text,
                    GError     **error)
{
  g_autoptr(GString) decoded = NULL;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  decoded = g_string_sized_new (strlen (text));
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = *p;

      if (c == '+')
        {
          int high = g_ascii_xdigit_value (p[1]);
          int low = high >= 0 ? g_ascii_xdigit_value (p[2]) : -1;

          if (high < 0 || low < 0)
            {
              g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                                   "a \"+\" not followed by two hexadecimal digits");
              return NULL;
            }
          if (high == 0 && low == 0)
            {
              g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                                   "\"+00\" encodes a NUL character");
              return NULL;
            }
          g_string_append_c (decoded, (char) (high << 4 | low));
          p += 2;
        }
      else if (c < 33 || c > 126 || c == '=')
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                       "the character 0x%02X must be encoded as \"+%02X\"", c, c);
          return NULL;
        }
      else
        g_string_append_c (decoded, (char) c);
    }
  return g_string_free (g_steal_pointer (&decoded), FALSE);
}

/**
 * vsmtp_xtext_encode:
 * @text: any text
 *
 * Encodes @text as xtext (RFC 3461 4): `+`, `=`, spaces, controls and
 * octets past ASCII become `+XX`.
 *
 * Returns: (transfer full): the xtext
 */
char *
vsmtp_xtext_encode (const char *text)
{
  GString *encoded;

  g_return_val_if_fail (text != NULL, NULL);

  encoded = g_string_sized_new (strlen (text));
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = *p;

      if (c < 33 || c > 126 || c == '+' || c == '=')
        g_string_append_printf (encoded, "+%02X", c);
      else
        g_string_append_c (encoded, (char) c);
    }
  return g_string_free (encoded, FALSE);
}

/* "\x{HEXPOINT}" at @p (after the backslash has been seen): the code point,
 * and @p moved past the "}"; -1 if it is not one */
static gint32
parse_embedded_unicode (const char **p)
{
  const char *s = *p;
  gint32 code = 0;
  int n = 0;

  if (s[0] != '\\' || s[1] != 'x' || s[2] != '{')
    return -1;
  for (s += 3; g_ascii_isxdigit (*s) && n < 7; s++, n++)
    code = code << 4 | g_ascii_xdigit_value (*s);
  /* RFC 6533's HEXPOINT: 2 to 6 digits, no leading zero past two */
  if (*s != '}' || n < 2 || n > 6 || ((*p)[3] == '0' && n > 2))
    return -1;
  *p = s + 1;
  return code;
}

/**
 * vsmtp_utf8_addr_decode:
 * @text: the address part of an `ORCPT=utf-8;...` parameter (RFC 6533 3)
 * @unitext: whether UTF-8 may appear as it is (utf-8-addr-unitext, only
 *   with SMTPUTF8), or only in the 7-bit form (utf-8-addr-xtext)
 *
 * Decodes RFC 6533's forms of a UTF-8 address: printable ASCII but `+`,
 * `=` and `\`, the embedded characters `\x{HEX}` (two to six upper- or
 * lower-case hexadecimal digits, any Unicode scalar value from U+0020 on),
 * and, with @unitext, UTF-8 itself.
 *
 * ```python
 * Vsmtp.utf8_addr_decode("j\\x{F6}rg@example.org", False)   # "jörg@example.org"
 * ```
 *
 * Returns: (transfer full): the address in UTF-8, or %NULL with @error set
 *   (%VSMTP_ERROR_SYNTAX)
 */
char *
vsmtp_utf8_addr_decode (const char  *text,
                        gboolean     unitext,
                        GError     **error)
{
  g_autoptr(GString) decoded = NULL;
  const char *p = text;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX, "not UTF-8");
      return NULL;
    }

  decoded = g_string_sized_new (strlen (text));
  while (*p != '\0')
    {
      guchar c = *p;

      if (c == '\\')
        {
          gint32 code = parse_embedded_unicode (&p);

          if (code < 0x20 || code == 0x7F || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
            {
              g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                                   "a \"\\\" that does not start a \\x{HEX} character");
              return NULL;
            }
          g_string_append_unichar (decoded, (gunichar) code);
        }
      else if (c >= 0x80 && unitext)
        {
          const char *next = g_utf8_next_char (p);

          g_string_append_len (decoded, p, next - p);
          p = next;
        }
      else if (c >= 0x80)
        {
          g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                               "UTF-8 without SMTPUTF8 (write \\x{HEX})");
          return NULL;
        }
      else if (c < 33 || c > 126 || c == '+' || c == '=')
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                       "the character 0x%02X must be written \\x{%02X}", c, c);
          return NULL;
        }
      else
        {
          g_string_append_c (decoded, (char) c);
          p++;
        }
    }
  return g_string_free (g_steal_pointer (&decoded), FALSE);
}

/* ------------------------------------------------------------------------ */
/* Checking the parameters (the DSN built-in extension, vsmtp-extension.c)  */

/* addr-type = atom (RFC 3461 4.2, RFC 5322 atext) */
static gboolean
is_atom (const char *s,
         gsize       length)
{
  if (length == 0)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (s[i]) && strchr ("!#$%&'*+-/=?^_`{|}~", s[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* NOTIFY's value: the flags, or 0 with @why set */
static VsmtpDsnNotify
parse_notify (const char  *value,
              const char **why)
{
  static const struct { const char *name; VsmtpDsnNotify flag; } words[] = {
    { "NEVER", VSMTP_DSN_NOTIFY_NEVER },
    { "SUCCESS", VSMTP_DSN_NOTIFY_SUCCESS },
    { "FAILURE", VSMTP_DSN_NOTIFY_FAILURE },
    { "DELAY", VSMTP_DSN_NOTIFY_DELAY },
  };
  VsmtpDsnNotify notify = 0;
  const char *p = value;

  for (;;)
    {
      const char *comma = strchr (p, ',');
      gsize length = comma != NULL ? (gsize) (comma - p) : strlen (p);
      VsmtpDsnNotify flag = 0;

      for (gsize i = 0; i < G_N_ELEMENTS (words); i++)
        if (length == strlen (words[i].name) && g_ascii_strncasecmp (p, words[i].name, length) == 0)
          flag = words[i].flag;
      if (flag == 0)
        {
          *why = "not NEVER or a list of SUCCESS, FAILURE and DELAY";
          return 0;
        }
      if (notify & flag)
        {
          *why = "a keyword is listed twice";
          return 0;
        }
      notify |= flag;
      if (comma == NULL)
        break;
      p = comma + 1;
    }
  if ((notify & VSMTP_DSN_NOTIFY_NEVER) && notify != VSMTP_DSN_NOTIFY_NEVER)
    {
      *why = "NEVER cannot be combined with other keywords";
      return 0;
    }
  return notify;
}

static VsmtpReply *
bad_value (const char *name,
           const char *why)
{
  return vsmtp_reply_new_printf (501, "5.5.4", "Bad %s parameter value: %s", name, why);
}

static VsmtpReply *
check_envid (const char *value)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *decoded = vsmtp_xtext_decode (value, &error);

  if (decoded == NULL)
    return bad_value ("ENVID", error->message);
  if (*decoded == '\0')
    return bad_value ("ENVID", "empty");
  if (strlen (decoded) > VSMTP_DSN_ENVID_MAX_LENGTH)
    return bad_value ("ENVID", "longer than 100 characters");
  for (const char *p = decoded; *p != '\0'; p++)
    if ((guchar) *p < 32 || (guchar) *p > 126)
      return bad_value ("ENVID", "not printable ASCII once decoded");
  return NULL;
}

static VsmtpReply *
check_orcpt (const char *value,
             gboolean    smtputf8)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  const char *semicolon = strchr (value, ';');
  /* characters: UTF-8 ones count as one with SMTPUTF8 */
  glong length = g_utf8_validate (value, -1, NULL) ? g_utf8_strlen (value, -1) : (glong) strlen (value);

  if (length > VSMTP_DSN_ORCPT_MAX_LENGTH)
    return bad_value ("ORCPT", "longer than 500 characters");
  if (semicolon == NULL || !is_atom (value, semicolon - value))
    return bad_value ("ORCPT", "not addr-type;address");
  if (semicolon[1] == '\0')
    return bad_value ("ORCPT", "the address is empty");

  if (semicolon - value == 5 && g_ascii_strncasecmp (value, "utf-8", 5) == 0)
    address = vsmtp_utf8_addr_decode (semicolon + 1, smtputf8, &error);
  else
    address = vsmtp_xtext_decode (semicolon + 1, &error);
  if (address == NULL)
    return bad_value ("ORCPT", error->message);
  return NULL;
}

/* The DSN parameters (RFC 3461 4.1 to 4.4): NULL if @value is good for
 * @name. @smtputf8: whether the transaction has SMTPUTF8 (ORCPT's utf-8
 * addresses may then be UTF-8 as they are). */
VsmtpReply *
_vsmtp_dsn_check_parameter (const char *name,
                            const char *value,
                            gboolean    smtputf8)
{
  const char *why = NULL;

  if (value == NULL)
    return vsmtp_reply_new_printf (501, "5.5.4", "Bad %s parameter value", name);

  if (g_ascii_strcasecmp (name, "RET") == 0)
    {
      if (g_ascii_strcasecmp (value, "FULL") != 0 && g_ascii_strcasecmp (value, "HDRS") != 0)
        return bad_value ("RET", "not FULL or HDRS");
      return NULL;
    }
  if (g_ascii_strcasecmp (name, "ENVID") == 0)
    return check_envid (value);
  if (g_ascii_strcasecmp (name, "NOTIFY") == 0)
    return parse_notify (value, &why) == 0 ? bad_value ("NOTIFY", why) : NULL;
  if (g_ascii_strcasecmp (name, "ORCPT") == 0)
    return check_orcpt (value, smtputf8);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* The envelope's accessors                                                 */

/**
 * vsmtp_envelope_get_dsn_ret:
 * @self: an envelope
 *
 * Gets MAIL FROM's `RET` parameter (RFC 3461 4.3).
 *
 * Returns: what a notice should return, %VSMTP_DSN_RET_UNSPECIFIED when the
 *   parameter was not given
 */
VsmtpDsnRet
vsmtp_envelope_get_dsn_ret (VsmtpEnvelope *self)
{
  const char *ret;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), VSMTP_DSN_RET_UNSPECIFIED);

  ret = vsmtp_envelope_get_mail_parameter (self, "RET");
  if (ret != NULL && g_ascii_strcasecmp (ret, "FULL") == 0)
    return VSMTP_DSN_RET_FULL;
  if (ret != NULL && g_ascii_strcasecmp (ret, "HDRS") == 0)
    return VSMTP_DSN_RET_HDRS;
  return VSMTP_DSN_RET_UNSPECIFIED;
}

/**
 * vsmtp_envelope_dup_dsn_envid:
 * @self: an envelope
 *
 * Gets MAIL FROM's `ENVID` parameter (RFC 3461 4.4), decoded from xtext.
 * [method@Vsmtp.Envelope.get_mail_parameter] gives it as it was sent.
 *
 * Returns: (transfer full) (nullable): the envelope identifier, or %NULL
 *   when none was given (or it is not valid xtext)
 */
char *
vsmtp_envelope_dup_dsn_envid (VsmtpEnvelope *self)
{
  const char *envid;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);

  envid = vsmtp_envelope_get_mail_parameter (self, "ENVID");
  return envid != NULL ? vsmtp_xtext_decode (envid, NULL) : NULL;
}

static const char *
recipient_parameter (VsmtpEnvelope *self,
                     guint          index,
                     const char    *name)
{
  return _vsmtp_envelope_peek_recipient_parameter (self, index, name);
}

/**
 * vsmtp_envelope_get_recipient_dsn_notify:
 * @self: an envelope
 * @index: the position of the recipient
 *
 * Gets the `NOTIFY` parameter of one recipient (RFC 3461 4.1).
 *
 * Returns: the notices asked for, %VSMTP_DSN_NOTIFY_DEFAULT when the
 *   parameter was not given (or is not valid)
 */
VsmtpDsnNotify
vsmtp_envelope_get_recipient_dsn_notify (VsmtpEnvelope *self,
                                         guint          index)
{
  const char *notify, *why;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), VSMTP_DSN_NOTIFY_DEFAULT);
  g_return_val_if_fail (index < vsmtp_envelope_get_n_recipients (self), VSMTP_DSN_NOTIFY_DEFAULT);

  notify = recipient_parameter (self, index, "NOTIFY");
  return notify != NULL ? parse_notify (notify, &why) : VSMTP_DSN_NOTIFY_DEFAULT;
}

/**
 * vsmtp_envelope_get_recipient_dsn_orcpt:
 * @self: an envelope
 * @index: the position of the recipient
 * @addr_type: (out) (optional) (transfer full): the address type, in lower
 *   case (`rfc822`, `utf-8`...)
 * @address: (out) (optional) (transfer full): the original recipient,
 *   decoded (xtext, or RFC 6533's forms for the `utf-8` type)
 *
 * Gets the `ORCPT` parameter of one recipient (RFC 3461 4.2): the address
 * the sender first gave for it. The parameter as it was sent is in
 * [method@Vsmtp.Envelope.get_recipient_parameters].
 *
 * Returns: whether the recipient has a (valid) `ORCPT` parameter
 */
gboolean
vsmtp_envelope_get_recipient_dsn_orcpt (VsmtpEnvelope  *self,
                                        guint           index,
                                        char          **addr_type,
                                        char          **address)
{
  const char *orcpt, *semicolon;
  g_autofree char *type = NULL;
  g_autofree char *decoded = NULL;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), FALSE);
  g_return_val_if_fail (index < vsmtp_envelope_get_n_recipients (self), FALSE);

  orcpt = recipient_parameter (self, index, "ORCPT");
  semicolon = orcpt != NULL ? strchr (orcpt, ';') : NULL;
  if (semicolon == NULL)
    return FALSE;

  type = g_ascii_strdown (orcpt, semicolon - orcpt);
  if (g_str_equal (type, "utf-8"))
    decoded = vsmtp_utf8_addr_decode (semicolon + 1, TRUE, NULL);
  else
    decoded = vsmtp_xtext_decode (semicolon + 1, NULL);
  if (decoded == NULL)
    return FALSE;

  if (addr_type != NULL)
    *addr_type = g_steal_pointer (&type);
  if (address != NULL)
    *address = g_steal_pointer (&decoded);
  return TRUE;
}

/**
 * vsmtp_envelope_get_requiretls:
 * @self: an envelope
 *
 * Tells whether MAIL FROM had the `REQUIRETLS` parameter (RFC 8689): the
 * message must then only travel over TLS with a verified certificate, to
 * servers that offer REQUIRETLS themselves.
 *
 * Returns: whether the message requires TLS
 */
gboolean
vsmtp_envelope_get_requiretls (VsmtpEnvelope *self)
{
  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), FALSE);

  return g_hash_table_contains (vsmtp_envelope_get_mail_parameters (self), "REQUIRETLS");
}

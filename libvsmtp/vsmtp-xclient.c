/* vsmtp-xclient.c: the XCLIENT command (Postfix's XCLIENT_README): a proxy
 * in front of the server (nginx's mail proxy, a content filter) tells it
 * who the real client is
 *
 * The attribute parser, the built-in XCLIENT extension's "offered" check,
 * the command and what it changes in the session: the client's address
 * and port, its host name, its HELO name, the protocol, the login, the
 * address the client connected to. Shares the session's instance
 * (vsmtp-session-struct-private.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-error.h"
#include "vsmtp-extension-private.h"
#include "vsmtp-listen-options-private.h"
#include "vsmtp-session-struct-private.h"
#include "vsmtp-trace-private.h"
#include "vsmtp-xclient-private.h"

/* by the short name this unit uses */
static GParamSpec **const properties = _vsmtp_session_properties;

#define UNAVAILABLE  "[UNAVAILABLE]"
#define TEMPUNAVAIL  "[TEMPUNAVAIL]"

/* What XCLIENT said in a session, and what the session learnt from its
 * socket for it (allocated when first needed). */
struct _VsmtpSessionXclient
{
  GSocketAddress *peer_address;    /* the socket's peer: who is trusted */
  GSocketAddress *local_address;   /* DESTADDR/DESTPORT, or the socket's */
  char           *name;            /* NAME, NULL when unknown */
  char           *helo;            /* HELO: takes precedence over the next HELO/EHLO's */
  char           *login;           /* LOGIN */
  gint            proto;           /* PROTO: -1 not given, 0 SMTP, 1 ESMTP */
  guint           peer_known : 1;
  guint           local_known : 1;
  guint           used : 1;        /* an XCLIENT command succeeded */
};

/* ------------------------------------------------------------------------ */
/* The attributes                                                           */

/* xtext (RFC 3461 4): "+" and two hexadecimal digits for an octet, the
 * printable characters but "+" and "=" as themselves. NULL when malformed,
 * or when it encodes a NUL. */
static char *
xtext_decode (const char *text,
              gsize       length)
{
  g_autoptr(GString) decoded = g_string_sized_new (length);

  for (gsize i = 0; i < length; i++)
    {
      guchar c = text[i];

      if (c == '+')
        {
          int high = i + 1 < length ? g_ascii_xdigit_value (text[i + 1]) : -1;
          int low = high >= 0 && i + 2 < length ? g_ascii_xdigit_value (text[i + 2]) : -1;

          if (low < 0 || (high == 0 && low == 0))
            return NULL;
          g_string_append_c (decoded, (char) (high << 4 | low));
          i += 2;
        }
      else if (c < 33 || c > 126 || c == '=')
        return NULL;
      else
        g_string_append_c (decoded, (char) c);
    }
  return g_string_free (g_steal_pointer (&decoded), FALSE);
}

/* A host name: dot-separated labels of letters, digits, "-" and "_", at
 * most 63 octets each and 255 in all, no label starting or ending with
 * "-". */
static gboolean
is_host_name (const char *name)
{
  gsize label = 0;
  gsize length = 0;
  char previous = '.';

  for (const char *p = name; *p != '\0'; previous = *p++, length++)
    {
      if (*p == '.')
        {
          if (label == 0 || previous == '-')
            return FALSE;
          label = 0;
        }
      else if ((*p == '-' && label == 0) ||
               !(g_ascii_isalnum (*p) || *p == '-' || *p == '_') ||
               ++label > 63)
        return FALSE;
    }
  return label > 0 && previous != '-' && length <= VSMTP_XCLIENT_VALUE_MAX;
}

/* HELO: printable ASCII, no space (an address literal "[192.0.2.1]" too) */
static gboolean
is_helo (const char *helo)
{
  gsize length = 0;

  for (const char *p = helo; *p != '\0'; p++, length++)
    if ((guchar) *p < 33 || (guchar) *p > 126)
      return FALSE;
  return length > 0 && length <= VSMTP_XCLIENT_VALUE_MAX;
}

/* LOGIN: UTF-8 without control characters */
static gboolean
is_login (const char *login)
{
  gsize length = strlen (login);

  if (length == 0 || length > VSMTP_XCLIENT_VALUE_MAX || !g_utf8_validate (login, length, NULL))
    return FALSE;
  for (const char *p = login; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* ADDR, DESTADDR: dotted IPv4, or "IPV6:" and an IPv6 address (any case) */
static GInetAddress *
parse_address (const char *text)
{
  GSocketFamily family = G_SOCKET_FAMILY_IPV4;
  GInetAddress *address;

  if (g_ascii_strncasecmp (text, "IPV6:", 5) == 0)
    {
      text += 5;
      family = G_SOCKET_FAMILY_IPV6;
    }
  /* no scope ("%eth0"), no brackets: the bare address */
  if (strpbrk (text, "%[]") != NULL || *text == '\0')
    return NULL;
  address = g_inet_address_new_from_string (text);
  if (address != NULL && g_inet_address_get_family (address) != family)
    g_clear_object (&address);
  return address;
}

/* PORT, DESTPORT: 1 to 65535 */
static gboolean
parse_port (const char *text,
            guint16    *port)
{
  guint64 value;

  if (strlen (text) > 5 || !g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL))
    return FALSE;
  *port = (guint16) value;
  return TRUE;
}

typedef struct {
  const char            *name;
  VsmtpXclientAttribute  attribute;
  gboolean               temporary_ok;   /* takes [TEMPUNAVAIL] as well */
} AttributeName;

static const AttributeName attribute_names[] = {
  { "NAME", VSMTP_XCLIENT_NAME, TRUE },
  { "ADDR", VSMTP_XCLIENT_ADDR, FALSE },
  { "PORT", VSMTP_XCLIENT_PORT, FALSE },
  { "PROTO", VSMTP_XCLIENT_PROTO, FALSE },
  { "HELO", VSMTP_XCLIENT_HELO, FALSE },
  { "LOGIN", VSMTP_XCLIENT_LOGIN, FALSE },
  { "DESTADDR", VSMTP_XCLIENT_DESTADDR, FALSE },
  { "DESTPORT", VSMTP_XCLIENT_DESTPORT, FALSE },
};

static void
take_string (char **field,
             char  *value)
{
  g_free (*field);
  *field = value;
}

static void
take_address (GInetAddress **field,
              GInetAddress  *value)
{
  g_clear_object (field);
  *field = value;
}

/* One attribute's decoded @value (NULL: unavailable) into @attributes:
 * FALSE when it is not a valid value of that attribute. */
static gboolean
set_attribute (VsmtpXclientAttributes *attributes,
               VsmtpXclientAttribute   attribute,
               char                   *value)
{
  g_autofree char *owned = value;
  GInetAddress *address = NULL;
  guint16 port = 0;

  switch (attribute)
    {
    case VSMTP_XCLIENT_NAME:
      if (value != NULL && !is_host_name (value))
        return FALSE;
      take_string (&attributes->name, g_steal_pointer (&owned));
      break;
    case VSMTP_XCLIENT_HELO:
      if (value != NULL && !is_helo (value))
        return FALSE;
      take_string (&attributes->helo, g_steal_pointer (&owned));
      break;
    case VSMTP_XCLIENT_LOGIN:
      if (value != NULL && !is_login (value))
        return FALSE;
      take_string (&attributes->login, g_steal_pointer (&owned));
      break;
    case VSMTP_XCLIENT_ADDR:
    case VSMTP_XCLIENT_DESTADDR:
      if (value != NULL && (address = parse_address (value)) == NULL)
        return FALSE;
      take_address (attribute == VSMTP_XCLIENT_ADDR ? &attributes->addr : &attributes->destaddr,
                    address);
      break;
    case VSMTP_XCLIENT_PORT:
    case VSMTP_XCLIENT_DESTPORT:
      if (value != NULL && !parse_port (value, &port))
        return FALSE;
      if (attribute == VSMTP_XCLIENT_PORT)
        attributes->port = port;
      else
        attributes->destport = port;
      break;
    case VSMTP_XCLIENT_PROTO:
      if (value != NULL && g_ascii_strcasecmp (value, "ESMTP") == 0)
        attributes->esmtp = TRUE;
      else if (value != NULL && g_ascii_strcasecmp (value, "SMTP") == 0)
        attributes->esmtp = FALSE;
      else
        return FALSE;
      break;
    default:
      g_assert_not_reached ();
    }
  attributes->given |= attribute;
  return TRUE;
}

void
_vsmtp_xclient_attributes_clear (VsmtpXclientAttributes *attributes)
{
  g_clear_pointer (&attributes->name, g_free);
  g_clear_pointer (&attributes->helo, g_free);
  g_clear_pointer (&attributes->login, g_free);
  g_clear_object (&attributes->addr);
  g_clear_object (&attributes->destaddr);
  memset (attributes, 0, sizeof *attributes);
}

static gboolean
parse_word (const char              *word,
            gsize                    length,
            VsmtpXclientAttributes  *attributes,
            GError                 **error)
{
  const char *equals = memchr (word, '=', length);
  const char *raw;
  gsize name_length, raw_length;
  const AttributeName *attribute = NULL;
  char *value = NULL;

  if (equals == NULL || equals == word)
    {
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "Syntax: XCLIENT attribute=value ...");
      return FALSE;
    }
  name_length = equals - word;
  raw = equals + 1;
  raw_length = length - name_length - 1;

  for (gsize i = 0; i < G_N_ELEMENTS (attribute_names); i++)
    if (strlen (attribute_names[i].name) == name_length &&
        g_ascii_strncasecmp (word, attribute_names[i].name, name_length) == 0)
      attribute = &attribute_names[i];
  if (attribute == NULL)
    {
      gboolean printable = TRUE;

      /* the name echoed when it is printable (the session refuses control
       * characters before, but the parser does not count on it), and not
       * so much of it that the reply line is too long */
      for (gsize i = 0; i < name_length; i++)
        printable &= (guchar) word[i] > 32 && (guchar) word[i] < 127;
      if (printable)
        g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                     "Bad XCLIENT attribute name: %.*s%s", (int) MIN (name_length, 32), word,
                     name_length > 32 ? "..." : "");
      else
        g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX, "Bad XCLIENT attribute name");
      return FALSE;
    }

  /* the markers are compared before decoding, as sent */
  if ((raw_length == strlen (UNAVAILABLE) && memcmp (raw, UNAVAILABLE, raw_length) == 0) ||
      (attribute->temporary_ok &&
       raw_length == strlen (TEMPUNAVAIL) && memcmp (raw, TEMPUNAVAIL, raw_length) == 0))
    value = NULL;
  else if ((value = xtext_decode (raw, raw_length)) == NULL || *value == '\0')
    {
      g_free (value);
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX, "Bad %s syntax", attribute->name);
      return FALSE;
    }

  if (value == NULL && attribute->attribute == VSMTP_XCLIENT_PROTO)
    {
      /* SMTP or ESMTP, nothing else (XCLIENT_README) */
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX, "Bad %s syntax", attribute->name);
      return FALSE;
    }
  if (!set_attribute (attributes, attribute->attribute, value))
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX, "Bad %s syntax", attribute->name);
      return FALSE;
    }
  return TRUE;
}

gboolean
_vsmtp_xclient_parse (const char              *args,
                      VsmtpXclientAttributes  *attributes,
                      GError                 **error)
{
  const char *p = args;

  g_return_val_if_fail (args != NULL, FALSE);
  g_return_val_if_fail (attributes != NULL, FALSE);

  memset (attributes, 0, sizeof *attributes);
  while (*p == ' ')
    p++;
  if (*p == '\0')
    {
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "Syntax: XCLIENT attribute=value ...");
      return FALSE;
    }

  while (*p != '\0')
    {
      const char *end = strchr (p, ' ');
      gsize length = end ? (gsize) (end - p) : strlen (p);

      if (!parse_word (p, length, attributes, error))
        {
          _vsmtp_xclient_attributes_clear (attributes);
          return FALSE;
        }
      p += length;
      while (*p == ' ')
        p++;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The session's side                                                       */

static VsmtpSessionXclient *
session_xclient (VsmtpSession *self)
{
  if (self->xclient == NULL)
    {
      self->xclient = g_new0 (VsmtpSessionXclient, 1);
      self->xclient->proto = -1;
    }
  return self->xclient;
}

void
_vsmtp_session_xclient_free (VsmtpSessionXclient *xclient)
{
  if (xclient == NULL)
    return;
  g_clear_object (&xclient->peer_address);
  g_clear_object (&xclient->local_address);
  g_free (xclient->name);
  g_free (xclient->helo);
  g_free (xclient->login);
  g_free (xclient);
}

/* The session's socket's remote or local address (transfer full), NULL
 * when its stream is not a socket */
static GSocketAddress *
session_socket_address (VsmtpSession *self,
                        gboolean      remote)
{
  GIOStream *stream = vsmtp_session_get_stream (self);

  if (!G_IS_SOCKET_CONNECTION (stream))
    return NULL;
  return remote ? g_socket_connection_get_remote_address (G_SOCKET_CONNECTION (stream), NULL)
                : g_socket_connection_get_local_address (G_SOCKET_CONNECTION (stream), NULL);
}

/* The socket's peer: the connection's own remote address when it is a
 * socket, else the address the session was started with (before XCLIENT
 * changed it: this is asked before XCLIENT is accepted). */
static GSocketAddress *
session_peer_address (VsmtpSession *self)
{
  VsmtpSessionXclient *xclient = session_xclient (self);

  if (!xclient->peer_known)
    {
      xclient->peer_known = TRUE;
      xclient->peer_address = session_socket_address (self, TRUE);
      if (xclient->peer_address == NULL && self->remote_address != NULL)
        xclient->peer_address = g_object_ref (self->remote_address);
    }
  return xclient->peer_address;
}

/* The socket's local address, or what DESTADDR and DESTPORT made of it */
static GSocketAddress *
session_local_address (VsmtpSession *self)
{
  VsmtpSessionXclient *xclient = session_xclient (self);

  if (!xclient->local_known)
    {
      xclient->local_known = TRUE;
      xclient->local_address = session_socket_address (self, FALSE);
    }
  return xclient->local_address;
}

gboolean
_vsmtp_xclient_offered (VsmtpSession        *session,
                        const VsmtpSettings *settings)
{
  VsmtpListenOptions *options = session->listen_options;
  const char * const *trusted;
  GSocketAddress *peer;

  if (options == NULL)
    return FALSE;
  /* most listeners trust nobody: no look at the socket then */
  trusted = vsmtp_listen_options_get_xclient_trusted (options);
  if (trusted == NULL || trusted[0] == NULL)
    return FALSE;
  /* a UNIX-domain peer is NULL (trusted when the list holds "unix") */
  peer = session_peer_address (session);
  return _vsmtp_listen_options_xclient_trusts (options,
                                               G_IS_INET_SOCKET_ADDRESS (peer)
                                               ? g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer))
                                               : NULL);
}

static const char *
ip_or_unknown (const char *ip)
{
  return ip != NULL ? ip : "unknown";
}

static char *
address_to_ip (GSocketAddress *address)
{
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return NULL;
  return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
}

/* @address with what an XCLIENT command gave: its address (@given_address,
 * NULL for [UNAVAILABLE]) and its port (@given_port, 0 for [UNAVAILABLE]).
 * A new address without a port has an unknown port (0): the proxy's own
 * port says nothing of the client's. NULL: no address known. */
static GSocketAddress *
replace_address (GSocketAddress *address,
                 gboolean        address_given,
                 GInetAddress   *given_address,
                 gboolean        port_given,
                 guint16         given_port)
{
  GInetAddress *inet = NULL;
  guint16 port = 0;

  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
      port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
    }
  if (address_given)
    {
      inet = given_address;
      port = 0;
    }
  if (port_given)
    port = given_port;
  if (inet == NULL)
    return NULL;
  return g_inet_socket_address_new (inet, port);
}

/* The per-client connection count follows the client: the session stops
 * counting against the proxy's address and counts against the new one,
 * under the same max-connections-per-client limit. FALSE (nothing
 * counted any more) when the new address is at its limit. */
static gboolean
session_move_count (VsmtpSession *self,
                    const char   *new_ip)
{
  guint limit = self->settings->limits.max_connections_per_client;

  if (g_strcmp0 (self->remote_ip, new_ip) == 0)
    return TRUE;
  if (self->counted)
    {
      _vsmtp_client_tracker_connection_closed (self->clients, self->remote_ip);
      self->counted = FALSE;
    }
  if (new_ip == NULL)
    return TRUE;
  if (limit > 0 && _vsmtp_client_tracker_get_connections (self->clients, new_ip) >= limit)
    return FALSE;
  _vsmtp_client_tracker_connection_opened (self->clients, new_ip);
  self->counted = TRUE;
  return TRUE;
}

static void
then_xclient_greeting (VsmtpSession *self,
                       VsmtpReply   *reply)
{
  if (vsmtp_reply_get_code (reply) != 220)
    {
      _vsmtp_session_close_after_flush (self, reply);
      return;
    }
  session_queue (self, reply);
  session_set_state (self, VSMTP_SESSION_STATE_INIT);
}

static void
session_log_xclient (VsmtpSession *self,
                     const char   *proxy_ip)
{
  VsmtpSessionXclient *xclient = self->xclient;
  g_autofree char *helo = xclient->helo ? vsmtp_log_escape (xclient->helo, -1) : NULL;
  g_autofree char *login = self->auth_user ? vsmtp_log_escape (self->auth_user, -1) : NULL;
  guint16 port = G_IS_INET_SOCKET_ADDRESS (self->remote_address)
    ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (self->remote_address)) : 0;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "VSMTP_SESSION_ID", self->id,
                    "MESSAGE", "%s: XCLIENT from [%s]: client=%s[%s]:%u helo=%s login=%s",
                    self->id, ip_or_unknown (proxy_ip),
                    xclient->name ? xclient->name : "unknown", ip_or_unknown (self->remote_ip),
                    port, helo ? helo : "(none)", login ? login : "(none)");
}

/* What an accepted XCLIENT command changes; FALSE when the session was
 * refused instead (the new address is over its connection limit). */
static gboolean
session_apply_xclient (VsmtpSession           *self,
                       VsmtpXclientAttributes *attributes)
{
  VsmtpSessionXclient *xclient = session_xclient (self);
  g_autofree char *proxy_ip = g_strdup (self->remote_ip);
  guint given = attributes->given;

  if (given & (VSMTP_XCLIENT_ADDR | VSMTP_XCLIENT_PORT))
    {
      g_autoptr(GSocketAddress) address =
        replace_address (self->remote_address,
                         (given & VSMTP_XCLIENT_ADDR) != 0, attributes->addr,
                         (given & VSMTP_XCLIENT_PORT) != 0, attributes->port);
      g_autofree char *ip = address_to_ip (address);

      if (!session_move_count (self, ip))
        {
          g_autoptr(VsmtpReply) bye =
            vsmtp_reply_new_printf (421, "4.7.0", "%s Error: too many connections from %s",
                                    session_hostname (self), ip);

          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                            "VSMTP_SESSION_ID", self->id,
                            "MESSAGE", "%s: XCLIENT from [%s]: too many connections from [%s]",
                            self->id, ip_or_unknown (proxy_ip), ip);
          _vsmtp_session_close_after_flush (self, bye);
          return FALSE;
        }
      g_clear_object (&self->remote_address);
      self->remote_address = g_steal_pointer (&address);
      g_free (self->remote_ip);
      self->remote_ip = g_steal_pointer (&ip);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMOTE_ADDRESS]);
    }

  if (given & (VSMTP_XCLIENT_DESTADDR | VSMTP_XCLIENT_DESTPORT))
    {
      GSocketAddress *local =
        replace_address (session_local_address (self),
                         (given & VSMTP_XCLIENT_DESTADDR) != 0, attributes->destaddr,
                         (given & VSMTP_XCLIENT_DESTPORT) != 0, attributes->destport);

      g_clear_object (&xclient->local_address);
      xclient->local_address = local;
    }
  if (given & VSMTP_XCLIENT_NAME)
    take_string (&xclient->name, g_steal_pointer (&attributes->name));
  if (given & VSMTP_XCLIENT_HELO)
    take_string (&xclient->helo, g_steal_pointer (&attributes->helo));
  if (given & VSMTP_XCLIENT_LOGIN)
    take_string (&xclient->login, g_steal_pointer (&attributes->login));
  if (given & VSMTP_XCLIENT_PROTO)
    xclient->proto = attributes->esmtp ? 1 : 0;

  /* a fresh session, as if the client had just connected: it greets
   * again; what the proxy itself did (its EHLO, an AUTH) is forgotten,
   * and XCLIENT's LOGIN, if any, is the client's authentication */
  if (g_strcmp0 (self->auth_user, xclient->login) != 0)
    {
      g_free (self->auth_user);
      self->auth_user = g_strdup (xclient->login);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTHENTICATED_USER]);
    }
  g_clear_pointer (&self->auth_mechanism, g_free);
  if (self->helo != NULL)
    {
      g_clear_pointer (&self->helo, g_free);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HELO]);
    }
  self->esmtp = FALSE;
  _vsmtp_session_reset_transaction (self);
  if (!xclient->used)
    {
      xclient->used = TRUE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_XCLIENT]);
    }

  session_log_xclient (self, proxy_ip);
  return TRUE;
}

void
_vsmtp_session_handle_xclient (VsmtpSession *self,
                               const char   *args)
{
  VsmtpXclientAttributes attributes;
  g_autoptr(GError) error = NULL;

  if (!_vsmtp_extension_registry_offers (self->settings->extensions, self, "XCLIENT"))
    {
      GSocketAddress *peer = session_peer_address (self);
      g_autofree char *peer_ip = address_to_ip (peer);

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", self->id,
                        "MESSAGE", "%s: XCLIENT refused from [%s]: not an xclient-trusted peer",
                        self->id, ip_or_unknown (peer_ip));
      session_queue_new (self, 550, "5.7.0", "Error: insufficient authorization");
      return;
    }
  if (self->state == VSMTP_SESSION_STATE_MAIL || self->state == VSMTP_SESSION_STATE_RCPT)
    {
      session_queue_new (self, 503, "5.5.1", "Error: MAIL transaction in progress");
      return;
    }
  if (!_vsmtp_xclient_parse (args, &attributes, &error))
    {
      session_queue_new (self, 501, "5.5.4", error->message);
      return;
    }

  if (session_apply_xclient (self, &attributes))
    {
      /* the new client is greeted: "connected" handlers decide about it */
      session_set_state (self, VSMTP_SESSION_STATE_GREETING);
      EMIT_DECISION (SIGNAL_CONNECTED, then_xclient_greeting, _vsmtp_session_real_connected (self));
    }
  _vsmtp_xclient_attributes_clear (&attributes);
}

char *
_vsmtp_session_xclient_take_helo (VsmtpSession *self,
                                  char         *domain)
{
  if (self->xclient == NULL || self->xclient->helo == NULL)
    return domain;
  g_free (domain);
  return g_strdup (self->xclient->helo);
}

const char *
_vsmtp_session_xclient_get_name (VsmtpSession *self)
{
  return self->xclient != NULL ? self->xclient->name : NULL;
}

gboolean
_vsmtp_session_xclient_get_esmtp (VsmtpSession *self,
                                  gboolean      esmtp)
{
  if (self->xclient == NULL || self->xclient->proto < 0)
    return esmtp;
  return self->xclient->proto == 1;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

/**
 * vsmtp_session_get_xclient:
 * @self: a session
 *
 * Whether a trusted proxy said who the client is with the `XCLIENT`
 * command (Postfix's XCLIENT extension, as nginx's mail proxy sends it):
 * the session's [property@Vsmtp.Session:remote-address], its
 * [method@Vsmtp.Session.get_remote_ip], [method@Vsmtp.Session.get_helo],
 * [method@Vsmtp.Session.get_client_name],
 * [method@Vsmtp.Session.get_local_address] and
 * [method@Vsmtp.Session.get_authenticated_user] are then the real
 * client's, and [method@Vsmtp.Session.get_peer_address] is the proxy's.
 *
 * Returns: %TRUE once an `XCLIENT` command was accepted in this session
 */
gboolean
vsmtp_session_get_xclient (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), FALSE);
  return self->xclient != NULL && self->xclient->used;
}

/**
 * vsmtp_session_get_peer_address:
 * @self: a session
 *
 * The address of the connection's other end: the same as
 * [property@Vsmtp.Session:remote-address] until a proxy replaces the
 * latter with `XCLIENT`; the proxy's then. The `xclient-trusted` list of a
 * listener is checked against this address.
 *
 * Returns: (transfer none) (nullable): the peer's address, if known
 */
GSocketAddress *
vsmtp_session_get_peer_address (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return session_peer_address (self);
}

/**
 * vsmtp_session_get_local_address:
 * @self: a session
 *
 * The server's address the client connected to: the socket's local
 * address, or the `DESTADDR` and `DESTPORT` a proxy gave with `XCLIENT`.
 *
 * Returns: (transfer none) (nullable): the address, or %NULL when unknown
 *   (a stream that is not a socket, `DESTADDR=[UNAVAILABLE]`)
 */
GSocketAddress *
vsmtp_session_get_local_address (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return session_local_address (self);
}

/**
 * vsmtp_session_get_client_name:
 * @self: a session
 *
 * The client's host name, as a proxy gave it with `XCLIENT NAME=`. The
 * server does not look names up itself.
 *
 * Returns: (nullable): the client's host name, or %NULL when unknown
 */
const char *
vsmtp_session_get_client_name (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  return _vsmtp_session_xclient_get_name (self);
}

/* vsmtp-proxy-protocol.c: the PROXY protocol header (HAProxy's
 * proxy-protocol.txt, versions 1 and 2): a pure parser and the header
 * object that sessions expose
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <gio/gunixsocketaddress.h>

#include "vsmtp-error.h"
#include "vsmtp-proxy-protocol-private.h"

/* proxy-protocol.txt, 2.2 */
static const guint8 v2_signature[12] = {
  0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};
#define V1_PREFIX     "PROXY "
#define V1_MIN_LENGTH 15   /* "PROXY UNKNOWN\r\n": no header is shorter */

enum {
  PP2_TYPE_ALPN           = 0x01,
  PP2_TYPE_AUTHORITY      = 0x02,
  PP2_TYPE_CRC32C         = 0x03,
  PP2_TYPE_UNIQUE_ID      = 0x05,
  PP2_TYPE_SSL            = 0x20,
  PP2_SUBTYPE_SSL_VERSION = 0x21,
  PP2_SUBTYPE_SSL_CN      = 0x22,
  PP2_SUBTYPE_SSL_CIPHER  = 0x23,
  PP2_SUBTYPE_SSL_SIG_ALG = 0x24,
  PP2_SUBTYPE_SSL_KEY_ALG = 0x25,
};

/**
 * VsmtpProxyHeader:
 *
 * What a proxy in front of the server (HAProxy, a cloud load balancer) said
 * about a connection in its PROXY protocol header, on a listener with
 * [property@Vsmtp.ListenOptions:proxy-protocol] on: the client's and the
 * destination's addresses and, with version 2, the TLVs (the TLS the client
 * used with the proxy, the ALPN, the authority, a unique id).
 *
 * The session's remote address is the header's source address already
 * (unless the header is `LOCAL`, a health check, or gives no address);
 * [method@Vsmtp.Session.get_proxy_header] gives the rest.
 */
struct _VsmtpProxyHeader
{
  GObject             parent_instance;

  guint               version;
  gboolean            local;
  GSocketAddress     *source;
  GSocketAddress     *destination;
  GSocketAddress     *peer;
  GHashTable         *tlvs;          /* type → GBytes */
  char               *alpn;
  char               *authority;
  gboolean            has_ssl;
  VsmtpProxySslFlags  ssl_flags;
  guint32             ssl_verify;
  char               *ssl_strings[5]; /* version, CN, cipher, sig alg, key alg */
};

G_DEFINE_FINAL_TYPE (VsmtpProxyHeader, vsmtp_proxy_header, G_TYPE_OBJECT)

static void
vsmtp_proxy_header_finalize (GObject *object)
{
  VsmtpProxyHeader *self = VSMTP_PROXY_HEADER (object);

  g_clear_object (&self->source);
  g_clear_object (&self->destination);
  g_clear_object (&self->peer);
  g_clear_pointer (&self->tlvs, g_hash_table_unref);
  g_free (self->alpn);
  g_free (self->authority);
  for (guint i = 0; i < G_N_ELEMENTS (self->ssl_strings); i++)
    g_free (self->ssl_strings[i]);

  G_OBJECT_CLASS (vsmtp_proxy_header_parent_class)->finalize (object);
}

static void
vsmtp_proxy_header_class_init (VsmtpProxyHeaderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vsmtp_proxy_header_finalize;
}

static void
vsmtp_proxy_header_init (VsmtpProxyHeader *self)
{
  self->tlvs = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_bytes_unref);
}

/* ------------------------------------------------------------------------ */
/* Scanning                                                                 */

static gboolean
has_prefix (const guint8 *data,
            gsize         length,
            const void   *prefix,
            gsize         prefix_length)
{
  return memcmp (data, prefix, MIN (length, prefix_length)) == 0;
}

static VsmtpProxyScan
scan_error (GError     **error,
            const char  *message)
{
  g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX, message);
  return VSMTP_PROXY_SCAN_ERROR;
}

VsmtpProxyScan
_vsmtp_proxy_scan (const guint8      *data,
                   gsize              length,
                   VsmtpProxyAccept   accept,
                   gsize             *want,
                   gboolean          *exact,
                   GError           **error)
{
  *exact = TRUE;

  if (length == 0)
    {
      *want = V1_MIN_LENGTH;
      return VSMTP_PROXY_SCAN_MORE;
    }

  if (has_prefix (data, length, v2_signature, sizeof v2_signature))
    {
      gsize total;

      if (!(accept & VSMTP_PROXY_ACCEPT_V2))
        return scan_error (error, "PROXY protocol version 2 header where version 1 is expected");
      if (length < VSMTP_PROXY_V2_FIXED)
        {
          *want = VSMTP_PROXY_V2_FIXED - length;
          return VSMTP_PROXY_SCAN_MORE;
        }
      if ((data[12] & 0xF0) != 0x20)
        return scan_error (error, "PROXY protocol version 2 header of an unknown version");
      total = VSMTP_PROXY_V2_FIXED + ((gsize) data[14] << 8 | data[15]);
      if (total - VSMTP_PROXY_V2_FIXED > VSMTP_PROXY_V2_MAX_LENGTH)
        return scan_error (error, "PROXY protocol version 2 header too long");
      *want = total > length ? total - length : total;
      return total > length ? VSMTP_PROXY_SCAN_MORE : VSMTP_PROXY_SCAN_COMPLETE;
    }

  if (has_prefix (data, length, V1_PREFIX, strlen (V1_PREFIX)))
    {
      const guint8 *lf;

      if (!(accept & VSMTP_PROXY_ACCEPT_V1))
        return scan_error (error, "PROXY protocol version 1 header where version 2 is expected");
      lf = memchr (data, '\n', MIN (length, VSMTP_PROXY_V1_MAX));
      if (lf != NULL)
        {
          if (lf == data || lf[-1] != '\r')
            return scan_error (error, "PROXY protocol version 1 header not ended by CRLF");
          /* shorter than any header (its first bytes were read at once) */
          if ((gsize) (lf - data + 1) < V1_MIN_LENGTH)
            return scan_error (error, "PROXY protocol version 1 header too short");
          *want = lf - data + 1;
          return VSMTP_PROXY_SCAN_COMPLETE;
        }
      if (length >= VSMTP_PROXY_V1_MAX)
        return scan_error (error, "PROXY protocol version 1 header too long");
      if (length < V1_MIN_LENGTH)
        {
          *want = V1_MIN_LENGTH - length;
          return VSMTP_PROXY_SCAN_MORE;
        }
      *want = VSMTP_PROXY_V1_MAX - length;
      *exact = FALSE;
      return VSMTP_PROXY_SCAN_MORE;
    }

  return scan_error (error, "no PROXY protocol header");
}

/* ------------------------------------------------------------------------ */
/* Version 1                                                                */

static gboolean
parse_port (const char *text,
            guint16    *port)
{
  guint64 value;

  if (text[0] == '\0' || strlen (text) > 5 || (text[0] == '0' && text[1] != '\0'))
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  value = g_ascii_strtoull (text, NULL, 10);
  if (value > 65535)
    return FALSE;
  *port = value;
  return TRUE;
}

static GSocketAddress *
parse_v1_address (const char     *address,
                  const char     *port,
                  GSocketFamily   family)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
  guint16 number;

  if (inet == NULL || g_inet_address_get_family (inet) != family || !parse_port (port, &number))
    return NULL;
  return g_inet_socket_address_new (inet, number);
}

static VsmtpProxyHeader *
parse_v1 (const guint8  *data,
          gsize          length,
          GError       **error)
{
  g_autoptr(VsmtpProxyHeader) self = g_object_new (VSMTP_TYPE_PROXY_HEADER, NULL);
  g_autofree char *line = NULL;
  g_auto(GStrv) fields = NULL;
  GSocketFamily family;

  /* the scan found the CRLF at the end: no other CR, LF or NUL within */
  if (length < V1_MIN_LENGTH || length > VSMTP_PROXY_V1_MAX ||
      memchr (data, '\0', length) != NULL)
    goto malformed;
  line = g_strndup ((const char *) data, length - 2);
  if (strpbrk (line, "\r\n") != NULL)
    goto malformed;
  self->version = 1;

  if (g_str_has_prefix (line, "PROXY UNKNOWN") &&
      (line[13] == '\0' || line[13] == ' '))
    {
      /* the rest of the line is to be ignored: the connection's own
       * addresses stand */
      return g_steal_pointer (&self);
    }

  fields = g_strsplit (line, " ", -1);
  if (g_strv_length (fields) != 6)
    goto malformed;
  if (strcmp (fields[1], "TCP4") == 0)
    family = G_SOCKET_FAMILY_IPV4;
  else if (strcmp (fields[1], "TCP6") == 0)
    family = G_SOCKET_FAMILY_IPV6;
  else
    goto malformed;
  self->source = parse_v1_address (fields[2], fields[4], family);
  self->destination = parse_v1_address (fields[3], fields[5], family);
  if (self->source == NULL || self->destination == NULL)
    goto malformed;
  return g_steal_pointer (&self);

malformed:
  g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                       "malformed PROXY protocol version 1 header");
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Version 2                                                                */

/* CRC-32C (Castagnoli, reflected), as PP2_TYPE_CRC32C carries it; the
 * checksum field itself counts as zeros */
static guint32
crc32c (const guint8 *data,
        gsize         length,
        gsize         skip_from)
{
  guint32 crc = 0xFFFFFFFF;

  for (gsize i = 0; i < length; i++)
    {
      guint8 byte = (i >= skip_from && i < skip_from + 4) ? 0 : data[i];

      crc ^= byte;
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0x82F63B78 & (0 - (crc & 1)));
    }
  return crc ^ 0xFFFFFFFF;
}

static GSocketAddress *
inet_address_from_bytes (const guint8  *address,
                         const guint8  *port,
                         GSocketFamily  family)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_bytes (address, family);

  return g_inet_socket_address_new (inet, (guint16) (port[0] << 8 | port[1]));
}

static GSocketAddress *
unix_address_from_bytes (const guint8 *path)
{
  gsize length = strnlen ((const char *) path, 108);

  if (length == 0)
    return NULL;
  return g_unix_socket_address_new_with_type ((const char *) path, length,
                                              G_UNIX_SOCKET_ADDRESS_PATH);
}

/* a TLV's value as a string: NULL unless it is UTF-8 without NULs */
static char *
tlv_string (const guint8 *value,
            gsize         length)
{
  if (memchr (value, '\0', length) != NULL ||
      !g_utf8_validate ((const char *) value, length, NULL))
    return NULL;
  return g_strndup ((const char *) value, length);
}

static gboolean
parse_ssl (VsmtpProxyHeader *self,
           const guint8     *value,
           gsize             length)
{
  if (length < 5)
    return FALSE;
  self->has_ssl = TRUE;
  self->ssl_flags = value[0] & (VSMTP_PROXY_SSL_CLIENT_SSL | VSMTP_PROXY_SSL_CLIENT_CERT_CONN |
                                VSMTP_PROXY_SSL_CLIENT_CERT_SESS);
  self->ssl_verify = (guint32) value[1] << 24 | (guint32) value[2] << 16 |
                     (guint32) value[3] << 8 | value[4];
  for (gsize i = 5; i < length;)
    {
      guint type;
      gsize sub_length;

      if (length - i < 3)
        return FALSE;
      type = value[i];
      sub_length = (gsize) value[i + 1] << 8 | value[i + 2];
      i += 3;
      if (sub_length > length - i)
        return FALSE;
      if (type >= PP2_SUBTYPE_SSL_VERSION && type <= PP2_SUBTYPE_SSL_KEY_ALG)
        {
          char **slot = &self->ssl_strings[type - PP2_SUBTYPE_SSL_VERSION];

          g_free (*slot);
          *slot = tlv_string (value + i, sub_length);
        }
      i += sub_length;
    }
  return TRUE;
}

static gboolean
parse_tlvs (VsmtpProxyHeader  *self,
            const guint8      *header,
            gsize              offset,
            gsize              length,
            GError           **error)
{
  for (gsize i = offset; i < length;)
    {
      guint type;
      gsize value_length;
      const guint8 *value;

      if (length - i < 3)
        goto malformed;
      type = header[i];
      value_length = (gsize) header[i + 1] << 8 | header[i + 2];
      value = header + i + 3;
      if (value_length > length - i - 3)
        goto malformed;

      switch (type)
        {
        case PP2_TYPE_CRC32C:
          {
            guint32 expected;

            if (value_length != 4)
              goto malformed;
            expected = (guint32) value[0] << 24 | (guint32) value[1] << 16 |
                       (guint32) value[2] << 8 | value[3];
            if (crc32c (header, length, value - header) != expected)
              {
                g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                                     "PROXY protocol version 2 header with a wrong CRC32C");
                return FALSE;
              }
          }
          break;
        case PP2_TYPE_ALPN:
          g_free (self->alpn);
          self->alpn = tlv_string (value, value_length);
          break;
        case PP2_TYPE_AUTHORITY:
          g_free (self->authority);
          self->authority = tlv_string (value, value_length);
          break;
        case PP2_TYPE_UNIQUE_ID:
          if (value_length > 128)
            goto malformed;
          break;
        case PP2_TYPE_SSL:
          if (!parse_ssl (self, value, value_length))
            goto malformed;
          break;
        default:
          break;
        }
      g_hash_table_replace (self->tlvs, GUINT_TO_POINTER (type),
                            g_bytes_new (value, value_length));
      i += 3 + value_length;
    }
  return TRUE;

malformed:
  g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                       "PROXY protocol version 2 header with malformed TLVs");
  return FALSE;
}

static VsmtpProxyHeader *
parse_v2 (const guint8  *data,
          gsize          length,
          GError       **error)
{
  g_autoptr(VsmtpProxyHeader) self = g_object_new (VSMTP_TYPE_PROXY_HEADER, NULL);
  guint command = data[12] & 0x0F;
  guint family = data[13] >> 4;
  guint transport = data[13] & 0x0F;
  gsize address_length;
  const guint8 *a = data + VSMTP_PROXY_V2_FIXED;

  self->version = 2;
  if ((data[12] & 0xF0) != 0x20 || command > 1 ||
      length != VSMTP_PROXY_V2_FIXED + ((gsize) data[14] << 8 | data[15]))
    goto malformed;

  if (command == 0)
    {
      /* LOCAL: the proxy's own connection (a health check); what follows
       * is to be ignored */
      self->local = TRUE;
      return g_steal_pointer (&self);
    }

  switch (family)
    {
    case 0x0: address_length = 0; break;     /* AF_UNSPEC: no address */
    case 0x1: address_length = 12; break;    /* AF_INET */
    case 0x2: address_length = 36; break;    /* AF_INET6 */
    case 0x3: address_length = 216; break;   /* AF_UNIX */
    default: goto malformed;
    }
  /* SMTP runs over streams: a datagram connection is not ours */
  if ((family != 0 && transport != 0x1) || (family == 0 && transport > 0x1) ||
      length - VSMTP_PROXY_V2_FIXED < address_length)
    goto malformed;

  switch (family)
    {
    case 0x1:
      self->source = inet_address_from_bytes (a, a + 8, G_SOCKET_FAMILY_IPV4);
      self->destination = inet_address_from_bytes (a + 4, a + 10, G_SOCKET_FAMILY_IPV4);
      break;
    case 0x2:
      self->source = inet_address_from_bytes (a, a + 32, G_SOCKET_FAMILY_IPV6);
      self->destination = inet_address_from_bytes (a + 16, a + 34, G_SOCKET_FAMILY_IPV6);
      break;
    case 0x3:
      self->source = unix_address_from_bytes (a);
      self->destination = unix_address_from_bytes (a + 108);
      break;
    default:
      break;
    }

  if (!parse_tlvs (self, data, VSMTP_PROXY_V2_FIXED + address_length, length, error))
    return NULL;
  return g_steal_pointer (&self);

malformed:
  g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                       "malformed PROXY protocol version 2 header");
  return NULL;
}

VsmtpProxyHeader *
_vsmtp_proxy_parse (const guint8    *data,
                    gsize            length,
                    GSocketAddress  *peer,
                    GError         **error)
{
  VsmtpProxyHeader *header;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (length >= VSMTP_PROXY_V2_FIXED && memcmp (data, v2_signature, sizeof v2_signature) == 0)
    header = parse_v2 (data, length, error);
  else if (length >= strlen (V1_PREFIX) && memcmp (data, V1_PREFIX, strlen (V1_PREFIX)) == 0)
    header = parse_v1 (data, length, error);
  else
    {
      g_set_error_literal (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX, "no PROXY protocol header");
      return NULL;
    }
  if (header != NULL && peer != NULL)
    header->peer = g_object_ref (peer);
  return header;
}

/* ------------------------------------------------------------------------ */
/* Getters                                                                  */

/**
 * vsmtp_proxy_header_get_version:
 * @self: a header
 *
 * Returns: 1 or 2, the header's PROXY protocol version
 */
guint
vsmtp_proxy_header_get_version (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), 0);
  return self->version;
}

/**
 * vsmtp_proxy_header_is_local:
 * @self: a header
 *
 * A `LOCAL` header (version 2) is the proxy's own connection, a health
 * check: its session keeps the socket's addresses.
 *
 * Returns: whether the header is a `LOCAL` one
 */
gboolean
vsmtp_proxy_header_is_local (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), FALSE);
  return self->local;
}

/**
 * vsmtp_proxy_header_get_source_address:
 * @self: a header
 *
 * The client's address as the proxy saw it: a [class@Gio.InetSocketAddress]
 * (or, for a version 2 `AF_UNIX` header, a [class@Gio.UnixSocketAddress]).
 *
 * Returns: (transfer none) (nullable): the address, %NULL for `LOCAL`,
 *   `UNKNOWN` and `AF_UNSPEC` headers
 */
GSocketAddress *
vsmtp_proxy_header_get_source_address (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), NULL);
  return self->source;
}

/**
 * vsmtp_proxy_header_get_destination_address:
 * @self: a header
 *
 * The address the client connected to, on the proxy.
 *
 * Returns: (transfer none) (nullable): the address, %NULL when the header
 *   gives none
 */
GSocketAddress *
vsmtp_proxy_header_get_destination_address (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), NULL);
  return self->destination;
}

/**
 * vsmtp_proxy_header_get_peer_address:
 * @self: a header
 *
 * The address of the proxy itself: the socket's peer, that sent the header.
 *
 * Returns: (transfer none) (nullable): the address
 */
GSocketAddress *
vsmtp_proxy_header_get_peer_address (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), NULL);
  return self->peer;
}

/**
 * vsmtp_proxy_header_get_tlv:
 * @self: a header
 * @type: a TLV type (`PP2_TYPE_*`, 0x01 to 0xFF)
 *
 * The value of a version 2 TLV, including those the library does not know.
 * With several TLVs of the same type, the last one.
 *
 * Returns: (transfer none) (nullable): the value, %NULL if the header has
 *   no such TLV
 */
GBytes *
vsmtp_proxy_header_get_tlv (VsmtpProxyHeader *self,
                            guint             type)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), NULL);
  return g_hash_table_lookup (self->tlvs, GUINT_TO_POINTER (type));
}

/**
 * vsmtp_proxy_header_get_alpn:
 * @self: a header
 *
 * The application protocol the client negotiated with the proxy
 * (`PP2_TYPE_ALPN`), if it is UTF-8.
 *
 * Returns: (nullable): the protocol name
 */
const char *
vsmtp_proxy_header_get_alpn (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), NULL);
  return self->alpn;
}

/**
 * vsmtp_proxy_header_get_authority:
 * @self: a header
 *
 * The host name the client asked for (`PP2_TYPE_AUTHORITY`, TLS SNI), if it
 * is UTF-8.
 *
 * Returns: (nullable): the name
 */
const char *
vsmtp_proxy_header_get_authority (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), NULL);
  return self->authority;
}

/**
 * vsmtp_proxy_header_get_unique_id:
 * @self: a header
 *
 * The connection's id given by the proxy (`PP2_TYPE_UNIQUE_ID`, at most 128
 * bytes).
 *
 * Returns: (transfer none) (nullable): the id
 */
GBytes *
vsmtp_proxy_header_get_unique_id (VsmtpProxyHeader *self)
{
  return vsmtp_proxy_header_get_tlv (self, PP2_TYPE_UNIQUE_ID);
}

/**
 * vsmtp_proxy_header_has_ssl:
 * @self: a header
 *
 * Returns: whether the header has a `PP2_TYPE_SSL` TLV
 */
gboolean
vsmtp_proxy_header_has_ssl (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), FALSE);
  return self->has_ssl;
}

/**
 * vsmtp_proxy_header_get_ssl_flags:
 * @self: a header
 *
 * Returns: the client field of the `PP2_TYPE_SSL` TLV
 */
VsmtpProxySslFlags
vsmtp_proxy_header_get_ssl_flags (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), VSMTP_PROXY_SSL_NONE);
  return self->ssl_flags;
}

/**
 * vsmtp_proxy_header_get_ssl_verify:
 * @self: a header
 *
 * Returns: the verify field of the `PP2_TYPE_SSL` TLV: 0 when the client's
 *   certificate was verified
 */
guint32
vsmtp_proxy_header_get_ssl_verify (VsmtpProxyHeader *self)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), G_MAXUINT32);
  return self->has_ssl ? self->ssl_verify : G_MAXUINT32;
}

static const char *
ssl_string (VsmtpProxyHeader *self,
            guint             subtype)
{
  g_return_val_if_fail (VSMTP_IS_PROXY_HEADER (self), NULL);
  return self->ssl_strings[subtype - PP2_SUBTYPE_SSL_VERSION];
}

/**
 * vsmtp_proxy_header_get_ssl_version:
 * @self: a header
 *
 * Returns: (nullable): the TLS version the client used (`PP2_SUBTYPE_SSL_VERSION`)
 */
const char *
vsmtp_proxy_header_get_ssl_version (VsmtpProxyHeader *self)
{
  return ssl_string (self, PP2_SUBTYPE_SSL_VERSION);
}

/**
 * vsmtp_proxy_header_get_ssl_cn:
 * @self: a header
 *
 * Returns: (nullable): the common name of the client certificate's subject
 *   (`PP2_SUBTYPE_SSL_CN`)
 */
const char *
vsmtp_proxy_header_get_ssl_cn (VsmtpProxyHeader *self)
{
  return ssl_string (self, PP2_SUBTYPE_SSL_CN);
}

/**
 * vsmtp_proxy_header_get_ssl_cipher:
 * @self: a header
 *
 * Returns: (nullable): the cipher suite (`PP2_SUBTYPE_SSL_CIPHER`)
 */
const char *
vsmtp_proxy_header_get_ssl_cipher (VsmtpProxyHeader *self)
{
  return ssl_string (self, PP2_SUBTYPE_SSL_CIPHER);
}

/**
 * vsmtp_proxy_header_get_ssl_sig_alg:
 * @self: a header
 *
 * Returns: (nullable): the client certificate's signature algorithm
 *   (`PP2_SUBTYPE_SSL_SIG_ALG`)
 */
const char *
vsmtp_proxy_header_get_ssl_sig_alg (VsmtpProxyHeader *self)
{
  return ssl_string (self, PP2_SUBTYPE_SSL_SIG_ALG);
}

/**
 * vsmtp_proxy_header_get_ssl_key_alg:
 * @self: a header
 *
 * Returns: (nullable): the client certificate's key algorithm
 *   (`PP2_SUBTYPE_SSL_KEY_ALG`)
 */
const char *
vsmtp_proxy_header_get_ssl_key_alg (VsmtpProxyHeader *self)
{
  return ssl_string (self, PP2_SUBTYPE_SSL_KEY_ALG);
}

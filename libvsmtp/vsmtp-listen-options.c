/* vsmtp-listen-options.c: what one listener's connections are: protocol,
 * TLS, PROXY header, XCLIENT, offered extensions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-enums.h"
#include "vsmtp-error.h"
#include "vsmtp-listen-options-private.h"

/**
 * VsmtpListenOptions:
 *
 * How the connections of one listener are handled: the protocol spoken
 * (SMTP or LMTP), implicit TLS and required AUTH
 * ([flags@Vsmtp.ListenFlags]), whether a PROXY protocol header comes first
 * and from which peers, which peers may use XCLIENT, and which extensions
 * are not offered there.
 *
 * Give them to [method@Vsmtp.Server.listen_with_options] or
 * [method@Vsmtp.Server.listen_socket_with_options]. The server keeps a copy:
 * changing the object afterwards does not change a listener. A session
 * tells its listener's options with
 * [method@Vsmtp.Session.get_listen_options].
 *
 * ```python
 * options = Vsmtp.ListenOptions(name="lmtp", protocol=Vsmtp.Protocol.LMTP)
 * server.listen_with_options(Gio.UnixSocketAddress.new("/run/vsmtpd/lmtp"),
 *                            options)
 * ```
 *
 * A trusted-peer list (`proxy-trusted`, `xclient-trusted`) holds addresses
 * (`192.0.2.1`, `::1`) and networks (`10.0.0.0/8`, `2001:db8::/32`);
 * `unix` stands for the peers of a UNIX-domain socket.
 */

typedef struct {
  char  **networks;      /* as given */
  GPtrArray *masks;      /* GInetAddressMask */
  gboolean unix_peers;
} TrustList;

struct _VsmtpListenOptions
{
  GObject             parent_instance;

  char               *name;
  VsmtpListenFlags    flags;
  VsmtpProtocol       protocol;
  VsmtpProxyProtocol  proxy_protocol;
  TrustList           proxy_trusted;
  TrustList           xclient_trusted;
  char              **disabled_extensions;   /* NULL when empty */
  gboolean            lmtp_received_header;
};

G_DEFINE_FINAL_TYPE (VsmtpListenOptions, vsmtp_listen_options, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_FLAGS,
  PROP_PROTOCOL,
  PROP_PROXY_PROTOCOL,
  PROP_PROXY_TRUSTED,
  PROP_XCLIENT_TRUSTED,
  PROP_DISABLED_EXTENSIONS,
  PROP_LMTP_RECEIVED_HEADER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
trust_list_clear (TrustList *list)
{
  g_clear_pointer (&list->networks, g_strfreev);
  g_clear_pointer (&list->masks, g_ptr_array_unref);
  list->unix_peers = FALSE;
}

static gboolean
trust_list_set (TrustList          *list,
                const char * const *networks,
                const char         *what,
                GError            **error)
{
  g_autoptr(GPtrArray) masks = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean unix_peers = FALSE;

  for (gsize i = 0; networks != NULL && networks[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      GInetAddressMask *mask;
      g_autofree char *stripped = g_strstrip (g_strdup (networks[i]));

      if (g_ascii_strcasecmp (stripped, "unix") == 0)
        {
          unix_peers = TRUE;
          continue;
        }
      mask = g_inet_address_mask_new_from_string (stripped, &local_error);
      if (mask == NULL)
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                       "%s: “%s” is not an address or a network (ADDRESS/LENGTH)",
                       what, networks[i]);
          return FALSE;
        }
      g_ptr_array_add (masks, mask);
    }

  trust_list_clear (list);
  if (networks != NULL && networks[0] != NULL)
    {
      list->networks = g_strdupv ((char **) networks);
      list->masks = g_steal_pointer (&masks);
      list->unix_peers = unix_peers;
    }
  return TRUE;
}

static gboolean
trust_list_contains (const TrustList *list,
                     GInetAddress    *peer)
{
  if (peer == NULL)
    return list->unix_peers;
  if (list->masks == NULL)
    return FALSE;
  for (guint i = 0; i < list->masks->len; i++)
    if (g_inet_address_mask_matches (list->masks->pdata[i], peer))
      return TRUE;
  return FALSE;
}

static void
vsmtp_listen_options_finalize (GObject *object)
{
  VsmtpListenOptions *self = VSMTP_LISTEN_OPTIONS (object);

  g_free (self->name);
  trust_list_clear (&self->proxy_trusted);
  trust_list_clear (&self->xclient_trusted);
  g_strfreev (self->disabled_extensions);

  G_OBJECT_CLASS (vsmtp_listen_options_parent_class)->finalize (object);
}

static void
vsmtp_listen_options_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  VsmtpListenOptions *self = VSMTP_LISTEN_OPTIONS (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_FLAGS:
      g_value_set_flags (value, self->flags);
      break;
    case PROP_PROTOCOL:
      g_value_set_enum (value, self->protocol);
      break;
    case PROP_PROXY_PROTOCOL:
      g_value_set_enum (value, self->proxy_protocol);
      break;
    case PROP_PROXY_TRUSTED:
      g_value_set_boxed (value, self->proxy_trusted.networks);
      break;
    case PROP_XCLIENT_TRUSTED:
      g_value_set_boxed (value, self->xclient_trusted.networks);
      break;
    case PROP_DISABLED_EXTENSIONS:
      g_value_set_boxed (value, self->disabled_extensions);
      break;
    case PROP_LMTP_RECEIVED_HEADER:
      g_value_set_boolean (value, self->lmtp_received_header);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_trusted_or_warn (VsmtpListenOptions *self,
                     TrustList          *list,
                     const GValue       *value,
                     const char         *what)
{
  g_autoptr(GError) error = NULL;

  if (!trust_list_set (list, g_value_get_boxed (value), what, &error))
    g_critical ("%s", error->message);
}

static void
vsmtp_listen_options_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  VsmtpListenOptions *self = VSMTP_LISTEN_OPTIONS (object);

  switch (prop_id)
    {
    case PROP_NAME:
      vsmtp_listen_options_set_name (self, g_value_get_string (value));
      break;
    case PROP_FLAGS:
      vsmtp_listen_options_set_flags (self, g_value_get_flags (value));
      break;
    case PROP_PROTOCOL:
      vsmtp_listen_options_set_protocol (self, g_value_get_enum (value));
      break;
    case PROP_PROXY_PROTOCOL:
      vsmtp_listen_options_set_proxy_protocol (self, g_value_get_enum (value));
      break;
    case PROP_PROXY_TRUSTED:
      set_trusted_or_warn (self, &self->proxy_trusted, value, "proxy-trusted");
      break;
    case PROP_XCLIENT_TRUSTED:
      set_trusted_or_warn (self, &self->xclient_trusted, value, "xclient-trusted");
      break;
    case PROP_DISABLED_EXTENSIONS:
      vsmtp_listen_options_set_disabled_extensions (self, g_value_get_boxed (value));
      break;
    case PROP_LMTP_RECEIVED_HEADER:
      vsmtp_listen_options_set_lmtp_received_header (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_listen_options_class_init (VsmtpListenOptionsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = vsmtp_listen_options_finalize;
  object_class->get_property = vsmtp_listen_options_get_property;
  object_class->set_property = vsmtp_listen_options_set_property;

  /**
   * VsmtpListenOptions:name:
   *
   * The listener's name, for logs (vsmtpd uses the `[listener NAME]`
   * section's), or %NULL.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL, flags);

  /**
   * VsmtpListenOptions:flags:
   *
   * Implicit TLS, required AUTH, `SO_REUSEPORT`.
   */
  properties[PROP_FLAGS] =
    g_param_spec_flags ("flags", NULL, NULL,
                        VSMTP_TYPE_LISTEN_FLAGS, VSMTP_LISTEN_FLAGS_NONE, flags);

  /**
   * VsmtpListenOptions:protocol:
   *
   * SMTP or LMTP.
   */
  properties[PROP_PROTOCOL] =
    g_param_spec_enum ("protocol", NULL, NULL,
                       VSMTP_TYPE_PROTOCOL, VSMTP_PROTOCOL_SMTP, flags);

  /**
   * VsmtpListenOptions:proxy-protocol:
   *
   * Whether each connection starts with a PROXY protocol header, which
   * is then required from every peer, and accepted only from the peers in
   * [property@Vsmtp.ListenOptions:proxy-trusted].
   */
  properties[PROP_PROXY_PROTOCOL] =
    g_param_spec_enum ("proxy-protocol", NULL, NULL,
                       VSMTP_TYPE_PROXY_PROTOCOL, VSMTP_PROXY_PROTOCOL_OFF, flags);

  /**
   * VsmtpListenOptions:proxy-trusted: (type GStrv)
   *
   * The peers allowed to send a PROXY protocol header: addresses and
   * networks (`ADDRESS/LENGTH`), `unix` for UNIX-domain peers. Setting
   * a list that does not parse through the property is a programming error;
   * use [method@Vsmtp.ListenOptions.set_proxy_trusted] for a #GError.
   */
  properties[PROP_PROXY_TRUSTED] =
    g_param_spec_boxed ("proxy-trusted", NULL, NULL, G_TYPE_STRV, flags);

  /**
   * VsmtpListenOptions:xclient-trusted: (type GStrv)
   *
   * The peers that are offered XCLIENT, in the form of
   * [property@Vsmtp.ListenOptions:proxy-trusted].
   */
  properties[PROP_XCLIENT_TRUSTED] =
    g_param_spec_boxed ("xclient-trusted", NULL, NULL, G_TYPE_STRV, flags);

  /**
   * VsmtpListenOptions:disabled-extensions: (type GStrv)
   *
   * EHLO keywords of extensions not offered on this listener (their
   * parameters are then refused as unsupported).
   */
  properties[PROP_DISABLED_EXTENSIONS] =
    g_param_spec_boxed ("disabled-extensions", NULL, NULL, G_TYPE_STRV, flags);

  /**
   * VsmtpListenOptions:lmtp-received-header:
   *
   * Whether an LMTP listener's messages get a `Received:` header of the
   * server's own (`with LMTP`, RFC 3848), as SMTP's always do. Off by
   * default: the MTA in front, which hands its mail over through LMTP,
   * added one already. Without effect on an SMTP listener.
   */
  properties[PROP_LMTP_RECEIVED_HEADER] =
    g_param_spec_boolean ("lmtp-received-header", NULL, NULL, FALSE, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vsmtp_listen_options_init (VsmtpListenOptions *self)
{
}

/**
 * vsmtp_listen_options_new:
 *
 * Options for an SMTP listener without TLS, PROXY header or XCLIENT.
 *
 * Returns: (transfer full): new options
 */
VsmtpListenOptions *
vsmtp_listen_options_new (void)
{
  return g_object_new (VSMTP_TYPE_LISTEN_OPTIONS, NULL);
}

VsmtpListenOptions *
_vsmtp_listen_options_new_for_flags (VsmtpListenFlags flags)
{
  VsmtpListenOptions *self = vsmtp_listen_options_new ();

  self->flags = flags;
  return self;
}

VsmtpListenOptions *
_vsmtp_listen_options_copy (VsmtpListenOptions *self)
{
  VsmtpListenOptions *copy = vsmtp_listen_options_new ();

  copy->name = g_strdup (self->name);
  copy->flags = self->flags;
  copy->protocol = self->protocol;
  copy->proxy_protocol = self->proxy_protocol;
  trust_list_set (&copy->proxy_trusted, (const char * const *) self->proxy_trusted.networks,
                  "proxy-trusted", NULL);
  trust_list_set (&copy->xclient_trusted, (const char * const *) self->xclient_trusted.networks,
                  "xclient-trusted", NULL);
  copy->disabled_extensions = g_strdupv (self->disabled_extensions);
  copy->lmtp_received_header = self->lmtp_received_header;
  return copy;
}

/**
 * vsmtp_listen_options_get_name:
 * @self: listen options
 *
 * Returns: (nullable): the listener's name
 */
const char *
vsmtp_listen_options_get_name (VsmtpListenOptions *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), NULL);
  return self->name;
}

/**
 * vsmtp_listen_options_set_name:
 * @self: listen options
 * @name: (nullable): the listener's name
 *
 * Names the listener in logs.
 */
void
vsmtp_listen_options_set_name (VsmtpListenOptions *self,
                               const char         *name)
{
  g_return_if_fail (VSMTP_IS_LISTEN_OPTIONS (self));
  if (g_strcmp0 (self->name, name) == 0)
    return;
  g_free (self->name);
  self->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

/**
 * vsmtp_listen_options_get_flags:
 * @self: listen options
 *
 * Returns: the listener's flags
 */
VsmtpListenFlags
vsmtp_listen_options_get_flags (VsmtpListenOptions *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), VSMTP_LISTEN_FLAGS_NONE);
  return self->flags;
}

/**
 * vsmtp_listen_options_set_flags:
 * @self: listen options
 * @flags: implicit TLS, required AUTH, `SO_REUSEPORT`
 *
 * Sets the listener's flags.
 */
void
vsmtp_listen_options_set_flags (VsmtpListenOptions *self,
                                VsmtpListenFlags    flags)
{
  g_return_if_fail (VSMTP_IS_LISTEN_OPTIONS (self));
  if (self->flags == flags)
    return;
  self->flags = flags;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLAGS]);
}

/**
 * vsmtp_listen_options_get_protocol:
 * @self: listen options
 *
 * Returns: the protocol the listener speaks
 */
VsmtpProtocol
vsmtp_listen_options_get_protocol (VsmtpListenOptions *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), VSMTP_PROTOCOL_SMTP);
  return self->protocol;
}

/**
 * vsmtp_listen_options_set_protocol:
 * @self: listen options
 * @protocol: SMTP or LMTP
 *
 * Sets the protocol the listener speaks.
 */
void
vsmtp_listen_options_set_protocol (VsmtpListenOptions *self,
                                   VsmtpProtocol       protocol)
{
  g_return_if_fail (VSMTP_IS_LISTEN_OPTIONS (self));
  if (self->protocol == protocol)
    return;
  self->protocol = protocol;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROTOCOL]);
}

/**
 * vsmtp_listen_options_get_proxy_protocol:
 * @self: listen options
 *
 * Returns: whether a PROXY protocol header is expected, and which version
 */
VsmtpProxyProtocol
vsmtp_listen_options_get_proxy_protocol (VsmtpListenOptions *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), VSMTP_PROXY_PROTOCOL_OFF);
  return self->proxy_protocol;
}

/**
 * vsmtp_listen_options_set_proxy_protocol:
 * @self: listen options
 * @proxy_protocol: the PROXY protocol version expected, or off
 *
 * Sets whether connections start with a PROXY protocol header.
 */
void
vsmtp_listen_options_set_proxy_protocol (VsmtpListenOptions *self,
                                         VsmtpProxyProtocol  proxy_protocol)
{
  g_return_if_fail (VSMTP_IS_LISTEN_OPTIONS (self));
  if (self->proxy_protocol == proxy_protocol)
    return;
  self->proxy_protocol = proxy_protocol;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROXY_PROTOCOL]);
}

/**
 * vsmtp_listen_options_get_proxy_trusted:
 * @self: listen options
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the peers
 *   allowed to send a PROXY header, %NULL for none
 */
const char * const *
vsmtp_listen_options_get_proxy_trusted (VsmtpListenOptions *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), NULL);
  return (const char * const *) self->proxy_trusted.networks;
}

/**
 * vsmtp_listen_options_set_proxy_trusted:
 * @self: listen options
 * @networks: (nullable) (array zero-terminated=1): addresses, networks
 *   (`ADDRESS/LENGTH`) and `unix`
 * @error: return location for an error
 *
 * Sets the peers allowed to send a PROXY header. A list with an entry that
 * does not parse is refused as a whole.
 *
 * Returns: %TRUE if the list was valid and set
 */
gboolean
vsmtp_listen_options_set_proxy_trusted (VsmtpListenOptions  *self,
                                        const char * const  *networks,
                                        GError             **error)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), FALSE);
  if (!trust_list_set (&self->proxy_trusted, networks, "proxy-trusted", error))
    return FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROXY_TRUSTED]);
  return TRUE;
}

/**
 * vsmtp_listen_options_get_xclient_trusted:
 * @self: listen options
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the peers
 *   offered XCLIENT, %NULL for none
 */
const char * const *
vsmtp_listen_options_get_xclient_trusted (VsmtpListenOptions *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), NULL);
  return (const char * const *) self->xclient_trusted.networks;
}

/**
 * vsmtp_listen_options_set_xclient_trusted:
 * @self: listen options
 * @networks: (nullable) (array zero-terminated=1): addresses, networks
 *   (`ADDRESS/LENGTH`) and `unix`
 * @error: return location for an error
 *
 * Sets the peers offered XCLIENT. A list with an entry that does not parse
 * is refused as a whole.
 *
 * Returns: %TRUE if the list was valid and set
 */
gboolean
vsmtp_listen_options_set_xclient_trusted (VsmtpListenOptions  *self,
                                          const char * const  *networks,
                                          GError             **error)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), FALSE);
  if (!trust_list_set (&self->xclient_trusted, networks, "xclient-trusted", error))
    return FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_XCLIENT_TRUSTED]);
  return TRUE;
}

/**
 * vsmtp_listen_options_get_disabled_extensions:
 * @self: listen options
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the EHLO
 *   keywords not offered on this listener
 */
const char * const *
vsmtp_listen_options_get_disabled_extensions (VsmtpListenOptions *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), NULL);
  return (const char * const *) self->disabled_extensions;
}

/**
 * vsmtp_listen_options_set_disabled_extensions:
 * @self: listen options
 * @keywords: (nullable) (array zero-terminated=1): EHLO keywords
 *
 * Sets the extensions not offered on this listener, by keyword (any case).
 */
void
vsmtp_listen_options_set_disabled_extensions (VsmtpListenOptions *self,
                                              const char * const *keywords)
{
  g_return_if_fail (VSMTP_IS_LISTEN_OPTIONS (self));
  g_clear_pointer (&self->disabled_extensions, g_strfreev);
  if (keywords != NULL && keywords[0] != NULL)
    self->disabled_extensions = g_strdupv ((char **) keywords);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DISABLED_EXTENSIONS]);
}

gboolean
_vsmtp_listen_options_proxy_trusts (VsmtpListenOptions *self,
                                    GInetAddress       *peer)
{
  return trust_list_contains (&self->proxy_trusted, peer);
}

gboolean
_vsmtp_listen_options_xclient_trusts (VsmtpListenOptions *self,
                                      GInetAddress       *peer)
{
  return trust_list_contains (&self->xclient_trusted, peer);
}

gboolean
_vsmtp_listen_options_extension_disabled (VsmtpListenOptions *self,
                                          const char         *keyword)
{
  if (self == NULL || self->disabled_extensions == NULL)
    return FALSE;
  for (gsize i = 0; self->disabled_extensions[i] != NULL; i++)
    if (g_ascii_strcasecmp (self->disabled_extensions[i], keyword) == 0)
      return TRUE;
  return FALSE;
}

/**
 * vsmtp_listen_options_get_lmtp_received_header:
 * @self: listen options
 *
 * Returns: whether an LMTP listener's messages get a `Received:` header
 *   of the server's own
 */
gboolean
vsmtp_listen_options_get_lmtp_received_header (VsmtpListenOptions *self)
{
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (self), FALSE);
  return self->lmtp_received_header;
}

/**
 * vsmtp_listen_options_set_lmtp_received_header:
 * @self: listen options
 * @received_header: whether to prepend a `Received:` header
 *
 * Sets [property@Vsmtp.ListenOptions:lmtp-received-header].
 */
void
vsmtp_listen_options_set_lmtp_received_header (VsmtpListenOptions *self,
                                               gboolean            received_header)
{
  g_return_if_fail (VSMTP_IS_LISTEN_OPTIONS (self));
  received_header = !!received_header;
  if (self->lmtp_received_header == received_header)
    return;
  self->lmtp_received_header = received_header;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LMTP_RECEIVED_HEADER]);
}

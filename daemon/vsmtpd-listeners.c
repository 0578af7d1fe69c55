/* vsmtpd-listeners.c: the [listener NAME] sections of vsmtpd's keyfile:
 * each one a VsmtpListenOptions and its addresses (TCP or UNIX-domain)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * [server] listen, listen-tls, listen-submission and listen-submissions
 * stay the short form; a section says everything about one listener:
 *
 *   [listener edge]
 *   listen = 0.0.0.0:25;[::]:25
 *   tls = starttls
 *   proxy-protocol = v2
 *   proxy-trusted = 10.0.0.0/8
 *
 * With socket activation, a socket whose LISTEN_FDNAMES name (systemd's
 * FileDescriptorName=) is a section's NAME gets that section's options;
 * the sections' own addresses are then not bound.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "vsmtpd-config.h"
#include "vsmtpd-listeners.h"

#define GROUP_PREFIX "listener "

static const char * const tls_choices[] = { "none", "starttls", "implicit", NULL };
static const char * const protocol_choices[] = { "smtp", "lmtp", NULL };
static const char * const proxy_choices[] = { "off", "v1", "v2", "any", NULL };

VsmtpConfigGroup *
vsmtpd_listeners_group_new (const char *name)
{
  g_autofree char *group_name = g_strconcat (GROUP_PREFIX, name, NULL);
  VsmtpConfigGroup *group = vsmtp_config_group_new (group_name);

  vsmtp_config_group_add_string_list (group, "listen", NULL,
                                      "Where to accept connections: ADDR:PORT (IPv6 as [::1]:25) "
                                      "or unix:/path");
  vsmtp_config_group_add_choice (group, "tls", "starttls", tls_choices,
                                 "TLS: none, starttls (offered), implicit (RFC 8314)");
  vsmtp_config_group_add_boolean (group, "require-auth", FALSE,
                                  "Whether MAIL needs AUTH first (submission)");
  vsmtp_config_group_add_choice (group, "protocol", "smtp", protocol_choices,
                                 "The protocol spoken: smtp or lmtp");
  vsmtp_config_group_add_boolean (group, "lmtp-add-received", FALSE,
                                  "With protocol = lmtp: whether messages get a Received: "
                                  "header of vsmtpd's own (the MTA in front added one)");
  vsmtp_config_group_add_choice (group, "proxy-protocol", "off", proxy_choices,
                                 "The PROXY protocol header each connection starts with "
                                 "(HAProxy): off, v1, v2 or any");
  vsmtp_config_group_add_string_list (group, "proxy-trusted", NULL,
                                      "The peers that may send a PROXY header: addresses "
                                      "and CIDR blocks");
  vsmtp_config_group_add_string_list (group, "xclient-trusted", NULL,
                                      "The clients that may use XCLIENT: addresses and CIDR blocks");
  vsmtp_config_group_add_string_list (group, "disable-extensions", NULL,
                                      "EHLO keywords not offered on this listener");
  vsmtp_config_group_add_integer (group, "max-message-size", 0, 0, G_MAXINT64, "bytes",
                                  "The largest message this listener takes (its SIZE); "
                                  "0: [server] max-message-size");
  vsmtp_config_group_add_integer (group, "max-recipients", 0, 0, G_MAXUINT, NULL,
                                  "The most recipients of a transaction on this listener "
                                  "(LIMITS RCPTMAX); 0: [server] max-recipients");
  vsmtp_config_group_add_integer (group, "max-connections-per-client", 0, 0, G_MAXUINT, NULL,
                                  "The most connections a client address may have open when "
                                  "it connects here; 0: [server] max-connections-per-client");
  vsmtp_config_group_add_string (group, "socket-mode", NULL,
                                 "The permissions of unix: sockets, in octal (e.g. 0660)");
  vsmtp_config_group_add_string (group, "socket-owner", NULL,
                                 "The owner of unix: sockets (a user name or uid)");
  vsmtp_config_group_add_string (group, "socket-group", NULL,
                                 "The group of unix: sockets (a group name or gid)");
  return group;
}

static void
listener_free (VsmtpdListener *listener)
{
  g_free (listener->name);
  g_clear_object (&listener->options);
  g_strfreev (listener->listen);
  g_clear_pointer (&listener->addresses, g_ptr_array_unref);
  g_clear_pointer (&listener->bound_paths, g_ptr_array_unref);
  g_free (listener);
}

G_GNUC_PRINTF (4, 5)
static gboolean
section_error (GError         **error,
               VsmtpdListener  *listener,
               const char      *key,
               const char      *format,
               ...)
{
  g_autofree char *problem = NULL;
  va_list args;

  va_start (args, format);
  problem = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "[" GROUP_PREFIX "%s] %s: %s", listener->name, key, problem);
  return FALSE;
}

/* ADDR:PORT, IPv6 in brackets, or unix:/absolute/path */
static GSocketAddress *
parse_address (const char *text)
{
  if (g_str_has_prefix (text, "unix:"))
    {
      const char *path = text + strlen ("unix:");

      if (!g_path_is_absolute (path) || strlen (path) >= 108)
        return NULL;
      return g_unix_socket_address_new (path);
    }
  return vsmtpd_parse_listen_address (text);
}

static gboolean
parse_owner (VsmtpdListener    *listener,
             VsmtpConfigGroup  *group,
             GError           **error)
{
  g_autofree char *mode = vsmtp_config_group_dup_string (group, "socket-mode");
  g_autofree char *owner = vsmtp_config_group_dup_string (group, "socket-owner");
  g_autofree char *group_name = vsmtp_config_group_dup_string (group, "socket-group");
  guint64 number;

  listener->socket_mode = -1;
  listener->socket_uid = (uid_t) -1;
  listener->socket_gid = (gid_t) -1;
  if (mode != NULL)
    {
      if (mode[0] == '\0' || !g_ascii_string_to_unsigned (mode, 8, 0, 07777, &number, NULL))
        return section_error (error, listener, "socket-mode",
                              "\"%s\" is not a mode in octal (e.g. 0660)", mode);
      listener->socket_mode = number;
    }
  if (owner != NULL)
    {
      struct passwd *pw = getpwnam (owner);

      if (pw != NULL)
        listener->socket_uid = pw->pw_uid;
      else if (g_ascii_string_to_unsigned (owner, 10, 0, G_MAXINT32, &number, NULL))
        listener->socket_uid = number;
      else
        return section_error (error, listener, "socket-owner", "no such user \"%s\"", owner);
    }
  if (group_name != NULL)
    {
      struct group *gr = getgrnam (group_name);

      if (gr != NULL)
        listener->socket_gid = gr->gr_gid;
      else if (g_ascii_string_to_unsigned (group_name, 10, 0, G_MAXINT32, &number, NULL))
        listener->socket_gid = number;
      else
        return section_error (error, listener, "socket-group", "no such group \"%s\"", group_name);
    }
  return TRUE;
}

static VsmtpdListener *
load_section (GKeyFile     *keyfile,
              const char   *name,
              gboolean      have_certificate,
              GError      **error)
{
  g_autoptr(VsmtpConfigGroup) group = vsmtpd_listeners_group_new (name);
  VsmtpdListener *listener = g_new0 (VsmtpdListener, 1);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *tls = NULL, *protocol = NULL, *proxy = NULL;
  g_auto(GStrv) proxy_trusted = NULL, xclient_trusted = NULL, disabled = NULL;
  VsmtpListenFlags flags = VSMTP_LISTEN_FLAGS_NONE;
  gboolean any_unix = FALSE;

  listener->name = g_strdup (name);
  listener->options = vsmtp_listen_options_new ();
  vsmtp_listen_options_set_name (listener->options, name);
  listener->addresses = g_ptr_array_new_with_free_func (g_object_unref);
  listener->bound_paths = g_ptr_array_new_with_free_func (g_free);

  /* the name goes on D-Bus, into metrics labels and the status page:
   * all of them UTF-8 */
  if (!g_utf8_validate (name, -1, NULL))
    {
      g_autofree char *shown = vsmtp_log_escape (name, -1);

      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[" GROUP_PREFIX "%s] (the group's name): not valid UTF-8, which a listener's "
                   "name must be (for D-Bus, metrics labels, the status page)", shown);
      goto fail;
    }
  if (name[0] == '\0' || strpbrk (name, " \t") != NULL)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[" GROUP_PREFIX "%s]: a listener's name is one word", name);
      goto fail;
    }
  if (!vsmtp_config_group_load (group, keyfile, &local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      goto fail;
    }

  listener->listen = vsmtp_config_group_dup_string_list (group, "listen");
  if (listener->listen == NULL || listener->listen[0] == NULL)
    {
      section_error (error, listener, "listen", "no address: ADDR:PORT or unix:/path");
      goto fail;
    }
  for (guint i = 0; listener->listen[i] != NULL; i++)
    {
      GSocketAddress *address = parse_address (listener->listen[i]);

      if (address == NULL)
        {
          section_error (error, listener, "listen",
                         "\"%s\" is not ADDR:PORT (IPv6 as [::1]:25) or unix:/absolute/path",
                         listener->listen[i]);
          goto fail;
        }
      any_unix |= g_socket_address_get_family (address) == G_SOCKET_FAMILY_UNIX;
      g_ptr_array_add (listener->addresses, address);
    }

  tls = vsmtp_config_group_dup_string (group, "tls");
  if (g_str_equal (tls, "implicit"))
    {
      if (!have_certificate)
        {
          section_error (error, listener, "tls",
                         "implicit TLS needs a certificate: set [server] tls-certificate");
          goto fail;
        }
      flags |= VSMTP_LISTEN_FLAGS_IMPLICIT_TLS;
    }
  if (vsmtp_config_group_get_boolean (group, "require-auth"))
    flags |= VSMTP_LISTEN_FLAGS_AUTH_REQUIRED;
  vsmtp_listen_options_set_flags (listener->options, flags);

  protocol = vsmtp_config_group_dup_string (group, "protocol");
  vsmtp_listen_options_set_protocol (listener->options, g_str_equal (protocol, "lmtp") ?
                                     VSMTP_PROTOCOL_LMTP : VSMTP_PROTOCOL_SMTP);
  vsmtp_listen_options_set_lmtp_received_header (listener->options,
      vsmtp_config_group_get_boolean (group, "lmtp-add-received"));
  vsmtp_listen_options_set_max_message_size (listener->options,
      vsmtp_config_group_get_integer (group, "max-message-size"));
  vsmtp_listen_options_set_max_recipients (listener->options,
      vsmtp_config_group_get_integer (group, "max-recipients"));
  vsmtp_listen_options_set_max_connections_per_client (listener->options,
      vsmtp_config_group_get_integer (group, "max-connections-per-client"));

  proxy_trusted = vsmtp_config_group_dup_string_list (group, "proxy-trusted");
  if (proxy_trusted != NULL &&
      !vsmtp_listen_options_set_proxy_trusted (listener->options,
                                               (const char * const *) proxy_trusted, &local_error))
    {
      section_error (error, listener, "proxy-trusted", "%s", local_error->message);
      goto fail;
    }
  proxy = vsmtp_config_group_dup_string (group, "proxy-protocol");
  if (!g_str_equal (proxy, "off"))
    {
      /* fail closed, and say so: without trusted peers every connection
       * would be refused */
      if (proxy_trusted == NULL || proxy_trusted[0] == NULL)
        {
          section_error (error, listener, "proxy-trusted",
                         "proxy-protocol = %s needs the addresses of the proxies", proxy);
          goto fail;
        }
      vsmtp_listen_options_set_proxy_protocol (listener->options,
                                               g_str_equal (proxy, "v1") ? VSMTP_PROXY_PROTOCOL_V1 :
                                               g_str_equal (proxy, "v2") ? VSMTP_PROXY_PROTOCOL_V2 :
                                               VSMTP_PROXY_PROTOCOL_ANY);
    }

  xclient_trusted = vsmtp_config_group_dup_string_list (group, "xclient-trusted");
  if (xclient_trusted != NULL &&
      !vsmtp_listen_options_set_xclient_trusted (listener->options,
                                                 (const char * const *) xclient_trusted, &local_error))
    {
      section_error (error, listener, "xclient-trusted", "%s", local_error->message);
      goto fail;
    }

  disabled = vsmtp_config_group_dup_string_list (group, "disable-extensions");
  if (g_str_equal (tls, "none"))
    {
      /* no STARTTLS on this listener */
      guint n = disabled != NULL ? g_strv_length (disabled) : 0;

      disabled = g_renew (char *, disabled, n + 2);
      disabled[n] = g_strdup ("STARTTLS");
      disabled[n + 1] = NULL;
    }
  for (guint i = 0; disabled != NULL && disabled[i] != NULL; i++)
    {
      for (const char *p = disabled[i]; *p; p++)
        if (!g_ascii_isalnum (*p) && *p != '-')
          {
            section_error (error, listener, "disable-extensions",
                           "\"%s\" is not an EHLO keyword", disabled[i]);
            goto fail;
          }
    }
  if (disabled != NULL)
    vsmtp_listen_options_set_disabled_extensions (listener->options, (const char * const *) disabled);

  if (!parse_owner (listener, group, error))
    goto fail;
  if (!any_unix && (listener->socket_mode >= 0 || listener->socket_uid != (uid_t) -1 ||
                    listener->socket_gid != (gid_t) -1))
    {
      section_error (error, listener,
                     listener->socket_mode >= 0 ? "socket-mode" :
                     listener->socket_uid != (uid_t) -1 ? "socket-owner" : "socket-group",
                     "only for unix: addresses");
      goto fail;
    }
  return listener;

fail:
  listener_free (listener);
  return NULL;
}

GPtrArray *
vsmtpd_listeners_load (GKeyFile  *keyfile,
                       gboolean   have_certificate,
                       GError   **error)
{
  g_autoptr(GPtrArray) listeners = g_ptr_array_new_with_free_func ((GDestroyNotify) listener_free);
  g_auto(GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      VsmtpdListener *listener;

      if (!g_str_has_prefix (groups[i], GROUP_PREFIX))
        continue;
      listener = load_section (keyfile, groups[i] + strlen (GROUP_PREFIX), have_certificate, error);
      if (listener == NULL)
        return NULL;
      g_ptr_array_add (listeners, listener);
    }
  return g_steal_pointer (&listeners);
}

VsmtpdListener *
vsmtpd_listeners_find (GPtrArray  *listeners,
                       const char *name)
{
  for (guint i = 0; listeners != NULL && i < listeners->len; i++)
    {
      VsmtpdListener *listener = listeners->pdata[i];

      if (g_str_equal (listener->name, name))
        return listener;
    }
  return NULL;
}

/* A socket file left by a previous run goes; any other file stays (and
 * the bind fails on it) */
static void
remove_stale_socket (const char *path)
{
  struct stat st;

  if (g_lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
    g_unlink (path);
}

static gboolean
set_socket_permissions (VsmtpdListener  *listener,
                        const char      *path,
                        GError         **error)
{
  if (listener->socket_mode >= 0 && g_chmod (path, listener->socket_mode) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "[" GROUP_PREFIX "%s] socket-mode: cannot set the mode of %s: %s",
                   listener->name, path, g_strerror (saved));
      return FALSE;
    }
  if ((listener->socket_uid != (uid_t) -1 || listener->socket_gid != (gid_t) -1) &&
      chown (path, listener->socket_uid, listener->socket_gid) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "[" GROUP_PREFIX "%s] socket-owner: cannot change the owner of %s: %s",
                   listener->name, path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static const char *
describe_options (VsmtpListenOptions *options)
{
  VsmtpListenFlags flags = vsmtp_listen_options_get_flags (options);
  gboolean lmtp = vsmtp_listen_options_get_protocol (options) == VSMTP_PROTOCOL_LMTP;
  gboolean proxy = vsmtp_listen_options_get_proxy_protocol (options) != VSMTP_PROXY_PROTOCOL_OFF;

  if (lmtp)
    return proxy ? "LMTP, PROXY header" : "LMTP";
  if (flags & VSMTP_LISTEN_FLAGS_IMPLICIT_TLS)
    return proxy ? "implicit TLS, PROXY header" : "implicit TLS";
  return proxy ? "PROXY header" : "SMTP";
}

gboolean
vsmtpd_listener_bind (VsmtpdListener *listener,
                      VsmtpServer    *server,
                      gboolean        reuse_port,
                      GPtrArray      *listening,
                      GError        **error)
{
  for (guint i = 0; i < listener->addresses->len; i++)
    if (!vsmtpd_listener_bind_address (listener, i, server, reuse_port, listening, NULL, error))
      return FALSE;
  return TRUE;
}

gboolean
vsmtpd_listener_bind_address (VsmtpdListener  *listener,
                              guint            i,
                              VsmtpServer     *server,
                              gboolean         reuse_port,
                              GPtrArray       *listening,
                              GSocketAddress **out_effective,
                              GError         **error)
{
    {
      GSocketAddress *address = listener->addresses->pdata[i];
      g_autoptr(GSocketAddress) effective = NULL;
      g_autoptr(GError) local_error = NULL;
      VsmtpListenFlags flags = vsmtp_listen_options_get_flags (listener->options);
      gboolean ok;
      const char *path = NULL;
      g_autofree char *text = NULL;

      if (g_socket_address_get_family (address) == G_SOCKET_FAMILY_UNIX)
        {
          path = g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address));
          remove_stale_socket (path);
        }

      /* a worker of several: SO_REUSEPORT for TCP (the server keeps a copy
       * of the options as they are now) */
      if (reuse_port && path == NULL)
        vsmtp_listen_options_set_flags (listener->options, flags | VSMTP_LISTEN_FLAGS_REUSE_PORT);
      ok = vsmtp_server_listen_with_options (server, address, listener->options, &effective,
                                             &local_error);
      vsmtp_listen_options_set_flags (listener->options, flags);
      if (!ok)
        {
          g_set_error (error, local_error->domain, local_error->code,
                       "[" GROUP_PREFIX "%s] listen: cannot listen on %s: %s",
                       listener->name, listener->listen[i], local_error->message);
          return FALSE;
        }
      if (out_effective != NULL)
        *out_effective = g_object_ref (effective);
      if (path != NULL)
        {
          g_ptr_array_add (listener->bound_paths, g_strdup (path));
          if (!set_socket_permissions (listener, path, error))
            return FALSE;
          text = g_strdup_printf ("unix:%s", path);
        }
      else
        text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (effective));
      g_ptr_array_add (listening, g_strdup_printf ("listening on %s (listener %s: %s)",
                                                   text, listener->name,
                                                   describe_options (listener->options)));
    }
  return TRUE;
}

void
vsmtpd_listeners_cleanup (GPtrArray *listeners)
{
  for (guint i = 0; listeners != NULL && i < listeners->len; i++)
    {
      VsmtpdListener *listener = listeners->pdata[i];

      for (guint j = 0; j < listener->bound_paths->len; j++)
        remove_stale_socket (listener->bound_paths->pdata[j]);
      g_ptr_array_set_size (listener->bound_paths, 0);
    }
}

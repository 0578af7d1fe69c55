/* vsmtpd-lmtp.c: [server] listen-lmtp, the short form of an LMTP listener
 *
 *   [server]
 *   listen-lmtp = unix:/run/vsmtpd/lmtp;127.0.0.1:24
 *   lmtp-add-received = false
 *
 * A UNIX-domain socket is made with mode 0666, as Postfix makes its own:
 * who may connect is decided by the permissions of the folder it is in.
 * A stale socket left at that path (a crash, a previous run) is removed
 * first; anything else there is an error. Several worker processes cannot
 * share one UNIX socket, so [server] workers > 1 refuses it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "vsmtpd-lmtp.h"

static gboolean
listen_unix (VsmtpServer         *server,
             const char          *path,
             VsmtpListenOptions  *options,
             GError             **error)
{
  g_autoptr(GSocketAddress) address = NULL;
  struct stat st;

  if (!g_path_is_absolute (path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "[server] listen-lmtp: \"unix:%s\" is not an absolute path", path);
      return FALSE;
    }
  if (lstat (path, &st) == 0)
    {
      if (!S_ISSOCK (st.st_mode))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "[server] listen-lmtp: %s exists and is not a socket", path);
          return FALSE;
        }
      if (g_unlink (path) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "[server] listen-lmtp: cannot remove the old socket %s: %s",
                       path, g_strerror (saved_errno));
          return FALSE;
        }
    }

  address = g_unix_socket_address_new (path);
  if (!vsmtp_server_listen_with_options (server, address, options, NULL, error))
    {
      g_prefix_error (error, "cannot listen on unix:%s: ", path);
      return FALSE;
    }
  if (g_chmod (path, 0666) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot set the mode of %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/* ADDR:PORT, with an IPv6 address in brackets */
static GSocketAddress *
parse_inet (const char *text)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;
  g_autoptr(GInetAddress) address = NULL;

  connectable = g_network_address_parse (text, 0, NULL);
  if (connectable == NULL)
    return NULL;
  host = g_strdup (g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable)));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));
  address = g_inet_address_new_from_string (host);
  if (address == NULL || port == 0)
    return NULL;
  return g_inet_socket_address_new (address, port);
}

gboolean
vsmtpd_lmtp_listen (VsmtpServer   *server,
                    VsmtpdConfig  *config,
                    GPtrArray     *listening,
                    GError       **error)
{
  g_auto(GStrv) list = vsmtp_config_group_dup_string_list (config->server_group, "listen-lmtp");
  g_autoptr(VsmtpListenOptions) options = vsmtp_listen_options_new ();

  if (list == NULL || list[0] == NULL)
    return TRUE;

  vsmtp_listen_options_set_name (options, "lmtp");
  vsmtp_listen_options_set_protocol (options, VSMTP_PROTOCOL_LMTP);
  vsmtp_listen_options_set_lmtp_received_header (options,
      vsmtp_config_group_get_boolean (config->server_group, "lmtp-add-received"));
  if (config->workers > 1)
    vsmtp_listen_options_set_flags (options, VSMTP_LISTEN_FLAGS_REUSE_PORT);

  for (guint i = 0; list[i] != NULL; i++)
    {
      if (g_str_has_prefix (list[i], "unix:"))
        {
          if (config->workers > 1)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "[server] listen-lmtp: \"%s\": a UNIX socket cannot be shared "
                           "by %u workers", list[i], config->workers);
              return FALSE;
            }
          if (!listen_unix (server, list[i] + 5, options, error))
            return FALSE;
          g_ptr_array_add (listening, g_strdup_printf ("listening on %s (LMTP)", list[i]));
        }
      else
        {
          g_autoptr(GSocketAddress) address = parse_inet (list[i]);
          g_autoptr(GSocketAddress) effective = NULL;
          g_autofree char *text = NULL;

          if (address == NULL)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "[server] listen-lmtp: \"%s\" is neither ADDR:PORT nor unix:/path",
                           list[i]);
              return FALSE;
            }
          if (!vsmtp_server_listen_with_options (server, address, options, &effective, error))
            {
              g_prefix_error (error, "cannot listen on %s: ", list[i]);
              return FALSE;
            }
          text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (effective != NULL ? effective : address));
          g_ptr_array_add (listening, g_strdup_printf ("listening on %s (LMTP)", text));
        }
    }
  return TRUE;
}

/* vsmtp-server-relisten.c: changing one listener of a running server (a
 * configuration reload): stop it, or give it new options, without touching
 * the others or any open session
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-listen-options-private.h"
#include "vsmtp-listener-private.h"
#include "vsmtp-server-private.h"
#include "vsmtp-server-struct-private.h"

static gboolean
same_address (GSocketAddress *a,
              GSocketAddress *b)
{
  g_autofree char *text_a = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (a));
  g_autofree char *text_b = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (b));

  return g_socket_address_get_family (a) == g_socket_address_get_family (b) &&
         g_strcmp0 (text_a, text_b) == 0;
}

/* The index of the listener bound to @address, or -1 */
static int
find_listener (VsmtpServer    *self,
               GSocketAddress *address)
{
  for (guint i = 0; self->listeners != NULL && i < self->listeners->len; i++)
    if (same_address (_vsmtp_listener_get_local_address (self->listeners->pdata[i]), address))
      return (int) i;
  return -1;
}

/**
 * vsmtp_server_stop_listening_on:
 * @self: a server
 * @address: the address a listener is bound to (the effective address,
 *   with the port actually chosen)
 *
 * Closes the listening socket bound to @address, and only that one. The
 * sessions it accepted go on.
 *
 * Returns: whether a listener was bound to @address
 */
gboolean
vsmtp_server_stop_listening_on (VsmtpServer    *self,
                                GSocketAddress *address)
{
  int index;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), FALSE);

  index = find_listener (self, address);
  if (index < 0)
    return FALSE;

  for (GList *l = self->listen_addresses; l != NULL; l = l->next)
    if (same_address (l->data, address))
      {
        g_object_unref (l->data);
        self->listen_addresses = g_list_delete_link (self->listen_addresses, l);
        break;
      }
  g_ptr_array_remove_index (self->listeners, index);
  return TRUE;
}

/**
 * vsmtp_server_set_listen_options_on:
 * @self: a server
 * @address: the address a listener is bound to (the effective address)
 * @options: how connections on it are handled from now on; the server
 *   keeps a copy
 *
 * Changes the options of the listener bound to @address, keeping its
 * socket: no connection waiting in its backlog is lost. Sessions it
 * accepted before keep the options they started with.
 *
 * Returns: whether a listener was bound to @address
 */
gboolean
vsmtp_server_set_listen_options_on (VsmtpServer        *self,
                                    GSocketAddress     *address,
                                    VsmtpListenOptions *options)
{
  g_autoptr(VsmtpListenOptions) copy = NULL;
  int index;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), FALSE);
  g_return_val_if_fail (VSMTP_IS_LISTEN_OPTIONS (options), FALSE);

  index = find_listener (self, address);
  if (index < 0)
    return FALSE;
  copy = _vsmtp_listen_options_copy (options);
  _vsmtp_listener_set_options (self->listeners->pdata[index], copy);
  return TRUE;
}

/* vsmtpd-metrics.c: [metrics], the server's metrics over HTTP for
 * Prometheus
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A libsoup 3 SoupServer on the daemon's main context answers GET
 * /metrics with vsmtp_metrics_render() of the server's registry. The
 * metrics name clients (listeners, AUTH mechanisms...), so the listener is
 * on a loopback address unless [metrics] allow names the scrapers, and a
 * client that is neither loopback (without allow) nor allowed gets 403.
 */
#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "vsmtpd-config.h"
#include "vsmtpd-metrics.h"
#include "vsmtpd-status.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct _VsmtpdMetrics
{
  SoupServer  *http;
  VsmtpServer *server;   /* weak: the daemon's, which outlives this */
  GPtrArray   *allow;    /* GInetAddressMask; empty: loopback clients only */
  VsmtpdStatus *status;  /* the status page, / */
  VsmtpdMetricsWorkers *workers;  /* the master of workers: their sum */
};

void
vsmtpd_metrics_set_workers (VsmtpdMetrics        *self,
                            VsmtpdMetricsWorkers *workers)
{
  g_clear_pointer (&self->workers, vsmtpd_metrics_workers_free);
  self->workers = workers;
}

VsmtpConfigGroup *
vsmtpd_metrics_group_new (void)
{
  VsmtpConfigGroup *group = vsmtp_config_group_new ("metrics");

  vsmtp_config_group_add_string (group, "listen", NULL,
                                 "Where to serve /metrics over HTTP, ADDR:PORT (a loopback "
                                 "address unless allow is set); unset: no metrics listener");
  vsmtp_config_group_add_string_list (group, "allow", NULL,
                                      "The scrapers allowed: ADDRESS or ADDRESS/LENGTH; "
                                      "unset: loopback clients only");
  return group;
}

static gboolean
metrics_allows (VsmtpdMetrics *self,
                GInetAddress  *address)
{
  if (address == NULL)
    return FALSE;
  if (self->allow->len == 0)
    return g_inet_address_get_is_loopback (address);
  for (guint i = 0; i < self->allow->len; i++)
    if (g_inet_address_mask_matches (self->allow->pdata[i], address))
      return TRUE;
  return FALSE;
}

static void
on_request (SoupServer        *http,
            SoupServerMessage *message,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  VsmtpdMetrics *self = user_data;
  GSocketAddress *remote = soup_server_message_get_remote_address (message);
  GInetAddress *address = G_IS_INET_SOCKET_ADDRESS (remote) ?
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)) : NULL;
  const char *method = soup_server_message_get_method (message);
  static const char forbidden[] = "forbidden\n";
  char *text;

  if (!metrics_allows (self, address))
    {
      g_autofree char *who = address != NULL ? g_inet_address_to_string (address) : g_strdup ("unknown");

      g_info ("metrics: [%s] is not allowed: 403", who);
      soup_server_message_set_status (message, SOUP_STATUS_FORBIDDEN, NULL);
      soup_server_message_set_response (message, "text/plain", SOUP_MEMORY_STATIC,
                                        forbidden, strlen (forbidden));
      return;
    }
  if (strcmp (path, "/metrics") != 0 && strcmp (path, "/") != 0)
    {
      soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    {
      soup_message_headers_append (soup_server_message_get_response_headers (message),
                                   "Allow", "GET, HEAD");
      soup_server_message_set_status (message, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  if (self->workers != NULL && strcmp (path, "/") == 0)
    {
      static const char no_page[] =
        "no status page with [server] workers above 1: each worker has its own; "
        "/metrics has their sum\n";

      soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
      soup_server_message_set_response (message, "text/plain", SOUP_MEMORY_STATIC,
                                        no_page, strlen (no_page));
      return;
    }
  if (self->workers != NULL)
    {
      vsmtpd_metrics_workers_respond (self->workers, message);
      return;
    }
  if (self->server == NULL)
    {
      soup_server_message_set_status (message, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      return;
    }

  if (strcmp (path, "/") == 0)
    {
      vsmtpd_status_serve (self->status, message);
      return;
    }

  text = vsmtp_metrics_render (vsmtp_server_get_metrics (self->server));
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (message, CONTENT_TYPE, SOUP_MEMORY_TAKE, text, strlen (text));
}

void
vsmtpd_metrics_free (VsmtpdMetrics *self)
{
  if (self == NULL)
    return;
  if (self->http != NULL)
    soup_server_disconnect (self->http);
  g_clear_object (&self->http);
  g_clear_pointer (&self->status, vsmtpd_status_free);
  g_clear_weak_pointer (&self->server);
  g_clear_pointer (&self->allow, g_ptr_array_unref);
  g_clear_pointer (&self->workers, vsmtpd_metrics_workers_free);
  g_free (self);
}

VsmtpdMetrics *
vsmtpd_metrics_start (GKeyFile     *keyfile,
                      VsmtpServer  *server,
                      GSocket      *socket,
                      char        **description,
                      GError      **error)
{
  g_autoptr(VsmtpConfigGroup) group = vsmtpd_metrics_group_new ();
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *listen = NULL;
  g_auto(GStrv) allow = NULL;
  GInetAddress *inet;
  VsmtpdMetrics *self;
  GSList *uris;

  if (!vsmtp_config_group_load (group, keyfile, error))
    return NULL;
  listen = vsmtp_config_group_dup_string (group, "listen");
  if (socket == NULL && (listen == NULL || *listen == '\0'))
    return NULL;

  /* systemd's socket: its address is the unit's business */
  address = socket != NULL ? g_socket_get_local_address (socket, NULL)
                           : vsmtpd_parse_listen_address (listen);
  if (socket != NULL && address != NULL)
    {
      g_free (listen);
      listen = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
    }
  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[metrics] listen: \"%s\" is not ADDR:PORT", listen);
      return NULL;
    }

  self = g_new0 (VsmtpdMetrics, 1);
  self->allow = g_ptr_array_new_with_free_func (g_object_unref);
  allow = vsmtp_config_group_dup_string_list (group, "allow");
  for (guint i = 0; allow != NULL && allow[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autofree char *text = g_strstrip (g_strdup (allow[i]));
      GInetAddressMask *mask;

      if (*text == '\0')
        continue;
      mask = g_inet_address_mask_new_from_string (text, &local_error);
      if (mask == NULL)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "[metrics] allow: \"%s\": %s", text, local_error->message);
          vsmtpd_metrics_free (self);
          return NULL;
        }
      g_ptr_array_add (self->allow, mask);
    }

  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  if (self->allow->len == 0 && !g_inet_address_get_is_loopback (inet))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[metrics] listen: %s is not a loopback address: name the scrapers "
                   "in [metrics] allow", listen);
      vsmtpd_metrics_free (self);
      return NULL;
    }

  g_set_weak_pointer (&self->server, server);
  /* the master of workers has no server of its own, and no page */
  if (server != NULL)
    self->status = vsmtpd_status_new (server);
  self->http = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (self->http, NULL, on_request, self, NULL);
  if (socket != NULL ? !soup_server_listen_socket (self->http, socket, 0, error)
                     : !soup_server_listen (self->http, address, 0, error))
    {
      g_prefix_error (error, "[metrics] listen: %s: ", listen);
      vsmtpd_metrics_free (self);
      return NULL;
    }

  uris = soup_server_get_uris (self->http);
  if (description != NULL && uris != NULL)
    {
      g_autofree char *uri = g_uri_to_string (uris->data);

      *description = self->status != NULL ?
        g_strdup_printf ("metrics on %smetrics, status page on %s", uri, uri) :
        g_strdup_printf ("metrics on %smetrics", uri);
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return self;
}

void
vsmtpd_metrics_set_config (VsmtpdMetrics        *self,
                           VsmtpdConfig * const *config)
{
  vsmtpd_status_set_config (self->status, config);
}

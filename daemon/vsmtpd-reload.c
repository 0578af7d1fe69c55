/* vsmtpd-reload.c: SIGHUP, the whole configuration read again
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The configuration file (and the command line's overrides) is loaded
 * into a new VsmtpdConfig, with every check of a start. Then, in an order
 * where each fallible step can be undone:
 *
 * 1. what cannot change while running is compared (the plugins enabled
 *    and their path, user, group, workers, the TLS versions and suites,
 *    smtputf8, disable-extensions): a change needs a restart, and the
 *    reload is refused;
 * 2. the listeners the new configuration adds are bound (a failure stops
 *    those just bound);
 * 3. every activated plugin is configured again with its new group
 *    (vsmtpd_plugins_reconfigure(): a refusal puts the old groups back,
 *    and the listeners of step 2 are closed);
 * 4. nothing can fail any more: the server's properties (limits, timeouts,
 *    host name, certificate, the keyfile) are set, which new sessions
 *    snapshot while running ones keep theirs; listeners whose options
 *    changed get the new ones on the same socket; listeners gone are
 *    closed (their sessions go on).
 *
 * Listeners are told apart by address: the same address in both
 * configurations keeps its socket, so no connection waiting in the backlog
 * is lost. Sockets passed by systemd (socket activation) are systemd's: a
 * reload leaves them as they are.
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <glib/gstdio.h>

#include "vsmtpd-listeners.h"
#include "vsmtpd-reload.h"
#include "vsmtpd-tls.h"

/* One address a configuration listens on */
typedef struct
{
  char             *id;           /* the address, as text */
  char             *options_key;  /* what its options are made of */
  VsmtpdListener   *listener;     /* [listener NAME], or NULL: [server] listen* */
  guint             index;        /* in listener->addresses */
  GSocketAddress   *address;      /* [server] listen*: the address */
  VsmtpListenFlags  flags;        /* [server] listen*: its kind */
  GSocketAddress   *effective;    /* bound: the address with its port */
} Endpoint;

struct _VsmtpdReloader
{
  VsmtpServer                  *server;
  VsmtpdPlugins                *plugins;
  const VsmtpdConfigOverrides  *overrides;
  gboolean                      reuse_port;
  gboolean                      activated;
  GPtrArray                    *bound;  /* Endpoint, as listening now */
};

static void
endpoint_free (Endpoint *endpoint)
{
  g_free (endpoint->id);
  g_free (endpoint->options_key);
  g_clear_object (&endpoint->address);
  g_clear_object (&endpoint->effective);
  g_free (endpoint);
}

static char *
address_id (GSocketAddress *address,
            const char     *configured)
{
  /* port 0 (any free port) is never the same listener twice */
  if (G_IS_INET_SOCKET_ADDRESS (address) &&
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)) == 0)
    return g_strdup_printf ("%s#%p", configured, (void *) address);
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

/* A [listener NAME] section as text: any change in it changes the options */
static char *
section_text (GKeyFile   *keyfile,
              const char *name)
{
  g_autofree char *group = g_strconcat ("listener ", name, NULL);
  g_auto(GStrv) keys = g_key_file_get_keys (keyfile, group, NULL, NULL);
  GString *text = g_string_new (group);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *value = g_key_file_get_value (keyfile, group, keys[i], NULL);

      g_string_append_printf (text, "\n%s=%s", keys[i], value != NULL ? value : "");
    }
  return g_string_free (text, FALSE);
}

static void
add_server_endpoints (GPtrArray        *endpoints,
                      VsmtpdConfig     *config,
                      char            **configured,
                      GPtrArray        *addresses,
                      VsmtpListenFlags  flags)
{
  g_autofree char *trusted = config->xclient_trusted != NULL ?
                             g_strjoinv (";", config->xclient_trusted) : g_strdup ("");

  for (guint i = 0; i < addresses->len; i++)
    {
      Endpoint *endpoint = g_new0 (Endpoint, 1);

      endpoint->address = g_object_ref (addresses->pdata[i]);
      endpoint->flags = flags;
      endpoint->id = address_id (endpoint->address, configured[i]);
      endpoint->options_key = g_strdup_printf ("server %u\n%s", (guint) flags, trusted);
      g_ptr_array_add (endpoints, endpoint);
    }
}

/* Every address of @config, in the order the daemon binds them
 * (listen_configured() in vsmtpd.c) */
static GPtrArray *
config_endpoints (VsmtpdConfig *config)
{
  GPtrArray *endpoints = g_ptr_array_new_with_free_func ((GDestroyNotify) endpoint_free);

  for (guint i = 0; i < config->listeners->len; i++)
    {
      VsmtpdListener *listener = config->listeners->pdata[i];
      g_autofree char *text = section_text (config->keyfile, listener->name);

      for (guint j = 0; j < listener->addresses->len; j++)
        {
          Endpoint *endpoint = g_new0 (Endpoint, 1);

          endpoint->listener = listener;
          endpoint->index = j;
          endpoint->id = address_id (listener->addresses->pdata[j], listener->listen[j]);
          endpoint->options_key = g_strdup (text);
          g_ptr_array_add (endpoints, endpoint);
        }
    }
  add_server_endpoints (endpoints, config, config->listen, config->listen_addresses,
                        VSMTP_LISTEN_FLAGS_NONE);
  add_server_endpoints (endpoints, config, config->listen_tls, config->listen_tls_addresses,
                        VSMTP_LISTEN_FLAGS_IMPLICIT_TLS);
  add_server_endpoints (endpoints, config, config->listen_submission,
                        config->listen_submission_addresses, VSMTP_LISTEN_FLAGS_AUTH_REQUIRED);
  add_server_endpoints (endpoints, config, config->listen_submissions,
                        config->listen_submissions_addresses,
                        VSMTP_LISTEN_FLAGS_IMPLICIT_TLS | VSMTP_LISTEN_FLAGS_AUTH_REQUIRED);
  return endpoints;
}

static Endpoint *
find_endpoint (GPtrArray  *endpoints,
               const char *id)
{
  for (guint i = 0; i < endpoints->len; i++)
    if (g_str_equal (((Endpoint *) endpoints->pdata[i])->id, id))
      return endpoints->pdata[i];
  return NULL;
}

VsmtpdReloader *
vsmtpd_reloader_new (VsmtpServer                  *server,
                     VsmtpdPlugins                *plugins,
                     VsmtpdConfig                 *config,
                     const VsmtpdConfigOverrides  *overrides,
                     gboolean                      reuse_port,
                     gboolean                      activated)
{
  VsmtpdReloader *self = g_new0 (VsmtpdReloader, 1);
  GList *bound = vsmtp_server_get_listen_addresses (server);

  self->server = g_object_ref (server);
  self->plugins = plugins;
  self->overrides = overrides;
  self->reuse_port = reuse_port;
  self->activated = activated;
  self->bound = config_endpoints (config);

  /* the server lists its addresses in the order they were bound */
  for (guint i = 0; i < self->bound->len; i++, bound = bound != NULL ? bound->next : NULL)
    {
      Endpoint *endpoint = self->bound->pdata[i];

      if (bound != NULL && !activated)
        endpoint->effective = g_object_ref (bound->data);
      endpoint->listener = NULL;   /* the config's: it may go */
    }
  return self;
}

void
vsmtpd_reloader_free (VsmtpdReloader *self)
{
  if (self == NULL)
    return;
  g_clear_object (&self->server);
  g_clear_pointer (&self->bound, g_ptr_array_unref);
  g_free (self);
}

static const char *
unix_path (GSocketAddress *address)
{
  if (address == NULL || !G_IS_UNIX_SOCKET_ADDRESS (address))
    return NULL;
  return g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address));
}

static VsmtpListenOptions *
endpoint_options (Endpoint     *endpoint,
                  VsmtpdConfig *config,
                  gboolean      reuse_port)
{
  if (endpoint->listener != NULL)
    return g_object_ref (endpoint->listener->options);
  return vsmtpd_config_new_listen_options (config, endpoint->flags |
                                                   (reuse_port ? VSMTP_LISTEN_FLAGS_REUSE_PORT : 0));
}

static void
unbind_endpoint (VsmtpdReloader *self,
                 Endpoint       *endpoint)
{
  const char *path = unix_path (endpoint->effective);

  if (endpoint->effective == NULL)
    return;
  vsmtp_server_stop_listening_on (self->server, endpoint->effective);
  if (path != NULL)
    g_unlink (path);
  g_clear_object (&endpoint->effective);
}

static gboolean
strv_same (char **a,
           char **b)
{
  if (a == NULL || b == NULL)
    return (a == NULL || a[0] == NULL) && (b == NULL || b[0] == NULL);
  return g_strv_equal ((const char * const *) a, (const char * const *) b);
}

static gboolean
bind_endpoint (VsmtpdReloader  *self,
               Endpoint        *endpoint,
               VsmtpdConfig    *config,
               GError         **error)
{
  g_autoptr(GPtrArray) listening = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;

  if (endpoint->listener != NULL)
    {
      if (!vsmtpd_listener_bind_address (endpoint->listener, endpoint->index, self->server,
                                         self->reuse_port, listening, &endpoint->effective,
                                         error))
        {
          /* bound, but its socket file's owner or mode could not be set */
          unbind_endpoint (self, endpoint);
          return FALSE;
        }
    }
  else
    {
      g_autoptr(VsmtpListenOptions) options = endpoint_options (endpoint, config, self->reuse_port);

      if (!vsmtp_server_listen_with_options (self->server, endpoint->address, options,
                                             &endpoint->effective, &local_error))
        {
          g_set_error (error, local_error->domain, local_error->code,
                       "cannot listen on %s: %s", endpoint->id, local_error->message);
          return FALSE;
        }
      g_ptr_array_add (listening, g_strdup_printf ("listening on %s", endpoint->id));
    }
  for (guint i = 0; i < listening->len; i++)
    g_info ("reload: %s", (const char *) listening->pdata[i]);
  return TRUE;
}

/* The plugins of @a that @b does not have, "a, b", or NULL: none */
static char *
plugins_missing (char **a,
                 char **b)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_auto(GStrv) list = NULL;

  for (guint i = 0; a != NULL && a[i] != NULL; i++)
    if (b == NULL || !g_strv_contains ((const char * const *) b, a[i]))
      g_strv_builder_add (names, a[i]);
  list = g_strv_builder_end (names);
  return list[0] != NULL ? g_strjoinv (", ", list) : NULL;
}

/* [plugins] enabled changed: which plugins, and why a reload does not
 * activate or deactivate them. The plugin engine would allow it, the
 * plugins would not: a plugin's handlers run in the order of the
 * plugins' priorities only because the plugins are activated in that
 * order at start (one added later would run after every other, whatever
 * its priority); a plugin deactivated and unloaded would take away, or
 * leave dangling, the handlers the running sessions hold of it; and a
 * plugin's deactivate() runs only at exit today (what it registered on
 * the server, extensions and metrics, stays). */
static void
set_plugins_changed_error (VsmtpdConfig  *old,
                           VsmtpdConfig  *new,
                           GError       **error)
{
  g_autofree char *added = plugins_missing (new->plugins_enabled, old->plugins_enabled);
  g_autofree char *removed = plugins_missing (old->plugins_enabled, new->plugins_enabled);

  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "[plugins] enabled changed (%s%s%s%s%s): that needs a restart: plugins are "
               "activated in priority order at start only, and running sessions hold the "
               "handlers of those they started with",
               added != NULL ? "added " : "", added != NULL ? added : "",
               added != NULL && removed != NULL ? "; " : "",
               removed != NULL ? "removed " : "", removed != NULL ? removed : "");
  if (added == NULL && removed == NULL)
    {
      g_clear_error (error);
      g_set_error_literal (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                           "[plugins] enabled changed (the same plugins in another order): "
                           "that needs a restart: plugins are activated in priority order "
                           "at start only");
    }
}

/* What a running daemon cannot change: NULL, or the key that changed */
static const char *
needs_restart (VsmtpdConfig *old,
               VsmtpdConfig *new)
{
  if (!strv_same (old->plugins_enabled, new->plugins_enabled))
    return "[plugins] enabled";
  if (!strv_same (old->plugins_path, new->plugins_path))
    return "[plugins] path";
  if (g_strcmp0 (old->run_as_user, new->run_as_user) != 0)
    return "[server] user";
  if (g_strcmp0 (old->run_as_group, new->run_as_group) != 0)
    return "[server] group";
  if (old->workers != new->workers)
    return "[server] workers";
  if (g_strcmp0 (old->tls_priority, new->tls_priority) != 0)
    return "[server] tls-priority or tls-min-version";
  if (old->smtputf8 != new->smtputf8)
    return "[server] smtputf8";
  if (!strv_same (old->disable_extensions, new->disable_extensions))
    return "[server] disable-extensions";
  /* the bus connection and the name are made once (vsmtpd-dbus.c) */
  if (old->dbus != new->dbus || g_strcmp0 (old->dbus_group, new->dbus_group) != 0)
    return "[server] dbus or dbus-group";
  return NULL;
}

gboolean
vsmtpd_reloader_reload (VsmtpdReloader  *self,
                        VsmtpdConfig   **config,
                        GError         **error)
{
  VsmtpdConfig *old = *config;
  g_autoptr(VsmtpdConfig) new = NULL;
  g_autoptr(GPtrArray) endpoints = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new ();
  g_autoptr(GError) local_error = NULL;
  const char *restart;
  guint n_changed = 0, n_removed = 0;
  g_autofree char *fingerprint = NULL;
  gboolean self_signed = FALSE;

  new = vsmtpd_config_load (self->overrides, error);
  if (new == NULL)
    return FALSE;

  restart = needs_restart (old, new);
  if (restart != NULL && g_str_equal (restart, "[plugins] enabled"))
    {
      set_plugins_changed_error (old, new, error);
      return FALSE;
    }
  if (restart != NULL)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s changed: that needs a restart", restart);
      return FALSE;
    }

  /* the self-signed certificate the daemon made goes on */
  if (new->tls_certificate == NULL)
    {
      if (!g_key_file_has_key (old->keyfile, "server", "tls-certificate", NULL) &&
          old->tls_certificate != NULL)
        {
          new->tls_certificate = g_object_ref (old->tls_certificate);
          new->tls_certificate_path = g_strdup (old->tls_certificate_path);
          new->tls_key_path = g_strdup (old->tls_key_path);
          self_signed = TRUE;
        }
      else
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "[server] tls-certificate removed: going back to the self-signed "
                       "certificate needs a restart");
          return FALSE;
        }
    }

  /* 2: the addresses the new configuration adds */
  endpoints = config_endpoints (new);
  for (guint i = 0; !self->activated && i < endpoints->len; i++)
    {
      Endpoint *endpoint = endpoints->pdata[i];
      Endpoint *bound = find_endpoint (self->bound, endpoint->id);

      if (bound != NULL && bound->effective != NULL)
        continue;
      if (!bind_endpoint (self, endpoint, new, error))
        goto undo;
      g_ptr_array_add (added, endpoint);
    }

  /* 3: the plugins */
  if (!vsmtpd_plugins_reconfigure (self->plugins, new->keyfile, old->keyfile, &local_error))
    {
      g_autofree char *located = vsmtpd_config_locate (new, local_error->message);

      g_set_error_literal (error, local_error->domain, local_error->code,
                           located != NULL ? located : local_error->message);
      goto undo;
    }

  /* 4: nothing fails from here */
  vsmtpd_config_apply_properties (new, self->server);

  for (guint i = 0; i < endpoints->len; i++)
    {
      Endpoint *endpoint = endpoints->pdata[i];
      Endpoint *bound = find_endpoint (self->bound, endpoint->id);
      const char *path;

      if (bound == NULL || bound->effective == NULL)
        continue;
      endpoint->effective = g_steal_pointer (&bound->effective);
      /* its socket file stays: removed at exit by the new listener */
      path = unix_path (endpoint->effective);
      if (path != NULL && endpoint->listener != NULL)
        g_ptr_array_add (endpoint->listener->bound_paths, g_strdup (path));
      if (!g_str_equal (bound->options_key, endpoint->options_key))
        {
          g_autoptr(VsmtpListenOptions) options = endpoint_options (endpoint, new, self->reuse_port);

          vsmtp_server_set_listen_options_on (self->server, endpoint->effective, options);
          g_info ("reload: new options for %s", endpoint->id);
          n_changed++;
        }
    }
  for (guint i = 0; i < self->bound->len; i++)
    {
      Endpoint *bound = self->bound->pdata[i];

      if (bound->effective == NULL)
        continue;
      g_info ("reload: no longer listening on %s (its sessions go on)", bound->id);
      unbind_endpoint (self, bound);
      n_removed++;
    }
  /* the UNIX socket files of the old listeners are handled above */
  for (guint i = 0; i < old->listeners->len; i++)
    g_ptr_array_set_size (((VsmtpdListener *) old->listeners->pdata[i])->bound_paths, 0);
  for (guint i = 0; i < endpoints->len; i++)
    ((Endpoint *) endpoints->pdata[i])->listener = NULL;
  g_ptr_array_unref (self->bound);
  self->bound = g_steal_pointer (&endpoints);

  fingerprint = vsmtpd_tls_dup_fingerprint (new->tls_certificate);
  g_info ("SIGHUP received: configuration reloaded from %s: %u listener(s) added, "
          "%u removed, %u with new options; TLS certificate %s %s (SHA-256 %s)",
          new->path != NULL ? new->path : "built-in defaults and the command line",
          added->len, n_removed, n_changed,
          self_signed ? "kept: the self-signed one," : "reloaded from",
          new->tls_certificate_path, fingerprint);
  *config = g_steal_pointer (&new);
  vsmtpd_config_free (old);
  return TRUE;

undo:
  for (guint i = 0; i < added->len; i++)
    unbind_endpoint (self, added->pdata[i]);
  return FALSE;
}

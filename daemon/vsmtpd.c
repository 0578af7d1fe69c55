/* vsmtpd.c: the SMTP daemon built on libvsmtp
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/resource.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <string.h>
#include <vsmtp.h>

#include "vsmtpd-check.h"
#include "vsmtpd-config.h"
#include "vsmtpd-workers.h"
#include "vsmtpd-log.h"
#include "vsmtpd-log-batch.h"
#include "vsmtpd-plugins.h"
#include "vsmtpd-privileges.h"
#include "vsmtpd-listeners.h"
#include "vsmtpd-notify.h"
#include "vsmtpd-reload.h"
#include "vsmtpd-tls.h"
#include "vsmtpd-metrics.h"
#include "vsmtpd-dbus.h"

typedef struct
{
  GMainLoop     *loop;
  VsmtpServer   *server;
  VsmtpdConfig  *config;
  VsmtpdPlugins *plugins;
  GPtrArray     *listening;  /* what to log once started */
  gboolean       shutting_down;
  gboolean       reuse_port; /* a worker of several: SO_REUSEPORT listeners */
  VsmtpdReloader *reloader;  /* SIGHUP */
  VsmtpdMetrics *metrics;    /* [metrics] listen, or NULL */
  GSocket       *metrics_socket; /* passed by systemd, named "metrics" */
  SoupServer    *worker_metrics; /* a worker's, for the master (vsmtpd-metrics-workers.c) */
  VsmtpdMetricsWorkers *metrics_workers; /* the master's: owned by metrics */
  VsmtpdDBus    *dbus;       /* [server] dbus, or NULL */
} Daemon;

static char *
address_to_string (GSocketAddress *address)
{
  if (G_IS_SOCKET_CONNECTABLE (address))
    return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));

  return g_strdup ("(unknown address)");
}

/* systemd socket activation (sd_listen_fds(3), without libsystemd):
 * the sockets are fds 3 .. 3 + LISTEN_FDS - 1 when LISTEN_PID is us. */
static gboolean
listen_systemd_sockets (Daemon    *daemon,
                        gboolean  *activated,
                        GError   **error)
{
  const char *pid_text = g_getenv ("LISTEN_PID");
  const char *fds_text = g_getenv ("LISTEN_FDS");
  guint64 pid, n_fds;
  g_auto(GStrv) names = NULL;
  guint n_smtp = 0;

  *activated = FALSE;

  if (pid_text == NULL || fds_text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (pid_text, 10, 1, G_MAXINT, &pid, NULL) ||
      (pid_t) pid != getpid ())
    return TRUE;
  if (!g_ascii_string_to_unsigned (fds_text, 10, 0, 4096, &n_fds, NULL) || n_fds == 0)
    return TRUE;

  /* sd_listen_fds_with_names(3): systemd's FileDescriptorName=, which
   * names the [listener NAME] whose options the socket gets */
  if (g_getenv ("LISTEN_FDNAMES") != NULL)
    names = g_strsplit (g_getenv ("LISTEN_FDNAMES"), ":", -1);

  /* Not for our children */
  g_unsetenv ("LISTEN_PID");
  g_unsetenv ("LISTEN_FDS");
  g_unsetenv ("LISTEN_FDNAMES");

  for (int fd = 3; fd < 3 + (int) n_fds; fd++)
    {
      g_autoptr(GError) local_error = NULL;
      const char *fd_name = names != NULL && (guint) (fd - 3) < g_strv_length (names) ?
                            names[fd - 3] : NULL;

      /* FileDescriptorName=metrics: [metrics]'s HTTP listener (vsmtpd-metrics.c) */
      if (g_strcmp0 (fd_name, "metrics") == 0)
        {
          fcntl (fd, F_SETFD, FD_CLOEXEC);
          g_clear_object (&daemon->metrics_socket);
          daemon->metrics_socket = g_socket_new_from_fd (fd, &local_error);
          if (daemon->metrics_socket == NULL)
            {
              g_set_error (error, local_error->domain, local_error->code,
                           "cannot use the socket passed by systemd (fd %d): %s",
                           fd, local_error->message);
              return FALSE;
            }
          continue;
        }
      n_smtp++;
    /* a block of its own: the continue above does not jump over cleanups */
    {
      g_autoptr(GSocket) socket = NULL;
      g_autoptr(GSocketAddress) address = NULL;
      g_autofree char *text = NULL;
      const char *name = fd_name;
      VsmtpdListener *listener = name != NULL ?
                                 vsmtpd_listeners_find (daemon->config->listeners, name) : NULL;

      fcntl (fd, F_SETFD, FD_CLOEXEC);

      g_autoptr(VsmtpListenOptions) options =
        vsmtpd_config_new_listen_options (daemon->config, VSMTP_LISTEN_FLAGS_NONE);

      socket = g_socket_new_from_fd (fd, &local_error);
      if (socket == NULL ||
          !vsmtp_server_listen_socket_with_options (daemon->server, socket,
                                                    listener != NULL ? listener->options : options,
                                                    &local_error))
        {
          g_set_error (error, local_error->domain, local_error->code,
                       "cannot use the socket passed by systemd (fd %d): %s",
                       fd, local_error->message);
          return FALSE;
        }

      address = g_socket_get_local_address (socket, NULL);
      text = address != NULL ? address_to_string (address) : g_strdup_printf ("fd %d", fd);
      g_ptr_array_add (daemon->listening,
                       g_strdup_printf ("listening on %s (socket activation%s%s)", text,
                                        listener != NULL ? ", listener " : "",
                                        listener != NULL ? listener->name : ""));
    }
    }

  /* only a metrics socket: SMTP listens as configured */
  *activated = n_smtp > 0;
  return TRUE;
}

static gboolean
listen_on (Daemon            *daemon,
           char             **configured,
           GPtrArray         *addresses,
           VsmtpListenFlags   flags,
           const char        *kind,
           GError           **error)
{
  for (guint i = 0; i < addresses->len; i++)
    {
      GSocketAddress *address = g_ptr_array_index (addresses, i);
      g_autoptr(GSocketAddress) effective = NULL;
      g_autoptr(GError) local_error = NULL;
      g_autofree char *text = NULL;
      g_autoptr(VsmtpListenOptions) options =
        vsmtpd_config_new_listen_options (daemon->config,
                                          flags | (daemon->reuse_port ? VSMTP_LISTEN_FLAGS_REUSE_PORT : 0));

      if (!vsmtp_server_listen_with_options (daemon->server, address, options,
                                             &effective, &local_error))
        {
          const char *reason = local_error->message;

          /* GIO's message repeats the address */
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
            reason = g_strerror (EADDRINUSE);
          else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
            reason = g_strerror (EACCES);

          g_set_error (error, local_error->domain, local_error->code,
                       "cannot listen on %s: %s", configured[i], reason);
          return FALSE;
        }

      text = address_to_string (effective != NULL ? effective : address);
      g_ptr_array_add (daemon->listening,
                       g_strdup_printf ("listening on %s%s", text, kind));
    }

  return TRUE;
}

/* [server] listen, listen-tls, listen-submission, listen-submissions,
 * then the [listener NAME] sections */
static gboolean
listen_configured (Daemon  *daemon,
                   GError **error)
{
  VsmtpdConfig *config = daemon->config;

  for (guint i = 0; i < config->listeners->len; i++)
    if (!vsmtpd_listener_bind (config->listeners->pdata[i], daemon->server, daemon->reuse_port,
                               daemon->listening, error))
      return FALSE;

  return listen_on (daemon, config->listen, config->listen_addresses,
                    VSMTP_LISTEN_FLAGS_NONE, "", error) &&
         listen_on (daemon, config->listen_tls, config->listen_tls_addresses,
                    VSMTP_LISTEN_FLAGS_IMPLICIT_TLS, " (implicit TLS)", error) &&
         listen_on (daemon, config->listen_submission, config->listen_submission_addresses,
                    VSMTP_LISTEN_FLAGS_AUTH_REQUIRED,
                    " (submission: STARTTLS, AUTH required)", error) &&
         listen_on (daemon, config->listen_submissions, config->listen_submissions_addresses,
                    VSMTP_LISTEN_FLAGS_IMPLICIT_TLS | VSMTP_LISTEN_FLAGS_AUTH_REQUIRED,
                    " (submission: implicit TLS, AUTH required)", error);
}

/* A submission listener without an AUTH plugin refuses every MAIL */
static void
check_submission (Daemon *daemon)
{
  VsmtpdConfig *config = daemon->config;

  if (config->listen_submission_addresses->len + config->listen_submissions_addresses->len == 0)
    return;

  if (vsmtp_server_get_auth_mechanisms (daemon->server) == NULL)
    g_warning ("[server] listen-submission/listen-submissions: no plugin offers AUTH "
               "(enable one, e.g. passwd): every MAIL there gets 530 5.7.0");
}

static void
on_shutdown_done (GObject      *source_object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Daemon *daemon = user_data;
  g_autoptr(GError) error = NULL;

  if (!vsmtp_server_shutdown_finish (VSMTP_SERVER (source_object), result, &error))
    g_warning ("shutdown: %s", error->message);

  vsmtpd_plugins_unload_all (daemon->plugins);
  g_info ("stopped");
  g_main_loop_quit (daemon->loop);
}

static void
begin_shutdown_with_grace (Daemon     *daemon,
                           const char *signal_name,
                           guint       grace);

static void
begin_shutdown (Daemon     *daemon,
                const char *signal_name)
{
  begin_shutdown_with_grace (daemon, signal_name, daemon->config->shutdown_grace);
}

static void
begin_shutdown_with_grace (Daemon     *daemon,
                           const char *signal_name,
                           guint       grace)
{
  /* Already stopping: a shorter grace period brings the deadline forward
   * (0: the sessions still open are closed at once, with 421); an equal or
   * longer one changes nothing. The sessions are always closed by the
   * server, never dropped by an exit. */
  if (daemon->shutting_down)
    {
      if (vsmtp_server_shorten_shutdown (daemon->server, grace))
        g_info ("%s received while stopping: the %u session(s) still open get %u s more at most",
                signal_name, vsmtp_server_get_n_sessions (daemon->server), grace);
      else
        g_info ("%s received while stopping: already stopping, with a deadline no later "
                "than %u s from now (unchanged)", signal_name, grace);
      return;
    }

  daemon->shutting_down = TRUE;
  vsmtpd_notify_stopping ();
  g_info ("%s received: no new connections, waiting up to %u s for %u session(s)",
          signal_name, grace,
          vsmtp_server_get_n_sessions (daemon->server));
  vsmtp_server_shutdown_async (daemon->server, grace,
                               NULL, on_shutdown_done, daemon);
}

static gboolean
on_sigterm (gpointer user_data)
{
  begin_shutdown (user_data, "SIGTERM");
  return G_SOURCE_CONTINUE;
}

/* A second SIGINT (Ctrl-C twice) does not wait for the sessions */
static gboolean
on_sigint (gpointer user_data)
{
  Daemon *daemon = user_data;

  if (daemon->shutting_down)
    begin_shutdown_with_grace (daemon, "SIGINT", 0);
  else
    begin_shutdown (daemon, "SIGINT");
  return G_SOURCE_CONTINUE;
}

/* Reads the configuration again and applies it, or nothing of it (@why:
 * what asked, for the log); told to systemd and on D-Bus (ReloadDone) */
static gboolean
daemon_reload (Daemon      *daemon,
               const char  *why,
               GError     **error)
{
  g_autoptr(GError) local_error = NULL;

  vsmtpd_notify_reloading ();
  if (!vsmtpd_reloader_reload (daemon->reloader, &daemon->config, &local_error))
    g_warning ("%s: configuration not reloaded (keeping the current TLS "
               "certificate and settings): %s", why, local_error->message);
  vsmtpd_notify_reloaded ();
  vsmtpd_dbus_reload_done (daemon->dbus, local_error == NULL,
                           local_error == NULL ? "configuration reloaded" : local_error->message);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* SIGHUP: the whole configuration is read again (vsmtpd-reload.c); the
 * certificate and key too, from the same files (renewed by certbot and the
 * like). Sessions already running keep their settings, and those in TLS
 * the certificate they negotiated with; a configuration that cannot be
 * loaded or applied changes nothing, and is told in one line. */
static gboolean
on_sighup (gpointer user_data)
{
  Daemon *daemon = user_data;

  if (daemon->reloader == NULL || daemon->shutting_down)
    return G_SOURCE_CONTINUE;
  daemon_reload (daemon, "SIGHUP received", NULL);
  return G_SOURCE_CONTINUE;
}

/* D-Bus Reload: as SIGHUP, told to the caller */
static gboolean
dbus_reload (gpointer   user_data,
             GError   **error)
{
  Daemon *daemon = user_data;

  if (daemon->reloader == NULL || daemon->shutting_down)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY, "vsmtpd is stopping");
      return FALSE;
    }
  return daemon_reload (daemon, "reload requested over D-Bus", error);
}

/* D-Bus Stop: as SIGTERM, with the grace period asked for */
static void
dbus_stop (gpointer user_data,
           int      grace_seconds)
{
  Daemon *daemon = user_data;

  begin_shutdown_with_grace (daemon, "Stop (D-Bus)",
                             grace_seconds < 0 ? daemon->config->shutdown_grace : (guint) grace_seconds);
}

/* Without a configured certificate: the self-signed one in the state
 * folder, generated on first start, so that STARTTLS works out of the box. */
static gboolean
setup_tls (Daemon  *daemon,
           GError **error)
{
  VsmtpdConfig *config = daemon->config;
  g_autofree char *fingerprint = NULL;

  if (config->tls_certificate == NULL)
    {
      g_autofree char *state_directory = vsmtpd_config_default_state_directory ();
      g_autofree char *directory = g_build_filename (state_directory, "tls", NULL);
      g_autofree char *previous_name = NULL;
      gboolean created = FALSE;

      if (!vsmtpd_tls_ensure_self_signed (directory, config->hostname,
                                          &config->tls_certificate_path,
                                          &config->tls_key_path,
                                          &created, &previous_name, error))
        return FALSE;

      config->tls_certificate = vsmtpd_tls_load_certificate (config->tls_certificate_path,
                                                             config->tls_key_path,
                                                             NULL, error);
      if (config->tls_certificate == NULL)
        return FALSE;

      vsmtp_server_set_tls_certificate (daemon->server, config->tls_certificate);
      if (previous_name != NULL)
        g_info ("the self-signed TLS certificate in %s was for %s, not %s: replaced it",
                config->tls_certificate_path, previous_name, config->hostname);
      g_info ("%s self-signed TLS certificate for %s: %s (key %s); set [server] "
              "tls-certificate and tls-key to use another",
              created ? "generated a" : "using the", config->hostname,
              config->tls_certificate_path, config->tls_key_path);
    }

  fingerprint = vsmtpd_tls_dup_fingerprint (config->tls_certificate);
  g_info ("TLS certificate %s (SHA-256 %s)%s", config->tls_certificate_path, fingerprint,
          config->require_tls ? ", TLS required for mail" : "");
  return TRUE;
}

/* The secret the decoy SCRAM salts of users without SCRAM credentials are
 * derived from (VsmtpServer:scram-secret): kept in the state folder, so
 * that a decoy salt stays the same across restarts as a real one does, and
 * the same in every worker. Generated on first start (the master does it
 * before starting workers). NULL, with a warning, when it can be neither
 * read nor written: the server then picks one per process. */
static GBytes *
ensure_scram_secret (void)
{
  g_autofree char *state_directory = vsmtpd_config_default_state_directory ();
  g_autofree char *path = g_build_filename (state_directory, "scram-secret", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  guint8 secret[32];
  gsize length = 0;

  if (g_file_get_contents (path, &contents, &length, NULL) && length >= sizeof secret)
    return g_bytes_new_take (g_steal_pointer (&contents), length);

  if (gnutls_rnd (GNUTLS_RND_KEY, secret, sizeof secret) != 0)
    {
      g_warning ("cannot make a SCRAM secret: no random bytes");
      return NULL;
    }
  if (g_mkdir_with_parents (state_directory, 0700) != 0 ||
      !g_file_set_contents_full (path, (const char *) secret, sizeof secret,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    {
      g_warning ("cannot keep the SCRAM secret in %s (%s): decoy salts for unknown users "
                 "will change when vsmtpd restarts", path,
                 error != NULL ? error->message : g_strerror (errno));
      explicit_bzero (secret, sizeof secret);
      return NULL;
    }
  g_info ("generated the SCRAM secret %s", path);
  return g_bytes_new (secret, sizeof secret);
}

static void
log_startup (Daemon *daemon)
{
  g_autofree char *plugins = NULL;

  plugins = g_strjoinv (", ", daemon->config->plugins_enabled);
  g_info ("vsmtpd %s started as %s, configuration: %s, plugins: %s",
          PACKAGE_VERSION,
          daemon->config->hostname,
          daemon->config->path != NULL ? daemon->config->path : "built-in defaults",
          plugins[0] != '\0' ? plugins : "none (every message will be refused with 451)");
}

/* Every connection is a file descriptor: take the hard limit (systemd's
 * default soft limit of 1024 would cap the server far below its
 * max-connections). */
static void
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
        g_debug ("cannot raise the file descriptor limit: %s", g_strerror (errno));
    }
}

static void
print_group (VsmtpConfigGroup *group)
{
  g_autoptr(GPtrArray) keys = vsmtp_config_group_dup_keys (group);
  g_autoptr(GEnumClass) types = g_type_class_ref (VSMTP_TYPE_CONFIG_TYPE);

  g_print ("[%s]\n", vsmtp_config_group_get_name (group));
  for (guint i = 0; i < keys->len; i++)
    {
      VsmtpConfigKey *key = keys->pdata[i];
      VsmtpConfigType type = vsmtp_config_key_get_value_type (key);
      const char *description = vsmtp_config_key_get_description (key);
      const char *default_value = vsmtp_config_key_get_default_value (key);
      const char * const *choices = vsmtp_config_key_get_choices (key);
      const char *unit = vsmtp_config_key_get_unit (key);
      g_autoptr(GString) kind = g_string_new (g_enum_get_value (types, type)->value_nick);

      if (type == VSMTP_CONFIG_TYPE_INTEGER || type == VSMTP_CONFIG_TYPE_DURATION)
        {
          gint64 min = vsmtp_config_key_get_minimum (key);
          gint64 max = vsmtp_config_key_get_maximum (key);

          if (type == VSMTP_CONFIG_TYPE_DURATION)
            g_string_append_printf (kind, ", %g to %g", min / 1000.0, max / 1000.0);
          else if (max == G_MAXINT64)
            g_string_append_printf (kind, ", at least %" G_GINT64_FORMAT, min);
          else
            g_string_append_printf (kind, ", %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, min, max);
          if (unit != NULL)
            g_string_append_printf (kind, " %s", unit);
        }
      else if (choices != NULL)
        {
          g_autofree char *joined = g_strjoinv (", ", (char **) choices);

          g_string_append_printf (kind, ": %s", joined);
        }

      g_print ("# %s (%s)\n#%s=%s\n", description != NULL ? description : "",
               kind->str, vsmtp_config_key_get_name (key),
               default_value != NULL ? default_value : "");
    }
  g_print ("\n");
}

static gboolean
start_metrics (Daemon  *daemon,
               GError **error)
{
  g_autofree char *description = NULL;
  const char *worker_socket = g_getenv ("VSMTPD_METRICS_SOCKET");

  /* a worker: its metrics go to the master, which serves [metrics] listen */
  if (worker_socket != NULL)
    {
      daemon->worker_metrics = vsmtpd_metrics_start_worker (daemon->server, worker_socket, error);
      return daemon->worker_metrics != NULL;
    }
  daemon->metrics = vsmtpd_metrics_start (daemon->config->keyfile, daemon->server,
                                          daemon->metrics_socket, &description, error);
  if (daemon->metrics == NULL)
    return error == NULL || *error == NULL;
  vsmtpd_metrics_set_config (daemon->metrics, &daemon->config);
  g_ptr_array_add (daemon->listening, g_steal_pointer (&description));
  return TRUE;
}

/* The master of [server] workers serves [metrics] listen: the sum of the
 * workers' metrics (vsmtpd-metrics-workers.c) */
static gboolean
start_master_metrics (Daemon  *daemon,
                      GError **error)
{
  g_autofree char *description = NULL;
  VsmtpdMetricsWorkers *workers;

  daemon->metrics = vsmtpd_metrics_start (daemon->config->keyfile, NULL, NULL, &description,
                                          error);
  if (daemon->metrics == NULL)
    return error == NULL || *error == NULL;
  workers = vsmtpd_metrics_workers_new (daemon->config->workers, error);
  if (workers == NULL)
    return FALSE;
  daemon->metrics_workers = workers;
  vsmtpd_metrics_set_workers (daemon->metrics, workers);
  g_info ("%s (the sum of %u workers)", description, daemon->config->workers);
  return TRUE;
}

/* --list-keys: every key the configuration may have, as a key file with
 * each key commented out with its default */
static int
print_keys (VsmtpdConfig *config)
{
  g_autoptr(VsmtpServer) server = vsmtp_server_new ();
  g_autoptr(VsmtpdPlugins) plugins = NULL;
  g_autoptr(GPtrArray) groups = vsmtpd_config_dup_groups (config);
  g_autoptr(GPtrArray) plugin_groups = NULL;
  g_autoptr(GError) error = NULL;

  plugins = vsmtpd_plugins_new (server, (const char * const *) config->plugins_path);
  plugin_groups = vsmtpd_plugins_dup_groups (plugins, &error);
  if (plugin_groups == NULL)
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      vsmtpd_config_free (config);
      return EXIT_FAILURE;
    }

  for (guint i = 0; i < groups->len; i++)
    print_group (groups->pdata[i]);
  for (guint i = 0; i < plugin_groups->len; i++)
    print_group (plugin_groups->pdata[i]);
  g_clear_pointer (&plugins, vsmtpd_plugins_free);
  vsmtpd_config_free (config);
  return EXIT_SUCCESS;
}

/* --print-config[=all|changed] */
static char *print_config = NULL;

static gboolean
on_print_config (const char  *option_name,
                 const char  *value,
                 gpointer     data,
                 GError     **error)
{
  if (value == NULL)
    value = "all";
  if (!g_str_equal (value, "all") && !g_str_equal (value, "changed"))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: \"%s\" is neither \"all\" nor \"changed\"", option_name, value);
      return FALSE;
    }
  g_free (print_config);
  print_config = g_strdup (value);
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config_file = NULL;
  g_autofree char *hostname = NULL;
  g_auto(GStrv) listen = NULL;
  g_auto(GStrv) plugins = NULL;
  g_auto(GStrv) options = NULL;
  g_autofree char *tls_certificate = NULL;
  g_autofree char *tls_key = NULL;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
  gboolean list_keys = FALSE;
  gboolean check_config = FALSE;
  gboolean activated = FALSE;
  VsmtpdConfigOverrides overrides = { 0, };
  Daemon daemon = { 0, };
  g_auto(GStrv) original_argv = NULL;
  g_autoptr(GBytes) scram_secret = NULL;
  int status = EXIT_FAILURE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      "Read the configuration from FILE", "FILE" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listen,
      "Listen on ADDR:PORT, IPv6 as [::1]:2525 (repeatable; replaces [server] listen)",
      "ADDR:PORT" },
    { "hostname", 0, 0, G_OPTION_ARG_STRING, &hostname,
      "The host name in the greeting and in Received: headers", "NAME" },
    { "plugin", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &plugins,
      "Load plugin NAME (repeatable; appended to [plugins] enabled)", "NAME" },
    { "option", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &options,
      "Set a configuration key, overriding the file (repeatable)", "SECTION.KEY=VALUE" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_certificate,
      "The TLS certificate (PEM, with its chain; replaces [server] tls-certificate)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key,
      "The TLS private key (PEM; replaces [server] tls-key)", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Show debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      "Show the version and exit", NULL },
    { "list-keys", 0, 0, G_OPTION_ARG_NONE, &list_keys,
      "Show the configuration keys of vsmtpd and of every plugin found, and exit", NULL },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
      "Check the configuration (keys, listeners, certificate, plugins) without "
      "starting: print OK or every problem, and exit", NULL },
    { "print-config", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, on_print_config,
      "Print the effective configuration, defaults commented out (WHICH: all, "
      "the default, or changed: only the keys set), and exit", "WHICH" },
    { NULL }
  };

  setlocale (LC_ALL, "");
  g_set_prgname ("vsmtpd");
  /* the master of [server] workers runs this program again, as it was run */
  original_argv = g_strdupv (argv);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, "An SMTP server with plugins, built on libvsmtp.");
  g_option_context_set_description (context,
                                    "Without --config, vsmtpd listens on 127.0.0.1:2525 and "
                                    "delivers into a maildir\n"
                                    "under $STATE_DIRECTORY or ~/.local/state/vsmtpd, where it also\n"
                                    "keeps a self-signed certificate for STARTTLS (tls/cert.pem). "
                                    "See vsmtpd(8) and vsmtpd.conf.\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  if (argc > 1)
    {
      g_printerr ("vsmtpd: unexpected argument \"%s\" (see --help)\n", argv[1]);
      return EXIT_FAILURE;
    }

  if (version)
    {
      g_print ("vsmtpd %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  vsmtpd_log_init (verbose);

  /* A client that goes away must not kill us */
  signal (SIGPIPE, SIG_IGN);
  raise_fd_limit ();

  overrides.config_file = config_file;
  overrides.listen = (const char * const *) listen;
  overrides.hostname = hostname;
  overrides.plugins = (const char * const *) plugins;
  overrides.options = (const char * const *) options;
  overrides.tls_certificate = tls_certificate;
  overrides.tls_key = tls_key;

  if (check_config && print_config != NULL)
    {
      g_printerr ("vsmtpd: --check-config and --print-config go one at a time\n");
      return EXIT_FAILURE;
    }
  if (check_config)
    return vsmtpd_check_config (&overrides);
  if (print_config != NULL)
    {
      gboolean changed_only = g_str_equal (print_config, "changed");

      g_clear_pointer (&print_config, g_free);
      return vsmtpd_print_config (&overrides, changed_only);
    }

  daemon.config = vsmtpd_config_load (&overrides, &error);
  if (daemon.config == NULL)
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (list_keys)
    return print_keys (daemon.config);

  /* before any TLS object: glib-networking reads it once (vsmtpd-tls.c) */
  if (!vsmtpd_tls_apply_priority (daemon.config->tls_priority, &error))
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      goto out;
    }

  if (vsmtpd_workers_is_worker ())
    {
      vsmtpd_workers_worker_init ();
      /* the master tells systemd (NotifyAccess=main) */
      g_unsetenv ("NOTIFY_SOCKET");
      daemon.reuse_port = TRUE;
    }
  else if (daemon.config->workers > 1 && g_getenv ("LISTEN_FDS") == NULL)
    {
      g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);

      /* generated once here, not raced by the workers */
      g_clear_pointer (&scram_secret, g_bytes_unref);
      scram_secret = ensure_scram_secret ();
      if (daemon.config->tls_certificate == NULL)
        {
          g_autofree char *state_directory = vsmtpd_config_default_state_directory ();
          g_autofree char *directory = g_build_filename (state_directory, "tls", NULL);
          g_autofree char *cert = NULL, *key = NULL;
          gboolean created = FALSE;

          if (!vsmtpd_tls_ensure_self_signed (directory, daemon.config->hostname,
                                              &cert, &key, &created, NULL, &error))
            {
              g_printerr ("vsmtpd: %s\n", error->message);
              goto out;
            }
        }
      if (self_exe != NULL)
        {
          g_free (original_argv[0]);
          original_argv[0] = g_steal_pointer (&self_exe);
        }
      if (!start_master_metrics (&daemon, &error))
        {
          g_printerr ("vsmtpd: %s\n", error->message);
          goto out;
        }
      status = vsmtpd_workers_run (daemon.config->workers,
                                   (const char * const *) original_argv,
                                   daemon.config->shutdown_grace,
                                   daemon.metrics != NULL ?
                                   vsmtpd_metrics_workers_get_directory (daemon.metrics_workers) :
                                   NULL);
      goto out;
    }

  /* Handled once the main loop runs */
  daemon.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_sigterm, &daemon);
  g_unix_signal_add (SIGINT, on_sigint, &daemon);
  g_unix_signal_add (SIGHUP, on_sighup, &daemon);

  daemon.server = vsmtp_server_new ();
  vsmtpd_config_apply (daemon.config, daemon.server);
  daemon.listening = g_ptr_array_new_with_free_func (g_free);

  /* the plugins exist, for this plugin API version: before anything is
   * written (the self-signed certificate) */
  daemon.plugins = vsmtpd_plugins_new (daemon.server,
                                       (const char * const *) daemon.config->plugins_path);
  if (!vsmtpd_plugins_check (daemon.plugins,
                             (const char * const *) daemon.config->plugins_enabled,
                             &error))
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      goto out;
    }

  if (!setup_tls (&daemon, &error))
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      goto out;
    }

  scram_secret = ensure_scram_secret ();
  if (scram_secret != NULL)
    g_object_set (daemon.server, "scram-secret", scram_secret, NULL);

  /* Connections wait in the backlog until the main loop runs, so the
   * plugins are all activated before the first one is handled. */
  if (!listen_systemd_sockets (&daemon, &activated, &error))
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      goto out;
    }
  if (activated)
    {
      g_debug ("socket activation: [server] listen is not used");
      if (daemon.config->listen_tls[0] != NULL ||
          daemon.config->listen_submission[0] != NULL ||
          daemon.config->listen_submissions[0] != NULL)
        g_warning ("socket activation: [server] listen-tls, listen-submission and "
                   "listen-submissions are not used either (sockets passed by systemd "
                   "are plain SMTP)");
    }
  else if (!listen_configured (&daemon, &error))
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      goto out;
    }

  if (!vsmtpd_plugins_load (daemon.plugins,
                            (const char * const *) daemon.config->plugins_enabled,
                            &error))
    {
      /* a plugin's group was refused: "[group] key: problem", told with
       * the file or option that set it, as for the daemon's own keys */
      g_autofree char *located = vsmtpd_config_locate (daemon.config, error->message);

      g_printerr ("vsmtpd: %s\n", located != NULL ? located : error->message);
      goto out;
    }

  if (!activated)
    check_submission (&daemon);

  if (!start_metrics (&daemon, &error))
    {
      g_printerr ("vsmtpd: %s\n", error->message);
      goto out;
    }

  /* bound, certificate and plugin files read: no need for root any more */
  if (daemon.config->run_as_user != NULL && geteuid () != daemon.config->run_as_uid)
    {
      if (!vsmtpd_privileges_drop (daemon.config->run_as_uid, daemon.config->run_as_gid,
                                   daemon.config->run_as_user, &error))
        {
          g_printerr ("vsmtpd: %s\n", error->message);
          goto out;
        }
      g_info ("running as user %s (uid %u, gid %u), keeping only CAP_NET_BIND_SERVICE",
              daemon.config->run_as_user, (guint) daemon.config->run_as_uid,
              (guint) daemon.config->run_as_gid);
    }

  daemon.reloader = vsmtpd_reloader_new (daemon.server, daemon.plugins, daemon.config,
                                         &overrides, daemon.reuse_port, activated);

  /* [server] dbus: the bus is not the mail: without it, a warning */
  {
    static const VsmtpdDBusHooks dbus_hooks = { dbus_reload, dbus_stop };

    daemon.dbus = vsmtpd_dbus_start (daemon.config, daemon.server, &dbus_hooks, &daemon, &error);
    if (error != NULL)
      {
        g_warning ("[server] dbus: no D-Bus interface (vsmtpctl will not reach vsmtpd): %s",
                   error->message);
        g_clear_error (&error);
      }
  }
  log_startup (&daemon);
  for (guint i = 0; i < daemon.listening->len; i++)
    g_info ("%s", (const char *) g_ptr_array_index (daemon.listening, i));
  vsmtpd_workers_worker_ready ();
  vsmtpd_notify_ready (daemon.server);

  vsmtpd_log_batch_start (daemon.server);
  g_main_loop_run (daemon.loop);
  vsmtpd_log_batch_stop ();
  status = EXIT_SUCCESS;

out:
  g_clear_pointer (&daemon.dbus, vsmtpd_dbus_free);
  g_clear_pointer (&daemon.metrics, vsmtpd_metrics_free);
  g_clear_object (&daemon.metrics_socket);
  g_clear_object (&daemon.worker_metrics);
  if (daemon.server != NULL)
    vsmtp_server_stop_listening (daemon.server);
  if (daemon.config != NULL)
    vsmtpd_listeners_cleanup (daemon.config->listeners);
  g_clear_pointer (&daemon.reloader, vsmtpd_reloader_free);
  g_clear_pointer (&daemon.plugins, vsmtpd_plugins_free);
  g_clear_object (&daemon.server);
  g_clear_pointer (&daemon.loop, g_main_loop_unref);
  g_clear_pointer (&daemon.listening, g_ptr_array_unref);
  g_clear_pointer (&daemon.config, vsmtpd_config_free);

  return status;
}

/* vsmtpd-metrics-workers.c: [metrics] with [server] workers above 1
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Prometheus scrapes one endpoint, the master's [metrics] listen. Each
 * worker serves its own registry over HTTP on a UNIX socket of its own,
 * in a folder only the master's user can enter (VSMTPD_METRICS_SOCKET
 * names it); a scrape of the master asks every worker at once (libsoup,
 * a SoupSession per worker whose connectable is the socket) and answers
 * with one exposition where each series is the sum of the workers' (a
 * counter, a gauge such as vsmtp_connections_active, a histogram's
 * buckets, sum and count all add up). A worker that does not answer (it
 * is being restarted) is left out of that scrape; a restarted worker
 * starts again from 0, which Prometheus sees as a counter reset.
 */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>

#include "vsmtpd-metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Summing expositions ---------------------------------------------------- */

typedef struct
{
  char       *help;     /* the "# HELP" line, or NULL */
  char       *type;     /* the "# TYPE" line, or NULL */
  GPtrArray  *series;   /* char *: "name{labels}", in the order first seen */
  GHashTable *values;   /* series -> double * */
} Family;

static void
family_free (gpointer data)
{
  Family *family = data;

  g_free (family->help);
  g_free (family->type);
  g_ptr_array_unref (family->series);
  g_hash_table_unref (family->values);
  g_free (family);
}

static Family *
family_get (GPtrArray  *order,
            GHashTable *families,
            const char *name)
{
  Family *family = g_hash_table_lookup (families, name);

  if (family == NULL)
    {
      family = g_new0 (Family, 1);
      family->series = g_ptr_array_new_with_free_func (g_free);
      family->values = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
      g_hash_table_insert (families, g_strdup (name), family);
      g_ptr_array_add (order, family);
    }
  return family;
}

static void
append_value (GString *out,
              double   value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (value == (double) (gint64) value && value < 1e15 && value > -1e15)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
  else
    g_string_append (out, g_ascii_formatd (buffer, sizeof buffer, "%.15g", value));
}

/* The expositions of @texts (Prometheus text format, as vsmtp_metrics_render()
 * writes them) as one, each series the sum of its values */
char *
vsmtpd_metrics_sum (const char * const *texts)
{
  g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func (family_free);
  g_autoptr(GHashTable) families = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GString *out = g_string_new (NULL);

  for (guint t = 0; texts[t] != NULL; t++)
    {
      g_auto(GStrv) lines = g_strsplit (texts[t], "\n", -1);
      Family *family = NULL;

      for (guint i = 0; lines[i] != NULL; i++)
        {
          const char *line = lines[i];

          if (g_str_has_prefix (line, "# HELP ") || g_str_has_prefix (line, "# TYPE "))
            {
              g_autofree char *name = g_strndup (line + 7, strcspn (line + 7, " "));
              char **slot;

              family = family_get (order, families, name);
              slot = line[2] == 'H' ? &family->help : &family->type;
              if (*slot == NULL)
                *slot = g_strdup (line);
            }
          else if (line[0] != '\0' && line[0] != '#')
            {
              const char *space = strrchr (line, ' ');
              double *sum;

              if (space == NULL)
                continue;
              if (family == NULL)
                family = family_get (order, families, "");
              {
                g_autofree char *series = g_strndup (line, space - line);

                sum = g_hash_table_lookup (family->values, series);
                if (sum == NULL)
                  {
                    sum = g_new0 (double, 1);
                    g_ptr_array_add (family->series, g_strdup (series));
                    g_hash_table_insert (family->values,
                                         family->series->pdata[family->series->len - 1], sum);
                  }
              }
              *sum += g_ascii_strtod (space + 1, NULL);
            }
        }
    }

  for (guint i = 0; i < order->len; i++)
    {
      Family *family = order->pdata[i];

      if (family->help != NULL)
        g_string_append_printf (out, "%s\n", family->help);
      if (family->type != NULL)
        g_string_append_printf (out, "%s\n", family->type);
      for (guint j = 0; j < family->series->len; j++)
        {
          const char *series = family->series->pdata[j];

          g_string_append_printf (out, "%s ", series);
          append_value (out, *(double *) g_hash_table_lookup (family->values, series));
          g_string_append_c (out, '\n');
        }
    }
  return g_string_free (out, FALSE);
}

/* The master's side ------------------------------------------------------ */

struct _VsmtpdMetricsWorkers
{
  char      *directory;
  GPtrArray *sessions;    /* SoupSession, one per worker */
};

char *
vsmtpd_metrics_worker_socket (const char *directory,
                              guint       index)
{
  g_autofree char *name = g_strdup_printf ("worker-%u.sock", index);

  return g_build_filename (directory, name, NULL);
}

VsmtpdMetricsWorkers *
vsmtpd_metrics_workers_new (guint    n_workers,
                            GError **error)
{
  VsmtpdMetricsWorkers *self;
  g_autofree char *directory = g_dir_make_tmp ("vsmtpd-metrics-XXXXXX", error);

  if (directory == NULL)
    return NULL;
  self = g_new0 (VsmtpdMetricsWorkers, 1);
  self->directory = g_steal_pointer (&directory);
  self->sessions = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 1; i <= n_workers; i++)
    {
      g_autofree char *path = vsmtpd_metrics_worker_socket (self->directory, i);
      g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);

      g_ptr_array_add (self->sessions,
                       g_object_new (SOUP_TYPE_SESSION,
                                     "remote-connectable", address,
                                     "timeout", 5,
                                     "idle-timeout", 60,
                                     NULL));
    }
  g_info ("metrics: the sum of the workers', asked over UNIX sockets in %s", self->directory);
  return self;
}

const char *
vsmtpd_metrics_workers_get_directory (VsmtpdMetricsWorkers *self)
{
  return self->directory;
}

void
vsmtpd_metrics_workers_free (VsmtpdMetricsWorkers *self)
{
  if (self == NULL)
    return;
  for (guint i = 1; i <= self->sessions->len; i++)
    {
      g_autofree char *path = vsmtpd_metrics_worker_socket (self->directory, i);

      g_unlink (path);
    }
  g_rmdir (self->directory);
  g_ptr_array_unref (self->sessions);
  g_free (self->directory);
  g_free (self);
}

typedef struct
{
  SoupServerMessage *message;
  GPtrArray         *texts;     /* char *, NULL-terminated at the end */
  guint              pending;
  guint              n_workers;
} Scrape;

static void
scrape_done (Scrape *scrape)
{
  SoupServerMessage *message = scrape->message;

  /* A sum without one worker's share would go down: Prometheus would take
   * every counter for reset and rate() would show a spike. A failed scrape
   * (up = 0) is what happened. */
  if (scrape->texts->len < scrape->n_workers)
    {
      char *text = g_strdup_printf ("%u of %u workers answered\n",
                                    scrape->texts->len, scrape->n_workers);

      soup_server_message_set_status (message, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      soup_server_message_set_response (message, "text/plain", SOUP_MEMORY_TAKE, text,
                                        strlen (text));
    }
  else
    {
      char *text;

      g_ptr_array_add (scrape->texts, NULL);
      text = vsmtpd_metrics_sum ((const char * const *) scrape->texts->pdata);
      soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (message, CONTENT_TYPE, SOUP_MEMORY_TAKE, text,
                                        strlen (text));
    }
  soup_server_message_unpause (message);
  g_object_unref (message);
  g_ptr_array_unref (scrape->texts);
  g_free (scrape);
}

static void
on_worker_answered (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Scrape *scrape = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                                              &error);
  SoupMessage *request = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  if (body != NULL && soup_message_get_status (request) == SOUP_STATUS_OK)
    g_ptr_array_add (scrape->texts, g_strndup (g_bytes_get_data (body, NULL),
                                               g_bytes_get_size (body)));
  else
    g_debug ("metrics: a worker did not answer: %s",
             error != NULL ? error->message : soup_message_get_reason_phrase (request));
  if (--scrape->pending == 0)
    scrape_done (scrape);
}

void
vsmtpd_metrics_workers_respond (VsmtpdMetricsWorkers *self,
                                SoupServerMessage    *message)
{
  Scrape *scrape = g_new0 (Scrape, 1);

  scrape->message = g_object_ref (message);
  scrape->texts = g_ptr_array_new_with_free_func (g_free);
  scrape->pending = self->sessions->len;
  scrape->n_workers = self->sessions->len;
  soup_server_message_pause (message);
  for (guint i = 0; i < self->sessions->len; i++)
    {
      g_autoptr(SoupMessage) request = soup_message_new ("GET", "http://localhost/metrics");

      soup_session_send_and_read_async (self->sessions->pdata[i], request, G_PRIORITY_DEFAULT,
                                        NULL, on_worker_answered, scrape);
    }
}

/* A worker's side -------------------------------------------------------- */

static void
on_worker_request (SoupServer        *http,
                   SoupServerMessage *message,
                   const char        *path,
                   GHashTable        *query,
                   gpointer           user_data)
{
  VsmtpServer *server = user_data;
  char *text;

  if (strcmp (path, "/metrics") != 0)
    {
      soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  text = vsmtp_metrics_render (vsmtp_server_get_metrics (server));
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (message, CONTENT_TYPE, SOUP_MEMORY_TAKE, text, strlen (text));
}

/* In a worker: its metrics over HTTP on the UNIX socket @path, for the
 * master only (the folder is the master's); the server outlives it */
SoupServer *
vsmtpd_metrics_start_worker (VsmtpServer  *server,
                             const char   *path,
                             GError      **error)
{
  g_autoptr(SoupServer) http = soup_server_new ("server-header", NULL, NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocket) socket = NULL;

  /* a worker started again: its predecessor's socket file */
  g_unlink (path);
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                         error);
  if (socket == NULL || !g_socket_bind (socket, address, FALSE, error) ||
      !g_socket_listen (socket, error))
    {
      g_prefix_error (error, "[metrics]: %s: ", path);
      return NULL;
    }
  soup_server_add_handler (http, NULL, on_worker_request, server, NULL);
  if (!soup_server_listen_socket (http, socket, 0, error))
    {
      g_prefix_error (error, "[metrics]: %s: ", path);
      return NULL;
    }
  return g_steal_pointer (&http);
}

/* vsmtp-test-harness.c: see vsmtp-test-harness.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-test-harness.h"

/* ------------------------------------------------------------------------ */

char *
read_reply (GSocket *socket,
            GString *pending,
            GError **error)
{
  for (;;)
    {
      /* a complete reply: lines until one whose 4th char is a space */
      gsize start = 0;

      while (start < pending->len)
        {
          const char *nl = memchr (pending->str + start, '\n', pending->len - start);
          gsize line_len;

          if (nl == NULL)
            break;
          line_len = nl - (pending->str + start) + 1;
          if (line_len >= 4 && pending->str[start + 3] == ' ')
            {
              char *reply = g_strndup (pending->str, start + line_len);
              g_string_erase (pending, 0, start + line_len);
              return reply;
            }
          if (line_len < 4 || pending->str[start + 3] != '-')
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "bad reply line");
              return NULL;
            }
          start += line_len;
        }

      {
        char buf[4096];
        gssize n = g_socket_receive (socket, buf, sizeof buf, NULL, error);

        if (n < 0)
          return NULL;
        if (n == 0)
          {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "connection closed");
            return NULL;
          }
        g_string_append_len (pending, buf, n);
      }
    }
}

gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gpointer
client_thread (gpointer data)
{
  Client *client = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GString) pending = g_string_new (NULL);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_socket_set_timeout (socket, 20);
  address = g_inet_socket_address_new_from_string ("127.0.0.1", client->port);
  if (!g_socket_connect (socket, address, NULL, &error))
    goto out;

  for (guint i = 0; client->script[i] != NULL || client->script[i + 1] != NULL; i += 2)
    {
      const char *send = client->script[i];
      const char *expect = client->script[i + 1];

      if (send != NULL && *send != '\0')
        {
          g_string_append_printf (client->transcript, "C: %s", send);
          if (g_socket_send (socket, send, strlen (send), NULL, &error) < 0)
            goto out;
        }
      if (expect != NULL)
        {
          g_autofree char *reply = NULL;

          if (g_str_equal (expect, "<closed>"))
            {
              char c;
              gssize n = pending->len > 0 ? 1 : g_socket_receive (socket, &c, 1, NULL, NULL);

              if (n != 0)
                client->failure = g_strdup_printf ("step %u: expected the connection to be closed", i / 2);
              goto out;
            }

          reply = read_reply (socket, pending, &error);
          if (reply == NULL)
            goto out;
          g_string_append_printf (client->transcript, "S: %s", reply);
          if (!g_str_has_prefix (reply, expect))
            {
              client->failure = g_strdup_printf ("step %u: expected \"%s\", got \"%s\"", i / 2, expect, reply);
              goto out;
            }
        }
    }

out:
  if (error != NULL && client->failure == NULL)
    client->failure = g_strdup (error->message);
  g_main_context_invoke (client->context, quit_loop, client->loop);
  return NULL;
}

/* Runs @script against the fixture's server; fails the test on any mismatch. */
void
run_client (Fixture            *fixture,
            const char * const *script)
{
  Client client = { 0 };
  GThread *thread;

  client.port = fixture->port;
  client.script = script;
  client.transcript = g_string_new (NULL);
  client.context = g_main_context_default ();
  client.loop = fixture->loop;

  thread = g_thread_new ("client", client_thread, &client);
  g_main_loop_run (fixture->loop);
  g_thread_join (thread);

  if (client.failure != NULL)
    {
      g_test_message ("transcript:\n%s", client.transcript->str);
      g_test_fail_printf ("%s", client.failure);
    }
  g_free (client.failure);
  g_string_free (client.transcript, TRUE);
}

/* ------------------------------------------------------------------------ */

VsmtpReply *
on_message_store (VsmtpSession *session,
                  VsmtpMessage *message,
                  Fixture      *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = vsmtp_message_dup_bytes (message, &error);
  gsize size = 0;
  const char *data = NULL;

  g_assert_no_error (error);
  data = g_bytes_get_data (bytes, &size);
  g_assert_cmpuint (size, ==, vsmtp_message_get_size (message));
  g_ptr_array_add (fixture->messages, g_strndup (data, size));
  g_ptr_array_add (fixture->envelopes, g_object_ref (vsmtp_message_get_envelope (message)));
  return vsmtp_reply_new (250, "2.0.0", "Ok: stored");
}

void
on_closed (VsmtpSession *session,
           Fixture      *fixture)
{
  fixture->n_closed++;
}

void
on_new_session_store (VsmtpServer  *server,
                      VsmtpSession *session,
                      Fixture      *fixture)
{
  g_signal_connect (session, "message-received", G_CALLBACK (on_message_store), fixture);
  g_signal_connect (session, "closed", G_CALLBACK (on_closed), fixture);
}

void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;

  fixture->loop = g_main_loop_new (NULL, FALSE);
  fixture->server = vsmtp_server_new ();
  vsmtp_server_set_hostname (fixture->server, "mx.test.example");
  fixture->messages = g_ptr_array_new_with_free_func (g_free);
  fixture->pending = g_ptr_array_new_with_free_func (g_object_unref);
  fixture->envelopes = g_ptr_array_new_with_free_func (g_object_unref);

  address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_assert_true (vsmtp_server_listen (fixture->server, address, &effective, &error));
  g_assert_no_error (error);
  fixture->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_assert_cmpuint (fixture->port, >, 0);

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_store), fixture);
}

void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_object (&fixture->server);
  g_ptr_array_unref (fixture->messages);
  g_ptr_array_unref (fixture->pending);
  g_ptr_array_unref (fixture->envelopes);
  g_main_loop_unref (fixture->loop);
}

const char *
message_body (const char *data)
{

  /* skip the Received header the server prepends: its first line and the
   * continuation lines (starting with a tab) */
  g_assert_true (g_str_has_prefix (data, "Received: from "));
  data = strchr (data, '\n') + 1;
  while (*data == '\t')
    data = strchr (data, '\n') + 1;
  return data;
}

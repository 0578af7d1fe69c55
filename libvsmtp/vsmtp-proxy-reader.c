/* vsmtp-proxy-reader.c: reads a connection's PROXY protocol header off its
 * socket, before the session exists: exactly the header, bounded in size
 * (the scan's limits) and in time
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The reader works on the GSocket itself, before any stream is built on it,
 * so that nothing past the header is ever consumed: a fixed-size part is
 * read with reads of exactly its size, a v1 line is peeked (MSG_PEEK) and
 * read up to its CRLF. The TLS handshake of an implicit-TLS listener, or
 * the SMTP line reader, gets the connection with the header gone and every
 * other byte still in the socket.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-proxy-protocol-private.h"
#include "vsmtp-proxy-reader-private.h"

typedef struct {
  GSocket              *client;
  VsmtpListenOptions   *options;
  VsmtpProxyAccept      accept;
  GSocketAddress       *peer;
  VsmtpProxyReaderFunc  func;
  GObject              *user_data;   /* weak */
  GSource              *read_source;
  GSource              *timeout_source;
  gboolean              was_blocking;
  gsize                 length;
  guint8                buffer[VSMTP_PROXY_V2_FIXED + VSMTP_PROXY_V2_MAX_LENGTH];
} Reader;

char *
_vsmtp_proxy_describe_peer (GSocketAddress *address)
{
  if (G_IS_INET_SOCKET_ADDRESS (address))
    return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  if (address != NULL && g_socket_address_get_family (address) == G_SOCKET_FAMILY_UNIX)
    return g_strdup ("unix socket");
  return g_strdup ("unknown");
}

static void
reader_free (Reader *reader)
{
  if (reader->read_source != NULL)
    {
      g_source_destroy (reader->read_source);
      g_source_unref (reader->read_source);
    }
  if (reader->timeout_source != NULL)
    {
      g_source_destroy (reader->timeout_source);
      g_source_unref (reader->timeout_source);
    }
  g_clear_weak_pointer (&reader->user_data);
  g_clear_object (&reader->peer);
  g_object_unref (reader->options);
  g_object_unref (reader->client);
  g_free (reader);
}

/* Ends the reading: @header (transfer none) or a failure to log */
static void
reader_finish (Reader           *reader,
               VsmtpProxyHeader *header,
               const char       *failure)
{
  const char *name = vsmtp_listen_options_get_name (reader->options);

  g_socket_set_blocking (reader->client, reader->was_blocking);
  if (header == NULL)
    {
      g_autofree char *peer = _vsmtp_proxy_describe_peer (reader->peer);

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "PROXY header from [%s]%s%s refused: %s", peer,
                        name ? " on listener " : "", name ? name : "", failure);
      g_socket_close (reader->client, NULL);
    }
  reader->func (reader->client, reader->options, header, reader->user_data);
  reader_free (reader);
}

/* Reads (or peeks, with @peek) at most @size bytes into the buffer: the
 * number read, 0 at the end of the input, -1 for nothing yet (or an error,
 * in *@error) */
static gssize
reader_receive (Reader   *reader,
                gsize     size,
                gboolean  peek,
                GError  **error)
{
  GInputVector vector = { reader->buffer + reader->length, size };
  gint flags = peek ? G_SOCKET_MSG_PEEK : G_SOCKET_MSG_NONE;
  gssize n;

  n = g_socket_receive_message (reader->client, NULL, &vector, 1, NULL, NULL, &flags, NULL, error);
  if (n < 0 && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    g_clear_error (error);
  return n;
}

static gboolean
on_readable (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  Reader *reader = user_data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpProxyHeader) header = NULL;
      gsize want;
      gboolean exact;
      gssize n;

      switch (_vsmtp_proxy_scan (reader->buffer, reader->length, reader->accept,
                                 &want, &exact, &error))
        {
        case VSMTP_PROXY_SCAN_ERROR:
          reader_finish (reader, NULL, error->message);
          return G_SOURCE_REMOVE;

        case VSMTP_PROXY_SCAN_COMPLETE:
          header = _vsmtp_proxy_parse (reader->buffer, want, reader->peer, &error);
          reader_finish (reader, header, header ? NULL : error->message);
          return G_SOURCE_REMOVE;

        case VSMTP_PROXY_SCAN_MORE:
          g_assert (reader->length + want <= sizeof reader->buffer);
          if (!exact)
            {
              /* a v1 line: look at what came, take it up to the LF */
              const guint8 *lf;

              n = reader_receive (reader, want, TRUE, &error);
              if (n > 0)
                {
                  lf = memchr (reader->buffer + reader->length, '\n', n);
                  if (lf != NULL)
                    want = lf - (reader->buffer + reader->length) + 1;
                  else
                    want = n;
                }
            }
          else
            n = 1;
          if (n > 0)
            n = reader_receive (reader, want, FALSE, &error);
          if (n == 0)
            {
              reader_finish (reader, NULL, reader->length ? "connection closed in the header"
                                                          : "connection closed before the header");
              return G_SOURCE_REMOVE;
            }
          if (n < 0)
            {
              if (error != NULL)
                {
                  reader_finish (reader, NULL, error->message);
                  return G_SOURCE_REMOVE;
                }
              return G_SOURCE_CONTINUE;   /* wait for more */
            }
          reader->length += n;
          break;
        }
    }
}

static gboolean
on_timeout (gpointer user_data)
{
  Reader *reader = user_data;

  g_clear_pointer (&reader->timeout_source, g_source_unref);
  reader_finish (reader, NULL, "timed out waiting for the header");
  return G_SOURCE_REMOVE;
}

void
_vsmtp_proxy_reader_start (GSocket              *client,
                           VsmtpListenOptions   *options,
                           guint                 timeout_seconds,
                           VsmtpProxyReaderFunc  func,
                           GObject              *user_data)
{
  Reader *reader = g_new0 (Reader, 1);
  GMainContext *context = g_main_context_get_thread_default ();

  reader->client = g_object_ref (client);
  reader->options = g_object_ref (options);
  switch (vsmtp_listen_options_get_proxy_protocol (options))
    {
    case VSMTP_PROXY_PROTOCOL_V1:
      reader->accept = VSMTP_PROXY_ACCEPT_V1;
      break;
    case VSMTP_PROXY_PROTOCOL_V2:
      reader->accept = VSMTP_PROXY_ACCEPT_V2;
      break;
    default:
      reader->accept = VSMTP_PROXY_ACCEPT_V1 | VSMTP_PROXY_ACCEPT_V2;
      break;
    }
  reader->peer = g_socket_get_remote_address (client, NULL);
  reader->func = func;
  g_set_weak_pointer (&reader->user_data, user_data);
  reader->was_blocking = g_socket_get_blocking (client);
  g_socket_set_blocking (client, FALSE);

  reader->read_source = g_socket_create_source (client, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (reader->read_source, G_SOURCE_FUNC (on_readable), reader, NULL);
  g_source_set_static_name (reader->read_source, "[vsmtp] PROXY header");
  g_source_attach (reader->read_source, context);

  reader->timeout_source = g_timeout_source_new_seconds (timeout_seconds ? timeout_seconds
                                                                         : VSMTP_PROXY_DEFAULT_TIMEOUT);
  g_source_set_callback (reader->timeout_source, on_timeout, reader, NULL);
  g_source_set_static_name (reader->timeout_source, "[vsmtp] PROXY header timeout");
  g_source_attach (reader->timeout_source, context);
}

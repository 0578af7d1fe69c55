/* test-proxy-listener.c: a listener that takes a PROXY protocol header,
 * over TCP on loopback: the session's address is the header's, the socket's
 * peer stays known for trust checks, an untrusted peer gets no greeting
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp.h"
#include "vsmtp-session-private.h"
#include "vsmtp-test-harness.h"

/* log lines saying an untrusted peer was refused */
static guint n_refused;

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        strstr (fields[i].value, "refused: not in proxy-trusted") != NULL)
      n_refused++;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

typedef struct {
  char *remote_ip;
  char *peer_ip;
  guint version;
} Seen;

static char *
inet_text (GSocketAddress *address)
{
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return NULL;
  return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                Seen         *seen)
{
  VsmtpProxyHeader *header = vsmtp_session_get_proxy_header (session);

  g_free (seen->remote_ip);
  g_free (seen->peer_ip);
  seen->remote_ip = g_strdup (vsmtp_session_get_remote_ip (session));
  seen->peer_ip = inet_text (vsmtp_session_get_peer_address (session));
  seen->version = header != NULL ? vsmtp_proxy_header_get_version (header) : 0;
}

/* a second listener on @fixture's server, the one run_client() talks to */
static void
listen_proxied (Fixture    *fixture,
                const char *trusted)
{
  g_autoptr(VsmtpListenOptions) options = vsmtp_listen_options_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;
  const char *list[] = { trusted, NULL };

  vsmtp_listen_options_set_proxy_protocol (options, VSMTP_PROXY_PROTOCOL_ANY);
  g_assert_true (vsmtp_listen_options_set_proxy_trusted (options, list, &error));
  g_assert_true (vsmtp_server_listen_with_options (fixture->server, address, options,
                                                   &effective, &error));
  g_assert_no_error (error);
  fixture->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
}

static void
test_header_address (Fixture       *fixture,
                     gconstpointer  data)
{
  const char * const script[] = {
    "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n", "220 mx.test.example",
    "QUIT\r\n", "221 2.0.0",
    "", "<closed>",
    NULL, NULL
  };
  Seen seen = { 0, };

  listen_proxied (fixture, "127.0.0.0/8");
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session), &seen);
  run_client (fixture, script);
  g_assert_cmpstr (seen.remote_ip, ==, "192.0.2.7");
  g_assert_cmpstr (seen.peer_ip, ==, "127.0.0.1");
  g_assert_cmpuint (seen.version, ==, 1);
  g_free (seen.remote_ip);
  g_free (seen.peer_ip);
}

static void
test_plain_listener_peer (Fixture       *fixture,
                          gconstpointer  data)
{
  const char * const script[] = {
    NULL, "220 mx.test.example",
    "QUIT\r\n", "221 2.0.0",
    NULL, NULL
  };
  Seen seen = { 0, };

  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session), &seen);
  run_client (fixture, script);
  g_assert_cmpstr (seen.remote_ip, ==, "127.0.0.1");
  g_assert_cmpstr (seen.peer_ip, ==, "127.0.0.1");
  g_assert_cmpuint (seen.version, ==, 0);
  g_free (seen.remote_ip);
  g_free (seen.peer_ip);
}

static void
test_untrusted_peer (Fixture       *fixture,
                     gconstpointer  data)
{
  const char * const script[] = {
    /* closed at once, before the client sends anything (what it sent
     * unread would make the close a reset) */
    NULL, "<closed>",
    NULL, NULL
  };
  Seen seen = { 0, };

  listen_proxied (fixture, "192.0.2.0/24");
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session), &seen);
  n_refused = 0;
  run_client (fixture, script);   /* logged at MESSAGE: not fatal */
  g_assert_cmpuint (n_refused, ==, 1);
  g_assert_null (seen.remote_ip);   /* no session */
}

int
main (int argc, char *argv[])
{
  g_log_set_writer_func (log_writer, NULL, NULL);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/proxy-listener/header-address", Fixture, NULL,
              fixture_setup, test_header_address, fixture_teardown);
  g_test_add ("/proxy-listener/plain-listener-peer", Fixture, NULL,
              fixture_setup, test_plain_listener_peer, fixture_teardown);
  g_test_add ("/proxy-listener/untrusted-peer", Fixture, NULL,
              fixture_setup, test_untrusted_peer, fixture_teardown);

  return g_test_run ();
}

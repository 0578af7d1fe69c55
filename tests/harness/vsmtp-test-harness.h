/* vsmtp-test-harness.h: a VsmtpServer on an ephemeral loopback port and a
 * scripted SMTP client thread, shared by the unit tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The server runs on the test's main loop; a client thread speaks SMTP over
 * a real socket and checks every reply it gets against a script.
 */
#pragma once

#include "vsmtp.h"

G_BEGIN_DECLS

typedef struct {
  GMainLoop    *loop;
  VsmtpServer  *server;
  guint16       port;
  GPtrArray    *messages;      /* contents of accepted messages (strings) */
  GPtrArray    *pending;       /* VsmtpReply kept by deferring handlers */
  GPtrArray    *envelopes;
  guint         n_closed;
} Fixture;

typedef struct {
  guint16             port;
  const char * const *script;  /* pairs: bytes to send (or NULL), expected reply prefix (or NULL) */
  GString            *transcript;
  char               *failure;
  GMainContext       *context;
  GMainLoop          *loop;
} Client;


/* Reads one complete reply (all its lines) from @socket, @pending holding
 * what was read past it. */
char        *read_reply            (GSocket *socket,
                                    GString *pending,
                                    GError **error);
gboolean     quit_loop             (gpointer data);
/* Runs @script (pairs: bytes to send or NULL, expected reply prefix or
 * NULL, "<closed>" for the end of the connection; two NULLs end it)
 * against the fixture's server; fails the test on any mismatch. */
void         run_client            (Fixture            *fixture,
                                    const char * const *script);
/* The fixture's message-received handler: stores the content and the
 * envelope, answers 250 2.0.0 Ok: stored. */
VsmtpReply  *on_message_store      (VsmtpSession *session,
                                    VsmtpMessage *message,
                                    Fixture      *fixture);
void         on_closed             (VsmtpSession *session,
                                    Fixture      *fixture);
void         on_new_session_store  (VsmtpServer  *server,
                                    VsmtpSession *session,
                                    Fixture      *fixture);
/* A server on 127.0.0.1 and an ephemeral port, hostname mx.test.example,
 * with on_new_session_store connected. */
void         fixture_setup         (Fixture       *fixture,
                                    gconstpointer  data);
void         fixture_teardown      (Fixture       *fixture,
                                    gconstpointer  data);
/* The content after the Received: header the server prepends. */
const char  *message_body          (const char *data);

G_END_DECLS

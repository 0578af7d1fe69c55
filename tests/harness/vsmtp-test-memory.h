/* vsmtp-test-memory.h: a session over in-memory streams, without sockets,
 * shared by the unit tests and the session fuzzer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vsmtp.h"

G_BEGIN_DECLS

/* A pollable input stream over @data (not copied: it must outlive the
 * stream) that hands it out in pieces of 1 to @max_chunk bytes, with
 * "would block" now and then in between, both chosen by a generator
 * seeded with @seed: the same seed splits the input the same way. */
GInputStream *vsmtp_test_chunked_stream_new (const guint8 *data,
                                             gsize         size,
                                             guint32       seed,
                                             guint         max_chunk);

/* Called when the main context has nothing ready: return TRUE after doing
 * something that may unblock the session (completing a deferred reply). */
typedef gboolean (*VsmtpTestIdleFunc) (gpointer user_data);

/* Runs one session of @server (created on the thread-default main context)
 * over @input and an in-memory output, from 192.0.2.7:40025, until it is
 * closed. @idle (optional) is called when nothing else is ready; then
 * timers are waited for, but a session still open 2 s after its input
 * ended and with nothing to wait for is a bug: g_error(). Returns what the
 * server wrote, and the session in @session_out (optional, a new ref). */
GBytes       *vsmtp_test_run_memory_session (VsmtpServer       *server,
                                             GInputStream      *input,
                                             VsmtpTestIdleFunc  idle,
                                             gpointer           user_data,
                                             VsmtpSession     **session_out);
/* The same, as if accepted by a listener with @options (nullable: the
 * defaults) */
GBytes       *vsmtp_test_run_memory_session_with_options (VsmtpServer        *server,
                                                          VsmtpListenOptions *options,
                                                          GInputStream       *input,
                                                          VsmtpTestIdleFunc   idle,
                                                          gpointer            user_data,
                                                          VsmtpSession      **session_out);

G_END_DECLS

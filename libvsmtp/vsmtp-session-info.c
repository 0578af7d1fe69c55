/* vsmtp-session-info.c: what an operator's console tells of a session
 * (vsmtp-server-sessions.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-server-sessions.h"
#include "vsmtp-session-struct-private.h"

/**
 * vsmtp_session_get_start_time:
 * @self: a session
 *
 * Returns: when the connection was accepted, in microseconds since the
 *   epoch (as g_get_real_time())
 */
gint64
vsmtp_session_get_start_time (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), 0);
  return self->start_time;
}

/**
 * vsmtp_session_get_bytes_received:
 * @self: a session
 *
 * Returns: how many bytes the client sent so far: commands and message
 *   content, as read from the connection (TLS records included once TLS
 *   is on)
 */
guint64
vsmtp_session_get_bytes_received (VsmtpSession *self)
{
  g_return_val_if_fail (VSMTP_IS_SESSION (self), 0);
  return self->bytes_received;
}

/**
 * vsmtp_session_get_listener_name:
 * @self: a session
 *
 * Returns: (transfer none): the name of the listener the connection came
 *   to, `default` for a listener without one
 */
const char *
vsmtp_session_get_listener_name (VsmtpSession *self)
{
  const char *name;

  g_return_val_if_fail (VSMTP_IS_SESSION (self), NULL);
  name = vsmtp_listen_options_get_name (self->listen_options);
  return name != NULL ? name : "default";
}

/**
 * vsmtp_session_close_gracefully:
 * @self: a session
 *
 * Ends the session at an operator's request: sends
 * `421 4.3.2 <hostname> Service not available, closing transmission channel`
 * (RFC 5321 3.8) and closes the connection.
 *
 * Nothing acknowledged is lost: while a decision is pending (the end of
 * data handler of a message being delivered, say), the session waits for
 * its reply, sends it, and closes after it. A transaction not finished
 * otherwise (an envelope, content still coming) is dropped; the client was
 * never told it was accepted and tries again later, as after a 421.
 * Unlike vsmtp_server_shutdown_async(), the session does not wait for the
 * client to finish its transaction.
 */
void
vsmtp_session_close_gracefully (VsmtpSession *self)
{
  g_return_if_fail (VSMTP_IS_SESSION (self));

  _vsmtp_session_request_close (self);
}

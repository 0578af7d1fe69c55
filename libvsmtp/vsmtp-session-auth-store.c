/* vsmtp-session-auth-store.c: a session's AUTH attempts counted in the
 * server's store (VSMTP_SHARED_LIMITS_AUTH_FAILURES)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Like the in-process count, an attempt counts from the moment its
 * credentials go to the check: the counter `auth-failures:IP` goes up by
 * one first (INCR, the counter living auth-failure-window seconds from
 * its creation), and the attempt is refused when that makes it more than
 * max-auth-failures; a success takes its one back. The session reads no
 * more input until the store answered (a pending decision), and a store
 * that fails to answer yields what the server's store error policy says.
 */
#include "config.h"

#include "vsmtp-session-struct-private.h"
#include "vsmtp-shared-limits-private.h"

/* How the store's answer reaches the continuation (codes of our own,
 * never sent) */
#define ANSWER_COUNTED      250   /* under the limit, counted */
#define ANSWER_NOT_COUNTED  251   /* the store failed, the policy accepts */
#define BLOCKED_TEXT        "Too many failed authentication attempts, try again later"

/* What the AUTH command said, kept on the pending reply for the
 * continuation */
#define AUTH_COMMAND_KEY "vsmtp-auth-command"

typedef struct
{
  char *mechanism;
  char *initial;
} AuthCommand;

static void
auth_command_free (gpointer data)
{
  AuthCommand *command = data;

  g_free (command->mechanism);
  g_free (command->initial);
  g_free (command);
}

typedef struct
{
  VsmtpReply *reply;
  VsmtpStore *store;
  char       *key;
  guint       max_failures;
  guint       window;
  gboolean    accept_on_error;
  gboolean    peek;      /* at the AUTH command: looked at, not counted */
} Check;

gboolean
_vsmtp_session_auth_in_store (VsmtpSession *self)
{
  return self->auth_store != NULL && self->remote_ip != NULL &&
         self->settings->max_auth_failures > 0;
}

void
_vsmtp_session_set_auth_store (VsmtpSession          *self,
                               VsmtpStore            *store,
                               VsmtpStoreErrorPolicy  policy)
{
  g_set_object (&self->auth_store, store);
  self->store_error_policy = policy;
}

static char *
auth_key (VsmtpSession *self)
{
  return g_strconcat ("auth-failures:", self->remote_ip, NULL);
}

void
_vsmtp_session_auth_store_add (VsmtpSession *self,
                               gint64        delta)
{
  g_autofree char *key = NULL;

  if (self->auth_store == NULL || self->remote_ip == NULL)
    return;
  key = auth_key (self);
  vsmtp_store_increment_async (self->auth_store, key, delta,
                               MAX (self->settings->auth_failure_window, 1) * G_USEC_PER_SEC,
                               NULL, NULL, NULL);
}

static void
on_counted (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Check *check = user_data;
  g_autoptr(GError) error = NULL;
  gint64 n = vsmtp_store_increment_finish (check->store, result, &error);

  if (error != NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("cannot count an AUTH attempt: %s", error->message);
      if (check->accept_on_error)
        vsmtp_reply_complete (check->reply, ANSWER_NOT_COUNTED, NULL, "not counted");
      else
        vsmtp_reply_complete (check->reply, 454, "4.7.0", "Temporary authentication failure");
    }
  else if (check->peek)
    {
      if (n >= check->max_failures)
        vsmtp_reply_complete (check->reply, 454, "4.7.0",
                              BLOCKED_TEXT);
      else
        vsmtp_reply_complete (check->reply, ANSWER_COUNTED, NULL, "not blocked");
    }
  else if (n > check->max_failures)
    {
      /* a refused attempt is no failure: its one goes back */
      vsmtp_store_increment_async (check->store, check->key, -1,
                                   check->window * G_USEC_PER_SEC, NULL, NULL, NULL);
      vsmtp_reply_complete (check->reply, 454, "4.7.0",
                            BLOCKED_TEXT);
    }
  else
    vsmtp_reply_complete (check->reply, ANSWER_COUNTED, NULL, "counted");

  g_object_unref (check->reply);
  g_object_unref (check->store);
  g_free (check->key);
  g_free (check);
}

/* The check said no (@reply: the 454 of on_counted), or did not answer in
 * time (the decision's own 451): the client gets a 454 */
static void
auth_refused (VsmtpSession *self,
              VsmtpReply   *reply)
{
  if (g_strcmp0 (vsmtp_reply_get_text (reply), BLOCKED_TEXT) == 0)
    _vsmtp_metrics_limit_hit (self->server, "max-auth-failures");
  if (vsmtp_reply_get_code (reply) == 454)
    session_queue (self, reply);
  else
    session_queue_new (self, 454, "4.7.0", "Temporary authentication failure");
}

static void
then_counted (VsmtpSession *self,
              VsmtpReply   *reply)
{
  guint code = vsmtp_reply_get_code (reply);

  if (code == ANSWER_COUNTED || code == ANSWER_NOT_COUNTED)
    {
      self->auth_store_counted = code == ANSWER_COUNTED;
      _vsmtp_session_auth_emit (self);
      return;
    }
  auth_refused (self, reply);
  g_clear_pointer (&self->sasl, _vsmtp_sasl_free);
}

/* Asks the store for the address's count, @delta added (0: a look), and
 * decides @pending with its answer once it came */
static void
check_start (VsmtpSession      *self,
             VsmtpReply        *pending,
             gint64             delta,
             VsmtpContinuation  then)
{
  Check *check = g_new0 (Check, 1);

  check->reply = g_object_ref (pending);
  check->store = g_object_ref (self->auth_store);
  check->key = auth_key (self);
  check->max_failures = self->settings->max_auth_failures;
  check->window = MAX (self->settings->auth_failure_window, 1);
  check->accept_on_error = self->store_error_policy == VSMTP_STORE_ERROR_POLICY_ACCEPT;
  check->peek = delta == 0;
  vsmtp_store_increment_async (check->store, check->key, delta, check->window * G_USEC_PER_SEC,
                               vsmtp_reply_get_cancellable (pending), on_counted, check);
  _vsmtp_decision_decide (self->decision, pending, then);
}

void
_vsmtp_session_auth_store_begin (VsmtpSession *self)
{
  check_start (self, vsmtp_reply_new_pending (), 1, then_counted);
}

static void
then_looked (VsmtpSession *self,
             VsmtpReply   *reply)
{
  AuthCommand *command = g_object_get_data (G_OBJECT (reply), AUTH_COMMAND_KEY);
  guint code = vsmtp_reply_get_code (reply);

  if ((code == ANSWER_COUNTED || code == ANSWER_NOT_COUNTED) && command != NULL)
    {
      _vsmtp_session_auth_start (self, g_steal_pointer (&command->mechanism), command->initial);
      return;
    }
  auth_refused (self, reply);
}

void
_vsmtp_session_auth_store_check (VsmtpSession *self,
                                 char         *mechanism,
                                 const char   *initial)
{
  VsmtpReply *pending = vsmtp_reply_new_pending ();
  AuthCommand *command = g_new0 (AuthCommand, 1);

  /* the command line is gone by the time the store answers */
  command->mechanism = mechanism;
  command->initial = g_strdup (initial);
  g_object_set_data_full (G_OBJECT (pending), AUTH_COMMAND_KEY, command, auth_command_free);
  check_start (self, pending, 0, then_looked);
}

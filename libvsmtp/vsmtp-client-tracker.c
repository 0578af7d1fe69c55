/* vsmtp-client-tracker.c: per client address accounting
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-client-tracker-private.h"

/* Bounded state: past this many addresses with AUTH state, the oldest
 * state is forgotten rather than the table grown without limit. */
#define MAX_AUTH_ADDRESSES 100000

struct _VsmtpClientTracker
{
  gatomicrefcount ref_count;
  GHashTable *connections;   /* ip -> sessions open */
  GHashTable *handshakes;    /* ip -> handshakes running */
  guint       n_handshakes;
  GHashTable *auth;          /* ip -> AuthState */
};

typedef struct {
  guint  count;          /* failures in the window */
  guint  in_flight;      /* attempts whose check has not answered yet */
  gint64 window_start;   /* monotonic, µs */
} AuthState;

VsmtpClientTracker *
_vsmtp_client_tracker_new (void)
{
  VsmtpClientTracker *self = g_new0 (VsmtpClientTracker, 1);

  g_atomic_ref_count_init (&self->ref_count);

  self->connections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->handshakes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->auth = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

VsmtpClientTracker *
_vsmtp_client_tracker_ref (VsmtpClientTracker *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
_vsmtp_client_tracker_unref (VsmtpClientTracker *self)
{
  if (self == NULL || !g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_hash_table_unref (self->connections);
  g_hash_table_unref (self->handshakes);
  g_hash_table_unref (self->auth);
  g_free (self);
}

/* @ip's count in @table goes up or down by one (an address whose count
 * reaches 0 leaves the table); returns the count before. */
static guint
count_add (GHashTable *table,
           const char *ip,
           gint        delta)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (table, ip));

  if (delta < 0 && n <= 1)
    g_hash_table_remove (table, ip);
  else if (delta < 0)
    g_hash_table_insert (table, g_strdup (ip), GUINT_TO_POINTER (n - 1));
  else
    g_hash_table_insert (table, g_strdup (ip), GUINT_TO_POINTER (n + 1));
  return n;
}

guint
_vsmtp_client_tracker_get_connections (VsmtpClientTracker *self,
                                       const char         *ip)
{
  return ip != NULL ? GPOINTER_TO_UINT (g_hash_table_lookup (self->connections, ip)) : 0;
}

void
_vsmtp_client_tracker_connection_opened (VsmtpClientTracker *self,
                                         const char         *ip)
{
  if (ip != NULL)
    count_add (self->connections, ip, 1);
}

void
_vsmtp_client_tracker_connection_closed (VsmtpClientTracker *self,
                                         const char         *ip)
{
  if (ip != NULL)
    count_add (self->connections, ip, -1);
}

/* glib-networking runs each TLS handshake on a worker thread of GTask's
 * pool, which also runs other blocking work (password checks); slow or
 * stalled handshakes (the handshake timeout holds each one) must not take
 * every thread. */
gboolean
_vsmtp_client_tracker_handshake_begin (VsmtpClientTracker *self,
                                       const char         *ip,
                                       guint               max_total,
                                       guint               max_per_client)
{
  if (max_total > 0 && self->n_handshakes >= max_total)
    return FALSE;
  if (ip != NULL && max_per_client > 0 &&
      GPOINTER_TO_UINT (g_hash_table_lookup (self->handshakes, ip)) >= max_per_client)
    return FALSE;
  self->n_handshakes++;
  if (ip != NULL)
    count_add (self->handshakes, ip, 1);
  return TRUE;
}

void
_vsmtp_client_tracker_handshake_end (VsmtpClientTracker *self,
                                     const char         *ip)
{
  g_return_if_fail (self->n_handshakes > 0);
  self->n_handshakes--;
  if (ip != NULL)
    count_add (self->handshakes, ip, -1);
}

static AuthState *
auth_lookup (VsmtpClientTracker *self,
             const char         *ip,
             guint               window)
{
  AuthState *state = g_hash_table_lookup (self->auth, ip);
  gint64 now = g_get_monotonic_time ();

  if (state != NULL && now - state->window_start > (gint64) window * G_USEC_PER_SEC)
    {
      if (state->in_flight == 0)
        {
          g_hash_table_remove (self->auth, ip);
          return NULL;
        }
      state->count = 0;
      state->window_start = now;
    }
  return state;
}

static AuthState *
auth_get (VsmtpClientTracker *self,
          const char         *ip,
          guint               window)
{
  AuthState *state = auth_lookup (self, ip, window);

  if (state == NULL)
    {
      if (g_hash_table_size (self->auth) > MAX_AUTH_ADDRESSES)
        g_hash_table_remove_all (self->auth);
      state = g_new0 (AuthState, 1);
      state->window_start = g_get_monotonic_time ();
      g_hash_table_insert (self->auth, g_strdup (ip), state);
    }
  return state;
}

gboolean
_vsmtp_client_tracker_auth_blocked (VsmtpClientTracker *self,
                                    const char         *ip,
                                    guint               max_failures,
                                    guint               window)
{
  AuthState *state;

  if (ip == NULL || max_failures == 0)
    return FALSE;
  state = auth_lookup (self, ip, window);
  return state != NULL && state->count + state->in_flight >= max_failures;
}

/* Attempts are counted from the moment credentials go to the check, not
 * when it answers: otherwise parallel sessions from one address each get
 * a try in before the first failure is counted. */
gboolean
_vsmtp_client_tracker_auth_attempt_begin (VsmtpClientTracker *self,
                                          const char         *ip,
                                          guint               max_failures,
                                          guint               window)
{
  if (ip == NULL)
    return TRUE;
  if (_vsmtp_client_tracker_auth_blocked (self, ip, max_failures, window))
    return FALSE;
  auth_get (self, ip, window)->in_flight++;
  return TRUE;
}

void
_vsmtp_client_tracker_auth_attempt_end (VsmtpClientTracker *self,
                                        const char         *ip,
                                        gboolean            succeeded,
                                        guint               window)
{
  AuthState *state;

  if (ip == NULL)
    return;
  state = auth_get (self, ip, window);
  if (state->in_flight > 0)
    state->in_flight--;
  if (!succeeded)
    state->count++;
}

void
_vsmtp_client_tracker_auth_failed (VsmtpClientTracker *self,
                                   const char         *ip,
                                   guint               window)
{
  if (ip != NULL)
    auth_get (self, ip, window)->count++;
}

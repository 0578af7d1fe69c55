/* vsmtp-shared-limits.c: connections and AUTH failures per client address
 * kept in the server's store, so that every server sharing it enforces
 * one limit
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A connection is a lease on `connections:IP` held by its session (a
 * random holder name), taken before the greeting with the listener's
 * max-connections-per-client as the limit, renewed while the session
 * lives and given back when it closes: a server that dies without giving
 * its leases back loses them after VSMTP_CONNECTION_LEASE_TTL. The AUTH
 * side is in vsmtp-session-auth-store.c.
 */
#include "config.h"

#include "vsmtp-server-metrics-private.h"
#include "vsmtp-server-private.h"
#include "vsmtp-settings-private.h"
#include "vsmtp-session-private.h"
#include "vsmtp-shared-limits-private.h"

typedef struct
{
  VsmtpSharedLimits      flags;
  VsmtpStoreErrorPolicy  policy;
  GHashTable            *leases;    /* VsmtpSession (not a reference) -> Lease */
  GHashTable            *admitting; /* VsmtpSession: waiting for the store */
  GSource               *renew;
} SharedState;

typedef struct
{
  VsmtpStore *store;
  char       *key;
  char       *holder;
} Lease;

typedef struct
{
  VsmtpServer       *server;
  VsmtpSession      *session;
  Lease             *lease;
  guint              per_client;
  VsmtpAdmittedFunc  done;
  gint64             started;   /* monotonic µs */
} Admission;

static void
lease_free (gpointer data)
{
  Lease *lease = data;

  g_object_unref (lease->store);
  g_free (lease->key);
  g_free (lease->holder);
  g_free (lease);
}


/* A lease whose taking failed (a command timeout, say) may have been
 * taken all the same: Redis runs a script it was sent even when its
 * answer comes too late. It is given back once the store answers, tried
 * again every ORPHAN_RETRY_SECONDS until it would have lapsed anyway; so
 * is a lease whose giving back failed. */
#define ORPHAN_RETRY_SECONDS 1

typedef struct
{
  Lease  *lease;
  gint64  until;    /* monotonic µs: lapsed by then */
} Orphan;

static void orphan_release (Orphan *orphan);

static gboolean
on_orphan_retry (gpointer user_data)
{
  orphan_release (user_data);
  return G_SOURCE_REMOVE;
}

static void
on_orphan_released (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Orphan *orphan = user_data;
  g_autoptr(GError) error = NULL;
  GSource *retry;

  vsmtp_store_lease_release_finish (VSMTP_STORE (source), result, &error);
  if (error == NULL || g_get_monotonic_time () >= orphan->until)
    {
      lease_free (orphan->lease);
      g_free (orphan);
      return;
    }
  retry = g_timeout_source_new_seconds (ORPHAN_RETRY_SECONDS);
  g_source_set_callback (retry, on_orphan_retry, orphan, NULL);
  g_source_set_static_name (retry, "[vsmtp] lease given back again");
  g_source_attach (retry, g_main_context_get_thread_default ());
  g_source_unref (retry);
}

static void
orphan_release (Orphan *orphan)
{
  vsmtp_store_lease_release_async (orphan->lease->store, orphan->lease->key,
                                   orphan->lease->holder, NULL, on_orphan_released, orphan);
}

/* @lease (taken at @started, or renewed then) given back, when the store
 * answers */
static void
lease_release_orphan (Lease  *lease,
                      gint64  started)
{
  Orphan *orphan = g_new0 (Orphan, 1);

  orphan->lease = lease;
  orphan->until = started + VSMTP_CONNECTION_LEASE_TTL;
  orphan_release (orphan);
}

/* Gives @lease back, again until the store answered: a session that
 * closes while Redis does not answer leaves no lease behind it */
static void
lease_release (Lease *lease)
{
  lease_release_orphan (lease, g_get_monotonic_time ());
}

static void
shared_state_free (gpointer data)
{
  SharedState *state = data;

  if (state->renew != NULL)
    {
      g_source_destroy (state->renew);
      g_source_unref (state->renew);
    }
  /* the server is going: what it still holds is given back */
  if (state->leases != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, state->leases);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          g_hash_table_iter_steal (&iter);
          lease_release (value);
        }
      g_hash_table_unref (state->leases);
    }
  g_clear_pointer (&state->admitting, g_hash_table_unref);
  g_free (state);
}

G_DEFINE_QUARK (vsmtp-shared-limits, shared_state)

static SharedState *
get_state (VsmtpServer *server,
           gboolean     create)
{
  SharedState *state = g_object_get_qdata (G_OBJECT (server), shared_state_quark ());

  if (state == NULL && create)
    {
      state = g_new0 (SharedState, 1);
      state->leases = g_hash_table_new_full (NULL, NULL, NULL, lease_free);
      state->admitting = g_hash_table_new (NULL, NULL);
      g_object_set_qdata_full (G_OBJECT (server), shared_state_quark (), state,
                               shared_state_free);
    }
  return state;
}

/**
 * vsmtp_server_set_shared_limits:
 * @server: a server
 * @limits: the limits to keep in the store
 *
 * Keeps the per-address limits named in @limits in the server's store
 * ([method@Vsmtp.Server.get_store]; with a [class@Vsmtp.RedisStore], every
 * server using the same Redis database enforces one limit). The keys,
 * after the store's prefix, are `connections:IP`, a set of leases (one
 * per open connection, lapsing two minutes after its server stopped
 * renewing it), and `auth-failures:IP`, a counter that lives
 * [property@Vsmtp.Server:auth-failure-window] seconds from the first
 * failure. New connections are checked this way; open ones keep what
 * they started with. Connections are then admitted, and AUTH attempts
 * answered, once the store answered, which the main loop never waits
 * for; see [method@Vsmtp.Server.set_store_error_policy] for a store that
 * does not answer.
 */
void
vsmtp_server_set_shared_limits (VsmtpServer       *server,
                                VsmtpSharedLimits  limits)
{
  g_return_if_fail (VSMTP_IS_SERVER (server));
  get_state (server, TRUE)->flags = limits;
}

/**
 * vsmtp_server_get_shared_limits:
 * @server: a server
 *
 * Returns: the per-address limits the server keeps in its store
 */
VsmtpSharedLimits
vsmtp_server_get_shared_limits (VsmtpServer *server)
{
  SharedState *state;

  g_return_val_if_fail (VSMTP_IS_SERVER (server), VSMTP_SHARED_LIMITS_NONE);
  state = get_state (server, FALSE);
  return state != NULL ? state->flags : VSMTP_SHARED_LIMITS_NONE;
}

/**
 * vsmtp_server_set_store_error_policy:
 * @server: a server
 * @policy: what to do
 *
 * What the server does when its store fails to answer the check of a
 * shared limit ([method@Vsmtp.Server.set_shared_limits]): by default
 * %VSMTP_STORE_ERROR_POLICY_TEMPFAIL, `421 4.3.0` to the connection and
 * `454 4.7.0` to the AUTH attempt.
 */
void
vsmtp_server_set_store_error_policy (VsmtpServer           *server,
                                     VsmtpStoreErrorPolicy  policy)
{
  g_return_if_fail (VSMTP_IS_SERVER (server));
  get_state (server, TRUE)->policy = policy;
}

/**
 * vsmtp_server_get_store_error_policy:
 * @server: a server
 *
 * Returns: what the server does when its store fails to answer
 */
VsmtpStoreErrorPolicy
vsmtp_server_get_store_error_policy (VsmtpServer *server)
{
  SharedState *state;

  g_return_val_if_fail (VSMTP_IS_SERVER (server), VSMTP_STORE_ERROR_POLICY_TEMPFAIL);
  state = get_state (server, FALSE);
  return state != NULL ? state->policy : VSMTP_STORE_ERROR_POLICY_TEMPFAIL;
}

gboolean
_vsmtp_shared_limits_counts_connections (VsmtpServer *server)
{
  SharedState *state = get_state (server, FALSE);

  return state != NULL && (state->flags & VSMTP_SHARED_LIMITS_CONNECTIONS) != 0;
}

void
_vsmtp_shared_limits_for_auth (VsmtpServer            *server,
                               VsmtpStore            **store,
                               VsmtpStoreErrorPolicy  *policy)
{
  SharedState *state = get_state (server, FALSE);

  *store = NULL;
  *policy = VSMTP_STORE_ERROR_POLICY_TEMPFAIL;
  if (state == NULL || !(state->flags & VSMTP_SHARED_LIMITS_AUTH_FAILURES))
    return;
  *store = vsmtp_server_get_store (server);
  *policy = state->policy;
}

/* The leases of the open connections are taken again for another
 * VSMTP_CONNECTION_LEASE_TTL */
static gboolean
renew_leases (gpointer user_data)
{
  SharedState *state = user_data;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, state->leases);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Lease *lease = value;

      vsmtp_store_lease_acquire_async (lease->store, lease->key, lease->holder, 0,
                                       VSMTP_CONNECTION_LEASE_TTL, NULL, NULL, NULL);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_lease_acquired (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Admission *admission = user_data;
  VsmtpServer *server = admission->server;
  VsmtpSession *session = admission->session;
  SharedState *state = get_state (server, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpReply) refusal = NULL;
  const char *ip = vsmtp_session_get_remote_ip (session);
  gboolean held;

  held = vsmtp_store_lease_acquire_finish (VSMTP_STORE (source), result, &error);
  if (error != NULL)
    lease_release_orphan (g_steal_pointer (&admission->lease), admission->started);
  if (!g_hash_table_remove (state->admitting, session))
    {
      /* closed meanwhile (the server shut down) */
      if (held)
        lease_release (g_steal_pointer (&admission->lease));
    }
  else if (error != NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "VSMTP_SESSION_ID", vsmtp_session_get_id (session),
                        "MESSAGE", "%s: cannot check the connections of [%s]: %s",
                        vsmtp_session_get_id (session), ip, error->message);
      if (state->policy == VSMTP_STORE_ERROR_POLICY_TEMPFAIL)
        refusal = vsmtp_reply_new_printf (421, "4.3.0",
                                          "%s Error: cannot check the connection limit, try again later",
                                          _vsmtp_server_get_settings (server)->hostname);
      admission->done (server, session, refusal);
    }
  else if (!held)
    {
      _vsmtp_metrics_limit_hit (server, "max-connections-per-client");
      refusal = vsmtp_reply_new_printf (421, "4.7.0", "%s Error: too many connections from %s",
                                        _vsmtp_server_get_settings (server)->hostname, ip);
      admission->done (server, session, refusal);
    }
  else
    {
      g_hash_table_insert (state->leases, session, g_steal_pointer (&admission->lease));
      if (state->renew == NULL)
        {
          state->renew = g_timeout_source_new_seconds (VSMTP_CONNECTION_LEASE_RENEW / G_USEC_PER_SEC);
          g_source_set_callback (state->renew, renew_leases, state, NULL);
          g_source_set_static_name (state->renew, "[vsmtp] connection leases");
          g_source_attach (state->renew, g_main_context_get_thread_default ());
        }
      admission->done (server, session, NULL);
    }

  if (admission->lease != NULL)
    lease_free (admission->lease);
  g_object_unref (admission->session);
  g_object_unref (admission->server);
  g_free (admission);
}

gboolean
_vsmtp_shared_limits_admit_async (VsmtpServer       *server,
                                  VsmtpSession      *session,
                                  guint              per_client,
                                  VsmtpAdmittedFunc  done)
{
  SharedState *state = get_state (server, FALSE);
  const char *ip = vsmtp_session_get_remote_ip (session);
  Admission *admission;
  Lease *lease;

  if (state == NULL || !(state->flags & VSMTP_SHARED_LIMITS_CONNECTIONS) ||
      ip == NULL || per_client == 0)
    return FALSE;

  lease = g_new0 (Lease, 1);
  lease->store = g_object_ref (vsmtp_server_get_store (server));
  lease->key = g_strconcat ("connections:", ip, NULL);
  lease->holder = g_uuid_string_random ();

  admission = g_new0 (Admission, 1);
  admission->server = g_object_ref (server);
  admission->session = g_object_ref (session);
  admission->lease = lease;
  admission->done = done;
  admission->started = g_get_monotonic_time ();
  g_hash_table_add (state->admitting, session);
  vsmtp_store_lease_acquire_async (lease->store, lease->key, lease->holder, per_client,
                                   VSMTP_CONNECTION_LEASE_TTL, NULL, on_lease_acquired,
                                   admission);
  return TRUE;
}

void
_vsmtp_shared_limits_session_closed (VsmtpServer  *server,
                                     VsmtpSession *session)
{
  SharedState *state = get_state (server, FALSE);
  Lease *lease;

  if (state == NULL)
    return;
  g_hash_table_remove (state->admitting, session);
  lease = g_hash_table_lookup (state->leases, session);
  if (lease == NULL)
    return;
  g_hash_table_steal (state->leases, session);
  lease_release (lease);
  if (g_hash_table_size (state->leases) == 0 && state->renew != NULL)
    {
      g_source_destroy (state->renew);
      g_clear_pointer (&state->renew, g_source_unref);
    }
}

/* vsmtp-store.c: shared policy state, and its in-process backend
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-store.h"

/**
 * VsmtpStore:
 *
 * Policy state that several sessions, worker processes or servers share:
 * counters with an expiry, rate limits over a sliding window and sets
 * whose members expire (greylisting's triplets, pass lists).
 *
 * Every operation is asynchronous and never blocks the main loop; it
 * completes in the thread-default main context of its call. A backend
 * that cannot answer (Redis unreachable, too slow) fails the operation
 * with a #GError at once: the caller decides whether that means a
 * temporary failure or letting the client on.
 *
 * Two backends ship: [class@Vsmtp.MemoryStore], in the process (the
 * default: what one server counts alone), and [class@Vsmtp.RedisStore],
 * shared by every server that uses the same Redis database. Keys are
 * given without the store's prefix ([property@Vsmtp.Store:prefix]), which
 * every operation puts before them.
 */

typedef struct
{
  char *prefix;
} VsmtpStorePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (VsmtpStore, vsmtp_store, G_TYPE_OBJECT)

enum { PROP_0, PROP_PREFIX, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
vsmtp_store_finalize (GObject *object)
{
  VsmtpStorePrivate *priv = vsmtp_store_get_instance_private (VSMTP_STORE (object));

  g_free (priv->prefix);
  G_OBJECT_CLASS (vsmtp_store_parent_class)->finalize (object);
}

static void
vsmtp_store_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  VsmtpStorePrivate *priv = vsmtp_store_get_instance_private (VSMTP_STORE (object));

  switch (prop_id)
    {
    case PROP_PREFIX:
      g_value_set_string (value, priv->prefix);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_store_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  VsmtpStorePrivate *priv = vsmtp_store_get_instance_private (VSMTP_STORE (object));

  switch (prop_id)
    {
    case PROP_PREFIX:
      g_free (priv->prefix);
      priv->prefix = g_value_dup_string (value);
      if (priv->prefix == NULL)
        priv->prefix = g_strdup ("vsmtp:");
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* The finishes of a backend whose operations are GTasks, as both are:
 * an integer, a boolean, and a boolean with the wait in the task's data */
static gint64
task_increment_finish (VsmtpStore    *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), 0);
  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
task_rate_limit_finish (VsmtpStore    *self,
                        GAsyncResult  *result,
                        GTimeSpan     *retry_after,
                        GError       **error)
{
  gint64 *wait;
  gboolean allowed;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  wait = g_task_get_task_data (G_TASK (result));
  allowed = g_task_propagate_boolean (G_TASK (result), error);
  *retry_after = (!allowed && wait != NULL) ? MAX (*wait, 0) : 0;
  return allowed;
}

static gboolean
task_boolean_finish (VsmtpStore    *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
vsmtp_store_class_init (VsmtpStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vsmtp_store_finalize;
  object_class->get_property = vsmtp_store_get_property;
  object_class->set_property = vsmtp_store_set_property;
  klass->increment_finish = task_increment_finish;
  klass->rate_limit_finish = task_rate_limit_finish;
  klass->set_add_finish = task_boolean_finish;
  klass->set_contains_finish = task_boolean_finish;
  klass->lease_acquire_finish = task_boolean_finish;
  klass->lease_release_finish = task_boolean_finish;

  /**
   * VsmtpStore:prefix:
   *
   * What every key starts with, `vsmtp:` by default: several sites, or
   * several configurations, can share one Redis database with prefixes
   * of their own.
   */
  properties[PROP_PREFIX] =
    g_param_spec_string ("prefix", NULL, NULL, "vsmtp:",
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vsmtp_store_init (VsmtpStore *self)
{
}

/**
 * vsmtp_store_get_prefix:
 * @self: a store
 *
 * Returns: (transfer none): what every key starts with
 */
const char *
vsmtp_store_get_prefix (VsmtpStore *self)
{
  VsmtpStorePrivate *priv;

  g_return_val_if_fail (VSMTP_IS_STORE (self), NULL);
  priv = vsmtp_store_get_instance_private (self);
  return priv->prefix;
}

static char *
prefixed (VsmtpStore *self,
          const char *key)
{
  return g_strconcat (vsmtp_store_get_prefix (self), key, NULL);
}

/**
 * vsmtp_store_increment_async:
 * @self: a store
 * @key: the counter
 * @delta: what to add (negative to subtract)
 * @ttl: microseconds the counter lives from its creation (a fixed window),
 *   at least 1000
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: for @callback
 *
 * Adds @delta to the counter @key atomically, creating it at 0 first if it
 * does not exist (or has expired) and then giving it @ttl to live.
 */
void
vsmtp_store_increment_async (VsmtpStore          *self,
                             const char          *key,
                             gint64               delta,
                             GTimeSpan            ttl,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autofree char *full = NULL;

  g_return_if_fail (VSMTP_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (ttl >= 1000);

  full = prefixed (self, key);
  VSMTP_STORE_GET_CLASS (self)->increment_async (self, full, delta, ttl, cancellable,
                                                 callback, user_data);
}

/**
 * vsmtp_store_increment_finish:
 * @self: a store
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: the counter's new value (0 with @error set on a failure)
 */
gint64
vsmtp_store_increment_finish (VsmtpStore    *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  GError *local_error = NULL;
  gint64 value;

  g_return_val_if_fail (VSMTP_IS_STORE (self), 0);
  value = VSMTP_STORE_GET_CLASS (self)->increment_finish (self, result, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return 0;
    }
  return value;
}

/**
 * vsmtp_store_rate_limit_async:
 * @self: a store
 * @key: what is limited (a client address, a sender)
 * @limit: events allowed per @interval, at least 1
 * @interval: the sliding window, in microseconds, at least 1000
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: for @callback
 *
 * Checks whether fewer than @limit events of @key happened within the
 * last @interval and, if so, counts this one, atomically: of concurrent
 * callers on every server sharing the store, exactly @limit pass in one
 * window. An event refused is not counted.
 */
void
vsmtp_store_rate_limit_async (VsmtpStore          *self,
                              const char          *key,
                              guint                limit,
                              GTimeSpan            interval,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autofree char *full = NULL;

  g_return_if_fail (VSMTP_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (limit >= 1);
  g_return_if_fail (interval >= 1000);

  full = prefixed (self, key);
  VSMTP_STORE_GET_CLASS (self)->rate_limit_async (self, full, limit, interval, cancellable,
                                                  callback, user_data);
}

/**
 * vsmtp_store_rate_limit_finish:
 * @self: a store
 * @result: the result given to the callback
 * @retry_after: (out) (optional): when refused, microseconds until the
 *   oldest event counted leaves the window; else 0
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the event was under the limit (and is now counted),
 *   %FALSE if it was over it, or on a failure, with @error set
 */
gboolean
vsmtp_store_rate_limit_finish (VsmtpStore    *self,
                               GAsyncResult  *result,
                               GTimeSpan     *retry_after,
                               GError       **error)
{
  GTimeSpan dummy;

  g_return_val_if_fail (VSMTP_IS_STORE (self), FALSE);
  return VSMTP_STORE_GET_CLASS (self)->rate_limit_finish (self, result,
                                                          retry_after ? retry_after : &dummy,
                                                          error);
}

/**
 * vsmtp_store_set_add_async:
 * @self: a store
 * @key: the set
 * @member: the member
 * @ttl: microseconds @member stays in the set from now, at least 1000
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: for @callback
 *
 * Adds @member to the set @key, or gives it @ttl again if it is there.
 */
void
vsmtp_store_set_add_async (VsmtpStore          *self,
                           const char          *key,
                           const char          *member,
                           GTimeSpan            ttl,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autofree char *full = NULL;

  g_return_if_fail (VSMTP_IS_STORE (self));
  g_return_if_fail (key != NULL && member != NULL);
  g_return_if_fail (ttl >= 1000);

  full = prefixed (self, key);
  VSMTP_STORE_GET_CLASS (self)->set_add_async (self, full, member, ttl, cancellable,
                                               callback, user_data);
}

/**
 * vsmtp_store_set_add_finish:
 * @self: a store
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE once added, %FALSE with @error set on a failure
 */
gboolean
vsmtp_store_set_add_finish (VsmtpStore    *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_STORE (self), FALSE);
  return VSMTP_STORE_GET_CLASS (self)->set_add_finish (self, result, error);
}

/**
 * vsmtp_store_set_contains_async:
 * @self: a store
 * @key: the set
 * @member: the member
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: for @callback
 *
 * Looks @member up in the set @key (a member whose time is over is not
 * there).
 */
void
vsmtp_store_set_contains_async (VsmtpStore          *self,
                                const char          *key,
                                const char          *member,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autofree char *full = NULL;

  g_return_if_fail (VSMTP_IS_STORE (self));
  g_return_if_fail (key != NULL && member != NULL);

  full = prefixed (self, key);
  VSMTP_STORE_GET_CLASS (self)->set_contains_async (self, full, member, cancellable,
                                                    callback, user_data);
}

/**
 * vsmtp_store_set_contains_finish:
 * @self: a store
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the member is in the set; %FALSE if not, or on a
 *   failure, with @error set
 */
gboolean
vsmtp_store_set_contains_finish (VsmtpStore    *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_STORE (self), FALSE);
  return VSMTP_STORE_GET_CLASS (self)->set_contains_finish (self, result, error);
}

/* The server's store: kept on the server object, so that its structure,
 * which other features change too, stays as it is */
static GQuark
store_quark (void)
{
  return g_quark_from_static_string ("vsmtp-server-store");
}

/**
 * vsmtp_server_get_store:
 * @server: a server
 *
 * The store the server's plugins share their policy state in: the one
 * given to [method@Vsmtp.Server.set_store], else a
 * [class@Vsmtp.MemoryStore] made on the first call.
 *
 * Returns: (transfer none): the store
 */
VsmtpStore *
vsmtp_server_get_store (VsmtpServer *server)
{
  VsmtpStore *store;

  g_return_val_if_fail (VSMTP_IS_SERVER (server), NULL);

  store = g_object_get_qdata (G_OBJECT (server), store_quark ());
  if (store == NULL)
    {
      store = vsmtp_memory_store_new (NULL);
      g_object_set_qdata_full (G_OBJECT (server), store_quark (), store, g_object_unref);
    }
  return store;
}

/**
 * vsmtp_server_set_store:
 * @server: a server
 * @store: the store
 *
 * Sets the store the server's plugins share their policy state in; set
 * it before the plugins are activated.
 */
void
vsmtp_server_set_store (VsmtpServer *server,
                        VsmtpStore  *store)
{
  g_return_if_fail (VSMTP_IS_SERVER (server));
  g_return_if_fail (VSMTP_IS_STORE (store));

  g_object_set_qdata_full (G_OBJECT (server), store_quark (), g_object_ref (store),
                           g_object_unref);
}

/**
 * vsmtp_store_lease_acquire_async:
 * @self: a store
 * @key: what is counted (connections of a client address)
 * @holder: who takes the lease, unique among everyone sharing the store
 *   (a session)
 * @limit: holders allowed at once; 0 for no limit (a renewal)
 * @ttl: microseconds the lease lasts from now, at least 1000, unless
 *   taken again (renewed) or given back
 *
 * Takes a lease on @key for @holder if fewer than @limit holders hold
 * one, or renews @holder's, atomically: of concurrent callers on every
 * server sharing the store, at most @limit hold @key at once. Leases
 * whose time is up no longer count, so those of a process that died
 * without giving them back lapse after @ttl.
 */
void
vsmtp_store_lease_acquire_async (VsmtpStore          *self,
                                 const char          *key,
                                 const char          *holder,
                                 guint                limit,
                                 GTimeSpan            ttl,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autofree char *full = NULL;

  g_return_if_fail (VSMTP_IS_STORE (self));
  g_return_if_fail (key != NULL && holder != NULL);
  g_return_if_fail (ttl >= 1000);

  full = prefixed (self, key);
  VSMTP_STORE_GET_CLASS (self)->lease_acquire_async (self, full, holder, limit, ttl,
                                                     cancellable, callback, user_data);
}

/**
 * vsmtp_store_lease_acquire_finish:
 * @self: a store
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE if @holder holds the lease now, %FALSE if the limit was
 *   reached, or on a failure, with @error set
 */
gboolean
vsmtp_store_lease_acquire_finish (VsmtpStore    *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_STORE (self), FALSE);
  return VSMTP_STORE_GET_CLASS (self)->lease_acquire_finish (self, result, error);
}

/**
 * vsmtp_store_lease_release_async:
 * @self: a store
 * @key: the lease's key
 * @holder: its holder
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (nullable): called when done
 * @user_data: for @callback
 *
 * Gives back @holder's lease on @key.
 */
void
vsmtp_store_lease_release_async (VsmtpStore          *self,
                                 const char          *key,
                                 const char          *holder,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autofree char *full = NULL;

  g_return_if_fail (VSMTP_IS_STORE (self));
  g_return_if_fail (key != NULL && holder != NULL);

  full = prefixed (self, key);
  VSMTP_STORE_GET_CLASS (self)->lease_release_async (self, full, holder, cancellable,
                                                     callback, user_data);
}

/**
 * vsmtp_store_lease_release_finish:
 * @self: a store
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE if @holder held the lease, %FALSE if it did not (or it
 *   had lapsed), or on a failure, with @error set
 */
gboolean
vsmtp_store_lease_release_finish (VsmtpStore    *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_STORE (self), FALSE);
  return VSMTP_STORE_GET_CLASS (self)->lease_release_finish (self, result, error);
}

/* The in-process backend ------------------------------------------------ */

/**
 * VsmtpMemoryStore:
 *
 * A [class@Vsmtp.Store] in the process's memory: what one server (one
 * worker process) counts alone, forgotten at exit. Entries expire on
 * the monotonic clock; expired ones are dropped when met and by a sweep
 * every few hundred operations.
 */

typedef struct
{
  gint64  expires;   /* monotonic µs; G_MAXINT64: never (a window log) */
  gint64  value;     /* a counter */
  GArray *times;     /* gint64 monotonic µs, oldest first: a rate limit */
  GHashTable *holders;  /* holder -> gint64 * monotonic µs it expires: leases */
} Entry;

struct _VsmtpMemoryStore
{
  VsmtpStore  parent_instance;

  GHashTable *entries;   /* full key (set: key "\n" member) -> Entry */
  guint       operations;
};

G_DEFINE_FINAL_TYPE (VsmtpMemoryStore, vsmtp_memory_store, VSMTP_TYPE_STORE)

#define SWEEP_EVERY 512

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  if (entry->times != NULL)
    g_array_unref (entry->times);
  if (entry->holders != NULL)
    g_hash_table_unref (entry->holders);
  g_free (entry);
}

static void
sweep (VsmtpMemoryStore *self,
       gint64            now)
{
  GHashTableIter iter;
  gpointer value;

  if (++self->operations % SWEEP_EVERY != 0)
    return;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;

      if (entry->expires <= now)
        g_hash_table_iter_remove (&iter);
    }
}

/* The live entry of @key, or NULL (an expired one is removed) */
static Entry *
lookup (VsmtpMemoryStore *self,
        const char       *key,
        gint64            now)
{
  Entry *entry = g_hash_table_lookup (self->entries, key);

  sweep (self, now);
  if (entry != NULL && entry->expires <= now)
    {
      g_hash_table_remove (self->entries, key);
      entry = NULL;
    }
  return entry;
}

static Entry *
insert (VsmtpMemoryStore *self,
        const char       *key)
{
  Entry *entry = g_new0 (Entry, 1);

  g_hash_table_replace (self->entries, g_strdup (key), entry);
  return entry;
}

static void
memory_increment_async (VsmtpStore          *store,
                        const char          *key,
                        gint64               delta,
                        GTimeSpan            ttl,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  VsmtpMemoryStore *self = VSMTP_MEMORY_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  gint64 now = g_get_monotonic_time ();
  Entry *entry = lookup (self, key, now);

  g_task_set_source_tag (task, memory_increment_async);
  if (entry == NULL)
    {
      entry = insert (self, key);
      entry->expires = now + ttl;
    }
  entry->value += delta;
  g_task_return_int (task, entry->value);
}

static void
memory_rate_limit_async (VsmtpStore          *store,
                         const char          *key,
                         guint                limit,
                         GTimeSpan            interval,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  VsmtpMemoryStore *self = VSMTP_MEMORY_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  gint64 now = g_get_monotonic_time ();
  Entry *entry = lookup (self, key, now);
  guint old = 0;

  g_task_set_source_tag (task, memory_rate_limit_async);
  if (entry == NULL)
    {
      entry = insert (self, key);
      entry->times = g_array_new (FALSE, FALSE, sizeof (gint64));
    }

  /* the events of the window: younger than @interval */
  while (old < entry->times->len && now - g_array_index (entry->times, gint64, old) >= interval)
    old++;
  g_array_remove_range (entry->times, 0, old);

  if (entry->times->len >= limit)
    {
      gint64 oldest = g_array_index (entry->times, gint64, entry->times->len - limit);

      entry->expires = g_array_index (entry->times, gint64, entry->times->len - 1) + interval;
      g_task_set_task_data (task, g_memdup2 (&(gint64) { oldest + interval - now },
                                             sizeof (gint64)), g_free);
      g_task_return_boolean (task, FALSE);
      return;
    }

  g_array_append_val (entry->times, now);
  entry->expires = now + interval;
  g_task_return_boolean (task, TRUE);
}

static void
memory_set_add_async (VsmtpStore          *store,
                      const char          *key,
                      const char          *member,
                      GTimeSpan            ttl,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  VsmtpMemoryStore *self = VSMTP_MEMORY_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *full = g_strconcat (key, "\n", member, NULL);
  gint64 now = g_get_monotonic_time ();
  Entry *entry = lookup (self, full, now);

  g_task_set_source_tag (task, memory_set_add_async);
  if (entry == NULL)
    entry = insert (self, full);
  entry->expires = now + ttl;
  g_task_return_boolean (task, TRUE);
}

static void
memory_set_contains_async (VsmtpStore          *store,
                           const char          *key,
                           const char          *member,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  VsmtpMemoryStore *self = VSMTP_MEMORY_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *full = g_strconcat (key, "\n", member, NULL);

  g_task_set_source_tag (task, memory_set_contains_async);
  g_task_return_boolean (task, lookup (self, full, g_get_monotonic_time ()) != NULL);
}

/* A lease's holders whose time is up leave; the entry lives as long as
 * its last holder */
static void
lease_prune (Entry  *entry,
             gint64  now)
{
  GHashTableIter iter;
  gpointer value;

  entry->expires = now;
  g_hash_table_iter_init (&iter, entry->holders);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      if (*(gint64 *) value <= now)
        g_hash_table_iter_remove (&iter);
      else
        entry->expires = MAX (entry->expires, *(gint64 *) value);
    }
}

static void
memory_lease_acquire_async (VsmtpStore          *store,
                            const char          *key,
                            const char          *holder,
                            guint                limit,
                            GTimeSpan            ttl,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  VsmtpMemoryStore *self = VSMTP_MEMORY_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  gint64 now = g_get_monotonic_time ();
  Entry *entry = lookup (self, key, now);

  g_task_set_source_tag (task, memory_lease_acquire_async);
  if (entry == NULL)
    {
      entry = insert (self, key);
      entry->holders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    }
  lease_prune (entry, now);
  if (limit > 0 && !g_hash_table_contains (entry->holders, holder) &&
      g_hash_table_size (entry->holders) >= limit)
    {
      entry->expires = MAX (entry->expires, now + 1);
      g_task_return_boolean (task, FALSE);
      return;
    }
  g_hash_table_replace (entry->holders, g_strdup (holder),
                        g_memdup2 (&(gint64) { now + ttl }, sizeof (gint64)));
  entry->expires = MAX (entry->expires, now + ttl);
  g_task_return_boolean (task, TRUE);
}

static void
memory_lease_release_async (VsmtpStore          *store,
                            const char          *key,
                            const char          *holder,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  VsmtpMemoryStore *self = VSMTP_MEMORY_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  gint64 now = g_get_monotonic_time ();
  Entry *entry = lookup (self, key, now);
  gboolean held = FALSE;

  g_task_set_source_tag (task, memory_lease_release_async);
  if (entry != NULL && entry->holders != NULL)
    {
      held = g_hash_table_remove (entry->holders, holder);
      if (g_hash_table_size (entry->holders) == 0)
        g_hash_table_remove (self->entries, key);
    }
  g_task_return_boolean (task, held);
}

static void
vsmtp_memory_store_finalize (GObject *object)
{
  VsmtpMemoryStore *self = VSMTP_MEMORY_STORE (object);

  g_hash_table_unref (self->entries);
  G_OBJECT_CLASS (vsmtp_memory_store_parent_class)->finalize (object);
}

static void
vsmtp_memory_store_class_init (VsmtpMemoryStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  VsmtpStoreClass *store_class = VSMTP_STORE_CLASS (klass);

  object_class->finalize = vsmtp_memory_store_finalize;
  store_class->increment_async = memory_increment_async;
  store_class->rate_limit_async = memory_rate_limit_async;
  store_class->set_add_async = memory_set_add_async;
  store_class->set_contains_async = memory_set_contains_async;
  store_class->lease_acquire_async = memory_lease_acquire_async;
  store_class->lease_release_async = memory_lease_release_async;
}

static void
vsmtp_memory_store_init (VsmtpMemoryStore *self)
{
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
}

/**
 * vsmtp_memory_store_new:
 * @prefix: (nullable): what every key starts with; %NULL for `vsmtp:`
 *
 * Returns: (transfer full): a new, empty in-process store
 */
VsmtpStore *
vsmtp_memory_store_new (const char *prefix)
{
  return g_object_new (VSMTP_TYPE_MEMORY_STORE, "prefix", prefix, NULL);
}

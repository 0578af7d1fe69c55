/* test-store.c: VsmtpStore's in-process backend, and what the Redis
 * backend does without a Redis (test_redis.py runs it against one)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <vsmtp.h>

typedef struct
{
  GPtrArray *results;   /* GAsyncResult, in completion order */
  guint      expected;
} Waiter;

static void
collect (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Waiter *waiter = user_data;

  g_ptr_array_add (waiter->results, g_object_ref (result));
}

static void
wait_for (Waiter *waiter)
{
  while (waiter->results->len < waiter->expected)
    g_main_context_iteration (NULL, TRUE);
}

static Waiter *
waiter_new (guint expected)
{
  Waiter *waiter = g_new0 (Waiter, 1);

  waiter->results = g_ptr_array_new_with_free_func (g_object_unref);
  waiter->expected = expected;
  return waiter;
}

static void
waiter_free (Waiter *waiter)
{
  g_ptr_array_unref (waiter->results);
  g_free (waiter);
}

static gint64
increment (VsmtpStore *store,
           const char *key,
           gint64      delta,
           GTimeSpan   ttl)
{
  Waiter *waiter = waiter_new (1);
  g_autoptr(GError) error = NULL;
  gint64 value;

  vsmtp_store_increment_async (store, key, delta, ttl, NULL, collect, waiter);
  wait_for (waiter);
  value = vsmtp_store_increment_finish (store, waiter->results->pdata[0], &error);
  g_assert_no_error (error);
  waiter_free (waiter);
  return value;
}

static gboolean
rate_limit (VsmtpStore *store,
            const char *key,
            guint       limit,
            GTimeSpan   interval,
            GTimeSpan  *retry_after)
{
  Waiter *waiter = waiter_new (1);
  g_autoptr(GError) error = NULL;
  gboolean allowed;

  vsmtp_store_rate_limit_async (store, key, limit, interval, NULL, collect, waiter);
  wait_for (waiter);
  allowed = vsmtp_store_rate_limit_finish (store, waiter->results->pdata[0], retry_after,
                                           &error);
  g_assert_no_error (error);
  waiter_free (waiter);
  return allowed;
}

static gboolean
contains (VsmtpStore *store,
          const char *key,
          const char *member)
{
  Waiter *waiter = waiter_new (1);
  g_autoptr(GError) error = NULL;
  gboolean found;

  vsmtp_store_set_contains_async (store, key, member, NULL, collect, waiter);
  wait_for (waiter);
  found = vsmtp_store_set_contains_finish (store, waiter->results->pdata[0], &error);
  g_assert_no_error (error);
  waiter_free (waiter);
  return found;
}

static void
add (VsmtpStore *store,
     const char *key,
     const char *member,
     GTimeSpan   ttl)
{
  Waiter *waiter = waiter_new (1);
  g_autoptr(GError) error = NULL;

  vsmtp_store_set_add_async (store, key, member, ttl, NULL, collect, waiter);
  wait_for (waiter);
  g_assert_true (vsmtp_store_set_add_finish (store, waiter->results->pdata[0], &error));
  g_assert_no_error (error);
  waiter_free (waiter);
}

static gboolean
lease (VsmtpStore *store,
       const char *key,
       const char *holder,
       guint       limit,
       GTimeSpan   ttl)
{
  Waiter *waiter = waiter_new (1);
  g_autoptr(GError) error = NULL;
  gboolean held;

  vsmtp_store_lease_acquire_async (store, key, holder, limit, ttl, NULL, collect, waiter);
  wait_for (waiter);
  held = vsmtp_store_lease_acquire_finish (store, waiter->results->pdata[0], &error);
  g_assert_no_error (error);
  waiter_free (waiter);
  return held;
}

static gboolean
release (VsmtpStore *store,
         const char *key,
         const char *holder)
{
  Waiter *waiter = waiter_new (1);
  g_autoptr(GError) error = NULL;
  gboolean held;

  vsmtp_store_lease_release_async (store, key, holder, NULL, collect, waiter);
  wait_for (waiter);
  held = vsmtp_store_lease_release_finish (store, waiter->results->pdata[0], &error);
  g_assert_no_error (error);
  waiter_free (waiter);
  return held;
}

/* at most @limit holders at once; a holder renews its own lease past the
 * limit; one given back or lapsed makes room */
static void
test_memory_leases (void)
{
  g_autoptr(VsmtpStore) store = vsmtp_memory_store_new (NULL);

  g_assert_true (lease (store, "connections:192.0.2.1", "a", 2, G_TIME_SPAN_HOUR));
  g_assert_true (lease (store, "connections:192.0.2.1", "b", 2, G_TIME_SPAN_HOUR));
  g_assert_false (lease (store, "connections:192.0.2.1", "c", 2, G_TIME_SPAN_HOUR));
  /* renewals: by the limit (already held) or without one */
  g_assert_true (lease (store, "connections:192.0.2.1", "a", 2, G_TIME_SPAN_HOUR));
  g_assert_true (lease (store, "connections:192.0.2.1", "b", 0, G_TIME_SPAN_HOUR));
  /* another address is not concerned */
  g_assert_true (lease (store, "connections:192.0.2.2", "c", 2, G_TIME_SPAN_HOUR));

  g_assert_true (release (store, "connections:192.0.2.1", "a"));
  g_assert_false (release (store, "connections:192.0.2.1", "a"));
  g_assert_true (lease (store, "connections:192.0.2.1", "c", 2, G_TIME_SPAN_HOUR));
  g_assert_false (lease (store, "connections:192.0.2.1", "d", 2, G_TIME_SPAN_HOUR));

  /* a lease not renewed lapses (a server that died holding it) */
  g_assert_true (lease (store, "connections:192.0.2.3", "x", 1, 1000));
  g_assert_false (lease (store, "connections:192.0.2.3", "y", 1, G_TIME_SPAN_HOUR));
  g_usleep (20 * 1000);
  g_assert_true (lease (store, "connections:192.0.2.3", "y", 1, G_TIME_SPAN_HOUR));
  g_assert_false (release (store, "connections:192.0.2.3", "x"));
}

/* 200 increments started at once: each gets its own value, the last 200 */
static void
test_memory_increment_atomic (void)
{
  g_autoptr(VsmtpStore) store = vsmtp_memory_store_new (NULL);
  Waiter *waiter = waiter_new (200);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  gint64 values[200];

  for (guint i = 0; i < 200; i++)
    vsmtp_store_increment_async (store, "n", 1, G_TIME_SPAN_HOUR, NULL, collect, waiter);
  wait_for (waiter);

  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GError) error = NULL;

      values[i] = vsmtp_store_increment_finish (store, waiter->results->pdata[i], &error);
      g_assert_no_error (error);
      g_assert_cmpint (values[i], >=, 1);
      g_assert_cmpint (values[i], <=, 200);
      g_assert_false (g_hash_table_contains (seen, &values[i]));
      g_hash_table_add (seen, &values[i]);
    }
  waiter_free (waiter);

  g_assert_cmpint (increment (store, "n", -10, G_TIME_SPAN_HOUR), ==, 190);
  /* another key, another counter */
  g_assert_cmpint (increment (store, "m", 5, G_TIME_SPAN_HOUR), ==, 5);
  g_assert_cmpstr (vsmtp_store_get_prefix (store), ==, "vsmtp:");
}

/* a counter lives its ttl from its creation, then starts again at 0 */
static void
test_memory_increment_expiry (void)
{
  g_autoptr(VsmtpStore) store = vsmtp_memory_store_new ("site:");

  g_assert_cmpint (increment (store, "n", 3, 1000), ==, 3);
  g_usleep (20 * 1000);
  g_assert_cmpint (increment (store, "n", 1, G_TIME_SPAN_HOUR), ==, 1);
  g_assert_cmpint (increment (store, "n", 1, 1000), ==, 2);
  g_assert_cmpstr (vsmtp_store_get_prefix (store), ==, "site:");
}

static void
test_memory_rate_limit (void)
{
  g_autoptr(VsmtpStore) store = vsmtp_memory_store_new (NULL);
  GTimeSpan retry = -1;

  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (rate_limit (store, "a", 3, G_TIME_SPAN_HOUR, &retry));
      g_assert_cmpint (retry, ==, 0);
    }
  /* refused, not counted, until the oldest leaves the window */
  for (guint i = 0; i < 3; i++)
    {
      g_assert_false (rate_limit (store, "a", 3, G_TIME_SPAN_HOUR, &retry));
      g_assert_cmpint (retry, >, 0);
      g_assert_cmpint (retry, <=, G_TIME_SPAN_HOUR);
    }
  /* another key is not concerned */
  g_assert_true (rate_limit (store, "b", 3, G_TIME_SPAN_HOUR, NULL));

  /* a window of 1 ms: over once the time has passed */
  g_assert_true (rate_limit (store, "c", 1, 1000, NULL));
  g_usleep (20 * 1000);
  g_assert_true (rate_limit (store, "c", 1, 1000, NULL));
}

static void
test_memory_sets (void)
{
  g_autoptr(VsmtpStore) store = vsmtp_memory_store_new (NULL);

  g_assert_false (contains (store, "grey", "1.2.3.4 a@b c@d"));
  add (store, "grey", "1.2.3.4 a@b c@d", G_TIME_SPAN_HOUR);
  g_assert_true (contains (store, "grey", "1.2.3.4 a@b c@d"));
  g_assert_false (contains (store, "grey", "1.2.3.4 a@b e@f"));
  g_assert_false (contains (store, "white", "1.2.3.4 a@b c@d"));

  /* members expire on their own */
  add (store, "grey", "short", 1000);
  g_usleep (20 * 1000);
  g_assert_false (contains (store, "grey", "short"));
  g_assert_true (contains (store, "grey", "1.2.3.4 a@b c@d"));

  /* many short-lived keys: swept, and the live ones stay */
  for (guint i = 0; i < 1100; i++)
    {
      g_autofree char *member = g_strdup_printf ("m%u", i);

      add (store, "many", member, 1000);
    }
  g_usleep (20 * 1000);
  g_assert_false (contains (store, "many", "m0"));
  g_assert_true (contains (store, "grey", "1.2.3.4 a@b c@d"));
}

static void
test_redis_bad_urls (void)
{
  const char *bad[] = { "http://127.0.0.1/", "redis://", "unix:relative/path",
                        "redis://127.0.0.1/16", "redis://127.0.0.1/x" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpStore) store = vsmtp_redis_store_new (bad[i], NULL, &error);

      g_assert_null (store);
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG);
    }
}

static void
test_redis_urls (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpStore) tcp = vsmtp_redis_store_new ("redis://:secret@127.0.0.1:6390/3", "p:",
                                                     &error);
  g_autoptr(VsmtpStore) unix_socket = NULL;
  g_autofree char *password = NULL;
  int database;

  g_assert_no_error (error);
  g_object_get (tcp, "password", &password, "database", &database, NULL);
  g_assert_cmpstr (password, ==, "secret");
  g_assert_cmpint (database, ==, 3);
  g_assert_cmpstr (vsmtp_store_get_prefix (tcp), ==, "p:");
  g_assert_false (vsmtp_redis_store_is_connected (VSMTP_REDIS_STORE (tcp)));

  unix_socket = vsmtp_redis_store_new ("unix:/run/redis/redis.sock", NULL, &error);
  g_assert_no_error (error);
}

/* Nothing listens: the operation fails (not hangs), and so do the next
 * ones while the backoff runs, at once */
static void
test_redis_unreachable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(VsmtpStore) store = NULL;
  g_autofree char *url = NULL;
  Waiter *waiter = waiter_new (2);
  GTimeSpan retry;

  /* a port nobody listens on: bound, not listening */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("redis://127.0.0.1:%u",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  store = vsmtp_redis_store_new (url, NULL, &error);
  g_assert_no_error (error);
  vsmtp_store_rate_limit_async (store, "a", 1, G_TIME_SPAN_HOUR, NULL, collect, waiter);
  vsmtp_store_increment_async (store, "b", 1, G_TIME_SPAN_HOUR, NULL, collect, waiter);
  wait_for (waiter);

  g_assert_false (vsmtp_store_rate_limit_finish (store, waiter->results->pdata[0], &retry,
                                                 &error));
  /* refused at once (NOT_CONNECTED) or once tried (CONNECTION_CLOSED) */
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_clear_error (&error);
  g_assert_cmpint (vsmtp_store_increment_finish (store, waiter->results->pdata[1], &error),
                   ==, 0);
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* down: failed at once */
  waiter->expected = 3;
  vsmtp_store_set_contains_async (store, "c", "d", NULL, collect, waiter);
  wait_for (waiter);
  g_assert_false (vsmtp_store_set_contains_finish (store, waiter->results->pdata[2], &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_assert_false (vsmtp_redis_store_is_connected (VSMTP_REDIS_STORE (store)));
  waiter_free (waiter);
}

/* A host name that does not resolve: the operations that waited for the
 * lookup fail, nothing blocks */
static void
test_redis_unresolved (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpStore) store = vsmtp_redis_store_new ("redis://no-such-host.invalid:6379",
                                                       NULL, &error);
  Waiter *waiter = waiter_new (2);

  g_assert_no_error (error);
  vsmtp_store_increment_async (store, "a", 1, G_TIME_SPAN_HOUR, NULL, collect, waiter);
  vsmtp_store_set_add_async (store, "b", "c", G_TIME_SPAN_HOUR, NULL, collect, waiter);
  wait_for (waiter);
  g_assert_cmpint (vsmtp_store_increment_finish (store, waiter->results->pdata[0], &error),
                   ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_clear_error (&error);
  g_assert_false (vsmtp_store_set_add_finish (store, waiter->results->pdata[1], &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  waiter_free (waiter);
}

/* The server's store: a memory store unless one is set */
static void
test_server_store (void)
{
  g_autoptr(VsmtpServer) server = vsmtp_server_new ();
  g_autoptr(VsmtpStore) other = vsmtp_memory_store_new ("x:");
  VsmtpStore *store = vsmtp_server_get_store (server);

  g_assert_true (VSMTP_IS_MEMORY_STORE (store));
  g_assert_true (vsmtp_server_get_store (server) == store);
  vsmtp_server_set_store (server, other);
  g_assert_true (vsmtp_server_get_store (server) == other);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/store/memory/increment-atomic", test_memory_increment_atomic);
  g_test_add_func ("/store/memory/increment-expiry", test_memory_increment_expiry);
  g_test_add_func ("/store/memory/rate-limit", test_memory_rate_limit);
  g_test_add_func ("/store/memory/sets", test_memory_sets);
  g_test_add_func ("/store/memory/leases", test_memory_leases);
  g_test_add_func ("/store/redis/bad-urls", test_redis_bad_urls);
  g_test_add_func ("/store/redis/urls", test_redis_urls);
  g_test_add_func ("/store/redis/unreachable", test_redis_unreachable);
  g_test_add_func ("/store/redis/unresolved", test_redis_unresolved);
  g_test_add_func ("/store/server", test_server_store);

  return g_test_run ();
}

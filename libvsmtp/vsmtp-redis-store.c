/* vsmtp-redis-store.c: the store in Redis, through hiredis's asynchronous
 * API on the GLib main loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/glib.h>

#include "vsmtp-error.h"
#include "vsmtp-store.h"

/**
 * VsmtpRedisStore:
 *
 * A [class@Vsmtp.Store] in a Redis database, shared by every server,
 * worker process and machine that uses it.
 *
 * The connection is made at the first operation, in the thread-default
 * main context of the thread that made the store, and never blocks it
 * (a host name is resolved with #GResolver at every connection, its
 * first address used). Counters and rate limits are updated by Lua
 * scripts (`EVALSHA`, `EVAL` when Redis does not know the script yet),
 * hence atomically. Keys are the store's prefix followed by the key;
 * a set's member is the key `PREFIX KEY ":" MEMBER`, which expires on
 * its own.
 *
 * When Redis is unreachable or does not answer within
 * [property@Vsmtp.RedisStore:command-timeout], the operations under way
 * fail with a #GError of %G_IO_ERROR, the connection is dropped and made
 * again after a backoff (100 ms doubling to 5 s); meanwhile operations
 * fail at once. One line is logged when an outage starts and one when it
 * ends.
 */

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* KEYS[1] counter; ARGV delta, ttl in ms: created with its ttl */
static const char increment_script[] =
  "local v = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
  "if redis.call('PTTL', KEYS[1]) < 0 then\n"
  "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
  "end\n"
  "return v\n";

/* KEYS[1] a sorted set of events scored by Redis's clock in ms; ARGV
 * limit, interval in ms, a unique member. Returns {allowed, retry in ms} */
static const char rate_limit_script[] =
  "local t = redis.call('TIME')\n"
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
  "local limit = tonumber(ARGV[1])\n"
  "local window = tonumber(ARGV[2])\n"
  "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)\n"
  "local n = redis.call('ZCARD', KEYS[1])\n"
  "if n < limit then\n"
  "  redis.call('ZADD', KEYS[1], now, ARGV[3])\n"
  "  redis.call('PEXPIRE', KEYS[1], window)\n"
  "  return {1, 0}\n"
  "end\n"
  "local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')\n"
  "return {0, tonumber(oldest[2]) + window - now}\n";

/* KEYS[1] a sorted set of lease holders scored by when they lapse, on
 * Redis's clock in ms; ARGV limit (0: none), ttl in ms, the holder.
 * Returns 1 if the holder holds the lease now, 0 if the limit was reached */
static const char lease_script[] =
  "local t = redis.call('TIME')\n"
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
  "local limit = tonumber(ARGV[1])\n"
  "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
  "if limit > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[3]) and\n"
  "   redis.call('ZCARD', KEYS[1]) >= limit then\n"
  "  return 0\n"
  "end\n"
  "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])\n"
  "local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')\n"
  "redis.call('PEXPIREAT', KEYS[1], last[2])\n"
  "return 1\n";

typedef enum
{
  STATE_IDLE,        /* never connected, or told to connect at the next use */
  STATE_RESOLVING,   /* the host name, with GResolver: operations wait */
  STATE_CONNECTING,
  STATE_UP,
  STATE_DOWN,        /* waiting for the backoff to end: operations fail */
} State;

typedef enum
{
  OP_INCREMENT,
  OP_RATE_LIMIT,
  OP_SET_ADD,
  OP_SET_CONTAINS,
  OP_LEASE_ACQUIRE,
  OP_LEASE_RELEASE,
} OpKind;

struct _VsmtpRedisStore
{
  VsmtpStore         parent_instance;

  char              *url;
  char              *host;          /* or NULL with path */
  int                port;
  char              *path;          /* unix: */
  char              *password;
  int                database;
  guint              connect_timeout;   /* ms */
  guint              command_timeout;   /* ms */

  GMainContext      *context;
  redisAsyncContext *ac;
  GSource           *source;
  GPtrArray         *old_sources;   /* of lost connections, destroyed when idle */
  GSource           *cleanup;       /* that idle */
  State              state;
  guint              backoff;       /* ms */
  GSource           *timer;         /* connect timeout or backoff */
  gboolean           outage;        /* logged as down */
  GCancellable      *resolving;     /* the host name's lookup, under way */
  GQueue             waiting;       /* Op: started while resolving */
  char              *increment_sha;
  char              *rate_limit_sha;
  char              *lease_sha;
};

G_DEFINE_FINAL_TYPE (VsmtpRedisStore, vsmtp_redis_store, VSMTP_TYPE_STORE)

enum
{
  PROP_0,
  PROP_URL,
  PROP_PASSWORD,
  PROP_DATABASE,
  PROP_CONNECT_TIMEOUT,
  PROP_COMMAND_TIMEOUT,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

typedef struct
{
  VsmtpRedisStore *store;
  GTask           *task;
  OpKind           kind;
  GSource         *timeout;
  gboolean         done;
  const char      *script;   /* script operations: resent with EVAL on NOSCRIPT */
  GPtrArray       *args;     /* char *: numkeys, keys and arguments */
  gboolean         retried;
} Op;

static void connect_now (VsmtpRedisStore *self);
static void on_reply (redisAsyncContext *ac, void *reply, void *privdata);

static void
op_free (Op *op)
{
  if (op->timeout != NULL)
    {
      g_source_destroy (op->timeout);
      g_source_unref (op->timeout);
    }
  g_clear_pointer (&op->args, g_ptr_array_unref);
  g_object_unref (op->task);
  g_free (op);
}

static void
op_fail (Op         *op,
         GError     *error)
{
  if (op->done)
    {
      g_error_free (error);
      return;
    }
  op->done = TRUE;
  g_task_return_error (op->task, error);
}

static const char *
where (VsmtpRedisStore *self)
{
  return self->url;
}

static void
clear_timer (VsmtpRedisStore *self)
{
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
}

static void
start_timer (VsmtpRedisStore *self,
             guint            ms,
             GSourceFunc      func)
{
  clear_timer (self);
  self->timer = g_timeout_source_new (ms);
  g_source_set_callback (self->timer, func, self, NULL);
  g_source_attach (self->timer, self->context);
}

static gboolean
on_backoff_over (gpointer user_data)
{
  VsmtpRedisStore *self = user_data;

  g_clear_pointer (&self->timer, g_source_unref);
  self->state = STATE_IDLE;
  connect_now (self);
  return G_SOURCE_REMOVE;
}

static void
source_discard (gpointer data)
{
  g_source_destroy (data);
  g_source_unref (data);
}

static gboolean
on_cleanup (gpointer user_data)
{
  VsmtpRedisStore *self = user_data;

  g_ptr_array_set_size (self->old_sources, 0);
  g_clear_pointer (&self->cleanup, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
fail_waiting (VsmtpRedisStore *self,
              const char      *reason)
{
  Op *op;

  while ((op = g_queue_pop_head (&self->waiting)) != NULL)
    {
      op_fail (op, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                "Redis %s is unreachable (%s)", where (self), reason));
      op_free (op);
    }
}

/* The connection is gone (hiredis frees or has freed @ac): operations
 * fail until the backoff is over. Logs once per outage. */
static void
connection_lost (VsmtpRedisStore *self,
                 const char      *reason)
{
  if (self->source != NULL)
    {
      /* the adapter's dispatch may still look at what the poll returned;
       * hiredis's cleanup removes the source's poll afterwards, so the
       * source is destroyed later, once it is idle */
      ((RedisSource *) self->source)->poll_fd.revents = 0;
      g_ptr_array_add (self->old_sources, g_steal_pointer (&self->source));
      if (self->cleanup == NULL)
        {
          self->cleanup = g_idle_source_new ();
          g_source_set_callback (self->cleanup, on_cleanup, self, NULL);
          g_source_attach (self->cleanup, self->context);
        }
    }
  self->ac = NULL;
  g_clear_object (&self->resolving);
  fail_waiting (self, reason);

  if (!self->outage)
    {
      g_message ("Redis %s: unreachable (%s): store operations fail until it is back",
                 where (self), reason);
      self->outage = TRUE;
    }

  self->state = STATE_DOWN;
  self->backoff = self->backoff == 0 ? BACKOFF_MIN_MS : MIN (self->backoff * 2, BACKOFF_MAX_MS);
  start_timer (self, self->backoff, on_backoff_over);
}

/* Drops the connection ourselves (a timeout, a refused AUTH) */
static void
drop_connection (VsmtpRedisStore *self,
                 const char      *reason)
{
  redisAsyncContext *ac = self->ac;

  if (ac == NULL)
    return;
  ac->data = NULL;            /* its callbacks are no longer ours to act on */
  connection_lost (self, reason);
  redisAsyncFree (ac);        /* pending operations: their callbacks get NULL */
}

static void
on_connect (const redisAsyncContext *ac,
            int                      status)
{
  VsmtpRedisStore *self = ac->data;

  if (self == NULL || self->ac != ac)
    return;

  clear_timer (self);
  if (status != REDIS_OK)
    {
      connection_lost (self, ac->errstr[0] ? ac->errstr : "cannot connect");
      return;
    }

  self->state = STATE_UP;
}

static void
on_disconnect (const redisAsyncContext *ac,
               int                      status)
{
  VsmtpRedisStore *self = ac->data;

  if (self == NULL || self->ac != ac)
    return;
  connection_lost (self, status == REDIS_OK ? "disconnected"
                         : (ac->errstr[0] ? ac->errstr : "connection lost"));
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  VsmtpRedisStore *self = user_data;

  g_clear_pointer (&self->timer, g_source_unref);
  if (self->state == STATE_RESOLVING)
    {
      g_cancellable_cancel (self->resolving);
      connection_lost (self, "the host name was not resolved in time");
    }
  else
    drop_connection (self, "connect timed out");
  return G_SOURCE_REMOVE;
}

/* The reply to AUTH or SELECT: refused, the connection is of no use */
static void
on_setup_reply (redisAsyncContext *ac,
                void              *reply,
                void              *privdata)
{
  VsmtpRedisStore *self = ac->data;
  redisReply *r = reply;

  if (self == NULL || r == NULL || r->type != REDIS_REPLY_ERROR)
    return;

  g_autofree char *reason = g_strdup_printf ("%s refused: %s", (char *) privdata, r->str);
  drop_connection (self, reason);
}

static void send_op (Op *op);

/* Connects to @ip (an IP address: hiredis would resolve a name
 * synchronously), or to the UNIX socket with NULL */
static void
open_connection (VsmtpRedisStore *self,
                 const char      *ip)
{
  redisAsyncContext *ac;

  if (ip == NULL)
    ac = redisAsyncConnectUnix (self->path);
  else
    ac = redisAsyncConnect (ip, self->port);

  if (ac == NULL)
    {
      connection_lost (self, "out of memory");
      return;
    }
  if (ac->err)
    {
      g_autofree char *reason = g_strdup (ac->errstr);

      redisAsyncFree (ac);
      connection_lost (self, reason);
      return;
    }

  ac->data = self;
  self->ac = ac;
  self->state = STATE_CONNECTING;
  self->source = redis_source_new (ac);
  g_source_attach (self->source, self->context);
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);
  start_timer (self, self->connect_timeout, on_connect_timeout);

  /* queued before any operation, sent once connected */
  if (self->password != NULL && self->password[0] != '\0')
    redisAsyncCommand (ac, on_setup_reply, "AUTH", "AUTH %s", self->password);
  if (self->database != 0)
    redisAsyncCommand (ac, on_setup_reply, "SELECT", "SELECT %d", self->database);
}

static void
on_resolved (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  VsmtpRedisStore *self = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  Op *op;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      self->state != STATE_RESOLVING)
    {
      g_resolver_free_addresses (addresses);
      g_object_unref (self);
      return;
    }

  if (addresses == NULL)
    connection_lost (self, error->message);
  else
    {
      g_autofree char *ip = g_inet_address_to_string (addresses->data);

      g_clear_object (&self->resolving);
      clear_timer (self);
      open_connection (self, ip);
      /* connected or lost: the operations that waited go, or fail */
      while (self->ac != NULL && (op = g_queue_pop_head (&self->waiting)) != NULL)
        send_op (op);
      fail_waiting (self, "the connection failed");
    }
  g_resolver_free_addresses (addresses);
  g_object_unref (self);
}

static void
connect_now (VsmtpRedisStore *self)
{
  g_autoptr(GResolver) resolver = NULL;

  if (self->path != NULL)
    {
      open_connection (self, NULL);
      return;
    }
  if (g_hostname_is_ip_address (self->host))
    {
      open_connection (self, self->host);
      return;
    }

  self->state = STATE_RESOLVING;
  self->resolving = g_cancellable_new ();
  start_timer (self, self->connect_timeout, on_connect_timeout);
  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (resolver, self->host, self->resolving, on_resolved,
                                   g_object_ref (self));
}

static gboolean
on_command_timeout (gpointer user_data)
{
  Op *op = user_data;
  VsmtpRedisStore *self = op->store;

  op_fail (op, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                            "Redis %s did not answer within %u ms",
                            where (self), self->command_timeout));
  if (g_queue_remove (&self->waiting, op))
    {
      /* not sent yet: the name's lookup goes on */
      op_free (op);
      return G_SOURCE_REMOVE;
    }
  /* the answers that come late would be out of step: start again */
  drop_connection (self, "a command timed out");
  return G_SOURCE_REMOVE;
}

static void
send_op (Op *op)
{
  VsmtpRedisStore *self = op->store;
  int status;

  if (op->script != NULL)
    {
      /* EVALSHA sha numkeys keys... args..., or EVAL script ... */
      gboolean eval = op->retried;
      const char *sha = op->script == increment_script ? self->increment_sha :
                        op->script == lease_script ? self->lease_sha : self->rate_limit_sha;
      g_autofree const char **argv = g_new (const char *, op->args->len + 2);

      argv[0] = eval ? "EVAL" : "EVALSHA";
      argv[1] = eval ? op->script : sha;
      for (guint i = 0; i < op->args->len; i++)
        argv[i + 2] = op->args->pdata[i];
      status = redisAsyncCommandArgv (self->ac, on_reply, op, op->args->len + 2, argv, NULL);
    }
  else
    {
      const char **argv = (const char **) op->args->pdata;

      status = redisAsyncCommandArgv (self->ac, on_reply, op, op->args->len, argv, NULL);
    }

  if (status != REDIS_OK)
    {
      op_fail (op, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                "Redis %s: the connection is closing", where (self)));
      op_free (op);
    }
}

static void
on_reply (redisAsyncContext *ac,
          void              *reply,
          void              *privdata)
{
  Op *op = privdata;
  VsmtpRedisStore *self = op->store;
  redisReply *r = reply;

  if (op->done)
    {
      op_free (op);
      return;
    }

  if (r == NULL)
    {
      op_fail (op, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                "Redis %s: the connection was lost", where (self)));
      op_free (op);
      return;
    }

  if (r->type == REDIS_REPLY_ERROR)
    {
      if (op->script != NULL && !op->retried && g_str_has_prefix (r->str, "NOSCRIPT") &&
          self->ac != NULL)
        {
          op->retried = TRUE;
          send_op (op);     /* the same op, with the script's text */
          return;
        }
      op_fail (op, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "Redis %s: %s",
                                where (self), r->str));
      op_free (op);
      return;
    }

  /* an answer: Redis is back */
  self->backoff = 0;
  if (self->outage)
    {
      g_message ("Redis %s: reachable again", where (self));
      self->outage = FALSE;
    }

  op->done = TRUE;
  switch (op->kind)
    {
    case OP_INCREMENT:
      if (r->type == REDIS_REPLY_INTEGER)
        g_task_return_int (op->task, r->integer);
      else
        g_task_return_new_error (op->task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                 "Redis %s: unexpected reply to INCRBY", where (self));
      break;

    case OP_RATE_LIMIT:
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          r->element[0]->type == REDIS_REPLY_INTEGER &&
          r->element[1]->type == REDIS_REPLY_INTEGER)
        {
          g_task_set_task_data (op->task,
                                g_memdup2 (&(gint64) { r->element[1]->integer * 1000 },
                                           sizeof (gint64)), g_free);
          g_task_return_boolean (op->task, r->element[0]->integer == 1);
        }
      else
        g_task_return_new_error (op->task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                 "Redis %s: unexpected reply to the rate limit script",
                                 where (self));
      break;

    case OP_SET_ADD:
      g_task_return_boolean (op->task, TRUE);
      break;

    case OP_SET_CONTAINS:
    case OP_LEASE_RELEASE:
      g_task_return_boolean (op->task, r->type == REDIS_REPLY_INTEGER && r->integer > 0);
      break;

    case OP_LEASE_ACQUIRE:
      if (r->type == REDIS_REPLY_INTEGER)
        g_task_return_boolean (op->task, r->integer == 1);
      else
        g_task_return_new_error (op->task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                 "Redis %s: unexpected reply to the lease script",
                                 where (self));
      break;

    default:
      g_assert_not_reached ();
    }
  op_free (op);
}

/* Starts @op, or fails it at once while Redis is down */
static void
start_op (VsmtpRedisStore *self,
          Op              *op)
{
  if (self->state == STATE_IDLE)
    connect_now (self);

  if (self->state == STATE_DOWN || (self->ac == NULL && self->state != STATE_RESOLVING))
    {
      op_fail (op, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                "Redis %s is unreachable", where (self)));
      op_free (op);
      return;
    }

  if (self->command_timeout > 0)
    {
      op->timeout = g_timeout_source_new (self->command_timeout);
      g_source_set_callback (op->timeout, on_command_timeout, op, NULL);
      g_source_attach (op->timeout, self->context);
    }
  if (self->state == STATE_RESOLVING)
    g_queue_push_tail (&self->waiting, op);
  else
    send_op (op);
}

static Op *
op_new (VsmtpRedisStore     *self,
        OpKind               kind,
        gpointer             source_tag,
        GCancellable        *cancellable,
        GAsyncReadyCallback  callback,
        gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->store = self;
  op->kind = kind;
  op->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (op->task, source_tag);
  op->args = g_ptr_array_new_with_free_func (g_free);
  return op;
}

static void
add_args (Op         *op,
          const char *first,
          ...)
{
  va_list ap;

  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (op->args, g_strdup (arg));
  va_end (ap);
}

static char *
milliseconds (GTimeSpan span)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, MAX ((span + 999) / 1000, 1));
}

static void
redis_increment_async (VsmtpStore          *store,
                       const char          *key,
                       gint64               delta,
                       GTimeSpan            ttl,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (store);
  Op *op = op_new (self, OP_INCREMENT, redis_increment_async, cancellable, callback, user_data);
  g_autofree char *delta_text = g_strdup_printf ("%" G_GINT64_FORMAT, delta);
  g_autofree char *ttl_text = milliseconds (ttl);

  op->script = increment_script;
  add_args (op, "1", key, delta_text, ttl_text, NULL);
  start_op (self, op);
}

static void
redis_rate_limit_async (VsmtpStore          *store,
                        const char          *key,
                        guint                limit,
                        GTimeSpan            interval,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (store);
  Op *op = op_new (self, OP_RATE_LIMIT, redis_rate_limit_async, cancellable, callback, user_data);
  g_autofree char *limit_text = g_strdup_printf ("%u", limit);
  g_autofree char *interval_text = milliseconds (interval);
  /* unique among every server: the member of this event in the window */
  g_autofree char *uuid = g_uuid_string_random ();

  op->script = rate_limit_script;
  add_args (op, "1", key, limit_text, interval_text, uuid, NULL);
  start_op (self, op);
}

static void
redis_set_add_async (VsmtpStore          *store,
                     const char          *key,
                     const char          *member,
                     GTimeSpan            ttl,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (store);
  Op *op = op_new (self, OP_SET_ADD, redis_set_add_async, cancellable, callback, user_data);
  g_autofree char *full = g_strconcat (key, ":", member, NULL);
  g_autofree char *ttl_text = milliseconds (ttl);

  add_args (op, "SET", full, "1", "PX", ttl_text, NULL);
  start_op (self, op);
}

static void
redis_set_contains_async (VsmtpStore          *store,
                          const char          *key,
                          const char          *member,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (store);
  Op *op = op_new (self, OP_SET_CONTAINS, redis_set_contains_async, cancellable, callback,
                   user_data);
  g_autofree char *full = g_strconcat (key, ":", member, NULL);

  add_args (op, "EXISTS", full, NULL);
  start_op (self, op);
}

static void
redis_lease_acquire_async (VsmtpStore          *store,
                           const char          *key,
                           const char          *holder,
                           guint                limit,
                           GTimeSpan            ttl,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (store);
  Op *op = op_new (self, OP_LEASE_ACQUIRE, redis_lease_acquire_async, cancellable, callback,
                   user_data);
  g_autofree char *limit_text = g_strdup_printf ("%u", limit);
  g_autofree char *ttl_text = milliseconds (ttl);

  op->script = lease_script;
  add_args (op, "1", key, limit_text, ttl_text, holder, NULL);
  start_op (self, op);
}

static void
redis_lease_release_async (VsmtpStore          *store,
                           const char          *key,
                           const char          *holder,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (store);
  Op *op = op_new (self, OP_LEASE_RELEASE, redis_lease_release_async, cancellable, callback,
                   user_data);

  add_args (op, "ZREM", key, holder, NULL);
  start_op (self, op);
}

static char *
sha1_of (const char *text)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA1, text, -1);
}

static gboolean
parse_url (VsmtpRedisStore  *self,
           const char       *url,
           GError          **error)
{
  g_autoptr(GUri) uri = NULL;
  const char *path;
  const char *userinfo;

  if (g_str_has_prefix (url, "unix:"))
    {
      self->path = g_strdup (url + strlen ("unix:"));
      if (!g_path_is_absolute (self->path))
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                       "\"%s\": a unix: socket path must be absolute", url);
          return FALSE;
        }
      return TRUE;
    }

  uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD, NULL);
  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0 ||
      g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                   "\"%s\" is not of the form redis://HOST[:PORT][/DB] or unix:/PATH", url);
      return FALSE;
    }

  self->host = g_strdup (g_uri_get_host (uri));
  self->port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 6379;
  userinfo = g_uri_get_password (uri);
  if (userinfo != NULL && userinfo[0] != '\0')
    self->password = g_strdup (userinfo);

  path = g_uri_get_path (uri);
  if (path[0] == '/' && path[1] != '\0')
    {
      guint64 db;

      if (!g_ascii_string_to_unsigned (path + 1, 10, 0, 15, &db, NULL))
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                       "\"%s\": the database is a number from 0 to 15", url);
          return FALSE;
        }
      self->database = db;
    }
  return TRUE;
}

static void
vsmtp_redis_store_finalize (GObject *object)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (object);

  clear_timer (self);
  if (self->ac != NULL)
    {
      redisAsyncContext *ac = self->ac;

      ac->data = NULL;
      self->ac = NULL;
      redisAsyncFree (ac);
    }
  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_source_unref (self->source);
    }
  if (self->cleanup != NULL)
    {
      g_source_destroy (self->cleanup);
      g_source_unref (self->cleanup);
    }
  g_ptr_array_unref (self->old_sources);
  g_main_context_unref (self->context);
  g_free (self->url);
  g_free (self->host);
  g_free (self->path);
  g_free (self->password);
  g_free (self->increment_sha);
  g_free (self->rate_limit_sha);
  g_free (self->lease_sha);
  G_OBJECT_CLASS (vsmtp_redis_store_parent_class)->finalize (object);
}

static void
vsmtp_redis_store_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_PASSWORD:
      g_value_set_string (value, self->password);
      break;
    case PROP_DATABASE:
      g_value_set_int (value, self->database);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, self->connect_timeout);
      break;
    case PROP_COMMAND_TIMEOUT:
      g_value_set_uint (value, self->command_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_redis_store_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  VsmtpRedisStore *self = VSMTP_REDIS_STORE (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_free (self->url);
      self->url = g_value_dup_string (value);
      break;
    case PROP_PASSWORD:
      g_free (self->password);
      self->password = g_value_dup_string (value);
      break;
    case PROP_DATABASE:
      self->database = g_value_get_int (value);
      break;
    case PROP_CONNECT_TIMEOUT:
      self->connect_timeout = g_value_get_uint (value);
      break;
    case PROP_COMMAND_TIMEOUT:
      self->command_timeout = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_redis_store_class_init (VsmtpRedisStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  VsmtpStoreClass *store_class = VSMTP_STORE_CLASS (klass);

  object_class->finalize = vsmtp_redis_store_finalize;
  object_class->get_property = vsmtp_redis_store_get_property;
  object_class->set_property = vsmtp_redis_store_set_property;

  store_class->increment_async = redis_increment_async;
  store_class->rate_limit_async = redis_rate_limit_async;
  store_class->set_add_async = redis_set_add_async;
  store_class->set_contains_async = redis_set_contains_async;
  store_class->lease_acquire_async = redis_lease_acquire_async;
  store_class->lease_release_async = redis_lease_release_async;

  /**
   * VsmtpRedisStore:url:
   *
   * Where Redis is, as given to [ctor@Vsmtp.RedisStore.new].
   */
  properties[PROP_URL] =
    g_param_spec_string ("url", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VsmtpRedisStore:password:
   *
   * The password sent with `AUTH` after connecting (the URL's, unless
   * set); %NULL or empty for none. Set it before the first operation.
   */
  properties[PROP_PASSWORD] =
    g_param_spec_string ("password", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * VsmtpRedisStore:database:
   *
   * The database chosen with `SELECT` after connecting (the URL's, unless
   * set). Set it before the first operation.
   */
  properties[PROP_DATABASE] =
    g_param_spec_int ("database", NULL, NULL, 0, 15, 0,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * VsmtpRedisStore:connect-timeout:
   *
   * Milliseconds a connection may take to be made.
   */
  properties[PROP_CONNECT_TIMEOUT] =
    g_param_spec_uint ("connect-timeout", NULL, NULL, 1, G_MAXUINT, 2000,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * VsmtpRedisStore:command-timeout:
   *
   * Milliseconds Redis has to answer an operation; past them the
   * operation fails and the connection is made again. 0: no limit.
   */
  properties[PROP_COMMAND_TIMEOUT] =
    g_param_spec_uint ("command-timeout", NULL, NULL, 0, G_MAXUINT, 1000,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vsmtp_redis_store_init (VsmtpRedisStore *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->old_sources = g_ptr_array_new_with_free_func (source_discard);
  self->connect_timeout = 2000;
  self->command_timeout = 1000;
  self->increment_sha = sha1_of (increment_script);
  self->rate_limit_sha = sha1_of (rate_limit_script);
  self->lease_sha = sha1_of (lease_script);
}

/**
 * vsmtp_redis_store_new:
 * @url: `redis://[:PASSWORD@]HOST[:PORT][/DB]` (port 6379 and database 0
 *   by default; an IPv6 address in brackets) or `unix:/PATH`
 * @prefix: (nullable): what every key starts with; %NULL for `vsmtp:`
 * @error: return location for a #GError
 *
 * Makes a store in Redis; the connection is made at the first operation,
 * in the thread-default main context of the caller.
 *
 * Returns: (transfer full): the store, or %NULL with @error set
 *   (%VSMTP_ERROR_INVALID_CONFIG) if @url is not understood
 */
VsmtpStore *
vsmtp_redis_store_new (const char  *url,
                       const char  *prefix,
                       GError     **error)
{
  g_autoptr(VsmtpRedisStore) self = NULL;

  g_return_val_if_fail (url != NULL, NULL);

  self = g_object_new (VSMTP_TYPE_REDIS_STORE, "prefix", prefix, NULL);
  self->url = g_strdup (url);
  if (!parse_url (self, url, error))
    return NULL;
  return VSMTP_STORE (g_steal_pointer (&self));
}

/**
 * vsmtp_redis_store_is_connected:
 * @self: a Redis store
 *
 * Returns: %TRUE if the connection to Redis is up
 */
gboolean
vsmtp_redis_store_is_connected (VsmtpRedisStore *self)
{
  g_return_val_if_fail (VSMTP_IS_REDIS_STORE (self), FALSE);
  return self->state == STATE_UP;
}

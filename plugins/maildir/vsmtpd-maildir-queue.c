/* vsmtpd-maildir-queue.c: a pool of worker threads that take work in batches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE   /* RUSAGE_THREAD */
#include "config.h"

#include <sys/resource.h>

#include "vsmtpd-maildir-queue.h"

/* Why not g_task_run_in_thread() per message: on tmpfs a delivery is a few
 * microseconds of system calls, and the hand-over cost more than the work:
 * a futex wake of a pool thread and, for the result, a wake-up of the main
 * context, per message (a third of vsmtpd's CPU time went to switching
 * threads). Here a worker takes every item queued when it wakes, so that
 * under load one wake-up carries many messages, and the results go back to
 * each main context in one batch too.
 *
 * The hand-over costs as few system calls as it can:
 *
 * - Pushing takes no lock: the items wait in a list of the pushing main
 *   context, which its source hands to the workers in its prepare(), once
 *   per iteration of the main loop, under the queue's mutex (every message
 *   that came in one iteration, from all the sessions that were ready,
 *   goes to the workers with one wake-up, and no extra iteration).
 * - A worker gives the finished items back on a lock-free list, and wakes
 *   the main context (an eventfd write) only when it may be waiting in
 *   poll(): the source notes that in prepare() (a flag set before it looks
 *   at the list, cleared in check()), and the worker looks at the flag
 *   after it published its items, so one of the two always sees the
 *   other (both are sequentially consistent atomics). A main loop that is
 *   busy with the sessions finds the items in its next prepare().
 *
 * The batch also lets the caller share work between the items (one fsync()
 * of a directory for every file linked into it).
 *
 * How many workers: on a real disk a worker mostly waits in fsync(), and
 * the messages that come meanwhile are better written by other workers,
 * whose fsync()s the file system merges into the same journal commit; on
 * storage that answers at once (tmpfs, a disk with a write cache that
 * needs no flush) a second worker only contends with the first for its
 * locks and the processors, and every wake-up of a worker is a context
 * switch. So a worker notes whether it had to sleep during its batch (a
 * voluntary context switch: getrusage(RUSAGE_THREAD); being preempted by
 * another process is not one). While batches run without sleeping, what
 * comes while one worker is busy waits for it (it takes everything when
 * done), and another worker is woken only when the busy one has worked
 * STALL_USEC on its batch (the main context looks again after that long:
 * a timeout of its source while work waits); after a batch that slept,
 * every idle worker takes a share at once. */

/* A worker that took this long with a batch: it may block after all */
#define STALL_USEC 1000

typedef struct _Node Node;
typedef struct _Completion Completion;

struct _Node
{
  Node         *next;
  gpointer      item;
  Completion   *completion;
};

struct _Completion
{
  GSource       source;
  MaildirQueue *queue;
  GMainContext *context;     /* owned (a worker may wake it up); released after the
                              * source, in maildir_queue_free() */
  Node         *outgoing;    /* pushed, not handed over yet; the context's thread only */
  Node        **outgoing_tail;
  Node         *done;        /* finished, newest first; atomic */
  gint          polling;     /* atomic: the context may be blocked in poll() */
};

static gpointer worker (gpointer data);

struct _MaildirQueue
{
  GMutex            mutex;
  GCond             cond;
  Node             *pending;      /* of every context, oldest first */
  Node            **pending_tail;
  guint             n_pending;
  GPtrArray        *threads;
  GPtrArray        *completions;  /* of Completion (one per main context), owned */
  guint             max_workers;
  guint             max_batch;
  guint             n_idle;
  guint             n_busy;       /* workers with a batch */
  gint64            last_start;   /* when the latest batch was taken */
  gboolean          slow;         /* the last batch slept (the storage blocks) */
  gint              deferred;     /* atomic: work waits for a busy worker (fast storage) */
  gboolean          wake_pending; /* a worker was signalled and has not taken its batch yet */
  gboolean          quit;
  guint             id;           /* of this queue, for the threads' CompletionCache */
  MaildirBatchFunc  batch_func;
  MaildirDoneFunc   done_func;
  gpointer          user_data;
};

/* Each thread's last completion source: found without the mutex. The id
 * tells a queue freed and another made at the same address apart. */
typedef struct
{
  guint         queue_id;
  GMainContext *context;
  Completion   *completion;
} CompletionCache;

static __thread CompletionCache completion_cache;
static guint last_queue_id;   /* atomic */

/* Under the mutex: whether what is pending may wait for a busy worker */
static gboolean
may_wait (MaildirQueue *queue)
{
  return queue->n_busy > 0 && !queue->slow &&
         g_get_monotonic_time () - queue->last_start < STALL_USEC;
}

/* Under the mutex: has a worker take what is pending */
static void
wake_worker (MaildirQueue *queue)
{
  g_atomic_int_set (&queue->deferred, FALSE);
  if (queue->wake_pending || queue->pending == NULL)
    return;   /* the worker signalled takes it too */
  if (may_wait (queue))
    {
      /* the busy worker takes it when done; the context looks again
       * (completion_prepare()) in case it blocks after all */
      g_atomic_int_set (&queue->deferred, TRUE);
      return;
    }
  if (queue->n_idle > 0)
    {
      queue->wake_pending = TRUE;
      g_cond_signal (&queue->cond);
    }
  else if (queue->threads->len < queue->max_workers)
    {
      /* it takes what is pending when it starts: no other one for that */
      queue->wake_pending = TRUE;
      g_ptr_array_add (queue->threads, g_thread_new ("vsmtpd-maildir", worker, queue));
    }
  /* else every worker is busy: the first one done takes it */
}

/* In the context's thread: what was pushed since the last time goes to
 * the workers */
static void
hand_over (Completion *completion)
{
  MaildirQueue *queue = completion->queue;
  guint n = 0;

  if (completion->outgoing == NULL && !g_atomic_int_get (&queue->deferred))
    return;
  for (Node *node = completion->outgoing; node != NULL; node = node->next)
    n++;
  g_mutex_lock (&queue->mutex);
  if (completion->outgoing != NULL)
    {
      *queue->pending_tail = completion->outgoing;
      queue->pending_tail = completion->outgoing_tail;
      queue->n_pending += n;
    }
  wake_worker (queue);
  g_mutex_unlock (&queue->mutex);
  completion->outgoing = NULL;
  completion->outgoing_tail = &completion->outgoing;
}

static gboolean
completion_prepare (GSource *source,
                    gint    *timeout)
{
  Completion *completion = (Completion *) source;

  hand_over (completion);
  /* work waits for a busy worker: look again in case that one blocks */
  *timeout = g_atomic_int_get (&completion->queue->deferred) ? (STALL_USEC + 999) / 1000 : -1;
  g_atomic_int_set (&completion->polling, TRUE);
  if (g_atomic_pointer_get (&completion->done) == NULL)
    return FALSE;
  g_atomic_int_set (&completion->polling, FALSE);
  return TRUE;
}

static gboolean
completion_check (GSource *source)
{
  Completion *completion = (Completion *) source;

  g_atomic_int_set (&completion->polling, FALSE);
  return g_atomic_pointer_get (&completion->done) != NULL;
}

static gboolean
completion_dispatch (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  Completion *completion = (Completion *) source;
  MaildirDoneFunc done_func = completion->queue->done_func;
  gpointer done_data = completion->queue->user_data;
  Node *node = g_atomic_pointer_exchange (&completion->done, NULL);
  Node *ordered = NULL;

  /* newest first: reversed, the order they were finished in */
  while (node != NULL)
    {
      Node *next = node->next;

      node->next = ordered;
      ordered = node;
      node = next;
    }

  /* the last item may release the owner of the queue, which frees it:
   * nothing of the queue is touched after it */
  while (ordered != NULL)
    {
      gpointer item = ordered->item;

      node = ordered;
      ordered = ordered->next;
      g_free (node);
      done_func (item, done_data);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs completion_funcs = { completion_prepare, completion_check,
                                         completion_dispatch, NULL, NULL, NULL };

/* In a worker: @nodes, done, back to their contexts */
static void
give_back (Node *nodes)
{
  Completion *woken = NULL;

  while (nodes != NULL)
    {
      Node *node = nodes;
      Completion *completion = node->completion;
      Node *head;

      nodes = node->next;
      do
        {
          head = g_atomic_pointer_get (&completion->done);
          node->next = head;
        }
      while (!g_atomic_pointer_compare_and_exchange (&completion->done, head, node));

      /* after the item is published (a wake-up too many is harmless) */
      if (completion != woken &&
          (nodes == NULL || nodes->completion != completion) &&
          g_atomic_int_get (&completion->polling))
        {
          g_main_context_wakeup (completion->context);
          woken = completion;
        }
    }
}

/* How often the calling thread slept so far (blocked: I/O, a lock) */
static long
voluntary_switches (void)
{
  struct rusage usage;

  if (getrusage (RUSAGE_THREAD, &usage) != 0)
    return 0;
  return usage.ru_nvcsw;
}

static gpointer
worker (gpointer data)
{
  MaildirQueue *queue = data;
  g_autoptr(GPtrArray) items = g_ptr_array_new ();
  long slept;
  guint share;

  g_mutex_lock (&queue->mutex);
  for (;;)
    {
      Node *taken, **tail;

      while (!queue->quit && queue->pending == NULL)
        {
          queue->n_idle++;
          g_cond_wait (&queue->cond, &queue->mutex);
          queue->n_idle--;
        }
      queue->wake_pending = FALSE;
      if (queue->pending == NULL)
        break;   /* quit */

      /* on storage that blocks, a share of what waits: the rest for the
       * idle workers, woken below (the file system merges their syncs);
       * else everything (one worker is enough) */
      share = queue->slow ? (queue->n_pending + queue->n_idle) / (queue->n_idle + 1)
                          : queue->n_pending;
      share = CLAMP (share, 1, queue->max_batch);
      g_ptr_array_set_size (items, 0);
      taken = queue->pending;
      tail = &taken;
      while (items->len < share && *tail != NULL)
        {
          g_ptr_array_add (items, (*tail)->item);
          tail = &(*tail)->next;
        }
      queue->pending = *tail;
      if (queue->pending == NULL)
        {
          queue->pending_tail = &queue->pending;
          g_atomic_int_set (&queue->deferred, FALSE);
        }
      *tail = NULL;
      queue->n_pending -= items->len;
      queue->n_busy++;
      queue->last_start = g_get_monotonic_time ();
      /* more waits: another worker takes the rest */
      if (queue->n_idle > 0)
        wake_worker (queue);
      g_mutex_unlock (&queue->mutex);

      slept = voluntary_switches ();
      queue->batch_func (items, queue->user_data);
      slept = voluntary_switches () != slept;
      give_back (taken);

      g_mutex_lock (&queue->mutex);
      queue->n_busy--;
      queue->slow = slept;
    }
  g_mutex_unlock (&queue->mutex);
  return NULL;
}

/**
 * maildir_queue_new:
 * @max_workers: the most threads it starts (they are started when needed
 *   and kept until maildir_queue_free())
 * @max_batch: the most items one call of @batch_func gets
 * @batch_func: does the work of a batch, in a worker thread
 * @done_func: called for each item in the context it was pushed from
 * @user_data: for @batch_func and @done_func
 */
MaildirQueue *
maildir_queue_new (guint             max_workers,
                   guint             max_batch,
                   MaildirBatchFunc  batch_func,
                   MaildirDoneFunc   done_func,
                   gpointer          user_data)
{
  MaildirQueue *queue = g_new0 (MaildirQueue, 1);

  g_mutex_init (&queue->mutex);
  g_cond_init (&queue->cond);
  queue->pending_tail = &queue->pending;
  queue->threads = g_ptr_array_new ();
  queue->completions = g_ptr_array_new ();
  queue->max_workers = MAX (max_workers, 1);
  queue->max_batch = MAX (max_batch, 1);
  queue->id = (guint) g_atomic_int_add ((gint *) &last_queue_id, 1) + 1;
  queue->batch_func = batch_func;
  queue->done_func = done_func;
  queue->user_data = user_data;
  return queue;
}

/* In the context's thread */
static Completion *
completion_for_context (MaildirQueue *queue,
                        GMainContext *context)
{
  CompletionCache *cache = &completion_cache;
  Completion *completion = NULL;
  GSource *source;

  /* (a source of a context that was freed is destroyed: another context
   * may have its address now) */
  if (cache->queue_id == queue->id && cache->context == context &&
      !g_source_is_destroyed ((GSource *) cache->completion))
    return cache->completion;

  g_mutex_lock (&queue->mutex);
  for (guint i = 0; i < queue->completions->len && completion == NULL; i++)
    if (((Completion *) queue->completions->pdata[i])->context == context &&
        !g_source_is_destroyed (queue->completions->pdata[i]))
      completion = queue->completions->pdata[i];
  g_mutex_unlock (&queue->mutex);
  if (completion != NULL)
    goto found;

  source = g_source_new (&completion_funcs, sizeof (Completion));
  completion = (Completion *) source;
  completion->queue = queue;
  completion->context = g_main_context_ref (context);
  completion->outgoing_tail = &completion->outgoing;
  g_source_set_static_name (source, "[vsmtpd-maildir] deliveries done");
  /* before the sessions' input: the replies */
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_attach (source, context);
  g_mutex_lock (&queue->mutex);
  g_ptr_array_add (queue->completions, source);
  g_mutex_unlock (&queue->mutex);

found:
  cache->queue_id = queue->id;
  cache->context = context;
  cache->completion = completion;
  return completion;
}

/**
 * maildir_queue_push:
 * @queue: a queue
 * @item: the work, handed to the batch function then the done function
 *
 * Queues @item; its done function will run in the thread-default main
 * context of the caller, which must be iterated (the items go to the
 * workers from there, at the start of its next iteration).
 */
void
maildir_queue_push (MaildirQueue *queue,
                    gpointer      item)
{
  GMainContext *context = g_main_context_get_thread_default ();
  Completion *completion;
  Node *node = g_new (Node, 1);

  if (context == NULL)
    context = g_main_context_default ();
  completion = completion_for_context (queue, context);
  node->next = NULL;
  node->item = item;
  node->completion = completion;
  *completion->outgoing_tail = node;
  completion->outgoing_tail = &node->next;
}

/**
 * maildir_queue_free:
 * @queue: a queue whose items are all done
 *
 * Stops the workers (waiting for them) and frees @queue.
 */
void
maildir_queue_free (MaildirQueue *queue)
{
  g_mutex_lock (&queue->mutex);
  queue->quit = TRUE;
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->mutex);

  for (guint i = 0; i < queue->threads->len; i++)
    g_thread_join (queue->threads->pdata[i]);
  g_ptr_array_unref (queue->threads);

  for (guint i = 0; i < queue->completions->len; i++)
    {
      Completion *completion = queue->completions->pdata[i];
      GMainContext *context = completion->context;

      g_warn_if_fail (completion->outgoing == NULL);
      g_warn_if_fail (g_atomic_pointer_get (&completion->done) == NULL);
      g_source_destroy (queue->completions->pdata[i]);
      g_source_unref (queue->completions->pdata[i]);
      g_main_context_unref (context);
    }
  g_ptr_array_unref (queue->completions);
  g_warn_if_fail (queue->pending == NULL);

  g_cond_clear (&queue->cond);
  g_mutex_clear (&queue->mutex);
  g_free (queue);
}

/* vsmtpd-maildir-queue.c: a pool of worker threads that take work in batches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtpd-maildir-queue.h"

/* Why not g_task_run_in_thread() per message: on tmpfs a delivery is a few
 * microseconds of system calls, and the hand-over cost more than the work:
 * a futex wake of a pool thread and, for the result, a wake-up of the main
 * context, per message (a third of vsmtpd's CPU time went to switching
 * threads). Here a worker takes every item queued when it wakes, so that
 * under load one wake-up carries many messages, and the results go back to
 * each main context in one batch too: a source that is made ready only
 * when its list of finished items was empty. A worker is not woken by
 * each push either, but by that same source, in the main loop's next
 * iteration: every message that came in one iteration of the main loop
 * (from all the sessions that were ready) goes to the workers with one
 * wake-up. The batch also lets the caller share work between the items
 * (one fsync() of a directory for every file linked into it). */

typedef struct
{
  GSource       source;
  GQueue        done;       /* of items; under the queue's mutex */
} Completion;

static gpointer worker (gpointer data);

typedef struct
{
  gpointer      item;
  Completion   *completion;
} Pending;

struct _MaildirQueue
{
  GMutex            mutex;
  GCond             cond;
  GQueue            pending;      /* of Pending */
  GPtrArray        *threads;
  GPtrArray        *completions;  /* of Completion (one per main context), owned */
  guint             max_workers;
  guint             max_batch;
  guint             n_idle;
  gboolean          wake_pending; /* a worker was signalled and has not taken its batch yet */
  gboolean          quit;
  MaildirBatchFunc  batch_func;
  MaildirDoneFunc   done_func;
  gpointer          user_data;
};

/* Under the mutex: has a worker take what is pending */
static void
wake_worker (MaildirQueue *queue)
{
  if (queue->wake_pending || g_queue_is_empty (&queue->pending))
    return;   /* the worker signalled takes it too */
  if (queue->n_idle > 0)
    {
      queue->wake_pending = TRUE;
      g_cond_signal (&queue->cond);
    }
  else if (queue->threads->len < queue->max_workers)
    g_ptr_array_add (queue->threads, g_thread_new ("vsmtpd-maildir", worker, queue));
  /* else every worker is busy: the first one done takes it */
}

static gboolean
completion_dispatch (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  MaildirQueue *queue = user_data;
  Completion *completion = (Completion *) source;
  MaildirDoneFunc done_func = queue->done_func;
  gpointer done_data = queue->user_data;
  GQueue done = G_QUEUE_INIT;
  gpointer item;

  g_mutex_lock (&queue->mutex);
  done = completion->done;
  g_queue_init (&completion->done);
  g_source_set_ready_time (source, -1);
  wake_worker (queue);
  g_mutex_unlock (&queue->mutex);

  /* the last item may release the owner of the queue, which frees it:
   * nothing of the queue is touched after it */
  while ((item = g_queue_pop_head (&done)) != NULL)
    done_func (item, done_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs completion_funcs = { NULL, NULL, completion_dispatch, NULL, NULL, NULL };

static gpointer
worker (gpointer data)
{
  MaildirQueue *queue = data;
  g_autoptr(GPtrArray) items = g_ptr_array_new ();
  g_autoptr(GPtrArray) completions = g_ptr_array_new ();
  guint share;

  g_mutex_lock (&queue->mutex);
  for (;;)
    {
      while (!queue->quit && g_queue_is_empty (&queue->pending))
        {
          queue->n_idle++;
          g_cond_wait (&queue->cond, &queue->mutex);
          queue->n_idle--;
        }
      queue->wake_pending = FALSE;
      if (g_queue_is_empty (&queue->pending))
        break;   /* quit */

      /* a share of what waits: the rest for the idle workers, woken
       * below (on a real disk, where the workers wait in fsync(), the
       * file system merges their syncs; on tmpfs the workers are seldom
       * all busy, few are started, and one takes most) */
      share = (g_queue_get_length (&queue->pending) + queue->n_idle) / (queue->n_idle + 1);
      share = CLAMP (share, 1, queue->max_batch);
      g_ptr_array_set_size (items, 0);
      g_ptr_array_set_size (completions, 0);
      while (items->len < share && !g_queue_is_empty (&queue->pending))
        {
          Pending *pending = g_queue_pop_head (&queue->pending);

          g_ptr_array_add (items, pending->item);
          g_ptr_array_add (completions, pending->completion);
          g_free (pending);
        }
      /* more waits: another worker takes the rest */
      if (queue->n_idle > 0)
        wake_worker (queue);
      g_mutex_unlock (&queue->mutex);

      queue->batch_func (items, queue->user_data);

      g_mutex_lock (&queue->mutex);
      for (guint i = 0; i < items->len; i++)
        {
          Completion *completion = completions->pdata[i];

          if (g_queue_is_empty (&completion->done))
            g_source_set_ready_time ((GSource *) completion, 0);
          g_queue_push_tail (&completion->done, items->pdata[i]);
        }
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
  g_queue_init (&queue->pending);
  queue->threads = g_ptr_array_new ();
  queue->completions = g_ptr_array_new ();
  queue->max_workers = MAX (max_workers, 1);
  queue->max_batch = MAX (max_batch, 1);
  queue->batch_func = batch_func;
  queue->done_func = done_func;
  queue->user_data = user_data;
  return queue;
}

/* Under the mutex */
static Completion *
completion_for_context (MaildirQueue *queue,
                        GMainContext *context)
{
  GSource *source;

  for (guint i = 0; i < queue->completions->len; i++)
    {
      source = queue->completions->pdata[i];
      if (g_source_get_context (source) == context)
        return (Completion *) source;
    }

  source = g_source_new (&completion_funcs, sizeof (Completion));
  g_queue_init (&((Completion *) source)->done);
  g_source_set_static_name (source, "[vsmtpd-maildir] deliveries done");
  /* before the sessions' input: the replies, and the wake-up of a worker */
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, NULL, queue, NULL);
  g_source_attach (source, context);
  g_ptr_array_add (queue->completions, source);
  return (Completion *) source;
}

/**
 * maildir_queue_push:
 * @queue: a queue
 * @item: the work, handed to the batch function then the done function
 *
 * Queues @item; its done function will run in the thread-default main
 * context of the caller.
 */
void
maildir_queue_push (MaildirQueue *queue,
                    gpointer      item)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  Pending *pending = g_new (Pending, 1);

  g_mutex_lock (&queue->mutex);
  pending->item = item;
  pending->completion = completion_for_context (queue, context);
  g_queue_push_tail (&queue->pending, pending);
  /* the worker is woken in the next iteration of the main loop, with
   * whatever else this one brings */
  if (!queue->wake_pending)
    g_source_set_ready_time ((GSource *) pending->completion, 0);
  g_mutex_unlock (&queue->mutex);
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
      g_warn_if_fail (g_queue_is_empty (&((Completion *) queue->completions->pdata[i])->done));
      g_source_destroy (queue->completions->pdata[i]);
      g_source_unref (queue->completions->pdata[i]);
    }
  g_ptr_array_unref (queue->completions);
  g_warn_if_fail (g_queue_is_empty (&queue->pending));

  g_cond_clear (&queue->cond);
  g_mutex_clear (&queue->mutex);
  g_free (queue);
}

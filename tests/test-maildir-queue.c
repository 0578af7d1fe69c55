/* test-maildir-queue.c: the maildir plugin's worker queue
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>

#include "vsmtpd-maildir-queue.h"

typedef struct
{
  GMutex     mutex;
  GPtrArray *batches;   /* of GPtrArray copies, as the workers saw them */
  GPtrArray *done;      /* the items, in the order done_func saw them */
  GThread   *done_thread;
  guint      wait_in_batch;   /* items per batch that block until released */
  gboolean   release;
  GCond      cond;
} Fixture;

static void
batch_func (GPtrArray *items,
            gpointer   user_data)
{
  Fixture *f = user_data;
  GPtrArray *copy = g_ptr_array_new ();

  for (guint i = 0; i < items->len; i++)
    g_ptr_array_add (copy, items->pdata[i]);
  g_mutex_lock (&f->mutex);
  g_ptr_array_add (f->batches, copy);
  while (f->wait_in_batch > 0 && !f->release)
    g_cond_wait (&f->cond, &f->mutex);
  g_mutex_unlock (&f->mutex);
}

static void
done_func (gpointer item,
           gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_true (g_thread_self () == f->done_thread);
  g_ptr_array_add (f->done, item);
}

static void
fixture_init (Fixture *f)
{
  g_mutex_init (&f->mutex);
  g_cond_init (&f->cond);
  f->batches = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  f->done = g_ptr_array_new ();
  f->done_thread = g_thread_self ();
}

static void
fixture_clear (Fixture *f)
{
  g_ptr_array_unref (f->batches);
  g_ptr_array_unref (f->done);
  g_cond_clear (&f->cond);
  g_mutex_clear (&f->mutex);
}

static void
iterate_until_done (Fixture *f,
                    guint    n)
{
  while (f->done->len < n)
    g_main_context_iteration (NULL, TRUE);
}

/* What is pushed before the main loop runs again goes to one worker in one
 * batch, and comes back in order, in the pushing thread. */
static void
test_one_batch_per_iteration (void)
{
  Fixture f = { 0 };
  MaildirQueue *queue;

  fixture_init (&f);
  queue = maildir_queue_new (2, 32, batch_func, done_func, &f);
  for (guintptr i = 1; i <= 10; i++)
    maildir_queue_push (queue, GUINT_TO_POINTER (i));
  iterate_until_done (&f, 10);

  g_assert_cmpuint (f.batches->len, ==, 1);
  g_assert_cmpuint (((GPtrArray *) f.batches->pdata[0])->len, ==, 10);
  for (guint i = 0; i < 10; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (f.done->pdata[i]), ==, i + 1);

  maildir_queue_free (queue);
  fixture_clear (&f);
}

/* A batch holds at most max_batch items; the rest is another batch. */
static void
test_max_batch (void)
{
  Fixture f = { 0 };
  MaildirQueue *queue;
  guint total = 0;

  fixture_init (&f);
  queue = maildir_queue_new (1, 4, batch_func, done_func, &f);
  for (guintptr i = 1; i <= 10; i++)
    maildir_queue_push (queue, GUINT_TO_POINTER (i));
  iterate_until_done (&f, 10);

  g_assert_cmpuint (f.batches->len, ==, 3);
  for (guint i = 0; i < f.batches->len; i++)
    {
      g_assert_cmpuint (((GPtrArray *) f.batches->pdata[i])->len, <=, 4);
      total += ((GPtrArray *) f.batches->pdata[i])->len;
    }
  g_assert_cmpuint (total, ==, 10);
  for (guint i = 0; i < 10; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (f.done->pdata[i]), ==, i + 1);

  maildir_queue_free (queue);
  fixture_clear (&f);
}

/* While the only worker is busy, what is pushed waits, and is taken as one
 * batch when it is free again; nothing is done before its batch is. */
static void
test_busy_worker (void)
{
  Fixture f = { 0 };
  MaildirQueue *queue;

  fixture_init (&f);
  f.wait_in_batch = 1;
  queue = maildir_queue_new (1, 32, batch_func, done_func, &f);
  maildir_queue_push (queue, GUINT_TO_POINTER (1));
  /* the worker takes item 1 and blocks in it */
  for (;;)
    {
      gboolean started;

      g_main_context_iteration (NULL, FALSE);
      g_mutex_lock (&f.mutex);
      started = f.batches->len == 1;
      g_mutex_unlock (&f.mutex);
      if (started)
        break;
      g_usleep (1000);
    }
  for (guintptr i = 2; i <= 5; i++)
    maildir_queue_push (queue, GUINT_TO_POINTER (i));
  for (guint i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (f.done->len, ==, 0);

  g_mutex_lock (&f.mutex);
  f.release = TRUE;
  g_cond_broadcast (&f.cond);
  g_mutex_unlock (&f.mutex);
  iterate_until_done (&f, 5);

  g_assert_cmpuint (f.batches->len, ==, 2);
  g_assert_cmpuint (((GPtrArray *) f.batches->pdata[1])->len, ==, 4);
  maildir_queue_free (queue);
  fixture_clear (&f);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/maildir-queue/one-batch-per-iteration", test_one_batch_per_iteration);
  g_test_add_func ("/maildir-queue/max-batch", test_max_batch);
  g_test_add_func ("/maildir-queue/busy-worker", test_busy_worker);
  return g_test_run ();
}

/* test-maildir-queue.c: the maildir plugin's worker queue and its shared
 * fsync() of new/
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>

#include <glib/gstdio.h>
#include <gio/gio.h>

#include "vsmtpd-maildir-queue.h"
#include "vsmtpd-maildir-sync.h"

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

/* Every ticket noted before a wait is covered by the fsync() it starts;
 * a ticket given up is forgotten; the folder is dropped once unused (the
 * free function warns otherwise, which is fatal here). */
static void
test_sync_shared (void)
{
  g_autofree char *dir = g_dir_make_tmp ("maildir-sync-XXXXXX", NULL);
  MaildirSync *sync = maildir_sync_new ();
  guint64 first, second, third;

  g_assert_nonnull (dir);
  first = maildir_sync_note (sync, dir);
  second = maildir_sync_note (sync, dir);
  third = maildir_sync_note (sync, dir);
  g_assert_cmpuint (first, <, second);
  g_assert_cmpuint (second, <, third);
  g_assert_true (maildir_sync_wait (sync, dir, second, NULL));
  g_assert_true (maildir_sync_wait (sync, dir, first, NULL));
  maildir_sync_forget (sync, dir);

  /* a new ticket after those needs an fsync() of its own: it works */
  first = maildir_sync_note (sync, dir);
  g_assert_true (maildir_sync_wait (sync, dir, first, NULL));

  maildir_sync_free (sync);
  g_rmdir (dir);
}

/* A folder that cannot be synced fails the link: never a success */
static void
test_sync_failure (void)
{
  g_autofree char *base = g_dir_make_tmp ("maildir-sync-XXXXXX", NULL);
  g_autofree char *missing = g_build_filename (base, "gone", "new", NULL);
  MaildirSync *sync = maildir_sync_new ();
  g_autoptr(GError) error = NULL;
  guint64 a, b;

  a = maildir_sync_note (sync, missing);
  b = maildir_sync_note (sync, missing);
  g_assert_false (maildir_sync_wait (sync, missing, b, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* the earlier one was noted before the failed fsync() started: it fails too */
  g_assert_false (maildir_sync_wait (sync, missing, a, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  maildir_sync_free (sync);
  g_rmdir (base);
}

typedef struct
{
  MaildirSync *sync;
  const char  *dir;
  gboolean     ok;
} SyncThread;

static gpointer
sync_thread (gpointer data)
{
  SyncThread *t = data;

  t->ok = TRUE;
  for (guint i = 0; i < 200; i++)
    t->ok &= maildir_sync_wait (t->sync, t->dir, maildir_sync_note (t->sync, t->dir), NULL);
  return NULL;
}

/* Several threads noting and waiting on one folder all get through */
static void
test_sync_threads (void)
{
  g_autofree char *dir = g_dir_make_tmp ("maildir-sync-XXXXXX", NULL);
  MaildirSync *sync = maildir_sync_new ();
  SyncThread threads[4];
  GThread *handles[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      threads[i] = (SyncThread) { sync, dir, FALSE };
      handles[i] = g_thread_new ("sync", sync_thread, &threads[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (handles[i]);
      g_assert_true (threads[i].ok);
    }
  maildir_sync_free (sync);
  g_rmdir (dir);
}

/* Two main contexts in two threads push into one queue at once: each
 * item comes back in the thread (context) that pushed it, in order, and
 * a queue made after another was freed (perhaps at the same address)
 * gives its items back through its own sources. */
typedef struct
{
  MaildirQueue *queue;
  guint         base;
  GThread      *thread;
  GPtrArray    *done;
  gboolean      wrong_thread;
} ContextPusher;

static GMutex pushers_mutex;
static ContextPusher *pushers[2];

static void
noop_batch (GPtrArray *items,
            gpointer   user_data)
{
}

static void
pusher_done (gpointer item,
             gpointer user_data)
{
  guint n = GPOINTER_TO_UINT (item);
  ContextPusher *pusher;

  g_mutex_lock (&pushers_mutex);
  pusher = pushers[n >= 1000];
  g_mutex_unlock (&pushers_mutex);
  if (pusher->thread != g_thread_self ())
    pusher->wrong_thread = TRUE;
  g_ptr_array_add (pusher->done, item);
}

static gpointer
push_from_context (gpointer data)
{
  ContextPusher *pusher = data;
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  for (guint round = 0; round < 20; round++)
    {
      for (guint i = 0; i < 10; i++)
        maildir_queue_push (pusher->queue, GUINT_TO_POINTER (pusher->base + round * 10 + i + 1));
      while (pusher->done->len < (round + 1) * 10)
        g_main_context_iteration (context, TRUE);
    }
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

static void
test_two_contexts (void)
{
  for (guint q = 0; q < 2; q++)
    {
      ContextPusher a = { NULL, 0, NULL, g_ptr_array_new (), FALSE };
      ContextPusher b = { NULL, 1000, NULL, g_ptr_array_new (), FALSE };
      MaildirQueue *queue = maildir_queue_new (2, 4, noop_batch, pusher_done, NULL);

      a.queue = b.queue = queue;
      a.thread = g_thread_self ();
      g_mutex_lock (&pushers_mutex);
      pushers[0] = &a;
      pushers[1] = &b;
      g_mutex_unlock (&pushers_mutex);
      b.thread = g_thread_new ("pusher", push_from_context, &b);
      for (guint round = 0; round < 20; round++)
        {
          for (guint i = 0; i < 10; i++)
            maildir_queue_push (queue, GUINT_TO_POINTER (round * 10 + i + 1));
          while (a.done->len < (round + 1) * 10)
            g_main_context_iteration (NULL, TRUE);
        }
      g_thread_join (b.thread);
      maildir_queue_free (queue);

      g_assert_false (a.wrong_thread);
      g_assert_false (b.wrong_thread);
      g_assert_cmpuint (a.done->len, ==, 200);
      g_assert_cmpuint (b.done->len, ==, 200);
      for (guint i = 0; i < 200; i++)
        {
          g_assert_cmpuint (GPOINTER_TO_UINT (a.done->pdata[i]), ==, i + 1);
          g_assert_cmpuint (GPOINTER_TO_UINT (b.done->pdata[i]), ==, 1000 + i + 1);
        }
      g_ptr_array_unref (a.done);
      g_ptr_array_unref (b.done);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/maildir-queue/one-batch-per-iteration", test_one_batch_per_iteration);
  g_test_add_func ("/maildir-queue/max-batch", test_max_batch);
  g_test_add_func ("/maildir-queue/busy-worker", test_busy_worker);
  g_test_add_func ("/maildir-queue/two-contexts", test_two_contexts);
  g_test_add_func ("/maildir-sync/shared", test_sync_shared);
  g_test_add_func ("/maildir-sync/failure", test_sync_failure);
  g_test_add_func ("/maildir-sync/threads", test_sync_threads);
  return g_test_run ();
}

/* vsmtpd-maildir-queue.h: a pool of worker threads that take work in batches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs in a worker thread with every item queued when it woke (at most
 * max_batch of them, in the order they were pushed). */
typedef void (*MaildirBatchFunc) (GPtrArray *items,
                                  gpointer   user_data);
/* Runs in the GMainContext that was the thread default when the item was
 * pushed, once its batch is done. */
typedef void (*MaildirDoneFunc)  (gpointer   item,
                                  gpointer   user_data);

typedef struct _MaildirQueue MaildirQueue;

MaildirQueue *maildir_queue_new  (guint             max_workers,
                                  guint             max_batch,
                                  MaildirBatchFunc  batch_func,
                                  MaildirDoneFunc   done_func,
                                  gpointer          user_data);
void          maildir_queue_push (MaildirQueue     *queue,
                                  gpointer          item);
void          maildir_queue_free (MaildirQueue     *queue);

G_END_DECLS

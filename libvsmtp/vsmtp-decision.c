/* vsmtp-decision.c: the emission of a session's decision signals and what
 * comes of it (see vsmtp-decision-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <gobject/gvaluecollector.h>

#include "vsmtp-decision-private.h"
#include "vsmtp-session-private.h"
#include "vsmtp-reply-private.h"
#include "vsmtp-source-private.h"
#include "vsmtp-server-metrics-private.h"

struct _VsmtpDecision
{
  VsmtpSession                 *session;    /* the owner: not referenced */
  const VsmtpDecisionCallbacks *callbacks;
  const char                   *log_id;     /* the session's */
  guint                         timeout;    /* of a pending reply, in ms */

  /* a deferred decision */
  VsmtpReply                   *pending;
  VsmtpContinuation             pending_then;
  gint64                        deadline;        /* of the pending decision, monotonic */
  GList                         deadline_link;   /* in deadlines->pending while armed */
  struct _DeadlineQueue        *deadlines;       /* where it is armed, or NULL */

  /* the decision signal being emitted, kept while a handler defers: a
   * deferred "continue" resumes the emission after the handlers that ran */
  guint                         emit_signal;     /* the signal id */
  GValue                       *emit_values;     /* the instance and the arguments */
  guint                         emit_n_values;
  guint                         emit_done;       /* handlers that have decided */
  gint64                        emit_started;    /* monotonic, for the metrics */
  gint                          decider;         /* the handler that decided; -1: the class's */
  guint                         serial;          /* of emissions: a continuation that emits again */
  GHashTable                   *owners;          /* signal id -> GPtrArray of the plugin of each
                                                  * handler, found at its first decision */
  GHashTable                   *handler_objects; /* handler id -> the object it acts for */
};

VsmtpDecision *
_vsmtp_decision_new (VsmtpSession                 *session,
                     const VsmtpDecisionCallbacks *callbacks)
{
  VsmtpDecision *self = g_new0 (VsmtpDecision, 1);

  self->session = session;
  self->callbacks = callbacks;
  return self;
}

void
_vsmtp_decision_configure (VsmtpDecision *self,
                           const char    *log_id,
                           guint          timeout)
{
  self->log_id = log_id;
  self->timeout = timeout;
}

gboolean
_vsmtp_decision_is_pending (VsmtpDecision *self)
{
  return self->pending != NULL;
}

const char *
_vsmtp_decision_get_signal_name (VsmtpDecision *self)
{
  return self->emit_values != NULL ? g_signal_name (self->emit_signal) : "?";
}

/* What a command saved for its continuation. */
static void
decision_clear_emission (VsmtpDecision *self)
{
  for (guint i = 0; i < self->emit_n_values; i++)
    g_value_unset (&self->emit_values[i]);
  g_clear_pointer (&self->emit_values, g_free);
  self->emit_n_values = 0;
  self->emit_done = 0;
}

/* The decision is over: what was saved for it goes. */
static void
decision_finish (VsmtpDecision *self)
{
  decision_clear_emission (self);
  self->callbacks->finished (self->session);
}

static void decision_disarm_deadline (VsmtpDecision *self);
static void on_pending_completed (VsmtpReply *reply,
                                  gpointer    user_data);

void
_vsmtp_decision_cancel (VsmtpDecision *self)
{
  if (self->pending == NULL)
    return;
  _vsmtp_reply_remove_completed_func (self->pending, on_pending_completed, self);
  /* (a reply other sessions wait for too stays theirs to get) */
  if (vsmtp_reply_is_pending (self->pending) && !_vsmtp_reply_is_watched (self->pending))
    _vsmtp_reply_expire (self->pending);
  g_clear_object (&self->pending);
  self->pending_then = NULL;
  decision_disarm_deadline (self);
  decision_finish (self);
}

void
_vsmtp_decision_free (VsmtpDecision *self)
{
  _vsmtp_decision_cancel (self);
  decision_disarm_deadline (self);
  decision_clear_emission (self);
  g_clear_pointer (&self->owners, g_hash_table_unref);
  g_clear_pointer (&self->handler_objects, g_hash_table_unref);
  g_free (self);
}

void
_vsmtp_decision_set_handler_object (VsmtpDecision *self,
                                    gulong         handler_id,
                                    GObject       *object)
{
  if (self->handler_objects == NULL)
    self->handler_objects = g_hash_table_new (NULL, NULL);
  g_hash_table_insert (self->handler_objects, GSIZE_TO_POINTER (handler_id), object);
}

static const char *decision_plugin_label (VsmtpDecision *self);

/* Runs @then with @reply, then forgets the decision. */
static void
decision_run (VsmtpDecision     *self,
              VsmtpContinuation  then,
              VsmtpReply        *reply)
{
  guint serial = self->serial;

  g_object_ref (reply);
  if (self->emit_values != NULL)
    _vsmtp_metrics_decision (vsmtp_session_get_server (self->session), g_signal_name (self->emit_signal),
                             decision_plugin_label (self),
                             reply, g_get_monotonic_time () - self->emit_started);
  then (self->session, reply);
  g_object_unref (reply);
  /* unless @then began the next decision (AUTH once the store answered) */
  if (self->serial == serial)
    decision_finish (self);
}

/* Handlers and their owners ----------------------------------------------- */

/* The ids of the first @n handlers of @signal_id that an emission runs, in
 * the order it runs them (GLib keeps them in connection order). */
static GArray *
decision_find_handlers (VsmtpDecision *self,
                        guint          signal_id,
                        guint          n)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gulong));

  while (ids->len < n)
    {
      gulong id = g_signal_handler_find (self->session, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_UNBLOCKED,
                                         signal_id, 0, NULL, NULL, NULL);
      if (id == 0)
        break;
      g_signal_handler_block (self->session, id);
      g_array_append_val (ids, id);
    }
  return ids;
}

static void
unblock_handlers (VsmtpDecision *self,
                  GArray        *ids)
{
  for (guint i = 0; i < ids->len; i++)
    {
      gulong id = g_array_index (ids, gulong, i);

      /* a handler that ran may disconnect one that was skipped */
      if (g_signal_handler_is_connected (self->session, id))
        g_signal_handler_unblock (self->session, id);
    }
  g_array_unref (ids);
}

/* Whether handler @id of the signal being emitted has @data as its data
 * (the object of g_signal_connect_object(), the user data of
 * g_signal_connect()) */
static gboolean
decision_handler_has_data (VsmtpDecision *self,
                           gulong         id,
                           gpointer       data)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gulong));
  gboolean found = FALSE;

  for (;;)
    {
      gulong match = g_signal_handler_find (self->session,
                                            G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_DATA |
                                            G_SIGNAL_MATCH_UNBLOCKED,
                                            self->emit_signal, 0, NULL, NULL, data);
      if (match == 0)
        break;
      if (match == id)
        {
          found = TRUE;
          break;
        }
      g_signal_handler_block (self->session, match);
      g_array_append_val (ids, match);
    }
  unblock_handlers (self, ids);
  return found;
}

/* The server's name for who is behind handler @id, or NULL */
static const char *
decision_owner_of (VsmtpDecision *self,
                   gulong         id)
{
  GHashTable *owners = _vsmtp_session_get_settings (self->session)->handler_owners;
  GHashTableIter iter;
  gpointer object, owner;

  if (owners == NULL || g_hash_table_size (owners) == 0)
    return NULL;
  if (self->handler_objects != NULL &&
      (object = g_hash_table_lookup (self->handler_objects, GSIZE_TO_POINTER (id))) != NULL)
    return g_hash_table_lookup (owners, object);
  g_hash_table_iter_init (&iter, owners);
  while (g_hash_table_iter_next (&iter, &object, &owner))
    if (decision_handler_has_data (self, id, object))
      return owner;
  return NULL;
}

/* Who is behind the @index-th handler (from 0) of the signal being emitted
 * (vsmtp_server_set_handler_owner()): " (NAME)", or "" when nobody said.
 * Only on the failure path: it walks the handlers. */
static char *
decision_describe_handler (VsmtpDecision *self,
                           guint          index)
{
  GHashTable *owners = _vsmtp_session_get_settings (self->session)->handler_owners;
  const char *owner;
  GArray *ids;
  gulong id = 0;

  if (owners == NULL || g_hash_table_size (owners) == 0 || self->emit_values == NULL)
    return g_strdup ("");
  ids = decision_find_handlers (self, self->emit_signal, index + 1);
  if (ids->len == index + 1)
    id = g_array_index (ids, gulong, index);
  unblock_handlers (self, ids);
  if (id == 0)
    return g_strdup ("");

  owner = decision_owner_of (self, id);
  return owner != NULL ? g_strdup_printf (" (%s)", owner) : g_strdup ("");
}

/* The plugin behind each handler of @signal_id, in the order an emission
 * runs them: a label for the metrics ("unknown" for a handler whose data
 * nobody named), "plugin NAME" owners by their NAME */
static GPtrArray *
decision_resolve_owners (VsmtpDecision *self,
                         guint          signal_id)
{
  GPtrArray *labels = g_ptr_array_new_with_free_func (g_free);
  GArray *ids = decision_find_handlers (self, signal_id, G_MAXUINT);

  unblock_handlers (self, g_array_ref (ids));
  for (guint i = 0; i < ids->len; i++)
    {
      const char *owner = decision_owner_of (self, g_array_index (ids, gulong, i));

      if (owner == NULL)
        owner = "unknown";
      else if (g_str_has_prefix (owner, "plugin "))
        owner += strlen ("plugin ");
      g_ptr_array_add (labels, g_strdup (owner));
    }
  g_array_unref (ids);
  return labels;
}

/* The plugin label of the decision being run: "default" when the class
 * handler decided. The handlers of a signal are looked at once per
 * session (again only if one was connected since). */
static const char *
decision_plugin_label (VsmtpDecision *self)
{
  GPtrArray *labels;

  if (self->decider < 0)
    return "default";
  if (self->owners == NULL)
    self->owners = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_ptr_array_unref);
  labels = g_hash_table_lookup (self->owners, GUINT_TO_POINTER (self->emit_signal));
  if (labels == NULL || (guint) self->decider >= labels->len)
    {
      guint emit_signal = self->emit_signal;

      labels = decision_resolve_owners (self, emit_signal);
      g_hash_table_replace (self->owners, GUINT_TO_POINTER (emit_signal), labels);
    }
  return (guint) self->decider < labels->len ? labels->pdata[self->decider] : "unknown";
}

/* The decision a failed handler gets: logged once, 451 for the client. */
static VsmtpReply *
decision_handler_failed (VsmtpDecision *self,
                         guint          index,
                         const char    *what)
{
  g_autofree char *owner = decision_describe_handler (self, index);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "VSMTP_SESSION_ID", self->log_id,
                    "MESSAGE", "%s: a \"%s\" handler%s %s: the client gets 451 4.3.0",
                    self->log_id, g_signal_name (self->emit_signal), owner, what);
  return vsmtp_reply_new (451, "4.3.0", "Error: temporary failure in processing, try again later");
}

/* The accumulator of every decision signal ------------------------------- */

/* What one emission found out; the accumulator has no per-emission data of
 * its own. A thread's sessions emit on that thread only. */
typedef struct {
  guint    n_handlers;   /* handlers that ran and decided or said continue */
  gboolean failed;       /* a handler returned NULL (or raised, in a binding) */
  gboolean by_class;     /* the class handler decided: every handler said continue */
} Emission;

static _Thread_local Emission *current_emission;

/* A handler's continue goes on to the next one; NULL (a C handler that
 * returned nothing, a GJS or Python handler that threw) is a failure and
 * ends the emission; anything else decides. The class handler, which runs
 * in the RUN_LAST stage once every handler said continue, decides. */
gboolean
_vsmtp_decision_accumulator (GSignalInvocationHint *ihint,
                             GValue                *return_accu,
                             const GValue          *handler_return,
                             gpointer               data)
{
  VsmtpReply *reply = g_value_get_object (handler_return);
  Emission *emission = current_emission;

  if (ihint->run_type & G_SIGNAL_RUN_LAST)
    {
      if (emission != NULL)
        emission->by_class = TRUE;
      g_value_set_object (return_accu, reply);
      return FALSE;
    }
  if (reply == NULL || !VSMTP_IS_REPLY (reply))
    {
      if (emission != NULL)
        emission->failed = TRUE;
      g_value_set_object (return_accu, NULL);
      return FALSE;
    }
  if (emission != NULL)
    emission->n_handlers++;
  if (vsmtp_reply_is_continue (reply))
    return TRUE;
  g_value_set_object (return_accu, reply);
  return FALSE;
}

/* Runs the handlers of the saved emission that have not run yet, then
 * decides with what they answered. */
static void
decision_emission_run (VsmtpDecision     *self,
                       VsmtpContinuation  then)
{
  Emission emission = { 0, };
  Emission *outer = current_emission;
  GValue result = G_VALUE_INIT;
  GArray *skipped = NULL;
  VsmtpReply *reply;
  guint signal_id = self->emit_signal;

  if (self->emit_done > 0)
    skipped = decision_find_handlers (self, signal_id, self->emit_done);

  g_value_init (&result, VSMTP_TYPE_REPLY);
  current_emission = &emission;
  g_signal_emitv (self->emit_values, signal_id, 0, &result);
  current_emission = outer;

  if (skipped != NULL)
    unblock_handlers (self, skipped);

  reply = g_value_dup_object (&result);
  g_value_unset (&result);

  /* who decided: the handler after those that said continue, or the class */
  if (emission.by_class && !emission.failed)
    self->decider = -1;
  else if (emission.failed || reply == NULL || emission.n_handlers == 0)
    self->decider = self->emit_done + emission.n_handlers;
  else
    self->decider = self->emit_done + emission.n_handlers - 1;

  if (emission.failed)
    {
      g_clear_object (&reply);
      reply = decision_handler_failed (self, self->emit_done + emission.n_handlers,
                                       "returned no reply (NULL, or it raised an error)");
    }
  else if (reply == NULL)
    reply = decision_handler_failed (self, self->emit_done + emission.n_handlers,
                                     "returned no reply");
  self->emit_done += emission.n_handlers;
  _vsmtp_decision_decide (self, reply, then);
}

void
_vsmtp_decision_emit (VsmtpDecision     *self,
                      guint              signal_id,
                      VsmtpContinuation  then,
                      ...)
{
  GSignalQuery query;
  va_list args;

  g_signal_query (signal_id, &query);
  decision_clear_emission (self);
  self->serial++;
  self->emit_signal = signal_id;
  self->emit_started = g_get_monotonic_time ();
  self->emit_n_values = query.n_params + 1;
  self->emit_values = g_new0 (GValue, self->emit_n_values);
  g_value_init_from_instance (&self->emit_values[0], self->session);

  va_start (args, then);
  for (guint i = 0; i < query.n_params; i++)
    {
      g_autofree char *error = NULL;
      GType type = query.param_types[i] & ~G_SIGNAL_TYPE_STATIC_SCOPE;

      G_VALUE_COLLECT_INIT (&self->emit_values[i + 1], type, args, 0, &error);
      g_assert (error == NULL);
    }
  va_end (args);

  decision_emission_run (self, then);
}

/* Deferred decisions ------------------------------------------------------ */

static void
on_pending_completed (VsmtpReply *reply,
                      gpointer    user_data)
{
  VsmtpDecision *self = user_data;
  VsmtpContinuation then = self->pending_then;
  g_autoptr(VsmtpReply) keep = g_object_ref (reply);
  guint mark = self->callbacks->before_deferred (self->session);

  decision_disarm_deadline (self);
  g_clear_object (&self->pending);
  self->pending_then = NULL;

  if (vsmtp_reply_is_continue (keep) && self->emit_values != NULL)
    {
      /* the deferred handler has no opinion: the next ones decide */
      decision_emission_run (self, then);
    }
  else
    {
      g_autoptr(VsmtpReply) decision = NULL;

      if (vsmtp_reply_is_continue (keep))
        decision = decision_handler_failed (self, 0, "completed with continue where nothing follows");
      else
        decision = g_object_ref (keep);
      decision_run (self, then, decision);
    }
  /* a deferred error reply counts like an immediate one */
  self->callbacks->after_deferred (self->session, mark);
}

static void
on_decision_timeout (VsmtpDecision *self)
{
  VsmtpContinuation then = self->pending_then;
  g_autoptr(VsmtpReply) reply = NULL;
  g_autofree char *owner = NULL;
  guint mark;

  owner = self->emit_done > 0 ? decision_describe_handler (self, self->emit_done - 1)
                              : g_strdup ("");
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "VSMTP_SESSION_ID", self->log_id,
                    "MESSAGE", "%s: a deferred \"%s\" decision%s was not completed in time: "
                    "the client gets 451 4.3.0",
                    self->log_id, _vsmtp_decision_get_signal_name (self), owner);

  _vsmtp_reply_remove_completed_func (self->pending, on_pending_completed, self);
  /* expiring cancels the reply's cancellable: the handler's work stops,
   * unless other sessions still wait for the same reply */
  if (!_vsmtp_reply_is_watched (self->pending))
    _vsmtp_reply_expire (self->pending);
  g_clear_object (&self->pending);
  self->pending_then = NULL;

  reply = vsmtp_reply_new (451, "4.3.0", "Error: decision timed out, try again later");
  mark = self->callbacks->before_deferred (self->session);
  decision_run (self, then, reply);
  self->callbacks->after_deferred (self->session, mark);
}

/* The deadlines of deferred decisions: one source per main context for
 * all its sessions, with the pending decisions in the order of their
 * deadlines. A timeout source per deferred decision (every message of a
 * plugin that delivers in the background) cost about 2,000 instructions
 * to make, attach and destroy, and a source per session kept between
 * decisions is one more source that every iteration of the main loop
 * looks at. Moving the ready time of a source wakes its context up (a
 * write to its eventfd), so the source stays armed for the first deadline
 * it was armed for: when it fires, it times out the decisions whose
 * deadline passed and is armed again for the next one, or goes when none
 * is pending. */
typedef struct _DeadlineQueue
{
  GSource       source;     /* owned by its context */
  GMainContext *context;
  GQueue        pending;    /* of VsmtpDecision (deadline_link), soonest first */
} DeadlineQueue;

/* Every context's queue: one, mostly (sessions decide on the thread of
 * their context; a queue goes with its context) */
static GMutex deadline_queues_lock;
static GSList *deadline_queues;

static gboolean
deadline_queue_dispatch (GSource     *source,
                         GSourceFunc  callback,
                         gpointer     user_data)
{
  DeadlineQueue *queue = (DeadlineQueue *) source;
  gint64 now = g_get_monotonic_time ();
  GList *head;

  /* (a timed-out decision's continuation may defer again: at the tail) */
  while ((head = g_queue_peek_head_link (&queue->pending)) != NULL &&
         ((VsmtpDecision *) head->data)->deadline <= now)
    {
      VsmtpDecision *decision = head->data;

      decision_disarm_deadline (decision);
      on_decision_timeout (decision);
    }

  if (head != NULL)
    {
      g_source_set_ready_time (source, ((VsmtpDecision *) head->data)->deadline);
      return G_SOURCE_CONTINUE;
    }
  /* nothing pending: the next deferred decision makes a new one */
  return G_SOURCE_REMOVE;
}

static void
deadline_queue_finalize (GSource *source)
{
  DeadlineQueue *queue = (DeadlineQueue *) source;

  g_mutex_lock (&deadline_queues_lock);
  deadline_queues = g_slist_remove (deadline_queues, queue);
  g_mutex_unlock (&deadline_queues_lock);
  /* its context was freed with decisions pending: each is unarmed, its
   * link free for another queue */
  while (!g_queue_is_empty (&queue->pending))
    {
      GList *link = g_queue_peek_head_link (&queue->pending);

      g_queue_unlink (&queue->pending, link);
      ((VsmtpDecision *) link->data)->deadlines = NULL;
    }
}

static GSourceFuncs deadline_queue_funcs = {
  .dispatch = deadline_queue_dispatch,
  .finalize = deadline_queue_finalize,
};

static DeadlineQueue *
deadline_queue_for (GMainContext *context)
{
  DeadlineQueue *queue = NULL;

  g_mutex_lock (&deadline_queues_lock);
  for (GSList *l = deadline_queues; l != NULL && queue == NULL; l = l->next)
    if (((DeadlineQueue *) l->data)->context == context &&
        !g_source_is_destroyed (l->data))
      queue = l->data;
  g_mutex_unlock (&deadline_queues_lock);
  if (queue != NULL)
    return queue;

  queue = (DeadlineQueue *) g_source_new (&deadline_queue_funcs, sizeof (DeadlineQueue));
  queue->context = context;
  g_queue_init (&queue->pending);
  g_source_set_static_name (&queue->source, "[vsmtp] decision deadlines");
  g_mutex_lock (&deadline_queues_lock);
  deadline_queues = g_slist_prepend (deadline_queues, queue);
  g_mutex_unlock (&deadline_queues_lock);
  g_source_attach (&queue->source, context);
  g_source_unref (&queue->source);
  return queue;
}

static void
decision_arm_deadline (VsmtpDecision *self)
{
  GMainContext *context = g_main_context_get_thread_default ();
  DeadlineQueue *queue;
  GList *after;

  if (context == NULL)
    context = g_main_context_default ();
  decision_disarm_deadline (self);   /* (never armed twice) */
  queue = deadline_queue_for (context);
  self->deadline = g_get_monotonic_time () + (gint64) self->timeout * 1000;
  self->deadline_link.data = self;
  self->deadlines = queue;

  /* from the tail: every session has the same timeout, mostly */
  for (after = queue->pending.tail;
       after != NULL && ((VsmtpDecision *) after->data)->deadline > self->deadline;
       after = after->prev)
    ;
  if (after != NULL)
    g_queue_insert_after_link (&queue->pending, after, &self->deadline_link);
  else
    g_queue_push_head_link (&queue->pending, &self->deadline_link);

  if (g_source_get_ready_time (&queue->source) < 0 ||
      g_source_get_ready_time (&queue->source) > self->deadline)
    g_source_set_ready_time (&queue->source, self->deadline);
}

static void
decision_disarm_deadline (VsmtpDecision *self)
{
  if (self->deadlines == NULL)
    return;
  g_queue_unlink (&self->deadlines->pending, &self->deadline_link);
  self->deadlines = NULL;
}

void
_vsmtp_decision_decide (VsmtpDecision     *self,
                        VsmtpReply        *reply,
                        VsmtpContinuation  then)
{
  if (reply == NULL)
    reply = vsmtp_reply_new_temporary_failure (NULL);

  if (vsmtp_reply_is_pending (reply) && !_vsmtp_reply_is_expired (reply))
    {
      /* a continuation that defers again: the decision goes on */
      self->serial++;
      self->pending = reply;
      self->pending_then = then;
      _vsmtp_reply_add_completed_func (reply, on_pending_completed, self);
      decision_arm_deadline (self);
      return;
    }

  if (vsmtp_reply_is_pending (reply) || vsmtp_reply_is_continue (reply))
    {
      /* an expired reply handed back again, or a continue that reached the
       * end without an emission behind it: a failure */
      g_object_unref (reply);
      reply = vsmtp_reply_new_temporary_failure (NULL);
    }

  decision_run (self, then, reply);
  g_object_unref (reply);
}

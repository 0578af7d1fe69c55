/* test-decisions.c: how handlers decide together: continue, the order they
 * run in, failing closed, deferred continues, cancellation and one reply
 * per recipient; over TCP on loopback with the shared harness
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp.h"
#include "vsmtp-test-harness.h"
#include "vsmtp-test-memory.h"

/* Every log message of the process, for the tests that check what the
 * failure log line says. */
static GString *logged;

static GLogWriterOutput
record_writer (GLogLevelFlags   level,
               const GLogField *fields,
               gsize            n_fields,
               gpointer         user_data)
{
  static GMutex lock;   /* sessions of several threads log (/decisions/deadline-two-contexts) */

  g_mutex_lock (&lock);
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      {
        g_string_append_len (logged, fields[i].value,
                             fields[i].length < 0 ? (gssize) strlen (fields[i].value) : fields[i].length);
        g_string_append_c (logged, '\n');
      }
  g_mutex_unlock (&lock);
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return g_log_writer_default (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

/* A handler's behaviour, chosen per test; it counts its calls. */
typedef enum {
  ACT_CONTINUE,
  ACT_NULL,
  ACT_REJECT_BAD,          /* 550 5.1.1 for local part "bad", else continue */
  ACT_REJECT_ALL,
  ACT_DEFER_CONTINUE,      /* pending, completed with continue after 20 ms */
  ACT_DEFER_FOREVER,       /* pending, kept in fixture->pending */
  ACT_DEFER_ONCE,          /* the first call as ACT_DEFER_CONTINUE but after 150 ms,
                            * the next ones as ACT_DEFER_FOREVER */
} Action;

typedef struct {
  Fixture *fixture;
  Action   action;
  guint    calls;
  char    *owner;          /* its handlers' owner, in the log */
  GObject *object;         /* the owner's object: its handlers' data */
} Handler;

static gboolean
complete_continue_later (gpointer data)
{
  g_assert_true (vsmtp_reply_complete_continue (data));
  return G_SOURCE_REMOVE;
}

static VsmtpReply *
handler_act (Handler      *handler,
             VsmtpAddress *recipient)
{
  handler->calls++;
  switch (handler->action)
    {
    case ACT_CONTINUE:
      return vsmtp_reply_new_continue ();
    case ACT_NULL:
      return NULL;
    case ACT_REJECT_BAD:
      if (recipient != NULL && g_str_equal (vsmtp_address_get_local_part (recipient), "bad"))
        return vsmtp_reply_new_no_such_user ();
      return vsmtp_reply_new_continue ();
    case ACT_REJECT_ALL:
      return vsmtp_reply_new_policy_rejection (NULL);
    case ACT_DEFER_CONTINUE:
      {
        VsmtpReply *reply = vsmtp_reply_new_pending ();

        g_timeout_add_full (G_PRIORITY_DEFAULT, 20, complete_continue_later,
                            g_object_ref (reply), g_object_unref);
        return reply;
      }
    case ACT_DEFER_ONCE:
      if (handler->calls == 1)
        {
          VsmtpReply *reply = vsmtp_reply_new_pending ();

          g_timeout_add_full (G_PRIORITY_DEFAULT, 150, complete_continue_later,
                              g_object_ref (reply), g_object_unref);
          return reply;
        }
      G_GNUC_FALLTHROUGH;
    case ACT_DEFER_FOREVER:
    default:
      {
        VsmtpReply *reply = vsmtp_reply_new_pending ();

        g_ptr_array_add (handler->fixture->pending, g_object_ref (reply));
        return reply;
      }
    }
}

static VsmtpReply *
on_rcpt (VsmtpSession    *session,
         VsmtpAddress    *recipient,
         VsmtpParameters *parameters,
         Handler         *handler)
{
  return handler_act (handler, recipient);
}

static VsmtpReply *
on_message (VsmtpSession *session,
            VsmtpMessage *message,
            Handler      *handler)
{
  return handler_act (handler, NULL);
}

static VsmtpReply *
on_rcpt_object (VsmtpSession    *session,
                VsmtpAddress    *recipient,
                VsmtpParameters *parameters,
                GObject         *object)
{
  return handler_act (g_object_get_data (object, "handler"), recipient);
}

static VsmtpReply *
on_message_object (VsmtpSession *session,
                   VsmtpMessage *message,
                   GObject      *object)
{
  return handler_act (g_object_get_data (object, "handler"), NULL);
}

typedef struct {
  Handler    *handlers;
  guint       n_handlers;
  const char *signal;
} Chain;

static void
on_new_session_chain (VsmtpServer  *server,
                      VsmtpSession *session,
                      Chain        *chain)
{
  for (guint i = 0; i < chain->n_handlers; i++)
    {
      Handler *handler = &chain->handlers[i];

      if (handler->owner != NULL)
        {
          /* a named owner: its handlers are connected with an object of
           * its own as their data, as a plugin connects with itself */
          if (handler->object == NULL)
            {
              handler->object = g_object_new (G_TYPE_OBJECT, NULL);
              vsmtp_server_set_handler_owner (server, handler->object, handler->owner);
            }
          if (g_str_equal (chain->signal, "rcpt-to"))
            g_signal_connect_object (session, "rcpt-to", G_CALLBACK (on_rcpt_object),
                                     handler->object, 0);
          else
            g_signal_connect_object (session, chain->signal, G_CALLBACK (on_message_object),
                                     handler->object, 0);
          g_object_set_data (handler->object, "handler", handler);
        }
      else if (g_str_equal (chain->signal, "rcpt-to"))
        g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt), handler);
      else
        g_signal_connect (session, chain->signal, G_CALLBACK (on_message), handler);
    }
}

static void
use_chain (Fixture *fixture,
           Chain   *chain)
{
  for (guint i = 0; i < chain->n_handlers; i++)
    chain->handlers[i].fixture = fixture;
  /* the chain's handlers run before the harness's message store */
  g_signal_handlers_disconnect_by_func (fixture->server, on_new_session_store, fixture);
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_chain), chain);
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_store), fixture);
}

#define RCPT_SCRIPT(good_reply, bad_reply) \
  NULL, "220 ", \
  "EHLO c\r\n", "250-", \
  "MAIL FROM:<a@example.org>\r\n", "250 2.1.0", \
  "RCPT TO:<good@example.org>\r\n", good_reply, \
  "RCPT TO:<bad@example.org>\r\n", bad_reply, \
  "QUIT\r\n", "221 ", \
  NULL, NULL

/* A handler with no opinion passes on; the next one decides; after the
 * last one the standard reply. */
static void
test_continue_passes_on (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = { { .action = ACT_CONTINUE }, { .action = ACT_REJECT_BAD } };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "rcpt-to" };
  const char * const script[] = { RCPT_SCRIPT ("250 2.1.5", "550 5.1.1") };

  use_chain (fixture, &chain);
  run_client (fixture, script);
  g_assert_cmpuint (handlers[0].calls, ==, 2);
  g_assert_cmpuint (handlers[1].calls, ==, 2);
}

/* The first handler that decides ends the emission. */
static void
test_first_decision_wins (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = { { .action = ACT_REJECT_ALL }, { .action = ACT_CONTINUE } };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "rcpt-to" };
  const char * const script[] = { RCPT_SCRIPT ("550 5.7.1", "550 5.7.1") };

  use_chain (fixture, &chain);
  run_client (fixture, script);
  g_assert_cmpuint (handlers[0].calls, ==, 2);
  g_assert_cmpuint (handlers[1].calls, ==, 0);
}

/* NULL is a failure, not "no opinion": 451, the next handlers do not run,
 * and the log names the handler's owner. */
static void
test_null_fails_closed (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = {
    { .action = ACT_CONTINUE, .owner = (char *) "plugin first" },
    { .action = ACT_NULL, .owner = (char *) "plugin broken" },
    { .action = ACT_CONTINUE, .owner = (char *) "plugin third" },
  };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "rcpt-to" };
  const char * const script[] = { RCPT_SCRIPT ("451 4.3.0", "451 4.3.0") };

  g_string_truncate (logged, 0);
  use_chain (fixture, &chain);
  run_client (fixture, script);
  g_assert_cmpuint (handlers[1].calls, ==, 2);
  g_assert_cmpuint (handlers[2].calls, ==, 0);
  g_assert_nonnull (strstr (logged->str, "a \"rcpt-to\" handler (plugin broken) returned no reply"));
  g_assert_null (strstr (logged->str, "(plugin first) returned"));
  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    {
      vsmtp_server_set_handler_owner (fixture->server, handlers[i].object, NULL);
      g_clear_object (&handlers[i].object);
    }
}

/* A failing message-received handler: 451 and nothing stored. */
static void
test_null_message_not_accepted (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = { { .action = ACT_NULL } };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "message-received" };
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<b@example.org>\r\n", "250 2.1.5",
    "DATA\r\n", "354 ",
    "x\r\n.\r\n", "451 4.3.0",
    NULL, NULL
  };

  use_chain (fixture, &chain);
  run_client (fixture, script);
  g_assert_cmpuint (fixture->messages->len, ==, 0);
}

/* A deferred handler that completes with continue hands over to the next
 * handler, without running itself again. */
static void
test_deferred_continue (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = {
    { .action = ACT_DEFER_CONTINUE },
    { .action = ACT_DEFER_CONTINUE },
    { .action = ACT_REJECT_BAD },
    { .action = ACT_CONTINUE },
  };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "rcpt-to" };
  const char * const script[] = { RCPT_SCRIPT ("250 2.1.5", "550 5.1.1") };

  use_chain (fixture, &chain);
  run_client (fixture, script);
  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    {
      g_test_message ("handler %u: %u calls", i, handlers[i].calls);
      /* the last one does not see <bad>: the one before refused it */
      g_assert_cmpuint (handlers[i].calls, ==, i == 3 ? 1 : 2);
    }
}

/* After a deferred continue, a message is delivered by the next handler. */
static void
test_deferred_continue_message (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = { { .action = ACT_DEFER_CONTINUE } };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "message-received" };
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<b@example.org>\r\n", "250 2.1.5",
    "DATA\r\n", "354 ",
    "x\r\n.\r\n", "250 2.0.0 Ok: stored",
    NULL, NULL
  };

  use_chain (fixture, &chain);
  run_client (fixture, script);
  g_assert_cmpuint (handlers[0].calls, ==, 1);
  g_assert_cmpuint (fixture->messages->len, ==, 1);
}

static void
wait_closed (Fixture *fixture)
{
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (fixture->n_closed == 0 && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (fixture->n_closed, ==, 1);
}

/* A client that leaves while a decision is pending: the session closes at
 * once and the decision's cancellable is cancelled. */
static void
test_cancel_on_disconnect (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = { { .action = ACT_DEFER_FOREVER } };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "message-received" };
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<b@example.org>\r\n", "250 2.1.5",
    "DATA\r\n", "354 ",
    "x\r\n.\r\n", NULL,      /* and leave without waiting for the reply */
    NULL, NULL
  };
  VsmtpReply *kept;
  GCancellable *cancellable;

  use_chain (fixture, &chain);
  run_client (fixture, script);
  wait_closed (fixture);

  g_assert_cmpuint (fixture->pending->len, ==, 1);
  kept = fixture->pending->pdata[0];
  cancellable = vsmtp_reply_get_cancellable (kept);
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  g_assert_false (vsmtp_reply_complete (kept, 250, "2.0.0", "too late"));
}

/* A decision past its deadline: 451 for the client, the cancellable
 * cancelled for the handler (taken before and after the deadline). */
static void
test_cancel_on_deadline (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = { { .action = ACT_DEFER_FOREVER } };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "rcpt-to" };
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<x@example.org>\r\n", "451 4.3.0",
    "RCPT TO:<y@example.org>\r\n", "451 4.3.0",
    NULL, NULL
  };

  vsmtp_server_set_decision_timeout (fixture->server, 100);
  use_chain (fixture, &chain);
  /* the first reply's cancellable is taken while pending (below, after
   * the run, for the second one) */
  run_client (fixture, script);
  g_assert_cmpuint (fixture->pending->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_true (g_cancellable_is_cancelled (vsmtp_reply_get_cancellable (fixture->pending->pdata[i])));
}

/* Each deferred decision gets the whole decision timeout from the moment
 * it is deferred: one deadline source per main context serves every
 * pending decision, armed for the first deadline; when it fires while a
 * later decision is pending, it waits on for that one's deadline. The first RCPT's decision completes
 * after 150 ms, the second one never: its 451 comes no sooner than 150 +
 * 300 ms after the start (a lower bound only: a slow machine is later). */
static void
test_deadline_per_decision (Fixture *fixture, gconstpointer data)
{
  Handler handlers[] = { { .action = ACT_DEFER_ONCE } };
  Chain chain = { handlers, G_N_ELEMENTS (handlers), "rcpt-to" };
  const char * const script[] = {
    NULL, "220 ",
    "EHLO c\r\n", "250-",
    "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
    "RCPT TO:<x@example.org>\r\n", "250 2.1.5",
    "RCPT TO:<y@example.org>\r\n", "451 4.3.0 Error: decision timed out",
    "RCPT TO:<z@example.org>\r\n", "451 4.3.0 Error: decision timed out",
    NULL, NULL
  };
  gint64 start = g_get_monotonic_time ();

  vsmtp_server_set_decision_timeout (fixture->server, 300);
  use_chain (fixture, &chain);
  run_client (fixture, script);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, (150 + 300 + 300) * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpuint (handlers[0].calls, ==, 3);
  g_assert_cmpuint (fixture->pending->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_true (g_cancellable_is_cancelled (vsmtp_reply_get_cancellable (fixture->pending->pdata[i])));
}

/* Sessions of servers on two threads, each with its own main context,
 * both waiting for decisions that never come: each thread's deadline
 * fires on its own context (the other thread never iterates it), twice
 * in a row (the deadline source goes once nothing is pending, and the
 * next deferred decision makes a new one). */
typedef struct {
  GPtrArray *pending;   /* the replies never completed */
  GBytes    *output[2]; /* what each session got */
  GThread   *thread;    /* the thread the deferring handler ran in */
  gboolean   wrong_thread;
} ContextRun;

static VsmtpReply *
on_rcpt_defer_forever (VsmtpSession    *session,
                       VsmtpAddress    *recipient,
                       VsmtpParameters *parameters,
                       ContextRun      *run)
{
  VsmtpReply *reply = vsmtp_reply_new_pending ();

  if (g_thread_self () != run->thread)
    run->wrong_thread = TRUE;
  g_ptr_array_add (run->pending, g_object_ref (reply));
  return reply;
}

static void
on_new_session_defer (VsmtpServer  *server,
                      VsmtpSession *session,
                      ContextRun   *run)
{
  g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt_defer_forever), run);
}

static gpointer
run_in_own_context (gpointer data)
{
  static const char input[] = "EHLO c\r\nMAIL FROM:<a@example.org>\r\n"
                              "RCPT TO:<b@example.org>\r\nQUIT\r\n";
  ContextRun *run = data;
  GMainContext *context = g_main_context_new ();
  VsmtpServer *server;

  g_main_context_push_thread_default (context);
  run->thread = g_thread_self ();
  server = vsmtp_server_new ();
  g_object_set (server, "hostname", "mx.test.example", "forbid-unauth-pipelining", FALSE, NULL);
  vsmtp_server_set_decision_timeout (server, 200);
  g_signal_connect (server, "new-session", G_CALLBACK (on_new_session_defer), run);
  for (guint i = 0; i < G_N_ELEMENTS (run->output); i++)
    {
      g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_data (input, sizeof input - 1,
                                                                            NULL);

      run->output[i] = vsmtp_test_run_memory_session (server, stream, NULL, NULL, NULL);
    }
  g_object_unref (server);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

static void
test_deadline_two_contexts (void)
{
  ContextRun runs[2];

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      memset (&runs[i], 0, sizeof runs[i]);
      runs[i].pending = g_ptr_array_new_with_free_func (g_object_unref);
    }
  {
    GThread *threads[G_N_ELEMENTS (runs)];

    for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
      threads[i] = g_thread_new ("decisions", run_in_own_context, &runs[i]);
    for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
      g_thread_join (threads[i]);
  }

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      g_assert_false (runs[i].wrong_thread);
      g_assert_cmpuint (runs[i].pending->len, ==, 2);
      for (guint j = 0; j < G_N_ELEMENTS (runs[i].output); j++)
        {
          g_autofree char *text = g_strndup (g_bytes_get_data (runs[i].output[j], NULL),
                                             g_bytes_get_size (runs[i].output[j]));

          g_assert_nonnull (strstr (text, "\r\n250 2.1.0 "));
          g_assert_nonnull (strstr (text, "\r\n451 4.3.0 Error: decision timed out"));
          g_assert_true (g_str_has_suffix (text, "\r\n221 2.0.0 Bye\r\n"));
          g_assert_true (g_cancellable_is_cancelled (
            vsmtp_reply_get_cancellable (runs[i].pending->pdata[j])));
          g_bytes_unref (runs[i].output[j]);
        }
      g_ptr_array_unref (runs[i].pending);
    }
}

/* One pending reply returned to the decisions of two sessions (both wait
 * for the same thing): completing it answers both. The second session runs
 * while the first one waits (from the first one's idle function), and the
 * reply is completed while both wait. */
typedef struct {
  VsmtpServer *server;
  VsmtpReply  *shared;
  GBytes      *inner;      /* what the second session got */
  gboolean     nested;
  gboolean     completed;
  gboolean     inner_times_out;   /* the second session's deadline passes first */
} SharedRun;

static const char shared_input[] = "EHLO c\r\nMAIL FROM:<a@example.org>\r\n"
                                   "RCPT TO:<b@example.org>\r\nQUIT\r\n";

static VsmtpReply *
on_rcpt_shared (VsmtpSession    *session,
                VsmtpAddress    *recipient,
                VsmtpParameters *parameters,
                SharedRun       *run)
{
  return g_object_ref (run->shared);
}

static void
on_new_session_shared (VsmtpServer  *server,
                       VsmtpSession *session,
                       SharedRun    *run)
{
  g_signal_connect (session, "rcpt-to", G_CALLBACK (on_rcpt_shared), run);
}

static gboolean
shared_idle (gpointer data)
{
  SharedRun *run = data;

  if (!run->nested && run->inner == NULL)
    {
      /* the first session waits: the second one starts, and waits too */
      g_autoptr(GInputStream) stream =
        g_memory_input_stream_new_from_data (shared_input, sizeof shared_input - 1, NULL);

      /* a session's settings are those of its start */
      if (run->inner_times_out)
        vsmtp_server_set_decision_timeout (run->server, 100);
      run->nested = TRUE;
      run->inner = vsmtp_test_run_memory_session (run->server, stream, shared_idle, run, NULL);
      run->nested = FALSE;
      return TRUE;
    }
  if (run->nested == !run->inner_times_out && !run->completed)
    {
      run->completed = TRUE;
      g_assert_true (vsmtp_reply_complete (run->shared, 250, "2.1.5", "Ok, both"));
      return TRUE;
    }
  return FALSE;
}

static void
test_shared_pending_reply (gconstpointer data)
{
  SharedRun run = { .inner_times_out = GPOINTER_TO_INT (data) };
  g_autoptr(GInputStream) stream =
    g_memory_input_stream_new_from_data (shared_input, sizeof shared_input - 1, NULL);
  g_autoptr(GBytes) outer = NULL;
  g_autofree char *outer_text = NULL;
  g_autofree char *inner_text = NULL;

  run.server = vsmtp_server_new ();
  g_object_set (run.server, "hostname", "mx.test.example", "forbid-unauth-pipelining", FALSE, NULL);
  vsmtp_server_set_decision_timeout (run.server, 30000);
  run.shared = vsmtp_reply_new_pending ();
  g_signal_connect (run.server, "new-session", G_CALLBACK (on_new_session_shared), &run);
  outer = vsmtp_test_run_memory_session (run.server, stream, shared_idle, &run, NULL);

  g_assert_true (run.completed);
  g_assert_nonnull (run.inner);
  outer_text = g_strndup (g_bytes_get_data (outer, NULL), g_bytes_get_size (outer));
  inner_text = g_strndup (g_bytes_get_data (run.inner, NULL), g_bytes_get_size (run.inner));
  g_assert_nonnull (strstr (outer_text, "\r\n250 2.1.5 Ok, both\r\n"));
  g_assert_null (strstr (outer_text, "451 "));
  if (run.inner_times_out)
    {
      /* its deadline expired its own wait only: the reply was still
       * pending for the first session, its cancellable not cancelled */
      g_assert_nonnull (strstr (inner_text, "\r\n451 4.3.0 Error: decision timed out"));
      g_assert_false (g_cancellable_is_cancelled (vsmtp_reply_get_cancellable (run.shared)));
    }
  else
    {
      g_assert_nonnull (strstr (inner_text, "\r\n250 2.1.5 Ok, both\r\n"));
      g_assert_null (strstr (inner_text, "451 "));
    }
  g_bytes_unref (run.inner);
  g_object_unref (run.shared);
  g_object_unref (run.server);
}

/* One result per recipient, collapsed into one SMTP reply. */
typedef struct {
  guint codes[2];
} RecipientCodes;

static VsmtpReply *
on_message_per_recipient (VsmtpSession   *session,
                          VsmtpMessage   *message,
                          RecipientCodes *codes)
{
  VsmtpReply *replies[2];
  VsmtpReply *reply;

  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (vsmtp_message_get_envelope (message)), ==, 2);
  for (guint i = 0; i < 2; i++)
    replies[i] = codes->codes[i] == 250 ? vsmtp_reply_new (250, "2.0.0", "Ok: delivered")
                                        : vsmtp_reply_new (codes->codes[i], codes->codes[i] == 550 ? "5.2.2" : "4.2.2",
                                                           "Mailbox full");
  reply = vsmtp_reply_new_for_recipients (replies, 2);
  for (guint i = 0; i < 2; i++)
    g_object_unref (replies[i]);
  return reply;
}

static void
on_new_session_per_recipient (VsmtpServer    *server,
                              VsmtpSession   *session,
                              RecipientCodes *codes)
{
  g_signal_connect (session, "message-received", G_CALLBACK (on_message_per_recipient), codes);
}

static void
test_per_recipient_replies (Fixture *fixture, gconstpointer data)
{
  struct {
    guint codes[2];
    const char *expected;
  } cases[] = {
    { { 250, 250 }, "250 2.0.0 Ok: delivered" },
    { { 550, 550 }, "550 5.2.2 Mailbox full" },
    { { 250, 550 }, "451 4.3.0 Error: delivered to 1 of 2 recipients" },
    { { 250, 452 }, "451 4.3.0" },
    { { 550, 452 }, "451 4.3.0" },
  };
  RecipientCodes codes;

  g_signal_handlers_disconnect_by_func (fixture->server, on_new_session_store, fixture);
  g_signal_connect (fixture->server, "new-session", G_CALLBACK (on_new_session_per_recipient), &codes);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char * const script[] = {
        NULL, "220 ",
        "EHLO c\r\n", "250-",
        "MAIL FROM:<a@example.org>\r\n", "250 2.1.0",
        "RCPT TO:<b@example.org>\r\n", "250 2.1.5",
        "RCPT TO:<c@example.org>\r\n", "250 2.1.5",
        "DATA\r\n", "354 ",
        "x\r\n.\r\n", cases[i].expected,
        NULL, NULL
      };

      memcpy (codes.codes, cases[i].codes, sizeof codes.codes);
      run_client (fixture, script);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  logged = g_string_new (NULL);
  g_log_set_writer_func (record_writer, NULL, NULL);

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/decisions/continue-passes-on", test_continue_passes_on);
  ADD ("/decisions/first-decision-wins", test_first_decision_wins);
  ADD ("/decisions/null-fails-closed", test_null_fails_closed);
  ADD ("/decisions/null-message-not-accepted", test_null_message_not_accepted);
  ADD ("/decisions/deferred-continue", test_deferred_continue);
  ADD ("/decisions/deferred-continue-message", test_deferred_continue_message);
  ADD ("/decisions/cancel-on-disconnect", test_cancel_on_disconnect);
  ADD ("/decisions/cancel-on-deadline", test_cancel_on_deadline);
  ADD ("/decisions/deadline-per-decision", test_deadline_per_decision);
  ADD ("/decisions/per-recipient-replies", test_per_recipient_replies);
#undef ADD
  g_test_add_func ("/decisions/deadline-two-contexts", test_deadline_two_contexts);
  g_test_add_data_func ("/decisions/shared-pending-reply", GINT_TO_POINTER (FALSE),
                        test_shared_pending_reply);
  g_test_add_data_func ("/decisions/shared-pending-reply-one-times-out", GINT_TO_POINTER (TRUE),
                        test_shared_pending_reply);

  return g_test_run ();
}

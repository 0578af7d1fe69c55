/* vsmtp-decision-private.h: how a session's command signal is decided
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 *
 * A VsmtpDecision emits one decision signal of its session at a time, with
 * its arguments kept as GValues, and acts on the answer: a reply decides, a
 * handler's "continue" asks the next one, NULL (or a raise in a binding)
 * fails closed with 451 4.3.0, logged once naming the handler's owner. A
 * pending reply is waited for, up to a deadline (then 451 4.3.0), and is
 * cancelled when the session drops it; a deferred "continue" resumes the
 * emission after the handlers that already ran. What the session does with
 * a decision is its continuation, run once with the final reply.
 *
 * The session owns its decision (made in its instance init, freed in its
 * finalize); the decision holds no reference to the session.
 */
#pragma once

#include <gio/gio.h>

#include "vsmtp-reply.h"
#include "vsmtp-session.h"

G_BEGIN_DECLS

typedef struct _VsmtpDecision VsmtpDecision;

/* What the session does with a decision; @reply is borrowed. */
typedef void (*VsmtpContinuation) (VsmtpSession *session,
                                   VsmtpReply   *reply);

typedef struct {
  /* The decision is over: its continuation ran, or the session dropped it
   * while it was pending. What the command saved for it can go. */
  void  (*finished)       (VsmtpSession *session);
  /* A deferred decision is about to be acted on (its reply was completed,
   * or its deadline passed): returns a mark for after_deferred, */
  guint (*before_deferred) (VsmtpSession *session);
  /* ... and it was: the continuation ran, or the handlers after a deferred
   * "continue" deferred again. The session goes on with its input. */
  void  (*after_deferred)  (VsmtpSession *session,
                            guint         mark);
} VsmtpDecisionCallbacks;

VsmtpDecision *_vsmtp_decision_new            (VsmtpSession                 *session,
                                               const VsmtpDecisionCallbacks *callbacks);
void           _vsmtp_decision_free           (VsmtpDecision                *self);

/* The session's id for the log lines (borrowed: it outlives the decision)
 * and the deadline of a pending reply, in milliseconds. */
void           _vsmtp_decision_configure      (VsmtpDecision                *self,
                                               const char                   *log_id,
                                               guint                         timeout);

/* The accumulator of every decision signal of the session's class. */
gboolean       _vsmtp_decision_accumulator    (GSignalInvocationHint        *ihint,
                                               GValue                       *return_accu,
                                               const GValue                 *handler_return,
                                               gpointer                      data);

/* Emits the session's decision signal @signal_id with the arguments that
 * follow (as for g_signal_emit(), without the return location) and runs
 * @then with its answer, now or once a deferred handler completes. */
void           _vsmtp_decision_emit           (VsmtpDecision                *self,
                                               guint                         signal_id,
                                               VsmtpContinuation             then,
                                               ...);
/* Takes @reply (transfer full; NULL is a failure): runs @then now, or
 * later when a pending reply is completed (or its deadline passes). */
void           _vsmtp_decision_decide         (VsmtpDecision                *self,
                                               VsmtpReply                   *reply,
                                               VsmtpContinuation             then);

/* A handler deferred: the session reads no more commands until it decides. */
gboolean       _vsmtp_decision_is_pending     (VsmtpDecision                *self);
/* The name of the signal being decided, "?" when none (for log lines). */
const char    *_vsmtp_decision_get_signal_name (VsmtpDecision               *self);
/* Drops a pending decision: its reply expires (its cancellable is
 * cancelled), its continuation never runs, "finished" is called. */
void           _vsmtp_decision_cancel         (VsmtpDecision                *self);

/* Handler @handler_id acts for @object (not referenced): its owner is the
 * server's name for @object (vsmtp_session_set_handler_object()). */
void           _vsmtp_decision_set_handler_object (VsmtpDecision            *self,
                                                   gulong                    handler_id,
                                                   GObject                  *object);

G_END_DECLS

/* milter-conn.h: one connection to one milter, for one SMTP session:
 * option negotiation, then exchanges (packets sent, the replies read up to
 * the filter's verdict), all asynchronous, each bounded by a timeout and
 * cancellable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "milter-protocol.h"

G_BEGIN_DECLS

/* One configured milter: where it is and how long to wait for it */
typedef struct {
  char               *name;             /* for logs */
  char               *address;          /* inet:HOST:PORT, unix:/path */
  GSocketConnectable *connectable;
  guint               connect_timeout;  /* ms */
  guint               command_timeout;  /* ms, a reply to a command */
  guint               content_timeout;  /* ms, a reply to content, end of message */
} MilterSpec;

/* Parses "inet:HOST:PORT" ("inet:[::1]:PORT"), "inet6:...", "unix:/path" or
 * "local:/path". */
MilterSpec *milter_spec_new  (const char  *name,
                              const char  *address,
                              GError     **error);
void        milter_spec_free (MilterSpec  *self);

/* What an action asks for, kept for the end of message */
typedef struct {
  MilterReplyCode  code;
  char            *name;       /* header name, address */
  char            *value;      /* header value, ESMTP arguments */
  guint32          index;
} MilterAction;

/* What the filter said in one exchange */
typedef struct {
  MilterReplyCode  verdict;        /* ACCEPT, CONTINUE, DISCARD, REJECT, TEMPFAIL,
                                    * REPLYCODE, SKIP; 0 when no reply was due */
  char            *reply;          /* REPLYCODE's text */
  guint            smtp_code;
  GPtrArray       *actions;        /* MilterAction, end of message only */
  GFile           *new_body;       /* REPLBODY's chunks, spooled */
  char            *quarantine;     /* QUARANTINE's reason */
} MilterResult;

void milter_result_free (MilterResult *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MilterResult, milter_result_free)

typedef enum {
  MILTER_EXPECT_NOTHING,   /* a step the filter answers without a reply */
  MILTER_EXPECT_VERDICT,   /* a command */
  MILTER_EXPECT_CONTENT,   /* a header, end of headers, a body chunk
                            * (the content timeout; SKIP allowed) */
  MILTER_EXPECT_EOM,       /* actions, then a verdict (the content timeout) */
} MilterExpect;

typedef struct _MilterConn MilterConn;

MilterConn *milter_conn_new     (const MilterSpec *spec,
                                 const char       *session_id,
                                 const char       *spool_directory);
MilterConn *milter_conn_ref     (MilterConn       *self);
void        milter_conn_unref   (MilterConn       *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MilterConn, milter_conn_unref)

/* Connects and negotiates (version 6, every action and step this client
 * knows, offered; the filter's choice kept). */
void     milter_conn_open_async   (MilterConn           *self,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data);
gboolean milter_conn_open_finish  (MilterConn           *self,
                                   GAsyncResult         *result,
                                   GError              **error);

/* Sends @packets (one or more, macros first) and reads what @expect says.
 * An error (timeout, closed, a reply that is malformed or not allowed at
 * this step) leaves the connection broken. */
void          milter_conn_exchange_async  (MilterConn           *self,
                                           GBytes               *packets,
                                           MilterExpect          expect,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
MilterResult *milter_conn_exchange_finish (MilterConn           *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* What was negotiated */
guint32      milter_conn_get_actions (MilterConn *self);
guint32      milter_conn_get_steps   (MilterConn *self);
/* the macro names the filter asked for at @stage, NULL for the defaults */
const char  *milter_conn_get_symlist (MilterConn *self,
                                      MilterStage stage);
gboolean     milter_conn_is_open     (MilterConn *self);
const char  *milter_conn_get_name    (MilterConn *self);
/* Sends QUIT (best effort, not waited for) and closes. */
void         milter_conn_close       (MilterConn *self);

G_END_DECLS

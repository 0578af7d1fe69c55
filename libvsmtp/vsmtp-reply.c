/* vsmtp-reply.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-reply.h"
#include "vsmtp-reply-private.h"
#include "vsmtp-string-private.h"

/* RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including CRLF. */
#define MAX_REPLY_LINE 512

/**
 * VsmtpReply:
 *
 * An SMTP reply: a three-digit code, an optional enhanced status code
 * (RFC 3463, "x.y.z") and a text that may span several lines.
 *
 * Command handlers return a reply to decide what the server answers. The
 * standard answers have constructors, such as [ctor@Vsmtp.Reply.new_ok] or
 * [ctor@Vsmtp.Reply.new_no_such_user].
 *
 * A handler that needs time to decide (a DNS lookup, a database query)
 * returns a reply created with [ctor@Vsmtp.Reply.new_pending] and completes
 * it later with [method@Vsmtp.Reply.complete] or
 * [method@Vsmtp.Reply.complete_with]; the session answers when the
 * [signal@Vsmtp.Reply::completed] signal is emitted. If the decision does not
 * come before the session's deadline, the session answers on its own
 * (`451 4.3.0`) and the late completion is refused.
 *
 * A handler with no opinion returns [ctor@Vsmtp.Reply.new_continue]: the
 * next handler decides. A handler that returns %NULL (or raises, in a
 * language binding) has failed, and the client gets `451 4.3.0`: see the
 * handlers guide for the order handlers run in and how decisions compose.
 *
 * A reply is immutable once completed.
 */
struct _VsmtpReply
{
  GObject parent_instance;

  guint code;
  char *enhanced_code;
  char *text;
  char *wire;          /* the formatted reply, made on first use */
  gsize wire_length;
  GCancellable *cancellable;  /* made on first use, pending replies */
  GPtrArray *recipients;      /* per-recipient replies, or NULL */
  VsmtpReplyCompletedFunc completed_func;   /* the first session's watch, or NULL */
  gpointer completed_data;
  GArray *more_watches;       /* of Watch: other sessions waiting for it, or NULL */
  guint pending : 1;
  guint expired : 1;
  guint is_continue : 1;
};

G_DEFINE_FINAL_TYPE (VsmtpReply, vsmtp_reply, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CODE,
  PROP_ENHANCED_CODE,
  PROP_TEXT,
  PROP_PENDING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  COMPLETED,
  N_SIGNALS
};

typedef struct
{
  VsmtpReplyCompletedFunc func;
  gpointer                data;
} Watch;

static guint signals[N_SIGNALS];
static guint notify_signal;   /* GObject::notify */

static gboolean
code_is_valid (guint code)
{
  return code >= 200 && code <= 599;
}

/* RFC 3463: class "." subject "." detail, class 2/4/5 matching the reply
 * code's first digit, subject and detail 1 to 3 digits. */
static gboolean
enhanced_code_is_valid (guint       code,
                        const char *enhanced_code)
{
  const char *p = enhanced_code;
  guint part;

  if (enhanced_code == NULL)
    return TRUE;

  if (p[0] != '2' && p[0] != '4' && p[0] != '5')
    return FALSE;
  if ((guint) (p[0] - '0') != code / 100)
    return FALSE;
  if (p[1] != '.')
    return FALSE;
  p += 2;

  for (part = 0; part < 2; part++)
    {
      guint n = 0;

      while (g_ascii_isdigit (*p) && n < 4)
        {
          p++;
          n++;
        }
      if (n == 0 || n > 3)
        return FALSE;
      if (part == 0)
        {
          if (*p != '.')
            return FALSE;
          p++;
        }
    }

  return *p == '\0';
}

static const char *
default_text (guint code)
{
  switch (code)
    {
    case 211: return "System status";
    case 214: return "Help";
    case 220: return "Service ready";
    case 221: return "Bye";
    case 235: return "Authentication successful";
    case 334: return "";
    case 354: return "End data with <CR><LF>.<CR><LF>";
    case 421: return "Service not available, closing connection";
    case 451: return "Temporary failure, try again later";
    case 500: return "Command not recognized";
    case 501: return "Syntax error in parameters or arguments";
    case 502: return "Command not implemented";
    case 503: return "Bad sequence of commands";
    case 504: return "Command parameter not implemented";
    case 550: return "Rejected";
    case 552: return "Message size exceeds fixed limit";
    case 554: return "Transaction failed";
    default: break;
    }

  switch (code / 100)
    {
    case 2: return "Ok";
    case 3: return "Continue";
    case 4: return "Temporary failure";
    case 5: return "Rejected";
    default: return "";
    }
}

static void
vsmtp_reply_constructed (GObject *object)
{
  VsmtpReply *self = VSMTP_REPLY (object);

  G_OBJECT_CLASS (vsmtp_reply_parent_class)->constructed (object);

  if (self->code == 0)
    {
      /* No code: a pending reply, completed later. */
      self->pending = TRUE;
      g_clear_pointer (&self->enhanced_code, g_free);
      g_clear_pointer (&self->text, g_free);
      return;
    }

  if (!code_is_valid (self->code))
    {
      g_critical ("VsmtpReply: %u is not a valid reply code (200..599)", self->code);
      self->code = 0;
      self->pending = TRUE;
      g_clear_pointer (&self->enhanced_code, g_free);
      g_clear_pointer (&self->text, g_free);
      return;
    }

  if (!enhanced_code_is_valid (self->code, self->enhanced_code))
    {
      g_critical ("VsmtpReply: \"%s\" is not a valid enhanced status code for a %u reply",
                  self->enhanced_code, self->code);
      g_clear_pointer (&self->enhanced_code, g_free);
    }

  if (self->text == NULL)
    self->text = g_strdup (default_text (self->code));
}

static void
vsmtp_reply_finalize (GObject *object)
{
  VsmtpReply *self = VSMTP_REPLY (object);

  g_clear_pointer (&self->enhanced_code, g_free);
  g_clear_pointer (&self->text, g_free);
  g_clear_pointer (&self->wire, g_free);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->recipients, g_ptr_array_unref);
  g_clear_pointer (&self->more_watches, g_array_unref);

  G_OBJECT_CLASS (vsmtp_reply_parent_class)->finalize (object);
}

static void
vsmtp_reply_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  VsmtpReply *self = VSMTP_REPLY (object);

  switch (prop_id)
    {
    case PROP_CODE:
      g_value_set_uint (value, self->code);
      break;

    case PROP_ENHANCED_CODE:
      g_value_set_string (value, self->enhanced_code);
      break;

    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;

    case PROP_PENDING:
      g_value_set_boolean (value, self->pending);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_reply_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  VsmtpReply *self = VSMTP_REPLY (object);

  switch (prop_id)
    {
    case PROP_CODE:
      self->code = g_value_get_uint (value);
      break;

    case PROP_ENHANCED_CODE:
      g_free (self->enhanced_code);
      self->enhanced_code = g_value_dup_string (value);
      break;

    case PROP_TEXT:
      g_free (self->text);
      self->text = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_reply_class_init (VsmtpReplyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = vsmtp_reply_constructed;
  object_class->finalize = vsmtp_reply_finalize;
  notify_signal = g_signal_lookup ("notify", G_TYPE_OBJECT);
  object_class->get_property = vsmtp_reply_get_property;
  object_class->set_property = vsmtp_reply_set_property;

  /**
   * VsmtpReply:code:
   *
   * The reply code, 200 to 599; 0 while the reply is pending.
   *
   * A reply constructed with a code of 0 is pending.
   */
  properties[PROP_CODE] =
    g_param_spec_uint ("code", NULL, NULL,
                       0, 599, 0,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_STATIC_STRINGS |
                        G_PARAM_EXPLICIT_NOTIFY));

  /**
   * VsmtpReply:enhanced-code:
   *
   * The enhanced status code (RFC 3463) such as "2.1.0", or %NULL.
   *
   * Its first digit matches the first digit of [property@Vsmtp.Reply:code].
   */
  properties[PROP_ENHANCED_CODE] =
    g_param_spec_string ("enhanced-code", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS |
                          G_PARAM_EXPLICIT_NOTIFY));

  /**
   * VsmtpReply:text:
   *
   * The human-readable text of the reply. Several lines are separated by
   * "\n"; each becomes a line of a multi-line reply. %NULL at construction
   * gives a default text for the code.
   */
  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS |
                          G_PARAM_EXPLICIT_NOTIFY));

  /**
   * VsmtpReply:pending:
   *
   * Whether the reply still waits for its decision. It becomes %FALSE when
   * [method@Vsmtp.Reply.complete] or [method@Vsmtp.Reply.complete_with]
   * succeeds.
   */
  properties[PROP_PENDING] =
    g_param_spec_boolean ("pending", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE |
                           G_PARAM_STATIC_STRINGS |
                           G_PARAM_EXPLICIT_NOTIFY));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VsmtpReply::completed:
   * @self: the reply
   *
   * Emitted once, when a pending reply is completed. Its handlers run
   * before the session that waits for the reply acts on it (sends it, or
   * goes on with the command), wherever they were connected.
   */
  signals[COMPLETED] =
    g_signal_new ("completed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 0);
}

static void
vsmtp_reply_init (VsmtpReply *self)
{
}

/**
 * vsmtp_reply_new:
 * @code: the reply code, 200 to 599
 * @enhanced_code: (nullable): the enhanced status code ("x.y.z"), whose
 *   first digit matches the first digit of @code
 * @text: (nullable): the text, lines separated by "\n"; %NULL for a
 *   default text
 *
 * Creates a completed reply.
 *
 * Returns: (transfer full): a new reply
 */
VsmtpReply *
vsmtp_reply_new (guint       code,
                 const char *enhanced_code,
                 const char *text)
{
  VsmtpReply *self;

  g_return_val_if_fail (code_is_valid (code), NULL);
  g_return_val_if_fail (enhanced_code_is_valid (code, enhanced_code), NULL);

  /* the arguments are checked: set the fields directly rather than pass
   * them as construct properties (GValues, a notify queue), once per reply */
  self = g_object_new (VSMTP_TYPE_REPLY, NULL);
  self->code = code;
  self->enhanced_code = g_strdup (enhanced_code);
  self->text = g_strdup (text != NULL ? text : default_text (code));
  self->pending = FALSE;
  return self;
}

/**
 * vsmtp_reply_new_printf:
 * @code: the reply code, 200 to 599
 * @enhanced_code: (nullable): the enhanced status code ("x.y.z")
 * @format: a printf() format for the text
 * @...: the arguments of @format
 *
 * Creates a completed reply whose text is formatted.
 *
 * Returns: (transfer full): a new reply
 */
VsmtpReply *
vsmtp_reply_new_printf (guint       code,
                        const char *enhanced_code,
                        const char *format,
                        ...)
{
  g_autofree char *text = NULL;
  va_list args;

  g_return_val_if_fail (code_is_valid (code), NULL);
  g_return_val_if_fail (enhanced_code_is_valid (code, enhanced_code), NULL);
  g_return_val_if_fail (format != NULL, NULL);

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  return vsmtp_reply_new (code, enhanced_code, text);
}

/**
 * vsmtp_reply_new_ok:
 *
 * Creates the reply `250 2.0.0 Ok`.
 *
 * Returns: (transfer full): a new reply
 */
VsmtpReply *
vsmtp_reply_new_ok (void)
{
  return vsmtp_reply_new (250, "2.0.0", "Ok");
}

/**
 * vsmtp_reply_new_temporary_failure:
 * @text: (nullable): the text; %NULL for "Temporary failure, try again later"
 *
 * Creates a `451 4.3.0` reply: the client should try again later.
 *
 * Returns: (transfer full): a new reply
 */
VsmtpReply *
vsmtp_reply_new_temporary_failure (const char *text)
{
  return vsmtp_reply_new (451, "4.3.0",
                          text != NULL ? text : "Temporary failure, try again later");
}

/**
 * vsmtp_reply_new_no_such_user:
 *
 * Creates the reply `550 5.1.1 No such user`, the answer to a RCPT for a
 * mailbox that does not exist.
 *
 * Returns: (transfer full): a new reply
 */
VsmtpReply *
vsmtp_reply_new_no_such_user (void)
{
  return vsmtp_reply_new (550, "5.1.1", "No such user");
}

/**
 * vsmtp_reply_new_relay_denied:
 *
 * Creates the reply `554 5.7.1 Relay access denied`, the answer to a RCPT
 * for a domain the server does not accept mail for.
 *
 * Returns: (transfer full): a new reply
 */
VsmtpReply *
vsmtp_reply_new_relay_denied (void)
{
  return vsmtp_reply_new (554, "5.7.1", "Relay access denied");
}

/**
 * vsmtp_reply_new_policy_rejection:
 * @text: (nullable): the text; %NULL for a default text
 *
 * Creates a `550 5.7.1` reply: rejected by local policy.
 *
 * Returns: (transfer full): a new reply
 */
VsmtpReply *
vsmtp_reply_new_policy_rejection (const char *text)
{
  return vsmtp_reply_new (550, "5.7.1",
                          text != NULL ? text : "Rejected by local policy");
}

/**
 * vsmtp_reply_new_pending:
 *
 * Creates a pending reply: a decision that comes later. Complete it with
 * [method@Vsmtp.Reply.complete] or [method@Vsmtp.Reply.complete_with].
 *
 * Returns: (transfer full): a new pending reply
 */
VsmtpReply *
vsmtp_reply_new_pending (void)
{
  return g_object_new (VSMTP_TYPE_REPLY, NULL);
}

static gboolean
complete_internal (VsmtpReply *self,
                   guint       code,
                   const char *enhanced_code,
                   const char *text,
                   gboolean    is_continue,
                   GPtrArray  *recipients)
{
  GObject *object = G_OBJECT (self);
  gboolean notify;

  if (!self->pending || self->expired)
    return FALSE;

  /* Nobody watches the properties of most pending replies: freezing,
   * queueing and thawing the four notifications cost 1,600 instructions
   * a completion, looking for a "notify" handler of any detail less than
   * half (g_signal_has_handler_pending() with no detail would only see
   * the handlers connected without one; GLib 2.74 has no cheaper test) */
  notify = g_signal_handler_find (self, G_SIGNAL_MATCH_ID, notify_signal, 0, NULL, NULL, NULL) != 0;
  if (notify)
    g_object_freeze_notify (object);

  self->code = code;
  g_free (self->enhanced_code);
  self->enhanced_code = g_strdup (enhanced_code);
  g_free (self->text);
  self->text = is_continue ? NULL : g_strdup (text != NULL ? text : default_text (code));
  self->is_continue = is_continue;
  if (recipients != NULL)
    self->recipients = g_ptr_array_ref (recipients);
  self->pending = FALSE;

  if (notify && !is_continue)
    {
      g_object_notify_by_pspec (object, properties[PROP_CODE]);
      if (enhanced_code != NULL)
        g_object_notify_by_pspec (object, properties[PROP_ENHANCED_CODE]);
      g_object_notify_by_pspec (object, properties[PROP_TEXT]);
    }
  if (notify)
    {
      g_object_notify_by_pspec (object, properties[PROP_PENDING]);
      g_object_thaw_notify (object);
    }

  g_signal_emit (self, signals[COMPLETED], 0);

  /* read after the emission (a handler may have ended a decision), and
   * again after each watch: a session's continuation may end another
   * session's decision, which removes that one's watch */
  if (self->completed_func != NULL || self->more_watches != NULL)
    {
      g_object_ref (self);
      for (;;)
        {
          VsmtpReplyCompletedFunc func = self->completed_func;
          gpointer data = self->completed_data;

          if (func != NULL)
            {
              self->completed_func = NULL;
              self->completed_data = NULL;
            }
          else if (self->more_watches != NULL && self->more_watches->len > 0)
            {
              Watch *watch = &g_array_index (self->more_watches, Watch, 0);

              func = watch->func;
              data = watch->data;
              g_array_remove_index (self->more_watches, 0);
            }
          else
            break;
          func (self, data);
        }
      g_clear_pointer (&self->more_watches, g_array_unref);
      g_object_unref (self);
    }

  return TRUE;
}

/**
 * vsmtp_reply_complete:
 * @self: a pending reply
 * @code: the reply code, 200 to 599
 * @enhanced_code: (nullable): the enhanced status code ("x.y.z")
 * @text: (nullable): the text; %NULL for a default text
 *
 * Gives a pending reply its decision, clears [property@Vsmtp.Reply:pending]
 * and emits [signal@Vsmtp.Reply::completed].
 *
 * Call it on the thread of the main context of the session waiting for the
 * reply (the thread its handler ran in): the session acts on the reply
 * before this returns. Work done on another thread hands its result back
 * to that context first, with g_main_context_invoke() for instance.
 *
 * Returns: %TRUE if the reply was completed; %FALSE (and nothing changes)
 *   if it was not pending any more: completed already, or expired because
 *   the session's decision deadline passed
 */
gboolean
vsmtp_reply_complete (VsmtpReply *self,
                      guint       code,
                      const char *enhanced_code,
                      const char *text)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);
  g_return_val_if_fail (code_is_valid (code), FALSE);
  g_return_val_if_fail (enhanced_code_is_valid (code, enhanced_code), FALSE);

  return complete_internal (self, code, enhanced_code, text, FALSE, NULL);
}

/**
 * vsmtp_reply_complete_with:
 * @self: a pending reply
 * @reply: a completed reply whose code, enhanced code and text are copied
 *
 * Like [method@Vsmtp.Reply.complete], taking the decision from another
 * reply, for example one made by [ctor@Vsmtp.Reply.new_no_such_user].
 *
 * Returns: %TRUE if the reply was completed; %FALSE if it was not pending
 *   any more
 */
gboolean
vsmtp_reply_complete_with (VsmtpReply *self,
                           VsmtpReply *reply)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);
  g_return_val_if_fail (VSMTP_IS_REPLY (reply), FALSE);
  g_return_val_if_fail (!reply->pending, FALSE);

  return complete_internal (self, reply->code, reply->enhanced_code, reply->text,
                            reply->is_continue, reply->recipients);
}

/**
 * vsmtp_reply_new_continue:
 *
 * Gets the "continue" reply: the handler has no opinion, the next handler
 * connected to the signal decides, and after the last one the standard
 * reply of the command (the class handler).
 *
 * This is how a handler says "no opinion". Returning %NULL (or raising in
 * a language binding) is a failure: the session answers `451 4.3.0`.
 * A pending reply can be completed with "continue" too
 * ([method@Vsmtp.Reply.complete_continue]).
 *
 * The continue reply has no code and is never sent to a client.
 *
 * Returns: (transfer full): the continue reply
 */
VsmtpReply *
vsmtp_reply_new_continue (void)
{
  static VsmtpReply *reply;
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      reply = g_object_new (VSMTP_TYPE_REPLY, NULL);
      reply->pending = FALSE;
      reply->is_continue = TRUE;
      g_once_init_leave (&initialized, 1);
    }
  return g_object_ref (reply);
}

/**
 * vsmtp_reply_is_continue:
 * @self: a reply
 *
 * Gets whether the reply is the "continue" reply (no opinion: the next
 * handler decides), made by [ctor@Vsmtp.Reply.new_continue] or by completing
 * a pending reply with [method@Vsmtp.Reply.complete_continue].
 *
 * Returns: %TRUE for a continue reply
 */
gboolean
vsmtp_reply_is_continue (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);

  return self->is_continue;
}

/**
 * vsmtp_reply_complete_continue:
 * @self: a pending reply
 *
 * Completes a pending reply with "continue": the handler that deferred has
 * no opinion after all, and the next handler connected to the signal
 * decides (then the standard reply). See [ctor@Vsmtp.Reply.new_continue].
 *
 * Returns: %TRUE if the reply was completed; %FALSE if it was not pending
 *   any more
 */
gboolean
vsmtp_reply_complete_continue (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);

  return complete_internal (self, 0, NULL, NULL, TRUE, NULL);
}

/* The fixed rule that turns per-recipient results into one SMTP reply:
 * every recipient delivered: the first one's reply; every one refused
 * for good: the first refusal; otherwise (a transient failure, or some
 * delivered and some refused) 451, so that the client tries again and no
 * recipient is lost (a retry may duplicate a copy). */
static VsmtpReply *
collapse (VsmtpReply **replies,
          guint        n_replies)
{
  guint n_positive = 0, n_permanent = 0;

  for (guint i = 0; i < n_replies; i++)
    {
      if (vsmtp_reply_is_positive (replies[i]))
        n_positive++;
      else if (vsmtp_reply_is_permanent (replies[i]))
        n_permanent++;
    }
  if (n_positive == n_replies || n_permanent == n_replies)
    return replies[0];
  return NULL;
}

static gboolean
recipient_replies_valid (VsmtpReply **replies,
                         guint        n_replies)
{
  if (n_replies == 0)
    return FALSE;
  for (guint i = 0; i < n_replies; i++)
    if (!VSMTP_IS_REPLY (replies[i]) || replies[i]->pending || replies[i]->is_continue ||
        replies[i]->recipients != NULL || replies[i]->code / 100 == 3)
      return FALSE;
  return TRUE;
}

static gboolean
complete_for_recipients (VsmtpReply  *self,
                         VsmtpReply **replies,
                         guint        n_replies)
{
  g_autoptr(GPtrArray) array = g_ptr_array_new_full (n_replies, g_object_unref);
  VsmtpReply *common = collapse (replies, n_replies);
  g_autofree char *text = NULL;
  guint n_positive = 0;

  for (guint i = 0; i < n_replies; i++)
    {
      g_ptr_array_add (array, g_object_ref (replies[i]));
      n_positive += vsmtp_reply_is_positive (replies[i]) ? 1 : 0;
    }
  if (common != NULL)
    return complete_internal (self, common->code, common->enhanced_code, common->text,
                              FALSE, array);

  text = g_strdup_printf ("Error: delivered to %u of %u recipients, try again later",
                          n_positive, n_replies);
  return complete_internal (self, 451, "4.3.0", text, FALSE, array);
}

/**
 * vsmtp_reply_new_for_recipients:
 * @replies: (array length=n_replies): one completed 2xx, 4xx or 5xx reply
 *   per accepted recipient, in the order of the envelope's recipients
 * @n_replies: the number of replies
 *
 * Creates the answer of a [signal@Vsmtp.Session::message-received] handler
 * that delivered (or failed) each recipient separately: a relay whose
 * upstream took some recipients and refused others, a delivery into one
 * mailbox per user.
 *
 * The reply's own code and text are the one SMTP answer for the message,
 * by a fixed rule: when every recipient's reply is positive, the first
 * one; when every one is a permanent failure, the first one; otherwise
 * `451 4.3.0` (the client tries the whole message again: a recipient
 * delivered already may get a second copy, none is lost). An LMTP session
 * sends each recipient's reply instead
 * ([method@Vsmtp.Reply.get_recipient_replies]).
 *
 * Returns: (transfer full): a new completed reply
 */
VsmtpReply *
vsmtp_reply_new_for_recipients (VsmtpReply **replies,
                                guint        n_replies)
{
  VsmtpReply *self;

  g_return_val_if_fail (replies != NULL || n_replies == 0, NULL);
  g_return_val_if_fail (recipient_replies_valid (replies, n_replies), NULL);

  self = vsmtp_reply_new_pending ();
  complete_for_recipients (self, replies, n_replies);
  return self;
}

/**
 * vsmtp_reply_complete_for_recipients:
 * @self: a pending reply
 * @replies: (array length=n_replies): one completed reply per accepted
 *   recipient, in the order of the envelope's recipients
 * @n_replies: the number of replies
 *
 * Completes a pending reply with one result per recipient, as
 * [ctor@Vsmtp.Reply.new_for_recipients] makes one.
 *
 * Returns: %TRUE if the reply was completed; %FALSE if it was not pending
 *   any more
 */
gboolean
vsmtp_reply_complete_for_recipients (VsmtpReply  *self,
                                     VsmtpReply **replies,
                                     guint        n_replies)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);
  g_return_val_if_fail (recipient_replies_valid (replies, n_replies), FALSE);

  return complete_for_recipients (self, replies, n_replies);
}

/**
 * vsmtp_reply_get_recipient_replies:
 * @self: a reply
 * @n_replies: (out): where to store the number of replies
 *
 * Gets the per-recipient replies of a reply made by
 * [ctor@Vsmtp.Reply.new_for_recipients] or completed by
 * [method@Vsmtp.Reply.complete_for_recipients].
 *
 * Returns: (array length=n_replies) (transfer none) (nullable): the
 *   replies, in the order of the recipients, or %NULL when the reply is
 *   one answer for the whole message
 */
VsmtpReply **
vsmtp_reply_get_recipient_replies (VsmtpReply *self,
                                   guint      *n_replies)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), NULL);
  g_return_val_if_fail (n_replies != NULL, NULL);

  if (self->recipients == NULL)
    {
      *n_replies = 0;
      return NULL;
    }
  *n_replies = self->recipients->len;
  return (VsmtpReply **) self->recipients->pdata;
}

/**
 * vsmtp_reply_get_cancellable:
 * @self: a pending reply
 *
 * Gets the cancellable of a deferred decision. The session cancels it when
 * the answer is no longer wanted: the client disconnected, the decision's
 * deadline passed (the client got `451 4.3.0`), or the server closed the
 * session. A handler passes it to the asynchronous work behind its answer
 * (a lookup, a delivery) and gives up, undoing what it did, when it is
 * cancelled: a message whose delivery was cancelled must not be delivered,
 * since the client was not told it was accepted.
 *
 * Completing a reply after its cancellation does nothing.
 *
 * Returns: (transfer none): the cancellable, the same one for the
 *   reply's whole life
 */
GCancellable *
vsmtp_reply_get_cancellable (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), NULL);

  if (self->cancellable == NULL)
    {
      self->cancellable = g_cancellable_new ();
      if (self->expired)
        g_cancellable_cancel (self->cancellable);
    }
  return self->cancellable;
}

void
_vsmtp_reply_expire (VsmtpReply *self)
{
  g_return_if_fail (VSMTP_IS_REPLY (self));

  if (self->pending)
    {
      self->expired = TRUE;
      if (self->cancellable != NULL)
        g_cancellable_cancel (self->cancellable);
    }
}

void
_vsmtp_reply_add_completed_func (VsmtpReply              *self,
                                 VsmtpReplyCompletedFunc  func,
                                 gpointer                 user_data)
{
  Watch watch = { func, user_data };

  g_return_if_fail (VSMTP_IS_REPLY (self));
  g_return_if_fail (func != NULL);

  if (self->completed_func == NULL && self->more_watches == NULL)
    {
      self->completed_func = func;
      self->completed_data = user_data;
      return;
    }
  if (self->more_watches == NULL)
    self->more_watches = g_array_new (FALSE, FALSE, sizeof (Watch));
  g_array_append_val (self->more_watches, watch);
}

gboolean
_vsmtp_reply_is_watched (VsmtpReply *self)
{
  return self->completed_func != NULL ||
         (self->more_watches != NULL && self->more_watches->len > 0);
}

void
_vsmtp_reply_remove_completed_func (VsmtpReply              *self,
                                    VsmtpReplyCompletedFunc  func,
                                    gpointer                 user_data)
{
  g_return_if_fail (VSMTP_IS_REPLY (self));

  if (self->completed_func == func && self->completed_data == user_data)
    {
      self->completed_func = NULL;
      self->completed_data = NULL;
      return;
    }
  for (guint i = 0; self->more_watches != NULL && i < self->more_watches->len; i++)
    {
      Watch *watch = &g_array_index (self->more_watches, Watch, i);

      if (watch->func == func && watch->data == user_data)
        {
          g_array_remove_index (self->more_watches, i);
          return;
        }
    }
}

gboolean
_vsmtp_reply_is_expired (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);

  return self->expired;
}

/**
 * vsmtp_reply_get_code:
 * @self: a reply
 *
 * Gets the reply code.
 *
 * Returns: the code, 200 to 599, or 0 if the reply is pending
 */
guint
vsmtp_reply_get_code (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), 0);

  return self->code;
}

/**
 * vsmtp_reply_get_enhanced_code:
 * @self: a reply
 *
 * Gets the enhanced status code.
 *
 * Returns: (nullable): the enhanced status code ("x.y.z"), or %NULL
 */
const char *
vsmtp_reply_get_enhanced_code (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), NULL);

  return self->enhanced_code;
}

/**
 * vsmtp_reply_get_text:
 * @self: a reply
 *
 * Gets the text of the reply, lines separated by "\n".
 *
 * Returns: (nullable): the text, or %NULL if the reply is pending
 */
const char *
vsmtp_reply_get_text (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), NULL);

  return self->text;
}

/**
 * vsmtp_reply_is_pending:
 * @self: a reply
 *
 * Gets whether the reply waits for its decision.
 *
 * Returns: %TRUE if the reply is pending
 */
gboolean
vsmtp_reply_is_pending (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);

  return self->pending;
}

/**
 * vsmtp_reply_is_positive:
 * @self: a reply
 *
 * Gets whether the reply is positive: a 2xx or 3xx code.
 *
 * Returns: %TRUE for a 2xx or 3xx reply, %FALSE otherwise (and while pending)
 */
gboolean
vsmtp_reply_is_positive (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);

  return self->code >= 200 && self->code < 400;
}

/**
 * vsmtp_reply_is_transient:
 * @self: a reply
 *
 * Gets whether the reply is a transient failure: a 4xx code.
 *
 * Returns: %TRUE for a 4xx reply
 */
gboolean
vsmtp_reply_is_transient (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);

  return self->code >= 400 && self->code < 500;
}

/**
 * vsmtp_reply_is_permanent:
 * @self: a reply
 *
 * Gets whether the reply is a permanent failure: a 5xx code.
 *
 * Returns: %TRUE for a 5xx reply
 */
gboolean
vsmtp_reply_is_permanent (VsmtpReply *self)
{
  g_return_val_if_fail (VSMTP_IS_REPLY (self), FALSE);

  return self->code >= 500 && self->code < 600;
}

static void
append_line (VsmtpReply *self,
             GString    *buffer,
             const char *line,
             gsize       length,
             gboolean    last)
{
  gsize prefix_start = buffer->len;
  gsize room;
  gsize i;

  if (self->code <= 999)
    {
      /* "%03u" without printf: once per reply sent */
      char digits[3] = { '0' + self->code / 100, '0' + self->code / 10 % 10, '0' + self->code % 10 };

      _vsmtp_string_append_len (buffer, digits, 3);
    }
  else
    g_string_append_printf (buffer, "%03u", self->code);
  if (self->enhanced_code != NULL)
    {
      g_string_append_c (buffer, last ? ' ' : '-');
      _vsmtp_string_append (buffer, self->enhanced_code);
      if (length > 0)
        g_string_append_c (buffer, ' ');
    }
  else if (length > 0 || !last || self->code == 334)
    {
      /* An empty last line is just the code, with no trailing space;
       * except a 334 challenge, whose grammar (RFC 4954) is "334" SP. */
      g_string_append_c (buffer, last ? ' ' : '-');
    }

  /* Room left for the text on a line of at most 512 octets with CRLF. */
  room = MAX_REPLY_LINE - 2 - (buffer->len - prefix_start);
  if (length > room)
    {
      length = room;
      /* Do not cut a UTF-8 sequence in two. */
      while (length > 0 && ((guchar) line[length] & 0xC0) == 0x80)
        length--;
    }

  for (i = 0; i < length; i++)
    {
      char c = line[i];

      /* A lone CR (or any stray control character that would end the
       * line) never reaches the wire. */
      if (c == '\r' || c == '\n')
        c = ' ';
      g_string_append_c (buffer, c);
    }

  _vsmtp_string_append_len (buffer, "\r\n", 2);
}

/**
 * vsmtp_reply_append_to:
 * @self: a completed reply
 * @buffer: a string to append to
 *
 * Appends the reply in its wire format to @buffer: one line per line of
 * text, each "CODE-x.y.z text" CRLF, the last one "CODE x.y.z text" CRLF.
 * Lines are cut so that none exceeds 512 octets; CR and LF in the text never
 * leak into the output except as line separators.
 */
static void vsmtp_reply_format (VsmtpReply *self,
                                GString    *buffer);

void
vsmtp_reply_append_to (VsmtpReply *self,
                       GString    *buffer)
{
  g_return_if_fail (VSMTP_IS_REPLY (self));
  g_return_if_fail (buffer != NULL);
  g_return_if_fail (!self->pending);
  g_return_if_fail (!self->is_continue);

  /* a completed reply never changes: format it once */
  if (self->wire != NULL)
    {
      _vsmtp_string_append_len (buffer, self->wire, self->wire_length);
      return;
    }

  {
    gsize start = buffer->len;

    vsmtp_reply_format (self, buffer);
    self->wire_length = buffer->len - start;
    self->wire = g_strndup (buffer->str + start, self->wire_length);
  }
}

static void
vsmtp_reply_format (VsmtpReply *self,
                    GString    *buffer)
{
  const char *p;
  const char *end;

  p = self->text != NULL ? self->text : "";
  end = p + strlen (p);

  /* Trailing newlines would only add empty lines. */
  while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
    end--;

  for (;;)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *line_end = nl != NULL ? nl : end;

      if (line_end > p && line_end[-1] == '\r')
        line_end--;

      append_line (self, buffer, p, line_end - p, nl == NULL);

      if (nl == NULL)
        break;
      p = nl + 1;
    }
}

/**
 * vsmtp_reply_to_string:
 * @self: a completed reply
 *
 * Formats the reply as it is sent on the wire, CRLF line endings included.
 * See [method@Vsmtp.Reply.append_to].
 *
 * Returns: (transfer full): the reply's wire format
 */
char *
vsmtp_reply_to_string (VsmtpReply *self)
{
  GString *buffer;

  g_return_val_if_fail (VSMTP_IS_REPLY (self), NULL);
  g_return_val_if_fail (!self->pending, NULL);
  g_return_val_if_fail (!self->is_continue, NULL);

  buffer = g_string_new (NULL);
  vsmtp_reply_append_to (self, buffer);

  return g_string_free (buffer, FALSE);
}

/* vsmtp-extension.c: ESMTP extensions: EHLO keywords and MAIL/RCPT
 * parameters, and the server's registry of them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-dsn-private.h"
#include "vsmtp-enums.h"
#include "vsmtp-error.h"
#include "vsmtp-extension-private.h"
#include "vsmtp-listen-options-private.h"
#include "vsmtp-sasl-private.h"
#include "vsmtp-server-private.h"
#include "vsmtp-session-private.h"
#include "vsmtp-xclient-private.h"

/**
 * VsmtpExtension:
 *
 * An ESMTP extension: the keyword a server lists in its EHLO reply, the
 * text after it, when it is offered, and the parameters it adds to
 * `MAIL FROM` and `RCPT TO`.
 *
 * Extensions live in a [class@Vsmtp.Server]'s registry
 * ([method@Vsmtp.Server.register_extension]). The built-in ones are
 * registered there too — `PIPELINING`, `SIZE`, `ENHANCEDSTATUSCODES`,
 * `8BITMIME`, `SMTPUTF8`, `STARTTLS`, `AUTH`, `CHUNKING`, `BINARYMIME`,
 * `DSN`, `LIMITS`, `REQUIRETLS` and `XCLIENT` (offered only to a listener's
 * `xclient-trusted` peers), listed in that order after the host
 * name — and the extensions registered later follow them in the order of
 * registration. A session has no other list: its EHLO reply is the
 * registry's keywords that are offered in that session, and a MAIL or RCPT
 * parameter is accepted only when an offered extension declares it for
 * that command.
 *
 * What an extension decides, and how:
 *
 * - **When it is offered**: the [property@Vsmtp.Extension:flags]
 *   (always, only with TLS, only without), then, if connected, a
 *   [signal@Vsmtp.Extension::is-offered] handler.
 * - **The text after the keyword**: a fixed
 *   [property@Vsmtp.Extension:ehlo-parameters], or computed per session by a
 *   [signal@Vsmtp.Extension::compute-ehlo-parameters] handler.
 * - **Its parameters**: [method@Vsmtp.Extension.add_parameter] declares a
 *   name, the commands that take it and whether it has a value;
 *   [signal@Vsmtp.Extension::validate] handlers check the values.
 *
 * A parameter is refused with
 *
 * - `555 5.5.4 Unsupported option: NAME` when no extension declares it for
 *   that command, or its extension is not offered in the session (a
 *   `TLS_ONLY` extension's parameter before STARTTLS);
 * - `501 5.5.4 Bad NAME parameter value` when it has a value and must not,
 *   or has none and must;
 * - the reply of a [signal@Vsmtp.Extension::validate] handler that refuses
 *   it;
 * - `501 5.5.4` when it is given twice in one command (the command parser
 *   refuses it before the registry is asked).
 *
 * Accepted parameters reach the handlers of
 * [signal@Vsmtp.Session::mail-from] and [signal@Vsmtp.Session::rcpt-to] in
 * their [struct@Vsmtp.Parameters], and stay in the session's
 * [class@Vsmtp.Envelope] ([method@Vsmtp.Envelope.get_mail_parameter],
 * [method@Vsmtp.Envelope.get_recipient_parameters]).
 *
 * From Python:
 *
 * ```python
 * ext = Vsmtp.Extension.new("XPRIORITY", Vsmtp.ExtensionFlags.NONE)
 * ext.set_ehlo_parameters("LOW HIGH")
 * ext.add_parameter("PRIORITY", Vsmtp.ParameterCommand.MAIL,
 *                   Vsmtp.ParameterSyntax.VALUE)
 *
 * def validate(ext, session, command, name, value):
 *     if value.upper() not in ("LOW", "HIGH"):
 *         return Vsmtp.Reply.new(501, "5.5.4", "Bad PRIORITY parameter value")
 *     return Vsmtp.Reply.new_continue()
 *
 * ext.connect("validate", validate)
 * server.register_extension(ext)
 * ```
 *
 * The built-in extensions are implemented in C: their signals are not
 * emitted. To change one, unregister it and register an extension of your
 * own with its keyword (the session still implements the STARTTLS and AUTH
 * commands themselves).
 *
 * An extension is configured before it is registered: its keyword, flags
 * and parameters cannot change while it is in a registry.
 */

typedef struct {
  char                  *name;        /* upper case */
  VsmtpParameterCommand  commands;
  VsmtpParameterSyntax   syntax;
  VsmtpExtension        *extension;   /* weak: it owns this */
} ExtensionParameter;

/* The built-in extensions: plain C, no signal emission. */
typedef struct {
  gboolean    (*offered)      (VsmtpSession        *session,
                               const VsmtpSettings *settings);
  /* appends " parameters" to an EHLO line, or nothing */
  void        (*append_ehlo)  (VsmtpSession        *session,
                               const VsmtpSettings *settings,
                               GString             *text);
  /* NULL: accepted */
  VsmtpReply *(*validate)     (VsmtpSession        *session,
                               const VsmtpSettings *settings,
                               const char          *name,
                               const char          *value);
} BuiltinOps;

struct _VsmtpExtensionRegistry
{
  VsmtpServer *server;       /* weak: it owns the registry */
  GPtrArray   *extensions;   /* VsmtpExtension, in EHLO order */
  GHashTable  *parameters;   /* name -> ExtensionParameter (owned by its extension) */
};

struct _VsmtpExtension
{
  GObject                 parent_instance;

  char                   *keyword;
  VsmtpExtensionFlags     flags;
  char                   *ehlo_parameters;
  GPtrArray              *parameters;   /* ExtensionParameter */
  VsmtpExtensionRegistry *registry;     /* weak: while registered */
  const BuiltinOps       *builtin;
};

G_DEFINE_FINAL_TYPE (VsmtpExtension, vsmtp_extension, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_KEYWORD,
  PROP_FLAGS,
  PROP_EHLO_PARAMETERS,
  N_PROPS
};

enum {
  SIGNAL_IS_OFFERED,
  SIGNAL_COMPUTE_EHLO_PARAMETERS,
  SIGNAL_VALIDATE,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* ------------------------------------------------------------------------ */
/* Syntax (RFC 5321 4.1.1.1 and 4.1.2)                                      */

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static gboolean
is_esmtp_keyword (const char *s)
{
  if (s == NULL || !g_ascii_isalnum (*s))
    return FALSE;
  for (s++; *s != '\0'; s++)
    if (!g_ascii_isalnum (*s) && *s != '-')
      return FALSE;
  return TRUE;
}

/* ehlo-param *(SP ehlo-param), ehlo-param = 1*(%d33-126) */
static gboolean
is_ehlo_parameters (const char *s)
{
  gboolean after_space = TRUE;

  if (s == NULL || *s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    {
      if (*s == ' ')
        {
          if (after_space)
            return FALSE;
          after_space = TRUE;
        }
      else if ((guchar) *s < 33 || (guchar) *s > 126)
        return FALSE;
      else
        after_space = FALSE;
    }
  return !after_space;
}

/* ------------------------------------------------------------------------ */
/* The object                                                               */

static void
extension_parameter_free (gpointer data)
{
  ExtensionParameter *parameter = data;

  g_free (parameter->name);
  g_free (parameter);
}

static void
vsmtp_extension_finalize (GObject *object)
{
  VsmtpExtension *self = VSMTP_EXTENSION (object);

  g_free (self->keyword);
  g_free (self->ehlo_parameters);
  g_ptr_array_unref (self->parameters);

  G_OBJECT_CLASS (vsmtp_extension_parent_class)->finalize (object);
}

static void
vsmtp_extension_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  VsmtpExtension *self = VSMTP_EXTENSION (object);

  switch (prop_id)
    {
    case PROP_KEYWORD:
      g_value_set_string (value, self->keyword);
      break;
    case PROP_FLAGS:
      g_value_set_flags (value, self->flags);
      break;
    case PROP_EHLO_PARAMETERS:
      g_value_set_string (value, self->ehlo_parameters);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_extension_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  VsmtpExtension *self = VSMTP_EXTENSION (object);

  switch (prop_id)
    {
    case PROP_KEYWORD:
      self->keyword = g_value_dup_string (value);
      break;
    case PROP_FLAGS:
      self->flags = g_value_get_flags (value);
      break;
    case PROP_EHLO_PARAMETERS:
      vsmtp_extension_set_ehlo_parameters (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Handlers decide in turn: "continue" goes on to the next one, anything
 * else (NULL included: a failure) ends the emission. */
static gboolean
validate_accumulator (GSignalInvocationHint *ihint,
                      GValue                *return_accu,
                      const GValue          *handler_return,
                      gpointer               data)
{
  VsmtpReply *reply = g_value_get_object (handler_return);

  g_value_set_object (return_accu, reply);
  return reply != NULL && vsmtp_reply_is_continue (reply);
}

static void
vsmtp_extension_class_init (VsmtpExtensionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vsmtp_extension_finalize;
  object_class->get_property = vsmtp_extension_get_property;
  object_class->set_property = vsmtp_extension_set_property;

  /**
   * VsmtpExtension:keyword:
   *
   * The EHLO keyword (`XPRIORITY`): a letter or digit, then letters,
   * digits and hyphens. Matched without regard to case.
   */
  properties[PROP_KEYWORD] =
    g_param_spec_string ("keyword", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpExtension:flags:
   *
   * When the extension is offered.
   */
  properties[PROP_FLAGS] =
    g_param_spec_flags ("flags", NULL, NULL,
                        VSMTP_TYPE_EXTENSION_FLAGS,
                        VSMTP_EXTENSION_FLAGS_NONE,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VsmtpExtension:ehlo-parameters:
   *
   * The fixed text after the keyword in the EHLO reply (`LOW HIGH` gives
   * `250-XPRIORITY LOW HIGH`), or %NULL for the keyword alone. A
   * [signal@Vsmtp.Extension::compute-ehlo-parameters] handler takes precedence.
   *
   * Printable ASCII words separated by single spaces.
   */
  properties[PROP_EHLO_PARAMETERS] =
    g_param_spec_string ("ehlo-parameters", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VsmtpExtension::is-offered:
   * @self: the extension
   * @session: the session whose EHLO reply or command is being handled
   *
   * Decides whether the extension is offered in @session, once its
   * [property@Vsmtp.Extension:flags] allow it. Without a handler it is.
   * The first handler decides; one that fails (raises, in a binding)
   * returns %FALSE: the extension is not offered.
   *
   * It is asked for every EHLO reply and for every MAIL or RCPT command
   * that gives one of the extension's parameters: keep it cheap.
   *
   * Returns: whether the extension is offered in @session
   */
  signals[SIGNAL_IS_OFFERED] =
    g_signal_new ("is-offered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_first_wins, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, VSMTP_TYPE_SESSION);

  /**
   * VsmtpExtension::compute-ehlo-parameters:
   * @self: the extension
   * @session: the session whose EHLO reply is being built
   *
   * Computes the text after the keyword for @session (as `SIZE` gives the
   * server's limit). Without a handler the
   * [property@Vsmtp.Extension:ehlo-parameters] property is used. Text that
   * is not printable ASCII words separated by single spaces drops the
   * keyword from that reply (and is logged).
   *
   * Returns: (transfer full) (nullable): the parameters, or %NULL for the
   *   keyword alone
   */
  signals[SIGNAL_COMPUTE_EHLO_PARAMETERS] =
    g_signal_new ("compute-ehlo-parameters", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_first_wins, NULL, NULL,
                  G_TYPE_STRING, 1, VSMTP_TYPE_SESSION);

  /**
   * VsmtpExtension::validate:
   * @self: the extension
   * @session: the session
   * @command: %VSMTP_PARAMETER_COMMAND_MAIL or %VSMTP_PARAMETER_COMMAND_RCPT
   * @name: the parameter's upper-case name
   * @value: (nullable): its value, %NULL for a bare keyword
   *
   * Checks one of the extension's parameters, once its form (value or
   * none) is right. The command's signal
   * ([signal@Vsmtp.Session::mail-from], [signal@Vsmtp.Session::rcpt-to])
   * runs only when every parameter is accepted.
   *
   * Return [ctor@Vsmtp.Reply.new_continue] (or a positive reply) to accept
   * the value, a negative reply to refuse the command with it (`501 5.5.4
   * Bad NAME parameter value`, `552 5.3.4`...). The handlers run in turn
   * while they answer "continue". As everywhere in libvsmtp, %NULL — a C
   * handler without an answer, a Python handler that raised — fails closed:
   * the command is refused with `451 4.3.0` and the failure is logged. The
   * answer is needed at once: a pending reply counts as a failure.
   *
   * Returns: (transfer full) (nullable): the decision
   */
  signals[SIGNAL_VALIDATE] =
    g_signal_new ("validate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, validate_accumulator, NULL, NULL,
                  VSMTP_TYPE_REPLY, 4, VSMTP_TYPE_SESSION,
                  VSMTP_TYPE_PARAMETER_COMMAND, G_TYPE_STRING, G_TYPE_STRING);
}

static void
vsmtp_extension_init (VsmtpExtension *self)
{
  self->parameters = g_ptr_array_new_with_free_func (extension_parameter_free);
}

/**
 * vsmtp_extension_new:
 * @keyword: the EHLO keyword, such as `XPRIORITY`
 * @flags: when the extension is offered
 *
 * Creates an extension to configure and then register with
 * [method@Vsmtp.Server.register_extension].
 *
 * Returns: (transfer full): a new extension
 */
VsmtpExtension *
vsmtp_extension_new (const char          *keyword,
                     VsmtpExtensionFlags  flags)
{
  g_return_val_if_fail (keyword != NULL, NULL);

  return g_object_new (VSMTP_TYPE_EXTENSION, "keyword", keyword, "flags", flags, NULL);
}

/**
 * vsmtp_extension_get_keyword:
 * @self: an extension
 *
 * Returns: (nullable): the EHLO keyword
 */
const char *
vsmtp_extension_get_keyword (VsmtpExtension *self)
{
  g_return_val_if_fail (VSMTP_IS_EXTENSION (self), NULL);
  return self->keyword;
}

/**
 * vsmtp_extension_get_flags:
 * @self: an extension
 *
 * Returns: when the extension is offered
 */
VsmtpExtensionFlags
vsmtp_extension_get_flags (VsmtpExtension *self)
{
  g_return_val_if_fail (VSMTP_IS_EXTENSION (self), VSMTP_EXTENSION_FLAGS_NONE);
  return self->flags;
}

/**
 * vsmtp_extension_get_ehlo_parameters:
 * @self: an extension
 *
 * Returns: (nullable): the fixed text after the keyword in EHLO replies
 */
const char *
vsmtp_extension_get_ehlo_parameters (VsmtpExtension *self)
{
  g_return_val_if_fail (VSMTP_IS_EXTENSION (self), NULL);
  return self->ehlo_parameters;
}

/**
 * vsmtp_extension_set_ehlo_parameters:
 * @self: an extension
 * @parameters: (nullable): printable ASCII words separated by single
 *   spaces, or %NULL for the keyword alone
 *
 * Sets the fixed text after the keyword in EHLO replies. It may change
 * while the extension is registered: the next EHLO reply has it.
 */
void
vsmtp_extension_set_ehlo_parameters (VsmtpExtension *self,
                                     const char     *parameters)
{
  g_return_if_fail (VSMTP_IS_EXTENSION (self));
  g_return_if_fail (parameters == NULL || is_ehlo_parameters (parameters));

  if (g_strcmp0 (self->ehlo_parameters, parameters) == 0)
    return;
  g_free (self->ehlo_parameters);
  self->ehlo_parameters = g_strdup (parameters);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EHLO_PARAMETERS]);
}

static ExtensionParameter *
extension_find_parameter (VsmtpExtension *self,
                          const char     *name)
{
  for (guint i = 0; i < self->parameters->len; i++)
    {
      ExtensionParameter *parameter = g_ptr_array_index (self->parameters, i);

      if (g_ascii_strcasecmp (parameter->name, name) == 0)
        return parameter;
    }
  return NULL;
}

/**
 * vsmtp_extension_add_parameter:
 * @self: an extension, not registered yet
 * @name: the parameter's keyword, such as `PRIORITY` (any case)
 * @commands: the commands that take it
 * @syntax: whether it has a value
 *
 * Declares a MAIL FROM or RCPT TO parameter of the extension. Declaring a
 * name again replaces its earlier declaration. The name must not be
 * another registered extension's parameter
 * ([method@Vsmtp.Server.register_extension] checks).
 */
void
vsmtp_extension_add_parameter (VsmtpExtension        *self,
                               const char            *name,
                               VsmtpParameterCommand  commands,
                               VsmtpParameterSyntax   syntax)
{
  ExtensionParameter *parameter;

  g_return_if_fail (VSMTP_IS_EXTENSION (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail ((commands & VSMTP_PARAMETER_COMMAND_BOTH) != 0);
  g_return_if_fail (syntax <= VSMTP_PARAMETER_SYNTAX_OPTIONAL_VALUE);
  g_return_if_fail (self->registry == NULL);

  parameter = extension_find_parameter (self, name);
  if (parameter == NULL)
    {
      parameter = g_new0 (ExtensionParameter, 1);
      parameter->name = g_ascii_strup (name, -1);
      parameter->extension = self;
      g_ptr_array_add (self->parameters, parameter);
    }
  parameter->commands = commands & VSMTP_PARAMETER_COMMAND_BOTH;
  parameter->syntax = syntax;
}

/**
 * vsmtp_extension_lookup_parameter:
 * @self: an extension
 * @name: a parameter keyword (any case)
 * @commands: (out) (optional): the commands that take it
 * @syntax: (out) (optional): whether it has a value
 *
 * Looks up one of the extension's parameters.
 *
 * Returns: whether the extension has parameter @name
 */
gboolean
vsmtp_extension_lookup_parameter (VsmtpExtension        *self,
                                  const char            *name,
                                  VsmtpParameterCommand *commands,
                                  VsmtpParameterSyntax  *syntax)
{
  ExtensionParameter *parameter;

  g_return_val_if_fail (VSMTP_IS_EXTENSION (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  parameter = extension_find_parameter (self, name);
  if (parameter == NULL)
    return FALSE;
  if (commands != NULL)
    *commands = parameter->commands;
  if (syntax != NULL)
    *syntax = parameter->syntax;
  return TRUE;
}

/**
 * vsmtp_extension_dup_parameter_names:
 * @self: an extension
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the
 *   extension's parameters, upper case, in the order they were added
 */
char **
vsmtp_extension_dup_parameter_names (VsmtpExtension *self)
{
  char **names;

  g_return_val_if_fail (VSMTP_IS_EXTENSION (self), NULL);

  names = g_new0 (char *, self->parameters->len + 1);
  for (guint i = 0; i < self->parameters->len; i++)
    names[i] = g_strdup (((ExtensionParameter *) g_ptr_array_index (self->parameters, i))->name);
  return names;
}

/**
 * vsmtp_extension_is_registered:
 * @self: an extension
 *
 * Returns: whether the extension is in a server's registry
 */
gboolean
vsmtp_extension_is_registered (VsmtpExtension *self)
{
  g_return_val_if_fail (VSMTP_IS_EXTENSION (self), FALSE);
  return self->registry != NULL;
}

static gboolean
extension_offered (VsmtpExtension *self,
                   VsmtpSession   *session)
{
  gboolean tls = vsmtp_session_is_tls (session);
  gboolean offered = TRUE;

  if ((self->flags & VSMTP_EXTENSION_FLAGS_TLS_ONLY) && !tls)
    return FALSE;
  if ((self->flags & VSMTP_EXTENSION_FLAGS_PLAINTEXT_ONLY) && tls)
    return FALSE;
  if (_vsmtp_listen_options_extension_disabled (vsmtp_session_get_listen_options (session),
                                                self->keyword))
    return FALSE;
  if (self->builtin != NULL)
    return self->builtin->offered == NULL || self->builtin->offered (session, _vsmtp_session_get_settings (session));
  if (g_signal_has_handler_pending (self, signals[SIGNAL_IS_OFFERED], 0, FALSE))
    g_signal_emit (self, signals[SIGNAL_IS_OFFERED], 0, session, &offered);
  return offered;
}

/**
 * vsmtp_extension_offered_in:
 * @self: an extension
 * @session: a session
 *
 * Tells whether the extension is offered in @session: what the session's
 * EHLO reply lists and its MAIL and RCPT commands accept. This asks the
 * [property@Vsmtp.Extension:flags] and the
 * [signal@Vsmtp.Extension::is-offered] handlers; it does not check that the
 * extension is registered.
 *
 * Returns: whether the extension is offered in @session
 */
gboolean
vsmtp_extension_offered_in (VsmtpExtension *self,
                            VsmtpSession   *session)
{
  g_return_val_if_fail (VSMTP_IS_EXTENSION (self), FALSE);
  g_return_val_if_fail (VSMTP_IS_SESSION (session), FALSE);

  return extension_offered (self, session);
}

/* ------------------------------------------------------------------------ */
/* The built-in extensions                                                  */

static void
size_append_ehlo (VsmtpSession *session,
                  const VsmtpSettings *settings,
                  GString      *text)
{
  g_string_append_printf (text, " %" G_GUINT64_FORMAT,
                          settings->max_message_size);
}

/* RFC 1870 */
static VsmtpReply *
size_validate (VsmtpSession *session,
               const VsmtpSettings *settings,
               const char   *name,
               const char   *value)
{
  guint64 size;

  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &size, NULL))
    return vsmtp_reply_new (501, "5.5.4", "Bad message size syntax");
  if (size > settings->max_message_size)
    return vsmtp_reply_new (552, "5.3.4", "Message size exceeds fixed limit");
  return NULL;
}

/* RFC 6152 */
static VsmtpReply *
body_validate (VsmtpSession *session,
               const VsmtpSettings *settings,
               const char   *name,
               const char   *value)
{
  if (g_ascii_strcasecmp (value, "7BIT") != 0 &&
      g_ascii_strcasecmp (value, "8BITMIME") != 0 &&
      /* RFC 3030 3: only where BINARYMIME is offered */
      (g_ascii_strcasecmp (value, "BINARYMIME") != 0 ||
       !_vsmtp_extension_registry_offers (settings->extensions, session, "BINARYMIME")))
    return vsmtp_reply_new (501, "5.5.4", "Bad BODY parameter value");
  return NULL;
}

/* RFC 3030 3: BINARYMIME is offered only with CHUNKING (BDAT is its
 * only way in) */
static gboolean
binarymime_offered (VsmtpSession        *session,
                    const VsmtpSettings *settings)
{
  return _vsmtp_extension_registry_offers (settings->extensions, session, "CHUNKING");
}

/* RFC 3207; the flags say "not over TLS" */
static gboolean
starttls_offered (VsmtpSession *session,
                  const VsmtpSettings *settings)
{
  return settings->tls_certificate != NULL;
}

/* RFC 4954 */
static gboolean
auth_offered (VsmtpSession *session,
              const VsmtpSettings *settings)
{
  return settings->auth_mechanisms != NULL &&
         (vsmtp_session_is_tls (session) || !settings->auth_requires_tls);
}

static void
auth_append_ehlo (VsmtpSession *session,
                  const VsmtpSettings *settings,
                  GString      *text)
{
  /* -PLUS only where the session's TLS connection has channel binding */
  g_auto(GStrv) mechanisms = _vsmtp_sasl_dup_offered (session);

  for (gsize i = 0; mechanisms != NULL && mechanisms[i] != NULL; i++)
    {
      g_string_append_c (text, ' ');
      g_string_append (text, mechanisms[i]);
    }
}

/* RFC 3461 (vsmtp-dsn.c): RET, ENVID, NOTIFY, ORCPT; ORCPT's utf-8
 * addresses (RFC 6533) may be UTF-8 as they are in an SMTPUTF8 transaction */
static VsmtpReply *
dsn_validate (VsmtpSession        *session,
              const VsmtpSettings *settings,
              const char          *name,
              const char          *value)
{
  VsmtpEnvelope *envelope = vsmtp_session_get_envelope (session);

  return _vsmtp_dsn_check_parameter (name, value,
                                     envelope != NULL &&
                                     g_hash_table_contains (vsmtp_envelope_get_mail_parameters (envelope),
                                                            "SMTPUTF8"));
}

/* RFC 9422: the limits the session enforces */
static void
limits_append_ehlo (VsmtpSession        *session,
                    const VsmtpSettings *settings,
                    GString             *text)
{
  g_string_append_printf (text, " RCPTMAX=%u", settings->max_recipients);
  if (settings->limits.max_transactions > 0)
    g_string_append_printf (text, " MAILMAX=%u", settings->limits.max_transactions);
}

static const BuiltinOps builtin_plain = { NULL, NULL, NULL };
static const BuiltinOps builtin_dsn = { NULL, NULL, dsn_validate };
static const BuiltinOps builtin_limits = { NULL, limits_append_ehlo, NULL };
static const BuiltinOps builtin_size = { NULL, size_append_ehlo, size_validate };
static const BuiltinOps builtin_8bitmime = { NULL, NULL, body_validate };
/* RFC 6531 §3.1: an SMTPUTF8 server supports 8BITMIME too, so SMTPUTF8
 * goes with it (unregistering 8BITMIME takes SMTPUTF8 away; an 8BITMIME
 * registered in its place, with its own offered rules, brings it back) */
static gboolean
smtputf8_offered (VsmtpSession        *session,
                  const VsmtpSettings *settings)
{
  GPtrArray *extensions = settings->extensions->extensions;

  for (guint i = 0; i < extensions->len; i++)
    {
      VsmtpExtension *extension = g_ptr_array_index (extensions, i);

      if (g_ascii_strcasecmp (extension->keyword, "8BITMIME") == 0)
        return extension_offered (extension, session);
    }
  return FALSE;
}

/* the MAIL parameter SMTPUTF8 takes no value; the session judges the
 * addresses (vsmtp-idna.c) */
static const BuiltinOps builtin_smtputf8 = { smtputf8_offered, NULL, NULL };
static const BuiltinOps builtin_starttls = { starttls_offered, NULL, NULL };
/* AUTH=: the submitter's identity (xtext) or <>, RFC 4954 5: any value */
static const BuiltinOps builtin_auth = { auth_offered, auth_append_ehlo, NULL };
/* RFC 3030: CHUNKING is the BDAT command (vsmtp-session-bdat.c);
 * BINARYMIME the BODY=BINARYMIME value (body_validate) */
static const BuiltinOps builtin_binarymime = { binarymime_offered, NULL, NULL };

/* Postfix's XCLIENT, to the listener's xclient-trusted peers (vsmtp-xclient.c) */
static void
xclient_append_ehlo (VsmtpSession        *session,
                     const VsmtpSettings *settings,
                     GString             *text)
{
  g_string_append (text, " " VSMTP_XCLIENT_EHLO_ATTRIBUTES);
}

static const BuiltinOps builtin_xclient = { _vsmtp_xclient_offered, xclient_append_ehlo, NULL };

/* ------------------------------------------------------------------------ */
/* The registry                                                             */

static gboolean
registry_add (VsmtpExtensionRegistry  *self,
              VsmtpExtension          *extension,
              GError                 **error)
{
  if (extension->registry != NULL)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_FAILED,
                   "The extension %s is registered already", extension->keyword);
      return FALSE;
    }
  if (!is_esmtp_keyword (extension->keyword))
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "Invalid EHLO keyword “%s”", extension->keyword ? extension->keyword : "(null)");
      return FALSE;
    }
  if ((extension->flags & VSMTP_EXTENSION_FLAGS_TLS_ONLY) &&
      (extension->flags & VSMTP_EXTENSION_FLAGS_PLAINTEXT_ONLY))
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_FAILED,
                   "The extension %s would never be offered: it has both TLS_ONLY and PLAINTEXT_ONLY",
                   extension->keyword);
      return FALSE;
    }
  for (guint i = 0; i < self->extensions->len; i++)
    {
      VsmtpExtension *other = g_ptr_array_index (self->extensions, i);

      if (g_ascii_strcasecmp (other->keyword, extension->keyword) == 0)
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_FAILED,
                       "An extension with the keyword %s is registered already",
                       extension->keyword);
          return FALSE;
        }
    }
  for (guint i = 0; i < extension->parameters->len; i++)
    {
      ExtensionParameter *parameter = g_ptr_array_index (extension->parameters, i);
      ExtensionParameter *other;

      if (!is_esmtp_keyword (parameter->name))
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                       "Invalid parameter keyword “%s” in the extension %s",
                       parameter->name, extension->keyword);
          return FALSE;
        }
      other = g_hash_table_lookup (self->parameters, parameter->name);
      if (other != NULL)
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_FAILED,
                       "The parameter %s of the extension %s is the extension %s's already",
                       parameter->name, extension->keyword, other->extension->keyword);
          return FALSE;
        }
    }

  for (guint i = 0; i < extension->parameters->len; i++)
    {
      ExtensionParameter *parameter = g_ptr_array_index (extension->parameters, i);

      g_hash_table_insert (self->parameters, parameter->name, parameter);
    }
  g_ptr_array_add (self->extensions, g_object_ref (extension));
  extension->registry = self;
  return TRUE;
}

/* a built-in with one parameter of any @commands and @syntax */
static void
registry_add_builtin_full (VsmtpExtensionRegistry *self,
                           const char             *keyword,
                           VsmtpExtensionFlags     flags,
                           const BuiltinOps       *ops,
                           const char             *parameter,
                           VsmtpParameterCommand   commands,
                           VsmtpParameterSyntax    syntax)
{
  g_autoptr(VsmtpExtension) extension = vsmtp_extension_new (keyword, flags);
  gboolean added;

  extension->builtin = ops;
  vsmtp_extension_add_parameter (extension, parameter, commands, syntax);
  added = registry_add (self, extension, NULL);
  g_assert (added);
}

static void
registry_add_builtin (VsmtpExtensionRegistry *self,
                      const char             *keyword,
                      VsmtpExtensionFlags     flags,
                      const BuiltinOps       *ops,
                      const char             *parameter)
{
  g_autoptr(VsmtpExtension) extension = vsmtp_extension_new (keyword, flags);
  gboolean added;

  extension->builtin = ops;
  if (parameter != NULL)
    vsmtp_extension_add_parameter (extension, parameter, VSMTP_PARAMETER_COMMAND_MAIL,
                                   VSMTP_PARAMETER_SYNTAX_VALUE);
  added = registry_add (self, extension, NULL);
  g_assert (added);
}

typedef struct {
  const char            *name;
  VsmtpParameterCommand  commands;
  VsmtpParameterSyntax   syntax;
} BuiltinParameter;

/* A built-in with parameters of either command, with or without values */
static void
registry_add_builtin_parameters (VsmtpExtensionRegistry *self,
                                 const char             *keyword,
                                 VsmtpExtensionFlags     flags,
                                 const BuiltinOps       *ops,
                                 const BuiltinParameter *parameters,
                                 gsize                   n_parameters)
{
  g_autoptr(VsmtpExtension) extension = vsmtp_extension_new (keyword, flags);
  gboolean added;

  extension->builtin = ops;
  for (gsize i = 0; i < n_parameters; i++)
    vsmtp_extension_add_parameter (extension, parameters[i].name, parameters[i].commands,
                                   parameters[i].syntax);
  added = registry_add (self, extension, NULL);
  g_assert (added);
}

static const BuiltinParameter dsn_parameters[] = {
  { "RET", VSMTP_PARAMETER_COMMAND_MAIL, VSMTP_PARAMETER_SYNTAX_VALUE },
  { "ENVID", VSMTP_PARAMETER_COMMAND_MAIL, VSMTP_PARAMETER_SYNTAX_VALUE },
  { "NOTIFY", VSMTP_PARAMETER_COMMAND_RCPT, VSMTP_PARAMETER_SYNTAX_VALUE },
  { "ORCPT", VSMTP_PARAMETER_COMMAND_RCPT, VSMTP_PARAMETER_SYNTAX_VALUE },
};

/* RFC 8689: a bare keyword, offered only over TLS (in plain text it is an
 * unknown parameter: 555) */
static const BuiltinParameter requiretls_parameters[] = {
  { "REQUIRETLS", VSMTP_PARAMETER_COMMAND_MAIL, VSMTP_PARAMETER_SYNTAX_NO_VALUE },
};

VsmtpExtensionRegistry *
_vsmtp_extension_registry_new (VsmtpServer *server)
{
  VsmtpExtensionRegistry *self = g_new0 (VsmtpExtensionRegistry, 1);

  self->server = server;
  self->extensions = g_ptr_array_new_with_free_func (g_object_unref);
  self->parameters = g_hash_table_new (g_str_hash, g_str_equal);

  /* the EHLO reply's order since libvsmtp's first release */
  registry_add_builtin (self, "PIPELINING", VSMTP_EXTENSION_FLAGS_NONE, &builtin_plain, NULL);
  registry_add_builtin (self, "SIZE", VSMTP_EXTENSION_FLAGS_NONE, &builtin_size, "SIZE");
  registry_add_builtin (self, "ENHANCEDSTATUSCODES", VSMTP_EXTENSION_FLAGS_NONE, &builtin_plain, NULL);
  registry_add_builtin (self, "8BITMIME", VSMTP_EXTENSION_FLAGS_NONE, &builtin_8bitmime, "BODY");
  registry_add_builtin_full (self, "SMTPUTF8", VSMTP_EXTENSION_FLAGS_NONE, &builtin_smtputf8,
                             "SMTPUTF8", VSMTP_PARAMETER_COMMAND_MAIL, VSMTP_PARAMETER_SYNTAX_NO_VALUE);
  registry_add_builtin (self, "STARTTLS", VSMTP_EXTENSION_FLAGS_PLAINTEXT_ONLY, &builtin_starttls, NULL);
  registry_add_builtin (self, "AUTH", VSMTP_EXTENSION_FLAGS_NONE, &builtin_auth, "AUTH");
  registry_add_builtin (self, "CHUNKING", VSMTP_EXTENSION_FLAGS_NONE, &builtin_plain, NULL);
  registry_add_builtin (self, "BINARYMIME", VSMTP_EXTENSION_FLAGS_NONE, &builtin_binarymime, NULL);
  registry_add_builtin_parameters (self, "DSN", VSMTP_EXTENSION_FLAGS_NONE, &builtin_dsn,
                                   dsn_parameters, G_N_ELEMENTS (dsn_parameters));
  registry_add_builtin_parameters (self, "LIMITS", VSMTP_EXTENSION_FLAGS_NONE, &builtin_limits,
                                   NULL, 0);
  registry_add_builtin_parameters (self, "REQUIRETLS", VSMTP_EXTENSION_FLAGS_TLS_ONLY, &builtin_plain,
                                   requiretls_parameters, G_N_ELEMENTS (requiretls_parameters));
  registry_add_builtin (self, "XCLIENT", VSMTP_EXTENSION_FLAGS_NONE, &builtin_xclient, NULL);
  return self;
}

void
_vsmtp_extension_registry_free (VsmtpExtensionRegistry *self)
{
  for (guint i = 0; i < self->extensions->len; i++)
    ((VsmtpExtension *) g_ptr_array_index (self->extensions, i))->registry = NULL;
  g_hash_table_unref (self->parameters);
  g_ptr_array_unref (self->extensions);
  g_free (self);
}

/* A handler of @extension failed in @session: @what happened. */
static void
log_extension (VsmtpSession   *session,
               VsmtpExtension *extension,
               const char     *what)
{
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "VSMTP_SESSION_ID", vsmtp_session_get_id (session),
                    "MESSAGE", "%s: extension %s: %s",
                    vsmtp_session_get_id (session), extension->keyword, what);
}

void
_vsmtp_extension_registry_append_ehlo (VsmtpExtensionRegistry *self,
                                       VsmtpSession           *session,
                                       GString                *text)
{
  for (guint i = 0; i < self->extensions->len; i++)
    {
      VsmtpExtension *extension = g_ptr_array_index (self->extensions, i);
      const char *parameters = extension->ehlo_parameters;
      g_autofree char *computed = NULL;

      if (!extension_offered (extension, session))
        continue;

      if (extension->builtin != NULL)
        {
          g_string_append_c (text, '\n');
          g_string_append (text, extension->keyword);
          if (extension->builtin->append_ehlo != NULL)
            extension->builtin->append_ehlo (session, _vsmtp_session_get_settings (session), text);
          continue;
        }

      if (g_signal_has_handler_pending (extension, signals[SIGNAL_COMPUTE_EHLO_PARAMETERS], 0, FALSE))
        {
          g_signal_emit (extension, signals[SIGNAL_COMPUTE_EHLO_PARAMETERS], 0, session, &computed);
          if (computed != NULL && *computed != '\0' && !is_ehlo_parameters (computed))
            {
              /* a CR or LF would forge reply lines: leave the keyword out */
              log_extension (session, extension,
                             "a \"compute-ehlo-parameters\" handler gave text that is not "
                             "printable ASCII words: the keyword is left out of the EHLO reply");
              continue;
            }
          parameters = computed;
        }

      g_string_append_c (text, '\n');
      g_string_append (text, extension->keyword);
      if (parameters != NULL && *parameters != '\0')
        {
          g_string_append_c (text, ' ');
          g_string_append (text, parameters);
        }
    }
}

gboolean
_vsmtp_extension_registry_offers (VsmtpExtensionRegistry *self,
                                  VsmtpSession           *session,
                                  const char             *keyword)
{
  for (guint i = 0; i < self->extensions->len; i++)
    {
      VsmtpExtension *extension = g_ptr_array_index (self->extensions, i);

      if (g_ascii_strcasecmp (extension->keyword, keyword) == 0)
        return extension_offered (extension, session);
    }
  return FALSE;
}

static VsmtpReply *
extension_validate (VsmtpExtension        *extension,
                    VsmtpSession          *session,
                    VsmtpParameterCommand  command,
                    const char            *name,
                    const char            *value)
{
  g_autoptr(VsmtpReply) reply = NULL;

  if (extension->builtin != NULL)
    return extension->builtin->validate != NULL
      ? extension->builtin->validate (session, _vsmtp_session_get_settings (session), name, value)
      : NULL;

  if (!g_signal_has_handler_pending (extension, signals[SIGNAL_VALIDATE], 0, FALSE))
    return NULL;

  g_signal_emit (extension, signals[SIGNAL_VALIDATE], 0, session, command, name, value, &reply);
  if (reply == NULL || !VSMTP_IS_REPLY (reply) || vsmtp_reply_is_pending (reply))
    {
      g_autofree char *what =
        g_strdup_printf ("a \"validate\" handler of parameter %s %s: the client gets 451 4.3.0",
                         name, reply == NULL ? "returned no reply (NULL, or it raised an error)"
                                             : "returned a pending reply");

      log_extension (session, extension, what);
      return vsmtp_reply_new (451, "4.3.0", "Error: temporary failure in processing, try again later");
    }
  if (vsmtp_reply_is_continue (reply) || vsmtp_reply_is_positive (reply))
    return NULL;
  return g_steal_pointer (&reply);
}

VsmtpReply *
_vsmtp_extension_registry_check (VsmtpExtensionRegistry *self,
                                 VsmtpSession           *session,
                                 VsmtpParameterCommand   command,
                                 GHashTable             *params)
{
  GHashTableIter iter;
  const char *name, *value;

  if (g_hash_table_size (params) == 0)
    return NULL;

  g_hash_table_iter_init (&iter, params);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &value))
    {
      ExtensionParameter *parameter = g_hash_table_lookup (self->parameters, name);
      VsmtpReply *reply;

      if (parameter == NULL || (parameter->commands & command) == 0 ||
          !extension_offered (parameter->extension, session))
        return vsmtp_reply_new_printf (555, "5.5.4", "Unsupported option: %s", name);

      if ((parameter->syntax == VSMTP_PARAMETER_SYNTAX_VALUE && value == NULL) ||
          (parameter->syntax == VSMTP_PARAMETER_SYNTAX_NO_VALUE && value != NULL))
        return vsmtp_reply_new_printf (501, "5.5.4", "Bad %s parameter value", name);

      reply = extension_validate (parameter->extension, session, command, name, value);
      if (reply != NULL)
        return reply;
    }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* The server's side                                                        */

/**
 * vsmtp_server_register_extension:
 * @self: a server
 * @extension: an extension, configured, not registered yet
 *
 * Adds @extension to the server's registry: from the next EHLO reply on,
 * sessions list its keyword when it is offered, and accept its parameters.
 * It is listed after the built-in extensions and those registered before
 * it. A plugin registers its extensions in
 * [method@Vsmtp.Activatable.activate] and unregisters them in
 * [method@Vsmtp.Activatable.deactivate].
 *
 * Fails with %VSMTP_ERROR_SYNTAX when the keyword or a parameter name is
 * not an ESMTP keyword, and with %VSMTP_ERROR_FAILED when the keyword or a
 * parameter is registered already (by another extension, the built-ins
 * included) or the flags exclude each other.
 *
 * Returns: %TRUE if @extension was registered
 */
gboolean
vsmtp_server_register_extension (VsmtpServer     *self,
                                 VsmtpExtension  *extension,
                                 GError         **error)
{
  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (VSMTP_IS_EXTENSION (extension), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return registry_add (_vsmtp_server_get_extension_registry (self), extension, error);
}

/**
 * vsmtp_server_unregister_extension:
 * @self: a server
 * @extension: an extension
 *
 * Removes @extension from the server's registry: later EHLO replies no
 * longer list it and its parameters are refused as unknown ones. A
 * built-in extension can be unregistered too (the server then stops
 * advertising it; the commands STARTTLS and AUTH are still understood).
 * Unregistering `CHUNKING` turns the BDAT command off (`502 5.5.1`) and
 * with it `BINARYMIME`, which is offered only with `CHUNKING`.
 *
 * Returns: %TRUE if @extension was registered with @self
 */
gboolean
vsmtp_server_unregister_extension (VsmtpServer    *self,
                                   VsmtpExtension *extension)
{
  VsmtpExtensionRegistry *registry;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), FALSE);
  g_return_val_if_fail (VSMTP_IS_EXTENSION (extension), FALSE);

  registry = _vsmtp_server_get_extension_registry (self);
  if (extension->registry != registry)
    return FALSE;

  for (guint i = 0; i < extension->parameters->len; i++)
    {
      ExtensionParameter *parameter = g_ptr_array_index (extension->parameters, i);

      g_hash_table_remove (registry->parameters, parameter->name);
    }
  extension->registry = NULL;
  g_ptr_array_remove (registry->extensions, extension);
  return TRUE;
}

/**
 * vsmtp_server_lookup_extension:
 * @self: a server
 * @keyword: an EHLO keyword (any case)
 *
 * Finds a registered extension, a built-in one (`SIZE`, `AUTH`...) or one
 * registered with [method@Vsmtp.Server.register_extension].
 *
 * Returns: (transfer none) (nullable): the extension, or %NULL
 */
VsmtpExtension *
vsmtp_server_lookup_extension (VsmtpServer *self,
                               const char  *keyword)
{
  VsmtpExtensionRegistry *registry;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);
  g_return_val_if_fail (keyword != NULL, NULL);

  registry = _vsmtp_server_get_extension_registry (self);
  for (guint i = 0; i < registry->extensions->len; i++)
    {
      VsmtpExtension *extension = g_ptr_array_index (registry->extensions, i);

      if (g_ascii_strcasecmp (extension->keyword, keyword) == 0)
        return extension;
    }
  return NULL;
}

/**
 * vsmtp_server_dup_extensions:
 * @self: a server
 *
 * The array holds a reference on each extension and drops it when it is
 * freed: in C, g_ptr_array_unref() is all it takes. (It is annotated
 * `transfer container`, as [method@Vsmtp.Envelope.dup_recipients], because
 * bindings such as PyGObject would otherwise release the elements a second
 * time.)
 *
 * Returns: (transfer container) (element-type VsmtpExtension): a new array
 *   of the registered extensions, in the order of the EHLO reply, which
 *   frees its elements
 */
GPtrArray *
vsmtp_server_dup_extensions (VsmtpServer *self)
{
  VsmtpExtensionRegistry *registry;
  GPtrArray *extensions;

  g_return_val_if_fail (VSMTP_IS_SERVER (self), NULL);

  registry = _vsmtp_server_get_extension_registry (self);
  extensions = g_ptr_array_new_full (registry->extensions->len, g_object_unref);
  for (guint i = 0; i < registry->extensions->len; i++)
    g_ptr_array_add (extensions, g_object_ref (g_ptr_array_index (registry->extensions, i)));
  return extensions;
}

/* vsmtp-envelope.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp-envelope.h"
#include "vsmtp-envelope-private.h"

/**
 * VsmtpEnvelope:
 *
 * The SMTP envelope of a transaction: the sender given by MAIL FROM with its
 * ESMTP parameters (SIZE, BODY, SMTPUTF8...), and the recipients accepted by
 * RCPT TO, each with its own parameters (NOTIFY, ORCPT...).
 *
 * Parameter tables map an upper-case keyword to its value, %NULL for a
 * keyword given without "=value".
 */
struct _VsmtpEnvelope
{
  GObject parent_instance;

  VsmtpAddress *sender;
  GHashTable *mail_parameters;   /* NULL until a parameter is set or asked for */
  /* of Recipient; NULL: none yet. Shared with the copies made by
   * vsmtp_envelope_copy() (recipients_shared set in both) until either
   * changes it: the message's copy of the session's envelope costs no
   * second array of entries, and neither envelope ever sees the other's
   * changes. */
  GPtrArray *recipients;
  gboolean recipients_shared;
  /* a recipient's parameter table was handed out: its holder may change
   * it later, so copies copy the entries at once, as they always did */
  gboolean recipient_tables_out;
};

#define N_RECIPIENTS(self) ((self)->recipients != NULL ? (self)->recipients->len : 0u)

typedef struct {
  VsmtpAddress *address;
  GHashTable *parameters;        /* NULL until a parameter is set or asked for */
} Recipient;

G_DEFINE_FINAL_TYPE (VsmtpEnvelope, vsmtp_envelope, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SENDER,
  PROP_N_RECIPIENTS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GHashTable *
parameters_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* Replaces the contents of *@table with a copy of @from's (NULL: none).
 * The table is made only when there is something to put in it: most
 * commands have no parameters, and a table made and freed per transaction
 * for nothing is most of what an envelope costs. */
static void
parameters_assign (GHashTable **table,
                   GHashTable  *from)
{
  GHashTableIter iter;
  gpointer key, value;

  if (*table != NULL)
    g_hash_table_remove_all (*table);
  if (from == NULL || g_hash_table_size (from) == 0)
    return;
  if (*table == NULL)
    *table = parameters_new ();
  g_hash_table_iter_init (&iter, from);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (*table, g_strdup (key), g_strdup (value));
}

/* The table of *@table, made empty if there is none yet (for the getters
 * that hand it out) */
static GHashTable *
parameters_get (GHashTable **table)
{
  if (*table == NULL)
    *table = parameters_new ();
  return *table;
}

static void
recipient_free (gpointer data)
{
  Recipient *recipient = data;

  vsmtp_address_unref (recipient->address);
  g_clear_pointer (&recipient->parameters, g_hash_table_unref);
  g_free (recipient);
}

static void
vsmtp_envelope_finalize (GObject *object)
{
  VsmtpEnvelope *self = VSMTP_ENVELOPE (object);

  g_clear_pointer (&self->sender, vsmtp_address_unref);
  g_clear_pointer (&self->mail_parameters, g_hash_table_unref);
  g_clear_pointer (&self->recipients, g_ptr_array_unref);

  G_OBJECT_CLASS (vsmtp_envelope_parent_class)->finalize (object);
}

static void
vsmtp_envelope_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  VsmtpEnvelope *self = VSMTP_ENVELOPE (object);

  switch (prop_id)
    {
    case PROP_SENDER:
      g_value_set_boxed (value, self->sender);
      break;

    case PROP_N_RECIPIENTS:
      g_value_set_uint (value, N_RECIPIENTS (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_envelope_class_init (VsmtpEnvelopeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vsmtp_envelope_finalize;
  object_class->get_property = vsmtp_envelope_get_property;

  /**
   * VsmtpEnvelope:sender:
   *
   * The sender (reverse-path) of MAIL FROM, or %NULL before MAIL.
   * The null reverse-path `<>` is an address for which
   * [method@Vsmtp.Address.is_null] is %TRUE.
   */
  properties[PROP_SENDER] =
    g_param_spec_boxed ("sender", NULL, NULL,
                        VSMTP_TYPE_ADDRESS,
                        (G_PARAM_READABLE |
                         G_PARAM_STATIC_STRINGS |
                         G_PARAM_EXPLICIT_NOTIFY));

  /**
   * VsmtpEnvelope:n-recipients:
   *
   * The number of recipients.
   */
  properties[PROP_N_RECIPIENTS] =
    g_param_spec_uint ("n-recipients", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE |
                        G_PARAM_STATIC_STRINGS |
                        G_PARAM_EXPLICIT_NOTIFY));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vsmtp_envelope_init (VsmtpEnvelope *self)
{
}

/* The recipients as this envelope's own array, to be changed: made if
 * there is none, copied (entries and their parameter tables) if it is
 * shared with a copy. */
static GPtrArray *
recipients_own (VsmtpEnvelope *self)
{
  GPtrArray *shared;
  guint i;

  if (self->recipients == NULL)
    {
      self->recipients = g_ptr_array_new_with_free_func (recipient_free);
      self->recipients_shared = FALSE;
    }
  if (!self->recipients_shared)
    return self->recipients;

  shared = self->recipients;
  self->recipients = g_ptr_array_new_full (shared->len, recipient_free);
  self->recipients_shared = FALSE;
  for (i = 0; i < shared->len; i++)
    {
      Recipient *recipient = g_ptr_array_index (shared, i);
      Recipient *recipient_copy = g_new0 (Recipient, 1);

      recipient_copy->address = vsmtp_address_ref (recipient->address);
      parameters_assign (&recipient_copy->parameters, recipient->parameters);
      g_ptr_array_add (self->recipients, recipient_copy);
    }
  g_ptr_array_unref (shared);
  return self->recipients;
}

/**
 * vsmtp_envelope_new:
 *
 * Creates an empty envelope.
 *
 * Returns: (transfer full): a new envelope
 */
VsmtpEnvelope *
vsmtp_envelope_new (void)
{
  return g_object_new (VSMTP_TYPE_ENVELOPE, NULL);
}

/**
 * vsmtp_envelope_copy:
 * @self: an envelope
 *
 * Copies an envelope. Later changes to @self do not show in the copy: the
 * parameter tables are copied and the (immutable) addresses shared.
 *
 * Returns: (transfer full): a new envelope
 */
VsmtpEnvelope *
vsmtp_envelope_copy (VsmtpEnvelope *self)
{
  VsmtpEnvelope *copy;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);

  copy = vsmtp_envelope_new ();

  if (self->sender != NULL)
    copy->sender = vsmtp_address_ref (self->sender);
  /* the new envelope's own (empty) table: no second one per copy */
  parameters_assign (&copy->mail_parameters, self->mail_parameters);

  /* the entries are shared until one of the two envelopes changes them
   * (recipients_own()), unless a table of theirs is out */
  if (N_RECIPIENTS (self) > 0 && self->recipient_tables_out)
    {
      guint i;

      for (i = 0; i < self->recipients->len; i++)
        {
          Recipient *recipient = g_ptr_array_index (self->recipients, i);

          vsmtp_envelope_add_recipient (copy, recipient->address, recipient->parameters);
        }
    }
  else if (N_RECIPIENTS (self) > 0)
    {
      copy->recipients = g_ptr_array_ref (self->recipients);
      copy->recipients_shared = TRUE;
      self->recipients_shared = TRUE;
    }

  return copy;
}

/**
 * vsmtp_envelope_set_sender:
 * @self: an envelope
 * @sender: (nullable): the sender, or %NULL to unset it
 * @parameters: (nullable) (element-type utf8 utf8): the MAIL parameters,
 *   upper-case keyword to value (or %NULL), or %NULL for none
 *
 * Sets the sender and the MAIL FROM parameters. @parameters is copied
 * (its keys and values must be strings): a binding may free the table it
 * passed as soon as the call returns.
 */
void
vsmtp_envelope_set_sender (VsmtpEnvelope *self,
                           VsmtpAddress  *sender,
                           GHashTable    *parameters)
{
  g_return_if_fail (VSMTP_IS_ENVELOPE (self));

  if (sender != NULL)
    vsmtp_address_ref (sender);
  g_clear_pointer (&self->sender, vsmtp_address_unref);
  self->sender = sender;

  /* filled in place: the table vsmtp_envelope_get_mail_parameters()
   * returned before was not the caller's to keep (transfer none) */
  if (parameters == NULL || parameters != self->mail_parameters)
    parameters_assign (&self->mail_parameters, parameters);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SENDER]);
}

/**
 * vsmtp_envelope_get_sender:
 * @self: an envelope
 *
 * Gets the sender given by MAIL FROM.
 *
 * Returns: (nullable) (transfer none): the sender, or %NULL if none was set
 */
VsmtpAddress *
vsmtp_envelope_get_sender (VsmtpEnvelope *self)
{
  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);

  return self->sender;
}

/**
 * vsmtp_envelope_get_mail_parameters:
 * @self: an envelope
 *
 * Gets the ESMTP parameters of MAIL FROM.
 *
 * Returns: (transfer none) (element-type utf8 utf8): the table of
 *   upper-case keyword to value (%NULL for a keyword without value); empty
 *   when there are none
 */
GHashTable *
vsmtp_envelope_get_mail_parameters (VsmtpEnvelope *self)
{
  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);

  return parameters_get (&self->mail_parameters);
}

static const char *
lookup_parameter (GHashTable *table,
                  const char *name)
{
  g_autofree char *upper = NULL;

  if (table == NULL)
    return NULL;
  upper = g_ascii_strup (name, -1);
  return g_hash_table_lookup (table, upper);
}

/**
 * vsmtp_envelope_get_mail_parameter:
 * @self: an envelope
 * @name: a parameter keyword, matched case-insensitively ("SIZE", "body")
 *
 * Gets the value of one MAIL FROM parameter.
 *
 * %NULL is returned both for a missing parameter and for one given without
 * a value (such as SMTPUTF8); use the table of
 * [method@Vsmtp.Envelope.get_mail_parameters] to tell them apart.
 *
 * Returns: (nullable): the value, or %NULL
 */
const char *
vsmtp_envelope_get_mail_parameter (VsmtpEnvelope *self,
                                   const char    *name)
{
  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return lookup_parameter (self->mail_parameters, name);
}

/**
 * vsmtp_envelope_get_smtputf8:
 * @self: an envelope
 *
 * Gets whether the transaction is an SMTPUTF8 one (RFC 6531): MAIL FROM
 * had the `SMTPUTF8` parameter. Its addresses may then hold UTF-8, and so
 * may the message's header fields (RFC 6532); the Received header field
 * says `with UTF8SMTP` (or `UTF8SMTPS`, `UTF8SMTPA`, `UTF8SMTPSA`).
 *
 * Returns: %TRUE for an SMTPUTF8 transaction
 */
gboolean
vsmtp_envelope_get_smtputf8 (VsmtpEnvelope *self)
{
  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), FALSE);

  return self->mail_parameters != NULL &&
         g_hash_table_contains (self->mail_parameters, "SMTPUTF8");
}

/**
 * vsmtp_envelope_add_recipient:
 * @self: an envelope
 * @recipient: the recipient
 * @parameters: (nullable) (element-type utf8 utf8): the RCPT parameters,
 *   upper-case keyword to value (or %NULL), or %NULL for none
 *
 * Appends a recipient. @parameters is copied (its keys and values must be
 * strings).
 */
void
vsmtp_envelope_add_recipient (VsmtpEnvelope *self,
                              VsmtpAddress  *recipient,
                              GHashTable    *parameters)
{
  Recipient *entry;

  g_return_if_fail (VSMTP_IS_ENVELOPE (self));
  g_return_if_fail (recipient != NULL);

  entry = g_new0 (Recipient, 1);
  entry->address = vsmtp_address_ref (recipient);
  parameters_assign (&entry->parameters, parameters);
  g_ptr_array_add (recipients_own (self), entry);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RECIPIENTS]);
}

/**
 * vsmtp_envelope_remove_recipient:
 * @self: an envelope
 * @index: the index of a recipient, from 0
 *
 * Removes a recipient and its parameters, as a filter that deletes a
 * recipient does (libmilter's `smfi_delrcpt`). The recipients after it move
 * down one place.
 */
void
vsmtp_envelope_remove_recipient (VsmtpEnvelope *self,
                                 guint          index)
{
  g_return_if_fail (VSMTP_IS_ENVELOPE (self));
  g_return_if_fail (index < N_RECIPIENTS (self));

  g_ptr_array_remove_index (recipients_own (self), index);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RECIPIENTS]);
}

/**
 * vsmtp_envelope_get_n_recipients:
 * @self: an envelope
 *
 * Gets the number of recipients.
 *
 * Returns: the number of recipients
 */
guint
vsmtp_envelope_get_n_recipients (VsmtpEnvelope *self)
{
  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), 0);

  return N_RECIPIENTS (self);
}

/**
 * vsmtp_envelope_get_recipient:
 * @self: an envelope
 * @index: the position of the recipient, less than
 *   [method@Vsmtp.Envelope.get_n_recipients]
 *
 * Gets one recipient, in the order they were added.
 *
 * Returns: (transfer none): the recipient
 */
VsmtpAddress *
vsmtp_envelope_get_recipient (VsmtpEnvelope *self,
                              guint          index)
{
  Recipient *recipient;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);
  g_return_val_if_fail (index < N_RECIPIENTS (self), NULL);

  recipient = g_ptr_array_index (self->recipients, index);

  return recipient->address;
}

/**
 * vsmtp_envelope_get_recipient_parameters:
 * @self: an envelope
 * @index: the position of the recipient
 *
 * Gets the RCPT TO parameters of one recipient.
 *
 * Returns: (transfer none) (element-type utf8 utf8): the table of
 *   upper-case keyword to value (%NULL for a keyword without value)
 */
GHashTable *
vsmtp_envelope_get_recipient_parameters (VsmtpEnvelope *self,
                                         guint          index)
{
  Recipient *recipient;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);
  g_return_val_if_fail (index < N_RECIPIENTS (self), NULL);

  /* the caller may change the table: this envelope's own */
  recipient = g_ptr_array_index (recipients_own (self), index);
  self->recipient_tables_out = TRUE;

  return parameters_get (&recipient->parameters);
}

/* A recipient's parameter, read without handing its table out: unlike
 * vsmtp_envelope_get_recipient_parameters(), this neither unshares the
 * recipients of a copy nor makes later copies full ones (the DSN getters
 * read NOTIFY and ORCPT of every message's envelope). */
const char *
_vsmtp_envelope_peek_recipient_parameter (VsmtpEnvelope *self,
                                          guint          index,
                                          const char    *name)
{
  Recipient *recipient;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);
  g_return_val_if_fail (index < N_RECIPIENTS (self), NULL);

  recipient = g_ptr_array_index (self->recipients, index);
  return recipient->parameters != NULL ? g_hash_table_lookup (recipient->parameters, name) : NULL;
}

/**
 * vsmtp_envelope_dup_recipients:
 * @self: an envelope
 *
 * Gets all the recipients, in the order they were added.
 *
 * The array holds a reference on each address and drops it when it is
 * freed: in C, g_ptr_array_unref() is all it takes. (It is annotated
 * `transfer container` rather than `transfer full` because bindings such as
 * PyGObject would otherwise release the elements a second time.)
 *
 * Returns: (transfer container) (element-type VsmtpAddress): a new array
 *   of the recipients, which frees its elements
 */
GPtrArray *
vsmtp_envelope_dup_recipients (VsmtpEnvelope *self)
{
  GPtrArray *array;
  guint i;

  g_return_val_if_fail (VSMTP_IS_ENVELOPE (self), NULL);

  array = g_ptr_array_new_full (N_RECIPIENTS (self),
                                (GDestroyNotify) vsmtp_address_unref);
  for (i = 0; i < N_RECIPIENTS (self); i++)
    {
      Recipient *recipient = g_ptr_array_index (self->recipients, i);

      g_ptr_array_add (array, vsmtp_address_ref (recipient->address));
    }

  return array;
}

/**
 * vsmtp_envelope_clear:
 * @self: an envelope
 *
 * Removes the sender, the MAIL parameters and all the recipients.
 */
void
vsmtp_envelope_clear (VsmtpEnvelope *self)
{
  gboolean had_sender;
  gboolean had_recipients;

  g_return_if_fail (VSMTP_IS_ENVELOPE (self));

  had_sender = self->sender != NULL;
  had_recipients = N_RECIPIENTS (self) > 0;

  g_clear_pointer (&self->sender, vsmtp_address_unref);
  if (self->mail_parameters != NULL)
    g_hash_table_remove_all (self->mail_parameters);
  if (had_recipients)
    g_ptr_array_set_size (recipients_own (self), 0);

  if (had_sender)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SENDER]);
  if (had_recipients)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RECIPIENTS]);
}

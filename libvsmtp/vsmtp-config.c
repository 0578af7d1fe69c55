/* vsmtp-config.c: declared configuration keys, and the group that checks them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-config.h"
#include "vsmtp-enums.h"
#include "vsmtp-error.h"

/**
 * VsmtpConfigKey:
 *
 * The declaration of one configuration key: its name, the type of its
 * value, its default and a one-line description, and for numbers the range
 * allowed and its unit, for a choice the values allowed.
 *
 * Plugins declare their keys in [vfunc@Vsmtp.Activatable.declare_config],
 * usually through the `add_*` methods of [class@Vsmtp.ConfigGroup], which
 * create the key.
 *
 * The default is written as in the configuration file (`1000`, `true`,
 * `PLAIN;LOGIN`, `0.5`), or %NULL for a key whose default is computed or
 * none: its getters then return 0, %FALSE or %NULL when it is not set
 * (see [method@Vsmtp.ConfigGroup.is_set]).
 */

struct _VsmtpConfigKey
{
  GObject          parent_instance;

  char            *name;
  VsmtpConfigType  value_type;
  char            *default_value;
  char            *description;
  gint64           minimum;
  gint64           maximum;
  char            *unit;
  GStrv            choices;
};

enum {
  KEY_PROP_0,
  KEY_PROP_NAME,
  KEY_PROP_VALUE_TYPE,
  KEY_PROP_DEFAULT_VALUE,
  KEY_PROP_DESCRIPTION,
  KEY_N_PROPS
};

static GParamSpec *key_properties[KEY_N_PROPS];

G_DEFINE_FINAL_TYPE (VsmtpConfigKey, vsmtp_config_key, G_TYPE_OBJECT)

static void
vsmtp_config_key_finalize (GObject *object)
{
  VsmtpConfigKey *self = VSMTP_CONFIG_KEY (object);

  g_free (self->name);
  g_free (self->default_value);
  g_free (self->description);
  g_free (self->unit);
  g_strfreev (self->choices);

  G_OBJECT_CLASS (vsmtp_config_key_parent_class)->finalize (object);
}

static void
vsmtp_config_key_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  VsmtpConfigKey *self = VSMTP_CONFIG_KEY (object);

  switch (prop_id)
    {
    case KEY_PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case KEY_PROP_VALUE_TYPE:
      g_value_set_enum (value, self->value_type);
      break;
    case KEY_PROP_DEFAULT_VALUE:
      g_value_set_string (value, self->default_value);
      break;
    case KEY_PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_config_key_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  VsmtpConfigKey *self = VSMTP_CONFIG_KEY (object);

  switch (prop_id)
    {
    case KEY_PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case KEY_PROP_VALUE_TYPE:
      self->value_type = g_value_get_enum (value);
      break;
    case KEY_PROP_DEFAULT_VALUE:
      self->default_value = g_value_dup_string (value);
      break;
    case KEY_PROP_DESCRIPTION:
      self->description = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_config_key_class_init (VsmtpConfigKeyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vsmtp_config_key_finalize;
  object_class->get_property = vsmtp_config_key_get_property;
  object_class->set_property = vsmtp_config_key_set_property;

  /**
   * VsmtpConfigKey:name:
   *
   * The name of the key in its group, e.g. `path`.
   */
  key_properties[KEY_PROP_NAME] =
    g_param_spec_string ("name", NULL, "The name of the key in its group", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpConfigKey:value-type:
   *
   * The type of the value.
   */
  key_properties[KEY_PROP_VALUE_TYPE] =
    g_param_spec_enum ("value-type", NULL, "The type of the value",
                       VSMTP_TYPE_CONFIG_TYPE, VSMTP_CONFIG_TYPE_STRING,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpConfigKey:default-value:
   *
   * The default, written as in the configuration file, or %NULL.
   */
  key_properties[KEY_PROP_DEFAULT_VALUE] =
    g_param_spec_string ("default-value", NULL, "The default, as written in the file", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * VsmtpConfigKey:description:
   *
   * What the key is for, in one line.
   */
  key_properties[KEY_PROP_DESCRIPTION] =
    g_param_spec_string ("description", NULL, "What the key is for, in one line", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, KEY_N_PROPS, key_properties);
}

static void
vsmtp_config_key_init (VsmtpConfigKey *self)
{
  self->minimum = G_MININT64;
  self->maximum = G_MAXINT64;
}

/**
 * vsmtp_config_key_new:
 * @name: the name of the key
 * @value_type: the type of its value
 * @default_value: (nullable): the default, as written in the file, or
 *   %NULL for none
 * @description: what the key is for, in one line
 *
 * Declares a key. A number has no bounds until
 * [method@Vsmtp.ConfigKey.set_range] gives them, a choice no values until
 * [method@Vsmtp.ConfigKey.set_choices].
 *
 * Returns: (transfer full): a new key
 */
VsmtpConfigKey *
vsmtp_config_key_new (const char      *name,
                      VsmtpConfigType  value_type,
                      const char      *default_value,
                      const char      *description)
{
  g_return_val_if_fail (name != NULL && name[0] != '\0', NULL);

  return g_object_new (VSMTP_TYPE_CONFIG_KEY,
                       "name", name,
                       "value-type", value_type,
                       "default-value", default_value,
                       "description", description,
                       NULL);
}

/**
 * vsmtp_config_key_get_name:
 * @self: a key
 *
 * Returns: (transfer none): the name of the key
 */
const char *
vsmtp_config_key_get_name (VsmtpConfigKey *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), NULL);
  return self->name;
}

/**
 * vsmtp_config_key_get_value_type:
 * @self: a key
 *
 * Returns: the type of the key's value
 */
VsmtpConfigType
vsmtp_config_key_get_value_type (VsmtpConfigKey *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), VSMTP_CONFIG_TYPE_STRING);
  return self->value_type;
}

/**
 * vsmtp_config_key_get_default_value:
 * @self: a key
 *
 * Returns: (transfer none) (nullable): the default, as written in the
 *   file, or %NULL
 */
const char *
vsmtp_config_key_get_default_value (VsmtpConfigKey *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), NULL);
  return self->default_value;
}

/**
 * vsmtp_config_key_get_description:
 * @self: a key
 *
 * Returns: (transfer none) (nullable): what the key is for
 */
const char *
vsmtp_config_key_get_description (VsmtpConfigKey *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), NULL);
  return self->description;
}

/**
 * vsmtp_config_key_set_range:
 * @self: an integer or duration key
 * @minimum: the smallest value allowed (a duration's in milliseconds)
 * @maximum: the largest value allowed; %G_MAXINT64: no bound
 * @unit: (nullable): the unit, plural, for messages ("seconds"); a
 *   duration's is always seconds
 *
 * Sets the range of a number. A value outside is refused with the range,
 * e.g. `"-5" is out of range (0 to 60000 milliseconds)`.
 */
void
vsmtp_config_key_set_range (VsmtpConfigKey *self,
                            gint64          minimum,
                            gint64          maximum,
                            const char     *unit)
{
  g_return_if_fail (VSMTP_IS_CONFIG_KEY (self));
  g_return_if_fail (minimum <= maximum);

  self->minimum = minimum;
  self->maximum = maximum;
  g_free (self->unit);
  self->unit = g_strdup (unit);
}

/**
 * vsmtp_config_key_get_minimum:
 * @self: a key
 *
 * Returns: the smallest value allowed, %G_MININT64 if none was set
 */
gint64
vsmtp_config_key_get_minimum (VsmtpConfigKey *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), 0);
  return self->minimum;
}

/**
 * vsmtp_config_key_get_maximum:
 * @self: a key
 *
 * Returns: the largest value allowed, %G_MAXINT64 if none was set
 */
gint64
vsmtp_config_key_get_maximum (VsmtpConfigKey *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), 0);
  return self->maximum;
}

/**
 * vsmtp_config_key_get_unit:
 * @self: a key
 *
 * Returns: (transfer none) (nullable): the unit of a number, for messages
 */
const char *
vsmtp_config_key_get_unit (VsmtpConfigKey *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), NULL);
  return self->value_type == VSMTP_CONFIG_TYPE_DURATION ? "seconds" : self->unit;
}

/**
 * vsmtp_config_key_set_choices:
 * @self: a choice key
 * @choices: (array zero-terminated=1): the values allowed
 *
 * Sets the values a choice allows (compared case-sensitively).
 */
void
vsmtp_config_key_set_choices (VsmtpConfigKey     *self,
                              const char * const *choices)
{
  g_return_if_fail (VSMTP_IS_CONFIG_KEY (self));
  g_return_if_fail (choices != NULL);

  g_strfreev (self->choices);
  self->choices = g_strdupv ((char **) choices);
}

/**
 * vsmtp_config_key_get_choices:
 * @self: a key
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the values
 *   a choice allows
 */
const char * const *
vsmtp_config_key_get_choices (VsmtpConfigKey *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), NULL);
  return (const char * const *) self->choices;
}

/* Checking values ------------------------------------------------------- */

/* "12", "0.5", "60": milliseconds as seconds, without trailing zeros */
static char *
format_seconds (gint64 ms)
{
  if (ms % 1000 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT, ms / 1000);
  else
    {
      char *text = g_strdup_printf ("%" G_GINT64_FORMAT ".%03d", ms / 1000, (int) ABS (ms % 1000));
      gsize len = strlen (text);

      while (text[len - 1] == '0')
        text[--len] = '\0';
      return text;
    }
}

/* "1 to 86400 seconds", "at least 1 byte": the values a number allows */
static char *
describe_range (VsmtpConfigKey *self)
{
  GString *text = g_string_new (NULL);
  const char *unit = vsmtp_config_key_get_unit (self);
  gboolean duration = self->value_type == VSMTP_CONFIG_TYPE_DURATION;
  g_autofree char *min = duration ? format_seconds (self->minimum)
                                  : g_strdup_printf ("%" G_GINT64_FORMAT, self->minimum);
  g_autofree char *max = duration ? format_seconds (self->maximum)
                                  : g_strdup_printf ("%" G_GINT64_FORMAT, self->maximum);

  if (self->maximum == G_MAXINT64)
    g_string_append_printf (text, "at least %s", min);
  else if (self->minimum == G_MININT64)
    g_string_append_printf (text, "at most %s", max);
  else
    g_string_append_printf (text, "%s to %s", min, max);
  if (unit != NULL)
    {
      g_string_append_printf (text, " %s", unit);
      /* "at least 1 byte" */
      if (self->maximum == G_MAXINT64 && g_str_equal (min, "1") && g_str_has_suffix (unit, "s"))
        g_string_truncate (text, text->len - 1);
    }

  return g_string_free (text, FALSE);
}

/* An optional sign and at least one digit, nothing else */
static gboolean
is_integer (const char *text)
{
  if (*text == '-' || *text == '+')
    text++;

  return *text != '\0' && strspn (text, "0123456789") == strlen (text);
}

G_GNUC_PRINTF (2, 3)
static gboolean
value_error (GError    **error,
             const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
                                                format, args));
  va_end (args);
  return FALSE;
}

/* A whole number in range. The problems are told apart: a value that is
 * no number at all ("abc", "1.5", "10k") is "not a number"; a number
 * outside the range, too large for any integer included, is "out of
 * range" with the range that is allowed. */
static gboolean
check_integer (VsmtpConfigKey  *self,
               const char      *value,
               gint64          *out_value,
               GError         **error)
{
  g_autofree char *range = describe_range (self);
  const char *digits = value;
  gboolean negative = FALSE;
  gboolean overflow = FALSE;
  guint64 number = 0;

  if (value[0] == '\0')
    return value_error (error, "the value is empty, expected a number (%s)", range);
  if (!is_integer (value))
    return value_error (error, "\"%s\" is not a number", value);

  if (*digits == '-' || *digits == '+')
    negative = *digits++ == '-';
  for (const char *p = digits; *p != '\0'; p++)
    {
      if (number > (G_MAXUINT64 - (*p - '0')) / 10)
        overflow = TRUE;
      else
        number = number * 10 + (*p - '0');
    }
  if (overflow || number > (guint64) G_MAXINT64 + (negative ? 1 : 0))
    return value_error (error, "\"%s\" is out of range (%s)", value, range);

  *out_value = negative ? (gint64) (0 - number) : (gint64) number;
  if (*out_value < self->minimum || *out_value > self->maximum)
    return value_error (error, "\"%s\" is out of range (%s)", value, range);
  return TRUE;
}

/* Seconds with up to three decimals ("0.5", "2"), in milliseconds */
static gboolean
check_duration (VsmtpConfigKey  *self,
                const char      *value,
                gint64          *out_ms,
                GError         **error)
{
  g_autofree char *range = describe_range (self);
  const char *p = value;
  guint64 whole = 0;
  guint ms = 0, decimals = 0;
  guint64 limit = (guint64) G_MAXINT64 / 1000;

  if (!g_ascii_isdigit (*p) && !(*p == '.' && g_ascii_isdigit (p[1])))
    {
      if (value[0] == '-' && value[1] != '\0')
        return value_error (error, "\"%s\" is out of range (%s)", value, range);
      return value_error (error, "\"%s\" is not a number of seconds", value);
    }
  for (; g_ascii_isdigit (*p); p++)
    whole = MIN (whole * 10 + (*p - '0'), limit);
  if (*p == '.')
    for (p++; g_ascii_isdigit (*p); p++, decimals++)
      if (decimals < 3)
        ms = ms * 10 + (*p - '0');
  if (*p != '\0')
    return value_error (error, "\"%s\" is not a number of seconds", value);
  for (; decimals < 3; decimals++)
    ms *= 10;

  *out_ms = (gint64) whole * 1000 + ms;
  if (whole >= limit || *out_ms < self->minimum || *out_ms > self->maximum)
    return value_error (error, "\"%s\" is out of range (%s)", value, range);
  return TRUE;
}

static gboolean
check_boolean (const char  *value,
               gboolean    *out_value,
               GError     **error)
{
  if (g_str_equal (value, "true") || g_str_equal (value, "1"))
    *out_value = TRUE;
  else if (g_str_equal (value, "false") || g_str_equal (value, "0"))
    *out_value = FALSE;
  else
    return value_error (error, "\"%s\" is neither true nor false", value);
  return TRUE;
}

static gboolean
check_choice (VsmtpConfigKey  *self,
              const char      *value,
              GError         **error)
{
  g_autoptr(GString) allowed = g_string_new (NULL);
  guint n = self->choices != NULL ? g_strv_length (self->choices) : 0;

  if (n > 0 && g_strv_contains ((const char * const *) self->choices, value))
    return TRUE;

  if (n == 1)
    return value_error (error, "\"%s\" is not \"%s\"", value, self->choices[0]);
  if (n == 2)
    return value_error (error, "\"%s\" is neither \"%s\" nor \"%s\"",
                        value, self->choices[0], self->choices[1]);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (allowed, "%s\"%s\"", i > 0 ? ", " : "", self->choices[i]);
  return value_error (error, "\"%s\" is not one of %s", value, allowed->str);
}

static gboolean
check_list (char    **elements,
            GError  **error)
{
  for (guint i = 0; elements[i] != NULL; i++)
    {
      g_strstrip (elements[i]);
      if (elements[i][0] == '\0')
        return value_error (error, "the list has an empty element");
    }
  return TRUE;
}

/* The elements of a list as written in a file: "a;b;" is a and b */
static char **
split_list (const char *value)
{
  g_auto(GStrv) parts = g_strsplit (value, ";", -1);
  guint n = g_strv_length (parts);

  if (n > 0 && parts[n - 1][0] == '\0')
    g_clear_pointer (&parts[n - 1], g_free);
  return g_steal_pointer (&parts);
}

/**
 * vsmtp_config_key_check_value:
 * @self: a key
 * @value: a value as written in the file (a string key's unescaped)
 * @error: return location for an error
 *
 * Checks that @value suits the key. The message of @error tells the
 * problem alone, e.g. `"abc" is not a number` or
 * `"-5" is out of range (0 to 60000 milliseconds)`; a
 * [class@Vsmtp.ConfigGroup] puts the group and key before it.
 *
 * Returns: %TRUE if @value is good for the key
 */
gboolean
vsmtp_config_key_check_value (VsmtpConfigKey  *self,
                              const char      *value,
                              GError         **error)
{
  g_autofree char *stripped = NULL;
  g_auto(GStrv) elements = NULL;
  gint64 number;
  gboolean flag;

  g_return_val_if_fail (VSMTP_IS_CONFIG_KEY (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  stripped = g_strstrip (g_strdup (value));
  switch (self->value_type)
    {
    case VSMTP_CONFIG_TYPE_STRING:
      return TRUE;
    case VSMTP_CONFIG_TYPE_PATH:
      if (value[0] == '\0')
        return value_error (error, "the value is empty");
      return TRUE;
    case VSMTP_CONFIG_TYPE_STRING_LIST:
      elements = split_list (value);
      return check_list (elements, error);
    case VSMTP_CONFIG_TYPE_BOOLEAN:
      return check_boolean (stripped, &flag, error);
    case VSMTP_CONFIG_TYPE_INTEGER:
      return check_integer (self, stripped, &number, error);
    case VSMTP_CONFIG_TYPE_DURATION:
      return check_duration (self, stripped, &number, error);
    case VSMTP_CONFIG_TYPE_CHOICE:
      return check_choice (self, stripped, error);
    default:
      g_return_val_if_reached (FALSE);
    }
}

/**
 * VsmtpConfigGroup:
 *
 * The keys of one group of a configuration file, declared, and their
 * values, checked.
 *
 * vsmtpd gives each plugin a group named after the plugin's module
 * (`[maildir]`, `[tarpit]`). The plugin declares its keys in
 * [vfunc@Vsmtp.Activatable.declare_config] with the `add_*` methods; the
 * daemon then loads the group from its configuration file with
 * [method@Vsmtp.ConfigGroup.load], which refuses a key that was not
 * declared and a value that does not suit its key, and hands the group to
 * [vfunc@Vsmtp.Activatable.configure], where the plugin reads its values
 * with the getters (a key that is not set gives its default) and checks
 * what the types cannot (a key that needs another, a file that must
 * exist).
 *
 * From Python:
 *
 * ```python
 * def do_declare_config(self, group):
 *     group.add_integer('delay', 1000, 0, 60000, 'milliseconds',
 *                       'Milliseconds before RCPT TO is answered')
 *
 * def do_configure(self, group):
 *     self.delay = group.get_integer('delay')
 *     return True
 * ```
 */

struct _VsmtpConfigGroup
{
  GObject     parent_instance;

  char       *name;
  GPtrArray  *keys;      /* VsmtpConfigKey, in declaration order */
  GHashTable *values;    /* key name → the value set, as in the file */
};

G_DEFINE_FINAL_TYPE (VsmtpConfigGroup, vsmtp_config_group, G_TYPE_OBJECT)

static void
vsmtp_config_group_finalize (GObject *object)
{
  VsmtpConfigGroup *self = VSMTP_CONFIG_GROUP (object);

  g_free (self->name);
  g_ptr_array_unref (self->keys);
  g_hash_table_unref (self->values);

  G_OBJECT_CLASS (vsmtp_config_group_parent_class)->finalize (object);
}

static void
vsmtp_config_group_class_init (VsmtpConfigGroupClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vsmtp_config_group_finalize;
}

static void
vsmtp_config_group_init (VsmtpConfigGroup *self)
{
  self->keys = g_ptr_array_new_with_free_func (g_object_unref);
  self->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * vsmtp_config_group_new:
 * @name: the name of the group, without brackets
 *
 * Returns: (transfer full): a group without keys
 */
VsmtpConfigGroup *
vsmtp_config_group_new (const char *name)
{
  VsmtpConfigGroup *self;

  g_return_val_if_fail (name != NULL, NULL);

  self = g_object_new (VSMTP_TYPE_CONFIG_GROUP, NULL);
  self->name = g_strdup (name);
  return self;
}

/**
 * vsmtp_config_group_get_name:
 * @self: a group
 *
 * Returns: (transfer none): the name of the group
 */
const char *
vsmtp_config_group_get_name (VsmtpConfigGroup *self)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);
  return self->name;
}

/**
 * vsmtp_config_group_lookup_key:
 * @self: a group
 * @name: the name of a key
 *
 * Returns: (transfer none) (nullable): the key declared as @name
 */
VsmtpConfigKey *
vsmtp_config_group_lookup_key (VsmtpConfigGroup *self,
                               const char       *name)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < self->keys->len; i++)
    {
      VsmtpConfigKey *key = g_ptr_array_index (self->keys, i);

      if (g_str_equal (key->name, name))
        return key;
    }
  return NULL;
}

/**
 * vsmtp_config_group_add_key:
 * @self: a group
 * @key: the declaration of a key
 *
 * Declares @key in the group. A key declared twice, or whose default does
 * not suit it, is a programming error.
 */
void
vsmtp_config_group_add_key (VsmtpConfigGroup *self,
                            VsmtpConfigKey   *key)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (VSMTP_IS_CONFIG_GROUP (self));
  g_return_if_fail (VSMTP_IS_CONFIG_KEY (key));

  if (vsmtp_config_group_lookup_key (self, key->name) != NULL)
    {
      g_critical ("[%s] %s is declared twice", self->name, key->name);
      return;
    }
  if (key->default_value != NULL &&
      !vsmtp_config_key_check_value (key, key->default_value, &error))
    {
      g_critical ("[%s] %s: the default: %s", self->name, key->name, error->message);
      return;
    }
  g_ptr_array_add (self->keys, g_object_ref (key));
}

static VsmtpConfigKey *
add_new_key (VsmtpConfigGroup *self,
             VsmtpConfigKey   *key)
{
  vsmtp_config_group_add_key (self, key);
  g_object_unref (key);
  return vsmtp_config_group_lookup_key (self, key->name) == key ? key : NULL;
}

/**
 * vsmtp_config_group_add_string:
 * @self: a group
 * @name: the name of the key
 * @default_value: (nullable): the default, or %NULL for none
 * @description: what the key is for, in one line
 *
 * Declares a key whose value is any text.
 *
 * Returns: (transfer none): the key
 */
VsmtpConfigKey *
vsmtp_config_group_add_string (VsmtpConfigGroup *self,
                               const char       *name,
                               const char       *default_value,
                               const char       *description)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);

  return add_new_key (self, vsmtp_config_key_new (name, VSMTP_CONFIG_TYPE_STRING,
                                                  default_value, description));
}

/**
 * vsmtp_config_group_add_path:
 * @self: a group
 * @name: the name of the key
 * @default_value: (nullable): the default, or %NULL for none
 * @description: what the key is for, in one line
 *
 * Declares a key whose value names a file or folder (not empty).
 *
 * Returns: (transfer none): the key
 */
VsmtpConfigKey *
vsmtp_config_group_add_path (VsmtpConfigGroup *self,
                             const char       *name,
                             const char       *default_value,
                             const char       *description)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);

  return add_new_key (self, vsmtp_config_key_new (name, VSMTP_CONFIG_TYPE_PATH,
                                                  default_value, description));
}

/**
 * vsmtp_config_group_add_string_list:
 * @self: a group
 * @name: the name of the key
 * @default_value: (nullable): the default as written in the file
 *   (`PLAIN;LOGIN`), or %NULL for none
 * @description: what the key is for, in one line
 *
 * Declares a list of texts, separated by `;`.
 *
 * Returns: (transfer none): the key
 */
VsmtpConfigKey *
vsmtp_config_group_add_string_list (VsmtpConfigGroup *self,
                                    const char       *name,
                                    const char       *default_value,
                                    const char       *description)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);

  return add_new_key (self, vsmtp_config_key_new (name, VSMTP_CONFIG_TYPE_STRING_LIST,
                                                  default_value, description));
}

/**
 * vsmtp_config_group_add_boolean:
 * @self: a group
 * @name: the name of the key
 * @default_value: the default
 * @description: what the key is for, in one line
 *
 * Declares a boolean key.
 *
 * Returns: (transfer none): the key
 */
VsmtpConfigKey *
vsmtp_config_group_add_boolean (VsmtpConfigGroup *self,
                                const char       *name,
                                gboolean          default_value,
                                const char       *description)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);

  return add_new_key (self, vsmtp_config_key_new (name, VSMTP_CONFIG_TYPE_BOOLEAN,
                                                  default_value ? "true" : "false",
                                                  description));
}

/**
 * vsmtp_config_group_add_integer:
 * @self: a group
 * @name: the name of the key
 * @default_value: the default
 * @minimum: the smallest value allowed
 * @maximum: the largest value allowed; %G_MAXINT64: no bound
 * @unit: (nullable): the unit, plural, for messages ("milliseconds")
 * @description: what the key is for, in one line
 *
 * Declares a whole number.
 *
 * Returns: (transfer none): the key
 */
VsmtpConfigKey *
vsmtp_config_group_add_integer (VsmtpConfigGroup *self,
                                const char       *name,
                                gint64            default_value,
                                gint64            minimum,
                                gint64            maximum,
                                const char       *unit,
                                const char       *description)
{
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, default_value);
  VsmtpConfigKey *key;

  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);

  key = vsmtp_config_key_new (name, VSMTP_CONFIG_TYPE_INTEGER, text, description);
  vsmtp_config_key_set_range (key, minimum, maximum, unit);
  return add_new_key (self, key);
}

/**
 * vsmtp_config_group_add_duration:
 * @self: a group
 * @name: the name of the key
 * @default_ms: the default, in milliseconds
 * @minimum_ms: the shortest allowed, in milliseconds
 * @maximum_ms: the longest allowed, in milliseconds
 * @description: what the key is for, in one line
 *
 * Declares a duration, written in seconds with up to three decimals
 * (`0.5`) and read in milliseconds with
 * [method@Vsmtp.ConfigGroup.get_duration].
 *
 * Returns: (transfer none): the key
 */
VsmtpConfigKey *
vsmtp_config_group_add_duration (VsmtpConfigGroup *self,
                                 const char       *name,
                                 gint64            default_ms,
                                 gint64            minimum_ms,
                                 gint64            maximum_ms,
                                 const char       *description)
{
  g_autofree char *text = format_seconds (default_ms);
  VsmtpConfigKey *key;

  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);

  key = vsmtp_config_key_new (name, VSMTP_CONFIG_TYPE_DURATION, text, description);
  vsmtp_config_key_set_range (key, minimum_ms, maximum_ms, NULL);
  return add_new_key (self, key);
}

/**
 * vsmtp_config_group_add_choice:
 * @self: a group
 * @name: the name of the key
 * @default_value: (nullable): the default, one of @choices, or %NULL
 * @choices: (array zero-terminated=1): the values allowed
 * @description: what the key is for, in one line
 *
 * Declares a key whose value is one of @choices.
 *
 * Returns: (transfer none): the key
 */
VsmtpConfigKey *
vsmtp_config_group_add_choice (VsmtpConfigGroup   *self,
                               const char         *name,
                               const char         *default_value,
                               const char * const *choices,
                               const char         *description)
{
  VsmtpConfigKey *key;

  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);

  key = vsmtp_config_key_new (name, VSMTP_CONFIG_TYPE_CHOICE, default_value, description);
  vsmtp_config_key_set_choices (key, choices);
  return add_new_key (self, key);
}

/**
 * vsmtp_config_group_dup_keys:
 * @self: a group
 *
 * Returns: (transfer container) (element-type VsmtpConfigKey): the keys
 *   declared, in the order they were
 */
GPtrArray *
vsmtp_config_group_dup_keys (VsmtpConfigGroup *self)
{
  GPtrArray *keys;

  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);

  keys = g_ptr_array_new_full (self->keys->len, g_object_unref);
  for (guint i = 0; i < self->keys->len; i++)
    g_ptr_array_add (keys, g_object_ref (g_ptr_array_index (self->keys, i)));
  return keys;
}

G_GNUC_PRINTF (4, 5)
static gboolean
key_error (GError    **error,
           const char *group,
           const char *key,
           const char *format,
           ...)
{
  g_autofree char *problem = NULL;
  va_list args;

  va_start (args, format);
  problem = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_INVALID_CONFIG,
               "[%s] %s: %s", group, key, problem);
  return FALSE;
}

/* The value of @key in @keyfile as a key of its type reads it: strings
 * unescaped, lists joined again by ";" after their own unescaping. */
static char *
read_value (VsmtpConfigGroup  *self,
            VsmtpConfigKey    *key,
            GKeyFile          *keyfile,
            GError           **error)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) list = NULL;
  char *value;

  switch (key->value_type)
    {
    case VSMTP_CONFIG_TYPE_STRING:
    case VSMTP_CONFIG_TYPE_PATH:
      value = g_key_file_get_string (keyfile, self->name, key->name, &local_error);
      break;
    case VSMTP_CONFIG_TYPE_STRING_LIST:
      list = g_key_file_get_string_list (keyfile, self->name, key->name, NULL, &local_error);
      /* an empty value is an empty list */
      if (list == NULL && !g_error_matches (local_error, G_KEY_FILE_ERROR,
                                            G_KEY_FILE_ERROR_INVALID_VALUE))
        return g_strdup ("");
      /* "a;;" is a and an empty element, which the joined text would hide */
      if (list != NULL && list[0] != NULL && list[g_strv_length (list) - 1][0] == '\0')
        {
          key_error (error, self->name, key->name, "the list has an empty element");
          return NULL;
        }
      value = list != NULL ? g_strjoinv (";", list) : NULL;
      break;
    default:
      value = g_key_file_get_value (keyfile, self->name, key->name, &local_error);
      if (value != NULL)
        g_strstrip (value);
      break;
    }

  if (value == NULL)
    key_error (error, self->name, key->name, "%s", local_error->message);
  return value;
}

/**
 * vsmtp_config_group_load:
 * @self: a group
 * @keyfile: (nullable): a configuration, %NULL for none
 * @error: return location for an error
 *
 * Reads the group of @keyfile named as @self, replacing the values read
 * before: every key there must be declared, and every value must suit its
 * key. The message of @error is one line that names the group, the key and
 * the problem: `[maildir] pathh: unknown key`,
 * `[tarpit] delay: "abc" is not a number`.
 *
 * Returns: %TRUE if the group was read, %FALSE with @error set otherwise
 *   (and then no value is set)
 */
gboolean
vsmtp_config_group_load (VsmtpConfigGroup  *self,
                         GKeyFile          *keyfile,
                         GError           **error)
{
  g_auto(GStrv) names = NULL;
  g_autoptr(GHashTable) values = NULL;

  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (keyfile != NULL)
    names = g_key_file_get_keys (keyfile, self->name, NULL, NULL);

  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      VsmtpConfigKey *key = vsmtp_config_group_lookup_key (self, names[i]);
      char *value;

      if (key == NULL)
        return key_error (error, self->name, names[i], "unknown key");

      value = read_value (self, key, keyfile, error);
      if (value == NULL)
        return FALSE;
      g_hash_table_insert (values, g_strdup (names[i]), value);

      if (!vsmtp_config_key_check_value (key, value, &local_error))
        return key_error (error, self->name, names[i], "%s", local_error->message);
    }

  g_clear_pointer (&self->values, g_hash_table_unref);
  self->values = g_steal_pointer (&values);
  return TRUE;
}

/**
 * vsmtp_config_group_is_set:
 * @self: a group
 * @key: the name of a declared key
 *
 * Returns: %TRUE if the configuration sets @key, %FALSE if its default
 *   applies
 */
gboolean
vsmtp_config_group_is_set (VsmtpConfigGroup *self,
                           const char       *key)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  return g_hash_table_contains (self->values, key);
}

#define TYPE_BIT(type) (1u << (type))

/* The value of @name (set, or the default), as written in the file; NULL
 * when neither. A key that is not declared, or read as another type than
 * those of @types (TYPE_BIT()s), is a programming error. */
static const char *
lookup_value (VsmtpConfigGroup *self,
              const char       *name,
              guint             types,
              const char       *getter)
{
  VsmtpConfigKey *key = vsmtp_config_group_lookup_key (self, name);
  const char *value;

  if (key == NULL)
    {
      g_critical ("%s: [%s] %s is not declared", getter, self->name, name);
      return NULL;
    }
  if ((TYPE_BIT (key->value_type) & types) == 0)
    {
      GEnumClass *enum_class = g_type_class_ref (VSMTP_TYPE_CONFIG_TYPE);

      g_critical ("%s: [%s] %s is a %s key", getter, self->name, name,
                  g_enum_get_value (enum_class, key->value_type)->value_nick);
      g_type_class_unref (enum_class);
      return NULL;
    }

  value = g_hash_table_lookup (self->values, name);
  return value != NULL ? value : key->default_value;
}

/**
 * vsmtp_config_group_dup_string:
 * @self: a group
 * @key: the name of a string, path or choice key
 *
 * Returns: (transfer full) (nullable): the value of @key, its default if
 *   it is not set, %NULL if it has none
 */
char *
vsmtp_config_group_dup_string (VsmtpConfigGroup *self,
                               const char       *key)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return g_strdup (lookup_value (self, key,
                                 TYPE_BIT (VSMTP_CONFIG_TYPE_STRING) |
                                 TYPE_BIT (VSMTP_CONFIG_TYPE_PATH) |
                                 TYPE_BIT (VSMTP_CONFIG_TYPE_CHOICE),
                                 G_STRFUNC));
}

/**
 * vsmtp_config_group_dup_string_list:
 * @self: a group
 * @key: the name of a string list key
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the
 *   elements of @key (without the spaces around them), its default if it
 *   is not set, %NULL if it has none
 */
char **
vsmtp_config_group_dup_string_list (VsmtpConfigGroup *self,
                                    const char       *key)
{
  const char *value;
  char **elements;

  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  value = lookup_value (self, key, TYPE_BIT (VSMTP_CONFIG_TYPE_STRING_LIST), G_STRFUNC);
  if (value == NULL)
    return NULL;
  elements = split_list (value);
  for (guint i = 0; elements[i] != NULL; i++)
    g_strstrip (elements[i]);
  return elements;
}

/**
 * vsmtp_config_group_get_boolean:
 * @self: a group
 * @key: the name of a boolean key
 *
 * Returns: the value of @key, its default if it is not set
 */
gboolean
vsmtp_config_group_get_boolean (VsmtpConfigGroup *self,
                                const char       *key)
{
  const char *value;
  gboolean flag = FALSE;

  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  value = lookup_value (self, key, TYPE_BIT (VSMTP_CONFIG_TYPE_BOOLEAN), G_STRFUNC);
  if (value != NULL)
    check_boolean (value, &flag, NULL);
  return flag;
}

static gint64
get_number (VsmtpConfigGroup *self,
            const char       *name,
            VsmtpConfigType   type,
            const char       *getter)
{
  const char *value = lookup_value (self, name, TYPE_BIT (type), getter);
  VsmtpConfigKey *key = vsmtp_config_group_lookup_key (self, name);
  gint64 number = 0;

  if (value == NULL)
    return 0;
  if (type == VSMTP_CONFIG_TYPE_INTEGER)
    check_integer (key, value, &number, NULL);
  else
    check_duration (key, value, &number, NULL);
  return number;
}

/**
 * vsmtp_config_group_get_integer:
 * @self: a group
 * @key: the name of an integer key
 *
 * Returns: the value of @key, its default if it is not set, 0 if it has
 *   none
 */
gint64
vsmtp_config_group_get_integer (VsmtpConfigGroup *self,
                                const char       *key)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), 0);
  g_return_val_if_fail (key != NULL, 0);

  return get_number (self, key, VSMTP_CONFIG_TYPE_INTEGER, G_STRFUNC);
}

/**
 * vsmtp_config_group_get_duration:
 * @self: a group
 * @key: the name of a duration key
 *
 * Returns: the value of @key in milliseconds, its default if it is not
 *   set, 0 if it has none
 */
gint64
vsmtp_config_group_get_duration (VsmtpConfigGroup *self,
                                 const char       *key)
{
  g_return_val_if_fail (VSMTP_IS_CONFIG_GROUP (self), 0);
  g_return_val_if_fail (key != NULL, 0);

  return get_number (self, key, VSMTP_CONFIG_TYPE_DURATION, G_STRFUNC);
}

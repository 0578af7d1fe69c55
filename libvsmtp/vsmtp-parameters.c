/* vsmtp-parameters.c: the ESMTP parameters of a MAIL or RCPT command
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-parameters.h"

/**
 * VsmtpParameters:
 *
 * The ESMTP parameters of a MAIL or RCPT command (`SIZE=1000`,
 * `BODY=8BITMIME`, `NOTIFY=NEVER`...), as handed to
 * [signal@Vsmtp.Session::mail-from] and [signal@Vsmtp.Session::rcpt-to].
 *
 * Keywords are upper-cased; a keyword given without `=value` has the value
 * %NULL. An immutable, reference-counted view of a hash table: unlike a bare
 * `GHashTable` in a signal, it reads the same from C, Python, GJS and Vala
 * (`parameters.get ("SIZE")`). From Python it also behaves like a read-only
 * `dict`.
 */
struct _VsmtpParameters
{
  gatomicrefcount  ref_count;
  GHashTable      *table;
};

G_DEFINE_BOXED_TYPE (VsmtpParameters, vsmtp_parameters, vsmtp_parameters_ref, vsmtp_parameters_unref)

/**
 * vsmtp_parameters_new:
 * @table: (nullable) (element-type utf8 utf8): upper-cased keyword → value
 *   (values may be %NULL), or %NULL for none
 *
 * Creates parameters from @table, which is copied.
 *
 * Returns: (transfer full): new parameters
 */
VsmtpParameters *
vsmtp_parameters_new (GHashTable *table)
{
  VsmtpParameters *self = g_new0 (VsmtpParameters, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (table != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, table);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (self->table, g_strdup (key), g_strdup (value));
    }
  return self;
}

/* Wraps @table without copying it (the session's hot path); NULL: no
 * parameters. */
VsmtpParameters *
_vsmtp_parameters_new_for_table (GHashTable *table)
{
  VsmtpParameters *self;

  if (table == NULL)
    return vsmtp_parameters_new (NULL);
  self = g_new0 (VsmtpParameters, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->table = g_hash_table_ref (table);
  return self;
}

/**
 * vsmtp_parameters_ref:
 * @self: parameters
 *
 * Returns: (transfer full): @self
 */
VsmtpParameters *
vsmtp_parameters_ref (VsmtpParameters *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * vsmtp_parameters_unref:
 * @self: (transfer full): parameters
 *
 * Drops a reference.
 */
void
vsmtp_parameters_unref (VsmtpParameters *self)
{
  g_return_if_fail (self != NULL);
  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_hash_table_unref (self->table);
      g_free (self);
    }
}

/**
 * vsmtp_parameters_contains:
 * @self: parameters
 * @keyword: an upper-case keyword such as `BODY`
 *
 * Returns: whether the command had @keyword, with or without a value
 */
gboolean
vsmtp_parameters_contains (VsmtpParameters *self,
                           const char      *keyword)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (keyword != NULL, FALSE);
  return g_hash_table_contains (self->table, keyword);
}

/**
 * vsmtp_parameters_get:
 * @self: parameters
 * @keyword: an upper-case keyword such as `SIZE`
 *
 * Returns: (nullable): the value of @keyword, or %NULL when it is absent or
 *   has no value (tell the two apart with [method@Vsmtp.Parameters.contains])
 */
const char *
vsmtp_parameters_get (VsmtpParameters *self,
                      const char      *keyword)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (keyword != NULL, NULL);
  return g_hash_table_lookup (self->table, keyword);
}

/**
 * vsmtp_parameters_get_size:
 * @self: parameters
 *
 * Returns: the number of parameters
 */
guint
vsmtp_parameters_get_size (VsmtpParameters *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return g_hash_table_size (self->table);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/**
 * vsmtp_parameters_dup_keywords:
 * @self: parameters
 *
 * Returns: (transfer full) (array zero-terminated=1): the keywords, sorted
 */
char **
vsmtp_parameters_dup_keywords (VsmtpParameters *self)
{
  GPtrArray *keys;
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (self != NULL, NULL);

  keys = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, self->table);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, g_strdup (key));
  g_ptr_array_sort (keys, compare_strings);
  g_ptr_array_add (keys, NULL);
  return (char **) g_ptr_array_free (keys, FALSE);
}

/**
 * vsmtp_parameters_get_table:
 * @self: parameters
 *
 * The parameters as a hash table, for C code and for languages that turn it
 * into their own dictionary type. Do not modify it.
 *
 * Returns: (transfer none) (element-type utf8 utf8): keyword → value
 */
GHashTable *
vsmtp_parameters_get_table (VsmtpParameters *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->table;
}

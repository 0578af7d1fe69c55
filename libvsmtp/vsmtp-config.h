/* vsmtp-config.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VsmtpConfigType:
 * @VSMTP_CONFIG_TYPE_STRING: any text (an empty one included)
 * @VSMTP_CONFIG_TYPE_PATH: a file or folder name; not empty
 * @VSMTP_CONFIG_TYPE_STRING_LIST: texts separated by `;`, none empty
 * @VSMTP_CONFIG_TYPE_BOOLEAN: `true` or `false` (or `1` or `0`)
 * @VSMTP_CONFIG_TYPE_INTEGER: a whole number in the range of the key
 * @VSMTP_CONFIG_TYPE_DURATION: seconds, with up to three decimals
 *   (`0.5`); read in milliseconds, its range in milliseconds
 * @VSMTP_CONFIG_TYPE_CHOICE: one of the key's choices
 *
 * The type of the value of a [class@Vsmtp.ConfigKey].
 */
typedef enum {
  VSMTP_CONFIG_TYPE_STRING,
  VSMTP_CONFIG_TYPE_PATH,
  VSMTP_CONFIG_TYPE_STRING_LIST,
  VSMTP_CONFIG_TYPE_BOOLEAN,
  VSMTP_CONFIG_TYPE_INTEGER,
  VSMTP_CONFIG_TYPE_DURATION,
  VSMTP_CONFIG_TYPE_CHOICE,
} VsmtpConfigType;

#define VSMTP_TYPE_CONFIG_KEY (vsmtp_config_key_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpConfigKey, vsmtp_config_key, VSMTP, CONFIG_KEY, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey      *vsmtp_config_key_new               (const char          *name,
                                                         VsmtpConfigType      value_type,
                                                         const char          *default_value,
                                                         const char          *description);
VSMTP_AVAILABLE_IN_ALL
const char          *vsmtp_config_key_get_name          (VsmtpConfigKey      *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigType      vsmtp_config_key_get_value_type    (VsmtpConfigKey      *self);
VSMTP_AVAILABLE_IN_ALL
const char          *vsmtp_config_key_get_default_value (VsmtpConfigKey      *self);
VSMTP_AVAILABLE_IN_ALL
const char          *vsmtp_config_key_get_description  (VsmtpConfigKey      *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_config_key_set_range         (VsmtpConfigKey      *self,
                                                         gint64               minimum,
                                                         gint64               maximum,
                                                         const char          *unit);
VSMTP_AVAILABLE_IN_ALL
gint64               vsmtp_config_key_get_minimum       (VsmtpConfigKey      *self);
VSMTP_AVAILABLE_IN_ALL
gint64               vsmtp_config_key_get_maximum       (VsmtpConfigKey      *self);
VSMTP_AVAILABLE_IN_ALL
const char          *vsmtp_config_key_get_unit          (VsmtpConfigKey      *self);
VSMTP_AVAILABLE_IN_ALL
void                 vsmtp_config_key_set_choices       (VsmtpConfigKey      *self,
                                                         const char * const  *choices);
VSMTP_AVAILABLE_IN_ALL
const char * const  *vsmtp_config_key_get_choices       (VsmtpConfigKey      *self);
VSMTP_AVAILABLE_IN_ALL
gboolean             vsmtp_config_key_check_value       (VsmtpConfigKey      *self,
                                                         const char          *value,
                                                         GError             **error);

#define VSMTP_TYPE_CONFIG_GROUP (vsmtp_config_group_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpConfigGroup, vsmtp_config_group, VSMTP, CONFIG_GROUP, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpConfigGroup *vsmtp_config_group_new             (const char          *name);
VSMTP_AVAILABLE_IN_ALL
const char       *vsmtp_config_group_get_name        (VsmtpConfigGroup    *self);
VSMTP_AVAILABLE_IN_ALL
void              vsmtp_config_group_add_key         (VsmtpConfigGroup    *self,
                                                      VsmtpConfigKey      *key);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey   *vsmtp_config_group_add_string      (VsmtpConfigGroup    *self,
                                                      const char          *name,
                                                      const char          *default_value,
                                                      const char          *description);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey   *vsmtp_config_group_add_path        (VsmtpConfigGroup    *self,
                                                      const char          *name,
                                                      const char          *default_value,
                                                      const char          *description);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey   *vsmtp_config_group_add_string_list (VsmtpConfigGroup    *self,
                                                      const char          *name,
                                                      const char          *default_value,
                                                      const char          *description);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey   *vsmtp_config_group_add_boolean     (VsmtpConfigGroup    *self,
                                                      const char          *name,
                                                      gboolean             default_value,
                                                      const char          *description);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey   *vsmtp_config_group_add_integer     (VsmtpConfigGroup    *self,
                                                      const char          *name,
                                                      gint64               default_value,
                                                      gint64               minimum,
                                                      gint64               maximum,
                                                      const char          *unit,
                                                      const char          *description);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey   *vsmtp_config_group_add_duration    (VsmtpConfigGroup    *self,
                                                      const char          *name,
                                                      gint64               default_ms,
                                                      gint64               minimum_ms,
                                                      gint64               maximum_ms,
                                                      const char          *description);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey   *vsmtp_config_group_add_choice      (VsmtpConfigGroup    *self,
                                                      const char          *name,
                                                      const char          *default_value,
                                                      const char * const  *choices,
                                                      const char          *description);
VSMTP_AVAILABLE_IN_ALL
VsmtpConfigKey   *vsmtp_config_group_lookup_key      (VsmtpConfigGroup    *self,
                                                      const char          *name);
VSMTP_AVAILABLE_IN_ALL
GPtrArray        *vsmtp_config_group_dup_keys        (VsmtpConfigGroup    *self);

VSMTP_AVAILABLE_IN_ALL
gboolean          vsmtp_config_group_load            (VsmtpConfigGroup    *self,
                                                      GKeyFile            *keyfile,
                                                      GError             **error);
VSMTP_AVAILABLE_IN_ALL
gboolean          vsmtp_config_group_is_set          (VsmtpConfigGroup    *self,
                                                      const char          *key);
VSMTP_AVAILABLE_IN_ALL
char             *vsmtp_config_group_dup_string      (VsmtpConfigGroup    *self,
                                                      const char          *key);
VSMTP_AVAILABLE_IN_ALL
char            **vsmtp_config_group_dup_string_list (VsmtpConfigGroup    *self,
                                                      const char          *key);
VSMTP_AVAILABLE_IN_ALL
gboolean          vsmtp_config_group_get_boolean     (VsmtpConfigGroup    *self,
                                                      const char          *key);
VSMTP_AVAILABLE_IN_ALL
gint64            vsmtp_config_group_get_integer     (VsmtpConfigGroup    *self,
                                                      const char          *key);
VSMTP_AVAILABLE_IN_ALL
gint64            vsmtp_config_group_get_duration    (VsmtpConfigGroup    *self,
                                                      const char          *key);

G_END_DECLS

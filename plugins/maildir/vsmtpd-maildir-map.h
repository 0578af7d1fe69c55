/* vsmtpd-maildir-map.h: where each recipient's maildir is: the `%u`,
 * `%d`, `%a` path templates and the `path-map` file of virtual users
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <vsmtp.h>

G_BEGIN_DECLS

/* Whether @template has only the escapes `%u`, `%d`, `%a` and `%%`;
 * @per_recipient tells whether it has one of the first three. */
gboolean  maildir_template_check  (const char    *template,
                                   gboolean      *per_recipient,
                                   GError       **error);

/* @template with `%u` (the local part), `%d` (the domain, lower case),
 * `%a` (local@domain) and `%%` replaced for @recipient; NULL when a value
 * could leave its folder (a `/`, a leading `.`, a control character) or
 * is empty. */
char     *maildir_template_expand (const char    *template,
                                   VsmtpAddress  *recipient);

/* The key of @recipient in a map: local@domain in ASCII lower case (as
 * Postfix looks addresses up in its tables). */
char     *maildir_address_key     (VsmtpAddress  *recipient);

typedef struct _MaildirMap MaildirMap;

/* Reads @file (lines `address path`; `#` comments and blank lines
 * ignored; the path absolute, templates allowed). */
MaildirMap *maildir_map_new       (const char    *file,
                                   GError       **error);
void        maildir_map_free      (MaildirMap    *map);
/* Reads the file again if it changed since (inode, size, modification or
 * change time); a file that became unreadable or wrong keeps the entries
 * read before, with a warning. Main thread only. */
void        maildir_map_refresh   (MaildirMap    *map);
/* The maildir of @recipient, expanded, or NULL for an unknown user. */
char       *maildir_map_lookup    (MaildirMap    *map,
                                   VsmtpAddress  *recipient);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MaildirMap, maildir_map_free)

G_END_DECLS

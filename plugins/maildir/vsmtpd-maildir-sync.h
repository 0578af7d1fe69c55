/* vsmtpd-maildir-sync.h: one fsync() of a folder for the links made into it
 * meanwhile (group commit)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MaildirSync MaildirSync;

MaildirSync *maildir_sync_new    (void);
void         maildir_sync_free   (MaildirSync  *sync);
guint64      maildir_sync_note   (MaildirSync  *sync,
                                  const char   *dir);
gboolean     maildir_sync_wait   (MaildirSync  *sync,
                                  const char   *dir,
                                  guint64       ticket,
                                  GError      **error);
void         maildir_sync_forget (MaildirSync  *sync,
                                  const char   *dir);

G_END_DECLS

/* vsmtp-xclient-private.h: the XCLIENT command (Postfix's XCLIENT_README)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection). The
 * attribute parser is pure (the unit test and the command fuzzer drive
 * it); the rest is the session's side: whether XCLIENT is offered, the
 * command itself, and what it changed.
 */
#pragma once

#include <gio/gio.h>

#include "vsmtp-settings-private.h"
#include "vsmtp-xclient.h"

G_BEGIN_DECLS

/* The attributes vsmtpd takes, in the order of the EHLO line */
typedef enum {
  VSMTP_XCLIENT_NAME     = 1 << 0,
  VSMTP_XCLIENT_ADDR     = 1 << 1,
  VSMTP_XCLIENT_PORT     = 1 << 2,
  VSMTP_XCLIENT_PROTO    = 1 << 3,
  VSMTP_XCLIENT_HELO     = 1 << 4,
  VSMTP_XCLIENT_LOGIN    = 1 << 5,
  VSMTP_XCLIENT_DESTADDR = 1 << 6,
  VSMTP_XCLIENT_DESTPORT = 1 << 7,
} VsmtpXclientAttribute;

/* What the EHLO reply lists after the keyword */
#define VSMTP_XCLIENT_EHLO_ATTRIBUTES "NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT"

/* The longest NAME, HELO and LOGIN values, decoded (XCLIENT_README) */
#define VSMTP_XCLIENT_VALUE_MAX 255

/* One XCLIENT command's attributes. A given attribute (its bit in @given)
 * whose value was [UNAVAILABLE] (or [TEMPUNAVAIL], for the names) has a
 * NULL string or address, a port of 0. */
typedef struct {
  guint         given;      /* VsmtpXclientAttribute */
  char         *name;
  GInetAddress *addr;
  guint16       port;
  gboolean      esmtp;      /* PROTO=ESMTP (else SMTP) */
  char         *helo;
  char         *login;
  GInetAddress *destaddr;
  guint16       destport;
} VsmtpXclientAttributes;

/* Parses what follows the verb: `attribute=xtext` words separated by
 * spaces, names in any case, a repeated attribute's last value kept.
 * FALSE with @error (VSMTP_ERROR_SYNTAX) whose message is the text of the
 * `501 5.5.4` reply; @attributes then holds nothing to free. */
gboolean  _vsmtp_xclient_parse             (const char              *args,
                                            VsmtpXclientAttributes  *attributes,
                                            GError                 **error);
void      _vsmtp_xclient_attributes_clear  (VsmtpXclientAttributes  *attributes);

/* The session's side (vsmtp-xclient.c, with the session's instance) */
typedef struct _VsmtpSessionXclient VsmtpSessionXclient;

void      _vsmtp_session_xclient_free      (VsmtpSessionXclient     *xclient);

/* The built-in extension's "offered": the session's listener trusts the
 * socket's peer with XCLIENT. */
gboolean  _vsmtp_xclient_offered           (VsmtpSession            *session,
                                            const VsmtpSettings     *settings);

/* The XCLIENT command; @args is what follows the verb. */
void      _vsmtp_session_handle_xclient    (VsmtpSession            *self,
                                            const char              *args);

/* What a HELO or EHLO after XCLIENT records: XCLIENT's HELO when it gave
 * one, else @domain. Takes @domain. */
char     *_vsmtp_session_xclient_take_helo (VsmtpSession            *self,
                                            char                    *domain);

/* For the Received header: the client's host name (XCLIENT NAME) or NULL,
 * and whether it spoke ESMTP (XCLIENT PROTO when given, else @esmtp). */
const char *_vsmtp_session_xclient_get_name  (VsmtpSession          *self);
gboolean    _vsmtp_session_xclient_get_esmtp (VsmtpSession          *self,
                                              gboolean               esmtp);

G_END_DECLS

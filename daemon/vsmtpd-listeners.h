/* vsmtpd-listeners.h: the [listener NAME] sections of vsmtpd's keyfile
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>
#include <vsmtp.h>

G_BEGIN_DECLS

/* One [listener NAME] section, checked */
typedef struct
{
  char               *name;
  VsmtpListenOptions *options;     /* name = NAME */
  char              **listen;      /* as configured */
  GPtrArray          *addresses;   /* GSocketAddress, same order: inet or UNIX */
  gint                socket_mode; /* -1: as created */
  uid_t               socket_uid;  /* (uid_t) -1: unchanged */
  gid_t               socket_gid;  /* (gid_t) -1: unchanged */
  GPtrArray          *bound_paths; /* the UNIX socket files created, removed at exit */
} VsmtpdListener;

/* The keys of a [listener NAME] section, for --list-keys (group
 * "listener NAME") */
VsmtpConfigGroup *vsmtpd_listeners_group_new  (const char  *name);

/* Reads every [listener NAME] section of @keyfile: a GPtrArray of
 * VsmtpdListener. Errors are "[listener NAME] key: problem".
 * @have_certificate: whether tls = implicit is possible. */
GPtrArray        *vsmtpd_listeners_load       (GKeyFile    *keyfile,
                                               gboolean     have_certificate,
                                               GError     **error);

/* The section named @name, or NULL */
VsmtpdListener   *vsmtpd_listeners_find       (GPtrArray   *listeners,
                                               const char  *name);

/* Binds every address of @listener on @server (a UNIX socket: a stale
 * socket file unlinked first, then its mode and owner set); appends a line
 * per address to @listening. */
gboolean          vsmtpd_listener_bind        (VsmtpdListener *listener,
                                               VsmtpServer    *server,
                                               gboolean        reuse_port,
                                               GPtrArray      *listening,
                                               GError        **error);

/* The same for the address @i of @listener only; @out_effective: the
 * address bound (a UNIX socket: its path) */
gboolean          vsmtpd_listener_bind_address (VsmtpdListener  *listener,
                                                guint            i,
                                                VsmtpServer     *server,
                                                gboolean         reuse_port,
                                                GPtrArray       *listening,
                                                GSocketAddress **out_effective,
                                                GError         **error);

/* Removes the UNIX socket files the listeners created */
void              vsmtpd_listeners_cleanup    (GPtrArray   *listeners);

G_END_DECLS

/* vsmtp-store.h: shared policy state (counters, rate limits, sets with
 * expiry), in process or in Redis
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vsmtp-version-macros.h"
#include "vsmtp-server.h"

G_BEGIN_DECLS

#define VSMTP_TYPE_STORE (vsmtp_store_get_type ())
VSMTP_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (VsmtpStore, vsmtp_store, VSMTP, STORE, GObject)

/**
 * VsmtpStoreClass:
 * @parent_class: the parent class
 * @increment_async: adds to a counter; see [method@Vsmtp.Store.increment_async]
 * @increment_finish: its result
 * @rate_limit_async: checks and counts an event; see
 *   [method@Vsmtp.Store.rate_limit_async]
 * @rate_limit_finish: its result
 * @set_add_async: adds a member to a set; see [method@Vsmtp.Store.set_add_async]
 * @set_add_finish: its result
 * @set_contains_async: looks a member up; see
 *   [method@Vsmtp.Store.set_contains_async]
 * @set_contains_finish: its result
 * @lease_acquire_async: takes or renews a lease; see
 *   [method@Vsmtp.Store.lease_acquire_async]
 * @lease_acquire_finish: its result
 * @lease_release_async: gives a lease back; see
 *   [method@Vsmtp.Store.lease_release_async]
 * @lease_release_finish: its result
 *
 * The operations a backend implements. Keys reach them with the store's
 * prefix ([property@Vsmtp.Store:prefix]) already added. The default
 * finishes take a #GTask made with the store as its source object: an
 * integer for increment, a boolean for the others, and for a refused rate
 * limit the wait in microseconds, a `gint64` in the task's data.
 */
struct _VsmtpStoreClass
{
  GObjectClass parent_class;

  void     (*increment_async)     (VsmtpStore          *self,
                                   const char          *key,
                                   gint64               delta,
                                   GTimeSpan            ttl,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
  gint64   (*increment_finish)    (VsmtpStore          *self,
                                   GAsyncResult        *result,
                                   GError             **error);
  void     (*rate_limit_async)    (VsmtpStore          *self,
                                   const char          *key,
                                   guint                limit,
                                   GTimeSpan            interval,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
  gboolean (*rate_limit_finish)   (VsmtpStore          *self,
                                   GAsyncResult        *result,
                                   GTimeSpan           *retry_after,
                                   GError             **error);
  void     (*set_add_async)       (VsmtpStore          *self,
                                   const char          *key,
                                   const char          *member,
                                   GTimeSpan            ttl,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
  gboolean (*set_add_finish)      (VsmtpStore          *self,
                                   GAsyncResult        *result,
                                   GError             **error);
  void     (*set_contains_async)  (VsmtpStore          *self,
                                   const char          *key,
                                   const char          *member,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
  gboolean (*set_contains_finish) (VsmtpStore          *self,
                                   GAsyncResult        *result,
                                   GError             **error);

  void     (*lease_acquire_async)  (VsmtpStore          *self,
                                   const char          *key,
                                   const char          *holder,
                                   guint                limit,
                                   GTimeSpan            ttl,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
  gboolean (*lease_acquire_finish) (VsmtpStore          *self,
                                   GAsyncResult        *result,
                                   GError             **error);
  void     (*lease_release_async)  (VsmtpStore          *self,
                                   const char          *key,
                                   const char          *holder,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
  gboolean (*lease_release_finish) (VsmtpStore          *self,
                                   GAsyncResult        *result,
                                   GError             **error);

  /*< private >*/
  gpointer padding[4];
};

VSMTP_AVAILABLE_IN_ALL
const char *vsmtp_store_get_prefix        (VsmtpStore          *self);

VSMTP_AVAILABLE_IN_ALL
void        vsmtp_store_increment_async   (VsmtpStore          *self,
                                           const char          *key,
                                           gint64               delta,
                                           GTimeSpan            ttl,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
VSMTP_AVAILABLE_IN_ALL
gint64      vsmtp_store_increment_finish  (VsmtpStore          *self,
                                           GAsyncResult        *result,
                                           GError             **error);
VSMTP_AVAILABLE_IN_ALL
void        vsmtp_store_rate_limit_async  (VsmtpStore          *self,
                                           const char          *key,
                                           guint                limit,
                                           GTimeSpan            interval,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
VSMTP_AVAILABLE_IN_ALL
gboolean    vsmtp_store_rate_limit_finish (VsmtpStore          *self,
                                           GAsyncResult        *result,
                                           GTimeSpan           *retry_after,
                                           GError             **error);
VSMTP_AVAILABLE_IN_ALL
void        vsmtp_store_set_add_async     (VsmtpStore          *self,
                                           const char          *key,
                                           const char          *member,
                                           GTimeSpan            ttl,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
VSMTP_AVAILABLE_IN_ALL
gboolean    vsmtp_store_set_add_finish    (VsmtpStore          *self,
                                           GAsyncResult        *result,
                                           GError             **error);
VSMTP_AVAILABLE_IN_ALL
void        vsmtp_store_set_contains_async (VsmtpStore          *self,
                                            const char          *key,
                                            const char          *member,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
VSMTP_AVAILABLE_IN_ALL
gboolean    vsmtp_store_set_contains_finish (VsmtpStore          *self,
                                             GAsyncResult        *result,
                                             GError             **error);

VSMTP_AVAILABLE_IN_ALL
void        vsmtp_store_lease_acquire_async  (VsmtpStore          *self,
                                              const char          *key,
                                              const char          *holder,
                                              guint                limit,
                                              GTimeSpan            ttl,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
VSMTP_AVAILABLE_IN_ALL
gboolean    vsmtp_store_lease_acquire_finish (VsmtpStore          *self,
                                              GAsyncResult        *result,
                                              GError             **error);
VSMTP_AVAILABLE_IN_ALL
void        vsmtp_store_lease_release_async  (VsmtpStore          *self,
                                              const char          *key,
                                              const char          *holder,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
VSMTP_AVAILABLE_IN_ALL
gboolean    vsmtp_store_lease_release_finish (VsmtpStore          *self,
                                              GAsyncResult        *result,
                                              GError             **error);

VSMTP_AVAILABLE_IN_ALL
VsmtpStore *vsmtp_server_get_store        (VsmtpServer         *server);
VSMTP_AVAILABLE_IN_ALL
void        vsmtp_server_set_store        (VsmtpServer         *server,
                                           VsmtpStore          *store);

#define VSMTP_TYPE_MEMORY_STORE (vsmtp_memory_store_get_type ())
VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpMemoryStore, vsmtp_memory_store, VSMTP, MEMORY_STORE, VsmtpStore)

VSMTP_AVAILABLE_IN_ALL
VsmtpStore *vsmtp_memory_store_new        (const char          *prefix);

#define VSMTP_TYPE_REDIS_STORE (vsmtp_redis_store_get_type ())
VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpRedisStore, vsmtp_redis_store, VSMTP, REDIS_STORE, VsmtpStore)

VSMTP_AVAILABLE_IN_ALL
VsmtpStore *vsmtp_redis_store_new         (const char          *url,
                                           const char          *prefix,
                                           GError             **error);
VSMTP_AVAILABLE_IN_ALL
gboolean    vsmtp_redis_store_is_connected (VsmtpRedisStore    *self);

G_END_DECLS

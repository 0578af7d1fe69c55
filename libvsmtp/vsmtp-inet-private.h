/* vsmtp-inet-private.h: a client's address as text, once per connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

char *_vsmtp_inet_address_to_string (GInetAddress *address);

G_END_DECLS

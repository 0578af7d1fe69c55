/* vsmtp-source-private.h: GSource helpers shared by the library's units
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to libvsmtp (not installed, not scanned for introspection).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Destroys *@source, if any, and drops the reference kept to it. */
static inline void
_vsmtp_clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

G_END_DECLS

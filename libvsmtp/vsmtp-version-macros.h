/* vsmtp-version-macros.h: export decorators
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#ifndef _VSMTP_EXTERN
# define _VSMTP_EXTERN __attribute__((visibility("default"))) extern
#endif

/**
 * VSMTP_AVAILABLE_IN_ALL:
 *
 * Marks a symbol as exported by libvsmtp in every version of the 1.0 API.
 */
#define VSMTP_AVAILABLE_IN_ALL _VSMTP_EXTERN

/* vsmtpd-tls.h: the TLS certificate of vsmtpd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The key exchange groups, X25519 first: it is the one key share most
 * clients send in their ClientHello (OpenSSL's, Go's, NSS's default). With
 * %SERVER_PRECEDENCE GnuTLS picks the first group of its own list that the
 * client supports, and NORMAL starts with SECP256R1: a client that sent
 * only an X25519 share then gets a HelloRetryRequest, one round trip and
 * a second ClientHello more per handshake. */
#define VSMTPD_TLS_PRIORITY_GROUPS \
  "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:" \
  "+GROUP-X448:+GROUP-FFDHE2048:+GROUP-FFDHE3072:+GROUP-FFDHE4096:+GROUP-FFDHE6144:" \
  "+GROUP-FFDHE8192:"
/* TLS 1.2 and 1.3, forward-secret AEAD suites only (AES-GCM, ChaCha20-
 * Poly1305 with ECDHE or DHE), the server's order: a "modern
 * intermediate" profile. */
#define VSMTPD_TLS_PRIORITY_DEFAULT \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
  "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:" \
  VSMTPD_TLS_PRIORITY_GROUPS \
  "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:%SERVER_PRECEDENCE"
/* tls-min-version=1.3 */
#define VSMTPD_TLS_PRIORITY_TLS13 \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:" \
  "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:" \
  VSMTPD_TLS_PRIORITY_GROUPS \
  "%SERVER_PRECEDENCE"

gboolean         vsmtpd_tls_check_priority    (const char  *priority,
                                               GError     **error);
gboolean         vsmtpd_tls_apply_priority    (const char  *priority,
                                               GError     **error);

GTlsCertificate *vsmtpd_tls_load_certificate  (const char  *certificate_path,
                                               const char  *key_path,
                                               gboolean    *out_key_at_fault,
                                               GError     **error);
gboolean         vsmtpd_tls_ensure_self_signed (const char  *directory,
                                                const char  *hostname,
                                                char       **out_certificate_path,
                                                char       **out_key_path,
                                                gboolean    *out_created,
                                                char       **out_previous_name,
                                                GError     **error);
char            *vsmtpd_tls_dup_fingerprint   (GTlsCertificate *certificate);

G_END_DECLS

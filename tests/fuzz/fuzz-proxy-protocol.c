/* fuzz-proxy-protocol.c: libFuzzer harness for the PROXY protocol header
 * scan and parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is the start of a connection. It is read the way the
 * listener's reader reads it, through _vsmtp_proxy_scan(), in chunks whose
 * size the first byte picks: the scan must never ask for a byte past the
 * header, must end within the size bounds, and the same header must come
 * out whatever the chunking. A whole header is parsed and every getter
 * called.
 */
#include "config.h"

#include <string.h>

#include "vsmtp-error.h"
#include "vsmtp-proxy-protocol-private.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_common_init ();
  return 0;
}

/* Returns the header length, 0 for an error or too little input */
static gsize
scan (const guint8 *data,
      gsize         size,
      gsize         chunk)
{
  gsize have = 0;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gsize want = 0, n;
      gboolean exact = TRUE;

      switch (_vsmtp_proxy_scan (data, have, VSMTP_PROXY_ACCEPT_V1 | VSMTP_PROXY_ACCEPT_V2,
                                 &want, &exact, &error))
        {
        case VSMTP_PROXY_SCAN_COMPLETE:
          g_assert_cmpuint (want, ==, have);
          g_assert_no_error (error);
          return want;
        case VSMTP_PROXY_SCAN_ERROR:
          g_assert_nonnull (error);
          g_assert_true (error->domain == VSMTP_ERROR);
          return 0;
        case VSMTP_PROXY_SCAN_MORE:
          g_assert_no_error (error);
          g_assert_cmpuint (want, >, 0);
          g_assert_cmpuint (have + want, <=, VSMTP_PROXY_V2_FIXED + VSMTP_PROXY_V2_MAX_LENGTH);
          n = MIN (MIN (want, chunk), size - have);
          if (!exact)
            {
              const guint8 *lf = memchr (data + have, '\n', n);

              if (lf != NULL)
                n = lf - (data + have) + 1;
            }
          if (n == 0)
            return 0;
          have += n;
          break;
        default:
          g_assert_not_reached ();
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpProxyHeader) header = NULL;
  gsize length, chunk;
  guint version;

  if (size < 1)
    return 0;
  chunk = 1 + data[0] % 32;
  data++;
  size--;

  length = scan (data, size, chunk);
  g_assert_cmpuint (scan (data, size, 8192), ==, length);
  if (length == 0)
    return 0;

  header = _vsmtp_proxy_parse (data, length, NULL, &error);
  if (header == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == VSMTP_ERROR);
      return 0;
    }
  version = vsmtp_proxy_header_get_version (header);
  g_assert_true (version == 1 || version == 2);
  if (version == 1)
    g_assert_cmpuint (length, <=, VSMTP_PROXY_V1_MAX);
  if (vsmtp_proxy_header_is_local (header))
    g_assert_null (vsmtp_proxy_header_get_source_address (header));
  if (vsmtp_proxy_header_get_source_address (header) != NULL)
    g_assert_true (G_IS_SOCKET_ADDRESS (vsmtp_proxy_header_get_source_address (header)));
  for (const char *s = vsmtp_proxy_header_get_alpn (header); s != NULL; s = NULL)
    g_assert_true (g_utf8_validate (s, -1, NULL));
  for (const char *s = vsmtp_proxy_header_get_authority (header); s != NULL; s = NULL)
    g_assert_true (g_utf8_validate (s, -1, NULL));
  (void) vsmtp_proxy_header_get_unique_id (header);
  (void) vsmtp_proxy_header_get_ssl_flags (header);
  (void) vsmtp_proxy_header_get_ssl_verify (header);
  (void) vsmtp_proxy_header_get_ssl_version (header);
  (void) vsmtp_proxy_header_get_ssl_cn (header);
  (void) vsmtp_proxy_header_get_ssl_cipher (header);
  (void) vsmtp_proxy_header_get_ssl_sig_alg (header);
  (void) vsmtp_proxy_header_get_ssl_key_alg (header);
  return 0;
}

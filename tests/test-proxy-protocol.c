/* test-proxy-protocol.c: the PROXY protocol header parser, without a
 * session: the scan (how much may be read) and the parse
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <vsmtp.h>

#include "vsmtp-proxy-protocol-private.h"

#define ANY (VSMTP_PROXY_ACCEPT_V1 | VSMTP_PROXY_ACCEPT_V2)

/* Reads @input the way the listener's reader does, through the scan, in
 * chunks of at most @chunk bytes: returns the header length the scan ended
 * with (0 after an error), and checks that no byte past it was read. */
static gsize
drive_scan (const guint8     *input,
            gsize             length,
            gsize             chunk,
            VsmtpProxyAccept  accept,
            GError          **error)
{
  gsize have = 0;

  for (;;)
    {
      gsize want;
      gboolean exact;

      switch (_vsmtp_proxy_scan (input, have, accept, &want, &exact, error))
        {
        case VSMTP_PROXY_SCAN_COMPLETE:
          g_assert_cmpuint (want, ==, have);   /* nothing past it was read */
          return want;
        case VSMTP_PROXY_SCAN_ERROR:
          return 0;
        case VSMTP_PROXY_SCAN_MORE:
          {
            gsize n = MIN (MIN (want, chunk), length - have);

            g_assert_cmpuint (want, >, 0);
            if (!exact)
              {
                /* peek, then read up to the first LF */
                const guint8 *lf = memchr (input + have, '\n', n);

                if (lf != NULL)
                  n = lf - (input + have) + 1;
              }
            if (n == 0)
              {
                g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "end of input");
                return 0;
              }
            have += n;
          }
          break;
        }
    }
}

static VsmtpProxyHeader *
parse_all (const void  *input,
           gsize        length,
           GError     **error)
{
  gsize header_length = 0;

  for (gsize chunk = 1; chunk <= 64; chunk *= 4)
    {
      g_autoptr(GError) local = NULL;
      gsize n = drive_scan (input, length, chunk, ANY, &local);

      if (chunk == 1)
        header_length = n;
      g_assert_cmpuint (n, ==, header_length);
    }
  header_length = drive_scan (input, length, 4096, ANY, error);
  if (header_length == 0)
    return NULL;
  return _vsmtp_proxy_parse (input, header_length, NULL, error);
}

static void
assert_inet (GSocketAddress *address,
             const char     *ip,
             guint16         port)
{
  g_autofree char *text = NULL;

  g_assert_true (G_IS_INET_SOCKET_ADDRESS (address));
  text = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  g_assert_cmpstr (text, ==, ip);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)), ==, port);
}

static void
test_v1 (void)
{
  /* what follows the header is the client's: never read */
  static const char tcp4[] = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\nEHLO x\r\n";
  static const char tcp6[] = "PROXY TCP6 2001:db8::7 2001:db8::1 65535 587\r\n\x16\x03\x01";
  static const char unknown[] = "PROXY UNKNOWN ffff::1 whatever\r\nQUIT\r\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpProxyHeader) h4 = NULL, h6 = NULL, hu = NULL, hmin = NULL;

  h4 = parse_all (tcp4, strlen (tcp4), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vsmtp_proxy_header_get_version (h4), ==, 1);
  g_assert_false (vsmtp_proxy_header_is_local (h4));
  assert_inet (vsmtp_proxy_header_get_source_address (h4), "192.0.2.7", 40000);
  assert_inet (vsmtp_proxy_header_get_destination_address (h4), "198.51.100.1", 25);
  g_assert_null (vsmtp_proxy_header_get_alpn (h4));
  g_assert_false (vsmtp_proxy_header_has_ssl (h4));

  h6 = parse_all (tcp6, sizeof tcp6 - 1, &error);
  g_assert_no_error (error);
  assert_inet (vsmtp_proxy_header_get_source_address (h6), "2001:db8::7", 65535);
  assert_inet (vsmtp_proxy_header_get_destination_address (h6), "2001:db8::1", 587);

  hu = parse_all (unknown, strlen (unknown), &error);
  g_assert_no_error (error);
  g_assert_null (vsmtp_proxy_header_get_source_address (hu));

  hmin = parse_all ("PROXY UNKNOWN\r\n", 15, &error);
  g_assert_no_error (error);
  g_assert_null (vsmtp_proxy_header_get_source_address (hmin));
}

static void
test_v1_malformed (void)
{
  static const char *const bad[] = {
    "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\n",          /* LF alone */
    "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\r\n",      /* stray CR */
    "PROXY TCP4 192.0.2.7  198.51.100.1 40000 25\r\n",       /* two spaces */
    "PROXY TCP4 192.0.2.7 198.51.100.1 40000\r\n",           /* a field short */
    "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25 x\r\n",      /* one too many */
    "PROXY TCP4 2001:db8::7 198.51.100.1 40000 25\r\n",      /* family mismatch */
    "PROXY TCP6 192.0.2.7 2001:db8::1 40000 25\r\n",
    "PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n",        /* port range */
    "PROXY TCP4 192.0.2.7 198.51.100.1 040000 25\r\n",
    "PROXY TCP4 192.0.2.7 198.51.100.1 4000a 25\r\n",
    "PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n",
    "PROXY TCP4 192.0.2.777 198.51.100.1 40000 25\r\n",
    "PROXY UDP4 192.0.2.7 198.51.100.1 40000 25\r\n",
    "PROXY UNKNOWNX\r\n",
    "PROXY UNK\r\nEHLO x\r\n",                               /* too short */
    "proxy TCP4 192.0.2.7 198.51.100.1 40000 25\r\n",        /* case */
    "EHLO client.example\r\n",                               /* no header */
    "GET / HTTP/1.0\r\n\r\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpProxyHeader) header = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, bad[i]);
      header = parse_all (bad[i], strlen (bad[i]), &error);
      g_assert_null (header);
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
    }
}

static void
test_v1_too_long (void)
{
  g_autoptr(GString) line = g_string_new ("PROXY UNKNOWN ");
  g_autoptr(GError) error = NULL;
  gsize want;
  gboolean exact;

  /* 107 bytes with the CRLF is the limit: accepted */
  while (line->len < VSMTP_PROXY_V1_MAX - 2)
    g_string_append_c (line, 'x');
  g_string_append (line, "\r\n");
  g_assert_cmpint (_vsmtp_proxy_scan ((guint8 *) line->str, line->len, ANY, &want, &exact, &error),
                   ==, VSMTP_PROXY_SCAN_COMPLETE);
  g_assert_cmpuint (want, ==, VSMTP_PROXY_V1_MAX);

  /* one more: the scan stops at 107 bytes without a CRLF */
  g_string_insert_c (line, 20, 'x');
  g_assert_cmpint (_vsmtp_proxy_scan ((guint8 *) line->str, VSMTP_PROXY_V1_MAX, ANY, &want, &exact, &error),
                   ==, VSMTP_PROXY_SCAN_ERROR);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_null (parse_all (line->str, line->len, &error));
}

static void
test_version_not_accepted (void)
{
  static const char v1[] = "PROXY UNKNOWN\r\n";
  static const guint8 v2[] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                               0x20, 0x00, 0x00, 0x00 };
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (drive_scan ((guint8 *) v1, strlen (v1), 64, VSMTP_PROXY_ACCEPT_V2, &error), ==, 0);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_cmpuint (drive_scan (v2, sizeof v2, 64, VSMTP_PROXY_ACCEPT_V1, &error), ==, 0);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_cmpuint (drive_scan (v2, sizeof v2, 64, VSMTP_PROXY_ACCEPT_V2, &error), ==, sizeof v2);
  g_assert_no_error (error);
}

/* A v2 header: the fixed part for @ver_cmd and @family, then @body */
static GByteArray *
v2_header (guint8        ver_cmd,
           guint8        family,
           const guint8 *body,
           gsize         length)
{
  static const guint8 signature[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
  };
  GByteArray *out = g_byte_array_new ();
  guint8 fixed[4] = { ver_cmd, family, length >> 8, length & 0xFF };

  g_byte_array_append (out, signature, sizeof signature);
  g_byte_array_append (out, fixed, sizeof fixed);
  g_byte_array_append (out, body, length);
  return out;
}

static void
append_tlv (GByteArray  *body,
            guint8       type,
            const void  *value,
            gsize        length)
{
  guint8 head[3] = { type, length >> 8, length & 0xFF };

  g_byte_array_append (body, head, 3);
  g_byte_array_append (body, value, length);
}

static const guint8 tcp4_addresses[12] = {
  192, 0, 2, 7,  198, 51, 100, 1,  0x9C, 0x40,  0x00, 0x19   /* 40000, 25 */
};

static void
test_v2_tcp4_tlvs (void)
{
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(GByteArray) ssl = g_byte_array_new ();
  g_autoptr(GByteArray) header = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpProxyHeader) parsed = NULL;
  static const guint8 ssl_head[5] = { 0x07, 0, 0, 0, 0 };
  static const guint8 unique[4] = { 0xDE, 0xAD, 0x00, 0x01 };
  GBytes *id;

  g_byte_array_append (body, tcp4_addresses, sizeof tcp4_addresses);
  append_tlv (body, 0x01, "smtp", 4);
  append_tlv (body, 0x02, "mx.example.org", 14);
  append_tlv (body, 0x05, unique, sizeof unique);
  g_byte_array_append (ssl, ssl_head, sizeof ssl_head);
  append_tlv (ssl, 0x21, "TLSv1.3", 7);
  append_tlv (ssl, 0x22, "client.example", 14);
  append_tlv (ssl, 0x23, "TLS_AES_256_GCM_SHA384", 22);
  append_tlv (ssl, 0x24, "RSA-SHA256", 10);
  append_tlv (ssl, 0x25, "RSA2048", 7);
  append_tlv (body, 0x20, ssl->data, ssl->len);
  append_tlv (body, 0x04, "\0\0\0", 3);       /* NOOP */
  append_tlv (body, 0xE0, "custom", 6);       /* PP2_TYPE_MIN_CUSTOM */
  header = v2_header (0x21, 0x11, body->data, body->len);
  g_byte_array_append (header, (guint8 *) "EHLO x\r\n", 8);

  parsed = parse_all (header->data, header->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vsmtp_proxy_header_get_version (parsed), ==, 2);
  g_assert_false (vsmtp_proxy_header_is_local (parsed));
  assert_inet (vsmtp_proxy_header_get_source_address (parsed), "192.0.2.7", 40000);
  assert_inet (vsmtp_proxy_header_get_destination_address (parsed), "198.51.100.1", 25);
  g_assert_cmpstr (vsmtp_proxy_header_get_alpn (parsed), ==, "smtp");
  g_assert_cmpstr (vsmtp_proxy_header_get_authority (parsed), ==, "mx.example.org");
  id = vsmtp_proxy_header_get_unique_id (parsed);
  g_assert_nonnull (id);
  g_assert_cmpmem (g_bytes_get_data (id, NULL), g_bytes_get_size (id), unique, sizeof unique);
  g_assert_true (vsmtp_proxy_header_has_ssl (parsed));
  g_assert_cmpuint (vsmtp_proxy_header_get_ssl_flags (parsed), ==,
                    VSMTP_PROXY_SSL_CLIENT_SSL | VSMTP_PROXY_SSL_CLIENT_CERT_CONN |
                    VSMTP_PROXY_SSL_CLIENT_CERT_SESS);
  g_assert_cmpuint (vsmtp_proxy_header_get_ssl_verify (parsed), ==, 0);
  g_assert_cmpstr (vsmtp_proxy_header_get_ssl_version (parsed), ==, "TLSv1.3");
  g_assert_cmpstr (vsmtp_proxy_header_get_ssl_cn (parsed), ==, "client.example");
  g_assert_cmpstr (vsmtp_proxy_header_get_ssl_cipher (parsed), ==, "TLS_AES_256_GCM_SHA384");
  g_assert_cmpstr (vsmtp_proxy_header_get_ssl_sig_alg (parsed), ==, "RSA-SHA256");
  g_assert_cmpstr (vsmtp_proxy_header_get_ssl_key_alg (parsed), ==, "RSA2048");
  g_assert_cmpuint (g_bytes_get_size (vsmtp_proxy_header_get_tlv (parsed, 0xE0)), ==, 6);
  g_assert_null (vsmtp_proxy_header_get_tlv (parsed, 0xE1));
}

static void
test_v2_tcp6_local_unspec (void)
{
  guint8 addresses[36] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7,
                           0x20, 0x01, 0x0d, 0xb8, [31] = 1,
                           0x01, 0xBB, 0x02, 0x4B };   /* 443, 587 */
  g_autoptr(GByteArray) tcp6 = v2_header (0x21, 0x21, addresses, sizeof addresses);
  g_autoptr(GByteArray) local = v2_header (0x20, 0x00, NULL, 0);
  g_autoptr(GByteArray) local_junk = v2_header (0x20, 0x11, tcp4_addresses, 5);
  g_autoptr(GByteArray) unspec = v2_header (0x21, 0x00, NULL, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpProxyHeader) h6 = NULL, hl = NULL, hj = NULL, hu = NULL;

  h6 = parse_all (tcp6->data, tcp6->len, &error);
  g_assert_no_error (error);
  assert_inet (vsmtp_proxy_header_get_source_address (h6), "2001:db8::7", 443);
  assert_inet (vsmtp_proxy_header_get_destination_address (h6), "2001:db8::1", 587);

  /* LOCAL: health checks; whatever follows the fixed part is ignored */
  hl = parse_all (local->data, local->len, &error);
  g_assert_no_error (error);
  g_assert_true (vsmtp_proxy_header_is_local (hl));
  g_assert_null (vsmtp_proxy_header_get_source_address (hl));
  hj = parse_all (local_junk->data, local_junk->len, &error);
  g_assert_no_error (error);
  g_assert_true (vsmtp_proxy_header_is_local (hj));

  hu = parse_all (unspec->data, unspec->len, &error);
  g_assert_no_error (error);
  g_assert_false (vsmtp_proxy_header_is_local (hu));
  g_assert_null (vsmtp_proxy_header_get_source_address (hu));
}

static void
test_v2_crc32c (void)
{
  /* CRC-32C computed independently over the header with a zero checksum */
  static const guint8 crc_ok[4] = { 0x66, 0x05, 0xB4, 0x44 };
  static const guint8 crc_bad[4] = { 0x66, 0x05, 0xB4, 0x45 };
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(GByteArray) good = NULL, bad = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpProxyHeader) parsed = NULL;

  g_byte_array_append (body, tcp4_addresses, sizeof tcp4_addresses);
  append_tlv (body, 0x03, crc_ok, 4);
  good = v2_header (0x21, 0x11, body->data, body->len);
  parsed = parse_all (good->data, good->len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (parsed);

  memcpy (body->data + body->len - 4, crc_bad, 4);
  bad = v2_header (0x21, 0x11, body->data, body->len);
  g_assert_null (parse_all (bad->data, bad->len, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
}

static void
test_v2_malformed (void)
{
  g_autoptr(GByteArray) tlv_short = g_byte_array_new ();
  g_autoptr(GByteArray) tlv_over = g_byte_array_new ();
  g_autoptr(GByteArray) ssl_short = g_byte_array_new ();
  g_autoptr(GByteArray) unique_long = g_byte_array_new ();
  guint8 id[129] = { 0 };
  struct { const char *what; GByteArray *header; } cases[9];
  gsize n = 0;

  g_byte_array_append (tlv_short, tcp4_addresses, sizeof tcp4_addresses);
  g_byte_array_append (tlv_short, (guint8 *) "\x01\x00", 2);
  g_byte_array_append (tlv_over, tcp4_addresses, sizeof tcp4_addresses);
  g_byte_array_append (tlv_over, (guint8 *) "\x01\x00\x09" "abc", 6);
  g_byte_array_append (ssl_short, tcp4_addresses, sizeof tcp4_addresses);
  append_tlv (ssl_short, 0x20, "\x01\x00", 2);
  g_byte_array_append (unique_long, tcp4_addresses, sizeof tcp4_addresses);
  append_tlv (unique_long, 0x05, id, sizeof id);

  cases[n].what = "version 3";
  cases[n++].header = v2_header (0x31, 0x11, tcp4_addresses, 12);
  cases[n].what = "command 2";
  cases[n++].header = v2_header (0x22, 0x11, tcp4_addresses, 12);
  cases[n].what = "addresses short";
  cases[n++].header = v2_header (0x21, 0x11, tcp4_addresses, 11);
  cases[n].what = "datagram";
  cases[n++].header = v2_header (0x21, 0x12, tcp4_addresses, 12);
  cases[n].what = "family 4";
  cases[n++].header = v2_header (0x21, 0x41, tcp4_addresses, 12);
  cases[n].what = "TLV header cut";
  cases[n++].header = v2_header (0x21, 0x11, tlv_short->data, tlv_short->len);
  cases[n].what = "TLV longer than the header";
  cases[n++].header = v2_header (0x21, 0x11, tlv_over->data, tlv_over->len);
  cases[n].what = "SSL TLV short";
  cases[n++].header = v2_header (0x21, 0x11, ssl_short->data, ssl_short->len);
  cases[n].what = "unique id of 129 bytes";
  cases[n++].header = v2_header (0x21, 0x11, unique_long->data, unique_long->len);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpProxyHeader) header = NULL;

      g_test_message ("%s", cases[i].what);
      header = parse_all (cases[i].header->data, cases[i].header->len, &error);
      g_assert_null (header);
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
      g_byte_array_unref (cases[i].header);
    }
}

static void
test_v2_too_long (void)
{
  guint8 fixed[16] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                       0x21, 0x11, 0xFF, 0xFF };
  g_autoptr(GError) error = NULL;
  gsize want;
  gboolean exact;

  /* the length is refused before any of it is read */
  g_assert_cmpint (_vsmtp_proxy_scan (fixed, sizeof fixed, ANY, &want, &exact, &error),
                   ==, VSMTP_PROXY_SCAN_ERROR);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_clear_error (&error);

  fixed[14] = VSMTP_PROXY_V2_MAX_LENGTH >> 8;
  fixed[15] = VSMTP_PROXY_V2_MAX_LENGTH & 0xFF;
  g_assert_cmpint (_vsmtp_proxy_scan (fixed, sizeof fixed, ANY, &want, &exact, &error),
                   ==, VSMTP_PROXY_SCAN_MORE);
  g_assert_true (exact);
  g_assert_cmpuint (want, ==, VSMTP_PROXY_V2_MAX_LENGTH);
}

static void
test_peer (void)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) peer = g_inet_socket_address_new (loopback, 1234);
  g_autoptr(VsmtpProxyHeader) header = NULL;

  header = _vsmtp_proxy_parse ((guint8 *) "PROXY UNKNOWN\r\n", 15, peer, NULL);
  g_assert_true (vsmtp_proxy_header_get_peer_address (header) == peer);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/proxy-protocol/v1", test_v1);
  g_test_add_func ("/proxy-protocol/v1/malformed", test_v1_malformed);
  g_test_add_func ("/proxy-protocol/v1/too-long", test_v1_too_long);
  g_test_add_func ("/proxy-protocol/version-not-accepted", test_version_not_accepted);
  g_test_add_func ("/proxy-protocol/v2/tcp4-tlvs", test_v2_tcp4_tlvs);
  g_test_add_func ("/proxy-protocol/v2/tcp6-local-unspec", test_v2_tcp6_local_unspec);
  g_test_add_func ("/proxy-protocol/v2/crc32c", test_v2_crc32c);
  g_test_add_func ("/proxy-protocol/v2/malformed", test_v2_malformed);
  g_test_add_func ("/proxy-protocol/v2/too-long", test_v2_too_long);
  g_test_add_func ("/proxy-protocol/peer", test_peer);

  return g_test_run ();
}

/* test-tls-record-watcher.c: the TLS record parser that refuses
 * client-initiated renegotiation
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-tls-record-watcher.h"

/* A record of @type with @length payload bytes (all 0xAB) */
static void
append_record (GByteArray *bytes,
               guint8      type,
               guint16     length)
{
  guint8 header[5] = { type, 3, 3, length >> 8, length & 0xff };

  g_byte_array_append (bytes, header, sizeof header);
  for (guint i = 0; i < length; i++)
    g_byte_array_append (bytes, (const guint8 *) "\xab", 1);
}

static GInputStream *
memory_stream (GByteArray *bytes)
{
  return g_memory_input_stream_new_from_data (g_memdup2 (bytes->data, bytes->len),
                                              bytes->len, g_free);
}

/* Reads everything in reads of @chunk bytes (blocking or not); returns the
 * bytes read, or -1 with @error set. */
static gssize
read_all (GInputStream  *stream,
          gsize          chunk,
          gboolean       nonblocking,
          GError       **error)
{
  guint8 buffer[4096];
  gssize total = 0;

  for (;;)
    {
      gssize n = nonblocking
        ? g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), buffer,
                                                    MIN (chunk, sizeof buffer), NULL, error)
        : g_input_stream_read (stream, buffer, MIN (chunk, sizeof buffer), NULL, error);

      if (n < 0)
        return -1;
      if (n == 0)
        return total;
      total += n;
    }
}

/* Before the handshake is done, handshake records are the handshake */
static void
test_handshake_passes (void)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  g_autoptr(GInputStream) base = NULL;
  g_autoptr(GInputStream) watcher = NULL;
  g_autoptr(GError) error = NULL;

  append_record (bytes, 22, 300);   /* ClientHello */
  append_record (bytes, 20, 1);     /* ChangeCipherSpec */
  append_record (bytes, 22, 40);    /* Finished */
  base = memory_stream (bytes);
  watcher = vsmtp_tls_record_watcher_new (base, 0);

  g_assert_true (g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (watcher)));
  g_assert_cmpint (read_all (watcher, 7, FALSE, &error), ==, bytes->len);
  g_assert_no_error (error);
  g_assert_cmpuint (vsmtp_tls_record_watcher_get_renegotiations (VSMTP_TLS_RECORD_WATCHER (watcher)), ==, 0);
}

/* After it, application data passes and a handshake record is refused,
 * whether it arrives in one read or split across many, blocking or not */
static void
test_renegotiation_refused (void)
{
  const gsize chunks[] = { 1, 3, 5, 6, 64, 4096 };

  for (guint blocking = 0; blocking < 2; blocking++)
    for (guint c = 0; c < G_N_ELEMENTS (chunks); c++)
      {
        g_autoptr(GByteArray) before = g_byte_array_new ();
        g_autoptr(GByteArray) after = g_byte_array_new ();
        g_autoptr(GInputStream) base = NULL;
        g_autoptr(GInputStream) watcher = NULL;
        g_autoptr(GError) error = NULL;
        VsmtpTlsRecordWatcher *w;

        append_record (before, 22, 200);
        append_record (before, 23, 1000);   /* application data, its length includes 22s */
        for (guint i = 0; i < before->len; i++)
          g_byte_array_append (after, &before->data[i], 1);
        append_record (after, 23, 300);
        append_record (after, 22, 120);     /* a renegotiating ClientHello */
        append_record (after, 23, 50);

        base = memory_stream (after);
        watcher = vsmtp_tls_record_watcher_new (base, 0);
        w = VSMTP_TLS_RECORD_WATCHER (watcher);

        /* the first handshake's bytes are read before it is done */
        {
          g_autofree guint8 *skip = g_malloc (205);

          g_assert_cmpint (g_input_stream_read (watcher, skip, 205, NULL, &error), ==, 205);
          g_assert_no_error (error);
        }
        vsmtp_tls_record_watcher_handshake_done (w);

        g_assert_cmpint (read_all (watcher, chunks[c], !blocking, &error), ==, -1);
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
        g_assert_true (vsmtp_tls_record_watcher_get_refused (w));
        g_assert_cmpuint (vsmtp_tls_record_watcher_get_renegotiations (w), ==, 1);

        /* and the connection stays refused */
        g_clear_error (&error);
        g_assert_cmpint (read_all (watcher, 16, FALSE, &error), ==, -1);
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      }
}

/* A limit above 0 lets that many through */
static void
test_limit (void)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  g_autoptr(GInputStream) base = NULL;
  g_autoptr(GInputStream) watcher = NULL;
  g_autoptr(GError) error = NULL;

  append_record (bytes, 22, 10);
  append_record (bytes, 23, 10);
  append_record (bytes, 22, 10);
  base = memory_stream (bytes);
  watcher = vsmtp_tls_record_watcher_new (base, 2);
  vsmtp_tls_record_watcher_handshake_done (VSMTP_TLS_RECORD_WATCHER (watcher));
  g_assert_cmpint (read_all (watcher, 9, FALSE, &error), ==, bytes->len);
  g_assert_no_error (error);
  g_assert_cmpuint (vsmtp_tls_record_watcher_get_renegotiations (VSMTP_TLS_RECORD_WATCHER (watcher)), ==, 2);
  g_assert_false (vsmtp_tls_record_watcher_get_refused (VSMTP_TLS_RECORD_WATCHER (watcher)));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tls-record-watcher/handshake-passes", test_handshake_passes);
  g_test_add_func ("/tls-record-watcher/renegotiation-refused", test_renegotiation_refused);
  g_test_add_func ("/tls-record-watcher/limit", test_limit);
  return g_test_run ();
}

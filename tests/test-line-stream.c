/* test-line-stream.c: tests for VsmtpLineInputStream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsmtp-line-input-stream.h"

/* Over a GMemoryInputStream */

static GInputStream *
memory_stream_new (const char *data)
{
  GInputStream *base = g_memory_input_stream_new ();

  if (data != NULL)
    g_memory_input_stream_add_data (G_MEMORY_INPUT_STREAM (base),
                                     g_strdup (data), strlen (data), g_free);

  return base;
}

static void
add_data (GInputStream *base,
          const void   *data,
          gsize         length)
{
  g_memory_input_stream_add_data (G_MEMORY_INPUT_STREAM (base),
                                  g_memdup2 (data, length), length, g_free);
}

static gssize
fill (VsmtpLineInputStream *lines)
{
  g_autoptr(GError) error = NULL;
  gssize n;

  n = vsmtp_line_input_stream_fill_nonblocking (lines, NULL, &error);
  g_assert_no_error (error);

  return n;
}

static void
assert_line (VsmtpLineInputStream *lines,
             const char           *expected)
{
  char *line = NULL;
  gsize length = 0;
  VsmtpLineStatus status;

  status = vsmtp_line_input_stream_next_line (lines, &line, &length);
  g_assert_cmpint (status, ==, VSMTP_LINE_OK);
  g_assert_nonnull (line);
  g_assert_cmpuint (length, ==, strlen (expected));
  g_assert_cmpstr (line, ==, expected);
}

static void
assert_status (VsmtpLineInputStream *lines,
               VsmtpLineStatus       expected)
{
  char *line = NULL;
  gsize length = 0;

  g_assert_cmpint (vsmtp_line_input_stream_has_line (lines), ==, expected != VSMTP_LINE_NONE);
  g_assert_cmpint (vsmtp_line_input_stream_next_line (lines, &line, &length), ==, expected);
  g_assert_null (line);
  g_assert_cmpuint (length, ==, 0);
}

static void
test_basic (void)
{
  g_autoptr(GInputStream) base = memory_stream_new ("HELO a\r\nMAIL FROM:<x>\nRCPT TO:<y>\r\n\r\n\nb\rc\r\n");
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);

  g_assert_true (g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (lines)));
  assert_status (lines, VSMTP_LINE_NONE);

  g_assert_cmpint (fill (lines), >, 0);
  g_assert_true (vsmtp_line_input_stream_has_line (lines));
  assert_line (lines, "HELO a");
  assert_line (lines, "MAIL FROM:<x>");
  assert_line (lines, "RCPT TO:<y>");
  assert_line (lines, "");
  assert_line (lines, "");
  assert_line (lines, "b\rc");
  assert_status (lines, VSMTP_LINE_NONE);
  g_assert_cmpuint (vsmtp_line_input_stream_get_buffered (lines), ==, 0);

  /* End of stream. */
  g_assert_cmpint (fill (lines), ==, 0);
  assert_status (lines, VSMTP_LINE_NONE);
}

static void
test_split (void)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new ();
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);
  static const char *pieces[] = { "HE", "LO a", "\r", "\nNO", "OP\r\nQUIT\r", "\n" };
  GPtrArray *got = g_ptr_array_new_with_free_func (g_free);

  for (gsize i = 0; i < G_N_ELEMENTS (pieces); i++)
    {
      char *line;
      gsize length;

      add_data (base, pieces[i], strlen (pieces[i]));
      g_assert_cmpint (fill (lines), ==, strlen (pieces[i]));
      while (vsmtp_line_input_stream_next_line (lines, &line, &length) == VSMTP_LINE_OK)
        g_ptr_array_add (got, g_strndup (line, length));
    }

  g_assert_cmpuint (got->len, ==, 3);
  g_assert_cmpstr (got->pdata[0], ==, "HELO a");
  g_assert_cmpstr (got->pdata[1], ==, "NOOP");
  g_assert_cmpstr (got->pdata[2], ==, "QUIT");
  g_ptr_array_unref (got);
}

static void
test_embedded_nul (void)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new ();
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);
  char *line;
  gsize length;

  add_data (base, "A\0B\r\nC\r\n", 8);
  fill (lines);
  g_assert_cmpint (vsmtp_line_input_stream_next_line (lines, &line, &length), ==, VSMTP_LINE_OK);
  g_assert_cmpuint (length, ==, 3);
  g_assert_cmpuint (strlen (line), ==, 1);
  g_assert_cmpmem (line, length + 1, "A\0B\0", 4);
  assert_line (lines, "C");
}

/* Many lines, given to the base stream all at once (chunk 0) or in chunks
 * that cut lines anywhere: lines are split across reads, and the buffer is
 * compacted with partial lines in it. */
static void
test_many_lines (gconstpointer data)
{
  gsize chunk = GPOINTER_TO_SIZE (data);
  g_autoptr(GInputStream) base = g_memory_input_stream_new ();
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);
  g_autoptr(GString) input = g_string_new (NULL);
  gsize pos = 0;
  guint count = 0;

  for (guint i = 0; i < 5000; i++)
    g_string_append_printf (input, "LINE %u%s", i, i % 3 ? "\r\n" : "\n");

  /* More than one fill worth of data (16 KiB per read). */
  g_assert_cmpuint (input->len, >, 16384);

  if (chunk == 0)
    {
      add_data (base, input->str, input->len);
      pos = input->len;
    }

  for (;;)
    {
      char *line;
      gsize length;
      VsmtpLineStatus status = vsmtp_line_input_stream_next_line (lines, &line, &length);

      if (status == VSMTP_LINE_OK)
        {
          g_autofree char *expected = g_strdup_printf ("LINE %u", count);

          g_assert_cmpstr (line, ==, expected);
          g_assert_cmpuint (length, ==, strlen (expected));
          count++;
          continue;
        }
      g_assert_cmpint (status, ==, VSMTP_LINE_NONE);

      if (pos < input->len)
        {
          gsize n = MIN (chunk, input->len - pos);

          add_data (base, input->str + pos, n);
          pos += n;
        }
      if (fill (lines) == 0)
        break;
    }

  g_assert_cmpuint (count, ==, 5000);
  g_assert_cmpuint (vsmtp_line_input_stream_get_buffered (lines), ==, 0);
}

static void
test_limit (void)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new ();
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 10);
  const char *data =
    "12345678\r\n"          /* 10 bytes: fits */
    "123456789\r\n"         /* 11: too long */
    "123456789\n"           /* 10: fits */
    "0123456789ABCDEF\r\n"  /* too long */
    "NOOP\r\n";

  g_assert_cmpuint (vsmtp_line_input_stream_get_max_line_length (lines), ==, 10);

  add_data (base, data, strlen (data));
  fill (lines);
  assert_line (lines, "12345678");
  assert_status (lines, VSMTP_LINE_TOO_LONG);
  assert_line (lines, "123456789");
  assert_status (lines, VSMTP_LINE_TOO_LONG);
  assert_line (lines, "NOOP");
  assert_status (lines, VSMTP_LINE_NONE);
}

static void
test_no_limit (void)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new ();
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 0);
  g_autofree char *big = g_malloc (100000);
  char *line;
  gsize length;

  /* A line much longer than one read, arriving in pieces: the buffer grows. */
  memset (big, 'x', 100000);
  for (guint i = 0; i < 10; i++)
    add_data (base, big, 10000);
  add_data (base, "\r\nEND\r\n", 7);

  while (fill (lines) > 0)
    ;
  g_assert_cmpint (vsmtp_line_input_stream_next_line (lines, &line, &length), ==, VSMTP_LINE_OK);
  g_assert_cmpuint (length, ==, 100000);
  g_assert_cmpmem (line, length, big, 100000);
  assert_line (lines, "END");
  assert_status (lines, VSMTP_LINE_NONE);
}

static void
test_limit_pieces (void)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new ();
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 100);

  /* 10000 bytes without LF, in pieces: dropped as they come. */
  for (guint i = 0; i < 1000; i++)
    {
      add_data (base, "xxxxxxxxx\r", 10);
      g_assert_cmpint (fill (lines), ==, 10);
      assert_status (lines, VSMTP_LINE_NONE);
      g_assert_cmpuint (vsmtp_line_input_stream_get_buffered (lines), <, 100);
    }

  add_data (base, "yy\nQUIT\r\nNO", 11);
  fill (lines);
  g_assert_true (vsmtp_line_input_stream_has_line (lines));
  assert_status (lines, VSMTP_LINE_TOO_LONG);
  assert_line (lines, "QUIT");
  assert_status (lines, VSMTP_LINE_NONE);
  add_data (base, "OP\r\n", 4);
  fill (lines);
  assert_line (lines, "NOOP");
  assert_status (lines, VSMTP_LINE_NONE);

  /* The LF arriving right after the limit was reached. */
  add_data (base, "0123456789", 10);
  for (guint i = 0; i < 9; i++)
    add_data (base, "0123456789", 10);
  while (fill (lines) > 0)
    assert_status (lines, VSMTP_LINE_NONE);
  add_data (base, "\n", 1);
  fill (lines);
  assert_status (lines, VSMTP_LINE_TOO_LONG);
  assert_status (lines, VSMTP_LINE_NONE);
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  guint *count = user_data;

  (*count)++;
}

static void
test_limit_property (void)
{
  g_autoptr(GInputStream) base = memory_stream_new ("abcdef\r\nabc\r\n");
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);
  guint64 value = 0;
  guint notified = 0;

  g_signal_connect (lines, "notify::max-line-length",
                    G_CALLBACK (count_notify_cb), &notified);
  g_object_set (lines, "max-line-length", (guint64) 6, NULL);
  g_assert_cmpuint (notified, ==, 1);
  vsmtp_line_input_stream_set_max_line_length (lines, 6);
  g_assert_cmpuint (notified, ==, 1);
  g_object_get (lines, "max-line-length", &value, NULL);
  g_assert_cmpuint (value, ==, 6);

  fill (lines);
  assert_status (lines, VSMTP_LINE_TOO_LONG);
  assert_line (lines, "abc");
}

static void
test_raw_access (void)
{
  g_autoptr(GInputStream) base = memory_stream_new ("DATA\r\nbody bytes");
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);
  const guint8 *data;
  gsize length;

  fill (lines);
  assert_line (lines, "DATA");
  g_assert_cmpuint (vsmtp_line_input_stream_get_buffered (lines), ==, 10);
  data = vsmtp_line_input_stream_peek_buffer (lines, &length);
  g_assert_cmpmem (data, length, "body bytes", 10);
  vsmtp_line_input_stream_skip_buffer (lines, 5);
  data = vsmtp_line_input_stream_peek_buffer (lines, &length);
  g_assert_cmpmem (data, length, "bytes", 5);

  /* Lines continue after raw skipping, also with a partial scan before. */
  assert_status (lines, VSMTP_LINE_NONE);
  add_data (base, "\r\nNEXT\r\n", 8);
  fill (lines);
  vsmtp_line_input_stream_skip_buffer (lines, 2);
  assert_line (lines, "tes");
  assert_line (lines, "NEXT");
  vsmtp_line_input_stream_skip_buffer (lines, 0);
  g_assert_cmpuint (vsmtp_line_input_stream_get_buffered (lines), ==, 0);
}

static void
test_push_back (void)
{
  g_autoptr(GInputStream) base = memory_stream_new ("L1\r\nL2\r\n");
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);
  const guint8 *data;
  gsize length;

  /* Into an empty stream. */
  vsmtp_line_input_stream_push_back (lines, "P0\r\n", 4);
  assert_line (lines, "P0");
  assert_status (lines, VSMTP_LINE_NONE);

  fill (lines);
  assert_line (lines, "L1");
  /* In place, in front of the consumed line. */
  vsmtp_line_input_stream_push_back (lines, "X\r\n", 3);
  /* Needs a bigger block. */
  vsmtp_line_input_stream_push_back (lines, "a longer pushed back line\r\npartial ", 35);
  data = vsmtp_line_input_stream_peek_buffer (lines, &length);
  g_assert_cmpmem (data, length, "a longer pushed back line\r\npartial X\r\nL2\r\n", 42);
  assert_line (lines, "a longer pushed back line");
  assert_line (lines, "partial X");
  assert_line (lines, "L2");
  assert_status (lines, VSMTP_LINE_NONE);

  /* In front of a partial line already scanned for its LF. */
  add_data (base, "partial", 7);
  fill (lines);
  assert_status (lines, VSMTP_LINE_NONE);
  vsmtp_line_input_stream_push_back (lines, "Y\n", 2);
  assert_line (lines, "Y");
  assert_status (lines, VSMTP_LINE_NONE);
  data = vsmtp_line_input_stream_peek_buffer (lines, &length);
  g_assert_cmpmem (data, length, "partial", 7);
}

static void
test_base_not_closed (void)
{
  g_autoptr(GInputStream) base = memory_stream_new ("abc");
  VsmtpLineInputStream *lines;
  g_autoptr(GError) error = NULL;
  gboolean close_base = TRUE;

  lines = vsmtp_line_input_stream_new (base, 1000);
  g_object_get (lines, "close-base-stream", &close_base, NULL);
  g_assert_false (close_base);
  g_object_unref (lines);
  g_assert_false (g_input_stream_is_closed (base));

  lines = vsmtp_line_input_stream_new (base, 1000);
  g_assert_true (g_input_stream_close (G_INPUT_STREAM (lines), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_input_stream_is_closed (G_INPUT_STREAM (lines)));
  g_assert_false (g_input_stream_is_closed (base));
  g_object_unref (lines);

  /* Even when asked to. */
  lines = g_object_new (VSMTP_TYPE_LINE_INPUT_STREAM,
                        "base-stream", base,
                        "close-base-stream", TRUE,
                        NULL);
  g_object_unref (lines);
  g_assert_false (g_input_stream_is_closed (base));
}

static void
test_release_memory (void)
{
  g_autoptr(GInputStream) base = memory_stream_new ("HELO a\r\nNOOP");
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);
  const guint8 *data;
  gsize length;

  data = vsmtp_line_input_stream_peek_buffer (lines, &length);
  g_assert_null (data);
  g_assert_cmpuint (length, ==, 0);

  fill (lines);
  assert_line (lines, "HELO a");

  /* Data pending: kept. */
  vsmtp_line_input_stream_release_memory (lines);
  data = vsmtp_line_input_stream_peek_buffer (lines, &length);
  g_assert_cmpmem (data, length, "NOOP", 4);

  add_data (base, "\r\n", 2);
  fill (lines);
  assert_line (lines, "NOOP");

  /* Empty: freed. */
  vsmtp_line_input_stream_release_memory (lines);
  data = vsmtp_line_input_stream_peek_buffer (lines, &length);
  g_assert_null (data);
  g_assert_cmpuint (length, ==, 0);

  /* And usable again. */
  add_data (base, "QUIT\r\n", 6);
  fill (lines);
  assert_line (lines, "QUIT");
}

/* A released block goes to the next stream that reads (or back to the
 * first one): each sees only its own bytes. */
static void
test_release_memory_reused (void)
{
  g_autoptr(GInputStream) base1 = memory_stream_new ("MAIL FROM:<a@example.org>\r\n");
  g_autoptr(GInputStream) base2 = memory_stream_new ("RCPT");
  g_autoptr(VsmtpLineInputStream) lines1 = vsmtp_line_input_stream_new (base1, 1000);
  g_autoptr(VsmtpLineInputStream) lines2 = vsmtp_line_input_stream_new (base2, 1000);
  const guint8 *data;
  gsize length;

  fill (lines1);
  assert_line (lines1, "MAIL FROM:<a@example.org>");
  vsmtp_line_input_stream_release_memory (lines1);
  g_assert_null (vsmtp_line_input_stream_peek_buffer (lines1, &length));

  fill (lines2);
  data = vsmtp_line_input_stream_peek_buffer (lines2, &length);
  g_assert_cmpmem (data, length, "RCPT", 4);
  g_assert_false (vsmtp_line_input_stream_has_line (lines2));
  add_data (base2, " TO:<b@example.org>\r\n", 21);
  fill (lines2);
  assert_line (lines2, "RCPT TO:<b@example.org>");
  vsmtp_line_input_stream_release_memory (lines2);

  add_data (base1, "DATA\r\n", 6);
  fill (lines1);
  assert_line (lines1, "DATA");
  g_clear_object (&lines2);   /* finalized with its block given back */
  vsmtp_line_input_stream_release_memory (lines1);
  add_data (base1, "QUIT\r\n", 6);
  fill (lines1);
  assert_line (lines1, "QUIT");
}

static void
test_read_through_memory (void)
{
  g_autoptr(GInputStream) base = memory_stream_new ("STARTTLS\r\nbuffered");
  g_autoptr(VsmtpLineInputStream) lines = vsmtp_line_input_stream_new (base, 1000);
  g_autoptr(GError) error = NULL;
  char buf[64];
  gssize n;
  gsize bytes_read;

  fill (lines);
  assert_line (lines, "STARTTLS");
  add_data (base, "-base", 5);

  /* skip() and read() take the buffer first, then the base. */
  n = g_input_stream_skip (G_INPUT_STREAM (lines), 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 2);
  g_assert_true (g_input_stream_read_all (G_INPUT_STREAM (lines), buf, sizeof buf,
                                          &bytes_read, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, bytes_read, "ffered-base", 11);
}

/* Over a real socket pair */

typedef struct {
  int peer;
  GSocketConnection *connection;
  GInputStream *base;
  VsmtpLineInputStream *lines;
} SocketFixture;

static void
socket_setup (SocketFixture *fixture,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  sock = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  fixture->peer = fds[1];
  fixture->connection = g_socket_connection_factory_create_connection (sock);
  fixture->base = g_io_stream_get_input_stream (G_IO_STREAM (fixture->connection));
  fixture->lines = vsmtp_line_input_stream_new (fixture->base, 100);
}

static void
socket_teardown (SocketFixture *fixture,
                 gconstpointer  data)
{
  g_clear_object (&fixture->lines);
  /* The line stream did not close the socket. */
  g_assert_false (g_input_stream_is_closed (fixture->base));
  g_assert_false (g_io_stream_is_closed (G_IO_STREAM (fixture->connection)));
  g_clear_object (&fixture->connection);
  close (fixture->peer);
}

static void
peer_write (SocketFixture *fixture,
            const char    *data)
{
  gsize length = strlen (data);

  g_assert_cmpint (write (fixture->peer, data, length), ==, (gssize) length);
}

static void
assert_would_block (VsmtpLineInputStream *lines)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (vsmtp_line_input_stream_fill_nonblocking (lines, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

static void
test_socket_lines (SocketFixture *fixture,
                   gconstpointer  data)
{
  assert_would_block (fixture->lines);

  peer_write (fixture, "HEL");
  g_assert_cmpint (fill (fixture->lines), ==, 3);
  assert_status (fixture->lines, VSMTP_LINE_NONE);
  assert_would_block (fixture->lines);

  peer_write (fixture, "O a\r");
  g_assert_cmpint (fill (fixture->lines), ==, 4);
  assert_status (fixture->lines, VSMTP_LINE_NONE);

  peer_write (fixture, "\nNOOP\nRSET\r\nQU");
  g_assert_cmpint (fill (fixture->lines), ==, 14);
  assert_line (fixture->lines, "HELO a");
  assert_line (fixture->lines, "NOOP");
  assert_line (fixture->lines, "RSET");
  assert_status (fixture->lines, VSMTP_LINE_NONE);
  assert_would_block (fixture->lines);

  /* A too long line in many small pieces (the limit is 100 here). */
  for (guint i = 0; i < 50; i++)
    {
      peer_write (fixture, "0123456789");
      g_assert_cmpint (fill (fixture->lines), ==, 10);
      assert_status (fixture->lines, VSMTP_LINE_NONE);
    }
  peer_write (fixture, "\r\nNOOP\r\n");
  fill (fixture->lines);
  assert_status (fixture->lines, VSMTP_LINE_TOO_LONG);
  assert_line (fixture->lines, "NOOP");
  assert_status (fixture->lines, VSMTP_LINE_NONE);

  /* End of stream. */
  shutdown (fixture->peer, SHUT_WR);
  g_assert_cmpint (fill (fixture->lines), ==, 0);
}

static gboolean
source_ready_cb (GObject  *stream,
                 gpointer  user_data)
{
  guint *count = user_data;

  (*count)++;

  return G_SOURCE_REMOVE;
}

/* Attaches a source from @lines to a fresh context and tells whether it
 * dispatches within a few non-blocking iterations. */
static gboolean
source_fires (VsmtpLineInputStream *lines)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) source = NULL;
  guint count = 0;

  source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (lines), NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (source_ready_cb), &count, NULL);
  g_source_attach (source, context);

  for (guint i = 0; i < 5 && count == 0; i++)
    g_main_context_iteration (context, FALSE);

  g_source_destroy (source);

  return count > 0;
}

static void
test_socket_push_back (SocketFixture *fixture,
                       gconstpointer  data)
{
  GPollableInputStream *pollable = G_POLLABLE_INPUT_STREAM (fixture->lines);
  g_autoptr(GError) error = NULL;
  char buf[64];
  gssize n;

  g_assert_true (g_pollable_input_stream_can_poll (pollable));
  g_assert_false (g_pollable_input_stream_is_readable (pollable));
  g_assert_false (source_fires (fixture->lines));

  /* The client sends STARTTLS and, pipelined, its first TLS bytes. */
  peer_write (fixture, "STARTTLS\r\nHELLO-TLS-BYTES");
  fill (fixture->lines);
  assert_line (fixture->lines, "STARTTLS");

  /* More bytes arrive on the socket: the buffered ones come first. */
  peer_write (fixture, "BASE");

  g_assert_true (g_pollable_input_stream_is_readable (pollable));
  g_assert_true (source_fires (fixture->lines));

  n = g_pollable_input_stream_read_nonblocking (pollable, buf, 5, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "HELLO", 5);

  /* A read returns only what is buffered, without touching the base. */
  n = g_input_stream_read (G_INPUT_STREAM (fixture->lines), buf, sizeof buf, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "-TLS-BYTES", 10);
  g_assert_cmpuint (vsmtp_line_input_stream_get_buffered (fixture->lines), ==, 0);

  /* Then from the socket. */
  g_assert_true (g_pollable_input_stream_is_readable (pollable));
  n = g_input_stream_read (G_INPUT_STREAM (fixture->lines), buf, sizeof buf, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "BASE", 4);

  /* Nothing left: not readable, the source waits for the socket. */
  g_assert_false (g_pollable_input_stream_is_readable (pollable));
  g_assert_false (source_fires (fixture->lines));
  n = g_pollable_input_stream_read_nonblocking (pollable, buf, sizeof buf, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);

  peer_write (fixture, "MORE");
  g_assert_true (source_fires (fixture->lines));
  n = g_pollable_input_stream_read_nonblocking (pollable, buf, sizeof buf, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "MORE", 4);

  /* A pushed-back byte makes it readable at once. */
  vsmtp_line_input_stream_push_back (fixture->lines, "Z", 1);
  g_assert_true (g_pollable_input_stream_is_readable (pollable));
  g_assert_true (source_fires (fixture->lines));
  n = g_pollable_input_stream_read_nonblocking (pollable, buf, sizeof buf, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "Z", 1);
}

typedef struct {
  GInputStream *stream;
  GByteArray *received;
} ReaderData;

static gpointer
reader_thread (gpointer user_data)
{
  ReaderData *data = user_data;
  char buf[7];

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_input_stream_read (data->stream, buf, sizeof buf, NULL, &error);

      g_assert_no_error (error);
      if (n == 0)
        break;
      g_byte_array_append (data->received, (guint8 *) buf, n);
    }

  return NULL;
}

/* Like a TLS handshake: another thread does blocking reads, getting the
 * buffered bytes first, then the socket's. */
static void
test_socket_thread_read (SocketFixture *fixture,
                         gconstpointer  data)
{
  ReaderData reader = { G_INPUT_STREAM (fixture->lines), g_byte_array_new () };
  GThread *thread;

  peer_write (fixture, "STARTTLS\r\n0123456789abcdefghij");
  fill (fixture->lines);
  assert_line (fixture->lines, "STARTTLS");

  thread = g_thread_new ("reader", reader_thread, &reader);
  g_usleep (G_USEC_PER_SEC / 50);
  peer_write (fixture, "klmnopqrstuvwxyz");
  shutdown (fixture->peer, SHUT_WR);
  g_thread_join (thread);

  g_assert_cmpmem (reader.received->data, reader.received->len,
                   "0123456789abcdefghijklmnopqrstuvwxyz", 36);
  g_byte_array_unref (reader.received);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/line-stream/basic", test_basic);
  g_test_add_func ("/line-stream/split", test_split);
  g_test_add_func ("/line-stream/embedded-nul", test_embedded_nul);
  g_test_add_data_func ("/line-stream/many-lines/one-read", GSIZE_TO_POINTER (0), test_many_lines);
  g_test_add_data_func ("/line-stream/many-lines/chunks-7", GSIZE_TO_POINTER (7), test_many_lines);
  g_test_add_data_func ("/line-stream/many-lines/chunks-1000", GSIZE_TO_POINTER (1000), test_many_lines);
  g_test_add_data_func ("/line-stream/many-lines/chunks-4097", GSIZE_TO_POINTER (4097), test_many_lines);
  g_test_add_func ("/line-stream/limit", test_limit);
  g_test_add_func ("/line-stream/limit-pieces", test_limit_pieces);
  g_test_add_func ("/line-stream/no-limit", test_no_limit);
  g_test_add_func ("/line-stream/limit-property", test_limit_property);
  g_test_add_func ("/line-stream/raw-access", test_raw_access);
  g_test_add_func ("/line-stream/push-back", test_push_back);
  g_test_add_func ("/line-stream/base-not-closed", test_base_not_closed);
  g_test_add_func ("/line-stream/release-memory", test_release_memory);
  g_test_add_func ("/line-stream/release-memory-reused", test_release_memory_reused);
  g_test_add_func ("/line-stream/read-through", test_read_through_memory);
  g_test_add ("/line-stream/socket/lines", SocketFixture, NULL,
              socket_setup, test_socket_lines, socket_teardown);
  g_test_add ("/line-stream/socket/push-back", SocketFixture, NULL,
              socket_setup, test_socket_push_back, socket_teardown);
  g_test_add ("/line-stream/socket/thread-read", SocketFixture, NULL,
              socket_setup, test_socket_thread_read, socket_teardown);

  return g_test_run ();
}

/* test-message.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "vsmtp.h"
#include "vsmtp-message-private.h"

typedef struct {
  char *spool_dir;
  VsmtpEnvelope *envelope;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) sender = vsmtp_address_new ("sender", "example.com");
  g_autoptr(VsmtpAddress) rcpt = vsmtp_address_new ("rcpt", "example.org");

  fixture->spool_dir = g_dir_make_tmp ("test-message-XXXXXX", &error);
  g_assert_no_error (error);

  fixture->envelope = vsmtp_envelope_new ();
  vsmtp_envelope_set_sender (fixture->envelope, sender, NULL);
  vsmtp_envelope_add_recipient (fixture->envelope, rcpt, NULL);
}

static guint
count_files (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;

  return n;
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  /* every test leaves the spool directory empty */
  g_assert_cmpuint (count_files (fixture->spool_dir), ==, 0);
  g_assert_cmpint (g_rmdir (fixture->spool_dir), ==, 0);
  g_free (fixture->spool_dir);
  g_object_unref (fixture->envelope);
}

/* Content of @size bytes with a recognizable pattern. */
static GBytes *
make_content (gsize size)
{
  guint8 *data = g_malloc (size);
  gsize i;

  for (i = 0; i < size; i++)
    data[i] = (guint8) ((i * 7 + i / 251) & 0xff);

  return g_bytes_new_take (data, size);
}

static void
append_bytes (VsmtpMessage *message,
              GBytes       *bytes,
              gsize         chunk)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  gsize offset;

  for (offset = 0; offset < size; offset += chunk)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (_vsmtp_message_append (message, data + offset, MIN (chunk, size - offset), &error));
      g_assert_no_error (error);
    }
}

static GBytes *
read_stream (GInputStream *stream)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_output_stream_splice (out, stream,
                              G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                              G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 0);

  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

static GBytes *
read_back_via_file (VsmtpMessage *message)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  char *contents = NULL;
  gsize length = 0;
  int fd;

  fd = g_file_open_tmp ("test-message-out-XXXXXX", &path, &error);
  g_assert_no_error (error);
  g_assert_true (vsmtp_message_write_to_fd (message, fd, &error));
  g_assert_no_error (error);
  g_assert_true (g_close (fd, NULL));

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  g_unlink (path);

  return g_bytes_new_take (contents, length);
}

typedef struct {
  GBytes *expected;
  int read_fd;
  GByteArray *received;
} PipeReader;

static gpointer
pipe_reader_thread (gpointer data)
{
  PipeReader *reader = data;
  guint8 buffer[4096];

  for (;;)
    {
      gssize n = read (reader->read_fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_byte_array_append (reader->received, buffer, n);
    }

  return NULL;
}

/* write_to_fd through a pipe, read by another thread: exercises short
 * writes when the content is larger than the pipe buffer. */
static GBytes *
read_back_via_pipe (VsmtpMessage *message)
{
  g_autoptr(GError) error = NULL;
  PipeReader reader = { 0 };
  GThread *thread;
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);

  reader.read_fd = fds[0];
  reader.received = g_byte_array_new ();
  thread = g_thread_new ("pipe-reader", pipe_reader_thread, &reader);

  g_assert_true (vsmtp_message_write_to_fd (message, fds[1], &error));
  g_assert_no_error (error);
  g_close (fds[1], NULL);

  g_thread_join (thread);
  g_close (fds[0], NULL);

  return g_byte_array_free_to_bytes (reader.received);
}

static void
assert_content (VsmtpMessage *message,
                GBytes       *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) dup = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) streamed = NULL;
  g_autoptr(GBytes) via_file = NULL;
  g_autoptr(GBytes) via_pipe = NULL;

  g_assert_cmpuint (vsmtp_message_get_size (message), ==, g_bytes_get_size (expected));

  if (!vsmtp_message_is_spooled (message))
    {
      GBytes *bytes = vsmtp_message_get_bytes (message);

      g_assert_nonnull (bytes);
      g_assert_true (g_bytes_equal (bytes, expected));
    }
  else
    g_assert_null (vsmtp_message_get_bytes (message));

  dup = vsmtp_message_dup_bytes (message, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (dup, expected));

  stream = vsmtp_message_open_stream (message, &error);
  g_assert_no_error (error);
  streamed = read_stream (stream);
  g_assert_true (g_bytes_equal (streamed, expected));

  via_file = read_back_via_file (message);
  g_assert_true (g_bytes_equal (via_file, expected));

  via_pipe = read_back_via_pipe (message);
  g_assert_true (g_bytes_equal (via_pipe, expected));
}

static void
test_memory (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(GBytes) content = make_content (1000);
  g_autoptr(GError) error = NULL;

  message = _vsmtp_message_new_writable ("ID1", fixture->envelope, 1000, fixture->spool_dir);
  append_bytes (message, content, 100);
  g_assert_true (_vsmtp_message_finish (message, &error));
  g_assert_no_error (error);

  g_assert_false (vsmtp_message_is_spooled (message));
  g_assert_null (vsmtp_message_get_spool_path (message));
  g_assert_cmpstr (vsmtp_message_get_id (message), ==, "ID1");
  g_assert_nonnull (vsmtp_message_get_received_at (message));
  g_assert_cmpuint (count_files (fixture->spool_dir), ==, 0);

  assert_content (message, content);
}

static void
test_empty (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(GBytes) content = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;

  message = _vsmtp_message_new_writable ("ID0", fixture->envelope, 0, fixture->spool_dir);
  g_assert_true (_vsmtp_message_finish (message, &error));
  g_assert_no_error (error);

  g_assert_false (vsmtp_message_is_spooled (message));
  assert_content (message, content);
  g_assert_null (vsmtp_message_dup_header (message, "Received"));
}

static void
test_spooled (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = NULL;
  /* Larger than a pipe buffer and than the 64 KiB copy buffer */
  g_autoptr(GBytes) content = make_content (300 * 1024 + 17);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *basename = NULL;

  /* 1000 bytes of threshold; appends of 300 bytes: the fourth crosses it in
   * its middle */
  message = _vsmtp_message_new_writable ("ID2", fixture->envelope, 1000, fixture->spool_dir);
  {
    g_autoptr(GBytes) head = g_bytes_new_from_bytes (content, 0, 900);

    append_bytes (message, head, 300);
  }
  g_assert_false (vsmtp_message_is_spooled (message));
  g_assert_cmpuint (count_files (fixture->spool_dir), ==, 0);

  {
    g_autoptr(GBytes) rest = g_bytes_new_from_bytes (content, 900, g_bytes_get_size (content) - 900);

    append_bytes (message, rest, 300);
  }
  g_assert_true (vsmtp_message_is_spooled (message));
  g_assert_true (_vsmtp_message_finish (message, &error));
  g_assert_no_error (error);

  path = g_strdup (vsmtp_message_get_spool_path (message));
  g_assert_nonnull (path);
  g_assert_true (g_str_has_prefix (path, fixture->spool_dir));
  basename = g_path_get_basename (path);
  g_assert_true (g_str_has_prefix (basename, "vsmtp-"));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (count_files (fixture->spool_dir), ==, 1);

  assert_content (message, content);

  /* The spool file goes with the message */
  g_clear_object (&message);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_threshold_exact (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(GBytes) content = make_content (1001);
  const guint8 *bytes = g_bytes_get_data (content, NULL);
  g_autoptr(GError) error = NULL;

  /* exactly the threshold stays in memory, one more byte spools */
  message = _vsmtp_message_new_writable ("ID3", fixture->envelope, 1000, fixture->spool_dir);
  g_assert_true (_vsmtp_message_append (message, bytes, 1000, &error));
  g_assert_false (vsmtp_message_is_spooled (message));
  g_assert_true (_vsmtp_message_append (message, bytes + 1000, 1, &error));
  g_assert_true (vsmtp_message_is_spooled (message));
  g_assert_true (_vsmtp_message_finish (message, &error));
  g_assert_no_error (error);

  assert_content (message, content);
}

static void
test_spool_single_append (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(GBytes) content = make_content (5000);
  g_autoptr(GError) error = NULL;

  /* a first append already larger than the threshold */
  message = _vsmtp_message_new_writable ("ID4", fixture->envelope, 10, fixture->spool_dir);
  append_bytes (message, content, 5000);
  g_assert_true (vsmtp_message_is_spooled (message));
  g_assert_true (_vsmtp_message_finish (message, &error));
  g_assert_no_error (error);

  assert_content (message, content);
}

static void
test_spool_error (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (fixture->spool_dir, "missing", NULL);

  message = _vsmtp_message_new_writable ("ID5", fixture->envelope, 4, missing);
  g_assert_true (_vsmtp_message_append (message, "abc", 3, &error));
  g_assert_no_error (error);
  g_assert_false (_vsmtp_message_append (message, "def", 3, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  /* no more appends after a failure */
  g_assert_false (_vsmtp_message_append (message, "g", 1, &error));
  g_assert_nonnull (error);
}

static void
test_envelope_copied (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(VsmtpAddress) other = vsmtp_address_new ("late", "example.net");
  VsmtpEnvelope *envelope;
  VsmtpEnvelope *from_property = NULL;
  g_autofree char *id = NULL;
  guint64 size = 1;

  message = _vsmtp_message_new_writable ("ID6", fixture->envelope, 1000, NULL);
  envelope = vsmtp_message_get_envelope (message);
  g_assert_true (envelope != fixture->envelope);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 1);

  /* later changes to the session's envelope do not show */
  vsmtp_envelope_add_recipient (fixture->envelope, other, NULL);
  vsmtp_envelope_clear (fixture->envelope);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 1);
  g_assert_cmpstr (vsmtp_address_to_string (vsmtp_envelope_get_sender (envelope)), ==,
                   "sender@example.com");
  g_assert_cmpstr (vsmtp_address_to_string (vsmtp_envelope_get_recipient (envelope, 0)), ==,
                   "rcpt@example.org");

  g_object_get (message,
                "id", &id,
                "envelope", &from_property,
                "size", &size,
                NULL);
  g_assert_cmpstr (id, ==, "ID6");
  g_assert_true (from_property == envelope);
  g_assert_cmpuint (size, ==, 0);
  g_object_unref (from_property);
}

static const char header_text[] =
  "Received: from client.example (client.example [192.0.2.1])\r\n"
  "\tby mx.example with ESMTP id ABC;\r\n"
  "\tMon, 1 Jan 2024 00:00:00 +0000\r\n"
  "From: Sender <sender@example.com>\r\n"
  "To: rcpt@example.org\r\n"
  "subject:   Folded\r\n"
  " subject line  \r\n"
  "X-Empty:\r\n"
  "X-Spaced :  value\r\n"
  "Subject: second subject\r\n"
  "X-Bare-LF: lf\n"
  " continued\n"
  "\r\n"
  "X-Body: not a header\r\n"
  "Body text\r\n";

static void
check_headers (VsmtpMessage *message)
{
  g_autofree char *received = vsmtp_message_dup_header (message, "Received");
  g_autofree char *from = vsmtp_message_dup_header (message, "from");
  g_autofree char *to = vsmtp_message_dup_header (message, "TO");
  g_autofree char *subject = vsmtp_message_dup_header (message, "Subject");
  g_autofree char *empty = vsmtp_message_dup_header (message, "X-Empty");
  g_autofree char *spaced = vsmtp_message_dup_header (message, "X-Spaced");
  g_autofree char *lf = vsmtp_message_dup_header (message, "X-Bare-LF");
  g_autofree char *body = vsmtp_message_dup_header (message, "X-Body");
  g_autofree char *missing = vsmtp_message_dup_header (message, "Cc");
  g_autofree char *prefix = vsmtp_message_dup_header (message, "Subj");

  g_assert_cmpstr (received, ==,
                   "from client.example (client.example [192.0.2.1])"
                   "\tby mx.example with ESMTP id ABC;"
                   "\tMon, 1 Jan 2024 00:00:00 +0000");
  g_assert_cmpstr (from, ==, "Sender <sender@example.com>");
  g_assert_cmpstr (to, ==, "rcpt@example.org");
  /* the first one, unfolded and trimmed */
  g_assert_cmpstr (subject, ==, "Folded subject line");
  g_assert_cmpstr (empty, ==, "");
  g_assert_cmpstr (spaced, ==, "value");
  g_assert_cmpstr (lf, ==, "lf continued");
  /* after the empty line is the body */
  g_assert_null (body);
  g_assert_null (missing);
  g_assert_null (prefix);
}

static void
test_header (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(VsmtpMessage) memory = NULL;
  g_autoptr(VsmtpMessage) spooled = NULL;
  g_autoptr(GError) error = NULL;

  memory = _vsmtp_message_new_writable ("ID7", fixture->envelope, G_MAXSIZE, fixture->spool_dir);
  g_assert_true (_vsmtp_message_append (memory, header_text, strlen (header_text), &error));
  g_assert_true (_vsmtp_message_finish (memory, &error));
  g_assert_no_error (error);
  g_assert_false (vsmtp_message_is_spooled (memory));
  check_headers (memory);

  spooled = _vsmtp_message_new_writable ("ID8", fixture->envelope, 0, fixture->spool_dir);
  g_assert_true (_vsmtp_message_append (spooled, header_text, strlen (header_text), &error));
  g_assert_true (_vsmtp_message_finish (spooled, &error));
  g_assert_no_error (error);
  g_assert_true (vsmtp_message_is_spooled (spooled));
  check_headers (spooled);
}

static void
test_header_window (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  const char *early_line = "X-Early: \xff" "yes\r\n";
  const char *late_line = "X-Late: no\r\n\r\n";
  g_autofree char *filler = g_strnfill (1000, 'x');
  g_autofree char *early = NULL;
  g_autofree char *late = NULL;
  g_autofree char *bad = NULL;
  guint i;

  message = _vsmtp_message_new_writable ("ID9", fixture->envelope, 64 * 1024, fixture->spool_dir);
  g_assert_true (_vsmtp_message_append (message, early_line, strlen (early_line), &error));
  /* 300 KiB of headers: a header beyond 256 KiB is not looked at */
  for (i = 0; i < 300; i++)
    {
      g_autofree char *line = g_strdup_printf ("X-Filler-%u: %s\r\n", i, filler);

      g_assert_true (_vsmtp_message_append (message, line, strlen (line), &error));
    }
  g_assert_true (_vsmtp_message_append (message, late_line, strlen (late_line), &error));
  g_assert_true (_vsmtp_message_finish (message, &error));
  g_assert_no_error (error);

  early = vsmtp_message_dup_header (message, "X-Early");
  /* invalid UTF-8 is replaced, so the result is always valid */
  g_assert_nonnull (early);
  g_assert_true (g_utf8_validate (early, -1, NULL));
  g_assert_true (g_str_has_suffix (early, "yes"));
  late = vsmtp_message_dup_header (message, "X-Late");
  g_assert_null (late);
  bad = vsmtp_message_dup_header (message, "X-Filler-10");
  g_assert_cmpstr (bad, ==, filler);
}

/* Compares a string the call returns (transfer full) and frees it. */
#define assert_dup_cmpstr(call, expected) \
  G_STMT_START { char *got_ = (call); g_assert_cmpstr (got_, ==, (expected)); g_free (got_); } G_STMT_END

/* The call fails with @code in VSMTP_ERROR in @error, which is cleared. */
#define assert_refused(call, error, code) \
  G_STMT_START { g_assert_false (call); g_assert_error (error, VSMTP_ERROR, code); g_clear_error (&error); } G_STMT_END

static void count_notify (GObject    *object,
                          GParamSpec *pspec,
                          guint      *count);

/* Header editing and body replacement --------------------------------------- */

static VsmtpMessage *
new_message (Fixture    *fixture,
             const char *content,
             gsize       length,
             gsize       threshold)
{
  g_autoptr(GError) error = NULL;
  VsmtpMessage *message;

  message = _vsmtp_message_new_writable ("EDIT", fixture->envelope, threshold, fixture->spool_dir);
  g_assert_true (_vsmtp_message_append (message, content, length, &error));
  g_assert_no_error (error);
  g_assert_true (_vsmtp_message_finish (message, &error));
  g_assert_no_error (error);

  return message;
}

static void
assert_content_str (VsmtpMessage *message,
                    const char   *expected)
{
  g_autoptr(GBytes) bytes = g_bytes_new_static (expected, strlen (expected));

  assert_content (message, bytes);
}

#define EDIT_RECEIVED \
  "Received: from client.example\r\n" \
  "\tby mx.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
#define EDIT_HEADER \
  EDIT_RECEIVED \
  "From: a@example.com\r\n" \
  "To: b@example.org\r\n" \
  "Subject: first\r\n" \
  "subject: second\r\n"

static const char edit_text[] =
  EDIT_HEADER
  "\r\n"
  "Subject: in the body\r\n"
  "Body\r\n";

/* The same edits on a message in memory (threshold: G_MAXSIZE) and on a
 * spooled one (threshold 0). */
static void
test_edit_headers (Fixture       *fixture,
                   gconstpointer  data)
{
  gsize threshold = GPOINTER_TO_SIZE (data);
  gboolean spooled = threshold == 0;
  g_autoptr(VsmtpMessage) message = new_message (fixture, edit_text, strlen (edit_text), threshold);
  g_autoptr(GError) error = NULL;
  g_autofree char *spool_path = g_strdup (vsmtp_message_get_spool_path (message));
  guint notified = 0;
  guint64 size = 0;

  g_assert_cmpint (vsmtp_message_is_spooled (message), ==, spooled);
  g_signal_connect (message, "notify::size", G_CALLBACK (count_notify), &notified);

  /* listing, before any edit: the content is untouched */
  g_assert_cmpuint (vsmtp_message_get_n_headers (message), ==, 5);
  assert_dup_cmpstr (vsmtp_message_dup_header_name (message, 0), "Received");
  assert_dup_cmpstr (vsmtp_message_dup_header_value (message, 0),
                     "from client.example\r\n\tby mx.example; Mon, 1 Jan 2024 00:00:00 +0000");
  assert_dup_cmpstr (vsmtp_message_dup_header_name (message, 3), "Subject");
  assert_dup_cmpstr (vsmtp_message_dup_header_value (message, 4), "second");
  g_assert_null (vsmtp_message_dup_header_name (message, 5));
  g_assert_null (vsmtp_message_dup_header_value (message, 5));
  g_assert_cmpuint (notified, ==, 0);
  assert_content_str (message, edit_text);
  if (spooled)
    g_assert_cmpstr (vsmtp_message_get_spool_path (message), ==, spool_path);

  /* add, insert at 0 (before Received:), in the middle, beyond the end */
  g_assert_true (vsmtp_message_add_header (message, "X-Added", "yes", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_true (vsmtp_message_insert_header (message, 0, "X-First", "1", &error));
  g_assert_true (vsmtp_message_insert_header (message, 2, "X-Third", "3", &error));
  g_assert_true (vsmtp_message_insert_header (message, 1000, "X-Last", "", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vsmtp_message_get_n_headers (message), ==, 9);
  assert_content_str (message,
                      "X-First: 1\r\n"
                      EDIT_RECEIVED
                      "X-Third: 3\r\n"
                      "From: a@example.com\r\n"
                      "To: b@example.org\r\n"
                      "Subject: first\r\n"
                      "subject: second\r\n"
                      "X-Added: yes\r\n"
                      "X-Last:\r\n"
                      "\r\n"
                      "Subject: in the body\r\n"
                      "Body\r\n");

  /* a spooled message keeps its body in the spool file, which no longer
   * holds the content as it is */
  g_assert_cmpint (vsmtp_message_is_spooled (message), ==, spooled);
  g_assert_null (vsmtp_message_get_spool_path (message));
  g_assert_cmpuint (count_files (fixture->spool_dir), ==, spooled ? 1 : 0);

  /* change: occurrences count from 1, names case-insensitively; the name
   * given is written */
  g_assert_true (vsmtp_message_change_header (message, "SUBJECT", 2, "changed", &error));
  g_assert_no_error (error);
  assert_dup_cmpstr (vsmtp_message_dup_header (message, "subject"), "first");
  /* delete the first: the changed one is now the first */
  g_assert_true (vsmtp_message_change_header (message, "subject", 1, NULL, &error));
  assert_dup_cmpstr (vsmtp_message_dup_header (message, "Subject"), "changed");
  /* no such occurrence: a value is added (libmilter), NULL changes nothing */
  g_assert_true (vsmtp_message_change_header (message, "x-added", 2, "again", &error));
  g_assert_true (vsmtp_message_change_header (message, "X-Missing", 1, NULL, &error));
  g_assert_no_error (error);
  /* occurrence 0 is refused */
  assert_refused (vsmtp_message_change_header (message, "To", 0, "x", &error), error, VSMTP_ERROR_SYNTAX);

  /* delete */
  g_assert_true (vsmtp_message_delete_header (message, "to", 1));
  g_assert_false (vsmtp_message_delete_header (message, "to", 1));
  g_assert_false (vsmtp_message_delete_header (message, "X-Added", 3));
  g_assert_false (vsmtp_message_delete_header (message, "X-Added", 0));
  g_assert_true (vsmtp_message_delete_header (message, "X-ADDED", 2));
  g_assert_true (vsmtp_message_delete_header (message, "x-first", 1));
  assert_dup_cmpstr (vsmtp_message_dup_header (message, "To"), NULL);

#define EDITED_REST \
  "X-Third: 3\r\n" \
  "From: a@example.com\r\n" \
  "SUBJECT: changed\r\n" \
  "X-Added: yes\r\n" \
  "X-Last:\r\n" \
  "\r\n" \
  "Subject: in the body\r\n" \
  "Body\r\n"
  assert_content_str (message,
                      EDIT_RECEIVED
                      EDITED_REST);

  /* the Received: field is a field like the others */
  g_assert_true (vsmtp_message_delete_header (message, "Received", 1));
  assert_content_str (message, EDITED_REST);
#undef EDITED_REST

  /* the size property follows, and is notified once per change of size */
  g_object_get (message, "size", &size, NULL);
  g_assert_cmpuint (size, ==, vsmtp_message_get_size (message));
  g_assert_cmpuint (notified, ==, 11);
}

static void
test_edit_folded (Fixture       *fixture,
                  gconstpointer  data)
{
  /* obsolete folding (a line of white space only) and bare LF line ends */
#define OLD_FIELDS \
  "X-Obs: one\r\n" \
  " \r\n" \
  "\ttwo\r\n" \
  "X-Bare-LF: lf\n" \
  " continued\n"
  static const char text[] =
    "Received: r\r\n"
    "Subject: a\r\n"
    "  folded\r\n"
    OLD_FIELDS
    "\r\n"
    "body\r\n";
  gsize threshold = GPOINTER_TO_SIZE (data);
  g_autoptr(VsmtpMessage) message = new_message (fixture, text, strlen (text), threshold);
  g_autoptr(GError) error = NULL;

  /* obsolete folding (a line of white space only) and bare LF line ends of
   * existing fields are kept as they are */
  g_assert_cmpuint (vsmtp_message_get_n_headers (message), ==, 4);
  assert_dup_cmpstr (vsmtp_message_dup_header (message, "X-Obs"), "one \ttwo");

  g_assert_true (vsmtp_message_add_header (message, "X-Folded", "first\r\n\tsecond\r\n third", &error));
  g_assert_no_error (error);
  assert_dup_cmpstr (vsmtp_message_dup_header (message, "x-folded"), "first\tsecond third");
  assert_dup_cmpstr (vsmtp_message_dup_header_value (message, 4), "first\r\n\tsecond\r\n third");
  assert_dup_cmpstr (vsmtp_message_dup_header_value (message, 3), "lf\n continued");

  g_assert_true (vsmtp_message_change_header (message, "Subject", 1, "new\r\n folded", &error));
  assert_content_str (message,
                      "Received: r\r\n"
                      "Subject: new\r\n"
                      " folded\r\n"
                      OLD_FIELDS
                      "X-Folded: first\r\n"
                      "\tsecond\r\n"
                      " third\r\n"
                      "\r\n"
                      "body\r\n");
}
#undef OLD_FIELDS

static void
test_edit_invalid (Fixture       *fixture,
                   gconstpointer  data)
{
  static const char *bad_names[] = {
    "", "X Bad", "X:Bad", "X-Bad:", "X-\x01", "X-\xc3\xa4", "X-Bad\r\n", " X", "X\t",
  };
  static const struct {
    const char *value;
    int code;
  } bad_values[] = {
    { "a\rb", VSMTP_ERROR_BARE_NEWLINE },
    { "a\nb", VSMTP_ERROR_BARE_NEWLINE },
    { "a\n b", VSMTP_ERROR_BARE_NEWLINE },
    { "a\r", VSMTP_ERROR_BARE_NEWLINE },
    { "a\r\nb", VSMTP_ERROR_SYNTAX },      /* not folded: would forge a field */
    { "a\r\n\r\nbody", VSMTP_ERROR_SYNTAX },
    { "a\r\n", VSMTP_ERROR_SYNTAX },
    { "a\r\n ", VSMTP_ERROR_SYNTAX },      /* white space only */
    { "a\r\n \r\n b", VSMTP_ERROR_SYNTAX },
    { "a\x01" "b", VSMTP_ERROR_SYNTAX },
    { "a\x7f", VSMTP_ERROR_SYNTAX },
  };
  gsize threshold = GPOINTER_TO_SIZE (data);
  g_autoptr(VsmtpMessage) message = new_message (fixture, edit_text, strlen (edit_text), threshold);
  g_autoptr(GError) error = NULL;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      g_test_message ("name %u", i);
      assert_refused (vsmtp_message_add_header (message, bad_names[i], "v", &error), error, VSMTP_ERROR_SYNTAX);
      assert_refused (vsmtp_message_insert_header (message, 1, bad_names[i], "v", &error), error, VSMTP_ERROR_SYNTAX);
      assert_refused (vsmtp_message_change_header (message, bad_names[i], 1, NULL, &error), error, VSMTP_ERROR_SYNTAX);
      /* a name that no field can have matches none */
      g_assert_false (vsmtp_message_delete_header (message, bad_names[i], 1));
    }

  for (i = 0; i < G_N_ELEMENTS (bad_values); i++)
    {
      g_test_message ("value %u", i);
      assert_refused (vsmtp_message_add_header (message, "X-Ok", bad_values[i].value, &error), error, bad_values[i].code);
      assert_refused (vsmtp_message_change_header (message, "Subject", 1, bad_values[i].value, &error), error, bad_values[i].code);
    }

  /* nothing changed */
  assert_content_str (message, edit_text);
  g_assert_cmpuint (vsmtp_message_get_n_headers (message), ==, 5);

  /* 8-bit (SMTPUTF8) values and tabs are fine */
  g_assert_true (vsmtp_message_add_header (message, "X-Utf8", "\xc3\xa9t\xc3\xa9\tok", &error));
  g_assert_no_error (error);
}

/* Messages without a body: all header, with or without a last line end,
 * and empty. */
static void
test_edit_no_body (Fixture       *fixture,
                   gconstpointer  data)
{
  gsize threshold = GPOINTER_TO_SIZE (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = g_bytes_new_static ("new body", 8);

  {
    static const char text[] = "Received: r\r\nSubject: s\r\n";
    g_autoptr(VsmtpMessage) message = new_message (fixture, text, strlen (text), threshold);

    g_assert_cmpuint (vsmtp_message_get_n_headers (message), ==, 2);
    g_assert_true (vsmtp_message_add_header (message, "X-A", "1", &error));
    assert_content_str (message, "Received: r\r\nSubject: s\r\nX-A: 1\r\n");
    g_assert_true (vsmtp_message_replace_body_from_bytes (message, body, &error));
    g_assert_no_error (error);
    assert_content_str (message, "Received: r\r\nSubject: s\r\nX-A: 1\r\n\r\nnew body\r\n");
  }

  {
    static const char text[] = "Received: r\r\nSubject: no line end";
    g_autoptr(VsmtpMessage) message = new_message (fixture, text, strlen (text), threshold);
    g_autofree char *subject = vsmtp_message_dup_header (message, "Subject");

    g_assert_cmpstr (subject, ==, "no line end");
    g_assert_true (vsmtp_message_add_header (message, "X-A", "1", &error));
    assert_content_str (message, "Received: r\r\nSubject: no line end\r\nX-A: 1\r\n");
  }

  {
    g_autoptr(VsmtpMessage) message = new_message (fixture, "", 0, threshold);

    g_assert_cmpuint (vsmtp_message_get_n_headers (message), ==, 0);
    g_assert_true (vsmtp_message_insert_header (message, 5, "X-A", "1", &error));
    assert_content_str (message, "X-A: 1\r\n");
    g_assert_true (vsmtp_message_change_header (message, "X-A", 1, NULL, &error));
    assert_content_str (message, "");
    g_assert_true (vsmtp_message_replace_body_from_bytes (message, body, &error));
    assert_content_str (message, "\r\nnew body\r\n");
  }

  {
    /* an empty new body: the header section and its empty line */
    g_autoptr(VsmtpMessage) message = new_message (fixture, edit_text, strlen (edit_text), threshold);
    g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);

    g_assert_true (vsmtp_message_replace_body_from_bytes (message, empty, &error));
    g_assert_no_error (error);
    assert_content_str (message, EDIT_HEADER "\r\n");
  }
}

/* A line that is neither a field nor a continuation ends the header
 * section (as in Postfix): what follows is body. */
static void
test_edit_not_a_field (Fixture       *fixture,
                       gconstpointer  data)
{
  static const char text[] =
    "Received: r\r\n"
    "From: a\r\n"
    "not a header line\r\n"
    "To: b\r\n"
    "\r\n"
    "body\r\n";
  g_autoptr(VsmtpMessage) message = new_message (fixture, text, strlen (text), GPOINTER_TO_SIZE (data));
  g_autoptr(GError) error = NULL;
  g_autofree char *to = vsmtp_message_dup_header (message, "To");

  g_assert_null (to);
  g_assert_cmpuint (vsmtp_message_get_n_headers (message), ==, 2);
  g_assert_true (vsmtp_message_add_header (message, "X-A", "1", &error));
  assert_content_str (message,
                      "Received: r\r\n"
                      "From: a\r\n"
                      "X-A: 1\r\n"
                      "not a header line\r\n"
                      "To: b\r\n"
                      "\r\n"
                      "body\r\n");
}

/* A header section larger than the 256 KiB that are parsed. */
static void
test_edit_big_header (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GString) text = g_string_new ("Received: r\r\n");
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = g_bytes_new_static ("new\r\n", 5);
  g_autoptr(GBytes) content = NULL;
  g_autofree char *filler = g_strnfill (1000, 'x');
  g_autofree char *late = NULL;
  const char *added = "X-Added: 1\r\n";
  const char *data_;
  const char *at;
  gsize length;
  guint n;
  guint i;

  for (i = 0; i < 300; i++)
    g_string_append_printf (text, "X-Filler-%u: %s\r\n", i, filler);
  g_string_append (text, "X-Late: yes\r\n\r\nold body\r\n");
  message = new_message (fixture, text->str, text->len, GPOINTER_TO_SIZE (data));

  /* the fields within the first 256 KiB are counted, the one across the
   * limit is not */
  n = vsmtp_message_get_n_headers (message);
  g_assert_cmpuint (n, >, 200);
  g_assert_cmpuint (n, <, 300);
  late = vsmtp_message_dup_header (message, "X-Late");
  g_assert_null (late);

  /* a field added goes after the last one counted, before the others */
  g_assert_true (vsmtp_message_add_header (message, "X-Added", "1", &error));
  g_assert_no_error (error);
  content = vsmtp_message_dup_bytes (message, &error);
  g_assert_no_error (error);
  data_ = g_bytes_get_data (content, &length);
  g_assert_cmpuint (length, ==, text->len + strlen (added));
  at = g_strstr_len (data_, length, added);
  g_assert_nonnull (at);
  g_assert_cmpuint (at - data_, <, 256 * 1024);
  g_assert_true (at[-1] == '\n');
  g_assert_true (memcmp (data_, text->str, at - data_) == 0);
  g_assert_true (memcmp (at + strlen (added), text->str + (at - data_), text->len - (at - data_)) == 0);
  assert_content (message, content);

  /* replacing the body keeps the fields beyond 256 KiB */
  g_assert_true (vsmtp_message_replace_body_from_bytes (message, body, &error));
  g_assert_no_error (error);
  g_clear_pointer (&content, g_bytes_unref);
  content = vsmtp_message_dup_bytes (message, &error);
  data_ = g_bytes_get_data (content, &length);
  g_assert_cmpuint (length, ==, text->len + strlen (added) - strlen ("old body\r\n") + strlen ("new\r\n"));
  g_assert_cmpmem (data_ + length - 20, 20, "X-Late: yes\r\n\r\nnew\r\n", 20);
  assert_content (message, content);
}

/* What the body writer must produce: every line end CRLF, a last line end
 * added. */
static GBytes *
normalize_reference (GBytes *input)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (input, &length);
  GByteArray *out = g_byte_array_new ();
  gsize i;

  for (i = 0; i < length; i++)
    {
      if (data[i] == '\r' || data[i] == '\n')
        {
          g_byte_array_append (out, (const guint8 *) "\r\n", 2);
          if (data[i] == '\r' && i + 1 < length && data[i + 1] == '\n')
            i++;
        }
      else
        g_byte_array_append (out, data + i, 1);
    }
  if (length > 0 && data[length - 1] != '\n' && data[length - 1] != '\r')
    g_byte_array_append (out, (const guint8 *) "\r\n", 2);

  return g_byte_array_free_to_bytes (out);
}

/* A body of @size bytes of lines with every kind of line end, a CR at the
 * end of the first and of the second 64 KiB read (one followed by LF, one
 * bare), and no line end at the end. */
static GBytes *
make_body (gsize size)
{
  static const char *ends[] = { "\r\n", "\n", "\r" };
  GByteArray *body = g_byte_array_new ();
  guint i = 0;

  while (body->len < size)
    {
      char line[64];
      int n = g_snprintf (line, sizeof line, "line %u%s", i, ends[i % 3]);

      g_byte_array_append (body, (const guint8 *) line, n);
      i++;
    }
  g_byte_array_set_size (body, size);
  if (size > 3 * 65536)
    {
      memcpy (body->data + 65535, "\r\n", 2);
      memcpy (body->data + 2 * 65536 - 1, "\rx", 2);
    }
  body->data[size - 1] = 'z';

  return g_byte_array_free_to_bytes (body);
}

static void
test_replace_body (Fixture       *fixture,
                   gconstpointer  data)
{
  gboolean large = GPOINTER_TO_INT (data);
  /* the original spooled (threshold 1000), the new body small or large */
  g_autoptr(GString) text = g_string_new ("Received: r\r\nSubject: s\r\n\r\n");
  g_autoptr(VsmtpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = make_body (large ? 1024 * 1024 + 7 : 500);
  g_autoptr(GBytes) normalized = normalize_reference (body);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GByteArray) expected = g_byte_array_new ();
  g_autoptr(GBytes) expected_bytes = NULL;
  const char *head = "X-First: 1\r\nReceived: r\r\nSubject: s\r\n\r\n";
  guint notified = 0;
  guint i;

  for (i = 0; i < 100; i++)
    g_string_append (text, "an old body line, longer than the threshold\r\n");
  message = new_message (fixture, text->str, text->len, 1000);
  g_assert_true (vsmtp_message_is_spooled (message));
  g_assert_cmpuint (count_files (fixture->spool_dir), ==, 1);
  g_signal_connect (message, "notify::size", G_CALLBACK (count_notify), &notified);

  g_assert_true (vsmtp_message_insert_header (message, 0, "X-First", "1", &error));
  stream = g_memory_input_stream_new_from_bytes (body);
  g_assert_true (vsmtp_message_replace_body_from_stream (message, stream, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 2);

  g_byte_array_append (expected, (const guint8 *) head, strlen (head));
  g_byte_array_append (expected, g_bytes_get_data (normalized, NULL), g_bytes_get_size (normalized));
  expected_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&expected));

  /* a large body is spooled (not in memory), in a new spool file; the old
   * one is gone */
  g_assert_cmpint (vsmtp_message_is_spooled (message), ==, large);
  g_assert_cmpuint (count_files (fixture->spool_dir), ==, large ? 1 : 0);
  g_assert_null (vsmtp_message_get_spool_path (message));
  assert_content (message, expected_bytes);

  /* header edits after the replacement */
  g_assert_true (vsmtp_message_change_header (message, "subject", 1, "t", &error));
  g_assert_no_error (error);
  {
    g_autoptr(GBytes) bytes = vsmtp_message_dup_bytes (message, &error);
    gsize length;
    const char *content = g_bytes_get_data (bytes, &length);

    g_assert_cmpuint (length, ==, g_bytes_get_size (expected_bytes));
    const char *prefix = "X-First: 1\r\nReceived: r\r\nsubject: t\r\n\r\nline 0\r\nline 1\r\n";

    g_assert_cmpmem (content, strlen (prefix), prefix, strlen (prefix));
    assert_content (message, bytes);

    /* the same body again, from bytes this time: the same content, kept
     * the same way */
    g_assert_true (vsmtp_message_replace_body_from_bytes (message, body, &error));
    g_assert_no_error (error);
    g_assert_cmpint (vsmtp_message_is_spooled (message), ==, large);
    g_assert_cmpuint (count_files (fixture->spool_dir), ==, large ? 1 : 0);
    assert_content (message, bytes);
  }

  /* the message goes, its spool files too (checked in tear down) */
}

static void
test_replace_body_errors (Fixture       *fixture,
                          gconstpointer  data)
{
  gsize threshold = GPOINTER_TO_SIZE (data);
  g_autoptr(VsmtpMessage) message = new_message (fixture, edit_text, strlen (edit_text), threshold);
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) nul = g_bytes_new_static ("a\0b\r\n", 5);
  g_autoptr(GBytes) body = make_body (100000);
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (body);
  g_autoptr(GFileInputStream) closed = NULL;
  g_autofree char *path = NULL;
  int fd;

  assert_refused (vsmtp_message_replace_body_from_bytes (message, nul, &error), error, VSMTP_ERROR_SYNTAX);

  g_cancellable_cancel (cancellable);
  g_assert_false (vsmtp_message_replace_body_from_stream (message, stream, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* a stream that fails to read */
  fd = g_file_open_tmp ("test-message-body-XXXXXX", &path, &error);
  g_assert_no_error (error);
  g_close (fd, NULL);
  {
    g_autoptr(GFile) file = g_file_new_for_path (path);

    closed = g_file_read (file, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_input_stream_close (G_INPUT_STREAM (closed), NULL, &error));
    g_unlink (path);
  }
  g_assert_false (vsmtp_message_replace_body_from_stream (message, G_INPUT_STREAM (closed), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  /* the message is unchanged, no spool file left behind */
  assert_content_str (message, edit_text);
  g_assert_cmpuint (count_files (fixture->spool_dir), ==, threshold == 0 ? 1 : 0);
}

static void
on_spliced (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, &error);
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

/* open_stream of a changed spooled message, read asynchronously (as the
 * relay plugin does) and in small reads */
static void
test_edit_stream (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = new_message (fixture, edit_text, strlen (edit_text), 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GByteArray) small = g_byte_array_new ();
  gboolean done = FALSE;

  g_assert_true (vsmtp_message_add_header (message, "X-Added", "yes", &error));
  expected = vsmtp_message_dup_bytes (message, &error);
  g_assert_no_error (error);

  stream = vsmtp_message_open_stream (message, &error);
  g_assert_no_error (error);
  g_output_stream_splice_async (out, stream,
                                G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                                G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                G_PRIORITY_DEFAULT, NULL, on_spliced, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  got = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  g_assert_true (g_bytes_equal (got, expected));

  g_clear_object (&stream);
  stream = vsmtp_message_open_stream (message, &error);
  for (;;)
    {
      guint8 buffer[7];
      gssize n = g_input_stream_read (stream, buffer, sizeof buffer, NULL, &error);

      g_assert_no_error (error);
      if (n == 0)
        break;
      g_byte_array_append (small, buffer, n);
    }
  g_assert_true (g_input_stream_close (stream, NULL, &error));
  g_assert_cmpmem (small->data, small->len, g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
}

/* get_bytes of a changed message in memory follows the changes */
static void
test_edit_get_bytes (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(VsmtpMessage) message = new_message (fixture, edit_text, strlen (edit_text), G_MAXSIZE);
  g_autoptr(GError) error = NULL;
  GBytes *original = vsmtp_message_get_bytes (message);
  GBytes *first;
  GBytes *second;

  g_assert_nonnull (original);
  g_assert_true (vsmtp_message_add_header (message, "X-A", "1", &error));
  first = vsmtp_message_get_bytes (message);
  g_assert_cmpuint (g_bytes_get_size (first), ==, strlen (edit_text) + strlen ("X-A: 1\r\n"));
  g_assert_true (vsmtp_message_get_bytes (message) == first);
  g_assert_true (vsmtp_message_add_header (message, "X-B", "2", &error));
  second = vsmtp_message_get_bytes (message);
  g_assert_cmpuint (g_bytes_get_size (second), ==, vsmtp_message_get_size (message));
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (second, NULL), g_bytes_get_size (second), "X-B: 2\r\n"));
}

static GHashTable *
make_params (const char *first_key,
             ...)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *key;
  va_list args;

  va_start (args, first_key);
  for (key = first_key; key != NULL; key = va_arg (args, const char *))
    g_hash_table_insert (table, g_strdup (key), g_strdup (va_arg (args, const char *)));
  va_end (args);

  return table;
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              guint      *count)
{
  (*count)++;
}

static void
test_envelope (void)
{
  g_autoptr(VsmtpEnvelope) envelope = vsmtp_envelope_new ();
  g_autoptr(VsmtpEnvelope) copy = NULL;
  g_autoptr(VsmtpAddress) sender = vsmtp_address_new ("sender", "example.com");
  g_autoptr(VsmtpAddress) rcpt1 = vsmtp_address_new ("one", "example.org");
  g_autoptr(VsmtpAddress) rcpt2 = vsmtp_address_new ("two", "example.org");
  g_autoptr(GHashTable) mail_params = make_params ("SIZE", "123", "SMTPUTF8", NULL, NULL);
  g_autoptr(GHashTable) rcpt_params = make_params ("NOTIFY", "NEVER", NULL);
  g_autoptr(GPtrArray) recipients = NULL;
  g_autoptr(VsmtpAddress) sender_property = NULL;
  guint sender_notified = 0;
  guint n_notified = 0;
  guint n_recipients = 0;

  g_signal_connect (envelope, "notify::sender", G_CALLBACK (count_notify), &sender_notified);
  g_signal_connect (envelope, "notify::n-recipients", G_CALLBACK (count_notify), &n_notified);

  /* empty */
  g_assert_null (vsmtp_envelope_get_sender (envelope));
  g_assert_nonnull (vsmtp_envelope_get_mail_parameters (envelope));
  g_assert_cmpuint (g_hash_table_size (vsmtp_envelope_get_mail_parameters (envelope)), ==, 0);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 0);

  vsmtp_envelope_set_sender (envelope, sender, mail_params);
  g_assert_cmpuint (sender_notified, ==, 1);
  g_assert_true (vsmtp_envelope_get_sender (envelope) == sender);
  /* the table is copied: bindings free theirs after the call */
  g_assert_true (vsmtp_envelope_get_mail_parameters (envelope) != mail_params);
  g_assert_cmpuint (g_hash_table_size (vsmtp_envelope_get_mail_parameters (envelope)), ==, 2);
  g_assert_cmpstr (vsmtp_envelope_get_mail_parameter (envelope, "SIZE"), ==, "123");
  g_assert_cmpstr (vsmtp_envelope_get_mail_parameter (envelope, "size"), ==, "123");
  g_assert_null (vsmtp_envelope_get_mail_parameter (envelope, "SMTPUTF8"));
  g_assert_null (vsmtp_envelope_get_mail_parameter (envelope, "BODY"));

  vsmtp_envelope_add_recipient (envelope, rcpt1, rcpt_params);
  vsmtp_envelope_add_recipient (envelope, rcpt2, NULL);
  g_assert_cmpuint (n_notified, ==, 2);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 2);
  g_assert_true (vsmtp_envelope_get_recipient (envelope, 0) == rcpt1);
  g_assert_true (vsmtp_envelope_get_recipient (envelope, 1) == rcpt2);
  g_assert_cmpstr (g_hash_table_lookup (vsmtp_envelope_get_recipient_parameters (envelope, 0),
                                        "NOTIFY"), ==, "NEVER");
  g_assert_nonnull (vsmtp_envelope_get_recipient_parameters (envelope, 1));
  g_assert_cmpuint (g_hash_table_size (vsmtp_envelope_get_recipient_parameters (envelope, 1)), ==, 0);

  g_object_get (envelope,
                "sender", &sender_property,
                "n-recipients", &n_recipients,
                NULL);
  g_assert_true (sender_property == sender);
  g_assert_cmpuint (n_recipients, ==, 2);

  recipients = vsmtp_envelope_dup_recipients (envelope);
  g_assert_cmpuint (recipients->len, ==, 2);
  g_assert_true (g_ptr_array_index (recipients, 0) == rcpt1);
  g_assert_true (g_ptr_array_index (recipients, 1) == rcpt2);

  /* changes to the caller's tables do not show */
  g_hash_table_insert (mail_params, g_strdup ("BODY"), g_strdup ("7BIT"));
  g_assert_null (vsmtp_envelope_get_mail_parameter (envelope, "BODY"));

  /* a copy does not see later changes */
  copy = vsmtp_envelope_copy (envelope);
  g_hash_table_insert (vsmtp_envelope_get_mail_parameters (envelope),
                       g_strdup ("BODY"), g_strdup ("8BITMIME"));
  g_hash_table_insert (vsmtp_envelope_get_recipient_parameters (envelope, 0),
                       g_strdup ("ORCPT"), g_strdup ("rfc822;x@example.org"));
  vsmtp_envelope_add_recipient (envelope, sender, NULL);
  g_assert_cmpstr (vsmtp_envelope_get_mail_parameter (envelope, "BODY"), ==, "8BITMIME");
  g_assert_null (vsmtp_envelope_get_mail_parameter (copy, "BODY"));
  g_assert_cmpstr (vsmtp_envelope_get_mail_parameter (copy, "SIZE"), ==, "123");
  g_assert_true (g_hash_table_contains (vsmtp_envelope_get_mail_parameters (copy), "SMTPUTF8"));
  g_assert_false (g_hash_table_contains (vsmtp_envelope_get_recipient_parameters (copy, 0), "ORCPT"));
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (copy), ==, 2);
  g_assert_true (vsmtp_address_equal (vsmtp_envelope_get_sender (copy), sender));

  /* clear */
  sender_notified = n_notified = 0;
  vsmtp_envelope_clear (envelope);
  g_assert_cmpuint (sender_notified, ==, 1);
  g_assert_cmpuint (n_notified, ==, 1);
  g_assert_null (vsmtp_envelope_get_sender (envelope));
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 0);
  g_assert_null (vsmtp_envelope_get_mail_parameter (envelope, "SIZE"));
  /* the caller's tables are untouched */
  g_assert_cmpstr (g_hash_table_lookup (mail_params, "SIZE"), ==, "123");
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (copy), ==, 2);

  /* NULL sender with NULL parameters */
  vsmtp_envelope_set_sender (envelope, NULL, NULL);
  g_assert_null (vsmtp_envelope_get_sender (envelope));
  g_assert_cmpuint (g_hash_table_size (vsmtp_envelope_get_mail_parameters (envelope)), ==, 0);
}

/* A copy shares its recipients with the original until either changes
 * them: no change on one side ever shows on the other. */
/* The DSN getters read a copy that still shares its recipients (without
 * unsharing them: _vsmtp_envelope_peek_recipient_parameter()), and a
 * change made through the original afterwards is not seen by the copy */
static void
test_envelope_copy_shared_dsn (void)
{
  g_autoptr(VsmtpEnvelope) envelope = vsmtp_envelope_new ();
  g_autoptr(VsmtpEnvelope) copy = NULL;
  g_autoptr(VsmtpAddress) rcpt1 = vsmtp_address_new ("one", "example.org");
  g_autoptr(VsmtpAddress) rcpt2 = vsmtp_address_new ("two", "example.org");
  g_autoptr(GHashTable) rcpt_params = make_params ("NOTIFY", "NEVER", NULL);

  vsmtp_envelope_add_recipient (envelope, rcpt1, rcpt_params);
  vsmtp_envelope_add_recipient (envelope, rcpt2, NULL);
  copy = vsmtp_envelope_copy (envelope);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (copy, 0), ==, VSMTP_DSN_NOTIFY_NEVER);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (copy, 1), ==, VSMTP_DSN_NOTIFY_DEFAULT);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (envelope, 0), ==, VSMTP_DSN_NOTIFY_NEVER);

  g_hash_table_insert (vsmtp_envelope_get_recipient_parameters (envelope, 1),
                       g_strdup ("NOTIFY"), g_strdup ("SUCCESS,FAILURE"));
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (envelope, 1), ==,
                   VSMTP_DSN_NOTIFY_SUCCESS | VSMTP_DSN_NOTIFY_FAILURE);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (copy, 1), ==, VSMTP_DSN_NOTIFY_DEFAULT);
  g_assert_cmpint (vsmtp_envelope_get_recipient_dsn_notify (copy, 0), ==, VSMTP_DSN_NOTIFY_NEVER);
}

static void
test_envelope_copy_shared (void)
{
  g_autoptr(VsmtpEnvelope) envelope = vsmtp_envelope_new ();
  g_autoptr(VsmtpEnvelope) copy = NULL;
  g_autoptr(VsmtpEnvelope) copy2 = NULL;
  g_autoptr(VsmtpEnvelope) copy3 = NULL;
  g_autoptr(VsmtpAddress) rcpt1 = vsmtp_address_new ("one", "example.org");
  g_autoptr(VsmtpAddress) rcpt2 = vsmtp_address_new ("two", "example.org");
  g_autoptr(GHashTable) rcpt_params = make_params ("NOTIFY", "NEVER", NULL);
  GHashTable *table;

  vsmtp_envelope_add_recipient (envelope, rcpt1, rcpt_params);
  vsmtp_envelope_add_recipient (envelope, rcpt2, NULL);

  /* added to the copy, removed from the original */
  copy = vsmtp_envelope_copy (envelope);
  vsmtp_envelope_add_recipient (copy, rcpt1, NULL);
  vsmtp_envelope_remove_recipient (envelope, 0);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (envelope), ==, 1);
  g_assert_true (vsmtp_envelope_get_recipient (envelope, 0) == rcpt2);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (copy), ==, 3);
  g_assert_true (vsmtp_envelope_get_recipient (copy, 0) == rcpt1);
  g_assert_cmpstr (g_hash_table_lookup (vsmtp_envelope_get_recipient_parameters (copy, 0), "NOTIFY"),
                   ==, "NEVER");

  /* a table changed through the copy's getter */
  copy2 = vsmtp_envelope_copy (copy);
  g_hash_table_insert (vsmtp_envelope_get_recipient_parameters (copy2, 0),
                       g_strdup ("NOTIFY"), g_strdup ("SUCCESS"));
  g_assert_cmpstr (g_hash_table_lookup (vsmtp_envelope_get_recipient_parameters (copy, 0), "NOTIFY"),
                   ==, "NEVER");
  g_assert_cmpstr (g_hash_table_lookup (vsmtp_envelope_get_recipient_parameters (copy2, 0), "NOTIFY"),
                   ==, "SUCCESS");

  /* a table handed out before the copy and changed after it */
  table = vsmtp_envelope_get_recipient_parameters (envelope, 0);
  copy3 = vsmtp_envelope_copy (envelope);
  g_hash_table_insert (table, g_strdup ("ORCPT"), g_strdup ("rfc822;two@example.org"));
  g_assert_false (g_hash_table_contains (vsmtp_envelope_get_recipient_parameters (copy3, 0), "ORCPT"));

  /* cleared original, copies intact */
  g_clear_object (&copy3);
  copy3 = vsmtp_envelope_copy (copy2);
  vsmtp_envelope_clear (copy2);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (copy2), ==, 0);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (copy3), ==, 3);
  g_assert_cmpuint (vsmtp_envelope_get_n_recipients (copy), ==, 3);
  g_clear_object (&copy2);
  g_assert_true (vsmtp_envelope_get_recipient (copy3, 2) == rcpt1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/envelope/basics", test_envelope);
  g_test_add_func ("/envelope/copy-shared", test_envelope_copy_shared);
  g_test_add_func ("/envelope/copy-shared-dsn", test_envelope_copy_shared_dsn);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("/message/memory", test_memory);
  ADD ("/message/empty", test_empty);
  ADD ("/message/spooled", test_spooled);
  ADD ("/message/threshold-exact", test_threshold_exact);
  ADD ("/message/spool-single-append", test_spool_single_append);
  ADD ("/message/spool-error", test_spool_error);
  ADD ("/message/envelope-copied", test_envelope_copied);
  ADD ("/message/header", test_header);
  ADD ("/message/header-window", test_header_window);

#define ADD_DATA(path, data, func) \
  g_test_add (path, Fixture, data, fixture_set_up, func, fixture_tear_down)
#define MEMORY GSIZE_TO_POINTER (G_MAXSIZE)
#define SPOOLED GSIZE_TO_POINTER (0)

  ADD_DATA ("/message/edit/headers/memory", MEMORY, test_edit_headers);
  ADD_DATA ("/message/edit/headers/spooled", SPOOLED, test_edit_headers);
  ADD_DATA ("/message/edit/folded/memory", MEMORY, test_edit_folded);
  ADD_DATA ("/message/edit/folded/spooled", SPOOLED, test_edit_folded);
  ADD_DATA ("/message/edit/invalid/memory", MEMORY, test_edit_invalid);
  ADD_DATA ("/message/edit/invalid/spooled", SPOOLED, test_edit_invalid);
  ADD_DATA ("/message/edit/no-body/memory", MEMORY, test_edit_no_body);
  ADD_DATA ("/message/edit/no-body/spooled", SPOOLED, test_edit_no_body);
  ADD_DATA ("/message/edit/not-a-field/memory", MEMORY, test_edit_not_a_field);
  ADD_DATA ("/message/edit/not-a-field/spooled", SPOOLED, test_edit_not_a_field);
  ADD_DATA ("/message/edit/big-header/memory", MEMORY, test_edit_big_header);
  ADD_DATA ("/message/edit/big-header/spooled", GSIZE_TO_POINTER (64 * 1024), test_edit_big_header);
  ADD ("/message/edit/stream", test_edit_stream);
  ADD ("/message/edit/get-bytes", test_edit_get_bytes);
  ADD_DATA ("/message/replace-body/small", GINT_TO_POINTER (FALSE), test_replace_body);
  ADD_DATA ("/message/replace-body/large", GINT_TO_POINTER (TRUE), test_replace_body);
  ADD_DATA ("/message/replace-body/errors/memory", MEMORY, test_replace_body_errors);
  ADD_DATA ("/message/replace-body/errors/spooled", SPOOLED, test_replace_body_errors);

#undef ADD_DATA

#undef ADD

  return g_test_run ();
}

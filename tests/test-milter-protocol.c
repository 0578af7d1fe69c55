/* test-milter-protocol.c: the milter plugin's packets, byte for byte
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "milter-protocol.h"

/* @expected as written with C escapes, its length given */
/* @expected: a string literal, NULs included */
#define assert_bytes(out, expected) \
  g_assert_cmpmem ((out)->data, (out)->len, expected, sizeof expected - 1)

static void
test_encode_commands (void)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  const char *names[] = { "j", "{daemon_name}" };
  const char *values[] = { "mx.example", NULL };
  const char *args[] = { "SIZE=10", "BODY=8BITMIME", NULL };
  g_autoptr(GSocketAddress) v4 = g_inet_socket_address_new_from_string ("192.0.2.7", 4321);
  g_autoptr(GSocketAddress) v6 = g_inet_socket_address_new_from_string ("2001:db8::1", 25);

  milter_encode_optneg (out, 6, 0x1ff, 0x1fffff);
  assert_bytes (out, "\0\0\0\x0d" "O" "\0\0\0\6" "\0\0\x01\xff" "\0\x1f\xff\xff");
  g_byte_array_set_size (out, 0);

  milter_encode_macros (out, MILTER_CMD_CONNECT, names, values, 2);
  assert_bytes (out, "\0\0\0\x1e" "DC" "j\0mx.example\0{daemon_name}\0\0");
  g_byte_array_set_size (out, 0);

  milter_encode_connect (out, "client.example", v4);
  assert_bytes (out, "\0\0\0\x1d" "Cclient.example\0" "4\x10\xe1" "192.0.2.7\0");
  g_byte_array_set_size (out, 0);

  milter_encode_connect (out, "[2001:db8::1]", v6);
  assert_bytes (out, "\0\0\0\x23" "C[2001:db8::1]\0" "6\0\x19" "IPv6:2001:db8::1\0");
  g_byte_array_set_size (out, 0);

  milter_encode_connect (out, "localhost", NULL);
  assert_bytes (out, "\0\0\0\x0c" "Clocalhost\0U");
  g_byte_array_set_size (out, 0);

  milter_encode_args (out, MILTER_CMD_MAIL, "a@example.org", args);
  assert_bytes (out, "\0\0\0\x27" "M<a@example.org>\0SIZE=10\0BODY=8BITMIME\0");
  g_byte_array_set_size (out, 0);

  milter_encode_args (out, MILTER_CMD_MAIL, "", NULL);
  assert_bytes (out, "\0\0\0\x04" "M<>\0");
  g_byte_array_set_size (out, 0);

  milter_encode_header (out, "Subject", " hi");
  assert_bytes (out, "\0\0\0\x0d" "LSubject\0 hi\0");
  g_byte_array_set_size (out, 0);

  milter_encode_body (out, (const guint8 *) "a\0b\r\n", 5);
  assert_bytes (out, "\0\0\0\x06" "Ba\0b\r\n");
  g_byte_array_set_size (out, 0);

  milter_encode_empty (out, MILTER_CMD_BODYEOB);
  assert_bytes (out, "\0\0\0\x01" "E");
  g_byte_array_set_size (out, 0);

  milter_encode_string (out, MILTER_CMD_UNKNOWN, "XYZZY");
  assert_bytes (out, "\0\0\0\x07" "UXYZZY\0");
}

static gboolean
parse (const char  *packet,
       gsize        len,
       MilterReply *reply,
       GError     **error)
{
  return milter_reply_parse (packet[0], (const guint8 *) packet + 1, len - 1, reply, error);
}

static void
test_parse_replies (void)
{
  MilterReply r;
  g_autoptr(GError) error = NULL;

  g_assert_true (parse ("O\0\0\0\6\0\0\0\x13\0\0\0\x80", 13, &r, &error));
  g_assert_cmpuint (r.version, ==, 6);
  g_assert_cmpuint (r.actions, ==, 0x13);
  g_assert_cmpuint (r.steps, ==, MILTER_STEP_NR_HDR);
  g_assert_null (r.symlists[MILTER_STAGE_MAIL]);

  g_assert_true (parse ("O\0\0\0\6\0\0\0\x13\0\0\0\x80" "\0\0\0\2{mail_addr} i\0" "\0\0\0\5j\0", 37, &r, &error));
  g_assert_cmpstr (r.symlists[MILTER_STAGE_MAIL], ==, "{mail_addr} i");
  g_assert_cmpstr (r.symlists[MILTER_STAGE_EOM], ==, "j");
  g_assert_null (r.symlists[MILTER_STAGE_CONNECT]);

  g_assert_true (parse ("y550 5.7.1 go away\0", 19, &r, NULL));
  g_assert_cmpstr (r.text, ==, "550 5.7.1 go away");
  g_assert_cmpuint (r.smtp_code, ==, 550);

  g_assert_true (parse ("y451-4.7.1 one\r\n451 4.7.1 two\0", 30, &r, NULL));
  g_assert_cmpuint (r.smtp_code, ==, 451);

  g_assert_true (parse ("i\0\0\0\0X-First\0yes\0", 19, &r, NULL));
  g_assert_cmpuint (r.index, ==, 0);
  g_assert_cmpstr (r.text, ==, "X-First");
  g_assert_cmpstr (r.value, ==, "yes");

  /* CHGHEADER index 0 means the first occurrence, as 1 does */
  g_assert_true (parse ("m\0\0\0\0Subject\0\0", 14, &r, NULL));
  g_assert_cmpuint (r.index, ==, 1);
  g_assert_cmpstr (r.value, ==, "");

  g_assert_true (parse ("h" "DKIM-Signature\0 v=1;\r\n\tb=abc\0", 31, &r, NULL));
  g_assert_cmpstr (r.value, ==, " v=1;\r\n\tb=abc");

  g_assert_true (parse ("2<x@example.org>\0NOTIFY=NEVER\0", 30, &r, NULL));
  g_assert_cmpstr (r.text, ==, "<x@example.org>");
  g_assert_cmpstr (r.value, ==, "NOTIFY=NEVER");

  g_assert_true (parse ("e<new@example.org>\0", 19, &r, NULL));
  g_assert_null (r.value);

  g_assert_true (parse ("bnew body\r\n", 11, &r, NULL));
  g_assert_cmpmem (r.data, r.len, "new body\r\n", 10);

  g_assert_true (parse ("l\0\0\0\2{mail_addr} i\0", 19, &r, NULL));
  g_assert_cmpuint (r.stage, ==, MILTER_STAGE_MAIL);
  g_assert_cmpstr (r.text, ==, "{mail_addr} i");

  g_assert_true (parse ("c", 1, &r, NULL));
  g_assert_cmpint (r.code, ==, MILTER_REPLY_CONTINUE);
}

static void
test_parse_refuses (void)
{
  struct { const char *packet; gsize len; const char *why; } bad[] = {
    { "O\0\0\0\6\0\0", 7, "short OPTNEG" },
    { "O\0\0\0\6\0\0\0\0\0\0\0\0" "\0\0\0\x09x\0", 19, "OPTNEG macros for stage 9" },
    { "O\0\0\0\6\0\0\0\0\0\0\0\0" "\0\0\0\1x", 18, "OPTNEG macros unterminated" },
    { "y250 2.0.0 fine\0", 16, "2xx in REPLYCODE" },
    { "y55 short\0", 10, "two digits" },
    { "y550 5.7.1 no NUL", 17, "unterminated" },
    { "y550-5.7.1 a\r\n451 4.7.1 b\0", 26, "codes differ" },
    { "y550-5.7.1 last line marked as continued\0", 41, "continued last line" },
    { "y550 5.7.1 a\r\n550 5.7.1 b\0", 26, "unmarked continuation" },
    { "y550 5.7.1 bell\a\0", 17, "control character" },
    { "hBad:Name\0v\0", 12, "colon in a header name" },
    { "h\0v\0", 4, "empty header name" },
    { "hX-A\0one\r\ntwo\0", 14, "unfolded line break" },
    { "hX-A\0", 5, "no value" },
    { "i\0\0", 3, "short index" },
    { "+<a@b>\r\n\0", 9, "CRLF in an address" },
    { "l\0\0\0\x09{x}\0", 9, "unknown stage" },
    { "Z", 1, "unknown code" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      MilterReply r;

      g_test_message ("%s", bad[i].why);
      g_assert_false (parse (bad[i].packet, bad[i].len, &r, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
}

static void
test_reader (void)
{
  MilterReader *reader = milter_reader_new (64);
  const char stream[] = "\0\0\0\1c" "\0\0\0\x13y550 5.7.1 go away\0" "\0\0\0\1a";
  MilterReply r;
  g_autoptr(GError) error = NULL;
  int got = 0;
  char codes[4] = { 0 };

  /* a byte at a time */
  for (gsize i = 0; i < sizeof stream - 1; i++)
    {
      milter_reader_feed (reader, (const guint8 *) stream + i, 1);
      while (milter_reader_next (reader, &r, &error))
        codes[got++] = r.code;
      g_assert_no_error (error);
    }
  g_assert_cmpstr (codes, ==, "cya");
  g_assert_cmpuint (milter_reader_pending (reader), ==, 0);

  /* too large: refused from its length, before its bytes come */
  milter_reader_feed (reader, (const guint8 *) "\0\0\0\x41", 4);
  g_assert_false (milter_reader_next (reader, &r, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  milter_reader_free (reader);

  reader = milter_reader_new (0);
  g_clear_error (&error);
  milter_reader_feed (reader, (const guint8 *) "\0\0\0\0", 4);
  g_assert_false (milter_reader_next (reader, &r, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  milter_reader_free (reader);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/milter/encode", test_encode_commands);
  g_test_add_func ("/milter/parse", test_parse_replies);
  g_test_add_func ("/milter/parse-refuses", test_parse_refuses);
  g_test_add_func ("/milter/reader", test_reader);
  return g_test_run ();
}

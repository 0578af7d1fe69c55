/* test-relay-extensions.c: the relay's reading of an upstream's EHLO reply,
 * of what a message needs, and its decisions (plugins/relay/relay-extensions.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-message-private.h"
#include "relay-extensions.h"

static GPtrArray *
lines (const char *first, ...)
{
  GPtrArray *array = g_ptr_array_new_with_free_func (g_free);
  va_list args;

  va_start (args, first);
  for (const char *l = first; l != NULL; l = va_arg (args, const char *))
    g_ptr_array_add (array, g_strdup (l));
  va_end (args);
  return array;
}

static void
test_caps_parse (void)
{
  g_autoptr(GPtrArray) reply = lines ("upstream.test greets CHUNKING", "pipelining",
                                      "SIZE 1000", " 8BITMIME", "Chunking", "DSN",
                                      "BINARYMIMEX", "SMTPUTF8", "STARTTLS", "XREQUIRETLS",
                                      NULL);
  RelayCaps caps = relay_caps_parse (reply);

  g_assert_cmpuint (caps, ==, RELAY_CAP_PIPELINING | RELAY_CAP_SIZE | RELAY_CAP_8BITMIME |
                              RELAY_CAP_CHUNKING | RELAY_CAP_DSN | RELAY_CAP_SMTPUTF8 |
                              RELAY_CAP_STARTTLS);

  g_ptr_array_set_size (reply, 1);
  g_assert_cmpuint (relay_caps_parse (reply), ==, 0);
}

static VsmtpEnvelope *
envelope_new (const char *sender,
              const char *recipient,
              const char *mail_params[],
              const char *rcpt_params[])
{
  VsmtpEnvelope *envelope = vsmtp_envelope_new ();
  g_autoptr(GHashTable) mail = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) rcpt = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(VsmtpAddress) from = vsmtp_address_parse (sender, -1, VSMTP_ADDRESS_FLAGS_SMTPUTF8,
                                                      NULL);
  g_autoptr(VsmtpAddress) to = vsmtp_address_parse (recipient, -1, VSMTP_ADDRESS_FLAGS_SMTPUTF8,
                                                    NULL);

  g_assert_nonnull (from);
  g_assert_nonnull (to);
  for (guint i = 0; mail_params != NULL && mail_params[i] != NULL; i += 2)
    g_hash_table_insert (mail, (char *) mail_params[i], (char *) mail_params[i + 1]);
  for (guint i = 0; rcpt_params != NULL && rcpt_params[i] != NULL; i += 2)
    g_hash_table_insert (rcpt, (char *) rcpt_params[i], (char *) rcpt_params[i + 1]);
  vsmtp_envelope_set_sender (envelope, from, mail);
  vsmtp_envelope_add_recipient (envelope, to, rcpt);
  return envelope;
}

static VsmtpMessage *
message_new (VsmtpEnvelope *envelope,
             const char    *content)
{
  g_autoptr(GError) error = NULL;
  VsmtpMessage *message = _vsmtp_message_new_writable ("ID1", envelope, 1 << 20, NULL);

  g_assert_true (_vsmtp_message_append (message, content, strlen (content), &error));
  g_assert_true (_vsmtp_message_finish (message, &error));
  g_assert_no_error (error);
  return message;
}

static void
needs_of (RelayNeeds *needs,
          const char *mail_params[],
          const char *rcpt_params[],
          const char *content)
{
  g_autoptr(VsmtpEnvelope) envelope = envelope_new ("<a@example.org>", "<b@example.net>",
                                                    mail_params, rcpt_params);
  g_autoptr(VsmtpMessage) message = message_new (envelope, content);

  relay_needs_init (needs, message, envelope);
}

static void
test_needs (void)
{
  const char *utf8[] = { "SMTPUTF8", NULL, "BODY", "8bitmime", NULL };
  const char *requiretls[] = { "REQUIRETLS", NULL, NULL };
  const char *dsn[] = { "NOTIFY", "failure,Success", NULL };
  RelayNeeds needs;

  needs_of (&needs, NULL, NULL, "Subject: caf\xc3\xa9\r\nTLS-Required: No\r\n\r\nbody\r\n");
  g_assert_cmpint (needs.body, ==, RELAY_BODY_NONE);
  g_assert_false (needs.smtputf8);
  g_assert_false (needs.utf8_header);       /* 8-bit header bytes without SMTPUTF8 */
  g_assert_false (needs.utf8_address);
  g_assert_true (needs.tls_required_no);
  g_assert_false (needs.dsn);

  needs_of (&needs, utf8, NULL, "Subject: caf\xc3\xa9\r\n\r\nbody\r\n");
  g_assert_cmpint (needs.body, ==, RELAY_BODY_8BITMIME);
  g_assert_true (needs.smtputf8);
  g_assert_true (needs.utf8_header);

  needs_of (&needs, utf8, NULL, "Subject: plain\r\n\r\ncaf\xc3\xa9\r\n");
  g_assert_false (needs.utf8_header);       /* the body does not count */

  /* RFC 8689: TLS-Required is ignored with REQUIRETLS */
  needs_of (&needs, requiretls, NULL, "TLS-Required: No\r\n\r\nbody\r\n");
  g_assert_true (needs.requiretls);
  g_assert_false (needs.tls_required_no);

  needs_of (&needs, NULL, dsn, "Subject: x\r\n\r\nbody\r\n");
  g_assert_true (needs.dsn);
  g_assert_true (needs.notify_success);
  g_assert_false (needs.utf8_address);

  {
    g_autoptr(VsmtpEnvelope) envelope = envelope_new ("<a@example.org>",
                                                      "<b\xc3\xb8" "b@example.net>", utf8, NULL);
    g_autoptr(VsmtpMessage) message = message_new (envelope, "Subject: x\r\n\r\nx\r\n");

    relay_needs_init (&needs, message, envelope);
    g_assert_true (needs.utf8_address);
    g_assert_false (needs.utf8_header);
  }
}

static void
assert_refused (const RelayNeeds *needs,
                RelayCaps         caps,
                gboolean          tls,
                gboolean          verified,
                guint             code,
                const char       *enhanced_code)
{
  RelayRefusal refusal = { 0 };

  g_assert_false (relay_needs_check (needs, caps, TRUE, tls, verified, &refusal));
  g_assert_cmpuint (refusal.code, ==, code);
  g_assert_cmpstr (refusal.enhanced_code, ==, enhanced_code);
}

static void
test_check (void)
{
  RelayNeeds needs = { 0 };
  RelayRefusal refusal = { 0 };

  g_assert_true (relay_needs_check (&needs, 0, FALSE, FALSE, FALSE, &refusal));

  needs.body = RELAY_BODY_BINARYMIME;
  assert_refused (&needs, RELAY_CAP_BINARYMIME | RELAY_CAP_8BITMIME, FALSE, FALSE, 554, "5.6.3");
  assert_refused (&needs, RELAY_CAP_CHUNKING, FALSE, FALSE, 554, "5.6.3");
  g_assert_true (relay_needs_check (&needs, RELAY_CAP_BINARYMIME | RELAY_CAP_CHUNKING, TRUE,
                                    FALSE, FALSE, &refusal));
  /* HELO: no extensions whatever the caps say */
  g_assert_false (relay_needs_check (&needs, RELAY_CAP_BINARYMIME | RELAY_CAP_CHUNKING, FALSE,
                                     FALSE, FALSE, &refusal));

  needs.body = RELAY_BODY_8BITMIME;
  assert_refused (&needs, RELAY_CAP_CHUNKING, FALSE, FALSE, 554, "5.6.3");
  needs.body = RELAY_BODY_7BIT;
  g_assert_true (relay_needs_check (&needs, 0, TRUE, FALSE, FALSE, &refusal));

  needs.smtputf8 = needs.utf8_header = TRUE;
  assert_refused (&needs, RELAY_CAP_8BITMIME, FALSE, FALSE, 550, "5.6.9");
  needs.utf8_address = TRUE;
  assert_refused (&needs, RELAY_CAP_8BITMIME, FALSE, FALSE, 550, "5.6.7");
  g_assert_true (relay_needs_check (&needs, RELAY_CAP_SMTPUTF8, TRUE, FALSE, FALSE, &refusal));

  memset (&needs, 0, sizeof needs);
  needs.requiretls = TRUE;
  assert_refused (&needs, RELAY_CAP_REQUIRETLS, FALSE, FALSE, 550, "5.7.30");
  assert_refused (&needs, RELAY_CAP_REQUIRETLS, TRUE, FALSE, 550, "5.7.30");
  assert_refused (&needs, 0, TRUE, TRUE, 550, "5.7.30");
  g_assert_true (relay_needs_check (&needs, RELAY_CAP_REQUIRETLS, TRUE, TRUE, TRUE, &refusal));
}

static void
test_parameters (void)
{
  const char *mail[] = { "BODY", "BINARYMIME", "SMTPUTF8", NULL, "RET", "HDRS",
                         "ENVID", "a b", "REQUIRETLS", NULL, NULL };
  const char *rcpt[] = { "NOTIFY", "NEVER", "ORCPT", "rfc822;b+2B@example.net", NULL };
  g_autoptr(VsmtpEnvelope) envelope = envelope_new ("<a@example.org>", "<b@example.net>",
                                                    mail, rcpt);
  g_autoptr(VsmtpMessage) message = message_new (envelope, "Subject: x\r\n\r\nx\r\n");
  g_autoptr(GString) line = g_string_new ("MAIL");
  RelayNeeds needs;

  relay_needs_init (&needs, message, envelope);

  relay_append_mail_parameters (line, &needs, RELAY_CAP_SIZE | RELAY_CAP_DSN |
                                RELAY_CAP_SMTPUTF8, envelope, 123);
  /* ENVID with a space is not xtext: dropped */
  g_assert_cmpstr (line->str, ==, "MAIL SIZE=123 BODY=BINARYMIME SMTPUTF8 RET=HDRS REQUIRETLS");

  g_string_assign (line, "MAIL");
  needs.body = RELAY_BODY_NONE;
  relay_append_mail_parameters (line, &needs, RELAY_CAP_8BITMIME, envelope, 123);
  g_assert_cmpstr (line->str, ==, "MAIL BODY=8BITMIME REQUIRETLS");

  g_string_assign (line, "RCPT");
  relay_append_rcpt_parameters (line, RELAY_CAP_DSN, envelope, 0);
  g_assert_cmpstr (line->str, ==, "RCPT NOTIFY=NEVER ORCPT=rfc822;b+2B@example.net");
  g_string_assign (line, "RCPT");
  relay_append_rcpt_parameters (line, RELAY_CAP_8BITMIME, envelope, 0);
  g_assert_cmpstr (line->str, ==, "RCPT");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/relay-extensions/caps", test_caps_parse);
  g_test_add_func ("/relay-extensions/needs", test_needs);
  g_test_add_func ("/relay-extensions/check", test_check);
  g_test_add_func ("/relay-extensions/parameters", test_parameters);

  return g_test_run ();
}
